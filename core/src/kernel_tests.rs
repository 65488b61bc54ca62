//! Tests of the whole kernel on MockHost: a `Kernel<MockHost>` booted from a cpio
//! archive (written by `testing::newc_archive`) holding the tiny ELF at
//! /bin/prog, whose pid 1 is a scripted guest. Each test scripts syscalls and
//! memory touches, runs the trap loop to the end, and checks what the guest got
//! back (`MockHost::results`), what reached the console, the exit status, and
//! that every frame was freed when pid 1 exited (the leak check).

use crate::config::{Config, PAGE_SIZE};
use crate::fs::{self, Cred, FollowLast};
use crate::host::{MmId, SyscallAbi};
use crate::kernel::Kernel;
use crate::task::ExitStatus;
use crate::testing::{newc_archive, tiny, tiny_elf, MockHost, Step};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use umbra_abi::elf::ET_EXEC;
use umbra_abi::flags::{MapFlags, CLOCK_MONOTONIC, CLOCK_REALTIME, SEEK_SET};
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;
use umbra_abi::Errno;

/// mmap on 32-bit ARM is mmap2 (the offset in pages; the tests map at 0).
#[cfg(target_arch = "arm")]
const MMAP: usize = MMAP2;

const FRAMES: usize = 1024;
const PAGE: u64 = PAGE_SIZE as u64;
const AT_FDCWD: u64 = -100i64 as u64;
/// Where the data segment of the tiny ELF lands (ET_EXEC).
const DATA_VA: u64 = tiny::EXEC_BASE + tiny::DATA_VADDR_OFF;
/// A fixed address for anonymous mappings made by the scripts.
const MAP_AT: u64 = 0x1000_0000;

/// A booted kernel with pid 1 ready to run its script.
struct Booted {
    k: Kernel<MockHost>,
    /// Pid 1's host address space, which the script is queued for.
    mm: MmId,
    /// Scratch memory inside pid 1's stack VMA, well below its stack pointer.
    scratch: u64,
}

fn boot_with(cfg: Config) -> Booted {
    let elf = tiny_elf(ET_EXEC);
    let archive = newc_archive(&[
        ("bin", 0o040_755, &[]),
        ("bin/prog", 0o100_755, &elf),
        ("etc", 0o040_755, &[]),
        ("etc/motd", 0o100_644, b"welcome\n"),
    ]);
    let (vfs, console) = fs::vfs_from_cpio(&archive, Timespec::default()).unwrap();
    let host = MockHost::new(FRAMES * PAGE_SIZE);
    let mut k = Kernel::new(host, vfs, cfg, FRAMES);
    let pid = k.spawn_init(fs::devfs::stdio_files(&console)).unwrap();
    assert_eq!(pid, 1);
    let p = k.process(1).unwrap();
    let (mm, sp) = (p.mm.id, p.thread.regs.sp());
    assert_eq!(p.thread.regs.ip(), tiny::EXEC_BASE + tiny::CODE_OFF);
    assert!(k.frames.used() > 0, "the stack is written at boot");
    Booted {
        k,
        mm,
        scratch: (sp & !(PAGE - 1)) - 4 * PAGE,
    }
}

fn boot() -> Booted {
    boot_with(Config {
        argv: vec![String::from("/bin/prog"), String::from("arg1")],
        envp: vec![String::from("HOME=/")],
        ..Config::default()
    })
}

fn sys(nr: usize, args: &[u64]) -> Step {
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    Step::Syscall(nr as u64, a)
}

fn exit_group(code: u64) -> Step {
    sys(EXIT_GROUP, &[code])
}

/// The guest writes `bytes` at `va` with its own stores (faulting as needed).
fn touches(va: u64, bytes: &[u8]) -> Vec<Step> {
    bytes
        .iter()
        .enumerate()
        .map(|(i, &value)| Step::Touch {
            addr: va + i as u64,
            write: true,
            value,
        })
        .collect()
}

impl Booted {
    fn script(&mut self, steps: impl IntoIterator<Item = Step>) {
        self.k.host.script(self.mm, steps);
    }

    /// Writes into pid 1's memory from the kernel side, before it runs.
    fn poke(&mut self, va: u64, bytes: &[u8]) {
        let p = self.k.procs.get_mut(&1).unwrap();
        p.mm.write(&mut self.k.frames, &mut self.k.host, va, bytes)
            .unwrap();
    }

    /// Runs to the end and checks that nothing leaked.
    fn run(&mut self) -> ExitStatus {
        let st = self.k.run();
        assert_eq!(self.k.frames.used(), 0, "frames leaked after exit");
        assert!(
            !self.k.host.spaces.contains_key(&self.mm),
            "host address space destroyed"
        );
        st
    }

    fn results(&self) -> Vec<(usize, i64)> {
        self.k
            .host
            .results
            .iter()
            .map(|&(n, r)| (n as usize, r))
            .collect()
    }
}

fn err(e: Errno) -> i64 {
    -(e.0 as i64)
}

#[test]
fn exit_group_returns_status_and_frees_everything() {
    let mut b = boot();
    b.script([exit_group(7)]);
    assert_eq!(b.run(), ExitStatus::Exited(7));
    assert!(b.results().is_empty(), "exit_group never returns");
    assert!(b.k.process(1).is_none());
}

#[test]
fn exit_code_is_truncated_to_eight_bits() {
    let mut b = boot();
    b.script([exit_group(0x1_02)]);
    assert_eq!(b.run(), ExitStatus::Exited(2));
}

#[test]
fn write_to_stdout_from_guest_stored_stack_bytes() {
    let mut b = boot();
    let buf = b.scratch;
    let mut steps = touches(buf, b"hi\n");
    steps.push(sys(WRITE, &[1, buf, 3]));
    steps.push(exit_group(0));
    b.script(steps);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    assert_eq!(b.k.host.stdout, b"hi\n");
    assert_eq!(b.results(), vec![(WRITE, 3)]);
}

#[test]
fn write_from_data_segment_to_stdout_and_stderr() {
    let mut b = boot();
    b.script([
        sys(WRITE, &[1, DATA_VA, tiny::DATA.len() as u64]),
        sys(WRITE, &[2, DATA_VA, 5]),
        sys(WRITE, &[1, DATA_VA, 0]),
        exit_group(0),
    ]);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    assert_eq!(b.k.host.stdout, tiny::DATA);
    assert_eq!(b.k.host.stderr, b"umbra");
    assert_eq!(b.results(), vec![(WRITE, 32), (WRITE, 5), (WRITE, 0)]);
}

#[test]
fn getpid_getppid_gettid() {
    let mut b = boot();
    b.script([
        sys(GETPID, &[]),
        sys(GETPPID, &[]),
        sys(GETTID, &[]),
        exit_group(0),
    ]);
    b.run();
    assert_eq!(b.results(), vec![(GETPID, 1), (GETPPID, 0), (GETTID, 1)]);
}

#[test]
fn unknown_syscall_is_enosys() {
    let mut b = boot_with(Config {
        argv: vec![String::from("/bin/prog")],
        strace: true,
        ..Config::default()
    });
    // SyscallAbi leaves the number in the return register, so -ENOSYS must
    // come from the kernel.
    let native = |nr: u64| Step::SyscallAbi {
        abi: SyscallAbi::Native,
        nr,
        args: [0; 6],
    };
    b.script([
        native(1000),
        native(0x4000_0027),
        native(u64::MAX),
        sys(GETPID, &[]),
        exit_group(0),
    ]);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    assert_eq!(
        b.k.host.results,
        vec![
            (1000, err(Errno::ENOSYS)),
            (0x4000_0027, err(Errno::ENOSYS)),
            (u64::MAX, err(Errno::ENOSYS)),
            (GETPID as u64, 1),
        ]
    );
    assert!(
        b.k.host.log.iter().any(|l| l.contains("ENOSYS")),
        "strace reports it: {:?}",
        b.k.host.log
    );
}

#[test]
fn compat32_and_x32_syscalls_are_enosys() {
    let mut b = boot();
    let via = |abi, nr: usize| Step::SyscallAbi {
        abi,
        nr: nr as u64,
        args: [0; 6],
    };
    b.script([
        via(SyscallAbi::Compat32, GETPID),
        via(SyscallAbi::X32, GETPID),
        // exit_group through the 32-bit entry must not exit.
        via(SyscallAbi::Compat32, EXIT_GROUP),
        via(SyscallAbi::Native, GETPID),
        exit_group(3),
    ]);
    assert_eq!(b.run(), ExitStatus::Exited(3));
    assert_eq!(
        b.results(),
        vec![
            (GETPID, err(Errno::ENOSYS)),
            (GETPID, err(Errno::ENOSYS)),
            (EXIT_GROUP, err(Errno::ENOSYS)),
            (GETPID, 1),
        ]
    );
}

#[test]
fn bad_pointers_are_efault() {
    let mut b = boot();
    let code = tiny::EXEC_BASE + tiny::CODE_OFF;
    b.script([
        sys(WRITE, &[1, 0x1000, 4]),
        sys(WRITE, &[1, crate::arch::USER_END - 2, 4]),
        sys(WRITE, &[1, u64::MAX - 1, 4]),
        sys(UNAME, &[0]),
        // The code segment is read-only: the kernel may not write there either.
        sys(CLOCK_GETTIME, &[CLOCK_MONOTONIC as u64, code]),
        sys(OPENAT, &[AT_FDCWD, 0x1000, 0, 0]),
        exit_group(0),
    ]);
    assert_eq!(b.run(), ExitStatus::Exited(0), "EFAULT does not kill");
    let efault = err(Errno::EFAULT);
    assert_eq!(
        b.results(),
        vec![
            (WRITE, efault),
            (WRITE, efault),
            (WRITE, efault),
            (UNAME, efault),
            (CLOCK_GETTIME, efault),
            (OPENAT, efault),
        ]
    );
    assert!(b.k.host.stdout.is_empty());
}

#[test]
fn file_round_trip_on_tmpfs_root() {
    let mut b = boot();
    let (path, data, out) = (b.scratch, b.scratch + 0x100, b.scratch + 0x200);
    b.poke(path, b"/notes.txt\0");
    b.poke(data, b"hello, file");
    b.poke(out + 0x100, b"/etc/motd\0/missing\0");
    let o_rdwr_creat = 0o102;
    b.script([
        sys(OPENAT, &[AT_FDCWD, path, o_rdwr_creat, 0o644]),
        sys(WRITE, &[3, data, 11]),
        sys(LSEEK, &[3, 0, SEEK_SET as u64]),
        sys(READ, &[3, out, 64]),
        sys(READ, &[3, out, 64]),
        sys(WRITE, &[1, out, 11]),
        sys(CLOSE, &[3]),
        sys(CLOSE, &[3]),
        // A file from the archive.
        sys(OPENAT, &[AT_FDCWD, out + 0x100, 0, 0]),
        sys(READ, &[3, out, 64]),
        sys(WRITE, &[1, out, 8]),
        sys(OPENAT, &[AT_FDCWD, out + 0x10a, 0, 0]),
        exit_group(0),
    ]);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    assert_eq!(
        b.results(),
        vec![
            (OPENAT, 3),
            (WRITE, 11),
            (LSEEK, 0),
            (READ, 11),
            (READ, 0),
            (WRITE, 11),
            (CLOSE, 0),
            (CLOSE, err(Errno::EBADF)),
            (OPENAT, 3),
            (READ, 8),
            (WRITE, 8),
            (OPENAT, err(Errno::ENOENT)),
        ]
    );
    assert_eq!(b.k.host.stdout, b"hello, filewelcome\n");
    // The file outlives the process, in the root tmpfs.
    let root = b.k.vfs.root();
    let node =
        b.k.vfs
            .lookup(&root, "/notes.txt", FollowLast::Follow, &Cred::root())
            .unwrap();
    let mut buf = [0u8; 32];
    let n = node.inode().read_at(0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello, file");
    assert_eq!(node.inode().metadata().unwrap().mode & 0o777, 0o644);
}

#[test]
fn brk_mmap_munmap() {
    let mut b = boot();
    let brk0 = (DATA_VA + tiny::DATA_MEMSZ).next_multiple_of(PAGE);
    assert_eq!(b.k.process(1).unwrap().mm.brk, brk0);
    let anon = (MapFlags::PRIVATE | MapFlags::ANONYMOUS).bits() as u64;
    let fixed = anon | MapFlags::FIXED.bits() as u64;
    let noreplace = anon | MapFlags::FIXED_NOREPLACE.bits() as u64;
    let rw = 3;
    let mut steps = vec![
        sys(BRK, &[0]),
        sys(BRK, &[brk0 + 0x3000]),
        // Below the start of the heap: refused, the break stays.
        sys(BRK, &[0x1000]),
    ];
    steps.extend(touches(brk0 + 0x2fff, b"b"));
    steps.extend([
        sys(MMAP, &[0, 2 * PAGE, rw, anon, u64::MAX, 0]),
        sys(MMAP, &[MAP_AT, 2 * PAGE, rw, fixed, u64::MAX, 0]),
    ]);
    steps.extend(touches(MAP_AT + PAGE, b"m"));
    steps.extend([
        sys(WRITE, &[1, MAP_AT + PAGE, 1]),
        sys(MUNMAP, &[MAP_AT, 2 * PAGE]),
        sys(WRITE, &[1, MAP_AT + PAGE, 1]),
        sys(MMAP, &[0x1000, PAGE, rw, fixed, u64::MAX, 0]),
        sys(
            MMAP,
            &[DATA_VA & !(PAGE - 1), PAGE, rw, noreplace, u64::MAX, 0],
        ),
        sys(MPROTECT, &[MAP_AT, PAGE, 1]),
        sys(MUNMAP, &[MAP_AT + 1, PAGE]),
        sys(BRK, &[brk0]),
        exit_group(0),
    ]);
    b.script(steps);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    let r = b.results();
    assert_eq!(r[0], (BRK, brk0 as i64));
    assert_eq!(r[1], (BRK, (brk0 + 0x3000) as i64));
    assert_eq!(r[2], (BRK, (brk0 + 0x3000) as i64));
    let (nr, hinted) = r[3];
    assert_eq!(nr, MMAP);
    assert!(
        hinted > 0 && (hinted as u64).is_multiple_of(PAGE),
        "mmap -> {hinted:#x}"
    );
    assert_eq!(
        r[4..],
        [
            (MMAP, MAP_AT as i64),
            (WRITE, 1),
            (MUNMAP, 0),
            (WRITE, err(Errno::EFAULT)),
            (MMAP, err(Errno::EPERM)),
            (MMAP, err(Errno::EEXIST)),
            (MPROTECT, err(Errno::ENOMEM)),
            (MUNMAP, err(Errno::EINVAL)),
            (BRK, brk0 as i64),
        ]
    );
    assert_eq!(b.k.host.stdout, b"m");
}

#[test]
fn uname_reports_linux() {
    let mut b = boot();
    let u = b.scratch;
    let machine = crate::arch::UTS_MACHINE;
    b.script([
        sys(UNAME, &[u]),
        sys(WRITE, &[1, u, 6]),
        sys(WRITE, &[1, u + 4 * 65, machine.len() as u64]),
        exit_group(0),
    ]);
    b.run();
    assert_eq!(b.results()[0], (UNAME, 0));
    let mut want = b"Linux\0".to_vec();
    want.extend_from_slice(machine.as_bytes());
    assert_eq!(b.k.host.stdout, want);
}

/// Bytes of the guest's `long`: a timespec is two, a stack word one.
const LONG: usize = core::mem::size_of::<usize>();

fn timespec(bytes: &[u8]) -> (i64, i64) {
    let t = crate::syscall::uabi::decode_timespec(bytes, crate::syscall::uabi::NATIVE);
    (t.tv_sec, t.tv_nsec)
}

#[test]
fn clock_gettime_follows_the_mock_clock() {
    let mut b = boot();
    b.k.host.step_ns = 1_500_000_123;
    let t = b.scratch;
    let ts = 2 * LONG as u64;
    b.script([
        sys(CLOCK_GETTIME, &[CLOCK_MONOTONIC as u64, t]),
        sys(CLOCK_GETTIME, &[CLOCK_MONOTONIC as u64, t + ts]),
        sys(CLOCK_GETTIME, &[CLOCK_REALTIME as u64, t + 2 * ts]),
        sys(CLOCK_GETTIME, &[0x7fff, t + 3 * ts]),
        sys(WRITE, &[1, t, 3 * ts]),
        exit_group(0),
    ]);
    b.run();
    assert_eq!(
        b.results(),
        vec![
            (CLOCK_GETTIME, 0),
            (CLOCK_GETTIME, 0),
            (CLOCK_GETTIME, 0),
            (CLOCK_GETTIME, err(Errno::EINVAL)),
            (WRITE, 3 * ts as i64),
        ]
    );
    let out = b.k.host.stdout.clone();
    let ts = ts as usize;
    let (s1, n1) = timespec(&out[0..ts]);
    let (s2, n2) = timespec(&out[ts..2 * ts]);
    let (s3, n3) = timespec(&out[2 * ts..3 * ts]);
    for n in [n1, n2, n3] {
        assert!((0..1_000_000_000).contains(&n));
    }
    let ns = |s: i64, n: i64| s * 1_000_000_000 + n;
    assert_eq!(
        ns(s2, n2) - ns(s1, n1),
        1_500_000_123,
        "one guest step between the calls"
    );
    assert!(ns(s1, n1) > 0, "time since boot has passed");
    // MockHost's wall clock is 2023-11-14 plus its monotonic clock.
    assert!(
        (1_700_000_000..1_700_001_000).contains(&s3),
        "realtime {s3}"
    );
}

#[test]
fn touch_of_unmapped_address_kills_with_sigsegv() {
    let mut b = boot();
    b.script([
        sys(GETPID, &[]),
        Step::Touch {
            addr: 0x3000_0000,
            write: false,
            value: 0,
        },
        exit_group(0),
    ]);
    assert_eq!(
        b.run(),
        ExitStatus::Signaled {
            sig: 11,
            core: true
        }
    );
    assert_eq!(b.results(), vec![(GETPID, 1)]);
}

#[test]
fn store_to_code_segment_kills_with_sigsegv() {
    let mut b = boot();
    let code = tiny::EXEC_BASE + tiny::CODE_OFF;
    b.script([
        // Reading the code works (and maps it read-only in the host).
        Step::Touch {
            addr: code,
            write: false,
            value: 0,
        },
        Step::Touch {
            addr: code,
            write: true,
            value: 0x90,
        },
        exit_group(0),
    ]);
    assert_eq!(
        b.run(),
        ExitStatus::Signaled {
            sig: 11,
            core: true
        }
    );
}

#[test]
fn guest_stores_are_seen_by_the_kernel_across_pages() {
    let mut b = boot();
    // Fresh anonymous memory, stored by the guest across a page boundary and
    // then written out by the kernel.
    let anon = (MapFlags::PRIVATE | MapFlags::ANONYMOUS | MapFlags::FIXED).bits() as u64;
    let mut steps = vec![sys(MMAP, &[MAP_AT, 2 * PAGE, 3, anon, u64::MAX, 0])];
    steps.extend(touches(MAP_AT + PAGE - 3, b"across"));
    steps.push(sys(WRITE, &[1, MAP_AT + PAGE - 3, 6]));
    steps.push(exit_group(0));
    b.script(steps);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    assert_eq!(b.k.host.stdout, b"across");
}

#[test]
fn cpu_exception_kills_with_its_signal() {
    let mut b = boot();
    b.script([Step::Exception {
        sig: 4,
        addr: 0x40_0100,
    }]);
    assert_eq!(b.run(), ExitStatus::Signaled { sig: 4, core: true });
}

#[test]
fn end_of_script_is_a_dead_stub() {
    let mut b = boot();
    b.script([sys(GETPID, &[])]);
    assert_eq!(
        b.run(),
        ExitStatus::Signaled {
            sig: 9,
            core: false
        }
    );
}

#[test]
fn stack_holds_argv_and_envp() {
    // Let the guest print its own argv[1] and envp[0] with pointers taken from
    // the initial stack.
    let mut b = boot();
    let p = b.k.process(1).unwrap();
    let sp = p.thread.regs.sp();
    let mut word = |va: u64| {
        let p = b.k.procs.get_mut(&1).unwrap();
        let mut w = [0u8; 8];
        p.mm.read(&mut b.k.frames, &mut b.k.host, va, &mut w[..LONG])
            .unwrap();
        u64::from_le_bytes(w)
    };
    let l = LONG as u64;
    assert_eq!(word(sp), 2, "argc");
    let arg1 = word(sp + 2 * l);
    let env0 = word(sp + 4 * l);
    assert_eq!(word(sp + 3 * l), 0);
    b.script([
        sys(WRITE, &[1, arg1, 4]),
        sys(WRITE, &[1, env0, 6]),
        exit_group(0),
    ]);
    b.run();
    assert_eq!(b.k.host.stdout, b"arg1HOME=/");
}

/// futex on MockHost: a value mismatch is EAGAIN, a timed wait blocks until
/// the mock clock passes its deadline (ETIMEDOUT), a wake of nobody is 0, an
/// unknown op ENOSYS, and the PI calls take, refuse (EDEADLK) and release a
/// lock word holding the caller's tid.
#[test]
fn futex_wait_wake_timeout_and_pi_on_mock_host() {
    let mut b = boot();
    b.k.host.step_ns = 1_000_000;
    let s = b.scratch;
    let (word, ts) = (s, s + 64);
    b.poke(word, &7u32.to_ne_bytes());
    // A relative timeout of 5 ms (two longs).
    let mut t = Vec::new();
    for v in [0u64, 5_000_000] {
        t.extend_from_slice(&v.to_ne_bytes()[..LONG]);
    }
    b.poke(ts, &t);
    let pi = s + 128;
    b.script([
        sys(FUTEX, &[word, 0, 8, 0, 0, 0]),
        sys(FUTEX, &[word, 0, 7, ts, 0, 0]),
        sys(FUTEX, &[word, 1 | 128, 1, 0, 0, 0]),
        sys(FUTEX, &[word, 14, 0, 0, 0, 0]),
        sys(FUTEX, &[pi, 8, 0, 0, 0, 0]),
        sys(FUTEX, &[pi, 6, 0, 0, 0, 0]),
        sys(FUTEX, &[pi, 7, 0, 0, 0, 0]),
        sys(FUTEX, &[pi, 7, 0, 0, 0, 0]),
        exit_group(0),
    ]);
    b.run();
    assert_eq!(
        b.results(),
        vec![
            (FUTEX, err(Errno::EAGAIN)),
            (FUTEX, err(Errno::ETIMEDOUT)),
            (FUTEX, 0),
            (FUTEX, err(Errno::ENOSYS)),
            (FUTEX, 0),
            (FUTEX, err(Errno::EDEADLK)),
            (FUTEX, 0),
            (FUTEX, err(Errno::EPERM)),
        ]
    );
}

#[test]
fn fork_child_exits_parent_reaps_without_leaks() {
    let mut b = boot();
    let s = b.scratch;
    b.poke(s, b"par");
    // The child's address space is the host's second one.
    let child_mm = MmId(b.mm.0 + 1);
    let mut child = vec![sys(GETPID, &[]), sys(GETPPID, &[])];
    child.extend(touches(s, b"kid"));
    child.push(sys(WRITE, &[1, s, 3]));
    child.push(exit_group(5));
    b.k.host.script(child_mm, child);
    b.script([
        sys(CLONE, &[17, 0, 0, 0, 0]),
        sys(WAIT4, &[u64::MAX, s + 16, 0, 0]),
        sys(WRITE, &[1, s, 3]),
        sys(WRITE, &[1, s + 16, 4]),
        exit_group(0),
    ]);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    let h = &b.k.host;
    assert_eq!(h.results_of(CLONE as u64), vec![2]);
    assert_eq!(h.results_of(WAIT4 as u64), vec![2]);
    assert_eq!(h.results_of(GETPID as u64), vec![2]);
    assert_eq!(h.results_of(GETPPID as u64), vec![1]);
    let mut want = b"kidpar".to_vec();
    want.extend_from_slice(&(5u32 << 8).to_ne_bytes());
    assert_eq!(h.stdout, want, "the child's store did not reach the parent");
    assert!(!h.spaces.contains_key(&child_mm));
}

/// The 32-bit ARM table on MockHost (run under qemu-arm on an x86_64 machine):
/// register-pair arguments, the stat64 layout, 32- and 64-bit time, set_tls,
/// and both signal frames through sigreturn and rt_sigreturn.
#[cfg(target_arch = "arm")]
mod arm {
    use super::*;
    use umbra_abi::signal::{SA_RESTORER, SA_SIGINFO, SIGUSR1};

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn set_tls_get_tls_cacheflush() {
        let mut b = boot();
        b.script([
            sys(ARM_SET_TLS, &[0x1234_5678]),
            sys(ARM_GET_TLS, &[]),
            sys(ARM_CACHEFLUSH, &[0x1000, 0x2000, 0]),
            exit_group(0),
        ]);
        b.run();
        assert_eq!(
            b.results(),
            vec![
                (ARM_SET_TLS, 0),
                (ARM_GET_TLS, 0x1234_5678),
                (ARM_CACHEFLUSH, 0)
            ]
        );
    }

    #[test]
    fn register_pairs_llseek_and_stat64() {
        let mut b = boot();
        let (path, out, res) = (b.scratch, b.scratch + 0x100, b.scratch + 0x300);
        b.poke(path, b"/etc/motd\0");
        b.script([
            sys(OPEN, &[path, 0, 0]),
            // pread64(fd, buf, count, pad, lo, hi): offset 1.
            sys(PREAD64, &[3, out, 4, 0xdead, 1, 0]),
            sys(WRITE, &[1, out, 4]),
            // _llseek(fd, hi, lo, &result, whence): offset 3.
            sys(_LLSEEK, &[3, 0, 3, res, SEEK_SET as u64]),
            sys(READ, &[3, out, 64]),
            sys(WRITE, &[1, out, 5]),
            // An offset past 4 GiB: hi = 1.
            sys(PREAD64, &[3, out, 4, 0, 0, 1]),
            sys(FSTAT64, &[3, out]),
            sys(WRITE, &[1, out, 104]),
            sys(STAT64, &[path, out]),
            sys(FTRUNCATE64, &[3, 0, 0, 0]),
            exit_group(0),
        ]);
        b.run();
        assert_eq!(
            b.results(),
            vec![
                (OPEN, 3),
                (PREAD64, 4),
                (WRITE, 4),
                (_LLSEEK, 0),
                (READ, 5),
                (WRITE, 5),
                (PREAD64, 0),
                (FSTAT64, 0),
                (WRITE, 104),
                (STAT64, 0),
                // Read-only descriptor.
                (FTRUNCATE64, err(Errno::EINVAL)),
            ]
        );
        let out = b.k.host.stdout.clone();
        assert_eq!(&out[..9], b"elcocome\n");
        let st = &out[9..];
        // st_mode at 16, st_size (8 bytes) at 48, st_ino (8 bytes) at 96.
        assert_eq!(u32_at(st, 16) & 0o170000, 0o100000);
        assert_eq!(u32_at(st, 48), 8);
        assert_eq!(u32_at(st, 52), 0);
        assert_eq!(
            u32_at(st, 12),
            u32_at(st, 96),
            "__st_ino is st_ino's low word"
        );
    }

    #[test]
    fn time32_and_time64() {
        let mut b = boot();
        let t = b.scratch;
        b.poke(t, &[0xff; 64]);
        b.script([
            sys(CLOCK_GETTIME, &[CLOCK_REALTIME as u64, t]),
            sys(CLOCK_GETTIME64, &[CLOCK_REALTIME as u64, t + 16]),
            sys(WRITE, &[1, t, 32]),
            exit_group(0),
        ]);
        b.run();
        let out = b.k.host.stdout.clone();
        let (s32, ns32) = (u32_at(&out, 0), u32_at(&out, 4));
        assert_eq!(
            (u32_at(&out, 8), u32_at(&out, 12)),
            (0xffff_ffff, 0xffff_ffff)
        );
        let s64 = u64::from_le_bytes(out[16..24].try_into().unwrap());
        assert_eq!(s64, s32 as u64);
        assert!(ns32 < 1_000_000_000);
        assert!(u32_at(&out, 24) < 1_000_000_000);
        assert_eq!(u32_at(&out, 28), 0);
    }

    /// Installs a SIGUSR1 handler with `flags`, raises it, and returns from
    /// the handler with `ret` (sigreturn or rt_sigreturn); the handler reads
    /// its signal mask and writes it and the first 240 bytes of its ucontext
    /// to stdout.
    fn raise_and_return(flags: u64, ret: usize) -> (Vec<(usize, i64)>, Vec<u8>) {
        let mut b = boot();
        let (act, mask, top) = (b.scratch, b.scratch + 0x40, b.scratch + 0x2004);
        // struct sigaction of arm: handler (Thumb), flags, restorer, mask.
        let mut a = Vec::new();
        a.extend_from_slice(&0x0001_2345u32.to_le_bytes());
        a.extend_from_slice(&((flags | SA_RESTORER) as u32).to_le_bytes());
        a.extend_from_slice(&0x0001_5000u32.to_le_bytes());
        a.extend_from_slice(&0u64.to_le_bytes());
        b.poke(act, &a);
        b.k.procs.get_mut(&1).unwrap().thread.regs.set_sp(top);
        // The frame Linux's layout puts below an sp of `top`.
        let rt = flags & SA_SIGINFO != 0;
        let frame = (top - if rt { 888 } else { 760 }) & !7;
        let uc = if rt { frame + 128 } else { frame };
        b.script([
            sys(RT_SIGACTION, &[SIGUSR1 as u64, act, 0, 8]),
            sys(KILL, &[1, SIGUSR1 as u64]),
            // In the handler.
            sys(RT_SIGPROCMASK, &[0, 0, mask, 8]),
            sys(WRITE, &[1, mask, 8]),
            sys(WRITE, &[1, uc, 240]),
            sys(ret, &[]),
            sys(GETPID, &[]),
            exit_group(0),
        ]);
        let st = b.run();
        assert_eq!(st, ExitStatus::Exited(0));
        (b.results(), b.k.host.stdout.clone())
    }

    /// Checks the ucontext bytes a handler saw.
    fn check_ucontext(uc: &[u8], rt: bool) {
        let uc_flags = if rt { 0 } else { 0x5ac3_c35a };
        assert_eq!(u32_at(uc, 0), uc_flags);
        // sigcontext at 20: trap_no, error_code, oldmask, then r0 at 32.
        assert_eq!(u32_at(uc, 28), 0, "oldmask");
        assert_eq!(u32_at(uc, 32), 0, "r0: kill's result");
        assert_eq!(
            u32_at(uc, 32 + 7 * 4),
            KILL as u32,
            "r7: the syscall number"
        );
        assert_eq!(u32_at(uc, 32 + 13 * 4) as u64 % 8, 4, "the interrupted sp");
        assert_eq!(u32_at(uc, 96) & 0x1f, 0x10, "cpsr: user mode");
        assert_eq!(u32_at(uc, 104), 0, "uc_sigmask");
        // MockHost has no FP state: no VFP record.
        assert_eq!(u32_at(uc, 232), 0);
    }

    #[test]
    fn old_frame_and_sigreturn() {
        let (r, out) = raise_and_return(0, SIGRETURN);
        assert_eq!(
            r,
            vec![
                (RT_SIGACTION, 0),
                // kill's result is r0 at the handler's entry: the signal number.
                (KILL, SIGUSR1 as i64),
                (RT_SIGPROCMASK, 0),
                (WRITE, 8),
                (WRITE, 240),
                // sigreturn restores r0: kill's own result.
                (SIGRETURN, 0),
                (GETPID, 1),
            ]
        );
        assert_eq!(
            u32_at(&out, 0),
            1 << (SIGUSR1 - 1),
            "SIGUSR1 blocked in its handler"
        );
        check_ucontext(&out[8..], false);
    }

    #[test]
    fn rt_frame_and_rt_sigreturn() {
        let (r, out) = raise_and_return(SA_SIGINFO, RT_SIGRETURN);
        assert_eq!(r[1], (KILL, SIGUSR1 as i64));
        assert_eq!(r[5], (RT_SIGRETURN, 0));
        assert_eq!(r[6], (GETPID, 1));
        assert_eq!(u32_at(&out, 0), 1 << (SIGUSR1 - 1));
        check_ucontext(&out[8..], true);
    }

    #[test]
    fn sigreturn_with_a_misaligned_sp_is_sigsegv() {
        let mut b = boot();
        let sp = b.scratch + 4;
        b.k.procs.get_mut(&1).unwrap().thread.regs.set_sp(sp);
        b.script([sys(SIGRETURN, &[]), exit_group(0)]);
        assert_eq!(
            b.run(),
            ExitStatus::Signaled {
                sig: umbra_abi::signal::SIGSEGV,
                core: true
            }
        );
    }
}

/// System V shared memory on the whole kernel: a segment attached at two
/// addresses maps one frame (a store through one is read through the
/// other), shmdt unmaps, IPC_STAT reports the attach count, and the
/// segment's frames are freed when the kernel ends, though no process
/// removed it (the leak check of `run`).
#[test]
#[cfg(feature = "ipc")]
fn shm_attaches_share_frames_and_the_kernel_frees_them() {
    let mut b = boot();
    let seg = 0; // The first identifier: sequence 0, index 0.
    let second = MAP_AT + 16 * PAGE;
    let stat = b.scratch;
    let mut steps = vec![
        sys(SHMGET, &[0, 2 * PAGE, 0o600]),
        sys(SHMAT, &[seg, MAP_AT, 0]),
        sys(SHMAT, &[seg, second, 0o10000]),
    ];
    steps.extend(touches(MAP_AT + PAGE, b"s"));
    steps.extend([
        sys(WRITE, &[1, second + PAGE, 1]),
        // IPC_STAT | IPC_64 (32-bit ARM's C libraries always pass IPC_64).
        sys(SHMCTL, &[seg, 0x102, stat]),
        sys(SHMDT, &[MAP_AT]),
        sys(SHMDT, &[MAP_AT]),
        sys(WRITE, &[1, MAP_AT + PAGE, 1]),
        sys(SHMAT, &[seg, MAP_AT + 1, 0]),
        exit_group(0),
    ]);
    b.script(steps);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    assert_eq!(
        b.results(),
        vec![
            (SHMGET, 0),
            (SHMAT, MAP_AT as i64),
            (SHMAT, second as i64),
            (WRITE, 1),
            (SHMCTL, 0),
            (SHMDT, 0),
            (SHMDT, err(Errno::EINVAL)),
            (WRITE, err(Errno::EFAULT)),
            (SHMAT, err(Errno::EINVAL)),
        ]
    );
    assert_eq!(b.k.host.stdout, b"s");
}

/// A timerfd's expiry is an event: a read blocked on it with nothing else
/// happening returns when the timer fires (5.5 s on), not at the kernel's
/// next idle wake-up (whole seconds).
#[test]
fn a_timerfd_expiry_wakes_a_blocked_read() {
    let mut b = boot();
    let t = b.scratch;
    let ts = 2 * LONG as u64;
    let mut spec = Vec::new();
    for v in [0u64, 0, 5, 500_000_000] {
        spec.extend_from_slice(&v.to_ne_bytes()[..LONG]);
    }
    b.poke(t, &spec);
    let (count, t0, t1) = (t + 64, t + 128, t + 128 + ts);
    b.script([
        sys(TIMERFD_CREATE, &[CLOCK_MONOTONIC as u64, 0]),
        sys(CLOCK_GETTIME, &[CLOCK_MONOTONIC as u64, t0]),
        sys(TIMERFD_SETTIME, &[3, 0, t, 0]),
        sys(READ, &[3, count, 8]),
        sys(CLOCK_GETTIME, &[CLOCK_MONOTONIC as u64, t1]),
        sys(WRITE, &[1, count, 8]),
        sys(WRITE, &[1, t0, 2 * ts]),
        exit_group(0),
    ]);
    b.run();
    assert_eq!(
        b.results(),
        vec![
            (TIMERFD_CREATE, 3),
            (CLOCK_GETTIME, 0),
            (TIMERFD_SETTIME, 0),
            (READ, 8),
            (CLOCK_GETTIME, 0),
            (WRITE, 8),
            (WRITE, 2 * ts as i64),
        ]
    );
    let out = b.k.host.stdout.clone();
    assert_eq!(u64::from_ne_bytes(out[0..8].try_into().unwrap()), 1);
    let ts = ts as usize;
    let (s0, n0) = timespec(&out[8..8 + ts]);
    let (s1, n1) = timespec(&out[8 + ts..8 + 2 * ts]);
    let waited = (s1 - s0) * 1_000_000_000 + (n1 - n0);
    assert!(
        (5_500_000_000..5_600_000_000).contains(&waited),
        "woke after {waited} ns"
    );
}

/// `--timeout` counts from the host's start when the host gives it
/// (`count_timeout_from`), so time spent before boot (loading the root)
/// counts: the kernel's deadline comes before the host's backstop, which
/// counts from the same start. Here boot is 1 s after the start and the
/// guest loops on getppid, 100 ms a call, under a 3 s timeout: the kernel
/// ends the run with 124 at 3 s after the start, not at 3 s after boot.
#[test]
fn timeout_counts_from_the_hosts_start() {
    let mut b = boot_with(Config {
        argv: vec![String::from("/bin/prog")],
        timeout_ns: Some(3_000_000_000),
        ..Config::default()
    });
    let boot = b.k.host.clock;
    b.k.count_timeout_from(boot - 1_000_000_000);
    b.k.host.step_ns = 100_000_000;
    b.script((0..100).map(|_| sys(GETPPID, &[])));
    assert_eq!(b.run(), ExitStatus::Exited(124));
    let ended = b.k.host.clock - boot;
    assert!(
        (1_900_000_000..2_200_000_000).contains(&ended),
        "ended {ended} ns after boot"
    );
    assert!(
        b.k.host
            .log
            .iter()
            .any(|l| l.contains("guest timed out after 3 s")),
        "{:?}",
        b.k.host.log
    );
}

/// A devpts instance leaves the kernel's list once it is unmounted and its
/// last pty is gone (Linux frees its superblock then): here one unmounted
/// while a pty opened through /dev/ptmx was open, and one with none.
#[cfg(feature = "pty")]
#[test]
fn an_unmounted_devpts_instance_goes_with_its_last_pty() {
    let mut b = boot();
    let s = b.scratch;
    let (pts, devpts, ptmx, opts) = (s, s + 0x20, s + 0x40, s + 0x60);
    b.poke(pts, b"/dev/pts\0");
    b.poke(devpts, b"devpts\0");
    b.poke(ptmx, b"/dev/ptmx\0");
    b.poke(opts, b"ptmxmode=666\0");
    let o_rdwr_noctty = 0o402;
    b.script([
        sys(MOUNT, &[devpts, pts, devpts, 0, opts]),
        sys(OPENAT, &[AT_FDCWD, ptmx, o_rdwr_noctty, 0]),
        sys(UMOUNT2, &[pts, 0]),
        sys(MOUNT, &[devpts, pts, devpts, 0, opts]),
        sys(CLOSE, &[3]),
        sys(UMOUNT2, &[pts, 0]),
        exit_group(0),
    ]);
    assert_eq!(b.run(), ExitStatus::Exited(0));
    assert_eq!(
        b.results(),
        vec![
            (MOUNT, 0),
            (OPENAT, 3),
            (UMOUNT2, 0),
            (MOUNT, 0),
            (CLOSE, 0),
            (UMOUNT2, 0),
        ]
    );
    assert!(b.k.devpts.is_empty(), "{} instances left", b.k.devpts.len());
}
