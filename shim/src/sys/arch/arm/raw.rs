//! The raw `svc #0` instruction (32-bit ARM, EABI: the number in r7). Used
//! everywhere in the shim instead of libc's wrappers: it touches no errno TLS
//! and takes no locks, so it is also usable in a freshly forked stub child.

use core::arch::asm;

/// Performs syscall `nr` with six arguments. Returns the raw kernel result: a
/// negative errno in `-4095..0` on failure.
///
/// # Safety
/// The caller must uphold the contract of the specific syscall: pointers passed as
/// arguments must be valid for what the kernel reads or writes through them, and
/// the call must not invalidate memory Rust still uses (e.g. munmap of live data).
#[inline(always)]
pub unsafe fn syscall6(
    nr: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> isize {
    let ret: isize;
    // SAFETY: `svc #0` clobbers only r0 (the result); every other register is
    // preserved by the kernel. It does not touch the stack. What the syscall
    // itself does is the caller's responsibility (see `# Safety`).
    unsafe {
        asm!(
            "svc #0",
            in("r7") nr,
            inlateout("r0") a0 as isize => ret,
            in("r1") a1,
            in("r2") a2,
            in("r3") a3,
            in("r4") a4,
            in("r5") a5,
            options(nostack),
        );
    }
    ret
}

/// Syscall numbers used by the shim (arm EABI). Calls with a time argument
/// use their *_time64 variants (64-bit `struct timespec`, as on the 64-bit
/// hosts); MMAP is mmap2 (the offset in 4096-byte pages).
pub mod nr {
    // Host sockets (--net host, --publish, --unix-socket; sys::net).
    pub const SOCKET: usize = 281;
    pub const BIND: usize = 282;
    pub const CONNECT: usize = 283;
    pub const LISTEN: usize = 284;
    pub const GETSOCKNAME: usize = 286;
    pub const GETPEERNAME: usize = 287;
    pub const SENDTO: usize = 290;
    pub const RECVFROM: usize = 292;
    pub const SHUTDOWN: usize = 293;
    pub const SETSOCKOPT: usize = 294;
    pub const GETSOCKOPT: usize = 295;
    pub const ACCEPT4: usize = 366;
    pub const RESTART_SYSCALL: usize = 0;
    pub const EXIT: usize = 1;
    pub const FORK: usize = 2;
    pub const READ: usize = 3;
    pub const WRITE: usize = 4;
    pub const CLOSE: usize = 6;
    pub const GETPID: usize = 20;
    pub const PTRACE: usize = 26;
    pub const KILL: usize = 37;
    pub const BRK: usize = 45;
    pub const IOCTL: usize = 54;
    pub const DUP2: usize = 63;
    pub const GETPPID: usize = 64;
    pub const SETSID: usize = 66;
    pub const MUNMAP: usize = 91;
    pub const FTRUNCATE: usize = 93;
    pub const WAIT4: usize = 114;
    pub const FSYNC: usize = 118;
    pub const SIGRETURN: usize = 119;
    pub const CLONE: usize = 120;
    pub const UNAME: usize = 122;
    pub const MPROTECT: usize = 125;
    pub const FDATASYNC: usize = 148;
    pub const NANOSLEEP: usize = 162;
    pub const MREMAP: usize = 163;
    pub const PRCTL: usize = 172;
    pub const RT_SIGRETURN: usize = 173;
    pub const RT_SIGACTION: usize = 174;
    pub const RT_SIGPROCMASK: usize = 175;
    pub const PREAD64: usize = 180;
    pub const PWRITE64: usize = 181;
    pub const PREADV: usize = 361;
    pub const PWRITEV: usize = 362;
    pub const SIGALTSTACK: usize = 186;
    /// mmap2.
    pub const MMAP: usize = 192;
    pub const MADVISE: usize = 220;
    /// fcntl64 (what glibc calls for fcntl on 32-bit ARM).
    pub const FCNTL: usize = 221;
    pub const GETTID: usize = 224;
    pub const SCHED_YIELD: usize = 158;
    /// futex with a 32-bit timespec (std uses futex_time64 first).
    pub const FUTEX: usize = 240;
    pub const SCHED_SETAFFINITY: usize = 241;
    pub const SCHED_GETAFFINITY: usize = 242;
    pub const EXIT_GROUP: usize = 248;
    pub const TIMER_CREATE: usize = 257;
    pub const TIMER_DELETE: usize = 261;
    /// clock_gettime with a 32-bit timespec (glibc's last fallback).
    pub const CLOCK_GETTIME32: usize = 263;
    pub const TGKILL: usize = 268;
    pub const GETCPU: usize = 345;
    pub const SECCOMP: usize = 383;
    pub const GETRANDOM: usize = 384;
    pub const MEMFD_CREATE: usize = 385;
    pub const RSEQ: usize = 398;
    /// clock_gettime64.
    pub const CLOCK_GETTIME: usize = 403;
    /// clock_nanosleep_time64.
    pub const CLOCK_NANOSLEEP: usize = 407;
    /// timer_gettime64.
    pub const TIMER_GETTIME: usize = 408;
    /// timer_settime64.
    pub const TIMER_SETTIME: usize = 409;
    /// ppoll_time64.
    pub const PPOLL: usize = 414;
    pub const FUTEX_TIME64: usize = 422;
    pub const CLOSE_RANGE: usize = 436;
    /// ARM private: set the thread's TLS register (TPIDRURO).
    pub const SET_TLS: usize = 0xf_0005;

    // Checked against libc's table at compile time.
    macro_rules! same {
        ($($ours:ident = $libc:ident),* $(,)?) => {
            $(const _: () = assert!($ours == libc::$libc as usize);)*
        };
    }
    same!(
        RESTART_SYSCALL = SYS_restart_syscall,
        EXIT = SYS_exit,
        FORK = SYS_fork,
        READ = SYS_read,
        WRITE = SYS_write,
        CLOSE = SYS_close,
        GETPID = SYS_getpid,
        PTRACE = SYS_ptrace,
        KILL = SYS_kill,
        BRK = SYS_brk,
        IOCTL = SYS_ioctl,
        DUP2 = SYS_dup2,
        GETPPID = SYS_getppid,
        SETSID = SYS_setsid,
        MUNMAP = SYS_munmap,
        FTRUNCATE = SYS_ftruncate,
        WAIT4 = SYS_wait4,
        FSYNC = SYS_fsync,
        SIGRETURN = SYS_sigreturn,
        CLONE = SYS_clone,
        UNAME = SYS_uname,
        MPROTECT = SYS_mprotect,
        FDATASYNC = SYS_fdatasync,
        NANOSLEEP = SYS_nanosleep,
        MREMAP = SYS_mremap,
        PRCTL = SYS_prctl,
        RT_SIGRETURN = SYS_rt_sigreturn,
        RT_SIGACTION = SYS_rt_sigaction,
        RT_SIGPROCMASK = SYS_rt_sigprocmask,
        PREAD64 = SYS_pread64,
        PWRITE64 = SYS_pwrite64,
        PREADV = SYS_preadv,
        PWRITEV = SYS_pwritev,
        SIGALTSTACK = SYS_sigaltstack,
        MMAP = SYS_mmap2,
        MADVISE = SYS_madvise,
        FCNTL = SYS_fcntl64,
        GETTID = SYS_gettid,
        FUTEX = SYS_futex,
        SCHED_SETAFFINITY = SYS_sched_setaffinity,
        SCHED_GETAFFINITY = SYS_sched_getaffinity,
        SCHED_YIELD = SYS_sched_yield,
        EXIT_GROUP = SYS_exit_group,
        TIMER_CREATE = SYS_timer_create,
        TIMER_DELETE = SYS_timer_delete,
        CLOCK_GETTIME32 = SYS_clock_gettime,
        TGKILL = SYS_tgkill,
        GETCPU = SYS_getcpu,
        SECCOMP = SYS_seccomp,
        GETRANDOM = SYS_getrandom,
        MEMFD_CREATE = SYS_memfd_create,
        RSEQ = SYS_rseq,
        CLOSE_RANGE = SYS_close_range,
    );
}
