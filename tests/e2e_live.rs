//! End-to-end tests of issue 10's pipe, poll and procfs items: the `pipes2`
//! program of `tests/guest/` (musl and glibc builds) and busybox scripts, run
//! natively and under umbra and compared (stdout, stderr, exit status).
//!
//! - `bigwrite`: one write() larger than the pipe while a child drains it
//!   (it hung past 131,072 bytes);
//! - `readv`: readv on a pipe fills every iovec;
//! - `pipesz`: F_GETPIPE_SZ/F_SETPIPE_SZ rounding, EBUSY, the capacity
//!   following the size; `pipesz_user`: pipe-max-size binds a user without
//!   CAP_SYS_RESOURCE;
//! - `pollnorm`: POLLRDNORM/POLLWRNORM reported (POLLWRNORM alone returned
//!   never);
//! - `select`: select(2) writes back the time left, pselect6 does not;
//!
//! and the `procfs_live` program: /proc as a live view through every route
//! (/dev/fd in forked children, a cwd and a directory fd inside /proc),
//! /proc/PID/fdinfo, zombies, /proc/sys files, and /sys/devices/system/cpu
//! (sysfs). The busybox tests run the issue's /dev/fd repro and nproc.

use umbra_tests::{assert_same, sections_same_as_native, Run};

const PIPES: &[&str] = &[
    "bigwrite",
    "readv",
    "pipesz",
    "pipesz_user",
    "pollnorm",
    "select",
];
const LIVE: &[&str] = &[
    "devfd",
    "self",
    "cwd",
    "dirfd",
    "fdinfo",
    "zombie",
    "sysctl",
    "sysfs",
    "status_ids",
    "sendfile",
];

sections_same_as_native! {
    pipes2_musl: Musl "pipes2" PIPES;
    pipes2_glibc: Glibc "pipes2" PIPES;
    procfs_live_musl: Musl "procfs_live" LIVE;
    procfs_live_glibc: Glibc "procfs_live" LIVE;
}

/// The repro: a subshell (a forked child) reads an fd of its parent
/// through /dev/fd; it failed now and then with ENOENT while procfs was a
/// snapshot. Twenty children in a row.
#[test]
fn dev_fd_in_forked_subshells() {
    assert_same(&Run::busybox(&[
        "sh",
        "-c",
        "f=/tmp/devfd.$$; echo hello >$f; exec 7<$f; i=0; \
         while [ $i -lt 20 ]; do (read x </dev/fd/7; echo $i $x); i=$((i+1)); done; \
         rm -f $f",
    ]));
}

/// nproc (sched_getaffinity) and /sys/devices/system/cpu/online agree, as
/// they do natively (stress-ng said "no CPUs found" without sysfs).
#[test]
fn nproc_matches_sys_cpu_online() {
    assert_same(&Run::busybox(&[
        "sh",
        "-c",
        "n=$(nproc); o=$(cat /sys/devices/system/cpu/online); \
         case $o in 0) c=1;; 0-*) c=$((${o#0-} + 1));; *) c=x;; esac; \
         [ \"$n\" = \"$c\" ] && echo agree; grep -c '^sysfs /sys sysfs' /proc/mounts",
    ]));
}
