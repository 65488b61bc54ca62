//! The x86_64 parts of the seccomp filters.

use super::{
    arg_hi, Bpf, NEXT, OFF_ARCH, OFF_IP_HI, OFF_IP_LO, OFF_NR, RET_KILL_PROCESS, RET_TRACE,
    RET_TRAP,
};

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// Emits: the arch is x86_64 and the number has no x32 bit, else kill.
pub(super) fn prologue(b: &mut Bpf) {
    let ok = b.label();
    let ok2 = b.label();
    b.ld(OFF_ARCH);
    b.jeq(AUDIT_ARCH_X86_64, ok, NEXT);
    b.ret(RET_KILL_PROCESS);
    b.bind(ok);
    b.ld(OFF_NR);
    b.jge(0x4000_0000, NEXT, ok2);
    b.ret(RET_KILL_PROCESS);
    b.bind(ok2);
}

/// Emits: a call from the vsyscall page (0xffff_ffff_ff60_0000) traps. The
/// host's vsyscall emulation skips ptrace but asks seccomp (every filter of
/// the stub: its own and umbra's, which it inherits); SIGSYS (the call does
/// not run) tells umbra, which emulates the call for the guest (umbra_core's
/// kernel/vsyscall.rs). Other calls go on.
fn vsyscall_trap(b: &mut Bpf) {
    let other = b.label();
    b.ld(OFF_IP_HI);
    b.jeq(0xffff_ffff, NEXT, other);
    b.ld(OFF_IP_LO);
    b.jge(0xff60_0000, NEXT, other);
    b.jge(0xff60_1000, other, NEXT);
    b.ret(RET_TRAP);
    b.bind(other);
}

/// The stub filter, with the batch cookie halves `c1`, `c2`:
/// - a call from the vsyscall page traps (see `vsyscall_trap`);
/// - any other call from outside the stub code page goes to umbra
///   (SECCOMP_RET_TRACE: a PTRACE_EVENT_SECCOMP stop, whatever its number
///   or ABI). Under PTRACE_SYSEMU guest calls never get here; they do when
///   guest code runs on under PTRACE_CONT after a returning batch, and
///   umbra then serves the call as at a SYSEMU stop and skips it (orig_rax
///   -1). With no tracer, or one without PTRACE_O_TRACESECCOMP, the call
///   fails with ENOSYS and does not run;
/// - from the stub code page: only x86_64 numbers, with the cookie in the
///   high halves of arguments 3 and 4, and then only the stub's mapping
///   calls (`stub_calls`); anything else kills the stub.
pub(super) fn stub_filter(b: &mut Bpf, c1: u32, c2: u32) {
    let outside = b.label();
    let kill = b.label();
    vsyscall_trap(b);
    super::ip_in_stub_code(b, outside);
    prologue(b);
    b.ld(arg_hi(3));
    b.jeq(c1, NEXT, kill);
    b.ld(arg_hi(4));
    b.jeq(c2, NEXT, kill);
    super::stub_calls(b);
    b.bind(outside);
    b.ret(RET_TRACE);
    b.bind(kill);
    b.ret(RET_KILL_PROCESS);
}

/// Emits the rules of calls from the stub code page (the stub's mapping
/// batches), else jumps to `outside`.
pub(super) fn stub_pages(b: &mut Bpf, outside: super::Label) {
    super::ip_in_stub_code(b, outside);
    super::stub_calls(b);
}

/// umbra's filter for calls from outside the stub code page, before the rules:
/// the vsyscall page traps, as in the stub filter (stubs inherit umbra's).
pub(super) fn umbra_outside(b: &mut Bpf) {
    vsyscall_trap(b);
}
