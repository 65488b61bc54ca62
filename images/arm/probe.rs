//! A static guest program for images/arm/run.sh, for aarch64 (built with plain
//! rustc for aarch64-unknown-linux-musl, rust-lld) and 32-bit ARM (for
//! armv7-unknown-linux-gnueabihf with arm-linux-gnueabihf-gcc and
//! `-C target-feature=+crt-static`):
//! - `probe hello`: prints `hello world`;
//! - `probe x7` (aarch64) / `probe r12` (arm): the register that ptrace shows
//!   as a syscall-entry/exit marker (arm64 x7, arm ip = r12; the kernel puts the
//!   real value back when the stop ends) survives a syscall, and a fork in
//!   parent and child; exit status 0 when it does;
//! - `probe getppid N`: prints `getppid: <ns> ns per call` over N calls;
//! - `probe bare N`: the same getppid round trip against a bare tracer, the
//!   floor for umbra: aarch64 PTRACE_SYSEMU + GETREGSET/SETREGSET; arm
//!   PTRACE_SYSCALL, PTRACE_SET_SYSCALL(-1) at the entry stop, SETREGS of r0 at
//!   the exit stop (PTRACE_SYSEMU does not exist on 32-bit ARM: EIO). The
//!   traced child checks that every getppid returned the tracer's 4242;
//! - `probe forks N`: fork, exit and wait, N times: `forks: <us> us each`;
//! - `probe fp` / `probe fpsi`: a SIGUSR1 handler, installed without
//!   SA_RESTORER (`fpsi`: with SA_SIGINFO, so an rt frame on arm too), that
//!   zeroes caller-saved FP registers (aarch64 v16; arm d7 and d16) runs
//!   during a kill syscall; they must be back after the handler returns;
//! - `probe sweep ROUNDS`: every syscall number (arm: also the private
//!   0xf0000.. calls and a few out of range), ROUNDS times, each in its own
//!   forked child with garbage arguments (random values, -1, 0, pointers to
//!   scratch memory, to unmapped and kernel addresses and to where umbra's stub
//!   pages are); a child that takes longer than 300 ms is killed. Prints a
//!   summary line and `sweep done` when the parent got through all of them.
//!   Only meant to run under umbra (never natively: it would hit the real
//!   kernel with garbage).
//! - `probe shanon`, `probe locks`, `probe timers`: issue 10 checks, the
//!   same output natively and under umbra: MAP_SHARED|MAP_ANONYMOUS across
//!   fork; fcntl record locks and flock between processes; ITIMER_REAL,
//!   ITIMER_VIRTUAL and a POSIX timer reaching a loop without syscalls.
//! - `probe threads`: issue 11: std threads with a mutex, thread locals, a
//!   condvar ping-pong, and each thread's general and vector registers kept
//!   while the others run (aarch64 x7 and v8; arm r12 and d8); the same
//!   output natively and under umbra.
//! - `probe unix`, `probe tcp`: issue 12: AF_UNIX socketpairs, listeners on
//!   a path and an abstract name with forked clients, SCM_RIGHTS; a TCP echo
//!   on 127.0.0.1 and a UDP round trip; the same output natively and under
//!   umbra (no port or fd numbers printed).
//! - `probe stubjump`: a guest that jumps into umbra's stub pages, one forked
//!   child per entry point, with the registers of a host mmap over one of its
//!   own pages; passes when every child ends by SIGKILL or a caught fault with
//!   that page intact (see `stubjump`). Only under umbra.

use std::arch::asm;
use std::time::{Duration, Instant};

#[cfg(target_arch = "aarch64")]
mod arch {
    use std::arch::asm;

    pub const GETPID: usize = 172;
    pub const GETPPID: usize = 173;
    pub const KILL: usize = 129;
    pub const WAIT4: usize = 260;
    pub const CLONE: usize = 220;
    pub const EXIT_GROUP: usize = 94;
    pub const PTRACE: usize = 117;
    pub const RT_SIGACTION: usize = 134;
    /// Calls the sweep must not make: they could signal or trace the sweep
    /// itself (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo,
    /// ptrace, pidfd_send_signal, process_vm_writev) or reboot.
    pub const SWEEP_EXCLUDED: &[usize] = &[129, 130, 131, 138, 240, 117, 424, 271, 142];
    pub const SWEEP_EXTRA: &[usize] = &[1000, 0xffff, usize::MAX];
    /// Where umbra puts its stub pages on aarch64 (core's USER_END), and a
    /// kernel address.
    pub const STUB_ADDR: usize = 0xffff_ff00_0000;
    pub const KERNEL_ADDR: usize = 0xffff_8000_0000_0000;

    /// A raw syscall.
    pub fn sys6(nr: usize, a: [usize; 6]) -> isize {
        let r: isize;
        // SAFETY: the callers pass pointers valid for what each syscall
        // does, or (the sweep) run it in a throwaway child.
        unsafe {
            asm!(
                "svc #0",
                in("x8") nr,
                inlateout("x0") a[0] => r,
                in("x1") a[1],
                in("x2") a[2],
                in("x3") a[3],
                in("x4") a[4],
                in("x5") a[5],
            );
        }
        r
    }

    pub const MAGIC: u64 = 0x7777_1234_5678_9abc;
    pub const MARKER: &str = "x7";

    /// getppid with x7 = MAGIC; returns x7 after the syscall.
    pub fn getppid_marker() -> u64 {
        let x7: u64;
        // SAFETY: getppid has no memory effects; x0, x7, x8 are declared.
        unsafe {
            asm!(
                "mov x7, {m}",
                "mov x8, #173",
                "svc #0",
                "mov {o}, x7",
                m = in(reg) MAGIC,
                o = out(reg) x7,
                out("x0") _,
                out("x7") _,
                out("x8") _,
            );
        }
        x7
    }

    /// fork (clone(SIGCHLD)) with x7 = MAGIC; returns (result, x7 after).
    pub fn fork_marker() -> (isize, u64) {
        let (ret, x7): (isize, u64);
        // SAFETY: a plain fork: the child continues on a copy of this stack.
        unsafe {
            asm!(
                "mov x7, {m}",
                "mov x0, #17",
                "mov x1, #0",
                "mov x2, #0",
                "mov x3, #0",
                "mov x4, #0",
                "mov x8, #220",
                "svc #0",
                "mov {o}, x7",
                m = in(reg) MAGIC,
                o = out(reg) x7,
                out("x0") ret,
                out("x1") _,
                out("x2") _,
                out("x3") _,
                out("x4") _,
                out("x7") _,
                out("x8") _,
            );
        }
        (ret, x7)
    }

    pub extern "C" fn on_usr1(_sig: i32) {
        // SAFETY: only v16 is changed, and it is declared.
        unsafe { asm!("movi v16.2d, #0", out("v16") _) };
        super::HANDLED.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub const FP_REGS: &str = "v16";

    /// Sets x7 and v8 (both halves) from `tag`, makes `n` raw sched_yield
    /// calls (another thread of the process runs in between), and checks
    /// they still hold it: each thread's registers are its own.
    pub fn regs_across_yields(tag: u64, n: u32) -> bool {
        let (x7, lo, hi): (u64, u64, u64);
        // SAFETY: sched_yield has no memory effects; every register the
        // block writes is declared.
        unsafe {
            asm!(
                "mov x7, {t}",
                "fmov d8, {t}",
                "mov v8.d[1], {u}",
                "2:",
                "mov x8, #124",
                "svc #0",
                "subs {c:w}, {c:w}, #1",
                "b.ne 2b",
                "mov {x7o}, x7",
                "fmov {lo}, d8",
                "mov {hi}, v8.d[1]",
                t = in(reg) tag,
                u = in(reg) !tag,
                c = inout(reg) n => _,
                x7o = out(reg) x7,
                lo = out(reg) lo,
                hi = out(reg) hi,
                out("x0") _,
                out("x7") _,
                out("x8") _,
                out("v8") _,
            );
        }
        x7 == tag && lo == tag && hi == !tag
    }
    pub const THREAD_REGS: &str = "x7 and v8";

    /// Sets the FP register(s) to `pat`, kill(getpid(), SIGUSR1), reads
    /// them back: whether they all still hold `pat`.
    pub fn fp_kill_self(pat: u64) -> bool {
        let got: u64;
        // SAFETY: getpid, then kill(self, SIGUSR1): the handler runs on this
        // thread's stack and changes only v16 (declared).
        unsafe {
            asm!(
                "fmov d16, {p}",
                "mov x8, #172",
                "svc #0",
                "mov x1, #10",
                "mov x8, #129",
                "svc #0",
                "fmov {o}, d16",
                p = in(reg) pat,
                o = out(reg) got,
                out("x0") _,
                out("x1") _,
                out("x8") _,
                out("v16") _,
            );
        }
        got == pat
    }

    /// rt_sigaction(sig, {handler, flags, no restorer, empty mask}).
    pub fn sigaction(sig: usize, handler: usize, flags: usize) -> isize {
        let sa: [u64; 4] = [handler as u64, flags as u64, 0, 0];
        sys6(RT_SIGACTION, [sig, sa.as_ptr() as usize, 0, 8, 0, 0])
    }

    pub const MMAP: usize = 222;
    pub const CLOSE: usize = 57;
    pub const MUNMAP: usize = 215;
    pub const OPENAT: usize = 56;
    pub const UNLINKAT: usize = 35;
    pub const FLOCK: usize = 32;
    pub const SETITIMER: usize = 103;
    pub const TIMER_CREATE: usize = 107;
    pub const TIMER_SETTIME: usize = 110;
    pub const TIMER_DELETE: usize = 111;
    /// fcntl with `struct flock` (64-bit offsets) and its lock commands.
    pub const FCNTL_LK: usize = 25;
    pub const F_GETLK: usize = 5;
    pub const F_SETLK: usize = 6;
    /// arm64 stubs have no batch page and no cookie (SYSEMU: guest calls
    /// never reach the stub's filter).
    pub const STUB_BATCH_TARGETS: &[usize] = &[];
    pub const COOKIE_ADDR: Option<usize> = None;

    // System V IPC and POSIX message queues (`probe ipc`); no IPC_64 flag
    // on arm64 (its kernel knows one layout and refuses the flag).
    pub const MQ_OPEN: usize = 180;
    pub const MQ_UNLINK: usize = 181;
    pub const MQ_TIMEDSEND: usize = 182;
    pub const MQ_TIMEDRECEIVE: usize = 183;
    pub const MSGGET: usize = 186;
    pub const MSGCTL: usize = 187;
    pub const MSGRCV: usize = 188;
    pub const MSGSND: usize = 189;
    pub const SEMGET: usize = 190;
    pub const SEMCTL: usize = 191;
    pub const SEMTIMEDOP: usize = 192;
    pub const SEMOP: usize = 193;
    pub const SHMGET: usize = 194;
    pub const SHMCTL: usize = 195;
    pub const SHMAT: usize = 196;
    pub const SHMDT: usize = 197;
    pub const IPC_64: usize = 0;

    /// Sets x0..x5 and x8 for mmap(page, 4096, PROT_READ|PROT_WRITE,
    /// MAP_SHARED|MAP_FIXED, 3, 0), sp = `sp`, and jumps to `pc`.
    pub fn jump(pc: usize, page: usize, sp: usize) -> ! {
        // SAFETY: never returns; the caller is a throwaway child whose fault
        // handlers end it (see `stubjump`).
        unsafe {
            asm!(
                "mov sp, {sp}",
                "br {pc}",
                sp = in(reg) sp,
                pc = in(reg) pc,
                in("x0") page,
                in("x1") 4096,
                in("x2") 3,
                in("x3") 0x11,
                in("x4") 3,
                in("x5") 0,
                in("x8") MMAP,
                options(noreturn),
            )
        }
    }

    pub const BARE_KIND: &str = "a bare SYSEMU tracer";

    /// One traced getppid: from the stop before it to the stop before the
    /// next. Returns false when the tracee did something else.
    pub fn bare_round(pid: usize, st: usize) -> bool {
        let mut regs = [0u64; 34];
        // GETREGSET or SETREGSET of NT_PRSTATUS with `regs`.
        let regset = |req: usize, regs: &mut [u64; 34]| {
            let iov = [regs.as_mut_ptr() as u64, 34 * 8];
            sys6(PTRACE, [req, pid, 1, iov.as_ptr() as usize, 0, 0])
        };
        sys6(PTRACE, [31, pid, 0, 0, 0, 0]); // PTRACE_SYSEMU
        sys6(WAIT4, [pid, st, 0, 0, 0, 0]);
        // SAFETY: `st` points at the caller's status int.
        if unsafe { *(st as *const i32) } & 0x7f != 0x7f {
            return false;
        }
        regset(0x4204, &mut regs); // GETREGSET
        if regs[8] != GETPPID as u64 {
            return false;
        }
        regs[0] = 4242;
        regset(0x4205, &mut regs); // SETREGSET
        true
    }
}

#[cfg(target_arch = "arm")]
mod arch {
    use std::arch::asm;

    pub const GETPID: usize = 20;
    pub const GETPPID: usize = 64;
    pub const KILL: usize = 37;
    pub const WAIT4: usize = 114;
    pub const CLONE: usize = 120;
    pub const EXIT_GROUP: usize = 248;
    pub const PTRACE: usize = 26;
    pub const RT_SIGACTION: usize = 174;
    /// As on aarch64: kill, tkill, tgkill, rt_sigqueueinfo,
    /// rt_tgsigqueueinfo, ptrace, pidfd_send_signal, process_vm_writev,
    /// reboot.
    pub const SWEEP_EXCLUDED: &[usize] = &[37, 238, 268, 178, 363, 26, 424, 377, 88];
    /// The ARM private calls (breakpoint, cacheflush, usr26, usr32, set_tls,
    /// get_tls) and a few out of range.
    pub const SWEEP_EXTRA: &[usize] = &[
        0xf0000, 0xf0001, 0xf0002, 0xf0003, 0xf0004, 0xf0005, 0xf0006, 0xf0007, 1000, 0xffff,
        usize::MAX,
    ];
    /// Where umbra puts its stub pages on arm (core's USER_END), and the
    /// kernel's kuser helper page.
    pub const STUB_ADDR: usize = 0xbe00_0000;
    pub const KERNEL_ADDR: usize = 0xffff_0fe0;

    /// A raw syscall (EABI: number in r7).
    pub fn sys6(nr: usize, a: [usize; 6]) -> isize {
        let r: isize;
        // SAFETY: the callers pass pointers valid for what each syscall
        // does, or (the sweep) run it in a throwaway child.
        unsafe {
            asm!(
                "svc #0",
                in("r7") nr,
                inlateout("r0") a[0] => r,
                in("r1") a[1],
                in("r2") a[2],
                in("r3") a[3],
                in("r4") a[4],
                in("r5") a[5],
            );
        }
        r
    }

    pub const MAGIC: u32 = 0x7712_5a3c;
    pub const MARKER: &str = "r12";

    /// getppid with r12 (ip) = MAGIC; returns r12 after the syscall.
    pub fn getppid_marker() -> u32 {
        let ip: u32;
        // SAFETY: getppid has no memory effects; r0, r7, r12 are declared.
        unsafe {
            asm!(
                "mov r12, {m}",
                "svc #0",
                "mov {o}, r12",
                m = in(reg) MAGIC,
                o = out(reg) ip,
                in("r7") 64,
                out("r0") _,
                out("r12") _,
            );
        }
        ip
    }

    /// fork (clone(SIGCHLD)) with r12 = MAGIC; returns (result, r12 after).
    pub fn fork_marker() -> (isize, u32) {
        let (ret, ip): (isize, u32);
        // SAFETY: a plain fork: the child continues on a copy of this stack.
        unsafe {
            asm!(
                "mov r12, {m}",
                "svc #0",
                "mov {o}, r12",
                m = in(reg) MAGIC,
                o = out(reg) ip,
                in("r7") 120,
                inlateout("r0") 17 => ret,
                in("r1") 0,
                in("r2") 0,
                in("r3") 0,
                in("r4") 0,
                out("r12") _,
            );
        }
        (ret, ip)
    }

    pub extern "C" fn on_usr1(_sig: i32) {
        // SAFETY: d7 (declared) and d16 change. d16 exists only with
        // VFPv3-D32 (the cortex-a15 of the test machine); this target is
        // built without d32, so the compiler never uses d16 itself.
        unsafe {
            asm!(
                ".fpu neon",
                "vmov d7, {z}, {z}",
                "vmov d16, {z}, {z}",
                z = in(reg) 0,
                out("d7") _,
            )
        };
        super::HANDLED.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub const FP_REGS: &str = "d7 and d16";

    /// Sets r12 and d8 from `tag`, makes `n` raw sched_yield calls (another
    /// thread of the process runs in between), and checks they still hold
    /// it: each thread's registers are its own.
    pub fn regs_across_yields(tag: u64, n: u32) -> bool {
        let t = tag as u32;
        let (ip, lo, hi): (u32, u32, u32);
        // SAFETY: sched_yield has no memory effects; every register the
        // block writes is declared.
        unsafe {
            asm!(
                "mov r12, {t}",
                "vmov d8, {t}, {u}",
                "2:",
                "mov r7, #158",
                "svc #0",
                "subs {c}, {c}, #1",
                "bne 2b",
                "mov {ipo}, r12",
                "vmov {lo}, {hi}, d8",
                t = in(reg) t,
                u = in(reg) !t,
                c = inout(reg) n => _,
                ipo = out(reg) ip,
                lo = out(reg) lo,
                hi = out(reg) hi,
                out("r0") _,
                out("r7") _,
                out("r12") _,
                out("d8") _,
            );
        }
        ip == t && lo == t && hi == !t
    }
    pub const THREAD_REGS: &str = "r12 and d8";

    /// Sets d7 and d16 to `pat`, kill(getpid(), SIGUSR1), reads them back.
    pub fn fp_kill_self(pat: u64) -> bool {
        let (a, b, c, d): (u32, u32, u32, u32);
        // SAFETY: getpid, then kill(self, SIGUSR1): the handler runs on this
        // thread's stack and changes only d7 (declared) and d16 (see on_usr1).
        unsafe {
            asm!(
                ".fpu neon",
                "vmov d7, {lo}, {hi}",
                "vmov d16, {lo}, {hi}",
                "mov r7, #20",
                "svc #0",
                "mov r1, #10",
                "mov r7, #37",
                "svc #0",
                "vmov {a}, {b}, d7",
                "vmov {c}, {d}, d16",
                lo = in(reg) pat as u32,
                hi = in(reg) (pat >> 32) as u32,
                a = out(reg) a,
                b = out(reg) b,
                c = out(reg) c,
                d = out(reg) d,
                out("r0") _,
                out("r1") _,
                out("r7") _,
                out("d7") _,
            );
        }
        let p = (pat as u32, (pat >> 32) as u32);
        (a, b) == p && (c, d) == p
    }

    /// rt_sigaction(sig, {handler, flags, no restorer, empty mask}).
    pub fn sigaction(sig: usize, handler: usize, flags: usize) -> isize {
        let sa: [u32; 5] = [handler as u32, flags as u32, 0, 0, 0];
        sys6(RT_SIGACTION, [sig, sa.as_ptr() as usize, 0, 8, 0, 0])
    }

    pub const MMAP: usize = 192; // mmap2 (offset in pages)
    pub const CLOSE: usize = 6;
    pub const MUNMAP: usize = 91;
    pub const OPENAT: usize = 322;
    pub const UNLINKAT: usize = 328;
    pub const FLOCK: usize = 143;
    pub const SETITIMER: usize = 104;
    pub const TIMER_CREATE: usize = 257;
    pub const TIMER_SETTIME: usize = 258;
    pub const TIMER_DELETE: usize = 261;
    /// fcntl64 with `struct flock64` (the same layout as arm64's flock under
    /// EABI) and its lock commands.
    pub const FCNTL_LK: usize = 221;
    pub const F_GETLK: usize = 12;
    pub const F_SETLK: usize = 13;
    /// Entry points in the batch page (PROT_NONE while the guest runs): its
    /// start and its `svc` (offset 0x38 in the layout of
    /// shim/src/sys/arch/arm/stub.rs).
    pub const STUB_BATCH_TARGETS: &[usize] = &[0xbe00_2000, 0xbe00_2038];

    // System V IPC (EABI has the calls themselves, no ipc(2)) and POSIX
    // message queues (`probe ipc`); the ctl commands carry IPC_64.
    pub const MQ_OPEN: usize = 274;
    pub const MQ_UNLINK: usize = 275;
    pub const MQ_TIMEDSEND: usize = 276;
    pub const MQ_TIMEDRECEIVE: usize = 277;
    pub const SEMOP: usize = 298;
    pub const SEMGET: usize = 299;
    pub const SEMCTL: usize = 300;
    pub const MSGSND: usize = 301;
    pub const MSGRCV: usize = 302;
    pub const MSGGET: usize = 303;
    pub const MSGCTL: usize = 304;
    pub const SHMAT: usize = 305;
    pub const SHMDT: usize = 306;
    pub const SHMGET: usize = 307;
    pub const SHMCTL: usize = 308;
    pub const SEMTIMEDOP: usize = 312;
    pub const IPC_64: usize = 0x100;
    /// The batch cookie's 12 bytes at the end of the data page: 0 whenever
    /// the guest runs.
    pub const COOKIE_ADDR: Option<usize> = Some(0xbe00_1ff4);

    /// Sets r0..r5 and r7 for mmap2(page, 4096, PROT_READ|PROT_WRITE,
    /// MAP_SHARED|MAP_FIXED, 3, 0), sp = `sp`, and jumps to `pc` (ARM state).
    pub fn jump(pc: usize, page: usize, sp: usize) -> ! {
        // SAFETY: never returns; the caller is a throwaway child whose fault
        // handlers end it (see `stubjump`).
        unsafe {
            asm!(
                "mov sp, {sp}",
                "bx {pc}",
                sp = in(reg) sp,
                pc = in(reg) pc,
                in("r0") page,
                in("r1") 4096,
                in("r2") 3,
                in("r3") 0x11,
                in("r4") 3,
                in("r5") 0,
                in("r7") MMAP,
                options(noreturn),
            )
        }
    }

    pub const BARE_KIND: &str = "a bare PTRACE_SYSCALL + SET_SYSCALL(-1) tracer";

    /// One traced getppid: entry stop (GETREGS, SET_SYSCALL -1), exit stop
    /// (SETREGS with r0 = 4242). Returns false when the tracee did something
    /// else.
    pub fn bare_round(pid: usize, st: usize) -> bool {
        let mut regs = [0u32; 18];
        let stopped = || {
            // SAFETY: `st` points at the caller's status int.
            let status = unsafe { *(st as *const i32) };
            status & 0x7f == 0x7f
        };
        sys6(PTRACE, [24, pid, 0, 0, 0, 0]); // PTRACE_SYSCALL
        sys6(WAIT4, [pid, st, 0, 0, 0, 0]);
        if !stopped() {
            return false;
        }
        sys6(PTRACE, [12, pid, 0, regs.as_mut_ptr() as usize, 0, 0]); // GETREGS
        if regs[7] != GETPPID as u32 {
            return false;
        }
        sys6(PTRACE, [23, pid, 0, usize::MAX, 0, 0]); // PTRACE_SET_SYSCALL -1
        sys6(PTRACE, [24, pid, 0, 0, 0, 0]);
        sys6(WAIT4, [pid, st, 0, 0, 0, 0]);
        if !stopped() {
            return false;
        }
        regs[0] = 4242;
        sys6(PTRACE, [13, pid, 0, regs.as_ptr() as usize, 0, 0]); // SETREGS
        true
    }
}

use arch::*;

static HANDLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn exit_now(code: i32) -> ! {
    sys6(EXIT_GROUP, [code as usize, 0, 0, 0, 0, 0]);
    unreachable!("exit_group returned")
}

fn getpid() -> usize {
    sys6(GETPID, [0; 6]) as usize
}

/// fork; the child calls `child` and exits with its result.
fn fork_run(child: impl FnOnce() -> i32) -> isize {
    let pid = sys6(CLONE, [17, 0, 0, 0, 0, 0]);
    if pid == 0 {
        exit_now(child());
    }
    pid
}

fn wait_status(pid: isize) -> i32 {
    let mut status: i32 = 0;
    sys6(WAIT4, [pid as usize, &mut status as *mut i32 as usize, 0, 0, 0, 0]);
    status
}

// ---- Correctness checks of issue 10, natively and under umbra: shared
// anonymous memory across fork, record locks and flock, timers that reach a
// guest spinning in user mode. Each prints the same lines on a real kernel.

const EAGAIN: isize = -11;

/// mmap(NULL, len, PROT_READ|PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0).
fn mmap_anon(len: usize, flags: usize) -> *mut u32 {
    let r = sys6(MMAP, [0, len, 3, flags | 0x20, usize::MAX, 0]);
    if r < 0 && r > -4096 {
        println!("mmap failed: {r}");
        exit_now(1);
    }
    r as *mut u32
}

/// `probe shanon`: MAP_SHARED|MAP_ANONYMOUS is one memory for parent and
/// children (a child's store is seen by the parent; three children add to one
/// counter), while MAP_PRIVATE stays private.
fn shared_anon() -> bool {
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    let shared = mmap_anon(4096, 0x01);
    let private = mmap_anon(4096, 0x02);
    // SAFETY: both are fresh 4 KiB read-write mappings, u32-aligned; children
    // run on their own copies of the address space except `shared`.
    let (sh, pr) = unsafe { (&*(shared as *const AtomicU32), &*(private as *const AtomicU32)) };
    // SAFETY: as above; word 1 of the shared page.
    let counter = unsafe { &*((shared as *const AtomicU32).add(1)) };
    sh.store(1, SeqCst);
    pr.store(1, SeqCst);
    let pid = fork_run(|| {
        sh.store(42, SeqCst);
        pr.store(42, SeqCst);
        0
    });
    wait_status(pid);
    println!("shared word after the child wrote 42: {}", sh.load(SeqCst));
    println!("private word after the child wrote 42: {}", pr.load(SeqCst));
    let kids: Vec<isize> = (0..3)
        .map(|_| {
            fork_run(|| {
                for _ in 0..10_000 {
                    counter.fetch_add(1, SeqCst);
                }
                0
            })
        })
        .collect();
    for k in kids {
        wait_status(k);
    }
    let total = counter.load(SeqCst);
    println!("counter after 3 children added 10000 each: {total}");
    let ok = sh.load(SeqCst) == 42 && pr.load(SeqCst) == 1 && total == 30_000;
    sys6(MUNMAP, [shared as usize, 4096, 0, 0, 0, 0]);
    sys6(MUNMAP, [private as usize, 4096, 0, 0, 0, 0]);
    ok
}

/// `probe filemap` (issue 11): a MAP_SHARED mapping of a file (at offset
/// 4096, which mmap2 on arm takes in pages) is the file: a store through
/// it is seen by pread, a pwrite is seen through it, a forked child's
/// store too; a MAP_PRIVATE mapping's store stays private.
fn filemap() -> bool {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    let path = "/tmp/probe.map";
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
    else {
        println!("open failed");
        return false;
    };
    let data: Vec<u8> = (0..8192u32).map(|i| b'a' + (i % 23) as u8).collect();
    if f.write_all_at(&data, 0).is_err() {
        println!("write failed");
        return false;
    }
    let off = if cfg!(target_arch = "arm") { 1 } else { 4096 };
    let fd = f.as_raw_fd() as usize;
    let shared = sys6(MMAP, [0, 4096, 3, 0x01, fd, off]);
    let private = sys6(MMAP, [0, 4096, 3, 0x02, fd, off]);
    if (-4096..0).contains(&shared) || (-4096..0).contains(&private) {
        println!("mmap failed: {shared} {private}");
        return false;
    }
    let (sp, pp) = (shared as *mut u8, private as *mut u8);
    let byte = |at: u64| {
        let mut b = [0u8; 1];
        let _ = f.read_at(&mut b, at);
        b[0] as char
    };
    // SAFETY: `sp` and `pp` are fresh 4 KiB read-write mappings of the
    // file's second page; every offset used is below 4096.
    unsafe {
        println!("mapped byte 0 is file byte 4096: {}", sp.read_volatile() as char);
        sp.add(10).write_volatile(b'M');
        println!("pread after a store through the mapping: {}", byte(4096 + 10));
        let _ = f.write_all_at(b"W", 4096 + 20);
        println!("the mapping after a pwrite: {}", sp.add(20).read_volatile() as char);
        pp.add(40).write_volatile(b'P');
        println!("pread after a store through a private mapping: {}", byte(4096 + 40));
    }
    let pid = fork_run(|| {
        // SAFETY: the child's copy of the shared mapping, as above.
        unsafe { sp.add(30).write_volatile(b'C') };
        0
    });
    wait_status(pid);
    println!("pread after a child's store: {}", byte(4096 + 30));
    let ok = byte(4096 + 10) == 'M' && byte(4096 + 30) == 'C' && byte(4096 + 40) != 'P';
    sys6(MUNMAP, [shared as usize, 4096, 0, 0, 0, 0]);
    sys6(MUNMAP, [private as usize, 4096, 0, 0, 0, 0]);
    let _ = std::fs::remove_file(path);
    ok
}

#[repr(C)]
#[derive(Default)]
struct Flock {
    ty: i16,
    whence: i16,
    start: i64,
    len: i64,
    pid: i32,
}

fn lock_op(fd: usize, cmd: usize, ty: i16, start: i64, len: i64) -> (isize, Flock) {
    let mut fl = Flock {
        ty,
        start,
        len,
        ..Flock::default()
    };
    let r = sys6(FCNTL_LK, [fd, cmd, &mut fl as *mut Flock as usize, 0, 0, 0]);
    (r, fl)
}

fn open_lockfile(path: &[u8], flags: usize) -> usize {
    // O_RDWR | flags
    let r = sys6(OPENAT, [-100isize as usize, path.as_ptr() as usize, 2 | flags, 0o644, 0, 0]);
    if r < 0 {
        println!("open failed: {r}");
        exit_now(1);
    }
    r as usize
}

/// `probe locks`: a write lock held by the parent blocks a child's F_SETLK
/// (EAGAIN) and shows in its F_GETLK with the parent's pid; closing the fd
/// releases it; flock(LOCK_EX) excludes another open file description.
fn locks() -> bool {
    const F_RDLCK: i16 = 0;
    const F_WRLCK: i16 = 1;
    const F_UNLCK: i16 = 2;
    let path = b"/tmp/probe.lock\0";
    let fd = open_lockfile(path, 0o100 | 0o1000); // O_CREAT | O_TRUNC
    let me = getpid() as i32;
    let (r, _) = lock_op(fd, F_SETLK, F_WRLCK, 0, 100);
    println!("parent F_SETLK write [0,100): {r}");
    let r = sys6(FLOCK, [fd, 2, 0, 0, 0, 0]); // LOCK_EX
    println!("parent flock(LOCK_EX): {r}");
    let pid = fork_run(move || {
        let mut bad = 0;
        let fd2 = open_lockfile(path, 0);
        let (r, _) = lock_op(fd2, F_SETLK, F_RDLCK, 50, 10);
        println!("child F_SETLK read [50,60): {}", if r == EAGAIN { "EAGAIN" } else { "not refused" });
        bad += i32::from(r != EAGAIN);
        let (r, fl) = lock_op(fd2, F_GETLK, F_RDLCK, 50, 10);
        let who = if fl.pid == me { "the parent" } else { "someone else" };
        println!(
            "child F_GETLK: {r}, type {}, [{}, +{}) held by {who}",
            if fl.ty == F_WRLCK { "write" } else if fl.ty == F_UNLCK { "unlocked" } else { "read" },
            fl.start,
            fl.len
        );
        bad += i32::from(fl.ty != F_WRLCK || fl.pid != me);
        let (r, _) = lock_op(fd2, F_SETLK, F_WRLCK, 100, 10);
        println!("child F_SETLK write [100,110): {r}");
        bad += i32::from(r != 0);
        let r = sys6(FLOCK, [fd2, 2 | 4, 0, 0, 0, 0]); // LOCK_EX | LOCK_NB
        println!("child flock(LOCK_EX|LOCK_NB) while the parent holds LOCK_EX: {}", if r == EAGAIN { "EWOULDBLOCK" } else { "not refused" });
        bad += i32::from(r != EAGAIN);
        bad
    });
    let st = wait_status(pid);
    println!("child status: {st}");
    sys6(CLOSE, [fd, 0, 0, 0, 0, 0]);
    let pid = fork_run(move || {
        let fd2 = open_lockfile(path, 0);
        let (r, _) = lock_op(fd2, F_SETLK, F_WRLCK, 0, 100);
        println!("after the parent closed its fd, child F_SETLK write [0,100): {r}");
        let f = sys6(FLOCK, [fd2, 2 | 4, 0, 0, 0, 0]);
        println!("and flock(LOCK_EX|LOCK_NB): {f}");
        i32::from(r != 0 || f != 0)
    });
    let st2 = wait_status(pid);
    println!("child status: {st2}");
    sys6(UNLINKAT, [-100isize as usize, path.as_ptr() as usize, 0, 0, 0, 0]);
    st == 0 && st2 == 0
}

static TICKS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

extern "C" fn on_tick(_sig: i32) {
    TICKS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Spins in user mode, without a syscall, until TICKS reaches `n`.
fn spin_until(n: u32) {
    while TICKS.load(std::sync::atomic::Ordering::SeqCst) < n {
        std::hint::spin_loop();
    }
}

/// `probe timers`: ITIMER_REAL, ITIMER_VIRTUAL and a POSIX timer
/// (timer_create, SIGEV_SIGNAL, periodic) each reach a guest that spins in
/// user mode without syscalls. A lost signal spins until umbra's --timeout.
fn timers() -> bool {
    use std::sync::atomic::Ordering::SeqCst;
    let mut ok = true;
    // 100 ms, no interval: {interval sec, usec, value sec, usec}.
    let once: [isize; 4] = [0, 0, 0, 100_000];
    for (which, sig, name) in [(0usize, 14usize, "ITIMER_REAL"), (1, 26, "ITIMER_VIRTUAL")] {
        TICKS.store(0, SeqCst);
        sigaction(sig, on_tick as *const () as usize, 0);
        let r = sys6(SETITIMER, [which, once.as_ptr() as usize, 0, 0, 0, 0]);
        if r != 0 {
            println!("setitimer({name}): {r}");
            ok = false;
            continue;
        }
        spin_until(1);
        println!("{name} signal reached a loop without syscalls");
    }
    // A POSIX timer on CLOCK_MONOTONIC sending SIGUSR2 every 20 ms.
    TICKS.store(0, SeqCst);
    sigaction(12, on_tick as *const () as usize, 0);
    // struct sigevent: value, signo, notify (SIGEV_SIGNAL = 0), padding.
    let mut sev = [0i32; 16];
    let w = std::mem::size_of::<usize>() / 4;
    sev[w] = 12;
    sev[w + 1] = 0;
    let mut id: i32 = -1;
    let r = sys6(TIMER_CREATE, [1, sev.as_ptr() as usize, &mut id as *mut i32 as usize, 0, 0, 0]);
    println!("timer_create: {r}");
    if r != 0 {
        return false;
    }
    // struct itimerspec: interval {sec, nsec}, value {sec, nsec}.
    let spec: [isize; 4] = [0, 20_000_000, 0, 20_000_000];
    let r = sys6(TIMER_SETTIME, [id as usize, 0, spec.as_ptr() as usize, 0, 0, 0]);
    println!("timer_settime: {r}");
    if r != 0 {
        return false;
    }
    spin_until(3);
    let r = sys6(TIMER_DELETE, [id as usize, 0, 0, 0, 0, 0]);
    println!("POSIX timer fired at least 3 times into a spinning loop; timer_delete: {r}");
    ok && r == 0
}

fn marker_test() -> bool {
    let mut ok = true;
    let a = getppid_marker();
    let word = |k: bool| if k { "kept" } else { "LOST" };
    println!("{MARKER} after getppid: {}", word(a == MAGIC));
    ok &= a == MAGIC;
    let (pid, m) = fork_marker();
    if pid == 0 {
        exit_now(if m == MAGIC { 0 } else { 1 });
    }
    println!("{MARKER} after fork, parent: {}", word(m == MAGIC));
    ok &= m == MAGIC;
    let child_ok = wait_status(pid) == 0;
    println!("{MARKER} after fork, child: {}", word(child_ok));
    ok && child_ok
}

fn fp_across_handler(siginfo: bool) -> bool {
    let flags = if siginfo { 4 } else { 0 }; // SA_SIGINFO
    let r = sigaction(10, on_usr1 as *const () as usize, flags);
    if r != 0 {
        println!("rt_sigaction failed: {r}");
        return false;
    }
    let kept = fp_kill_self(0x1122_3344_5566_7788);
    let handled = HANDLED.load(std::sync::atomic::Ordering::SeqCst);
    println!(
        "handler ran: {handled}; {FP_REGS} after it: {}",
        if kept { "kept" } else { "LOST" }
    );
    handled && kept
}

/// `probe threads` (issue 11): std threads (pthreads of the C library:
/// clone with CLONE_THREAD, futexes, TLS) with a mutex, thread locals, a
/// condvar ping-pong, and each thread's general and vector registers kept
/// while the others run. The same output natively and under umbra.
fn threads() -> bool {
    use std::cell::Cell;
    use std::sync::{Arc, Condvar, Mutex};
    let counter = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&counter);
            std::thread::spawn(move || {
                for _ in 0..500 {
                    *c.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                }
            })
        })
        .collect();
    for h in hs {
        let _ = h.join();
    }
    let total = *counter.lock().unwrap_or_else(|e| e.into_inner());
    println!("mutex counter after 4 threads added 500 each: {total}");
    thread_local!(static TL: Cell<u32> = const { Cell::new(7) });
    let tls: Vec<u32> = (1..=3u32)
        .map(|i| {
            std::thread::spawn(move || {
                TL.with(|t| t.set(t.get() * 10 + i));
                std::thread::yield_now();
                TL.with(Cell::get)
            })
        })
        .map(|h| h.join().unwrap_or(0))
        .collect();
    let main_tl = TL.with(Cell::get);
    println!("thread locals: {tls:?}, main's: {main_tl}");
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let turn = |pair: &(Mutex<u32>, Condvar), parity: u32| {
        let (m, c) = pair;
        for i in 0..100 {
            let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
            while *g != 2 * i + parity {
                g = c.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            *g += 1;
            c.notify_one();
        }
    };
    let h = std::thread::spawn(move || turn(&p2, 1));
    turn(&pair, 0);
    let _ = h.join();
    let turns = *pair.0.lock().unwrap_or_else(|e| e.into_inner());
    println!("condvar ping-pong: {turns} turns");
    let hs: Vec<_> = (0..3u64)
        .map(|i| std::thread::spawn(move || regs_across_yields(0x5a5a_1234_0000 + i, 50)))
        .collect();
    let kept = hs
        .into_iter()
        .map(|h| h.join().unwrap_or(false))
        .filter(|&k| k)
        .count();
    println!("threads whose {THREAD_REGS} survived 50 switches: {kept} of 3");
    total == 2_000 && tls == [71, 72, 73] && main_tl == 7 && turns == 200 && kept == 3
}

fn bare_tracer(n: u32) {
    let pid = fork_run(|| {
        sys6(PTRACE, [0; 6]); // PTRACE_TRACEME
        sys6(KILL, [getpid(), 19, 0, 0, 0, 0]); // SIGSTOP
        let mut wrong = 0;
        for _ in 0..n {
            if sys6(GETPPID, [0; 6]) != 4242 {
                wrong += 1;
            }
        }
        i32::from(wrong != 0)
    });
    let mut status: i32 = 0;
    let st = &mut status as *mut i32 as usize;
    sys6(WAIT4, [pid as usize, st, 0, 0, 0, 0]);
    // PTRACE_O_EXITKILL: the child dies with us whatever happens.
    sys6(PTRACE, [0x4200, pid as usize, 0, 0x10_0000, 0, 0]);
    let t = Instant::now();
    let mut calls = 0u64;
    while calls < u64::from(n) && bare_round(pid as usize, st) {
        calls += 1;
    }
    let elapsed = t.elapsed();
    // Let it run to its exit untraced (it sits in a syscall stop).
    sys6(PTRACE, [17, pid as usize, 0, 0, 0, 0]); // PTRACE_DETACH
    let ns = elapsed.as_nanos() / u128::from(calls.max(1));
    let code = wait_status(pid);
    let verdict = if calls == u64::from(n) && code == 0 {
        "every result was the tracer's".to_string()
    } else {
        format!("WRONG: {calls} of {n} calls traced, child status {code:#x}")
    };
    println!("getppid under {BARE_KIND}: {ns} ns per call ({calls} calls; {verdict})");
}

fn forks(n: u32) {
    let t = Instant::now();
    for _ in 0..n {
        let pid = fork_run(|| 0);
        wait_status(pid);
    }
    let us = t.elapsed().as_micros() / u128::from(n.max(1));
    println!("forks: {us} us each (fork, exit, wait)");
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn sweep(rounds: u32) {
    let mut scratch = vec![0u8; 64 * 1024];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for b in scratch.iter_mut() {
        *b = rng.next() as u8;
    }
    let base = scratch.as_mut_ptr() as usize;
    let garbage = |rng: &mut Rng| -> usize {
        let r = rng.next();
        match r % 11 {
            0 => 0,
            1 => usize::MAX,
            2 => (r >> 8) as usize % 64,
            3 | 4 => base + (r >> 8) as usize % (scratch.len() - 4096),
            5 => 0x1000,
            6 => KERNEL_ADDR,
            7 => STUB_ADDR + ((r >> 8) as usize % 0x2000),
            8 => (r >> 8) as usize & 0xffff,
            _ => (r >> 4) as usize,
        }
    };
    let nrs: Vec<usize> = (0..460)
        .chain(SWEEP_EXTRA.iter().copied())
        .filter(|n| !SWEEP_EXCLUDED.contains(n))
        .collect();
    let (mut exited, mut signaled, mut timed_out, mut calls) = (0, 0, 0, 0);
    let t = Instant::now();
    for round in 0..rounds {
        for &nr in &nrs {
            let args = [
                garbage(&mut rng),
                garbage(&mut rng),
                garbage(&mut rng),
                garbage(&mut rng),
                garbage(&mut rng),
                garbage(&mut rng),
            ];
            let pid = sys6(CLONE, [17, 0, 0, 0, 0, 0]);
            if pid == 0 {
                sys6(nr, args);
                exit_now(0);
            }
            if pid < 0 {
                println!("sweep: fork failed ({pid}) at nr {nr} round {round}");
                std::process::exit(1);
            }
            calls += 1;
            let mut status: i32 = 0;
            let st = &mut status as *mut i32 as usize;
            let started = Instant::now();
            loop {
                let r = sys6(WAIT4, [pid as usize, st, 1, 0, 0, 0]); // WNOHANG
                if r == pid {
                    if status & 0x7f == 0 {
                        exited += 1;
                    } else {
                        signaled += 1;
                    }
                    break;
                }
                if r < 0 {
                    println!("sweep: wait4 failed ({r}) at nr {nr}");
                    std::process::exit(1);
                }
                if started.elapsed() > Duration::from_millis(300) {
                    timed_out += 1;
                    sys6(KILL, [pid as usize, 9, 0, 0, 0, 0]);
                    wait_status(pid);
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    println!(
        "sweep: {calls} calls ({} numbers x {rounds}) in {:.1} s: {exited} children exited, \
         {signaled} killed by a signal, {timed_out} blocked and were killed",
        nrs.len(),
        t.elapsed().as_secs_f64()
    );
    println!("sweep done");
}

/// Waits for `pid` at most `ms` milliseconds (then kills it): its wait
/// status, or None when it had to be killed.
fn wait_for(pid: isize, ms: u64) -> Option<i32> {
    let mut status: i32 = 0;
    let st = &mut status as *mut i32 as usize;
    let started = Instant::now();
    loop {
        let r = sys6(WAIT4, [pid as usize, st, 1, 0, 0, 0]); // WNOHANG
        if r == pid {
            return Some(status);
        }
        if r < 0 || started.elapsed() > Duration::from_millis(ms) {
            sys6(KILL, [pid as usize, 9, 0, 0, 0, 0]);
            wait_status(pid);
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The page that a host mapping call made by a jumping child would replace.
static MARK_PAGE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn mark_byte(i: usize) -> u8 {
    (i.wrapping_mul(7) + 13) as u8
}

/// The jumping child's handler of SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV and
/// SIGSYS: exits with 100 + the signal if its marked page is intact, with 1
/// if it is not (a host mmap over it ran).
extern "C" fn on_fault(sig: i32) {
    let page = MARK_PAGE.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: the page was allocated and filled by this process; if a host
    // mapping replaced it, it is still mapped (to another file page).
    let intact = (0..4096).all(|i| unsafe { *((page + i) as *const u8) } == mark_byte(i));
    exit_now(if intact { 100 + sig } else { 1 });
}

/// `probe stubjump`: forks one child per entry point of umbra's stub pages
/// (every instruction of the stub code page's blob, as read from the page;
/// on arm also the batch page) that jumps there with the registers of a
/// host `mmap(marked page, 4096, RW, MAP_SHARED|MAP_FIXED, fd 3, 0)`, fd 3
/// closed in the guest and sp on a zeroed stack (so a sigreturn reached in
/// the stub finds a null frame). A child must end by SIGKILL (umbra killed
/// it: its stub died, e.g. by the stub's seccomp filter) or by a fault
/// signal, caught with its marked page intact. A changed page (a host
/// mapping call ran), any other exit, or (arm) a cookie visible to the guest
/// fails. Prints one line per page and `stubjump: PASS ...` or
/// `stubjump: FAIL ...`. Only meant to run under umbra.
fn stubjump() -> bool {
    let code = STUB_ADDR;
    // The blob: up to its last non-zero word (the rest of the page is 0).
    let words: Vec<u32> = (0..1024)
        // SAFETY: under umbra the stub code page is mapped r-x here.
        .map(|i| unsafe { *((code + 4 * i) as *const u32) })
        .collect();
    let len = words.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
    let mut pages: Vec<(&str, Vec<usize>)> =
        vec![("code page", (0..len).map(|i| code + 4 * i).collect())];
    if !STUB_BATCH_TARGETS.is_empty() {
        pages.push(("batch page", STUB_BATCH_TARGETS.to_vec()));
    }
    let cookie_words = || -> Vec<u32> {
        COOKIE_ADDR.map_or(Vec::new(), |a| {
            // SAFETY: under umbra the stub data page is mapped r-- here.
            (0..3)
                .map(|i| unsafe { *((a + 4 * i) as *const u32) })
                .collect()
        })
    };
    let mut bad: Vec<String> = Vec::new();
    let cookie_before = cookie_words();
    // A marked page and a zeroed stack (sp in its middle).
    let mut area = vec![0u8; 4096 * 18];
    let page = (area.as_mut_ptr() as usize + 4095) & !4095;
    let sp = page + 4096 * 9;
    MARK_PAGE.store(page, std::sync::atomic::Ordering::SeqCst);
    let (mut killed, mut caught, mut timed_out, mut jumps) = (0, 0, 0, 0);
    let t = Instant::now();
    for (what, targets) in &pages {
        let mut line = format!("stubjump: {what}, {} entry points:", targets.len());
        for &pc in targets {
            let pid = fork_run(|| {
                sys6(CLOSE, [3, 0, 0, 0, 0, 0]);
                for i in 0..4096 {
                    // SAFETY: `page` is in `area`, this process's copy.
                    unsafe { *((page + i) as *mut u8) = mark_byte(i) };
                }
                for sig in [4, 5, 7, 8, 11, 31] {
                    sigaction(sig, on_fault as *const () as usize, 0);
                }
                jump(pc, page, sp)
            });
            if pid < 0 {
                bad.push(format!("fork failed ({pid})"));
                break;
            }
            jumps += 1;
            let off = pc - code;
            let word = match wait_for(pid, 3000) {
                None => {
                    timed_out += 1;
                    "TIMEOUT".to_string()
                }
                Some(s) if s & 0x7f == 9 => {
                    killed += 1;
                    "KILL".to_string()
                }
                Some(s) if s & 0x7f != 0 => {
                    caught += 1;
                    format!("sig{}", s & 0x7f)
                }
                Some(s) => match (s >> 8) & 0xff {
                    c @ 101..=131 => {
                        caught += 1;
                        format!("caught{}", c - 100)
                    }
                    1 => {
                        bad.push(format!("{what} +{off:#x}: the marked page changed"));
                        "CHANGED".to_string()
                    }
                    c => {
                        bad.push(format!("{what} +{off:#x}: exit {c}"));
                        format!("exit{c}")
                    }
                },
            };
            line += &format!(" {off:x}:{word}");
        }
        println!("{line}");
    }
    let cookie_after = cookie_words();
    if !cookie_before.is_empty() {
        println!("stubjump: cookie words seen by the guest: {cookie_before:x?} before, {cookie_after:x?} after");
        if cookie_before.iter().chain(&cookie_after).any(|&w| w != 0) {
            bad.push("the guest sees a batch cookie".into());
        }
    }
    drop(area);
    let summary = format!(
        "{jumps} jumps in {:.1} s: {killed} ended by SIGKILL (stub killed), {caught} by a fault signal, {timed_out} spun and were killed",
        t.elapsed().as_secs_f64()
    );
    if len == 0 {
        bad.push("the stub code page reads as zeros".into());
    }
    if bad.is_empty() {
        println!("stubjump: PASS: {summary}; no host mapping call ran");
        true
    } else {
        println!("stubjump: FAIL: {summary}; {}", bad.join("; "));
        false
    }
}

fn arg_n(args: &[String], default: u32) -> u32 {
    args.get(2).and_then(|s| s.parse().ok()).unwrap_or(default)
}

// ---- issue 11: System V IPC and POSIX message queues with the arch's own
// syscalls and structure layouts, natively and under umbra.

/// A C `long` of the structure bytes `b` at `off`.
fn long_at(b: &[u8], off: usize) -> usize {
    let l = std::mem::size_of::<usize>();
    let mut v = [0u8; 8];
    v[..l].copy_from_slice(&b[off..off + l]);
    u64::from_le_bytes(v) as usize
}

/// `probe ipc`: a shared memory segment shared with a forked child and its
/// shmid64_ds (size, attach count, mode); a semaphore set's SETVAL, semop,
/// GETVAL, a semtimedop that times out (EAGAIN) and semid64_ds's nsems; a
/// message queue's msgsnd, msqid64_ds's qnum, msgrcv by type, E2BIG and
/// ENOMSG; a POSIX queue's priority order. The same lines on a real kernel.
fn ipc() -> bool {
    let l = std::mem::size_of::<usize>();
    // struct ipc64_perm, then each structure's fields at their offsets.
    let perm = if l == 4 { 36 } else { 48 };
    let mut ok = true;
    let mut ds = [0u8; 128];
    // Shared memory.
    let id = sys6(SHMGET, [0, 10000, 0o600, 0, 0, 0]) as usize;
    let at = sys6(SHMAT, [id, 0, 0, 0, 0, 0]);
    if at < 0 && at > -4096 {
        println!("shmat: {at}");
        return false;
    }
    let p = at as *mut u8;
    // SAFETY: `p` is a fresh 10000-byte read-write attach; the child writes
    // its own attach of the same segment (inherited by fork).
    let child = fork_run(|| unsafe {
        *p.add(9999) = 7;
        0
    });
    wait_status(child);
    let st = sys6(SHMCTL, [id, 2 | IPC_64, ds.as_mut_ptr() as usize, 0, 0, 0]);
    // SAFETY: as above.
    let seen = unsafe { *p.add(9999) };
    let (segsz, nattch) = (long_at(&ds, perm), long_at(&ds, perm + l + 24 + 8));
    let mode = u16::from_le_bytes([ds[20], ds[21]]);
    println!("shm: the child's store seen: {seen}; IPC_STAT {st}, segsz {segsz}, nattch {nattch}, mode {mode:o}");
    ok &= seen == 7 && st == 0 && segsz == 10000 && nattch == 1 && mode == 0o600;
    sys6(SHMDT, [at as usize, 0, 0, 0, 0, 0]);
    let rm = sys6(SHMCTL, [id, IPC_64, 0, 0, 0, 0]);
    let gone = sys6(SHMCTL, [id, 2 | IPC_64, ds.as_mut_ptr() as usize, 0, 0, 0]);
    println!("shm: IPC_RMID {rm}, IPC_STAT after {gone}");
    ok &= rm == 0 && gone == -22;
    // Semaphores: struct sembuf is { u16 num; i16 op; i16 flg }.
    let id = sys6(SEMGET, [0, 2, 0o600, 0, 0, 0]) as usize;
    let set = sys6(SEMCTL, [id, 1, 16 | IPC_64, 5, 0, 0]);
    let dec: [u16; 3] = [1, (-2i16) as u16, 0];
    let op = sys6(SEMOP, [id, dec.as_ptr() as usize, 1, 0, 0, 0]);
    let val = sys6(SEMCTL, [id, 1, 12 | IPC_64, 0, 0, 0]);
    let wait: [u16; 3] = [0, (-1i16) as u16, 0];
    let ts: [usize; 2] = [0, 20_000_000];
    let timed = sys6(
        SEMTIMEDOP,
        [id, wait.as_ptr() as usize, 1, ts.as_ptr() as usize, 0, 0],
    );
    let st = sys6(SEMCTL, [id, 0, 2 | IPC_64, ds.as_mut_ptr() as usize, 0, 0]);
    let nsems = long_at(&ds, perm + 16);
    println!("sem: SETVAL {set}, semop {op}, GETVAL {val}, semtimedop {timed}, IPC_STAT {st}, nsems {nsems}");
    ok &= set == 0 && op == 0 && val == 3 && timed == EAGAIN && st == 0 && nsems == 2;
    ok &= sys6(SEMCTL, [id, 0, IPC_64, 0, 0, 0]) == 0;
    // Message queues: a message is a long mtype, then the text.
    let id = sys6(MSGGET, [0, 0o600, 0, 0, 0, 0]) as usize;
    let msg = |t: usize, text: &[u8]| {
        let mut m = vec![0u8; l + 16];
        m[..l].copy_from_slice(&t.to_le_bytes()[..l]);
        m[l..l + text.len()].copy_from_slice(text);
        sys6(MSGSND, [id, m.as_ptr() as usize, text.len(), 0, 0, 0])
    };
    let s1 = msg(5, b"five");
    let s2 = msg(9, b"nine!");
    let st = sys6(MSGCTL, [id, 2 | IPC_64, ds.as_mut_ptr() as usize, 0, 0, 0]);
    let qnum = long_at(&ds, perm + 24 + l);
    let mut buf = vec![0u8; l + 16];
    let r9 = sys6(MSGRCV, [id, buf.as_mut_ptr() as usize, 16, 9, 0, 0]);
    let t9 = long_at(&buf, 0);
    let text = String::from_utf8_lossy(&buf[l..l + r9.max(0) as usize]).into_owned();
    let big = sys6(MSGRCV, [id, buf.as_mut_ptr() as usize, 2, 5, 0, 0]);
    let none = sys6(MSGRCV, [id, buf.as_mut_ptr() as usize, 16, 7, 0o4000, 0]);
    println!("msg: msgsnd {s1} {s2}, qnum {qnum} (IPC_STAT {st}), msgrcv type 9: {r9} type {t9} '{text}', too small {big}, none {none}");
    ok &= s1 == 0 && s2 == 0 && st == 0 && qnum == 2 && r9 == 5 && t9 == 9 && big == -7 && none == -42;
    ok &= sys6(MSGCTL, [id, IPC_64, 0, 0, 0, 0]) == 0;
    // A POSIX message queue: struct mq_attr is eight longs.
    // The name without its '/', as the C libraries pass it (the '/' stays in
    // memory before it, where qemu-user looks for it).
    let full = b"/umbra-probe-mq\0";
    let name = &full[1..];
    sys6(MQ_UNLINK, [name.as_ptr() as usize, 0, 0, 0, 0, 0]);
    let attr: [usize; 8] = [0, 4, 32, 0, 0, 0, 0, 0];
    let fd = sys6(MQ_OPEN, [name.as_ptr() as usize, 0o100 | 2, 0o600, attr.as_ptr() as usize, 0, 0]);
    let a = sys6(MQ_TIMEDSEND, [fd as usize, b"lo".as_ptr() as usize, 2, 1, 0, 0]);
    let b = sys6(MQ_TIMEDSEND, [fd as usize, b"hi".as_ptr() as usize, 2, 9, 0, 0]);
    let mut prio: u32 = 0;
    let mut rb = [0u8; 32];
    let r = sys6(
        MQ_TIMEDRECEIVE,
        [fd as usize, rb.as_mut_ptr() as usize, 32, &mut prio as *mut u32 as usize, 0, 0],
    );
    let got = String::from_utf8_lossy(&rb[..r.max(0) as usize]).into_owned();
    sys6(CLOSE, [fd as usize, 0, 0, 0, 0, 0]);
    let un = sys6(MQ_UNLINK, [name.as_ptr() as usize, 0, 0, 0, 0, 0]);
    println!("mq: open {}, send {a} {b}, receive {r} '{got}' prio {prio}, unlink {un}", fd >= 0);
    ok &= fd >= 0 && a == 0 && b == 0 && r == 2 && got == "hi" && prio == 9 && un == 0;
    ok
}

// ---- Issue 12: AF_UNIX and loopback AF_INET sockets, natively and under
// umbra (the same lines on a real kernel; no port numbers or fd numbers).

#[repr(C)]
struct MsgHdr {
    name: *mut u8,
    namelen: u32,
    iov: *mut std::io::IoSliceMut<'static>,
    iovlen: usize,
    control: *mut u8,
    controllen: usize,
    flags: i32,
}

extern "C" {
    fn sendmsg(fd: i32, msg: *const MsgHdr, flags: i32) -> isize;
    fn recvmsg(fd: i32, msg: *mut MsgHdr, flags: i32) -> isize;
    fn pipe(fds: *mut i32) -> i32;
}

/// One SCM_RIGHTS control message: cmsghdr (len, level, type) and an fd.
#[repr(C, align(8))]
struct Rights {
    len: usize,
    level: i32,
    ty: i32,
    fd: i32,
    pad: i32,
}

/// Sends `fd` with one byte over `sock` (SCM_RIGHTS).
fn send_fd(sock: i32, fd: i32) -> isize {
    let mut byte = [b'F'];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    // CMSG_LEN(sizeof(int)): the header (usize + 2 x i32) and the fd;
    // CMSG_SPACE: that rounded up to a usize.
    let w = std::mem::size_of::<usize>();
    let len = w + 8 + 4;
    let mut cm = Rights { len, level: 1, ty: 1, fd, pad: 0 };
    let msg = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: iov.as_mut_ptr().cast(),
        iovlen: 1,
        control: (&mut cm as *mut Rights).cast(),
        controllen: len.div_ceil(w) * w,
        flags: 0,
    };
    // SAFETY: msg points at live buffers for the call.
    unsafe { sendmsg(sock, &msg, 0) }
}

/// Receives one byte and an SCM_RIGHTS fd; (bytes, level, type, fd).
fn recv_fd(sock: i32) -> (isize, i32, i32, i32) {
    let mut byte = [0u8];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut cm = Rights { len: 0, level: 0, ty: 0, fd: -1, pad: 0 };
    let mut msg = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: iov.as_mut_ptr().cast(),
        iovlen: 1,
        control: (&mut cm as *mut Rights).cast(),
        controllen: std::mem::size_of::<Rights>(),
        flags: 0,
    };
    // SAFETY: msg points at live buffers for the call.
    let r = unsafe { recvmsg(sock, &mut msg, 0) };
    (r, cm.level, cm.ty, cm.fd)
}

/// `probe unix`: socketpairs (stream and datagram), a listener on a /tmp
/// path and one on an abstract name with forked clients, and a pipe's read
/// end passed with SCM_RIGHTS.
fn unix() -> bool {
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
    let mut ok = true;
    // A stream pair: bytes one way, EOF after a shutdown.
    let Ok((mut a, mut b)) = UnixStream::pair() else {
        println!("socketpair(SOCK_STREAM) failed");
        return false;
    };
    let w = a.write(b"ping").unwrap_or(0);
    let mut buf = [0u8; 64];
    let r = b.read(&mut buf).unwrap_or(0);
    let _ = a.shutdown(std::net::Shutdown::Write);
    let eof = b.read(&mut buf[r..]).map_or(-1, |n| n as isize);
    println!("stream pair: wrote {w}, read {r} '{}', then read {eof} after shutdown", String::from_utf8_lossy(&buf[..r]));
    ok &= w == 4 && r == 4 && eof == 0;
    // A datagram pair keeps message boundaries.
    let Ok((da, db)) = UnixDatagram::pair() else {
        println!("socketpair(SOCK_DGRAM) failed");
        return false;
    };
    let s1 = da.send(b"one").unwrap_or(0);
    let s2 = da.send(b"three").unwrap_or(0);
    let r1 = db.recv(&mut buf).unwrap_or(0);
    let r2 = db.recv(&mut buf).unwrap_or(0);
    println!("dgram pair: sent {s1} and {s2}, received {r1} and {r2} '{}'", String::from_utf8_lossy(&buf[..r2]));
    ok &= (s1, s2, r1, r2) == (3, 5, 3, 5);
    // A listener on a path, a forked client.
    let path = "/tmp/probe.sock";
    let _ = std::fs::remove_file(path);
    let Ok(l) = UnixListener::bind(path) else {
        println!("bind {path} failed");
        return false;
    };
    let kind = std::fs::metadata(path).map(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_socket()
    });
    println!("bound {path}: a socket node: {kind:?}");
    let pid = fork_run(|| {
        let Ok(mut c) = UnixStream::connect(path) else { return 3 };
        let mut got = [0u8; 32];
        if c.write_all(b"hello from the child").is_err() {
            return 4;
        }
        let n = c.read(&mut got).unwrap_or(0);
        if &got[..n] == b"hello child" { 0 } else { 5 }
    });
    match l.accept() {
        Ok((mut s, peer)) => {
            let n = s.read(&mut buf).unwrap_or(0);
            println!("accepted: peer unnamed {}, read '{}'", peer.is_unnamed(), String::from_utf8_lossy(&buf[..n]));
            let _ = s.write_all(b"hello child");
        }
        Err(e) => {
            println!("accept failed: {e}");
            ok = false;
        }
    }
    let st = wait_status(pid);
    println!("path client: exit status {st:#x}");
    println!("listener name: {:?}", l.local_addr().ok().and_then(|a| a.as_pathname().map(|p| p.display().to_string())));
    ok &= st == 0;
    drop(l);
    let _ = std::fs::remove_file(path);
    // An abstract name, a forked client.
    let Ok(name) = SocketAddr::from_abstract_name(b"umbra-probe") else { return false };
    let Ok(l) = UnixListener::bind_addr(&name) else {
        println!("bind of an abstract name failed");
        return false;
    };
    let pid = fork_run(|| {
        let Ok(mut c) = UnixStream::connect_addr(&name) else { return 3 };
        if c.write_all(b"abstract").is_err() { 4 } else { 0 }
    });
    match l.accept() {
        Ok((mut s, _)) => {
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            println!("abstract: read '{}'", String::from_utf8_lossy(&got));
            ok &= got == b"abstract";
        }
        Err(e) => {
            println!("abstract accept failed: {e}");
            ok = false;
        }
    }
    let st = wait_status(pid);
    let local = l.local_addr().ok().and_then(|a| a.as_abstract_name().map(|n| String::from_utf8_lossy(n).into_owned()));
    println!("abstract client: exit status {st:#x}, listener name {local:?}");
    ok &= st == 0;
    // SCM_RIGHTS: a pipe's read end crosses a socketpair.
    let Ok((p, q)) = UnixStream::pair() else { return false };
    let mut fds = [-1i32; 2];
    // SAFETY: fds has room for two ints.
    if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
        println!("pipe failed");
        return false;
    }
    // SAFETY: fds are the fresh pipe's, owned here from now on.
    let (rd, mut wr) = unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) };
    let sent = send_fd(p.as_raw_fd(), rd.as_raw_fd());
    drop(rd);
    let (got, level, ty, fd) = recv_fd(q.as_raw_fd());
    println!("SCM_RIGHTS: sent {sent}, received {got} with level {level} type {ty}, an fd: {}", fd >= 0);
    if fd >= 0 {
        let _ = wr.write_all(b"through the passed fd");
        drop(wr);
        // SAFETY: the received fd is new and owned here.
        let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
        let mut s = String::new();
        let _ = f.read_to_string(&mut s);
        println!("read from the passed fd: '{s}'");
        ok &= s == "through the passed fd";
    }
    ok &= sent == 1 && got == 1 && level == 1 && ty == 1 && fd >= 0;
    ok
}

/// `probe tcp`: a 127.0.0.1 listener on an ephemeral port, a forked client
/// sending 8 KiB that the server echoes back, and a UDP round trip.
fn tcp() -> bool {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream, UdpSocket};
    let mut ok = true;
    let Ok(l) = TcpListener::bind("127.0.0.1:0") else {
        println!("bind 127.0.0.1:0 failed");
        return false;
    };
    let Ok(addr) = l.local_addr() else { return false };
    println!("listener on {} with an ephemeral port: {}", addr.ip(), addr.port() != 0);
    const N: usize = 8192;
    let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    let pid = fork_run(|| {
        let Ok(mut c) = TcpStream::connect(addr) else { return 3 };
        if c.write_all(&data).is_err() {
            return 4;
        }
        let mut back = vec![0u8; N];
        if c.read_exact(&mut back).is_err() {
            return 5;
        }
        if back == data { 0 } else { 6 }
    });
    match l.accept() {
        Ok((mut s, peer)) => {
            println!("accepted from {}", peer.ip());
            let mut buf = [0u8; 1024];
            let mut total = 0;
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        total += n;
                    }
                }
            }
            println!("echoed {total} bytes until the client closed");
            ok &= total == N;
        }
        Err(e) => {
            println!("accept failed: {e}");
            ok = false;
        }
    }
    let st = wait_status(pid);
    println!("client: exit status {st:#x}");
    ok &= st == 0;
    // UDP: a datagram there and back.
    let (Ok(u1), Ok(u2)) = (UdpSocket::bind("127.0.0.1:0"), UdpSocket::bind("127.0.0.1:0")) else {
        println!("udp bind failed");
        return false;
    };
    let Ok(to) = u2.local_addr() else { return false };
    let sent = u1.send_to(b"datagram", to).unwrap_or(0);
    let mut buf = [0u8; 64];
    match u2.recv_from(&mut buf) {
        Ok((n, from)) => {
            println!("udp: sent {sent}, received {n} '{}' from {} (the sender's port: {})", String::from_utf8_lossy(&buf[..n]), from.ip(), Some(from) == u1.local_addr().ok());
            let _ = u2.send_to(b"reply", from);
            let r = u1.recv(&mut buf).unwrap_or(0);
            println!("udp reply: {r} '{}'", String::from_utf8_lossy(&buf[..r]));
            ok &= n == 8 && r == 5;
        }
        Err(e) => {
            println!("udp recv failed: {e}");
            ok = false;
        }
    }
    ok
}

fn main() {
    // Keep `asm` in use on both arches (the arch modules have their own).
    // SAFETY: an empty asm block.
    unsafe { asm!("") };
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("hello") => println!("hello world"),
        Some(m) if m == MARKER => std::process::exit(if marker_test() { 0 } else { 1 }),
        Some("getppid") => {
            let n = arg_n(&args, 1000);
            let t = Instant::now();
            for _ in 0..n {
                getppid_marker();
            }
            let ns = t.elapsed().as_nanos() / u128::from(n.max(1));
            println!("getppid: {ns} ns per call");
        }
        Some("bare") => bare_tracer(arg_n(&args, 1000)),
        Some("forks") => forks(arg_n(&args, 100)),
        Some("fp") => std::process::exit(if fp_across_handler(false) { 0 } else { 1 }),
        Some("fpsi") => std::process::exit(if fp_across_handler(true) { 0 } else { 1 }),
        Some("sweep") => sweep(arg_n(&args, 1)),
        Some("stubjump") => std::process::exit(if stubjump() { 0 } else { 1 }),
        Some("shanon") => std::process::exit(if shared_anon() { 0 } else { 1 }),
        Some("locks") => std::process::exit(if locks() { 0 } else { 1 }),
        Some("timers") => std::process::exit(if timers() { 0 } else { 1 }),
        Some("threads") => std::process::exit(if threads() { 0 } else { 1 }),
        Some("ipc") => std::process::exit(if ipc() { 0 } else { 1 }),
        Some("filemap") => std::process::exit(if filemap() { 0 } else { 1 }),
        Some("unix") => std::process::exit(if unix() { 0 } else { 1 }),
        Some("tcp") => std::process::exit(if tcp() { 0 } else { 1 }),
        _ => {
            eprintln!("usage: probe hello | {MARKER} | fp | fpsi | getppid N | bare N | forks N | sweep ROUNDS | stubjump | shanon | locks | timers | threads | ipc | filemap | unix | tcp");
            std::process::exit(2);
        }
    }
}
