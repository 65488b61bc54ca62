//! The 32-bit ARM stub: its address, the blob (ARM state; the traps are the
//! undefined instruction 0xe7f001f0, Linux's ARM ptrace breakpoint, whose
//! SIGTRAP stop has the pc at the instruction itself) and the child's last
//! step into it.
//!
//! Layout of the code page (`umbra_core::arch` relies on the offsets):
//! - 0x00 idle: trap; b idle
//! - 0x08 `SIGRETURN_TRAMPOLINE`: mov r7, #173 (rt_sigreturn); svc #0
//! - 0x10 `SIGRETURN_TRAMPOLINE_OLD`: mov r7, #119 (sigreturn); svc #0
//! - 0x18 batch done: trap; b idle
//! - 0x20 disable: mprotect(STUB_BATCH, 4096, PROT_NONE); r0 = r8; to done
//! - then the batch entry: mprotect(STUB_BATCH, 4096, r-x) with the cookie of
//!   the data page (see `seccomp`), then the batch page.
//!
//! The batch page (a third page, `STUB_BATCH`, mapped PROT_NONE) holds the
//! batch loop (r10 = record, r9 = calls done, r8 = count); when done it keeps
//! the last result in r8 and jumps to `disable`.
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
/// The stub pages: code, data and the batch page.
pub const STUB_PAGES: u64 = 3;
/// The batch page.
pub const STUB_BATCH: u64 = STUB_BASE + 0x2000;
/// Bytes at the end of the data page that are not batch records: the cookie.
pub(super) const BATCH_TAIL: usize = 12;
/// Where the cookie is in the data page.
pub const COOKIE_AT: usize = 4096 - BATCH_TAIL;
/// The batch done trap's offset in the code page.
pub const BATCH_DONE_OFFSET: u64 = 0x18;
/// The offset in the code page of the code that makes the batch page
/// PROT_NONE again (the batch page jumps there when done).
pub const DISABLE_OFFSET: u64 = 0x20;

/// The secret a batch shows the stub's filter to make the batch page
/// executable (random, made once per umbra).
pub fn batch_cookie() -> [u32; 3] {
    static C: std::sync::OnceLock<[u32; 3]> = std::sync::OnceLock::new();
    *C.get_or_init(|| {
        let mut b = [0u8; 12];
        let mut done = 0;
        while done < b.len() {
            match crate::sys::getrandom(&mut b[done..]) {
                Ok(n) => done += n,
                Err(crate::sys::Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        if done < b.len() {
            // No getrandom: the clocks (weak, but never a fixed value).
            let t = crate::sys::clock_ns(crate::sys::CLOCK_MONOTONIC)
                ^ crate::sys::clock_ns(crate::sys::CLOCK_REALTIME).rotate_left(29);
            for (i, x) in b.iter_mut().enumerate() {
                *x ^= (t >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(0x9d);
            }
        }
        let w = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        [w(0), w(4), w(8)]
    })
}

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
    ".globl umbra_stub_bpage_start",
    ".globl umbra_stub_bpage_end",
    ".globl umbra_stub_disable",
    // The code page.
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
    "umbra_stub_batch_done:",
    ".Lumbra_stub_done:",
    "    .inst 0xe7f001f0",
    "    b .Lumbra_stub_idle",
    "umbra_stub_disable:",
    "    movw r0, #{blo}",
    "    movt r0, #{bhi}",
    "    mov r1, #4096",
    "    mov r2, #0",
    "    mov r7, #{mprotect}",
    "    svc #0",
    "    mov r0, r8",
    "    b .Lumbra_stub_done",
    "umbra_stub_batch:",
    "    movw r10, #{dlo}",
    "    movt r10, #{dhi}",
    "    ldr r3, [r10, #{cookie}]",
    "    ldr r4, [r10, #{cookie} + 4]",
    "    ldr r5, [r10, #{cookie} + 8]",
    "    movw r0, #{blo}",
    "    movt r0, #{bhi}",
    "    mov r1, #4096",
    "    mov r2, #5",
    "    mov r7, #{mprotect}",
    "    mov r9, #0",
    "    svc #0",
    "    cmp r0, #0",
    "    bne .Lumbra_stub_done",
    "    movw r11, #{blo}",
    "    movt r11, #{bhi}",
    "    bx r11",
    "umbra_stub_blob_end:",
    // The batch page.
    "umbra_stub_bpage_start:",
    "    movw r10, #{dlo}",
    "    movt r10, #{dhi}",
    "    ldr r8, [r10]",
    "    add r10, r10, #8",
    "    mov r9, #0",
    ".Lumbra_stub_next:",
    "    cmp r9, r8",
    "    bhs .Lumbra_stub_end",
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
    "    bhi .Lumbra_stub_end",
    "    add r10, r10, #{rec}",
    "    add r9, r9, #1",
    "    b .Lumbra_stub_next",
    ".Lumbra_stub_end:",
    "    mov r8, r0",
    "    movw r11, #{dislo}",
    "    movt r11, #{dishi}",
    "    bx r11",
    "umbra_stub_bpage_end:",
    ".popsection",
    dlo = const (STUB_DATA & 0xffff),
    dhi = const ((STUB_DATA >> 16) & 0xffff),
    blo = const (STUB_BATCH & 0xffff),
    bhi = const ((STUB_BATCH >> 16) & 0xffff),
    dislo = const ((STUB_CODE + DISABLE_OFFSET) & 0xffff),
    dishi = const (((STUB_CODE + DISABLE_OFFSET) >> 16) & 0xffff),
    cookie = const COOKIE_AT,
    rec = const BATCH_RECORD,
    mprotect = const nr::MPROTECT,
    rt_sigreturn = const nr::RT_SIGRETURN,
    sigreturn = const nr::SIGRETURN,
);

extern "C" {
    static umbra_stub_bpage_start: u8;
    static umbra_stub_bpage_end: u8;
}

/// The code of the batch page (copied to offset 0 of its page).
pub fn batch_blob() -> Option<&'static [u8]> {
    let (s, e) = (
        core::ptr::addr_of!(umbra_stub_bpage_start),
        core::ptr::addr_of!(umbra_stub_bpage_end),
    );
    let len = e as usize - s as usize;
    // SAFETY: both symbols are defined by the global_asm! above in one section,
    // in this order; the bytes between them are code, readable and never
    // written.
    Some(unsafe { core::slice::from_raw_parts(s, len) })
}

/// Stub address of the code that makes the batch page PROT_NONE again.
pub fn disable_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_disable))
}

extern "C" {
    static umbra_stub_disable: u8;
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
/// and the batch page (PROT_NONE; its file page follows the data page's) from
/// fd 3 (mmap2: offsets in pages), installs the seccomp filter `fprog`
/// and jumps to the idle trap; exits with 8, 9, 12 or 10 when a step fails.
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
            "add r0, r10, #8192",
            "mov r1, #4096",
            "mov r2, #0",
            "mov r3, #0x11",
            "mov r4, #{memfd}",
            "add r5, r8, #1",
            "svc #0",
            "add r1, r10, #8192",
            "cmp r0, r1",
            "bne 5f",
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
            "5:",
            "mov r0, #12",
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
