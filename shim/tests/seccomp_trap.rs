//! The seccomp platform's stub filter (`sys::trap::filter`, SECURITY.md
//! S1 and S2), run through a classic-BPF interpreter on made-up
//! `seccomp_data`: what traps, what is allowed and what kills, from each
//! part of the stub code page. The e2e_hostile test `trap_path_attacks`
//! checks the same on the host kernel (arm64: images/arm/init runs
//! tests/guest/hostile_trap.c in the emulated machine).
#![cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]

mod common;

use umbra_shim::sys::raw::nr;
use umbra_shim::sys::seccomp::{SockFilter, RET_ALLOW, RET_KILL_PROCESS, RET_TRAP};
use umbra_shim::sys::stub;
use umbra_shim::sys::trap;

/// The host's audit arch (named X86_64 for the x86_64 host, where the
/// tests began; AUDIT_ARCH_AARCH64 on aarch64).
#[cfg(target_arch = "x86_64")]
const X86_64: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const X86_64: u32 = 0xc000_00b7;
#[cfg(target_arch = "x86_64")]
const I386: u32 = 0x4000_0003;
const C1: u32 = 0x1234_5679;
const C2: u32 = 0x0bad_cafd;

/// Runs a filter on (nr, arch, ip, args) as the kernel would.
fn run(f: &[SockFilter], nr: usize, arch: u32, ip: u64, args: [u64; 6]) -> u32 {
    let mut data = [0u32; 16];
    data[0] = nr as u32;
    data[1] = arch;
    data[2] = ip as u32;
    data[3] = (ip >> 32) as u32;
    for (i, a) in args.iter().enumerate() {
        data[4 + 2 * i] = *a as u32;
        data[5 + 2 * i] = (a >> 32) as u32;
    }
    common::bpf::eval(f, data)
}

fn filter() -> Vec<SockFilter> {
    trap::filter(C1, C2).expect("the filter assembles")
}

fn cookie(a3: u64, a4: u64) -> (u64, u64) {
    (a3 | (C1 as u64) << 32, a4 | (C2 as u64) << 32)
}

#[test]
fn guest_calls_trap_from_anywhere_outside_the_code_page() {
    let f = filter();
    #[cfg_attr(target_arch = "x86_64", allow(unused_mut))]
    let mut ips = vec![
        0x401000,
        stub::STUB_CODE - 2,
        stub::STUB_CODE + 4096,
        trap::SLOT_VA + 16,
        0xffff_ffff_ff60_0000,
    ];
    // aarch64: the guest's signal trampoline (`svc` at offset 12).
    #[cfg(target_arch = "aarch64")]
    ips.push(stub::sigreturn_addr() + 8);
    for ip in ips {
        for n in [nr::GETPPID, nr::MMAP, nr::FUTEX, nr::RT_SIGRETURN, 59, 1000] {
            assert_eq!(
                run(&f, n, X86_64, ip, [0; 6]),
                RET_TRAP,
                "nr {n} at {ip:#x}"
            );
        }
    }
    // int 0x80 and x32 trap from anywhere, the handler's code included.
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(run(&f, 1, I386, trap::handler_addr(), [0; 6]), RET_TRAP);
        assert_eq!(run(&f, 0x4000_0001, X86_64, 0x401000, [0; 6]), RET_TRAP);
        assert_eq!(
            run(&f, 0x4000_0001, X86_64, trap::handler_addr(), [0; 6]),
            RET_TRAP
        );
    }
    // aarch64: an AArch32 call (another audit arch) is killed anywhere.
    #[cfg(target_arch = "aarch64")]
    for ip in [0x401000, trap::handler_addr() + 8] {
        assert_eq!(
            run(&f, nr::GETPPID, 0x4000_0028, ip, [0; 6]),
            RET_KILL_PROCESS
        );
    }
}

#[test]
fn the_handler_may_only_futex_its_control_word_and_sigreturn() {
    let f = filter();
    let h = trap::handler_addr() + 8;
    assert!(trap::handler_end() > h && trap::handler_end() <= stub::STUB_CODE + 4096);
    let w = trap::SLOT_VA;
    assert_eq!(run(&f, nr::FUTEX, X86_64, h, [w, 0, 1, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&f, nr::FUTEX, X86_64, h, [w, 1, 1, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&f, nr::RT_SIGRETURN, X86_64, h, [0; 6]), RET_ALLOW);
    let kills = [
        (nr::FUTEX, [w + 4, 0, 1, 0, 0, 0]),
        (nr::FUTEX, [w ^ 1 << 33, 0, 1, 0, 0, 0]),
        (nr::FUTEX, [w, 128, 1, 0, 0, 0]), // FUTEX_PRIVATE_FLAG
        (nr::FUTEX, [w, 9, 1, 0, 0, 0]),   // FUTEX_WAIT_BITSET
        (nr::FUTEX, [w, 1 << 32, 1, 0, 0, 0]),
        (nr::MMAP, [0x1000, 4096, 3, 0x11, 3, 0]),
        (nr::MUNMAP, [0x1000, 4096, 0, 0, 0, 0]),
        (nr::WRITE, [1, 0, 0, 0, 0, 0]),
        (nr::EXIT_GROUP, [0; 6]),
    ];
    for (n, a) in kills {
        assert_eq!(run(&f, n, X86_64, h, a), RET_KILL_PROCESS, "nr {n} {a:x?}");
    }
    // Even with the cookie: mapping calls from the handler's code kill.
    let (a3, a4) = cookie(0x11, 3);
    assert_eq!(
        run(&f, nr::MMAP, X86_64, h, [0x1000, 4096, 3, a3, a4, 0]),
        RET_KILL_PROCESS
    );
}

#[test]
fn mapping_calls_from_the_code_page_need_the_cookie() {
    let f = filter();
    for ip in [
        stub::batch_syscall_addr(),
        trap::ops_syscall_addr(),
        stub::STUB_CODE,
    ] {
        let (a3, a4) = cookie(0x11, 3);
        let ok = [
            (nr::MMAP, [0x1000, 4096, 7, a3, a4, 0x5000]),
            (nr::MUNMAP, [0x1000, 4096, 0, a3 & !0x11, a4 & !3, 0]),
            (nr::MPROTECT, [0x1000, 4096, 1, a3 & !0x11, a4 & !3, 0]),
            (nr::PRCTL, [1, 9, 0, a3 & !0x11, a4 & !3, 0]),
        ];
        for (n, a) in ok {
            assert_eq!(run(&f, n, X86_64, ip, a), RET_ALLOW, "nr {n} at {ip:#x}");
            // Without the cookie, or with half of it: killed.
            let mut b = a;
            b[3] &= 0xffff_ffff;
            assert_eq!(run(&f, n, X86_64, ip, b), RET_KILL_PROCESS, "nr {n}");
            let mut b = a;
            b[4] &= 0xffff_ffff;
            assert_eq!(run(&f, n, X86_64, ip, b), RET_KILL_PROCESS, "nr {n}");
            let mut b = a;
            b[3] ^= 1 << 40;
            assert_eq!(run(&f, n, X86_64, ip, b), RET_KILL_PROCESS, "nr {n}");
        }
        let kills = [
            // Another fd, an anonymous or private mapping.
            (nr::MMAP, [0x1000, 4096, 3, a3, a4 & !3 | 4, 0]),
            (nr::MMAP, [0x1000, 4096, 3, a3 & !0x11 | 0x32, a4, 0]),
            (nr::MMAP, [0x1000, 4096, 3, a3 & !0x11 | 0x12, a4, 0]),
            // Other prctls, other signals.
            (nr::PRCTL, [4, 1, 0, a3, a4, 0]),
            (nr::PRCTL, [1, 15, 0, a3, a4, 0]),
            // A clone that is not the template's fork.
            (nr::CLONE, [0x0001_0f00, 0, 0, a3, a4, 0]),
            (nr::WRITE, [1, 0, 0, a3, a4, 0]),
            (nr::FUTEX, [trap::SLOT_VA, 1, 1, a3, a4, 0]),
            (nr::RT_SIGRETURN, [0, 0, 0, a3, a4, 0]),
        ];
        for (n, a) in kills {
            assert_eq!(run(&f, n, X86_64, ip, a), RET_KILL_PROCESS, "nr {n} {a:x?}");
        }
        let clone = [stub::STUB_CLONE_FLAGS, 0, 0, a3 & !0x11, a4 & !3, 0];
        assert_eq!(run(&f, nr::CLONE, X86_64, ip, clone), RET_ALLOW);
    }
}

#[test]
fn the_handler_and_op_loop_fit_the_code_page() {
    let h = trap::handler_addr();
    assert!(h > stub::STUB_CODE && trap::handler_end() < stub::STUB_CODE + 4096);
    // The op loop's syscall is outside the handler's range: the cookie
    // rules apply to it, not the handler's.
    let o = trap::ops_syscall_addr();
    assert!(o < h || o >= trap::handler_end());
    assert!(stub::blob().len() <= 4096);
    const { assert!(trap::MAX_OPS >= 64) };
}
