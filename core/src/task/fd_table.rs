//! A process's file descriptor table: small integers mapping to shared open file
//! descriptions ([`OpenFile`]) plus the per-descriptor FD_CLOEXEC flag.
//!
//! Allocation always takes the lowest free number (POSIX requires it, and shells
//! rely on it for redirections). The table is bounded by RLIMIT_NOFILE: EMFILE
//! when full, EBADF for numbers at or past the limit in dup2. Descriptors arrive as
//! the guest's `int`; negative values are EBADF everywhere.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use bitflags::bitflags;
use spin::Mutex;

use crate::error::{Errno, KResult};
use crate::fs::file::OpenFile;
use crate::fs::procfs::FdSource;

bitflags! {
    /// Per-descriptor flags (F_GETFD/F_SETFD).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct FdFlags: u32 {
        const CLOEXEC = 1;
    }
}

type Slots = Vec<Option<(Arc<OpenFile>, FdFlags)>>;

/// The fd table of one process. The slots sit behind a shared lock so that
/// procfs reads the table itself, never a copy: /proc/PID/fd and /dev/fd
/// see every open and close the moment it happens (see fs/procfs.rs).
/// Cloning (fork) copies the slots into a new, independent table.
#[derive(Debug)]
pub struct FdTable {
    slots: Arc<Mutex<Slots>>,
    limit: usize,
}

impl Clone for FdTable {
    fn clone(&self) -> FdTable {
        FdTable {
            slots: Arc::new(Mutex::new(self.slots.lock().clone())),
            limit: self.limit,
        }
    }
}

fn index(fd: i32) -> KResult<usize> {
    usize::try_from(fd).map_err(|_| Errno::EBADF)
}

fn to_fd(i: usize) -> KResult<i32> {
    i32::try_from(i).map_err(|_| Errno::EMFILE)
}

fn put(slots: &mut Slots, i: usize, file: Arc<OpenFile>, flags: FdFlags) -> KResult<()> {
    if i >= slots.len() {
        let extra = i - slots.len() + 1;
        slots.try_reserve(extra).map_err(|_| Errno::ENOMEM)?;
        slots.resize(i + 1, None);
    }
    if let Some(s) = slots.get_mut(i) {
        *s = Some((file, flags));
    }
    Ok(())
}

fn trim(slots: &mut Slots) {
    while matches!(slots.last(), Some(None)) {
        slots.pop();
    }
}

fn entry(slots: &Slots, fd: i32) -> KResult<(Arc<OpenFile>, FdFlags)> {
    slots
        .get(index(fd)?)
        .and_then(|s| s.clone())
        .ok_or(Errno::EBADF)
}

impl FdSource for Mutex<Slots> {
    fn fd(&self, fd: i32) -> Option<(Arc<OpenFile>, bool)> {
        entry(&self.lock(), fd)
            .ok()
            .map(|(f, fl)| (f, fl.contains(FdFlags::CLOEXEC)))
    }

    fn fds(&self) -> Vec<(i32, Arc<OpenFile>)> {
        listing(&self.lock())
    }
}

fn listing(slots: &Slots) -> Vec<(i32, Arc<OpenFile>)> {
    slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|(f, _)| (i as i32, f.clone())))
        .collect()
}

impl FdTable {
    /// An empty table allowing descriptors `0..limit`.
    pub fn new(limit: usize) -> FdTable {
        FdTable {
            slots: Arc::default(),
            limit: limit.min(i32::MAX as usize),
        }
    }

    /// The handle procfs reads the table through; weak, so a table whose
    /// process is gone closes its files.
    pub fn live(&self) -> Weak<dyn FdSource> {
        let weak: Weak<Mutex<Slots>> = Arc::downgrade(&self.slots);
        weak
    }

    /// The limit (RLIMIT_NOFILE).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the limit; open descriptors at or past it stay open, as on Linux.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(i32::MAX as usize);
    }

    /// Installs `file` at the lowest free descriptor ≥ `min` (F_DUPFD's rule).
    pub fn alloc(&mut self, file: Arc<OpenFile>, min: i32, flags: FdFlags) -> KResult<i32> {
        let min = usize::try_from(min).map_err(|_| Errno::EINVAL)?;
        if min >= self.limit {
            return Err(Errno::EMFILE);
        }
        let mut slots = self.slots.lock();
        let free = slots
            .iter()
            .enumerate()
            .skip(min)
            .find(|(_, s)| s.is_none())
            .map(|(i, _)| i);
        let i = match free {
            Some(i) => i,
            None => slots.len().max(min),
        };
        if i >= self.limit {
            return Err(Errno::EMFILE);
        }
        put(&mut slots, i, file, flags)?;
        to_fd(i)
    }

    /// The open file behind `fd` (EBADF).
    pub fn get(&self, fd: i32) -> KResult<Arc<OpenFile>> {
        entry(&self.slots.lock(), fd).map(|(f, _)| f)
    }

    /// Closes `fd`, returning the description so the caller can drop it outside
    /// its locks (the last close may do work).
    pub fn close(&mut self, fd: i32) -> KResult<Arc<OpenFile>> {
        let mut slots = self.slots.lock();
        let slot = slots.get_mut(index(fd)?).ok_or(Errno::EBADF)?;
        let (file, _) = slot.take().ok_or(Errno::EBADF)?;
        trim(&mut slots);
        Ok(file)
    }

    /// dup(2): the lowest free descriptor, FD_CLOEXEC clear.
    pub fn dup(&mut self, fd: i32) -> KResult<i32> {
        let f = self.get(fd)?;
        self.alloc(f, 0, FdFlags::empty())
    }

    /// fcntl F_DUPFD / F_DUPFD_CLOEXEC.
    pub fn dup_min(&mut self, fd: i32, min: i32, flags: FdFlags) -> KResult<i32> {
        let f = self.get(fd)?;
        self.alloc(f, min, flags)
    }

    /// dup2(2): `new` refers to `old`'s description, closing what it held; the
    /// same number is returned unchanged (after checking `old` is open). Returns
    /// the replaced description, if any, for the caller to drop.
    pub fn dup2(&mut self, old: i32, new: i32) -> KResult<(i32, Option<Arc<OpenFile>>)> {
        let f = self.get(old)?;
        if old == new {
            return Ok((new, None));
        }
        self.install(new, f, FdFlags::empty())
    }

    /// dup3(2): as dup2 but EINVAL when the numbers are equal, and with flags.
    pub fn dup3(
        &mut self,
        old: i32,
        new: i32,
        flags: FdFlags,
    ) -> KResult<(i32, Option<Arc<OpenFile>>)> {
        if old == new {
            return Err(Errno::EINVAL);
        }
        let f = self.get(old)?;
        self.install(new, f, flags)
    }

    fn install(
        &mut self,
        new: i32,
        f: Arc<OpenFile>,
        flags: FdFlags,
    ) -> KResult<(i32, Option<Arc<OpenFile>>)> {
        let i = index(new)?;
        if i >= self.limit {
            return Err(Errno::EBADF);
        }
        let mut slots = self.slots.lock();
        let old = slots.get_mut(i).and_then(|s| s.take()).map(|(f, _)| f);
        put(&mut slots, i, f, flags)?;
        Ok((new, old))
    }

    /// F_GETFD.
    pub fn flags(&self, fd: i32) -> KResult<FdFlags> {
        entry(&self.slots.lock(), fd).map(|(_, fl)| fl)
    }

    /// F_SETFD.
    pub fn set_flags(&mut self, fd: i32, flags: FdFlags) -> KResult<()> {
        let mut slots = self.slots.lock();
        let slot = slots
            .get_mut(index(fd)?)
            .and_then(|s| s.as_mut())
            .ok_or(Errno::EBADF)?;
        slot.1 = flags;
        Ok(())
    }

    /// At exec: closes every FD_CLOEXEC descriptor; returns the closed files.
    pub fn close_on_exec(&mut self) -> Vec<Arc<OpenFile>> {
        let mut slots = self.slots.lock();
        let mut closed = Vec::new();
        for s in slots.iter_mut() {
            if matches!(s, Some((_, fl)) if fl.contains(FdFlags::CLOEXEC)) {
                if let Some((f, _)) = s.take() {
                    closed.push(f);
                }
            }
        }
        trim(&mut slots);
        closed
    }

    /// Open descriptors in increasing order (for /proc/self/fd and close_range).
    pub fn fds(&self) -> impl Iterator<Item = (i32, Arc<OpenFile>)> {
        listing(&self.slots.lock()).into_iter()
    }

    /// Number of open descriptors.
    pub fn count(&self) -> usize {
        self.slots.lock().iter().filter(|s| s.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::devfs::Null;
    use umbra_abi::flags::OpenFlags;

    fn file() -> Arc<OpenFile> {
        OpenFile::from_ops(Arc::new(Null), OpenFlags::from_bits_retain(2))
    }

    #[test]
    fn lowest_free_and_limit() {
        let mut t = FdTable::new(4);
        let f = file();
        assert_eq!(t.alloc(f.clone(), 0, FdFlags::empty()), Ok(0));
        assert_eq!(t.alloc(f.clone(), 0, FdFlags::empty()), Ok(1));
        assert_eq!(t.alloc(f.clone(), 3, FdFlags::empty()), Ok(3));
        assert_eq!(t.alloc(f.clone(), 0, FdFlags::empty()), Ok(2));
        assert_eq!(t.alloc(f.clone(), 0, FdFlags::empty()), Err(Errno::EMFILE));
        assert_eq!(t.alloc(f.clone(), 4, FdFlags::empty()), Err(Errno::EMFILE));
        assert_eq!(t.alloc(f.clone(), -1, FdFlags::empty()), Err(Errno::EINVAL));
        assert!(Arc::ptr_eq(&t.close(1).unwrap(), &f));
        assert_eq!(t.close(1).map(|_| ()), Err(Errno::EBADF));
        assert_eq!(t.close(-1).map(|_| ()), Err(Errno::EBADF));
        assert_eq!(t.close(1000).map(|_| ()), Err(Errno::EBADF));
        assert_eq!(t.dup(0), Ok(1));
        assert_eq!(t.get(7).map(|_| ()), Err(Errno::EBADF));
        assert_eq!(t.count(), 4);
        assert_eq!(t.fds().map(|(fd, _)| fd).collect::<Vec<_>>(), [0, 1, 2, 3]);
    }

    #[test]
    fn dup2_dup3_and_cloexec() {
        let mut t = FdTable::new(16);
        let a = file();
        let b = file();
        t.alloc(a.clone(), 0, FdFlags::empty()).unwrap();
        t.alloc(b.clone(), 0, FdFlags::CLOEXEC).unwrap();
        assert_eq!(t.dup2(0, 0).map(|r| r.0), Ok(0));
        assert_eq!(t.dup2(5, 5).map(|r| r.0), Err(Errno::EBADF));
        assert_eq!(
            t.dup3(0, 0, FdFlags::empty()).map(|r| r.0),
            Err(Errno::EINVAL)
        );
        let (fd, old) = t.dup2(0, 1).unwrap();
        assert_eq!(fd, 1);
        assert!(Arc::ptr_eq(&old.unwrap(), &b));
        assert!(Arc::ptr_eq(&t.get(1).unwrap(), &a));
        assert_eq!(t.flags(1), Ok(FdFlags::empty()));
        assert_eq!(t.dup2(0, 16).map(|r| r.0), Err(Errno::EBADF));
        assert_eq!(t.dup2(0, -1).map(|r| r.0), Err(Errno::EBADF));
        let (fd, old) = t.dup3(0, 9, FdFlags::CLOEXEC).unwrap();
        assert_eq!((fd, old.is_none()), (9, true));
        assert_eq!(t.flags(9), Ok(FdFlags::CLOEXEC));
        t.set_flags(1, FdFlags::CLOEXEC).unwrap();
        assert_eq!(t.set_flags(3, FdFlags::CLOEXEC), Err(Errno::EBADF));
        assert_eq!(t.dup_min(0, 5, FdFlags::CLOEXEC), Ok(5));

        let child = t.clone();
        let closed = t.close_on_exec();
        assert_eq!(closed.len(), 3);
        assert_eq!(t.fds().map(|(fd, _)| fd).collect::<Vec<_>>(), [0]);
        // The fork copy is independent.
        assert_eq!(child.count(), 4);
    }

    #[test]
    fn live_handle_sees_changes_and_does_not_keep_files() {
        let mut t = FdTable::new(16);
        let live = t.live();
        let a = file();
        t.alloc(a.clone(), 0, FdFlags::CLOEXEC).unwrap();
        let src = live.upgrade().unwrap();
        assert!(matches!(src.fd(0), Some((f, true)) if Arc::ptr_eq(&f, &a)));
        assert_eq!(src.fds().len(), 1);
        t.close(0).unwrap();
        assert!(src.fd(0).is_none(), "a close is seen at once");
        drop(src);
        let child = t.clone();
        drop(t);
        assert!(live.upgrade().is_none(), "the handle dies with the table");
        drop(child);
    }
}
