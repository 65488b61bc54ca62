//! inotify_init, inotify_init1, inotify_add_watch and inotify_rm_watch, and
//! the `fsnotify_*` helpers the file syscalls call to report a change
//! (fs/inotify.rs holds the instances). Every helper returns at once when
//! no inotify instance exists.

use super::fs::path_arg;
use crate::fs::file::OpenFile;
use crate::fs::inotify::{self, Change, Inotify, Key, IN_ALL_EVENTS, IN_DONT_FOLLOW};
use crate::fs::{FileType, FollowLast, Inode, PathRef};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::{KResult, SysResult};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::{OpenFlags, AT_FDCWD, O_RDONLY};
use umbra_abi::Errno;

/// inotify_init1(2), also inotify_init(2) with no flags.
pub fn sys_inotify_init1<H: Host>(k: &mut Kernel<H>, flags: u32) -> SysResult {
    if flags & !(OpenFlags::O_CLOEXEC | OpenFlags::O_NONBLOCK).bits() != 0 {
        return Err(Errno::EINVAL);
    }
    let i = Arc::new(Inotify::default());
    let fd = super::evfd::new_fd(k, i.clone(), O_RDONLY, flags)?;
    k.inotify.add(&i);
    Ok(fd)
}

fn instance<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<Arc<OpenFile>> {
    let f = k.proc().fds.get(fd)?;
    match f.ops() {
        Some(o) if Inotify::of(&**o).is_some() => Ok(f),
        _ => Err(Errno::EINVAL),
    }
}

/// inotify_add_watch(2).
pub fn sys_inotify_add_watch<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    path: u64,
    mask: u32,
) -> SysResult {
    if mask & inotify::IN_MASK_ADD != 0 && mask & inotify::IN_MASK_CREATE != 0 {
        return Err(Errno::EINVAL);
    }
    if mask & IN_ALL_EVENTS == 0 {
        return Err(Errno::EINVAL);
    }
    let f = instance(k, fd)?;
    let follow = if mask & IN_DONT_FOLLOW != 0 {
        FollowLast::NoFollow
    } else {
        FollowLast::Follow
    };
    let node = resolve(k, AT_FDCWD, path, follow)?;
    let inode = node.inode();
    if mask & inotify::IN_ONLYDIR != 0 && inode.kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    let meta = inode.metadata()?;
    let cred = super::fs::fs_cred(k);
    crate::fs::vfs::check_access(&meta, &cred, crate::fs::vfs::Access::READ)?;
    let Some(i) = f.ops().and_then(|o| Inotify::of(&**o)) else {
        return Err(Errno::EINVAL);
    };
    Ok(i.add_watch((meta.dev, meta.ino), mask)? as usize)
}

/// inotify_rm_watch(2).
pub fn sys_inotify_rm_watch<H: Host>(k: &mut Kernel<H>, fd: i32, wd: i32) -> SysResult {
    let f = instance(k, fd)?;
    let Some(i) = f.ops().and_then(|o| Inotify::of(&**o)) else {
        return Err(Errno::EINVAL);
    };
    i.rm_watch(wd)?;
    Ok(0)
}

/// The node `dirfd` + the path at `ptr` names.
fn resolve<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    ptr: u64,
    follow: FollowLast,
) -> KResult<PathRef> {
    let path = path_arg(k, ptr)?;
    let (start, cx) = super::fs::start_and_ctx_at(k, dirfd, &path)?;
    k.vfs.resolve(&cx, &start, &path, follow)
}

/// What the hooks need to know of a node: its key, whether it is a
/// directory, and its link count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeInfo {
    pub key: Key,
    pub isdir: bool,
    pub nlink: u32,
}

pub(crate) fn info_of(inode: &dyn Inode) -> Option<NodeInfo> {
    let m = inode.metadata().ok()?;
    Some(NodeInfo {
        key: (m.dev, m.ino),
        isdir: inode.kind() == FileType::Directory,
        nlink: m.nlink,
    })
}

/// A node's own event and its directory's (with its name).
pub(crate) fn fsnotify_node<H: Host>(k: &Kernel<H>, node: &PathRef, mask: u32) {
    if !k.inotify.active() {
        return;
    }
    let Some(me) = info_of(&**node.inode()) else {
        return;
    };
    let dir = node.parent().and_then(|p| info_of(&**p.inode()));
    k.inotify.change(&Change {
        mask,
        target: Some(me.key),
        dir: dir.map(|d| (d.key, node.name())),
        isdir: me.isdir,
        cookie: 0,
        unlinked: me.nlink == 0,
    });
}

/// An open file's event (IN_MODIFY, IN_ACCESS, IN_ATTRIB).
pub(crate) fn fsnotify_file<H: Host>(k: &Kernel<H>, f: &OpenFile, mask: u32) {
    if !k.inotify.active() {
        return;
    }
    match (f.path(), f.inode()) {
        (Some(p), _) => fsnotify_node(k, p, mask),
        (None, Some(i)) => fsnotify_inode(k, &**i, mask),
        _ => {}
    }
}

/// An inode's own event, without its directory's (a link count change).
pub(crate) fn fsnotify_inode<H: Host>(k: &Kernel<H>, inode: &dyn Inode, mask: u32) {
    if !k.inotify.active() {
        return;
    }
    if let Some(me) = info_of(inode) {
        k.inotify.change(&Change {
            mask,
            target: Some(me.key),
            dir: None,
            isdir: me.isdir,
            cookie: 0,
            unlinked: me.nlink == 0,
        });
    }
}

/// An entry `name` of directory `dir` changed (created, deleted, moved).
pub(crate) fn fsnotify_entry<H: Host>(
    k: &Kernel<H>,
    dir: &PathRef,
    name: &[u8],
    mask: u32,
    isdir: bool,
    cookie: u32,
) {
    if let Some(d) = info_of(&**dir.inode()) {
        k.inotify.change(&Change {
            mask,
            target: None,
            dir: Some((d.key, name)),
            isdir,
            cookie,
            unlinked: false,
        });
    }
}

/// The node at `dirfd` + the path at `ptr` got an event (chmod, chown,
/// utimes, truncate): looked up again only when someone watches.
pub(crate) fn fsnotify_at<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    ptr: u64,
    follow: FollowLast,
    mask: u32,
) {
    if !k.inotify.active() {
        return;
    }
    if let Ok(n) = resolve(k, dirfd, ptr, follow) {
        fsnotify_node(k, &n, mask);
    }
}

/// A directory entry about to be removed or replaced: what its events need
/// once the call succeeded.
pub(crate) struct Doomed {
    dir: PathRef,
    name: Vec<u8>,
    node: Option<NodeInfo>,
}

/// Looks up the entry the path at `ptr` names, before a call that removes,
/// creates or moves it (only when someone watches).
pub(crate) fn entry_before<H: Host>(k: &mut Kernel<H>, dirfd: i32, ptr: u64) -> Option<Doomed> {
    if !k.inotify.active() {
        return None;
    }
    let path = path_arg(k, ptr).ok()?;
    let (start, cx) = super::fs::start_and_ctx_at(k, dirfd, &path).ok()?;
    let pl = k.vfs.resolve_parent(&cx, &start, &path).ok()?;
    let node = pl
        .dir
        .inode()
        .lookup(&pl.name)
        .ok()
        .and_then(|i| info_of(&*i));
    Some(Doomed {
        dir: pl.dir,
        name: pl.name,
        node,
    })
}

/// A node was made at the entry (`isdir` for mkdir).
pub(crate) fn fsnotify_created<H: Host>(k: &Kernel<H>, e: Option<Doomed>, isdir: bool) {
    if let Some(e) = e {
        fsnotify_entry(k, &e.dir, &e.name, inotify::IN_CREATE, isdir, 0);
    }
}

/// The entry was unlinked or removed: the node's link count changed (a
/// file's), it is gone if that was its last link, and its directory lost
/// the name.
pub(crate) fn fsnotify_removed<H: Host>(k: &Kernel<H>, e: Option<Doomed>) {
    let Some(e) = e else {
        return;
    };
    let Some(n) = e.node else {
        return;
    };
    if !n.isdir {
        k.inotify.change(&Change {
            mask: inotify::IN_ATTRIB,
            target: Some(n.key),
            dir: None,
            isdir: false,
            cookie: 0,
            unlinked: n.nlink <= 1,
        });
    }
    if n.isdir || n.nlink <= 1 {
        k.inotify.removed(n.key);
    }
    fsnotify_entry(k, &e.dir, &e.name, inotify::IN_DELETE, n.isdir, 0);
}

/// A rename from `old` to `new` happened (`new.node`, if any, was replaced).
pub(crate) fn fsnotify_renamed<H: Host>(k: &Kernel<H>, old: Option<Doomed>, new: Option<Doomed>) {
    let (Some(old), Some(new)) = (old, new) else {
        return;
    };
    let Some(moved) = old.node else {
        return;
    };
    let cookie = k.inotify.next_cookie();
    fsnotify_entry(
        k,
        &old.dir,
        &old.name,
        inotify::IN_MOVED_FROM,
        moved.isdir,
        cookie,
    );
    fsnotify_entry(
        k,
        &new.dir,
        &new.name,
        inotify::IN_MOVED_TO,
        moved.isdir,
        cookie,
    );
    let replaced = new.node.filter(|n| n.key != moved.key);
    if let Some(t) = replaced.filter(|t| !t.isdir) {
        k.inotify.change(&Change {
            mask: inotify::IN_ATTRIB,
            target: Some(t.key),
            dir: None,
            isdir: false,
            cookie: 0,
            unlinked: t.nlink <= 1,
        });
    }
    k.inotify.change(&Change {
        mask: inotify::IN_MOVE_SELF,
        target: Some(moved.key),
        dir: None,
        isdir: moved.isdir,
        cookie: 0,
        unlinked: false,
    });
    if let Some(t) = replaced.filter(|t| t.isdir || t.nlink <= 1) {
        k.inotify.removed(t.key);
    }
}

/// A file was opened: IN_CREATE if `created`, IN_OPEN, and IN_CLOSE_WRITE
/// or IN_CLOSE_NOWRITE when its last descriptor goes.
pub(crate) fn fsnotify_open<H: Host>(k: &Kernel<H>, f: &OpenFile, created: bool) {
    if !k.inotify.active() {
        return;
    }
    let Some(p) = f.path() else {
        return;
    };
    if created {
        if let Some(parent) = p.parent() {
            fsnotify_entry(k, parent, p.name(), inotify::IN_CREATE, false, 0);
        }
    }
    fsnotify_node(k, p, inotify::IN_OPEN);
    let Some(me) = info_of(&**p.inode()) else {
        return;
    };
    let dir = p
        .parent()
        .and_then(|d| info_of(&**d.inode()))
        .map(|d| (d.key, p.name().to_vec()));
    let hub = k.inotify.clone();
    let mask = if f.writable() {
        inotify::IN_CLOSE_WRITE
    } else {
        inotify::IN_CLOSE_NOWRITE
    };
    f.on_last_close(Box::new(move || {
        hub.change(&Change {
            mask,
            target: Some(me.key),
            dir: dir.as_ref().map(|(k, n)| (*k, &n[..])),
            isdir: me.isdir,
            cookie: 0,
            unlinked: false,
        });
    }));
}
