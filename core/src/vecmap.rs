//! A small ordered map: a sorted `Vec` of (key, value) pairs, searched by
//! bisection, with the subset of `BTreeMap`'s interface the kernel uses.
//!
//! Why: alloc's B-tree is instantiated whole for every (key, value) pair of
//! types (node split, merge and steal, search, entry, iteration), 3 to 9 KB of
//! the `rom` build each; a map of this type costs a few hundred bytes per
//! instantiation (issue 14's ROM diet, `cargo xtask size`). Lookups stay
//! O(log n); an insert or remove moves the entries after it (one memmove,
//! O(n)), and appending a largest key is O(1) amortized. So it serves maps
//! that stay small (a process's queued signals, timers, waiters, bound
//! socket names, the host's stubs) or that grow at the end (ids handed out
//! in increasing order); the maps that can grow large and change in the
//! middle on hot paths (page tables, VMAs, page caches, directories, the
//! process table) keep `BTreeMap`.
//!
//! Iteration is in key order, as with `BTreeMap`; iterators are slice
//! iterators.

use alloc::vec::Vec;
use core::borrow::Borrow;
use core::ops::{Bound, RangeBounds};

/// An ordered map over a sorted vector (see the module documentation).
#[derive(Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    v: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { v: Vec::new() }
    }
}

impl<K: core::fmt::Debug, V: core::fmt::Debug> core::fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map()
            .entries(self.v.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

/// The iterator of [`VecMap::iter`] and [`VecMap::range`].
pub type Iter<'a, K, V> = core::iter::Map<core::slice::Iter<'a, (K, V)>, fn(&(K, V)) -> (&K, &V)>;

/// The iterator of [`VecMap::iter_mut`] and [`VecMap::range_mut`].
pub type IterMut<'a, K, V> =
    core::iter::Map<core::slice::IterMut<'a, (K, V)>, fn(&mut (K, V)) -> (&K, &mut V)>;

fn pair<K, V>(e: &(K, V)) -> (&K, &V) {
    (&e.0, &e.1)
}

fn pair_mut<K, V>(e: &mut (K, V)) -> (&K, &mut V) {
    (&e.0, &mut e.1)
}

impl<K, V> VecMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        VecMap { v: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.v.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    pub fn clear(&mut self) {
        self.v.clear()
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        self.v.iter().map(pair as fn(&(K, V)) -> (&K, &V))
    }

    /// The entries in key order, values mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        self.v
            .iter_mut()
            .map(pair_mut as fn(&mut (K, V)) -> (&K, &mut V))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + Clone {
        self.v.iter().map(|e| &e.0)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone {
        self.v.iter().map(|e| &e.1)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.v.iter_mut().map(|e| &mut e.1)
    }

    pub fn into_values(self) -> impl DoubleEndedIterator<Item = V> + ExactSizeIterator {
        self.v.into_iter().map(|e| e.1)
    }

    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = K> + ExactSizeIterator {
        self.v.into_iter().map(|e| e.0)
    }

    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.v.first().map(pair)
    }

    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.v.last().map(pair)
    }

    pub fn pop_first(&mut self) -> Option<(K, V)> {
        if self.v.is_empty() {
            None
        } else {
            Some(self.v.remove(0))
        }
    }

    pub fn pop_last(&mut self) -> Option<(K, V)> {
        self.v.pop()
    }

    /// Keeps the entries for which `f` is true, in order.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        self.v.retain_mut(|e| f(&e.0, &mut e.1))
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// `Ok(index)` of `key`, or `Err(index)` where it would go.
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.v.binary_search_by(|e| e.0.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.v[i].1)
    }

    pub fn get_key_value<Q: Ord + ?Sized>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| pair(&self.v[i]))
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        match self.find(key) {
            Ok(i) => Some(&mut self.v[i].1),
            Err(_) => None,
        }
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`, returning the value it had.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        // Appending a largest key (ids handed out in order) needs no search.
        let at = match self.v.last() {
            Some(last) if last.0 < key => Err(self.v.len()),
            None => Err(0),
            _ => self.find(&key),
        };
        match at {
            Ok(i) => Some(core::mem::replace(&mut self.v[i].1, value)),
            Err(i) => {
                self.v.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.remove_entry(key).map(|e| e.1)
    }

    pub fn remove_entry<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.v.remove(i))
    }

    /// The index range of the keys within `range`.
    fn bounds<Q: Ord + ?Sized>(&self, range: &impl RangeBounds<Q>) -> core::ops::Range<usize>
    where
        K: Borrow<Q>,
    {
        let lo = match range.start_bound() {
            Bound::Included(k) => self.v.partition_point(|e| e.0.borrow() < k),
            Bound::Excluded(k) => self.v.partition_point(|e| e.0.borrow() <= k),
            Bound::Unbounded => 0,
        };
        let hi = match range.end_bound() {
            Bound::Included(k) => self.v.partition_point(|e| e.0.borrow() <= k),
            Bound::Excluded(k) => self.v.partition_point(|e| e.0.borrow() < k),
            Bound::Unbounded => self.v.len(),
        };
        lo..hi.max(lo)
    }

    /// The entries whose keys are within `range`, in key order.
    pub fn range<Q: Ord + ?Sized>(&self, range: impl RangeBounds<Q>) -> Iter<'_, K, V>
    where
        K: Borrow<Q>,
    {
        let r = self.bounds(&range);
        self.v[r].iter().map(pair as fn(&(K, V)) -> (&K, &V))
    }

    /// The entries whose keys are within `range`, values mutable.
    pub fn range_mut<Q: Ord + ?Sized>(&mut self, range: impl RangeBounds<Q>) -> IterMut<'_, K, V>
    where
        K: Borrow<Q>,
    {
        let r = self.bounds(&range);
        self.v[r]
            .iter_mut()
            .map(pair_mut as fn(&mut (K, V)) -> (&K, &mut V))
    }

    /// The entry of `key`, to insert or change in place.
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let at = self.find(&key);
        Entry { map: self, key, at }
    }
}

/// A place in a [`VecMap`], as `BTreeMap::entry` gives (the subset in use).
pub struct Entry<'a, K, V> {
    map: &'a mut VecMap<K, V>,
    key: K,
    at: Result<usize, usize>,
}

impl<'a, K, V> Entry<'a, K, V> {
    pub fn or_insert_with(self, f: impl FnOnce() -> V) -> &'a mut V {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                self.map.v.insert(i, (self.key, f()));
                i
            }
        };
        &mut self.map.v[i].1
    }

    pub fn or_insert(self, value: V) -> &'a mut V {
        self.or_insert_with(|| value)
    }

    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }

    pub fn and_modify(self, f: impl FnOnce(&mut V)) -> Self {
        if let Ok(i) = self.at {
            f(&mut self.map.v[i].1);
        }
        self
    }

    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// As `BTreeMap`: of equal keys, the last one's value stays.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = VecMap::new();
        m.extend(iter);
        m
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = alloc::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.v.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, K, V> IntoIterator for &'a mut VecMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<K: Ord + Borrow<Q>, V, Q: Ord + ?Sized> core::ops::Index<&Q> for VecMap<K, V> {
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("VecMap: no entry for the key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec;

    /// Random operations on a VecMap and a BTreeMap give the same answers.
    #[test]
    fn behaves_as_btreemap() {
        let mut a: VecMap<u32, u32> = VecMap::new();
        let mut b: BTreeMap<u32, u32> = BTreeMap::new();
        let mut x: u32 = 12345;
        for step in 0..5000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let k = x % 200;
            match x % 7 {
                0..=2 => assert_eq!(a.insert(k, step), b.insert(k, step)),
                3 => assert_eq!(a.remove(&k), b.remove(&k)),
                4 => {
                    *a.entry(k).or_insert(7) += 1;
                    *b.entry(k).or_insert(7) += 1;
                }
                5 => {
                    let hi = k + x % 30;
                    let ra: Vec<_> = a.range(k..hi).collect();
                    let rb: Vec<_> = b.range(k..hi).collect();
                    assert_eq!(ra, rb);
                    assert_eq!(a.range(..=k).next_back(), b.range(..=k).next_back());
                    let ra: Vec<_> = a.range((Bound::Excluded(k), Bound::Unbounded)).collect();
                    let rb: Vec<_> = b.range((Bound::Excluded(k), Bound::Unbounded)).collect();
                    assert_eq!(ra, rb);
                }
                _ => {
                    a.retain(|k, v| (k + *v) % 5 != 0);
                    b.retain(|k, v| (k + *v) % 5 != 0);
                }
            }
            assert_eq!(a.len(), b.len());
            assert_eq!(a.get(&k), b.get(&k));
            assert_eq!(a.first_key_value(), b.first_key_value());
            assert_eq!(a.last_key_value(), b.last_key_value());
        }
        assert!(a.iter().eq(b.iter()));
        for (_, v) in a.iter_mut() {
            *v += 1;
        }
        for v in b.values_mut() {
            *v += 1;
        }
        assert!(a.iter().eq(b.iter()));
        assert_eq!(a.pop_first(), b.pop_first());
        assert!(a.into_iter().eq(b));
    }

    #[test]
    fn collect_keeps_the_last_of_equal_keys() {
        let m: VecMap<u8, &str> = vec![(3, "a"), (1, "b"), (3, "c")].into_iter().collect();
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![(&1, &"b"), (&3, &"c")]);
    }

    #[test]
    fn range_empty_and_reversed_bounds() {
        let m: VecMap<u8, ()> = (0..10).map(|k| (k, ())).collect();
        assert_eq!(m.range(5..5).count(), 0);
        assert_eq!(m.range(20..).count(), 0);
        assert_eq!(m.range(..0).count(), 0);
        assert_eq!(m.range(3..=3).count(), 1);
    }

    #[test]
    fn borrowed_lookups() {
        let mut m: VecMap<Vec<u8>, u8> = VecMap::new();
        m.insert(b"b".to_vec(), 2);
        m.insert(b"a".to_vec(), 1);
        assert_eq!(m.get(&b"a"[..]), Some(&1));
        assert_eq!(m.remove(&b"b"[..]), Some(2));
        assert_eq!(m.len(), 1);
    }
}
