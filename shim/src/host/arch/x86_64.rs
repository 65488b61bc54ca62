//! The x86_64 half of the ptrace host: `struct user_regs_struct` through
//! PTRACE_GETREGS/SETREGS, PTRACE_SYSEMU, the FXSAVE image as the FP blob,
//! and the syscall ABI of a stop (native, x32 or compat 32-bit).

use super::{HostStats, LoadError, PtraceHost, Stub};
use crate::sys::raw::nr;
use crate::sys::{ptrace, stub, Errno};
use core::sync::atomic::{AtomicUsize, Ordering};
use ptrace::{RawRegs, WaitStatus};
use umbra_core::arch::GpRegs;
use umbra_core::host::{HostError, HostMemory, LogLevel, MmId, SyscallAbi, Trap};

/// The largest guest memory.
pub(super) const MAX_MEM_BYTES: usize = 1 << 46;
/// The longest instruction: a fault this close to the pc may be its fetch.
pub(super) const MAX_INSN_LEN: u64 = 16;
/// The size of the FP blob (the FXSAVE image).
pub(super) const FP_BLOB_SIZE: usize = ptrace::FPREGS_SIZE;
/// The request that loads guest registers (for messages).
pub(super) const SETREGS: &str = "PTRACE_SETREGS";
/// The ptrace options of a stub.
/// O_TRACESECCOMP: a guest call made under PTRACE_CONT (after a returning
/// batch) is a PTRACE_EVENT_SECCOMP stop (the stub filter's
/// SECCOMP_RET_TRACE), served as a syscall stop.
pub(super) const PTRACE_OPTIONS: usize =
    ptrace::O_EXITKILL | ptrace::O_TRACESYSGOOD | ptrace::O_TRACESECCOMP;
/// The ptrace requests umbra makes: TRACEME (stub child), CONT, KILL,
/// GETREGS, SETREGS, GETFPREGS, SETFPREGS, SYSEMU, SETOPTIONS, GETSIGINFO,
/// GETREGSET and SETREGSET (NT_X86_XSTATE, at a switch between guest threads),
/// GET_SYSCALL_INFO, GET_RSEQ_CONFIGURATION; DETACH (the seccomp platform
/// lets a stub go once it is set up).
pub(super) const PTRACE_REQUESTS: &[u32] = &[
    0, 7, 8, 12, 13, 14, 15, 17, 31, 0x4200, 0x4202, 0x4204, 0x4205, 0x420e, 0x420f,
];
/// Calls umbra may make with any arguments besides the shared ones.
pub(super) const CONFINE_ANY: &[usize] = &[nr::POLL, nr::FORK, nr::DUP2];

/// Nothing beyond the shared state.
#[derive(Default)]
pub(super) struct StubArch {}

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

/// Rules of umbra's allow-list besides the shared ones: none.
pub(super) fn confine_rules() -> Vec<crate::sys::seccomp::Rule> {
    Vec::new()
}

/// The stub blob needs no check against the core's layout.
pub(super) fn check_stub_layout() -> Result<(), String> {
    Ok(())
}

/// The file offset argument of a mapping op's mmap.
pub(super) fn mmap_offset(phys: u64) -> u64 {
    phys
}

pub(super) fn pc(r: &RawRegs) -> u64 {
    r.rip
}

pub(super) fn to_raw(g: &GpRegs) -> RawRegs {
    RawRegs {
        r15: g.r15,
        r14: g.r14,
        r13: g.r13,
        r12: g.r12,
        rbp: g.rbp,
        rbx: g.rbx,
        r11: g.r11,
        r10: g.r10,
        r9: g.r9,
        r8: g.r8,
        rax: g.rax,
        rcx: g.rcx,
        rdx: g.rdx,
        rsi: g.rsi,
        rdi: g.rdi,
        orig_rax: g.orig_rax,
        rip: g.rip,
        cs: g.cs,
        eflags: g.eflags,
        rsp: g.rsp,
        ss: g.ss,
        fs_base: g.fs_base,
        gs_base: g.gs_base,
        ds: g.ds,
        es: g.es,
        fs: g.fs,
        gs: g.gs,
    }
}

pub(super) fn from_raw(r: &RawRegs) -> GpRegs {
    GpRegs {
        r15: r.r15,
        r14: r.r14,
        r13: r.r13,
        r12: r.r12,
        rbp: r.rbp,
        rbx: r.rbx,
        r11: r.r11,
        r10: r.r10,
        r9: r.r9,
        r8: r.r8,
        rax: r.rax,
        rcx: r.rcx,
        rdx: r.rdx,
        rsi: r.rsi,
        rdi: r.rdi,
        orig_rax: r.orig_rax,
        rip: r.rip,
        cs: r.cs,
        eflags: r.eflags,
        rsp: r.rsp,
        ss: r.ss,
        fs_base: r.fs_base,
        gs_base: r.gs_base,
        ds: r.ds,
        es: r.es,
        fs: r.fs,
        gs: r.gs,
    }
}

/// Loads guest registers into the stub (at any stop).
pub(super) fn load_regs(
    st: &mut Stub,
    gp: &GpRegs,
    _stats: &mut HostStats,
    _data: &mut [u8],
) -> Result<(), LoadError> {
    let mut r = to_raw(gp);
    if r.cs == 0 {
        r.cs = st.base.cs;
        r.ss = st.base.ss;
        r.ds = st.base.ds;
        r.es = st.base.es;
        r.fs = st.base.fs;
        r.gs = st.base.gs;
    }
    // Not in a host syscall: the host must never restart anything.
    r.orig_rax = u64::MAX;
    match ptrace::set_regs(st.pid, &r) {
        Ok(()) => Ok(()),
        Err(Errno::ESRCH) => Err(LoadError::Dead),
        Err(e) => Err(LoadError::Refused(e)),
    }
}

/// The fields of `struct user_regs_struct` up to rax: r15, r14, r13, r12,
/// rbp, rbx, r11, r10, r9, r8, rax.
const UP_TO_RAX: usize = 11;

/// Loads guest registers `gp` into a stub whose registers are `known` (as
/// read at its stop) when they differ only in the first fields, up to rax
/// (a syscall's return value): only those are written, which costs the host
/// less than PTRACE_SETREGS. `None`: load them all with `load_regs`.
///
/// The stub's orig_rax stays the syscall number here, where `load_regs`
/// writes -1: Linux looks at orig_rax only to restart an interrupted host
/// syscall, when rax holds one of -ERESTARTSYS, -ERESTARTNOINTR,
/// -ERESTARTNOHAND or -ERESTART_RESTARTBLOCK (-512 to -516), so those
/// values take the full load.
pub(super) fn load_changed(
    st: &mut Stub,
    known: &GpRegs,
    gp: &GpRegs,
) -> Option<Result<(), LoadError>> {
    // The fields after rax, which a prefix cannot reach.
    let rest = |r: &GpRegs| {
        [
            r.rcx, r.rdx, r.rsi, r.rdi, r.orig_rax, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base,
            r.gs_base, r.ds, r.es, r.fs, r.gs,
        ]
    };
    let same_rest = rest(known) == rest(gp);
    let g = to_raw(gp);
    if !same_rest || (-516..=-512).contains(&(g.rax as i64)) {
        return None;
    }
    Some(match ptrace::set_regs_prefix(st.pid, &g, UP_TO_RAX) {
        Ok(()) => Ok(()),
        Err(Errno::ESRCH) => Err(LoadError::Dead),
        Err(e) => Err(LoadError::Refused(e)),
    })
}

/// Resumes guest code: PTRACE_SYSEMU.
#[inline]
pub(super) fn resume(st: &mut Stub) -> Result<(), Errno> {
    st.stop_regs = None;
    ptrace::sysemu(st.pid, 0)
}

/// Says why resuming failed, where that is worth a message.
pub(super) fn resume_failed(_e: Errno) {}

/// Whether a stop is gone through without a look: never on x86_64.
#[inline]
pub(super) fn pass_stop(_st: &mut Stub, _sig: i32, _event: i32) -> bool {
    false
}

/// Whether a stop is a guest syscall's.
#[inline]
pub(super) fn is_syscall_stop(_st: &Stub, sig: i32, event: i32) -> bool {
    (sig == super::SIGTRAP | 0x80 && event == 0)
        || (sig == super::SIGTRAP && event == ptrace::EVENT_SECCOMP)
}

/// The guest registers at a stop, the raw ones, and whether the stub's
/// registers are now exactly the guest's.
#[inline]
pub(super) fn read_stop(
    st: &mut Stub,
    _syscall: bool,
    _stats: &mut HostStats,
) -> Result<(GpRegs, RawRegs, bool), Errno> {
    let g = match st.stop_regs.take() {
        Some(g) => g,
        None => ptrace::get_regs(st.pid)?,
    };
    Ok((from_raw(&g), g, true))
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

/// The batch cookie of the stubs' filter: the seccomp platform's
/// (sys/trap.rs) when its filter is the one stubs get, else the ptrace
/// stub filter's (sys/seccomp.rs).
pub(super) fn cookie() -> (u64, u64) {
    if crate::sys::trap::enabled() {
        crate::sys::trap::cookie()
    } else {
        crate::sys::seccomp::stub_cookie()
    }
}

/// Points the stub at its batch code.
pub(super) fn batch_enter(st: &mut Stub) -> Result<(), (Errno, &'static str)> {
    let mut r = st.base;
    r.rip = crate::sys::stub::batch_addr();
    r.orig_rax = u64::MAX;
    (r.rbx, r.rbp) = cookie();
    ptrace::set_regs(st.pid, &r).map_err(|e| (e, "PTRACE_SETREGS"))
}

/// The registers at a SIGTRAP during a batch, if it is the batch's end.
pub(super) fn batch_trap(pid: i32) -> Result<Option<RawRegs>, (Errno, &'static str)> {
    let g = ptrace::get_regs(pid).map_err(|e| (e, "PTRACE_GETREGS"))?;
    Ok((g.rip == crate::sys::stub::batch_done_addr()).then_some(g))
}

/// (calls done, last result) of a finished batch.
pub(super) fn batch_done(_st: &mut Stub, g: &RawRegs) -> (u64, u64) {
    (g.r15, g.rax)
}

/// The FP blob: the FXSAVE image.
pub(super) fn fpstate_get(pid: i32, buf: &mut [u8]) -> Result<usize, HostError> {
    ptrace::get_fpregs(pid, buf).map_err(super::regs_error)?;
    Ok(ptrace::FPREGS_SIZE)
}

pub(super) fn fpstate_set(pid: i32, buf: &[u8]) -> Result<(), HostError> {
    ptrace::set_fpregs(pid, buf).map_err(super::regs_error)
}

/// The largest XSAVE area kept for a guest thread (AMX tile data makes it
/// about 11 KiB on recent CPUs).
const XSTATE_MAX: usize = 16384;

/// Nothing of a thread's registers stays hidden in the stub at a switch:
/// every stop reports them all.
pub(super) fn complete_regs(
    _st: &mut Stub,
    _gp: &mut GpRegs,
    _stats: &mut HostStats,
) -> Result<(), Errno> {
    Ok(())
}

/// The size of the host's XSAVE regset, once read (0: not yet). It is fixed
/// for umbra's life (the stubs cannot ask for more components, such as AMX
/// tiles), so a read needs no larger buffer.
static XSTATE_LEN: AtomicUsize = AtomicUsize::new(0);

/// The whole FP/vector state (the XSAVE area, not just the FXSAVE part) of
/// the stub's thread, for a switch to another guest thread.
pub(super) fn xstate_get(pid: i32, buf: &mut Vec<u8>) -> Result<(), HostError> {
    let known = XSTATE_LEN.load(Ordering::Relaxed);
    buf.clear();
    buf.resize(if known == 0 { XSTATE_MAX } else { known }, 0);
    let n = ptrace::get_xstate(pid, buf).map_err(super::regs_error)?;
    if known == 0 {
        XSTATE_LEN.store(n, Ordering::Relaxed);
    }
    buf.truncate(n);
    Ok(())
}

/// Where the XSAVE header's XSTATE_BV is, right after the legacy FXSAVE
/// image, and where the state components past x87 and SSE begin.
const XSTATE_BV: usize = FP_BLOB_SIZE;
const XSTATE_EXT: usize = XSTATE_BV + 8;
/// The x87 and SSE bits of XSTATE_BV.
const XFEATURE_FPSSE: u64 = 3;

/// Loads `buf`, a state `xstate_get` saved, into a stub that holds `held`
/// (read by `xstate_get` since it last ran). When only the x87/SSE part
/// differs (threads that use no AVX), PTRACE_SETFPREGS writes it: the whole
/// XSAVE area through PTRACE_SETREGSET costs the host a vmalloc and vfree
/// on every call. Linux's SETFPREGS marks x87 and SSE in use in XSTATE_BV,
/// with the registers as given, which is the same state.
pub(super) fn xstate_set_over(pid: i32, held: &[u8], buf: &[u8]) -> Result<(), HostError> {
    let bv = |b: &[u8]| {
        b.get(XSTATE_BV..XSTATE_EXT)
            .and_then(|w| w.try_into().ok())
            .map(|w| u64::from_le_bytes(w) | XFEATURE_FPSSE)
    };
    let same_ext = held.len() == buf.len()
        && buf.len() > XSTATE_EXT
        && bv(held).is_some()
        && bv(held) == bv(buf)
        && held[XSTATE_EXT..] == buf[XSTATE_EXT..];
    if !same_ext {
        return xstate_set(pid, buf);
    }
    // As PTRACE_GETFPREGS gives it: the bytes past the XMM registers (the
    // padding and the software-reserved words of a signal frame) zero.
    let mut fx = [0u8; FP_BLOB_SIZE];
    fx[..FX_USED].copy_from_slice(&buf[..FX_USED]);
    ptrace::set_fpregs(pid, &fx).map_err(super::regs_error)
}

/// The bytes of the FXSAVE image the CPU uses: x87, MXCSR and XMM0-15.
const FX_USED: usize = 416;

/// Loads a state `xstate_get` saved.
pub(super) fn xstate_set(pid: i32, buf: &[u8]) -> Result<(), HostError> {
    ptrace::set_xstate(pid, buf).map_err(super::regs_error)
}

impl PtraceHost {
    /// Reads the two bytes of guest code at `va` through the stub's mappings.
    fn code_bytes(&self, st: &Stub, va: u64) -> Option<[u8; 2]> {
        let mem = self.physmem();
        let mut out = [0u8; 2];
        for (i, b) in out.iter_mut().enumerate() {
            let (phys, prot) = st.tracker.lookup(va.checked_add(i as u64)?)?;
            if prot & 4 == 0 {
                return None;
            }
            *b = *mem.get(phys as usize)?;
        }
        Some(out)
    }

    pub(super) fn syscall_abi(&mut self, mm: u32, g: &RawRegs) -> SyscallAbi {
        let Some(st) = self.stubs.get(&mm) else {
            return SyscallAbi::Native;
        };
        let native = |g: &RawRegs| {
            if g.orig_rax & 0x4000_0000 != 0 {
                SyscallAbi::X32
            } else {
                SyscallAbi::Native
            }
        };
        // 32-bit code segment (far jump to compat mode, or sysenter): compat.
        if g.cs != st.base.cs {
            return SyscallAbi::Compat32;
        }
        // The entry instruction ends at rip: `syscall` is 0f 05, `int 0x80` is
        // cd 80, `sysenter` 0f 34. The guest is uniprocessor, so the bytes cannot
        // have changed since they trapped.
        match self.code_bytes(st, g.rip.wrapping_sub(2)) {
            Some([0x0f, 0x05]) => native(g),
            Some([0xcd, 0x80]) | Some([0x0f, 0x34]) => SyscallAbi::Compat32,
            _ => {
                self.stats.syscall_info_calls += 1;
                match ptrace::syscall_arch(st.pid) {
                    Ok(ptrace::AUDIT_ARCH_I386) => SyscallAbi::Compat32,
                    Ok(_) => native(g),
                    // No PTRACE_GET_SYSCALL_INFO (Linux < 5.3): `syscall` always
                    // leaves rcx = rip.
                    Err(_) if g.rcx != g.rip => SyscallAbi::Compat32,
                    Err(_) => native(g),
                }
            }
        }
    }
}

/// How `run_ret_batch` ended.
pub(super) enum RetEnd {
    /// Guest code ran and stopped (or the stub died): this is the stop, for
    /// `run_user`'s loop.
    Stop(Result<WaitStatus, Errno>),
    /// The stub was resumed the usual way (PTRACE_SYSEMU) after a batch
    /// run the usual way: `run_user`'s loop waits for its stop.
    Resumed,
    /// This trap, with the guest registers as given.
    Trap(Trap),
}

/// The eflags trap flag: a guest that single-steps takes the usual path.
const EFLAGS_TF: u64 = 0x100;

impl PtraceHost {
    /// Whether `run_user` should apply the queued ops of `st` and enter the
    /// guest in one stub round trip (`run_ret_batch`).
    pub(super) fn ret_batch_fits(st: &Stub, gp: &GpRegs) -> bool {
        st.ret_ok && !st.pending.is_empty() && gp.eflags & EFLAGS_TF == 0
    }

    /// The returning batch: applies the mapping ops queued for `mm` and
    /// enters guest code with `gp` in one round trip. The stub runs
    /// `umbra_stub_batch_ret` under PTRACE_CONT (the ops with the cookie,
    /// then the guest's registers from the end of the data page, and a jump
    /// to the guest's pc); the guest then runs on under PTRACE_CONT until
    /// it stops, its next syscall being a PTRACE_EVENT_SECCOMP stop (the stub
    /// filter's SECCOMP_RET_TRACE) that `run_user` serves as a syscall
    /// stop, after which the stub is resumed with PTRACE_SYSEMU again. A
    /// batch under PTRACE_SYSEMU needs a stop of its own, since the stub's
    /// mapping calls would stop too: this saves that stop, a PTRACE_GETREGS
    /// and a PTRACE_SETREGS.
    ///
    /// The caller has checked `ret_batch_fits` and marked the stub running
    /// (`Waker::start_running`). A signal stop during the calls (the
    /// preemption kick, or a signal from outside) is suppressed, and the
    /// batch is told (the data page's stop word) to trap at its end instead
    /// of entering the guest: then the timer or event is reported with the
    /// guest's registers as given, as if it had come before the run. The
    /// data page is cleared once the batch is over (every stub maps it).
    pub(super) fn run_ret_batch(&mut self, mm: MmId, gp: &GpRegs) -> RetEnd {
        let data_off = self.mem_bytes + super::PAGE as usize;
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            self.waker.set_running(0);
            return RetEnd::Trap(Trap::StubDied);
        };
        let pid = st.pid;
        st.stop_regs = None;
        let ops = super::compile_ops(st);
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + super::PAGE as usize];
        let old_way = |data: &mut [u8], st: &mut Stub, stats: &mut HostStats| {
            super::run_batch(data, st, &ops, stats).map(|_| ())
        };
        let mut r = to_raw(gp);
        if r.cs == 0 {
            r.cs = st.base.cs;
            r.ss = st.base.ss;
            r.ds = st.base.ds;
            r.es = st.base.es;
            r.fs = st.base.fs;
            r.gs = st.base.gs;
        }
        if ops.len() > stub::BATCH_MAX {
            // More than the data page holds: the batches the usual way.
            let done = old_way(data, st, &mut self.stats);
            return self.ret_fallback(mm, gp, done);
        }
        data[..8].copy_from_slice(&(ops.len() as u64).to_le_bytes());
        for (i, op) in ops.iter().enumerate() {
            let at = 8 + i * stub::BATCH_RECORD;
            for (j, w) in op.iter().enumerate() {
                data[at + 8 * j..at + 8 * j + 8].copy_from_slice(&w.to_le_bytes());
            }
        }
        let used = 8 + ops.len() * stub::BATCH_RECORD;
        let mut tail = [0u64; stub::RET_WORDS];
        {
            use stub::ret::*;
            tail[STOP] = 0;
            tail[RFLAGS] = r.eflags;
            tail[RSP] = r.rsp;
            tail[RIP] = r.rip;
            tail[RAX] = r.rax;
            tail[RBX] = r.rbx;
            tail[RCX] = r.rcx;
            tail[RDX] = r.rdx;
            tail[RSI] = r.rsi;
            tail[RDI] = r.rdi;
            tail[RBP] = r.rbp;
            tail[R8] = r.r8;
            tail[R9] = r.r9;
            tail[R10] = r.r10;
            tail[R11] = r.r11;
            tail[R12] = r.r12;
            tail[R13] = r.r13;
            tail[R14] = r.r14;
            tail[R15] = r.r15;
        }
        for (i, w) in tail.iter().enumerate() {
            let at = stub::RET_AT + 8 * i;
            data[at..at + 8].copy_from_slice(&w.to_le_bytes());
        }
        let clear = |data: &mut [u8]| {
            data[..used].fill(0);
            data[stub::RET_AT..].fill(0);
        };
        let rb = stub::ret_batch();
        r.rip = rb.entry;
        (r.rbx, r.rbp) = cookie();
        // Not in a host syscall: the host must never restart anything; at a
        // PTRACE_EVENT_SECCOMP stop this skips the guest's call.
        r.orig_rax = u64::MAX;
        st.cur = None;
        match ptrace::set_regs(pid, &r) {
            Ok(()) => {}
            Err(Errno::ESRCH) => {
                clear(data);
                self.waker.set_running(0);
                return RetEnd::Trap(self.mark_dead(mm.0));
            }
            Err(_) => {
                // Registers the host refuses: the batch the usual way, and
                // `ret_fallback`'s load gives the guest its fault.
                clear(data);
                let done = old_way(data, st, &mut self.stats);
                return self.ret_fallback(mm, gp, done);
            }
        }
        self.stats.batches += 1;
        self.stats.ret_batches += 1;
        self.stats.batch_ops += ops.len() as u64;
        if ptrace::cont(pid, 0).is_err() {
            clear(data);
            self.waker.set_running(0);
            return RetEnd::Trap(self.mark_dead(mm.0));
        }
        loop {
            let stop = ptrace::wait(pid);
            self.waker.set_running(0);
            let data = &mut self.mem.as_mut_slice()[data_off..data_off + super::PAGE as usize];
            let sig = match stop {
                Ok(WaitStatus::Stopped { event, .. }) if event == ptrace::EVENT_SECCOMP => {
                    // A guest call: only guest code's calls are traced.
                    clear(data);
                    return RetEnd::Stop(stop);
                }
                Ok(WaitStatus::Stopped { sig, .. }) => sig,
                _ => {
                    clear(data);
                    return RetEnd::Stop(stop);
                }
            };
            let Ok(g) = ptrace::get_regs(pid) else {
                clear(data);
                return RetEnd::Trap(self.mark_dead(mm.0));
            };
            if !(rb.entry..rb.end).contains(&g.rip) {
                // Guest code stopped (a fault, a trap, a signal): these are
                // its registers at this stop, for `read_stop`.
                clear(data);
                if let Some(st) = self.stubs.get_mut(&mm.0) {
                    st.stop_regs = Some(g);
                }
                return RetEnd::Stop(stop);
            }
            if sig == super::SIGTRAP && g.rip == rb.fail_stop {
                clear(data);
                let e = Errno((g.rax as i64).unsigned_abs().min(4095) as i32);
                let what = ops
                    .get(g.r15 as usize)
                    .map(super::op_name)
                    .unwrap_or_default();
                super::log_line(
                    LogLevel::Error,
                    format_args!("mapping update of stub {pid} failed: {what} failed: {e}"),
                );
                return RetEnd::Trap(self.mark_dead(mm.0));
            }
            if g.rip >= rb.restore {
                // The calls are done and the guest not entered (the stop
                // word's trap, or a signal during the register restore).
                clear(data);
                if let Some(st) = self.stubs.get_mut(&mm.0) {
                    st.cur = None;
                }
                return RetEnd::Trap(self.timer_or_event());
            }
            if matches!(
                sig,
                super::SIGSEGV | super::SIGBUS | super::SIGILL | super::SIGFPE | super::SIGTRAP
            ) && ptrace::get_siginfo(pid).map_or(true, |i| i.code > 0)
            {
                clear(data);
                super::log_line(
                    LogLevel::Error,
                    format_args!("stub {pid} faulted (signal {sig}) in a batch"),
                );
                return RetEnd::Trap(self.mark_dead(mm.0));
            }
            // A signal sent to the stub during the calls: suppressed; the
            // batch ends at its stop trap.
            let at = stub::RET_AT + 8 * stub::ret::STOP;
            data[at..at + 8].copy_from_slice(&1u64.to_le_bytes());
            if ptrace::cont(pid, 0).is_err() {
                clear(data);
                return RetEnd::Trap(self.mark_dead(mm.0));
            }
        }
    }

    /// After a batch run the usual way instead of a returning one: the
    /// guest's registers loaded and the stub resumed with PTRACE_SYSEMU, as
    /// `run_user` does (the stub is marked running).
    fn ret_fallback(
        &mut self,
        mm: MmId,
        gp: &GpRegs,
        done: Result<(), super::BatchError>,
    ) -> RetEnd {
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            self.waker.set_running(0);
            return RetEnd::Trap(Trap::StubDied);
        };
        if let Err(e) = done {
            super::log_line(
                LogLevel::Error,
                format_args!("mapping update of stub {} failed: {}", st.pid, e.msg),
            );
            self.waker.set_running(0);
            return RetEnd::Trap(self.mark_dead(mm.0));
        }
        let mut stats = self.stats;
        let data_off = self.mem_bytes + super::PAGE as usize;
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + super::PAGE as usize];
        let loaded = load_regs(st, gp, &mut stats, data);
        self.stats = stats;
        match loaded {
            Ok(()) => {}
            Err(LoadError::Dead) => {
                self.waker.set_running(0);
                return RetEnd::Trap(self.mark_dead(mm.0));
            }
            Err(LoadError::Refused(_)) => {
                self.waker.set_running(0);
                return RetEnd::Trap(Trap::Exception {
                    sig: super::SIGSEGV as u32,
                    code: super::SI_KERNEL,
                    addr: 0,
                });
            }
        }
        if resume(st).is_err() {
            self.waker.set_running(0);
            return RetEnd::Trap(self.mark_dead(mm.0));
        }
        RetEnd::Resumed
    }

    /// The trap for a timer or host event noticed while the guest was not
    /// running.
    fn timer_or_event(&mut self) -> Trap {
        if self.waker.take_fired() {
            return Trap::Timer;
        }
        let _ = self.waker.take_event();
        self.host_event()
    }
}
