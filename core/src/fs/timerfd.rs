//! timerfd_create(2): a timer as a file. A read returns the number of
//! expirations since the last read or settime (8 bytes) and would block
//! while there are none; poll reports POLLIN then.
//!
//! Expirations are counted from the clock when the file is looked at, so a
//! read needs no kernel timer. The kernel keeps a list of the timers
//! ([`TimerList`]) only to wake threads that wait for them: it counts each
//! timer's expiry as an event (its deadline is one the kernel sleeps until,
//! and reaching it moves the kernel's epoch), so a thread blocked in read,
//! poll, select or epoll_wait on a timer with nothing else happening runs
//! again when the timer expires.
//!
//! Times are kept on the host's monotonic clock. A CLOCK_REALTIME timer
//! remembers the realtime clock's offset from it when it was armed: when
//! that offset moves (the clock was set), an absolute timer moves with it,
//! and one armed with TFD_TIMER_CANCEL_ON_SET is cancelled (its reads get
//! ECANCELED), as Linux's clock_was_set does.

use super::vfs::{FileOps, IoCtx, IoctlArg, PollEvents, WakeSeq};
use crate::error::{Errno, KResult};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use spin::Mutex;

/// CLOCK_REALTIME.
pub const CLOCK_REALTIME: u32 = 0;
/// A realtime offset change below this is read jitter, not a clock set.
const CLOCK_SET_SLACK_NS: i128 = 50_000_000;
/// TFD_IOC_SET_TICKS: _IOW('T', 0, u64).
pub const TFD_IOC_SET_TICKS: u32 = 0x4008_5400;

#[derive(Default)]
struct State {
    /// The next expiry, host monotonic ns; `None` while disarmed.
    next: Option<u64>,
    /// The period, ns (0: one shot).
    interval: u64,
    /// Expirations counted and not yet read.
    ticks: u64,
    /// A CLOCK_REALTIME timer's realtime - monotonic offset when armed.
    real_off: Option<i128>,
    /// The timer is absolute on the realtime clock (moves when it is set).
    abs_real: bool,
    /// TFD_TIMER_CANCEL_ON_SET.
    cancel_on_set: bool,
    /// The clock was set under a CANCEL_ON_SET timer.
    cancelled: bool,
    /// Wake-ups for edge-triggered epoll: Linux's timer wakes its waiters
    /// at its first expiry after a read (a periodic hrtimer is re-armed by
    /// the read), at a cancellation and at TFD_IOC_SET_TICKS.
    wakes: WakeSeq,
}

impl State {
    /// Counts the expirations up to `now` and moves the next one past it.
    /// Returns whether any expired.
    fn advance(&mut self, now: u64, now_real: u64) -> bool {
        if let Some(off) = self.real_off {
            let cur = now_real as i128 - now as i128;
            if (cur - off).abs() > CLOCK_SET_SLACK_NS {
                self.real_off = Some(cur);
                if self.cancel_on_set {
                    self.cancelled = true;
                    self.next = None;
                    self.wakes.wake_input();
                    return true;
                }
                if self.abs_real {
                    // The expiry is a realtime instant: it moved on the
                    // monotonic clock by what the clock was set by.
                    self.next = self
                        .next
                        .map(|n| (n as i128 - (cur - off)).clamp(0, u64::MAX as i128) as u64);
                }
            }
        }
        let Some(e) = self.next.filter(|&e| now >= e) else {
            return false;
        };
        let n = match (now - e).checked_div(self.interval) {
            Some(k) => {
                let n = k.saturating_add(1);
                self.next = Some(e.saturating_add(n.saturating_mul(self.interval)));
                n
            }
            None => {
                self.next = None;
                1
            }
        };
        if self.ticks == 0 {
            self.wakes.wake_input();
        }
        self.ticks = self.ticks.saturating_add(n);
        true
    }
}

/// One timerfd object.
pub struct TimerFd {
    clock: u32,
    st: Mutex<State>,
}

/// What timerfd_settime asks for, on the host's monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct Arm {
    /// The first expiry (host monotonic ns); `None` disarms.
    pub first: Option<u64>,
    pub interval: u64,
    /// The realtime - monotonic offset now, for a CLOCK_REALTIME timer.
    pub real_off: Option<i128>,
    pub abs_real: bool,
    pub cancel_on_set: bool,
}

impl TimerFd {
    /// A disarmed timer on `clock`.
    pub fn new(clock: u32) -> TimerFd {
        TimerFd {
            clock,
            st: Mutex::new(State::default()),
        }
    }

    /// The object behind a file, if it is a timerfd.
    pub fn of(ops: &dyn FileOps) -> Option<&TimerFd> {
        ops.as_any().downcast_ref()
    }

    /// The clock it was created on.
    pub fn clock(&self) -> u32 {
        self.clock
    }

    /// The time left to the next expiry and the interval, ns (0, 0 when
    /// disarmed), after counting what expired by `now`.
    pub fn get(&self, now: u64, now_real: u64) -> (u64, u64) {
        let mut s = self.st.lock();
        s.advance(now, now_real);
        let left = s.next.map_or(0, |e| e.saturating_sub(now).max(1));
        (left, if s.next.is_some() { s.interval } else { 0 })
    }

    /// timerfd_settime: re-arms (or disarms), dropping the expirations not
    /// read, and returns the old setting as [`Self::get`] does.
    pub fn set(&self, now: u64, now_real: u64, arm: Arm) -> (u64, u64) {
        let old = self.get(now, now_real);
        let mut s = self.st.lock();
        *s = State {
            next: arm.first,
            interval: if arm.first.is_some() { arm.interval } else { 0 },
            ticks: 0,
            real_off: arm.real_off,
            abs_real: arm.abs_real,
            cancel_on_set: arm.cancel_on_set && arm.first.is_some(),
            cancelled: false,
            wakes: s.wakes,
        };
        old
    }

    /// The next expiry, host monotonic ns (for the kernel's wake-up).
    pub fn next_expiry(&self) -> Option<u64> {
        self.st.lock().next
    }

    /// Counts what expired by `now`; whether anything did (the kernel then
    /// wakes the threads that wait).
    pub fn expire(&self, now: u64, now_real: u64) -> bool {
        self.st.lock().advance(now, now_real)
    }

    /// Expirations not yet read (/proc/PID/fdinfo's ticks).
    pub fn ticks(&self) -> u64 {
        self.st.lock().ticks
    }
}

impl FileOps for TimerFd {
    fn read(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let mut s = self.st.lock();
        s.advance(ctx.now_mono(), ctx.now_real());
        if s.cancelled {
            s.cancelled = false;
            s.ticks = 0;
            return Err(Errno::ECANCELED);
        }
        if s.ticks == 0 {
            return Err(Errno::EAGAIN);
        }
        buf[..8].copy_from_slice(&s.ticks.to_ne_bytes());
        s.ticks = 0;
        Ok(8)
    }

    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn poll(&self, ctx: &mut dyn IoCtx) -> PollEvents {
        let mut s = self.st.lock();
        s.advance(ctx.now_mono(), ctx.now_real());
        if s.ticks > 0 || s.cancelled {
            PollEvents::POLLIN
        } else {
            PollEvents::empty()
        }
    }

    fn ioctl(&self, _ctx: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        if cmd != TFD_IOC_SET_TICKS {
            return Err(Errno::ENOTTY);
        }
        let mut b = [0u8; 8];
        arg.read_in(&mut b)?;
        let t = u64::from_ne_bytes(b);
        if t == 0 {
            return Err(Errno::EINVAL);
        }
        let mut s = self.st.lock();
        if s.cancelled {
            return Err(Errno::ECANCELED);
        }
        s.ticks = t;
        s.wakes.wake_input();
        Ok(0)
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(self.st.lock().wakes)
    }

    fn anon_name(&self) -> Option<&'static str> {
        Some("[timerfd]")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The kernel's list of live timers, to wake their waiters on expiry.
#[derive(Default)]
pub struct TimerList {
    timers: Vec<Weak<TimerFd>>,
}

impl TimerList {
    /// Adds a new timer.
    pub fn add(&mut self, t: &Arc<TimerFd>) {
        self.timers.retain(|w| w.strong_count() > 0);
        self.timers.push(Arc::downgrade(t));
    }

    /// The earliest expiry of an armed timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers
            .iter()
            .filter_map(|w| w.upgrade()?.next_expiry())
            .min()
    }

    /// Counts the expirations up to `now`; whether any timer expired (or
    /// was cancelled), which is an event for waiting threads.
    pub fn fire(&mut self, now: u64, now_real: u64) -> bool {
        let mut any = false;
        self.timers.retain(|w| match w.upgrade() {
            Some(t) => {
                any |= t.expire(now, now_real);
                true
            }
            None => false,
        });
        any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn arm(first: u64, interval: u64) -> Arm {
        Arm {
            first: Some(first),
            interval,
            ..Arm::default()
        }
    }

    #[test]
    fn one_shot_counts_one_expiry_and_disarms() {
        let t = TimerFd::new(1);
        t.set(0, 0, arm(10 * MS, 0));
        assert_eq!(t.get(4 * MS, 0), (6 * MS, 0));
        assert!(!t.expire(9 * MS, 0));
        assert!(t.expire(50 * MS, 0));
        assert_eq!((t.ticks(), t.next_expiry()), (1, None));
        assert_eq!(t.get(60 * MS, 0), (0, 0));
    }

    #[test]
    fn periodic_counts_every_period_passed() {
        let t = TimerFd::new(1);
        t.set(0, 0, arm(MS, MS));
        assert!(t.expire(MS * 25 + 1, 0));
        assert_eq!(t.ticks(), 25);
        assert_eq!(t.next_expiry(), Some(26 * MS));
        // settime drops what was not read.
        let old = t.set(MS * 25 + 1, 0, arm(100 * MS, 0));
        assert_eq!(old, (MS - 1, MS));
        assert_eq!(t.ticks(), 0);
    }

    #[test]
    fn realtime_clock_set_cancels_or_moves() {
        let off = 1_000_000 * MS as i128;
        let c = TimerFd::new(CLOCK_REALTIME);
        let mut a = arm(100 * MS, 0);
        a.real_off = Some(off);
        a.abs_real = true;
        a.cancel_on_set = true;
        c.set(0, off as u64, a);
        // Jitter is no clock set.
        assert!(!c.expire(10 * MS, off as u64 + 10 * MS + 5));
        // The clock jumps by a second: cancelled, nothing to wait for.
        assert!(c.expire(20 * MS, off as u64 + 1020 * MS));
        assert_eq!(c.next_expiry(), None);
        let m = TimerFd::new(CLOCK_REALTIME);
        a.cancel_on_set = false;
        m.set(0, off as u64, a);
        // Set back by 80 ms: the absolute expiry is 80 ms further away.
        m.expire(10 * MS, off as u64 - 70 * MS);
        assert_eq!(m.next_expiry(), Some(180 * MS));
    }

    #[test]
    fn the_list_wakes_on_expiry_and_forgets_closed_timers() {
        let mut l = TimerList::default();
        let a = Arc::new(TimerFd::new(1));
        let b = Arc::new(TimerFd::new(1));
        l.add(&a);
        l.add(&b);
        a.set(0, 0, arm(5 * MS, 0));
        b.set(0, 0, arm(3 * MS, 0));
        assert_eq!(l.next_deadline(), Some(3 * MS));
        assert!(!l.fire(2 * MS, 0));
        assert!(l.fire(3 * MS, 0));
        assert_eq!(l.next_deadline(), Some(5 * MS));
        drop(a);
        assert_eq!(l.next_deadline(), None);
        assert!(!l.fire(10 * MS, 0));
        assert_eq!(l.timers.len(), 1);
    }
}
