//! `cargo xtask bench`: the comparison suite. The same guest programs and
//! inputs, run natively and under umbra and its peers, side by side.
//!
//! - micro: the static C programs of tests/bench/ (musl-gcc -static), each of
//!   which times itself for a budget of milliseconds and prints one line
//!   `<unit> <float>` (ns/op, ns/page, ms);
//! - macro: busybox sh scripts, timed inside the guest by `stamp` (which
//!   prints CLOCK_MONOTONIC and execs the rest of its command line, so no fork
//!   is needed): `stamp sh work.sh`, where work.sh ends in `exec stamp CHECK`.
//!   The check's output must match, or the run counts as failed;
//! - start-up: host wall time from launch to exit of a guest `/bench/true`,
//!   and of the host's dynamically linked `/bin/true` (at `/bench/dyn/true`,
//!   with its dynamic linker, libraries and /etc/ld.so.cache at their host
//!   paths), and the
//!   host's peak RSS of the whole sandbox (see procs.rs for how);
//! - podman (issue 15): `podman run --rm IMAGE true` of the Debian image
//!   (images/podman/import.sh) with runc in the native column, runsc in the
//!   gVisor ones and umbra as the OCI runtime: podman's wall time, and the
//!   peak PSS of podman, conmon, the runtime and the container (sampled
//!   under `maxrss -s`, a subreaper, as conmon daemonizes). Skipped with a
//!   note when podman is missing or the bench does not run as root.
//!
//! Systems: native (chroot into the benchmark root), the bare PTRACE_SYSEMU
//! floor (getppid only), umbra, and, when installed, PRoot, gVisor (runsc
//! ptrace, and kvm when /dev/kvm exists) and User Mode Linux (booted on an
//! ext2 image of the same root, the workload run from init; its micro and
//! macro numbers are measured inside the guest, so boot time only counts for
//! start-up). A system that cannot run at all is listed with its error; a
//! workload that fails on a system (non-zero exit, wrong output, time-out) is
//! shown as failed there, for umbra as "unsupported yet": nothing is
//! hard-coded, so workloads light up as umbra learns them.
//!
//! Runs are interleaved (for each run, each workload, each system: A B C A B
//! C ...), everything is pinned to one CPU (`--unpinned`: to none), and the median is reported with
//! its ratio to native. Outputs: a Markdown table on stdout and in
//! target/bench/results.md, target/bench/results.{csv,json} and
//! target/bench/chart.svg, with the machine recorded beside the numbers.

mod report;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::procs::{self, Exit, Outcome};
use crate::{build_umbra_release, initrd, root, show, target_dir, which, Result};

/// The benchmark programs of tests/bench/, built with `musl-gcc -static -O2`.
const PROGRAMS: &[&str] = &[
    "true",
    "stamp",
    "getppid",
    "clock",
    "devzero",
    "openclose",
    "stat",
    "pipe",
    "pthread",
    "futex",
    "mutex",
    "fork",
    "forkexec",
    "pagefault",
    "mmap",
    "fileio",
    "sysemu_floor",
    "maxrss",
    "net",
    "seccomp_floor",
];

/// Macro inputs: files in the tar tree, and the size of the text to sort.
const TREE_DIRS: usize = 20;
const TREE_FILES_PER_DIR: usize = 100;
const SORT_BYTES: usize = 10 << 20;

/// Guest memory for UML: the 64 MiB file test lives in its /tmp tmpfs.
const UML_MEM: &str = "384M";

const USAGE: &str = "usage: bench [--cpu N | --unpinned] [--runs N] [--quick] [--peers] \
                     [--only W1,W2] [--systems S1,S2]";

pub struct Options {
    pub cpu: usize,
    /// `--unpinned`: every system runs on all the CPUs (taskset of all of
    /// them, umbra without `--cpu`); the seccomp platform's spin needs two.
    pub unpinned: bool,
    pub runs: usize,
    pub quick: bool,
    peers: bool,
    only: Option<Vec<String>>,
    systems: Option<Vec<String>>,
}

fn parse(args: &[String]) -> Result<Options> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The last CPU: CPU 0 tends to take more of the host's interrupts.
    let mut o = Options {
        cpu: cores - 1,
        unpinned: false,
        runs: 5,
        quick: false,
        peers: false,
        only: None,
        systems: None,
    };
    let mut runs_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--cpu" => o.cpu = value()?.parse().map_err(|_| "--cpu needs a number")?,
            "--runs" => {
                o.runs = value()?
                    .parse::<usize>()
                    .map_err(|_| "--runs needs a number")?
                    .max(1);
                runs_given = true;
            }
            "--quick" => o.quick = true,
            "--unpinned" => o.unpinned = true,
            "--peers" => o.peers = true,
            "--only" => o.only = Some(value()?.split(',').map(String::from).collect()),
            "--systems" => o.systems = Some(value()?.split(',').map(String::from).collect()),
            _ => return Err(format!("unknown option {a}; {USAGE}")),
        }
    }
    if o.quick && !runs_given {
        o.runs = 1;
    }
    Ok(o)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Group {
    Micro,
    Macro,
    Startup,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Micro => "micro",
            Group::Macro => "macro",
            Group::Startup => "start-up",
        }
    }
}

/// How a run's number is obtained.
#[derive(Clone, Debug)]
pub enum Metric {
    /// The program prints `<prefix> <float>`.
    Printed(&'static str),
    /// Two `stamp <ns>` lines, then `check <value>` equal to the string.
    Stamps(String),
    /// Host wall time of the whole command.
    Wall,
    /// Host peak RSS of the whole process tree.
    PeakRss,
    /// Host peak total PSS of the whole process tree.
    PeakPss,
}

pub struct Workload {
    pub name: &'static str,
    pub label: &'static str,
    pub group: Group,
    /// The unit of the reported number (lower is better for all).
    pub unit: &'static str,
    /// The command inside the guest.
    pub argv: Vec<String>,
    pub metric: Metric,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Native,
    Floor,
    Umbra,
    Proot,
    Gvisor(&'static str),
    Uml,
}

pub struct System {
    pub id: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    /// The host binary that runs it, or why the system is not measured.
    pub status: std::result::Result<PathBuf, String>,
}

impl System {
    /// The Debian package version of a peer, if it came from one.
    pub fn version(&self) -> Option<String> {
        let pkg = match self.kind {
            Kind::Proot => "proot",
            Kind::Gvisor(_) => "runsc",
            Kind::Uml => "user-mode-linux",
            _ => return None,
        };
        let o = Command::new("dpkg-query")
            .args(["-W", "-f=${Version}", pkg])
            .output()
            .ok()?;
        let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
        (o.status.success() && !v.is_empty()).then(|| format!("{pkg} {v}"))
    }
}

/// The runs of one workload on one system.
#[derive(Default, Clone)]
pub struct Cell {
    pub applicable: bool,
    pub values: Vec<f64>,
    pub errors: Vec<String>,
    pub command: Vec<String>,
}

impl Cell {
    pub fn median(&self) -> Option<f64> {
        median(&self.values)
    }
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Everything measured, for the report.
pub struct Results {
    pub workloads: Vec<Workload>,
    pub systems: Vec<System>,
    /// `cells[w][s]`.
    pub cells: Vec<Vec<Cell>>,
    pub machine: report::Machine,
    pub notes: Vec<String>,
    pub options: Options,
    pub args: Vec<String>,
}

fn workloads(budget_ms: u64) -> Vec<Workload> {
    let b = budget_ms.to_string();
    let micro = |name, label, prog: &str, extra: &[&str], prefix, unit| Workload {
        name,
        label,
        group: Group::Micro,
        unit,
        argv: std::iter::once(format!("/bench/{prog}"))
            .chain(extra.iter().map(|s| s.to_string()))
            .collect(),
        metric: Metric::Printed(prefix),
    };
    let mac = |name, label, check: String| Workload {
        name,
        label,
        group: Group::Macro,
        unit: "ms",
        argv: vec![
            "/bench/stamp".into(),
            "/bin/sh".into(),
            format!("/bench/macro/{name}.sh"),
        ],
        metric: Metric::Stamps(check),
    };
    vec![
        micro(
            "getppid",
            "null syscall (getppid)",
            "getppid",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "clock",
            "clock_gettime (vDSO)",
            "clock",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "devzero",
            "read 1 B /dev/zero",
            "devzero",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "openclose",
            "open + close",
            "openclose",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro("stat", "stat", "stat", &[&b], "ns/op", "ns/op"),
        micro("pipe", "pipe ping-pong", "pipe", &[&b], "ns/op", "ns/op"),
        // The floors of a seccomp-trap syscall path (issue 13), natively
        // only: each answers getppid without the kernel.
        micro(
            "floor_trap",
            "getppid via SECCOMP_RET_TRAP, answered in the SIGSYS handler",
            "seccomp_floor",
            &[&b, "trap"],
            "ns/op",
            "ns/op",
        ),
        micro(
            "floor_futex",
            "getppid via SIGSYS, handed to a server on the same CPU (shared page + futex)",
            "seccomp_floor",
            &[&b, "futex"],
            "ns/op",
            "ns/op",
        ),
        micro(
            "floor_spin",
            "getppid via SIGSYS, handed to a server on another CPU (bounded spin, then futex)",
            "seccomp_floor",
            &[&b, "spin"],
            "ns/op",
            "ns/op",
        ),
        micro(
            "unix_rr",
            "AF_UNIX 1-byte request/response",
            "net",
            &[&b, "unix_rr"],
            "ns/op",
            "ns/op",
        ),
        micro(
            "tcp_rr",
            "TCP 127.0.0.1 1-byte request/response",
            "net",
            &[&b, "tcp_rr"],
            "ns/op",
            "ns/op",
        ),
        micro(
            "unix_tput",
            "AF_UNIX stream, 1 GiB in 64 KiB writes",
            "net",
            &[&b, "unix_tput"],
            "ns/op",
            "ns/MiB",
        ),
        micro(
            "tcp_tput",
            "TCP 127.0.0.1, 1 GiB in 64 KiB writes",
            "net",
            &[&b, "tcp_tput"],
            "ns/op",
            "ns/MiB",
        ),
        micro(
            "unix_conn",
            "AF_UNIX connect + accept + 1 byte + close",
            "net",
            &[&b, "unix_conn"],
            "ns/op",
            "ns/op",
        ),
        micro(
            "tcp_conn",
            "TCP connect + accept + 1 byte + close",
            "net",
            &[&b, "tcp_conn"],
            "ns/op",
            "ns/op",
        ),
        micro(
            "pthread",
            "pthread_create + join",
            "pthread",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "futex",
            "futex ping-pong (2 threads)",
            "futex",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "mutex",
            "uncontended mutex (no syscall)",
            "mutex",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "fork",
            "fork + exit + wait",
            "fork",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "forkexec",
            "fork + execve + wait",
            "forkexec",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "pagefault",
            "page fault (64 MiB)",
            "pagefault",
            &[],
            "ns/page",
            "ns/page",
        ),
        micro(
            "mmap",
            "mmap + munmap 64 KiB",
            "mmap",
            &[&b],
            "ns/op",
            "ns/op",
        ),
        micro(
            "write64m",
            "write 64 MiB file",
            "fileio",
            &["write", "/tmp"],
            "ms",
            "ms",
        ),
        micro(
            "read64m",
            "read 64 MiB file",
            "fileio",
            &["read", "/tmp"],
            "ms",
            "ms",
        ),
        mac("shloop", "sh loop 20,000 iterations", "check 20000".into()),
        mac("cmds500", "sh loop 500 × /bench/true", "check 500".into()),
        mac(
            "targz",
            "tar + gzip 2,000 files",
            format!("check {}", TREE_DIRS * TREE_FILES_PER_DIR + TREE_DIRS + 1),
        ),
        mac("sort", "sort 10 MB text", format!("check {}", sort_lines())),
        Workload {
            name: "start",
            label: "start-up: static true",
            group: Group::Startup,
            unit: "ms",
            argv: vec!["/bench/true".into()],
            metric: Metric::Wall,
        },
        Workload {
            name: "start_dyn",
            label: "start-up: dynamic /bin/true",
            group: Group::Startup,
            unit: "ms",
            argv: vec![DYN_TRUE.into()],
            metric: Metric::Wall,
        },
        // Issue 11: Debian's bash from the Debian image (`cargo xtask
        // debian-image`), natively in a chroot of its tree and under umbra
        // with the image as root; the other systems are not measured.
        Workload {
            name: "bash_loop",
            label: "bash: for i in $(seq 1000) (Debian image)",
            group: Group::Startup,
            unit: "ms",
            argv: vec![
                "/bin/bash".into(),
                "-c".into(),
                "for i in $(seq 1000); do :; done".into(),
            ],
            metric: Metric::Wall,
        },
        // Issue 15: `podman run --rm IMAGE true` of the Debian image
        // (images/podman/import.sh) with runc (the native column), runsc
        // (the gVisor columns) and umbra as the OCI runtime; wall time of
        // podman, and the peak PSS of podman, conmon, the runtime and the
        // container together.
        Workload {
            name: "podman_true",
            label: "podman run --rm IMAGE true (Debian image; native = runc)",
            group: Group::Startup,
            unit: "ms",
            argv: vec!["true".into()],
            metric: Metric::Wall,
        },
        Workload {
            name: "podman_pss",
            label: "podman run --rm IMAGE true: peak host PSS (native = runc)",
            group: Group::Startup,
            unit: "MB",
            argv: vec!["true".into()],
            metric: Metric::PeakPss,
        },
        Workload {
            name: "rss",
            label: "start-up: peak host RSS",
            group: Group::Startup,
            unit: "MB",
            argv: vec!["/bench/true".into()],
            metric: Metric::PeakRss,
        },
        Workload {
            name: "pss",
            label: "start-up: peak host PSS",
            group: Group::Startup,
            unit: "MB",
            argv: vec!["/bench/true".into()],
            metric: Metric::PeakPss,
        },
    ]
}

/// The timed part of each macro workload, and its check.
fn macro_script(name: &str) -> &'static str {
    match name {
        "shloop" => {
            "i=0\nwhile [ $i -lt 20000 ]; do i=$((i+1)); done\n\
             exec /bench/stamp /bin/echo check $i\n"
        }
        "cmds500" => {
            "i=0\nwhile [ $i -lt 500 ]; do /bench/true || exit 1; i=$((i+1)); done\n\
             exec /bench/stamp /bin/echo check $i\n"
        }
        "targz" => {
            "tar cf - -C /data tree | gzip -c > /tmp/tree.tgz || exit 1\n\
             exec /bench/stamp /bin/sh -c 'echo check $(tar tzf /tmp/tree.tgz | wc -l); rm -f /tmp/tree.tgz'\n"
        }
        "sort" => {
            "sort /data/sort.txt > /tmp/sorted.txt || exit 1\n\
             exec /bench/stamp /bin/sh -c 'sort -c /tmp/sorted.txt && echo check $(wc -l < /tmp/sorted.txt); rm -f /tmp/sorted.txt'\n"
        }
        _ => "exit 1\n",
    }
}

/// A small deterministic generator (64-bit LCG, top bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
    fn word(&mut self, out: &mut Vec<u8>, min: u64, max: u64) {
        let len = min + self.next(max - min + 1);
        for _ in 0..len {
            out.push(b'a' + self.next(26) as u8);
        }
    }
}

/// The 10 MB text to sort: lines "word word number".
fn sort_text() -> Vec<u8> {
    let mut r = Lcg(42);
    let mut out = Vec::with_capacity(SORT_BYTES + 64);
    while out.len() < SORT_BYTES {
        r.word(&mut out, 3, 12);
        out.push(b' ');
        r.word(&mut out, 3, 12);
        out.extend_from_slice(format!(" {}\n", r.next(1_000_000)).as_bytes());
    }
    out
}

fn sort_lines() -> usize {
    sort_text().iter().filter(|&&c| c == b'\n').count()
}

/// Builds target/bench/root: busybox, the programs, the macro scripts and
/// inputs, device nodes (for the native chroot and PRoot), UML init scripts.
/// Where the host's dynamically linked `true` goes in the roots.
const DYN_TRUE: &str = "/bench/dyn/true";

/// The files of the dynamic start-up workload: (path in the root, host
/// file): the host's /bin/true at [`DYN_TRUE`], and its dynamic linker and
/// libraries (as `ldd` names them) at their host paths.
fn dynamic_true() -> Result<Vec<(String, PathBuf)>> {
    let t = which("true").ok_or("no `true` on PATH")?;
    let out = Command::new("ldd")
        .arg(&t)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let libs: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let l = l.split(" (").next()?;
            let p = l.rsplit("=> ").next()?.trim();
            p.starts_with('/').then(|| p.to_string())
        })
        .collect();
    if !out.status.success() || libs.is_empty() {
        return Err(format!(
            "{} is not dynamically linked (ldd: {text:?})",
            t.display()
        ));
    }
    let mut v = vec![(DYN_TRUE.trim_start_matches('/').to_string(), t)];
    v.extend(
        libs.into_iter()
            .map(|l| (l.trim_start_matches('/').to_string(), PathBuf::from(l))),
    );
    // The linker's cache, as an installed system has it: without it glibc's
    // linker probes some twenty hwcaps directories for libc.so.6 first.
    let cache = Path::new("/etc/ld.so.cache");
    if cache.is_file() {
        v.push(("etc/ld.so.cache".into(), cache.to_path_buf()));
    }
    Ok(v)
}

fn build_root(
    dir: &Path,
    bin: &Path,
    wls: &[Workload],
    dyn_files: &[(String, PathBuf)],
) -> Result<PathBuf> {
    let root = dir.join("root");
    // A tmpfs left mounted by an interrupted run.
    unmount_tmp(&root);
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    }
    let w = |p: &str, data: &[u8], mode: u32| -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().expect("has a parent"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::write(&path, data).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let busybox = std::fs::read(initrd::BUSYBOX).map_err(|e| format!("busybox: {e}"))?;
    w("bin/busybox", &busybox, 0o755)?;
    for applet in initrd::busybox_applets(Path::new(initrd::BUSYBOX)).map_err(|e| e.to_string())? {
        if applet != "busybox" && !applet.contains('/') {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(&applet))
                .map_err(|e| format!("symlink {applet}: {e}"))?;
        }
    }
    for p in PROGRAMS {
        let data = std::fs::read(bin.join(p)).map_err(|e| format!("{p}: {e}"))?;
        w(&format!("bench/{p}"), &data, 0o755)?;
    }
    for (path, from) in dyn_files {
        let data = std::fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
        w(path, &data, 0o755)?;
    }
    for wl in wls.iter().filter(|w| w.group == Group::Macro) {
        w(
            &format!("bench/macro/{}.sh", wl.name),
            macro_script(wl.name).as_bytes(),
            0o755,
        )?;
    }
    // UML: one init script per workload; it mounts what the workload needs,
    // runs it as init's child and powers off.
    for wl in wls {
        let cmd: Vec<String> = wl.argv.iter().map(|a| sh_quote(a)).collect();
        let script = format!(
            "#!/bin/sh\nexport PATH=/bin\nmount -t proc proc /proc\n\
             mount -t tmpfs -o size=300m tmpfs /tmp\ncd /\necho BENCH-BEGIN\n{}\n\
             echo \"BENCH-END $?\"\npoweroff -f\n",
            cmd.join(" ")
        );
        w(
            &format!("bench/uml/{}.sh", wl.name),
            script.as_bytes(),
            0o755,
        )?;
    }
    w("data/sort.txt", &sort_text(), 0o644)?;
    let mut r = Lcg(7);
    for d in 0..TREE_DIRS {
        for f in 0..TREE_FILES_PER_DIR {
            let mut text = Vec::new();
            let target = 200 + r.next(3800) as usize;
            while text.len() < target {
                r.word(&mut text, 2, 9);
                text.push(if r.next(12) == 0 { b'\n' } else { b' ' });
            }
            w(&format!("data/tree/d{d:02}/f{f:03}.txt"), &text, 0o644)?;
        }
    }
    w("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)?;
    w("etc/group", b"root:x:0:\n", 0o644)?;
    for (d, mode) in [
        ("tmp", 0o1777),
        ("dev", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("root", 0o700),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let p = root.join(d);
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(root)
}

/// Device nodes for the systems that see the root directory as is (native
/// chroot, PRoot). umbra and gVisor bring their own /dev; UML's image gets
/// them too. Needs root; without it those systems lack /dev/zero.
fn make_dev_nodes(root: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(mknod) = which("mknod") else {
        return vec!["mknod not found".into()];
    };
    for (name, minor) in [
        ("null", "3"),
        ("zero", "5"),
        ("full", "7"),
        ("urandom", "9"),
    ] {
        let path = root.join("dev").join(name);
        let r = Command::new(&mknod)
            .args(["-m", "666"])
            .arg(&path)
            .args(["c", "1", minor])
            .output();
        match r {
            Ok(o) if o.status.success() => {}
            Ok(o) => errors.push(String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => errors.push(e.to_string()),
        }
    }
    errors
}

/// The root's /tmp as a tmpfs while the bench runs, so that the native
/// chroot and PRoot write their files to memory as umbra (tmpfs root), UML
/// (tmpfs mounted by its init) and gVisor (memory overlay) do. Unmounted on
/// drop. Without root it stays a directory on the host's file system.
struct TmpMount(PathBuf);

impl TmpMount {
    fn new(root: &Path) -> std::result::Result<TmpMount, String> {
        let tmp = root.join("tmp");
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512m,mode=1777", "umbra-bench"])
            .arg(&tmp)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if o.status.success() {
            Ok(TmpMount(root.to_path_buf()))
        } else {
            Err(format!(
                "mount tmpfs on {}: {}",
                tmp.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
    }
}

impl Drop for TmpMount {
    fn drop(&mut self) {
        unmount_tmp(&self.0);
    }
}

fn unmount_tmp(root: &Path) {
    let tmp = root.join("tmp");
    let mounted = std::fs::read_to_string("/proc/self/mounts")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(1) == tmp.to_str()));
    if mounted {
        let _ = Command::new("umount").arg(&tmp).status();
    }
}

/// A cpio initrd of the root directory (device nodes left out: umbra mounts
/// its devfs on /dev).
fn root_cpio(root: &Path, out: &Path) -> Result<()> {
    fn walk(rd: &mut initrd::Initrd, root: &Path, rel: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = root.join(rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = e.path().symlink_metadata().map_err(|e| e.to_string())?;
            let ft = meta.file_type();
            if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).map_err(|e| e.to_string())?;
                rd.symlink(&path, &t.to_string_lossy());
            } else if ft.is_dir() {
                rd.dir(&path, meta.permissions().mode() & 0o7777);
                walk(rd, root, &path)?;
            } else if ft.is_file() {
                rd.copy(&path, &e.path()).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
    let mut rd = initrd::Initrd::new();
    walk(&mut rd, root, "")?;
    rd.write(out).map_err(|e| format!("{}: {e}", out.display()))
}

/// An ext2 image of the root directory for UML.
fn root_ext2(root: &Path, out: &Path) -> Result<()> {
    let mke2fs = which("mke2fs").ok_or("mke2fs not found (e2fsprogs)")?;
    let bytes = dir_bytes(root);
    let kb = (bytes / 1024) * 3 / 2 + 32 * 1024;
    let _ = std::fs::remove_file(out);
    let o = Command::new(mke2fs)
        .args(["-q", "-F", "-t", "ext2", "-N", "16384", "-d"])
        .arg(root)
        .arg(out)
        .arg(format!("{kb}k"))
        .output()
        .map_err(|e| format!("mke2fs: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mke2fs: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(meta) = p.symlink_metadata() else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(p)
            .map(|rd| rd.flatten().map(|e| dir_bytes(&e.path()) + 4096).sum())
            .unwrap_or(0)
    } else {
        meta.len().next_multiple_of(4096)
    }
}

fn sh_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-=,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn build_programs(dir: &Path) -> Result<()> {
    let cc = which("musl-gcc").ok_or("musl-gcc not found: run `cargo xtask setup`")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for p in PROGRAMS {
        let src = root().join(format!("tests/bench/{p}.c"));
        crate::run(
            Command::new(&cc)
                .args(["-static", "-O2", "-Wall", "-o"])
                .arg(dir.join(p))
                .arg(src),
        )?;
    }
    Ok(())
}

/// `cargo xtask bench --peers`: install the peers from Debian (as root).
fn install_peers(notes: &mut Vec<String>) {
    const PACKAGES: &[&str] = &["user-mode-linux", "runsc", "proot"];
    if !crate::is_root() {
        notes.push("--peers: not root, nothing installed".into());
        return;
    }
    let mut available = Vec::new();
    for p in PACKAGES {
        let policy = Command::new("apt-cache").args(["policy", p]).output();
        let candidate = policy.ok().and_then(|o| {
            String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
                l.trim()
                    .strip_prefix("Candidate:")
                    .map(|c| c.trim().to_string())
            })
        });
        match candidate {
            Some(c) if c != "(none)" => available.push(*p),
            _ => {
                let n = format!("--peers: Debian package {p} is not available here");
                println!("{n}");
                notes.push(n);
            }
        }
    }
    if available.is_empty() {
        return;
    }
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "--no-install-recommends"])
            .args(&available)
            .env("DEBIAN_FRONTEND", "noninteractive");
        crate::run(&mut c)
    };
    if install().is_err() {
        let _ = crate::run(
            Command::new("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"),
        );
        if let Err(e) = install() {
            notes.push(format!("--peers: {e}"));
        }
    }
}

fn systems(o: &Options, umbra: &Result<PathBuf>) -> Vec<System> {
    let missing = |what: &str| {
        Err(format!(
            "not installed ({what}; `cargo xtask bench --peers`)"
        ))
    };
    let need = |bin: &str, pkg: &str| which(bin).ok_or(()).or_else(|_| missing(pkg));
    let root_only = |s: std::result::Result<PathBuf, String>| {
        if crate::is_root() {
            s
        } else {
            Err("needs root (chroot)".into())
        }
    };
    let kvm = if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
    {
        need("runsc", "runsc")
    } else {
        Err("/dev/kvm unavailable".into())
    };
    let all = vec![
        System {
            id: "native",
            name: "native",
            kind: Kind::Native,
            status: root_only(which("chroot").ok_or_else(|| "chroot not found".to_string())),
        },
        System {
            id: "umbra",
            name: "umbra",
            kind: Kind::Umbra,
            status: umbra.clone(),
        },
        System {
            id: "umbra-seccomp",
            name: "umbra seccomp",
            kind: Kind::Umbra,
            status: umbra.clone(),
        },
        System {
            id: "floor",
            name: "SYSEMU floor",
            kind: Kind::Floor,
            status: Ok(PathBuf::new()),
        },
        System {
            id: "proot",
            name: "PRoot",
            kind: Kind::Proot,
            status: need("proot", "proot"),
        },
        System {
            id: "gvisor-ptrace",
            name: "gVisor ptrace",
            kind: Kind::Gvisor("ptrace"),
            status: need("runsc", "runsc"),
        },
        System {
            id: "gvisor-kvm",
            name: "gVisor kvm",
            kind: Kind::Gvisor("kvm"),
            status: kvm,
        },
        System {
            id: "uml",
            name: "UML",
            kind: Kind::Uml,
            status: need("linux", "user-mode-linux"),
        },
    ];
    all.into_iter()
        .filter(|s| {
            s.kind == Kind::Native
                || match &o.systems {
                    None => true,
                    Some(l) => l.iter().any(|x| x == s.id),
                }
        })
        .collect()
}

struct Paths {
    taskset: PathBuf,
    root: PathBuf,
    cpio: PathBuf,
    /// Only /bench/true, /dev and /tmp: umbra's start-up root (see below).
    start_cpio: PathBuf,
    /// An ext2 image of the dynamic `true`, its linker and libraries.
    start_dyn_img: PathBuf,
    img: PathBuf,
    /// The Debian image's cache directory (`tree/`, `debian.img`).
    debian: Option<PathBuf>,
    /// The podman image store of images/podman/import.sh.
    podman_store: Option<PathBuf>,
    cpu: String,
    /// The `taskset -c` list: `cpu`, or every CPU when unpinned.
    cpus: String,
    unpinned: bool,
}

/// podman's private directories for the podman workloads (its --runroot
/// must be at most 50 bytes long, so not under target/).
const PODMAN_DIR: &str = "/tmp/umbra-bench-podman";

/// The podman workloads' command after `taskset`: podman in a mount
/// namespace with a /run of its own (podman writes /run/containers and
/// /run/libpod, runc /run/runc, runsc /run/runsc), private storage with the
/// image store read-only, no network (no netavark, no iptables), and the
/// cgroup and rlimit settings this machine needs (see tests/e2e_podman.rs);
/// `runtime` is the runtime binary and its flags.
fn podman_command(store: &Path, runtime: &[String], argv: &[String]) -> Vec<String> {
    let mut v: Vec<String> = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t tmpfs -o mode=755 tmpfs /run && exec \"$0\" \"$@\"",
        "podman",
        "--root",
        &format!("{PODMAN_DIR}/root"),
        "--runroot",
        &format!("{PODMAN_DIR}/run"),
        "--tmpdir",
        &format!("{PODMAN_DIR}/tmp"),
        "--storage-driver",
        "overlay",
        "--storage-opt",
        &format!("overlay.imagestore={}", store.display()),
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("--runtime".into());
    v.extend(runtime.iter().cloned());
    v.extend(
        [
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "never",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "localhost/umbra-debian:latest",
        ]
        .map(String::from),
    );
    v.extend(argv.iter().cloned());
    v
}

/// The host command that runs `wl` on `sys`, or None where it does not apply.
/// The `umbra-seccomp` system is umbra with `--platform seccomp` (issue 13),
/// the `umbra` one with `--platform ptrace`. `--unpinned`: umbra gets no
/// `--cpu`.
fn command(sys: &System, wl: &Workload, p: &Paths) -> Option<Vec<String>> {
    let mut v = command_of(sys, wl, p)?;
    if p.unpinned && sys.kind == Kind::Umbra {
        // umbra's own choice of CPUs (the ptrace platform pins itself to
        // the one it starts on).
        if let Some(i) = v.iter().position(|a| a == "--cpu") {
            v.drain(i..i + 2);
        }
    }
    if sys.kind == Kind::Umbra && !wl.name.starts_with("podman_") {
        // Each column one platform, whatever `--platform auto` would pick
        // (podman runs umbra as its OCI runtime: no `umbra run` there).
        if let Some(i) = v.iter().position(|a| a == "run") {
            let platform = if sys.id == "umbra-seccomp" {
                "seccomp"
            } else {
                "ptrace"
            };
            v.insert(i + 1, "--platform".into());
            v.insert(i + 2, platform.into());
        }
    }
    Some(v)
}

fn command_of(sys: &System, wl: &Workload, p: &Paths) -> Option<Vec<String>> {
    let bin = sys.status.as_ref().ok()?.display().to_string();
    if wl.name.starts_with("floor_") && sys.kind != Kind::Native {
        return None;
    }
    let mut v = vec![p.taskset.display().to_string(), "-c".into(), p.cpus.clone()];
    let root = p.root.display().to_string();
    if wl.name.starts_with("podman_") {
        let store = p.podman_store.as_ref()?;
        let runtime = match sys.kind {
            Kind::Native => vec![which("runc")?.display().to_string()],
            Kind::Umbra => vec![bin],
            // runsc's sandbox network needs a network namespace of its own
            // with interfaces to take over; --network none has only lo.
            Kind::Gvisor(platform) => vec![
                bin,
                "--runtime-flag".into(),
                format!("platform={platform}"),
                "--runtime-flag".into(),
                "network=none".into(),
            ],
            _ => return None,
        };
        v.extend(podman_command(store, &runtime, &wl.argv));
        return Some(v);
    }
    if wl.name == "bash_loop" {
        let d = p.debian.as_ref()?;
        match sys.kind {
            Kind::Native => v.extend([bin, d.join("tree").display().to_string()]),
            Kind::Umbra => v.extend([
                bin,
                "run".into(),
                "--cpu".into(),
                p.cpu.clone(),
                "--image".into(),
                d.join("debian.img").display().to_string(),
                "--env".into(),
                "PATH=/usr/bin:/bin".into(),
                "--".into(),
            ]),
            _ => return None,
        }
        v.extend(wl.argv.iter().cloned());
        return Some(v);
    }
    match sys.kind {
        Kind::Native => v.extend([bin, root]),
        Kind::Floor => {
            if wl.name != "getppid" {
                return None;
            }
            let floor = p.root.join("bench/sysemu_floor").display().to_string();
            let prog = p.root.join("bench/getppid").display().to_string();
            v.extend([floor, "-c".into(), p.cpu.clone(), prog]);
            v.extend(wl.argv[1..].iter().cloned());
            return Some(v);
        }
        Kind::Umbra => v.extend([
            bin,
            "run".into(),
            "--cpu".into(),
            p.cpu.clone(),
            if wl.name == "start_dyn" {
                "--image".into()
            } else {
                "--initrd".into()
            },
            // Start-up would otherwise time unpacking the 14 MB initrd (the
            // macro inputs) into tmpfs, a cost of initrd roots that the
            // other systems, reading their root lazily, do not pay.
            if wl.name == "start_dyn" {
                p.start_dyn_img.display().to_string()
            } else if wl.group == Group::Startup {
                p.start_cpio.display().to_string()
            } else {
                p.cpio.display().to_string()
            },
            "--env".into(),
            "PATH=/bin".into(),
            "--".into(),
        ]),
        Kind::Proot => v.extend([bin, "-r".into(), root, "-w".into(), "/".into()]),
        Kind::Gvisor(platform) => v.extend([
            bin,
            "--network=none".into(),
            "--ignore-cgroups".into(),
            format!("--platform={platform}"),
            "do".into(),
            "-root".into(),
            root,
            "-cwd".into(),
            "/".into(),
            "-quiet".into(),
        ]),
        Kind::Uml => {
            v.extend([
                bin,
                format!("ubd0r={}", p.img.display()),
                "root=/dev/ubda".into(),
                "ro".into(),
                format!("mem={UML_MEM}"),
                format!("init=/bench/uml/{}.sh", wl.name),
                "quiet".into(),
                "con0=fd:0,fd:1".into(),
                "con=null".into(),
            ]);
            return Some(v);
        }
    }
    v.extend(wl.argv.iter().cloned());
    if wl.name.starts_with("tcp_") && matches!(sys.kind, Kind::Native | Kind::Proot) {
        // The host's own TCP needs 127.0.0.1, which this machine's lo lacks:
        // a fresh network namespace with lo up has it.
        let mut w: Vec<String> = [
            "unshare",
            "-n",
            "sh",
            "-c",
            "ip link set lo up && exec \"$@\"",
            "sh",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        w.extend(v);
        return Some(w);
    }
    Some(v)
}

fn timeout(sys: &System, wl: &Workload, quick: bool) -> Duration {
    let base = match wl.group {
        Group::Micro | Group::Startup => 60,
        Group::Macro => 240,
    };
    let uml = if sys.kind == Kind::Uml { 30 } else { 0 };
    Duration::from_secs(if quick { base / 2 } else { base } + uml)
}

fn execute(cmd: &[String], t: Duration, sample: bool) -> std::result::Result<Outcome, String> {
    // Sampled commands run under the maxrss wrapper (see bench()).
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..])
        .env_clear()
        .env("PATH", "/bin")
        .env("HOME", "/root")
        .current_dir("/");
    // The seccomp spin's knobs (shim/src/host/seccomp.rs), to measure it
    // whatever the host's load.
    for k in ["UMBRA_SPIN_CPUS", "UMBRA_SPIN_NS", "UMBRA_SPIN_MOVE_AFTER"] {
        if let Some(v) = std::env::var_os(k) {
            c.env(k, v);
        }
    }
    procs::run_sampled(&mut c, t, sample, sample)
}

/// The `maxrss-kb N` line of tests/bench/maxrss.
fn maxrss_line(out: &Outcome) -> Option<u64> {
    out.stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss-kb ")?.trim().parse::<u64>().ok())
}

/// One run's number, or why there is none.
fn evaluate(sys: &System, wl: &Workload, out: &Outcome) -> std::result::Result<f64, String> {
    let short = |s: String| {
        let s = s.replace('\n', " ");
        if s.chars().count() > 160 {
            format!("{}…", s.chars().take(160).collect::<String>())
        } else {
            s
        }
    };
    if out.exit == Exit::TimedOut {
        return Err(format!("timed out after {:.0} s", out.wall.as_secs_f64()));
    }
    let (stdout, ok) = if sys.kind == Kind::Uml {
        // The workload's output sits between the init script's markers.
        let text = out.stdout.replace('\r', "");
        let begin = text.find("BENCH-BEGIN\n");
        let end = text.find("BENCH-END ");
        match (begin, end) {
            (Some(b), Some(e)) if e > b => {
                let rc = text[e + 10..]
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                (text[b + 12..e].to_string(), rc == "0")
            }
            _ => return Err(short(format!("UML: no workload markers; {}", out.reason()))),
        }
    } else {
        (out.stdout.clone(), out.exit == Exit::Code(0))
    };
    if !ok {
        return Err(short(out.reason()));
    }
    let bad = |what: &str| short(format!("{what}; stdout {:?}", stdout.trim()));
    match &wl.metric {
        Metric::Printed(prefix) => stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix)?.trim().parse::<f64>().ok())
            .ok_or_else(|| bad(&format!("no `{prefix} <number>` line"))),
        Metric::Stamps(check) => {
            let stamps: Vec<f64> = stdout
                .lines()
                .filter_map(|l| l.strip_prefix("stamp ")?.trim().parse().ok())
                .collect();
            let got = stdout.lines().find(|l| l.starts_with("check"));
            if got.map(str::trim) != Some(check.as_str()) {
                return Err(bad(&format!("wrong output (want `{check}`)")));
            }
            match stamps[..] {
                [a, b] if b >= a => Ok((b - a) / 1e6),
                _ => Err(bad("want two stamps")),
            }
        }
        Metric::Wall => Ok(out.wall.as_secs_f64() * 1e3),
        Metric::PeakPss => {
            // A run shorter than a sampling period has no PSS sample: its
            // ru_maxrss (>= its PSS) stands in.
            if out.peak_pss_kb > 0 {
                return Ok(out.peak_pss_kb as f64 / 1024.0);
            }
            maxrss_line(out)
                .map(|kb| kb as f64 / 1024.0)
                .ok_or_else(|| "no PSS sample and no maxrss line".into())
        }
        Metric::PeakRss => {
            // The command runs under tests/bench/maxrss (see procs.rs): the
            // wrapper itself is left out of the sum, and its exact ru_maxrss
            // of the largest process is the floor of the result.
            let exact = maxrss_line(out).unwrap_or(0);
            let sum: u64 = out
                .peaks
                .iter()
                .filter(|p| p.pid != out.pid)
                .map(|p| p.hwm_kb)
                .sum();
            Ok(sum.max(exact) as f64 / 1024.0)
        }
    }
}

pub fn bench(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let mut notes = Vec::new();
    if o.peers {
        install_peers(&mut notes);
    }
    let taskset = which("taskset").ok_or("taskset not found: install util-linux")?;
    let dir = target_dir().join("bench");
    let bin = dir.join("bin");
    build_programs(&bin)?;
    // UMBRA_BIN measures another build (as in the e2e tests) instead.
    let umbra = match std::env::var_os("UMBRA_BIN") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!("UMBRA_BIN={} is not a file", p.display()))
            }
        }
        None => build_umbra_release(),
    };
    if let Err(e) = &umbra {
        println!("bench: umbra unavailable, measuring without it: {e}");
    }
    let budget = if o.quick { 50 } else { 300 };
    let mut wls = workloads(budget);
    let dyn_files = dynamic_true().unwrap_or_else(|e| {
        notes.push(format!("no dynamic start-up workload: {e}"));
        wls.retain(|w| w.name != "start_dyn");
        Vec::new()
    });
    let wanted = |name: &str| {
        o.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|x| x == name))
    };
    let debian = if wanted("bash_loop") {
        crate::debian::debian_image()
            .map_err(|e| notes.push(format!("no Debian image workload: {e}")))
            .ok()
    } else {
        None
    };
    if debian.is_none() {
        wls.retain(|w| w.name != "bash_loop");
    }
    let podman_store = if wls
        .iter()
        .any(|w| w.name.starts_with("podman_") && wanted(w.name))
    {
        podman_image()
            .map_err(|e| {
                let n = format!("podman workloads skipped: {e}");
                println!("bench: {n}");
                notes.push(n);
            })
            .ok()
    } else {
        None
    };
    if podman_store.is_none() {
        wls.retain(|w| !w.name.starts_with("podman_"));
    }
    let root = build_root(&dir, &bin, &wls, &dyn_files)?;
    let dev_errors = make_dev_nodes(&root);
    if !dev_errors.is_empty() {
        notes.push(format!(
            "no device nodes in the root for native/PRoot: {}",
            dev_errors.join("; ")
        ));
    }
    let cpio = dir.join("bench.cpio");
    root_cpio(&root, &cpio)?;
    let start_cpio = dir.join("start.cpio");
    let mut rd = initrd::Initrd::new();
    rd.copy("bench/true", &bin.join("true"))
        .map_err(|e| e.to_string())?
        .dir("dev", 0o755)
        .dir("tmp", 0o1777);
    rd.write(&start_cpio)
        .map_err(|e| format!("{}: {e}", start_cpio.display()))?;
    // The dynamic start-up's root is an ext2 image (read lazily, as the
    // other systems read theirs): from an initrd, unpacking libc into tmpfs
    // would be most of what it timed.
    let start_dyn_img = dir.join("start_dyn.ext2");
    if !dyn_files.is_empty() {
        let d = dir.join("start_dyn");
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        for (path, from) in &dyn_files {
            let to = d.join(path);
            std::fs::create_dir_all(to.parent().expect("has a parent"))
                .and_then(|()| std::fs::copy(from, &to).map(|_| ()))
                .map_err(|e| format!("{}: {e}", to.display()))?;
        }
        for sub in ["dev", "tmp"] {
            std::fs::create_dir_all(d.join(sub)).map_err(|e| format!("{sub}: {e}"))?;
        }
        root_ext2(&d, &start_dyn_img)?;
    }
    let mut syss = systems(&o, &umbra);
    let img = dir.join("bench.ext2");
    if let Some(uml) = syss
        .iter_mut()
        .find(|s| s.kind == Kind::Uml && s.status.is_ok())
    {
        if let Err(e) = root_ext2(&root, &img) {
            uml.status = Err(e);
        }
    }
    let _tmp_mount = match TmpMount::new(&root) {
        Ok(m) => Some(m),
        Err(e) => {
            notes.push(format!("native and PRoot /tmp is on the host's disk: {e}"));
            None
        }
    };
    if let Some(only) = &o.only {
        wls.retain(|w| only.iter().any(|x| x == w.name));
    }
    let paths = Paths {
        taskset,
        root,
        cpio,
        start_cpio,
        start_dyn_img,
        img,
        debian,
        podman_store,
        cpu: o.cpu.to_string(),
        cpus: if o.unpinned {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            format!("0-{}", cores - 1)
        } else {
            o.cpu.to_string()
        },
        unpinned: o.unpinned,
    };

    // A peer that cannot start a static `true` is not measured further.
    let probe = workloads(budget)
        .into_iter()
        .find(|w| w.name == "start")
        .expect("the start-up workload exists");
    for s in syss.iter_mut() {
        if matches!(s.kind, Kind::Floor) || s.status.is_err() {
            continue;
        }
        let Some(cmd) = command(s, &probe, &paths) else {
            continue;
        };
        let t = Duration::from_secs(if s.kind == Kind::Uml { 90 } else { 30 });
        let r = execute(&cmd, t, false).and_then(|out| evaluate(s, &probe, &out));
        match r {
            Ok(ms) => println!("probe {}: ok ({ms:.1} ms)", s.name),
            Err(e) => {
                println!(
                    "probe {}: FAILED: {e}\n  command: {}",
                    s.name,
                    cmd.join(" ")
                );
                s.status = Err(format!("cannot run a static true: {e}"));
            }
        }
    }

    let mut cells: Vec<Vec<Cell>> = wls
        .iter()
        .map(|w| {
            syss.iter()
                .map(|s| {
                    let command = command(s, w, &paths).unwrap_or_default();
                    Cell {
                        applicable: !command.is_empty(),
                        command,
                        ..Cell::default()
                    }
                })
                .collect()
        })
        .collect();
    for run in 0..o.runs {
        for (wi, wl) in wls.iter().enumerate() {
            for (si, sys) in syss.iter().enumerate() {
                let cell = &mut cells[wi][si];
                // A workload that failed on a system is not retried there.
                if !cell.applicable || sys.status.is_err() || !cell.errors.is_empty() {
                    continue;
                }
                let sample = matches!(wl.metric, Metric::PeakRss | Metric::PeakPss);
                let mut cmd = cell.command.clone();
                if sample {
                    cmd.insert(0, paths.root.join("bench/maxrss").display().to_string());
                    if wl.name.starts_with("podman_") {
                        // conmon daemonizes: keep it and the container in
                        // the sampled tree.
                        cmd.insert(1, "-s".into());
                    }
                }
                let r = execute(&cmd, timeout(sys, wl, o.quick), sample)
                    .and_then(|out| evaluate(sys, wl, &out));
                match r {
                    Ok(v) => {
                        println!("run {} {} {}: {v:.1} {}", run + 1, wl.name, sys.id, wl.unit);
                        cell.values.push(v);
                    }
                    Err(e) => {
                        println!("run {} {} {}: failed: {e}", run + 1, wl.name, sys.id);
                        cell.errors.push(e);
                    }
                }
            }
        }
    }

    let results = Results {
        workloads: wls,
        systems: syss,
        cells,
        machine: report::Machine::probe(o.cpu, o.unpinned),
        notes,
        options: o,
        args: args.to_vec(),
    };
    report::write_all(&results, &dir)?;
    if results
        .workloads
        .iter()
        .any(|w| w.name.starts_with("podman_"))
    {
        let _ = std::fs::remove_dir_all(PODMAN_DIR);
    }
    // Shows the command line of one system for the record.
    if let Some(s) = results.systems.iter().find(|s| s.kind == Kind::Umbra) {
        if let Some(c) = results.cells.first().and_then(|r| {
            results
                .systems
                .iter()
                .position(|x| x.id == s.id)
                .map(|i| &r[i].command)
        }) {
            println!("umbra command line: {}", show_vec(c));
        }
    }
    Ok(())
}

/// The image store of images/podman/import.sh (the Debian tree imported
/// with `podman import`, cached), or why the podman workloads cannot run.
fn podman_image() -> Result<PathBuf> {
    if which("podman").is_none() {
        return Err("podman is not installed (`cargo xtask setup` installs it)".into());
    }
    if !crate::is_root() {
        return Err("podman runs here as root only".into());
    }
    let script = root().join("images/podman/import.sh");
    let out = Command::new(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", script.display(), out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let store = PathBuf::from(text.lines().last().unwrap_or("").trim()).join("storage");
    if store.is_dir() {
        Ok(store)
    } else {
        Err(format!("{} made no image store", script.display()))
    }
}

fn show_vec(v: &[String]) -> String {
    let mut c = Command::new(v.first().map_or("", String::as_str));
    c.args(v.iter().skip(1));
    show(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(exit: Exit, stdout: &str) -> Outcome {
        Outcome {
            pid: 1,
            exit,
            wall: Duration::from_millis(5),
            stdout: stdout.into(),
            stderr: "umbra: fork: ENOSYS\n".into(),
            peaks: Vec::new(),
            peak_pss_kb: 0,
        }
    }

    fn system(kind: Kind) -> System {
        System {
            id: "x",
            name: "x",
            kind,
            status: Ok(PathBuf::new()),
        }
    }

    fn workload(name: &str) -> Workload {
        workloads(10)
            .into_iter()
            .find(|w| w.name == name)
            .expect("workload exists")
    }

    #[test]
    fn failures_are_detected_not_listed() {
        let umbra = system(Kind::Umbra);
        let fork = workload("fork");
        assert_eq!(
            evaluate(&umbra, &fork, &outcome(Exit::Code(0), "ns/op 12.5\n")),
            Ok(12.5)
        );
        let e = evaluate(&umbra, &fork, &outcome(Exit::Code(1), "")).unwrap_err();
        assert!(e.contains("exit 1") && e.contains("ENOSYS"), "{e}");
        assert!(evaluate(&umbra, &fork, &outcome(Exit::Code(0), "garbage\n")).is_err());
        assert!(evaluate(&umbra, &fork, &outcome(Exit::TimedOut, "")).is_err());
    }

    #[test]
    fn stamps_and_checks() {
        let s = system(Kind::Native);
        let w = workload("shloop");
        let good = "stamp 1000000\nstamp 3000000\ncheck 20000\n";
        assert_eq!(evaluate(&s, &w, &outcome(Exit::Code(0), good)), Ok(2.0));
        let wrong = "stamp 1000000\nstamp 3000000\ncheck 19999\n";
        assert!(evaluate(&s, &w, &outcome(Exit::Code(0), wrong)).is_err());
        assert!(evaluate(&s, &w, &outcome(Exit::Code(0), "check 20000\n")).is_err());
    }

    #[test]
    fn uml_output_between_markers() {
        let s = system(Kind::Uml);
        let w = workload("getppid");
        let ok = "boot noise\r\nBENCH-BEGIN\r\nns/op 7000.0\r\nBENCH-END 0\r\nreboot\r\n";
        assert_eq!(evaluate(&s, &w, &outcome(Exit::Code(0), ok)), Ok(7000.0));
        let bad = "BENCH-BEGIN\nns/op 7000.0\nBENCH-END 127\n";
        assert!(evaluate(&s, &w, &outcome(Exit::Code(0), bad)).is_err());
        assert!(evaluate(&s, &w, &outcome(Exit::Code(0), "Kernel panic\n")).is_err());
    }

    #[test]
    fn inputs_are_deterministic() {
        assert_eq!(sort_text(), sort_text());
        assert!(sort_text().len() >= SORT_BYTES);
        assert_eq!(sh_quote("/bin/sh"), "/bin/sh");
        assert_eq!(sh_quote("a b'c"), "'a b'\\''c'");
    }
}
