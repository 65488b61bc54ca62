//! umbra's own vDSO and its time page ([vvar]), as Linux maps them into every
//! address space, so that clock_gettime, gettimeofday, time and getcpu need no
//! trap.
//!
//! The host supplies the vDSO's code for its arch ([`HostCpu::vdso_text`]):
//! position-independent functions after a table of their offsets (a `u32`
//! count, then one `u32` offset from the blob's start per entry, in the order of
//! [`ENTRIES`]). The kernel wraps that code in an ELF shared object that
//! glibc's and musl's vDSO parsers accept ([`build_image`]: a PT_LOAD, a
//! PT_DYNAMIC with DT_HASH, dynsym/dynstr, versym and verdef, as Linux's own),
//! puts it in a shared memory object, and maps it (r-x, `[vdso]`) with the time
//! page (r--, `[vvar]`) one page below it at every exec. Fork keeps both
//! (shared by frame, never copied).
//!
//! Time: the guest's clocks are one function of a hardware counter the guest
//! can read without a trap (x86_64 TSC, arm CNTVCT; [`HostTime::counter`]):
//! `mono = vv.mono + ((counter - vv.cycle_last) * vv.mult) >> 32`, realtime is
//! `mono + vv.real_off`. The kernel re-anchors ([`Clock::sync`]) before each
//! return to a guest and at each time syscall, at `max(the formula, host
//! CLOCK_MONOTONIC)`: the guest's clock never runs backwards, whoever reads it
//! (vDSO or syscall), and is never behind the host's, so a sleep until T never
//! looks early. `mult` is calibrated against the host clock over a baseline that
//! doubles as umbra runs, and slowed by up to 500 ppm while the guest clock
//! leads the host's. Until the first calibration (or with no usable counter)
//! `mode` is 0 and the vDSO makes the real syscall, as Linux's does for clocks
//! it cannot serve (CPU-time clocks, unknown ids).

use crate::config::PAGE_SIZE;
use crate::host::Host;
use crate::mm::{AddressSpace, FrameAllocator, SharedMem, Vma, VmaKind, VmaName};
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::Prot;

/// Where the vDSO's code starts in its image (the ELF header and tables come
/// first). The code finds the time page at `its own start - TEXT_OFFSET -
/// PAGE_SIZE`.
pub const TEXT_OFFSET: usize = 0x800;

/// Layout of the time page (byte offsets; all little-endian).
pub mod vvar {
    /// `u32`: even when the page is consistent (the kernel makes it odd while it
    /// writes, as a seqlock).
    pub const SEQ: usize = 0;
    /// `u32`: 1 when the counter fields are valid; 0: take the syscall.
    pub const MODE: usize = 4;
    /// `u64`: the counter at the anchor.
    pub const CYCLE_LAST: usize = 8;
    /// `u64`: nanoseconds per counter unit, times 2^32.
    pub const MULT: usize = 16;
    /// `u64`: guest CLOCK_MONOTONIC (ns) at the anchor.
    pub const MONO: usize = 24;
    /// `u64`: CLOCK_REALTIME minus CLOCK_MONOTONIC, ns (wrapping).
    pub const REAL_OFF: usize = 32;
    /// `u64`, `u32`: `MONO` in seconds and nanoseconds, and (`u32`, `u64`)
    /// the anchor's realtime, for 32-bit code that has no 64-bit division.
    pub const MONO_SEC: usize = 40;
    pub const MONO_NSEC: usize = 48;
    pub const REAL_NSEC: usize = 52;
    pub const REAL_SEC: usize = 56;
    /// Bytes used.
    pub const LEN: usize = 64;
}

/// The clocks the vDSO serves itself (one bit per clock id): REALTIME,
/// MONOTONIC, MONOTONIC_RAW, REALTIME_COARSE, MONOTONIC_COARSE, BOOTTIME, as
/// the kernel's clock_gettime defines them. Others take the syscall.
pub const CLOCKS_SERVED: u32 = 0b1111_0011;
/// Of those, the ones that read realtime.
pub const CLOCKS_REALTIME: u32 = 0b0010_0001;

/// The symbols of the vDSO, in the order of the host blob's offset table, with
/// the version they are defined in. The names are those glibc and musl look up
/// (Linux's own vDSO exports the same).
#[cfg(target_arch = "x86_64")]
pub const ENTRIES: &[&str] = &[
    "__vdso_clock_gettime",
    "__vdso_gettimeofday",
    "__vdso_time",
    "__vdso_getcpu",
    "__vdso_clock_getres",
];
/// The version node of the vDSO's symbols.
#[cfg(target_arch = "x86_64")]
pub const VERSION: &str = "LINUX_2.6";

#[cfg(target_arch = "aarch64")]
pub const ENTRIES: &[&str] = &[
    "__kernel_clock_gettime",
    "__kernel_gettimeofday",
    "__kernel_clock_getres",
];
#[cfg(target_arch = "aarch64")]
pub const VERSION: &str = "LINUX_2.6.39";

#[cfg(target_arch = "arm")]
pub const ENTRIES: &[&str] = &[
    "__vdso_clock_gettime",
    "__vdso_gettimeofday",
    "__vdso_clock_gettime64",
    "__vdso_clock_getres",
];
#[cfg(target_arch = "arm")]
pub const VERSION: &str = "LINUX_2.6";

/// The vDSO's DT_SONAME (as Linux's).
pub const SONAME: &str = "linux-vdso.so.1";

/// Where the time page is mapped; the vDSO follows it. 1 MiB above the
/// stack's top, below the host's stub pages.
pub const VVAR_ADDR: u64 = crate::arch::STACK_TOP + 0x10_0000;

/// The ELF `st_shndx` of the vDSO's symbols: the image's .text section.
const SHNDX_TEXT: u16 = 1;

/// What an ELF image needs to know of its target.
#[derive(Clone, Copy)]
pub struct Target {
    /// 64-bit (ELFCLASS64) or 32-bit.
    pub class64: bool,
    pub machine: u16,
    pub flags: u32,
}

/// This guest's target.
pub const TARGET: Target = Target {
    class64: crate::arch::ELF_CLASS == umbra_abi::elf::ELFCLASS64,
    machine: crate::arch::ELF_MACHINE,
    // 32-bit ARM: EABI version 5, hard-float (as Linux's vdso.so).
    flags: if crate::arch::ELF_MACHINE == umbra_abi::elf::EM_ARM {
        0x0500_0400
    } else {
        0
    },
};

/// The System V ELF hash (DT_HASH, vd_hash).
pub fn elf_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// Splits a host blob into its code and entry offsets (from the blob's start);
/// `None` if the table is malformed or does not match [`ENTRIES`].
pub fn parse_blob(blob: &[u8]) -> Option<Vec<u32>> {
    let word = |i: usize| -> Option<u32> {
        let b = blob.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let n = word(0)? as usize;
    if n != ENTRIES.len() {
        return None;
    }
    let offs: Option<Vec<u32>> = (1..=n).map(word).collect();
    let offs = offs?;
    offs.iter()
        .all(|&o| (o as usize) >= 4 * (n + 1) && (o as usize) < blob.len())
        .then_some(offs)
}

/// Little-endian writer of an ELF image of class 32 or 64.
struct Out {
    b: Vec<u8>,
    class64: bool,
}

// Not inlined: the image is built once, and a hundred inlined pushes cost
// ROM.
impl Out {
    #[inline(never)]
    fn u8(&mut self, v: u8) {
        self.b.push(v);
    }
    #[inline(never)]
    fn u16(&mut self, v: u16) {
        self.b.extend_from_slice(&v.to_le_bytes());
    }
    #[inline(never)]
    fn u32(&mut self, v: u32) {
        self.b.extend_from_slice(&v.to_le_bytes());
    }
    /// An address or size: 8 bytes in ELF64, 4 in ELF32.
    #[inline(never)]
    fn word(&mut self, v: u64) {
        if self.class64 {
            self.b.extend_from_slice(&v.to_le_bytes());
        } else {
            self.u32(v as u32);
        }
    }
    fn align(&mut self, a: usize) {
        while !self.b.len().is_multiple_of(a) {
            self.b.push(0);
        }
    }
}

/// Builds the vDSO image: an ELF shared object linked at 0 whose one PT_LOAD
/// is the whole image (r-x), with `text` at [`TEXT_OFFSET`] and the symbols
/// `names[i]` at `TEXT_OFFSET + offs[i]`, version `version`. `None` if the
/// tables do not fit below the text.
pub fn build_image(
    t: Target,
    text: &[u8],
    names: &[&str],
    offs: &[u32],
    version: &str,
) -> Option<Vec<u8>> {
    const PT_LOAD: u32 = 1;
    const PT_DYNAMIC: u32 = 2;
    const PF_X: u32 = 1;
    const PF_R: u32 = 4;
    const DT_NULL: u64 = 0;
    const DT_HASH: u64 = 4;
    const DT_STRTAB: u64 = 5;
    const DT_SYMTAB: u64 = 6;
    const DT_STRSZ: u64 = 10;
    const DT_SYMENT: u64 = 11;
    const DT_SONAME: u64 = 14;
    const DT_VERSYM: u64 = 0x6fff_fff0;
    const DT_VERDEF: u64 = 0x6fff_fffc;
    const DT_VERDEFNUM: u64 = 0x6fff_fffd;
    const VER_FLG_BASE: u16 = 1;

    if names.len() != offs.len() {
        return None;
    }
    let (ehsize, phsize, symsize, dynsize) = if t.class64 {
        (64usize, 56usize, 24usize, 16usize)
    } else {
        (52, 32, 16, 8)
    };
    let nsyms = names.len() + 1;
    let nphdr = 2;

    // String table: "", soname, version, names.
    let mut strtab: Vec<u8> = alloc::vec![0];
    let mut add_str = |s: &str| {
        let at = strtab.len() as u32;
        strtab.extend_from_slice(s.as_bytes());
        strtab.push(0);
        at
    };
    let soname_at = add_str(SONAME);
    let version_at = add_str(version);
    let name_at: Vec<u32> = names.iter().map(|n| add_str(n)).collect();

    // Layout: ehdr, phdrs, dynamic, dynsym, hash, versym, verdef, strtab.
    let ndyn = 10;
    let phoff = ehsize;
    let dyn_off = phoff + nphdr * phsize;
    let sym_off = dyn_off + ndyn * dynsize;
    let hash_off = sym_off + nsyms * symsize;
    let nbucket = nsyms;
    let hash_len = 4 * (2 + nbucket + nsyms);
    let versym_off = hash_off + hash_len;
    let verdef_off = (versym_off + 2 * nsyms + 3) & !3;
    let verdef_len = 2 * 28;
    let str_off = verdef_off + verdef_len;
    // Section headers too: some parsers (dietlibc's) find .dynsym, .dynstr
    // and a symbol's section through them, not through the dynamic section.
    let shstrtab: &[u8] =
        b"\0.text\0.dynsym\0.dynstr\0.hash\0.gnu.version\0.gnu.version_d\0.dynamic\0.shstrtab\0";
    let name = |n: &str| -> u32 {
        let pos = shstrtab
            .windows(n.len() + 2)
            .position(|w| w[0] == 0 && &w[1..=n.len()] == n.as_bytes() && w[n.len() + 1] == 0);
        pos.map_or(0, |p| p as u32 + 1)
    };
    let shstr_off = str_off + strtab.len();
    let shentsize = if t.class64 { 64 } else { 40 };
    let shoff = (shstr_off + shstrtab.len() + 7) & !7;
    let nsect = 9;
    if shoff + nsect * shentsize > TEXT_OFFSET {
        return None;
    }
    let total = TEXT_OFFSET + text.len();

    let mut o = Out {
        b: Vec::with_capacity(total),
        class64: t.class64,
    };
    // ELF header.
    o.b.extend_from_slice(b"\x7fELF");
    o.u8(if t.class64 { 2 } else { 1 });
    o.u8(1); // little-endian
    o.u8(1); // EV_CURRENT
    o.b.extend_from_slice(&[0; 9]);
    o.u16(umbra_abi::elf::ET_DYN);
    o.u16(t.machine);
    o.u32(1);
    o.word(0); // e_entry
    o.word(phoff as u64);
    o.word(shoff as u64);
    o.u32(t.flags);
    o.u16(ehsize as u16);
    o.u16(phsize as u16);
    o.u16(nphdr as u16);
    o.u16(shentsize as u16);
    o.u16(nsect as u16);
    o.u16(nsect as u16 - 1); // .shstrtab, the last
                             // Program headers.
    let phdr = |o: &mut Out, ty: u32, flags: u32, off: u64, len: u64, align: u64| {
        o.u32(ty);
        if o.class64 {
            o.u32(flags);
        }
        o.word(off);
        o.word(off);
        o.word(off);
        o.word(len);
        o.word(len);
        if !o.class64 {
            o.u32(flags);
        }
        o.word(align);
    };
    phdr(
        &mut o,
        PT_LOAD,
        PF_R | PF_X,
        0,
        total as u64,
        PAGE_SIZE as u64,
    );
    let dyn_len = (ndyn * dynsize) as u64;
    phdr(&mut o, PT_DYNAMIC, PF_R, dyn_off as u64, dyn_len, 8);
    // Dynamic section.
    for (tag, val) in [
        (DT_HASH, hash_off as u64),
        (DT_STRTAB, str_off as u64),
        (DT_SYMTAB, sym_off as u64),
        (DT_STRSZ, strtab.len() as u64),
        (DT_SYMENT, symsize as u64),
        (DT_SONAME, u64::from(soname_at)),
        (DT_VERSYM, versym_off as u64),
        (DT_VERDEF, verdef_off as u64),
        (DT_VERDEFNUM, 2),
        (DT_NULL, 0),
    ] {
        o.word(tag);
        o.word(val);
    }
    // Symbols: the null one, then one global function per entry.
    o.b.resize(o.b.len() + symsize, 0);
    for (i, &at) in name_at.iter().enumerate() {
        let value = (TEXT_OFFSET + offs[i] as usize) as u64;
        let size = offs
            .iter()
            .filter(|&&x| x > offs[i])
            .min()
            .map_or(text.len() as u32, |&x| x)
            .saturating_sub(offs[i]);
        o.u32(at);
        if t.class64 {
            o.u8(0x12); // STB_GLOBAL, STT_FUNC
            o.u8(0);
            o.u16(SHNDX_TEXT);
            o.word(value);
            o.word(u64::from(size));
        } else {
            o.word(value);
            o.word(u64::from(size));
            o.u8(0x12);
            o.u8(0);
            o.u16(SHNDX_TEXT);
        }
    }
    // DT_HASH.
    let mut bucket = alloc::vec![0u32; nbucket];
    let mut chain = alloc::vec![0u32; nsyms];
    for (i, n) in names.iter().enumerate() {
        let b = elf_hash(n.as_bytes()) as usize % nbucket;
        chain[i + 1] = bucket[b];
        bucket[b] = (i + 1) as u32;
    }
    o.u32(nbucket as u32);
    o.u32(nsyms as u32);
    bucket.iter().chain(chain.iter()).for_each(|&w| o.u32(w));
    // Versions: the null symbol is local (0), the others are version 2.
    o.u16(0);
    (1..nsyms).for_each(|_| o.u16(2));
    o.align(4);
    // Verdef: 1 = the base (the soname), 2 = `version`.
    for (ndx, flags, name_off, name) in [
        (1u16, VER_FLG_BASE, soname_at, SONAME),
        (2, 0, version_at, version),
    ] {
        o.u16(1); // vd_version
        o.u16(flags);
        o.u16(ndx);
        o.u16(1); // vd_cnt
        o.u32(elf_hash(name.as_bytes()));
        o.u32(20); // vd_aux
        o.u32(if ndx == 1 { 28 } else { 0 }); // vd_next
        o.u32(name_off); // vda_name
        o.u32(0); // vda_next
    }
    o.b.extend_from_slice(&strtab);
    o.b.extend_from_slice(shstrtab);
    o.align(8);
    // Section headers: name, type, flags, address = offset, size, link,
    // info, alignment, entry size. Index 1 is .text ([`SHNDX_TEXT`]).
    const ALLOC: u64 = 2;
    let w = if t.class64 { 8 } else { 4 };
    type Section<'a> = (&'a str, u32, u64, usize, usize, u32, u32, u64, usize);
    let sects: [Section<'_>; 9] = [
        ("", 0, 0, 0, 0, 0, 0, 0, 0),
        (".text", 1, ALLOC | 4, TEXT_OFFSET, text.len(), 0, 0, 16, 0),
        (
            ".dynsym",
            11,
            ALLOC,
            sym_off,
            nsyms * symsize,
            3,
            1,
            w,
            symsize,
        ),
        (".dynstr", 3, ALLOC, str_off, strtab.len(), 0, 0, 1, 0),
        (".hash", 5, ALLOC, hash_off, hash_len, 2, 0, 4, 4),
        (
            ".gnu.version",
            0x6fff_ffff,
            ALLOC,
            versym_off,
            2 * nsyms,
            2,
            0,
            2,
            2,
        ),
        (
            ".gnu.version_d",
            0x6fff_fffd,
            ALLOC,
            verdef_off,
            verdef_len,
            3,
            2,
            4,
            0,
        ),
        (
            ".dynamic",
            6,
            ALLOC,
            dyn_off,
            ndyn * dynsize,
            3,
            0,
            w,
            dynsize,
        ),
        (".shstrtab", 3, 0, shstr_off, shstrtab.len(), 0, 0, 1, 0),
    ];
    for (n, ty, flags, off, size, link, info, align, entsize) in sects {
        o.u32(if n.is_empty() { 0 } else { name(n) });
        o.u32(ty);
        o.word(flags);
        o.word(if flags & ALLOC != 0 { off as u64 } else { 0 });
        o.word(off as u64);
        o.word(size as u64);
        o.u32(link);
        o.u32(info);
        o.word(align);
        o.word(entsize as u64);
    }
    o.b.resize(TEXT_OFFSET, 0);
    o.b.extend_from_slice(text);
    Some(o.b)
}

/// The guest clock: the anchor the time page publishes and the counter's
/// calibration. Pure logic, so unit tests can drive it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// The first calibration sample: (counter, guest monotonic ns).
    first: Option<(u64, u64)>,
    /// The baseline `rate` was measured over, ns.
    rate_base: u64,
    /// ns per counter unit, times 2^32, measured; 0 until calibrated.
    rate: u64,
    /// What the formula uses: `rate`, slowed while the clock leads the host's;
    /// 0 = no counter (the vDSO takes the syscall).
    pub mult: u64,
    /// The counter at the anchor.
    pub cycle_last: u64,
    /// Guest CLOCK_MONOTONIC at the anchor, ns.
    pub mono: u64,
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, ns (wrapping).
    pub real_off: u64,
    /// How far the guest clock led the host's at the anchor, ns: sleeps add
    /// it to their host deadline, so the guest never sees one end early.
    pub lead: u64,
}

/// The shortest baseline the counter is calibrated over.
pub const CALIB_MIN_NS: u64 = 10_000_000;
/// The most the clock is slowed while it leads the host's, in ppm.
const SLEW_MAX_PPM: u64 = 500;

impl Clock {
    /// The formula's value at counter `c`.
    pub fn at(&self, c: u64) -> u64 {
        let d = c.saturating_sub(self.cycle_last);
        let ns = (u128::from(d) * u128::from(self.mult)) >> 32;
        self.mono
            .saturating_add(ns.min(u128::from(u64::MAX)) as u64)
    }

    /// Re-anchors at counter `c` (None: no counter the guest can read) with
    /// the host's monotonic time `floor` (ns since boot) and `sample`, an
    /// estimate of the host's time at the moment `c` was read (`Some` when
    /// the reads were close enough together to calibrate with). Returns the
    /// guest's monotonic time, which never decreases.
    pub fn sync(&mut self, c: Option<u64>, floor: u64, sample: Option<u64>) -> u64 {
        let Some(c) = c else {
            self.mult = 0;
            self.mono = self.mono.max(floor);
            self.lead = self.mono - floor;
            return self.mono;
        };
        let v = if self.mult != 0 {
            self.at(c)
        } else {
            self.mono
        };
        let now = v.max(floor);
        if let Some(h) = sample {
            match self.first {
                None => self.first = Some((c, h)),
                Some((c0, h0)) => {
                    let span = h.saturating_sub(h0);
                    if span >= CALIB_MIN_NS && span >= self.rate_base.saturating_mul(2) && c > c0 {
                        let r = (u128::from(span) << 32) / u128::from(c - c0);
                        if let Ok(r) = u64::try_from(r) {
                            if r != 0 {
                                self.rate = r;
                                self.rate_base = span;
                            }
                        }
                    }
                }
            }
        }
        let ahead = now - floor;
        self.lead = ahead;
        let slow =
            u128::from(self.rate) * u128::from(ahead.min(SLEW_MAX_PPM * 1000)) / 1_000_000_000;
        self.mult = self.rate - slow as u64;
        self.cycle_last = c;
        self.mono = now;
        now
    }

    /// The time page's contents (without the sequence word).
    pub fn page(&self) -> [u8; vvar::LEN] {
        let mut p = [0u8; vvar::LEN];
        p[vvar::MODE..vvar::MODE + 4].copy_from_slice(&u32::from(self.mult != 0).to_le_bytes());
        const NS: u64 = 1_000_000_000;
        let real = self.mono.wrapping_add(self.real_off);
        for (at, v) in [
            (vvar::CYCLE_LAST, self.cycle_last),
            (vvar::MULT, self.mult),
            (vvar::MONO, self.mono),
            (vvar::REAL_OFF, self.real_off),
            (vvar::MONO_SEC, self.mono / NS),
            (vvar::REAL_SEC, real / NS),
        ] {
            p[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        for (at, v) in [
            (vvar::MONO_NSEC, self.mono % NS),
            (vvar::REAL_NSEC, real % NS),
        ] {
            p[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
        }
        p
    }
}

/// The vDSO and time page, made once and mapped into every address space.
pub struct Vdso {
    vvar: Arc<SharedMem>,
    vvar_phys: u64,
    image: Arc<SharedMem>,
    image_len: u64,
    seq: u32,
}

impl Vdso {
    /// Builds the vDSO from the host's code; `None` if the host has none or it
    /// is malformed, or memory is short (guests then run without a vDSO).
    pub fn new<H: Host>(frames: &mut FrameAllocator, host: &mut H) -> Option<Vdso> {
        let blob = host.vdso_text()?;
        let offs = parse_blob(blob)?;
        let img = build_image(TARGET, blob, ENTRIES, &offs, VERSION)?;
        let image_len = crate::mm::page_ceil(img.len() as u64)?;
        let image = SharedMem::new(frames, image_len);
        for (i, chunk) in img.chunks(PAGE_SIZE).enumerate() {
            let f = image.frame(frames, host, i as u64)?;
            let at = f.phys() as usize;
            host.physmem_mut()
                .get_mut(at..at + chunk.len())?
                .copy_from_slice(chunk);
        }
        let vvar = SharedMem::new(frames, PAGE_SIZE as u64);
        let vvar_phys = vvar.frame(frames, host, 0)?.phys();
        Some(Vdso {
            vvar,
            vvar_phys,
            image,
            image_len,
            seq: 0,
        })
    }

    /// Maps the time page and the vDSO into `mm`; returns the vDSO's address
    /// (AT_SYSINFO_EHDR).
    pub fn map(&self, mm: &mut AddressSpace) -> u64 {
        let base = VVAR_ADDR + PAGE_SIZE as u64;
        mm.vmas.remove(VVAR_ADDR, base + self.image_len);
        mm.vmas.insert(Vma {
            start: VVAR_ADDR,
            end: base,
            prot: Prot::READ,
            kind: VmaKind::Shared {
                obj: self.vvar.clone(),
                offset: 0,
            },
            name: VmaName::Vvar,
        });
        mm.vmas.insert(Vma {
            start: base,
            end: base + self.image_len,
            prot: Prot::READ | Prot::EXEC,
            kind: VmaKind::Shared {
                obj: self.image.clone(),
                offset: 0,
            },
            name: VmaName::Vdso,
        });
        base
    }

    /// Publishes `clock` in the time page.
    pub fn publish<H: Host>(&mut self, host: &mut H, clock: &Clock) {
        let at = self.vvar_phys as usize;
        let Some(page) = host.physmem_mut().get_mut(at..at + vvar::LEN) else {
            return;
        };
        // No guest runs while the kernel does (one CPU), but the page keeps
        // Linux's seqlock discipline: odd while it changes.
        self.seq = self.seq.wrapping_add(1) | 1;
        page[..4].copy_from_slice(&self.seq.to_le_bytes());
        page[4..].copy_from_slice(&clock.page()[4..]);
        self.seq = self.seq.wrapping_add(1);
        page[..4].copy_from_slice(&self.seq.to_le_bytes());
    }
}

#[cfg(test)]
mod tests;
