//! Process creation and replacement: clone, fork, vfork, execve.

use super::Outcome;
use crate::host::Host;
use crate::kernel::{CloneArgs, Kernel};
use crate::loader::stack::MAX_ARG_BYTES;
use crate::task::Wait;
use crate::SysResult;
use umbra_abi::flags::CloneFlags;
use umbra_abi::signal::SIGCHLD;
use umbra_abi::Errno;

/// Most argv or envp entries execve accepts.
const MAX_ARGS: usize = 0x7fff_ffff;

fn spawn<H: Host>(k: &mut Kernel<H>, a: CloneArgs) -> Outcome {
    match k.fork(a) {
        Ok(pid) if a.flags & CloneFlags::VFORK.bits() != 0 => Outcome::Block(Wait::Vfork(pid)),
        Ok(pid) => Outcome::Ret(Ok(pid as usize)),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// clone(2) (x86_64 argument order: flags, stack, parent_tid, child_tid, tls).
pub fn sys_clone<H: Host>(
    k: &mut Kernel<H>,
    flags: u64,
    stack: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> Outcome {
    // x86_64 sets the new FS base as arch_prctl(ARCH_SET_FS) does: EPERM at
    // or above TASK_SIZE_MAX (a non-canonical or kernel address).
    #[cfg(target_arch = "x86_64")]
    if flags & CloneFlags::SETTLS.bits() != 0 && tls >= (1 << 47) - 4096 {
        return Outcome::Ret(Err(Errno::EPERM));
    }
    spawn(
        k,
        CloneArgs {
            flags,
            stack,
            parent_tid: ptid,
            child_tid: ctid,
            tls,
        },
    )
}

/// fork(2).
pub fn sys_fork<H: Host>(k: &mut Kernel<H>) -> Outcome {
    spawn(
        k,
        CloneArgs {
            flags: SIGCHLD as u64,
            ..CloneArgs::default()
        },
    )
}

/// vfork(2): the parent waits until the child execs or exits.
pub fn sys_vfork<H: Host>(k: &mut Kernel<H>) -> Outcome {
    let flags = (CloneFlags::VM | CloneFlags::VFORK).bits() | SIGCHLD as u64;
    spawn(
        k,
        CloneArgs {
            flags,
            ..CloneArgs::default()
        },
    )
}

/// execve(2).
pub fn sys_execve<H: Host>(k: &mut Kernel<H>, path: u64, argv: u64, envp: u64) -> SysResult {
    let path = k.user().read_cstr(path, crate::fs::vfs::PATH_MAX - 1)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let argv = k.user().read_cstr_array(argv, MAX_ARGS, MAX_ARG_BYTES)?;
    let envp = k.user().read_cstr_array(envp, MAX_ARGS, MAX_ARG_BYTES)?;
    if argv.iter().chain(&envp).map(|s| s.len() + 1).sum::<usize>() > MAX_ARG_BYTES {
        return Err(Errno::E2BIG);
    }
    k.exec(&path, argv, envp)?;
    Ok(0)
}
