//! The frame allocator: hands out 4 KiB frames of the memory file, with a reference
//! count per frame for copy-on-write sharing.
//!
//! Frames never handed out before are known to be zero (the memory file starts
//! zeroed), so they are taken from a bump pointer and need no clearing; freed frames
//! go on a free stack and are cleared when reused.

use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;

/// References to frames whose owner (a shared memory object) was dropped where
/// the allocator could not be reached; [`FrameAllocator::reap`] puts them.
pub type Orphans = Arc<Mutex<Vec<Frame>>>;

/// A frame number: the frame's bytes are at `n * PAGE_SIZE` in the memory file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame(pub u32);

impl Frame {
    /// Byte offset of this frame in the memory file.
    #[inline]
    pub fn phys(self) -> u64 {
        (self.0 as u64) << crate::config::PAGE_SHIFT
    }
}

/// Whether a newly allocated frame still has to be zeroed by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameState {
    /// Never used: already zero.
    Zeroed,
    /// Reused: holds old contents.
    Dirty,
}

/// Allocates frames of a memory file of fixed size.
pub struct FrameAllocator {
    total: u32,
    /// Frames `[next_fresh, total)` were never handed out.
    next_fresh: u32,
    free: Vec<u32>,
    refs: Vec<u16>,
    orphans: Orphans,
    /// The page cache's registry and write-back queue.
    cache: Arc<super::pagecache::CacheHub>,
    /// Allocations that found no frame.
    failures: u64,
}

impl FrameAllocator {
    /// An allocator over `total` frames.
    pub fn new(total: usize) -> Self {
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        FrameAllocator {
            total,
            next_fresh: 0,
            free: Vec::new(),
            refs: Vec::new(),
            orphans: Orphans::default(),
            cache: Arc::default(),
            failures: 0,
        }
    }

    /// Total frames managed.
    pub fn total(&self) -> usize {
        self.total as usize
    }

    /// Frames not in use.
    pub fn free_count(&self) -> usize {
        (self.total - self.next_fresh) as usize + self.free.len()
    }

    /// The list dropped shared objects hand their frame references to.
    pub fn orphans(&self) -> Orphans {
        self.orphans.clone()
    }

    /// The page cache's shared state.
    pub(super) fn cache_hub(&self) -> &Arc<super::pagecache::CacheHub> {
        &self.cache
    }

    /// Drops the references of dropped shared objects.
    pub fn reap(&mut self) {
        let orphans = core::mem::take(&mut *self.orphans.lock());
        for f in orphans {
            self.put(f);
        }
    }

    /// Allocates one frame with a reference count of 1. When none is left,
    /// clean page-cache pages that nothing maps are dropped first.
    pub fn alloc(&mut self) -> Option<(Frame, FrameState)> {
        self.reap();
        if self.free.is_empty() && self.next_fresh >= self.total {
            self.reclaim_cache();
        }
        let (f, state) = if let Some(f) = self.free.pop() {
            (f, FrameState::Dirty)
        } else if self.next_fresh < self.total {
            let f = self.next_fresh;
            self.next_fresh += 1;
            if self.refs.len() <= f as usize {
                // Grow the refcount table in steps, not per frame.
                let want = (f as usize + 1)
                    .max(self.refs.len() * 2)
                    .min(self.total as usize);
                self.refs.resize(want, 0);
            }
            (f, FrameState::Zeroed)
        } else {
            self.failures = self.failures.saturating_add(1);
            return None;
        };
        self.refs[f as usize] = 1;
        Some((Frame(f), state))
    }

    /// Adds a reference (a page shared copy-on-write).
    pub fn get(&mut self, f: Frame) {
        if let Some(r) = self.refs.get_mut(f.0 as usize) {
            *r = r.saturating_add(1);
        }
    }

    /// The number of references to `f`.
    pub fn refcount(&self, f: Frame) -> u16 {
        self.refs.get(f.0 as usize).copied().unwrap_or(0)
    }

    /// Drops a reference; the frame is freed when the last one goes.
    pub fn put(&mut self, f: Frame) {
        if let Some(r) = self.refs.get_mut(f.0 as usize) {
            if *r == 0 {
                return;
            }
            *r -= 1;
            if *r == 0 {
                self.free.push(f.0);
            }
        }
    }

    /// Frames in use (for leak checks and /proc/meminfo).
    pub fn used(&self) -> usize {
        self.total() - self.free_count()
    }

    /// The most frames in use at once so far: a never-used frame is taken
    /// only when no freed one is left, that is when every frame handed out
    /// is in use.
    pub fn peak(&self) -> usize {
        self.next_fresh as usize
    }

    /// Allocations that found no frame, even after dropping clean cache
    /// pages.
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_is_the_most_in_use_and_failures_count_empty_allocations() {
        let mut a = FrameAllocator::new(3);
        let (f1, _) = a.alloc().unwrap();
        let (f2, _) = a.alloc().unwrap();
        a.put(f1);
        let (f3, _) = a.alloc().unwrap();
        // f3 reused f1's frame: two in use at most so far.
        assert_eq!((a.used(), a.peak(), a.failures()), (2, 2, 0));
        let (_f4, _) = a.alloc().unwrap();
        assert!(a.alloc().is_none());
        assert!(a.alloc().is_none());
        assert_eq!((a.used(), a.peak(), a.failures()), (3, 3, 2));
        a.put(f2);
        a.put(f3);
        assert_eq!((a.used(), a.peak()), (1, 3));
    }

    #[test]
    fn alloc_free_reuse() {
        let mut fa = FrameAllocator::new(3);
        let (a, sa) = fa.alloc().unwrap();
        let (b, _) = fa.alloc().unwrap();
        let (_c, _) = fa.alloc().unwrap();
        assert_eq!(sa, FrameState::Zeroed);
        assert!(fa.alloc().is_none());
        fa.get(a);
        fa.put(a);
        assert_eq!(fa.free_count(), 0);
        fa.put(a);
        assert_eq!(fa.free_count(), 1);
        let (a2, s2) = fa.alloc().unwrap();
        assert_eq!((a2, s2), (a, FrameState::Dirty));
        fa.put(b);
        fa.put(b); // double free is ignored
        assert_eq!(fa.free_count(), 1);
    }
}
