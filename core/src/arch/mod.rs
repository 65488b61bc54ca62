//! Guest-architecture specifics: the register file, the syscall calling
//! convention, and the layout constants of the user address space. The guest arch
//! is the host arch, so one module is chosen at compile time.
//!
//! The 32-bit ARM module is compiled on every host (its encoders are pure and
//! unit-tested everywhere); only a 32-bit ARM build re-exports it.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

pub mod arm;
#[cfg(target_arch = "arm")]
pub use arm::*;

#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
mod x86_64;
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
pub use x86_64::*;
