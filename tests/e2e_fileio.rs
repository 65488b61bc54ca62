//! End-to-end tests of file locks and the file I/O calls: the `locks` and
//! `fileio` programs of `tests/guest/` (musl and glibc builds), run natively and under
//! umbra and compared (stdout, stderr, exit status, and no umbra process
//! left behind; see `umbra_tests::assert_same`). Their files live in the
//! guest's /data, a tmpfs; `locks` also runs in /data of an ext2 image.

use umbra_tests::{sections_same_as_native, Libc, Run};

/// The sections of `locks.c`.
const LOCKS: &[&str] = &[
    "getlk",
    "split",
    "errors",
    "setlkw",
    "eintr",
    "deadlock",
    "close",
    "exit",
    "ofd",
    "flock",
    "flock_wait",
];

/// The sections of `fileio.c`.
const FILEIO: &[&str] = &[
    "fcntl_flags",
    "sockets",
    "offsets",
    "readv_fault",
    "fsize",
    "preadv",
    "getdents",
    "fallocate",
    "sendfile",
    "copy_file_range",
    "memfd",
    "sigio",
];

sections_same_as_native! {
    locks_musl: Musl "locks" LOCKS;
    locks_glibc: Glibc "locks" LOCKS;
    fileio_musl: Musl "fileio" FILEIO;
    fileio_glibc: Glibc "fileio" FILEIO;
}

#[path = "ext2_util.rs"]
#[expect(dead_code, reason = "the image helpers this file does not use")]
mod ext2_util;

/// The locks live on the inode whatever the filesystem: `locks` in /data of
/// an ext2 image (overlay mode) prints what it prints natively.
#[test]
fn locks_on_ext2_same_as_native() {
    use ext2_util::{busybox_tree, mke2fs, run_image, scratch};
    for libc in Libc::ALL {
        let native = Run::guest(libc, "locks").args(LOCKS).native();
        native.assert_code(0);
        let d = scratch(&format!("locks-{}", libc.name()));
        let tree = d.join("tree");
        busybox_tree(&tree);
        std::fs::copy(
            umbra_tests::guest_binary(libc, "locks"),
            tree.join("bin/locks"),
        )
        .expect("copy locks");
        let img = d.join("root.img");
        mke2fs(&tree, &img, 4096, "16M");
        let mut args = vec!["/bin/locks"];
        args.extend_from_slice(LOCKS);
        let out = run_image(&img, &["--cwd", "/data"], &args);
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            native.stdout_text(),
            "{}",
            out.describe()
        );
    }
}
