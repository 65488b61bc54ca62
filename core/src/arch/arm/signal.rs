//! The 32-bit ARM signal frames, as arch/arm/kernel/signal.c builds them:
//!
//! ```text
//!   struct rt_sigframe (SA_SIGINFO)        struct sigframe (no SA_SIGINFO)
//!   sp ->  siginfo_t            128        sp ->  struct ucontext   744
//!          struct ucontext      744               retcode[4]         16
//!          retcode[4]            16
//! ```
//!
//! struct ucontext: uc_flags, uc_link, uc_stack (12 bytes), at +20 struct
//! sigcontext (trap_no, error_code, oldmask, r0..r15, cpsr, fault_address), at
//! +104 uc_sigmask (8 bytes, then room for glibc's 1024-bit set), and at +232
//! the 8-aligned uc_regspace[128 words]: a vfp_sigframe record (magic
//! 0x56465001, size 0x120, struct user_vfp = d0..d31 and fpscr, struct
//! user_vfp_exc) and then a zero word that ends the records.
//!
//! The handler starts with r0 = signo (and for SA_SIGINFO r1 = &info, r2 =
//! &uc), sp = the frame (8-aligned, as the ATPCS wants), lr = the return
//! address: sa_restorer under SA_RESTORER, else the host's trampoline above
//! USER_END ([`SIGRETURN_TRAMPOLINE`] for rt_sigreturn,
//! [`SIGRETURN_TRAMPOLINE_OLD`] for sigreturn). Bit 0 of the handler address
//! selects Thumb state. rt_sigreturn finds the ucontext at sp + 128, sigreturn
//! at sp.
//!
//! The host's FP blob (`Host::fpstate_get`) is `struct user_vfp` as
//! PTRACE_GETVFPREGS returns it (260 bytes), which is exactly the `ufp` field of
//! the vfp_sigframe: it is copied into the frame as is.

use super::{UserRegs, CPSR_T, CPSR_USR, SIGRETURN_TRAMPOLINE, SIGRETURN_TRAMPOLINE_OLD};

/// Size of the FP state saved in the frame: struct user_vfp (d0..d31, fpscr).
pub const FPSTATE_SIZE: usize = 260;
/// Handlers without SA_RESTORER return through the host's trampolines.
pub const NEEDS_SA_RESTORER: bool = false;

/// SA_SIGINFO: the handler gets the rt frame.
const SA_SIGINFO: u64 = 4;
/// SA_RESTORER: return through sa_restorer.
const SA_RESTORER: u64 = 0x0400_0000;

/// VFP_MAGIC of the vfp_sigframe record.
pub const VFP_MAGIC: u32 = 0x5646_5001;
/// VFP_STORAGE_SIZE: the whole vfp_sigframe record.
pub const VFP_STORAGE_SIZE: u32 = 0x120;
/// struct ucontext.
pub const UCONTEXT_SIZE: usize = 744;
/// The siginfo before the ucontext of the rt frame.
pub const SIGINFO_SIZE: usize = 128;
/// struct sigframe: the ucontext and retcode[4].
pub const SIGFRAME_SIZE: usize = UCONTEXT_SIZE + 16;
/// struct rt_sigframe: the siginfo and a struct sigframe.
pub const RT_SIGFRAME_SIZE: usize = SIGINFO_SIZE + SIGFRAME_SIZE;
/// AT_MINSIGSTKSZ: 32-bit ARM Linux gives none.
pub const MIN_SIGSTACK: Option<u64> = None;
/// uc_stack in the ucontext.
const UC_STACK: usize = 8;
/// uc_mcontext (struct sigcontext) in the ucontext.
const MC: usize = 20;
/// sigcontext.arm_r0.
const MC_R0: usize = MC + 12;
/// sigcontext.arm_cpsr.
const MC_CPSR: usize = MC_R0 + 16 * 4;
/// uc_sigmask.
const SIGMASK: usize = 104;
/// uc_regspace.
const REGSPACE: usize = 232;
/// The `ufp` field (struct user_vfp) of the vfp_sigframe.
const UFP: usize = REGSPACE + 8;
/// struct user_vfp_exc (fpexc, fpinst, fpinst2) after the 8-aligned user_vfp.
const UFP_EXC: usize = UFP + 264;
/// uc_flags of an old (non-RT) frame: a value sc.trap_no would never have.
const OLD_UC_FLAGS: u32 = 0x5ac3_c35a;
/// FPEXC.EN: what a running VFP shows.
const FPEXC_EN: u32 = 0x4000_0000;
/// CPSR bits a frame may set: N Z C V Q, the IT bits, GE, E, T.
const CPSR_USER_BITS: u32 = 0xf800_0000 | 0x0600_fc00 | 0x000f_0000 | 0x200 | CPSR_T;
/// The If-Then bits, cleared on handler entry.
const CPSR_IT: u32 = 0x0600_fc00;

/// Where a frame's parts go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// The handler's sp: the frame starts here.
    pub sp: u64,
    /// The ucontext.
    pub uc: u64,
    /// The siginfo (rt frames; 0 for old frames).
    pub info: u64,
    /// Where the FP blob (struct user_vfp) goes.
    pub fp: u64,
    /// The frame's size in bytes.
    pub size: usize,
    /// Whether this is an rt_sigframe (SA_SIGINFO).
    pub rt: bool,
    /// The handler's return address (lr).
    pub ret: u64,
}

/// Lays a frame out below `stack_top` (the interrupted sp, or the top of the
/// alternate stack), for a handler with sigaction flags `flags` and restorer
/// `restorer`.
pub fn frame_layout(
    stack_top: u64,
    _on_altstack: bool,
    flags: u64,
    restorer: u64,
) -> Option<FrameLayout> {
    let rt = flags & SA_SIGINFO != 0;
    let size = if rt { RT_SIGFRAME_SIZE } else { SIGFRAME_SIZE };
    let sp = stack_top.checked_sub(size as u64)? & !7;
    let uc = if rt { sp + SIGINFO_SIZE as u64 } else { sp };
    let ret = if flags & SA_RESTORER != 0 {
        restorer
    } else if rt {
        SIGRETURN_TRAMPOLINE
    } else {
        SIGRETURN_TRAMPOLINE_OLD
    };
    Some(FrameLayout {
        sp,
        uc,
        info: if rt { sp } else { 0 },
        fp: uc + UFP as u64,
        size,
        rt,
        ret,
    })
}

fn put(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// The bytes of the frame from `layout.sp`; only the first `layout.size` are
/// the frame. The VFP record's header is filled in and its registers left zero
/// (the kernel writes the FP blob at `layout.fp`). The 32-bit siginfo is the
/// first 128 bytes of `info`.
pub fn encode_frame(
    regs: &UserRegs,
    info: &[u8; 128],
    mask: u64,
    _restorer: u64,
    altstack: (u64, u32, u64),
    layout: &FrameLayout,
) -> [u8; RT_SIGFRAME_SIZE] {
    let mut b = [0u8; RT_SIGFRAME_SIZE];
    let uc = if layout.rt {
        b[..SIGINFO_SIZE].copy_from_slice(info);
        SIGINFO_SIZE
    } else {
        put(&mut b, 0, OLD_UC_FLAGS);
        0
    };
    // uc_link stays 0 (and uc_flags of an rt frame).
    if layout.rt {
        put(&mut b, uc + UC_STACK, altstack.0 as u32);
        put(&mut b, uc + UC_STACK + 4, altstack.1);
        put(&mut b, uc + UC_STACK + 8, altstack.2 as u32);
    }
    // trap_no, error_code and fault_address stay 0.
    put(&mut b, uc + MC + 8, mask as u32);
    let g = &regs.gp;
    for (i, r) in g.regs.iter().enumerate() {
        put(&mut b, uc + MC_R0 + 4 * i, *r);
    }
    put(&mut b, uc + MC_CPSR, g.cpsr);
    put(&mut b, uc + SIGMASK, mask as u32);
    put(&mut b, uc + SIGMASK + 4, (mask >> 32) as u32);
    put(&mut b, uc + REGSPACE, VFP_MAGIC);
    put(&mut b, uc + REGSPACE + 4, VFP_STORAGE_SIZE);
    put(&mut b, uc + UFP_EXC, FPEXC_EN);
    // The word after the record (end_magic) stays 0.
    if layout.ret == SIGRETURN_TRAMPOLINE || layout.ret == SIGRETURN_TRAMPOLINE_OLD {
        // Without SA_RESTORER Linux puts the sigreturn code on the stack too
        // (`mov r7, #nr; swi #nr|0x900000`); it is never run here, the return
        // goes through the host's trampoline, so the ARM-state form serves.
        let nr: u32 = if layout.rt { 173 } else { 119 };
        let retcode = uc + UCONTEXT_SIZE;
        put(&mut b, retcode, 0xe3a0_7000 | nr);
        put(&mut b, retcode + 4, 0xef90_0000 | nr);
    }
    b
}

/// Marks the frame as carrying no FP state (the host had none to give):
/// without the VFP record sigreturn restores none.
pub fn no_fpstate(frame: &mut [u8], layout: &FrameLayout) {
    let at = (layout.uc - layout.sp) as usize + REGSPACE;
    frame[at..at + 8].fill(0);
    frame[(layout.uc - layout.sp) as usize + UFP_EXC..][..4].fill(0);
}

/// The FP state a handler starts with: every register and FPSCR zero.
pub fn initial_fpstate() -> [u8; FPSTATE_SIZE] {
    [0u8; FPSTATE_SIZE]
}

/// Points the registers at the handler (Linux's setup_return).
pub fn enter_handler(regs: &mut UserRegs, handler: u64, sig: u32, layout: &FrameLayout) {
    let g = &mut regs.gp;
    // Flags, E and the If-Then state are cleared; the T bit follows bit 0 of
    // the handler.
    let mut cpsr = g.cpsr & !(0xff00_0000 | 0x200 | CPSR_IT);
    if handler & 1 != 0 {
        cpsr |= CPSR_T;
    } else {
        cpsr &= !CPSR_T;
    }
    g.cpsr = (cpsr & !0x1f) | CPSR_USR;
    g.regs[0] = sig;
    if layout.rt {
        g.regs[1] = layout.info as u32;
        g.regs[2] = layout.uc as u32;
    }
    g.regs[13] = layout.sp as u32;
    g.regs[14] = layout.ret as u32;
    g.regs[15] = (handler & !1) as u32;
    g.syscallno = u32::MAX;
}

/// Bytes of the ucontext sigreturn reads: through the VFP record's header.
pub const UCONTEXT_LEN: usize = UFP;

/// Where (rt_)sigreturn finds the ucontext, given the sp at the call; `None`
/// for an sp the kernel could not have set up (not 8-aligned).
pub fn sigreturn_ucontext(sp: u64, rt: bool) -> Option<u64> {
    if sp & 7 != 0 {
        return None;
    }
    Some(if rt { sp + SIGINFO_SIZE as u64 } else { sp })
}

/// What sigreturn restores besides the registers.
pub struct Restored {
    pub mask: u64,
    /// The guest address of the FP blob to load, 0 for none.
    pub fpstate: u64,
}

/// Restores the registers saved in the ucontext `uc` (read from the guest at
/// `at`). Only the user-changeable CPSR bits are taken and the mode is forced
/// to user, so a forged frame cannot change the mode. The FP state is
/// restored only when the first record is a VFP record.
pub fn restore_frame(regs: &mut UserRegs, uc: &[u8; UCONTEXT_LEN], at: u64) -> Restored {
    let g = &mut regs.gp;
    for (i, r) in g.regs.iter_mut().enumerate() {
        *r = get(uc, MC_R0 + 4 * i);
    }
    g.cpsr = (get(uc, MC_CPSR) & CPSR_USER_BITS) | CPSR_USR;
    // No syscall to restart: r0 is the interrupted value.
    g.syscallno = u32::MAX;
    let fp_ok = get(uc, REGSPACE) == VFP_MAGIC && get(uc, REGSPACE + 4) == VFP_STORAGE_SIZE;
    Restored {
        mask: get(uc, SIGMASK) as u64 | (get(uc, SIGMASK + 4) as u64) << 32,
        fpstate: if fp_ok { at + UFP as u64 } else { 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> UserRegs {
        let mut r = UserRegs::default();
        for (i, v) in r.gp.regs.iter_mut().enumerate() {
            *v = 0x100 + i as u32;
        }
        r.gp.cpsr = 0x6000_0010;
        r
    }

    #[test]
    fn rt_frame_layout_and_bytes() {
        let l = frame_layout(0x8_0004, false, SA_SIGINFO | SA_RESTORER, 0x1_2345).unwrap();
        assert_eq!(l.sp, (0x8_0004 - 888) & !7);
        assert_eq!(l.sp % 8, 0);
        assert_eq!(l.info, l.sp);
        assert_eq!(l.uc, l.sp + 128);
        assert_eq!(l.fp, l.uc + 240);
        assert_eq!(l.ret, 0x1_2345);
        let mut info = [0u8; 128];
        info[0] = 10;
        let b = encode_frame(
            &regs(),
            &info,
            0x8000_0000_0000_0201,
            0,
            (0x5000, 2, 0x800),
            &l,
        );
        let w = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        assert_eq!(b[0], 10);
        // uc_flags, uc_link, uc_stack.
        assert_eq!((w(128), w(132)), (0, 0));
        assert_eq!((w(136), w(140), w(144)), (0x5000, 2, 0x800));
        // sigcontext: trap_no, error_code, oldmask, r0..r15, cpsr, fault_address.
        assert_eq!((w(148), w(152), w(156)), (0, 0, 0x201));
        assert_eq!(w(160), 0x100);
        assert_eq!(w(160 + 15 * 4), 0x10f);
        assert_eq!(w(224), 0x6000_0010);
        assert_eq!(w(228), 0);
        // uc_sigmask.
        assert_eq!((w(232), w(236)), (0x201, 0x8000_0000));
        // The VFP record, its fpexc, and the terminator after it.
        assert_eq!((w(360), w(364)), (VFP_MAGIC, 0x120));
        assert_eq!(w(360 + 8 + 264), FPEXC_EN);
        assert_eq!(w(360 + 0x120), 0);
        // SA_RESTORER: no retcode on the stack.
        assert_eq!((w(872), w(876)), (0, 0));
    }

    #[test]
    fn old_frame_and_trampolines() {
        let l = frame_layout(0x8_0000, false, 0, 0).unwrap();
        assert!(!l.rt);
        assert_eq!(l.size, 760);
        assert_eq!(l.uc, l.sp);
        assert_eq!(l.ret, SIGRETURN_TRAMPOLINE_OLD);
        let b = encode_frame(&regs(), &[0; 128], 4, 0, (0, 2, 0), &l);
        let w = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        assert_eq!(w(0), 0x5ac3_c35a);
        assert_eq!(w(28), 4);
        assert_eq!(w(32), 0x100);
        assert_eq!(w(104), 4);
        assert_eq!((w(232), w(236)), (VFP_MAGIC, 0x120));
        // mov r7, #119; swi 0x900077.
        assert_eq!((w(744), w(748)), (0xe3a0_7077, 0xef90_0077));
        let l = frame_layout(0x8_0000, false, SA_SIGINFO, 0).unwrap();
        assert_eq!(l.ret, SIGRETURN_TRAMPOLINE);
    }

    #[test]
    fn handler_entry_thumb_and_arm() {
        let l = frame_layout(0x8_0000, false, SA_SIGINFO | SA_RESTORER, 0x9001).unwrap();
        let mut r = regs();
        r.gp.cpsr = 0xf800_0010 | CPSR_IT | 0x200;
        enter_handler(&mut r, 0x1_0001, 10, &l);
        assert_eq!(r.gp.regs[15], 0x1_0000);
        assert_eq!(r.gp.cpsr, CPSR_USR | CPSR_T);
        assert_eq!(r.gp.regs[0], 10);
        assert_eq!(r.gp.regs[1] as u64, l.info);
        assert_eq!(r.gp.regs[2] as u64, l.uc);
        assert_eq!(r.gp.regs[13] as u64, l.sp);
        assert_eq!(r.gp.regs[14], 0x9001);
        let mut r = regs();
        r.gp.cpsr |= CPSR_T;
        enter_handler(&mut r, 0x1_0000, 10, &l);
        assert_eq!(r.gp.cpsr, CPSR_USR);
        assert_eq!(r.gp.regs[15], 0x1_0000);
    }

    #[test]
    fn sigreturn_round_trip() {
        for flags in [0, SA_SIGINFO] {
            let l = frame_layout(0x8_0000, false, flags, 0).unwrap();
            let orig = regs();
            let b = encode_frame(&orig, &[0; 128], 0x1234, 0, (0, 2, 0), &l);
            let at = sigreturn_ucontext(l.sp, l.rt).unwrap();
            assert_eq!(at, l.uc);
            let off = (at - l.sp) as usize;
            let uc: [u8; UCONTEXT_LEN] = b[off..off + UCONTEXT_LEN].try_into().unwrap();
            let mut r = UserRegs::default();
            let got = restore_frame(&mut r, &uc, at);
            assert_eq!(r.gp.regs, orig.gp.regs);
            assert_eq!(r.gp.cpsr, orig.gp.cpsr);
            assert_eq!(got.mask, 0x1234);
            assert_eq!(got.fpstate, l.fp);
            // Without the VFP record no FP state is restored.
            let mut b2 = b;
            no_fpstate(&mut b2, &l);
            let uc: [u8; UCONTEXT_LEN] = b2[off..off + UCONTEXT_LEN].try_into().unwrap();
            assert_eq!(restore_frame(&mut r, &uc, at).fpstate, 0);
        }
        assert_eq!(sigreturn_ucontext(0x1004, true), None);
    }

    #[test]
    fn forged_cpsr_cannot_leave_user_mode() {
        let l = frame_layout(0x8_0000, false, 0, 0).unwrap();
        let mut orig = regs();
        orig.gp.cpsr = 0x1d3; // SVC mode, I and F set.
        let b = encode_frame(&orig, &[0; 128], 0, 0, (0, 2, 0), &l);
        let uc: [u8; UCONTEXT_LEN] = b[..UCONTEXT_LEN].try_into().unwrap();
        let mut r = UserRegs::default();
        restore_frame(&mut r, &uc, l.uc);
        assert_eq!(r.gp.cpsr, CPSR_USR);
    }
}
