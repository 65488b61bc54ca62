//! End-to-end tests of ext2 images: the real `umbra` binary boots busybox from
//! images made by the real `mke2fs -d` (1 KiB and 4 KiB blocks) and by
//! `umbra image create`, writes to them with `--rw` (then `e2fsck -fn` must be
//! clean and `debugfs` must see the files), leaves them byte-identical in the
//! default overlay mode, keeps fsync'ed data across `kill -9`, and refuses
//! malformed images with one line and exit status 2.
//!
//! The guest cannot fork yet, so each umbra run is one applet (or a shell
//! script of builtins).

#[path = "ext2_util.rs"]
mod ext2_util;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use ext2_util::*;
use umbra_tests::{busybox, require_tool, umbra, umbra_raw, Status};

#[test]
fn boots_busybox_from_mke2fs_images() {
    for bs in [1024, 4096] {
        let img = busybox_image(&format!("boot{bs}"), bs, "16M");
        let before = hash_file(&img);
        let out = run_image(
            &img,
            &[],
            &[
                "/bin/sh",
                "-c",
                "echo booted; cd /data; pwd; read l < hello.txt; echo $l",
            ],
        );
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            "booted\n/data\nhello, ext2\n",
            "{}",
            out.describe()
        );
        let out = run_image(&img, &[], &["/bin/busybox", "ls", "/bin", "/data"]);
        out.assert_code(0);
        assert!(out.stdout_text().contains("busybox"), "{}", out.describe());
        let out = run_image(&img, &[], &["/bin/busybox", "md5sum", "/bin/busybox"]);
        out.assert_code(0);
        let native = Command::new(busybox())
            .args(["md5sum"])
            .arg(busybox())
            .output()
            .expect("native md5sum");
        let sum = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
        assert_eq!(
            sum(&out.stdout_text()),
            sum(&String::from_utf8_lossy(&native.stdout))
        );
        assert_eq!(
            hash_file(&img),
            before,
            "a read-only boot changed the image"
        );
        assert_fsck_clean(&img);
    }
}

#[test]
fn rw_workload_is_clean_and_visible_to_debugfs() {
    for bs in [1024, 4096] {
        let d = scratch(&format!("rw{bs}"));
        let tree = d.join("tree");
        busybox_tree(&tree);
        // Thousands of files, unpacked by the guest's tar in one run.
        let many = d.join("many");
        for i in 0..20 {
            let sub = many.join(format!("d{i}"));
            std::fs::create_dir_all(&sub).unwrap();
            for j in 0..100 {
                std::fs::write(
                    sub.join(format!("file-{j}")),
                    format!("{i}/{j}\n").repeat(j + 1),
                )
                .unwrap();
            }
        }
        let tar = require_tool("tar", "tar");
        let st = Command::new(tar)
            .arg("cf")
            .arg(tree.join("data/many.tar"))
            .arg("-C")
            .arg(&d)
            .arg("many")
            .status()
            .unwrap();
        assert!(st.success());
        let img = d.join("root.img");
        mke2fs(&tree, &img, bs, "96M");

        rw(&img, &["/bin/busybox", "mkdir", "-p", "/a/b/c", "/x"]);
        rw(&img, &["/bin/busybox", "cp", "/bin/busybox", "/a/b/bb"]);
        rw(&img, &["/bin/busybox", "mv", "/a/b/bb", "/a/bb2"]);
        rw(&img, &["/bin/busybox", "ln", "-s", "/a/bb2", "/a/link"]);
        rw(&img, &["/bin/busybox", "ln", "/a/bb2", "/a/hard"]);
        rw(
            &img,
            &[
                "/bin/busybox",
                "dd",
                "if=/dev/zero",
                "of=/big",
                "bs=1M",
                "count=20",
                "seek=100",
            ],
        );
        rw(
            &img,
            &[
                "/bin/sh",
                "-c",
                "echo one >> /data/log; echo two >> /data/log",
            ],
        );
        rw(
            &img,
            &["/bin/busybox", "tar", "xf", "/data/many.tar", "-C", "/x"],
        );
        rw(&img, &["/bin/busybox", "mv", "/x/many", "/x/renamed"]);
        rw(
            &img,
            &["/bin/busybox", "mv", "/x/renamed/d3", "/a/b/c/moved-dir"],
        );
        rw(
            &img,
            &[
                "/bin/busybox",
                "rm",
                "-r",
                "/x/renamed/d1",
                "/x/renamed/d2",
                "/a/b/c",
            ],
        );
        rw(
            &img,
            &["/bin/busybox", "mv", "/data/hello.txt", "/data/log"],
        );
        rw(&img, &["/bin/busybox", "chmod", "600", "/a/hard"]);
        rw(
            &img,
            &[
                "/bin/busybox",
                "touch",
                "-d",
                "2001-02-03 04:05:06",
                "/a/bb2",
            ],
        );
        let ls = rw(&img, &["/bin/busybox", "ls", "-laR", "/x", "/a", "/data"]);
        assert!(ls.stdout_text().contains("file-99"), "{}", ls.describe());

        assert_fsck_clean(&img);
        let bb = std::fs::read(busybox()).unwrap();
        assert!(
            debugfs(&img, "cat /a/bb2") == bb,
            "debugfs sees a different /a/bb2"
        );
        assert_eq!(debugfs(&img, "cat /data/log"), b"hello, ext2\n");
        assert_eq!(
            debugfs(&img, "cat /x/renamed/d7/file-3"),
            "7/3\n".repeat(4).as_bytes()
        );
        assert!(debugfs(&img, "cat /x/renamed/d1/file-1").is_empty());
        let stat = String::from_utf8_lossy(&debugfs(&img, "stat /big")).into_owned();
        assert!(stat.contains(&format!("Size: {}", 120u64 << 20)), "{stat}");
        let stat = String::from_utf8_lossy(&debugfs(&img, "stat /a/hard")).into_owned();
        assert!(
            stat.contains("Links: 2") && stat.contains("Mode:  0600"),
            "{stat}"
        );
        // A second run sees it all, read-only (overlay).
        let out = run_image(
            &img,
            &[],
            &[
                "/bin/busybox",
                "md5sum",
                "/a/link",
                "/a/b/c/moved-dir/file-0",
            ],
        );
        assert_eq!(
            out.status,
            Status::Exited(1),
            "moved-dir went with /a/b/c: {}",
            out.describe()
        );
        let out = run_image(&img, &[], &["/bin/busybox", "cat", "/x/renamed/d3/file-0"]);
        assert_eq!(out.status, Status::Exited(1), "{}", out.describe());
        let out = run_image(&img, &[], &["/bin/busybox", "readlink", "/a/link"]);
        assert_eq!(out.stdout_text(), "/a/bb2\n");
        // Delete the big things and check again.
        rw(&img, &["/bin/busybox", "rm", "-r", "/x", "/big", "/a"]);
        assert_fsck_clean(&img);
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn overlay_mode_leaves_the_image_byte_identical() {
    let img = busybox_image("overlay", 1024, "8M");
    let before = hash_file(&img);
    let out = run_image(
        &img,
        &[],
        &[
            "/bin/sh",
            "-c",
            "echo written > /data/new; read l < /data/new; echo got $l; echo more >> /data/hello.txt",
        ],
    );
    out.assert_code(0);
    assert_eq!(out.stdout_text(), "got written\n");
    let out = run_image(&img, &[], &["/bin/busybox", "rm", "-r", "/bin", "/data"]);
    out.assert_code(0);
    assert_eq!(hash_file(&img), before, "overlay mode modified the image");
    let out = run_image(&img, &[], &["/bin/busybox", "cat", "/data/hello.txt"]);
    assert_eq!(out.stdout_text(), "hello, ext2\n");
}

#[test]
fn fsynced_file_survives_kill_9() {
    let d = scratch("fsync");
    let tree = d.join("tree");
    busybox_tree(&tree);
    let cc = require_tool("musl-gcc", "musl-tools");
    let src = umbra_tests::workspace_root().join("tests/guest/fsync_kill.c");
    let st = Command::new(cc)
        .args(["-static", "-O2", "-o"])
        .arg(tree.join("fsync_kill"))
        .arg(src)
        .status()
        .unwrap();
    assert!(st.success(), "musl-gcc fsync_kill.c failed");
    let img = d.join("root.img");
    mke2fs(&tree, &img, 1024, "8M");
    let mut child = Command::new(umbra())
        .args(["run", "--rw", "--image"])
        .arg(&img)
        .args(["--", "/fsync_kill"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "synced\n");
    child.kill().unwrap();
    let st = child.wait().unwrap();
    assert!(!st.success());
    assert_eq!(debugfs(&img, "cat /synced.txt"), b"this survived kill -9\n");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn malformed_images_exit_2_with_one_line() {
    let good = busybox_image("bad", 1024, "4M");
    let bytes = std::fs::read(&good).unwrap();
    let dir = good.parent().unwrap().to_path_buf();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut b = bytes.clone();
    b[1024 + 56] = 0x12;
    cases.push(("magic.img", b, "magic"));
    let mut b = bytes.clone();
    b[1024 + 40..1024 + 44].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    cases.push(("counts.img", b, "inodes per group"));
    cases.push((
        "truncated.img",
        bytes[..bytes.len() / 2].to_vec(),
        "truncated",
    ));
    cases.push(("tiny.img", bytes[..100].to_vec(), "too small"));
    let mut b = bytes.clone();
    b[1024 + 96] |= 0x40;
    cases.push(("ext4.img", b, "incompatible features"));
    for (name, data, why) in cases {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        let out = run_image(&p, &[], &["/bin/sh", "-c", "echo no"]);
        out.assert_code(2);
        let err = out.stderr_text();
        assert_eq!(err.lines().count(), 1, "{}", out.describe());
        assert!(
            err.starts_with(&format!("umbra: {}: ", p.display())) && err.contains(why),
            "{}",
            out.describe()
        );
        assert!(!err.contains("panic"));
        let chk = umbra_raw(&["image", "check", &p.display().to_string()]);
        chk.assert_code(1);
        assert!(chk.stdout_text().contains(why), "{}", chk.describe());
    }
    let out = run_image(&dir.join("missing.img"), &[], &["/bin/sh"]);
    out.assert_code(2);
}

#[test]
fn image_create_passes_e2fsck_checks_and_boots() {
    for bs in ["1024", "4096"] {
        let d = scratch(&format!("create{bs}"));
        let tree = d.join("tree");
        busybox_tree(&tree);
        std::fs::write(tree.join("data/secret"), "s\n").unwrap();
        std::fs::set_permissions(
            tree.join("data/secret"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        std::fs::hard_link(tree.join("data/hello.txt"), tree.join("data/hello2")).unwrap();
        std::os::unix::fs::symlink("x".repeat(90), tree.join("data/long-link")).unwrap();
        std::fs::write(tree.join("data/sparse"), b"").unwrap();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(tree.join("data/sparse"))
            .unwrap();
        f.set_len(50 << 20).unwrap();
        drop(f);
        let fifo = Command::new("mkfifo").arg(tree.join("data/fifo")).status();
        let img = d.join("made.img");
        let img_s = img.display().to_string();
        let out = umbra_raw(&[
            "image",
            "create",
            &tree.display().to_string(),
            "-o",
            &img_s,
            "--block-size",
            bs,
        ]);
        out.assert_code(0);
        if fifo.is_ok_and(|s| s.success()) {
            assert!(
                out.stderr_text().contains("skipping fifo"),
                "{}",
                out.describe()
            );
        }
        assert_fsck_clean(&img);
        let chk = umbra_raw(&["image", "check", &img_s]);
        chk.assert_code(0);
        assert!(
            chk.stdout_text()
                .starts_with(&format!("ok: ext2 rev 1, block size {bs}, ")),
            "{}",
            chk.describe()
        );
        let stat = String::from_utf8_lossy(&debugfs(&img, "stat /data/hello2")).into_owned();
        assert!(stat.contains("Links: 2"), "{stat}");
        let stat = String::from_utf8_lossy(&debugfs(&img, "stat /data/secret")).into_owned();
        assert!(stat.contains("Mode:  0600"), "{stat}");
        assert!(
            std::fs::metadata(&img).unwrap().len() < 20 << 20,
            "holes were not kept"
        );
        let out = run_image(
            &img,
            &[],
            &["/bin/sh", "-c", "read l < /data/hello2; echo $l"],
        );
        out.assert_code(0);
        assert_eq!(out.stdout_text(), "hello, ext2\n");
        let out = run_image(&img, &[], &["/bin/busybox", "readlink", "/data/long-link"]);
        assert_eq!(out.stdout_text(), format!("{}\n", "x".repeat(90)));
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn extra_images_mount_writable_or_read_only() {
    let root = busybox_image("mount-root", 1024, "8M");
    let d = scratch("mount-extra");
    let tree = d.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("extra.txt"), "from the second image\n").unwrap();
    let extra = d.join("extra.img");
    mke2fs(&tree, &extra, 4096, "4M");
    let spec_ro = format!("{}:/data:ro", extra.display());
    let out = run_image(
        &root,
        &["--mount", &spec_ro],
        &["/bin/busybox", "cat", "/data/extra.txt"],
    );
    out.assert_code(0);
    assert_eq!(out.stdout_text(), "from the second image\n");
    let out = run_image(
        &root,
        &["--mount", &spec_ro],
        &["/bin/busybox", "touch", "/data/new"],
    );
    assert_ne!(out.status, Status::Exited(0), "{}", out.describe());
    // /proc/mounts tells the read-only mount from the writable root.
    let out = run_image(
        &root,
        &["--mount", &spec_ro],
        &["/bin/busybox", "cat", "/proc/mounts"],
    );
    out.assert_code(0);
    let mounts = out.stdout_text();
    let line = |p: &str| {
        mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(p))
            .unwrap_or_else(|| panic!("no {p} in /proc/mounts:\n{mounts}"))
            .to_string()
    };
    assert!(line("/data").contains(" ext2 ro,"), "{mounts}");
    assert!(line("/").contains(" rw,"), "{mounts}");
    let spec = format!("{}:/data", extra.display());
    let out = run_image(
        &root,
        &["--rw", "--mount", &spec],
        &["/bin/busybox", "cp", "/bin/busybox", "/data/bb"],
    );
    out.assert_code(0);
    assert_fsck_clean(&extra);
    assert_eq!(
        debugfs(&extra, "cat /bb"),
        std::fs::read(busybox()).unwrap()
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// `stat -f` fields: type, block size, blocks, free, available, inodes, free
/// inodes, fsid, name length.
const STATFS_FMT: &str = "%t %S %b %f %a %c %d %i %l";

/// The `Name: value` lines of `dumpe2fs -h IMG`.
fn dumpe2fs_head(img: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let dumpe2fs = require_tool("dumpe2fs", "e2fsprogs");
    let out = Command::new(dumpe2fs)
        .arg("-h")
        .arg(img)
        .output()
        .expect("run dumpe2fs");
    assert!(out.status.success(), "dumpe2fs -h failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The host's own `stat -f` of the image mounted read-only on a loop device,
/// `None` when this host cannot mount it (not root, no loop devices).
fn linux_statfs(img: &std::path::Path, dir: &std::path::Path) -> Option<String> {
    std::fs::create_dir_all(dir).ok()?;
    let mounted = Command::new("mount")
        .args(["-o", "loop,ro"])
        .arg(img)
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success();
    if !mounted {
        return None;
    }
    let out = Command::new(busybox())
        .args(["stat", "-f", "-c", STATFS_FMT])
        .arg(dir)
        .output();
    let _ = Command::new("umount").arg(dir).status();
    Some(String::from_utf8_lossy(&out.ok()?.stdout).into_owned())
}

#[test]
fn statfs_reports_the_images_figures() {
    for bs in [1024u32, 4096] {
        let d = scratch(&format!("statfs{bs}"));
        let tree = d.join("tree");
        busybox_tree(&tree);
        // With /proc and /run present, umbra's boot changes nothing on the image.
        for dir in ["proc", "run"] {
            std::fs::create_dir_all(tree.join(dir)).unwrap();
        }
        let img = d.join("root.img");
        mke2fs(&tree, &img, bs, "32M");
        let out = run_image(
            &img,
            &[],
            &["/bin/busybox", "stat", "-f", "-c", STATFS_FMT, "/"],
        );
        out.assert_code(0);
        let line = out.stdout_text();
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 9, "{}", out.describe());
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        let h = dumpe2fs_head(&img);
        let num = |k: &str| h[k].parse::<u64>().unwrap();
        assert_eq!(f[0], "ef53");
        assert_eq!(n(1), num("Block size"));
        assert!(n(2) < num("Block count") && n(2) > num("Block count") * 9 / 10);
        assert_eq!(n(3), num("Free blocks"));
        assert_eq!(n(4), num("Free blocks") - num("Reserved block count"));
        assert_eq!(n(5), num("Inode count"));
        assert_eq!(n(6), num("Free inodes"));
        assert_eq!(f[8], "255");
        // f_fsid as Linux makes it: the UUID's little-endian halves xor'ed,
        // printed val[0] then val[1].
        let hex: String = h["Filesystem UUID"].replace('-', "");
        let byte = |i: usize| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        let le = |at: usize| u64::from_le_bytes(std::array::from_fn(|i| byte(at + i)));
        let id = le(0) ^ le(8);
        assert_eq!(f[7], format!("{:x}{:08x}", id as u32, (id >> 32) as u32));
        // Linux's own figures for the same image, when this host can mount it.
        match linux_statfs(&img, &d.join("mnt")) {
            Some(native) => assert_eq!(line, native, "umbra vs Linux statfs"),
            None => eprintln!(
                "cannot loop-mount {}: skipping Linux's figures",
                img.display()
            ),
        }
        // The other filesystems keep their own magic numbers.
        let out = run_image(
            &img,
            &[],
            &[
                "/bin/busybox",
                "stat",
                "-f",
                "-c",
                "%t",
                "/proc",
                "/tmp",
                "/dev",
            ],
        );
        out.assert_code(0);
        assert_eq!(out.stdout_text(), "9fa0\n1021994\n1021994\n");
        // A 5 MiB file takes its blocks (data and indirect, as st_blocks counts
        // them) and an inode, seen in the same session and on the image after.
        let out = rw(
            &img,
            &[
                "/bin/sh",
                "-c",
                "/bin/busybox dd if=/dev/zero of=/data/big bs=1M count=5 2>/dev/null; \
                 /bin/busybox stat -c %b /data/big; \
                 /bin/busybox stat -f -c '%f %a %d' /",
            ],
        );
        let v: Vec<u64> = out
            .stdout_text()
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        assert_eq!(v.len(), 4, "{}", out.describe());
        let used = v[0] * 512 / u64::from(bs);
        assert!(used >= (5 << 20) / u64::from(bs), "{}", out.describe());
        assert_eq!(v[1], n(3) - used, "{}", out.describe());
        assert_eq!(v[2], n(4) - used);
        assert_eq!(v[3], n(6) - 1);
        let h = dumpe2fs_head(&img);
        assert_eq!(h["Free blocks"].parse::<u64>().unwrap(), v[1]);
        assert_fsck_clean(&img);
        let _ = std::fs::remove_dir_all(&d);
    }
}
