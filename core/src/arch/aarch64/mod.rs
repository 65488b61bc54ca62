//! aarch64: registers as in `struct user_pt_regs` plus TPIDR_EL0 and the syscall
//! number of NT_ARM_SYSTEM_CALL; the syscall convention (number in x8, arguments in
//! x0..x5, result in x0); and the user address-space layout (48-bit VA).

pub mod signal;

/// ELF machine of guest executables.
pub const ELF_MACHINE: u16 = umbra_abi::elf::EM_AARCH64;
/// ELF class of guest executables.
pub const ELF_CLASS: u8 = umbra_abi::elf::ELFCLASS64;
/// `uname -m`.
pub const UTS_MACHINE: &str = "aarch64";
/// AT_PLATFORM.
pub const PLATFORM: &str = "aarch64";
/// AT_HWCAP: FP and ASIMD.
pub const HWCAP: u64 = 0x3;
/// AT_HWCAP2: none of the optional features is promised.
pub const HWCAP2: u64 = 0;
/// Length of the `svc #0` instruction, for restarts.
pub const SYSCALL_INSN_LEN: u64 = 4;

/// One past the highest guest address. The host's stub pages sit above it.
pub const USER_END: u64 = 0xffff_ff00_0000;
/// Where signal handlers return to: the host provides `mov x8, #139 (rt_sigreturn);
/// svc #0` at this address of every address space, in its stub code page
/// (shim/src/sys/arch/aarch64/stub.rs, checked at start-up).
pub const SIGRETURN_TRAMPOLINE: u64 = USER_END + 8;
/// Where the first process's stack top is placed.
pub const STACK_TOP: u64 = 0xffff_fe00_0000;
/// Where mmap without a hint starts searching downward: 128 MiB below the
/// stack's top (Linux's smallest gap), below the largest stack umbra gives
/// (64 MiB), in the stack's GiB, as on x86_64. At 0xff00_0000_0000 the
/// first mappings (thread stacks) sat alone in their 512 GiB (one top-level
/// entry of the host's 4-level tables), so each munmap of one made the host
/// free and rebuild upper page-table levels.
pub const MMAP_BASE: u64 = 0xffff_f600_0000;
/// Load bias of static-PIE executables.
pub const PIE_BASE: u64 = 0xaaaa_aaaa_0000;

/// The guest's general registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpRegs {
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    /// TPIDR_EL0 (NT_ARM_TLS).
    pub tpidr: u64,
    /// The syscall number at a syscall stop (NT_ARM_SYSTEM_CALL).
    pub syscallno: u64,
}

/// One guest thread's user context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub gp: GpRegs,
}

impl UserRegs {
    pub fn new_user(entry: u64, sp: u64) -> Self {
        UserRegs {
            gp: GpRegs {
                pc: entry,
                sp,
                ..GpRegs::default()
            },
        }
    }
    #[inline]
    pub fn syscall_nr(&self) -> u64 {
        self.gp.syscallno
    }
    #[inline]
    pub fn syscall_args(&self) -> [u64; 6] {
        let r = &self.gp.regs;
        [r[0], r[1], r[2], r[3], r[4], r[5]]
    }
    #[inline]
    pub fn set_syscall_ret(&mut self, v: u64) {
        self.gp.regs[0] = v;
    }
    #[inline]
    pub fn ip(&self) -> u64 {
        self.gp.pc
    }
    #[inline]
    pub fn set_ip(&mut self, v: u64) {
        self.gp.pc = v;
    }
    #[inline]
    pub fn sp(&self) -> u64 {
        self.gp.sp
    }
    #[inline]
    pub fn set_sp(&mut self, v: u64) {
        self.gp.sp = v;
    }
    #[inline]
    pub fn tls(&self) -> u64 {
        self.gp.tpidr
    }
    #[inline]
    pub fn set_tls(&mut self, v: u64) {
        self.gp.tpidr = v;
    }
    /// Makes the guest execute the syscall it is stopped in again when it
    /// resumes: back over `svc #0`; x8 still holds the number and x0 the first
    /// argument, since no result was written.
    #[inline]
    pub fn restart_syscall(&mut self) {
        self.gp.pc = self.gp.pc.wrapping_sub(SYSCALL_INSN_LEN);
    }
}
