//! Path syscalls: openat, newfstatat, fstat, statx, readlinkat, faccessat,
//! getcwd, chdir, fchdir, mkdirat, unlinkat, symlinkat, linkat, renameat2,
//! fchmodat, fchmod, fchownat, fchown, utimensat, truncate, ftruncate, umask,
//! statfs. (The x86_64 legacy calls open, stat, mkdir, ... map onto these.)
//!
//! Each handler decodes its arguments, resolves the starting point of a relative
//! path (the cwd or a directory fd; absolute paths ignore the dirfd, as Linux
//! does), and calls the path operations of `fs::ops`, which hold the semantics.

use super::Outcome;
use crate::fs::fifo::FifoCaller;
use crate::fs::inotify::IN_ATTRIB;
use crate::fs::ops::{self, RenameFlags, TimeChange};
use crate::fs::vfs::{
    timespec_from_ns, FsCtx, FsStats, NAME_MAX, PATH_MAX, PIPEFS_MAGIC, PROC_SUPER_MAGIC,
    TMPFS_MAGIC,
};
use crate::fs::{FollowLast, Inode, PathRef};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::UserOutPtr;
use crate::task::fd_table::FdFlags;
use crate::task::{Restart, ThreadState, Wait};
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::*;
use umbra_abi::structs::Timespec;
use umbra_abi::{pod_struct, Errno};

/// Reads a path argument: bytes, UTF-8 or not, as Linux takes them. Paths are
/// at most PATH_MAX bytes with the NUL.
pub(crate) fn path_arg<H: Host>(k: &mut Kernel<H>, ptr: u64) -> KResult<Vec<u8>> {
    // Once per call: a FIFO open that blocks opens the path it was given.
    k.read_cstr_once(ptr, PATH_MAX - 1)
}

/// The node a relative path starts from.
fn start_of<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: &[u8]) -> KResult<PathRef> {
    if path.starts_with(b"/") || dirfd == AT_FDCWD {
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
        root: Some(p.root.clone()),
    }
}

/// openat(2). Opening a FIFO whose partner has not come parks the caller;
/// the call is served again until it has.
pub fn sys_openat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    flags: u32,
    mode: u32,
) -> Outcome {
    match openat(k, dirfd, path, flags, mode) {
        Ok(Some(fd)) => Outcome::Ret(Ok(fd)),
        Ok(None) => {
            // Marks the call as served again (the kernel clears the mark when
            // the call ends or a signal interrupts it).
            k.proc().thread.deadline = Some(FIFO_WAIT);
            Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::WithSaRestart,
            })
        }
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// `Thread::deadline` of a thread waiting in a FIFO open: never reached.
const FIFO_WAIT: u64 = u64::MAX;

/// The fd opened, or `None` to wait for a FIFO's partner.
fn openat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    flags: u32,
    mode: u32,
) -> KResult<Option<usize>> {
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    let mut fl = OpenFlags::from_bits_retain(flags);
    if cfg!(target_pointer_width = "64") {
        // Linux's force_o_largefile: F_GETFL shows it for every open on
        // 64-bit arches; 32-bit ones keep what the caller passed.
        fl |= OpenFlags::O_LARGEFILE;
    }
    let me = k.proc().thread.tid;
    let first = k.proc().thread.deadline != Some(FIFO_WAIT);
    let (procs, tgids) = (&k.procs, &k.tgids);
    let may_wait = |tid: u32| {
        let pid = tgids.get(&tid).copied().unwrap_or(tid);
        procs
            .get(&pid)
            .and_then(|p| p.thread_by_tid(tid))
            .is_some_and(|t| {
                matches!(t.state, ThreadState::Blocked(_)) && t.deadline == Some(FIFO_WAIT)
            })
    };
    let caller = FifoCaller {
        tid: me,
        first,
        may_wait: &may_wait,
    };
    // Whether O_CREAT makes the file, for inotify's IN_CREATE.
    let create = k.inotify.active()
        && fl.contains(OpenFlags::O_CREAT)
        && k.vfs
            .resolve(&cx, &start, &path, FollowLast::Follow)
            .is_err();
    let Some(file) = crate::fs::file::open_as(&k.vfs, &cx, &start, &path, fl, mode, Some(&caller))?
    else {
        return Ok(None);
    };
    let file = k.dev_tty_of_caller(file, fl.contains(OpenFlags::O_NOCTTY))?;
    if k.inotify.active() && !file.is_path_only() {
        if fl.contains(OpenFlags::O_TRUNC) && !create && file.ops().is_none() {
            super::inotify::fsnotify_file(k, &file, crate::fs::inotify::IN_MODIFY);
        }
        super::inotify::fsnotify_open(k, &file, create);
    }
    if fl.contains(OpenFlags::O_TRUNC) && file.ops().is_none() {
        // A mapped file lost its pages.
        if let Some(inode) = file
            .inode()
            .filter(|i| i.kind() == crate::fs::FileType::Regular)
        {
            super::filemap::truncated(k, &inode.clone(), 0);
        }
    }
    let fdfl = if fl.contains(OpenFlags::O_CLOEXEC) {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    k.proc()
        .fds
        .alloc(file, 0, fdfl)
        .map(|fd| Some(fd as usize))
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
    path: &[u8],
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
    mask: u32,
    out: u64,
) -> SysResult {
    use umbra_abi::structs::STATX_BASIC_STATS;
    /// The mask bit Linux keeps for a future struct: EINVAL.
    const STATX_RESERVED: u32 = 0x8000_0000;
    const STATX_MNT_ID: u32 = 0x1000;
    const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX_RESERVED != 0
    {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(k, path)?;
    let (meta, node) = if path.is_empty() && flags & AT_EMPTY_PATH != 0 && dirfd != AT_FDCWD {
        let f = k.proc().fds.get(dirfd)?;
        (f.stat()?, f.path().cloned())
    } else if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let cwd = k.proc().cwd.clone();
        (cwd.inode().metadata()?, Some(cwd))
    } else {
        let start = start_of(k, dirfd, &path)?;
        let cx = fs_ctx(k);
        let n = k.vfs.resolve(&cx, &start, &path, follow_of(flags))?;
        (n.inode().metadata()?, Some(n))
    };
    let mut sx = meta.to_statx();
    // What every file has besides the basic stats: its mount's id (as in
    // /proc/PID/fdinfo) and whether it is the root of that mount. umbra's
    // file systems keep no birth time, so STATX_BTIME is never set and
    // stx_btime stays zero, as Linux leaves it for ext2 and procfs.
    sx.stx_mask = STATX_BASIC_STATS;
    sx.stx_attributes_mask |= STATX_ATTR_MOUNT_ROOT;
    if let Some(n) = node {
        // The inode flags FS_IOC_GETFLAGS shows (ext2's; ENOTTY elsewhere)
        // share their bits with STATX_ATTR_COMPRESSED, _IMMUTABLE, _APPEND
        // and _NODUMP; ext2 announces those and _ENCRYPTED (ext2_getattr).
        if let Ok(fl) = n.inode().attr_flags() {
            const SHARED_BITS: u32 = 0x04 | 0x10 | 0x20 | 0x40;
            const STATX_ATTR_ENCRYPTED: u64 = 0x800;
            sx.stx_attributes |= u64::from(fl & SHARED_BITS);
            sx.stx_attributes_mask |= u64::from(SHARED_BITS) | STATX_ATTR_ENCRYPTED;
        }
        sx.stx_mask |= STATX_MNT_ID;
        sx.stx_mnt_id = u64::from(crate::fs::path::shown_mount_id(n.mount_id()));
        if n.parent().is_none_or(|p| p.mount_id() != n.mount_id()) {
            sx.stx_attributes |= STATX_ATTR_MOUNT_ROOT;
        }
    }
    k.user().write(UserOutPtr::new(out), &sx)?;
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
    k.user().write_bytes(buf, &target[..n])?;
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
    let mut cx = fs_ctx(k);
    if flags & AT_EACCESS == 0 {
        // access(2) checks with the real ids, not the file-system ones.
        let c = &k.proc().creds;
        (cx.cred.uid, cx.cred.gid) = (c.ruid, c.rgid);
    }
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        // The file dirfd refers to (the cwd for AT_FDCWD) is checked itself.
        let meta = if dirfd == AT_FDCWD {
            k.proc().cwd.inode().metadata()?
        } else {
            k.proc().fds.get(dirfd)?.stat()?
        };
        let want = crate::fs::vfs::Access::from_bits(mode).ok_or(Errno::EINVAL)?;
        if !want.is_empty() {
            crate::fs::vfs::check_access(&meta, &cx.cred, want)?;
        }
        return Ok(0);
    }
    let start = start_of(k, dirfd, &path)?;
    ops::access(&k.vfs, &cx, &start, &path, mode, follow_of(flags))?;
    Ok(0)
}

/// getcwd(2).
pub fn sys_getcwd<H: Host>(k: &mut Kernel<H>, buf: u64, size: usize) -> SysResult {
    let (cwd, root) = (k.proc().cwd.clone(), k.proc().root.clone());
    // A cwd outside the root (chroot without chdir) is "(unreachable)/...",
    // as Linux's getcwd.
    let mut path = cwd.path_from(&root).unwrap_or_else(|| {
        let mut p = b"(unreachable)".to_vec();
        p.extend_from_slice(&cwd.absolute_path());
        p
    });
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

/// chroot(2): the directory becomes the process's root (inherited by fork
/// and exec); the cwd stays. ENOTDIR/EACCES as chdir, then EPERM without
/// CAP_SYS_CHROOT.
pub fn sys_chroot<H: Host>(k: &mut Kernel<H>, path: u64) -> SysResult {
    const CAP_SYS_CHROOT: u32 = 18;
    let path = path_arg(k, path)?;
    let start = k.proc().cwd.clone();
    let cx = fs_ctx(k);
    let node = ops::chdir(&k.vfs, &cx, &start, &path)?;
    if !k.proc().creds.capable(CAP_SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    k.proc().root = node;
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
    let e = super::inotify::entry_before(k, dirfd, path);
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    ops::mkdir(&k.vfs, &cx, &start, &path, mode)?;
    super::inotify::fsnotify_created(k, e, true);
    Ok(0)
}

/// mknodat(2), also mknod: regular files, FIFOs and sockets for anyone,
/// device nodes for root (a node is made; opening one without a driver gives
/// ENXIO). `dev` is the 32-bit number the call takes (new_decode_dev).
pub fn sys_mknodat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    mode: u32,
    dev: u64,
) -> SysResult {
    let dev = dev as u32;
    let major = (dev >> 8) & 0xfff;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    let e = super::inotify::entry_before(k, dirfd, path);
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    let rdev = crate::fs::vfs::makedev(major, minor);
    ops::mknod(&k.vfs, &cx, &start, &path, mode, rdev)?;
    super::inotify::fsnotify_created(k, e, false);
    Ok(0)
}

/// The start directory and context for a path that a socket call names
/// (bind, connect and sendto on AF_UNIX): relative to the cwd.
pub(crate) fn start_and_ctx<H: Host>(k: &mut Kernel<H>, path: &[u8]) -> KResult<(PathRef, FsCtx)> {
    let start = start_of(k, AT_FDCWD, path)?;
    Ok((start, fs_ctx(k)))
}

/// The start directory and context for `dirfd` + `path` (inotify).
pub(crate) fn start_and_ctx_at<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: &[u8],
) -> KResult<(PathRef, FsCtx)> {
    let start = start_of(k, dirfd, path)?;
    Ok((start, fs_ctx(k)))
}

/// The caller's filesystem credentials.
pub(crate) fn fs_cred<H: Host>(k: &mut Kernel<H>) -> crate::fs::Cred {
    fs_ctx(k).cred
}

/// Makes the socket node that bind(2) creates for an AF_UNIX path (mode
/// 0777 less the umask), and returns its identity. EADDRINUSE if the name
/// exists.
pub(crate) fn make_socket_node<H: Host>(
    k: &mut Kernel<H>,
    path: &[u8],
) -> KResult<crate::net::NodeId> {
    let (start, cx) = start_and_ctx(k, path)?;
    match ops::mknod(&k.vfs, &cx, &start, path, S_IFSOCK | 0o777, 0) {
        Err(Errno::EEXIST) => return Err(Errno::EADDRINUSE),
        r => r?,
    }
    let node = k.vfs.resolve(&cx, &start, path, FollowLast::NoFollow)?;
    let meta = node.inode().metadata()?;
    Ok(crate::net::NodeId {
        dev: meta.dev,
        ino: meta.ino,
    })
}

/// Removes a socket node that bind(2) made and then could not use.
pub(crate) fn remove_socket_node<H: Host>(k: &mut Kernel<H>, path: &[u8]) -> KResult<()> {
    let (start, cx) = start_and_ctx(k, path)?;
    ops::unlink(&k.vfs, &cx, &start, path)
}

/// unlinkat(2), also unlink and rmdir.
pub fn sys_unlinkat<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: u64, flags: u32) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let e = super::inotify::entry_before(k, dirfd, path);
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    if flags & AT_REMOVEDIR != 0 {
        ops::rmdir(&k.vfs, &cx, &start, &path)?;
    } else {
        let sock = socket_node_of(k, &cx, &start, &path);
        ops::unlink(&k.vfs, &cx, &start, &path)?;
        if let Some(n) = sock {
            k.net.unix.node_unlinked(n);
        }
    }
    super::inotify::fsnotify_removed(k, e);
    Ok(0)
}

/// The identity of the socket node `path` names when it has only that name:
/// unlinking it ends what AF_UNIX bound there.
fn socket_node_of<H: Host>(
    k: &Kernel<H>,
    cx: &FsCtx,
    start: &PathRef,
    path: &[u8],
) -> Option<crate::net::NodeId> {
    let node = k.vfs.resolve(cx, start, path, FollowLast::NoFollow).ok()?;
    let meta = node.inode().metadata().ok()?;
    (meta.mode & S_IFMT == S_IFSOCK && meta.nlink <= 1).then_some(crate::net::NodeId {
        dev: meta.dev,
        ino: meta.ino,
    })
}

/// symlinkat(2).
pub fn sys_symlinkat<H: Host>(k: &mut Kernel<H>, target: u64, dirfd: i32, path: u64) -> SysResult {
    let target = path_arg(k, target)?;
    let e = super::inotify::entry_before(k, dirfd, path);
    let path = path_arg(k, path)?;
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    ops::symlink(&k.vfs, &cx, &target, &start, &path)?;
    super::inotify::fsnotify_created(k, e, false);
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
    let e = super::inotify::entry_before(k, newdirfd, new);
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
    if e.is_some() {
        // The node's link count changed; the new directory has a name more.
        if let Ok(n) = k.vfs.resolve(&cx, &s2, &new, FollowLast::NoFollow) {
            super::inotify::fsnotify_inode(k, &**n.inode(), crate::fs::inotify::IN_ATTRIB);
        }
        super::inotify::fsnotify_created(k, e, false);
    }
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
    let eo = super::inotify::entry_before(k, olddirfd, old);
    let en = super::inotify::entry_before(k, newdirfd, new);
    let old = path_arg(k, old)?;
    let new = path_arg(k, new)?;
    let s1 = start_of(k, olddirfd, &old)?;
    let s2 = start_of(k, newdirfd, &new)?;
    let cx = fs_ctx(k);
    ops::rename(&k.vfs, &cx, (&s1, &old), (&s2, &new), flags)?;
    super::inotify::fsnotify_renamed(k, eo, en);
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
        return fd_inode_raw(k, dirfd);
    }
    let start = start_of(k, dirfd, &path)?;
    let cx = fs_ctx(k);
    Ok(k.vfs
        .resolve(&cx, &start, &path, follow_of(flags))?
        .inode()
        .clone())
}

/// The inode of `fd` for the calls that act on an open file (fchmod, fchown,
/// futimens): EBADF for an O_PATH descriptor, as Linux's fdget.
fn fd_inode<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<Arc<dyn Inode>> {
    if k.proc().fds.get(fd)?.is_path_only() {
        return Err(Errno::EBADF);
    }
    fd_inode_raw(k, fd)
}

/// The inode of `fd`, O_PATH descriptors included (AT_EMPTY_PATH lookups).
fn fd_inode_raw<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<Arc<dyn Inode>> {
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
    super::inotify::fsnotify_at(k, dirfd, path, FollowLast::Follow, IN_ATTRIB);
    Ok(0)
}

/// fchmod(2).
pub fn sys_fchmod<H: Host>(k: &mut Kernel<H>, fd: i32, mode: u32) -> SysResult {
    let inode = fd_inode(k, fd)?;
    let cx = fs_ctx(k);
    ops::chmod(&inode, &cx, mode)?;
    fsnotify_fd(k, fd, IN_ATTRIB);
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
    if flags & AT_EMPTY_PATH != 0 {
        fsnotify_fd(k, dirfd, IN_ATTRIB);
    }
    super::inotify::fsnotify_at(k, dirfd, path, follow_of(flags), IN_ATTRIB);
    Ok(0)
}

/// fchown(2).
pub fn sys_fchown<H: Host>(k: &mut Kernel<H>, fd: i32, uid: u32, gid: u32) -> SysResult {
    let inode = fd_inode(k, fd)?;
    let cx = fs_ctx(k);
    ops::chown(&inode, &cx, id(uid), id(gid))?;
    fsnotify_fd(k, fd, IN_ATTRIB);
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
    fsnotify_times(k, dirfd, path, follow_of(flags), (a, m));
    Ok(0)
}

/// The inotify event of a change of times, as Linux's fsnotify_change: both
/// times IN_ATTRIB, only one IN_ACCESS or IN_MODIFY.
fn fsnotify_times<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    follow: FollowLast,
    (a, m): (TimeChange, TimeChange),
) {
    let mask = match (a, m) {
        (TimeChange::Omit, TimeChange::Omit) => 0,
        (_, TimeChange::Omit) => crate::fs::inotify::IN_ACCESS,
        (TimeChange::Omit, _) => crate::fs::inotify::IN_MODIFY,
        _ => IN_ATTRIB,
    };
    if mask != 0 {
        if path == 0 {
            fsnotify_fd(k, dirfd, mask);
        } else {
            super::inotify::fsnotify_at(k, dirfd, path, follow, mask);
        }
    }
}

/// The file of `fd` got inotify event `mask`.
fn fsnotify_fd<H: Host>(k: &mut Kernel<H>, fd: i32, mask: u32) {
    if k.inotify.active() {
        if let Ok(f) = k.proc().fds.get(fd) {
            super::inotify::fsnotify_file(k, &f, mask);
        }
    }
}

/// futimesat(2), also utimes (x86_64, 32-bit ARM): times as two struct
/// timevals (microseconds, each below 10^6, else EINVAL); NULL sets both to
/// now, which needs only write access, while explicit times need ownership
/// (EPERM), as utimensat. A NULL path acts on `dirfd` itself.
pub fn sys_futimesat<H: Host>(k: &mut Kernel<H>, dirfd: i32, path: u64, times: u64) -> SysResult {
    let change = if times == 0 {
        None
    } else {
        let t = super::uabi::read_timespecs(k, times, 2, super::uabi::TimeAbi::Long)?;
        let tv = |t: Timespec| -> KResult<TimeChange> {
            if !(0..1_000_000).contains(&t.tv_nsec) {
                return Err(Errno::EINVAL);
            }
            Ok(TimeChange::Set(Timespec {
                tv_sec: t.tv_sec,
                tv_nsec: t.tv_nsec * 1000,
            }))
        };
        Some((tv(t[0])?, tv(t[1])?))
    };
    set_times(k, dirfd, path, change)
}

/// utime(2) (x86_64): times as a struct utimbuf (actime, modtime: whole
/// seconds); NULL sets both to now.
pub fn sys_utime<H: Host>(k: &mut Kernel<H>, path: u64, times: u64) -> SysResult {
    let change = if times == 0 {
        None
    } else {
        // Two longs, as a timespec's two fields.
        let t = super::uabi::read_timespecs(k, times, 1, super::uabi::TimeAbi::Long)?;
        let at = |sec: i64| {
            TimeChange::Set(Timespec {
                tv_sec: sec,
                tv_nsec: 0,
            })
        };
        Some((at(t[0].tv_sec), at(t[0].tv_nsec)))
    };
    set_times(k, AT_FDCWD, path, change)
}

/// The times of `dirfd` + `path` (symlinks followed; a NULL path is the fd):
/// `None` is now for both.
fn set_times<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    change: Option<(TimeChange, TimeChange)>,
) -> SysResult {
    let inode = if path == 0 {
        fd_inode(k, dirfd)?
    } else {
        target(k, dirfd, path, 0)?
    };
    let (a, m) = change.unwrap_or((TimeChange::Now, TimeChange::Now));
    let cx = fs_ctx(k);
    ops::utimens(&inode, &cx, a, m)?;
    fsnotify_times(k, dirfd, path, FollowLast::Follow, (a, m));
    Ok(0)
}

/// FS_IOC_GETFLAGS and FS_IOC_SETFLAGS (the `long` in their numbers is the
/// guest's, the value an int), and their 32-bit forms.
const FS_IOC_GETFLAGS: u32 = if cfg!(target_pointer_width = "64") {
    0x8008_6601
} else {
    0x8004_6601
};
const FS_IOC_SETFLAGS: u32 = if cfg!(target_pointer_width = "64") {
    0x4008_6602
} else {
    0x4004_6602
};
const FS_IOC32_GETFLAGS: u32 = 0x8004_6601;
const FS_IOC32_SETFLAGS: u32 = 0x4004_6602;

/// Whether `cmd` is one of the inode-flag ioctls.
pub(crate) fn is_fs_ioc_flags(cmd: u32) -> bool {
    // (The 32-bit numbers are the native ones on 32-bit guests.)
    [
        FS_IOC_GETFLAGS,
        FS_IOC_SETFLAGS,
        FS_IOC32_GETFLAGS,
        FS_IOC32_SETFLAGS,
    ]
    .contains(&cmd)
}

/// The inode-flag ioctls (chattr, lsattr): ext2 keeps the flags in i_flags;
/// other filesystems answer ENOTTY. Setting needs ownership (or
/// CAP_FOWNER), and changing immutable or append-only CAP_LINUX_IMMUTABLE
/// (EPERM).
pub(crate) fn fs_ioc_flags<H: Host>(
    k: &mut Kernel<H>,
    f: &crate::fs::file::OpenFile,
    cmd: u32,
    arg: u64,
) -> SysResult {
    use crate::fs::vfs::inode_flags::{APPEND, IMMUTABLE};
    const CAP_FOWNER: u32 = 3;
    const CAP_LINUX_IMMUTABLE: u32 = 9;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    let inode = f.inode().cloned().ok_or(Errno::ENOTTY)?;
    if f.ops().is_some() && inode.kind() != crate::fs::FileType::Directory {
        // A special file's ioctls are its driver's.
        return Err(Errno::ENOTTY);
    }
    let old = inode.attr_flags()?;
    if cmd == FS_IOC_GETFLAGS || cmd == FS_IOC32_GETFLAGS {
        k.user().write_bytes(arg, &old.to_ne_bytes())?;
        return Ok(0);
    }
    let mut b = [0u8; 4];
    k.user().read_bytes(arg, &mut b)?;
    let new = u32::from_ne_bytes(b);
    let meta = inode.metadata()?;
    if k.proc().cred.uid != meta.uid && !k.proc().creds.capable(CAP_FOWNER) {
        return Err(Errno::EPERM);
    }
    if (new ^ old) & (IMMUTABLE | APPEND) != 0 && !k.proc().creds.capable(CAP_LINUX_IMMUTABLE) {
        return Err(Errno::EPERM);
    }
    // Only the immutable and append-only flags may change on an immutable
    // or append-only file.
    if old & (IMMUTABLE | APPEND) != 0
        && (new ^ old) & !(IMMUTABLE | APPEND) & crate::fs::vfs::inode_flags::EXT2_USER_MODIFIABLE
            != 0
        && !k.proc().creds.capable(CAP_LINUX_IMMUTABLE)
    {
        return Err(Errno::EPERM);
    }
    let now = now(k);
    inode.set_attr_flags(new, now)?;
    Ok(0)
}

/// truncate(2).
pub fn sys_truncate<H: Host>(k: &mut Kernel<H>, path: u64, len: i64) -> SysResult {
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let path = path_arg(k, path)?;
    let start = k.proc().cwd.clone();
    let cx = fs_ctx(k);
    if super::io::fsize_exceeded(k, len) {
        let size = ops::stat(&k.vfs, &cx, &start, &path, FollowLast::Follow)?.size;
        super::io::fsize_check_truncate(k, size, len)?;
    }
    ops::truncate(&k.vfs, &cx, &start, &path, len)?;
    if let Ok(n) = k.vfs.resolve(&cx, &start, &path, FollowLast::Follow) {
        super::filemap::truncated(k, &n.inode().clone(), len);
        super::inotify::fsnotify_node(k, &n, crate::fs::inotify::IN_MODIFY);
    }
    Ok(0)
}

/// ftruncate(2).
pub fn sys_ftruncate<H: Host>(k: &mut Kernel<H>, fd: i32, len: i64) -> SysResult {
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let f = k.proc().fds.get(fd)?;
    if super::io::fsize_exceeded(k, len) && f.writable() {
        super::io::fsize_check_truncate(k, f.stat()?.size, len)?;
    }
    f.truncate(len, &k.host)?;
    if let Some(inode) = f.inode() {
        super::filemap::truncated(k, inode, len);
    }
    super::inotify::fsnotify_file(k, &f, crate::fs::inotify::IN_MODIFY);
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

/// What statfs reports for a node: the filesystem's own figures when it has
/// them (ext2), else by the mount's type: procfs reports no space (as Linux's
/// simple_statfs), tmpfs and devtmpfs the guest's memory. The mount's flags
/// (ST_VALID, nosuid, ...) are added.
fn fs_stats<H: Host>(k: &Kernel<H>, node: &PathRef) -> FsStats {
    let m = k.vfs.mount_of(node);
    let mut s = match node.inode().statfs() {
        Some(s) => s,
        None if m.fstype == "proc" => FsStats {
            f_type: PROC_SUPER_MAGIC,
            bsize: 4096,
            namelen: NAME_MAX as u32,
            frsize: 4096,
            ..FsStats::default()
        },
        None => memory_stats(k),
    };
    s.flags |= crate::fs::path::mount_st_flags(m.flags);
    s
}

/// tmpfs's figures: the guest's memory, in pages.
fn memory_stats<H: Host>(k: &Kernel<H>) -> FsStats {
    let total = k.frames.total() as u64;
    let free = k.frames.free_count() as u64;
    FsStats {
        f_type: TMPFS_MAGIC,
        bsize: 4096,
        blocks: total,
        bfree: free,
        bavail: free,
        files: total,
        ffree: free,
        namelen: NAME_MAX as u32,
        frsize: 4096,
        ..FsStats::default()
    }
}

/// What fstatfs reports for `fd`: its node's filesystem; a pipe is on pipefs;
/// other files without a path (the console) report tmpfs's figures.
fn fd_stats<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<FsStats> {
    let f = k.proc().fds.get(fd)?;
    if let Some(node) = f.path() {
        return Ok(fs_stats(k, node));
    }
    if let Some(i) = f.inode() {
        if let Some(s) = i.statfs() {
            return Ok(s);
        }
    }
    let is_pipe = f.ops().is_some_and(|o| {
        o.as_any().is::<crate::fs::pipe::PipeReader>()
            || o.as_any().is::<crate::fs::pipe::PipeWriter>()
    });
    Ok(if is_pipe {
        FsStats {
            f_type: PIPEFS_MAGIC,
            bsize: 4096,
            namelen: NAME_MAX as u32,
            frsize: 4096,
            flags: crate::fs::vfs::st_flags::ST_VALID,
            ..FsStats::default()
        }
    } else {
        memory_stats(k)
    })
}

/// What statfs reports for `path` (followed, as statfs does).
fn path_stats<H: Host>(k: &mut Kernel<H>, path: u64) -> KResult<FsStats> {
    let path = path_arg(k, path)?;
    let start = k.proc().cwd.clone();
    let cx = fs_ctx(k);
    let node = k.vfs.resolve(&cx, &start, &path, FollowLast::Follow)?;
    Ok(fs_stats(k, &node))
}

/// struct statfs of a 64-bit guest.
fn statfs_lp64(s: &FsStats) -> Statfs {
    Statfs {
        f_type: i64::from(s.f_type),
        f_bsize: i64::from(s.bsize),
        f_blocks: s.blocks,
        f_bfree: s.bfree,
        f_bavail: s.bavail,
        f_files: s.files,
        f_ffree: s.ffree,
        f_fsid: s.fsid,
        f_namelen: i64::from(s.namelen),
        f_frsize: i64::from(s.frsize),
        f_flags: i64::from(s.flags),
        f_spare: [0; 4],
    }
}

/// struct statfs of a 32-bit guest: EOVERFLOW when a count does not fit, as
/// Linux's do_statfs_native (f_files and f_ffree may be -1).
fn statfs_32(s: &FsStats) -> KResult<umbra_abi::structs::Statfs32> {
    let w = |v: u64| u32::try_from(v).map_err(|_| Errno::EOVERFLOW);
    let w_or_all = |v: u64| if v == u64::MAX { Ok(u32::MAX) } else { w(v) };
    Ok(umbra_abi::structs::Statfs32 {
        f_type: s.f_type,
        f_bsize: s.bsize,
        f_blocks: w(s.blocks)?,
        f_bfree: w(s.bfree)?,
        f_bavail: w(s.bavail)?,
        f_files: w_or_all(s.files)?,
        f_ffree: w_or_all(s.ffree)?,
        f_fsid: s.fsid,
        f_namelen: s.namelen,
        f_frsize: s.frsize,
        f_flags: s.flags,
        f_spare: [0; 4],
    })
}

/// struct statfs64 of 32-bit ARM (84 bytes, packed).
fn statfs64_arm(s: &FsStats) -> umbra_abi::structs::Statfs64Arm {
    umbra_abi::structs::Statfs64Arm {
        f_type: s.f_type,
        f_bsize: s.bsize,
        f_blocks: s.blocks,
        f_bfree: s.bfree,
        f_bavail: s.bavail,
        f_files: s.files,
        f_ffree: s.ffree,
        f_fsid: s.fsid,
        f_namelen: s.namelen,
        f_frsize: s.frsize,
        f_flags: s.flags,
        f_spare: [0; 4],
    }
}

fn write_statfs<H: Host>(k: &mut Kernel<H>, s: &FsStats, out: u64) -> SysResult {
    if super::uabi::NATIVE == super::uabi::Long::W32 {
        let s32 = statfs_32(s)?;
        k.user().write(UserOutPtr::new(out), &s32)?;
    } else {
        k.user().write(UserOutPtr::new(out), &statfs_lp64(s))?;
    }
    Ok(0)
}

/// statfs(2).
pub fn sys_statfs<H: Host>(k: &mut Kernel<H>, path: u64, out: u64) -> SysResult {
    let s = path_stats(k, path)?;
    write_statfs(k, &s, out)
}

/// fstatfs(2).
pub fn sys_fstatfs<H: Host>(k: &mut Kernel<H>, fd: i32, out: u64) -> SysResult {
    let s = fd_stats(k, fd)?;
    write_statfs(k, &s, out)
}

/// statfs64(2) of 32-bit ARM: `size` must be that of its packed struct
/// statfs64 (84 bytes).
pub fn sys_statfs64<H: Host>(k: &mut Kernel<H>, path: u64, size: usize, out: u64) -> SysResult {
    use umbra_abi::Pod;
    if size != umbra_abi::structs::Statfs64Arm::SIZE {
        return Err(Errno::EINVAL);
    }
    let s = path_stats(k, path)?;
    k.user().write(UserOutPtr::new(out), &statfs64_arm(&s))?;
    Ok(0)
}

/// fstatfs64(2) of 32-bit ARM.
pub fn sys_fstatfs64<H: Host>(k: &mut Kernel<H>, fd: i32, size: usize, out: u64) -> SysResult {
    use umbra_abi::Pod;
    if size != umbra_abi::structs::Statfs64Arm::SIZE {
        return Err(Errno::EINVAL);
    }
    let s = fd_stats(k, fd)?;
    k.user().write(UserOutPtr::new(out), &statfs64_arm(&s))?;
    Ok(0)
}

#[cfg(test)]
pub(super) mod statfs_tests {
    use super::*;
    use crate::config::{Config, PAGE_SIZE};
    use crate::fs::blockdev::MemDevice;
    use crate::fs::ext2::{format, Ext2Fs, FormatOptions};
    use crate::fs::vfs::st_flags::*;
    use crate::testing::{newc_archive, tiny_elf, MockHost};
    use alloc::string::String;
    use alloc::vec;
    use umbra_abi::elf::ET_EXEC;

    const FRAMES: usize = 1024;

    /// A kernel whose pid 1 is current, with an ext2 image mounted on /mnt
    /// (read-only when `ro`) and procfs on /proc; returns it with a scratch
    /// address in pid 1's stack.
    fn boot(ro: bool) -> (Kernel<MockHost>, Ext2Fs, u64) {
        boot_ext2(Arc::new(MemDevice::zeroed(4 << 20).unwrap()), ro, false)
    }

    /// [`boot`] with the ext2 image on `dev`, and a sticky /tmp in the
    /// root when `tmp` (syscall::direct_tests shares it).
    pub(in crate::syscall) fn boot_ext2(
        dev: Arc<dyn crate::fs::blockdev::BlockDevice>,
        ro: bool,
        tmp: bool,
    ) -> (Kernel<MockHost>, Ext2Fs, u64) {
        let elf = tiny_elf(ET_EXEC);
        let entries: [(&str, u32, &[u8]); 4] = [
            ("bin", 0o040_755, &[]),
            ("bin/prog", 0o100_755, &elf),
            ("mnt", 0o040_755, &[]),
            ("tmp", 0o041_777, &[]),
        ];
        let archive = newc_archive(&entries[..if tmp { 4 } else { 3 }]);
        let (vfs, console) = crate::fs::vfs_from_cpio(&archive, Timespec::default()).unwrap();
        format(
            &dev,
            &FormatOptions {
                block_size: 1024,
                uuid: *b"0123456789abcdef",
                ..FormatOptions::default()
            },
        )
        .unwrap();
        let fs = Ext2Fs::mount(dev, 7, ro).unwrap();
        vfs.mount_at("/mnt", fs.root().unwrap(), "ext2").unwrap();
        let cfg = Config {
            argv: vec![String::from("/bin/prog")],
            ..Config::default()
        };
        let mut k = Kernel::new(MockHost::new(FRAMES * PAGE_SIZE), vfs, cfg, FRAMES);
        k.cur = k
            .spawn_init(crate::fs::devfs::stdio_files(&console))
            .unwrap();
        let sp = k.proc().thread.regs.sp();
        let scratch = (sp & !0xfff) - 4 * 0x1000;
        (k, fs, scratch)
    }

    fn put_path(k: &mut Kernel<MockHost>, at: u64, path: &str) {
        let mut b = Vec::from(path.as_bytes());
        b.push(0);
        k.user().write_bytes(at, &b).unwrap();
    }

    /// The statfs the guest got at `out`, in this build's layout, as FsStats.
    fn got(k: &mut Kernel<MockHost>, out: u64) -> FsStats {
        if super::super::uabi::NATIVE == super::super::uabi::Long::W32 {
            let s: umbra_abi::structs::Statfs32 =
                k.user().read(crate::mm::UserInPtr::new(out)).unwrap();
            FsStats {
                f_type: s.f_type,
                bsize: s.f_bsize,
                blocks: s.f_blocks.into(),
                bfree: s.f_bfree.into(),
                bavail: s.f_bavail.into(),
                files: s.f_files.into(),
                ffree: s.f_ffree.into(),
                fsid: s.f_fsid,
                namelen: s.f_namelen,
                frsize: s.f_frsize,
                flags: s.f_flags,
            }
        } else {
            let s: Statfs = k.user().read(crate::mm::UserInPtr::new(out)).unwrap();
            FsStats {
                f_type: s.f_type as u32,
                bsize: s.f_bsize as u32,
                blocks: s.f_blocks,
                bfree: s.f_bfree,
                bavail: s.f_bavail,
                files: s.f_files,
                ffree: s.f_ffree,
                fsid: s.f_fsid,
                namelen: s.f_namelen as u32,
                frsize: s.f_frsize as u32,
                flags: s.f_flags as u32,
            }
        }
    }

    #[test]
    fn statfs_and_fstatfs_report_each_filesystem() {
        let (mut k, fs, buf) = boot(false);
        let path = buf + 0x800;
        let want = fs.statfs();
        let mount = ST_VALID | ST_RELATIME;
        put_path(&mut k, path, "/mnt/.");
        assert_eq!(sys_statfs(&mut k, path, buf), Ok(0));
        let s = got(&mut k, buf);
        assert_eq!(
            s,
            FsStats {
                flags: mount,
                ..want
            }
        );
        assert_eq!(s.f_type, 0xef53);
        assert_ne!(s.fsid, [0, 0]);
        // fstatfs of an open directory and of a file created there, whose
        // blocks show at once.
        let fd = openat(&mut k, AT_FDCWD, path, O_RDONLY, 0)
            .unwrap()
            .unwrap() as i32;
        assert_eq!(sys_fstatfs(&mut k, fd, buf), Ok(0));
        assert_eq!(got(&mut k, buf), s);
        put_path(&mut k, path, "/mnt/f");
        let fd = openat(
            &mut k,
            AT_FDCWD,
            path,
            O_RDWR | OpenFlags::O_CREAT.bits(),
            0o644,
        )
        .unwrap()
        .unwrap() as i32;
        k.proc()
            .fds
            .get(fd)
            .unwrap()
            .inode()
            .unwrap()
            .write_at(0, &[1u8; 64 * 1024], Timespec::default())
            .unwrap();
        assert_eq!(sys_fstatfs(&mut k, fd, buf), Ok(0));
        let after = got(&mut k, buf);
        assert!(after.bfree <= s.bfree - 64, "{after:?}");
        assert_eq!(after.ffree, s.ffree - 1);
        // procfs and the root tmpfs.
        put_path(&mut k, path, "/");
        assert_eq!(sys_statfs(&mut k, path, buf), Ok(0));
        let t = got(&mut k, buf);
        assert_eq!((t.f_type, t.bsize, t.namelen), (TMPFS_MAGIC, 4096, 255));
        // The root: its archive's data and half of the memory more.
        assert_eq!(t.bfree, FRAMES as u64 / 2);
        assert!(t.blocks > t.bfree, "{t:?}");
        assert_eq!(t.flags, ST_VALID | ST_RELATIME);
        put_path(&mut k, path, "/dev");
        assert_eq!(sys_statfs(&mut k, path, buf), Ok(0));
        let d = got(&mut k, buf);
        assert_eq!(d.f_type, TMPFS_MAGIC);
        assert_eq!((d.blocks, d.bfree), (FRAMES as u64 / 2, FRAMES as u64 / 2));
        assert_eq!(d.flags, ST_VALID | ST_NOSUID | ST_RELATIME);
        put_path(&mut k, path, "/nope");
        assert_eq!(sys_statfs(&mut k, path, buf), Err(Errno::ENOENT));
        assert_eq!(sys_fstatfs(&mut k, 99, buf), Err(Errno::EBADF));
        // A pipe is on pipefs.
        assert_eq!(super::super::poll::sys_pipe2(&mut k, path, 0), Ok(0));
        let mut fds = [0u8; 4];
        k.user().read_bytes(path, &mut fds).unwrap();
        assert_eq!(sys_fstatfs(&mut k, i32::from_ne_bytes(fds), buf), Ok(0));
        assert_eq!(got(&mut k, buf).f_type, PIPEFS_MAGIC);
        // statfs64 wants its own size.
        put_path(&mut k, path, "/mnt");
        assert_eq!(sys_statfs64(&mut k, path, 88, buf), Err(Errno::EINVAL));
        assert_eq!(sys_statfs64(&mut k, path, 84, buf), Ok(0));
        let mut b = [0u8; 84];
        k.user().read_bytes(buf, &mut b).unwrap();
        assert_eq!(u32::from_ne_bytes(b[..4].try_into().unwrap()), 0xef53);
        assert_eq!(
            u64::from_ne_bytes(b[32..40].try_into().unwrap()),
            after.files
        );
        assert_eq!(u32::from_ne_bytes(b[64..68].try_into().unwrap()), mount);
    }

    #[test]
    fn read_only_ext2_sets_st_rdonly() {
        let (mut k, _fs, buf) = boot(true);
        let path = buf + 0x800;
        put_path(&mut k, path, "/mnt");
        assert_eq!(sys_statfs(&mut k, path, buf), Ok(0));
        assert_eq!(got(&mut k, buf).flags, ST_VALID | ST_RELATIME | ST_RDONLY);
    }

    #[test]
    fn narrow_statfs_refuses_what_does_not_fit() {
        let big = FsStats {
            blocks: 1 << 32,
            files: u64::MAX,
            ..FsStats::default()
        };
        assert_eq!(statfs_32(&big).map(|_| ()), Err(Errno::EOVERFLOW));
        let ok = FsStats {
            blocks: 5,
            files: u64::MAX,
            ffree: u64::MAX,
            ..FsStats::default()
        };
        let s = statfs_32(&ok).unwrap();
        assert_eq!((s.f_blocks, s.f_files, s.f_ffree), (5, u32::MAX, u32::MAX));
    }
}
