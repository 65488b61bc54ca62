//! The hand-off at a futex wake, on MockHost. The threads of one process
//! share its address space's script, so the order in which the script's
//! calls run says which thread the kernel ran: gettid tells them apart.

use crate::config::{Config, PAGE_SIZE};
use crate::fs;
use crate::host::MmId;
use crate::kernel::Kernel;
use crate::task::ExitStatus;
use crate::testing::{newc_archive, tiny_elf, MockHost, Step};
use alloc::string::String;
use alloc::vec;
use umbra_abi::elf::ET_EXEC;
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;

const FRAMES: usize = 1024;
const PAGE: u64 = PAGE_SIZE as u64;
const FUTEX_WAIT_PRIVATE: u64 = 128;
const FUTEX_WAKE_PRIVATE: u64 = 129;
/// CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
/// CLONE_SYSVSEM: a pthread.
const THREAD_FLAGS: u64 = 0x50f00;

fn sys(nr: usize, args: &[u64]) -> Step {
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    Step::Syscall(nr as u64, a)
}

/// A kernel with pid 1 ready to run, its address space and two zeroed
/// futex words in its stack.
fn boot(step_ns: u64) -> (Kernel<MockHost>, MmId, u64, u64) {
    let elf = tiny_elf(ET_EXEC);
    let archive = newc_archive(&[("bin", 0o040_755, &[]), ("bin/prog", 0o100_755, &elf)]);
    let (vfs, console) = fs::vfs_from_cpio(&archive, Timespec::default()).unwrap();
    let mut host = MockHost::new(FRAMES * PAGE_SIZE);
    host.step_ns = step_ns;
    let cfg = Config {
        argv: vec![String::from("/bin/prog")],
        ..Config::default()
    };
    let mut k = Kernel::new(host, vfs, cfg, FRAMES);
    assert_eq!(k.spawn_init(fs::devfs::stdio_files(&console)).unwrap(), 1);
    let p = k.process(1).unwrap();
    let (mm, sp) = (p.mm.id, p.thread.regs.sp());
    let scratch = (sp & !(PAGE - 1)) - 4 * PAGE;
    let p = k.procs.get_mut(&1).unwrap();
    p.mm.write(&mut k.frames, &mut k.host, scratch, &[0; 4096])
        .unwrap();
    (k, mm, scratch, scratch + 64)
}

/// Two threads ping-pong through futex words `a` and `b` until each has
/// woken the other and waited right after: then a wake hands the CPU to
/// the wakee. Returns the tids gettid saw, in order: 2's, then 2's again
/// after a hand-off or 1's without.
fn ping_pong(step_ns: u64) -> vec::Vec<i64> {
    let (mut k, mm, a, b) = boot(step_ns);
    let wait = |w: u64| sys(FUTEX, &[w, FUTEX_WAIT_PRIVATE, 0]);
    let wake = |w: u64| sys(FUTEX, &[w, FUTEX_WAKE_PRIVATE, 1]);
    k.host.script(
        mm,
        [
            // 1 creates 2 and goes on.
            sys(CLONE, &[THREAD_FLAGS, 0, 0, 0, 0]),
            wait(a),
            // 2 runs: it wakes 1, who never woke it (no partner), waits.
            sys(GETTID, &[]),
            wake(a),
            wait(b),
            // 1 wakes its partner 2 and waits at once: 1 is found to wait
            // right after its wakes.
            wake(b),
            wait(a),
            // So is 2.
            wake(a),
            wait(b),
            // 1's wake of 2 hands off: 2 runs next.
            wake(b),
            sys(GETTID, &[]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    k.host.results_of(GETTID as u64)
}

#[test]
fn a_ping_pong_wake_hands_the_cpu_to_the_wakee() {
    let tids = ping_pong(1_000);
    assert_eq!(tids.len(), 2, "{tids:?}");
    // The second gettid ran right after 1's wake of 2: in 2.
    assert_ne!(tids[0], 1, "{tids:?}");
    assert_eq!(tids[1], tids[0], "{tids:?}");
}

#[test]
fn a_waker_that_works_on_after_its_wake_keeps_the_cpu() {
    // The guest runs 1 ms between traps: the waits did not follow the
    // wakes at once, so 1 keeps the CPU after its wake.
    let tids = ping_pong(1_000_000);
    assert_eq!(tids.len(), 2, "{tids:?}");
    assert_ne!(tids[0], 1, "{tids:?}");
    assert_eq!(tids[1], 1, "{tids:?}");
}
