//! Advisory locks: fcntl's record-lock commands (F_GETLK, F_SETLK, F_SETLKW,
//! their struct flock64 forms F_*LK64 on 32-bit arches, and the open file
//! description locks F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW) and flock(2).
//! The locks themselves are in [`crate::fs::lock`].
//!
//! A request that must wait (F_SETLKW, F_OFD_SETLKW, flock without LOCK_NB)
//! parks the thread; the kernel serves the call again whenever something
//! happened, so it takes the lock once the holder's unlock, close or exit has
//! run. A signal ends the wait as it ends a blocking read (EINTR, or a restart
//! under SA_RESTART).

use super::uabi::{Long, NATIVE};
use super::Outcome;
use crate::fs::file::OpenFile;
use crate::fs::lock::{InodeKey, LockKind, Owner, OFFSET_MAX};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::{Pid, Restart, ThreadState, Wait};
use crate::KResult;
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::*;
use umbra_abi::Errno;

/// Whether the guest is ILP32 (its fcntl has the flock64 commands).
const ILP32: bool = cfg!(target_pointer_width = "32");

const F_RDLCK: i16 = 0;
const F_WRLCK: i16 = 1;
const F_UNLCK: i16 = 2;

const LOCK_SH: u32 = 1;
const LOCK_EX: u32 = 2;
const LOCK_NB: u32 = 4;
const LOCK_UN: u32 = 8;

/// Which fcntl call a command came through: 32-bit arches have fcntl, whose
/// F_OFD_* commands take struct flock, and fcntl64, whose take struct flock64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FcntlCall {
    Fcntl,
    Fcntl64,
}

/// Whether `cmd` is one of fcntl's lock commands served here.
pub fn is_lock_cmd(cmd: u32) -> bool {
    matches!(
        cmd,
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW
    ) || (ILP32 && matches!(cmd, F_GETLK64 | F_SETLK64 | F_SETLKW64))
}

/// The struct a lock command reads: struct flock (with C `long` offsets) or
/// struct flock64. Both start with l_type and l_whence (shorts); on LP64 and
/// in ARM EABI's flock64 the 64-bit offsets are 8-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Long(Long),
    Flock64,
}

/// A decoded struct flock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flock {
    ty: i16,
    whence: i16,
    start: i64,
    len: i64,
    pid: i32,
}

impl Layout {
    fn size(self) -> usize {
        match self {
            Layout::Long(Long::W32) => 16,
            _ => 32,
        }
    }

    fn decode(self, b: &[u8]) -> Flock {
        let i16_at = |o: usize| i16::from_ne_bytes([b[o], b[o + 1]]);
        let i32_at = |o: usize| i32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let i64_at = |o: usize| {
            let mut v = [0u8; 8];
            v.copy_from_slice(&b[o..o + 8]);
            i64::from_ne_bytes(v)
        };
        let (ty, whence) = (i16_at(0), i16_at(2));
        match self {
            Layout::Long(Long::W32) => Flock {
                ty,
                whence,
                start: i32_at(4) as i64,
                len: i32_at(8) as i64,
                pid: i32_at(12),
            },
            _ => Flock {
                ty,
                whence,
                start: i64_at(8),
                len: i64_at(16),
                pid: i32_at(24),
            },
        }
    }

    fn encode(self, f: &Flock, b: &mut [u8]) {
        b[0..2].copy_from_slice(&f.ty.to_ne_bytes());
        b[2..4].copy_from_slice(&f.whence.to_ne_bytes());
        match self {
            Layout::Long(Long::W32) => {
                b[4..8].copy_from_slice(&(f.start as i32).to_ne_bytes());
                b[8..12].copy_from_slice(&(f.len as i32).to_ne_bytes());
                b[12..16].copy_from_slice(&f.pid.to_ne_bytes());
            }
            _ => {
                b[8..16].copy_from_slice(&f.start.to_ne_bytes());
                b[16..24].copy_from_slice(&f.len.to_ne_bytes());
                b[24..28].copy_from_slice(&f.pid.to_ne_bytes());
            }
        }
    }
}

/// The inode a description's locks live on.
fn key_of(f: &OpenFile) -> KResult<InodeKey> {
    let m = f.stat()?;
    Ok((m.dev, m.ino))
}

/// The byte range `start..=end` a struct flock names (Linux's
/// flock64_to_posix_lock): relative to the start, the position or the end of
/// the file; a length of 0 runs to the end of any file, a negative one ends
/// just before the start.
fn range(f: &OpenFile, whence: i16, start: i64, len: i64) -> KResult<(u64, u64)> {
    let base: i64 = match u32::try_from(whence).map_err(|_| Errno::EINVAL)? {
        SEEK_SET => 0,
        SEEK_CUR => i64::try_from(f.offset()).map_err(|_| Errno::EOVERFLOW)?,
        SEEK_END => i64::try_from(f.stat()?.size).map_err(|_| Errno::EOVERFLOW)?,
        _ => return Err(Errno::EINVAL),
    };
    let max = OFFSET_MAX as i64;
    if start > max - base {
        return Err(Errno::EOVERFLOW);
    }
    let s = base + start;
    if s < 0 {
        return Err(Errno::EINVAL);
    }
    let (s, e) = if len > 0 {
        if len - 1 > max - s {
            return Err(Errno::EOVERFLOW);
        }
        (s, s + (len - 1))
    } else if len < 0 {
        if s + len < 0 {
            return Err(Errno::EINVAL);
        }
        (s + len, s - 1)
    } else {
        (s, max)
    };
    Ok((s as u64, e as u64))
}

/// The processes blocked in a lock request right now (a recorded waiter a
/// signal has since woken is not one).
fn lock_waiters<H: Host>(k: &Kernel<H>) -> Vec<Pid> {
    use umbra_abi::syscall::nr;
    let is_fcntl = |n: u64| {
        let n = n as usize;
        #[cfg(target_arch = "arm")]
        if n == nr::FCNTL64 {
            return true;
        }
        n == nr::FCNTL
    };
    k.pids()
        .into_iter()
        .filter(|p| {
            k.process(*p).is_some_and(|q| {
                matches!(q.thread.state, ThreadState::Blocked(Wait::Event { .. }))
                    && is_fcntl(q.thread.regs.syscall_nr())
            })
        })
        .collect()
}

fn park() -> Outcome {
    Outcome::Block(Wait::Event {
        deadline: None,
        restart: Restart::WithSaRestart,
    })
}

/// fcntl(2)'s lock commands.
pub fn sys_fcntl_lock<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    cmd: u32,
    arg: u64,
    call: FcntlCall,
) -> Outcome {
    match fcntl_lock(k, fd, cmd, arg, call) {
        Ok(true) => park(),
        r => {
            let me = k.cur;
            k.locks.clear_waiting(me);
            Outcome::Ret(r.map(|_| 0))
        }
    }
}

/// Serves a lock command; `Ok(true)` when the caller must wait.
fn fcntl_lock<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    cmd: u32,
    arg: u64,
    call: FcntlCall,
) -> KResult<bool> {
    let f = k.proc().fds.get(fd)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    let is64 = matches!(cmd, F_GETLK64 | F_SETLK64 | F_SETLKW64) && ILP32;
    let layout = if is64 || (ofd && call == FcntlCall::Fcntl64) {
        Layout::Flock64
    } else {
        Layout::Long(NATIVE)
    };
    let getlk = cmd == F_GETLK || cmd == F_OFD_GETLK || (is64 && cmd == F_GETLK64);
    let wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW || (is64 && cmd == F_SETLKW64);
    let mut raw = [0u8; 32];
    let raw = &mut raw[..layout.size()];
    k.user().read_bytes(arg, raw)?;
    let mut fl = layout.decode(raw);
    let kind = match fl.ty {
        F_RDLCK => Some(LockKind::Read),
        F_WRLCK => Some(LockKind::Write),
        F_UNLCK => None,
        _ => return Err(Errno::EINVAL),
    };
    let (start, end) = range(&f, fl.whence, fl.start, fl.len)?;
    if ofd && fl.pid != 0 {
        return Err(Errno::EINVAL);
    }
    let key = key_of(&f)?;
    let owner = if ofd {
        Owner::Desc(f.lock_id())
    } else {
        Owner::Process(k.cur)
    };
    if getlk {
        let kind = kind.ok_or(Errno::EINVAL)?;
        let found = k
            .locks
            .get(key)
            .and_then(|l| l.lock().conflict(owner, kind, start, end));
        match found {
            None => fl.ty = F_UNLCK,
            Some(c) => {
                if layout == Layout::Long(Long::W32)
                    && (c.start > i32::MAX as u64
                        || (c.end != OFFSET_MAX && c.end > i32::MAX as u64))
                {
                    return Err(Errno::EOVERFLOW);
                }
                fl.ty = if c.kind == LockKind::Write {
                    F_WRLCK
                } else {
                    F_RDLCK
                };
                fl.whence = SEEK_SET as i16;
                fl.start = c.start as i64;
                fl.len = if c.end == OFFSET_MAX {
                    0
                } else {
                    (c.end - c.start + 1) as i64
                };
                fl.pid = match c.owner {
                    Owner::Process(p) => p as i32,
                    Owner::Desc(_) => -1,
                };
            }
        }
        layout.encode(&fl, raw);
        k.user().write_bytes(arg, raw)?;
        return Ok(false);
    }
    match kind {
        Some(LockKind::Read) if !f.readable() => return Err(Errno::EBADF),
        Some(LockKind::Write) if !f.writable() => return Err(Errno::EBADF),
        _ => {}
    }
    let locks = k.locks.inode(key);
    if ofd {
        f.hold_locks(&locks);
    }
    let Some(kind) = kind else {
        locks.lock().set_range(owner, None, start, end);
        return Ok(false);
    };
    let conflict = locks.lock().conflict(owner, kind, start, end);
    match conflict {
        None => {
            locks.lock().set_range(owner, Some(kind), start, end);
            Ok(false)
        }
        Some(_) if !wait => Err(Errno::EAGAIN),
        Some(c) => {
            if let Owner::Process(me) = owner {
                let waiters = lock_waiters(k);
                let still = |p: u32| waiters.contains(&p);
                if k.locks.would_deadlock(me, c.owner, &still) {
                    return Err(Errno::EDEADLK);
                }
                k.locks.set_waiting(me, key, kind, start, end);
            }
            Ok(true)
        }
    }
}

/// flock(2): a whole-file lock owned by the open file description, so shared
/// through dup and fork and dropped at its last close. Changing its kind
/// drops the old lock first, as Linux does (the change is not atomic).
pub fn sys_flock<H: Host>(k: &mut Kernel<H>, fd: i32, op: u32) -> Outcome {
    match flock(k, fd, op) {
        Ok(true) => park(),
        r => Outcome::Ret(r.map(|_| 0)),
    }
}

fn flock<H: Host>(k: &mut Kernel<H>, fd: i32, op: u32) -> KResult<bool> {
    let f = k.proc().fds.get(fd)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    let kind = match op & !LOCK_NB {
        LOCK_SH => Some(LockKind::Read),
        LOCK_EX => Some(LockKind::Write),
        LOCK_UN => None,
        _ => return Err(Errno::EINVAL),
    };
    if kind.is_some() && !f.readable() && !f.writable() {
        return Err(Errno::EBADF);
    }
    let locks = k.locks.inode(key_of(&f)?);
    f.hold_locks(&locks);
    let id = f.lock_id();
    let mut l = locks.lock();
    let held = l.flock_held(id);
    if held.is_some() && held == kind {
        return Ok(false);
    }
    l.flock_set(id, None);
    let Some(kind) = kind else {
        return Ok(false);
    };
    if l.flock_conflict(id, kind) {
        if op & LOCK_NB != 0 {
            return Err(Errno::EWOULDBLOCK);
        }
        return Ok(true);
    }
    l.flock_set(id, Some(kind));
    Ok(false)
}

/// Process `pid` closed descriptors of `files`: its POSIX locks on their
/// inodes go (fcntl(2): closing any descriptor of a file drops them).
pub fn closed_files<H: Host>(k: &mut Kernel<H>, pid: Pid, files: &[Arc<OpenFile>]) {
    if k.locks.is_empty() {
        return;
    }
    for f in files {
        if let Ok(key) = key_of(f) {
            k.locks.release_process(pid, Some(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flock_layouts_round_trip() {
        let fl = Flock {
            ty: F_WRLCK,
            whence: 1,
            start: -5,
            len: 100,
            pid: 42,
        };
        for layout in [
            Layout::Long(Long::W32),
            Layout::Long(Long::W64),
            Layout::Flock64,
        ] {
            let mut b = [0u8; 32];
            layout.encode(&fl, &mut b[..layout.size()]);
            assert_eq!(layout.decode(&b), fl, "{layout:?}");
        }
        let mut b = [0u8; 32];
        Layout::Long(Long::W32).encode(&fl, &mut b);
        assert_eq!(&b[4..8], &(-5i32).to_ne_bytes());
        assert_eq!(&b[12..16], &42i32.to_ne_bytes());
        assert_eq!(&b[16..], &[0u8; 16], "struct flock is 16 bytes on ILP32");
    }
}
