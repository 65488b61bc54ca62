//! Processes (thread groups) and their threads. A [`Process`] holds what its
//! threads share (address space, files, signal actions, credentials, the
//! process-wide pending set); a [`Thread`] holds what each has of its own
//! (registers, signal mask and pending set, blocking state, futex and robust
//! list, CPU time).
//!
//! `Process::thread` is the thread the kernel runs or serves now for this
//! process (the one last picked); the others wait in `Process::others`. The
//! scheduler makes a thread current with [`Process::switch_to`], so the code
//! that serves a syscall always finds the caller in `thread`.

use super::fd_table::FdTable;
use super::signal::{AltStack, SigAction, SigInfo, SigSet};
use crate::arch::UserRegs;
use crate::fs::{Cred, PathRef};
use crate::mm::AddressSpace;
use alloc::vec::Vec;
use umbra_abi::structs::Rlimit;

/// A process or thread id.
pub type Pid = u32;

/// How a process ended, in the kernel's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit(code).
    Exited(u8),
    /// Killed by a signal; `core` when the default action dumps core.
    Signaled { sig: u32, core: bool },
}

impl ExitStatus {
    /// The wait(2) status word.
    pub fn wait_status(self) -> u32 {
        match self {
            ExitStatus::Exited(c) => (c as u32) << 8,
            ExitStatus::Signaled { sig, core } => sig | if core { 0x80 } else { 0 },
        }
    }
    /// The status a shell reports: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c as i32,
            ExitStatus::Signaled { sig, .. } => 128 + sig as i32,
        }
    }
}

/// What a blocked thread waits for. A blocked thread keeps its syscall in its
/// registers; what ends the wait decides what the syscall returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Something may change (input, a pipe, a child): the syscall is served
    /// again after other threads ran or the host reported an event. `deadline`
    /// (monotonic ns) bounds the wait; the syscall sees it through
    /// `Thread::deadline` when it is served again.
    Event {
        deadline: Option<u64>,
        restart: Restart,
    },
    /// nanosleep: returns 0 at the deadline.
    Until(u64),
    /// pause and sigsuspend: only a signal ends the wait.
    Signal,
    /// A vfork parent: until the child execs or exits.
    Vfork(Pid),
}

/// What a signal handler does to an interrupted blocking syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Restarted after the handler under SA_RESTART, EINTR otherwise (read,
    /// write, wait4: ERESTARTSYS).
    WithSaRestart,
    /// Always EINTR when a handler runs (poll, select, sleeps: ERESTARTNOHAND).
    Never,
    /// Restarted after any handler (futex PI locks: ERESTARTNOINTR).
    Always,
}

/// Scheduling state of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    Runnable,
    /// Parked inside a syscall; its registers still hold the call.
    Blocked(Wait),
}

/// Job-control state of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Running,
    /// Stopped by this signal.
    Stopped(u32),
}

/// A stop or continue not yet reported to the parent's wait (WUNTRACED,
/// WCONTINUED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobReport {
    Stopped(u32),
    Continued,
}

/// A guest thread.
pub struct Thread {
    pub tid: Pid,
    pub regs: UserRegs,
    pub state: ThreadState,
    pub sigmask: SigSet,
    /// The mask to restore after a sigsuspend-interrupting handler.
    pub saved_mask: Option<SigSet>,
    /// Signals sent to this thread (tkill, tgkill, CPU faults).
    pub pending: SigSet,
    /// When a signal was last queued for this thread ([`wake_clock`]):
    /// signalfd's wake-ups, for edge-triggered epoll.
    ///
    /// [`wake_clock`]: crate::fs::vfs::wake_clock
    pub sig_wake: u64,
    pub altstack: AltStack,
    /// Deadline of a blocked syscall, kept while it is served again.
    pub deadline: Option<u64>,
    /// Bytes a blocked stream write has moved so far.
    pub io_done: usize,
    /// Queued instances of real-time signals sent to this thread, oldest
    /// first (they queue; a standard signal is pending at most once).
    pub rt_queue: Vec<SigInfo>,
    /// Information of the standard signals pending for this thread.
    pub siginfo: crate::vecmap::VecMap<u32, SigInfo>,
    pub clear_child_tid: u64,
    pub robust_list: (u64, u64),
    /// Its futex queue entry while it waits in futex(2).
    pub futex: Option<super::futex::FutexWaiter>,
    /// User memory the syscall being served copied in (a path, an iovec
    /// array, a signal set), by address and length (`usize::MAX`: a
    /// string): served again after blocking, the call uses these copies,
    /// as Linux copies its arguments once at entry, so another thread
    /// rewriting them meanwhile changes nothing. Emptied when the call ends.
    pub copied_in: Vec<(u64, usize, Vec<u8>)>,
    /// CPU time this thread used (`user_ns` and `sys_ns`; the process's
    /// `cpu` has the whole group's).
    pub cpu: CpuTimes,
    /// Its FP/vector state while another thread of the same address space
    /// runs on the host (empty: the host holds it, or it was never saved).
    pub fpstate: Vec<u8>,
    /// Its futex wake pattern, for the scheduler's hand-off.
    pub sync_wake: super::futex::SyncWake,
    /// The O_ASYNC stream socket it sleeps on in a receive (Linux's
    /// SOCKWQ_ASYNC_WAITDATA), until it is served again or interrupted.
    pub sleeping: Option<crate::fs::vfs::Sleeping>,
}

impl Thread {
    /// Marks `sig` pending for this thread with `info` (tkill, tgkill, a CPU
    /// fault). Real-time signals queue every instance; false when the queue
    /// is full.
    pub fn enqueue_signal(&mut self, sig: u32, info: SigInfo) -> bool {
        if sig >= umbra_abi::signal::SIGRTMIN {
            if self.rt_queue.len() >= RT_QUEUE_MAX {
                return false;
            }
            self.rt_queue.push(SigInfo { signo: sig, ..info });
            self.pending.add(sig);
            self.sig_wake = crate::fs::vfs::wake_clock();
        } else if !self.pending.contains(sig) {
            self.pending.add(sig);
            self.siginfo.insert(sig, SigInfo { signo: sig, ..info });
            self.sig_wake = crate::fs::vfs::wake_clock();
        }
        true
    }

    /// Takes one instance of `sig`, which is pending for this thread.
    fn dequeue_signal(&mut self, sig: u32) -> SigInfo {
        take_pending(
            &mut self.pending,
            &mut self.siginfo,
            &mut self.rt_queue,
            sig,
        )
    }

    /// Drops every pending instance of `sig` (its action became ignore).
    pub fn discard_signal(&mut self, sig: u32) {
        self.pending.remove(sig);
        self.siginfo.remove(&sig);
        self.rt_queue.retain(|i| i.signo != sig);
    }

    /// A fresh thread with these registers.
    pub fn new(tid: Pid, regs: UserRegs) -> Thread {
        Thread {
            tid,
            regs,
            state: ThreadState::Runnable,
            sigmask: SigSet::default(),
            saved_mask: None,
            pending: SigSet::default(),
            sig_wake: 0,
            altstack: AltStack::disabled(),
            deadline: None,
            io_done: 0,
            rt_queue: Vec::new(),
            siginfo: crate::vecmap::VecMap::new(),
            clear_child_tid: 0,
            robust_list: (0, 0),
            futex: None,
            copied_in: Vec::new(),
            cpu: CpuTimes::default(),
            fpstate: Vec::new(),
            sync_wake: Default::default(),
            sleeping: None,
        }
    }
}

/// CPU time a process used, in ns: user time is the wall time its guest ran
/// in `run_user`, system time the time the kernel spent on its traps. The
/// children's times are those of the children it has reaped (and theirs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user_ns: u64,
    pub sys_ns: u64,
    pub child_user_ns: u64,
    pub child_sys_ns: u64,
    /// The largest resident set of a reaped child (or its children), KiB.
    pub child_maxrss_kib: u64,
}

/// Nanoseconds per clock tick (USER_HZ = AT_CLKTCK = 100).
pub const NS_PER_TICK: u64 = 10_000_000;

impl CpuTimes {
    /// What a parent adds to its children's times when it reaps a process
    /// with these times and `maxrss_kib` resident at exit.
    pub fn reap_into(&self, parent: &mut CpuTimes, maxrss_kib: u64) {
        parent.child_user_ns = parent
            .child_user_ns
            .saturating_add(self.user_ns.saturating_add(self.child_user_ns));
        parent.child_sys_ns = parent
            .child_sys_ns
            .saturating_add(self.sys_ns.saturating_add(self.child_sys_ns));
        parent.child_maxrss_kib = parent
            .child_maxrss_kib
            .max(maxrss_kib)
            .max(self.child_maxrss_kib);
    }

    /// utime, stime, cutime, cstime in clock ticks (times(2), /proc/PID/stat).
    pub fn ticks(&self) -> [u64; 4] {
        [
            self.user_ns / NS_PER_TICK,
            self.sys_ns / NS_PER_TICK,
            self.child_user_ns / NS_PER_TICK,
            self.child_sys_ns / NS_PER_TICK,
        ]
    }
}

/// A process that has exited and waits to be reaped by its parent.
#[derive(Clone, Debug)]
pub struct Zombie {
    pub pid: Pid,
    pub ppid: Pid,
    pub pgid: Pid,
    pub status: ExitStatus,
    /// Its CPU times at exit (its own and its reaped children's).
    pub cpu: CpuTimes,
    /// Its resident set at exit, KiB.
    pub maxrss_kib: u64,
    /// The signal it reported its exit with (a wait without __WALL sees it
    /// only if that matches __WCLONE: SIGCHLD for a plain wait).
    pub exit_signal: u32,
}

/// A guest process.
pub struct Process {
    pub pid: Pid,
    pub ppid: Pid,
    pub pgid: Pid,
    pub sid: Pid,
    pub mm: AddressSpace,
    pub fds: FdTable,
    pub cwd: PathRef,
    /// The root directory (chroot(2)): absolute paths start there and `..`
    /// stops there.
    pub root: PathRef,
    pub umask: u32,
    pub cred: Cred,
    pub euid: u32,
    pub egid: u32,
    /// All the ids, the capabilities and the prctl state; `cred`, `euid`
    /// and `egid` follow them (`sync_cred`).
    pub creds: super::cred::Creds,
    pub sigactions: [SigAction; 64],
    pub rlimits: [Rlimit; 16],
    /// The thread the kernel runs or serves now (see the module doc).
    pub thread: Thread,
    /// The process's other threads (CLONE_THREAD), in no particular order.
    pub others: Vec<Thread>,
    /// Signals sent to the process (any thread that does not block one
    /// takes it).
    pub pending: SigSet,
    /// When a signal was last queued for the process (see
    /// [`Thread::sig_wake`]).
    pub sig_wake: u64,
    /// Information of the standard signals pending for the process.
    pub siginfo: crate::vecmap::VecMap<u32, SigInfo>,
    /// Queued instances of real-time signals sent to the process.
    pub rt_queue: Vec<SigInfo>,
    pub job: JobState,
    /// A stop or continue the parent's wait has not seen yet.
    pub job_report: Option<JobReport>,
    /// ITIMER_REAL: the next expiry (monotonic ns) and the interval.
    pub itimer_real: Option<(u64, u64)>,
    /// The parent waiting for this vfork child to exec or exit.
    pub vfork_parent: Option<Pid>,
    /// Its address space is lent to a vfork child (CLONE_VM|CLONE_VFORK):
    /// `mm` is an empty stand-in and none of its threads runs until the
    /// child execs or exits and gives it back.
    pub mm_lent: bool,
    /// The process whose address space this vfork child runs on, to give
    /// back at exec or exit.
    pub mm_from: Option<Pid>,
    /// Signal sent to the parent at exit (SIGCHLD for fork).
    pub exit_signal: u32,
    /// The nice value, -20..=19 (getpriority, setpriority).
    pub nice: i32,
    /// CPU-time interval timers and POSIX timers.
    pub timers: super::timers::Timers,
    /// Whether it has called execve (setpgid on it then fails).
    pub did_exec: bool,
    /// The guest path of the executable (/proc/PID/exe, readlink).
    pub exe: Vec<u8>,
    /// The command name (/proc/PID/comm), at most 15 bytes.
    pub comm: Vec<u8>,
    /// Monotonic time the process started, ns.
    pub start_time: u64,
    /// argv and envp of the last exec (for /proc): the first `argc` entries
    /// are argv.
    pub cmdline: Vec<Vec<u8>>,
    pub argc: usize,
    /// CPU time used by the process and by the children it reaped.
    pub cpu: CpuTimes,
    /// The membarrier(2) commands registered for its address space.
    pub membarrier: u32,
}

/// Most real-time signals queued per process (RLIMIT_SIGPENDING's role).
pub const RT_QUEUE_MAX: usize = 1024;

impl Process {
    /// Marks `sig` pending for the process with `info`. Real-time signals
    /// queue every instance; returns false when the queue is full (the
    /// sender gets EAGAIN).
    pub fn enqueue_signal(&mut self, sig: u32, info: SigInfo) -> bool {
        if sig >= umbra_abi::signal::SIGRTMIN {
            if self.rt_queue.len() >= RT_QUEUE_MAX {
                return false;
            }
            self.rt_queue.push(SigInfo { signo: sig, ..info });
            self.pending.add(sig);
            self.sig_wake = crate::fs::vfs::wake_clock();
        } else if !self.pending.contains(sig) {
            self.pending.add(sig);
            self.siginfo.insert(sig, SigInfo { signo: sig, ..info });
            self.sig_wake = crate::fs::vfs::wake_clock();
        }
        true
    }

    /// Takes one pending instance of `sig` for the current thread (which
    /// must be pending for it or the process) and its information: the
    /// thread's own first, as Linux's dequeue_signal; a real-time signal
    /// stays pending while more are queued.
    pub fn dequeue_signal(&mut self, sig: u32) -> SigInfo {
        if self.thread.pending.contains(sig) {
            return self.thread.dequeue_signal(sig);
        }
        take_pending(
            &mut self.pending,
            &mut self.siginfo,
            &mut self.rt_queue,
            sig,
        )
    }

    /// Drops every pending instance of `sig`, the process's and each
    /// thread's (its action became ignore).
    pub fn discard_signal(&mut self, sig: u32) {
        self.pending.remove(sig);
        self.siginfo.remove(&sig);
        self.rt_queue.retain(|i| i.signo != sig);
        for t in self.threads_mut() {
            t.discard_signal(sig);
        }
    }

    /// Every thread of the process, the current one first.
    pub fn threads(&self) -> impl Iterator<Item = &Thread> {
        core::iter::once(&self.thread).chain(self.others.iter())
    }

    /// Every thread of the process, mutable, the current one first.
    pub fn threads_mut(&mut self) -> impl Iterator<Item = &mut Thread> {
        core::iter::once(&mut self.thread).chain(self.others.iter_mut())
    }

    /// The thread `tid` of this process.
    pub fn thread_by_tid(&self, tid: Pid) -> Option<&Thread> {
        self.threads().find(|t| t.tid == tid)
    }

    /// The thread `tid` of this process, mutable.
    pub fn thread_by_tid_mut(&mut self, tid: Pid) -> Option<&mut Thread> {
        self.threads_mut().find(|t| t.tid == tid)
    }

    /// The number of threads.
    pub fn nthreads(&self) -> usize {
        1 + self.others.len()
    }

    /// Makes thread `tid` the current one (`thread`); false if the process
    /// has no such thread.
    pub fn switch_to(&mut self, tid: Pid) -> bool {
        if self.thread.tid == tid {
            return true;
        }
        match self.others.iter().position(|t| t.tid == tid) {
            Some(i) => {
                core::mem::swap(&mut self.thread, &mut self.others[i]);
                true
            }
            None => false,
        }
    }

    /// The process's current resource limit.
    pub fn rlimit(&self, res: u32) -> Rlimit {
        self.rlimits.get(res as usize).copied().unwrap_or(Rlimit {
            rlim_cur: !0,
            rlim_max: !0,
        })
    }
}

/// Default resource limits, as a fresh Linux login would see them.
pub fn default_rlimits(max_fds: usize, stack: usize) -> [Rlimit; 16] {
    use umbra_abi::flags::*;
    let inf = Rlimit {
        rlim_cur: RLIM_INFINITY,
        rlim_max: RLIM_INFINITY,
    };
    let mut r = [inf; 16];
    r[RLIMIT_STACK as usize] = Rlimit {
        rlim_cur: stack as u64,
        rlim_max: RLIM_INFINITY,
    };
    r[RLIMIT_CORE as usize] = Rlimit {
        rlim_cur: 0,
        rlim_max: RLIM_INFINITY,
    };
    r[RLIMIT_NOFILE as usize] = Rlimit {
        rlim_cur: max_fds as u64,
        rlim_max: max_fds as u64,
    };
    r[RLIMIT_NPROC as usize] = Rlimit {
        rlim_cur: 4096,
        rlim_max: 4096,
    };
    r[RLIMIT_MEMLOCK as usize] = Rlimit {
        rlim_cur: 8 << 20,
        rlim_max: 8 << 20,
    };
    // RLIMIT_NICE and RLIMIT_RTPRIO: 0, as Linux starts init.
    for l in [13, 14] {
        r[l] = Rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
    }
    r
}

/// Takes one pending instance of `sig` from a pending set with its
/// information (a thread's or a process's): a real-time signal stays pending
/// while more instances are queued.
fn take_pending(
    pending: &mut SigSet,
    siginfo: &mut crate::vecmap::VecMap<u32, SigInfo>,
    rt_queue: &mut Vec<SigInfo>,
    sig: u32,
) -> SigInfo {
    let blank = SigInfo {
        signo: sig,
        ..SigInfo::default()
    };
    if sig >= umbra_abi::signal::SIGRTMIN {
        let info = rt_queue
            .iter()
            .position(|i| i.signo == sig)
            .map_or(blank, |at| rt_queue.remove(at));
        if !rt_queue.iter().any(|i| i.signo == sig) {
            pending.remove(sig);
        }
        return info;
    }
    pending.remove(sig);
    siginfo.remove(&sig).unwrap_or(blank)
}
