//! vfork in a threaded process: only the calling thread waits for the
//! child; the process's other threads run on the memory the child shares
//! (`Kernel::take_vforked_mm`). `vfork_threads`, natively and under umbra:
//! the child waits on a tick count, a sleep, a pipe another thread writes,
//! a signal that thread handles; it is killed, dies of SIGSEGV, vforks
//! again, outlives its parent (exit_group or SIGKILL), or sees its parent's
//! other thread exec; its pid, tid, credentials, fd table, signal mask and
//! actions, umask and name are its own, its FP state the caller's;
//! posix_spawn runs from a thread.

use umbra_tests::{sections_same_as_native, Libc};

/// Every section of `vfork_threads.c`; `exec_b` (thread B execs while the
/// child lives) must come last, the new image goes on with the sections after it.
const SECTIONS: &[&str] = &[
    "exit",
    "exec",
    "sleep",
    "pipe",
    "tgkill",
    "kill",
    "segv",
    "identity",
    "procsig",
    "nested",
    "exit_b",
    "kill_parent",
    "fpstate",
    "spawn",
    "exec_b",
];

#[test]
fn other_threads_run_while_a_vfork_child_waits_musl() {
    sections_same_as_native(Libc::Musl, "vfork_threads", SECTIONS);
}

#[test]
fn other_threads_run_while_a_vfork_child_waits_glibc() {
    sections_same_as_native(Libc::Glibc, "vfork_threads", SECTIONS);
}
