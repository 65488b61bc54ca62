//! The aarch64 stub: its address, the blob (`brk #0` traps: on arm64 a stop's
//! pc is the brk itself, not the next instruction) and the child's last step
//! into it. The blob also holds the signal return trampoline at offset 8
//! (`umbra_core::arch::SIGRETURN_TRAMPOLINE`), and the seccomp platform's
//! trap handler and op loop (`sys/trap.rs`).

use crate::sys::raw::{self, nr};
use crate::sys::stub::{blob_offset, SpawnConfig, BATCH_RECORD, STUB_CODE, STUB_DATA, STUB_MEMFD};
use crate::sys::trap;
use core::arch::{asm, global_asm};

/// First byte of the stub pages.
pub const STUB_BASE: u64 = 0xffff_ff00_0000;
/// The top of the 48-bit user address space (TASK_SIZE with VA_BITS=48, as in
/// Debian's arm64 kernels). A 39-bit-VA kernel cannot hold the stub pages.
pub const TASK_TOP: u64 = 0x1_0000_0000_0000;
/// The stub pages: code and data.
pub const STUB_PAGES: u64 = 2;
/// Bytes at the end of the data page that are not batch records.
pub(super) const BATCH_TAIL: usize = 0;

/// The arm stub's batch code page; none here.
pub fn batch_blob() -> Option<&'static [u8]> {
    None
}

/// The idle stop's pc is the brk itself.
pub(super) const IDLE_STOP_OFFSET: u64 = 0;
/// dup3 for step 6 of the stub child (arm64 has no dup2).
pub(super) const DUP: usize = nr::DUP3;

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
    ".globl umbra_trap_ops",
    ".globl umbra_trap_ops_syscall",
    ".globl umbra_trap_handler",
    ".globl umbra_trap_handler_end",
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
    // The seccomp platform's cookie (x19, x20: 0 under ptrace), see sys/trap.rs.
    "    orr x3, x3, x19",
    "    orr x4, x4, x20",
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
    // The seccomp platform (sys/trap.rs). The op loop of a reply: x12 is the
    // control page; the cookie is taken out of the page before any call,
    // and the registers that held it (x19/x20, and x3/x4 ORed) are
    // cleared at its end.
    "umbra_trap_ops:",
    "    ldr x19, [x12, #{k1}]",
    "    ldr x20, [x12, #{k2}]",
    "    str xzr, [x12, #{k1}]",
    "    str xzr, [x12, #{k2}]",
    "    ldr x13, [x12, #{nops}]",
    "    add x14, x12, #{ops}",
    "    mov x15, #0",
    "    mov x0, #0",
    ".Lumbra_trap_next:",
    "    cmp x15, x13",
    "    b.hs .Lumbra_trap_ops_end",
    "    ldr x8, [x14]",
    "    ldp x0, x1, [x14, #8]",
    "    ldp x2, x3, [x14, #24]",
    "    ldp x4, x5, [x14, #40]",
    "    orr x3, x3, x19",
    "    orr x4, x4, x20",
    "umbra_trap_ops_syscall:",
    "    svc #0",
    "    cmn x0, #4095",
    "    b.hs .Lumbra_trap_ops_end",
    "    add x14, x14, #{rec}",
    "    add x15, x15, #1",
    "    b .Lumbra_trap_next",
    ".Lumbra_trap_ops_end:",
    "    mov x19, #0",
    "    mov x20, #0",
    "    mov x3, #0",
    "    mov x4, #0",
    "    str x15, [x12, #{done}]",
    "    str x0, [x12, #{last}]",
    "    b .Lumbra_trap_after_ops",
    // The trap handler (SIGSYS, faults, the kick): x1 = siginfo, x2 =
    // ucontext, sp at the rt_sigframe, every signal blocked. It never
    // touches its stack. TPIDR_EL0 (the guest's thread pointer) goes to
    // the control page and comes back from it.
    "umbra_trap_handler:",
    "    movz x12, #{c0}",
    "    movk x12, #{c1}, lsl #16",
    "    movk x12, #{c2}, lsl #32",
    "    str x1, [x12, #{info}]",
    "    str x2, [x12, #{uc}]",
    "    mrs x9, tpidr_el0",
    "    str x9, [x12, #{fsb}]",
    "    str xzr, [x12, #{rkind}]",
    ".Lumbra_trap_report:",
    "    mov w9, #1",
    "    stlr w9, [x12]",
    "    mov x0, x12",
    "    mov x1, #1",
    "    mov x2, #1",
    "    mov x8, #{futex}",
    "    svc #0",
    // After both futex calls (a guest may have jumped to an `svc` of them
    // with a control page of its own in x12 and slept there: umbra then
    // writes the cookie, SECURITY.md S2/S4), the control page is the real
    // one, so the reply's ops run in the real op loop.
    ".Lumbra_trap_wait:",
    "    movz x12, #{c0}",
    "    movk x12, #{c1}, lsl #16",
    "    movk x12, #{c2}, lsl #32",
    "    ldar w9, [x12]",
    "    cmp w9, #2",
    "    b.eq .Lumbra_trap_got",
    "    mov x0, x12",
    "    mov x1, #0",
    "    mov x2, #1",
    "    mov x3, #0",
    "    mov x8, #{futex}",
    "    svc #0",
    "    b .Lumbra_trap_wait",
    ".Lumbra_trap_got:",
    "    str wzr, [x12]",
    "    mov x13, #0",
    "    mov x15, #0",
    "    ldr x9, [x12, #{nops}]",
    "    cbnz x9, umbra_trap_ops",
    ".Lumbra_trap_after_ops:",
    "    cmp x15, x13",
    "    b.lo .Lumbra_trap_fail",
    "    ldr x9, [x12, #{kind}]",
    "    cmp x9, #1",
    "    b.ne .Lumbra_trap_return",
    "    mov x9, #1",
    "    str x9, [x12, #{rkind}]",
    "    b .Lumbra_trap_report",
    ".Lumbra_trap_fail:",
    "    mov x9, #2",
    "    str x9, [x12, #{rkind}]",
    "    b .Lumbra_trap_report",
    ".Lumbra_trap_return:",
    "    ldr x9, [x12, #{rfs}]",
    "    msr tpidr_el0, x9",
    "    mov x8, #{rt_sigreturn}",
    "    svc #0",
    "    udf #0",
    "umbra_trap_handler_end:",
    "    udf #0",
    "umbra_stub_blob_end:",
    ".popsection",
    d0 = const (STUB_DATA & 0xffff),
    d1 = const ((STUB_DATA >> 16) & 0xffff),
    d2 = const ((STUB_DATA >> 32) & 0xffff),
    rec = const BATCH_RECORD,
    rt_sigreturn = const raw::nr::RT_SIGRETURN,
    c0 = const (trap::SLOT_VA & 0xffff),
    c1 = const ((trap::SLOT_VA >> 16) & 0xffff),
    c2 = const ((trap::SLOT_VA >> 32) & 0xffff),
    k1 = const trap::ctrl::K1,
    k2 = const trap::ctrl::K2,
    nops = const trap::ctrl::NOPS,
    ops = const trap::ctrl::OPS,
    done = const trap::ctrl::DONE,
    last = const trap::ctrl::LAST,
    info = const trap::ctrl::INFO,
    uc = const trap::ctrl::UC,
    fsb = const trap::ctrl::FS_BASE,
    rkind = const trap::ctrl::RKIND,
    kind = const trap::ctrl::KIND,
    rfs = const trap::ctrl::REPLY_FS,
    futex = const nr::FUTEX,
);

extern "C" {
    static umbra_stub_sigreturn: u8;
}

/// Stub address of the signal return trampoline (`mov x8, #139; svc #0`):
/// guest signal handlers return there (`umbra_core::arch::SIGRETURN_TRAMPOLINE`).
pub fn sigreturn_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_sigreturn))
}

/// clone(SIGCHLD, 0, ...) for `spawn`: arm64 has no fork syscall.
///
/// # Safety
/// As `raw::syscall6` for fork: the child must only run async-signal-safe code.
pub(super) unsafe fn fork() -> isize {
    // SAFETY: forwarded to the caller's contract.
    unsafe { raw::syscall6(nr::CLONE, 17, 0, 0, 0, 0, 0) }
}

/// Step 9 of the stub child: maps the code page (r-x) and the data page (r--)
/// from fd 3, installs the seccomp filter `fprog` and jumps to the idle trap;
/// exits with 8, 9 or 10 when a step fails.
///
/// # Safety
/// Only in the stub child, after steps 1-8; no stack use from here on.
pub(super) unsafe fn enter(c: &SpawnConfig, fprog: usize) -> ! {
    // SAFETY: raw syscalls only; the MAP_FIXED mappings replace whatever the
    // forked image had at the stub pages, and nothing after them uses the stack.
    unsafe {
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
