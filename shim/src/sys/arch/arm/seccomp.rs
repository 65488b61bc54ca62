//! The 32-bit ARM parts of the seccomp filters.
//!
//! Ordering on arm (arch/arm/kernel/ptrace.c, `syscall_trace_enter`): the
//! ptrace syscall-entry report comes first and seccomp runs after it, with the
//! number the tracer left: a guest syscall that umbra skips at its entry stop
//! (PTRACE_SYSCALL, number set to -1) reaches the filters as nr -1, which both
//! filters let through (the kernel then runs nothing). With SECCOMP_RET_TRACE
//! interception (no entry stops), the stub's filter sends every call from
//! outside the stub code page to umbra (a seccomp stop), where it is skipped
//! the same way. Without a tracer that asked for seccomp stops, RET_TRACE
//! fails the call with ENOSYS: a guest syscall never runs on the host.

use super::{Bpf, NEXT, OFF_ARCH, OFF_NR, RET_ALLOW, RET_KILL_PROCESS, RET_TRACE};

pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// Emits: the arch is ARM (EABI), else kill; a skipped call (nr -1, from
/// anywhere: the guest's sigreturn trampolines are in the stub code page)
/// passes.
pub(super) fn prologue(b: &mut Bpf) {
    let ok = b.label();
    let skipped = b.label();
    let go_on = b.label();
    b.ld(OFF_ARCH);
    b.jeq(AUDIT_ARCH_ARM, ok, NEXT);
    b.ret(RET_KILL_PROCESS);
    b.bind(ok);
    b.ld(OFF_NR);
    b.jeq(u32::MAX, skipped, go_on);
    b.bind(skipped);
    b.ret(RET_ALLOW);
    b.bind(go_on);
}

/// The stub filter for calls from outside the stub code page: to umbra (a
/// seccomp stop).
pub(super) fn stub_outside(b: &mut Bpf) {
    b.ret(RET_TRACE);
}

/// umbra's filter for calls from outside the stub code page, before the
/// rules: nothing more on arm.
pub(super) fn umbra_outside(_b: &mut Bpf) {}
