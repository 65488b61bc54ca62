//! Memory syscalls: brk, mmap, munmap, mprotect, madvise, mremap.

use crate::fs::tmpfs::seal;
use crate::fs::vfs::makedev;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::loader::InodeFile;
use crate::mm::{AddressSpace, FileAccess, MappedFile, PastEof, Placement, SharedMem, VmaKind};
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use umbra_abi::flags::{
    MapFlags, Prot, MAP_TYPE, RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK, RLIM_INFINITY,
};
use umbra_abi::Errno;

/// Whether the address space may grow by `grow` bytes, `data` of them private
/// writable memory, with `[replaced)` unmapped first: RLIMIT_AS and
/// RLIMIT_DATA (Linux's may_expand_vm). ENOMEM if not.
fn may_expand<H: Host>(
    k: &mut Kernel<H>,
    grow: u64,
    data: bool,
    replaced: Option<(u64, u64)>,
) -> KResult<()> {
    let p = k.proc();
    let as_lim = p.rlimit(RLIMIT_AS).rlim_cur;
    let data_lim = p.rlimit(RLIMIT_DATA).rlim_cur;
    if as_lim == RLIM_INFINITY && (data_lim == RLIM_INFINITY || !data) {
        return Ok(());
    }
    let (mut total, mut dvm) = p.mm.vm_bytes(0, u64::MAX);
    if let Some((s, e)) = replaced {
        let (t, d) = p.mm.vm_bytes(s, e);
        total -= t;
        dvm -= d;
    }
    let pages = |b: u64| b >> 12;
    if pages(total) + pages(grow) > pages(as_lim) {
        return Err(Errno::ENOMEM);
    }
    if data && pages(dvm) + pages(grow) > pages(data_lim) {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// Locks a new mapping after mlockall(MCL_FUTURE).
fn lock_new<H: Host>(k: &mut Kernel<H>, start: u64, len: u64) -> KResult<()> {
    let (p, host, frames, _) = k.parts();
    if let Some(onfault) = p.mm.lock_future {
        let end = start + len;
        p.mm.lock_range(frames, host, start, end, onfault)?;
    }
    Ok(())
}

/// MAP_LOCKED locks a new mapping (its pages made resident), MAP_POPULATE
/// makes its pages resident; as on Linux, a failure to populate is not the
/// mmap's.
fn lock_or_populate<H: Host>(k: &mut Kernel<H>, f: MapFlags, start: u64, len: u64) {
    let (p, host, frames, _) = k.parts();
    if f.contains(MapFlags::LOCKED) {
        let _ = p.mm.lock_range(frames, host, start, start + len, false);
    } else if f.contains(MapFlags::POPULATE) {
        let _ = p.mm.populate_range(frames, host, start, start + len);
    }
}

/// brk(2): returns the new break, or the old one if it cannot move.
pub fn sys_brk<H: Host>(k: &mut Kernel<H>, addr: u64) -> SysResult {
    let (old, brk_start) = (k.proc().mm.brk, k.proc().mm.brk_start);
    if addr == 0 {
        return Ok(old as usize);
    }
    let (old_end, new_end) = (
        crate::mm::page_ceil(old).unwrap_or(old),
        crate::mm::page_ceil(addr).unwrap_or(addr),
    );
    if addr >= brk_start
        && new_end > old_end
        && may_expand(k, new_end - old_end, true, None).is_err()
    {
        return Ok(old as usize);
    }
    let (p, _, frames, _) = k.parts();
    let now = p.mm.set_brk(frames, addr);
    if now == addr && new_end > old_end {
        let _ = lock_new(k, old_end, new_end - old_end);
    }
    Ok(now as usize)
}

/// MAP_32BIT (x86_64 only): place the mapping in the first 2 GiB.
const MAP_32BIT: u32 = 0x40;

/// mmap(2): anonymous (private or shared) and file mappings, private or
/// shared, through the page cache (see [`crate::mm::pagecache`]); MAP_SHARED
/// of /dev/zero is shared anonymous memory.
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
                let replaced =
                    (placement == Placement::Fixed).then(|| (addr, addr.saturating_add(plen)));
                may_expand(k, plen, prot.contains(Prot::WRITE) && !shared, replaced)?;
                let (p, _, frames, _) = k.parts();
                let start = p.mm.map(frames, addr, plen, prot, kind, placement)?;
                lock_new(k, start, plen)?;
                lock_or_populate(k, f, start, plen);
                return Ok(start as usize);
            }
            _ => return Err(Errno::ENODEV),
        };
        // A regular file's offsets end at i64::MAX (MAX_LFS_FILESIZE).
        if off > i64::MAX as u64 - plen {
            return Err(Errno::EOVERFLOW);
        }
        if !file.readable() {
            return Err(Errno::EACCES);
        }
        // A cache of this file that just went may have pages to write back
        // before a new one reads the file.
        k.drain_writeback();
        let cache = k.frames.file_cache(Arc::new(InodeFile(inode)));
        if shared {
            let sealed =
                crate::syscall::memfd::seals_of(&file) & (seal::WRITE | seal::FUTURE_WRITE) != 0;
            if prot.contains(Prot::WRITE) {
                if !file.writable() {
                    return Err(Errno::EACCES);
                }
                if sealed {
                    return Err(Errno::EPERM);
                }
            }
            let access = if file.writable() && !sealed {
                FileAccess::ReadWrite
            } else {
                FileAccess::ReadOnly
            };
            VmaKind::Shared {
                obj: SharedMem::for_file(&k.frames, cache, access),
                offset: off,
            }
        } else {
            // Bounded by the file's size (SIGBUS past it), not by the
            // mapping's address.
            VmaKind::File {
                backing: MappedFile::new(cache, PastEof::Sigbus),
                offset: off,
                file_end: u64::MAX,
            }
        }
    };
    let data = prot.contains(Prot::WRITE) && !shared;
    let replaced = (placement == Placement::Fixed).then(|| (addr, addr.saturating_add(plen)));
    may_expand(k, plen, data, replaced)?;
    let (p, _, frames, _) = k.parts();
    let start = p.mm.map(frames, addr, len, prot, kind, placement)?;
    lock_new(k, start, plen)?;
    lock_or_populate(k, f, start, plen);
    Ok(start as usize)
}

/// munmap(2).
pub fn sys_munmap<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64) -> SysResult {
    if addr.is_multiple_of(4096) {
        super::filemap::before_unmap(k, addr, len);
    }
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
    // A new thread's stack: its creator writes the top page next (see
    // `makes_guarded_stack`).
    let stack = k.proc().mm.makes_guarded_stack(addr, len, prot);
    k.proc().mm.mprotect(addr, len, prot)?;
    if stack {
        let top =
            crate::mm::page_ceil(addr + len).unwrap_or(addr) - crate::config::PAGE_SIZE as u64;
        let (p, host, frames, _) = k.parts();
        p.mm.prefault(frames, host, top);
    }
    Ok(0)
}

/// madvise(2): MADV_DONTNEED drops the pages (private anonymous memory
/// reads back as zeroes, a private file mapping as the file, shared memory
/// keeps its contents); hints are accepted. Unknown advice is EINVAL, a range
/// with a hole ENOMEM (after the advice, as Linux). MADV_REMOVE is EINVAL
/// outside a shared writable mapping and EOPNOTSUPP in one (no hole
/// punching); MADV_WIPEONFORK, which umbra does not do, is EINVAL.
pub fn sys_madvise<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64, advice: u32) -> SysResult {
    const MADV_DONTNEED: u32 = 4;
    const MADV_REMOVE: u32 = 9;
    const MADV_WIPEONFORK: u32 = 18;
    const MADV_DONTNEED_LOCKED: u32 = 24;
    // Advice Linux knows (madvise_behavior_valid): the hints, DONTNEED,
    // FREE, REMOVE, (DONT|DO)FORK, KSM and THP, (DONT|DO)DUMP, the fork
    // wiping pair, COLD, PAGEOUT, POPULATE_(READ|WRITE), DONTNEED_LOCKED,
    // COLLAPSE.
    let known = matches!(advice, 0..=4 | 8..=25);
    if !known {
        return Err(Errno::EINVAL);
    }
    if !addr.is_multiple_of(4096) {
        return Err(Errno::EINVAL);
    }
    let Some(end) = addr.checked_add(len).and_then(crate::mm::page_ceil) else {
        return Err(Errno::EINVAL);
    };
    if end == addr {
        return Ok(0);
    }
    if end > crate::arch::USER_END {
        return Err(Errno::ENOMEM);
    }
    if advice == MADV_WIPEONFORK {
        return Err(Errno::EINVAL);
    }
    let mm = &k.proc().mm;
    let hole = !mm.vmas.covers(addr, end);
    if advice == MADV_REMOVE {
        let shared_writable = mm
            .vmas
            .find(addr)
            .is_some_and(|v| v.is_shared() && v.prot.contains(Prot::WRITE));
        return Err(if shared_writable {
            Errno::EOPNOTSUPP
        } else {
            Errno::EINVAL
        });
    }
    if advice == MADV_DONTNEED || advice == MADV_DONTNEED_LOCKED {
        if advice == MADV_DONTNEED && mm.locked_bytes(addr, end) > 0 {
            return Err(Errno::EINVAL);
        }
        let (p, _, frames, _) = k.parts();
        p.mm.discard(frames, addr, end - addr)?;
    }
    if hole {
        return Err(Errno::ENOMEM);
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
    let (grow, data) = match k.proc().mm.vmas.find(old) {
        Some(v) => (
            crate::mm::page_ceil(new_len)
                .unwrap_or(0)
                .saturating_sub(crate::mm::page_ceil(old_len).unwrap_or(0)),
            AddressSpace::is_data(v),
        ),
        None => (0, false),
    };
    if grow > 0 {
        may_expand(k, grow, data, None)?;
    }
    let (p, _, frames, _) = k.parts();
    p.mm.mremap(frames, old, old_len, new_len, flags, new)
        .map(|a| a as usize)
}

/// The page-aligned range mlock(2) and munlock(2) act on: `addr` rounded down,
/// the end rounded up. EINVAL on overflow; `None` for an empty range.
fn lock_span(addr: u64, len: u64) -> KResult<Option<(u64, u64)>> {
    let start = crate::mm::page_floor(addr);
    let end = addr
        .checked_add(len)
        .and_then(crate::mm::page_ceil)
        .ok_or(Errno::EINVAL)?;
    if end > crate::arch::USER_END {
        return Err(Errno::ENOMEM);
    }
    Ok((end > start).then_some((start, end)))
}

/// Whether the caller may lock `more` bytes beyond what it has locked:
/// RLIMIT_MEMLOCK binds all but a process with CAP_IPC_LOCK (root); a limit of
/// 0 is EPERM, going past it ENOMEM.
fn may_lock<H: Host>(k: &mut Kernel<H>, total_after: u64) -> KResult<()> {
    /// CAP_IPC_LOCK.
    const CAP_IPC_LOCK: u32 = 14;
    let p = k.proc();
    if p.creds.capable(CAP_IPC_LOCK) {
        return Ok(());
    }
    let lim = p.rlimit(RLIMIT_MEMLOCK).rlim_cur;
    if lim == 0 {
        return Err(Errno::EPERM);
    }
    if lim != RLIM_INFINITY && total_after > lim {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// mlock(2) and mlock2(2) (MLOCK_ONFAULT): locks the pages of the range and,
/// unless on fault, makes them resident now.
pub fn sys_mlock2<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64, flags: u32) -> SysResult {
    const MLOCK_ONFAULT: u32 = 1;
    if flags & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    let Some((start, end)) = lock_span(addr, len)? else {
        return Ok(0);
    };
    let mm = &k.proc().mm;
    let after = mm.locked_bytes(0, u64::MAX) + (end - start) - mm.locked_bytes(start, end);
    may_lock(k, after)?;
    let (p, host, frames, _) = k.parts();
    p.mm.lock_range(frames, host, start, end, flags & MLOCK_ONFAULT != 0)?;
    Ok(0)
}

/// munlock(2).
pub fn sys_munlock<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64) -> SysResult {
    let Some((start, end)) = lock_span(addr, len)? else {
        return Ok(0);
    };
    let mm = &mut k.proc().mm;
    if !mm.vmas.covers(start, end) {
        return Err(Errno::ENOMEM);
    }
    mm.unlock_range(start, end);
    Ok(0)
}

/// mlockall(2): MCL_CURRENT locks every mapping now, MCL_FUTURE every later
/// one; MCL_ONFAULT with either locks pages as they fault in.
pub fn sys_mlockall<H: Host>(k: &mut Kernel<H>, flags: u32) -> SysResult {
    const MCL_CURRENT: u32 = 1;
    const MCL_FUTURE: u32 = 2;
    const MCL_ONFAULT: u32 = 4;
    if flags == 0
        || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0
        || flags & (MCL_CURRENT | MCL_FUTURE) == 0
    {
        return Err(Errno::EINVAL);
    }
    let onfault = flags & MCL_ONFAULT != 0;
    if flags & MCL_CURRENT != 0 {
        let total = k.proc().mm.vm_bytes(0, u64::MAX).0;
        may_lock(k, total)?;
        let (p, host, frames, _) = k.parts();
        let spans: alloc::vec::Vec<(u64, u64)> =
            p.mm.vmas.iter().map(|v| (v.start, v.end)).collect();
        for (s, e) in spans {
            p.mm.lock_range(frames, host, s, e, onfault)?;
        }
    } else {
        may_lock(k, 0)?;
    }
    let mm = &mut k.proc().mm;
    mm.lock_future = (flags & MCL_FUTURE != 0).then_some(onfault);
    Ok(0)
}

/// munlockall(2).
pub fn sys_munlockall<H: Host>(k: &mut Kernel<H>) -> SysResult {
    k.proc().mm.unlock_all();
    Ok(0)
}

/// mincore(2): one byte per page of the range, 1 where the page is resident.
pub fn sys_mincore<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64, vec: u64) -> SysResult {
    if !addr.is_multiple_of(4096) {
        return Err(Errno::EINVAL);
    }
    let end = addr
        .checked_add(len)
        .and_then(crate::mm::page_ceil)
        .ok_or(Errno::ENOMEM)?;
    if end > crate::arch::USER_END {
        return Err(Errno::ENOMEM);
    }
    if end == addr {
        return Ok(0);
    }
    // A chunk at a time, as Linux: the vector may be larger than the kernel
    // could hold at once.
    const CHUNK: u64 = 1 << 16;
    let mut at = addr;
    while at < end {
        let to = end.min(at.saturating_add(CHUNK << 12));
        let bytes = k.proc().mm.residency(at, to)?;
        let dst = vec.checked_add((at - addr) >> 12).ok_or(Errno::EFAULT)?;
        k.user().write_bytes(dst, &bytes)?;
        at = to;
    }
    Ok(0)
}
