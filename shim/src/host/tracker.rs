//! What each stub has mapped, page-exact: the shim turns `Protect` into mprotect
//! calls over mapped runs only (host mprotect fails with ENOMEM at a hole and
//! leaves the rest unchanged), and it reads guest instruction bytes through it.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub end: u64,
    pub phys: u64,
    pub prot: u32,
}

#[derive(Default, Debug)]
pub struct Tracker {
    map: BTreeMap<u64, Region>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Ensures no region straddles `at`.
    fn split(&mut self, at: u64) {
        let Some((&start, r)) = self.map.range_mut(..at).next_back() else {
            return;
        };
        if r.end > at {
            let tail = Region {
                end: r.end,
                phys: r.phys + (at - start),
                prot: r.prot,
            };
            r.end = at;
            self.map.insert(at, tail);
        }
    }

    pub fn unmap(&mut self, va: u64, len: u64) {
        let end = va.saturating_add(len);
        self.split(va);
        self.split(end);
        let keys: Vec<u64> = self.map.range(va..end).map(|(&k, _)| k).collect();
        for k in keys {
            self.map.remove(&k);
        }
    }

    pub fn map(&mut self, va: u64, len: u64, phys: u64, prot: u32) {
        self.unmap(va, len);
        let mut start = va;
        let mut region = Region {
            end: va + len,
            phys,
            prot,
        };
        // Coalesce with the region before when contiguous in va and phys.
        if let Some((&s, r)) = self.map.range(..va).next_back() {
            if r.end == va && r.prot == prot && r.phys + (r.end - s) == phys {
                start = s;
                region.phys = r.phys;
            }
        }
        if let Some(n) = self.map.get(&region.end).copied() {
            if n.prot == prot && n.phys == region.phys + (region.end - start) {
                self.map.remove(&region.end);
                region.end = n.end;
            }
        }
        self.map.insert(start, region);
    }

    /// Sets `prot` on the mapped parts of `[va, va+len)`; returns the maximal
    /// runs without holes whose protection changes, one host mprotect each
    /// (a part already at `prot` needs no host call).
    pub fn protect(&mut self, va: u64, len: u64, prot: u32) -> Vec<(u64, u64)> {
        let end = va.saturating_add(len);
        self.split(va);
        self.split(end);
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for (&s, r) in self.map.range_mut(va..end) {
            if r.prot == prot {
                continue;
            }
            r.prot = prot;
            match runs.last_mut() {
                Some(last) if last.1 == s => last.1 = r.end,
                _ => runs.push((s, r.end)),
            }
        }
        runs
    }

    /// The physical address and protection backing `va`.
    pub fn lookup(&self, va: u64) -> Option<(u64, u32)> {
        let (&s, r) = self.map.range(..=va).next_back()?;
        (va < r.end).then_some((r.phys + (va - s), r.prot))
    }

    /// Number of regions: an upper bound of the host mappings they need.
    pub fn regions(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_protect_unmap() {
        let mut t = Tracker::new();
        t.map(0x1000, 0x3000, 0x10000, 5);
        t.map(0x4000, 0x1000, 0x13000, 5); // coalesces
        assert_eq!(t.regions(), 1);
        t.map(0x8000, 0x1000, 0x0, 3);
        assert_eq!(
            t.protect(0x0, 0x10000, 1),
            vec![(0x1000, 0x5000), (0x8000, 0x9000)]
        );
        assert_eq!(t.lookup(0x2fff), Some((0x11fff, 1)));
        t.unmap(0x2000, 0x1000);
        assert_eq!(t.lookup(0x2000), None);
        assert_eq!(t.lookup(0x3000), Some((0x12000, 1)));
        assert_eq!(
            t.protect(0x1000, 0x3000, 3),
            vec![(0x1000, 0x2000), (0x3000, 0x4000)]
        );
        assert_eq!(t.lookup(0x9000), None);
    }

    #[test]
    fn protect_to_the_same_protection_needs_no_host_call() {
        let mut t = Tracker::new();
        t.map(0x1000, 0x4000, 0x10000, 3);
        assert_eq!(t.protect(0x1000, 0x4000, 3), vec![]);
        assert_eq!(t.protect(0x2000, 0x1000, 1), vec![(0x2000, 0x3000)]);
        // Only the parts that change, as runs around the one already at 1.
        assert_eq!(
            t.protect(0x0, 0x10000, 1),
            vec![(0x1000, 0x2000), (0x3000, 0x5000)]
        );
        assert_eq!(t.lookup(0x4fff), Some((0x13fff, 1)));
        assert_eq!(t.protect(0x1000, 0x4000, 1), vec![]);
    }
}
