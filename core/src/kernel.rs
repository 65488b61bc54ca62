//! The kernel: boots the first process and runs the trap loop.

/// The guest kernel over a host `H`.
pub struct Kernel<H> {
    pub host: H,
}
