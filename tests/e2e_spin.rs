//! End-to-end tests of the seccomp platform's bounded spin (issue 13,
//! `sys/trap.rs` has the hand-off protocol): with `UMBRA_SPIN_CPUS=1` umbra
//! puts its stubs on a second CPU and both sides spin on the slot's state
//! word before they sleep, whatever the host's load. Programs that hand off
//! between threads of one process (a futex ping-pong), between processes
//! (pipes, fork/exec/wait) and through signals run natively and under umbra
//! so, and are compared; `--stats` must show that the spin was on. Skipped
//! where the platform cannot run (not x86_64, no FSGSBASE) or the host has
//! a single CPU.

use umbra_tests::{assert_same, Libc, Run, Status};

/// Whether this host can run the spin: x86_64 with FSGSBASE and 2 CPUs.
fn spin_host() -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let fsgsbase = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.split_whitespace().any(|w| w == "fsgsbase"))
        .unwrap_or(false);
    cfg!(target_arch = "x86_64") && fsgsbase && cpus >= 2
}

/// Runs these sections of `program` natively and under umbra on the
/// seccomp platform with the spin forced on, and compares them.
fn spin_sections(libc: Libc, program: &str, sections: &[&str]) {
    if !spin_host() {
        eprintln!("skipped: the seccomp spin needs x86_64, FSGSBASE and 2 CPUs");
        return;
    }
    // Every test of this file sets the same values: the umbra children
    // inherit them.
    std::env::set_var("UMBRA_PLATFORM", "seccomp");
    std::env::set_var("UMBRA_SPIN_CPUS", "1");
    assert_same(&Run::guest(libc, program).args(sections));
}

#[test]
fn stats_show_the_spin() {
    if !spin_host() {
        eprintln!("skipped: the seccomp spin needs x86_64, FSGSBASE and 2 CPUs");
        return;
    }
    std::env::set_var("UMBRA_PLATFORM", "seccomp");
    std::env::set_var("UMBRA_SPIN_CPUS", "1");
    let out = Run::guest(Libc::Musl, "proc_pipes")
        .args(&["atomic"])
        .umbra_flag("--stats")
        .umbra();
    assert_eq!(out.status, Status::Exited(0), "{}", out.describe());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("stats: platform"))
        .unwrap_or_else(|| panic!("no platform line in --stats:\n{err}"));
    assert!(
        line.contains("platform seccomp; spins of"),
        "the spin is not on: {line}"
    );
}

#[test]
fn thread_futex_pingpong_musl() {
    spin_sections(Libc::Musl, "thread_switch", &["sse", "exit_fp", "pingpong"]);
}

#[test]
fn thread_futex_pingpong_glibc() {
    spin_sections(
        Libc::Glibc,
        "thread_switch",
        &["sse", "exit_fp", "pingpong"],
    );
}

#[test]
fn pipes_between_processes_musl() {
    spin_sections(
        Libc::Musl,
        "proc_pipes",
        &["capacity", "atomic", "eof", "epipe"],
    );
}

#[test]
fn pipes_between_processes_glibc() {
    spin_sections(
        Libc::Glibc,
        "proc_pipes",
        &["capacity", "atomic", "eof", "epipe"],
    );
}

#[test]
fn fork_exec_wait_musl() {
    spin_sections(
        Libc::Musl,
        "proc_fork_exec_wait",
        &["tree", "exit_codes", "exec", "vfork", "orphan"],
    );
}

#[test]
fn signals_musl() {
    spin_sections(
        Libc::Musl,
        "proc_signals",
        &["siginfo", "restart", "sigsuspend", "sigchld"],
    );
}

/// `--platform auto` (the default) under `--stats`, with the spin's CPU
/// gate forced by `UMBRA_SPIN_CPUS`: the platform line it prints.
fn auto_platform_line(spin_cpus: &str) -> String {
    let run = Run::guest(Libc::Musl, "proc_pipes")
        .args(&["atomic"])
        .umbra_flag("--stats");
    let out = std::process::Command::new(umbra_tests::umbra())
        .args(run.umbra_args())
        .env("UMBRA_PLATFORM", "auto")
        .env("UMBRA_SPIN_CPUS", spin_cpus)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run umbra");
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    err.lines()
        .find_map(|l| l.strip_prefix("umbra: stats: platform "))
        .unwrap_or_else(|| panic!("no platform line in --stats:\n{err}"))
        .to_string()
}

#[test]
fn auto_picks_ptrace_without_a_free_cpu() {
    assert_eq!(auto_platform_line("0"), "ptrace (auto)");
}

#[test]
fn auto_picks_seccomp_with_a_free_cpu() {
    let line = auto_platform_line("1");
    if spin_host() {
        assert!(line.starts_with("seccomp (auto); spins of"), "{line}");
    } else {
        assert_eq!(line, "ptrace (auto)");
    }
}

#[test]
fn a_bad_platform_is_refused() {
    let out = std::process::Command::new(umbra_tests::umbra())
        .args(["run", "--platform", "fast", "--", "/bin/true"])
        .output()
        .expect("run umbra");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not auto, ptrace or seccomp"), "{err}");
}

/// Runs `run` under umbra on the seccomp platform with the spin forced on
/// and `--stats`; its stdout, and from the stats the forks/clones and the
/// stubs moved to the spin CPU.
fn moved_stubs(run: Run) -> (String, u64, u64) {
    std::env::set_var("UMBRA_PLATFORM", "seccomp");
    std::env::set_var("UMBRA_SPIN_CPUS", "1");
    let out = run.umbra_flag("--stats").umbra();
    assert_eq!(out.status, Status::Exited(0), "{}", out.describe());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    // "...; N stubs moved to CPU C after R runs (F failed), B moved back"
    let moved_count = |line: &str| -> u64 {
        let part = line
            .split("; ")
            .find(|p| p.contains(" stubs moved to CPU "));
        let n = part.and_then(|p| p.split_whitespace().next()?.parse().ok());
        n.unwrap_or_else(|| panic!("no count of moved stubs in {line:?}"))
    };
    let line = |prefix: &str| {
        err.lines()
            .find(|l| l.contains(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in --stats:\n{err}"))
    };
    let forks = line("stats: forks/clones");
    let forks = forks
        .split_whitespace()
        .nth(3)
        .and_then(|w| w.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("bad forks line {forks:?}"));
    let moved = moved_count(line("stats: platform seccomp"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        forks,
        moved,
    )
}

/// A `sh` loop of short commands: each child stub (the forked `sh`, then
/// the exec'd `true`) lives a few traps and stays on umbra's CPU, where its
/// set-up's ptrace stops need no cross-CPU wake-up (issue 13: with every
/// stub on the spin CPU such a loop took twice the ptrace platform's
/// time); only the long-lived `sh` may move.
#[test]
fn short_lived_stubs_stay_on_umbras_cpu() {
    if !spin_host() {
        eprintln!("skipped: the seccomp spin needs x86_64, FSGSBASE and 2 CPUs");
        return;
    }
    let script = "i=0; while [ $i -lt 40 ]; do /bin/true; i=$((i+1)); done; echo $i";
    let (stdout, forks, moved) = moved_stubs(Run::busybox(&["sh", "-c", script]));
    assert_eq!(stdout, "40\n");
    assert!(forks >= 40, "{forks} forks");
    assert!(
        moved <= 3,
        "{moved} stubs moved to the spin CPU, of {forks} forks"
    );
}

/// A process that keeps making calls moves to the spin CPU.
#[test]
fn a_busy_stub_moves_to_the_spin_cpu() {
    if !spin_host() {
        eprintln!("skipped: the seccomp spin needs x86_64, FSGSBASE and 2 CPUs");
        return;
    }
    let run = Run::guest(Libc::Musl, "thread_switch").args(&["pingpong"]);
    let (_, _, moved) = moved_stubs(run);
    assert!(moved >= 1, "no stub moved to the spin CPU");
}
