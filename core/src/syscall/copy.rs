//! Calls that move or make file space inside the kernel: fallocate,
//! sendfile (sendfile64 on 32-bit arches) and copy_file_range.
//!
//! Data moves through a bounded kernel buffer, a chunk at a time, as in
//! read and write. fallocate does what the filesystem's Linux counterpart
//! does: tmpfs allocates (mode 0, FALLOC_FL_KEEP_SIZE) and punches holes
//! (zeroes), and refuses the other modes with EOPNOTSUPP; ext2 has no
//! fallocate on Linux, so every mode is EOPNOTSUPP there.

use super::io::{finish_write, fsize_check_truncate, fsize_exceeded, fsize_limit};
use super::Outcome;
use crate::fs::file::OpenFile;
use crate::fs::tmpfs::seal;
use crate::fs::vfs::timespec_from_ns;
use crate::fs::FileType;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::{Restart, Wait};
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use alloc::vec;
use umbra_abi::flags::*;
use umbra_abi::Errno;

const FALLOC_FL_KEEP_SIZE: u32 = 0x01;
const FALLOC_FL_PUNCH_HOLE: u32 = 0x02;
const FALLOC_FL_COLLAPSE_RANGE: u32 = 0x08;
const FALLOC_FL_ZERO_RANGE: u32 = 0x10;
const FALLOC_FL_INSERT_RANGE: u32 = 0x20;
const FALLOC_FL_UNSHARE_RANGE: u32 = 0x40;
/// The modes Linux knows (FALLOC_FL_MODE_MASK | FALLOC_FL_KEEP_SIZE).
const FALLOC_KNOWN: u32 = FALLOC_FL_KEEP_SIZE
    | FALLOC_FL_PUNCH_HOLE
    | FALLOC_FL_COLLAPSE_RANGE
    | FALLOC_FL_ZERO_RANGE
    | FALLOC_FL_INSERT_RANGE
    | FALLOC_FL_UNSHARE_RANGE
    | 0x80;

/// Largest chunk moved through the kernel at once.
const CHUNK: usize = 64 << 10;
/// Linux's MAX_RW_COUNT.
const MAX_RW: usize = 0x7fff_f000;
const MAX_OFFSET: u64 = i64::MAX as u64;

fn file<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<Arc<OpenFile>> {
    k.proc().fds.get(fd)
}

fn kind(f: &OpenFile) -> Option<FileType> {
    f.inode().map(|i| i.kind())
}

/// fallocate(2), with Linux's checks in Linux's order (vfs_fallocate).
pub fn sys_fallocate<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    mode: u32,
    off: i64,
    len: i64,
) -> SysResult {
    let f = file(k, fd)?;
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if mode & !FALLOC_KNOWN != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    match mode & !FALLOC_FL_KEEP_SIZE {
        0 | FALLOC_FL_ZERO_RANGE | FALLOC_FL_UNSHARE_RANGE => {}
        FALLOC_FL_PUNCH_HOLE if mode & FALLOC_FL_KEEP_SIZE != 0 => {}
        FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE | 0x80
            if mode & FALLOC_FL_KEEP_SIZE == 0 => {}
        _ => return Err(Errno::EOPNOTSUPP),
    }
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    match kind(&f) {
        _ if f
            .ops()
            .is_some_and(|o| crate::fs::pipe::pending(&**o).is_some()) =>
        {
            return Err(Errno::ESPIPE)
        }
        Some(FileType::Fifo) => return Err(Errno::ESPIPE),
        Some(FileType::Directory) => return Err(Errno::EISDIR),
        Some(FileType::Regular) => {}
        _ => return Err(Errno::ENODEV),
    }
    let (off, len) = (off as u64, len as u64);
    let end = off
        .checked_add(len)
        .filter(|e| *e <= MAX_OFFSET)
        .ok_or(Errno::EFBIG)?;
    let inode = f.inode().cloned().ok_or(Errno::ENODEV)?;
    let tmpfs = inode.as_any().is::<crate::fs::tmpfs::TmpInode>();
    if !tmpfs || f.ops().is_some() {
        return Err(Errno::EOPNOTSUPP);
    }
    let size = inode.metadata()?.size;
    // Linux's shmem_fallocate: the seals are checked before anything moves.
    let seals = super::memfd::seals_of(&f);
    if mode & FALLOC_FL_PUNCH_HOLE != 0 && seals & (seal::WRITE | seal::FUTURE_WRITE) != 0 {
        return Err(Errno::EPERM);
    }
    if mode & FALLOC_FL_PUNCH_HOLE == 0 && seals & seal::GROW != 0 && end > size {
        return Err(Errno::EPERM);
    }
    let now = timespec_from_ns(k.host.now_real());
    match mode {
        0 => {
            if end > size {
                if fsize_exceeded(k, end) {
                    fsize_check_truncate(k, size, end)?;
                }
                inode.truncate(end, now)?;
            }
            Ok(0)
        }
        // tmpfs allocates pages as they are written; nothing to reserve.
        FALLOC_FL_KEEP_SIZE => Ok(0),
        m if m == FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE => {
            let zeros = vec![0u8; CHUNK];
            let mut at = off;
            let stop = end.min(size);
            while at < stop {
                let n = ((stop - at) as usize).min(CHUNK);
                let w = inode.write_at(at, &zeros[..n], now)?;
                super::filemap::zeroed(k, &inode, at, w);
                at += w.max(1) as u64;
            }
            Ok(0)
        }
        _ => Err(Errno::EOPNOTSUPP),
    }
}

/// Moves up to `count` bytes from `input` at `pos` to `out` (at its position,
/// or at `*out_pos` when given). Returns the bytes moved and what ended the
/// copy early, if anything did before the first byte.
fn copy_chunks<H: Host>(
    k: &mut Kernel<H>,
    input: &OpenFile,
    pos: u64,
    out: &OpenFile,
    mut out_pos: Option<&mut u64>,
    count: usize,
) -> SysResult {
    let mut buf = vec![0u8; count.min(CHUNK)];
    let mut done = 0usize;
    while done < count {
        let want = (count - done).min(buf.len());
        // The kernel's I/O context: procfs files are made from it (fs/procfs.rs).
        let n = match super::filemap::read_file(k, input, &mut buf[..want], Some(pos + done as u64))
        {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        // RLIMIT_FSIZE: the bytes up to the limit; the next round raises
        // SIGXFSZ and ends the copy, as Linux's splice loop does.
        let n = match fsize_limit(k, out, out_pos.as_deref().copied(), n) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let w = super::filemap::write_file(k, out, &buf[..n], out_pos.as_deref().copied());
        let w = match w {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if let Some(p) = out_pos.as_deref_mut() {
            *p += w as u64;
        }
        done += w;
        if w < n {
            break;
        }
    }
    Ok(done)
}

/// sendfile(2): `off` is the address of the input offset (0: the input's
/// position, which then moves).
pub fn sys_sendfile<H: Host>(
    k: &mut Kernel<H>,
    out_fd: i32,
    in_fd: i32,
    off: u64,
    count: usize,
    off64: bool,
) -> Outcome {
    match sendfile(k, out_fd, in_fd, off, count, off64) {
        Err(Errno::EAGAIN) if file(k, out_fd).is_ok_and(|f| !f.is_nonblocking()) => {
            Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::WithSaRestart,
            })
        }
        r => finish_write(k, out_fd, r),
    }
}

fn sendfile<H: Host>(
    k: &mut Kernel<H>,
    out_fd: i32,
    in_fd: i32,
    off: u64,
    count: usize,
    off64: bool,
) -> SysResult {
    let input = file(k, in_fd)?;
    if !input.readable() {
        return Err(Errno::EBADF);
    }
    let pos = if off != 0 {
        if !input.seekable() {
            return Err(Errno::ESPIPE);
        }
        let p = read_off(k, off, off64)?;
        u64::try_from(p).map_err(|_| Errno::EINVAL)?
    } else {
        if !input.seekable() || input.inode().is_none() {
            return Err(Errno::EINVAL);
        }
        input.offset()
    };
    let count = count.min(MAX_RW);
    if pos.checked_add(count as u64).is_none_or(|e| e > MAX_OFFSET) {
        return Err(Errno::EINVAL);
    }
    let out = file(k, out_fd)?;
    if !out.writable() {
        return Err(Errno::EBADF);
    }
    if out.flags().contains(OpenFlags::O_APPEND) {
        return Err(Errno::EINVAL);
    }
    if count == 0 {
        return Ok(0);
    }
    let n = copy_chunks(k, &input, pos, &out, None, count)?;
    let new = pos + n as u64;
    if off != 0 {
        write_off(k, off, new as i64, off64)?;
    } else {
        input.lseek(new as i64, SEEK_SET)?;
    }
    Ok(n)
}

/// Reads an loff_t (or, for the 32-bit sendfile, an off_t) at `at`.
fn read_off<H: Host>(k: &mut Kernel<H>, at: u64, off64: bool) -> KResult<i64> {
    if off64 || cfg!(target_pointer_width = "64") {
        let mut b = [0u8; 8];
        k.user().read_bytes(at, &mut b)?;
        Ok(i64::from_ne_bytes(b))
    } else {
        let mut b = [0u8; 4];
        k.user().read_bytes(at, &mut b)?;
        Ok(i32::from_ne_bytes(b) as i64)
    }
}

fn write_off<H: Host>(k: &mut Kernel<H>, at: u64, v: i64, off64: bool) -> KResult<()> {
    if off64 || cfg!(target_pointer_width = "64") {
        k.user().write_bytes(at, &v.to_ne_bytes())
    } else {
        let v = i32::try_from(v).map_err(|_| Errno::EOVERFLOW)?;
        k.user().write_bytes(at, &v.to_ne_bytes())
    }
}

/// copy_file_range(2), with the checks of Linux 5.19 and later: both files
/// regular and on one filesystem (EXDEV otherwise), no overlap within one
/// file, the copy shortened at the input's end.
pub fn sys_copy_file_range<H: Host>(
    k: &mut Kernel<H>,
    fd_in: i32,
    off_in: u64,
    fd_out: i32,
    off_out: u64,
    len: usize,
    flags: u32,
) -> SysResult {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let input = file(k, fd_in)?;
    let out = file(k, fd_out)?;
    let pos_in = if off_in != 0 {
        u64::try_from(read_off(k, off_in, true)?).map_err(|_| Errno::EINVAL)?
    } else {
        input.offset()
    };
    let pos_out = if off_out != 0 {
        u64::try_from(read_off(k, off_out, true)?).map_err(|_| Errno::EINVAL)?
    } else {
        out.offset()
    };
    let (ki, ko) = (kind(&input), kind(&out));
    if ki == Some(FileType::Directory) || ko == Some(FileType::Directory) {
        return Err(Errno::EISDIR);
    }
    let regular =
        |f: &OpenFile, k: Option<FileType>| k == Some(FileType::Regular) && f.ops().is_none();
    if !regular(&input, ki) || !regular(&out, ko) {
        return Err(Errno::EINVAL);
    }
    if !input.readable() || !out.writable() || out.flags().contains(OpenFlags::O_APPEND) {
        return Err(Errno::EBADF);
    }
    let (mi, mo) = (input.stat()?, out.stat()?);
    if mi.dev != mo.dev {
        return Err(Errno::EXDEV);
    }
    let len = len.min(MAX_RW) as u64;
    if pos_in.checked_add(len).is_none() || pos_out.checked_add(len).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    // Shortened at the input's end first; then overlap within one file.
    let count = mi.size.saturating_sub(pos_in).min(len);
    if mi.ino == mo.ino && pos_out + count > pos_in && pos_out < pos_in + count {
        return Err(Errno::EINVAL);
    }
    // generic_write_check_limits: shortened to RLIMIT_FSIZE up front.
    let count = fsize_limit(k, &out, Some(pos_out), count as usize)?;
    if count == 0 {
        return Ok(0);
    }
    let mut at_out = pos_out;
    let n = copy_chunks(k, &input, pos_in, &out, Some(&mut at_out), count)?;
    if off_in != 0 {
        write_off(k, off_in, (pos_in + n as u64) as i64, true)?;
    } else {
        input.lseek((pos_in + n as u64) as i64, SEEK_SET)?;
    }
    if off_out != 0 {
        write_off(k, off_out, at_out as i64, true)?;
    } else {
        out.lseek(at_out as i64, SEEK_SET)?;
    }
    Ok(n)
}
