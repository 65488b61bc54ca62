//! Processes and their threads. Today every process has one thread; the split
//! between process-wide state (address space, files, signal actions, credentials)
//! and per-thread state (registers, signal mask, blocking state) is already drawn
//! so that CLONE_THREAD can share the former later.

use super::fd_table::FdTable;
use crate::arch::UserRegs;
use crate::fs::{Cred, PathRef};
use crate::mm::AddressSpace;
use alloc::string::String;
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

/// What a blocked thread waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Input on the console; the syscall is retried when some arrives.
    Console,
    /// A monotonic deadline; the syscall then returns 0.
    Until(u64),
}

/// Scheduling state of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    Runnable,
    /// Parked inside a syscall; its registers still hold the call.
    Blocked(Wait),
}

/// One recorded signal action (delivery comes with the signals issue).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// A guest thread.
pub struct Thread {
    pub tid: Pid,
    pub regs: UserRegs,
    pub state: ThreadState,
    pub sigmask: u64,
    pub clear_child_tid: u64,
    pub robust_list: (u64, u64),
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
    pub umask: u32,
    pub cred: Cred,
    pub euid: u32,
    pub egid: u32,
    pub sigactions: [SigAction; 64],
    pub rlimits: [Rlimit; 16],
    pub thread: Thread,
    /// The guest path of the executable (/proc/PID/exe, readlink).
    pub exe: String,
    /// The command name (/proc/PID/comm), at most 15 bytes.
    pub comm: Vec<u8>,
    /// Monotonic time the process started, ns.
    pub start_time: u64,
}

impl Process {
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
    r
}
