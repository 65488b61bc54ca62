//! The aarch64 half of the ptrace host: registers through NT_PRSTATUS,
//! NT_ARM_TLS and NT_ARM_SYSTEM_CALL; PTRACE_SYSEMU; the stub traps with
//! `brk #0`; the FP blob is the signal frame's fpsimd_context record.
//!
//! x7 at syscall stops: arm64's `report_syscall` shows the tracer x7 = 0 at a
//! syscall-entry stop and puts the thread's own x7 back when the stop ends (a
//! write is lost). So a `GpRegs` reported at a syscall stop holds the
//! placeholder 0 in x7, and resuming with x7 still 0 keeps the thread's real x7
//! (the common case: the same thread goes on). When the kernel resumes with
//! another x7, or the syscall is a clone (the child needs the real x7), the stub
//! first leaves the syscall stop through its idle `brk` (one extra round trip)
//! and the real x7 is read or written there. When another thread of the same
//! address space is to run, the kernel calls `thread_switch_out` first, which
//! puts the real x7 into the leaving thread's registers (`complete_regs`).

use super::{log_line, HostStats, LoadError, PtraceHost, Stub, SIGTRAP, SYS_CLONE};
use crate::sys::raw::nr;
use crate::sys::{ptrace, stub, Errno};
use ptrace::{RawRegs, WaitStatus};
use umbra_core::arch::GpRegs;
use umbra_core::host::{HostError, LogLevel, SyscallAbi};

const SYS_RT_SIGRETURN: u64 = 139;
const SYS_CLONE3: u64 = 435;
/// The magic of an arm64 sigcontext fpsimd_context record.
const FPSIMD_MAGIC: u32 = 0x4650_8001;

/// The largest guest memory.
pub(super) const MAX_MEM_BYTES: usize = 1 << 46;
/// The instruction length: a fault this close to the pc may be its fetch.
pub(super) const MAX_INSN_LEN: u64 = 4;
/// The size of the FP blob (an fpsimd_context record).
pub(super) const FP_BLOB_SIZE: usize = ptrace::FPREGS_SIZE;
/// The request that loads guest registers (for messages).
pub(super) const SETREGS: &str = "PTRACE_SETREGSET";
/// The ptrace options of a stub.
pub(super) const PTRACE_OPTIONS: usize = ptrace::O_EXITKILL | ptrace::O_TRACESYSGOOD;
/// The ptrace requests umbra makes: TRACEME (stub child), CONT, KILL, SYSEMU,
/// SETOPTIONS, GETSIGINFO, GETREGSET, SETREGSET, GET_RSEQ_CONFIGURATION;
/// DETACH (the seccomp platform lets a stub go once it is set up).
pub(super) const PTRACE_REQUESTS: &[u32] =
    &[0, 7, 8, 17, 31, 0x4200, 0x4202, 0x4204, 0x4205, 0x420f];
/// Calls umbra may make with any arguments besides the shared ones (arm64
/// has no poll, fork or dup2: ppoll, the clone rule and dup3 instead).
pub(super) const CONFINE_ANY: &[usize] = &[nr::DUP3];

/// What the aarch64 host tracks of a stub.
#[derive(Default)]
pub(super) struct StubArch {
    /// The stub is in a syscall stop (x7 cannot be read or written).
    in_syscall: bool,
    /// The last `GpRegs` reported came from a syscall stop: its x7 is the
    /// placeholder 0, and `real_x7` (once the stub left that stop through a
    /// batch) is the thread's own.
    placeholder_x7: bool,
    real_x7: Option<u64>,
    /// The stub is in the syscall stop of rt_sigreturn: the registers resumed
    /// come from a signal frame, x7 included.
    sigreturn: bool,
    /// TPIDR_EL0 of the stub as last read or written (None: unknown).
    tls: Option<u64>,
}

/// Nothing to decide at start-up.
#[derive(Default)]
pub(super) struct HostArch {}

impl HostArch {
    pub(super) fn probe() -> HostArch {
        HostArch {}
    }
}

impl StubArch {
    pub(super) fn new(_host: &HostArch, _parent: Option<&StubArch>) -> StubArch {
        StubArch::default()
    }
}

/// Nothing to do once the host is built.
pub(super) fn after_new(_host: &mut PtraceHost) {}

/// Rules of umbra's allow-list besides the shared ones.
pub(super) fn confine_rules() -> Vec<crate::sys::seccomp::Rule> {
    vec![crate::sys::seccomp::Rule::ArgIn {
        nr: nr::CLONE,
        arg: 0,
        vals: &[17], // SIGCHLD and no flags: a fork (a new stub)
        hi0: true,
    }]
}

/// The sigreturn trampoline of the stub blob must be where the core sends
/// signal handlers back to.
pub(super) fn check_stub_layout() -> Result<(), String> {
    if stub::sigreturn_addr() != umbra_core::arch::SIGRETURN_TRAMPOLINE {
        return Err(format!(
            "the stub's sigreturn trampoline is at {:#x}, the kernel expects {:#x}",
            stub::sigreturn_addr(),
            umbra_core::arch::SIGRETURN_TRAMPOLINE
        ));
    }
    Ok(())
}

/// The file offset argument of a mapping op's mmap.
pub(super) fn mmap_offset(phys: u64) -> u64 {
    phys
}

pub(super) fn pc(r: &RawRegs) -> u64 {
    r.pc
}

pub(super) fn to_raw(g: &GpRegs) -> RawRegs {
    RawRegs {
        regs: g.regs,
        sp: g.sp,
        pc: g.pc,
        pstate: g.pstate,
        tpidr: g.tpidr,
        syscallno: g.syscallno,
    }
}

pub(super) fn from_raw(r: &RawRegs) -> GpRegs {
    GpRegs {
        regs: r.regs,
        sp: r.sp,
        pc: r.pc,
        pstate: r.pstate,
        tpidr: r.tpidr,
        syscallno: r.syscallno,
    }
}

fn leave_syscall_stop(st: &mut Stub, stats: &mut HostStats) -> Result<u64, Errno> {
    let pid = st.pid;
    stats.detours += 1;
    st.cur = None;
    let mut p = ptrace::get_pt_regs(pid)?;
    p.pc = stub::idle_addr();
    ptrace::set_pt_regs(pid, &p)?;
    ptrace::set_syscallno(pid, -1)?;
    ptrace::cont(pid, 0)?;
    loop {
        match ptrace::wait(pid)? {
            WaitStatus::Stopped {
                sig: SIGTRAP,
                event: 0,
            } => {
                let p = ptrace::get_pt_regs(pid)?;
                if p.pc == stub::idle_addr() {
                    st.arch.in_syscall = false;
                    return Ok(p.regs[7]);
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

/// Loads guest registers into the stub (at any stop).
pub(super) fn load_regs(
    st: &mut Stub,
    gp: &GpRegs,
    stats: &mut HostStats,
    _data: &mut [u8],
) -> Result<(), LoadError> {
    let mut r = to_raw(gp);
    // x7: see the module documentation.
    let keep_x7 = st.arch.placeholder_x7 && r.regs[7] == 0 && !st.arch.sigreturn;
    if keep_x7 {
        if let Some(x7) = st.arch.real_x7 {
            r.regs[7] = x7;
        }
    } else if st.arch.in_syscall && leave_syscall_stop(st, stats).is_err() {
        return Err(LoadError::Dead);
    }
    // Not in a host syscall: the host must never restart anything. Only
    // a syscall stop has a number, and the kernel's restart logic only
    // acts on the -ERESTART* results: -1 is written only then.
    r.syscallno = u64::MAX;
    let x0 = r.regs[0] as i64;
    let write_nr = st.arch.in_syscall && (-516..=-512).contains(&x0);
    let write_tls = st.arch.tls != Some(r.tpidr);
    st.cur = None;
    match ptrace::set_regs_with(st.pid, &r, write_tls, write_nr) {
        Ok(()) => {
            st.arch.tls = Some(r.tpidr);
            Ok(())
        }
        Err(Errno::ESRCH) => Err(LoadError::Dead),
        Err(e) => Err(LoadError::Refused(e)),
    }
}

/// Resumes guest code: PTRACE_SYSEMU.
#[inline]
pub(super) fn resume(st: &mut Stub) -> Result<(), Errno> {
    ptrace::sysemu(st.pid, 0)
}

/// Says why resuming failed, where that is worth a message.
pub(super) fn resume_failed(e: Errno) {
    if e == Errno::EIO {
        log_line(
            LogLevel::Error,
            format_args!(
                "PTRACE_SYSEMU failed with EIO: this kernel has no PTRACE_SYSEMU \
                 for arm64 (Linux 5.3 or later is needed)"
            ),
        );
    }
}

/// Whether a stop is gone through without a look: never on aarch64.
#[inline]
pub(super) fn pass_stop(_st: &mut Stub, _sig: i32, _event: i32) -> bool {
    false
}

/// Whether a stop is a guest syscall's.
#[inline]
pub(super) fn is_syscall_stop(_st: &Stub, sig: i32, event: i32) -> bool {
    sig == SIGTRAP | 0x80 && event == 0
}

/// The guest registers at a stop, the raw ones, and whether the stub's
/// registers are now exactly the guest's.
pub(super) fn read_stop(
    st: &mut Stub,
    syscall: bool,
    stats: &mut HostStats,
) -> Result<(GpRegs, RawRegs, bool), Errno> {
    let mut g = ptrace::get_regs_at_stop(st.pid, syscall)?;
    st.arch.tls = Some(g.tpidr);
    st.arch.sigreturn = syscall && g.syscallno == SYS_RT_SIGRETURN;
    st.arch.in_syscall = syscall;
    st.arch.placeholder_x7 = syscall;
    st.arch.real_x7 = None;
    if syscall && matches!(g.syscallno, SYS_CLONE | SYS_CLONE3) {
        // The child starts from these registers: it needs the real x7.
        let x7 = leave_syscall_stop(st, stats)?;
        g.regs[7] = x7;
        st.arch.placeholder_x7 = false;
    }
    // After a detour the stub sits at its idle trap, not at these registers.
    let cur_valid = !syscall || st.arch.in_syscall;
    Ok((from_raw(&g), g, cur_valid))
}

/// Nothing to note before a run.
#[inline]
pub(super) fn will_run(_st: &mut Stub, _gp: &GpRegs) {}

/// Nothing to add to a mapping batch.
#[inline]
pub(super) fn flush_ops(_st: &mut Stub, _ops: &mut Vec<[u64; 7]>) {}

/// Nothing to add to the data page for a batch.
#[inline]
pub(super) fn batch_prepare(_data: &mut [u8]) {}

/// Nothing to clear in the data page after a batch.
#[inline]
pub(super) fn batch_clear(_data: &mut [u8]) {}

/// Points the stub at its batch code.
pub(super) fn batch_enter(st: &mut Stub) -> Result<(), (Errno, &'static str)> {
    let mut r = st.base;
    r.pc = stub::batch_addr();
    r.syscallno = u64::MAX;
    // The seccomp platform's batch cookie (0 under ptrace): sys/trap.rs.
    (r.regs[19], r.regs[20]) = crate::sys::trap::cookie();
    // TPIDR_EL0 is left alone: the batch does not use it.
    ptrace::set_regs_with(st.pid, &r, false, true).map_err(|e| (e, "PTRACE_SETREGSET"))
}

/// The registers at a SIGTRAP during a batch, if it is the batch's end.
pub(super) fn batch_trap(pid: i32) -> Result<Option<ptrace::UserPtRegs>, (Errno, &'static str)> {
    let g = ptrace::get_pt_regs(pid).map_err(|e| (e, "PTRACE_GETREGSET"))?;
    Ok((g.pc == stub::batch_done_addr()).then_some(g))
}

/// (calls done, last result) of a finished batch.
pub(super) fn batch_done(st: &mut Stub, g: &ptrace::UserPtRegs) -> (u64, u64) {
    if st.arch.in_syscall {
        // Leaving the syscall stop put the thread's own x7 back; the batch
        // does not touch x7.
        st.arch.in_syscall = false;
        st.arch.real_x7 = Some(g.regs[7]);
    }
    (g.regs[15], g.regs[0])
}

/// The FP state as an arm64 sigcontext fpsimd_context record (magic
/// 0x46508001, size 528, fpsr, fpcr, v0-v31), which the kernel's signal
/// frame holds as is; the host's NT_PRFPREG image is v0-v31, fpsr, fpcr.
/// A thread of the stub's address space makes way for another (see the
/// module documentation): if its registers came from a syscall stop, their
/// x7 is the placeholder; the real one is read (leaving the stop through the
/// idle trap if the stub is still in it) and put in `gp`, so the thread gets
/// it back whenever it runs again, whatever ran in between. After an
/// rt_sigreturn the registers came from the frame and are left alone.
pub(super) fn complete_regs(
    st: &mut Stub,
    gp: &mut GpRegs,
    stats: &mut HostStats,
) -> Result<(), Errno> {
    if st.arch.placeholder_x7 && !st.arch.sigreturn {
        if st.arch.in_syscall {
            gp.regs[7] = leave_syscall_stop(st, stats)?;
        } else if let Some(x7) = st.arch.real_x7 {
            gp.regs[7] = x7;
        }
    }
    st.arch.placeholder_x7 = false;
    st.arch.real_x7 = None;
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
    let mut img = [0u8; ptrace::FPREGS_SIZE];
    ptrace::get_fpregs(pid, &mut img).map_err(super::regs_error)?;
    buf[0..4].copy_from_slice(&FPSIMD_MAGIC.to_ne_bytes());
    buf[4..8].copy_from_slice(&(ptrace::FPREGS_SIZE as u32).to_ne_bytes());
    buf[8..16].copy_from_slice(&img[512..520]);
    buf[16..528].copy_from_slice(&img[..512]);
    Ok(ptrace::FPREGS_SIZE)
}

pub(super) fn fpstate_set(pid: i32, buf: &[u8]) -> Result<(), HostError> {
    let word = |at: usize| u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    if word(0) != FPSIMD_MAGIC || word(4) as usize != ptrace::FPREGS_SIZE {
        return Err(HostError::OutOfRange);
    }
    let mut img = [0u8; ptrace::FPREGS_SIZE];
    img[..512].copy_from_slice(&buf[16..528]);
    img[512..520].copy_from_slice(&buf[8..16]);
    ptrace::set_fpregs(pid, &img).map_err(super::regs_error)
}

impl PtraceHost {
    /// Guest syscalls on aarch64 are always native (AArch32 is killed by the
    /// stub's filter).
    pub(super) fn syscall_abi(&mut self, _mm: u32, _g: &RawRegs) -> SyscallAbi {
        SyscallAbi::Native
    }
}
