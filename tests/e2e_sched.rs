//! End-to-end tests of the scheduler, time, timers, signals and waits: the
//! `sched_*` programs of `tests/guest/` (musl and glibc builds) run natively
//! and under umbra and compared, and the runs that never end on their own
//! stopped by `umbra run --timeout`.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use umbra_tests::{assert_same, sections_same_as_native, Libc, Run};

/// The tests of this file run one at a time: some spin for seconds, and the
/// timeout tests measure wall time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`umbra_tests::sections_same_as_native`], one test at a time.
fn serial_sections(libc: Libc, program: &str, sections: &[&str]) {
    let _serial = serial();
    umbra_tests::sections_same_as_native(libc, program, sections);
}

/// Runnable processes get the CPU however they became runnable; signals
/// reach a process spinning in user mode; RLIMIT_CPU; a nested fault that
/// overflows the alternate stack kills with SIGSEGV.
const SCHED: &[&str] = &[
    "starve_pipe",
    "alarm_spin",
    "kill_spin",
    "child_runs",
    "rlimit_cpu",
    "altstack_overflow",
];

/// Waits, vfork, signal actions, sigaltstack checks and priorities.
const SIG: &[&str] = &[
    "waitid_options",
    "wclone",
    "vfork_sigchld",
    "resethand",
    "altstack_flags",
    "priority",
];

/// CPU-time interval timers and POSIX timers.
const TIMERS: &[&str] = &[
    "itimer_cpu",
    "posix_signal",
    "posix_abstime",
    "posix_overrun",
    "posix_none",
    "posix_errors",
];

sections_same_as_native! {
    run = serial_sections;
    sched_musl: Musl "sched_time" SCHED;
    sched_glibc: Glibc "sched_time" SCHED;
    sig_musl: Musl "sched_sig" SIG;
    sig_glibc: Glibc "sched_sig" SIG;
    timers_musl: Musl "sched_timers" TIMERS;
    timers_glibc: Glibc "sched_timers" TIMERS;
}

/// umbra only (natively root may set the clock): the clock-setting calls
/// are refused as in an unprivileged container.
#[test]
fn clock_setting_is_eperm() {
    let _serial = serial();
    for libc in Libc::ALL {
        let out = Run::guest(libc, "sched_timers")
            .args(&["clock_set"])
            .umbra();
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            "== clock_set\n\
             clock_settime REALTIME: -1 EPERM\n\
             clock_settime MONOTONIC: -1 EINVAL\n\
             settimeofday: -1 EPERM\n\
             adjtimex ADJ_OFFSET: -1 EPERM\n\
             clock_adjtime ADJ_OFFSET: -1 EPERM\n\
             done\n",
            "{}",
            out.describe()
        );
    }
}

/// Runs `sched_time SECTION` under `umbra run --timeout 3` `times` times,
/// `parallel` at once: each must end with status 124, and when the guest
/// ran (its section header came), by the kernel's own deadline (its
/// message): the host's backstop, half a second later, would hide a
/// deadline the kernel lost. The wall time only has to stay under 30 s (no
/// hang): at a load of 19 on two CPUs a debug umbra took 6.6 s from spawn
/// to exit, more than 3.5 s of it before the guest could start (the backstop
/// then ends the run before the guest runs).
fn timeout_wins(section: &str, times: usize, parallel: usize) {
    let _serial = serial();
    let run = Run::guest(Libc::Musl, "sched_time")
        .args(&[section])
        .umbra_flag("--timeout")
        .umbra_flag("3");
    // Built once per test process, before any run is timed: the first runs
    // took the build of umbra and of the initrd into their time.
    umbra_tests::umbra();
    let _ = run.umbra_args();
    let mut worst = Duration::ZERO;
    for batch in 0..times.div_ceil(parallel) {
        let n = parallel.min(times - batch * parallel);
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let run = run.clone();
                std::thread::spawn(move || {
                    let t0 = Instant::now();
                    let out = run.umbra();
                    (t0.elapsed(), out)
                })
            })
            .collect();
        for h in handles {
            let (elapsed, out) = h.join().expect("run thread");
            out.assert_code(124);
            out.assert_no_leftovers();
            let ran = out.stdout_text().starts_with(&format!("== {section}\n"));
            assert!(
                !ran || out
                    .stderr_text()
                    .contains("umbra: guest timed out after 3 s; killed"),
                "not ended by the kernel's deadline\n{}",
                out.describe()
            );
            assert!(
                elapsed < Duration::from_secs(30),
                "--timeout 3 took {elapsed:?}\n{}",
                out.describe()
            );
            worst = worst.max(elapsed);
        }
    }
    eprintln!("{section}: {times} runs under --timeout 3, slowest {worst:?}");
}

/// Two processes looping on sched_yield + clock_gettime: `--timeout 3`
/// ends the run with 124 at the kernel's deadline, 50 times in a row.
#[test]
fn timeout_stops_yield_loop_50_times() {
    timeout_wins("spin_yield", 50, 2);
}

/// A process stopped in a sleep whose deadline passes must not hide the
/// run's deadline from the loop serving a yielding process.
#[test]
fn timeout_stops_yield_loop_with_stopped_sleeper() {
    timeout_wins("stopped_sleeper", 6, 2);
}

/// `sh -c '(echo child ran) & while kill -0 $$; do :; done'` in a bounded
/// form: the background child must run while its shell busy-loops; 50 times.
#[test]
fn background_child_runs_while_shell_spins() {
    let _serial = serial();
    let script = "i=0; while [ $i -lt 50 ]; do rm -f ran; \
                  (echo child ran; : > ran) & \
                  while [ ! -e ran ]; do kill -0 $$ || exit 1; done; \
                  wait; i=$((i+1)); done; echo all done";
    let out = assert_same(&Run::busybox(&["sh", "-c", script]));
    assert_eq!(out.stdout_text().matches("child ran\n").count(), 50);
}
