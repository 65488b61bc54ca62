//! The initial user stack: argument and environment strings, AT_RANDOM bytes and the
//! platform string at the top; below them the auxv, envp and argv arrays and argc,
//! with the stack pointer 16-byte aligned at argc, as the SysV ABI requires (and
//! Linux does on 32-bit ARM too). The words are the guest's `long`: 8 bytes, or 4
//! on a 32-bit guest.

use super::elf::LoadedImage;
use crate::arch;
use crate::config::PAGE_SIZE;
use crate::error::KResult;
use crate::host::HostMemory;
use crate::mm::vma::VmaName;
use crate::mm::{AddressSpace, FrameAllocator, Vma, VmaKind};
use alloc::vec::Vec;
use umbra_abi::auxv::*;
use umbra_abi::flags::Prot;
use umbra_abi::Errno;

/// Everything the initial stack carries besides the image.
pub struct StackArgs<'a> {
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    /// The path the program was executed by (AT_EXECFN).
    pub execfn: &'a [u8],
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// AT_SECURE: the exec changed the ids (a set-id program).
    pub secure: bool,
    /// 16 bytes for AT_RANDOM.
    pub random: [u8; 16],
    /// Maximum stack size (RLIMIT_STACK).
    pub stack_limit: u64,
    /// Where the interpreter was loaded (AT_BASE); 0 without one.
    pub interp_base: u64,
    /// Where the vDSO is mapped (AT_SYSINFO_EHDR); 0 without one.
    pub vdso: u64,
}

/// Limit on the bytes of argv and envp strings together (as Linux's MAX_ARG_STRLEN
/// times a few pages; E2BIG beyond).
pub const MAX_ARG_BYTES: usize = 2 << 20;

/// Creates the stack VMA and fills it; returns the initial stack pointer.
pub fn build_stack<H: HostMemory>(
    mm: &mut AddressSpace,
    frames: &mut FrameAllocator,
    host: &mut H,
    img: &LoadedImage,
    a: &StackArgs<'_>,
) -> KResult<u64> {
    let layout = StackLayout {
        top: arch::STACK_TOP,
        word: core::mem::size_of::<usize>(),
        platform: arch::PLATFORM,
        hwcap: arch::HWCAP,
        hwcap2: arch::HWCAP2,
        minsigstksz: arch::signal::MIN_SIGSTACK,
    };
    build_stack_as(mm, frames, host, img, a, &layout)
}

/// What differs between guests in the initial stack.
pub struct StackLayout {
    /// The stack's top.
    pub top: u64,
    /// Bytes of a word (argc, pointers, auxv entries).
    pub word: usize,
    /// AT_PLATFORM.
    pub platform: &'static str,
    /// AT_HWCAP.
    pub hwcap: u64,
    /// AT_HWCAP2.
    pub hwcap2: u64,
    /// AT_MINSIGSTKSZ: the stack a signal frame needs; None where Linux
    /// gives none (32-bit ARM).
    pub minsigstksz: Option<u64>,
}

/// [`build_stack`] for the guest `l` describes.
pub fn build_stack_as<H: HostMemory>(
    mm: &mut AddressSpace,
    frames: &mut FrameAllocator,
    host: &mut H,
    img: &LoadedImage,
    a: &StackArgs<'_>,
    l: &StackLayout,
) -> KResult<u64> {
    let strings: usize = a
        .argv
        .iter()
        .chain(a.envp)
        .map(|s| s.len() + 1)
        .sum::<usize>()
        + a.execfn.len()
        + 1;
    if strings > MAX_ARG_BYTES {
        return Err(Errno::E2BIG);
    }
    let top = l.top;
    let size = a.stack_limit.clamp(128 << 10, 64 << 20) & !(PAGE_SIZE as u64 - 1);
    mm.vmas.remove(top - size, top);
    mm.vmas.insert(Vma {
        start: top - size,
        end: top,
        prot: Prot::READ | Prot::WRITE,
        kind: VmaKind::Anon,
        name: VmaName::Stack,
    });

    // Strings, from the top down.
    let mut sp = top - 8;
    let mut put = |mm: &mut AddressSpace,
                   frames: &mut FrameAllocator,
                   host: &mut H,
                   bytes: &[u8],
                   nul: bool| {
        sp -= bytes.len() as u64 + u64::from(nul);
        mm.write(frames, host, sp, bytes)?;
        if nul {
            mm.write(frames, host, sp + bytes.len() as u64, &[0])?;
        }
        Ok::<u64, Errno>(sp)
    };
    let execfn = put(mm, frames, host, a.execfn, true)?;
    let mut envp = Vec::with_capacity(a.envp.len());
    for s in a.envp.iter().rev() {
        envp.push(put(mm, frames, host, s, true)?);
    }
    envp.reverse();
    let mut argv = Vec::with_capacity(a.argv.len());
    for s in a.argv.iter().rev() {
        argv.push(put(mm, frames, host, s, true)?);
    }
    argv.reverse();
    let platform = put(mm, frames, host, l.platform.as_bytes(), true)?;
    let random = put(mm, frames, host, &a.random, false)?;

    let mut auxv: Vec<(u64, u64)> = alloc::vec![
        (AT_PHDR, img.phdr),
        (AT_PHENT, img.phent),
        (AT_PHNUM, img.phnum),
        (AT_PAGESZ, PAGE_SIZE as u64),
        (AT_BASE, a.interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, img.entry),
        (AT_UID, a.uid as u64),
        (AT_EUID, a.euid as u64),
        (AT_GID, a.gid as u64),
        (AT_EGID, a.egid as u64),
        (AT_SECURE, a.secure as u64),
        (AT_RANDOM, random),
        (AT_HWCAP, l.hwcap),
        (AT_HWCAP2, l.hwcap2),
        (AT_CLKTCK, 100),
        (AT_PLATFORM, platform),
        (AT_EXECFN, execfn),
    ];
    if let Some(m) = l.minsigstksz {
        auxv.push((AT_MINSIGSTKSZ, m));
    }
    if a.vdso != 0 {
        auxv.push((AT_SYSINFO_EHDR, a.vdso));
    }
    let words = 1 + argv.len() + 1 + envp.len() + 1 + 2 * (auxv.len() + 1);
    sp = (sp - (l.word * words) as u64) & !15;
    let mut v: Vec<u64> = Vec::with_capacity(words);
    v.push(argv.len() as u64);
    v.extend(&argv);
    v.push(0);
    v.extend(&envp);
    v.push(0);
    for (k, val) in auxv {
        v.push(k);
        v.push(val);
    }
    v.push(AT_NULL);
    v.push(0);
    let mut bytes = Vec::with_capacity(v.len() * l.word);
    for w in v {
        bytes.extend_from_slice(&w.to_le_bytes()[..l.word]);
    }
    mm.write(frames, host, sp, &bytes)?;
    Ok(sp)
}
