//! epoll: epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait
//! and epoll_pwait2. The instance is `fs::epoll::Epoll`; this file decodes
//! the arguments and struct epoll_event, and parks waiters.
//!
//! struct epoll_event is packed on x86_64 (12 bytes: events at 0, data at
//! 4) and naturally aligned elsewhere, aarch64 and 32-bit ARM EABI alike
//! (16 bytes: data at 8), as Linux's EPOLL_PACKED says.
//!
//! A wait with nothing ready parks with `Wait::Event` and looks again
//! whenever the kernel's epoch moves, like poll. A signal handler ends it
//! with EINTR whatever SA_RESTART says (signal(7)). epoll_pwait and
//! epoll_pwait2 run with the caller's temporary signal mask, as ppoll does.

use super::poll::{finish_temp_mask, park, read_timespec, temp_mask};
use super::uabi::TimeAbi;
use super::Outcome;
use crate::fs::epoll::{Epoll, Event, EPOLL_CTL_DEL};
use crate::fs::file::OpenFile;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::fd_table::FdFlags;
use crate::task::{Restart, Wait};
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::{OpenFlags, O_RDWR};
use umbra_abi::syscall::nr::*;
use umbra_abi::Errno;

/// sizeof(struct epoll_event) and the offset of its data.
#[cfg(target_arch = "x86_64")]
const EVENT_SIZE: usize = 12;
#[cfg(target_arch = "x86_64")]
const DATA_OFF: usize = 4;
#[cfg(not(target_arch = "x86_64"))]
const EVENT_SIZE: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
const DATA_OFF: usize = 8;

/// EP_MAX_EVENTS: the most events one wait may ask for.
const MAX_EVENTS: usize = i32::MAX as usize / EVENT_SIZE;
/// sizeof(sigset_t) as the kernel takes it.
const SIGSET_SIZE: u64 = 8;

/// Serves call `n` if it is an epoll call; None otherwise.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    let r = match n {
        #[cfg(not(target_arch = "aarch64"))]
        EPOLL_CREATE => sys_epoll_create(k, a[0] as i32),
        EPOLL_CREATE1 => sys_epoll_create1(k, a[0] as i32),
        EPOLL_CTL => sys_epoll_ctl(k, a[0] as i32, a[1] as i32, a[2] as i32, a[3]),
        #[cfg(not(target_arch = "aarch64"))]
        EPOLL_WAIT => {
            let timeout = ms_timeout(a[3] as i32);
            return Some(do_wait(k, a[0] as i32, a[1], a[2] as i32, timeout));
        }
        EPOLL_PWAIT => {
            let timeout = ms_timeout(a[3] as i32);
            return Some(sys_epoll_pwait(k, a, Ok(timeout)));
        }
        EPOLL_PWAIT2 => {
            let timeout = read_timespec(k, a[3], TimeAbi::Time64);
            return Some(sys_epoll_pwait(k, a, timeout));
        }
        _ => return None,
    };
    Some(Outcome::Ret(r))
}

/// An epoll_wait timeout in ms: negative waits for ever.
fn ms_timeout(ms: i32) -> Option<u64> {
    u64::try_from(ms).ok().map(|ms| ms * 1_000_000)
}

/// epoll_create(2): `size` is only checked, as on Linux.
pub fn sys_epoll_create<H: Host>(k: &mut Kernel<H>, size: i32) -> SysResult {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    sys_epoll_create1(k, 0)
}

/// epoll_create1(2): EPOLL_CLOEXEC is the only flag.
pub fn sys_epoll_create1<H: Host>(k: &mut Kernel<H>, flags: i32) -> SysResult {
    let fl = OpenFlags::from_bits_retain(flags as u32);
    if !OpenFlags::O_CLOEXEC.contains(fl) {
        return Err(Errno::EINVAL);
    }
    let file = OpenFile::from_ops(Epoll::new(), OpenFlags::from_bits_retain(O_RDWR));
    let fdfl = if fl.contains(OpenFlags::O_CLOEXEC) {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    let fd = k.proc().fds.alloc(file, 0, fdfl)?;
    Ok(fd as usize)
}

/// The open description behind `fd` as epoll sees it: EBADF when closed or
/// O_PATH.
fn file_of<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<Arc<OpenFile>> {
    let f = k.proc().fds.get(fd)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

/// Decodes one struct epoll_event.
fn decode(b: &[u8]) -> Event {
    let mut ev = [0u8; 4];
    ev.copy_from_slice(&b[..4]);
    let mut data = [0u8; 8];
    data.copy_from_slice(&b[DATA_OFF..DATA_OFF + 8]);
    Event {
        events: u32::from_ne_bytes(ev),
        data: u64::from_ne_bytes(data),
    }
}

/// epoll_ctl(2).
pub fn sys_epoll_ctl<H: Host>(
    k: &mut Kernel<H>,
    epfd: i32,
    op: i32,
    fd: i32,
    at: u64,
) -> SysResult {
    let ev = if op != EPOLL_CTL_DEL {
        let mut b = [0u8; EVENT_SIZE];
        k.user().read_bytes(at, &mut b)?;
        decode(&b)
    } else {
        Event { events: 0, data: 0 }
    };
    let epf = file_of(k, epfd)?;
    let target = file_of(k, fd)?;
    Epoll::ctl(&epf, op, fd, &target, ev, &mut k.io())?;
    Ok(0)
}

/// epoll_pwait(2) and epoll_pwait2(2): arguments `a`, with the timeout
/// already read (or the error reading it gave).
fn sys_epoll_pwait<H: Host>(
    k: &mut Kernel<H>,
    a: [u64; 6],
    timeout: KResult<Option<u64>>,
) -> Outcome {
    let timeout = match timeout {
        Ok(t) => t,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let (set, size) = (a[4], a[5]);
    if set != 0 {
        if size != SIGSET_SIZE {
            return Outcome::Ret(Err(Errno::EINVAL));
        }
        if let Err(e) = temp_mask(k, set) {
            return Outcome::Ret(Err(e));
        }
    }
    let out = do_wait(k, a[0] as i32, a[1], a[2] as i32, timeout);
    finish_temp_mask(k, out)
}

/// The wait of epoll_wait, epoll_pwait and epoll_pwait2: `timeout` in ns,
/// `None` for none.
fn do_wait<H: Host>(
    k: &mut Kernel<H>,
    epfd: i32,
    at: u64,
    maxevents: i32,
    timeout: Option<u64>,
) -> Outcome {
    let r = (|| -> KResult<Option<usize>> {
        // Linux 6.18's order: the fd, maxevents, access_ok, the fd's kind.
        let f = file_of(k, epfd)?;
        let max = usize::try_from(maxevents).map_err(|_| Errno::EINVAL)?;
        if max == 0 || max > MAX_EVENTS {
            return Err(Errno::EINVAL);
        }
        let end = at.checked_add((max * EVENT_SIZE) as u64);
        if end.is_none_or(|e| e > crate::arch::USER_END) {
            return Err(Errno::EFAULT);
        }
        let ep = Epoll::of(&f).ok_or(Errno::EINVAL)?;
        let evs = ep.wait(&mut k.io(), max);
        if evs.is_empty() {
            return Ok(None);
        }
        let mut out: Vec<u8> = Vec::with_capacity(evs.len() * EVENT_SIZE);
        for e in &evs {
            let mut b = [0u8; EVENT_SIZE];
            b[..4].copy_from_slice(&e.events.to_ne_bytes());
            b[DATA_OFF..DATA_OFF + 8].copy_from_slice(&e.data.to_ne_bytes());
            out.extend_from_slice(&b);
        }
        k.user().write_bytes(at, &out)?;
        Ok(Some(evs.len()))
    })();
    match r {
        Ok(Some(n)) => Outcome::Ret(Ok(n)),
        Ok(None) => park(k, timeout).unwrap_or(Outcome::Block(Wait::Event {
            deadline: None,
            restart: Restart::Never,
        })),
        Err(e) => Outcome::Ret(Err(e)),
    }
}
