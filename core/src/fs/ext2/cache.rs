//! The cache of metadata blocks (inode tables, directories, indirect blocks,
//! bitmaps, group descriptors): a fixed number of block buffers replaced by
//! CLOCK (second chance).
//!
//! A hit sets the slot's reference bit (a block comes in with it clear); a
//! miss takes a slot left free by
//! [`BlockCache::remove`], else a new one while under the capacity, else the
//! first slot after the clock hand whose bit is clear (clearing the bits it
//! passes), and reads the block into that slot's buffer, which is reused, not
//! freed. So the hot blocks of path walks (the root's and /usr's directory
//! blocks, the first inode tables) stay, whatever their numbers. Lookup is a
//! bisection of a sorted index; a miss moves at most `cap` index entries.

use alloc::vec::Vec;

use crate::error::{Errno, KResult};
use crate::vecmap::VecMap;

/// A block number no slot holds.
const NONE: u64 = u64::MAX;

struct Slot {
    blk: u64,
    referenced: bool,
    data: Vec<u8>,
}

pub(crate) struct BlockCache {
    /// Block number to slot.
    index: VecMap<u64, u32>,
    slots: Vec<Slot>,
    /// Slots holding no block (their block was removed).
    free: Vec<u32>,
    hand: usize,
    cap: usize,
    bs: usize,
}

impl BlockCache {
    /// A cache of at most `cap` (at least 1) blocks of `bs` bytes.
    pub fn new(cap: usize, bs: usize) -> Self {
        BlockCache {
            index: VecMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            cap: cap.max(1),
            bs,
        }
    }

    /// The slot holding `blk`, marked as used.
    pub fn find(&mut self, blk: u64) -> Option<usize> {
        let i = *self.index.get(&blk)? as usize;
        let s = self.slots.get_mut(i)?;
        s.referenced = true;
        Some(i)
    }

    /// The buffer of slot `i` (from [`Self::find`] or [`Self::fill`]).
    pub fn slot_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        self.slots.get_mut(i).map(|s| &mut s.data[..])
    }

    /// Puts `blk` (not cached) in a slot, its bytes from `read`; returns the
    /// slot. If `read` fails, the slot is left free and nothing is cached.
    pub fn fill(
        &mut self,
        blk: u64,
        read: impl FnOnce(&mut [u8]) -> KResult<()>,
    ) -> KResult<usize> {
        let i = self.victim()?;
        let s = &mut self.slots[i];
        if s.blk != NONE {
            self.index.remove(&s.blk);
            s.blk = NONE;
        }
        if let Err(e) = read(&mut s.data) {
            s.referenced = false;
            self.free.push(i as u32);
            return Err(e);
        }
        s.blk = blk;
        // Cold until used again: a block read once (an inode table block in
        // a walk of every inode) goes before the ones used over and over.
        s.referenced = false;
        self.index.insert(blk, i as u32);
        Ok(i)
    }

    /// A slot to reuse or a new one.
    fn victim(&mut self) -> KResult<usize> {
        if let Some(i) = self.free.pop() {
            return Ok(i as usize);
        }
        if self.slots.len() < self.cap {
            let mut data = Vec::new();
            data.try_reserve_exact(self.bs).map_err(|_| Errno::ENOMEM)?;
            data.resize(self.bs, 0);
            self.slots.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            self.slots.push(Slot {
                blk: NONE,
                referenced: false,
                data,
            });
            return Ok(self.slots.len() - 1);
        }
        // Every slot is full: at most one turn clears every bit, so the
        // second turn stops.
        let n = self.slots.len();
        loop {
            let i = self.hand % n;
            self.hand = (i + 1) % n;
            let s = &mut self.slots[i];
            if !s.referenced {
                return Ok(i);
            }
            s.referenced = false;
        }
    }

    /// Forgets `blk` (it was written around the cache, or freed).
    pub fn remove(&mut self, blk: u64) {
        if let Some(i) = self.index.remove(&blk) {
            if let Some(s) = self.slots.get_mut(i as usize) {
                s.blk = NONE;
                s.referenced = false;
                self.free.push(i);
            }
        }
    }

    /// Block buffers allocated (the cache's memory, `bs` bytes each).
    #[cfg(test)]
    pub fn buffers(&self) -> usize {
        self.slots.len()
    }

    /// Blocks cached now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether `blk` is cached (without marking it used).
    #[cfg(test)]
    pub fn contains(&self, blk: u64) -> bool {
        self.index.contains_key(&blk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(c: &mut BlockCache, blk: u64) -> usize {
        c.fill(blk, |b| {
            b.fill(blk as u8);
            Ok(())
        })
        .unwrap()
    }

    #[test]
    fn hot_blocks_stay_and_buffers_are_reused() {
        let mut c = BlockCache::new(4, 16);
        for b in [1, 2, 3, 4] {
            fill(&mut c, b);
        }
        // Block 1 (the lowest, which the old cache always evicted) is used
        // between every miss; it must stay.
        for b in 10..40u64 {
            assert!(c.find(1).is_some(), "block 1 evicted before block {b}");
            let i = fill(&mut c, b);
            assert_eq!(c.slot_mut(i).unwrap()[0], b as u8);
            assert!(c.len() <= 4);
        }
        assert_eq!(c.slots.len(), 4);
        let i = c.find(1).unwrap();
        assert!(c.slot_mut(i).unwrap().iter().all(|&x| x == 1));
    }

    #[test]
    fn remove_frees_the_slot_and_failed_reads_cache_nothing() {
        let mut c = BlockCache::new(2, 8);
        fill(&mut c, 5);
        fill(&mut c, 6);
        c.remove(5);
        assert!(!c.contains(5));
        assert!(c.find(5).is_none());
        fill(&mut c, 7);
        assert!(c.contains(6) && c.contains(7));
        assert_eq!(c.slots.len(), 2);
        assert_eq!(c.fill(8, |_| Err(Errno::EIO)), Err(Errno::EIO));
        assert!(!c.contains(8));
        assert!(c.len() <= 2);
        // The slot the failed read took is reused by the next miss.
        fill(&mut c, 9);
        assert!(c.contains(9));
        assert_eq!(c.slots.len(), 2);
    }
}
