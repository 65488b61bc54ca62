//! The aarch64 half of the seccomp platform's host side: the layout of the
//! arm64 signal frame (`struct ucontext` with its `sigcontext`: x0-x30, sp,
//! pc, pstate, and the `__reserved` area whose first record is the
//! fpsimd_context, followed by others such as esr_context), the registers
//! it holds, and what a report means.
//!
//! - TPIDR_EL0 is not in the frame: the handler stores it in the control
//!   page (`ctrl::FS_BASE`) and loads the reply's (`ctrl::REPLY_FS`) with
//!   `msr tpidr_el0` before its rt_sigreturn.
//! - At a SIGSYS of SECCOMP_RET_TRAP the frame's pc is the instruction after
//!   the `svc` (as at a PTRACE_SYSEMU stop), x0 the first argument (the
//!   kernel's syscall_rollback) and x8 the number. Before delivering the
//!   SIGSYS, the host's signal code treats x0 as the syscall's result: a
//!   first argument of -ERESTARTNOINTR (-513) moves pc back onto the `svc`
//!   (undone here: si_call_addr is the pc after it); one of -ERESTARTSYS,
//!   -ERESTARTNOHAND or -ERESTART_RESTARTBLOCK (-512, -514, -516) reads as
//!   -EINTR (-4) in x0, which cannot be undone: the guest's call sees -4 as
//!   its first argument (SECURITY.md, "The seccomp platform", arm64).
//! - FP state: the fpsimd_context record is the FP blob of the ptrace
//!   platform as is (magic, size, fpsr, fpcr, v0-v31). The guest is not
//!   promised SVE (AT_HWCAP); a guest that uses SVE anyway on an SVE host
//!   gets its SVE state back from the frame as the host saved it, and a
//!   write of its FP state by umbra is then overridden by that state.

use super::super::PtraceHost;
use super::{in_stack, rd, rd32, wr};
use crate::sys::trap;
use umbra_core::arch::{GpRegs, UserRegs};
use umbra_core::host::{FaultAccess, HostError, MmId, SyscallAbi, Trap};

// struct ucontext (arm64) offsets.
const UC_STACK: usize = 16;
const UC_SIGMASK: usize = 40;
/// uc_mcontext (struct sigcontext, 16-aligned): fault_address, regs[31],
/// sp, pc, pstate, then __reserved (16-aligned).
const UC_REGS: usize = 176 + 8;
const UC_SP: usize = UC_REGS + 31 * 8;
const UC_PC: usize = UC_SP + 8;
const UC_PSTATE: usize = UC_PC + 8;
const UC_RESERVED: usize = 176 + 288;
const RESERVED_LEN: usize = 4096;
const UC_LEN: usize = UC_RESERVED + RESERVED_LEN;
const FPSIMD_MAGIC: u32 = 0x4650_8001;
const FPSIMD_SIZE: usize = 528;
/// The FP state a trap frame holds (`trap_xstate_save`): the fpsimd_context.
pub(super) const FP_LEN: usize = FPSIMD_SIZE;
const ESR_MAGIC: u32 = 0x4553_5201;
/// pstate bits a sigreturn (and PTRACE_SETREGSET) refuses for a 64-bit
/// task: AArch32 mode, an exception level other than EL0t, D, A, I, F.
const PSTATE_BAD: u64 = 0x10 | 0xf | 0x3c0;
const ERESTARTNOINTR: u64 = -513i64 as u64;

/// Registers a sigreturn would not load (what PTRACE_SETREGSET refuses):
/// the guest gets a CPU fault's signal instead.
pub(super) fn refused(g: &GpRegs) -> bool {
    g.pstate & PSTATE_BAD != 0
}

/// The pc of a report's registers.
pub(super) fn pc(g: &GpRegs) -> u64 {
    g.pc
}

/// The thread pointer of a reply that only resumes the guest.
pub(super) fn reply_tls(page: &mut [u8], g: &GpRegs) {
    wr(page, trap::ctrl::REPLY_FS, g.tpidr);
}

impl PtraceHost {
    /// The fpsimd_context record of the detached stub's trap frame: its
    /// file offset.
    pub(super) fn frame_fp(&self, mm: MmId) -> Option<usize> {
        let (_, slot) = self.detached(mm)?;
        let range = self.slot_range(slot)?;
        let page = &self.mem.as_slice()[range.clone()];
        let uc = in_stack(rd(page, trap::ctrl::UC), UC_LEN)?;
        let at = uc + UC_RESERVED;
        if rd32(page, at) != FPSIMD_MAGIC || rd32(page, at + 4) as usize != FPSIMD_SIZE {
            return None;
        }
        Some(range.start + at)
    }

    /// `Some` on a detached stub: its FP state is in the trap frame.
    pub(in crate::host) fn trap_fp_get(
        &mut self,
        mm: MmId,
        buf: &mut [u8],
    ) -> Option<Result<usize, HostError>> {
        self.detached(mm)?;
        let Some(at) = self.frame_fp(mm) else {
            return Some(Err(HostError::Io));
        };
        if buf.len() < FPSIMD_SIZE {
            return Some(Err(HostError::OutOfRange));
        }
        buf[..FPSIMD_SIZE].copy_from_slice(&self.mem.as_slice()[at..at + FPSIMD_SIZE]);
        Some(Ok(FPSIMD_SIZE))
    }

    /// Loads an fpsimd_context record into the trap frame (its header is
    /// checked and kept).
    pub(in crate::host) fn trap_fp_set(
        &mut self,
        mm: MmId,
        buf: &[u8],
    ) -> Option<Result<(), HostError>> {
        self.detached(mm)?;
        let Some(at) = self.frame_fp(mm) else {
            return Some(Err(HostError::Io));
        };
        if buf.len() < FPSIMD_SIZE
            || rd32(buf, 0) != FPSIMD_MAGIC
            || rd32(buf, 4) as usize != FPSIMD_SIZE
        {
            return Some(Err(HostError::OutOfRange));
        }
        self.mem.as_mut_slice()[at + 8..at + FPSIMD_SIZE].copy_from_slice(&buf[8..FPSIMD_SIZE]);
        Some(Ok(()))
    }
}

/// Writes the guest's registers into the trap frame, with an empty host
/// signal mask and the slot's signal stack (whatever the guest made of
/// them), and its TPIDR_EL0 into the control page. false: the frame pointer
/// is not in the signal stack.
pub(super) fn write_reply(page: &mut [u8], g: &GpRegs) -> bool {
    let Some(uc) = in_stack(rd(page, trap::ctrl::UC), UC_LEN) else {
        return false;
    };
    for (i, v) in g.regs.iter().enumerate() {
        wr(page, uc + UC_REGS + 8 * i, *v);
    }
    wr(page, uc + UC_SP, g.sp);
    wr(page, uc + UC_PC, g.pc);
    wr(page, uc + UC_PSTATE, g.pstate);
    wr(page, uc + UC_SIGMASK, 0);
    let st = trap::altstack();
    wr(page, uc + UC_STACK, st[0]);
    wr(page, uc + UC_STACK + 8, st[1]);
    wr(page, uc + UC_STACK + 16, st[2]);
    wr(page, trap::ctrl::REPLY_FS, g.tpidr);
    true
}

/// A report, read from the slot.
pub(super) struct Report {
    pub(super) signo: i32,
    pub(super) code: i32,
    /// si_addr, or SIGSYS's si_call_addr.
    addr: u64,
    pub(super) pid: i32,
    /// The esr_context record's ESR, if the frame has one (faults).
    esr: Option<u64>,
    pub(super) gp: GpRegs,
}

/// The ESR of the frame's esr_context record, walking the records of
/// `__reserved` from the fpsimd_context on.
fn frame_esr(page: &[u8], uc: usize) -> Option<u64> {
    let mut at = 0;
    while at + 16 <= RESERVED_LEN {
        let magic = rd32(page, uc + UC_RESERVED + at);
        let size = rd32(page, uc + UC_RESERVED + at + 4) as usize;
        if magic == 0 || size < 8 || !size.is_multiple_of(16) {
            return None;
        }
        if magic == ESR_MAGIC && size == 16 {
            return Some(rd(page, uc + UC_RESERVED + at + 8));
        }
        at += size;
    }
    None
}

pub(super) fn read_report(page: &[u8]) -> Option<Report> {
    let info = in_stack(rd(page, trap::ctrl::INFO), 128)?;
    let uc = in_stack(rd(page, trap::ctrl::UC), UC_LEN)?;
    let mut regs = [0u64; 31];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = rd(page, uc + UC_REGS + 8 * i);
    }
    let gp = GpRegs {
        regs,
        sp: rd(page, uc + UC_SP),
        pc: rd(page, uc + UC_PC),
        pstate: rd(page, uc + UC_PSTATE),
        tpidr: rd(page, trap::ctrl::FS_BASE),
        syscallno: u64::MAX,
    };
    Some(Report {
        signo: rd32(page, info) as i32,
        code: rd32(page, info + 8) as i32,
        addr: rd(page, info + 16),
        pid: rd32(page, info + 16) as i32,
        esr: frame_esr(page, uc),
        gp,
    })
}

impl Report {
    pub(super) fn trap(&self, regs: &mut UserRegs) -> Trap {
        const SYS_SECCOMP: i32 = 1;
        match (self.signo, self.code) {
            (31, SYS_SECCOMP) => {
                // -ERESTARTNOINTR as the first argument: the host's signal
                // code moved pc back onto the svc (see the module doc).
                if regs.gp.regs[0] == ERESTARTNOINTR && regs.gp.pc.wrapping_add(4) == self.addr {
                    regs.gp.pc = self.addr;
                }
                // What a PTRACE_SYSEMU stop shows: the number, x0 the first
                // argument.
                regs.gp.syscallno = regs.gp.regs[8];
                Trap::Syscall {
                    abi: SyscallAbi::Native,
                }
            }
            (11, 1) | (11, 2) => {
                // ESR: EC 0x20 an instruction abort, 0x24 a data abort
                // (WnR, bit 6, a write unless CM, bit 8, a cache operation).
                let access = match self.esr {
                    Some(e) if (e >> 26) & 0x3f == 0x20 => FaultAccess::Exec,
                    Some(e) if (e >> 26) & 0x3f == 0x24 => {
                        if e & (1 << 6) != 0 && e & (1 << 8) == 0 {
                            FaultAccess::Write
                        } else {
                            FaultAccess::Read
                        }
                    }
                    _ => FaultAccess::Unknown,
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
