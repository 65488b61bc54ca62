//! Tests on images made by the real `mke2fs -d` (generated at test time) and by
//! [`format`]; every written image must pass `e2fsck -fn`. A randomized test
//! mounts thousands of mutated images and checks that nothing panics.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::fs::blockdev::{MemDevice, OverlayDevice};
use crate::fs::vfs::{FileType, NewNode, SetAttr};
use umbra_abi::structs::Timespec;

fn ts(s: i64) -> Timespec {
    Timespec {
        tv_sec: s,
        tv_nsec: 0,
    }
}

const NOW: i64 = 1_700_000_000;

fn node(kind: FileType, perm: u32) -> NewNode {
    NewNode {
        kind,
        perm,
        uid: 1000,
        gid: 100,
        rdev: 0,
        now: ts(NOW),
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(std::format!("umbra-ext2-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tool(name: &str) -> &'static str {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = std::format!("{dir}/{name}");
        if Path::new(&p).exists() {
            return std::boxed::Box::leak(p.into_boxed_str());
        }
    }
    panic!("`{name}` not found: install e2fsprogs (these tests need the real mke2fs and e2fsck)");
}

/// Deterministic file contents.
fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The host tree mke2fs copies: (path, contents or None for a directory).
fn host_tree(root: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut v: Vec<(String, Option<Vec<u8>>)> = vec![
        ("empty".into(), Some(vec![])),
        ("small".into(), Some(b"hello, ext2\n".to_vec())),
        ("five_k".into(), Some(pattern(1, 5000))),
        ("big".into(), Some(pattern(2, 300_000))),
        ("d".into(), None),
        ("d/e".into(), None),
        ("d/e/f.txt".into(), Some(b"deep\n".to_vec())),
        ("many".into(), None),
    ];
    for i in 0..150 {
        v.push((
            std::format!("many/file-with-a-long-name-{i:04}"),
            Some(pattern(i, (i * 7) as usize)),
        ));
    }
    for (p, c) in &v {
        let hp = root.join(p);
        match c {
            Some(data) => std::fs::write(&hp, data).unwrap(),
            None => std::fs::create_dir_all(&hp).unwrap(),
        }
    }
    std::os::unix::fs::symlink("small", root.join("fast_link")).unwrap();
    std::os::unix::fs::symlink("x".repeat(100), root.join("slow_link")).unwrap();
    std::fs::hard_link(root.join("small"), root.join("hard")).unwrap();
    v
}

fn mke2fs(dir: &Path, img: &Path, bs: u32, size: &str) {
    let out = Command::new(tool("mke2fs"))
        .args(["-q", "-F", "-t", "ext2", "-b", &bs.to_string(), "-d"])
        .arg(dir)
        .arg(img)
        .arg(size)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mke2fs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn e2fsck_clean(img: &Path) {
    let out = Command::new(tool("e2fsck"))
        .arg("-fn")
        .arg(img)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "e2fsck -fn {} failed:\n{}{}",
        img.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mount_mem(bytes: Vec<u8>) -> (Ext2Fs, Arc<MemDevice>) {
    let dev = Arc::new(MemDevice::new(bytes));
    let fs = Ext2Fs::mount(dev.clone(), 42, false).unwrap();
    (fs, dev)
}

fn read_all(i: &Arc<dyn Inode>) -> Vec<u8> {
    let size = i.metadata().unwrap().size as usize;
    let mut buf = vec![0u8; size + 10];
    let n = i.read_at(0, &mut buf).unwrap();
    assert_eq!(n, size);
    buf.truncate(n);
    buf
}

fn walk(root: &Arc<dyn Inode>, path: &str) -> Arc<dyn Inode> {
    let mut cur = root.clone();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        cur = cur
            .lookup(c.as_bytes())
            .unwrap_or_else(|e| panic!("lookup {path}: {e:?}"));
    }
    cur
}

fn names(d: &Arc<dyn Inode>) -> Vec<String> {
    let mut out = Vec::new();
    let mut off = 0;
    loop {
        let ents = d.readdir(off, 7).unwrap();
        if ents.is_empty() {
            break;
        }
        for e in ents {
            off = e.next_off;
            out.push(String::from_utf8_lossy(&e.name).into_owned());
        }
    }
    out
}

#[test]
fn reads_mke2fs_images() {
    for bs in [1024u32, 4096] {
        let t = tmpdir(&std::format!("read{bs}"));
        let src = t.join("src");
        std::fs::create_dir_all(&src).unwrap();
        let tree = host_tree(&src);
        let img = t.join("img");
        mke2fs(&src, &img, bs, "8M");
        let (fs, _) = mount_mem(std::fs::read(&img).unwrap());
        let root = fs.root().unwrap();
        for (p, c) in &tree {
            let i = walk(&root, p);
            match c {
                Some(data) => assert_eq!(&read_all(&i), data, "{p}"),
                None => assert_eq!(i.kind(), FileType::Directory),
            }
        }
        assert_eq!(walk(&root, "fast_link").readlink().unwrap(), b"small");
        assert_eq!(
            walk(&root, "slow_link").readlink().unwrap(),
            "x".repeat(100).into_bytes()
        );
        let h = walk(&root, "hard").metadata().unwrap();
        assert_eq!(h.nlink, 2);
        assert_eq!(h.ino, walk(&root, "small").metadata().unwrap().ino);
        let n = names(&walk(&root, "many"));
        assert_eq!(n.len(), 152, "{n:?}");
        assert!(n.contains(&"file-with-a-long-name-0149".to_string()));
        let big = walk(&root, "big").metadata().unwrap();
        assert_eq!(big.size, 300_000);
        assert!(big.blocks >= 300_000 / 512);
        assert_eq!(root.lookup(b"nope").map(|_| ()), Err(Errno::ENOENT));
        let _ = std::fs::remove_dir_all(&t);
    }
}

/// A workload that exercises every write path, checked as it goes.
fn workload(root: &Arc<dyn Inode>, bs: u64) {
    let now = ts(NOW + 10);
    // Files through direct, indirect, double and triple indirect blocks.
    let f = root.create(b"f", &node(FileType::Regular, 0o644)).unwrap();
    let data = pattern(9, 200_000);
    assert_eq!(f.write_at(0, &data, now).unwrap(), data.len());
    let p = bs / 4;
    let triple = (12 + p + p * p + 5) * bs;
    assert_eq!(f.write_at(triple, b"far away", now).unwrap(), 8);
    let mut b = vec![0u8; 16];
    assert_eq!(f.read_at(triple - 8, &mut b).unwrap(), 16);
    assert_eq!(&b, b"\0\0\0\0\0\0\0\0far away");
    assert_eq!(f.read_at(300_000, &mut b).unwrap(), 16);
    assert_eq!(b, [0u8; 16]);
    // The file is over 4 GiB now: read its head only (read_all would need
    // all of it in memory, more than a 32-bit host has).
    let mut head = vec![0u8; data.len()];
    assert_eq!(f.read_at(0, &mut head).unwrap(), data.len());
    assert_eq!(head, data);
    // Shrink into the middle of the indirect area, then grow again.
    f.truncate(100_001, now).unwrap();
    f.truncate(150_000, now).unwrap();
    let all = read_all(&f);
    assert_eq!(all[..100_001], data[..100_001]);
    assert!(all[100_001..].iter().all(|&c| c == 0));
    // Sparse file, mostly holes.
    let s = root
        .create(b"sparse", &node(FileType::Regular, 0o600))
        .unwrap();
    s.write_at(10 << 20, b"x", now).unwrap();
    let m = s.metadata().unwrap();
    assert_eq!(m.size, (10 << 20) + 1);
    assert!(m.blocks <= 4 * bs / 512, "{}", m.blocks);
    // Directories, many entries, removal while reading.
    let d = root
        .create(b"dir", &node(FileType::Directory, 0o755))
        .unwrap();
    for i in 0..300 {
        d.create(
            std::format!("entry-{i}").as_bytes(),
            &node(FileType::Regular, 0o644),
        )
        .unwrap()
        .write_at(0, &pattern(i, 100), now)
        .unwrap();
    }
    assert_eq!(root.metadata().unwrap().nlink, 4); // ., .., lost+found? see caller
    let first = d.readdir(0, 10).unwrap();
    for i in 0..150 {
        d.unlink(std::format!("entry-{i}").as_bytes(), now).unwrap();
    }
    let rest: Vec<String> = {
        let mut out = Vec::new();
        let mut off = first.last().unwrap().next_off;
        loop {
            let e = d.readdir(off, 50).unwrap();
            if e.is_empty() {
                break;
            }
            off = e.last().unwrap().next_off;
            out.extend(
                e.into_iter()
                    .map(|e| String::from_utf8_lossy(&e.name).into_owned()),
            );
        }
        out
    };
    assert_eq!(rest.len(), 150, "{rest:?}");
    assert_eq!(names(&d).len(), 152);
    // Symlinks, hard links, devices.
    root.symlink(b"fast", b"f", &node(FileType::Symlink, 0o777))
        .unwrap();
    let long = "y/".repeat(80);
    root.symlink(b"slow", long.as_bytes(), &node(FileType::Symlink, 0o777))
        .unwrap();
    assert_eq!(
        root.lookup(b"slow").unwrap().readlink().unwrap(),
        long.as_bytes()
    );
    assert_eq!(root.lookup(b"fast").unwrap().readlink().unwrap(), b"f");
    d.link(b"hard-f", &f, now).unwrap();
    assert_eq!(f.metadata().unwrap().nlink, 2);
    assert_eq!(root.link(b"x", &d, now), Err(Errno::EPERM));
    let c = root
        .create(
            b"null",
            &NewNode {
                rdev: crate::fs::vfs::makedev(1, 3),
                ..node(FileType::CharDevice, 0o666)
            },
        )
        .unwrap();
    assert_eq!(c.metadata().unwrap().rdev, crate::fs::vfs::makedev(1, 3));
    let big_dev = crate::fs::vfs::makedev(300, 70000);
    let c2 = root
        .create(
            b"weird",
            &NewNode {
                rdev: big_dev,
                ..node(FileType::BlockDevice, 0o600)
            },
        )
        .unwrap();
    assert_eq!(c2.metadata().unwrap().rdev, big_dev);
    root.create(b"fifo", &node(FileType::Fifo, 0o644)).unwrap();
    // Renames: over a file, across directories, directories across directories.
    let g = root.create(b"g", &node(FileType::Regular, 0o644)).unwrap();
    g.write_at(0, b"gggg", now).unwrap();
    d.rename(b"entry-200", root, b"g", now).unwrap();
    assert_eq!(read_all(&root.lookup(b"g").unwrap()), pattern(200, 100));
    assert_eq!(g.metadata().unwrap().nlink, 0);
    assert_eq!(read_all(&g), b"gggg"); // still open
    drop(g);
    let sub = d.create(b"sub", &node(FileType::Directory, 0o755)).unwrap();
    sub.create(b"inner", &node(FileType::Regular, 0o644))
        .unwrap();
    let other = root
        .create(b"other", &node(FileType::Directory, 0o755))
        .unwrap();
    assert_eq!(d.nlink(), 3);
    d.rename(b"sub", &other, b"moved", now).unwrap();
    assert_eq!((d.nlink(), other.nlink()), (2, 3));
    assert_eq!(
        sub.lookup(b"..").unwrap().metadata().unwrap().ino,
        other.metadata().unwrap().ino
    );
    assert_eq!(root.rename(b"other", &sub, b"x", now), Err(Errno::EINVAL));
    other
        .create(b"empty", &node(FileType::Directory, 0o755))
        .unwrap();
    assert_eq!(other.rename(b"moved", &other, b"empty", now), Ok(()));
    assert_eq!(other.nlink(), 3);
    assert_eq!(root.rmdir(b"other", now), Err(Errno::ENOTEMPTY));
    assert_eq!(root.unlink(b"other", now), Err(Errno::EISDIR));
    other
        .lookup(b"empty")
        .unwrap()
        .unlink(b"inner", now)
        .unwrap();
    other.rmdir(b"empty", now).unwrap();
    root.rmdir(b"other", now).unwrap();
    assert_eq!(sub.nlink(), 0);
    assert_eq!(
        sub.create(b"z", &node(FileType::Regular, 0o644))
            .map(|_| ()),
        Err(Errno::ENOENT)
    );
    drop(sub);
    drop(other);
    // chmod, chown, utimes.
    f.set_metadata(&SetAttr {
        perm: Some(0o4711),
        uid: Some(70000),
        gid: Some(5),
        atime: Some(ts(1)),
        mtime: Some(Timespec {
            tv_sec: 2,
            tv_nsec: 500,
        }),
        ctime: now,
    })
    .unwrap();
    let m = f.metadata().unwrap();
    assert_eq!(
        (m.mode, m.uid, m.gid, m.atime.tv_sec),
        (0o104711, 70000, 5, 1)
    );
    assert_eq!(m.mtime.tv_sec, 2);
    // An unlinked open file keeps its data until dropped.
    let tmp = root
        .create(b"tmpfile", &node(FileType::Regular, 0o644))
        .unwrap();
    tmp.write_at(0, &pattern(3, 50_000), now).unwrap();
    root.unlink(b"tmpfile", now).unwrap();
    assert_eq!(read_all(&tmp), pattern(3, 50_000));
    drop(tmp);
    // Errors.
    assert_eq!(
        root.create(b"f", &node(FileType::Regular, 0o644))
            .map(|_| ()),
        Err(Errno::EEXIST)
    );
    assert_eq!(root.unlink(b"nope", now), Err(Errno::ENOENT));
    assert_eq!(f.lookup(b"x").map(|_| ()), Err(Errno::ENOTDIR));
    assert_eq!(root.write_at(0, b"x", now), Err(Errno::EISDIR));
}

trait Nlink {
    fn nlink(&self) -> u32;
}
impl Nlink for Arc<dyn Inode> {
    fn nlink(&self) -> u32 {
        self.metadata().unwrap().nlink
    }
}

fn run_workload_and_check(bytes: Vec<u8>, bs: u64, name: &str) {
    let (fs, dev) = mount_mem(bytes);
    let root = fs.root().unwrap();
    let free0 = fs.info().free_blocks;
    workload(&root, bs);
    drop(root);
    fs.sync().unwrap();
    let t = tmpdir(name);
    let img = t.join("img");
    std::fs::write(&img, dev.contents()).unwrap();
    e2fsck_clean(&img);
    // Remount and check what was written, then delete it all.
    let (fs, dev) = mount_mem(std::fs::read(&img).unwrap());
    let root = fs.root().unwrap();
    assert_eq!(read_all(&root.lookup(b"g").unwrap()), pattern(200, 100));
    assert_eq!(
        root.lookup(b"slow").unwrap().readlink().unwrap(),
        "y/".repeat(80).into_bytes()
    );
    let now = ts(NOW + 20);
    let d = root.lookup(b"dir").unwrap();
    for n in names(&d) {
        if n != "." && n != ".." {
            d.unlink(n.as_bytes(), now).unwrap();
        }
    }
    drop(d);
    root.rmdir(b"dir", now).unwrap();
    for n in ["f", "sparse", "fast", "slow", "null", "weird", "fifo", "g"] {
        root.unlink(n.as_bytes(), now).unwrap();
    }
    assert_eq!(fs.info().free_blocks, free0);
    drop(root);
    fs.sync().unwrap();
    std::fs::write(&img, dev.contents()).unwrap();
    e2fsck_clean(&img);
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn writes_on_mke2fs_images_pass_e2fsck() {
    for bs in [1024u32, 4096] {
        let t = tmpdir(&std::format!("w{bs}"));
        let src = t.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("keep"), b"keep me").unwrap();
        let img = t.join("img");
        mke2fs(&src, &img, bs, "16M");
        run_workload_and_check(
            std::fs::read(&img).unwrap(),
            u64::from(bs),
            &std::format!("w{bs}b"),
        );
        let _ = std::fs::remove_dir_all(&t);
    }
}

fn fresh(size: usize, bs: u32) -> Vec<u8> {
    let dev: Arc<dyn BlockDevice> = Arc::new(MemDevice::zeroed(size).unwrap());
    format(
        &dev,
        &FormatOptions {
            block_size: bs,
            now: NOW,
            ..FormatOptions::default()
        },
    )
    .unwrap();
    let mut out = vec![0u8; size];
    dev.read_at(0, &mut out).unwrap();
    out
}

#[test]
fn own_format_passes_e2fsck_and_takes_writes() {
    for bs in [1024u32, 2048, 4096] {
        let img = fresh(24 << 20, bs);
        let t = tmpdir(&std::format!("fmt{bs}"));
        std::fs::write(t.join("img"), &img).unwrap();
        e2fsck_clean(&t.join("img"));
        let (fs, _) = mount_mem(img.clone());
        let i = fs.info();
        assert_eq!((i.rev, i.block_size), (1, bs));
        assert!(names(&fs.root().unwrap()).contains(&"lost+found".to_string()));
        drop(fs);
        run_workload_and_check(img, u64::from(bs), &std::format!("fmt{bs}b"));
        let _ = std::fs::remove_dir_all(&t);
    }
    // Several groups, with backups.
    let img = fresh(40 << 20, 1024);
    let t = tmpdir("fmtmulti");
    std::fs::write(t.join("img"), &img).unwrap();
    e2fsck_clean(&t.join("img"));
    let _ = std::fs::remove_dir_all(&t);
}

/// A device image's format (`umbra image create --inodes N --inode-size
/// 128`, Table 1 of issue 14): exactly the inodes asked for (rounded up to
/// whole inode-table blocks), of 128 or 256 bytes; e2fsck accepts it, and
/// with 128-byte inodes before and after the write workload, which reads
/// back.
#[test]
fn own_format_with_exact_small_inodes_passes_e2fsck_and_takes_writes() {
    let fmt = |isz: u32, want: u32| {
        let size = 2 << 20;
        let dev: Arc<dyn BlockDevice> = Arc::new(MemDevice::zeroed(size).unwrap());
        format(
            &dev,
            &FormatOptions {
                block_size: 1024,
                now: NOW,
                inodes: Inodes::Exactly(want),
                inode_size: isz,
                ..FormatOptions::default()
            },
        )
        .unwrap();
        let mut img = vec![0u8; size];
        dev.read_at(0, &mut img).unwrap();
        img
    };
    for (isz, want, got) in [(128u32, 40u32, 40u32), (128, 33, 40), (256, 33, 40)] {
        let img = fmt(isz, want);
        let t = tmpdir(&std::format!("small{isz}-{want}"));
        std::fs::write(t.join("img"), &img).unwrap();
        e2fsck_clean(&t.join("img"));
        let (head, _) = dumpe2fs(&t.join("img"));
        assert_eq!(head["Inode count"], got.to_string());
        assert_eq!(head["Inode size"], isz.to_string());
        let (fs, _) = mount_mem(img);
        assert_eq!(fs.info().inodes, got);
        // Out of inodes: ENOSPC, not a silent success.
        let root = fs.root().unwrap();
        let mut made = 0;
        let err = loop {
            match root.create(
                std::format!("f{made}").as_bytes(),
                &node(FileType::Regular, 0o644),
            ) {
                Ok(_) => made += 1,
                Err(e) => break e,
            }
        };
        assert_eq!((err, made), (Errno::ENOSPC, got - 11));
        let _ = std::fs::remove_dir_all(&t);
    }
    // The workload makes 300 files.
    run_workload_and_check(fmt(128, 400), 1024, "small128w");
    // The sizes ext2 has no use for are refused.
    let dev: Arc<dyn BlockDevice> = Arc::new(MemDevice::zeroed(1 << 20).unwrap());
    for isz in [0u32, 64, 200, 512] {
        let opts = FormatOptions {
            inode_size: isz,
            ..FormatOptions::default()
        };
        assert!(format(&dev, &opts).is_err(), "inode size {isz}");
    }
}

#[test]
fn full_filesystem_gives_enospc_and_stays_consistent() {
    let img = fresh(1 << 20, 1024);
    let (fs, dev) = mount_mem(img);
    let root = fs.root().unwrap();
    let f = root
        .create(b"fill", &node(FileType::Regular, 0o644))
        .unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut off = 0u64;
    loop {
        match f.write_at(off, &chunk, ts(NOW)) {
            Ok(n) => off += n as u64,
            Err(e) => {
                assert_eq!(e, Errno::ENOSPC);
                break;
            }
        }
    }
    assert_eq!(fs.info().free_blocks, 0);
    assert!(off > 500_000);
    drop((f, root));
    fs.sync().unwrap();
    let t = tmpdir("full");
    std::fs::write(t.join("img"), dev.contents()).unwrap();
    e2fsck_clean(&t.join("img"));
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn overlay_keeps_base_image_identical() {
    let img = fresh(2 << 20, 1024);
    let base: Arc<dyn BlockDevice> = Arc::new(MemDevice::read_only(img.clone()));
    let ov: Arc<dyn BlockDevice> = Arc::new(OverlayDevice::new(base.clone()));
    let fs = Ext2Fs::mount(ov, 1, false).unwrap();
    let root = fs.root().unwrap();
    root.create(b"new", &node(FileType::Regular, 0o644))
        .unwrap()
        .write_at(0, b"overlay", ts(NOW))
        .unwrap();
    assert_eq!(read_all(&root.lookup(b"new").unwrap()), b"overlay");
    fs.sync().unwrap();
    let mut now = vec![0u8; img.len()];
    base.read_at(0, &mut now).unwrap();
    assert!(now == img);
    // Read-only mounts refuse changes.
    let ro = Ext2Fs::mount(base, 1, true).unwrap();
    let r = ro.root().unwrap();
    assert_eq!(
        r.create(b"x", &node(FileType::Regular, 0o644)).map(|_| ()),
        Err(Errno::EROFS)
    );
    assert_eq!(r.unlink(b"lost+found", ts(0)), Err(Errno::EROFS));
}

#[test]
fn malformed_images_are_refused_with_a_reason() {
    let good = fresh(1 << 20, 1024);
    let check = |img: Vec<u8>, want: &str| {
        let dev = Arc::new(MemDevice::new(img));
        match Ext2Fs::mount(dev, 0, false) {
            Ok(_) => panic!("mounted a bad image ({want})"),
            Err(e) => {
                let s = e.to_string();
                assert!(s.contains(want), "{s:?} should mention {want:?}");
                assert!(!s.contains('\n'));
            }
        }
    };
    let mut b = good.clone();
    b[1024 + 56] = 0;
    check(b, "magic");
    check(good[..600].to_vec(), "too small");
    check(good[..500_000].to_vec(), "truncated");
    let mut b = good.clone();
    b[1024 + 32..1024 + 36].copy_from_slice(&0u32.to_le_bytes());
    check(b, "blocks per group");
    let mut b = good.clone();
    b[1024..1028].copy_from_slice(&u32::MAX.to_le_bytes());
    check(b, "inode count");
    let mut b = good.clone();
    b[1024 + 96] |= 0x40; // extents
    check(b, "incompatible");
    let mut b = good.clone();
    b[1024 + 24] = 9;
    check(b, "block size");
    let mut b = good.clone();
    // Group 0's inode table pointed past the end.
    b[2048 + 8..2048 + 12].copy_from_slice(&5_000_000u32.to_le_bytes());
    check(b, "outside the group");
    // Unknown RO_COMPAT: read-only.
    let mut b = good.clone();
    b[1024 + 100] |= 0x40;
    let fs = Ext2Fs::mount(Arc::new(MemDevice::new(b)), 0, false).unwrap();
    assert!(fs.is_read_only());
}

/// Mounts `img` and does what the fuzz target does: walk every directory, read
/// every file (bounded), then create, write and delete a file. Must never panic.
pub fn exercise(img: Vec<u8>) {
    let dev = Arc::new(MemDevice::new(img));
    let Ok(fs) = Ext2Fs::mount(dev, 0, false) else {
        return;
    };
    let Ok(root) = fs.root() else { return };
    let mut stack = vec![root.clone()];
    let mut seen = alloc::collections::BTreeSet::new();
    let mut budget = 2000u32;
    while let Some(d) = stack.pop() {
        let Ok(mut off) = d.readdir(0, 1).map(|_| 0u64) else {
            continue;
        };
        loop {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                break;
            }
            let Ok(ents) = d.readdir(off, 16) else { break };
            if ents.is_empty() {
                break;
            }
            for e in ents {
                off = e.next_off;
                if e.name == b"." || e.name == b".." {
                    continue;
                }
                let Ok(c) = d.lookup(&e.name) else { continue };
                let _ = c.metadata();
                match c.kind() {
                    FileType::Directory if seen.insert(e.ino) => stack.push(c),
                    FileType::Regular => {
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut pos = 0u64;
                        while pos < 1 << 20 {
                            match c.read_at(pos, &mut buf) {
                                Ok(n) if n > 0 => pos += n as u64,
                                _ => break,
                            }
                        }
                    }
                    FileType::Symlink => {
                        let _ = c.readlink();
                    }
                    _ => {}
                }
            }
        }
    }
    let now = ts(NOW);
    if let Ok(f) = root.create(b"fuzz-new", &node(FileType::Regular, 0o644)) {
        let _ = f.write_at(0, &[1u8; 5000], now);
        let _ = f.write_at(70_000, b"x", now);
        let _ = f.truncate(10, now);
        let _ = root.unlink(b"fuzz-new", now);
    }
    if let Ok(d) = root.create(b"fuzz-dir", &node(FileType::Directory, 0o755)) {
        let _ = d.create(b"a", &node(FileType::Regular, 0o644));
        let _ = d.unlink(b"a", now);
        let _ = root.rename(b"fuzz-dir", &root, b"fuzz-dir2", now);
        let _ = root.rmdir(b"fuzz-dir2", now);
    }
    let _ = fs.sync();
}

/// A small seed image: a few files, a directory, links.
pub fn seed_image(bs: u32) -> Vec<u8> {
    let img = fresh(60 * 1024, bs);
    let (fs, dev) = mount_mem(img);
    let root = fs.root().unwrap();
    let now = ts(NOW);
    let f = root
        .create(b"file", &node(FileType::Regular, 0o644))
        .unwrap();
    f.write_at(0, &pattern(5, 3000), now).unwrap();
    let d = root
        .create(b"dir", &node(FileType::Directory, 0o755))
        .unwrap();
    d.create(b"inner", &node(FileType::Regular, 0o600))
        .unwrap()
        .write_at(0, b"inner", now)
        .unwrap();
    d.symlink(b"up", b"../file", &node(FileType::Symlink, 0o777))
        .unwrap();
    d.symlink(
        b"long",
        "z".repeat(70).as_bytes(),
        &node(FileType::Symlink, 0o777),
    )
    .unwrap();
    root.link(b"hard", &f, now).unwrap();
    let s = root
        .create(b"sparse", &node(FileType::Regular, 0o644))
        .unwrap();
    s.write_at(20 * u64::from(bs), b"end", now).unwrap();
    drop((f, d, s, root));
    fs.sync().unwrap();
    dev.contents()
}

#[test]
fn random_mutations_never_panic() {
    let iterations: u32 = std::env::var("UMBRA_EXT2_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let seeds = [seed_image(1024), seed_image(2048)];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..iterations {
        let mut img = seeds[(i % 2) as usize].clone();
        let n = 1 + rnd() % 8;
        for _ in 0..n {
            let r = rnd();
            // Mostly the metadata at the front, sometimes anywhere.
            let span = if r % 4 == 0 {
                img.len()
            } else {
                img.len().min(8192)
            };
            let at = (rnd() as usize) % span;
            match r % 3 {
                0 => img[at] = rnd() as u8,
                1 => img[at] ^= 1 << (rnd() % 8),
                _ => {
                    let v = [0u8, 0xff, 1, 0x80][(rnd() % 4) as usize];
                    img[at] = v;
                }
            }
        }
        exercise(img);
    }
}

#[test]
fn seed_images_are_small_and_clean() {
    for bs in [1024u32, 2048] {
        let img = seed_image(bs);
        assert!(img.len() < 64 * 1024);
        let t = tmpdir(&std::format!("seed{bs}"));
        std::fs::write(t.join("img"), &img).unwrap();
        e2fsck_clean(&t.join("img"));
        // Write the seeds for the fuzz corpus when asked.
        if let Ok(dir) = std::env::var("UMBRA_WRITE_SEEDS") {
            std::fs::write(Path::new(&dir).join(std::format!("seed-{bs}.img")), &img).unwrap();
        }
        let _ = std::fs::remove_dir_all(&t);
    }
}

/// What `dumpe2fs IMG` says: the header's `Name: value` lines, and the
/// metadata overhead summed from the group listing (blocks before the first
/// data block, superblock copies, group descriptors, reserved GDT blocks,
/// bitmaps and inode tables).
fn dumpe2fs(img: &Path) -> (BTreeMap<String, String>, u64) {
    let out = Command::new(tool("dumpe2fs")).arg(img).output().unwrap();
    assert!(out.status.success(), "dumpe2fs failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut head = BTreeMap::new();
    let mut overhead = 0u64;
    let span = |s: &str| -> u64 {
        let r = s.split_whitespace().next().unwrap().trim_end_matches(',');
        match r.split_once('-') {
            Some((a, b)) => b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1,
            None => 1,
        }
    };
    for line in text.lines() {
        let l = line.trim();
        if !line.starts_with(' ') {
            if let Some((k, v)) = l.split_once(':') {
                head.insert(k.trim().to_string(), v.trim().to_string());
            }
            continue;
        }
        for part in l.split(", ") {
            for key in [
                "superblock at ",
                "Group descriptors at ",
                "Reserved GDT blocks at ",
                "Block bitmap at ",
                "Inode bitmap at ",
                "Inode table at ",
            ] {
                if let Some(i) = part.find(key) {
                    overhead += span(&part[i + key.len()..]);
                }
            }
        }
    }
    overhead += head["First block"].parse::<u64>().unwrap();
    (head, overhead)
}

#[test]
fn statfs_matches_dumpe2fs_and_follows_writes() {
    use crate::fs::vfs::st_flags::ST_RDONLY;
    let t = tmpdir("statfs");
    let uuid = "0123abcd-4567-89ef-0011-223344556677";
    let src = t.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a"), b"x").unwrap();
    let mut cases = Vec::new();
    for bs in [1024u32, 4096] {
        // mke2fs's default features include resize_inode (reserved GDT blocks).
        let img = t.join(std::format!("m{bs}.img"));
        let out = Command::new(tool("mke2fs"))
            .args(["-q", "-F", "-t", "ext2", "-m", "5", "-U", uuid, "-b"])
            .arg(bs.to_string())
            .arg("-d")
            .arg(&src)
            .arg(&img)
            .arg("40M")
            .output()
            .unwrap();
        assert!(out.status.success());
        cases.push(img);
    }
    // umbra's own format: no reserved GDT blocks, several groups.
    let own = t.join("own.img");
    std::fs::write(&own, fresh(40 << 20, 1024)).unwrap();
    cases.push(own);
    for img in &cases {
        let (h, overhead) = dumpe2fs(img);
        let num = |k: &str| h[k].parse::<u64>().unwrap();
        let (fs, _) = mount_mem(std::fs::read(img).unwrap());
        let s = fs.statfs();
        let what = img.display();
        assert_eq!(s.f_type, 0xef53);
        assert_eq!(u64::from(s.bsize), num("Block size"), "{what}");
        assert_eq!(s.frsize, s.bsize);
        assert_eq!(s.blocks, num("Block count") - overhead, "{what}");
        assert_eq!(s.bfree, num("Free blocks"), "{what}");
        assert_eq!(
            s.bavail,
            num("Free blocks") - num("Reserved block count"),
            "{what}"
        );
        assert_eq!(s.files, num("Inode count"), "{what}");
        assert_eq!(s.ffree, num("Free inodes"), "{what}");
        assert_eq!(s.namelen, 255);
        assert_eq!(s.flags & ST_RDONLY, 0);
        // f_fsid: the UUID's two little-endian 64-bit halves xor'ed.
        let hex: String = h["Filesystem UUID"].chars().filter(|c| *c != '-').collect();
        let bytes: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let le = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
        let id = le(&bytes[..8]) ^ le(&bytes[8..]);
        assert_eq!(s.fsid, [id as u32 as i32, (id >> 32) as u32 as i32]);
        // Writes show at once: a 1 MiB file takes its data blocks and the
        // indirect blocks (st_blocks counts both), and one inode.
        let root = fs.root().unwrap();
        let f = root
            .create(b"big", &node(FileType::Regular, 0o644))
            .unwrap();
        f.write_at(0, &pattern(9, 1 << 20), ts(NOW)).unwrap();
        let used = f.metadata().unwrap().blocks * 512 / u64::from(s.bsize);
        assert!(used > (1 << 20) / u64::from(s.bsize));
        let s2 = fs.statfs();
        assert_eq!(s2.bfree, s.bfree - used, "{what}");
        assert_eq!(s2.bavail, s.bavail - used, "{what}");
        assert_eq!(s2.ffree, s.ffree - 1, "{what}");
        assert_eq!((s2.blocks, s2.files), (s.blocks, s.files));
        // The inode's own view agrees; unlinking gives everything back once the
        // last reference goes.
        assert_eq!(f.statfs(), Some(s2));
        root.unlink(b"big", ts(NOW)).unwrap();
        drop(f);
        assert_eq!(fs.statfs(), s);
        // A read-only mount says so.
        let ro = Ext2Fs::mount(
            Arc::new(MemDevice::read_only(std::fs::read(img).unwrap())),
            1,
            true,
        )
        .unwrap();
        let r = ro.statfs();
        assert_eq!(r.flags, ST_RDONLY);
        assert_eq!((r.blocks, r.bfree), (s.blocks, s.bfree));
    }
    let _ = std::fs::remove_dir_all(&t);
}

/// The inode number `name` in `d` names, or the error.
fn ino_of(d: &Arc<dyn Inode>, name: &str) -> Result<u64, Errno> {
    d.lookup(name.as_bytes()).map(|i| i.metadata().unwrap().ino)
}

/// Every change of a directory is seen by the next lookup, though each
/// lookup before it was cached (names.rs), positive and negative; a
/// directory number reused after rmdir does not find its old entries; and a
/// fresh mount (no caches) agrees at the end.
#[test]
fn lookups_follow_every_change_of_a_directory() {
    let (fs, dev) = mount_mem(fresh(4 << 20, 1024));
    let root = fs.root().unwrap();
    let now = ts(NOW);
    let rino = root.metadata().unwrap().ino;
    // create
    assert_eq!(ino_of(&root, "a"), Err(Errno::ENOENT));
    let a = root.create(b"a", &node(FileType::Regular, 0o644)).unwrap();
    let a_ino = a.metadata().unwrap().ino;
    assert_eq!(ino_of(&root, "a"), Ok(a_ino));
    // mkdir, symlink, mknod
    let d1 = root
        .create(b"d1", &node(FileType::Directory, 0o755))
        .unwrap();
    let d2 = root
        .create(b"d2", &node(FileType::Directory, 0o755))
        .unwrap();
    let (d1_ino, d2_ino) = (d1.metadata().unwrap().ino, d2.metadata().unwrap().ino);
    assert_eq!(ino_of(&root, "d1"), Ok(d1_ino));
    assert_eq!(ino_of(&d1, ".."), Ok(rino));
    assert_eq!(ino_of(&d1, "x"), Err(Errno::ENOENT));
    d1.symlink(b"x", b"../a", &node(FileType::Symlink, 0o777))
        .unwrap();
    assert_eq!(d1.lookup(b"x").unwrap().readlink().unwrap(), b"../a");
    assert_eq!(ino_of(&d1, "c"), Err(Errno::ENOENT));
    d1.create(b"c", &node(FileType::CharDevice, 0o600)).unwrap();
    assert!(ino_of(&d1, "c").is_ok());
    // link, unlink
    assert_eq!(ino_of(&d2, "y"), Err(Errno::ENOENT));
    d2.link(b"y", &a, now).unwrap();
    assert_eq!(ino_of(&d2, "y"), Ok(a_ino));
    d2.unlink(b"y", now).unwrap();
    assert_eq!(ino_of(&d2, "y"), Err(Errno::ENOENT));
    // rename across directories, over an existing name, and of a directory
    assert_eq!(ino_of(&d1, "b"), Err(Errno::ENOENT));
    root.rename(b"a", &d1, b"b", now).unwrap();
    assert_eq!(ino_of(&root, "a"), Err(Errno::ENOENT));
    assert_eq!(ino_of(&d1, "b"), Ok(a_ino));
    let z = d2.create(b"z", &node(FileType::Regular, 0o644)).unwrap();
    assert_eq!(ino_of(&d2, "z"), Ok(z.metadata().unwrap().ino));
    drop(z);
    d1.rename(b"b", &d2, b"z", now).unwrap();
    assert_eq!(ino_of(&d2, "z"), Ok(a_ino));
    assert_eq!(ino_of(&d1, "b"), Err(Errno::ENOENT));
    root.rename(b"d1", &d2, b"d1", now).unwrap();
    assert_eq!(ino_of(&d1, ".."), Ok(d2_ino));
    assert_eq!(ino_of(&root, "d1"), Err(Errno::ENOENT));
    assert_eq!(ino_of(&d2, "d1"), Ok(d1_ino));
    // rmdir, and a new directory under another parent with the same number
    let d3 = root
        .create(b"d3", &node(FileType::Directory, 0o755))
        .unwrap();
    let d3_ino = d3.metadata().unwrap().ino;
    assert_eq!(ino_of(&d3, ".."), Ok(rino));
    assert_eq!(ino_of(&d3, "q"), Err(Errno::ENOENT));
    drop(d3);
    root.rmdir(b"d3", now).unwrap();
    assert_eq!(ino_of(&root, "d3"), Err(Errno::ENOENT));
    let d4 = d2.create(b"d4", &node(FileType::Directory, 0o755)).unwrap();
    assert_eq!(
        d4.metadata().unwrap().ino,
        d3_ino,
        "the number was not reused"
    );
    assert_eq!(ino_of(&d4, ".."), Ok(d2_ino));
    assert_eq!(ino_of(&d4, "q"), Err(Errno::ENOENT));
    d4.create(b"q", &node(FileType::Fifo, 0o644)).unwrap();
    let q_ino = ino_of(&d4, "q").unwrap();
    // A fresh mount of the same bytes agrees with every cached answer.
    let answers: Vec<(Arc<dyn Inode>, &str)> = vec![
        (root.clone(), "a"),
        (root.clone(), "d1"),
        (root.clone(), "d2"),
        (root.clone(), "d3"),
        (d1.clone(), ".."),
        (d1.clone(), "x"),
        (d1.clone(), "b"),
        (d1.clone(), "c"),
        (d2.clone(), "y"),
        (d2.clone(), "z"),
        (d2.clone(), "d1"),
        (d2.clone(), "d4"),
        (d4.clone(), ".."),
        (d4.clone(), "q"),
    ];
    let cached: Vec<Result<u64, Errno>> = answers.iter().map(|(d, n)| ino_of(d, n)).collect();
    let mut bytes = vec![0u8; 4 << 20];
    dev.read_at(0, &mut bytes).unwrap();
    let (fs2, _) = mount_mem(bytes);
    let r2 = fs2.root().unwrap();
    for ((d, n), c) in answers.iter().zip(cached) {
        let path = match d.metadata().unwrap().ino {
            i if i == rino => String::new(),
            i if i == d1_ino => "d2/d1".into(),
            i if i == d2_ino => "d2".into(),
            _ => "d2/d4".into(),
        };
        assert_eq!(ino_of(&walk(&r2, &path), n), c, "{path}/{n}");
    }
    assert_eq!(ino_of(&walk(&r2, "d2/d4"), "q"), Ok(q_ino));
}

/// The caches are sized from the guest's memory too: `--mem 1M` keeps at
/// most 1/32 of it in metadata blocks (32 of 1 KiB) however many a walk
/// reads, the default-sized mount keeps more for the same walk, and both
/// read the same tree.
#[test]
fn caches_follow_the_memory_budget() {
    assert_eq!(cache_blocks(256 << 20, 4096), CACHE_BLOCKS);
    assert_eq!(cache_blocks(12 << 20, 4096), 96);
    assert_eq!(cache_blocks(1 << 20, 1024), 32);
    assert_eq!(cache_blocks(1 << 20, 4096), MIN_CACHE_BLOCKS as usize);
    assert_eq!(cache_blocks(u64::MAX, 1024), CACHE_BLOCKS);
    let img = fresh(24 << 20, 1024);
    // 300 directories of a file each: their directory blocks and inode
    // table blocks are more metadata than 32 blocks.
    let (fs, _) = mount_mem(img);
    let root = fs.root().unwrap();
    let now = ts(NOW + 10);
    for i in 0..300 {
        let d = root
            .create(
                std::format!("d{i}").as_bytes(),
                &node(FileType::Directory, 0o755),
            )
            .unwrap();
        let f = d.create(b"f", &node(FileType::Regular, 0o644)).unwrap();
        f.write_at(0, std::format!("{i}").as_bytes(), now).unwrap();
    }
    fs.sync().unwrap();
    let read_tree = |fs: &Ext2Fs| -> usize {
        let root = fs.root().unwrap();
        for i in 0..300 {
            let f = walk(&root, &std::format!("d{i}/f"));
            assert_eq!(read_all(&f), std::format!("{i}").into_bytes());
        }
        fs.inner.st.lock().cache.buffers()
    };
    let unbounded = read_tree(&fs);
    let bytes = {
        drop(root);
        let dev = fs.inner.dev.clone();
        drop(fs);
        dev
    };
    let small = Ext2Fs::mount_for(bytes, 42, false, 1 << 20).unwrap();
    let bounded = read_tree(&small);
    assert!(
        bounded <= 32 && unbounded > 32,
        "{bounded} and {unbounded} buffers"
    );
}
