//! End-to-end tests of file-backed memory (`filemap`): shared file mappings
//! coherent with read and write, write-back by msync, munmap and exit,
//! SIGBUS past the end of a file, shm_open and sem_open across fork,
//! MADV_DONTNEED, mincore, msync's errors and mremap of file mappings, each
//! run natively and under umbra and compared; a shared mapping written on an
//! ext2 image with `--rw` (the file's contents read back with debugfs,
//! `e2fsck -fn` clean); and 20 processes running one program sharing its
//! file pages (`filemap_share`, by umbra's MemFree), built static (the
//! program's own pages) and dynamic (libc's text).

#[path = "ext2_util.rs"]
#[expect(dead_code, reason = "the image helpers this file does not use")]
mod ext2_util;

use ext2_util::{assert_fsck_clean, busybox_tree, debugfs, mke2fs, rw, scratch};
use std::path::Path;
use std::process::Command;
use umbra_tests::initrd::busybox_root;
use umbra_tests::{
    busybox, guest_binary, require_tool, sections_same_as_native, target_dir, umbra_raw,
    workspace_root, Libc, Run,
};

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
    "merge",
    "madvise",
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

/// 20 processes, each a fresh execve of a dynamically linked program that
/// touches every page of its libraries' read-only segments (libc's text,
/// mapped by the dynamic linker with mmap), use far less than 20 times
/// their size: one copy of libc's text serves all. glibc (libc.so.6) and
/// musl (its dynamic linker is its libc), umbra only, as above.
#[test]
fn twenty_copies_of_a_dynamic_program_share_libc_text() {
    let dir = target_dir().join("guest/filemap-dyn");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let src = workspace_root().join("tests/guest/filemap_share.c");
    let mut rd = busybox_root(busybox()).expect("busybox root");
    let mut progs = Vec::new();
    for (name, cc, pkg) in [
        ("glibc", "gcc", "libc6-dev"),
        ("musl", "musl-gcc", "musl-tools"),
    ] {
        let cc = require_tool(cc, pkg);
        let out = dir.join(format!("filemap_share_{name}"));
        let tmp = dir.join(format!(".filemap_share_{name}.{}", std::process::id()));
        let r = Command::new(&cc)
            .args(["-O2", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("run cc");
        assert!(
            r.status.success(),
            "{}: {}",
            cc.display(),
            String::from_utf8_lossy(&r.stderr)
        );
        std::fs::rename(&tmp, &out).expect("rename");
        let mut libs: Vec<String> = umbra_tests::elf_interp(&out).into_iter().collect();
        if name == "glibc" {
            libs.extend(umbra_tests::ldd_libs(&out));
        }
        for l in libs {
            rd.copy(&l, Path::new(&l)).expect("copy library");
        }
        rd.copy(&out.display().to_string(), &out)
            .expect("copy program");
        progs.push((name, out));
    }
    let cpio = dir.join(format!("share.{}.cpio", std::process::id()));
    rd.write(&cpio).expect("write initrd");
    let cpio_s = cpio.display().to_string();
    for (name, prog) in progs {
        let prog = prog.display().to_string();
        let out = umbra_raw(&[
            "run",
            "--initrd",
            &cpio_s,
            "--quiet-unsupported",
            "--",
            &prog,
        ]);
        eprint!("{name}: {}", out.stderr_text());
        out.assert_code(0);
        assert_eq!(out.stdout_text(), "shared\n", "{}", out.describe());
        assert!(
            out.stderr_text().contains("library text"),
            "{}",
            out.describe()
        );
    }
    let _ = std::fs::remove_file(&cpio);
}

/// Reading a 48 MiB file through one mapping, dropping each 4 MiB chunk with
/// MADV_DONTNEED, in 32 MiB of guest memory: the page cache gives back the
/// pages nothing maps when frames run out, instead of an OOM kill. Under
/// umbra the file is on a host directory mounted read-write on /root (a
/// tmpfs in 32 MiB holds 16 MiB, as Linux's; natively it is in /tmp).
#[test]
fn page_cache_is_reclaimed_under_memory_pressure() {
    let d = scratch("filemap-reclaim");
    let mount = format!("{}:/root:rw", d.display());
    for libc in [Libc::Musl, Libc::Glibc] {
        umbra_tests::assert_same(
            &Run::guest(libc, "filemap")
                .args(&["reclaim"])
                .umbra_flag("--mem")
                .umbra_flag("32M")
                .umbra_flag("--mount")
                .umbra_flag(&mount)
                .umbra_flag("--env")
                .umbra_flag("FILEMAP_DIR=/root"),
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// A child's store through its shared mapping of a file on an ext2 image
/// (`--rw`) is written back when the child exits, though its parent keeps
/// the file mapped (and cached): umbra killed with SIGKILL afterwards, the
/// image holds the store.
#[test]
fn a_shared_store_is_written_back_at_exit_while_others_map_the_file() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let d = scratch("filemap-exitkill");
    let tree = d.join("tree");
    busybox_tree(&tree);
    std::fs::copy(guest_binary(Libc::Musl, "filemap"), tree.join("filemap")).expect("copy");
    let img = d.join("root.img");
    mke2fs(&tree, &img, 1024, "8M");
    let mut child = Command::new(umbra_tests::umbra())
        .args(["run", "--rw", "--image"])
        .arg(&img)
        .args([
            "--",
            "/bin/busybox",
            "env",
            "FILEMAP_DIR=/data",
            "/filemap",
            "exitkill",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn umbra");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line, "ready store\n");
    child.kill().expect("kill");
    let _ = child.wait();
    let got = debugfs(&img, "cat /data/exited.txt");
    assert!(
        got.starts_with(b"stored by the child\n"),
        "the image's /data/exited.txt starts {:?}",
        String::from_utf8_lossy(&got[..got.len().min(20)])
    );
    let _ = std::fs::remove_dir_all(&d);
}
