//! The preemption timer, FP state, console errors, SIGWINCH and the host
//! terminal (raw mode, restored on every exit path). Tests that send signals to
//! the whole process or need their own stdin/stdout run a helper in a child
//! process: this same test binary, with `--exact helper_... --ignored` and
//! `UMBRA_SHIM_HELPER` set.
//!
//! x86_64 only: the guest code blobs, registers and syscall numbers here are
//! x86_64's (the aarch64 and arm backends are tested by `cargo xtask test-arm`).
#![cfg(target_arch = "x86_64")]

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use umbra_abi::flags::Prot;
use umbra_core::arch::UserRegs;
use umbra_core::host::{
    ConsoleStream, HostConsole, HostCpu, HostError, HostMemory, HostTime, MapOp, MmId, SyscallAbi,
    Trap,
};
use umbra_shim::host::{HostOptions, PtraceHost};
use umbra_shim::sys;

const CODE_VA: u64 = 0x40_0000;
const DATA_VA: u64 = 0x50_0000;
const CODE_PHYS: u64 = 0x1000;
const DATA_PHYS: u64 = 0x2000;
const SPIN: [u8; 2] = [0xeb, 0xfe]; // 1: jmp 1b

fn host() -> PtraceHost {
    PtraceHost::new(HostOptions {
        mem_bytes: 16 << 20,
        cpu: None,
        disks: vec![],
    })
    .expect("PtraceHost::new")
}

fn space(h: &mut PtraceHost, code: &[u8]) -> MmId {
    let mm = h.mm_create().expect("mm_create");
    h.physmem_mut()[CODE_PHYS as usize..CODE_PHYS as usize + code.len()].copy_from_slice(code);
    h.mm_apply(
        mm,
        &[
            MapOp::Map {
                va: CODE_VA,
                len: 4096,
                phys: CODE_PHYS,
                prot: Prot::READ | Prot::EXEC,
            },
            MapOp::Map {
                va: DATA_VA,
                len: 4096,
                phys: DATA_PHYS,
                prot: Prot::READ | Prot::WRITE,
            },
        ],
    )
    .expect("mm_apply");
    mm
}

fn regs() -> UserRegs {
    UserRegs::new_user(CODE_VA, DATA_VA + 4096)
}

/// Runs helper test `name` of this binary in a child process.
fn helper(name: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("UMBRA_SHIM_HELPER", "1");
    c
}

fn is_helper() -> bool {
    std::env::var_os("UMBRA_SHIM_HELPER").is_some()
}

/// Host events from other tests' SIGWINCH never happen here (those run in
/// helpers), but a spurious HostEvent would be harmless: skip it.
fn run_until_not_event(h: &mut PtraceHost, mm: MmId, r: &mut UserRegs) -> Trap {
    loop {
        match h.run_user(mm, r) {
            Trap::HostEvent => continue,
            t => return t,
        }
    }
}

#[test]
fn timer_preempts_a_spinning_guest() {
    let mut h = host();
    let mm = space(&mut h, &SPIN);
    let mut r = regs();
    let mut lat = Vec::new();
    for _ in 0..11 {
        let t0 = Instant::now();
        h.set_timer(Some(h.now_mono() + 10_000_000));
        assert_eq!(run_until_not_event(&mut h, mm, &mut r), Trap::Timer);
        let el = t0.elapsed();
        assert!(el >= Duration::from_millis(9), "{el:?}");
        assert_eq!(r.ip(), CODE_VA);
        lat.push(el);
    }
    lat.sort();
    let (median, worst) = (lat[lat.len() / 2], lat[lat.len() - 1]);
    eprintln!("timer 10 ms -> Trap::Timer: median {median:?}, worst {worst:?}");
    // The stub spins on umbra's CPU: umbra's wake-up waits for the scheduler.
    // A loaded machine adds to that; the median stays close to the deadline.
    assert!(median < Duration::from_millis(50), "{lat:?}");
    assert!(worst < Duration::from_millis(500), "{lat:?}");
}

/// A timer that expires at any moment of `run_user` (before the stub is
/// marked running, between the marking and the resume, during the stop) is
/// never lost. Deadlines a few microseconds away land in every part of the
/// path; a lost expiry would leave the stub spinning forever, so a watchdog
/// turns that into a failure.
#[test]
fn timer_expiry_is_never_lost_around_the_resume() {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(120) {
            if d.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("timer_expiry_is_never_lost_around_the_resume: a timer expiry was lost");
        std::process::abort();
    });
    let mut h = host();
    let mm = space(&mut h, &SPIN);
    let mut r = regs();
    for i in 0..3000u64 {
        // Force a register write now and then, as after a syscall.
        if i % 3 == 0 {
            r = regs();
        }
        h.set_timer(Some(h.now_mono() + (i % 60) * 1_000));
        assert_eq!(run_until_not_event(&mut h, mm, &mut r), Trap::Timer);
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn timer_expired_while_the_kernel_was_busy() {
    let mut h = host();
    // mov eax, 39; syscall; jmp back
    let mm = space(&mut h, &[0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]);
    let mut r = regs();
    h.set_timer(Some(h.now_mono() + 1_000_000));
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(h.run_user(mm, &mut r), Trap::Timer);
    // Taken: the next run is a normal one.
    assert_eq!(
        run_until_not_event(&mut h, mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Native
        }
    );
    // A disarmed timer never fires; re-arming forgets an old expiry.
    h.set_timer(Some(h.now_mono() + 2_000_000));
    h.set_timer(None);
    std::thread::sleep(Duration::from_millis(5));
    for _ in 0..100 {
        r.set_syscall_ret(0);
        assert_eq!(
            run_until_not_event(&mut h, mm, &mut r),
            Trap::Syscall {
                abi: SyscallAbi::Native
            }
        );
    }
    // A deadline in the past fires at once.
    h.set_timer(Some(1));
    let mm2 = space(&mut h, &SPIN);
    let mut r2 = regs();
    assert_eq!(run_until_not_event(&mut h, mm2, &mut r2), Trap::Timer);
}

#[test]
fn timer_interleaved_with_syscalls_loses_nothing() {
    // Many short timers while the guest makes syscalls: every expiry shows up
    // as exactly one Timer, late kicks never leak out as spurious traps.
    let mut h = host();
    let mm = space(&mut h, &[0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]);
    let mut r = regs();
    let mut timers = 0;
    let t0 = Instant::now();
    while timers < 50 {
        if !h_armed(&h) {
            h.set_timer(Some(h.now_mono() + 200_000));
        }
        match run_until_not_event(&mut h, mm, &mut r) {
            Trap::Timer => timers += 1,
            Trap::Syscall { .. } => r.set_syscall_ret(0),
            t => panic!("{t:?}"),
        }
        assert!(t0.elapsed() < Duration::from_secs(10));
    }
}

fn h_armed(h: &PtraceHost) -> bool {
    h.timer_armed()
}

#[test]
fn timer_wakes_wait_event() {
    let mut h = host();
    let t0 = h.now_mono();
    h.set_timer(Some(t0 + 10_000_000));
    // stdin may be readable (e.g. /dev/null): the first wait then returns at
    // once; after that only the timer can end it before the 2 s deadline.
    let mut waits = 0;
    while h.now_mono() < t0 + 9_000_000 {
        h.wait_event(Some(t0 + 2_000_000_000));
        waits += 1;
        assert!(waits <= 2, "wait_event spins");
    }
    let el = h.now_mono() - t0;
    assert!(el < 50_000_000, "woke after {el} ns");
}

#[test]
fn fp_state_round_trip() {
    let mut h = host();
    // movdqu [DATA_VA], xmm0; int3
    let code = [0xf3, 0x0f, 0x7f, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00, 0xcc];
    let mm = space(&mut h, &code);
    let mut fp = [0u8; 512];
    assert_eq!(h.fpstate_get(mm, &mut fp), Ok(512));
    assert_eq!(
        u32::from_le_bytes(fp[24..28].try_into().unwrap()) & 0xffc0,
        0x1f80 & 0xffc0,
        "MXCSR"
    );
    let pattern: Vec<u8> = (0..16u8).map(|i| 0xa0 ^ i).collect();
    fp[160..176].copy_from_slice(&pattern); // XMM0
    h.fpstate_set(mm, &fp).unwrap();
    let mut r = regs();
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::Exception { sig: 5, .. }
    ));
    assert_eq!(
        &h.physmem()[DATA_PHYS as usize..DATA_PHYS as usize + 16],
        &pattern[..]
    );
    let mut back = [0u8; 512];
    h.fpstate_get(mm, &mut back).unwrap();
    assert_eq!(&back[160..176], &pattern[..]);
    // Too small a buffer; reserved MXCSR bits.
    assert_eq!(
        h.fpstate_get(mm, &mut [0u8; 100]),
        Err(HostError::OutOfRange)
    );
    fp[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(h.fpstate_set(mm, &fp).is_err());
    h.mm_destroy(mm);
    assert_eq!(h.fpstate_get(mm, &mut back), Err(HostError::StubDied));
}

#[test]
fn console_write_broken_pipe() {
    let mut child = helper("helper_broken_pipe")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Read until the helper is ready (the harness writes first), then the
    // reader goes away.
    let mut rd = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("START") {
        line.clear();
        if rd.read_line(&mut line).unwrap() == 0 {
            break;
        }
    }
    drop(rd);
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0), "{st:?}");
}

#[test]
#[ignore]
fn helper_broken_pipe() {
    if !is_helper() {
        return;
    }
    use std::io::Write;
    let mut h = host();
    println!("START");
    std::io::stdout().flush().unwrap();
    // The parent closes its end once it has read that.
    let t0 = Instant::now();
    loop {
        match h.console_write(ConsoleStream::Stdout, b"x") {
            Err(HostError::BrokenPipe) => std::process::exit(0),
            Ok(_) if t0.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => {
                eprintln!("console_write: {other:?}");
                std::process::exit(1)
            }
        }
    }
}

#[test]
fn sigwinch_makes_run_user_and_wait_event_return() {
    let out = helper("helper_sigwinch")
        .stdin(Stdio::piped()) // open, never written: stdin never readable
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("SIGWINCH OK"), "{so}");
}

#[test]
#[ignore]
fn helper_sigwinch() {
    if !is_helper() {
        return;
    }
    let mut h = host();
    let mm = space(&mut h, &SPIN);
    let me = sys::getpid();
    let winch_later = move || {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            sys::ptrace::kill(me, 28).unwrap();
        })
    };
    // While a guest spins.
    let t = winch_later();
    let mut r = regs();
    let t0 = Instant::now();
    assert_eq!(h.run_user(mm, &mut r), Trap::HostEvent);
    assert!(t0.elapsed() < Duration::from_secs(2));
    t.join().unwrap();
    // While umbra waits with nothing to do.
    let t = winch_later();
    let t0 = Instant::now();
    h.wait_event(None);
    assert!(t0.elapsed() < Duration::from_secs(2));
    t.join().unwrap();
    // While the kernel is busy: the next run_user reports it at once.
    sys::ptrace::kill(me, 28).unwrap();
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(h.run_user(mm, &mut r), Trap::HostEvent);
    // And only once.
    h.set_timer(Some(h.now_mono() + 20_000_000));
    assert_eq!(h.run_user(mm, &mut r), Trap::Timer);
    println!("SIGWINCH OK");
}

// ---------------------------------------------------------------------------
// The terminal.

const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const ISIG: u32 = 0o1;
const ICRNL: u32 = 0o400;
const IXON: u32 = 0o2000;
const OPOST: u32 = 0o1;

fn assert_raw(t: &[u32; 9]) {
    assert_eq!(t[3] & (ICANON | ECHO | ISIG), 0, "lflag {:o}", t[3]);
    assert_eq!(t[0] & (ICRNL | IXON), 0, "iflag {:o}", t[0]);
    assert_eq!(t[1] & OPOST, 0, "oflag {:o}", t[1]);
}

/// Starts helper `mode` with a fresh pty's slave as stdin; returns the child,
/// the slave (to read its termios), the original termios and the helper's
/// first stdout line.
fn tty_helper(
    mode: &str,
) -> (
    std::process::Child,
    std::os::fd::OwnedFd,
    [u32; 9],
    String,
    std::os::fd::OwnedFd,
) {
    let (master, slave) = sys::signals::open_pty().unwrap();
    let mut cooked = sys::signals::tcgets(slave.as_raw_fd()).unwrap();
    cooked[3] |= ICANON | ECHO | ISIG;
    cooked[0] |= ICRNL | IXON;
    cooked[1] |= OPOST;
    sys::signals::tcsets(slave.as_raw_fd(), &cooked).unwrap();
    let cooked = sys::signals::tcgets(slave.as_raw_fd()).unwrap();
    let mut child = helper("helper_tty")
        .env("UMBRA_TTY_MODE", mode)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The test harness prints its own lines first.
    let mut line = String::new();
    let mut rd = BufReader::new(child.stdout.take().unwrap());
    while !line.contains("RAW ") {
        line.clear();
        if rd.read_line(&mut line).unwrap() == 0 {
            break;
        }
    }
    if let Some(at) = line.find("RAW ") {
        line.drain(..at);
    }
    // Keep reading (and discarding) so the helper never blocks on stdout.
    std::thread::spawn(move || std::io::copy(&mut rd, &mut std::io::sink()));
    (child, slave, cooked, line, master)
}

#[test]
fn tty_raw_then_restored_on_exit() {
    let (mut child, slave, cooked, line, _m) = tty_helper("exit");
    assert!(line.starts_with("RAW true"), "{line:?}");
    // The helper holds the host until we have looked and typed a key.
    assert_raw(&sys::signals::tcgets(slave.as_raw_fd()).unwrap());
    sys::write_all(_m.as_raw_fd(), b"q").unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0), "{st:?}");
    assert_eq!(sys::signals::tcgets(slave.as_raw_fd()).unwrap(), cooked);
}

fn tty_signal_case(sig: i32) {
    sys::set_child_subreaper(true).unwrap();
    let (mut child, slave, cooked, line, _m) = tty_helper("spin");
    assert!(line.starts_with("RAW true"), "{line:?}");
    let stub: i32 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert_raw(&sys::signals::tcgets(slave.as_raw_fd()).unwrap());
    sys::ptrace::kill(child.id() as i32, sig).unwrap();
    let st = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(sig), "{st:?}");
    assert_eq!(sys::signals::tcgets(slave.as_raw_fd()).unwrap(), cooked);
    // The stub died with umbra (it was reparented to us: reap it).
    let mut got = None;
    for _ in 0..500 {
        got = sys::ptrace::wait_nohang(stub).unwrap_or(Some(sys::ptrace::WaitStatus::Exited(0)));
        if got.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if got.is_none() {
        sys::ptrace::kill_and_reap(stub);
    }
    assert!(got.is_some(), "stub {stub} outlived umbra");
}

#[test]
fn tty_restored_after_sigterm() {
    tty_signal_case(15);
}

#[test]
fn tty_restored_after_sighup_sigint_sigquit() {
    for sig in [1, 2, 3] {
        tty_signal_case(sig);
    }
}

#[test]
fn tty_restored_after_panic() {
    let (mut child, slave, cooked, line, _m) = tty_helper("panic");
    assert!(line.starts_with("RAW true"), "{line:?}");
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(101), "{st:?}");
    assert_eq!(sys::signals::tcgets(slave.as_raw_fd()).unwrap(), cooked);
}

#[test]
fn tty_restored_after_process_exit() {
    let (mut child, slave, cooked, line, _m) = tty_helper("process-exit");
    assert!(line.starts_with("RAW true"), "{line:?}");
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(3), "{st:?}");
    assert_eq!(sys::signals::tcgets(slave.as_raw_fd()).unwrap(), cooked);
}

#[test]
fn no_tty_no_raw_mode() {
    let out = helper("helper_tty")
        .env("UMBRA_TTY_MODE", "exit")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(so.contains("RAW false"), "{so}");
}

#[test]
#[ignore]
fn helper_tty() {
    if !is_helper() {
        return;
    }
    use std::io::Write;
    let mode = std::env::var("UMBRA_TTY_MODE").unwrap();
    let mut h = host();
    let mm = space(&mut h, &SPIN);
    let pid = h.stub_pid(mm).unwrap();
    println!("RAW {} stub {pid}", sys::signals::tty_is_raw());
    std::io::stdout().flush().unwrap();
    match mode.as_str() {
        "exit" => {
            // Wait for the parent to look: it then types one key (raw mode:
            // no Enter needed).
            let mut b = [0u8; 1];
            assert_eq!(sys::read(0, &mut b), Ok(1));
            drop(h);
        }
        "spin" => {
            let mut r = regs();
            loop {
                h.run_user(mm, &mut r);
            }
        }
        "panic" => panic!("a panic with the terminal in raw mode"),
        "process-exit" => std::process::exit(3),
        _ => unreachable!(),
    }
}
