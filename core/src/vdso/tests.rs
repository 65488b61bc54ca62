//! The vDSO image parsed as musl's `__vdsosym` does (DT_HASH, versym,
//! verdef), and the guest clock's guarantees.

use super::*;
use alloc::string::String;

/// A little-endian reader of an ELF image of either class.
struct Img<'a> {
    b: &'a [u8],
    c64: bool,
}

impl Img<'_> {
    fn u16(&self, at: usize) -> u64 {
        u64::from(u16::from_le_bytes([self.b[at], self.b[at + 1]]))
    }
    fn u32(&self, at: usize) -> u64 {
        u64::from(u32::from_le_bytes(self.b[at..at + 4].try_into().unwrap()))
    }
    fn word(&self, at: usize) -> u64 {
        if self.c64 {
            u64::from_le_bytes(self.b[at..at + 8].try_into().unwrap())
        } else {
            self.u32(at)
        }
    }
    fn cstr(&self, at: usize) -> String {
        let end = self.b[at..].iter().position(|&c| c == 0).unwrap();
        String::from_utf8(self.b[at..at + end].to_vec()).unwrap()
    }

    /// Looks `name@version` up as musl's vdso.c does; returns st_value.
    fn lookup(&self, name: &str, version: &str) -> Option<u64> {
        let w = if self.c64 { 8 } else { 4 };
        let phoff = self.word(if self.c64 { 32 } else { 28 }) as usize;
        let phent = self.u16(if self.c64 { 54 } else { 42 }) as usize;
        let phnum = self.u16(if self.c64 { 56 } else { 44 }) as usize;
        let (mut base, mut dynv) = (None, None);
        for i in 0..phnum {
            let ph = phoff + i * phent;
            let ty = self.u32(ph);
            let (off, va) = if self.c64 {
                (self.word(ph + 8), self.word(ph + 16))
            } else {
                (self.word(ph + 4), self.word(ph + 8))
            };
            match ty {
                1 => base = Some(off.wrapping_sub(va)),
                2 => dynv = Some(off as usize),
                _ => {}
            }
        }
        let (base, mut d) = (base?, dynv?);
        let (mut strtab, mut symtab, mut hash, mut versym, mut verdef) = (0, 0, 0, 0, 0);
        loop {
            let (tag, val) = (self.word(d), self.word(d + w));
            let at = base.wrapping_add(val) as usize;
            match tag {
                0 => break,
                4 => hash = at,
                5 => strtab = at,
                6 => symtab = at,
                0x6fff_fff0 => versym = at,
                0x6fff_fffc => verdef = at,
                _ => {}
            }
            d += 2 * w;
        }
        assert!(strtab != 0 && symtab != 0 && hash != 0 && versym != 0 && verdef != 0);
        let nsyms = self.u32(hash + 4) as usize;
        let symsize = if self.c64 { 24 } else { 16 };
        for i in 0..nsyms {
            let s = symtab + i * symsize;
            let (info, shndx, value) = if self.c64 {
                (self.b[s + 4], self.u16(s + 6), self.word(s + 8))
            } else {
                (self.b[s + 12], self.u16(s + 14), self.word(s + 4))
            };
            if (1u32 << (info & 0xf)) & 0b1_0111 == 0 || (1u32 << (info >> 4)) & 0b100_0110 == 0 {
                continue;
            }
            if shndx == 0 || self.cstr(strtab + self.u32(s) as usize) != name {
                continue;
            }
            // checkver
            let vsym = self.u16(versym + 2 * i) & 0x7fff;
            let mut def = verdef;
            loop {
                if self.u16(def + 2) & 1 == 0 && self.u16(def + 4) & 0x7fff == vsym {
                    break;
                }
                let next = self.u32(def + 16) as usize;
                assert!(next != 0, "no version {vsym}");
                def += next;
            }
            let aux = def + self.u32(def + 12) as usize;
            if self.cstr(strtab + self.u32(aux) as usize) != version {
                continue;
            }
            return Some(base.wrapping_add(value));
        }
        None
    }

    /// Walks the DT_HASH chain of `name` as glibc does; returns the symbol index.
    fn hash_lookup(&self, name: &str) -> Option<usize> {
        let w = if self.c64 { 8 } else { 4 };
        let mut d = self.dynamic();
        let (mut hash, mut strtab, mut symtab) = (0, 0, 0);
        while self.word(d) != 0 {
            match self.word(d) {
                4 => hash = self.word(d + w) as usize,
                5 => strtab = self.word(d + w) as usize,
                6 => symtab = self.word(d + w) as usize,
                _ => {}
            }
            d += 2 * w;
        }
        let nbucket = self.u32(hash) as usize;
        let nchain = self.u32(hash + 4) as usize;
        let symsize = if self.c64 { 24 } else { 16 };
        let mut i =
            self.u32(hash + 8 + 4 * (elf_hash(name.as_bytes()) as usize % nbucket)) as usize;
        while i != 0 {
            if self.cstr(strtab + self.u32(symtab + i * symsize) as usize) == name {
                return Some(i);
            }
            i = self.u32(hash + 8 + 4 * nbucket + 4 * i) as usize;
            assert!(i < nchain);
        }
        None
    }

    fn dynamic(&self) -> usize {
        let phoff = self.word(if self.c64 { 32 } else { 28 }) as usize;
        let phent = if self.c64 { 56 } else { 32 };
        (0..2)
            .map(|i| phoff + i * phent)
            .find(|&ph| self.u32(ph) == 2)
            .map(|ph| self.word(ph + if self.c64 { 8 } else { 4 }) as usize)
            .unwrap()
    }
}

fn image(class64: bool) -> Vec<u8> {
    let t = Target {
        class64,
        machine: if class64 { 62 } else { 40 },
        flags: 0,
    };
    let text = [0xccu8; 100];
    build_image(
        t,
        &text,
        &["f_one", "f_two", "f_three"],
        &[0, 40, 70],
        "LINUX_2.6",
    )
    .unwrap()
}

#[test]
fn image_symbols_resolve_as_musl_and_glibc_look_them_up() {
    for c64 in [true, false] {
        let b = image(c64);
        let img = Img { b: &b, c64 };
        assert_eq!(&b[..4], b"\x7fELF");
        assert_eq!(b.len(), TEXT_OFFSET + 100);
        let t = TEXT_OFFSET as u64;
        assert_eq!(img.lookup("f_one", "LINUX_2.6"), Some(t));
        assert_eq!(img.lookup("f_two", "LINUX_2.6"), Some(t + 40));
        assert_eq!(img.lookup("f_three", "LINUX_2.6"), Some(t + 70));
        assert_eq!(img.lookup("f_two", "LINUX_2.6.39"), None);
        assert_eq!(img.lookup("f_four", "LINUX_2.6"), None);
        for (i, n) in ["f_one", "f_two", "f_three"].iter().enumerate() {
            assert_eq!(img.hash_lookup(n), Some(i + 1));
        }
        assert_eq!(img.hash_lookup("nope"), None);
    }
}

#[test]
fn the_hosts_blob_table_is_checked() {
    let n = ENTRIES.len();
    let mut blob = Vec::new();
    blob.extend_from_slice(&(n as u32).to_le_bytes());
    for i in 0..n {
        blob.extend_from_slice(&((4 * (n + 1) + i) as u32).to_le_bytes());
    }
    blob.extend_from_slice(&[0xc3; 16]);
    assert_eq!(parse_blob(&blob).unwrap().len(), n);
    assert!(parse_blob(&blob[..4 * n]).is_none());
    let mut bad = blob.clone();
    bad[4..8].copy_from_slice(&1000u32.to_le_bytes());
    assert!(parse_blob(&bad).is_none());
    bad[..4].copy_from_slice(&((n + 1) as u32).to_le_bytes());
    assert!(parse_blob(&bad).is_none());
}

#[test]
fn elf_hash_matches_known_values() {
    // Values from binutils (readelf --version-info on Linux's vdso).
    assert_eq!(elf_hash(b"LINUX_2.6"), 0x3ae75f6);
    assert_eq!(elf_hash(b""), 0);
}

/// A counter at 3 GHz, and a host clock that runs `ppm` fast relative to it.
#[test]
fn clock_never_goes_back_never_lags_the_host_and_calibrates() {
    for ppm in [-300i64, 0, 300] {
        let mut clk = Clock::default();
        let mut last = 0;
        let mut t: u64 = 0; // true ns
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            t += seed % 200_000;
            let c = t * 3;
            let host = (t as i128 + t as i128 * ppm as i128 / 1_000_000) as u64;
            // A read of the formula (the vDSO) just before the sync.
            if clk.mult != 0 {
                let v = clk.at(c);
                assert!(v >= last);
                last = v;
            }
            let m = clk.sync(Some(c), host, Some(host));
            assert!(m >= last, "went back");
            assert!(m >= host, "behind the host");
            assert_eq!(clk.lead, m - host);
            last = m;
        }
        // 20,000 steps of up to 0.2 ms: about 2 s; the guest keeps within
        // 100 us of the host.
        let host = (t as i128 + t as i128 * ppm as i128 / 1_000_000) as u64;
        assert!(
            last - host < 100_000,
            "lead {} ns at {ppm} ppm",
            last - host
        );
        assert!(clk.mult != 0);
    }
}

#[test]
fn clock_without_counter_follows_the_host_and_stays_monotonic() {
    let mut clk = Clock::default();
    assert_eq!(clk.sync(None, 100, None), 100);
    assert_eq!(clk.sync(None, 50, None), 100);
    assert_eq!(clk.sync(None, 150, None), 150);
    assert_eq!(clk.mult, 0);
    assert_eq!(clk.page()[vvar::MODE], 0);
}

/// dietlibc's lookup: the first allocated SHT_STRTAB is .dynstr, the
/// SHT_DYNSYM sections hold the symbols, and a symbol's address is
/// `sh_offset + st_value - sh_addr` of its section (st_shndx).
#[test]
fn image_symbols_resolve_through_section_headers() {
    for c64 in [true, false] {
        let b = image(c64);
        let img = Img { b: &b, c64 };
        let (shoff, shent, shnum) = if c64 {
            (
                img.word(40) as usize,
                img.u16(58) as usize,
                img.u16(60) as usize,
            )
        } else {
            (
                img.word(32) as usize,
                img.u16(46) as usize,
                img.u16(48) as usize,
            )
        };
        assert_eq!(shnum, 9);
        let w = if c64 { 8 } else { 4 };
        // (type, flags, addr, offset, size, entsize)
        let sh = |i: usize| {
            let s = shoff + i * shent;
            let ty = img.u32(s + 4);
            let flags = img.word(s + 8);
            let addr = img.word(s + 8 + w);
            let off = img.word(s + 8 + 2 * w);
            let size = img.word(s + 8 + 3 * w);
            let ent = img.word(s + 16 + 5 * w);
            (ty, flags, addr, off, size, ent)
        };
        let strtab = (0..shnum)
            .map(sh)
            .find(|s| s.0 == 3 && s.1 & 2 != 0)
            .unwrap()
            .3 as usize;
        let dynsym = (0..shnum).map(sh).find(|s| s.0 == 11).unwrap();
        let mut found = 0;
        for i in 0..(dynsym.4 / dynsym.5) as usize {
            let s = dynsym.3 as usize + i * dynsym.5 as usize;
            let (shndx, value) = if c64 {
                (img.u16(s + 6), img.word(s + 8))
            } else {
                (img.u16(s + 14), img.word(s + 4))
            };
            if img.cstr(strtab + img.u32(s) as usize) == "f_two" {
                let sec = sh(shndx as usize);
                assert_eq!(sec.3 + value - sec.2, TEXT_OFFSET as u64 + 40);
                found += 1;
            }
        }
        assert_eq!(found, 1);
        // The section names.
        let shstr = sh(shnum - 1).3 as usize;
        assert_eq!(img.cstr(shstr + img.u32(shoff + shent) as usize), ".text");
    }
}
