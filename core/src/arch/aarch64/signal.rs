//! The arm64 rt_sigframe, as arch/arm64/kernel/signal.c builds it:
//!
//! ```text
//!   sp ->  siginfo_t                          128
//!          struct ucontext                    uc_flags, uc_link, uc_stack,
//!                                             uc_sigmask (+ padding to 1024
//!                                             bits), then at +176 the
//!                                             16-aligned struct sigcontext:
//!                                             fault_address, regs[31], sp, pc,
//!                                             pstate, __reserved[4096]
//!          frame record                       x29, x30 of the interrupted code
//! ```
//!
//! `__reserved` holds the records: an fpsimd_context (magic 0x46508001, size
//! 528, fpsr, fpcr, v0-v31), then a zero terminator. The host's FP blob
//! (`Host::fpstate_get`) has exactly the fpsimd_context layout, so it is copied
//! into the frame as is.
//!
//! The handler starts with x0 = signo, x1 = &info, x2 = &uc, sp = the frame,
//! x29 = the frame record and x30 = [`SIGRETURN_TRAMPOLINE`] (`mov x8, #139;
//! svc #0`, provided by the host above USER_END; glibc sets no SA_RESTORER on
//! arm64 and Linux returns through the vDSO instead, so the trampoline serves
//! both). rt_sigreturn finds the frame at its sp.

use super::{UserRegs, SIGRETURN_TRAMPOLINE};

/// Size of the FP state saved in the frame: an fpsimd_context record.
pub const FPSTATE_SIZE: usize = 528;
/// The handler needs no SA_RESTORER: x30 is the host's trampoline.
pub const NEEDS_SA_RESTORER: bool = false;
const FPSIMD_MAGIC: u32 = 0x4650_8001;
/// The ucontext, after the siginfo.
const UC: usize = 128;
/// The sigcontext (uc_mcontext), 16-aligned after uc_sigmask's 1024 bits.
const MC: usize = UC + 176;
/// sigcontext.__reserved.
const RESERVED: usize = MC + 288;
/// The whole rt_sigframe.
const FRAME_SIZE: usize = RESERVED + 4096;
/// AT_MINSIGSTKSZ: the smallest alternate stack sigaltstack accepts (arm64's
/// MINSIGSTKSZ, 5120), which a whole frame with its record fits.
pub const MIN_SIGSTACK: Option<u64> = Some(5120);
const _: () = assert!(FRAME_SIZE as u64 + 32 <= 5120);
/// The PSTATE bits user code may change: N, Z, C, V.
const NZCV: u64 = 0xf000_0000;

/// Where a frame's parts go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// The handler's sp: the frame starts here.
    pub sp: u64,
    pub uc: u64,
    pub info: u64,
    pub fp: u64,
    /// The frame's size in bytes (with the frame record).
    pub size: usize,
}

/// Lays a frame out below `stack_top` (the interrupted sp, or the top of the
/// alternate stack); arm64 has no red zone. The sigaction flags and restorer
/// change nothing here.
pub fn frame_layout(
    stack_top: u64,
    _on_altstack: bool,
    _flags: u64,
    _restorer: u64,
) -> Option<FrameLayout> {
    let record = stack_top.checked_sub(16)? & !15;
    let sp = record.checked_sub(FRAME_SIZE as u64)?;
    Some(FrameLayout {
        sp,
        uc: sp + UC as u64,
        info: sp,
        fp: sp + RESERVED as u64,
        size: FRAME_SIZE + 16,
    })
}

/// Marks the frame as carrying no FP state: without an fpsimd_context record
/// rt_sigreturn restores none.
pub fn no_fpstate(frame: &mut [u8], _layout: &FrameLayout) {
    frame[RESERVED..RESERVED + 8].fill(0);
}

/// Where rt_sigreturn finds the frame, given the sp at the call.
pub fn sigreturn_ucontext(sp: u64, _rt: bool) -> Option<u64> {
    Some(sp)
}

fn put(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

fn get(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

fn get32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// The bytes from `layout.sp`: the siginfo, the ucontext holding `regs` and
/// `mask` (with an empty fpsimd_context the FP state is written over), and the
/// frame record. `restorer` is not used (see the module documentation).
pub fn encode_frame(
    regs: &UserRegs,
    info: &[u8; 128],
    mask: u64,
    _restorer: u64,
    altstack: (u64, u32, u64),
    _layout: &FrameLayout,
) -> [u8; FRAME_SIZE + 16] {
    let mut b = [0u8; FRAME_SIZE + 16];
    b[..128].copy_from_slice(info);
    // uc_flags and uc_link stay 0.
    put(&mut b, UC + 16, altstack.0);
    b[UC + 24..UC + 28].copy_from_slice(&altstack.1.to_ne_bytes());
    put(&mut b, UC + 32, altstack.2);
    put(&mut b, UC + 40, mask);
    let g = &regs.gp;
    // fault_address stays 0.
    for (i, r) in g.regs.iter().enumerate() {
        put(&mut b, MC + 8 + 8 * i, *r);
    }
    put(&mut b, MC + 256, g.sp);
    put(&mut b, MC + 264, g.pc);
    put(&mut b, MC + 272, g.pstate);
    b[RESERVED..RESERVED + 8].copy_from_slice(&initial_fpstate()[..8]);
    put(&mut b, FRAME_SIZE, g.regs[29]);
    put(&mut b, FRAME_SIZE + 8, g.regs[30]);
    b
}

/// The FP state a handler starts with: every register and FPSR/FPCR zero.
pub fn initial_fpstate() -> [u8; FPSTATE_SIZE] {
    let mut f = [0u8; FPSTATE_SIZE];
    f[0..4].copy_from_slice(&FPSIMD_MAGIC.to_ne_bytes());
    f[4..8].copy_from_slice(&(FPSTATE_SIZE as u32).to_ne_bytes());
    f
}

/// Points the registers at the handler.
pub fn enter_handler(regs: &mut UserRegs, handler: u64, sig: u32, layout: &FrameLayout) {
    let g = &mut regs.gp;
    g.regs[0] = sig as u64;
    g.regs[1] = layout.info;
    g.regs[2] = layout.uc;
    g.regs[29] = layout.sp + FRAME_SIZE as u64;
    g.regs[30] = SIGRETURN_TRAMPOLINE;
    g.sp = layout.sp;
    g.pc = handler;
    g.syscallno = u64::MAX;
}

/// Bytes of the frame rt_sigreturn reads (from its sp): up to the first
/// record header in `__reserved`.
pub const UCONTEXT_LEN: usize = RESERVED + 8;

/// What rt_sigreturn restores besides the registers.
pub struct Restored {
    pub mask: u64,
    pub fpstate: u64,
}

/// Restores the registers saved in the frame `uc` (read from the guest at its
/// sp). Only the NZCV flags of the saved PSTATE are taken, so a forged frame
/// cannot change the mode. The FP state is restored only when the first
/// record is an fpsimd_context.
pub fn restore_frame(regs: &mut UserRegs, uc: &[u8; UCONTEXT_LEN], frame: u64) -> Restored {
    let g = &mut regs.gp;
    for (i, r) in g.regs.iter_mut().enumerate() {
        *r = get(uc, MC + 8 + 8 * i);
    }
    g.sp = get(uc, MC + 256);
    g.pc = get(uc, MC + 264);
    g.pstate = (g.pstate & !NZCV) | (get(uc, MC + 272) & NZCV);
    // No syscall to restart: x0 is the interrupted value.
    g.syscallno = u64::MAX;
    let fp_ok =
        get32(uc, RESERVED) == FPSIMD_MAGIC && get32(uc, RESERVED + 4) as usize == FPSTATE_SIZE;
    Restored {
        mask: get(uc, UC + 40),
        fpstate: if fp_ok { frame + RESERVED as u64 } else { 0 },
    }
}
