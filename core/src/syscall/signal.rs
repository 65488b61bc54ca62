//! Signal syscalls: rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack,
//! kill, tkill, tgkill, rt_sigsuspend, pause, rt_sigpending, rt_sigtimedwait.

use super::uabi;
use super::Outcome;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::{UserInPtr, UserOutPtr};
use crate::task::signal::{code, AltStack, SigSet, SS_DISABLE, SS_ONSTACK, UNBLOCKABLE};
use crate::task::{Pid, Restart, SigAction, SigInfo, Wait};
use crate::{KResult, SysResult};
use alloc::vec::Vec;
use umbra_abi::signal::*;
use umbra_abi::Errno;

fn read_action<H: Host>(k: &mut Kernel<H>, at: u64) -> KResult<SigAction> {
    // struct kernel_sigaction: handler, flags, restorer, mask.
    let b = k.user().read_vec(at, uabi::sigaction_size(uabi::NATIVE))?;
    let mut a = uabi::decode_sigaction(&b, uabi::NATIVE);
    a.mask &= !UNBLOCKABLE.0;
    Ok(a)
}

/// rt_sigaction(2).
pub fn sys_rt_sigaction<H: Host>(
    k: &mut Kernel<H>,
    sig: u32,
    act: u64,
    old: u64,
    size: usize,
) -> SysResult {
    if size != 8 || sig == 0 || sig > NSIG {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        Some(read_action(k, act)?)
    } else {
        None
    };
    if new.is_some() && UNBLOCKABLE.contains(sig) {
        return Err(Errno::EINVAL);
    }
    let prev = k.proc().sigactions[(sig - 1) as usize];
    if old != 0 {
        k.user()
            .write_bytes(old, &uabi::encode_sigaction(&prev, uabi::NATIVE))?;
    }
    if let Some(a) = new {
        let p = k.proc();
        p.sigactions[(sig - 1) as usize] = a;
        // Setting SIG_IGN (or a default of ignore) discards the pending signal.
        if a.ignores(sig) {
            p.discard_signal(sig);
        }
    }
    Ok(0)
}

/// rt_sigprocmask(2).
pub fn sys_rt_sigprocmask<H: Host>(
    k: &mut Kernel<H>,
    how: u32,
    set: u64,
    old: u64,
    size: usize,
) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let cur = k.proc().thread.sigmask.0;
    let new = if set != 0 {
        let s: u64 = k.user().read(UserInPtr::new(set))?;
        Some(match how {
            SIG_BLOCK => cur | s,
            SIG_UNBLOCK => cur & !s,
            SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL),
        })
    } else {
        None
    };
    if old != 0 {
        k.user().write(UserOutPtr::<u64>::new(old), &cur)?;
    }
    if let Some(m) = new {
        k.proc().thread.sigmask = SigSet(m & !UNBLOCKABLE.0);
    }
    Ok(0)
}

/// rt_sigreturn(2), and with `rt` false the old sigreturn of 32-bit ARM
/// (the frame of a handler without SA_SIGINFO).
pub fn sys_rt_sigreturn<H: Host>(k: &mut Kernel<H>, rt: bool) -> Outcome {
    match k.sigreturn(rt) {
        Ok(()) => Outcome::Regs,
        Err(_) => {
            // A corrupt frame: Linux kills the process with SIGSEGV.
            let pid = k.cur;
            k.exit_process(
                pid,
                crate::task::ExitStatus::Signaled {
                    sig: SIGSEGV,
                    core: true,
                },
            );
            Outcome::Exited
        }
    }
}

/// sigaltstack(2).
pub fn sys_sigaltstack<H: Host>(k: &mut Kernel<H>, ss: u64, old: u64) -> SysResult {
    #[cfg(target_arch = "aarch64")]
    const MINSIGSTKSZ: u64 = 5120;
    #[cfg(not(target_arch = "aarch64"))]
    const MINSIGSTKSZ: u64 = 2048;
    const SS_AUTODISARM: u32 = 1 << 31;
    let sp = k.proc().thread.regs.sp();
    let cur = k.proc().thread.altstack;
    let on = cur.contains(sp);
    if old != 0 {
        let flags = if cur.flags & SS_DISABLE != 0 {
            SS_DISABLE
        } else if on {
            SS_ONSTACK
        } else {
            0
        };
        let b = uabi::encode_stack(cur.sp, flags, cur.size, uabi::NATIVE);
        k.user().write_bytes(old, &b)?;
    }
    if ss != 0 {
        let b = k.user().read_vec(ss, uabi::stack_size(uabi::NATIVE))?;
        let (ss_sp, flags, ss_size) = uabi::decode_stack(&b, uabi::NATIVE);
        if on {
            return Err(Errno::EPERM);
        }
        // As Linux: the mode is SS_DISABLE, SS_ONSTACK or 0, and only
        // SS_AUTODISARM may be added.
        let mode = flags & !SS_AUTODISARM;
        if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
            return Err(Errno::EINVAL);
        }
        let new = if mode == SS_DISABLE {
            AltStack::disabled()
        } else {
            if ss_size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            AltStack {
                sp: ss_sp,
                size: ss_size,
                flags: 0,
            }
        };
        k.proc().thread.altstack = new;
    }
    Ok(0)
}

/// The processes `kill(pid)` addresses.
fn kill_targets<H: Host>(k: &Kernel<H>, pid: i32) -> Vec<Pid> {
    let me = k.cur;
    let my_pgid = k.process(me).map_or(0, |p| p.pgid);
    // kill(2) of a thread id signals its process, as on Linux.
    let pid = match u32::try_from(pid) {
        Ok(tid) if tid > 0 => k.tgid_of(tid).map_or(pid, |p| p as i32),
        _ => pid,
    };
    k.pids()
        .into_iter()
        .filter(|&p| {
            let Some(proc) = k.process(p) else {
                return false;
            };
            match pid {
                0 => proc.pgid == my_pgid,
                -1 => p != 1 && p != me,
                n if n > 0 => p == n as u32,
                n => proc.pgid == n.unsigned_abs(),
            }
        })
        .collect()
}

/// pid 1 of the guest is the init of its namespace: signals it neither
/// handles nor blocks, SIGKILL and SIGSTOP included, are dropped when other
/// guest processes send them (Linux's SIGNAL_UNKILLABLE; blocked signals stay
/// pending, so sigwaitinfo still sees them); in a container
/// (`Config::container_init`) also those it sends itself.
fn init_shields<H: Host>(k: &Kernel<H>, pid: Pid, sig: u32) -> bool {
    pid == 1
        && (k.cur != 1 || k.cfg.container_init)
        && sig != 0
        && k.process(1).is_some_and(|p| {
            let blocked = p.thread.sigmask.contains(sig) && !UNBLOCKABLE.contains(sig);
            !blocked && !p.sigactions[(sig - 1) as usize].has_handler()
        })
}

/// kill(2): a process, the caller's group (0), a group (-pgid), or every
/// process but pid 1 and the caller (-1). The guest runs as root, so every
/// target is permitted.
pub fn sys_kill<H: Host>(k: &mut Kernel<H>, pid: i32, sig: u32) -> SysResult {
    if sig > NSIG {
        return Err(Errno::EINVAL);
    }
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    let targets = kill_targets(k, pid);
    if targets.is_empty() {
        // A zombie still exists until reaped: signals to it are discarded.
        let zombie = pid > 0 && k.zombies.contains_key(&(pid as u32));
        return if zombie { Ok(0) } else { Err(Errno::ESRCH) };
    }
    let info = SigInfo {
        signo: sig,
        code: code::SI_USER,
        pid: k.cur,
        uid: k.proc().creds.ruid,
        ..SigInfo::default()
    };
    // As Linux: success if any target could be signalled, else the error.
    let mut denied = false;
    let mut sent = false;
    for t in targets {
        if !may_kill(k, t, sig) {
            denied = true;
            continue;
        }
        sent = true;
        if init_shields(k, t, sig) {
            continue;
        }
        k.send_signal(t, sig, info)?;
    }
    if denied && !sent {
        return Err(Errno::EPERM);
    }
    Ok(0)
}

/// check_kill_permission: the sender's real or effective uid is the
/// target's real or saved one, or the sender has CAP_KILL, or the signal is
/// SIGCONT within the session.
fn may_kill<H: Host>(k: &mut Kernel<H>, target: crate::task::Pid, sig: u32) -> bool {
    let (me, sid) = {
        let p = k.proc();
        (p.creds.clone(), p.sid)
    };
    let Some(t) = k.process(target) else {
        return true;
    };
    let tc = &t.creds;
    me.capable(crate::task::cred::CAP_KILL)
        || [me.euid, me.ruid]
            .iter()
            .any(|&u| u == tc.ruid || u == tc.suid)
        || (sig == SIGCONT && t.sid == sid)
}

/// tkill(2) and tgkill(2): a signal to one thread; tgkill's `tgid` must be
/// the thread's process (ESRCH otherwise), tkill passes -1.
pub fn sys_tgkill<H: Host>(k: &mut Kernel<H>, tgid: i32, tid: i32, sig: u32) -> SysResult {
    if tid <= 0 || (tgid != -1 && tgid <= 0) || sig > NSIG {
        return Err(Errno::EINVAL);
    }
    let tid = tid as u32;
    let Some(pid) = k.tgid_of(tid) else {
        // A zombie exists until reaped: a signal to it is discarded.
        let zombie = k.zombies.contains_key(&tid) && (tgid == -1 || tgid as u32 == tid);
        return if zombie { Ok(0) } else { Err(Errno::ESRCH) };
    };
    if tgid != -1 && tgid as u32 != pid {
        return Err(Errno::ESRCH);
    }
    if k.process(pid).and_then(|p| p.thread_by_tid(tid)).is_none() {
        return Err(Errno::ESRCH);
    }
    let info = SigInfo {
        signo: sig,
        code: code::SI_TKILL,
        pid: k.cur,
        uid: k.proc().creds.ruid,
        ..SigInfo::default()
    };
    if !may_kill(k, pid, sig) {
        return Err(Errno::EPERM);
    }
    if init_shields(k, pid, sig) {
        return Ok(0);
    }
    k.send_thread_signal(pid, tid, sig, info)?;
    Ok(0)
}

/// rt_sigsuspend(2): waits for a signal with a temporary mask.
pub fn sys_rt_sigsuspend<H: Host>(k: &mut Kernel<H>, set: u64, size: usize) -> Outcome {
    if size != 8 {
        return Outcome::Ret(Err(Errno::EINVAL));
    }
    let mask: u64 = match k.user().read(UserInPtr::new(set)) {
        Ok(m) => m,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let t = &mut k.proc().thread;
    if t.saved_mask.is_none() {
        t.saved_mask = Some(t.sigmask);
    }
    t.sigmask = SigSet(mask & !UNBLOCKABLE.0);
    Outcome::Block(Wait::Signal)
}

/// pause(2).
pub fn sys_pause<H: Host>(_k: &mut Kernel<H>) -> Outcome {
    Outcome::Block(Wait::Signal)
}

/// rt_sigpending(2): the pending signals the caller blocks.
pub fn sys_rt_sigpending<H: Host>(k: &mut Kernel<H>, out: u64, size: usize) -> SysResult {
    if size > 8 {
        return Err(Errno::EINVAL);
    }
    let p = k.proc();
    let set = (p.pending.0 | p.thread.pending.0) & p.thread.sigmask.0;
    k.user().write_bytes(out, &set.to_ne_bytes()[..size])?;
    Ok(0)
}

/// rt_sigtimedwait(2): takes a pending signal of `set`, waiting up to `timeout`.
pub fn sys_rt_sigtimedwait<H: Host>(
    k: &mut Kernel<H>,
    set: u64,
    info: u64,
    timeout: u64,
    size: usize,
    tabi: uabi::TimeAbi,
) -> Outcome {
    let r = (|| -> KResult<Option<usize>> {
        if size != 8 {
            return Err(Errno::EINVAL);
        }
        // Once per call: the set it waits for is the one it was given.
        let b = k.read_once(set, 8)?;
        let want = u64::from_ne_bytes(b.try_into().map_err(|_| Errno::EFAULT)?);
        let want = SigSet(want & !UNBLOCKABLE.0);
        let p = k.proc();
        let hit = SigSet((p.pending.0 | p.thread.pending.0) & want.0);
        if let Some(sig) = hit.first() {
            let si = p.dequeue_signal(sig);
            if info != 0 {
                k.user().write_bytes(info, &si.encode())?;
            }
            return Ok(Some(sig as usize));
        }
        if timeout != 0 {
            let t = uabi::read_timespec(k, timeout, tabi)?;
            if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
                return Err(Errno::EINVAL);
            }
            let ns = (t.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(t.tv_nsec as u64);
            k.deadline_after(ns);
            if k.deadline_passed() {
                return Err(Errno::EAGAIN);
            }
        }
        Ok(None)
    })();
    match r {
        Ok(Some(sig)) => Outcome::Ret(Ok(sig)),
        Ok(None) => {
            let deadline = k.proc().thread.deadline;
            Outcome::Block(Wait::Event {
                deadline,
                restart: Restart::Never,
            })
        }
        Err(e) => Outcome::Ret(Err(e)),
    }
}
