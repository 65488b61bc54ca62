//! x86_64: registers as in the kernel's `struct user_regs_struct`, the syscall
//! convention (number in rax, arguments in rdi, rsi, rdx, r10, r8, r9), and the
//! user address-space layout.

pub mod signal;

/// ELF machine of guest executables.
pub const ELF_MACHINE: u16 = umbra_abi::elf::EM_X86_64;
/// ELF class of guest executables.
pub const ELF_CLASS: u8 = umbra_abi::elf::ELFCLASS64;
/// `uname -m`.
pub const UTS_MACHINE: &str = "x86_64";
/// AT_PLATFORM.
pub const PLATFORM: &str = "x86_64";
/// AT_HWCAP: CPUID(1).EDX as Linux reports it; a conservative SSE2-level set.
pub const HWCAP: u64 = 0x078b_fbff;
/// AT_HWCAP2: none of FSGSBASE and RING3MWAIT is promised.
pub const HWCAP2: u64 = 0;
/// Length of the syscall instruction, for restarts.
pub const SYSCALL_INSN_LEN: u64 = 2;

/// One past the highest guest address. The host's stub pages sit above it.
pub const USER_END: u64 = 0x7fff_ff00_0000;
/// Where the first process's stack top is placed.
pub const STACK_TOP: u64 = 0x7fff_fe00_0000;
/// Where mmap without a hint starts searching downward: 128 MiB below the
/// stack's top (Linux's smallest gap), below the largest stack umbra gives
/// (64 MiB). So the first mappings share the stack's GiB, and the host keeps
/// their upper page tables: a thread stack mapped and unmapped again and
/// again (pthread_create + join) made the host free and rebuild three levels
/// of them at each munmap when mmap started at 0x7f00_0000_0000, alone in
/// its 512 GiB (issue 11).
pub const MMAP_BASE: u64 = 0x7fff_f600_0000;
/// Load bias of static-PIE executables.
pub const PIE_BASE: u64 = 0x5555_5555_4000;

/// The guest's general registers, in the layout of `struct user_regs_struct`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

/// One guest thread's user context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub gp: GpRegs,
}

impl UserRegs {
    /// Registers for a fresh process entering at `entry` with stack `sp`. Segment
    /// registers are filled in by the host from its own user segments.
    pub fn new_user(entry: u64, sp: u64) -> Self {
        UserRegs {
            gp: GpRegs {
                rip: entry,
                rsp: sp,
                eflags: 0x202,
                ..GpRegs::default()
            },
        }
    }
    /// The syscall number of a syscall trap.
    #[inline]
    pub fn syscall_nr(&self) -> u64 {
        self.gp.orig_rax
    }
    /// The six syscall arguments.
    #[inline]
    pub fn syscall_args(&self) -> [u64; 6] {
        let g = &self.gp;
        [g.rdi, g.rsi, g.rdx, g.r10, g.r8, g.r9]
    }
    /// Sets the syscall return value.
    #[inline]
    pub fn set_syscall_ret(&mut self, v: u64) {
        self.gp.rax = v;
    }
    #[inline]
    pub fn ip(&self) -> u64 {
        self.gp.rip
    }
    #[inline]
    pub fn set_ip(&mut self, v: u64) {
        self.gp.rip = v;
    }
    #[inline]
    pub fn sp(&self) -> u64 {
        self.gp.rsp
    }
    #[inline]
    pub fn set_sp(&mut self, v: u64) {
        self.gp.rsp = v;
    }
    /// The thread pointer (FS base).
    #[inline]
    pub fn tls(&self) -> u64 {
        self.gp.fs_base
    }
    #[inline]
    pub fn set_tls(&mut self, v: u64) {
        self.gp.fs_base = v;
    }
    /// Makes the guest execute the syscall it is stopped in again when it
    /// resumes: back over the `syscall` instruction, with the number in rax.
    #[inline]
    pub fn restart_syscall(&mut self) {
        self.gp.rip = self.gp.rip.wrapping_sub(SYSCALL_INSN_LEN);
        self.gp.rax = self.gp.orig_rax;
    }
}
