//! Helpers for the ext2 end-to-end tests: busybox root trees, images made by
//! the real `mke2fs -d`, `e2fsck -fn` and `debugfs -R`, and runs of
//! `umbra run --image`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use umbra_tests::{busybox, require_tool, target_dir, umbra_raw, Outcome};

/// A fresh scratch directory under `target/e2e-ext2/`.
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let d = target_dir().join("e2e-ext2").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

/// A busybox root at `dir`: /bin/busybox, /bin/sh → busybox, /etc, /tmp, /dev.
pub fn busybox_tree(dir: &Path) {
    for d in ["bin", "etc", "tmp", "dev", "data"] {
        std::fs::create_dir_all(dir.join(d)).expect("mkdir");
    }
    std::fs::copy(busybox(), dir.join("bin/busybox")).expect("copy busybox");
    std::os::unix::fs::symlink("busybox", dir.join("bin/sh")).expect("symlink sh");
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").expect("passwd");
    std::fs::write(dir.join("data/hello.txt"), "hello, ext2\n").expect("hello");
}

/// `mke2fs -t ext2 -b BS -d DIR IMG SIZE`.
pub fn mke2fs(dir: &Path, img: &Path, bs: u32, size: &str) {
    let mke2fs = require_tool("mke2fs", "e2fsprogs");
    let out = Command::new(mke2fs)
        .args(["-q", "-F", "-t", "ext2", "-b", &bs.to_string(), "-d"])
        .arg(dir)
        .arg(img)
        .arg(size)
        .output()
        .expect("run mke2fs");
    assert!(
        out.status.success(),
        "mke2fs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A busybox image with `bs`-byte blocks in a fresh scratch dir.
pub fn busybox_image(name: &str, bs: u32, size: &str) -> PathBuf {
    let d = scratch(name);
    let tree = d.join("tree");
    busybox_tree(&tree);
    let img = d.join("root.img");
    mke2fs(&tree, &img, bs, size);
    img
}

/// Panics with e2fsck's report unless `e2fsck -fn IMG` finds nothing.
pub fn assert_fsck_clean(img: &Path) {
    let e2fsck = require_tool("e2fsck", "e2fsprogs");
    let out = Command::new(e2fsck)
        .arg("-fn")
        .arg(img)
        .output()
        .expect("run e2fsck");
    assert!(
        out.status.success(),
        "e2fsck -fn {} found problems:\n{}{}",
        img.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `debugfs -R CMD IMG`'s stdout.
pub fn debugfs(img: &Path, cmd: &str) -> Vec<u8> {
    let debugfs = require_tool("debugfs", "e2fsprogs");
    let out = Command::new(debugfs)
        .arg("-R")
        .arg(cmd)
        .arg(img)
        .output()
        .expect("run debugfs");
    out.stdout
}

/// `umbra run [FLAGS] --image IMG -- ARGS...`.
pub fn run_image(img: &Path, flags: &[&str], args: &[&str]) -> Outcome {
    let img = img.display().to_string();
    let mut a = vec!["run", "--image", img.as_str()];
    a.extend_from_slice(flags);
    a.push("--");
    a.extend_from_slice(args);
    umbra_raw(&a)
}

/// Like [`run_image`] with `--rw`, asserting exit status 0.
pub fn rw(img: &Path, args: &[&str]) -> Outcome {
    let out = run_image(img, &["--rw"], args);
    out.assert_code(0);
    out
}

/// A content hash (FNV-1a, 64 bits) for before/after comparisons.
pub fn hash_file(p: &Path) -> u64 {
    let bytes = std::fs::read(p).expect("read image");
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
