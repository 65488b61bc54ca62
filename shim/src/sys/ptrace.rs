//! ptrace(2), wait4(2) and kill(2) for the stubs.

use super::{check, raw, sc, Errno};

const PTRACE_CONT: usize = 7;
const PTRACE_KILL: usize = 8;
const PTRACE_GETREGS: usize = 12;
const PTRACE_SETREGS: usize = 13;
const PTRACE_GETFPREGS: usize = 14;
const PTRACE_SETFPREGS: usize = 15;
const PTRACE_SYSEMU: usize = 31;
const PTRACE_SETOPTIONS: usize = 0x4200;
const PTRACE_GETSIGINFO: usize = 0x4202;
const PTRACE_GET_SYSCALL_INFO: usize = 0x420e;
const PTRACE_GET_RSEQ_CONFIGURATION: usize = 0x420f;

/// PTRACE_O_TRACESYSGOOD: syscall stops report SIGTRAP | 0x80.
pub const O_TRACESYSGOOD: usize = 0x1;
/// PTRACE_O_EXITKILL: the tracee gets SIGKILL when the tracer exits.
pub const O_EXITKILL: usize = 0x10_0000;

/// AUDIT_ARCH_I386, the `arch` of a 32-bit (compat) syscall stop.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// AUDIT_ARCH_X86_64.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

const WALL: usize = 0x4000_0000;

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

/// Size of the FXSAVE image PTRACE_GETFPREGS and PTRACE_SETFPREGS use.
pub const FPREGS_SIZE: usize = 512;

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
