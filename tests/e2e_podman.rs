//! Issue 15's "Done when": Debian's podman runs the Debian bookworm tree,
//! imported as an image (`images/podman/import.sh`, cached under
//! `/var/cache/umbra/podman/KEY`), and each check runs twice: with runc, the
//! native control that shows the check holds on Linux (and so can fail), and
//! with `--runtime <umbra>`.
//!
//! Every test has its own podman world (see [`Podman`]): a network and a
//! mount namespace of its own (a `sleep` started by `unshare -n -m`, which
//! every podman command enters with nsenter) with a tmpfs on /run, so
//! netavark's bridge, its iptables rules, /run/netns and /run/containers go
//! away with it; private podman
//! `--root`, `--runroot`, `--tmpdir`, network config, volume and runtime
//! state directories under /tmp (podman refuses a runroot longer than 50
//! bytes); and the cached image store named read-only with
//! `--storage-opt overlay.imagestore=`, so nothing global is written. The
//! container storage driver is overlay.
//!
//! This machine needs `--cgroup-manager cgroupfs` (cgroups v1 hybrid, no
//! systemd) and `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024` (podman's
//! default rlimits exceed the hard limits here; runc fails with "error
//! setting rlimit type 7"). `--pull never`: there is no registry.
//!
//! containerd: `ctr run --runtime io.containerd.runc.v2 --runc-binary
//! RUNTIME` (the runc shim's BinaryName) on the same image, imported from
//! the OCI archive import.sh saves, with a containerd daemon of the test's
//! own (root, state and sockets in its directory).
//!
//! Docker: Debian's dockerd with the runtime in daemon.json's `runtimes`
//! table, `docker run --runtime under-test` on the tree `docker import`ed.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use umbra_tests::{debian_image_dir, execute_native, umbra, workspace_root, Input, Outcome};

/// The image `images/podman/import.sh` stores.
const IMAGE: &str = "localhost/umbra-debian:latest";

/// The cache directory of `images/podman/import.sh` (it runs build.sh
/// first): `storage/`, the image store, and `oci.tar`, the OCI archive.
fn image_cache() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = last_line_of(&workspace_root().join("images/podman/import.sh"));
        assert!(
            dir.join("done").is_file() && dir.join("storage").is_dir(),
            "{} holds no imported image",
            dir.display()
        );
        dir
    })
}

/// Runs a cache script and returns the directory it prints last. Fails,
/// never skips, when it cannot: CI runs as root and installs podman and
/// debootstrap (`cargo xtask setup`).
fn last_line_of(script: &Path) -> PathBuf {
    let out = Command::new(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); it needs root, debootstrap and podman (`cargo xtask setup`):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim(),
    )
}

/// The OCI runtime a test runs podman with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Runtime {
    /// Debian's runc: the native control.
    Runc,
    /// The umbra binary under test.
    Umbra,
}

impl Runtime {
    fn path(self) -> PathBuf {
        match self {
            Runtime::Runc => umbra_tests::require_tool("runc", "runc"),
            Runtime::Umbra => umbra().to_path_buf(),
        }
    }
}

/// One test's podman world: its namespaces (held by `holder`) and
/// directories (`dir`). Dropping it removes every container, ends the
/// namespaces and removes the directories.
struct Podman {
    holder: Child,
    dir: PathBuf,
    runtime_path: PathBuf,
    store: PathBuf,
}

impl Podman {
    fn new(runtime: Runtime) -> Podman {
        require("podman", "podman");
        require("nsenter", "util-linux");
        require("unshare", "util-linux");
        let store = image_cache().join("storage");
        let runtime_path = runtime.path();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = PathBuf::from(format!(
            "/tmp/umbra-podman-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let holder = Command::new("unshare")
            .args(["-n", "-m", "--propagation", "private", "sleep", "100000"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let p = Podman {
            holder,
            dir,
            runtime_path,
            store,
        };
        // unshare(2) runs before the exec of sleep: wait until the holder
        // is in namespaces of its own, or nsenter would enter ours.
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_link(format!("/proc/{}/ns/net", p.holder.id())).ok()
            == Some(ours.clone())
        {
            assert!(Instant::now() < deadline, "unshare made no namespace");
            std::thread::sleep(Duration::from_millis(10));
        }
        // A /run of its own: podman (/run/netns, /run/containers), runc's
        // default state and containerd (/run/containerd) write there.
        let run = ["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run"];
        for argv in [&run[..], &["ip", "link", "set", "lo", "up"]] {
            p.nsenter(argv, &Input::Null).assert_code(0);
        }
        p
    }

    /// `nsenter` into the holder's namespaces, running `argv`.
    fn nsenter(&self, argv: &[&str], input: &Input) -> Outcome {
        let mut cmd = self.nsenter_cmd();
        cmd.args(argv);
        execute_native(cmd, input)
    }

    fn nsenter_cmd(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.holder.id().to_string(), "-n", "-m", "--"]);
        cmd
    }

    /// Starts a daemon (containerd, dockerd) in this world's namespaces with
    /// `PROGRAM CONFIG_FLAG CONFIG`, its output going to `log`.
    fn spawn_daemon(
        &self,
        program: &str,
        config_flag: &str,
        config: &Path,
        log: &Path,
    ) -> std::process::Child {
        let log = std::fs::File::create(log).unwrap();
        self.nsenter_cmd()
            .arg(program)
            .arg(config_flag)
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    }

    /// podman's global options: this world's directories and runtime.
    fn global_args(&self) -> Vec<String> {
        let d = |s: &str| self.dir.join(s).display().to_string();
        vec![
            "--root".into(),
            d("root"),
            "--runroot".into(),
            d("run"),
            "--tmpdir".into(),
            d("tmp"),
            "--network-config-dir".into(),
            d("net"),
            "--volumepath".into(),
            d("vol"),
            "--storage-driver".into(),
            "overlay".into(),
            "--storage-opt".into(),
            format!("overlay.imagestore={}", self.store.display()),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
            "--runtime".into(),
            self.runtime_path.display().to_string(),
            // The runtime's state directory (runc's default is /run/runc).
            "--runtime-flag".into(),
            format!("root={}", d("rt")),
        ]
    }

    /// The full `podman ...` argv (in the namespaces); `run` and `create`
    /// get the rlimits and `--pull never` right after the subcommand.
    fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec!["podman".to_string()];
        v.extend(self.global_args());
        if let Some((sub, rest)) = args.split_first() {
            v.push(sub.to_string());
            if matches!(*sub, "run" | "create") {
                v.extend(
                    [
                        "--pull",
                        "never",
                        "--ulimit",
                        "nofile=1024:1024",
                        "--ulimit",
                        "nproc=1024:1024",
                    ]
                    .map(String::from),
                );
            }
            v.extend(rest.iter().map(|s| s.to_string()));
        }
        v
    }

    /// Runs `podman ARGS` in this world.
    fn podman(&self, args: &[&str]) -> Outcome {
        self.podman_in(args, &Input::Null)
    }

    fn podman_in(&self, args: &[&str], input: &Input) -> Outcome {
        let argv = self.argv(args);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.nsenter(&argv, input)
    }

    /// `podman ARGS`, which must exit with 0; its stdout, trimmed.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.podman(args);
        o.assert_code(0);
        o.stdout_text().trim().to_string()
    }

    /// Polls `podman logs ID` until it holds `want` (at most 120 s).
    fn wait_log(&self, id: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let o = self.podman(&["logs", id]);
            let text = o.stdout_text() + &o.stderr_text();
            if text.contains(want) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "`{want}` never showed in the logs of {id}:\n{text}\n{}",
                self.podman(&["ps", "-a"]).describe()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `podman inspect` of `{{.State.Status}} {{.State.ExitCode}}`.
    fn state(&self, id: &str) -> String {
        self.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id])
    }

    /// Polls the state of `id` until it is `want` (at most 120 s): podman
    /// shows a container that ended as "stopped" until conmon's cleanup
    /// (the runtime's delete) has run, then "exited".
    fn wait_state(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let got = self.state(id);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id} stayed `{got}`, never `{want}`"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// No container is left and no host process names one of `ids`
    /// (conmon's and the runtime's command lines hold the container's id).
    fn assert_gone(&self, ids: &[&str]) {
        assert_eq!(self.ok(&["ps", "-a", "-q"]), "", "containers are left");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = processes_naming(ids);
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "processes of removed containers are left: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-a", "-f", "-t", "0"]);
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn require(tool: &str, package: &str) {
    umbra_tests::require_tool(tool, package);
}

/// `pid args` of every host process whose command line holds one of `ids`.
fn processes_naming(ids: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if ids.iter().any(|id| cmdline.contains(id)) {
            found.push(format!("{pid} {cmdline}"));
        }
    }
    found
}

/// A fresh host directory for a test's bind mounts (under its world's
/// directory, so it goes with it).
fn host_dir(p: &Podman, name: &str) -> PathBuf {
    let d = p.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Checks run with one runtime, each written once.
///
/// `podman run --rm IMAGE bash -c 'echo hi; cat /etc/os-release'`: the
/// output and exit status 0, and a non-zero exit status propagated.
fn run_rm_echo_os_release(rt: Runtime) {
    let p = Podman::new(rt);
    let o = p.podman(&[
        "run",
        "--rm",
        IMAGE,
        "bash",
        "-c",
        "echo hi; cat /etc/os-release",
    ]);
    o.assert_code(0);
    let os_release =
        std::fs::read_to_string(debian_image_dir().join("tree/usr/lib/os-release")).unwrap();
    assert!(os_release.contains("bookworm"), "{os_release}");
    assert_eq!(
        o.stdout_text(),
        format!("hi\n{os_release}"),
        "{}",
        o.describe()
    );
    let o = p.podman(&[
        "run",
        "--rm",
        IMAGE,
        "bash",
        "-c",
        "echo out; echo err >&2; exit 42",
    ]);
    o.assert_code(42);
    assert_eq!(o.stdout_text(), "out\n", "{}", o.describe());
    assert!(o.stderr_text().contains("err\n"), "{}", o.describe());
    p.assert_gone(&[]);
}

/// The container's first process is its pid namespace's init: a signal it
/// has no handler for, even one it sends itself, is not delivered (Linux's
/// SIGNAL_UNKILLABLE init); one it handles is.
fn init_ignores_unhandled_signals(rt: Runtime) {
    let p = Podman::new(rt);
    let o = p.podman(&[
        "run",
        "--rm",
        IMAGE,
        "bash",
        "-c",
        "kill -USR1 $$; kill -TERM $$; echo still here; trap 'echo got USR2' USR2; kill -USR2 $$; \
         echo end",
    ]);
    o.assert_code(0);
    assert_eq!(
        o.stdout_text(),
        "still here\ngot USR2\nend\n",
        "{}",
        o.describe()
    );
    p.assert_gone(&[]);
}

/// The driver of `podman run -it`: a pseudo-terminal of 30 rows and 100
/// columns, waits for bash's prompt, types a line, reads its output, and
/// `exit 3`. Prints the transcript (without escape sequences and carriage
/// returns), then `STATUS n`.
const PTY_DRIVER: &str = r#"
import fcntl, os, pty, re, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
out = b''
def until(pat, start, secs=120):
    """Reads until out[start:] holds pat; returns the offset after it."""
    global out
    end = time.time() + secs
    while pat not in out[start:]:
        left = end - time.time()
        if left <= 0:
            sys.stdout.write(out.decode(errors='replace'))
            sys.stdout.write('\nTIMEOUT waiting for %r\n' % pat)
            sys.exit(1)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                b = os.read(fd, 4096)
            except OSError:
                b = b''
            if not b:
                sys.stdout.write(out.decode(errors='replace'))
                sys.stdout.write('\nEOF waiting for %r\n' % pat)
                sys.exit(1)
            out += b
    return out.index(pat, start) + len(pat)
at = until(b'# ', 0)
os.write(fd, b'echo $((6*7)) is the answer; stty size; tty\n')
at = until(b'42 is the answer', at)
until(b'# ', at)
os.write(fd, b'exit 3\n')
while True:
    r, _, _ = select.select([fd], [], [], 120)
    if not r:
        break
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
_, st = os.waitpid(pid, 0)
# Without bash's bracketed-paste switches and the carriage returns.
out = re.sub(rb'\x1b\[[0-9;?]*[a-zA-Z]', b'', out).replace(b'\r', b'')
sys.stdout.write(out.decode(errors='replace'))
sys.stdout.write('\nSTATUS %d\n' % os.waitstatus_to_exitcode(st))
"#;

/// The PTY driver's first command's output: its answer, then the window
/// size podman passed on (30x100), then a terminal under /dev/pts.
fn assert_answer_size_and_tty(o: &Outcome, text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "42 is the answer")
        .unwrap_or_else(|| panic!("no answer line:\n{}", o.describe()));
    assert_eq!(lines.get(at + 1), Some(&"30 100"), "{}", o.describe());
    assert!(
        lines
            .get(at + 2)
            .is_some_and(|l| l.starts_with("/dev/pts/")),
        "{}",
        o.describe()
    );
}

/// `podman run -it` through a pseudo-terminal the test drives.
fn run_it_pty(rt: Runtime) {
    let p = Podman::new(rt);
    let mut argv = vec!["python3".to_string(), "-c".into(), PTY_DRIVER.into()];
    argv.extend(p.argv(&["run", "--rm", "-it", "--hostname", "box", IMAGE, "bash"]));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let o = p.nsenter(&argv, &Input::Null);
    let text = o.stdout_text();
    o.assert_code(0);
    assert!(text.ends_with("\nSTATUS 3\n"), "{}", o.describe());
    // The answer, the window size podman passed on, and a terminal.
    assert_answer_size_and_tty(&o, &text);
    assert!(text.contains("root@box:/# "), "{}", o.describe());
    p.assert_gone(&[]);
}

/// The end of [`exec_it_pty`]'s driver: ^C at the prompt, a command that
/// checks both ends are terminals, `exit 4`. bash can leave a SIGINT that
/// came while readline was between reads pending until the next key (seen
/// under runc: `^C`, readline's terminal reset, and no prompt for 60 s); so
/// if no prompt follows within 5 s, Enter is pressed. bash must then still
/// answer the next command.
const CTRL_C_THEN_EXIT_4: &str = r#"at = len(out)
os.write(fd, b'\x03')
at = until(b'^C', at)
def soft(pat, start, secs):
    global out
    end = time.time() + secs
    while pat not in out[start:]:
        left = end - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                b = os.read(fd, 4096)
            except OSError:
                b = b''
            if not b:
                return False
            out += b
    return True
if not soft(b'# ', at, 5):
    os.write(fd, b'\n')
at = until(b'# ', at)
os.write(fd, b'test -t 0 && test -t 2 && echo both-ttys\n')
at = until(b'both-ttys', at)
until(b'# ', at)
os.write(fd, b'exit 4\n')"#;

/// `podman exec -it` through a pseudo-terminal the test drives, into a
/// container started without one: bash's prompt, a typed line and its
/// output, the window size podman passed on, its own terminal (`tty`,
/// `test -t`), ^C at the prompt (a new prompt, bash lives on), and `exit 4`
/// as podman's status.
fn exec_it_pty(rt: Runtime) {
    let p = Podman::new(rt);
    let id = p.ok(&[
        "run",
        "-d",
        "--hostname",
        "box",
        IMAGE,
        "bash",
        "-c",
        "echo ready; while :; do sleep 0.2; done",
    ]);
    p.wait_log(&id, "ready");
    // Its own time-out below the harness's, so that a failure shows the
    // transcript.
    let driver = PTY_DRIVER
        .replace("secs=120", "secs=60")
        .replace("os.write(fd, b'exit 3\\n')", CTRL_C_THEN_EXIT_4);
    assert_ne!(driver, PTY_DRIVER);
    let mut argv = vec!["python3".to_string(), "-c".into(), driver];
    argv.extend(p.argv(&["exec", "-it", &id, "bash"]));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let o = p.nsenter(&argv, &Input::Null);
    let text = o.stdout_text();
    o.assert_code(0);
    assert!(text.ends_with("\nSTATUS 4\n"), "{}", o.describe());
    assert_answer_size_and_tty(&o, &text);
    assert!(text.contains("root@box:/# ^C"), "{}", o.describe());
    assert!(text.contains("\nboth-ttys\n"), "{}", o.describe());
    // The container goes on.
    assert_eq!(p.state(&id), "running 0");
    p.ok(&["rm", "-f", "-t", "0", &id]);
    p.assert_gone(&[&id]);
}

/// Prints the body of the URL argv[1], or `HTTP <code>` for an HTTP error;
/// fails on a connection error.
const FETCH: &str = "
import sys, urllib.error, urllib.request
try:
    sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())
except urllib.error.HTTPError as e:
    print('HTTP', e.code)
";

/// `podman run -d` of busybox httpd with `-p 8080:80`, fetched from the
/// test's network namespace (the host side of podman's bridge).
fn run_d_httpd_port(rt: Runtime) {
    let p = Podman::new(rt);
    let www = host_dir(&p, "www");
    std::fs::write(www.join("index.html"), "hello from httpd in a container\n").unwrap();
    let vol = format!("{}:/www:ro", www.display());
    let id = p.ok(&[
        "run",
        "-d",
        "-p",
        "8080:80",
        "-v",
        &vol,
        IMAGE,
        "/usr/local/bin/busybox",
        "httpd",
        "-f",
        "-v",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let fetched = loop {
        let o = p.nsenter(
            &["python3", "-c", FETCH, "http://127.0.0.1:8080/index.html"],
            &Input::Null,
        );
        if o.status.code() == 0 || Instant::now() > deadline {
            break o;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        fetched.stdout_text(),
        "hello from httpd in a container\n",
        "{}\n{}",
        fetched.describe(),
        p.podman(&["logs", &id]).describe()
    );
    // A missing page is httpd's 404, not a connection failure.
    let o = p.nsenter(
        &["python3", "-c", FETCH, "http://127.0.0.1:8080/nothing"],
        &Input::Null,
    );
    assert_eq!(o.stdout_text(), "HTTP 404\n", "{}", o.describe());
    assert_eq!(p.state(&id), "running 0");
    p.ok(&["rm", "-f", "-t", "0", &id]);
    p.assert_gone(&[&id]);
}

/// `podman exec` into a running container: output, exit status, -e, -w,
/// stdin, and the init's files; then `podman stop` (the init's TERM trap
/// decides the status), the state, and nothing left after `podman rm`.
fn exec_stop(rt: Runtime) {
    let p = Podman::new(rt);
    let id = p.ok(&[
        "run",
        "-d",
        IMAGE,
        "bash",
        "-c",
        "trap 'echo got TERM; exit 5' TERM; echo made-by-init > /tmp/ready; \
         echo ready; while :; do sleep 0.1; done",
    ]);
    p.wait_log(&id, "ready");
    assert_eq!(p.ok(&["exec", &id, "cat", "/tmp/ready"]), "made-by-init");
    let o = p.podman(&["exec", &id, "sh", "-c", "echo in-exec; exit 7"]);
    o.assert_code(7);
    assert_eq!(o.stdout_text(), "in-exec\n");
    assert_eq!(
        p.ok(&[
            "exec",
            "-e",
            "FOO=bar",
            "-w",
            "/etc",
            &id,
            "sh",
            "-c",
            "echo $FOO $PWD"
        ]),
        "bar /etc"
    );
    let o = p.podman_in(
        &["exec", "-i", &id, "tr", "a-z", "A-Z"],
        &Input::Bytes(b"through stdin\n".to_vec()),
    );
    o.assert_code(0);
    assert_eq!(o.stdout_text(), "THROUGH STDIN\n");
    assert_eq!(p.state(&id), "running 0");
    // podman stop: SIGTERM, which the trap turns into exit 5.
    assert_eq!(p.ok(&["stop", "-t", "100", &id]), id);
    p.wait_state(&id, "exited 5");
    p.wait_log(&id, "got TERM");
    p.ok(&["rm", &id]);
    p.assert_gone(&[&id]);
}

/// `podman kill`: signals forwarded (USR1 to the init's trap), then KILL:
/// `podman wait` gives 137 and the state becomes "exited 137"; exec into
/// the ended container is refused; nothing left after `podman rm`.
fn kill_signals(rt: Runtime) {
    let p = Podman::new(rt);
    let id2 = p.ok(&[
        "run",
        "-d",
        IMAGE,
        "bash",
        "-c",
        "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.1; done",
    ]);
    p.wait_log(&id2, "ready");
    p.ok(&["kill", "-s", "USR1", &id2]);
    p.wait_log(&id2, "got USR1");
    assert_eq!(p.state(&id2), "running 0");
    p.ok(&["kill", &id2]);
    assert_eq!(p.ok(&["wait", &id2]), "137");
    p.wait_state(&id2, "exited 137");
    // exec into a stopped container is refused.
    let o = p.podman(&["exec", &id2, "true"]);
    assert_ne!(o.status.code(), 0, "{}", o.describe());
    p.ok(&["rm", &id2]);
    p.assert_gone(&[&id2]);
}

/// `podman pause` freezes the container (state "paused"; a file its loop
/// rewrites every 0.1 s stays as it was for a second), `podman unpause`
/// lets it go on (the file changes again, exec works), then stop and rm.
fn pause_unpause(rt: Runtime) {
    let p = Podman::new(rt);
    let data = host_dir(&p, "data");
    let vol = format!("{}:/data", data.display());
    let id = p.ok(&[
        "run",
        "-d",
        "-v",
        &vol,
        IMAGE,
        "bash",
        "-c",
        "i=0; echo ready; while :; do i=$((i+1)); echo $i > /data/n; sleep 0.1; done",
    ]);
    p.wait_log(&id, "ready");
    let read = || std::fs::read_to_string(data.join("n")).unwrap_or_default();
    let changes = |secs: u64| {
        let before = read();
        std::thread::sleep(Duration::from_secs(secs));
        read() != before
    };
    // Running: the counter moves (within 30 s on a loaded machine).
    assert!((0..30).any(|_| changes(1)), "the loop never ran");
    // runc's cgroup v1 freezer gives up with "unable to freeze" when the
    // tasks do not settle in FROZEN in time, which a loaded host can cause
    // (seen once at load ~12); the container is left running, so asking
    // again is what a user would do.
    let mut tries = 0;
    loop {
        let o = p.podman(&["pause", &id]);
        tries += 1;
        if tries < 5 && o.status.code() != 0 && o.stderr_text().contains("unable to freeze") {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        o.assert_code(0);
        break;
    }
    assert_eq!(p.state(&id), "paused 0");
    assert!(!changes(1), "the counter moved while paused");
    assert!(!changes(1), "the counter moved while paused");
    p.ok(&["unpause", &id]);
    assert_eq!(p.state(&id), "running 0");
    assert!((0..30).any(|_| changes(1)), "the loop did not go on");
    assert_eq!(p.ok(&["exec", &id, "echo", "after"]), "after");
    p.ok(&["rm", "-f", "-t", "0", &id]);
    p.assert_gone(&[&id]);
}

/// `podman exec --user 1000:1001` runs as that user and group (files it
/// makes are theirs), and `podman run --user` as well.
fn exec_as_user(rt: Runtime) {
    let p = Podman::new(rt);
    let id = p.ok(&["run", "-d", IMAGE, "sleep", "100000"]);
    assert_eq!(
        p.ok(&[
            "exec",
            "--user",
            "1000:1001",
            &id,
            "sh",
            "-c",
            "id -u; id -g; touch /tmp/f; stat -c '%u %g' /tmp/f"
        ]),
        "1000\n1001\n1000 1001"
    );
    p.ok(&["rm", "-f", "-t", "0", &id]);
    let o = p.podman(&[
        "run",
        "--rm",
        "--user",
        "1000:1001",
        IMAGE,
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    o.assert_code(0);
    assert_eq!(o.stdout_text(), "1000\n1001\n", "{}", o.describe());
    p.assert_gone(&[&id]);
}

/// `-v HOSTDIR:/data` is read and written; `:ro` refuses writes.
fn bind_mount_rw_ro(rt: Runtime) {
    let p = Podman::new(rt);
    let data = host_dir(&p, "data");
    let ro = host_dir(&p, "ro");
    std::fs::write(data.join("from-host"), "written by the host\n").unwrap();
    std::fs::write(ro.join("f"), "read-only\n").unwrap();
    let v1 = format!("{}:/data", data.display());
    let v2 = format!("{}:/ro:ro", ro.display());
    let o = p.podman(&[
        "run",
        "--rm",
        "-v",
        &v1,
        "-v",
        &v2,
        IMAGE,
        "bash",
        "-c",
        "cat /data/from-host; echo written by the container > /data/from-guest; \
         mkdir -p /data/d/e; echo deep > /data/d/e/f; mv /data/from-host /data/d/moved; \
         cat /ro/f; (echo x > /ro/f) 2>/dev/null || echo ro refused; \
         (touch /ro/new) 2>/dev/null || echo ro refused; cd /data && ls -R",
    ]);
    o.assert_code(0);
    assert_eq!(
        o.stdout_text(),
        "written by the host\nread-only\nro refused\nro refused\n\
         .:\nd\nfrom-guest\n\n./d:\ne\nmoved\n\n./d/e:\nf\n",
        "{}",
        o.describe()
    );
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(read(&data.join("from-guest")), "written by the container\n");
    assert_eq!(read(&data.join("d/e/f")), "deep\n");
    assert_eq!(read(&data.join("d/moved")), "written by the host\n");
    assert!(!data.join("from-host").exists());
    assert_eq!(read(&ro.join("f")), "read-only\n");
    assert!(!ro.join("new").exists());
    p.assert_gone(&[]);
}

const CANARY: &str = "UMBRA-CANARY-OUTSIDE-THE-CONTAINER";

/// Escape attempts through the container's root and its bind mount: `..`,
/// symlinks to / and out of the mount (made by the host and by the guest),
/// /proc/self/root and /proc/1/root, and a rename race (directories moved
/// while another process walks `..` through them) find nothing outside. A
/// canary file sits in every directory above the container's root file
/// system on the host and next to the bind-mounted directory; a file inside
/// the mount is read, so the script does run.
fn escapes_find_nothing_outside(rt: Runtime) {
    let p = Podman::new(rt);
    let data = host_dir(&p, "data");
    std::fs::write(p.dir.join("canary"), CANARY).unwrap();
    std::fs::write(data.join("inside"), "inside the mount\n").unwrap();
    std::fs::create_dir_all(data.join("a/b/c")).unwrap();
    symlink("/", data.join("abs")).unwrap();
    symlink("../canary", data.join("esc")).unwrap();
    symlink("../..", data.join("up")).unwrap();
    symlink(p.dir.join("canary"), data.join("abs-esc")).unwrap();
    let v = format!("{}:/data", data.display());
    let host_canary = p.dir.join("canary").display().to_string();
    let script = format!(
        "cd /; for p in /canary /../canary /../../canary /../../../canary /../../../../canary \
           /../../../../../canary /../../../../../../canary {host_canary} /..{host_canary} \
           /data/../canary /data/../../canary /data/esc /data/abs-esc /data/up/canary \
           /data/up/../canary /data/abs/../canary /data/abs/../../canary \
           /proc/self/root/../canary /proc/self/root/../../canary /proc/1/root/../../canary \
           /proc/self/cwd/../../canary /proc/1/cwd/../../../canary /data/a/b/c/../../../../canary; do \
           cat $p 2>/dev/null && echo LEAK $p; done; \
         ln -s / /tmp/root-link; ln -s ../../../../../.. /tmp/up-link; \
         cat /tmp/root-link/../canary /tmp/up-link/canary /tmp/up-link{host_canary} 2>/dev/null \
           && echo LEAK-links; \
         cd /data/a/b/c && cat ../../../../canary ../../../../../canary 2>/dev/null && echo LEAK-rel; \
         cd /; readlink /proc/self/root /proc/1/root; cat /proc/self/root/data/inside; \
         find / -path /proc -prune -o -path /sys -prune -o -name canary -print 2>/dev/null; \
         ( i=0; while [ $i -lt 100 ]; do mv /data/a /data/z; mv /data/z /data/a; i=$((i+1)); done ) 2>/dev/null & \
         ( i=0; while [ $i -lt 100 ]; do mv /data/a/b /data/bb; mv /data/bb /data/a/b; i=$((i+1)); done ) 2>/dev/null & \
         j=0; while [ $j -lt 100 ]; do \
           cat /data/a/b/c/../../../../canary /data/z/b/c/../../../../../canary \
             /data/bb/c/../../../canary /data/a/b/../../../canary 2>/dev/null && echo LEAK-race; \
           j=$((j+1)); done; wait; if [ -d /data/bb ]; then mv /data/bb /data/a/b; fi; ls /data/a; echo done"
    );
    // The script is the container's own command (no exec needed); its
    // root is mounted first (`podman mount`, in the test's mount
    // namespace) to find it on the host: a canary goes in every parent.
    let id = p.ok(&["create", "-v", &v, IMAGE, "bash", "-c", &script]);
    let merged = PathBuf::from(p.ok(&["mount", &id]));
    let mut canaries = Vec::new();
    for dir in merged.ancestors().skip(1) {
        let c = dir.join("canary");
        if dir.starts_with(&p.dir) && !c.exists() {
            std::fs::write(&c, CANARY).unwrap();
            canaries.push(c);
        }
    }
    assert!(canaries.len() >= 3, "{} {canaries:?}", merged.display());
    let o = p.podman(&["start", "-a", &id]);
    assert!(
        !o.stdout_text().contains(CANARY) && !o.stderr_text().contains(CANARY),
        "a canary outside the container was read:\n{}",
        o.describe()
    );
    o.assert_code(0);
    assert_eq!(
        o.stdout_text(),
        "/\n/\ninside the mount\nb\ndone\n",
        "{}",
        o.describe()
    );
    p.ok(&["rm", &id]);
    p.assert_gone(&[&id]);
}

/// The containers.conf of docs/OCI.md: the runtime named in the runtimes
/// table and made the default, with this machine's cgroup manager and
/// rlimits, so that a plain `podman run` uses them (no --runtime,
/// --cgroup-manager or --ulimit flags). `name` is the runtime's table name.
fn containers_conf(name: &str, path: &Path) -> String {
    format!(
        "[containers]\n\
         default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
         \n\
         [engine]\n\
         cgroup_manager = \"cgroupfs\"\n\
         runtime = \"{name}\"\n\
         \n\
         [engine.runtimes]\n\
         {name} = [\"{}\"]\n",
        path.display()
    )
}

/// podman configured by [`containers_conf`] (CONTAINERS_CONF) runs the
/// container with the runtime it names: `podman info` reports it, and
/// `podman run` prints the container's rlimits.
fn containers_conf_runtime(rt: Runtime) {
    let p = Podman::new(rt);
    let name = match rt {
        Runtime::Runc => "runc-from-conf",
        Runtime::Umbra => "umbra",
    };
    let conf = p.dir.join("containers.conf");
    std::fs::write(&conf, containers_conf(name, &p.runtime_path)).unwrap();
    let env = format!("CONTAINERS_CONF={}", conf.display());
    // This world's directories, but not the runtime and cgroup manager.
    let global = p.global_args();
    let mut kept: Vec<&str> = Vec::new();
    let mut it = global.iter();
    while let Some(a) = it.next() {
        if matches!(a.as_str(), "--runtime" | "--cgroup-manager") {
            it.next();
        } else {
            kept.push(a);
        }
    }
    let podman = |args: &[&str]| {
        let mut argv = vec!["env", &env, "podman"];
        argv.extend_from_slice(&kept);
        argv.extend_from_slice(args);
        p.nsenter(&argv, &Input::Null)
    };
    let o = podman(&[
        "info",
        "--format",
        "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}",
    ]);
    o.assert_code(0);
    assert_eq!(
        o.stdout_text().trim(),
        format!("{name} {}", p.runtime_path.display()),
        "{}",
        o.describe()
    );
    let o = podman(&[
        "run",
        "--rm",
        "--pull",
        "never",
        IMAGE,
        "bash",
        "-c",
        "ulimit -n; ulimit -u",
    ]);
    o.assert_code(0);
    assert_eq!(o.stdout_text(), "1024\n1024\n", "{}", o.describe());
    p.assert_gone(&[]);
}

/// containerd in a test's namespaces, with its root, state and sockets in
/// the test's directory; its /run/containerd (fifos, shim sockets) is in
/// the test's /run. Dropping it deletes its tasks and containers (so the
/// shims exit) and ends the daemon.
struct Containerd<'a> {
    p: &'a Podman,
    daemon: Child,
    sock: String,
    ids: Vec<String>,
}

impl<'a> Containerd<'a> {
    fn start(p: &'a Podman) -> Containerd<'a> {
        require("containerd", "containerd");
        require("ctr", "containerd");
        let dir = p.dir.join("ctr");
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("c.sock").display().to_string();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
                 [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
                 [debug]\n  address = \"\"\n",
                root = dir.join("root").display(),
                state = dir.join("state").display(),
            ),
        )
        .unwrap();
        let daemon = p.spawn_daemon("containerd", "--config", &config, &dir.join("log"));
        let c = Containerd {
            p,
            daemon,
            sock,
            ids: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while c.ctr(&["version"]).status.code() != 0 {
            assert!(
                Instant::now() < deadline,
                "containerd did not answer:\n{}",
                std::fs::read_to_string(dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        c
    }

    /// `ctr ARGS` against this daemon, in the namespace `umbra-test`.
    fn ctr(&self, args: &[&str]) -> Outcome {
        let mut argv = vec!["ctr", "-a", &self.sock, "-n", "umbra-test"];
        argv.extend_from_slice(args);
        self.p.nsenter(&argv, &Input::Null)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.ctr(args);
        o.assert_code(0);
        o.stdout_text().trim().to_string()
    }

    /// `ctr run` options that make the runtime (runc or umbra) the runc
    /// binary of io.containerd.runc.v2 (its BinaryName option), with its
    /// state under the test's directory.
    fn runtime_args(&self) -> Vec<String> {
        vec![
            "--runtime".into(),
            "io.containerd.runc.v2".into(),
            "--runc-binary".into(),
            self.p.runtime_path.display().to_string(),
            "--runc-root".into(),
            self.p.dir.join("ctr/rt").display().to_string(),
        ]
    }

    /// A container id of this test (unique on the host, so that its
    /// processes can be found).
    fn new_id(&mut self) -> String {
        let id = format!(
            "umbra-ctr-{}-{}",
            self.p.dir.file_name().unwrap().to_string_lossy(),
            self.ids.len()
        );
        self.ids.push(id.clone());
        id
    }
}

impl Drop for Containerd<'_> {
    fn drop(&mut self) {
        for id in self.ids.clone() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", &id]);
            let _ = self.ctr(&["task", "delete", "--force", &id]);
            let _ = self.ctr(&["container", "delete", &id]);
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// `ctr run --runtime io.containerd.runc.v2 --runc-binary RUNTIME` on the
/// same image, imported into containerd from its OCI archive: output and
/// exit status of `ctr run --rm`; a detached task's `ctr task exec` (output,
/// exit status, the init's files) and `ctr task kill`; nothing left after
/// the deletes.
fn ctr_run(rt: Runtime) {
    let p = Podman::new(rt);
    let mut c = Containerd::start(&p);
    let oci = image_cache().join("oci.tar").display().to_string();
    c.ok(&[
        "images",
        "import",
        "--base-name",
        "localhost/umbra-debian",
        &oci,
    ]);
    let rt_args = c.runtime_args();
    let rt_args: Vec<&str> = rt_args.iter().map(String::as_str).collect();
    let id = c.new_id();
    let mut argv = vec!["run", "--rm"];
    argv.extend_from_slice(&rt_args);
    argv.extend_from_slice(&[
        IMAGE,
        &id,
        "bash",
        "-c",
        "echo hi; cat /etc/os-release; exit 3",
    ]);
    let o = c.ctr(&argv);
    o.assert_code(3);
    let os_release =
        std::fs::read_to_string(debian_image_dir().join("tree/usr/lib/os-release")).unwrap();
    assert_eq!(
        o.stdout_text(),
        format!("hi\n{os_release}"),
        "{}",
        o.describe()
    );

    let id2 = c.new_id();
    let mut argv = vec!["run", "-d", "--null-io"];
    argv.extend_from_slice(&rt_args);
    argv.extend_from_slice(&[
        IMAGE,
        &id2,
        "bash",
        "-c",
        "echo made-by-init > /tmp/ready; while :; do sleep 0.1; done",
    ]);
    c.ok(&argv);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut n = 0;
    loop {
        n += 1;
        let exec_id = format!("cat{n}");
        let o = c.ctr(&[
            "task",
            "exec",
            "--exec-id",
            &exec_id,
            &id2,
            "cat",
            "/tmp/ready",
        ]);
        if o.stdout_text() == "made-by-init\n" {
            break;
        }
        assert!(Instant::now() < deadline, "{}", o.describe());
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e7",
        &id2,
        "sh",
        "-c",
        "echo in-exec; exit 7",
    ]);
    o.assert_code(7);
    assert_eq!(o.stdout_text(), "in-exec\n");
    assert!(c.ok(&["task", "ls"]).contains("RUNNING"));
    c.ok(&["task", "kill", "-s", "SIGKILL", &id2]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !c.ok(&["task", "ls"]).contains("STOPPED") {
        assert!(
            Instant::now() < deadline,
            "{}",
            c.ctr(&["task", "ls"]).describe()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    c.ok(&["task", "delete", &id2]);
    c.ok(&["container", "delete", &id2]);
    assert_eq!(c.ok(&["container", "ls", "-q"]), "");
    let ids: Vec<&str> = c.ids.iter().map(String::as_str).collect();
    p.assert_gone(&ids);
}

/// dockerd (Debian's docker.io) in a test's namespaces, configured by a
/// daemon.json of the test's own (`--config-file`): its data, socket, pid
/// file and trust key in the test's directory, its exec root the default
/// /run/docker (the test's /run is its own), no iptables and
/// no bridge, cgroupfs, and the runtime under test in its `runtimes` table
/// as `under-test` (docs/OCI.md's configuration). Dropping it removes the
/// containers and stops the daemon with SIGTERM (its containerd goes with
/// it).
struct Docker<'a> {
    p: &'a Podman,
    daemon: Child,
    sock: String,
    client: PathBuf,
}

impl<'a> Docker<'a> {
    fn start(p: &'a Podman) -> Docker<'a> {
        require("dockerd", "docker.io");
        // Debian's client, of the daemon's version (a newer one may be
        // earlier on PATH).
        let client = Path::new("/usr/bin/docker");
        let client = if client.is_file() {
            client.to_path_buf()
        } else {
            umbra_tests::require_tool("docker", "docker.io")
        };
        let dir = p.dir.join("docker");
        std::fs::create_dir_all(&dir).unwrap();
        let d = |s: &str| dir.join(s).display().to_string();
        let sock = d("d.sock");
        let config = dir.join("daemon.json");
        std::fs::write(
            &config,
            format!(
                "{{\n  \"data-root\": \"{}\",\n  \"exec-root\": \"{}\",\n  \
                 \"pidfile\": \"{}\",\n  \"hosts\": [\"unix://{sock}\"],\n  \
                 \"deprecated-key-path\": \"{}\",\n  \"iptables\": false,\n  \
                 \"ip6tables\": false,\n  \"bridge\": \"none\",\n  \
                 \"exec-opts\": [\"native.cgroupdriver=cgroupfs\"],\n  \
                 \"storage-driver\": \"overlay2\",\n  \
                 \"runtimes\": {{\n    \"under-test\": {{ \"path\": \"{}\" }}\n  }}\n}}\n",
                d("data"),
                // Docker's default exec root, in the test's own /run (the
                // runtime's state directory is under it).
                "/run/docker",
                d("pid"),
                d("key.json"),
                p.runtime_path.display()
            ),
        )
        .unwrap();
        let daemon = p.spawn_daemon("dockerd", "--config-file", &config, &dir.join("log"));
        let dk = Docker {
            p,
            daemon,
            sock,
            client,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while dk.docker(&["version"]).status.code() != 0 {
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer:\n{}",
                std::fs::read_to_string(dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        dk
    }

    fn docker(&self, args: &[&str]) -> Outcome {
        let host = format!("unix://{}", self.sock);
        let client = self.client.display().to_string();
        let mut argv = vec![client.as_str(), "-H", &host];
        argv.extend_from_slice(args);
        self.p.nsenter(&argv, &Input::Null)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        o.assert_code(0);
        o.stdout_text().trim().to_string()
    }
}

impl Drop for Docker<'_> {
    fn drop(&mut self) {
        if let Ok(ids) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.docker(&["ps", "-a", "-q"]).stdout_text()
        })) {
            for id in ids.split_whitespace() {
                let _ = self.docker(&["rm", "-f", id]);
            }
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.daemon.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.daemon.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.daemon.kill();
                let _ = self.daemon.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Docker with the runtime from daemon.json's `runtimes` table: the Debian
/// tree imported with `docker import`; `docker run --rm --runtime
/// under-test` output and exit status 3; a detached container killed
/// (`docker wait` 137) and removed; nothing left.
fn docker_run(rt: Runtime) {
    let p = Podman::new(rt);
    let dk = Docker::start(&p);
    let info = dk.ok(&["info", "--format", "{{json .Runtimes}}"]);
    assert!(info.contains("under-test"), "{info}");
    let tree = debian_image_dir().join("tree").display().to_string();
    let host = format!("unix://{}", dk.sock);
    let client = dk.client.display().to_string();
    let o = p.nsenter(
        &[
            "sh",
            "-c",
            "tar -C \"$1\" -c . | \"$2\" -H \"$3\" import - umbra-debian:latest",
            "sh",
            &tree,
            &client,
            &host,
        ],
        &Input::Null,
    );
    o.assert_code(0);
    let o = dk.docker(&[
        "run",
        "--rm",
        "--runtime",
        "under-test",
        "--network",
        "none",
        "umbra-debian:latest",
        "bash",
        "-c",
        "echo hi; cat /etc/os-release; exit 3",
    ]);
    o.assert_code(3);
    let os_release =
        std::fs::read_to_string(debian_image_dir().join("tree/usr/lib/os-release")).unwrap();
    assert_eq!(
        o.stdout_text(),
        format!("hi\n{os_release}"),
        "{}",
        o.describe()
    );
    let id = dk.ok(&[
        "run",
        "-d",
        "--runtime",
        "under-test",
        "--network",
        "none",
        "umbra-debian:latest",
        "sleep",
        "100000",
    ]);
    assert_eq!(
        dk.ok(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.HostConfig.Runtime}}",
            &id
        ]),
        "true under-test"
    );
    dk.ok(&["kill", &id]);
    assert_eq!(dk.ok(&["wait", &id]), "137");
    dk.ok(&["rm", &id]);
    assert_eq!(dk.ok(&["ps", "-a", "-q"]), "");
    let left = processes_naming(&[&id]);
    assert!(
        left.is_empty(),
        "processes of the removed container: {left:?}"
    );
}

/// One test per check and runtime; the umbra ones that wait for the runtime
/// carry `#[ignore]` with the reason.
macro_rules! podman_checks {
    ($($check:ident: $runc:ident $(#[$umbra_attr:meta])* $umbra:ident;)*) => {$(
        #[test]
        fn $runc() {
            $check(Runtime::Runc);
        }
        #[test]
        $(#[$umbra_attr])*
        fn $umbra() {
            $check(Runtime::Umbra);
        }
    )*};
}

podman_checks! {
    run_rm_echo_os_release: run_rm_runc run_rm_umbra;
    init_ignores_unhandled_signals: init_signals_runc init_signals_umbra;
    run_it_pty: run_it_runc run_it_umbra;
    exec_it_pty: exec_it_runc exec_it_umbra;
    pause_unpause: pause_runc pause_umbra;
    run_d_httpd_port: httpd_port_runc httpd_port_umbra;
    exec_stop: exec_stop_runc exec_stop_umbra;
    kill_signals: kill_runc kill_umbra;
    exec_as_user: exec_user_runc exec_user_umbra;
    bind_mount_rw_ro: bind_mount_runc bind_mount_umbra;
    escapes_find_nothing_outside: escapes_runc escapes_umbra;
    containers_conf_runtime: containers_conf_runc containers_conf_umbra;
    docker_run: docker_run_runc docker_run_umbra;
    ctr_run: ctr_run_runc ctr_run_umbra;
}
