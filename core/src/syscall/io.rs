//! Descriptor I/O: read, write, readv, writev, pread64, pwrite64, lseek, ioctl,
//! fcntl, dup, dup2, dup3, close, getdents64, fsync.
//!
//! Regular files and pipes move their bytes straight between the file and
//! guest memory (see `direct`); other files go through a bounded kernel
//! buffer, so a huge read costs the kernel at most one chunk of memory. A read that would block on a blocking description
//! parks the thread; it is served again when input arrives.

use super::Outcome;
use crate::fs::devfs::ConsoleFile;
use crate::fs::file::OpenFile;
use crate::fs::IoctlArg;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::UserInPtr;
use crate::task::fd_table::FdFlags;
use crate::task::{Restart, Wait};
use crate::tty::TtyCaller;
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use umbra_abi::flags::*;
use umbra_abi::structs::Iovec;

use umbra_abi::Errno;

/// Largest chunk copied through the kernel at once.
const CHUNK: usize = 64 << 10;
/// Linux's MAX_RW_COUNT: one call moves at most this much.
const MAX_RW: usize = 0x7fff_f000;
/// IOV_MAX.
const IOV_MAX: usize = 1024;

fn file<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<Arc<OpenFile>> {
    k.proc().fds.get(fd)
}

/// Turns a would-block into parking the thread, unless the file is non-blocking.
fn blocking(file: &OpenFile, r: SysResult) -> Outcome {
    match r {
        Err(Errno::EAGAIN) if !file.is_nonblocking() => Outcome::Block(Wait::Event {
            deadline: None,
            restart: Restart::WithSaRestart,
        }),
        r => Outcome::Ret(r),
    }
}

/// Reads from `file` at its position (or `off`) into user memory at `buf`.
fn read_into<H: Host>(
    k: &mut Kernel<H>,
    file: &OpenFile,
    buf: u64,
    len: usize,
    off: Option<u64>,
) -> SysResult {
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    let len = len.min(MAX_RW);
    if file.is_direct() {
        return super::direct::read(k, file, &[(buf, len)], off);
    }
    let mut kbuf = vec![0u8; len.min(CHUNK)];
    let mut done = 0;
    while done < len {
        // Never take from the file what cannot be copied out: a stream keeps
        // it, as Linux's copy to user that faults leaves it.
        let want = (len - done).min(kbuf.len()).min(k.proc().mm.accessible(
            buf + done as u64,
            kbuf.len(),
            true,
        ));
        if want == 0 {
            return if done == 0 {
                Err(Errno::EFAULT)
            } else {
                Ok(done)
            };
        }
        let r = super::filemap::read_file(k, file, &mut kbuf[..want], off.map(|o| o + done as u64));
        let n = match r {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if let Err(e) = k.user().write_bytes(buf + done as u64, &kbuf[..n]) {
            // What could not be copied was not read: the position stays
            // before it, as Linux's copy to user that stops short leaves it.
            if off.is_none() && file.seekable() && file.inode().is_some() {
                let _ = file.lseek(-(n as i64), SEEK_CUR);
            }
            return if done == 0 { Err(e) } else { Ok(done) };
        }
        done += n;
        // A short read means the file or stream has no more for now; a
        // stream that filled the chunk may hold more (a pipe returns all it
        // holds, as Linux's pipe_read).
        if n < want {
            break;
        }
    }
    Ok(done)
}

/// Writes user memory at `buf` to `file` at its position (or `off`).
fn write_from<H: Host>(
    k: &mut Kernel<H>,
    file: &OpenFile,
    buf: u64,
    len: usize,
    off: Option<u64>,
) -> SysResult {
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let len = fsize_limit(k, file, off, len.min(MAX_RW))?;
    if file.is_direct() {
        return super::direct::write(k, file, &[(buf, len)], off);
    }
    let mut kbuf = vec![0u8; len.min(CHUNK)];
    let mut done = 0;
    while done < len {
        // What precedes a fault is written; EFAULT only if nothing is.
        let want = (len - done).min(kbuf.len()).min(k.proc().mm.accessible(
            buf + done as u64,
            kbuf.len(),
            false,
        ));
        if want == 0 {
            return if done == 0 {
                Err(Errno::EFAULT)
            } else {
                Ok(done)
            };
        }
        if let Err(e) = k.user().read_bytes(buf + done as u64, &mut kbuf[..want]) {
            return if done == 0 { Err(e) } else { Ok(done) };
        }
        let r = super::filemap::write_file(k, file, &kbuf[..want], off.map(|o| o + done as u64));
        match r {
            Ok(n) => {
                done += n;
                if n < want {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// read(2).
pub fn sys_read<H: Host>(k: &mut Kernel<H>, fd: i32, buf: u64, len: usize) -> Outcome {
    let f = match file(k, fd) {
        Ok(f) => f,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    if crate::net::socket_of(&f).is_some() {
        return super::net::sock_read(k, fd, buf, len);
    }
    if let Some(o) = k.console_job_check(&f, false).outcome() {
        return o;
    }
    let r = read_into(k, &f, buf, len, None);
    if r == Err(Errno::EAGAIN) && !f.is_nonblocking() {
        // A terminal read with VTIME set ends at its timer even without input.
        let wait = f
            .ops()
            .and_then(|o| ConsoleFile::of(&**o))
            .and_then(|c| c.state().read_wait_ns());
        if let Some(ns) = wait {
            let d = k.deadline_after(ns);
            return Outcome::Block(Wait::Event {
                deadline: Some(d),
                restart: Restart::WithSaRestart,
            });
        }
    }
    blocking(&f, r)
}

/// Finishes a write: a would-block on a blocking description parks the
/// caller, and a write that found no reader raises SIGPIPE (the EPIPE is seen
/// only by a process that ignores or handles it).
pub(crate) fn finish_write<H: Host>(k: &mut Kernel<H>, fd: i32, r: SysResult) -> Outcome {
    use umbra_abi::signal::SIGPIPE;
    match r {
        Err(Errno::EAGAIN) if file(k, fd).is_ok_and(|f| !f.is_nonblocking()) => {
            Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::WithSaRestart,
            })
        }
        Err(Errno::EPIPE) => {
            let pid = k.cur;
            let info = crate::task::SigInfo {
                signo: SIGPIPE,
                pid,
                ..Default::default()
            };
            let _ = k.send_signal(pid, SIGPIPE, info);
            Outcome::Ret(Err(Errno::EPIPE))
        }
        r => Outcome::Ret(r),
    }
}

/// write(2).
pub fn sys_write<H: Host>(k: &mut Kernel<H>, fd: i32, buf: u64, len: usize) -> Outcome {
    if let Ok(f) = file(k, fd) {
        if crate::net::socket_of(&f).is_some() {
            return super::net::sock_write(k, fd, buf, len);
        }
        if let Some(o) = k.console_job_check(&f, true).outcome() {
            return o;
        }
    }
    let f = match file(k, fd) {
        Ok(f) => f,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    // A blocking write to a stream (a pipe) moves every byte before it returns:
    // after partial progress the thread parks and goes on from there.
    let done = core::mem::take(&mut k.proc().thread.io_done).min(len);
    let r = write_from(k, &f, buf + done as u64, len - done, None);
    let stream = f.is_stream() && !f.is_nonblocking();
    match r {
        Ok(n) if stream && done + n < len => {
            k.proc().thread.io_done = done + n;
            if n > 0 {
                // The reader this write waits for must be woken to drain it.
                k.note_progress();
            }
            Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::WithSaRestart,
            })
        }
        Err(Errno::EAGAIN) if stream && done > 0 => {
            k.proc().thread.io_done = done;
            Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::WithSaRestart,
            })
        }
        Ok(n) => Outcome::Ret(Ok(done + n)),
        Err(_) if done > 0 => Outcome::Ret(Ok(done)),
        Err(e) => finish_write(k, fd, Err(e)),
    }
}

fn read_iov<H: Host>(k: &mut Kernel<H>, iov: u64, cnt: usize) -> KResult<Vec<Iovec>> {
    if cnt > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let v = super::uabi::read_iovecs(k, iov, cnt)?;
    let mut total = 0u64;
    for e in &v {
        total = total.checked_add(e.iov_len).ok_or(Errno::EINVAL)?;
        if total > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
    }
    Ok(v)
}

/// The first `max` bytes of the buffers `iovs` as (address, length) pairs.
pub(super) fn iov_ranges(iovs: &[Iovec], max: usize) -> Vec<(u64, usize)> {
    let mut left = max;
    let mut out = Vec::with_capacity(iovs.len());
    for e in iovs {
        let n = usize::try_from(e.iov_len).unwrap_or(usize::MAX).min(left);
        if n > 0 {
            out.push((e.iov_base, n));
        }
        left -= n;
        if left == 0 {
            break;
        }
    }
    out
}

/// readv(2).
pub fn sys_readv<H: Host>(k: &mut Kernel<H>, fd: i32, iov: u64, cnt: usize) -> Outcome {
    let f = match file(k, fd) {
        Ok(f) => f,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    if crate::net::socket_of(&f).is_some() {
        return super::net::sock_rwv(k, fd, iov, cnt, false);
    }
    let iovs = match read_iov(k, iov, cnt) {
        Ok(v) => v,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    if f.is_direct() {
        // One read into all the buffers, as Linux's readv (a pipe's bytes
        // are taken under one lock).
        let r = super::direct::read(k, &f, &iov_ranges(&iovs, MAX_RW), None);
        return blocking(&f, r);
    }
    let mut done = 0usize;
    for e in iovs {
        if e.iov_len == 0 {
            continue;
        }
        match read_into(k, &f, e.iov_base, e.iov_len as usize, None) {
            Ok(n) => {
                done += n;
                if n < e.iov_len as usize {
                    break;
                }
            }
            Err(err) if done == 0 => return blocking(&f, Err(err)),
            Err(_) => break,
        }
    }
    Outcome::Ret(Ok(done))
}

/// writev(2).
pub fn sys_writev<H: Host>(k: &mut Kernel<H>, fd: i32, iov: u64, cnt: usize) -> Outcome {
    if file(k, fd).is_ok_and(|f| crate::net::socket_of(&f).is_some()) {
        return super::net::sock_rwv(k, fd, iov, cnt, true);
    }
    let r = writev(k, fd, iov, cnt);
    finish_write(k, fd, r)
}

fn writev<H: Host>(k: &mut Kernel<H>, fd: i32, iov: u64, cnt: usize) -> SysResult {
    let f = file(k, fd)?;
    let iovs = read_iov(k, iov, cnt)?;
    if f.is_direct() {
        if !f.writable() {
            return Err(Errno::EBADF);
        }
        // One write of all the buffers: a pipe takes up to PIPE_BUF bytes
        // of them whole, as Linux's writev.
        let all: u64 = iovs.iter().map(|e| e.iov_len).sum();
        let len = fsize_limit(
            k,
            &f,
            None,
            usize::try_from(all).unwrap_or(MAX_RW).min(MAX_RW),
        )?;
        return super::direct::write(k, &f, &iov_ranges(&iovs, len), None);
    }
    // Gather small vectors into one write, so a line written as several pieces
    // reaches a stream in one go, as Linux's writev does for pipes and ttys.
    let total: u64 = iovs.iter().map(|e| e.iov_len).sum();
    if total as usize <= CHUNK {
        if !f.writable() {
            return Err(Errno::EBADF);
        }
        let mut buf = Vec::with_capacity(total as usize);
        for e in &iovs {
            // What precedes a fault is written (EFAULT only if nothing is).
            let n = k
                .proc()
                .mm
                .accessible(e.iov_base, e.iov_len as usize, false);
            let start = buf.len();
            buf.resize(start + n, 0);
            k.user().read_bytes(e.iov_base, &mut buf[start..])?;
            if n < e.iov_len as usize {
                if buf.is_empty() {
                    return Err(Errno::EFAULT);
                }
                break;
            }
        }
        return super::filemap::write_file(k, &f, &buf, None);
    }
    let mut done = 0usize;
    for e in iovs {
        match write_from(k, &f, e.iov_base, e.iov_len as usize, None) {
            Ok(n) => {
                done += n;
                if n < e.iov_len as usize {
                    break;
                }
            }
            Err(err) if done == 0 => return Err(err),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// pread64(2).
pub fn sys_pread64<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    buf: u64,
    len: usize,
    off: i64,
) -> SysResult {
    let f = file(k, fd)?;
    let off = check_pos(off, len as u64)?;
    read_into(k, &f, buf, len, Some(off))
}

/// pwrite64(2).
pub fn sys_pwrite64<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    buf: u64,
    len: usize,
    off: i64,
) -> Outcome {
    let r = file(k, fd).and_then(|f| {
        let off = check_pos(off, len as u64)?;
        write_from(k, &f, buf, len, Some(off))
    });
    finish_write(k, fd, r)
}

/// lseek(2).
pub fn sys_lseek<H: Host>(k: &mut Kernel<H>, fd: i32, off: i64, whence: u32) -> SysResult {
    let f = file(k, fd)?;
    f.lseek(off, whence).map(|v| v as usize)
}

/// An ioctl argument staged through kernel buffers: the driver needs the host
/// (for the console) while the argument lives in user memory reached through the
/// same host, so the readable start of the argument area is copied in before the
/// call and what the driver writes is copied out after it.
struct StagedArg {
    raw: u64,
    input: Vec<u8>,
    output: Option<Vec<u8>>,
}

/// Bytes of the argument area staged in (larger than any struct a driver reads).
const STAGE: usize = 256;

impl IoctlArg for StagedArg {
    fn raw(&self) -> u64 {
        self.raw
    }
    fn read_in(&mut self, buf: &mut [u8]) -> KResult<()> {
        let src = self.input.get(..buf.len()).ok_or(Errno::EFAULT)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_out(&mut self, data: &[u8]) -> KResult<()> {
        self.output = Some(data.to_vec());
        Ok(())
    }
}

/// ioctl(2): job control first (a background process changing its
/// controlling terminal is stopped with SIGTTOU, and the call restarts
/// after), then [`ioctl`].
pub fn sys_ioctl<H: Host>(k: &mut Kernel<H>, fd: i32, cmd: u32, arg: u64) -> Outcome {
    let f = match file(k, fd) {
        Ok(f) => f,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let ops = f.ops();
    let tty = ops.and_then(|o| ConsoleFile::of(&**o)).map(|c| c.state());
    // A pty master checks the caller against its slave for the requests
    // that act on the slave (set_termios and tiocspgrp on real_tty).
    #[cfg(feature = "pty")]
    let tty = tty.or_else(|| {
        ops.and_then(|o| crate::fs::devfs::PtyMaster::of(&**o))
            .filter(|_| crate::tty::changes_slave(cmd))
            .map(|m| m.slave_state())
    });
    if let Some(state) = tty.filter(|_| crate::tty::changes_terminal(cmd)) {
        let state = state.clone();
        if let Some(o) = k.tty_ioctl_job_check(&state, cmd).outcome() {
            return o;
        }
    }
    Outcome::Ret(ioctl(k, fd, cmd, arg))
}

/// ioctl(2) once job control let it through: FIOCLEX/FIONCLEX/FIONBIO
/// here, the rest by the file's driver.
fn ioctl<H: Host>(k: &mut Kernel<H>, fd: i32, cmd: u32, arg: u64) -> SysResult {
    let f = file(k, fd)?;
    match cmd {
        FIOCLEX | FIONCLEX => {
            let fl = if cmd == FIOCLEX {
                FdFlags::CLOEXEC
            } else {
                FdFlags::empty()
            };
            k.proc().fds.set_flags(fd, fl)?;
            return Ok(0);
        }
        FIONBIO => {
            let on: i32 = k.user().read(UserInPtr::new(arg))?;
            let mut fl = f.flags();
            fl.set(OpenFlags::O_NONBLOCK, on != 0);
            f.set_status_flags(fl);
            return Ok(0);
        }
        // FIOASYNC (0x5452, the same on every arch umbra serves): O_ASYNC.
        0x5452 => {
            let on: i32 = k.user().read(UserInPtr::new(arg))?;
            let mut fl = f.flags();
            fl.set(OpenFlags::O_ASYNC, on != 0);
            super::fasync::setfl(k, fd, &f, fl);
            f.set_status_flags(fl);
            return Ok(0);
        }
        _ if super::fs::is_fs_ioc_flags(cmd) => return super::fs::fs_ioc_flags(k, &f, cmd, arg),
        super::fasync::FIOSETOWN
        | super::fasync::SIOCSPGRP
        | super::fasync::FIOGETOWN
        | super::fasync::SIOCGPGRP
            if crate::net::socket_of(&f).is_some() =>
        {
            return super::fasync::sock_owner_ioctl(k, &f, cmd, arg);
        }
        // SIOCGIFCONF writes through a pointer inside its argument.
        umbra_abi::net::SIOCGIFCONF if crate::net::socket_of(&f).is_some() => {
            return super::net::sys_ifconf(k, arg);
        }
        crate::fs::devfs::TIOCGPTPEER => {
            if let Some(m) = f.ops().and_then(|o| crate::fs::devfs::PtyMaster::of(&**o)) {
                return k.open_pty_peer(&f, m, arg as u32).map(|fd| fd as usize);
            }
        }
        FIONREAD => {
            if let Some(n) = f.ops().and_then(|o| crate::fs::pipe::pending(&**o)) {
                k.user().write_bytes(arg, &(n as i32).to_ne_bytes())?;
                return Ok(0);
            }
        }
        _ => {}
    }
    // Stage in what is readable of the argument area, page by page.
    let mut input = Vec::new();
    let mut at = arg;
    while input.len() < STAGE && arg != 0 {
        let n = ((4096 - (at % 4096)) as usize).min(STAGE - input.len());
        let mut chunk = vec![0u8; n];
        if k.user().read_bytes(at, &mut chunk).is_err() {
            break;
        }
        input.extend_from_slice(&chunk);
        at += n as u64;
    }
    let mut staged = StagedArg {
        raw: arg,
        input,
        output: None,
    };
    /// A terminal file: a tty, or a pty master (whose requests act on its
    /// slave).
    enum TtyFile<'a> {
        Tty(&'a ConsoleFile),
        #[cfg(feature = "pty")]
        Master(&'a crate::fs::devfs::PtyMaster),
    }
    let ops = f.ops();
    let tty = ops.and_then(|o| ConsoleFile::of(&**o)).map(TtyFile::Tty);
    #[cfg(feature = "pty")]
    let tty = tty.or_else(|| {
        ops.and_then(|o| crate::fs::devfs::PtyMaster::of(&**o))
            .map(TtyFile::Master)
    });
    let r = if let Some(tty) = tty {
        let me = k.proc();
        let (pid, pgid, sid) = (me.pid, me.pgid, me.sid);
        #[cfg(feature = "pty")]
        if cmd == umbra_abi::flags::TIOCSCTTY {
            let state = match &tty {
                TtyFile::Tty(c) => c.state(),
                TtyFile::Master(m) => m.slave_state(),
            };
            let readable = f.flags().bits() & umbra_abi::flags::O_ACCMODE != O_WRONLY;
            k.tiocsctty_check(state, arg, readable)?;
        }
        let groups: Vec<(u32, u32)> = k
            .pids()
            .into_iter()
            .filter_map(|p| k.process(p).map(|q| (q.pgid, q.sid)))
            .collect();
        let lookup = move |g: u32| groups.iter().find(|(pg, _)| *pg == g).map(|(_, s)| *s);
        let caller = TtyCaller {
            pid,
            pgid,
            sid,
            pgrp_session: Some(&lookup),
        };
        match tty {
            TtyFile::Tty(c) => c.ioctl_as(&mut k.host, cmd, &mut staged, &caller)?,
            #[cfg(feature = "pty")]
            TtyFile::Master(m) => m.ioctl_as(&mut k.host, cmd, &mut staged, &caller)?,
        }
    } else {
        f.ioctl(&mut k.host, cmd, &mut staged)?
    };
    if let Some(out) = staged.output {
        k.user().write_bytes(arg, &out)?;
    }
    Ok(r)
}

/// fcntl(2).
pub fn sys_fcntl<H: Host>(k: &mut Kernel<H>, fd: i32, cmd: u32, arg: u64) -> SysResult {
    let f = file(k, fd)?;
    let fds = &mut k.proc().fds;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = i32::try_from(arg).map_err(|_| Errno::EINVAL)?;
            // Linux's f_dupfd: a start at or past RLIMIT_NOFILE is EINVAL.
            if usize::try_from(min).map_or(true, |m| m >= fds.limit()) {
                return Err(Errno::EINVAL);
            }
            let fl = if cmd == F_DUPFD_CLOEXEC {
                FdFlags::CLOEXEC
            } else {
                FdFlags::empty()
            };
            fds.dup_min(fd, min, fl).map(|v| v as usize)
        }
        F_GETFD => Ok(fds.flags(fd)?.bits() as usize),
        F_SETFD => {
            fds.set_flags(fd, FdFlags::from_bits_truncate(arg as u32))?;
            Ok(0)
        }
        F_GETFL => Ok(f.flags().bits() as usize),
        F_SETFL => {
            let want = OpenFlags::from_bits_retain(arg as u32) & crate::fs::file::setfl_mask();
            let keep = f.flags() - crate::fs::file::setfl_mask();
            super::fasync::setfl(k, fd, &f, want);
            f.set_status_flags(keep | want);
            Ok(0)
        }
        F_GETPIPE_SZ | F_SETPIPE_SZ => pipe_fcntl(k, &f, cmd, arg),
        _ => Err(Errno::EINVAL),
    }
}

/// fcntl's F_GETPIPE_SZ and F_SETPIPE_SZ (EBADF on anything but a pipe).
fn pipe_fcntl<H: Host>(k: &mut Kernel<H>, f: &OpenFile, cmd: u32, arg: u64) -> SysResult {
    use crate::fs::pipe::{pipe_size, set_pipe_size, Resizer};
    let ops = f.ops().ok_or(Errno::EBADF)?;
    if cmd == F_GETPIPE_SZ {
        return pipe_size(&**ops);
    }
    let who = if k.proc().creds.capable(crate::task::cred::CAP_SYS_RESOURCE) {
        Resizer::Privileged
    } else {
        Resizer::User
    };
    // Linux takes the argument as an unsigned int.
    set_pipe_size(&**ops, arg as u32, who)
}

/// dup(2).
pub fn sys_dup<H: Host>(k: &mut Kernel<H>, fd: i32) -> SysResult {
    k.proc().fds.dup(fd).map(|v| v as usize)
}

/// dup2(2).
pub fn sys_dup2<H: Host>(k: &mut Kernel<H>, old: i32, new: i32) -> SysResult {
    let (fd, closed) = k.proc().fds.dup2(old, new)?;
    let pid = k.cur;
    super::lock::closed_files(k, pid, closed.as_slice());
    Ok(fd as usize)
}

/// dup3(2).
pub fn sys_dup3<H: Host>(k: &mut Kernel<H>, old: i32, new: i32, flags: u32) -> SysResult {
    if flags & !OpenFlags::O_CLOEXEC.bits() != 0 {
        return Err(Errno::EINVAL);
    }
    let fl = if flags != 0 {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    let (fd, closed) = k.proc().fds.dup3(old, new, fl)?;
    let pid = k.cur;
    super::lock::closed_files(k, pid, closed.as_slice());
    Ok(fd as usize)
}

/// close(2).
pub fn sys_close<H: Host>(k: &mut Kernel<H>, fd: i32) -> SysResult {
    let f = k.proc().fds.close(fd)?;
    let pid = k.cur;
    super::lock::closed_files(k, pid, core::slice::from_ref(&f));
    Ok(0)
}

/// getdents64(2).
pub fn sys_getdents64<H: Host>(k: &mut Kernel<H>, fd: i32, buf: u64, len: usize) -> SysResult {
    let f = file(k, fd)?;
    let mut kbuf = vec![0u8; len.min(CHUNK)];
    let n = f.getdents64(&mut kbuf)?;
    k.user().write_bytes(buf, &kbuf[..n])?;
    Ok(n)
}

/// getdents(2): linux_dirent records, converted from the linux_dirent64 ones.
pub fn sys_getdents<H: Host>(k: &mut Kernel<H>, fd: i32, buf: u64, len: usize) -> SysResult {
    use super::uabi::{dirent64_to_dirent, NATIVE};
    let f = file(k, fd)?;
    let cap = len.min(CHUNK);
    let mut kbuf = vec![0u8; cap];
    let pos = f.lseek(0, SEEK_CUR).unwrap_or(0);
    let n = f.getdents64(&mut kbuf)?;
    let (out, used) = dirent64_to_dirent(&kbuf[..n], cap, NATIVE);
    if used < n {
        // Records that did not fit the smaller buffer are read again next time:
        // go back to the directory offset after the last one kept.
        let mut off = pos;
        let mut at = 0;
        while at < used {
            off = u64::from_ne_bytes(kbuf[at + 8..at + 16].try_into().unwrap_or([0; 8]));
            at += u16::from_ne_bytes([kbuf[at + 16], kbuf[at + 17]]) as usize;
        }
        f.lseek(off as i64, SEEK_SET)?;
        if used == 0 {
            return Err(Errno::EINVAL);
        }
    }
    k.user().write_bytes(buf, &out)?;
    Ok(out.len())
}

/// fsync(2) and fdatasync(2).
pub fn sys_fsync<H: Host>(k: &mut Kernel<H>, fd: i32) -> SysResult {
    let f = file(k, fd)?;
    if let (Some(inode), None) = (f.inode(), f.ops()) {
        super::filemap::sync_inode(k, inode)?;
    }
    f.fsync()?;
    Ok(0)
}

/// syncfs(2): the descriptor must be open; the filesystem it is on is flushed
/// as fsync(2) flushes the file (the device's write-back is per filesystem).
pub fn sys_syncfs<H: Host>(k: &mut Kernel<H>, fd: i32) -> SysResult {
    let f = file(k, fd)?;
    match f.fsync() {
        // Pipes, sockets and consoles have nothing to flush.
        Ok(()) | Err(Errno::EINVAL) => Ok(0),
        Err(e) => Err(e),
    }
}

/// _llseek(2) of 32-bit arches: the 64-bit result is stored at `result`.
pub fn sys_llseek<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    off: i64,
    result: u64,
    whence: u32,
) -> SysResult {
    let f = file(k, fd)?;
    let pos = f.lseek(off, whence)?;
    k.user().write_bytes(result, &pos.to_ne_bytes())?;
    Ok(0)
}

/// posix_fadvise(2) and sync_file_range(2): advice with nothing to act on;
/// only the descriptor is checked.
pub fn sys_fadvise<H: Host>(k: &mut Kernel<H>, fd: i32) -> SysResult {
    let f = file(k, fd)?;
    if f.inode().is_none() {
        return Err(Errno::ESPIPE);
    }
    Ok(0)
}

/// Linux's rw_verify_area for an explicit offset: negative, or an end past
/// the largest offset, is EINVAL.
fn check_pos(off: i64, len: u64) -> KResult<u64> {
    let off = u64::try_from(off).map_err(|_| Errno::EINVAL)?;
    let len = len.min(MAX_RW as u64);
    if off.checked_add(len).is_none_or(|end| end > i64::MAX as u64) {
        return Err(Errno::EINVAL);
    }
    Ok(off)
}

/// Whether a regular file is being written (RLIMIT_FSIZE applies to those).
fn is_regular(f: &OpenFile) -> bool {
    f.inode()
        .is_some_and(|i| i.kind() == crate::fs::FileType::Regular)
}

/// Raises SIGXFSZ at the caller (a file grew past RLIMIT_FSIZE).
fn raise_xfsz<H: Host>(k: &mut Kernel<H>) {
    use umbra_abi::signal::SIGXFSZ;
    let pid = k.cur;
    let info = crate::task::SigInfo {
        signo: SIGXFSZ,
        pid,
        ..Default::default()
    };
    let _ = k.send_signal(pid, SIGXFSZ, info);
}

/// How much of a `len`-byte write at `off` (or the file position) RLIMIT_FSIZE
/// lets through: the bytes up to the limit, or SIGXFSZ and EFBIG when the
/// write starts at or past it (Linux's generic_write_check_limits).
pub(crate) fn fsize_limit<H: Host>(
    k: &mut Kernel<H>,
    f: &OpenFile,
    off: Option<u64>,
    len: usize,
) -> KResult<usize> {
    let lim = k.proc().rlimit(RLIMIT_FSIZE).rlim_cur;
    if len == 0 || lim == RLIM_INFINITY || !is_regular(f) {
        return Ok(len);
    }
    let pos = if f.flags().contains(OpenFlags::O_APPEND) {
        f.stat()?.size
    } else {
        off.unwrap_or_else(|| f.offset())
    };
    if pos >= lim {
        raise_xfsz(k);
        return Err(Errno::EFBIG);
    }
    Ok(len.min(usize::try_from(lim - pos).unwrap_or(usize::MAX)))
}

/// Whether a size of `len` is past the caller's RLIMIT_FSIZE.
pub(crate) fn fsize_exceeded<H: Host>(k: &mut Kernel<H>, len: u64) -> bool {
    let lim = k.proc().rlimit(RLIMIT_FSIZE).rlim_cur;
    lim != RLIM_INFINITY && len > lim
}

/// truncate growing a file from `size` to `len` past RLIMIT_FSIZE: SIGXFSZ
/// and EFBIG (Linux's inode_newsize_ok); shrinking is always allowed.
pub(crate) fn fsize_check_truncate<H: Host>(k: &mut Kernel<H>, size: u64, len: u64) -> KResult<()> {
    if len > size && fsize_exceeded(k, len) {
        raise_xfsz(k);
        return Err(Errno::EFBIG);
    }
    Ok(())
}

const RWF_HIPRI: u32 = 0x1;
const RWF_DSYNC: u32 = 0x2;
const RWF_SYNC: u32 = 0x4;
const RWF_NOWAIT: u32 = 0x8;
const RWF_APPEND: u32 = 0x10;

/// The 64-bit offset of preadv and pwritev, passed as two longs (low, high)
/// on every arch; a 64-bit long holds it whole.
pub fn pos_from_hilo(lo: u64, hi: u64) -> i64 {
    if cfg!(target_pointer_width = "64") {
        lo as i64
    } else {
        super::uabi::pair(lo, hi) as i64
    }
}

/// Which way a vectored positional call moves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Read,
    Write,
}

/// preadv(2), pwritev(2), preadv2(2) and pwritev2(2). `v2` calls take
/// `flags` (RWF_*) and an offset of -1 for the file position, where they act
/// as readv and writev.
pub fn sys_prwv<H: Host>(
    k: &mut Kernel<H>,
    dir: Dir,
    fd: i32,
    iov: u64,
    cnt: usize,
    off: i64,
    flags: Option<u32>,
) -> Outcome {
    let at_pos = off == -1 && flags.is_some();
    let flags = flags.unwrap_or(0);
    let r = prwv(k, dir, fd, iov, cnt, (off, at_pos), flags);
    match r {
        Ok(Some(n)) => Outcome::Ret(Ok(n)),
        Ok(None) => {
            // At the file position: readv or writev.
            let out = match dir {
                Dir::Read => sys_readv(k, fd, iov, cnt),
                Dir::Write => sys_writev(k, fd, iov, cnt),
            };
            match out {
                Outcome::Block(_) if flags & RWF_NOWAIT != 0 => Outcome::Ret(Err(Errno::EAGAIN)),
                o => o,
            }
        }
        Err(e) if dir == Dir::Write => finish_write(k, fd, Err(e)),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// Serves a positional vectored call; `Ok(None)` when it is at the file
/// position (preadv2/pwritev2 with -1) and readv/writev should serve it.
fn prwv<H: Host>(
    k: &mut Kernel<H>,
    dir: Dir,
    fd: i32,
    iov: u64,
    cnt: usize,
    (off, at_pos): (i64, bool),
    flags: u32,
) -> KResult<Option<usize>> {
    if off < 0 && !at_pos {
        return Err(Errno::EINVAL);
    }
    let f = file(k, fd)?;
    if !at_pos && !f.seekable() {
        return Err(Errno::ESPIPE);
    }
    let ok = match dir {
        Dir::Read => f.readable(),
        Dir::Write => f.writable(),
    };
    if !ok {
        return Err(Errno::EBADF);
    }
    let iovs = read_iov(k, iov, cnt)?;
    if flags & !(RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if flags & RWF_APPEND != 0 && dir == Dir::Read {
        return Err(Errno::EOPNOTSUPP);
    }
    if at_pos {
        if flags & RWF_APPEND != 0 && f.seekable() {
            f.lseek(0, SEEK_END)?;
        }
        return Ok(None);
    }
    let total: u64 = iovs.iter().map(|e| e.iov_len).sum();
    let mut pos = check_pos(off, total)?;
    if flags & RWF_APPEND != 0 {
        pos = f.stat()?.size;
    }
    let mut done = 0usize;
    for e in iovs {
        if e.iov_len == 0 {
            continue;
        }
        let at = pos + done as u64;
        let r = match dir {
            Dir::Read => read_into(k, &f, e.iov_base, e.iov_len as usize, Some(at)),
            Dir::Write => write_from(k, &f, e.iov_base, e.iov_len as usize, Some(at)),
        };
        match r {
            Ok(n) => {
                done += n;
                if n < e.iov_len as usize {
                    break;
                }
            }
            Err(err) if done == 0 => return Err(err),
            Err(_) => break,
        }
    }
    if dir == Dir::Write && flags & (RWF_DSYNC | RWF_SYNC) != 0 && done > 0 {
        match f.fsync() {
            Ok(()) | Err(Errno::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(done))
}
