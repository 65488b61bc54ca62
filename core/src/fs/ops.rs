//! The path-based operations behind the file syscalls (mkdir, mknod, unlink, rmdir,
//! rename, link, symlink, readlink, chmod, chown, utimensat, truncate, access,
//! chdir, stat), with the checks the VFS owns rather than a filesystem: search and
//! write permission on directories, the sticky bit, mounts (EXDEV across them,
//! EBUSY on mount roots), trailing slashes and "." / ".." as last components.
//!
//! Each takes the caller's [`FsCtx`] (credentials, umask, time) and the node that
//! relative paths start from (the cwd, or a dirfd's path); the syscall layer
//! decodes arguments, handles AT_FDCWD, AT_EMPTY_PATH and AT_SYMLINK_* and calls
//! these. fd-based variants (fchmod, fchown, futimens) call the inode forms.

use alloc::sync::Arc;
use alloc::vec::Vec;

use bitflags::bitflags;
use umbra_abi::flags::{S_IFMT, S_ISGID, S_ISUID, S_ISVTX};
use umbra_abi::structs::Timespec;

use super::path::{FollowLast, PathRef, Vfs};
use super::vfs::{
    check_access, check_dir_flags, check_not_frozen, inode_flags, Access, Cred, FileType, FsCtx,
    Inode, Metadata, NewNode, SetAttr,
};
use crate::error::{Errno, KResult};

bitflags! {
    /// renameat2(2) flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RenameFlags: u32 {
        const NOREPLACE = 1;
        const EXCHANGE = 2;
        const WHITEOUT = 4;
    }
}

/// One timestamp argument of utimensat(2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeChange {
    /// UTIME_OMIT: leave it.
    Omit,
    /// UTIME_NOW (or a NULL times pointer).
    Now,
    Set(Timespec),
}

/// EACCES unless `cred` may add or remove entries in `dir`.
fn may_modify_dir(dir: &Metadata, cred: &Cred) -> KResult<()> {
    if cred.is_root() {
        return Ok(());
    }
    check_access(dir, cred, Access::WRITE | Access::EXEC)
}

/// EPERM if the sticky bit of `dir` forbids `cred` to remove or rename `child`.
fn check_sticky(dir: &Metadata, child: &Metadata, cred: &Cred) -> KResult<()> {
    if dir.mode & S_ISVTX == 0 || cred.is_root() || cred.uid == child.uid || cred.uid == dir.uid {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// The owner and group of a node created in `dir` (setgid directories pass
/// their group on).
fn new_owner(dir: &Metadata, cred: &Cred) -> (u32, u32) {
    let gid = if dir.mode & S_ISGID != 0 {
        dir.gid
    } else {
        cred.gid
    };
    (cred.uid, gid)
}

fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

/// mkdirat(2).
pub fn mkdir(vfs: &Vfs, cx: &FsCtx, start: &PathRef, path: &[u8], mode: u32) -> KResult<()> {
    let p = vfs.resolve_parent(cx, start, path)?;
    if is_dot(&p.name) {
        return Err(Errno::EEXIST);
    }
    let dmeta = p.dir.inode().metadata()?;
    if p.dir.inode().lookup(&p.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    may_modify_dir(&dmeta, &cx.cred)?;
    check_dir_flags(p.dir.inode().as_ref(), true)?;
    let (uid, gid) = new_owner(&dmeta, &cx.cred);
    let mut perm = cx.new_perm(mode) & 0o1777;
    if dmeta.mode & S_ISGID != 0 {
        perm |= S_ISGID;
    }
    let attr = NewNode {
        kind: FileType::Directory,
        perm,
        uid,
        gid,
        rdev: 0,
        now: cx.now,
    };
    p.dir.inode().create(&p.name, &attr).map(|_| ())
}

/// mknodat(2): regular files, fifos and sockets for anyone, device nodes for root.
pub fn mknod(
    vfs: &Vfs,
    cx: &FsCtx,
    start: &PathRef,
    path: &[u8],
    mode: u32,
    rdev: u64,
) -> KResult<()> {
    let kind = match mode & S_IFMT {
        0 => FileType::Regular,
        t => FileType::from_mode(t).ok_or(Errno::EINVAL)?,
    };
    match kind {
        FileType::Directory => return Err(Errno::EPERM),
        FileType::Symlink => return Err(Errno::EINVAL),
        FileType::CharDevice | FileType::BlockDevice if !cx.cred.is_root() => {
            return Err(Errno::EPERM)
        }
        _ => {}
    }
    let p = vfs.resolve_parent(cx, start, path)?;
    if is_dot(&p.name) || p.dir.inode().lookup(&p.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    if p.trailing_slash {
        return Err(Errno::ENOENT);
    }
    let dmeta = p.dir.inode().metadata()?;
    may_modify_dir(&dmeta, &cx.cred)?;
    check_dir_flags(p.dir.inode().as_ref(), true)?;
    let (uid, gid) = new_owner(&dmeta, &cx.cred);
    let rdev = if matches!(kind, FileType::CharDevice | FileType::BlockDevice) {
        rdev
    } else {
        0
    };
    let attr = NewNode {
        kind,
        perm: cx.new_perm(mode),
        uid,
        gid,
        rdev,
        now: cx.now,
    };
    p.dir.inode().create(&p.name, &attr).map(|_| ())
}

/// unlinkat(2) without AT_REMOVEDIR.
pub fn unlink(vfs: &Vfs, cx: &FsCtx, start: &PathRef, path: &[u8]) -> KResult<()> {
    let p = vfs.resolve_parent(cx, start, path)?;
    if is_dot(&p.name) {
        return Err(Errno::EISDIR);
    }
    let child = p.dir.inode().lookup(&p.name)?;
    if child.kind() == FileType::Directory {
        return Err(Errno::EISDIR);
    }
    if p.trailing_slash {
        return Err(Errno::ENOTDIR);
    }
    let dmeta = p.dir.inode().metadata()?;
    may_modify_dir(&dmeta, &cx.cred)?;
    check_sticky(&dmeta, &child.metadata()?, &cx.cred)?;
    check_dir_flags(p.dir.inode().as_ref(), false)?;
    check_not_frozen(child.as_ref())?;
    // A file with another file bind-mounted on it (vfs_unlink's
    // is_local_mountpoint).
    if vfs.child(&p.dir, &p.name, child.clone())?.mount_id() != p.dir.mount_id() {
        return Err(Errno::EBUSY);
    }
    p.dir.inode().unlink(&p.name, cx.now)
}

/// unlinkat(2) with AT_REMOVEDIR, and rmdir(2).
pub fn rmdir(vfs: &Vfs, cx: &FsCtx, start: &PathRef, path: &[u8]) -> KResult<()> {
    let p = vfs.resolve_parent(cx, start, path)?;
    match p.name.as_slice() {
        b"." => return Err(Errno::EINVAL),
        b".." => return Err(Errno::ENOTEMPTY),
        _ => {}
    }
    let child = p.dir.inode().lookup(&p.name)?;
    if child.kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    if vfs.child(&p.dir, &p.name, child.clone())?.mount_id() != p.dir.mount_id() {
        return Err(Errno::EBUSY);
    }
    let dmeta = p.dir.inode().metadata()?;
    may_modify_dir(&dmeta, &cx.cred)?;
    check_sticky(&dmeta, &child.metadata()?, &cx.cred)?;
    check_dir_flags(p.dir.inode().as_ref(), false)?;
    check_not_frozen(child.as_ref())?;
    p.dir.inode().rmdir(&p.name, cx.now)
}

/// renameat2(2). RENAME_EXCHANGE and RENAME_WHITEOUT are not supported (EINVAL).
pub fn rename(
    vfs: &Vfs,
    cx: &FsCtx,
    (old_start, old_path): (&PathRef, &[u8]),
    (new_start, new_path): (&PathRef, &[u8]),
    flags: RenameFlags,
) -> KResult<()> {
    if flags.intersects(RenameFlags::EXCHANGE | RenameFlags::WHITEOUT)
        || !RenameFlags::all().contains(flags)
    {
        return Err(Errno::EINVAL);
    }
    let p1 = vfs.resolve_parent(cx, old_start, old_path)?;
    let p2 = vfs.resolve_parent(cx, new_start, new_path)?;
    if p1.dir.mount_id() != p2.dir.mount_id() {
        return Err(Errno::EXDEV);
    }
    if is_dot(&p1.name) || is_dot(&p2.name) {
        return Err(Errno::EBUSY);
    }
    let src = p1.dir.inode().lookup(&p1.name)?;
    if (p1.trailing_slash || p2.trailing_slash) && src.kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    let dst = match p2.dir.inode().lookup(&p2.name) {
        Ok(d) => Some(d),
        Err(Errno::ENOENT) => None,
        Err(e) => return Err(e),
    };
    if dst.is_some() && flags.contains(RenameFlags::NOREPLACE) {
        return Err(Errno::EEXIST);
    }
    if vfs.child(&p1.dir, &p1.name, src.clone())?.mount_id() != p1.dir.mount_id() {
        return Err(Errno::EBUSY);
    }
    let m1 = p1.dir.inode().metadata()?;
    let m2 = p2.dir.inode().metadata()?;
    may_modify_dir(&m1, &cx.cred)?;
    may_modify_dir(&m2, &cx.cred)?;
    check_sticky(&m1, &src.metadata()?, &cx.cred)?;
    check_dir_flags(p1.dir.inode().as_ref(), false)?;
    check_dir_flags(p2.dir.inode().as_ref(), dst.is_none())?;
    check_not_frozen(src.as_ref())?;
    if let Some(d) = &dst {
        check_not_frozen(d.as_ref())?;
    }
    if let Some(d) = &dst {
        if vfs.child(&p2.dir, &p2.name, d.clone())?.mount_id() != p2.dir.mount_id() {
            return Err(Errno::EBUSY);
        }
        check_sticky(&m2, &d.metadata()?, &cx.cred)?;
    }
    p1.dir
        .inode()
        .rename(&p1.name, p2.dir.inode(), &p2.name, cx.now)
}

/// linkat(2); `follow` is AT_SYMLINK_FOLLOW.
pub fn link(
    vfs: &Vfs,
    cx: &FsCtx,
    (old_start, old_path): (&PathRef, &[u8]),
    (new_start, new_path): (&PathRef, &[u8]),
    follow: FollowLast,
) -> KResult<()> {
    let old = vfs.resolve(cx, old_start, old_path, follow)?;
    if old.is_dir() {
        return Err(Errno::EPERM);
    }
    let p = vfs.resolve_parent(cx, new_start, new_path)?;
    if is_dot(&p.name) || p.dir.inode().lookup(&p.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    if p.trailing_slash {
        return Err(Errno::ENOENT);
    }
    if old.mount_id() != p.dir.mount_id() {
        return Err(Errno::EXDEV);
    }
    may_modify_dir(&p.dir.inode().metadata()?, &cx.cred)?;
    check_dir_flags(p.dir.inode().as_ref(), true)?;
    check_not_frozen(old.inode().as_ref())?;
    p.dir.inode().link(&p.name, old.inode(), cx.now)
}

/// symlinkat(2): creates `path` pointing at `target`.
pub fn symlink(vfs: &Vfs, cx: &FsCtx, target: &[u8], start: &PathRef, path: &[u8]) -> KResult<()> {
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let p = vfs.resolve_parent(cx, start, path)?;
    if is_dot(&p.name) || p.dir.inode().lookup(&p.name).is_ok() {
        return Err(Errno::EEXIST);
    }
    if p.trailing_slash {
        return Err(Errno::ENOENT);
    }
    let dmeta = p.dir.inode().metadata()?;
    may_modify_dir(&dmeta, &cx.cred)?;
    check_dir_flags(p.dir.inode().as_ref(), true)?;
    let (uid, gid) = new_owner(&dmeta, &cx.cred);
    let attr = NewNode {
        kind: FileType::Symlink,
        perm: 0o777,
        uid,
        gid,
        rdev: 0,
        now: cx.now,
    };
    p.dir.inode().symlink(&p.name, target, &attr).map(|_| ())
}

/// readlinkat(2): the target of the symlink at `path` (EINVAL if not a symlink).
pub fn readlink(vfs: &Vfs, cx: &FsCtx, start: &PathRef, path: &[u8]) -> KResult<Vec<u8>> {
    let n = vfs.resolve(cx, start, path, FollowLast::NoFollow)?;
    if n.inode().kind() != FileType::Symlink {
        return Err(Errno::EINVAL);
    }
    n.inode().readlink()
}

/// stat(2), lstat(2), fstatat(2).
pub fn stat(
    vfs: &Vfs,
    cx: &FsCtx,
    start: &PathRef,
    path: &[u8],
    follow: FollowLast,
) -> KResult<Metadata> {
    vfs.resolve(cx, start, path, follow)?.inode().metadata()
}

/// chdir(2): the new cwd (ENOTDIR, or EACCES without search permission).
pub fn chdir(vfs: &Vfs, cx: &FsCtx, start: &PathRef, path: &[u8]) -> KResult<PathRef> {
    let n = vfs.resolve(cx, start, path, FollowLast::Follow)?;
    check_chdir(&n, cx)?;
    Ok(n)
}

/// The checks of chdir and fchdir on a node.
pub fn check_chdir(n: &PathRef, cx: &FsCtx) -> KResult<()> {
    if !n.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !cx.cred.is_root() {
        check_access(&n.inode().metadata()?, &cx.cred, Access::EXEC)?;
    }
    Ok(())
}

/// faccessat(2): `mode` is R_OK|W_OK|X_OK bits, 0 for F_OK.
pub fn access(
    vfs: &Vfs,
    cx: &FsCtx,
    start: &PathRef,
    path: &[u8],
    mode: u32,
    follow: FollowLast,
) -> KResult<()> {
    let want = Access::from_bits(mode).ok_or(Errno::EINVAL)?;
    let n = vfs.resolve(cx, start, path, follow)?;
    if want.is_empty() {
        return Ok(());
    }
    check_access(&n.inode().metadata()?, &cx.cred, want)
}

/// truncate(2).
pub fn truncate(vfs: &Vfs, cx: &FsCtx, start: &PathRef, path: &[u8], len: u64) -> KResult<()> {
    let n = vfs.resolve(cx, start, path, FollowLast::Follow)?;
    match n.inode().kind() {
        FileType::Regular => {}
        FileType::Directory => return Err(Errno::EISDIR),
        _ => return Err(Errno::EINVAL),
    }
    check_not_frozen(n.inode().as_ref())?;
    check_access(&n.inode().metadata()?, &cx.cred, Access::WRITE)?;
    n.inode().truncate(len, cx.now)
}

/// chmod(2) family on a node: owner or root only.
pub fn chmod(inode: &Arc<dyn Inode>, cx: &FsCtx, mode: u32) -> KResult<()> {
    check_not_frozen(inode.as_ref())?;
    let m = inode.metadata()?;
    let cred = &cx.cred;
    if !cred.is_root() && cred.uid != m.uid {
        return Err(Errno::EPERM);
    }
    let mut perm = mode & 0o7777;
    if !cred.is_root() && cred.gid != m.gid && !cred.groups.contains(&m.gid) {
        perm &= !S_ISGID;
    }
    inode.set_metadata(&SetAttr {
        perm: Some(perm),
        ..SetAttr::touch(cx.now)
    })
}

/// chown(2) family on a node (`None` is -1, no change). Root may do anything; an
/// owner may only change the group to one of its own. Setuid and setgid bits of
/// non-directories are cleared, as on Linux.
pub fn chown(
    inode: &Arc<dyn Inode>,
    cx: &FsCtx,
    uid: Option<u32>,
    gid: Option<u32>,
) -> KResult<()> {
    check_not_frozen(inode.as_ref())?;
    let m = inode.metadata()?;
    let cred = &cx.cred;
    if !cred.is_root() {
        let uid_ok = !matches!(uid, Some(u) if u != m.uid);
        let gid_ok = !matches!(gid, Some(g)
            if g != m.gid && g != cred.gid && !cred.groups.contains(&g));
        if cred.uid != m.uid || !uid_ok || !gid_ok {
            return Err(Errno::EPERM);
        }
    }
    let mut perm = None;
    if (uid.is_some() || gid.is_some()) && m.file_type() != Some(FileType::Directory) {
        let p = m.perm();
        // S_ISGID without group execute is mandatory locking, which stays.
        let clear = if p & 0o010 != 0 {
            S_ISUID | S_ISGID
        } else {
            S_ISUID
        };
        if p & clear != 0 {
            perm = Some(p & !clear);
        }
    }
    inode.set_metadata(&SetAttr {
        perm,
        uid,
        gid,
        ..SetAttr::touch(cx.now)
    })
}

/// utimensat(2) and futimens(2) on a node.
pub fn utimens(
    inode: &Arc<dyn Inode>,
    cx: &FsCtx,
    atime: TimeChange,
    mtime: TimeChange,
) -> KResult<()> {
    if atime == TimeChange::Omit && mtime == TimeChange::Omit {
        return Ok(());
    }
    let m = inode.metadata()?;
    let cred = &cx.cred;
    // Immutable: no times at all; append-only: only "now".
    let f = inode.attr_flags().unwrap_or(0);
    let explicit_any = matches!(atime, TimeChange::Set(_)) || matches!(mtime, TimeChange::Set(_));
    if f & inode_flags::IMMUTABLE != 0 || (f & inode_flags::APPEND != 0 && explicit_any) {
        return Err(Errno::EPERM);
    }
    if !cred.is_root() && cred.uid != m.uid {
        let explicit = matches!(atime, TimeChange::Set(_)) || matches!(mtime, TimeChange::Set(_));
        if explicit {
            return Err(Errno::EPERM);
        }
        check_access(&m, cred, Access::WRITE)?;
    }
    let pick = |t: TimeChange| match t {
        TimeChange::Omit => None,
        TimeChange::Now => Some(cx.now),
        TimeChange::Set(ts) => Some(ts),
    };
    inode.set_metadata(&SetAttr {
        atime: pick(atime),
        mtime: pick(mtime),
        ..SetAttr::touch(cx.now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs::TmpFs;

    fn setup() -> (Vfs, FsCtx, PathRef) {
        let fs = TmpFs::new(1, Timespec::default());
        let vfs = Vfs::new(fs.root(), "tmpfs");
        let root = vfs.root();
        (vfs, FsCtx::boot(), root)
    }

    fn user() -> FsCtx {
        FsCtx {
            cred: Cred::user(1000, 1000),
            umask: 0o022,
            now: Timespec::default(),
            root: None,
        }
    }

    #[test]
    fn mkdir_unlink_rmdir() {
        let (vfs, cx, r) = setup();
        mkdir(&vfs, &cx, &r, b"/d", 0o777).unwrap();
        assert_eq!(
            stat(&vfs, &cx, &r, b"/d", FollowLast::Follow).unwrap().mode,
            0o040755
        );
        assert_eq!(mkdir(&vfs, &cx, &r, b"/d", 0o777), Err(Errno::EEXIST));
        assert_eq!(mkdir(&vfs, &cx, &r, b"/d/.", 0o777), Err(Errno::EEXIST));
        assert_eq!(mkdir(&vfs, &cx, &r, b"/x/y", 0o777), Err(Errno::ENOENT));
        mkdir(&vfs, &cx, &r, b"/d/sub/", 0o700).unwrap();
        mknod(&vfs, &cx, &r, b"/d/f", 0o644, 0).unwrap();
        assert_eq!(unlink(&vfs, &cx, &r, b"/d/sub"), Err(Errno::EISDIR));
        assert_eq!(unlink(&vfs, &cx, &r, b"/d/f/"), Err(Errno::ENOTDIR));
        assert_eq!(rmdir(&vfs, &cx, &r, b"/d"), Err(Errno::ENOTEMPTY));
        assert_eq!(rmdir(&vfs, &cx, &r, b"/d/f"), Err(Errno::ENOTDIR));
        assert_eq!(rmdir(&vfs, &cx, &r, b"/d/."), Err(Errno::EINVAL));
        assert_eq!(rmdir(&vfs, &cx, &r, b"/d/.."), Err(Errno::ENOTEMPTY));
        unlink(&vfs, &cx, &r, b"/d/f").unwrap();
        rmdir(&vfs, &cx, &r, b"/d/sub/").unwrap();
        rmdir(&vfs, &cx, &r, b"d").unwrap();
        assert_eq!(
            stat(&vfs, &cx, &r, b"/d", FollowLast::Follow).map(|_| ()),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            mknod(&vfs, &user(), &r, b"/c", 0o020644, 0x103),
            Err(Errno::EPERM)
        );
        assert_eq!(mknod(&vfs, &cx, &r, b"/dd", 0o040644, 0), Err(Errno::EPERM));
        mknod(&vfs, &cx, &r, b"/c", 0o020644, 0x103).unwrap();
        assert_eq!(
            stat(&vfs, &cx, &r, b"/c", FollowLast::Follow).unwrap().rdev,
            0x103
        );
    }

    #[test]
    fn mount_roots_are_busy() {
        let (vfs, cx, r) = setup();
        mkdir(&vfs, &cx, &r, b"/mnt", 0o755).unwrap();
        let other = TmpFs::new(2, Timespec::default());
        vfs.mount_at("/mnt", other.root(), "tmpfs").unwrap();
        assert_eq!(rmdir(&vfs, &cx, &r, b"/mnt"), Err(Errno::EBUSY));
        mknod(&vfs, &cx, &r, b"/f", 0o644, 0).unwrap();
        assert_eq!(
            rename(
                &vfs,
                &cx,
                (&r, b"/f"),
                (&r, b"/mnt/f"),
                RenameFlags::empty()
            ),
            Err(Errno::EXDEV)
        );
        assert_eq!(
            link(
                &vfs,
                &cx,
                (&r, b"/f"),
                (&r, b"/mnt/f"),
                FollowLast::NoFollow
            ),
            Err(Errno::EXDEV)
        );
        assert_eq!(
            rename(
                &vfs,
                &cx,
                (&r, b"/mnt"),
                (&r, b"/mnt2"),
                RenameFlags::empty()
            ),
            Err(Errno::EBUSY)
        );
    }

    #[test]
    fn a_file_bind_mount_covers_its_mount_point() {
        let (vfs, cx, r) = setup();
        let other = TmpFs::new(2, Timespec::default());
        let attr = crate::fs::vfs::NewNode {
            kind: FileType::Regular,
            perm: 0o644,
            uid: 0,
            gid: 0,
            rdev: 0,
            now: Timespec::default(),
        };
        let file = other.root().create(b"src", &attr).unwrap();
        file.write_at(0, b"from the host", Timespec::default())
            .unwrap();
        mknod(&vfs, &cx, &r, b"/f", 0o644, 0).unwrap();
        mkdir(&vfs, &cx, &r, b"/d", 0o755).unwrap();
        // A file goes on a non-directory only, a directory on a directory.
        assert_eq!(
            vfs.mount_at("/d", file.clone(), "tmpfs"),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            vfs.mount_at("/f", other.root(), "tmpfs"),
            Err(Errno::ENOTDIR)
        );
        vfs.mount_at("/f", file, "tmpfs").unwrap();
        let st = stat(&vfs, &cx, &r, b"/f", FollowLast::Follow).unwrap();
        assert_eq!((st.dev, st.size), (2, 13));
        assert_eq!(unlink(&vfs, &cx, &r, b"/f"), Err(Errno::EBUSY));
        assert_eq!(
            rename(&vfs, &cx, (&r, b"/f"), (&r, b"/g"), RenameFlags::empty()),
            Err(Errno::EBUSY)
        );
        // Other files of the same directory are not covered.
        mknod(&vfs, &cx, &r, b"/h", 0o644, 0).unwrap();
        assert_eq!(
            stat(&vfs, &cx, &r, b"/h", FollowLast::Follow).unwrap().size,
            0
        );
        unlink(&vfs, &cx, &r, b"/h").unwrap();
    }

    #[test]
    fn rename_link_symlink_readlink() {
        let (vfs, cx, r) = setup();
        mknod(&vfs, &cx, &r, b"/a", 0o644, 0).unwrap();
        mknod(&vfs, &cx, &r, b"/b", 0o644, 0).unwrap();
        assert_eq!(
            rename(&vfs, &cx, (&r, b"/a"), (&r, b"/b"), RenameFlags::NOREPLACE),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            rename(&vfs, &cx, (&r, b"/a"), (&r, b"/b"), RenameFlags::EXCHANGE),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            rename(&vfs, &cx, (&r, b"/a/"), (&r, b"/c"), RenameFlags::empty()),
            Err(Errno::ENOTDIR)
        );
        rename(&vfs, &cx, (&r, b"/a"), (&r, b"/b"), RenameFlags::empty()).unwrap();
        link(&vfs, &cx, (&r, b"/b"), (&r, b"/c"), FollowLast::NoFollow).unwrap();
        assert_eq!(
            stat(&vfs, &cx, &r, b"/c", FollowLast::Follow)
                .unwrap()
                .nlink,
            2
        );
        assert_eq!(
            link(&vfs, &cx, (&r, b"/b"), (&r, b"/c"), FollowLast::NoFollow),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            link(&vfs, &cx, (&r, b"/"), (&r, b"/x"), FollowLast::Follow),
            Err(Errno::EPERM)
        );
        symlink(&vfs, &cx, b"b", &r, b"/l").unwrap();
        assert_eq!(symlink(&vfs, &cx, b"b", &r, b"/l"), Err(Errno::EEXIST));
        assert_eq!(symlink(&vfs, &cx, b"", &r, b"/e"), Err(Errno::ENOENT));
        assert_eq!(readlink(&vfs, &cx, &r, b"/l").unwrap(), b"b");
        assert_eq!(readlink(&vfs, &cx, &r, b"/b"), Err(Errno::EINVAL));
        // link(2) does not follow a final symlink unless asked.
        link(&vfs, &cx, (&r, b"/l"), (&r, b"/l2"), FollowLast::NoFollow).unwrap();
        assert_eq!(readlink(&vfs, &cx, &r, b"/l2").unwrap(), b"b");
        link(&vfs, &cx, (&r, b"/l"), (&r, b"/b2"), FollowLast::Follow).unwrap();
        assert_eq!(
            stat(&vfs, &cx, &r, b"/b", FollowLast::Follow)
                .unwrap()
                .nlink,
            3
        );
        assert_eq!(
            rename(&vfs, &cx, (&r, b"/."), (&r, b"/z"), RenameFlags::empty()),
            Err(Errno::EBUSY)
        );
    }

    #[test]
    fn permissions_sticky_chmod_chown_utimens() {
        let (vfs, cx, r) = setup();
        mkdir(&vfs, &cx, &r, b"/tmp", 0o777).unwrap();
        let tmp = vfs
            .lookup(&r, "/tmp", FollowLast::Follow, &cx.cred)
            .unwrap();
        chmod(tmp.inode(), &cx, 0o1777).unwrap();
        mknod(&vfs, &cx, &r, b"/tmp/rootfile", 0o666, 0).unwrap();
        let u = user();
        let rf = vfs
            .lookup(&r, "/tmp/rootfile", FollowLast::Follow, &cx.cred)
            .unwrap();
        chmod(rf.inode(), &cx, 0o666).unwrap();
        mknod(&vfs, &u, &r, b"/tmp/mine", 0o666, 0).unwrap();
        assert_eq!(
            stat(&vfs, &u, &r, b"/tmp/mine", FollowLast::Follow)
                .unwrap()
                .uid,
            1000
        );
        assert_eq!(unlink(&vfs, &u, &r, b"/tmp/rootfile"), Err(Errno::EPERM));
        unlink(&vfs, &u, &r, b"/tmp/mine").unwrap();
        assert_eq!(mkdir(&vfs, &u, &r, b"/nope", 0o777), Err(Errno::EACCES));
        assert_eq!(
            access(&vfs, &u, &r, b"/tmp/rootfile", 2, FollowLast::Follow),
            Ok(())
        );
        assert_eq!(
            access(&vfs, &u, &r, b"/tmp/rootfile", 1, FollowLast::Follow),
            Err(Errno::EACCES)
        );
        assert_eq!(
            access(&vfs, &u, &r, b"/tmp/rootfile", 8, FollowLast::Follow),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            chdir(&vfs, &u, &r, b"/tmp/rootfile").map(|_| ()),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            chdir(&vfs, &u, &r, b"tmp").unwrap().absolute_path(),
            b"/tmp"
        );

        let f = vfs
            .lookup(&r, "/tmp/rootfile", FollowLast::Follow, &cx.cred)
            .unwrap();
        let fi = f.inode();
        assert_eq!(chmod(fi, &u, 0o777), Err(Errno::EPERM));
        chmod(fi, &cx, 0o6755).unwrap();
        chown(fi, &cx, Some(1000), None).unwrap();
        let m = fi.metadata().unwrap();
        assert_eq!((m.uid, m.perm()), (1000, 0o755));
        assert_eq!(chown(fi, &u, Some(0), None), Err(Errno::EPERM));
        assert_eq!(chown(fi, &u, None, Some(5)), Err(Errno::EPERM));
        chown(fi, &u, None, Some(1000)).unwrap();
        let t = Timespec {
            tv_sec: 99,
            tv_nsec: 1,
        };
        utimens(fi, &u, TimeChange::Set(t), TimeChange::Omit).unwrap();
        let m = fi.metadata().unwrap();
        assert_eq!((m.atime, m.mtime), (t, Timespec::default()));
        let other = FsCtx {
            cred: Cred::user(2000, 2000),
            ..user()
        };
        assert_eq!(
            utimens(fi, &other, TimeChange::Set(t), TimeChange::Set(t)),
            Err(Errno::EPERM)
        );
        assert_eq!(
            utimens(fi, &other, TimeChange::Now, TimeChange::Now),
            Err(Errno::EACCES)
        );
        truncate(&vfs, &u, &r, b"/tmp/rootfile", 10).unwrap();
        assert_eq!(fi.metadata().unwrap().size, 10);
        assert_eq!(truncate(&vfs, &cx, &r, b"/tmp", 0), Err(Errno::EISDIR));
    }

    #[test]
    fn boot_name_space_from_cpio() {
        let (vfs, _console) =
            crate::fs::vfs_from_cpio(include_bytes!("testdata/newc.cpio"), Timespec::default())
                .unwrap();
        let cx = FsCtx::boot();
        let r = vfs.root();
        assert_eq!(
            stat(&vfs, &cx, &r, b"/etc/passwd", FollowLast::Follow)
                .unwrap()
                .size,
            30
        );
        assert_eq!(
            stat(&vfs, &cx, &r, b"/bin/pw", FollowLast::Follow)
                .unwrap()
                .size,
            30
        );
        let null = stat(&vfs, &cx, &r, b"/dev/null", FollowLast::Follow).unwrap();
        assert_eq!(null.rdev, crate::fs::vfs::makedev(1, 3));
        assert_ne!(null.dev, crate::fs::ROOT_TMPFS_DEV);
        assert_eq!(vfs.mounts().len(), 2);
        let dev = chdir(&vfs, &cx, &r, b"/dev/shm/..").unwrap();
        assert_eq!(dev.absolute_path(), b"/dev");
        assert_eq!(chdir(&vfs, &cx, &dev, b"..").unwrap().absolute_path(), b"/");
    }
}
