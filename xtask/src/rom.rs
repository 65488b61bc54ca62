//! `cargo xtask rom`: the `rom` profile build of umbra (opt-level "z", LTO,
//! panic=abort, stripped) and how big it is; the ELF reader that `size`
//! (size.rs) uses for its sections and symbols.
//!
//! Section sizes and symbols come from the ELF headers, read here with a small
//! bounds-checked parser (std only; 32- and 64-bit little-endian, so the ARM
//! builds can be measured too): a malformed file gives an error, never a
//! panic.

use std::path::PathBuf;

use crate::{cargo, run, target_dir, Result};

pub const DEFAULT_TARGET: &str = "x86_64-unknown-linux-musl";

/// The most the device ROM build (`rom` profile, `--no-default-features`:
/// what a device flashes) may take on the x86_64 host, bytes: 702 KiB, what
/// the paper's 1,000 KB ROM total (Table 1, issue 14) leaves beside its
/// disk image of 298 KB (305,152 bytes): 1,024,000 - 305,152 = 718,848. The
/// device build was 712,784 bytes (696 KB) on 2026-12-07, once it left out
/// the inet, inotify and System V IPC code it had kept reachable, and
/// 693,696 bytes (677 KB) at 960ba1b, with read-only data folded and panic
/// locations dropped (`rom_env`).
pub const ROM_BUDGET: u64 = 702 << 10;

/// The most the full `rom` build (every default feature: the OCI runtime,
/// the image tool, host directories and host networking too) may take,
/// bytes: issue 11's 1 MiB, on x86_64 (`cargo xtask test`) and aarch64
/// (`cargo xtask test-arm`). It was 1,172,640 bytes on x86_64 on 2026-12-07
/// before std's process spawning and float parsing left the OCI runtime,
/// std was built for size (`rom_cargo_flags`) and System V IPC left alloc's
/// B-tree; 1,029,952 after.
pub const FULL_ROM_BUDGET: u64 = 1 << 20;

fn parse_target(args: &[String]) -> Result<String> {
    match args {
        [] => Ok(DEFAULT_TARGET.to_string()),
        [flag, t] if flag == "--target" => Ok(t.clone()),
        _ => Err(format!(
            "unexpected arguments {args:?}; usage: [--target TRIPLE]"
        )),
    }
}

/// The settings of the `rom` build for `target`, as environment variables
/// for cargo (a profile cannot set rustflags or the linker on stable Rust).
///
/// On the musl hosts (x86_64 and aarch64), linked with rust-lld:
/// - no unwind tables: the build aborts on panic, so they would only serve a
///   backtrace (linker/rom-no-unwind.ld drops what std brings along);
/// - identical code folding (`--icf=all`): the many instances of generic
///   code (BTreeMap's above all) that compile to the same bytes are kept once;
///   with `--ignore-data-address-equality` identical read-only data too
///   (constant tables and vtables: 1.0 KB of .rodata and 0.4 KB of
///   .data.rel.ro, 1.6 KB in all on the device build). Two statics may then share an
///   address; umbra compares the addresses of heap objects only (`Arc::ptr_eq`,
///   `ptr::eq` on references into the heap), never of read-only data;
/// - LLVM's machine outliner on x86_64 too (aarch64 has it at opt-level "z"
///   already): repeated instruction sequences become calls;
/// - relative relocations packed (DT_RELR, read by musl's static-PIE start-up
///   since musl 1.2.4): the x86_64 binary stays position-independent, so
///   umbra keeps its ASLR, without 24 bytes of relocation per pointer;
/// - panics without their source location (`-Z location-detail=none`): a
///   panic still prints its message ("index out of bounds: the len is 3 but
///   the index is 5") and aborts, at `<redacted>:0:0` instead of file, line
///   and column. Each of the ~600 panic sites (bounds checks, unwraps) kept a
///   24-byte `Location` and its file name: 20.0 KB of the device build (19,984
///   bytes on 2026-12-07; `location-detail=file`, which keeps the file
///   names, saves 12.5 KB). The flag is unstable, so `RUSTC_BOOTSTRAP=1`
///   lets the stable compiler take it, for this build only; the release
///   build, which the tests run, keeps full panic locations.
///
/// The armv7 host (static glibc, GNU ld) unwinds with .ARM.exidx, which
/// glibc's own code uses, and keeps the defaults.
pub fn rom_env(target: &str) -> Vec<(String, String)> {
    if !target.ends_with("-linux-musl") {
        return Vec::new();
    }
    let var = |what: &str| {
        format!(
            "CARGO_TARGET_{}_{what}",
            target.to_uppercase().replace('-', "_")
        )
    };
    let script = crate::root().join("linker/rom-no-unwind.ld");
    vec![
        (var("LINKER"), "rust-lld".to_string()),
        (
            var("RUSTFLAGS"),
            format!(
                "-C force-unwind-tables=no -C link-arg=-T{} \
                 -C link-arg=-zpack-relative-relocs -C link-arg=--icf=all \
                 -C link-arg=--ignore-data-address-equality \
                 -C llvm-args=-enable-machine-outliner=always \
                 -Z location-detail=none",
                script.display()
            ),
        ),
        ("RUSTC_BOOTSTRAP".to_string(), "1".to_string()),
    ]
}

/// The cargo flags of the `rom` build for `target`, after `build`: on the
/// musl hosts, std is compiled again from its source with the build's own
/// settings (`-Z build-std`, rustup's rust-src component), where the
/// prebuilt one was compiled for speed (opt-level 3) and for unwinding:
/// - with `panic = "abort"` and the rom profile's opt-level "z", and without
///   unwind tables or panic locations (`rom_env`'s flags reach std too);
/// - with std's `optimize_for_size` feature: its smaller variants of sort,
///   formatting and string search.
///
/// 1,130,392 -> 1,102,360 bytes (-28 KB) for the full x86_64 build on
/// 2026-12-07. Like `-Z location-detail`, it is unstable and taken by the
/// stable compiler through `RUSTC_BOOTSTRAP=1`, for the rom builds only.
/// The armv7 host (static glibc) keeps the prebuilt std.
pub fn rom_cargo_flags(target: &str) -> Vec<&'static str> {
    if !target.ends_with("-linux-musl") {
        return Vec::new();
    }
    ensure_rust_src();
    vec![
        "-Zbuild-std=std,panic_abort",
        "-Zbuild-std-features=optimize_for_size",
    ]
}

/// Installs rustup's rust-src component (std's source, for `-Z build-std`)
/// if it is missing, once per xtask run. Without rustup, cargo's own error
/// names what is missing.
fn ensure_rust_src() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = crate::rustup_add("component", &["rust-src"]) {
            eprintln!("xtask: rust-src: {e}");
        }
    });
}

/// A `cargo build` of umbra with the `rom` profile for `target`, with its
/// flags and link flags.
pub fn rom_build(target: &str) -> std::process::Command {
    let mut c = cargo();
    c.arg("build").args(rom_cargo_flags(target));
    c.args([
        "-p",
        "umbra-shim",
        "--bin",
        "umbra",
        "--profile",
        "rom",
        "--target",
        target,
    ]);
    c.envs(rom_env(target));
    c
}

/// `cargo xtask rom [--target TRIPLE]`: builds and prints the size.
pub fn rom(args: &[String]) -> Result<PathBuf> {
    let target = parse_target(args)?;
    run(&mut rom_build(&target))?;
    let bin = target_dir().join(&target).join("rom/umbra");
    let len = std::fs::metadata(&bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    println!("{}: {:.0} KB ({len} bytes)", bin.display(), kb(len));
    Ok(bin)
}

/// The device ROM build: the `rom` profile with `--no-default-features`, in
/// its own target directory (target/device-rom) so the full build stays.
pub fn device_rom() -> Result<PathBuf> {
    let target = DEFAULT_TARGET;
    let dir = target_dir().join("device-rom");
    let mut c = rom_build(target);
    c.arg("--no-default-features");
    c.env("CARGO_TARGET_DIR", &dir);
    run(&mut c)?;
    let bin = dir.join(target).join("rom/umbra");
    let len = std::fs::metadata(&bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    println!(
        "{} (device build): {:.0} KB ({len} bytes)",
        bin.display(),
        kb(len)
    );
    Ok(bin)
}

fn kb(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

/// One section header, as much of it as the size report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub size: u64,
    /// `sh_type`, file offset, `sh_link` and `sh_entsize`: what reading a
    /// symbol table needs.
    pub kind: u32,
    pub offset: u64,
    pub link: u32,
    pub entsize: u64,
}

/// The parts of an ELF file xtask looks at.
#[derive(Debug, Clone, Default)]
pub struct Elf {
    pub wide: bool,
    pub sections: Vec<Section>,
    /// `p_type` of each program header.
    pub segment_types: Vec<u32>,
}

const PT_INTERP: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymKind {
    Func,
    Data,
}

/// One sized symbol of `.symtab`.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub kind: SymKind,
    pub value: u64,
    pub size: u64,
}

impl Elf {
    /// Parses the section and program headers of a little-endian ELF32 or
    /// ELF64 file.
    pub fn parse(b: &[u8]) -> Result<Elf> {
        if b.get(..4) != Some(b"\x7fELF") {
            return Err("not an ELF file".into());
        }
        let wide = match b.get(4) {
            Some(1) => false,
            Some(2) => true,
            _ => return Err("bad ELF class".into()),
        };
        if b.get(5) != Some(&1) {
            return Err("not little-endian".into());
        }
        let r = Reader(b);
        // Offsets of e_phoff, e_shoff, e_phentsize in the two layouts.
        let (phoff, shoff, rest) = if wide {
            (r.u64(0x20)?, r.u64(0x28)?, 0x36)
        } else {
            (r.u32(0x1c)? as u64, r.u32(0x20)? as u64, 0x2a)
        };
        let phentsize = r.u16(rest)? as u64;
        let phnum = r.u16(rest + 2)? as u64;
        let shentsize = r.u16(rest + 4)? as u64;
        let shnum = r.u16(rest + 6)? as u64;
        let shstrndx = r.u16(rest + 8)? as u64;

        let mut segment_types = Vec::new();
        for i in 0..phnum {
            let at = offset(phoff, i, phentsize)?;
            segment_types.push(r.u32(at)?);
        }

        // (name offset, size) of each section, then names from .shstrtab.
        let mut raw = Vec::new();
        for i in 0..shnum {
            let at = offset(shoff, i, shentsize)?;
            let name = r.u32(at)?;
            let kind = r.u32(at + 4)?;
            let (off, size, link, entsize) = if wide {
                (
                    r.u64(at + 0x18)?,
                    r.u64(at + 0x20)?,
                    r.u32(at + 0x28)?,
                    r.u64(at + 0x38)?,
                )
            } else {
                (
                    r.u32(at + 0x10)? as u64,
                    r.u32(at + 0x14)? as u64,
                    r.u32(at + 0x18)?,
                    r.u32(at + 0x24)? as u64,
                )
            };
            raw.push((name, off, size, kind, link, entsize));
        }
        let strtab = match raw.get(shstrndx as usize) {
            Some(&(_, off, size, ..)) if shnum > 0 => {
                let end = off.checked_add(size).ok_or("section table overflow")?;
                b.get(off as usize..end as usize)
                    .ok_or("section name table out of bounds")?
            }
            _ => &[][..],
        };
        let sections = raw
            .iter()
            .map(|&(name, offset, size, kind, link, entsize)| Section {
                name: cstr_at(strtab, name as usize),
                size,
                kind,
                offset,
                link,
                entsize,
            })
            .collect();
        Ok(Elf {
            wide,
            sections,
            segment_types,
        })
    }

    /// The function and data symbols of `.symtab` (empty when stripped),
    /// read from the file `b` this was parsed from.
    pub fn symbols(&self, b: &[u8]) -> Result<Vec<Symbol>> {
        const SHT_SYMTAB: u32 = 2;
        let Some(tab) = self.sections.iter().find(|s| s.kind == SHT_SYMTAB) else {
            return Ok(Vec::new());
        };
        let strtab = self
            .sections
            .get(tab.link as usize)
            .ok_or("symbol string table missing")?;
        let slice = |s: &Section| -> Result<&[u8]> {
            let end = s.offset.checked_add(s.size).ok_or("section overflow")?;
            b.get(s.offset as usize..end as usize)
                .ok_or_else(|| format!("section {} out of bounds", s.name))
        };
        let (syms, names) = (slice(tab)?, slice(strtab)?);
        let ent = if self.wide { 24 } else { 16 };
        let r = Reader(syms);
        let mut out = Vec::new();
        for at in (0..syms.len() / ent).map(|i| i * ent) {
            let name = r.u32(at)?;
            let (info, value, size) = if self.wide {
                (syms[at + 4], r.u64(at + 8)?, r.u64(at + 16)?)
            } else {
                (syms[at + 12], r.u32(at + 4)? as u64, r.u32(at + 8)? as u64)
            };
            let kind = match info & 0xf {
                1 => SymKind::Data,
                2 => SymKind::Func,
                _ => continue,
            };
            if size == 0 {
                continue;
            }
            out.push(Symbol {
                name: cstr_at(names, name as usize),
                kind,
                value,
                size,
            });
        }
        Ok(out)
    }

    /// Whether the file asks for a dynamic loader.
    pub fn has_interp(&self) -> bool {
        self.segment_types.contains(&PT_INTERP)
    }
}

fn offset(base: u64, index: u64, entsize: u64) -> Result<usize> {
    index
        .checked_mul(entsize)
        .and_then(|o| o.checked_add(base))
        .and_then(|o| usize::try_from(o).ok())
        .ok_or_else(|| "header table offset overflows".to_string())
}

fn cstr_at(table: &[u8], at: usize) -> String {
    let tail = table.get(at..).unwrap_or(&[]);
    let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(&tail[..end]).into_owned()
}

/// Bounds-checked little-endian reads.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Result<[u8; N]> {
        at.checked_add(N)
            .and_then(|end| self.0.get(at..end))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| format!("truncated ELF file (read at {at:#x})"))
    }
    fn u16(&self, at: usize) -> Result<u16> {
        self.bytes(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: usize) -> Result<u32> {
        self.bytes(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: usize) -> Result<u64> {
        self.bytes(at).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(Elf::parse(b"").is_err());
        assert!(Elf::parse(b"\x7fELF").is_err());
        assert!(Elf::parse(b"\x7fELF\x02\x01\x01\x00").is_err());
        let mut huge = vec![0u8; 64];
        huge[..6].copy_from_slice(b"\x7fELF\x02\x01");
        huge[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        huge[0x3c] = 1;
        assert!(Elf::parse(&huge).is_err());
    }

    #[test]
    fn reads_own_executable() {
        // /proc/self/exe reads the running binary even if cargo replaced the
        // file meanwhile (a concurrent build).
        let me = std::fs::read("/proc/self/exe").unwrap();
        let elf = Elf::parse(&me).unwrap();
        assert!(elf.sections.iter().any(|s| s.name == ".text" && s.size > 0));
    }
}
