//! End-to-end tests of threads: `tests/guest/threads.c` (pthreads: create,
//! join, detach, cancellation, mutexes of every kind, condvars, rwlocks,
//! barriers, semaphores, `__thread` TLS, pthread_kill and sigwait, signals
//! to the process, gettid/tgkill, exec and fork from a thread,
//! /proc/self/task, CPU time per thread, 1,000 threads), built with musl and
//! glibc, run natively and under umbra and compared.

use umbra_tests::{sections_same_as_native, Libc, Run};

/// Every section of `threads.c`.
const ALL: &[&str] = &[
    "create_join",
    "detach",
    "cancel",
    "mutex",
    "robust",
    "pi",
    "cond",
    "rwlock",
    "barrier",
    "sem",
    "tls",
    "kill_sigwait",
    "procsig",
    "gettid",
    "exec",
    "fork",
    "tasks",
    "exit_main",
    "cputime",
    "regs",
    "many",
];

/// The sections of `threads_hostile.c` whose native answer is
/// deterministic: robust lists that never end or loop (the kernel stops
/// after 2,048 entries, as Linux), futexes on unmapped and freed memory,
/// munmap under a blocked read, a path, an iovec array and a signal set
/// rewritten by another thread while a blocked call uses them (copied once,
/// at entry), vfork and posix_spawn beside a running thread, and 1,000
/// threads at once.
const HOSTILE: &[&str] = &[
    "robust_cycle",
    "robust_long",
    "futex_unmapped",
    "futex_freed",
    "munmap_read",
    "path_rewrite",
    "iovec_rewrite",
    "sigset_rewrite",
    "vfork_threads",
    "spawn",
    "many1000",
];

/// Runs `sections` natively and under umbra with room for 1,000 threads.
fn same_with_room(libc: Libc, program: &str, sections: &[&str]) {
    umbra_tests::assert_same(
        &Run::guest(libc, program)
            .args(sections)
            .umbra_flag("--max-procs")
            .umbra_flag("1100"),
    );
}

sections_same_as_native! {
    threads_musl: Musl "threads" ALL;
    threads_glibc: Glibc "threads" ALL;
}

sections_same_as_native! {
    run = same_with_room;
    hostile_musl: Musl "threads_hostile" HOSTILE;
    hostile_glibc: Glibc "threads_hostile" HOSTILE;
}

/// umbra-only (natively the host's limits decide): a thread bomb stops at
/// `--max-procs`, which counts threads, with EAGAIN; umbra survives it and
/// leaves nothing behind.
#[test]
fn thread_bomb_is_bounded_by_max_procs() {
    for libc in Libc::ALL {
        let out = Run::guest(libc, "threads_hostile")
            .args(&["bomb"])
            .umbra_flag("--max-procs")
            .umbra_flag("40")
            .umbra();
        out.assert_code(0);
        out.assert_no_leftovers();
        // pid 1 and its threads: 39 more tasks fit.
        assert_eq!(
            out.stdout_text(),
            "== bomb\nthread bomb stopped by EAGAIN after 39 threads\n",
            "{}",
            out.describe()
        );
    }
}

/// One section at a time under umbra, for a quick look at a failure.
#[test]
#[ignore = "diagnostic: run by hand"]
fn threads_each_section() {
    for libc in Libc::ALL {
        for s in ALL {
            umbra_tests::assert_same(&Run::guest(libc, "threads").args(&[s]));
        }
    }
}
