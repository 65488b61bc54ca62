//! The 32-bit ARM register requests (`crate::sys::ptrace` has the rest):
//! PTRACE_GETREGS/SETREGS (`struct pt_regs`, 18 words), PTRACE_GETVFPREGS/
//! SETVFPREGS (`struct user_vfp`), PTRACE_SET_SYSCALL and PTRACE_SYSCALL.
//! 32-bit ARM has no PTRACE_SYSEMU (request 31 is PTRACE_GETFDPIC there): a
//! guest syscall is skipped by setting its number to -1 at its syscall-entry
//! stop (PTRACE_SYSCALL) or at its seccomp stop (SECCOMP_RET_TRACE).
//!
//! A kernel artefact to know: at a syscall-entry or -exit stop the kernel
//! reports r12 (ip) as 0 or 1 (`report_syscall` in arch/arm/kernel/ptrace.c)
//! and puts the thread's own r12 back when the stop ends, so r12 read at such
//! a stop is not the guest's and r12 written there is lost. Seccomp stops do
//! not have this. `host` works around it.

use crate::sys::{check, raw, seccomp, Errno};

const PTRACE_GETREGS: usize = 12;
const PTRACE_SETREGS: usize = 13;
const PTRACE_SET_SYSCALL: usize = 23;
const PTRACE_SYSCALL: usize = 24;
const PTRACE_GETVFPREGS: usize = 27;
const PTRACE_SETVFPREGS: usize = 28;

/// PTRACE_O_TRACESECCOMP: SECCOMP_RET_TRACE stops the tracee (event 7).
pub const O_TRACESECCOMP: usize = 0x80;
/// PTRACE_EVENT_SECCOMP.
pub const EVENT_SECCOMP: i32 = 7;

/// The kernel's `struct pt_regs` as PTRACE_GETREGS uses it: r0-r15, cpsr,
/// ORIG_r0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawRegs {
    pub uregs: [u32; 18],
}

impl RawRegs {
    pub fn pc(&self) -> u32 {
        self.uregs[15]
    }
}

/// Size of `struct user_vfp` (PTRACE_GETVFPREGS): fpregs[32] (u64), fpscr.
pub const FPREGS_SIZE: usize = 260;

/// PTRACE_GETREGS.
#[inline]
pub fn get_regs(pid: i32) -> Result<RawRegs, Errno> {
    let mut r = RawRegs::default();
    // SAFETY: PTRACE_GETREGS writes one `struct pt_regs`, which `r` is.
    unsafe { super::ptrace_struct(PTRACE_GETREGS, pid, &mut r) }?;
    Ok(r)
}

/// PTRACE_SETREGS.
#[inline]
pub fn set_regs(pid: i32, r: &RawRegs) -> Result<(), Errno> {
    // SAFETY: PTRACE_SETREGS only reads one `struct pt_regs`, which `r` is; the
    // pointer is never written through.
    unsafe { super::ptrace_struct(PTRACE_SETREGS, pid, (r as *const RawRegs).cast_mut()) }
}

/// PTRACE_GETVFPREGS: the tracee's 260-byte `struct user_vfp` into `buf[..260]`.
pub fn get_fpregs(pid: i32, buf: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: PTRACE_GETVFPREGS writes one `struct user_vfp` of FPREGS_SIZE bytes.
    unsafe { super::ptrace_get_image(PTRACE_GETVFPREGS, pid, buf, FPREGS_SIZE) }
}

/// PTRACE_SETVFPREGS from the 260-byte `struct user_vfp` in `buf[..260]`.
pub fn set_fpregs(pid: i32, buf: &[u8]) -> Result<(), Errno> {
    // SAFETY: PTRACE_SETVFPREGS only reads one `struct user_vfp` of FPREGS_SIZE bytes.
    unsafe { super::ptrace_set_image(PTRACE_SETVFPREGS, pid, buf, FPREGS_SIZE) }
}

/// PTRACE_SET_SYSCALL: the number of the syscall the tracee stopped in; -1
/// skips it (its r0 is then what the tracer left there).
#[inline]
pub fn set_syscall(pid: i32, nr: i32) -> Result<(), Errno> {
    super::ptrace_noptr(PTRACE_SET_SYSCALL, pid, 0, nr as usize).map(|_| ())
}

/// PTRACE_SYSCALL: resume; the next syscall entry (and exit) stops.
#[inline]
pub fn syscall(pid: i32, sig: i32) -> Result<(), Errno> {
    super::ptrace_noptr(PTRACE_SYSCALL, pid, 0, sig as usize).map(|_| ())
}

/// Whether SECCOMP_RET_TRACE works as the interception: a child made to
/// trace its getppid with a seccomp filter stops in a seccomp stop, and
/// setting the number to -1 and r0 there skips the call and returns r0.
pub fn seccomp_trace_works() -> bool {
    const FAKE: u32 = 4242;
    let filter = {
        let mut b = seccomp::Bpf::new();
        let trace = b.label();
        let kill = b.label();
        b.ld(seccomp::OFF_ARCH);
        b.jeq(seccomp::AUDIT_ARCH_ARM, seccomp::NEXT, kill);
        b.ld(seccomp::OFF_NR);
        b.jeq(raw::nr::GETPPID as u32, trace, seccomp::NEXT);
        b.ret(seccomp::RET_ALLOW);
        b.bind(trace);
        b.ret(seccomp::RET_TRACE);
        b.bind(kill);
        b.ret(seccomp::RET_KILL_PROCESS);
        match b.assemble() {
            Ok(f) => f,
            Err(_) => return false,
        }
    };
    // SAFETY: fork duplicates this process; the child makes raw syscalls only
    // (on its own copy of memory: `filter` was built before the fork) and
    // never returns.
    let pid = unsafe { raw::syscall6(raw::nr::FORK, 0, 0, 0, 0, 0, 0) };
    if pid == 0 {
        // SAFETY: raw syscalls without pointers, and `install`, which passes a
        // pointer to the live `filter`; exit_group does not return.
        unsafe {
            raw::syscall6(raw::nr::PRCTL, 1, 9, 0, 0, 0, 0); // PR_SET_PDEATHSIG
            raw::syscall6(raw::nr::PTRACE, 0, 0, 0, 0, 0, 0); // TRACEME
            let me = raw::syscall6(raw::nr::GETPID, 0, 0, 0, 0, 0, 0);
            raw::syscall6(raw::nr::KILL, me as usize, 19, 0, 0, 0, 0); // SIGSTOP
            let ok =
                seccomp::set_no_new_privs().is_ok() && seccomp::install(&filter, false).is_ok();
            let r = raw::syscall6(raw::nr::GETPPID, 0, 0, 0, 0, 0, 0);
            let code = usize::from(!(ok && r as u32 == FAKE));
            loop {
                raw::syscall6(raw::nr::EXIT_GROUP, code, 0, 0, 0, 0, 0);
            }
        }
    }
    let Ok(pid) = check(pid).map(|p| p as i32) else {
        return false;
    };
    let fail = |pid: i32| {
        super::kill_and_reap(pid);
        false
    };
    use super::WaitStatus::*;
    match super::wait(pid) {
        Ok(Stopped { sig: 19, .. }) => {}
        _ => return fail(pid),
    }
    if super::set_options(pid, super::O_EXITKILL | O_TRACESECCOMP).is_err()
        || super::cont(pid, 0).is_err()
    {
        return fail(pid);
    }
    match super::wait(pid) {
        Ok(Stopped {
            sig: 5,
            event: EVENT_SECCOMP,
        }) => {}
        _ => return fail(pid),
    }
    let Ok(mut r) = get_regs(pid) else {
        return fail(pid);
    };
    r.uregs[0] = FAKE;
    if set_syscall(pid, -1).is_err() || set_regs(pid, &r).is_err() || super::cont(pid, 0).is_err() {
        return fail(pid);
    }
    match super::wait(pid) {
        Ok(Exited(0)) => true,
        Ok(Exited(_)) | Ok(Signaled(_)) => false,
        _ => fail(pid),
    }
}
