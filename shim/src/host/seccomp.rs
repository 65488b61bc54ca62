//! The seccomp platform (`--platform seccomp`, issue 13), x86_64: guest
//! syscalls, faults and kicks reach umbra through the stub's trap handler and
//! a futex on its control page (see `sys::trap`), with no ptrace stop. A stub
//! is traced only while it is set up: forked from the template, its slot
//! mapped and PR_SET_PDEATHSIG set (one ptrace batch), its first registers
//! loaded; then umbra detaches it.
//!
//! Everything read from a slot is guest-writable and treated as untrusted:
//! pointers are checked to lie inside the slot's signal stack, and the
//! registers are the guest's own anyway.

use super::{compile_ops, log_line, ptrace, run_batch, PtraceHost, Stub, PAGE};
use crate::sys::{self, stub, trap};
use ptrace::WaitStatus;
use sys::raw::nr;
use sys::signals::{KICK_SIG, SI_TKILL};
use umbra_core::arch::{GpRegs, UserRegs};
use umbra_core::host::{FaultAccess, HostError, LogLevel, MmId, SyscallAbi, Trap};

/// The slot allocator.
pub(super) struct TrapHost {
    /// File offset of slot 0.
    slots_off: usize,
    free: Vec<u32>,
    next: u32,
}

/// A stub's state on this platform.
#[derive(Clone, Copy, Debug)]
pub(super) struct TrapStub {
    slot: u32,
    /// Set up and let go: its traps come through the handler.
    detached: bool,
}

/// Bytes of the memory file the slots take.
pub(super) const SLOTS_BYTES: usize = trap::MAX_SLOTS * trap::SLOT_BYTES as usize;

/// How long umbra waits on a control word before it looks whether the stub
/// is still alive.
const TICK_NS: u64 = 50_000_000;
/// A kick unanswered this long: the guest blocked it (a forged sigreturn
/// frame): the stub is killed.
const KICK_GRACE_NS: u64 = 5_000_000_000;

// struct ucontext (x86_64) offsets.
const UC_STACK: usize = 16;
const UC_GREGS: usize = 40;
const UC_FPSTATE: usize = 224;
const UC_SIGMASK: usize = 296;
const UC_LEN: usize = 304;
// gregs indices.
const R8: usize = 0;
const RDI: usize = 8;
const RSI: usize = 9;
const RBP: usize = 10;
const RBX: usize = 11;
const RDX: usize = 12;
const RAX: usize = 13;
const RCX: usize = 14;
const RSP: usize = 15;
const RIP: usize = 16;
const EFL: usize = 17;
const CSGSFS: usize = 18;
const ERR: usize = 19;
const USER_CS: u64 = 0x33;
const USER_SS: u64 = 0x2b;
const FX_SIZE: usize = 512;
const FX_USED: usize = 416;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const ENOSYS_RET: u64 = -38i64 as u64;
const VSYSCALL_PAGE: u64 = 0xffff_ffff_ff60_0000;

fn rd(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(w)
}

fn rd32(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(w)
}

fn wr(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The slot offset of `len` bytes at stub address `va`, if they lie inside
/// the slot's signal stack.
fn in_stack(va: u64, len: usize) -> Option<usize> {
    let end = va.checked_add(len as u64)?;
    if va < trap::STACK_VA || end > trap::SLOT_VA + trap::SLOT_BYTES {
        return None;
    }
    Some((va - trap::SLOT_VA) as usize)
}

fn canonical(v: u64) -> bool {
    !(0x0000_8000_0000_0000..0xffff_8000_0000_0000).contains(&v)
}

impl TrapHost {
    fn alloc(&mut self) -> Option<u32> {
        if let Some(s) = self.free.pop() {
            return Some(s);
        }
        if (self.next as usize) < trap::MAX_SLOTS {
            self.next += 1;
            return Some(self.next - 1);
        }
        None
    }
}

impl PtraceHost {
    /// Turns the platform on (from `new_seccomp`, before `confine`): the
    /// cookie and the filter, and the template stub, made now so that stubs
    /// never inherit umbra's own filter (which would kill their trapped
    /// syscalls).
    pub(super) fn trap_init(&mut self, slots_off: usize) -> Result<(), String> {
        if !trap::have_fsgsbase() {
            return Err(
                "--platform seccomp needs FSGSBASE (Linux 5.9+ on a CPU that has it); use --platform ptrace"
                    .into(),
            );
        }
        if sys::seccomp::umbra_confined() {
            return Err("--platform seccomp must be chosen before umbra is confined".into());
        }
        let mut r = [0u8; 8];
        umbra_core::host::HostMisc::random(self, &mut r);
        let w = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
        trap::enable([w(0), w(4)])?;
        self.trap = Some(TrapHost {
            slots_off,
            free: Vec::new(),
            next: 0,
        });
        let t = self.spawn_stub()?;
        self.template = Some(t);
        Ok(())
    }

    fn slot_range(&self, slot: u32) -> Option<core::ops::Range<usize>> {
        let t = self.trap.as_ref()?;
        let at = t.slots_off + slot as usize * trap::SLOT_BYTES as usize;
        Some(at..at + trap::SLOT_BYTES as usize)
    }

    /// Gives a new stub (forked from the template, in its first stop) its
    /// slot; the first run maps it (and sets PR_SET_PDEATHSIG) in the batch
    /// of its first mapping ops, one ptrace round trip for both.
    pub(super) fn trap_adopt(&mut self, st: &mut Stub) -> Result<(), String> {
        let Some(t) = self.trap.as_mut() else {
            return Ok(());
        };
        let slot = t.alloc().ok_or("no free stub slot (too many processes)")?;
        if let Some(r) = self.slot_range(slot) {
            self.mem.as_mut_slice()[r].fill(0);
        }
        st.trap = Some(TrapStub {
            slot,
            detached: false,
        });
        Ok(())
    }

    /// The set-up ops of a stub's slot.
    fn slot_ops(&self, slot: u32) -> Option<[[u64; 7]; 2]> {
        let off = self.slot_range(slot)?.start;
        Some([
            [
                nr::MMAP as u64,
                trap::SLOT_VA,
                trap::SLOT_BYTES,
                3, // PROT_READ | PROT_WRITE
                0x11,
                stub::STUB_MEMFD as u64,
                off as u64,
            ],
            [nr::PRCTL as u64, 1, 9, 0, 0, 0, 0],
        ])
    }

    /// Frees the slot of a stub that is gone.
    pub(super) fn trap_release(&mut self, st: &Stub) {
        if let (Some(ts), Some(t)) = (st.trap, self.trap.as_mut()) {
            t.free.push(ts.slot);
        }
    }

    /// The detached stub of `mm` and its slot, if `mm` has one.
    fn detached(&self, mm: MmId) -> Option<(i32, u32)> {
        let st = self.stubs.get(&mm.0).filter(|s| !s.dead)?;
        let ts = st.trap.filter(|t| t.detached)?;
        Some((st.pid, ts.slot))
    }

    /// `run_user` on this platform.
    pub(super) fn trap_run_user(&mut self, mm: MmId, regs: &mut UserRegs) -> Trap {
        self.stats.runs += 1;
        if self.waker.take_fired() {
            return Trap::Timer;
        }
        if self.waker.take_event() {
            return Trap::HostEvent;
        }
        let Some(st) = self.stubs.get(&mm.0) else {
            return Trap::StubDied;
        };
        if st.dead {
            return Trap::StubDied;
        }
        let Some(ts) = st.trap else {
            log_line(LogLevel::Error, format_args!("stub {} has no slot", st.pid));
            return self.mark_dead(mm.0);
        };
        let pid = st.pid;
        let g = &regs.gp;
        if !canonical(g.fs_base) || !canonical(g.gs_base) || !canonical(g.rip) {
            // What PTRACE_SETREGS refuses: the guest gets a CPU fault's signal.
            return Trap::Exception {
                sig: 11,
                code: 0x80,
                addr: 0,
            };
        }
        if !ts.detached {
            return self.trap_first_run(mm, regs);
        }
        let Some(range) = self.slot_range(ts.slot) else {
            return self.mark_dead(mm.0);
        };
        // Mapping ops beyond one reply go first, in rounds of their own.
        let mut ops = match self.stubs.get_mut(&mm.0) {
            Some(st) => compile_ops(st),
            None => return Trap::StubDied,
        };
        while ops.len() > trap::MAX_OPS {
            let rest = ops.split_off(trap::MAX_OPS);
            if self.trap_ops_round(mm, pid, range.clone(), &ops).is_err() {
                return self.mark_dead(mm.0);
            }
            ops = rest;
        }
        if !self.waker.start_running(pid) {
            // Keep the ops for the next run.
            if !ops.is_empty() && self.trap_ops_round(mm, pid, range.clone(), &ops).is_err() {
                return self.mark_dead(mm.0);
            }
            if self.waker.take_fired() {
                return Trap::Timer;
            }
            let _ = self.waker.take_event();
            return Trap::HostEvent;
        }
        let page = &mut self.mem.as_mut_slice()[range.clone()];
        if !write_reply(page, &regs.gp) {
            self.waker.set_running(0);
            log_line(
                LogLevel::Warn,
                format_args!("stub {pid}: its trap frame is gone (the guest moved it)"),
            );
            return self.mark_dead(mm.0);
        }
        put_ops(page, &ops, 0);
        if !ops.is_empty() {
            self.stats.batches += 1;
            self.stats.batch_ops += ops.len() as u64;
        }
        trap::set_state_wake(page, trap::REPLY);
        self.trap_wait_report(mm, pid, range, regs)
    }

    /// The first run of a stub: its pending ops and registers through
    /// ptrace, then it is let go.
    fn trap_first_run(&mut self, mm: MmId, regs: &mut UserRegs) -> Trap {
        let Some(slot) = self.stubs.get(&mm.0).and_then(|s| s.trap).map(|t| t.slot) else {
            return self.mark_dead(mm.0);
        };
        let Some(mut ops) = self.slot_ops(slot).map(|o| o.to_vec()) else {
            return self.mark_dead(mm.0);
        };
        let data_off = self.mem_bytes + PAGE as usize;
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Trap::StubDied;
        };
        let pid = st.pid;
        ops.extend(compile_ops(st));
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + PAGE as usize];
        if let Err(e) = run_batch(data, st, &ops, &mut self.stats) {
            log_line(
                LogLevel::Error,
                format_args!("setting up stub {pid}: {}", e.msg),
            );
            return self.mark_dead(mm.0);
        }
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Trap::StubDied;
        };
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + PAGE as usize];
        match super::arch::load_regs(st, &regs.gp, &mut self.stats, data) {
            Ok(()) => {}
            Err(super::LoadError::Dead) => return self.mark_dead(mm.0),
            Err(super::LoadError::Refused(e)) => {
                log_line(
                    LogLevel::Warn,
                    format_args!("PTRACE_SETREGS refused guest registers: {e}"),
                );
                return Trap::Exception {
                    sig: 11,
                    code: 0x80,
                    addr: 0,
                };
            }
        }
        st.cur = None;
        let Some(range) = st.trap.and_then(|t| self.slot_range(t.slot)) else {
            return self.mark_dead(mm.0);
        };
        trap::set_state_wake(&mut self.mem.as_mut_slice()[range.clone()], trap::IDLE);
        if !self.waker.start_running(pid) {
            if self.waker.take_fired() {
                return Trap::Timer;
            }
            let _ = self.waker.take_event();
            return Trap::HostEvent;
        }
        // PTRACE_DETACH from the stop, its signal suppressed.
        if ptrace::ptrace_noptr(17, pid, 0, 0).is_err() {
            self.waker.set_running(0);
            return self.mark_dead(mm.0);
        }
        if let Some(ts) = self.stubs.get_mut(&mm.0).and_then(|s| s.trap.as_mut()) {
            ts.detached = true;
        }
        self.trap_wait_report(mm, pid, range, regs)
    }

    /// Runs `ops` in the (detached) stub in a round of their own.
    fn trap_ops_round(
        &mut self,
        mm: MmId,
        pid: i32,
        range: core::ops::Range<usize>,
        ops: &[[u64; 7]],
    ) -> Result<(), HostError> {
        let page = &mut self.mem.as_mut_slice()[range.clone()];
        put_ops(page, ops, 1);
        self.stats.batches += 1;
        self.stats.batch_ops += ops.len() as u64;
        trap::set_state_wake(page, trap::REPLY);
        match self.wait_state(pid, range.clone(), false) {
            Ok(()) => {}
            Err(()) => return Err(HostError::StubDied),
        }
        let page = &self.mem.as_slice()[range];
        if rd(page, trap::ctrl::RKIND) != 1 {
            log_line(
                LogLevel::Error,
                format_args!(
                    "mapping update of stub {pid} failed: op {} gave {}",
                    rd(page, trap::ctrl::DONE),
                    rd(page, trap::ctrl::LAST) as i64
                ),
            );
            let _ = mm;
            return Err(HostError::Io);
        }
        Ok(())
    }

    /// Waits for the stub to report (state REPORT). `running`: the guest
    /// runs, kicks may be outstanding. Err: the stub is gone (or was killed
    /// for ignoring a kick).
    fn wait_state(
        &mut self,
        pid: i32,
        range: core::ops::Range<usize>,
        running: bool,
    ) -> Result<(), ()> {
        let mut kick_seen: Option<u64> = None;
        loop {
            let s = trap::state(&self.mem.as_slice()[range.clone()]);
            if s == trap::REPORT {
                return Ok(());
            }
            trap::wait_state(&self.mem.as_slice()[range.clone()], s, TICK_NS);
            if trap::state(&self.mem.as_slice()[range.clone()]) == trap::REPORT {
                return Ok(());
            }
            match ptrace::wait_nohang(pid) {
                Ok(Some(WaitStatus::Exited(_))) | Ok(Some(WaitStatus::Signaled(_))) | Err(_) => {
                    return Err(())
                }
                _ => {}
            }
            if running && self.waker.pending() {
                let now = sys::clock_ns(sys::CLOCK_MONOTONIC);
                let since = *kick_seen.get_or_insert(now);
                if now.saturating_sub(since) > KICK_GRACE_NS {
                    log_line(
                        LogLevel::Warn,
                        format_args!("stub {pid} did not answer preemption; killed"),
                    );
                    return Err(());
                }
            }
        }
    }

    /// Waits for the report of a running guest and turns it into a trap.
    fn trap_wait_report(
        &mut self,
        mm: MmId,
        pid: i32,
        range: core::ops::Range<usize>,
        regs: &mut UserRegs,
    ) -> Trap {
        loop {
            let r = self.wait_state(pid, range.clone(), true);
            self.waker.set_running(0);
            if r.is_err() {
                return self.mark_dead(mm.0);
            }
            let page = &self.mem.as_slice()[range.clone()];
            if rd(page, trap::ctrl::RKIND) != 0 {
                log_line(
                    LogLevel::Error,
                    format_args!(
                        "mapping update of stub {pid} failed: op {} gave {}",
                        rd(page, trap::ctrl::DONE),
                        rd(page, trap::ctrl::LAST) as i64
                    ),
                );
                return self.mark_dead(mm.0);
            }
            let Some(rep) = read_report(page) else {
                log_line(
                    LogLevel::Warn,
                    format_args!("stub {pid}: a report outside its signal stack"),
                );
                return self.mark_dead(mm.0);
            };
            let kick = rep.signo == KICK_SIG && rep.code == SI_TKILL && rep.pid == self.my_pid;
            if kick || rep.code <= 0 {
                // Sent by a process (our kick, or from outside): suppressed.
                if self.waker.take_fired() {
                    regs.gp = rep.gp;
                    return Trap::Timer;
                }
                if self.waker.take_event() {
                    regs.gp = rep.gp;
                    return Trap::HostEvent;
                }
                // A kick that came after the trap it was meant to cause:
                // resume where the guest is.
                if !self.waker.start_running(pid) {
                    regs.gp = rep.gp;
                    let _ = self.waker.take_fired();
                    let _ = self.waker.take_event();
                    return Trap::Timer;
                }
                let page = &mut self.mem.as_mut_slice()[range.clone()];
                put_ops(page, &[], 0);
                wr(page, trap::ctrl::REPLY_FS, rep.gp.fs_base);
                wr(page, trap::ctrl::REPLY_GS, rep.gp.gs_base);
                trap::set_state_wake(page, trap::REPLY);
                continue;
            }
            regs.gp = rep.gp;
            return rep.trap(regs);
        }
    }

    /// `mm_flush` of a detached stub: a round of its own.
    pub(super) fn trap_flush(&mut self, mm: MmId) -> Option<Result<(), HostError>> {
        let (pid, slot) = self.detached(mm)?;
        let range = self.slot_range(slot)?;
        let mut ops = compile_ops(self.stubs.get_mut(&mm.0)?);
        while !ops.is_empty() {
            let rest = ops.split_off(ops.len().min(trap::MAX_OPS));
            if let Err(e) = self.trap_ops_round(mm, pid, range.clone(), &ops) {
                self.mark_dead(mm.0);
                return Some(Err(e));
            }
            ops = rest;
        }
        Some(Ok(()))
    }

    /// The FXSAVE/XSAVE area of the detached stub's trap frame: (file offset,
    /// size).
    fn frame_fp(&self, mm: MmId) -> Option<(usize, usize)> {
        let (_, slot) = self.detached(mm)?;
        let range = self.slot_range(slot)?;
        let page = &self.mem.as_slice()[range.clone()];
        let uc = in_stack(rd(page, trap::ctrl::UC), UC_LEN)?;
        let fpva = rd(page, uc + UC_FPSTATE);
        let fx = in_stack(fpva, FX_SIZE)?;
        let mut size = FX_SIZE;
        if rd32(page, fx + 464) == FP_XSTATE_MAGIC1 {
            let xs = rd32(page, fx + 464 + 16) as usize;
            if xs >= FX_SIZE + 64 && in_stack(fpva, xs).is_some() {
                size = xs;
            }
        }
        Some((range.start + fx, size))
    }

    /// `Some` on a detached stub: its FP state is in the trap frame.
    pub(super) fn trap_fp_get(
        &mut self,
        mm: MmId,
        buf: &mut [u8],
    ) -> Option<Result<usize, HostError>> {
        self.detached(mm)?;
        let Some((at, _)) = self.frame_fp(mm) else {
            return Some(Err(HostError::Io));
        };
        if buf.len() < FX_SIZE {
            return Some(Err(HostError::OutOfRange));
        }
        let m = self.mem.as_slice();
        buf[..FX_USED].copy_from_slice(&m[at..at + FX_USED]);
        buf[FX_USED..FX_SIZE].fill(0);
        Some(Ok(FX_SIZE))
    }

    /// Loads an FXSAVE image into the trap frame (x87 and SSE marked in use).
    pub(super) fn trap_fp_set(&mut self, mm: MmId, buf: &[u8]) -> Option<Result<(), HostError>> {
        self.detached(mm)?;
        let Some((at, size)) = self.frame_fp(mm) else {
            return Some(Err(HostError::Io));
        };
        if buf.len() < FX_SIZE {
            return Some(Err(HostError::OutOfRange));
        }
        // MXCSR with bits outside MXCSR_MASK: sigreturn would fail (and
        // PTRACE_SETFPREGS refuses it).
        let mxcsr = rd32(buf, 24);
        let mask = match rd32(buf, 28) {
            0 => 0xffbf,
            m => m,
        };
        if mxcsr & !mask != 0 {
            return Some(Err(HostError::Io));
        }
        let m = self.mem.as_mut_slice();
        m[at..at + FX_USED].copy_from_slice(&buf[..FX_USED]);
        if size > FX_SIZE {
            let bv = rd(m, at + FX_SIZE) | 3;
            wr(m, at + FX_SIZE, bv);
        }
        Some(Ok(()))
    }

    /// The whole XSAVE area of the trap frame.
    pub(super) fn trap_xstate_save(
        &mut self,
        mm: MmId,
        buf: &mut Vec<u8>,
    ) -> Option<Result<(), HostError>> {
        self.detached(mm)?;
        let Some((at, size)) = self.frame_fp(mm) else {
            return Some(Err(HostError::Io));
        };
        buf.clear();
        buf.extend_from_slice(&self.mem.as_slice()[at..at + size]);
        Some(Ok(()))
    }

    /// Loads a state `trap_xstate_save` saved into the trap frame (the
    /// frame's own software-reserved words are kept).
    pub(super) fn trap_xstate_load(
        &mut self,
        mm: MmId,
        buf: &[u8],
    ) -> Option<Result<(), HostError>> {
        self.detached(mm)?;
        let Some((at, size)) = self.frame_fp(mm) else {
            return Some(Err(HostError::Io));
        };
        if buf.len() != size || size <= FX_SIZE {
            return self.trap_fp_set(mm, buf);
        }
        let m = self.mem.as_mut_slice();
        m[at..at + 464].copy_from_slice(&buf[..464]);
        m[at + FX_SIZE..at + size].copy_from_slice(&buf[FX_SIZE..size]);
        Some(Ok(()))
    }
}

/// Writes `ops` (at most `MAX_OPS`) and the reply kind into a control page,
/// with the cookie when there are ops.
fn put_ops(page: &mut [u8], ops: &[[u64; 7]], kind: u64) {
    use trap::ctrl;
    for (i, op) in ops.iter().enumerate() {
        let at = ctrl::OPS + i * stub::BATCH_RECORD;
        for (j, w) in op.iter().enumerate() {
            wr(page, at + 8 * j, *w);
        }
    }
    wr(page, ctrl::NOPS, ops.len() as u64);
    wr(page, ctrl::KIND, kind);
    let (k1, k2) = if ops.is_empty() {
        (0, 0)
    } else {
        trap::cookie()
    };
    wr(page, ctrl::K1, k1);
    wr(page, ctrl::K2, k2);
}

/// Writes the guest's registers into the trap frame, with an empty host
/// signal mask and the slot's signal stack (whatever the guest made of
/// them). false: the frame pointer is not in the signal stack.
fn write_reply(page: &mut [u8], g: &GpRegs) -> bool {
    let Some(uc) = in_stack(rd(page, trap::ctrl::UC), UC_LEN) else {
        return false;
    };
    let gr = |i: usize| uc + UC_GREGS + 8 * i;
    let vals = [
        g.r8, g.r9, g.r10, g.r11, g.r12, g.r13, g.r14, g.r15, g.rdi, g.rsi, g.rbp, g.rbx, g.rdx,
        g.rax, g.rcx, g.rsp, g.rip, g.eflags,
    ];
    for (i, v) in vals.into_iter().enumerate() {
        wr(page, gr(R8 + i), v);
    }
    let cs = if g.cs == 0 { USER_CS } else { g.cs & 0xffff };
    let ss = if g.ss == 0 { USER_SS } else { g.ss & 0xffff };
    wr(page, gr(CSGSFS), cs | (ss << 48));
    wr(page, uc + UC_SIGMASK, 0);
    let st = trap::altstack();
    wr(page, uc + UC_STACK, st[0]);
    wr(page, uc + UC_STACK + 8, st[1]);
    wr(page, uc + UC_STACK + 16, st[2]);
    wr(page, trap::ctrl::REPLY_FS, g.fs_base);
    wr(page, trap::ctrl::REPLY_GS, g.gs_base);
    true
}

/// A report, read from the slot.
struct Report {
    signo: i32,
    code: i32,
    /// si_addr, or SIGSYS's si_call_addr.
    addr: u64,
    pid: i32,
    syscall_arch: u32,
    err: u64,
    gp: GpRegs,
}

fn read_report(page: &[u8]) -> Option<Report> {
    let info = in_stack(rd(page, trap::ctrl::INFO), 128)?;
    let uc = in_stack(rd(page, trap::ctrl::UC), UC_LEN)?;
    let gr = |i: usize| rd(page, uc + UC_GREGS + 8 * i);
    let csgsfs = gr(CSGSFS);
    let gp = GpRegs {
        r8: gr(R8),
        r9: gr(R8 + 1),
        r10: gr(R8 + 2),
        r11: gr(R8 + 3),
        r12: gr(R8 + 4),
        r13: gr(R8 + 5),
        r14: gr(R8 + 6),
        r15: gr(R8 + 7),
        rdi: gr(RDI),
        rsi: gr(RSI),
        rbp: gr(RBP),
        rbx: gr(RBX),
        rdx: gr(RDX),
        rax: gr(RAX),
        rcx: gr(RCX),
        orig_rax: u64::MAX,
        rip: gr(RIP),
        cs: csgsfs & 0xffff,
        eflags: gr(EFL),
        rsp: gr(RSP),
        ss: (csgsfs >> 48) & 0xffff,
        fs_base: rd(page, trap::ctrl::FS_BASE),
        gs_base: rd(page, trap::ctrl::GS_BASE),
        ds: 0,
        es: 0,
        fs: 0,
        gs: 0,
    };
    Some(Report {
        signo: rd32(page, info) as i32,
        code: rd32(page, info + 8) as i32,
        addr: rd(page, info + 16),
        pid: rd32(page, info + 16) as i32,
        syscall_arch: rd32(page, info + 28),
        err: gr(ERR),
        gp,
    })
}

impl Report {
    fn trap(&self, regs: &mut UserRegs) -> Trap {
        const SYS_SECCOMP: i32 = 1;
        match (self.signo, self.code) {
            (31, SYS_SECCOMP) => {
                if self.addr.wrapping_sub(VSYSCALL_PAGE) < PAGE {
                    // As on the ptrace platform (host/mod.rs): the host's
                    // vsyscall emulation emulated the `ret`; undo it.
                    regs.gp.rip = self.addr;
                    regs.gp.rsp = regs.gp.rsp.wrapping_sub(8);
                    return Trap::PageFault {
                        addr: self.addr,
                        access: FaultAccess::Exec,
                    };
                }
                // SECCOMP_RET_TRAP rolled rax back to the number: show what
                // a PTRACE_SYSEMU stop shows.
                regs.gp.orig_rax = regs.gp.rax;
                regs.gp.rax = ENOSYS_RET;
                let abi = if self.syscall_arch == AUDIT_ARCH_I386 {
                    SyscallAbi::Compat32
                } else if regs.gp.orig_rax & 0x4000_0000 != 0 {
                    SyscallAbi::X32
                } else {
                    SyscallAbi::Native
                };
                Trap::Syscall { abi }
            }
            (11, 1) | (11, 2) => {
                // The page-fault error code: bit 4 an instruction fetch,
                // bit 1 a write.
                let access = if self.err & 0x10 != 0 {
                    FaultAccess::Exec
                } else if self.err & 2 != 0 {
                    FaultAccess::Write
                } else {
                    FaultAccess::Read
                };
                Trap::PageFault {
                    addr: self.addr,
                    access,
                }
            }
            (sig, code) => Trap::Exception {
                sig: sig as u32,
                code,
                addr: self.addr,
            },
        }
    }
}

impl PtraceHost {
    /// The ptrace-free counters of this platform are the shared ones; this
    /// names the platform for messages and tests.
    pub fn platform(&self) -> &'static str {
        if self.trap.is_some() {
            "seccomp"
        } else {
            "ptrace"
        }
    }
}
