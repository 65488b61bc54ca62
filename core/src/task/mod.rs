//! Tasks: processes, threads, their file tables, signal state, and scheduling
//! state.
pub mod cred;
pub mod fd_table;
pub mod futex;
pub mod process;
pub mod signal;
pub mod timers;

pub use process::{
    CpuTimes, ExitStatus, JobReport, JobState, Pid, Process, Restart, Thread, ThreadState, Wait,
    Zombie,
};
pub use signal::{SigAction, SigInfo, SigSet};
