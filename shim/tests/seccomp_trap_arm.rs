//! The seccomp platform's stub filter on armv7 (`sys::trap::filter`,
//! SECURITY.md S1 and S2, armv7), run through a classic-BPF interpreter on
//! made-up `seccomp_data`: what traps, what is allowed and what kills, from
//! the code page, the handler's code and the batch page. Built for armv7 and
//! run by qemu-user in `cargo xtask test-arm --arch armv7`; images/arm/init
//! runs tests/guest/hostile_trap.c in the armhf machine for the same on the
//! host kernel.
#![cfg(target_arch = "arm")]

mod common;

use umbra_shim::sys::raw::nr;
use umbra_shim::sys::seccomp::{SockFilter, RET_ALLOW, RET_KILL_PROCESS, RET_TRAP};
use umbra_shim::sys::stub;
use umbra_shim::sys::trap;

const ARM: u32 = 0x4000_0028;
const COOKIE: [u32; 3] = [0x1234_5679, 0x0bad_cafd, 0x7777_0001];

/// Runs a filter on (nr, arch, ip, args) as the kernel would (32-bit
/// arguments: the high halves are zero).
fn run(f: &[SockFilter], nr: usize, arch: u32, ip: u64, args: [u32; 6]) -> u32 {
    let mut data = [0u32; 16];
    data[0] = nr as u32;
    data[1] = arch;
    data[2] = ip as u32;
    for (i, a) in args.iter().enumerate() {
        data[4 + 2 * i] = *a;
    }
    common::bpf::eval(f, data)
}

fn filter() -> Vec<SockFilter> {
    trap::filter(COOKIE).expect("the filter assembles")
}

const BATCH: u32 = stub::STUB_BATCH as u32;

#[test]
fn guest_calls_trap_from_anywhere_outside_the_stub_pages() {
    let f = filter();
    let ips = [
        0x1_0000,
        stub::STUB_CODE - 2,
        stub::STUB_CODE + 0x1000 + 4, // the data page
        stub::STUB_BATCH + 0x1000,
        trap::SLOT_VA + 16,
        // The guest's sigreturn trampolines in the code page.
        stub::sigreturn_addr() + 8,
        stub::sigreturn_old_addr() + 8,
    ];
    for ip in ips {
        // EABI numbers, a skipped -1, an OABI-looking number, ARM's private
        // calls (cacheflush, set_tls).
        for n in [
            nr::GETPPID,
            nr::MMAP,
            nr::MPROTECT,
            nr::FUTEX,
            nr::RT_SIGRETURN,
            nr::SIGRETURN,
            0xffff_ffff,
            0x90_0014,
            0xf_0002,
            nr::SET_TLS,
        ] {
            assert_eq!(
                run(&f, n, ARM, ip, [0; 6]),
                RET_TRAP,
                "nr {n:#x} at {ip:#x}"
            );
        }
        let m = [BATCH, 4096, 5, COOKIE[0], COOKIE[1], COOKIE[2]];
        assert_eq!(run(&f, nr::MPROTECT, ARM, ip, m), RET_TRAP, "at {ip:#x}");
    }
    // Another audit arch is killed anywhere.
    for ip in [0x1_0000, trap::handler_addr() + 8] {
        assert_eq!(
            run(&f, nr::GETPPID, 0xc000_00b7, ip, [0; 6]),
            RET_KILL_PROCESS
        );
    }
}

#[test]
fn the_handler_may_only_futex_its_control_word_sigreturn_and_set_tls() {
    let f = filter();
    let h = trap::handler_addr() + 8;
    assert!(trap::handler_end() > h && trap::handler_end() <= stub::STUB_CODE + 4096);
    let w = trap::SLOT_VA as u32;
    assert_eq!(run(&f, nr::FUTEX, ARM, h, [w, 0, 1, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&f, nr::FUTEX, ARM, h, [w, 1, 1, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&f, nr::RT_SIGRETURN, ARM, h, [0; 6]), RET_ALLOW);
    assert_eq!(
        run(&f, nr::SET_TLS, ARM, h, [0x1234, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    let kills = [
        (nr::FUTEX, [w + 4, 0, 1, 0, 0, 0]),
        (nr::FUTEX, [w, 128, 1, 0, 0, 0]), // FUTEX_PRIVATE_FLAG
        (nr::FUTEX, [w, 9, 1, 0, 0, 0]),   // FUTEX_WAIT_BITSET
        (nr::MMAP, [0x1000, 4096, 3, 0x11, 3, 0]),
        (nr::MUNMAP, [0x1000, 4096, 0, 0, 0, 0]),
        (nr::SIGRETURN, [0; 6]),
        (nr::WRITE, [1, 0, 0, 0, 0, 0]),
        (nr::EXIT_GROUP, [0; 6]),
        (nr::PRCTL, [1, 9, 0, 0, 0, 0]),
    ];
    for (n, a) in kills {
        assert_eq!(run(&f, n, ARM, h, a), RET_KILL_PROCESS, "nr {n} {a:x?}");
    }
    // Outside the handler's code (the ptrace-time batch entry, the idle
    // trap): its calls kill there.
    for ip in [stub::batch_regs_addr() + 8, stub::STUB_CODE + 4] {
        assert_eq!(
            run(&f, nr::FUTEX, ARM, ip, [w, 0, 1, 0, 0, 0]),
            RET_KILL_PROCESS
        );
        assert_eq!(run(&f, nr::RT_SIGRETURN, ARM, ip, [0; 6]), RET_KILL_PROCESS);
        assert_eq!(run(&f, nr::SET_TLS, ARM, ip, [0; 6]), RET_KILL_PROCESS);
    }
}

#[test]
fn the_batch_page_is_made_executable_only_with_the_cookie() {
    let f = filter();
    for ip in [
        stub::batch_regs_addr() + 8,
        trap::handler_addr() + 0x100,
        stub::STUB_CODE + 0x40,
    ] {
        let ok = [BATCH, 4096, 5, COOKIE[0], COOKIE[1], COOKIE[2]];
        assert_eq!(run(&f, nr::MPROTECT, ARM, ip, ok), RET_ALLOW);
        // PROT_NONE needs no cookie.
        assert_eq!(
            run(&f, nr::MPROTECT, ARM, ip, [BATCH, 4096, 0, 0, 0, 0]),
            RET_ALLOW
        );
        for i in 3..6 {
            let mut b = ok;
            b[i] ^= 1 << (i * 5);
            assert_eq!(
                run(&f, nr::MPROTECT, ARM, ip, b),
                RET_KILL_PROCESS,
                "arg {i}"
            );
        }
        let kills = [
            [BATCH, 4096, 7, COOKIE[0], COOKIE[1], COOKIE[2]],
            [BATCH, 8192, 5, COOKIE[0], COOKIE[1], COOKIE[2]],
            [BATCH - 4096, 4096, 5, COOKIE[0], COOKIE[1], COOKIE[2]],
            [0x1_0000, 4096, 7, COOKIE[0], COOKIE[1], COOKIE[2]],
            [BATCH, 4096, 5, 0, 0, 0],
        ];
        for a in kills {
            assert_eq!(
                run(&f, nr::MPROTECT, ARM, ip, a),
                RET_KILL_PROCESS,
                "{a:x?}"
            );
        }
        assert_eq!(
            run(&f, nr::MMAP, ARM, ip, [0x1000, 4096, 3, 0x11, 3, 0]),
            RET_KILL_PROCESS
        );
    }
}

#[test]
fn the_batch_page_makes_only_the_stub_calls() {
    let f = filter();
    for ip in [stub::STUB_BATCH + 0x44, trap::ops_syscall_addr()] {
        assert!((stub::STUB_BATCH..stub::STUB_BATCH + 4096).contains(&ip));
        let ok = [
            (nr::MMAP, [0x1000, 4096, 7, 0x11, 3, 5]),
            (nr::MUNMAP, [0x1000, 4096, 0, 0, 0, 0]),
            (nr::MPROTECT, [0x1000, 4096, 1, 0, 0, 0]),
            (nr::SET_TLS, [0x1234, 0, 0, 0, 0, 0]),
            (nr::PRCTL, [1, 9, 0, 0, 0, 0]),
            (nr::CLONE, [stub::STUB_CLONE_FLAGS as u32, 0, 0, 0, 0, 0]),
        ];
        for (n, a) in ok {
            assert_eq!(run(&f, n, ARM, ip, a), RET_ALLOW, "nr {n} at {ip:#x}");
        }
        let kills = [
            (nr::MMAP, [0x1000, 4096, 3, 0x11, 4, 0]),
            (nr::MMAP, [0x1000, 4096, 3, 0x22, 3, 0]),
            (nr::PRCTL, [4, 1, 0, 0, 0, 0]),
            (nr::PRCTL, [1, 15, 0, 0, 0, 0]),
            (nr::CLONE, [0x0001_0f00, 0, 0, 0, 0, 0]),
            (nr::WRITE, [1, 0, 0, 0, 0, 0]),
            (nr::FUTEX, [trap::SLOT_VA as u32, 1, 1, 0, 0, 0]),
            (nr::RT_SIGRETURN, [0; 6]),
            (nr::GETPPID, [0; 6]),
        ];
        for (n, a) in kills {
            assert_eq!(run(&f, n, ARM, ip, a), RET_KILL_PROCESS, "nr {n} {a:x?}");
        }
    }
}

#[test]
fn the_handler_fits_the_code_page_and_the_op_loop_the_batch_page() {
    let h = trap::handler_addr();
    assert!(h > stub::STUB_CODE && trap::handler_end() < stub::STUB_CODE + 4096);
    assert!(stub::blob().len() <= 4096);
    assert!(stub::batch_blob().is_some_and(|b| b.len() <= 4096));
    // The trampolines are outside the handler's code.
    for t in [stub::sigreturn_addr(), stub::sigreturn_old_addr()] {
        assert!(t + 8 < h);
    }
    const { assert!(trap::MAX_OPS >= 64) };
}
