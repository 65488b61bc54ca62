//! End-to-end tests of path names and the VFS (issue 10): the `paths` program
//! of `tests/guest/` (open's O_TRUNC, O_CREAT-through-symlink and directory
//! rules, O_PATH descriptors, FIFOs, non-UTF-8 names, utime/utimes), run
//! natively and under umbra with both C libraries and compared; busybox's
//! `mkfifo`; and the boot-time mounts, which must never hide what the root
//! archive or image holds.

#[allow(dead_code)]
#[path = "ext2_util.rs"]
mod ext2_util;

use ext2_util::{busybox_tree, mke2fs, run_image, scratch};
use umbra_tests::{assert_same, busybox, initrd, umbra_raw, Libc, Run};

/// Runs sections of `paths` natively and under umbra and compares.
fn paths_same(libc: Libc, sections: &[&str]) {
    assert_same(&Run::guest(libc, "paths").args(sections));
}

macro_rules! paths_tests {
    ($($test:ident: $sections:expr;)*) => {$(
        #[test]
        fn $test() {
            for libc in Libc::ALL {
                paths_same(libc, $sections);
            }
        }
    )*};
}

paths_tests! {
    open_trunc_creat_through_symlinks_and_directories: &["open"];
    o_path_descriptors_refuse_file_calls: &["opath"];
}

/// The files a root archive or image puts in /tmp and /run stay visible: no
/// tmpfs is mounted over a directory that holds something.
#[test]
fn boot_mounts_never_hide_the_roots_files() {
    let d = scratch("paths-hide");
    let mut rd = initrd::busybox_root(busybox()).expect("busybox root");
    rd.file("tmp/keep", 0o644, "kept in /tmp\n")
        .file("run/keep", 0o644, "kept in /run\n");
    let cpio = d.join("root.cpio");
    rd.write(&cpio).expect("write initrd");
    let cpio = cpio.display().to_string();
    let script = "cat /tmp/keep /run/keep; grep -c ' /tmp \\| /run ' /proc/mounts; \
                  grep -c ' /dev/shm ' /proc/mounts";
    let out = umbra_raw(&["run", "--initrd", &cpio, "--", "/bin/sh", "-c", script]);
    out.assert_code(0);
    assert_eq!(
        out.stdout_text(),
        "kept in /tmp\nkept in /run\n0\n1\n",
        "{}",
        out.describe()
    );
    // An ext2 root: /tmp holds a file (kept, no tmpfs), /run is empty (a
    // tmpfs goes there, hiding nothing).
    let tree = d.join("tree");
    busybox_tree(&tree);
    std::fs::write(tree.join("tmp/keep"), "kept on the image\n").unwrap();
    std::fs::create_dir_all(tree.join("run")).unwrap();
    let img = d.join("root.img");
    mke2fs(&tree, &img, 4096, "16M");
    let out = run_image(
        &img,
        &[],
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "cat /tmp/keep; grep -c ' /tmp ' /proc/mounts; grep -c ' /run ' /proc/mounts",
        ],
    );
    assert_eq!(
        out.stdout_text(),
        "kept on the image\n0\n1\n",
        "{}",
        out.describe()
    );
    let _ = std::fs::remove_dir_all(&d);
}
