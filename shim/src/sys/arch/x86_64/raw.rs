//! The raw `syscall` instruction. Used everywhere in the shim instead of libc's
//! wrappers: it touches no errno TLS and takes no locks, so it is also usable in a
//! freshly forked stub child.

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
    // SAFETY: the `syscall` instruction clobbers only rax (result), rcx and r11;
    // all three are declared. It does not touch the stack. What the syscall itself
    // does is the caller's responsibility (see `# Safety`).
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a0,
            in("rsi") a1,
            in("rdx") a2,
            in("r10") a3,
            in("r8") a4,
            in("r9") a5,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Syscall numbers used by the shim (x86_64).
pub mod nr {
    // Host sockets (--net host, --publish, --unix-socket; sys::net).
    pub const SOCKET: usize = 41;
    pub const CONNECT: usize = 42;
    pub const SENDTO: usize = 44;
    pub const RECVFROM: usize = 45;
    pub const SHUTDOWN: usize = 48;
    pub const BIND: usize = 49;
    pub const LISTEN: usize = 50;
    pub const GETSOCKNAME: usize = 51;
    pub const GETPEERNAME: usize = 52;
    pub const SETSOCKOPT: usize = 54;
    pub const GETSOCKOPT: usize = 55;
    pub const ACCEPT4: usize = 288;
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const POLL: usize = 7;
    pub const MMAP: usize = 9;
    pub const MPROTECT: usize = 10;
    pub const MUNMAP: usize = 11;
    pub const BRK: usize = 12;
    pub const RT_SIGACTION: usize = 13;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const RT_SIGRETURN: usize = 15;
    pub const IOCTL: usize = 16;
    pub const PREAD64: usize = 17;
    pub const PWRITE64: usize = 18;
    pub const PREADV: usize = 295;
    pub const PWRITEV: usize = 296;
    pub const MREMAP: usize = 25;
    pub const MADVISE: usize = 28;
    pub const DUP2: usize = 33;
    pub const SCHED_YIELD: usize = 24;
    pub const NANOSLEEP: usize = 35;
    pub const GETPID: usize = 39;
    pub const CLONE: usize = 56;
    pub const FORK: usize = 57;
    pub const EXIT: usize = 60;
    pub const WAIT4: usize = 61;
    pub const KILL: usize = 62;
    pub const FCNTL: usize = 72;
    pub const FSYNC: usize = 74;
    pub const FDATASYNC: usize = 75;
    pub const FTRUNCATE: usize = 77;
    pub const PTRACE: usize = 101;
    pub const UNAME: usize = 63;
    pub const GETPPID: usize = 110;
    pub const SETSID: usize = 112;
    pub const SIGALTSTACK: usize = 131;
    pub const PRCTL: usize = 157;
    pub const GETTID: usize = 186;
    pub const FUTEX: usize = 202;
    pub const SCHED_SETAFFINITY: usize = 203;
    pub const SCHED_GETAFFINITY: usize = 204;
    pub const RESTART_SYSCALL: usize = 219;
    pub const TIMER_CREATE: usize = 222;
    pub const TIMER_SETTIME: usize = 223;
    pub const TIMER_GETTIME: usize = 224;
    pub const TIMER_DELETE: usize = 226;
    pub const CLOCK_GETTIME: usize = 228;
    pub const CLOCK_NANOSLEEP: usize = 230;
    pub const EXIT_GROUP: usize = 231;
    pub const TGKILL: usize = 234;
    pub const PPOLL: usize = 271;
    pub const GETCPU: usize = 309;
    pub const GETRANDOM: usize = 318;
    pub const SECCOMP: usize = 317;
    pub const MEMFD_CREATE: usize = 319;
    pub const RSEQ: usize = 334;
    pub const CLOSE_RANGE: usize = 436;
}
