//! `cargo xtask size [--target TRIPLE]`: the ROM and RAM budget of umbra,
//! beside the paper's UML (1,358 KB kernel, 3.0 MB minimum guest memory,
//! 512 KB disk image).
//!
//! - ROM: the `rom` profile build (stripped), its sections, and the largest
//!   contributors by crate and by function. Those come from the symbol table
//!   of a second, unstripped build of the same profile
//!   (`CARGO_PROFILE_ROM_STRIP=false`, in its own target directory so the
//!   stripped binary stays as it is), parsed here (std only) and demangled
//!   roughly (legacy `_ZN` and v0 `_R` names). With LTO, inlined code counts
//!   for the function it was inlined into, and so for that one's crate.
//! - RAM: static data (.data + .bss), the kernel heap, the guest memory
//!   default, the peak host RSS of umbra and of each stub while running
//!   `busybox sh -c 'echo ok'`, and the smallest `--mem` with which that and
//!   a small builtins-only script still succeed (bisection, 1M..64M).
//! - The x86_64, aarch64 and armv7 rom builds side by side (a target that
//!   does not build shows `not built: <first error>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::procs;
use crate::rom::{self, Elf, SymKind};
use crate::{target_dir, which, Result};

const PAPER_KERNEL_KB: f64 = 1358.0;
const PAPER_MIN_MEM_MB: f64 = 3.0;
const PAPER_DISK_KB: f64 = 512.0;

/// The commands whose smallest `--mem` is searched, and their expected
/// stdout.
const MEM_PROBES: &[(&str, &str, &str)] = &[
    ("`sh -c 'echo ok'`", "echo ok", "ok\n"),
    (
        "builtins script",
        "i=0; s=; while [ $i -lt 200 ]; do i=$((i+1)); s=\"$s.\"; done; \
         case $s in ....*) echo loop ${#s};; esac; cd /etc && pwd",
        "loop 200\n/etc\n",
    ),
];

pub fn size(args: &[String]) -> Result<()> {
    let target = match args {
        [] => rom::DEFAULT_TARGET.to_string(),
        [flag, t] if flag == "--target" => t.clone(),
        _ => {
            return Err(format!(
                "unexpected arguments {args:?}; usage: [--target TRIPLE]"
            ))
        }
    };
    let bin = rom::rom(&["--target".into(), target.clone()])?;
    let bytes = std::fs::read(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let elf = Elf::parse(&bytes).map_err(|e| format!("{}: {e}", bin.display()))?;
    let section = |name: &str| {
        elf.sections
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.size)
            .sum::<u64>()
    };
    let data = section(".data") + section(".data.rel.ro") + section(".tdata");
    let bss = section(".bss") + section(".tbss");
    let file = bytes.len() as u64;

    // Unstripped twin for the symbol table.
    let syms_dir = target_dir().join("rom-symbols");
    let unstripped = build_unstripped(&target, &syms_dir);
    let contributors = unstripped.and_then(|p| {
        let b = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let e = Elf::parse(&b)?;
        let syms = e.symbols(&b)?;
        if syms.is_empty() {
            return Err(format!("{}: no symbol table", p.display()));
        }
        Ok((syms, b.len() as u64))
    });

    // The ROM targets side by side; the other ones are built only for this
    // table, and one that does not build shows its first error.
    let by_target: Vec<(&str, std::result::Result<RomSizes, String>)> = ROM_TARGETS
        .iter()
        .map(|&t| {
            let r = if t == target {
                Ok(RomSizes::of(&elf, file))
            } else {
                try_build(t)
            };
            (t, r)
        })
        .collect();

    // RAM, measured with the rom build on the busybox initrd.
    let rd = crate::busybox_initrd(None)?;
    let rd_kb = kb(std::fs::metadata(&rd).map(|m| m.len()).unwrap_or(0));
    let busybox_kb = kb(std::fs::metadata(crate::initrd::BUSYBOX)
        .map(|m| m.len())
        .unwrap_or(0));
    let host_runs = target.starts_with(std::env::consts::ARCH);
    let mem_default = guest_mem_default(&bin);
    let rss = if host_runs {
        rss_echo_ok(&bin, &rd)
    } else {
        Err(format!("{target} does not run on this host"))
    };
    let min_mem: Vec<(&str, std::result::Result<u64, String>)> = MEM_PROBES
        .iter()
        .map(|&(label, script, want)| {
            let r = if host_runs {
                smallest_mem(&bin, &rd, script, want)
            } else {
                Err("not run on this host".to_string())
            };
            (label, r)
        })
        .collect();

    println!();
    println!("## ROM ({target}, profile rom)\n");
    println!("| what | umbra | paper (UML on PXA270) |");
    println!("|---|---|---|");
    println!(
        "| kernel binary (ROM) | **{:.0} KB** ({:.2}× the paper's) | {PAPER_KERNEL_KB:.0} KB |",
        kb(file),
        kb(file) / PAPER_KERNEL_KB
    );
    println!("| .text | {:.0} KB | |", kb(section(".text")));
    println!("| .rodata | {:.0} KB | |", kb(section(".rodata")));
    println!(
        "| .eh_frame + .eh_frame_hdr + .gcc_except_table | {:.0} KB | |",
        kb(section(".eh_frame") + section(".eh_frame_hdr") + section(".gcc_except_table"))
    );
    println!("| .data (+ .data.rel.ro, .tdata) | {:.1} KB | |", kb(data));
    println!("| .bss (+ .tbss) | {:.1} KB | |", kb(bss));
    println!(
        "| disk image: busybox initrd (cpio) | {rd_kb:.0} KB (busybox-static alone {busybox_kb:.0} KB) | {PAPER_DISK_KB:.0} KB |"
    );

    println!("\n### ROM by target (profile rom)\n");
    println!("| target | binary | .text | .rodata | .data + .bss | libc |");
    println!("|---|---|---|---|---|---|");
    for (t, r) in &by_target {
        let libc = if t.ends_with("gnueabihf") {
            "glibc, static"
        } else {
            "musl, static"
        };
        match r {
            Ok(z) => println!(
                "| {t} | **{:.0} KB** | {:.0} KB | {:.0} KB | {:.1} KB | {libc} |",
                kb(z.file),
                kb(z.text),
                kb(z.rodata),
                kb(z.data_bss)
            ),
            Err(e) => println!("| {t} | not built: {e} | | | | {libc} |"),
        }
    }

    match &contributors {
        Ok((syms, unstripped_len)) => print_contributors(syms, *unstripped_len),
        Err(e) => println!("\ncontributors: not available: {e}"),
    }

    println!("\n## RAM\n");
    println!("| what | umbra | paper (UML on PXA270) |");
    println!("|---|---|---|");
    println!(
        "| static data (.data + .bss) | {:.1} KB | |",
        kb(data + bss)
    );
    println!(
        "| kernel heap | not a separate budget: umbra-core allocates from the shim's host heap (in umbra's RSS below) | |"
    );
    println!(
        "| guest memory default (`--mem`) | {} | |",
        mem_default.unwrap_or_else(|e| format!("unknown ({e})"))
    );
    for (label, r) in &min_mem {
        let v = match r {
            Ok(k) if *k <= 1024 => "**≤ 1 MB** (works at the search's lower bound)".to_string(),
            Ok(k) => format!("**{}**", mem_str(*k)),
            Err(e) => format!("not found: {e}"),
        };
        println!("| smallest `--mem`, {label} | {v} | {PAPER_MIN_MEM_MB:.1} MB |");
    }
    match &rss {
        Ok(rows) => {
            for (role, kb_) in rows {
                println!(
                    "| peak host RSS, {role}, `busybox sh -c 'echo ok'` | {:.0} KB | |",
                    *kb_ as f64
                );
            }
        }
        Err(e) => println!("| peak host RSS | not measured: {e} | |"),
    }
    println!();
    println!(
        "Peak RSS: the largest VmHWM sampled from /proc while the command runs (5 runs, \
         ~0.3 ms period), per process; umbra's figure is also bounded below by \
         ru_maxrss. Memory-file pages mapped by both umbra and a stub count in each; \
         the PSS row (largest sampled sum of smaps_rollup Pss) counts them once."
    );
    println!(
        "generated by `cargo xtask size{}`",
        args.iter().map(|a| format!(" {a}")).collect::<String>()
    );
    Ok(())
}

fn kb(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

fn mem_str(kib: u64) -> String {
    if kib & 1023 == 0 {
        format!("{} MB", kib / 1024)
    } else {
        format!("{:.2} MB ({kib} KB)", kib as f64 / 1024.0)
    }
}

/// The rom profile, unstripped, in its own target directory.
fn build_unstripped(target: &str, dir: &Path) -> Result<PathBuf> {
    crate::run(
        rom::rom_build(target)
            .env("CARGO_PROFILE_ROM_STRIP", "false")
            .env("CARGO_TARGET_DIR", dir),
    )?;
    Ok(dir.join(target).join("rom/umbra"))
}

/// The targets `size` compares: the x86_64, aarch64 and 32-bit ARM hosts.
const ROM_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf",
];

/// The sizes of one rom build.
struct RomSizes {
    file: u64,
    text: u64,
    rodata: u64,
    data_bss: u64,
}

impl RomSizes {
    fn of(elf: &Elf, file: u64) -> RomSizes {
        let section = |names: &[&str]| {
            elf.sections
                .iter()
                .filter(|s| names.contains(&s.name.as_str()))
                .map(|s| s.size)
                .sum::<u64>()
        };
        RomSizes {
            file,
            text: section(&[".text"]),
            rodata: section(&[".rodata"]),
            data_bss: section(&[".data", ".data.rel.ro", ".tdata", ".bss", ".tbss"]),
        }
    }
}

/// Builds the rom profile for `target`; its sizes, or the first error.
fn try_build(target: &str) -> std::result::Result<RomSizes, String> {
    println!("$ cargo build -p umbra-shim --profile rom --target {target}");
    let out = rom::rom_build(target).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        let bin = target_dir().join(target).join("rom/umbra");
        let b = std::fs::read(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
        let elf = Elf::parse(&b).map_err(|e| format!("{}: {e}", bin.display()))?;
        return Ok(RomSizes::of(&elf, b.len() as u64));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let errors = lines.iter().filter(|l| l.starts_with("error")).count();
    let first = lines
        .iter()
        .position(|l| l.starts_with("error"))
        .map(|i| {
            // The message and the location line after it.
            let loc = lines
                .get(i + 1)
                .map(|l| l.trim().trim_start_matches("--> "))
                .unwrap_or("");
            format!("{} ({loc})", lines[i])
        })
        .unwrap_or_else(|| lines.last().copied().unwrap_or("").to_string());
    Err(format!("{errors} error line(s); first: {first}").replace('|', "\\|"))
}

/// The `--mem` default, as `umbra run --help` states it.
fn guest_mem_default(bin: &Path) -> std::result::Result<String, String> {
    let out = Command::new(bin)
        .args(["run", "--help"])
        .output()
        .map_err(|e| e.to_string())?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("--mem"))
        .ok_or("no --mem in the help")?;
    let at = line.find("default ").ok_or("no default in the help")?;
    let rest = &line[at + 8..];
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    Ok(format!("{} (from `umbra run --help`)", &rest[..end]))
}

fn run_guest(
    bin: &Path,
    rd: &Path,
    mem_kib: Option<u64>,
    script: &str,
    sample: bool,
) -> std::result::Result<procs::Outcome, String> {
    let mut c = Command::new(bin);
    c.arg("run").arg("--initrd").arg(rd);
    if let Some(k) = mem_kib {
        c.arg("--mem").arg(format!("{k}K"));
    }
    c.args([
        "--env",
        "PATH=/bin",
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        script,
    ]);
    procs::run(&mut c, Duration::from_secs(30), sample)
}

/// Peak host RSS (KB) of umbra and of each of its stubs, the largest over 5
/// runs of `busybox sh -c 'echo ok'`.
fn rss_echo_ok(bin: &Path, rd: &Path) -> std::result::Result<Vec<(String, u64)>, String> {
    let wrapper = crate::target_dir().join("bench/bin/maxrss");
    if !wrapper.is_file() {
        let cc = which("musl-gcc").ok_or("musl-gcc not found")?;
        std::fs::create_dir_all(wrapper.parent().expect("has a parent"))
            .map_err(|e| e.to_string())?;
        crate::run(
            Command::new(cc)
                .args(["-static", "-O2", "-o"])
                .arg(&wrapper)
                .arg(crate::root().join("tests/bench/maxrss.c")),
        )?;
    }
    let mut best: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..5 {
        let mut c = Command::new(&wrapper);
        c.arg(bin).arg("run").arg("--initrd").arg(rd).args([
            "--env",
            "PATH=/bin",
            "--",
            "/bin/busybox",
            "sh",
            "-c",
            "echo ok",
        ]);
        let out = procs::run_sampled(&mut c, Duration::from_secs(30), true, true)?;
        if out.exit != procs::Exit::Code(0) || out.stdout != "ok\n" {
            return Err(out.reason());
        }
        let exact = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("maxrss-kb ")?.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let umbra_pid = out.peaks.iter().find(|p| p.ppid == out.pid).map(|p| p.pid);
        let mut rows = vec![(
            "umbra".to_string(),
            out.peaks
                .iter()
                .find(|p| Some(p.pid) == umbra_pid)
                .map_or(0, |p| p.hwm_kb)
                .max(exact),
        )];
        let mut stubs: Vec<(u64, &str)> = out
            .peaks
            .iter()
            .filter(|p| p.pid != out.pid && Some(p.pid) != umbra_pid)
            .map(|p| (p.hwm_kb, p.comm.as_str()))
            .collect();
        stubs.sort_unstable_by(|a, b| b.cmp(a));
        if stubs.is_empty() {
            rows.push(("stub (none seen by the sampler)".into(), 0));
        }
        for (i, (s, comm)) in stubs.iter().enumerate() {
            rows.push((format!("stub {} (`{comm}`)", i + 1), *s));
        }
        let total: u64 = rows.iter().map(|r| r.1).sum();
        rows.push(("umbra + stubs".into(), total));
        rows.push((
            "umbra + stubs, PSS (shared memory-file pages counted once)".into(),
            out.peak_pss_kb,
        ));
        for (role, v) in rows {
            let e = best.entry(role).or_insert(0);
            *e = (*e).max(v);
        }
    }
    let mut rows: Vec<(String, u64)> = best.into_iter().collect();
    // umbra first, the total last.
    rows.sort_by_key(|(r, _)| (r != "umbra", r.starts_with("umbra + stubs"), r.clone()));
    Ok(rows)
}

/// The smallest `--mem` (KiB, to 64 KiB) with which `script` prints `want`,
/// by bisection between 1M and 64M.
fn smallest_mem(
    bin: &Path,
    rd: &Path,
    script: &str,
    want: &str,
) -> std::result::Result<u64, String> {
    let ok = |k: u64| {
        run_guest(bin, rd, Some(k), script, false)
            .is_ok_and(|o| o.exit == procs::Exit::Code(0) && o.stdout == want)
    };
    let (mut lo, mut hi) = (1024u64, 64 * 1024u64);
    if !ok(hi) {
        let why = run_guest(bin, rd, Some(hi), script, false)
            .map(|o| o.reason())
            .unwrap_or_else(|e| e);
        return Err(format!("fails even with 64M: {why}"));
    }
    if ok(lo) {
        return Ok(lo);
    }
    // Invariant: lo fails, hi succeeds.
    while hi - lo > 64 {
        let mid = (lo + hi) / 2 / 64 * 64;
        let mid = if mid <= lo { lo + 64 } else { mid };
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// A Rust symbol, demangled roughly: legacy `_ZN..E` and v0 `_R` names.
/// Anything else is returned as it is.
pub fn demangle(sym: &str) -> String {
    if let Some(rest) = sym.strip_prefix("_ZN").or_else(|| sym.strip_prefix("__ZN")) {
        let mut parts = Vec::new();
        let b = rest.as_bytes();
        let mut i = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n: usize = rest[start..i].parse().unwrap_or(0);
            let Some(id) = rest.get(i..i + n) else { break };
            parts.push(id);
            i += n;
        }
        // The trailing hash: h + 16 hex digits.
        if parts.last().is_some_and(|p| {
            p.len() == 17 && p.starts_with('h') && p[1..].chars().all(|c| c.is_ascii_hexdigit())
        }) {
            parts.pop();
        }
        if parts.is_empty() {
            return sym.to_string();
        }
        return parts
            .iter()
            .map(|p| unescape(p))
            .collect::<Vec<_>>()
            .join("::");
    }
    if let Some(rest) = sym.strip_prefix("_R") {
        // The identifiers in order of appearance: a path's crate root comes
        // first, then its segments. Tags and disambiguators are skipped.
        let b = rest.as_bytes();
        let mut ids = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_digit() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n: usize = rest[start..i].parse().unwrap_or(0);
                if b.get(i) == Some(&b'_') {
                    i += 1;
                }
                let Some(id) = rest.get(i..i + n) else { break };
                ids.push(id);
                i += n;
            } else if c == b's' || c == b'B' {
                // Disambiguator or back-reference: up to '_'.
                i += rest[i..].find('_').map_or(b.len() - i, |p| p + 1);
            } else if c == b'.' {
                break;
            } else {
                i += 1;
            }
        }
        if !ids.is_empty() {
            return ids.join("::");
        }
    }
    sym.to_string()
}

fn unescape(p: &str) -> String {
    let p = p
        .strip_prefix("_$")
        .map_or(p.to_string(), |r| format!("${r}"));
    let mut out = String::new();
    let mut rest = p.as_str();
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at].replace("..", "::"));
        let tail = &rest[at + 1..];
        let Some(end) = tail.find('$') else {
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        let code = &tail[..end];
        let ch = match code {
            "LT" => "<".to_string(),
            "GT" => ">".to_string(),
            "RF" => "&".to_string(),
            "BP" => "*".to_string(),
            "C" => ",".to_string(),
            "SP" => "@".to_string(),
            "LP" => "(".to_string(),
            "RP" => ")".to_string(),
            c if c.starts_with('u') => u32::from_str_radix(&c[1..], 16)
                .ok()
                .and_then(char::from_u32)
                .map_or(format!("${c}$"), String::from),
            c => format!("${c}$"),
        };
        out.push_str(&ch);
        rest = &tail[end + 1..];
    }
    out.push_str(&rest.replace("..", "::"));
    out
}

/// The crate a demangled name belongs to: its first path segment, or for
/// `<T as Trait>::f` the crate of T (where the code was instantiated from).
pub fn crate_of(demangled: &str, raw: &str) -> String {
    if !(raw.starts_with("_ZN") || raw.starts_with("__ZN") || raw.starts_with("_R")) {
        return "[C/asm: libc (musl or static glibc), compiler-builtins glue, stub blob]".into();
    }
    let mut s = demangled.trim_start_matches('<');
    for prefix in ["&mut ", "&", "*const ", "*mut ", "dyn ", "["] {
        s = s.trim_start_matches(prefix);
    }
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let name = &s[..end];
    if name.is_empty() {
        "[other]".into()
    } else {
        name.to_string()
    }
}

fn print_contributors(syms: &[rom::Symbol], unstripped_len: u64) {
    // Aliases share an address: count each address once.
    let mut seen = std::collections::HashSet::new();
    let mut by_crate: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut funcs: Vec<(u64, String)> = Vec::new();
    let mut total = 0;
    for s in syms {
        if !seen.insert((s.value, s.kind == SymKind::Func)) {
            continue;
        }
        let name = demangle(&s.name);
        let krate = crate_of(&name, &s.name);
        let e = by_crate.entry(krate).or_insert((0, 0));
        match s.kind {
            SymKind::Func => {
                e.0 += s.size;
                funcs.push((s.size, name));
            }
            SymKind::Data => e.1 += s.size,
        }
        total += s.size;
    }
    let mut crates: Vec<(String, (u64, u64))> = by_crate.into_iter().collect();
    crates.sort_by_key(|c| std::cmp::Reverse(c.1 .0 + c.1 .1));
    println!(
        "\n### Largest contributors by crate\n\n(symbol sizes from the unstripped twin, {:.0} KB \
         with its symbol table; {:.0} KB of sized symbols in all)\n",
        kb(unstripped_len),
        kb(total)
    );
    println!("| crate | code KB | data KB | share |");
    println!("|---|---|---|---|");
    for (name, (code, data)) in crates.iter().take(12) {
        println!(
            "| {name} | {:.1} | {:.1} | {:.0}% |",
            kb(*code),
            kb(*data),
            100.0 * (*code + *data) as f64 / total.max(1) as f64
        );
    }
    funcs.sort_by_key(|f| std::cmp::Reverse(f.0));
    println!("\n### Largest functions\n");
    println!("| function | KB |");
    println!("|---|---|");
    for (size, name) in funcs.iter().take(15) {
        let short: String = if name.chars().count() > 110 {
            format!("{}…", name.chars().take(110).collect::<String>())
        } else {
            name.clone()
        };
        println!("| `{}` | {:.1} |", short.replace('|', "\\|"), kb(*size));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_legacy() {
        let raw = "_ZN10umbra_core7syscall8dispatch17h0123456789abcdefE";
        let d = demangle(raw);
        assert_eq!(d, "umbra_core::syscall::dispatch");
        assert_eq!(crate_of(&d, raw), "umbra_core");
        let raw = "_ZN60_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$core..ops..Drop$GT$4drop17h0123456789abcdefE";
        let d = demangle(raw);
        assert_eq!(d, "<alloc::vec::Vec<T> as core::ops::Drop>::drop");
        assert_eq!(crate_of(&d, raw), "alloc");
    }

    #[test]
    fn demangles_v0_roughly() {
        let raw = "_RNvNtCs1234_10umbra_core7syscall8dispatch";
        let d = demangle(raw);
        assert_eq!(d, "umbra_core::syscall::dispatch");
        assert_eq!(crate_of(&d, raw), "umbra_core");
    }

    #[test]
    fn c_symbols_are_their_own_crate() {
        assert!(crate_of("memcpy", "memcpy").starts_with("[C"));
        assert_eq!(demangle("memcpy"), "memcpy");
        assert_eq!(demangle("_ZN"), "_ZN");
        assert_eq!(demangle("_ZN99x"), "_ZN99x");
    }
}
