//! `cargo xtask debian-image`: the Debian bookworm minbase tree and its ext2
//! image that `tests/e2e_debian.rs` compares umbra with a native chroot on.
//! The recipe is `images/debian/build.sh` (debootstrap, then apt-get in a
//! chroot); its result is cached under `/var/cache/umbra/debian/KEY`
//! (`UMBRA_CACHE`), keyed by suite, arch, package list and recipe version, so
//! only the first run on a machine takes minutes.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{is_root, root, show, which, Result};

/// Builds (or finds in the cache) the Debian tree and image, and returns the
/// cache directory holding `tree/` and `debian.img`.
pub fn debian_image() -> Result<PathBuf> {
    if !is_root() {
        return Err("debootstrap and chroot need root".into());
    }
    if which("debootstrap").is_none() {
        return Err("debootstrap is missing; `cargo xtask setup` installs it".into());
    }
    let mut cmd = Command::new(root().join("images/debian/build.sh"));
    cmd.stdout(Stdio::piped());
    let shown = show(&cmd);
    println!("$ {shown}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{shown}` failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let dir = PathBuf::from(text.lines().last().unwrap_or("").trim());
    let img = dir.join("debian.img");
    let size = img
        .metadata()
        .map_err(|e| format!("{}: {e}", img.display()))?
        .len();
    println!("debian-image: {} ({} MiB)", img.display(), size >> 20);
    println!("debian-image: tree {}", dir.join("tree").display());
    Ok(dir)
}
