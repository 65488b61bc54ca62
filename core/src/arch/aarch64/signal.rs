//! The aarch64 rt_sigframe is not built yet: handlers cannot run, and a signal
//! with a handler takes its default action instead (the ARM hosts issue builds
//! the real frame with its FP/SIMD context).

use super::UserRegs;

pub const FPSTATE_SIZE: usize = 0;
pub const UCONTEXT_LEN: usize = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    pub sp: u64,
    pub uc: u64,
    pub info: u64,
    pub fp: u64,
}

pub fn frame_layout(_stack_top: u64, _on_altstack: bool) -> Option<FrameLayout> {
    None
}

pub fn encode_frame(
    _regs: &UserRegs,
    _info: &[u8; 128],
    _mask: u64,
    _restorer: u64,
    _altstack: (u64, u32, u64),
    _layout: &FrameLayout,
) -> [u8; 0] {
    []
}

pub fn initial_fpstate() -> [u8; FPSTATE_SIZE] {
    []
}

pub fn enter_handler(_regs: &mut UserRegs, _handler: u64, _sig: u32, _layout: &FrameLayout) {}

pub struct Restored {
    pub mask: u64,
    pub fpstate: u64,
}

pub fn restore_frame(_regs: &mut UserRegs, _uc: &[u8; UCONTEXT_LEN]) -> Restored {
    Restored {
        mask: 0,
        fpstate: 0,
    }
}
