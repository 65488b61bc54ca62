//! read, readv, pread64, write, writev and pwrite64 on regular files and
//! pipes, with one copy (issue 13): the bytes move between the file's own
//! storage (tmpfs pages, the ext2 image through the block device, a pipe's
//! ring) and guest memory in the memory file, with no kernel buffer between.
//!
//! Each step resolves up to [`STEP`] bytes of the guest buffers (for a read,
//! no more than the file holds) into spans of the memory file
//! ([`crate::mm::spans`]) before the file is touched, then hands the file
//! those slices. The checks are those of the buffered path:
//! - only what the guest could access is resolved, so a read that would
//!   fault part-way returns the bytes before the fault (EFAULT only when
//!   there are none), and a pipe keeps what could not be delivered;
//! - what precedes a fault is written, as Linux's copy from user that stops
//!   short;
//! - guest bytes are read once, straight into the file, and a mapped file's
//!   cached pages are refreshed from the file, never from guest memory again.

use crate::fs::file::OpenFile;
use crate::fs::vfs::timespec_from_ns;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::spans::{carve, carve_mut, fill_from, total};
use crate::mm::{Access, PhysSpan};
use crate::SysResult;
use alloc::vec;
use alloc::vec::Vec;
use umbra_abi::flags::OpenFlags;
use umbra_abi::Errno;

/// Bytes resolved per step: bounds the span list (one span per 4 KiB page
/// at worst), so a huge read costs the kernel a few KiB of bookkeeping.
const STEP: usize = 1 << 20;

/// Resolves the next at most `limit` bytes of `iov` from `cur` (index,
/// bytes done in it) into `spans`, for `access`, up to the first byte the
/// guest could not access. Returns (bytes resolved, whether a fault ended
/// them, or the first page's error if nothing resolved).
pub(super) fn resolve_step<H: Host>(
    k: &mut Kernel<H>,
    iov: &[(u64, usize)],
    cur: &mut (usize, usize),
    access: Access,
    spans: &mut Vec<PhysSpan>,
    limit: usize,
) -> Result<(usize, bool), Errno> {
    spans.clear();
    let mut got = 0usize;
    while got < limit {
        let Some(&(base, len)) = iov.get(cur.0) else {
            return Ok((got, false));
        };
        if cur.1 >= len {
            *cur = (cur.0 + 1, 0);
            continue;
        }
        let va = base.wrapping_add(cur.1 as u64);
        let left = (len - cur.1).min(limit - got);
        // The VMAs first: what the guest itself could not touch is never
        // populated for it.
        let ok = k.proc().mm.accessible(va, left, access == Access::Write);
        let r = if ok == 0 {
            Err(Errno::EFAULT)
        } else {
            let u = k.user();
            u.mm.resolve(u.frames, u.host, va, ok, access, spans)
        };
        match r {
            Ok(n) => {
                got += n;
                cur.1 += n;
                if n < left {
                    return Ok((got, true));
                }
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => return Ok((got, true)),
        }
    }
    Ok((got, false))
}

/// Reads from `file` (at its position, or `off`) into the guest buffers
/// `iov` as one buffer, for a file that [`OpenFile::is_direct`].
pub(super) fn read<H: Host>(
    k: &mut Kernel<H>,
    file: &OpenFile,
    iov: &[(u64, usize)],
    off: Option<u64>,
) -> SysResult {
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if off.is_some() && !file.seekable() {
        return Err(Errno::ESPIPE);
    }
    let len: usize = iov.iter().map(|&(_, l)| l).sum();
    if len == 0 {
        return Ok(0);
    }
    let mut spans = Vec::new();
    let mut cur = (0usize, 0usize);
    let mut done = 0usize;
    loop {
        let before = off.map_or_else(|| file.offset(), |o| o + done as u64);
        // No more of the buffer than the file can fill is resolved: a big
        // buffer for a small file populates no page the read leaves alone.
        let avail = available(file, before);
        if avail == 0 {
            break;
        }
        let limit = avail.min(STEP);
        let (got, faulted) = match resolve_step(k, iov, &mut cur, Access::Write, &mut spans, limit)
        {
            Ok(r) => r,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if got == 0 {
            break;
        }
        k.drain_writeback();
        let cache = super::filemap::cache_of(k, file);
        if let Some(c) = cache.as_ref().filter(|c| c.dirty_in(before, got, &spans)) {
            // A file read into its own shared mapping, over pages written
            // through it: read, overlay and copy out through a kernel
            // buffer, as the dirty bytes are the source too.
            let mut kbuf = vec![0u8; got];
            let n = match file.read_direct(&mut [&mut kbuf[..]], off.map(|o| o + done as u64)) {
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            c.overlay(&k.host, before, &mut kbuf[..n]);
            fill_from(k.host.physmem_mut(), &spans, &kbuf[..n]);
            if n > 0 {
                super::inotify::fsnotify_file(k, file, crate::fs::inotify::IN_ACCESS);
            }
            done += n;
            if n < got || faulted || done >= len || got == avail {
                break;
            }
            continue;
        }
        let mut bufs = carve_mut(k.host.physmem_mut(), &spans);
        let cap: usize = bufs.iter().map(|b| b.len()).sum();
        if cap == 0 {
            // Not reached: the first span never clashes with another.
            return if done == 0 {
                Err(Errno::EFAULT)
            } else {
                Ok(done)
            };
        }
        let r = file.read_direct(&mut bufs, off.map(|o| o + done as u64));
        drop(bufs);
        let n = match r {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if let Some(c) = cache {
            c.overlay_spans(&mut k.host, before, n, &spans);
        }
        if n > 0 && file.ops().is_none() {
            super::inotify::fsnotify_file(k, file, crate::fs::inotify::IN_ACCESS);
        }
        done += n;
        // A short read: the file or stream has no more for now (a pipe
        // returns all it holds, as Linux's pipe_read). A slice list cut
        // short by a frame reached twice goes on from there.
        // All the file had: done.
        if n < cap || (cap == got && (faulted || got == avail)) || done >= len {
            break;
        }
        if cap < got {
            // Resolve the rest again from where the slices ended.
            cur = advance(iov, done);
        }
    }
    Ok(done)
}

/// Writes the guest buffers `iov`, as one buffer, to `file` (at its
/// position, or `off`), for a file that [`OpenFile::is_direct`].
pub(super) fn write<H: Host>(
    k: &mut Kernel<H>,
    file: &OpenFile,
    iov: &[(u64, usize)],
    off: Option<u64>,
) -> SysResult {
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    if off.is_some() && !file.seekable() {
        return Err(Errno::ESPIPE);
    }
    let len: usize = iov.iter().map(|&(_, l)| l).sum();
    if len == 0 {
        return file.write_direct(&[], off, timespec_from_ns(k.host.now_real()));
    }
    let mut spans = Vec::new();
    let mut cur = (0usize, 0usize);
    let mut done = 0usize;
    loop {
        let (got, faulted) = match resolve_step(k, iov, &mut cur, Access::Read, &mut spans, STEP) {
            Ok(r) => r,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if got == 0 {
            break;
        }
        k.drain_writeback();
        let cache = super::filemap::cache_of(k, file);
        let before = off.map_or_else(|| file.offset(), |o| o + done as u64);
        let now = timespec_from_ns(k.host.now_real());
        let bufs = carve(k.host.physmem(), &spans);
        let r = file.write_direct(&bufs, off.map(|o| o + done as u64), now);
        drop(bufs);
        let n = match r {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if let Some(c) = cache {
            // O_APPEND wrote at the end, whatever the position said.
            let at = if file.flags().contains(OpenFlags::O_APPEND) {
                file.stat()
                    .map_or(before, |s| s.size.saturating_sub(n as u64))
            } else {
                before
            };
            c.rewrote(&mut k.host, at, n);
        }
        if n > 0 && file.ops().is_none() {
            super::inotify::fsnotify_file(k, file, crate::fs::inotify::IN_MODIFY);
        }
        done += n;
        if n < total(&spans) || faulted || done >= len {
            break;
        }
    }
    Ok(done)
}

/// How many bytes a read of `file` at `pos` can return now: a regular
/// file's bytes past `pos`, a pipe's bytes held, but at least 1 for a pipe
/// (an empty one still answers EAGAIN or end of file, and a guest buffer
/// that cannot take a byte EFAULT, as before).
fn available(file: &OpenFile, pos: u64) -> usize {
    if let Some(ops) = file.ops() {
        return crate::fs::pipe::pending(&**ops).map_or(usize::MAX, |n| n.max(1));
    }
    file.inode()
        .and_then(|i| i.metadata().ok())
        .map_or(usize::MAX, |m| {
            usize::try_from(m.size.saturating_sub(pos)).unwrap_or(usize::MAX)
        })
}

/// The place `done` bytes into `iov`: (index, bytes into that buffer).
pub(super) fn advance(iov: &[(u64, usize)], mut done: usize) -> (usize, usize) {
    for (i, &(_, l)) in iov.iter().enumerate() {
        if done < l {
            return (i, done);
        }
        done -= l;
    }
    (iov.len(), 0)
}
