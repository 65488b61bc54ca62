//! Helpers for the end-to-end tests: build the `umbra` binary, the static C
//! guest programs (musl and glibc) and the test initrd, run one program both
//! natively and under `umbra run`, and compare the two runs.
//!
//! A native run and an umbra run are set up to see the same world:
//! - argv is the same, argv[0] included: the guest path, such as
//!   `/tests/musl/hello` (natively that path is only a name; the binary run is
//!   the host copy under `target/guest/`).
//! - The environment is exactly `PATH=/bin`.
//! - The working directory is a fresh copy of [`DATA_TREE`]: `/data` in the
//!   guest, a directory named `data` under `target/e2e/` natively.
//! - umask is 022, and stdin is the same kind of file (`/dev/null` or a pipe),
//!   stdout and stderr are pipes.
//! - Only fds 0, 1 and 2 are open. The host that runs the tests may leak other
//!   descriptors into it (fds 10 and 251 have been seen), and std cannot close
//!   them without unsafe code, so native programs are started through a tiny
//!   python3 launcher ([`NATIVE_LAUNCHER`]) that closes every fd from 3 up,
//!   resets every signal to its default action with an empty mask (python
//!   ignores SIGPIPE and SIGXFSZ; a CI runner may start the tests with SIGINT
//!   or SIGQUIT ignored, as a shell does for background jobs, and ignored
//!   signals survive exec) and execs the program, so the guest under umbra
//!   and the native run start alike.
//!
//! Missing tools (musl-gcc, gcc, busybox-static, python3) make a test fail
//! with a message naming the Debian package, never skip it: CI installs them.

#[path = "initrd.rs"]
pub mod initrd;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use initrd::Initrd;

/// The static C programs under `tests/guest/`, by file stem.
pub const GUEST_PROGRAMS: &[&str] = &[
    "hello",
    "args_env",
    "files",
    "mem",
    "segv",
    "int80",
    "time_rand",
    "ioctl_tty",
    "sigrecord",
    "paths",
    "locks",
    "mm_shared",
    "mm_limits",
    "fileio",
    "filemap",
    "filemap_share",
    "copyio",
    "lowmem",
];

/// The static C programs of the process, signal, pipe, timer and poll tests
/// (`tests/e2e_proc.rs`), built and put in the initrd like
/// [`GUEST_PROGRAMS`].
pub const PROC_PROGRAMS: &[&str] = &[
    "proc_fork_exec_wait",
    "proc_pipes",
    "proc_signals",
    "proc_sigframe",
    "proc_timers",
    "proc_poll",
    "proc_jobs",
    "pipes2",
    "net_inet",
    "futex",
    "procctl",
    "procfs_live",
    "sched_time",
    "sched_sig",
    "sched_timers",
    "ipc_shm",
    "ipc_sem",
    "ipc_msg",
    "ipc_mq",
    "ipc_thr",
    "vdso",
    "startup_calls",
    "threads",
    "threads_hostile",
    "ev_epoll",
    "net_unix",
    "ev_evfd",
    "thread_switch",
    "ev_inotify",
    "hostnet",
    "proc_net",
    "net_edge",
    "paper_probe",
    "device_parts",
    "cputime_hog",
    "vfork_threads",
    "tty_ctty",
    "net_async",
    "net_tcpclose",
    "net_tcpasync",
    "net_tcpstate",
    "net_rcvlowat",
    "net_inherit",
    "net_recvflags",
    "mountinfo",
    "tmpfs_limit",
    "stats_snapshot",
    "pty_unix98",
    "pty_ctl",
];

/// The test initrd's /etc/hosts and /etc/host.conf (Debian's: every
/// address of a name, not only the first).
pub const GUEST_NAME_FILES: [(&str, &str); 2] = [
    ("/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"),
    ("/etc/host.conf", "multi on\n"),
];

/// Where the busybox sh scripts of `tests/scripts/` are in the initrd.
pub const SCRIPTS_DIR: &str = "/tests/scripts";

/// The host directory holding the busybox sh scripts (`tests/scripts/`).
pub fn scripts_src_dir() -> PathBuf {
    workspace_root().join("tests/scripts")
}

/// One node of the test data tree.
#[derive(Clone, Copy, Debug)]
pub enum DataNode {
    /// A directory (mode 0755).
    Dir,
    /// A regular file (mode 0644) with these contents.
    File(&'static str),
    /// A symbolic link to this target.
    Symlink(&'static str),
}

/// The tree under `/data` that `files.c` and the busybox tests work on,
/// parents before children. `files.c` prints its listings, so changing this
/// changes that program's expected output (which is always the native one).
pub const DATA_TREE: &[(&str, DataNode)] = &[
    ("hello.txt", DataNode::File("hello, file\n")),
    ("link", DataNode::Symlink("hello.txt")),
    ("sub", DataNode::Dir),
    ("sub/a.txt", DataNode::File("alpha\n")),
    ("sub/b.txt", DataNode::File("bravo\n")),
    ("empty", DataNode::Dir),
];

/// A text file in the initrd outside `/data` that is not an ELF binary but is
/// marked executable, for the exec-failure test.
pub const NOT_ELF: &str = "/tests/not_elf";

/// How long one run may take before it is killed and the test fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The python3 program that starts native runs; see the module doc.
/// Arguments: PATH NENV K=V... ARGV0 ARGS...
pub const NATIVE_LAUNCHER: &str = "\
import os, signal, sys
os.closerange(3, 1 << 20)
for s in range(1, signal.NSIG):
    if s not in (signal.SIGKILL, signal.SIGSTOP):
        try:
            signal.signal(s, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
signal.pthread_sigmask(signal.SIG_SETMASK, [])
os.umask(0o022)
n = int(sys.argv[2])
env = dict(kv.split('=', 1) for kv in sys.argv[3:3 + n])
os.execve(sys.argv[1], sys.argv[3 + n:], env)
";

/// The C library a guest program is linked with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Libc {
    /// `musl-gcc -static`
    Musl,
    /// `gcc -static` (glibc)
    Glibc,
}

impl Libc {
    /// Both, in the order the tests use.
    pub const ALL: [Libc; 2] = [Libc::Musl, Libc::Glibc];

    /// The directory name under `target/guest/` and `/tests/` in the initrd.
    pub fn name(self) -> &'static str {
        match self {
            Libc::Musl => "musl",
            Libc::Glibc => "glibc",
        }
    }

    fn compiler(self) -> &'static str {
        match self {
            Libc::Musl => "musl-gcc",
            Libc::Glibc => "gcc",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Libc::Musl => "musl-tools",
            Libc::Glibc => "gcc and libc6-dev",
        }
    }
}

/// The workspace root (the parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Finds `tool` on PATH or panics naming the package that provides it.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    find_on_path(tool).unwrap_or_else(|| {
        panic!(
            "`{tool}` not found on PATH: install {package} \
             (`cargo xtask setup` does it on Debian)"
        )
    })
}

/// The first executable `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The `umbra` binary under test: `$UMBRA_BIN` if set (e.g. a release
/// build), else the debug build, made once per test process with
/// `cargo build -p umbra-shim`.
pub fn umbra() -> &'static Path {
    static UMBRA: OnceLock<PathBuf> = OnceLock::new();
    UMBRA.get_or_init(|| {
        if let Some(bin) = std::env::var_os("UMBRA_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "umbra-shim"])
            .current_dir(workspace_root())
            .status()
            .expect("cannot run cargo");
        assert!(status.success(), "`cargo build -p umbra-shim` failed");
        let bin = target_dir().join("debug/umbra");
        assert!(bin.is_file(), "{} missing after the build", bin.display());
        bin
    })
}

/// Builds every guest program with both C libraries into
/// `target/guest/{musl,glibc}/NAME` and returns `target/guest`. Done once per
/// test process, and like make: a binary newer than its source, the shared
/// headers and this file is kept, so the thirty-odd test binaries of one
/// `cargo test` do not each rebuild the same programs. The two C libraries'
/// builds run side by side.
pub fn guest_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = target_dir().join("guest");
        let src = workspace_root().join("tests/guest");
        // What every program depends on beside its own source: the shared
        // headers, and this file (which holds the compiler flags).
        let mut common = vec![workspace_root().join("tests/lib.rs")];
        if let Ok(dir) = std::fs::read_dir(&src) {
            common.extend(
                dir.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "h")),
            );
        }
        let common_mtime = common.iter().filter_map(|p| mtime(p)).max();
        std::thread::scope(|scope| {
            for libc in Libc::ALL {
                let (out, src, common_mtime) = (&out, &src, common_mtime);
                scope.spawn(move || build_guest_programs(libc, out, src, common_mtime));
            }
        });
        out
    })
}

fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn build_guest_programs(
    libc: Libc,
    out: &Path,
    src: &Path,
    common_mtime: Option<std::time::SystemTime>,
) {
    let cc = require_tool(libc.compiler(), libc.package());
    let dir = out.join(libc.name());
    std::fs::create_dir_all(&dir).expect("create target/guest");
    for name in GUEST_PROGRAMS.iter().chain(PROC_PROGRAMS) {
        let bin = dir.join(name);
        let source = src.join(format!("{name}.c"));
        let fresh = match (mtime(&bin), mtime(&source)) {
            (Some(built), Some(edited)) => {
                built >= edited && common_mtime.is_none_or(|c| built >= c)
            }
            _ => false,
        };
        if fresh {
            continue;
        }
        // Built under a temporary name and renamed, so a concurrent
        // test process never runs a half-written binary.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let result = Command::new(&cc)
            .args(["-static", "-O2", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&source)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", cc.display()));
        assert!(
            result.status.success(),
            "{} -static failed for {name}.c:\n{}",
            libc.compiler(),
            String::from_utf8_lossy(&result.stderr)
        );
        std::fs::rename(&tmp, &bin).expect("rename guest binary");
    }
}

pub fn guest_binary(libc: Libc, name: &str) -> PathBuf {
    guest_dir().join(libc.name()).join(name)
}

/// The busybox to put in the initrd and to compare with: Debian's
/// busybox-static. Panics if it is missing or dynamically linked.
pub fn busybox() -> &'static Path {
    static BB: OnceLock<PathBuf> = OnceLock::new();
    BB.get_or_init(|| {
        let bb = PathBuf::from(initrd::BUSYBOX);
        let bytes = std::fs::read(&bb).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: install busybox-static (`cargo xtask setup`)",
                bb.display()
            )
        });
        assert!(
            !has_interp(&bytes),
            "{} is dynamically linked: install busybox-static instead of busybox",
            bb.display()
        );
        bb
    })
}

/// Whether a 64-bit little-endian ELF file has a PT_INTERP program header.
fn has_interp(elf: &[u8]) -> bool {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    if elf.get(..5) != Some(b"\x7fELF\x02") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum as usize).any(|i| {
        let at = phoff as usize + i * phentsize as usize;
        elf.get(at..at + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

/// The test initrd, built once per test process at `target/guest/test.cpio`:
/// [`initrd::busybox_root`], plus `/tests/{musl,glibc}/*`, [`NOT_ELF`] and
/// [`DATA_TREE`] under `/data`.
pub fn test_initrd() -> &'static Path {
    static RD: OnceLock<PathBuf> = OnceLock::new();
    RD.get_or_init(|| {
        let mut rd = initrd::busybox_root(busybox()).expect("busybox root");
        // The guest's own name files (tests/e2e_inet.rs gives native runs
        // the same ones).
        for (path, text) in GUEST_NAME_FILES {
            rd.file(&path[1..], 0o644, text);
        }
        for libc in Libc::ALL {
            for name in GUEST_PROGRAMS.iter().chain(PROC_PROGRAMS) {
                let path = format!("tests/{}/{name}", libc.name());
                rd.copy(&path, &guest_binary(libc, name))
                    .expect("guest binary");
            }
        }
        if let Ok(dir) = std::fs::read_dir(scripts_src_dir()) {
            for entry in dir.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".sh") {
                    let data = std::fs::read(entry.path()).expect("read script");
                    rd.file(&format!("{SCRIPTS_DIR}/{name}"), 0o755, data);
                }
            }
        }
        rd.file(NOT_ELF, 0o755, "this is text, not an ELF file\n");
        add_data_tree(&mut rd, "data");
        let path = guest_dir().join("test.cpio");
        let tmp = guest_dir().join(format!(".test.cpio.{}", std::process::id()));
        rd.write(&tmp).expect("write test.cpio");
        std::fs::rename(&tmp, &path).expect("rename test.cpio");
        path
    })
}

/// Adds [`DATA_TREE`] under `root` to an initrd.
pub fn add_data_tree(rd: &mut Initrd, root: &str) {
    rd.dir(root, 0o755);
    for (path, node) in DATA_TREE {
        let path = format!("{root}/{path}");
        match node {
            DataNode::Dir => rd.dir(&path, 0o755),
            DataNode::File(text) => rd.file(&path, 0o644, *text),
            DataNode::Symlink(target) => rd.symlink(&path, target),
        };
    }
}

/// Makes a fresh host copy of [`DATA_TREE`] at `target/e2e/<unique>/data` and
/// returns its path. The directory is called `data` like the guest's, so
/// programs that print its basename agree.
pub fn native_data_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    static CLEANUP: OnceLock<()> = OnceLock::new();
    CLEANUP.get_or_init(remove_stale_data_dirs);
    let unique = format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let root = target_dir().join("e2e").join(unique).join("data");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("create native data dir");
    set_mode(&root, 0o755);
    for (path, node) in DATA_TREE {
        let p = root.join(path);
        match node {
            DataNode::Dir => {
                std::fs::create_dir(&p).expect("mkdir");
                set_mode(&p, 0o755);
            }
            DataNode::File(text) => {
                std::fs::write(&p, text).expect("write");
                set_mode(&p, 0o644);
            }
            DataNode::Symlink(target) => std::os::unix::fs::symlink(target, &p).expect("symlink"),
        }
    }
    root
}

/// Removes the `target/e2e/<pid>-<n>` directories of test processes that are
/// gone; those of live ones (other engineers' runs) stay.
fn remove_stale_data_dirs() {
    let Ok(dir) = std::fs::read_dir(target_dir().join("e2e")) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().unwrap_or("");
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// What a run gets on stdin.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Input {
    /// `/dev/null`.
    #[default]
    Null,
    /// A pipe carrying these bytes, then end of file.
    Bytes(Vec<u8>),
}

/// One program to run, natively and under umbra.
#[derive(Clone, Debug)]
pub struct Run {
    /// The path in the guest, also argv[0] in both runs.
    pub guest_path: String,
    /// The host binary for the native run.
    pub native_path: PathBuf,
    /// argv[1..].
    pub args: Vec<String>,
    /// The environment, in order.
    pub env: Vec<(String, String)>,
    /// stdin.
    pub input: Input,
    /// Extra `umbra` flags put before `--`, such as `--strace`.
    pub umbra_flags: Vec<String>,
}

impl Run {
    /// A guest test program, `/tests/<libc>/<name>`.
    pub fn guest(libc: Libc, name: &str) -> Self {
        Self::new(
            &format!("/tests/{}/{name}", libc.name()),
            guest_binary(libc, name),
        )
    }

    /// `/bin/busybox` with these arguments (the applet first).
    pub fn busybox(args: &[&str]) -> Self {
        Self::new(initrd::BUSYBOX, busybox().to_path_buf()).args(args)
    }

    fn new(guest_path: &str, native_path: PathBuf) -> Self {
        Run {
            guest_path: guest_path.to_string(),
            native_path,
            args: Vec::new(),
            env: vec![("PATH".into(), "/bin".into())],
            input: Input::Null,
            // umbra names the unsupported calls a program makes on stderr,
            // which a native run never prints: the comparisons leave it out
            // (tests/e2e_procctl.rs checks it).
            umbra_flags: vec!["--quiet-unsupported".to_string()],
        }
    }

    /// Appends arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Feeds these bytes on stdin through a pipe.
    pub fn stdin(mut self, bytes: &[u8]) -> Self {
        self.input = Input::Bytes(bytes.to_vec());
        self
    }

    /// Adds an `umbra run` flag.
    pub fn umbra_flag(mut self, flag: &str) -> Self {
        self.umbra_flags.push(flag.to_string());
        self
    }

    /// The `umbra run ...` command line for this run (without the binary).
    pub fn umbra_args(&self) -> Vec<String> {
        let mut a = vec![
            "run".to_string(),
            "--initrd".to_string(),
            test_initrd().display().to_string(),
            "--cwd".to_string(),
            "/data".to_string(),
        ];
        for (k, v) in &self.env {
            a.push("--env".into());
            a.push(format!("{k}={v}"));
        }
        a.extend(self.umbra_flags.iter().cloned());
        a.push("--".into());
        a.push(self.guest_path.clone());
        a.extend(self.args.iter().cloned());
        a
    }

    /// Runs the program natively, in a fresh copy of the data tree.
    pub fn native(&self) -> Outcome {
        let python = require_tool("python3", "python3");
        let mut cmd = Command::new(python);
        self.launch(&mut cmd);
        execute(cmd, &self.input, Leftovers::Ignore)
    }

    /// Runs the program natively as [`Run::native`] does, in namespaces of
    /// its own: `unshare UNSHARE_ARGS -- /bin/sh -c 'PRELUDE && exec ...'`,
    /// where PRELUDE sets them up (e.g. `ip link set lo up` after `-n`).
    pub fn native_in(&self, unshare_args: &[&str], prelude: &str) -> Outcome {
        let mut cmd = Command::new(require_tool("unshare", "util-linux"));
        cmd.args(unshare_args)
            .arg("--")
            .arg("/bin/sh")
            .arg("-c")
            .arg(format!("{prelude} && exec \"$0\" \"$@\""))
            .arg(require_tool("python3", "python3"));
        self.launch(&mut cmd);
        cmd.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        execute(cmd, &self.input, Leftovers::Ignore)
    }

    /// The launcher's arguments ([`NATIVE_LAUNCHER`]) after the python3
    /// that runs it: the program, its environment and arguments.
    fn launch(&self, cmd: &mut Command) {
        cmd.arg("-I")
            .arg("-c")
            .arg(NATIVE_LAUNCHER)
            .arg(&self.native_path)
            .arg(self.env.len().to_string());
        for (k, v) in &self.env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.arg(&self.guest_path)
            .args(&self.args)
            .env_clear()
            .current_dir(native_data_dir());
    }

    /// Runs the program under `umbra run`.
    pub fn umbra(&self) -> Outcome {
        let mut cmd = Command::new(umbra());
        cmd.args(self.umbra_args());
        execute(cmd, &self.input, Leftovers::Check)
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// exit(code)
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl Status {
    /// The status as a shell (and umbra) reports it: 128 + N for signal N.
    pub fn code(self) -> i32 {
        match self {
            Status::Exited(c) => c,
            Status::Signaled(s) => 128 + s,
        }
    }
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The command line, for messages.
    pub command: String,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// How it ended.
    pub status: Status,
    /// Processes of the run's process group still alive after it ended
    /// (`pid comm` each); always empty for native runs.
    pub leftovers: Vec<String>,
}

impl Outcome {
    /// stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Panics, showing both outputs, unless the run exited with `code`
    /// (128 + N counts as death by signal N).
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.status.code(),
            code,
            "unexpected status\n{}",
            self.describe()
        );
    }

    /// Panics if processes of the run outlived it.
    pub fn assert_no_leftovers(&self) {
        assert!(
            self.leftovers.is_empty(),
            "processes outlived `{}`: {:?}",
            self.command,
            self.leftovers
        );
    }

    /// A multi-line report of the run.
    pub fn describe(&self) -> String {
        format!(
            "$ {}\nstatus: {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.command,
            self.status,
            self.stdout_text(),
            self.stderr_text()
        )
    }
}

/// Runs sections of a guest program (argv[1..]) natively and under umbra
/// and compares them, as [`assert_same`].
pub fn sections_same_as_native(libc: Libc, program: &str, sections: &[&str]) {
    assert_same(&Run::guest(libc, program).args(sections));
}

/// One `#[test]` per program, section list and C library, each comparing the
/// native and the umbra run of those sections:
///
/// ```ignore
/// sections_same_as_native! {
///     pipes_musl: Musl "proc_pipes" &["flags", "eof"];
/// }
/// ```
///
/// `run = PATH;` first names another runner with the same arguments as
/// [`sections_same_as_native`] (e.g. one that serializes its tests).
#[macro_export]
macro_rules! sections_same_as_native {
    (run = $run:path; $($(#[$attr:meta])* $test:ident: $libc:ident $program:literal $sections:expr;)*) => {$(
        #[test]
        $(#[$attr])*
        fn $test() {
            $run($crate::Libc::$libc, $program, $sections);
        }
    )*};
    ($($(#[$attr:meta])* $test:ident: $libc:ident $program:literal $sections:expr;)*) => {
        $crate::sections_same_as_native! {
            run = $crate::sections_same_as_native;
            $($(#[$attr])* $test: $libc $program $sections;)*
        }
    };
}

/// Runs `run` natively and under umbra and panics, showing a diff, unless
/// stdout, stderr and the exit status agree and umbra left no process behind.
/// Returns the umbra outcome for further checks.
pub fn assert_same(run: &Run) -> Outcome {
    // The host is a noisy shared machine and some native job-control runs
    // (signals between process groups) were seen to hang once under load:
    // a native run that times out gets one more try. umbra runs get none.
    let native = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run.native()))
        .unwrap_or_else(|_| {
            eprintln!("native run failed or timed out; trying it once more");
            run.native()
        });
    let umbra = run.umbra();
    compare(&native, &umbra);
    umbra
}

/// Panics unless two outcomes agree (see [`assert_same`]).
pub fn compare(native: &Outcome, umbra: &Outcome) {
    let mut problems = Vec::new();
    if native.stdout != umbra.stdout {
        problems.push(format!(
            "stdout differs:\n{}",
            diff(&native.stdout_text(), &umbra.stdout_text())
        ));
    }
    if native.stderr != umbra.stderr {
        problems.push(format!(
            "stderr differs:\n{}",
            diff(&native.stderr_text(), &umbra.stderr_text())
        ));
    }
    if native.status.code() != umbra.status.code() {
        problems.push(format!(
            "status differs: native {:?}, umbra {:?} (exit {})",
            native.status,
            umbra.status,
            umbra.status.code()
        ));
    }
    if !umbra.leftovers.is_empty() {
        problems.push(format!("processes outlived umbra: {:?}", umbra.leftovers));
    }
    assert!(
        problems.is_empty(),
        "native and umbra runs differ\n{}\n\nnative run:\n{}\n\numbra run:\n{}",
        problems.join("\n"),
        native.describe(),
        umbra.describe()
    );
}

/// A line diff: `-` lines only natively, `+` lines only under umbra, from the
/// first differing line on.
pub fn diff(native: &str, umbra: &str) -> String {
    let a: Vec<&str> = native.lines().collect();
    let b: Vec<&str> = umbra.lines().collect();
    let same = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = format!("(first {same} lines equal)\n");
    for l in &a[same..] {
        out.push_str(&format!("- {l}\n"));
    }
    for l in &b[same..] {
        out.push_str(&format!("+ {l}\n"));
    }
    out
}

/// Whether to look for processes that outlive a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leftovers {
    Ignore,
    Check,
}

/// Spawns `cmd` in its own process group with piped stdout and stderr, feeds
/// `input`, waits at most [`RUN_TIMEOUT`], and collects the outcome.
fn execute(cmd: Command, input: &Input, leftovers: Leftovers) -> Outcome {
    execute_within(cmd, input, leftovers, RUN_TIMEOUT)
}

/// [`execute`] with a time limit of its own.
fn execute_within(
    mut cmd: Command,
    input: &Input,
    leftovers: Leftovers,
    limit: Duration,
) -> Outcome {
    let command = format!("{cmd:?}");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(match input {
        Input::Null => Stdio::null(),
        Input::Bytes(_) => Stdio::piped(),
    });
    // Its own process group, so whatever it starts can be found afterwards.
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    let pid = child.id();
    let feeder = match (input, child.stdin.take()) {
        (Input::Bytes(bytes), Some(mut pipe)) => {
            let bytes = bytes.clone();
            // A guest that stops reading makes this fail with EPIPE; that is
            // the guest's business, not the test's.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            }))
        }
        _ => None,
    };
    let out = drain(child.stdout.take().expect("stdout pipe"));
    let err = drain(child.stderr.take().expect("stderr pipe"));
    let status = wait_with_timeout(&mut child, &command, limit);
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let leftovers = match leftovers {
        Leftovers::Check => survivors(pid),
        Leftovers::Ignore => Vec::new(),
    };
    Outcome {
        command,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        status,
        leftovers,
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn wait_with_timeout(child: &mut Child, command: &str, limit: Duration) -> Status {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return match (st.code(), st.signal()) {
                (Some(c), _) => Status::Exited(c),
                (None, Some(s)) => Status::Signaled(s),
                (None, None) => unreachable!("a status is an exit or a signal"),
            };
        }
        if Instant::now() > deadline {
            // umbra's stubs are traced with PTRACE_O_EXITKILL, so they go too.
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {limit:?}: {command}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Processes, other than zombies, whose process group is `pgid`, after giving
/// exiting ones two seconds to go.
fn survivors(pgid: u32) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let found = processes_in_group(pgid);
        if found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn processes_in_group(pgid: u32) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parens.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = &stat[stat.find('(').map_or(0, |o| o + 1)..close];
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if rest.len() > 2 && rest[0] != "Z" && rest[2] == pgid.to_string() {
            found.push(format!("{pid} {comm}"));
        }
    }
    found
}

/// Runs `umbra` with raw arguments (no initrd added), for CLI tests.
pub fn umbra_raw(args: &[&str]) -> Outcome {
    let mut cmd = Command::new(umbra());
    cmd.args(args);
    execute(cmd, &Input::Null, Leftovers::Check)
}

/// Runs a prepared native command (e.g. a chroot, `tests/e2e_debian.rs`) as
/// [`Run::native`] does: its own process group, piped stdout and stderr,
/// `input` on stdin, [`RUN_TIMEOUT`].
pub fn execute_native(cmd: Command, input: &Input) -> Outcome {
    execute(cmd, input, Leftovers::Ignore)
}

/// Runs a prepared `umbra` command as [`Run::umbra`] does, and also looks for
/// processes that outlive it.
pub fn execute_umbra(cmd: Command, input: &Input) -> Outcome {
    execute(cmd, input, Leftovers::Check)
}

/// [`execute_umbra`] with a time limit other than [`RUN_TIMEOUT`], for the
/// few runs whose work is large by design (a whole Debian tree read through
/// a debug build), which a busy machine can stretch past the usual limit.
pub fn execute_umbra_within(cmd: Command, input: &Input, limit: Duration) -> Outcome {
    execute_within(cmd, input, Leftovers::Check, limit)
}

/// The PT_INTERP path of a 64-bit little-endian ELF file (the host's dynamic
/// test programs), or None.
pub fn elf_interp(path: &Path) -> Option<String> {
    let elf = std::fs::read(path).ok()?;
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let (phoff, phentsize, phnum) = (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?);
    (0..phnum as usize).find_map(|i| {
        let at = phoff as usize + i * phentsize as usize;
        if elf.get(at..at + 4) != Some(&3u32.to_le_bytes()[..]) {
            return None;
        }
        let (off, size) = (u64_at(at + 8)? as usize, u64_at(at + 32)? as usize);
        let s = elf.get(off..off + size)?;
        let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
        Some(String::from_utf8_lossy(s).into_owned())
    })
}

/// The libraries `ldd` resolves for a glibc program (host paths).
pub fn ldd_libs(path: &Path) -> Vec<String> {
    let out = Command::new("ldd")
        .arg(path)
        .output()
        .expect("cannot run ldd (libc-bin)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.split(" (").next()?;
            let p = l.rsplit("=> ").next()?.trim();
            p.starts_with('/').then(|| p.to_string())
        })
        .collect()
}

/// The cache directory of the Debian image (`tree/`, `debian.img`) of
/// `images/debian/build.sh`, built (or found in
/// `/var/cache/umbra/debian/KEY`) once per test process; a second caller
/// waits on the script's lock and finds the cache. Fails, never skips, when
/// the build cannot run: CI runs as root and installs debootstrap.
pub fn debian_image_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = workspace_root().join("images/debian/build.sh");
        let out = Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}); it needs root and debootstrap (`cargo xtask setup`):\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let dir = PathBuf::from(text.lines().last().unwrap_or("").trim());
        assert!(
            dir.join("debian.img").is_file() && dir.join("tree").is_dir(),
            "{} printed `{}`, which holds no debian.img and tree/",
            script.display(),
            dir.display()
        );
        dir
    })
}
