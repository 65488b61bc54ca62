//! Issue 15's OCI runtime: umbra driven as conmon drives runc.
//!
//! `tests/host/oci_driver.c` is a small conmon: it makes itself a child
//! subreaper, runs `create --pid-file [--console-socket]`, takes the pty
//! master over the console socket (SCM_RIGHTS), reaps the pid from the pid
//! file for the container's exit status, and runs `state`, `start`, `kill`
//! and `delete` between. Each test runs the same steps on the same bundle
//! (a static busybox tree made here) under umbra and, where runc is
//! installed, under runc, and expects the same transcript from both.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use umbra_tests::{busybox, find_on_path, target_dir, umbra};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = target_dir()
        .join("oci-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The driver, built once with the host's C compiler.
fn driver() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let src = umbra_tests::workspace_root().join("tests/host/oci_driver.c");
        let dir = target_dir().join("oci-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("oci_driver");
        let tmp = dir.join(format!(".oci_driver.{}", std::process::id()));
        let cc = find_on_path("cc")
            .or_else(|| find_on_path("gcc"))
            .expect("no C compiler");
        let r = Command::new(cc)
            .args(["-O2", "-Wall", "-Wno-format-truncation", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        std::fs::rename(&tmp, &out).unwrap();
        out
    })
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// What goes into a bundle's config.json.
struct Cfg<'a> {
    script: &'a str,
    terminal: bool,
    readonly: bool,
    /// Extra `mounts` entries (JSON objects, comma-separated).
    mounts: &'a str,
    /// Extra top-level members (`"k": v,` each).
    extra: &'a str,
    /// process.user.
    user: &'a str,
    /// linux.resources (a JSON object, or empty for none).
    resources: &'a str,
}

impl Default for Cfg<'_> {
    fn default() -> Self {
        Cfg {
            script: "true",
            terminal: false,
            readonly: true,
            mounts: "",
            extra: "",
            user: r#"{"uid": 0, "gid": 0, "additionalGids": [0]}"#,
            resources: "",
        }
    }
}

/// `dir/bundle`: a busybox rootfs and a config.json that runs `sh -c
/// SCRIPT`, in the shape `runc spec` writes.
fn bundle(dir: &Path, c: &Cfg<'_>) -> PathBuf {
    let b = dir.join("bundle");
    let root = b.join("rootfs");
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "data"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    for app in [
        "sh", "cat", "echo", "sleep", "hostname", "ls", "touch", "test", "pwd", "env", "grep",
        "tty",
    ] {
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(app));
    }
    std::fs::write(root.join("etc/motd"), "from the image\n").unwrap();
    let mounts = if c.mounts.is_empty() {
        String::new()
    } else {
        format!(",{}", c.mounts)
    };
    let config = format!(
        r#"{{
  "ociVersion": "1.0.2",
  "process": {{
    "terminal": {term},
    "user": {user},
    "args": ["sh", "-c", {script}],
    "env": ["PATH=/bin", "TERM=xterm", "GREETING=hello"],
    "cwd": "/",
    "rlimits": [{{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}}, {{"type": "RLIMIT_NPROC", "hard": 1024, "soft": 1024}}],
    "noNewPrivileges": true
  }},
  "root": {{"path": "rootfs", "readonly": {ro}}},
  "hostname": "oci-test",
  "mounts": [
    {{"destination": "/proc", "type": "proc", "source": "proc"}},
    {{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}},
    {{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}},
    {{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}}{mounts}
  ],
  {extra}
  "linux": {{{resources}
    "namespaces": [{{"type": "pid"}}, {{"type": "network"}}, {{"type": "ipc"}}, {{"type": "uts"}}, {{"type": "mount"}}],
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"]
  }}
}}
"#,
        term = c.terminal,
        script = json_str(c.script),
        ro = c.readonly,
        extra = c.extra,
        user = c.user,
        resources = if c.resources.is_empty() {
            String::new()
        } else {
            format!("\n    \"resources\": {},", c.resources)
        },
    );
    std::fs::write(b.join("config.json"), config).unwrap();
    b
}

/// The container id of a test's run under `tag`: one of its own on the
/// host, as runc names the container's cgroups after it (tests run side by
/// side, and one that freezes its cgroup must not freeze another's).
fn container_id(dir: &Path, tag: &str) -> String {
    let test = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    format!("c-{tag}-{}", test.unwrap_or_default())
}

/// Runs the driver's `steps` under `runtime` with its own state directory;
/// returns its transcript.
fn drive(runtime: &Path, dir: &Path, tag: &str, bundle: &Path, steps: &[&str]) -> String {
    let state = dir.join(format!("state-{tag}"));
    let out = Command::new(driver())
        .arg(runtime)
        .arg(&state)
        .arg(container_id(dir, tag))
        .arg(bundle)
        .args(steps)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "driver failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Runs `steps` under umbra, checks its transcript is `want`, and under
/// runc (when installed) that runc's is the same.
fn same_as_runc(name: &str, c: &Cfg<'_>, steps: &[&str], want: &str) {
    let dir = scratch(name);
    let b = bundle(&dir, c);
    let got = drive(umbra(), &dir, "umbra", &b, steps);
    assert_eq!(got.replace('\r', ""), want, "umbra's transcript");
    match find_on_path("runc") {
        Some(runc) => {
            let theirs = drive(&runc, &dir, "runc", &b, steps);
            assert_eq!(theirs.replace('\r', ""), want, "runc's transcript");
        }
        None => eprintln!("runc is not installed: umbra's transcript not compared"),
    }
}

#[test]
fn lifecycle_state_kill_and_exit_code_as_runc() {
    same_as_runc(
        "life",
        &Cfg {
            script: "trap 'echo got TERM; exit 7' TERM; echo started; while true; do sleep 1; done",
            ..Cfg::default()
        },
        &[
            "create",
            "state",
            "start",
            "expect:started",
            "state",
            "kill:TERM",
            "wait",
            "state",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
state exit 0 status created pid matches
start exit 0
saw started
state exit 0 status running pid matches
kill TERM exit 0
container exited 7
state exit 0 status stopped pid 0
delete exit 0
leftovers 0
--- output ---
started
got TERM

",
    );
}

#[test]
fn init_ignores_unhandled_term_and_dies_of_kill_as_runc() {
    // A container's init without a handler does not die of SIGTERM sent
    // from outside (Linux's rule for a pid namespace's init); SIGKILL kills
    // it, and the waiter sees death by signal 9.
    same_as_runc(
        "sigkill",
        &Cfg {
            script: "echo up; while true; do sleep 1; done",
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "kill:TERM",
            "state",
            "kill:SIGKILL",
            "wait",
            "state",
            "kill:TERM",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
kill TERM exit 0
state exit 0 status running pid matches
kill SIGKILL exit 0
container killed by signal 9
state exit 0 status stopped pid 0
kill TERM exit 1
delete exit 0
leftovers 0
--- output ---
up

",
    );
}

#[test]
fn console_socket_gives_the_guest_a_pty() {
    same_as_runc(
        "tty",
        &Cfg {
            script: "test -t 0 && test -t 1 && tty >/dev/null && echo IS-A-TTY; read x; echo got-$x; exit 5",
            terminal: true,
            ..Cfg::default()
        },
        &[
            "create-tty",
            "start",
            "expect:IS-A-TTY",
            "send:hello",
            "expect:got-hello",
            "wait",
            "delete",
            "leftovers",
        ],
        "console master received
create exit 0
pid file names a live process
start exit 0
saw IS-A-TTY
sent ok
saw got-hello
container exited 5
delete exit 0
leftovers 0
--- output ---
IS-A-TTY
hello
got-hello

",
    );
}

#[test]
fn the_terminal_is_dev_pts_0_and_dev_console_as_runc() {
    // With process.terminal, runc bind-mounts the console's pty slave,
    // /dev/pts/0 of the container's devpts, on /dev/console: one device
    // (136:0) under two names, with the devpts mount's mode (0620 here)
    // and group (its gid=, else root's). An exec terminal is the next
    // number.
    same_as_runc(
        "console",
        &Cfg {
            script: "tty; busybox stat -c '%n %t,%T %a %u:%g %F' /dev/console /dev/pts/0; echo via-console >/dev/console; echo up; while true; do sleep 1; done",
            terminal: true,
            ..Cfg::default()
        },
        &[
            "create-tty",
            "start",
            "expect:up",
            "exec-tty:read x; tty; busybox stat -c '%t,%T %a %u:%g' $(tty)",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "console master received
create exit 0
pid file names a live process
start exit 0
saw up
exec console master received
exec exit 0
exec tty output hello|/dev/pts/1|88,1 620 0:0|
exec process exited 0
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
/dev/pts/0
/dev/console 88,0 620 0:0 character special file
/dev/pts/0 88,0 620 0:0 character special file
via-console
up

",
    );
}

#[test]
fn delete_refuses_a_running_container_unless_forced() {
    same_as_runc(
        "delete",
        &Cfg {
            script: "echo up; while true; do sleep 1; done",
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "delete",
            "state",
            "delete-force",
            "wait",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
delete exit 1
state exit 0 status running pid matches
delete-force exit 0
container killed by signal 9
leftovers 0
--- output ---
up

",
    );
}

/// `delete --force` of a container the state directory does not hold
/// succeeds, as runc's does; plain `delete` fails. conmon's exit command
/// after `podman kill` (`podman container cleanup`) runs `delete --force`
/// without podman's `--runtime-flag root=`, so in the default state
/// directory, where the container is not: podman's cleanup (and the
/// container's "exited" state) waits on its success.
#[test]
fn delete_force_of_an_unknown_container_succeeds_as_runc() {
    let dir = scratch("delete-unknown");
    let codes = |runtime: &Path, tag: &str| {
        let state = dir.join(format!("state-{tag}"));
        let mut out = String::new();
        for (made, args) in [
            (false, &["delete", "nope"][..]),
            (false, &["delete", "--force", "nope"]),
            (true, &["delete", "nope"]),
            (true, &["delete", "--force", "nope"]),
            (true, &["delete", "-f", "nope"]),
        ] {
            if made {
                std::fs::create_dir_all(&state).unwrap();
            }
            let o = Command::new(runtime)
                .arg("--root")
                .arg(&state)
                .args(args)
                .output()
                .unwrap();
            out += &format!(
                "state dir made {made}: {} exit {}\n",
                args.join(" "),
                o.status.code().unwrap_or(-1)
            );
        }
        out
    };
    let want = "state dir made false: delete nope exit 1
state dir made false: delete --force nope exit 0
state dir made true: delete nope exit 1
state dir made true: delete --force nope exit 0
state dir made true: delete -f nope exit 0
";
    assert_eq!(codes(umbra(), "umbra"), want, "umbra");
    match find_on_path("runc") {
        Some(runc) => assert_eq!(codes(&runc, "runc"), want, "runc"),
        None => eprintln!("runc is not installed: umbra's answers not compared"),
    }
}

#[test]
fn deleting_a_created_container_kills_its_process() {
    same_as_runc(
        "created",
        &Cfg {
            script: "echo never",
            ..Cfg::default()
        },
        &["create", "state", "delete", "wait", "leftovers"],
        "create exit 0
pid file names a live process
state exit 0 status created pid matches
delete exit 0
container killed by signal 9
leftovers 0
--- output ---

",
    );
}

/// `umbra --root STATE --log FILE --log-format json run --bundle B ID`:
/// (exit code, stdout, stderr, log file).
fn run_oci(dir: &Path, b: &Path, id: &str) -> (i32, String, String, String) {
    let log = dir.join("log.json");
    let out = Command::new(umbra())
        .arg("--root")
        .arg(dir.join("state"))
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "run", "--bundle"])
        .arg(b)
        .arg(id)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

#[test]
fn run_applies_the_config_and_logs_what_it_ignores() {
    let dir = scratch("config");
    let rw = dir.join("rw");
    let ro = dir.join("ro");
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("f"), "read-only data\n").unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "10.0.0.1 db\n").unwrap();
    let mounts = format!(
        r#"{{"destination": "/data/rw", "type": "bind", "source": {rw}, "options": ["rbind", "rw"]}},
    {{"destination": "/data/ro", "type": "bind", "source": {ro}, "options": ["rbind", "ro"]}},
    {{"destination": "/etc/hosts", "type": "bind", "source": {hosts}, "options": ["rbind", "ro"]}},
    {{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}},
    {{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}}"#,
        rw = json_str(rw.to_str().unwrap()),
        ro = json_str(ro.to_str().unwrap()),
        hosts = json_str(hosts.to_str().unwrap()),
    );
    let script = "hostname; echo $GREETING; pwd; ulimit -n; ulimit -u; cat /etc/motd /data/ro/f /etc/hosts; \
        echo written > /data/rw/out && echo rw-ok; \
        touch /data/ro/x 2>/dev/null || echo ro-refused; \
        touch /newfile 2>/dev/null || echo root-refused; \
        echo t > /scratch/t && cat /scratch/t; \
        grep -c ' /scratch tmpfs' /proc/mounts; exit 4";
    let b = bundle(
        &dir,
        &Cfg {
            script,
            mounts: &mounts,
            extra: r#""annotations": {"org.example": "x"},"#,
            ..Cfg::default()
        },
    );
    let (code, out, err, log) = run_oci(&dir, &b, "cfg");
    assert_eq!(code, 4, "stdout:\n{out}\nstderr:\n{err}\nlog:\n{log}");
    assert_eq!(
        out,
        "oci-test\nhello\n/\n1024\n1024\nfrom the image\nread-only data\n10.0.0.1 db\nrw-ok\n\
         ro-refused\nroot-refused\nt\n1\n",
        "stderr:\n{err}"
    );
    assert_eq!(
        std::fs::read_to_string(rw.join("out")).unwrap(),
        "written\n"
    );
    assert!(!ro.join("x").exists());
    // The log holds runc's JSON lines for what umbra does not apply.
    for what in ["linux.maskedPaths", "linux.readonlyPaths", "type 'cgroup'"] {
        assert!(
            log.lines()
                .any(|l| l.starts_with("{\"level\":\"warning\",\"msg\":")
                    && l.contains(what)
                    && l.contains("\"time\":\"")),
            "no warning about {what} in the log:\n{log}"
        );
    }
    // `run` removes the container when it ends.
    assert!(!dir.join("state/cfg").exists());
}

#[test]
fn spec_features_and_errors() {
    let dir = scratch("spec");
    let st = |args: &[&str]| {
        let o = Command::new(umbra())
            .arg("--root")
            .arg(dir.join("state"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, _, err) = st(&["spec"]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert!(text.contains("\"ociVersion\": \"1.0.2\"") && text.contains("\"terminal\": true"));
    let (code, _, err) = st(&["spec"]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
    let (code, out, _) = st(&["features"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"ociVersionMax\""), "{out}");
    let (code, _, err) = st(&["state", "nope"]);
    assert_eq!(code, 1);
    // runc's words, which Podman looks for.
    assert!(
        err.contains("level=error msg=\"container does not exist\""),
        "{err}"
    );
    let (code, _, err) = st(&["kill", "nope", "KILL"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = st(&["kill", "nope", "NOSUCHSIG"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = st(&["create", "--bundle", "/nonexistent", "x"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = st(&["create", "--bundle", ".", "../escape"]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid container id"), "{err}");
    // A second create with the same id is refused.
    let b = bundle(&dir, &Cfg::default());
    let b = b.to_str().unwrap();
    // The supervisor keeps create's stdio (conmon's pipes): not ours to wait on.
    let created = Command::new(umbra())
        .arg("--root")
        .arg(dir.join("state"))
        .args(["create", "--bundle", b, "dup"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(created.success());
    let (code, _, err) = st(&["create", "--bundle", b, "dup"]);
    assert_eq!(code, 1);
    assert!(err.contains("container with id exists"), "{err}");
    assert_eq!(st(&["delete", "--force", "dup"]).0, 0);
    assert!(!dir.join("state/dup").exists());
}

#[test]
fn init_ignores_signals_it_sends_itself_without_a_handler() {
    same_as_runc(
        "selfsig",
        &Cfg {
            script: "kill -USR1 $$; kill -TERM $$; echo still here; trap 'echo usr2' USR2; kill -USR2 $$; exit 3",
            ..Cfg::default()
        },
        &["create", "start", "wait", "delete", "leftovers"],
        "create exit 0
pid file names a live process
start exit 0
container exited 3
delete exit 0
leftovers 0
--- output ---
still here
usr2

",
    );
}

#[test]
fn exec_runs_a_process_in_the_running_guest() {
    // The exec'd process sees the init's files (its /tmp is the guest's
    // own tmpfs, not the host's) and its exit code comes back; detached,
    // the pid file names a process whose status is the exec'd process's.
    same_as_runc(
        "exec",
        &Cfg {
            script: "echo inside > /tmp/marker; echo up; while true; do sleep 1; done",
            mounts: r#"{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}"#,
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            // Both on stderr: one fd keeps their order (runc's transcript
            // once had the stderr line first when they went to stdout and
            // stderr); the stdout path is the exec-detach step's.
            "exec:cat /tmp/marker >&2; echo to-stderr >&2; exit 6",
            "exec:nosuchprogram",
            "exec-detach:sleep 1; cat /tmp/marker; exit 9",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
exec exit 6 output inside|to-stderr|
exec exit 127 output sh: nosuchprogram: not found|
exec exit 0 output inside|
exec process exited 9
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up

",
    );
}

/// A state directory (`--root`) whose `ID/exec.sock` is longer than
/// sun_path's 108 bytes (dockerd's exec roots can be): create, exec and
/// delete work as with a short one (umbra's control socket is bound and
/// reached through its directory's fd, /proc/self/fd/N/exec.sock).
#[test]
fn a_state_directory_longer_than_sun_path_works() {
    let dir = scratch("long-root");
    let b = bundle(
        &dir,
        &Cfg {
            script: "echo up; while true; do sleep 1; done",
            ..Cfg::default()
        },
    );
    let steps = [
        "create",
        "start",
        "expect:up",
        "exec:echo in; exit 4",
        "kill:KILL",
        "wait",
        "delete",
        "leftovers",
    ];
    let want = "create exit 0
pid file names a live process
start exit 0
saw up
exec exit 4 output in|
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up

";
    let run = |runtime: &Path, tag: &str| {
        let state = dir.join(format!("{tag}-{}", "a-long-state-directory-name".repeat(4)));
        let sock = state.join(container_id(&dir, tag)).join("exec.sock");
        assert!(sock.as_os_str().len() > 108, "{}", sock.display());
        let out = Command::new(driver())
            .arg(runtime)
            .arg(&state)
            .arg(container_id(&dir, tag))
            .arg(&b)
            .args(steps)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        assert!(
            out.status.success(),
            "driver failed: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    assert_eq!(run(umbra(), "umbra"), want, "umbra's transcript");
    match find_on_path("runc") {
        Some(runc) => assert_eq!(run(&runc, "runc"), want, "runc's transcript"),
        None => eprintln!("runc is not installed: umbra's transcript not compared"),
    }
}

/// A network namespace `name` joined to the host by a veth pair, the host
/// end 10.213.`net`.1 and the namespace end 10.213.`net`.2; deleted on drop.
struct NetNs {
    name: String,
    host_if: String,
}

impl NetNs {
    fn new(name: &str, net: u8) -> Option<NetNs> {
        find_on_path("ip")?;
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        let host_if = format!("{name}a");
        let ns_if = format!("{name}b");
        let _ = ip(&["netns", "del", name]);
        let _ = ip(&["link", "del", &host_if]);
        let me = NetNs {
            name: name.to_string(),
            host_if: host_if.clone(),
        };
        let host_addr = format!("10.213.{net}.1/24");
        let ns_addr = format!("10.213.{net}.2/24");
        let ok = ip(&["netns", "add", name])
            && ip(&[
                "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
            ])
            && ip(&["link", "set", &ns_if, "netns", name])
            && ip(&["addr", "add", &host_addr, "dev", &host_if])
            && ip(&["link", "set", &host_if, "up"])
            && ip(&["-n", name, "addr", "add", &ns_addr, "dev", &ns_if])
            && ip(&["-n", name, "link", "set", &ns_if, "up"])
            && ip(&["-n", name, "link", "set", "lo", "up"]);
        ok.then_some(me)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// GET / from `addr`, retried for up to a minute while the server starts.
fn http_get(addr: &str) -> String {
    use std::io::{Read, Write};
    let t0 = std::time::Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
            let _ = s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
            let mut r = String::new();
            let _ = s.read_to_string(&mut r);
            if !r.is_empty() {
                return r;
            }
        }
        if t0.elapsed() > std::time::Duration::from_secs(60) {
            return String::from("(no answer)");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_listener_in_the_containers_network_namespace_is_reachable() {
    // The engine's network namespace (a path in linux.namespaces) is the
    // container's network: busybox httpd listening in the guest answers
    // on the namespace's address, as under runc.
    let net = (std::process::id() % 200) as u8 + 20;
    let name = format!("uo{}", std::process::id() % 100_000);
    let Some(ns) = NetNs::new(&name, net) else {
        eprintln!("cannot make a network namespace here (ip missing or not root): skipped");
        return;
    };
    let dir = scratch("netns");
    let extra = format!(r#""annotations": {{"netns": "/run/netns/{}"}},"#, ns.name);
    let b = bundle(
        &dir,
        &Cfg {
            script: "httpd -f -p 8080 -h /www",
            extra: &extra,
            ..Cfg::default()
        },
    );
    std::fs::create_dir_all(b.join("rootfs/www")).unwrap();
    std::fs::write(
        b.join("rootfs/www/index.html"),
        "hello from the container\n",
    )
    .unwrap();
    let _ = std::os::unix::fs::symlink("busybox", b.join("rootfs/bin/httpd"));
    // The namespace by path, instead of a new one.
    let config = std::fs::read_to_string(b.join("config.json")).unwrap();
    let config = config.replace(
        r#"{"type": "network"}"#,
        &format!(r#"{{"type": "network", "path": "/run/netns/{}"}}"#, ns.name),
    );
    std::fs::write(b.join("config.json"), config).unwrap();
    let mut runtimes = vec![umbra().to_path_buf()];
    runtimes.extend(find_on_path("runc"));
    for rt in runtimes {
        let state = dir.join(format!(
            "state-{}",
            rt.file_name().unwrap().to_string_lossy()
        ));
        let st = |args: &[&str]| {
            Command::new(&rt)
                .arg("--root")
                .arg(&state)
                .args(["--log", "/dev/null"])
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
        };
        assert!(
            st(&["run", "--detach", "--bundle", b.to_str().unwrap(), "web"]).success(),
            "{}: run --detach",
            rt.display()
        );
        let answer = http_get(&format!("10.213.{net}.2:8080"));
        assert!(st(&["delete", "--force", "web"]).success());
        assert!(
            answer.starts_with("HTTP/1.") && answer.contains("hello from the container"),
            "{}: {answer}",
            rt.display()
        );
    }
}

#[test]
fn process_user_is_the_init_s_user() {
    same_as_runc(
        "user",
        &Cfg {
            script: "id -u; id -g; id -G; cat /etc/motd; touch /proc/x 2>/dev/null || echo refused; echo up; while true; do sleep 1; done",
            user: r#"{"uid": 1000, "gid": 1000, "additionalGids": [10]}"#,
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "exec:id -u; id -G",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
exec exit 0 output 1000|1000 10|
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
1000
1000
1000 10
from the image
refused
up

",
    );
}

/// The Debian tree `images/debian/build.sh` caches (built on first use).
fn debian_tree() -> PathBuf {
    umbra_tests::debian_image_dir().join("tree")
}

#[test]
fn debian_tree_as_a_read_only_container_root() {
    // The dynamically linked Debian userland as the bundle's root (read
    // only, as the shared cache must stay unchanged), bash as init, and an
    // exec'd bash that sees the init's /tmp.
    let tree = debian_tree();
    let dir = scratch("debian");
    let b = bundle(
        &dir,
        &Cfg {
            script:
                "echo up; while [ ! -e /tmp/done ]; do sleep 0.2; done; echo init saw done; exit 3",
            mounts: r#"{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}"#,
            ..Cfg::default()
        },
    );
    let config = std::fs::read_to_string(b.join("config.json"))
        .unwrap()
        .replace(
            r#""path": "rootfs""#,
            &format!(r#""path": "{}""#, tree.display()),
        )
        .replace(r#""args": ["sh", "-c""#, r#""args": ["/bin/bash", "-c""#)
        .replace(r#""PATH=/bin""#, r#""PATH=/usr/sbin:/usr/bin:/sbin:/bin""#);
    std::fs::write(b.join("config.json"), config).unwrap();
    let steps = [
        "create",
        "start",
        "expect:up",
        "exec:. /etc/os-release; echo $ID $VERSION_CODENAME; bash -c 'echo $BASH_VERSION' | cut -c1; touch /tmp/done",
        "wait",
        "delete",
        "leftovers",
    ];
    let want = "create exit 0
pid file names a live process
start exit 0
saw up
exec exit 0 output debian bookworm|5|
container exited 3
delete exit 0
leftovers 0
--- output ---
up
init saw done

";
    let got = drive(umbra(), &dir, "umbra", &b, &steps);
    assert_eq!(got, want, "umbra's transcript");
    if let Some(runc) = find_on_path("runc") {
        let theirs = drive(&runc, &dir, "runc", &b, &steps);
        assert_eq!(theirs, want, "runc's transcript");
    }
}

#[test]
fn exec_tty_gives_the_process_a_terminal_of_its_own_as_runc() {
    // As conmon runs `podman exec -it`: the exec'd process's stdio are a
    // terminal (its name, its size as the engine set it on the master, the
    // echo of what is typed), its master comes over the console socket,
    // and the pid file's process reports its status.
    same_as_runc(
        "exectty",
        &Cfg {
            script: "echo up; while true; do sleep 1; done",
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "exec-tty:read x; echo got-$x; tty; busybox stty size; test -t 1 && echo out-is-a-tty; echo via-dev-tty >/dev/tty; exit 4",
            "exec-tty:read x; tty",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
exec console master received
exec exit 0
exec tty output hello|got-hello|/dev/pts/0|30 100|out-is-a-tty|via-dev-tty|
exec process exited 4
exec console master received
exec exit 0
exec tty output hello|/dev/pts/0|
exec process exited 0
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up

",
    );
}

#[test]
fn exec_tty_hang_up_signals_the_session_leader_as_runc() {
    // conmon closes an exec terminal's pty master: a pty hang-up. The
    // process leading the terminal's session gets SIGHUP and SIGCONT; then
    // reads of the terminal return 0, writes fail, /dev/tty (the session
    // has no controlling terminal now) cannot be opened, and the slave's
    // name /dev/pts/0 is gone.
    same_as_runc(
        "exechup",
        &Cfg {
            script: "echo up; while true; do sleep 1; done",
            mounts: r#"{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}"#,
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "exec-tty-hangup:trap 'echo got-HUP >>/tmp/h' HUP; trap 'echo got-CONT >>/tmp/h' CONT; echo ready; while ! test -s /tmp/h; do sleep 1; done; sleep 1; read x; echo read-$?-$x >>/tmp/h; echo out 2>/dev/null; echo write-$? >>/tmp/h; (: </dev/tty) 2>/dev/null; echo dev-tty-$? >>/tmp/h; test -e /dev/pts/0; echo pts-0-$? >>/tmp/h; exit 5",
            "exec:cat /tmp/h",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
exec console master received
exec exit 0
exec tty output ready|
exec process exited 5
exec exit 0 output got-HUP|got-CONT|read-1-|write-1|dev-tty-1|pts-0-1|
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up

",
    );
}

#[test]
fn console_hang_up_signals_the_init_as_runc() {
    // The engine closes the pty master of the container's own console
    // (process.terminal): the slave, the init's controlling terminal,
    // hangs up. The init, its session's leader, gets SIGHUP and SIGCONT;
    // then its reads of the terminal return 0, writes fail and /dev/tty
    // cannot be opened (the session has no controlling terminal now);
    // /dev/pts/0 is gone, and /dev/console (runc's bind mount of it) is
    // there but does not open.
    same_as_runc(
        "conhup",
        &Cfg {
            script: "trap 'echo got-HUP >>/tmp/h' HUP; trap 'echo got-CONT >>/tmp/h' CONT; echo up; i=0; while ! test -s /tmp/h && test $i -lt 60; do sleep 1; i=$((i+1)); done; sleep 1; read x; echo read-$?-$x >>/tmp/h; echo out 2>/dev/null; echo write-$? >>/tmp/h; (: </dev/tty) 2>/dev/null; echo dev-tty-$? >>/tmp/h; test -e /dev/pts/0; echo pts-0-$? >>/tmp/h; test -e /dev/console; echo console-$? >>/tmp/h; (: </dev/console) 2>/dev/null; echo open-console-$? >>/tmp/h; while true; do sleep 1; done",
            terminal: true,
            mounts: r#"{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}"#,
            ..Cfg::default()
        },
        &[
            "create-tty",
            "start",
            "expect:up",
            "close-console",
            "exec:i=0; while ! grep -q open-console /tmp/h 2>/dev/null && test $i -lt 90; do sleep 1; i=$((i+1)); done; cat /tmp/h",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "console master received
create exit 0
pid file names a live process
start exit 0
saw up
console closed
exec exit 0 output got-HUP|got-CONT|read-1-|write-1|dev-tty-1|pts-0-1|console-0|open-console-1|
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up

",
    );
}

#[test]
fn exec_forwards_the_signals_it_gets_as_runc() {
    // `runc exec` passes the signals it gets on to its process: a trap
    // runs (its exit code is exec's), and an unhandled TERM kills the
    // process, which `exec` in the foreground reports as 128 + 15.
    same_as_runc(
        "execsig",
        &Cfg {
            script: "echo up; while true; do sleep 1; done",
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "exec-signal:USR1:trap 'echo got-USR1; exit 3' USR1; echo ready; while true; do sleep 1; done",
            "exec-signal:TERM:echo ready; while true; do sleep 1; done",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
exec USR1 sent yes; exec exit 3 output ready|got-USR1|
exec TERM sent yes; exec exit 143 output ready|
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up

",
    );
}

#[test]
fn kill_all_signals_every_process_of_the_container_as_runc() {
    // `kill --all TERM` ends the init's child (the init itself, with no
    // handler, ignores it as a namespace's init does); `kill --all KILL`
    // ends everything.
    same_as_runc(
        "killall",
        &Cfg {
            // The shell's own report of the job ("Terminated") is not
            // written at the same point every time: its stderr is closed.
            script: "exec 2>/dev/null; sleep 1000 & p=$!; echo up; wait $p; echo wait-ended-$?; while true; do sleep 1; done",
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "kill-all:TERM",
            "expect:wait-ended-143",
            "state",
            "kill-all:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
kill --all TERM exit 0
saw wait-ended-143
state exit 0 status running pid matches
kill --all KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up
wait-ended-143

",
    );
}

/// `cfg`'s bundle with the guest program `segv` (tests/guest/segv.c) as
/// /bin/segv.
fn segv_bundle(dir: &Path, c: &Cfg<'_>) -> PathBuf {
    let b = bundle(dir, c);
    let prog = umbra_tests::guest_dir().join("musl/segv");
    std::fs::copy(prog, b.join("rootfs/bin/segv")).unwrap();
    b
}

#[test]
fn an_init_killed_by_a_fault_is_reaped_as_killed_by_it_as_runc() {
    // The pid file's process dies of the signal that ended the init
    // (SIGSEGV here, which umbra's supervisor could not raise before: it
    // exited 139), as a runc container's init is reaped.
    let dir = scratch("segv");
    let c = Cfg {
        script: "echo up; exec /bin/segv",
        ..Cfg::default()
    };
    let b = segv_bundle(&dir, &c);
    let steps = ["create", "start", "wait", "delete", "leftovers"];
    let want = "create exit 0
pid file names a live process
start exit 0
container killed by signal 11
delete exit 0
leftovers 0
--- output ---
up
about to write to address 16

";
    let got = drive(umbra(), &dir, "umbra", &b, &steps);
    assert_eq!(got, want, "umbra's transcript");
    match find_on_path("runc") {
        Some(runc) => assert_eq!(drive(&runc, &dir, "runc", &b, &steps), want),
        None => eprintln!("runc is not installed: umbra's transcript not compared"),
    }
}

#[test]
fn pause_freezes_every_process_until_resume_as_runc() {
    // While paused, the state says so, a signal waits (the init's trap
    // does not run) and exec is refused; after resume the trap runs.
    same_as_runc(
        "pause",
        &Cfg {
            script: "trap 'echo got-USR1' USR1; echo up; while true; do sleep 0.1; done",
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "pause",
            "state",
            "kill:USR1",
            "absent:got-USR1",
            "exec:echo in-exec",
            "pause",
            "resume",
            "state",
            "expect:got-USR1",
            "resume",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
pause exit 0
state exit 0 status paused pid matches
kill USR1 exit 0
absent got-USR1
exec exit 255 output exec failed: cannot exec in a paused container (use --ignore-paused to override)|
pause exit 1
resume exit 0
state exit 0 status running pid matches
saw got-USR1
resume exit 1
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up
got-USR1

",
    );
}

#[test]
fn update_pids_limit_and_events_stats_as_runc() {
    // linux.resources.pids.limit is the limit; `update --pids-limit`
    // changes it live (0 leaves it, -1 lifts it), as `update --resources
    // FILE` does; `events --stats` reports the tasks, the limit, the
    // memory limit and usage, and CPU time. The init and its sleep are 2
    // tasks: at a limit of 3 the init's USR1 trap can fork, at 2 it
    // cannot (and sh exits 2). The forks are the init's own: runc's exec
    // (a Go program) needs tasks of its own in the limit.
    let res = umbra_tests::target_dir()
        .join("oci-tests")
        .join(format!("resources-{}.json", std::process::id()));
    std::fs::write(&res, r#"{"pids": {"limit": 5}, "cpu": {"shares": 0}}"#).unwrap();
    let update_res = format!("update:--resources {}", res.display());
    same_as_runc(
        "update",
        &Cfg {
            script: "n=0; trap 'n=$((n+1)); busybox true && echo forked-$n' USR1; sleep 100000 & echo up; while true; do wait; done",
            resources: r#"{"pids": {"limit": 100}, "memory": {"limit": 268435456}}"#,
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "events",
            "update:--pids-limit 3",
            "events",
            "kill:USR1",
            "expect:forked-1",
            "update:--pids-limit 0",
            "events",
            &update_res,
            "events",
            "update:--pids-limit -1",
            "events",
            "kill:USR1",
            "expect:forked-2",
            "update:--pids-limit 2",
            "kill:USR1",
            "wait",
            "delete",
            "leftovers",
        ],
        &"create exit 0
pid file names a live process
start exit 0
saw up
events exit 0 stats yes id ok cpu >0 memory limit 268435456 usage >0 pids 2 limit 100
update --pids-limit 3 exit 0
events exit 0 stats yes id ok cpu >0 memory limit 268435456 usage >0 pids 2 limit 3
kill USR1 exit 0
saw forked-1
update --pids-limit 0 exit 0
events exit 0 stats yes id ok cpu >0 memory limit 268435456 usage >0 pids 2 limit 3
update --resources RES exit 0
events exit 0 stats yes id ok cpu >0 memory limit 268435456 usage >0 pids 2 limit 5
update --pids-limit -1 exit 0
events exit 0 stats yes id ok cpu >0 memory limit 268435456 usage >0 pids 2 limit -1
kill USR1 exit 0
saw forked-2
update --pids-limit 2 exit 0
kill USR1 exit 0
container exited 2
delete exit 0
leftovers 0
--- output ---
up
forked-1
forked-2
sh: can't fork: Resource temporarily unavailable

"
        .replace("RES", &res.display().to_string()),
    );
}

#[test]
fn update_says_what_it_ignores_and_events_needs_a_live_container() {
    // What umbra cannot apply (the memory size is fixed at create; no CPU
    // shares) is said on stderr, and the pids limit is still applied;
    // a created container takes `update` too (runc's does).
    let dir = scratch("update-ignored");
    let b = bundle(
        &dir,
        &Cfg {
            script: "sleep 100000 & echo up; wait",
            ..Cfg::default()
        },
    );
    let got = drive(
        umbra(),
        &dir,
        "umbra",
        &b,
        &[
            "create",
            "update-err:--pids-limit 50",
            "start",
            "expect:up",
            "update-err:--memory 100m --cpu-share 512 --pids-limit 50",
            "events",
            "kill:KILL",
            "wait",
            "events",
            "delete",
        ],
    );
    let want = "create exit 0
pid file names a live process
update --pids-limit 50 exit 0 stderr 
start exit 0
saw up
update --memory 100m --cpu-share 512 --pids-limit 50 exit 0 stderr update: memory.limit 104857600 ignored: umbra's guest memory is a memory file whose size is fixed when the container is created|update: cpu.shares ignored: umbra has no equivalent|
events exit 0 stats yes id ok cpu >0 memory limit 1073741824 usage >0 pids 2 limit 50
kill KILL exit 0
container killed by signal 9
events exit 1 stats no id bad cpu none memory limit -1 usage none pids -1 limit -1
delete exit 0
--- output ---
up

";
    let id = container_id(&dir, "umbra");
    assert_eq!(got.replace(&id, "ID"), want);
}

#[test]
fn file_bind_mounts_are_live_views_of_the_host_files_as_runc() {
    // A bind mount of one file (as engines mount /etc/hosts) is the host
    // file itself: the guest reads what the host wrote after start, writes
    // through a rw one reach the host, a ro one refuses them, and the
    // mount point can be neither removed nor renamed.
    let base = umbra_tests::target_dir()
        .join("oci-tests")
        .join(format!("filemount-src-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let (greeting, data) = (base.join("greeting"), base.join("data"));
    std::fs::write(&greeting, "v1\n").unwrap();
    std::fs::write(&data, "").unwrap();
    let mounts = format!(
        r#"{{"destination": "/etc/greeting", "type": "bind", "source": {g}, "options": ["rbind", "ro"]}},
    {{"destination": "/data/f", "type": "bind", "source": {d}, "options": ["rbind", "rw"]}}"#,
        g = json_str(greeting.to_str().unwrap()),
        d = json_str(data.to_str().unwrap()),
    );
    let (g, d) = (greeting.display(), data.display());
    let steps: Vec<String> = vec![
        // The same starting files for each runtime's run.
        format!("host-write:{g}=v1"),
        format!("host-write:{d}="),
        "create".into(),
        "start".into(),
        "expect:up".into(),
        "exec:cat /etc/greeting".into(),
        format!("host-write:{g}=v2, changed on the host"),
        "exec:cat /etc/greeting; busybox stat -c '%s %F' /etc/greeting".into(),
        "exec:echo x > /etc/greeting".into(),
        "exec:echo from-guest > /data/f; cat /data/f".into(),
        format!("host-read:{d}"),
        "exec:rm /etc/greeting 2>&1; mv /data/f /data/g 2>&1; cat /etc/greeting /data/f".into(),
        "kill:KILL".into(),
        "wait".into(),
        "delete".into(),
    ];
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    same_as_runc(
        "filemount",
        &Cfg {
            script: "echo up; while true; do sleep 1; done",
            readonly: false,
            mounts: &mounts,
            ..Cfg::default()
        },
        &steps,
        "host wrote ok
host wrote ok
create exit 0
pid file names a live process
start exit 0
saw up
exec exit 0 output v1|
host wrote ok
exec exit 0 output v2, changed on the host|24 regular file|
exec exit 1 output sh: can't create /etc/greeting: Read-only file system|
exec exit 0 output from-guest|
host read from-guest|
exec exit 0 output rm: can't remove '/etc/greeting': Device or resource busy|mv: can't rename '/data/f': Device or resource busy|v2, changed on the host|from-guest|
kill KILL exit 0
container killed by signal 9
delete exit 0
--- output ---
up

",
    );
}

#[test]
fn ps_lists_the_containers_host_processes_as_runc() {
    // runc's `ps --format json` is the host pids of the container's
    // processes and `ps` the host's `ps -ef` lines of them. umbra's host
    // processes are its supervisor (the pid file's) and its stubs; the
    // guest's own pids are the guest kernel's (`exec ID ps` shows them).
    same_as_runc(
        "ps",
        &Cfg {
            // Nothing forks or execs while `ps` looks: "up" once the child
            // runs sleep.
            script:
                "sleep 1000 & p=$!; until grep -q 1000 /proc/$p/cmdline; do :; done; echo up; wait",
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "ps",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
ps json exit 0 array yes holds the pid file's yes
ps table exit 0 header yes, a line for each pid yes
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up

",
    );
}

#[test]
fn a_busy_container_takes_exec_kill_and_pause_as_runc() {
    // The init spins without a syscall: umbra's guest kernel never idles,
    // yet exec, kill and pause (which reach it through its control socket)
    // are served.
    same_as_runc(
        "busy",
        &Cfg {
            script: "trap 'echo got-USR1' USR1; echo up; while true; do :; done",
            ..Cfg::default()
        },
        &[
            "create",
            "start",
            "expect:up",
            "exec:echo in-exec",
            "kill:USR1",
            "expect:got-USR1",
            "pause",
            "state",
            "resume",
            "state",
            "kill:KILL",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
start exit 0
saw up
exec exit 0 output in-exec|
kill USR1 exit 0
saw got-USR1
pause exit 0
state exit 0 status paused pid matches
resume exit 0
state exit 0 status running pid matches
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
up
got-USR1

",
    );
}

#[test]
fn mountinfo_fields_as_runc() {
    // /proc/self/mountinfo and /proc/self/mounts in a container, the
    // fields umbra and runc can share: each mount's per-mount options (the
    // config's nosuid, noexec, strictatime; relatime by default; ro of a
    // read-only root and bind mount), and for the filesystems both have
    // (proc, tmpfs) the type, source and filesystem options (a tmpfs's
    // size, mode and uid). Not compared: the root's and the bind mount's
    // type and source (a host directory: hostfs under umbra, the host's
    // block device under runc), /dev's size (umbra's devfs has no limit),
    // /sys's ro (umbra keeps read-only per filesystem) and /dev/pts, which
    // is no mount of its own under umbra.
    let shared = target_dir()
        .join("oci-tests")
        .join(format!("mi-shared-{}", std::process::id()));
    std::fs::create_dir_all(&shared).unwrap();
    let mounts = format!(
        r#"{{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}},
    {{"destination": "/scratch", "type": "tmpfs", "source": "scr", "options": ["size=1m", "mode=700", "uid=5", "noexec"]}},
    {{"destination": "/data", "type": "bind", "source": {src}, "options": ["rbind", "ro", "nosuid"]}}"#,
        src = json_str(shared.to_str().unwrap()),
    );
    let script = r#"while read id parent mm root point opts rest; do
  t=${rest#*- }; fstype=${t%% *}; super=${t##* }
  case $point in
    /|/data) echo "$point $opts" ;;
    /proc|/tmp|/scratch) echo "$point $opts $fstype $super" ;;
    /dev) echo "$point $opts $fstype" ;;
    /sys) echo "$point $fstype" ;;
  esac
done < /proc/self/mountinfo | busybox sort
grep -E ' /(proc|tmp|scratch) ' /proc/self/mounts | busybox sort"#;
    same_as_runc(
        "mountinfo",
        &Cfg {
            script,
            mounts: &mounts,
            ..Cfg::default()
        },
        &["create", "start", "wait", "delete", "leftovers"],
        "create exit 0
pid file names a live process
start exit 0
container exited 0
delete exit 0
leftovers 0
--- output ---
/ ro,relatime
/data ro,nosuid,relatime
/dev rw,nosuid tmpfs
/proc rw,relatime proc rw
/scratch rw,noexec,relatime tmpfs rw,size=1024k,mode=700,uid=5
/sys sysfs
/tmp rw,relatime tmpfs rw
proc /proc proc rw,relatime 0 0
scr /scratch tmpfs rw,noexec,relatime,size=1024k,mode=700,uid=5 0 0
tmpfs /tmp tmpfs rw,relatime 0 0

",
    );
    let _ = std::fs::remove_dir_all(&shared);
}

#[test]
fn checkpoint_and_restore_fail_plainly() {
    // runc checkpoints through CRIU; umbra cannot save a guest's state, so
    // both commands fail with a message saying so, leave the container as
    // it was, and `features` claims nothing of them.
    let dir = scratch("checkpoint");
    let b = bundle(
        &dir,
        &Cfg {
            script: "echo never",
            ..Cfg::default()
        },
    );
    let st = |args: &[&str]| {
        let o = Command::new(umbra())
            .arg("--root")
            .arg(dir.join("state"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let created = Command::new(umbra())
        .arg("--root")
        .arg(dir.join("state"))
        .args(["create", "--bundle", b.to_str().unwrap(), "ck"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(created.success());
    for cmd in ["checkpoint", "restore"] {
        let (code, out, err) = st(&[cmd, "ck"]);
        assert_eq!(code, 1, "{cmd}: {out}{err}");
        assert!(
            err.contains(&format!("{cmd} is not supported by umbra")),
            "{cmd}: {err}"
        );
    }
    let (code, out, _) = st(&["state", "ck"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"status\": \"created\""), "{out}");
    let (_, out, _) = st(&["features"]);
    assert!(
        !out.contains("checkpoint") && !out.contains("criu"),
        "{out}"
    );
    assert_eq!(st(&["delete", "--force", "ck"]).0, 0);
}

#[test]
fn update_and_events_of_a_created_container_as_runc() {
    // runc takes `update` and `events` before `start`; a pids limit set
    // then is the one the container starts with. The init and its sleep
    // are 2 tasks: at a limit of 2 the init's USR1 trap cannot fork.
    same_as_runc(
        "update-created",
        &Cfg {
            script: "trap 'busybox true && echo forked' USR1; sleep 100000 & echo up; while true; do wait; done",
            resources: r#"{"pids": {"limit": 100}, "memory": {"limit": 268435456}}"#,
            ..Cfg::default()
        },
        &[
            "create",
            "update:--pids-limit 2",
            "state",
            "start",
            "expect:up",
            "kill:USR1",
            "wait",
            "delete",
            "leftovers",
        ],
        "create exit 0
pid file names a live process
update --pids-limit 2 exit 0
state exit 0 status created pid matches
start exit 0
saw up
kill USR1 exit 0
container exited 2
delete exit 0
leftovers 0
--- output ---
up
sh: can't fork: Resource temporarily unavailable

",
    );
}

#[test]
fn events_of_a_created_container_are_its_limits_and_no_use_yet() {
    // Before `start` umbra's guest has no task and has used no memory
    // (runc's created container already holds its runc-init process, so
    // the figures cannot be compared); the limits are the config's and an
    // update's, and the supervisor's host CPU time counts. Once running,
    // the memory's high-water mark is at least the usage and no
    // allocation has failed.
    let dir = scratch("events-created");
    let b = bundle(
        &dir,
        &Cfg {
            script: "echo up; while true; do sleep 1; done",
            resources: r#"{"pids": {"limit": 100}, "memory": {"limit": 268435456}}"#,
            ..Cfg::default()
        },
    );
    let got = drive(
        umbra(),
        &dir,
        "umbra",
        &b,
        &[
            "create",
            "events",
            "update:--pids-limit 7",
            "events",
            "kill:KILL",
            "wait",
            "delete",
        ],
    );
    assert_eq!(
        got,
        "create exit 0
pid file names a live process
events exit 0 stats yes id ok cpu >0 memory limit 268435456 usage none pids 0 limit 100
update --pids-limit 7 exit 0
events exit 0 stats yes id ok cpu >0 memory limit 268435456 usage none pids 0 limit 7
kill KILL exit 0
container killed by signal 9
delete exit 0
--- output ---

"
    );
    // The new members, read directly from a running container.
    let state = dir.join("state-max");
    let id = container_id(&dir, "max");
    let run = |args: &[&str]| {
        Command::new(umbra())
            .arg("--root")
            .arg(&state)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap()
    };
    let b_s = b.to_str().unwrap();
    // The detached supervisor keeps run's stdio: not ours to wait on.
    let started = Command::new(umbra())
        .arg("--root")
        .arg(&state)
        .args(["run", "--detach", "--bundle", b_s, &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(started.success());
    let out = run(&["events", "--stats", &id]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("\"memory\":{\"usage\":{\"limit\":268435456,\"usage\":"),
        "{text}"
    );
    let mem = &text[text.find("\"memory\"").unwrap()..];
    let num_after = |key: &str| -> u64 {
        let at = mem.find(key).unwrap_or_else(|| panic!("no {key} in {mem}"));
        mem[at + key.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {mem}"))
    };
    let (usage, max, failcnt) = (
        num_after("\"usage\":{\"limit\":268435456,\"usage\":"),
        num_after("\"max\":"),
        num_after("\"failcnt\":"),
    );
    assert!(usage > 0 && max >= usage && failcnt == 0, "{text}");
    assert!(!text.contains("percpu") && !text.contains("swap"), "{text}");
    assert!(run(&["delete", "--force", &id]).status.success());
}

#[test]
fn no_dev_console_without_a_terminal_as_runc() {
    // runc makes /dev/console only for process.terminal (the console's
    // pty slave bound on it): without one there is none (a write to the
    // name makes a plain file in /dev's tmpfs), and the stdio are the
    // engine's pipes, reachable through /dev/stdin and /dev/stdout.
    same_as_runc(
        "noconsole",
        &Cfg {
            script: "test -e /dev/console || echo no-console; test -t 0 || echo stdin-not-a-tty; \
                     cat /dev/stdin; echo via-dev-stdout >/dev/stdout; echo x >/dev/console; \
                     test -f /dev/console && echo plain-file",
            ..Cfg::default()
        },
        &["create", "start", "wait", "delete", "leftovers"],
        "create exit 0
pid file names a live process
start exit 0
container exited 0
delete exit 0
leftovers 0
--- output ---
no-console
stdin-not-a-tty
via-dev-stdout
plain-file

",
    );
}

/// `notty PROG ARGS...`: gives up the controlling terminal with TIOCNOTTY
/// (as the session leader: its foreground group gets SIGHUP and SIGCONT,
/// counted by a handler), says so, and execs PROG.
const NOTTY_C: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>
static volatile sig_atomic_t hup, cont;
static void on(int s) { if (s == SIGHUP) hup++; else cont++; }
int main(int argc, char **argv) {
	signal(SIGHUP, on);
	signal(SIGCONT, on);
	int r = ioctl(0, TIOCNOTTY);
	printf("notty %d hup %d cont %d\n", r, (int)hup, (int)cont);
	fflush(stdout);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCONT, SIG_DFL);
	if (argc > 1)
		execv(argv[1], argv + 1);
	return 127;
}
"#;

#[test]
fn console_hang_up_after_tiocnotty_signals_nobody_as_runc() {
    // The init gives its terminal up with TIOCNOTTY (its group gets SIGHUP
    // and SIGCONT then); when the engine later closes the console's pty
    // master, the session has no controlling terminal any more: no SIGHUP
    // or SIGCONT comes (Linux's tty_signal_session_leader finds no
    // session), and reads of the hung-up terminal return 0.
    let dir = scratch("notty");
    let b = bundle(
        &dir,
        &Cfg {
            script: "exec /bin/notty /bin/sh /bin/inner.sh",
            terminal: true,
            mounts: r#"{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}"#,
            ..Cfg::default()
        },
    );
    let root = b.join("rootfs");
    std::fs::write(
        root.join("bin/inner.sh"),
        "trap 'echo got-HUP >>/tmp/h' HUP; trap 'echo got-CONT >>/tmp/h' CONT; echo ready; \
         read x; echo read-$? >>/tmp/h; sleep 2; echo done >>/tmp/h; while true; do sleep 1; done\n",
    )
    .unwrap();
    let src = dir.join("notty.c");
    std::fs::write(&src, NOTTY_C).unwrap();
    let cc = find_on_path("gcc")
        .or_else(|| find_on_path("cc"))
        .expect("no C compiler");
    let r = Command::new(cc)
        .args(["-static", "-O2", "-o"])
        .arg(root.join("bin/notty"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let steps = [
        "create-tty",
        "start",
        "expect:ready",
        "close-console",
        "exec:i=0; while ! grep -q done /tmp/h 2>/dev/null && test $i -lt 90; do sleep 1; i=$((i+1)); done; cat /tmp/h",
        "kill:KILL",
        "wait",
        "delete",
        "leftovers",
    ];
    let want = "console master received
create exit 0
pid file names a live process
start exit 0
saw ready
console closed
exec exit 0 output read-1|done|
kill KILL exit 0
container killed by signal 9
delete exit 0
leftovers 0
--- output ---
notty 0 hup 1 cont 1
ready

";
    let got = drive(umbra(), &dir, "umbra", &b, &steps);
    assert_eq!(got.replace('\r', ""), want, "umbra's transcript");
    match find_on_path("runc") {
        Some(runc) => {
            let theirs = drive(&runc, &dir, "runc", &b, &steps);
            assert_eq!(theirs.replace('\r', ""), want, "runc's transcript");
        }
        None => eprintln!("runc is not installed: umbra's transcript not compared"),
    }
}
