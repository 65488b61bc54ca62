//! The 32-bit ARM (armv7, EABI) half of the ptrace host.
//!
//! - Registers: PTRACE_GETREGS/SETREGS (`struct pt_regs`); the FP blob is
//!   `struct user_vfp` (PTRACE_GETVFPREGS/SETVFPREGS, 260 bytes) as is.
//! - TLS: ptrace cannot write TPIDRURO; when the guest's `GpRegs::tls` differs
//!   from the stub thread's, the stub runs set_tls (0xf0005) in a one-call
//!   batch before the guest resumes (a detour).
//! - Interception: 32-bit ARM has no PTRACE_SYSEMU. At start-up umbra checks
//!   that SECCOMP_RET_TRACE works (a probe child); then the stub's filter sends
//!   every guest syscall to umbra as a seccomp stop (one stop per syscall; all
//!   registers real), where it is skipped with PTRACE_SET_SYSCALL(-1) and r0
//!   set. Otherwise (or with UMBRA_ARM_INTERCEPT=syscall) the stub runs under
//!   PTRACE_SYSCALL. At a syscall-entry stop the kernel shows r12 as 0 and
//!   restores the thread's own r12 when the stop ends (a write is lost,
//!   `report_syscall` in arch/arm/kernel/ptrace.c), so the call is skipped
//!   there and the stub leaves the stop at once through its idle trap
//!   (PTRACE_CONT: no exit stop), where every register is real; the syscall
//!   is reported from that stop (two stops per syscall, as a bare
//!   PTRACE_SYSCALL tracer has). A stub forked from umbra after umbra confined
//!   itself inherits umbra's filter, which would kill guest calls before they
//!   become seccomp stops: such a stub always uses PTRACE_SYSCALL (the
//!   template stub is made before confinement for that reason).
//! - Syscall restart: leaving a seccomp stop with r0 in -ERESTART* while a
//!   host signal is pending would make the host kernel rewind the pc; such a
//!   resume goes through the idle trap first.

use super::{log_line, run_batch, HostStats, LoadError, PtraceHost, Stub, SIGTRAP};
use crate::sys::raw::nr;
use crate::sys::{ptrace, stub, Errno};
use ptrace::{RawRegs, WaitStatus};
use umbra_core::arch::GpRegs;
use umbra_core::host::{HostError, LogLevel, SyscallAbi};

/// The largest guest memory: it is mapped in umbra's 32-bit address space.
pub(super) const MAX_MEM_BYTES: usize = 0x6000_0000;
/// The longest instruction: a fault this close to the pc may be its fetch.
pub(super) const MAX_INSN_LEN: u64 = 4;
/// The size of the FP blob (`struct user_vfp`).
pub(super) const FP_BLOB_SIZE: usize = ptrace::FPREGS_SIZE;
/// The request that loads guest registers (for messages).
pub(super) const SETREGS: &str = "PTRACE_SETREGS";
/// The ptrace options of a stub.
pub(super) const PTRACE_OPTIONS: usize =
    ptrace::O_EXITKILL | ptrace::O_TRACESYSGOOD | ptrace::O_TRACESECCOMP;
/// The ptrace requests umbra makes: TRACEME (stub child), CONT, KILL,
/// GETREGS, SETREGS, SET_SYSCALL, SYSCALL, GETVFPREGS, SETVFPREGS,
/// SETOPTIONS, GETSIGINFO, GET_RSEQ_CONFIGURATION; DETACH (the seccomp
/// platform lets a stub go once it is set up).
pub(super) const PTRACE_REQUESTS: &[u32] =
    &[0, 7, 8, 12, 13, 17, 23, 24, 27, 28, 0x4200, 0x4202, 0x420f];
/// Calls umbra may make with any arguments besides the shared ones (std and
/// glibc use the 32-bit-time futex and clock_gettime as fallbacks).
pub(super) const CONFINE_ANY: &[usize] =
    &[nr::FORK, nr::DUP2, nr::FUTEX_TIME64, nr::CLOCK_GETTIME32];

/// How guest syscalls reach umbra.
pub(super) struct HostArch {
    /// SECCOMP_RET_TRACE works (see the module documentation).
    seccomp: bool,
}

impl HostArch {
    pub(super) fn probe() -> HostArch {
        let var = std::env::var("UMBRA_ARM_INTERCEPT");
        let seccomp = match var.as_deref() {
            Ok("syscall") => false,
            _ => ptrace::seccomp_trace_works(),
        };
        // With the variable set (to anything), say what was chosen.
        if var.is_ok() {
            log_line(
                LogLevel::Info,
                format_args!(
                    "arm syscall interception: {}",
                    if seccomp {
                        "SECCOMP_RET_TRACE (one stop per syscall)"
                    } else {
                        "PTRACE_SYSCALL + PTRACE_SET_SYSCALL(-1) (two stops per syscall)"
                    }
                ),
            );
        }
        HostArch { seccomp }
    }
}

/// What the arm host tracks of a stub.
#[derive(Default)]
pub(super) struct StubArch {
    /// Guest syscalls are seccomp stops (else PTRACE_SYSCALL stops).
    seccomp: bool,
    /// The stub is in a seccomp stop: the guest's call is pending.
    in_seccomp: bool,
    /// TPIDRURO of the stub thread as last set (None: unknown).
    tls: Option<u32>,
    /// The guest TLS of the coming run (a mapping batch before it sets it).
    want_tls: Option<u32>,
}

impl StubArch {
    pub(super) fn new(host: &HostArch, parent: Option<&StubArch>) -> StubArch {
        let seccomp = match parent {
            Some(p) => p.seccomp,
            None => host.seccomp && !crate::sys::seccomp::umbra_confined(),
        };
        StubArch {
            seccomp,
            ..StubArch::default()
        }
    }
}

/// In seccomp mode the template stub is made now, before umbra confines
/// itself (see the module documentation).
pub(super) fn after_new(host: &mut PtraceHost) {
    if host.arch.seccomp && host.template.is_none() && !host.no_template {
        match host.spawn_stub() {
            Ok(t) => host.template = Some(t),
            Err(msg) => {
                log_line(
                    LogLevel::Warn,
                    format_args!("no template stub ({msg}); forking stubs from umbra"),
                );
                host.no_template = true;
            }
        }
    }
}

/// Rules of umbra's allow-list besides the shared ones: none.
pub(super) fn confine_rules() -> Vec<crate::sys::seccomp::Rule> {
    Vec::new()
}

/// The sigreturn trampolines of the stub blob must be where the core sends
/// signal handlers back to.
pub(super) fn check_stub_layout() -> Result<(), String> {
    use umbra_core::arch::{SIGRETURN_TRAMPOLINE, SIGRETURN_TRAMPOLINE_OLD};
    if stub::disable_addr() != stub::STUB_CODE + stub::DISABLE_OFFSET {
        return Err(format!(
            "the stub's batch page disable code is at {:#x}, the batch page jumps to {:#x}",
            stub::disable_addr(),
            stub::STUB_CODE + stub::DISABLE_OFFSET
        ));
    }
    if stub::batch_done_addr() != stub::STUB_CODE + stub::BATCH_DONE_OFFSET {
        return Err(format!(
            "the stub's batch done trap is at {:#x}, the batch page returns to {:#x}",
            stub::batch_done_addr(),
            stub::STUB_CODE + stub::BATCH_DONE_OFFSET
        ));
    }
    if stub::sigreturn_addr() != SIGRETURN_TRAMPOLINE
        || stub::sigreturn_old_addr() != SIGRETURN_TRAMPOLINE_OLD
    {
        return Err(format!(
            "the stub's sigreturn trampolines are at {:#x} and {:#x}, the kernel expects {:#x} and {:#x}",
            stub::sigreturn_addr(),
            stub::sigreturn_old_addr(),
            SIGRETURN_TRAMPOLINE,
            SIGRETURN_TRAMPOLINE_OLD
        ));
    }
    Ok(())
}

/// The file offset argument of a mapping op's mmap2: in pages.
pub(super) fn mmap_offset(phys: u64) -> u64 {
    phys >> 12
}

pub(super) fn pc(r: &RawRegs) -> u64 {
    r.uregs[15] as u64
}

pub(super) fn to_raw(g: &GpRegs) -> RawRegs {
    let mut r = RawRegs::default();
    r.uregs[..16].copy_from_slice(&g.regs);
    r.uregs[16] = g.cpsr;
    r.uregs[17] = g.orig_r0;
    r
}

pub(super) fn from_raw(r: &RawRegs, tls: u32, syscallno: u32) -> GpRegs {
    let mut regs = [0u32; 16];
    regs.copy_from_slice(&r.uregs[..16]);
    GpRegs {
        regs,
        cpsr: r.uregs[16],
        orig_r0: r.uregs[17],
        tls,
        syscallno,
    }
}

/// `cpsr` for running the stub blob (ARM code): the Thumb bit and the IT
/// (Thumb if-then) state cleared. A guest stopped in Thumb code (Debian's
/// armhf binaries are Thumb-2) would otherwise run the blob as Thumb.
fn arm_state(cpsr: u32) -> u32 {
    cpsr & !(0x20 | 0x0600_fc00)
}

/// Takes a stub out of its syscall stop (`r`: its registers there) through
/// the idle trap (pc set there, the call skipped, PTRACE_CONT: no exit stop)
/// and returns the thread's own r12, which the kernel puts back on the way
/// out. The stub is left in the idle SIGTRAP stop.
fn leave_syscall_stop(st: &mut Stub, mut r: RawRegs, stats: &mut HostStats) -> Result<u32, Errno> {
    let pid = st.pid;
    stats.detours += 1;
    st.cur = None;
    r.uregs[15] = stub::idle_addr() as u32;
    r.uregs[16] = arm_state(r.uregs[16]);
    ptrace::set_regs(pid, &r)?;
    ptrace::set_syscall(pid, -1)?;
    ptrace::cont(pid, 0)?;
    st.arch.in_seccomp = false;
    loop {
        match ptrace::wait(pid)? {
            WaitStatus::Stopped {
                sig: SIGTRAP,
                event: 0,
            } => {
                let r = ptrace::get_regs(pid)?;
                if r.uregs[15] as u64 == stub::idle_stop_pc() {
                    return Ok(r.uregs[12]);
                }
                ptrace::cont(pid, 0)?;
            }
            // Signals sent from outside (a kick) are suppressed.
            WaitStatus::Stopped { .. } => ptrace::cont(pid, 0)?,
            WaitStatus::Exited(_) | WaitStatus::Signaled(_) => {
                st.dead = true;
                return Err(Errno::ESRCH);
            }
        }
    }
}

/// Notes the guest TLS of the coming run: a mapping batch before it sets it
/// too (`flush_ops`), which saves the TLS batch of `load_regs`.
#[inline]
pub(super) fn will_run(st: &mut Stub, gp: &GpRegs) {
    st.arch.want_tls = Some(gp.tls);
}

/// Appends set_tls to a mapping batch when the coming run needs another TLS.
/// (If the batch fails, the stub is killed.)
#[inline]
pub(super) fn flush_ops(st: &mut Stub, ops: &mut Vec<[u64; 7]>) {
    if let Some(t) = st.arch.want_tls.filter(|&t| st.arch.tls != Some(t)) {
        ops.push([nr::SET_TLS as u64, t as u64, 0, 0, 0, 0, 0]);
        st.arch.tls = Some(t);
    }
}

/// Loads guest registers into the stub (at any stop); first makes the stub
/// thread's TLS the guest's, if it is not.
pub(super) fn load_regs(
    st: &mut Stub,
    gp: &GpRegs,
    stats: &mut HostStats,
    data: &mut [u8],
) -> Result<(), LoadError> {
    if st.arch.tls != Some(gp.tls) {
        stats.detours += 1;
        let op = [nr::SET_TLS as u64, gp.tls as u64, 0, 0, 0, 0, 0];
        if let Err(e) = run_batch(data, st, &[op], stats) {
            log_line(
                LogLevel::Error,
                format_args!("set_tls on stub {}: {}", st.pid, e.msg),
            );
            return Err(LoadError::Dead);
        }
        st.arch.tls = Some(gp.tls);
    }
    let r = to_raw(gp);
    if st.arch.in_seccomp && (-516..=-512).contains(&(gp.regs[0] as i32)) {
        // See the module documentation.
        let at = ptrace::get_regs(st.pid).map_err(|_| LoadError::Dead)?;
        leave_syscall_stop(st, at, stats).map_err(|_| LoadError::Dead)?;
    }
    st.cur = None;
    match ptrace::set_regs(st.pid, &r) {
        Ok(()) => Ok(()),
        Err(Errno::ESRCH) => Err(LoadError::Dead),
        Err(e) => Err(LoadError::Refused(e)),
    }
}

/// Resumes guest code: skips the pending syscall of a seccomp stop, then
/// PTRACE_CONT (seccomp stops) or PTRACE_SYSCALL.
#[inline]
pub(super) fn resume(st: &mut Stub) -> Result<(), Errno> {
    let pid = st.pid;
    if st.arch.in_seccomp {
        ptrace::set_syscall(pid, -1)?;
        st.arch.in_seccomp = false;
    }
    if st.arch.seccomp {
        ptrace::cont(pid, 0)
    } else {
        ptrace::syscall(pid, 0)
    }
}

/// Says why resuming failed, where that is worth a message.
pub(super) fn resume_failed(_e: Errno) {}

/// Whether a stop is gone through without a look: never on arm (exit stops
/// do not happen, see `read_stop`).
#[inline]
pub(super) fn pass_stop(_st: &mut Stub, _sig: i32, _event: i32) -> bool {
    false
}

/// Whether a stop is a guest syscall's.
#[inline]
pub(super) fn is_syscall_stop(_st: &Stub, sig: i32, event: i32) -> bool {
    (sig == SIGTRAP | 0x80 && event == 0) || (sig == SIGTRAP && event == ptrace::EVENT_SECCOMP)
}

/// The guest registers at a stop, the raw ones, and whether the stub's
/// registers are now exactly the guest's.
pub(super) fn read_stop(
    st: &mut Stub,
    syscall: bool,
    stats: &mut HostStats,
) -> Result<(GpRegs, RawRegs, bool), Errno> {
    let mut g = ptrace::get_regs(st.pid)?;
    let mut cur_valid = true;
    if syscall && !st.arch.seccomp {
        // A syscall-entry stop: r12 is hidden here (see the module
        // documentation); the real one is read at the idle trap.
        g.uregs[12] = leave_syscall_stop(st, g, stats)?;
        // The stub now sits at its idle trap, not at these registers.
        cur_valid = false;
    } else if syscall {
        st.arch.in_seccomp = true;
    }
    let tls = st.arch.tls.unwrap_or(0);
    let syscallno = if syscall { g.uregs[7] } else { u32::MAX };
    Ok((from_raw(&g, tls, syscallno), g, cur_valid))
}

/// Writes the cookie that lets the batch make its page executable (see
/// `sys::seccomp` for arm). Not on the seccomp platform, whose stubs run
/// guest code while umbra runs another stub's batch: there `batch_enter`
/// puts it in registers.
#[inline]
pub(super) fn batch_prepare(data: &mut [u8]) {
    if crate::sys::trap::enabled() {
        return;
    }
    for (i, w) in stub::batch_cookie().iter().enumerate() {
        let at = stub::COOKIE_AT + 4 * i;
        data[at..at + 4].copy_from_slice(&w.to_ne_bytes());
    }
}

/// Clears the cookie: the guest must never see it.
#[inline]
pub(super) fn batch_clear(data: &mut [u8]) {
    data[stub::COOKIE_AT..stub::COOKIE_AT + 12].fill(0);
}

/// Points the stub at its batch code (leaving a syscall stop: the call is
/// skipped, and PTRACE_CONT makes no exit stop).
pub(super) fn batch_enter(st: &mut Stub) -> Result<(), (Errno, &'static str)> {
    if st.arch.in_seccomp {
        ptrace::set_syscall(st.pid, -1).map_err(|e| (e, "PTRACE_SET_SYSCALL"))?;
        st.arch.in_seccomp = false;
    }
    let mut r = st.base;
    r.uregs[15] = stub::batch_addr() as u32;
    if crate::sys::trap::enabled() {
        // The seccomp platform: the cookie in r3-r5 (see `batch_prepare`).
        r.uregs[15] = stub::batch_regs_addr() as u32;
        r.uregs[3..6].copy_from_slice(&stub::batch_cookie());
    }
    r.uregs[16] = arm_state(r.uregs[16]);
    ptrace::set_regs(st.pid, &r).map_err(|e| (e, "PTRACE_SETREGS"))
}

/// The registers at a SIGTRAP during a batch, if it is the batch's end.
pub(super) fn batch_trap(pid: i32) -> Result<Option<RawRegs>, (Errno, &'static str)> {
    let g = ptrace::get_regs(pid).map_err(|e| (e, "PTRACE_GETREGS"))?;
    Ok((g.uregs[15] as u64 == stub::batch_done_addr()).then_some(g))
}

/// (calls done, last result) of a finished batch.
pub(super) fn batch_done(_st: &mut Stub, g: &RawRegs) -> (u64, u64) {
    (g.uregs[9] as u64, g.uregs[0] as i32 as i64 as u64)
}

/// The FP blob: `struct user_vfp` as PTRACE_GETVFPREGS returns it.
/// Nothing of a thread's registers stays hidden in the stub at a switch:
/// every stop reports them all.
pub(super) fn complete_regs(
    _st: &mut Stub,
    _gp: &mut GpRegs,
    _stats: &mut HostStats,
) -> Result<(), Errno> {
    Ok(())
}

/// The whole FP/vector state of the stub's thread, for a switch to another
/// guest thread: the FP blob (no wider state is in use on this arch).
pub(super) fn xstate_get(pid: i32, buf: &mut Vec<u8>) -> Result<(), HostError> {
    buf.resize(FP_BLOB_SIZE, 0);
    let n = fpstate_get(pid, buf)?;
    buf.truncate(n);
    Ok(())
}

/// Loads a state `xstate_get` saved.
pub(super) fn xstate_set(pid: i32, buf: &[u8]) -> Result<(), HostError> {
    fpstate_set(pid, buf)
}

pub(super) fn fpstate_get(pid: i32, buf: &mut [u8]) -> Result<usize, HostError> {
    ptrace::get_fpregs(pid, buf).map_err(super::regs_error)?;
    Ok(ptrace::FPREGS_SIZE)
}

pub(super) fn fpstate_set(pid: i32, buf: &[u8]) -> Result<(), HostError> {
    ptrace::set_fpregs(pid, buf).map_err(super::regs_error)
}

impl PtraceHost {
    /// Guest syscalls on arm are EABI calls (the number in r7).
    pub(super) fn syscall_abi(&mut self, _mm: u32, _g: &RawRegs) -> SyscallAbi {
        SyscallAbi::Native
    }
}
