//! ptrace(2), wait4(2) and kill(2) for the stubs (aarch64).
//!
//! Registers go through PTRACE_GETREGSET/SETREGSET: NT_PRSTATUS (`struct
//! user_pt_regs`), NT_ARM_TLS (TPIDR_EL0) and NT_ARM_SYSTEM_CALL (the syscall
//! number of a syscall stop; -1 outside one). arm64 has no PTRACE_GETREGS.
//!
//! A kernel artefact to know: at a syscall stop the kernel reports x7 as 0 or 1
//! (entry or exit: `report_syscall` in arch/arm64/kernel/ptrace.c) and puts the
//! thread's own x7 back when the stop ends, so x7 read at a syscall stop is not
//! the guest's and x7 written there is lost. `host` works around it.

use super::{check, raw, sc, Errno};

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

/// PTRACE_O_TRACESYSGOOD: syscall stops report SIGTRAP | 0x80.
pub const O_TRACESYSGOOD: usize = 0x1;
/// PTRACE_O_EXITKILL: the tracee gets SIGKILL when the tracer exits.
pub const O_EXITKILL: usize = 0x10_0000;

/// AUDIT_ARCH_AARCH64.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

const WALL: usize = 0x4000_0000;

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

/// What wait4 reported about a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// It exited with this status.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// It is in a ptrace stop: `sig` is WSTOPSIG (SIGTRAP | 0x80 for syscall stops),
    /// `event` is `status >> 16` (a PTRACE_EVENT_*, 0 for none).
    Stopped { sig: i32, event: i32 },
}

/// The fields of a siginfo_t that the shim uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    /// si_addr for faults (the union's first word).
    pub addr: u64,
    /// si_pid for signals sent by a process (the union's first int).
    pub pid: i32,
}

/// Size of `struct user_fpsimd_state` (NT_PRFPREG): v0-v31, fpsr, fpcr, padding.
pub const FPREGS_SIZE: usize = 528;

/// The rseq registration of a tracee, as PTRACE_GET_RSEQ_CONFIGURATION reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RseqConfig {
    pub pointer: u64,
    pub size: u32,
    pub signature: u32,
    pub flags: u32,
    pub pad: u32,
}

#[inline(always)]
fn ptrace_noptr(req: usize, pid: i32, addr: usize, data: usize) -> Result<usize, Errno> {
    // SAFETY: only requests whose `addr`/`data` are plain integers reach here (the
    // callers below); the kernel dereferences nothing in our address space.
    unsafe { sc(raw::nr::PTRACE, [req, pid as usize, addr, data, 0, 0]) }
}

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

/// tgkill(pid, pid, sig): a signal to the (single) thread of process `pid`.
pub fn tgkill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: no pointers.
    unsafe {
        sc(
            raw::nr::TGKILL,
            [pid as usize, pid as usize, sig as usize, 0, 0, 0],
        )
    }
    .map(|_| ())
}

/// PTRACE_SYSEMU: resume; the next syscall stops at entry and is never executed.
#[inline]
pub fn sysemu(pid: i32, sig: i32) -> Result<(), Errno> {
    ptrace_noptr(PTRACE_SYSEMU, pid, 0, sig as usize).map(|_| ())
}

/// PTRACE_CONT: resume; syscalls really run.
#[inline]
pub fn cont(pid: i32, sig: i32) -> Result<(), Errno> {
    ptrace_noptr(PTRACE_CONT, pid, 0, sig as usize).map(|_| ())
}

/// PTRACE_SETOPTIONS.
pub fn set_options(pid: i32, opts: usize) -> Result<(), Errno> {
    ptrace_noptr(PTRACE_SETOPTIONS, pid, 0, opts).map(|_| ())
}

/// PTRACE_GETSIGINFO.
pub fn get_siginfo(pid: i32) -> Result<SigInfo, Errno> {
    let mut buf = [0u64; 16]; // siginfo_t is 128 bytes
                              // SAFETY: `buf` is 128 writable bytes, the size of siginfo_t.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_GETSIGINFO,
            pid as usize,
            0,
            buf.as_mut_ptr() as usize,
            0,
            0,
        )
    })?;
    Ok(SigInfo {
        signo: buf[0] as u32 as i32,
        code: (buf[1] & 0xffff_ffff) as u32 as i32,
        addr: buf[2],
        pid: (buf[2] & 0xffff_ffff) as u32 as i32,
    })
}

/// PTRACE_GET_RSEQ_CONFIGURATION (Linux 5.13+).
pub fn rseq_config(pid: i32) -> Result<RseqConfig, Errno> {
    let mut c = RseqConfig::default();
    let size = core::mem::size_of::<RseqConfig>();
    // SAFETY: `c` is `size` writable bytes of the kernel's struct layout.
    check(unsafe {
        raw::syscall6(
            raw::nr::PTRACE,
            PTRACE_GET_RSEQ_CONFIGURATION,
            pid as usize,
            size,
            &mut c as *mut RseqConfig as usize,
            0,
            0,
        )
    })?;
    Ok(c)
}

/// Decodes a wait status word.
pub fn decode_status(status: i32) -> WaitStatus {
    if status & 0x7f == 0 {
        WaitStatus::Exited((status >> 8) & 0xff)
    } else if status & 0xff == 0x7f {
        WaitStatus::Stopped {
            sig: (status >> 8) & 0xff,
            event: (status >> 16) & 0xffff,
        }
    } else {
        WaitStatus::Signaled(status & 0x7f)
    }
}

/// wait4(pid, __WALL), retried on EINTR.
#[inline]
pub fn wait(pid: i32) -> Result<WaitStatus, Errno> {
    loop {
        let mut status: i32 = 0;
        // SAFETY: `status` is a writable int; rusage is NULL.
        let r = check(unsafe {
            raw::syscall6(
                raw::nr::WAIT4,
                pid as usize,
                &mut status as *mut i32 as usize,
                WALL,
                0,
                0,
                0,
            )
        });
        match r {
            Ok(_) => return Ok(decode_status(status)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// wait4(pid, __WALL | WNOHANG): `None` while nothing is to report.
pub fn wait_nohang(pid: i32) -> Result<Option<WaitStatus>, Errno> {
    let mut status: i32 = 0;
    // SAFETY: `status` is a writable int; rusage is NULL.
    let r = check(unsafe {
        raw::syscall6(
            raw::nr::WAIT4,
            pid as usize,
            &mut status as *mut i32 as usize,
            WALL | 1,
            0,
            0,
            0,
        )
    })?;
    Ok(if r == 0 {
        None
    } else {
        Some(decode_status(status))
    })
}

/// kill(2).
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: no pointers.
    unsafe { sc(raw::nr::KILL, [pid as usize, sig as usize, 0, 0, 0, 0]) }.map(|_| ())
}

/// SIGKILLs `pid` and reaps it: waits until its exit is reported (ptrace stops
/// reported meanwhile are passed over). Never leaves a zombie of `pid`.
///
/// A tracee is killed with PTRACE_KILL (Linux 5.19+: SIGKILL in any state;
/// before: SIGKILL injected at its stop, and umbra's stubs are always stopped
/// when umbra kills them), which can only ever reach umbra's own tracees; only
/// a process that is not (yet) one, a stub child that failed its set-up, gets
/// kill(2).
pub fn kill_and_reap(pid: i32) {
    if pid <= 0 {
        return;
    }
    if ptrace_noptr(PTRACE_KILL, pid, 0, 0).is_err() {
        let _ = kill(pid, 9);
    }
    loop {
        match wait(pid) {
            Ok(WaitStatus::Exited(_)) | Ok(WaitStatus::Signaled(_)) => return,
            Ok(WaitStatus::Stopped { .. }) => continue,
            Err(_) => return, // ECHILD: already reaped
        }
    }
}
