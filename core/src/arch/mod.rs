//! Guest-architecture specifics: the register file, the syscall calling
//! convention, and the layout constants of the user address space. The guest arch
//! is the host arch, so one module is chosen at compile time.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(not(target_arch = "aarch64"))]
mod x86_64;
#[cfg(not(target_arch = "aarch64"))]
pub use x86_64::*;
