//! Calls real programs make at start-up (issue 11): sched_setaffinity and
//! sched_getaffinity (one CPU), the scheduling-policy calls (sched_getparam,
//! sched_setparam, sched_getscheduler, sched_setscheduler,
//! sched_get_priority_max/min), membarrier, kcmp, unshare and close_range.
//! `dispatch` serves them before the main table.
//!
//! umbra runs its guests on one CPU, and only one guest thread executes at a
//! time (the others are stopped in the kernel), so every membarrier is
//! already a full barrier on every running thread: the commands only keep
//! Linux's registration rules. Every process is SCHED_OTHER; real-time
//! policies are refused (EPERM), as for a process without CAP_SYS_NICE.

use super::Outcome;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::{UserInPtr, UserOutPtr};
use crate::task::Pid;
use crate::SysResult;
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::CloneFlags;
use umbra_abi::syscall::nr::*;
use umbra_abi::Errno;

/// Serves call `n` if it is one of this family; None otherwise.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    let r = match n {
        SCHED_GETAFFINITY => sys_sched_getaffinity(k, a[0] as i32, a[1] as usize, a[2]),
        SCHED_SETAFFINITY => sys_sched_setaffinity(k, a[0] as i32, a[1] as usize, a[2]),
        SCHED_GETSCHEDULER => target(k, a[0] as i32).map(|_| SCHED_OTHER as usize),
        SCHED_GETPARAM => sys_sched_getparam(k, a[0] as i32, a[1]),
        SCHED_SETSCHEDULER => sys_sched_setscheduler(k, a[0] as i32, Some(a[1] as i32), a[2]),
        SCHED_SETPARAM => sys_sched_setscheduler(k, a[0] as i32, None, a[1]),
        SCHED_GET_PRIORITY_MAX => priority_range(a[0] as i32).map(|(_, max)| max),
        SCHED_GET_PRIORITY_MIN => priority_range(a[0] as i32).map(|(min, _)| min),
        MEMBARRIER => sys_membarrier(k, a[0] as u32, a[1] as u32),
        KCMP => sys_kcmp(k, a[0] as i32, a[1] as i32, a[2] as u32, a[3], a[4]),
        UNSHARE => sys_unshare(k, a[0]),
        CLOSE_RANGE => sys_close_range(k, a[0] as u32, a[1] as u32, a[2] as u32),
        _ => return None,
    };
    Some(Outcome::Ret(r))
}

const SCHED_OTHER: i32 = 0;
const SCHED_FIFO: i32 = 1;
const SCHED_RR: i32 = 2;
const SCHED_BATCH: i32 = 3;
const SCHED_IDLE: i32 = 5;
const SCHED_DEADLINE: i32 = 6;
const SCHED_EXT: i32 = 7;
/// sched_setscheduler's flag bit: the child of a fork returns to SCHED_OTHER.
const SCHED_RESET_ON_FORK: i32 = 0x4000_0000;

/// The process of the thread `pid` names (0: the caller): EINVAL for a
/// negative pid, ESRCH for none. These calls take a thread id; every thread of
/// a process has its single CPU and policy.
fn target<H: Host>(k: &mut Kernel<H>, pid: i32) -> Result<Pid, Errno> {
    let p = match pid {
        0 => return Ok(k.cur),
        p if p < 0 => return Err(Errno::EINVAL),
        p => p as Pid,
    };
    k.tgid_of(p).ok_or(Errno::ESRCH)
}

/// sched_getaffinity(2): CPU 0 alone. The mask is written in longs; `len`
/// must hold one and be a multiple of one. Returns the bytes written.
pub fn sys_sched_getaffinity<H: Host>(
    k: &mut Kernel<H>,
    pid: i32,
    len: usize,
    out: u64,
) -> SysResult {
    let long = super::uabi::NATIVE.bytes();
    if len < long || !len.is_multiple_of(long) {
        return Err(Errno::EINVAL);
    }
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    target(k, pid)?;
    super::uabi::write_longs(k, out, &[1])?;
    Ok(long)
}

/// sched_setaffinity(2): the mask must hold CPU 0, the only CPU; a shorter
/// mask is zero-extended and bits past the CPUs are ignored, as Linux does.
pub fn sys_sched_setaffinity<H: Host>(
    k: &mut Kernel<H>,
    pid: i32,
    len: usize,
    mask: u64,
) -> SysResult {
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    let mut first = [0u8; 1];
    if len > 0 {
        k.user().read_bytes(mask, &mut first)?;
    }
    target(k, pid)?;
    if first[0] & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// sched_getparam(2): the priority of SCHED_OTHER, 0.
fn sys_sched_getparam<H: Host>(k: &mut Kernel<H>, pid: i32, out: u64) -> SysResult {
    if out == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    target(k, pid)?;
    k.user().write(UserOutPtr::<i32>::new(out), &0)?;
    Ok(0)
}

/// The priority range of a policy (sched_get_priority_max/min(2)).
fn priority_range(policy: i32) -> Result<(usize, usize), Errno> {
    match policy {
        SCHED_FIFO | SCHED_RR => Ok((1, 99)),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE | SCHED_EXT => Ok((0, 0)),
        _ => Err(Errno::EINVAL),
    }
}

/// sched_setscheduler(2) and sched_setparam(2) (`policy` None: keep it).
/// SCHED_OTHER with priority 0 is what every process has; the other
/// policies are not implemented and are refused with EPERM, as Linux refuses
/// a process without CAP_SYS_NICE a real-time policy.
fn sys_sched_setscheduler<H: Host>(
    k: &mut Kernel<H>,
    pid: i32,
    policy: Option<i32>,
    param: u64,
) -> SysResult {
    if param == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let prio: i32 = k.user().read(UserInPtr::new(param))?;
    target(k, pid)?;
    let policy = policy.map_or(SCHED_OTHER, |p| p & !SCHED_RESET_ON_FORK);
    let (min, max) = priority_range(policy)?;
    if prio < min as i32 || prio > max as i32 {
        return Err(Errno::EINVAL);
    }
    if policy == SCHED_OTHER {
        Ok(0)
    } else {
        Err(Errno::EPERM)
    }
}

const MEMBARRIER_CMD_QUERY: u32 = 0;
const MEMBARRIER_CMD_GLOBAL: u32 = 1;
const MEMBARRIER_CMD_GLOBAL_EXPEDITED: u32 = 1 << 1;
const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: u32 = 1 << 2;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: u32 = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: u32 = 1 << 4;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: u32 = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: u32 = 1 << 6;
const MEMBARRIER_CMD_GET_REGISTRATIONS: u32 = 1 << 9;

/// The commands umbra serves. The rseq ones are left out: rseq(2) is ENOSYS.
const MEMBARRIER_SUPPORTED: u32 = MEMBARRIER_CMD_GLOBAL
    | MEMBARRIER_CMD_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
    | MEMBARRIER_CMD_GET_REGISTRATIONS;

/// membarrier(2). The registrations belong to the address space: a fork
/// copies them, an exec clears them (as Linux's dup_mm and exec_mmap). The
/// barriers themselves have nothing to do (see the module doc).
fn sys_membarrier<H: Host>(k: &mut Kernel<H>, cmd: u32, flags: u32) -> SysResult {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let reg = &mut k.proc().membarrier;
    match cmd {
        MEMBARRIER_CMD_QUERY => Ok(MEMBARRIER_SUPPORTED as usize),
        MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED => Ok(0),
        MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
        | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE => {
            *reg |= cmd;
            Ok(0)
        }
        MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE => {
            // The register command of a private one is the next bit up.
            if *reg & (cmd << 1) == 0 {
                return Err(Errno::EPERM);
            }
            Ok(0)
        }
        MEMBARRIER_CMD_GET_REGISTRATIONS => Ok(*reg as usize),
        _ => Err(Errno::EINVAL),
    }
}

const KCMP_FILE: u32 = 0;
const KCMP_VM: u32 = 1;
const KCMP_FILES: u32 = 2;
const KCMP_FS: u32 = 3;
const KCMP_SIGHAND: u32 = 4;
const KCMP_IO: u32 = 5;
const KCMP_SYSVSEM: u32 = 6;
const KCMP_EPOLL_TFD: u32 = 7;
const CAP_SYS_PTRACE: u32 = 19;

/// kcmp(2): 0 when the two resources are the same, 1 or 2 for an order
/// otherwise (by the pids for per-process resources, by the address of the
/// open file description for files, as Linux orders by obfuscated pointers).
///
/// An umbra process holds its own address space, fd table, fs information
/// and signal handlers, which its threads share, so those compare equal
/// exactly within one process (thread ids are mapped to their process). No process has an I/O context, so
/// KCMP_IO is always equal, as Linux's for two tasks without one. KCMP_SYSVSEM
/// is equal within one process and EOPNOTSUPP between two (umbra does not
/// track whether they share an undo list); KCMP_EPOLL_TFD is EOPNOTSUPP, as
/// on a kernel without epoll.
fn sys_kcmp<H: Host>(
    k: &mut Kernel<H>,
    pid1: i32,
    pid2: i32,
    ty: u32,
    idx1: u64,
    idx2: u64,
) -> SysResult {
    // Thread ids name their process: its threads share all it has.
    let lookup = |k: &mut Kernel<H>, pid: i32| -> Result<Pid, Errno> {
        let p = u32::try_from(pid)
            .ok()
            .filter(|&p| p != 0)
            .ok_or(Errno::ESRCH)?;
        k.tgid_of(p).ok_or(Errno::ESRCH)
    };
    let (p1, p2) = (lookup(k, pid1)?, lookup(k, pid2)?);
    // PTRACE_MODE_READ on both: the same real uid, or CAP_SYS_PTRACE.
    let (uid, cap) = {
        let c = &k.proc().creds;
        (c.ruid, c.capable(CAP_SYS_PTRACE))
    };
    for p in [p1, p2] {
        let c = &k.process(p).ok_or(Errno::ESRCH)?.creds;
        if !cap && (c.ruid != uid || c.euid != uid || c.suid != uid) {
            return Err(Errno::EPERM);
        }
    }
    let order = |a: usize, b: usize| -> usize {
        match a.cmp(&b) {
            core::cmp::Ordering::Equal => 0,
            core::cmp::Ordering::Less => 1,
            core::cmp::Ordering::Greater => 2,
        }
    };
    match ty {
        KCMP_FILE => {
            let file = |k: &Kernel<H>, p: Pid, fd: u64| -> Result<usize, Errno> {
                let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
                let f = k.process(p).ok_or(Errno::ESRCH)?.fds.get(fd)?;
                Ok(Arc::as_ptr(&f) as *const u8 as usize)
            };
            let (a, b) = (file(k, p1, idx1)?, file(k, p2, idx2)?);
            Ok(order(a, b))
        }
        KCMP_VM | KCMP_FILES | KCMP_FS | KCMP_SIGHAND => Ok(order(p1 as usize, p2 as usize)),
        KCMP_IO => Ok(0),
        KCMP_SYSVSEM if p1 == p2 => Ok(0),
        KCMP_SYSVSEM | KCMP_EPOLL_TFD => Err(Errno::EOPNOTSUPP),
        _ => Err(Errno::EINVAL),
    }
}

const CLONE_NEWTIME: u64 = 0x80;
const CLONE_NEWCGROUP: u64 = 0x0200_0000;
const CLONE_NEWUTS: u64 = 0x0400_0000;
const CLONE_NEWIPC: u64 = 0x0800_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWPID: u64 = 0x2000_0000;
const CLONE_NEWNET: u64 = 0x4000_0000;

/// unshare(2). What a process can unshare without namespaces it has
/// already to itself while it is single-threaded: its fd table, its fs
/// information, its signal handlers and its address space, so those succeed
/// doing nothing; its System V semaphore undo list is applied and emptied. A multi-threaded process shares them with
/// its threads, and umbra cannot split them: EINVAL, as Linux gives for
/// CLONE_THREAD, CLONE_SIGHAND and CLONE_VM there. umbra has no namespaces:
/// every CLONE_NEW* is EPERM, as for a process without CAP_SYS_ADMIN.
fn sys_unshare<H: Host>(k: &mut Kernel<H>, flags: u64) -> SysResult {
    let ns = CLONE_NEWTIME
        | CLONE_NEWCGROUP
        | CLONE_NEWUTS
        | CLONE_NEWIPC
        | CLONE_NEWUSER
        | CLONE_NEWPID
        | CLONE_NEWNET
        | CloneFlags::NEWNS.bits();
    let plain = (CloneFlags::THREAD
        | CloneFlags::FS
        | CloneFlags::SIGHAND
        | CloneFlags::VM
        | CloneFlags::FILES
        | CloneFlags::SYSVSEM)
        .bits();
    if flags & !(ns | plain) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & plain != 0 && k.proc().threads().count() > 1 {
        return Err(Errno::EINVAL);
    }
    if flags & ns != 0 {
        return Err(Errno::EPERM);
    }
    if cfg!(feature = "ipc") && flags & CloneFlags::SYSVSEM.bits() != 0 {
        // The process leaves its undo list for an empty one; being the list's
        // last user, its adjustments apply now, as at exit (Linux's exit_sem).
        let pid = k.cur;
        k.ipc.sem.exit(pid);
    }
    Ok(0)
}

const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;
const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// close_range(2): closes (or, with CLOSE_RANGE_CLOEXEC, marks close-on-exec)
/// the open descriptors from `first` to `last`. CLOSE_RANGE_UNSHARE first
/// unshares the fd table, which a single-threaded process has to itself.
fn sys_close_range<H: Host>(k: &mut Kernel<H>, first: u32, last: u32, flags: u32) -> SysResult {
    use crate::task::fd_table::FdFlags;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    if flags & CLOSE_RANGE_UNSHARE != 0 && k.proc().threads().count() > 1 {
        return Err(Errno::EINVAL);
    }
    let in_range = |fd: i32| (first..=last).contains(&(fd as u32));
    let fds: Vec<i32> = k
        .proc()
        .fds
        .fds()
        .map(|(fd, _)| fd)
        .filter(|&fd| in_range(fd))
        .collect();
    if flags & CLOSE_RANGE_CLOEXEC != 0 {
        let t = &mut k.proc().fds;
        for fd in fds {
            let fl = t.flags(fd)?;
            t.set_flags(fd, fl | FdFlags::CLOEXEC)?;
        }
        return Ok(0);
    }
    let mut closed = Vec::new();
    for fd in fds {
        if let Ok(f) = k.proc().fds.close(fd) {
            closed.push(f);
        }
    }
    let pid = k.cur;
    super::lock::closed_files(k, pid, &closed);
    Ok(0)
}
