//! Hand-off at a futex wake.
//!
//! One guest thread runs at a time, and each switch between threads costs
//! host round trips. When thread A wakes B and then at once waits for B's
//! answer (a ping-pong through futexes: a handshake over a condition
//! variable or a pair of semaphores), running B first means the answer is
//! there when A looks again, and A's wait, a trap of its own, never happens.
//! So a FUTEX_WAKE that woke one waiter, made by a thread that waits right
//! after its wakes, of a partner that last woke it, ends the waker's turn:
//! the wakee runs next, for what is left of the waker's time slice (so a
//! pair of threads handing off to each other cannot keep the CPU from the
//! others beyond a slice).
//!
//! A producer that goes on working after its wake must not lose its turn at
//! every wake (that would cost a switch per item where one per batch does).
//! Whether a thread waits right after waking is measured on a wake of a
//! partner that does not hand off, every [`PROBE_EVERY`]-th: by whether its
//! next trap is a futex wait that blocks, within [`PROBE_NS`] of CPU time
//! of its host process (wall time where the host cannot tell, which a
//! loaded host stretches).

use super::Kernel;
use crate::host::Host;
use crate::task::Pid;

/// Hand-offs between two probes.
const PROBE_EVERY: u8 = 16;
/// How soon after its wake a thread must wait to count as waiting at once.
const PROBE_NS: u64 = 100_000;

/// The thread that runs next after a hand-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handoff {
    pub pid: Pid,
    pub tid: Pid,
    /// The end of the waker's time slice, which the wakee runs out.
    pub slice_end: Option<u64>,
}

impl<H: Host> Kernel<H> {
    /// Ends the current thread's turn once its syscall returns: thread `tid`
    /// of process `pid` runs next, for what is left of the time slice.
    pub(crate) fn hand_off(&mut self, pid: Pid, tid: Pid) {
        self.handoff = Some(Handoff {
            pid,
            tid,
            slice_end: None,
        });
        self.yielded = true;
    }

    /// The current thread's FUTEX_WAKE woke exactly one waiter, `wakee`:
    /// hands off to it, or probes whether the waker waits next.
    pub(crate) fn futex_woke(&mut self, wakee: Pid) {
        let traps = self.traps;
        let me = self.proc().thread.tid;
        let partner = self
            .thread(wakee)
            .is_some_and(|t| t.sync_wake.last_woke == me);
        let wakee_pid = self.tgid_of(wakee);
        let s = &mut self.proc().thread.sync_wake;
        s.last_woke = wakee;
        let Some(pid) = wakee_pid.filter(|_| partner) else {
            return;
        };
        if s.sync && s.since_probe < PROBE_EVERY {
            s.since_probe += 1;
            self.hand_off(pid, wakee);
            return;
        }
        s.since_probe = 0;
        let at = self.probe_clock();
        self.proc().thread.sync_wake.probe = Some((at, traps));
    }

    /// The current thread's new futex wait blocks: settles its probe.
    pub(crate) fn futex_waits(&mut self) {
        if self.proc().thread.sync_wake.probe.is_none() {
            return;
        }
        let now = self.probe_clock();
        let traps = self.traps;
        let s = &mut self.proc().thread.sync_wake;
        if let Some((at, n)) = s.probe.take() {
            s.sync = traps == n.wrapping_add(1) && now.saturating_sub(at) < PROBE_NS;
        }
    }

    /// The clock a probe is timed by: the CPU time of the current process's
    /// host process, else the monotonic clock.
    fn probe_clock(&mut self) -> u64 {
        let mm = self.proc().mm.id;
        self.host
            .cpu_time(mm)
            .unwrap_or_else(|| self.host.now_mono())
    }
}
