//! System V message queues: msgget, msgsnd, msgrcv and msgctl.
//!
//! A sender whose message does not fit, or a receiver that finds none, is
//! parked by the syscall layer and tries again whenever the kernel's epoch
//! moves; a parked sender's message is kept in [`MsgNs::waiters`], copied
//! from user memory once.

use super::{lookup, put_int, put_long, put_time, Caller, Perm, Table};
use crate::error::{Errno, KResult};
use crate::syscall::uabi::Long;
use crate::vecmap::VecMap;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

pub const MSG_STAT: u32 = 11;
pub const MSG_INFO: u32 = 12;
pub const MSG_STAT_ANY: u32 = 13;
pub const MSG_NOERROR: u32 = 0o10000;
pub const MSG_EXCEPT: u32 = 0o20000;
pub const MSG_COPY: u32 = 0o40000;

/// Linux's defaults (/proc/sys/kernel/msgmax, msgmnb, msgmni).
pub const MSGMAX: u64 = 8192;
pub const MSGMNB: u64 = 16384;
pub const MSGMNI: u32 = 32000;
pub const MSGPOOL: u32 = (MSGMNI as u64 * MSGMNB / 1024) as u32;
pub const MSGSSZ: u32 = 16;
pub const MSGSEG: u32 = 0xffff;
/// Queues at most (umbra's heap bound, below MSGMNI: msgget gives ENOSPC
/// beyond, as at MSGMNI).
pub const MSG_QUEUES_MAX: u32 = 4096;
/// Bytes and messages queued in all queues at most: a queue with room
/// under its own msg_qbytes still counts as full beyond these, so senders
/// wait (or get EAGAIN) instead of growing umbra's heap without bound.
pub const MSG_POOL_BYTES: u64 = 8 << 20;
pub const MSG_POOL_MSGS: u64 = 1 << 16;

/// A message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub mtype: i64,
    pub text: Vec<u8>,
}

/// A queue.
pub struct MsgQueue {
    pub msgs: VecDeque<Msg>,
    pub cbytes: u64,
    pub qbytes: u64,
    pub stime: u64,
    pub rtime: u64,
    pub ctime: u64,
    pub lspid: u32,
    pub lrpid: u32,
}

/// A thread waiting in msgsnd (with its message) or msgrcv.
#[derive(Clone, Debug)]
pub struct Waiter {
    pub msqid: i32,
    pub send: Option<Msg>,
}

/// How msgrcv picks (convert_mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The first message (msgtyp 0).
    Any,
    /// The first of this type (msgtyp > 0).
    Equal(i64),
    /// The first not of this type (msgtyp > 0, MSG_EXCEPT).
    NotEqual(i64),
    /// The first of the lowest type at most this (msgtyp < 0: -msgtyp).
    LessEqual(i64),
}

impl Pick {
    pub fn new(msgtyp: i64, flags: u32) -> Pick {
        if msgtyp == 0 {
            Pick::Any
        } else if msgtyp < 0 {
            Pick::LessEqual(msgtyp.checked_neg().unwrap_or(i64::MAX))
        } else if flags & MSG_EXCEPT != 0 {
            Pick::NotEqual(msgtyp)
        } else {
            Pick::Equal(msgtyp)
        }
    }

    /// The index of the message it picks in `q`.
    fn find(self, q: &VecDeque<Msg>) -> Option<usize> {
        match self {
            Pick::Any => (!q.is_empty()).then_some(0),
            Pick::Equal(t) => q.iter().position(|m| m.mtype == t),
            Pick::NotEqual(t) => q.iter().position(|m| m.mtype != t),
            Pick::LessEqual(t) => {
                let mut best: Option<(usize, i64)> = None;
                for (i, m) in q.iter().enumerate() {
                    if m.mtype <= t && best.is_none_or(|(_, bt)| m.mtype < bt) {
                        best = Some((i, m.mtype));
                    }
                }
                best.map(|(i, _)| i)
            }
        }
    }
}

/// The queues and their waiters.
pub struct MsgNs {
    pub table: Table<MsgQueue>,
    bytes: u64,
    count: u64,
    /// Threads waiting in msgsnd or msgrcv, by tid (at most one per
    /// thread, so bounded by `max_procs`).
    pub waiters: VecMap<u32, Waiter>,
}

impl MsgNs {
    pub fn new() -> Self {
        MsgNs {
            table: Table::new(MSG_QUEUES_MAX),
            bytes: 0,
            count: 0,
            waiters: VecMap::new(),
        }
    }

    /// msgget(2).
    pub fn get(&mut self, key: i32, flags: u32, c: &Caller) -> KResult<i32> {
        if let Some(id) = lookup(&self.table, key, flags, c, |_| Ok(()))? {
            return Ok(id);
        }
        let q = MsgQueue {
            msgs: VecDeque::new(),
            cbytes: 0,
            qbytes: MSGMNB,
            stime: 0,
            rtime: 0,
            ctime: c.now,
            lspid: 0,
            lrpid: 0,
        };
        self.table.insert(Perm::new(key, flags, c), q)
    }

    /// Checks that `c` may send to (`write`) or receive from queue `id`.
    pub fn check(&self, id: i32, write: bool, c: &Caller) -> KResult<()> {
        let (perm, _) = self.table.get(id)?;
        perm.check(c, if write { 0o222 } else { 0o444 })
    }

    /// msgsnd: queues `m` if it fits; Ok(false) if the sender must wait,
    /// EAGAIN then with IPC_NOWAIT.
    pub fn send(&mut self, id: i32, m: &Msg, nowait: bool, c: &Caller) -> KResult<bool> {
        let len = m.text.len() as u64;
        let pool_ok = self.bytes + len <= MSG_POOL_BYTES && self.count < MSG_POOL_MSGS;
        let (_, q) = self.table.get_mut(id)?;
        let fits = len + q.cbytes <= q.qbytes && (q.msgs.len() as u64) < q.qbytes;
        if !fits || !pool_ok {
            return if nowait {
                Err(Errno::EAGAIN)
            } else {
                Ok(false)
            };
        }
        q.msgs.push_back(m.clone());
        q.cbytes += len;
        q.lspid = c.pid;
        q.stime = c.now;
        self.bytes += len;
        self.count += 1;
        Ok(true)
    }

    /// msgrcv: takes the message `pick` chooses if it fits in `bufsz` bytes
    /// (E2BIG if not, unless MSG_NOERROR truncates it). None: none there.
    pub fn recv(
        &mut self,
        id: i32,
        bufsz: u64,
        pick: Pick,
        flags: u32,
        c: &Caller,
    ) -> KResult<Option<Msg>> {
        let (_, q) = self.table.get_mut(id)?;
        let Some(i) = pick.find(&q.msgs) else {
            return Ok(None);
        };
        let len = q.msgs.get(i).map_or(0, |m| m.text.len() as u64);
        if bufsz < len && flags & MSG_NOERROR == 0 {
            return Err(Errno::E2BIG);
        }
        let Some(mut m) = q.msgs.remove(i) else {
            return Ok(None);
        };
        q.cbytes = q.cbytes.saturating_sub(len);
        q.lrpid = c.pid;
        q.rtime = c.now;
        self.bytes = self.bytes.saturating_sub(len);
        self.count = self.count.saturating_sub(1);
        m.text.truncate(bufsz as usize);
        Ok(Some(m))
    }

    /// IPC_RMID.
    pub fn remove(&mut self, id: i32, c: &Caller) -> KResult<()> {
        self.table.get(id)?.0.may_change(c)?;
        if let Some((_, q)) = self.table.remove(id) {
            self.bytes = self.bytes.saturating_sub(q.cbytes);
            self.count = self.count.saturating_sub(q.msgs.len() as u64);
        }
        Ok(())
    }

    /// IPC_SET with the msqid64_ds bytes `buf`: owner, mode and msg_qbytes
    /// (above MSGMNB only with CAP_SYS_RESOURCE).
    pub fn set(&mut self, id: i32, buf: &[u8], c: &Caller, w: Long) -> KResult<()> {
        let (perm, q) = self.table.get_mut(id)?;
        perm.may_change(c)?;
        let qoff = Perm::size(w) + 3 * 8 + 2 * w.bytes();
        let qbytes = match w {
            Long::W64 => buf
                .get(qoff..qoff + 8)
                .map_or(0, |s| u64::from_ne_bytes(s.try_into().unwrap_or([0; 8]))),
            Long::W32 => {
                // Six time words, then cbytes and qnum.
                let o = Perm::size(w) + 6 * 4 + 2 * 4;
                buf.get(o..o + 4).map_or(0, |s| {
                    u32::from_ne_bytes(s.try_into().unwrap_or([0; 4])) as u64
                })
            }
        };
        if qbytes > MSGMNB && !c.capable(super::CAP_SYS_RESOURCE) {
            return Err(Errno::EPERM);
        }
        let (uid, gid, mode) = Perm::decode_set(buf);
        perm.set(uid, gid, mode);
        q.qbytes = qbytes;
        q.ctime = c.now;
        Ok(())
    }

    /// `struct msqid64_ds`.
    pub fn stat(&self, id: i32, w: Long) -> KResult<Vec<u8>> {
        let (perm, q) = self.table.get(id)?;
        let mut b = perm.encode(w);
        for t in [q.stime, q.rtime, q.ctime] {
            put_time(&mut b, t, w);
        }
        for v in [q.cbytes, q.msgs.len() as u64, q.qbytes] {
            put_long(&mut b, v, w);
        }
        put_int(&mut b, q.lspid);
        put_int(&mut b, q.lrpid);
        put_long(&mut b, 0, w);
        put_long(&mut b, 0, w);
        Ok(b)
    }

    /// IPC_INFO and MSG_INFO: `struct msginfo`.
    pub fn info(&self, msg_info: bool) -> Vec<u8> {
        let (pool, map, tql) = if msg_info {
            (
                self.table.len() as u32,
                self.count as u32,
                self.bytes as u32,
            )
        } else {
            (MSGPOOL, MSGMNB as u32, MSGMNB as u32)
        };
        let mut b = Vec::new();
        for v in [pool, map, MSGMAX as u32, MSGMNB as u32, MSGMNI, MSGSSZ, tql] {
            put_int(&mut b, v);
        }
        b.extend_from_slice(&(MSGSEG as u16).to_ne_bytes());
        b.extend_from_slice(&[0, 0]);
        b
    }

    /// /proc/sysvipc/msg.
    pub fn proc_text(&self) -> Vec<u8> {
        let mut t = alloc::string::String::from(
            "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n",
        );
        for (id, (p, q)) in self.table.iter() {
            let _ = core::fmt::write(
                &mut t,
                format_args!(
                    "{:10} {:10}  {:4o}  {:10} {:10} {:5} {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10}\n",
                    p.key,
                    id,
                    p.mode & 0o7777,
                    q.cbytes,
                    q.msgs.len(),
                    q.lspid,
                    q.lrpid,
                    p.uid,
                    p.gid,
                    p.cuid,
                    p.cgid,
                    q.stime,
                    q.rtime,
                    q.ctime
                ),
            );
        }
        t.into_bytes()
    }
}

impl Default for MsgNs {
    fn default() -> Self {
        Self::new()
    }
}
