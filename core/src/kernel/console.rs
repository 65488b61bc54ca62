//! The kernel's side of the console tty: feeding host input to the line
//! discipline, delivering the signals it makes (^C, ^Z, ^\, SIGWINCH) to process
//! groups, the controlling terminal of pid 1's session, and the job-control
//! rules for background groups (SIGTTIN, SIGTTOU).

use super::Kernel;
use crate::fs::devfs::{ConsoleFile, ConsoleState};
use crate::fs::file::OpenFile;
use crate::host::Host;
use crate::task::signal::code;
use crate::task::{Pid, SigInfo};
use crate::tty::{TtyAccess, TtyCaller};
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::signal::{SIGCONT, SIGHUP, SIGTTIN, SIG_IGN};
use umbra_abi::structs::Timespec;
use umbra_abi::Errno;

/// Removes terminal `t`'s node `n`: from its devpts directory, or from
/// /dev/pts.
fn release(vfs: &crate::fs::Vfs, t: &super::host_signal::ExecTty, n: u32, now: Timespec) {
    #[cfg(feature = "pty")]
    if let Some(d) = &t.dir {
        return crate::fs::devfs::release_pts(d, n, now);
    }
    let _ = t;
    crate::fs::devfs::release_linked_tty(vfs, n, now)
}

/// What job control decided about a console access.
pub(crate) enum JobCheck {
    Allowed,
    /// Fail with this errno (EIO for an orphaned or ignoring background reader).
    Fail(Errno),
    /// The caller's group was sent a stop signal: park and try again later.
    Stopped,
}

impl JobCheck {
    /// What the syscall returns instead of going on: None when allowed; the
    /// errno; or, stopped, a park that restarts the call (with SA_RESTART)
    /// once the group is continued.
    pub(crate) fn outcome(self) -> Option<crate::syscall::Outcome> {
        use crate::syscall::Outcome;
        use crate::task::{Restart, Wait};
        match self {
            JobCheck::Allowed => None,
            JobCheck::Fail(e) => Some(Outcome::Ret(Err(e))),
            JobCheck::Stopped => Some(Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::WithSaRestart,
            })),
        }
    }
}

impl<H: Host> Kernel<H> {
    /// Takes the console from pid 1's stdio; a terminal becomes the controlling
    /// terminal of pid 1's session with pid 1's group in the foreground.
    pub(super) fn attach_console(&mut self, stdio: &[Arc<OpenFile>; 3], pid: Pid) {
        let state = stdio[0]
            .ops()
            .and_then(|o| ConsoleFile::of(&**o))
            .map(|c| c.state().clone());
        if let Some(s) = &state {
            if ConsoleState::is_tty(&self.host) {
                s.set_session(pid, pid);
            }
        }
        self.console = state;
    }

    /// Reads host input into the line discipline and delivers its signals.
    pub(super) fn pump_console(&mut self) {
        if let Some(c) = self.console.clone() {
            c.pump(&mut self.host);
            self.console_signals();
        }
        if !self.exec_ttys.is_empty() {
            let ttys: Vec<Arc<ConsoleState>> =
                self.exec_ttys.iter().map(|t| t.state.clone()).collect();
            for t in ttys {
                t.pump(&mut self.host);
            }
            self.console_signals();
        }
    }

    /// Delivers the signals the console queued (to process groups).
    pub(super) fn console_signals(&mut self) {
        let mut sigs = self
            .console
            .as_ref()
            .map(|c| c.take_signals())
            .unwrap_or_default();
        if self.console.as_ref().is_some_and(|c| c.take_pts_release()) {
            // The console's pty hung up: its /dev/pts/0 goes (its
            // /dev/console stays, as runc's bind mount of it).
            let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
            crate::fs::devfs::release_linked_tty(&self.vfs, 0, now);
        }
        let mut hangups: Vec<u32> = self
            .console
            .as_ref()
            .and_then(|c| c.take_hangup())
            .into_iter()
            .collect();
        for t in &mut self.exec_ttys {
            if t.pid == 0 {
                // A pty: its master's writes and close act here (input,
                // hang-up).
                t.state.pump(&mut self.host);
                if t.state.is_hung_up() {
                    if let Some(n) = t.pts.take() {
                        let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
                        release(&self.vfs, t, n, now);
                    }
                }
            }
            sigs.extend(t.state.take_signals());
            if let Some(leader) = t.state.take_hangup() {
                hangups.push(leader);
                // devpts_pty_kill: the hung-up slave's name goes, and its
                // number is free again.
                if let Some(n) = t.pts.take() {
                    let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
                    release(&self.vfs, t, n, now);
                }
            }
        }
        // A pty whose master closed is done once its hang-up is taken.
        self.exec_ttys
            .retain(|t| !(t.pid == 0 && t.pts.is_none() && t.state.is_hung_up()));
        // A devpts instance unmounted while it had ptys goes with the last.
        #[cfg(feature = "pty")]
        self.devpts.retain(|i| !i.gone());
        // A hang-up signals its session's leader only, not the foreground
        // group (Linux's tty_signal_session_leader).
        for leader in hangups {
            for sig in [SIGHUP, SIGCONT] {
                let info = SigInfo {
                    signo: sig,
                    code: code::SI_KERNEL,
                    ..SigInfo::default()
                };
                let _ = self.send_signal(leader, sig, info);
            }
        }
        for (pgid, sig) in sigs {
            self.signal_group(
                pgid,
                sig,
                SigInfo {
                    signo: sig,
                    code: code::SI_KERNEL,
                    ..SigInfo::default()
                },
            );
        }
    }

    /// Sends `sig` to every process of group `pgid`.
    pub(crate) fn signal_group(&mut self, pgid: Pid, sig: u32, info: SigInfo) -> usize {
        let members: Vec<Pid> = self
            .procs
            .values()
            .filter(|p| p.pgid == pgid)
            .map(|p| p.pid)
            .collect();
        for pid in &members {
            let _ = self.send_signal(*pid, sig, info);
        }
        members.len()
    }

    /// The current process as a tty caller.
    pub(crate) fn tty_caller(&mut self) -> TtyCaller<'static> {
        let p = self.proc();
        TtyCaller::new(p.pid, p.pgid, p.sid)
    }

    /// Whether process group `pgid` is orphaned: no member has a parent in
    /// another group of the same session (POSIX; such a group is not stopped
    /// by terminal signals).
    fn orphaned(&self, pgid: Pid) -> bool {
        !self.procs.values().filter(|p| p.pgid == pgid).any(|p| {
            self.procs
                .get(&p.ppid)
                .is_some_and(|parent| parent.pgid != pgid && parent.sid == p.sid)
        })
    }

    /// Applies the job-control rules to a console access by the current process.
    pub(crate) fn console_job_check(&mut self, file: &OpenFile, write: bool) -> JobCheck {
        let Some(cf) = file.ops().and_then(|o| ConsoleFile::of(&**o)) else {
            return JobCheck::Allowed;
        };
        let caller = self.tty_caller();
        let access = if write {
            cf.state().check_write(&caller)
        } else {
            cf.state().check_read(&caller)
        };
        self.job_control(access)
    }

    /// tty_check_change for ioctl `cmd` on terminal `tty` by the current
    /// process: a request that changes the terminal, made from a background
    /// group of its session, stops the group with SIGTTOU and restarts
    /// after, unless SIGTTOU is ignored or blocked (then it goes ahead); an
    /// orphaned group gets EIO (TIOCSPGRP: ENOTTY, as tiocspgrp).
    pub(crate) fn tty_ioctl_job_check(&mut self, tty: &ConsoleState, cmd: u32) -> JobCheck {
        let caller = self.tty_caller();
        let access = tty.check_ioctl(cmd, &caller);
        match self.job_control(access) {
            JobCheck::Fail(Errno::EIO) if cmd == umbra_abi::flags::TIOCSPGRP => {
                JobCheck::Fail(Errno::ENOTTY)
            }
            r => r,
        }
    }

    /// What job control makes of `access` for the current process
    /// (__tty_check_change, n_tty's job_control).
    fn job_control(&mut self, access: TtyAccess) -> JobCheck {
        let TtyAccess::Background { sig } = access else {
            return JobCheck::Allowed;
        };
        let p = self.proc();
        let ignored =
            p.thread.sigmask.contains(sig) || p.sigactions[(sig - 1) as usize].handler == SIG_IGN;
        if ignored {
            return if sig == SIGTTIN {
                JobCheck::Fail(Errno::EIO)
            } else {
                JobCheck::Allowed
            };
        }
        let pgid = p.pgid;
        if self.orphaned(pgid) {
            return JobCheck::Fail(Errno::EIO);
        }
        self.signal_group(
            pgid,
            sig,
            SigInfo {
                signo: sig,
                code: code::SI_KERNEL,
                ..SigInfo::default()
            },
        );
        JobCheck::Stopped
    }

    /// A session leader exited: its terminal loses its session.
    pub(super) fn console_session_exit(&mut self, pid: Pid) {
        let execs = self.exec_ttys.iter().map(|t| &t.state);
        for c in self.console.iter().chain(execs) {
            if c.session() == pid {
                c.session_leader_exited();
            }
        }
    }
}
