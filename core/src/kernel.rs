//! The kernel: boots the first process and runs the trap loop.
//!
//! The kernel owns the loop: it picks a runnable thread, flushes its address
//! space's pending host mapping changes, resumes it with `run_user`, and acts on
//! the trap that comes back. A syscall that would block parks the thread with its
//! registers untouched; it is dispatched again when what it waits for arrives.

use crate::config::Config;
use crate::fs::{Cred, FollowLast, PathRef, Vfs};
use crate::host::{Host, LogLevel, SyscallAbi, Trap};
use crate::loader::{self, ElfError, StackArgs};
use crate::mm::{AddressSpace, Backing, FaultOutcome, FrameAllocator, UserAccess};
use crate::syscall::{self, Outcome};
use crate::task::fd_table::FdTable;
use crate::task::process::default_rlimits;
use crate::task::{ExitStatus, Pid, Process, SigAction, Thread, ThreadState, Wait};
use alloc::collections::BTreeMap;
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
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::NotFound(p, e) => write!(f, "{p}: {}", errno_text(*e)),
            BootError::BadExecutable(p, e) => write!(f, "{p}: {e}"),
            BootError::BadCwd(p, e) => write!(f, "working directory {p}: {}", errno_text(*e)),
            BootError::Resources(e) => write!(f, "cannot start the guest: {}", errno_text(*e)),
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
    pub(crate) procs: BTreeMap<Pid, Process>,
    /// The process whose thread is running or being served.
    pub(crate) cur: Pid,
    next_pid: Pid,
    init_status: Option<ExitStatus>,
    /// Monotonic time at boot, ns.
    pub(crate) boot_time: u64,
    /// Unknown syscall numbers already reported, one bit each.
    enosys_seen: [u64; 16],
}

impl<H: Host> Kernel<H> {
    /// A kernel over `host` with the name space `vfs`. `frames` is the number of
    /// 4 KiB frames of guest memory the host provides.
    pub fn new(host: H, vfs: Vfs, cfg: Config, frames: usize) -> Self {
        let boot_time = host.now_mono();
        Kernel {
            host,
            frames: FrameAllocator::new(frames),
            vfs,
            cfg,
            procs: BTreeMap::new(),
            cur: 0,
            next_pid: 1,
            init_status: None,
            boot_time,
            enosys_seen: [0; 16],
        }
    }

    /// The current process. Every syscall runs on behalf of one.
    pub(crate) fn proc(&mut self) -> &mut Process {
        // The scheduler only serves syscalls of processes in the table.
        self.procs
            .get_mut(&self.cur)
            .expect("current process exists")
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

    /// Process by pid.
    pub fn process(&self, pid: Pid) -> Option<&Process> {
        self.procs.get(&pid)
    }

    /// Pids of live processes.
    pub fn pids(&self) -> Vec<Pid> {
        self.procs.keys().copied().collect()
    }

    /// Resolves the program to run like execvp: a name without '/' is searched in
    /// the PATH of the environment, or in /bin:/sbin:/usr/bin:/usr/sbin.
    fn find_program(&self, prog: &str, cwd: &PathRef) -> Result<PathRef, BootError> {
        let cred = Cred::root();
        if prog.contains('/') {
            return self
                .vfs
                .lookup(cwd, prog, FollowLast::Follow, &cred)
                .map_err(|e| BootError::NotFound(String::from(prog), e));
        }
        let path = self
            .cfg
            .envp
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/bin:/sbin:/usr/bin:/usr/sbin");
        for dir in path.split(':').filter(|d| !d.is_empty()) {
            let full = alloc::format!("{dir}/{prog}");
            if let Ok(p) = self.vfs.lookup(cwd, &full, FollowLast::Follow, &cred) {
                if !p.is_dir() {
                    return Ok(p);
                }
            }
        }
        Err(BootError::NotFound(String::from(prog), Errno::ENOENT))
    }

    /// Creates pid 1 running `cfg.argv` with fds 0, 1 and 2 on the console.
    pub fn spawn_init(
        &mut self,
        console: [Arc<crate::fs::file::OpenFile>; 3],
    ) -> Result<Pid, BootError> {
        let cred = Cred::root();
        let root = self.vfs.root();
        let cwd = self
            .vfs
            .lookup(&root, &self.cfg.cwd, FollowLast::Follow, &cred)
            .map_err(|e| BootError::BadCwd(self.cfg.cwd.clone(), e))?;
        if !cwd.is_dir() {
            return Err(BootError::BadCwd(self.cfg.cwd.clone(), Errno::ENOTDIR));
        }
        let prog = self.cfg.argv.first().cloned().unwrap_or_default();
        let node = self.find_program(&prog, &cwd)?;
        let argv: Vec<Vec<u8>> = self
            .cfg
            .argv
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let envp: Vec<Vec<u8>> = self
            .cfg
            .envp
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let mut fds = FdTable::new(self.cfg.max_fds);
        for f in console {
            fds.alloc(f, 0, crate::task::fd_table::FdFlags::empty())
                .map_err(BootError::Resources)?;
        }
        let pid = self.next_pid;
        self.next_pid += 1;
        let exe = node.absolute_path();
        let (mm, regs) = self
            .load_program(&node, &argv, &envp, prog.as_bytes())
            .map_err(|e| match e {
                ExecError::Elf(e) => BootError::BadExecutable(prog.clone(), e),
                ExecError::Errno(e) => BootError::NotFound(prog.clone(), e),
            })?;
        let proc = Process {
            pid,
            ppid: 0,
            pgid: pid,
            sid: pid,
            mm,
            fds,
            cwd,
            umask: 0o022,
            cred,
            euid: 0,
            egid: 0,
            sigactions: [SigAction::default(); 64],
            rlimits: default_rlimits(self.cfg.max_fds, self.cfg.stack_limit),
            thread: Thread {
                tid: pid,
                regs,
                state: ThreadState::Runnable,
                sigmask: 0,
                clear_child_tid: 0,
                robust_list: (0, 0),
            },
            comm: comm_of(&exe),
            exe,
            start_time: self.host.now_mono(),
        };
        self.procs.insert(pid, proc);
        Ok(pid)
    }

    /// Builds a new address space with the program at `node` loaded and its stack
    /// set up; returns it with the initial registers.
    pub(crate) fn load_program(
        &mut self,
        node: &PathRef,
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        execfn: &[u8],
    ) -> Result<(AddressSpace, crate::arch::UserRegs), ExecError> {
        let inode = node.inode().clone();
        let meta = inode.metadata().map_err(ExecError::Errno)?;
        if meta.file_type() != Some(crate::fs::FileType::Regular) {
            return Err(ExecError::Errno(Errno::EACCES));
        }
        if meta.mode & 0o111 == 0 {
            return Err(ExecError::Errno(Errno::EACCES));
        }
        let file: Arc<dyn Backing> = Arc::new(loader::InodeBacking(inode));
        let mut mm = AddressSpace::new(&mut self.host).map_err(|e| ExecError::Errno(e.into()))?;
        let mut random = [0u8; 16];
        self.host.random(&mut random);
        let r = loader::load_elf(&mut mm, &mut self.frames, file)
            .map_err(ExecError::Elf)
            .and_then(|img| {
                let args = StackArgs {
                    argv,
                    envp,
                    execfn,
                    uid: 0,
                    euid: 0,
                    gid: 0,
                    egid: 0,
                    random,
                    stack_limit: self.cfg.stack_limit as u64,
                };
                let sp =
                    loader::build_stack(&mut mm, &mut self.frames, &mut self.host, &img, &args)
                        .map_err(ExecError::Errno)?;
                Ok(crate::arch::UserRegs::new_user(img.entry, sp))
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
            if let Some(st) = self.init_status {
                self.shutdown();
                return st;
            }
            if self.procs.is_empty() {
                return ExitStatus::Exited(0);
            }
            match self.pick_runnable() {
                Some(pid) => {
                    self.cur = pid;
                    self.run_current();
                }
                None => {
                    let deadline = self.next_deadline();
                    self.host.wait_event(deadline);
                    self.wake_blocked();
                }
            }
        }
    }

    fn pick_runnable(&mut self) -> Option<Pid> {
        // Round robin: the first runnable pid after the current one.
        let after = self
            .procs
            .range(self.cur + 1..)
            .chain(self.procs.range(..=self.cur));
        for (pid, p) in after {
            if p.thread.state == ThreadState::Runnable {
                return Some(*pid);
            }
        }
        self.wake_blocked();
        self.procs
            .iter()
            .find(|(_, p)| p.thread.state == ThreadState::Runnable)
            .map(|(pid, _)| *pid)
    }

    fn next_deadline(&self) -> Option<u64> {
        self.procs
            .values()
            .filter_map(|p| match p.thread.state {
                ThreadState::Blocked(Wait::Until(d)) => Some(d),
                _ => None,
            })
            .min()
    }

    /// Makes runnable every thread whose wait may be over. Console waiters retry
    /// their syscall; sleepers past their deadline return 0.
    fn wake_blocked(&mut self) {
        let now = self.host.now_mono();
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in pids {
            let Some(p) = self.procs.get_mut(&pid) else {
                continue;
            };
            match p.thread.state {
                ThreadState::Blocked(Wait::Until(d)) if now >= d => {
                    p.thread.regs.set_syscall_ret(0);
                    p.thread.state = ThreadState::Runnable;
                }
                ThreadState::Blocked(Wait::Console) => {
                    let cur = self.cur;
                    self.cur = pid;
                    self.serve_syscall();
                    self.cur = cur;
                }
                _ => {}
            }
        }
    }

    /// Runs the current thread until it blocks, exits, or is preempted.
    fn run_current(&mut self) {
        loop {
            let Some(p) = self.procs.get_mut(&self.cur) else {
                return;
            };
            if p.thread.state != ThreadState::Runnable {
                return;
            }
            if p.mm.flush(&mut self.host).is_err() {
                self.exit_process(
                    self.cur,
                    ExitStatus::Signaled {
                        sig: SIGKILL,
                        core: false,
                    },
                );
                return;
            }
            let trap = self.host.run_user(p.mm.id, &mut p.thread.regs);
            match trap {
                Trap::Syscall {
                    abi: SyscallAbi::Native,
                } => self.serve_syscall(),
                Trap::Syscall { abi } => {
                    // Another syscall table is never served: the 64-bit number
                    // would mean a different call.
                    if self.cfg.strace {
                        let nr = p.thread.regs.syscall_nr();
                        self.host.log(
                            LogLevel::Trace,
                            format_args!("[{:?} syscall {nr:#x}] = -1 ENOSYS", abi),
                        );
                    }
                    let p = self.proc();
                    p.thread
                        .regs
                        .set_syscall_ret((-(Errno::ENOSYS.0 as i64)) as u64);
                }
                Trap::PageFault { addr, .. } => {
                    let p = self
                        .procs
                        .get_mut(&self.cur)
                        .expect("current process exists");
                    match p.mm.handle_fault(&mut self.frames, &mut self.host, addr) {
                        FaultOutcome::Mapped => {}
                        FaultOutcome::Segv { code } => self.force_signal(SIGSEGV, code, addr),
                        FaultOutcome::OutOfMemory => self.oom_kill(),
                    }
                }
                Trap::Exception { sig, code, addr } => self.force_signal(sig, code, addr),
                Trap::Timer | Trap::HostEvent => return,
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
        }
    }

    /// Dispatches the syscall in the current thread's registers.
    fn serve_syscall(&mut self) {
        let (nr, args) = {
            let r = &self.proc().thread.regs;
            (r.syscall_nr(), r.syscall_args())
        };
        let mut trace = if self.cfg.strace {
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
        let out = syscall::dispatch(self, nr, args);
        match out {
            Outcome::Ret(r) => {
                let v = match r {
                    Ok(v) => v as u64,
                    Err(e) => (-(e.0 as i64)) as u64,
                };
                if let Some(p) = self.procs.get_mut(&self.cur) {
                    p.thread.regs.set_syscall_ret(v);
                    p.thread.state = ThreadState::Runnable;
                }
                if let Some(t) = trace {
                    syscall::trace::exit(self, nr, args, t, r);
                }
            }
            Outcome::Block(w) => {
                if let Some(p) = self.procs.get_mut(&self.cur) {
                    p.thread.state = ThreadState::Blocked(w);
                }
            }
            Outcome::Exited => {}
        }
    }

    /// Reports an unknown syscall by name: with `--strace` every time, otherwise
    /// not at all (a guest probing for optional calls must not clutter stderr),
    /// but the set of numbers seen is kept for `unsupported_syscalls`.
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
        if self.cfg.strace {
            let _ = first;
            let name = umbra_abi::syscall::nr::name(nr as usize).unwrap_or("unknown");
            self.host.log(
                LogLevel::Warn,
                format_args!("unsupported syscall {name} ({nr}): ENOSYS"),
            );
        }
    }

    /// Delivers a signal raised by the CPU. Handlers are not run yet, so the
    /// default action applies: every CPU signal terminates with a core dump.
    fn force_signal(&mut self, sig: u32, code: i32, addr: u64) {
        if self.cfg.strace {
            let pid = self.cur;
            self.host.log(
                LogLevel::Trace,
                format_args!(
                    "[pid {pid}] --- {} {{si_code={code}, si_addr={addr:#x}}} ---",
                    name(sig)
                ),
            );
        }
        self.exit_process(self.cur, ExitStatus::Signaled { sig, core: true });
    }

    /// Out of guest memory: kill the process with the largest resident set.
    fn oom_kill(&mut self) {
        let victim = self
            .procs
            .iter()
            .max_by_key(|(_, p)| p.mm.resident_pages())
            .map(|(pid, _)| *pid)
            .unwrap_or(self.cur);
        let comm = self
            .procs
            .get(&victim)
            .map(|p| String::from_utf8_lossy(&p.comm).into_owned())
            .unwrap_or_default();
        self.host.log(
            LogLevel::Error,
            format_args!("out of guest memory: killed process {victim} ({comm}); raise --mem"),
        );
        self.exit_process(
            victim,
            ExitStatus::Signaled {
                sig: SIGKILL,
                core: false,
            },
        );
    }

    /// Ends a process: frees its memory and files and records its status.
    pub(crate) fn exit_process(&mut self, pid: Pid, status: ExitStatus) {
        let Some(p) = self.procs.remove(&pid) else {
            return;
        };
        if self.cfg.strace {
            match status {
                ExitStatus::Exited(c) => self.host.log(
                    LogLevel::Trace,
                    format_args!("[pid {pid}] +++ exited with {c} +++"),
                ),
                ExitStatus::Signaled { sig, .. } => self.host.log(
                    LogLevel::Trace,
                    format_args!("[pid {pid}] +++ killed by {} +++", name(sig)),
                ),
            }
        }
        let Process { mm, fds, .. } = p;
        drop(fds);
        mm.destroy(&mut self.frames, &mut self.host);
        if pid == 1 {
            self.init_status = Some(status);
        }
    }

    /// Tears every process down (pid 1 has exited).
    fn shutdown(&mut self) {
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in pids {
            if let Some(p) = self.procs.remove(&pid) {
                p.mm.destroy(&mut self.frames, &mut self.host);
            }
        }
    }
}

/// Why loading a program failed.
#[derive(Debug)]
pub(crate) enum ExecError {
    Elf(ElfError),
    Errno(Errno),
}

/// The command name of an executable path: its last component, at most 15 bytes.
pub(crate) fn comm_of(path: &str) -> Vec<u8> {
    let base = path.rsplit('/').next().unwrap_or(path).as_bytes();
    base[..base.len().min(15)].to_vec()
}
