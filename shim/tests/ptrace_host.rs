//! The ptrace host against real stubs: empty stubs, syscall interception and ABI
//! checks, page faults, exceptions, host events, stub death and cleanup.
//!
//! x86_64 only: the guest code blobs, registers and syscall numbers here are
//! x86_64's (the aarch64 and arm backends are tested by `cargo xtask test-arm`).
#![cfg(target_arch = "x86_64")]

use umbra_abi::flags::Prot;
use umbra_core::arch::UserRegs;
use umbra_core::host::{
    FaultAccess, HostBlock, HostConsole, HostCpu, HostMemory, HostMisc, HostTime, MapOp, MmId,
    SyscallAbi, Trap,
};
use umbra_shim::host::{HostOptions, PtraceHost};
use umbra_shim::sys;

const CODE_VA: u64 = 0x40_0000;
const DATA_VA: u64 = 0x50_0000;
const CODE_PHYS: u64 = 0x1000;
const DATA_PHYS: u64 = 0x2000;

fn host() -> PtraceHost {
    PtraceHost::new(HostOptions {
        mem_bytes: 16 << 20,
        cpu: None,
        disks: vec![],
    })
    .expect("PtraceHost::new")
}

/// An address space with `code` at CODE_VA (r-x) and a data page at DATA_VA (rw-).
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

fn alive(pid: i32) -> bool {
    sys::ptrace::kill(pid, 0).is_ok()
}

#[test]
fn stub_is_empty() {
    let mut h = host();
    let mm = h.mm_create().unwrap();
    let pid = h.stub_pid(mm).unwrap();
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let lines: Vec<&str> = maps
        .lines()
        .filter(|l| !l.ends_with("[vsyscall]"))
        .collect();
    assert_eq!(lines.len(), 2, "stub maps:\n{maps}");
    assert!(
        lines[0].starts_with("7fffff000000-7fffff001000 r-xs "),
        "{maps}"
    );
    assert!(
        lines[1].starts_with("7fffff001000-7fffff002000 r--s "),
        "{maps}"
    );
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(fds, vec!["3".to_string()]);
    let target = std::fs::read_link(format!("/proc/{pid}/fd/3")).unwrap();
    assert!(target.to_string_lossy().contains("umbra-mem"), "{target:?}");
    // The rseq area inherited from umbra's thread was unregistered.
    assert_eq!(
        sys::ptrace::rseq_config(pid)
            .map(|c| c.pointer)
            .unwrap_or(0),
        0
    );
    // Its own session, pinned to umbra's CPU.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Field 6: session. A stub forked from the template stub shares the
    // template's session, never umbra's; and it has no controlling terminal
    // (field 7, tty_nr).
    let my_stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let my_after = &my_stat[my_stat.rfind(')').unwrap() + 2..];
    let my_sid = my_after.split(' ').nth(3).unwrap();
    assert_ne!(f[3], my_sid, "session id");
    assert_eq!(f[4], "0", "controlling terminal");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let allowed = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    assert_eq!(
        allowed.split_whitespace().nth(1).unwrap(),
        h.cpu().to_string()
    );
    h.mm_destroy(mm);
    assert!(!alive(pid));
}

#[test]
fn syscall_is_intercepted_not_executed() {
    let mut h = host();
    // mov eax, 110 (getppid); mov edi, 1; mov esi, 2; mov edx, 3; mov r10d, 4;
    // mov r8d, 5; mov r9d, 6; syscall; int3
    let code = [
        0xb8, 110, 0, 0, 0, 0xbf, 1, 0, 0, 0, 0xbe, 2, 0, 0, 0, 0xba, 3, 0, 0, 0, 0x41, 0xba, 4, 0,
        0, 0, 0x41, 0xb8, 5, 0, 0, 0, 0x41, 0xb9, 6, 0, 0, 0, 0x0f, 0x05, 0xcc,
    ];
    let mm = space(&mut h, &code);
    let mut r = regs();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Native
        }
    );
    assert_eq!(r.syscall_nr(), 110);
    assert_eq!(r.syscall_args(), [1, 2, 3, 4, 5, 6]);
    assert_eq!(r.ip(), CODE_VA + code.len() as u64 - 1);
    assert_eq!(r.gp.cs, 0x33);
    r.set_syscall_ret(12345);
    let t = h.run_user(mm, &mut r);
    assert_eq!(
        t,
        Trap::Exception {
            sig: 5,
            code: 0x80,
            addr: 0
        }
    );
    assert_eq!(r.gp.rax, 12345, "the host must not have run getppid");
    assert_eq!(r.ip(), CODE_VA + code.len() as u64);
    assert!(h.stats().runs >= 2);
}

#[test]
fn page_fault_then_map_and_resume() {
    let mut h = host();
    // mov rax, [0x12345678]; mov [DATA_VA], rax; int3
    let code = [
        0x48, 0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12, 0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x50,
        0x00, 0xcc,
    ];
    let mm = space(&mut h, &code);
    let mut r = regs();
    let t = h.run_user(mm, &mut r);
    assert_eq!(
        t,
        Trap::PageFault {
            addr: 0x1234_5678,
            access: FaultAccess::Unknown
        }
    );
    assert_eq!(r.ip(), CODE_VA);
    // Map it (a frame with a marker) and resume: the load now succeeds.
    h.physmem_mut()[0x3000 + 0x678..0x3000 + 0x680].copy_from_slice(&0xfeed_f00d_u64.to_le_bytes());
    h.mm_apply(
        mm,
        &[MapOp::Map {
            va: 0x1234_5000,
            len: 4096,
            phys: 0x3000,
            prot: Prot::READ,
        }],
    )
    .unwrap();
    // Make the data page read-only: the store faults as a write.
    h.mm_apply(
        mm,
        &[MapOp::Protect {
            va: DATA_VA,
            len: 4096,
            prot: Prot::READ,
        }],
    )
    .unwrap();
    let t = h.run_user(mm, &mut r);
    assert_eq!(
        t,
        Trap::PageFault {
            addr: DATA_VA,
            access: FaultAccess::Write
        }
    );
    assert_eq!(r.gp.rax, 0xfeed_f00d);
    h.mm_apply(
        mm,
        &[MapOp::Protect {
            va: DATA_VA,
            len: 4096,
            prot: Prot::READ | Prot::WRITE,
        }],
    )
    .unwrap();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Exception {
            sig: 5,
            code: 0x80,
            addr: 0
        }
    );
    assert_eq!(
        &h.physmem()[DATA_PHYS as usize..DATA_PHYS as usize + 8],
        &0xfeed_f00d_u64.to_le_bytes()
    );
    // Unmapping makes it fault again.
    h.mm_apply(
        mm,
        &[MapOp::Unmap {
            va: 0x1234_5000,
            len: 4096,
        }],
    )
    .unwrap();
    r.set_ip(CODE_VA);
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::PageFault {
            addr: 0x1234_5678,
            ..
        }
    ));
}

/// A mapping batch that returns straight to guest code (x86_64 ptrace):
/// the fault's map and the guest's resume are one stub round trip, every
/// register (flags included) arrives as given, and the guest's next call
/// (made under PTRACE_CONT, a PTRACE_EVENT_SECCOMP stop) is served as a
/// syscall stop and skipped; after it the stub runs under PTRACE_SYSEMU.
#[test]
fn returning_batch_keeps_registers() {
    let mut h = host();
    // mov byte ptr [0x600000], 1; syscall; syscall; int3
    let code = [
        0xc6, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, 0x01, 0x0f, 0x05, 0x0f, 0x05, 0xcc,
    ];
    let mm = space(&mut h, &code);
    let before = h.stats().ret_batches;
    let mut r = regs();
    let vals = [
        39u64, // rax: getpid
        0x1111_2222_3333_4444,
        0x5555_6666_7777_8888,
        0x9999_aaaa_bbbb_cccc,
        0xdddd_eeee_ffff_0001,
        0x0102_0304_0506_0708,
        0x1112_1314_1516_1718,
        0x2122_2324_2526_2728,
        0x3132_3334_3536_3738,
        0x4142_4344_4546_4748,
        0x5152_5354_5556_5758,
        0x6162_6364_6566_6768,
        0x7172_7374_7576_7778,
    ];
    let g = &mut r.gp;
    (
        g.rax, g.rbx, g.rdx, g.rsi, g.rdi, g.rbp, g.r8, g.r9, g.r10, g.r12, g.r13, g.r14, g.r15,
    ) = (
        vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8], vals[9],
        vals[10], vals[11], vals[12],
    );
    g.eflags |= 0x8c5; // CF, PF, ZF, SF, OF
    let flags = g.eflags;
    let sp = g.rsp;
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::PageFault {
            addr: 0x60_0000,
            ..
        }
    ));
    h.mm_apply(
        mm,
        &[MapOp::Map {
            va: 0x60_0000,
            len: 4096,
            phys: 0x3000,
            prot: Prot::READ | Prot::WRITE,
        }],
    )
    .unwrap();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Native
        }
    );
    assert_eq!(h.stats().ret_batches, before + 2, "{:?}", h.stats());
    assert_eq!(h.physmem()[0x3000], 1);
    let g = &r.gp;
    assert_eq!(
        [
            g.orig_rax, g.rbx, g.rdx, g.rsi, g.rdi, g.rbp, g.r8, g.r9, g.r10, g.r12, g.r13, g.r14,
            g.r15
        ],
        vals
    );
    assert_eq!(
        (g.rip, g.rsp, g.eflags & 0x8d5),
        (CODE_VA + 10, sp, flags & 0x8d5)
    );
    // Served and skipped: the next call is the second `syscall`, a
    // PTRACE_SYSEMU stop.
    r.set_syscall_ret(7);
    r.gp.rax = 39;
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Native
        }
    );
    assert_eq!(r.gp.rip, CODE_VA + 12);
    r.set_syscall_ret(0);
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::Exception { sig: 5, .. }
    ));
    assert_eq!(h.stats().ret_batches, before + 2);
}

/// A signal stop during a returning batch's calls (here: a signal sent to
/// the stub before the run, delivered at the batch's first instruction) is
/// suppressed, the calls are all made, and the batch traps at its end
/// instead of entering the guest: umbra reports the event with the guest's
/// registers as they were, and the next run enters the guest with the new
/// mapping in place.
#[test]
fn signal_during_a_returning_batch() {
    let mut h = host();
    // mov al, byte ptr [0x600000]; int3
    let mm = space(&mut h, &[0x8a, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, 0xcc]);
    let pid = h.stub_pid(mm).unwrap();
    let mut r = regs();
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::PageFault {
            addr: 0x60_0000,
            ..
        }
    ));
    h.physmem_mut()[0x3000] = 0x5a;
    h.mm_apply(
        mm,
        &[MapOp::Map {
            va: 0x60_0000,
            len: 4096,
            phys: 0x3000,
            prot: Prot::READ,
        }],
    )
    .unwrap();
    let before = h.stats().ret_batches;
    sys::ptrace::kill(pid, 28).unwrap(); // SIGWINCH, pending in the stop
    let r0 = r.gp;
    assert_eq!(h.run_user(mm, &mut r), Trap::HostEvent);
    assert_eq!(r.gp, r0);
    assert_eq!(h.stats().ret_batches, before + 1);
    // The calls were made before the trap: the page is mapped.
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    assert!(maps.contains("00600000-00601000 r--s"), "{maps}");
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::Exception { sig: 5, .. }
    ));
    assert_eq!(r.gp.rax & 0xff, 0x5a);
    assert_eq!(h.stats().ret_batches, before + 1);
}

#[test]
fn protect_over_holes() {
    let mut h = host();
    // Reads DATA_VA and DATA_VA + 2 pages, then int3.
    let code = [
        0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x50, 0x00, 0x48, 0x8b, 0x04, 0x25, 0x00, 0x20, 0x50,
        0x00, 0xcc,
    ];
    let mm = space(&mut h, &code);
    h.mm_apply(
        mm,
        &[MapOp::Map {
            va: DATA_VA + 0x2000,
            len: 4096,
            phys: 0x4000,
            prot: Prot::READ,
        }],
    )
    .unwrap();
    // A hole at DATA_VA + 0x1000: host mprotect would stop there with ENOMEM.
    h.mm_apply(
        mm,
        &[MapOp::Protect {
            va: DATA_VA,
            len: 0x3000,
            prot: Prot::empty(),
        }],
    )
    .unwrap();
    let mut r = regs();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::PageFault {
            addr: DATA_VA,
            access: FaultAccess::Unknown
        }
    );
    h.mm_apply(
        mm,
        &[MapOp::Protect {
            va: DATA_VA,
            len: 0x1000,
            prot: Prot::READ,
        }],
    )
    .unwrap();
    assert!(
        matches!(h.run_user(mm, &mut r), Trap::PageFault { addr, .. } if addr == DATA_VA + 0x2000)
    );
}

#[test]
fn compat_and_x32_entries() {
    let mut h = host();
    // mov eax, 20; int 0x80; mov eax, 0x40000027; syscall; mov eax, 39; syscall; int3
    let code = [
        0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xb8, 0x27, 0, 0, 0x40, 0x0f, 0x05, 0xb8, 39, 0, 0, 0, 0x0f,
        0x05, 0xcc,
    ];
    let mm = space(&mut h, &code);
    let mut r = regs();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Compat32
        }
    );
    assert_eq!(r.syscall_nr(), 20);
    r.set_syscall_ret(0);
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::X32
        }
    );
    assert_eq!(r.syscall_nr(), 0x4000_0027);
    r.set_syscall_ret(0);
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Native
        }
    );
    assert_eq!(r.syscall_nr(), 39);
}

#[test]
fn compat_entry_with_forged_rcx() {
    let mut h = host();
    // lea rcx, [rip + 2]; int 0x80 (rcx == rip after it, as after `syscall`); int3
    let code = [0x48, 0x8d, 0x0d, 0x02, 0, 0, 0, 0xcd, 0x80, 0xcc];
    let mm = space(&mut h, &code);
    let mut r = regs();
    r.gp.rax = 1;
    r.gp.r11 = 0x202;
    let t = h.run_user(mm, &mut r);
    assert_eq!(r.gp.rcx, r.gp.rip);
    assert_eq!(
        t,
        Trap::Syscall {
            abi: SyscallAbi::Compat32
        }
    );
}

#[test]
fn exceptions() {
    let mut h = host();
    // ud2
    let mm = space(&mut h, &[0x0f, 0x0b]);
    let mut r = regs();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Exception {
            sig: 4,
            code: 2,
            addr: CODE_VA
        }
    );
    // Jumping to a non-executable page: an instruction-fetch fault.
    r.set_ip(DATA_VA + 16);
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::PageFault {
            addr: DATA_VA + 16,
            access: FaultAccess::Exec
        }
    );
    // Division by zero: xor ecx, ecx; div ecx
    let mm2 = space(&mut h, &[0x31, 0xc9, 0xf7, 0xf1]);
    let mut r = regs();
    assert!(matches!(
        h.run_user(mm2, &mut r),
        Trap::Exception { sig: 8, .. }
    ));
    // hlt is privileged: #GP, SIGSEGV with SI_KERNEL, not a page fault.
    let mm3 = space(&mut h, &[0xf4]);
    let mut r = regs();
    assert_eq!(
        h.run_user(mm3, &mut r),
        Trap::Exception {
            sig: 11,
            code: 0x80,
            addr: 0
        }
    );
}

#[test]
fn host_signals_are_suppressed() {
    let mut h = host();
    // 1: jmp 1b (spin)
    let mm = space(&mut h, &[0xeb, 0xfe]);
    let pid = h.stub_pid(mm).unwrap();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        sys::ptrace::kill(pid, 28).unwrap(); // SIGWINCH
        std::thread::sleep(std::time::Duration::from_millis(100));
        sys::ptrace::kill(pid, 15).unwrap(); // SIGTERM
    });
    let mut r = regs();
    assert_eq!(h.run_user(mm, &mut r), Trap::HostEvent);
    assert_eq!(r.ip(), CODE_VA);
    assert_eq!(h.run_user(mm, &mut r), Trap::HostEvent);
    killer.join().unwrap();
    // A SIGSEGV or SIGTRAP sent by a process is a host event too, not a fault;
    // SIGSTOP does not stop the stub.
    for sig in [11, 5, 19] {
        sys::ptrace::kill(pid, sig).unwrap();
        assert_eq!(h.run_user(mm, &mut r), Trap::HostEvent, "signal {sig}");
    }
    // Also while a batch runs.
    sys::ptrace::kill(pid, 5).unwrap();
    sys::ptrace::kill(pid, 28).unwrap();
    h.mm_apply(
        mm,
        &[MapOp::Map {
            va: 0x1000,
            len: 4096,
            phys: 0,
            prot: Prot::READ,
        }],
    )
    .unwrap();
    h.mm_flush(mm).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(
        stat[stat.rfind(')').unwrap() + 2..].starts_with('t'),
        "{stat}"
    );
    assert!(alive(pid));
}

#[test]
fn stub_death_and_cleanup() {
    let mut h = host();
    let mm = space(&mut h, &[0xeb, 0xfe]);
    let pid = h.stub_pid(mm).unwrap();
    sys::ptrace::kill(pid, 9).unwrap();
    let mut r = regs();
    assert_eq!(h.run_user(mm, &mut r), Trap::StubDied);
    assert_eq!(h.run_user(mm, &mut r), Trap::StubDied);
    assert!(h
        .mm_apply(mm, &[MapOp::Unmap { va: 0, len: 4096 }])
        .is_err());
    assert!(!alive(pid), "no zombie left");
    h.mm_destroy(mm);
    // Drop kills and reaps the rest.
    let mms: Vec<MmId> = (0..4).map(|_| h.mm_create().unwrap()).collect();
    let pids: Vec<i32> = mms.iter().map(|&m| h.stub_pid(m).unwrap()).collect();
    h.mm_destroy(mms[0]);
    assert!(!alive(pids[0]));
    drop(h);
    for p in pids {
        assert!(!alive(p));
    }
}

#[test]
fn invalid_ops_are_refused() {
    let mut h = host();
    let mm = h.mm_create().unwrap();
    let bad = [
        MapOp::Map {
            va: 0x7fff_ff00_0000,
            len: 4096,
            phys: 0,
            prot: Prot::READ,
        }, // stub pages
        MapOp::Map {
            va: 0x1000,
            len: 4096,
            phys: 16 << 20,
            prot: Prot::READ,
        }, // past guest memory
        MapOp::Unmap {
            va: 0x7fff_fe00_0000,
            len: 0x100_0000_0000,
        },
        MapOp::Protect {
            va: 0x1001,
            len: 4096,
            prot: Prot::READ,
        },
    ];
    for op in bad {
        assert_eq!(
            h.mm_apply(mm, &[op]),
            Err(umbra_core::host::HostError::OutOfRange),
            "{op:?}"
        );
    }
    let mut r = regs();
    r.set_ip(0x1000);
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::PageFault { addr: 0x1000, .. }
    ));
}

#[test]
fn many_ops_and_merging() {
    let mut h = host();
    let mm = space(&mut h, &[0xcc]);
    let before = h.stats().batches;
    // 1000 single pages, contiguous in va and phys: merged into one mmap.
    let ops: Vec<MapOp> = (0..1000u64)
        .map(|i| MapOp::Map {
            va: 0x1000_0000 + i * 4096,
            len: 4096,
            phys: 0x10_0000 + i * 4096,
            prot: Prot::READ,
        })
        .collect();
    h.mm_apply(mm, &ops).unwrap();
    // 300 scattered pages: several batches of BATCH_MAX.
    let ops: Vec<MapOp> = (0..300u64)
        .map(|i| MapOp::Map {
            va: 0x2000_0000 + i * 8192,
            len: 4096,
            phys: 0x10_0000,
            prot: Prot::READ,
        })
        .collect();
    h.mm_apply(mm, &ops).unwrap();
    let mut r = regs();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Exception {
            sig: 5,
            code: 0x80,
            addr: 0
        }
    );
    let batches = h.stats().batches - before;
    assert!((5..=6).contains(&batches), "{batches} batches");
    let pid = h.stub_pid(mm).unwrap();
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    assert!(maps.contains("10000000-103e8000 r--s"), "{maps}");
    assert_eq!(maps.lines().filter(|l| l.starts_with("20")).count(), 300);
}

#[test]
fn file_fallback_memory() {
    let mut h = PtraceHost::new_with(
        HostOptions {
            mem_bytes: 1 << 20,
            cpu: None,
            disks: vec![],
        },
        true,
    )
    .unwrap();
    assert!(
        h.memory_file_kind().starts_with("unlinked file"),
        "{}",
        h.memory_file_kind()
    );
    let mm = space(&mut h, &[0xb8, 39, 0, 0, 0, 0x0f, 0x05]);
    let mut r = regs();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Native
        }
    );
    let pid = h.stub_pid(mm).unwrap();
    let fds: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .collect();
    assert_eq!(fds.len(), 1);
}

#[test]
fn options_are_checked() {
    assert!(PtraceHost::new(HostOptions {
        mem_bytes: 1000,
        cpu: None,
        disks: vec![]
    })
    .is_err());
    assert!(PtraceHost::new(HostOptions {
        mem_bytes: 4096,
        cpu: Some(100_000),
        disks: vec![]
    })
    .is_err());
}

#[test]
fn time_console_disk_misc() {
    let dir = std::env::temp_dir().join(format!("umbra-shim-test-{}", std::process::id()));
    std::fs::write(&dir, vec![7u8; 8192]).unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&dir)
        .unwrap();
    let _ = std::fs::remove_file(&dir);
    let mut h = PtraceHost::new(HostOptions {
        mem_bytes: 4096,
        cpu: None,
        disks: vec![f],
    })
    .unwrap();
    // stdin may be readable (e.g. /dev/null): the first wait then returns at once,
    // the second (nobody read stdin since) sleeps until the deadline.
    let t0 = h.now_mono();
    let deadline = t0 + 20_000_000;
    let mut waits = 0;
    while h.now_mono() < deadline {
        h.wait_event(Some(deadline));
        waits += 1;
        assert!(waits <= 2, "wait_event spins");
    }
    // With no deadline and nothing to watch, it returns at once.
    if waits == 2 {
        h.wait_event(None);
    }
    assert!(h.now_real() > 1_600_000_000 * 1_000_000_000);
    assert_eq!(h.disk_size(0), Some(8192));
    assert_eq!(h.disk_size(1), None);
    let mut b = [0u8; 16];
    h.disk_read(0, 8176, &mut b).unwrap();
    assert_eq!(b, [7u8; 16]);
    assert!(h.disk_read(0, 8180, &mut b).is_err());
    h.disk_write(0, 0, b"hello").unwrap();
    h.disk_flush(0).unwrap();
    h.disk_read(0, 0, &mut b[..5]).unwrap();
    assert_eq!(&b[..5], b"hello");
    let mut r1 = [0u8; 32];
    let mut r2 = [0u8; 32];
    h.random(&mut r1);
    h.random(&mut r2);
    assert_ne!(r1, r2);
    h.log(
        umbra_core::host::LogLevel::Info,
        format_args!("shim test log line"),
    );
    assert_eq!(
        h.console_write(umbra_core::host::ConsoleStream::Stdout, b"")
            .unwrap(),
        0
    );
    let _ = h.console_is_tty(umbra_core::host::ConsoleStream::Stdin);
    let _ = h.console_winsize();
}

/// Round-trip costs. Run with
/// `cargo test --release -p umbra-shim --test ptrace_host -- --ignored --nocapture bench`.
#[test]
#[ignore]
fn bench_round_trips() {
    use std::time::Instant;
    use sys::ptrace;
    let n = 5_000u32;
    let mut h = host();
    // 1: mov eax, 110; syscall; jmp 1b
    let code = [0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];
    let per = |t: Instant, n: u32| t.elapsed().as_nanos() as f64 / n as f64 / 1000.0;

    // The bare floor: GETREGS + SETREGS + SYSEMU + wait, on a stub of its own.
    let bare_mm = space(&mut h, &code);
    let mut r = regs();
    assert!(matches!(h.run_user(bare_mm, &mut r), Trap::Syscall { .. }));
    let pid = h.stub_pid(bare_mm).unwrap();
    let bare = |extra: bool| {
        let t = Instant::now();
        for _ in 0..n {
            let mut g = ptrace::get_regs(pid).unwrap();
            if extra {
                ptrace::syscall_arch(pid).unwrap();
            }
            g.rax = 0;
            ptrace::set_regs(pid, &g).unwrap();
            ptrace::sysemu(pid, 0).unwrap();
            ptrace::wait(pid).unwrap();
        }
        per(t, n)
    };
    let mm = space(&mut h, &code);
    let mut r = regs();
    let mut umbra_loop = |h: &mut PtraceHost, n: u32| {
        let t = Instant::now();
        for _ in 0..n {
            let trap = h.run_user(mm, &mut r);
            debug_assert_eq!(
                trap,
                Trap::Syscall {
                    abi: SyscallAbi::Native
                }
            );
            r.set_syscall_ret(0);
        }
        per(t, n)
    };
    umbra_loop(&mut h, 1000);
    bare(false);
    // Interleaved rounds; the best of each (the machine is shared and noisy).
    let (mut floor, mut with_info, mut umbra) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..5 {
        floor = floor.min(bare(false));
        umbra = umbra.min(umbra_loop(&mut h, n));
        with_info = with_info.min(bare(true));
    }

    // Native getppid for scale.
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    let native = per(t, n);

    // One batch round trip (a one-page mmap), and a 64-op batch.
    let m = 5000u32;
    let t = Instant::now();
    for i in 0..m {
        let va = 0x1000_0000 + (i as u64 % 64) * 4096;
        h.mm_apply(
            mm,
            &[MapOp::Map {
                va,
                len: 4096,
                phys: 0x10_0000,
                prot: Prot::READ,
            }],
        )
        .unwrap();
        h.mm_flush(mm).unwrap();
    }
    let batch1 = per(t, m);
    let t = Instant::now();
    for _ in 0..m / 10 {
        let ops: Vec<MapOp> = (0..64u64)
            .map(|i| MapOp::Map {
                va: 0x1000_0000 + i * 8192,
                len: 4096,
                phys: 0x10_0000,
                prot: Prot::READ,
            })
            .collect();
        h.mm_apply(mm, &ops).unwrap();
        h.mm_flush(mm).unwrap();
    }
    let batch64 = per(t, m / 10);

    // Page faults: touch one new page per iteration; map it and resume.
    // 1: mov rax, [rbx]; add rbx, 4096; jmp 1b
    let fcode = [
        0x48, 0x8b, 0x03, 0x48, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, 0xeb, 0xf4,
    ];
    let fmm = space(&mut h, &fcode);
    let mut r = regs();
    r.gp.rbx = 0x3000_0000;
    let pages = 3000u32;
    let t = Instant::now();
    for _ in 0..pages {
        match h.run_user(fmm, &mut r) {
            Trap::PageFault { addr, .. } => {
                let va = addr & !4095;
                h.mm_apply(
                    fmm,
                    &[MapOp::Map {
                        va,
                        len: 4096,
                        phys: 0x10_0000,
                        prot: Prot::READ,
                    }],
                )
                .unwrap();
            }
            t => panic!("{t:?}"),
        }
    }
    let fault = per(t, pages);

    // Address-space creation and destruction.
    let k = 200u32;
    let t = Instant::now();
    for _ in 0..k {
        let m = h.mm_create().unwrap();
        h.mm_destroy(m);
    }
    let create = per(t, k);

    eprintln!("mm_create + mm_destroy:          {create:8.3} us");
    eprintln!("native getppid:                  {native:8.3} us");
    eprintln!("bare GETREGS+SETREGS+SYSEMU:     {floor:8.3} us");
    eprintln!("bare + PTRACE_GET_SYSCALL_INFO:  {with_info:8.3} us");
    eprintln!(
        "umbra run_user (syscall):        {umbra:8.3} us  ({:.2}x the bare loop)",
        umbra / floor
    );
    eprintln!("batch flush, 1 op:               {batch1:8.3} us");
    eprintln!("batch flush, 64 ops:             {batch64:8.3} us");
    eprintln!("page fault (stop + map + resume): {fault:8.3} us");
    eprintln!("GET_SYSCALL_INFO calls: {}", h.stats().syscall_info_calls);
}

/// umbra SIGKILLed while a guest runs: no stub survives it.
#[test]
fn stubs_die_with_umbra() {
    sys::set_child_subreaper(true).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "helper_umbra_killed",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("UMBRA_SHIM_HELPER", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = stdout
        .find("STUB_PIDS")
        .unwrap_or_else(|| panic!("helper said: {stdout}"));
    let line = stdout[at..].lines().next().unwrap();
    let pids: Vec<i32> = line
        .split_whitespace()
        .skip(1)
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    // The stubs were reparented to us (subreaper): each must be dead, and we reap it.
    for pid in pids {
        let mut st = None;
        for _ in 0..500 {
            st = sys::ptrace::wait_nohang(pid).unwrap();
            if st.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if st.is_none() {
            sys::ptrace::kill_and_reap(pid);
        }
        assert_eq!(
            st,
            Some(sys::ptrace::WaitStatus::Signaled(9)),
            "stub {pid} outlived umbra"
        );
    }
}

#[test]
#[ignore]
fn helper_umbra_killed() {
    if std::env::var_os("UMBRA_SHIM_HELPER").is_none() {
        return;
    }
    use std::io::Write;
    let mut h = host();
    let spin = space(&mut h, &[0xeb, 0xfe]);
    let idle = space(&mut h, &[0xcc]);
    let fresh = h.mm_create().unwrap();
    let pids: Vec<String> = [spin, idle, fresh]
        .iter()
        .map(|&m| h.stub_pid(m).unwrap().to_string())
        .collect();
    println!("STUB_PIDS {}", pids.join(" "));
    std::io::stdout().flush().unwrap();
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        sys::ptrace::kill(sys::getpid(), 9).unwrap();
    });
    let mut r = regs();
    h.run_user(spin, &mut r);
    unreachable!("the guest spins until umbra is killed");
}
