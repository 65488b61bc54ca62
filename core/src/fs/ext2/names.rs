//! The cache of directory entries: (directory inode, name) to inode number, or
//! to "no such entry", so a path walk needs no linear scan of each directory
//! on the way.
//!
//! A fixed table of entries (allocated at the first lookup): one per inode
//! of the image, at least 64 and at most [`SLOTS`], direct-mapped by a hash
//! of the key: an insert replaces whatever the slot
//! held. Names longer than [`NAME_INLINE`] bytes are not cached. Every change
//! of a directory's entries goes through `dir_add`, `dir_remove` and
//! `dir_retarget` (mkdir, create, mknod, symlink, link, unlink, rmdir,
//! rename, and ".." of a moved directory), which drop all of that
//! directory's entries with [`NameCache::forget_dir`]; so does allocating or
//! freeing an inode, so a reused number never finds its previous life's
//! entries. Nothing else writes directory blocks (a directory cannot be
//! written or truncated as a file).

use alloc::vec::Vec;

/// Most entries kept: 1024 of 56 bytes, 56 KiB.
pub const SLOTS: usize = 1024;
/// Fewest entries kept (3.5 KiB).
const MIN_SLOTS: usize = 64;
/// Longest name cached.
pub const NAME_INLINE: usize = 46;

#[derive(Clone, Copy)]
struct Slot {
    /// 0: empty.
    dir: u32,
    /// 0: the name is known to be absent.
    ino: u32,
    len: u8,
    name: [u8; NAME_INLINE],
}

const EMPTY: Slot = Slot {
    dir: 0,
    ino: 0,
    len: 0,
    name: [0; NAME_INLINE],
};

pub(crate) struct NameCache {
    slots: Vec<Slot>,
    /// Entries once allocated.
    n: usize,
}

fn hash(n: usize, dir: u32, name: &[u8]) -> usize {
    // FNV-1a.
    let mut h: u32 = 0x811c_9dc5;
    for &b in dir.to_le_bytes().iter().chain(name) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 16)) as usize % n
}

impl NameCache {
    /// A cache for an image of `inodes` inodes, of `bytes` at most.
    pub fn new(inodes: u32, bytes: u64) -> Self {
        let fit = usize::try_from(bytes / core::mem::size_of::<Slot>() as u64).unwrap_or(SLOTS);
        NameCache {
            slots: Vec::new(),
            n: (inodes as usize).min(fit).clamp(MIN_SLOTS, SLOTS),
        }
    }

    /// What `name` in directory `dir` is: `Some(Some(ino))` an entry,
    /// `Some(None)` known absent, `None` not cached.
    pub fn get(&self, dir: u32, name: &[u8]) -> Option<Option<u32>> {
        if dir == 0 || name.len() > NAME_INLINE {
            return None;
        }
        let s = self.slots.get(hash(self.n, dir, name))?;
        (s.dir == dir && s.name.get(..usize::from(s.len)) == Some(name))
            .then_some((s.ino != 0).then_some(s.ino))
    }

    /// Remembers that `name` in `dir` is `ino` (`None`: absent).
    pub fn put(&mut self, dir: u32, name: &[u8], ino: Option<u32>) {
        if dir == 0 || name.len() > NAME_INLINE {
            return;
        }
        if self.slots.is_empty() {
            if self.slots.try_reserve_exact(self.n).is_err() {
                return;
            }
            self.slots.resize(self.n, EMPTY);
        }
        if let Some(s) = self.slots.get_mut(hash(self.n, dir, name)) {
            s.dir = dir;
            s.ino = ino.unwrap_or(0);
            s.len = name.len() as u8;
            s.name[..name.len()].copy_from_slice(name);
        }
    }

    /// Drops every entry of directory `dir`.
    pub fn forget_dir(&mut self, dir: u32) {
        for s in self.slots.iter_mut().filter(|s| s.dir == dir) {
            s.dir = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_negative_entries_and_forgetting() {
        let mut c = NameCache::new(1 << 20, u64::MAX);
        assert_eq!(c.get(2, b"usr"), None);
        c.put(2, b"usr", Some(12));
        c.put(2, b"nope", None);
        c.put(12, b"bin", Some(13));
        assert_eq!(c.get(2, b"usr"), Some(Some(12)));
        assert_eq!(c.get(2, b"nope"), Some(None));
        assert_eq!(c.get(2, b"us"), None);
        assert_eq!(c.get(3, b"usr"), None);
        c.forget_dir(2);
        assert_eq!(c.get(2, b"usr"), None);
        assert_eq!(c.get(2, b"nope"), None);
        assert_eq!(c.get(12, b"bin"), Some(Some(13)));
        let long = [b'x'; NAME_INLINE + 1];
        c.put(12, &long, Some(5));
        assert_eq!(c.get(12, &long), None);
        let longest = [b'y'; NAME_INLINE];
        c.put(12, &longest, Some(6));
        assert_eq!(c.get(12, &longest), Some(Some(6)));
    }

    #[test]
    fn size_follows_the_inodes_and_the_memory_budget() {
        let slot = core::mem::size_of::<Slot>() as u64;
        // A big image and plenty of memory: the most.
        assert_eq!(NameCache::new(100_000, u64::MAX).n, SLOTS);
        // A small image: one per inode, at least MIN_SLOTS.
        assert_eq!(NameCache::new(300, u64::MAX).n, 300);
        assert_eq!(NameCache::new(10, u64::MAX).n, MIN_SLOTS);
        // The budget (`--mem 12M`'s 1/256: 48 KiB) bounds a big image's.
        assert_eq!(
            NameCache::new(100_000, 48 << 10).n,
            (48 << 10) / slot as usize
        );
        assert_eq!(NameCache::new(100_000, 0).n, MIN_SLOTS);
        // What the table takes once used: n slots.
        let mut c = NameCache::new(100_000, 48 << 10);
        c.put(2, b"usr", Some(12));
        assert!((c.slots.len() as u64) * slot <= 48 << 10);
        assert_eq!(c.get(2, b"usr"), Some(Some(12)));
    }

    #[test]
    fn a_colliding_insert_replaces() {
        let mut c = NameCache::new(1 << 20, u64::MAX);
        let names: Vec<[u8; 4]> = (0..(SLOTS as u32 * 2)).map(|i| i.to_le_bytes()).collect();
        for (i, n) in names.iter().enumerate() {
            c.put(7, n, Some(i as u32 + 1));
        }
        let mut hits = 0;
        for (i, n) in names.iter().enumerate() {
            match c.get(7, n) {
                Some(Some(ino)) => {
                    assert_eq!(ino, i as u32 + 1);
                    hits += 1;
                }
                Some(None) => panic!("a negative entry that was never put"),
                None => {}
            }
        }
        assert!(hits > 0 && hits <= SLOTS);
    }
}
