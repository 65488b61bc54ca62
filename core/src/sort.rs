//! One small sort for the kernel: a heapsort, a few hundred bytes of code per
//! element type, where core's slice sorts (ipnsort and driftsort) take 1 to 5
//! KB per instantiation: about 30 KB of the `rom` build for a dozen call
//! sites (`cargo xtask size`, issue 14's ROM diet). O(n log n) in the worst
//! case, in place, no allocation, and not stable: the callers sort by keys
//! that are unique, or whose equal elements are alike.

/// Sorts `v` in place so that no element is `less` than the one before it.
pub fn sort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    let n = v.len();
    for root in (0..n / 2).rev() {
        sift_down(v, root, n, &mut less);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, &mut less);
    }
}

/// Restores the max-heap below `root` within `v[..end]`.
fn sift_down<T>(v: &mut [T], mut root: usize, end: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[root], &v[child]) {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

/// Sorts `v` in ascending order.
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, |a, b| a < b);
}

/// Sorts `v` in ascending order of `key`.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a) < key(b));
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn sorts_like_the_slice_sort() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in (0..40).chain([100, 257, 1000]) {
            for modulus in [2, 7, 1000, u64::MAX] {
                let mut v: Vec<u64> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x % modulus
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_unstable();
                sort(&mut v);
                assert_eq!(v, want, "len {len} mod {modulus}");
            }
        }
    }

    #[test]
    fn by_key_and_already_sorted_and_reversed() {
        let mut v: Vec<(u32, u32)> = (0..50).rev().map(|i| (i / 3, i)).collect();
        sort_by_key(&mut v, |p| (p.0, p.1));
        let mut want = v.clone();
        want.sort();
        assert_eq!(v, want);
        let mut up: Vec<i32> = (0..64).collect();
        sort(&mut up);
        assert!(up.windows(2).all(|w| w[0] < w[1]));
    }
}
