//! 32-bit ARM (armv7, EABI, ILP32): registers as in `struct pt_regs` (uregs[0..18])
//! plus TPIDRURO and the syscall number; the EABI syscall convention (number in
//! r7, arguments in r0..r5, result in r0); and the user address-space layout
//! below the host's 3G/1G split.
//!
//! This module is compiled on every host (only a 32-bit ARM build makes it the
//! guest arch), so its layouts and frame encoders are unit-tested everywhere.

pub mod signal;

/// ELF machine of guest executables.
pub const ELF_MACHINE: u16 = umbra_abi::elf::EM_ARM;
/// ELF class of guest executables.
pub const ELF_CLASS: u8 = umbra_abi::elf::ELFCLASS32;
/// `uname -m`.
pub const UTS_MACHINE: &str = "armv7l";
/// AT_PLATFORM.
pub const PLATFORM: &str = "v7l";
/// AT_HWCAP: HALF THUMB FAST_MULT VFP EDSP VFPv3 VFPv3D16 TLS, the Debian armhf
/// baseline (armv7 with VFPv3-D16): a C library picks no NEON routine a host
/// without NEON would fault on.
pub const HWCAP: u64 = 0x0000_e0d6;
/// AT_HWCAP2: none of the crypto extensions is promised.
pub const HWCAP2: u64 = 0;
/// Length of the `svc #0` instruction in ARM state, for restarts; Thumb's is 2
/// (see [`UserRegs::restart_syscall`]).
pub const SYSCALL_INSN_LEN: u64 = 4;
/// The CPSR Thumb state bit.
pub const CPSR_T: u32 = 0x20;
/// The CPSR mode of user code.
pub const CPSR_USR: u32 = 0x10;

/// One past the highest guest address. The host's stub pages sit at USER_END
/// (code page) and USER_END + 0x1000 (data page).
pub const USER_END: u64 = 0xbe00_0000;
/// Where signal handlers without SA_RESTORER return for rt_sigreturn: the host
/// provides `mov r7, #173; svc #0` (ARM code) here in its stub code page.
pub const SIGRETURN_TRAMPOLINE: u64 = USER_END + 8;
/// The same for handlers without SA_SIGINFO (old frame): `mov r7, #119; svc #0`.
pub const SIGRETURN_TRAMPOLINE_OLD: u64 = USER_END + 16;
/// Where the first process's stack top is placed.
pub const STACK_TOP: u64 = 0xbd00_0000;
/// Where mmap without a hint starts searching downward (below the largest stack
/// umbra gives, 64 MiB).
pub const MMAP_BASE: u64 = 0xb800_0000;
/// Load bias of static-PIE executables.
pub const PIE_BASE: u64 = 0x0040_0000;

/// The guest's general registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpRegs {
    /// r0..r15 as in struct pt_regs uregs[0..16]; r13 = sp, r14 = lr, r15 = pc.
    pub regs: [u32; 16],
    pub cpsr: u32,
    /// uregs[17], ARM_ORIG_r0.
    pub orig_r0: u32,
    /// TPIDRURO: the value of the guest's last set_tls (ARM private syscall 0xf0005).
    /// The shim makes the host thread's TLS equal to this before it resumes the guest
    /// (ptrace cannot set it on 32-bit ARM: the stub runs set_tls itself).
    pub tls: u32,
    /// The syscall number at a syscall stop (r7 under EABI); filled by the shim.
    pub syscallno: u32,
}

/// One guest thread's user context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub gp: GpRegs,
}

impl UserRegs {
    /// Registers for a fresh process entering at `entry` with stack `sp`: user
    /// mode, Thumb state when bit 0 of the entry is set; r0 = 0 (no atexit
    /// function for the C library's start code).
    pub fn new_user(entry: u64, sp: u64) -> Self {
        let mut gp = GpRegs {
            cpsr: CPSR_USR,
            ..GpRegs::default()
        };
        gp.regs[13] = sp as u32;
        if entry & 1 != 0 {
            gp.cpsr |= CPSR_T;
        }
        gp.regs[15] = (entry & !1) as u32;
        UserRegs { gp }
    }
    /// The syscall number of a syscall trap.
    #[inline]
    pub fn syscall_nr(&self) -> u64 {
        self.gp.syscallno as u64
    }
    /// The six syscall arguments, r0..r5, zero-extended.
    #[inline]
    pub fn syscall_args(&self) -> [u64; 6] {
        let r = &self.gp.regs;
        [
            r[0] as u64,
            r[1] as u64,
            r[2] as u64,
            r[3] as u64,
            r[4] as u64,
            r[5] as u64,
        ]
    }
    /// Sets the syscall return value (r0; the low 32 bits of `v`).
    #[inline]
    pub fn set_syscall_ret(&mut self, v: u64) {
        self.gp.regs[0] = v as u32;
    }
    #[inline]
    pub fn ip(&self) -> u64 {
        self.gp.regs[15] as u64
    }
    #[inline]
    pub fn set_ip(&mut self, v: u64) {
        self.gp.regs[15] = v as u32;
    }
    #[inline]
    pub fn sp(&self) -> u64 {
        self.gp.regs[13] as u64
    }
    #[inline]
    pub fn set_sp(&mut self, v: u64) {
        self.gp.regs[13] = v as u32;
    }
    /// The thread pointer (TPIDRURO, as set_tls left it).
    #[inline]
    pub fn tls(&self) -> u64 {
        self.gp.tls as u64
    }
    #[inline]
    pub fn set_tls(&mut self, v: u64) {
        self.gp.tls = v as u32;
    }
    /// Makes the guest execute the syscall it is stopped in again when it
    /// resumes: back over `svc #0` (2 bytes in Thumb state, 4 in ARM state); r7
    /// still holds the number and r0 the first argument, since no result was
    /// written.
    #[inline]
    pub fn restart_syscall(&mut self) {
        let len = if self.gp.cpsr & CPSR_T != 0 {
            2
        } else {
            SYSCALL_INSN_LEN as u32
        };
        self.gp.regs[15] = self.gp.regs[15].wrapping_sub(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_rewinds_by_state() {
        let mut r = UserRegs::new_user(0x1_0000, 0x7000);
        r.set_ip(0x1_0100);
        r.restart_syscall();
        assert_eq!(r.ip(), 0x1_00fc);
        r.gp.cpsr |= CPSR_T;
        r.restart_syscall();
        assert_eq!(r.ip(), 0x1_00fa);
    }

    #[test]
    fn thumb_entry() {
        let r = UserRegs::new_user(0x1_0001, 0x7000);
        assert_eq!(r.ip(), 0x1_0000);
        assert_eq!(r.gp.cpsr, CPSR_USR | CPSR_T);
        let r = UserRegs::new_user(0x1_0000, 0x7000);
        assert_eq!(r.gp.cpsr, CPSR_USR);
        assert_eq!(r.sp(), 0x7000);
    }

    #[test]
    fn args_and_ret() {
        let mut r = UserRegs::default();
        r.gp.regs[..6].copy_from_slice(&[1, 2, 3, 4, 5, 0xffff_ff9c]);
        r.gp.syscallno = 0xf0005;
        assert_eq!(r.syscall_args(), [1, 2, 3, 4, 5, 0xffff_ff9c]);
        assert_eq!(r.syscall_nr(), 0xf0005);
        r.set_syscall_ret((-4i64) as u64);
        assert_eq!(r.gp.regs[0], 0xffff_fffc);
    }
}
