//! The stub: the host process behind one guest address space.
//!
//! Layout (fixed, above the guest range `umbra_core::arch::USER_END`):
//! - `STUB_CODE` (r-x): the stub blob below, a page of the memory file;
//! - `STUB_DATA` (r--): the batch page, a page of the memory file that umbra writes
//!   through its own mapping.
//!
//! aarch64 version. The blob has two entry points. `idle` is `brk #0; b idle`: a
//! stub at rest sits in the SIGTRAP stop of that brk (on arm64 the stop's pc is
//! the brk itself, not the next instruction). `batch` runs the list of syscalls
//! in the data page (`u64 count`, then `count` records of `u64 nr, u64 args[6]`)
//! with `svc #0`, stops at the first one that fails, and traps (`brk #0`) with
//! x15 = number of calls that succeeded and x0 = the last result.

use super::{check, raw, Errno};
use core::arch::{asm, global_asm};

/// First byte of the stub pages.
pub const STUB_BASE: u64 = 0xffff_ff00_0000;
/// The stub code page.
pub const STUB_CODE: u64 = STUB_BASE;
/// The stub data (batch) page.
pub const STUB_DATA: u64 = STUB_BASE + 0x1000;
/// One past the stub pages.
pub const STUB_END: u64 = STUB_BASE + 0x2000;
/// The top of the 48-bit user address space (TASK_SIZE with VA_BITS=48, as in
/// Debian's arm64 kernels). A 39-bit-VA kernel cannot hold the stub pages.
pub const TASK_TOP: u64 = 0x1_0000_0000_0000;
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
pub const BATCH_MAX: usize = (4096 - 8) / BATCH_RECORD;

const _: () = assert!(STUB_BASE == umbra_core::arch::USER_END);

global_asm!(
    ".pushsection .text.umbra_stub,\"ax\",%progbits",
    ".p2align 2",
    ".globl umbra_stub_blob_start",
    ".globl umbra_stub_sigreturn",
    ".globl umbra_stub_batch",
    ".globl umbra_stub_batch_done",
    ".globl umbra_stub_batch_syscall",
    ".globl umbra_stub_blob_end",
    "umbra_stub_blob_start:",
    ".Lumbra_stub_idle:",
    "    brk #0",
    "    b .Lumbra_stub_idle",
    "umbra_stub_sigreturn:",
    "    mov x8, #{rt_sigreturn}",
    "    svc #0",
    "    brk #0",
    "umbra_stub_batch:",
    "    movz x12, #{d0}",
    "    movk x12, #{d1}, lsl #16",
    "    movk x12, #{d2}, lsl #32",
    "    ldr x13, [x12]",
    "    add x14, x12, #8",
    "    mov x15, #0",
    ".Lumbra_stub_next:",
    "    cmp x15, x13",
    "    b.hs .Lumbra_stub_done",
    "    ldr x8, [x14]",
    "    ldp x0, x1, [x14, #8]",
    "    ldp x2, x3, [x14, #24]",
    "    ldp x4, x5, [x14, #40]",
    "umbra_stub_batch_syscall:",
    "    svc #0",
    "    cmn x0, #4095",
    "    b.hs .Lumbra_stub_done",
    "    add x14, x14, #{rec}",
    "    add x15, x15, #1",
    "    b .Lumbra_stub_next",
    ".Lumbra_stub_done:",
    "umbra_stub_batch_done:",
    "    brk #0",
    "    b .Lumbra_stub_idle",
    "umbra_stub_blob_end:",
    ".popsection",
    d0 = const (STUB_DATA & 0xffff),
    d1 = const ((STUB_DATA >> 16) & 0xffff),
    d2 = const ((STUB_DATA >> 32) & 0xffff),
    rec = const BATCH_RECORD,
    rt_sigreturn = const raw::nr::RT_SIGRETURN,
);

extern "C" {
    static umbra_stub_blob_start: u8;
    static umbra_stub_sigreturn: u8;
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

fn blob_offset(p: *const u8) -> u64 {
    (p as usize - core::ptr::addr_of!(umbra_stub_blob_start) as usize) as u64
}

/// Stub address of the idle trap (`brk #0`); the idle stop's pc is this.
pub fn idle_addr() -> u64 {
    STUB_CODE
}

/// Stub address of the signal return trampoline (`mov x8, #139; svc #0`):
/// guest signal handlers return there (`umbra_core::arch::SIGRETURN_TRAMPOLINE`).
pub fn sigreturn_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_sigreturn))
}

/// Stub address of the batch entry.
pub fn batch_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_batch))
}

/// The pc of the trap that ends a batch (the `brk` itself).
pub fn batch_done_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_batch_done))
}

/// Stub address of the blob's `syscall` instruction (for tests that check the
/// stub's seccomp filter).
pub fn batch_syscall_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_batch_syscall))
}

/// How to start a stub.
#[derive(Clone, Copy, Debug)]
pub struct SpawnConfig {
    /// The memory file's fd in umbra.
    pub memfd: i32,
    /// File offset of the code page.
    pub code_off: u64,
    /// File offset of the data page.
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
    let fprog = super::seccomp::stub_program().fprog_addr();
    // SAFETY: fork duplicates this process. The parent continues normally. The
    // child runs only `child_main`, which uses raw syscalls on its own copy of
    // memory (no allocation, no locks that another thread could hold) and never
    // returns.
    // clone(SIGCHLD, 0, ...): arm64 has no fork syscall.
    let r = unsafe { raw::syscall6(raw::nr::CLONE, 17, 0, 0, 0, 0, 0) };
    if r == 0 {
        // SAFETY: we are the freshly forked child; see `child_main`'s contract.
        unsafe { child_main(&c, ppid, &mask, has_cpu, fprog) }
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
        // 5. Pin.
        if has_cpu && s(nr::SCHED_SETAFFINITY, 0, 128, mask.as_ptr() as usize, 0) < 0 {
            die(5);
        }
        // 6. The memory file at fd 3.
        if c.memfd != STUB_MEMFD && s(nr::DUP3, c.memfd as usize, STUB_MEMFD as usize, 0, 0) < 0 {
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
        asm!(
            "svc #0",
            "cmp x0, x11",
            "b.ne 2f",
            "add x0, x11, #4096",
            "mov x2, #1",
            "mov x5, x9",
            "mov x8, #{mmap}",
            "svc #0",
            "add x12, x11, #4096",
            "cmp x0, x12",
            "b.ne 3f",
            "mov x8, #{seccomp}",
            "mov x0, #1",
            "mov x1, #0",
            "mov x2, x10",
            "svc #0",
            "cbnz x0, 4f",
            "br x11",
            "2:",
            "mov x0, #8",
            "mov x8, #{exit_group}",
            "svc #0",
            "udf #0",
            "3:",
            "mov x0, #9",
            "mov x8, #{exit_group}",
            "svc #0",
            "udf #0",
            "4:",
            "mov x0, #10",
            "mov x8, #{exit_group}",
            "svc #0",
            "udf #0",
            mmap = const nr::MMAP,
            seccomp = const nr::SECCOMP,
            exit_group = const nr::EXIT_GROUP,
            in("x8") nr::MMAP,
            in("x0") STUB_CODE,
            in("x1") 4096usize,
            in("x2") 5usize,
            in("x3") 0x11usize,
            in("x4") STUB_MEMFD as usize,
            in("x5") c.code_off,
            in("x9") c.data_off,
            in("x10") fprog,
            in("x11") STUB_CODE,
            options(noreturn),
        );
    }
}
