//! End-to-end tests of System V IPC (shared memory, semaphores, message
//! queues) and POSIX message queues: the programs `tests/guest/ipc_*.c`,
//! each built with musl and glibc and run natively and under umbra, with
//! the outputs compared.

use umbra_tests::{assert_same, Libc, Run};

const SHM: &[&str] = &[
    "basic", "keys", "fork", "rmid", "flags", "ctl", "perm", "limits", "proc",
];

#[test]
fn shm_musl() {
    assert_same(&Run::guest(Libc::Musl, "ipc_shm").args(SHM));
}

#[test]
fn shm_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "ipc_shm").args(SHM));
}

const SEM: &[&str] = &["basic", "keys", "block", "signals", "undo", "info", "perm"];

#[test]
fn sem_musl() {
    assert_same(&Run::guest(Libc::Musl, "ipc_sem").args(SEM));
}

#[test]
fn sem_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "ipc_sem").args(SEM));
}

const MSG: &[&str] = &["basic", "keys", "block", "signals", "info", "perm"];

#[test]
fn msg_musl() {
    assert_same(&Run::guest(Libc::Musl, "ipc_msg").args(MSG));
}

#[test]
fn msg_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "ipc_msg").args(MSG));
}

const MQ: &[&str] = &["basic", "open", "block", "signals", "notify", "perm"];

#[test]
fn mq_musl() {
    assert_same(&Run::guest(Libc::Musl, "ipc_mq").args(MQ));
}

#[test]
fn mq_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "ipc_mq").args(MQ));
}

/// IPC between the threads of one process: waits released by another
/// thread, SEM_UNDO kept past a thread's exit and applied at the process's.
const THR: &[&str] = &["sem", "undo", "msg", "mq", "shm"];

#[test]
fn threads_musl() {
    assert_same(&Run::guest(Libc::Musl, "ipc_thr").args(THR));
}

#[test]
fn threads_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "ipc_thr").args(THR));
}
