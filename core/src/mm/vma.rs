//! Virtual memory areas: what the guest may map where, with which protection, and
//! what backs the pages (zeroes, or a file's contents copied on first touch).

use crate::error::KResult;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use umbra_abi::flags::Prot;

/// A source of file contents for private file mappings (ELF segments, mmap of a file).
pub trait Backing: Send + Sync {
    /// Reads at `off`; returns the bytes read (short at end of file).
    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize>;
}

/// What a VMA is, for fault handling and /proc/PID/maps.
#[derive(Clone)]
pub enum VmaKind {
    /// Zero-filled anonymous memory.
    Anon,
    /// A private file mapping: page at `va` holds the file bytes at
    /// `offset + (va - start)` while `va < file_end`, zeroes after.
    File {
        backing: Arc<dyn Backing>,
        offset: u64,
        file_end: u64,
    },
}

/// Names shown in /proc/PID/maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaName {
    None,
    Heap,
    Stack,
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
    /// than copied on write (no mapping kind is yet).
    pub fn is_shared(&self) -> bool {
        false
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
        if let VmaKind::File { offset, .. } = &mut self.kind {
            if let VmaKind::File { offset: o, .. } = &orig.kind {
                *offset = o.wrapping_add(orig_va - orig.start);
            }
        }
        self
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

    /// Inserts a VMA over a range that must be free (call `remove` first).
    pub fn insert(&mut self, vma: Vma) {
        self.map.insert(vma.start, vma);
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
            let continues = next.prot == first.prot
                && next.name == first.name
                && match (&prev.kind, &next.kind) {
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
                    ) => Arc::ptr_eq(b1, b2) && o1.wrapping_add(prev.end - prev.start) == *o2,
                    _ => false,
                };
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
