//! The VFS object model: what every filesystem provides ([`Inode`]), what special
//! files provide ([`FileOps`]), and what those need from the host ([`IoCtx`]).
//!
//! Inodes are shared (`Arc<dyn Inode>`) and use interior mutability, so one object
//! serves every path, open file and hard link that reaches it. Every method has a
//! default that returns the errno Linux gives when the operation does not apply
//! (ENOTDIR for directory operations on a non-directory, EINVAL for readlink on a
//! non-symlink, ...), so a filesystem implements only what its node kinds support.
//! Time is always passed in (`now`); nothing here reads a clock.
//!
//! Names and symlink targets are bytes (`&[u8]`), as on Linux: any byte but
//! '/' and NUL may be in a name, UTF-8 or not.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use bitflags::bitflags;
use umbra_abi::flags::{
    DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN, S_IFBLK, S_IFCHR,
    S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
};
use umbra_abi::structs::{StatGeneric, StatX86_64, Statx, StatxTimestamp, Timespec, Winsize};

use crate::error::{Errno, KResult};
use crate::host::{ConsoleRead, ConsoleStream, HostConsole, HostError, HostMisc, HostTime};

/// Longest file name component (NAME_MAX).
pub const NAME_MAX: usize = 255;
/// Longest path, including the terminating NUL (PATH_MAX).
pub const PATH_MAX: usize = 4096;

/// The kind of a node, as the `S_IFMT` bits of `st_mode` tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl FileType {
    /// The `S_IFMT` bits of this type.
    pub const fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => S_IFREG,
            FileType::Directory => S_IFDIR,
            FileType::Symlink => S_IFLNK,
            FileType::CharDevice => S_IFCHR,
            FileType::BlockDevice => S_IFBLK,
            FileType::Fifo => S_IFIFO,
            FileType::Socket => S_IFSOCK,
        }
    }

    /// The type named by the `S_IFMT` bits of `mode`, if they name one.
    pub const fn from_mode(mode: u32) -> Option<FileType> {
        match mode & S_IFMT {
            S_IFREG => Some(FileType::Regular),
            S_IFDIR => Some(FileType::Directory),
            S_IFLNK => Some(FileType::Symlink),
            S_IFCHR => Some(FileType::CharDevice),
            S_IFBLK => Some(FileType::BlockDevice),
            S_IFIFO => Some(FileType::Fifo),
            S_IFSOCK => Some(FileType::Socket),
            _ => None,
        }
    }

    /// The linux_dirent64 `d_type` of this type.
    pub const fn dirent_type(self) -> u8 {
        match self {
            FileType::Regular => DT_REG,
            FileType::Directory => DT_DIR,
            FileType::Symlink => DT_LNK,
            FileType::CharDevice => DT_CHR,
            FileType::BlockDevice => DT_BLK,
            FileType::Fifo => DT_FIFO,
            FileType::Socket => DT_SOCK,
        }
    }

    /// The type of a `d_type` value; `DT_UNKNOWN` and unknown values give `None`.
    pub const fn from_dirent_type(t: u8) -> Option<FileType> {
        match t {
            DT_REG => Some(FileType::Regular),
            DT_DIR => Some(FileType::Directory),
            DT_LNK => Some(FileType::Symlink),
            DT_CHR => Some(FileType::CharDevice),
            DT_BLK => Some(FileType::BlockDevice),
            DT_FIFO => Some(FileType::Fifo),
            DT_SOCK => Some(FileType::Socket),
            DT_UNKNOWN => None,
            _ => None,
        }
    }
}

/// Encodes a device number as Linux's `new_encode_dev` does (what `st_rdev` holds).
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
}

/// The major number of a device number made by [`makedev`].
pub const fn dev_major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

/// The minor number of a device number made by [`makedev`].
pub const fn dev_minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// A device number in the 32-bit form of the old stat (major and minor below
/// 4096 and 1M, as Linux's new_encode_dev).
pub const fn new_encode_dev32(dev: u64) -> u32 {
    let (ma, mi) = (dev_major(dev), dev_minor(dev));
    (mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12)
}

/// Nanoseconds since the epoch as a timespec.
pub const fn timespec_from_ns(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
    }
}

/// What `stat` reports about a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub dev: u64,
    pub ino: u64,
    /// Type bits (`S_IFMT`) and permission bits.
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u32,
    /// 512-byte units allocated.
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl Metadata {
    /// The node type, from the mode bits.
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(self.mode)
    }

    /// The permission bits (including setuid, setgid and sticky).
    pub fn perm(&self) -> u32 {
        self.mode & 0o7777
    }

    /// struct stat of x86_64.
    pub fn to_stat_x86_64(&self) -> StatX86_64 {
        StatX86_64 {
            st_dev: self.dev,
            st_ino: self.ino,
            st_nlink: u64::from(self.nlink),
            st_mode: self.mode,
            st_uid: self.uid,
            st_gid: self.gid,
            st_rdev: self.rdev,
            st_size: clamp_i64(self.size),
            st_blksize: i64::from(self.blksize),
            st_blocks: clamp_i64(self.blocks),
            st_atime: self.atime.tv_sec,
            st_atime_nsec: self.atime.tv_nsec,
            st_mtime: self.mtime.tv_sec,
            st_mtime_nsec: self.mtime.tv_nsec,
            st_ctime: self.ctime.tv_sec,
            st_ctime_nsec: self.ctime.tv_nsec,
            ..StatX86_64::default()
        }
    }

    /// struct stat of asm-generic (aarch64).
    pub fn to_stat_generic(&self) -> StatGeneric {
        StatGeneric {
            st_dev: self.dev,
            st_ino: self.ino,
            st_mode: self.mode,
            st_nlink: self.nlink,
            st_uid: self.uid,
            st_gid: self.gid,
            st_rdev: self.rdev,
            st_size: clamp_i64(self.size),
            st_blksize: i32::try_from(self.blksize).unwrap_or(i32::MAX),
            st_blocks: clamp_i64(self.blocks),
            st_atime: self.atime.tv_sec,
            st_atime_nsec: self.atime.tv_nsec,
            st_mtime: self.mtime.tv_sec,
            st_mtime_nsec: self.mtime.tv_nsec,
            st_ctime: self.ctime.tv_sec,
            st_ctime_nsec: self.ctime.tv_nsec,
            ..StatGeneric::default()
        }
    }

    /// struct stat64 of 32-bit ARM.
    pub fn to_stat64_arm(&self) -> umbra_abi::structs::Stat64Arm {
        umbra_abi::structs::Stat64Arm {
            st_dev: self.dev,
            __st_ino: self.ino as u32,
            st_mode: self.mode,
            st_nlink: self.nlink,
            st_uid: self.uid,
            st_gid: self.gid,
            st_rdev: self.rdev,
            st_size: clamp_i64(self.size),
            st_blksize: self.blksize,
            st_blocks: self.blocks,
            st_atime: self.atime.tv_sec as u32,
            st_atime_nsec: self.atime.tv_nsec as u32,
            st_mtime: self.mtime.tv_sec as u32,
            st_mtime_nsec: self.mtime.tv_nsec as u32,
            st_ctime: self.ctime.tv_sec as u32,
            st_ctime_nsec: self.ctime.tv_nsec as u32,
            st_ino: self.ino,
            ..Default::default()
        }
    }

    /// The old struct stat of 32-bit ARM (stat, lstat, fstat): EOVERFLOW when
    /// the size or the inode number does not fit, as Linux's cp_old_stat.
    pub fn to_stat_arm(&self) -> Result<umbra_abi::structs::StatArm, Errno> {
        let small = |v: u64| u32::try_from(v).map_err(|_| Errno::EOVERFLOW);
        Ok(umbra_abi::structs::StatArm {
            st_dev: new_encode_dev32(self.dev),
            st_ino: small(self.ino)?,
            st_mode: self.mode as u16,
            st_nlink: self.nlink.min(u16::MAX as u32) as u16,
            st_uid: self.uid.min(u16::MAX as u32) as u16,
            st_gid: self.gid.min(u16::MAX as u32) as u16,
            st_rdev: new_encode_dev32(self.rdev),
            st_size: u32::try_from(self.size)
                .ok()
                .filter(|s| *s <= i32::MAX as u32)
                .ok_or(Errno::EOVERFLOW)?,
            st_blksize: self.blksize,
            st_blocks: small(self.blocks)?,
            st_atime: self.atime.tv_sec as u32,
            st_atime_nsec: self.atime.tv_nsec as u32,
            st_mtime: self.mtime.tv_sec as u32,
            st_mtime_nsec: self.mtime.tv_nsec as u32,
            st_ctime: self.ctime.tv_sec as u32,
            st_ctime_nsec: self.ctime.tv_nsec as u32,
            _unused: [0; 2],
        })
    }

    /// struct stat as this build's guest sees it (struct stat64 on 32-bit ARM).
    pub fn to_stat(&self) -> umbra_abi::structs::Stat {
        #[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
        {
            self.to_stat_x86_64()
        }
        #[cfg(target_arch = "aarch64")]
        {
            self.to_stat_generic()
        }
        #[cfg(target_arch = "arm")]
        {
            self.to_stat64_arm()
        }
    }

    /// struct statx with the basic stats filled in.
    pub fn to_statx(&self) -> Statx {
        let ts = |t: Timespec| StatxTimestamp {
            tv_sec: t.tv_sec,
            tv_nsec: u32::try_from(t.tv_nsec).unwrap_or(0),
            _pad: 0,
        };
        Statx {
            stx_mask: umbra_abi::structs::STATX_BASIC_STATS,
            stx_blksize: self.blksize,
            stx_nlink: self.nlink,
            stx_uid: self.uid,
            stx_gid: self.gid,
            stx_mode: (self.mode & 0xffff) as u16,
            stx_ino: self.ino,
            stx_size: self.size,
            stx_blocks: self.blocks,
            stx_atime: ts(self.atime),
            stx_ctime: ts(self.ctime),
            stx_mtime: ts(self.mtime),
            stx_rdev_major: dev_major(self.rdev),
            stx_rdev_minor: dev_minor(self.rdev),
            stx_dev_major: dev_major(self.dev),
            stx_dev_minor: dev_minor(self.dev),
            ..Statx::default()
        }
    }
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Changes made by chmod, chown, utimes. `None` leaves a field as it is; `ctime`
/// is always set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits (the type bits are ignored).
    pub perm: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub atime: Option<Timespec>,
    pub mtime: Option<Timespec>,
    pub ctime: Timespec,
}

impl SetAttr {
    /// A change of nothing but ctime.
    pub const fn touch(now: Timespec) -> SetAttr {
        SetAttr {
            perm: None,
            uid: None,
            gid: None,
            atime: None,
            mtime: None,
            ctime: now,
        }
    }
}

/// The attributes of a node being created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewNode {
    pub kind: FileType,
    /// Permission bits, umask already applied.
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    /// Device number for device nodes, else 0.
    pub rdev: u64,
    pub now: Timespec,
}

/// One directory entry as `readdir` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name: any bytes but '/' and NUL, as on Linux (not necessarily UTF-8).
    pub name: Vec<u8>,
    pub ino: u64,
    pub kind: FileType,
    /// The cursor that continues after this entry (what `d_off` reports).
    pub next_off: u64,
}

/// Who is asking: the filesystem credentials of the calling task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Cred {
    /// uid 0, gid 0.
    pub const fn root() -> Cred {
        Cred {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
        }
    }

    /// A user without supplementary groups.
    pub const fn user(uid: u32, gid: u32) -> Cred {
        Cred {
            uid,
            gid,
            groups: Vec::new(),
        }
    }

    /// Whether this is the superuser, which bypasses permission checks.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// The caller's side of a path operation: credentials, umask, the time now
/// and the root directory.
#[derive(Clone, Debug)]
pub struct FsCtx {
    pub cred: Cred,
    /// The process umask (only its 0o777 bits are used).
    pub umask: u32,
    pub now: Timespec,
    /// The process's root directory (chroot); `None` is the name space's.
    pub root: Option<super::path::PathRef>,
}

impl FsCtx {
    /// Root, umask 022, time 0: for boot-time setup and tests.
    pub fn boot() -> FsCtx {
        FsCtx {
            cred: Cred::root(),
            umask: 0o022,
            now: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            root: None,
        }
    }

    /// The permission bits of a new node asked for with `mode`.
    pub fn new_perm(&self, mode: u32) -> u32 {
        mode & 0o7777 & !(self.umask & 0o777)
    }
}

bitflags! {
    /// Access wanted, as the `R_OK`/`W_OK`/`X_OK` bits of access(2).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Access: u32 {
        const READ = 4;
        const WRITE = 2;
        const EXEC = 1;
    }
}

/// Checks `want` against a node's owner, group and mode for `cred` (EACCES).
///
/// Root bypasses read and write checks, and execute checks when any execute bit is
/// set or the node is a directory, as Linux's `generic_permission` does.
pub fn check_access(meta: &Metadata, cred: &Cred, want: Access) -> KResult<()> {
    if cred.is_root() {
        let is_dir = meta.mode & S_IFMT == S_IFDIR;
        if !want.contains(Access::EXEC) || is_dir || meta.mode & 0o111 != 0 {
            return Ok(());
        }
        return Err(Errno::EACCES);
    }
    let bits = if cred.uid == meta.uid {
        (meta.mode >> 6) & 7
    } else if cred.in_group(meta.gid) {
        (meta.mode >> 3) & 7
    } else {
        meta.mode & 7
    };
    if bits & want.bits() == want.bits() {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// A node of some filesystem. Object-safe; every method takes `&self` and the
/// implementation uses interior mutability.
pub trait Inode: Send + Sync {
    /// For downcasting to the concrete type (same-filesystem checks).
    fn as_any(&self) -> &dyn Any;

    /// The node's type. Infallible: a filesystem knows it once the object exists.
    fn kind(&self) -> FileType;

    /// What `stat` reports.
    fn metadata(&self) -> KResult<Metadata>;

    /// chmod, chown, utimes.
    fn set_metadata(&self, _attr: &SetAttr) -> KResult<()> {
        Err(Errno::EPERM)
    }

    /// Reads at `off`; returns the bytes read, 0 at or past end of file.
    fn read_at(&self, _off: u64, _buf: &mut [u8]) -> KResult<usize> {
        Err(not_a_file(self.kind()))
    }

    /// Writes at `off`, growing the file (zero-filled) as needed; returns bytes
    /// written.
    fn write_at(&self, _off: u64, _buf: &[u8], _now: Timespec) -> KResult<usize> {
        Err(not_a_file(self.kind()))
    }

    /// Whether read(2) and write(2) hand this file guest memory in pieces
    /// ([`Self::read_vectored_at`], [`Self::write_vectored_at`]), with no
    /// kernel buffer between: files whose bytes the kernel holds or reads
    /// from a block device in one call per run (tmpfs, ext2). Others are
    /// read through a kernel buffer, one `read_at` per chunk (a host file
    /// read per piece, or procfs text made per call, would cost more).
    fn direct_io(&self) -> bool {
        false
    }

    /// Reads at `off` into `bufs`, in order, as one read of their total
    /// length (read(2) straight into guest memory); short only at end of
    /// file or when a later buffer fails after an earlier one was filled.
    /// Filesystems that can fill several buffers in one device read (ext2)
    /// override it.
    fn read_vectored_at(&self, off: u64, bufs: &mut [&mut [u8]]) -> KResult<usize> {
        let mut done = 0usize;
        for b in bufs.iter_mut() {
            let n = match self.read_at(off.saturating_add(done as u64), b) {
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            done += n;
            if n < b.len() {
                break;
            }
        }
        Ok(done)
    }

    /// Writes `bufs`, in order, at `off` as one write of their total length
    /// (write(2) straight from guest memory); returns the bytes written.
    fn write_vectored_at(&self, off: u64, bufs: &[&[u8]], now: Timespec) -> KResult<usize> {
        let mut done = 0usize;
        for b in bufs.iter().filter(|b| !b.is_empty()) {
            let n = match self.write_at(off.saturating_add(done as u64), b, now) {
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            done += n;
            if n < b.len() {
                break;
            }
        }
        Ok(done)
    }

    /// Sets the size, dropping or zero-filling data.
    fn truncate(&self, _size: u64, _now: Timespec) -> KResult<()> {
        Err(not_a_file(self.kind()))
    }

    /// The inode flags of FS_IOC_GETFLAGS ([`inode_flags`]); ENOTTY on a
    /// filesystem without them.
    fn attr_flags(&self) -> KResult<u32> {
        Err(Errno::ENOTTY)
    }

    /// Sets the user-modifiable inode flags (FS_IOC_SETFLAGS); the caller
    /// has checked the permissions.
    fn set_attr_flags(&self, _flags: u32, _now: Timespec) -> KResult<()> {
        Err(Errno::ENOTTY)
    }

    /// Flushes the node's data and metadata to its backing store.
    fn fsync(&self) -> KResult<()> {
        Ok(())
    }

    /// Finds `name` in this directory (ENOENT if absent).
    fn lookup(&self, _name: &[u8]) -> KResult<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Creates a node (not a symlink) named `name` in this directory; EEXIST if
    /// the name is taken.
    fn create(&self, _name: &[u8], _attr: &NewNode) -> KResult<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Creates a symlink `name` → `target` (`attr.kind` is `Symlink`).
    fn symlink(&self, _name: &[u8], _target: &[u8], _attr: &NewNode) -> KResult<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Adds a hard link `name` to `target` (EXDEV if another filesystem, EPERM for
    /// directories).
    fn link(&self, _name: &[u8], _target: &Arc<dyn Inode>, _now: Timespec) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }

    /// Removes the non-directory `name` (EISDIR for a directory).
    fn unlink(&self, _name: &[u8], _now: Timespec) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }

    /// Removes the empty directory `name`.
    fn rmdir(&self, _name: &[u8], _now: Timespec) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }

    /// Moves `old_name` of this directory to `new_name` of `new_dir`, replacing
    /// what is there under rename(2)'s rules. EXDEV when `new_dir` belongs to
    /// another filesystem.
    fn rename(
        &self,
        _old_name: &[u8],
        _new_dir: &Arc<dyn Inode>,
        _new_name: &[u8],
        _now: Timespec,
    ) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }

    /// The target of a symlink (bytes, as stored).
    fn readlink(&self) -> KResult<Vec<u8>> {
        Err(Errno::EINVAL)
    }

    /// Directory entries from cursor `offset` on, at most `max` of them (at least
    /// one if any remain). Cursor 0 starts with "." and "..". Cursors stay valid
    /// while entries are added or removed.
    fn readdir(&self, _offset: u64, _max: usize) -> KResult<Vec<DirEntry>> {
        Err(Errno::ENOTDIR)
    }

    /// Stream semantics of a special file (procfs, pipes), used instead of
    /// `read_at`/`write_at` when the node is opened. Device nodes are looked up
    /// in the VFS's device table by `rdev` instead.
    fn file_ops(&self) -> Option<Arc<dyn FileOps>> {
        None
    }

    /// What statfs(2) reports for the filesystem holding this node, for a
    /// filesystem with figures of its own (ext2). `None` lets the caller answer
    /// by the mount's type (memory figures for tmpfs, zeros for procfs).
    fn statfs(&self) -> Option<FsStats> {
        None
    }
}

/// A filesystem's figures as statfs(2) reports them (struct kstatfs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsStats {
    /// The magic number (EXT2_SUPER_MAGIC, TMPFS_MAGIC, ...).
    pub f_type: u32,
    pub bsize: u32,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: [i32; 2],
    pub namelen: u32,
    pub frsize: u32,
    /// ST_* flags of the filesystem itself (ST_RDONLY); the mount's flags are
    /// added by the caller.
    pub flags: u32,
}

/// statfs f_flags bits (ST_* of <sys/statvfs.h>, as Linux's statfs reports them).
pub mod st_flags {
    pub const ST_RDONLY: u32 = 0x0001;
    pub const ST_NOSUID: u32 = 0x0002;
    pub const ST_NODEV: u32 = 0x0004;
    pub const ST_NOEXEC: u32 = 0x0008;
    /// Always set by Linux: f_flags is valid.
    pub const ST_VALID: u32 = 0x0020;
    pub const ST_RELATIME: u32 = 0x1000;
}

/// Inode flags (FS_*_FL of <linux/fs.h>, ext2's i_flags).
pub mod inode_flags {
    pub const SECRM: u32 = 0x1;
    pub const UNRM: u32 = 0x2;
    pub const COMPR: u32 = 0x4;
    pub const SYNC: u32 = 0x8;
    pub const IMMUTABLE: u32 = 0x10;
    pub const APPEND: u32 = 0x20;
    pub const NODUMP: u32 = 0x40;
    pub const NOATIME: u32 = 0x80;
    pub const DIRSYNC: u32 = 0x1_0000;
    pub const TOPDIR: u32 = 0x2_0000;
    /// What FS_IOC_SETFLAGS may change on ext2 (EXT2_FL_USER_MODIFIABLE).
    pub const EXT2_USER_MODIFIABLE: u32 = 0x0003_80ff;
    /// What FS_IOC_GETFLAGS shows on ext2 (EXT2_FL_USER_VISIBLE).
    pub const EXT2_USER_VISIBLE: u32 = 0x0004_bdff;
}

/// EPERM when the node's inode flags forbid changing it (immutable, or
/// append-only): unlink, rename, link, chmod, chown, truncate.
pub fn check_not_frozen(inode: &dyn Inode) -> KResult<()> {
    match inode.attr_flags() {
        Ok(f) if f & (inode_flags::IMMUTABLE | inode_flags::APPEND) != 0 => Err(Errno::EPERM),
        _ => Ok(()),
    }
}

/// EPERM when `dir` is immutable or append-only and an entry would be
/// removed or renamed, or immutable and one would be added (`adding`).
pub fn check_dir_flags(dir: &dyn Inode, adding: bool) -> KResult<()> {
    let f = dir.attr_flags().unwrap_or(0);
    let mask = if adding {
        inode_flags::IMMUTABLE
    } else {
        inode_flags::IMMUTABLE | inode_flags::APPEND
    };
    if f & mask != 0 {
        Err(Errno::EPERM)
    } else {
        Ok(())
    }
}

/// EXT2_SUPER_MAGIC.
pub const EXT2_SUPER_MAGIC: u32 = 0xef53;
/// TMPFS_MAGIC (also devtmpfs).
pub const TMPFS_MAGIC: u32 = 0x0102_1994;
/// PROC_SUPER_MAGIC.
pub const PROC_SUPER_MAGIC: u32 = 0x9fa0;
/// PIPEFS_MAGIC.
pub const PIPEFS_MAGIC: u32 = 0x5049_5045;

/// The errno of a data operation on a node that has no data.
fn not_a_file(kind: FileType) -> Errno {
    match kind {
        FileType::Directory => Errno::EISDIR,
        _ => Errno::EINVAL,
    }
}

bitflags! {
    /// poll(2) events.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct PollEvents: u16 {
        const POLLIN = 0x001;
        const POLLPRI = 0x002;
        const POLLOUT = 0x004;
        const POLLERR = 0x008;
        const POLLHUP = 0x010;
        const POLLNVAL = 0x020;
        const POLLRDNORM = 0x040;
        const POLLRDBAND = 0x080;
        const POLLWRNORM = 0x100;
        const POLLWRBAND = 0x200;
        const POLLRDHUP = 0x2000;
    }
}

/// What devices need from the host. The kernel gets it for free through the
/// blanket impl over the Host sub-traits.
pub trait IoCtx {
    /// Non-blocking read from the host's stdin.
    fn console_read(&mut self, buf: &mut [u8]) -> Result<ConsoleRead, HostError>;
    /// Writes to a host console stream.
    fn console_write(&mut self, stream: ConsoleStream, data: &[u8]) -> Result<usize, HostError>;
    /// Whether the host stream is a terminal.
    fn console_is_tty(&self, stream: ConsoleStream) -> bool;
    /// The host terminal's size.
    fn console_winsize(&self) -> Option<Winsize>;
    /// Whether the host's stdin is a terminal that hung up (see
    /// [`HostConsole::console_hung_up`]).
    fn console_hung_up(&self) -> bool {
        false
    }
    /// Random bytes.
    fn random(&mut self, buf: &mut [u8]);
    /// Wall-clock time in nanoseconds since the epoch.
    fn now_real(&self) -> u64;
    /// The host's monotonic clock, ns (timerfd). Both real contexts (the
    /// host and the kernel's) give it; the default 0 is for test contexts
    /// that have no clock.
    fn now_mono(&self) -> u64 {
        0
    }
    /// The signals pending for the calling thread, its own and its
    /// process's (signalfd's poll); none outside a syscall.
    fn signals_pending(&self) -> u64 {
        0
    }
    /// Takes one pending signal of `mask` from the calling thread (its own
    /// first, then its process's) as a struct signalfd_siginfo (signalfd's
    /// read); none outside a syscall.
    fn take_signal(&mut self, _mask: u64) -> Option<[u8; 128]> {
        None
    }
    /// When a signal was last queued for the calling thread or its process,
    /// as a [`wake_clock`] stamp (signalfd's wake-ups, for edge-triggered
    /// epoll); 0 outside a syscall.
    fn signal_wakes(&self) -> u64 {
        0
    }
    /// The kernel's processes as procfs files show them, when the caller is
    /// the kernel serving a read (see fs/procfs.rs).
    fn proc_view(&self) -> Option<&dyn super::procfs::ProcView> {
        None
    }
    /// The host's network, if the policy grants some (see
    /// [`HostMisc::host_net`]).
    fn host_net(&mut self) -> Option<&mut dyn crate::host::HostNet> {
        None
    }
}

impl<T: HostConsole + HostMisc + HostTime> IoCtx for T {
    fn console_read(&mut self, buf: &mut [u8]) -> Result<ConsoleRead, HostError> {
        HostConsole::console_read(self, buf)
    }
    fn console_write(&mut self, stream: ConsoleStream, data: &[u8]) -> Result<usize, HostError> {
        HostConsole::console_write(self, stream, data)
    }
    fn console_is_tty(&self, stream: ConsoleStream) -> bool {
        HostConsole::console_is_tty(self, stream)
    }
    fn console_winsize(&self) -> Option<Winsize> {
        HostConsole::console_winsize(self)
    }
    fn console_hung_up(&self) -> bool {
        HostConsole::console_hung_up(self)
    }
    fn random(&mut self, buf: &mut [u8]) {
        HostMisc::random(self, buf)
    }
    fn now_real(&self) -> u64 {
        HostTime::now_real(self)
    }
    fn host_net(&mut self) -> Option<&mut dyn crate::host::HostNet> {
        HostMisc::host_net(self)
    }
    fn now_mono(&self) -> u64 {
        HostTime::now_mono(self)
    }
}

/// The memory an ioctl argument points at. The syscall layer implements it over
/// the caller's address space (EFAULT on a bad pointer); the fs layer never
/// touches user memory itself.
pub trait IoctlArg {
    /// The raw argument value.
    fn raw(&self) -> u64;
    /// Copies `buf.len()` bytes in from the argument pointer.
    fn read_in(&mut self, buf: &mut [u8]) -> KResult<()>;
    /// Copies `data` out to the argument pointer.
    fn write_out(&mut self, data: &[u8]) -> KResult<()>;
}

/// Stream semantics of special files (devices, later pipes and sockets). Would-block
/// is `Err(EAGAIN)`; the syscall layer decides whether to block and retry.
pub trait FileOps: Send + Sync {
    /// Reads at `off` (ignored unless seekable).
    fn read(&self, ctx: &mut dyn IoCtx, off: u64, buf: &mut [u8]) -> KResult<usize>;
    /// Writes at `off` (ignored unless seekable).
    fn write(&self, ctx: &mut dyn IoCtx, off: u64, buf: &[u8]) -> KResult<usize>;
    /// Readiness now.
    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        PollEvents::POLLIN | PollEvents::POLLOUT
    }
    /// A device-specific request.
    fn ioctl(&self, _ctx: &mut dyn IoCtx, _cmd: u32, _arg: &mut dyn IoctlArg) -> KResult<usize> {
        Err(Errno::ENOTTY)
    }
    /// Whether the file has a position (lseek, pread and pwrite work).
    fn seekable(&self) -> bool {
        false
    }
    /// What fstat reports when the file has no inode (e.g. the console on fd 0).
    fn stat(&self) -> Option<Metadata> {
        None
    }
    /// For downcasting (e.g. to find a console file).
    fn as_any(&self) -> &dyn Any;
    /// Whether epoll may watch the file: Linux's test that the file has a
    /// `poll` method. Files whose Linux counterpart has none (/dev/null,
    /// /dev/zero, /dev/full, /dev/urandom) say `false`, and epoll_ctl gives
    /// them EPERM; a file that implements [`FileOps::poll`] keeps the default.
    fn epoll_ok(&self) -> bool {
        true
    }
    /// How many wake-ups the file has made so far, for edge-triggered epoll
    /// (EPOLLET): an edge is a wake-up of the file's waiters, as on Linux,
    /// not a change of [`FileOps::poll`]'s answer. The contract:
    /// - `input` moves whenever an event a reader waits for
    ///   happens: data arrives (every write that adds data, also to a file
    ///   that holds data already, as Linux's pipes do once epoll watches
    ///   them), an end hangs up, an error appears.
    /// - `output` moves whenever writers would be woken: room is made in a
    ///   file that was not writable, the far end goes away.
    /// - An event that wakes everyone (a hang-up) moves both. Reading data,
    ///   a `poll`, or a check that changes nothing moves neither.
    /// - The counts are read after `poll`, so a `poll` that pulls in new
    ///   input (the console) may move them.
    ///
    /// Keep the counts in a [`WakeSeq`] inside the file's state and call its
    /// `wake_*` methods where the file changes. `None` (the default) means
    /// the file does not count: edge-triggered epoll then reports a rising
    /// edge of readiness as it sees it (ready bits that were not ready at its
    /// last look), which misses new data arriving while the file is already
    /// readable. Level-triggered epoll, poll and select never use the counts.
    fn wake_seq(&self) -> Option<WakeSeq> {
        None
    }
    /// The name /proc/PID/fd shows for an anonymous file, as
    /// `anon_inode:NAME` (Linux's anon_inode_getfile name: "[eventpoll]",
    /// "[eventfd]"); `None` shows a number.
    fn anon_name(&self) -> Option<&'static str> {
        None
    }
}

/// A file's wake-up counts by direction, for edge-triggered epoll (see
/// [`FileOps::wake_seq`]). The values are stamps from one kernel-wide
/// clock ([`wake_clock`]), so that besides noticing that a file woke, epoll
/// can order the wake-ups of different files as Linux's ready list does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WakeSeq {
    /// The last wake-up of readers (Linux's EPOLLIN-keyed wake-ups).
    pub input: u64,
    /// The last wake-up of writers (EPOLLOUT-keyed).
    pub output: u64,
}

/// The readers asleep on a file that wants to know (Linux's
/// SOCKWQ_ASYNC_WAITDATA of a stream socket, which an O_ASYNC socket's
/// reader sets while it sleeps in sk_wait_data): a count that each parked
/// reader's [`Sleeping`] guard holds up until it is served again or
/// interrupted.
#[derive(Debug, Default)]
pub struct Sleepers(core::sync::atomic::AtomicUsize);

impl Sleepers {
    /// Whether a reader sleeps now.
    pub fn any(&self) -> bool {
        self.0.load(core::sync::atomic::Ordering::Relaxed) > 0
    }

    /// A reader goes to sleep: it counts until the guard is dropped.
    pub fn enter(this: &alloc::sync::Arc<Sleepers>) -> Sleeping {
        this.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        Sleeping(this.clone())
    }
}

/// One reader asleep on a file ([`Sleepers::enter`]), kept by its thread.
#[derive(Debug)]
pub struct Sleeping(alloc::sync::Arc<Sleepers>);

impl Drop for Sleeping {
    fn drop(&mut self) {
        self.0
             .0
            .fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
    }
}

static WAKE_CLOCK: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// A new stamp of the wake-up clock: later calls give larger values.
pub fn wake_clock() -> u64 {
    WAKE_CLOCK.fetch_add(1, core::sync::atomic::Ordering::Relaxed)
}

impl WakeSeq {
    /// Readers are woken: data arrived.
    pub fn wake_input(&mut self) {
        self.input = wake_clock();
    }
    /// Writers are woken: room was made.
    pub fn wake_output(&mut self) {
        self.output = wake_clock();
    }
    /// Everyone is woken: a hang-up, an error, a new partner.
    pub fn wake_all(&mut self) {
        let t = wake_clock();
        self.input = t;
        self.output = t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_and_dirent_types_round_trip() {
        for t in [
            FileType::Regular,
            FileType::Directory,
            FileType::Symlink,
            FileType::CharDevice,
            FileType::BlockDevice,
            FileType::Fifo,
            FileType::Socket,
        ] {
            assert_eq!(FileType::from_mode(t.mode_bits() | 0o644), Some(t));
            assert_eq!(FileType::from_dirent_type(t.dirent_type()), Some(t));
        }
        assert_eq!(FileType::from_mode(0o644), None);
        assert_eq!(FileType::from_dirent_type(DT_UNKNOWN), None);
    }

    #[test]
    fn makedev_matches_linux() {
        assert_eq!(makedev(1, 3), 0x103);
        assert_eq!(makedev(5, 1), 0x501);
        let d = makedev(0x12345, 0x6789a);
        assert_eq!((dev_major(d), dev_minor(d)), (0x12345, 0x6789a));
    }

    fn meta(mode: u32, uid: u32, gid: u32) -> Metadata {
        Metadata {
            dev: 0,
            ino: 1,
            mode,
            nlink: 1,
            uid,
            gid,
            rdev: 0,
            size: 0,
            blksize: 4096,
            blocks: 0,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
        }
    }

    #[test]
    fn access_checks_owner_group_other_and_root() {
        let m = meta(S_IFREG | 0o640, 10, 20);
        assert!(check_access(&m, &Cred::user(10, 99), Access::READ | Access::WRITE).is_ok());
        assert!(check_access(&m, &Cred::user(11, 20), Access::READ).is_ok());
        assert_eq!(
            check_access(&m, &Cred::user(11, 20), Access::WRITE),
            Err(Errno::EACCES)
        );
        assert_eq!(
            check_access(&m, &Cred::user(11, 21), Access::READ),
            Err(Errno::EACCES)
        );
        let mut c = Cred::user(11, 21);
        c.groups.push(20);
        assert!(check_access(&m, &c, Access::READ).is_ok());
        assert!(check_access(&m, &Cred::root(), Access::READ | Access::WRITE).is_ok());
        // Root needs some execute bit to execute a file, but not to search a dir.
        assert_eq!(
            check_access(&m, &Cred::root(), Access::EXEC),
            Err(Errno::EACCES)
        );
        let d = meta(S_IFDIR, 10, 20);
        assert!(check_access(&d, &Cred::root(), Access::EXEC).is_ok());
    }

    #[test]
    fn stat_conversion_keeps_fields() {
        let mut m = meta(S_IFREG | 0o755, 1, 2);
        m.size = 1234;
        m.mtime = Timespec {
            tv_sec: 5,
            tv_nsec: 6,
        };
        let s = m.to_stat_x86_64();
        assert_eq!(
            (s.st_mode, s.st_size, s.st_mtime, s.st_mtime_nsec),
            (m.mode, 1234, 5, 6)
        );
        let g = m.to_stat_generic();
        assert_eq!(
            (g.st_mode, g.st_size, g.st_uid, g.st_gid),
            (m.mode, 1234, 1, 2)
        );
        let x = m.to_statx();
        assert_eq!(
            (x.stx_mode, x.stx_size, x.stx_mtime.tv_sec),
            ((m.mode & 0xffff) as u16, 1234, 5)
        );
    }
}
