//! The x86_64 half of the seccomp platform's host side: the layout of
//! the x86_64 signal frame (struct ucontext, the FXSAVE/XSAVE area), the
//! registers it holds, and what a report means.

use super::super::{PtraceHost, PAGE};
use super::{in_stack, rd, rd32, wr};
use crate::sys::trap;
use umbra_core::arch::{GpRegs, UserRegs};
use umbra_core::host::{FaultAccess, HostError, MmId, SyscallAbi, Trap};

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

fn canonical(v: u64) -> bool {
    !(0x0000_8000_0000_0000..0xffff_8000_0000_0000).contains(&v)
}

/// Registers a sigreturn would not load (what PTRACE_SETREGS refuses): the
/// guest gets a CPU fault's signal instead.
pub(super) fn refused(g: &GpRegs) -> bool {
    !canonical(g.fs_base) || !canonical(g.gs_base) || !canonical(g.rip)
}

/// The pc of a report's registers.
pub(super) fn pc(g: &GpRegs) -> u64 {
    g.rip
}

/// The thread pointers of a reply that only resumes the guest.
pub(super) fn reply_tls(page: &mut [u8], g: &GpRegs) {
    wr(page, trap::ctrl::REPLY_FS, g.fs_base);
    wr(page, trap::ctrl::REPLY_GS, g.gs_base);
}

impl PtraceHost {
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
    pub(in crate::host) fn trap_fp_get(
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
    pub(in crate::host) fn trap_fp_set(
        &mut self,
        mm: MmId,
        buf: &[u8],
    ) -> Option<Result<(), HostError>> {
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
    pub(in crate::host) fn trap_xstate_save(
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
    pub(in crate::host) fn trap_xstate_load(
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

/// Writes the guest's registers into the trap frame, with an empty host
/// signal mask and the slot's signal stack (whatever the guest made of
/// them). false: the frame pointer is not in the signal stack.
pub(super) fn write_reply(page: &mut [u8], g: &GpRegs) -> bool {
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
pub(super) struct Report {
    pub(super) signo: i32,
    pub(super) code: i32,
    /// si_addr, or SIGSYS's si_call_addr.
    addr: u64,
    pub(super) pid: i32,
    syscall_arch: u32,
    err: u64,
    pub(super) gp: GpRegs,
}

pub(super) fn read_report(page: &[u8]) -> Option<Report> {
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
    pub(super) fn trap(&self, regs: &mut UserRegs) -> Trap {
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
