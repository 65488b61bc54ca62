//! `umbra image create` and `umbra image check`: ext2 images made and checked
//! with umbra's own ext2 code (no external tool needed). Safe std code only.

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

use umbra_abi::structs::Timespec;
use umbra_core::fs::blockdev::BlockDevice;
use umbra_core::fs::ext2::{self, Ext2Fs, FormatOptions, Inodes};
use umbra_core::fs::vfs::{FileType, Inode, NewNode, SetAttr};

use crate::blockfile::BlockFile;

/// What `image create` was asked for.
pub struct CreateArgs {
    pub dir: String,
    pub out: String,
    pub size: Option<u64>,
    pub block_size: u32,
    /// `--inodes N`: exactly N inodes; by default twice the files and
    /// directories plus 64, and at least one per 4 KiB.
    pub inodes: Option<u32>,
    /// `--inode-size 128|256` (default 256).
    pub inode_size: u32,
}

/// `WHAT: ERROR`, the form of most of this module's errors (one formatting
/// call for them all).
#[inline(never)]
fn at(what: &dyn std::fmt::Display, e: &dyn std::fmt::Display) -> String {
    format!("{what}: {e}")
}

fn now() -> Timespec {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

/// Inserts `key` into the sorted `keys` (a set of (device, inode) pairs);
/// false if it was there. A sorted vector rather than a HashSet: std's
/// hashing (SipHash, its random keys, hashbrown's tables) cost the ROM
/// build ~4 KB for this one use.
fn insert_key(keys: &mut Vec<(u64, u64)>, key: (u64, u64)) -> bool {
    match keys.binary_search(&key) {
        Ok(_) => false,
        Err(at) => {
            keys.insert(at, key);
            true
        }
    }
}

/// Sorts names bytewise, with the kernel's heapsort (umbra_core::sort),
/// where `sort` would instantiate std's driftsort, ~3.7 KB, for this one use.
fn sort_names(v: &mut [Vec<u8>]) {
    umbra_core::sort::sort(v);
}

/// Totals of a host tree: (file bytes, files, dirs).
fn measure(
    dir: &Path,
    acc: &mut (u64, u64, u64),
    links: &mut Vec<(u64, u64)>,
) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let m = e.path().symlink_metadata()?;
        if m.is_dir() {
            acc.2 += 1;
            measure(&e.path(), acc, links)?;
        } else if m.nlink() > 1 && !insert_key(links, (m.dev(), m.ino())) {
            // Another name of a file counted already: one inode, one copy
            // of the data (the copy makes it a hard link).
        } else {
            // Sparse host files: only their allocated blocks need room.
            acc.0 += m.len().min(m.blocks().saturating_mul(512) + 4096);
            acc.1 += 1;
        }
    }
    Ok(())
}

#[inline(never)]
fn attrs(m: &std::fs::Metadata) -> SetAttr {
    SetAttr {
        perm: Some(m.mode() & 0o7777),
        uid: Some(m.uid()),
        gid: Some(m.gid()),
        atime: Some(Timespec {
            tv_sec: m.atime(),
            tv_nsec: m.atime_nsec(),
        }),
        mtime: Some(Timespec {
            tv_sec: m.mtime(),
            tv_nsec: m.mtime_nsec(),
        }),
        ctime: now(),
    }
}

struct Copier {
    /// The files with more than one name copied so far, by (device,
    /// inode), sorted.
    links: Vec<((u64, u64), Arc<dyn Inode>)>,
    warnings: u32,
}

impl Copier {
    fn copy_dir(&mut self, host: &Path, dir: &Arc<dyn Inode>) -> Result<(), String> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(host).map_err(|e| at(&host.display(), &e))? {
            // Names are bytes, UTF-8 or not, as on Linux.
            let e = e.map_err(|e| at(&host.display(), &e))?;
            names.push(e.file_name().as_bytes().to_vec());
        }
        sort_names(&mut names);
        for name in names {
            let path = host.join(std::ffi::OsStr::from_bytes(&name));
            let m = path
                .symlink_metadata()
                .map_err(|e| at(&path.display(), &e))?;
            let fail =
                |e: umbra_abi::Errno| format!("{}: cannot add to the image: {e:?}", path.display());
            let t = m.file_type();
            let new = |kind| NewNode {
                kind,
                perm: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                rdev: 0,
                now: now(),
            };
            if t.is_dir() {
                let d = dir.create(&name, &new(FileType::Directory)).map_err(fail)?;
                self.copy_dir(&path, &d)?;
                d.set_metadata(&attrs(&m)).map_err(fail)?;
            } else if t.is_symlink() {
                let target = std::fs::read_link(&path).map_err(|e| at(&path.display(), &e))?;
                let l = dir
                    .symlink(
                        &name,
                        target.as_os_str().as_bytes(),
                        &new(FileType::Symlink),
                    )
                    .map_err(fail)?;
                let mut a = attrs(&m);
                a.perm = None;
                l.set_metadata(&a).map_err(fail)?;
            } else if t.is_file() {
                let key = (m.dev(), m.ino());
                let known = self.links.binary_search_by(|(k, _)| k.cmp(&key));
                if m.nlink() > 1 {
                    if let Ok(i) = known {
                        dir.link(&name, &self.links[i].1, now()).map_err(fail)?;
                        continue;
                    }
                }
                let f = dir.create(&name, &new(FileType::Regular)).map_err(fail)?;
                let src = std::fs::File::open(&path).map_err(|e| at(&path.display(), &e))?;
                let mut buf = vec![0u8; 1 << 20];
                let mut off = 0u64;
                loop {
                    use std::io::Read;
                    let n = (&src).read(&mut buf).map_err(|e| at(&path.display(), &e))?;
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    // Blocks of zeros become holes.
                    if chunk.iter().any(|&b| b != 0) {
                        f.write_at(off, chunk, now()).map_err(fail)?;
                    }
                    off += n as u64;
                }
                f.truncate(off, now()).map_err(fail)?;
                f.set_metadata(&attrs(&m)).map_err(fail)?;
                if let (true, Err(at)) = (m.nlink() > 1, known) {
                    self.links.insert(at, (key, f));
                }
            } else {
                let what = if t.is_fifo() {
                    "fifo"
                } else if t.is_socket() {
                    "socket"
                } else {
                    "device node"
                };
                eprintln!("umbra: skipping {what} {}", path.display());
                self.warnings += 1;
            }
        }
        Ok(())
    }
}

/// `umbra image create DIR -o IMG [--size SIZE] [--block-size N]`.
#[inline(never)]
pub fn create(a: &CreateArgs) -> Result<(), String> {
    let dir = Path::new(&a.dir);
    let dm = dir.metadata().map_err(|e| at(&a.dir, &e))?;
    if !dm.is_dir() {
        return Err(format!("{}: not a directory", a.dir));
    }
    let mut acc = (0u64, 0u64, 0u64);
    measure(dir, &mut acc, &mut Vec::new()).map_err(|e| at(&a.dir, &e))?;
    let size = a
        .size
        .unwrap_or_else(|| ext2::mkfs::suggested_size(acc.0, acc.1, acc.2, a.block_size));
    let dev: Arc<dyn BlockDevice> =
        Arc::new(BlockFile::create(Path::new(&a.out), size).map_err(|e| at(&a.out, &e))?);
    let t = now();
    let mut uuid = [0u8; 16];
    uuid[..8].copy_from_slice(&(t.tv_sec as u64).to_le_bytes());
    uuid[8..12].copy_from_slice(&(t.tv_nsec as u32).to_le_bytes());
    uuid[12..].copy_from_slice(&std::process::id().to_le_bytes());
    let opts = FormatOptions {
        block_size: a.block_size,
        inodes: match a.inodes {
            Some(n) => Inodes::Exactly(n),
            None => Inodes::AtLeast(u32::try_from((acc.1 + acc.2) * 2 + 64).unwrap_or(u32::MAX)),
        },
        inode_size: a.inode_size,
        now: t.tv_sec,
        uuid,
    };
    ext2::format(&dev, &opts).map_err(|e| at(&a.out, &e))?;
    let fs = Ext2Fs::mount(dev, 0, false).map_err(|e| at(&a.out, &e))?;
    let root = fs.root().map_err(|e| format!("{}: {e:?}", a.out))?;
    let mut c = Copier {
        links: Vec::new(),
        warnings: 0,
    };
    c.copy_dir(dir, &root).map_err(|e| {
        if e.contains("ENOSPC") {
            format!("{e} (the image is full: give a larger --size)")
        } else {
            e
        }
    })?;
    root.set_metadata(&attrs(&dm))
        .map_err(|e| format!("{}: {e:?}", a.out))?;
    drop(c);
    drop(root);
    fs.sync().map_err(|e| format!("{}: sync: {e:?}", a.out))?;
    let i = fs.info();
    println!(
        "{}: ext2 rev {}, block size {}, {} inodes, {} blocks, {} free",
        a.out, i.rev, i.block_size, i.inodes, i.blocks, i.free_blocks
    );
    Ok(())
}

/// `umbra image check IMG`: mounts read-only and lists every directory.
#[inline(never)]
pub fn check(img: &str) -> Result<String, String> {
    let dev: Arc<dyn BlockDevice> =
        Arc::new(BlockFile::open(Path::new(img), false).map_err(|e| at(&img, &e))?);
    let fs = Ext2Fs::mount(dev, 0, true).map_err(|e| at(&img, &e))?;
    let root = fs.root().map_err(|e| format!("{img}: root: {e:?}"))?;
    let mut stack = vec![(String::from(""), root)];
    let mut seen = BTreeSet::new();
    while let Some((path, d)) = stack.pop() {
        let mut off = 0;
        loop {
            let ents = d
                .readdir(off, 64)
                .map_err(|e| format!("{img}: cannot read directory {path}/: {e:?}"))?;
            if ents.is_empty() {
                break;
            }
            for e in ents {
                off = e.next_off;
                if e.name == b"." || e.name == b".." {
                    continue;
                }
                let p = format!("{path}/{}", String::from_utf8_lossy(&e.name));
                let c = d
                    .lookup(&e.name)
                    .map_err(|er| format!("{img}: bad entry {p}: {er:?}"))?;
                c.metadata()
                    .map_err(|er| format!("{img}: bad inode at {p}: {er:?}"))?;
                if c.kind() == FileType::Directory && seen.insert(e.ino) {
                    stack.push((p, c));
                }
            }
        }
    }
    let i = fs.info();
    Ok(format!(
        "ok: ext2 rev {}, block size {}, {} inodes, {} blocks, {} free",
        i.rev, i.block_size, i.inodes, i.blocks, i.free_blocks
    ))
}

#[cfg(test)]
mod tests {
    use super::{insert_key, sort_names};

    #[test]
    fn names_sort_bytewise() {
        let mut v: Vec<Vec<u8>> = ["b", "a", "B", "é", "ab", "", "a", "z\u{ff}", "zz"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let mut want = v.clone();
        want.sort();
        sort_names(&mut v);
        assert_eq!(v, want);
        for n in 0..40u8 {
            let mut v: Vec<Vec<u8>> = (0..n).map(|i| vec![i.wrapping_mul(37) % 11, i]).collect();
            let mut want = v.clone();
            want.sort();
            sort_names(&mut v);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn link_keys_are_a_set() {
        let mut k = Vec::new();
        assert!(insert_key(&mut k, (1, 5)));
        assert!(insert_key(&mut k, (1, 2)));
        assert!(insert_key(&mut k, (0, 9)));
        assert!(!insert_key(&mut k, (1, 5)));
        assert_eq!(k, [(0, 9), (1, 2), (1, 5)]);
    }
}
