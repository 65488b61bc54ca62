//! End-to-end tests of file-backed memory (`filemap`): shared file mappings
//! coherent with read and write, write-back by msync, munmap and exit,
//! SIGBUS past the end of a file, shm_open and sem_open across fork,
//! MADV_DONTNEED, mincore, msync's errors and mremap of file mappings, each
//! run natively and under umbra and compared; a shared mapping written on an
//! ext2 image with `--rw` (the file's contents read back with debugfs,
//! `e2fsck -fn` clean); and 20 processes running one program sharing its
//! file pages (`filemap_share`, by umbra's MemFree).

#[path = "ext2_util.rs"]
#[expect(dead_code, reason = "the image helpers this file does not use")]
mod ext2_util;

use ext2_util::{assert_fsck_clean, busybox_tree, debugfs, mke2fs, rw, scratch};
use umbra_tests::{guest_binary, sections_same_as_native, Libc, Run};

const SECTIONS: &[&str] = &[
    "shared_rw",
    "msync",
    "fork",
    "sigbus",
    "shm",
    "dontneed",
    "mincore",
    "msync_errors",
    "mremap",
    "errors",
];

sections_same_as_native! {
    filemap_musl: Musl "filemap" SECTIONS;
    filemap_glibc: Glibc "filemap" SECTIONS;
}

/// A file written only through a MAP_SHARED mapping (no msync, no munmap)
/// on an ext2 image opened with `--rw`: exit writes it back, and after
/// umbra exits the image holds it and passes `e2fsck -fn`.
#[test]
fn shared_mapping_on_ext2_is_written_back_at_exit() {
    for libc in [Libc::Musl, Libc::Glibc] {
        let d = scratch(&format!("filemap-{}", libc.name()));
        let tree = d.join("tree");
        busybox_tree(&tree);
        std::fs::copy(guest_binary(libc, "filemap"), tree.join("filemap")).expect("copy filemap");
        let img = d.join("root.img");
        mke2fs(&tree, &img, 1024, "8M");
        let out = rw(
            &img,
            &[
                "/bin/busybox",
                "env",
                "FILEMAP_DIR=/data",
                "/filemap",
                "keep",
            ],
        );
        assert_eq!(out.stdout_text(), "keep: done\n");
        let got = debugfs(&img, "cat /data/kept.txt");
        let mut want: Vec<u8> = (0..2 * 4096 + 100).map(|i| b'a' + (i % 23) as u8).collect();
        want[..9].copy_from_slice(b"page one\n");
        want[4096..4096 + 9].copy_from_slice(b"page two\n");
        want[2 * 4096 + 90..2 * 4096 + 95].copy_from_slice(b"tail\n");
        assert!(
            got == want,
            "the image's /data/kept.txt differs from what was stored"
        );
        assert_fsck_clean(&img);
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// 20 processes, each a fresh execve of a program with 2 MiB of read-only
/// data that each touches in full, use far less than 20 × 2 MiB of guest
/// memory (MemFree in /proc/meminfo): the page cache maps one copy into
/// all. umbra only: the host's MemFree moves with everything else running.
#[test]
fn twenty_copies_of_a_program_share_its_file_pages() {
    for libc in [Libc::Musl, Libc::Glibc] {
        let out = Run::guest(libc, "filemap_share").umbra();
        eprint!("{}: {}", libc.name(), out.stderr_text());
        out.assert_code(0);
        assert_eq!(out.stdout_text(), "shared\n", "{}", out.describe());
    }
}
