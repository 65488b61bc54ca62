//! Inter-process communication objects: System V shared memory, semaphore
//! sets and message queues, and POSIX message queues. All of it lives in one
//! [`IpcNs`] held by the kernel (Linux's `ipc_namespace`); the syscall layer
//! (`syscall::ipc`, `syscall::mqueue`) decodes arguments and calls in here.
//!
//! The System V objects share Linux's identifier scheme (`seq * 32768 +
//! index`, the lowest free index), the `ipc64_perm` permission record and
//! its checks (ipcperms: owner, group, other bits; CAP_IPC_OWNER overrides;
//! IPC_SET and IPC_RMID need the owner, the creator or CAP_SYS_ADMIN).
//!
//! Every table is bounded. The limits reported by IPC_INFO are Linux's
//! defaults (what /proc/sys/kernel/{shm*,sem,msg*} show on a fresh system);
//! the kernel heap also bounds the semaphores and queued message bytes of
//! the whole namespace well below those (ENOSPC and ENOMEM beyond, as Linux
//! gives when its memory runs out), so no guest can exhaust umbra's heap.

pub mod mqueue;
pub mod msg;
pub mod sem;
pub mod shm;

use crate::error::{Errno, KResult};
use crate::syscall::uabi::Long;
use alloc::vec::Vec;

/// The private key: always a new object.
pub const IPC_PRIVATE: i32 = 0;
pub const IPC_CREAT: u32 = 0o1000;
pub const IPC_EXCL: u32 = 0o2000;
pub const IPC_NOWAIT: u32 = 0o4000;
pub const IPC_RMID: u32 = 0;
pub const IPC_SET: u32 = 1;
pub const IPC_STAT: u32 = 2;
pub const IPC_INFO: u32 = 3;
/// The flag of the 64-bit structure layouts in a ctl command.
pub const IPC_64: u32 = 0x100;

/// Capabilities the checks use.
pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_IPC_OWNER: u32 = 15;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_RESOURCE: u32 = 24;

/// Index bits of an identifier (IPCMNI_SHIFT).
const IDX_SHIFT: u32 = 15;
/// Largest sequence number (INT_MAX >> IPCMNI_SHIFT).
const SEQ_MAX: u32 = (i32::MAX as u32) >> IDX_SHIFT;

/// Who makes a call, and when: what the permission checks and the records
/// of pids and times need.
#[derive(Clone, Debug)]
pub struct Caller {
    pub pid: u32,
    pub uid: u32,
    pub euid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
    /// Effective capabilities, one bit each.
    pub caps: u64,
    /// CLOCK_REALTIME, seconds.
    pub now: u64,
}

impl Caller {
    pub fn capable(&self, cap: u32) -> bool {
        self.caps & (1u64 << cap) != 0
    }

    fn in_group(&self, gid: u32) -> bool {
        self.egid == gid || self.groups.contains(&gid)
    }
}

/// `struct kern_ipc_perm`: key, owner, creator and mode. The mode's high
/// bits carry SHM_DEST and SHM_LOCKED for segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u32,
}

impl Perm {
    /// The record of a new object made by `c` with the permission bits of
    /// `flags`.
    pub fn new(key: i32, flags: u32, c: &Caller) -> Perm {
        Perm {
            key,
            uid: c.euid,
            gid: c.egid,
            cuid: c.euid,
            cgid: c.egid,
            mode: flags & 0o777,
            seq: 0,
        }
    }

    /// ipcperms(): whether `c` may access with the rwx bits of `flag`
    /// (any of the three triads asks for that access); EACCES if not.
    pub fn check(&self, c: &Caller, flag: u32) -> KResult<()> {
        let requested = (flag >> 6) | (flag >> 3) | flag;
        let mut granted = self.mode;
        if c.euid == self.cuid || c.euid == self.uid {
            granted >>= 6;
        } else if c.in_group(self.cgid) || c.in_group(self.gid) {
            granted >>= 3;
        }
        if requested & !granted & 0o7 != 0 && !c.capable(CAP_IPC_OWNER) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// Whether `c` may change or remove the object (IPC_SET, IPC_RMID):
    /// its owner, its creator or CAP_SYS_ADMIN; EPERM if not.
    pub fn may_change(&self, c: &Caller) -> KResult<()> {
        if c.euid == self.cuid || c.euid == self.uid || c.capable(CAP_SYS_ADMIN) {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    /// IPC_SET: the new owner and permission bits.
    pub fn set(&mut self, uid: u32, gid: u32, mode: u32) {
        self.uid = uid;
        self.gid = gid;
        self.mode = (self.mode & !0o777) | (mode & 0o777);
    }

    /// `struct ipc64_perm` for a guest whose `long` is `w` (36 or 48 bytes).
    pub fn encode(&self, w: Long) -> Vec<u8> {
        let mut b = Vec::with_capacity(48);
        for v in [
            self.key as u32,
            self.uid,
            self.gid,
            self.cuid,
            self.cgid,
            self.mode,
        ] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b.extend_from_slice(&(self.seq as u16).to_ne_bytes());
        b.extend_from_slice(&[0, 0]);
        if w == Long::W64 {
            b.extend_from_slice(&[0; 4]);
        }
        b.extend_from_slice(&alloc::vec![0; 2 * w.bytes()]);
        b
    }

    /// Bytes of `struct ipc64_perm`.
    pub fn size(w: Long) -> usize {
        match w {
            Long::W32 => 36,
            Long::W64 => 48,
        }
    }

    /// The uid, gid and mode an IPC_SET buffer holds (its ipc64_perm).
    pub fn decode_set(b: &[u8]) -> (u32, u32, u32) {
        let u = |o: usize| {
            b.get(o..o + 4)
                .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        };
        (u(4), u(8), u(20) & 0xffff)
    }
}

/// Appends `v` as a C `long` of width `w`.
pub fn put_long(b: &mut Vec<u8>, v: u64, w: Long) {
    match w {
        Long::W32 => b.extend_from_slice(&(v as u32).to_ne_bytes()),
        Long::W64 => b.extend_from_slice(&v.to_ne_bytes()),
    }
}

/// Appends a C `int`.
pub fn put_int(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_ne_bytes());
}

/// Appends a time field: a `long` on 64-bit guests, the low and high words
/// of it on 32-bit ones (the `*_high` fields of the 32-bit structures).
pub fn put_time(b: &mut Vec<u8>, v: u64, w: Long) {
    put_long(b, v, w);
    if w == Long::W32 {
        put_long(b, v >> 32, w);
    }
}

/// One kind of System V object: identifiers by index, with Linux's
/// sequence numbers so that an old identifier does not name a new object.
///
/// The objects sit in a vector indexed by their index, as in Linux's idr:
/// lookups are O(1); taking the lowest free index scans the slots, O(n)
/// with n at most the table's `max` (SHMMNI, SEM_ARRAYS_MAX,
/// MSG_QUEUES_MAX: 4096 at most), and only the get calls that create do it.
pub struct Table<T> {
    /// Slot `i` holds the object of index `i`; no trailing empty slots.
    slots: Vec<Option<(Perm, T)>>,
    /// Objects in use (the slots that are `Some`).
    used: usize,
    seq: u32,
    max: u32,
}

impl<T> Table<T> {
    /// An empty table of at most `max` objects.
    pub fn new(max: u32) -> Self {
        Table {
            slots: Vec::new(),
            used: 0,
            seq: 0,
            max,
        }
    }

    /// The identifier of the object with `key` (never IPC_PRIVATE).
    pub fn find_key(&self, key: i32) -> Option<i32> {
        if key == IPC_PRIVATE {
            return None;
        }
        self.iter()
            .find(|(_, (p, _))| p.key == key)
            .map(|(id, _)| id)
    }

    fn id_of(idx: u32, seq: u32) -> i32 {
        ((seq << IDX_SHIFT) | idx) as i32
    }

    fn split(id: i32) -> KResult<(u32, u32)> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        let id = id as u32;
        Ok((id & ((1 << IDX_SHIFT) - 1), id >> IDX_SHIFT))
    }

    /// The object at index `idx`, if any.
    fn slot(&self, idx: u32) -> Option<&(Perm, T)> {
        self.slots.get(idx as usize)?.as_ref()
    }

    /// The object `id` names; EINVAL if none.
    pub fn get(&self, id: i32) -> KResult<&(Perm, T)> {
        let (idx, seq) = Self::split(id)?;
        self.slot(idx)
            .filter(|(p, _)| p.seq == seq)
            .ok_or(Errno::EINVAL)
    }

    /// The object `id` names, mutable; EINVAL if none.
    pub fn get_mut(&mut self, id: i32) -> KResult<&mut (Perm, T)> {
        let (idx, seq) = Self::split(id)?;
        self.slots
            .get_mut(idx as usize)
            .and_then(|s| s.as_mut())
            .filter(|(p, _)| p.seq == seq)
            .ok_or(Errno::EINVAL)
    }

    /// Whether `id` names a live object.
    pub fn contains(&self, id: i32) -> bool {
        self.get(id).is_ok()
    }

    /// Adds an object at the lowest free index; ENOSPC when full.
    pub fn insert(&mut self, mut perm: Perm, obj: T) -> KResult<i32> {
        if self.used >= self.max as usize {
            return Err(Errno::ENOSPC);
        }
        let idx = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        perm.seq = self.seq;
        self.seq = if self.seq >= SEQ_MAX { 0 } else { self.seq + 1 };
        self.slots[idx] = Some((perm, obj));
        self.used += 1;
        Ok(Self::id_of(idx as u32, perm.seq))
    }

    /// Removes the object `id` names.
    pub fn remove(&mut self, id: i32) -> Option<(Perm, T)> {
        let (idx, seq) = Self::split(id).ok()?;
        let slot = self.slots.get_mut(idx as usize)?;
        if slot.as_ref()?.0.seq != seq {
            return None;
        }
        let e = slot.take();
        self.used -= 1;
        while let Some(None) = self.slots.last() {
            self.slots.pop();
        }
        e
    }

    /// The object at index `idx` (the *_STAT commands) and its identifier.
    pub fn by_index(&self, idx: i32) -> KResult<(i32, &(Perm, T))> {
        let idx = u32::try_from(idx).map_err(|_| Errno::EINVAL)?;
        let e = self.slot(idx).ok_or(Errno::EINVAL)?;
        Ok((Self::id_of(idx, e.0.seq), e))
    }

    /// The highest index in use, or -1 (what IPC_INFO returns; 0 when none).
    pub fn max_idx(&self) -> i32 {
        self.slots.len() as i32 - 1
    }

    /// Objects in use.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Identifiers and objects, by index.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &(Perm, T))> {
        self.slots.iter().enumerate().filter_map(|(i, e)| {
            let e = e.as_ref()?;
            Some((Self::id_of(i as u32, e.0.seq), e))
        })
    }

    /// Identifiers and objects, by index, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (i32, &mut (Perm, T))> {
        self.slots.iter_mut().enumerate().filter_map(|(i, e)| {
            let e = e.as_mut()?;
            Some((Self::id_of(i as u32, e.0.seq), e))
        })
    }
}

/// The common part of the get calls (ipcget): finds the object with `key`
/// or says to create one. `Ok(Some(id))` is an existing object the caller may
/// use; `Ok(None)` means create.
pub fn lookup<T>(
    t: &Table<T>,
    key: i32,
    flags: u32,
    c: &Caller,
    more_checks: impl Fn(&T) -> KResult<()>,
) -> KResult<Option<i32>> {
    if key == IPC_PRIVATE {
        return Ok(None);
    }
    match t.find_key(key) {
        None if flags & IPC_CREAT == 0 => Err(Errno::ENOENT),
        None => Ok(None),
        Some(_) if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 => Err(Errno::EEXIST),
        Some(id) => {
            let (perm, obj) = t.get(id)?;
            more_checks(obj)?;
            perm.check(c, flags)?;
            Ok(Some(id))
        }
    }
}

/// The IPC namespace: every System V object and POSIX message queue.
#[derive(Default)]
pub struct IpcNs {
    pub shm: shm::ShmNs,
    pub sem: sem::SemNs,
    pub msg: msg::MsgNs,
    pub mq: mqueue::MqNs,
}

#[cfg(test)]
mod tests;
