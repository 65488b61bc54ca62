//! Memory management: guest physical frames in the host's memory file, per-process
//! page tables and VMAs, demand paging with fault-around, copy-on-write, and typed
//! access to user memory by walking the kernel's own page tables.
//!
//! The kernel's page table is the truth. The host address space (the stub process)
//! is a cache of it, kept in sync with batched [`MapOp`](crate::host::MapOp)s that
//! are flushed just before the guest runs, as UML's `tlb.c` does.

pub mod frame;
pub mod pagecache;
pub mod shared;
pub mod space;
pub mod spans;
pub mod user;
pub mod vma;

pub use frame::{Frame, FrameAllocator};
pub use pagecache::{FileCache, MappedFile, PastEof};
pub use shared::{FileAccess, SharedMem};
pub use space::{Access, AddressSpace, FaultOutcome, Placement};
pub use spans::PhysSpan;
pub use user::{UserAccess, UserInPtr, UserOutPtr};
pub use vma::{Backing, Vma, VmaKind, VmaName};

use crate::config::PAGE_SIZE;

/// Rounds `v` down to a page boundary.
#[inline]
pub const fn page_floor(v: u64) -> u64 {
    v & !(PAGE_SIZE as u64 - 1)
}

/// Rounds `v` up to a page boundary, or `None` on overflow.
#[inline]
pub const fn page_ceil(v: u64) -> Option<u64> {
    match v.checked_add(PAGE_SIZE as u64 - 1) {
        Some(x) => Some(x & !(PAGE_SIZE as u64 - 1)),
        None => None,
    }
}

#[cfg(test)]
mod copy_around_tests;
#[cfg(test)]
mod tests;
