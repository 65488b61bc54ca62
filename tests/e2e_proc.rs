//! End-to-end tests of processes, signals, pipes, timers and poll/select:
//! the `proc_*` programs of `tests/guest/` (musl and glibc builds) and the
//! busybox ash scripts of `tests/scripts/`, each run natively and under
//! umbra and compared (stdout, stderr, exit status, and no umbra process left
//! behind; see `umbra_tests::assert_same`).
//!
//! A script is run as `busybox sh SCRIPT`: natively SCRIPT is its path in the
//! source tree, under umbra `/tests/scripts/NAME`. Scripts never print `$0`.

use umbra_tests::{compare, scripts_src_dir, sections_same_as_native, Libc, Run, SCRIPTS_DIR};

/// The sections of each program that pass under umbra; the others have
/// their own (ignored) tests below.
const FORK_EXEC_WAIT: &[&str] = &[
    "tree",
    "exit_codes",
    "wnohang",
    "waitid",
    "exec",
    "cloexec",
    "vfork",
    "orphan",
];
const PIPES: &[&str] = &["flags", "capacity", "atomic", "eof", "epipe", "fionread"];
const SIGNALS: &[&str] = &[
    "siginfo",
    "restart",
    "nodefer",
    "resethand",
    "onstack",
    "overflow",
    "mask",
    "sigsuspend",
    "sigtimedwait",
    "pause",
    "kill_errors",
    "defaults",
    "exec",
    "sigchld",
];
const SIGFRAME: &[&str] = &["syscall_frame", "faults", "edit_rip"];
const TIMERS: &[&str] = &["sleep", "alarm", "itimer", "accounting"];
const POLL: &[&str] = &["poll", "select", "masks"];
const JOBS: &[&str] = &["sessions", "group_kill", "stop_continue"];

sections_same_as_native! {
    fork_exec_wait_musl: Musl "proc_fork_exec_wait" FORK_EXEC_WAIT;
    fork_exec_wait_glibc: Glibc "proc_fork_exec_wait" FORK_EXEC_WAIT;
    pipes_musl: Musl "proc_pipes" PIPES;
    pipes_glibc: Glibc "proc_pipes" PIPES;
    signals_musl: Musl "proc_signals" SIGNALS;
    signals_glibc: Glibc "proc_signals" SIGNALS;
    sigframe_musl: Musl "proc_sigframe" SIGFRAME;
    sigframe_glibc: Glibc "proc_sigframe" SIGFRAME;
    timers_musl: Musl "proc_timers" TIMERS;
    timers_glibc: Glibc "proc_timers" TIMERS;
    poll_musl: Musl "proc_poll" POLL;
    poll_glibc: Glibc "proc_poll" POLL;
    jobs_musl: Musl "proc_jobs" JOBS;
    jobs_glibc: Glibc "proc_jobs" JOBS;
    kill_zombie_musl: Musl "proc_fork_exec_wait" &["kill_zombie"];
    vfork_shares_memory_musl: Musl "proc_fork_exec_wait" &["vfork_shares_memory"];
    vfork_shares_memory_glibc: Glibc "proc_fork_exec_wait" &["vfork_shares_memory"];
    pipe_fstat_musl: Musl "proc_pipes" &["fstat"];
    pipe_big_write_musl: Musl "proc_pipes" &["big_write"];
    nanosleep_rem_musl: Musl "proc_signals" &["nanosleep_rem"];
    unblock_order_musl: Musl "proc_signals" &["unblock_order"];
    async_frame_musl: Musl "proc_sigframe" &["async_frame"];
    double_in_register_musl: Musl "proc_sigframe" &["double"];
    handler_mxcsr_musl: Musl "proc_sigframe" &["handler_mxcsr"];
    setpgid_after_exec_musl: Musl "proc_jobs" &["setpgid_after_exec"];
    rt_queue_musl: Musl "proc_signals" &["rt_queue"];
}

/// umbra-only: the core bit of the wait status (natively it depends on
/// RLIMIT_CORE and the host's core_pattern).
#[test]
fn core_bit_is_set_for_core_signals() {
    let out = Run::guest(Libc::Musl, "proc_signals")
        .args(&["core_bit"])
        .umbra();
    out.assert_code(0);
    out.assert_no_leftovers();
    assert_eq!(
        out.stdout_text(),
        "== core_bit\n\
         signal 3: signaled 1 core 1\n\
         signal 11: signaled 1 core 1\n\
         signal 6: signaled 1 core 1\n\
         signal 15: signaled 1 core 0\n\
         signal 9: signaled 1 core 0\n\
         done\n",
        "{}",
        out.describe()
    );
}

/// umbra-only (natively kill(-1) would reach every process of the user):
/// kill(-1) from a child reaches every guest process but the sender and pid 1.
#[test]
fn kill_minus_one_from_a_child() {
    for libc in Libc::ALL {
        let out = Run::guest(libc, "proc_jobs").args(&["kill_all"]).umbra();
        out.assert_code(0);
        out.assert_no_leftovers();
        assert_eq!(
            out.stdout_text(),
            "== kill_all\n\
             killer (not signalled itself): exited 0\n\
             child a: exited 7\n\
             child b in another group: exited 7\n\
             pid 1 got it: 0\n\
             done\n",
            "{}",
            out.describe()
        );
    }
}

/// Runs `busybox sh tests/scripts/NAME` natively and under umbra and
/// compares them.
fn script_same_as_native(name: &str, args: &[&str]) {
    let host = scripts_src_dir().join(name).display().to_string();
    let guest = format!("{SCRIPTS_DIR}/{name}");
    let native = Run::busybox(&["sh", &host]).args(args);
    let umbra = Run::busybox(&["sh", &guest]).args(args);
    compare(&native.native(), &umbra.umbra());
}

/// One test per script, compared with native.
macro_rules! script_same_as_native {
    ($($(#[$attr:meta])* $test:ident: $script:literal [$($arg:literal),*];)*) => {$(
        #[test]
        $(#[$attr])*
        fn $test() {
            script_same_as_native($script, &[$($arg),*]);
        }
    )*};
}

script_same_as_native! {
    sh_pipelines: "pipelines.sh" [];
    sh_subshells_and_substitution: "subshells.sh" [];
    sh_heredocs: "heredocs.sh" [];
    sh_traps: "traps.sh" [];
    sh_set_e: "set_e.sh" [];
    sh_jobs: "jobs.sh" [];
    sh_exec_redirections: "exec_redir.sh" [];
    sh_loops: "loops.sh" [];
    sh_xargs: "xargs.sh" [];
    sh_sort_uniq_large: "sort_uniq.sh" [];
    sh_yes_head: "yes_head.sh" [];
    sh_shebang: "shebang.sh" ["first arg", "second"];
    sh_read_loop: "read_loop.sh" [];
    sh_case_functions: "functions.sh" [];
}

/// Every proc program and script gives the same output natively twice in a
/// row, so a difference under umbra is umbra's. Needs no umbra.
#[test]
fn proc_programs_are_deterministic_natively() {
    for libc in Libc::ALL {
        for program in umbra_tests::PROC_PROGRAMS {
            // tmpfs_limit takes a section name (e2e_tmpfs runs each); without
            // one it prints its usage and exits 2.
            if *program == "tmpfs_limit" {
                continue;
            }
            let run = Run::guest(libc, program);
            let first = run.native();
            compare_native(&first, &run.native());
            first.assert_code(0);
        }
    }
    for entry in std::fs::read_dir(scripts_src_dir()).expect("tests/scripts") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "sh") {
            let run = Run::busybox(&["sh", &path.display().to_string()]);
            compare_native(&run.native(), &run.native());
        }
    }
}

/// Like `compare`, for two native runs (which leave nothing to check).
fn compare_native(a: &umbra_tests::Outcome, b: &umbra_tests::Outcome) {
    assert_eq!(
        (&a.stdout_text(), &a.stderr_text(), a.status),
        (&b.stdout_text(), &b.stderr_text(), b.status),
        "two native runs differ\n{}\n{}",
        a.describe(),
        b.describe()
    );
}

/// `busybox time -f '%e %U %S'` of a busy shell loop under umbra: the user +
/// system time (from wait4's rusage) is the loop's CPU time at least and not
/// more than the elapsed time. Run directly and in a grandchild, whose times reach `time` through
/// the shell that reaped it (the children times in wait4's rusage).
#[test]
fn busybox_time_of_a_busy_loop_reports_cpu_time() {
    const LOOP: &str = "i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done";
    let nested = format!("busybox sh -c '{LOOP}'; true");
    for script in [LOOP, nested.as_str()] {
        let out = Run::busybox(&["time", "-f", "%e %U %S", "busybox", "sh", "-c", script]).umbra();
        out.assert_code(0);
        out.assert_no_leftovers();
        let err = out.stderr_text();
        let v: Vec<f64> = err
            .split_whitespace()
            .map(|w| w.parse().unwrap_or_else(|_| panic!("{}", out.describe())))
            .collect();
        let [real, user, sys] = v[..] else {
            panic!("{}", out.describe())
        };
        let cpu = user + sys;
        eprintln!("real {real} user {user} sys {sys}");
        assert!(real >= 0.05, "the loop ran too briefly: {err}");
        // CPU time is what the guest's host process ran, not the wall
        // time: on a busy host far less than `real`. The loop itself needs
        // well over 50 ms of CPU.
        assert!(
            cpu >= 0.05 && cpu <= real + 0.05,
            "user {user} + sys {sys} against real {real} ({script})"
        );
    }
}

/// /proc/PID/stat fields 14-17 (utime, stime, cutime, cstime, in ticks of
/// 1/100 s) of a shell after a busy loop in itself, then in a child it reaped,
/// against the elapsed time `busybox time` measured.
#[test]
fn proc_stat_cpu_times_of_a_busy_shell_and_its_reaped_child() {
    const LOOP: &str = "i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done";
    const STAT: &str = "read l < /proc/$$/stat; echo \"${l##*) }\"";
    let own = format!("{LOOP}; {STAT}");
    let child = format!("busybox sh -c '{LOOP}'; {STAT}");
    for (script, field) in [(own.as_str(), 0), (child.as_str(), 2)] {
        let out = Run::busybox(&["time", "-f", "%e", "busybox", "sh", "-c", script]).umbra();
        out.assert_code(0);
        out.assert_no_leftovers();
        let real: f64 = out
            .stderr_text()
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{}", out.describe()));
        // After "pid (comm) ": field 3 is the first; 14..=17 are at 11..=14.
        let f: Vec<u64> = out
            .stdout_text()
            .split_whitespace()
            .skip(11)
            .take(4)
            .map(|w| w.parse().unwrap_or_else(|_| panic!("{}", out.describe())))
            .collect();
        eprintln!("real {real} utime stime cutime cstime {f:?}");
        let cpu = (f[field] + f[field + 1]) as f64 / 100.0;
        assert!(real >= 0.05, "the loop ran too briefly: {}", out.describe());
        // As in busybox_time_of_a_busy_loop_reports_cpu_time: not more
        // than the elapsed time, and the loop's own CPU time at least.
        assert!(
            cpu >= 0.05 && cpu <= real + 0.05,
            "{f:?} against real {real} ({script})"
        );
    }
}
