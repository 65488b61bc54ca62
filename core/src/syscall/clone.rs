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

/// clone3(2): `struct clone_args` of `size` bytes at `uargs` (flags, pidfd,
/// child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
/// set_tid_size, cgroup). E2BIG for a larger struct with non-zero bytes
/// past what umbra knows; set_tid, CLONE_INTO_CGROUP and pidfds are not
/// supported (EINVAL).
pub fn sys_clone3<H: Host>(k: &mut Kernel<H>, uargs: u64, size: usize) -> Outcome {
    const VER0: usize = 64;
    const KNOWN: usize = 88;
    const CLEAR_SIGHAND: u64 = 0x1_0000_0000;
    let r = (|| -> crate::KResult<CloneArgs> {
        if size < VER0 {
            return Err(Errno::EINVAL);
        }
        if size > 4096 {
            return Err(Errno::E2BIG);
        }
        let mut b = alloc::vec![0u8; size];
        k.user().read_bytes(uargs, &mut b)?;
        if b[KNOWN.min(size)..].iter().any(|&x| x != 0) {
            return Err(Errno::E2BIG);
        }
        let mut w = [0u64; 11];
        for (i, c) in b.chunks_exact(8).take(11).enumerate() {
            w[i] = u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
        }
        let [flags, _pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, _set_tid, set_tid_size, _cgroup] =
            w;
        if flags & !(0xffff_ffff | CLEAR_SIGHAND) != 0 || flags & 0xff != 0 {
            return Err(Errno::EINVAL);
        }
        if exit_signal & !0xff != 0 || exit_signal > umbra_abi::signal::NSIG as u64 {
            return Err(Errno::EINVAL);
        }
        let f = CloneFlags::from_bits_retain(flags);
        if f.intersects(CloneFlags::THREAD | CloneFlags::PARENT) && exit_signal != 0 {
            return Err(Errno::EINVAL);
        }
        if (stack == 0) != (stack_size == 0) || set_tid_size != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & CLEAR_SIGHAND != 0 {
            // Resetting the child's handlers is not supported.
            return Err(Errno::EINVAL);
        }
        #[cfg(target_arch = "x86_64")]
        if f.contains(CloneFlags::SETTLS) && tls >= (1 << 47) - 4096 {
            return Err(Errno::EPERM);
        }
        Ok(CloneArgs {
            flags: flags | exit_signal,
            // The stack grows down on every arch umbra runs.
            stack: stack.wrapping_add(stack_size),
            parent_tid,
            child_tid,
            tls,
        })
    })();
    match r {
        Ok(a) => spawn(k, a),
        Err(e) => Outcome::Ret(Err(e)),
    }
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

/// execveat(2): `path` relative to `dirfd`, or with AT_EMPTY_PATH and an
/// empty path the file `dirfd` is open on (fexecve). AT_SYMLINK_NOFOLLOW
/// refuses a final symlink (ELOOP). As Linux, a program found through a
/// descriptor is named "/dev/fd/N" or "/dev/fd/N/path" (AT_EXECFN, and the
/// script argument of a `#!` interpreter).
pub fn sys_execveat<H: Host>(
    k: &mut Kernel<H>,
    dirfd: i32,
    path: u64,
    argv: u64,
    envp: u64,
    flags: u32,
) -> SysResult {
    use crate::fs::FollowLast;
    use umbra_abi::flags::{AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let name = k.user().read_cstr(path, crate::fs::vfs::PATH_MAX - 1)?;
    if name.is_empty() && flags & AT_EMPTY_PATH == 0 {
        return Err(Errno::ENOENT);
    }
    let plain = !name.is_empty() && (name.starts_with(b"/") || dirfd == AT_FDCWD);
    if plain && flags & AT_SYMLINK_NOFOLLOW == 0 {
        return sys_execve(k, path, argv, envp);
    }
    let first = if name.is_empty() {
        let f = k.proc().fds.get(dirfd)?;
        f.path().cloned().ok_or(Errno::EACCES)?
    } else {
        let start = if plain {
            k.proc().cwd.clone()
        } else {
            let f = k.proc().fds.get(dirfd)?;
            let d = f.path().cloned().ok_or(Errno::ENOTDIR)?;
            if !d.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            d
        };
        let p = k.proc();
        let (root, cred) = (p.root.clone(), p.cred.clone());
        let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 {
            FollowLast::NoFollow
        } else {
            FollowLast::Follow
        };
        let node = k.vfs.lookup_in(&root, &start, &name, follow, &cred)?;
        if node.inode().kind() == crate::fs::FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        node
    };
    let shown = if plain {
        name
    } else if name.is_empty() {
        alloc::format!("/dev/fd/{dirfd}").into_bytes()
    } else {
        let mut v = alloc::format!("/dev/fd/{dirfd}/").into_bytes();
        v.extend_from_slice(&name);
        v
    };
    let argv = k.user().read_cstr_array(argv, MAX_ARGS, MAX_ARG_BYTES)?;
    let envp = k.user().read_cstr_array(envp, MAX_ARGS, MAX_ARG_BYTES)?;
    if argv.iter().chain(&envp).map(|s| s.len() + 1).sum::<usize>() > MAX_ARG_BYTES {
        return Err(Errno::E2BIG);
    }
    k.exec_found(&shown, Some(first), argv, envp)?;
    Ok(0)
}
