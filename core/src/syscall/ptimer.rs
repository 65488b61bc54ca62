//! POSIX timers (timer_create, timer_settime, timer_gettime,
//! timer_getoverrun, timer_delete) on CLOCK_REALTIME, CLOCK_MONOTONIC and
//! CLOCK_BOOTTIME, with SIGEV_SIGNAL, SIGEV_NONE and SIGEV_THREAD_ID (the
//! process's own thread); and the calls that set the clock, which an
//! unprivileged container may not make (EPERM).

use super::uabi::{self, TimeAbi, NATIVE};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::signal::code;
use crate::task::timers::{Notify, PosixTimer};
use crate::task::{Pid, SigInfo};
use crate::{KResult, SysResult};
use umbra_abi::signal::{NSIG, SIGALRM};
use umbra_abi::structs::Timespec;
use umbra_abi::Errno;

const NS: u64 = 1_000_000_000;
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const CLOCK_BOOTTIME: u32 = 7;
const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD_ID: i32 = 4;
const TIMER_ABSTIME: u32 = 1;
/// Timers one process may hold.
const MAX_TIMERS: usize = 1024;

/// The offset of the guest's `clock` from the host's monotonic clock, ns
/// (clock = host mono + offset; the guest's monotonic clock starts at boot).
fn clock_offset<H: Host>(k: &Kernel<H>, clock: u32) -> i128 {
    if clock == CLOCK_REALTIME {
        k.host.now_real() as i128 - k.host.now_mono() as i128
    } else {
        -(k.boot_time as i128)
    }
}

/// timer_create(2).
pub fn sys_timer_create<H: Host>(k: &mut Kernel<H>, clock: u32, sevp: u64, idp: u64) -> SysResult {
    match clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => {}
        // MONOTONIC_RAW and the coarse clocks have no timers on Linux.
        4..=6 => return Err(Errno::EOPNOTSUPP),
        // The CPU-time clocks (and the alarm clocks) are not supported.
        _ => return Err(Errno::EINVAL),
    }
    let id = {
        let t = &k.proc().timers;
        if t.posix.len() >= MAX_TIMERS {
            return Err(Errno::EAGAIN);
        }
        (t.next_id..=i32::MAX)
            .chain(0..t.next_id)
            .find(|i| !t.posix.contains_key(i))
            .unwrap_or(0)
    };
    // Linux hands out the id before it checks the sigevent: a refused one
    // uses it up too.
    k.proc().timers.next_id = id.checked_add(1).unwrap_or(0);
    let notify = if sevp == 0 {
        Notify::Signal {
            sig: SIGALRM,
            value: id as u64,
        }
    } else {
        // struct sigevent: sigev_value (pointer-sized), sigev_signo,
        // sigev_notify, then the thread id.
        let w = NATIVE.bytes();
        let b = k.user().read_vec(sevp, w + 12)?;
        let value = uabi::decode_longs(&b[..w], NATIVE)[0];
        let int = |o: usize| i32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let (signo, how, tid) = (int(w), int(w + 4), int(w + 8));
        let sig_ok = signo > 0 && signo as u32 <= NSIG;
        match how {
            SIGEV_NONE => Notify::None,
            SIGEV_SIGNAL if sig_ok => Notify::Signal {
                sig: signo as u32,
                value,
            },
            SIGEV_THREAD_ID if sig_ok && tid as u32 == k.cur => Notify::Signal {
                sig: signo as u32,
                value,
            },
            _ => return Err(Errno::EINVAL),
        }
    };
    k.user()
        .write(crate::mm::UserOutPtr::<i32>::new(idp), &id)?;
    let timers = &mut k.proc().timers;
    timers.next_id = id.checked_add(1).unwrap_or(0);
    timers.posix.insert(
        id,
        PosixTimer {
            clock,
            notify,
            expiry: None,
            interval: 0,
            overrun: 0,
            overrun_last: 0,
        },
    );
    Ok(0)
}

fn timer_of<H: Host>(k: &mut Kernel<H>, id: i32) -> KResult<PosixTimer> {
    k.proc().timers.posix.get(&id).copied().ok_or(Errno::EINVAL)
}

fn ts_ns(t: Timespec) -> KResult<u64> {
    if t.tv_sec < 0 || !(0..NS as i64).contains(&t.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((t.tv_sec as u64)
        .saturating_mul(NS)
        .saturating_add(t.tv_nsec as u64))
}

fn ns_ts(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / NS) as i64,
        tv_nsec: (ns % NS) as i64,
    }
}

/// The struct itimerspec (interval, value) of a timer now.
fn itimerspec<H: Host>(k: &Kernel<H>, t: &PosixTimer, abi: TimeAbi) -> alloc::vec::Vec<u8> {
    let now = k.host.now_mono();
    let left = t.expiry.map_or(0, |e| e.saturating_sub(now).max(1));
    let w = abi.width();
    let mut b = uabi::encode_timespec(ns_ts(t.interval), w);
    b.extend(uabi::encode_timespec(ns_ts(left), w));
    b
}

/// timer_settime(2) (and timer_settime64 with `abi` Time64).
pub fn sys_timer_settime<H: Host>(
    k: &mut Kernel<H>,
    id: i32,
    flags: u32,
    new: u64,
    old: u64,
    abi: TimeAbi,
) -> SysResult {
    let t = timer_of(k, id)?;
    let spec = uabi::read_timespecs(k, new, 2, abi)?;
    let (interval, value) = (ts_ns(spec[0])?, ts_ns(spec[1])?);
    if old != 0 {
        let b = itimerspec(k, &t, abi);
        k.user().write_bytes(old, &b)?;
    }
    let now = k.host.now_mono();
    let expiry = if value == 0 {
        None
    } else if flags & TIMER_ABSTIME != 0 {
        let mono = value as i128 - clock_offset(k, t.clock);
        // A time already past fires at once.
        Some(mono.max(0) as u64)
    } else {
        Some(now.saturating_add(value))
    };
    if let Some(p) = k.proc().timers.posix.get_mut(&id) {
        p.expiry = expiry;
        p.interval = if expiry.is_some() { interval } else { 0 };
        p.overrun = 0;
        p.overrun_last = 0;
    }
    Ok(0)
}

/// timer_gettime(2) (and timer_gettime64).
pub fn sys_timer_gettime<H: Host>(k: &mut Kernel<H>, id: i32, out: u64, abi: TimeAbi) -> SysResult {
    let t = timer_of(k, id)?;
    let b = itimerspec(k, &t, abi);
    k.user().write_bytes(out, &b)?;
    Ok(0)
}

/// timer_getoverrun(2): the overrun count of the last signal delivered (the
/// one queued last, unless that one is still pending).
pub fn sys_timer_getoverrun<H: Host>(k: &mut Kernel<H>, id: i32) -> SysResult {
    let t = timer_of(k, id)?;
    let p = k.proc();
    let pending = match t.notify {
        Notify::Signal { sig, .. } => {
            let mine = |i: &SigInfo| i.signo == sig && i.timer.is_some_and(|x| x.0 == id);
            (p.pending.contains(sig) && p.siginfo.get(&sig).is_some_and(mine))
                || p.rt_queue.iter().any(mine)
        }
        Notify::None => false,
    };
    Ok(if pending { t.overrun_last } else { t.overrun }.max(0) as usize)
}

/// timer_delete(2).
pub fn sys_timer_delete<H: Host>(k: &mut Kernel<H>, id: i32) -> SysResult {
    k.proc()
        .timers
        .posix
        .remove(&id)
        .map(|_| 0)
        .ok_or(Errno::EINVAL)
}

/// clock_settime(2): only CLOCK_REALTIME can be set, and not by an
/// unprivileged container: EPERM (EINVAL for other clocks, EFAULT or EINVAL
/// for a bad time first, as Linux checks).
pub fn sys_clock_settime<H: Host>(
    k: &mut Kernel<H>,
    clock: u32,
    tp: u64,
    abi: TimeAbi,
) -> SysResult {
    if clock != CLOCK_REALTIME {
        return Err(Errno::EINVAL);
    }
    let t = uabi::read_timespec(k, tp, abi)?;
    ts_ns(t)?;
    Err(Errno::EPERM)
}

/// settimeofday(2): EPERM (EINVAL for a bad timeval first).
pub fn sys_settimeofday<H: Host>(k: &mut Kernel<H>, tv: u64) -> SysResult {
    if tv != 0 {
        let t = uabi::read_timeval(k, tv, TimeAbi::Long)?;
        if t.tv_sec < 0 || !(0..1_000_000).contains(&t.tv_usec) {
            return Err(Errno::EINVAL);
        }
    }
    Err(Errno::EPERM)
}

/// clock_adjtime(2) and adjtimex(2): adjusting the clock is EPERM; reading
/// the kernel's clock discipline state (modes 0) is not supported (ENOSYS).
pub fn sys_clock_adjtime<H: Host>(k: &mut Kernel<H>, clock: u32, tx: u64) -> SysResult {
    if clock != CLOCK_REALTIME {
        return Err(Errno::EINVAL);
    }
    let mut m = [0u8; 4];
    k.user().read_bytes(tx, &mut m)?;
    let modes = u32::from_ne_bytes(m);
    // 0 and ADJ_OFFSET_SS_READ only read.
    if modes == 0 || modes == 0xa001 {
        return Err(Errno::ENOSYS);
    }
    Err(Errno::EPERM)
}

impl<H: Host> Kernel<H> {
    /// The earliest expiry of any process's POSIX timer.
    pub(crate) fn posix_timer_deadline(&self) -> Option<u64> {
        self.procs
            .values()
            .flat_map(|p| p.timers.posix.values().filter_map(|t| t.expiry))
            .min()
    }

    /// Fires the POSIX timers that expired: a signal each (SI_TIMER), or one
    /// more overrun when the previous signal of that timer is still pending.
    pub(crate) fn fire_posix_timers(&mut self) {
        let now = self.host.now_mono();
        let mut sends: alloc::vec::Vec<(Pid, u32, SigInfo)> = alloc::vec::Vec::new();
        for p in self.procs.values_mut() {
            let pid = p.pid;
            let mut due = alloc::vec::Vec::new();
            for (&id, t) in p.timers.posix.iter_mut() {
                let Some(e) = t.expiry.filter(|&e| now >= e) else {
                    continue;
                };
                let missed = match (now - e).checked_div(t.interval) {
                    Some(n) => {
                        t.expiry = Some(e.saturating_add((n + 1).saturating_mul(t.interval)));
                        n.min(i32::MAX as u64) as i32
                    }
                    None => {
                        t.expiry = None;
                        0
                    }
                };
                if let Notify::Signal { sig, value } = t.notify {
                    due.push((id, sig, value, missed));
                }
            }
            for (id, sig, value, missed) in due {
                // The timer's signal still pending: count an overrun.
                let queued = p
                    .siginfo
                    .get_mut(&sig)
                    .filter(|i| p.pending.contains(sig) && i.timer.is_some_and(|t| t.0 == id))
                    .or_else(|| {
                        p.rt_queue
                            .iter_mut()
                            .find(|i| i.signo == sig && i.timer.is_some_and(|t| t.0 == id))
                    });
                let t = p.timers.posix.get_mut(&id);
                if let Some(info) = queued {
                    if let (Some(t), Some(ti)) = (t, info.timer.as_mut()) {
                        t.overrun = t.overrun.saturating_add(1).saturating_add(missed);
                        ti.1 = t.overrun;
                    }
                    continue;
                }
                if let Some(t) = t {
                    t.overrun_last = t.overrun;
                    t.overrun = missed;
                }
                let info = SigInfo {
                    signo: sig,
                    code: code::SI_TIMER,
                    timer: Some((id, missed, value)),
                    ..SigInfo::default()
                };
                sends.push((pid, sig, info));
            }
        }
        for (pid, sig, info) in sends {
            let _ = self.send_signal(pid, sig, info);
        }
    }
}
