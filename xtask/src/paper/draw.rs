//! Table 2 of the paper: drawing speed. The paper ran xengine, an Xlib
//! program that animates a rotating engine, as a guest X client drawing on
//! the host's X server, and reported its speed as 0.89× the host's.
//!
//! xengine is not packaged in Debian, so images/paper/xengine.c does what it
//! does (written for umbra, not its code): a four-cylinder engine
//! (crankshaft, webs, connecting rods, pistons in their bores) drawn with
//! Xlib lines, arcs, rectangles and polygons into a pixmap, copied to the
//! window with XCopyArea, with XSync after every frame, for a fixed time;
//! it prints frames and revolutions per minute (36 frames a revolution).
//!
//! It is built once with gcc, statically against Debian's libX11, libxcb,
//! libXau and libXdmcp, so the same binary runs natively and in the guest
//! (from a `--root` directory holding only it). Both draw on one Xvfb
//! (`-nolisten tcp`, a display of its own) on the host; the guest reaches it
//! through `--unix-socket /tmp/.X11-unix/XN:/tmp/.X11-unix/X0` with
//! DISPLAY=:0. First both runs draw 30 frames and read each back
//! (`xengine -n 30`): their checksums must be equal, or the table is not
//! measured. Then the timed runs alternate, native then umbra, and the
//! table gives the medians:
//!
//! - unpinned: the client (or umbra and its stub) and Xvfb wherever the host
//!   schedules them, on this machine's 2 CPUs;
//! - one CPU: Xvfb, the client, umbra and its stub all pinned to CPU 1
//!   (`taskset -c 1`, `umbra run --cpu 1`), as `cargo xtask bench` pins, and
//!   as the paper's PDA had one CPU.
//!
//! One more umbra run with `--stats` is kept as target/paper/table2-stats.txt:
//! the syscalls per frame and the time umbra spent on them explain the gap.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Ctx, Row, Table};
use crate::run as run_cmd;
use crate::{build_umbra_release, is_root, root, which, Result};

/// Frames per revolution in xengine.c.
const STEPS: f64 = 36.0;

/// The xengine the table runs: built from images/paper/xengine.c into
/// `out/xengine/xengine`, in a directory of its own that is the guest's
/// root.
fn build_xengine(out: &Path) -> Result<PathBuf> {
    let dir = out.join("xengine");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let bin = dir.join("xengine");
    run_cmd(
        Command::new("gcc")
            .args(["-O2", "-static", "-o"])
            .arg(&bin)
            .arg(root().join("images/paper/xengine.c"))
            .args(["-lX11", "-lxcb", "-lXau", "-lXdmcp", "-lm"]),
    )?;
    // The trap round trip the gap is made of: `cargo xtask bench`'s
    // getppid loop, beside xengine in the guest's root.
    run_cmd(
        Command::new("gcc")
            .args(["-O2", "-static", "-I"])
            .arg(root().join("tests/bench"))
            .arg("-o")
            .arg(dir.join("getppid"))
            .arg(root().join("tests/bench/getppid.c")),
    )?;
    Ok(dir)
}

/// Installs gcc, libx11-dev and xvfb if missing (as root, like `setup`).
fn ensure_packages() -> Result<()> {
    let mut missing = Vec::new();
    if which("gcc").is_none() {
        missing.push("gcc");
    }
    if !Path::new("/usr/include/X11/Xlib.h").exists() {
        missing.push("libx11-dev");
    }
    if which("Xvfb").is_none() {
        missing.push("xvfb");
    }
    if which("taskset").is_none() {
        missing.push("util-linux");
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(format!("missing: apt-get install {}", missing.join(" ")));
    }
    let install = || {
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_err() {
        run_cmd(
            Command::new("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        install()?;
    }
    Ok(())
}

/// An Xvfb on a free display, ended when dropped.
struct Xvfb {
    child: Child,
    display: u32,
    cpu: Option<&'static str>,
}

impl Xvfb {
    /// Starts Xvfb (pinned to `cpu` if given) on the first free display
    /// from one derived from our pid, and waits for its socket.
    fn start(cpu: Option<&'static str>) -> Result<Xvfb> {
        let base = 150 + std::process::id() % 400;
        for display in base..base + 50 {
            let sock = x_socket(display);
            if sock.exists() || Path::new(&format!("/tmp/.X{display}-lock")).exists() {
                continue;
            }
            let mut cmd = match cpu {
                Some(c) => {
                    let mut t = Command::new("taskset");
                    t.args(["-c", c, "Xvfb"]);
                    t
                }
                None => Command::new("Xvfb"),
            };
            let mut child = cmd
                .arg(format!(":{display}"))
                .args(["-nolisten", "tcp", "-screen", "0", "640x480x24"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start Xvfb: {e}"))?;
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if sock.exists() {
                    return Ok(Xvfb {
                        child,
                        display,
                        cpu,
                    });
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        Err(format!(
            "no Xvfb could be started on displays :{base} to :{}",
            base + 49
        ))
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM first, so it removes its socket and lock file.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t0 = Instant::now();
        while self.alive() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn x_socket(display: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X11-unix/X{display}"))
}

/// How one side is run.
struct Side<'a> {
    umbra: &'a Path,
    xengine: &'a Path,
    display: u32,
    /// CPU to pin to, or None.
    cpu: Option<&'a str>,
}

impl Side<'_> {
    fn native(&self, args: &[&str]) -> Command {
        self.native_prog("xengine", args)
    }

    /// `prog` of the guest's root (xengine, getppid), run natively.
    fn native_prog(&self, prog: &str, args: &[&str]) -> Command {
        let mut c = match self.cpu {
            Some(cpu) => {
                let mut t = Command::new("taskset");
                t.args(["-c", cpu]).arg(self.xengine.join(prog));
                t
            }
            None => Command::new(self.xengine.join(prog)),
        };
        c.env_clear()
            .env("DISPLAY", format!(":{}", self.display))
            .args(args);
        c
    }

    fn umbra(&self, flags: &[&str], args: &[&str]) -> Command {
        self.umbra_prog("xengine", flags, args)
    }

    /// `prog` of the guest's root, run under umbra as xengine is.
    fn umbra_prog(&self, prog: &str, flags: &[&str], args: &[&str]) -> Command {
        let mut c = Command::new(self.umbra);
        c.arg("run");
        if let Some(cpu) = self.cpu {
            c.args(["--cpu", cpu]);
        }
        c.arg("--root")
            .arg(self.xengine)
            .arg("--unix-socket")
            .arg(format!(
                "{}:/tmp/.X11-unix/X0",
                x_socket(self.display).display()
            ))
            .args(["--env", "DISPLAY=:0", "--quiet-unsupported"])
            .args(flags)
            .arg("--")
            .arg(format!("/{prog}"))
            .args(args);
        match self.cpu {
            // umbra pins itself and its stubs (--cpu); taskset pins its start.
            Some(cpu) => {
                let mut t = Command::new("taskset");
                t.args(["-c", cpu]).arg(c.get_program()).args(c.get_args());
                t
            }
            None => c,
        }
    }
}

/// Runs `cmd` and returns (stdout, stderr), or an error if it failed.
fn output(cmd: &mut Command) -> Result<(String, String)> {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    if !o.status.success() {
        return Err(format!(
            "{} failed ({}): {out}{err}",
            crate::show(cmd),
            o.status
        ));
    }
    Ok((out, err))
}

/// The RPM of a timed run's line "frames N seconds S rpm R", recomputed
/// from frames and seconds.
fn rpm(line: &str) -> Result<f64> {
    let f: Vec<&str> = line.split_whitespace().collect();
    match f.as_slice() {
        ["frames", n, "seconds", s, "rpm", _] => {
            let n: f64 = n.parse().map_err(|_| format!("bad output: {line}"))?;
            let s: f64 = s.parse().map_err(|_| format!("bad output: {line}"))?;
            if n <= 0.0 || s <= 0.0 {
                return Err(format!("no frames: {line}"));
            }
            Ok(n / STEPS / s * 60.0)
        }
        _ => Err(format!("bad output: {line}")),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `make(side)` against `x`; if it fails because the Xvfb is gone
/// (this machine is shared, and one was seen to vanish mid-table), starts
/// another and tries again, twice at most.
fn with_x<T>(x: &mut Xvfb, base: &Side, what: impl Fn(&Side) -> Result<T>) -> Result<T> {
    let mut tries = 0;
    loop {
        let side = Side {
            display: x.display,
            ..*base
        };
        match what(&side) {
            Ok(v) => return Ok(v),
            Err(e) if tries < 2 && !x.alive() => {
                eprintln!(
                    "table2: Xvfb :{} is gone ({e}); starting another",
                    x.display
                );
                *x = Xvfb::start(x.cpu)?;
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The medians of `runs` alternating timed runs: (host RPM, umbra RPM, the
/// host runs, the umbra runs).
fn measure(
    x: &mut Xvfb,
    side: &Side,
    runs: usize,
    secs: &str,
) -> Result<(f64, f64, Vec<f64>, Vec<f64>)> {
    let (mut host, mut guest) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let o = with_x(x, side, |s| output(&mut s.native(&["-t", secs])))?;
        host.push(rpm(&o.0)?);
        let o = with_x(x, side, |s| output(&mut s.umbra(&[], &["-t", secs])))?;
        guest.push(rpm(&o.0)?);
        eprintln!(
            "table2: run {}/{runs}{}: host {:.0} rpm, umbra {:.0} rpm",
            i + 1,
            if side.cpu.is_some() { " (one CPU)" } else { "" },
            host[i],
            guest[i]
        );
    }
    let (h, u) = (median(&mut host.clone()), median(&mut guest.clone()));
    Ok((h, u, host, guest))
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Table 2.
pub fn run(ctx: &Ctx) -> Result<Table> {
    ensure_packages()?;
    let umbra = build_umbra_release()?;
    let xengine = build_xengine(&ctx.out)?;
    let runs = if ctx.quick { 3 } else { ctx.runs.max(1) };
    let secs = if ctx.quick { "2" } else { "5" };
    let mut table = Table {
        id: "table2".into(),
        title: "Table 2: drawing speed (xengine)".into(),
        method: format!(
            "images/paper/xengine.c (an xengine-like Xlib client: a rotating four-cylinder \
             engine drawn with lines, arcs and polygons into a 400×400 pixmap, XCopyArea to \
             the window, XSync each frame; 36 frames a revolution), built statically with \
             gcc against Debian's libX11, draws for {secs} s on one Xvfb (-nolisten tcp, \
             640x480x24) natively and under `umbra run --root DIR --unix-socket \
             /tmp/.X11-unix/XN:/tmp/.X11-unix/X0 --env DISPLAY=:0`; {runs} alternating \
             runs each, medians of RPM. Both first draw 30 frames and read each back: same \
             checksum. \"one CPU\": Xvfb, client, umbra and its stub all pinned to CPU 1 \
             (taskset -c 1, --cpu 1), as the paper's one-CPU PDA and `cargo xtask bench`; \
             \"unpinned\": left to the host's scheduler on 2 CPUs. The syscall counts and \
             times behind the gap are from `umbra run --stats` (table2-stats.txt)."
        ),
        ..Table::default()
    };

    let mut stats_text = String::new();
    let load_before = super::browser::loadavg();
    for cpu in [Some("1"), None] {
        let mut x = Xvfb::start(cpu)?;
        let side = Side {
            umbra: &umbra,
            xengine: &xengine,
            display: x.display,
            cpu,
        };
        let (n, _) = with_x(&mut x, &side, |s| output(&mut s.native(&["-n", "30"])))?;
        let (u, e) = with_x(&mut x, &side, |s| output(&mut s.umbra(&[], &["-n", "30"])))?;
        if n != u || !n.starts_with("frames 30 checksum ") {
            return Err(format!(
                "xengine drew differently: native '{}', umbra '{}' {e}",
                n.trim(),
                u.trim()
            ));
        }
        let (h, g, hs, gs) = measure(&mut x, &side, runs, secs)?;
        let label = if cpu.is_some() { "one CPU" } else { "unpinned" };
        let ratio = g / h;
        let (so, se) = with_x(&mut x, &side, |s| {
            output(&mut s.umbra(&["--stats"], &["-t", secs]))
        })?;
        stats_text.push_str(&format!(
            "$ umbra run{} --stats ... -- /xengine -t {secs}\n{so}{se}\n",
            if cpu.is_some() { " --cpu 1" } else { "" }
        ));
        let trip = round_trip(&mut x, &side).map_err(|e| eprintln!("table2: getppid: {e}"));
        if let Ok((n, u)) = trip {
            stats_text.push_str(&format!(
                "getppid round trip{}: native {n:.2} us, umbra {u:.2} us (medians of 3)\n\n",
                if cpu.is_some() { " (one CPU)" } else { "" }
            ));
        }
        let mut r = Row::new(&format!("xengine, umbra / host ({label})"), "×");
        r.note = explain(&so, &se, h, g, trip.ok()).unwrap_or_default();
        r.paper = Some(0.89);
        r.host = Some(1.0);
        r.umbra = Some(ratio);
        r.ratio = Some(ratio);
        r.target = "≥ 0.95×".into();
        r.met = Some(ratio >= 0.95);
        table.rows.push(r);
        let mut r = Row::new(&format!("xengine speed ({label})"), "rpm");
        r.host = Some(h);
        r.umbra = Some(g);
        r.ratio = Some(ratio);
        r.note = format!("host runs: {}; umbra runs: {}", list(&hs), list(&gs));
        table.rows.push(r);
    }
    let path = ctx.out.join("table2-stats.txt");
    std::fs::write(&path, &stats_text).map_err(|e| format!("{}: {e}", path.display()))?;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    table.method.push_str(&format!(
        " The --stats runs (one per setting) are in {}. umbra runs with its default \
         `--platform auto`, which takes the seccomp platform only without `--cpu` and with a \
         CPU to spare (load average below the CPUs minus one), else ptrace; each row's note \
         names the platform its --stats run used. The trap round trip in the notes is \
         tests/bench/getppid.c (`cargo xtask bench`'s) under the same setting, the median of \
         3 runs natively and under umbra. This run: load average {load_before} at its start \
         and {} at its end, on {cpus} CPUs (a loaded machine makes every figure noisy).",
        path.display(),
        super::browser::loadavg()
    ));
    Ok(table)
}

/// The median getppid round trip, natively and under umbra, in µs, of 3
/// alternating runs of tests/bench/getppid.c (300 ms each) on `side`.
fn round_trip(x: &mut Xvfb, side: &Side) -> Result<(f64, f64)> {
    let ns = |o: &str| -> Result<f64> {
        o.trim()
            .strip_prefix("ns/op ")
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("bad getppid output: {o}"))
    };
    let (mut n, mut u) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let o = with_x(x, side, |s| output(&mut s.native_prog("getppid", &["300"])))?;
        n.push(ns(&o.0)? / 1000.0);
        let o = with_x(x, side, |s| {
            output(&mut s.umbra_prog("getppid", &[], &["300"]))
        })?;
        u.push(ns(&o.0)? / 1000.0);
    }
    Ok((median(&mut n), median(&mut u)))
}

// ---------------------------------------------------------------------------
// arm64 (`cargo xtask paper --arm64`): Table 2 inside the emulated arm64
// machine of `cargo xtask test-arm` (images/arm/paper-x.sh). Xvfb,
// xengine natively and xengine under umbra all run in the machine.

/// umbra's target on arm64.
const ARM64_TARGET: &str = "aarch64-unknown-linux-musl";

/// Bumped when the way the arm64 directories are made changes (part of
/// their cache keys).
pub(super) const ARM64_RECIPE: &str =
    "paper arm64 recipe 1: apt-get -s install --no-install-recommends \
     on an empty arm64 system, apt-get download, dpkg-deb -x, docs pruned";

/// Debian's arm64 X library headers and static libraries that xengine (and
/// Table 3's xwatch) are cross-compiled against (the packages alone, not their dependencies).
const XLIB_DEV: &[&str] = &[
    "libx11-dev",
    "libxdamage-dev",
    "libxfixes-dev",
    "libxcb1-dev",
    "libxau-dev",
    "libxdmcp-dev",
    "x11proto-dev",
];

/// Xvfb's dependencies that Xvfb and xkbcomp do not load: Mesa's DRI
/// drivers (LLVM, Z3, ICU, libxml2, libdrm, sensors; Xvfb then runs
/// without GLX acceleration, as it only dlopens them), the xcb extensions
/// only those use, and packages of scripts. Every library the remaining
/// programs need (their DT_NEEDED, recursively) is still there.
const XVFB_LEAVE_OUT: &[&str] = &[
    "libllvm*",
    "libgl1-mesa-dri",
    "libglx-mesa0",
    "libglapi-mesa",
    "libz3-*",
    "libicu*",
    "libxml2",
    "libdrm*",
    "libsensors*",
    "libelf1",
    "libedit2",
    "libtinfo6",
    "libffi8",
    "libexpat1",
    "libstdc++6",
    "libx11-xcb1",
    "libxcb-dri2-0",
    "libxcb-dri3-0",
    "libxcb-glx0",
    "libxcb-present0",
    "libxcb-randr0",
    "libxcb-sync1",
    "libxcb-xfixes0",
    "libxcb-shm0",
    "libxshmfence1",
    "libxxf86vm1",
    "sysvinit-utils",
    "lsb-base",
];

pub(super) const DOCS: &[&str] = &[
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bug",
];

/// An X client of images/paper/ for aarch64: built by Debian's
/// aarch64-linux-gnu-gcc -O2, statically (the cross glibc of
/// libc6-dev-arm64-cross) against Debian's arm64 X libraries (`libs`, with
/// libxcb, libXau and libXdmcp after them), into `bin`.
pub(super) fn cross_x_client(src: &str, bin: &Path, libs: &[&str]) -> Result<()> {
    let dev = super::arm64::unpacked(&super::arm64::Unpack {
        name: "xlib-dev-arm64",
        recipe: ARM64_RECIPE,
        packages: XLIB_DEV,
        dependencies: false,
        leave_out: &[],
        prune: DOCS,
    })?;
    if let Some(dir) = bin.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // -idirafter: the cross compiler's own glibc headers come first.
    run_cmd(
        Command::new("aarch64-linux-gnu-gcc")
            .args(["-O2", "-static", "-idirafter"])
            .arg(dev.join("usr/include"))
            .arg(format!(
                "-L{}",
                dev.join("usr/lib/aarch64-linux-gnu").display()
            ))
            .arg("-o")
            .arg(bin)
            .arg(root().join("images/paper").join(src))
            .args(libs)
            .args(["-lxcb", "-lXau", "-lXdmcp", "-lm"]),
    )
}

/// xengine for aarch64 ([`cross_x_client`]), in `out/xengine-arm64/`, a
/// directory of its own that is the guest's root.
fn build_xengine_arm64(out: &Path) -> Result<PathBuf> {
    let dir = out.join("xengine-arm64");
    cross_x_client("xengine.c", &dir.join("xengine"), &["-lX11"])?;
    // The trap round trip, as on x86_64: `cargo xtask bench`'s getppid loop.
    run_cmd(
        Command::new("aarch64-linux-gnu-gcc")
            .args(["-O2", "-static", "-I"])
            .arg(root().join("tests/bench"))
            .arg("-o")
            .arg(dir.join("getppid"))
            .arg(root().join("tests/bench/getppid.c")),
    )?;
    Ok(dir)
}

/// What the arm64 X tables need on this host before the machine boots:
/// QEMU, qemu-user, the cross gcc, Debian's arm64 kernel and busybox-static
/// (images/arm/fetch.sh, as for `cargo xtask test-arm`), and umbra's full
/// `rom` build for aarch64, the one `cargo xtask test-arm` tests; its path.
pub(super) fn arm64_umbra() -> Result<PathBuf> {
    run_cmd(
        Command::new("bash")
            .arg(root().join("images/arm/fetch.sh"))
            .arg(crate::target_dir().join("arm"))
            .arg("arm64"),
    )?;
    crate::rustup_add("target", &[ARM64_TARGET])?;
    run_cmd(&mut crate::rom::rom_build(ARM64_TARGET))?;
    Ok(crate::target_dir().join(ARM64_TARGET).join("rom/umbra"))
}

/// What the machine reported (images/arm/paper-x-init's PAPER lines).
#[derive(Debug, Default, PartialEq)]
struct Machine {
    kernel: String,
    /// Seconds Xvfb took to start, or why it did not.
    xvfb: Option<std::result::Result<f64, String>>,
    /// The two `xengine -n 30` lines: native, umbra.
    check: Option<(String, String)>,
    /// The timed runs' lines, in order: (native, umbra).
    runs: Vec<(String, String)>,
    /// The `--stats` run's stdout and stderr.
    stats: (String, String),
    /// getppid's ns/op, natively and under umbra, in order.
    trips: Vec<(f64, f64)>,
}

fn parse_machine(lines: &[String]) -> Machine {
    let mut m = Machine::default();
    let mut native: Option<String> = None;
    for l in lines {
        if let Some(k) = l.strip_prefix("BOOT-OK ") {
            m.kernel = k.trim_end_matches(" paper-x").to_string();
        } else if let Some(s) = l.strip_prefix("PAPER-STATS ") {
            m.stats.1.push_str(s);
            m.stats.1.push('\n');
        } else if let Some(rest) = l.strip_prefix("PAPER ") {
            if let Some(s) = rest.strip_prefix("xvfb ok ") {
                m.xvfb = s.trim().parse().ok().map(Ok);
            } else if let Some(s) = rest.strip_prefix("xvfb-none ") {
                m.xvfb = Some(Err(s.to_string()));
            } else if let Some(s) = rest.strip_prefix("check ") {
                let (n, u) = s.split_once(" | ").unwrap_or((s, ""));
                m.check = Some((n.trim().to_string(), u.trim().to_string()));
            } else if let Some(s) = rest.strip_prefix("stats-out ") {
                m.stats.0 = format!("{s}\n");
            } else if let Some(s) = rest.strip_prefix("trip ") {
                // trip I NATIVE_LINE | UMBRA_LINE, each "ns/op X"
                let ns = |l: &str| l.trim().strip_prefix("ns/op ")?.parse::<f64>().ok();
                let mut w = s.split_once(' ').map_or("", |x| x.1).split(" | ");
                if let (Some(n), Some(u)) = (w.next().and_then(ns), w.next().and_then(ns)) {
                    m.trips.push((n, u));
                }
            } else if let Some(s) = rest.strip_prefix("run ") {
                let w: Vec<&str> = s.splitn(3, ' ').collect();
                match w.as_slice() {
                    [_, "native", line] => native = Some(line.to_string()),
                    [_, "umbra", line] => {
                        m.runs
                            .push((native.take().unwrap_or_default(), line.to_string()));
                    }
                    _ => {}
                }
            }
        }
    }
    m
}

/// Boots the arm64 machine (images/arm/paper-x.sh), streaming its lines.
pub(super) fn run_machine(
    table: &str,
    umbra: &Path,
    xroot: &Path,
    guest: &Path,
    env: &[(&str, String)],
) -> Result<Vec<String>> {
    use std::io::BufRead;
    let mut c = Command::new("bash");
    c.arg(root().join("images/arm/paper-x.sh"))
        .arg(table)
        .arg(umbra)
        .arg(xroot)
        .arg(guest)
        .arg(crate::target_dir().join("arm"))
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdout(Stdio::piped());
    println!("$ {}", crate::show(&c));
    let mut child = c
        .spawn()
        .map_err(|e| format!("cannot run paper-x.sh: {e}"))?;
    let mut lines = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
            println!("{line}");
            lines.push(line);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "the arm64 machine did not finish ({status}; log {})",
            crate::target_dir()
                .join(format!("arm/paper-x-{table}-arm64.log"))
                .display()
        ));
    }
    Ok(lines)
}

/// The emulated machine, as the tables' stamp describes it.
pub(super) fn arm64_machine(kernel: &str, mem_mb: u32) -> String {
    let qemu = super::rom_ram::output(Command::new("qemu-system-aarch64").arg("--version"))
        .ok()
        .and_then(|v| v.lines().next().map(str::to_string))
        .unwrap_or_else(|| "QEMU".into());
    format!(
        "an arm64 machine emulated by {qemu} (TCG, -M virt -cpu cortex-a57, 1 vCPU, {mem_mb} \
         MB, Debian's arm64 kernel{}) on {}",
        if kernel.is_empty() {
            String::new()
        } else {
            format!(": {kernel}")
        },
        super::stamp().machine
    )
}

/// Table 2 for arm64, measured inside the emulated arm64 machine.
pub fn run_arm64(ctx: &Ctx) -> Result<Table> {
    let umbra = arm64_umbra()?;
    let xengine = build_xengine_arm64(&ctx.out)?;
    let xroot = super::arm64::unpacked(&super::arm64::Unpack {
        name: "xvfb-arm64",
        recipe: ARM64_RECIPE,
        packages: &["xvfb"],
        dependencies: true,
        leave_out: XVFB_LEAVE_OUT,
        prune: DOCS,
    })?;
    let runs = if ctx.quick { 3 } else { ctx.runs.max(1) };
    let secs = if ctx.quick { "2" } else { "5" };
    let load_before = super::browser::loadavg();
    let lines = run_machine(
        "table2",
        &umbra,
        &xroot,
        &xengine,
        &[
            ("PAPER_RUNS", runs.to_string()),
            ("PAPER_SECS", secs.into()),
        ],
    )?;
    let m = parse_machine(&lines);
    let load = format!(
        "- This run: the host's load average {load_before} at its start and {} at its \
         end, on {} CPUs. QEMU's vCPU is one host thread: a loaded host slows both sides \
         and makes every figure noisy (see the runs' ranges).\n",
        super::browser::loadavg(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let emu = super::rom_ram::EMULATED;
    let mut table = Table {
        title: format!("Table 2 on arm64: drawing speed (xengine), {emu}"),
        method: format!(
            "Command: `{}`. The same steps as Table 2 on x86_64, all inside the arm64 \
             machine of `cargo xtask test-arm` (qemu-system-aarch64 -M virt -cpu cortex-a57, \
             TCG, one vCPU, 1024 MB, Debian's arm64 kernel and busybox-static), booted by \
             images/arm/paper-x.sh with images/arm/paper-x-init as PID 1:\n\n\
             - **X server**: Debian's arm64 Xvfb (`Xvfb :0 -nolisten tcp -noreset -screen \
             0 640x480x24`, in a chroot of its packages, unpacked from the archive on the host \
             and cached in /var/cache/umbra/paper/xvfb-arm64-HASH; Mesa's DRI drivers are \
             left out, so it has no accelerated GLX, which xengine does not use).\n\
             - **Client**: images/paper/xengine.c built by Debian's aarch64-linux-gnu-gcc \
             -O2 -static against Debian's arm64 libX11, libxcb, libXau and libXdmcp (cached \
             in /var/cache/umbra/paper/xlib-dev-arm64-HASH), natively (`env -i DISPLAY=:0 \
             xengine`) and under umbra's full `rom` build for {ARM64_TARGET} (`umbra run \
             --root DIR --unix-socket /x/tmp/.X11-unix/X0:/tmp/.X11-unix/X0 --env \
             DISPLAY=:0 --quiet-unsupported -- /xengine`).\n\
             - Both first draw 30 frames and read each back (`xengine -n 30`): the \
             checksums must be equal. Then {runs} alternating timed runs each (`xengine -t \
             {secs}`, native then umbra), medians of RPM. The machine has one CPU, so this \
             is the x86_64 table's \"one CPU\" setting (Xvfb, client, umbra and its stub \
             share it). One more umbra run with `--stats`, and 3 alternating runs of \
             tests/bench/getppid.c (cross-compiled the same way; the trap round trip) \
             natively and under umbra, explain the gap. Under TCG the note's traps plus \
             serving can add up to more than the gap: umbra's serving time includes its host \
             calls on the X socket (sendmsg, recvmsg), which the native client makes too, at \
             tens of µs each when emulated.\n\
             - All figures are {emu}: both sides run on the same emulated CPU, so the ratio \
             compares them, but the emulation changes the relative costs (a trap into the \
             machine's kernel and a ptrace stop cost much more under TCG than a few \
             instructions of drawing).\n",
            ctx.command
        ),
        measured: super::Stamp {
            machine: arm64_machine(&m.kernel, 1024),
            ..super::Stamp::default()
        },
        ..Table::default()
    };
    table.method.push_str(&load);
    let ratio_name = format!("xengine, umbra / host, arm64, {emu}");
    let speed_name = format!("xengine speed, arm64, {emu}");
    let fail = |table: &mut Table, why: &str| {
        table.rows.push(Row::not_measured(
            &ratio_name,
            "×",
            Some(0.89),
            "≥ 0.95×",
            why,
        ));
    };
    match &m.xvfb {
        Some(Ok(s)) => println!("table2 (arm64): Xvfb started in {s:.0} s in the machine"),
        Some(Err(e)) => {
            fail(
                &mut table,
                &format!("Xvfb did not start in the machine: {e}"),
            );
            return Ok(table);
        }
        None => {
            fail(&mut table, "the machine gave no Xvfb line (see its log)");
            return Ok(table);
        }
    }
    match &m.check {
        Some((n, u)) if n == u && n.starts_with("frames 30 checksum ") => {}
        Some((n, u)) => {
            fail(
                &mut table,
                &format!("xengine drew differently: native '{n}', umbra '{u}'"),
            );
            return Ok(table);
        }
        None => {
            fail(&mut table, "the machine gave no check line (see its log)");
            return Ok(table);
        }
    }
    let (mut host, mut guest) = (Vec::new(), Vec::new());
    for (i, (n, u)) in m.runs.iter().enumerate() {
        match (rpm(n), rpm(u)) {
            (Ok(h), Ok(g)) => {
                host.push(h);
                guest.push(g);
            }
            (Err(e), _) | (_, Err(e)) => {
                fail(&mut table, &format!("timed run {}: {e}", i + 1));
                return Ok(table);
            }
        }
    }
    if host.len() != runs {
        fail(
            &mut table,
            &format!("{} timed runs of {runs} reported", host.len()),
        );
        return Ok(table);
    }
    let (h, g) = (median(&mut host.clone()), median(&mut guest.clone()));
    let ratio = g / h;
    // The getppid round trip (µs), medians of the machine's runs.
    let trip = (!m.trips.is_empty()).then(|| {
        let mut n: Vec<f64> = m.trips.iter().map(|t| t.0 / 1000.0).collect();
        let mut u: Vec<f64> = m.trips.iter().map(|t| t.1 / 1000.0).collect();
        (median(&mut n), median(&mut u))
    });
    let stats_file = ctx.out.join("table2-arm64-stats.txt");
    let _ = std::fs::write(
        &stats_file,
        format!(
            "$ umbra run --stats ... -- /xengine -t {secs}   (in the arm64 machine)\n{}{}{}",
            m.stats.0,
            m.stats.1,
            trip.map(|(n, u)| format!(
                "\ngetppid round trip: native {n:.2} us, umbra {u:.2} us (medians of {})\n",
                m.trips.len()
            ))
            .unwrap_or_default()
        ),
    );
    table.rows.push(Row {
        paper: Some(0.89),
        host: Some(1.0),
        umbra: Some(ratio),
        ratio: Some(ratio),
        target: "≥ 0.95×".into(),
        met: Some(ratio >= 0.95),
        note: explain(&m.stats.0, &m.stats.1, h, g, trip).unwrap_or_default(),
        ..Row::new(&ratio_name, "×")
    });
    table.rows.push(Row {
        host: Some(h),
        umbra: Some(g),
        ratio: Some(ratio),
        note: format!(
            "{emu}; host (native in the machine) runs: {}; umbra runs: {}",
            list(&host),
            list(&guest)
        ),
        ..Row::new(&speed_name, "rpm")
    });
    table.method.push_str(&format!(
        "- The --stats run is kept in {}.\n",
        stats_file
            .strip_prefix(root())
            .unwrap_or(&stats_file)
            .display()
    ));
    Ok(table)
}

/// The number after `prefix` on the `umbra: stats:` line that has it.
fn stat(stderr: &str, prefix: &str) -> Option<f64> {
    let l = stderr
        .lines()
        .find_map(|l| l.strip_prefix(&format!("umbra: stats: {prefix} ")))?;
    let num: String = l
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse().ok()
}

/// What a `--stats` run says of the gap: syscalls per frame (the three most
/// frequent by name), umbra's kernel time per frame, and the extra time per
/// frame of the medians spread over those syscalls. With `trip` (the
/// getppid round trip natively and under umbra, µs) it also splits the gap
/// into the syscalls' traps (their count × the round trip less the native
/// call) and umbra's serving (its kernel time), and names the platform the
/// run used.
fn explain(
    stdout: &str,
    stderr: &str,
    host_rpm: f64,
    umbra_rpm: f64,
    trip: Option<(f64, f64)>,
) -> Option<String> {
    let frames: f64 = stdout.split_whitespace().nth(1)?.parse().ok()?;
    let calls = stat(stderr, "syscalls")?;
    let kernel_ms: f64 = stderr
        .lines()
        .find(|l| l.starts_with("umbra: stats: syscalls "))?
        .split("kernel time ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let idle_ms: f64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("umbra: stats: idle waits "))?
        .split(", ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    if frames <= 0.0 || calls <= 0.0 || host_rpm <= 0.0 || umbra_rpm <= 0.0 {
        return None;
    }
    let mut top = Vec::new();
    for l in stderr
        .lines()
        .filter(|l| l.ends_with(|c: char| c.is_ascii_alphanumeric()))
    {
        let f: Vec<&str> = l.split_whitespace().collect();
        // umbra: stats: CALLS PARKED KERNEL ms PER us NAME
        if f.len() == 9 && f[5] == "ms" && f[7] == "us" {
            if let Ok(n) = f[2].parse::<f64>() {
                top.push(format!("{} {:.1}", f[8], n / frames));
            }
        }
    }
    top.truncate(3);
    let us_frame = |rpm: f64| 60e6 / (rpm * STEPS);
    let (hf, uf) = (us_frame(host_rpm), us_frame(umbra_rpm));
    let per_frame = calls / frames;
    let kernel_us = kernel_ms * 1000.0 / frames;
    let platform = stderr
        .lines()
        .find_map(|l| l.strip_prefix("umbra: stats: platform "))
        .map(|p| p.split(';').next().unwrap_or(p).trim().to_string());
    let mut note = format!(
        "per frame (--stats run{}): {per_frame:.1} syscalls ({}), umbra's kernel {kernel_us:.1} µs, \
         idle waiting for the server {:.0} µs; frame {uf:.0} µs under umbra vs {hf:.0} µs \
         on the host: {:+.0} µs, {:.1} µs per syscall",
        platform.map_or(String::new(), |p| format!(", platform {p}")),
        top.join(", "),
        idle_ms * 1000.0 / frames,
        uf - hf,
        (uf - hf) / per_frame
    );
    if let Some((native, umbra)) = trip {
        let traps = per_frame * (umbra - native);
        note.push_str(&format!(
            "; getppid's round trip under umbra {umbra:.1} µs (native {native:.2} µs): \
             {per_frame:.1} syscalls × {:.1} µs = {traps:.0} µs of traps + {kernel_us:.0} µs \
             serving = {:.0} µs of the {:+.0} µs; the traps alone cap the ratio at {:.2}× \
             (a {hf:.0} µs frame + {traps:.0} µs)",
            umbra - native,
            traps + kernel_us,
            uf - hf,
            hf / (hf + traps)
        ));
    }
    Some(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_is_read_from_frames_and_seconds() {
        assert_eq!(rpm("frames 360 seconds 60.000 rpm 10.0\n").unwrap(), 10.0);
        assert!(rpm("frames 0 seconds 1.000 rpm 0.0").is_err());
        assert!(rpm("cannot open display").is_err());
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn explain_reads_a_stats_report() {
        let err = "umbra: stats: wall 2087.685 ms
umbra: stats: syscalls 18992 (parked 1920), kernel time 152.351 ms, 7.2 us per call
umbra: stats: idle waits 1920, 454.843 ms, 236.8 us each
umbra: stats:    calls   parked     kernel  per call  syscall
umbra: stats:     7770     1920  14.724 ms    1.5 us  poll
umbra: stats:     7779        0  23.183 ms    2.9 us  recvmsg
umbra: stats:     3404        0 113.929 ms   33.4 us  writev
umbra: stats:       11        0   0.041 ms    3.8 us  brk
";
        let e = explain(
            "frames 3387 seconds 2.000 rpm 2822.4\n",
            err,
            3600.0,
            2400.0,
            None,
        )
        .unwrap();
        assert_eq!(e, "per frame (--stats run): 5.6 syscalls (poll 2.3, recvmsg 2.3, writev 1.0), umbra's kernel 45.0 µs, idle waiting for the server 134 µs; frame 694 µs under umbra vs 463 µs on the host: +231 µs, 41.3 µs per syscall");
        let err = format!("{err}umbra: stats: platform ptrace (auto)\n");
        let e = explain(
            "frames 3387 seconds 2.000 rpm 2822.4\n",
            &err,
            3600.0,
            2400.0,
            Some((0.1, 8.1)),
        )
        .unwrap();
        assert!(
            e.starts_with("per frame (--stats run, platform ptrace (auto)): 5.6 syscalls"),
            "{e}"
        );
        assert!(e.ends_with("; getppid's round trip under umbra 8.1 µs (native 0.10 µs): 5.6 syscalls × 8.0 µs = 45 µs of traps + 45 µs serving = 90 µs of the +231 µs; the traps alone cap the ratio at 0.91× (a 463 µs frame + 45 µs)"), "{e}");
    }
    #[test]
    fn arm64_machine_lines() {
        let lines: Vec<String> = [
            "BOOT-OK Linux 6.1.0-57-arm64 aarch64 paper-x",
            "PAPER xvfb ok 2",
            "PAPER check frames 30 checksum 7a51 | frames 30 checksum 7a51",
            "PAPER run 1 native frames 694 seconds 5.000 rpm 231.3",
            "PAPER run 1 umbra frames 269 seconds 5.032 rpm 89.1",
            "PAPER stats-out frames 100 seconds 5.000 rpm 33.3",
            "PAPER-STATS umbra: stats: wall 5087.685 ms",
            "PAPER trip 1 ns/op 1500.0 | ns/op 600000.5",
            "PAPER trip 2 ns/op 1400.0 | bad",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = parse_machine(&lines);
        assert_eq!(m.kernel, "Linux 6.1.0-57-arm64 aarch64");
        assert_eq!(m.xvfb, Some(Ok(2.0)));
        assert_eq!(
            m.check,
            Some((
                "frames 30 checksum 7a51".to_string(),
                "frames 30 checksum 7a51".to_string()
            ))
        );
        assert_eq!(
            m.runs,
            vec![(
                "frames 694 seconds 5.000 rpm 231.3".to_string(),
                "frames 269 seconds 5.032 rpm 89.1".to_string()
            )]
        );
        assert_eq!(m.stats.0, "frames 100 seconds 5.000 rpm 33.3\n");
        assert_eq!(m.stats.1, "umbra: stats: wall 5087.685 ms\n");
        assert_eq!(m.trips, vec![(1500.0, 600000.5)]);
    }
}
