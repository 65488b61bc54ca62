//! `umbra run --stats`: what the guest cost the kernel, counted as it runs
//! and reported at exit (the performance model of DESIGN.md: syscalls × trap
//! cost, faults, forks, execs, map batches, host stops).
//!
//! Off by default; the trap loop then pays one test of an `Option` per trap.
//! When on, it reads the monotonic clock around each syscall, fault, flush
//! of mapping changes and idle wait (two vDSO reads, tens of ns).
//!
//! What is counted where:
//! - `run_user`: every return from the guest (a host stop), with the time
//!   from resuming the guest to its stop (the guest's own work plus the host's
//!   round trip into and out of it), by the kind of stop.
//! - syscalls: per number, the calls that completed (returned, exited or
//!   replaced the registers: execve, sigreturn), the times one parked
//!   (`blocked`: a call that waits counts once per wait), and the kernel's time
//!   serving them, all attempts together. A parked call that a signal or
//!   its deadline ends without being served again counts only as blocked.
//! - faults: page faults the kernel handled, with its time.
//! - flushes: sending a space's queued mapping changes to the host before the
//!   guest runs (the host counts the batches and their host calls).
//! - idle: waits for a host event when no thread could run.
//!
//! Every time is wall time on the host's monotonic clock, so it also holds
//! whatever the host ran on umbra's CPU meanwhile: a write to a host socket
//! that wakes the server on the same CPU (an X server drawing the request)
//! counts the server's turn in that syscall's kernel time, and the same goes
//! for a stop's guest + round trip.

use crate::vecmap::VecMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// A count and the nanoseconds it took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub ns: u64,
}

impl Tally {
    fn add(&mut self, ns: u64) {
        self.count = self.count.saturating_add(1);
        self.ns = self.ns.saturating_add(ns);
    }
}

/// One syscall number's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysTally {
    /// Calls that completed.
    pub calls: u64,
    /// Times a call parked to wait.
    pub blocked: u64,
    /// Kernel time serving it (every attempt).
    pub ns: u64,
}

/// How a guest stop ended `run_user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    Syscall,
    Fault,
    Exception,
    Timer,
    HostEvent,
    StubDied,
}

impl StopKind {
    /// The kind of a trap.
    pub fn of(t: &crate::host::Trap) -> StopKind {
        use crate::host::Trap;
        match t {
            Trap::Syscall { .. } => StopKind::Syscall,
            Trap::PageFault { .. } => StopKind::Fault,
            Trap::Exception { .. } => StopKind::Exception,
            Trap::Timer => StopKind::Timer,
            Trap::HostEvent => StopKind::HostEvent,
            Trap::StubDied => StopKind::StubDied,
        }
    }
}

/// The counters of one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// When the kernel started (monotonic ns).
    pub start_ns: u64,
    /// `run_user` returns, all kinds, with the time in the guest and the
    /// host round trip.
    pub runs: Tally,
    pub stops_syscall: u64,
    pub stops_fault: u64,
    pub stops_exception: u64,
    pub stops_timer: u64,
    pub stops_event: u64,
    pub stops_died: u64,
    /// Per syscall number.
    pub syscalls: VecMap<u64, SysTally>,
    pub faults: Tally,
    /// Flushes of queued mapping changes (count: those that had changes).
    pub flushes: Tally,
    pub idle: Tally,
}

impl Stats {
    pub fn new(start_ns: u64) -> Stats {
        Stats {
            start_ns,
            ..Stats::default()
        }
    }

    /// A `run_user` that took `ns` and ended with `kind`.
    pub fn stop(&mut self, kind: StopKind, ns: u64) {
        self.runs.add(ns);
        let c = match kind {
            StopKind::Syscall => &mut self.stops_syscall,
            StopKind::Fault => &mut self.stops_fault,
            StopKind::Exception => &mut self.stops_exception,
            StopKind::Timer => &mut self.stops_timer,
            StopKind::HostEvent => &mut self.stops_event,
            StopKind::StubDied => &mut self.stops_died,
        };
        *c = c.saturating_add(1);
    }

    /// One attempt at syscall `nr` that took `ns`; `parked` if it is waiting.
    pub fn syscall(&mut self, nr: u64, ns: u64, parked: bool) {
        let t = self.syscalls.entry(nr).or_default();
        if parked {
            t.blocked = t.blocked.saturating_add(1);
        } else {
            t.calls = t.calls.saturating_add(1);
        }
        t.ns = t.ns.saturating_add(ns);
    }

    pub fn fault(&mut self, ns: u64) {
        self.faults.add(ns);
    }

    pub fn flush(&mut self, ns: u64) {
        self.flushes.add(ns);
    }

    pub fn idle(&mut self, ns: u64) {
        self.idle.add(ns);
    }

    /// Completed calls of the syscalls named `names` together, with their
    /// time.
    pub fn calls_named(&self, names: &[&str]) -> Tally {
        let mut t = Tally::default();
        for (nr, s) in &self.syscalls {
            let n = umbra_abi::syscall::nr::name(*nr as usize).unwrap_or("");
            if names.contains(&n) {
                t.count = t.count.saturating_add(s.calls);
                t.ns = t.ns.saturating_add(s.ns);
            }
        }
        t
    }

    /// The report, at `now_ns`: one line per item, each starting with
    /// "umbra: stats:", the `top` most frequent syscalls by count.
    pub fn report(&self, now_ns: u64, top: usize) -> String {
        let mut s = String::new();
        let wall = now_ns.saturating_sub(self.start_ns);
        let total: u64 = self.syscalls.values().map(|t| t.calls).sum();
        let blocked: u64 = self.syscalls.values().map(|t| t.blocked).sum();
        let sys_ns: u64 = self.syscalls.values().map(|t| t.ns).sum();
        let _ = writeln!(s, "umbra: stats: wall {}", ms(wall));
        let _ = writeln!(
            s,
            "umbra: stats: syscalls {total} (parked {blocked}), kernel time {}, {} per call",
            ms(sys_ns),
            per(sys_ns, total + blocked)
        );
        let _ = writeln!(
            s,
            "umbra: stats: host stops {} (syscall {}, fault {}, exception {}, timer {}, event {}, died {}), \
             guest + round trip {}, {} per stop",
            self.runs.count,
            self.stops_syscall,
            self.stops_fault,
            self.stops_exception,
            self.stops_timer,
            self.stops_event,
            self.stops_died,
            ms(self.runs.ns),
            per(self.runs.ns, self.runs.count)
        );
        let line = |s: &mut String, what: &str, t: Tally| {
            let _ = writeln!(
                s,
                "umbra: stats: {what} {}, {}, {} each",
                t.count,
                ms(t.ns),
                per(t.ns, t.count)
            );
        };
        line(&mut s, "page faults", self.faults);
        line(
            &mut s,
            "forks/clones",
            self.calls_named(&["fork", "vfork", "clone", "clone3"]),
        );
        line(&mut s, "execs", self.calls_named(&["execve", "execveat"]));
        line(&mut s, "map flushes", self.flushes);
        line(&mut s, "idle waits", self.idle);
        let mut by_count: Vec<(&u64, &SysTally)> = self.syscalls.iter().collect();
        // Most calls first, then by number (keys are unique: the kernel's
        // small sort, not core's 5 KB one).
        crate::sort::sort_by_key(&mut by_count, |e| {
            (core::cmp::Reverse(e.1.calls + e.1.blocked), *e.0)
        });
        let _ = writeln!(
            s,
            "umbra: stats: {:>8} {:>8} {:>10} {:>9}  syscall",
            "calls", "parked", "kernel", "per call"
        );
        for (nr, t) in by_count.into_iter().take(top) {
            let name = umbra_abi::syscall::nr::name(*nr as usize);
            let mut n = String::new();
            match name {
                Some(x) => n.push_str(x),
                None => {
                    let _ = write!(n, "syscall_{nr:#x}");
                }
            }
            let _ = writeln!(
                s,
                "umbra: stats: {:>8} {:>8} {:>10} {:>9}  {n}",
                t.calls,
                t.blocked,
                ms(t.ns),
                per(t.ns, t.calls + t.blocked)
            );
        }
        s
    }
}

/// Nanoseconds as milliseconds with three decimals ("12.345 ms"), integer
/// arithmetic only (no float formatting in the ROM build).
fn ms(ns: u64) -> String {
    alloc::format!("{}.{:03} ms", ns / 1_000_000, ns / 1_000 % 1_000)
}

/// `ns / n` as microseconds with one decimal ("4.7 us"); "-" for n = 0.
fn per(ns: u64, n: u64) -> String {
    if n == 0 {
        return String::from("-");
    }
    let tenths = ns / n / 100;
    alloc::format!("{}.{} us", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_calls_blocks_and_names() {
        let nr_getppid = umbra_abi::syscall::nr::GETPPID as u64;
        let nr_clone = umbra_abi::syscall::nr::CLONE as u64;
        let mut s = Stats::new(1_000);
        for _ in 0..3 {
            s.syscall(nr_getppid, 2_000, false);
            s.stop(StopKind::Syscall, 5_000);
        }
        s.syscall(nr_clone, 50_000, true);
        s.syscall(nr_clone, 100_000, false);
        s.fault(7_000);
        s.stop(StopKind::Fault, 1_000);
        let r = s.report(2_001_000, 10);
        assert!(r.contains("umbra: stats: wall 2.000 ms\n"), "{r}");
        assert!(
            r.contains("syscalls 4 (parked 1), kernel time 0.156 ms, 31.2 us per call"),
            "{r}"
        );
        assert!(r.contains("host stops 4 (syscall 3, fault 1,"), "{r}");
        assert!(r.contains("forks/clones 1, 0.150 ms, 150.0 us each"), "{r}");
        assert!(r.contains("page faults 1, 0.007 ms, 7.0 us each"), "{r}");
        assert!(r.contains("execs 0, 0.000 ms, - each"), "{r}");
        // By count: getppid (3) before clone (2 attempts).
        let g = r.find("  getppid\n").expect("getppid row");
        let c = r.find("  clone\n").expect("clone row");
        assert!(g < c, "{r}");
        let rows: Vec<Vec<&str>> = r
            .lines()
            .map(|l| l.split_whitespace().skip(2).collect())
            .collect();
        assert!(
            rows.contains(&alloc::vec![
                "3", "0", "0.006", "ms", "2.0", "us", "getppid"
            ]),
            "{r}"
        );
        assert!(
            rows.contains(&alloc::vec!["1", "1", "0.150", "ms", "75.0", "us", "clone"]),
            "{r}"
        );
    }

    #[test]
    fn report_lists_only_the_top_n() {
        let mut s = Stats::new(0);
        for nr in 0..20u64 {
            for _ in 0..=nr {
                s.syscall(nr, 1, false);
            }
        }
        let r = s.report(1, 5);
        let rows = r
            .lines()
            .filter(|l| l.ends_with(|c: char| c.is_ascii_alphanumeric()) && l.contains(" us  "))
            .count();
        assert_eq!(rows, 5, "{r}");
    }
}
