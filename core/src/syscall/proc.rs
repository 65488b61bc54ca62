//! Process syscalls: exit, exit_group, ids, set_tid_address, set_robust_list,
//! prlimit64, getrusage, arch_prctl, prctl, sched_getaffinity.

use super::Outcome;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::{UserInPtr, UserOutPtr};
use crate::task::ExitStatus;
use crate::SysResult;
use alloc::vec::Vec;
use umbra_abi::structs::Rlimit;
use umbra_abi::Errno;

/// exit(2): ends the calling thread; the last thread's exit ends the
/// process with this status.
pub fn sys_exit<H: Host>(k: &mut Kernel<H>, code: i32) -> Outcome {
    k.exit_thread(ExitStatus::Exited(code as u8));
    Outcome::Exited
}

/// exit_group(2): ends every thread of the process.
pub fn sys_exit_group<H: Host>(k: &mut Kernel<H>, code: i32) -> Outcome {
    let pid = k.cur;
    k.exit_process(pid, ExitStatus::Exited(code as u8));
    Outcome::Exited
}

/// getpgid(2).
pub fn sys_getpgid<H: Host>(k: &mut Kernel<H>, pid: i32) -> SysResult {
    let pid = if pid == 0 {
        k.cur
    } else {
        u32::try_from(pid).map_err(|_| Errno::ESRCH)?
    };
    k.process(pid).map(|p| p.pgid as usize).ok_or(Errno::ESRCH)
}

/// getsid(2).
pub fn sys_getsid<H: Host>(k: &mut Kernel<H>, pid: i32) -> SysResult {
    let pid = if pid == 0 {
        k.cur
    } else {
        u32::try_from(pid).map_err(|_| Errno::ESRCH)?
    };
    k.process(pid).map(|p| p.sid as usize).ok_or(Errno::ESRCH)
}

/// set_tid_address(2): records the address cleared at thread exit; returns the tid.
pub fn sys_set_tid_address<H: Host>(k: &mut Kernel<H>, addr: u64) -> SysResult {
    let t = &mut k.proc().thread;
    t.clear_child_tid = addr;
    Ok(t.tid as usize)
}

/// set_robust_list(2): recorded for futex cleanup at thread exit.
pub fn sys_set_robust_list<H: Host>(k: &mut Kernel<H>, head: u64, len: u64) -> SysResult {
    // struct robust_list_head: three longs.
    if len != 3 * super::uabi::NATIVE.bytes() as u64 {
        return Err(Errno::EINVAL);
    }
    k.proc().thread.robust_list = (head, len);
    Ok(0)
}

/// get_robust_list(2): the head and length a thread registered (pid 0:
/// the caller; another process's only with CAP_SYS_PTRACE or the same uid,
/// ESRCH for no such process).
pub fn sys_get_robust_list<H: Host>(k: &mut Kernel<H>, pid: i32, head: u64, len: u64) -> SysResult {
    let me = k.proc().thread.tid;
    let target = if pid == 0 {
        me
    } else {
        u32::try_from(pid).map_err(|_| Errno::ESRCH)?
    };
    let (uid, cap) = {
        let c = &k.proc().creds;
        (c.euid, c.capable(19))
    };
    let tgid = k.tgid_of(target).ok_or(Errno::ESRCH)?;
    let p = k.process(tgid).ok_or(Errno::ESRCH)?;
    if tgid != k.cur && !cap && (p.creds.ruid != uid || p.creds.euid != uid) {
        return Err(Errno::EPERM);
    }
    let (h, l) = p.thread_by_tid(target).ok_or(Errno::ESRCH)?.robust_list;
    super::uabi::write_longs(k, len, &[l])?;
    super::uabi::write_longs(k, head, &[h])?;
    Ok(0)
}

/// prlimit64(2), also serving getrlimit/setrlimit as libc implements them.
pub fn sys_prlimit64<H: Host>(
    k: &mut Kernel<H>,
    pid: i32,
    res: u32,
    new: u64,
    old: u64,
) -> SysResult {
    if res >= umbra_abi::flags::RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    // A thread id names its process: the limits are the process's.
    let target = match pid {
        0 => k.cur,
        p if p < 0 => return Err(Errno::ESRCH),
        p => k.tgid_of(p as u32).ok_or(Errno::ESRCH)?,
    };
    let new_lim = if new != 0 {
        Some(k.user().read(UserInPtr::<Rlimit>::new(new))?)
    } else {
        None
    };
    // Another process's limits need the same uids and gids as the caller's
    // real ones, or CAP_SYS_RESOURCE (check_prlimit_permission).
    let (c, cap) = {
        let c = &k.proc().creds;
        (
            (c.ruid, c.rgid),
            c.capable(crate::task::cred::CAP_SYS_RESOURCE),
        )
    };
    let t = k.process(target).ok_or(Errno::ESRCH)?;
    let tc = &t.creds;
    let same = [tc.ruid, tc.euid, tc.suid].iter().all(|&u| u == c.0)
        && [tc.rgid, tc.egid, tc.sgid].iter().all(|&g| g == c.1);
    if target != k.cur && !cap && !same {
        return Err(Errno::EPERM);
    }
    let cur = t.rlimit(res);
    if let Some(n) = new_lim {
        check_rlimit(k, res, n)?;
        if n.rlim_max > cur.rlim_max && !cap {
            return Err(Errno::EPERM);
        }
    }
    if old != 0 {
        k.user().write(UserOutPtr::<Rlimit>::new(old), &cur)?;
    }
    if let Some(n) = new_lim {
        set_rlimit_of(k, target, res, n);
    }
    Ok(0)
}

fn check_rlimit<H: Host>(k: &mut Kernel<H>, res: u32, n: Rlimit) -> SysResult {
    if n.rlim_cur > n.rlim_max {
        return Err(Errno::EINVAL);
    }
    // Raising the hard limit needs privilege; the guest root has it, but a
    // limit umbra enforces itself (open files) cannot exceed its configuration.
    if res == umbra_abi::flags::RLIMIT_NOFILE && n.rlim_max > k.cfg.max_fds as u64 {
        return Err(Errno::EPERM);
    }
    Ok(0)
}

fn set_rlimit<H: Host>(k: &mut Kernel<H>, res: u32, n: Rlimit) {
    let me = k.cur;
    set_rlimit_of(k, me, res, n);
}

fn set_rlimit_of<H: Host>(k: &mut Kernel<H>, pid: u32, res: u32, n: Rlimit) {
    let Some(p) = k.procs_mut(pid) else { return };
    if let Some(slot) = p.rlimits.get_mut(res as usize) {
        *slot = n;
    }
    if res == umbra_abi::flags::RLIMIT_NOFILE {
        p.fds.set_limit(n.rlim_cur as usize);
    }
}

/// getrusage(2): RUSAGE_SELF and RUSAGE_THREAD (one thread per process) give
/// the process's CPU times and its resident set as ru_maxrss; RUSAGE_CHILDREN
/// the times of the children it reaped and the largest of their resident sets.
pub fn sys_getrusage<H: Host>(k: &mut Kernel<H>, who: i32, out: u64) -> SysResult {
    const RUSAGE_CHILDREN: i32 = -1;
    if !(-1..=1).contains(&who) {
        return Err(Errno::EINVAL);
    }
    const RUSAGE_THREAD: i32 = 1;
    let cpu = if who == RUSAGE_THREAD {
        k.thread_cpu_times(k.cur, None)
    } else {
        k.cpu_times(k.cur)
    };
    let p = k.proc();
    let ru = if who == RUSAGE_CHILDREN {
        encode_rusage(
            cpu.child_user_ns,
            cpu.child_sys_ns,
            cpu.child_maxrss_kib,
            super::uabi::NATIVE,
        )
    } else {
        let maxrss = (p.mm.resident_pages() * 4) as u64;
        encode_rusage(cpu.user_ns, cpu.sys_ns, maxrss, super::uabi::NATIVE)
    };
    k.user().write_bytes(out, &ru)?;
    Ok(0)
}

/// struct rusage with ru_utime, ru_stime (from ns) and ru_maxrss (KiB); the
/// other fields are zero.
pub fn encode_rusage(user_ns: u64, sys_ns: u64, maxrss_kib: u64, w: super::uabi::Long) -> Vec<u8> {
    let tv = |ns: u64| [ns / 1_000_000_000, ns % 1_000_000_000 / 1000];
    let [us, uu] = tv(user_ns);
    let [ss, su] = tv(sys_ns);
    let mut v = [0u64; 18];
    v[..5].copy_from_slice(&[us, uu, ss, su, maxrss_kib]);
    let out = super::uabi::encode_longs(&v, w);
    debug_assert_eq!(out.len(), super::uabi::rusage_size(w));
    out
}

/// prctl(2): the name, the parent-death signal, dumpable, keepcaps, the
/// capability bounding set, the subreaper mark, no_new_privs and the
/// clear_child_tid address; other options EINVAL, as Linux's unknown ones.
pub fn sys_prctl<H: Host>(k: &mut Kernel<H>, op: u32, a: [u64; 4]) -> SysResult {
    use crate::task::cred::{CAP_LAST_CAP, CAP_SETPCAP};
    const PR_SET_PDEATHSIG: u32 = 1;
    const PR_GET_PDEATHSIG: u32 = 2;
    const PR_GET_DUMPABLE: u32 = 3;
    const PR_SET_DUMPABLE: u32 = 4;
    const PR_GET_KEEPCAPS: u32 = 7;
    const PR_SET_KEEPCAPS: u32 = 8;
    const PR_SET_NAME: u32 = 15;
    const PR_GET_NAME: u32 = 16;
    const PR_CAPBSET_READ: u32 = 23;
    const PR_CAPBSET_DROP: u32 = 24;
    const PR_SET_CHILD_SUBREAPER: u32 = 36;
    const PR_GET_CHILD_SUBREAPER: u32 = 37;
    const PR_SET_NO_NEW_PRIVS: u32 = 38;
    const PR_GET_NO_NEW_PRIVS: u32 = 39;
    const PR_GET_TID_ADDRESS: u32 = 40;
    let arg = a[0];
    let int_out = |k: &mut Kernel<H>, v: i32| k.user().write(UserOutPtr::<i32>::new(arg), &v);
    match op {
        PR_SET_NAME => {
            let mut name = [0u8; 16];
            k.user().read_bytes(arg, &mut name)?;
            let n = name.iter().position(|&b| b == 0).unwrap_or(15).min(15);
            k.proc().comm = name[..n].to_vec();
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = [0u8; 16];
            let comm = k.proc().comm.clone();
            name[..comm.len().min(15)].copy_from_slice(&comm[..comm.len().min(15)]);
            k.user().write_bytes(arg, &name)?;
            Ok(0)
        }
        PR_SET_PDEATHSIG => {
            if arg > umbra_abi::signal::NSIG as u64 {
                return Err(Errno::EINVAL);
            }
            k.proc().creds.pdeathsig = arg as u32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            let v = k.proc().creds.pdeathsig as i32;
            int_out(k, v)?;
            Ok(0)
        }
        PR_GET_DUMPABLE => Ok(k.proc().creds.dumpable as usize),
        PR_SET_DUMPABLE => {
            if arg > 1 {
                return Err(Errno::EINVAL);
            }
            k.proc().creds.dumpable = arg as u32;
            Ok(0)
        }
        PR_GET_KEEPCAPS => Ok(k.proc().creds.keepcaps as usize),
        PR_SET_KEEPCAPS => {
            if arg > 1 {
                return Err(Errno::EINVAL);
            }
            k.proc().creds.keepcaps = arg == 1;
            Ok(0)
        }
        PR_CAPBSET_READ => {
            if arg > CAP_LAST_CAP as u64 {
                return Err(Errno::EINVAL);
            }
            Ok((k.proc().creds.caps.bounding >> arg & 1) as usize)
        }
        PR_CAPBSET_DROP => {
            let c = &mut k.proc().creds;
            if !c.capable(CAP_SETPCAP) {
                return Err(Errno::EPERM);
            }
            if arg > CAP_LAST_CAP as u64 {
                return Err(Errno::EINVAL);
            }
            c.caps.bounding &= !(1u64 << arg);
            Ok(0)
        }
        PR_SET_CHILD_SUBREAPER => {
            k.proc().creds.subreaper = arg != 0;
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            let v = k.proc().creds.subreaper as i32;
            int_out(k, v)?;
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS => {
            if arg != 1 || a[1..].iter().any(|&x| x != 0) {
                return Err(Errno::EINVAL);
            }
            k.proc().creds.no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => {
            if a.iter().any(|&x| x != 0) {
                return Err(Errno::EINVAL);
            }
            Ok(k.proc().creds.no_new_privs as usize)
        }
        PR_GET_TID_ADDRESS => {
            let v = k.proc().thread.clear_child_tid;
            super::uabi::write_longs(k, arg, &[v])?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// getrlimit/ugetrlimit and setrlimit of 32-bit arches: struct rlimit of
/// 32-bit longs, RLIM_INFINITY shown as 0xffffffff.
pub fn sys_rlimit32<H: Host>(k: &mut Kernel<H>, res: u32, at: u64, set: bool) -> SysResult {
    use umbra_abi::flags::RLIM_INFINITY;
    use umbra_abi::structs::Rlimit32;
    if res >= umbra_abi::flags::RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    if set {
        let r: Rlimit32 = k.user().read(UserInPtr::new(at))?;
        let wide = |v: u32| {
            if v == u32::MAX {
                RLIM_INFINITY
            } else {
                v as u64
            }
        };
        let new = Rlimit {
            rlim_cur: wide(r.rlim_cur),
            rlim_max: wide(r.rlim_max),
        };
        check_rlimit(k, res, new)?;
        set_rlimit(k, res, new);
        return Ok(0);
    }
    let cur = k.proc().rlimit(res);
    let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let r = Rlimit32 {
        rlim_cur: narrow(cur.rlim_cur),
        rlim_max: narrow(cur.rlim_max),
    };
    k.user().write(UserOutPtr::new(at), &r)?;
    Ok(0)
}

/// arch_prctl(2): the FS and GS bases.
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
pub fn sys_arch_prctl<H: Host>(k: &mut Kernel<H>, code: u32, addr: u64) -> SysResult {
    use umbra_abi::flags::*;
    match code {
        ARCH_SET_FS | ARCH_SET_GS => {
            if addr >= crate::arch::USER_END {
                return Err(Errno::EPERM);
            }
            let g = &mut k.proc().thread.regs.gp;
            if code == ARCH_SET_FS {
                g.fs_base = addr;
            } else {
                g.gs_base = addr;
            }
            Ok(0)
        }
        ARCH_GET_FS | ARCH_GET_GS => {
            let g = k.proc().thread.regs.gp;
            let v = if code == ARCH_GET_FS {
                g.fs_base
            } else {
                g.gs_base
            };
            k.user().write(UserOutPtr::<u64>::new(addr), &v)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
