//! End-to-end tests of the calls real programs make at start-up (issue 11,
//! Deliver 6; `tests/guest/startup_calls.c`): prlimit64, getrandom,
//! sched_{get,set}affinity, sched_yield and the policy calls, membarrier,
//! statx, faccessat2, close_range, kcmp and unshare, each section run
//! natively and under umbra with musl and glibc and compared.

use umbra_tests::sections_same_as_native;

sections_same_as_native! {
    prlimit_musl: Musl "startup_calls" &["prlimit"];
    prlimit_glibc: Glibc "startup_calls" &["prlimit"];
    random_musl: Musl "startup_calls" &["random"];
    random_glibc: Glibc "startup_calls" &["random"];
    affinity_musl: Musl "startup_calls" &["affinity"];
    affinity_glibc: Glibc "startup_calls" &["affinity"];
    policy_musl: Musl "startup_calls" &["policy"];
    policy_glibc: Glibc "startup_calls" &["policy"];
    membarrier_musl: Musl "startup_calls" &["membarrier"];
    membarrier_glibc: Glibc "startup_calls" &["membarrier"];
    statx_musl: Musl "startup_calls" &["statx"];
    statx_glibc: Glibc "startup_calls" &["statx"];
    faccessat2_musl: Musl "startup_calls" &["faccessat2", "privilege"];
    faccessat2_glibc: Glibc "startup_calls" &["faccessat2", "privilege"];
    close_range_musl: Musl "startup_calls" &["close_range"];
    close_range_glibc: Glibc "startup_calls" &["close_range"];
    kcmp_musl: Musl "startup_calls" &["kcmp"];
    kcmp_glibc: Glibc "startup_calls" &["kcmp"];
    unshare_musl: Musl "startup_calls" &["unshare"];
    unshare_glibc: Glibc "startup_calls" &["unshare"];
}

// The calls that take a pid, given a thread's id (kcmp: two threads share
// their address space, fd table, fs information and signal handlers).
sections_same_as_native! {
    threads_musl: Musl "startup_calls" &["threads"];
    threads_glibc: Glibc "startup_calls" &["threads"];
    execveat_musl: Musl "startup_calls" &["execveat"];
    execveat_glibc: Glibc "startup_calls" &["execveat"];
}
