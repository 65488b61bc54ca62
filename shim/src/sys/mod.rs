//! Raw host syscalls. This module is the only place in the shim with `unsafe`;
//! everything it exports is a safe function or type.
//!
//! Hosts: x86_64, aarch64 and 32-bit ARM (armv7). `mem`, `misc`, `signals`
//! and most of `ptrace`, `stub` and `seccomp` are shared; what differs by
//! arch is in `arch/<arch>/`: `raw.rs` (the syscall instruction and numbers)
//! and the arch halves of `ptrace` (register requests), `stub` (the blob and
//! the stub child's last step) and `seccomp` (audit arch and arch rules).

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
compile_error!(
    "the ptrace backend of umbra-shim is implemented for x86_64, aarch64 and arm hosts only"
);

pub mod hostdir;
mod mem;
mod misc;
pub mod net;
#[cfg(all(target_env = "musl", panic = "abort"))]
mod nounwind;
pub mod oci;
pub mod ptrace;
#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64/raw.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64/raw.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm/raw.rs")]
pub mod raw;
pub mod seccomp;
pub mod stub;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
pub mod trap;
pub mod vdso;

pub mod signals;

pub use mem::{create_memory_file, MemoryFile, SharedMapping};
pub use misc::*;

use core::fmt;

/// A host errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(1);
    pub const ENOENT: Errno = Errno(2);
    pub const ESRCH: Errno = Errno(3);
    pub const EINTR: Errno = Errno(4);
    pub const EIO: Errno = Errno(5);
    pub const EBADF: Errno = Errno(9);
    pub const ECHILD: Errno = Errno(10);
    pub const EAGAIN: Errno = Errno(11);
    pub const ENOMEM: Errno = Errno(12);
    pub const EFAULT: Errno = Errno(14);
    pub const EEXIST: Errno = Errno(17);
    pub const EINVAL: Errno = Errno(22);
    pub const ENOTTY: Errno = Errno(25);
    pub const EPIPE: Errno = Errno(32);
    pub const ENOSYS: Errno = Errno(38);

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "EPERM",
            2 => "ENOENT",
            3 => "ESRCH",
            4 => "EINTR",
            5 => "EIO",
            9 => "EBADF",
            10 => "ECHILD",
            11 => "EAGAIN",
            12 => "ENOMEM",
            13 => "EACCES",
            14 => "EFAULT",
            16 => "EBUSY",
            17 => "EEXIST",
            22 => "EINVAL",
            24 => "EMFILE",
            25 => "ENOTTY",
            28 => "ENOSPC",
            30 => "EROFS",
            32 => "EPIPE",
            38 => "ENOSYS",
            95 => "EOPNOTSUPP",
            _ => return None,
        })
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} (errno {})", self.0),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// Turns a raw kernel result into `Result`.
#[inline(always)]
pub(crate) fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// Calls a syscall that has no memory effects (no pointer arguments).
///
/// # Safety
/// Same as [`raw::syscall6`]; the caller must pass no pointers.
#[inline(always)]
pub(crate) unsafe fn sc(nr: usize, a: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: forwarded to the caller's contract.
    check(unsafe { raw::syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]) })
}
