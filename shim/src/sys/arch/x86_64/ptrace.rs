//! The x86_64 register requests: PTRACE_GETREGS/SETREGS (`struct
//! user_regs_struct`), PTRACE_GETFPREGS/SETFPREGS (the FXSAVE image),
//! PTRACE_SYSEMU and PTRACE_GET_SYSCALL_INFO.

use crate::sys::{check, raw, Errno};

const PTRACE_GETREGS: usize = 12;
const PTRACE_SETREGS: usize = 13;
const PTRACE_GETFPREGS: usize = 14;
const PTRACE_SETFPREGS: usize = 15;
const PTRACE_SYSEMU: usize = 31;
const PTRACE_GET_SYSCALL_INFO: usize = 0x420e;

/// AUDIT_ARCH_I386, the `arch` of a 32-bit (compat) syscall stop.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// AUDIT_ARCH_X86_64.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// The kernel's `struct user_regs_struct` on x86_64, as PTRACE_GETREGS uses it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawRegs {
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

/// Size of the FXSAVE image PTRACE_GETFPREGS and PTRACE_SETFPREGS use.
pub const FPREGS_SIZE: usize = 512;

/// PTRACE_GETREGS.
#[inline]
pub fn get_regs(pid: i32) -> Result<RawRegs, Errno> {
    let mut r = RawRegs::default();
    // SAFETY: `r` is a writable `struct user_regs_struct` (repr(C), 27 u64).
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_GETREGS,
            pid as usize,
            0,
            &mut r as *mut RawRegs as usize,
            0,
            0,
        )
    })?;
    Ok(r)
}

/// PTRACE_SETREGS.
#[inline]
pub fn set_regs(pid: i32, r: &RawRegs) -> Result<(), Errno> {
    // SAFETY: `r` is a readable `struct user_regs_struct`; the kernel only reads it.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_SETREGS,
            pid as usize,
            0,
            r as *const RawRegs as usize,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// PTRACE_GETFPREGS: the tracee's 512-byte FXSAVE image into `buf[..512]`.
pub fn get_fpregs(pid: i32, buf: &mut [u8]) -> Result<(), Errno> {
    if buf.len() < FPREGS_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut img = [0u64; FPREGS_SIZE / 8];
    // SAFETY: `img` is 512 writable bytes, a `struct user_fpregs_struct`.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_GETFPREGS,
            pid as usize,
            0,
            img.as_mut_ptr() as usize,
            0,
            0,
        )
    })?;
    for (d, w) in buf.chunks_exact_mut(8).zip(img) {
        d.copy_from_slice(&w.to_ne_bytes());
    }
    Ok(())
}

/// PTRACE_SETFPREGS from the 512-byte FXSAVE image in `buf[..512]`.
pub fn set_fpregs(pid: i32, buf: &[u8]) -> Result<(), Errno> {
    if buf.len() < FPREGS_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut img = [0u64; FPREGS_SIZE / 8];
    for (w, s) in img.iter_mut().zip(buf.chunks_exact(8)) {
        *w = u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
    }
    // SAFETY: `img` is 512 readable bytes, a `struct user_fpregs_struct`; the
    // kernel only reads it.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_SETFPREGS,
            pid as usize,
            0,
            img.as_ptr() as usize,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// PTRACE_SYSEMU: resume; the next syscall stops at entry and is never executed.
#[inline]
pub fn sysemu(pid: i32, sig: i32) -> Result<(), Errno> {
    super::ptrace_noptr(PTRACE_SYSEMU, pid, 0, sig as usize).map(|_| ())
}

/// PTRACE_GET_SYSCALL_INFO: the AUDIT_ARCH_* of the current syscall stop.
pub fn syscall_arch(pid: i32) -> Result<u32, Errno> {
    let mut buf = [0u64; 11]; // struct ptrace_syscall_info is at most 88 bytes
    let size = core::mem::size_of_val(&buf);
    // SAFETY: `buf` is `size` writable bytes; the kernel writes at most `size`.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_GET_SYSCALL_INFO,
            pid as usize,
            size,
            buf.as_mut_ptr() as usize,
            0,
            0,
        )
    })?;
    // op (u8), pad[3], arch (u32)
    Ok((buf[0] >> 32) as u32)
}
