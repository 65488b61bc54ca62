//! Table 3 of the paper: a web browser. dillo from the Debian image
//! (images/debian, `cargo xtask debian-image`) draws on an Xvfb on the host
//! and fetches the pages of images/paper/pages/ from an HTTP server on the
//! host; natively (dillo in a chroot of the image's tree) and under umbra
//! (the image itself, `--net host`, `--unix-socket` for the X socket).
//!
//! # Setup
//!
//! Everything runs in a network namespace made for the table (`unshare -n`,
//! lo up, a veth pair with 10.0.0.1/24: umbra never reaches the host's
//! loopback under `--net host`): Xvfb (`:N`, 1024x768x24, `-nolisten tcp`),
//! `python3 -m http.server` on 10.0.0.1:8080 serving images/paper/pages/,
//! and dillo. The native dillo runs in a chroot of the tree (an overlay on
//! it, whose writes, such as FLTK's /etc/fltk, go to a tmpfs), in a private
//! mount namespace with a tmpfs on /root and /tmp (dillo writes ~/.dillo),
//! /dev bound and /proc mounted, and reaches Xvfb by its abstract name; the
//! guest reaches it through `--unix-socket /tmp/.X11-unix/XN:/tmp/.X11-unix/X0`
//! with DISPLAY=:0. Both have HOME=/root, the same PATH and no other
//! variable; umbra runs with `--mem 256M`.
//!
//! # The stopwatch
//!
//! Times come from X events, taken by images/paper/xwatch.c (a host X
//! client built here with gcc; Xlib and the DAMAGE extension), in
//! milliseconds of CLOCK_MONOTONIC since a `mark` made just before the
//! action:
//!
//! - **BT** (start-up): mark, start dillo with the start page
//!   (`index.html`); BT is the MapNotify of its top-level window (WM_CLASS
//!   `Dillo`) on the root window.
//! - **CT** (content): with the start page drawn and nothing drawn for 1 s,
//!   xdotool focuses the window, presses Ctrl+L and types the URL of
//!   `long.html` (text, a table, lists and five images, 23 KB); then mark,
//!   `xdotool key Return`; CT is the later of the window title becoming
//!   `Dillo: umbra paper page` (PropertyNotify) and the last drawing on the
//!   screen (DAMAGE on the root window) before 1 s passes with no drawing:
//!   the page fully drawn, images included.
//! - **ST** (scroll): then mark, `xdotool key --delay 0` with 40 Next (Page
//!   Down) presses, more than the page needs to reach its end; ST is the
//!   last drawing before 1 s with none (the sync: xwatch makes a round trip
//!   to the server, XSync, before it decides that nothing more comes).
//!
//! CT and ST include starting xdotool (a host process, the same for both).
//! Each run starts a fresh dillo; the native and umbra runs alternate, and
//! each figure is the median of the runs (`--runs`, 10 by default). The
//! last umbra run's screen with the page drawn is kept as
//! target/paper/table3-dillo-umbra.png, and after the scroll as
//! target/paper/table3-dillo-umbra-end.png.
//!
//! # Where the time goes
//!
//! One more umbra run with `--stats --timeout 4` (dillo's start-up and its
//! start page) gives umbra's counters: syscalls with their kernel time,
//! page faults with theirs, host stops. They are quoted in BT's note when
//! BT misses its target; a row whose ranges of native and umbra runs
//! overlap says so, whether it meets its target or not. CT's and ST's costs
//! come from one more dillo under `umbra run --stats`, asked for its report
//! so far (SIGUSR2) after the start page, after CT's step and after ST's:
//! the differences of those reports are each step's, quoted in its row's
//! note (whether it meets its target or not).
//!
//! # Memory
//!
//! The smallest guest `--mem` (1 MiB steps, bisected between 4 MiB and
//! 256 MiB) with which dillo started on `long.html` maps its window, shows
//! the page's title and draws it, and is still running 1 s later. Each
//! failed probe prints why: the wait that timed out, or umbra's exit
//! status and its last message (`umbra: out of guest memory: killed
//! process 1 (dillo)`) as soon as it has ended: the waits for the window
//! and the title look every second whether umbra still runs, so a guest
//! killed for want of memory is not mistaken for a hang.

use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Ctx, Row, Table};
use crate::{build_umbra_release, debian, is_root, root, run as sh, Result};

const PAPER_BT: f64 = 5.2;
const PAPER_CT: f64 = 3.5;
const PAPER_ST: f64 = 1.0;
const PAPER_MEM_MB: f64 = 6.0;
const TARGET_BT: f64 = 2.0;
const TARGET_CT: f64 = 1.5;
const TARGET_ST: f64 = 1.05;

/// The server's address in the table's network namespace.
const SERVER: &str = "10.0.0.1:8080";
const START_TITLE: &str = "Dillo: umbra start";
const PAGE_TITLE: &str = "Dillo: umbra paper page";
/// Next presses for ST: more than long.html needs to reach its end (the
/// screenshot after them shows its last line).
const SCROLL_KEYS: usize = 40;
/// Where the guest sees the X socket.
const GUEST_X0: &str = "/tmp/.X11-unix/X0";
const ENV_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The guest memory of the timed umbra runs.
const MEM: &str = "256M";

/// Host packages the table needs, by a file each provides.
const TOOLS: &[(&str, &str)] = &[
    ("/usr/bin/Xvfb", "xvfb"),
    ("/usr/bin/xdotool", "xdotool"),
    ("/usr/bin/xwd", "x11-apps"),
    ("/usr/bin/xwdtopnm", "netpbm"),
    ("/usr/bin/gcc", "gcc"),
    ("/usr/include/X11/Xlib.h", "libx11-dev"),
    ("/usr/include/X11/extensions/Xdamage.h", "libxdamage-dev"),
    ("/usr/bin/python3", "python3"),
    ("/usr/bin/unshare", "util-linux"),
    ("/usr/bin/nsenter", "util-linux"),
    ("/usr/sbin/ip", "iproute2"),
    ("/usr/sbin/debootstrap", "debootstrap"),
];

pub fn run(ctx: &Ctx) -> Result<Table> {
    if !is_root() {
        return Err("needs root (network namespace, chroot, debootstrap)".into());
    }
    install_tools()?;
    let image_dir = debian::debian_image()?;
    let umbra = build_umbra_release()?;
    let work = ctx.out.join("table3");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let xwatch = work.join("xwatch");
    sh(Command::new("gcc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&xwatch)
        .arg(root().join("images/paper/xwatch.c"))
        .args(["-lXdamage", "-lXfixes", "-lX11"]))?;

    let ns = Netns::new()?;
    let x = Xvfb::start(&ns)?;
    let _http = Http::start(&ns, &root().join("images/paper/pages"))?;
    let mut watch = Xwatch::start(&xwatch, &x)?;
    let setup = Setup {
        ns: &ns,
        x: &x,
        tree: image_dir.join("tree"),
        image: image_dir.join("debian.img"),
        umbra,
        log: work.join("dillo.log"),
        overlay: work.join("overlay"),
    };
    std::fs::create_dir_all(&setup.overlay).map_err(|e| format!("{e}"))?;

    let load_before = loadavg();
    let runs = if ctx.quick { 3 } else { ctx.runs };
    let mut native = Times::default();
    let mut guest = Times::default();
    for i in 0..runs {
        let shot = (i + 1 == runs).then(|| ctx.out.join("table3-dillo-umbra.png"));
        let n = one_run(&setup, &mut watch, Mode::Native, None)
            .map_err(|e| format!("native run {}: {e}", i + 1))?;
        let u = one_run(&setup, &mut watch, Mode::Umbra(MEM), shot.as_deref())
            .map_err(|e| format!("umbra run {}: {e}", i + 1))?;
        println!(
            "table3: run {}: native BT {:.1} CT {:.1} ST {:.1} ms; umbra BT {:.1} CT {:.1} ST {:.1} ms",
            i + 1,
            n.0,
            n.1,
            n.2,
            u.0,
            u.1,
            u.2
        );
        native.push(n);
        guest.push(u);
    }
    let stats = stats_run(&setup).unwrap_or_else(|e| format!("--stats run failed: {e}"));
    println!("table3: {stats}");
    let (ct_cost, st_cost) = step_costs(&setup, &mut watch).unwrap_or_else(|e| {
        let e = format!("--stats runs for the steps failed: {e}");
        (e.clone(), e)
    });
    println!("table3: CT's step under umbra: {ct_cost}");
    println!("table3: ST's step under umbra: {st_cost}");
    let mem = smallest_mem(&setup, &mut watch);
    match &mem {
        Ok(mib) => println!("table3: dillo runs in --mem {mib}M"),
        Err(e) => println!("table3: smallest --mem: {e}"),
    }

    let row = |name: &str, n: &[f64], u: &[f64], paper: f64, target: f64, what: &str| {
        let (h, g) = (median(n), median(u));
        let ratio = g / h;
        let mut note = format!(
            "paper: {paper}× host; {what}; median of {} (host {}, umbra {})",
            n.len(),
            spread(n),
            spread(u)
        );
        note.push_str(overlap_note(n, u, ratio <= target));
        if ratio > target && name.starts_with("BT") {
            note.push_str("; where the time goes: ");
            note.push_str(&stats);
        }
        // The step's own counters (the difference of the --stats runs ended
        // before and after it), met or not: on a loaded machine the medians
        // may say either, the counters stay.
        let cost = match name.get(..2) {
            Some("CT") => Some(&ct_cost),
            Some("ST") => Some(&st_cost),
            _ => None,
        };
        if let Some(c) = cost {
            note.push_str("; where the time goes, umbra --stats over the step: ");
            note.push_str(c);
        }
        Row {
            host: Some(h),
            umbra: Some(g),
            ratio: Some(ratio),
            target: format!("≤ {target}× host"),
            met: Some(ratio <= target),
            note,
            ..Row::new(name, "ms")
        }
    };
    let mut rows = vec![
        row(
            "BT: start-up",
            &native.bt,
            &guest.bt,
            PAPER_BT,
            TARGET_BT,
            "launch to window mapped",
        ),
        row(
            "CT: content",
            &native.ct,
            &guest.ct,
            PAPER_CT,
            TARGET_CT,
            "Return in the location bar to the page titled and fully drawn",
        ),
        row(
            "ST: scroll",
            &native.st,
            &guest.st,
            PAPER_ST,
            TARGET_ST,
            "40 Page Down presses to the last drawing",
        ),
    ];
    rows.push(match mem {
        Ok(mib) => Row {
            paper: Some(PAPER_MEM_MB),
            umbra: Some(mib as f64),
            ratio: Some(mib as f64 / PAPER_MEM_MB),
            target: "report (paper: 6 MB)".into(),
            note: "smallest guest --mem, 1 MiB steps, in which dillo loads and draws long.html"
                .into(),
            ..Row::new("dillo's guest memory", "MB")
        },
        Err(e) => Row::not_measured(
            "dillo's guest memory",
            "MB",
            Some(PAPER_MEM_MB),
            "report (paper: 6 MB)",
            &e,
        ),
    });
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    Ok(Table {
        title: "Table 3: web browser (dillo)".into(),
        method: format!(
            "{METHOD} This run: load average {load_before} at its start and {} at its end, \
             on {cpus} CPUs (a loaded machine makes every figure noisy: see the ranges).",
            loadavg()
        ),
        rows,
        ..Table::default()
    })
}

/// How the table is measured, for docs/PAPER.md (the module's doc, short).
const METHOD: &str = "dillo 3.0.5 from the Debian image, drawing on an Xvfb (1024x768x24) on \
the host and fetching images/paper/pages/ from `python3 -m http.server` on 10.0.0.1:8080, all in \
a network namespace made for the run; natively in a chroot of the image's tree, and under umbra \
(`--image`, `--net host`, `--unix-socket`, `--mem 256M`). Times are taken from X events by \
images/paper/xwatch.c (MapNotify, the title's PropertyNotify, DAMAGE on the root window): \
BT from launch to the window's MapNotify; CT from `xdotool key Return` (URL typed in the \
location bar) to the later of the title change and the last drawing before 1 s without any; \
ST from `xdotool key --delay 0` with 40 Next presses to the last drawing before 1 s without \
any (checked with XSync). Fresh dillo per run, native and umbra runs alternating, medians of \
10. Memory: the smallest --mem (1 MiB steps) in which dillo loads and draws the page. \
umbra's counters (`--stats`) over start-up are quoted in BT's note when it misses its target; \
those of CT's and ST's steps in theirs (met or not), as the differences of the reports so far \
(`umbra run --stats` and SIGUSR2) of one more run, taken after the start page, after CT and after ST. \
Details: xtask/src/paper/browser.rs. Screenshots: target/paper/table3-dillo-umbra.png \
(the page drawn) and table3-dillo-umbra-end.png (scrolled to its end); those of the run \
recorded in docs/paper/table3.json are kept as docs/paper/table3-dillo-umbra*.png.";

#[derive(Default)]
struct Times {
    bt: Vec<f64>,
    ct: Vec<f64>,
    st: Vec<f64>,
}

impl Times {
    fn push(&mut self, (bt, ct, st): (f64, f64, f64)) {
        self.bt.push(bt);
        self.ct.push(ct);
        self.st.push(st);
    }
}

/// The 1-minute load average of the machine.
/// What a row's note says of its runs (`n` native, `u` umbra) when their
/// ranges overlap: a miss may be the machine's noise (some umbra run was
/// as fast as some native one); so may a target `met` while neither side
/// was always the faster.
fn overlap_note(n: &[f64], u: &[f64], met: bool) -> &'static str {
    let lo = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !met && lo(u) <= hi(n) {
        "; the runs' ranges overlap (the machine's noise is larger)"
    } else if met && lo(u) <= hi(n) && lo(n) <= hi(u) {
        "; the runs' ranges overlap (the machine's noise is larger than the difference: \
         met by the medians, within that noise)"
    } else {
        ""
    }
}

pub(super) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// "min–max" of the runs.
fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.1}–{max:.1}")
}

fn install_tools() -> Result<()> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(file, _)| !Path::new(file).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = || {
        sh(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        sh(Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        install()?;
    }
    Ok(())
}

/// SIGKILLs the process group `pgid` (std cannot signal a group).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A process (group) killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        kill_group(self.0.id());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A network namespace held by a sleeping process: lo up and a veth pair
/// with 10.0.0.1/24.
struct Netns(Guard);

impl Netns {
    fn new() -> Result<Netns> {
        let mut c = Command::new("unshare");
        c.args(["-n", "sh", "-ec"])
            .arg(
                "ip link set lo up; ip link add v0 type veth peer name v1; \
                 ip addr add 10.0.0.1/24 dev v0; ip link set v1 up; ip link set v0 up; \
                 echo ready; exec sleep 100000",
            )
            .stdout(Stdio::piped())
            .process_group(0);
        let mut child = c.spawn().map_err(|e| format!("unshare -n: {e}"))?;
        let mut line = String::new();
        let out = child.stdout.take().ok_or("no stdout")?;
        let _ = BufReader::new(out).read_line(&mut line);
        let ns = Netns(Guard(child));
        if line.trim() != "ready" {
            return Err("could not set up the network namespace (unshare -n, ip)".into());
        }
        Ok(ns)
    }

    /// `nsenter --net=...` of this namespace, to which a command is appended.
    fn enter(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/proc/{}/ns/net", self.0 .0.id()));
        c
    }
}

/// Xvfb in the namespace (so the native chroot reaches it by its abstract
/// name), at the first free display from 40. Dropped, it gets SIGTERM first,
/// so it removes its socket and lock file in /tmp; what is left of them after
/// the guard's SIGKILL is removed.
struct Xvfb {
    _proc: Guard,
    _ready: ChildStdout,
    display: u32,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let sock = PathBuf::from(format!("/tmp/.X11-unix/X{}", self.display));
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self._proc.0.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let t0 = std::time::Instant::now();
        while sock.exists() && t0.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The guard (a field) SIGKILLs and reaps the group after this.
        let _ = std::fs::remove_file(&sock);
        let _ = std::fs::remove_file(format!("/tmp/.X{}-lock", self.display));
    }
}

impl Xvfb {
    fn start(ns: &Netns) -> Result<Xvfb> {
        for display in 40..140u32 {
            if Path::new(&format!("/tmp/.X{display}-lock")).exists() {
                continue;
            }
            let mut c = ns.enter();
            c.args(["Xvfb", &format!(":{display}"), "-displayfd", "1"])
                .args([
                    "-nolisten",
                    "tcp",
                    "-noreset",
                    "-screen",
                    "0",
                    "1024x768x24",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .process_group(0);
            let mut child = c.spawn().map_err(|e| format!("Xvfb: {e}"))?;
            let mut ready = child.stdout.take().ok_or("no stdout")?;
            let mut line = String::new();
            let _ = BufReader::new(&mut ready).read_line(&mut line);
            let proc = Guard(child);
            if line.trim() == display.to_string() {
                return Ok(Xvfb {
                    _proc: proc,
                    _ready: ready,
                    display,
                });
            }
        }
        Err("no free X display between :40 and :139".into())
    }

    fn socket(&self) -> String {
        format!("/tmp/.X11-unix/X{}", self.display)
    }

    fn name(&self) -> String {
        format!(":{}", self.display)
    }

    /// A host X client (xdotool, xwd) against this server.
    fn client(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.env("DISPLAY", self.name())
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        c
    }
}

/// The HTTP server in the namespace.
struct Http {
    _proc: Guard,
}

impl Http {
    fn start(ns: &Netns, pages: &Path) -> Result<Http> {
        let (host, port) = SERVER.split_once(':').ok_or("bad SERVER")?;
        let mut c = ns.enter();
        c.args([
            "python3",
            "-m",
            "http.server",
            "--bind",
            host,
            port,
            "--directory",
        ])
        .arg(pages)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
        let http = Http {
            _proc: Guard(c.spawn().map_err(|e| format!("http.server: {e}"))?),
        };
        // Up when a fetch from inside the namespace works (10 s at most).
        let probe = format!(
            "import time,urllib.request\n\
             for i in range(100):\n\
             \x20   try:\n\
             \x20       urllib.request.urlopen('http://{SERVER}/index.html', timeout=2).read(); break\n\
             \x20   except OSError: time.sleep(0.1)\n\
             else: raise SystemExit(1)"
        );
        let ok = ns
            .enter()
            .args(["python3", "-c", &probe])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("the HTTP server on {SERVER} does not answer"));
        }
        Ok(http)
    }
}

/// images/paper/xwatch.c, driven line by line.
struct Xwatch {
    _proc: Guard,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

impl Xwatch {
    fn start(bin: &Path, x: &Xvfb) -> Result<Xwatch> {
        let mut c = x.client(bin.to_str().ok_or("path")?);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0);
        let mut child = c.spawn().map_err(|e| format!("xwatch: {e}"))?;
        let to = child.stdin.take().ok_or("no stdin")?;
        let from = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut w = Xwatch {
            _proc: Guard(child),
            to,
            from,
        };
        w.ask("mark")?;
        Ok(w)
    }

    fn ask(&mut self, cmd: &str) -> Result<String> {
        writeln!(self.to, "{cmd}").map_err(|e| format!("xwatch: {e}"))?;
        let mut line = String::new();
        self.from
            .read_line(&mut line)
            .map_err(|e| format!("xwatch: {e}"))?;
        let line = line.trim().to_string();
        if line.is_empty() || line == "timeout" || line.starts_with("error") {
            return Err(format!(
                "xwatch `{cmd}`: {}",
                if line.is_empty() { "gone" } else { &line }
            ));
        }
        Ok(line)
    }

    fn mark(&mut self) -> Result<()> {
        self.ask("mark").map(drop)
    }

    fn timeout(&mut self, ms: u64) -> Result<()> {
        self.ask(&format!("timeout {ms}")).map(drop)
    }

    /// The window id and time of dillo's window being mapped.
    fn map(&mut self, class: &str) -> Result<(String, f64)> {
        let a = self.ask(&format!("map {class}"))?;
        let mut f = a.split_whitespace().skip(1);
        let id = f.next().ok_or("xwatch map: no id")?.to_string();
        Ok((id, number(f.next())?))
    }

    fn title(&mut self, id: &str, text: &str) -> Result<f64> {
        let a = self.ask(&format!("title {id} {text}"))?;
        number(a.split_whitespace().nth(1))
    }

    /// The time of the last drawing before `ms` of quiet (-1: none).
    fn quiet(&mut self, ms: u64) -> Result<f64> {
        let a = self.ask(&format!("quiet {ms}"))?;
        number(a.split_whitespace().nth(1))
    }
}

fn number(s: Option<&str>) -> Result<f64> {
    s.and_then(|s| s.parse().ok())
        .ok_or_else(|| "xwatch: no number in its answer".to_string())
}

struct Setup<'a> {
    ns: &'a Netns,
    x: &'a Xvfb,
    tree: PathBuf,
    image: PathBuf,
    umbra: PathBuf,
    log: PathBuf,
    /// An empty directory on which the native runs mount their overlay.
    overlay: PathBuf,
}

#[derive(Clone, Copy)]
enum Mode<'a> {
    Native,
    /// Under umbra with this --mem.
    Umbra(&'a str),
    /// Under umbra with `--stats` and a time limit of this many seconds.
    Stats(u32),
}

/// Starts dillo on `url`, in its own process group.
fn start_dillo(s: &Setup, mode: Mode, url: &str) -> Result<Guard> {
    let mut c = s.ns.enter();
    match mode {
        Mode::Native => {
            // dillo (FLTK) writes /etc/fltk as root, and the tree is the
            // image's cache: the chroot is an overlay on it, its writes in a
            // tmpfs that goes with the mount namespace.
            c.args(["unshare", "-m", "--propagation", "private", "sh", "-ec"])
                .arg(
                    "L=$1; W=$2; shift 2; mount -t tmpfs tmpfs \"$W\"; mkdir \"$W/u\" \"$W/w\" \"$W/m\"; \
                     mount -t overlay overlay -o \"lowerdir=$L,upperdir=$W/u,workdir=$W/w\" \"$W/m\"; \
                     T=$W/m; mount -t tmpfs tmpfs \"$T/root\"; mount -t tmpfs tmpfs \"$T/tmp\"; \
                     mount --rbind /dev \"$T/dev\"; mount -t proc proc \"$T/proc\"; \
                     exec chroot \"$T\" env -i \"$@\"",
                )
                .arg("sh")
                .arg(&s.tree)
                .arg(&s.overlay)
                .arg("HOME=/root")
                .arg(format!("PATH={ENV_PATH}"))
                .arg(format!("DISPLAY={}", s.x.name()));
        }
        Mode::Umbra(_) | Mode::Stats(_) => {
            let mem = if let Mode::Umbra(m) = mode { m } else { MEM };
            c.arg(&s.umbra).arg("run");
            if let Mode::Stats(secs) = mode {
                c.args(["--stats", "--timeout", &secs.to_string()]);
            }
            c.arg("--image")
                .arg(&s.image)
                .args(["--mem", mem, "--net", "host", "--cwd", "/root"])
                .args(["--quiet-unsupported", "--unix-socket"])
                .arg(format!("{}:{GUEST_X0}", s.x.socket()))
                .args(["--env", "HOME=/root", "--env"])
                .arg(format!("PATH={ENV_PATH}"))
                .args(["--env", "DISPLAY=:0", "--"]);
        }
    }
    c.args(["/usr/bin/dillo", url]);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&s.log)
        .map_err(|e| format!("{}: {e}", s.log.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    c.stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    Ok(Guard(c.spawn().map_err(|e| format!("dillo: {e}"))?))
}

/// umbra's own counters (`--stats`) over dillo's start-up and its start
/// page (a 4 s run, mostly idle after the page), summed up in one line.
fn stats_run(s: &Setup) -> Result<String> {
    let log = s.log.with_file_name("stats.log");
    let _ = std::fs::remove_file(&log);
    let setup = Setup {
        ns: s.ns,
        x: s.x,
        tree: s.tree.clone(),
        image: s.image.clone(),
        umbra: s.umbra.clone(),
        log: log.clone(),
        overlay: s.overlay.clone(),
    };
    let mut dillo = start_dillo(
        &setup,
        Mode::Stats(4),
        &format!("http://{SERVER}/index.html"),
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while dillo.0.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            return Err("umbra --timeout 4 did not end it".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let line = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("umbra: stats: {key}")))
            .map(|r| format!("{key}{r}"))
    };
    let parts: Vec<String> = ["syscalls ", "page faults ", "host stops ", "forks/clones "]
        .iter()
        .filter_map(|k| line(k))
        .collect();
    if parts.is_empty() {
        return Err(format!("no `umbra: stats:` lines in {}", log.display()));
    }
    Ok(format!(
        "umbra --stats over start-up and the start page: {}",
        parts.join("; ")
    ))
}

/// Runs `tool args` against the X server and checks its status.
fn x_tool(s: &Setup, tool: &str, args: &[&str]) -> Result<()> {
    let st =
        s.x.client(tool)
            .args(args)
            .status()
            .map_err(|e| format!("{tool}: {e}"))?;
    if !st.success() {
        return Err(format!("`{tool} {}` failed ({st})", args.join(" ")));
    }
    Ok(())
}

/// One run: (BT, CT, ST) in ms.
fn one_run(s: &Setup, w: &mut Xwatch, mode: Mode, shot: Option<&Path>) -> Result<(f64, f64, f64)> {
    let (dillo, id, bt) = start_step(s, w, mode)?;
    let ct = content_step(s, w, &id, shot)?;
    let st = scroll_step(s, w, shot)?;
    drop(dillo);
    Ok((bt, ct, st))
}

/// BT's step: starts dillo on the start page and waits until it is drawn;
/// returns dillo, its window and BT.
fn start_step(s: &Setup, w: &mut Xwatch, mode: Mode) -> Result<(Guard, String, f64)> {
    w.timeout(120_000)?;
    w.mark()?;
    let dillo = start_dillo(s, mode, &format!("http://{SERVER}/index.html"))?;
    let (id, bt) = w.map("Dillo")?;
    w.title(&id, START_TITLE)?;
    w.quiet(1000)?;
    Ok((dillo, id, bt))
}

/// CT's step, on dillo's window `id`: returns CT.
fn content_step(s: &Setup, w: &mut Xwatch, id: &str, shot: Option<&Path>) -> Result<f64> {
    x_tool(s, "xdotool", &["windowfocus", "--sync", id])?;
    x_tool(s, "xdotool", &["key", "ctrl+l"])?;
    x_tool(
        s,
        "xdotool",
        &[
            "type",
            "--delay",
            "5",
            &format!("http://{SERVER}/long.html"),
        ],
    )?;
    w.quiet(500)?;
    w.mark()?;
    x_tool(s, "xdotool", &["key", "Return"])?;
    let titled = w.title(id, PAGE_TITLE)?;
    let drawn = w.quiet(1000)?;
    if let Some(png) = shot {
        screenshot(s, png)?;
    }
    Ok(titled.max(drawn))
}

/// ST's step: returns ST.
fn scroll_step(s: &Setup, w: &mut Xwatch, shot: Option<&Path>) -> Result<f64> {
    w.mark()?;
    let mut args = vec!["key", "--delay", "0"];
    args.extend(std::iter::repeat_n("Next", SCROLL_KEYS));
    x_tool(s, "xdotool", &args)?;
    let st = w.quiet(1000)?;
    if st < 0.0 {
        return Err("nothing was drawn after the Page Down presses".into());
    }
    if let Some(png) = shot {
        screenshot(s, &png.with_file_name("table3-dillo-umbra-end.png"))?;
    }
    Ok(st)
}

/// umbra's `--stats` counters of a run, as its report at exit gives them.
#[derive(Debug, Default, Clone, PartialEq)]
struct Counters {
    syscalls: f64,
    kernel_ms: f64,
    faults: f64,
    fault_ms: f64,
    stops: f64,
    /// "guest + round trip": the guest's own time and the traps'.
    trip_ms: f64,
    /// Idle waits (not in a step's cost: its quiet second is idle).
    idle_ms: f64,
    /// (syscall, calls, kernel ms) of the syscalls the report lists.
    by_name: Vec<(String, f64, f64)>,
}

impl Counters {
    /// Reads the `umbra: stats:` lines of `text`; None without them.
    fn parse(text: &str) -> Option<Counters> {
        let line = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("umbra: stats: {key} ")))
        };
        // The first number of a line, and the one before its first " ms".
        let first = |l: &str| -> Option<f64> {
            l.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .find(|t| !t.is_empty())?
                .parse()
                .ok()
        };
        let ms =
            |l: &str| -> Option<f64> { l.split(" ms").next()?.rsplit(' ').next()?.parse().ok() };
        let sys = line("syscalls")?;
        let faults = line("page faults")?;
        let stops = line("host stops")?;
        let idle = line("idle waits")?;
        let mut by_name = Vec::new();
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            // umbra: stats: CALLS PARKED KERNEL ms PER us NAME
            if f.len() == 9 && f[0] == "umbra:" && f[5] == "ms" && f[7] == "us" {
                if let (Ok(n), Ok(k)) = (f[2].parse(), f[4].parse()) {
                    by_name.push((f[8].to_string(), n, k));
                }
            }
        }
        Some(Counters {
            syscalls: first(sys)?,
            kernel_ms: ms(sys)?,
            faults: first(faults)?,
            fault_ms: ms(faults)?,
            stops: first(stops)?,
            trip_ms: ms(stops)?,
            idle_ms: ms(idle)?,
            by_name,
        })
    }

    /// What `self` (a run that went one step further) adds to `before`:
    /// the step's cost, in words.
    fn step_cost(&self, before: &Counters) -> String {
        let mut named: Vec<(String, f64)> = self
            .by_name
            .iter()
            .map(|(n, c, _)| {
                let b = before
                    .by_name
                    .iter()
                    .find(|x| &x.0 == n)
                    .map_or(0.0, |x| x.1);
                (n.clone(), c - b)
            })
            .filter(|x| x.1 > 0.0)
            .collect();
        named.sort_by(|a, b| b.1.total_cmp(&a.1));
        named.truncate(3);
        let top = named
            .iter()
            .map(|(n, c)| format!("{n} {c:.0}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Times of two runs differ by the machine's noise too: a difference
        // below zero says only that.
        let ms = |v: f64| {
            if v < 0.0 {
                "less than the runs' noise".to_string()
            } else {
                format!("{v:.1} ms")
            }
        };
        format!(
            "{:.0} syscalls ({top}) with {} in umbra's kernel, {:.0} page faults ({}), \
             {:.0} host stops with {} of guest time and round trips",
            self.syscalls - before.syscalls,
            ms(self.kernel_ms - before.kernel_ms),
            self.faults - before.faults,
            ms(self.fault_ms - before.fault_ms),
            self.stops - before.stops,
            ms(self.trip_ms - before.trip_ms),
        )
    }
}

/// The reports in umbra's stderr `text`, each from its `wall` line on.
fn reports(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in text.lines() {
        if l.starts_with("umbra: stats: wall ") {
            out.push(String::new());
        }
        if let Some(r) = out.last_mut() {
            r.push_str(l);
            r.push('\n');
        }
    }
    out
}

/// The cost of CT's and ST's steps from umbra's counters: one more dillo
/// under `umbra run --stats`, asked for its report so far (SIGUSR2) after
/// the start page, after CT's step and after ST's; the differences of
/// those reports are each step's.
fn step_costs(s: &Setup, w: &mut Xwatch) -> Result<(String, String)> {
    let log = s.log.with_file_name("stats-steps.log");
    let _ = std::fs::remove_file(&log);
    let setup = Setup {
        ns: s.ns,
        x: s.x,
        tree: s.tree.clone(),
        image: s.image.clone(),
        umbra: s.umbra.clone(),
        log: log.clone(),
        overlay: s.overlay.clone(),
    };
    // The report so far, once umbra has printed it (the n-th in the log).
    let snapshot = |pid: u32, n: usize| -> Result<Counters> {
        sh(Command::new("kill").args(["-USR2", &pid.to_string()]))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let r = reports(&text);
            // A report is whole once its last line (the platform) is there.
            if let Some(r) = r
                .get(n - 1)
                .filter(|r| r.contains("umbra: stats: platform "))
            {
                return Counters::parse(r)
                    .ok_or_else(|| format!("bad report in {}", log.display()));
            }
            if Instant::now() > deadline {
                return Err(format!("umbra printed no report {n} in {}", log.display()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (dillo, id, _) = start_step(&setup, w, Mode::Stats(300))?;
    let pid = dillo.0.id();
    let a = snapshot(pid, 1)?;
    content_step(&setup, w, &id, None)?;
    let b = snapshot(pid, 2)?;
    scroll_step(&setup, w, None)?;
    let c = snapshot(pid, 3)?;
    drop(dillo);
    Ok((b.step_cost(&a), c.step_cost(&b)))
}

/// `xwd -root` of the screen, converted to PNG by netpbm.
fn screenshot(s: &Setup, png: &Path) -> Result<()> {
    let xwd =
        s.x.client("xwd")
            .args(["-root", "-silent"])
            .output()
            .map_err(|e| format!("xwd: {e}"))?;
    let mut pnm = Command::new("xwdtopnm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("xwdtopnm: {e}"))?;
    let mut input = pnm.stdin.take().ok_or("xwdtopnm stdin")?;
    let data = xwd.stdout;
    let feeder = std::thread::spawn(move || input.write_all(&data));
    let pnm = pnm.wait_with_output().map_err(|e| e.to_string())?;
    let _ = feeder.join();
    let file = std::fs::File::create(png).map_err(|e| format!("{}: {e}", png.display()))?;
    let mut to_png = Command::new("pnmtopng")
        .stdin(Stdio::piped())
        .stdout(file)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("pnmtopng: {e}"))?;
    to_png
        .stdin
        .take()
        .ok_or("pnmtopng stdin")?
        .write_all(&pnm.stdout)
        .map_err(|e| e.to_string())?;
    if !to_png.wait().map_err(|e| e.to_string())?.success() {
        return Err("pnmtopng failed".into());
    }
    println!("table3: screenshot {}", png.display());
    Ok(())
}

/// Whether dillo under umbra with `--mem {mib}M` loads and draws long.html
/// and still runs a second later; if not, why (printed).
fn runs_in(s: &Setup, w: &mut Xwatch, mib: u64) -> bool {
    let mem = format!("{mib}M");
    let attempt = |w: &mut Xwatch| -> Result<()> {
        w.mark()?;
        // This run's part of the log, which the runs append to.
        let from = std::fs::metadata(&s.log).map_or(0, |m| m.len() as usize);
        let mut dillo = start_dillo(s, Mode::Umbra(&mem), &format!("http://{SERVER}/long.html"))?;
        let id = while_running(w, &mut dillo, s, from, |w| w.map("Dillo"))?.0;
        while_running(w, &mut dillo, s, from, |w| w.title(&id, PAGE_TITLE))?;
        w.timeout(30_000)?;
        w.quiet(1000)?;
        match dillo.0.try_wait().map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(st) => Err(ended(s, from, st, "after drawing the page")),
        }
    };
    let r = attempt(w);
    if let Err(e) = &r {
        println!("table3: --mem {mib}M: {e}");
    }
    // The window of a dillo that was killed goes with its connection.
    std::thread::sleep(Duration::from_millis(200));
    r.is_ok()
}

/// xwatch's `ask` (a wait: map, title) in 1 s waits, for 30 s at most, as
/// long as dillo runs: an umbra that ended (out of guest memory, say) is a
/// failure at once, with its status and its last message, not a timeout
/// that looks like a hang.
fn while_running<T>(
    w: &mut Xwatch,
    dillo: &mut Guard,
    s: &Setup,
    from: usize,
    mut ask: impl FnMut(&mut Xwatch) -> Result<T>,
) -> Result<T> {
    w.timeout(1000)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ask(w) {
            Ok(v) => return Ok(v),
            Err(e) if e.ends_with(": timeout") && Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
        if let Some(st) = dillo.0.try_wait().map_err(|e| e.to_string())? {
            return Err(ended(s, from, st, "before drawing the page"));
        }
    }
}

/// "umbra ended (STATUS) WHEN: its last message", from dillo's log after
/// byte `from`.
fn ended(s: &Setup, from: usize, st: std::process::ExitStatus, when: &str) -> String {
    let log = std::fs::read(&s.log).unwrap_or_default();
    let log = String::from_utf8_lossy(log.get(from..).unwrap_or_default());
    let last = log
        .lines()
        .rev()
        .find(|l| l.starts_with("umbra: "))
        .unwrap_or("no message from umbra");
    format!("umbra ended ({st}) {when}: {last}")
}

/// The smallest --mem (MiB) dillo runs in.
fn smallest_mem(s: &Setup, w: &mut Xwatch) -> Result<u64> {
    let started = Instant::now();
    let (mut lo, mut hi) = (4u64, 256u64);
    if !runs_in(s, w, hi) {
        return Err(format!("dillo does not run even in --mem {hi}M"));
    }
    if runs_in(s, w, lo) {
        return Ok(lo);
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if runs_in(s, w, mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    // Once more: a flaky pass would understate it.
    if !runs_in(s, w, hi) {
        return Err(format!("--mem {hi}M passed once and then failed"));
    }
    println!(
        "table3: memory bisection took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(hi)
}

// ---------------------------------------------------------------------------
// arm64 (`cargo xtask paper --arm64 --only table3`): the same runs inside
// the emulated arm64 machine (images/arm/paper-x.sh, paper-x-init's table3
// steps, a port of `one_run` to sh), with the screenshots (xwatch's `shot`,
// carried out on the console) and a coarser `smallest_mem` (see
// paper-x-init).

/// The arm64 packages of the machine's tree: Xvfb, dillo, its font,
/// fontconfig (fc-cache) and xdotool, with their dependencies.
const ARM64_PACKAGES: &[&str] = &[
    "xvfb",
    "dillo",
    "fonts-dejavu-core",
    "fontconfig",
    "xdotool",
];

/// Dependencies none of those programs loads (Mesa's DRI drivers and what
/// only they use; packages of scripts). Every DT_NEEDED of the rest is
/// there.
const ARM64_LEAVE_OUT: &[&str] = &[
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

/// Bumped when the arm64 tree or image recipe changes (their cache key).
const ARM64_IMAGE_RECIPE: &str = "dillo arm64 image recipe 1: the unpacked packages, \
     /etc/passwd and /etc/group with root, empty /dev /tmp /run /proc /sys /root, \
     fc-cache -s by qemu-aarch64-static in a chroot, mke2fs -t ext2 -b 4096 -d \
     (tree + 1/8 + 32 MiB, files + 4096 inodes)";

/// The arm64 tree and its ext2 image: (tree, image), from the cache
/// (`$UMBRA_CACHE/paper/dillo-image-arm64-HASH`) or made now.
fn arm64_image() -> Result<(PathBuf, PathBuf)> {
    let pkgs = super::arm64::unpacked(&super::arm64::Unpack {
        name: "dillo-arm64",
        recipe: super::draw::ARM64_RECIPE,
        packages: ARM64_PACKAGES,
        dependencies: true,
        leave_out: ARM64_LEAVE_OUT,
        prune: super::draw::DOCS,
    })?;
    let from = pkgs.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let hash = super::rom_ram::fnv(format!("{ARM64_IMAGE_RECIPE}\n{from}").as_bytes());
    let cache = super::rom_ram::cache_root();
    let dir = cache.join(format!("dillo-image-arm64-{hash:016x}"));
    let (tree, image) = (dir.join("tree"), dir.join("debian.img"));
    if dir.join("done").is_file() {
        println!(
            "table3 (arm64): tree and image from the cache, {}",
            dir.display()
        );
        return Ok((tree, image));
    }
    let tmp = cache.join(format!("dillo-image-arm64.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let t = tmp.join("tree");
    sh(Command::new("cp").arg("-a").arg(&pkgs).arg(&t))?;
    let _ = std::fs::remove_file(t.join(".unpacked"));
    for d in [
        "dev",
        "tmp",
        "run",
        "proc",
        "sys",
        "root",
        "var/cache/fontconfig",
    ] {
        std::fs::create_dir_all(t.join(d)).map_err(|e| format!("{d}: {e}"))?;
    }
    let etc = |f: &str, text: &str| {
        std::fs::write(t.join("etc").join(f), text).map_err(|e| format!("/etc/{f}: {e}"))
    };
    etc("passwd", "root:x:0:0:root:/root:/bin/sh\n")?;
    etc("group", "root:x:0:\n")?;
    // fontconfig's cache, as its postinst makes it (without it every X
    // client rescans the fonts when it starts): fc-cache for arm64 run by
    // qemu-user in a chroot of the tree (no binfmt needed).
    let qemu = crate::which("qemu-aarch64-static").ok_or("qemu-aarch64-static is missing")?;
    let q = t.join("qemu-aarch64-static");
    std::fs::copy(&qemu, &q).map_err(|e| format!("{}: {e}", q.display()))?;
    let fc = sh(Command::new("chroot").arg(&t).args([
        "/qemu-aarch64-static",
        "/usr/bin/fc-cache",
        "-s",
    ]));
    let _ = std::fs::remove_file(&q);
    fc?;
    let kib: u64 =
        super::rom_ram::output(Command::new("du").args(["-sk", "--apparent-size"]).arg(&t))?
            .split_whitespace()
            .next()
            .and_then(|k| k.parse().ok())
            .ok_or("du: no size")?;
    let files = super::rom_ram::output(Command::new("find").arg(&t))?
        .lines()
        .count() as u64;
    let size = format!("{}M", (kib + kib / 8 + 32 * 1024) / 1024);
    let img = tmp.join("debian.img");
    sh(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-b", "4096", "-N"])
        .arg((files + 4096).to_string())
        .args(["-E", "root_owner=0:0", "-d"])
        .arg(&t)
        .arg(&img)
        .arg(&size))?;
    std::fs::write(tmp.join("done"), format!("{ARM64_IMAGE_RECIPE}\n{from}\n"))
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    println!(
        "table3 (arm64): tree and image ({size}, {files} files) in {}",
        dir.display()
    );
    Ok((tree, image))
}

/// What the machine reported (images/arm/paper-x-init's table3 lines).
#[derive(Debug, PartialEq)]
struct Machine {
    kernel: String,
    /// Why Xvfb or the HTTP server did not start.
    setup_failed: Option<String>,
    native: Times3,
    umbra: Times3,
    /// Runs that failed: "run I MODE: why".
    failed: Vec<String>,
    /// The `umbra: stats:` report of each --stats run, ended after the
    /// start page, after CT and after ST; or why that run failed.
    steps: [std::result::Result<String, String>; 3],
    /// The memory bisection's probes, in order: (MiB, None if dillo ran,
    /// Some(why) if not).
    mem_probes: Vec<(u64, Option<String>)>,
    /// The smallest --mem (MiB) dillo ran in, or why there is none.
    mem: std::result::Result<u64, String>,
    /// The screenshots of the last umbra run, by name (`page`, `end`): the
    /// PPM paper-x.sh decoded from the machine's lines, or why there is none.
    shots: Vec<(String, std::result::Result<PathBuf, String>)>,
}

/// BT, CT and ST of the runs of one side, in ms.
#[derive(Debug, Default, PartialEq)]
struct Times3 {
    bt: Vec<f64>,
    ct: Vec<f64>,
    st: Vec<f64>,
}

fn parse_machine(lines: &[String]) -> Machine {
    let none = || Err("the machine gave no report".to_string());
    let mut m = Machine {
        kernel: String::new(),
        setup_failed: None,
        native: Times3::default(),
        umbra: Times3::default(),
        failed: Vec::new(),
        steps: [none(), none(), none()],
        mem_probes: Vec::new(),
        mem: Err("the machine gave no figure".to_string()),
        shots: Vec::new(),
    };
    for l in lines {
        if let Some(k) = l.strip_prefix("BOOT-OK ") {
            m.kernel = k.trim_end_matches(" paper-x").to_string();
        } else if let Some(s) = l.strip_prefix("PAPER-STEP ") {
            let (n, line) = s.split_once(' ').unwrap_or((s, ""));
            if let Some(step) = n
                .parse::<usize>()
                .ok()
                .and_then(|n| m.steps.get_mut(n.wrapping_sub(1)))
            {
                if step.is_err() {
                    *step = Ok(String::new());
                }
                if let Ok(text) = step {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        } else if let Some(rest) = l.strip_prefix("PAPER ") {
            let w: Vec<&str> = rest.split_whitespace().collect();
            match w.as_slice() {
                ["xvfb-none" | "http-none", ..] => m.setup_failed = Some(rest.to_string()),
                ["run", _, mode, bt, ct, st] => {
                    let t = match *mode {
                        "native" => &mut m.native,
                        "umbra" => &mut m.umbra,
                        _ => continue,
                    };
                    match (bt.parse(), ct.parse(), st.parse()) {
                        (Ok(b), Ok(c), Ok(s)) => {
                            t.bt.push(b);
                            t.ct.push(c);
                            t.st.push(s);
                        }
                        _ => m.failed.push(format!("bad line `{rest}`")),
                    }
                }
                ["step-none", n, ..] => {
                    let why = rest.splitn(3, ' ').nth(2).unwrap_or("").to_string();
                    if let Some(step) = n
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| m.steps.get_mut(n.wrapping_sub(1)))
                    {
                        *step = Err(why);
                    }
                }
                ["run-none", i, mode, ..] => {
                    let why = rest.splitn(4, ' ').nth(3).unwrap_or("");
                    m.failed.push(format!("run {i} {mode}: {why}"));
                }
                ["mem", mib, result, ..] => {
                    let Ok(mib) = mib.parse() else { continue };
                    let why = rest.splitn(4, ' ').nth(3).unwrap_or("").to_string();
                    match *result {
                        "ok" => m.mem_probes.push((mib, None)),
                        "fail" => m.mem_probes.push((mib, Some(why))),
                        _ => {}
                    }
                }
                ["mem-smallest", mib] => {
                    m.mem = mib.parse().map_err(|_| format!("bad line `{rest}`"));
                }
                ["mem-none", ..] => {
                    m.mem = Err(rest.split_once(' ').map_or("", |x| x.1).to_string());
                }
                ["shot", name, _, ..] => {
                    let file = rest.splitn(3, ' ').nth(2).unwrap_or("");
                    m.shots.push((name.to_string(), Ok(PathBuf::from(file))));
                }
                ["shot-none", name, ..] => {
                    let why = rest.splitn(3, ' ').nth(2).unwrap_or("").to_string();
                    m.shots.push((name.to_string(), Err(why)));
                }
                _ => {}
            }
        }
    }
    m
}

/// Table 3 for arm64, measured inside the emulated arm64 machine.
pub fn run_arm64(ctx: &Ctx) -> Result<Table> {
    if !is_root() {
        return Err("needs root (chroot, mke2fs of the arm64 tree)".into());
    }
    let umbra = super::draw::arm64_umbra()?;
    let (tree, image) = arm64_image()?;
    let guest = ctx.out.join("table3-arm64");
    let _ = std::fs::remove_dir_all(&guest);
    super::draw::cross_x_client(
        "xwatch.c",
        &guest.join("xwatch"),
        &["-lXdamage", "-lXfixes", "-lX11"],
    )?;
    let link = |from: &Path, to: &str| {
        std::os::unix::fs::symlink(from, guest.join(to)).map_err(|e| format!("{to}: {e}"))
    };
    link(&image, "debian.img")?;
    link(&root().join("images/paper/pages"), "pages")?;
    let runs = if ctx.quick { 3 } else { ctx.runs.max(1) };
    let load_before = loadavg();
    let lines = super::draw::run_machine(
        "table3",
        &umbra,
        &tree,
        &guest,
        &[
            ("PAPER_RUNS", runs.to_string()),
            ("MEM", "2048".into()),
            // + up to ~15 min for the memory bisection (7-9 dillo runs).
            ("QEMU_TIMEOUT", (1800 + 300 * runs).to_string()),
        ],
    )?;
    let m = parse_machine(&lines);
    let shots = arm64_shots(ctx, &m);
    match &m.mem {
        Ok(mib) => println!("table3 (arm64): dillo runs in --mem {mib}M"),
        Err(e) => println!("table3 (arm64): smallest --mem: {e}"),
    }
    let load = format!(
        "- This run: the host's load average {load_before} at its start and {} at its \
         end, on {} CPUs. QEMU's vCPU is one host thread: a loaded host slows both sides \
         and makes every figure noisy (see the runs' ranges).\n",
        loadavg(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let emu = super::rom_ram::EMULATED;
    let mut table = Table {
        title: format!("Table 3 on arm64: web browser (dillo), {emu}"),
        method: format!(
            "Command: `{}`. The steps of Table 3 on x86_64, all inside the arm64 machine of \
             `cargo xtask test-arm` (qemu-system-aarch64 -M virt -cpu cortex-a57, TCG, one \
             vCPU, 2048 MB here, Debian's arm64 kernel and busybox-static), booted by \
             images/arm/paper-x.sh with images/arm/paper-x-init as PID 1, whose table3 \
             steps are browser.rs's `one_run` in sh:\n\n\
             - **Tree and image**: Debian's arm64 xvfb, dillo, fonts-dejavu-core, fontconfig \
             and xdotool with their dependencies (Mesa's DRI drivers left out), unpacked on \
             the host (xtask/src/paper/arm64.rs; no maintainer scripts: fontconfig's cache \
             is made by the arm64 fc-cache under qemu-user in a chroot), with root in \
             /etc/passwd; its ext2 image made by `mke2fs -d`, as images/debian/build.sh \
             makes the x86_64 one. Both cached in \
             /var/cache/umbra/paper/dillo-image-arm64-HASH.\n\
             - **Servers**: Xvfb :0 (1024x768x24, -nolisten tcp -noreset) in a chroot of the \
             tree; busybox httpd on 10.0.0.1:8080 (an address on the machine's lo: umbra's \
             `--net host` reaches every address but 127/8 through host sockets) serving \
             images/paper/pages/.\n\
             - **dillo**: natively in a chroot of the tree (`unshare -m`, tmpfs on /root and \
             /tmp, `env -i HOME=/root PATH=... DISPLAY=:0`), and under umbra's full `rom` \
             build (`umbra run --image debian.img --mem 256M --net host --cwd /root \
             --unix-socket /x/tmp/.X11-unix/X0:/tmp/.X11-unix/X0 --env HOME=/root --env \
             PATH=... --env DISPLAY=:0 -- /usr/bin/dillo URL`).\n\
             - **Times**: images/paper/xwatch.c (cross-compiled statically for arm64) and \
             xdotool (the tree's, in its chroot) in the machine, exactly as on x86_64: BT \
             launch to MapNotify; CT from `xdotool key Return` after typing long.html's URL \
             to the later of the title change and the last drawing before 1 s of quiet; ST \
             from 40 Next presses to the last drawing before 1 s of quiet. Fresh dillo per \
             run, native and umbra alternating, medians of {runs}; after each run its \
             process group is killed and the next starts once no Dillo window is left \
             (xdotool search, 30 s at most). Three more umbra runs with `--stats` end dillo \
             (`xdotool windowkill`) after the start page, after CT and after ST: the first's \
             counters are quoted under BT when it misses its target, the differences under \
             CT and ST, met or not.\n\
             - **Screenshots**: in the last umbra run, xwatch's `shot` (XGetImage of the \
             root window, written as a PPM: the tree has no xwd) after CT and after ST; \
             the machine prints them gzipped and in base64, paper-x.sh decodes them, \
             pnmtopng makes target/paper/table3-arm64-dillo-umbra.png (the page drawn) and \
             table3-arm64-dillo-umbra-end.png (scrolled to its end); those of the run \
             recorded in docs/paper/table3-arm64.json are kept in docs/paper/.\n\
             - **Memory**: as on x86_64, the smallest --mem in which dillo under umbra, \
             started on long.html, maps its window, shows the page's title, draws it \
             (1 s quiet) and still runs then (each wait 60 s at most); fewer steps than \
             x86_64's bisection: 256 MiB counts as passed by the timed runs, the first \
             probe is 32 MiB, then halving between the largest failure (or 3 MiB: below 4 \
             is not tried) and the smallest pass down to 1 MiB, and the answer is run \
             once more (7 dillo runs when it is between 4 and 32 MiB).\n\
             - All figures are {emu}: both sides run on the same emulated CPU, but a trap \
             and a ptrace stop cost far more under TCG than the instructions between them, \
             so the ratios here need not be those of real arm64 hardware.\n",
            ctx.command
        ),
        measured: super::Stamp {
            machine: super::draw::arm64_machine(&m.kernel, 2048),
            ..super::Stamp::default()
        },
        ..Table::default()
    };
    table.method.push_str(&load);
    table
        .method
        .push_str(&format!("- This run's screenshots: {shots}.\n"));
    if let Some(why) = &m.setup_failed {
        return Err(format!("in the arm64 machine: {why}"));
    }
    let failed = if m.failed.is_empty() {
        String::new()
    } else {
        format!(
            "; {} run(s) failed and are not counted: {}",
            m.failed.len(),
            m.failed.join("; ")
        )
    };
    // BT's counters: the --stats run ended after the start page.
    let stats = match &m.steps[0] {
        Err(e) => format!("no --stats report from the machine ({e})"),
        Ok(text) => {
            let parts: Vec<String> = ["syscalls ", "page faults ", "host stops ", "forks/clones "]
                .iter()
                .filter_map(|k| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(&format!("umbra: stats: {k}")))
                        .map(|r| format!("{k}{r}"))
                })
                .collect();
            format!(
                "umbra --stats over start-up and the start page (in the machine): {}",
                parts.join("; ")
            )
        }
    };
    println!("table3 (arm64): {stats}");
    // CT's and ST's: the differences of the runs ended before and after.
    let counters = |i: usize| -> std::result::Result<Counters, String> {
        let text = m.steps[i]
            .as_ref()
            .map_err(|e| format!("run {}: {e}", i + 1))?;
        Counters::parse(text).ok_or_else(|| format!("run {}: no report", i + 1))
    };
    let cost = |i: usize| match (counters(i - 1), counters(i)) {
        (Ok(a), Ok(b)) => b.step_cost(&a),
        (Err(e), _) | (_, Err(e)) => format!("not known ({e})"),
    };
    let (ct_cost, st_cost) = (cost(1), cost(2));
    println!("table3 (arm64): CT's step under umbra: {ct_cost}");
    println!("table3 (arm64): ST's step under umbra: {st_cost}");
    let row = |name: &str, n: &[f64], u: &[f64], paper: f64, target: f64, what: &str| {
        let name = format!("{name}, arm64, {emu}");
        if n.is_empty() || u.is_empty() {
            return Row::not_measured(
                &name,
                "ms",
                None,
                &format!("≤ {target}× host"),
                &format!("no run completed{failed}"),
            );
        }
        let (h, g) = (median(n), median(u));
        let ratio = g / h;
        let mut note = format!(
            "{emu}; paper: {paper}× host; {what}; median of {} (host {}, umbra {}){failed}",
            n.len(),
            spread(n),
            spread(u)
        );
        note.push_str(overlap_note(n, u, ratio <= target));
        if ratio > target && name.starts_with("BT") {
            note.push_str("; where the time goes: ");
            note.push_str(&stats);
        }
        // The step's own counters, met or not (as on x86_64).
        let cost = match name.get(..2) {
            Some("CT") => Some(&ct_cost),
            Some("ST") => Some(&st_cost),
            _ => None,
        };
        if let Some(c) = cost {
            note.push_str("; where the time goes, umbra --stats over the step: ");
            note.push_str(c);
        }
        Row {
            host: Some(h),
            umbra: Some(g),
            ratio: Some(ratio),
            target: format!("≤ {target}× host"),
            met: Some(ratio <= target),
            note,
            ..Row::new(&name, "ms")
        }
    };
    table.rows = vec![
        row(
            "BT: start-up",
            &m.native.bt,
            &m.umbra.bt,
            PAPER_BT,
            TARGET_BT,
            "launch to window mapped",
        ),
        row(
            "CT: content",
            &m.native.ct,
            &m.umbra.ct,
            PAPER_CT,
            TARGET_CT,
            "Return in the location bar to the page titled and fully drawn",
        ),
        row(
            "ST: scroll",
            &m.native.st,
            &m.umbra.st,
            PAPER_ST,
            TARGET_ST,
            "40 Page Down presses to the last drawing",
        ),
        mem_row(&m),
    ];
    Ok(table)
}

/// The guest memory row of the arm64 table, from the machine's bisection.
fn mem_row(m: &Machine) -> Row {
    let probes: Vec<String> = m
        .mem_probes
        .iter()
        .map(|(mib, why)| match why {
            None => format!("{mib} ran"),
            Some(_) => format!("{mib} failed"),
        })
        .collect();
    // Why the largest failure failed: what runs out below the figure.
    let below = m
        .mem_probes
        .iter()
        .filter_map(|(mib, why)| why.as_ref().map(|w| (*mib, w)))
        .filter(|(mib, _)| m.mem.as_ref().is_ok_and(|ok| mib < ok))
        .max_by_key(|(mib, _)| *mib)
        .map(|(mib, why)| format!("; at {mib} MiB: {why}"))
        .unwrap_or_default();
    let name = "dillo's guest memory, arm64";
    let target = "report (paper: 6 MB)";
    match m.mem {
        Ok(mib) => Row {
            paper: Some(PAPER_MEM_MB),
            umbra: Some(mib as f64),
            ratio: Some(mib as f64 / PAPER_MEM_MB),
            target: target.into(),
            note: format!(
                "smallest guest --mem, 1 MiB steps, in which dillo loads and draws long.html \
                 (in the arm64 machine; the memory does not depend on the emulation); \
                 --mem MiB tried: {}{below}",
                probes.join(", ")
            ),
            ..Row::new(name, "MB")
        },
        Err(ref e) => Row::not_measured(
            name,
            "MB",
            Some(PAPER_MEM_MB),
            target,
            &if probes.is_empty() {
                e.clone()
            } else {
                format!("{e} (--mem MiB tried: {})", probes.join(", "))
            },
        ),
    }
}

/// The machine's screenshots (PPM) as PNGs beside the tables:
/// target/paper/table3-arm64-dillo-umbra.png (`page`) and
/// table3-arm64-dillo-umbra-end.png (`end`).
/// Says what was made, for the table's method.
fn arm64_shots(ctx: &Ctx, m: &Machine) -> String {
    if m.shots.is_empty() {
        return "none (the machine printed no screenshot)".into();
    }
    let mut made = Vec::new();
    for (name, shot) in &m.shots {
        let png = ctx.out.join(match name.as_str() {
            "page" => "table3-arm64-dillo-umbra.png".to_string(),
            other => format!("table3-arm64-dillo-umbra-{other}.png"),
        });
        let done = shot.clone().and_then(|ppm| ppm_to_png(&ppm, &png));
        match done {
            Ok(()) => {
                println!("table3 (arm64): screenshot {}", png.display());
                made.push(format!(
                    "target/paper/{}",
                    png.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
            Err(e) => {
                println!("table3 (arm64): no {name} screenshot: {e}");
                made.push(format!("no `{name}` screenshot ({e})"));
            }
        }
    }
    made.join(", ")
}

/// `pnmtopng < ppm > png` (netpbm, installed if missing).
fn ppm_to_png(ppm: &Path, png: &Path) -> Result<()> {
    if crate::which("pnmtopng").is_none() {
        sh(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "netpbm"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let input = std::fs::File::open(ppm).map_err(|e| format!("{}: {e}", ppm.display()))?;
    let out = std::fs::File::create(png).map_err(|e| format!("{}: {e}", png.display()))?;
    let st = Command::new("pnmtopng")
        .stdin(input)
        .stdout(out)
        .status()
        .map_err(|e| format!("pnmtopng: {e}"))?;
    if !st.success() {
        let _ = std::fs::remove_file(png);
        return Err(format!("pnmtopng {}: {st}", ppm.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "umbra: stats: wall 2087.685 ms
umbra: stats: syscalls 18992 (parked 1920), kernel time 152.351 ms, 7.2 us per call
umbra: stats: host stops 19400 (syscall 18992, fault 408, exception 0, timer 0, event 0, died 0), guest + round trip 553.584 ms, 30.5 us per stop
umbra: stats: page faults 408, 20.500 ms, 50.2 us each
umbra: stats: forks/clones 1, 0.019 ms, 19.1 us each
umbra: stats: idle waits 1920, 454.843 ms, 236.8 us each
umbra: stats:    calls   parked     kernel  per call  syscall
umbra: stats:     7770     1920  14.724 ms    1.5 us  poll
umbra: stats:     7779        0  23.183 ms    2.9 us  recvmsg
umbra: stats:     3404        0 113.929 ms   33.4 us  writev
umbra: stats: platform ptrace (auto)
";

    #[test]
    fn overlapping_runs_are_named_whether_met_or_not() {
        let (host, slow, fast) = ([10.0, 20.0], [15.0, 30.0], [5.0, 9.0]);
        assert!(overlap_note(&host, &slow, false).contains("noise is larger)"));
        assert!(overlap_note(&host, &slow, true).contains("within that noise"));
        assert_eq!(overlap_note(&host, &fast, true), "");
        assert_eq!(overlap_note(&host, &[25.0], false), "");
    }

    #[test]
    fn a_log_with_snapshots_splits_into_reports() {
        let log = format!("dillo: a line\n{REPORT}{REPORT}");
        let r = reports(&log);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], REPORT);
        assert_eq!(Counters::parse(&r[1]), Counters::parse(REPORT));
        assert!(reports("no report").is_empty());
    }

    #[test]
    fn counters_are_read_from_a_stats_report() {
        let c = Counters::parse(REPORT).unwrap();
        assert_eq!(c.syscalls, 18992.0);
        assert_eq!(c.kernel_ms, 152.351);
        assert_eq!(c.stops, 19400.0);
        assert_eq!(c.trip_ms, 553.584);
        assert_eq!(c.faults, 408.0);
        assert_eq!(c.fault_ms, 20.5);
        assert_eq!(c.idle_ms, 454.843);
        assert_eq!(c.by_name.len(), 3);
        assert_eq!(c.by_name[1], ("recvmsg".to_string(), 7779.0, 23.183));
        assert_eq!(Counters::parse("no report"), None);
    }

    #[test]
    fn a_steps_cost_is_the_difference_of_two_reports() {
        let after = Counters::parse(REPORT).unwrap();
        let before = Counters {
            syscalls: 992.0,
            kernel_ms: 2.351,
            faults: 400.0,
            fault_ms: 20.0,
            stops: 1400.0,
            trip_ms: 53.584,
            idle_ms: 54.843,
            by_name: vec![("writev".into(), 3400.0, 1.0), ("poll".into(), 770.0, 1.0)],
        };
        assert_eq!(
            after.step_cost(&before),
            "18000 syscalls (recvmsg 7779, poll 7000, writev 4) with 150.0 ms in umbra's kernel, \
             8 page faults (0.5 ms), 18000 host stops with 500.0 ms of guest time and round \
             trips"
        );
        let mut slower = before.clone();
        slower.kernel_ms = 200.0;
        assert!(after
            .step_cost(&slower)
            .contains("with less than the runs' noise in umbra's kernel"));
    }

    #[test]
    fn arm64_machine_lines() {
        let lines: Vec<String> = [
            "BOOT-OK Linux 6.1.0-57-arm64 aarch64 paper-x",
            "PAPER xvfb ok 3",
            "PAPER http ok",
            "PAPER run 1 native 812.5 950.25 1200",
            "PAPER run-none 1 umbra xwatch 'map Dillo': timeout",
            "PAPER run 2 native 800 900 1000",
            "PAPER run 2 umbra 4000 3000 2000",
            "PAPER-STEP 1 umbra: stats: syscalls 10 (parked 0)",
            "PAPER-STEP 1 umbra: stats: page faults 3",
            "PAPER step-none 2 xwatch 'quiet 1000': timeout",
            "PAPER-STEP 9 umbra: stats: ignored",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = parse_machine(&lines);
        assert_eq!(m.kernel, "Linux 6.1.0-57-arm64 aarch64");
        assert_eq!(m.setup_failed, None);
        assert_eq!(m.native.bt, vec![812.5, 800.0]);
        assert_eq!(m.native.ct, vec![950.25, 900.0]);
        assert_eq!(m.umbra.st, vec![2000.0]);
        assert_eq!(m.failed, vec!["run 1 umbra: xwatch 'map Dillo': timeout"]);
        assert_eq!(
            m.steps,
            [
                Ok("umbra: stats: syscalls 10 (parked 0)\numbra: stats: page faults 3\n".into()),
                Err("xwatch 'quiet 1000': timeout".into()),
                Err("the machine gave no report".into()),
            ]
        );
        let m = parse_machine(&["PAPER http-none no answer on 10.0.0.1:8080".to_string()]);
        assert_eq!(
            m.setup_failed.as_deref(),
            Some("http-none no answer on 10.0.0.1:8080")
        );
    }

    #[test]
    fn arm64_memory_and_screenshot_lines() {
        let lines: Vec<String> = [
            "PAPER mem 32 ok",
            "PAPER mem 17 fail xwatch 'map Dillo': timeout",
            "PAPER mem 24 ok",
            "PAPER mem 20 fail dillo ended after drawing the page",
            "PAPER mem x ok",
            "PAPER mem-smallest 21",
            "PAPER shot-none end xwatch shot: error: XGetImage failed",
            "PAPER shot page /work/target/arm/paper-x-table3-arm64-shot-page.ppm",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = parse_machine(&lines);
        assert_eq!(
            m.mem_probes,
            vec![
                (32, None),
                (17, Some("xwatch 'map Dillo': timeout".into())),
                (24, None),
                (20, Some("dillo ended after drawing the page".into())),
            ]
        );
        assert_eq!(m.mem, Ok(21));
        assert_eq!(
            m.shots,
            vec![
                (
                    "end".to_string(),
                    Err("xwatch shot: error: XGetImage failed".to_string())
                ),
                (
                    "page".to_string(),
                    Ok(PathBuf::from(
                        "/work/target/arm/paper-x-table3-arm64-shot-page.ppm"
                    ))
                ),
            ]
        );
        let row = mem_row(&m);
        assert_eq!(row.umbra, Some(21.0));
        assert_eq!(row.ratio, Some(3.5));
        assert!(row
            .note
            .contains("tried: 32 ran, 17 failed, 24 ran, 20 failed"));
        // The largest failure below the figure says what ran out.
        assert!(row
            .note
            .ends_with("; at 20 MiB: dillo ended after drawing the page"));

        // No figure: the row says why, with the probes made.
        let m = parse_machine(&[
            "PAPER mem 32 ok".to_string(),
            "PAPER mem-none --mem 32M passed once and then failed".to_string(),
        ]);
        assert_eq!(m.mem, Err("--mem 32M passed once and then failed".into()));
        let row = mem_row(&m);
        assert_eq!(row.umbra, None);
        assert!(row
            .note
            .contains("passed once and then failed (--mem MiB tried: 32 ran)"));
        // A machine that printed nothing gives no figure.
        assert!(parse_machine(&[]).mem.is_err());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(spread(&[2.0, 1.0, 3.5]), "1.0–3.5");
    }
}
