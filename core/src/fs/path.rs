//! Path names: the mount table, path walking with Linux's rules, and the name chain
//! ([`PathNode`]) that getcwd and /proc/self/cwd read back.
//!
//! A [`PathRef`] is an `Arc`'d node holding the inode it reached, the mount it is
//! in, its name and its parent node, like a Linux dentry paired with its vfsmount.
//! Walking `..` follows these parent links rather than asking the filesystem, so
//! `..` at the root of a mount goes to the mountpoint's parent and `..` at the
//! root stays at the root. Nodes are created per walk (there is no dentry cache);
//! a node keeps the name it was reached by, so a cwd whose directory is renamed
//! later still reports the old path (a known limitation).

use crate::vecmap::VecMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use spin::Mutex;

use super::vfs::{
    check_access, makedev, Access, Cred, FileOps, FileType, FsCtx, Inode, NAME_MAX, PATH_MAX,
};
use crate::error::{Errno, KResult};

/// Linux's MAXSYMLINKS: symlinks followed in one walk before ELOOP.
pub const MAX_SYMLINKS: u32 = 40;

/// A place in the name space: what a cwd, a dirfd or an open file points at.
pub type PathRef = Arc<PathNode>;

/// One step of a name chain: an inode, the mount it is in, and how it was reached.
pub struct PathNode {
    name: Vec<u8>,
    parent: Option<PathRef>,
    inode: Arc<dyn Inode>,
    mount: u32,
}

impl PathNode {
    /// The inode reached.
    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.inode
    }

    /// The name this node was reached by ("" for the root).
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The node `..` leads to, `None` at the root.
    pub fn parent(&self) -> Option<&PathRef> {
        self.parent.as_ref()
    }

    /// The mount this node is in (0 is the root filesystem).
    pub fn mount_id(&self) -> u32 {
        self.mount
    }

    /// The node's absolute path, as getcwd reports it (bytes: names need not
    /// be UTF-8).
    pub fn absolute_path(&self) -> Vec<u8> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut cur = Some(self);
        while let Some(n) = cur {
            if n.parent.is_some() {
                names.push(&n.name);
            }
            cur = n.parent.as_deref();
        }
        if names.is_empty() {
            return Vec::from(&b"/"[..]);
        }
        let mut s = Vec::new();
        for n in names.iter().rev() {
            s.push(b'/');
            s.extend_from_slice(n);
        }
        s
    }

    /// [`absolute_path`](Self::absolute_path) as text, bytes that are not
    /// UTF-8 replaced (for messages and the mount table).
    pub fn absolute_path_lossy(&self) -> String {
        String::from_utf8_lossy(&self.absolute_path()).into_owned()
    }

    /// Whether `self` and `other` are the same directory of the same mount,
    /// however each was reached.
    pub fn same_place(&self, other: &PathNode) -> bool {
        if core::ptr::eq(self, other) {
            return true;
        }
        if self.mount != other.mount {
            return false;
        }
        if Arc::ptr_eq(&self.inode, &other.inode) {
            return true;
        }
        match (self.inode.metadata(), other.inode.metadata()) {
            (Ok(a), Ok(b)) => (a.dev, a.ino) == (b.dev, b.ino),
            _ => false,
        }
    }

    /// The node's path as seen by a process whose root directory is `root`
    /// (chroot): `None` when the node is not under it.
    pub fn path_from(&self, root: &PathNode) -> Option<Vec<u8>> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut cur = self;
        while !cur.same_place(root) {
            names.push(&cur.name);
            cur = cur.parent.as_deref()?;
        }
        let mut s = Vec::new();
        for n in names.iter().rev() {
            s.push(b'/');
            s.extend_from_slice(n);
        }
        if s.is_empty() {
            s.push(b'/');
        }
        Some(s)
    }

    /// Whether the node is a directory.
    pub fn is_dir(&self) -> bool {
        self.inode.kind() == FileType::Directory
    }
}

impl fmt::Debug for PathNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathNode({})", self.absolute_path_lossy())
    }
}

/// Whether a symlink in the last component is followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowLast {
    Follow,
    NoFollow,
}

/// The result of [`Vfs::lookup_parent`]: the directory that holds (or will hold)
/// the last component, and that component.
#[derive(Debug)]
pub struct ParentLookup {
    pub dir: PathRef,
    /// The last component; "." for a path made only of slashes.
    pub name: Vec<u8>,
    /// The path ended in '/': the target must be (or become) a directory.
    pub trailing_slash: bool,
}

/// One entry of the mount table, as /proc/mounts lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u32,
    pub path: String,
    pub fstype: String,
    /// The filesystem is read-only (set by [`Vfs::mounts`] only).
    pub ro: bool,
    /// The mount's flags ([`ms`] bits).
    pub flags: u32,
    /// The mount this one is on (the root's is itself; set by
    /// [`Vfs::mounts`] only).
    pub parent: u32,
    /// The filesystem's device number (set by [`Vfs::mounts`] only).
    pub dev: u64,
    /// The filesystem itself says it is read-only (mountinfo's super
    /// options; set by [`Vfs::mounts`] only).
    pub fs_ro: bool,
    /// The source given at mount ("" when none was: the caller picks
    /// Linux's usual name).
    pub source: String,
    /// The filesystem's own options ("mode=755,size=65536k"), as Linux's
    /// show_options lists them after the generic ones.
    pub data: String,
}

impl MountInfo {
    /// The options /proc/mounts lists ("rw,nosuid,relatime", ...).
    pub fn options(&self) -> String {
        options_text(self.flags, self.ro)
    }
}

/// The mount id programs see (mountinfo, fdinfo's mnt_id, statx's
/// stx_mnt_id) for the table's `id`: Linux numbers no mount 0, and umbra's
/// root is 0 inside.
pub const fn shown_mount_id(id: u32) -> u32 {
    id.saturating_add(1)
}

/// mount(2) flags (MS_*) that umbra keeps per mount.
pub mod ms {
    pub const RDONLY: u32 = 1;
    pub const NOSUID: u32 = 2;
    pub const NODEV: u32 = 4;
    pub const NOEXEC: u32 = 8;
    pub const NOATIME: u32 = 1 << 10;
    pub const NODIRATIME: u32 = 1 << 11;
    pub const RELATIME: u32 = 1 << 21;
    pub const STRICTATIME: u32 = 1 << 24;
}

/// The /proc/mounts options of a mount with `flags` (ro when the flags or
/// the filesystem say so).
pub fn options_text(flags: u32, fs_ro: bool) -> String {
    let mut s = String::from(if flags & ms::RDONLY != 0 || fs_ro {
        "ro"
    } else {
        "rw"
    });
    for (bit, name) in [
        (ms::NOSUID, ",nosuid"),
        (ms::NODEV, ",nodev"),
        (ms::NOEXEC, ",noexec"),
        (ms::NOATIME, ",noatime"),
        (ms::NODIRATIME, ",nodiratime"),
    ] {
        if flags & bit != 0 {
            s.push_str(name);
        }
    }
    if flags & (ms::NOATIME | ms::STRICTATIME) == 0 {
        s.push_str(",relatime");
    }
    s
}

/// The flags of umbra's own mounts of `fstype` on `path` (those of Linux's
/// usual mounts of the same filesystems).
pub fn default_flags(fstype: &str, path: &str) -> u32 {
    mount_options(fstype, path)
        .split(',')
        .fold(0, |f, o| match o {
            "nosuid" => f | ms::NOSUID,
            "nodev" => f | ms::NODEV,
            "noexec" => f | ms::NOEXEC,
            "relatime" => f | ms::RELATIME,
            _ => f,
        })
}

/// Whether the filesystem of `root` says it is read-only (ST_RDONLY).
fn fs_read_only(root: &Arc<dyn Inode>) -> bool {
    root.statfs()
        .is_some_and(|s| s.flags & super::vfs::st_flags::ST_RDONLY != 0)
}

struct Mount {
    id: u32,
    parent_mount: u32,
    point_dev: u64,
    point_ino: u64,
    root: Arc<dyn Inode>,
    path: String,
    fstype: String,
    flags: u32,
    /// See [`MountInfo::source`].
    source: String,
    /// See [`MountInfo::data`].
    data: String,
}

/// What /proc/PID/mountinfo says of a mount besides its flags: its type,
/// source and filesystem options.
#[derive(Clone, Copy, Debug)]
pub struct MountLabel<'a> {
    pub fstype: &'a str,
    pub source: &'a str,
    pub data: &'a str,
}

struct MountTable {
    mounts: Vec<Mount>,
    next_id: u32,
    next_anon_minor: u32,
}

/// The options of a mount of `fstype` on `path`, as /proc/mounts lists them
/// (those of Linux's usual mounts of the same filesystems).
pub fn mount_options(fstype: &str, path: &str) -> &'static str {
    match fstype {
        "proc" | "sysfs" => "rw,nosuid,nodev,noexec,relatime",
        "devtmpfs" => "rw,nosuid,relatime",
        "tmpfs" if path != "/" => "rw,nosuid,nodev,relatime",
        _ => "rw,relatime",
    }
}

/// statfs's f_flags for a mount with `flags` ([`ms`] bits): ST_VALID plus
/// the ST_* bit of each.
pub fn mount_st_flags(flags: u32) -> u32 {
    use super::vfs::st_flags::*;
    options_text(flags, false)
        .split(',')
        .fold(ST_VALID, |f, o| match o {
            "ro" => f | ST_RDONLY,
            "nosuid" => f | ST_NOSUID,
            "nodev" => f | ST_NODEV,
            "noexec" => f | ST_NOEXEC,
            "relatime" => f | ST_RELATIME,
            _ => f,
        })
}

/// The name space: a root filesystem, the filesystems mounted on it, and the
/// character devices by number.
pub struct Vfs {
    root: PathRef,
    root_fstype: String,
    table: Mutex<MountTable>,
    chrdevs: Mutex<VecMap<u64, Arc<dyn FileOps>>>,
    fifos: super::fifo::FifoTable,
}

impl Vfs {
    /// A name space whose root is `root` (a directory of filesystem `fstype`).
    pub fn new(root: Arc<dyn Inode>, fstype: &str) -> Vfs {
        Vfs {
            root: Arc::new(PathNode {
                name: Vec::new(),
                parent: None,
                inode: root,
                mount: 0,
            }),
            root_fstype: fstype.to_string(),
            // Minor 1 is kept for the root tmpfs (`fs::ROOT_TMPFS_DEV`).
            table: Mutex::new(MountTable {
                mounts: Vec::new(),
                next_id: 1,
                next_anon_minor: 2,
            }),
            chrdevs: Mutex::new(VecMap::new()),
            fifos: super::fifo::FifoTable::default(),
        }
    }

    /// The pipes behind the FIFO nodes of every filesystem.
    pub fn fifos(&self) -> &super::fifo::FifoTable {
        &self.fifos
    }

    /// Allocates a device number for a filesystem without a block device
    /// (major 0, as Linux's anonymous devices).
    pub fn alloc_anon_dev(&self) -> u64 {
        let mut t = self.table.lock();
        let minor = t.next_anon_minor;
        t.next_anon_minor = minor.saturating_add(1);
        makedev(0, minor)
    }

    /// The root of the name space.
    pub fn root(&self) -> PathRef {
        self.root.clone()
    }

    /// Mounts the filesystem whose root directory is `fs_root` on the directory
    /// `at`, or, as a bind mount of one file, a non-directory `fs_root` on a
    /// non-directory `at` (ENOTDIR when one is a directory and the other
    /// not).
    pub fn mount(&self, at: &PathRef, fs_root: Arc<dyn Inode>, fstype: &str) -> KResult<()> {
        let flags = default_flags(fstype, &at.absolute_path_lossy());
        self.mount_with(at, fs_root, fstype, flags)
    }

    /// [`mount`](Self::mount) with these [`ms`] flags.
    pub fn mount_with(
        &self,
        at: &PathRef,
        fs_root: Arc<dyn Inode>,
        fstype: &str,
        flags: u32,
    ) -> KResult<()> {
        let label = MountLabel {
            fstype,
            source: "",
            data: "",
        };
        self.mount_labelled(at, fs_root, label, flags)
    }

    /// [`mount_with`](Self::mount_with), with the source and filesystem
    /// options mountinfo shows.
    pub fn mount_labelled(
        &self,
        at: &PathRef,
        fs_root: Arc<dyn Inode>,
        label: MountLabel<'_>,
        flags: u32,
    ) -> KResult<()> {
        if at.is_dir() != (fs_root.kind() == FileType::Directory) {
            return Err(Errno::ENOTDIR);
        }
        let meta = at.inode.metadata()?;
        let mut t = self.table.lock();
        if t.mounts.iter().any(|m| {
            m.parent_mount == at.mount && m.point_dev == meta.dev && m.point_ino == meta.ino
        }) {
            return Err(Errno::EBUSY);
        }
        let id = t.next_id;
        t.next_id = id.checked_add(1).ok_or(Errno::ENOMEM)?;
        t.mounts.push(Mount {
            id,
            parent_mount: at.mount,
            point_dev: meta.dev,
            point_ino: meta.ino,
            root: fs_root,
            path: at.absolute_path_lossy(),
            fstype: label.fstype.to_string(),
            flags,
            source: label.source.to_string(),
            data: label.data.to_string(),
        });
        Ok(())
    }

    /// The id of the mount whose root absolute `path` names (walking as
    /// root), None when no mount is there (the root's is 0).
    pub fn mount_root_at(&self, path: impl AsRef<[u8]>) -> Option<u32> {
        let node = self
            .lookup(&self.root, path, FollowLast::Follow, &Cred::root())
            .ok()?;
        if node.parent.is_none() {
            return Some(0);
        }
        let t = self.table.lock();
        let m = t.mounts.iter().find(|m| m.id == node.mount)?;
        let is_root = Arc::ptr_eq(&m.root, &node.inode)
            || match (m.root.metadata(), node.inode.metadata()) {
                (Ok(a), Ok(b)) => (a.dev, a.ino) == (b.dev, b.ino),
                _ => false,
            };
        is_root.then_some(m.id)
    }

    /// Gives the mount at absolute `path` (a mount's root, not the root's)
    /// this type, source, options and flags: what an engine's config
    /// asked for a mount umbra made itself (an OCI container's /dev,
    /// which is umbra's devfs, on a tmpfs as the config's; its /proc).
    pub fn relabel_mount(
        &self,
        path: impl AsRef<[u8]>,
        label: MountLabel<'_>,
        flags: u32,
    ) -> KResult<()> {
        let id = self.mount_root_at(path).ok_or(Errno::EINVAL)?;
        let mut t = self.table.lock();
        let m = t
            .mounts
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or(Errno::EINVAL)?;
        m.fstype = label.fstype.to_string();
        m.source = label.source.to_string();
        m.data = label.data.to_string();
        m.flags = flags;
        Ok(())
    }

    /// Unmounts the mount whose root `node` is (EINVAL if it is not one;
    /// EBUSY if others are mounted inside it, unless `detach`, which takes
    /// them too). Nodes already reached keep working, as after a lazy
    /// unmount; whether the mount is in use is the caller's check.
    pub fn umount(&self, node: &PathRef, detach: bool) -> KResult<()> {
        let mut t = self.table.lock();
        let m = t
            .mounts
            .iter()
            .find(|m| m.id == node.mount && node.mount != 0)
            .ok_or(Errno::EINVAL)?;
        let is_root = Arc::ptr_eq(&m.root, &node.inode)
            || match (m.root.metadata(), node.inode.metadata()) {
                (Ok(a), Ok(b)) => (a.dev, a.ino) == (b.dev, b.ino),
                _ => false,
            };
        if !is_root {
            return Err(Errno::EINVAL);
        }
        let mut gone = alloc::vec![m.id];
        let mut i = 0;
        while let Some(&id) = gone.get(i) {
            for c in t.mounts.iter().filter(|c| c.parent_mount == id) {
                if !detach {
                    return Err(Errno::EBUSY);
                }
                gone.push(c.id);
            }
            i += 1;
        }
        t.mounts.retain(|m| !gone.contains(&m.id));
        Ok(())
    }

    /// The [`ms`] flags of mount `id` (0 is the root filesystem's).
    pub fn mount_flags(&self, id: u32) -> u32 {
        if id == 0 {
            return default_flags(&self.root_fstype, "/");
        }
        let t = self.table.lock();
        t.mounts.iter().find(|m| m.id == id).map_or(0, |m| m.flags)
    }

    /// Mounts `fs_root` on the directory at absolute `path`, walking as root.
    pub fn mount_at(
        &self,
        path: impl AsRef<[u8]>,
        fs_root: Arc<dyn Inode>,
        fstype: &str,
    ) -> KResult<()> {
        let at = self.lookup(&self.root, path, FollowLast::Follow, &Cred::root())?;
        self.mount(&at, fs_root, fstype)
    }

    /// The root directory of every mounted filesystem, the root's first.
    pub fn mount_roots(&self) -> Vec<Arc<dyn Inode>> {
        let t = self.table.lock();
        core::iter::once(self.root.inode.clone())
            .chain(t.mounts.iter().map(|m| m.root.clone()))
            .collect()
    }

    /// The mount table, root first.
    pub fn mounts(&self) -> Vec<MountInfo> {
        let t = self.table.lock();
        let mut v = Vec::with_capacity(t.mounts.len().saturating_add(1));
        let dev = |i: &Arc<dyn Inode>| i.metadata().map_or(0, |m| m.dev);
        let root_ro = fs_read_only(&self.root.inode);
        v.push(MountInfo {
            id: 0,
            path: String::from("/"),
            fstype: self.root_fstype.clone(),
            ro: root_ro,
            flags: default_flags(&self.root_fstype, "/"),
            parent: 0,
            dev: dev(&self.root.inode),
            fs_ro: root_ro,
            source: String::new(),
            data: String::new(),
        });
        for m in &t.mounts {
            let fs_ro = fs_read_only(&m.root);
            v.push(MountInfo {
                id: m.id,
                path: m.path.clone(),
                fstype: m.fstype.clone(),
                ro: fs_ro || m.flags & ms::RDONLY != 0,
                flags: m.flags,
                parent: m.parent_mount,
                dev: dev(&m.root),
                fs_ro,
                source: m.source.clone(),
                data: m.data.clone(),
            });
        }
        v
    }

    /// The filesystem type and mount point of the mount `node` is in.
    pub fn mount_of(&self, node: &PathNode) -> MountInfo {
        if node.mount != 0 {
            let t = self.table.lock();
            if let Some(m) = t.mounts.iter().find(|m| m.id == node.mount) {
                return MountInfo {
                    id: m.id,
                    path: m.path.clone(),
                    fstype: m.fstype.clone(),
                    ro: false,
                    flags: m.flags,
                    parent: m.parent_mount,
                    dev: 0,
                    fs_ro: false,
                    source: m.source.clone(),
                    data: m.data.clone(),
                };
            }
        }
        MountInfo {
            id: 0,
            path: String::from("/"),
            fstype: self.root_fstype.clone(),
            ro: false,
            flags: default_flags(&self.root_fstype, "/"),
            parent: 0,
            dev: 0,
            fs_ro: false,
            source: String::new(),
            data: String::new(),
        }
    }

    /// Registers the driver of character device `rdev` (see [`makedev`]).
    pub fn register_chrdev(&self, rdev: u64, ops: Arc<dyn FileOps>) {
        self.chrdevs.lock().insert(rdev, ops);
    }

    /// The driver of character device `rdev`.
    pub fn chrdev(&self, rdev: u64) -> Option<Arc<dyn FileOps>> {
        self.chrdevs.lock().get(&rdev).cloned()
    }

    /// The node for `inode`, found as `name` in `dir`, after crossing any mounts
    /// on it.
    pub fn child(&self, dir: &PathRef, name: &[u8], inode: Arc<dyn Inode>) -> KResult<PathRef> {
        let mut node = Arc::new(PathNode {
            name: name.to_vec(),
            parent: Some(dir.clone()),
            inode,
            mount: dir.mount,
        });
        // A mount root can itself be a mountpoint; bound the loop all the same.
        for _ in 0..16 {
            let t = self.table.lock();
            // Only a mount of the node's kind (a directory on a directory,
            // a file on a non-directory) can cover it: a file's identity is
            // asked for only where files are mounted.
            let is_dir = node.inode.kind() == FileType::Directory;
            if !t.mounts.iter().any(|m| {
                m.parent_mount == node.mount && (m.root.kind() == FileType::Directory) == is_dir
            }) {
                break;
            }
            let meta = node.inode.metadata()?;
            let Some(m) = t.mounts.iter().rev().find(|m| {
                m.parent_mount == node.mount && m.point_dev == meta.dev && m.point_ino == meta.ino
            }) else {
                break;
            };
            node = Arc::new(PathNode {
                name: name.to_vec(),
                parent: Some(dir.clone()),
                inode: m.root.clone(),
                mount: m.id,
            });
        }
        Ok(node)
    }

    /// Resolves `path` from `start` (the cwd or a dirfd's node) with Linux's rules.
    ///
    /// Empty paths give ENOENT (callers handle AT_EMPTY_PATH), over-long paths and
    /// components ENAMETOOLONG, a non-directory in the middle (or at the end of a
    /// path ending in '/') ENOTDIR, a missing search permission EACCES, and more
    /// than [`MAX_SYMLINKS`] symlinks ELOOP.
    pub fn lookup(
        &self,
        start: &PathRef,
        path: impl AsRef<[u8]>,
        follow: FollowLast,
        cred: &Cred,
    ) -> KResult<PathRef> {
        self.lookup_in(&self.root, start, path, follow, cred)
    }

    /// [`lookup`](Self::lookup) for a process whose root directory is `root`
    /// (chroot): absolute paths and symlinks start there, and `..` stops there.
    pub fn lookup_in(
        &self,
        root: &PathRef,
        start: &PathRef,
        path: impl AsRef<[u8]>,
        follow: FollowLast,
        cred: &Cred,
    ) -> KResult<PathRef> {
        let path = path.as_ref();
        check_path(path)?;
        let must_dir = path.ends_with(b"/");
        let cur = if path.starts_with(b"/") {
            root.clone()
        } else {
            start.clone()
        };
        self.walk(root, cur, path, follow, must_dir, cred)
    }

    /// [`lookup_in`](Self::lookup_in) with the caller's root and credentials.
    pub fn resolve(
        &self,
        cx: &FsCtx,
        start: &PathRef,
        path: impl AsRef<[u8]>,
        follow: FollowLast,
    ) -> KResult<PathRef> {
        let root = cx.root.as_ref().unwrap_or(&self.root);
        self.lookup_in(root, start, path, follow, &cx.cred)
    }

    /// [`lookup_parent_in`](Self::lookup_parent_in) with the caller's root
    /// and credentials.
    pub fn resolve_parent(
        &self,
        cx: &FsCtx,
        start: &PathRef,
        path: impl AsRef<[u8]>,
    ) -> KResult<ParentLookup> {
        let root = cx.root.as_ref().unwrap_or(&self.root);
        self.lookup_parent_in(root, start, path, &cx.cred)
    }

    /// Resolves all but the last component of `path`; see [`ParentLookup`].
    /// The directory must be searchable by `cred`.
    pub fn lookup_parent(
        &self,
        start: &PathRef,
        path: impl AsRef<[u8]>,
        cred: &Cred,
    ) -> KResult<ParentLookup> {
        self.lookup_parent_in(&self.root, start, path, cred)
    }

    /// [`lookup_parent`](Self::lookup_parent) under the root directory `root`.
    pub fn lookup_parent_in(
        &self,
        root: &PathRef,
        start: &PathRef,
        path: impl AsRef<[u8]>,
        cred: &Cred,
    ) -> KResult<ParentLookup> {
        let path = path.as_ref();
        check_path(path)?;
        let keep = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        let trimmed = path.get(..keep).unwrap_or(&[]);
        let trailing_slash = trimmed.len() != path.len();
        if trimmed.is_empty() {
            return Ok(ParentLookup {
                dir: root.clone(),
                name: Vec::from(&b"."[..]),
                trailing_slash,
            });
        }
        let (dir, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(i) => {
                let dir_path = trimmed.get(..i).unwrap_or(&[]);
                let name = trimmed.get(i.saturating_add(1)..).unwrap_or(&[]);
                let dir = if dir_path.is_empty() {
                    root.clone()
                } else {
                    self.lookup_in(root, start, dir_path, FollowLast::Follow, cred)?
                };
                (dir, name)
            }
            None => (start.clone(), trimmed),
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        search_check(&dir, cred)?;
        Ok(ParentLookup {
            dir,
            name: name.to_vec(),
            trailing_slash,
        })
    }

    fn walk(
        &self,
        root: &PathRef,
        mut cur: PathRef,
        path: &[u8],
        follow: FollowLast,
        mut must_dir: bool,
        cred: &Cred,
    ) -> KResult<PathRef> {
        // Remaining components, the next one last.
        let mut stack: Vec<Vec<u8>> = Vec::new();
        push_components(&mut stack, path)?;
        let mut links = 0u32;
        while let Some(name) = stack.pop() {
            let is_last = stack.is_empty();
            if !cur.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            search_check(&cur, cred)?;
            if name == b"." {
                continue;
            }
            if name == b".." {
                cur = self.parent_of(root, &cur);
                continue;
            }
            let inode = cur.inode.lookup(&name)?;
            if inode.kind() == FileType::Symlink
                && (!is_last || follow == FollowLast::Follow || must_dir)
            {
                links = links.saturating_add(1);
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = inode.readlink()?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                if target.len() >= PATH_MAX {
                    return Err(Errno::ENAMETOOLONG);
                }
                if is_last && target.ends_with(b"/") {
                    must_dir = true;
                }
                if target.starts_with(b"/") {
                    cur = root.clone();
                }
                push_components(&mut stack, &target)?;
                continue;
            }
            cur = self.child(&cur, &name, inode)?;
        }
        if must_dir && !cur.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    fn parent_of(&self, root: &PathRef, cur: &PathRef) -> PathRef {
        if Arc::ptr_eq(cur, &self.root) || cur.same_place(root) {
            return cur.clone();
        }
        cur.parent.clone().unwrap_or_else(|| cur.clone())
    }
}

/// Checks the whole-path limits.
fn check_path(path: &[u8]) -> KResult<()> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// Pushes the components of `path` so that the first one is popped first.
fn push_components(stack: &mut Vec<Vec<u8>>, path: &[u8]) -> KResult<()> {
    let start = stack.len();
    for c in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        if c.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        stack.push(c.to_vec());
    }
    if let Some(s) = stack.get_mut(start..) {
        s.reverse();
    }
    Ok(())
}

/// EACCES unless `cred` may search directory `dir`.
fn search_check(dir: &PathRef, cred: &Cred) -> KResult<()> {
    if cred.is_root() {
        return Ok(());
    }
    check_access(&dir.inode.metadata()?, cred, Access::EXEC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs::TmpFs;
    use crate::fs::vfs::NewNode;
    use umbra_abi::structs::Timespec;

    fn attr(kind: FileType, perm: u32) -> NewNode {
        NewNode {
            kind,
            perm,
            uid: 0,
            gid: 0,
            rdev: 0,
            now: Timespec::default(),
        }
    }

    /// / with a/b/c (dirs), f (file), links: up → .., loop1 ↔ loop2, abs → /a/b,
    /// tofile → f, dangling → nowhere.
    fn setup() -> Vfs {
        let fs = TmpFs::new(makedev(0, 1), Timespec::default());
        let root = fs.root();
        let a = root
            .create(b"a", &attr(FileType::Directory, 0o755))
            .unwrap();
        let b = a.create(b"b", &attr(FileType::Directory, 0o755)).unwrap();
        b.create(b"c", &attr(FileType::Directory, 0o755)).unwrap();
        root.create(b"f", &attr(FileType::Regular, 0o644)).unwrap();
        b.symlink(b"up", b"..", &attr(FileType::Symlink, 0o777))
            .unwrap();
        root.symlink(b"loop1", b"loop2", &attr(FileType::Symlink, 0o777))
            .unwrap();
        root.symlink(b"loop2", b"/loop1", &attr(FileType::Symlink, 0o777))
            .unwrap();
        root.symlink(b"abs", b"/a/b", &attr(FileType::Symlink, 0o777))
            .unwrap();
        root.symlink(b"tofile", b"f", &attr(FileType::Symlink, 0o777))
            .unwrap();
        root.symlink(b"dangling", b"nowhere", &attr(FileType::Symlink, 0o777))
            .unwrap();
        Vfs::new(root, "tmpfs")
    }

    fn look(v: &Vfs, p: &str) -> KResult<String> {
        v.lookup(&v.root(), p, FollowLast::Follow, &Cred::root())
            .map(|n| n.absolute_path_lossy())
    }

    #[test]
    fn absolute_relative_dot_and_dotdot() {
        let v = setup();
        assert_eq!(look(&v, "/").unwrap(), "/");
        assert_eq!(look(&v, "/a/b/c").unwrap(), "/a/b/c");
        assert_eq!(look(&v, "a//b/./c/").unwrap(), "/a/b/c");
        assert_eq!(look(&v, "/a/b/c/../..").unwrap(), "/a");
        assert_eq!(look(&v, "/../../a/..").unwrap(), "/");
        let b = v
            .lookup(&v.root(), "/a/b", FollowLast::Follow, &Cred::root())
            .unwrap();
        let c = v
            .lookup(&b, "c", FollowLast::Follow, &Cred::root())
            .unwrap();
        assert_eq!(c.absolute_path(), b"/a/b/c");
        let up = v
            .lookup(&c, "../../..", FollowLast::Follow, &Cred::root())
            .unwrap();
        assert_eq!(up.absolute_path(), b"/");
        assert_eq!(look(&v, ""), Err(Errno::ENOENT));
        assert_eq!(look(&v, "/nope"), Err(Errno::ENOENT));
    }

    #[test]
    fn symlinks_are_followed_and_loops_give_eloop() {
        let v = setup();
        assert_eq!(look(&v, "/abs/c").unwrap(), "/a/b/c");
        assert_eq!(look(&v, "/a/b/up/b/c").unwrap(), "/a/b/c");
        assert_eq!(look(&v, "/loop1"), Err(Errno::ELOOP));
        assert_eq!(look(&v, "/loop1/x"), Err(Errno::ELOOP));
        assert_eq!(look(&v, "/dangling"), Err(Errno::ENOENT));
        let n = v
            .lookup(&v.root(), "/loop1", FollowLast::NoFollow, &Cred::root())
            .unwrap();
        assert_eq!(n.inode().kind(), FileType::Symlink);
        let n = v
            .lookup(&v.root(), "/tofile", FollowLast::NoFollow, &Cred::root())
            .unwrap();
        assert_eq!(n.inode().kind(), FileType::Symlink);
        assert_eq!(look(&v, "/tofile").unwrap(), "/f");
        // A trailing slash follows even with NoFollow, and needs a directory.
        let n = v
            .lookup(&v.root(), "/abs/", FollowLast::NoFollow, &Cred::root())
            .unwrap();
        assert_eq!(n.absolute_path(), b"/a/b");
        assert_eq!(look(&v, "/tofile/"), Err(Errno::ENOTDIR));
    }

    #[test]
    fn forty_links_are_fine_forty_one_are_not() {
        let v = setup();
        let root = v.root().inode().clone();
        // l0 -> f, l1 -> l0, ... : following lN takes N+1 link follows.
        root.symlink(b"l0", b"f", &attr(FileType::Symlink, 0o777))
            .unwrap();
        for i in 1..=40 {
            let t = alloc::format!("l{}", i - 1);
            root.symlink(
                alloc::format!("l{i}").as_bytes(),
                t.as_bytes(),
                &attr(FileType::Symlink, 0o777),
            )
            .unwrap();
        }
        assert_eq!(look(&v, "/l39").unwrap(), "/f");
        assert_eq!(look(&v, "/l40"), Err(Errno::ELOOP));
    }

    #[test]
    fn trailing_slash_and_non_directories() {
        let v = setup();
        assert_eq!(look(&v, "/f/"), Err(Errno::ENOTDIR));
        assert_eq!(look(&v, "/f/x"), Err(Errno::ENOTDIR));
        assert_eq!(look(&v, "/f/."), Err(Errno::ENOTDIR));
        assert_eq!(look(&v, "/a/").unwrap(), "/a");
    }

    #[test]
    fn name_length_limits() {
        let v = setup();
        let long = "x".repeat(256);
        assert_eq!(look(&v, &long), Err(Errno::ENAMETOOLONG));
        assert_eq!(look(&v, &"x".repeat(255)), Err(Errno::ENOENT));
        let deep = "/.".repeat(2048);
        assert_eq!(look(&v, &deep), Err(Errno::ENAMETOOLONG));
        assert_eq!(look(&v, &deep[..4094]).unwrap(), "/");
    }

    #[test]
    fn search_permission_for_non_root() {
        let v = setup();
        let a = v.root().inode().lookup(b"a").unwrap();
        let attr = crate::fs::vfs::SetAttr {
            perm: Some(0o700),
            ..crate::fs::vfs::SetAttr::touch(Timespec::default())
        };
        a.set_metadata(&attr).unwrap();
        let user = Cred::user(1000, 1000);
        assert_eq!(
            v.lookup(&v.root(), "/a/b", FollowLast::Follow, &user)
                .map(|_| ()),
            Err(Errno::EACCES)
        );
        // Naming the directory itself needs no search permission on it.
        assert!(v.lookup(&v.root(), "/a", FollowLast::Follow, &user).is_ok());
        assert_eq!(
            v.lookup_parent(&v.root(), "/a/x", &user).map(|_| ()),
            Err(Errno::EACCES)
        );
        assert!(v
            .lookup(&v.root(), "/a/b", FollowLast::Follow, &Cred::root())
            .is_ok());
    }

    #[test]
    fn mounts_are_crossed_both_ways() {
        let v = setup();
        let dev = TmpFs::new(v.alloc_anon_dev(), Timespec::default());
        dev.root()
            .create(b"null", &attr(FileType::Regular, 0o666))
            .unwrap();
        v.mount_at("/a/b/c", dev.root(), "devtmpfs").unwrap();
        let n = v
            .lookup(&v.root(), "/a/b/c/null", FollowLast::Follow, &Cred::root())
            .unwrap();
        assert_eq!(n.absolute_path(), b"/a/b/c/null");
        assert_ne!(n.mount_id(), 0);
        let c = v
            .lookup(&v.root(), "/a/b/c", FollowLast::Follow, &Cred::root())
            .unwrap();
        assert!(c.inode().lookup(b"null").is_ok());
        let up = v
            .lookup(&c, "..", FollowLast::Follow, &Cred::root())
            .unwrap();
        assert_eq!(up.absolute_path(), b"/a/b");
        assert_eq!(up.mount_id(), 0);
        // Through a symlink into the mount and back out.
        let n = v
            .lookup(
                &v.root(),
                "/abs/c/../c/null",
                FollowLast::Follow,
                &Cred::root(),
            )
            .unwrap();
        assert_eq!(n.absolute_path(), b"/a/b/c/null");
        let m = v.mounts();
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[1].path.as_str(), m[1].fstype.as_str()),
            ("/a/b/c", "devtmpfs")
        );
        assert_eq!(v.mount_at("/f", dev.root(), "x"), Err(Errno::ENOTDIR));
    }

    #[test]
    fn lookup_parent_splits_the_last_component() {
        let v = setup();
        let p = v
            .lookup_parent(&v.root(), "/a/b/new/", &Cred::root())
            .unwrap();
        assert_eq!(
            (
                p.dir.absolute_path().as_slice(),
                p.name.as_slice(),
                p.trailing_slash
            ),
            (&b"/a/b"[..], &b"new"[..], true)
        );
        let p = v.lookup_parent(&v.root(), "x", &Cred::root()).unwrap();
        assert_eq!(
            (p.dir.absolute_path().as_slice(), p.name.as_slice()),
            (&b"/"[..], &b"x"[..])
        );
        let p = v.lookup_parent(&v.root(), "/x", &Cred::root()).unwrap();
        assert_eq!(
            (p.dir.absolute_path().as_slice(), p.name.as_slice()),
            (&b"/"[..], &b"x"[..])
        );
        let p = v.lookup_parent(&v.root(), "///", &Cred::root()).unwrap();
        assert_eq!(p.name, b".");
        let p = v.lookup_parent(&v.root(), "/abs/x", &Cred::root()).unwrap();
        assert_eq!(p.dir.absolute_path(), b"/a/b");
        assert_eq!(
            v.lookup_parent(&v.root(), "/f/x", &Cred::root())
                .map(|_| ()),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            v.lookup_parent(&v.root(), "/nope/x", &Cred::root())
                .map(|_| ()),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            v.lookup_parent(&v.root(), "", &Cred::root()).map(|_| ()),
            Err(Errno::ENOENT)
        );
    }
}
