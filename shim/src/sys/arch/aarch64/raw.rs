//! The raw `svc #0` instruction (aarch64). Used everywhere in the shim instead of
//! libc's wrappers: it touches no errno TLS and takes no locks, so it is also
//! usable in a freshly forked stub child.

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
    // SAFETY: `svc #0` clobbers only x0 (the result); every other register is
    // preserved by the kernel. It does not touch the stack. What the syscall
    // itself does is the caller's responsibility (see `# Safety`).
    unsafe {
        asm!(
            "svc #0",
            in("x8") nr,
            inlateout("x0") a0 as isize => ret,
            in("x1") a1,
            in("x2") a2,
            in("x3") a3,
            in("x4") a4,
            in("x5") a5,
            options(nostack),
        );
    }
    ret
}

/// Syscall numbers used by the shim (arm64's generic table: no open, poll, dup2
/// or fork; the shim uses ppoll, dup3 and clone instead).
pub mod nr {
    // Host sockets (--net host, --publish, --unix-socket; sys::net).
    pub const SOCKET: usize = 198;
    pub const BIND: usize = 200;
    pub const LISTEN: usize = 201;
    pub const CONNECT: usize = 203;
    pub const GETSOCKNAME: usize = 204;
    pub const GETPEERNAME: usize = 205;
    pub const SENDTO: usize = 206;
    pub const RECVFROM: usize = 207;
    pub const SETSOCKOPT: usize = 208;
    pub const GETSOCKOPT: usize = 209;
    pub const SHUTDOWN: usize = 210;
    pub const ACCEPT4: usize = 242;
    pub const IOCTL: usize = 29;
    pub const DUP3: usize = 24;
    pub const FCNTL: usize = 25;
    pub const FTRUNCATE: usize = 46;
    pub const CLOSE: usize = 57;
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const PREAD64: usize = 67;
    pub const PWRITE64: usize = 68;
    pub const PREADV: usize = 69;
    pub const PWRITEV: usize = 70;
    pub const PPOLL: usize = 73;
    pub const FSYNC: usize = 82;
    pub const FDATASYNC: usize = 83;
    pub const EXIT: usize = 93;
    pub const EXIT_GROUP: usize = 94;
    pub const FUTEX: usize = 98;
    pub const NANOSLEEP: usize = 101;
    pub const TIMER_CREATE: usize = 107;
    pub const TIMER_GETTIME: usize = 108;
    pub const TIMER_SETTIME: usize = 110;
    pub const TIMER_DELETE: usize = 111;
    pub const CLOCK_GETTIME: usize = 113;
    pub const CLOCK_NANOSLEEP: usize = 115;
    pub const PTRACE: usize = 117;
    pub const SCHED_SETAFFINITY: usize = 122;
    pub const SCHED_GETAFFINITY: usize = 123;
    pub const SCHED_YIELD: usize = 124;
    pub const RESTART_SYSCALL: usize = 128;
    pub const KILL: usize = 129;
    pub const TGKILL: usize = 131;
    pub const SIGALTSTACK: usize = 132;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const RT_SIGRETURN: usize = 139;
    pub const SETSID: usize = 157;
    pub const UNAME: usize = 160;
    pub const PRCTL: usize = 167;
    pub const GETCPU: usize = 168;
    pub const GETPID: usize = 172;
    pub const GETPPID: usize = 173;
    pub const GETTID: usize = 178;
    pub const BRK: usize = 214;
    pub const MUNMAP: usize = 215;
    pub const MREMAP: usize = 216;
    pub const CLONE: usize = 220;
    pub const MMAP: usize = 222;
    pub const MPROTECT: usize = 226;
    pub const MADVISE: usize = 233;
    pub const WAIT4: usize = 260;
    pub const SECCOMP: usize = 277;
    pub const GETRANDOM: usize = 278;
    pub const MEMFD_CREATE: usize = 279;
    pub const RSEQ: usize = 293;
    pub const CLOSE_RANGE: usize = 436;

    // Checked against libc's table at compile time.
    macro_rules! same {
        ($($ours:ident = $libc:ident),* $(,)?) => {
            $(const _: () = assert!($ours == libc::$libc as usize);)*
        };
    }
    same!(
        IOCTL = SYS_ioctl,
        DUP3 = SYS_dup3,
        FCNTL = SYS_fcntl,
        FTRUNCATE = SYS_ftruncate,
        CLOSE = SYS_close,
        READ = SYS_read,
        WRITE = SYS_write,
        PREAD64 = SYS_pread64,
        PWRITE64 = SYS_pwrite64,
        PREADV = SYS_preadv,
        PWRITEV = SYS_pwritev,
        PPOLL = SYS_ppoll,
        FSYNC = SYS_fsync,
        FDATASYNC = SYS_fdatasync,
        EXIT = SYS_exit,
        EXIT_GROUP = SYS_exit_group,
        FUTEX = SYS_futex,
        NANOSLEEP = SYS_nanosleep,
        TIMER_CREATE = SYS_timer_create,
        TIMER_GETTIME = SYS_timer_gettime,
        TIMER_SETTIME = SYS_timer_settime,
        TIMER_DELETE = SYS_timer_delete,
        CLOCK_GETTIME = SYS_clock_gettime,
        CLOCK_NANOSLEEP = SYS_clock_nanosleep,
        PTRACE = SYS_ptrace,
        SCHED_SETAFFINITY = SYS_sched_setaffinity,
        SCHED_GETAFFINITY = SYS_sched_getaffinity,
        SCHED_YIELD = SYS_sched_yield,
        RESTART_SYSCALL = SYS_restart_syscall,
        KILL = SYS_kill,
        TGKILL = SYS_tgkill,
        SIGALTSTACK = SYS_sigaltstack,
        RT_SIGACTION = SYS_rt_sigaction,
        RT_SIGPROCMASK = SYS_rt_sigprocmask,
        RT_SIGRETURN = SYS_rt_sigreturn,
        SETSID = SYS_setsid,
        UNAME = SYS_uname,
        PRCTL = SYS_prctl,
        GETCPU = SYS_getcpu,
        GETPID = SYS_getpid,
        GETPPID = SYS_getppid,
        GETTID = SYS_gettid,
        BRK = SYS_brk,
        MUNMAP = SYS_munmap,
        MREMAP = SYS_mremap,
        CLONE = SYS_clone,
        MMAP = SYS_mmap,
        MPROTECT = SYS_mprotect,
        MADVISE = SYS_madvise,
        WAIT4 = SYS_wait4,
        SECCOMP = SYS_seccomp,
        GETRANDOM = SYS_getrandom,
        MEMFD_CREATE = SYS_memfd_create,
        RSEQ = SYS_rseq,
        CLOSE_RANGE = SYS_close_range,
    );
}
