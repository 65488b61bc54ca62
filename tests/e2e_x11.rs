//! Issue 12's host display: X clients from the Debian image
//! (`images/debian`, see tests/e2e_debian.rs) under umbra draw on an Xvfb
//! that the test starts on the host, through
//! `--unix-socket /tmp/.X11-unix/XN:/tmp/.X11-unix/X0` with DISPLAY=:0 in
//! the guest, as the paper's X clients drew on the host's X server.
//!
//! - xdpyinfo under umbra prints what the same xdpyinfo (the tree's, run
//!   natively in a chroot of the tree) prints about the same server.
//! - xeyes maps its window; the test takes a screenshot of the Xvfb screen
//!   (`xwd -root`, converted to PNG with netpbm and kept as
//!   `target/bench/x11-xeyes.png` for a person to look at), and checks from
//!   its pixels that the window's area is drawn. Then it kills the client
//!   (`xkill`), and umbra exits leaving no process behind.
//! - Without the grant the guest cannot reach the host's X server, neither
//!   by its socket path nor by its abstract name.
//!
//! Each test starts its own Xvfb (`-nolisten tcp`, a black root window) at a
//! free display number, and kills it when it ends, however it ends.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use umbra_tests::{
    compare, debian_image_dir, execute_native, execute_umbra, require_tool, target_dir, umbra,
    Input, Outcome,
};

/// Where the guest sees the host's X socket.
const GUEST_X0: &str = "/tmp/.X11-unix/X0";

/// The guest memory of the umbra runs (the memory file is sparse).
const MEM: &str = "1G";

/// How long an X client may take to show its window on a busy machine.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(90);

/// The size of the Xvfb screen.
const SCREEN: (usize, usize) = (640, 480);

/// An Xvfb on the host, killed when dropped.
struct Xvfb {
    child: Child,
    display: u32,
    /// Xvfb's `-displayfd` pipe, kept open while it runs.
    _ready: ChildStdout,
}

impl Xvfb {
    /// Starts Xvfb at the first free display number from 20 up (0 and the
    /// first few are left to people), waiting until it accepts clients:
    /// `-displayfd` writes the number then. A display whose lock another
    /// server holds makes Xvfb exit at once, and the next number is tried.
    fn start() -> Xvfb {
        let bin = require_tool("Xvfb", "xvfb");
        let screen = format!("{}x{}x24", SCREEN.0, SCREEN.1);
        for display in 20..120 {
            if Path::new(&format!("/tmp/.X{display}-lock")).exists() {
                continue;
            }
            let mut child = Command::new(&bin)
                .arg(format!(":{display}"))
                .args(["-displayfd", "1", "-nolisten", "tcp", "-noreset", "-br"])
                .args(["-screen", "0", &screen])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut ready = child.stdout.take().expect("Xvfb's stdout");
            let mut line = String::new();
            let mut reader = BufReader::new(&mut ready);
            let _ = reader.read_line(&mut line);
            if line.trim() == display.to_string() {
                return Xvfb {
                    child,
                    display,
                    _ready: ready,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no free X display between :20 and :119");
    }

    /// The host's socket of this server.
    fn socket(&self) -> PathBuf {
        PathBuf::from(format!("/tmp/.X11-unix/X{}", self.display))
    }

    /// DISPLAY for host clients.
    fn name(&self) -> String {
        format!(":{}", self.display)
    }

    /// Runs a host X client (xwininfo, xwd, xkill) against this server.
    fn host_client(&self, tool: &str, package: &str, args: &[&str]) -> std::process::Output {
        let bin = require_tool(tool, package);
        Command::new(&bin)
            .args(args)
            .env("DISPLAY", self.name())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM first, so it removes its socket and lock file; what a
        // SIGKILL leaves behind of this server's is removed here.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t0 = std::time::Instant::now();
        while self.child.try_wait().ok().flatten().is_none()
            && t0.elapsed() < std::time::Duration::from_secs(5)
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.socket());
        let _ = std::fs::remove_file(format!("/tmp/.X{}-lock", self.display));
    }
}

/// The environment of both runs, DISPLAY aside.
const ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
];

/// `umbra run` of `argv` with the Debian image as the root, DISPLAY=:0 and,
/// with `grant`, the host socket `grant` at the guest's /tmp/.X11-unix/X0.
fn guest_cmd(grant: Option<&Path>, display: &str, extra: &[&str], argv: &[&str]) -> Command {
    let mut cmd = Command::new(umbra());
    cmd.arg("run")
        .arg("--image")
        .arg(debian_image_dir().join("debian.img"))
        .args(["--mem", MEM, "--cwd", "/root", "--quiet-unsupported"])
        .args(extra);
    if let Some(host) = grant {
        cmd.arg("--unix-socket")
            .arg(format!("{}:{GUEST_X0}", host.display()));
    }
    for (k, v) in ENV {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg("--env").arg(format!("DISPLAY={display}"));
    cmd.arg("--").args(argv);
    cmd
}

/// Runs `argv` natively in a chroot of the Debian tree against `x`. The
/// chroot shares the host's network namespace, so Xlib reaches the server
/// by its abstract name `@/tmp/.X11-unix/XN` (the tree's /tmp is empty).
fn native_chroot(x: &Xvfb, argv: &[&str]) -> Outcome {
    let mut cmd = Command::new(require_tool("chroot", "coreutils"));
    cmd.arg(debian_image_dir().join("tree"))
        .args(argv)
        .env_clear()
        .envs(ENV.iter().copied())
        .env("DISPLAY", x.name());
    execute_native(cmd, &Input::Null)
}

/// xdpyinfo's report with the lines that name the display masked: the
/// guest calls it `:0`, the native run `:N`.
fn masked(out: &Outcome) -> String {
    out.stdout_text()
        .lines()
        .map(|l| {
            if l.starts_with("name of display:") {
                "name of display: (masked)\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[test]
fn xdpyinfo_from_the_image_sees_the_hosts_xvfb() {
    let x = Xvfb::start();
    let native = native_chroot(&x, &["/usr/bin/xdpyinfo"]);
    native.assert_code(0);
    let sock = x.socket();
    let guest = execute_umbra(
        guest_cmd(Some(&sock), ":0", &[], &["/usr/bin/xdpyinfo"]),
        &Input::Null,
    );
    guest.assert_no_leftovers();
    assert!(
        guest.stdout_text().starts_with("name of display:    :0\n"),
        "{}",
        guest.describe()
    );
    let mut n = native.clone();
    n.stdout = masked(&native).into_bytes();
    let mut g = guest.clone();
    g.stdout = masked(&guest).into_bytes();
    compare(&n, &g);
    // The lines that matter, present (and so equal).
    let text = g.stdout_text();
    let dims = format!("  dimensions:    {}x{} pixels", SCREEN.0, SCREEN.1);
    for want in [
        "vendor string:    The X.Org Foundation",
        "number of extensions:",
        "    BIG-REQUESTS",
        "    RENDER",
        "    SHAPE",
        &dims,
        "  depths (6):    24, 1, 4, 8, 16, 32",
        "  root window id:",
        "  number of visuals:",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(want)),
            "no `{want}` in\n{}",
            g.describe()
        );
    }
}

/// Without a grant, the guest cannot reach the host's X server: not by its
/// path (the host's /tmp/.X11-unix is not the guest's), not by its abstract
/// name (the host's abstract namespace is not the guest's), under
/// `--net none` and `--net host`, nor through a grant of another display.
#[test]
fn without_the_grant_the_hosts_display_is_unreachable() {
    let x = Xvfb::start();
    let sock = x.socket();
    let other = PathBuf::from("/tmp/umbra-x11-no-such-display");
    let cases: [(Option<&Path>, &[&str]); 3] =
        [(None, &[]), (None, &["--net", "host"]), (Some(&other), &[])];
    for (grant, extra) in cases {
        let out = execute_umbra(
            guest_cmd(grant, &x.name(), extra, &["/usr/bin/xdpyinfo"]),
            &Input::Null,
        );
        out.assert_code(1);
        out.assert_no_leftovers();
        assert_eq!(out.stdout_text(), "", "{}", out.describe());
        assert!(
            out.stderr_text()
                .contains(&format!("unable to open display \"{}\"", x.name())),
            "{extra:?}: {}",
            out.describe()
        );
    }
    // And the grant is what makes the difference.
    let out = execute_umbra(
        guest_cmd(
            Some(&sock),
            ":0",
            &[],
            &["/usr/bin/xdpyinfo", "-queryExtensions"],
        ),
        &Input::Null,
    );
    out.assert_code(0);
}

/// A window on the screen: its id and its rectangle in root coordinates.
#[derive(Debug, Clone, Copy)]
struct Window {
    id: u64,
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

/// The top-level window whose name is `name`, if `xwininfo -root -tree`
/// lists it, e.g. `0x20000a "xeyes": ("xeyes" "XEyes")  150x100+0+0  +0+0`.
fn find_window(x: &Xvfb, name: &str) -> Option<Window> {
    let out = x.host_client("xwininfo", "x11-utils", &["-root", "-tree"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let quoted = format!("\"{name}\":");
    let line = text.lines().find(|l| l.contains(&quoted))?;
    let id = line.split_whitespace().next()?.strip_prefix("0x")?;
    let id = u64::from_str_radix(id, 16).ok()?;
    let tail = &line[line.rfind(')')? + 1..];
    let mut t = tail.split_whitespace();
    let geom = t.next()?;
    let abs = t.next()?;
    let (w, rest) = geom.split_once('x')?;
    let h: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let mut abs = abs.trim_start_matches('+').split('+');
    Some(Window {
        id,
        x: abs.next()?.parse().ok()?,
        y: abs.next()?.parse().ok()?,
        w: w.parse().ok()?,
        h: h.parse().ok()?,
    })
}

/// Whether `xwininfo -id` reports the window viewable (mapped).
fn viewable(x: &Xvfb, win: Window) -> bool {
    let out = x.host_client("xwininfo", "x11-utils", &["-id", &format!("{:#x}", win.id)]);
    String::from_utf8_lossy(&out.stdout).contains("Map State: IsViewable")
}

/// A binary PPM (P6, maxval 255) image: width, height, RGB bytes.
struct Ppm {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Ppm {
    fn parse(data: &[u8]) -> Option<Ppm> {
        // Four header fields separated by whitespace (comments start with #).
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 4 {
            while data.get(i)?.is_ascii_whitespace() || *data.get(i)? == b'#' {
                if data[i] == b'#' {
                    while *data.get(i)? != b'\n' {
                        i += 1;
                    }
                }
                i += 1;
            }
            let start = i;
            while !data.get(i)?.is_ascii_whitespace() {
                i += 1;
            }
            fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
        }
        // One whitespace byte ends the header.
        let rgb = data.get(i + 1..)?.to_vec();
        let (w, h): (usize, usize) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
        (fields[0] == "P6" && fields[3] == "255" && rgb.len() == w * h * 3).then_some(Ppm {
            w,
            h,
            rgb,
        })
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let at = (y * self.w + x) * 3;
        [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
    }
}

/// Takes a screenshot of the whole Xvfb screen: `xwd -root`, converted to a
/// PPM (returned) and a PNG at `png` by netpbm.
fn screenshot(x: &Xvfb, png: &Path) -> Ppm {
    let xwd = png.with_extension("xwd");
    let out = x.host_client(
        "xwd",
        "x11-apps",
        &["-root", "-silent", "-out", xwd.to_str().unwrap()],
    );
    assert!(out.status.success(), "xwd -root failed: {out:?}");
    let ppm = Command::new(require_tool("xwdtopnm", "netpbm"))
        .arg(&xwd)
        .stderr(Stdio::null())
        .output()
        .expect("cannot run xwdtopnm");
    assert!(ppm.status.success(), "xwdtopnm failed");
    let _ = std::fs::remove_file(&xwd);
    let mut to_png = Command::new(require_tool("pnmtopng", "netpbm"))
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(png).expect("create the PNG"))
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run pnmtopng");
    std::io::Write::write_all(&mut to_png.stdin.take().unwrap(), &ppm.stdout).unwrap();
    assert!(to_png.wait().unwrap().success(), "pnmtopng failed");
    Ppm::parse(&ppm.stdout).expect("xwdtopnm wrote no P6 image")
}

/// How many of the window's pixels are not the black root background, and
/// how many colours the window shows.
fn drawn(img: &Ppm, win: Window) -> (usize, usize) {
    let mut colours = std::collections::HashSet::new();
    let mut lit = 0;
    for y in win.y..(win.y + win.h).min(img.h) {
        for x in win.x..(win.x + win.w).min(img.w) {
            let p = img.pixel(x, y);
            colours.insert(p);
            if p != [0, 0, 0] {
                lit += 1;
            }
        }
    }
    (lit, colours.len())
}

#[test]
fn xeyes_from_the_image_draws_on_the_hosts_xvfb() {
    let x = Xvfb::start();
    let sock = x.socket();
    let cmd = guest_cmd(Some(&sock), ":0", &[], &["/usr/bin/xeyes"]);
    let run = std::thread::spawn(move || execute_umbra(cmd, &Input::Null));
    // Its window appears and is mapped.
    let deadline = Instant::now() + WINDOW_TIMEOUT;
    let win = loop {
        if let Some(w) = find_window(&x, "xeyes").filter(|&w| viewable(&x, w)) {
            break w;
        }
        assert!(
            !run.is_finished(),
            "umbra ended before xeyes mapped its window: {}",
            run.join().map_or("(panicked)".into(), |o| o.describe())
        );
        assert!(
            Instant::now() < deadline,
            "no xeyes window after {WINDOW_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(win.w >= 20 && win.h >= 20, "{win:?}");
    // It is drawn: xeyes (shaped to its two eyes) paints white eyes with
    // black pupils and outlines on the black root. Drawing follows the
    // mapping, so the screen is taken until it shows (or the time is up).
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("x11-xeyes.png");
    let area = win.w * win.h;
    let (lit, colours) = loop {
        let img = screenshot(&x, &png);
        assert_eq!((img.w, img.h), SCREEN);
        let (lit, colours) = drawn(&img, win);
        if (lit > area / 5 && colours >= 2) || Instant::now() > deadline {
            break (lit, colours);
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        lit > area / 5 && colours >= 2,
        "xeyes' window {win:?} is not drawn: {lit} of {area} pixels lit, {colours} colours \
         (see {})",
        png.display()
    );
    // Kill the client: the server closes its connection, xeyes' Xlib sees
    // the broken connection and exits 1, and with it umbra.
    let out = x.host_client("xkill", "x11-utils", &["-id", &format!("{:#x}", win.id)]);
    assert!(out.status.success(), "xkill failed: {out:?}");
    let out = run.join().expect("the umbra run");
    out.assert_code(1);
    assert!(
        out.stderr_text().contains("X connection to :0 broken"),
        "{}",
        out.describe()
    );
    out.assert_no_leftovers();
    assert!(
        find_window(&x, "xeyes").is_none(),
        "xeyes' window outlived it"
    );
}
