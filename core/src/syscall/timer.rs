//! Interval timers and process times: alarm, setitimer, getitimer, times.
//! ITIMER_REAL raises SIGALRM from the kernel's loop; ITIMER_VIRTUAL
//! (SIGVTALRM) and ITIMER_PROF (SIGPROF) count the process's user and user +
//! system CPU time, checked after every trap.

use super::uabi::{self, TimeAbi};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::{KResult, SysResult};
use umbra_abi::structs::Timeval;
use umbra_abi::Errno;

const NS: u64 = 1_000_000_000;
const ITIMER_REAL: u32 = 0;
const ITIMER_VIRTUAL: u32 = 1;
const ITIMER_PROF: u32 = 2;

fn tv_ns(t: Timeval) -> KResult<u64> {
    if t.tv_sec < 0 || !(0..1_000_000).contains(&t.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok((t.tv_sec as u64)
        .saturating_mul(NS)
        .saturating_add(t.tv_usec as u64 * 1000))
}

fn ns_tv(ns: u64) -> Timeval {
    Timeval {
        tv_sec: (ns / NS) as i64,
        tv_usec: ((ns % NS) / 1000) as i64,
    }
}

/// The current ITIMER_REAL as (remaining, interval) in ns.
fn current<H: Host>(k: &mut Kernel<H>) -> (u64, u64) {
    current_of(k, ITIMER_REAL)
}

/// The CPU time a CPU-time timer counts: user, or user + system.
fn cpu_used<H: Host>(k: &Kernel<H>, which: u32) -> u64 {
    let t = k.cpu_times(k.cur);
    if which == ITIMER_VIRTUAL {
        t.user_ns
    } else {
        t.user_ns.saturating_add(t.sys_ns)
    }
}

/// Interval timer `which` now as (remaining, interval) in ns.
fn current_of<H: Host>(k: &mut Kernel<H>, which: u32) -> (u64, u64) {
    let (t, now) = match which {
        ITIMER_VIRTUAL => (k.proc().timers.virt, cpu_used(k, which)),
        ITIMER_PROF => (k.proc().timers.prof, cpu_used(k, which)),
        _ => (k.proc().itimer_real, k.host.now_mono()),
    };
    match t {
        Some((d, i)) => (d.saturating_sub(now).max(1), i),
        None => (0, 0),
    }
}

/// alarm(2): returns the seconds left of the previous alarm (rounded).
pub fn sys_alarm<H: Host>(k: &mut Kernel<H>, secs: u32) -> SysResult {
    let (left, _) = current(k);
    let now = k.host.now_mono();
    k.proc().itimer_real = (secs != 0).then(|| (now + secs as u64 * NS, 0));
    Ok(left.div_ceil(NS) as usize)
}

/// setitimer(2).
pub fn sys_setitimer<H: Host>(k: &mut Kernel<H>, which: u32, new: u64, old: u64) -> SysResult {
    if which > ITIMER_PROF {
        return Err(Errno::EINVAL);
    }
    let (left, interval) = current_of(k, which);
    let want = if new != 0 {
        let w = TimeAbi::Long.width();
        let b = k.user().read_vec(new, 4 * w.bytes())?;
        Some([
            uabi::decode_timeval(&b, w),
            uabi::decode_timeval(&b[2 * w.bytes()..], w),
        ])
    } else {
        None
    };
    if old != 0 {
        write_itimerval(k, old, interval, left)?;
    }
    if let Some([interval, value]) = want {
        let (i, v) = (tv_ns(interval)?, tv_ns(value)?);
        match which {
            ITIMER_REAL => {
                let now = k.host.now_mono();
                k.proc().itimer_real = (v != 0).then(|| (now.saturating_add(v), i));
            }
            _ => {
                let used = cpu_used(k, which);
                let t = (v != 0).then(|| (used.saturating_add(v), i));
                let timers = &mut k.proc().timers;
                if which == ITIMER_VIRTUAL {
                    timers.virt = t;
                } else {
                    timers.prof = t;
                }
            }
        }
    }
    Ok(0)
}

/// getitimer(2).
pub fn sys_getitimer<H: Host>(k: &mut Kernel<H>, which: u32, out: u64) -> SysResult {
    if which > ITIMER_PROF {
        return Err(Errno::EINVAL);
    }
    let (left, interval) = current_of(k, which);
    write_itimerval(k, out, interval, left)?;
    Ok(0)
}

/// struct itimerval: it_interval, it_value (timevals of longs).
fn write_itimerval<H: Host>(k: &mut Kernel<H>, at: u64, interval: u64, value: u64) -> KResult<()> {
    let w = TimeAbi::Long.width();
    let mut b = uabi::encode_timeval(ns_tv(interval), w);
    b.extend(uabi::encode_timeval(ns_tv(value), w));
    k.user().write_bytes(at, &b)
}

/// times(2): the process's user and system time and those of the children it
/// reaped, in clock ticks; returns clock ticks since boot (100 Hz).
pub fn sys_times<H: Host>(k: &mut Kernel<H>, out: u64) -> SysResult {
    if out != 0 {
        let t = k.cpu_times(k.cur).ticks();
        uabi::write_longs(k, out, &t)?;
    }
    let ticks = k.host.now_mono().saturating_sub(k.boot_time) / (NS / 100);
    Ok(ticks as usize)
}
