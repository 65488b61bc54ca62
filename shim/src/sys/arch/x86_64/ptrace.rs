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

/// PTRACE_O_TRACESECCOMP: SECCOMP_RET_TRACE stops the tracee (event 7):
/// guest calls made under PTRACE_CONT after a returning batch.
pub const O_TRACESECCOMP: usize = 0x80;
/// PTRACE_EVENT_SECCOMP.
pub const EVENT_SECCOMP: i32 = 7;

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
    // SAFETY: PTRACE_GETREGS writes one `struct user_regs_struct`, which `r` is.
    unsafe { super::ptrace_struct(PTRACE_GETREGS, pid, &mut r) }?;
    Ok(r)
}

/// PTRACE_SETREGS.
#[inline]
pub fn set_regs(pid: i32, r: &RawRegs) -> Result<(), Errno> {
    // SAFETY: PTRACE_SETREGS only reads one `struct user_regs_struct`, which `r` is; the
    // pointer is never written through.
    unsafe { super::ptrace_struct(PTRACE_SETREGS, pid, (r as *const RawRegs).cast_mut()) }
}

/// PTRACE_SETREGSET NT_PRSTATUS with only the first `words` fields of `r`
/// (r15 first, in `struct user_regs_struct` order): Linux writes those and
/// leaves the others as they are, at a cost per field (SETREGS writes all
/// 27). EINVAL for more words than the struct has.
pub fn set_regs_prefix(pid: i32, r: &RawRegs, words: usize) -> Result<(), Errno> {
    if words > core::mem::size_of::<RawRegs>() / 8 {
        return Err(Errno::EINVAL);
    }
    let iov = [r as *const RawRegs as usize, words * 8];
    // SAFETY: `iov` describes the first `words` fields of `r` (within it, as
    // checked above), readable; the kernel only reads them.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_SETREGSET,
            pid as usize,
            NT_PRSTATUS,
            iov.as_ptr() as usize,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// PTRACE_GETFPREGS: the tracee's 512-byte FXSAVE image into `buf[..512]`.
pub fn get_fpregs(pid: i32, buf: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: PTRACE_GETFPREGS writes one FXSAVE image (`struct user_fpregs_struct`) of FPREGS_SIZE bytes.
    unsafe { super::ptrace_get_image(PTRACE_GETFPREGS, pid, buf, FPREGS_SIZE) }
}

/// PTRACE_SETFPREGS from the 512-byte FXSAVE image in `buf[..512]`.
pub fn set_fpregs(pid: i32, buf: &[u8]) -> Result<(), Errno> {
    // SAFETY: PTRACE_SETFPREGS only reads one FXSAVE image (`struct user_fpregs_struct`) of FPREGS_SIZE bytes.
    unsafe { super::ptrace_set_image(PTRACE_SETFPREGS, pid, buf, FPREGS_SIZE) }
}

const PTRACE_GETREGSET: usize = 0x4204;
const PTRACE_SETREGSET: usize = 0x4205;
/// The general registers' regset (`struct user_regs_struct`).
const NT_PRSTATUS: usize = 1;
/// The XSAVE area regset (x87, SSE, AVX and the other enabled components).
const NT_X86_XSTATE: usize = 0x202;

/// PTRACE_GETREGSET NT_X86_XSTATE: the tracee's XSAVE area into `buf`;
/// returns the length the kernel filled (its XSAVE size, at most `buf.len()`).
pub fn get_xstate(pid: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut iov = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: `iov` describes `buf`, writable for its length; the kernel writes
    // at most `iov[1]` bytes there and updates `iov[1]`.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_GETREGSET,
            pid as usize,
            NT_X86_XSTATE,
            iov.as_mut_ptr() as usize,
            0,
            0,
        )
    })?;
    Ok(iov[1])
}

/// PTRACE_SETREGSET NT_X86_XSTATE from an XSAVE area `get_xstate` filled.
pub fn set_xstate(pid: i32, buf: &[u8]) -> Result<(), Errno> {
    let iov = [buf.as_ptr() as usize, buf.len()];
    // SAFETY: `iov` describes `buf`, readable for its length; the kernel only
    // reads it.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_SETREGSET,
            pid as usize,
            NT_X86_XSTATE,
            iov.as_ptr() as usize,
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
