//! The seccomp platform's stub side (issue 13; x86_64, aarch64 and armv7): the
//! filter that makes every guest syscall trap (SECCOMP_RET_TRAP, SIGSYS), the
//! stub's signal handlers, the per-stub slot (control page and signal stack)
//! and the futex hand-off with umbra.
//!
//! A stub of this platform is traced only while umbra sets it up (forked from
//! the template, its slot mapped, its first registers loaded); then umbra
//! detaches it, and every syscall, fault and kick reaches umbra through the
//! trap handler in the stub code page (`arch/<arch>/stub.rs`):
//! - the handler (all host signals blocked, on the slot's signal stack)
//!   writes the siginfo and ucontext pointers and the thread pointer
//!   (x86_64: the FS/GS bases; aarch64: TPIDR_EL0; armv7: TPIDRURO) into
//!   the control page,
//!   sets its state word to REPORT and wakes umbra (futex) unless umbra is
//!   spinning;
//! - umbra reads the guest's registers from the ucontext (in the slot, a range
//!   of the memory file umbra maps too), handles the trap, writes the reply
//!   registers into the ucontext, the mapping ops it has queued and the batch
//!   cookie into the control page, sets REPLY and wakes the handler unless it
//!   is spinning;
//! - the handler runs the ops (with the cookie), clears the cookie, loads the
//!   FS/GS bases (aarch64: TPIDR_EL0; armv7: TPIDRURO through set_tls, when
//!   it changed) and returns to the guest with rt_sigreturn.
//!
//! armv7 differs in where the mapping calls are made (32-bit arguments have
//! no high halves for the cookie): as on its ptrace platform, only from the
//! batch page, which the handler makes executable with the 96-bit cookie in
//! arguments 3-5 of an mprotect and PROT_NONE again when its ops are done
//! (`arch/arm/stub.rs`, [`filter`]).
//!
//! The hand-off protocol. Each side may spin (a bounded number of `pause`
//! iterations) on the state word before it sleeps in FUTEX_WAIT, when umbra
//! has a second CPU (see `host::seccomp`, `Spin`); a side that is about to
//! sleep says so in the word, and only then does the other side pay a
//! FUTEX_WAKE. The word's values:
//! - IDLE: set before a stub's first run: the stub must wake umbra.
//! - REPORT: the handler reported and spins (umbra need not wake it).
//! - REPORT_WAITING: the handler reported and sleeps, or is about to.
//! - REPLY: umbra replied and spins for the next report (the handler need
//!   not wake it).
//! - REPLY_WAITING: umbra sleeps for the next report, or is about to.
//!
//! The handler reports with `xchg(word, REPORT)` and calls FUTEX_WAKE unless
//! the old value was REPLY. Umbra goes from REPLY to REPLY_WAITING only by a
//! compare-and-swap that expects the value it read (REPLY), so either umbra's
//! CAS comes first (the handler's xchg sees REPLY_WAITING and wakes it) or
//! the xchg does (the CAS fails, umbra sees REPORT and does not sleep). Umbra
//! sleeps in FUTEX_WAIT(REPLY_WAITING), which returns at once if the word
//! changed in between. The other direction mirrors it: umbra replies with
//! `xchg(word, REPLY)` and wakes unless the old value was REPORT; the handler
//! goes from REPORT to REPORT_WAITING only by `lock cmpxchg` and sleeps in
//! FUTEX_WAIT(REPORT_WAITING).
//!
//! umbra may also move the word from REPORT to REPORT_WAITING itself (by
//! CAS), to park a handler that spins while umbra runs another stub: the
//! handler then stops spinning and sleeps, as if its spin had run out; the
//! reply wakes it.
//!
//! A reply with mapping ops carries the cookie: umbra writes it only once
//! the handler sleeps. It parks the handler (x86_64, where it may spin),
//! then moves it with FUTEX_CMP_REQUEUE (for the value the handler sleeps
//! on: REPORT_WAITING on x86_64, REPORT on aarch64 and armv7) from the
//! state word to the PARK word, which says whether a sleeper was there
//! ([`confirm_sleeper`]); it then writes the reply, sets REPLY and wakes
//! PARK ([`reply_parked`]). A guest that wrote REPORT itself and runs on
//! is never such a sleeper. Each handler loads its control page from the
//! absolute address after both of its futex calls, so a guest that
//! jumped to one of them and slept there runs the real op loop.
//!
//! Each side takes both values of the other side's move as the move: umbra
//! takes REPORT and REPORT_WAITING as a report, the handler REPLY and
//! REPLY_WAITING as a reply. It must: once umbra has replied, it may wait
//! for the next report before the woken handler has looked at the word,
//! and so turn REPLY into REPLY_WAITING (and the handler may turn REPORT
//! into REPORT_WAITING before umbra looked). The handler never writes the
//! word but in those two moves (it used to set IDLE on a reply, which would
//! erase umbra's REPLY_WAITING).
//!
//! The guest can write the word while it runs. What it gains is what it
//! could do anyway: a forged REPLY makes its next report skip the wake, so
//! umbra notices that trap only at its next timer signal or its 50 ms tick,
//! as if the guest had kept running without a syscall; a forged REPORT is a
//! forged report (SECURITY.md S5). The stub's spin count comes from the
//! control page and is clamped to `MAX_STUB_SPIN` by the handler, so no
//! value makes it spin longer.
//!
//! The filter allows, from the handler's code only, futex on the control word
//! (FUTEX_WAIT, FUTEX_WAKE) and rt_sigreturn; from the rest of the stub code
//! page the mapping calls (mmap of fd 3 MAP_SHARED|MAP_FIXED, munmap,
//! mprotect, the template's clone, rseq unregister, PR_SET_PDEATHSIG) only
//! when the high halves of arguments 3 and 4 carry the cookie, a random value
//! in the filter that is in guest-readable memory only while the handler runs
//! (and the guest does not: a stub has one host thread). Everything else
//! traps. See SECURITY.md, "The seccomp platform".

#[cfg(not(target_arch = "arm"))]
use super::seccomp::{arg_hi, OFF_IP_HI};
use super::seccomp::{arg_lo, Bpf, SockFilter, NEXT, OFF_ARCH, OFF_IP_LO};
use super::seccomp::{OFF_NR, RET_ALLOW, RET_KILL_PROCESS, RET_TRAP};
use super::{raw, stub};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The stub's slot: the control page, then the signal stack.
pub const SLOT_VA: u64 = stub::STUB_BASE + 0x10000;
/// Bytes of a slot (in the stub and in the memory file).
pub const SLOT_BYTES: u64 = 0x8000;
/// The signal stack: the slot after its control page.
pub const STACK_VA: u64 = SLOT_VA + 0x1000;
pub const STACK_LEN: u64 = SLOT_BYTES - 0x1000;
/// Slots in the memory file: at most this many stubs at once (armv7: fewer,
/// umbra maps them in its 32-bit address space).
#[cfg(not(target_arch = "arm"))]
pub const MAX_SLOTS: usize = 2048;
#[cfg(target_arch = "arm")]
pub const MAX_SLOTS: usize = 1024;

/// Control page offsets (u64 words unless said).
pub mod ctrl {
    /// u32 futex word: [`super::IDLE`], [`super::REPORT`], [`super::REPLY`],
    /// [`super::REPORT_WAITING`], [`super::REPLY_WAITING`].
    pub const STATE: usize = 0;
    /// u32: the `pause` iterations the handler spins for a reply before it
    /// sleeps (clamped to [`super::MAX_STUB_SPIN`]); written by umbra.
    pub const SPIN: usize = 4;
    pub const INFO: usize = 8;
    pub const UC: usize = 16;
    /// x86_64: FS base; aarch64: TPIDR_EL0; armv7: TPIDRURO.
    pub const FS_BASE: usize = 24;
    pub const GS_BASE: usize = 32;
    /// Reply kind: 0 return to the guest, 1 run the ops and report back.
    pub const KIND: usize = 40;
    pub const NOPS: usize = 48;
    pub const K1: usize = 56;
    pub const K2: usize = 64;
    pub const DONE: usize = 72;
    pub const LAST: usize = 80;
    /// x86_64: FS base; aarch64: TPIDR_EL0; armv7: TPIDRURO.
    pub const REPLY_FS: usize = 88;
    pub const REPLY_GS: usize = 96;
    /// Report kind: 0 a signal, 1 ops done, 2 an op failed.
    pub const RKIND: usize = 104;
    pub const OPS: usize = 112;
    /// u32: where umbra moves (FUTEX_CMP_REQUEUE) the handler sleeping on
    /// the state word before it writes a reply that carries the cookie,
    /// and wakes it from (see [`super::confirm_sleeper`]); after the ops.
    pub const PARK: usize = 4088;
}
pub const IDLE: u32 = 0;
pub const REPORT: u32 = 1;
pub const REPLY: u32 = 2;
pub const REPORT_WAITING: u32 = 3;
pub const REPLY_WAITING: u32 = 4;
/// Whether this arch's handler follows the spin protocol below (x86_64).
/// The aarch64 handler keeps the first one: it stores REPORT and always
/// wakes umbra, sleeps until REPLY (FUTEX_WAIT while the word is REPORT),
/// and sets IDLE when it has its reply; so there umbra always wakes it,
/// never moves the word to REPLY_WAITING (the handler would take that for
/// no reply) and neither side spins.
pub const HANDLER_SPINS: bool = cfg!(target_arch = "x86_64");
/// The most `pause` iterations the handler spins, whatever the control page
/// says.
pub const MAX_STUB_SPIN: u32 = 1 << 16;
/// Mapping ops that fit one reply.
pub const MAX_OPS: usize = (ctrl::PARK - ctrl::OPS) / stub::BATCH_RECORD;

/// The signals whose handler is the trap handler: SIGILL, SIGTRAP, SIGBUS,
/// SIGFPE, SIGSEGV, SIGALRM (the kick), SIGSYS.
pub const TRAP_SIGNALS: [usize; 7] = [4, 5, 7, 8, 11, 14, 31];

extern "C" {
    #[cfg(not(target_arch = "arm"))]
    static umbra_trap_ops: u8;
    static umbra_stub_blob_start: u8;
    static umbra_trap_ops_syscall: u8;
    static umbra_trap_handler: u8;
    static umbra_trap_handler_end: u8;
}

fn code_addr(p: *const u8) -> u64 {
    stub::STUB_CODE + (p as usize - core::ptr::addr_of!(umbra_stub_blob_start) as usize) as u64
}

/// The handler's entry in the stub.
pub fn handler_addr() -> u64 {
    code_addr(core::ptr::addr_of!(umbra_trap_handler))
}

/// Whether `pc` is in the code where the cookie may be in registers
/// (x86_64, aarch64: the op loop and the handler, which follows it;
/// armv7: the handler, whose ops take the cookie for the mprotect that
/// makes the batch page executable, and the batch page, executable only
/// while those ops run): no report of a guest comes from there, the
/// handler runs with every signal blocked; a report with its pc there is
/// a guest that jumped in (SECURITY.md S4).
pub fn is_cookie_code(pc: u64) -> bool {
    #[cfg(target_arch = "arm")]
    return (handler_addr()..handler_end()).contains(&pc)
        || (stub::STUB_BATCH..stub::STUB_BATCH + 4096).contains(&pc);
    #[cfg(not(target_arch = "arm"))]
    (code_addr(core::ptr::addr_of!(umbra_trap_ops))..handler_end()).contains(&pc)
}

/// One past the handler's code in the stub.
pub fn handler_end() -> u64 {
    code_addr(core::ptr::addr_of!(umbra_trap_handler_end))
}

/// The `syscall` of the handler's op loop (for the escape tests; armv7: in
/// the batch page).
pub fn ops_syscall_addr() -> u64 {
    #[cfg(target_arch = "arm")]
    return stub::bpage_addr(core::ptr::addr_of!(umbra_trap_ops_syscall));
    #[cfg(not(target_arch = "arm"))]
    code_addr(core::ptr::addr_of!(umbra_trap_ops_syscall))
}

/// The batch cookie, each half shifted into the high word (0: the ptrace
/// platform, no cookie). Set once, before the template stub exists.
static K1: AtomicU64 = AtomicU64::new(0);
static K2: AtomicU64 = AtomicU64::new(0);

/// The cookie words the batch code ORs into arguments 3 and 4 (armv7: the
/// three words of `stub::batch_cookie()`, two in the first, one in the
/// second, which the handler passes as arguments 3-5 of its mprotect).
pub fn cookie() -> (u64, u64) {
    (K1.load(Ordering::Relaxed), K2.load(Ordering::Relaxed))
}

/// The filter program of the seccomp platform, once enabled.
static PROGRAM: std::sync::OnceLock<super::seccomp::StubProgram> = std::sync::OnceLock::new();

/// Turns the seccomp platform on for stubs spawned from now on: picks the
/// cookie from `random` (two non-zero words) and builds the filter.
pub fn enable(random: [u32; 2]) -> Result<(), String> {
    if PROGRAM.get().is_some() {
        return Ok(());
    }
    #[cfg(not(target_arch = "arm"))]
    let prog = {
        let (c1, c2) = (random[0] | 1, random[1] | 1);
        K1.store((c1 as u64) << 32, Ordering::Relaxed);
        K2.store((c2 as u64) << 32, Ordering::Relaxed);
        filter(c1, c2)?
    };
    #[cfg(target_arch = "arm")]
    let prog = {
        let _ = random;
        let c = stub::batch_cookie();
        K1.store(c[0] as u64 | (c[1] as u64) << 32, Ordering::Relaxed);
        K2.store(c[2] as u64, Ordering::Relaxed);
        filter(c)?
    };
    let _ = PROGRAM.set(super::seccomp::StubProgram::new(prog));
    Ok(())
}

/// The `sock_fprog` address a stub child installs, when the platform is on.
pub fn fprog_addr() -> Option<usize> {
    PROGRAM.get().map(|p| p.fprog_addr())
}

/// Whether the seccomp platform is on.
pub fn enabled() -> bool {
    PROGRAM.get().is_some()
}

/// The seccomp platform's stub filter, with cookie halves `c1`, `c2`.
#[cfg(not(target_arch = "arm"))]
pub fn filter(c1: u32, c2: u32) -> Result<Vec<SockFilter>, String> {
    let mut b = Bpf::new();
    let trap = b.label();
    let kill = b.label();
    let allow = b.label();
    let native = b.label();
    let not_handler = b.label();
    let futex = b.label();
    // x86_64: another arch (int 0x80 from 64-bit code) or the x32 bit: the
    // handler reports it; umbra answers it as the ptrace platform does.
    // aarch64: an AArch32 call cannot come from a 64-bit stub; killed, as by
    // the ptrace platform's filter.
    b.ld(OFF_ARCH);
    #[cfg(target_arch = "x86_64")]
    {
        b.jeq(super::seccomp::AUDIT_ARCH_X86_64, native, NEXT);
        b.ret(RET_TRAP);
    }
    #[cfg(target_arch = "aarch64")]
    {
        b.jeq(super::seccomp::AUDIT_ARCH_AARCH64, native, NEXT);
        b.ret(RET_KILL_PROCESS);
    }
    b.bind(native);
    b.ld(OFF_NR);
    b.jge(0x4000_0000, trap, NEXT);
    // Outside the stub code page: a guest syscall.
    let (h0, h1) = (handler_addr(), handler_end());
    b.ld(OFF_IP_HI);
    b.jeq((stub::STUB_CODE >> 32) as u32, NEXT, trap);
    b.ld(OFF_IP_LO);
    b.jge(stub::STUB_CODE as u32, NEXT, trap);
    b.jge((stub::STUB_CODE + 4096) as u32, trap, NEXT);
    // aarch64: the guest's signal handlers return through the trampoline
    // of the code page (`mov x8, #139; svc #0`): a guest syscall.
    #[cfg(target_arch = "aarch64")]
    b.jeq((stub::sigreturn_addr() + 8) as u32, trap, NEXT);
    b.jge(h0 as u32, NEXT, not_handler);
    b.jge(h1 as u32, not_handler, NEXT);
    // The handler: futex on the control word, rt_sigreturn.
    b.ld(OFF_NR);
    b.jeq(raw::nr::FUTEX as u32, futex, NEXT);
    b.jeq(raw::nr::RT_SIGRETURN as u32, allow, kill);
    b.bind(futex);
    b.ld(arg_lo(0));
    b.jeq(SLOT_VA as u32, NEXT, kill);
    b.ld(arg_hi(0));
    b.jeq((SLOT_VA >> 32) as u32, NEXT, kill);
    b.ld(arg_hi(1));
    b.jeq(0, NEXT, kill);
    b.ld(arg_lo(1));
    b.jeq(0, allow, NEXT); // FUTEX_WAIT
    b.jeq(1, allow, kill); // FUTEX_WAKE
                           // The rest of the code page: the mapping calls, with the cookie.
    b.bind(not_handler);
    b.ld(arg_hi(3));
    b.jeq(c1, NEXT, kill);
    b.ld(arg_hi(4));
    b.jeq(c2, NEXT, kill);
    let mmap = b.label();
    let clone = b.label();
    let rseq = b.label();
    let prctl = b.label();
    b.ld(OFF_NR);
    b.jeq(raw::nr::MMAP as u32, mmap, NEXT);
    b.jeq(raw::nr::MUNMAP as u32, allow, NEXT);
    b.jeq(raw::nr::MPROTECT as u32, allow, NEXT);
    b.jeq(raw::nr::CLONE as u32, clone, NEXT);
    b.jeq(raw::nr::PRCTL as u32, prctl, NEXT);
    b.jeq(raw::nr::RSEQ as u32, rseq, kill);
    b.bind(clone);
    b.ld(arg_lo(0));
    b.jeq(stub::STUB_CLONE_FLAGS as u32, NEXT, kill);
    b.ld(arg_hi(0));
    b.jeq(0, NEXT, kill);
    b.ld(arg_lo(1));
    b.jeq(0, NEXT, kill);
    b.ld(arg_hi(1));
    b.jeq(0, allow, kill);
    b.bind(mmap);
    b.ld(arg_lo(3));
    b.jeq(0x11, NEXT, kill); // MAP_SHARED | MAP_FIXED
    b.ld(arg_lo(4));
    b.jeq(stub::STUB_MEMFD as u32, allow, kill);
    b.bind(prctl);
    b.ld(arg_hi(0));
    b.jeq(0, NEXT, kill);
    b.ld(arg_lo(0));
    b.jeq(1, NEXT, kill); // PR_SET_PDEATHSIG
    b.ld(arg_hi(1));
    b.jeq(0, NEXT, kill);
    b.ld(arg_lo(1));
    b.jeq(9, allow, kill); // SIGKILL
    b.bind(rseq);
    b.ld(arg_lo(2));
    b.jeq(1, allow, kill); // RSEQ_FLAG_UNREGISTER
    b.bind(trap);
    b.ret(RET_TRAP);
    b.bind(allow);
    b.ret(RET_ALLOW);
    b.bind(kill);
    b.ret(RET_KILL_PROCESS);
    b.assemble()
}

/// The seccomp platform's stub filter on armv7, with the batch page's
/// cookie `cookie` (`stub::batch_cookie()`):
/// - another audit arch: killed (nothing else runs in a 32-bit ARM stub);
/// - from outside the stub's code and batch pages, any number (EABI,
///   OABI, ARM's private 0xf00xx calls alike; the kernel asks the filter
///   before it looks at the number): SECCOMP_RET_TRAP;
/// - from the code page: the `svc` of the guest's two sigreturn
///   trampolines traps (a guest call); `mprotect(STUB_BATCH, 4096,
///   PROT_NONE)`, or `PROT_READ | PROT_EXEC` with the cookie in arguments
///   3-5 (the ptrace-time batch entry and the handler's ops); from the
///   handler's code also futex on the control word (FUTEX_WAIT,
///   FUTEX_WAKE), rt_sigreturn and set_tls; anything else kills;
/// - from the batch page (executable only between those two mprotects):
///   the stub's mapping calls (`sys::seccomp::stub_calls`), set_tls and
///   `prctl(PR_SET_PDEATHSIG, SIGKILL)`; anything else kills.
#[cfg(target_arch = "arm")]
pub fn filter(cookie: [u32; 3]) -> Result<Vec<SockFilter>, String> {
    use super::seccomp::{ip_in_page, stub_calls, AUDIT_ARCH_ARM};
    let mut b = Bpf::new();
    let trap = b.label();
    let kill = b.label();
    let allow = b.label();
    let native = b.label();
    let not_code = b.label();
    let mprotect = b.label();
    let futex = b.label();
    let prctl = b.label();
    b.ld(OFF_ARCH);
    b.jeq(AUDIT_ARCH_ARM, native, NEXT);
    b.ret(RET_KILL_PROCESS);
    b.bind(native);
    ip_in_page(&mut b, stub::STUB_CODE, not_code);
    b.jeq((stub::sigreturn_addr() + 8) as u32, trap, NEXT);
    b.jeq((stub::sigreturn_old_addr() + 8) as u32, trap, NEXT);
    b.ld(OFF_NR);
    b.jeq(raw::nr::MPROTECT as u32, mprotect, NEXT);
    let (h0, h1) = (handler_addr(), handler_end());
    b.ld(OFF_IP_LO);
    b.jge(h0 as u32, NEXT, kill);
    b.jge(h1 as u32, kill, NEXT);
    b.ld(OFF_NR);
    b.jeq(raw::nr::FUTEX as u32, futex, NEXT);
    b.jeq(raw::nr::RT_SIGRETURN as u32, allow, NEXT);
    b.jeq(raw::nr::SET_TLS as u32, allow, kill);
    b.bind(futex);
    b.ld(arg_lo(0));
    b.jeq(SLOT_VA as u32, NEXT, kill);
    b.ld(arg_lo(1));
    b.jeq(0, allow, NEXT); // FUTEX_WAIT
    b.jeq(1, allow, kill); // FUTEX_WAKE
    b.bind(mprotect);
    b.ld(arg_lo(0));
    b.jeq(stub::STUB_BATCH as u32, NEXT, kill);
    b.ld(arg_lo(1));
    b.jeq(4096, NEXT, kill);
    b.ld(arg_lo(2));
    b.jeq(0, allow, NEXT);
    b.jeq(5, NEXT, kill);
    for (i, v) in cookie.iter().enumerate() {
        b.ld(arg_lo(3 + i as u32));
        b.jeq(*v, NEXT, kill);
    }
    b.ja(allow);
    b.bind(not_code);
    ip_in_page(&mut b, stub::STUB_BATCH, trap);
    b.ld(OFF_NR);
    b.jeq(raw::nr::SET_TLS as u32, allow, NEXT);
    b.jeq(raw::nr::PRCTL as u32, prctl, NEXT);
    stub_calls(&mut b);
    b.bind(prctl);
    b.ld(arg_lo(0));
    b.jeq(1, NEXT, kill); // PR_SET_PDEATHSIG
    b.ld(arg_lo(1));
    b.jeq(9, allow, kill); // SIGKILL
    b.bind(trap);
    b.ret(RET_TRAP);
    b.bind(allow);
    b.ret(RET_ALLOW);
    b.bind(kill);
    b.ret(RET_KILL_PROCESS);
    b.assemble()
}

/// The `struct sigaction` (the kernel's layout on x86_64 and aarch64 alike:
/// handler, flags, restorer, mask) of the trap handler:
/// SA_SIGINFO | SA_ONSTACK | SA_RESTORER, every signal blocked while it runs.
/// armv7: the same in its 32-bit layout (20 bytes: handler, flags,
/// restorer, a 64-bit mask), packed into the words, and SA_RESTART too:
/// the host's signal code then rewinds a trapped call whose first argument
/// is -ERESTARTSYS as it does for -ERESTARTNOINTR, which umbra undoes,
/// instead of turning it into -EINTR (`host/seccomp/arm.rs`).
pub fn sigaction() -> [u64; 4] {
    const SA_SIGINFO: u64 = 4;
    const SA_ONSTACK: u64 = 0x0800_0000;
    const SA_RESTORER: u64 = 0x0400_0000;
    #[cfg(not(target_arch = "arm"))]
    return [
        handler_addr(),
        SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
        handler_end(),
        u64::MAX,
    ];
    #[cfg(target_arch = "arm")]
    {
        const SA_RESTART: u64 = 0x1000_0000;
        let flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER | SA_RESTART;
        [
            handler_addr() | flags << 32,
            handler_end() | 0xffff_ffff << 32,
            0xffff_ffff,
            0,
        ]
    }
}

/// The `stack_t` of the slot's signal stack (armv7: its 12-byte layout,
/// sp and flags in the first word, the size in the second).
pub fn altstack() -> [u64; 3] {
    #[cfg(not(target_arch = "arm"))]
    return [STACK_VA, 0, STACK_LEN];
    #[cfg(target_arch = "arm")]
    [STACK_VA, STACK_LEN, 0]
}

fn word(page: &[u8], off: usize) -> &AtomicU32 {
    let w = &page[off..off + 4];
    assert!((w.as_ptr() as usize).is_multiple_of(4));
    // SAFETY: `w` is 4 in-bounds bytes, 4-aligned (checked), of a shared
    // mapping that lives as long as `page`; another process writes it
    // concurrently, which is what the atomic is for.
    unsafe { AtomicU32::from_ptr(w.as_ptr() as *mut u32) }
}

/// The state word of a control page (acquire).
pub fn state(page: &[u8]) -> u32 {
    word(page, ctrl::STATE).load(Ordering::Acquire)
}

/// Whether a state word says the handler has reported.
pub fn reported(s: u32) -> bool {
    s == REPORT || s == REPORT_WAITING
}

/// Sets the state word (no wake: the stub is not in its handler).
pub fn set_state(page: &[u8], v: u32) {
    word(page, ctrl::STATE).store(v, Ordering::Release);
}

/// Replies: the handler may spin `stub_spin` iterations at its next report;
/// the state word becomes REPLY (the fields written before are seen first)
/// and the handler is woken unless it was still spinning. Returns whether it
/// was (its spin succeeded).
pub fn reply(page: &mut [u8], stub_spin: u32) -> bool {
    word(page, ctrl::SPIN).store(stub_spin, Ordering::Relaxed);
    let w = word(page, ctrl::STATE);
    let old = w.swap(REPLY, Ordering::AcqRel);
    if old == REPORT && HANDLER_SPINS {
        return true;
    }
    futex(w, 1, 0, 0); // FUTEX_WAKE of 1 (shared: the stub maps the page)
    false
}

/// Replies to a handler that [`confirm_sleeper`] moved to the PARK word:
/// the state word becomes REPLY (the fields written before are seen
/// first), then the PARK word is woken.
pub fn reply_parked(page: &mut [u8], stub_spin: u32) {
    word(page, ctrl::SPIN).store(stub_spin, Ordering::Relaxed);
    word(page, ctrl::STATE).swap(REPLY, Ordering::AcqRel);
    futex(word(page, ctrl::PARK), 1, 0, 0);
}

/// Whether the stub's handler sleeps in its FUTEX_WAIT on the state word
/// (REPORT_WAITING; aarch64 and armv7, whose handlers do not spin: REPORT,
/// the value they sleep on): FUTEX_CMP_REQUEUE moves it, without waking it, to the
/// PARK word, and says how many it moved. Then no guest code runs in the
/// stub (it has one host thread) until umbra wakes the PARK word, so
/// umbra may write a reply that carries the cookie (SECURITY.md S4). The
/// sleeper may be a guest that jumped to the handler's `syscall`: the
/// handler loads its control page from the absolute address after every
/// futex call, so it runs the real ops, which clear the cookie first.
pub fn confirm_sleeper(page: &[u8]) -> bool {
    let w = word(page, ctrl::STATE);
    let park = word(page, ctrl::PARK);
    #[cfg(target_arch = "arm")]
    let n = raw::nr::FUTEX_TIME64;
    #[cfg(not(target_arch = "arm"))]
    let n = raw::nr::FUTEX;
    const FUTEX_CMP_REQUEUE: usize = 4;
    // SAFETY: a futex call on two words of our shared mapping; no memory
    // is passed (the 4th argument is the requeue count).
    let r = unsafe {
        raw::syscall6(
            n,
            w.as_ptr() as usize,
            FUTEX_CMP_REQUEUE,
            0, // wake none
            1, // requeue one
            park.as_ptr() as usize,
            if HANDLER_SPINS {
                REPORT_WAITING
            } else {
                REPORT
            } as usize,
        )
    };
    r == 1
}

/// Wakes every sleeper on the state and PARK words of a control page
/// (FUTEX_WAKE of all). Called while umbra waits for a stub that runs guest
/// code (a kick or a sleeping handler overdue): no handler of that stub
/// sleeps there then, so a sleeper is a guest that jumped to the handler's
/// FUTEX_WAIT; woken, it runs on (and burns CPU time, which umbra watches)
/// or reports from the handler's code (and is killed).
pub fn wake_all(page: &[u8]) {
    #[cfg(target_arch = "arm")]
    let n = raw::nr::FUTEX_TIME64;
    #[cfg(not(target_arch = "arm"))]
    let n = raw::nr::FUTEX;
    for w in [word(page, ctrl::STATE), word(page, ctrl::PARK)] {
        // SAFETY: FUTEX_WAKE on a word of our shared mapping; no memory is
        // passed.
        unsafe {
            raw::syscall6(n, w.as_ptr() as usize, 1, i32::MAX as usize, 0, 0, 0);
        }
    }
}

/// Parks a handler that spins for its reply: it sleeps instead (see the
/// protocol above).
pub fn park(page: &[u8]) {
    let _ = word(page, ctrl::STATE).compare_exchange(
        REPORT,
        REPORT_WAITING,
        Ordering::AcqRel,
        Ordering::Relaxed,
    );
}

/// Spins up to `iters` `pause` iterations for the handler's report; whether
/// it came, and the iterations spun.
pub fn spin_for_report(page: &[u8], iters: u32) -> (bool, u32) {
    let w = word(page, ctrl::STATE);
    for i in 0..iters {
        if reported(w.load(Ordering::Acquire)) {
            return (true, i);
        }
        core::hint::spin_loop();
    }
    (reported(w.load(Ordering::Acquire)), iters)
}

/// Says that umbra sleeps (REPLY_WAITING) and sleeps in FUTEX_WAIT, at most
/// `timeout_ns`; returns at once if the handler reported, and on a wake, a
/// signal or the timeout. The caller looks at the word again.
pub fn sleep_for_report(page: &[u8], timeout_ns: u64) {
    let w = word(page, ctrl::STATE);
    let s = w.load(Ordering::Acquire);
    if reported(s) {
        return;
    }
    if !HANDLER_SPINS {
        futex(w, 0, s, timeout_ns); // FUTEX_WAIT while the word is `s`
        return;
    }
    if s != REPLY_WAITING
        && w.compare_exchange(s, REPLY_WAITING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return;
    }
    futex(w, 0, REPLY_WAITING, timeout_ns); // FUTEX_WAIT
}

/// FUTEX_WAIT (`op` 0, for the value `val`, relative `timeout_ns`) or
/// FUTEX_WAKE (`op` 1, one waiter) on a word of the shared mapping.
fn futex(w: &AtomicU32, op: usize, val: u32, timeout_ns: u64) {
    let ts = [
        (timeout_ns / 1_000_000_000) as i64,
        (timeout_ns % 1_000_000_000) as i64,
    ];
    let (val, ts) = if op == 0 {
        (val as usize, ts.as_ptr() as usize)
    } else {
        (1, 0)
    };
    // armv7: the 64-bit-time futex (`ts` is two 64-bit words).
    #[cfg(target_arch = "arm")]
    let n = raw::nr::FUTEX_TIME64;
    #[cfg(not(target_arch = "arm"))]
    let n = raw::nr::FUTEX;
    // SAFETY: a futex call on a word of our shared mapping, with (for a
    // wait) a relative timeout read from `ts`, a live local.
    unsafe {
        raw::syscall6(n, w.as_ptr() as usize, op, val, ts, 0, 0);
    }
}

/// How many `pause` iterations take about `ns` nanoseconds here (measured
/// once: the fastest of 4 runs of 500 iterations, some 25 us in all, so
/// that a preemption does not count).
pub fn pause_iters(ns: u64) -> u32 {
    (ns.saturating_mul(1000) / pause_per_k()).min(MAX_STUB_SPIN as u64) as u32
}

/// About how long `iters` `pause` iterations take, ns (the inverse of
/// [`pause_iters`], unbounded).
pub fn pause_ns(iters: u64) -> u64 {
    iters.saturating_mul(pause_per_k()) / 1000
}

/// ns per 1000 `pause` iterations, measured once.
fn pause_per_k() -> u64 {
    static PER_K: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PER_K.get_or_init(|| {
        const N: u64 = 500;
        let mut best = u64::MAX;
        for _ in 0..4 {
            let t0 = super::clock_ns(super::CLOCK_MONOTONIC);
            for _ in 0..N {
                core::hint::spin_loop();
            }
            let t1 = super::clock_ns(super::CLOCK_MONOTONIC);
            best = best.min(t1.saturating_sub(t0));
        }
        // ns per 1000 iterations, at least 1 ns per iteration.
        (best * 1000 / N).max(1000)
    })
}

/// Whether the host can run the trap handler; the error says why not.
/// x86_64: user code must be let use RDFSBASE and friends
/// (HWCAP2_FSGSBASE). aarch64: TPIDR_EL0 is always writable from EL0.
/// armv7: TPIDRURO is readable from user mode and set_tls writes it.
pub fn host_check() -> Result<(), String> {
    #[cfg(target_arch = "arm")]
    {
        // SAFETY: getauxval has no preconditions.
        let h = unsafe { libc::getauxval(16) }; // AT_HWCAP
        if h & (1 << 15) == 0 {
            return Err(
                "--platform seccomp needs the TPIDRURO register (HWCAP_TLS); use --platform ptrace"
                    .into(),
            );
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: getauxval has no preconditions.
        let h = unsafe { libc::getauxval(26) }; // AT_HWCAP2
        if h & 2 == 0 {
            return Err(
                "--platform seccomp needs FSGSBASE (Linux 5.9+ on a CPU that has it); use --platform ptrace"
                    .into(),
            );
        }
    }
    Ok(())
}
