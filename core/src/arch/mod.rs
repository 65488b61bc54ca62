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

/// The 64-bit layouts (armv7's stack and mmap base are 80 MiB apart in
/// its smaller space).
#[cfg(all(test, not(target_arch = "arm")))]
mod layout_tests {
    use super::{MMAP_BASE, STACK_TOP};

    #[test]
    fn mmap_starts_below_the_largest_stack_in_the_stacks_gib() {
        const GIB: u64 = 1 << 30;
        // Room for the largest stack and 64 MiB more.
        assert_eq!(STACK_TOP - MMAP_BASE, 128 << 20);
        assert_eq!(MMAP_BASE / GIB, (STACK_TOP - 1) / GIB);
    }
}
