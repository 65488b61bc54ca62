//! CPU time accounting on MockHost: user time is the time the guest ran in
//! `run_user`, system time the time the kernel spent on its traps, and a
//! parent's children times are those of the children it reaped. The mock's
//! clock moves `step_ns` per guest run and `read_ns` per clock read, so both
//! kinds of time pass.

use crate::config::{Config, PAGE_SIZE};
use crate::fs;
use crate::host::MmId;
use crate::kernel::Kernel;
use crate::syscall::uabi::{decode_longs, rusage_size, NATIVE};
use crate::task::{CpuTimes, ExitStatus};
use crate::testing::{newc_archive, tiny_elf, MockHost, Step};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use umbra_abi::elf::ET_EXEC;
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;

const FRAMES: usize = 1024;
const PAGE: u64 = PAGE_SIZE as u64;
/// Guest time per `run_user`.
const STEP_NS: u64 = 3_000_000;
/// Kernel time per clock read.
const READ_NS: u64 = 20_000;

fn sys(nr: usize, args: &[u64]) -> Step {
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    Step::Syscall(nr as u64, a)
}

/// A kernel with pid 1 ready to run, its address space and a scratch address
/// in its stack.
fn boot() -> (Kernel<MockHost>, MmId, u64) {
    let elf = tiny_elf(ET_EXEC);
    let archive = newc_archive(&[("bin", 0o040_755, &[]), ("bin/prog", 0o100_755, &elf)]);
    let (vfs, console) = fs::vfs_from_cpio(&archive, Timespec::default()).unwrap();
    let mut host = MockHost::new(FRAMES * PAGE_SIZE);
    host.step_ns = STEP_NS;
    host.read_ns = READ_NS;
    let cfg = Config {
        argv: vec![String::from("/bin/prog")],
        ..Config::default()
    };
    let mut k = Kernel::new(host, vfs, cfg, FRAMES);
    assert_eq!(k.spawn_init(fs::devfs::stdio_files(&console)).unwrap(), 1);
    let p = k.process(1).unwrap();
    let (mm, sp) = (p.mm.id, p.thread.regs.sp());
    // Fault the scratch page in from the kernel side.
    let scratch = (sp & !(PAGE - 1)) - 4 * PAGE;
    let p = k.procs.get_mut(&1).unwrap();
    p.mm.write(&mut k.frames, &mut k.host, scratch, &[0; 4096])
        .unwrap();
    (k, mm, scratch)
}

/// (utime, stime) in µs and ru_maxrss of a struct rusage.
fn rusage(b: &[u8]) -> (u64, u64, u64) {
    let v = decode_longs(b, NATIVE);
    (v[0] * 1_000_000 + v[1], v[2] * 1_000_000 + v[3], v[4])
}

#[test]
fn user_and_system_time_of_self_and_of_reaped_children() {
    let (mut k, mm, s) = boot();
    let n = rusage_size(NATIVE) as u64;
    let child_mm = MmId(mm.0 + 1);
    // The child runs five times (four getpids and its exit).
    k.host.script(
        child_mm,
        [
            sys(GETPID, &[]),
            sys(GETPID, &[]),
            sys(GETPID, &[]),
            sys(GETPID, &[]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    const CHILDREN: u64 = -1i64 as u64;
    k.host.script(
        mm,
        [
            sys(GETRUSAGE, &[0, s]),
            sys(GETPID, &[]),
            sys(GETPID, &[]),
            sys(GETRUSAGE, &[0, s + n]),
            sys(CLONE, &[17, 0, 0, 0, 0]),
            sys(GETRUSAGE, &[CHILDREN, s + 2 * n]),
            sys(WAIT4, &[u64::MAX, 0, 0, s + 3 * n]),
            sys(GETRUSAGE, &[CHILDREN, s + 4 * n]),
            sys(WRITE, &[1, s, 5 * n]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    assert_eq!(k.host.results_of(WAIT4 as u64), vec![2]);
    let out = k.host.stdout.clone();
    assert_eq!(out.len() as u64, 5 * n);
    let ru: Vec<(u64, u64, u64)> = out.chunks(n as usize).map(rusage).collect();
    let step_us = STEP_NS / 1000;
    // The first getrusage: one guest run so far; the kernel took some time
    // for exec and the call, less than a run.
    let (u0, s0, rss0) = ru[0];
    assert!((step_us..2 * step_us).contains(&u0), "{ru:?}");
    assert!(s0 > 0 && s0 < step_us, "{ru:?}");
    assert!(rss0 > 0, "maxrss is the resident set: {ru:?}");
    // Three more runs later.
    let (u1, s1, _) = ru[1];
    assert!(u1 >= u0 + 3 * step_us && u1 < u0 + 4 * step_us, "{ru:?}");
    assert!(s1 > s0, "{ru:?}");
    // Nothing reaped yet.
    assert_eq!((ru[2].0, ru[2].1), (0, 0), "{ru:?}");
    // wait4's rusage: the child's five runs and its syscalls.
    let (cu, cs, crss) = ru[3];
    assert!(
        (5 * step_us..6 * step_us).contains(&cu),
        "child user time: {ru:?}"
    );
    assert!(cs > 0 && cs < step_us, "child system time: {ru:?}");
    assert!(crss > 0, "{ru:?}");
    // Once reaped, the child's times are the parent's children times.
    assert_eq!(ru[4], (cu, cs, crss), "{ru:?}");
}

#[test]
fn a_child_that_is_not_waited_for_adds_nothing() {
    let (mut k, mm, s) = boot();
    let n = rusage_size(NATIVE) as u64;
    k.host
        .script(MmId(mm.0 + 1), [sys(GETPID, &[]), sys(EXIT_GROUP, &[0])]);
    k.host.script(
        mm,
        [
            sys(CLONE, &[17, 0, 0, 0, 0]),
            // Lets the child run to its exit.
            sys(SCHED_YIELD, &[]),
            sys(GETPID, &[]),
            sys(GETRUSAGE, &[-1i64 as u64, s]),
            sys(WRITE, &[1, s, n]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    let (u, st, rss) = rusage(&k.host.stdout);
    assert_eq!((u, st, rss), (0, 0, 0));
}

#[test]
fn cpu_times_in_clock_ticks_and_reaping_adds_grandchildren() {
    let grandchild = CpuTimes {
        user_ns: 30_000_000,
        sys_ns: 5_000_000,
        ..CpuTimes::default()
    };
    let mut child = CpuTimes {
        user_ns: 120_000_000,
        sys_ns: 19_999_999,
        ..CpuTimes::default()
    };
    grandchild.reap_into(&mut child, 100);
    assert_eq!(child.ticks(), [12, 1, 3, 0]);
    assert_eq!(child.child_maxrss_kib, 100);
    let mut parent = CpuTimes::default();
    child.reap_into(&mut parent, 40);
    assert_eq!(parent.child_user_ns, 150_000_000);
    assert_eq!(parent.child_sys_ns, 24_999_999);
    assert_eq!(parent.ticks(), [0, 0, 15, 2]);
    assert_eq!(parent.child_maxrss_kib, 100);
}

#[test]
fn cpu_time_clocks_count_guest_and_kernel_time_only() {
    use umbra_abi::flags::CLOCK_PROCESS_CPUTIME_ID;
    let (mut k, mm, s) = boot();
    let ts = 2 * NATIVE.bytes() as u64;
    let clock = CLOCK_PROCESS_CPUTIME_ID as u64;
    k.host.script(
        mm,
        [
            sys(CLOCK_GETTIME, &[clock, s]),
            sys(GETPID, &[]),
            sys(GETPID, &[]),
            sys(CLOCK_GETTIME, &[clock, s + ts]),
            sys(WRITE, &[1, s, 2 * ts]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    let v = decode_longs(&k.host.stdout, NATIVE);
    let ns = |i: usize| v[2 * i] * 1_000_000_000 + v[2 * i + 1];
    let (a, b) = (ns(0), ns(1));
    // Three guest runs and their syscalls between the two reads.
    assert!(b - a >= 3 * STEP_NS && b - a < 4 * STEP_NS, "{a} {b}");
    // At the first read: one run, the exec and the call so far.
    assert!((STEP_NS..2 * STEP_NS).contains(&a), "{a}");
}

#[test]
fn rusage_layout_on_both_widths() {
    use crate::syscall::proc::encode_rusage;
    use crate::syscall::uabi::Long;
    for w in [Long::W32, Long::W64] {
        let b = encode_rusage(2_345_678_000, 7_000, 640, w);
        assert_eq!(b.len(), rusage_size(w));
        let v = decode_longs(&b, w);
        assert_eq!(v[..5], [2, 345_678, 0, 7, 640]);
        assert!(v[5..].iter().all(|&x| x == 0));
    }
}

#[test]
fn times_reports_clock_ticks_of_self_and_reaped_children() {
    let (mut k, mm, s) = boot();
    k.host.step_ns = 20_000_000; // two ticks per guest run
    let n = 4 * NATIVE.bytes() as u64;
    k.host.script(
        MmId(mm.0 + 1),
        [sys(GETPID, &[]), sys(GETPID, &[]), sys(EXIT_GROUP, &[0])],
    );
    k.host.script(
        mm,
        [
            sys(CLONE, &[17, 0, 0, 0, 0]),
            sys(WAIT4, &[u64::MAX, 0, 0, 0]),
            sys(TIMES, &[s]),
            sys(WRITE, &[1, s, n]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    let v = decode_longs(&k.host.stdout, NATIVE);
    // Three runs of the parent, three of the child; little kernel time.
    assert_eq!(v, [6, 0, 6, 0]);
}

#[test]
fn waitid_fills_the_rusage_of_linux_fifth_argument() {
    let (mut k, mm, s) = boot();
    let n = rusage_size(NATIVE) as u64;
    let child_mm = MmId(mm.0 + 1);
    k.host.script(
        child_mm,
        [sys(GETPID, &[]), sys(GETPID, &[]), sys(EXIT_GROUP, &[3])],
    );
    const P_ALL: u64 = 0;
    const WEXITED: u64 = 4;
    k.host.script(
        mm,
        [
            sys(CLONE, &[17, 0, 0, 0, 0]),
            // siginfo at s + n (128 bytes), rusage at s.
            sys(WAITID, &[P_ALL, 0, s + n, WEXITED, s]),
            sys(WRITE, &[1, s, n + 128]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    assert_eq!(k.host.results_of(WAITID as u64), vec![0]);
    let out = k.host.stdout.clone();
    let (cu, cs, crss) = rusage(&out[..n as usize]);
    let step_us = STEP_NS / 1000;
    assert!((3 * step_us..4 * step_us).contains(&cu), "{cu} {cs}");
    assert!(cs > 0 && cs < step_us, "{cu} {cs}");
    assert!(crss > 0);
    // siginfo: SIGCHLD, CLD_EXITED, status 3.
    let si = &out[n as usize..];
    assert_eq!(i32::from_ne_bytes(si[0..4].try_into().unwrap()), 17);
    assert_eq!(i32::from_ne_bytes(si[8..12].try_into().unwrap()), 1);
}

#[test]
fn syncfs_needs_an_open_descriptor() {
    let (mut k, mm, _) = boot();
    k.host.script(
        mm,
        [sys(SYNCFS, &[1]), sys(SYNCFS, &[77]), sys(EXIT_GROUP, &[0])],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    assert_eq!(k.host.results_of(SYNCFS as u64), vec![0, -9]);
}

#[test]
fn user_time_is_the_host_cpu_time_not_the_wall_time() {
    let (mut k, mm, s) = boot();
    // Each run takes 3 ms of wall time, of which the guest's host process
    // ran 1 ms: the host preempted it for the rest.
    const CPU_NS: u64 = 1_000_000;
    k.host.cpu_step_ns = Some(CPU_NS);
    let n = rusage_size(NATIVE) as u64;
    k.host.script(
        mm,
        [
            sys(GETPID, &[]),
            sys(GETRUSAGE, &[0, s]),
            sys(GETPID, &[]),
            sys(GETPID, &[]),
            sys(GETPID, &[]),
            sys(GETRUSAGE, &[0, s + n]),
            sys(WRITE, &[1, s, 2 * n]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    let out = k.host.stdout.clone();
    let ru: Vec<(u64, u64, u64)> = out.chunks(n as usize).map(rusage).collect();
    // Two runs up to the first getrusage (the wall time would be 6 ms),
    // six up to the second.
    let cpu_us = CPU_NS / 1000;
    assert_eq!(ru[0].0, 2 * cpu_us, "{ru:?}");
    assert_eq!(ru[1].0, 6 * cpu_us, "{ru:?}");
}

/// The system time of a run of `n` getpids with the kernel's CPU clock
/// moving at half the pace of its own work (the host preempted it for the
/// rest): (getrusage's ru_stime in µs after the calls, the kernel's work
/// in µs by its clock reads, the kernel CPU clock reads).
fn sys_time_for(n: usize) -> (u64, u64, u64) {
    let (mut k, mm, s) = boot();
    k.host.kernel_cpu_pct = Some(50);
    let size = rusage_size(NATIVE) as u64;
    let mut steps = vec![sys(GETPID, &[]); n];
    steps.push(sys(GETRUSAGE, &[0, s]));
    steps.push(sys(WRITE, &[1, s, size]));
    steps.push(sys(EXIT_GROUP, &[0]));
    k.host.script(mm, steps);
    assert_eq!(k.run(), ExitStatus::Exited(0));
    let (_, st, _) = rusage(&k.host.stdout);
    let work_us = k.host.clock_reads() * READ_NS / 1000;
    (st, work_us, k.host.kernel_cpu_reads.get())
}

#[test]
fn system_time_is_the_kernels_cpu_time_not_its_wall_time() {
    let (st, work_us, _) = sys_time_for(100);
    // Half the kernel's work was CPU time, all of it for this process
    // (the write and the exit came after the getrusage).
    assert!(st <= work_us / 2, "{st} µs of {work_us} µs");
    assert!(st * 10 >= work_us / 2 * 8, "{st} µs of {work_us} µs");
    // A trap of the thread the clock is counting for reads it no more.
    assert_eq!(sys_time_for(0).2, sys_time_for(100).2);
}

/// The CPU times (ns) of the leader thread and of its process when thread
/// 2 made `n` calls before it exited, with the kernel's CPU clock.
fn leader_and_process_cpu(n: usize) -> (u64, u64) {
    use umbra_abi::flags::{CloneFlags, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
    let (mut k, mm, s) = boot();
    k.host.kernel_cpu_pct = Some(100);
    k.host.cpu_step_ns = Some(1000);
    // Short runs: thread 2 makes all its calls in one time slice.
    k.host.step_ns = 1000;
    let flags = (CloneFlags::VM
        | CloneFlags::FS
        | CloneFlags::FILES
        | CloneFlags::SIGHAND
        | CloneFlags::THREAD
        | CloneFlags::SYSVSEM)
        .bits();
    let ts = 2 * NATIVE.bytes() as u64;
    // The leader makes thread 2 and yields to it; thread 2 makes its calls
    // and exits; the leader reads its own and its process's CPU time.
    let mut steps = vec![sys(CLONE, &[flags, 0, 0, 0, 0]), sys(SCHED_YIELD, &[])];
    steps.extend(vec![sys(GETPID, &[]); n]);
    steps.extend([
        sys(EXIT, &[0]),
        sys(CLOCK_GETTIME, &[CLOCK_THREAD_CPUTIME_ID as u64, s]),
        sys(CLOCK_GETTIME, &[CLOCK_PROCESS_CPUTIME_ID as u64, s + ts]),
        sys(WRITE, &[1, s, 2 * ts]),
        sys(EXIT_GROUP, &[0]),
    ]);
    k.host.script(mm, steps);
    assert_eq!(k.run(), ExitStatus::Exited(0));
    assert_eq!(k.host.results_of(GETPID as u64).len(), n);
    let v = decode_longs(&k.host.stdout, NATIVE);
    let ns = |i: usize| v[2 * i] * 1_000_000_000 + v[2 * i + 1];
    (ns(0), ns(1))
}

#[test]
fn a_threads_system_time_is_its_own() {
    let (leader0, process0) = leader_and_process_cpu(0);
    let (leader, process) = leader_and_process_cpu(50);
    // Thread 2's 50 traps, at least two clock reads of kernel work each,
    // are its process's and not the leader's.
    assert!(
        process >= process0 + 50 * 2 * READ_NS,
        "{process0} {process}"
    );
    assert!(leader < leader0 + READ_NS, "{leader0} {leader}");
}
