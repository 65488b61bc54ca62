//! Advisory file locks, per inode: POSIX record locks (fcntl F_SETLK and
//! friends, owned by a process), open file description locks (F_OFD_*, owned
//! by the description) and flock(2) locks (also owned by the description).
//!
//! POSIX and OFD locks share one list of byte ranges per inode and conflict
//! with each other, as on Linux; flock locks are a separate whole-file list
//! that never interacts with the range locks. Inodes are keyed by
//! (device, inode number), so every filesystem (tmpfs, ext2, devfs) gets locks
//! without knowing about them.
//!
//! The table holds no notion of waiting threads: a blocking request is retried
//! by the kernel's epoch loop, and the table only records what each blocked
//! process wants, for deadlock detection (fcntl(2): EDEADLK).

use crate::vecmap::VecMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;

/// The largest lock offset, also the end of a lock "to end of file"
/// (Linux's OFFSET_MAX).
pub const OFFSET_MAX: u64 = i64::MAX as u64;

/// How many processes a deadlock search follows (Linux's
/// MAX_DEADLK_ITERATIONS).
const MAX_DEADLK_ITERATIONS: usize = 10;

/// Shared or exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    Read,
    Write,
}

impl LockKind {
    fn conflicts(self, other: LockKind) -> bool {
        self == LockKind::Write || other == LockKind::Write
    }
}

/// Who holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// A POSIX record lock of this process.
    Process(u32),
    /// An OFD or flock lock of the open file description with this identity.
    Desc(usize),
}

/// A lock on the bytes `start..=end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeLock {
    pub owner: Owner,
    pub kind: LockKind,
    pub start: u64,
    pub end: u64,
}

impl RangeLock {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start <= end && start <= self.end
    }
}

/// The locks of one inode.
#[derive(Debug, Default)]
pub struct InodeLocks {
    /// POSIX and OFD locks, sorted by start.
    ranges: Vec<RangeLock>,
    /// flock locks by description.
    flocks: Vec<(usize, LockKind)>,
}

impl InodeLocks {
    /// The first lock of another owner that a `kind` lock on `start..=end`
    /// by `owner` would conflict with.
    pub fn conflict(
        &self,
        owner: Owner,
        kind: LockKind,
        start: u64,
        end: u64,
    ) -> Option<RangeLock> {
        self.ranges
            .iter()
            .find(|l| l.owner != owner && l.overlaps(start, end) && kind.conflicts(l.kind))
            .copied()
    }

    /// Sets `owner`'s lock over `start..=end` to `kind`, or removes it
    /// (`None`): older locks of the owner are split around the range, and
    /// adjacent or overlapping ones of the same kind merged with it. The
    /// caller has checked [`InodeLocks::conflict`].
    pub fn set_range(&mut self, owner: Owner, kind: Option<LockKind>, start: u64, end: u64) {
        let mut out = Vec::with_capacity(self.ranges.len() + 2);
        for l in self.ranges.drain(..) {
            if l.owner != owner || !l.overlaps(start, end) {
                out.push(l);
                continue;
            }
            if l.start < start {
                out.push(RangeLock {
                    end: start - 1,
                    ..l
                });
            }
            if l.end > end {
                out.push(RangeLock {
                    start: end + 1,
                    ..l
                });
            }
        }
        if let Some(kind) = kind {
            let mut new = RangeLock {
                owner,
                kind,
                start,
                end,
            };
            out.retain(|l| {
                let touches =
                    l.start <= new.end.saturating_add(1) && new.start <= l.end.saturating_add(1);
                if l.owner == owner && l.kind == kind && touches {
                    new.start = new.start.min(l.start);
                    new.end = new.end.max(l.end);
                    false
                } else {
                    true
                }
            });
            out.push(new);
        }
        crate::sort::sort_by_key(&mut out, |l| (l.start, l.owner));
        self.ranges = out;
    }

    /// The range locks, sorted by start (for tests and /proc/locks).
    pub fn ranges(&self) -> &[RangeLock] {
        &self.ranges
    }

    /// The flock lock description `desc` holds.
    pub fn flock_held(&self, desc: usize) -> Option<LockKind> {
        self.flocks
            .iter()
            .find(|(d, _)| *d == desc)
            .map(|(_, k)| *k)
    }

    /// Whether another description holds a flock lock a `kind` lock conflicts
    /// with.
    pub fn flock_conflict(&self, desc: usize, kind: LockKind) -> bool {
        self.flocks
            .iter()
            .any(|(d, k)| *d != desc && kind.conflicts(*k))
    }

    /// Sets the flock lock of `desc` (or removes it).
    pub fn flock_set(&mut self, desc: usize, kind: Option<LockKind>) {
        self.flocks.retain(|(d, _)| *d != desc);
        if let Some(k) = kind {
            self.flocks.push((desc, k));
        }
    }

    /// Drops every lock of `owner` (range locks, and flock locks of a
    /// description).
    pub fn remove_owner(&mut self, owner: Owner) {
        self.ranges.retain(|l| l.owner != owner);
        if let Owner::Desc(d) = owner {
            self.flocks.retain(|(x, _)| *x != d);
        }
    }

    /// Whether no lock is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.flocks.is_empty()
    }
}

/// The identity of an inode: its device and inode number.
pub type InodeKey = (u64, u64);

/// A shared handle on one inode's locks (also held by the descriptions that
/// own locks there, so their last close can drop them).
pub type SharedLocks = Arc<Mutex<InodeLocks>>;

/// What a blocked F_SETLKW wants: for following the chain of waiters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Want {
    key: InodeKey,
    kind: LockKind,
    start: u64,
    end: u64,
}

/// Every inode's locks, and the POSIX lock requests processes wait on.
#[derive(Debug, Default)]
pub struct LockTable {
    inodes: VecMap<InodeKey, SharedLocks>,
    waiting: VecMap<u32, Want>,
}

impl LockTable {
    /// The locks of inode `key`, created empty when needed.
    pub fn inode(&mut self, key: InodeKey) -> SharedLocks {
        // Forget inodes nobody holds a lock on.
        self.inodes
            .retain(|_, l| Arc::strong_count(l) > 1 || !l.lock().is_empty());
        self.inodes.entry(key).or_default().clone()
    }

    /// The locks of inode `key`, if it has a list.
    pub fn get(&self, key: InodeKey) -> Option<SharedLocks> {
        self.inodes.get(&key).cloned()
    }

    /// Whether any lock may be held (a cheap test for the close path).
    pub fn is_empty(&self) -> bool {
        self.inodes.is_empty()
    }

    /// Drops the POSIX locks of process `pid` on inode `key` (any close of a
    /// descriptor of the inode does this), or on every inode (`None`: exit).
    pub fn release_process(&mut self, pid: u32, key: Option<InodeKey>) {
        match key {
            Some(k) => {
                if let Some(l) = self.inodes.get(&k) {
                    l.lock().remove_owner(Owner::Process(pid));
                }
            }
            None => {
                for l in self.inodes.values() {
                    l.lock().remove_owner(Owner::Process(pid));
                }
                self.waiting.remove(&pid);
            }
        }
    }

    /// Records that `pid` waits for a POSIX lock.
    pub fn set_waiting(&mut self, pid: u32, key: InodeKey, kind: LockKind, start: u64, end: u64) {
        self.waiting.insert(
            pid,
            Want {
                key,
                kind,
                start,
                end,
            },
        );
    }

    /// `pid` no longer waits.
    pub fn clear_waiting(&mut self, pid: u32) {
        self.waiting.remove(&pid);
    }

    /// Whether process `me`, by waiting for a lock `blocker` holds, would
    /// close a cycle of processes waiting for each other's POSIX locks.
    /// `still_waiting` says whether a recorded waiter is still blocked in its
    /// request (a signal may have ended the wait without the table hearing).
    pub fn would_deadlock(
        &self,
        me: u32,
        blocker: Owner,
        still_waiting: &dyn Fn(u32) -> bool,
    ) -> bool {
        let mut cur = blocker;
        for _ in 0..MAX_DEADLK_ITERATIONS {
            let Owner::Process(p) = cur else {
                return false;
            };
            if p == me {
                return true;
            }
            let Some(w) = self.waiting.get(&p).filter(|_| still_waiting(p)) else {
                return false;
            };
            let Some(next) = self
                .inodes
                .get(&w.key)
                .and_then(|l| l.lock().conflict(Owner::Process(p), w.kind, w.start, w.end))
            else {
                return false;
            };
            cur = next.owner;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LockKind::*;

    const A: Owner = Owner::Process(1);
    const B: Owner = Owner::Process(2);

    fn spans(l: &InodeLocks) -> Vec<(Owner, LockKind, u64, u64)> {
        l.ranges()
            .iter()
            .map(|r| (r.owner, r.kind, r.start, r.end))
            .collect()
    }

    #[test]
    fn split_merge_and_convert() {
        let mut l = InodeLocks::default();
        l.set_range(A, Some(Write), 0, 99);
        l.set_range(A, None, 40, 59);
        assert_eq!(spans(&l), [(A, Write, 0, 39), (A, Write, 60, 99)]);
        // Adjacent locks of one kind merge; another kind splits.
        l.set_range(A, Some(Write), 40, 59);
        assert_eq!(spans(&l), [(A, Write, 0, 99)]);
        l.set_range(A, Some(Read), 10, 19);
        assert_eq!(
            spans(&l),
            [(A, Write, 0, 9), (A, Read, 10, 19), (A, Write, 20, 99)]
        );
        l.set_range(A, Some(Write), 5, OFFSET_MAX);
        assert_eq!(spans(&l), [(A, Write, 0, OFFSET_MAX)]);
        l.set_range(A, None, 0, OFFSET_MAX);
        assert!(l.is_empty());
    }

    #[test]
    fn conflicts_between_owners() {
        let mut l = InodeLocks::default();
        l.set_range(A, Some(Read), 0, 9);
        assert_eq!(l.conflict(B, Read, 0, 9), None);
        assert_eq!(l.conflict(B, Write, 9, 20).map(|c| c.owner), Some(A));
        assert_eq!(l.conflict(B, Write, 10, 20), None);
        assert_eq!(l.conflict(A, Write, 0, 9), None, "own locks never conflict");
        l.remove_owner(A);
        assert!(l.is_empty());
        // flock locks are apart from range locks.
        l.flock_set(7, Some(Write));
        assert!(l.flock_conflict(8, Read));
        assert!(!l.flock_conflict(7, Read));
        assert_eq!(l.conflict(B, Write, 0, OFFSET_MAX), None);
        l.remove_owner(Owner::Desc(7));
        assert!(!l.flock_conflict(8, Write));
    }

    #[test]
    fn deadlock_chain() {
        let mut t = LockTable::default();
        let k1 = (1, 10);
        let locks = t.inode(k1);
        locks.lock().set_range(A, Some(Write), 0, 0);
        locks.lock().set_range(B, Some(Write), 1, 1);
        // B waits for byte 0, held by A: A asking for byte 1 closes the loop.
        t.set_waiting(2, k1, Write, 0, 0);
        assert!(t.would_deadlock(1, B, &|_| true));
        assert!(!t.would_deadlock(1, B, &|_| false), "a stale waiter");
        t.clear_waiting(2);
        assert!(!t.would_deadlock(1, B, &|_| true));
        t.release_process(1, None);
        assert_eq!(spans(&locks.lock()), [(B, Write, 1, 1)]);
        drop(locks);
        t.release_process(2, Some(k1));
        // The empty inode is forgotten at the next lookup.
        let _ = t.inode((1, 11));
        assert_eq!(t.inodes.len(), 1);
    }
}
