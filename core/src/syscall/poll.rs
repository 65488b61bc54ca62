//! Waiting on many descriptors: pipe/pipe2 and poll, ppoll, select, pselect6.
//! Readiness comes from each file's `poll`; a caller with nothing ready parks
//! until something changes or its timeout passes.

use super::uabi::{self, TimeAbi};
use super::Outcome;
use crate::fs::file::OpenFile;
use crate::fs::PollEvents;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::{UserInPtr, UserOutPtr};
use crate::task::fd_table::FdFlags;
use crate::task::{Restart, Wait};
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use umbra_abi::flags::{OpenFlags, O_RDONLY, O_WRONLY};
use umbra_abi::Errno;

const NS: u64 = 1_000_000_000;

/// Bytes of an fd_set covering `nfds` descriptors: whole longs.
fn fd_set_bytes(nfds: usize) -> usize {
    let bits = 8 * uabi::NATIVE.bytes();
    nfds.div_ceil(bits) * uabi::NATIVE.bytes()
}

/// pipe2(2), also pipe.
pub fn sys_pipe2<H: Host>(k: &mut Kernel<H>, fds: u64, flags: u32) -> SysResult {
    let fl = OpenFlags::from_bits_retain(flags);
    if !(OpenFlags::O_CLOEXEC | OpenFlags::O_NONBLOCK | OpenFlags::O_DIRECT).contains(fl) {
        return Err(Errno::EINVAL);
    }
    let status = fl & OpenFlags::O_NONBLOCK;
    let (r, w) = crate::fs::pipe::pipe();
    let rf = OpenFile::from_ops(r, OpenFlags::from_bits_retain(O_RDONLY) | status);
    let wf = OpenFile::from_ops(w, OpenFlags::from_bits_retain(O_WRONLY) | status);
    let fdfl = if fl.contains(OpenFlags::O_CLOEXEC) {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    let table = &mut k.proc().fds;
    let a = table.alloc(rf, 0, fdfl)?;
    let b = match table.alloc(wf, 0, fdfl) {
        Ok(b) => b,
        Err(e) => {
            let _ = table.close(a);
            return Err(e);
        }
    };
    if let Err(e) = k.user().write(UserOutPtr::<[i32; 2]>::new(fds), &[a, b]) {
        let table = &mut k.proc().fds;
        let _ = table.close(a);
        let _ = table.close(b);
        return Err(e);
    }
    Ok(0)
}

/// Readiness of one descriptor for the events asked, POLLNVAL if it is closed.
fn ready<H: Host>(
    k: &mut Kernel<H>,
    file: Option<&Arc<OpenFile>>,
    events: PollEvents,
) -> PollEvents {
    match file {
        None => PollEvents::POLLNVAL,
        Some(f) => {
            with_norm(f.poll(&mut k.io())) & (events | PollEvents::POLLHUP | PollEvents::POLLERR)
        }
    }
}

/// A file's readiness with POLLRDNORM beside POLLIN and POLLWRNORM beside
/// POLLOUT, as Linux's pipes, ttys and sockets report them: a caller asking
/// only for the NORM bits sees the same readiness.
fn with_norm(rev: PollEvents) -> PollEvents {
    let mut rev = rev;
    if rev.contains(PollEvents::POLLIN) {
        rev |= PollEvents::POLLRDNORM;
    }
    if rev.contains(PollEvents::POLLOUT) {
        rev |= PollEvents::POLLWRNORM;
    }
    rev
}

/// The outcome of a wait that found nothing ready: time out, or park.
pub(super) fn park<H: Host>(k: &mut Kernel<H>, timeout: Option<u64>) -> Option<Outcome> {
    match timeout {
        Some(0) => Some(Outcome::Ret(Ok(0))),
        Some(ns) => {
            let d = k.deadline_after(ns);
            if k.deadline_passed() {
                return Some(Outcome::Ret(Ok(0)));
            }
            Some(Outcome::Block(Wait::Event {
                deadline: Some(d),
                restart: Restart::Never,
            }))
        }
        None => None,
    }
}

fn do_poll<H: Host>(k: &mut Kernel<H>, fds: u64, nfds: usize, timeout: Option<u64>) -> Outcome {
    let r = (|| -> KResult<Option<usize>> {
        if nfds > k.proc().fds.limit().max(1024) {
            return Err(Errno::EINVAL);
        }
        let mut raw = vec![0u8; nfds * 8];
        k.user().read_bytes(fds, &mut raw)?;
        let mut count = 0;
        for e in raw.chunks_exact_mut(8) {
            let fd = i32::from_ne_bytes([e[0], e[1], e[2], e[3]]);
            let events = PollEvents::from_bits_truncate(u16::from_ne_bytes([e[4], e[5]]));
            let rev = if fd < 0 {
                PollEvents::empty()
            } else {
                let f = k.proc().fds.get(fd).ok();
                ready(k, f.as_ref(), events)
            };
            e[6..8].copy_from_slice(&rev.bits().to_ne_bytes());
            if !rev.is_empty() {
                count += 1;
            }
        }
        if count > 0 || timeout == Some(0) {
            k.user().write_bytes(fds, &raw)?;
            return Ok(Some(count));
        }
        Ok(None)
    })();
    match r {
        Ok(Some(n)) => Outcome::Ret(Ok(n)),
        Ok(None) => {
            let out = park(k, timeout).unwrap_or(Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::Never,
            }));
            if let Outcome::Ret(Ok(0)) = out {
                // Timed out: every revents is written, as zero.
                if let Err(e) = clear_revents(k, fds, nfds) {
                    return Outcome::Ret(Err(e));
                }
            }
            out
        }
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// Zeroes the revents of the `nfds` pollfds at `fds`.
fn clear_revents<H: Host>(k: &mut Kernel<H>, fds: u64, nfds: usize) -> KResult<()> {
    for i in 0..nfds as u64 {
        k.user().write_bytes(fds + i * 8 + 6, &[0, 0])?;
    }
    Ok(())
}

/// poll(2): timeout in ms, negative for none.
pub fn sys_poll<H: Host>(k: &mut Kernel<H>, fds: u64, nfds: usize, timeout_ms: i32) -> Outcome {
    let timeout = (timeout_ms >= 0).then(|| timeout_ms as u64 * 1_000_000);
    do_poll(k, fds, nfds, timeout)
}

pub(super) fn read_timespec<H: Host>(
    k: &mut Kernel<H>,
    at: u64,
    tabi: TimeAbi,
) -> KResult<Option<u64>> {
    if at == 0 {
        return Ok(None);
    }
    let t = uabi::read_timespec(k, at, tabi)?;
    if t.tv_sec < 0 || !(0..NS as i64).contains(&t.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(
        (t.tv_sec as u64)
            .saturating_mul(NS)
            .saturating_add(t.tv_nsec as u64),
    ))
}

/// Applies a temporary signal mask for ppoll/pselect6; it stays while blocked
/// and is restored when the call returns (or by sigreturn after a handler).
pub(super) fn temp_mask<H: Host>(k: &mut Kernel<H>, set: u64) -> KResult<()> {
    if set == 0 {
        return Ok(());
    }
    let m: u64 = k.user().read(UserInPtr::new(set))?;
    let t = &mut k.proc().thread;
    if t.saved_mask.is_none() {
        t.saved_mask = Some(t.sigmask);
    }
    t.sigmask = crate::task::SigSet(m & !crate::task::signal::UNBLOCKABLE.0);
    Ok(())
}

pub(super) fn finish_temp_mask<H: Host>(k: &mut Kernel<H>, out: Outcome) -> Outcome {
    if let Outcome::Ret(_) = out {
        let t = &mut k.proc().thread;
        if let Some(m) = t.saved_mask.take() {
            t.sigmask = m;
        }
    }
    out
}

/// ppoll(2) (ppoll_time64 with `tabi` = Time64).
pub fn sys_ppoll<H: Host>(
    k: &mut Kernel<H>,
    fds: u64,
    nfds: usize,
    ts: u64,
    set: u64,
    tabi: TimeAbi,
) -> Outcome {
    let timeout = match read_timespec(k, ts, tabi) {
        Ok(t) => t,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    if let Err(e) = temp_mask(k, set) {
        return Outcome::Ret(Err(e));
    }
    let out = do_poll(k, fds, nfds, timeout);
    finish_temp_mask(k, out)
}

fn do_select<H: Host>(
    k: &mut Kernel<H>,
    nfds: i32,
    sets: [u64; 3],
    timeout: Option<u64>,
) -> Outcome {
    let r = (|| -> KResult<Option<usize>> {
        let nfds = usize::try_from(nfds).map_err(|_| Errno::EINVAL)?;
        if nfds > k.proc().fds.limit().max(1024) {
            return Err(Errno::EINVAL);
        }
        let bytes = fd_set_bytes(nfds);
        let mut inp: [Vec<u8>; 3] = [vec![0; bytes], vec![0; bytes], vec![0; bytes]];
        for (i, s) in sets.iter().enumerate() {
            if *s != 0 {
                k.user().read_bytes(*s, &mut inp[i])?;
            }
        }
        let mut out: [Vec<u8>; 3] = [vec![0; bytes], vec![0; bytes], vec![0; bytes]];
        let wants = [PollEvents::POLLIN, PollEvents::POLLOUT, PollEvents::POLLPRI];
        let mut count = 0;
        for fd in 0..nfds {
            let (byte, bit) = (fd / 8, 1u8 << (fd % 8));
            let asked: Vec<usize> = (0..3).filter(|&i| inp[i][byte] & bit != 0).collect();
            if asked.is_empty() {
                continue;
            }
            let f = k.proc().fds.get(fd as i32).map_err(|_| Errno::EBADF)?;
            let rev = f.poll(&mut k.io());
            for i in asked {
                let hit = match i {
                    0 => rev
                        .intersects(PollEvents::POLLIN | PollEvents::POLLHUP | PollEvents::POLLERR),
                    1 => rev.intersects(PollEvents::POLLOUT | PollEvents::POLLERR),
                    _ => rev.intersects(wants[2]),
                };
                if hit {
                    out[i][byte] |= bit;
                    count += 1;
                }
            }
        }
        if count > 0 || timeout == Some(0) {
            for (i, s) in sets.iter().enumerate() {
                if *s != 0 {
                    k.user().write_bytes(*s, &out[i])?;
                }
            }
            return Ok(Some(count));
        }
        Ok(None)
    })();
    match r {
        Ok(Some(n)) => Outcome::Ret(Ok(n)),
        Ok(None) => {
            // Nothing ready: the sets are cleared only on return, so the call can
            // be served again with the caller's sets intact.
            let out = park(k, timeout).unwrap_or(Outcome::Block(Wait::Event {
                deadline: None,
                restart: Restart::Never,
            }));
            if let Outcome::Ret(Ok(0)) = out {
                for s in sets.iter().filter(|s| **s != 0) {
                    let n = fd_set_bytes(usize::try_from(nfds).unwrap_or(0));
                    if let Err(e) = k.user().write_bytes(*s, &vec![0u8; n]) {
                        return Outcome::Ret(Err(e));
                    }
                }
            }
            out
        }
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// The timeval of a select(2) call with number `nr` and arguments `a`, if
/// it has one: Linux writes the time left there when a signal ends the call
/// too (kernel/signal.rs).
pub fn select_tv_arg(nr: usize, a: [u64; 6]) -> Option<u64> {
    // aarch64 has no select(2), only pselect6.
    let select = match nr {
        #[cfg(target_arch = "x86_64")]
        umbra_abi::syscall::nr::SELECT => true,
        #[cfg(target_arch = "arm")]
        umbra_abi::syscall::nr::_NEWSELECT => true,
        _ => false,
    };
    (select && a[4] != 0).then_some(a[4])
}

/// select(2).
pub fn sys_select<H: Host>(
    k: &mut Kernel<H>,
    nfds: i32,
    r: u64,
    w: u64,
    e: u64,
    tv: u64,
) -> Outcome {
    let tv_at = tv;
    let timeout = if tv == 0 {
        None
    } else {
        match uabi::read_timeval(k, tv, TimeAbi::Long) {
            Ok(t) if t.tv_sec >= 0 && (0..1_000_000).contains(&t.tv_usec) => Some(
                (t.tv_sec as u64)
                    .saturating_mul(NS)
                    .saturating_add(t.tv_usec as u64 * 1000),
            ),
            Ok(_) => return Outcome::Ret(Err(Errno::EINVAL)),
            Err(err) => return Outcome::Ret(Err(err)),
        }
    };
    let Some(ns) = timeout else {
        return do_select(k, nfds, [r, w, e], None);
    };
    // The deadline is fixed at the first try and kept while the call parks.
    let deadline = k.deadline_after(ns);
    let out = do_select(k, nfds, [r, w, e], timeout);
    if let Outcome::Ret(_) = out {
        // Linux's select writes back the time left (pselect6 does not). A
        // timeval it cannot write is no error: the call already happened.
        let left = deadline.saturating_sub(k.host.now_mono());
        let tv = umbra_abi::structs::Timeval {
            tv_sec: (left / NS) as i64,
            tv_usec: ((left % NS) / 1000) as i64,
        };
        let _ = uabi::write_timeval(k, tv_at, tv, TimeAbi::Long);
    }
    out
}

/// pselect6(2): the read, write and except sets; the sixth argument points
/// at {sigset pointer, size}.
pub fn sys_pselect6<H: Host>(
    k: &mut Kernel<H>,
    nfds: i32,
    sets: [u64; 3],
    ts: u64,
    sig: u64,
    tabi: TimeAbi,
) -> Outcome {
    let timeout = match read_timespec(k, ts, tabi) {
        Ok(t) => t,
        Err(err) => return Outcome::Ret(Err(err)),
    };
    if sig != 0 {
        let set = match uabi::read_longs(k, sig, 2) {
            Ok(v) => v,
            Err(err) => return Outcome::Ret(Err(err)),
        };
        if let Err(err) = temp_mask(k, set[0]) {
            return Outcome::Ret(Err(err));
        }
    }
    let out = do_select(k, nfds, sets, timeout);
    finish_temp_mask(k, out)
}
