//! User CPU time from the host: what a guest thread is charged is the CPU
//! time its host process (the stub) used while the thread ran there, read
//! from the stub's CPU clock (`HostTime::cpu_time`), not the wall time
//! around `run_user`, which counts host preemption too (another host
//! process on umbra's CPU would make a guest thread's CPU time grow while
//! it did not run).
//!
//! A read of that clock is a host syscall, so it is not made at every
//! stop. Each address space has a mark: the clock's value when the thread
//! now charged for it (`CpuMark::pid`, `tid`) started to run there. The
//! clock only moves while the stub runs, so everything it gained since the
//! mark is that thread's. The clock is read when another thread (or the
//! child of a vfork) runs on the same stub, when the time is asked for
//! (times, getrusage, clock_gettime, /proc), when the process exits or
//! drops the address space, and at every trap of a process that has CPU
//! timers or RLIMIT_CPU. A host without the clock (MockHost) is charged
//! the wall time, as before.
//!
//! System time the same way, from the kernel's own CPU clock
//! (`HostTime::kernel_cpu_time`: umbra's host thread): one mark (`sys_mark`)
//! says which thread the kernel works for, from which clock value on. It
//! moves (one clock read) when the kernel runs or serves another thread,
//! and is settled when times are asked for, at exit, and at every trap of
//! a watched process; a trap of the marked thread reads no clock. All the
//! kernel's CPU time until the mark moves is that thread's: its syscalls
//! and faults, the host calls that stop and resume it, and whatever else
//! the kernel does meanwhile (as Linux charges an interrupt to the thread it
//! interrupts), but not host preemption. Without the clock, system time is
//! the wall time from each trap to the next run (`Kernel::sys_since`).

use super::Kernel;
use crate::host::{Host, MmId};
use crate::task::{CpuTimes, Pid, Process};
use crate::vecmap::VecMap;
use alloc::boxed::Box;

/// Who the CPU time an address space's host process uses goes to, from
/// which clock value on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuMark {
    pub pid: Pid,
    pub tid: Pid,
    pub at: u64,
}

impl<H: Host> Kernel<H> {
    /// Whether user time comes from the host's CPU clocks (decided at the
    /// first run: the host has them or not).
    pub(super) fn cpu_from_host(&self) -> bool {
        self.cpu_clock == Some(true)
    }

    /// Before thread `tid` of `pid` runs on `mm`: charges what the stub used
    /// since its mark to the thread it was for, and marks `tid`. No host
    /// call when `tid` holds the mark already.
    pub(super) fn cpu_mark_for(&mut self, mm: MmId, pid: Pid, tid: Pid) {
        if self.cpu_clock == Some(false) {
            return;
        }
        if self
            .cpu_marks
            .get(&mm)
            .is_some_and(|m| m.pid == pid && m.tid == tid)
        {
            return;
        }
        let Some(now) = self.host.cpu_time(mm) else {
            if self.cpu_clock.is_none() {
                self.cpu_clock = Some(false);
            }
            return;
        };
        self.cpu_clock = Some(true);
        self.cpu_charge(mm, now);
        self.cpu_marks.insert(mm, CpuMark { pid, tid, at: now });
    }

    /// Charges what `mm`'s stub used up to `now` to its mark's thread (or,
    /// the thread gone, its process) and moves the mark to `now`.
    fn cpu_charge(&mut self, mm: MmId, now: u64) {
        let Some(m) = self.cpu_marks.get_mut(&mm) else {
            return;
        };
        let d = now.saturating_sub(m.at);
        m.at = now;
        let (pid, tid) = (m.pid, m.tid);
        if let Some(p) = self.procs.get_mut(&pid) {
            p.cpu.user_ns = p.cpu.user_ns.saturating_add(d);
            if let Some(t) = p.thread_by_tid_mut(tid) {
                t.cpu.user_ns = t.cpu.user_ns.saturating_add(d);
            }
        }
    }

    /// Brings the user time charged for `mm`'s stub up to date (before
    /// the process's times are used or its stub goes).
    pub(super) fn cpu_settle(&mut self, mm: MmId) {
        if !self.cpu_from_host() || !self.cpu_marks.contains_key(&mm) {
            return;
        }
        if let Some(now) = self.host.cpu_time(mm) {
            self.cpu_charge(mm, now);
        }
    }

    /// Drops `mm`'s mark once its time is charged (its stub goes).
    pub(super) fn cpu_forget(&mut self, mm: MmId) {
        self.cpu_settle(mm);
        self.cpu_marks.remove(&mm);
    }

    /// Adds the unsettled user time of `pid` (thread `tid`) to `t`.
    pub(super) fn with_unsettled(&self, mut t: CpuTimes, pid: Pid, tid: Option<Pid>) -> CpuTimes {
        if self.cpu_from_host() {
            t.user_ns = t.user_ns.saturating_add(unsettled(
                &self.host,
                &self.procs,
                &self.cpu_marks,
                pid,
                tid,
            ));
        }
        t
    }

    /// Before the kernel works for thread `tid` of `pid` (runs or serves
    /// it): charges the kernel's CPU time since the system-time mark to the
    /// thread that held it and marks `tid`; no host call when `tid` holds
    /// the mark already. False if the host has no kernel CPU clock: the
    /// caller counts wall time then.
    pub(super) fn sys_mark_for(&mut self, pid: Pid, tid: Pid) -> bool {
        if self.sys_clock == Some(false) {
            return false;
        }
        if self.sys_mark.is_some_and(|m| m.pid == pid && m.tid == tid) {
            return true;
        }
        let Some(now) = self.host.kernel_cpu_time() else {
            self.sys_clock = Some(false);
            return false;
        };
        self.sys_clock = Some(true);
        self.sys_charge(now);
        self.sys_mark = Some(CpuMark { pid, tid, at: now });
        true
    }

    /// Charges the kernel's CPU time up to `now` to the marked thread (or,
    /// the thread gone, its process) and moves the mark to `now`.
    fn sys_charge(&mut self, now: u64) {
        let Some(m) = self.sys_mark.as_mut() else {
            return;
        };
        let d = now.saturating_sub(m.at);
        m.at = now;
        let (pid, tid) = (m.pid, m.tid);
        if let Some(p) = self.procs.get_mut(&pid) {
            p.cpu.sys_ns = p.cpu.sys_ns.saturating_add(d);
            if let Some(t) = p.thread_by_tid_mut(tid) {
                t.cpu.sys_ns = t.cpu.sys_ns.saturating_add(d);
            }
        }
    }

    /// Brings the system time of the marked thread up to date.
    pub(super) fn sys_settle(&mut self) {
        if self.sys_clock != Some(true) || self.sys_mark.is_none() {
            return;
        }
        if let Some(now) = self.host.kernel_cpu_time() {
            self.sys_charge(now);
        }
    }

    /// The system-time mark, when system time comes from the kernel's CPU
    /// clock.
    pub(super) fn sys_mark(&self) -> Option<CpuMark> {
        self.sys_mark.filter(|_| self.sys_clock == Some(true))
    }

    /// Whether process `pid` has something that acts on its CPU time as it
    /// runs (ITIMER_VIRTUAL, ITIMER_PROF, RLIMIT_CPU): its time is kept
    /// exact at every trap then.
    pub(super) fn cpu_watched(&self, pid: Pid) -> bool {
        self.procs.get(&pid).is_some_and(|p| {
            let lim = p.rlimits[umbra_abi::flags::RLIMIT_CPU as usize];
            p.timers.virt.is_some()
                || p.timers.prof.is_some()
                || lim.rlim_cur != umbra_abi::flags::RLIM_INFINITY
        })
    }
}

/// The system time process `pid` (thread `tid` of it, if given) used since
/// the kernel's CPU clock was last charged (`mark`: `Kernel::sys_mark`).
pub(super) fn sys_unsettled<H: Host>(
    host: &H,
    mark: Option<CpuMark>,
    pid: Pid,
    tid: Option<Pid>,
) -> u64 {
    match mark {
        Some(m) if m.pid == pid && tid.is_none_or(|t| t == m.tid) => host
            .kernel_cpu_time()
            .map_or(0, |now| now.saturating_sub(m.at)),
        _ => 0,
    }
}

/// The user time process `pid` (thread `tid` of it, if given) used since its
/// last charge: read from the host's clock, nothing charged.
pub(super) fn unsettled<H: Host>(
    host: &H,
    procs: &VecMap<Pid, Box<Process>>,
    marks: &VecMap<MmId, CpuMark>,
    pid: Pid,
    tid: Option<Pid>,
) -> u64 {
    let Some(p) = procs.get(&pid) else {
        return 0;
    };
    let mm = p.mm.id;
    let Some(m) = marks.get(&mm) else {
        return 0;
    };
    if m.pid != pid || tid.is_some_and(|t| t != m.tid) {
        return 0;
    }
    host.cpu_time(mm).map_or(0, |now| now.saturating_sub(m.at))
}
