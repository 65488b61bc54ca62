//! Thread switches on one host process (MockHost): whatever thread ran there
//! last is switched out (`HostCpu::thread_switch_out`) before another runs,
//! a thread that exited included. On aarch64 the host process of a thread
//! that just exited sits in its exit syscall stop, whose x7 is hidden; the
//! next thread must not be taken for the one that stopped there (issue 11:
//! threads hung on arm64 in musl's `__wait`, their x7 replaced).

use crate::config::{Config, PAGE_SIZE};
use crate::fs;
use crate::kernel::Kernel;
use crate::task::ExitStatus;
use crate::testing::{newc_archive, tiny_elf, MockHost, Step};
use alloc::string::String;
use alloc::vec;
use umbra_abi::elf::ET_EXEC;
use umbra_abi::flags::CloneFlags;
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;

const FRAMES: usize = 1024;

fn sys(nr: usize, args: &[u64]) -> Step {
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    Step::Syscall(nr as u64, a)
}

fn boot() -> Kernel<MockHost> {
    let elf = tiny_elf(ET_EXEC);
    let archive = newc_archive(&[("bin", 0o040_755, &[]), ("bin/prog", 0o100_755, &elf)]);
    let (vfs, console) = fs::vfs_from_cpio(&archive, Timespec::default()).unwrap();
    let host = MockHost::new(FRAMES * PAGE_SIZE);
    let cfg = Config {
        argv: vec![String::from("/bin/prog")],
        ..Config::default()
    };
    let mut k = Kernel::new(host, vfs, cfg, FRAMES);
    assert_eq!(k.spawn_init(fs::devfs::stdio_files(&console)).unwrap(), 1);
    k
}

#[test]
fn the_host_switches_out_a_thread_that_exited_before_the_next_runs() {
    let mut k = boot();
    let mm = k.process(1).unwrap().mm.id;
    let flags = (CloneFlags::VM
        | CloneFlags::FS
        | CloneFlags::FILES
        | CloneFlags::SIGHAND
        | CloneFlags::THREAD
        | CloneFlags::SYSVSEM)
        .bits();
    // One script for the address space, played by whichever thread runs:
    // the leader makes thread 2 and yields to it; thread 2 exits; the
    // leader goes on.
    k.host.script(
        mm,
        [
            sys(CLONE, &[flags, 0, 0, 0, 0]),
            sys(SCHED_YIELD, &[]),
            sys(EXIT, &[0]),
            sys(GETPID, &[]),
            sys(EXIT_GROUP, &[0]),
        ],
    );
    assert_eq!(k.run(), ExitStatus::Exited(0));
    assert_eq!(k.host.results_of(CLONE as u64), vec![2]);
    assert_eq!(k.host.results_of(GETPID as u64), vec![1]);
    // The leader made way for thread 2 (one switch-out), and what thread 2
    // left in the host process was switched out before the leader ran
    // again (the second); before the fix the leader ran on the dead
    // thread's stop as if it were its own.
    assert_eq!(k.host.switch_outs, vec![mm, mm]);
}
