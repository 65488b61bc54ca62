//! Event descriptors: eventfd, eventfd2, timerfd_create, timerfd_settime,
//! timerfd_gettime (and their `_time64` forms on 32-bit ARM), signalfd and
//! signalfd4, and the inotify calls (syscall/inotify.rs). The objects live in fs/ (eventfd.rs, timerfd.rs, signalfd.rs);
//! this file decodes the arguments and makes the descriptors.

use super::uabi::{self, TimeAbi};
use super::Outcome;
use crate::fs::eventfd::EventFd;
use crate::fs::file::OpenFile;
use crate::fs::signalfd::SignalFd;
use crate::fs::timerfd::{Arm, TimerFd, CLOCK_REALTIME};
use crate::fs::FileOps;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::fd_table::FdFlags;
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use umbra_abi::flags::{OpenFlags, O_RDWR};
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;
use umbra_abi::Errno;

const NS: u64 = 1_000_000_000;
const EFD_SEMAPHORE: u32 = 1;
const CLOCK_MONOTONIC: u32 = 1;
const CLOCK_BOOTTIME: u32 = 7;
const CLOCK_REALTIME_ALARM: u32 = 8;
const CLOCK_BOOTTIME_ALARM: u32 = 9;
const TFD_TIMER_ABSTIME: u32 = 1;
const TFD_TIMER_CANCEL_ON_SET: u32 = 2;
/// CAP_WAKE_ALARM, which the alarm clocks need.
const CAP_WAKE_ALARM: u32 = 35;

/// Serves the event-descriptor calls; `None` for other numbers.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    let r = match n {
        #[cfg(not(target_arch = "aarch64"))]
        EVENTFD => sys_eventfd2(k, a[0] as u32, 0),
        EVENTFD2 => sys_eventfd2(k, a[0] as u32, a[1] as u32),
        TIMERFD_CREATE => sys_timerfd_create(k, a[0] as u32, a[1] as u32),
        TIMERFD_SETTIME => {
            sys_timerfd_settime(k, a[0] as i32, a[1] as u32, a[2], a[3], TimeAbi::Long)
        }
        TIMERFD_GETTIME => sys_timerfd_gettime(k, a[0] as i32, a[1], TimeAbi::Long),
        #[cfg(target_arch = "arm")]
        TIMERFD_SETTIME64 => {
            sys_timerfd_settime(k, a[0] as i32, a[1] as u32, a[2], a[3], TimeAbi::Time64)
        }
        #[cfg(target_arch = "arm")]
        TIMERFD_GETTIME64 => sys_timerfd_gettime(k, a[0] as i32, a[1], TimeAbi::Time64),
        #[cfg(not(target_arch = "aarch64"))]
        SIGNALFD => sys_signalfd4(k, a[0] as i32, a[1], a[2] as usize, 0),
        SIGNALFD4 => sys_signalfd4(k, a[0] as i32, a[1], a[2] as usize, a[3] as u32),
        #[cfg(not(target_arch = "aarch64"))]
        INOTIFY_INIT if cfg!(feature = "inotify") => super::inotify::sys_inotify_init1(k, 0),
        INOTIFY_INIT1 if cfg!(feature = "inotify") => {
            super::inotify::sys_inotify_init1(k, a[0] as u32)
        }
        INOTIFY_ADD_WATCH if cfg!(feature = "inotify") => {
            super::inotify::sys_inotify_add_watch(k, a[0] as i32, a[1], a[2] as u32)
        }
        INOTIFY_RM_WATCH if cfg!(feature = "inotify") => {
            super::inotify::sys_inotify_rm_watch(k, a[0] as i32, a[1] as i32)
        }
        _ => return None,
    };
    Some(Outcome::Ret(r))
}

/// The fd flags and status flags of a new descriptor made with `flags`
/// (O_CLOEXEC and O_NONBLOCK, which every one of these calls takes).
pub(crate) fn new_fd<H: Host>(
    k: &mut Kernel<H>,
    ops: Arc<dyn FileOps>,
    access: u32,
    flags: u32,
) -> SysResult {
    let fl = OpenFlags::from_bits_retain(flags);
    let status = OpenFlags::from_bits_retain(access) | (fl & OpenFlags::O_NONBLOCK);
    let fdfl = if fl.contains(OpenFlags::O_CLOEXEC) {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    let f = OpenFile::from_ops(ops, status);
    Ok(k.proc().fds.alloc(f, 0, fdfl)? as usize)
}

/// O_CLOEXEC | O_NONBLOCK: the flags every one of these calls takes.
fn fd_flag_bits() -> u32 {
    (OpenFlags::O_CLOEXEC | OpenFlags::O_NONBLOCK).bits()
}

/// eventfd2(2), also eventfd(2) with no flags.
pub fn sys_eventfd2<H: Host>(k: &mut Kernel<H>, initval: u32, flags: u32) -> SysResult {
    if flags & !(fd_flag_bits() | EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    let e = EventFd::new(u64::from(initval), flags & EFD_SEMAPHORE != 0);
    new_fd(k, Arc::new(e), O_RDWR, flags)
}

/// timerfd_create(2). The alarm clocks (which would wake a suspended
/// machine, something a guest has no say in) run as their plain clocks, for
/// a caller with CAP_WAKE_ALARM.
pub fn sys_timerfd_create<H: Host>(k: &mut Kernel<H>, clock: u32, flags: u32) -> SysResult {
    if flags & !fd_flag_bits() != 0 {
        return Err(Errno::EINVAL);
    }
    let clock = match clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => clock,
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => {
            if !k.proc().creds.capable(CAP_WAKE_ALARM) {
                return Err(Errno::EPERM);
            }
            if clock == CLOCK_REALTIME_ALARM {
                CLOCK_REALTIME
            } else {
                CLOCK_BOOTTIME
            }
        }
        _ => return Err(Errno::EINVAL),
    };
    let t = Arc::new(TimerFd::new(clock));
    let fd = new_fd(k, t.clone(), O_RDWR, flags)?;
    k.timerfds.add(&t);
    Ok(fd)
}

/// The timerfd behind `fd`: EBADF for no descriptor, EINVAL for another file.
fn timerfd_of<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<Arc<OpenFile>> {
    let f = k.proc().fds.get(fd)?;
    match f.ops() {
        Some(o) if TimerFd::of(&**o).is_some() => Ok(f),
        _ => Err(Errno::EINVAL),
    }
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

/// Writes struct itimerspec {interval, value} at `at`.
fn write_itimerspec<H: Host>(
    k: &mut Kernel<H>,
    at: u64,
    (value, interval): (u64, u64),
    abi: TimeAbi,
) -> KResult<()> {
    let mut b = uabi::encode_timespec(ns_ts(interval), abi.width());
    b.extend(uabi::encode_timespec(ns_ts(value), abi.width()));
    k.user().write_bytes(at, &b)
}

/// timerfd_settime(2) (timerfd_settime64 with `abi` Time64).
pub fn sys_timerfd_settime<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    flags: u32,
    new: u64,
    old: u64,
    abi: TimeAbi,
) -> SysResult {
    let spec = uabi::read_timespecs(k, new, 2, abi)?;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = (ts_ns(spec[0])?, ts_ns(spec[1])?);
    let f = timerfd_of(k, fd)?;
    let Some(t) = f.ops().and_then(|o| TimerFd::of(&**o)) else {
        return Err(Errno::EINVAL);
    };
    let (now, now_real) = (k.host.now_mono(), k.host.now_real());
    let real = t.clock() == CLOCK_REALTIME;
    let abs = flags & TFD_TIMER_ABSTIME != 0;
    let first = if value == 0 {
        None
    } else if abs {
        // The clock's time `value` on the host's monotonic clock; a time
        // already past expires at once.
        let off = if real {
            now_real as i128 - now as i128
        } else {
            -(k.boot_time as i128)
        };
        Some((value as i128 - off).clamp(0, u64::MAX as i128) as u64)
    } else {
        Some(now.saturating_add(value))
    };
    let arm = Arm {
        first,
        interval,
        real_off: real.then_some(now_real as i128 - now as i128),
        abs_real: real && abs,
        cancel_on_set: real && abs && flags & TFD_TIMER_CANCEL_ON_SET != 0,
    };
    let prev = t.set(now, now_real, arm);
    if old != 0 {
        write_itimerspec(k, old, prev, abi)?;
    }
    Ok(0)
}

/// timerfd_gettime(2) (timerfd_gettime64 with `abi` Time64).
pub fn sys_timerfd_gettime<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    out: u64,
    abi: TimeAbi,
) -> SysResult {
    let f = timerfd_of(k, fd)?;
    let Some(t) = f.ops().and_then(|o| TimerFd::of(&**o)) else {
        return Err(Errno::EINVAL);
    };
    let cur = t.get(k.host.now_mono(), k.host.now_real());
    write_itimerspec(k, out, cur, abi)?;
    Ok(0)
}

/// signalfd4(2), also signalfd(2) with no flags: a new signalfd for the
/// signals of the mask at `mask` (SIGKILL and SIGSTOP left out), or, with
/// `fd` a signalfd, a new mask for it.
pub fn sys_signalfd4<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    mask: u64,
    size: usize,
    flags: u32,
) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 8];
    k.user().read_bytes(mask, &mut b)?;
    if flags & !fd_flag_bits() != 0 {
        return Err(Errno::EINVAL);
    }
    let m = u64::from_ne_bytes(b) & !crate::task::signal::UNBLOCKABLE.0;
    if fd == -1 {
        return new_fd(k, Arc::new(SignalFd::new(m)), O_RDWR, flags);
    }
    let f = k.proc().fds.get(fd)?;
    match f.ops().and_then(|o| SignalFd::of(&**o)) {
        Some(s) => {
            s.set_mask(m);
            Ok(fd as usize)
        }
        None => Err(Errno::EINVAL),
    }
}
