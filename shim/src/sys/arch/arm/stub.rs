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
//!
//! The seccomp platform (`sys/trap.rs`) adds the trap handler to the code
//! page and a second loop to the batch page (its entry at
//! [`TRAP_BPAGE_ENTRY`]), which runs the mapping ops of the control page;
//! the handler makes the batch page executable for it with the cookie it
//! takes out of the control page, and PROT_NONE again after. Its
//! ptrace-time set-up batches take the cookie in r3-r5 (set with
//! PTRACE_SETREGS, entering at `umbra_stub_batch_regs`), never from the
//! data page, which every stub can read.

use crate::sys::raw::{self, nr};
use crate::sys::stub::{blob_offset, SpawnConfig, BATCH_RECORD, STUB_CODE, STUB_DATA, STUB_MEMFD};
use crate::sys::trap;
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
/// The offset in the batch page of the seccomp platform's op loop (the
/// ptrace batch loop's entry is offset 0).
pub const TRAP_BPAGE_ENTRY: u64 = 4;

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
    ".globl umbra_stub_batch_regs",
    ".globl umbra_trap_handler",
    ".globl umbra_trap_handler_end",
    ".globl umbra_trap_ops_syscall",
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
    // The seccomp platform's set-up batches: the cookie is in r3-r5.
    "umbra_stub_batch_regs:",
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
    // The seccomp platform's trap handler (sys/trap.rs): SIGSYS, faults
    // and the kick, with r1 = siginfo, r2 = ucontext, sp at the
    // rt_sigframe and every signal blocked. It never touches its stack.
    // r12 is the control page; the words umbra reads as u64 get a zero
    // high half.
    "umbra_trap_handler:",
    "    movw r12, #{clo}",
    "    movt r12, #{chi}",
    "    mov r9, #0",
    "    str r1, [r12, #{info}]",
    "    str r9, [r12, #{info} + 4]",
    "    str r2, [r12, #{uc}]",
    "    str r9, [r12, #{uc} + 4]",
    "    mrc p15, 0, r8, c13, c0, 3",
    "    str r8, [r12, #{fsb}]",
    "    str r9, [r12, #{fsb} + 4]",
    "    str r9, [r12, #{rkind}]",
    "    str r9, [r12, #{rkind} + 4]",
    ".Lumbra_trap_report:",
    "    mov r9, #1",
    "    dmb ish",
    "    str r9, [r12]",
    "    dmb ish",
    "    mov r0, r12",
    "    mov r1, #1",
    "    mov r2, #1",
    "    mov r7, #{futex}",
    "    svc #0",
    // After both futex calls (a guest may have jumped to an `svc` of them
    // with a control page of its own in r12 and slept there: umbra then
    // writes the cookie, SECURITY.md S2/S4), the control page is the real
    // one, so the reply's ops run in the real op path, which takes the
    // cookie out of the page before its mprotect and clears r3-r5 after.
    ".Lumbra_trap_wait:",
    "    movw r12, #{clo}",
    "    movt r12, #{chi}",
    "    ldr r9, [r12]",
    "    dmb ish",
    "    cmp r9, #2",
    "    beq .Lumbra_trap_got",
    "    mov r0, r12",
    "    mov r1, #0",
    "    mov r2, #1",
    "    mov r3, #0",
    "    mov r7, #{futex}",
    "    svc #0",
    "    b .Lumbra_trap_wait",
    ".Lumbra_trap_got:",
    "    mov r9, #0",
    "    str r9, [r12]",
    "    mov r8, #0",
    "    ldr r10, [r12, #{nops}]",
    "    cmp r10, #0",
    "    bne .Lumbra_trap_ops",
    ".Lumbra_trap_after_ops:",
    "    cmp r8, r10",
    "    blo .Lumbra_trap_fail",
    "    ldr r9, [r12, #{kind}]",
    "    cmp r9, #1",
    "    bne .Lumbra_trap_return",
    "    mov r9, #1",
    "    str r9, [r12, #{rkind}]",
    "    b .Lumbra_trap_report",
    ".Lumbra_trap_fail:",
    "    mov r9, #2",
    "    str r9, [r12, #{rkind}]",
    "    b .Lumbra_trap_report",
    // TPIDRURO: set_tls only when the reply's differs.
    ".Lumbra_trap_return:",
    "    ldr r0, [r12, #{rfs}]",
    "    mrc p15, 0, r9, c13, c0, 3",
    "    cmp r0, r9",
    "    beq .Lumbra_trap_sigreturn",
    "    movw r7, #{tls_lo}",
    "    movt r7, #{tls_hi}",
    "    svc #0",
    ".Lumbra_trap_sigreturn:",
    "    mov r7, #{rt_sigreturn}",
    "    svc #0",
    "    udf #0",
    // The ops: the cookie goes from the control page into r3-r5 (and the
    // page's words are zeroed) before the mprotect that makes the batch
    // page executable; its loop comes back to umbra_trap_disable (lr)
    // with r8 = ops done and r9 = the last result.
    ".Lumbra_trap_ops:",
    "    ldr r3, [r12, #{k1}]",
    "    ldr r4, [r12, #{k1} + 4]",
    "    ldr r5, [r12, #{k2}]",
    "    mov r9, #0",
    "    str r9, [r12, #{k1}]",
    "    str r9, [r12, #{k1} + 4]",
    "    str r9, [r12, #{k2}]",
    "    str r9, [r12, #{k2} + 4]",
    "    movw r0, #{blo}",
    "    movt r0, #{bhi}",
    "    mov r1, #4096",
    "    mov r2, #5",
    "    mov r7, #{mprotect}",
    "    svc #0",
    "    mov r3, #0",
    "    mov r4, #0",
    "    mov r5, #0",
    "    mov r9, r0",
    "    adr lr, .Lumbra_trap_disable",
    "    cmp r0, #0",
    "    bne .Lumbra_trap_disable",
    "    movw r11, #{tlo}",
    "    movt r11, #{thi}",
    "    bx r11",
    ".Lumbra_trap_disable:",
    "    movw r0, #{blo}",
    "    movt r0, #{bhi}",
    "    mov r1, #4096",
    "    mov r2, #0",
    "    mov r7, #{mprotect}",
    "    svc #0",
    "    movw r12, #{clo}",
    "    movt r12, #{chi}",
    "    mov r0, #0",
    "    str r8, [r12, #{done}]",
    "    str r0, [r12, #{done} + 4]",
    "    str r9, [r12, #{last}]",
    "    asr r0, r9, #31",
    "    str r0, [r12, #{last} + 4]",
    "    b .Lumbra_trap_after_ops",
    "umbra_trap_handler_end:",
    "    udf #0",
    "umbra_stub_blob_end:",
    // The batch page: the ptrace batch loop's entry, the trap op loop's.
    "umbra_stub_bpage_start:",
    "    b .Lumbra_stub_bloop",
    "    b .Lumbra_trap_bloop",
    ".Lumbra_stub_bloop:",
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
    // The seccomp platform's op loop (r12 the control page, r10 the ops,
    // r8 = 0); back to lr with r8 = ops done, r9 = the last result.
    ".Lumbra_trap_bloop:",
    "    add r11, r12, #{ops}",
    ".Lumbra_trap_next:",
    "    cmp r8, r10",
    "    bhs .Lumbra_trap_end",
    "    ldr r7, [r11]",
    "    ldr r0, [r11, #8]",
    "    ldr r1, [r11, #16]",
    "    ldr r2, [r11, #24]",
    "    ldr r3, [r11, #32]",
    "    ldr r4, [r11, #40]",
    "    ldr r5, [r11, #48]",
    "umbra_trap_ops_syscall:",
    "    svc #0",
    "    cmn r0, #4096",
    "    bhi .Lumbra_trap_end",
    "    add r11, r11, #{rec}",
    "    add r8, r8, #1",
    "    b .Lumbra_trap_next",
    ".Lumbra_trap_end:",
    "    mov r9, r0",
    "    bx lr",
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
    clo = const (trap::SLOT_VA & 0xffff),
    chi = const ((trap::SLOT_VA >> 16) & 0xffff),
    tlo = const ((STUB_BATCH + TRAP_BPAGE_ENTRY) & 0xffff),
    thi = const (((STUB_BATCH + TRAP_BPAGE_ENTRY) >> 16) & 0xffff),
    tls_lo = const (nr::SET_TLS & 0xffff),
    tls_hi = const ((nr::SET_TLS >> 16) & 0xffff),
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

extern "C" {
    static umbra_stub_batch_regs: u8;
}

/// Stub address of the batch entry that takes the cookie in r3-r5 (the
/// seccomp platform's set-up batches).
pub fn batch_regs_addr() -> u64 {
    STUB_CODE + blob_offset(core::ptr::addr_of!(umbra_stub_batch_regs))
}

/// Stub address of `p`, a symbol of the batch page's code.
pub fn bpage_addr(p: *const u8) -> u64 {
    STUB_BATCH + (p as usize - core::ptr::addr_of!(umbra_stub_bpage_start) as usize) as u64
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
