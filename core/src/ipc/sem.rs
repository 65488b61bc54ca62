//! System V semaphore sets: semget, semop and semtimedop, semctl, and the
//! SEM_UNDO adjustments applied when a process exits.
//!
//! semop is all or nothing: [`SemNs::try_op`] applies every operation or
//! none, and says which operation would have to wait. A waiting caller is
//! parked by the syscall layer and tries again whenever the kernel's epoch
//! moves; its operations are kept here ([`SemNs::waiters`]), copied from
//! user memory once, together with the operation it waits on, which is what
//! GETNCNT and GETZCNT count (Linux's `q->blocking`).

use super::{lookup, put_int, put_long, put_time, Caller, Perm, Table};
use crate::error::{Errno, KResult};
use crate::syscall::uabi::Long;
use crate::vecmap::VecMap;
use alloc::vec::Vec;

pub const SEM_UNDO: i16 = 0x1000;
pub const GETPID: u32 = 11;
pub const GETVAL: u32 = 12;
pub const GETALL: u32 = 13;
pub const GETNCNT: u32 = 14;
pub const GETZCNT: u32 = 15;
pub const SETVAL: u32 = 16;
pub const SETALL: u32 = 17;
pub const SEM_STAT: u32 = 18;
pub const SEM_INFO: u32 = 19;
pub const SEM_STAT_ANY: u32 = 20;

/// Linux's defaults (/proc/sys/kernel/sem: 32000 1024000000 500 32000).
pub const SEMMSL: u32 = 32000;
pub const SEMMNS: u32 = 1_024_000_000;
pub const SEMOPM: u32 = 500;
pub const SEMMNI: u32 = 32000;
pub const SEMVMX: i32 = 32767;
pub const SEMAEM: i32 = SEMVMX;
pub const SEMUSZ: u32 = 20;
/// The semaphores the namespace holds at most (umbra's heap bound, below
/// SEMMNS): semget gives ENOSPC beyond, as for SEMMNS.
pub const SEM_HEAP_MAX: u32 = 1 << 18;
/// Arrays at most (below SEMMNI, for the same reason).
pub const SEM_ARRAYS_MAX: u32 = 4096;

/// One operation of semop (`struct sembuf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sembuf {
    pub num: u16,
    pub op: i16,
    pub flg: i16,
}

impl Sembuf {
    /// Decodes the 6-byte `struct sembuf`.
    pub fn decode(b: &[u8]) -> Sembuf {
        let h = |o: usize| [b[o], b[o + 1]];
        Sembuf {
            num: u16::from_ne_bytes(h(0)),
            op: i16::from_ne_bytes(h(2)),
            flg: i16::from_ne_bytes(h(4)),
        }
    }
}

/// One semaphore.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sem {
    pub val: i32,
    pub pid: u32,
}

/// A set.
pub struct SemSet {
    pub sems: Vec<Sem>,
    pub otime: u64,
    pub ctime: u64,
    /// semadj by process and semaphore (only the nonzero ones): at most one
    /// entry per process, so a few hundred (`max_procs`), each with at most
    /// one per semaphore of the set.
    undo: VecMap<u32, VecMap<u16, i32>>,
}

/// A thread waiting in semop.
#[derive(Clone, Debug)]
pub struct Waiter {
    pub semid: i32,
    pub sops: Vec<Sembuf>,
    /// The operation it waits on: semaphore and op (< 0 counts for
    /// GETNCNT, 0 for GETZCNT).
    pub blocking: (u16, i16),
    pub deadline: Option<u64>,
}

/// What one try of a semop came to.
#[derive(Debug, PartialEq, Eq)]
pub enum OpResult {
    Done,
    /// Must wait on this semaphore with this op.
    Wait(u16, i16),
}

/// The semaphore sets, SEM_UNDO adjustments and waiters.
pub struct SemNs {
    pub table: Table<SemSet>,
    /// Semaphores in all sets (used_sems).
    used: u32,
    /// Threads waiting in semop, by tid (at most one per thread, so
    /// bounded by `max_procs`).
    pub waiters: VecMap<u32, Waiter>,
}

impl SemNs {
    pub fn new() -> Self {
        SemNs {
            table: Table::new(SEM_ARRAYS_MAX),
            used: 0,
            waiters: VecMap::new(),
        }
    }

    /// semget(2).
    pub fn get(&mut self, key: i32, nsems: i32, flags: u32, c: &Caller) -> KResult<i32> {
        if nsems < 0 || nsems as u32 > SEMMSL {
            return Err(Errno::EINVAL);
        }
        let n = nsems as u32;
        let found = lookup(&self.table, key, flags, c, |s: &SemSet| {
            if (s.sems.len() as u32) < n {
                Err(Errno::EINVAL)
            } else {
                Ok(())
            }
        })?;
        if let Some(id) = found {
            return Ok(id);
        }
        if n == 0 {
            return Err(Errno::EINVAL);
        }
        if self.used + n > SEM_HEAP_MAX.min(SEMMNS) {
            return Err(Errno::ENOSPC);
        }
        let set = SemSet {
            sems: alloc::vec![Sem::default(); n as usize],
            otime: 0,
            ctime: c.now,
            undo: VecMap::new(),
        };
        let id = self.table.insert(Perm::new(key, flags, c), set)?;
        self.used += n;
        Ok(id)
    }

    /// Checks a semop before it runs: the set exists (EINVAL), every
    /// semaphore number is in it (EFBIG) and the caller may alter or read
    /// it (EACCES).
    pub fn check_op(&self, semid: i32, sops: &[Sembuf], c: &Caller) -> KResult<()> {
        let (perm, set) = self.table.get(semid)?;
        let max = sops.iter().map(|s| s.num).max().unwrap_or(0);
        if max as usize >= set.sems.len() {
            return Err(Errno::EFBIG);
        }
        let alter = sops.iter().any(|s| s.op != 0);
        perm.check(c, if alter { 0o222 } else { 0o444 })
    }

    /// Tries the operations at once (perform_atomic_semop): all of them, or
    /// none and the one to wait on; EAGAIN if that one has IPC_NOWAIT,
    /// ERANGE past SEMVMX or the adjustment bound.
    pub fn try_op(&mut self, semid: i32, sops: &[Sembuf], c: &Caller) -> KResult<OpResult> {
        let (_, set) = self.table.get_mut(semid)?;
        let mut vals: Vec<i32> = set.sems.iter().map(|s| s.val).collect();
        let old = set.undo.get(&c.pid);
        // The adjustments this call changes, by semaphore (at most SEMOPM).
        let mut adj: VecMap<u16, i32> = VecMap::new();
        for s in sops {
            let cur = *vals.get(s.num as usize).ok_or(Errno::EFBIG)?;
            let res = cur + s.op as i32;
            if (s.op == 0 && cur != 0) || res < 0 {
                if s.flg & super::IPC_NOWAIT as i16 != 0 {
                    return Err(Errno::EAGAIN);
                }
                return Ok(OpResult::Wait(s.num, s.op));
            }
            if res > SEMVMX {
                return Err(Errno::ERANGE);
            }
            if s.flg & SEM_UNDO != 0 {
                let a = adj
                    .entry(s.num)
                    .or_insert_with(|| old.and_then(|o| o.get(&s.num)).map_or(0, |a| *a));
                let u = *a - s.op as i32;
                if !(-SEMAEM - 1..=SEMAEM).contains(&u) {
                    return Err(Errno::ERANGE);
                }
                *a = u;
            }
            vals[s.num as usize] = res;
        }
        for s in sops {
            if let Some(sem) = set.sems.get_mut(s.num as usize) {
                sem.pid = c.pid;
            }
        }
        for (sem, v) in set.sems.iter_mut().zip(vals) {
            sem.val = v;
        }
        set.otime = c.now;
        if !adj.is_empty() {
            let merged = merge_adj(set.undo.remove(&c.pid).unwrap_or_default(), adj);
            if !merged.is_empty() {
                set.undo.insert(c.pid, merged);
            }
        }
        Ok(OpResult::Done)
    }

    /// Applies and drops the adjustments of process `pid` (its exit).
    pub fn exit(&mut self, pid: u32) {
        // One lookup per set: at most SEM_ARRAYS_MAX.
        for (_, (_, set)) in self.table.iter_mut() {
            let Some(adj) = set.undo.remove(&pid) else {
                continue;
            };
            for (num, a) in adj {
                if let Some(s) = set.sems.get_mut(num as usize) {
                    s.val = (s.val + a).clamp(0, SEMVMX);
                    s.pid = pid;
                }
            }
        }
        self.waiters.remove(&pid);
    }

    /// Forgets the adjustments of semaphore `num` (all with None) of a set,
    /// as SETVAL and SETALL do.
    fn clear_undo(set: &mut SemSet, num: Option<u16>) {
        match num {
            Some(n) => set.undo.retain(|_, adj| {
                adj.remove(&n);
                !adj.is_empty()
            }),
            None => set.undo.clear(),
        }
    }

    /// IPC_RMID.
    pub fn remove(&mut self, semid: i32, c: &Caller) -> KResult<()> {
        self.table.get(semid)?.0.may_change(c)?;
        // The set's adjustments go with it.
        if let Some((_, set)) = self.table.remove(semid) {
            self.used = self.used.saturating_sub(set.sems.len() as u32);
        }
        Ok(())
    }

    /// IPC_SET with the semid64_ds bytes `buf`.
    pub fn set(&mut self, semid: i32, buf: &[u8], c: &Caller) -> KResult<()> {
        let (perm, set) = self.table.get_mut(semid)?;
        perm.may_change(c)?;
        let (uid, gid, mode) = Perm::decode_set(buf);
        perm.set(uid, gid, mode);
        set.ctime = c.now;
        Ok(())
    }

    /// SETVAL.
    pub fn setval(&mut self, semid: i32, num: i32, val: i32, c: &Caller) -> KResult<()> {
        if !(0..=SEMVMX).contains(&val) {
            return Err(Errno::ERANGE);
        }
        let (perm, set) = self.table.get_mut(semid)?;
        let s = usize::try_from(num)
            .ok()
            .and_then(|n| set.sems.get_mut(n))
            .ok_or(Errno::EINVAL)?;
        perm.check(c, 0o222)?;
        s.val = val;
        s.pid = c.pid;
        set.ctime = c.now;
        Self::clear_undo(set, Some(num as u16));
        Ok(())
    }

    /// SETALL with the values `vals` (one per semaphore).
    pub fn setall(&mut self, semid: i32, vals: &[u16], c: &Caller) -> KResult<()> {
        let (perm, set) = self.table.get_mut(semid)?;
        perm.check(c, 0o222)?;
        if vals.iter().any(|v| *v as i32 > SEMVMX) {
            return Err(Errno::ERANGE);
        }
        for (s, v) in set.sems.iter_mut().zip(vals) {
            s.val = *v as i32;
            s.pid = c.pid;
        }
        set.ctime = c.now;
        Self::clear_undo(set, None);
        Ok(())
    }

    /// Threads waiting on semaphore `num` of `semid` to decrease it
    /// (`zero` false, GETNCNT) or for it to be zero (GETZCNT). `waiting`
    /// says whether a tid still waits in semop (a signal may have ended it).
    pub fn count_waiters(
        &self,
        semid: i32,
        num: u16,
        zero: bool,
        waiting: impl Fn(u32) -> bool,
    ) -> usize {
        self.waiters
            .iter()
            .filter(|(tid, w)| {
                w.semid == semid
                    && w.blocking.0 == num
                    && (w.blocking.1 == 0) == zero
                    && waiting(**tid)
            })
            .count()
    }

    /// `struct semid64_ds` (x86_64 has two padding longs after the times).
    pub fn stat(&self, semid: i32, w: Long) -> KResult<Vec<u8>> {
        let (perm, s) = self.table.get(semid)?;
        let mut b = perm.encode(w);
        let x86 = cfg!(target_arch = "x86_64");
        put_time(&mut b, s.otime, w);
        if x86 {
            put_long(&mut b, 0, w);
        }
        put_time(&mut b, s.ctime, w);
        if x86 {
            put_long(&mut b, 0, w);
        }
        for v in [s.sems.len() as u64, 0, 0] {
            put_long(&mut b, v, w);
        }
        Ok(b)
    }

    /// IPC_INFO and SEM_INFO: `struct seminfo`.
    pub fn info(&self, sem_info: bool) -> Vec<u8> {
        let (usz, aem) = if sem_info {
            (self.table.len() as u32, self.used)
        } else {
            (SEMUSZ, SEMAEM as u32)
        };
        let mut b = Vec::new();
        for v in [
            SEMMNS,
            SEMMNI,
            SEMMNS,
            SEMMNS,
            SEMMSL,
            SEMOPM,
            SEMOPM,
            usz,
            SEMVMX as u32,
            aem,
        ] {
            put_int(&mut b, v);
        }
        b
    }

    /// /proc/sysvipc/sem.
    pub fn proc_text(&self) -> Vec<u8> {
        let mut t = alloc::string::String::from(
            "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n",
        );
        for (id, (p, s)) in self.table.iter() {
            let _ = core::fmt::write(
                &mut t,
                format_args!(
                    "{:10} {:10}  {:4o} {:10} {:5} {:5} {:5} {:5} {:10} {:10}\n",
                    p.key,
                    id,
                    p.mode & 0o7777,
                    s.sems.len(),
                    p.uid,
                    p.gid,
                    p.cuid,
                    p.cgid,
                    s.otime,
                    s.ctime
                ),
            );
        }
        t.into_bytes()
    }
}

/// The adjustments `old` with those of `new` put over them, the zeros
/// dropped: one pass over both (they are sorted), so a semop costs O(n) in
/// the adjustments a process holds on the set, as the copy of the set's
/// values it makes does, whatever order it touches them in.
fn merge_adj(old: VecMap<u16, i32>, new: VecMap<u16, i32>) -> VecMap<u16, i32> {
    let mut out = VecMap::new();
    let mut a = old.into_iter().peekable();
    let mut b = new.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 < y.0 => a.next(),
            (Some(x), Some(y)) if x.0 == y.0 => {
                a.next();
                b.next()
            }
            (_, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        if let Some((num, v)) = next.filter(|e| e.1 != 0) {
            // Increasing keys: each insert appends.
            out.insert(num, v);
        }
    }
    out
}

impl Default for SemNs {
    fn default() -> Self {
        Self::new()
    }
}
