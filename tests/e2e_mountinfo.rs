//! /proc/PID/mountinfo and /proc/PID/mounts (issue 15): `mountinfo`
//! checks every line's shape and its agreement with /proc/self/mounts, then
//! the fields of mounts it makes (tmpfs with mode, uid and gid and a
//! source, proc with noexec, a mount point with a space), statx's and
//! fdinfo's mount ids, a child's table and umount, natively (in a mount
//! namespace of its own) and under umbra, with both C libraries.

use umbra_tests::{assert_same, Libc, Run};

#[test]
fn mountinfo_musl() {
    assert_same(&Run::guest(Libc::Musl, "mountinfo").args(&["format", "own"]));
}

#[test]
fn mountinfo_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "mountinfo").args(&["format", "own"]));
}
