//! Memory syscalls: brk, mmap, munmap, mprotect, madvise, mremap.

use crate::host::Host;
use crate::kernel::Kernel;
use crate::loader::InodeBacking;
use crate::mm::{Placement, VmaKind};
use crate::SysResult;
use alloc::sync::Arc;
use umbra_abi::flags::{MapFlags, Prot, MAP_TYPE};
use umbra_abi::Errno;

/// brk(2): returns the new break, or the old one if it cannot move.
pub fn sys_brk<H: Host>(k: &mut Kernel<H>, addr: u64) -> SysResult {
    let (p, _, frames, _) = k.parts();
    if addr == 0 {
        return Ok(p.mm.brk as usize);
    }
    Ok(p.mm.set_brk(frames, addr) as usize)
}

/// mmap(2): anonymous and private file mappings. Shared writable file mappings
/// are not supported yet (ENODEV).
pub fn sys_mmap<H: Host>(
    k: &mut Kernel<H>,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    fd: i32,
    off: u64,
) -> SysResult {
    let prot = Prot::from_bits_retain(prot);
    if prot.bits() & !0x7 != 0 {
        return Err(Errno::EINVAL);
    }
    let f = MapFlags::from_bits_retain(flags);
    let typ = flags & MAP_TYPE;
    if typ != MapFlags::SHARED.bits()
        && typ != MapFlags::PRIVATE.bits()
        && typ != MapFlags::SHARED_VALIDATE.bits()
    {
        return Err(Errno::EINVAL);
    }
    if !off.is_multiple_of(4096) {
        return Err(Errno::EINVAL);
    }
    let placement = if f.contains(MapFlags::FIXED_NOREPLACE) {
        Placement::FixedNoReplace
    } else if f.contains(MapFlags::FIXED) {
        Placement::Fixed
    } else {
        Placement::Hint
    };
    if placement != Placement::Hint && !addr.is_multiple_of(4096) {
        return Err(Errno::EINVAL);
    }
    let kind = if f.contains(MapFlags::ANONYMOUS) {
        if typ != MapFlags::PRIVATE.bits() {
            // Shared anonymous memory needs shared frames across fork; until then
            // it behaves as private, which is exact for a process without children.
        }
        VmaKind::Anon
    } else {
        let file = k.proc().fds.get(fd)?;
        let inode = match file.inode() {
            Some(i) if i.kind() == crate::fs::FileType::Regular => i.clone(),
            _ => return Err(Errno::ENODEV),
        };
        if typ != MapFlags::PRIVATE.bits() && prot.contains(Prot::WRITE) {
            return Err(Errno::ENODEV);
        }
        if !file.readable() {
            return Err(Errno::EACCES);
        }
        let file_end = u64::MAX;
        VmaKind::File {
            backing: Arc::new(InodeBacking(inode)),
            offset: off,
            file_end,
        }
    };
    let (p, _, frames, _) = k.parts();
    let start = p.mm.map(frames, addr, len, prot, kind, placement)?;
    if let Some(v) = p.mm.vmas.find(start).cloned() {
        if let VmaKind::File {
            backing, offset, ..
        } = v.kind
        {
            // A private file mapping holds file bytes up to the mapping's end.
            p.mm.vmas.remove(v.start, v.end);
            p.mm.vmas.insert(crate::mm::Vma {
                kind: VmaKind::File {
                    backing,
                    offset,
                    file_end: v.end,
                },
                ..v
            });
        }
    }
    Ok(start as usize)
}

/// munmap(2).
pub fn sys_munmap<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64) -> SysResult {
    let (p, _, frames, _) = k.parts();
    p.mm.munmap(frames, addr, len)?;
    Ok(0)
}

/// mprotect(2).
pub fn sys_mprotect<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64, prot: u32) -> SysResult {
    let prot = Prot::from_bits_retain(prot);
    if prot.bits() & !0x7 != 0 {
        // PROT_GROWSDOWN/GROWSUP are accepted by Linux on stack VMAs; not here.
        return Err(Errno::EINVAL);
    }
    k.proc().mm.mprotect(addr, len, prot)?;
    Ok(0)
}

/// madvise(2): advice is accepted and ignored, except MADV_DONTNEED, which
/// drops the pages of private anonymous memory (they read back as zeroes).
pub fn sys_madvise<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64, advice: u32) -> SysResult {
    const MADV_DONTNEED: u32 = 4;
    if !addr.is_multiple_of(4096) {
        return Err(Errno::EINVAL);
    }
    if advice == MADV_DONTNEED && len > 0 {
        let (p, _, frames, _) = k.parts();
        p.mm.discard(frames, addr, len)?;
    }
    Ok(0)
}

/// mremap(2): growing and shrinking in place, or moving with MREMAP_MAYMOVE, of
/// anonymous mappings.
pub fn sys_mremap<H: Host>(
    k: &mut Kernel<H>,
    old: u64,
    old_len: u64,
    new_len: u64,
    flags: u32,
    _new: u64,
) -> SysResult {
    let (p, _, frames, _) = k.parts();
    p.mm.mremap(frames, old, old_len, new_len, flags)
        .map(|a| a as usize)
}
