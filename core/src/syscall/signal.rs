//! Signal syscalls. Actions and masks are recorded and read back exactly as
//! Linux does; delivering signals to handlers comes with the signals work.

use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::{UserInPtr, UserOutPtr};
use crate::task::SigAction;
use crate::SysResult;
use umbra_abi::signal::*;
use umbra_abi::Errno;

/// Signals that can be neither caught nor blocked.
const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

fn read_action<H: Host>(k: &mut Kernel<H>, at: u64) -> crate::KResult<SigAction> {
    // struct kernel_sigaction: handler, flags, restorer, mask (x86_64 layout; the
    // asm-generic one has the same field order without restorer use).
    let w: [u64; 4] = k.user().read(UserInPtr::new(at))?;
    Ok(SigAction {
        handler: w[0],
        flags: w[1],
        restorer: w[2],
        mask: w[3] & !UNBLOCKABLE,
    })
}

/// rt_sigaction(2).
pub fn sys_rt_sigaction<H: Host>(
    k: &mut Kernel<H>,
    sig: u32,
    act: u64,
    old: u64,
    size: usize,
) -> SysResult {
    if size != 8 || sig == 0 || sig > NSIG {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        Some(read_action(k, act)?)
    } else {
        None
    };
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let prev = k.proc().sigactions[(sig - 1) as usize];
    if old != 0 {
        let w = [prev.handler, prev.flags, prev.restorer, prev.mask];
        k.user().write(UserOutPtr::<[u64; 4]>::new(old), &w)?;
    }
    if let Some(a) = new {
        k.proc().sigactions[(sig - 1) as usize] = a;
    }
    Ok(0)
}

/// rt_sigprocmask(2).
pub fn sys_rt_sigprocmask<H: Host>(
    k: &mut Kernel<H>,
    how: u32,
    set: u64,
    old: u64,
    size: usize,
) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let cur = k.proc().thread.sigmask;
    let new = if set != 0 {
        let s: u64 = k.user().read(UserInPtr::new(set))?;
        Some(match how {
            SIG_BLOCK => cur | s,
            SIG_UNBLOCK => cur & !s,
            SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL),
        })
    } else {
        None
    };
    if old != 0 {
        k.user().write(UserOutPtr::<u64>::new(old), &cur)?;
    }
    if let Some(m) = new {
        k.proc().thread.sigmask = m & !UNBLOCKABLE;
    }
    Ok(0)
}

/// sigaltstack(2): reports that no alternate stack is set; a new one is accepted
/// and not kept yet, since no handler runs on it until signal delivery exists.
pub fn sys_sigaltstack<H: Host>(k: &mut Kernel<H>, _ss: u64, old: u64) -> SysResult {
    const SS_DISABLE: u32 = 2;
    if old != 0 {
        // stack_t: ss_sp, ss_flags (int, padded), ss_size.
        let w: [u64; 3] = [0, SS_DISABLE as u64, 0];
        k.user().write(UserOutPtr::<[u64; 3]>::new(old), &w)?;
    }
    Ok(0)
}
