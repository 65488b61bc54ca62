//! CPU time under host preemption: a guest thread is charged the CPU time
//! its host process used and the kernel's own CPU time serving it, not the
//! wall time it spent waiting for the CPU (`core/src/kernel/cpuclock.rs`).
//! `cputime_hog` spins for 300 ms of CPU time, then reads /dev/zero for
//! 300 ms more (system time), while a host process spins on the same CPU,
//! natively and under umbra, and the two must print the same.

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use umbra_tests::{assert_same, require_tool, Libc, Run};

/// A host process spinning on one CPU until dropped.
struct Hog(Child);

impl Hog {
    fn on(cpu: usize) -> Hog {
        let child = Command::new(require_tool("taskset", "util-linux"))
            .args([
                "-c",
                &cpu.to_string(),
                "/bin/sh",
                "-c",
                "while :; do :; done",
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("start the CPU hog");
        Hog(child)
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        // taskset execs the shell: this pid is the spinning one.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One test at a time: each has its hog.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The last CPU of the machine (CPU 0 on a one-CPU machine).
fn cpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
}

fn under_hog(libc: Libc) {
    let _serial = serial();
    // Built before the hog starts, not under it.
    umbra_tests::umbra();
    umbra_tests::test_initrd();
    let cpu = cpu();
    let _hog = Hog::on(cpu);
    let c = cpu.to_string();
    assert_same(
        &Run::guest(libc, "cputime_hog")
            .args(&[&c])
            .umbra_flag("--cpu")
            .umbra_flag(&c),
    );
}

#[test]
fn cpu_time_under_a_host_hog_musl() {
    under_hog(Libc::Musl);
}

#[test]
fn cpu_time_under_a_host_hog_glibc() {
    under_hog(Libc::Glibc);
}
