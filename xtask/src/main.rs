//! `cargo xtask`: the project's automation, in Rust with std only, so that a
//! fresh Debian machine needs nothing but Rust to start.
//!
//! - `setup`  installs what the builds and tests need (apt-get, rustup)
//! - `initrd` writes the busybox initrd (target/umbra/busybox.cpio)
//! - `demo`   builds umbra and a busybox initrd and runs a few commands in it
//! - `test`   fmt, clippy, aarch64 and armv7 checks of the core, and all tests
//! - `bench`  the comparison suite: native, umbra and its peers (docs/BENCHMARKS.md)
//! - `rom`    the `rom` profile build of umbra, and its size
//! - `size`   the ROM and RAM budget: rom build size, contributors, RSS, --mem
//! - `test-arm` the end-to-end suite on emulated aarch64 and armv7 hosts (arm.rs)
//! - `debian-image` the cached Debian tree and ext2 image of tests/e2e_debian.rs (debian.rs)
//! - `paper`  the origin paper's tables measured again (paper/mod.rs; docs/PAPER.md)

// Shared with the umbra-tests crate, which uses all of it.
#[allow(dead_code, reason = "xtask uses only part of the shared initrd writer")]
#[path = "../../tests/initrd.rs"]
mod initrd;

mod arm;
mod bench;
mod debian;
mod paper;
mod procs;
mod rom;
mod size;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Errors are messages for the person at the terminal.
pub type Result<T> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup                 install missing tools: apt-get (as root) musl-tools,
                        busybox-static, cpio, e2fsprogs, gcc, libc6-dev,
                        python3, klibc-utils, mksh, debootstrap, iproute2,
                        xvfb, x11-apps, x11-utils, xdotool, netpbm,
                        podman, runc, conmon, netavark, iptables, containerd,
                        docker.io;
                        rustup targets and components
  debian-image          build (or find in /var/cache/umbra/debian) the Debian
                        bookworm minbase tree with python3-minimal, gcc,
                        make and X clients (x11-apps, x11-utils, dillo), and
                        its ext2 image (images/debian; as root)
  initrd [FILE]         write the busybox initrd (default
                        target/umbra/busybox.cpio); see images/README.md
  test-arm [--arch aarch64|armv7] [--debug] [--platform ptrace|seccomp]
           [--only REGEX] [--no-unit-tests]
                        the end-to-end suite on emulated ARM hosts (images/arm):
                        build umbra (rom) for aarch64 and armv7, boot each in
                        QEMU (one vCPU), print `arm64: N passed, N failed` and
                        `armhf: ...`; fetches QEMU, kernels, busybox (as root)
  demo                  setup, build umbra (release) and a busybox initrd,
                        run a few busybox commands under umbra
  test                  setup, then fmt --check, clippy -D warnings, aarch64
                        and armv7 checks of umbra-core, cargo test --workspace
  bench [--cpu N] [--runs N] [--quick] [--peers] [--only W,..] [--systems S,..]
                        the comparison suite: micro, macro and start-up
                        workloads natively, under umbra, the PTRACE_SYSEMU
                        floor, PRoot, gVisor and UML (those installed;
                        --peers installs them as root); Markdown table on
                        stdout, CSV, JSON and chart.svg in target/bench/;
                        see docs/BENCHMARKS.md
  rom [--target TRIPLE] build umbra with the rom profile (default target
                        x86_64-unknown-linux-musl) and print its size
  rom --device          the device ROM build (x86_64, --no-default-features:
                        no OCI runtime, image tool, host directories or host
                        networking), budget 702 KiB; the full build's is 1 MiB
  size [--target TRIPLE]
                        the ROM and RAM budget: rom build size next to the
                        paper's 1,358 KB kernel, sections, largest crates and
                        functions, peak host RSS of umbra and its stubs, the
                        smallest working --mem (vs the paper's 3.0 MB)
  paper [--only table1,..] [--quick] [--runs N] [--docs] [--docs-only]
        [--rom-features] [--arm64]
                        the paper's tables (ROM and RAM, xengine, dillo):
                        the paper's figure, the host and umbra, with the
                        issue's targets; Markdown, JSON and chart.svg in
                        target/paper/; --docs keeps the tables run in
                        docs/paper/ID.json and rewrites docs/PAPER.md from
                        them (--docs-only: without measuring);
                        --rom-features: Table 1 also sizes the device ROM
                        with each optional part (one rom build each);
                        --arm64: the tables for arm64 (Table 1: aarch64
                        sizes, RAM measured in the emulated arm64 machine;
                        the others say they are not measured on arm64 yet);
                        installs what it needs (apt-get, as root)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd {
        "setup" => setup(),
        "initrd" => busybox_initrd(rest.first().map(PathBuf::from)).map(|_| ()),
        "demo" => demo(),
        "test-arm" => arm::test_arm(rest),
        "debian-image" => debian::debian_image().map(|_| ()),
        "test" => test(),
        "bench" => bench::bench(rest),
        "rom" if rest.first().map(String::as_str) == Some("--device") && rest.len() == 1 => {
            rom::device_rom().map(|_| ())
        }
        "rom" => rom::rom(rest).map(|_| ()),
        "size" => size::size(rest),
        "paper" => paper::paper(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {cmd}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => root().join(d),
        None => root().join("target"),
    }
}

/// A `cargo` command in the workspace root, using the cargo that runs us.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Prints the command, runs it with inherited stdio, and fails unless it
/// exits with 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = show(cmd);
    println!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// A command as a shell would show it, without quoting subtleties.
pub fn show(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(' ') {
            format!("'{a}'")
        } else {
            a.into_owned()
        }
    }));
    parts.join(" ")
}

/// The first executable `name` on PATH, or in the sbin directories, which a
/// non-login root shell may lack.
pub fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// Whether `gcc -static` can link glibc: libc6-dev provides libc.a.
fn have_static_glibc() -> bool {
    Command::new("gcc")
        .arg("-print-file-name=libc.a")
        .output()
        .is_ok_and(|o| Path::new(String::from_utf8_lossy(&o.stdout).trim()).is_absolute())
}

/// Whether /bin/busybox is the static build (busybox-static), not the
/// dynamically linked `busybox` package.
fn have_static_busybox() -> bool {
    std::fs::read(initrd::BUSYBOX)
        .is_ok_and(|elf| rom::Elf::parse(&elf).is_ok_and(|e| !e.has_interp()))
}

/// Debian packages that provide what is missing.
fn missing_packages() -> Vec<&'static str> {
    let mut missing = Vec::new();
    let mut need = |ok: bool, pkg| {
        if !ok {
            missing.push(pkg);
        }
    };
    need(which("musl-gcc").is_some(), "musl-tools");
    need(have_static_busybox(), "busybox-static");
    need(which("cpio").is_some(), "cpio");
    need(which("mke2fs").is_some(), "e2fsprogs");
    need(which("gcc").is_some(), "gcc");
    need(which("gcc").is_none() || have_static_glibc(), "libc6-dev");
    need(which("python3").is_some(), "python3");
    need(which("g++").is_some(), "g++");
    need(which("taskset").is_some(), "util-linux");
    need(which("kill").is_some(), "procps");
    need(
        std::path::Path::new("/usr/lib/klibc/bin/cat").exists(),
        "klibc-utils",
    );
    // Its dietlibc build is the vDSO test's (tests/e2e_vdso.rs).
    need(
        std::path::Path::new("/usr/lib/diet/bin/mksh").exists(),
        "mksh",
    );
    need(which("debootstrap").is_some(), "debootstrap");
    // `ip link set lo up` in the network namespaces of the socket tests.
    need(which("ip").is_some(), "iproute2");
    // The host's X server and its clients: the display test
    // (tests/e2e_x11.rs) and the paper's browser table.
    need(which("Xvfb").is_some(), "xvfb");
    need(which("xwd").is_some(), "x11-apps");
    need(which("xwininfo").is_some(), "x11-utils");
    need(which("xdotool").is_some(), "xdotool");
    need(which("xwdtopnm").is_some(), "netpbm");
    need(Path::new("/usr/include/X11/Xlib.h").exists(), "libx11-dev");
    // Issue 15's OCI runtime tests (tests/e2e_podman.rs) and the podman
    // bench workload: podman with runc as the native control, conmon, the
    // netavark network backend and the iptables its port forwarding uses
    // (as root: no uidmap, slirp4netns or fuse-overlayfs needed),
    // containerd's ctr, and dockerd.
    need(which("podman").is_some(), "podman");
    need(which("runc").is_some(), "runc");
    need(which("conmon").is_some(), "conmon");
    need(Path::new("/usr/lib/podman/netavark").exists(), "netavark");
    need(which("iptables").is_some(), "iptables");
    need(which("ctr").is_some(), "containerd");
    need(which("dockerd").is_some(), "docker.io");
    missing
}

/// `cargo xtask setup`: installs missing Debian packages (as root) and the
/// rustup targets and components the builds use.
fn setup() -> Result<()> {
    let missing = missing_packages();
    if missing.is_empty() {
        println!("setup: all Debian packages present");
    } else if !is_root() {
        return Err(format!(
            "missing tools; as root run: apt-get install -y {}",
            missing.join(" ")
        ));
    } else {
        let install = || {
            let mut c = Command::new("apt-get");
            c.args(["install", "-y", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive");
            run(&mut c)
        };
        if install().is_err() {
            // A fresh machine has no package lists yet.
            run(Command::new("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"))?;
            install()?;
        }
        let still = missing_packages();
        if !still.is_empty() {
            return Err(format!("still missing after apt-get: {}", still.join(" ")));
        }
    }
    rustup_add(
        "target",
        &[
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
            "armv7-unknown-linux-gnueabihf",
        ],
    )?;
    rustup_add("component", &["clippy", "rustfmt", "rust-src"])?;
    Ok(())
}

/// `rustup <kind> add` for those of `items` not yet installed.
pub fn rustup_add(kind: &str, items: &[&str]) -> Result<()> {
    let Some(rustup) = which("rustup") else {
        println!("setup: no rustup; make sure these {kind}s are installed: {items:?}");
        return Ok(());
    };
    let listed = Command::new(&rustup)
        .args([kind, "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    let installed = String::from_utf8_lossy(&listed.stdout);
    let todo: Vec<&str> = items
        .iter()
        .copied()
        // Components are listed with the host triple appended.
        .filter(|i| {
            !installed
                .lines()
                .any(|l| l == *i || l.starts_with(&format!("{i}-")))
        })
        .collect();
    if todo.is_empty() {
        println!("setup: rustup {kind}s present: {}", items.join(" "));
        return Ok(());
    }
    run(Command::new(rustup).args([kind, "add"]).args(&todo))
}

/// Builds `umbra` with `cargo build --release -p umbra-shim` and returns it.
pub fn build_umbra_release() -> Result<PathBuf> {
    run(cargo().args(["build", "--release", "-p", "umbra-shim"]))?;
    let bin = target_dir().join("release/umbra");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} missing after the build", bin.display()))
    }
}

/// `cargo xtask initrd [FILE]`: writes the busybox initrd (see
/// `initrd::busybox_root`) to FILE, by default target/umbra/busybox.cpio.
fn busybox_initrd(out: Option<PathBuf>) -> Result<PathBuf> {
    let path = out.unwrap_or_else(|| target_dir().join("umbra/busybox.cpio"));
    let rd = initrd::busybox_root(Path::new(initrd::BUSYBOX)).map_err(|e| e.to_string())?;
    rd.write(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "initrd: {} ({} entries)",
        path.display(),
        rd.entries().count()
    );
    Ok(path)
}

/// `cargo xtask demo`.
fn demo() -> Result<()> {
    setup()?;
    let umbra = build_umbra_release()?;
    let rd_path = busybox_initrd(None)?;
    let commands: &[&[&str]] = &[
        &["echo", "hello", "from", "umbra"],
        &["uname", "-a"],
        &["seq", "1", "5"],
        &["ls", "/"],
        &["cat", "/etc/passwd"],
        &["sh", "-c", "echo I am pid $$; cd /etc && pwd"],
        // Processes, pipes and signals: the guest forks, execs and waits.
        &[
            "sh",
            "-c",
            "seq 1 1000 | sort -rn | head -3; echo lines: $(yes | head -n 5000 | wc -l)",
        ],
        &[
            "sh",
            "-c",
            "trap 'echo caught TERM' TERM; kill -TERM $$; sleep 1 & wait $!; echo job done: $?",
        ],
        &["sh", "-c", "ps; free; mount | head -4"],
    ];
    let mut failed = Vec::new();
    for args in commands {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.to_string()
                }
            })
            .collect();
        println!("\numbra$ busybox {}", shown.join(" "));
        let status = Command::new(&umbra)
            .arg("run")
            .arg("--initrd")
            .arg(&rd_path)
            .args(["--env", "PATH=/bin", "--", "/bin/busybox"])
            .args(*args)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", umbra.display()))?;
        if !status.success() {
            println!("({status})");
            failed.push(args.join(" "));
        }
    }
    if failed.is_empty() {
        println!("\ndemo: all {} commands succeeded", commands.len());
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join("; ")))
    }
}

/// `cargo xtask test`: every step runs, even after a failure, and a summary
/// says which failed.
fn test() -> Result<()> {
    let mut results: Vec<(String, Result<()>, f64)> = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut() -> Result<()>| {
        println!("\n==> {name}");
        let t = Instant::now();
        let r = f();
        if let Err(e) = &r {
            eprintln!("{name}: {e}");
        }
        results.push((name.to_string(), r, t.elapsed().as_secs_f64()));
    };
    step("setup", &mut setup);
    step("fmt", &mut || {
        run(cargo().args(["fmt", "--all", "--", "--check"]))
    });
    step("clippy", &mut || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    });
    step("aarch64 check", &mut || {
        run(cargo().args([
            "check",
            "-p",
            "umbra-core",
            "--target",
            "aarch64-unknown-linux-musl",
        ]))
    });
    step("armv7 check", &mut || {
        run(cargo().args([
            "check",
            "-p",
            "umbra-core",
            "--target",
            "armv7-unknown-linux-gnueabihf",
        ]))
    });
    // The ROM budget (issue 11): the x86_64 device ROM build (what a device
    // flashes: `--no-default-features`) stays within 702 KiB (Table 1's
    // 1,000 KB ROM total less its 298 KB disk image, issue 14), and the full
    // rom build (the OCI runtime, the image tool, host directories and host
    // networking too) within 1 MiB (issue 11). aarch64's full build is built and
    // booted by `cargo xtask test-arm`, and `cargo xtask size` reports all
    // three.
    step("rom budget", &mut || {
        let within = |bin: std::path::PathBuf, budget: u64| {
            let len = std::fs::metadata(&bin).map_err(|e| e.to_string())?.len();
            if len > budget {
                return Err(format!(
                    "{}: {len} bytes, over the {budget} byte budget",
                    bin.display()
                ));
            }
            Ok(())
        };
        within(rom::device_rom()?, rom::ROM_BUDGET)?;
        within(rom::rom(&[])?, rom::FULL_ROM_BUDGET)
    });
    // The guest kernel as the device build has it (`--no-default-features`):
    // the parts left out answer as Linux built without them (issue 14).
    step("device core tests", &mut || {
        run(cargo().args(["test", "-p", "umbra-core", "--no-default-features", "--lib"]))
    });
    // The Debian image of tests/e2e_debian.rs, built (or found in the cache)
    // before the tests, so its minutes show as their own step.
    step("debian image", &mut || debian::debian_image().map(|_| ()));
    // A hung test fails the step (with its name in the output) instead of
    // eating the CI budget: `timeout` kills cargo's whole process group.
    step("tests", &mut || {
        run(Command::new("timeout")
            .args(["--kill-after=30s", "40m"])
            .arg(cargo().get_program())
            // --no-fail-fast: one failing test binary must not hide the
            // ones after it.
            .args(["test", "--workspace", "--no-fail-fast"]))
    });

    println!("\n| step | result | seconds |\n|---|---|---|");
    for (name, r, secs) in &results {
        let verdict = if r.is_ok() { "ok" } else { "FAILED" };
        println!("| {name} | {verdict} | {secs:.1} |");
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, r, _)| r.is_err())
        .map(|(n, _, _)| n.as_str())
        .collect();
    if failed.is_empty() {
        println!("\nall steps passed");
        Ok(())
    } else {
        Err(format!("failed steps: {}", failed.join(", ")))
    }
}
