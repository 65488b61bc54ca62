//! The armv7 half of the seccomp platform's host side: the layout of the
//! 32-bit ARM signal frame (`struct ucontext`: flags, link, the 12-byte
//! `stack_t`, then `struct sigcontext`: trap_no, error_code, oldmask,
//! r0-r15, cpsr, fault_address; the 64-bit sigmask, padding to 128 bytes
//! of mask, and `uc_regspace` whose records hold the VFP state), the
//! registers it holds, and what a report means.
//!
//! - TPIDRURO (the guest's TLS) is not in the frame: the handler reads it
//!   (`mrc p15, 0, rN, c13, c0, 3`) into the control page
//!   (`ctrl::FS_BASE`) and, when the reply's (`ctrl::REPLY_FS`) differs,
//!   makes it the thread's with set_tls before its rt_sigreturn.
//! - At a SIGSYS of SECCOMP_RET_TRAP the frame's pc is the instruction
//!   after the `svc` (4 bytes in ARM state, 2 in Thumb), r0 the first
//!   argument (seccomp's rollback) and r7 the number (EABI; also ARM's
//!   private 0xf00xx calls), which is what the ptrace platform reports too.
//!   Before delivering the SIGSYS, the host's signal code treats r0 as the
//!   syscall's result: with the handler's SA_RESTART, a first argument of
//!   -ERESTARTSYS or -ERESTARTNOINTR (-512, -513) moves pc back onto the
//!   `svc` (undone here: si_call_addr is the pc after it); -ERESTARTNOHAND
//!   and -ERESTART_RESTARTBLOCK (-514, -516) read as -EINTR (-4) in r0,
//!   which cannot be undone (SECURITY.md, "The seccomp platform", armv7).
//! - FP state: the VFP record (`struct vfp_sigframe`: magic, size,
//!   `struct user_vfp` d0-d31 and fpscr, then fpexc, fpinst, fpinst2) of
//!   `uc_regspace`; its `user_vfp` is the ptrace platform's FP blob
//!   (PTRACE_GETVFPREGS, 260 bytes) as is.
//! - Faults: the frame's error_code is the fault status register as the
//!   host's fault handler saw it: bit 31 (Linux's FSR_LNX_PF) for an
//!   instruction fetch, else bit 11 (WnR) for a write unless bit 13 (CM,
//!   a cache maintenance operation).

use super::super::PtraceHost;
use super::{in_stack, rd, rd32, wr};
use crate::sys::trap;
use umbra_core::arch::{GpRegs, UserRegs};
use umbra_core::host::{FaultAccess, HostError, MmId, SyscallAbi, Trap};

// struct ucontext (arm) offsets.
const UC_STACK: usize = 8;
const UC_ERROR_CODE: usize = 24;
const UC_REGS: usize = 32;
const UC_CPSR: usize = UC_REGS + 16 * 4;
const UC_SIGMASK: usize = 104;
const UC_REGSPACE: usize = 232;
const REGSPACE_LEN: usize = 512;
const UC_LEN: usize = UC_REGSPACE + REGSPACE_LEN;
const VFP_MAGIC: u32 = 0x5646_5001;
/// sizeof(struct vfp_sigframe).
const VFP_SIZE: usize = 288;
/// `struct user_vfp` (the FP blob): d0-d31, fpscr.
const FP_BLOB: usize = 260;
/// The FP state a trap frame holds (`trap_xstate_save`): the user_vfp.
pub(super) const FP_LEN: usize = FP_BLOB;
const CPSR_T: u32 = 0x20;
const ERESTARTSYS: u32 = -512i32 as u32;
const ERESTARTNOINTR: u32 = -513i32 as u32;

fn wr32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Registers a sigreturn would not load (what PTRACE_SETREGS refuses,
/// `valid_user_regs`): a mode other than user, or IRQs masked. The guest
/// gets a CPU fault's signal instead.
pub(super) fn refused(g: &GpRegs) -> bool {
    g.cpsr & 0x1f != 0x10 || g.cpsr & 0x80 != 0
}

/// The pc of a report's registers.
pub(super) fn pc(g: &GpRegs) -> u64 {
    g.regs[15] as u64
}

/// The thread pointer of a reply that only resumes the guest.
pub(super) fn reply_tls(page: &mut [u8], g: &GpRegs) {
    wr(page, trap::ctrl::REPLY_FS, g.tls as u64);
}

/// The VFP record of `uc_regspace`, walking its records (an iWMMXt one may
/// come first): its slot offset.
fn frame_vfp(page: &[u8], uc: usize) -> Option<usize> {
    let mut at = 0;
    while at + 8 <= REGSPACE_LEN {
        let magic = rd32(page, uc + UC_REGSPACE + at);
        let size = rd32(page, uc + UC_REGSPACE + at + 4) as usize;
        if magic == VFP_MAGIC && size == VFP_SIZE && at + VFP_SIZE <= REGSPACE_LEN {
            return Some(uc + UC_REGSPACE + at);
        }
        if magic == 0 || size < 8 || !size.is_multiple_of(8) {
            return None;
        }
        at += size;
    }
    None
}

impl PtraceHost {
    /// The `struct user_vfp` of the detached stub's trap frame: its file
    /// offset.
    pub(super) fn frame_fp(&self, mm: MmId) -> Option<usize> {
        let (_, slot) = self.detached(mm)?;
        let range = self.slot_range(slot)?;
        let page = &self.mem.as_slice()[range.clone()];
        let uc = in_stack(rd(page, trap::ctrl::UC), UC_LEN)?;
        Some(range.start + frame_vfp(page, uc)? + 8)
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
        if buf.len() < FP_BLOB {
            return Some(Err(HostError::OutOfRange));
        }
        buf[..FP_BLOB].copy_from_slice(&self.mem.as_slice()[at..at + FP_BLOB]);
        Some(Ok(FP_BLOB))
    }

    /// Loads a `struct user_vfp` into the trap frame.
    pub(in crate::host) fn trap_fp_set(
        &mut self,
        mm: MmId,
        buf: &[u8],
    ) -> Option<Result<(), HostError>> {
        self.detached(mm)?;
        let Some(at) = self.frame_fp(mm) else {
            return Some(Err(HostError::Io));
        };
        if buf.len() < FP_BLOB {
            return Some(Err(HostError::OutOfRange));
        }
        self.mem.as_mut_slice()[at..at + FP_BLOB].copy_from_slice(&buf[..FP_BLOB]);
        Some(Ok(()))
    }
}

/// Writes the guest's registers into the trap frame, with an empty host
/// signal mask and the slot's signal stack (whatever the guest made of
/// them), and its TPIDRURO into the control page. false: the frame pointer
/// is not in the signal stack.
pub(super) fn write_reply(page: &mut [u8], g: &GpRegs) -> bool {
    let Some(uc) = in_stack(rd(page, trap::ctrl::UC), UC_LEN) else {
        return false;
    };
    for (i, v) in g.regs.iter().enumerate() {
        wr32(page, uc + UC_REGS + 4 * i, *v);
    }
    wr32(page, uc + UC_CPSR, g.cpsr);
    wr(page, uc + UC_SIGMASK, 0);
    wr32(page, uc + UC_STACK, trap::STACK_VA as u32);
    wr32(page, uc + UC_STACK + 4, 0);
    wr32(page, uc + UC_STACK + 8, trap::STACK_LEN as u32);
    wr(page, trap::ctrl::REPLY_FS, g.tls as u64);
    true
}

/// A report, read from the slot.
pub(super) struct Report {
    pub(super) signo: i32,
    pub(super) code: i32,
    /// si_addr, or SIGSYS's si_call_addr.
    addr: u64,
    pub(super) pid: i32,
    /// The frame's error_code (the fault status of a fault).
    fsr: u32,
    pub(super) gp: GpRegs,
}

pub(super) fn read_report(page: &[u8]) -> Option<Report> {
    // siginfo (32-bit): signo, errno, code, then the union at 12.
    let info = in_stack(rd(page, trap::ctrl::INFO), 128)?;
    let uc = in_stack(rd(page, trap::ctrl::UC), UC_LEN)?;
    let mut regs = [0u32; 16];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = rd32(page, uc + UC_REGS + 4 * i);
    }
    let gp = GpRegs {
        regs,
        cpsr: rd32(page, uc + UC_CPSR),
        orig_r0: regs[0],
        tls: rd(page, trap::ctrl::FS_BASE) as u32,
        syscallno: u32::MAX,
    };
    Some(Report {
        signo: rd32(page, info) as i32,
        code: rd32(page, info + 8) as i32,
        addr: rd32(page, info + 12) as u64,
        pid: rd32(page, info + 12) as i32,
        fsr: rd32(page, uc + UC_ERROR_CODE),
        gp,
    })
}

impl Report {
    pub(super) fn trap(&self, regs: &mut UserRegs) -> Trap {
        const SYS_SECCOMP: i32 = 1;
        match (self.signo, self.code) {
            (31, SYS_SECCOMP) => {
                // -ERESTARTSYS or -ERESTARTNOINTR as the first argument:
                // the host's signal code moved pc back onto the svc (see
                // the module doc).
                let g = &mut regs.gp;
                let len = if g.cpsr & CPSR_T != 0 { 2 } else { 4 };
                if (g.regs[0] == ERESTARTSYS || g.regs[0] == ERESTARTNOINTR)
                    && g.regs[15].wrapping_add(len) as u64 == self.addr
                {
                    g.regs[15] = self.addr as u32;
                }
                // What the ptrace platform's stop shows: the number (r7),
                // r0 the first argument.
                g.syscallno = g.regs[7];
                Trap::Syscall {
                    abi: SyscallAbi::Native,
                }
            }
            (11, 1) | (11, 2) => {
                let access = if self.fsr & (1 << 31) != 0 {
                    FaultAccess::Exec
                } else if self.fsr & (1 << 11) != 0 && self.fsr & (1 << 13) == 0 {
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
