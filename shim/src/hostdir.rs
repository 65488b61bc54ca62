//! The host side of hostfs (`--root DIR`, `--mount DIR:/path`): a
//! [`HostFs`] over one granted host directory. Handles are fds umbra holds:
//! directories open O_RDONLY|O_DIRECTORY, regular files O_RDONLY (O_RDWR on
//! a write-through mount when the host allows it), everything else O_PATH
//! (a device node of the tree is never opened: the guest's own devices
//! serve its device numbers). Every lookup is one component beneath a
//! directory fd, through `sys::hostdir::open_beneath` (openat2 with
//! RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV), so no guest name, symlink or `..` reaches outside the
//! directory; symlinks are only read (readlinkat), and the guest's VFS
//! follows them inside the guest's name space.

use std::os::fd::IntoRawFd;
use std::path::Path;

use umbra_abi::structs::{Statx, Timespec};
use umbra_core::error::{Errno, KResult};
use umbra_core::fs::hostfs::{Handle, HostDirent, HostFs, HostStat};
use umbra_core::fs::vfs::{makedev, FileType, FsStats, SetAttr};
use umbra_shim::sys::hostdir as sys;

/// One granted host directory.
pub struct HostDir {
    root: i32,
    rw: bool,
}

fn errno(e: umbra_shim::sys::Errno) -> Errno {
    match e.0 {
        // Crossing a host mount point inside the tree, or a symlink/magic
        // link met where the resolution refused it: as if absent.
        18 => Errno::EACCES,
        n => Errno(n),
    }
}

fn handle(fd: i32) -> Handle {
    fd as u32 as Handle
}

fn fd(h: Handle) -> i32 {
    h as u32 as i32
}

fn stat_of(st: &Statx) -> HostStat {
    let ts = |t: umbra_abi::structs::StatxTimestamp| Timespec {
        tv_sec: t.tv_sec,
        tv_nsec: i64::from(t.tv_nsec),
    };
    HostStat {
        dev: makedev(st.stx_dev_major, st.stx_dev_minor),
        ino: st.stx_ino,
        mode: u32::from(st.stx_mode),
        nlink: st.stx_nlink,
        uid: st.stx_uid,
        gid: st.stx_gid,
        rdev: makedev(st.stx_rdev_major, st.stx_rdev_minor),
        size: st.stx_size,
        blksize: st.stx_blksize,
        blocks: st.stx_blocks,
        atime: ts(st.stx_atime),
        mtime: ts(st.stx_mtime),
        ctime: ts(st.stx_ctime),
    }
}

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;

impl HostDir {
    /// Opens the directory `path` (before umbra confines itself); `rw` writes
    /// the guest's changes through.
    pub fn open(path: &Path, rw: bool) -> Result<HostDir, String> {
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = f
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !meta.is_dir() {
            return Err(format!("{}: not a directory", path.display()));
        }
        let root = f.into_raw_fd();
        sys::probe_openat2(root);
        sys::raise_nofile_limit();
        Ok(HostDir { root, rw })
    }

    /// Opens the regular file `path` alone (a bind mount of one file, as
    /// OCI engines make for /etc/hosts), before umbra confines itself: the
    /// handle is that file's fd, open for reading (and writing with `rw`),
    /// and nothing else is reachable through it (no name is looked up
    /// beneath a file). Reads see the host file as it is now; with `rw`,
    /// writes go through. As a Linux bind mount, it stays on the file it
    /// found: one the host puts in its place by rename is not seen.
    pub fn open_file(path: &Path, rw: bool) -> Result<HostDir, String> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(rw)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = f
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{}: not a regular file", path.display()));
        }
        sys::raise_nofile_limit();
        Ok(HostDir {
            root: f.into_raw_fd(),
            rw,
        })
    }

    /// The fd of the granted directory, and whether it is written through.
    pub fn grant(&self) -> (i32, bool) {
        (self.root, self.rw)
    }

    /// Opens `name` beneath `dir` as a handle: O_PATH first, then, for a
    /// directory or a regular file, the same node again for I/O (checked to
    /// be the same node).
    fn open_node(&self, dir: i32, name: &[u8]) -> KResult<(Handle, HostStat)> {
        let p = sys::open_beneath(dir, name, sys::O_PATH, 0).map_err(errno)?;
        let st = match sys::stat_fd(p) {
            Ok(st) => st,
            Err(e) => {
                sys::close(p);
                return Err(errno(e));
            }
        };
        let kind = u32::from(st.stx_mode) & S_IFMT;
        let flags = match kind {
            S_IFDIR => sys::O_RDONLY | sys::O_DIRECTORY,
            S_IFREG if self.rw => sys::O_RDWR,
            S_IFREG => sys::O_RDONLY,
            _ => return Ok((handle(p), stat_of(&st))),
        };
        let mut r = sys::open_beneath(dir, name, flags, 0);
        if kind == S_IFREG && self.rw && r.is_err() {
            r = sys::open_beneath(dir, name, sys::O_RDONLY, 0);
        }
        sys::close(p);
        let f = r.map_err(errno)?;
        match sys::stat_fd(f) {
            Ok(st2)
                if (st2.stx_ino, st2.stx_dev_major, st2.stx_dev_minor)
                    == (st.stx_ino, st.stx_dev_major, st.stx_dev_minor) =>
            {
                Ok((handle(f), stat_of(&st2)))
            }
            Ok(_) => {
                // Replaced between the two opens (on the host): try again later.
                sys::close(f);
                Err(Errno::EAGAIN)
            }
            Err(e) => {
                sys::close(f);
                Err(errno(e))
            }
        }
    }
}

impl HostFs for HostDir {
    fn root(&self) -> KResult<(Handle, HostStat)> {
        let st = sys::stat_fd(self.root).map_err(errno)?;
        Ok((handle(self.root), stat_of(&st)))
    }

    fn lookup(&self, dir: Handle, name: &[u8]) -> KResult<(Handle, HostStat)> {
        if name == b"." {
            return Err(Errno::EINVAL);
        }
        self.open_node(fd(dir), name)
    }

    fn stat(&self, node: Handle) -> KResult<HostStat> {
        sys::stat_fd(fd(node)).map(|s| stat_of(&s)).map_err(errno)
    }

    fn read(&self, node: Handle, off: u64, buf: &mut [u8]) -> KResult<usize> {
        sys::pread(fd(node), off, buf).map_err(errno)
    }

    fn readdir(&self, dir: Handle) -> KResult<Vec<HostDirent>> {
        // A fresh description of the directory: its position starts at 0.
        let d =
            sys::open_beneath(fd(dir), b".", sys::O_RDONLY | sys::O_DIRECTORY, 0).map_err(errno)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 << 10];
        let r = loop {
            let n = match sys::getdents(d, &mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) => break Err(errno(e)),
            };
            let mut at = 0;
            while at + 19 <= n {
                let ino = u64::from_ne_bytes(buf[at..at + 8].try_into().unwrap_or([0; 8]));
                let reclen = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
                let dtype = buf[at + 18];
                if reclen < 19 || at + reclen > n {
                    break;
                }
                let raw = &buf[at + 19..at + reclen];
                let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                out.push(HostDirent {
                    name: raw[..len].to_vec(),
                    ino,
                    kind: FileType::from_dirent_type(dtype),
                });
                at += reclen;
            }
        };
        sys::close(d);
        r.map(|()| out)
    }

    fn statfs(&self) -> KResult<FsStats> {
        let [_, bsize, blocks, bfree, bavail, files, ffree, namelen, frsize] =
            sys::statfs_fd(self.root).map_err(errno)?;
        let small = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(FsStats {
            bsize: small(bsize),
            blocks,
            bfree,
            bavail,
            files,
            ffree,
            namelen: small(namelen),
            frsize: small(frsize),
            ..FsStats::default()
        })
    }

    fn readlink(&self, node: Handle) -> KResult<Vec<u8>> {
        sys::readlink_fd(fd(node)).map_err(errno)
    }

    fn release(&self, node: Handle) {
        sys::close(fd(node));
    }

    fn write(&self, node: Handle, off: u64, buf: &[u8]) -> KResult<usize> {
        if !self.rw {
            return Err(Errno::EROFS);
        }
        sys::pwrite(fd(node), off, buf).map_err(|e| match e.0 {
            9 => Errno::EACCES, // opened read-only: the host refused O_RDWR
            n => Errno(n),
        })
    }

    fn truncate(&self, node: Handle, size: u64) -> KResult<()> {
        if !self.rw {
            return Err(Errno::EROFS);
        }
        sys::ftruncate(fd(node), size).map_err(|e| match e.0 {
            9 | 22 => Errno::EACCES,
            n => Errno(n),
        })
    }

    fn fsync(&self, node: Handle) -> KResult<()> {
        if !self.rw {
            return Ok(());
        }
        match sys::fsync(fd(node)) {
            Ok(()) | Err(umbra_shim::sys::Errno(9)) => Ok(()),
            Err(e) => Err(errno(e)),
        }
    }

    fn create(
        &self,
        dir: Handle,
        name: &[u8],
        kind: FileType,
        perm: u32,
    ) -> KResult<(Handle, HostStat)> {
        if !self.rw {
            return Err(Errno::EROFS);
        }
        let perm = perm & 0o7777;
        match kind {
            FileType::Regular => {
                let f = sys::open_beneath(
                    fd(dir),
                    name,
                    sys::O_RDWR | sys::O_CREAT | sys::O_EXCL,
                    perm,
                )
                .map_err(errno)?;
                let st = sys::stat_fd(f).map_err(errno);
                match st {
                    Ok(st) => return Ok((handle(f), stat_of(&st))),
                    Err(e) => {
                        sys::close(f);
                        return Err(e);
                    }
                }
            }
            FileType::Directory => sys::mkdir_at(fd(dir), name, perm).map_err(errno)?,
            FileType::Fifo | FileType::Socket => {
                sys::mknod_at(fd(dir), name, kind.mode_bits() | perm).map_err(errno)?
            }
            _ => return Err(Errno::EPERM),
        }
        self.open_node(fd(dir), name)
    }

    fn symlink(&self, dir: Handle, name: &[u8], target: &[u8]) -> KResult<(Handle, HostStat)> {
        if !self.rw {
            return Err(Errno::EROFS);
        }
        sys::symlink_at(target, fd(dir), name).map_err(errno)?;
        self.open_node(fd(dir), name)
    }

    fn link(&self, dir: Handle, name: &[u8], target: Handle) -> KResult<()> {
        if !self.rw {
            return Err(Errno::EROFS);
        }
        sys::link_fd(fd(target), fd(dir), name).map_err(errno)
    }

    fn unlink(&self, dir: Handle, name: &[u8], is_dir: bool) -> KResult<()> {
        if !self.rw {
            return Err(Errno::EROFS);
        }
        sys::unlink_at(fd(dir), name, is_dir).map_err(errno)
    }

    fn rename(&self, from: Handle, name: &[u8], to: Handle, new: &[u8]) -> KResult<()> {
        if !self.rw {
            return Err(Errno::EROFS);
        }
        sys::rename_at(fd(from), name, fd(to), new).map_err(errno)
    }

    fn set_attr(&self, node: Handle, attr: &SetAttr) -> KResult<()> {
        if !self.rw {
            return Err(Errno::EROFS);
        }
        let f = fd(node);
        if attr.uid.is_some() || attr.gid.is_some() {
            sys::chown_fd(
                f,
                attr.uid.unwrap_or(u32::MAX),
                attr.gid.unwrap_or(u32::MAX),
            )
            .map_err(errno)?;
        }
        if let Some(p) = attr.perm {
            // An O_PATH fd (fifo, socket) is chmodded by fchmodat2 with an
            // empty path (Linux 6.6); before that kernel, EOPNOTSUPP rather
            // than a silent success.
            match sys::chmod_fd(f, p & 0o7777) {
                Err(umbra_shim::sys::Errno(9)) => {
                    sys::chmod_path_fd(f, p & 0o7777).map_err(|e| match e.0 {
                        38 | 22 => Errno::EOPNOTSUPP,
                        n => Errno(n),
                    })?
                }
                r => r.map_err(errno)?,
            }
        }
        if attr.atime.is_some() || attr.mtime.is_some() {
            let t = |t: Option<Timespec>| match t {
                Some(t) => [t.tv_sec, t.tv_nsec],
                None => [0, sys::UTIME_OMIT],
            };
            sys::utimens_fd(f, [t(attr.atime), t(attr.mtime)]).map_err(errno)?;
        }
        Ok(())
    }
}
