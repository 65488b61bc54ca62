//! Table 1 of the paper: ROM and RAM.
//!
//! - The disk image: busybox built from Debian's source package
//!   (`apt-get source busybox`, a deb-src line for the machine's suite and
//!   mirror added when there is none) with the configuration fragment
//!   images/paper/busybox.config applied to `make allnoconfig`, by musl-gcc,
//!   static and stripped. The build is cached in
//!   `$UMBRA_CACHE/paper/busybox-<version>-<hash>` (UMBRA_CACHE defaults to
//!   /var/cache/umbra), keyed by the source version and a hash of the
//!   fragment and this recipe. The tree (busybox, a link per applet, the
//!   test script images/paper/table1.sh, empty /dev, /proc and /tmp) becomes
//!   an ext2 image by `umbra image create`, at the smallest `--size` (1 KB
//!   steps) that holds it, with the inodes it uses plus 16 (`--inodes`), of
//!   128 bytes (`--inode-size 128`).
//! - Boot check: umbra's ROM build runs `/bin/sh /test.sh` from the image;
//!   its output must equal the same script's run natively (in a chroot of
//!   the tree, in a private mount namespace).
//! - RAM: the smallest `--mem` (64 KB steps, from 1M, umbra's floor) with
//!   which the script still gives that output, and the peak host PSS of
//!   umbra and its stubs while it runs at that size (the largest sampled sum
//!   of /proc/PID/smaps_rollup Pss over the tree; xtask/src/procs.rs). The
//!   host column is the native run's peak PSS.
//! - ROM: umbra's `rom` profile build (xtask/src/rom.rs) with the device
//!   feature set [`DEVICE_FEATURES`], plus the image.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{Ctx, Row, Table};
use crate::{is_root, procs, rom, root, run as sh, target_dir, which, Result};

const PAPER_KERNEL_KB: f64 = 1358.0;
const PAPER_IMAGE_KB: f64 = 512.0;
const PAPER_ROM_KB: f64 = 1870.0;
const PAPER_RAM_MB: f64 = 3.0;

const TARGET_ROM_KB: f64 = 1000.0;
const TARGET_IMAGE_KB: f64 = 400.0;
const TARGET_RAM_MB: f64 = 1.5;

/// The cargo features of umbra's device ROM build: `--no-default-features`
/// plus these (shim/Cargo.toml).
pub const DEVICE_FEATURES: &[&str] = &[];

/// Bumped when the build recipe below changes, so the cache key changes.
const RECIPE: &str =
    "busybox recipe 1: allnoconfig + fragment, musl-gcc -static, strip -s -R .comment";

/// The last line the test script prints.
const SCRIPT_DONE: &str = "table1: done";

pub fn run(ctx: &Ctx) -> Result<Table> {
    install_tools()?;
    crate::rustup_add("target", &[rom::DEFAULT_TARGET])?;
    let busybox = busybox()?;
    let work = ctx.out.join("table1");
    let tree = work.join("tree");
    make_tree(&busybox, &tree)?;

    let umbra = rom_build()?;
    // The device build has no `umbra image`: the full build makes the image.
    let full = crate::build_umbra_release()?;
    let image = work.join("table1.img");
    let image_bytes = make_image(&full, &tree, &image)?;

    // The script natively, then under umbra.
    let native = native_run(&tree);
    let want = match &native {
        Ok(o) => o.stdout.clone(),
        Err(_) => String::new(),
    };
    let boot = guest_run(&umbra, &image, None, false);
    let booted = match (&boot, &native) {
        (Ok(o), Ok(_)) if o.exit == procs::Exit::Code(0) && o.stdout == want => Ok(()),
        (Ok(o), Ok(_)) if o.exit == procs::Exit::Code(0) => {
            let (n, u) = want
                .lines()
                .map(Some)
                .chain(std::iter::repeat(None))
                .zip(o.stdout.lines().map(Some).chain(std::iter::repeat(None)))
                .find(|(a, b)| a != b)
                .unwrap_or((None, None));
            Err(format!(
                "its output differs from the native run's: native `{}`, umbra `{}`",
                n.unwrap_or("(end)"),
                u.unwrap_or("(end)")
            ))
        }
        (Ok(o), _) => Err(format!("under umbra: {}", o.reason())),
        (Err(e), _) => Err(e.clone()),
    };
    if let Err(e) = &booted {
        println!("table1: boot check failed: {e}");
    } else {
        println!(
            "table1: the image boots under umbra and the script's output equals the native run's"
        );
    }

    let kernel_kb = kb(std::fs::metadata(&umbra).map_err(|e| e.to_string())?.len());
    let image_kb = kb(image_bytes);
    let rom_kb = kernel_kb + image_kb;

    let mut rows = Vec::new();
    rows.push(Row {
        paper: Some(PAPER_KERNEL_KB),
        umbra: Some(kernel_kb),
        ratio: Some(kernel_kb / PAPER_KERNEL_KB),
        note: format!(
            "`rom` profile, {}, {}",
            rom::DEFAULT_TARGET,
            features_note()
        ),
        ..Row::new("ROM: kernel", "KB")
    });
    rows.push(Row {
        paper: Some(PAPER_IMAGE_KB),
        umbra: Some(image_kb),
        ratio: Some(image_kb / PAPER_IMAGE_KB),
        target: format!("≤ {TARGET_IMAGE_KB:.0} KB"),
        met: Some(image_kb <= TARGET_IMAGE_KB),
        note: format!(
            "ext2 by `umbra image create`: busybox {} ({:.0} KB, musl, static, stripped) + {} links + test script",
            busybox.version,
            kb(busybox.bytes),
            busybox.applets.len()
        ),
        ..Row::new("ROM: disk image", "KB")
    });
    rows.push(Row {
        paper: Some(PAPER_ROM_KB),
        umbra: Some(rom_kb),
        ratio: Some(rom_kb / PAPER_ROM_KB),
        target: format!("≤ {} KB", super::num(TARGET_ROM_KB)),
        met: Some(rom_kb <= TARGET_ROM_KB),
        note: if rom_kb <= TARGET_ROM_KB {
            "kernel + disk image".into()
        } else {
            format!(
                "kernel + disk image; {:.0} KB over: see where the device ROM goes \
                 (`--rom-features`)",
                rom_kb - TARGET_ROM_KB
            )
        },
        ..Row::new("ROM: total", "KB")
    });

    let mut method = METHOD.to_string();
    if ctx.rom_features {
        rows.extend(rom_feature_rows(kernel_kb));
        match breakdown() {
            Ok(text) => method.push_str(&text),
            Err(e) => method.push_str(&format!("\n\nWhere the device ROM goes: not measured: {e}")),
        }
    }

    if let Err(e) = &booted {
        let why = format!("the image does not run its script under umbra: {e}");
        rows.push(Row::not_measured(
            "RAM: guest memory (smallest --mem)",
            "MB",
            Some(PAPER_RAM_MB),
            &format!("≤ {TARGET_RAM_MB} MB"),
            &why,
        ));
        rows.push(Row::not_measured(
            "RAM: peak host PSS, umbra + stubs",
            "MB",
            Some(PAPER_RAM_MB),
            "",
            &why,
        ));
    } else {
        let min = smallest_mem(&umbra, &image, &want);
        match min {
            Ok(kib) => {
                let mb = kib as f64 / 1024.0;
                let floor = kib <= MEM_FLOOR_KIB;
                rows.push(Row {
                    paper: Some(PAPER_RAM_MB),
                    umbra: Some(mb),
                    ratio: Some(mb / PAPER_RAM_MB),
                    target: format!("≤ {TARGET_RAM_MB} MB"),
                    met: Some(mb <= TARGET_RAM_MB),
                    note: if floor {
                        "runs at umbra's smallest --mem (1M); the real need may be lower".into()
                    } else {
                        format!(
                            "bisected in 64 KB steps: {kib} KB works, {} KB does not",
                            kib - 64
                        )
                    },
                    ..Row::new("RAM: guest memory (smallest --mem)", "MB")
                });
                let pss = peak_pss(&umbra, &image, kib, &want);
                let host = native.as_ref().ok().map(|o| o.peak_pss_kb as f64 / 1024.0);
                rows.push(match pss {
                    Ok(p) => {
                        let p = p as f64 / 1024.0;
                        Row {
                            paper: Some(PAPER_RAM_MB),
                            host,
                            umbra: Some(p),
                            ratio: Some(p / PAPER_RAM_MB),
                            note: format!(
                                "largest of 5 runs at --mem {kib}K; host: the script natively (busybox sh in a chroot)"
                            ),
                            ..Row::new("RAM: peak host PSS, umbra + stubs", "MB")
                        }
                    }
                    Err(e) => Row::not_measured(
                        "RAM: peak host PSS, umbra + stubs",
                        "MB",
                        Some(PAPER_RAM_MB),
                        "",
                        &e,
                    ),
                });
            }
            Err(e) => {
                rows.push(Row::not_measured(
                    "RAM: guest memory (smallest --mem)",
                    "MB",
                    Some(PAPER_RAM_MB),
                    &format!("≤ {TARGET_RAM_MB} MB"),
                    &e,
                ));
            }
        }
    }

    Ok(Table {
        title: "Table 1: ROM and RAM".into(),
        method,
        rows,
        ..Table::default()
    })
}

const METHOD: &str = "\
- **Disk image.** busybox from Debian's source package (`apt-get source busybox`), \
configured by applying images/paper/busybox.config to `make allnoconfig` (ash and the \
applets a device shell needs: core file utilities, grep, sed, ps, mount, kill, free, dmesg), built \
with `musl-gcc`, static, stripped (`strip -s -R .comment`). The tree holds busybox, one \
hard link per applet in /bin (as `busybox --install`), the test script /test.sh (images/paper/table1.sh) and empty \
/dev, /proc and /tmp. `umbra image create` writes it as ext2 (1 KB blocks) at the smallest \
`--size`, in 1 KB steps, that holds it, with `--inodes` the tree's count (11 reserved, one \
per file and directory) plus 16 spare, of 128 bytes (`--inode-size 128`, as genext2fs makes).
- **Boot check.** `umbra run --image table1.img --env PATH=/bin -- /bin/sh /test.sh` with \
umbra's `rom` build; its output must equal the native run's (`unshare -m chroot TREE /bin/sh \
/test.sh`).
- **ROM** is the size of the `rom` profile build of umbra (`cargo xtask rom`: opt-level z, \
LTO, panic=abort, stripped, rust-lld with identical code folding) for x86_64-unknown-linux-musl, \
with the device feature set (shim/Cargo.toml), plus the image file.
- **Guest RAM** is the smallest `--mem` with which the script still prints the native output \
and exits 0, bisected in 64 KB steps between 1 MB (umbra's smallest) and 64 MB.
- **Host PSS** is the largest, over 5 runs at that `--mem`, of the peak sum of \
`/proc/PID/smaps_rollup` Pss over umbra and its stub processes, sampled every ~0.3 ms \
(xtask/src/procs.rs); pages of the guest memory file mapped by umbra and by each stub count \
once. The host column is the same sampling of the native run.";

fn kb(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

fn features_note() -> String {
    if DEVICE_FEATURES.is_empty() {
        "`--no-default-features` (device build)".into()
    } else {
        format!(
            "`--no-default-features --features {}` (device build)",
            DEVICE_FEATURES.join(",")
        )
    }
}

/// Installs what Table 1 needs (as root), like `cargo xtask setup`.
fn install_tools() -> Result<()> {
    let want: &[(&str, &str)] = &[
        ("musl-gcc", "musl-tools"),
        ("gcc", "gcc"),
        ("make", "make"),
        ("dpkg-source", "dpkg-dev"),
        ("bzip2", "bzip2"),
        ("xz", "xz-utils"),
        ("patch", "patch"),
        ("strip", "binutils"),
        ("unshare", "util-linux"),
    ];
    let missing: Vec<&str> = want
        .iter()
        .filter(|(tool, _)| which(tool).is_none())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "missing tools; as root run: apt-get install -y {}",
            missing.join(" ")
        ));
    }
    apt_install(&missing)
}

fn apt_install(pkgs: &[&str]) -> Result<()> {
    let install = || {
        sh(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(pkgs)
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

pub(super) fn cache_root() -> PathBuf {
    std::env::var_os("UMBRA_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/umbra"))
        .join("paper")
}

/// The built busybox.
struct Busybox {
    path: PathBuf,
    version: String,
    bytes: u64,
    applets: Vec<String>,
}

/// FNV-1a, 64 bits: the cache key's hash (std has no stable hash).
pub(super) fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(super) fn output(cmd: &mut Command) -> Result<String> {
    let shown = crate::show(cmd);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The candidate version of the busybox source package, adding a deb-src
/// entry first if apt knows no source packages.
fn source_version() -> Result<String> {
    let version = || -> Option<String> {
        let text =
            output(Command::new("apt-cache").args(["showsrc", "--only-source", "busybox"])).ok()?;
        // The highest listed (apt-cache lists the candidate's first only by
        // accident of order, so compare with dpkg).
        let mut best: Option<String> = None;
        for v in text.lines().filter_map(|l| l.strip_prefix("Version: ")) {
            let v = v.trim().to_string();
            best = match best {
                Some(b)
                    if Command::new("dpkg")
                        .args(["--compare-versions", &v, "le", &b])
                        .status()
                        .is_ok_and(|s| s.success()) =>
                {
                    Some(b)
                }
                _ => Some(v),
            };
        }
        best
    };
    if let Some(v) = version() {
        return Ok(v);
    }
    if !is_root() {
        return Err("apt knows no source packages (no deb-src entry); as root, \
                    `cargo xtask paper` adds one"
            .into());
    }
    add_deb_src()?;
    version()
        .ok_or_else(|| "apt-cache showsrc busybox: no version even after adding deb-src".into())
}

/// Writes /etc/apt/sources.list.d/umbra-paper-src.sources: deb-src for the
/// machine's suite from the mirror its Debian entries use, then
/// `apt-get update` of that file alone.
fn add_deb_src() -> Result<()> {
    let suite = debian_suite()?;
    let mirror = debian_mirror().unwrap_or_else(|| "http://deb.debian.org/debian".into());
    let file = Path::new("/etc/apt/sources.list.d/umbra-paper-src.sources");
    let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
    let signed = if Path::new(keyring).exists() {
        format!("Signed-By: {keyring}\n")
    } else {
        String::new()
    };
    let text = format!(
        "# Added by `cargo xtask paper` (xtask/src/paper/rom_ram.rs): Debian's source\n\
         # packages (busybox for Table 1), from the mirror of the binary packages.\n\
         Types: deb-src\nURIs: {mirror}\nSuites: {suite}\nComponents: main\n{signed}"
    );
    std::fs::write(file, text).map_err(|e| format!("{}: {e}", file.display()))?;
    println!("table1: added {} ({mirror} {suite})", file.display());
    sh(Command::new("apt-get")
        .arg("update")
        .arg(format!("-o=Dir::Etc::sourcelist={}", file.display()))
        .args(["-o=Dir::Etc::sourceparts=-", "-o=APT::Get::List-Cleanup=0"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The URI of the machine's first Debian (not security) package entry.
pub(super) fn debian_mirror() -> Option<String> {
    let mut texts = Vec::new();
    if let Ok(s) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(s);
    }
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let ext = f.extension().and_then(|e| e.to_str());
            if matches!(ext, Some("list" | "sources")) {
                if let Ok(s) = std::fs::read_to_string(&f) {
                    texts.push(s);
                }
            }
        }
    }
    let good = |u: &str| u.contains("/debian") && !u.contains("security") && u.starts_with("http");
    for t in &texts {
        for l in t.lines().map(str::trim) {
            let uri = if let Some(rest) = l.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else if let Some(rest) = l.strip_prefix("deb ") {
                rest.split_whitespace().find(|w| w.contains("://"))
            } else {
                None
            };
            if let Some(u) = uri.filter(|u| good(u)) {
                return Some(u.trim_end_matches('/').to_string());
            }
        }
    }
    None
}

/// The compiler busybox is built with: musl-gcc on the x86_64 host, or a
/// cross toolchain (see [`musl_arm64`]).
struct Toolchain {
    /// The cache key's prefix ("" on x86_64, so its key stays as it was).
    tag: &'static str,
    /// What the cache key holds besides the fragment and the source version.
    recipe: String,
    /// `CC=` for make.
    cc: String,
    /// More `make` arguments (CROSS_COMPILE=...).
    make_args: Vec<String>,
    strip: &'static str,
    /// Runs the built busybox on this host (`busybox --list`): qemu-user.
    runner: Option<&'static str>,
}

impl Toolchain {
    fn host() -> Toolchain {
        Toolchain {
            tag: "",
            recipe: RECIPE.into(),
            cc: "musl-gcc".into(),
            make_args: Vec::new(),
            strip: "strip",
            runner: None,
        }
    }
}

/// Builds busybox (or finds it in the cache).
fn busybox() -> Result<Busybox> {
    busybox_with(&Toolchain::host())
}

/// Builds busybox with `tc` (or finds it in the cache).
fn busybox_with(tc: &Toolchain) -> Result<Busybox> {
    let fragment_path = root().join("images/paper/busybox.config");
    let fragment = std::fs::read_to_string(&fragment_path)
        .map_err(|e| format!("{}: {e}", fragment_path.display()))?;
    let version = source_version()?;
    let hash = fnv(format!("{fragment}\n{}", tc.recipe).as_bytes());
    let key = format!(
        "busybox-{}{}-{hash:016x}",
        tc.tag,
        version.replace([':', '/'], "_")
    );
    let dir = cache_root().join(&key);
    let bin = dir.join("busybox");
    if !bin.is_file() {
        if !is_root() {
            return Err(format!(
                "{} is not built yet; building it needs root (apt-get source)",
                bin.display()
            ));
        }
        build_busybox(&version, &fragment, &dir, tc)?;
    } else {
        println!(
            "table1: busybox {version} from the cache, {}",
            dir.display()
        );
    }
    let bytes = std::fs::metadata(&bin).map_err(|e| e.to_string())?.len();
    let mut lister = match tc.runner {
        Some(r) => {
            let mut c = Command::new(r);
            c.arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    let list = output(lister.arg("--list"))?;
    let applets = list
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox")
        .map(String::from)
        .collect();
    Ok(Busybox {
        path: bin,
        version,
        bytes,
        applets,
    })
}

fn build_busybox(version: &str, fragment: &str, dir: &Path, tc: &Toolchain) -> Result<()> {
    let src = cache_root().join("src");
    std::fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    sh(Command::new("apt-get")
        .current_dir(&src)
        .args(["source", "--download-only"])
        .arg(format!("busybox={version}")))?;
    let upstream = version.split_once(':').map_or(version, |(_, v)| v);
    let dsc = src.join(format!("busybox_{upstream}.dsc"));
    let build = dir.with_extension("build");
    let _ = std::fs::remove_dir_all(&build);
    sh(Command::new("dpkg-source")
        .args(["--no-check", "-x"])
        .arg(&dsc)
        .arg(&build))?;
    let make = |args: &[&str]| {
        let mut c = Command::new("nice");
        c.arg("make").current_dir(&build).args(args);
        c
    };
    sh(Command::new("sh")
        .current_dir(&build)
        .args(["-c", "nice make allnoconfig >/dev/null"]))?;
    let config = build.join(".config");
    let base = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
    std::fs::write(&config, apply_fragment(&base, fragment))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    // Options the fragment turns on may ask about their own sub-options:
    // the defaults (an empty answer each).
    sh(Command::new("sh")
        .current_dir(&build)
        .args(["-c", "yes '' | nice make oldconfig >/dev/null"]))?;
    let done = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
    let lost: Vec<&str> = fragment
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("CONFIG_"))
        .filter(|l| !done.lines().any(|d| d == *l))
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "busybox's oldconfig dropped options of images/paper/busybox.config: {}",
            lost.join(" ")
        ));
    }
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let cc = format!("CC={}", tc.cc);
    let mut args = vec![jobs.as_str(), cc.as_str(), "HOSTCC=gcc"];
    args.extend(tc.make_args.iter().map(String::as_str));
    args.push("busybox");
    sh(&mut make(&args))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join("busybox");
    std::fs::copy(build.join("busybox_unstripped"), &out).map_err(|e| e.to_string())?;
    sh(Command::new(tc.strip)
        .args(["-s", "-R", ".comment", "-R", ".note.gnu.build-id"])
        .arg(&out))?;
    std::fs::copy(&config, dir.join("busybox.config")).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&build);
    println!("table1: built busybox {version} into {}", dir.display());
    Ok(())
}

/// `base` (an allnoconfig .config) with every `CONFIG_X=v` line of the
/// fragment set, replacing `# CONFIG_X is not set` or an earlier value.
pub fn apply_fragment(base: &str, fragment: &str) -> String {
    let sets: Vec<(&str, &str)> = fragment
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .collect();
    let mut seen = vec![false; sets.len()];
    let mut out = String::new();
    for line in base.lines() {
        let name = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"))
            .or_else(|| line.split_once('=').map(|(k, _)| k))
            .unwrap_or("");
        match sets.iter().position(|(k, _)| *k == name) {
            Some(i) => {
                seen[i] = true;
                out.push_str(&format!("{}={}\n", sets[i].0, sets[i].1));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (i, (k, v)) in sets.iter().enumerate() {
        if !seen[i] {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    out
}

/// The image's tree: busybox, a link per applet, the script, empty dirs.
fn make_tree(bb: &Busybox, tree: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(tree);
    let bin = tree.join("bin");
    for d in [
        &bin,
        &tree.join("dev"),
        &tree.join("proc"),
        &tree.join("tmp"),
    ] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::copy(&bb.path, bin.join("busybox")).map_err(|e| e.to_string())?;
    // Hard links, as `busybox --install` makes: one inode for all.
    for a in &bb.applets {
        std::fs::hard_link(bin.join("busybox"), bin.join(a))
            .map_err(|e| format!("{}: {e}", bin.join(a).display()))?;
    }
    let script = root().join("images/paper/table1.sh");
    std::fs::copy(&script, tree.join("test.sh"))
        .map_err(|e| format!("{}: {e}", script.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tree.join("test.sh"), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// umbra's device ROM build (see [`DEVICE_FEATURES`]).
fn rom_build() -> Result<PathBuf> {
    rom_build_with(DEVICE_FEATURES, "paper-rom")
}

/// The `rom` build with `--no-default-features --features FEATURES`, in
/// target/DIR.
fn rom_build_with(features: &[&str], dir: &str) -> Result<PathBuf> {
    rom_build_for(rom::DEFAULT_TARGET, features, dir)
}

/// [`rom_build_with`] for `target`.
fn rom_build_for(target: &str, features: &[&str], dir: &str) -> Result<PathBuf> {
    let dir = target_dir().join(dir);
    let mut c = rom::rom_build(target);
    c.arg("--no-default-features");
    if !features.is_empty() {
        c.arg("--features").arg(features.join(","));
    }
    // Its own target directory: the full rom build stays as it is.
    c.env("CARGO_TARGET_DIR", &dir);
    sh(&mut c)?;
    let bin = dir.join(target).join("rom/umbra");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} missing after the build", bin.display()))
    }
}

/// The parts a device build can leave out (shim/Cargo.toml's default
/// features), each with what it serves.
pub const OPTIONAL_PARTS: &[(&str, &str)] = &[
    ("hostfs", "host directories: --root DIR, --mount DIR:/DIR"),
    ("image-tool", "`umbra image create` and `check`"),
    (
        "net-host",
        "the host's network: --net host, --publish, --unix-socket",
    ),
    ("ipc", "System V IPC and POSIX message queues"),
    ("inotify", "inotify"),
    (
        "inet",
        "AF_INET and AF_INET6 sockets (the guest's loopback)",
    ),
    ("netlink", "AF_NETLINK sockets"),
    ("strace", "--strace"),
    (
        "direct-io",
        "reads and writes with one copy (without: through a kernel buffer)",
    ),
    ("pty", "Unix98 pseudo-terminals (/dev/ptmx, /dev/pts/N)"),
    (
        "oci",
        "the OCI runtime (`umbra create`, `start`, `state`, ...)",
    ),
];

/// Rows: the full `rom` build, and the device build with each optional part
/// added back alone (what each part costs), then the device build.
fn rom_feature_rows(device_kb: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    let size = |features: &[&str]| -> Result<f64> {
        let bin = rom_build_with(features, "paper-rom-features")?;
        Ok(kb(std::fs::metadata(&bin)
            .map_err(|e| e.to_string())?
            .len()))
    };
    let all: Vec<&str> = OPTIONAL_PARTS.iter().map(|p| p.0).collect();
    match size(&all) {
        Ok(full) => rows.push(Row {
            umbra: Some(full),
            note: format!(
                "every part ({}); {:.0} KB more than the device build",
                all.join(", "),
                full - device_kb
            ),
            ..Row::new("ROM: kernel, full build (default features)", "KB")
        }),
        Err(e) => rows.push(Row::not_measured(
            "ROM: kernel, full build (default features)",
            "KB",
            None,
            "",
            &e,
        )),
    }
    for (feature, what) in OPTIONAL_PARTS {
        let mut with: Vec<&str> = DEVICE_FEATURES.to_vec();
        with.push(feature);
        let name = format!("ROM: kernel, device build + `{feature}`");
        rows.push(match size(&with) {
            Ok(k) => Row {
                umbra: Some(k),
                note: format!("+{:.1} KB: {what}", k - device_kb),
                ..Row::new(&name, "KB")
            },
            Err(e) => Row::not_measured(&name, "KB", None, "", &e),
        });
    }
    rows
}

/// Where the device build's bytes go: the sized symbols of its unstripped
/// twin grouped by module (umbra's own code by its first three path
/// segments, the rest by crate), as a Markdown paragraph and table.
fn breakdown() -> Result<String> {
    let target = rom::DEFAULT_TARGET;
    let dir = target_dir().join("paper-rom-symbols");
    let mut c = rom::rom_build(target);
    c.arg("--no-default-features");
    if !DEVICE_FEATURES.is_empty() {
        c.arg("--features").arg(DEVICE_FEATURES.join(","));
    }
    c.env("CARGO_PROFILE_ROM_STRIP", "false")
        .env("CARGO_TARGET_DIR", &dir);
    sh(&mut c)?;
    let bin = dir.join(target).join("rom/umbra");
    let bytes = std::fs::read(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let elf = rom::Elf::parse(&bytes)?;
    let syms = elf.symbols(&bytes)?;
    let mut seen = std::collections::HashSet::new();
    let mut groups: std::collections::BTreeMap<String, u64> = Default::default();
    let mut total = 0;
    for s in &syms {
        if !seen.insert(s.value) {
            continue;
        }
        let name = crate::size::demangle(&s.name);
        let krate = crate::size::crate_of(&name, &s.name);
        let key = if krate.starts_with("umbra") {
            let path = name.trim_start_matches('<');
            let parts: Vec<&str> = path.split("::").take(3).collect();
            let parts: Vec<&str> = parts
                .into_iter()
                .take_while(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            if parts.is_empty() {
                krate
            } else {
                parts.join("::")
            }
        } else {
            krate
        };
        *groups.entry(key).or_default() += s.size;
        total += s.size;
    }
    let mut v: Vec<(String, u64)> = groups.into_iter().collect();
    v.sort_by_key(|g| std::cmp::Reverse(g.1));
    let mut s = format!(
        "\n\n**Where the device ROM goes** (sized symbols of the unstripped twin, {:.0} KB in \
         all; with LTO, inlined code counts for the function it was inlined into, so \
         `umbra_core::syscall` holds much of the syscall bodies and `alloc` the B-tree \
         code instantiated for each map type):\n\n| part | KB | share |\n|---|---|---|\n",
        kb(total)
    );
    for (name, size) in v.iter().take(16) {
        s.push_str(&format!(
            "| `{name}` | {:.1} | {:.0}% |\n",
            kb(*size),
            100.0 * *size as f64 / total.max(1) as f64
        ));
    }
    Ok(s)
}

/// Inodes the image gets beyond those its tree uses: room for a few files
/// when it is run with `--rw`.
const SPARE_INODES: u64 = 16;

/// The image at the smallest size (1 KB steps) that holds the tree, with
/// the inodes it uses (the 11 reserved ones, one per file and directory)
/// plus [`SPARE_INODES`], of 128 bytes (the original ext2 inode, as
/// genext2fs makes for devices: times in whole seconds).
fn make_image(umbra: &Path, tree: &Path, image: &Path) -> Result<u64> {
    let (files, dirs) = walk(tree)?;
    let bytes: u64 = files.iter().map(|e| e.div_ceil(1024) * 1024).sum();
    let inodes = 11 + files.len() as u64 + dirs + SPARE_INODES;
    let mut size = bytes / 1024;
    let limit = size * 2 + 256;
    let mut last = String::new();
    while size <= limit {
        let out = Command::new(umbra)
            .args(["image", "create"])
            .arg(tree)
            .arg("-o")
            .arg(image)
            .arg("--size")
            .arg(format!("{size}K"))
            .arg("--inodes")
            .arg(inodes.to_string())
            .args(["--inode-size", "128"])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            let len = std::fs::metadata(image).map_err(|e| e.to_string())?.len();
            println!(
                "table1: {} ({} KB, {inodes} inodes; the tree's files take {} KB)",
                image.display(),
                len / 1024,
                bytes / 1024
            );
            return Ok(len);
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
        size += 1;
    }
    Err(format!(
        "umbra image create failed up to {limit} KB: {last}"
    ))
}

/// The sizes of the regular files under `dir` (each hard-linked file once)
/// and the number of directories below it.
fn walk(dir: &Path) -> Result<(Vec<u64>, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut dirs = 0;
    let mut seen = std::collections::HashSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let e = e.map_err(|e| e.to_string())?;
            let m = e.path().symlink_metadata().map_err(|e| e.to_string())?;
            if m.is_dir() {
                dirs += 1;
                todo.push(e.path());
            } else if seen.insert(m.ino()) {
                out.push(if m.is_file() { m.len() } else { 0 });
            }
        }
    }
    Ok((out, dirs))
}

fn native_run(tree: &Path) -> Result<procs::Outcome> {
    let chroot = which("chroot").ok_or("no chroot (coreutils)")?;
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private"])
        .arg(chroot)
        .arg(tree)
        .args(["/bin/sh", "/test.sh"])
        .env_clear()
        .env("PATH", "/bin");
    let o = procs::run(&mut c, Duration::from_secs(60), true)?;
    if o.exit != procs::Exit::Code(0) || !o.stdout.ends_with(&format!("{SCRIPT_DONE}\n")) {
        return Err(format!("the script natively: {}", o.reason()));
    }
    Ok(o)
}

fn guest_run(
    umbra: &Path,
    image: &Path,
    mem_kib: Option<u64>,
    sample: bool,
) -> Result<procs::Outcome> {
    let mut c = Command::new(umbra);
    c.arg("run").arg("--image").arg(image);
    if let Some(k) = mem_kib {
        c.arg("--mem").arg(format!("{k}K"));
    }
    c.args(["--env", "PATH=/bin", "--", "/bin/sh", "/test.sh"]);
    procs::run(&mut c, Duration::from_secs(60), sample)
}

/// umbra's smallest `--mem`, KiB.
const MEM_FLOOR_KIB: u64 = 1024;

/// The smallest `--mem` (KiB, 64 KiB steps) with which the script prints
/// `want` and exits 0.
fn smallest_mem(umbra: &Path, image: &Path, want: &str) -> Result<u64> {
    let ok = |k: u64| {
        guest_run(umbra, image, Some(k), false)
            .is_ok_and(|o| o.exit == procs::Exit::Code(0) && o.stdout == want)
    };
    let (mut lo, mut hi) = (MEM_FLOOR_KIB, 64 * 1024u64);
    if !ok(hi) {
        return Err("fails even with --mem 64M".into());
    }
    if ok(lo) {
        return Ok(lo);
    }
    while hi - lo > 64 {
        let mid = ((lo + hi) / 2 / 64 * 64).max(lo + 64);
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    // Check the answer once more: a flaky pass would understate it.
    if !ok(hi) {
        return Err(format!("--mem {hi}K passed once and then failed"));
    }
    Ok(hi)
}

/// Peak PSS (KB) of umbra and its stubs, the largest of 5 runs.
fn peak_pss(umbra: &Path, image: &Path, mem_kib: u64, want: &str) -> Result<u64> {
    let mut best = 0;
    for _ in 0..5 {
        let o = guest_run(umbra, image, Some(mem_kib), true)?;
        if o.exit != procs::Exit::Code(0) || o.stdout != want {
            return Err(format!("at --mem {mem_kib}K: {}", o.reason()));
        }
        best = best.max(o.peak_pss_kb);
    }
    Ok(best)
}

// ---------------------------------------------------------------------------
// arm64: Table 1 for aarch64 (`cargo xtask paper --arm64`). The sizes are
// those of the aarch64 builds; the RAM figures are measured inside the
// emulated arm64 machine of `cargo xtask test-arm` (images/arm/paper.sh).

/// umbra's target on the arm64 device.
const ARM64_TARGET: &str = "aarch64-unknown-linux-musl";

/// The label of every figure measured in the QEMU machine.
pub const EMULATED: &str = "emulated (QEMU TCG)";

/// Bumped when the arm64 busybox recipe changes (the cache key holds it,
/// with the musl-dev version and the cross gcc's).
const RECIPE_ARM64: &str = "busybox arm64 recipe 1: allnoconfig + fragment, \
     aarch64-linux-gnu-gcc with the musl-gcc.specs of Debian's musl-dev:arm64, \
     -static, -Wl,-z,max-page-size=4096, aarch64-linux-gnu-strip -s -R .comment";

/// The suite of this machine's Debian (VERSION_CODENAME of /etc/os-release).
pub(super) fn debian_suite() -> Result<String> {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "no VERSION_CODENAME in /etc/os-release".into())
}

/// The musl cross toolchain for aarch64: Debian's musl-dev for arm64
/// (headers, libc.a, the crt files and musl-gcc.specs) unpacked into
/// `$UMBRA_CACHE/paper/musl-dev-arm64-VERSION` (downloaded once with a
/// private apt configuration, not installed: no foreign dpkg
/// architecture), used by Debian's aarch64-linux-gnu-gcc through a
/// musl-gcc wrapper as musl-tools makes on the native host.
fn musl_arm64() -> Result<Toolchain> {
    let cache = cache_root();
    let found = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("musl-dev-arm64-") && !n.ends_with(".tmp"))
        })
        .find(|p| p.join("usr/lib/aarch64-linux-musl/libc.a").is_file());
    let dir = match found {
        Some(d) => {
            println!("table1: musl for arm64 from the cache, {}", d.display());
            d
        }
        None => download_musl_arm64(&cache)?,
    };
    let version = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("musl-dev-arm64-"))
        .unwrap_or("?")
        .to_string();
    let lib = dir.join("usr/lib/aarch64-linux-musl");
    let inc = dir.join("usr/include/aarch64-linux-musl");
    let specs = std::fs::read_to_string(lib.join("musl-gcc.specs"))
        .map_err(|e| format!("{}: {e}", lib.join("musl-gcc.specs").display()))?
        .replace("/usr/include/aarch64-linux-musl", &inc.to_string_lossy())
        .replace("/usr/lib/aarch64-linux-musl", &lib.to_string_lossy());
    let work = target_dir().join("paper/table1-arm64/musl");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let specs_path = work.join("musl-gcc.specs");
    std::fs::write(&specs_path, specs).map_err(|e| e.to_string())?;
    let wrapper = work.join("musl-gcc");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n# musl-gcc for aarch64 (xtask/src/paper/rom_ram.rs). 4 KB pages: the\n\
             # arm64 kernel's; the default 64 KB alignment pads the file.\n\
             exec aarch64-linux-gnu-gcc \"$@\" -Wl,-z,max-page-size=4096 -specs {}\n",
            specs_path.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let gcc = output(Command::new("aarch64-linux-gnu-gcc").arg("-dumpfullversion"))?;
    Ok(Toolchain {
        tag: "aarch64-",
        recipe: format!(
            "{RECIPE_ARM64}\nmusl-dev:arm64 {version}\naarch64-linux-gnu-gcc {}",
            gcc.trim()
        ),
        cc: wrapper.to_string_lossy().into_owned(),
        make_args: vec!["CROSS_COMPILE=aarch64-linux-gnu-".into()],
        strip: "aarch64-linux-gnu-strip",
        runner: Some("qemu-aarch64-static"),
    })
}

/// Downloads Debian's musl-dev for arm64 and unpacks it into the cache.
fn download_musl_arm64(cache: &Path) -> Result<PathBuf> {
    if !is_root() {
        return Err("musl-dev for arm64 is not in the cache yet; fetching it needs root".into());
    }
    let apt = cache.join("apt-arm64");
    for d in ["lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(apt.join(d)).map_err(|e| e.to_string())?;
    }
    let mirror = debian_mirror().unwrap_or_else(|| "http://deb.debian.org/debian".into());
    let suite = debian_suite()?;
    let list = apt.join("sources.list");
    std::fs::write(&list, format!("deb {mirror} {suite} main\n")).map_err(|e| e.to_string())?;
    let opts = [
        "-o=APT::Architecture=arm64".to_string(),
        "-o=APT::Architectures::=arm64".into(),
        format!("-o=Dir::Etc::sourcelist={}", list.display()),
        "-o=Dir::Etc::sourceparts=/dev/null".into(),
        format!("-o=Dir::State::Lists={}", apt.join("lists").display()),
        format!("-o=Dir::Cache={}", apt.join("cache").display()),
        "-o=Dir::State::status=/dev/null".into(),
        "-o=APT::Sandbox::User=root".into(),
    ];
    sh(Command::new("apt-get").args(&opts).args(["update", "-qq"]))?;
    let tmp = cache.join("musl-dev-arm64.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    sh(Command::new("apt-get")
        .current_dir(&tmp)
        .args(&opts)
        .args(["download", "musl-dev"]))?;
    let deb = std::fs::read_dir(&tmp)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download musl-dev (arm64): no .deb")?;
    let name = deb.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let version = name
        .strip_prefix("musl-dev_")
        .and_then(|n| n.strip_suffix("_arm64.deb"))
        .ok_or_else(|| format!("unexpected package file {name}"))?
        .replace("%3a", "_");
    sh(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(tmp.join("root")))?;
    let dir = cache.join(format!("musl-dev-arm64-{version}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(tmp.join("root"), &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::remove_dir_all(&tmp);
    println!("table1: musl-dev {version} for arm64 in {}", dir.display());
    Ok(dir)
}

/// What the arm64 machine reported (images/arm/paper-init's PAPER lines).
#[derive(Debug, Default, PartialEq)]
struct Machine {
    /// `uname -srm` of the machine.
    kernel: String,
    /// The native run: status and peak PSS (KB).
    native: Option<(i32, u64)>,
    /// `ok`, `differs` or `failed`, and umbra's status.
    boot: Option<(String, i32)>,
    /// The smallest --mem (KiB), or why there is none.
    mem: Option<std::result::Result<u64, String>>,
    /// The peak PSS (KB) of umbra and its stubs, or why there is none.
    pss: Option<std::result::Result<u64, String>>,
}

fn parse_machine(lines: &[String]) -> Machine {
    let mut m = Machine::default();
    for l in lines {
        if let Some(k) = l.strip_prefix("BOOT-OK ") {
            m.kernel = k.trim_end_matches(" paper").to_string();
        }
        let Some(rest) = l.strip_prefix("PAPER ") else {
            continue;
        };
        let w: Vec<&str> = rest.split_whitespace().collect();
        let why = |n: usize| rest.splitn(n + 1, ' ').nth(n).unwrap_or("").to_string();
        match w.as_slice() {
            ["native", rc, pss] => {
                m.native = rc.parse().ok().zip(pss.parse().ok());
            }
            ["boot", how, rc] => m.boot = rc.parse().ok().map(|rc| (how.to_string(), rc)),
            ["mem", kib] => m.mem = kib.parse().ok().map(Ok),
            ["mem-none", ..] => m.mem = Some(Err(why(1))),
            ["pss", kb] => m.pss = kb.parse().ok().map(Ok),
            ["pss-none", ..] => m.pss = Some(Err(why(1))),
            _ => {}
        }
    }
    m
}

/// Boots the arm64 machine (images/arm/paper.sh), streaming its lines.
fn run_machine(ctx: &Ctx, umbra: &Path, image: &Path, tree: &Path) -> Result<Vec<String>> {
    use std::io::BufRead;
    let mut c = Command::new("bash");
    c.arg(root().join("images/arm/paper.sh"))
        .arg(umbra)
        .arg(image)
        .arg(tree)
        .arg(target_dir().join("arm"))
        .stdout(std::process::Stdio::piped());
    if ctx.quick {
        c.env("PAPER_RUNS", "1");
    }
    println!("$ {}", crate::show(&c));
    let mut child = c.spawn().map_err(|e| format!("cannot run paper.sh: {e}"))?;
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
            target_dir().join("arm/paper-arm64.log").display()
        ));
    }
    Ok(lines)
}

/// Table 1 for arm64: the aarch64 builds' sizes, and the RAM figures
/// measured inside the emulated arm64 machine.
pub fn run_arm64(ctx: &Ctx) -> Result<Table> {
    install_tools()?;
    // QEMU, qemu-user, the cross gcc, Debian's arm64 kernel and
    // busybox-static, as for `cargo xtask test-arm`.
    sh(Command::new("bash")
        .arg(root().join("images/arm/fetch.sh"))
        .arg(target_dir().join("arm"))
        .arg("arm64"))?;
    crate::rustup_add("target", &[ARM64_TARGET])?;
    let tc = musl_arm64()?;
    let busybox = busybox_with(&tc)?;
    let work = ctx.out.join("table1-arm64");
    let tree = work.join("tree");
    make_tree(&busybox, &tree)?;
    let umbra = rom_build_for(ARM64_TARGET, DEVICE_FEATURES, "paper-rom")?;
    // The image is the same ext2 whoever writes it: the host's full build.
    let full = crate::build_umbra_release()?;
    let image = work.join("table1.img");
    let image_bytes = make_image(&full, &tree, &image)?;

    let kernel_kb = kb(std::fs::metadata(&umbra).map_err(|e| e.to_string())?.len());
    let image_kb = kb(image_bytes);
    let rom_kb = kernel_kb + image_kb;
    let size_note = "a file size: not emulation-dependent";
    let mut rows = vec![
        Row {
            paper: Some(PAPER_KERNEL_KB),
            umbra: Some(kernel_kb),
            ratio: Some(kernel_kb / PAPER_KERNEL_KB),
            note: format!(
                "`rom` profile, {ARM64_TARGET}, {}; {size_note}",
                features_note()
            ),
            ..Row::new("ROM: kernel (arm64)", "KB")
        },
        Row {
            paper: Some(PAPER_IMAGE_KB),
            umbra: Some(image_kb),
            ratio: Some(image_kb / PAPER_IMAGE_KB),
            target: format!("≤ {TARGET_IMAGE_KB:.0} KB"),
            met: Some(image_kb <= TARGET_IMAGE_KB),
            note: format!(
                "ext2 by `umbra image create`: busybox {} for aarch64 ({:.0} KB, musl, static, \
                 stripped) + {} links + test script; {size_note}",
                busybox.version,
                kb(busybox.bytes),
                busybox.applets.len()
            ),
            ..Row::new("ROM: disk image (arm64)", "KB")
        },
        Row {
            paper: Some(PAPER_ROM_KB),
            umbra: Some(rom_kb),
            ratio: Some(rom_kb / PAPER_ROM_KB),
            target: format!("≤ {} KB", super::num(TARGET_ROM_KB)),
            met: Some(rom_kb <= TARGET_ROM_KB),
            note: format!("kernel + disk image; {size_note}"),
            ..Row::new("ROM: total (arm64)", "KB")
        },
    ];

    let mem_name = format!("RAM: guest memory (smallest --mem), arm64, {EMULATED}");
    let pss_name = format!("RAM: peak PSS, umbra + stubs, arm64, {EMULATED}");
    let mem_target = format!("≤ {TARGET_RAM_MB} MB");
    let not = |name: &str, target: &str, why: &str| {
        Row::not_measured(name, "MB", Some(PAPER_RAM_MB), target, why)
    };
    let mut machine_desc = String::new();
    match run_machine(ctx, &umbra, &image, &tree) {
        Err(e) => {
            rows.push(not(&mem_name, &mem_target, &e));
            rows.push(not(&pss_name, "", &e));
        }
        Ok(lines) => {
            let m = parse_machine(&lines);
            machine_desc = m.kernel.clone();
            let booted = match (&m.native, &m.boot) {
                (Some((0, _)), Some((how, _))) if how == "ok" => Ok(()),
                (Some((rc, _)), _) if *rc != 0 => {
                    Err(format!("the script natively in the machine: status {rc}"))
                }
                (_, Some((how, rc))) => Err(format!(
                    "the image's script under umbra in the machine: {how} (status {rc})"
                )),
                _ => Err("the machine gave no boot check (see its log)".into()),
            };
            match booted {
                Err(e) => {
                    println!("table1 (arm64): boot check failed: {e}");
                    rows.push(not(&mem_name, &mem_target, &e));
                    rows.push(not(&pss_name, "", &e));
                }
                Ok(()) => {
                    println!(
                        "table1 (arm64): the image boots under umbra in the machine and the \
                         script's output equals the native run's"
                    );
                    match m.mem {
                        Some(Ok(kib)) => {
                            let mb = kib as f64 / 1024.0;
                            rows.push(Row {
                                paper: Some(PAPER_RAM_MB),
                                umbra: Some(mb),
                                ratio: Some(mb / PAPER_RAM_MB),
                                target: mem_target.clone(),
                                met: Some(mb <= TARGET_RAM_MB),
                                note: if kib <= MEM_FLOOR_KIB {
                                    format!(
                                        "{EMULATED}: runs at umbra's smallest --mem (1M) in \
                                         the arm64 machine; the real need may be lower"
                                    )
                                } else {
                                    format!(
                                        "{EMULATED}: bisected in 64 KB steps in the arm64 \
                                         machine: {kib} KB works, {} KB does not",
                                        kib - 64
                                    )
                                },
                                ..Row::new(&mem_name, "MB")
                            });
                            let host = m.native.map(|(_, p)| p as f64 / 1024.0);
                            let runs = if ctx.quick { 1 } else { 5 };
                            rows.push(match &m.pss {
                                Some(Ok(p)) => {
                                    let p = *p as f64 / 1024.0;
                                    Row {
                                        paper: Some(PAPER_RAM_MB),
                                        host,
                                        umbra: Some(p),
                                        ratio: Some(p / PAPER_RAM_MB),
                                        note: format!(
                                            "{EMULATED}: largest of {runs} run(s) at --mem \
                                             {kib}K in the arm64 machine; host: the script \
                                             natively in the machine (busybox sh in a chroot)"
                                        ),
                                        ..Row::new(&pss_name, "MB")
                                    }
                                }
                                Some(Err(e)) => not(&pss_name, "", e),
                                None => not(&pss_name, "", "the machine gave no PSS line"),
                            });
                        }
                        Some(Err(e)) => rows.push(not(&mem_name, &mem_target, &e)),
                        None => rows.push(not(
                            &mem_name,
                            &mem_target,
                            "the machine gave no --mem line (see its log)",
                        )),
                    }
                }
            }
        }
    }
    let qemu = output(Command::new("qemu-system-aarch64").arg("--version"))
        .ok()
        .and_then(|v| v.lines().next().map(str::to_string))
        .unwrap_or_else(|| "QEMU".into());
    let host = super::stamp().machine;
    let machine = format!(
        "an arm64 machine emulated by {qemu} (TCG, -M virt -cpu cortex-a57, 1 vCPU, 1024 MB, \
         Debian's arm64 kernel{}) on {host}",
        if machine_desc.is_empty() {
            String::new()
        } else {
            format!(": {machine_desc}")
        }
    );
    let mut method = format!(
        "Command: `{}`. The same steps as Table 1 on x86_64, for aarch64:\n\n{METHOD_ARM64}",
        ctx.command
    );
    if ctx.rom_features {
        method.push_str(
            "\n- `--rom-features` is not done for arm64: the sizes of the optional parts are \
             in the x86_64 Table 1.",
        );
    }
    method.push('\n');
    Ok(Table {
        title: format!("Table 1 on arm64: ROM and RAM, RAM {EMULATED}"),
        method,
        measured: super::Stamp {
            machine,
            ..super::Stamp::default()
        },
        rows,
        ..Table::default()
    })
}

const METHOD_ARM64: &str = "\
- **Disk image.** The same busybox source, configuration fragment, tree and `umbra image \
create` options as on x86_64; busybox is built by Debian's `aarch64-linux-gnu-gcc` with the \
`musl-gcc.specs` of Debian's musl-dev for arm64 (downloaded with a private apt configuration \
and unpacked into `/var/cache/umbra/paper/musl-dev-arm64-VERSION`, not installed), static, \
linked for 4 KB pages (`-z max-page-size=4096`: the arm64 kernel's page size; the default \
64 KB alignment only pads the file), stripped by `aarch64-linux-gnu-strip`. It is cached in \
`/var/cache/umbra/paper/busybox-aarch64-VERSION-HASH`, the hash over the fragment, the recipe, \
musl-dev's version and the cross gcc's.
- **ROM** is the size of umbra's device `rom` build for aarch64-unknown-linux-musl (the same \
profile and linker settings as `cargo xtask rom --target aarch64-unknown-linux-musl`, \
`--no-default-features`) plus the image file. Sizes are not emulation-dependent.
- **Boot check and RAM**, emulated (QEMU TCG): images/arm/paper.sh boots the arm64 machine of \
`cargo xtask test-arm` (qemu-system-aarch64 -M virt -cpu cortex-a57, one vCPU, 1024 MB, \
Debian's arm64 kernel and busybox-static) with umbra, the image, its tree and a PSS sampler \
(images/arm/pss.rs) in its initramfs; its PID 1 (images/arm/paper-init) runs the script \
natively (`unshare -m chroot TREE /bin/sh /test.sh`), then `umbra run --image table1.img \
--env PATH=/bin -- /bin/sh /test.sh`, whose output must equal the native run's; bisects the \
smallest `--mem` in 64 KB steps between 1 MB and 64 MB; and takes the largest, over 5 runs at \
that `--mem`, of the peak sum of `/proc/PID/smaps_rollup` Pss over umbra and its stubs, \
sampled every ~1 ms (the host column: the native run, sampled the same way). All of it runs \
inside the emulated machine; the guest memory umbra needs does not depend on the emulation, \
but PSS (the machine's kernel, its page cache) may, and the figures are labelled so.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_replaces_and_appends() {
        let base = "# CONFIG_ASH is not set\nCONFIG_X=n\n# comment\n";
        let frag = "# c\nCONFIG_ASH=y\nCONFIG_X=5\nCONFIG_NEW=y\n";
        assert_eq!(
            apply_fragment(base, frag),
            "CONFIG_ASH=y\nCONFIG_X=5\n# comment\nCONFIG_NEW=y\n"
        );
    }

    #[test]
    fn machine_lines() {
        let lines: Vec<String> = [
            "BOOT-OK Linux 6.1.0-57-arm64 aarch64 paper",
            "PAPER machine 1000000",
            "PAPER native 0 512",
            "noise",
            "PAPER boot ok 0",
            "PAPER mem 1088",
            "PAPER pss-none run 2 at --mem 1088K: status 1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = parse_machine(&lines);
        assert_eq!(m.kernel, "Linux 6.1.0-57-arm64 aarch64");
        assert_eq!(m.native, Some((0, 512)));
        assert_eq!(m.boot, Some(("ok".to_string(), 0)));
        assert_eq!(m.mem, Some(Ok(1088)));
        assert_eq!(
            m.pss,
            Some(Err("run 2 at --mem 1088K: status 1".to_string()))
        );
        assert_eq!(parse_machine(&[]), Machine::default());
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv(b"a"), fnv(b"b"));
    }
}
