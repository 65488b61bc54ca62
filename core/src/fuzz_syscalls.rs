//! Syscall-layer fuzzing on MockHost (issue 6, item 5, the syscall part).
//!
//! Each case boots a `Kernel<MockHost>` from a tiny initrd (the tiny ELF at
//! /bin/prog, a few files), writes a table of useful strings and structures
//! into pid 1's stack, and scripts a random sequence of syscalls with random
//! arguments, then `exit_group`. Numbers are drawn from 0..450, biased toward
//! the implemented ones; pointer arguments point into mapped memory (stack,
//! data, code, the string table), unmapped memory, the stub area, the top of
//! the address space and kernel addresses; fds are small numbers, random
//! numbers and negative numbers. Everything comes from a fixed-seed xorshift,
//! so a failure is reproduced by its case number.
//!
//! Invariants checked after every case:
//! - no panic (the kernel is run under `catch_unwind`; a panic is reported
//!   with the case, and the minimised script that still panics);
//! - the run ends (a `timeout_ns` in mock time bounds scripts that block
//!   forever, e.g. reading an empty pipe);
//! - after pid 1 exits, `kernel.frames.used() == 0` (no frame leak), no
//!   process or zombie is left, and every host address space is destroyed;
//! - all fds are closed: the three console files handed to `spawn_init` are
//!   held by nobody but the test again, and a file the script opened is no
//!   longer open (checked through the tmpfs' open count where visible: the
//!   console files stand in for every open file, since fork and dup share
//!   them).
//!
//! Calls that legitimately end a script early (exit, exit_group) are only
//! made at its end. Calls that would block forever without another process
//! to wake them (pause, rt_sigsuspend) are left out; blocking reads of pipes
//! are not, and the mock-time timeout ends them.

use crate::config::{Config, PAGE_SIZE};
use crate::fs;
use crate::host::MmId;
use crate::kernel::Kernel;
use crate::testing::syscall_fuzz::*;
use crate::testing::{newc_archive, tiny_elf, tiny_elf_with_interp, MockHost, Step};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use std::panic::{catch_unwind, AssertUnwindSafe};
use umbra_abi::elf::{ET_DYN, ET_EXEC};
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;

use crate::testing::Rng;

/// One fuzz case: its boot-time memory contents and its script.
#[derive(Clone, Debug)]
struct Case {
    /// Bytes written into pid 1's memory before it runs.
    pokes: Vec<(u64, Vec<u8>)>,
    /// The script (without the final exit_group).
    steps: Vec<Step>,
}

/// Where things are in a freshly booted pid 1; the same in every case.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// Scratch memory in the stack VMA, 8 pages below the stack pointer.
    scratch: u64,
    /// The stack pointer at entry.
    sp: u64,
}

struct Booted {
    k: Kernel<MockHost>,
    mm: MmId,
    console: [Arc<fs::file::OpenFile>; 3],
    layout: Layout,
}

fn boot() -> Booted {
    let elf = tiny_elf(ET_EXEC);
    // Dynamic programs: one whose interpreter loads, one whose interpreter
    // is an executable script, not ELF (ELIBBAD: interpreters are not
    // scripts).
    let dyn_prog = tiny_elf_with_interp(b"/lib/ld.so");
    let dyn_bad = tiny_elf_with_interp(b"/lib/text.so");
    let text = [b"#!/bin/prog\n".as_slice(), &[b'#'; 100]].concat();
    let interp = tiny_elf(ET_DYN);
    let archive = newc_archive(&[
        ("bin", 0o040_755, &[]),
        ("bin/prog", 0o100_755, &elf),
        ("bin/dyn", 0o100_755, &dyn_prog),
        ("bin/dynbad", 0o100_755, &dyn_bad),
        ("lib", 0o040_755, &[]),
        ("lib/ld.so", 0o100_755, &interp),
        ("lib/text.so", 0o100_755, &text),
        ("etc", 0o040_755, &[]),
        ("etc/motd", 0o100_644, b"welcome\n"),
        ("tmp", 0o041_777, &[]),
    ]);
    let (vfs, state) =
        fs::vfs_from_cpio(&archive, Timespec::default()).expect("the test initrd unpacks");
    let host = MockHost::new(FRAMES * PAGE_SIZE);
    let cfg = Config {
        argv: vec![String::from("/bin/prog")],
        envp: vec![String::from("HOME=/")],
        max_procs: 8,
        max_fds: 64,
        // Mock time: a script that blocks forever ends here.
        timeout_ns: Some(3_600 * 1_000_000_000),
        ..Config::default()
    };
    let mut k = Kernel::new(host, vfs, cfg, FRAMES);
    let console = fs::devfs::stdio_files(&state);
    let pid = k.spawn_init(console.clone()).expect("pid 1 starts");
    assert_eq!(pid, 1);
    let p = k.process(1).expect("pid 1");
    let (mm, sp) = (p.mm.id, p.thread.regs.sp());
    Booted {
        k,
        mm,
        console,
        layout: Layout {
            scratch: (sp & !(PAGE - 1)) - 8 * PAGE,
            sp,
        },
    }
}

/// The layout of a booted pid 1 (the same for every boot).
fn layout() -> Layout {
    boot().layout
}

/// Builds case number `n` from the seed.
fn make_case(n: u64, len: usize, lay: Layout) -> Case {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15 ^ n.wrapping_mul(0x1000_0000_01b3));
    r.next();
    let s = lay.scratch;
    // The string table at the start of the scratch area, 64 bytes apart.
    let mut pokes = Vec::new();
    let mut strings = Vec::new();
    for (i, text) in STRINGS.iter().enumerate() {
        let at = s + 64 * i as u64;
        let mut b = text.to_vec();
        b.push(0);
        pokes.push((at, b));
        strings.push(at);
    }
    // An argv/iovec-like array of pointers at s + 2 pages: pointers to strings
    // and lengths, then random words.
    let mut arr = Vec::new();
    for i in 0..8u64 {
        arr.extend_from_slice(&(s + 64 * i).to_ne_bytes());
        arr.extend_from_slice(&(r.below(64)).to_ne_bytes());
    }
    arr.extend_from_slice(&0u64.to_ne_bytes());
    pokes.push((s + 2 * PAGE, arr));
    // A page of random bytes at s + 3 pages (random structs: timespecs,
    // sigactions, fd sets).
    let rand: Vec<u8> = (0..PAGE).map(|_| r.next() as u8).collect();
    pokes.push((s + 3 * PAGE, rand));

    let mut implemented: Vec<usize> = IMPLEMENTED.to_vec();
    implemented.extend_from_slice(IMPLEMENTED_ARCH);
    let mut steps = Vec::new();
    while steps.len() < len {
        let nr = if r.chance(75) {
            r.pick(&implemented)
        } else {
            r.below(450) as usize
        };
        if excluded(nr) {
            continue;
        }
        let mut a = [0u64; 6];
        for arg in a.iter_mut() {
            *arg = random_arg(&mut r, lay, &strings);
        }
        avoid_known_bugs(nr, &mut a);
        // Some guest stores in between, as real code makes.
        if r.chance(5) {
            steps.push(Step::Touch {
                addr: random_pointer(&mut r, lay, &strings),
                write: r.chance(50),
                value: r.next() as u8,
            });
        }
        steps.push(Step::Syscall(nr as u64, a));
    }
    Case { pokes, steps }
}

/// Steers the random scripts around bugs already found (each gets its own
/// regression test below), so that the fuzzing goes on finding new ones.
/// Empty while no bug is open; add an entry when one is found, remove it when
/// it is fixed.
fn avoid_known_bugs(_nr: usize, _a: &mut [u64; 6]) {}

const CLONE_PARENT_SETTID: u64 = 0x0010_0000;

fn random_pointer(r: &mut Rng, lay: Layout, strings: &[u64]) -> u64 {
    let s = lay.scratch;
    match r.below(14) {
        0 => 0,
        1..=3 => r.pick(strings),
        4 => s + 2 * PAGE,
        5 => s + 3 * PAGE + r.below(PAGE),
        6 => s + r.below(8 * PAGE),
        7 => DATA_VA + r.below(3 * PAGE),
        8 => CODE_VA,
        9 => lay.sp + r.below(256),
        // The stub pages, the end of the user range, the non-canonical hole,
        // the kernel half.
        10 => r.pick(&[
            0x7fff_ff00_0000,
            0x7fff_ff00_1000,
            0x7fff_ff00_0000 - 8,
            0x7fff_ffff_f000,
            0x8000_0000_0000,
            0xffff_8000_0000_0000,
            u64::MAX - 7,
        ]),
        11 => 0x1000_0000 + r.below(16) * PAGE,
        12 => r.next() & 0x7fff_ffff_ffff,
        _ => r.next(),
    }
}

fn random_arg(r: &mut Rng, lay: Layout, strings: &[u64]) -> u64 {
    match r.below(10) {
        0..=3 => random_pointer(r, lay, strings),
        // Small numbers: fds, lengths, flags, signal numbers.
        4..=5 => r.below(16),
        6 => r.pick(&[
            u64::MAX,
            -100i64 as u64,
            -1i64 as u64,
            1 << 31,
            PAGE,
            2 * PAGE,
            0x10_0000,
            64,
            4096 - 1,
        ]),
        7 => 1 << r.below(64),
        8 => r.below(1 << 16),
        _ => r.next(),
    }
}

/// How a case went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Panic(String),
    Leak(String),
}

/// Runs one case on a fresh kernel; `None` when every invariant holds.
fn run_case(case: &Case) -> Option<Failure> {
    run_case_stats(case).err()
}

/// What one case did, for the coverage summary.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    /// Syscalls that returned to the guest.
    returned: usize,
    /// Of those, how many succeeded (returned >= 0).
    succeeded: usize,
    /// Whether the script ran to its final exit_group.
    completed: bool,
}

/// Runs one case on a fresh kernel and checks the invariants.
fn run_case_stats(case: &Case) -> Result<Stats, Failure> {
    let mut b = boot();
    for (va, bytes) in &case.pokes {
        let p = b.k.procs.get_mut(&1).expect("pid 1");
        p.mm.write(&mut b.k.frames, &mut b.k.host, *va, bytes)
            .expect("scratch memory is in the stack VMA");
    }
    let mut steps = case.steps.clone();
    steps.push(Step::Syscall(EXIT_GROUP as u64, [0; 6]));
    b.k.host.script(b.mm, steps);
    let result = catch_unwind(AssertUnwindSafe(|| b.k.run()));
    let status = match result {
        Ok(st) => st,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| String::from(*s)))
                .unwrap_or_else(|| String::from("(non-string panic)"));
            return Err(Failure::Panic(msg));
        }
    };
    let mut leaks = Vec::new();
    if b.k.frames.used() != 0 {
        leaks.push(format!("{} frames used after exit", b.k.frames.used()));
    }
    if !b.k.procs.is_empty() {
        leaks.push(format!("processes left: {:?}", b.k.pids()));
    }
    if !b.k.zombies.is_empty() {
        leaks.push(format!("{} zombies left", b.k.zombies.len()));
    }
    if !b.k.tgids.is_empty() {
        leaks.push(format!("thread ids left: {:?}", b.k.tgids));
    }
    if !b.k.host.spaces.is_empty() {
        leaks.push(format!(
            "{} host address spaces left",
            b.k.host.spaces.len()
        ));
    }
    for (fd, f) in b.console.iter().enumerate() {
        let n = Arc::strong_count(f);
        if n != 1 {
            leaks.push(format!("console file {fd} still has {} holders", n - 1));
        }
    }
    if leaks.is_empty() {
        let results = &b.k.host.results;
        Ok(Stats {
            returned: results.len(),
            succeeded: results.iter().filter(|(_, r)| *r >= 0).count(),
            completed: status == crate::task::ExitStatus::Exited(0) && b.k.host.scripts.is_empty(),
        })
    } else {
        Err(Failure::Leak(format!(
            "exit {status:?}: {}",
            leaks.join("; ")
        )))
    }
}

/// Whether two failures are the same kind (for minimising).
fn same_kind(a: &Failure, b: &Failure) -> bool {
    match (a, b) {
        (Failure::Panic(x), Failure::Panic(y)) => {
            x.split(':').next() == y.split(':').next() || x == y
        }
        (Failure::Leak(_), Failure::Leak(_)) => true,
        _ => false,
    }
}

/// Drops steps (and pokes) one at a time while the case still fails the
/// same way: a minimal reproduction to turn into a regression test.
fn minimise(case: &Case, failure: &Failure) -> Case {
    let mut best = case.clone();
    let mut chunk = best.steps.len().max(1);
    while chunk >= 1 {
        let mut i = 0;
        while i < best.steps.len() {
            let mut c = best.clone();
            let end = (i + chunk).min(c.steps.len());
            c.steps.drain(i..end);
            match run_case(&c) {
                Some(f) if same_kind(&f, failure) => best = c,
                _ => i += chunk,
            }
        }
        if chunk == 1 {
            break;
        }
        chunk /= 2;
    }
    let mut i = 0;
    while i < best.pokes.len() {
        let mut c = best.clone();
        c.pokes.remove(i);
        match run_case(&c) {
            Some(f) if same_kind(&f, failure) => best = c,
            _ => i += 1,
        }
    }
    best
}

fn describe(case: &Case) -> String {
    let mut out = String::new();
    for (va, bytes) in &case.pokes {
        out.push_str(&format!("  poke {va:#x} {} bytes\n", bytes.len()));
    }
    for s in &case.steps {
        match s {
            Step::Syscall(nr, a) => {
                let name = umbra_abi::syscall::nr::name(*nr as usize).unwrap_or("?");
                out.push_str(&format!("  {name}({nr}) {a:#x?}\n"));
            }
            other => out.push_str(&format!("  {other:?}\n")),
        }
    }
    out
}

/// Runs cases `range` with `len` steps each; panics with the first failure,
/// minimised, and the case numbers of all failures.
fn fuzz(range: core::ops::Range<u64>, len: usize) {
    // The panic hook would print every caught panic; keep the output short
    // while fuzzing and restore it after.
    let lay = layout();
    let hook = std::panic::take_hook();
    std::panic::set_hook(alloc::boxed::Box::new(|_| {}));
    let mut failures = Vec::new();
    let (mut cases, mut total) = (0usize, Stats::default());
    let mut completed = 0usize;
    for n in range {
        let case = make_case(n, len, lay);
        match run_case_stats(&case) {
            Ok(st) => {
                cases += 1;
                total.returned += st.returned;
                total.succeeded += st.succeeded;
                completed += st.completed as usize;
            }
            Err(f) => {
                failures.push((n, case, f));
                if failures.len() >= 5 {
                    break;
                }
            }
        }
    }
    std::eprintln!(
        "{cases} cases of {len} calls: {} syscalls returned ({} succeeded), \
         {completed} scripts ran to their end",
        total.returned,
        total.succeeded
    );
    let report = failures.first().map(|(n, case, f)| {
        let min = minimise(case, f);
        format!(
            "{} failing case(s): {:?}\nfirst: case {n}: {f:?}\nminimised script:\n{}",
            failures.len(),
            failures.iter().map(|(n, _, _)| *n).collect::<Vec<_>>(),
            describe(&min)
        )
    });
    std::panic::set_hook(hook);
    if let Some(r) = report {
        panic!("{r}");
    }
}

#[test]
fn layout_is_deterministic() {
    let (a, b) = (layout(), layout());
    assert_eq!((a.scratch, a.sp), (b.scratch, b.sp));
}

#[test]
fn clean_exit_leaves_nothing() {
    let case = Case {
        pokes: Vec::new(),
        steps: Vec::new(),
    };
    assert_eq!(run_case(&case), None);
}

#[test]
fn the_invariant_checks_catch_a_kept_fd() {
    // A dup of stdout is closed by exit; the check must see the console files
    // free again. And a guest killed mid-script (kill(0, SIGKILL)) still
    // frees everything.
    let case = Case {
        pokes: Vec::new(),
        steps: vec![
            Step::Syscall(DUP as u64, [1, 0, 0, 0, 0, 0]),
            Step::Syscall(KILL as u64, [0, 9, 0, 0, 0, 0]),
        ],
    };
    assert_eq!(run_case(&case), None);
}

/// 3000 random scripts of 12 calls: 36,000 syscalls.
#[test]
fn random_syscall_sequences_short() {
    fuzz(0..3000, 12);
}

/// 1000 random scripts of 120 calls: 120,000 syscalls, with more state built
/// up per script (open files, mappings, children, signal handlers).
#[test]
fn random_syscall_sequences_long() {
    fuzz(10_000..11_000, 120);
}

/// Thread clone flags, as musl and glibc pass them: CLONE_VM, CLONE_FS,
/// CLONE_FILES, CLONE_SIGHAND, CLONE_THREAD and CLONE_SYSVSEM.
const THREAD_FLAGS: u64 = 0x0005_0f00;

/// Case `n` run by several threads of pid 1: three clones with
/// CLONE_THREAD first, then the random calls, which whichever thread runs
/// makes (the mock host scripts the address space, which the threads
/// share), with a thread exit now and then.
fn threaded_case(n: u64, len: usize, lay: Layout) -> Case {
    let mut case = make_case(n, len, lay);
    let mut r = Rng(0x7468_7265_6164 ^ n);
    let stack = lay.scratch + 7 * PAGE;
    let mut steps = vec![Step::Syscall(CLONE as u64, [THREAD_FLAGS, stack, 0, 0, 0, 0]); 3];
    for s in case.steps {
        if r.chance(3) {
            steps.push(Step::Syscall(EXIT as u64, [0; 6]));
        }
        if r.chance(5) {
            steps.push(Step::Syscall(
                CLONE as u64,
                [THREAD_FLAGS, stack, 0, 0, 0, 0],
            ));
        }
        steps.push(s);
    }
    case.steps = steps;
    case
}

/// 600 random scripts of 60 calls made by several threads of one process.
#[test]
fn random_syscall_sequences_threaded() {
    let lay = layout();
    let hook = std::panic::take_hook();
    std::panic::set_hook(alloc::boxed::Box::new(|_| {}));
    let mut failure = None;
    for n in 20_000..20_600 {
        let case = threaded_case(n, 60, lay);
        if let Some(f) = run_case(&case) {
            failure = Some((n, case, f));
            break;
        }
    }
    std::panic::set_hook(hook);
    if let Some((n, case, f)) = failure {
        let min = minimise(&case, &f);
        panic!("case {n}: {f:?}\nminimised:\n{}", describe(&min));
    }
}

/// Every number 0..512 once, with pointer-heavy arguments, several times.
#[test]
fn every_syscall_number_with_garbage() {
    let lay = layout();
    let mut r = Rng(0xdead_beef_cafe_f00d);
    let strings: Vec<u64> = (0..STRINGS.len() as u64)
        .map(|i| lay.scratch + 64 * i)
        .collect();
    for round in 0..4 {
        let base = make_case(round, 0, lay);
        let mut steps = Vec::new();
        for nr in 0..512usize {
            if excluded(nr) {
                continue;
            }
            let mut a = [0u64; 6];
            for arg in a.iter_mut() {
                *arg = random_arg(&mut r, lay, &strings);
            }
            avoid_known_bugs(nr, &mut a);
            steps.push(Step::Syscall(nr as u64, a));
        }
        let case = Case {
            pokes: base.pokes,
            steps,
        };
        if let Some(f) = run_case(&case) {
            let min = minimise(&case, &f);
            panic!("round {round}: {f:?}\nminimised:\n{}", describe(&min));
        }
    }
}

/// Found by `random_syscall_sequences_long` (case 10159): clone with
/// CLONE_PARENT_SETTID and a parent_tid pointer that cannot be written
/// returns EFAULT after the child's address space was created (`mm_create`)
/// and its pages shared copy-on-write (`fork_cow`), and drops the child
/// `Process` without destroying them: the frames' references leak, and on
/// the real shim the child's host stub process stays alive (not counted by
/// --max-procs) until umbra exits. `Kernel::fork` in kernel/process.rs.
#[test]
fn clone_parent_settid_fault_leaks_the_child() {
    let case = Case {
        pokes: Vec::new(),
        // flags = CLONE_PARENT_SETTID | SIGCHLD, parent_tid = 6 (unmapped).
        steps: vec![Step::Syscall(
            CLONE as u64,
            [CLONE_PARENT_SETTID | 17, 0, 6, 0, 0, 0],
        )],
    };
    assert_eq!(run_case(&case), None);
}

/// execve of the dynamic programs of the fuzzing initrd: the interpreter is
/// mapped below the mmap base and entered, with AT_BASE and AT_ENTRY in the
/// auxv; a script as interpreter is ELIBBAD and leaves the caller as it was.
#[test]
fn execve_of_dynamic_programs() {
    use crate::testing::tiny;
    let mut b = boot();
    b.k.cur = 1;
    let before = b.k.process(1).expect("pid 1").thread.regs.ip();
    let r =
        b.k.exec(b"/bin/dynbad", alloc::vec![b"dynbad".to_vec()], Vec::new());
    assert_eq!(r, Err(umbra_abi::Errno::ELIBBAD));
    assert_eq!(b.k.process(1).expect("pid 1").thread.regs.ip(), before);
    b.k.exec(b"/bin/dyn", alloc::vec![b"dyn".to_vec()], Vec::new())
        .expect("a dynamic program execs");
    let (ip, sp) = {
        let p = b.k.process(1).expect("pid 1");
        (p.thread.regs.ip(), p.thread.regs.sp())
    };
    // The initial stack: argc, argv, NULL, (no envp) NULL, then the auxv.
    let word = core::mem::size_of::<usize>();
    let len = (word as u64 * 64).min(crate::arch::STACK_TOP - sp) as usize;
    let mut buf = alloc::vec![0u8; len];
    let p = b.k.procs.get_mut(&1).expect("pid 1");
    p.mm.read(&mut b.k.frames, &mut b.k.host, sp, &mut buf)
        .expect("the stack reads");
    let w = |i: usize| {
        let mut v = [0u8; 8];
        v[..word].copy_from_slice(&buf[i * word..(i + 1) * word]);
        u64::from_le_bytes(v)
    };
    assert_eq!(w(0), 1, "argc");
    let aux: Vec<(u64, u64)> = (4..len / word - 1)
        .step_by(2)
        .map(|i| (w(i), w(i + 1)))
        .take_while(|(k, _)| *k != umbra_abi::auxv::AT_NULL)
        .collect();
    let get = |k: u64| aux.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    let base = get(umbra_abi::auxv::AT_BASE).expect("AT_BASE");
    assert!(
        base > 0 && base < crate::arch::MMAP_BASE,
        "AT_BASE {base:#x}"
    );
    assert_eq!(
        ip,
        base + tiny::CODE_OFF,
        "the interpreter's entry runs first"
    );
    assert_eq!(
        get(umbra_abi::auxv::AT_ENTRY),
        Some(tiny::EXEC_BASE + tiny::CODE_OFF),
        "AT_ENTRY is the program's"
    );
}
