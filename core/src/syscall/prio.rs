//! Process priorities: getpriority and setpriority (nice values). umbra's
//! scheduler is round robin, so the nice value is kept and reported (also in
//! /proc/PID/stat) but does not change how often a process runs.

use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::Pid;
use crate::SysResult;
use alloc::vec::Vec;
use umbra_abi::Errno;

const PRIO_PROCESS: u32 = 0;
const PRIO_PGRP: u32 = 1;
const PRIO_USER: u32 = 2;
/// CAP_SYS_NICE.
const CAP_SYS_NICE: u32 = 23;
/// RLIMIT_NICE.
const RLIMIT_NICE: usize = 13;

/// The processes `which`/`who` name (who 0: the caller, its group, its uid).
fn targets<H: Host>(k: &mut Kernel<H>, which: u32, who: u32) -> Result<Vec<Pid>, Errno> {
    let me = k.cur;
    let (pgid, ruid) = {
        let p = k.proc();
        (p.pgid, p.creds.ruid)
    };
    let pids = k.pids();
    let sel: Vec<Pid> = match which {
        PRIO_PROCESS => {
            // A thread id names its process (nice is per process here).
            let pid = if who == 0 {
                me
            } else {
                k.tgid_of(who).unwrap_or(who)
            };
            pids.into_iter().filter(|&p| p == pid).collect()
        }
        PRIO_PGRP => {
            let g = if who == 0 { pgid } else { who };
            pids.into_iter()
                .filter(|&p| k.process(p).is_some_and(|q| q.pgid == g))
                .collect()
        }
        PRIO_USER => {
            let u = if who == 0 { ruid } else { who };
            pids.into_iter()
                .filter(|&p| k.process(p).is_some_and(|q| q.creds.ruid == u))
                .collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    Ok(sel)
}

/// getpriority(2), the raw call: 20 - nice of the highest-priority (lowest
/// nice) process named, 1..=40, so it is never negative.
pub fn sys_getpriority<H: Host>(k: &mut Kernel<H>, which: u32, who: u32) -> SysResult {
    let pids = targets(k, which, who)?;
    pids.iter()
        .filter_map(|&p| k.process(p).map(|q| q.nice))
        .min()
        .map(|n| (20 - n) as usize)
        .ok_or(Errno::ESRCH)
}

/// setpriority(2): the nice value is clamped to -20..=19. Another user's
/// process needs CAP_SYS_NICE (EPERM); lowering the nice value below what
/// RLIMIT_NICE allows needs it too (EACCES).
pub fn sys_setpriority<H: Host>(k: &mut Kernel<H>, which: u32, who: u32, nice: i32) -> SysResult {
    let nice = nice.clamp(-20, 19);
    let pids = targets(k, which, who)?;
    let (euid, cap) = {
        let p = k.proc();
        (p.creds.euid, p.creds.capable(CAP_SYS_NICE))
    };
    let mut err = Err(Errno::ESRCH);
    for pid in pids {
        let Some(p) = k.procs_mut(pid) else { continue };
        if !cap && p.creds.euid != euid && p.creds.ruid != euid {
            err = Err(Errno::EPERM);
            continue;
        }
        // The target's RLIMIT_NICE allows a nice value down to 20 - rlim.
        let rlim = p.rlimits[RLIMIT_NICE].rlim_cur.min(40) as i64;
        let allowed = cap || (20 - nice as i64) <= rlim;
        if nice < p.nice && !allowed {
            err = Err(Errno::EACCES);
            continue;
        }
        p.nice = nice;
        if err == Err(Errno::ESRCH) {
            err = Ok(0);
        }
    }
    err
}
