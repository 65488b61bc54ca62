//! Path syscalls: openat, newfstatat, fstat, statx, readlinkat, faccessat,
//! getcwd, chdir, fchdir, mkdirat, unlinkat, symlinkat, linkat, renameat2,
//! fchmodat, fchmod, fchownat, fchown, utimensat, truncate, ftruncate, umask,
//! statfs. (The x86_64 legacy calls open, stat, mkdir, ... map onto these.)
//!
//! Each handler decodes its arguments, resolves the starting point of a relative
//! path (the cwd or a directory fd; absolute paths ignore the dirfd, as Linux
//! does), and calls the VFS.

use crate::fs::vfs::{check_access, timespec_from_ns, Access, FsCtx, PATH_MAX};
use crate::fs::{FileType, FollowLast, Inode, NewNode, PathRef, SetAttr};
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

/// Resolves `dirfd` + `path` to a node; an empty path with AT_EMPTY_PATH is the
/// dirfd's own node.
fn resolve<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: &str, flags: u32) -> KResult<PathRef> {
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            return Ok(k.proc().cwd.clone());
        }
        let f = k.proc().fds.get(dirfd)?;
        return f.path().cloned().ok_or(Errno::EBADF);
    }
    let start = start_of(k, dirfd, path)?;
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 {
        FollowLast::NoFollow
    } else {
        FollowLast::Follow
    };
    let cred = k.proc().cred.clone();
    k.vfs.lookup(&start, path, follow, &cred)
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

fn write_stat<H: Host>(k: &mut Kernel<H>, out: u64, inode: &Arc<dyn Inode>) -> SysResult {
    let st = inode.metadata()?.to_stat();
    k.user().write(UserOutPtr::new(out), &st)?;
    Ok(0)
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
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 && dirfd != AT_FDCWD {
        return sys_fstat(k, dirfd, out);
    }
    let node = resolve(k, dirfd, &path, flags)?;
    write_stat(k, out, node.inode())
}

/// fstat(2).
pub fn sys_fstat<H: Host>(k: &mut Kernel<H>, fd: i32, out: u64) -> SysResult {
    let f = k.proc().fds.get(fd)?;
    let st = f.stat()?.to_stat();
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
    let meta = if path.is_empty() && flags & AT_EMPTY_PATH != 0 && dirfd != AT_FDCWD {
        k.proc().fds.get(dirfd)?.stat()?
    } else {
        resolve(k, dirfd, &path, flags)?.inode().metadata()?
    };
    k.user().write(UserOutPtr::new(out), &meta.to_statx())?;
    Ok(0)
}

/// readlinkat(2). /proc/self/exe reads as the executable's path until procfs
/// exists.
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
    let target = if path == "/proc/self/exe" {
        k.proc().exe.clone()
    } else {
        let node = resolve(k, dirfd, &path, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)?;
        if node.inode().kind() != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        node.inode().readlink()?
    };
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
    let node = resolve(k, dirfd, &path, flags)?;
    if mode == F_OK {
        return Ok(0);
    }
    let meta = node.inode().metadata()?;
    let cred = k.proc().cred.clone();
    check_access(&meta, &cred, Access::from_bits_truncate(mode))?;
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

fn set_cwd<H: Host>(k: &mut Kernel<H>, node: PathRef) -> SysResult {
    if !node.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let meta = node.inode().metadata()?;
    let cred = k.proc().cred.clone();
    check_access(&meta, &cred, Access::EXEC)?;
    k.proc().cwd = node;
    Ok(0)
}

/// chdir(2).
pub fn sys_chdir<H: Host>(k: &mut Kernel<H>, path: u64) -> SysResult {
    let path = path_arg(k, path)?;
    let node = resolve(k, AT_FDCWD, &path, 0)?;
    set_cwd(k, node)
}

/// fchdir(2).
pub fn sys_fchdir<H: Host>(k: &mut Kernel<H>, fd: i32) -> SysResult {
    let f = k.proc().fds.get(fd)?;
    let node = f.path().cloned().ok_or(Errno::ENOTDIR)?;
    set_cwd(k, node)
}

/// Resolves the parent directory of `path` and checks the caller may change it.
fn parent<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: &str) -> KResult<(PathRef, String, bool)> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let start = start_of(k, dirfd, path)?;
    let cred = k.proc().cred.clone();
    let p = k.vfs.lookup_parent(&start, path, &cred)?;
    if !cred.is_root() {
        check_access(
            &p.dir.inode().metadata()?,
            &cred,
            Access::WRITE | Access::EXEC,
        )?;
    }
    Ok((p.dir, p.name, p.trailing_slash))
}

fn new_node<H: Host>(k: &mut Kernel<H>, kind: FileType, mode: u32) -> NewNode {
    let cx = fs_ctx(k);
    let perm = if kind == FileType::Symlink {
        0o777
    } else {
        cx.new_perm(mode)
    };
    NewNode {
        kind,
        perm,
        uid: cx.cred.uid,
        gid: cx.cred.gid,
        rdev: 0,
        now: cx.now,
    }
}

/// mkdirat(2).
pub fn sys_mkdirat<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let path = path_arg(k, path)?;
    let (dir, name, _) = parent(k, dirfd, &path)?;
    if name == "." || name == ".." {
        return Err(Errno::EEXIST);
    }
    let attr = new_node(k, FileType::Directory, mode);
    dir.inode().create(&name, &attr)?;
    Ok(0)
}

/// unlinkat(2), also unlink and rmdir.
pub fn sys_unlinkat<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: u64, flags: u32) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(k, path)?;
    let (dir, name, trailing) = parent(k, dirfd, &path)?;
    let now = now(k);
    if flags & AT_REMOVEDIR != 0 {
        match name.as_str() {
            "." => return Err(Errno::EINVAL),
            ".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        if is_mountpoint(k, &dir, &name) {
            return Err(Errno::EBUSY);
        }
        dir.inode().rmdir(&name, now)?;
    } else {
        if trailing {
            let kind = dir.inode().lookup(&name)?.kind();
            return Err(if kind == FileType::Directory {
                Errno::EISDIR
            } else {
                Errno::ENOTDIR
            });
        }
        dir.inode().unlink(&name, now)?;
    }
    Ok(0)
}

/// Whether `dir/name` has a file system mounted on it.
fn is_mountpoint<H: Host>(k: &Kernel<H>, dir: &PathRef, name: &str) -> bool {
    let cred = crate::fs::Cred::root();
    match k.vfs.lookup(dir, name, FollowLast::NoFollow, &cred) {
        Ok(n) => n.mount_id() != dir.mount_id(),
        Err(_) => false,
    }
}

/// symlinkat(2).
pub fn sys_symlinkat<H: Host>(k: &mut Kernel<H>, target: u64, dirfd: i32, path: u64) -> SysResult {
    let target = path_arg(k, target)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let path = path_arg(k, path)?;
    let (dir, name, trailing) = parent(k, dirfd, &path)?;
    if trailing || name == "." || name == ".." {
        return Err(Errno::EEXIST);
    }
    let attr = new_node(k, FileType::Symlink, 0o777);
    dir.inode().symlink(&name, &target, &attr)?;
    Ok(0)
}

/// linkat(2).
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
    let follow = if flags & AT_SYMLINK_FOLLOW != 0 {
        0
    } else {
        AT_SYMLINK_NOFOLLOW
    };
    let src = resolve(k, olddirfd, &old, follow | (flags & AT_EMPTY_PATH))?;
    if src.inode().kind() == FileType::Directory {
        return Err(Errno::EPERM);
    }
    let (dir, name, trailing) = parent(k, newdirfd, &new)?;
    if trailing {
        return Err(Errno::ENOENT);
    }
    if dir.mount_id() != src.mount_id() {
        return Err(Errno::EXDEV);
    }
    let now = now(k);
    dir.inode().link(&name, src.inode(), now)?;
    Ok(0)
}

/// renameat2(2), also rename and renameat. RENAME_NOREPLACE is honoured;
/// RENAME_EXCHANGE and RENAME_WHITEOUT are not supported (EINVAL).
pub fn sys_renameat2<H: Host>(
    k: &mut Kernel<H>,
    olddirfd: i32,
    old: u64,
    newdirfd: i32,
    new: u64,
    flags: u32,
) -> SysResult {
    const RENAME_NOREPLACE: u32 = 1;
    if flags & !RENAME_NOREPLACE != 0 {
        return Err(Errno::EINVAL);
    }
    let old = path_arg(k, old)?;
    let new = path_arg(k, new)?;
    let (odir, oname, _) = parent(k, olddirfd, &old)?;
    let (ndir, nname, _) = parent(k, newdirfd, &new)?;
    for n in [&oname, &nname] {
        if n == "." || n == ".." {
            return Err(Errno::EBUSY);
        }
    }
    if odir.mount_id() != ndir.mount_id() {
        return Err(Errno::EXDEV);
    }
    if flags & RENAME_NOREPLACE != 0 && ndir.inode().lookup(&nname).is_ok() {
        return Err(Errno::EEXIST);
    }
    // A directory cannot move below itself.
    let moving = odir.inode().lookup(&oname)?;
    if moving.kind() == FileType::Directory {
        let target = Arc::as_ptr(&moving) as *const u8;
        let mut at = Some(ndir.clone());
        while let Some(n) = at {
            if core::ptr::eq(Arc::as_ptr(n.inode()) as *const u8, target) {
                return Err(Errno::EINVAL);
            }
            at = n.parent().cloned();
        }
    }
    let now = now(k);
    odir.inode().rename(&oname, ndir.inode(), &nname, now)?;
    Ok(0)
}

/// Applies a metadata change after the ownership checks of chmod/chown.
fn set_attr<H: Host>(k: &mut Kernel<H>, inode: &Arc<dyn Inode>, attr: SetAttr) -> SysResult {
    let cred = k.proc().cred.clone();
    if !cred.is_root() {
        let meta = inode.metadata()?;
        if attr.uid.is_some_and(|u| u != meta.uid) || (attr.perm.is_some() && cred.uid != meta.uid)
        {
            return Err(Errno::EPERM);
        }
        if attr
            .gid
            .is_some_and(|g| g != meta.gid && !cred.groups.contains(&g) && g != cred.gid)
        {
            return Err(Errno::EPERM);
        }
    }
    inode.set_metadata(&attr)?;
    Ok(0)
}

fn chmod_attr<H: Host>(k: &Kernel<H>, mode: u32) -> SetAttr {
    SetAttr {
        perm: Some(mode & 0o7777),
        ..SetAttr::touch(now(k))
    }
}

/// fchmodat(2).
pub fn sys_fchmodat<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: u64, mode: u32) -> SysResult {
    let path = path_arg(k, path)?;
    let node = resolve(k, dirfd, &path, 0)?;
    let attr = chmod_attr(k, mode);
    set_attr(k, node.inode(), attr)
}

/// fchmod(2).
pub fn sys_fchmod<H: Host>(k: &mut Kernel<H>, fd: i32, mode: u32) -> SysResult {
    let f = k.proc().fds.get(fd)?;
    let inode = f.inode().cloned().ok_or(Errno::EINVAL)?;
    let attr = chmod_attr(k, mode);
    set_attr(k, &inode, attr)
}

fn chown_attr<H: Host>(k: &Kernel<H>, uid: u32, gid: u32) -> SetAttr {
    let id = |v: u32| (v != u32::MAX).then_some(v);
    SetAttr {
        uid: id(uid),
        gid: id(gid),
        ..SetAttr::touch(now(k))
    }
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
    let path = path_arg(k, path)?;
    let node = resolve(k, dirfd, &path, flags)?;
    let attr = chown_attr(k, uid, gid);
    set_attr(k, node.inode(), attr)
}

/// fchown(2).
pub fn sys_fchown<H: Host>(k: &mut Kernel<H>, fd: i32, uid: u32, gid: u32) -> SysResult {
    let f = k.proc().fds.get(fd)?;
    let inode = f.inode().cloned().ok_or(Errno::EINVAL)?;
    let attr = chown_attr(k, uid, gid);
    set_attr(k, &inode, attr)
}

/// utimensat(2), with UTIME_NOW and UTIME_OMIT.
pub fn sys_utimensat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    times: u64,
    flags: u32,
) -> SysResult {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    let node = if path == 0 {
        // Linux's futimens: the dirfd itself.
        let f = k.proc().fds.get(dirfd)?;
        f.inode().cloned().ok_or(Errno::EBADF)?
    } else {
        let path = path_arg(k, path)?;
        resolve(k, dirfd, &path, flags)?.inode().clone()
    };
    let now = now(k);
    let (a, m) = if times == 0 {
        (Some(now), Some(now))
    } else {
        let t: [Timespec; 2] = k.user().read(crate::mm::UserInPtr::new(times))?;
        let pick = |t: Timespec| -> KResult<Option<Timespec>> {
            match t.tv_nsec {
                UTIME_NOW => Ok(Some(now)),
                UTIME_OMIT => Ok(None),
                n if (0..1_000_000_000).contains(&n) => Ok(Some(t)),
                _ => Err(Errno::EINVAL),
            }
        };
        (pick(t[0])?, pick(t[1])?)
    };
    let cred = k.proc().cred.clone();
    if !cred.is_root() && node.metadata()?.uid != cred.uid {
        return Err(Errno::EPERM);
    }
    node.set_metadata(&SetAttr {
        atime: a,
        mtime: m,
        ..SetAttr::touch(now)
    })?;
    Ok(0)
}

/// truncate(2).
pub fn sys_truncate<H: Host>(k: &mut Kernel<H>, path: u64, len: i64) -> SysResult {
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let path = path_arg(k, path)?;
    let node = resolve(k, AT_FDCWD, &path, 0)?;
    match node.inode().kind() {
        FileType::Directory => return Err(Errno::EISDIR),
        FileType::Regular => {}
        _ => return Err(Errno::EINVAL),
    }
    let cred = k.proc().cred.clone();
    check_access(&node.inode().metadata()?, &cred, Access::WRITE)?;
    node.inode().truncate(len, now(k))?;
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
    /// struct statfs (64-bit).
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

/// statfs(2) and fstatfs(2): every file system is memory-backed today and
/// reports the guest's free memory as its space.
pub fn sys_statfs<H: Host>(k: &mut Kernel<H>, out: u64) -> SysResult {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
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
