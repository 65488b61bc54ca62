//! The trap loop's host clock reads (MockHost): each is a vDSO call on the
//! host, tens of ns, paid at every guest syscall, so the loop reads the
//! clock once when the guest is resumed, once at its stop, and once after
//! the syscall for the slice, the deadlines and their check together
//! (issue 11: pthread_create + join is ten guest syscalls).

use crate::config::{Config, PAGE_SIZE};
use crate::fs;
use crate::kernel::Kernel;
use crate::task::ExitStatus;
use crate::testing::{newc_archive, tiny_elf, MockHost, Step};
use alloc::string::String;
use alloc::vec;
use umbra_abi::elf::ET_EXEC;
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;

const FRAMES: usize = 1024;

/// The host clock reads of a run of `n` getppid calls and an exit_group.
fn reads_for(n: usize) -> u64 {
    let elf = tiny_elf(ET_EXEC);
    let archive = newc_archive(&[("bin", 0o040_755, &[]), ("bin/prog", 0o100_755, &elf)]);
    let (vfs, console) = fs::vfs_from_cpio(&archive, Timespec::default()).unwrap();
    let mut host = MockHost::new(FRAMES * PAGE_SIZE);
    host.read_ns = 1;
    let cfg = Config {
        argv: vec![String::from("/bin/prog")],
        ..Config::default()
    };
    let mut k = Kernel::new(host, vfs, cfg, FRAMES);
    assert_eq!(k.spawn_init(fs::devfs::stdio_files(&console)).unwrap(), 1);
    let mm = k.process(1).unwrap().mm.id;
    let mut steps = vec![Step::Syscall(GETPPID as u64, [0; 6]); n];
    steps.push(Step::Syscall(EXIT_GROUP as u64, [0; 6]));
    k.host.script(mm, steps);
    assert_eq!(k.run(), ExitStatus::Exited(0));
    assert_eq!(k.host.results_of(GETPPID as u64).len(), n);
    k.host.clock_reads()
}

#[test]
fn a_syscall_costs_the_trap_loop_three_host_clock_reads() {
    let per_call = (reads_for(100) - reads_for(0)) as f64 / 100.0;
    // Four before: the deadline and its check each read the clock.
    assert!(per_call <= 3.0, "{per_call} clock reads per syscall");
}
