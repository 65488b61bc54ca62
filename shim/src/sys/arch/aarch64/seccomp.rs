//! The aarch64 parts of the seccomp filters.
//!
//! Ordering on arm64 (arch/arm64/kernel/ptrace.c, `syscall_trace_enter`): the
//! ptrace syscall-entry report comes first, and under PTRACE_SYSEMU the syscall
//! is skipped right after it (NO_SYSCALL), before `secure_computing()`. So a guest
//! syscall made while umbra runs the stub with PTRACE_SYSEMU never reaches the
//! filter: it stops in umbra. Under PTRACE_CONT (the stub's mapping batches)
//! syscalls really run and the filter decides. arm64 has no vsyscall page and
//! no x32; an AArch32 (compat) syscall has another `arch` and is killed.

use super::{Bpf, NEXT, OFF_ARCH, RET_KILL_PROCESS};

pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

/// Emits: the arch is aarch64 (not an AArch32 compat call), else kill.
pub(super) fn prologue(b: &mut Bpf) {
    let ok = b.label();
    b.ld(OFF_ARCH);
    b.jeq(AUDIT_ARCH_AARCH64, ok, NEXT);
    b.ret(RET_KILL_PROCESS);
    b.bind(ok);
}

/// The stub filter for calls from outside the stub code page: kill.
pub(super) fn stub_outside(b: &mut Bpf) {
    b.ret(RET_KILL_PROCESS);
}

/// Emits the rules of calls from the stub code page (the stub's mapping
/// batches), else jumps to `outside`.
pub(super) fn stub_pages(b: &mut Bpf, outside: super::Label) {
    super::ip_in_stub_code(b, outside);
    super::stub_calls(b);
}

/// umbra's filter for calls from outside the stub code page, before the rules:
/// nothing on aarch64.
pub(super) fn umbra_outside(_b: &mut Bpf) {}
