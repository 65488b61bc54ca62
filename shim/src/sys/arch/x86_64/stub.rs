//! The x86_64 stub: its address, the blob (`int3` traps: a stop's rip is the
//! byte after the int3) and the child's last step into it.

use crate::sys::raw::{self, nr};
use crate::sys::stub::{SpawnConfig, BATCH_RECORD, STUB_CODE, STUB_DATA, STUB_MEMFD};
use crate::sys::trap;
use core::arch::{asm, global_asm};

/// First byte of the stub pages.
pub const STUB_BASE: u64 = 0x7fff_ff00_0000;
/// The top of the 47-bit user address space (TASK_SIZE_MAX).
pub const TASK_TOP: u64 = 0x7fff_ffff_f000;
/// The stub pages: code and data.
pub const STUB_PAGES: u64 = 2;
/// Bytes at the end of the data page that are not batch records: the
/// guest registers a returning batch (`umbra_stub_batch_ret`) loads.
pub(super) const BATCH_TAIL: usize = RET_WORDS * 8;
/// The returning batch's words at the end of the data page ([`RET_AT`]), by
/// index: a stop flag (non-zero: trap at the end instead of returning), then
/// rflags, rsp, rip, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11,
/// r13, r14, r15, r12.
pub const RET_WORDS: usize = 19;
/// The offset of the returning batch's words in the data page.
pub const RET_AT: usize = 4096 - RET_WORDS * 8;
pub mod ret {
    pub const STOP: usize = 0;
    pub const RFLAGS: usize = 1;
    pub const RSP: usize = 2;
    pub const RIP: usize = 3;
    pub const RAX: usize = 4;
    pub const RBX: usize = 5;
    pub const RCX: usize = 6;
    pub const RDX: usize = 7;
    pub const RSI: usize = 8;
    pub const RDI: usize = 9;
    pub const RBP: usize = 10;
    pub const R8: usize = 11;
    pub const R9: usize = 12;
    pub const R10: usize = 13;
    pub const R11: usize = 14;
    pub const R13: usize = 15;
    pub const R14: usize = 16;
    pub const R15: usize = 17;
    pub const R12: usize = 18;
}

/// The arm stub's batch code page; none here.
pub fn batch_blob() -> Option<&'static [u8]> {
    None
}

/// The idle stop's rip is the idle trap plus this (the int3's length).
pub(super) const IDLE_STOP_OFFSET: u64 = 1;
/// dup2 for step 6 of the stub child.
pub(super) const DUP: usize = nr::DUP2;

global_asm!(
    ".pushsection .text.umbra_stub,\"ax\",@progbits",
    ".globl umbra_stub_blob_start",
    ".globl umbra_stub_batch",
    ".globl umbra_stub_batch_done",
    ".globl umbra_stub_batch_syscall",
    ".globl umbra_stub_blob_end",
    ".globl umbra_stub_batch_ret",
    ".globl umbra_stub_batch_ret_restore",
    ".globl umbra_stub_batch_ret_fail",
    ".globl umbra_stub_batch_ret_stop",
    ".globl umbra_stub_batch_ret_end",
    ".globl umbra_trap_ops",
    ".globl umbra_trap_ops_syscall",
    ".globl umbra_trap_handler",
    ".globl umbra_trap_handler_end",
    "umbra_stub_blob_start:",
    ".Lumbra_stub_idle:",
    "    int3",
    "    jmp .Lumbra_stub_idle",
    "umbra_stub_batch:",
    "    movabs r12, {data}",
    "    mov r13, qword ptr [r12]",
    "    lea r14, [r12 + 8]",
    "    xor r15d, r15d",
    ".Lumbra_stub_next:",
    "    cmp r15, r13",
    "    jae .Lumbra_stub_done",
    "    mov rax, qword ptr [r14]",
    "    mov rdi, qword ptr [r14 + 8]",
    "    mov rsi, qword ptr [r14 + 16]",
    "    mov rdx, qword ptr [r14 + 24]",
    "    mov r10, qword ptr [r14 + 32]",
    "    mov r8, qword ptr [r14 + 40]",
    "    mov r9, qword ptr [r14 + 48]",
    // The seccomp platform's cookie (rbx, rbp: 0 under ptrace), see sys/trap.rs.
    "    or r10, rbx",
    "    or r8, rbp",
    "umbra_stub_batch_syscall:",
    "    syscall",
    "    cmp rax, -4095",
    "    jae .Lumbra_stub_done",
    "    add r14, {rec}",
    "    inc r15",
    "    jmp .Lumbra_stub_next",
    ".Lumbra_stub_done:",
    "    int3",
    "umbra_stub_batch_done:",
    "    jmp .Lumbra_stub_idle",
    // The returning batch (ptrace platform, host/mod.rs `run_ret_batch`):
    // the same loop, run under PTRACE_CONT with the cookie in rbx/rbp, then
    // straight back to guest code with the guest's registers from the end of
    // the data page (rflags through a pop from there: the guest's stack,
    // red zone included, is never touched). A failed call traps at
    // `umbra_stub_batch_ret_fail`; with the stop word set (umbra saw a
    // signal stop during the loop), the end traps at
    // `umbra_stub_batch_ret_stop` instead of returning.
    "umbra_stub_batch_ret:",
    "    movabs r12, {data}",
    "    mov r13, qword ptr [r12]",
    "    lea r14, [r12 + 8]",
    "    xor r15d, r15d",
    ".Lumbra_ret_next:",
    "    cmp r15, r13",
    "    jae .Lumbra_ret_done",
    "    mov rax, qword ptr [r14]",
    "    mov rdi, qword ptr [r14 + 8]",
    "    mov rsi, qword ptr [r14 + 16]",
    "    mov rdx, qword ptr [r14 + 24]",
    "    mov r10, qword ptr [r14 + 32]",
    "    mov r8, qword ptr [r14 + 40]",
    "    mov r9, qword ptr [r14 + 48]",
    "    or r10, rbx",
    "    or r8, rbp",
    "    syscall",
    "    cmp rax, -4095",
    "    jae .Lumbra_ret_failed",
    "    add r14, {rec}",
    "    inc r15",
    "    jmp .Lumbra_ret_next",
    ".Lumbra_ret_failed:",
    "    int3",
    "umbra_stub_batch_ret_fail:",
    "    jmp .Lumbra_stub_idle",
    ".Lumbra_ret_done:",
    "    cmp qword ptr [r12 + {ret_at} + 8 * {ret_stop}], 0",
    "    jne .Lumbra_ret_stopped",
    "umbra_stub_batch_ret_restore:",
    "    lea rsp, [r12 + {ret_at} + 8 * {ret_rflags}]",
    "    popfq",
    "    mov rsp, qword ptr [r12 + {ret_at} + 8 * {ret_rsp}]",
    "    mov rax, qword ptr [r12 + {ret_at} + 8 * {ret_rax}]",
    "    mov rbx, qword ptr [r12 + {ret_at} + 8 * {ret_rbx}]",
    "    mov rcx, qword ptr [r12 + {ret_at} + 8 * {ret_rcx}]",
    "    mov rdx, qword ptr [r12 + {ret_at} + 8 * {ret_rdx}]",
    "    mov rsi, qword ptr [r12 + {ret_at} + 8 * {ret_rsi}]",
    "    mov rdi, qword ptr [r12 + {ret_at} + 8 * {ret_rdi}]",
    "    mov rbp, qword ptr [r12 + {ret_at} + 8 * {ret_rbp}]",
    "    mov r8, qword ptr [r12 + {ret_at} + 8 * {ret_r8}]",
    "    mov r9, qword ptr [r12 + {ret_at} + 8 * {ret_r9}]",
    "    mov r10, qword ptr [r12 + {ret_at} + 8 * {ret_r10}]",
    "    mov r11, qword ptr [r12 + {ret_at} + 8 * {ret_r11}]",
    "    mov r13, qword ptr [r12 + {ret_at} + 8 * {ret_r13}]",
    "    mov r14, qword ptr [r12 + {ret_at} + 8 * {ret_r14}]",
    "    mov r15, qword ptr [r12 + {ret_at} + 8 * {ret_r15}]",
    "    mov r12, qword ptr [r12 + {ret_at} + 8 * {ret_r12}]",
    // rip-relative: the blob sits at the start of the code page, and the
    // data page follows it.
    "    jmp qword ptr [rip + umbra_stub_blob_start + 4096 + {ret_at} + 8 * {ret_rip}]",
    ".Lumbra_ret_stopped:",
    "    int3",
    "umbra_stub_batch_ret_stop:",
    "    jmp .Lumbra_stub_idle",
    "umbra_stub_batch_ret_end:",
    // The seccomp platform (sys/trap.rs). The op loop of a reply: r12 is the
    // control page; the cookie is taken out of the page before any call.
    "umbra_trap_ops:",
    "    mov rbx, qword ptr [r12 + {k1}]",
    "    mov rbp, qword ptr [r12 + {k2}]",
    "    mov qword ptr [r12 + {k1}], 0",
    "    mov qword ptr [r12 + {k2}], 0",
    "    mov r13, qword ptr [r12 + {nops}]",
    "    lea r14, [r12 + {ops}]",
    "    xor r15d, r15d",
    "    xor eax, eax",
    ".Lumbra_trap_next:",
    "    cmp r15, r13",
    "    jae .Lumbra_trap_ops_end",
    "    mov rax, qword ptr [r14]",
    "    mov rdi, qword ptr [r14 + 8]",
    "    mov rsi, qword ptr [r14 + 16]",
    "    mov rdx, qword ptr [r14 + 24]",
    "    mov r10, qword ptr [r14 + 32]",
    "    mov r8, qword ptr [r14 + 40]",
    "    mov r9, qword ptr [r14 + 48]",
    "    or r10, rbx",
    "    or r8, rbp",
    "umbra_trap_ops_syscall:",
    "    syscall",
    "    cmp rax, -4095",
    "    jae .Lumbra_trap_ops_end",
    "    add r14, {rec}",
    "    inc r15",
    "    jmp .Lumbra_trap_next",
    ".Lumbra_trap_ops_end:",
    "    xor ebx, ebx",
    "    xor ebp, ebp",
    "    xor r8d, r8d",
    "    xor r10d, r10d",
    "    mov qword ptr [r12 + {done}], r15",
    "    mov qword ptr [r12 + {last}], rax",
    "    jmp .Lumbra_trap_after_ops",
    // The trap handler (SIGSYS, faults, the kick): rsi = siginfo, rdx =
    // ucontext, rsp at the frame's return address, every signal blocked.
    // It never touches its stack.
    "umbra_trap_handler:",
    "    movabs r12, {ctrl}",
    "    mov qword ptr [r12 + {info}], rsi",
    "    mov qword ptr [r12 + {uc}], rdx",
    "    rdfsbase rax",
    "    mov qword ptr [r12 + {fsb}], rax",
    "    rdgsbase rax",
    "    mov qword ptr [r12 + {gsb}], rax",
    "    mov qword ptr [r12 + {rkind}], 0",
    // The hand-off protocol is in sys/trap.rs: report with xchg, wake
    // umbra unless it spins (the old value REPLY); spin on the word for
    // REPLY or REPLY_WAITING (at most the clamped count in the control
    // page), or until umbra parks it (REPORT_WAITING); else say so
    // (cmpxchg REPORT -> REPORT_WAITING) and sleep until then.
    ".Lumbra_trap_report:",
    "    mov eax, {report}",
    "    xchg dword ptr [r12], eax",
    "    cmp eax, {reply}",
    "    je .Lumbra_trap_spin_set",
    "    mov rdi, r12",
    "    mov esi, 1",
    "    mov edx, 1",
    "    mov eax, {futex}",
    "    syscall",
    // After every futex call (a guest may have jumped to its `syscall`
    // with a control page of its own in r12, and slept there: umbra then
    // writes the cookie, SECURITY.md S4), the control page is the real one.
    ".Lumbra_trap_spin_set:",
    "    movabs r12, {ctrl}",
    "    mov ecx, dword ptr [r12 + {spin}]",
    "    mov eax, {spin_max}",
    "    cmp ecx, eax",
    "    cmova ecx, eax",
    ".Lumbra_trap_spin:",
    "    mov eax, dword ptr [r12]",
    "    cmp eax, {reply}",
    "    je .Lumbra_trap_got",
    "    cmp eax, {reply_waiting}",
    "    je .Lumbra_trap_got",
    "    cmp eax, {report_waiting}",
    "    je .Lumbra_trap_wait",
    "    pause",
    "    sub ecx, 1",
    "    jae .Lumbra_trap_spin",
    "    mov eax, {report}",
    "    mov edx, {report_waiting}",
    "    lock cmpxchg dword ptr [r12], edx",
    ".Lumbra_trap_wait:",
    "    movabs r12, {ctrl}",
    "    mov eax, dword ptr [r12]",
    "    cmp eax, {reply}",
    "    je .Lumbra_trap_got",
    "    cmp eax, {reply_waiting}",
    "    je .Lumbra_trap_got",
    "    mov rdi, r12",
    "    xor esi, esi",
    "    mov edx, {report_waiting}",
    "    xor r10d, r10d",
    "    mov eax, {futex}",
    "    syscall",
    "    jmp .Lumbra_trap_wait",
    ".Lumbra_trap_got:",
    "    xor r13d, r13d",
    "    xor r15d, r15d",
    "    cmp qword ptr [r12 + {nops}], 0",
    "    jne umbra_trap_ops",
    ".Lumbra_trap_after_ops:",
    "    cmp r15, r13",
    "    jb .Lumbra_trap_fail",
    "    cmp qword ptr [r12 + {kind}], 1",
    "    jne .Lumbra_trap_return",
    "    mov qword ptr [r12 + {rkind}], 1",
    "    jmp .Lumbra_trap_report",
    ".Lumbra_trap_fail:",
    "    mov qword ptr [r12 + {rkind}], 2",
    "    jmp .Lumbra_trap_report",
    ".Lumbra_trap_return:",
    "    mov rax, qword ptr [r12 + {rfs}]",
    "    wrfsbase rax",
    "    mov rax, qword ptr [r12 + {rgs}]",
    "    wrgsbase rax",
    "    add rsp, 8",
    "    mov eax, {sigreturn}",
    "    syscall",
    "    ud2",
    "umbra_trap_handler_end:",
    "    ud2",
    "umbra_stub_blob_end:",
    ".popsection",
    data = const STUB_DATA,
    rec = const BATCH_RECORD,
    ret_at = const RET_AT,
    ret_stop = const ret::STOP,
    ret_rflags = const ret::RFLAGS,
    ret_rsp = const ret::RSP,
    ret_rip = const ret::RIP,
    ret_rax = const ret::RAX,
    ret_rbx = const ret::RBX,
    ret_rcx = const ret::RCX,
    ret_rdx = const ret::RDX,
    ret_rsi = const ret::RSI,
    ret_rdi = const ret::RDI,
    ret_rbp = const ret::RBP,
    ret_r8 = const ret::R8,
    ret_r9 = const ret::R9,
    ret_r10 = const ret::R10,
    ret_r11 = const ret::R11,
    ret_r13 = const ret::R13,
    ret_r14 = const ret::R14,
    ret_r15 = const ret::R15,
    ret_r12 = const ret::R12,
    ctrl = const trap::SLOT_VA,
    k1 = const trap::ctrl::K1,
    k2 = const trap::ctrl::K2,
    nops = const trap::ctrl::NOPS,
    ops = const trap::ctrl::OPS,
    done = const trap::ctrl::DONE,
    last = const trap::ctrl::LAST,
    info = const trap::ctrl::INFO,
    uc = const trap::ctrl::UC,
    fsb = const trap::ctrl::FS_BASE,
    gsb = const trap::ctrl::GS_BASE,
    rkind = const trap::ctrl::RKIND,
    kind = const trap::ctrl::KIND,
    rfs = const trap::ctrl::REPLY_FS,
    rgs = const trap::ctrl::REPLY_GS,
    spin = const trap::ctrl::SPIN,
    spin_max = const trap::MAX_STUB_SPIN,
    report = const trap::REPORT,
    reply = const trap::REPLY,
    report_waiting = const trap::REPORT_WAITING,
    reply_waiting = const trap::REPLY_WAITING,
    futex = const nr::FUTEX,
    sigreturn = const nr::RT_SIGRETURN,
);

extern "C" {
    static umbra_stub_batch_ret: u8;
    static umbra_stub_batch_ret_restore: u8;
    static umbra_stub_batch_ret_fail: u8;
    static umbra_stub_batch_ret_stop: u8;
    static umbra_stub_batch_ret_end: u8;
}

/// The returning batch's addresses in the stub: its entry, the start of the
/// register restore (the calls are all done there), the pc of the stop of
/// a failed call, that of the stop the stop word asks for, and its end.
pub struct RetBatch {
    pub entry: u64,
    pub restore: u64,
    pub fail_stop: u64,
    pub stop: u64,
    pub end: u64,
}

/// Where the returning batch's code is in the stub.
pub fn ret_batch() -> RetBatch {
    let at = |p: *const u8| STUB_CODE + super::blob_offset(p);
    RetBatch {
        entry: at(core::ptr::addr_of!(umbra_stub_batch_ret)),
        restore: at(core::ptr::addr_of!(umbra_stub_batch_ret_restore)),
        fail_stop: at(core::ptr::addr_of!(umbra_stub_batch_ret_fail)),
        stop: at(core::ptr::addr_of!(umbra_stub_batch_ret_stop)),
        end: at(core::ptr::addr_of!(umbra_stub_batch_ret_end)),
    }
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
            "syscall",
            "cmp rax, rdi",
            "jne 2f",
            "add rdi, 4096",
            "mov edx, 1",
            "mov r9, r12",
            "mov eax, 9",
            "syscall",
            "cmp rax, rdi",
            "jne 3f",
            "mov r14, rdi",
            "sub r14, 4096",
            "mov eax, {seccomp}",
            "mov edi, 1",
            "xor esi, esi",
            "mov rdx, r13",
            "syscall",
            "test rax, rax",
            "jne 4f",
            "jmp r14",
            "2:",
            "mov edi, 8",
            "mov eax, 231",
            "syscall",
            "ud2",
            "3:",
            "mov edi, 9",
            "mov eax, 231",
            "syscall",
            "ud2",
            "4:",
            "mov edi, 10",
            "mov eax, 231",
            "syscall",
            "ud2",
            seccomp = const nr::SECCOMP,
            in("rax") nr::MMAP,
            in("rdi") STUB_CODE,
            in("rsi") 4096usize,
            in("rdx") 5usize,
            in("r10") 0x11usize,
            in("r8") STUB_MEMFD as usize,
            in("r9") c.code_off,
            in("r12") c.data_off,
            in("r13") fprog,
            options(noreturn),
        );
    }
}
