//! umbra-core: the guest kernel. It is `no_std` + `alloc`, knows nothing of ptrace or
//! libc, and reaches the outside world only through the [`host::Host`] trait, so the
//! same code runs over the ptrace shim and over the MockHost of the unit tests.
//!
//! Modules are ordered by layer; a module uses only the layers below it:
//! - layer 0: `error`, `host`, `arch`, `config`, and the small containers `sort`, `vecmap`
//! - layer 1: `mm` (frames, page tables, VMAs, user memory), `fs` (VFS, tmpfs, cpio)
//! - layer 2: `loader` (ELF into an address space), `task` (processes, fd tables),
//!   `ipc` (System V IPC objects and POSIX message queues),
//!   `vdso` (the vDSO image, the time page and the guest clock)
//! - layer 3: `syscall` (the table and one file per syscall family)
//! - layer 4: `kernel` (the trap loop that ties them together)
#![no_std]

extern crate alloc;
#[cfg(any(test, feature = "mock"))]
extern crate std;

pub mod arch;
pub mod config;
pub mod error;
pub mod host;

pub mod fs;
pub mod mm;
pub mod tty;

pub mod ipc;
pub mod loader;
pub mod net;
pub mod sort;
pub mod task;
pub mod vdso;
pub mod vecmap;

pub mod syscall;

pub mod kernel;

#[cfg(any(test, feature = "mock"))]
pub mod testing;

#[cfg(test)]
mod fuzz_net;
#[cfg(test)]
mod fuzz_syscalls;
#[cfg(test)]
mod kernel_tests;

pub use error::{Errno, KResult, SysResult};
pub use kernel::Kernel;
