//! The kernel: boots the first process and runs the trap loop.
//!
//! The kernel owns the loop: it picks a runnable thread, flushes its address
//! space's pending host mapping changes, resumes it with `run_user`, and acts on
//! the trap that comes back. A syscall that would block parks the thread with its
//! registers untouched; it is dispatched again when what it waits for arrives.
//!
//! Submodules: `signal` (generation and delivery), `process` (fork, exec, exit
//! and reaping).

mod console;
mod cpuclock;
#[cfg(test)]
mod cputime_tests;
mod handoff;
#[cfg(test)]
mod handoff_tests;
mod host_signal;
mod process;
mod procfs;
mod signal;
pub mod stats;
#[cfg(test)]
mod thread_switch_tests;
#[cfg(test)]
mod trap_clock_tests;
mod vsyscall;

pub use process::{CloneArgs, ExecError};

use crate::config::Config;
use crate::fs::{Cred, FollowLast, PathRef, Vfs};
use crate::host::{Host, LogLevel, SyscallAbi, Trap};
use crate::loader::{self, ElfError, StackArgs};
use crate::mm::{AddressSpace, Backing, FaultOutcome, FrameAllocator, UserAccess};
use crate::syscall::{self, Outcome};
use crate::task::fd_table::FdTable;
use crate::task::process::default_rlimits;
use crate::task::{
    CpuTimes, ExitStatus, JobState, Pid, Process, SigAction, Thread, ThreadState, Wait, Zombie,
};
use alloc::boxed::Box;

use crate::vecmap::VecMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use umbra_abi::signal::*;
use umbra_abi::Errno;

/// Why the first program could not be started.
#[derive(Debug)]
pub enum BootError {
    /// The program path could not be resolved.
    NotFound(String, Errno),
    /// The file is not an executable umbra can run.
    BadExecutable(String, ElfError),
    /// The working directory is missing or not a directory.
    BadCwd(String, Errno),
    /// Memory or host resources ran out while starting.
    Resources(Errno),
    /// The guest's name space could not be set up as configured.
    Setup(String),
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::NotFound(p, e) => write!(f, "{p}: {}", errno_text(*e)),
            BootError::BadExecutable(p, e) => write!(f, "{p}: {e}"),
            BootError::BadCwd(p, e) => write!(f, "working directory {p}: {}", errno_text(*e)),
            BootError::Resources(e) => write!(f, "cannot start the guest: {}", errno_text(*e)),
            BootError::Setup(msg) => write!(f, "{msg}"),
        }
    }
}

/// A short description of an errno, for messages to the user.
pub fn errno_text(e: Errno) -> &'static str {
    match e {
        Errno::ENOENT => "no such file or directory in the guest",
        Errno::EACCES => "permission denied",
        Errno::ENOTDIR => "not a directory",
        Errno::EISDIR => "is a directory",
        Errno::ENOEXEC => "not an executable",
        Errno::ENOMEM => "out of guest memory",
        Errno::ELOOP => "too many symbolic links",
        Errno::ENAMETOOLONG => "name too long",
        Errno::E2BIG => "argument list too long",
        _ => e.name(),
    }
}

/// The guest kernel over a host `H`.
pub struct Kernel<H: Host> {
    pub host: H,
    pub frames: FrameAllocator,
    pub vfs: Vfs,
    pub cfg: Config,
    pub(crate) procs: VecMap<Pid, Box<Process>>,
    /// The process whose thread is running or being served.
    pub(crate) cur: Pid,
    next_pid: Pid,
    init_status: Option<ExitStatus>,
    /// Monotonic time at boot, ns.
    pub(crate) boot_time: u64,
    /// Unknown syscall numbers already reported, one bit each.
    enosys_seen: [u64; 16],
    /// Exited processes not yet reaped.
    pub(crate) zombies: VecMap<Pid, Zombie>,
    /// Counts completed syscalls and host events: a blocked syscall is served
    /// again only when it moved since the thread last tried.
    epoch: u64,
    /// The epoch at which each blocked thread (by tid) last tried its syscall.
    tried: VecMap<Pid, u64>,
    /// The deadline the host timer is armed for.
    armed: Option<u64>,
    /// The console's shared state, once pid 1 has its stdio.
    console: Option<Arc<crate::fs::devfs::ConsoleState>>,
    /// The terminals of OCI `exec --tty` processes.
    exec_ttys: Vec<host_signal::ExecTty>,
    /// The devpts instances that exist: mounted, or unmounted while a
    /// pty of theirs is open (see [`crate::fs::devfs::DevptsInstance`]).
    #[cfg(feature = "pty")]
    pub(crate) devpts: Vec<crate::fs::devfs::DevptsInstance>,
    /// Paused from outside (`umbra pause`): no guest thread runs.
    frozen: bool,
    /// The deadline of a sleep a signal just interrupted (for its `rem`).
    interrupted_sleep: Option<u64>,
    pub(crate) procfs: procfs::ProcfsState,
    /// The process whose trap the kernel is handling and when `run_user`
    /// returned it: the time until it runs again is its system time (a
    /// host without a kernel CPU clock; see `cpuclock`).
    sys_since: Option<(Pid, u64)>,
    /// Whose system time the kernel's CPU clock counts, from which value on
    /// (see `cpuclock`).
    sys_mark: Option<cpuclock::CpuMark>,
    /// Whether the host has a CPU clock for the kernel (None: not known
    /// yet).
    sys_clock: Option<bool>,
    /// The next futex queue position (first in, first woken).
    pub(crate) futex_seq: u64,
    /// The NIS domain name setdomainname(2) set (uname's domainname); the
    /// host name is `cfg.hostname`, which sethostname(2) changes.
    pub domainname: String,
    /// Advisory file locks (fcntl record locks, OFD locks, flock).
    pub(crate) locks: crate::fs::lock::LockTable,
    /// The current thread called sched_yield: it gives up the CPU after the
    /// call returns.
    yielded: bool,
    /// The root of the tmpfs that holds memfd_create's files, once made.
    pub(crate) memfd_root: Option<Arc<dyn crate::fs::Inode>>,
    /// The bound on the file data of every tmpfs the kernel makes (its guest
    /// memory): that data lives in umbra's heap, outside the guest memory.
    pub(crate) tmpfs_shared: Arc<crate::fs::tmpfs::SharedLimit>,
    /// Descriptions with O_ASYNC, watched for SIGIO.
    pub(crate) fasync: Vec<crate::syscall::fasync::Fasync>,
    /// Socket descriptions with an owner, watched for urgent data (SIGURG).
    pub(crate) urg_watch: Vec<crate::syscall::fasync::UrgWatch>,
    /// System V IPC objects and POSIX message queues.
    pub(crate) ipc: crate::ipc::IpcNs,
    /// The guest's network: sockets' names, ports and interfaces.
    pub(crate) net: Arc<crate::net::NetNs>,
    /// The vDSO and time page mapped at every exec, if the host has one.
    pub(crate) vdso: Option<crate::vdso::Vdso>,
    /// The guest's clock, as the time page publishes it.
    pub(crate) clock: crate::vdso::Clock,
    /// The process of each thread that is not its process's leader (tid to
    /// pid); a leader's tid is its pid.
    pub(crate) tgids: VecMap<Pid, Pid>,
    /// The thread (tid) whose FP/vector state each address space's host
    /// process holds; the other threads of that space keep theirs in
    /// `Thread::fpstate`.
    fp_owner: VecMap<crate::host::MmId, Pid>,
    /// Whose user time each address space's host process is using, from
    /// which value of its CPU clock on (see `cpuclock`).
    cpu_marks: VecMap<crate::host::MmId, cpuclock::CpuMark>,
    /// Whether the host has CPU clocks for its processes (None: not known
    /// yet).
    cpu_clock: Option<bool>,
    /// Every live timerfd, whose expiries wake the threads that wait.
    pub(crate) timerfds: crate::fs::timerfd::TimerList,
    /// Traps taken so far (`run_user` returns).
    pub(crate) traps: u64,
    /// `--stats`: the counters, when asked for (see `stats`).
    pub stats: Option<alloc::boxed::Box<stats::Stats>>,
    /// `--stats`: prints the report so far when the host says it was asked
    /// for (`Host::take_stats_request`); set by the host's front end.
    pub stats_hook: Option<fn(&stats::Stats, &mut H)>,
    /// The thread a futex wake handed the CPU to (see `handoff`).
    handoff: Option<handoff::Handoff>,
    /// What is left of the time slice the thread about to run was handed.
    slice_carry: Option<u64>,
    /// When `--timeout` starts counting (host monotonic ns): boot, unless
    /// the host says when it started (see `count_timeout_from`).
    timeout_from: u64,
    /// A thread the current one created in this turn (its tid, and `traps`
    /// at the clone): it runs at its creator's next syscall (see
    /// `run_new_thread`).
    new_thread: Option<(Pid, u64)>,
    /// The inotify instances, which the file syscalls report changes to.
    pub(crate) inotify: Arc<crate::fs::inotify::Hub>,
}

/// The `fp_owner` of an address space whose host process still holds the
/// state of a thread that exited (no thread has tid 0).
const FP_OWNER_EXITED: Pid = 0;

/// The longest the kernel sleeps when every thread is blocked.
const IDLE_WAKE_NS: u64 = 1_000_000_000;

/// How long a thread runs before another runnable one gets the CPU.
const TIME_SLICE_NS: u64 = 10_000_000;

/// The least a thread runs before its CPU-time limit or CPU-time timer is
/// looked at again. The time charged is the CPU the host gave its stub
/// (kernel/cpuclock.rs); if the deadline were what is left of it, a few
/// microseconds, it would pass while umbra resumes the stub, the stub
/// would never run and its time never grow. Linux checks these timers at
/// its scheduler tick, a millisecond or more, so this is within its own
/// slack.
const CPU_TIMER_MIN_NS: u64 = 1_000_000;

/// How much earlier than asked the preemption timer may fire (see
/// `arm_timer`).
const ARM_SLACK_NS: u64 = 1_000_000;

impl<H: Host> Kernel<H> {
    /// A kernel over `host` with the name space `vfs`. `frames` is the number of
    /// 4 KiB frames of guest memory the host provides.
    pub fn new(mut host: H, vfs: Vfs, cfg: Config, frames: usize) -> Self {
        let boot_time = host.now_mono();
        let mem_bytes = (frames as u64).saturating_mul(4096);
        let mut frames = FrameAllocator::new(frames);
        let vdso = crate::vdso::Vdso::new(&mut frames, &mut host);
        let stats = cfg
            .stats
            .then(|| alloc::boxed::Box::new(stats::Stats::new(boot_time)));
        let mut k = Kernel {
            host,
            frames,
            vfs,
            cfg,
            procs: VecMap::new(),
            cur: 0,
            next_pid: 1,
            init_status: None,
            boot_time,
            enosys_seen: [0; 16],
            zombies: VecMap::new(),
            epoch: 1,
            tried: VecMap::new(),
            armed: None,
            console: None,
            exec_ttys: Vec::new(),
            #[cfg(feature = "pty")]
            devpts: Vec::new(),
            frozen: false,
            interrupted_sleep: None,
            procfs: Default::default(),
            sys_since: None,
            sys_mark: None,
            sys_clock: None,
            futex_seq: 0,
            domainname: String::from("(none)"),
            locks: Default::default(),
            yielded: false,
            memfd_root: None,
            tmpfs_shared: crate::fs::tmpfs::SharedLimit::new(mem_bytes),
            fasync: Vec::new(),
            urg_watch: Vec::new(),
            ipc: Default::default(),
            net: Default::default(),
            vdso,
            clock: Default::default(),
            tgids: VecMap::new(),
            fp_owner: VecMap::new(),
            cpu_marks: VecMap::new(),
            cpu_clock: None,
            timerfds: Default::default(),
            traps: 0,
            stats,
            stats_hook: None,
            handoff: None,
            slice_carry: None,
            new_thread: None,
            timeout_from: boot_time,
            inotify: Default::default(),
        };
        k.clock_sync();
        k
    }

    /// The process thread `tid` belongs to (a leader's tid is its pid).
    pub(crate) fn tgid_of(&self, tid: Pid) -> Option<Pid> {
        match self.tgids.get(&tid) {
            Some(&pid) => Some(pid),
            None => self.procs.contains_key(&tid).then_some(tid),
        }
    }

    /// Thread `tid`, wherever it is.
    pub(crate) fn thread_mut(&mut self, tid: Pid) -> Option<&mut Thread> {
        let pid = self.tgid_of(tid)?;
        self.procs.get_mut(&pid)?.thread_by_tid_mut(tid)
    }

    /// Thread `tid`, wherever it is.
    pub(crate) fn thread(&self, tid: Pid) -> Option<&Thread> {
        let pid = self.tgid_of(tid)?;
        self.procs.get(&pid)?.thread_by_tid(tid)
    }

    /// Every live task: the threads of every process and the zombies (what
    /// `--max-procs` bounds, as RLIMIT_NPROC counts threads on Linux).
    pub(crate) fn task_count(&self) -> usize {
        self.procs.values().map(|p| p.nthreads()).sum::<usize>() + self.zombies.len()
    }

    /// Whether a new task would pass `max_procs` or the pids limit (fork
    /// and clone then fail with EAGAIN, as with RLIMIT_NPROC or pids.max).
    pub(crate) fn task_limit_reached(&self) -> bool {
        let n = self.task_count();
        n >= self.cfg.max_procs || self.cfg.pids_limit.is_some_and(|l| n >= l)
    }

    /// Thread `tid` exited, or exec'd, while its address space may live on
    /// (other threads; a vfork parent or child on the same memory; a space
    /// that is destroyed loses its entry in `drop_mm`): the host
    /// process still holds what it left (aarch64: its exit syscall stop,
    /// which hides x7 and puts the thread's own back when it ends; arm:
    /// r12), so the next thread to run there has it switched out first,
    /// into scratch registers, as any thread that made way. Without that,
    /// the host took the dead thread's stop for the next thread's own: a
    /// thread that made way again before it ran got the dead thread's x7,
    /// and one whose x7 was 0 ran with it (issue 11: threads hung in
    /// musl's `__wait` on arm64, their loop value gone).
    pub(crate) fn fp_owner_exited(&mut self, tid: Pid) {
        for t in self.fp_owner.values_mut().filter(|t| **t == tid) {
            *t = FP_OWNER_EXITED;
        }
    }

    /// Makes the host process of address space `mm` hold the state of thread
    /// `tid` of process `pid` before it runs: the thread that ran there last
    /// is switched out (its registers completed and its FP/vector state
    /// saved into it), and `tid`'s own FP state, if it has one saved, is
    /// loaded. Nothing is done while a space's only thread runs.
    fn switch_fp(&mut self, mm: crate::host::MmId, pid: Pid, tid: Pid) {
        let prev = self.fp_owner.insert(mm, tid);
        if prev == Some(tid) {
            return;
        }
        // What the host process holds now, once saved: in the thread it
        // belongs to (`saved_in`), or `loose` when that thread is gone.
        let mut saved_in = None;
        let mut loose = None;
        if let Some(prev) = prev {
            let mut buf = Vec::new();
            // FP_OWNER_EXITED (or a thread gone otherwise) has no thread.
            match self.thread_mut(prev).filter(|_| prev != FP_OWNER_EXITED) {
                Some(t) => {
                    let mut regs = t.regs.clone();
                    if self.host.thread_switch_out(mm, &mut regs, &mut buf).is_ok() {
                        if let Some(t) = self.thread_mut(prev) {
                            t.regs = regs;
                            t.fpstate = buf;
                            saved_in = Some(prev);
                        }
                    }
                }
                None => {
                    let mut scratch = crate::arch::UserRegs::new_user(0, 0);
                    if self
                        .host
                        .thread_switch_out(mm, &mut scratch, &mut buf)
                        .is_ok()
                    {
                        loose = Some(buf);
                    }
                }
            }
        }
        let Some(t) = self
            .procs
            .get_mut(&pid)
            .and_then(|p| p.thread_by_tid_mut(tid))
        else {
            return;
        };
        let st = core::mem::take(&mut t.fpstate);
        if st.is_empty() {
            return;
        }
        if saved_in.is_none() && loose.is_none() {
            // The thread that ran here last has exited: what it left costs
            // a read, cheaper than loading a state that is often the same.
            let mut buf = Vec::new();
            if self.host.xstate_save(mm, &mut buf).is_ok() {
                loose = Some(buf);
            }
        }
        let owner = saved_in.and_then(|prev| Some((self.tgid_of(prev)?, prev)));
        let held = match owner {
            Some((ppid, prev)) => self
                .procs
                .get(&ppid)
                .and_then(|p| p.thread_by_tid(prev))
                .map(|t| &t.fpstate[..]),
            None => loose.as_deref(),
        };
        // Threads that leave the FP unit alone (a futex ping-pong) have the
        // same state: loading it again would cost a host call for nothing.
        let _ = match held {
            Some(h) if h == &st[..] => Ok(()),
            Some(h) => self.host.xstate_switch(mm, h, &st),
            None => self.host.xstate_load(mm, &st),
        };
    }

    /// Re-anchors the guest clock at the host's time and publishes it in the
    /// time page (see [`crate::vdso`]); returns the guest's CLOCK_MONOTONIC.
    pub(crate) fn clock_sync(&mut self) -> u64 {
        self.clock_sync_read().0
    }

    /// As [`Self::clock_sync`]; also returns the host's monotonic time it
    /// read last, which the trap loop takes as the moment the guest is
    /// resumed (one host clock read fewer per trap).
    fn clock_sync_read(&mut self) -> (u64, u64) {
        /// Host reads further apart than this are no calibration sample.
        const PAIR_NS: u64 = 4_000;
        let h1 = self.host.now_mono();
        let c = self.host.counter();
        let h2 = if c.is_some() {
            self.host.now_mono()
        } else {
            h1
        };
        let real = self.host.now_real();
        let floor = h2.saturating_sub(self.boot_time);
        let sample = (h2.saturating_sub(h1) <= PAIR_NS)
            .then(|| (h1 / 2 + h2 / 2).saturating_sub(self.boot_time));
        let mono = self.clock.sync(c, floor, sample);
        self.clock.real_off = real.wrapping_sub(floor);
        if let Some(v) = self.vdso.as_mut() {
            v.publish(&mut self.host, &self.clock);
        }
        (mono, h2)
    }

    /// The guest's CLOCK_REALTIME, ns, consistent with the time page.
    pub(crate) fn clock_real(&mut self) -> u64 {
        self.clock_sync().wrapping_add(self.clock.real_off)
    }

    /// The current process. Every syscall runs on behalf of one.
    pub(crate) fn proc(&mut self) -> &mut Process {
        // The scheduler only serves syscalls of processes in the table.
        self.procs
            .get_mut(&self.cur)
            .expect("current process exists")
    }

    /// `len` bytes of the current thread's memory at `addr`, read once per
    /// syscall: a blocked call served again gets the bytes its first
    /// attempt read (`Thread::copied_in`).
    pub(crate) fn read_once(&mut self, addr: u64, len: usize) -> crate::KResult<Vec<u8>> {
        if let Some(b) = self.copied(addr, len) {
            return Ok(b);
        }
        let b = self.user().read_vec(addr, len)?;
        self.proc().thread.copied_in.push((addr, len, b.clone()));
        Ok(b)
    }

    /// What a blocked syscall served again copied at `addr` (`len`) on its
    /// first attempt. A first attempt (the thread is not blocked) forgets
    /// what an earlier call left.
    fn copied(&mut self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let t = &mut self.proc().thread;
        if !matches!(t.state, ThreadState::Blocked(_)) {
            t.copied_in.retain(|(a, l, _)| (*a, *l) != (addr, len));
            return None;
        }
        t.copied_in
            .iter()
            .find(|(a, l, _)| (*a, *l) == (addr, len))
            .map(|(_, _, b)| b.clone())
    }

    /// A NUL-terminated string of at most `max` bytes, read once per syscall
    /// as [`Self::read_once`].
    pub(crate) fn read_cstr_once(&mut self, addr: u64, max: usize) -> crate::KResult<Vec<u8>> {
        if let Some(b) = self.copied(addr, usize::MAX) {
            return Ok(b);
        }
        let b = self.user().read_cstr(addr, max)?;
        self.proc()
            .thread
            .copied_in
            .push((addr, usize::MAX, b.clone()));
        Ok(b)
    }

    /// The current process's memory, with what it takes to reach it.
    pub(crate) fn user(&mut self) -> UserAccess<'_, H> {
        let p = self
            .procs
            .get_mut(&self.cur)
            .expect("current process exists");
        UserAccess {
            mm: &mut p.mm,
            frames: &mut self.frames,
            host: &mut self.host,
        }
    }

    /// Disjoint borrows of the current process, the host and the frames.
    pub(crate) fn parts(&mut self) -> (&mut Process, &mut H, &mut FrameAllocator, &Vfs) {
        let p = self
            .procs
            .get_mut(&self.cur)
            .expect("current process exists");
        (p, &mut self.host, &mut self.frames, &self.vfs)
    }

    /// Process by pid, mutable.
    pub(crate) fn procs_mut(&mut self, pid: Pid) -> Option<&mut Process> {
        self.procs.get_mut(&pid).map(|p| &mut **p)
    }

    /// Process by pid.
    pub fn process(&self, pid: Pid) -> Option<&Process> {
        self.procs.get(&pid).map(|p| &**p)
    }

    /// Pids of live processes.
    pub fn pids(&self) -> Vec<Pid> {
        self.procs.keys().copied().collect()
    }

    /// Resolves the program to run like execvp: a name without '/' is searched in
    /// the PATH of the environment, or in /bin:/sbin:/usr/bin:/usr/sbin.
    /// Returns the node and the path that found it.
    fn find_program(
        &self,
        prog: &str,
        cwd: &PathRef,
        envp: &[String],
    ) -> Result<(PathRef, String), BootError> {
        let cred = Cred::root();
        if prog.contains('/') {
            return self
                .vfs
                .lookup(cwd, prog, FollowLast::Follow, &cred)
                .map(|p| (p, String::from(prog)))
                .map_err(|e| BootError::NotFound(String::from(prog), e));
        }
        let path = envp
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/bin:/sbin:/usr/bin:/usr/sbin");
        for dir in path.split(':').filter(|d| !d.is_empty()) {
            let full = alloc::format!("{dir}/{prog}");
            if let Ok(p) = self.vfs.lookup(cwd, &full, FollowLast::Follow, &cred) {
                if !p.is_dir() {
                    return Ok((p, full));
                }
            }
        }
        Err(BootError::NotFound(String::from(prog), Errno::ENOENT))
    }

    /// Creates pid 1 running `cfg.argv` with fds 0, 1 and 2 on the console.
    pub fn spawn_init(
        &mut self,
        stdio: [Arc<crate::fs::file::OpenFile>; 3],
    ) -> Result<Pid, BootError> {
        self.procfs_boot();
        let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
        if cfg!(feature = "net-host") {
            if let Err(msg) = crate::net::host::boot(&self.vfs, &self.cfg, &self.net, now) {
                return Err(BootError::Setup(msg));
            }
        }
        let (argv, envp, cwd) = (
            self.cfg.argv.clone(),
            self.cfg.envp.clone(),
            self.cfg.cwd.clone(),
        );
        let pid = self.spawn_program(&argv, &envp, &cwd, &stdio)?;
        let groups = self.cfg.groups.clone();
        let (uid, gid, nnp) = (self.cfg.uid, self.cfg.gid, self.cfg.no_new_privs);
        self.set_user(pid, uid, gid, &groups, nnp);
        self.attach_console(&stdio, pid);
        Ok(pid)
    }

    /// Creates a process with no parent (as pid 1, or an OCI exec's
    /// process) running `argv` with `envp` in `cwd`, with `stdio` as its
    /// fds 0, 1 and 2, in a session of its own.
    pub(crate) fn spawn_program(
        &mut self,
        argv: &[String],
        envp: &[String],
        cwd: &str,
        stdio: &[Arc<crate::fs::file::OpenFile>; 3],
    ) -> Result<Pid, BootError> {
        let cred = Cred::root();
        let root = self.vfs.root();
        let cwd_s = cwd;
        let cwd = self
            .vfs
            .lookup(&root, cwd_s, FollowLast::Follow, &cred)
            .map_err(|e| BootError::BadCwd(String::from(cwd_s), e))?;
        if !cwd.is_dir() {
            return Err(BootError::BadCwd(String::from(cwd_s), Errno::ENOTDIR));
        }
        let prog = argv.first().cloned().unwrap_or_default();
        let (_, found) = self.find_program(&prog, &cwd, envp)?;
        let argv: Vec<Vec<u8>> = argv.iter().map(|s| s.as_bytes().to_vec()).collect();
        // A `#!` script runs as execve would run it.
        let at = process::ExecFs {
            root: &root,
            cwd: &cwd,
            cred: &cred,
        };
        let (node, argv) = self
            .resolve_exec_in(&at, found.as_bytes(), argv)
            .map_err(|e| BootError::NotFound(prog.clone(), e))?;
        let envp: Vec<Vec<u8>> = envp.iter().map(|s| s.as_bytes().to_vec()).collect();
        let mut fds = FdTable::new(self.cfg.max_fds);
        for f in stdio.iter().cloned() {
            fds.alloc(f, 0, crate::task::fd_table::FdFlags::empty())
                .map_err(BootError::Resources)?;
        }
        let pid = self.next_pid;
        self.next_pid += 1;
        let exe = node.absolute_path();
        let (mm, regs) = self
            .load_program(
                &at,
                &node,
                &argv,
                &envp,
                prog.as_bytes(),
                &crate::task::cred::Creds::root(),
            )
            .map_err(|e| match e {
                ExecError::Elf(e) => BootError::BadExecutable(prog.clone(), e),
                ExecError::Errno(e) => BootError::NotFound(prog.clone(), e),
            })?;
        let mut cmdline = argv.clone();
        cmdline.extend(envp.iter().cloned());
        let mut proc = Process {
            pid,
            ppid: 0,
            pgid: pid,
            sid: pid,
            mm,
            fds,
            cwd,
            root,
            umask: 0o022,
            cred,
            euid: 0,
            egid: 0,
            creds: crate::task::cred::Creds::root(),
            sigactions: [SigAction::default(); 64],
            rlimits: default_rlimits(self.cfg.max_fds, self.cfg.stack_limit),
            thread: Thread::new(pid, regs),
            others: Vec::new(),
            pending: Default::default(),
            sig_wake: 0,
            siginfo: VecMap::new(),
            rt_queue: Vec::new(),
            job: JobState::Running,
            job_report: None,
            itimer_real: None,
            vfork_parent: None,
            mm_lent: false,
            mm_from: None,
            exit_signal: SIGCHLD,
            nice: 0,
            timers: Default::default(),
            did_exec: false,
            comm: comm_of(&exe),
            exe,
            start_time: self.host.now_mono(),
            argc: argv.len(),
            cmdline,
            cpu: Default::default(),
            membarrier: 0,
        };
        if self.cfg.container_init {
            // An OCI runtime's RLIMIT_NPROC is the process limit it was
            // given (`max_procs`, which fork enforces): show that one.
            let n = self.cfg.max_procs as u64;
            proc.rlimits[umbra_abi::flags::RLIMIT_NPROC as usize] = umbra_abi::structs::Rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
        }
        self.procs.insert(pid, Box::new(proc));
        self.procfs_sync(pid);
        Ok(pid)
    }

    /// Writes back the dirty pages of page caches whose last mapping went
    /// (see [`crate::mm::pagecache`]).
    pub(crate) fn drain_writeback(&mut self) {
        if self.frames.writeback_pending() {
            let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
            self.frames.drain_writeback(&self.host, now);
        }
    }

    /// Writes back the dirty pages of `mm`'s shared file mappings (exit and
    /// exec): other processes may keep the files mapped, and the pages
    /// cached, long after.
    pub(crate) fn writeback_mm(&mut self, mm: &AddressSpace) {
        let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
        for (cache, first, last) in mm.shared_files(0, u64::MAX) {
            let _ = cache.writeback(&self.frames, &self.host, first, last, now);
        }
    }

    /// A program file (or interpreter) as the ELF loader maps it: through
    /// the page cache, so every process running it maps the same frames of
    /// its text.
    fn exec_backing(&mut self, inode: Arc<dyn crate::fs::Inode>) -> Arc<dyn Backing> {
        self.drain_writeback();
        let cache = self.frames.file_cache(Arc::new(loader::InodeFile(inode)));
        crate::mm::MappedFile::new(cache, crate::mm::PastEof::Zeroes)
    }

    /// Builds a new address space with the program at `node` loaded (and its
    /// PT_INTERP interpreter, looked up as `at` says) and its stack set up;
    /// returns it with the initial registers.
    pub(crate) fn load_program(
        &mut self,
        at: &process::ExecFs<'_>,
        node: &PathRef,
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        execfn: &[u8],
        ids: &crate::task::cred::Creds,
    ) -> Result<(AddressSpace, crate::arch::UserRegs), ExecError> {
        let inode = node.inode().clone();
        let meta = inode.metadata().map_err(ExecError::Errno)?;
        if meta.file_type() != Some(crate::fs::FileType::Regular) {
            return Err(ExecError::Errno(Errno::EACCES));
        }
        if meta.mode & 0o111 == 0 {
            return Err(ExecError::Errno(Errno::EACCES));
        }
        let file = self.exec_backing(inode);
        let parsed = loader::elf::parse(&*file).map_err(ExecError::Elf)?;
        let interp = match loader::elf::interp_path(&*file, &parsed.1).map_err(ExecError::Elf)? {
            Some(path) => {
                let node = self.open_exec(at, &path).map_err(ExecError::Errno)?;
                let ifile = self.exec_backing(node.inode().clone());
                let iparsed = loader::elf::parse_interp(&*ifile).map_err(ExecError::Elf)?;
                Some((ifile, iparsed))
            }
            None => None,
        };
        let mut mm = AddressSpace::new(&mut self.host).map_err(|e| ExecError::Errno(e.into()))?;
        let mut random = [0u8; 16];
        self.host.random(&mut random);
        let r = loader::elf::load_parsed(&mut mm, &mut self.frames, file, parsed)
            .and_then(|img| {
                let Some((ifile, iparsed)) = interp else {
                    return Ok((img, img.entry, 0));
                };
                let i = loader::elf::load_image(
                    &mut mm,
                    &mut self.frames,
                    ifile,
                    iparsed,
                    loader::elf::LoadBase::Interp,
                )
                .map_err(|e| match e {
                    ElfError::Map(e) => ElfError::Map(e),
                    _ => ElfError::BadInterp("bad segments"),
                })?;
                Ok((img, i.entry, i.bias))
            })
            .map_err(ExecError::Elf)
            .and_then(|(img, entry, interp_base)| {
                let args = StackArgs {
                    argv,
                    envp,
                    execfn,
                    uid: ids.ruid,
                    euid: ids.euid,
                    gid: ids.rgid,
                    egid: ids.egid,
                    secure: ids.euid != ids.ruid || ids.egid != ids.rgid,
                    random,
                    stack_limit: self.cfg.stack_limit as u64,
                    interp_base,
                    vdso: self.vdso.as_ref().map_or(0, |v| v.map(&mut mm)),
                };
                let sp =
                    loader::build_stack(&mut mm, &mut self.frames, &mut self.host, &img, &args)
                        .map_err(ExecError::Errno)?;
                Ok(crate::arch::UserRegs::new_user(entry, sp))
            });
        match r {
            Ok(regs) => Ok((mm, regs)),
            Err(e) => {
                mm.destroy(&mut self.frames, &mut self.host);
                Err(e)
            }
        }
    }

    /// Runs the guest until pid 1 exits; returns its exit status.
    pub fn run(&mut self) -> ExitStatus {
        loop {
            self.drain_writeback();
            let now = self.host.now_mono();
            self.net.inet.note_time(now);
            if cfg!(feature = "net-host") {
                crate::net::host::tick(&mut self.host, &self.net, now);
            }
            self.deliver_host_signals();
            if self.stats.is_some() && self.host.take_stats_request() {
                if let (Some(s), Some(f)) = (self.stats.as_deref(), self.stats_hook) {
                    f(s, &mut self.host);
                }
            }
            self.serve_exec();
            self.serve_guest_requests();
            if let Some(st) = self.init_status {
                self.shutdown();
                return st;
            }
            if self.procs.is_empty() {
                return ExitStatus::Exited(0);
            }
            if self.timed_out() {
                let ns = self.cfg.timeout_ns.unwrap_or(0);
                let (secs, ms) = (ns / 1_000_000_000, ns % 1_000_000_000 / 1_000_000);
                if ms == 0 {
                    self.host.log(
                        LogLevel::Error,
                        format_args!("guest timed out after {secs} s; killed"),
                    );
                } else {
                    self.host.log(
                        LogLevel::Error,
                        format_args!("guest timed out after {secs}.{ms:03} s; killed"),
                    );
                }
                self.shutdown();
                return ExitStatus::Exited(124);
            }
            self.fire_timers();
            let next = if self.frozen { None } else { self.pick_next() };
            match next {
                Some(pid) => {
                    self.cur = pid;
                    self.run_current();
                }
                None => {
                    // Everything is blocked. Without a deadline, wake once a
                    // second anyway: a host whose stdin is at end of file has no
                    // event to wait for, and a guest that deadlocked itself must
                    // not make umbra spin.
                    let now = self.host.now_mono();
                    let deadline = self.next_deadline().unwrap_or(now + IDLE_WAKE_NS);
                    self.arm_timer(None);
                    self.host.wait_event(Some(deadline));
                    if let Some(s) = self.stats.as_deref_mut() {
                        s.idle(self.host.now_mono().saturating_sub(now));
                    }
                    self.epoch += 1;
                    self.pump_console();
                }
            }
        }
    }

    /// Picks the next thread to run, round robin from the current one, and
    /// makes it its process's current thread; returns its process. Blocked
    /// threads are served again when something happened since they last tried
    /// (the epoch moved), when their deadline passed, or when a signal is
    /// waiting for them.
    fn pick_next(&mut self) -> Option<Pid> {
        let hint = self.handoff.take();
        let pid = self.pick_from(hint.map(|h| (h.pid, h.tid)));
        // The thread a wake handed off to runs out the waker's slice.
        self.slice_carry = hint
            .filter(|h| Some(h.pid) == pid)
            .filter(|h| self.procs.get(&h.pid).map(|p| p.thread.tid) == Some(h.tid))
            .and_then(|h| h.slice_end);
        pid
    }

    /// As `pick_next`, from thread `first` on when given (a hand-off), else
    /// from the one after the current thread.
    fn pick_from(&mut self, first: Option<(Pid, Pid)>) -> Option<Pid> {
        let now = self.host.now_mono();
        let cur_tid = self.procs.get(&self.cur).map_or(self.cur, |p| p.thread.tid);
        // Each thread with whether the loop below would pass it over as it
        // stands (blocked, no signal, nothing due): those are skipped
        // without a look until a syscall served here may have changed
        // that. Looking each thread up by tid made a pick cost the square
        // of the thread count (1,000 threads at a barrier: 2 ms a trap in
        // a debug build).
        let mut all: Vec<(Pid, Pid, bool)> = self
            .procs
            .iter()
            .filter(|(_, p)| p.job == JobState::Running)
            .flat_map(|(pid, p)| p.threads().map(move |t| (*pid, t.tid, idle(p, t, now))))
            .collect();
        crate::sort::sort_by(&mut all, |a, b| (a.0, a.1) < (b.0, b.1));
        let start = match first.and_then(|f| all.iter().position(|&(p, t, _)| (p, t) == f)) {
            Some(i) => i,
            None => all.partition_point(|&(p, t, _)| (p, t) <= (self.cur, cur_tid)),
        };
        let (before, after) = all.split_at(start);
        let order: Vec<(Pid, Pid, bool)> = after.iter().chain(before).copied().collect();
        let mut served = false;
        for (pid, tid, idle) in order {
            if idle && !served {
                continue;
            }
            let Some(p) = self.procs.get_mut(&pid) else {
                continue;
            };
            if let JobState::Stopped(_) = p.job {
                continue;
            }
            let Some(t) = p.thread_by_tid(tid) else {
                continue;
            };
            let vfork_wait = matches!(t.state, ThreadState::Blocked(Wait::Vfork(_)));
            if p.mm_lent && !vfork_wait {
                // A thread other than the vfork caller, in a process whose
                // memory another one of the vfork holds now (the child, or
                // the parent's other threads while the child waits): the
                // memory comes here, the holder waits for it.
                if !self.take_vforked_mm(pid) {
                    continue;
                }
            }
            let Some(p) = self.procs.get_mut(&pid) else {
                continue;
            };
            let Some(t) = p.thread_by_tid(tid) else {
                continue;
            };
            let signalled = self::signal::thread_has_deliverable(p, t);
            if p.mm_lent && !(signalled && vfork_wait) {
                // Its memory is with another process; only a fatal signal
                // wakes the vfork caller (and kills the process).
                continue;
            }
            match t.state {
                ThreadState::Runnable => {
                    p.switch_to(tid);
                    return Some(pid);
                }
                ThreadState::Blocked(_) if signalled => {
                    p.switch_to(tid);
                    return Some(pid);
                }
                ThreadState::Blocked(Wait::Until(d)) if now >= d => {
                    p.switch_to(tid);
                    p.thread.regs.set_syscall_ret(0);
                    p.thread.state = ThreadState::Runnable;
                    return Some(pid);
                }
                ThreadState::Blocked(Wait::Event { deadline, .. }) => {
                    let due = deadline.is_some_and(|d| now >= d);
                    // A futex waiter ends only when a wake marks its entry
                    // (or its deadline or a signal comes): serving it again
                    // for any other event would change nothing.
                    let parked = t
                        .futex
                        .is_some_and(|w| w.state == crate::task::futex::FutexState::Waiting);
                    if parked && !due {
                        continue;
                    }
                    if due || self.tried.get(&tid).copied().unwrap_or(0) < self.epoch {
                        self.tried.insert(tid, self.epoch);
                        served = true;
                        p.switch_to(tid);
                        let prev = self.cur;
                        self.cur = pid;
                        if !self.sys_mark_for(pid, tid) {
                            self.sys_since = Some((pid, self.host.now_mono()));
                        }
                        self.serve_syscall();
                        self.charge_sys();
                        let runnable = self.procs.get(&pid).is_some_and(|p| {
                            p.thread.tid == tid && p.thread.state == ThreadState::Runnable
                        });
                        if runnable {
                            return Some(pid);
                        }
                        if self.procs.contains_key(&prev) {
                            self.cur = prev;
                        }
                    }
                }
                ThreadState::Blocked(_) => {}
            }
        }
        None
    }

    /// The end of the run set by `--timeout`.
    fn run_deadline(&self) -> Option<u64> {
        self.cfg
            .timeout_ns
            .map(|t| self.timeout_from.saturating_add(t))
    }

    /// `--timeout` counts from `start` (host monotonic ns, as `now_mono`),
    /// the host's own start, not from the kernel's boot: loading the root
    /// file system counts, as it does for the host's backstop (shim), so
    /// the kernel's deadline, which ends the run in order (the disks
    /// synced), always comes first.
    pub fn count_timeout_from(&mut self, start: u64) {
        self.timeout_from = start.min(self.boot_time);
    }

    fn timed_out(&self) -> bool {
        self.run_deadline()
            .is_some_and(|d| self.host.now_mono() >= d)
    }

    /// The earliest deadline of a sleeping or timed wait, an interval timer, or
    /// the run's timeout.
    fn next_deadline(&self) -> Option<u64> {
        let run = self.run_deadline();
        self.procs
            .values()
            .flat_map(|p| {
                // A stopped process's wait is looked at when it continues.
                let stopped = p.job != JobState::Running;
                let waits = p.threads().filter_map(move |t| match t.state {
                    _ if stopped => None,
                    ThreadState::Blocked(Wait::Until(d)) => Some(d),
                    ThreadState::Blocked(Wait::Event { deadline, .. }) => deadline,
                    _ => None,
                });
                waits.chain(p.itimer_real.map(|(d, _)| d))
            })
            .chain(run)
            .chain(self.posix_timer_deadline())
            .chain(self.timerfds.next_deadline())
            .min()
    }

    /// Arms the host's preemption timer, calling the host only on change.
    /// A timer armed up to [`ARM_SLACK_NS`] before the new deadline stays:
    /// it ends the thread's turn that much early (the kernel then finds the
    /// deadline not yet due and arms it afresh), which costs less than a
    /// host call at every switch between threads, each of which moves the
    /// end of the time slice.
    fn arm_timer(&mut self, deadline: Option<u64>) {
        if let (Some(armed), Some(d)) = (self.armed, deadline) {
            if (armed..armed.saturating_add(ARM_SLACK_NS)).contains(&d) {
                return;
            }
        }
        if self.armed != deadline {
            self.armed = deadline;
            self.host.set_timer(deadline);
        }
    }

    /// Runs the current thread until it blocks, exits, stops, or its time slice
    /// or a timer ends, and charges it the CPU time it used.
    fn run_current(&mut self) {
        self.run_current_inner();
        self.charge_sys();
    }

    /// The CPU times of process `pid` so far, with the system time of the trap
    /// being handled for it (a getrusage or times call counts itself).
    pub(crate) fn cpu_times(&self, pid: Pid) -> CpuTimes {
        let t = self.procs.get(&pid).map(|p| p.cpu).unwrap_or_default();
        let mut t = self.with_unsettled(t, pid, None);
        let d = cpuclock::sys_unsettled(&self.host, self.sys_mark(), pid, None);
        t.sys_ns = t.sys_ns.saturating_add(d);
        if let Some((spid, since)) = self.sys_since {
            if spid == pid {
                let now = self.host.now_mono();
                t.sys_ns = t.sys_ns.saturating_add(now.saturating_sub(since));
            }
        }
        t
    }

    /// The CPU times of thread `tid` (None: the current one) of process
    /// `pid` so far, with the system time of the trap being handled for it.
    pub(crate) fn thread_cpu_times(&self, pid: Pid, tid: Option<Pid>) -> CpuTimes {
        let Some(p) = self.procs.get(&pid) else {
            return CpuTimes::default();
        };
        let tid = tid.unwrap_or(p.thread.tid);
        let t = p.thread_by_tid(tid).map(|t| t.cpu).unwrap_or_default();
        let mut t = self.with_unsettled(t, pid, Some(tid));
        let d = cpuclock::sys_unsettled(&self.host, self.sys_mark(), pid, Some(tid));
        t.sys_ns = t.sys_ns.saturating_add(d);
        if let Some((spid, since)) = self.sys_since {
            if spid == pid && p.thread.tid == tid {
                let now = self.host.now_mono();
                t.sys_ns = t.sys_ns.saturating_add(now.saturating_sub(since));
            }
        }
        t
    }

    /// Charges the process whose trap was being handled the system time since
    /// `run_user` returned.
    fn charge_sys(&mut self) {
        if let Some((pid, since)) = self.sys_since.take() {
            let now = self.host.now_mono();
            if let Some(p) = self.procs.get_mut(&pid) {
                let d = now.saturating_sub(since);
                p.cpu.sys_ns = p.cpu.sys_ns.saturating_add(d);
                p.thread.cpu.sys_ns = p.thread.cpu.sys_ns.saturating_add(d);
            }
        }
    }

    /// A thread created by the current one in this turn runs once its
    /// creator's next syscall (after the clone) returns, for what is left of
    /// the time slice. By then the creator has finished the creation in user
    /// space (musl releases its thread list lock and both libcs restore the
    /// signal mask after the clone), and a thread made to be joined has
    /// often ended by the time its creator looks, which then needs no futex
    /// wait of its own and no switch back to the thread (pthread_create +
    /// join: one host stop less). Any order is one Linux could choose.
    fn run_new_thread(&mut self) {
        let Some((tid, at)) = self.new_thread else {
            return;
        };
        if self.traps == at {
            return; // the clone itself
        }
        self.new_thread = None;
        let runnable = self
            .thread(tid)
            .is_some_and(|t| t.state == ThreadState::Runnable);
        let creator_runs = self
            .procs
            .get(&self.cur)
            .is_some_and(|p| p.thread.state == ThreadState::Runnable);
        if !self.yielded && runnable && creator_runs && self.handoff.is_none() {
            let pid = self.cur;
            self.hand_off(pid, tid);
        }
    }

    /// The current thread gives up the CPU once its syscall returns
    /// (sched_yield): another runnable thread runs first.
    pub(crate) fn yield_now(&mut self) {
        self.yielded = true;
    }

    /// When the current process reaches its RLIMIT_CPU soft or hard limit if
    /// it runs on from `now` (its CPU time only grows while it runs).
    fn cpu_limit_deadline(&self, now: u64) -> Option<u64> {
        let p = self.procs.get(&self.cur)?;
        let lim = p.rlimits[umbra_abi::flags::RLIMIT_CPU as usize];
        let limit = lim.rlim_cur.min(lim.rlim_max);
        if limit == umbra_abi::flags::RLIM_INFINITY {
            return None;
        }
        let used = p.cpu.user_ns.saturating_add(p.cpu.sys_ns);
        let left = limit.saturating_mul(1_000_000_000).saturating_sub(used);
        Some(now.saturating_add(left.max(CPU_TIMER_MIN_NS)))
    }

    /// When the current process's ITIMER_VIRTUAL or ITIMER_PROF expires if
    /// it runs on from `now`.
    fn cpu_timer_deadline(&self, now: u64) -> Option<u64> {
        let p = self.procs.get(&self.cur)?;
        let user = p.cpu.user_ns;
        let all = user.saturating_add(p.cpu.sys_ns);
        let v = p.timers.virt.map(|(e, _)| e.saturating_sub(user));
        let r = p.timers.prof.map(|(e, _)| e.saturating_sub(all));
        [v, r]
            .into_iter()
            .flatten()
            .min()
            .map(|l| now.saturating_add(l.max(CPU_TIMER_MIN_NS)))
    }

    /// Raises SIGVTALRM and SIGPROF for the current process's CPU-time
    /// interval timers that expired, and re-arms them by their interval.
    fn check_cpu_timers(&mut self) {
        let pid = self.cur;
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let user = p.cpu.user_ns;
        let all = user.saturating_add(p.cpu.sys_ns);
        let mut sigs = alloc::vec::Vec::new();
        for (t, used, sig) in [
            (&mut p.timers.virt, user, SIGVTALRM),
            (&mut p.timers.prof, all, SIGPROF),
        ] {
            if let Some((e, i)) = *t {
                if used >= e {
                    *t = (i != 0).then(|| (used.saturating_add(i), i));
                    sigs.push(sig);
                }
            }
        }
        for sig in sigs {
            let info = crate::task::SigInfo {
                signo: sig,
                code: crate::task::signal::code::SI_KERNEL,
                ..Default::default()
            };
            let _ = self.send_signal(pid, sig, info);
        }
    }

    /// Enforces RLIMIT_CPU on the current process, as Linux does: at the hard
    /// limit SIGKILL; at the soft limit SIGXCPU, and the soft limit moves one
    /// second on, so SIGXCPU comes again each second until the hard limit.
    fn check_cpu_limit(&mut self) {
        let pid = self.cur;
        if self.cpu_watched(pid) {
            if let Some(mm) = self.procs.get(&pid).map(|p| p.mm.id) {
                self.cpu_settle(mm);
            }
            self.sys_settle();
        }
        self.check_cpu_timers();
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let idx = umbra_abi::flags::RLIMIT_CPU as usize;
        let lim = p.rlimits[idx];
        if lim.rlim_cur == umbra_abi::flags::RLIM_INFINITY {
            return;
        }
        let used = p.cpu.user_ns.saturating_add(p.cpu.sys_ns);
        let ns = |s: u64| s.saturating_mul(1_000_000_000);
        let sig = if lim.rlim_max != umbra_abi::flags::RLIM_INFINITY && used >= ns(lim.rlim_max) {
            SIGKILL
        } else if used >= ns(lim.rlim_cur) {
            if lim.rlim_cur < lim.rlim_max {
                p.rlimits[idx].rlim_cur = lim.rlim_cur + 1;
            }
            SIGXCPU
        } else {
            return;
        };
        let info = crate::task::SigInfo {
            signo: sig,
            code: crate::task::signal::code::SI_KERNEL,
            ..Default::default()
        };
        let _ = self.send_signal(pid, sig, info);
    }

    /// The deadline for the current thread's next run: the end of its slice,
    /// the earliest timer or wait, or its CPU-time limit.
    fn run_deadline_for_current(&self, slice_end: Option<u64>, now: u64) -> Option<u64> {
        [
            slice_end,
            self.next_deadline(),
            self.cpu_limit_deadline(now),
            self.cpu_timer_deadline(now),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether a thread other than the current one is in a process that is
    /// not stopped: it is runnable or may become so when `pick_next` serves
    /// its wait again.
    fn others_may_run(&self) -> bool {
        self.procs
            .values()
            .any(|p| p.job == JobState::Running && (p.pid != self.cur || !p.others.is_empty()))
    }

    fn run_current_inner(&mut self) {
        // Another process that is not stopped may be runnable, or become so
        // (a blocked one is served again by `pick_next`): the slice is always
        // armed then, so every runnable thread gets the CPU within one slice,
        // however it became runnable.
        let mut slice_end = match self.slice_carry.take() {
            Some(end) => Some(end),
            None => self
                .others_may_run()
                .then(|| self.host.now_mono() + TIME_SLICE_NS),
        };
        self.yielded = false;
        self.new_thread = None;
        let mut deadline = self.run_deadline_for_current(slice_end, self.host.now_mono());
        loop {
            // Timers the guest set since the last round count at once.
            self.arm_timer(deadline);
            if !self.fasync.is_empty() {
                crate::syscall::fasync::check(self);
            }
            if !self.urg_watch.is_empty() {
                crate::syscall::fasync::check_urgent(self);
            }
            // The host process holds this thread's FP state before a signal
            // frame saves it or the thread runs.
            if let Some(p) = self.procs.get(&self.cur).filter(|p| !p.mm_lent) {
                let (mm, tid) = (p.mm.id, p.thread.tid);
                if self.fp_owner.get(&mm) != Some(&tid) {
                    self.switch_fp(mm, self.cur, tid);
                }
            }
            if !self.handle_signals() {
                return;
            }
            let Some(p) = self.procs.get_mut(&self.cur) else {
                return;
            };
            if p.thread.state != ThreadState::Runnable || p.job != JobState::Running || p.mm_lent {
                return;
            }
            let (mm, pid, tid) = (p.mm.id, p.pid, p.thread.tid);
            self.cpu_mark_for(mm, pid, tid);
            let sys_cpu = self.sys_mark_for(pid, tid);
            let Some(p) = self.procs.get_mut(&self.cur) else {
                return;
            };
            let flushed = if let Some(s) = self.stats.as_deref_mut() {
                let pending = p.mm.has_pending();
                let f0 = self.host.now_mono();
                let r = p.mm.flush(&mut self.host);
                if pending {
                    s.flush(self.host.now_mono().saturating_sub(f0));
                }
                r
            } else {
                p.mm.flush(&mut self.host)
            };
            if flushed.is_err() {
                self.exit_process(
                    self.cur,
                    ExitStatus::Signaled {
                        sig: SIGKILL,
                        core: false,
                    },
                );
                return;
            }
            // The time page is brought up to date right before the guest
            // runs; its host clock read is the moment the run starts.
            let t0 = if self.vdso.is_some() {
                self.clock_sync_read().1
            } else {
                self.host.now_mono()
            };
            let Some(p) = self.procs.get_mut(&self.cur) else {
                return;
            };
            // (Without a kernel CPU clock: the wall time since the trap.)
            if let Some((pid, since)) = self.sys_since.take() {
                if pid == p.pid {
                    let d = t0.saturating_sub(since);
                    p.cpu.sys_ns = p.cpu.sys_ns.saturating_add(d);
                    p.thread.cpu.sys_ns = p.thread.cpu.sys_ns.saturating_add(d);
                }
            }
            let trap = self.host.run_user(p.mm.id, &mut p.thread.regs);
            self.traps = self.traps.wrapping_add(1);
            let t1 = self.host.now_mono();
            // Closes served from here on start their TIME_WAIT now.
            self.net.inet.note_time(t1);
            let d = t1.saturating_sub(t0);
            if self.cpu_clock != Some(true) {
                // No host CPU clock: the wall time is the best there is.
                p.cpu.user_ns = p.cpu.user_ns.saturating_add(d);
                p.thread.cpu.user_ns = p.thread.cpu.user_ns.saturating_add(d);
            }
            if !sys_cpu {
                self.sys_since = Some((p.pid, t1));
            }
            if let Some(s) = self.stats.as_deref_mut() {
                s.stop(stats::StopKind::of(&trap), d);
            }
            match trap {
                Trap::Syscall {
                    abi: SyscallAbi::Native,
                } => {
                    self.serve_syscall();
                    self.run_new_thread();
                }
                Trap::Syscall { abi } => {
                    // Another syscall table is never served: the 64-bit number
                    // would mean a different call.
                    if self.cfg.strace {
                        let nr = p.thread.regs.syscall_nr();
                        self.host.log(
                            LogLevel::Trace,
                            format_args!("[{abi:?} syscall {nr:#x}] = -1 ENOSYS"),
                        );
                    }
                    p.thread
                        .regs
                        .set_syscall_ret((-(Errno::ENOSYS.0 as i64)) as u64);
                }
                Trap::PageFault { addr, .. } if vsyscall::in_page(addr) => {
                    if !self.vsyscall_fault(addr) {
                        self.force_signal(SIGSEGV, umbra_abi::signal::SEGV_MAPERR, addr);
                    }
                }
                Trap::PageFault { addr, .. } => {
                    let outcome = p.mm.handle_fault(&mut self.frames, &mut self.host, addr);
                    if let Some(s) = self.stats.as_deref_mut() {
                        s.fault(self.host.now_mono().saturating_sub(t1));
                    }
                    match outcome {
                        FaultOutcome::Mapped => {}
                        FaultOutcome::Segv { code } => self.force_signal(SIGSEGV, code, addr),
                        FaultOutcome::OutOfMemory => self.oom_kill(),
                        FaultOutcome::Bus => self.force_signal(SIGBUS, 2, addr),
                    }
                }
                Trap::Exception { sig, code, addr } => self.force_signal(sig, code, addr),
                Trap::Timer => {
                    // The host's one-shot timer is spent.
                    self.armed = None;
                    self.check_cpu_limit();
                    return;
                }
                Trap::HostEvent => {
                    self.epoch += 1;
                    self.pump_console();
                    self.check_cpu_limit();
                    return;
                }
                Trap::StubDied => {
                    self.host.log(
                        LogLevel::Error,
                        format_args!("host process of pid {} died", self.cur),
                    );
                    self.exit_process(
                        self.cur,
                        ExitStatus::Signaled {
                            sig: SIGKILL,
                            core: false,
                        },
                    );
                    return;
                }
            }
            // Time always wins: however busy the guest keeps the loop, an
            // expired slice, timer, wait or `--timeout` is acted on at once.
            self.check_cpu_limit();
            if self.yielded {
                if let Some(h) = self.handoff.as_mut() {
                    h.slice_end = slice_end;
                }
                return;
            }
            // One clock read for the slice, the deadlines and the check.
            let now = self.host.now_mono();
            if slice_end.is_none() && self.others_may_run() {
                // A process was created or continued: the slice starts now.
                slice_end = Some(now + TIME_SLICE_NS);
            }
            deadline = self.run_deadline_for_current(slice_end, now);
            if deadline.is_some_and(|d| now >= d) {
                return;
            }
        }
    }

    /// Feeds console input that arrived to the line discipline (so ^C works
    /// while the foreground program is busy) and raises the signals it makes.
    /// Dispatches the syscall in the current thread's registers.
    fn serve_syscall(&mut self) {
        let (nr, args) = {
            let r = &self.proc().thread.regs;
            (r.syscall_nr(), r.syscall_args())
        };
        let mut trace = if cfg!(feature = "strace") && self.cfg.strace {
            Some(syscall::trace::entry(self, nr, args))
        } else {
            None
        };
        if syscall::never_returns(nr) {
            // Shown before the exit it causes, as strace does.
            if let Some(t) = trace.take() {
                self.host.log(LogLevel::Trace, format_args!("{t}) = ?"));
            }
        }
        let stats_t0 = self.stats.is_some().then(|| self.host.now_mono());
        self.procfs_enter();
        let failures = self.frames.failures();
        let out = syscall::dispatch(self, nr, args);
        self.procfs_leave();
        if matches!(out, Outcome::Ret(Err(Errno::ENOMEM))) && self.frames.failures() != failures {
            // The call needed a page of guest memory and none was left.
            self.oom_in_syscall(trace);
            return;
        }
        if let (Some(t0), Some(s)) = (stats_t0, self.stats.as_deref_mut()) {
            let parked = matches!(out, Outcome::Block(_));
            s.syscall(nr, self.host.now_mono().saturating_sub(t0), parked);
        }
        match out {
            Outcome::Ret(r) => {
                self.epoch += 1;
                if self.console.is_some() || !self.exec_ttys.is_empty() {
                    self.console_signals();
                }
                let v = match r {
                    Ok(v) => v as u64,
                    Err(e) => (-(e.0 as i64)) as u64,
                };
                if let Some(p) = self.procs.get_mut(&self.cur) {
                    p.thread.regs.set_syscall_ret(v);
                    p.thread.state = ThreadState::Runnable;
                    p.thread.deadline = None;
                    if !p.thread.copied_in.is_empty() {
                        p.thread.copied_in = Vec::new();
                    }
                }
                if let Some(t) = trace {
                    syscall::trace::exit(self, nr, args, t, r);
                }
            }
            Outcome::Regs => {
                self.epoch += 1;
                if let Some(p) = self.procs.get_mut(&self.cur) {
                    p.thread.state = ThreadState::Runnable;
                    p.thread.deadline = None;
                    p.thread.copied_in = Vec::new();
                }
                if let Some(t) = trace {
                    self.host.log(LogLevel::Trace, format_args!("{t}) = ?"));
                }
            }
            Outcome::Block(w) => {
                let epoch = self.epoch;
                if let Some(p) = self.procs.get_mut(&self.cur) {
                    p.thread.state = ThreadState::Blocked(w);
                    self.tried.insert(p.thread.tid, epoch);
                }
            }
            Outcome::Exited => self.epoch += 1,
        }
    }

    /// The current syscall found no frame for a page of guest memory it had
    /// to reach (a buffer the guest never touched): as Linux's page
    /// allocator, which runs the OOM killer rather than fail a user page,
    /// the process with the largest resident set is killed, and unless that
    /// was the caller, the call starts again with the memory freed (it
    /// failed before it had any effect: a buffer is resolved before the
    /// file or stream is touched, see `mm::spans`). Each time a process
    /// dies, so this ends. A guest never sees ENOMEM for memory it was
    /// granted by mmap or brk, which programs do not expect of read(2).
    fn oom_in_syscall(&mut self, trace: Option<String>) {
        let caller = self.cur;
        self.oom_kill();
        if let Some(t) = trace {
            self.host.log(
                LogLevel::Trace,
                format_args!("{t}) = ? <out of memory: restarted>"),
            );
        }
        if let Some(p) = self.procs.get_mut(&caller) {
            p.thread.regs.restart_syscall();
            p.thread.state = ThreadState::Runnable;
            p.thread.deadline = None;
            p.thread.copied_in = Vec::new();
        }
        self.epoch += 1;
    }

    /// The deadline of a blocking syscall with a relative timeout: fixed when it
    /// first blocks and kept while it is served again.
    pub(crate) fn deadline_after(&mut self, timeout_ns: u64) -> u64 {
        let now = self.host.now_mono();
        let t = &mut self.proc().thread;
        *t.deadline.get_or_insert(now.saturating_add(timeout_ns))
    }

    /// The current syscall parks after changing what other threads may wait
    /// for (a write that moved part of its bytes into a pipe): blocked threads
    /// try their syscalls again, as a completed syscall lets them.
    pub(crate) fn note_progress(&mut self) {
        self.epoch += 1;
    }

    /// Whether the current thread's deadline has passed.
    pub(crate) fn deadline_passed(&mut self) -> bool {
        let now = self.host.now_mono();
        self.proc().thread.deadline.is_some_and(|d| now >= d)
    }

    /// Reports a syscall umbra does not implement, by name: the first call of
    /// each number is named on stderr (a user needs that hint when a program
    /// fails), unless `--quiet-unsupported`; with `--strace`, every call is.
    /// The calls of [`PROBED_SYSCALLS`], which libcs try and do without, are
    /// named only under `--strace`.
    pub(crate) fn report_enosys(&mut self, nr: u64) {
        let (w, b) = ((nr / 64) as usize, nr % 64);
        let first = match self.enosys_seen.get_mut(w) {
            Some(word) => {
                let f = *word & (1 << b) == 0;
                *word |= 1 << b;
                f
            }
            None => true,
        };
        let probe = usize::try_from(nr).is_ok_and(|n| PROBED_SYSCALLS.contains(&n));
        let quiet = self.cfg.quiet_unsupported || probe || !first;
        if self.cfg.strace || !quiet {
            let name = umbra_abi::syscall::nr::name(nr as usize).unwrap_or("unknown");
            self.host.log(
                LogLevel::Warn,
                format_args!("unsupported syscall {name} ({nr}): ENOSYS"),
            );
        }
    }
}

/// Calls umbra answers with ENOSYS on purpose and does not name unasked: C
/// libraries probe them at start-up or before a fallback, and do as well
/// without them. glibc registers restartable sequences (rseq) at start-up.
pub const PROBED_SYSCALLS: &[usize] = &[umbra_abi::syscall::nr::RSEQ];

/// The command name of an executable path: its last component, at most 15 bytes.
pub(crate) fn comm_of(path: &[u8]) -> Vec<u8> {
    let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    base[..base.len().min(15)].to_vec()
}

/// Whether `pick_from` would pass thread `t` of `p` over at time `now`: it
/// has no deliverable signal and waits for a futex wake, a deadline not yet
/// due or a vfork child (a wait for another event is served again when
/// something happened, so it is not idle). Only an optimisation: `false` is
/// always safe.
fn idle(p: &Process, t: &crate::task::Thread, now: u64) -> bool {
    if self::signal::thread_has_deliverable(p, t) {
        return false;
    }
    match t.state {
        ThreadState::Runnable => false,
        ThreadState::Blocked(Wait::Until(d)) => now < d,
        ThreadState::Blocked(Wait::Event { deadline, .. }) => {
            let due = deadline.is_some_and(|d| now >= d);
            let parked = t
                .futex
                .is_some_and(|w| w.state == crate::task::futex::FutexState::Waiting);
            parked && !due
        }
        ThreadState::Blocked(_) => true,
    }
}
