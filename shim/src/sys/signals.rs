//! Host signals: the preemption timer, SIGWINCH, the terminating signals and the
//! host terminal's raw mode.
//!
//! Everything a signal handler touches is a static atomic (lock-free and
//! async-signal-safe); handlers make raw syscalls only.
//!
//! - The preemption timer of each [`Waker`] is a POSIX timer that sends SIGALRM
//!   to the thread that created it (SIGEV_THREAD_ID: the tracer thread), with the
//!   waker's slot number as its value. The handler (installed without
//!   SA_RESTART) sets the slot's `fired` flag and, if a stub of that slot is
//!   running guest code, sends it [`KICK_SIG`] with tgkill: the stub stops in a
//!   signal-delivery-stop, `wait4` returns, and the shim suppresses the signal.
//! - SIGWINCH to umbra sets every slot's `event` flag and kicks their running
//!   stubs the same way.
//! - SIGTERM, SIGINT, SIGHUP and SIGQUIT (handled only while the terminal is in
//!   raw mode) restore the saved termios and re-raise the signal with its default
//!   action; the stubs die with umbra (PTRACE_O_EXITKILL, PR_SET_PDEATHSIG).

use super::{check, raw, Errno};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGWINCH: i32 = 28;
/// The signal umbra sends a running stub to make it stop (timer, host event).
pub const KICK_SIG: i32 = SIGALRM;
/// si_code of a signal sent with tkill/tgkill.
pub const SI_TKILL: i32 = -6;
/// si_code of a POSIX timer expiry.
const SI_TIMER: i32 = -2;

const SLOTS: usize = 64;

struct Slot {
    used: AtomicBool,
    /// The pid of the stub now running guest code for this slot's host, or 0.
    running: AtomicI32,
    /// The preemption timer expired and nobody has taken that yet.
    fired: AtomicBool,
    /// A host event (SIGWINCH) happened and nobody has taken that yet.
    event: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    used: AtomicBool::new(false),
    running: AtomicI32::new(0),
    fired: AtomicBool::new(false),
    event: AtomicBool::new(false),
};

static SLOT: [Slot; SLOTS] = [EMPTY_SLOT; SLOTS];

#[inline(always)]
fn tgkill(pid: i32, tid: i32, sig: i32) -> isize {
    // SAFETY: no pointers; sending a signal has no memory effects on us.
    unsafe {
        raw::syscall6(
            raw::nr::TGKILL,
            pid as usize,
            tid as usize,
            sig as usize,
            0,
            0,
            0,
        )
    }
}

/// Stops the running stub of `slot`, if there is one (async-signal-safe).
fn kick(slot: &Slot) {
    let pid = slot.running.load(Ordering::SeqCst);
    if pid > 0 {
        tgkill(pid, pid, KICK_SIG);
    }
}

/// The SIGALRM handler.
extern "C" fn on_alarm(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    if info.is_null() {
        return;
    }
    let base = info as *const u8;
    // SAFETY: the kernel passes a valid siginfo_t (128 bytes) to an SA_SIGINFO
    // handler; si_code is the int at offset 8 and, for a POSIX timer, si_value
    // is the union after si_tid and si_overrun: at offset 24 on 64-bit hosts
    // (pointer-aligned), 20 on 32-bit ones (a 4-byte value).
    #[cfg(target_pointer_width = "64")]
    let (code, value) = unsafe {
        (
            (base.add(8) as *const i32).read_unaligned(),
            (base.add(24) as *const u64).read_unaligned(),
        )
    };
    // SAFETY: as above.
    #[cfg(target_pointer_width = "32")]
    let (code, value) = unsafe {
        (
            (base.add(8) as *const i32).read_unaligned(),
            (base.add(20) as *const u32).read_unaligned() as u64,
        )
    };
    if code != SI_TIMER {
        return; // SIGALRM sent by someone else: ignored
    }
    if value == HARD_DEADLINE {
        on_hard_deadline();
    }
    if let Some(slot) = SLOT.get(value as usize) {
        if slot.used.load(Ordering::SeqCst) {
            slot.fired.store(true, Ordering::SeqCst);
            kick(slot);
        }
    }
}

/// The `si_value` of the `--timeout` backstop timer (no slot has it).
const HARD_DEADLINE: u64 = 0x7fff_fffe;

/// The `--timeout` backstop expired: the kernel did not end the run in time,
/// so umbra ends it here (the stubs die with it: PTRACE_O_EXITKILL).
fn on_hard_deadline() {
    tty_restore_now();
    let msg = b"umbra: guest timed out; killed\n";
    // SAFETY: `msg` is a readable buffer of its length; exit_group does not
    // return.
    unsafe {
        raw::syscall6(raw::nr::WRITE, 2, msg.as_ptr() as usize, msg.len(), 0, 0, 0);
        raw::syscall6(raw::nr::EXIT_GROUP, 124, 0, 0, 0, 0, 0);
    }
}

/// Arms the backstop of `--timeout`: at the CLOCK_MONOTONIC time `deadline`
/// (ns) umbra exits with status 124 from the signal handler, whatever the
/// kernel's loop is doing. The kernel normally ends the run at its own,
/// earlier deadline (and syncs the disks); this is the deadline no guest
/// behaviour and no kernel bug can defer.
pub fn arm_hard_deadline(deadline: u64) -> Result<(), Errno> {
    install_wake_handlers()?;
    let mut sev = [0u32; 16];
    const W: usize = core::mem::size_of::<usize>() / 4;
    sev[0] = HARD_DEADLINE as u32;
    sev[W] = SIGALRM as u32;
    sev[W + 1] = 4; // SIGEV_THREAD_ID
    sev[W + 2] = super::gettid() as u32;
    let mut id: i32 = 0;
    // SAFETY: `sev` is a readable struct sigevent and `id` a writable kernel
    // timer_t (int).
    check(unsafe {
        raw::syscall6(
            raw::nr::TIMER_CREATE,
            super::CLOCK_MONOTONIC as usize,
            sev.as_ptr() as usize,
            &mut id as *mut i32 as usize,
            0,
            0,
            0,
        )
    })?;
    let d = deadline.max(1);
    let its = [
        0i64,
        0,
        (d / 1_000_000_000) as i64,
        (d % 1_000_000_000) as i64,
    ];
    // SAFETY: `its` is a readable struct itimerspec; the old value is NULL.
    check(unsafe {
        raw::syscall6(
            raw::nr::TIMER_SETTIME,
            id as usize,
            1, // TIMER_ABSTIME
            its.as_ptr() as usize,
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// The SIGWINCH handler.
extern "C" fn on_winch(_sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    for slot in SLOT.iter() {
        if slot.used.load(Ordering::SeqCst) {
            slot.event.store(true, Ordering::SeqCst);
            kick(slot);
        }
    }
}

/// `umbra run --stats`: SIGUSR2 came (the report so far is wanted).
static STATS_ASKED: AtomicBool = AtomicBool::new(false);

/// The SIGUSR2 handler of `umbra run --stats`: records the request and
/// wakes the host as SIGWINCH does, so the kernel's loop prints the report
/// soon whether the guest runs or everything waits.
extern "C" fn on_stats(_sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    STATS_ASKED.store(true, Ordering::SeqCst);
    on_winch(_sig, _info, _ctx);
}

/// `umbra run --stats`: from now on SIGUSR2 asks for the report so far
/// instead of killing umbra.
pub fn catch_stats_request() -> Result<(), Errno> {
    install(libc::SIGUSR2, on_stats, &[])
}

/// Whether SIGUSR2 asked for the report since the last call.
pub fn take_stats_request() -> bool {
    STATS_ASKED.swap(false, Ordering::SeqCst)
}

/// The handler of SIGTERM, SIGINT, SIGHUP and SIGQUIT while the tty is raw.
extern "C" fn on_terminate(sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    tty_restore_now();
    let _ = set_default_action(sig);
    // The signal is blocked while its handler runs: it is delivered, with its
    // default action (terminate), as soon as the handler returns.
    let pid = SELF_PID.load(Ordering::SeqCst);
    // SAFETY: no arguments.
    let tid = unsafe { raw::syscall6(raw::nr::GETTID, 0, 0, 0, 0, 0, 0) } as i32;
    if tgkill(pid, tid, sig) < 0 {
        // SAFETY: no pointers; exit_group does not return.
        unsafe { raw::syscall6(raw::nr::EXIT_GROUP, 128 + sig as usize, 0, 0, 0, 0, 0) };
    }
}

type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

fn install(sig: i32, handler: Handler, block: &[i32]) -> Result<(), Errno> {
    // SAFETY: an all-zero sigaction is a valid value to fill in.
    let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
    sa.sa_sigaction = handler as usize;
    // SA_SIGINFO, and deliberately no SA_RESTART: a blocking host call returns
    // EINTR so that umbra looks at the flags.
    sa.sa_flags = libc::SA_SIGINFO;
    // SAFETY: `sa.sa_mask` is a valid sigset_t owned by us.
    unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        for &s in block {
            libc::sigaddset(&mut sa.sa_mask, s);
        }
    }
    // SAFETY: `sa` is a fully initialised sigaction whose handler is an
    // async-signal-safe `extern "C"` function of the SA_SIGINFO signature; libc
    // supplies the restorer.
    let r = unsafe { libc::sigaction(sig, &sa, core::ptr::null_mut()) };
    if r != 0 {
        return Err(Errno(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(22),
        ));
    }
    Ok(())
}

fn set_default_action(sig: i32) -> Result<(), Errno> {
    // struct kernel_sigaction { handler = SIG_DFL, flags, restorer, mask }.
    let sa = [0u64; 4];
    // SAFETY: `sa` is a readable kernel sigaction; the old action is NULL.
    check(unsafe {
        raw::syscall6(
            raw::nr::RT_SIGACTION,
            sig as usize,
            sa.as_ptr() as usize,
            0,
            8,
            0,
            0,
        )
    })
    .map(|_| ())
}

static HANDLERS: AtomicBool = AtomicBool::new(false);
static SELF_PID: AtomicI32 = AtomicI32::new(0);

fn install_wake_handlers() -> Result<(), Errno> {
    if HANDLERS.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    SELF_PID.store(super::getpid(), Ordering::SeqCst);
    let both = [SIGALRM, SIGWINCH];
    install(SIGALRM, on_alarm, &both)?;
    install(SIGWINCH, on_winch, &both)
}

/// The preemption timer and host-event flags of one [`crate::host::PtraceHost`].
pub struct Waker {
    slot: usize,
    timer: i32,
    armed: bool,
}

impl Waker {
    /// Claims a slot, installs the SIGALRM and SIGWINCH handlers (once per
    /// process) and creates a CLOCK_MONOTONIC timer that signals the calling
    /// thread, which must be the tracer of the stubs it kicks.
    pub fn new() -> Result<Waker, Errno> {
        install_wake_handlers()?;
        let slot = SLOT
            .iter()
            .position(|s| {
                s.used
                    .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            })
            .ok_or(Errno::EAGAIN)?;
        let s = &SLOT[slot];
        s.running.store(0, Ordering::SeqCst);
        s.fired.store(false, Ordering::SeqCst);
        s.event.store(false, Ordering::SeqCst);
        // struct sigevent: sigev_value (a pointer-sized union), sigev_signo (4),
        // sigev_notify (4), then the union whose first int is the target
        // thread id; 64 bytes.
        let mut sev = [0u32; 16];
        const W: usize = core::mem::size_of::<usize>() / 4;
        sev[0] = slot as u32;
        sev[W] = SIGALRM as u32;
        sev[W + 1] = 4; // SIGEV_THREAD_ID
        sev[W + 2] = super::gettid() as u32;
        let mut id: i32 = 0;
        // SAFETY: `sev` is a readable struct sigevent and `id` a writable
        // kernel timer_t (int).
        let r = check(unsafe {
            raw::syscall6(
                raw::nr::TIMER_CREATE,
                super::CLOCK_MONOTONIC as usize,
                sev.as_ptr() as usize,
                &mut id as *mut i32 as usize,
                0,
                0,
                0,
            )
        });
        if let Err(e) = r {
            s.used.store(false, Ordering::SeqCst);
            return Err(e);
        }
        Ok(Waker {
            slot,
            timer: id,
            armed: false,
        })
    }

    fn s(&self) -> &'static Slot {
        &SLOT[self.slot]
    }

    /// Arms the timer at the CLOCK_MONOTONIC time `deadline` (ns), or disarms it.
    /// A pending expiry that was not taken yet is forgotten.
    pub fn set_timer(&mut self, deadline: Option<u64>) -> Result<(), Errno> {
        let d = deadline.map(|d| d.max(1)).unwrap_or(0);
        // struct itimerspec { it_interval, it_value }: one-shot at `d`.
        let its = [
            0i64,
            0,
            (d / 1_000_000_000) as i64,
            (d % 1_000_000_000) as i64,
        ];
        // Forget an old expiry first: a deadline in the past fires during the
        // call below.
        self.s().fired.store(false, Ordering::SeqCst);
        // SAFETY: `its` is a readable struct itimerspec; the old value is NULL.
        let r = check(unsafe {
            raw::syscall6(
                raw::nr::TIMER_SETTIME,
                self.timer as usize,
                1, // TIMER_ABSTIME
                its.as_ptr() as usize,
                0,
                0,
                0,
            )
        });
        self.armed = deadline.is_some() && r.is_ok();
        r.map(|_| ())
    }

    /// Whether the timer is armed and has not been taken since.
    pub fn armed(&self) -> bool {
        self.armed
    }

    /// Marks `pid` as running guest code: the handlers kick it. 0: none.
    #[inline(always)]
    pub fn set_running(&self, pid: i32) {
        self.s().running.store(pid, Ordering::SeqCst);
    }

    /// Marks `pid` as about to run guest code, unless the timer fired or a host
    /// event came in the meantime (then nothing is marked and it returns
    /// false: the caller must not resume the stub, or the wake-up is lost).
    ///
    /// The handler stores its flag before it reads `running`, and this stores
    /// `running` before it reads the flags, all SeqCst: whichever of the two
    /// comes second sees the other, so either the handler kicks `pid` or this
    /// sees the flag.
    #[inline(always)]
    pub fn start_running(&self, pid: i32) -> bool {
        let s = self.s();
        s.running.store(pid, Ordering::SeqCst);
        if s.fired.load(Ordering::SeqCst) || s.event.load(Ordering::SeqCst) {
            s.running.store(0, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Whether the timer fired or a host event came and nobody took it yet
    /// (the seccomp platform: a kick is outstanding).
    pub fn pending(&self) -> bool {
        let s = self.s();
        s.fired.load(Ordering::SeqCst) || s.event.load(Ordering::SeqCst)
    }

    /// Takes the timer expiry, if it happened.
    #[inline(always)]
    pub fn take_fired(&mut self) -> bool {
        let s = self.s();
        if s.fired.load(Ordering::Relaxed) && s.fired.swap(false, Ordering::SeqCst) {
            self.armed = false;
            true
        } else {
            false
        }
    }

    /// Takes the host event (SIGWINCH), if one happened.
    #[inline(always)]
    pub fn take_event(&self) -> bool {
        let s = self.s();
        s.event.load(Ordering::Relaxed) && s.event.swap(false, Ordering::SeqCst)
    }

    /// Waits until `fd` (if any) is readable, the CLOCK_MONOTONIC `deadline`
    /// (if any) passes, the timer fires or a host event arrives, whichever is
    /// first. The flags are checked with the signals blocked and the wait
    /// unblocks them atomically (ppoll), so no wake-up is lost.
    pub fn wait(&self, fd: Option<i32>, deadline: Option<u64>) -> Result<Wake, Errno> {
        let mut pfd = [PollFd::new(fd.unwrap_or(-1), 1)];
        let n = usize::from(fd.is_some());
        match self.wait_fds(&mut pfd[..n], deadline)? {
            Wake::Ready(_) => Ok(Wake::Ready(pfd[0].revents())),
            w => Ok(w),
        }
    }

    /// As [`Waker::wait`] for any number of fds (their revents are set in
    /// `fds`); `Wake::Ready` then holds how many fds have revents.
    pub fn wait_fds(&self, fds: &mut [PollFd], deadline: Option<u64>) -> Result<Wake, Errno> {
        let block: u64 = (1 << (SIGALRM - 1)) | (1 << (SIGWINCH - 1));
        let mut old: u64 = 0;
        // SAFETY: `block` is a readable and `old` a writable 8-byte sigset.
        check(unsafe {
            raw::syscall6(
                raw::nr::RT_SIGPROCMASK,
                0, // SIG_BLOCK
                &block as *const u64 as usize,
                &mut old as *mut u64 as usize,
                8,
                0,
                0,
            )
        })?;
        let s = self.s();
        let r = if s.fired.load(Ordering::SeqCst) || s.event.load(Ordering::SeqCst) {
            Ok(Wake::Signal)
        } else {
            let during = old & !block;
            let now = super::clock_ns(super::CLOCK_MONOTONIC);
            let ts = deadline.map(|d| {
                let left = d.saturating_sub(now);
                [(left / 1_000_000_000) as i64, (left % 1_000_000_000) as i64]
            });
            // SAFETY: `fds` is `fds.len()` writable struct pollfd (PollFd is
            // repr(C) int fd; short events; short revents), `ts` a readable
            // timespec or NULL, `during` a readable 8-byte sigset.
            let n = check(unsafe {
                raw::syscall6(
                    raw::nr::PPOLL,
                    fds.as_mut_ptr() as usize,
                    fds.len(),
                    ts.as_ref().map_or(0, |t| t.as_ptr() as usize),
                    &during as *const u64 as usize,
                    8,
                    0,
                )
            });
            match n {
                Ok(0) => Ok(Wake::Timeout),
                Ok(n) => Ok(Wake::Ready(n.min(i16::MAX as usize) as i16)),
                Err(Errno::EINTR) => Ok(Wake::Signal),
                Err(e) => Err(e),
            }
        };
        // SAFETY: `old` is a readable 8-byte sigset; the old mask is not wanted.
        let _ = unsafe {
            raw::syscall6(
                raw::nr::RT_SIGPROCMASK,
                2, // SIG_SETMASK
                &old as *const u64 as usize,
                0,
                8,
                0,
                0,
            )
        };
        r
    }
}

/// One `struct pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

impl PollFd {
    pub fn new(fd: i32, events: i16) -> PollFd {
        PollFd {
            fd,
            events,
            revents: 0,
        }
    }
    /// One a poll filled in with `revents` (for tests).
    #[cfg(test)]
    pub fn with_revents(fd: i32, events: i16, revents: i16) -> PollFd {
        PollFd {
            fd,
            events,
            revents,
        }
    }
    pub fn fd(&self) -> i32 {
        self.fd
    }
    pub fn revents(&self) -> i16 {
        self.revents
    }
}

/// Why [`Waker::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The fd has these revents.
    Ready(i16),
    /// The deadline passed.
    Timeout,
    /// A signal (timer, SIGWINCH, anything else) interrupted the wait.
    Signal,
}

impl Drop for Waker {
    fn drop(&mut self) {
        // SAFETY: no pointers; the timer is ours.
        let _ = unsafe { raw::syscall6(raw::nr::TIMER_DELETE, self.timer as usize, 0, 0, 0, 0, 0) };
        let s = self.s();
        s.running.store(0, Ordering::SeqCst);
        s.fired.store(false, Ordering::SeqCst);
        s.event.store(false, Ordering::SeqCst);
        s.used.store(false, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// The terminal.

const TCGETS: usize = 0x5401;
const TCSETS: usize = 0x5402;

/// The termios of stdin saved before raw mode (struct termios: 36 bytes).
static SAVED: [AtomicU32; 9] = [const { AtomicU32::new(0) }; 9];
/// Raw mode is in effect and `SAVED` must be put back.
static RAW_ACTIVE: AtomicBool = AtomicBool::new(false);
/// Users of raw mode (hosts); the last one out restores.
static RAW_USERS: AtomicUsize = AtomicUsize::new(0);
static EXIT_HOOKS: AtomicBool = AtomicBool::new(false);

/// TCGETS into a termios image.
pub fn tcgets(fd: i32) -> Result<[u32; 9], Errno> {
    let mut t = [0u32; 9];
    // SAFETY: TCGETS writes a struct termios (36 bytes) into `t`.
    check(unsafe {
        raw::syscall6(
            raw::nr::IOCTL,
            fd as usize,
            TCGETS,
            t.as_mut_ptr() as usize,
            0,
            0,
            0,
        )
    })?;
    Ok(t)
}

/// TCSETS (TCSANOW) from a termios image.
pub fn tcsets(fd: i32, t: &[u32; 9]) -> Result<(), Errno> {
    // SAFETY: TCSETS reads a struct termios (36 bytes) from `t`.
    check(unsafe {
        raw::syscall6(
            raw::nr::IOCTL,
            fd as usize,
            TCSETS,
            t.as_ptr() as usize,
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// What cfmakeraw does to a termios image.
pub fn make_raw(t: &mut [u32; 9]) {
    // c_iflag: IGNBRK BRKINT PARMRK ISTRIP INLCR IGNCR ICRNL IXON
    t[0] &= !(0o1 | 0o2 | 0o10 | 0o40 | 0o100 | 0o200 | 0o400 | 0o2000);
    // c_oflag: OPOST
    t[1] &= !0o1;
    // c_cflag: CSIZE PARENB off, CS8 on
    t[2] = (t[2] & !(0o60 | 0o400)) | 0o60;
    // c_lflag: ISIG ICANON ECHO ECHONL IEXTEN
    t[3] &= !(0o1 | 0o2 | 0o10 | 0o100 | 0o100000);
    // c_cc starts at byte 17 (after c_line): VTIME = c_cc[5], VMIN = c_cc[6].
    let mut bytes = [0u8; 36];
    for (i, w) in t.iter().enumerate() {
        bytes[4 * i..4 * i + 4].copy_from_slice(&w.to_ne_bytes());
    }
    bytes[17 + 5] = 0;
    bytes[17 + 6] = 1;
    for (i, w) in t.iter_mut().enumerate() {
        *w = u32::from_ne_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ]);
    }
}

/// Whether umbra has the terminal in raw mode now.
pub fn tty_is_raw() -> bool {
    RAW_ACTIVE.load(Ordering::SeqCst)
}

/// Puts stdin, if it is a terminal, in raw mode (the first caller saves its
/// termios), and arranges for the saved termios to come back on every exit path:
/// [`tty_leave_raw`] by the last user, exit(3), a panic, and SIGTERM, SIGINT,
/// SIGHUP and SIGQUIT. Returns whether this caller is a raw-mode user (and must
/// call [`tty_leave_raw`]).
pub fn tty_enter_raw() -> Result<bool, Errno> {
    let Ok(saved) = tcgets(0) else {
        return Ok(false); // not a terminal
    };
    if RAW_USERS.fetch_add(1, Ordering::SeqCst) > 0 {
        return Ok(true);
    }
    for (s, w) in SAVED.iter().zip(saved) {
        s.store(w, Ordering::SeqCst);
    }
    install_exit_hooks();
    let mut raw = saved;
    make_raw(&mut raw);
    RAW_ACTIVE.store(true, Ordering::SeqCst);
    if let Err(e) = tcsets(0, &raw) {
        RAW_ACTIVE.store(false, Ordering::SeqCst);
        RAW_USERS.fetch_sub(1, Ordering::SeqCst);
        return Err(e);
    }
    Ok(true)
}

/// One raw-mode user is done; the last one restores the saved termios.
pub fn tty_leave_raw() {
    if RAW_USERS.fetch_sub(1, Ordering::SeqCst) == 1 {
        tty_restore_now();
    }
}

/// Puts the saved termios back now if raw mode is in effect (async-signal-safe).
pub fn tty_restore_now() {
    if RAW_ACTIVE.swap(false, Ordering::SeqCst) {
        let mut t = [0u32; 9];
        for (w, s) in t.iter_mut().zip(SAVED.iter()) {
            *w = s.load(Ordering::SeqCst);
        }
        let _ = tcsets(0, &t);
    }
}

extern "C" fn restore_at_exit() {
    tty_restore_now();
}

fn install_exit_hooks() {
    if EXIT_HOOKS.swap(true, Ordering::SeqCst) {
        return;
    }
    SELF_PID.store(super::getpid(), Ordering::SeqCst);
    // SAFETY: `restore_at_exit` is an `extern "C" fn()` that stays valid for the
    // life of the process.
    let _ = unsafe { libc::atexit(restore_at_exit) };
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tty_restore_now();
        prev(info);
    }));
    for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT] {
        let _ = install(sig, on_terminate, &[SIGTERM, SIGINT, SIGHUP, SIGQUIT]);
    }
}

/// Opens a new pseudo-terminal pair (master, slave), for tests that give umbra
/// a terminal as stdin.
pub fn open_pty() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), Errno> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;
    let master: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/ptmx")
        .map_err(|e| Errno(e.raw_os_error().unwrap_or(5)))?
        .into();
    let m = master.as_raw_fd() as usize;
    let unlock: i32 = 0;
    // SAFETY: TIOCSPTLCK reads an int from `unlock`.
    check(unsafe {
        raw::syscall6(
            raw::nr::IOCTL,
            m,
            0x4004_5431,
            &unlock as *const i32 as usize,
            0,
            0,
            0,
        )
    })?;
    let flags = (libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) as usize;
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new fd.
    let fd = check(unsafe { raw::syscall6(raw::nr::IOCTL, m, 0x5441, flags, 0, 0, 0) })?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    let slave = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    Ok((master, slave))
}

/// Signals caught for the guest (`forward_to_guest`), one bit per signal.
static FORWARDED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The handler of the signals umbra forwards to the guest's init: records the
/// signal and wakes the host as SIGWINCH does. Not SIGHUP and SIGCONT from
/// the host kernel itself (SI_KERNEL): those are the hang-up of the host
/// terminal umbra leads the session of (an OCI console), which the guest's
/// kernel signals itself, to its console's session leader if the console
/// still has a session (none after the leader's TIOCNOTTY), as Linux's
/// tty_signal_session_leader.
extern "C" fn on_forward(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let from_kernel = !info.is_null()
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t for
        // the handler's duration; it is only read.
        && unsafe { (*info).si_code } == libc::SI_KERNEL;
    let hang_up = from_kernel && (sig == libc::SIGHUP || sig == libc::SIGCONT);
    if (1..=64).contains(&sig) && !hang_up {
        FORWARDED.fetch_or(1u64 << (sig - 1), Ordering::SeqCst);
    }
    for slot in SLOT.iter() {
        if slot.used.load(Ordering::SeqCst) {
            slot.event.store(true, Ordering::SeqCst);
            kick(slot);
        }
    }
}

/// From now on, `sigs` sent to umbra are caught and kept for the guest
/// (OCI mode: `umbra kill` forwards signals to the guest's init) instead of
/// taking their default action. Call it after the host is built (it replaces
/// the terminal's restore-and-die handlers of SIGTERM and the like).
pub fn forward_to_guest(sigs: &[i32]) -> Result<(), Errno> {
    for &s in sigs {
        install(s, on_forward, &[])?;
    }
    Ok(())
}

/// The forwarded signals caught since the last call (bit `sig - 1`).
pub fn take_forwarded() -> u64 {
    FORWARDED.swap(0, Ordering::SeqCst)
}
