//! Waiting for children: wait4 and waitid, with WNOHANG, WUNTRACED/WSTOPPED,
//! WCONTINUED, WNOWAIT and __WALL; zombies stay until reaped.

use super::Outcome;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::UserOutPtr;
use crate::task::signal::code;
use crate::task::{CpuTimes, ExitStatus, JobReport, Pid, Restart, SigInfo, Wait};
use crate::{KResult, SysResult};
use umbra_abi::flags::*;
use umbra_abi::signal::SIGCHLD;
use umbra_abi::Errno;

/// Which children a wait is for.
#[derive(Clone, Copy)]
enum Which {
    Any,
    Pid(Pid),
    Pgid(Pid),
}

/// What a wait found.
enum Found {
    /// An exited child, with its CPU times and resident set (KiB) at exit.
    Exited(Pid, ExitStatus, CpuTimes, u64),
    Stopped(Pid, u32),
    Continued(Pid),
}

/// Looks for a child state change `options` asks for; consumes it unless
/// WNOWAIT. `Ok(None)`: children exist but none changed; ECHILD: no children.
fn find<H: Host>(k: &mut Kernel<H>, which: Which, options: u32) -> KResult<Option<Found>> {
    let me = k.cur;
    let matches = |pid: Pid, pgid: Pid| match which {
        Which::Any => true,
        Which::Pid(p) => p == pid,
        Which::Pgid(g) => g == pgid,
    };
    let consume = options & WNOWAIT == 0;
    // As Linux's eligible_child: __WALL waits for every child; otherwise
    // __WCLONE waits only for "clone" children (those that report with a
    // signal other than SIGCHLD), and a plain wait only for the others.
    let eligible = |exit_signal: u32| {
        options & WALL != 0 || (exit_signal != SIGCHLD) == (options & WCLONE != 0)
    };
    if options & WEXITED != 0 {
        let z = k
            .zombies
            .values()
            .find(|z| z.ppid == me && matches(z.pid, z.pgid) && eligible(z.exit_signal))
            .map(|z| (z.pid, z.status, z.cpu, z.maxrss_kib));
        if let Some((pid, status, cpu, rss)) = z {
            if consume {
                // As Linux: a child's times count for its parent once reaped.
                k.zombies.remove(&pid);
                k.procfs_sync(pid);
                cpu.reap_into(&mut k.proc().cpu, rss);
            }
            return Ok(Some(Found::Exited(pid, status, cpu, rss)));
        }
    }
    // A zombie can only ever be reported to WEXITED: without it, zombies
    // leave nothing to wait for (ECHILD), as on Linux.
    let mut any = options & WEXITED != 0
        && k.zombies
            .values()
            .any(|z| z.ppid == me && matches(z.pid, z.pgid) && eligible(z.exit_signal));
    for pid in k.pids() {
        let Some(c) = k.procs_mut(pid) else { continue };
        if c.ppid != me || !matches(c.pid, c.pgid) || !eligible(c.exit_signal) {
            continue;
        }
        any = true;
        match c.job_report {
            Some(JobReport::Stopped(sig)) if options & WUNTRACED != 0 => {
                if consume {
                    c.job_report = None;
                }
                return Ok(Some(Found::Stopped(pid, sig)));
            }
            Some(JobReport::Continued) if options & WCONTINUED != 0 => {
                if consume {
                    c.job_report = None;
                }
                return Ok(Some(Found::Continued(pid)));
            }
            _ => {}
        }
    }
    if any {
        Ok(None)
    } else {
        Err(Errno::ECHILD)
    }
}

/// wait4(2).
pub fn sys_wait4<H: Host>(
    k: &mut Kernel<H>,
    pid: i32,
    status: u64,
    options: u32,
    rusage: u64,
) -> Outcome {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WALL | WCLONE | 0x2000_0000) != 0 {
        return Outcome::Ret(Err(Errno::EINVAL));
    }
    let which = match pid {
        -1 => Which::Any,
        0 => Which::Pgid(k.proc().pgid),
        p if p > 0 => Which::Pid(p as u32),
        p if p == i32::MIN => return Outcome::Ret(Err(Errno::ESRCH)),
        p => Which::Pgid(p.unsigned_abs()),
    };
    let found = match find(k, which, options | WEXITED) {
        Ok(f) => f,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let (child, word, usage) = match found {
        Some(Found::Exited(p, st, cpu, rss)) => (p, st.wait_status(), Some((cpu, rss))),
        Some(Found::Stopped(p, sig)) => (p, (sig << 8) | 0x7f, None),
        Some(Found::Continued(p)) => (p, 0xffff, None),
        None if options & WNOHANG != 0 => return Outcome::Ret(Ok(0)),
        None => {
            return Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::WithSaRestart,
            })
        }
    };
    let r = (|| -> SysResult {
        if status != 0 {
            k.user().write(UserOutPtr::<u32>::new(status), &word)?;
        }
        write_rusage(k, rusage, usage)?;
        Ok(child as usize)
    })();
    Outcome::Ret(r)
}

/// Writes the struct rusage of a reported child at `rusage` (if not NULL): the
/// child's own times plus those of the children it reaped (RUSAGE_BOTH); zero
/// for a stop or continue report.
fn write_rusage<H: Host>(
    k: &mut Kernel<H>,
    rusage: u64,
    usage: Option<(crate::task::CpuTimes, u64)>,
) -> KResult<()> {
    if rusage == 0 {
        return Ok(());
    }
    let (cpu, rss) = usage.unwrap_or_default();
    let ru = super::proc::encode_rusage(
        cpu.user_ns.saturating_add(cpu.child_user_ns),
        cpu.sys_ns.saturating_add(cpu.child_sys_ns),
        rss.max(cpu.child_maxrss_kib),
        super::uabi::NATIVE,
    );
    k.user().write_bytes(rusage, &ru)
}

/// waitid(2); `rusage` is Linux's fifth argument (NULL from libc's waitid).
pub fn sys_waitid<H: Host>(
    k: &mut Kernel<H>,
    idtype: u32,
    id: u32,
    infop: u64,
    options: u32,
    rusage: u64,
) -> Outcome {
    const P_ALL: u32 = 0;
    const P_PID: u32 = 1;
    const P_PGID: u32 = 2;
    if options
        & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WALL | WCLONE | 0x2000_0000)
        != 0
        || options & (WEXITED | WUNTRACED | WCONTINUED) == 0
    {
        return Outcome::Ret(Err(Errno::EINVAL));
    }
    let which = match idtype {
        P_ALL => Which::Any,
        P_PID => Which::Pid(id),
        P_PGID if id == 0 => Which::Pgid(k.proc().pgid),
        P_PGID => Which::Pgid(id),
        _ => return Outcome::Ret(Err(Errno::EINVAL)),
    };
    let found = match find(k, which, options) {
        Ok(f) => f,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let usage = match found {
        Some(Found::Exited(_, _, cpu, rss)) => Some((cpu, rss)),
        _ => None,
    };
    let info = match found {
        Some(Found::Exited(pid, st, ..)) => {
            let (c, s) = match st {
                ExitStatus::Exited(v) => (code::CLD_EXITED, v as i32),
                ExitStatus::Signaled { sig, core: true } => (code::CLD_DUMPED, sig as i32),
                ExitStatus::Signaled { sig, core: false } => (code::CLD_KILLED, sig as i32),
            };
            SigInfo {
                signo: SIGCHLD,
                code: c,
                pid,
                status: s,
                ..SigInfo::default()
            }
        }
        Some(Found::Stopped(pid, sig)) => SigInfo {
            signo: SIGCHLD,
            code: code::CLD_STOPPED,
            pid,
            status: sig as i32,
            ..SigInfo::default()
        },
        Some(Found::Continued(pid)) => SigInfo {
            signo: SIGCHLD,
            code: code::CLD_CONTINUED,
            pid,
            status: umbra_abi::signal::SIGCONT as i32,
            ..SigInfo::default()
        },
        None if options & WNOHANG != 0 => {
            let r = if infop != 0 {
                k.user().write_bytes(infop, &[0u8; 128]).map(|_| 0)
            } else {
                Ok(0)
            };
            return Outcome::Ret(r);
        }
        None => {
            return Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::WithSaRestart,
            })
        }
    };
    let r = (|| -> SysResult {
        if infop != 0 {
            k.user().write_bytes(infop, &info.encode())?;
        }
        write_rusage(k, rusage, usage)?;
        Ok(0)
    })();
    Outcome::Ret(r)
}
