//! Seccomp confinement: every stub runs under a filter that allows only its
//! mapping calls from the stub code page, guest syscalls still stop in umbra
//! (PTRACE_SYSEMU reports before seccomp runs), and umbra's own filter
//! (`PtraceHost::confine`) kills umbra on any host syscall outside its list.
//! Confinement is process-wide and irreversible, so those tests run helpers in
//! child processes (this binary, `--exact helper_... --ignored`).
//!
//! x86_64 only: the guest code blobs, registers and syscall numbers here are
//! x86_64's (the aarch64 and arm backends are tested by `cargo xtask test-arm`).
#![cfg(target_arch = "x86_64")]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use umbra_abi::flags::Prot;
use umbra_core::arch::UserRegs;
use umbra_core::host::{
    ConsoleStream, HostBlock, HostConsole, HostCpu, HostMemory, HostTime, MapOp, MmId, SyscallAbi,
    Trap,
};
use umbra_shim::host::{confinement_rules, HostOptions, PtraceHost};
use umbra_shim::sys::{self, ptrace, ptrace::WaitStatus, stub};

const CODE_VA: u64 = 0x40_0000;
const DATA_VA: u64 = 0x50_0000;
const CODE_PHYS: u64 = 0x1000;
const DATA_PHYS: u64 = 0x2000;
const SIGSYS: i32 = 31;

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
    h.mm_flush(mm).unwrap();
    mm
}

fn regs() -> UserRegs {
    UserRegs::new_user(CODE_VA, DATA_VA + 4096)
}

fn helper(name: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("UMBRA_SHIM_HELPER", "1")
    // The helper confines umbra in libtest's thread, whose glibc malloc arena
    // is a non-main one: trimming it reads /proc/sys/vm/overcommit_memory
    // (openat, which the filter kills). The umbra binary runs its kernel on
    // the main thread, whose arena trims with brk; one arena does the same here.
    .env("MALLOC_ARENA_MAX", "1")
    .stdin(Stdio::null());
    c
}

fn is_helper() -> bool {
    std::env::var_os("UMBRA_SHIM_HELPER").is_some()
}

/// Resumes the stub with PTRACE_CONT (syscalls really run) at `rip` with
/// `rax` and the given argument registers, and waits for what happens.
fn cont_at(pid: i32, rip: u64, rax: u64, args: [u64; 6]) -> WaitStatus {
    let mut r = ptrace::get_regs(pid).unwrap();
    r.rip = rip;
    r.rax = rax;
    r.orig_rax = u64::MAX;
    (r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9) =
        (args[0], args[1], args[2], args[3], args[4], args[5]);
    r.r13 = 0; // batch count: the blob traps right after the call
    r.r14 = stub::STUB_DATA + 8;
    r.r15 = 0;
    ptrace::set_regs(pid, &r).unwrap();
    ptrace::cont(pid, 0).unwrap();
    ptrace::wait(pid).unwrap()
}

#[test]
fn filters_assemble() {
    let s = sys::seccomp::stub_filter().unwrap();
    assert!(s.len() < 64, "{}", s.len());
    let u = sys::seccomp::umbra_filter(&confinement_rules()).unwrap();
    assert!(u.len() < 512, "{}", u.len());
}

#[test]
fn stub_runs_under_its_filter() {
    let mut h = host();
    let mm = h.mm_create().unwrap();
    let pid = h.stub_pid(mm).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(field("Seccomp:"), "2", "{status}");
    assert_eq!(field("NoNewPrivs:"), "1", "{status}");
}

/// The ordering this kernel uses: a syscall stopped by PTRACE_SYSEMU never
/// reaches the stub's filter, whatever its number, address or ABI.
#[test]
fn guest_syscalls_reach_umbra_not_the_filter() {
    let mut h = host();
    // mov eax, 63 (uname); syscall; mov eax, 20; int 0x80; int3
    let code = [
        0xb8, 63, 0, 0, 0, 0x0f, 0x05, 0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xcc,
    ];
    let mm = space(&mut h, &code);
    let mut r = regs();
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Native
        }
    );
    r.set_syscall_ret(0);
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Compat32
        }
    );
    r.set_syscall_ret(0);
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::Exception { sig: 5, .. }
    ));
    // The guest jumps onto the stub's own `syscall` with a forbidden number:
    // still just a syscall stop for umbra, the stub lives.
    r.set_ip(stub::batch_syscall_addr());
    r.gp.rax = 39;
    assert_eq!(
        h.run_user(mm, &mut r),
        Trap::Syscall {
            abi: SyscallAbi::Native
        }
    );
    assert_eq!(r.syscall_nr(), 39);
    let pid = h.stub_pid(mm).unwrap();
    assert!(ptrace::kill(pid, 0).is_ok());
}

/// A host syscall from outside the stub code page under PTRACE_CONT (where
/// guest code runs after a returning batch) stops in umbra
/// (SECCOMP_RET_TRACE: a PTRACE_EVENT_SECCOMP stop), whatever its number,
/// and does not run: umbra serves it as a guest call and skips it.
#[test]
fn host_syscall_outside_the_stub_page_stops_in_umbra() {
    let mut h = host();
    // mov eax, 39 (getpid); syscall; int3
    let mm = space(&mut h, &[0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xcc]);
    let pid = h.stub_pid(mm).unwrap();
    // Even an allowed number (mmap of the memory file) from outside the
    // stub page, with the cookie.
    let (c1, c2) = sys::seccomp::stub_cookie();
    assert_ne!((c1, c2), (0, 0));
    let seccomp_stop = WaitStatus::Stopped { sig: 5, event: 7 };
    assert_eq!(
        cont_at(
            pid,
            CODE_VA + 5,
            9,
            [0x1000_0000, 4096, 1, 0x11 | c1, 3 | c2, 0]
        ),
        seccomp_stop
    );
    let g = ptrace::get_regs(pid).unwrap();
    assert_eq!((g.orig_rax, g.rip), (9, CODE_VA + 7));
    // umbra resumes it (a full register load: orig_rax -1, the call
    // skipped); the guest goes on to its int3.
    let mut r = regs();
    r.gp.rip = CODE_VA + 7;
    assert!(matches!(
        h.run_user(mm, &mut r),
        Trap::Exception { sig: 5, .. }
    ));
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    assert!(!maps.contains("10000000-"), "{maps}");
    // A 32-bit call (int 0x80) and an x32 one alike.
    for (code, nr) in [
        (&[0xcd, 0x80, 0xcc][..], 20u64),
        (&[0x0f, 0x05, 0xcc][..], 0x4000_0027),
    ] {
        let mm = space(&mut h, code);
        let pid = h.stub_pid(mm).unwrap();
        assert_eq!(cont_at(pid, CODE_VA, nr, [0; 6]), seccomp_stop);
        assert_eq!(ptrace::get_regs(pid).unwrap().orig_rax, nr);
    }
}

#[test]
fn stub_page_allows_only_the_mapping_calls() {
    let mut h = host();
    let at = stub::batch_syscall_addr();
    // A mapping call as umbra makes them, with the cookie in the high
    // halves of arguments 3 and 4: runs, the blob traps after it.
    let (c1, c2) = sys::seccomp::stub_cookie();
    let mm = space(&mut h, &[0xcc]);
    let pid = h.stub_pid(mm).unwrap();
    let ok = cont_at(pid, at, 9, [0x1000_0000, 4096, 1, 0x11 | c1, 3 | c2, 0]);
    assert_eq!(ok, WaitStatus::Stopped { sig: 5, event: 0 });
    assert_eq!(ptrace::get_regs(pid).unwrap().rax, 0x1000_0000);
    let bad: [(u64, [u64; 6]); 8] = [
        (39, [0, 0, 0, c1, c2, 0]),                          // getpid
        (57, [0, 0, 0, c1, c2, 0]),                          // fork
        (9, [0x1000_0000, 4096, 3, 0x22 | c1, u64::MAX, 0]), // anonymous mmap
        (9, [0x1000_0000, 4096, 1, 0x11 | c1, c2, 0]),       // mmap of another fd
        (334, [0, 32, 0, c1, c2, 0]),                        // rseq register
        // The mapping calls without the cookie, or half of it (guest code
        // may jump onto the stub's `syscall` while it runs under
        // PTRACE_CONT, but never sees the cookie).
        (9, [0x1000_0000, 4096, 1, 0x11, 3, 0]),
        (9, [0x1000_0000, 4096, 1, 0x11 | c1, 3, 0]),
        (11, [0x1000_0000, 4096, 0, 0, c2, 0]),
    ];
    for (nr, args) in bad {
        let mm = space(&mut h, &[0xcc]);
        let pid = h.stub_pid(mm).unwrap();
        assert_eq!(
            cont_at(pid, at, nr, args),
            WaitStatus::Signaled(SIGSYS),
            "syscall {nr} {args:x?}"
        );
    }
}

#[test]
fn vsyscall_page_call_is_a_fault_for_umbra() {
    let mut h = host();
    // xor edi, edi; mov rax, 0xffffffffff600400 (vsyscall time); call rax; int3
    let code = [
        0x31, 0xff, 0x48, 0xb8, 0x00, 0x04, 0x60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd0, 0xcc,
    ];
    let mm = space(&mut h, &code);
    let mut r = regs();
    let sp = r.gp.rsp;
    let t = h.run_user(mm, &mut r);
    // Whether the host emulates the page (vsyscall=xonly: seccomp traps the
    // call, which never runs) or has none (a real fault), umbra sees an
    // execute fault at the entry with the return address pushed: the host's
    // time() never runs for the guest, and the guest kernel emulates it.
    match t {
        Trap::PageFault { addr, .. } => {
            assert_eq!(addr, 0xffff_ffff_ff60_0400);
            assert_eq!(r.gp.rip, addr);
            assert_eq!(r.gp.rsp, sp - 8);
        }
        t => panic!("{t:?}"),
    }
}

#[test]
fn confined_umbra_still_works() {
    let out = helper("helper_confined").output().unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && so.contains("CONFINED OK"),
        "{:?}\n{so}\n{se}",
        out.status
    );
}

#[test]
fn forbidden_host_syscall_kills_confined_umbra() {
    if !cfg!(debug_assertions) {
        return; // the trigger exists in debug builds only
    }
    let out = helper("helper_confined")
        .env("UMBRA_TEST_FORBIDDEN_SYSCALL", "1")
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.signal(), Some(SIGSYS), "{:?}\n{so}", out.status);
    assert!(!so.contains("CONFINED OK"));
}

#[test]
#[ignore]
fn helper_confined() {
    if !is_helper() {
        return;
    }
    let disk = std::env::temp_dir().join(format!("umbra-confine-{}", std::process::id()));
    std::fs::write(&disk, vec![0u8; 8192]).unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&disk)
        .unwrap();
    let _ = std::fs::remove_file(&disk);
    let mut h = PtraceHost::new(HostOptions {
        mem_bytes: 16 << 20,
        cpu: None,
        disks: vec![f],
    })
    .unwrap();
    let before = h.mm_create().unwrap();
    h.confine().unwrap();
    // Everything the kernel asks of the host, after confinement.
    let code = [0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];
    let mm = space(&mut h, &code); // a new stub, forked while confined
    let mut r = regs();
    for _ in 0..100 {
        assert!(matches!(h.run_user(mm, &mut r), Trap::Syscall { .. }));
        r.set_syscall_ret(0);
    }
    // Page faults, mapping batches with exec, protect, unmap.
    h.mm_apply(
        mm,
        &[
            MapOp::Map {
                va: 0x1000_0000,
                len: 0x10000,
                phys: 0x10_0000,
                prot: Prot::READ | Prot::EXEC,
            },
            MapOp::Protect {
                va: 0x1000_0000,
                len: 0x1000,
                prot: Prot::READ | Prot::WRITE,
            },
            MapOp::Unmap {
                va: 0x1000_8000,
                len: 0x1000,
            },
        ],
    )
    .unwrap();
    h.mm_flush(mm).unwrap();
    // Preemption and the waits.
    let mut rs = regs();
    h.set_timer(Some(h.now_mono() + 5_000_000));
    loop {
        match h.run_user(mm, &mut rs) {
            Trap::Timer => break,
            Trap::Syscall { .. } => rs.set_syscall_ret(0),
            t => panic!("{t:?}"),
        }
    }
    h.set_timer(Some(h.now_mono() + 5_000_000));
    h.wait_event(Some(h.now_mono() + 1_000_000_000));
    h.wait_event(Some(h.now_mono() + 1_000_000));
    let _ = h.now_real();
    let mut fp = [0u8; 512];
    h.fpstate_get(mm, &mut fp).unwrap();
    h.fpstate_set(mm, &fp).unwrap();
    h.console_write(ConsoleStream::Stderr, b"").unwrap();
    let _ = h.console_is_tty(ConsoleStream::Stdin);
    let _ = h.console_winsize();
    let mut b = [0u8; 16];
    let _ = h.console_read(&mut b);
    h.disk_write(0, 0, b"hello").unwrap();
    h.disk_read(0, 0, &mut b).unwrap();
    h.disk_flush(0).unwrap();
    umbra_core::host::HostMisc::random(&mut h, &mut b);
    umbra_core::host::HostMisc::log(
        &mut h,
        umbra_core::host::LogLevel::Info,
        format_args!("confined log line"),
    );
    h.mm_destroy(before);
    let many: Vec<MmId> = (0..5).map(|_| h.mm_create().unwrap()).collect();
    for m in many {
        h.mm_destroy(m);
    }
    drop(h);
    println!("CONFINED OK");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::process::exit(0);
}

/// The real kernel on a confined host runs busybox workloads: the allow-list
/// covers what the kernel asks of the host. Needs the e2e initrd
/// (`target/guest/test.cpio`, built by `cargo test -p umbra-tests`).
#[test]
fn confined_kernel_runs_busybox() {
    let Some(cpio) = initrd() else {
        eprintln!("skipped: no target/guest/test.cpio (run the e2e tests first)");
        return;
    };
    let out = helper("helper_kernel")
        .env("UMBRA_TEST_INITRD", cpio)
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{so}\n{se}", out.status);
    for want in [
        "hi",
        "sub",
        "20000",
        "300",
        "trapped",
        "2048000",
        "GUEST STATUS 0",
    ] {
        assert!(so.lines().any(|l| l.contains(want)), "{want}:\n{so}\n{se}");
    }
}

fn initrd() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let p = target.join("guest/test.cpio");
    p.exists().then_some(p)
}

#[test]
#[ignore]
fn helper_kernel() {
    if !is_helper() {
        return;
    }
    use umbra_core::config::{Config, PAGE_SIZE};
    use umbra_core::fs;
    use umbra_core::kernel::Kernel;
    let cpio = std::fs::read(std::env::var("UMBRA_TEST_INITRD").unwrap()).unwrap();
    let now = umbra_abi::structs::Timespec {
        tv_sec: 1_700_000_000,
        tv_nsec: 0,
    };
    let (vfs, console) = fs::vfs_from_cpio(&cpio, now).unwrap();
    drop(cpio);
    let mem = 64 << 20;
    let host = PtraceHost::new(HostOptions {
        mem_bytes: mem,
        cpu: None,
        disks: vec![],
    })
    .unwrap();
    host.confine().unwrap();
    let script = "echo hi | cat; ls /bin | sort | head -3; for i in 1 2 3; do /bin/true; done; \
        sleep 0.1; x=$(echo sub); echo $x; cat /proc/self/status | head -2; \
        yes | head -n 20000 | wc -l; i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; echo $i; \
        trap 'echo trapped' USR1; kill -USR1 $$; (sleep 0.05 &); wait; \
        dd if=/dev/zero bs=4096 count=500 2>/dev/null | wc -c";
    let cfg = Config {
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        ..Config::default()
    };
    let mut kernel = Kernel::new(host, vfs, cfg, mem / PAGE_SIZE);
    kernel.spawn_init(fs::devfs::stdio_files(&console)).unwrap();
    let status = kernel.run();
    drop(kernel);
    println!("GUEST STATUS {}", status.shell_code());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::process::exit(0);
}
