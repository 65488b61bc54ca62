//! End-to-end tests of guest memory management: shared anonymous memory
//! across fork (`mm_shared`), and the limits and argument checks of the
//! mapping calls (`mm_limits`), each run natively and under umbra and
//! compared (see `umbra_tests::assert_same`).

use umbra_tests::{assert_same, sections_same_as_native, Libc, Run};

const SHARED: &[&str] = &[
    "fork",
    "counters",
    "chain",
    "munmap",
    "mprotect",
    "split",
    "mremap",
    "creator_exit",
    "devzero",
    "dontneed",
    "grow",
];
const LIMITS: &[&str] = &["maxmap", "args", "map32", "eof", "mremap", "iofault"];
const LOCKS: &[&str] = &["rlimits", "mlock", "mincore"];

sections_same_as_native! {
    shared_anon_musl: Musl "mm_shared" SHARED;
    shared_anon_glibc: Glibc "mm_shared" SHARED;
    limits_musl: Musl "mm_limits" LIMITS;
    limits_glibc: Glibc "mm_limits" LIMITS;
    rlimits_mlock_mincore_musl: Musl "mm_limits" LOCKS;
    rlimits_mlock_mincore_glibc: Glibc "mm_limits" LOCKS;
}

/// 76,800 pages touched so that no two neighbours can share a host mapping:
/// more than the host's vm.max_map_count (65,530) mappings if each page were
/// mapped on its own. The stub stays within the host's limit; the guest
/// never sees it.
#[test]
fn many_unmergeable_pages_stay_within_the_host_map_limit() {
    for libc in [Libc::Musl, Libc::Glibc] {
        assert_same(
            &Run::guest(libc, "mm_limits")
                .args(&["hostmaps"])
                .umbra_flag("--mem")
                .umbra_flag("512M"),
        );
    }
}
