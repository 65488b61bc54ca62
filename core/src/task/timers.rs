//! Per-process timers beyond ITIMER_REAL: the CPU-time interval timers
//! (ITIMER_VIRTUAL, ITIMER_PROF) and POSIX timers (timer_create).

use crate::vecmap::VecMap;

/// How a POSIX timer reports an expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    /// SIGEV_NONE: nothing; timer_gettime shows it.
    None,
    /// SIGEV_SIGNAL (or SIGEV_THREAD_ID naming the process's thread): this
    /// signal with this sigev_value.
    Signal { sig: u32, value: u64 },
}

/// One POSIX timer.
#[derive(Clone, Copy, Debug)]
pub struct PosixTimer {
    pub clock: u32,
    pub notify: Notify,
    /// The next expiry, monotonic ns (realtime deadlines are converted when
    /// set: the guest cannot change the clock).
    pub expiry: Option<u64>,
    /// The period, ns (0: one-shot).
    pub interval: u64,
    /// Expiries that found the signal of this timer still pending (for the
    /// signal queued last).
    pub overrun: i32,
    /// The overrun of the signal queued before it (timer_getoverrun reports
    /// the last delivered one).
    pub overrun_last: i32,
}

/// A process's timers. Not inherited by fork; POSIX timers go at exec.
#[derive(Clone, Debug, Default)]
pub struct Timers {
    /// ITIMER_VIRTUAL: (user CPU ns at which it expires, interval).
    pub virt: Option<(u64, u64)>,
    /// ITIMER_PROF: (user + system CPU ns at which it expires, interval).
    pub prof: Option<(u64, u64)>,
    pub posix: VecMap<i32, PosixTimer>,
    /// Where the search for the next timer id starts: ids are handed out
    /// in increasing order, as Linux does (kept across exec).
    pub next_id: i32,
}
