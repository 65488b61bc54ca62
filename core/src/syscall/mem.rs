//! Memory syscalls: brk, mmap, munmap, mprotect, madvise, mremap.

use crate::fs::vfs::makedev;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::loader::InodeBacking;
use crate::mm::{Placement, SharedMem, VmaKind};
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

/// The backing of a file mapped with mmap(2): the file's size bounds it (a
/// page wholly past the end of the file is SIGBUS, or EFAULT for the kernel).
struct MmapBacking(Arc<dyn crate::fs::Inode>);

impl crate::mm::Backing for MmapBacking {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> crate::KResult<usize> {
        crate::mm::Backing::read_at(&InodeBacking(self.0.clone()), off, buf)
    }
    fn size(&self) -> Option<u64> {
        self.0.metadata().ok().map(|m| m.size)
    }
}

/// MAP_32BIT (x86_64 only): place the mapping in the first 2 GiB.
const MAP_32BIT: u32 = 0x40;

/// mmap(2): anonymous (private or shared) and private file mappings; MAP_SHARED
/// of /dev/zero is shared anonymous memory. Shared writable file mappings are
/// not supported yet (ENODEV).
pub fn sys_mmap<H: Host>(
    k: &mut Kernel<H>,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    fd: i32,
    off: u64,
) -> SysResult {
    // mmap ignores unknown protection bits (mprotect refuses them).
    let prot = Prot::from_bits_retain(prot & 0x7);
    let f = MapFlags::from_bits_retain(flags);
    let typ = flags & MAP_TYPE;
    let anon = f.contains(MapFlags::ANONYMOUS);
    let shared = match typ {
        t if t == MapFlags::PRIVATE.bits() => false,
        t if t == MapFlags::SHARED.bits() => true,
        // MAP_SHARED|MAP_PRIVATE is MAP_SHARED_VALIDATE: files only.
        t if t == MapFlags::SHARED_VALIDATE.bits() && !anon => {
            const KNOWN: u32 = 0x0f
                | 0x10
                | 0x20
                | 0x40
                | 0x100
                | 0x800
                | 0x1000
                | 0x2000
                | 0x4000
                | 0x8000
                | 0x10000
                | 0x20000
                | 0x40000
                | 0x80000
                | 0x100000
                | 0xfc00_0000;
            if flags & !KNOWN != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            true
        }
        _ => return Err(Errno::EINVAL),
    };
    if !off.is_multiple_of(4096) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let placement = if f.contains(MapFlags::FIXED_NOREPLACE) {
        Placement::FixedNoReplace
    } else if f.contains(MapFlags::FIXED) {
        Placement::Fixed
    } else if flags & MAP_32BIT != 0 && cfg!(target_arch = "x86_64") {
        Placement::Low32
    } else {
        Placement::Hint
    };
    if placement != Placement::Hint && placement != Placement::Low32 && !addr.is_multiple_of(4096) {
        return Err(Errno::EINVAL);
    }
    let plen = crate::mm::page_ceil(len).ok_or(Errno::ENOMEM)?;
    // The page offset plus the length must not wrap (Linux's check for all
    // mappings).
    if (off >> 12).checked_add(plen >> 12).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    let kind = if anon {
        if shared {
            VmaKind::Shared {
                obj: SharedMem::new(&k.frames, plen),
                offset: 0,
            }
        } else {
            VmaKind::Anon
        }
    } else {
        let file = k.proc().fds.get(fd)?;
        let inode = match file.inode() {
            Some(i) if i.kind() == crate::fs::FileType::Regular => i.clone(),
            Some(i)
                if i.kind() == crate::fs::FileType::CharDevice
                    && i.metadata().is_ok_and(|m| m.rdev == makedev(1, 5)) =>
            {
                // /dev/zero: anonymous memory, shared or private.
                let kind = if shared {
                    VmaKind::Shared {
                        obj: SharedMem::new(&k.frames, plen),
                        offset: 0,
                    }
                } else {
                    VmaKind::Anon
                };
                let (p, _, frames, _) = k.parts();
                let start = p.mm.map(frames, addr, plen, prot, kind, placement)?;
                return Ok(start as usize);
            }
            _ => return Err(Errno::ENODEV),
        };
        // A regular file's offsets end at i64::MAX (MAX_LFS_FILESIZE).
        if off > i64::MAX as u64 - plen {
            return Err(Errno::EOVERFLOW);
        }
        if shared && prot.contains(Prot::WRITE) {
            return Err(Errno::ENODEV);
        }
        if !file.readable() {
            return Err(Errno::EACCES);
        }
        let file_end = u64::MAX;
        VmaKind::File {
            backing: Arc::new(MmapBacking(inode)),
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
    new: u64,
) -> SysResult {
    let (p, _, frames, _) = k.parts();
    p.mm.mremap(frames, old, old_len, new_len, flags, new)
        .map(|a| a as usize)
}
