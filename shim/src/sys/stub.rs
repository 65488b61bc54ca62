//! The stub: the host process behind one guest address space.
//!
//! Layout (fixed, above the guest range `umbra_core::arch::USER_END`):
//! - `STUB_CODE` (r-x): the stub blob below, a page of the memory file;
//! - `STUB_DATA` (r--): the batch page, a page of the memory file that umbra writes
//!   through its own mapping;
//! - arm only: `STUB_BATCH`, the page of the batch loop, executable only while
//!   a batch runs (see `arch/arm/stub.rs` and `arch/arm/seccomp.rs`).
//!
//! The blob (in `arch/<arch>/stub.rs`) has two entry points. `idle` is a trap
//! instruction in a loop: a stub at rest sits in the SIGTRAP stop of that trap.
//! `batch` runs the list of syscalls in the data page (`u64 count`, then
//! `count` records of `u64 nr, u64 args[6]`), stops at the first one that
//! fails, and traps with the number of calls that succeeded and the last
//! result in registers (x86_64: r15, rax; aarch64: x15, x0; arm: r9, r0).

use super::{check, raw, Errno};

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64/stub.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64/stub.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm/stub.rs")]
mod arch;
pub use arch::*;

/// The stub code page.
pub const STUB_CODE: u64 = STUB_BASE;
/// The stub data (batch) page.
pub const STUB_DATA: u64 = STUB_BASE + 0x1000;
/// One past the stub pages.
pub const STUB_END: u64 = STUB_BASE + STUB_PAGES * 0x1000;
/// The fd of the memory file inside a stub.
pub const STUB_MEMFD: i32 = 3;
/// The flags of the one `clone` a stub may make (a template stub forking a new
/// stub, see `host`): CLONE_PARENT (the new stub is umbra's child, so umbra reaps
/// it), CLONE_PTRACE (traced by umbra from birth, with the template's ptrace
/// options, and no PTRACE_EVENT_FORK stop of the template), exit signal SIGCHLD.
pub const STUB_CLONE_FLAGS: u64 = 0x8000 | 0x2000 | 17;
/// Size of one batch record.
pub const BATCH_RECORD: usize = 56;
/// Records that fit the data page after the count.
pub const BATCH_MAX: usize = (4096 - 8 - arch::BATCH_TAIL) / BATCH_RECORD;

extern "C" {
    static umbra_stub_blob_start: u8;
    static umbra_stub_batch: u8;
    static umbra_stub_batch_done: u8;
    static umbra_stub_batch_syscall: u8;
    static umbra_stub_blob_end: u8;
}

/// The stub blob: position-independent code copied to offset 0 of the code page.
pub fn blob() -> &'static [u8] {
    let (s, e) = (
        core::ptr::addr_of!(umbra_stub_blob_start),
        core::ptr::addr_of!(umbra_stub_blob_end),
    );
    let len = e as usize - s as usize;
    // SAFETY: both symbols are defined by the global_asm! above in one section, in
    // this order; the bytes between them are the blob's code, readable (.text) and
    // never written.
    unsafe { core::slice::from_raw_parts(s, len) }
}

pub(crate) fn blob_offset(p: *const u8) -> u64 {
    (p as usize - core::ptr::addr_of!(umbra_stub_blob_start) as usize) as u64
}

/// Stub address of the idle trap.
pub fn idle_addr() -> u64 {
    STUB_CODE
}

/// The pc of the idle trap's stop (x86_64: the byte after the int3).
pub fn idle_stop_pc() -> u64 {
    STUB_CODE + arch::IDLE_STOP_OFFSET
}

/// Stub address of the batch entry.
pub fn batch_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_batch))
}

/// The pc of the stop at the trap that ends a batch.
pub fn batch_done_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_batch_done))
}

/// Stub address of the blob's `syscall` instruction (for tests that check the
/// stub's seccomp filter).
pub fn batch_syscall_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_batch_syscall))
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
const TRAP_SIGNALS: &[usize] = &super::trap::TRAP_SIGNALS;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
const TRAP_SIGNALS: &[usize] = &[];

/// How to start a stub.
#[derive(Clone, Copy, Debug)]
pub struct SpawnConfig {
    /// The memory file's fd in umbra.
    pub memfd: i32,
    /// File offset of the code page.
    pub code_off: u64,
    /// File offset of the data page (on arm the batch page's follows it).
    pub data_off: u64,
    /// The CPU to pin the stub to.
    pub cpu: Option<usize>,
}

/// Why a stub child gave up, by its exit status.
pub fn setup_step_name(code: i32) -> &'static str {
    match code {
        1 => "PR_SET_PDEATHSIG (or umbra already gone)",
        2 => "PTRACE_TRACEME",
        3 => "setsid",
        5 => "sched_setaffinity",
        6 => "dup2 of the memory file",
        7 => "close_range",
        8 => "mmap of the stub code page",
        9 => "mmap of the stub data page",
        10 => "seccomp filter of the stub",
        11 => "PR_SET_NO_NEW_PRIVS",
        12 => "mmap of the stub batch page (arm)",
        13 => "the trap handler of the seccomp platform",
        _ => "unknown step",
    }
}

/// Forks a stub child. The child (raw syscalls only, no allocation, no locks):
/// sets PR_SET_PDEATHSIG(SIGKILL), PTRACE_TRACEME, setsid, clears its signal mask
/// and handlers, pins itself to `cpu`, moves the memory file to fd 3 and closes
/// every other fd, maps the stub code and data pages and jumps to the idle trap.
/// The parent gets the child's pid; the child's first stop is the SIGTRAP of the
/// idle trap (or it exits with a status naming the failed step). Unmapping the
/// rest of the child's address space is the caller's first batch.
pub fn spawn(cfg: &SpawnConfig) -> Result<i32, Errno> {
    // Everything the child needs is computed before the fork.
    // SAFETY: no pointers.
    let ppid = unsafe { raw::syscall6(raw::nr::GETPID, 0, 0, 0, 0, 0, 0) };
    let mut mask = [0u64; 16];
    let has_cpu = match cfg.cpu {
        Some(c) if c < 1024 => {
            mask[c / 64] |= 1 << (c % 64);
            true
        }
        _ => false,
    };
    let c = *cfg;
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")),
        allow(unused_mut)
    )]
    let mut fprog = super::seccomp::stub_program().fprog_addr();
    // The seccomp platform (sys/trap.rs): its filter, and its handlers.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
    let trap_setup = super::trap::fprog_addr().map(|f| {
        fprog = f;
        (super::trap::sigaction(), super::trap::altstack())
    });
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
    let trap_setup: Option<([u64; 4], [u64; 3])> = None;
    // SAFETY: fork duplicates this process. The parent continues normally. The
    // child runs only `child_main`, which uses raw syscalls on its own copy of
    // memory (no allocation, no locks that another thread could hold) and never
    // returns.
    let r = unsafe { arch::fork() };
    if r == 0 {
        // SAFETY: we are the freshly forked child; see `child_main`'s contract.
        unsafe { child_main(&c, ppid, &mask, has_cpu, fprog, trap_setup.as_ref()) }
    }
    check(r).map(|pid| pid as i32)
}

/// The stub child after fork.
///
/// # Safety
/// Must only be called in a freshly forked child. It never returns: it either
/// jumps into the stub blob (after which nothing of umbra is used) or exits.
#[inline(never)]
unsafe fn child_main(
    c: &SpawnConfig,
    ppid: isize,
    mask: &[u64; 16],
    has_cpu: bool,
    fprog: usize,
    trap_setup: Option<&([u64; 4], [u64; 3])>,
) -> ! {
    use raw::nr;
    // SAFETY: every call below is a raw syscall with either no pointer
    // arguments or pointers to live locals of this frame; none unmaps memory in
    // use until the final asm block, which no longer uses the stack.
    unsafe {
        let s = |n: usize, a0: usize, a1: usize, a2: usize, a3: usize| {
            raw::syscall6(n, a0, a1, a2, a3, 0, 0)
        };
        let die = |code: usize| -> ! {
            raw::syscall6(nr::EXIT_GROUP, code, 0, 0, 0, 0, 0);
            loop {
                raw::syscall6(nr::EXIT, code, 0, 0, 0, 0, 0);
            }
        };
        // 1. Die with umbra (PR_SET_PDEATHSIG = 1, SIGKILL), and make sure umbra
        //    was not already gone before that took effect.
        if s(nr::PRCTL, 1, 9, 0, 0) < 0 || s(nr::GETPPID, 0, 0, 0, 0) != ppid {
            die(1);
        }
        // 2. Be traced by umbra.
        if s(nr::PTRACE, 0, 0, 0, 0) < 0 {
            die(2);
        }
        // 3. A session of its own: terminal signals (Ctrl-C) never reach stubs.
        if s(nr::SETSID, 0, 0, 0, 0) < 0 {
            die(3);
        }
        // 4. Empty signal mask and default handlers (umbra's handlers will be gone).
        let empty: u64 = 0;
        s(nr::RT_SIGPROCMASK, 2, &empty as *const u64 as usize, 0, 8);
        let dfl = [0u64; 4];
        for sig in 1..=64usize {
            if sig != 9 && sig != 19 {
                s(nr::RT_SIGACTION, sig, dfl.as_ptr() as usize, 0, 8);
            }
        }
        // 4b. The seccomp platform: the trap handler for the trapping
        //     signals, on the slot's signal stack (mapped once umbra adopts
        //     the stub).
        if let Some((act, stack)) = trap_setup {
            for &sig in TRAP_SIGNALS {
                if s(nr::RT_SIGACTION, sig, act.as_ptr() as usize, 0, 8) < 0 {
                    die(13);
                }
            }
            if s(nr::SIGALTSTACK, stack.as_ptr() as usize, 0, 0, 0) < 0 {
                die(13);
            }
        }
        // 5. Pin.
        if has_cpu && s(nr::SCHED_SETAFFINITY, 0, 128, mask.as_ptr() as usize, 0) < 0 {
            die(5);
        }
        // 6. The memory file at fd 3.
        if c.memfd != STUB_MEMFD && s(arch::DUP, c.memfd as usize, STUB_MEMFD as usize, 0, 0) < 0 {
            die(6);
        }
        // 7. Close every other fd (stray inherited fds included).
        let a = s(nr::CLOSE_RANGE, 0, 2, 0, 0);
        let b = s(nr::CLOSE_RANGE, 4, u32::MAX as usize, 0, 0);
        if a == -38 || b == -38 {
            for fd in (0..3).chain(4..65536usize) {
                s(nr::CLOSE, fd, 0, 0, 0);
            }
        } else if a < 0 || b < 0 {
            die(7);
        }
        // 8. No new privileges: required for an unprivileged seccomp filter.
        if s(nr::PRCTL, 38, 1, 0, 0) < 0 {
            die(11);
        }
        // 9. Map the code page (r-x) and the data page (r--), shared from fd 3,
        //    install the stub's seccomp filter (`fprog`, in umbra's heap, which
        //    the stub pages never overlap) and jump to the idle trap. No stack
        //    use from here on: the MAP_FIXED mappings may replace whatever the
        //    forked image had there. After the filter, the only syscalls the
        //    stub can make are its mapping calls from the code page.
        arch::enter(c, fprog)
    }
}
