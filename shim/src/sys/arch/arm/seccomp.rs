//! The 32-bit ARM parts of the seccomp filters.
//!
//! Ordering on arm (arch/arm/kernel/ptrace.c, `syscall_trace_enter`): the
//! ptrace syscall-entry report comes first and seccomp runs after it, with the
//! number the tracer left: a guest syscall that umbra skips at its entry stop
//! (PTRACE_SYSCALL, number set to -1) reaches the filters as nr -1, which both
//! filters let through (the kernel then runs nothing). With SECCOMP_RET_TRACE
//! interception (no entry stops), the stub's filter sends every call from
//! outside the stub pages to umbra (a seccomp stop), where it is skipped the
//! same way. Without a tracer that asked for seccomp stops, RET_TRACE fails
//! the call with ENOSYS: a guest syscall never runs on the host.
//!
//! Guest code can jump into the stub pages, and without PTRACE_SYSEMU its
//! syscalls there are not skipped before seccomp. So the stub's mapping calls
//! are allowed only from the batch page, which is executable only while a
//! batch runs: the code page may make the batch page PROT_NONE, and r-x only
//! with the secret `stub::batch_cookie()` in the unused arguments 3-5 of that
//! mprotect (umbra writes it in the data page for a batch and clears it
//! after; the guest never sees it). From the code page the guest's sigreturn
//! trampolines go to umbra (RET_TRACE); anything else there kills the stub.

use super::{
    arg_lo, ip_in_page, stub_calls, Bpf, Label, NEXT, OFF_ARCH, OFF_NR, RET_ALLOW,
    RET_KILL_PROCESS, RET_TRACE,
};
use crate::sys::{raw::nr, stub};

pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// Emits: the arch is ARM (EABI), else kill; a skipped call (nr -1, from
/// anywhere) passes.
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

/// Emits the rules of calls from the stub pages (see the module
/// documentation), else jumps to `outside`.
pub(super) fn stub_pages(b: &mut Bpf, outside: Label) {
    let not_code = b.label();
    let allow = b.label();
    let trace = b.label();
    let kill = b.label();
    let sig = b.label();
    ip_in_page(b, stub::STUB_CODE, not_code);
    b.ld(OFF_NR);
    b.jeq(nr::MPROTECT as u32, NEXT, sig);
    b.ld(arg_lo(0));
    b.jeq(stub::STUB_BATCH as u32, NEXT, kill);
    b.ld(arg_lo(1));
    b.jeq(4096, NEXT, kill);
    // PROT_NONE (the batch is done) is always allowed; r-x only with the
    // cookie.
    b.ld(arg_lo(2));
    b.jeq(0, allow, NEXT);
    b.jeq(5, NEXT, kill);
    for (i, v) in stub::batch_cookie().iter().enumerate() {
        b.ld(arg_lo(3 + i as u32));
        b.jeq(*v, NEXT, kill);
    }
    b.ja(allow);
    b.bind(sig);
    b.jeq(nr::RT_SIGRETURN as u32, trace, NEXT);
    b.jeq(nr::SIGRETURN as u32, trace, kill);
    b.bind(not_code);
    ip_in_page(b, stub::STUB_BATCH, outside);
    // The guest's TLS reaches the host thread through a batch call.
    b.ld(OFF_NR);
    b.jeq(nr::SET_TLS as u32, allow, NEXT);
    stub_calls(b);
    b.bind(allow);
    b.ret(RET_ALLOW);
    b.bind(trace);
    b.ret(RET_TRACE);
    b.bind(kill);
    b.ret(RET_KILL_PROCESS);
}

/// The stub filter for calls from outside the stub pages: to umbra (a
/// seccomp stop).
pub(super) fn stub_outside(b: &mut Bpf) {
    b.ret(RET_TRACE);
}

/// umbra's filter for calls from outside the stub pages, before the rules:
/// nothing more on arm.
pub(super) fn umbra_outside(_b: &mut Bpf) {}
