//! A static aarch64 guest program for images/arm/run.sh (built with plain
//! rustc for aarch64-unknown-linux-musl):
//! - `probe x7`: x7 survives a syscall, and a fork in parent and child (arm64
//!   ptrace shows x7 = 0 at syscall stops; see shim/src/host/aarch64.rs);
//!   exit status 0 when it does;
//! - `probe getppid N`: prints `getppid: <ns> ns per call` over N calls;
//! - `probe bare N`: the same getppid round trip against a bare PTRACE_SYSEMU
//!   tracer (GETREGSET, SETREGSET of x0 per call): the floor for umbra;
//! - `probe forks N`: fork, exit and wait, N times: `forks: <us> us each`;
//! - `probe fp`: a SIGUSR1 handler (installed without SA_RESTORER, as glibc
//!   does on arm64) that zeroes v16 runs during a kill syscall; v16 must be
//!   back after the handler returns.

use std::arch::asm;
use std::time::Instant;

const MAGIC: u64 = 0x7777_1234_5678_9abc;

/// getppid with x7 = MAGIC; returns x7 after the syscall.
fn getppid_x7() -> u64 {
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
fn fork_x7() -> (i64, u64) {
    let (ret, x7): (i64, u64);
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

fn wait_status(pid: i64) -> i32 {
    let mut status: i32 = 0;
    // SAFETY: wait4 writes one int into `status`.
    unsafe {
        asm!(
            "mov x8, #260",
            "svc #0",
            inout("x0") pid => _,
            in("x1") &mut status as *mut i32,
            in("x2") 0,
            in("x3") 0,
            out("x8") _,
        );
    }
    status
}

fn exit_now(code: i32) -> ! {
    // SAFETY: exit_group never returns.
    unsafe { asm!("mov x8, #94", "svc #0", in("x0") code, options(noreturn)) }
}

static HANDLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_usr1(_sig: i32) {
    // SAFETY: only v16 is changed, and it is declared.
    unsafe { asm!("movi v16.2d, #0", out("v16") _) };
    HANDLED.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn fp_across_handler() -> bool {
    // struct kernel_sigaction { handler, flags, restorer, mask }: no SA_RESTORER.
    let sa = [on_usr1 as *const () as usize as u64, 0, 0, 0];
    // SAFETY: `sa` is a readable kernel sigaction; the old action is NULL.
    let r: i64;
    unsafe {
        asm!(
            "mov x8, #134",
            "svc #0",
            inout("x0") 10i64 => r,
            in("x1") sa.as_ptr(),
            in("x2") 0,
            in("x3") 8,
            out("x8") _,
        );
    }
    if r != 0 {
        println!("rt_sigaction failed: {r}");
        return false;
    }
    let pat: u64 = 0x1122_3344_5566_7788;
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
    let handled = HANDLED.load(std::sync::atomic::Ordering::SeqCst);
    println!(
        "handler ran: {handled}; v16 after it: {}",
        if got == pat { "kept" } else { "LOST" }
    );
    handled && got == pat
}

/// A raw syscall.
fn sys6(nr: u64, a: [u64; 6]) -> i64 {
    let r: i64;
    // SAFETY: the callers pass pointers valid for what each syscall does.
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

fn getpid() -> i64 {
    sys6(172, [0; 6])
}

/// fork; the child calls `child` and exits with its result.
fn fork_run(child: impl FnOnce() -> i32) -> i64 {
    let pid = sys6(220, [17, 0, 0, 0, 0, 0]);
    if pid == 0 {
        exit_now(child());
    }
    pid
}

fn bare_tracer(n: u32) {
    let pid = fork_run(|| {
        sys6(117, [0; 6]); // PTRACE_TRACEME
        sys6(129, [getpid() as u64, 19, 0, 0, 0, 0]); // SIGSTOP
        for _ in 0..n {
            getppid_x7();
        }
        0
    });
    let mut status: i32 = 0;
    let st = &mut status as *mut i32 as u64;
    sys6(260, [pid as u64, st, 0, 0, 0, 0]);
    let mut regs = [0u64; 34];
    let iov = [regs.as_mut_ptr() as u64, 34 * 8];
    let t = Instant::now();
    let mut calls = 0u64;
    loop {
        sys6(117, [31, pid as u64, 0, 0, 0, 0]); // PTRACE_SYSEMU
        sys6(260, [pid as u64, st, 0, 0, 0, 0]);
        if status & 0x7f != 0x7f {
            break;
        }
        sys6(117, [0x4204, pid as u64, 1, iov.as_ptr() as u64, 0, 0]); // GETREGSET
        if regs[8] != 173 {
            sys6(117, [8, pid as u64, 0, 0, 0, 0]); // PTRACE_KILL
            sys6(260, [pid as u64, st, 0, 0, 0, 0]);
            break;
        }
        regs[0] = 4242;
        sys6(117, [0x4205, pid as u64, 1, iov.as_ptr() as u64, 0, 0]); // SETREGSET
        calls += 1;
    }
    let ns = t.elapsed().as_nanos() / u128::from(calls.max(1));
    println!("getppid under a bare SYSEMU tracer: {ns} ns per call ({calls} calls)");
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("x7") => {
            let mut ok = true;
            let a = getppid_x7();
            println!(
                "x7 after getppid: {}",
                if a == MAGIC { "kept" } else { "LOST" }
            );
            ok &= a == MAGIC;
            let (pid, x7) = fork_x7();
            if pid == 0 {
                exit_now(if x7 == MAGIC { 0 } else { 1 });
            }
            println!(
                "x7 after fork, parent: {}",
                if x7 == MAGIC { "kept" } else { "LOST" }
            );
            ok &= x7 == MAGIC;
            let st = wait_status(pid);
            let child_ok = st == 0;
            println!(
                "x7 after fork, child: {}",
                if child_ok { "kept" } else { "LOST" }
            );
            ok &= child_ok;
            std::process::exit(if ok { 0 } else { 1 });
        }
        Some("getppid") => {
            let n: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let t = Instant::now();
            for _ in 0..n {
                getppid_x7();
            }
            let ns = t.elapsed().as_nanos() / u128::from(n.max(1));
            println!("getppid: {ns} ns per call");
        }
        Some("bare") => bare_tracer(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000)),
        Some("forks") => forks(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100)),
        Some("fp") => std::process::exit(if fp_across_handler() { 0 } else { 1 }),
        _ => {
            eprintln!("usage: probe x7 | fp | getppid N | bare N | forks N");
            std::process::exit(2);
        }
    }
}
