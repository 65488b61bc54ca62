//! `cargo xtask test-arm`: the end-to-end suite on emulated ARM hosts, one
//! QEMU boot (one vCPU, TCG) per architecture:
//!
//! - arm64: umbra built for `aarch64-unknown-linux-musl` (rust-lld),
//!   qemu-system-aarch64 cortex-a57, Debian's arm64 kernel;
//! - armhf: umbra built for `armv7-unknown-linux-gnueabihf` (static glibc,
//!   arm-linux-gnueabihf-gcc; see .cargo/config.toml), qemu-system-arm
//!   cortex-a15, Debian's armmp-lpae kernel.
//!
//! For each, `images/arm/fetch.sh` installs QEMU and the cross tools (apt-get,
//! as root) and fetches (once) the kernel and busybox-static, umbra is built
//! with the `rom` profile, and `images/arm/run.sh` boots the machine with an
//! initramfs holding umbra, busybox, the probe and a guest initrd, runs
//! `images/arm/init` inside and prints `ARCH: N passed, N failed`. When umbra does not build for an arch,
//! the machine still boots (the probe's native checks and benches run) and
//! the suite counts as failed with the build error. Each boot is killed after
//! `QEMU_TIMEOUT` seconds (default 600).
//!
//! Before the boot, umbra-core's and umbra-abi's unit tests run for the arch
//! under qemu-user (MockHost; no ptrace needed), and the seccomp platform's
//! filter test (shim/tests/seccomp_trap.rs; armv7: seccomp_trap_arm.rs; a
//! BPF interpreter).
//!
//! Options: `--arch aarch64|armv7` runs one (default: both); `--debug` tests
//! a dev-profile umbra instead of the `rom` build; `--platform
//! ptrace|seccomp` runs umbra's tests in the machine on that platform
//! (UMBRA_PLATFORM in the machine; default: umbra's own default);
//! `--only REGEX` runs only the tests of images/arm/init whose names match
//! the extended regex (no spaces or quotes: it rides the kernel command
//! line; `.` matches a space); `--no-unit-tests` skips the qemu-user unit
//! tests (for a second pass on another platform).

use crate::{cargo, root, show, target_dir, Result};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Arch {
    /// The Debian name, used by images/arm and in the summary lines.
    debian: &'static str,
    rust: &'static str,
    target: &'static str,
}

const ARCHES: &[Arch] = &[
    Arch {
        debian: "arm64",
        rust: "aarch64",
        target: "aarch64-unknown-linux-musl",
    },
    Arch {
        debian: "armhf",
        rust: "armv7",
        target: "armv7-unknown-linux-gnueabihf",
    },
];

/// `cargo xtask test-arm [--arch aarch64|armv7] [--debug]`.
pub fn test_arm(args: &[String]) -> Result<()> {
    let mut profile = "rom";
    let mut only: Option<&Arch> = None;
    let mut env: Vec<(&str, String)> = Vec::new();
    let mut unit = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--debug" => profile = "dev",
            "--no-unit-tests" => unit = false,
            "--platform" => {
                let v = it
                    .next()
                    .ok_or("test-arm: --platform needs ptrace or seccomp")?;
                if v != "ptrace" && v != "seccomp" {
                    return Err(format!("test-arm: unknown --platform `{v}`"));
                }
                env.push(("ARM_PLATFORM", v.clone()));
            }
            "--only" => {
                let v = it.next().ok_or("test-arm: --only needs a regex")?;
                if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '"') {
                    return Err(format!(
                        "test-arm: --only `{v}`: no spaces or quotes (`.` matches a space)"
                    ));
                }
                env.push(("ARM_ONLY", v.clone()));
            }
            "--arch" => {
                let v = it.next().ok_or("test-arm: --arch needs aarch64 or armv7")?;
                only = Some(
                    ARCHES
                        .iter()
                        .find(|x| v == x.rust || v == x.debian || v == x.target)
                        .ok_or_else(|| {
                            format!("test-arm: unknown --arch `{v}` (aarch64 or armv7)")
                        })?,
                );
            }
            other => return Err(format!("test-arm: unknown option `{other}`")),
        }
    }
    let arches: Vec<&Arch> = match only {
        Some(a) => vec![a],
        None => ARCHES.iter().collect(),
    };
    let targets: Vec<&str> = arches.iter().map(|a| a.target).collect();
    crate::rustup_add("target", &targets)?;

    let mut summary = Vec::new();
    for a in &arches {
        println!("\n==> test-arm {} ({})", a.debian, a.target);
        // First the tools: the armv7 build links with the cross gcc.
        if let Err(e) = fetch(a) {
            summary.push((format!("{}: 0 passed, 1 failed ({e})", a.debian), false));
            continue;
        }
        // umbra-core and umbra-abi's unit tests, built for the arch and run
        // under qemu-user (no ptrace needed: they use the MockHost).
        if let Err(e) = if unit { unit_tests(a) } else { Ok(()) } {
            summary.push((format!("{}: unit tests failed ({e})", a.debian), false));
        }
        let line = match build(a, profile) {
            Ok(umbra) => boot(a, &umbra.to_string_lossy(), None, &env),
            Err(e) => {
                eprintln!("umbra does not build for {}: {e}", a.target);
                boot(a, "none", Some(&e), &env)
            }
        };
        summary.push(line);
    }
    println!();
    for (line, _) in &summary {
        println!("{line}");
    }
    let failed: Vec<&str> = summary
        .iter()
        .zip(&arches)
        .filter(|((_, ok), _)| !ok)
        .map(|(_, a)| a.debian)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the ARM suite failed on {} (machine logs: {}/boot-ARCH.log)",
            failed.join(", "),
            target_dir().join("arm").display()
        ))
    }
}

/// images/arm/fetch.sh: QEMU, the cross tools, the kernel and busybox.
fn fetch(a: &Arch) -> Result<()> {
    crate::run(
        Command::new("bash")
            .arg(root().join("images/arm/fetch.sh"))
            .arg(target_dir().join("arm"))
            .arg(a.debian),
    )
}

/// `cargo test -p umbra-core -p umbra-abi` for `a`, run by qemu-user
/// (`qemu-aarch64-static` / `qemu-arm-static`, installed by fetch.sh).
fn unit_tests(a: &Arch) -> Result<()> {
    let qemu = match a.rust {
        "aarch64" => "qemu-aarch64-static",
        _ => "qemu-arm-static",
    };
    let runner = format!(
        "CARGO_TARGET_{}_RUNNER",
        a.target.to_uppercase().replace('-', "_")
    );
    crate::run(
        cargo()
            .args(["test", "-p", "umbra-core", "-p", "umbra-abi", "--target"])
            .arg(a.target)
            .env(&runner, qemu),
    )?;
    // The seccomp platform's stub filter through the BPF interpreter of
    // shim/tests/seccomp_trap.rs (armv7: seccomp_trap_arm.rs; no host
    // kernel needed).
    let test = match a.rust {
        "aarch64" => "seccomp_trap",
        _ => "seccomp_trap_arm",
    };
    crate::run(
        cargo()
            .args(["test", "-p", "umbra-shim", "--test", test, "--target"])
            .arg(a.target)
            .env(&runner, qemu),
    )?;
    Ok(())
}

/// Builds umbra for `a`; the binary, or the first compile errors.
fn build(a: &Arch, profile: &str) -> Result<std::path::PathBuf> {
    let mut c = cargo();
    c.arg("build");
    if profile == "rom" {
        c.args(crate::rom::rom_cargo_flags(a.target));
        c.envs(crate::rom::rom_env(a.target));
    }
    c.args([
        "-p",
        "umbra-shim",
        "--bin",
        "umbra",
        "--target",
        a.target,
        "--profile",
        profile,
    ]);
    println!("$ {}", show(&c));
    let out = c
        .stdout(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let lines: Vec<&str> = err.lines().collect();
        let errors: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].starts_with("error"))
            .collect();
        // The first error with its location, and how many there were.
        let first = errors
            .first()
            .map(|&i| {
                let loc = lines
                    .get(i + 1)
                    .map(|l| l.trim().trim_start_matches("--> "))
                    .unwrap_or("");
                format!("{} ({loc})", lines[i])
            })
            .unwrap_or_else(|| lines.last().copied().unwrap_or("").to_string());
        for &i in errors.iter().take(8) {
            eprintln!("{}", lines[i..(i + 3).min(lines.len())].join("\n"));
        }
        return Err(format!("{} error line(s); first: {first}", errors.len()));
    }
    let dir = if profile == "dev" { "debug" } else { profile };
    let umbra = target_dir().join(a.target).join(dir).join("umbra");
    if umbra.is_file() {
        let len = std::fs::metadata(&umbra).map_or(0, |m| m.len());
        println!("built {} ({len} bytes)", umbra.display());
        // The full build's ROM budget holds on the 64-bit hosts (issue 11;
        // the device build's is checked on x86_64 by `cargo xtask test`).
        if profile == "rom" && a.rust == "aarch64" && len > crate::rom::FULL_ROM_BUDGET {
            return Err(format!(
                "the full rom build is {len} bytes, over the {} byte budget",
                crate::rom::FULL_ROM_BUDGET
            ));
        }
        Ok(umbra)
    } else {
        Err(format!("no umbra binary at {}", umbra.display()))
    }
}

/// Runs images/arm/run.sh for `a`, streaming its output; the summary line
/// (`arm64: N passed, N failed`) and whether it passed.
fn boot(
    a: &Arch,
    umbra: &str,
    build_error: Option<&str>,
    env: &[(&str, String)],
) -> (String, bool) {
    let out = target_dir().join("arm");
    let mut c = Command::new("bash");
    c.arg(root().join("images/arm/run.sh"))
        .args(["--arch", a.debian, umbra])
        .arg(&out)
        .env_remove("ARM_PLATFORM")
        .env_remove("ARM_ONLY")
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdout(Stdio::piped());
    if let Some(e) = build_error {
        c.env("UMBRA_ERROR", format!("umbra did not build: {e}"));
    }
    println!("$ {}", show(&c));
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => return (format!("{}: cannot run run.sh: {e}", a.debian), false),
    };
    let prefix = format!("{}: ", a.debian);
    let mut last = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            println!("{line}");
            if line.starts_with(&prefix) && line.contains(" passed, ") {
                last = Some(line);
            }
        }
    }
    let ok = child.wait().is_ok_and(|s| s.success());
    let line = last.unwrap_or_else(|| {
        format!(
            "{}: 0 passed, 1 failed (run.sh ended without a summary; log {}/boot-{}.log)",
            a.debian,
            out.display(),
            a.debian
        )
    });
    (line, ok && build_error.is_none())
}
