//! The syscall table. `dispatch` maps a number to its handler and turns the raw
//! argument registers into typed values at the call site. Handlers are free
//! functions `sys_<linuxname>` in one file per family; they return a
//! [`SysResult`], and only the kernel's loop turns an error into `-errno`.
//! Unknown numbers return ENOSYS and are reported once by name.

#[cfg(target_arch = "arm")]
mod arm;
pub mod clone;
pub mod copy;
pub mod cred;
mod direct;
#[cfg(all(test, feature = "direct-io"))]
mod direct_tests;
pub mod epoll;
pub mod evfd;
pub mod fasync;
pub mod filemap;
pub mod fs;
pub mod futex;
pub mod info;
pub mod inotify;
pub mod io;
pub mod ipc;
pub mod lock;
pub mod mem;
pub mod memfd;
pub mod mount;
pub mod mqueue;
pub mod net;
pub mod poll;
pub mod prio;
pub mod proc;
pub mod procctl;
pub mod ptimer;
pub mod session;
pub mod signal;
pub mod startup;
pub mod time;
pub mod timer;
pub mod trace;
pub mod uabi;
pub mod wait;

use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::Wait;
use crate::SysResult;
use uabi::{long_arg, TimeAbi};
use umbra_abi::syscall::nr::*;
use umbra_abi::Errno;

/// What a syscall came to.
#[derive(Debug)]
pub enum Outcome {
    /// Return this to the guest.
    Ret(SysResult),
    /// Park the thread; it is served again (or completed) when the wait ends.
    Block(Wait),
    /// The calling process is gone (exit) — nothing to return to.
    Exited,
    /// The registers were replaced (rt_sigreturn): write no return value.
    Regs,
}

impl From<SysResult> for Outcome {
    fn from(r: SysResult) -> Self {
        Outcome::Ret(r)
    }
}

/// Whether syscall `nr` never returns to its caller.
pub fn never_returns(nr: u64) -> bool {
    nr == EXIT as u64 || nr == EXIT_GROUP as u64
}

/// Serves syscall `nr` with raw arguments `a` for the current process. The
/// table holds the calls of every arch with the same arguments (struct layouts
/// that follow the width of `long` are handled in `uabi`); calls only some
/// arches have, or whose 64-bit arguments differ, are in `arch_dispatch`.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, nr: u64, a: [u64; 6]) -> Outcome {
    let Ok(n) = usize::try_from(nr) else {
        return Outcome::Ret(Err(Errno::ENOSYS));
    };
    if let Some(o) = procctl::dispatch(k, n, a) {
        return o;
    }
    if cfg!(feature = "ipc") {
        if let Some(o) = ipc::dispatch(k, n, a) {
            return o;
        }
    }
    if let Some(o) = epoll::dispatch(k, n, a) {
        return o;
    }
    if let Some(o) = evfd::dispatch(k, n, a) {
        return o;
    }
    if let Some(o) = startup::dispatch(k, n, a) {
        return o;
    }
    if let Some(o) = net::dispatch(k, n, a) {
        return o;
    }
    let r = match n {
        // Files and I/O.
        READ => return io::sys_read(k, a[0] as i32, a[1], a[2] as usize),
        WRITE => return io::sys_write(k, a[0] as i32, a[1], a[2] as usize),
        READV => return io::sys_readv(k, a[0] as i32, a[1], a[2] as usize),
        WRITEV => return io::sys_writev(k, a[0] as i32, a[1], a[2] as usize),
        #[cfg(target_pointer_width = "64")]
        PREAD64 => io::sys_pread64(k, a[0] as i32, a[1], a[2] as usize, a[3] as i64),
        #[cfg(target_pointer_width = "64")]
        PWRITE64 => return io::sys_pwrite64(k, a[0] as i32, a[1], a[2] as usize, a[3] as i64),
        LSEEK => io::sys_lseek(k, a[0] as i32, long_arg(a[1]), a[2] as u32),
        IOCTL => return io::sys_ioctl(k, a[0] as i32, a[1] as u32, a[2]),
        FCNTL if lock::is_lock_cmd(a[1] as u32) => {
            return lock::sys_fcntl_lock(k, a[0] as i32, a[1] as u32, a[2], lock::FcntlCall::Fcntl)
        }
        PREADV | PWRITEV | PREADV2 | PWRITEV2 => {
            let dir = if n == PREADV || n == PREADV2 {
                io::Dir::Read
            } else {
                io::Dir::Write
            };
            let v2 = (n == PREADV2 || n == PWRITEV2).then_some(a[5] as u32);
            let off = io::pos_from_hilo(a[3], a[4]);
            return io::sys_prwv(k, dir, a[0] as i32, a[1], a[2] as usize, off, v2);
        }
        #[cfg(target_pointer_width = "64")]
        FALLOCATE => copy::sys_fallocate(k, a[0] as i32, a[1] as u32, a[2] as i64, a[3] as i64),
        SENDFILE => {
            return copy::sys_sendfile(k, a[0] as i32, a[1] as i32, a[2], a[3] as usize, false)
        }
        COPY_FILE_RANGE => copy::sys_copy_file_range(
            k,
            a[0] as i32,
            a[1],
            a[2] as i32,
            a[3],
            a[4] as usize,
            a[5] as u32,
        ),
        FCNTL if memfd::is_seal_cmd(a[1] as u32) => {
            memfd::sys_fcntl_seals(k, a[0] as i32, a[1] as u32, a[2])
        }
        FCNTL if fasync::is_owner_cmd(a[1] as u32) => {
            fasync::sys_fcntl_owner(k, a[0] as i32, a[1] as u32, a[2])
        }
        MEMFD_CREATE => memfd::sys_memfd_create(k, a[0], a[1] as u32),
        FLOCK => return lock::sys_flock(k, a[0] as i32, a[1] as u32),
        FCNTL => io::sys_fcntl(k, a[0] as i32, a[1] as u32, a[2]),
        DUP => io::sys_dup(k, a[0] as i32),
        DUP3 => io::sys_dup3(k, a[0] as i32, a[1] as i32, a[2] as u32),
        CLOSE => io::sys_close(k, a[0] as i32),
        GETDENTS64 => io::sys_getdents64(k, a[0] as i32, a[1], a[2] as usize),
        FSYNC | FDATASYNC => io::sys_fsync(k, a[0] as i32),
        // ext2 writes go through to the device as they are made; the host file
        // is fsync'ed at exit and on fsync(2).
        SYNC => Ok(0),
        SYNCFS => io::sys_syncfs(k, a[0] as i32),
        OPENAT => return fs::sys_openat(k, a[0] as i32, a[1], a[2] as u32, a[3] as u32),
        #[cfg(target_pointer_width = "64")]
        NEWFSTATAT => fs::sys_newfstatat(k, a[0] as i32, a[1], a[2], a[3] as u32),
        #[cfg(target_pointer_width = "64")]
        FSTAT => fs::sys_fstat(k, a[0] as i32, a[1]),
        STATX => fs::sys_statx(k, a[0] as i32, a[1], a[2] as u32, a[3] as u32, a[4]),
        READLINKAT => fs::sys_readlinkat(k, a[0] as i32, a[1], a[2], a[3] as usize),
        FACCESSAT => fs::sys_faccessat(k, a[0] as i32, a[1], a[2] as u32, 0),
        FACCESSAT2 => fs::sys_faccessat(k, a[0] as i32, a[1], a[2] as u32, a[3] as u32),
        GETCWD => fs::sys_getcwd(k, a[0], a[1] as usize),
        CHDIR => fs::sys_chdir(k, a[0]),
        CHROOT => fs::sys_chroot(k, a[0]),
        MOUNT => mount::sys_mount(k, a[0], a[1], a[2], a[3], a[4]),
        UMOUNT2 => mount::sys_umount2(k, a[0], a[1] as u32),
        FCHDIR => fs::sys_fchdir(k, a[0] as i32),
        MKDIRAT => fs::sys_mkdirat(k, a[0] as i32, a[1], a[2] as u32),
        MKNODAT => fs::sys_mknodat(k, a[0] as i32, a[1], a[2] as u32, a[3]),
        UNLINKAT => fs::sys_unlinkat(k, a[0] as i32, a[1], a[2] as u32),
        SYMLINKAT => fs::sys_symlinkat(k, a[0], a[1] as i32, a[2]),
        LINKAT => fs::sys_linkat(k, a[0] as i32, a[1], a[2] as i32, a[3], a[4] as u32),
        RENAMEAT => fs::sys_renameat2(k, a[0] as i32, a[1], a[2] as i32, a[3], 0),
        RENAMEAT2 => fs::sys_renameat2(k, a[0] as i32, a[1], a[2] as i32, a[3], a[4] as u32),
        FCHMODAT => fs::sys_fchmodat(k, a[0] as i32, a[1], a[2] as u32),
        FCHMOD => fs::sys_fchmod(k, a[0] as i32, a[1] as u32),
        FCHOWNAT => fs::sys_fchownat(k, a[0] as i32, a[1], a[2] as u32, a[3] as u32, a[4] as u32),
        FCHOWN => fs::sys_fchown(k, a[0] as i32, a[1] as u32, a[2] as u32),
        UTIMENSAT => fs::sys_utimensat(k, a[0] as i32, a[1], a[2], a[3] as u32, TimeAbi::Long),
        FTRUNCATE => fs::sys_ftruncate(k, a[0] as i32, long_arg(a[1])),
        TRUNCATE => fs::sys_truncate(k, a[0], long_arg(a[1])),
        UMASK => fs::sys_umask(k, a[0] as u32),
        STATFS => fs::sys_statfs(k, a[0], a[1]),
        FSTATFS => fs::sys_fstatfs(k, a[0] as i32, a[1]),
        // Memory.
        BRK => mem::sys_brk(k, a[0]),
        #[cfg(target_pointer_width = "64")]
        MMAP => mem::sys_mmap(k, a[0], a[1], a[2] as u32, a[3] as u32, a[4] as i32, a[5]),
        MUNMAP => mem::sys_munmap(k, a[0], a[1]),
        MPROTECT => mem::sys_mprotect(k, a[0], a[1], a[2] as u32),
        MLOCK => mem::sys_mlock2(k, a[0], a[1], 0),
        MLOCK2 => mem::sys_mlock2(k, a[0], a[1], a[2] as u32),
        MUNLOCK => mem::sys_munlock(k, a[0], a[1]),
        MLOCKALL => mem::sys_mlockall(k, a[0] as u32),
        MUNLOCKALL => mem::sys_munlockall(k),
        MINCORE => mem::sys_mincore(k, a[0], a[1], a[2]),
        MADVISE => mem::sys_madvise(k, a[0], a[1], a[2] as u32),
        MSYNC => filemap::sys_msync(k, a[0], a[1], a[2] as u32),
        MREMAP => mem::sys_mremap(k, a[0], a[1], a[2], a[3] as u32, a[4]),
        // Process.
        EXIT => return proc::sys_exit(k, a[0] as i32),
        EXIT_GROUP => return proc::sys_exit_group(k, a[0] as i32),
        GETPID => Ok(k.cur as usize),
        GETTID => Ok(k.proc().thread.tid as usize),
        GETPPID => Ok(k.proc().ppid as usize),
        GETPGID => proc::sys_getpgid(k, a[0] as i32),
        GETSID => proc::sys_getsid(k, a[0] as i32),
        SET_TID_ADDRESS => proc::sys_set_tid_address(k, a[0]),
        SET_ROBUST_LIST => proc::sys_set_robust_list(k, a[0], a[1]),
        PRLIMIT64 => proc::sys_prlimit64(k, a[0] as i32, a[1] as u32, a[2], a[3]),
        GETRUSAGE => proc::sys_getrusage(k, a[0] as i32, a[1]),
        TIMER_CREATE => ptimer::sys_timer_create(k, a[0] as u32, a[1], a[2]),
        TIMER_SETTIME => {
            ptimer::sys_timer_settime(k, a[0] as i32, a[1] as u32, a[2], a[3], TimeAbi::Long)
        }
        TIMER_GETTIME => ptimer::sys_timer_gettime(k, a[0] as i32, a[1], TimeAbi::Long),
        TIMER_GETOVERRUN => ptimer::sys_timer_getoverrun(k, a[0] as i32),
        TIMER_DELETE => ptimer::sys_timer_delete(k, a[0] as i32),
        CLOCK_SETTIME => ptimer::sys_clock_settime(k, a[0] as u32, a[1], TimeAbi::Long),
        SETTIMEOFDAY => ptimer::sys_settimeofday(k, a[0]),
        CLOCK_ADJTIME => ptimer::sys_clock_adjtime(k, a[0] as u32, a[1]),
        ADJTIMEX => ptimer::sys_clock_adjtime(k, 0, a[0]),
        GETPRIORITY => prio::sys_getpriority(k, a[0] as u32, a[1] as u32),
        SETPRIORITY => prio::sys_setpriority(k, a[0] as u32, a[1] as u32, a[2] as i32),
        SCHED_YIELD => {
            k.yield_now();
            Ok(0)
        }
        // arm64 and arm pass clone's tls before child_tid (flags, stack,
        // parent_tid, tls, child_tid); x86_64 passes child_tid first.
        #[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
        CLONE => return clone::sys_clone(k, a[0], a[1], a[2], a[3], a[4]),
        #[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
        CLONE => return clone::sys_clone(k, a[0], a[1], a[2], a[4], a[3]),
        CLONE3 => return clone::sys_clone3(k, a[0], a[1] as usize),
        EXECVE => clone::sys_execve(k, a[0], a[1], a[2]),
        EXECVEAT => clone::sys_execveat(k, a[0] as i32, a[1], a[2], a[3], a[4] as u32),
        WAIT4 => return wait::sys_wait4(k, a[0] as i32, a[1], a[2] as u32, a[3]),
        WAITID => return wait::sys_waitid(k, a[0] as u32, a[1] as u32, a[2], a[3] as u32, a[4]),
        SETSID => session::sys_setsid(k),
        SETPGID => session::sys_setpgid(k, a[0] as i32, a[1] as i32),
        PIPE2 => poll::sys_pipe2(k, a[0], a[1] as u32),
        PPOLL => return poll::sys_ppoll(k, a[0], a[1] as usize, a[2], a[3], TimeAbi::Long),
        PSELECT6 => {
            return poll::sys_pselect6(
                k,
                a[0] as i32,
                [a[1], a[2], a[3]],
                a[4],
                a[5],
                TimeAbi::Long,
            )
        }
        SETITIMER => timer::sys_setitimer(k, a[0] as u32, a[1], a[2]),
        GETITIMER => timer::sys_getitimer(k, a[0] as u32, a[1]),
        TIMES => timer::sys_times(k, a[0]),
        // Signals.
        KILL => signal::sys_kill(k, a[0] as i32, a[1] as u32),
        TKILL => signal::sys_tgkill(k, -1, a[0] as i32, a[1] as u32),
        TGKILL => signal::sys_tgkill(k, a[0] as i32, a[1] as i32, a[2] as u32),
        RT_SIGRETURN => return signal::sys_rt_sigreturn(k, true),
        RT_SIGSUSPEND => return signal::sys_rt_sigsuspend(k, a[0], a[1] as usize),
        RT_SIGPENDING => signal::sys_rt_sigpending(k, a[0], a[1] as usize),
        RT_SIGTIMEDWAIT => {
            return signal::sys_rt_sigtimedwait(k, a[0], a[1], a[2], a[3] as usize, TimeAbi::Long)
        }
        RT_SIGACTION => signal::sys_rt_sigaction(k, a[0] as u32, a[1], a[2], a[3] as usize),
        RT_SIGPROCMASK => signal::sys_rt_sigprocmask(k, a[0] as u32, a[1], a[2], a[3] as usize),
        SIGALTSTACK => signal::sys_sigaltstack(k, a[0], a[1]),
        // Time and system information.
        CLOCK_GETTIME => time::sys_clock_gettime(k, a[0] as u32, a[1], TimeAbi::Long),
        CLOCK_GETRES => time::sys_clock_getres(k, a[0] as u32, a[1], TimeAbi::Long),
        GETTIMEOFDAY => time::sys_gettimeofday(k, a[0]),
        GETCPU => time::sys_getcpu(k, a[0], a[1]),
        NANOSLEEP => return time::sys_nanosleep(k, a[0], a[1]),
        CLOCK_NANOSLEEP => {
            return time::sys_clock_nanosleep(
                k,
                a[0] as u32,
                a[1] as u32,
                a[2],
                a[3],
                TimeAbi::Long,
            )
        }
        UNAME => info::sys_uname(k, a[0]),
        SYSINFO => info::sys_sysinfo(k, a[0]),
        GETRANDOM => info::sys_getrandom(k, a[0], a[1] as usize, a[2] as u32),
        _ => return arch_dispatch(k, n, a),
    };
    Outcome::Ret(r)
}

#[cfg(target_arch = "arm")]
use arm::arch_dispatch;

/// The classic path calls x86_64 and 32-bit ARM both have (each with its own
/// numbers): the `*at` call on the current directory. `None` for other calls.
#[cfg(not(target_arch = "aarch64"))]
fn legacy_path_call<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    use umbra_abi::flags::{AT_FDCWD as CWD, AT_REMOVEDIR};
    Some(Outcome::Ret(match n {
        OPEN => return Some(fs::sys_openat(k, CWD, a[0], a[1] as u32, a[2] as u32)),
        CREAT => return Some(fs::sys_openat(k, CWD, a[0], 0o1101, a[1] as u32)),
        ACCESS => fs::sys_faccessat(k, CWD, a[0], a[1] as u32, 0),
        READLINK => fs::sys_readlinkat(k, CWD, a[0], a[1], a[2] as usize),
        MKDIR => fs::sys_mkdirat(k, CWD, a[0], a[1] as u32),
        MKNOD => fs::sys_mknodat(k, CWD, a[0], a[1] as u32, a[2]),
        RMDIR => fs::sys_unlinkat(k, CWD, a[0], AT_REMOVEDIR),
        UNLINK => fs::sys_unlinkat(k, CWD, a[0], 0),
        SYMLINK => fs::sys_symlinkat(k, a[0], CWD, a[1]),
        LINK => fs::sys_linkat(k, CWD, a[0], CWD, a[1], 0),
        RENAME => fs::sys_renameat2(k, CWD, a[0], CWD, a[1], 0),
        CHMOD => fs::sys_fchmodat(k, CWD, a[0], a[1] as u32),
        UTIMES => fs::sys_futimesat(k, CWD, a[0], a[1]),
        FUTIMESAT => fs::sys_futimesat(k, a[0] as i32, a[1], a[2]),
        _ => return None,
    }))
}

/// The calls only some arches have (the legacy path-based ones on x86_64).
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
fn arch_dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Outcome {
    use umbra_abi::flags::{AT_FDCWD as CWD, AT_SYMLINK_NOFOLLOW};
    if let Some(r) = legacy_path_call(k, n, a) {
        return r;
    }
    let r = match n {
        STAT => fs::sys_newfstatat(k, CWD, a[0], a[1], 0),
        LSTAT => fs::sys_newfstatat(k, CWD, a[0], a[1], AT_SYMLINK_NOFOLLOW),
        CHOWN => fs::sys_fchownat(k, CWD, a[0], a[1] as u32, a[2] as u32, 0),
        LCHOWN => fs::sys_fchownat(k, CWD, a[0], a[1] as u32, a[2] as u32, AT_SYMLINK_NOFOLLOW),
        UTIME => fs::sys_utime(k, a[0], a[1]),
        DUP2 => io::sys_dup2(k, a[0] as i32, a[1] as i32),
        GETDENTS => io::sys_getdents(k, a[0] as i32, a[1], a[2] as usize),
        ARCH_PRCTL => proc::sys_arch_prctl(k, a[0] as u32, a[1]),
        FORK => return clone::sys_fork(k),
        VFORK => return clone::sys_vfork(k),
        PIPE => poll::sys_pipe2(k, a[0], 0),
        POLL => return poll::sys_poll(k, a[0], a[1] as usize, a[2] as i32),
        SELECT => return poll::sys_select(k, a[0] as i32, a[1], a[2], a[3], a[4]),
        PAUSE => return signal::sys_pause(k),
        ALARM => timer::sys_alarm(k, a[0] as u32),
        TIME => time::sys_time(k, a[0]),
        GETPGRP => Ok(k.proc().pgid as usize),
        _ => {
            k.report_enosys(n as u64);
            Err(Errno::ENOSYS)
        }
    };
    Outcome::Ret(r)
}

#[cfg(target_arch = "aarch64")]
fn arch_dispatch<H: Host>(k: &mut Kernel<H>, n: usize, _a: [u64; 6]) -> Outcome {
    k.report_enosys(n as u64);
    Outcome::Ret(Err(Errno::ENOSYS))
}
