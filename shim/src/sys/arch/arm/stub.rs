//! The 32-bit ARM stub: its address, the blob (ARM state; the traps are the
//! undefined instruction 0xe7f001f0, Linux's ARM ptrace breakpoint, whose
//! SIGTRAP stop has the pc at the instruction itself) and the child's last
//! step into it.
//!
//! Layout of the code page (`umbra_core::arch` relies on the offsets):
//! - 0x00 idle: trap; b idle
//! - 0x08 `SIGRETURN_TRAMPOLINE`: mov r7, #173 (rt_sigreturn); svc #0
//! - 0x10 `SIGRETURN_TRAMPOLINE_OLD`: mov r7, #119 (sigreturn); svc #0
//! - 0x18 batch: the batch loop (r10 = record, r9 = calls done, r8 = count;
//!   r12 is never touched, see `host`), trap when done.
//!
//! ptrace cannot set TPIDRURO on 32-bit ARM: the host makes the stub run
//! set_tls (0xf0005) as a batch call when the guest's TLS changes.

use crate::sys::raw::{self, nr};
use crate::sys::stub::{blob_offset, SpawnConfig, BATCH_RECORD, STUB_CODE, STUB_DATA, STUB_MEMFD};
use core::arch::{asm, global_asm};

/// First byte of the stub pages.
pub const STUB_BASE: u64 = 0xbe00_0000;
/// The top of the user address space (TASK_SIZE of a 3G/1G split kernel).
pub const TASK_TOP: u64 = 0xbf00_0000;
/// The idle stop's pc is the trap itself.
pub(super) const IDLE_STOP_OFFSET: u64 = 0;
/// dup2 for step 6 of the stub child.
pub(super) const DUP: usize = nr::DUP2;

const _: () = assert!(STUB_BASE == umbra_core::arch::USER_END);

global_asm!(
    ".pushsection .text.umbra_stub,\"ax\",%progbits",
    ".p2align 2",
    ".arm",
    ".globl umbra_stub_blob_start",
    ".globl umbra_stub_sigreturn",
    ".globl umbra_stub_sigreturn_old",
    ".globl umbra_stub_batch",
    ".globl umbra_stub_batch_done",
    ".globl umbra_stub_batch_syscall",
    ".globl umbra_stub_blob_end",
    "umbra_stub_blob_start:",
    ".Lumbra_stub_idle:",
    "    .inst 0xe7f001f0",
    "    b .Lumbra_stub_idle",
    "umbra_stub_sigreturn:",
    "    mov r7, #{rt_sigreturn}",
    "    svc #0",
    "umbra_stub_sigreturn_old:",
    "    mov r7, #{sigreturn}",
    "    svc #0",
    "umbra_stub_batch:",
    "    movw r10, #{dlo}",
    "    movt r10, #{dhi}",
    "    ldr r8, [r10]",
    "    add r10, r10, #8",
    "    mov r9, #0",
    ".Lumbra_stub_next:",
    "    cmp r9, r8",
    "    bhs .Lumbra_stub_done",
    "    ldr r7, [r10]",
    "    ldr r0, [r10, #8]",
    "    ldr r1, [r10, #16]",
    "    ldr r2, [r10, #24]",
    "    ldr r3, [r10, #32]",
    "    ldr r4, [r10, #40]",
    "    ldr r5, [r10, #48]",
    "umbra_stub_batch_syscall:",
    "    svc #0",
    // r0 in -4095..-1: r0 + 4096 carries and is not zero.
    "    cmn r0, #4096",
    "    bhi .Lumbra_stub_done",
    "    add r10, r10, #{rec}",
    "    add r9, r9, #1",
    "    b .Lumbra_stub_next",
    ".Lumbra_stub_done:",
    "umbra_stub_batch_done:",
    "    .inst 0xe7f001f0",
    "    b .Lumbra_stub_idle",
    "umbra_stub_blob_end:",
    ".popsection",
    dlo = const (STUB_DATA & 0xffff),
    dhi = const ((STUB_DATA >> 16) & 0xffff),
    rec = const BATCH_RECORD,
    rt_sigreturn = const nr::RT_SIGRETURN,
    sigreturn = const nr::SIGRETURN,
);

extern "C" {
    static umbra_stub_sigreturn: u8;
    static umbra_stub_sigreturn_old: u8;
}

/// Stub address of the rt_sigreturn trampoline
/// (`umbra_core::arch::SIGRETURN_TRAMPOLINE`).
pub fn sigreturn_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_sigreturn))
}

/// Stub address of the sigreturn trampoline
/// (`umbra_core::arch::SIGRETURN_TRAMPOLINE_OLD`).
pub fn sigreturn_old_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_sigreturn_old))
}

/// fork(2) for `spawn`.
///
/// # Safety
/// As `raw::syscall6` for fork: the child must only run async-signal-safe code.
pub(super) unsafe fn fork() -> isize {
    // SAFETY: forwarded to the caller's contract.
    unsafe { raw::syscall6(nr::FORK, 0, 0, 0, 0, 0, 0) }
}

/// Step 9 of the stub child: maps the code page (r-x) and the data page (r--)
/// from fd 3 (mmap2: offsets in pages), installs the seccomp filter `fprog`
/// and jumps to the idle trap; exits with 8, 9 or 10 when a step fails.
///
/// # Safety
/// Only in the stub child, after steps 1-8; no stack use from here on.
pub(super) unsafe fn enter(c: &SpawnConfig, fprog: usize) -> ! {
    // SAFETY: raw syscalls only; the MAP_FIXED mappings replace whatever the
    // forked image had at the stub pages, and nothing after them uses the stack.
    unsafe {
        asm!(
            "svc #0",
            "cmp r0, r10",
            "bne 2f",
            "add r0, r10, #4096",
            "mov r1, #4096",
            "mov r2, #1",
            "mov r3, #0x11",
            "mov r4, #{memfd}",
            "mov r5, r8",
            "svc #0",
            "add r1, r10, #4096",
            "cmp r0, r1",
            "bne 3f",
            "movw r7, #{seccomp}",
            "mov r0, #1",
            "mov r1, #0",
            "mov r2, r12",
            "svc #0",
            "cmp r0, #0",
            "bne 4f",
            "bx r10",
            "2:",
            "mov r0, #8",
            "mov r7, #{exit_group}",
            "svc #0",
            "udf #0",
            "3:",
            "mov r0, #9",
            "mov r7, #{exit_group}",
            "svc #0",
            "udf #0",
            "4:",
            "mov r0, #10",
            "mov r7, #{exit_group}",
            "svc #0",
            "udf #0",
            memfd = const STUB_MEMFD,
            seccomp = const nr::SECCOMP,
            exit_group = const nr::EXIT_GROUP,
            in("r7") nr::MMAP,
            in("r0") STUB_CODE as usize,
            in("r1") 4096usize,
            in("r2") 5usize,
            in("r3") 0x11usize,
            in("r4") STUB_MEMFD as usize,
            in("r5") (c.code_off >> 12) as usize,
            in("r8") (c.data_off >> 12) as usize,
            in("r12") fprog,
            in("r10") STUB_CODE as usize,
            options(noreturn),
        );
    }
}
