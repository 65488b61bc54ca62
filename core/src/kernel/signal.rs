//! Signal generation and delivery.
//!
//! Generation (`send_signal`) applies what takes effect at once — SIGKILL and
//! SIGCONT wake a stopped process, ignored signals are dropped — and marks the
//! rest pending. Delivery (`handle_signals`) runs just before a thread returns to
//! user mode: it takes the default action, or builds the arch's rt_sigframe and
//! enters the handler, interrupting a blocked syscall with EINTR or restarting it
//! under SA_RESTART.

use super::Kernel;
use crate::arch::signal as frame;
use crate::host::{Host, LogLevel};
use crate::task::signal::{code, default_action, DefaultAction, SigSet, STOP_SIGNALS, UNBLOCKABLE};
use crate::task::{
    ExitStatus, JobReport, JobState, Pid, Process, Restart, SigInfo, Thread, ThreadState, Wait,
};
use crate::KResult;
use umbra_abi::signal::*;
use umbra_abi::Errno;

/// Signals waiting for thread `t` of `p` that it does not block: its own
/// and the process's.
fn thread_deliverable(p: &Process, t: &Thread) -> SigSet {
    let pending = SigSet(t.pending.0 | p.pending.0);
    SigSet(pending.0 & !(t.sigmask.0 & !UNBLOCKABLE.0))
}

/// Signals waiting for `p`'s current thread that it does not block.
fn deliverable(p: &Process) -> SigSet {
    thread_deliverable(p, &p.thread)
}

/// Whether a signal would be delivered to thread `t` of `p` on its way to
/// user mode. A vfork parent waits killably, as on Linux: only a fatal
/// signal ends its wait; the others stay pending until the child execs or
/// exits.
pub(super) fn thread_has_deliverable(p: &Process, t: &Thread) -> bool {
    let set = thread_deliverable(p, t);
    if let ThreadState::Blocked(Wait::Vfork(_)) = t.state {
        return (1..=NSIG).any(|s| set.contains(s) && is_fatal(p, s));
    }
    !set.is_empty()
}

/// Whether a signal would be delivered to `p`'s current thread.
pub(super) fn has_deliverable(p: &Process) -> bool {
    thread_has_deliverable(p, &p.thread)
}

/// Whether delivering `sig` to `p` kills it.
fn is_fatal(p: &Process, sig: u32) -> bool {
    if sig == SIGKILL {
        return true;
    }
    let act = p.sigactions[(sig - 1) as usize];
    act.handler == SIG_DFL
        && matches!(
            default_action(sig),
            DefaultAction::Terminate | DefaultAction::Core
        )
}

impl<H: Host> Kernel<H> {
    /// Sends `sig` to process `pid`: any of its threads that does not block
    /// it takes it. Signal 0 only checks that it exists.
    pub(crate) fn send_signal(&mut self, pid: Pid, sig: u32, info: SigInfo) -> KResult<()> {
        self.send_signal_to(pid, None, sig, info)
    }

    /// Sends `sig` to thread `tid` of process `pid` (tkill, tgkill).
    pub(crate) fn send_thread_signal(
        &mut self,
        pid: Pid,
        tid: Pid,
        sig: u32,
        info: SigInfo,
    ) -> KResult<()> {
        self.send_signal_to(pid, Some(tid), sig, info)
    }

    fn send_signal_to(
        &mut self,
        pid: Pid,
        tid: Option<Pid>,
        sig: u32,
        info: SigInfo,
    ) -> KResult<()> {
        if sig > NSIG {
            return Err(Errno::EINVAL);
        }
        let Some(p) = self.procs.get_mut(&pid) else {
            // A zombie exists until reaped; signals to it are discarded.
            return if self.zombies.contains_key(&pid) && tid.is_none() {
                Ok(())
            } else {
                Err(Errno::ESRCH)
            };
        };
        if tid.is_some_and(|t| p.thread_by_tid(t).is_none()) {
            return Err(Errno::ESRCH);
        }
        if sig == 0 {
            return Ok(());
        }
        self.epoch += 1;
        let mut notify_parent = None;
        if sig == SIGKILL || sig == SIGCONT {
            if let JobState::Stopped(_) = p.job {
                p.job = JobState::Running;
                if sig == SIGCONT {
                    p.job_report = Some(JobReport::Continued);
                    notify_parent = Some((p.ppid, code::CLD_CONTINUED, SIGCONT as i32));
                }
            }
            for s in (1..=NSIG).filter(|&s| STOP_SIGNALS.contains(s)) {
                p.discard_signal(s);
            }
        } else if STOP_SIGNALS.contains(sig) {
            p.discard_signal(SIGCONT);
        }
        let action = p.sigactions[(sig - 1) as usize];
        // Whether the target blocks it: the thread, or for the process its
        // leader (Linux's sig_ignored looks at the task the pid names).
        let target = tid.unwrap_or(pid);
        let mask = p.thread_by_tid(target).unwrap_or(&p.thread).sigmask;
        let blocked = mask.contains(sig) && !UNBLOCKABLE.contains(sig);
        if sig != SIGKILL && action.ignores(sig) && !blocked {
            // Dropped at generation, as Linux does (SIGCONT's effect stays).
        } else {
            let queued = match tid.and_then(|t| p.thread_by_tid_mut(t)) {
                Some(t) => t.enqueue_signal(sig, info),
                None => p.enqueue_signal(sig, info),
            };
            if !queued {
                return Err(Errno::EAGAIN);
            }
        }
        let pid = p.pid;
        if let Some((ppid, c, status)) = notify_parent {
            self.notify_parent(ppid, pid, c, status);
        }
        Ok(())
    }

    /// Sends SIGCHLD for a child's state change, unless the parent asked not to
    /// hear about stops (SA_NOCLDSTOP).
    pub(super) fn notify_parent(&mut self, ppid: Pid, child: Pid, c: i32, status: i32) {
        let Some(parent) = self.procs.get(&ppid) else {
            return;
        };
        let act = parent.sigactions[(SIGCHLD - 1) as usize];
        if (c == code::CLD_STOPPED || c == code::CLD_CONTINUED) && act.flags & SA_NOCLDSTOP != 0 {
            self.epoch += 1;
            return;
        }
        let info = SigInfo {
            signo: SIGCHLD,
            code: c,
            pid: child,
            status,
            ..SigInfo::default()
        };
        let _ = self.send_signal(ppid, SIGCHLD, info);
    }

    /// A signal the CPU raised in the current thread (a fault): it cannot be
    /// blocked or ignored; if it is, the process dies of it, as on Linux.
    pub(super) fn force_signal(&mut self, sig: u32, si_code: i32, addr: u64) {
        let pid = self.cur;
        if self.cfg.strace {
            self.host.log(
                LogLevel::Trace,
                format_args!(
                    "[pid {pid}] --- {} {{si_code={si_code}, si_addr={addr:#x}}} ---",
                    name(sig)
                ),
            );
        }
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let act = &mut p.sigactions[(sig - 1) as usize];
        if p.thread.sigmask.contains(sig) || act.handler == SIG_IGN {
            *act = Default::default();
            p.thread.sigmask.remove(sig);
        }
        p.thread.pending.add(sig);
        p.thread.sig_wake = crate::fs::vfs::wake_clock();
        p.thread.siginfo.insert(
            sig,
            SigInfo {
                signo: sig,
                code: si_code,
                addr,
                ..SigInfo::default()
            },
        );
    }

    /// Delivers pending signals to the current thread before it returns to user
    /// mode. Returns whether the thread may run now (false when it died,
    /// stopped, or stays blocked).
    pub(super) fn handle_signals(&mut self) -> bool {
        loop {
            let pid = self.cur;
            let Some(p) = self.procs.get_mut(&pid) else {
                return false;
            };
            if p.job != JobState::Running {
                return false;
            }
            if matches!(p.thread.state, ThreadState::Blocked(Wait::Vfork(_))) && !has_deliverable(p)
            {
                return false;
            }
            let Some(sig) = deliverable(p).first() else {
                return p.thread.state == ThreadState::Runnable;
            };
            let info = p.dequeue_signal(sig);
            let action = p.sigactions[(sig - 1) as usize];
            if action.handler == SIG_IGN && sig != SIGKILL {
                continue;
            }
            if action.handler == SIG_DFL || sig == SIGKILL || sig == SIGSTOP {
                match default_action(sig) {
                    DefaultAction::Ignore | DefaultAction::Continue => continue,
                    DefaultAction::Stop => {
                        // A reader stopped no longer sleeps on its socket
                        // (sk_wait_data returned for the signal); served
                        // again once continued, it sleeps there anew.
                        p.thread.sleeping = None;
                        for t in &mut p.others {
                            t.sleeping = None;
                        }
                        p.job = JobState::Stopped(sig);
                        p.job_report = Some(JobReport::Stopped(sig));
                        let ppid = p.ppid;
                        self.notify_parent(ppid, pid, code::CLD_STOPPED, sig as i32);
                        return false;
                    }
                    DefaultAction::Terminate => {
                        self.exit_process(pid, ExitStatus::Signaled { sig, core: false });
                        return false;
                    }
                    DefaultAction::Core => {
                        self.exit_process(pid, ExitStatus::Signaled { sig, core: true });
                        return false;
                    }
                }
            }
            // A handler runs: settle an interrupted syscall first.
            let mut frame_mask = p.thread.sigmask;
            if let ThreadState::Blocked(w) = p.thread.state {
                let restart = match w {
                    Wait::Event { restart, .. } => {
                        restart == Restart::Always
                            || (restart == Restart::WithSaRestart && action.flags & SA_RESTART != 0)
                    }
                    _ => false,
                };
                let done = core::mem::take(&mut p.thread.io_done);
                if done > 0 {
                    // Some bytes moved: the call returns their count.
                    p.thread.regs.set_syscall_ret(done as u64);
                } else if restart {
                    p.thread.regs.restart_syscall();
                } else {
                    p.thread
                        .regs
                        .set_syscall_ret((-(Errno::EINTR.0 as i64)) as u64);
                    if let Wait::Until(d) = w {
                        self.interrupted_sleep = Some(d);
                    }
                    // A timed select(2) reports its time left as well.
                    if let Wait::Event {
                        deadline: Some(d), ..
                    } = w
                    {
                        self.interrupted_sleep = Some(d);
                    }
                }
                // sigsuspend, ppoll and pselect6 ran with a temporary mask: the
                // frame carries the caller's own, restored by sigreturn.
                if let Some(m) = p.thread.saved_mask.take() {
                    frame_mask = m;
                }
                p.thread.state = ThreadState::Runnable;
                p.thread.deadline = None;
                p.thread.copied_in = alloc::vec::Vec::new();
                // An interrupted futex wait leaves its queue.
                p.thread.futex = None;
                // A reader woken by the signal no longer sleeps on its socket.
                p.thread.sleeping = None;
                self.tried.remove(&p.thread.tid);
            }
            if let Some(d) = self.interrupted_sleep.take() {
                self.write_sleep_remaining(d);
            }
            if self.setup_frame(sig, &info, frame_mask).is_err() {
                // No room for the frame: Linux kills with SIGSEGV.
                self.exit_process(
                    pid,
                    ExitStatus::Signaled {
                        sig: SIGSEGV,
                        core: true,
                    },
                );
                return false;
            }
            let Some(p) = self.procs.get_mut(&pid) else {
                return false;
            };
            let mut mask = SigSet(p.thread.sigmask.0 | action.mask);
            if action.flags & SA_NODEFER == 0 {
                mask.add(sig);
            }
            p.thread.sigmask = SigSet(mask.0 & !UNBLOCKABLE.0);
            if action.flags & SA_RESETHAND != 0 {
                // Linux resets only the handler; flags and mask stay.
                p.sigactions[(sig - 1) as usize].handler = SIG_DFL;
            }
            // More deliverable signals get frames on top of this one, so their
            // handlers run first, as on Linux.
            continue;
        }
    }

    /// Builds the signal frame on the current thread's stack (or its alternate
    /// stack under SA_ONSTACK) and points it at the handler.
    fn setup_frame(&mut self, sig: u32, info: &SigInfo, mask: SigSet) -> KResult<()> {
        let p = self.procs.get_mut(&self.cur).ok_or(Errno::ESRCH)?;
        let action = p.sigactions[(sig - 1) as usize];
        if (action.flags & SA_RESTORER == 0 && frame::NEEDS_SA_RESTORER) || frame::FPSTATE_SIZE == 0
        {
            // x86_64 needs the restorer (aarch64 returns through the host's
            // trampoline); arches without a frame have FPSTATE_SIZE 0.
            return Err(Errno::EFAULT);
        }
        let sp = p.thread.regs.sp();
        let alt = p.thread.altstack;
        let use_alt = action.flags & SA_ONSTACK != 0 && alt.flags & 2 == 0 && !alt.contains(sp);
        let top = if use_alt {
            alt.sp.wrapping_add(alt.size)
        } else {
            sp
        };
        let layout = frame::frame_layout(top, use_alt, action.flags, action.restorer)
            .ok_or(Errno::EFAULT)?;
        if (use_alt || alt.contains(sp)) && !alt.contains(layout.sp) {
            // The frame would overflow the alternate stack: Linux gives an
            // always-bad frame address, and the process dies of SIGSEGV.
            return Err(Errno::EFAULT);
        }
        let on = if alt.contains(sp) { 1 } else { 0 };
        let stack = (alt.sp, if alt.flags & 2 != 0 { 2 } else { on }, alt.size);
        let bytes = frame::encode_frame(
            &p.thread.regs,
            &info.encode(),
            mask.0,
            action.restorer,
            stack,
            &layout,
        );
        let mut fp = [0u8; frame::FPSTATE_SIZE];
        let have_fp = self.host.fpstate_get(p.mm.id, &mut fp).is_ok();
        let mut bytes = bytes;
        if !have_fp {
            // No FP state to restore: the frame says so to sigreturn.
            frame::no_fpstate(&mut bytes, &layout);
        }
        let mut user = self.user();
        user.write_bytes(layout.sp, &bytes[..layout.size])?;
        if have_fp {
            user.write_bytes(layout.fp, &fp)?;
        }
        if have_fp {
            // The handler starts with a clean FP state, as on Linux.
            let id = self.proc().mm.id;
            let _ = self.host.fpstate_set(id, &frame::initial_fpstate());
        }
        let p = self.proc();
        frame::enter_handler(&mut p.thread.regs, action.handler, sig, &layout);
        Ok(())
    }

    /// An interrupted nanosleep or relative clock_nanosleep reports the time it
    /// had left in its `rem` argument.
    fn write_sleep_remaining(&mut self, deadline: u64) {
        let now = self.host.now_mono();
        let regs = &self.proc().thread.regs;
        let (n, a) = (regs.syscall_nr() as usize, regs.syscall_args());
        if let Some((rem, t)) = crate::syscall::time::sleep_rem_arg(n, a) {
            let left = deadline.saturating_sub(now);
            let ts = umbra_abi::structs::Timespec {
                tv_sec: (left / 1_000_000_000) as i64,
                tv_nsec: (left % 1_000_000_000) as i64,
            };
            let _ = crate::syscall::uabi::write_timespec(self, rem, ts, t);
        } else if let Some(tv) = crate::syscall::poll::select_tv_arg(n, a) {
            let left = deadline.saturating_sub(now);
            let t = umbra_abi::structs::Timeval {
                tv_sec: (left / 1_000_000_000) as i64,
                tv_usec: ((left % 1_000_000_000) / 1000) as i64,
            };
            let _ = crate::syscall::uabi::write_timeval(
                self,
                tv,
                t,
                crate::syscall::uabi::TimeAbi::Long,
            );
        }
    }

    /// rt_sigreturn (`rt`) and the old sigreturn of 32-bit ARM: restores the
    /// context saved in the frame at the stack.
    pub(crate) fn sigreturn(&mut self, rt: bool) -> KResult<()> {
        let sp = self.proc().thread.regs.sp();
        let at = frame::sigreturn_ucontext(sp, rt).ok_or(Errno::EFAULT)?;
        let mut uc = [0u8; frame::UCONTEXT_LEN];
        self.user().read_bytes(at, &mut uc)?;
        let p = self.proc();
        let r = frame::restore_frame(&mut p.thread.regs, &uc, at);
        p.thread.sigmask = SigSet(r.mask & !UNBLOCKABLE.0);
        if r.fpstate != 0 {
            let mut fp = [0u8; frame::FPSTATE_SIZE];
            self.user().read_bytes(r.fpstate, &mut fp)?;
            let id = self.proc().mm.id;
            // MXCSR reserved bits set would make the host refuse the state.
            let _ = self.host.fpstate_set(id, &fp);
        }
        Ok(())
    }
}
