//! Clocks, the console fds, entropy, signals and CPU affinity.

use super::{check, raw, sc, Errno};

pub const CLOCK_REALTIME: i32 = 0;
pub const CLOCK_MONOTONIC: i32 = 1;
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

pub const POLLIN: i16 = 0x1;
pub const POLLERR: i16 = 0x8;
pub const POLLHUP: i16 = 0x10;
pub const POLLNVAL: i16 = 0x20;

/// clock_gettime in nanoseconds (through the vDSO via libc; cheap).
pub fn clock_ns(clock: i32) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec.
    let r = unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut ts) };
    if r != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// The CPU time (user and system, ns) process `pid` has used so far
/// (clock_gettime of its process CPU clock, `MAKE_PROCESS_CPUCLOCK(pid,
/// CPUCLOCK_SCHED)`); None if it is gone.
pub fn process_cpu_ns(pid: i32) -> Option<u64> {
    let clock = ((!pid) << 3) | 2;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec.
    let r = unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut ts) };
    if r != 0 {
        return None;
    }
    Some(
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64),
    )
}

/// Sleeps until the CLOCK_MONOTONIC time `deadline_ns`; returns early on a signal.
pub fn sleep_until_mono(deadline_ns: u64) -> Result<(), Errno> {
    let ts = [
        (deadline_ns / 1_000_000_000) as i64,
        (deadline_ns % 1_000_000_000) as i64,
    ];
    // SAFETY: `ts` is a readable struct timespec; rem is NULL (TIMER_ABSTIME = 1).
    let r = unsafe {
        raw::syscall6(
            raw::nr::CLOCK_NANOSLEEP,
            CLOCK_MONOTONIC as usize,
            1,
            ts.as_ptr() as usize,
            0,
            0,
            0,
        )
    };
    // clock_nanosleep returns a positive error number, not -errno.
    match r {
        0 => Ok(()),
        e if e > 0 => Err(Errno(e as i32)),
        e => check(e).map(|_| ()),
    }
}

/// sched_yield(2): lets another task that is runnable on this CPU run
/// first (the seccomp platform's stub handler, on its way to sleep).
pub fn yield_cpu() {
    // SAFETY: sched_yield takes no arguments and touches no memory.
    unsafe {
        raw::syscall6(raw::nr::SCHED_YIELD, 0, 0, 0, 0, 0, 0);
    }
}

/// poll(2) on one fd for `events`; returns revents (0 on timeout).
pub fn poll_fd(fd: i32, events: i16, timeout_ms: i32) -> Result<i16, Errno> {
    let mut pfd = [fd as i64 as u64 & 0xffff_ffff | ((events as u16 as u64) << 32)];
    // SAFETY: `pfd` is one struct pollfd (int fd; short events; short revents).
    #[cfg(target_arch = "x86_64")]
    let n = check(unsafe {
        raw::syscall6(
            raw::nr::POLL,
            pfd.as_mut_ptr() as usize,
            1,
            timeout_ms as isize as usize,
            0,
            0,
            0,
        )
    })?;
    // arm64 has no poll: ppoll with a relative timeout (NULL: forever) (on
    // 32-bit ARM ppoll_time64, whose timespec is 64-bit too).
    #[cfg(not(target_arch = "x86_64"))]
    let n = {
        let ts = [
            i64::from(timeout_ms.max(0) / 1000),
            i64::from(timeout_ms.max(0) % 1000) * 1_000_000,
        ];
        let tsp = if timeout_ms < 0 {
            0
        } else {
            ts.as_ptr() as usize
        };
        // SAFETY: `pfd` is one struct pollfd; `tsp` is NULL or a readable
        // struct timespec; no signal mask.
        check(unsafe { raw::syscall6(raw::nr::PPOLL, pfd.as_mut_ptr() as usize, 1, tsp, 0, 8, 0) })?
    };
    Ok(if n == 0 {
        0
    } else {
        (pfd[0] >> 48) as u16 as i16
    })
}

/// read(2).
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length.
    check(unsafe {
        raw::syscall6(
            raw::nr::READ,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
            0,
            0,
        )
    })
}

/// write(2).
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is readable for its length.
    check(unsafe {
        raw::syscall6(
            raw::nr::WRITE,
            fd as usize,
            buf.as_ptr() as usize,
            buf.len(),
            0,
            0,
            0,
        )
    })
}

/// Writes all of `buf`, retrying on EINTR and after partial writes.
pub fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                // A non-blocking stdout set by someone else: wait until writable.
                let _ = poll_fd(fd, 0x4, -1);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether `fd` is a terminal (TCGETS succeeds).
pub fn is_tty(fd: i32) -> bool {
    tcgets(fd) == 0
}

/// Whether `fd` is a terminal that hung up (a pty slave whose master
/// closed): TCGETS fails with EIO (hung_up_tty_ioctl), where a file that
/// is no terminal gives ENOTTY.
pub fn tty_hung_up(fd: i32) -> bool {
    tcgets(fd) == -(Errno::EIO.0 as isize)
}

/// TCGETS on `fd`: 0 or the negated errno.
fn tcgets(fd: i32) -> isize {
    let mut t = [0u8; 64];
    // SAFETY: TCGETS writes a struct termios (36 bytes) into the 64-byte buffer.
    unsafe {
        raw::syscall6(
            raw::nr::IOCTL,
            fd as usize,
            0x5401,
            t.as_mut_ptr() as usize,
            0,
            0,
            0,
        )
    }
}

/// TIOCGWINSZ: (rows, cols, xpixel, ypixel).
pub fn winsize(fd: i32) -> Option<(u16, u16, u16, u16)> {
    let mut w = [0u16; 4];
    // SAFETY: TIOCGWINSZ writes a struct winsize (4 u16) into `w`.
    let r = unsafe {
        raw::syscall6(
            raw::nr::IOCTL,
            fd as usize,
            0x5413,
            w.as_mut_ptr() as usize,
            0,
            0,
            0,
        )
    };
    (r == 0).then_some((w[0], w[1], w[2], w[3]))
}

/// getrandom(2), once.
pub fn getrandom(buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length.
    check(unsafe {
        raw::syscall6(
            raw::nr::GETRANDOM,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
            0,
            0,
            0,
        )
    })
}

/// Sets SIGPIPE to SIG_IGN for umbra, so a closed stdout gives EPIPE instead of
/// killing umbra.
pub fn ignore_sigpipe() -> Result<(), Errno> {
    // struct kernel_sigaction { handler, flags, restorer, mask }: SIG_IGN = 1.
    let sa = [1u64, 0, 0, 0];
    // SAFETY: `sa` is a readable kernel sigaction; old action is NULL.
    check(unsafe { raw::syscall6(raw::nr::RT_SIGACTION, 13, sa.as_ptr() as usize, 0, 8, 0, 0) })
        .map(|_| ())
}

/// Pins the calling thread (umbra) to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> Result<(), Errno> {
    pin_task_to_cpu(0, cpu)
}

/// Pins the thread `tid` (0: the calling one; a stub: its pid) to `cpu`.
pub fn pin_task_to_cpu(tid: i32, cpu: usize) -> Result<(), Errno> {
    if cpu >= 1024 || tid < 0 {
        return Err(Errno::EINVAL);
    }
    let mut mask = [0u64; 16];
    mask[cpu / 64] |= 1 << (cpu % 64);
    // SAFETY: `mask` is a readable 128-byte cpu set.
    check(unsafe {
        raw::syscall6(
            raw::nr::SCHED_SETAFFINITY,
            tid as usize,
            128,
            mask.as_ptr() as usize,
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// An allowed CPU of the calling thread other than `cpu`, if it has one.
pub fn other_allowed_cpu(cpu: usize) -> Option<usize> {
    let mask = affinity()?;
    (0..1024).find(|&c| c != cpu && mask[c / 64] & (1 << (c % 64)) != 0)
}

/// Whether the calling thread has a CPU to spare: it may run on two or
/// more, and the host's 1-minute load average (/proc/loadavg) is below
/// their number minus one. `UMBRA_SPIN_CPUS=1` (or `0`) says yes (or no)
/// whatever the load.
pub fn cpu_is_free() -> bool {
    let n = allowed_cpus();
    match std::env::var("UMBRA_SPIN_CPUS").as_deref() {
        Ok("1") => return n >= 2,
        Ok("0") => return false,
        _ => {}
    }
    // The load in hundredths ("0.57" is 57): no floating point, whose
    // parser would cost the ROM build some 25 KB.
    let load = std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| {
        let (int, frac) = s.split_whitespace().next()?.split_once('.')?;
        let frac = frac.get(..2)?;
        Some(int.parse::<usize>().ok()? * 100 + frac.parse::<usize>().ok()?)
    });
    n >= 2 && load.is_some_and(|l| l + 100 < n * 100)
}

/// How many CPUs the calling thread may run on (sched_getaffinity); 0 if
/// that cannot be read.
pub fn allowed_cpus() -> usize {
    affinity().map_or(0, |m| m.iter().map(|w| w.count_ones() as usize).sum())
}

/// The calling thread's CPU mask (sched_getaffinity).
fn affinity() -> Option<[u64; 16]> {
    let mut mask = [0u64; 16];
    // SAFETY: the kernel writes at most 128 bytes into `mask`.
    let r = unsafe {
        raw::syscall6(
            raw::nr::SCHED_GETAFFINITY,
            0,
            128,
            mask.as_mut_ptr() as usize,
            0,
            0,
            0,
        )
    };
    (r > 0).then_some(mask)
}

/// Whether `cpu` is in the calling thread's allowed set.
pub fn cpu_allowed(cpu: usize) -> bool {
    cpu < 1024 && affinity().is_some_and(|mask| mask[cpu / 64] & (1 << (cpu % 64)) != 0)
}

/// The CPU the calling thread runs on now (getcpu).
pub fn current_cpu() -> Result<usize, Errno> {
    let mut cpu: u32 = 0;
    // SAFETY: `cpu` is a writable unsigned; node and tcache are NULL.
    check(unsafe {
        raw::syscall6(
            raw::nr::GETCPU,
            &mut cpu as *mut u32 as usize,
            0,
            0,
            0,
            0,
            0,
        )
    })?;
    Ok(cpu as usize)
}

/// getpid(2).
pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { sc(raw::nr::GETPID, [0; 6]) }.unwrap_or(0) as i32
}

/// gettid(2).
pub fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { sc(raw::nr::GETTID, [0; 6]) }.unwrap_or(0) as i32
}

/// PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented to this process
/// (so it can reap them) instead of to init.
pub fn set_child_subreaper(on: bool) -> Result<(), Errno> {
    // SAFETY: no pointers.
    unsafe { sc(raw::nr::PRCTL, [36, usize::from(on), 0, 0, 0, 0]) }.map(|_| ())
}

/// Test hook: makes a syscall umbra's seccomp filter forbids (uname), to
/// prove that it kills umbra. Debug builds only.
#[cfg(debug_assertions)]
pub fn forbidden_syscall_for_tests() {
    let mut buf = [0u8; 390]; // struct utsname
                              // SAFETY: uname writes a struct utsname (6 x 65 bytes) into `buf`.
    let _ = unsafe { raw::syscall6(raw::nr::UNAME, buf.as_mut_ptr() as usize, 0, 0, 0, 0, 0) };
}
