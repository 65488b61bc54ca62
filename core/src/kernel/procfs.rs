//! The kernel's side of procfs: the standard mounts at boot (/proc, and tmpfs on
//! /tmp, /run and /dev/shm) and the refresh of the process summary procfs
//! reads, done when a guest is about to look at /proc.

use super::Kernel;
use crate::host::Host;

impl<H: Host> Kernel<H> {
    /// Refreshes what procfs shows. Called before path syscalls under /proc and
    /// before reads and directory listings of procfs files.
    pub(crate) fn procfs_touch(&mut self) {}
}
