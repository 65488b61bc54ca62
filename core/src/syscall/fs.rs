//! Path syscalls: openat, newfstatat, fstat, statx, readlinkat, faccessat,
//! getcwd, chdir, fchdir, mkdirat, unlinkat, symlinkat, linkat, renameat2,
//! fchmodat, fchmod, fchownat, fchown, utimensat, truncate, ftruncate, umask,
//! statfs. (The x86_64 legacy calls open, stat, mkdir, ... map onto these.)
//!
//! Each handler decodes its arguments, resolves the starting point of a relative
//! path (the cwd or a directory fd; absolute paths ignore the dirfd, as Linux
//! does), and calls the path operations of `fs::ops`, which hold the semantics.

use crate::fs::ops::{self, RenameFlags, TimeChange};
use crate::fs::vfs::{timespec_from_ns, FsCtx, PATH_MAX};
use crate::fs::{FollowLast, Inode, PathRef};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::UserOutPtr;
use crate::task::fd_table::FdFlags;
use crate::{KResult, SysResult};
use alloc::string::String;
use alloc::sync::Arc;
use umbra_abi::flags::*;
use umbra_abi::structs::Timespec;
use umbra_abi::{pod_struct, Errno};

/// Reads a path argument. Paths are at most PATH_MAX bytes with the NUL.
/// Names that are not UTF-8 cannot exist in umbra's file systems yet: ENOENT.
fn path_arg<H: Host>(k: &mut Kernel<H>, ptr: u64) -> KResult<String> {
    let bytes = k.user().read_cstr(ptr, PATH_MAX - 1)?;
    if bytes.starts_with(b"/proc") || Some(k.proc().cwd.mount_id()) == k.procfs.mount_id {
        k.procfs_touch();
    }
    String::from_utf8(bytes).map_err(|_| Errno::ENOENT)
}

/// The node a relative path starts from.
fn start_of<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: &str) -> KResult<PathRef> {
    if path.starts_with('/') || dirfd == AT_FDCWD {
        return Ok(k.proc().cwd.clone());
    }
    let f = k.proc().fds.get(dirfd)?;
    let node = f.path().cloned().ok_or(Errno::ENOTDIR)?;
    if !node.is_dir() && !path.is_empty() {
        return Err(Errno::ENOTDIR);
    }
    Ok(node)
}

fn now<H: Host>(k: &Kernel<H>) -> Timespec {
    timespec_from_ns(k.host.now_real())
}

fn fs_ctx<H: Host>(k: &mut Kernel<H>) -> FsCtx {
    let now = now(k);
    let p = k.proc();
    FsCtx {
        cred: p.cred.clone(),
        umask: p.umask,
        now,
    }
}

/// openat(2).
pub fn sys_openat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    flags: u32,
    mode: u32,
) -> SysResult {
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    let fl = OpenFlags::from_bits_retain(flags);
    let file = crate::fs::file::open(&k.vfs, &cx, &start, &path, fl, mode)?;
    let fdfl = if fl.contains(OpenFlags::O_CLOEXEC) {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    k.proc().fds.alloc(file, 0, fdfl).map(|fd| fd as usize)
}

fn follow_of(flags: u32) -> FollowLast {
    if flags & AT_SYMLINK_NOFOLLOW != 0 {
        FollowLast::NoFollow
    } else {
        FollowLast::Follow
    }
}

/// newfstatat(2), also stat/lstat.
pub fn sys_newfstatat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    out: u64,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(k, path)?;
    let st = resolve(k, dirfd, &path, flags)?.to_stat();
    k.user().write(UserOutPtr::new(out), &st)?;
    Ok(0)
}

/// The metadata `dirfd` + `path` names; an empty path with AT_EMPTY_PATH is the
/// dirfd itself (which may be any open file, not only a directory).
fn resolve<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: &str,
    flags: u32,
) -> KResult<crate::fs::Metadata> {
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            return k.proc().cwd.inode().metadata();
        }
        return k.proc().fds.get(dirfd)?.stat();
    }
    let start = start_of(k, dirfd, path)?;
    let cx = fs_ctx(k);
    ops::stat(&k.vfs, &cx, &start, path, follow_of(flags))
}

/// The old stat, lstat and fstat of 32-bit ARM (struct stat with 32-bit
/// fields): `path` 0 is fstat of `dirfd`.
pub fn sys_stat_old<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    out: u64,
    flags: u32,
) -> SysResult {
    let meta = if path == 0 {
        k.proc().fds.get(dirfd)?.stat()?
    } else {
        let path = path_arg(k, path)?;
        resolve(k, dirfd, &path, flags)?
    };
    k.user().write(UserOutPtr::new(out), &meta.to_stat_arm()?)?;
    Ok(0)
}

/// fstat(2).
pub fn sys_fstat<H: Host>(k: &mut Kernel<H>, fd: i32, out: u64) -> SysResult {
    let st = k.proc().fds.get(fd)?.stat()?.to_stat();
    k.user().write(UserOutPtr::new(out), &st)?;
    Ok(0)
}

/// statx(2): every basic field is filled whatever the mask asks.
pub fn sys_statx<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    flags: u32,
    _mask: u32,
    out: u64,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(k, path)?;
    let meta = resolve(k, dirfd, &path, flags)?;
    k.user().write(UserOutPtr::new(out), &meta.to_statx())?;
    Ok(0)
}

/// readlinkat(2).
pub fn sys_readlinkat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    buf: u64,
    size: usize,
) -> SysResult {
    let size = i32::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or(Errno::EINVAL)? as usize;
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    let target = ops::readlink(&k.vfs, &cx, &start, &path)?;
    let n = target.len().min(size);
    k.user().write_bytes(buf, &target.as_bytes()[..n])?;
    Ok(n)
}

/// faccessat(2) and faccessat2(2). umbra has no separate real and effective ids
/// yet, so AT_EACCESS changes nothing.
pub fn sys_faccessat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    mode: u32,
    flags: u32,
) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    ops::access(&k.vfs, &cx, &start, &path, mode, follow_of(flags))?;
    Ok(0)
}

/// getcwd(2).
pub fn sys_getcwd<H: Host>(k: &mut Kernel<H>, buf: u64, size: usize) -> SysResult {
    let mut path = k.proc().cwd.absolute_path().into_bytes();
    path.push(0);
    if path.len() > size {
        return Err(Errno::ERANGE);
    }
    k.user().write_bytes(buf, &path)?;
    Ok(path.len())
}

/// chdir(2).
pub fn sys_chdir<H: Host>(k: &mut Kernel<H>, path: u64) -> SysResult {
    let path = path_arg(k, path)?;
    let start = k.proc().cwd.clone();
    let cx = fs_ctx(k);
    let node = ops::chdir(&k.vfs, &cx, &start, &path)?;
    k.proc().cwd = node;
    Ok(0)
}

/// fchdir(2).
pub fn sys_fchdir<H: Host>(k: &mut Kernel<H>, fd: i32) -> SysResult {
    let node = k
        .proc()
        .fds
        .get(fd)?
        .path()
        .cloned()
        .ok_or(Errno::ENOTDIR)?;
    let cx = fs_ctx(k);
    ops::check_chdir(&node, &cx)?;
    k.proc().cwd = node;
    Ok(0)
}

/// mkdirat(2).
pub fn sys_mkdirat<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    ops::mkdir(&k.vfs, &cx, &start, &path, mode)?;
    Ok(0)
}

/// unlinkat(2), also unlink and rmdir.
pub fn sys_unlinkat<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: u64, flags: u32) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    if flags & AT_REMOVEDIR != 0 {
        ops::rmdir(&k.vfs, &cx, &start, &path)?;
    } else {
        ops::unlink(&k.vfs, &cx, &start, &path)?;
    }
    Ok(0)
}

/// symlinkat(2).
pub fn sys_symlinkat<H: Host>(k: &mut Kernel<H>, target: u64, dirfd: i32, path: u64) -> SysResult {
    let target = path_arg(k, target)?;
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    ops::symlink(&k.vfs, &cx, &target, &start, &path)?;
    Ok(0)
}

/// linkat(2). AT_EMPTY_PATH is not supported (ENOENT for an empty path).
pub fn sys_linkat<H: Host>(
    k: &mut Kernel<H>,
    olddirfd: i32,
    old: u64,
    newdirfd: i32,
    new: u64,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = path_arg(k, old)?;
    let new = path_arg(k, new)?;
    let s1 = start_of(k, olddirfd, &old)?;
    let s2 = start_of(k, newdirfd, &new)?;
    let follow = if flags & AT_SYMLINK_FOLLOW != 0 {
        FollowLast::Follow
    } else {
        FollowLast::NoFollow
    };
    let cx = fs_ctx(k);
    ops::link(&k.vfs, &cx, (&s1, &old), (&s2, &new), follow)?;
    Ok(0)
}

/// renameat2(2), also rename and renameat.
pub fn sys_renameat2<H: Host>(
    k: &mut Kernel<H>,
    olddirfd: i32,
    old: u64,
    newdirfd: i32,
    new: u64,
    flags: u32,
) -> SysResult {
    let flags = RenameFlags::from_bits(flags).ok_or(Errno::EINVAL)?;
    let old = path_arg(k, old)?;
    let new = path_arg(k, new)?;
    let s1 = start_of(k, olddirfd, &old)?;
    let s2 = start_of(k, newdirfd, &new)?;
    let cx = fs_ctx(k);
    ops::rename(&k.vfs, &cx, (&s1, &old), (&s2, &new), flags)?;
    Ok(0)
}

/// The inode `dirfd` + `path` names, for chmod/chown/utimens.
fn target<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    flags: u32,
) -> KResult<Arc<dyn Inode>> {
    let path = path_arg(k, path)?;
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return fd_inode(k, dirfd);
    }
    let start = start_of(k, dirfd, &path)?;
    let cred = k.proc().cred.clone();
    Ok(k.vfs
        .lookup(&start, &path, follow_of(flags), &cred)?
        .inode()
        .clone())
}

fn fd_inode<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<Arc<dyn Inode>> {
    let f = k.proc().fds.get(fd)?;
    f.inode()
        .cloned()
        .or_else(|| f.path().map(|p| p.inode().clone()))
        .ok_or(Errno::EBADF)
}

/// fchmodat(2).
pub fn sys_fchmodat<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let inode = target(k, dirfd, path, 0)?;
    let cx = fs_ctx(k);
    ops::chmod(&inode, &cx, mode)?;
    Ok(0)
}

/// fchmod(2).
pub fn sys_fchmod<H: Host>(k: &mut Kernel<H>, fd: i32, mode: u32) -> SysResult {
    let inode = fd_inode(k, fd)?;
    let cx = fs_ctx(k);
    ops::chmod(&inode, &cx, mode)?;
    Ok(0)
}

fn id(v: u32) -> Option<u32> {
    (v != u32::MAX).then_some(v)
}

/// fchownat(2), also chown and lchown.
pub fn sys_fchownat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    uid: u32,
    gid: u32,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let inode = target(k, dirfd, path, flags)?;
    let cx = fs_ctx(k);
    ops::chown(&inode, &cx, id(uid), id(gid))?;
    Ok(0)
}

/// fchown(2).
pub fn sys_fchown<H: Host>(k: &mut Kernel<H>, fd: i32, uid: u32, gid: u32) -> SysResult {
    let inode = fd_inode(k, fd)?;
    let cx = fs_ctx(k);
    ops::chown(&inode, &cx, id(uid), id(gid))?;
    Ok(0)
}

/// utimensat(2), with UTIME_NOW and UTIME_OMIT; a NULL path is futimens.
pub fn sys_utimensat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    times: u64,
    flags: u32,
    tabi: super::uabi::TimeAbi,
) -> SysResult {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    let inode = if path == 0 {
        fd_inode(k, dirfd)?
    } else {
        target(k, dirfd, path, flags)?
    };
    let (a, m) = if times == 0 {
        (TimeChange::Now, TimeChange::Now)
    } else {
        let t = super::uabi::read_timespecs(k, times, 2, tabi)?;
        let pick = |t: Timespec| -> KResult<TimeChange> {
            match t.tv_nsec {
                UTIME_NOW => Ok(TimeChange::Now),
                UTIME_OMIT => Ok(TimeChange::Omit),
                n if (0..1_000_000_000).contains(&n) => Ok(TimeChange::Set(t)),
                _ => Err(Errno::EINVAL),
            }
        };
        (pick(t[0])?, pick(t[1])?)
    };
    let cx = fs_ctx(k);
    ops::utimens(&inode, &cx, a, m)?;
    Ok(0)
}

/// truncate(2).
pub fn sys_truncate<H: Host>(k: &mut Kernel<H>, path: u64, len: i64) -> SysResult {
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let path = path_arg(k, path)?;
    let start = k.proc().cwd.clone();
    let cx = fs_ctx(k);
    ops::truncate(&k.vfs, &cx, &start, &path, len)?;
    Ok(0)
}

/// ftruncate(2).
pub fn sys_ftruncate<H: Host>(k: &mut Kernel<H>, fd: i32, len: i64) -> SysResult {
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let f = k.proc().fds.get(fd)?;
    f.truncate(len, &k.host)?;
    Ok(0)
}

/// umask(2).
pub fn sys_umask<H: Host>(k: &mut Kernel<H>, mask: u32) -> SysResult {
    let p = k.proc();
    let old = p.umask;
    p.umask = mask & 0o777;
    Ok(old as usize)
}

pod_struct! {
    /// struct statfs (LP64).
    pub struct Statfs {
        pub f_type: i64,
        pub f_bsize: i64,
        pub f_blocks: u64,
        pub f_bfree: u64,
        pub f_bavail: u64,
        pub f_files: u64,
        pub f_ffree: u64,
        pub f_fsid: [i32; 2],
        pub f_namelen: i64,
        pub f_frsize: i64,
        pub f_flags: i64,
        pub f_spare: [i64; 4],
    }
}

const TMPFS_MAGIC: i64 = 0x0102_1994;

/// statfs(2) and fstatfs(2): every file system is memory-backed today and
/// reports the guest's free memory as its space.
pub fn sys_statfs<H: Host>(k: &mut Kernel<H>, out: u64) -> SysResult {
    if super::uabi::NATIVE == super::uabi::Long::W32 {
        let s = statfs64_arm(k);
        let w = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let s32 = umbra_abi::structs::Statfs32 {
            f_type: s.f_type,
            f_bsize: s.f_bsize,
            f_blocks: w(s.f_blocks),
            f_bfree: w(s.f_bfree),
            f_bavail: w(s.f_bavail),
            f_files: w(s.f_files),
            f_ffree: w(s.f_ffree),
            f_namelen: s.f_namelen,
            f_frsize: s.f_frsize,
            ..Default::default()
        };
        k.user().write(UserOutPtr::new(out), &s32)?;
        return Ok(0);
    }
    let total = k.frames.total() as u64;
    let free = k.frames.free_count() as u64;
    let s = Statfs {
        f_type: TMPFS_MAGIC,
        f_bsize: 4096,
        f_blocks: total,
        f_bfree: free,
        f_bavail: free,
        f_files: total,
        f_ffree: free,
        f_namelen: 255,
        f_frsize: 4096,
        ..Statfs::default()
    };
    k.user().write(UserOutPtr::new(out), &s)?;
    Ok(0)
}

fn statfs64_arm<H: Host>(k: &mut Kernel<H>) -> umbra_abi::structs::Statfs64Arm {
    let total = k.frames.total() as u64;
    let free = k.frames.free_count() as u64;
    umbra_abi::structs::Statfs64Arm {
        f_type: TMPFS_MAGIC as u32,
        f_bsize: 4096,
        f_blocks: total,
        f_bfree: free,
        f_bavail: free,
        f_files: total,
        f_ffree: free,
        f_namelen: 255,
        f_frsize: 4096,
        ..Default::default()
    }
}

/// statfs64(2) and fstatfs64(2) of 32-bit ARM: `size` must be that of its
/// packed struct statfs64 (84 bytes).
pub fn sys_statfs64<H: Host>(k: &mut Kernel<H>, size: usize, out: u64) -> SysResult {
    use umbra_abi::Pod;
    if size != umbra_abi::structs::Statfs64Arm::SIZE {
        return Err(Errno::EINVAL);
    }
    let s = statfs64_arm(k);
    k.user().write(UserOutPtr::new(out), &s)?;
    Ok(0)
}
