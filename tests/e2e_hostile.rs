//! Hostile guests (issue 6, items 2, 3 and 4): static programs from
//! `tests/guest/hostile_*.c` attack umbra from inside, and every run checks
//! from the host that the host is untouched:
//!
//! - a canary file on the host (outside the initrd, its path given to the
//!   guest) keeps its content and mtime;
//! - every host process umbra starts is one of its stubs: a direct child of
//!   umbra, traced by umbra, running umbra's own image (never exec'd);
//!   sampled every few ms during the run, and all of them are gone within
//!   1 s after it;
//! - with `strace` on the host (escape tests), umbra opens no host file but
//!   its own (the initrd, the dynamic loader's libraries, /proc/self),
//!   execs nothing, opens no socket and signals only its stubs;
//! - umbra's VmHWM stays under 64 MiB plus the guest memory size;
//! - umbra exits with the guest's status.
//!
//! What each test proves is in docs/HOSTILE.md. strace must be installed
//! (Debian package `strace`); a missing one fails the tests that need it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use umbra_tests::initrd::{busybox_root, Initrd};
use umbra_tests::{busybox, require_tool, target_dir, umbra, Status};

/// The programs, `tests/guest/hostile_NAME.c`, at `/bin/hostile_NAME`.
const PROGRAMS: &[&str] = &[
    "sweep",
    "stub",
    "fs",
    "ioctl_sig",
    "exhaust",
    "writer",
    "trap",
];

/// A string only the host has: in umbra's host environment and in the
/// canary. hostile_fs builds it at run time and looks for it in procfs.
const SECRET: &str = "HOSTSECRET-7c1f";

/// Default guest memory of `umbra run` (see `umbra --help`).
const DEFAULT_MEM_MIB: u64 = 256;

/// How much umbra itself may use beyond the guest memory.
const UMBRA_OWN_MIB: u64 = 64;

fn work_dir() -> PathBuf {
    let d = target_dir()
        .join("hostile")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&d).expect("create target/hostile");
    d
}

/// Builds the hostile programs with musl-gcc, once.
fn programs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cc = require_tool("musl-gcc", "musl-tools");
        let out = work_dir().join("bin");
        std::fs::create_dir_all(&out).expect("mkdir");
        let src = umbra_tests::workspace_root().join("tests/guest");
        for name in PROGRAMS {
            let r = Command::new(&cc)
                .args(["-static", "-O2", "-Wall", "-o"])
                .arg(out.join(format!("hostile_{name}")))
                .arg(src.join(format!("hostile_{name}.c")))
                .output()
                .expect("run musl-gcc");
            assert!(
                r.status.success(),
                "musl-gcc failed for hostile_{name}.c:\n{}",
                String::from_utf8_lossy(&r.stderr)
            );
        }
        out
    })
}

/// The host canary: a file outside the initrd with the secret in it.
fn canary() -> &'static Path {
    static C: OnceLock<PathBuf> = OnceLock::new();
    C.get_or_init(|| {
        let p = work_dir().join("canary").join("canary.txt");
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, format!("host canary {SECRET}\n")).expect("write canary");
        p
    })
}

fn canary_state() -> (Vec<u8>, SystemTime) {
    let c = canary();
    let data = std::fs::read(c).expect("read canary");
    let mtime = std::fs::metadata(c)
        .and_then(|m| m.modified())
        .expect("canary mtime");
    (data, mtime)
}

/// busybox root plus the hostile programs, a guest /etc/passwd with a
/// marker, and symlinks that try to leave the root.
fn initrd() -> &'static Path {
    static RD: OnceLock<PathBuf> = OnceLock::new();
    RD.get_or_init(|| {
        let mut rd: Initrd = busybox_root(busybox()).expect("busybox root");
        for name in PROGRAMS {
            rd.copy(
                &format!("bin/hostile_{name}"),
                &programs().join(format!("hostile_{name}")),
            )
            .expect("copy program");
        }
        rd.file(
            "etc/passwd",
            0o644,
            "root:x:0:0:guest-root-marker:/root:/bin/sh\n",
        );
        rd.dir("data", 0o755);
        rd.symlink("data/up", "../../../../../..");
        rd.symlink("data/abs", "/etc/passwd");
        rd.symlink("data/host", &canary().display().to_string());
        rd.symlink("data/loop", "loop");
        let p = work_dir().join("hostile.cpio");
        rd.write(&p).expect("write initrd");
        p
    })
}

/// Options of one run.
#[derive(Clone, Debug, Default)]
struct Opts {
    /// Extra `umbra run` flags.
    flags: Vec<String>,
    /// Run umbra under host strace and check its host calls.
    strace: bool,
    /// Kill umbra after this long (the test fails unless `expect_kill`).
    limit: Option<Duration>,
}

/// What the host saw of one run.
#[derive(Debug)]
struct Report {
    stdout: String,
    stderr: String,
    status: Status,
    /// Highest VmHWM of the umbra process, KiB.
    hwm_kib: u64,
    /// Most stubs alive at once.
    max_stubs: usize,
    /// Every stub pid seen.
    stubs: BTreeSet<u32>,
    /// Host processes started by umbra that are not stubs.
    violations: Vec<String>,
    /// Stubs still alive 1 s after umbra ended.
    stubs_left: Vec<u32>,
    /// The host strace log, when traced.
    strace: Option<String>,
    umbra_pid: u32,
}

impl Report {
    fn describe(&self) -> String {
        format!(
            "status {:?}; VmHWM {} KiB; max stubs {}, {} seen\n--- stdout\n{}--- stderr\n{}---",
            self.status,
            self.hwm_kib,
            self.max_stubs,
            self.stubs.len(),
            tail(&self.stdout, 4000),
            tail(&self.stderr, 4000)
        )
    }
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// `pid`'s /proc/PID/stat fields after the comm: state, ppid, ...
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = s.rfind(')')?;
    Some(
        s[close + 1..]
            .split_whitespace()
            .map(String::from)
            .collect(),
    )
}

fn status_field(pid: u32, key: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
}

/// Live (non-zombie) processes whose parent is `ppid`.
fn children_of(ppid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(f) = stat_fields(pid) {
            if f.len() > 1 && f[1] == ppid.to_string() && f[0] != "Z" && f[0] != "X" {
                out.push(pid);
            }
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f[0] != "Z" && f[0] != "X")
}

/// Whether `pid` is a stub of `umbra_pid`: umbra's child, traced by umbra,
/// still umbra's image.
fn stub_problem(pid: u32, umbra_pid: u32, umbra_exe: &Path) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let tracer = status_field(pid, "TracerPid:")?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let exe_ok = exe == umbra_exe
        || exe
            .to_str()
            .is_some_and(|e| e.starts_with(&umbra_exe.display().to_string()));
    // A stub being set up is not traced yet for a moment: only a stub that
    // runs something else, or is traced by another process, is wrong.
    let tracer_ok = tracer == umbra_pid.to_string() || tracer == "0";
    if exe_ok && tracer_ok {
        None
    } else {
        Some(format!(
            "pid {pid} ({}) exe {} tracer {tracer}",
            comm.trim(),
            exe.display()
        ))
    }
}

/// Runs `umbra run --initrd <hostile initrd> FLAGS -- ARGV` and watches it.
fn run(argv: &[&str], opts: &Opts) -> Report {
    let umbra_exe = std::fs::canonicalize(umbra()).expect("umbra binary");
    let mut umbra_args: Vec<String> = vec![
        "run".into(),
        "--initrd".into(),
        initrd().display().to_string(),
    ];
    umbra_args.extend(opts.flags.iter().cloned());
    umbra_args.push("--".into());
    umbra_args.extend(argv.iter().map(|s| s.to_string()));
    static N: AtomicUsize = AtomicUsize::new(0);
    let log = work_dir().join(format!("strace-{}.log", N.fetch_add(1, Ordering::Relaxed)));
    let mut cmd = if opts.strace {
        let strace = find_strace();
        let mut c = Command::new(strace);
        c.args([
            "-qq",
            "-e",
            "trace=%file,%process,%network,kill,tkill,tgkill",
        ])
        .arg("-o")
        .arg(&log)
        .arg(&umbra_exe);
        c
    } else {
        Command::new(&umbra_exe)
    };
    cmd.args(&umbra_args)
        .env("HOSTILE_SECRET", SECRET)
        // cargo test points the loader at target/: umbra needs none of it,
        // and its probes there would blur the host-open check.
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("start umbra");
    let top = child.id();
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));

    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Watch::default()));
    let watcher = {
        let (done, seen) = (done.clone(), seen.clone());
        let exe = umbra_exe.clone();
        let traced = opts.strace;
        std::thread::spawn(move || watch(top, traced, &exe, &done, &seen))
    };
    let status = wait(&mut child, opts.limit.unwrap_or(Duration::from_secs(120)));
    done.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    let w = seen.lock().expect("watch").clone();
    // Every stub must be gone within a second.
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut left: Vec<u32> = w.stubs.iter().copied().filter(|p| alive(*p)).collect();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        left.retain(|p| alive(*p));
    }
    Report {
        stdout: String::from_utf8_lossy(&out.join().expect("stdout")).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr")).into_owned(),
        status,
        hwm_kib: w.hwm_kib,
        max_stubs: w.max_stubs,
        stubs: w.stubs,
        violations: w.violations,
        stubs_left: left,
        strace: opts
            .strace
            .then(|| std::fs::read_to_string(&log).unwrap_or_default()),
        umbra_pid: w.umbra_pid,
    }
}

#[derive(Clone, Debug, Default)]
struct Watch {
    umbra_pid: u32,
    hwm_kib: u64,
    max_stubs: usize,
    stubs: BTreeSet<u32>,
    violations: Vec<String>,
}

/// Samples umbra and its children every 5 ms until `done`.
fn watch(top: u32, traced: bool, exe: &Path, done: &AtomicBool, seen: &Mutex<Watch>) {
    let mut umbra_pid = if traced { 0 } else { top };
    while !done.load(Ordering::Relaxed) {
        if umbra_pid == 0 {
            umbra_pid = children_of(top)
                .into_iter()
                .find(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe))
                .unwrap_or(0);
        }
        if umbra_pid != 0 {
            let hwm = status_field(umbra_pid, "VmHWM:")
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
            let kids = children_of(umbra_pid);
            let mut w = seen.lock().expect("watch");
            w.umbra_pid = umbra_pid;
            w.hwm_kib = w.hwm_kib.max(hwm);
            w.max_stubs = w.max_stubs.max(kids.len());
            for k in kids {
                if let Some(p) = stub_problem(k, umbra_pid, exe) {
                    if w.violations.len() < 20 {
                        w.violations.push(p);
                    }
                }
                w.stubs.insert(k);
            }
            // Processes whose parent is a stub: a stub that forked on the
            // host.
            let stubs: Vec<u32> = w.stubs.iter().copied().collect();
            for s in stubs {
                for g in children_of(s) {
                    if w.violations.len() < 20 {
                        w.violations.push(format!("pid {g} is a child of stub {s}"));
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn wait(child: &mut Child, limit: Duration) -> Status {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return match (st.code(), st.signal()) {
                (Some(c), _) => Status::Exited(c),
                (_, Some(s)) => Status::Signaled(s),
                _ => unreachable!(),
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("umbra ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn find_strace() -> PathBuf {
    if let Some(p) = umbra_tests::find_on_path("strace") {
        return p;
    }
    // CI runs as root on Debian: install it.
    let _ = Command::new("apt-get")
        .args(["install", "-y", "-qq", "strace"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    umbra_tests::find_on_path("strace").unwrap_or_else(|| {
        panic!(
            "`strace` not found and `apt-get install strace` failed: install the Debian \
             package strace; the escape tests check umbra's host calls with it"
        )
    })
}

/// Panics unless the host is untouched by the run: canary, host processes,
/// stubs gone, host calls (when traced), and umbra's memory.
fn assert_host_untouched(r: &Report, canary_before: &(Vec<u8>, SystemTime), mem_mib: u64) {
    let after = canary_state();
    assert_eq!(
        &after.0,
        &canary_before.0,
        "the host canary's content changed\n{}",
        r.describe()
    );
    assert_eq!(
        after.1,
        canary_before.1,
        "the host canary's mtime changed\n{}",
        r.describe()
    );
    assert!(
        r.violations.is_empty(),
        "host processes that are not umbra's stubs: {:?}\n{}",
        r.violations,
        r.describe()
    );
    assert!(
        r.stubs_left.is_empty(),
        "stubs alive 1 s after umbra ended: {:?}\n{}",
        r.stubs_left,
        r.describe()
    );
    let bound = (UMBRA_OWN_MIB + mem_mib) * 1024;
    assert!(
        r.hwm_kib < bound,
        "umbra's VmHWM {} KiB exceeds {bound} KiB\n{}",
        r.hwm_kib,
        r.describe()
    );
    if let Some(log) = &r.strace {
        check_host_calls(log, r);
    }
}

/// Checks the host strace log of umbra: opens only of its own files, one
/// execve (its own start), no sockets, signals only to its stubs.
fn check_host_calls(log: &str, r: &Report) {
    assert!(!log.is_empty(), "the strace log is empty\n{}", r.describe());
    let rd = initrd().display().to_string();
    let canary = canary().display().to_string();
    let mut forked = BTreeSet::new();
    let mut execs = 0;
    let mut problems = Vec::new();
    for line in log.lines() {
        let Some(open) = line.find('(') else {
            continue;
        };
        let name = line[..open].trim();
        let args = &line[open + 1..];
        let ret = line.rsplit(" = ").next().unwrap_or("").trim();
        let path = args
            .split('"')
            .nth(1)
            .filter(|_| args.contains('"'))
            .unwrap_or("");
        if path.contains(&canary) || line.contains(SECRET) {
            problems.push(format!("touches the canary: {line}"));
        }
        match name {
            "execve" | "execveat" => execs += 1,
            "fork" | "vfork" | "clone" | "clone3" | "wait4" => {
                if let Ok(pid) = ret.split_whitespace().next().unwrap_or("").parse::<u32>() {
                    forked.insert(pid);
                }
            }
            "kill" | "tkill" | "tgkill" => {
                let target: i64 = args
                    .split([',', ')'])
                    .next()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(-1);
                if target <= 0 || !forked.contains(&(target as u32)) {
                    problems.push(format!("signals a process that is not its stub: {line}"));
                }
            }
            "socket" | "connect" | "bind" | "socketpair" | "sendto" | "sendmsg" => {
                problems.push(format!("network call: {line}"))
            }
            _ => {
                if !path.is_empty() && !own_path(path, &rd, r.umbra_pid) {
                    problems.push(format!("host path outside umbra's own: {line}"));
                }
            }
        }
    }
    if execs != 1 {
        problems.push(format!(
            "{execs} execve calls (only umbra's own start is allowed)"
        ));
    }
    assert!(
        problems.is_empty(),
        "umbra's host calls:\n{}\n{}",
        problems[..problems.len().min(20)].join("\n"),
        r.describe()
    );
}

/// The host paths umbra may name: its initrd, the dynamic loader's files,
/// its own /proc entries, and a few system files a process start reads.
fn own_path(path: &str, initrd: &str, pid: u32) -> bool {
    let own_proc = format!("/proc/{pid}/");
    path == initrd
        || path.starts_with("/etc/ld.so")
        || path.starts_with("/lib")
        || path.starts_with("/usr/lib")
        || path.starts_with("/proc/self/")
        || path.starts_with("/proc/thread-self/")
        || path.starts_with(&own_proc)
        || path.starts_with("/sys/devices/system/cpu")
        // The host's limit of mappings per stub, read once at start-up.
        || path == "/proc/sys/vm/max_map_count"
        // `--platform auto`'s start-up probe: is a second CPU free?
        || path == "/proc/loadavg"
        || path == "/dev/null"
        || path == "/dev/tty"
}

fn flags(f: &[&str]) -> Vec<String> {
    f.iter().map(|s| s.to_string()).collect()
}

fn no_fail_lines(r: &Report) {
    let fails: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        fails.is_empty(),
        "guest checks failed: {fails:?}\n{}",
        r.describe()
    );
}

// ---------------------------------------------------------------- escapes

#[test]
fn sweep_every_syscall_number_with_garbage() {
    let before = canary_state();
    let r = run(
        &["/bin/hostile_sweep"],
        &Opts {
            strace: true,
            ..Opts::default()
        },
    );
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    assert!(r.stdout.contains("\ndone\n"), "{}", r.describe());
    // 1024 numbers minus 10 skipped, twice; a call that killed its child is
    // counted as tried.
    let swept: u64 = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("swept "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        swept >= 2 * 1014,
        "only {swept} calls swept\n{}",
        r.describe()
    );
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn int80_x32_and_stub_page_attacks() {
    let before = canary_state();
    let c = canary().display().to_string();
    let r = run(
        &["/bin/hostile_stub", &c],
        &Opts {
            strace: true,
            ..Opts::default()
        },
    );
    assert!(
        !r.stdout.contains("ESCAPED"),
        "an int 0x80/x32 write was served\n{}",
        r.describe()
    );
    no_fail_lines(&r);
    assert!(r.stdout.contains("\ndone\n"), "{}", r.describe());
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

/// The seccomp platform's trap path (issue 13, SECURITY.md "The seccomp
/// platform"): jumps to every syscall site of the stub code page asking for
/// a host mmap of the memory file with guessed cookies, jumps into the
/// handler with forged reports, the cookie words at rest, a thread
/// scribbling the slot, forged page-fault and mmap reports whose reply must
/// not show the cookie to the running guest (also with the kick blocked).
/// Run on both platforms.
#[test]
fn trap_path_attacks() {
    for platform in ["seccomp", "ptrace"] {
        let before = canary_state();
        let r = run(
            &["/bin/hostile_trap"],
            &Opts {
                strace: true,
                flags: vec!["--platform".into(), platform.into()],
                ..Opts::default()
            },
        );
        for l in r.stdout.lines().filter(|l| l.contains("ticker during")) {
            eprintln!("{platform}: {l}");
        }
        no_fail_lines(&r);
        assert!(
            r.stdout.contains("\ndone\n"),
            "{platform}: {}",
            r.describe()
        );
        // Another process made syscalls all along, with no gap of 4 s or
        // more (the guest checks its gaps: `no_fail_lines`), while the
        // attacks blocked the kick (SECURITY.md S5).
        assert_eq!(
            r.stdout.matches("ok ticker during").count(),
            2,
            "{platform}: {}",
            r.describe()
        );
        assert_eq!(r.status, Status::Exited(0), "{platform}: {}", r.describe());
        assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
    }
}

#[test]
fn root_escapes_symlinks_and_procfs() {
    let before = canary_state();
    let c = canary().display().to_string();
    let r = run(
        &["/bin/hostile_fs", &c],
        &Opts {
            strace: true,
            ..Opts::default()
        },
    );
    no_fail_lines(&r);
    assert!(r.stdout.contains("\ndone\n"), "{}", r.describe());
    assert!(!r.stdout.contains(SECRET), "{}", r.describe());
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn wild_ioctls_and_signals_to_odd_pids() {
    let before = canary_state();
    // A host process the guest's kill(-1, SIGKILL) must not reach.
    let mut sentinel = Command::new("sleep")
        .arg("300")
        .spawn()
        .expect("start sleep");
    let r = run(
        &["/bin/hostile_ioctl_sig"],
        &Opts {
            strace: true,
            ..Opts::default()
        },
    );
    let sentinel_alive = sentinel.try_wait().expect("try_wait").is_none();
    let _ = sentinel.kill();
    let _ = sentinel.wait();
    assert!(
        sentinel_alive,
        "a host process died during the run\n{}",
        r.describe()
    );
    no_fail_lines(&r);
    assert!(r.stdout.contains("\ndone\n"), "{}", r.describe());
    // The last act is kill(1, SIGKILL) from a child: Linux ignores it for a
    // namespace's init, umbra may let pid 1 die; either way umbra reports
    // the guest's status.
    assert!(
        r.status == Status::Exited(0) || r.status == Status::Exited(137),
        "{}",
        r.describe()
    );
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

// ------------------------------------------------------------- exhaustion

fn forked(r: &Report) -> (u64, i32) {
    let l = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("forked "))
        .unwrap_or_else(|| panic!("no `forked` line\n{}", r.describe()));
    let v: Vec<&str> = l.split_whitespace().collect();
    (
        v[0].parse().expect("count"),
        v.get(2).and_then(|e| e.parse().ok()).unwrap_or(0),
    )
}

#[test]
fn fork_bomb_stops_at_the_default_process_limit() {
    let before = canary_state();
    let r = run(&["/bin/hostile_exhaust", "forkbomb"], &Opts::default());
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    let (n, e) = forked(&r);
    assert_eq!(
        (n, e),
        (255, 11),
        "fork must fail with EAGAIN at 256 processes\n{}",
        r.describe()
    );
    assert!(r.stdout.contains("fork after: works"), "{}", r.describe());
    assert!(
        r.max_stubs <= 257,
        "{} stubs at once\n{}",
        r.max_stubs,
        r.describe()
    );
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn fork_bomb_bounded_by_max_procs() {
    let before = canary_state();
    let r = run(
        &["/bin/hostile_exhaust", "forkbomb"],
        &Opts {
            flags: flags(&["--max-procs", "16"]),
            ..Opts::default()
        },
    );
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    assert_eq!(forked(&r), (15, 11), "{}", r.describe());
    assert!(
        r.max_stubs <= 17,
        "{} stubs at once\n{}",
        r.max_stubs,
        r.describe()
    );
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn wild_fork_bomb_ends_with_the_timeout() {
    let before = canary_state();
    let r = run(
        &["/bin/hostile_exhaust", "forkbomb-wild"],
        &Opts {
            flags: flags(&["--max-procs", "32", "--timeout", "3"]),
            limit: Some(Duration::from_secs(30)),
            ..Opts::default()
        },
    );
    assert_eq!(r.status, Status::Exited(124), "{}", r.describe());
    assert!(
        r.max_stubs <= 33,
        "{} stubs at once\n{}",
        r.max_stubs,
        r.describe()
    );
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

/// The real-shim consequence of the bug found by core/src/fuzz_syscalls.rs
/// (`clone_parent_settid_fault_leaks_the_child`): each failed clone leaves a
/// host stub process behind, uncounted by the process limit.
#[test]
fn failed_clones_leave_no_host_stub() {
    let before = canary_state();
    let r = run(&["/bin/hostile_exhaust", "stubleak"], &Opts::default());
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    assert!(r.stdout.contains("200 EFAULT"), "{}", r.describe());
    assert!(
        r.max_stubs <= 2,
        "{} host stubs for one guest process after 200 failed clones\n{}",
        r.max_stubs,
        r.describe()
    );
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn fd_exhaustion_stops_at_max_fds() {
    let before = canary_state();
    let r = run(
        &["/bin/hostile_exhaust", "fds"],
        &Opts {
            flags: flags(&["--max-fds", "50"]),
            ..Opts::default()
        },
    );
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    assert!(
        r.stdout.contains("opened 47 errno 24 limit 50\n"),
        "EMFILE after fds 3..49\n{}",
        r.describe()
    );
    assert!(
        r.stdout.contains("dup2 at the limit: -1 errno 9\n"),
        "{}",
        r.describe()
    );
    assert!(
        r.stdout.contains("pipe when full: -1 errno 24\n"),
        "{}",
        r.describe()
    );
    assert!(
        r.stdout.contains("after one close: 3\n"),
        "{}",
        r.describe()
    );
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

fn memory_exhaustion(mode: &str) {
    let before = canary_state();
    let r = run(
        &["/bin/hostile_exhaust", mode],
        &Opts {
            flags: flags(&["--mem", "32M"]),
            ..Opts::default()
        },
    );
    let mib: u64 = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("MiB "))
        .filter_map(|v| v.parse().ok())
        .max()
        .unwrap_or(0);
    let enomem = r.stdout.contains("failed errno 12") && r.status == Status::Exited(0);
    let oom = r.status == Status::Exited(137) && r.stderr.contains("out of guest memory");
    assert!(
        enomem || oom,
        "the guest must get ENOMEM or be OOM-killed with a message\n{}",
        r.describe()
    );
    assert!(
        (8..=32).contains(&mib),
        "{mib} MiB touched in 32 MiB of guest memory\n{}",
        r.describe()
    );
    assert_host_untouched(&r, &before, 32);
}

#[test]
fn memory_exhaustion_by_mmap() {
    memory_exhaustion("mem");
}

#[test]
fn memory_exhaustion_by_brk() {
    memory_exhaustion("brk");
}

#[test]
fn stack_overflow_is_sigsegv() {
    let before = canary_state();
    let r = run(&["/bin/hostile_exhaust", "stack"], &Opts::default());
    assert_eq!(r.status, Status::Exited(139), "{}", r.describe());
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn infinite_loop_ends_with_the_timeout() {
    let before = canary_state();
    let t0 = Instant::now();
    let r = run(
        &["/bin/hostile_exhaust", "spin"],
        &Opts {
            flags: flags(&["--timeout", "2"]),
            limit: Some(Duration::from_secs(30)),
            ..Opts::default()
        },
    );
    assert_eq!(r.status, Status::Exited(124), "{}", r.describe());
    assert!(t0.elapsed() < Duration::from_secs(10), "{}", r.describe());
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn busy_child_does_not_starve_its_parent() {
    let before = canary_state();
    let r = run(
        &["/bin/hostile_exhaust", "preempt"],
        &Opts {
            limit: Some(Duration::from_secs(60)),
            ..Opts::default()
        },
    );
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    for i in 1..=5 {
        assert!(
            r.stdout.contains(&format!("tick {i}\n")),
            "{}",
            r.describe()
        );
    }
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn long_paths_and_argument_lists() {
    let before = canary_state();
    let r = run(&["/bin/hostile_exhaust", "long"], &Opts::default());
    no_fail_lines(&r);
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
    assert!(r.stdout.contains("failures 0\n"), "{}", r.describe());
    assert_host_untouched(&r, &before, DEFAULT_MEM_MIB);
}

#[test]
fn execve_argument_limits_as_linux() {
    let r = run(&["/bin/hostile_exhaust", "longargv"], &Opts::default());
    no_fail_lines(&r);
    assert_eq!(r.status, Status::Exited(0), "{}", r.describe());
}

// ----------------------------------------------------------- crash safety

/// `kill -9` of umbra at 10 random moments of a write workload: every stub
/// it had is gone within 1 s.
#[test]
fn kill_9_during_writes_leaves_no_stub() {
    let umbra_exe = std::fs::canonicalize(umbra()).expect("umbra");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut report = BTreeMap::new();
    for round in 0..10 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(100 + seed % 900);
        let mut child = Command::new(&umbra_exe)
            .args(["run", "--initrd"])
            .arg(initrd())
            .args(["--", "/bin/hostile_writer"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start umbra");
        let pid = child.id();
        let out = drain(child.stdout.take().expect("stdout"));
        std::thread::sleep(delay);
        let stubs = children_of(pid);
        let _ = child.kill();
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut left: Vec<u32> = stubs.clone();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            left.retain(|p| alive(*p));
        }
        let text = String::from_utf8_lossy(&out.join().expect("stdout")).into_owned();
        assert!(
            left.is_empty(),
            "round {round} (kill after {delay:?}): stubs {left:?} of {stubs:?} outlived umbra"
        );
        report.insert(round, (delay, stubs.len(), text.contains("started")));
    }
    // The workload must have been running with its three processes in most
    // rounds, or the test proves nothing.
    let busy = report.values().filter(|(_, n, s)| *n >= 3 && *s).count();
    assert!(
        busy >= 5,
        "the workload was running in only {busy} rounds: {report:?}"
    );
}
