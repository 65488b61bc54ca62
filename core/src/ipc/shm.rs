//! System V shared memory segments (shmget, shmctl; shmat and shmdt map and
//! unmap them in `syscall::ipc`). A segment's pages are a [`SharedMem`]
//! object, the same object MAP_SHARED|MAP_ANONYMOUS uses: an attach is a VMA
//! of the object, so fork shares it (never copied) and exec and exit drop it
//! with the address space.
//!
//! The attach count is the number of VMAs that hold the object (each VMA
//! holds one reference and the table one), which is Linux's count too: fork
//! and a split of an attached area each count, as `shm_open` counts them.
//! IPC_RMID marks the segment (SHM_DEST, key IPC_PRIVATE) and it goes when
//! the count reaches zero; the table notices that in [`ShmNs::reap`], which
//! every shm call, exit and exec run first.

use super::{lookup, put_int, put_long, put_time, Caller, Perm, Table, IPC_PRIVATE};
use crate::config::PAGE_SIZE;
use crate::error::{Errno, KResult};
use crate::mm::{FrameAllocator, SharedMem};
use crate::syscall::uabi::Long;
use alloc::sync::Arc;
use alloc::vec::Vec;

pub const SHM_HUGETLB: u32 = 0o4000;
pub const SHM_NORESERVE: u32 = 0o10000;
pub const SHM_RDONLY: u32 = 0o10000;
pub const SHM_RND: u32 = 0o20000;
pub const SHM_REMAP: u32 = 0o40000;
pub const SHM_EXEC: u32 = 0o100000;
pub const SHM_LOCK: u32 = 11;
pub const SHM_UNLOCK: u32 = 12;
pub const SHM_STAT: u32 = 13;
pub const SHM_INFO: u32 = 14;
pub const SHM_STAT_ANY: u32 = 15;
/// Mode bits: marked for removal, locked in memory.
pub const SHM_DEST: u32 = 0o1000;
pub const SHM_LOCKED: u32 = 0o2000;

/// Linux's defaults (include/uapi/linux/shm.h).
pub const SHMMIN: u64 = 1;
pub const SHMMNI: u32 = 4096;
/// SHMMAX and SHMALL: ULONG_MAX - 2^24 (bytes and pages).
pub fn shmmax(w: Long) -> u64 {
    match w {
        Long::W32 => u32::MAX as u64 - (1 << 24),
        Long::W64 => u64::MAX - (1 << 24),
    }
}

/// SHMLBA: the attach address alignment (4 pages on 32-bit ARM, whose
/// caches alias; a page elsewhere).
pub const SHMLBA: u64 = if cfg!(target_arch = "arm") {
    4 * PAGE_SIZE as u64
} else {
    PAGE_SIZE as u64
};

/// A segment.
pub struct Segment {
    pub obj: Arc<SharedMem>,
    pub size: u64,
    pub atime: u64,
    pub dtime: u64,
    pub ctime: u64,
    pub cpid: u32,
    pub lpid: u32,
}

impl Segment {
    /// Attaches: the VMAs holding the object.
    pub fn nattch(&self) -> u64 {
        Arc::strong_count(&self.obj).saturating_sub(1) as u64
    }

    fn pages(&self) -> u64 {
        self.size.div_ceil(PAGE_SIZE as u64)
    }
}

/// The segments.
pub struct ShmNs {
    pub table: Table<Segment>,
    /// Pages of all segments (shm_tot).
    tot: u64,
}

impl ShmNs {
    pub fn new() -> Self {
        ShmNs {
            table: Table::new(SHMMNI),
            tot: 0,
        }
    }

    /// Drops the segments marked for removal that nothing attaches.
    pub fn reap(&mut self) {
        let dead: Vec<i32> = self
            .table
            .iter()
            .filter(|(_, (p, s))| p.mode & SHM_DEST != 0 && s.nattch() == 0)
            .map(|(id, _)| id)
            .collect();
        for id in dead {
            self.destroy(id);
        }
    }

    fn destroy(&mut self, id: i32) {
        if let Some((_, s)) = self.table.remove(id) {
            self.tot = self.tot.saturating_sub(s.pages());
        }
    }

    /// shmget(2).
    pub fn get(
        &mut self,
        frames: &FrameAllocator,
        key: i32,
        size: u64,
        flags: u32,
        c: &Caller,
        w: Long,
    ) -> KResult<i32> {
        self.reap();
        let found = lookup(&self.table, key, flags, c, |s: &Segment| {
            if s.size < size {
                Err(Errno::EINVAL)
            } else {
                Ok(())
            }
        })?;
        if let Some(id) = found {
            return Ok(id);
        }
        if flags & SHM_HUGETLB != 0 {
            // No huge pages are reserved (Linux's answer then).
            return Err(Errno::ENOMEM);
        }
        if size < SHMMIN || size > shmmax(w) {
            return Err(Errno::EINVAL);
        }
        let pages = size.div_ceil(PAGE_SIZE as u64);
        match self.tot.checked_add(pages) {
            Some(t) if t <= shmmax(w) => {}
            _ => return Err(Errno::ENOSPC),
        }
        let seg = Segment {
            obj: SharedMem::new(frames, pages * PAGE_SIZE as u64),
            size,
            atime: 0,
            dtime: 0,
            ctime: c.now,
            cpid: c.pid,
            lpid: 0,
        };
        let id = self.table.insert(Perm::new(key, flags, c), seg)?;
        self.tot += pages;
        Ok(id)
    }

    /// The segment shmat may attach: its object and size. `flag` is the
    /// access asked for (0o444, plus 0o222 unless SHM_RDONLY, 0o111 with
    /// SHM_EXEC).
    pub fn for_attach(&self, id: i32, flag: u32, c: &Caller) -> KResult<(Arc<SharedMem>, u64)> {
        let (perm, seg) = self.table.get(id)?;
        perm.check(c, flag)?;
        Ok((seg.obj.clone(), seg.size))
    }

    /// Notes an attach or detach by `c` of the segment with object `obj`.
    pub fn touch(&mut self, obj: &Arc<SharedMem>, c: &Caller, attach: bool) {
        if let Some((_, (_, s))) = self
            .table
            .iter_mut()
            .find(|(_, (_, s))| Arc::ptr_eq(&s.obj, obj))
        {
            if attach {
                s.atime = c.now;
            } else {
                s.dtime = c.now;
            }
            s.lpid = c.pid;
        }
    }

    /// Notes a detach by `c` (its exit or exec) of every segment whose
    /// object's address is in `objs`.
    /// `objs` is sorted.
    pub fn detached(&mut self, objs: &[usize], c: &Caller) {
        for (_, (_, s)) in self.table.iter_mut() {
            if objs.binary_search(&(Arc::as_ptr(&s.obj) as usize)).is_ok() {
                s.dtime = c.now;
                s.lpid = c.pid;
            }
        }
    }

    /// The size of the segment whose object is `obj`, if it is one.
    pub fn size_of(&self, obj: &Arc<SharedMem>) -> Option<u64> {
        self.table
            .iter()
            .find(|(_, (_, s))| Arc::ptr_eq(&s.obj, obj))
            .map(|(_, (_, s))| s.size)
    }

    /// IPC_RMID: marks the segment; it goes at once if nothing attaches.
    pub fn remove(&mut self, id: i32, c: &Caller) -> KResult<()> {
        let (perm, seg) = self.table.get_mut(id)?;
        perm.may_change(c)?;
        perm.mode |= SHM_DEST;
        perm.key = IPC_PRIVATE;
        if seg.nattch() == 0 {
            self.destroy(id);
        }
        Ok(())
    }

    /// IPC_SET with the shmid64_ds bytes `buf`.
    pub fn set(&mut self, id: i32, buf: &[u8], c: &Caller) -> KResult<()> {
        let (perm, seg) = self.table.get_mut(id)?;
        perm.may_change(c)?;
        let (uid, gid, mode) = Perm::decode_set(buf);
        perm.set(uid, gid, mode);
        seg.ctime = c.now;
        Ok(())
    }

    /// SHM_LOCK and SHM_UNLOCK. umbra never swaps, so a segment's pages stay
    /// in memory either way; the flag is what shm_perm.mode shows. The
    /// checks are Linux's: CAP_IPC_LOCK, or the owner with a non-zero
    /// RLIMIT_MEMLOCK (`memlock`).
    pub fn lock(&mut self, id: i32, lock: bool, memlock: u64, c: &Caller) -> KResult<()> {
        let (perm, _) = self.table.get_mut(id)?;
        if !c.capable(super::CAP_IPC_LOCK) {
            if c.euid != perm.uid && c.euid != perm.cuid {
                return Err(Errno::EPERM);
            }
            if lock && memlock == 0 {
                return Err(Errno::EPERM);
            }
        }
        if lock {
            perm.mode |= SHM_LOCKED;
        } else {
            perm.mode &= !SHM_LOCKED;
        }
        Ok(())
    }

    /// `struct shmid64_ds` of segment `id` (IPC_STAT; the caller checked
    /// the access).
    pub fn stat(&self, id: i32, w: Long) -> KResult<Vec<u8>> {
        let (perm, s) = self.table.get(id)?;
        Ok(encode_shmid(perm, s, w))
    }

    /// IPC_INFO: `struct shminfo64`.
    pub fn info(w: Long) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [shmmax(w), SHMMIN, SHMMNI as u64, SHMMNI as u64, shmmax(w)] {
            put_long(&mut b, v, w);
        }
        for _ in 0..4 {
            put_long(&mut b, 0, w);
        }
        b
    }

    /// SHM_INFO: `struct shm_info`.
    pub fn shm_info(&self, w: Long) -> Vec<u8> {
        let mut b = Vec::new();
        put_int(&mut b, self.table.len() as u32);
        if w == Long::W64 {
            put_int(&mut b, 0);
        }
        let rss: u64 = self
            .table
            .iter()
            .map(|(_, (_, s))| s.obj.resident_pages() as u64)
            .sum();
        for v in [self.tot, rss, 0, 0, 0] {
            put_long(&mut b, v, w);
        }
        b
    }

    /// /proc/sysvipc/shm.
    pub fn proc_text(&self) -> Vec<u8> {
        // Sizes are as wide as an unsigned long prints (SIZE_SPEC).
        let z = if cfg!(target_pointer_width = "32") {
            10
        } else {
            21
        };
        let mut t = alloc::format!(
            "       key      shmid perms {:>z$}  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime {:>z$} {:>z$}\n",
            "size",
            "rss",
            "swap"
        );
        // A removed segment nothing attaches is gone (reaped at the next call).
        let live = self
            .table
            .iter()
            .filter(|(_, (p, s))| p.mode & SHM_DEST == 0 || s.nattch() > 0);
        for (id, (p, s)) in live {
            let _ = core::fmt::write(
                &mut t,
                format_args!(
                    "{:10} {:10}  {:4o} {:z$} {:5} {:5}  {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10} {:z$} {:z$}\n",
                    p.key,
                    id,
                    p.mode & 0o7777,
                    s.size,
                    s.cpid,
                    s.lpid,
                    s.nattch(),
                    p.uid,
                    p.gid,
                    p.cuid,
                    p.cgid,
                    s.atime,
                    s.dtime,
                    s.ctime,
                    s.obj.resident_pages() * PAGE_SIZE,
                    0
                ),
            );
        }
        t.into_bytes()
    }
}

impl Default for ShmNs {
    fn default() -> Self {
        Self::new()
    }
}

/// `struct shmid64_ds`.
pub fn encode_shmid(perm: &Perm, s: &Segment, w: Long) -> Vec<u8> {
    let mut b = perm.encode(w);
    put_long(&mut b, s.size, w);
    for t in [s.atime, s.dtime, s.ctime] {
        put_time(&mut b, t, w);
    }
    put_int(&mut b, s.cpid);
    put_int(&mut b, s.lpid);
    for v in [s.nattch(), 0, 0] {
        put_long(&mut b, v, w);
    }
    b
}
