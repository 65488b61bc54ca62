//! Open file descriptions: what open(2) creates and dup(2) and fork share. An
//! [`OpenFile`] holds the inode (or the stream operations of a special file), the
//! path it was opened at (for fchdir and /proc/self/fd), the access mode, the
//! status flags F_SETFL may change, and the file position.
//!
//! [`open`] implements open(2)'s path semantics: O_CREAT, O_EXCL, O_TRUNC,
//! O_DIRECTORY, O_NOFOLLOW and O_PATH, the umask, permission checks, and device
//! nodes bound to drivers through the VFS's device table.
//!
//! The file position is locked for the whole of a read or write, so concurrent
//! O_APPEND writers and readers sharing a description see Linux's atomicity.

use alloc::sync::Arc;

use spin::Mutex;
use umbra_abi::flags::{
    OpenFlags, O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET, S_IFCHR,
    S_ISGID,
};

use super::fifo::{FifoCaller, FifoOpen};
use super::path::{FollowLast, PathRef, Vfs};
use super::vfs::{
    check_access, timespec_from_ns, Access, FileOps, FileType, FsCtx, Inode, IoCtx, IoctlArg,
    Metadata, NewNode, PollEvents,
};
use crate::error::{Errno, KResult};

const SEEK_DATA: u32 = 3;
const SEEK_HOLE: u32 = 4;
/// O_TMPFILE without its O_DIRECTORY bit (__O_TMPFILE).
const O_TMPFILE_BIT: u32 = 0o20000000;
/// Largest file position (Linux's MAX_LFS_FILESIZE).
const MAX_OFFSET: u64 = i64::MAX as u64;
/// Size of the fixed part of linux_dirent64: d_ino, d_off, d_reclen, d_type.
const DIRENT_HEADER: usize = 19;

/// The status flags F_SETFL may change.
pub fn setfl_mask() -> OpenFlags {
    OpenFlags::O_APPEND
        | OpenFlags::O_NONBLOCK
        | OpenFlags::O_ASYNC
        | OpenFlags::O_DIRECT
        | OpenFlags::O_NOATIME
}

/// Flags that only matter while opening, not kept in the description.
fn open_only_flags() -> OpenFlags {
    OpenFlags::O_CREAT
        | OpenFlags::O_EXCL
        | OpenFlags::O_NOCTTY
        | OpenFlags::O_TRUNC
        | OpenFlags::O_CLOEXEC
}

/// An open file description.
pub struct OpenFile {
    inode: Option<Arc<dyn Inode>>,
    ops: Option<Arc<dyn FileOps>>,
    path: Option<PathRef>,
    /// Access mode plus status flags, as F_GETFL reports them.
    flags: Mutex<OpenFlags>,
    offset: Mutex<u64>,
    /// The lock list of the inode where this description holds OFD or flock
    /// locks, so that its last close drops them.
    locks: Mutex<Option<super::lock::SharedLocks>>,
    /// Who gets SIGIO for this description (F_SETOWN, F_SETSIG).
    owner: Mutex<FileOwner>,
    /// Run when the description's last reference goes (inotify's
    /// IN_CLOSE_WRITE and IN_CLOSE_NOWRITE).
    on_close: Mutex<Option<CloseHook>>,
}

/// What runs when a description's last reference goes.
pub type CloseHook = alloc::boxed::Box<dyn FnOnce() + Send>;

/// The owner of a description's I/O signals: a process, thread or process
/// group (`kind`: F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP; `pid` 0 for none),
/// and the signal F_SETSIG chose (0: SIGIO).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileOwner {
    pub kind: u32,
    pub pid: u32,
    pub sig: u32,
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        if let Some(hook) = self.on_close.get_mut().take() {
            hook();
        }
        if let Some(l) = self.locks.get_mut().take() {
            l.lock()
                .remove_owner(super::lock::Owner::Desc(self.lock_id()));
        }
    }
}

impl core::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenFile")
            .field("path", &self.path)
            .field("flags", &*self.flags.lock())
            .finish()
    }
}

impl OpenFile {
    fn new(
        inode: Option<Arc<dyn Inode>>,
        ops: Option<Arc<dyn FileOps>>,
        path: Option<PathRef>,
        flags: OpenFlags,
    ) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            inode,
            ops,
            path,
            flags: Mutex::new(flags.difference(open_only_flags())),
            offset: Mutex::new(0),
            locks: Mutex::new(None),
            owner: Mutex::new(FileOwner::default()),
            on_close: Mutex::new(None),
        })
    }

    /// The identity of this description as a lock owner (OFD and flock
    /// locks): its address, unique while it lives.
    pub fn lock_id(&self) -> usize {
        self as *const OpenFile as usize
    }

    /// Notes that this description holds (or may hold) OFD or flock locks in
    /// `locks`, to drop at its last close.
    pub fn hold_locks(&self, locks: &super::lock::SharedLocks) {
        let mut l = self.locks.lock();
        if l.as_ref()
            .is_none_or(|cur| !alloc::sync::Arc::ptr_eq(cur, locks))
        {
            if let Some(old) = l.replace(locks.clone()) {
                old.lock()
                    .remove_owner(super::lock::Owner::Desc(self.lock_id()));
            }
        }
    }

    /// A description of a special file without a path (the console on fds 0-2,
    /// pipes, sockets). `flags` holds the access mode and status flags.
    pub fn from_ops(ops: Arc<dyn FileOps>, flags: OpenFlags) -> Arc<OpenFile> {
        OpenFile::new(None, Some(ops), None, flags)
    }

    /// A description of the special file at `node` (its path shows in
    /// /proc/PID/fd and fstat reports its inode), served by `ops`.
    pub fn from_ops_at(ops: Arc<dyn FileOps>, flags: OpenFlags, node: &PathRef) -> Arc<OpenFile> {
        OpenFile::new(
            Some(node.inode().clone()),
            Some(ops),
            Some(node.clone()),
            flags,
        )
    }

    /// Runs `hook` when the description's last reference goes.
    pub fn on_last_close(&self, hook: CloseHook) {
        *self.on_close.lock() = Some(hook);
    }

    /// The owner of the description's I/O signals.
    pub fn owner(&self) -> FileOwner {
        *self.owner.lock()
    }

    /// F_SETOWN, F_SETOWN_EX, F_SETSIG.
    pub fn set_owner(&self, o: FileOwner) {
        *self.owner.lock() = o;
    }

    /// A description of an inode that has no path (memfd_create's files).
    pub fn anonymous(inode: Arc<dyn Inode>, flags: OpenFlags) -> Arc<OpenFile> {
        OpenFile::new(Some(inode), None, None, flags)
    }

    /// The inode, if the file has one.
    pub fn inode(&self) -> Option<&Arc<dyn Inode>> {
        self.inode.as_ref()
    }

    /// The stream operations, for special files.
    pub fn ops(&self) -> Option<&Arc<dyn FileOps>> {
        self.ops.as_ref()
    }

    /// Where the file was opened (for fchdir, openat on a dirfd, /proc/self/fd).
    pub fn path(&self) -> Option<&PathRef> {
        self.path.as_ref()
    }

    /// Access mode and status flags, as F_GETFL returns them.
    pub fn flags(&self) -> OpenFlags {
        *self.flags.lock()
    }

    /// F_SETFL: changes the settable status flags, keeps the rest.
    pub fn set_status_flags(&self, new: OpenFlags) {
        let mut f = self.flags.lock();
        *f = f.difference(setfl_mask()) | new.intersection(setfl_mask());
    }

    /// Whether I/O on the file must not block.
    pub fn is_nonblocking(&self) -> bool {
        self.flags().contains(OpenFlags::O_NONBLOCK)
    }

    /// Whether the file is a stream whose blocking writes move every byte
    /// (a pipe, a FIFO, the console), not a regular file or a device node.
    pub fn is_stream(&self) -> bool {
        self.ops.as_ref().is_some_and(|o| !o.seekable())
            && self
                .inode
                .as_ref()
                .is_none_or(|i| i.kind() == FileType::Fifo)
    }

    /// Whether this is an O_PATH description (only a place in the name space).
    pub fn is_path_only(&self) -> bool {
        self.flags().contains(OpenFlags::O_PATH)
    }

    fn access(&self) -> u32 {
        self.flags().bits() & O_ACCMODE
    }

    /// Whether the file was opened for reading.
    pub fn readable(&self) -> bool {
        !self.is_path_only() && matches!(self.access(), O_RDONLY | O_RDWR)
    }

    /// Whether the file was opened for writing.
    pub fn writable(&self) -> bool {
        !self.is_path_only() && matches!(self.access(), O_WRONLY | O_RDWR)
    }

    /// The current position.
    pub fn offset(&self) -> u64 {
        *self.offset.lock()
    }

    /// Whether the file has a position (not a pipe or other stream).
    pub fn seekable(&self) -> bool {
        match &self.ops {
            Some(ops) => ops.seekable(),
            None => true,
        }
    }

    /// read(2).
    pub fn read(&self, ctx: &mut dyn IoCtx, buf: &mut [u8]) -> KResult<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        let mut off = self.offset.lock();
        let n = self.read_at_pos(ctx, *off, buf)?;
        if self.seekable() {
            *off = off.saturating_add(n as u64);
        }
        Ok(n)
    }

    /// pread64(2): reads at `off` without moving the position.
    pub fn pread(&self, ctx: &mut dyn IoCtx, buf: &mut [u8], off: u64) -> KResult<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        if !self.seekable() {
            return Err(Errno::ESPIPE);
        }
        if off > MAX_OFFSET {
            return Err(Errno::EINVAL);
        }
        self.read_at_pos(ctx, off, buf)
    }

    fn read_at_pos(&self, ctx: &mut dyn IoCtx, off: u64, buf: &mut [u8]) -> KResult<usize> {
        if let Some(ops) = &self.ops {
            return ops.read(ctx, off, buf);
        }
        let inode = self.inode.as_ref().ok_or(Errno::EBADF)?;
        inode.read_at(off, buf)
    }

    /// write(2); with O_APPEND the position first moves to the end.
    pub fn write(&self, ctx: &mut dyn IoCtx, buf: &[u8]) -> KResult<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        let mut off = self.offset.lock();
        if self.ops.is_none() && self.flags().contains(OpenFlags::O_APPEND) {
            *off = self.size()?;
        }
        let n = self.write_at_pos(ctx, *off, buf)?;
        if self.seekable() {
            *off = off.saturating_add(n as u64);
        }
        Ok(n)
    }

    /// pwrite64(2): writes at `off` without moving the position (but, as on
    /// Linux, at the end with O_APPEND).
    pub fn pwrite(&self, ctx: &mut dyn IoCtx, buf: &[u8], off: u64) -> KResult<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        if !self.seekable() {
            return Err(Errno::ESPIPE);
        }
        if off > MAX_OFFSET {
            return Err(Errno::EINVAL);
        }
        let off = if self.ops.is_none() && self.flags().contains(OpenFlags::O_APPEND) {
            self.size()?
        } else {
            off
        };
        self.write_at_pos(ctx, off, buf)
    }

    fn write_at_pos(&self, ctx: &mut dyn IoCtx, off: u64, buf: &[u8]) -> KResult<usize> {
        if let Some(ops) = &self.ops {
            return ops.write(ctx, off, buf);
        }
        let inode = self.inode.as_ref().ok_or(Errno::EBADF)?;
        if buf.is_empty() {
            return Ok(0);
        }
        inode.write_at(off, buf, timespec_from_ns(ctx.now_real()))
    }

    /// Whether read and write can move this file's bytes straight between
    /// its storage and slices of guest memory ([`Self::read_direct`],
    /// [`Self::write_direct`]): a regular file whose inode takes it
    /// ([`Inode::direct_io`]: tmpfs pages, ext2 blocks) and a pipe end;
    /// neither needs an I/O context.
    /// Always false in a build without the `direct-io` feature.
    pub fn is_direct(&self) -> bool {
        if !cfg!(feature = "direct-io") {
            return false;
        }
        match &self.ops {
            Some(ops) => super::pipe::is_pipe_end(&**ops),
            None => self
                .inode
                .as_ref()
                .is_some_and(|i| i.kind() == FileType::Regular && i.direct_io()),
        }
    }

    /// read(2) (`off` None) or pread64(2) into `bufs`, in order, as one
    /// buffer of their total length, for a file that [`Self::is_direct`].
    /// EINVAL for any other (the caller goes through a kernel buffer).
    pub fn read_direct(&self, bufs: &mut [&mut [u8]], off: Option<u64>) -> KResult<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        if !self.is_direct() {
            return Err(Errno::EINVAL);
        }
        let read = |at: u64, bufs: &mut [&mut [u8]]| match (&self.ops, &self.inode) {
            (Some(ops), _) => super::pipe::read_vectored(&**ops, bufs),
            (None, Some(inode)) => inode.read_vectored_at(at, bufs),
            (None, None) => Err(Errno::EBADF),
        };
        match off {
            None => {
                let mut pos = self.offset.lock();
                let n = read(*pos, bufs)?;
                if self.seekable() {
                    *pos = pos.saturating_add(n as u64);
                }
                Ok(n)
            }
            Some(_) if !self.seekable() => Err(Errno::ESPIPE),
            Some(o) if o > MAX_OFFSET => Err(Errno::EINVAL),
            Some(o) => read(o, bufs),
        }
    }

    /// write(2) (`off` None) or pwrite64(2) of `bufs`, in order, as one
    /// buffer, for a file that [`Self::is_direct`] (EINVAL for any other).
    /// With O_APPEND a regular file is written at its end.
    pub fn write_direct(
        &self,
        bufs: &[&[u8]],
        off: Option<u64>,
        now: umbra_abi::structs::Timespec,
    ) -> KResult<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        if !self.is_direct() {
            return Err(Errno::EINVAL);
        }
        let append = self.ops.is_none() && self.flags().contains(OpenFlags::O_APPEND);
        let write = |at: u64| match (&self.ops, &self.inode) {
            (Some(ops), _) => super::pipe::write_vectored(&**ops, bufs),
            (None, Some(_)) if bufs.iter().all(|b| b.is_empty()) => Ok(0),
            (None, Some(inode)) => inode.write_vectored_at(at, bufs, now),
            (None, None) => Err(Errno::EBADF),
        };
        match off {
            None => {
                let mut pos = self.offset.lock();
                if append {
                    *pos = self.size()?;
                }
                let n = write(*pos)?;
                if self.seekable() {
                    *pos = pos.saturating_add(n as u64);
                }
                Ok(n)
            }
            Some(_) if !self.seekable() => Err(Errno::ESPIPE),
            Some(o) if o > MAX_OFFSET => Err(Errno::EINVAL),
            Some(_) if append => write(self.size()?),
            Some(o) => write(o),
        }
    }

    fn size(&self) -> KResult<u64> {
        match &self.inode {
            Some(i) => Ok(i.metadata()?.size),
            None => Ok(0),
        }
    }

    /// lseek(2). Directories accept SEEK_SET and SEEK_CUR to cursors that
    /// getdents64 handed out (telldir/seekdir).
    pub fn lseek(&self, off: i64, whence: u32) -> KResult<u64> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        if !self.seekable() {
            return Err(Errno::ESPIPE);
        }
        let mut pos = self.offset.lock();
        let is_dir = self
            .inode
            .as_ref()
            .is_some_and(|i| i.kind() == FileType::Directory);
        let base: i64 = match whence {
            SEEK_SET => 0,
            SEEK_CUR => i64::try_from(*pos).map_err(|_| Errno::EOVERFLOW)?,
            SEEK_END if !is_dir => i64::try_from(self.size()?).map_err(|_| Errno::EOVERFLOW)?,
            SEEK_DATA | SEEK_HOLE if !is_dir => {
                // No holes are reported: data runs to the end, the hole is at the end.
                let size = self.size()?;
                let o = u64::try_from(off).map_err(|_| Errno::ENXIO)?;
                if o >= size {
                    return Err(Errno::ENXIO);
                }
                *pos = if whence == SEEK_DATA { o } else { size };
                return Ok(*pos);
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = base.checked_add(off).ok_or(Errno::EOVERFLOW)?;
        let new = u64::try_from(new).map_err(|_| Errno::EINVAL)?;
        *pos = new;
        Ok(new)
    }

    /// getdents64(2): fills `buf` with linux_dirent64 records (d_ino u64, d_off
    /// i64, d_reclen u16, d_type u8, the NUL-terminated name, padding to 8 bytes).
    /// Returns the bytes used, 0 at the end; EINVAL if not even one record fits.
    pub fn getdents64(&self, buf: &mut [u8]) -> KResult<usize> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        let inode = self.inode.as_ref().ok_or(Errno::ENOTDIR)?;
        if inode.kind() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let mut off = self.offset.lock();
        // Every record takes at least 24 bytes, so this many entries fill `buf`.
        let max = (buf.len() / 24).saturating_add(1);
        let entries = inode.readdir(*off, max)?;
        let mut pos = 0usize;
        for e in entries {
            let name = e.name.as_slice();
            let reclen = DIRENT_HEADER
                .checked_add(name.len())
                .and_then(|l| l.checked_add(1 + 7))
                .map(|l| l & !7)
                .ok_or(Errno::EINVAL)?;
            let end = pos.checked_add(reclen).ok_or(Errno::EINVAL)?;
            let (Some(rec), Ok(reclen16)) = (buf.get_mut(pos..end), u16::try_from(reclen)) else {
                if pos == 0 {
                    return Err(Errno::EINVAL);
                }
                break;
            };
            rec.fill(0);
            let d_off = i64::try_from(e.next_off).unwrap_or(i64::MAX);
            rec[0..8].copy_from_slice(&e.ino.to_ne_bytes());
            rec[8..16].copy_from_slice(&d_off.to_ne_bytes());
            rec[16..18].copy_from_slice(&reclen16.to_ne_bytes());
            rec[18] = e.kind.dirent_type();
            if let Some(dst) = rec.get_mut(DIRENT_HEADER..DIRENT_HEADER + name.len()) {
                dst.copy_from_slice(name);
            }
            pos = end;
            *off = e.next_off;
        }
        Ok(pos)
    }

    /// Whether the file can back a file mapping: a regular file read through its
    /// inode (not a stream file).
    pub fn is_mappable(&self) -> bool {
        !self.is_path_only()
            && self.ops.is_none()
            && self
                .inode
                .as_ref()
                .is_some_and(|i| i.kind() == FileType::Regular)
    }

    /// Reads file contents at `off` for the page-fault path: no position, no
    /// IoCtx. Fills `buf` up to end of file; ENODEV unless [`is_mappable`].
    ///
    /// [`is_mappable`]: OpenFile::is_mappable
    pub fn read_backing(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        if !self.is_mappable() {
            return Err(Errno::ENODEV);
        }
        let inode = self.inode.as_ref().ok_or(Errno::ENODEV)?;
        let mut done = 0usize;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let pos = off.checked_add(done as u64).ok_or(Errno::EOVERFLOW)?;
            let n = inode.read_at(pos, rest)?;
            if n == 0 {
                break;
            }
            done = done.saturating_add(n);
        }
        Ok(done)
    }

    /// fstat(2).
    pub fn stat(&self) -> KResult<Metadata> {
        if let Some(i) = &self.inode {
            return i.metadata();
        }
        if let Some(m) = self.ops.as_ref().and_then(|o| o.stat()) {
            return Ok(m);
        }
        // An anonymous special file: a character device with no number.
        Ok(Metadata {
            dev: 0,
            ino: 0,
            mode: S_IFCHR | 0o600,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            blksize: 4096,
            blocks: 0,
            atime: Default::default(),
            mtime: Default::default(),
            ctime: Default::default(),
        })
    }

    /// Readiness for poll/select: regular files and directories are always ready.
    pub fn poll(&self, ctx: &mut dyn IoCtx) -> PollEvents {
        if self.is_path_only() {
            return PollEvents::POLLNVAL;
        }
        match &self.ops {
            Some(ops) => ops.poll(ctx),
            None => {
                PollEvents::POLLIN
                    | PollEvents::POLLOUT
                    | PollEvents::POLLRDNORM
                    | PollEvents::POLLWRNORM
            }
        }
    }

    /// ioctl(2) requests of the file itself (fd-level ones such as FIONBIO and
    /// FIOCLEX belong to the syscall layer).
    pub fn ioctl(&self, ctx: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        match &self.ops {
            Some(ops) => ops.ioctl(ctx, cmd, arg),
            None => Err(Errno::ENOTTY),
        }
    }

    /// ftruncate(2).
    pub fn truncate(&self, size: u64, ctx: &dyn IoCtx) -> KResult<()> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        if !self.writable() {
            return Err(Errno::EINVAL);
        }
        if let Some(i) = &self.inode {
            super::vfs::check_not_frozen(i.as_ref())?;
        }
        match &self.inode {
            Some(i) if i.kind() == FileType::Regular => {
                i.truncate(size, timespec_from_ns(ctx.now_real()))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// fsync(2) and fdatasync(2).
    pub fn fsync(&self) -> KResult<()> {
        if self.is_path_only() {
            return Err(Errno::EBADF);
        }
        match &self.inode {
            Some(i) => i.fsync(),
            None => Err(Errno::EINVAL),
        }
    }
}

/// open(2) and openat(2): resolves `path` from `start` and opens it.
///
/// `flags` carries the access mode in its low bits, as the syscall passes it.
/// O_CLOEXEC is the caller's business (it is an fd flag); O_TMPFILE is not
/// supported (EOPNOTSUPP).
pub fn open(
    vfs: &Vfs,
    cx: &FsCtx,
    start: &PathRef,
    path: &[u8],
    flags: OpenFlags,
    mode: u32,
) -> KResult<Arc<OpenFile>> {
    open_as(vfs, cx, start, path, flags, mode, None)?.ok_or(Errno::EAGAIN)
}

/// [`open`] for a thread that may wait: opening a FIFO without its partner
/// gives `Ok(None)` (the syscall layer parks the caller and calls again; see
/// [`fifo`](super::fifo)). With `fifo` `None` it never waits.
pub fn open_as(
    vfs: &Vfs,
    cx: &FsCtx,
    start: &PathRef,
    path: &[u8],
    flags: OpenFlags,
    mode: u32,
    fifo: Option<&FifoCaller<'_>>,
) -> KResult<Option<Arc<OpenFile>>> {
    let bits = flags.bits();
    if bits & O_TMPFILE_BIT != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let o_path = flags.contains(OpenFlags::O_PATH);
    let flags = if o_path {
        // O_PATH ignores everything but these.
        flags.intersection(
            OpenFlags::O_PATH
                | OpenFlags::O_DIRECTORY
                | OpenFlags::O_NOFOLLOW
                | OpenFlags::O_CLOEXEC,
        )
    } else {
        flags
    };
    let acc = flags.bits() & O_ACCMODE;
    let (readable, writable) = match acc {
        _ if o_path => (false, false),
        O_RDONLY => (true, false),
        O_WRONLY => (false, true),
        O_RDWR => (true, true),
        // Mode 3: neither, Linux's "ioctl only" access.
        _ => (false, false),
    };
    let follow = if flags.contains(OpenFlags::O_NOFOLLOW) {
        FollowLast::NoFollow
    } else {
        FollowLast::Follow
    };

    let mut created = false;
    let node = if flags.contains(OpenFlags::O_CREAT) {
        let mut p = vfs.resolve_parent(cx, start, path)?;
        let mut links = 0u32;
        loop {
            match p.dir.inode().lookup(&p.name) {
                Ok(inode) => {
                    if flags.contains(OpenFlags::O_EXCL) {
                        return Err(Errno::EEXIST);
                    }
                    if p.trailing_slash && inode.kind() != FileType::Directory {
                        return Err(Errno::EISDIR);
                    }
                    match (inode.kind(), follow) {
                        (FileType::Symlink, FollowLast::NoFollow) => return Err(Errno::ELOOP),
                        (FileType::Symlink, FollowLast::Follow) => {
                            // O_CREAT through a symlink creates its target when
                            // that is missing, as Linux's open_last_lookups.
                            links = links.saturating_add(1);
                            if links > super::path::MAX_SYMLINKS {
                                return Err(Errno::ELOOP);
                            }
                            let target = inode.readlink()?;
                            if target.is_empty() {
                                return Err(Errno::ENOENT);
                            }
                            p = vfs.resolve_parent(cx, &p.dir, &target)?;
                            continue;
                        }
                        _ => break vfs.resolve(cx, &p.dir, &p.name, follow)?,
                    }
                }
                Err(Errno::ENOENT) => {
                    if p.trailing_slash {
                        return Err(Errno::EISDIR);
                    }
                    let dmeta = p.dir.inode().metadata()?;
                    if !cx.cred.is_root() {
                        check_access(&dmeta, &cx.cred, Access::WRITE | Access::EXEC)?;
                    }
                    super::vfs::check_dir_flags(p.dir.inode().as_ref(), true)?;
                    let gid = if dmeta.mode & S_ISGID != 0 {
                        dmeta.gid
                    } else {
                        cx.cred.gid
                    };
                    let attr = NewNode {
                        kind: FileType::Regular,
                        perm: cx.new_perm(mode),
                        uid: cx.cred.uid,
                        gid,
                        rdev: 0,
                        now: cx.now,
                    };
                    let inode = p.dir.inode().create(&p.name, &attr)?;
                    created = true;
                    break vfs.child(&p.dir, &p.name, inode)?;
                }
                Err(e) => return Err(e),
            }
        }
    } else {
        vfs.resolve(cx, start, path, follow)?
    };

    let inode = node.inode().clone();
    let kind = inode.kind();
    if flags.contains(OpenFlags::O_DIRECTORY) && kind != FileType::Directory {
        return Err(if kind == FileType::Symlink {
            Errno::ELOOP
        } else {
            Errno::ENOTDIR
        });
    }
    if o_path {
        return Ok(Some(OpenFile::new(Some(inode), None, Some(node), flags)));
    }
    if kind == FileType::Symlink {
        return Err(Errno::ELOOP);
    }
    // O_TRUNC asks for write access (Linux's build_open_flags), so it too
    // gives EISDIR on a directory.
    if kind == FileType::Directory
        && (writable || flags.intersects(OpenFlags::O_CREAT | OpenFlags::O_TRUNC))
    {
        return Err(Errno::EISDIR);
    }
    // nodev: device nodes of a nodev mount do not open (procfs's fd links
    // carry their own file and are not device nodes of the mount).
    if matches!(kind, FileType::CharDevice | FileType::BlockDevice)
        && inode.file_ops().is_none()
        && vfs.mount_flags(node.mount_id()) & super::path::ms::NODEV != 0
    {
        return Err(Errno::EACCES);
    }
    if !created {
        // Immutable: no write access at all; append-only: writes only with
        // O_APPEND, never O_TRUNC (Linux's may_open).
        let f = inode.attr_flags().unwrap_or(0);
        let truncating = flags.contains(OpenFlags::O_TRUNC) && kind == FileType::Regular;
        if f & super::vfs::inode_flags::IMMUTABLE != 0 && (writable || truncating) {
            return Err(Errno::EPERM);
        }
        if f & super::vfs::inode_flags::APPEND != 0
            && ((writable && !flags.contains(OpenFlags::O_APPEND)) || truncating)
        {
            return Err(Errno::EPERM);
        }
        let mut want = Access::empty();
        if readable {
            want |= Access::READ;
        }
        if writable || (flags.contains(OpenFlags::O_TRUNC) && kind == FileType::Regular) {
            want |= Access::WRITE;
        }
        if !want.is_empty() {
            check_access(&inode.metadata()?, &cx.cred, want)?;
        }
    }
    let ops = match kind {
        FileType::Directory => None,
        FileType::Regular => inode.file_ops(),
        FileType::CharDevice => {
            let rdev = inode.metadata()?.rdev;
            Some(
                inode
                    .file_ops()
                    .or_else(|| vfs.chrdev(rdev))
                    .ok_or(Errno::ENXIO)?,
            )
        }
        FileType::Fifo if inode.file_ops().is_none() => {
            let meta = inode.metadata()?;
            let nonblock = flags.contains(OpenFlags::O_NONBLOCK);
            match vfs
                .fifos()
                .open((meta.dev, meta.ino), (readable, writable), nonblock, fifo)?
            {
                FifoOpen::Ready(ops) => Some(ops),
                FifoOpen::Wait => return Ok(None),
            }
        }
        _ => Some(inode.file_ops().ok_or(Errno::ENXIO)?),
    };
    // Linux truncates on O_TRUNC whatever the access mode (O_RDONLY|O_TRUNC
    // too); the write permission was checked above.
    if kind == FileType::Regular && ops.is_none() && flags.contains(OpenFlags::O_TRUNC) && !created
    {
        inode.truncate(0, cx.now)?;
    }
    Ok(Some(OpenFile::new(Some(inode), ops, Some(node), flags)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fs::tmpfs::TmpFs;
    use crate::fs::vfs::{Cred, SetAttr};
    use crate::host::{
        ConsoleRead, ConsoleStream, HostConsole, HostError, HostMisc, HostTime, LogLevel,
    };
    use alloc::string::String;
    use alloc::vec::Vec;
    use umbra_abi::structs::{Timespec, Winsize};

    /// A host for device tests: scripted stdin, captured stdout/stderr.
    #[derive(Default)]
    pub(crate) struct TestHost {
        pub stdin: Vec<u8>,
        pub stdin_eof: bool,
        pub stdout: Vec<u8>,
        pub stderr: Vec<u8>,
        pub tty: bool,
        pub now: u64,
        /// The host terminal hung up (with `stdin_eof`).
        pub hung_up: bool,
    }

    impl HostConsole for TestHost {
        fn console_write(
            &mut self,
            stream: ConsoleStream,
            data: &[u8],
        ) -> Result<usize, HostError> {
            match stream {
                ConsoleStream::Stderr => self.stderr.extend_from_slice(data),
                _ => self.stdout.extend_from_slice(data),
            }
            Ok(data.len())
        }
        fn console_read(&mut self, buf: &mut [u8]) -> Result<ConsoleRead, HostError> {
            if self.stdin.is_empty() {
                return Ok(if self.stdin_eof {
                    ConsoleRead::Eof
                } else {
                    ConsoleRead::WouldBlock
                });
            }
            let n = buf.len().min(self.stdin.len());
            buf[..n].copy_from_slice(&self.stdin[..n]);
            self.stdin.drain(..n);
            Ok(ConsoleRead::Data(n))
        }
        fn console_is_tty(&self, _stream: ConsoleStream) -> bool {
            self.tty
        }
        fn console_hung_up(&self) -> bool {
            self.hung_up
        }
        fn console_winsize(&self) -> Option<Winsize> {
            self.tty.then_some(Winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            })
        }
    }

    impl HostMisc for TestHost {
        fn random(&mut self, buf: &mut [u8]) {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(7).wrapping_add(1);
            }
        }
        fn log(&mut self, _level: LogLevel, _msg: core::fmt::Arguments<'_>) {}
    }

    impl HostTime for TestHost {
        fn now_mono(&self) -> u64 {
            self.now
        }
        fn now_real(&self) -> u64 {
            self.now
        }
        fn wait_event(&mut self, _deadline: Option<u64>) {}
    }

    fn setup() -> (Vfs, FsCtx) {
        let fs = TmpFs::new(1, Timespec::default());
        let vfs = Vfs::new(fs.root(), "tmpfs");
        (vfs, FsCtx::boot())
    }

    fn fl(acc: u32, f: OpenFlags) -> OpenFlags {
        OpenFlags::from_bits_retain(acc) | f
    }

    #[test]
    fn create_write_read_seek() {
        let (vfs, cx) = setup();
        let mut h = TestHost {
            now: 5_000_000_000,
            ..Default::default()
        };
        let root = vfs.root();
        let f = open(
            &vfs,
            &cx,
            &root,
            b"/f",
            fl(O_RDWR, OpenFlags::O_CREAT),
            0o666,
        )
        .unwrap();
        assert_eq!(f.stat().unwrap().mode, 0o100644);
        assert_eq!(f.write(&mut h, b"hello world").unwrap(), 11);
        assert_eq!(f.offset(), 11);
        assert_eq!(f.stat().unwrap().mtime.tv_sec, 5);
        assert_eq!(f.lseek(-5, SEEK_END).unwrap(), 6);
        let mut b = [0u8; 16];
        assert_eq!(f.read(&mut h, &mut b).unwrap(), 5);
        assert_eq!(&b[..5], b"world");
        assert_eq!(f.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(f.pread(&mut h, &mut b[..5], 0).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        assert_eq!(f.offset(), 11);
        assert_eq!(f.pwrite(&mut h, b"J", 0).unwrap(), 1);
        assert_eq!(f.lseek(-1, SEEK_SET), Err(Errno::EINVAL));
        assert_eq!(f.lseek(i64::MAX, SEEK_END), Err(Errno::EOVERFLOW));
        assert_eq!(f.lseek(3, SEEK_CUR).unwrap(), 14);
        assert_eq!(f.lseek(0, 9), Err(Errno::EINVAL));
        assert_eq!(f.lseek(2, SEEK_DATA).unwrap(), 2);
        assert_eq!(f.lseek(2, SEEK_HOLE).unwrap(), 11);
        assert_eq!(f.lseek(11, SEEK_DATA), Err(Errno::ENXIO));
        assert_eq!(f.getdents64(&mut b), Err(Errno::ENOTDIR));
        assert!(f.is_mappable());
        let mut page = [7u8; 16];
        assert_eq!(f.read_backing(6, &mut page).unwrap(), 5);
        assert_eq!(&page[..5], b"world");
        assert_eq!(f.read_backing(u64::MAX, &mut page).unwrap(), 0);

        // O_EXCL, O_TRUNC, O_APPEND.
        assert_eq!(
            open(
                &vfs,
                &cx,
                &root,
                b"/f",
                fl(O_RDWR, OpenFlags::O_CREAT | OpenFlags::O_EXCL),
                0o666
            )
            .map(|_| ()),
            Err(Errno::EEXIST)
        );
        let a = open(&vfs, &cx, &root, b"f", fl(O_WRONLY, OpenFlags::O_APPEND), 0).unwrap();
        assert_eq!(a.write(&mut h, b"!").unwrap(), 1);
        assert_eq!(a.offset(), 12);
        assert_eq!(a.read(&mut h, &mut b), Err(Errno::EBADF));
        let r = open(&vfs, &cx, &root, b"f", fl(O_RDONLY, OpenFlags::empty()), 0).unwrap();
        assert_eq!(r.write(&mut h, b"x"), Err(Errno::EBADF));
        assert_eq!(r.read(&mut h, &mut b).unwrap(), 12);
        assert_eq!(&b[..12], b"Jello world!");
        let t = open(&vfs, &cx, &root, b"f", fl(O_WRONLY, OpenFlags::O_TRUNC), 0).unwrap();
        assert_eq!(t.stat().unwrap().size, 0);
        // The first description keeps its position past the new end.
        assert_eq!(f.read(&mut h, &mut b).unwrap(), 0);
        t.set_status_flags(OpenFlags::O_NONBLOCK | OpenFlags::O_CREAT);
        assert!(t.is_nonblocking());
        assert_eq!(t.flags().bits() & O_ACCMODE, O_WRONLY);
        assert!(!t.flags().contains(OpenFlags::O_CREAT));
    }

    #[test]
    fn open_errors() {
        let (vfs, cx) = setup();
        let root = vfs.root();
        let attr = NewNode {
            kind: FileType::Directory,
            perm: 0o755,
            uid: 0,
            gid: 0,
            rdev: 0,
            now: Timespec::default(),
        };
        root.inode().create(b"d", &attr).unwrap();
        root.inode().symlink(b"l", b"d", &attr).unwrap();
        let none = OpenFlags::empty();
        let o = |p: &str, f: OpenFlags| open(&vfs, &cx, &root, p.as_bytes(), f, 0o644).map(|_| ());
        assert_eq!(o("/nope", none), Err(Errno::ENOENT));
        assert_eq!(o("/d", fl(O_WRONLY, none)), Err(Errno::EISDIR));
        assert_eq!(
            o("/d", fl(O_RDONLY, OpenFlags::O_CREAT)),
            Err(Errno::EISDIR)
        );
        assert_eq!(
            o("/new/", fl(O_RDWR, OpenFlags::O_CREAT)),
            Err(Errno::EISDIR)
        );
        assert_eq!(o("/l", OpenFlags::O_NOFOLLOW), Err(Errno::ELOOP));
        assert_eq!(
            o("/l", OpenFlags::O_NOFOLLOW | OpenFlags::O_CREAT),
            Err(Errno::ELOOP)
        );
        assert!(o("/l", OpenFlags::O_DIRECTORY).is_ok());
        assert!(o("/l", OpenFlags::O_PATH | OpenFlags::O_NOFOLLOW).is_ok());
        assert_eq!(
            o(
                "/x",
                OpenFlags::O_TMPFILE | OpenFlags::from_bits_retain(O_RDWR)
            ),
            Err(Errno::EOPNOTSUPP)
        );
        o("/file", fl(O_WRONLY, OpenFlags::O_CREAT)).unwrap();
        assert_eq!(o("/file", OpenFlags::O_DIRECTORY), Err(Errno::ENOTDIR));
        assert_eq!(o("/file/", none), Err(Errno::ENOTDIR));

        // Permissions for a non-root user, and the umask.
        let user = FsCtx {
            cred: Cred::user(1000, 1000),
            umask: 0o077,
            now: Timespec::default(),
            root: None,
        };
        assert_eq!(
            open(
                &vfs,
                &user,
                &root,
                b"/u",
                fl(O_RDWR, OpenFlags::O_CREAT),
                0o666
            )
            .map(|_| ()),
            Err(Errno::EACCES)
        );
        root.inode()
            .set_metadata(&SetAttr {
                perm: Some(0o1777),
                ..SetAttr::touch(Timespec::default())
            })
            .unwrap();
        let u = open(
            &vfs,
            &user,
            &root,
            b"/u",
            fl(O_RDWR, OpenFlags::O_CREAT),
            0o666,
        )
        .unwrap();
        let m = u.stat().unwrap();
        assert_eq!((m.mode, m.uid, m.gid), (0o100600, 1000, 1000));
        assert_eq!(
            open(&vfs, &user, &root, b"/file", fl(O_RDONLY, none), 0).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            open(&vfs, &user, &root, b"/file", fl(O_WRONLY, none), 0).map(|_| ()),
            Err(Errno::EACCES)
        );
        assert_eq!(
            open(&vfs, &cx, &root, b"/u", fl(O_RDWR, none), 0).map(|_| ()),
            Ok(()),
            "root bypasses permissions"
        );
    }

    #[test]
    fn o_path_files_do_no_io() {
        let (vfs, cx) = setup();
        let mut h = TestHost::default();
        let root = vfs.root();
        open(
            &vfs,
            &cx,
            &root,
            b"/f",
            fl(O_WRONLY, OpenFlags::O_CREAT),
            0o644,
        )
        .unwrap();
        let p = open(&vfs, &cx, &root, b"/f", fl(O_RDWR, OpenFlags::O_PATH), 0).unwrap();
        assert!(p.is_path_only());
        assert_eq!(p.read(&mut h, &mut [0u8; 4]), Err(Errno::EBADF));
        assert_eq!(p.write(&mut h, b"x"), Err(Errno::EBADF));
        assert_eq!(p.lseek(0, SEEK_SET), Err(Errno::EBADF));
        assert!(p.stat().is_ok());
        assert_eq!(p.path().unwrap().absolute_path(), b"/f");
    }

    fn parse_dirents(buf: &[u8]) -> Vec<(u64, i64, u8, String)> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let ino = u64::from_ne_bytes(buf[pos..pos + 8].try_into().unwrap());
            let off = i64::from_ne_bytes(buf[pos + 8..pos + 16].try_into().unwrap());
            let reclen = u16::from_ne_bytes(buf[pos + 16..pos + 18].try_into().unwrap()) as usize;
            assert_eq!(reclen % 8, 0);
            let ty = buf[pos + 18];
            let name = &buf[pos + 19..pos + reclen];
            let nul = name.iter().position(|&c| c == 0).unwrap();
            out.push((
                ino,
                off,
                ty,
                String::from_utf8(name[..nul].to_vec()).unwrap(),
            ));
            pos += reclen;
        }
        out
    }

    #[test]
    fn getdents64_layout_and_small_buffers() {
        let (vfs, cx) = setup();
        let root = vfs.root();
        for n in ["a", "bbbbbbbbbbbbbbbbbbbb"] {
            open(
                &vfs,
                &cx,
                &root,
                n.as_bytes(),
                fl(O_WRONLY, OpenFlags::O_CREAT),
                0o644,
            )
            .unwrap();
        }
        let d = open(&vfs, &cx, &root, b"/", OpenFlags::O_DIRECTORY, 0).unwrap();
        let mut buf = [0u8; 4096];
        let n = d.getdents64(&mut buf).unwrap();
        let ents = parse_dirents(&buf[..n]);
        let names: Vec<&str> = ents.iter().map(|e| e.3.as_str()).collect();
        assert_eq!(names, [".", "..", "a", "bbbbbbbbbbbbbbbbbbbb"]);
        // 19 + 2 ("." + NUL) rounds to 24; 19 + 21 rounds to 40.
        assert_eq!(n, 24 + 24 + 24 + 40);
        assert_eq!(ents[0].2, umbra_abi::flags::DT_DIR);
        assert_eq!(ents[2].2, umbra_abi::flags::DT_REG);
        assert_eq!(ents[0].0, root.inode().metadata().unwrap().ino);
        assert_eq!(d.getdents64(&mut buf).unwrap(), 0);

        // Re-reading from a d_off cursor, and a buffer that holds one record.
        assert_eq!(d.lseek(ents[1].1, SEEK_SET).unwrap() as i64, ents[1].1);
        let mut small = [0u8; 30];
        let n = d.getdents64(&mut small).unwrap();
        assert_eq!(parse_dirents(&small[..n])[0].3, "a");
        assert_eq!(d.getdents64(&mut small), Err(Errno::EINVAL));
        let mut big = [0u8; 40];
        let n = d.getdents64(&mut big).unwrap();
        assert_eq!(parse_dirents(&big[..n])[0].3, "bbbbbbbbbbbbbbbbbbbb");
        assert_eq!(d.getdents64(&mut []), Ok(0));
    }
}
