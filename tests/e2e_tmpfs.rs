//! tmpfs's size: `tmpfs_limit own` mounts tmpfs instances with size=,
//! nr_blocks= and nr_inodes= and fills them to ENOSPC, compared with a
//! native run (in a mount namespace of its own); `tmpfs_limit fill` fills
//! /tmp and three more default mounts at --mem 8M under umbra: each stops
//! at its statfs size (half of the memory), all together within the
//! memory, and /tmp takes data again after the files go. tmpfs data lives
//! in umbra's heap, outside the guest memory --mem bounds.

use umbra_tests::{assert_same, Libc, Run};

#[test]
fn sizes_as_native_musl() {
    assert_same(&Run::guest(Libc::Musl, "tmpfs_limit").args(&["own"]));
}

#[test]
fn sizes_as_native_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "tmpfs_limit").args(&["own"]));
}

#[test]
fn filling_every_tmpfs_stops_within_the_guest_memory() {
    let out = Run::guest(Libc::Musl, "tmpfs_limit")
        .args(&["fill"])
        .umbra_flag("--mem")
        .umbra_flag("8M")
        .umbra();
    let text = out.stdout_text();
    out.assert_code(0);
    // /tmp: half of 8 MiB, less what the boot put there.
    assert!(text.contains("/tmp: wrote 4096 KiB"), "{text}");
    assert!(text.contains("within"), "{text}");
    assert!(text.contains("/tmp again: 4096 KiB, then ENOSPC"), "{text}");
}
