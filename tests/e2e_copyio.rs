//! End-to-end tests of read and write with one copy (issue 13): the
//! `copyio` program of `tests/guest/` (musl and glibc builds), run natively
//! and under umbra and compared (see `umbra_tests::assert_same`): reads and
//! writes over buffers that end part-way, pipe readv and writev as one
//! call, RLIMIT_FSIZE over a whole writev, and a page mapped twice in one
//! readv. Its files live in the guest's /data: a tmpfs, and /data of an
//! ext2 image (overlay mode and `--rw`), whose blocks umbra reads into and
//! writes from guest memory directly.

use umbra_tests::{sections_same_as_native, Libc, Run};

/// The sections of `copyio.c`.
const COPYIO: &[&str] = &[
    "partial_read",
    "partial_write",
    "pipe_vectored",
    "writev_fsize",
    "shared_twice",
    "own_mapping",
];

sections_same_as_native! {
    copyio_musl: Musl "copyio" COPYIO;
    copyio_glibc: Glibc "copyio" COPYIO;
}

#[path = "ext2_util.rs"]
#[expect(dead_code, reason = "the image helpers this file does not use")]
mod ext2_util;

/// `copyio` in /data of an ext2 image, on the overlay (the default) and
/// with `--rw`, prints what it prints natively.
#[test]
fn copyio_on_ext2_same_as_native() {
    use ext2_util::{busybox_tree, mke2fs, run_image, scratch};
    for libc in Libc::ALL {
        let native = Run::guest(libc, "copyio").args(COPYIO).native();
        native.assert_code(0);
        for (mode, flags) in [
            ("overlay", &["--cwd", "/data"][..]),
            ("rw", &["--rw", "--cwd", "/data"][..]),
        ] {
            let d = scratch(&format!("copyio-{}-{mode}", libc.name()));
            let tree = d.join("tree");
            busybox_tree(&tree);
            std::fs::copy(
                umbra_tests::guest_binary(libc, "copyio"),
                tree.join("bin/copyio"),
            )
            .expect("copy copyio");
            let img = d.join("root.img");
            mke2fs(&tree, &img, 1024, "16M");
            let mut args = vec!["/bin/copyio"];
            args.extend_from_slice(COPYIO);
            let out = run_image(&img, flags, &args);
            out.assert_code(0);
            assert_eq!(
                out.stdout_text(),
                native.stdout_text(),
                "{mode}: {}",
                out.describe()
            );
        }
    }
}
