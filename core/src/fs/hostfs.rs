//! hostfs: a directory of the host served to the guest (`--root DIR`,
//! `--mount DIR:/path`), as UML's hostfs and gVisor's gofer do.
//!
//! The host side is a [`HostFs`]: handles to nodes beneath one granted
//! directory, and operations on them by handle and single name components.
//! The shim implements it with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) from directory fds it holds, one
//! component at a time, so nothing it is asked can resolve outside the
//! granted directory. Symlinks are never followed by the host: the guest's
//! path walk reads them ([`Inode::readlink`]) and follows them inside the
//! guest's own name space; `..` is the guest VFS's too (it never reaches
//! [`Inode::lookup`]).
//!
//! Three modes ([`HostMode`]):
//! - `Overlay` (the default): the host directory is only read; the guest's
//!   changes live in memory in the nodes themselves. A regular file is copied
//!   up (its whole content read into memory) on its first write or truncate,
//!   a node's attributes on its first chmod/chown/utimes; a directory keeps a
//!   table of the names it added (nodes that exist only in memory, or host
//!   nodes moved there) and of the names it removed (whiteouts). Changed
//!   nodes are pinned (kept alive) so a later lookup finds the same object.
//! - `ReadOnly` (`:ro`): every change is EROFS.
//! - `ReadWrite` (`:rw`, `--rw`): changes are written through to the host.
//!
//! One object per host file while it lives (found by host device and inode
//! number), so hard links and the page cache see one file. Ownership and
//! modes are shown as the host stores them; the guest's root may do anything
//! its own permission checks allow.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;
use umbra_abi::flags::S_IFMT;
use umbra_abi::structs::Timespec;

use super::vfs::{st_flags, DirEntry, FileType, FsStats, Inode, Metadata, NewNode, SetAttr};
use crate::error::{Errno, KResult};

/// The host's name for a node beneath the granted directory (the shim: an fd).
pub type Handle = u64;

/// What the host's stat tells of a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStat {
    /// The host device (with `ino`, the node's identity on the host).
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u32,
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

/// One entry of a host directory ("." and ".." included or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDirent {
    pub name: Vec<u8>,
    pub ino: u64,
    /// `None` when the host does not say (DT_UNKNOWN).
    pub kind: Option<FileType>,
}

/// One granted host directory. Names are single components: never empty,
/// never "." or "..", no '/' or NUL. Handles are those the host returned and
/// not yet released. The write operations are called only on a `ReadWrite`
/// mount.
pub trait HostFs: Send + Sync {
    /// The granted directory itself.
    fn root(&self) -> KResult<(Handle, HostStat)>;
    /// `name` in directory `dir`, not following a symlink.
    fn lookup(&self, dir: Handle, name: &[u8]) -> KResult<(Handle, HostStat)>;
    fn stat(&self, node: Handle) -> KResult<HostStat>;
    /// Reads a regular file at `off`.
    fn read(&self, node: Handle, off: u64, buf: &mut [u8]) -> KResult<usize>;
    /// Every entry of directory `dir`.
    fn readdir(&self, dir: Handle) -> KResult<Vec<HostDirent>>;
    fn readlink(&self, node: Handle) -> KResult<Vec<u8>>;
    /// The figures of the host filesystem holding the directory (statfs).
    fn statfs(&self) -> KResult<FsStats> {
        Err(Errno::ENOSYS)
    }
    /// The node is no longer used.
    fn release(&self, node: Handle);
    fn write(&self, _node: Handle, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EROFS)
    }
    fn truncate(&self, _node: Handle, _size: u64) -> KResult<()> {
        Err(Errno::EROFS)
    }
    fn fsync(&self, _node: Handle) -> KResult<()> {
        Ok(())
    }
    /// Creates a regular file, directory, fifo or socket (EEXIST if taken).
    fn create(
        &self,
        _dir: Handle,
        _name: &[u8],
        _kind: FileType,
        _perm: u32,
    ) -> KResult<(Handle, HostStat)> {
        Err(Errno::EROFS)
    }
    fn symlink(&self, _dir: Handle, _name: &[u8], _target: &[u8]) -> KResult<(Handle, HostStat)> {
        Err(Errno::EROFS)
    }
    /// A new name `name` in `dir` for the node `target`.
    fn link(&self, _dir: Handle, _name: &[u8], _target: Handle) -> KResult<()> {
        Err(Errno::EROFS)
    }
    /// Removes a non-directory, or with `is_dir` an empty directory.
    fn unlink(&self, _dir: Handle, _name: &[u8], _is_dir: bool) -> KResult<()> {
        Err(Errno::EROFS)
    }
    fn rename(&self, _from: Handle, _name: &[u8], _to: Handle, _new: &[u8]) -> KResult<()> {
        Err(Errno::EROFS)
    }
    /// chmod, chown, utimes (ctime is the host's).
    fn set_attr(&self, _node: Handle, _attr: &SetAttr) -> KResult<()> {
        Err(Errno::EROFS)
    }
}

/// How the guest's changes are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostMode {
    /// In memory, over the unchanged host directory.
    Overlay,
    /// Nowhere: EROFS.
    ReadOnly,
    /// On the host.
    ReadWrite,
}

/// HOSTFS_SUPER_MAGIC, what statfs reports.
pub const HOSTFS_SUPER_MAGIC: u32 = 0x00c0_ffee;

/// Inode numbers of nodes that exist only in memory start here.
const MEM_INO_BASE: u64 = 1 << 32;

/// The state of one mount.
struct Shared {
    host: Arc<dyn HostFs>,
    dev: u64,
    mode: HostMode,
    /// Made read-only after set-up ([`freeze`]): an overlay mount whose
    /// mount points were made in memory, then EROFS as a ReadOnly mount.
    frozen: core::sync::atomic::AtomicBool,
    /// The live node of each host (dev, ino).
    nodes: Mutex<BTreeMap<(u64, u64), Weak<HostNode>>>,
    /// Host nodes with in-memory changes, kept alive (overlay).
    pinned: Mutex<BTreeMap<(u64, u64), Arc<HostNode>>>,
    next_ino: AtomicU64,
}

/// The in-memory layer of a node (overlay mode; symlink targets of memory
/// nodes).
#[derive(Default)]
struct Upper {
    /// The attributes since the node was changed (always, for memory nodes).
    meta: Option<Metadata>,
    /// The content of a regular file since its copy-up.
    data: Option<Vec<u8>>,
    /// The target of a memory symlink.
    target: Option<Vec<u8>>,
    /// Names added (`Some`) or removed (`None`: a whiteout) in a directory.
    entries: BTreeMap<Vec<u8>, Option<Arc<HostNode>>>,
    /// The merged listing readdir serves, by cursor.
    listing: Option<Vec<DirEntry>>,
}

/// A node of a host directory, or one made by the guest in the overlay.
pub struct HostNode {
    fs: Arc<Shared>,
    me: Weak<HostNode>,
    /// The host's handle; `None` for a node that exists only in memory.
    handle: Option<Handle>,
    key: (u64, u64),
    kind: FileType,
    ino: u64,
    up: Mutex<Upper>,
    /// The directory this directory was last found in (for the rename
    /// check that a directory is not moved beneath itself).
    parent: Mutex<Weak<HostNode>>,
}

/// Mounts the host directory behind `host`: its root node. `dev` is the
/// device number the guest sees. The root may also be a regular file (a
/// bind mount of one file), which the VFS mounts on a non-directory.
pub fn mount(host: Arc<dyn HostFs>, dev: u64, mode: HostMode) -> KResult<Arc<dyn Inode>> {
    let (h, st) = host.root()?;
    let kind = st.mode & S_IFMT;
    if kind != FileType::Directory.mode_bits() && kind != FileType::Regular.mode_bits() {
        host.release(h);
        return Err(Errno::ENOTDIR);
    }
    let fs = Arc::new(Shared {
        host,
        dev,
        mode,
        frozen: core::sync::atomic::AtomicBool::new(false),
        nodes: Mutex::new(BTreeMap::new()),
        pinned: Mutex::new(BTreeMap::new()),
        next_ino: AtomicU64::new(MEM_INO_BASE),
    });
    Ok(Shared::node_for(&fs, h, &st))
}

/// Makes the hostfs mount whose root is `root` read-only from now on (EROFS,
/// as [`HostMode::ReadOnly`]), keeping what was already written in its
/// overlay: an OCI `root.readonly` root gets its mount points first, as runc
/// remounts the root read-only after mounting. EINVAL if `root` is not a
/// hostfs node.
pub fn freeze(root: &Arc<dyn Inode>) -> KResult<()> {
    let node = root
        .as_any()
        .downcast_ref::<HostNode>()
        .ok_or(Errno::EINVAL)?;
    node.fs
        .frozen
        .store(true, core::sync::atomic::Ordering::SeqCst);
    Ok(())
}

impl Shared {
    /// Whether changes are refused (EROFS).
    fn read_only(&self) -> bool {
        self.mode == HostMode::ReadOnly || self.frozen.load(core::sync::atomic::Ordering::SeqCst)
    }

    /// The node of a host handle: the live one for the same host file (the
    /// new handle is released), or a new one.
    fn node_for(this: &Arc<Shared>, h: Handle, st: &HostStat) -> Arc<HostNode> {
        let key = (st.dev, st.ino);
        let found = this.pinned.lock().get(&key).cloned();
        let found = found.or_else(|| this.nodes.lock().get(&key).and_then(Weak::upgrade));
        if let Some(n) = found {
            this.host.release(h);
            return n;
        }
        let kind = FileType::from_mode(st.mode).unwrap_or(FileType::Regular);
        let n = Arc::new_cyclic(|me| HostNode {
            fs: this.clone(),
            me: me.clone(),
            handle: Some(h),
            key,
            kind,
            ino: st.ino,
            up: Mutex::new(Upper::default()),
            parent: Mutex::new(Weak::new()),
        });
        this.nodes.lock().insert(key, Arc::downgrade(&n));
        n
    }

    /// A node that exists only in memory (overlay).
    fn memory_node(this: &Arc<Shared>, attr: &NewNode, target: Option<&[u8]>) -> Arc<HostNode> {
        let ino = this.next_ino.fetch_add(1, Ordering::Relaxed);
        let size = target.map_or(0, |t| t.len() as u64);
        let meta = Metadata {
            dev: this.dev,
            ino,
            mode: attr.kind.mode_bits() | (attr.perm & 0o7777),
            nlink: if attr.kind == FileType::Directory {
                2
            } else {
                1
            },
            uid: attr.uid,
            gid: attr.gid,
            rdev: attr.rdev,
            size,
            blksize: 4096,
            blocks: 0,
            atime: attr.now,
            mtime: attr.now,
            ctime: attr.now,
        };
        let up = Upper {
            meta: Some(meta),
            data: (attr.kind == FileType::Regular).then(Vec::new),
            target: target.map(<[u8]>::to_vec),
            ..Upper::default()
        };
        Arc::new_cyclic(|me| HostNode {
            fs: this.clone(),
            me: me.clone(),
            handle: None,
            key: (u64::MAX, ino),
            kind: attr.kind,
            ino,
            up: Mutex::new(up),
            parent: Mutex::new(Weak::new()),
        })
    }

    fn meta_of(&self, st: &HostStat) -> Metadata {
        Metadata {
            dev: self.dev,
            ino: st.ino,
            mode: st.mode,
            nlink: st.nlink,
            uid: st.uid,
            gid: st.gid,
            rdev: st.rdev,
            size: st.size,
            blksize: st.blksize,
            blocks: st.blocks,
            atime: st.atime,
            mtime: st.mtime,
            ctime: st.ctime,
        }
    }
}

impl Drop for HostNode {
    fn drop(&mut self) {
        if let Some(h) = self.handle {
            {
                let mut nodes = self.fs.nodes.lock();
                if nodes.get(&self.key).is_some_and(|w| w.strong_count() == 0) {
                    nodes.remove(&self.key);
                }
            }
            self.fs.host.release(h);
        }
    }
}

/// EINVAL for what can never be one name component.
fn check_name(name: &[u8]) -> KResult<()> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EINVAL);
    }
    if name.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if name.len() > super::vfs::NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// An entry's inode number and type.
type Found = (u64, FileType);

/// The readdir cursor after `name`: stable while other names come and go
/// (FNV-1a, above the cursors of "." and "..").
fn cursor_of(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 2) + 3
}

impl HostNode {
    fn arc(&self) -> Arc<HostNode> {
        // `me` is alive while `self` is borrowed through an Arc.
        self.me
            .upgrade()
            .expect("a host node is used through its Arc")
    }

    fn host(&self) -> &dyn HostFs {
        self.fs.host.as_ref()
    }

    fn handle(&self) -> KResult<Handle> {
        self.handle.ok_or(Errno::EIO)
    }

    fn rw(&self) -> bool {
        self.fs.mode == HostMode::ReadWrite
    }

    /// EROFS on a read-only mount.
    fn may_change(&self) -> KResult<()> {
        if self.fs.read_only() {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    fn is_dir(&self) -> KResult<()> {
        if self.kind == FileType::Directory {
            Ok(())
        } else {
            Err(Errno::ENOTDIR)
        }
    }

    /// The same-mount host node behind `inode` (EXDEV if it is not one).
    fn same_fs(&self, inode: &Arc<dyn Inode>) -> KResult<Arc<HostNode>> {
        let n = inode
            .as_any()
            .downcast_ref::<HostNode>()
            .filter(|n| Arc::ptr_eq(&n.fs, &self.fs))
            .ok_or(Errno::EXDEV)?;
        Ok(n.arc())
    }

    /// Overlay: copies the attributes up (once) and pins the node; returns
    /// the locked upper layer.
    fn upper(&self) -> KResult<spin::MutexGuard<'_, Upper>> {
        let mut up = self.up.lock();
        if up.meta.is_none() {
            drop(up);
            let st = self.host().stat(self.handle()?)?;
            let meta = self.fs.meta_of(&st);
            up = self.up.lock();
            up.meta.get_or_insert(meta);
            if self.handle.is_some() {
                self.fs.pinned.lock().insert(self.key, self.arc());
            }
        }
        Ok(up)
    }

    /// Overlay: copies a regular file's content up (once).
    fn upper_data(&self) -> KResult<spin::MutexGuard<'_, Upper>> {
        let up = self.upper()?;
        if up.data.is_some() {
            return Ok(up);
        }
        let size = up.meta.map_or(0, |m| m.size);
        drop(up);
        let h = self.handle()?;
        let mut data = Vec::new();
        data.try_reserve_exact(usize::try_from(size).map_err(|_| Errno::EFBIG)?)
            .map_err(|_| Errno::ENOMEM)?;
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let n = self.host().read(h, data.len() as u64, &mut chunk)?;
            if n == 0 {
                break;
            }
            data.try_reserve(n).map_err(|_| Errno::ENOMEM)?;
            data.extend_from_slice(&chunk[..n]);
        }
        let mut up = self.up.lock();
        if up.data.is_none() {
            up.data = Some(data);
        }
        Ok(up)
    }

    /// Looks `name` up as a host node.
    fn find(&self, name: &[u8]) -> KResult<Arc<HostNode>> {
        self.is_dir()?;
        check_name(name)?;
        let found = self.up.lock().entries.get(name).cloned();
        let node = match found {
            Some(e) => e.ok_or(Errno::ENOENT)?,
            None => {
                let dir = self.handle.ok_or(Errno::ENOENT)?;
                let (h, st) = self.host().lookup(dir, name)?;
                Shared::node_for(&self.fs, h, &st)
            }
        };
        if node.kind == FileType::Directory {
            *node.parent.lock() = self.me.clone();
        }
        Ok(node)
    }

    /// Whether `self` is `node` or lies beneath it (by the directories
    /// each was last found in; the caller's path holds them all alive).
    fn is_beneath(&self, node: &Arc<HostNode>) -> bool {
        let mut cur = self.arc();
        for _ in 0..4096 {
            if Arc::ptr_eq(&cur, node) {
                return true;
            }
            let up = cur.parent.lock().upgrade();
            match up {
                Some(p) => cur = p,
                None => return false,
            }
        }
        false
    }

    /// Overlay: `name` now names `node` (or nothing); the directory's times
    /// and link count follow.
    fn set_entry(&self, name: &[u8], node: Option<Arc<HostNode>>, now: Timespec, dirs: i32) {
        if let Ok(mut up) = self.upper() {
            up.entries.insert(name.to_vec(), node);
            up.listing = None;
            if let Some(m) = up.meta.as_mut() {
                m.mtime = now;
                m.ctime = now;
                m.nlink = m.nlink.saturating_add_signed(dirs);
            }
        }
    }

    /// Adds one to (or takes one from) the link count of a changed node.
    fn add_links(&self, n: i32, now: Timespec) -> KResult<()> {
        let mut up = self.upper()?;
        if let Some(m) = up.meta.as_mut() {
            m.nlink = m.nlink.saturating_add_signed(n);
            m.ctime = now;
        }
        Ok(())
    }

    fn is_empty_dir(&self) -> KResult<bool> {
        let all = self.readdir(0, usize::MAX)?;
        Ok(all.iter().all(|e| e.name == b"." || e.name == b".."))
    }

    /// The merged listing of this directory, sorted by cursor.
    fn listing(&self) -> KResult<Vec<DirEntry>> {
        let mut out = vec![
            DirEntry {
                name: b".".to_vec(),
                ino: self.ino,
                kind: FileType::Directory,
                next_off: 1,
            },
            DirEntry {
                name: b"..".to_vec(),
                ino: self.ino,
                kind: FileType::Directory,
                next_off: 2,
            },
        ];
        let added: Vec<(Vec<u8>, Option<Found>)> = self
            .up
            .lock()
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map(|n| (n.ino, n.kind))))
            .collect();
        let mut rest = Vec::new();
        if let Some(h) = self.handle {
            for e in self.host().readdir(h)? {
                if e.name == b"." || e.name == b".." || check_name(&e.name).is_err() {
                    continue;
                }
                if added.iter().any(|(k, _)| *k == e.name) {
                    continue;
                }
                let kind = match e.kind {
                    Some(k) => k,
                    None => match self.find(&e.name) {
                        Ok(n) => n.kind,
                        Err(_) => continue,
                    },
                };
                rest.push((e.name, e.ino, kind));
            }
        }
        for (name, v) in added {
            if let Some((ino, kind)) = v {
                rest.push((name, ino, kind));
            }
        }
        let mut keyed: Vec<(u64, Vec<u8>, u64, FileType)> = rest
            .into_iter()
            .map(|(n, ino, k)| (cursor_of(&n), n, ino, k))
            .collect();
        crate::sort::sort_by(&mut keyed, |a, b| (a.0, &a.1) < (b.0, &b.1));
        let mut last = 2;
        for (key, name, ino, kind) in keyed {
            // Two names with one hash: the second gets the next cursor.
            let key = key.max(last + 1);
            last = key;
            out.push(DirEntry {
                name,
                ino,
                kind,
                next_off: key,
            });
        }
        Ok(out)
    }
}

impl Inode for HostNode {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn kind(&self) -> FileType {
        self.kind
    }

    fn metadata(&self) -> KResult<Metadata> {
        {
            let up = self.up.lock();
            if let Some(mut m) = up.meta {
                if let Some(d) = &up.data {
                    m.size = d.len() as u64;
                    m.blocks = m.size.div_ceil(512);
                }
                if let Some(t) = &up.target {
                    m.size = t.len() as u64;
                }
                return Ok(m);
            }
        }
        let st = self.host().stat(self.handle()?)?;
        Ok(self.fs.meta_of(&st))
    }

    fn set_metadata(&self, attr: &SetAttr) -> KResult<()> {
        self.may_change()?;
        if self.rw() {
            return self.host().set_attr(self.handle()?, attr);
        }
        let mut up = self.upper()?;
        if let Some(m) = up.meta.as_mut() {
            if let Some(p) = attr.perm {
                m.mode = (m.mode & S_IFMT) | (p & 0o7777);
            }
            if let Some(u) = attr.uid {
                m.uid = u;
            }
            if let Some(g) = attr.gid {
                m.gid = g;
            }
            if let Some(t) = attr.atime {
                m.atime = t;
            }
            if let Some(t) = attr.mtime {
                m.mtime = t;
            }
            m.ctime = attr.ctime;
        }
        Ok(())
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        match self.kind {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        {
            let up = self.up.lock();
            if let Some(d) = &up.data {
                return Ok(super::copy_at(d, off, buf));
            }
        }
        self.host().read(self.handle()?, off, buf)
    }

    fn write_at(&self, off: u64, buf: &[u8], now: Timespec) -> KResult<usize> {
        match self.kind {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        self.may_change()?;
        if self.rw() {
            return self.host().write(self.handle()?, off, buf);
        }
        let mut up = self.upper_data()?;
        let start = usize::try_from(off).map_err(|_| Errno::EFBIG)?;
        let end = start.checked_add(buf.len()).ok_or(Errno::EFBIG)?;
        let data = up.data.as_mut().ok_or(Errno::EIO)?;
        if data.len() < end {
            data.try_reserve(end - data.len())
                .map_err(|_| Errno::ENOSPC)?;
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(buf);
        if let Some(m) = up.meta.as_mut() {
            m.mtime = now;
            m.ctime = now;
        }
        Ok(buf.len())
    }

    fn truncate(&self, size: u64, now: Timespec) -> KResult<()> {
        match self.kind {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        self.may_change()?;
        if self.rw() {
            return self.host().truncate(self.handle()?, size);
        }
        let size = usize::try_from(size).map_err(|_| Errno::EFBIG)?;
        if size == 0 {
            // O_TRUNC: nothing of the host's content is needed.
            let mut up = self.upper()?;
            up.data = Some(Vec::new());
            if let Some(m) = up.meta.as_mut() {
                m.mtime = now;
                m.ctime = now;
            }
            return Ok(());
        }
        let mut up = self.upper_data()?;
        let data = up.data.as_mut().ok_or(Errno::EIO)?;
        if size > data.len() {
            data.try_reserve(size - data.len())
                .map_err(|_| Errno::ENOSPC)?;
        }
        data.resize(size, 0);
        if let Some(m) = up.meta.as_mut() {
            m.mtime = now;
            m.ctime = now;
        }
        Ok(())
    }

    fn fsync(&self) -> KResult<()> {
        match (self.rw(), self.handle) {
            (true, Some(h)) => self.host().fsync(h),
            _ => Ok(()),
        }
    }

    fn lookup(&self, name: &[u8]) -> KResult<Arc<dyn Inode>> {
        if name == b"." {
            self.is_dir()?;
            return Ok(self.arc());
        }
        Ok(self.find(name)?)
    }

    fn create(&self, name: &[u8], attr: &NewNode) -> KResult<Arc<dyn Inode>> {
        self.is_dir()?;
        check_name(name)?;
        self.may_change()?;
        if self.rw() {
            if matches!(attr.kind, FileType::CharDevice | FileType::BlockDevice) {
                // No device nodes on the host (they would be the host's devices).
                return Err(Errno::EPERM);
            }
            let (h, st) = self
                .host()
                .create(self.handle()?, name, attr.kind, attr.perm)?;
            self.up.lock().listing = None;
            return Ok(Shared::node_for(&self.fs, h, &st));
        }
        match self.find(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let node = Shared::memory_node(&self.fs, attr, None);
        let dirs = i32::from(attr.kind == FileType::Directory);
        self.set_entry(name, Some(node.clone()), attr.now, dirs);
        Ok(node)
    }

    fn symlink(&self, name: &[u8], target: &[u8], attr: &NewNode) -> KResult<Arc<dyn Inode>> {
        self.is_dir()?;
        check_name(name)?;
        self.may_change()?;
        if self.rw() {
            let (h, st) = self.host().symlink(self.handle()?, name, target)?;
            self.up.lock().listing = None;
            return Ok(Shared::node_for(&self.fs, h, &st));
        }
        match self.find(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let node = Shared::memory_node(&self.fs, attr, Some(target));
        self.set_entry(name, Some(node.clone()), attr.now, 0);
        Ok(node)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>, now: Timespec) -> KResult<()> {
        self.is_dir()?;
        check_name(name)?;
        let target = self.same_fs(target)?;
        self.may_change()?;
        if target.kind == FileType::Directory {
            return Err(Errno::EPERM);
        }
        if self.rw() {
            self.host().link(self.handle()?, name, target.handle()?)?;
            self.up.lock().listing = None;
            return Ok(());
        }
        match self.find(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        target.add_links(1, now)?;
        self.set_entry(name, Some(target), now, 0);
        Ok(())
    }

    fn unlink(&self, name: &[u8], now: Timespec) -> KResult<()> {
        self.is_dir()?;
        self.may_change()?;
        if self.rw() {
            check_name(name)?;
            self.host().unlink(self.handle()?, name, false)?;
            self.up.lock().listing = None;
            return Ok(());
        }
        let node = self.find(name)?;
        if node.kind == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        if node.up.lock().meta.is_some() {
            node.add_links(-1, now)?;
        }
        self.set_entry(name, None, now, 0);
        Ok(())
    }

    fn rmdir(&self, name: &[u8], now: Timespec) -> KResult<()> {
        self.is_dir()?;
        self.may_change()?;
        if self.rw() {
            check_name(name)?;
            self.host().unlink(self.handle()?, name, true)?;
            self.up.lock().listing = None;
            return Ok(());
        }
        let node = self.find(name)?;
        node.is_dir()?;
        if !node.is_empty_dir()? {
            return Err(Errno::ENOTEMPTY);
        }
        self.set_entry(name, None, now, -1);
        Ok(())
    }

    fn rename(
        &self,
        old_name: &[u8],
        new_dir: &Arc<dyn Inode>,
        new_name: &[u8],
        now: Timespec,
    ) -> KResult<()> {
        self.is_dir()?;
        check_name(old_name)?;
        check_name(new_name)?;
        let to = self.same_fs(new_dir)?;
        to.is_dir()?;
        self.may_change()?;
        if self.rw() {
            self.host()
                .rename(self.handle()?, old_name, to.handle()?, new_name)?;
            self.up.lock().listing = None;
            to.up.lock().listing = None;
            return Ok(());
        }
        let node = self.find(old_name)?;
        let dirs = i32::from(node.kind == FileType::Directory);
        match to.find(new_name) {
            Ok(old) if Arc::ptr_eq(&old, &node) => return Ok(()),
            Ok(old) => match (
                node.kind == FileType::Directory,
                old.kind == FileType::Directory,
            ) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !old.is_empty_dir()? => return Err(Errno::ENOTEMPTY),
                _ => {}
            },
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if dirs == 1 && to.is_beneath(&node) {
            return Err(Errno::EINVAL);
        }
        if dirs == 1 {
            *node.parent.lock() = to.me.clone();
        }
        self.set_entry(old_name, None, now, -dirs);
        to.set_entry(new_name, Some(node), now, dirs);
        Ok(())
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        if self.kind != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        if let Some(t) = &self.up.lock().target {
            return Ok(t.clone());
        }
        self.host().readlink(self.handle()?)
    }

    fn readdir(&self, offset: u64, max: usize) -> KResult<Vec<DirEntry>> {
        self.is_dir()?;
        let cached = if offset == 0 {
            None
        } else {
            self.up.lock().listing.clone()
        };
        let all = match cached {
            Some(l) => l,
            None => {
                let l = self.listing()?;
                self.up.lock().listing = Some(l.clone());
                l
            }
        };
        Ok(all
            .into_iter()
            .filter(|e| e.next_off > offset)
            .take(max.max(1))
            .collect())
    }

    fn statfs(&self) -> Option<FsStats> {
        // The host's figures where it gives them, under hostfs's own magic.
        let host = self.host().statfs().unwrap_or(FsStats {
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..FsStats::default()
        });
        Some(FsStats {
            f_type: HOSTFS_SUPER_MAGIC,
            fsid: [self.fs.dev as i32, (self.fs.dev >> 32) as i32],
            flags: if self.fs.read_only() {
                st_flags::ST_RDONLY
            } else {
                0
            },
            ..host
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_abi::flags::{S_IFDIR, S_IFLNK, S_IFREG};

    /// A host directory in memory: handles are node indexes.
    struct MockNode {
        mode: u32,
        data: Vec<u8>,
        children: BTreeMap<Vec<u8>, u64>,
    }

    struct Mock {
        nodes: Mutex<Vec<MockNode>>,
    }

    impl Mock {
        /// /etc/msg ("hello"), /etc/link -> msg, /d/e/f ("deep").
        fn new() -> Arc<Mock> {
            let m = Mock {
                nodes: Mutex::new(Vec::new()),
            };
            let root = m.add(S_IFDIR | 0o755, b"");
            let etc = m.add(S_IFDIR | 0o755, b"");
            let msg = m.add(S_IFREG | 0o644, b"hello");
            let link = m.add(S_IFLNK | 0o777, b"msg");
            let d = m.add(S_IFDIR | 0o755, b"");
            let e = m.add(S_IFDIR | 0o755, b"");
            let f = m.add(S_IFREG | 0o600, b"deep");
            m.link(root, b"etc", etc);
            m.link(etc, b"msg", msg);
            m.link(etc, b"link", link);
            m.link(root, b"d", d);
            m.link(d, b"e", e);
            m.link(e, b"f", f);
            Arc::new(m)
        }
        fn add(&self, mode: u32, data: &[u8]) -> u64 {
            let mut n = self.nodes.lock();
            n.push(MockNode {
                mode,
                data: data.to_vec(),
                children: BTreeMap::new(),
            });
            n.len() as u64 - 1
        }
        fn link(&self, dir: u64, name: &[u8], node: u64) {
            self.nodes.lock()[dir as usize]
                .children
                .insert(name.to_vec(), node);
        }
        fn data(&self, node: u64) -> Vec<u8> {
            self.nodes.lock()[node as usize].data.clone()
        }
    }

    impl HostFs for Mock {
        fn root(&self) -> KResult<(Handle, HostStat)> {
            Ok((0, self.stat(0)?))
        }
        fn lookup(&self, dir: Handle, name: &[u8]) -> KResult<(Handle, HostStat)> {
            assert!(check_name(name).is_ok(), "{name:?}");
            let h = *self.nodes.lock()[dir as usize]
                .children
                .get(name)
                .ok_or(Errno::ENOENT)?;
            Ok((h, self.stat(h)?))
        }
        fn stat(&self, node: Handle) -> KResult<HostStat> {
            let n = &self.nodes.lock()[node as usize];
            Ok(HostStat {
                dev: 1,
                ino: node + 100,
                mode: n.mode,
                nlink: 1,
                size: n.data.len() as u64,
                ..HostStat::default()
            })
        }
        fn read(&self, node: Handle, off: u64, buf: &mut [u8]) -> KResult<usize> {
            Ok(super::super::copy_at(&self.data(node), off, buf))
        }
        fn readdir(&self, dir: Handle) -> KResult<Vec<HostDirent>> {
            let nodes = self.nodes.lock();
            Ok(nodes[dir as usize]
                .children
                .iter()
                .map(|(name, &h)| HostDirent {
                    name: name.clone(),
                    ino: h + 100,
                    kind: FileType::from_mode(nodes[h as usize].mode),
                })
                .collect())
        }
        fn readlink(&self, node: Handle) -> KResult<Vec<u8>> {
            Ok(self.data(node))
        }
        fn release(&self, _node: Handle) {}
        fn write(&self, node: Handle, off: u64, buf: &[u8]) -> KResult<usize> {
            let d = &mut self.nodes.lock()[node as usize].data;
            let end = off as usize + buf.len();
            if d.len() < end {
                d.resize(end, 0);
            }
            d[off as usize..end].copy_from_slice(buf);
            Ok(buf.len())
        }
        fn create(
            &self,
            dir: Handle,
            name: &[u8],
            kind: FileType,
            perm: u32,
        ) -> KResult<(Handle, HostStat)> {
            let h = self.add(kind.mode_bits() | perm, b"");
            self.link(dir, name, h);
            Ok((h, self.stat(h)?))
        }
        fn unlink(&self, dir: Handle, name: &[u8], _is_dir: bool) -> KResult<()> {
            self.nodes.lock()[dir as usize]
                .children
                .remove(name)
                .map(|_| ())
                .ok_or(Errno::ENOENT)
        }
    }

    fn t(s: i64) -> Timespec {
        Timespec {
            tv_sec: s,
            tv_nsec: 0,
        }
    }

    fn attr(kind: FileType) -> NewNode {
        NewNode {
            kind,
            perm: 0o644,
            uid: 0,
            gid: 0,
            rdev: 0,
            now: t(7),
        }
    }

    fn read_all(i: &Arc<dyn Inode>) -> Vec<u8> {
        let mut buf = [0u8; 64];
        let n = i.read_at(0, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    fn names(dir: &Arc<dyn Inode>) -> Vec<Vec<u8>> {
        let mut v: Vec<_> = dir
            .readdir(0, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn overlay_copies_up_and_leaves_the_host_alone() {
        let m = Mock::new();
        let root = mount(m.clone(), 9, HostMode::Overlay).unwrap();
        let etc = root.lookup(b"etc").unwrap();
        let msg = etc.lookup(b"msg").unwrap();
        assert_eq!(read_all(&msg), b"hello");
        assert_eq!(msg.metadata().unwrap().dev, 9);
        assert_eq!(msg.write_at(5, b" world", t(1)).unwrap(), 6);
        drop(msg);
        // The copied-up node is kept: a new lookup finds it.
        let msg = etc.lookup(b"msg").unwrap();
        assert_eq!(read_all(&msg), b"hello world");
        assert_eq!(msg.metadata().unwrap().size, 11);
        assert_eq!(m.data(2), b"hello");
        msg.truncate(0, t(2)).unwrap();
        assert_eq!(read_all(&msg), b"");
        // One object per host file.
        assert!(Arc::ptr_eq(&msg, &etc.lookup(b"msg").unwrap()));
        assert_eq!(etc.lookup(b"link").unwrap().readlink().unwrap(), b"msg");
        assert!(Arc::ptr_eq(&etc.lookup(b".").unwrap(), &etc));
    }

    #[test]
    fn overlay_whiteouts_new_nodes_and_stable_cursors() {
        let m = Mock::new();
        let root = mount(m.clone(), 9, HostMode::Overlay).unwrap();
        let etc = root.lookup(b"etc").unwrap();
        etc.unlink(b"msg", t(1)).unwrap();
        assert_eq!(etc.lookup(b"msg").err(), Some(Errno::ENOENT));
        let n = etc.create(b"new", &attr(FileType::Regular)).unwrap();
        n.write_at(0, b"x", t(1)).unwrap();
        assert_eq!(
            etc.create(b"new", &attr(FileType::Regular)).err(),
            Some(Errno::EEXIST)
        );
        assert_eq!(
            names(&etc),
            [
                b".".to_vec(),
                b"..".to_vec(),
                b"link".to_vec(),
                b"new".to_vec()
            ]
        );
        assert!(m.nodes.lock()[1].children.contains_key(&b"msg"[..]));
        // rm -r style: read two, remove them, continue from the cursor.
        for i in 0..6u8 {
            etc.create(&[b'f', b'0' + i], &attr(FileType::Regular))
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut off = 0;
        loop {
            let batch = etc.readdir(off, 2).unwrap();
            if batch.is_empty() {
                break;
            }
            for e in &batch {
                seen.push(e.name.clone());
                if e.name != b"." && e.name != b".." {
                    etc.unlink(&e.name, t(2)).unwrap();
                }
            }
            off = batch.last().unwrap().next_off;
        }
        seen.sort();
        assert_eq!(seen.len(), 10, "{seen:?}");
        assert_eq!(names(&etc), [b".".to_vec(), b"..".to_vec()]);
        assert_eq!(root.rmdir(b"etc", t(3)), Ok(()));
        assert_eq!(root.lookup(b"etc").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn overlay_renames_and_refuses_a_directory_beneath_itself() {
        let m = Mock::new();
        let root = mount(m.clone(), 9, HostMode::Overlay).unwrap();
        let d = root.lookup(b"d").unwrap();
        let e = d.lookup(b"e").unwrap();
        assert_eq!(root.rename(b"d", &e, b"x", t(1)), Err(Errno::EINVAL));
        assert_eq!(root.rename(b"d", &d, b"x", t(1)), Err(Errno::EINVAL));
        assert_eq!(root.rmdir(b"d", t(1)), Err(Errno::ENOTEMPTY));
        d.rename(b"e", &root, b"moved", t(1)).unwrap();
        let moved = root.lookup(b"moved").unwrap();
        assert_eq!(read_all(&moved.lookup(b"f").unwrap()), b"deep");
        assert_eq!(d.lookup(b"e").err(), Some(Errno::ENOENT));
        assert_eq!(root.rmdir(b"d", t(1)), Ok(()));
        let s = root
            .symlink(b"sl", b"/etc/msg", &attr(FileType::Symlink))
            .unwrap();
        assert_eq!(s.readlink().unwrap(), b"/etc/msg");
        assert_eq!(s.metadata().unwrap().size, 8);
        // Hard links to a host file, then the host is still untouched.
        let f = moved.lookup(b"f").unwrap();
        root.link(b"hl", &f, t(2)).unwrap();
        assert_eq!(f.metadata().unwrap().nlink, 2);
        assert!(Arc::ptr_eq(&root.lookup(b"hl").unwrap(), &f));
        assert_eq!(m.nodes.lock()[0].children.len(), 2);
    }

    #[test]
    fn frozen_overlay_keeps_its_set_up_and_refuses_changes() {
        let m = Mock::new();
        let root = mount(m.clone(), 9, HostMode::Overlay).unwrap();
        let mnt = root.create(b"mnt", &attr(FileType::Directory)).unwrap();
        freeze(&root).unwrap();
        assert_eq!(
            root.lookup(b"mnt").unwrap().metadata().unwrap().ino,
            mnt.metadata().unwrap().ino
        );
        assert_eq!(
            root.create(b"x", &attr(FileType::Directory)).err(),
            Some(Errno::EROFS)
        );
        let msg = root.lookup(b"etc").unwrap().lookup(b"msg").unwrap();
        assert_eq!(msg.write_at(0, b"x", t(1)), Err(Errno::EROFS));
        assert_eq!(read_all(&msg), b"hello");
        assert_eq!(root.statfs().map(|s| s.flags), Some(st_flags::ST_RDONLY));
    }

    #[test]
    fn read_only_refuses_and_read_write_writes_through() {
        let m = Mock::new();
        let root = mount(m.clone(), 9, HostMode::ReadOnly).unwrap();
        let etc = root.lookup(b"etc").unwrap();
        let msg = etc.lookup(b"msg").unwrap();
        assert_eq!(msg.write_at(0, b"x", t(1)), Err(Errno::EROFS));
        assert_eq!(etc.unlink(b"msg", t(1)), Err(Errno::EROFS));
        assert_eq!(
            etc.create(b"n", &attr(FileType::Regular)).err(),
            Some(Errno::EROFS)
        );
        assert_eq!(
            root.statfs().unwrap().flags & st_flags::ST_RDONLY,
            st_flags::ST_RDONLY
        );
        let root = mount(m.clone(), 9, HostMode::ReadWrite).unwrap();
        let etc = root.lookup(b"etc").unwrap();
        etc.lookup(b"msg").unwrap().write_at(0, b"J", t(1)).unwrap();
        assert_eq!(m.data(2), b"Jello");
        let n = etc.create(b"n", &attr(FileType::Regular)).unwrap();
        n.write_at(0, b"new", t(1)).unwrap();
        let h = m.nodes.lock()[1].children[&b"n"[..]];
        assert_eq!(m.data(h), b"new");
        etc.unlink(b"n", t(1)).unwrap();
        assert!(!m.nodes.lock()[1].children.contains_key(&b"n"[..]));
        assert_eq!(
            etc.create(b"dev", &attr(FileType::CharDevice)).err(),
            Some(Errno::EPERM)
        );
        assert_eq!(root.lookup(b"a/b").err(), Some(Errno::EINVAL));
    }
}
