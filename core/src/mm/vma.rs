//! Virtual memory areas: what the guest may map where, with which protection, and
//! what backs the pages: zeroes, a file's contents (through the page cache, see
//! [`super::pagecache`], when the backing has one), or a shared object.

use super::shared::SharedMem;
use crate::error::KResult;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use umbra_abi::flags::Prot;
use umbra_abi::structs::Timespec;

/// A source of file contents for private file mappings (ELF segments, mmap of a file).
pub trait Backing: Send + Sync {
    /// Reads at `off`; returns the bytes read (short at end of file).
    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize>;
    /// The file's size now, where a page wholly past it must fault (SIGBUS)
    /// rather than read as zeroes; `None` for ELF segments, whose bss follows
    /// the file bytes.
    fn size(&self) -> Option<u64> {
        None
    }
    /// Writes at `off` (the page cache's write-back); returns the bytes
    /// written. Read-only backings refuse (EROFS).
    fn write_at(&self, _off: u64, _buf: &[u8], _now: Timespec) -> KResult<usize> {
        Err(umbra_abi::Errno::EROFS)
    }
    /// Flushes what was written to stable storage (msync MS_SYNC).
    fn sync(&self) -> KResult<()> {
        Ok(())
    }
    /// The identity of the file (the same for every backing of it), by which
    /// the page cache finds the file's pages; `None` for a backing whose
    /// pages nothing else shares.
    fn key(&self) -> Option<usize> {
        None
    }
    /// The page cache whose frames this backing's mappings map.
    fn cache(&self) -> Option<&Arc<super::pagecache::FileCache>> {
        None
    }
}

/// What a VMA is, for fault handling and /proc/PID/maps.
#[derive(Clone)]
pub enum VmaKind {
    /// Zero-filled anonymous memory.
    Anon,
    /// A private file mapping: page at `va` holds the file bytes at
    /// `offset + (va - start)` while `va < file_end`, zeroes after (an ELF
    /// segment's bss; `u64::MAX` for mmap(2) of a file, bounded by the file's
    /// size instead). Pages wholly before `file_end` are the page cache's
    /// frames, copied on write, when the backing has a cache.
    File {
        backing: Arc<dyn Backing>,
        offset: u64,
        file_end: u64,
    },
    /// Shared memory: page at `va` is page `(offset + (va - start)) / PAGE_SIZE`
    /// of `obj`, the same frame in every address space that maps it.
    Shared { obj: Arc<SharedMem>, offset: u64 },
}

impl VmaKind {
    /// Whether pages are shared by frame (never copied on write or fork).
    pub fn is_shared(&self) -> bool {
        matches!(self, VmaKind::Shared { .. })
    }
}

/// Names shown in /proc/PID/maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaName {
    None,
    Heap,
    Stack,
    /// The time page the vDSO reads.
    Vvar,
    /// umbra's vDSO.
    Vdso,
}

/// One area `[start, end)`.
#[derive(Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    pub kind: VmaKind,
    pub name: VmaName,
}

impl Vma {
    /// Whether its pages are shared between the processes that map it rather
    /// than copied on write (shared memory objects).
    pub fn is_shared(&self) -> bool {
        self.kind.is_shared()
    }
}

impl Vma {
    /// A piece `[start, end)` of this VMA (which must lie inside it), with the file
    /// offset adjusted.
    fn slice(&self, start: u64, end: u64) -> Vma {
        let kind = match &self.kind {
            VmaKind::Anon => VmaKind::Anon,
            VmaKind::File {
                backing,
                offset,
                file_end,
            } => VmaKind::File {
                backing: backing.clone(),
                offset: offset.wrapping_add(start - self.start),
                file_end: *file_end,
            },
            VmaKind::Shared { obj, offset } => VmaKind::Shared {
                obj: obj.clone(),
                offset: offset.wrapping_add(start - self.start),
            },
        };
        Vma {
            start,
            end,
            prot: self.prot,
            kind,
            name: self.name,
        }
    }
}

impl Vma {
    /// This VMA's contents as they continue from `orig` at `orig_va`: for file
    /// mappings the offset follows the address.
    pub fn rebased(mut self, orig: &Vma, orig_va: u64) -> Vma {
        match (&mut self.kind, &orig.kind) {
            (
                VmaKind::File {
                    offset, file_end, ..
                },
                VmaKind::File {
                    offset: o,
                    file_end: fe,
                    ..
                },
            ) => {
                *offset = o.wrapping_add(orig_va - orig.start);
                // The end of the file bytes moves with the contents.
                if *fe != u64::MAX {
                    *file_end = if *fe <= orig_va {
                        self.start
                    } else {
                        self.start.saturating_add(*fe - orig_va)
                    };
                }
            }
            (VmaKind::Shared { offset, .. }, VmaKind::Shared { offset: o, .. }) => {
                *offset = o.wrapping_add(orig_va - orig.start);
            }
            _ => {}
        }
        self
    }

    /// Whether `next` continues this VMA's contents at its end, so that one VMA
    /// could cover both: anonymous, or the same file or object at the
    /// continuing offset.
    fn continued_by(&self, next: &Vma) -> bool {
        self.end == next.start
            && match (&self.kind, &next.kind) {
                (VmaKind::Anon, VmaKind::Anon) => true,
                (
                    VmaKind::File {
                        backing: b1,
                        offset: o1,
                        ..
                    },
                    VmaKind::File {
                        backing: b2,
                        offset: o2,
                        ..
                    },
                ) => same_backing(b1, b2) && o1.wrapping_add(self.end - self.start) == *o2,
                (
                    VmaKind::Shared {
                        obj: s1,
                        offset: o1,
                    },
                    VmaKind::Shared {
                        obj: s2,
                        offset: o2,
                    },
                ) => same_object(s1, s2) && o1.wrapping_add(self.end - self.start) == *o2,
                _ => false,
            }
    }

    /// Whether Linux would merge `next` into this VMA: contents continue and
    /// the protection and name are the same.
    fn merges_with(&self, next: &Vma) -> bool {
        self.prot == next.prot
            && self.name == next.name
            && self.continued_by(next)
            && match (&self.kind, &next.kind) {
                (VmaKind::File { file_end: e1, .. }, VmaKind::File { file_end: e2, .. }) => {
                    e1 == e2
                }
                _ => true,
            }
    }
}

/// Whether two private file mappings map the same contents: one backing,
/// or two views of one page cache with the same end-of-file rule (separate
/// mmap calls of one file, which Linux merges).
fn same_backing(b1: &Arc<dyn Backing>, b2: &Arc<dyn Backing>) -> bool {
    Arc::ptr_eq(b1, b2)
        || match (b1.cache(), b2.cache()) {
            (Some(c1), Some(c2)) => {
                Arc::ptr_eq(c1, c2) && b1.size().is_some() == b2.size().is_some()
            }
            _ => false,
        }
}

/// Whether two shared mappings map the same object: one object, or two
/// shared mappings of one file with the same write permission.
fn same_object(s1: &Arc<SharedMem>, s2: &Arc<SharedMem>) -> bool {
    Arc::ptr_eq(s1, s2)
        || match (s1.file(), s2.file()) {
            (Some(c1), Some(c2)) => Arc::ptr_eq(c1, c2) && s1.may_write() == s2.may_write(),
            _ => false,
        }
}

/// The VMAs of one address space, kept sorted and non-overlapping.
#[derive(Clone, Default)]
pub struct VmaSet {
    map: BTreeMap<u64, Vma>,
}

impl VmaSet {
    /// The VMA containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Vma> {
        self.map
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// All VMAs in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.map.values()
    }

    /// Number of VMAs.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether `[start, end)` overlaps any VMA.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.map
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Inserts a VMA over a range that must be free (call `remove` first),
    /// merged with its neighbours where Linux would merge them.
    pub fn insert(&mut self, vma: Vma) {
        let (start, end) = (vma.start, vma.end);
        self.map.insert(vma.start, vma);
        self.merge_around(start, end);
    }

    /// Merges the VMAs that touch `[start, end)` (those in it and the two
    /// neighbours) where Linux would have one VMA.
    fn merge_around(&mut self, start: u64, end: u64) {
        let first = match self.map.range(..start).next_back() {
            Some((k, v)) if v.end == start => Some(*k),
            _ => self.map.range(start..).next().map(|(k, _)| *k),
        };
        let Some(mut at) = first else { return };
        while at <= end {
            let Some(cur) = self.map.get(&at) else { return };
            let cur_end = cur.end;
            match self.map.get(&cur_end) {
                Some(next) if cur.merges_with(next) => {
                    let next_end = next.end;
                    self.map.remove(&cur_end);
                    if let Some(c) = self.map.get_mut(&at) {
                        c.end = next_end;
                    }
                }
                _ => match self.map.range(cur_end..).next() {
                    Some((k, _)) => at = *k,
                    None => return,
                },
            }
        }
    }

    /// How many VMAs a change of `[start, end)` to `prot` must split off
    /// (0, 1 or 2): where an end falls inside a VMA of another protection.
    pub fn splits_for_protect(&self, start: u64, end: u64, prot: Prot) -> usize {
        let mut n = 0;
        if let Some(v) = self.find(start) {
            if v.start < start && v.prot != prot {
                n += 1;
            }
        }
        if let Some(v) = self.find(end) {
            if v.start < end && v.prot != prot {
                n += 1;
            }
        }
        n
    }

    /// Whether removing `[start, end)` cuts one VMA in two (one more VMA).
    pub fn remove_splits(&self, start: u64, end: u64) -> bool {
        self.find(start)
            .is_some_and(|v| v.start < start && v.end > end)
    }

    /// Cuts `[start, end)` out of every VMA, splitting VMAs that straddle the ends.
    pub fn remove(&mut self, start: u64, end: u64) {
        self.split_at(start);
        self.split_at(end);
        let keys: alloc::vec::Vec<u64> = self.map.range(start..end).map(|(k, _)| *k).collect();
        for k in keys {
            self.map.remove(&k);
        }
    }

    /// Sets the protection of `[start, end)`; every byte of it must be mapped.
    pub fn protect(&mut self, start: u64, end: u64, prot: Prot) {
        self.split_at(start);
        self.split_at(end);
        for (_, v) in self.map.range_mut(start..end) {
            v.prot = prot;
        }
        self.merge_around(start, end);
    }

    /// Whether every byte of `[start, end)` is covered by VMAs.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        while at < end {
            match self.find(at) {
                Some(v) => at = v.end,
                None => return false,
            }
        }
        true
    }

    /// Whether `[start, end)` lies in VMAs that Linux would have merged into one
    /// (adjacent, same protection and name, anonymous or the same file at
    /// continuing offsets): what mremap(2) requires of its old range.
    pub fn covers_as_one(&self, start: u64, end: u64) -> bool {
        let Some(first) = self.find(start) else {
            return false;
        };
        let mut prev = first;
        while prev.end < end {
            let Some(next) = self.map.get(&prev.end) else {
                return false;
            };
            let continues =
                next.prot == first.prot && next.name == first.name && prev.continued_by(next);
            if !continues {
                return false;
            }
            prev = next;
        }
        true
    }

    /// Splits the VMA containing `addr` so that one starts exactly at `addr`.
    fn split_at(&mut self, addr: u64) {
        let Some(v) = self.find(addr) else { return };
        if v.start == addr {
            return;
        }
        let (lo, hi) = (v.slice(v.start, addr), v.slice(addr, v.end));
        self.map.insert(lo.start, lo);
        self.map.insert(hi.start, hi);
    }

    /// Extends the anonymous VMA ending at `old_end` to `new_end` (brk growth).
    pub fn extend(&mut self, old_end: u64, new_end: u64) -> bool {
        if let Some((_, v)) = self.map.range_mut(..old_end).next_back() {
            if v.end == old_end && matches!(v.kind, VmaKind::Anon) {
                v.end = new_end;
                let start = v.start;
                self.merge_around(start, new_end);
                return true;
            }
        }
        false
    }

    /// The highest free gap of `len` bytes whose end is at most `below` and start at
    /// least `above`.
    pub fn find_free_top_down(&self, len: u64, above: u64, below: u64) -> Option<u64> {
        let mut hi = below;
        for (_, v) in self.map.range(..below).rev() {
            if v.end <= hi && hi - v.end >= len {
                let start = hi - len;
                return (start >= above).then_some(start);
            }
            hi = hi.min(v.start);
            if hi < above.saturating_add(len) {
                return None;
            }
        }
        let start = hi.checked_sub(len)?;
        (start >= above).then_some(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(start: u64, end: u64) -> Vma {
        Vma {
            start,
            end,
            prot: Prot::READ | Prot::WRITE,
            kind: VmaKind::Anon,
            name: VmaName::None,
        }
    }

    #[test]
    fn split_remove_protect() {
        let mut s = VmaSet::default();
        s.insert(anon(0x1000, 0x9000));
        s.remove(0x3000, 0x4000);
        assert_eq!(s.len(), 2);
        assert!(s.find(0x3000).is_none());
        assert!(s.find(0x2fff).is_some());
        assert!(!s.covers(0x1000, 0x9000));
        s.protect(0x5000, 0x6000, Prot::READ);
        assert_eq!(s.len(), 4);
        assert_eq!(s.find(0x5000).unwrap().prot, Prot::READ);
        assert_eq!(s.find(0x6000).unwrap().prot, Prot::READ | Prot::WRITE);
    }

    #[test]
    fn free_gap() {
        let mut s = VmaSet::default();
        s.insert(anon(0x8000, 0x10000));
        assert_eq!(s.find_free_top_down(0x2000, 0x1000, 0x10000), Some(0x6000));
        assert_eq!(s.find_free_top_down(0x2000, 0x1000, 0x12000), Some(0x10000));
        assert_eq!(s.find_free_top_down(0x8000, 0x1000, 0x10000), None);
        assert!(s.overlaps(0x7000, 0x9000));
        assert!(!s.overlaps(0x10000, 0x11000));
    }
}
