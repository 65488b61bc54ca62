//! The aarch64 register requests (`crate::sys::ptrace` has the rest).
//!
//! Registers go through PTRACE_GETREGSET/SETREGSET: NT_PRSTATUS (`struct
//! user_pt_regs`), NT_ARM_TLS (TPIDR_EL0) and NT_ARM_SYSTEM_CALL (the syscall
//! number of a syscall stop; -1 outside one). arm64 has no PTRACE_GETREGS.
//!
//! A kernel artefact to know: at a syscall stop the kernel reports x7 as 0 or 1
//! (entry or exit: `report_syscall` in arch/arm64/kernel/ptrace.c) and puts the
//! thread's own x7 back when the stop ends, so x7 read at a syscall stop is not
//! the guest's and x7 written there is lost. `host` works around it.

use crate::sys::{check, raw, Errno};

const PTRACE_CONT: usize = 7;
const PTRACE_KILL: usize = 8;
const PTRACE_SYSEMU: usize = 31;
const PTRACE_SETOPTIONS: usize = 0x4200;
const PTRACE_GETSIGINFO: usize = 0x4202;
const PTRACE_GETREGSET: usize = 0x4204;
const PTRACE_SETREGSET: usize = 0x4205;
const PTRACE_GET_RSEQ_CONFIGURATION: usize = 0x420f;

const NT_PRSTATUS: usize = 1;
const NT_PRFPREG: usize = 2;
const NT_ARM_TLS: usize = 0x401;
const NT_ARM_SYSTEM_CALL: usize = 0x404;

/// The ptrace requests the shim makes (for umbra's own seccomp allow-list).
pub const REQUESTS: &[usize] = &[
    0,
    PTRACE_CONT,
    PTRACE_KILL,
    PTRACE_SYSEMU,
    PTRACE_SETOPTIONS,
    PTRACE_GETSIGINFO,
    PTRACE_GETREGSET,
    PTRACE_SETREGSET,
    PTRACE_GET_RSEQ_CONFIGURATION,
];

/// AUDIT_ARCH_AARCH64.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

/// The kernel's `struct user_pt_regs` (NT_PRSTATUS).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserPtRegs {
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
}

/// A stopped stub's registers: NT_PRSTATUS, NT_ARM_TLS and NT_ARM_SYSTEM_CALL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawRegs {
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    pub tpidr: u64,
    /// The syscall number (sign-extended; u64::MAX outside a syscall).
    pub syscallno: u64,
}

/// Size of `struct user_fpsimd_state` (NT_PRFPREG): v0-v31, fpsr, fpcr, padding.
pub const FPREGS_SIZE: usize = 528;

/// PTRACE_GETREGSET of `note` into `buf`; returns the length the kernel filled.
fn getregset(pid: i32, note: usize, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut iov = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: `iov` describes `buf`, writable for its length; the kernel writes at
    // most `iov[1]` bytes there and updates `iov[1]`.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_GETREGSET,
            pid as usize,
            note,
            iov.as_mut_ptr() as usize,
            0,
            0,
        )
    })?;
    Ok(iov[1])
}

/// PTRACE_SETREGSET of `note` from `buf`.
fn setregset(pid: i32, note: usize, buf: &[u8]) -> Result<(), Errno> {
    let iov = [buf.as_ptr() as usize, buf.len()];
    // SAFETY: `iov` describes `buf`, readable for its length; the kernel only
    // reads it.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_SETREGSET,
            pid as usize,
            note,
            iov.as_ptr() as usize,
            0,
            0,
        )
    })
    .map(|_| ())
}

fn words_to_bytes<const N: usize, const B: usize>(w: &[u64; N]) -> [u8; B] {
    let mut b = [0u8; B];
    for (d, s) in b.chunks_exact_mut(8).zip(w) {
        d.copy_from_slice(&s.to_ne_bytes());
    }
    b
}

fn bytes_to_words<const N: usize>(b: &[u8]) -> [u64; N] {
    let mut w = [0u64; N];
    for (d, s) in w.iter_mut().zip(b.chunks_exact(8)) {
        *d = u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
    }
    w
}

/// NT_PRSTATUS only.
pub fn get_pt_regs(pid: i32) -> Result<UserPtRegs, Errno> {
    let mut b = [0u8; 34 * 8];
    if getregset(pid, NT_PRSTATUS, &mut b)? != b.len() {
        return Err(Errno::EIO);
    }
    let w: [u64; 34] = bytes_to_words(&b);
    let mut regs = [0u64; 31];
    regs.copy_from_slice(&w[..31]);
    Ok(UserPtRegs {
        regs,
        sp: w[31],
        pc: w[32],
        pstate: w[33],
    })
}

/// NT_PRSTATUS only.
pub fn set_pt_regs(pid: i32, r: &UserPtRegs) -> Result<(), Errno> {
    let mut w = [0u64; 34];
    w[..31].copy_from_slice(&r.regs);
    w[31] = r.sp;
    w[32] = r.pc;
    w[33] = r.pstate;
    let b: [u8; 34 * 8] = words_to_bytes(&w);
    setregset(pid, NT_PRSTATUS, &b)
}

/// NT_ARM_TLS: TPIDR_EL0.
pub fn get_tls(pid: i32) -> Result<u64, Errno> {
    let mut b = [0u8; 8];
    getregset(pid, NT_ARM_TLS, &mut b)?;
    Ok(u64::from_ne_bytes(b))
}

/// NT_ARM_TLS: TPIDR_EL0.
pub fn set_tls(pid: i32, v: u64) -> Result<(), Errno> {
    setregset(pid, NT_ARM_TLS, &v.to_ne_bytes())
}

/// NT_ARM_SYSTEM_CALL: the syscall number of the current stop (-1 outside one).
pub fn get_syscallno(pid: i32) -> Result<i32, Errno> {
    let mut b = [0u8; 4];
    getregset(pid, NT_ARM_SYSTEM_CALL, &mut b)?;
    Ok(i32::from_ne_bytes(b))
}

/// NT_ARM_SYSTEM_CALL: -1 means "not in a syscall": no restart on resume.
pub fn set_syscallno(pid: i32, v: i32) -> Result<(), Errno> {
    setregset(pid, NT_ARM_SYSTEM_CALL, &v.to_ne_bytes())
}

/// All of a stopped tracee's registers (three GETREGSET calls).
pub fn get_regs(pid: i32) -> Result<RawRegs, Errno> {
    let p = get_pt_regs(pid)?;
    let tpidr = get_tls(pid)?;
    let syscallno = get_syscallno(pid)? as i64 as u64;
    Ok(RawRegs {
        regs: p.regs,
        sp: p.sp,
        pc: p.pc,
        pstate: p.pstate,
        tpidr,
        syscallno,
    })
}

/// Sets NT_PRSTATUS, NT_ARM_TLS and NT_ARM_SYSTEM_CALL (from `r.syscallno`).
pub fn set_regs(pid: i32, r: &RawRegs) -> Result<(), Errno> {
    set_pt_regs(
        pid,
        &UserPtRegs {
            regs: r.regs,
            sp: r.sp,
            pc: r.pc,
            pstate: r.pstate,
        },
    )?;
    set_tls(pid, r.tpidr)?;
    set_syscallno(pid, r.syscallno as i64 as i32)
}

/// The registers at a stop with two GETREGSET calls (NT_PRSTATUS, NT_ARM_TLS):
/// at a syscall stop the number is x8 (what NT_ARM_SYSTEM_CALL reports for an
/// AArch64 task: `el0_svc` takes it from x8), elsewhere u64::MAX.
pub fn get_regs_at_stop(pid: i32, syscall_stop: bool) -> Result<RawRegs, Errno> {
    let p = get_pt_regs(pid)?;
    let tpidr = get_tls(pid)?;
    Ok(RawRegs {
        regs: p.regs,
        sp: p.sp,
        pc: p.pc,
        pstate: p.pstate,
        tpidr,
        syscallno: if syscall_stop { p.regs[8] } else { u64::MAX },
    })
}

/// Sets NT_PRSTATUS, and NT_ARM_TLS and NT_ARM_SYSTEM_CALL only when asked.
pub fn set_regs_with(pid: i32, r: &RawRegs, tls: bool, nr: bool) -> Result<(), Errno> {
    set_pt_regs(
        pid,
        &UserPtRegs {
            regs: r.regs,
            sp: r.sp,
            pc: r.pc,
            pstate: r.pstate,
        },
    )?;
    if tls {
        set_tls(pid, r.tpidr)?;
    }
    if nr {
        set_syscallno(pid, r.syscallno as i64 as i32)?;
    }
    Ok(())
}

/// NT_PRFPREG: the tracee's 528-byte `user_fpsimd_state` into `buf[..528]`.
pub fn get_fpregs(pid: i32, buf: &mut [u8]) -> Result<(), Errno> {
    if buf.len() < FPREGS_SIZE {
        return Err(Errno::EINVAL);
    }
    let n = getregset(pid, NT_PRFPREG, &mut buf[..FPREGS_SIZE])?;
    if n != FPREGS_SIZE {
        return Err(Errno::EIO);
    }
    Ok(())
}

/// NT_PRFPREG from the 528-byte image in `buf[..528]`.
pub fn set_fpregs(pid: i32, buf: &[u8]) -> Result<(), Errno> {
    if buf.len() < FPREGS_SIZE {
        return Err(Errno::EINVAL);
    }
    setregset(pid, NT_PRFPREG, &buf[..FPREGS_SIZE])
}

/// PTRACE_SYSEMU: resume; the next syscall stops at entry and is never executed.
#[inline]
pub fn sysemu(pid: i32, sig: i32) -> Result<(), Errno> {
    super::ptrace_noptr(PTRACE_SYSEMU, pid, 0, sig as usize).map(|_| ())
}
