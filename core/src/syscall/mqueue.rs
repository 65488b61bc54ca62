//! POSIX message queue calls: mq_open, mq_unlink, mq_timedsend,
//! mq_timedreceive (and their *_time64 forms on 32-bit ARM), mq_notify and
//! mq_getsetattr. The queues are in `crate::ipc::mqueue`.
//!
//! A sender facing a full queue or a receiver facing an empty one parks with
//! `Wait::Event` until its absolute CLOCK_REALTIME timeout (ETIMEDOUT); a
//! signal handler restarts it under SA_RESTART, as signal(7) lists. A parked
//! sender's message is kept in [`MqWaits`], copied once. mq_notify does
//! SIGEV_SIGNAL and SIGEV_NONE; SIGEV_THREAD needs a netlink socket, which
//! umbra does not have (EBADF for a bad descriptor, ENOTSOCK otherwise).

use super::uabi::{read_timespec, TimeAbi, NATIVE};
use super::Outcome;
use crate::fs::file::OpenFile;
use crate::host::Host;
use crate::ipc::mqueue::{self, MqFile, NewAttr, Notify, Opener, Queue};
use crate::kernel::Kernel;
use crate::task::fd_table::FdFlags;
use crate::task::{Pid, Restart, SigInfo, Wait};
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;
use umbra_abi::flags::OpenFlags;
use umbra_abi::syscall::nr::*;
use umbra_abi::Errno;

const NS: u64 = 1_000_000_000;
/// si_code of a message queue notification.
const SI_MESGQ: i32 = crate::task::signal::code::SI_MESGQ;
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_FOWNER: u32 = 3;
const RLIMIT_MSGQUEUE: u32 = 12;

/// Serves call `n` if it is a message queue call; None otherwise.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    let r = match n {
        MQ_OPEN => sys_mq_open(k, a[0], a[1] as u32, a[2] as u32, a[3]),
        MQ_UNLINK => sys_mq_unlink(k, a[0]),
        MQ_TIMEDSEND => {
            return Some(sys_mq_timedsend(
                k,
                a[0] as i32,
                a[1],
                a[2],
                a[3] as u32,
                a[4],
                TimeAbi::Long,
            ))
        }
        MQ_TIMEDRECEIVE => {
            return Some(sys_mq_timedreceive(
                k,
                a[0] as i32,
                a[1],
                a[2],
                a[3],
                a[4],
                TimeAbi::Long,
            ))
        }
        #[cfg(target_arch = "arm")]
        MQ_TIMEDSEND_TIME64 => {
            return Some(sys_mq_timedsend(
                k,
                a[0] as i32,
                a[1],
                a[2],
                a[3] as u32,
                a[4],
                TimeAbi::Time64,
            ))
        }
        #[cfg(target_arch = "arm")]
        MQ_TIMEDRECEIVE_TIME64 => {
            return Some(sys_mq_timedreceive(
                k,
                a[0] as i32,
                a[1],
                a[2],
                a[3],
                a[4],
                TimeAbi::Time64,
            ))
        }
        MQ_NOTIFY => sys_mq_notify(k, a[0] as i32, a[1]),
        MQ_GETSETATTR => sys_mq_getsetattr(k, a[0] as i32, a[1], a[2]),
        _ => return None,
    };
    Some(Outcome::Ret(r))
}

/// Reads `struct mq_attr`: eight longs.
fn read_attr<H: Host>(k: &mut Kernel<H>, at: u64) -> KResult<[i64; 4]> {
    let w = NATIVE.bytes();
    let b = k.user().read_vec(at, 8 * w)?;
    let mut v = [0i64; 4];
    for (i, x) in v.iter_mut().enumerate() {
        let s = &b[i * w..(i + 1) * w];
        *x = if w == 4 {
            i32::from_ne_bytes([s[0], s[1], s[2], s[3]]) as i64
        } else {
            i64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
        };
    }
    Ok(v)
}

/// mq_open(2) on `name` (without the leading '/' the C library strips).
pub fn sys_mq_open<H: Host>(
    k: &mut Kernel<H>,
    name: u64,
    oflag: u32,
    mode: u32,
    attr: u64,
) -> SysResult {
    let name = k.user().read_cstr(name, 4096)?;
    let attr = if attr != 0 {
        Some(read_attr(k, attr)?)
    } else {
        None
    };
    let p = k.proc();
    let umask = p.umask;
    let c = &p.creds;
    let o = Opener {
        euid: c.euid,
        egid: c.egid,
        groups: c.groups.clone(),
        sys_resource: c.capable(crate::ipc::CAP_SYS_RESOURCE),
        dac_override: c.capable(CAP_DAC_OVERRIDE),
        rlimit_msgqueue: {
            let l = p.rlimit(RLIMIT_MSGQUEUE).rlim_cur;
            if l == umbra_abi::flags::RLIM_INFINITY {
                mqueue::MQ_BYTES_MAX
            } else {
                l
            }
        },
    };
    let f = OpenFlags::from_bits_retain(oflag);
    let accmode = oflag & 3;
    // O_RDWR|O_WRONLY asks for no access; Linux refuses it on an existing
    // queue only.
    let acc = match accmode {
        0 => 4,
        1 => 2,
        2 => 6,
        _ => 8,
    };
    let create = f.contains(OpenFlags::O_CREAT);
    let new_attr = attr.filter(|_| create).map(|a| NewAttr {
        maxmsg: a[1],
        msgsize: a[2],
    });
    let q = k.ipc.mq.open(
        &name,
        create,
        f.contains(OpenFlags::O_EXCL),
        mode & !umask,
        new_attr,
        acc,
        &o,
    )?;
    let keep = OpenFlags::from_bits_retain(accmode) | (f & OpenFlags::O_NONBLOCK);
    let file = OpenFile::from_ops(Arc::new(MqFile { queue: q }), keep);
    let fdf = if f.contains(OpenFlags::O_CLOEXEC) {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    let fd = k.proc().fds.alloc(file, 0, fdf)?;
    Ok(fd as usize)
}

/// mq_unlink(2).
pub fn sys_mq_unlink<H: Host>(k: &mut Kernel<H>, name: u64) -> SysResult {
    let name = k.user().read_cstr(name, 4096)?;
    let c = &k.proc().creds;
    let (euid, fowner) = (c.euid, c.capable(CAP_FOWNER));
    k.ipc.mq.unlink(&name, euid, fowner)?;
    Ok(0)
}

/// The queue and description of descriptor `fd`; EBADF if it is not a
/// message queue.
fn queue_of<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<(Arc<Mutex<Queue>>, Arc<OpenFile>)> {
    let file = k.proc().fds.get(fd)?;
    let q = file
        .ops()
        .and_then(|o| o.as_any().downcast_ref::<MqFile>())
        .map(|m| m.queue.clone())
        .ok_or(Errno::EBADF)?;
    Ok((q, file))
}

/// The monotonic deadline of an absolute CLOCK_REALTIME timeout at `at`
/// (0: none); EINVAL for a malformed timespec.
fn abs_deadline<H: Host>(k: &mut Kernel<H>, at: u64, t: TimeAbi) -> KResult<Option<u64>> {
    if at == 0 {
        return Ok(None);
    }
    let ts = read_timespec(k, at, t)?;
    if ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= NS as i64 {
        return Err(Errno::EINVAL);
    }
    let abs = (ts.tv_sec as u64)
        .saturating_mul(NS)
        .saturating_add(ts.tv_nsec as u64);
    let left = abs.saturating_sub(k.host.now_real());
    Ok(Some(k.host.now_mono().saturating_add(left)))
}

fn park(deadline: Option<u64>) -> Outcome {
    Outcome::Block(Wait::Event {
        deadline,
        restart: Restart::WithSaRestart,
    })
}

/// Whether any thread waits in mq_timedreceive on queue `q`.
fn has_receiver<H: Host>(k: &Kernel<H>, q: usize) -> bool {
    #[cfg(target_arch = "arm")]
    let nrs = &[MQ_TIMEDRECEIVE, MQ_TIMEDRECEIVE_TIME64][..];
    #[cfg(not(target_arch = "arm"))]
    let nrs = &[MQ_TIMEDRECEIVE][..];
    k.ipc
        .mq
        .receivers
        .iter()
        .any(|(t, at)| *at == q && super::ipc::parked_in(k, *t, nrs))
}

/// mq_timedsend(2).
pub fn sys_mq_timedsend<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    msg: u64,
    len: u64,
    prio: u32,
    timeout: u64,
    t: TimeAbi,
) -> Outcome {
    match timedsend(k, fd, msg, len, prio, timeout, t) {
        Ok(Some(d)) => park(d),
        Ok(None) => Outcome::Ret(Ok(0)),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// The work of mq_timedsend: Ok(None) sent, Ok(Some(deadline)) must wait.
fn timedsend<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    msg: u64,
    len: u64,
    prio: u32,
    timeout: u64,
    t: TimeAbi,
) -> KResult<Option<Option<u64>>> {
    let me = super::ipc::tid(k);
    let stored = k.ipc.mq.senders.remove(&me);
    let (q, file, prio, text, deadline) = match stored {
        Some((p, text, d)) if super::ipc::retrying(k) => {
            let (q, file) = queue_of(k, fd)?;
            (q, file, p, text, d)
        }
        _ => {
            let d = abs_deadline(k, timeout, t)?;
            if prio >= mqueue::MQ_PRIO_MAX {
                return Err(Errno::EINVAL);
            }
            let (q, file) = queue_of(k, fd)?;
            if !file.writable() {
                return Err(Errno::EBADF);
            }
            if len > q.lock().msgsize as u64 {
                return Err(Errno::EMSGSIZE);
            }
            let text = k.user().read_vec(msg, len as usize)?;
            (q, file, prio, text, d)
        }
    };
    let mut ql = q.lock();
    if ql.is_full() {
        drop(ql);
        if file.is_nonblocking() {
            return Err(Errno::EAGAIN);
        }
        if deadline.is_some_and(|d| k.host.now_mono() >= d) {
            return Err(Errno::ETIMEDOUT);
        }
        k.ipc.mq.senders.insert(me, (prio, text, deadline));
        return Ok(Some(deadline));
    }
    let was_empty = ql.is_empty();
    ql.push(prio, text);
    let notify = if was_empty { ql.notify } else { None };
    drop(ql);
    if let Some(n) = notify {
        let qid = Arc::as_ptr(&q) as usize;
        if !has_receiver(k, qid) {
            q.lock().notify = None;
            if let Some(sig) = n.signo.filter(|s| *s != 0) {
                if k.procs.contains_key(&n.pid) {
                    let uid = k.proc().creds.ruid;
                    let info = SigInfo {
                        signo: sig,
                        code: SI_MESGQ,
                        pid: k.cur,
                        uid,
                        addr: n.value,
                        ..SigInfo::default()
                    };
                    let _ = k.send_signal(n.pid, sig, info);
                }
            }
        }
    }
    Ok(None)
}

/// mq_timedreceive(2).
pub fn sys_mq_timedreceive<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    msg: u64,
    len: u64,
    prio_at: u64,
    timeout: u64,
    t: TimeAbi,
) -> Outcome {
    let me = super::ipc::tid(k);
    k.ipc.mq.receivers.remove(&me);
    let r = (|| {
        let deadline = if super::ipc::retrying(k) {
            k.proc().thread.deadline
        } else {
            abs_deadline(k, timeout, t)?
        };
        let (q, file) = queue_of(k, fd)?;
        if !file.readable() {
            return Err(Errno::EBADF);
        }
        let mut ql = q.lock();
        if len < ql.msgsize as u64 {
            return Err(Errno::EMSGSIZE);
        }
        let Some((prio, text)) = ql.pop() else {
            drop(ql);
            if file.is_nonblocking() {
                return Err(Errno::EAGAIN);
            }
            if deadline.is_some_and(|d| k.host.now_mono() >= d) {
                return Err(Errno::ETIMEDOUT);
            }
            k.ipc.mq.receivers.insert(me, Arc::as_ptr(&q) as usize);
            k.proc().thread.deadline = deadline;
            return Ok(Err(deadline));
        };
        drop(ql);
        k.user().write_bytes(msg, &text)?;
        if prio_at != 0 {
            k.user().write_bytes(prio_at, &prio.to_ne_bytes())?;
        }
        Ok(Ok(text.len()))
    })();
    match r {
        Ok(Ok(n)) => Outcome::Ret(Ok(n)),
        Ok(Err(d)) => park(d),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// mq_notify(2): SIGEV_SIGNAL and SIGEV_NONE.
pub fn sys_mq_notify<H: Host>(k: &mut Kernel<H>, fd: i32, sevp: u64) -> SysResult {
    let w = NATIVE.bytes();
    let want = if sevp != 0 {
        let b = k.user().read_vec(sevp, w + 8)?;
        let mut v = [0u8; 8];
        v[..w].copy_from_slice(&b[..w]);
        let value = u64::from_ne_bytes(v);
        let signo = i32::from_ne_bytes([b[w], b[w + 1], b[w + 2], b[w + 3]]);
        let how = i32::from_ne_bytes([b[w + 4], b[w + 5], b[w + 6], b[w + 7]]);
        match how {
            mqueue::SIGEV_NONE => Some((None, value)),
            // Linux takes signal 0 too (valid_signal), and then sends none.
            mqueue::SIGEV_SIGNAL if (0..=64).contains(&signo) => Some((Some(signo as u32), value)),
            mqueue::SIGEV_THREAD => {
                // The notification socket must be a netlink socket.
                k.proc().fds.get(signo)?;
                return Err(Errno::ENOTSOCK);
            }
            _ => return Err(Errno::EINVAL),
        }
    } else {
        None
    };
    let (q, _) = queue_of(k, fd)?;
    let pid = k.cur;
    let mut ql = q.lock();
    if let Some(n) = ql.notify {
        // A registration whose process is gone does not hold the queue.
        if !k.procs.contains_key(&n.pid) {
            ql.notify = None;
        }
    }
    match want {
        None => {
            if ql.notify.is_some_and(|n| n.pid == pid) {
                ql.notify = None;
            }
        }
        Some(_) if ql.notify.is_some() => return Err(Errno::EBUSY),
        Some((signo, value)) => ql.notify = Some(Notify { pid, signo, value }),
    }
    Ok(0)
}

/// mq_getsetattr(2).
pub fn sys_mq_getsetattr<H: Host>(k: &mut Kernel<H>, fd: i32, new: u64, old: u64) -> SysResult {
    let nonblock = OpenFlags::O_NONBLOCK.bits() as i64;
    let new = if new != 0 {
        let a = read_attr(k, new)?;
        if a[0] & !nonblock != 0 {
            return Err(Errno::EINVAL);
        }
        Some(a[0])
    } else {
        None
    };
    let (q, file) = queue_of(k, fd)?;
    if old != 0 {
        let (maxmsg, msgsize, cur) = {
            let ql = q.lock();
            (ql.maxmsg, ql.msgsize, ql.len() as i64)
        };
        let flags = if file.is_nonblocking() { nonblock } else { 0 };
        let mut b = Vec::new();
        for v in [flags, maxmsg, msgsize, cur, 0, 0, 0, 0] {
            crate::ipc::put_long(&mut b, v as u64, NATIVE);
        }
        k.user().write_bytes(old, &b)?;
    }
    if let Some(f) = new {
        let keep = file.flags().difference(OpenFlags::O_NONBLOCK);
        let set = if f & nonblock != 0 {
            keep | OpenFlags::O_NONBLOCK
        } else {
            keep
        };
        file.set_status_flags(set);
    }
    Ok(0)
}

/// Process `pid` exits: its parked calls and notifications go.
pub(crate) fn exit_release<H: Host>(k: &mut Kernel<H>, pid: Pid) {
    k.ipc.mq.senders.remove(&pid);
    k.ipc.mq.receivers.remove(&pid);
    for (_, q) in k.ipc.mq.names() {
        let mut ql = q.lock();
        if ql.notify.is_some_and(|n| n.pid == pid) {
            ql.notify = None;
        }
    }
}
