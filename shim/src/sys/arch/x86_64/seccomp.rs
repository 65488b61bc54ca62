//! The x86_64 parts of the seccomp filters.

use super::{Bpf, NEXT, OFF_ARCH, OFF_IP_HI, OFF_IP_LO, OFF_NR, RET_KILL_PROCESS, RET_TRAP};

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

/// The stub filter for calls from outside the stub code page.
pub(super) fn stub_outside(b: &mut Bpf) {
    vsyscall_trap(b);
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
