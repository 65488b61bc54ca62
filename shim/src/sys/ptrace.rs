//! ptrace(2), wait4(2) and kill(2) for the stubs: the requests every host
//! arch shares. The register requests (and PTRACE_SYSEMU, which 32-bit ARM
//! lacks) are in `arch/<arch>/ptrace.rs`, re-exported here.

use super::{check, raw, sc, Errno};

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64/ptrace.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64/ptrace.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm/ptrace.rs")]
mod arch;
pub use arch::*;

const PTRACE_CONT: usize = 7;
const PTRACE_KILL: usize = 8;
const PTRACE_SETOPTIONS: usize = 0x4200;
const PTRACE_GETSIGINFO: usize = 0x4202;
const PTRACE_GET_RSEQ_CONFIGURATION: usize = 0x420f;

/// PTRACE_O_TRACESYSGOOD: syscall stops report SIGTRAP | 0x80.
pub const O_TRACESYSGOOD: usize = 0x1;
/// PTRACE_O_EXITKILL: the tracee gets SIGKILL when the tracer exits.
pub const O_EXITKILL: usize = 0x10_0000;

const WALL: usize = 0x4000_0000;

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
pub(crate) fn ptrace_noptr(req: usize, pid: i32, addr: usize, data: usize) -> Result<usize, Errno> {
    // SAFETY: only requests whose `addr`/`data` are plain integers reach here (the
    // callers below); the kernel dereferences nothing in our address space.
    unsafe { sc(raw::nr::PTRACE, [req, pid as usize, addr, data, 0, 0]) }
}

/// A ptrace request that reads or writes the `T` at `data` (the register
/// requests of `arch/<arch>/ptrace.rs`).
///
/// # Safety
/// `req` must access at most `size_of::<T>()` bytes at `data`, and what it
/// writes must be a valid `T` (the callers' `T` are plain integer structs).
#[inline(always)]
pub(crate) unsafe fn ptrace_struct<T>(req: usize, pid: i32, data: *mut T) -> Result<(), Errno> {
    // SAFETY: forwarded to the caller's contract.
    unsafe { sc(raw::nr::PTRACE, [req, pid as usize, 0, data as usize, 0, 0]) }.map(|_| ())
}

// PTRACE_GETREGSET on aarch64 (arch/aarch64/ptrace.rs) takes an iovec instead.
#[cfg(not(target_arch = "aarch64"))]
/// A ptrace request that writes an image of `len` bytes at `data` into
/// `buf[..len]` (PTRACE_GETFPREGS, PTRACE_GETVFPREGS). EINVAL if `buf` is
/// shorter.
///
/// # Safety
/// `req` must write at most `len` bytes at `data`.
pub(crate) unsafe fn ptrace_get_image(
    req: usize,
    pid: i32,
    buf: &mut [u8],
    len: usize,
) -> Result<(), Errno> {
    let b = buf.get_mut(..len).ok_or(Errno::EINVAL)?;
    // SAFETY: `b` is `len` writable bytes; the caller's contract bounds the write.
    unsafe { ptrace_struct(req, pid, b.as_mut_ptr()) }
}

// PTRACE_GETREGSET on aarch64 (arch/aarch64/ptrace.rs) takes an iovec instead.
#[cfg(not(target_arch = "aarch64"))]
/// A ptrace request that reads an image of `len` bytes at `data` from
/// `buf[..len]` (PTRACE_SETFPREGS, PTRACE_SETVFPREGS). EINVAL if `buf` is
/// shorter.
///
/// # Safety
/// `req` must only read, at most `len` bytes, at `data`.
pub(crate) unsafe fn ptrace_set_image(
    req: usize,
    pid: i32,
    buf: &[u8],
    len: usize,
) -> Result<(), Errno> {
    let b = buf.get(..len).ok_or(Errno::EINVAL)?;
    // SAFETY: `b` is `len` readable bytes and the caller's request only reads
    // them (the pointer is never written through).
    unsafe { ptrace_struct(req, pid, b.as_ptr().cast_mut()) }
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
                              // SAFETY: PTRACE_GETSIGINFO writes one siginfo_t (128 bytes), which `buf` is.
    unsafe { ptrace_struct(PTRACE_GETSIGINFO, pid, &mut buf) }?;
    let mut b = [0u8; 128];
    for (d, w) in b.chunks_exact_mut(8).zip(buf) {
        d.copy_from_slice(&w.to_ne_bytes());
    }
    let int = |at: usize| i32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    // si_signo, si_errno, si_code, then the union, aligned to a pointer: at
    // byte 16 on 64-bit hosts, 12 on 32-bit ones.
    const UNION: usize = if cfg!(target_pointer_width = "64") {
        16
    } else {
        12
    };
    let addr = if cfg!(target_pointer_width = "64") {
        u64::from_ne_bytes([
            b[UNION],
            b[UNION + 1],
            b[UNION + 2],
            b[UNION + 3],
            b[UNION + 4],
            b[UNION + 5],
            b[UNION + 6],
            b[UNION + 7],
        ])
    } else {
        int(UNION) as u32 as u64
    };
    Ok(SigInfo {
        signo: int(0),
        code: int(8),
        addr,
        pid: int(UNION),
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
