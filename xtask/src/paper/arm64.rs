//! Debian's arm64 packages for the tables that run in the emulated arm64
//! machine (`cargo xtask paper --arm64`): Xvfb and its libraries for the
//! machine, the static X libraries xengine is cross-compiled against.
//!
//! Nothing is installed on this host and no foreign dpkg architecture is
//! added: a private apt configuration for arm64 (the one Table 1 uses for
//! musl-dev, `$UMBRA_CACHE/paper/apt-arm64`, this machine's mirror and
//! suite) works out which packages `apt-get install --no-install-recommends`
//! would fetch on an empty system, downloads them and unpacks them
//! (`dpkg-deb -x`, no maintainer scripts) into
//! `$UMBRA_CACHE/paper/NAME-HASH`, HASH over the recipe and every
//! package's name and version: the same packages are unpacked once, and a
//! new version in the archive makes a new directory.

use std::path::PathBuf;
use std::process::Command;

use super::rom_ram::{cache_root, debian_mirror, debian_suite, fnv, output};
use crate::{is_root, run as sh, Result};

/// The private apt configuration for arm64.
struct Apt {
    dir: PathBuf,
    opts: Vec<String>,
}

impl Apt {
    fn new() -> Result<Apt> {
        let dir = cache_root().join("apt-arm64");
        let list = dir.join("sources.list");
        if !list.is_file() {
            if !is_root() {
                return Err(format!(
                    "{} is missing; making it needs root",
                    list.display()
                ));
            }
            for d in ["lists/partial", "cache/archives/partial"] {
                std::fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
            }
            let mirror = debian_mirror().unwrap_or_else(|| "http://deb.debian.org/debian".into());
            std::fs::write(&list, format!("deb {mirror} {} main\n", debian_suite()?))
                .map_err(|e| format!("{}: {e}", list.display()))?;
        }
        let opts = vec![
            "-o=APT::Architecture=arm64".to_string(),
            "-o=APT::Architectures::=arm64".into(),
            format!("-o=Dir::Etc::sourcelist={}", list.display()),
            "-o=Dir::Etc::sourceparts=/dev/null".into(),
            format!("-o=Dir::State::Lists={}", dir.join("lists").display()),
            format!("-o=Dir::Cache={}", dir.join("cache").display()),
            "-o=Dir::State::status=/dev/null".into(),
            "-o=APT::Sandbox::User=root".into(),
        ];
        Ok(Apt { dir, opts })
    }

    fn has_lists(&self) -> bool {
        std::fs::read_dir(self.dir.join("lists"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
    }

    fn update(&self) -> Result<()> {
        if !is_root() {
            return Err("the arm64 package lists need updating, which needs root".into());
        }
        sh(Command::new("apt-get")
            .args(&self.opts)
            .args(["update", "-qq"]))
    }

    /// (name, version) of every package `apt-get install
    /// --no-install-recommends PKGS` would fetch on an empty arm64 system.
    fn closure(&self, pkgs: &[&str]) -> Result<Vec<(String, String)>> {
        let out = output(
            Command::new("apt-get")
                .args(&self.opts)
                .args(["-s", "install", "--no-install-recommends"])
                .args(pkgs),
        )?;
        Ok(parse_simulation(&out))
    }
}

/// The `Inst NAME (VERSION ...)` lines of `apt-get -s install`.
fn parse_simulation(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("Inst ")?.split_whitespace();
            let name = w.next()?;
            let version = w.next()?.strip_prefix('(')?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

/// Whether `name` matches one of `patterns` (exact, or a prefix ending in
/// `*`).
fn matches(name: &str, patterns: &[&str]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *p,
    })
}

/// What to unpack.
pub struct Unpack<'a> {
    /// The cache directory's name before its hash.
    pub name: &'a str,
    /// Describes how the directory is made; bumped when that changes.
    pub recipe: &'a str,
    pub packages: &'a [&'a str],
    /// Also their dependencies (`Depends`, `Pre-Depends`), as apt-get would
    /// install them; else only `packages`.
    pub dependencies: bool,
    /// Dependencies left out (exact names, or prefixes ending in `*`):
    /// ones the programs run here do not load.
    pub leave_out: &'a [&'a str],
    /// Directories removed after unpacking (documentation).
    pub prune: &'a [&'a str],
}

/// The directory holding `u`'s packages unpacked: from the cache, or
/// downloaded and unpacked now.
pub fn unpacked(u: &Unpack) -> Result<PathBuf> {
    let apt = Apt::new()?;
    if !apt.has_lists() {
        apt.update()?;
    }
    let list = |apt: &Apt| -> Result<Vec<(String, String)>> {
        let mut all = apt.closure(u.packages)?;
        all.retain(|(n, _)| {
            if u.dependencies {
                !matches(n, u.leave_out)
            } else {
                u.packages.contains(&n.as_str())
            }
        });
        all.sort();
        if all.is_empty() {
            return Err(format!(
                "apt-get -s install {}: nothing",
                u.packages.join(" ")
            ));
        }
        Ok(all)
    };
    let pkgs = list(&apt)?;
    let key = |pkgs: &[(String, String)]| {
        let mut text = u.recipe.to_string();
        for (n, v) in pkgs {
            text.push_str(&format!("\n{n} {v}"));
        }
        (text.clone(), fnv(text.as_bytes()))
    };
    let (text, hash) = key(&pkgs);
    let cache = cache_root();
    let dir = cache.join(format!("{}-{hash:016x}", u.name));
    if dir.join(".unpacked").is_file() {
        println!("arm64: {} from the cache, {}", u.name, dir.display());
        return Ok(dir);
    }
    if !is_root() {
        return Err(format!(
            "{} is not in the cache yet; downloading it needs root",
            dir.display()
        ));
    }
    let tmp = cache.join(format!("{}.tmp-{}", u.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let debs = tmp.join("debs");
    std::fs::create_dir_all(&debs).map_err(|e| format!("{}: {e}", debs.display()))?;
    let download = |pkgs: &[(String, String)]| {
        sh(Command::new("apt-get")
            .current_dir(&debs)
            .args(&apt.opts)
            .args(["download", "-qq"])
            .args(pkgs.iter().map(|(n, v)| format!("{n}={v}"))))
    };
    // A stale list names versions the mirror no longer has: update, again.
    let (pkgs, text, dir) = if download(&pkgs).is_err() {
        apt.update()?;
        let pkgs = list(&apt)?;
        let (text, hash) = key(&pkgs);
        let dir = cache.join(format!("{}-{hash:016x}", u.name));
        if dir.join(".unpacked").is_file() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Ok(dir);
        }
        download(&pkgs)?;
        (pkgs, text, dir)
    } else {
        (pkgs, text, dir)
    };
    let root = tmp.join("root");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&debs)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    files.sort();
    if files.len() != pkgs.len() {
        return Err(format!(
            "apt-get download: {} .deb files for {} packages",
            files.len(),
            pkgs.len()
        ));
    }
    for f in &files {
        sh(Command::new("dpkg-deb").arg("-x").arg(f).arg(&root))?;
    }
    for p in u.prune {
        let _ = std::fs::remove_dir_all(root.join(p));
    }
    std::fs::write(root.join(".unpacked"), format!("{text}\n")).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&root, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::remove_dir_all(&tmp);
    println!(
        "arm64: {} packages unpacked into {}",
        pkgs.len(),
        dir.display()
    );
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulation_lines() {
        let out = "NOTE: This is only a simulation!\n\
                   Inst libc6 (2.36-9+deb12u14 Debian:12.13/stable [arm64])\n\
                   Inst xvfb (2:21.1.7-3+deb12u12 Debian:12.13/stable [arm64])\n\
                   Conf libc6 (2.36-9+deb12u14 Debian:12.13/stable [arm64])\n";
        assert_eq!(
            parse_simulation(out),
            vec![
                ("libc6".to_string(), "2.36-9+deb12u14".to_string()),
                ("xvfb".to_string(), "2:21.1.7-3+deb12u12".to_string())
            ]
        );
        assert!(matches("libllvm15", &["libllvm*"]));
        assert!(matches("xvfb", &["xvfb"]));
        assert!(!matches("xvfb2", &["xvfb"]));
    }
}
