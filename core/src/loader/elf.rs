//! The ELF loader: ET_EXEC and ET_DYN (PIE) executables of the host's machine and
//! class (ELF64, or ELF32 for 32-bit ARM, whose headers are widened to the ELF64
//! forms on reading), and their PT_INTERP interpreters (the dynamic linker),
//! which the kernel looks up and loads beside the program with [`load_image`].
//! Segments become private file mappings populated on first touch, so a 2 MB
//! busybox costs only the pages it runs. Every field read from the file is
//! checked before use; a malformed file is ENOEXEC, never a panic.

use crate::arch;
use crate::config::PAGE_SIZE;
use crate::error::KResult;
use crate::mm::{page_ceil, page_floor, AddressSpace, Backing, FrameAllocator, Placement, VmaKind};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use umbra_abi::elf::*;
use umbra_abi::flags::Prot;
use umbra_abi::{Errno, Pod};

/// Why an executable was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Not an ELF file at all.
    NotElf,
    /// ELF, but not of this machine's class, little-endian, and machine.
    WrongArch,
    /// This machine, but an ABI umbra does not run (32-bit ARM: OABI or an
    /// EABI version before 5).
    WrongAbi(&'static str),
    /// Neither ET_EXEC nor ET_DYN.
    NotExecutable,
    /// The PT_INTERP entry itself is bad (too short or long, not
    /// NUL-terminated): ENOEXEC, as Linux.
    BadInterpPath,
    /// The interpreter is not a loadable ELF file of this machine: ELIBBAD, as
    /// Linux's binfmt_elf.
    BadInterp(&'static str),
    /// Headers or segments that do not make sense.
    Malformed(&'static str),
    /// Reading the file failed.
    Io(Errno),
    /// Mapping failed (out of memory or address space).
    Map(Errno),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => write!(f, "not an ELF executable"),
            ElfError::WrongArch => write!(
                f,
                "ELF file for another architecture (expected {})",
                arch::UTS_MACHINE
            ),
            ElfError::WrongAbi(why) => write!(f, "unsupported ELF ABI: {why}"),
            ElfError::NotExecutable => write!(f, "ELF file is not an executable"),
            ElfError::BadInterpPath => write!(f, "malformed PT_INTERP entry"),
            ElfError::BadInterp(why) => write!(f, "bad ELF interpreter: {why}"),
            ElfError::Malformed(why) => write!(f, "malformed ELF file: {why}"),
            ElfError::Io(e) => write!(f, "cannot read executable: {e:?}"),
            ElfError::Map(e) => write!(f, "cannot map executable: {e:?}"),
        }
    }
}

impl From<ElfError> for Errno {
    fn from(e: ElfError) -> Errno {
        match e {
            ElfError::Io(e) | ElfError::Map(e) => e,
            ElfError::BadInterp(_) => Errno::ELIBBAD,
            _ => Errno::ENOEXEC,
        }
    }
}

/// Where a loaded image landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    pub entry: u64,
    /// Address of the program headers in guest memory (AT_PHDR).
    pub phdr: u64,
    pub phnum: u64,
    /// Size of one program header (AT_PHENT): 56 for ELF64, 32 for ELF32.
    pub phent: u64,
    /// Load bias added to every p_vaddr (0 for ET_EXEC).
    pub bias: u64,
    /// First byte after the highest segment: the start of brk.
    pub end: u64,
}

const MAX_PHNUM: usize = 128;

fn read_exact(file: &dyn Backing, off: u64, buf: &mut [u8]) -> Result<(), ElfError> {
    let n = file.read_at(off, buf).map_err(ElfError::Io)?;
    if n != buf.len() {
        return Err(ElfError::Malformed("truncated file"));
    }
    Ok(())
}

/// Parses and checks the ELF header and program headers of `file`, for this
/// build's guest.
pub fn parse(file: &dyn Backing) -> Result<(Elf64Ehdr, Vec<Elf64Phdr>), ElfError> {
    parse_for(file, arch::ELF_CLASS, arch::ELF_MACHINE)
}

/// Parses and checks the headers of `file` for a guest of ELF class `class`
/// and machine `machine`; ELF32 headers come back widened.
pub fn parse_for(
    file: &dyn Backing,
    class: u8,
    machine: u16,
) -> Result<(Elf64Ehdr, Vec<Elf64Phdr>), ElfError> {
    let mut hb = [0u8; 64];
    let n = file.read_at(0, &mut hb).map_err(ElfError::Io)?;
    if n < 4 || hb[..4] != ELFMAG {
        return Err(ElfError::NotElf);
    }
    let (hsize, phsize) = if class == ELFCLASS32 {
        (Elf32Ehdr::SIZE, Elf32Phdr::SIZE)
    } else {
        (Elf64Ehdr::SIZE, Elf64Phdr::SIZE)
    };
    if n < hsize.min(Elf32Ehdr::SIZE) {
        return Err(ElfError::Malformed("truncated header"));
    }
    if hb[4] != class || hb[5] != ELFDATA2LSB {
        return Err(ElfError::WrongArch);
    }
    if n < hsize {
        return Err(ElfError::Malformed("truncated header"));
    }
    let eh = if class == ELFCLASS32 {
        Elf32Ehdr::decode(&hb).widen()
    } else {
        Elf64Ehdr::decode(&hb)
    };
    if eh.e_machine != machine {
        return Err(ElfError::WrongArch);
    }
    if machine == EM_ARM && eh.e_flags & EF_ARM_EABIMASK != EF_ARM_EABI_VER5 {
        return Err(ElfError::WrongAbi(
            "32-bit ARM executables must be EABI version 5 (this one is OABI or an older EABI)",
        ));
    }
    if eh.e_type != ET_EXEC && eh.e_type != ET_DYN {
        return Err(ElfError::NotExecutable);
    }
    if eh.e_phentsize as usize != phsize {
        return Err(ElfError::Malformed("bad program header size"));
    }
    let phnum = eh.e_phnum as usize;
    if phnum == 0 || phnum > MAX_PHNUM {
        return Err(ElfError::Malformed("bad program header count"));
    }
    let mut raw = alloc::vec![0u8; phnum * phsize];
    read_exact(file, eh.e_phoff, &mut raw)?;
    let phdrs = raw
        .chunks_exact(phsize)
        .map(|c| {
            if class == ELFCLASS32 {
                Elf32Phdr::decode(c).widen()
            } else {
                Elf64Phdr::decode(c)
            }
        })
        .collect();
    Ok((eh, phdrs))
}

fn prot_of(flags: u32) -> Prot {
    let mut p = Prot::empty();
    if flags & PF_R != 0 {
        p |= Prot::READ;
    }
    if flags & PF_W != 0 {
        p |= Prot::WRITE;
    }
    if flags & PF_X != 0 {
        p |= Prot::EXEC;
    }
    p
}

/// Where an ET_DYN image goes (an ET_EXEC one goes where its addresses say).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadBase {
    /// The program: at [`arch::PIE_BASE`], as Linux's ELF_ET_DYN_BASE without
    /// randomization. A loader run directly (ld.so, an ET_DYN without
    /// PT_INTERP) goes there too, where Linux maps it in the mmap area: its
    /// break then follows it at ELF_ET_DYN_BASE, where Linux with address
    /// randomization moves a directly run loader's break, and the program
    /// it maps goes below the mmap base.
    Program,
    /// Its interpreter: in the highest free gap below the mmap base, where
    /// Linux's mmap (a load bias of 0 without MAP_FIXED) puts it.
    Interp,
}

/// Maps the executable `file` into `mm` (which should be empty) and starts
/// the break after it.
pub fn load_elf(
    mm: &mut AddressSpace,
    frames: &mut FrameAllocator,
    file: Arc<dyn Backing>,
) -> Result<LoadedImage, ElfError> {
    let parsed = parse(&*file)?;
    load_parsed(mm, frames, file, parsed)
}

/// Maps the program whose headers [`parse_for`] returned and starts the
/// break after it (its PT_INTERP, if any, is the caller's business).
pub fn load_parsed(
    mm: &mut AddressSpace,
    frames: &mut FrameAllocator,
    file: Arc<dyn Backing>,
    parsed: (Elf64Ehdr, Vec<Elf64Phdr>),
) -> Result<LoadedImage, ElfError> {
    let img = load_image(mm, frames, file, parsed, LoadBase::Program)?;
    mm.brk_start = img.end;
    mm.brk = img.end;
    Ok(img)
}

/// The path in the first PT_INTERP header, without its NUL, or None for a
/// static program. As Linux: 2 to PATH_MAX bytes, NUL-terminated, else
/// ENOEXEC; a short read is EIO.
pub fn interp_path(file: &dyn Backing, phdrs: &[Elf64Phdr]) -> Result<Option<Vec<u8>>, ElfError> {
    let Some(ph) = phdrs.iter().find(|p| p.p_type == PT_INTERP) else {
        return Ok(None);
    };
    if ph.p_filesz < 2 || ph.p_filesz > 4096 {
        return Err(ElfError::BadInterpPath);
    }
    let mut buf = alloc::vec![0u8; ph.p_filesz as usize];
    let n = file.read_at(ph.p_offset, &mut buf).map_err(ElfError::Io)?;
    if n != buf.len() {
        return Err(ElfError::Io(Errno::EIO));
    }
    if buf.last() != Some(&0) {
        return Err(ElfError::BadInterpPath);
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    buf.truncate(len);
    Ok(Some(buf))
}

/// Checks the headers of an interpreter, as Linux's binfmt_elf before it
/// commits to the exec: a file shorter than an ELF header is EIO; not ELF,
/// another machine, bad program headers or a type other than ET_EXEC and
/// ET_DYN are ELIBBAD. (Linux checks the type only after the point of no
/// return and kills the process with SIGSEGV; umbra, which builds the new
/// address space aside, can still fail the execve.) A PT_INTERP of the
/// interpreter itself is ignored, as Linux does: klibc's shared library names
/// itself.
pub fn parse_interp(file: &dyn Backing) -> Result<(Elf64Ehdr, Vec<Elf64Phdr>), ElfError> {
    let hsize = if arch::ELF_CLASS == ELFCLASS32 {
        Elf32Ehdr::SIZE
    } else {
        Elf64Ehdr::SIZE
    };
    let mut hb = [0u8; 64];
    let n = file.read_at(0, &mut hb[..hsize]).map_err(ElfError::Io)?;
    if n < hsize {
        return Err(ElfError::Io(Errno::EIO));
    }
    parse(file).map_err(|e| match e {
        ElfError::Io(e) => ElfError::Io(e),
        ElfError::NotElf => ElfError::BadInterp("not an ELF file"),
        ElfError::WrongArch | ElfError::WrongAbi(_) => {
            ElfError::BadInterp("ELF file for another architecture or ABI")
        }
        ElfError::NotExecutable => ElfError::BadInterp("neither ET_EXEC nor ET_DYN"),
        _ => ElfError::BadInterp("bad program headers"),
    })
}

/// Maps an image whose headers [`parse_for`] returned, ET_DYN ones at `base`;
/// leaves the break alone.
pub fn load_image(
    mm: &mut AddressSpace,
    frames: &mut FrameAllocator,
    file: Arc<dyn Backing>,
    (eh, phdrs): (Elf64Ehdr, Vec<Elf64Phdr>),
    base: LoadBase,
) -> Result<LoadedImage, ElfError> {
    let loads: Vec<&Elf64Phdr> = phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    if loads.is_empty() {
        return Err(ElfError::Malformed("no loadable segment"));
    }
    let page = PAGE_SIZE as u64;
    let min_vaddr = loads
        .iter()
        .map(|p| page_floor(p.p_vaddr))
        .min()
        .unwrap_or(0);
    let bias = if eh.e_type == ET_DYN {
        dyn_base(mm, &loads, min_vaddr, base)?.wrapping_sub(min_vaddr)
    } else {
        0
    };
    let mut end = 0u64;
    for ph in &loads {
        if ph.p_filesz > ph.p_memsz {
            return Err(ElfError::Malformed("segment file size exceeds memory size"));
        }
        if ph.p_vaddr % page != ph.p_offset % page {
            return Err(ElfError::Malformed("segment offset and address disagree"));
        }
        let va = ph
            .p_vaddr
            .checked_add(bias)
            .ok_or(ElfError::Malformed("segment address overflow"))?;
        let mem_end = va
            .checked_add(ph.p_memsz)
            .ok_or(ElfError::Malformed("segment size overflow"))?;
        let file_end = va + ph.p_filesz;
        ph.p_offset
            .checked_add(ph.p_filesz)
            .ok_or(ElfError::Malformed("segment offset overflow"))?;
        if mem_end > arch::USER_END || va < crate::mm::space::MMAP_MIN {
            return Err(ElfError::Malformed(
                "segment outside the user address space",
            ));
        }
        if ph.p_memsz == 0 {
            continue;
        }
        let start = page_floor(va);
        let map_end = page_ceil(mem_end).ok_or(ElfError::Malformed("segment size overflow"))?;
        let kind = VmaKind::File {
            backing: file.clone(),
            offset: ph.p_offset - (va - start),
            file_end,
        };
        mm.map(
            frames,
            start,
            map_end - start,
            prot_of(ph.p_flags),
            kind,
            Placement::Fixed,
        )
        .map_err(ElfError::Map)?;
        end = end.max(map_end);
    }
    let phdr = phdrs
        .iter()
        .find(|p| p.p_type == PT_PHDR)
        .map(|p| p.p_vaddr.wrapping_add(bias))
        .or_else(|| {
            loads.iter().find_map(|p| {
                let rel = eh.e_phoff.checked_sub(p.p_offset)?;
                (rel < p.p_filesz).then(|| p.p_vaddr.wrapping_add(rel).wrapping_add(bias))
            })
        })
        .unwrap_or(0);
    Ok(LoadedImage {
        entry: eh.e_entry.wrapping_add(bias),
        phdr,
        phnum: phdrs.len() as u64,
        phent: eh.e_phentsize as u64,
        bias,
        end,
    })
}

/// Largest segment alignment honoured (Linux honours any; beyond this a
/// hostile p_align would only waste address space).
const MAX_ALIGN: u64 = 1 << 30;

/// The address an ET_DYN image's lowest page goes to: aligned to its largest
/// power-of-two p_align, as Linux's maximum_alignment().
fn dyn_base(
    mm: &AddressSpace,
    loads: &[&Elf64Phdr],
    min_vaddr: u64,
    base: LoadBase,
) -> Result<u64, ElfError> {
    let page = PAGE_SIZE as u64;
    let align = loads
        .iter()
        .map(|p| p.p_align)
        .filter(|a| a.is_power_of_two() && *a <= MAX_ALIGN)
        .max()
        .unwrap_or(page)
        .max(page);
    match base {
        LoadBase::Program => Ok(arch::PIE_BASE.next_multiple_of(align)),
        LoadBase::Interp => {
            let mut top = 0u64;
            for p in loads {
                let end = p
                    .p_vaddr
                    .checked_add(p.p_memsz)
                    .and_then(page_ceil)
                    .ok_or(ElfError::Malformed("segment size overflow"))?;
                top = top.max(end);
            }
            let span = top - min_vaddr;
            if span > arch::MMAP_BASE {
                return Err(ElfError::Malformed("segments span too much"));
            }
            let start = mm
                .vmas
                .find_free_top_down(
                    span + (align - page),
                    crate::mm::space::MMAP_MIN.max(mm.brk),
                    arch::MMAP_BASE,
                )
                .ok_or(ElfError::Map(Errno::ENOMEM))?;
            Ok(start.next_multiple_of(align))
        }
    }
}

/// Checks whether `file` is an ELF executable umbra can load, without mapping it.
pub fn check(file: &dyn Backing) -> KResult<()> {
    parse(file).map(|_| ()).map_err(Errno::from)
}
