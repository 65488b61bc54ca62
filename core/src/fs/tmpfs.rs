//! tmpfs: a filesystem kept entirely in kernel memory. It serves as the root
//! unpacked from a cpio archive, as /tmp and /dev/shm, and as the directory tree
//! of devfs.
//!
//! File data lives in 4 KiB pages in a `BTreeMap`, so holes cost nothing and a
//! write far past the end does not allocate what it skips; pages are allocated with
//! `try_reserve`, so running out of heap is ENOMEM (or ENOSPC at the filesystem's
//! page limit), never an abort. Directories keep their entries by name and by a
//! per-directory cookie that only grows, which is what `readdir` cursors are: a
//! cursor stays valid while entries are added and removed (`rm -r` unlinks while
//! it reads). Each inode has one lock; a directory's lock may be held while a
//! child's is taken, never the reverse.

use alloc::boxed::Box;
use alloc::collections::{btree_map, BTreeMap};

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use spin::Mutex;
use umbra_abi::structs::Timespec;

use super::vfs::{
    DirEntry, FileType, FsStats, Inode, Metadata, NewNode, SetAttr, NAME_MAX, PATH_MAX, TMPFS_MAGIC,
};
use crate::error::{Errno, KResult};

const PAGE: usize = 4096;
const PAGE_U64: u64 = PAGE as u64;
/// Largest file size (Linux's MAX_LFS_FILESIZE).
const MAX_FILE_SIZE: u64 = i64::MAX as u64;
/// The `st_size` a directory entry adds, as Linux's tmpfs (BOGO_DIRENT_SIZE).
const BOGO_DIRENT_SIZE: u64 = 20;

/// Takes one page from `used` if it stays within `max`.
fn take_page(used: &AtomicU64, max: u64) -> KResult<()> {
    used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
        (u < max).then(|| u.saturating_add(1))
    })
    .map(|_| ())
    .map_err(|_| Errno::ENOSPC)
}

/// Gives `n` pages back to `used`.
fn give_pages(used: &AtomicU64, n: u64) {
    let _ = used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
        Some(u.saturating_sub(n))
    });
}

/// A bound on the file data of several tmpfs instances together (all those a
/// kernel makes: a guest could otherwise mount instance after instance, each
/// within its own size), as Linux's shmem pages together stay within its RAM
/// and swap.
pub struct SharedLimit {
    used_pages: AtomicU64,
    max_pages: u64,
}

impl SharedLimit {
    /// A bound of `max_bytes` (rounded down to pages).
    pub fn new(max_bytes: u64) -> Arc<SharedLimit> {
        Arc::new(SharedLimit {
            used_pages: AtomicU64::new(0),
            max_pages: max_bytes / PAGE_U64,
        })
    }

    /// Bytes of file data held by the instances sharing it.
    pub fn used_bytes(&self) -> u64 {
        self.used_pages
            .load(Ordering::Relaxed)
            .saturating_mul(PAGE_U64)
    }
}

struct FsInner {
    dev: u64,
    next_ino: AtomicU64,
    /// Inodes alive (statfs's f_files - f_ffree).
    inodes: AtomicU64,
    /// The most inodes (`nr_inodes=`); as many as pages by default, Linux's
    /// default (half of RAM in pages each).
    max_inodes: AtomicU64,
    used_pages: AtomicU64,
    /// The instance's size in pages (`size=`); `u64::MAX` when unbounded.
    max_pages: AtomicU64,
    shared: Option<Arc<SharedLimit>>,
}

impl FsInner {
    fn alloc_ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }

    fn charge_page(&self) -> KResult<()> {
        take_page(&self.used_pages, self.max_pages.load(Ordering::Relaxed))?;
        if let Some(s) = &self.shared {
            if let Err(e) = take_page(&s.used_pages, s.max_pages) {
                give_pages(&self.used_pages, 1);
                return Err(e);
            }
        }
        Ok(())
    }

    fn uncharge_pages(&self, n: u64) {
        give_pages(&self.used_pages, n);
        if let Some(s) = &self.shared {
            give_pages(&s.used_pages, n);
        }
    }

    /// statfs's figures: the size in pages and what is left of it, and the
    /// same of inodes, as Linux's shmem_statfs.
    fn stats(&self) -> FsStats {
        let blocks = self.max_pages.load(Ordering::Relaxed);
        let used = self.used_pages.load(Ordering::Relaxed);
        let mut bfree = blocks.saturating_sub(used);
        if let Some(s) = &self.shared {
            let left = s
                .max_pages
                .saturating_sub(s.used_pages.load(Ordering::Relaxed));
            bfree = bfree.min(left);
        }
        let inodes = self.inodes.load(Ordering::Relaxed);
        let files = self.max_inodes.load(Ordering::Relaxed);
        FsStats {
            f_type: TMPFS_MAGIC,
            bsize: PAGE as u32,
            blocks,
            bfree,
            bavail: bfree,
            files: files.max(inodes),
            ffree: files.saturating_sub(inodes),
            namelen: NAME_MAX as u32,
            frsize: PAGE as u32,
            ..FsStats::default()
        }
    }
}

/// One tmpfs instance.
pub struct TmpFs {
    inner: Arc<FsInner>,
    root: Arc<TmpInode>,
}

impl TmpFs {
    /// An empty tmpfs with device number `dev`, its root owned by root, mode 0755.
    /// Its file data is unbounded until [`TmpFs::set_limit`] (unit tests, and
    /// the root and /dev made before the kernel knows its memory).
    pub fn new(dev: u64, now: Timespec) -> TmpFs {
        TmpFs::with_limit(dev, now, u64::MAX)
    }

    /// An empty tmpfs that holds at most `max_bytes` of file data (ENOSPC beyond).
    pub fn with_limit(dev: u64, now: Timespec, max_bytes: u64) -> TmpFs {
        TmpFs::make(dev, now, max_bytes, None)
    }

    /// An empty tmpfs that holds at most `max_bytes` of file data, and whose
    /// data counts against `shared` as well (ENOSPC beyond either).
    pub fn bounded(dev: u64, now: Timespec, max_bytes: u64, shared: &Arc<SharedLimit>) -> TmpFs {
        TmpFs::make(dev, now, max_bytes, Some(shared.clone()))
    }

    fn make(dev: u64, now: Timespec, max_bytes: u64, shared: Option<Arc<SharedLimit>>) -> TmpFs {
        let inner = Arc::new(FsInner {
            dev,
            next_ino: AtomicU64::new(1),
            inodes: AtomicU64::new(0),
            max_inodes: AtomicU64::new(max_bytes / PAGE_U64),
            used_pages: AtomicU64::new(0),
            max_pages: AtomicU64::new(max_bytes / PAGE_U64),
            shared,
        });
        let attr = NewNode {
            kind: FileType::Directory,
            perm: 0o755,
            uid: 0,
            gid: 0,
            rdev: 0,
            now,
        };
        let root = TmpInode::new(&inner, &attr, Body::Dir(DirData::new(Weak::new())));
        TmpFs { inner, root }
    }

    /// The root directory.
    pub fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    /// The device number.
    pub fn dev(&self) -> u64 {
        self.inner.dev
    }

    /// Sets the size to `max_bytes` (rounded down to pages): later writes
    /// beyond it fail with ENOSPC; what is held already stays.
    pub fn set_limit(&self, max_bytes: u64) {
        self.inner
            .max_pages
            .store(max_bytes / PAGE_U64, Ordering::Relaxed);
    }

    /// Sets the most inodes it holds (`nr_inodes=`): creating more fails
    /// with ENOSPC.
    pub fn set_max_inodes(&self, n: u64) {
        self.inner.max_inodes.store(n, Ordering::Relaxed);
    }

    /// Bytes of file data held.
    pub fn used_bytes(&self) -> u64 {
        self.inner
            .used_pages
            .load(Ordering::Relaxed)
            .saturating_mul(PAGE_U64)
    }
}

struct FileData {
    size: u64,
    pages: BTreeMap<u64, Box<[u8]>>,
}

impl FileData {
    fn read(&self, off: u64, buf: &mut [u8]) -> usize {
        if off >= self.size {
            return 0;
        }
        let avail = self.size - off;
        let n = usize::try_from(avail).map_or(buf.len(), |a| a.min(buf.len()));
        let mut done = 0usize;
        while done < n {
            let pos = off.saturating_add(done as u64);
            let (idx, in_page) = (pos / PAGE_U64, (pos % PAGE_U64) as usize);
            let chunk = (PAGE - in_page).min(n - done);
            let Some(dst) = buf.get_mut(done..done + chunk) else {
                break;
            };
            match self
                .pages
                .get(&idx)
                .and_then(|p| p.get(in_page..in_page + chunk))
            {
                Some(src) => dst.copy_from_slice(src),
                None => dst.fill(0),
            }
            done += chunk;
        }
        done
    }

    /// Writes what it can; `Err` only when nothing was written.
    fn write(&mut self, fs: &FsInner, off: u64, buf: &[u8]) -> KResult<usize> {
        let end = off.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off.saturating_add(done as u64);
            let (idx, in_page) = (pos / PAGE_U64, (pos % PAGE_U64) as usize);
            let chunk = (PAGE - in_page).min(buf.len() - done);
            let page = match self.page_mut(fs, idx) {
                Ok(p) => p,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            if let (Some(dst), Some(src)) = (
                page.get_mut(in_page..in_page + chunk),
                buf.get(done..done + chunk),
            ) {
                dst.copy_from_slice(src);
            }
            done += chunk;
        }
        self.size = self.size.max(off.saturating_add(done as u64));
        Ok(done)
    }

    fn page_mut(&mut self, fs: &FsInner, idx: u64) -> KResult<&mut Box<[u8]>> {
        match self.pages.entry(idx) {
            btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
            btree_map::Entry::Vacant(e) => {
                fs.charge_page()?;
                let mut v: Vec<u8> = Vec::new();
                if v.try_reserve_exact(PAGE).is_err() {
                    fs.uncharge_pages(1);
                    return Err(Errno::ENOMEM);
                }
                v.resize(PAGE, 0);
                Ok(e.insert(v.into_boxed_slice()))
            }
        }
    }

    fn truncate(&mut self, fs: &FsInner, size: u64) {
        if size < self.size {
            let keep = size.div_ceil(PAGE_U64);
            let dropped = self.pages.split_off(&keep);
            fs.uncharge_pages(dropped.len() as u64);
            let in_page = (size % PAGE_U64) as usize;
            if in_page != 0 {
                if let Some(tail) = self
                    .pages
                    .get_mut(&(size / PAGE_U64))
                    .and_then(|p| p.get_mut(in_page..))
                {
                    tail.fill(0);
                }
            }
        }
        self.size = size;
    }
}

struct Slot {
    cookie: u64,
    node: Arc<TmpInode>,
}

struct DirData {
    entries: BTreeMap<Vec<u8>, Slot>,
    /// The names by readdir cookie. Boxed slices: the same map type as the
    /// page maps (one B-tree instantiation less in the ROM).
    by_cookie: BTreeMap<u64, Box<[u8]>>,
    next_cookie: u64,
    /// `..`; dangling for the root, which is its own parent.
    parent: Weak<TmpInode>,
}

/// Cookies 0 and 1 are "." and "..".
const FIRST_COOKIE: u64 = 2;

impl DirData {
    fn new(parent: Weak<TmpInode>) -> DirData {
        DirData {
            entries: BTreeMap::new(),
            by_cookie: BTreeMap::new(),
            next_cookie: FIRST_COOKIE,
            parent,
        }
    }

    fn insert(&mut self, name: &[u8], node: Arc<TmpInode>) -> KResult<()> {
        let cookie = self.next_cookie;
        self.next_cookie = cookie.checked_add(1).ok_or(Errno::ENOSPC)?;
        self.by_cookie.insert(cookie, name.into());
        self.entries.insert(name.to_vec(), Slot { cookie, node });
        Ok(())
    }

    fn remove(&mut self, name: &[u8]) -> Option<Arc<TmpInode>> {
        let slot = self.entries.remove(name)?;
        self.by_cookie.remove(&slot.cookie);
        Some(slot.node)
    }

    fn get(&self, name: &[u8]) -> Option<Arc<TmpInode>> {
        self.entries.get(name).map(|s| s.node.clone())
    }
}

enum Body {
    File(FileData),
    Dir(DirData),
    Symlink(Vec<u8>),
    /// Devices, fifos and sockets: the node has no data of its own.
    Special,
}

struct State {
    perm: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    rdev: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
    body: Body,
}

impl State {
    fn dir(&mut self) -> KResult<&mut DirData> {
        match &mut self.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn touch(&mut self, now: Timespec) {
        self.mtime = now;
        self.ctime = now;
    }
}

/// A tmpfs node.
pub struct TmpInode {
    fs: Arc<FsInner>,
    ino: u64,
    kind: FileType,
    this: Weak<TmpInode>,
    st: Mutex<State>,
    /// File seals (fcntl F_ADD_SEALS): F_SEAL_SEAL from the start, as every
    /// Linux tmpfs file has, until memfd_create clears it.
    seals: AtomicU32,
}

/// fcntl(2)'s F_SEAL_* bits.
pub mod seal {
    pub const SEAL: u32 = 0x01;
    pub const SHRINK: u32 = 0x02;
    pub const GROW: u32 = 0x04;
    pub const WRITE: u32 = 0x08;
    pub const FUTURE_WRITE: u32 = 0x10;
    pub const EXEC: u32 = 0x20;
    /// Every seal (F_ALL_SEALS).
    pub const ALL: u32 = 0x3f;
}

impl Drop for TmpInode {
    fn drop(&mut self) {
        give_pages(&self.fs.inodes, 1);
        if let Body::File(f) = &self.st.get_mut().body {
            self.fs.uncharge_pages(f.pages.len() as u64);
        }
    }
}

/// Checks a name a directory entry is created under.
fn check_new_name(name: &[u8]) -> KResult<()> {
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if name == b"." || name == b".." {
        return Err(Errno::EEXIST);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if name.contains(&b'/') || name.contains(&0) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl TmpInode {
    fn new(fs: &Arc<FsInner>, attr: &NewNode, body: Body) -> Arc<TmpInode> {
        let nlink = if attr.kind == FileType::Directory {
            2
        } else {
            1
        };
        fs.inodes.fetch_add(1, Ordering::Relaxed);
        Arc::new_cyclic(|this| TmpInode {
            fs: fs.clone(),
            ino: fs.alloc_ino(),
            kind: attr.kind,
            this: this.clone(),
            st: Mutex::new(State {
                perm: attr.perm & 0o7777,
                nlink,
                uid: attr.uid,
                gid: attr.gid,
                rdev: attr.rdev,
                atime: attr.now,
                mtime: attr.now,
                ctime: attr.now,
                body,
            }),
            seals: AtomicU32::new(seal::SEAL),
        })
    }

    /// Bounds this node's filesystem, when still unbounded (made before the
    /// kernel knew its memory: the initrd root, /dev, an OCI config's
    /// mounts), to `extra` bytes beyond the data it holds already.
    /// (The same number of inodes beyond those it has.)
    pub fn bound_fs(&self, extra: u64) {
        let unbounded = u64::MAX / PAGE_U64;
        for (used, max) in [
            (&self.fs.used_pages, &self.fs.max_pages),
            (&self.fs.inodes, &self.fs.max_inodes),
        ] {
            let new = used
                .load(Ordering::Relaxed)
                .saturating_add(extra / PAGE_U64);
            let _ = max.compare_exchange(unbounded, new, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// The file's seals.
    pub fn seals(&self) -> u32 {
        self.seals.load(Ordering::Relaxed)
    }

    /// Replaces the seals (memfd_create's starting set).
    pub fn set_seals(&self, seals: u32) {
        self.seals.store(seals & seal::ALL, Ordering::Relaxed);
    }

    /// F_ADD_SEALS: EPERM once F_SEAL_SEAL is set, EINVAL for unknown bits.
    /// F_SEAL_EXEC on an executable file implies the write seals.
    pub fn add_seals(&self, mut seals: u32) -> KResult<()> {
        if seals & !seal::ALL != 0 {
            return Err(Errno::EINVAL);
        }
        if self.seals() & seal::SEAL != 0 {
            return Err(Errno::EPERM);
        }
        if seals & seal::EXEC != 0 && self.st.lock().perm & 0o111 != 0 {
            seals |= seal::SHRINK | seal::GROW | seal::WRITE | seal::FUTURE_WRITE;
        }
        self.seals.fetch_or(seals, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the seals forbid writing `len` bytes at `off` of a file of
    /// `size` bytes (Linux's shmem_write_begin).
    fn write_sealed(&self, off: u64, len: usize, size: u64) -> bool {
        let s = self.seals();
        s & (seal::WRITE | seal::FUTURE_WRITE) != 0
            || (s & seal::GROW != 0 && off.saturating_add(len as u64) > size)
    }

    fn arc(&self) -> KResult<Arc<TmpInode>> {
        self.this.upgrade().ok_or(Errno::ENOENT)
    }

    /// `other` as a node of this same filesystem, else EXDEV.
    fn same_fs<'a>(&self, other: &'a dyn Inode) -> KResult<&'a TmpInode> {
        match other.as_any().downcast_ref::<TmpInode>() {
            Some(t) if Arc::ptr_eq(&t.fs, &self.fs) => Ok(t),
            _ => Err(Errno::EXDEV),
        }
    }

    fn entry(&self, name: &[u8]) -> KResult<Option<Arc<TmpInode>>> {
        Ok(self.st.lock().dir()?.get(name))
    }

    fn parent(&self) -> Option<Arc<TmpInode>> {
        match &self.st.lock().body {
            Body::Dir(d) => d.parent.upgrade(),
            _ => None,
        }
    }

    fn is_empty_dir(&self) -> bool {
        matches!(&self.st.lock().body, Body::Dir(d) if d.entries.is_empty())
    }

    /// Whether `self` is `node` or one of its ancestors.
    fn is_ancestor_of(&self, node: &Arc<TmpInode>) -> bool {
        let mut cur = Some(node.clone());
        // Depth is bounded by the number of directories; the cap guards a cycle.
        let mut steps = 0u64;
        while let Some(n) = cur {
            if n.ino == self.ino {
                return true;
            }
            steps = steps.saturating_add(1);
            if steps > (1 << 24) {
                return false;
            }
            cur = n.parent();
        }
        false
    }

    fn add_node(&self, name: &[u8], attr: &NewNode, body: Body) -> KResult<Arc<dyn Inode>> {
        check_new_name(name)?;
        let this = self.arc()?;
        let mut st = self.st.lock();
        if st.nlink == 0 {
            // Creating in a removed directory.
            return Err(Errno::ENOENT);
        }
        let is_dir = attr.kind == FileType::Directory;
        if is_dir && st.nlink == u32::MAX {
            return Err(Errno::EMLINK);
        }
        let d = st.dir()?;
        if d.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let body = match body {
            Body::Dir(_) => Body::Dir(DirData::new(Arc::downgrade(&this))),
            b => b,
        };
        // As many inodes as pages of data (Linux's default nr_inodes).
        if self.fs.inodes.load(Ordering::Relaxed) >= self.fs.max_inodes.load(Ordering::Relaxed) {
            return Err(Errno::ENOSPC);
        }
        let node = TmpInode::new(&self.fs, attr, body);
        d.insert(name, node.clone())?;
        if is_dir {
            st.nlink = st.nlink.saturating_add(1);
        }
        st.touch(attr.now);
        Ok(node)
    }

    /// The checks of rename(2) on what `src` would replace.
    fn check_replace(src: &TmpInode, dst: Option<&Arc<TmpInode>>) -> KResult<()> {
        let Some(dst) = dst else { return Ok(()) };
        match (
            src.kind == FileType::Directory,
            dst.kind == FileType::Directory,
        ) {
            (true, false) => Err(Errno::ENOTDIR),
            (false, true) => Err(Errno::EISDIR),
            (true, true) if !dst.is_empty_dir() => Err(Errno::ENOTEMPTY),
            _ => Ok(()),
        }
    }

    /// Drops one link of a node taken out of a directory.
    fn drop_link(node: &TmpInode, now: Timespec) {
        let mut st = node.st.lock();
        st.nlink = if node.kind == FileType::Directory {
            0
        } else {
            // A hard link beyond the first counted as an inode (see link).
            if st.nlink > 1 {
                give_pages(&node.fs.inodes, 1);
            }
            st.nlink.saturating_sub(1)
        };
        st.ctime = now;
    }
}

impl Inode for TmpInode {
    fn direct_io(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn statfs(&self) -> Option<FsStats> {
        // Unbounded (unit tests): the caller reports the guest's memory.
        (self.fs.max_pages.load(Ordering::Relaxed) != u64::MAX / PAGE_U64).then(|| self.fs.stats())
    }

    fn kind(&self) -> FileType {
        self.kind
    }

    fn metadata(&self) -> KResult<Metadata> {
        let st = self.st.lock();
        let (size, pages) = match &st.body {
            Body::File(f) => (f.size, f.pages.len() as u64),
            Body::Dir(d) => (
                (d.entries.len() as u64 + 2).saturating_mul(BOGO_DIRENT_SIZE),
                0,
            ),
            Body::Symlink(t) => (t.len() as u64, 0),
            Body::Special => (0, 0),
        };
        Ok(Metadata {
            dev: self.fs.dev,
            ino: self.ino,
            mode: self.kind.mode_bits() | st.perm,
            nlink: st.nlink,
            uid: st.uid,
            gid: st.gid,
            rdev: st.rdev,
            size,
            blksize: PAGE as u32,
            blocks: pages.saturating_mul(PAGE_U64 / 512),
            atime: st.atime,
            mtime: st.mtime,
            ctime: st.ctime,
        })
    }

    fn set_metadata(&self, attr: &SetAttr) -> KResult<()> {
        let mut st = self.st.lock();
        if let Some(p) = attr.perm {
            st.perm = p & 0o7777;
        }
        if let Some(u) = attr.uid {
            st.uid = u;
        }
        if let Some(g) = attr.gid {
            st.gid = g;
        }
        if let Some(t) = attr.atime {
            st.atime = t;
        }
        if let Some(t) = attr.mtime {
            st.mtime = t;
        }
        st.ctime = attr.ctime;
        Ok(())
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        match &self.st.lock().body {
            Body::File(f) => Ok(f.read(off, buf)),
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn write_at(&self, off: u64, buf: &[u8], now: Timespec) -> KResult<usize> {
        let mut st = self.st.lock();
        let n = match &mut st.body {
            Body::File(f) if self.write_sealed(off, buf.len(), f.size) => return Err(Errno::EPERM),
            Body::File(f) => f.write(&self.fs, off, buf)?,
            Body::Dir(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        st.touch(now);
        Ok(n)
    }

    fn truncate(&self, size: u64, now: Timespec) -> KResult<()> {
        if size > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let mut st = self.st.lock();
        let seals = self.seals();
        match &mut st.body {
            Body::File(f)
                if (size < f.size && seals & seal::SHRINK != 0)
                    || (size > f.size && seals & seal::GROW != 0) =>
            {
                return Err(Errno::EPERM)
            }
            Body::File(f) => f.truncate(&self.fs, size),
            Body::Dir(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        st.touch(now);
        Ok(())
    }

    fn lookup(&self, name: &[u8]) -> KResult<Arc<dyn Inode>> {
        let node: Arc<TmpInode> = match name {
            b"." => {
                self.st.lock().dir()?;
                self.arc()?
            }
            b".." => {
                let parent = self.st.lock().dir()?.parent.upgrade();
                match parent {
                    Some(p) => p,
                    None => self.arc()?,
                }
            }
            _ => self.entry(name)?.ok_or(Errno::ENOENT)?,
        };
        Ok(node)
    }

    fn create(&self, name: &[u8], attr: &NewNode) -> KResult<Arc<dyn Inode>> {
        let body = match attr.kind {
            FileType::Regular => Body::File(FileData {
                size: 0,
                pages: BTreeMap::new(),
            }),
            FileType::Directory => Body::Dir(DirData::new(Weak::new())),
            FileType::Symlink => return Err(Errno::EINVAL),
            _ => Body::Special,
        };
        let attr = NewNode {
            rdev: if body_is_special(&body) { attr.rdev } else { 0 },
            ..*attr
        };
        self.add_node(name, &attr, body)
    }

    fn symlink(&self, name: &[u8], target: &[u8], attr: &NewNode) -> KResult<Arc<dyn Inode>> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let attr = NewNode {
            kind: FileType::Symlink,
            perm: 0o777,
            rdev: 0,
            ..*attr
        };
        self.add_node(name, &attr, Body::Symlink(target.to_vec()))
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>, now: Timespec) -> KResult<()> {
        check_new_name(name)?;
        let t = self.same_fs(target.as_ref())?;
        if t.kind == FileType::Directory {
            return Err(Errno::EPERM);
        }
        let t = t.arc()?;
        let mut st = self.st.lock();
        if st.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let d = st.dir()?;
        if d.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        {
            let mut ts = t.st.lock();
            if ts.nlink == 0 {
                return Err(Errno::ENOENT);
            }
            let nlink = ts.nlink.checked_add(1).ok_or(Errno::EMLINK)?;
            // As Linux's shmem_link: each link after the first counts as an
            // inode (its entry lives in memory until it is unlinked).
            take_page(&self.fs.inodes, self.fs.max_inodes.load(Ordering::Relaxed))?;
            ts.nlink = nlink;
            ts.ctime = now;
        }
        d.insert(name, t)?;
        st.touch(now);
        Ok(())
    }

    fn unlink(&self, name: &[u8], now: Timespec) -> KResult<()> {
        if name == b"." || name == b".." {
            return Err(Errno::EISDIR);
        }
        let mut st = self.st.lock();
        let d = st.dir()?;
        let node = d.get(name).ok_or(Errno::ENOENT)?;
        if node.kind == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        d.remove(name);
        TmpInode::drop_link(&node, now);
        st.touch(now);
        Ok(())
    }

    fn rmdir(&self, name: &[u8], now: Timespec) -> KResult<()> {
        match name {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let mut st = self.st.lock();
        let d = st.dir()?;
        let node = d.get(name).ok_or(Errno::ENOENT)?;
        if node.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if !node.is_empty_dir() {
            return Err(Errno::ENOTEMPTY);
        }
        d.remove(name);
        TmpInode::drop_link(&node, now);
        st.nlink = st.nlink.saturating_sub(1);
        st.touch(now);
        Ok(())
    }

    fn rename(
        &self,
        old_name: &[u8],
        new_dir: &Arc<dyn Inode>,
        new_name: &[u8],
        now: Timespec,
    ) -> KResult<()> {
        for n in [old_name, new_name] {
            if n == b"." || n == b".." {
                return Err(Errno::EBUSY);
            }
        }
        check_new_name(new_name)?;
        let nd = self.same_fs(new_dir.as_ref())?;
        if nd.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let nd = nd.arc()?;
        let same_dir = nd.ino == self.ino;

        // Look everything up first, with short locks, and check the rules.
        let src = self.entry(old_name)?.ok_or(Errno::ENOENT)?;
        let dst = nd.entry(new_name)?;
        if let Some(d) = &dst {
            if Arc::ptr_eq(d, &src) {
                // Two names of one inode: rename does nothing.
                return Ok(());
            }
        }
        TmpInode::check_replace(&src, dst.as_ref())?;
        let src_is_dir = src.kind == FileType::Directory;
        if src_is_dir && !same_dir && src.is_ancestor_of(&nd) {
            return Err(Errno::EINVAL);
        }
        if let Some(d) = &dst {
            // Replacing an ancestor of the source: it is not empty.
            if d.kind == FileType::Directory && d.is_ancestor_of(&self.arc()?) {
                return Err(Errno::ENOTEMPTY);
            }
        }
        if nd.st.lock().nlink == 0 {
            return Err(Errno::ENOENT);
        }

        if same_dir {
            let mut st = self.st.lock();
            let d = st.dir()?;
            let replaced = d.remove(new_name);
            d.remove(old_name);
            d.insert(new_name, src.clone())?;
            if let Some(r) = &replaced {
                TmpInode::drop_link(r, now);
                if r.kind == FileType::Directory {
                    st.nlink = st.nlink.saturating_sub(1);
                }
            }
            st.touch(now);
        } else {
            let mut a = self.st.lock();
            let mut b = nd.st.lock();
            let db = b.dir()?;
            let replaced = db.remove(new_name);
            db.insert(new_name, src.clone())?;
            a.dir()?.remove(old_name);
            if let Some(r) = &replaced {
                TmpInode::drop_link(r, now);
                if r.kind == FileType::Directory {
                    b.nlink = b.nlink.saturating_sub(1);
                }
            }
            if src_is_dir {
                a.nlink = a.nlink.saturating_sub(1);
                b.nlink = b.nlink.saturating_add(1);
                if let Body::Dir(sd) = &mut src.st.lock().body {
                    sd.parent = Arc::downgrade(&nd);
                }
            }
            a.touch(now);
            b.touch(now);
        }
        src.st.lock().ctime = now;
        Ok(())
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        match &self.st.lock().body {
            Body::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn readdir(&self, offset: u64, max: usize) -> KResult<Vec<DirEntry>> {
        let mut st = self.st.lock();
        let d = st.dir()?;
        let max = max.max(1);
        let mut out = Vec::new();
        let mut off = offset;
        if off == 0 {
            out.push(DirEntry {
                name: Vec::from(&b"."[..]),
                ino: self.ino,
                kind: FileType::Directory,
                next_off: 1,
            });
            off = 1;
        }
        if off == 1 && out.len() < max {
            let pino = d.parent.upgrade().map_or(self.ino, |p| p.ino);
            out.push(DirEntry {
                name: Vec::from(&b".."[..]),
                ino: pino,
                kind: FileType::Directory,
                next_off: FIRST_COOKIE,
            });
            off = FIRST_COOKIE;
        }
        if off < FIRST_COOKIE {
            return Ok(out);
        }
        for (cookie, name) in d.by_cookie.range(off..) {
            if out.len() >= max {
                break;
            }
            let Some(slot) = d.entries.get(&name[..]) else {
                continue;
            };
            out.push(DirEntry {
                name: name.to_vec(),
                ino: slot.node.ino,
                kind: slot.node.kind,
                next_off: cookie.saturating_add(1),
            });
        }
        Ok(out)
    }
}

fn body_is_special(b: &Body) -> bool {
    matches!(b, Body::Special)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn ts(s: i64) -> Timespec {
        Timespec {
            tv_sec: s,
            tv_nsec: 0,
        }
    }

    fn node(kind: FileType) -> NewNode {
        NewNode {
            kind,
            perm: 0o755,
            uid: 1,
            gid: 2,
            rdev: 0,
            now: ts(1),
        }
    }

    fn names(dir: &Arc<dyn Inode>) -> Vec<String> {
        dir.readdir(0, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    fn nlink(i: &Arc<dyn Inode>) -> u32 {
        i.metadata().unwrap().nlink
    }

    #[test]
    fn files_read_write_sparse_and_truncate() {
        let fs = TmpFs::new(7, ts(0));
        let f = fs.root().create(b"f", &node(FileType::Regular)).unwrap();
        assert_eq!(f.write_at(0, b"hello", ts(5)).unwrap(), 5);
        let mut b = [0u8; 10];
        assert_eq!(f.read_at(0, &mut b).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        assert_eq!(f.read_at(5, &mut b).unwrap(), 0);
        assert_eq!(f.read_at(u64::MAX, &mut b).unwrap(), 0);
        // A write far past the end leaves a hole that reads as zeros.
        assert_eq!(f.write_at(10 * 4096 + 100, b"x", ts(6)).unwrap(), 1);
        let m = f.metadata().unwrap();
        assert_eq!(m.size, 10 * 4096 + 101);
        assert_eq!(m.blocks, 2 * 8);
        assert_eq!(m.mtime, ts(6));
        assert_eq!((m.dev, m.uid, m.gid, m.mode), (7, 1, 2, 0o100755));
        let mut big = [1u8; 8192];
        assert_eq!(f.read_at(0, &mut big).unwrap(), 8192);
        assert!(big[5..].iter().all(|&c| c == 0));
        assert_eq!(&big[..5], b"hello");
        assert_eq!(f.read_at(10 * 4096 + 99, &mut big).unwrap(), 2);
        assert_eq!(&big[..2], b"\0x");
        // Shrink then grow: the cut-off bytes must read as zeros.
        f.truncate(3, ts(7)).unwrap();
        f.truncate(4096 * 3, ts(7)).unwrap();
        let mut b = [9u8; 6];
        assert_eq!(f.read_at(0, &mut b).unwrap(), 6);
        assert_eq!(&b, b"hel\0\0\0");
        assert_eq!(fs.used_bytes(), 4096);
        assert_eq!(f.write_at(u64::MAX - 1, b"ab", ts(8)), Err(Errno::EFBIG));
        assert_eq!(f.truncate(u64::MAX, ts(8)), Err(Errno::EFBIG));
        assert_eq!(fs.root().write_at(0, b"x", ts(8)), Err(Errno::EISDIR));
        assert_eq!(fs.root().read_at(0, &mut b), Err(Errno::EISDIR));
    }

    #[test]
    fn seals_are_enforced_on_write_and_truncate() {
        let fs = TmpFs::new(7, ts(0));
        let f = fs.root().create(b"f", &node(FileType::Regular)).unwrap();
        let t = f.as_any().downcast_ref::<TmpInode>().unwrap();
        assert_eq!(t.seals(), seal::SEAL, "every tmpfs file starts sealed");
        assert_eq!(t.add_seals(seal::GROW), Err(Errno::EPERM));
        t.set_seals(0);
        assert_eq!(t.add_seals(0x100), Err(Errno::EINVAL));
        assert_eq!(f.write_at(0, b"hello", ts(1)), Ok(5));
        t.add_seals(seal::SHRINK).unwrap();
        assert_eq!(f.truncate(2, ts(1)), Err(Errno::EPERM));
        assert_eq!(f.truncate(8, ts(1)), Ok(()));
        t.add_seals(seal::GROW).unwrap();
        assert_eq!(f.truncate(9, ts(1)), Err(Errno::EPERM));
        assert_eq!(f.write_at(7, b"xy", ts(1)), Err(Errno::EPERM));
        assert_eq!(f.write_at(6, b"xy", ts(1)), Ok(2));
        t.add_seals(seal::FUTURE_WRITE).unwrap();
        assert_eq!(f.write_at(0, b"x", ts(1)), Err(Errno::EPERM));
        t.add_seals(seal::SEAL).unwrap();
        assert_eq!(t.add_seals(seal::WRITE), Err(Errno::EPERM));
        assert_eq!(t.seals(), 0x17);
        // F_SEAL_EXEC on an executable file implies the write seals.
        let x = fs.root().create(b"x", &node(FileType::Regular)).unwrap();
        let tx = x.as_any().downcast_ref::<TmpInode>().unwrap();
        tx.set_seals(0);
        tx.add_seals(seal::EXEC).unwrap();
        assert_eq!(tx.seals(), 0x3e);
    }

    #[test]
    fn page_limit_gives_enospc_and_partial_writes() {
        let fs = TmpFs::with_limit(1, ts(0), 2 * 4096);
        let f = fs.root().create(b"f", &node(FileType::Regular)).unwrap();
        let data = [7u8; 3 * 4096];
        assert_eq!(f.write_at(0, &data, ts(1)).unwrap(), 2 * 4096);
        assert_eq!(f.write_at(2 * 4096, &data, ts(1)), Err(Errno::ENOSPC));
        fs.root().unlink(b"f", ts(2)).unwrap();
        // Still open (we hold the Arc): the pages stay charged until it is dropped.
        assert_eq!(fs.used_bytes(), 2 * 4096);
        let mut b = [0u8; 4];
        assert_eq!(f.read_at(0, &mut b).unwrap(), 4);
        assert_eq!(nlink(&f), 0);
        drop(f);
        assert_eq!(fs.used_bytes(), 0);
    }

    #[test]
    fn shared_limit_bounds_instances_together() {
        let shared = SharedLimit::new(3 * 4096);
        let a = TmpFs::bounded(1, ts(0), 2 * 4096, &shared);
        let b = TmpFs::bounded(2, ts(0), 2 * 4096, &shared);
        let fa = a.root().create(b"f", &node(FileType::Regular)).unwrap();
        let fb = b.root().create(b"f", &node(FileType::Regular)).unwrap();
        let data = [1u8; 2 * 4096];
        assert_eq!(fa.write_at(0, &data, ts(1)), Ok(2 * 4096));
        // b's own size allows two pages, the shared bound one more.
        assert_eq!(fb.write_at(0, &data, ts(1)), Ok(4096));
        assert_eq!(shared.used_bytes(), 3 * 4096);
        let st = b.root().statfs().unwrap();
        assert_eq!((st.f_type, st.blocks, st.bfree), (TMPFS_MAGIC, 2, 0));
        // Freeing a's pages gives them back to the shared bound.
        fa.truncate(0, ts(2)).unwrap();
        assert_eq!(shared.used_bytes(), 4096);
        assert_eq!(b.root().statfs().unwrap().bfree, 1);
        assert_eq!(fb.write_at(4096, &data[..4096], ts(3)), Ok(4096));
        drop((fb, b));
        assert_eq!(shared.used_bytes(), 0);
    }

    #[test]
    fn inode_limit_and_late_bound() {
        let fs = TmpFs::with_limit(1, ts(0), 3 * 4096);
        // The root is one of the three inodes.
        fs.root().create(b"a", &node(FileType::Regular)).unwrap();
        fs.root().create(b"b", &node(FileType::Directory)).unwrap();
        let c = fs.root().create(b"c", &node(FileType::Regular));
        assert_eq!(c.err(), Some(Errno::ENOSPC));
        let st = fs.root().statfs().unwrap();
        assert_eq!((st.files, st.ffree), (3, 0));
        fs.root().unlink(b"a", ts(1)).unwrap();
        assert!(fs.root().create(b"c", &node(FileType::Regular)).is_ok());
        // Unbounded: no figures of its own, until bounded beyond its data.
        let u = TmpFs::new(2, ts(0));
        assert_eq!(u.root().statfs(), None);
        let f = u.root().create(b"f", &node(FileType::Regular)).unwrap();
        f.write_at(0, &[1u8; 4096], ts(1)).unwrap();
        let root = u.root();
        let t = root.as_any().downcast_ref::<TmpInode>().unwrap();
        t.bound_fs(2 * 4096);
        let st = u.root().statfs().unwrap();
        assert_eq!((st.blocks, st.bfree, st.files, st.ffree), (3, 2, 4, 2));
        // A bounded one keeps its size.
        t.bound_fs(100 * 4096);
        assert_eq!(u.root().statfs().unwrap().blocks, 3);
    }

    #[test]
    fn directories_links_and_counts() {
        let fs = TmpFs::new(1, ts(0));
        let root = fs.root();
        let d = root.create(b"d", &node(FileType::Directory)).unwrap();
        assert_eq!(nlink(&root), 3);
        assert_eq!(nlink(&d), 2);
        assert_eq!(
            root.create(b"d", &node(FileType::Regular)).map(|_| ()),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            root.create(b"", &node(FileType::Regular)).map(|_| ()),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            root.create(b"a/b", &node(FileType::Regular)).map(|_| ()),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            root.create("n".repeat(256).as_bytes(), &node(FileType::Regular))
                .map(|_| ()),
            Err(Errno::ENAMETOOLONG)
        );
        let f = d.create(b"f", &node(FileType::Regular)).unwrap();
        d.link(b"g", &f, ts(3)).unwrap();
        assert_eq!(nlink(&f), 2);
        assert_eq!(d.link(b"g", &f, ts(3)), Err(Errno::EEXIST));
        assert_eq!(root.link(b"dd", &d, ts(3)), Err(Errno::EPERM));
        let other = TmpFs::new(2, ts(0));
        assert_eq!(other.root().link(b"x", &f, ts(3)), Err(Errno::EXDEV));
        assert_eq!(root.rmdir(b"d", ts(4)), Err(Errno::ENOTEMPTY));
        assert_eq!(root.unlink(b"d", ts(4)), Err(Errno::EISDIR));
        assert_eq!(d.rmdir(b"f", ts(4)), Err(Errno::ENOTDIR));
        d.unlink(b"f", ts(4)).unwrap();
        assert_eq!(nlink(&f), 1);
        assert_eq!(
            d.lookup(b"g").unwrap().metadata().unwrap().ino,
            f.metadata().unwrap().ino
        );
        d.unlink(b"g", ts(4)).unwrap();
        assert_eq!(d.unlink(b"g", ts(4)), Err(Errno::ENOENT));
        root.rmdir(b"d", ts(5)).unwrap();
        assert_eq!(nlink(&root), 2);
        assert_eq!(nlink(&d), 0);
        // A removed directory cannot get new entries.
        assert_eq!(
            d.create(b"x", &node(FileType::Regular)).map(|_| ()),
            Err(Errno::ENOENT)
        );
        assert_eq!(f.lookup(b"x").map(|_| ()), Err(Errno::ENOTDIR));
        assert_eq!(
            root.lookup(b"..").unwrap().metadata().unwrap().ino,
            root.metadata().unwrap().ino
        );
    }

    #[test]
    fn symlinks_and_special_nodes() {
        let fs = TmpFs::new(1, ts(0));
        let root = fs.root();
        let l = root
            .symlink(b"l", b"/some/where", &node(FileType::Symlink))
            .unwrap();
        assert_eq!(l.readlink().unwrap(), b"/some/where");
        assert_eq!(l.metadata().unwrap().mode, 0o120777);
        assert_eq!(l.metadata().unwrap().size, 11);
        assert_eq!(root.readlink(), Err(Errno::EINVAL));
        assert_eq!(
            root.symlink(b"e", b"", &node(FileType::Symlink))
                .map(|_| ()),
            Err(Errno::ENOENT)
        );
        let c = root
            .create(
                b"null",
                &NewNode {
                    rdev: 0x103,
                    ..node(FileType::CharDevice)
                },
            )
            .unwrap();
        let m = c.metadata().unwrap();
        assert_eq!((m.mode, m.rdev), (0o020755, 0x103));
        assert_eq!(c.read_at(0, &mut [0u8; 1]), Err(Errno::EINVAL));
    }

    #[test]
    fn readdir_cursors_survive_removal_and_insertion() {
        let fs = TmpFs::new(1, ts(0));
        let root = fs.root();
        for n in ["a", "b", "c", "d"] {
            root.create(n.as_bytes(), &node(FileType::Regular)).unwrap();
        }
        assert_eq!(names(&root), [".", "..", "a", "b", "c", "d"]);
        let first = root.readdir(0, 3).unwrap();
        assert_eq!(first.len(), 3);
        let cursor = first[2].next_off;
        root.unlink(b"a", ts(1)).unwrap();
        root.unlink(b"b", ts(1)).unwrap();
        root.create(b"e", &node(FileType::Regular)).unwrap();
        let rest: Vec<String> = root
            .readdir(cursor, 10)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        assert_eq!(rest, ["c", "d", "e"]);
        let e = root.readdir(cursor, 10).unwrap();
        assert!(root.readdir(e[2].next_off, 10).unwrap().is_empty());
        assert!(root.readdir(u64::MAX, 10).unwrap().is_empty());
        let dots = root.readdir(0, 10).unwrap();
        assert_eq!(dots[0].kind, FileType::Directory);
        assert_eq!(dots[2].kind, FileType::Regular);
    }

    #[test]
    fn rename_rules() {
        let fs = TmpFs::new(1, ts(0));
        let root = fs.root();
        let d1 = root.create(b"d1", &node(FileType::Directory)).unwrap();
        let d2 = root.create(b"d2", &node(FileType::Directory)).unwrap();
        let sub = d1.create(b"sub", &node(FileType::Directory)).unwrap();
        let f = d1.create(b"f", &node(FileType::Regular)).unwrap();
        d2.create(b"g", &node(FileType::Regular)).unwrap();
        d2.create(b"empty", &node(FileType::Directory)).unwrap();
        d2.create(b"full", &node(FileType::Directory))
            .unwrap()
            .create(b"x", &node(FileType::Regular))
            .unwrap();

        assert_eq!(d1.rename(b"nope", &d2, b"x", ts(1)), Err(Errno::ENOENT));
        assert_eq!(d1.rename(b"f", &d2, b"empty", ts(1)), Err(Errno::EISDIR));
        assert_eq!(d1.rename(b"sub", &d2, b"g", ts(1)), Err(Errno::ENOTDIR));
        assert_eq!(
            d1.rename(b"sub", &d2, b"full", ts(1)),
            Err(Errno::ENOTEMPTY)
        );
        assert_eq!(root.rename(b"d1", &sub, b"x", ts(1)), Err(Errno::EINVAL));
        assert_eq!(root.rename(b"d1", &d1, b"x", ts(1)), Err(Errno::EINVAL));
        assert_eq!(d1.rename(b".", &d2, b"x", ts(1)), Err(Errno::EBUSY));
        assert_eq!(sub.rename(b"x", &root, b"d1", ts(1)), Err(Errno::ENOENT));
        sub.create(b"y", &node(FileType::Directory)).unwrap();
        // Replacing the source's own ancestor: not empty.
        assert_eq!(sub.rename(b"y", &root, b"d1", ts(1)), Err(Errno::ENOTEMPTY));
        sub.rmdir(b"y", ts(1)).unwrap();
        let other = TmpFs::new(2, ts(0));
        assert_eq!(
            d1.rename(b"f", &other.root(), b"f", ts(1)),
            Err(Errno::EXDEV)
        );

        // File over file, across directories.
        d1.rename(b"f", &d2, b"g", ts(2)).unwrap();
        assert_eq!(
            d2.lookup(b"g").unwrap().metadata().unwrap().ino,
            f.metadata().unwrap().ino
        );
        assert_eq!(d1.lookup(b"f").map(|_| ()), Err(Errno::ENOENT));
        // Directory over an empty directory, across directories: link counts move.
        assert_eq!((nlink(&d1), nlink(&d2)), (3, 4));
        d1.rename(b"sub", &d2, b"empty", ts(3)).unwrap();
        assert_eq!((nlink(&d1), nlink(&d2)), (2, 4));
        assert_eq!(
            sub.lookup(b"..").unwrap().metadata().unwrap().ino,
            d2.metadata().unwrap().ino
        );
        // Same directory, then a no-op onto a hard link of itself.
        d2.rename(b"g", &d2, b"h", ts(4)).unwrap();
        assert_eq!(names(&d2), [".", "..", "full", "empty", "h"]);
        d2.link(b"h2", &f, ts(4)).unwrap();
        d2.rename(b"h", &d2, b"h2", ts(4)).unwrap();
        assert_eq!(nlink(&f), 2);
        d2.rename(b"empty", &root, b"moved", ts(5)).unwrap();
        assert_eq!((nlink(&root), nlink(&d2)), (5, 3));
        assert_eq!(
            root.lookup(b"moved").unwrap().metadata().unwrap().ino,
            sub.metadata().unwrap().ino
        );
    }
}
