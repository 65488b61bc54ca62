//! The x86_64 stub: its address, the blob (`int3` traps: a stop's rip is the
//! byte after the int3) and the child's last step into it.

use crate::sys::raw::{self, nr};
use crate::sys::stub::{SpawnConfig, BATCH_RECORD, STUB_CODE, STUB_DATA, STUB_MEMFD};
use core::arch::{asm, global_asm};

/// First byte of the stub pages.
pub const STUB_BASE: u64 = 0x7fff_ff00_0000;
/// The top of the 47-bit user address space (TASK_SIZE_MAX).
pub const TASK_TOP: u64 = 0x7fff_ffff_f000;
/// The stub pages: code and data.
pub const STUB_PAGES: u64 = 2;
/// Bytes at the end of the data page that are not batch records.
pub(super) const BATCH_TAIL: usize = 0;

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
    "umbra_stub_blob_end:",
    ".popsection",
    data = const STUB_DATA,
    rec = const BATCH_RECORD,
);

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
