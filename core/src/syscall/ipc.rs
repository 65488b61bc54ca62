//! System V IPC calls: shmget, shmat, shmdt, shmctl; semget, semop,
//! semtimedop (and semtimedop_time64), semctl; msgget, msgsnd, msgrcv,
//! msgctl. POSIX message queue calls are in `mqueue`, served from the same
//! [`dispatch`]. The objects are in `crate::ipc`; this file decodes the
//! arguments and the per-arch structures, and parks callers that wait.
//!
//! Blocking semop, msgsnd and msgrcv park with `Wait::Event` and try again
//! whenever the kernel's epoch moves; what they copied from user memory is
//! kept in the namespace's waiter tables, so a retry never reads it again.
//! A signal handler ends the wait with EINTR whatever SA_RESTART says
//! (signal(7)); an object removed meanwhile ends it with EIDRM. The ctl
//! commands take IPC_64 on every arch (32-bit ARM's old layouts, without
//! it, are refused with EINVAL).

use super::mqueue;
use super::uabi::{read_timespec, Long, TimeAbi, NATIVE};
use super::Outcome;
use crate::config::PAGE_SIZE;
use crate::host::Host;
use crate::ipc::msg::{self, Msg, Pick};
use crate::ipc::sem::{self, OpResult, Sembuf};
use crate::ipc::shm::{self, SHMLBA};
use crate::ipc::{Caller, IPC_64, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT};
use crate::kernel::Kernel;
use crate::mm::{Placement, VmaKind};
use crate::task::{Pid, Restart, ThreadState, Wait};
use crate::{KResult, SysResult};
use alloc::vec::Vec;
use umbra_abi::flags::Prot;
use umbra_abi::syscall::nr::*;
use umbra_abi::Errno;

const NS: u64 = 1_000_000_000;

/// Serves call `n` if it is an IPC call; None otherwise.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    let r = match n {
        SHMGET => sys_shmget(k, a[0] as i32, a[1], a[2] as u32),
        SHMAT => sys_shmat(k, a[0] as i32, a[1], a[2] as u32),
        SHMDT => sys_shmdt(k, a[0]),
        SHMCTL => sys_shmctl(k, a[0] as i32, a[1] as i32, a[2]),
        SEMGET => sys_semget(k, a[0] as i32, a[1] as i32, a[2] as u32),
        SEMOP => return Some(sys_semtimedop(k, a[0] as i32, a[1], a[2], 0, TimeAbi::Long)),
        SEMTIMEDOP => {
            return Some(sys_semtimedop(
                k,
                a[0] as i32,
                a[1],
                a[2],
                a[3],
                TimeAbi::Long,
            ))
        }
        #[cfg(target_arch = "arm")]
        SEMTIMEDOP_TIME64 => {
            return Some(sys_semtimedop(
                k,
                a[0] as i32,
                a[1],
                a[2],
                a[3],
                TimeAbi::Time64,
            ))
        }
        SEMCTL => sys_semctl(k, a[0] as i32, a[1] as i32, a[2] as i32, a[3]),
        MSGGET => sys_msgget(k, a[0] as i32, a[1] as u32),
        MSGSND => return Some(sys_msgsnd(k, a[0] as i32, a[1], a[2], a[3] as u32)),
        MSGRCV => {
            let typ = super::uabi::long_arg(a[3]);
            return Some(sys_msgrcv(k, a[0] as i32, a[1], a[2], typ, a[4] as u32));
        }
        MSGCTL => sys_msgctl(k, a[0] as i32, a[1] as i32, a[2]),
        _ => return mqueue::dispatch(k, n, a),
    };
    Some(Outcome::Ret(r))
}

/// Who is calling, for the checks and records.
pub(crate) fn caller<H: Host>(k: &mut Kernel<H>) -> Caller {
    let now = k.host.now_real() / NS;
    let pid = k.cur;
    let c = &k.proc().creds;
    Caller {
        pid,
        uid: c.ruid,
        euid: c.euid,
        egid: c.egid,
        groups: c.groups.clone(),
        caps: c.caps.effective,
        now,
    }
}

/// The calling thread's id.
pub(crate) fn tid<H: Host>(k: &mut Kernel<H>) -> Pid {
    k.proc().thread.tid
}

/// Whether the current call is a parked one served again (not a new call).
pub(crate) fn retrying<H: Host>(k: &mut Kernel<H>) -> bool {
    matches!(k.proc().thread.state, ThreadState::Blocked(_))
}

/// Whether thread `tid` is parked in one of the syscalls `nrs`.
pub(crate) fn parked_in<H: Host>(k: &Kernel<H>, tid: Pid, nrs: &[usize]) -> bool {
    k.procs.values().flat_map(|p| p.threads()).any(|t| {
        t.tid == tid
            && matches!(t.state, ThreadState::Blocked(_))
            && usize::try_from(t.regs.syscall_nr()).is_ok_and(|n| nrs.contains(&n))
    })
}

/// Strips IPC_64 from a ctl command. On 32-bit ARM a command without it
/// asks for the old structure layouts; umbra does not serve those, so the
/// commands of `layout` (those that pass a structure whose old layout
/// differs) are refused with EINVAL then.
fn ctl_cmd(cmd: i32, layout: &[u32]) -> KResult<u32> {
    if cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let cmd = cmd as u32;
    if cfg!(target_arch = "arm") && cmd & IPC_64 == 0 && layout.contains(&cmd) {
        return Err(Errno::EINVAL);
    }
    Ok(cmd & !IPC_64)
}

fn write_out<H: Host>(k: &mut Kernel<H>, at: u64, b: &[u8]) -> KResult<()> {
    k.user().write_bytes(at, b)
}

// ---- shared memory ----

/// shmget(2).
pub fn sys_shmget<H: Host>(k: &mut Kernel<H>, key: i32, size: u64, flags: u32) -> SysResult {
    let c = caller(k);
    let id = k.ipc.shm.get(&k.frames, key, size, flags, &c, NATIVE)?;
    Ok(id as usize)
}

/// shmat(2): maps the segment shared (the same frames in every attach);
/// without an address the kernel picks one as mmap does.
pub fn sys_shmat<H: Host>(k: &mut Kernel<H>, shmid: i32, addr: u64, flags: u32) -> SysResult {
    if shmid < 0 {
        return Err(Errno::EINVAL);
    }
    let mut addr = addr;
    if addr != 0 {
        if addr & (SHMLBA - 1) != 0 {
            if flags & shm::SHM_RND != 0 {
                addr &= !(SHMLBA - 1);
                if addr == 0 && flags & shm::SHM_REMAP != 0 {
                    return Err(Errno::EINVAL);
                }
            } else if cfg!(target_arch = "arm") || addr & (PAGE_SIZE as u64 - 1) != 0 {
                // 32-bit ARM forces SHMLBA (__ARCH_FORCE_SHMLBA).
                return Err(Errno::EINVAL);
            }
        }
    } else if flags & shm::SHM_REMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let (mut prot, mut acc) = if flags & shm::SHM_RDONLY != 0 {
        (Prot::READ, 0o444)
    } else {
        (Prot::READ | Prot::WRITE, 0o666)
    };
    if flags & shm::SHM_EXEC != 0 {
        prot |= Prot::EXEC;
        acc |= 0o111;
    }
    let c = caller(k);
    k.ipc.shm.reap();
    let (obj, size) = k.ipc.shm.for_attach(shmid, acc, &c)?;
    let len = crate::mm::page_ceil(size).ok_or(Errno::ENOMEM)?;
    let placement = if addr != 0 {
        if flags & shm::SHM_REMAP == 0 {
            let end = addr.checked_add(size).ok_or(Errno::EINVAL)?;
            if k.proc().mm.vmas.overlaps(addr, end) {
                return Err(Errno::EINVAL);
            }
        }
        Placement::Fixed
    } else {
        Placement::Hint
    };
    let kind = VmaKind::Shared {
        obj: obj.clone(),
        offset: 0,
    };
    let (p, _, frames, _) = k.parts();
    let start = p.mm.map(frames, addr, len, prot, kind, placement)?;
    k.ipc.shm.touch(&obj, &c, true);
    Ok(start as usize)
}

/// shmdt(2): unmaps the attach that starts at `addr` (every piece of it
/// that is still mapped).
pub fn sys_shmdt<H: Host>(k: &mut Kernel<H>, addr: u64) -> SysResult {
    if addr & (PAGE_SIZE as u64 - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let c = caller(k);
    let shared: Vec<(u64, u64, alloc::sync::Arc<crate::mm::SharedMem>, u64)> = k
        .proc()
        .mm
        .vmas
        .iter()
        .filter(|v| v.end > addr)
        .filter_map(|v| match &v.kind {
            VmaKind::Shared { obj, offset } => Some((v.start, v.end, obj.clone(), *offset)),
            _ => None,
        })
        .collect();
    let at = |start: u64, off: u64| start >= addr && start - addr == off;
    let Some((obj, size)) = shared.iter().find_map(|(s, _, obj, off)| {
        if !at(*s, *off) {
            return None;
        }
        k.ipc.shm.size_of(obj).map(|sz| (obj.clone(), sz))
    }) else {
        return Err(Errno::EINVAL);
    };
    let size = crate::mm::page_ceil(size).unwrap_or(u64::MAX);
    let mut first = true;
    for (s, e, o, off) in &shared {
        if !alloc::sync::Arc::ptr_eq(o, &obj) || !at(*s, *off) {
            continue;
        }
        if !first && e - addr > size {
            break;
        }
        first = false;
        let (p, _, frames, _) = k.parts();
        p.mm.munmap(frames, *s, e - s)?;
    }
    drop(shared);
    k.ipc.shm.touch(&obj, &c, false);
    drop(obj);
    k.ipc.shm.reap();
    Ok(0)
}

/// shmctl(2).
pub fn sys_shmctl<H: Host>(k: &mut Kernel<H>, shmid: i32, cmd: i32, buf: u64) -> SysResult {
    let cmd = ctl_cmd(
        cmd,
        &[
            IPC_STAT,
            IPC_SET,
            IPC_INFO,
            shm::SHM_STAT,
            shm::SHM_STAT_ANY,
        ],
    )?;
    // Every command, the INFO ones too, refuses a negative identifier.
    if shmid < 0 {
        return Err(Errno::EINVAL);
    }
    k.ipc.shm.reap();
    let c = caller(k);
    let w = NATIVE;
    match cmd {
        IPC_INFO => {
            write_out(k, buf, &shm::ShmNs::info(w))?;
            Ok(k.ipc.shm.table.max_idx().max(0) as usize)
        }
        shm::SHM_INFO => {
            let b = k.ipc.shm.shm_info(w);
            write_out(k, buf, &b)?;
            Ok(k.ipc.shm.table.max_idx().max(0) as usize)
        }
        shm::SHM_STAT | shm::SHM_STAT_ANY => {
            let (id, (perm, _)) = k.ipc.shm.table.by_index(shmid)?;
            if cmd == shm::SHM_STAT {
                perm.check(&c, 0o444)?;
            }
            let b = k.ipc.shm.stat(id, w)?;
            write_out(k, buf, &b)?;
            Ok(id as usize)
        }
        IPC_STAT => {
            k.ipc.shm.table.get(shmid)?.0.check(&c, 0o444)?;
            let b = k.ipc.shm.stat(shmid, w)?;
            write_out(k, buf, &b)?;
            Ok(0)
        }
        IPC_SET => {
            let b = k.user().read_vec(buf, crate::ipc::Perm::size(w))?;
            k.ipc.shm.set(shmid, &b, &c)?;
            Ok(0)
        }
        IPC_RMID => {
            k.ipc.shm.remove(shmid, &c)?;
            Ok(0)
        }
        shm::SHM_LOCK | shm::SHM_UNLOCK => {
            let memlock = k.proc().rlimit(umbra_abi::flags::RLIMIT_MEMLOCK).rlim_cur;
            k.ipc.shm.lock(shmid, cmd == shm::SHM_LOCK, memlock, &c)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

// ---- semaphores ----

/// semget(2).
pub fn sys_semget<H: Host>(k: &mut Kernel<H>, key: i32, nsems: i32, flags: u32) -> SysResult {
    let c = caller(k);
    Ok(k.ipc.sem.get(key, nsems, flags, &c)? as usize)
}

/// semop(2) and semtimedop(2) (`timeout` 0: none).
pub fn sys_semtimedop<H: Host>(
    k: &mut Kernel<H>,
    semid: i32,
    sops: u64,
    nsops: u64,
    timeout: u64,
    t: TimeAbi,
) -> Outcome {
    match semtimedop(k, semid, sops, nsops, timeout, t) {
        Ok(Some(deadline)) => Outcome::Block(Wait::Event {
            deadline,
            restart: Restart::Never,
        }),
        Ok(None) => Outcome::Ret(Ok(0)),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// The work of semtimedop: Ok(None) done, Ok(Some(deadline)) must wait (the
/// waiter is registered).
fn semtimedop<H: Host>(
    k: &mut Kernel<H>,
    semid: i32,
    sops_at: u64,
    nsops: u64,
    timeout: u64,
    t: TimeAbi,
) -> KResult<Option<Option<u64>>> {
    let me = tid(k);
    let stored = k.ipc.sem.waiters.remove(&me);
    let (sops, deadline) = match stored {
        Some(w) if retrying(k) => {
            if !k.ipc.sem.table.contains(w.semid) {
                return Err(Errno::EIDRM);
            }
            (w.sops, w.deadline)
        }
        _ => {
            if nsops < 1 || semid < 0 {
                return Err(Errno::EINVAL);
            }
            if nsops > sem::SEMOPM as u64 {
                return Err(Errno::E2BIG);
            }
            let raw = k.user().read_vec(sops_at, nsops as usize * 6)?;
            let sops: Vec<Sembuf> = raw.chunks_exact(6).map(Sembuf::decode).collect();
            let deadline = if timeout != 0 {
                let ts = read_timespec(k, timeout, t)?;
                if ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= NS as i64 {
                    return Err(Errno::EINVAL);
                }
                let ns = (ts.tv_sec as u64)
                    .saturating_mul(NS)
                    .saturating_add(ts.tv_nsec as u64);
                Some(k.host.now_mono().saturating_add(ns))
            } else {
                None
            };
            (sops, deadline)
        }
    };
    let c = caller(k);
    k.ipc.sem.check_op(semid, &sops, &c)?;
    match k.ipc.sem.try_op(semid, &sops, &c)? {
        OpResult::Done => Ok(None),
        OpResult::Wait(num, op) => {
            if deadline.is_some_and(|d| k.host.now_mono() >= d) {
                return Err(Errno::EAGAIN);
            }
            k.ipc.sem.waiters.insert(
                me,
                sem::Waiter {
                    semid,
                    sops,
                    blocking: (num, op),
                    deadline,
                },
            );
            Ok(Some(deadline))
        }
    }
}

/// The semop syscall numbers of this arch (GETNCNT counts their waiters).
fn semop_nrs() -> &'static [usize] {
    #[cfg(target_arch = "arm")]
    {
        &[SEMOP, SEMTIMEDOP, SEMTIMEDOP_TIME64]
    }
    #[cfg(not(target_arch = "arm"))]
    {
        &[SEMOP, SEMTIMEDOP]
    }
}

/// semctl(2); `arg` is the union semun, passed by value.
pub fn sys_semctl<H: Host>(
    k: &mut Kernel<H>,
    semid: i32,
    num: i32,
    cmd: i32,
    arg: u64,
) -> SysResult {
    let cmd = ctl_cmd(cmd, &[IPC_STAT, IPC_SET, sem::SEM_STAT, sem::SEM_STAT_ANY])?;
    // Every command, the INFO ones too, refuses a negative identifier.
    if semid < 0 {
        return Err(Errno::EINVAL);
    }
    let c = caller(k);
    let w = NATIVE;
    match cmd {
        IPC_INFO | sem::SEM_INFO => {
            let b = k.ipc.sem.info(cmd == sem::SEM_INFO);
            write_out(k, arg, &b)?;
            Ok(k.ipc.sem.table.max_idx().max(0) as usize)
        }
        sem::SEM_STAT | sem::SEM_STAT_ANY => {
            let (id, (perm, _)) = k.ipc.sem.table.by_index(semid)?;
            if cmd == sem::SEM_STAT {
                perm.check(&c, 0o444)?;
            }
            let b = k.ipc.sem.stat(id, w)?;
            write_out(k, arg, &b)?;
            Ok(id as usize)
        }
        IPC_STAT => {
            k.ipc.sem.table.get(semid)?.0.check(&c, 0o444)?;
            let b = k.ipc.sem.stat(semid, w)?;
            write_out(k, arg, &b)?;
            Ok(0)
        }
        IPC_SET => {
            let b = k.user().read_vec(arg, crate::ipc::Perm::size(w))?;
            k.ipc.sem.set(semid, &b, &c)?;
            Ok(0)
        }
        IPC_RMID => {
            k.ipc.sem.remove(semid, &c)?;
            Ok(0)
        }
        sem::SETVAL => {
            k.ipc.sem.setval(semid, num, arg as u32 as i32, &c)?;
            Ok(0)
        }
        sem::GETALL | sem::SETALL | sem::GETVAL | sem::GETPID | sem::GETNCNT | sem::GETZCNT => {
            let (perm, set) = k.ipc.sem.table.get(semid)?;
            let n = set.sems.len();
            perm.check(&c, if cmd == sem::SETALL { 0o222 } else { 0o444 })?;
            match cmd {
                sem::GETALL => {
                    let b: Vec<u8> = set
                        .sems
                        .iter()
                        .flat_map(|s| (s.val as u16).to_ne_bytes())
                        .collect();
                    write_out(k, arg, &b)?;
                    return Ok(0);
                }
                sem::SETALL => {
                    let b = k.user().read_vec(arg, n * 2)?;
                    let vals: Vec<u16> = b
                        .chunks_exact(2)
                        .map(|h| u16::from_ne_bytes([h[0], h[1]]))
                        .collect();
                    k.ipc.sem.setall(semid, &vals, &c)?;
                    return Ok(0);
                }
                _ => {}
            }
            let i = usize::try_from(num)
                .ok()
                .filter(|i| *i < n)
                .ok_or(Errno::EINVAL)?;
            let s = set.sems[i];
            Ok(match cmd {
                sem::GETVAL => s.val as usize,
                sem::GETPID => s.pid as usize,
                _ => {
                    let zero = cmd == sem::GETZCNT;
                    let waiters: Vec<u32> = k
                        .ipc
                        .sem
                        .waiters
                        .iter()
                        .filter(|(_, w)| {
                            w.semid == semid
                                && w.blocking.0 as usize == i
                                && (w.blocking.1 == 0) == zero
                        })
                        .map(|(t, _)| *t)
                        .collect();
                    waiters
                        .into_iter()
                        .filter(|t| parked_in(k, *t, semop_nrs()))
                        .count()
                }
            })
        }
        _ => Err(Errno::EINVAL),
    }
}

// ---- message queues ----

/// msgget(2).
pub fn sys_msgget<H: Host>(k: &mut Kernel<H>, key: i32, flags: u32) -> SysResult {
    let c = caller(k);
    Ok(k.ipc.msg.get(key, flags, &c)? as usize)
}

fn park_msg<H: Host>(k: &mut Kernel<H>, w: msg::Waiter) -> Outcome {
    let me = tid(k);
    k.ipc.msg.waiters.insert(me, w);
    Outcome::Block(Wait::Event {
        deadline: None,
        restart: Restart::Never,
    })
}

/// msgsnd(2).
pub fn sys_msgsnd<H: Host>(
    k: &mut Kernel<H>,
    msqid: i32,
    msgp: u64,
    size: u64,
    flags: u32,
) -> Outcome {
    let me = tid(k);
    let stored = k.ipc.msg.waiters.remove(&me);
    let m = match stored {
        Some(msg::Waiter {
            msqid: id,
            send: Some(m),
        }) if retrying(k) => {
            if !k.ipc.msg.table.contains(id) {
                return Outcome::Ret(Err(Errno::EIDRM));
            }
            m
        }
        _ => match read_msg(k, msqid, msgp, size) {
            Ok(m) => m,
            Err(e) => return Outcome::Ret(Err(e)),
        },
    };
    let c = caller(k);
    let r = k
        .ipc
        .msg
        .check(msqid, true, &c)
        .and_then(|()| k.ipc.msg.send(msqid, &m, flags & IPC_NOWAIT != 0, &c));
    match r {
        Ok(true) => Outcome::Ret(Ok(0)),
        Ok(false) => park_msg(
            k,
            msg::Waiter {
                msqid,
                send: Some(m),
            },
        ),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// Copies a message to send: mtype (a long), then the text.
fn read_msg<H: Host>(k: &mut Kernel<H>, msqid: i32, msgp: u64, size: u64) -> KResult<Msg> {
    let wb = NATIVE.bytes();
    let tb = k.user().read_vec(msgp, wb)?;
    let mtype = match NATIVE {
        Long::W32 => i32::from_ne_bytes([tb[0], tb[1], tb[2], tb[3]]) as i64,
        Long::W64 => i64::from_ne_bytes(tb[..8].try_into().map_err(|_| Errno::EFAULT)?),
    };
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    if size > msg::MSGMAX || (size as i64) < 0 || msqid < 0 {
        return Err(Errno::EINVAL);
    }
    let at = msgp.checked_add(wb as u64).ok_or(Errno::EFAULT)?;
    let text = k.user().read_vec(at, size as usize)?;
    Ok(Msg { mtype, text })
}

/// msgrcv(2).
pub fn sys_msgrcv<H: Host>(
    k: &mut Kernel<H>,
    msqid: i32,
    msgp: u64,
    size: u64,
    msgtyp: i64,
    flags: u32,
) -> Outcome {
    let me = tid(k);
    let stored = k.ipc.msg.waiters.remove(&me);
    if let Some(w) = stored {
        if retrying(k) && !k.ipc.msg.table.contains(w.msqid) {
            return Outcome::Ret(Err(Errno::EIDRM));
        }
    }
    let size = match NATIVE {
        Long::W32 => size as u32 as i32 as i64,
        Long::W64 => size as i64,
    };
    if msqid < 0 || size < 0 {
        return Outcome::Ret(Err(Errno::EINVAL));
    }
    if flags & msg::MSG_COPY != 0 {
        if flags & msg::MSG_EXCEPT != 0 || flags & IPC_NOWAIT == 0 {
            return Outcome::Ret(Err(Errno::EINVAL));
        }
        // MSG_COPY is for checkpoint/restore, which umbra does not do.
        return Outcome::Ret(Err(Errno::ENOSYS));
    }
    let pick = Pick::new(msgtyp, flags);
    let c = caller(k);
    let r = k
        .ipc
        .msg
        .check(msqid, false, &c)
        .and_then(|()| k.ipc.msg.recv(msqid, size as u64, pick, flags, &c));
    match r {
        Ok(Some(m)) => {
            let mut b = Vec::with_capacity(8 + m.text.len());
            crate::ipc::put_long(&mut b, m.mtype as u64, NATIVE);
            b.extend_from_slice(&m.text);
            Outcome::Ret(write_out(k, msgp, &b).map(|()| m.text.len()))
        }
        Ok(None) if flags & IPC_NOWAIT != 0 => Outcome::Ret(Err(Errno::ENOMSG)),
        Ok(None) => park_msg(k, msg::Waiter { msqid, send: None }),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// msgctl(2).
pub fn sys_msgctl<H: Host>(k: &mut Kernel<H>, msqid: i32, cmd: i32, buf: u64) -> SysResult {
    let cmd = ctl_cmd(cmd, &[IPC_STAT, IPC_SET, msg::MSG_STAT, msg::MSG_STAT_ANY])?;
    // Every command, the INFO ones too, refuses a negative identifier.
    if msqid < 0 {
        return Err(Errno::EINVAL);
    }
    let c = caller(k);
    let w = NATIVE;
    match cmd {
        IPC_INFO | msg::MSG_INFO => {
            let b = k.ipc.msg.info(cmd == msg::MSG_INFO);
            write_out(k, buf, &b)?;
            Ok(k.ipc.msg.table.max_idx().max(0) as usize)
        }
        msg::MSG_STAT | msg::MSG_STAT_ANY => {
            let (id, (perm, _)) = k.ipc.msg.table.by_index(msqid)?;
            if cmd == msg::MSG_STAT {
                perm.check(&c, 0o444)?;
            }
            let b = k.ipc.msg.stat(id, w)?;
            write_out(k, buf, &b)?;
            Ok(id as usize)
        }
        IPC_STAT => {
            k.ipc.msg.check(msqid, false, &c)?;
            let b = k.ipc.msg.stat(msqid, w)?;
            write_out(k, buf, &b)?;
            Ok(0)
        }
        IPC_SET => {
            // struct msqid64_ds: 120 bytes on 64-bit guests, 88 on 32-bit.
            let len = match w {
                Long::W64 => 120,
                Long::W32 => 88,
            };
            let b = k.user().read_vec(buf, len)?;
            k.ipc.msg.set(msqid, &b, &c, w)?;
            Ok(0)
        }
        IPC_RMID => {
            k.ipc.msg.remove(msqid, &c)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

// ---- process life ----

/// Notes the segments process `pid` has attached as detached (its exit or
/// exec drops the address space).
fn detach_all<H: Host>(k: &mut Kernel<H>, pid: Pid) {
    let c = Caller {
        pid,
        now: k.host.now_real() / NS,
        ..caller_of(k, pid)
    };
    // The objects by address, once each: one pass over the segments then,
    // however many areas the process has.
    let mut objs: Vec<usize> = match k.procs.get(&pid) {
        Some(p) => {
            let p: &crate::task::Process = p;
            p.mm.vmas
                .iter()
                .filter_map(|v| match &v.kind {
                    VmaKind::Shared { obj, .. } => Some(alloc::sync::Arc::as_ptr(obj) as usize),
                    _ => None,
                })
                .collect()
        }
        None => return,
    };
    crate::sort::sort(&mut objs);
    objs.dedup();
    if !objs.is_empty() {
        k.ipc.shm.detached(&objs, &c);
    }
}

fn caller_of<H: Host>(k: &Kernel<H>, pid: Pid) -> Caller {
    let (uid, euid, egid) = k
        .procs
        .get(&pid)
        .map_or((0, 0, 0), |p| (p.creds.ruid, p.creds.euid, p.creds.egid));
    Caller {
        pid,
        uid,
        euid,
        egid,
        groups: Vec::new(),
        caps: 0,
        now: 0,
    }
}

/// Process `pid` exits: its SEM_UNDO adjustments apply, its attaches are
/// recorded as detached, and its waits and notifications go.
pub(crate) fn exit_release<H: Host>(k: &mut Kernel<H>, pid: Pid) {
    if !cfg!(feature = "ipc") {
        // Built without IPC: the calls are ENOSYS, so nothing was made.
        return;
    }
    detach_all(k, pid);
    k.ipc.sem.exit(pid);
    k.ipc.msg.waiters.remove(&pid);
    mqueue::exit_release(k, pid);
}

/// Process `pid` execs: its attaches are recorded as detached.
pub(crate) fn exec_release<H: Host>(k: &mut Kernel<H>, pid: Pid) {
    if !cfg!(feature = "ipc") {
        return;
    }
    detach_all(k, pid);
}
