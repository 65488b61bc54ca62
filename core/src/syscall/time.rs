//! Time syscalls: clock_gettime, clock_getres, gettimeofday, time, nanosleep,
//! clock_nanosleep. The guest's clocks follow the host's (`crate::vdso` says
//! how, and how the vDSO reads the same clock); sleeping parks the thread until
//! a deadline and never blocks the kernel.

use super::uabi::{self, TimeAbi};
use super::Outcome;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::UserOutPtr;
use crate::task::Wait;
use crate::SysResult;
use umbra_abi::flags::*;
use umbra_abi::structs::{Timespec, Timeval};
use umbra_abi::Errno;

const NS: u64 = 1_000_000_000;

fn ts(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / NS) as i64,
        tv_nsec: (ns % NS) as i64,
    }
}

/// A CPU-time clock of another process or thread (clock_getcpuclockid,
/// pthread_getcpuclockid): `~pid << 3 | per-thread << 2 | which`, where
/// which is PROF (user + system), VIRT (user) or SCHED (user + system).
/// EINVAL for no such task, or a thread of another process.
fn cpu_clock_ns<H: Host>(k: &Kernel<H>, clock: i32) -> crate::KResult<u64> {
    let which = clock & 3;
    if which == 3 {
        return Err(Errno::EINVAL);
    }
    let id = !(clock >> 3) as u32;
    let t = if clock & 4 != 0 {
        let me = k.process(k.cur).map_or(k.cur, |p| p.thread.tid);
        let tid = if id == 0 { me } else { id };
        if k.tgid_of(tid) != Some(k.cur) {
            return Err(Errno::EINVAL);
        }
        k.thread_cpu_times(k.cur, Some(tid))
    } else {
        let pid = if id == 0 { k.cur } else { id };
        if k.process(pid).is_none() {
            return Err(Errno::EINVAL);
        }
        k.cpu_times(pid)
    };
    Ok(if which == 1 {
        t.user_ns
    } else {
        t.user_ns.saturating_add(t.sys_ns)
    })
}

/// The clock's value in ns.
fn clock_ns<H: Host>(k: &mut Kernel<H>, clock: u32) -> crate::KResult<u64> {
    match clock {
        // The same clock the vDSO reads (crate::vdso).
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Ok(k.clock_real()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Ok(k.clock_sync())
        }
        // The process's user and system time, all its threads'.
        CLOCK_PROCESS_CPUTIME_ID => {
            let t = k.cpu_times(k.cur);
            Ok(t.user_ns.saturating_add(t.sys_ns))
        }
        CLOCK_THREAD_CPUTIME_ID => {
            let t = k.thread_cpu_times(k.cur, None);
            Ok(t.user_ns.saturating_add(t.sys_ns))
        }
        c if (c as i32) < 0 => cpu_clock_ns(k, c as i32),
        _ => Err(Errno::EINVAL),
    }
}

/// clock_gettime(2) (and clock_gettime64 with `t` = Time64).
pub fn sys_clock_gettime<H: Host>(
    k: &mut Kernel<H>,
    clock: u32,
    out: u64,
    t: TimeAbi,
) -> SysResult {
    let now = clock_ns(k, clock)?;
    uabi::write_timespec(k, out, ts(now), t)?;
    Ok(0)
}

/// clock_getres(2): nanosecond resolution.
pub fn sys_clock_getres<H: Host>(k: &mut Kernel<H>, clock: u32, out: u64, t: TimeAbi) -> SysResult {
    clock_ns(k, clock)?;
    if out != 0 {
        let res = Timespec {
            tv_sec: 0,
            tv_nsec: 1,
        };
        uabi::write_timespec(k, out, res, t)?;
    }
    Ok(0)
}

/// gettimeofday(2); the obsolete timezone argument is ignored.
pub fn sys_gettimeofday<H: Host>(k: &mut Kernel<H>, tv: u64) -> SysResult {
    if tv != 0 {
        let now = k.clock_real();
        let v = Timeval {
            tv_sec: (now / NS) as i64,
            tv_usec: ((now % NS) / 1000) as i64,
        };
        uabi::write_timeval(k, tv, v, TimeAbi::Long)?;
    }
    Ok(0)
}

/// time(2).
pub fn sys_time<H: Host>(k: &mut Kernel<H>, out: u64) -> SysResult {
    let secs = k.clock_real() / NS;
    if out != 0 {
        k.user().write(UserOutPtr::<u64>::new(out), &secs)?;
    }
    Ok(secs as usize)
}

fn read_req<H: Host>(k: &mut Kernel<H>, at: u64, tabi: TimeAbi) -> crate::KResult<u64> {
    let t = uabi::read_timespec(k, at, tabi)?;
    if t.tv_sec < 0 || !(0..NS as i64).contains(&t.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((t.tv_sec as u64)
        .saturating_mul(NS)
        .saturating_add(t.tv_nsec as u64))
}

/// nanosleep(2).
pub fn sys_nanosleep<H: Host>(k: &mut Kernel<H>, req: u64, _rem: u64) -> Outcome {
    match read_req(k, req, TimeAbi::Long) {
        // Plus the guest clock's lead over the host's (crate::vdso): the
        // guest never sees the sleep end early.
        Ok(d) => Outcome::Block(Wait::Until(
            k.host
                .now_mono()
                .saturating_add(d)
                .saturating_add(k.clock.lead),
        )),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// clock_nanosleep(2), relative or TIMER_ABSTIME.
pub fn sys_clock_nanosleep<H: Host>(
    k: &mut Kernel<H>,
    clock: u32,
    flags: u32,
    req: u64,
    _rem: u64,
    tabi: TimeAbi,
) -> Outcome {
    const TIMER_ABSTIME: u32 = 1;
    let r = (|| {
        let now = clock_ns(k, clock)?;
        let t = read_req(k, req, tabi)?;
        let rel = if flags & TIMER_ABSTIME != 0 {
            t.saturating_sub(now)
        } else {
            t
        };
        Ok(k.host
            .now_mono()
            .saturating_add(rel)
            .saturating_add(k.clock.lead))
    })();
    match r {
        Ok(deadline) => Outcome::Block(Wait::Until(deadline)),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// Where an interrupted sleep reports the time it had left: the `rem`
/// argument of nanosleep and of a relative clock_nanosleep, with its layout.
pub fn sleep_rem_arg(nr: usize, a: [u64; 6]) -> Option<(u64, TimeAbi)> {
    use umbra_abi::syscall::nr;
    let (at, t) = match nr {
        nr::NANOSLEEP => (a[1], TimeAbi::Long),
        nr::CLOCK_NANOSLEEP if a[1] & 1 == 0 => (a[3], TimeAbi::Long),
        #[cfg(target_arch = "arm")]
        nr::CLOCK_NANOSLEEP_TIME64 if a[1] & 1 == 0 => (a[3], TimeAbi::Time64),
        _ => return None,
    };
    (at != 0).then_some((at, t))
}

/// getcpu(2): one CPU (0) on one NUMA node (0), as the vDSO's getcpu says.
pub fn sys_getcpu<H: Host>(k: &mut Kernel<H>, cpu: u64, node: u64) -> SysResult {
    for at in [cpu, node] {
        if at != 0 {
            k.user().write(UserOutPtr::<u32>::new(at), &0)?;
        }
    }
    Ok(0)
}
