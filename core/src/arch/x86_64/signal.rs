//! The x86_64 rt_sigframe, as arch/x86/kernel/signal.c builds it:
//!
//! ```text
//!   sp ->  pretcode (sa_restorer)           8
//!          struct ucontext                  304: uc_flags, uc_link, uc_stack,
//!                                                uc_mcontext (struct sigcontext),
//!                                                uc_sigmask
//!          siginfo_t                        128
//!          ... padding ...
//!          FXSAVE area (64-byte aligned)    512
//! ```
//!
//! The handler starts with rdi = signo, rsi = &info, rdx = &uc, and rsp ≡ 8
//! (mod 16), as after a call. rt_sigreturn finds the ucontext at its rsp (the
//! handler's `ret` popped pretcode).

use super::{GpRegs, UserRegs};

/// Size of the FP state saved in the frame (FXSAVE).
pub const FPSTATE_SIZE: usize = 512;
/// A handler returns through its sa_restorer (pretcode): without one, no frame.
pub const NEEDS_SA_RESTORER: bool = true;
const UCONTEXT_SIZE: u64 = 304;
const FRAME_SIZE: u64 = 8 + UCONTEXT_SIZE + 128;
/// AT_MINSIGSTKSZ: the smallest alternate stack sigaltstack accepts (the
/// MINSIGSTKSZ of the ABI, 2048), which a whole frame fits with room to spare.
pub const MIN_SIGSTACK: Option<u64> = Some(2048);
const _: () = assert!(FPSTATE_SIZE as u64 + 64 + FRAME_SIZE + 32 <= 2048);
/// The red zone below rsp that a signal frame must not touch.
const REDZONE: u64 = 128;
/// uc_flags: UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS.
const UC_FLAGS: u64 = 0x6;
/// The eflags bits user code may change (Linux's FIX_EFLAGS).
const FIX_EFLAGS: u64 = 0x0005_4dd5;

/// Where a frame's parts go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// The handler's rsp: the frame starts here.
    pub sp: u64,
    pub uc: u64,
    pub info: u64,
    pub fp: u64,
    /// The frame's size in bytes (from `sp`, FP area excluded).
    pub size: usize,
}

/// Lays a frame out below `stack_top` (the interrupted rsp, or the top of the
/// alternate stack). The sigaction flags and restorer change nothing here.
pub fn frame_layout(
    stack_top: u64,
    on_altstack: bool,
    _flags: u64,
    _restorer: u64,
) -> Option<FrameLayout> {
    let top = if on_altstack {
        stack_top
    } else {
        stack_top.checked_sub(REDZONE)?
    };
    let fp = top.checked_sub(FPSTATE_SIZE as u64)? & !63;
    let sp = (fp.checked_sub(FRAME_SIZE)? & !15).checked_sub(8)?;
    Some(FrameLayout {
        sp,
        uc: sp + 8,
        info: sp + 8 + UCONTEXT_SIZE,
        fp,
        size: FRAME_SIZE as usize,
    })
}

/// Marks the frame as carrying no FP state: a null fpstate pointer tells
/// sigreturn so.
pub fn no_fpstate(frame: &mut [u8], _layout: &FrameLayout) {
    let at = 8 + 40 + 8 * 23;
    frame[at..at + 8].fill(0);
}

/// Where rt_sigreturn finds the ucontext, given the rsp at the call (the
/// handler's `ret` popped pretcode).
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

/// The bytes from `layout.sp` up to the end of the siginfo: pretcode, the
/// ucontext holding `regs` and `mask`, and `info`.
pub fn encode_frame(
    regs: &UserRegs,
    info: &[u8; 128],
    mask: u64,
    restorer: u64,
    altstack: (u64, u32, u64),
    layout: &FrameLayout,
) -> [u8; FRAME_SIZE as usize] {
    let mut b = [0u8; FRAME_SIZE as usize];
    put(&mut b, 0, restorer);
    let uc = 8;
    put(&mut b, uc, UC_FLAGS);
    put(&mut b, uc + 8, 0);
    put(&mut b, uc + 16, altstack.0);
    b[uc + 24..uc + 28].copy_from_slice(&altstack.1.to_ne_bytes());
    put(&mut b, uc + 32, altstack.2);
    let g = &regs.gp;
    let mc = uc + 40;
    let words = [
        g.r8, g.r9, g.r10, g.r11, g.r12, g.r13, g.r14, g.r15, g.rdi, g.rsi, g.rbp, g.rbx, g.rdx,
        g.rax, g.rcx, g.rsp, g.rip, g.eflags,
    ];
    for (i, w) in words.iter().enumerate() {
        put(&mut b, mc + 8 * i, *w);
    }
    // cs, gs, fs, ss as four u16.
    let segs = (g.cs & 0xffff)
        | ((g.gs & 0xffff) << 16)
        | ((g.fs & 0xffff) << 32)
        | ((g.ss & 0xffff) << 48);
    put(&mut b, mc + 8 * 18, segs);
    // err, trapno, oldmask, cr2 stay zero except oldmask.
    put(&mut b, mc + 8 * 21, mask);
    put(&mut b, mc + 8 * 23, layout.fp);
    put(&mut b, uc + 40 + 256, mask);
    b[(8 + UCONTEXT_SIZE) as usize..].copy_from_slice(info);
    b
}

/// Points the registers at the handler.
pub fn enter_handler(regs: &mut UserRegs, handler: u64, sig: u32, layout: &FrameLayout) {
    let g = &mut regs.gp;
    g.rip = handler;
    g.rsp = layout.sp;
    g.rdi = sig as u64;
    g.rsi = layout.info;
    g.rdx = layout.uc;
    g.rax = 0;
    // Clear TF and DF, as Linux does for handlers.
    g.eflags &= !(0x100 | 0x400);
}

/// The FP state a handler starts with, as Linux gives it (fpu__clear_user_states):
/// FCW 0x37f and MXCSR 0x1f80 with every register zero.
pub fn initial_fpstate() -> [u8; FPSTATE_SIZE] {
    let mut f = [0u8; FPSTATE_SIZE];
    f[0..2].copy_from_slice(&0x037fu16.to_ne_bytes());
    f[24..28].copy_from_slice(&0x1f80u32.to_ne_bytes());
    // MXCSR_MASK: the bits the CPU lets software set.
    f[28..32].copy_from_slice(&0xffffu32.to_ne_bytes());
    f
}

/// Bytes of the ucontext rt_sigreturn reads.
pub const UCONTEXT_LEN: usize = UCONTEXT_SIZE as usize;

/// What rt_sigreturn restores besides the registers.
pub struct Restored {
    pub mask: u64,
    pub fpstate: u64,
}

/// Restores the registers saved in `uc` (read from the guest at its rsp). The
/// segment registers keep their user values and only user-changeable eflags
/// bits are taken, so a forged frame cannot give the guest privileges.
pub fn restore_frame(regs: &mut UserRegs, uc: &[u8; UCONTEXT_LEN], _at: u64) -> Restored {
    let mc = 40;
    let w = |i: usize| get(uc, mc + 8 * i);
    let old = regs.gp;
    regs.gp = GpRegs {
        r8: w(0),
        r9: w(1),
        r10: w(2),
        r11: w(3),
        r12: w(4),
        r13: w(5),
        r14: w(6),
        r15: w(7),
        rdi: w(8),
        rsi: w(9),
        rbp: w(10),
        rbx: w(11),
        rdx: w(12),
        rax: w(13),
        rcx: w(14),
        rsp: w(15),
        rip: w(16),
        eflags: (old.eflags & !FIX_EFLAGS) | (w(17) & FIX_EFLAGS),
        // No syscall to restart: the restored rax is the interrupted value.
        orig_rax: u64::MAX,
        ..old
    };
    Restored {
        mask: get(uc, 40 + 256),
        fpstate: w(23),
    }
}
