//! Tests of the ELF loader and the initial stack on MockHost, with a minimal
//! executable written by `testing::tiny_elf` (no binary fixture): where the
//! segments land and what they hold, every kind of malformed header refused
//! with an `ElfError`, random mutations that must never panic, and the stack
//! decoded back through `AddressSpace::read`.

use super::elf::{self, load_elf, ElfError, LoadedImage};
use super::stack::{build_stack, StackArgs, MAX_ARG_BYTES};
use crate::arch;
use crate::mm::{AddressSpace, Backing, FrameAllocator};
use crate::testing::{tiny, tiny_elf32, tiny_elf64, MockHost, VecBacking};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use umbra_abi::auxv::*;
use umbra_abi::elf::*;
use umbra_abi::flags::Prot;
use umbra_abi::{Errno, Pod};

const PAGE: u64 = 4096;

/// The machine of the ELF64 tests: the host's on 64-bit hosts; on 32-bit ARM
/// (whose own executables are ELF32, tested below) arm64's, loaded through
/// `parse_for`.
const MACHINE64: u16 = if arch::ELF_CLASS == ELFCLASS64 {
    arch::ELF_MACHINE
} else {
    EM_AARCH64
};

/// The tiny ELF64 executable of [`MACHINE64`].
fn tiny_elf(e_type: u16) -> Vec<u8> {
    tiny_elf64(e_type, MACHINE64)
}

fn parse(file: &dyn Backing) -> Result<(Elf64Ehdr, Vec<Elf64Phdr>), ElfError> {
    elf::parse_for(file, ELFCLASS64, MACHINE64)
}

struct Env {
    host: MockHost,
    frames: FrameAllocator,
    mm: AddressSpace,
}

fn env() -> Env {
    let mut host = MockHost::new(512 * PAGE as usize);
    let mm = AddressSpace::new(&mut host).unwrap();
    Env {
        host,
        frames: FrameAllocator::new(512),
        mm,
    }
}

impl Env {
    fn load(&mut self, bytes: Vec<u8>) -> Result<LoadedImage, ElfError> {
        let file: Arc<dyn Backing> = Arc::new(VecBacking(bytes));
        if arch::ELF_CLASS == ELFCLASS64 {
            return load_elf(&mut self.mm, &mut self.frames, file);
        }
        let parsed = parse(&*file)?;
        elf::load_parsed(&mut self.mm, &mut self.frames, file, parsed)
    }
    fn read(&mut self, va: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; len];
        self.mm
            .read(&mut self.frames, &mut self.host, va, &mut buf)
            .map(|()| buf)
    }
    #[cfg(target_pointer_width = "64")]
    fn u64_at(&mut self, va: u64) -> u64 {
        u64::from_ne_bytes(self.read(va, 8).unwrap().try_into().unwrap())
    }
    fn cstr(&mut self, va: u64) -> Vec<u8> {
        self.mm
            .read_cstr(&mut self.frames, &mut self.host, va, 4096)
            .unwrap()
    }
}

/// Offsets of fields in the ELF header and of program header `i`.
const E_TYPE: usize = 16;
const E_MACHINE: usize = 18;
const E_PHOFF: usize = 32;
const E_PHENTSIZE: usize = 54;
const E_PHNUM: usize = 56;
fn ph(i: usize) -> usize {
    64 + i * Elf64Phdr::SIZE
}
const P_TYPE: usize = 0;
const P_OFFSET: usize = 8;
const P_VADDR: usize = 16;
const P_FILESZ: usize = 32;
const P_MEMSZ: usize = 40;

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Index of the data PT_LOAD in `tiny_elf(ET_EXEC)`.
const EXEC_DATA_PH: usize = 1;

fn check_image(e: &mut Env, img: &LoadedImage, base: u64) {
    assert_eq!(img.entry, base + tiny::CODE_OFF);
    assert_eq!(
        img.phdr,
        base + 64,
        "AT_PHDR: the headers in the code segment"
    );
    let data_va = base + tiny::DATA_VADDR_OFF;
    assert_eq!(
        img.end,
        (data_va + tiny::DATA_MEMSZ).next_multiple_of(PAGE),
        "brk starts after the bss"
    );
    assert_eq!((e.mm.brk_start, e.mm.brk), (img.end, img.end));

    // The code segment: the ELF header itself, the code, and zero fill past
    // p_filesz even though the file has bytes there.
    assert_eq!(e.read(base, 4).unwrap(), ELFMAG);
    assert_eq!(e.read(img.entry, 4).unwrap(), tiny::CODE);
    assert_eq!(e.read(base + 0x200, 16).unwrap(), vec![0; 16]);
    let code = e.mm.vmas.find(img.entry).unwrap();
    assert_eq!(code.prot, Prot::READ | Prot::EXEC);
    assert_eq!((code.start, code.end), (base, base + PAGE));

    // The data segment: file bytes up to p_filesz, zeroes (bss) after, in the
    // same page and in the two pages after it.
    assert_eq!(e.read(data_va, 32).unwrap(), tiny::DATA);
    let after = data_va + tiny::DATA.len() as u64;
    assert_eq!(
        e.read(after, 64).unwrap(),
        vec![0; 64],
        "bss past p_filesz in the same page is zero, not the file's trailer"
    );
    let bss_end = data_va + tiny::DATA_MEMSZ;
    assert_eq!(e.read(bss_end - 8, 8).unwrap(), vec![0; 8]);
    let data = e.mm.vmas.find(data_va).unwrap();
    assert_eq!(data.prot, Prot::READ | Prot::WRITE);
    assert_eq!(data.start, data_va & !(PAGE - 1));
    // The bss is writable and keeps what is written.
    e.mm.write(&mut e.frames, &mut e.host, bss_end - 4, b"bss!")
        .unwrap();
    assert_eq!(e.read(bss_end - 4, 4).unwrap(), b"bss!");
    // Nothing mapped between code and data.
    assert_eq!(e.read(base + PAGE, 1), Err(Errno::EFAULT));
}

#[test]
fn loads_et_exec() {
    let mut e = env();
    let img = e.load(tiny_elf(ET_EXEC)).unwrap();
    assert_eq!(img.bias, 0);
    assert_eq!(img.phnum, 3);
    check_image(&mut e, &img, tiny::EXEC_BASE);
}

#[test]
fn loads_static_pie_at_pie_base() {
    let mut e = env();
    let img = e.load(tiny_elf(ET_DYN)).unwrap();
    assert_eq!(img.bias, arch::PIE_BASE);
    assert_eq!(img.phnum, 4);
    check_image(&mut e, &img, arch::PIE_BASE);
}

#[test]
fn loading_allocates_no_frame_until_touched() {
    let mut e = env();
    e.load(tiny_elf(ET_EXEC)).unwrap();
    assert_eq!(e.frames.used(), 0, "segments are populated on demand");
    e.read(tiny::EXEC_BASE + tiny::CODE_OFF, 1).unwrap();
    assert_eq!(e.frames.used(), 1);
}

#[test]
fn parse_accepts_the_tiny_elf() {
    let file = VecBacking(tiny_elf(ET_EXEC));
    let (eh, phdrs) = parse(&file).unwrap();
    assert_eq!(eh.e_type, ET_EXEC);
    assert_eq!(phdrs.len(), 3);
    assert_eq!(phdrs[EXEC_DATA_PH].p_filesz, tiny::DATA.len() as u64);
    if arch::ELF_CLASS == ELFCLASS64 {
        assert_eq!(elf::check(&file), Ok(()));
    }
}

/// The valid executable with `edit` applied, through `load_elf`.
fn load_edited(edit: impl FnOnce(&mut Vec<u8>)) -> Result<LoadedImage, ElfError> {
    let mut b = tiny_elf(ET_EXEC);
    edit(&mut b);
    env().load(b)
}

fn malformed(r: Result<LoadedImage, ElfError>) -> bool {
    matches!(r, Err(ElfError::Malformed(_)))
}

#[test]
fn not_elf() {
    assert_eq!(load_edited(|b| b[0] = 0x7e), Err(ElfError::NotElf));
    assert_eq!(load_edited(|b| b.truncate(3)), Err(ElfError::NotElf));
    assert_eq!(load_edited(|b| b.clear()), Err(ElfError::NotElf));
    assert_eq!(
        env().load(b"#!/bin/sh\necho hi\n".to_vec()),
        Err(ElfError::NotElf)
    );
}

#[test]
fn truncated_header() {
    assert!(malformed(load_edited(|b| b.truncate(40))));
}

#[test]
fn wrong_machine_class_or_endianness() {
    let other = if arch::ELF_MACHINE == EM_X86_64 {
        EM_AARCH64
    } else {
        EM_X86_64
    };
    assert_eq!(
        load_edited(|b| put16(b, E_MACHINE, other)),
        Err(ElfError::WrongArch)
    );
    assert_eq!(
        load_edited(|b| put16(b, E_MACHINE, EM_386)),
        Err(ElfError::WrongArch)
    );
    assert_eq!(load_edited(|b| b[4] = ELFCLASS32), Err(ElfError::WrongArch));
    assert_eq!(load_edited(|b| b[5] = 2), Err(ElfError::WrongArch));
}

#[test]
fn not_an_executable_type() {
    // ET_REL and ET_CORE.
    assert_eq!(
        load_edited(|b| put16(b, E_TYPE, 1)),
        Err(ElfError::NotExecutable)
    );
    assert_eq!(
        load_edited(|b| put16(b, E_TYPE, 4)),
        Err(ElfError::NotExecutable)
    );
}

#[test]
fn bad_program_header_table() {
    assert!(malformed(load_edited(|b| put16(b, E_PHNUM, 0))));
    assert!(malformed(load_edited(|b| put16(b, E_PHNUM, u16::MAX))));
    assert!(malformed(load_edited(|b| put16(b, E_PHNUM, 129))));
    assert!(malformed(load_edited(|b| put16(b, E_PHENTSIZE, 32))));
    // The table runs past the end of the file.
    assert!(malformed(load_edited(|b| b.truncate(ph(2) + 10))));
    assert!(malformed(load_edited(|b| put64(b, E_PHOFF, 0x2000))));
    assert!(malformed(load_edited(|b| put64(b, E_PHOFF, u64::MAX - 8))));
    assert!(malformed(load_edited(|b| put16(b, E_PHNUM, 100))));
}

#[test]
fn no_loadable_segment() {
    assert!(malformed(load_edited(|b| {
        for i in 0..3 {
            put32(b, ph(i) + P_TYPE, PT_NOTE);
        }
    })));
}

#[test]
fn filesz_greater_than_memsz() {
    assert!(malformed(load_edited(|b| {
        put64(b, ph(EXEC_DATA_PH) + P_MEMSZ, 8)
    })));
    assert!(malformed(load_edited(|b| {
        put64(b, ph(EXEC_DATA_PH) + P_FILESZ, tiny::DATA_MEMSZ + 1)
    })));
}

#[test]
fn misaligned_offset_or_vaddr() {
    assert!(malformed(load_edited(|b| {
        put64(b, ph(EXEC_DATA_PH) + P_OFFSET, tiny::DATA_FILE_OFF + 1)
    })));
    assert!(malformed(load_edited(|b| {
        put64(
            b,
            ph(EXEC_DATA_PH) + P_VADDR,
            tiny::EXEC_BASE + tiny::DATA_VADDR_OFF + 8,
        )
    })));
}

#[test]
fn segment_outside_user_space() {
    let d = ph(EXEC_DATA_PH);
    assert!(malformed(load_edited(|b| {
        put64(b, d + P_VADDR, arch::USER_END + 0x10)
    })));
    assert!(malformed(load_edited(|b| {
        put64(b, d + P_VADDR, arch::USER_END - PAGE + 0x10)
    })));
    assert!(malformed(load_edited(|b| put64(b, d + P_VADDR, 0x10))));
    assert!(malformed(load_edited(|b| {
        put64(b, d + P_VADDR, u64::MAX - PAGE + 0x11)
    })));
    assert!(malformed(load_edited(|b| {
        put64(b, d + P_MEMSZ, u64::MAX - 4)
    })));
}

/// The tiny executable with its PT_GNU_STACK turned into a PT_INTERP naming
/// `path` (bytes appended to the file, NUL included if the caller put one).
fn with_interp(path: &[u8]) -> Vec<u8> {
    let mut b = tiny_elf(ET_EXEC);
    let at = b.len() as u64;
    b.extend_from_slice(path);
    put32(&mut b, ph(2) + P_TYPE, PT_INTERP);
    put64(&mut b, ph(2) + P_OFFSET, at);
    put64(&mut b, ph(2) + P_FILESZ, path.len() as u64);
    b
}

fn interp_of(b: Vec<u8>) -> Result<Option<Vec<u8>>, ElfError> {
    let file = VecBacking(b);
    let (_, phdrs) = parse(&file)?;
    elf::interp_path(&file, &phdrs)
}

#[test]
fn pt_interp_path_is_read_and_checked() {
    assert_eq!(interp_of(tiny_elf(ET_EXEC)), Ok(None));
    assert_eq!(
        interp_of(with_interp(b"/lib/ld.so\0")),
        Ok(Some(b"/lib/ld.so".to_vec()))
    );
    // Linux opens the C string: whatever follows a NUL is ignored.
    assert_eq!(
        interp_of(with_interp(b"/a\0junk\0")),
        Ok(Some(b"/a".to_vec()))
    );
    let bad = Err(ElfError::BadInterpPath);
    assert_eq!(interp_of(with_interp(b"/lib/ld.so")), bad, "no NUL");
    assert_eq!(interp_of(with_interp(b"\0")), bad, "shorter than 2");
    assert_eq!(
        interp_of(with_interp(&[b'a'; 5000])),
        bad,
        "longer than PATH_MAX"
    );
    let mut b = with_interp(b"/lib/ld.so\0");
    put64(&mut b, ph(2) + P_OFFSET, 1 << 40);
    assert_eq!(interp_of(b), Err(ElfError::Io(Errno::EIO)), "past the end");
    assert_eq!(Errno::from(ElfError::BadInterpPath), Errno::ENOEXEC);
    assert_eq!(Errno::from(ElfError::BadInterp("x")), Errno::ELIBBAD);
    // The program itself still loads: its interpreter is the kernel's business.
    assert!(env().load(with_interp(b"/lib/ld.so\0")).is_ok());
}

/// Bad interpreters, as Linux's binfmt_elf sorts them: EIO for a file shorter
/// than an ELF header, ELIBBAD for everything else wrong with the headers.
#[cfg(target_pointer_width = "64")]
#[test]
fn bad_interpreters_are_eio_or_elibbad() {
    let pi = |b: Vec<u8>| {
        elf::parse_interp(&VecBacking(b))
            .map(|_| ())
            .map_err(Errno::from)
    };
    assert_eq!(pi(tiny_elf(ET_DYN)), Ok(()));
    assert_eq!(pi(tiny_elf(ET_EXEC)), Ok(()));
    // Its own PT_INTERP is ignored (klibc's library names itself).
    assert_eq!(pi(with_interp(b"/lib/klibc.so\0")), Ok(()));
    assert_eq!(pi(b"#!/bin/sh\n".to_vec()), Err(Errno::EIO));
    assert_eq!(pi(Vec::new()), Err(Errno::EIO));
    assert_eq!(pi(vec![b'x'; 200]), Err(Errno::ELIBBAD));
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = tiny_elf(ET_DYN);
        f(&mut b);
        pi(b)
    };
    assert_eq!(
        edit(&|b| put16(b, E_MACHINE, 2 /* EM_SPARC */)),
        Err(Errno::ELIBBAD)
    );
    assert_eq!(edit(&|b| b[4] = ELFCLASS32), Err(Errno::ELIBBAD));
    assert_eq!(edit(&|b| put16(b, E_PHENTSIZE, 7)), Err(Errno::ELIBBAD));
    assert_eq!(edit(&|b| put16(b, E_PHNUM, 0)), Err(Errno::ELIBBAD));
    assert_eq!(edit(&|b| put64(b, E_PHOFF, 1 << 40)), Err(Errno::ELIBBAD));
    assert_eq!(
        edit(&|b| put16(b, E_TYPE, 1 /* ET_REL */)),
        Err(Errno::ELIBBAD)
    );
}

fn load_interp(e: &mut Env, b: Vec<u8>) -> Result<LoadedImage, ElfError> {
    let file: Arc<dyn Backing> = Arc::new(VecBacking(b));
    let parsed = parse(&*file)?;
    elf::load_image(
        &mut e.mm,
        &mut e.frames,
        file,
        parsed,
        elf::LoadBase::Interp,
    )
}

#[test]
fn interpreter_goes_below_the_mmap_base() {
    let mut e = env();
    let prog = e.load(tiny_elf(ET_DYN)).unwrap();
    let brk = (e.mm.brk_start, e.mm.brk);
    let i = load_interp(&mut e, tiny_elf(ET_DYN)).unwrap();
    assert_eq!(
        (e.mm.brk_start, e.mm.brk),
        brk,
        "the break stays the program's"
    );
    assert_eq!(i.bias % PAGE, 0);
    assert!(i.bias > prog.end && i.end <= arch::MMAP_BASE);
    assert_eq!(
        i.end,
        arch::MMAP_BASE,
        "the highest free gap, as Linux's mmap"
    );
    assert_eq!(i.entry, i.bias + tiny::CODE_OFF);
    assert_eq!(e.read(i.entry, 4).unwrap(), tiny::CODE);
    assert_eq!(e.read(prog.entry, 4).unwrap(), tiny::CODE);
    // A second one (ld.so loading a library is mmap's job, but the kernel's
    // placement must not clobber what is there either) goes below.
    let j = load_interp(&mut e, tiny_elf(ET_DYN)).unwrap();
    assert!(j.end <= i.bias);
    // An ET_EXEC interpreter goes where its addresses say.
    let mut e = env();
    let x = load_interp(&mut e, tiny_elf(ET_EXEC)).unwrap();
    assert_eq!(x.bias, 0);
}

#[test]
fn interpreter_alignment_is_honoured() {
    let mut e = env();
    e.load(tiny_elf(ET_EXEC)).unwrap();
    let mut b = tiny_elf(ET_DYN);
    for i in 1..3 {
        put64(&mut b, ph(i) + 48, 0x10000);
    }
    let i = load_interp(&mut e, b.clone()).unwrap();
    assert_eq!(i.bias % 0x10000, 0);
    // A p_align that is no power of two, or absurd, falls back to pages.
    put64(&mut b, ph(1) + 48, 0x3000);
    put64(&mut b, ph(2) + 48, 1 << 50);
    let j = load_interp(&mut e, b).unwrap();
    assert_eq!(j.bias % PAGE, 0);
}

#[test]
fn random_interpreter_mutations_never_panic() {
    let mut rng = Rng(0x51ed_270b_2718_2818);
    for round in 0..1000 {
        let mut b = tiny_elf(ET_DYN);
        let hdr_end = ph(4) as u64;
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(hdr_end) as usize;
            b[at] = rng.next() as u8;
        }
        let mut e = env();
        e.load(tiny_elf(ET_EXEC)).unwrap();
        if arch::ELF_CLASS == ELFCLASS64 {
            let _ = elf::parse_interp(&VecBacking(b.clone()));
        }
        let _ = interp_of(b.clone());
        let _ = load_interp(&mut e, b);
        let Env {
            mut host,
            mut frames,
            mm,
        } = e;
        mm.destroy(&mut frames, &mut host);
        assert_eq!(frames.used(), 0, "round {round} leaked frames");
    }
}

#[test]
fn failed_load_leaves_no_frames() {
    let mut e = env();
    let mut b = tiny_elf(ET_EXEC);
    put64(&mut b, ph(EXEC_DATA_PH) + P_MEMSZ, 8);
    assert!(e.load(b).is_err());
    assert_eq!(e.frames.used(), 0);
}

/// A file that fails to read: load_elf reports Io, not a panic.
struct FailingBacking;
impl Backing for FailingBacking {
    fn read_at(&self, _off: u64, _buf: &mut [u8]) -> crate::KResult<usize> {
        Err(Errno::EIO)
    }
}

#[test]
fn read_error_is_io() {
    let mut e = env();
    assert_eq!(
        load_elf(&mut e.mm, &mut e.frames, Arc::new(FailingBacking)),
        Err(ElfError::Io(Errno::EIO))
    );
}

// The mutations come from testing::Rng, the same on every run.
use crate::testing::Rng;

#[test]
fn random_mutations_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut loaded = 0;
    for round in 0..2000 {
        let mut b = tiny_elf(if round % 2 == 0 { ET_EXEC } else { ET_DYN });
        let hdr_end = ph(4) as u64;
        for _ in 0..1 + rng.below(4) {
            // Mostly the headers, where every byte is a field.
            let at = if rng.below(4) == 0 {
                rng.below(b.len() as u64)
            } else {
                rng.below(hdr_end)
            } as usize;
            match rng.below(3) {
                0 => b[at] = rng.next() as u8,
                1 => b[at] ^= 1 << rng.below(8),
                _ => b[at] = [0, 0xff, 0x80, 0x7f][rng.below(4) as usize],
            }
        }
        if rng.below(16) == 0 {
            let len = rng.below(b.len() as u64) as usize;
            b.truncate(len);
        }
        let file = VecBacking(b.clone());
        let _ = elf::parse(&file);
        let _ = elf::check(&file);
        let mut e = env();
        if let Ok(img) = e.load(b) {
            loaded += 1;
            // What loaded must be usable: read the entry and build a stack.
            let mut byte = [0u8; 1];
            let _ = e.mm.read(&mut e.frames, &mut e.host, img.entry, &mut byte);
            let argv = [b"prog".to_vec()];
            let _ = build_stack(
                &mut e.mm,
                &mut e.frames,
                &mut e.host,
                &img,
                &args(&argv, &[], b"prog"),
            );
        }
        let Env {
            mut host,
            mut frames,
            mm,
        } = e;
        mm.destroy(&mut frames, &mut host);
        assert_eq!(frames.used(), 0, "round {round} leaked frames");
    }
    assert!(loaded > 0, "some mutations still load");
}

// ---- the initial stack ----

fn args<'a>(argv: &'a [Vec<u8>], envp: &'a [Vec<u8>], execfn: &'a [u8]) -> StackArgs<'a> {
    StackArgs {
        argv,
        envp,
        execfn,
        uid: 1000,
        euid: 1001,
        gid: 100,
        egid: 101,
        secure: true,
        random: *b"0123456789abcdef",
        stack_limit: 8 << 20,
        interp_base: 0x7f00_dead_0000,
        vdso: 0,
    }
}

// Words of 8 bytes: the 4-byte stack of 32-bit guests is `stack_with_4_byte_words`.
#[cfg(target_pointer_width = "64")]
#[test]
fn stack_layout_decodes() {
    let mut e = env();
    let img = e.load(tiny_elf(ET_DYN)).unwrap();
    let argv = [b"/bin/prog".to_vec(), b"-x".to_vec(), b"".to_vec()];
    let envp = [b"HOME=/".to_vec(), b"PATH=/bin".to_vec()];
    let a = args(&argv, &envp, b"/bin/prog");
    let sp = build_stack(&mut e.mm, &mut e.frames, &mut e.host, &img, &a).unwrap();
    assert_eq!(sp % 16, 0, "sp is 16-byte aligned at argc");
    assert!(sp < arch::STACK_TOP && sp > arch::STACK_TOP - PAGE);
    let stack = e.mm.vmas.find(sp).unwrap();
    assert_eq!(stack.end, arch::STACK_TOP);
    assert_eq!(stack.prot, Prot::READ | Prot::WRITE);

    let mut at = sp;
    let mut word = |e: &mut Env| {
        let v = e.u64_at(at);
        at += 8;
        v
    };
    assert_eq!(word(&mut e), 3, "argc");
    let mut got_argv = Vec::new();
    for _ in 0..3 {
        let p = word(&mut e);
        assert!(p > sp && p < arch::STACK_TOP);
        got_argv.push(e.cstr(p));
    }
    assert_eq!(got_argv, argv);
    assert_eq!(word(&mut e), 0, "argv NULL");
    let mut got_envp = Vec::new();
    loop {
        let p = word(&mut e);
        if p == 0 {
            break;
        }
        got_envp.push(e.cstr(p));
    }
    assert_eq!(got_envp, envp);
    let mut auxv = Vec::new();
    loop {
        let (k, v) = (word(&mut e), word(&mut e));
        if k == AT_NULL {
            assert_eq!(v, 0);
            break;
        }
        assert!(auxv.len() < 64, "auxv ends with AT_NULL");
        auxv.push((k, v));
    }
    let aux = |k: u64| {
        auxv.iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("auxv has no {k}"))
    };
    assert_eq!(aux(AT_PHDR), img.phdr);
    assert_eq!(aux(AT_PHDR), arch::PIE_BASE + 64);
    assert_eq!(aux(AT_PHENT), Elf64Phdr::SIZE as u64);
    assert_eq!(aux(AT_PHNUM), 4);
    assert_eq!(aux(AT_ENTRY), img.entry);
    assert_eq!(aux(AT_PAGESZ), PAGE);
    assert_eq!((aux(AT_UID), aux(AT_EUID)), (1000, 1001));
    assert_eq!((aux(AT_GID), aux(AT_EGID)), (100, 101));
    assert_eq!(aux(AT_SECURE), 1);
    assert_eq!(aux(AT_BASE), 0x7f00_dead_0000);
    assert_eq!(aux(AT_HWCAP2), arch::HWCAP2);
    assert_eq!(aux(AT_MINSIGSTKSZ), arch::signal::MIN_SIGSTACK.unwrap());
    let random = aux(AT_RANDOM);
    assert_eq!(e.read(random, 16).unwrap(), b"0123456789abcdef");
    assert_eq!(e.cstr(aux(AT_EXECFN)), b"/bin/prog");
    assert_eq!(e.cstr(aux(AT_PLATFORM)), arch::PLATFORM.as_bytes());
    // The program headers really are at AT_PHDR.
    let first = e.read(aux(AT_PHDR), Elf64Phdr::SIZE).unwrap();
    assert_eq!(Elf64Phdr::decode(&first).p_type, PT_PHDR);
}

// Words of 8 bytes: the 4-byte stack of 32-bit guests is `stack_with_4_byte_words`.
#[cfg(target_pointer_width = "64")]
#[test]
fn stack_with_empty_argv_and_envp() {
    let mut e = env();
    let img = e.load(tiny_elf(ET_EXEC)).unwrap();
    let sp = build_stack(
        &mut e.mm,
        &mut e.frames,
        &mut e.host,
        &img,
        &args(&[], &[], b""),
    )
    .unwrap();
    assert_eq!(sp % 16, 0);
    assert_eq!(e.u64_at(sp), 0, "argc");
    assert_eq!(e.u64_at(sp + 8), 0, "argv NULL");
    assert_eq!(e.u64_at(sp + 16), 0, "envp NULL");
    assert_eq!(e.u64_at(sp + 24), AT_PHDR);
    assert_eq!(e.u64_at(sp + 32), tiny::EXEC_BASE + 64);
}

// Words of 8 bytes: the 4-byte stack of 32-bit guests is `stack_with_4_byte_words`.
#[cfg(target_pointer_width = "64")]
#[test]
fn stack_alignment_for_every_string_length() {
    for n in 0..24 {
        let mut e = env();
        let img = e.load(tiny_elf(ET_EXEC)).unwrap();
        let argv = [vec![b'a'; n]];
        let envp: Vec<Vec<u8>> = (0..n % 3).map(|i| vec![b'e'; i + 1]).collect();
        let sp = build_stack(
            &mut e.mm,
            &mut e.frames,
            &mut e.host,
            &img,
            &args(&argv, &envp, b"x"),
        )
        .unwrap();
        assert_eq!(sp % 16, 0, "string length {n}");
        let p = e.u64_at(sp + 8);
        assert_eq!(e.cstr(p), argv[0]);
    }
}

#[test]
fn huge_args_are_e2big() {
    let mut e = env();
    let img = e.load(tiny_elf(ET_EXEC)).unwrap();
    let big = [vec![b'a'; MAX_ARG_BYTES]];
    assert_eq!(
        build_stack(
            &mut e.mm,
            &mut e.frames,
            &mut e.host,
            &img,
            &args(&big, &[], b"/bin/prog")
        ),
        Err(Errno::E2BIG)
    );
    let many: Vec<Vec<u8>> = (0..MAX_ARG_BYTES / 1024 + 1)
        .map(|_| vec![b'e'; 1023])
        .collect();
    assert_eq!(
        build_stack(
            &mut e.mm,
            &mut e.frames,
            &mut e.host,
            &img,
            &args(&[], &many, b"/bin/prog")
        ),
        Err(Errno::E2BIG)
    );
    assert_eq!(e.frames.used(), 0, "refused before writing anything");
}

#[test]
fn args_that_do_not_fit_the_stack_fail_cleanly() {
    // Within MAX_ARG_BYTES but more than a 128 KiB stack: an error, no panic.
    let mut e = env();
    let img = e.load(tiny_elf(ET_EXEC)).unwrap();
    let argv: Vec<Vec<u8>> = (0..200).map(|_| vec![b'a'; 1023]).collect();
    let mut a = args(&argv, &[], b"p");
    a.stack_limit = 0;
    let r = build_stack(&mut e.mm, &mut e.frames, &mut e.host, &img, &a);
    assert!(r.is_err(), "200 KiB of strings in a 128 KiB stack");
}

// ---- ELF32 (32-bit ARM), checked on every host ----

fn load32(e: &mut Env, bytes: Vec<u8>) -> Result<LoadedImage, ElfError> {
    let file: Arc<dyn Backing> = Arc::new(VecBacking(bytes));
    let parsed = elf::parse_for(&*file, ELFCLASS32, EM_ARM)?;
    elf::load_parsed(&mut e.mm, &mut e.frames, file, parsed)
}

#[test]
fn elf32_arm_eabi5_loads() {
    let file = VecBacking(tiny_elf32(ET_EXEC, EF_ARM_EABI_VER5 | 0x400));
    let (eh, phdrs) = elf::parse_for(&file, ELFCLASS32, EM_ARM).unwrap();
    assert_eq!(eh.e_phentsize, 32);
    assert_eq!(phdrs.len(), 3);
    assert_eq!(phdrs[EXEC_DATA_PH].p_filesz, tiny::DATA.len() as u64);
    assert_eq!(phdrs[EXEC_DATA_PH].p_memsz, tiny::DATA_MEMSZ);
    assert_eq!(phdrs[EXEC_DATA_PH].p_flags, PF_R | PF_W);
    let mut e = env();
    let img = load32(&mut e, tiny_elf32(ET_EXEC, EF_ARM_EABI_VER5)).unwrap();
    assert_eq!(img.entry, tiny::EXEC_BASE + tiny::CODE_OFF);
    assert_eq!(img.phdr, tiny::EXEC_BASE + 52);
    assert_eq!((img.phnum, img.phent), (3, 32));
    assert_eq!(e.read(img.entry, 4).unwrap(), tiny::CODE);
    let data = tiny::EXEC_BASE + tiny::DATA_VADDR_OFF;
    assert_eq!(e.read(data, 32).unwrap(), tiny::DATA);
    assert_eq!(e.read(data + 32, 16).unwrap(), vec![0; 16]);
}

#[test]
fn elf32_arm_static_pie_loads() {
    let mut e = env();
    let img = load32(&mut e, tiny_elf32(ET_DYN, EF_ARM_EABI_VER5)).unwrap();
    assert_eq!(img.bias, arch::PIE_BASE);
    assert_eq!(img.phdr, arch::PIE_BASE + 52);
    assert_eq!(img.phnum, 4);
    assert_eq!(e.read(img.phdr, 4).unwrap(), PT_PHDR.to_le_bytes());
}

#[test]
fn elf32_arm_oabi_and_old_eabi_are_refused() {
    for flags in [0, 0x0400_0000, 0x0200_0000] {
        let mut e = env();
        let r = load32(&mut e, tiny_elf32(ET_EXEC, flags));
        assert!(matches!(r, Err(ElfError::WrongAbi(_))), "{flags:#x}: {r:?}");
        assert_eq!(Errno::from(r.unwrap_err()), Errno::ENOEXEC);
    }
}

#[test]
fn elf_class_and_machine_must_match() {
    let f64 = VecBacking(tiny_elf(ET_EXEC));
    assert_eq!(
        elf::parse_for(&f64, ELFCLASS32, EM_ARM).unwrap_err(),
        ElfError::WrongArch
    );
    let f32 = VecBacking(tiny_elf32(ET_EXEC, EF_ARM_EABI_VER5));
    assert_eq!(parse(&f32).unwrap_err(), ElfError::WrongArch);
    let mut b = tiny_elf32(ET_EXEC, EF_ARM_EABI_VER5);
    put16(&mut b, E_MACHINE, EM_AARCH64);
    assert_eq!(
        elf::parse_for(&VecBacking(b), ELFCLASS32, EM_ARM).unwrap_err(),
        ElfError::WrongArch
    );
    let mut b = tiny_elf32(ET_EXEC, EF_ARM_EABI_VER5);
    b.truncate(40);
    assert!(malformed(
        elf::parse_for(&VecBacking(b), ELFCLASS32, EM_ARM).map(|_| unreachable!())
    ));
}

#[test]
fn stack_with_4_byte_words() {
    use super::stack::{build_stack_as, StackLayout};
    let mut e = env();
    let img = load32(&mut e, tiny_elf32(ET_EXEC, EF_ARM_EABI_VER5)).unwrap();
    let argv = [b"busybox".to_vec(), b"echo".to_vec()];
    let envp = [b"A=1".to_vec()];
    let l = StackLayout {
        top: 0xbd00_0000,
        word: 4,
        platform: "v7l",
        hwcap: 0xe0d6,
        hwcap2: 0,
        minsigstksz: None,
    };
    let a = args(&argv, &envp, b"/bin/busybox");
    let sp = build_stack_as(&mut e.mm, &mut e.frames, &mut e.host, &img, &a, &l).unwrap();
    assert_eq!(sp % 8, 0);
    let words: Vec<u32> = e
        .read(sp, ((0xbd00_0000 - sp) as usize).min(4 * 64))
        .unwrap()
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(words[0], 2, "argc");
    assert_eq!(e.cstr(words[1] as u64), b"busybox");
    assert_eq!(e.cstr(words[2] as u64), b"echo");
    assert_eq!(words[3], 0);
    assert_eq!(e.cstr(words[4] as u64), b"A=1");
    assert_eq!(words[5], 0);
    let auxv: Vec<(u64, u64)> = words[6..]
        .chunks_exact(2)
        .map(|p| (p[0] as u64, p[1] as u64))
        .take_while(|(k, _)| *k != AT_NULL)
        .collect();
    let aux = |k: u64| auxv.iter().find(|(key, _)| *key == k).unwrap().1;
    assert_eq!(aux(AT_PHENT), 32);
    assert_eq!(aux(AT_PHDR), tiny::EXEC_BASE + 52);
    assert_eq!(aux(AT_HWCAP), 0xe0d6);
    assert_eq!(aux(AT_HWCAP2), 0);
    assert!(
        auxv.iter().all(|(k, _)| *k != AT_MINSIGSTKSZ),
        "none on 32-bit ARM"
    );
    assert_eq!(e.cstr(aux(AT_PLATFORM)), b"v7l");
    assert_eq!(e.read(aux(AT_RANDOM), 16).unwrap(), b"0123456789abcdef");
    assert_eq!(e.cstr(aux(AT_EXECFN)), b"/bin/busybox");
}
