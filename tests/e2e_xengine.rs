//! The paper's drawing benchmark (issue 14, Table 2) and `umbra run --stats`
//! (Deliver 5).
//!
//! - images/paper/xengine.c, an xengine-like Xlib client built statically
//!   against Debian's libX11, draws the same frames against an Xvfb on the
//!   host natively and under umbra through `--unix-socket` (same checksum of
//!   every frame read back), and reports a positive RPM under umbra.
//! - A guest waiting for input on a host socket that is writable wakes when
//!   the input comes (an X client's wait for its reply; it once slept until
//!   its timeout).
//! - `--stats` counts at least the syscalls a program makes, and prints
//!   nothing without the flag.
//!
//! Needs gcc, libx11-dev and xvfb (`cargo xtask setup`); fails without them.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use umbra_tests::*;

/// An Xvfb on a display of its own, killed when dropped.
struct Xvfb {
    child: Child,
    display: u32,
}

impl Xvfb {
    /// Starts Xvfb (-nolisten tcp) on the first free display from a number
    /// derived from the test's pid, and waits for its socket.
    fn start() -> Xvfb {
        let xvfb = require_tool("Xvfb", "xvfb");
        let base = 200 + std::process::id() % 500;
        for display in base..base + 40 {
            let sock = x_socket(display);
            if sock.exists() || Path::new(&format!("/tmp/.X{display}-lock")).exists() {
                continue;
            }
            let mut child = Command::new(&xvfb)
                .arg(format!(":{display}"))
                .args(["-nolisten", "tcp", "-screen", "0", "640x480x24"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot start Xvfb");
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if sock.exists() {
                    return Xvfb { child, display };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break; // lost a race for this display: try the next
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no Xvfb could be started on displays {base}..{}", base + 40);
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM first, so it removes its socket and lock file.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t0 = Instant::now();
        while self.child.try_wait().ok().flatten().is_none()
            && t0.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn x_socket(display: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X11-unix/X{display}"))
}

/// Builds images/paper/xengine.c statically into a directory of its own
/// (the guest's root for the umbra runs) and returns that directory.
fn xengine_root() -> PathBuf {
    let gcc = require_tool("gcc", "gcc");
    assert!(
        Path::new("/usr/include/X11/Xlib.h").exists(),
        "Xlib.h missing: install libx11-dev (`cargo xtask setup`)"
    );
    let dir = target_dir().join(format!("xengine-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = workspace_root().join("images/paper/xengine.c");
    let out = Command::new(gcc)
        .args(["-O2", "-static", "-o"])
        .arg(dir.join("xengine"))
        .arg(&src)
        .args(["-lX11", "-lxcb", "-lXau", "-lXdmcp", "-lm"])
        .output()
        .expect("cannot run gcc");
    assert!(
        out.status.success(),
        "building xengine failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn run_with_timeout(mut cmd: Command) -> std::process::Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot start the run");
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t0.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "run timed out\n--- stdout\n{}--- stderr\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `umbra run` of the xengine in `root` against `x`'s display, seen by the
/// guest as display :0.
fn umbra_xengine(root: &Path, x: &Xvfb, flags: &[&str], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(umbra());
    cmd.arg("run")
        .arg("--root")
        .arg(root)
        .arg("--unix-socket")
        .arg(format!(
            "{}:/tmp/.X11-unix/X0",
            x_socket(x.display).display()
        ))
        .args(["--env", "DISPLAY=:0", "--timeout", "200"])
        .args(flags)
        .arg("--")
        .arg("/xengine")
        .args(args);
    run_with_timeout(cmd)
}

fn native_xengine(root: &Path, x: &Xvfb, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(root.join("xengine"));
    cmd.env_clear()
        .env("DISPLAY", format!(":{}", x.display))
        .args(args);
    run_with_timeout(cmd)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn xengine_draws_the_same_frames_under_umbra_as_natively() {
    let root = xengine_root();
    let x = Xvfb::start();
    let native = native_xengine(&root, &x, &["-n", "40"]);
    assert!(native.status.success(), "native: {}", text(&native.stderr));
    let n = text(&native.stdout);
    assert!(n.starts_with("frames 40 checksum "), "native: {n}");
    let umbra = umbra_xengine(&root, &x, &[], &["-n", "40"]);
    assert!(
        umbra.status.success(),
        "umbra: {}{}",
        text(&umbra.stdout),
        text(&umbra.stderr)
    );
    assert_eq!(text(&umbra.stdout), n, "{}", text(&umbra.stderr));

    // A timed run: frames drawn and a positive RPM, with the counters.
    let timed = umbra_xengine(&root, &x, &["--stats"], &["-t", "1"]);
    let out = text(&timed.stdout);
    let err = text(&timed.stderr);
    assert!(timed.status.success(), "{out}{err}");
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        (f.len(), f[0], f[2], f[4]),
        (6, "frames", "seconds", "rpm"),
        "{out}"
    );
    let frames: u64 = f[1].parse().unwrap();
    let rpm: f64 = f[5].parse().unwrap();
    assert!(frames > 0 && rpm > 0.0, "{out}");
    // Each frame is at least one request write and one reply read.
    let writes = stats_calls(&err, "writev");
    assert!(writes >= frames, "{frames} frames, {writes} writev\n{err}");
    let _ = std::fs::remove_dir_all(&root);
}

/// The completed calls of `name` in a `--stats` report.
fn stats_calls(report: &str, name: &str) -> u64 {
    report
        .lines()
        .find(|l| l.starts_with("umbra: stats:") && l.ends_with(&format!("  {name}")))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} row in\n{report}"))
}

/// A host server for the `wake` section: per connection, reads "go\n",
/// sends "A", and "B" 200 ms later.
fn wake_server(path: &Path) {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).expect("bind the host socket");
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut c = c;
                let mut go = [0u8; 3];
                if c.read_exact(&mut go).is_err() {
                    return;
                }
                let _ = c.write_all(b"A");
                std::thread::sleep(Duration::from_millis(200));
                let _ = c.write_all(b"B");
                let mut rest = Vec::new();
                let _ = c.read_to_end(&mut rest);
            });
        }
    });
}

/// A guest polls for POLLIN on a host socket that is writable (nothing to
/// read yet, as an X client waiting for its reply): the poll returns when
/// the input comes. It used to register no wake-up with the host (POLLOUT
/// was ready, so umbra thought the caller's interest met) and slept until
/// the poll's timeout.
#[test]
fn host_socket_poll_for_input_wakes_when_it_comes_while_writable() {
    let dir = PathBuf::from(format!("/tmp/umbra-xe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let host = dir.join("s");
    wake_server(&host);
    for libc in Libc::ALL {
        let native = Run::guest(libc, "paper_probe")
            .args(&["wake", host.to_str().unwrap()])
            .native();
        native.assert_code(0);
        assert!(
            native
                .stdout_text()
                .contains("wake: woke when the byte came\nwake: second byte B\n"),
            "{}",
            native.describe()
        );
        let umbra = Run::guest(libc, "paper_probe")
            .args(&["wake", "/tmp/.X11-unix/X0"])
            .umbra_flag("--unix-socket")
            .umbra_flag(&format!("{}:/tmp/.X11-unix/X0", host.display()))
            .umbra();
        compare(&native, &umbra);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stats_counts_at_least_the_syscalls_made() {
    const N: u64 = 3000;
    for libc in Libc::ALL {
        let run = Run::guest(libc, "paper_probe").args(&["getppid", &N.to_string()]);
        let native = run.native();
        native.assert_code(0);
        let plain = run.umbra();
        compare(&native, &plain);
        assert!(
            !plain.stderr_text().contains("stats"),
            "{}",
            plain.describe()
        );
        let umbra = run.clone_with_flag("--stats").umbra();
        umbra.assert_code(0);
        assert_eq!(umbra.stdout, native.stdout, "{}", umbra.describe());
        let err = umbra.stderr_text();
        // The loop's N calls and the one before it.
        let getppid = stats_calls(&err, "getppid");
        assert!(getppid > N, "{getppid} getppid counted\n{err}");
        // Every other count is plausible: the total holds the getppids, every
        // syscall was a host stop, an exec loaded the program (the first
        // one is the kernel's own, not a syscall) and it faulted its pages in.
        let field = |prefix: &str| -> u64 {
            let l = err
                .lines()
                .find_map(|l| l.strip_prefix(&format!("umbra: stats: {prefix} ")))
                .unwrap_or_else(|| panic!("no '{prefix}' line in\n{err}"));
            l.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let total = field("syscalls");
        let stops = field("host stops");
        assert!(total >= getppid && total < getppid + 200, "{err}");
        assert!(stops >= total, "{err}");
        assert!(field("page faults") > 0, "{err}");
        assert_eq!(field("forks/clones"), 0, "{err}");
        assert!(err.contains("umbra: stats: map batches "), "{err}");
    }
}

trait WithFlag {
    fn clone_with_flag(&self, flag: &str) -> Run;
}

impl WithFlag for Run {
    fn clone_with_flag(&self, flag: &str) -> Run {
        Run {
            guest_path: self.guest_path.clone(),
            native_path: self.native_path.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            input: Input::Null,
            umbra_flags: self.umbra_flags.clone(),
        }
        .umbra_flag(flag)
    }
}
