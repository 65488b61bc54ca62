//! Syscall numbers per guest architecture. The guest arch is the host arch, so the
//! table for this build is re-exported as `nr`.

pub mod aarch64;
pub mod arm;
pub mod x86_64;

#[cfg(target_arch = "aarch64")]
pub use aarch64 as nr;
#[cfg(target_arch = "arm")]
pub use arm as nr;
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
pub use x86_64 as nr;
