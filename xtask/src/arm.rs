//! `cargo xtask test-arm`: the end-to-end suite on an emulated aarch64 host.
//!
//! Cross-builds umbra for `aarch64-unknown-linux-musl` (rust-lld, see
//! .cargo/config.toml) and runs `images/arm/run.sh`, which fetches (once)
//! Debian's arm64 kernel and busybox-static and qemu-system-aarch64
//! (`images/arm/fetch.sh`), boots the machine with an initramfs holding umbra,
//! busybox and a guest initrd, runs the tests of `images/arm/init` inside
//! (`umbra run --initrd ... -- /bin/busybox ...`) and prints
//! `arm64: N passed, N failed`.
//!
//! Options: `--debug` tests a dev-profile umbra instead of the `rom` build.

use crate::{cargo, root, run, target_dir, Result};
use std::process::Command;

const TARGET: &str = "aarch64-unknown-linux-musl";

/// `cargo xtask test-arm [--debug]`.
pub fn test_arm(args: &[String]) -> Result<()> {
    let mut profile = "rom";
    for a in args {
        match a.as_str() {
            "--debug" => profile = "dev",
            other => return Err(format!("test-arm: unknown option `{other}`")),
        }
    }
    run(cargo().args([
        "build",
        "-p",
        "umbra-shim",
        "--bin",
        "umbra",
        "--target",
        TARGET,
        "--profile",
        profile,
    ]))?;
    let dir = if profile == "dev" { "debug" } else { profile };
    let umbra = target_dir().join(TARGET).join(dir).join("umbra");
    if !umbra.is_file() {
        return Err(format!("no umbra binary at {}", umbra.display()));
    }
    let out = target_dir().join("arm");
    run(Command::new("bash")
        .arg(root().join("images/arm/run.sh"))
        .arg(&umbra)
        .arg(&out))
    .map_err(|e| {
        format!(
            "the arm64 suite failed: {e} (machine log: {}/boot-arm64.log)",
            out.display()
        )
    })
}
