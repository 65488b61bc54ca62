//! Signal-driven I/O: fcntl F_SETOWN, F_GETOWN, F_SETOWN_EX, F_GETOWN_EX,
//! F_SETSIG, F_GETSIG, and the SIGIO that O_ASYNC (set with F_SETFL) asks
//! for.
//!
//! A description with O_ASYNC is registered with the fd it was set on.
//! Before the kernel resumes a thread it compares each registered file with
//! what it saw last: a pipe's read end signals POLL_IN for every write call
//! that asked to write bytes (whatever came of it, as Linux's pipe_write
//! does) and when the writers went away, its write end POLL_OUT for every
//! such read call and when the readers went away ([`crate::fs::pipe::async_count`]),
//! and the console POLL_IN when input became readable. The signal goes to
//! the owner (a process, a thread or a process group): SIGIO with
//! SI_KERNEL, or the F_SETSIG signal with si_code, si_band and si_fd, once
//! per event (a queued real-time signal comes that many times). Other files
//! never raise SIGIO, as on Linux (regular files have no readiness to
//! report).
//!
//! A socket whose family counts its wake-ups
//! ([`crate::net::Socket::async_counts`]: AF_UNIX, and TCP and UDP on the
//! guest's loopback) signals each one, as Linux's sk_wake_async: POLL_IN
//! for every message, segment, datagram or connection queued and for the
//! peer's shutdown of writing, POLL_OUT when reads made room after a send
//! had found the buffer full (and when a TCP connect is made), POLL_HUP
//! when the peer closed or shut both ways, POLL_ERR for an error reported
//! (a reset, a refusal); one signal per event (so a queued F_SETSIG signal
//! comes once per message), HUP, IN, OUT, ERR in that order when one look
//! finds several kinds. POLL_IN and POLL_HUP are not counted while a
//! reader sleeps in a receive on an O_ASYNC stream socket (Linux's
//! SOCKWQ_ASYNC_WAITDATA, [`crate::net::Socket::sleepers`]). Sockets carried
//! by host sockets (`--net host`) signal rising edges of POLLIN and POLLOUT.
//!
//! A socket description given an owner is watched for urgent data too: each
//! urgent mark it receives (MSG_OOB, [`crate::net::Socket::urgent_marks`])
//! sends SIGURG to its owner, with or without O_ASYNC, as Linux's
//! sk_send_sigurg; an O_ASYNC one with an F_SETSIG signal also gets that
//! signal with POLL_PRI (Linux's SOCK_WAKE_URG, which plain SIGIO skips).
//!
//! ioctl FIOSETOWN and SIOCSPGRP (F_SETOWN), FIOGETOWN and SIOCGPGRP
//! (F_GETOWN) on a socket are here too; FIOASYNC is in io.rs.

use crate::fs::file::{FileOwner, OpenFile};
use crate::fs::PollEvents;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::signal::code;
use crate::task::{Pid, SigInfo};
use crate::SysResult;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use umbra_abi::flags::OpenFlags;
use umbra_abi::signal::{NSIG, SIGIO, SIGURG};
use umbra_abi::Errno;

const F_SETOWN: u32 = 8;
const F_GETOWN: u32 = 9;
const F_SETSIG: u32 = 10;
const F_GETSIG: u32 = 11;
const F_SETOWN_EX: u32 = 15;
const F_GETOWN_EX: u32 = 16;

/// f_owner_ex's types.
pub const F_OWNER_TID: u32 = 0;
pub const F_OWNER_PID: u32 = 1;
pub const F_OWNER_PGRP: u32 = 2;

/// ioctls of sockets (asm-generic/sockios.h, the same on every arch).
pub const FIOSETOWN: u32 = 0x8901;
pub const SIOCSPGRP: u32 = 0x8902;
pub const FIOGETOWN: u32 = 0x8903;
pub const SIOCGPGRP: u32 = 0x8904;

const POLL_IN: i32 = 1;
const POLL_OUT: i32 = 2;
const POLL_ERR: i32 = 4;
const POLL_PRI: i32 = 5;
const POLL_HUP: i32 = 6;

/// si_band of a reason (Linux's band_table, EPOLL* bits).
fn band(why: i32) -> i64 {
    match why {
        POLL_IN => 0x41,   // POLLIN | POLLRDNORM
        POLL_OUT => 0x304, // POLLOUT | POLLWRNORM | POLLWRBAND
        POLL_ERR => 0x8,   // POLLERR
        POLL_PRI => 0x82,  // POLLPRI | POLLRDBAND
        POLL_HUP => 0x18,  // POLLHUP | POLLERR
        _ => 0,
    }
}

/// At most this many signals of one reason from one look at a file (a
/// bound on the work, far above what a queue of messages makes between
/// two looks).
const BURST_MAX: u64 = 64;

/// A description with O_ASYNC and what was last seen of it.
#[derive(Debug)]
pub struct Fasync {
    file: Weak<OpenFile>,
    fd: i32,
    mask: PollEvents,
    /// A counting file's events when last looked at ([`counts`]).
    counts: Option<[u64; 5]>,
}

/// A socket description with an owner, and the urgent marks it had when
/// last looked at.
#[derive(Debug)]
pub struct UrgWatch {
    file: Weak<OpenFile>,
    seen: u64,
}

/// The urgent marks the socket behind `f` has received, if it is one.
fn urgent_marks(f: &OpenFile) -> Option<u64> {
    crate::net::socket_of(f).map(|sf| sf.sock.urgent_marks())
}

/// Whether `cmd` is one of the owner and signal commands of fcntl.
pub fn is_owner_cmd(cmd: u32) -> bool {
    matches!(
        cmd,
        F_SETOWN | F_GETOWN | F_SETSIG | F_GETSIG | F_SETOWN_EX | F_GETOWN_EX
    )
}

/// Whether an owner of `kind` with id `id` exists.
fn owner_exists<H: Host>(k: &Kernel<H>, kind: u32, id: Pid) -> bool {
    match kind {
        F_OWNER_PGRP => k
            .pids()
            .into_iter()
            .any(|p| k.process(p).is_some_and(|q| q.pgid == id)),
        _ => k.process(id).is_some(),
    }
}

/// F_SETOWN and F_SETOWN_EX: `f`'s owner becomes `id` of `kind` (0: none),
/// which must exist (ESRCH).
fn set_owner<H: Host>(
    k: &mut Kernel<H>,
    f: &Arc<OpenFile>,
    mut o: FileOwner,
    kind: u32,
    id: Pid,
) -> SysResult {
    if id != 0 && !owner_exists(k, kind, id) {
        return Err(Errno::ESRCH);
    }
    o.kind = kind;
    o.pid = id;
    f.set_owner(o);
    if let Some(seen) = urgent_marks(f) {
        let me = Arc::as_ptr(f);
        if id != 0 && !k.urg_watch.iter().any(|w| w.file.as_ptr() == me) {
            k.urg_watch.push(UrgWatch {
                file: Arc::downgrade(f),
                seen,
            });
        }
    }
    Ok(0)
}

/// The processes an owner's signal goes to.
fn owner_targets<H: Host>(k: &Kernel<H>, o: FileOwner) -> Vec<Pid> {
    match o.kind {
        F_OWNER_PGRP => k
            .pids()
            .into_iter()
            .filter(|p| k.process(*p).is_some_and(|q| q.pgid == o.pid))
            .collect(),
        _ => alloc::vec![o.pid],
    }
}

/// Sends SIGURG to the owners of watched sockets that received urgent
/// data since last seen, and forgets closed ones.
pub fn check_urgent<H: Host>(k: &mut Kernel<H>) {
    let mut watch = core::mem::take(&mut k.urg_watch);
    let mut due: Vec<FileOwner> = Vec::new();
    watch.retain_mut(|w| {
        let Some(f) = w.file.upgrade() else {
            return false;
        };
        let Some(n) = urgent_marks(&f) else {
            return false;
        };
        // A count that went down belongs to a new connection.
        if n > w.seen {
            let o = f.owner();
            if o.pid != 0 {
                due.push(o);
            }
        }
        w.seen = n;
        true
    });
    watch.append(&mut k.urg_watch);
    k.urg_watch = watch;
    for o in due {
        let info = SigInfo {
            signo: SIGURG,
            code: code::SI_KERNEL,
            ..SigInfo::default()
        };
        for pid in owner_targets(k, o) {
            let _ = k.send_signal(pid, SIGURG, info);
        }
    }
}

/// fcntl's owner and signal commands.
pub fn sys_fcntl_owner<H: Host>(k: &mut Kernel<H>, fd: i32, cmd: u32, arg: u64) -> SysResult {
    let f = k.proc().fds.get(fd)?;
    let mut o = f.owner();
    match cmd {
        F_GETOWN => Ok(getown(&f) as isize as usize),
        F_SETOWN => setown(k, &f, arg as i32),
        F_GETOWN_EX => {
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&o.kind.to_ne_bytes());
            b[4..].copy_from_slice(&o.pid.to_ne_bytes());
            k.user().write_bytes(arg, &b)?;
            Ok(0)
        }
        F_SETOWN_EX => {
            let mut b = [0u8; 8];
            k.user().read_bytes(arg, &mut b)?;
            let kind = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            let id = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
            if kind > F_OWNER_PGRP || id < 0 {
                return Err(Errno::EINVAL);
            }
            set_owner(k, &f, o, kind, id as u32)
        }
        F_GETSIG => Ok(o.sig as usize),
        F_SETSIG => {
            let sig = u32::try_from(arg).map_err(|_| Errno::EINVAL)?;
            if sig > NSIG {
                return Err(Errno::EINVAL);
            }
            o.sig = sig;
            f.set_owner(o);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// The signals a file that counts them is due so far, by reason: POLL_IN,
/// POLL_OUT, POLL_HUP, urgent marks (POLL_PRI) and POLL_ERR. Pipes and counting
/// sockets; `None` for the rest, which signal rising edges of readiness.
fn counts(f: &OpenFile) -> Option<[u64; 5]> {
    if let Some(sf) = crate::net::socket_of(f) {
        let s = &sf.sock;
        let [i, o, h, e] = s.async_counts()?;
        return Some([i, o, h, s.urgent_marks(), e]);
    }
    let ops = f.ops()?;
    let n = crate::fs::pipe::async_count(&**ops)?;
    Some(if ops.as_any().is::<crate::fs::pipe::PipeReader>() {
        [n, 0, 0, 0, 0]
    } else {
        [0, n, 0, 0, 0]
    })
}

/// F_SETOWN's argument (also FIOSETOWN's and SIOCSPGRP's): a process, or
/// a process group when negative (f_setown).
pub fn setown<H: Host>(k: &mut Kernel<H>, f: &Arc<OpenFile>, who: i32) -> SysResult {
    if who == i32::MIN {
        return Err(Errno::EINVAL);
    }
    let (kind, id) = if who < 0 {
        (F_OWNER_PGRP, who.unsigned_abs())
    } else {
        (F_OWNER_PID, who as u32)
    };
    set_owner(k, f, f.owner(), kind, id)
}

/// F_GETOWN's answer (f_getown): the owner, negated for a process group.
pub fn getown(f: &OpenFile) -> i32 {
    let o = f.owner();
    match o.kind {
        F_OWNER_PGRP => (o.pid as i32).wrapping_neg(),
        _ => o.pid as i32,
    }
}

/// The owner ioctls of a socket (sock_ioctl): FIOSETOWN and SIOCSPGRP set
/// it from the int at `arg`, FIOGETOWN and SIOCGPGRP store it there.
pub fn sock_owner_ioctl<H: Host>(
    k: &mut Kernel<H>,
    f: &Arc<OpenFile>,
    cmd: u32,
    arg: u64,
) -> SysResult {
    match cmd {
        FIOSETOWN | SIOCSPGRP => {
            let mut b = [0u8; 4];
            k.user().read_bytes(arg, &mut b)?;
            setown(k, f, i32::from_ne_bytes(b))
        }
        _ => {
            k.user().write_bytes(arg, &getown(f).to_ne_bytes())?;
            Ok(0)
        }
    }
}

/// F_SETFL: registers the description for SIGIO when O_ASYNC is turned on
/// through `fd`, and forgets it when it is turned off.
pub fn setfl<H: Host>(k: &mut Kernel<H>, fd: i32, f: &Arc<OpenFile>, new: OpenFlags) {
    let on = new.contains(OpenFlags::O_ASYNC);
    let was = f.flags().contains(OpenFlags::O_ASYNC);
    let me = Arc::as_ptr(f);
    if on && !was {
        let counts = counts(f);
        let mask = if counts.is_some() {
            PollEvents::empty()
        } else {
            f.poll(&mut k.host)
        };
        k.fasync.push(Fasync {
            file: Arc::downgrade(f),
            fd,
            mask,
            counts,
        });
    } else if !on && was {
        k.fasync.retain(|r| r.file.as_ptr() != me);
    }
}

/// Raises the SIGIO that registered files are due, and forgets closed ones.
pub fn check<H: Host>(k: &mut Kernel<H>) {
    let mut regs = core::mem::take(&mut k.fasync);
    let mut due: Vec<(FileOwner, i32, i32, u64)> = Vec::new();
    regs.retain_mut(|r| {
        let Some(f) = r.file.upgrade() else {
            return false;
        };
        if !f.flags().contains(OpenFlags::O_ASYNC) {
            return false;
        }
        if let Some(old) = r.counts {
            let now = counts(&f).unwrap_or(old);
            r.counts = Some(now);
            let o = f.owner();
            if o.pid == 0 {
                return true;
            }
            // A pipe counts calls into its ends, and the I/O layer may
            // call one several times for one syscall (in chunks); the
            // kernel looks here after every syscall, so one signal per
            // look is one per syscall, as Linux's.
            let cap = if crate::net::socket_of(&f).is_some() {
                BURST_MAX
            } else {
                1
            };
            let more = |i: usize| now[i].saturating_sub(old[i]).min(cap);
            // SOCK_WAKE_URG: only a chosen signal (SIGURG itself goes
            // by check_urgent).
            if o.sig != 0 && more(3) > 0 {
                due.push((o, r.fd, POLL_PRI, more(3)));
            }
            // In the order one call makes them on Linux: tcp_fin's
            // POLL_HUP comes before tcp_data_ready's POLL_IN.
            for (i, why) in [(2, POLL_HUP), (0, POLL_IN), (1, POLL_OUT), (4, POLL_ERR)] {
                if more(i) > 0 {
                    due.push((o, r.fd, why, more(i)));
                }
            }
            return true;
        }
        let mask = f.poll(&mut k.host);
        let newly = mask.difference(r.mask);
        let reason = if newly.contains(PollEvents::POLLIN) {
            Some(POLL_IN)
        } else if newly.contains(PollEvents::POLLOUT) {
            Some(POLL_OUT)
        } else {
            None
        };
        r.mask = mask;
        if let Some(why) = reason {
            let o = f.owner();
            if o.pid != 0 {
                due.push((o, r.fd, why, 1));
            }
        }
        true
    });
    // Files registered while signals were raised stay registered.
    regs.append(&mut k.fasync);
    k.fasync = regs;
    for (o, fd, why, times) in due {
        let (sig, info) = if o.sig == 0 {
            let info = SigInfo {
                signo: SIGIO,
                code: code::SI_KERNEL,
                ..SigInfo::default()
            };
            (SIGIO, info)
        } else {
            let info = SigInfo {
                signo: o.sig,
                code: why,
                poll: Some((band(why), fd)),
                ..SigInfo::default()
            };
            (o.sig, info)
        };
        for pid in owner_targets(k, o) {
            for _ in 0..times {
                let _ = k.send_signal(pid, sig, info);
            }
        }
    }
}
