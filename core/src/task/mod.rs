//! Tasks: processes, threads, their file tables, and scheduling state.
pub mod fd_table;
pub mod process;

pub use process::{ExitStatus, Pid, Process, SigAction, Thread, ThreadState, Wait};
