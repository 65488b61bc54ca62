//! Seccomp filters: the stub's (installed by the stub child right before it
//! jumps into the stub blob) and umbra's own. What differs by arch (the audit
//! arch, the x32 bit, the vsyscall page, arm's skipped calls) is in
//! `arch/<arch>/seccomp.rs`.
//!
//! Ordering on x86_64 (kernel/entry/syscall-common.c, `syscall_trace_enter`):
//! the ptrace syscall-entry report comes first, and under PTRACE_SYSEMU the
//! syscall is skipped right after it, before seccomp is evaluated. So a guest
//! syscall made while umbra runs the stub with PTRACE_SYSEMU never reaches the
//! filter (nor the host kernel's syscall table): it stops in umbra. Under
//! PTRACE_CONT (the stub's mapping batches) syscalls really run and the filter
//! decides. The tests `stub_seccomp_*` check both directions on this kernel.
//! The vsyscall page is the exception to SYSEMU: its emulation asks seccomp
//! only (no ptrace report), so the filters answer it with SECCOMP_RET_TRAP
//! (the call never runs; umbra sees the SIGSYS and emulates the call).

use super::{check, raw, stub, Errno};

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64/seccomp.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64/seccomp.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm/seccomp.rs")]
mod arch;
pub use arch::*;

/// One classic-BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const JA: u16 = 0x05;
const RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data`.
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub const OFF_IP_LO: u32 = 8;
pub const OFF_IP_HI: u32 = 12;
/// Low word of syscall argument `i`.
pub const fn arg_lo(i: u32) -> u32 {
    16 + 8 * i
}
/// High word of syscall argument `i`.
pub const fn arg_hi(i: u32) -> u32 {
    20 + 8 * i
}

/// A jump target: a label, or the next instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// Fall through to the next instruction.
pub const NEXT: Label = Label(usize::MAX);

enum Op {
    Ld(u32),
    Jmp(u16, u32, Label, Label),
    Ja(Label),
    Ret(u32),
    Bind(Label),
}

/// A tiny classic-BPF assembler with forward labels.
#[derive(Default)]
pub struct Bpf {
    ops: Vec<Op>,
    labels: usize,
}

impl Bpf {
    pub fn new() -> Bpf {
        Bpf::default()
    }
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    pub fn bind(&mut self, l: Label) {
        self.ops.push(Op::Bind(l));
    }
    /// A = the 32-bit word at `off` of seccomp_data.
    pub fn ld(&mut self, off: u32) {
        self.ops.push(Op::Ld(off));
    }
    pub fn jeq(&mut self, k: u32, t: Label, f: Label) {
        self.ops.push(Op::Jmp(JEQ_K, k, t, f));
    }
    pub fn jge(&mut self, k: u32, t: Label, f: Label) {
        self.ops.push(Op::Jmp(JGE_K, k, t, f));
    }
    pub fn jset(&mut self, k: u32, t: Label, f: Label) {
        self.ops.push(Op::Jmp(JSET_K, k, t, f));
    }
    pub fn ja(&mut self, l: Label) {
        self.ops.push(Op::Ja(l));
    }
    pub fn ret(&mut self, v: u32) {
        self.ops.push(Op::Ret(v));
    }

    /// Resolves the labels. Fails on an unbound label, a backward jump or a
    /// conditional jump farther than 255 instructions.
    pub fn assemble(&self) -> Result<Vec<SockFilter>, String> {
        let mut at = vec![usize::MAX; self.labels];
        let mut n = 0;
        for op in &self.ops {
            match op {
                Op::Bind(l) => at[l.0] = n,
                _ => n += 1,
            }
        }
        let mut out = Vec::with_capacity(n);
        let off = |l: Label, pc: usize| -> Result<usize, String> {
            if l == NEXT {
                return Ok(0);
            }
            let t = *at.get(l.0).ok_or("bad label")?;
            if t == usize::MAX || t <= pc {
                return Err(format!("label {} unbound or backward", l.0));
            }
            Ok(t - pc - 1)
        };
        for op in &self.ops {
            let pc = out.len();
            let ins = match *op {
                Op::Bind(_) => continue,
                Op::Ld(k) => SockFilter {
                    code: LD_W_ABS,
                    jt: 0,
                    jf: 0,
                    k,
                },
                Op::Ret(k) => SockFilter {
                    code: RET_K,
                    jt: 0,
                    jf: 0,
                    k,
                },
                Op::Ja(l) => SockFilter {
                    code: JA,
                    jt: 0,
                    jf: 0,
                    k: off(l, pc)? as u32,
                },
                Op::Jmp(code, k, t, f) => {
                    let (t, f) = (off(t, pc)?, off(f, pc)?);
                    if t > 255 || f > 255 {
                        return Err(format!("jump too far at {pc}"));
                    }
                    SockFilter {
                        code,
                        jt: t as u8,
                        jf: f as u8,
                        k,
                    }
                }
            };
            out.push(ins);
        }
        if out.len() > 4096 {
            return Err("filter too long".into());
        }
        Ok(out)
    }
}

/// Emits: if the instruction pointer is outside the stub code page, jump to
/// `outside`; else fall through.
#[cfg(not(target_arch = "arm"))]
pub(crate) fn ip_in_stub_code(b: &mut Bpf, outside: Label) {
    ip_in_page(b, stub::STUB_CODE, outside);
}

/// Emits: if the instruction pointer is outside the page at `page`, jump to
/// `outside`; else fall through.
pub(crate) fn ip_in_page(b: &mut Bpf, page: u64, outside: Label) {
    b.ld(OFF_IP_HI);
    b.jeq((page >> 32) as u32, NEXT, outside);
    b.ld(OFF_IP_LO);
    b.jge(page as u32, NEXT, outside);
    b.jge((page + 4096) as u32, outside, NEXT);
}

/// Emits the rules of the stub's own calls (IP already checked): mmap of the
/// memory file (fd 3) MAP_SHARED|MAP_FIXED, munmap, mprotect, rseq unregister,
/// and `clone(CLONE_PARENT | CLONE_PTRACE | SIGCHLD, 0, ...)` (a template stub forking a new
/// stub). Allows them, kills on anything else.
pub(crate) fn stub_calls(b: &mut Bpf) {
    let allow = b.label();
    let kill = b.label();
    let mmap = b.label();
    let rseq = b.label();
    let clone = b.label();
    b.ld(OFF_NR);
    b.jeq(raw::nr::MMAP as u32, mmap, NEXT);
    b.jeq(raw::nr::MUNMAP as u32, allow, NEXT);
    b.jeq(raw::nr::MPROTECT as u32, allow, NEXT);
    b.jeq(raw::nr::CLONE as u32, clone, NEXT);
    b.jeq(raw::nr::RSEQ as u32, rseq, kill);
    b.bind(clone);
    b.ld(arg_lo(0));
    b.jeq(stub::STUB_CLONE_FLAGS as u32, NEXT, kill);
    b.ld(arg_hi(0));
    b.jeq(0, NEXT, kill);
    b.ld(arg_lo(1)); // no new stack
    b.jeq(0, NEXT, kill);
    b.ld(arg_hi(1));
    b.jeq(0, allow, kill);
    b.bind(mmap);
    // The high half of the flags is not looked at: Linux ignores it (and
    // the flags it does not know) for MAP_SHARED, and x86_64's stub filter
    // wants the batch cookie there (`arch::stub_filter`).
    b.ld(arg_lo(3));
    b.jeq(0x11, NEXT, kill); // MAP_SHARED | MAP_FIXED
    b.ld(arg_lo(4));
    b.jeq(stub::STUB_MEMFD as u32, allow, kill);
    b.bind(rseq);
    b.ld(arg_lo(2));
    b.jeq(1, allow, kill); // RSEQ_FLAG_UNREGISTER
    b.bind(allow);
    b.ret(RET_ALLOW);
    b.bind(kill);
    b.ret(RET_KILL_PROCESS);
}

/// The stub's filter: only its mapping calls, only from the stub code page;
/// what comes from elsewhere is `arch::stub_outside`'s (x86_64: ENOSYS for the
/// vsyscall page; arm: the skipped calls and set_tls); everything else kills
/// the stub.
pub fn stub_filter() -> Result<Vec<SockFilter>, String> {
    let mut b = Bpf::new();
    #[cfg(target_arch = "x86_64")]
    {
        let (c1, c2) = stub_cookie();
        arch::stub_filter(&mut b, (c1 >> 32) as u32, (c2 >> 32) as u32);
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        arch::prologue(&mut b);
        let outside = b.label();
        arch::stub_pages(&mut b, outside);
        b.bind(outside);
        arch::stub_outside(&mut b);
    }
    b.assemble()
}

/// The ptrace platform's batch cookie on x86_64, each half shifted into the
/// high word, as `sys::trap::cookie` (two random non-zero words, picked
/// once): the stub filter allows the stub's mapping calls only with it in
/// the high halves of arguments 3 and 4, which the batch code ORs in from
/// rbx and rbp. umbra puts it there with PTRACE_SETREGS for a batch; guest
/// code, which may run under PTRACE_CONT right after a returning batch
/// (`host::run_ret_batch`) and may jump onto the stub's `syscall`, never
/// sees it. (0, 0) where getrandom fails: then no returning batches.
#[cfg(target_arch = "x86_64")]
pub fn stub_cookie() -> (u64, u64) {
    static K: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    *K.get_or_init(|| {
        let mut w = [0u32; 2];
        // SAFETY: getrandom writes at most 8 bytes into `w`, a live local.
        let r =
            unsafe { raw::syscall6(raw::nr::GETRANDOM, w.as_mut_ptr() as usize, 8, 0, 0, 0, 0) };
        if r != 8 {
            return (0, 0);
        }
        (((w[0] | 1) as u64) << 32, ((w[1] | 1) as u64) << 32)
    })
}

/// A syscall umbra may make, with its argument checks.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    /// Allowed with any arguments.
    Any(usize),
    /// Allowed when the low word of argument `arg` is one of `vals` (and, if
    /// `hi0`, its high word is 0).
    ArgIn {
        nr: usize,
        arg: u32,
        vals: &'static [u32],
        hi0: bool,
    },
    /// Allowed when the low word of argument `a.0` is one of `a.1` and that
    /// of argument `b.0` one of `b.1` (socket(2): its domain and type).
    Args2 {
        nr: usize,
        a: (u32, &'static [u32]),
        b: (u32, &'static [u32]),
    },
    /// kill/tgkill: argument `pid_arg` is a positive pid (not a group, not -1),
    /// and the signal (argument `sig_arg`) is one of `sigs`.
    Signal {
        nr: usize,
        pid_arg: u32,
        sig_arg: u32,
        sigs: &'static [u32],
    },
    /// mmap/mprotect: no PROT_EXEC (argument 2), except exactly
    /// `mmap(STUB_CODE, 4096, PROT_READ|PROT_EXEC, MAP_SHARED|MAP_FIXED, 3, _)`
    /// (a new stub mapping its code page) when `stub_code` is set.
    NoExec { nr: usize, stub_code: bool },
}

/// Emits one rule: for its syscall number, allow or kill; other numbers fall
/// through to the code after it.
fn emit_rule(b: &mut Bpf, r: &Rule) {
    let skip = b.label();
    let allow = b.label();
    let kill = b.label();
    let nr = match *r {
        Rule::Any(nr)
        | Rule::ArgIn { nr, .. }
        | Rule::Args2 { nr, .. }
        | Rule::Signal { nr, .. }
        | Rule::NoExec { nr, .. } => nr,
    };
    b.ld(OFF_NR);
    b.jeq(nr as u32, NEXT, skip);
    match *r {
        Rule::Any(_) => b.ja(allow),
        Rule::ArgIn { arg, vals, hi0, .. } => {
            if hi0 {
                b.ld(arg_hi(arg));
                b.jeq(0, NEXT, kill);
            }
            b.ld(arg_lo(arg));
            for &v in vals {
                b.jeq(v, allow, NEXT);
            }
            b.ja(kill);
        }
        Rule::Args2 { a, b: second, .. } => {
            let next = b.label();
            b.ld(arg_lo(a.0));
            for &v in a.1 {
                b.jeq(v, next, NEXT);
            }
            b.ja(kill);
            b.bind(next);
            b.ld(arg_lo(second.0));
            for &v in second.1 {
                b.jeq(v, allow, NEXT);
            }
            b.ja(kill);
        }
        Rule::Signal {
            pid_arg,
            sig_arg,
            sigs,
            ..
        } => {
            b.ld(arg_lo(pid_arg));
            b.jeq(0, kill, NEXT);
            b.jset(0x8000_0000, kill, NEXT);
            b.ld(arg_lo(sig_arg));
            for &v in sigs {
                b.jeq(v, allow, NEXT);
            }
            b.ja(kill);
        }
        Rule::NoExec { stub_code, .. } => {
            let exec = b.label();
            b.ld(arg_lo(2));
            b.jset(4, exec, allow);
            b.bind(exec);
            if stub_code {
                b.ld(arg_lo(0));
                b.jeq(stub::STUB_CODE as u32, NEXT, kill);
                b.ld(arg_hi(0));
                b.jeq((stub::STUB_CODE >> 32) as u32, NEXT, kill);
                b.ld(arg_lo(1));
                b.jeq(4096, NEXT, kill);
                b.ld(arg_lo(2));
                b.jeq(5, NEXT, kill);
                b.ld(arg_lo(3));
                b.jeq(0x11, NEXT, kill);
                b.ld(arg_lo(4));
                b.jeq(stub::STUB_MEMFD as u32, allow, kill);
            } else {
                b.ja(kill);
            }
        }
    }
    b.bind(allow);
    b.ret(RET_ALLOW);
    b.bind(kill);
    b.ret(RET_KILL_PROCESS);
    b.bind(skip);
}

/// umbra's filter: the stub's own calls from the stub code page (a forked stub
/// inherits this filter), then `rules`; everything else kills umbra.
pub fn umbra_filter(rules: &[Rule]) -> Result<Vec<SockFilter>, String> {
    let mut b = Bpf::new();
    arch::prologue(&mut b);
    let outside = b.label();
    arch::stub_pages(&mut b, outside);
    b.bind(outside);
    arch::umbra_outside(&mut b);
    for r in rules {
        emit_rule(&mut b, r);
    }
    b.ret(RET_KILL_PROCESS);
    b.assemble()
}

/// PR_SET_NO_NEW_PRIVS(1).
pub fn set_no_new_privs() -> Result<(), Errno> {
    // SAFETY: no pointers.
    check(unsafe { raw::syscall6(raw::nr::PRCTL, 38, 1, 0, 0, 0, 0) }).map(|_| ())
}

static CONFINED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether umbra installed a filter on all its threads (its own, see
/// `host::PtraceHost::confine`): stubs forked from umbra inherit it.
/// Whether the host kernel has seccomp filters (prctl(PR_GET_SECCOMP)
/// answers).
pub fn available() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    let r = unsafe { super::raw::syscall6(super::raw::nr::PRCTL, 21, 0, 0, 0, 0, 0) };
    r >= 0
}

pub fn umbra_confined() -> bool {
    CONFINED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Installs `filter` on the calling thread (and, with TSYNC, all threads of
/// the process). Needs no_new_privs (or CAP_SYS_ADMIN).
pub fn install(filter: &[SockFilter], tsync: bool) -> Result<(), Errno> {
    if filter.is_empty() || filter.len() > u16::MAX as usize {
        return Err(Errno::EINVAL);
    }
    let prog = SockFprog {
        len: filter.len() as u16,
        filter: filter.as_ptr(),
    };
    // SAFETY: `prog` points at `filter.len()` readable instructions, alive for
    // the call; the kernel copies the program.
    check(unsafe {
        raw::syscall6(
            raw::nr::SECCOMP,
            1,                  // SECCOMP_SET_MODE_FILTER
            usize::from(tsync), // SECCOMP_FILTER_FLAG_TSYNC
            &prog as *const SockFprog as usize,
            0,
            0,
            0,
        )
    })?;
    if tsync {
        CONFINED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    Ok(())
}

/// The program a stub child installs: built once, never freed (the child reads
/// it after fork, from umbra's heap, which the stub pages never overlap).
pub struct StubProgram {
    _insns: Vec<SockFilter>,
    fprog: Box<SockFprog>,
}

// SAFETY: the program is immutable after construction; the raw pointer in
// `fprog` points into `_insns`, owned by the same value.
unsafe impl Sync for StubProgram {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl Send for StubProgram {}

impl StubProgram {
    /// Wraps an assembled program.
    pub fn new(insns: Vec<SockFilter>) -> StubProgram {
        let fprog = Box::new(SockFprog {
            len: insns.len() as u16,
            filter: insns.as_ptr(),
        });
        StubProgram {
            _insns: insns,
            fprog,
        }
    }

    /// The address of the `struct sock_fprog`, for the stub child.
    pub fn fprog_addr(&self) -> usize {
        &*self.fprog as *const SockFprog as usize
    }
}

/// The stub filter, assembled once.
pub fn stub_program() -> &'static StubProgram {
    static P: std::sync::OnceLock<StubProgram> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let insns = stub_filter().expect("the stub seccomp filter assembles");
        let fprog = Box::new(SockFprog {
            len: insns.len() as u16,
            filter: insns.as_ptr(),
        });
        StubProgram {
            _insns: insns,
            fprog,
        }
    })
}
