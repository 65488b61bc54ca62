//! Sessions and process groups: setsid, setpgid, getpgid, getsid, getpgrp.

use crate::host::Host;
use crate::kernel::Kernel;
use crate::SysResult;
use umbra_abi::Errno;

/// setsid(2): a process that leads no group starts a new session and group.
pub fn sys_setsid<H: Host>(k: &mut Kernel<H>) -> SysResult {
    let me = k.cur;
    let leads = k
        .pids()
        .into_iter()
        .any(|p| k.process(p).is_some_and(|q| q.pgid == me));
    if leads {
        return Err(Errno::EPERM);
    }
    let p = k.proc();
    p.sid = me;
    p.pgid = me;
    Ok(me as usize)
}

/// setpgid(2): the caller or one of its children joins or creates a group in
/// the caller's session.
pub fn sys_setpgid<H: Host>(k: &mut Kernel<H>, pid: i32, pgid: i32) -> SysResult {
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = k.cur;
    let target = if pid == 0 {
        me
    } else {
        u32::try_from(pid).map_err(|_| Errno::ESRCH)?
    };
    let pgid = if pgid == 0 { target } else { pgid as u32 };
    let my_sid = k.proc().sid;
    let t = k.process(target).ok_or(Errno::ESRCH)?;
    if target != me && t.ppid != me {
        return Err(Errno::ESRCH);
    }
    if t.sid != my_sid {
        return Err(Errno::EPERM);
    }
    if target != me && t.did_exec {
        return Err(Errno::EACCES);
    }
    if t.sid == target {
        // A session leader cannot move.
        return Err(Errno::EPERM);
    }
    if pgid != target {
        let exists = k.pids().into_iter().any(|p| {
            k.process(p)
                .is_some_and(|q| q.pgid == pgid && q.sid == my_sid)
        });
        if !exists {
            return Err(Errno::EPERM);
        }
    }
    if let Some(t) = k.procs_mut(target) {
        t.pgid = pgid;
    }
    Ok(0)
}
