//! File-backed memory at the syscall layer: msync(2), and what keeps read(2),
//! write(2), truncate and fsync coherent with the page cache of mapped files
//! (see [`crate::mm::pagecache`] for the design).
//!
//! A file has a cache only while some mapping of it lives, so these hooks cost
//! one registry lookup for an unmapped file. Writes go to the file and into
//! the cached pages they cover; reads take dirty pages from the cache; a
//! truncate drops the pages past the new end from the cache and from every
//! address space that maps them (their next touch is SIGBUS); fsync, msync,
//! munmap and exit write dirty pages back. The dirty pages of a cache whose
//! last mapping went wait in a queue; every hook drains it first, so the file
//! is up to date before anything reads it or maps it anew.

use crate::fs::file::OpenFile;
use crate::fs::vfs::timespec_from_ns;
use crate::fs::Inode;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::loader::inode_key;
use crate::mm::FileCache;
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::OpenFlags;
use umbra_abi::Errno;

/// The live page cache of the regular file behind `file`, if it is mapped.
pub(super) fn cache_of<H: Host>(k: &Kernel<H>, file: &OpenFile) -> Option<Arc<FileCache>> {
    if file.ops().is_some() {
        return None;
    }
    k.frames.cache_of(inode_key(file.inode()?))
}

/// write(2) or pwrite(2) (`off`) of `data` to `file`, keeping the cached
/// pages of a mapped file in step.
pub fn write_file<H: Host>(
    k: &mut Kernel<H>,
    file: &OpenFile,
    data: &[u8],
    off: Option<u64>,
) -> KResult<usize> {
    k.drain_writeback();
    let Some(cache) = cache_of(k, file) else {
        let r = match off {
            Some(o) => file.pwrite(&mut k.host, data, o),
            None => file.write(&mut k.host, data),
        };
        if r.as_ref().is_ok_and(|&n| n > 0) && file.ops().is_none() {
            super::inotify::fsnotify_file(k, file, crate::fs::inotify::IN_MODIFY);
        }
        return r;
    };
    let before = off.unwrap_or_else(|| file.offset());
    let n = match off {
        Some(o) => file.pwrite(&mut k.host, data, o)?,
        None => file.write(&mut k.host, data)?,
    };
    // O_APPEND wrote at the end, whatever the position said.
    let at = if file.flags().contains(OpenFlags::O_APPEND) {
        file.stat()?.size.saturating_sub(n as u64)
    } else {
        before
    };
    cache.wrote(&mut k.host, at, data.get(..n).unwrap_or(data));
    if n > 0 {
        super::inotify::fsnotify_file(k, file, crate::fs::inotify::IN_MODIFY);
    }
    Ok(n)
}

/// read(2) or pread(2) (`off`) from `file` into `buf`, with the bytes of
/// pages written through a shared mapping and not yet written back.
pub fn read_file<H: Host>(
    k: &mut Kernel<H>,
    file: &OpenFile,
    buf: &mut [u8],
    off: Option<u64>,
) -> KResult<usize> {
    k.drain_writeback();
    let cache = cache_of(k, file);
    let before = off.unwrap_or_else(|| file.offset());
    let n = match off {
        Some(o) => file.pread(&mut k.io(), buf, o)?,
        None => file.read(&mut k.io(), buf)?,
    };
    if let (Some(c), Some(got)) = (cache, buf.get_mut(..n)) {
        c.overlay(&k.host, before, got);
    }
    if n > 0 && file.ops().is_none() {
        super::inotify::fsnotify_file(k, file, crate::fs::inotify::IN_ACCESS);
    }
    Ok(n)
}

/// Zeroes written by the kernel into `inode` at `off` (a punched hole):
/// the cached pages take them too.
pub fn zeroed<H: Host>(k: &mut Kernel<H>, inode: &Arc<dyn Inode>, off: u64, len: usize) {
    if let Some(c) = k.frames.cache_of(inode_key(inode)) {
        let zeros = alloc::vec![0u8; len];
        c.wrote(&mut k.host, off, &zeros);
    }
}

/// `inode` was truncated to `size`: pages past the end leave its cache and
/// every address space.
pub fn truncated<H: Host>(k: &mut Kernel<H>, inode: &Arc<dyn Inode>, size: u64) {
    k.drain_writeback();
    let Some(cache) = k.frames.cache_of(inode_key(inode)) else {
        return;
    };
    for p in k.procs.values_mut() {
        p.mm.truncated_file(&mut k.frames, &cache, size);
    }
    cache.truncated(&mut k.frames, &mut k.host, size);
}

/// Writes back the dirty pages of `inode`'s cache (fsync(2)).
pub fn sync_inode<H: Host>(k: &mut Kernel<H>, inode: &Arc<dyn Inode>) -> KResult<()> {
    k.drain_writeback();
    let Some(cache) = k.frames.cache_of(inode_key(inode)) else {
        return Ok(());
    };
    let now = timespec_from_ns(k.host.now_real());
    cache.writeback(&k.frames, &k.host, 0, u64::MAX, now)
}

/// Writes back the dirty pages of the current process's shared file
/// mappings in `[start, end)`: msync(2), and munmap(2) before the pages go.
fn sync_range<H: Host>(k: &mut Kernel<H>, start: u64, end: u64) -> KResult<Vec<Arc<FileCache>>> {
    let files = k.proc().mm.shared_files(start, end);
    let now = timespec_from_ns(k.host.now_real());
    let mut result = Ok(());
    for (cache, first, last) in &files {
        let r = cache.writeback(&k.frames, &k.host, *first, *last, now);
        if result.is_ok() {
            result = r;
        }
    }
    result.map(|()| files.into_iter().map(|(c, _, _)| c).collect())
}

/// munmap(2)'s write-back: the dirty pages of the shared file mappings about
/// to go. A write-back error does not stop the unmap (Linux reports it at
/// the next fsync).
pub fn before_unmap<H: Host>(k: &mut Kernel<H>, start: u64, len: u64) {
    if let Some(end) = start.checked_add(len).and_then(crate::mm::page_ceil) {
        let _ = sync_range(k, start, end);
    }
}

/// Writes back every shared file mapping of the current process (exit and
/// exec, before its address space goes).
pub fn sync_all<H: Host>(k: &mut Kernel<H>) {
    let _ = sync_range(k, 0, u64::MAX);
}

/// msync(2): MS_ASYNC and MS_SYNC write back the dirty pages of the range's
/// shared file mappings (MS_SYNC also flushes the files); MS_INVALIDATE has
/// nothing to drop (the mappings are the cache) but is EBUSY on locked
/// pages. EINVAL for a bad address or flags, ENOMEM where nothing is mapped.
pub fn sys_msync<H: Host>(k: &mut Kernel<H>, addr: u64, len: u64, flags: u32) -> SysResult {
    const MS_ASYNC: u32 = 1;
    const MS_INVALIDATE: u32 = 2;
    const MS_SYNC: u32 = 4;
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == (MS_ASYNC | MS_SYNC)
        || !addr.is_multiple_of(4096)
    {
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
    let mm = &k.proc().mm;
    if flags & MS_INVALIDATE != 0 && mm.locked_bytes(addr, end) > 0 {
        return Err(Errno::EBUSY);
    }
    // Linux syncs what is mapped and then says ENOMEM if a hole was met.
    let hole = !mm.vmas.covers(addr, end);
    let files = sync_range(k, addr, end)?;
    if flags & MS_SYNC != 0 {
        for c in files {
            c.file().sync()?;
        }
    }
    if hole {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}
