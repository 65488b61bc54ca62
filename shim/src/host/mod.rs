//! The ptrace backend of umbra-core's Host traits. Safe code only: every host
//! call goes through `crate::sys`.
//!
//! One stub process per guest address space (see `sys::stub` and
//! linker/README.md). Guest code runs in the stub under PTRACE_SYSEMU; mapping
//! changes are queued per address space and applied lazily, in batches run by the
//! stub itself under PTRACE_CONT, right before the next `run_user` on it.
//!
//! What differs by host arch (register conversion, how a stub is resumed and
//! how its syscall stops look, the FP blob, umbra's allow-list) is in
//! `arch/<arch>.rs`; everything else is shared.

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm.rs")]
mod arch;
pub mod exec;
mod net;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
mod seccomp;
mod tracker;

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
use seccomp::{TrapHost, TrapStub};
/// The seccomp platform is x86_64, aarch64 and armv7 only.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
type TrapHost = ();
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
type TrapStub = ();

pub use net::NetOptions;

use crate::sys::signals::{PollFd, Wake, Waker, KICK_SIG, SI_TKILL};
use crate::sys::{self, ptrace, stub, Errno};
use ptrace::{RawRegs, WaitStatus};
use std::fmt;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use sys::raw::nr;
use tracker::Tracker;
use umbra_abi::flags::Prot;
use umbra_abi::structs::Winsize;
use umbra_core::arch::{GpRegs, UserRegs, USER_END};
use umbra_core::host::{
    ConsoleRead, ConsoleStream, FaultAccess, HostBlock, HostConsole, HostCpu, HostError,
    HostMemory, HostMisc, HostNet, HostTime, LogLevel, MapOp, MmId, Trap,
};
use umbra_core::vecmap::VecMap;

const PAGE: u64 = 4096;
/// x86_64's vsyscall page.
#[cfg(target_arch = "x86_64")]
const VSYSCALL_PAGE: u64 = 0xffff_ffff_ff60_0000;
const SIGILL: i32 = 4;
const SIGTRAP: i32 = 5;
const SIGBUS: i32 = 7;
const SIGFPE: i32 = 8;
const SIGSEGV: i32 = 11;
const SIGSYS: i32 = 31;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const SI_KERNEL: i32 = 0x80;
const SYS_MMAP: u64 = nr::MMAP as u64;
const SYS_MPROTECT: u64 = nr::MPROTECT as u64;
const SYS_MUNMAP: u64 = nr::MUNMAP as u64;
const SYS_RSEQ: u64 = nr::RSEQ as u64;
const SYS_CLONE: u64 = nr::CLONE as u64;
const SIGSTOP: i32 = 19;
const MAP_SHARED_FIXED: u64 = 0x11;

/// How to build a [`PtraceHost`].
pub struct HostOptions {
    /// Guest physical memory in bytes (a positive multiple of 4096).
    pub mem_bytes: usize,
    /// The CPU to pin umbra and every stub to; default: the one umbra runs on.
    pub cpu: Option<usize>,
    /// Block devices 0, 1, ...
    pub disks: Vec<File>,
}

/// Counters, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Stub round trips that ran a batch of mapping syscalls.
    pub batches: u64,
    /// Host mapping syscalls those batches made.
    pub batch_ops: u64,
    /// `run_user` calls.
    pub runs: u64,
    /// Syscall stops where the ABI needed PTRACE_GET_SYSCALL_INFO (x86_64
    /// only).
    pub syscall_info_calls: u64,
    /// Extra round trips through the idle trap to read or write a register a
    /// syscall stop hides (aarch64: x7; arm: r12), or to set the TLS (arm).
    pub detours: u64,
    /// Of `batches`, those that returned straight to guest code (x86_64
    /// ptrace: `run_ret_batch`), saving the stop after the batch.
    pub ret_batches: u64,
}

struct Stub {
    pid: i32,
    dead: bool,
    pending: Vec<MapOp>,
    tracker: Tracker,
    /// The stub's registers at its first idle trap (x86_64: its user segments).
    base: RawRegs,
    /// The stub's current registers when known to equal a `GpRegs` we returned or
    /// set: `run_user` skips PTRACE_SETREGS then.
    cur: Option<GpRegs>,
    /// What the arch tracks of the stub's state.
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    arch: arch::StubArch,
    /// The seccomp platform's state of this stub (`host/seccomp.rs`).
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")),
        allow(dead_code)
    )]
    trap: Option<TrapStub>,
    /// The stub may run returning batches (`run_ret_batch`): x86_64 ptrace,
    /// a stub whose only filter is the stub filter with a cookie (spawned,
    /// or forked from a template spawned, before umbra confined itself).
    ret_ok: bool,
    /// The registers `run_ret_batch` read at the stop it hands to
    /// `run_user` (x86_64 `read_stop` takes them instead of a second
    /// PTRACE_GETREGS); cleared whenever the stub is resumed.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    stop_regs: Option<RawRegs>,
}

impl Stub {
    fn new(pid: i32, base: RawRegs, arch: arch::StubArch) -> Stub {
        Stub {
            pid,
            dead: false,
            pending: Vec::new(),
            tracker: Tracker::new(),
            base,
            cur: None,
            arch,
            trap: None,
            ret_ok: false,
            stop_regs: None,
        }
    }
}

/// Whether a stub spawned now from umbra may run returning batches: on
/// x86_64, with the ptrace platform's stub filter (not the seccomp
/// platform's, whose filter traps guest calls), a cookie in it, and umbra
/// not yet confined (a stub forked from the confined umbra carries umbra's
/// filter too, which kills most guest calls made under PTRACE_CONT).
fn ret_batches_possible() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !sys::seccomp::umbra_confined()
            && !sys::trap::enabled()
            && sys::seccomp::stub_cookie() != (0, 0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Why `arch::load_regs` failed.
enum LoadError {
    /// The stub is gone.
    Dead,
    /// The host refused the registers.
    Refused(Errno),
}

/// A failed batch.
struct BatchError {
    msg: String,
    err: HostError,
}

/// The ptrace host. Single-threaded: the thread that creates it is the tracer of
/// every stub and must be the one that uses it.
pub struct PtraceHost {
    mem: sys::SharedMapping,
    memfile: sys::MemoryFile,
    mem_bytes: usize,
    cpu: usize,
    /// The spin CPU: `cpu`, or (seccomp) another one (see `new_inner`).
    /// Stubs start on `cpu`; the seccomp platform moves one here once it
    /// has run a while (host/seccomp.rs, `Place`).
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")),
        allow(dead_code)
    )]
    stub_cpu: usize,
    /// The platform was chosen by `--platform auto`'s probe.
    auto: bool,
    stubs: VecMap<u32, Stub>,
    /// The template stub new stubs are forked from (an emptied stub that never
    /// runs guest code), made at the first `mm_create`.
    template: Option<Stub>,
    /// The template could not be made: stubs are forked from umbra itself.
    no_template: bool,
    next_mm: u32,
    disks: Vec<(File, u64)>,
    stdin_eof: bool,
    /// Cleared when `wait_event` returned because stdin was readable, set again
    /// by `console_read`: unread input does not make `wait_event` spin.
    stdin_armed: bool,
    stats: HostStats,
    /// The preemption timer and the host-event flags.
    waker: Waker,
    /// umbra's pid: kicks are tgkills from it.
    my_pid: i32,
    /// This host put the terminal in raw mode and must restore it.
    raw_tty: bool,
    /// What the arch decided at start-up.
    #[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
    arch: arch::HostArch,
    /// The host's limit of mappings per process (vm.max_map_count).
    max_map_count: usize,
    /// The host sockets the policy grants (see `enable_net`).
    net: Option<net::NetState>,
    /// The seccomp platform (`--platform seccomp`), when chosen.
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")),
        allow(dead_code)
    )]
    trap: Option<TrapHost>,
    /// OCI exec's control socket (see `enable_exec`).
    exec: Option<exec::ExecCtl>,
}

/// Whether this build can grant the host network (`--net host`,
/// `--publish`, `--unix-socket`, and the OCI runtime's network and exec
/// sockets). A device build (`--no-default-features`) cannot: its uses of
/// `PtraceHost::net` are `HOST_NET &&`-gated, so the host-socket code is
/// left out of it (issue 14's ROM diet), and `enable_net` refuses a grant.
const HOST_NET: bool = cfg!(any(feature = "net-host", feature = "oci"));

/// Whether this build serves OCI exec's control socket (`enable_exec`);
/// without `oci` its code is left out as `HOST_NET`'s is.
const OCI_EXEC: bool = cfg!(feature = "oci");

/// `--platform auto`'s probe: whether the seccomp platform can run here and
/// spin (see `PtraceHost::new_auto`).
fn seccomp_pays() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
    {
        spin_arch()
            && sys::trap::host_check().is_ok()
            && !sys::seccomp::umbra_confined()
            && sys::seccomp::available()
            && sys::cpu_is_free()
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
    false
}

/// Whether the seccomp platform's handler spins on this arch (x86_64).
fn spin_arch() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
    return sys::trap::HANDLER_SPINS;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
    false
}

/// Host mappings a stub keeps for itself (code, data, batch page), with room
/// to spare.
const STUB_OWN_MAPPINGS: usize = 64;

/// The host's vm.max_map_count (65530 if it cannot be read).
fn host_max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65530)
}

fn log_line(level: LogLevel, msg: fmt::Arguments<'_>) {
    // A raw terminal has no output processing: end lines with CR LF.
    let nl = if sys::signals::tty_is_raw() {
        "\r\n"
    } else {
        "\n"
    };
    let line = match level {
        LogLevel::Trace => format!("{msg}{nl}"),
        _ => format!("umbra: {msg}{nl}"),
    };
    let _ = sys::write_all(2, line.as_bytes());
}

fn errno_to_host(e: Errno) -> HostError {
    match e {
        Errno::ENOMEM | Errno::EAGAIN => HostError::NoMemory,
        Errno::ESRCH => HostError::StubDied,
        _ => HostError::Io,
    }
}

/// Appends `op` to a queue, merging it into the last op when contiguous.
fn push_merged(q: &mut Vec<MapOp>, op: MapOp) {
    if let Some(last) = q.last_mut() {
        match (last, op) {
            (
                MapOp::Map {
                    va,
                    len,
                    phys,
                    prot,
                },
                MapOp::Map {
                    va: va2,
                    len: len2,
                    phys: phys2,
                    prot: prot2,
                },
            ) if *va + *len == va2 && *phys + *len == phys2 && *prot == prot2 => {
                *len += len2;
                return;
            }
            (MapOp::Unmap { va, len }, MapOp::Unmap { va: va2, len: len2 })
                if *va + *len == va2 =>
            {
                *len += len2;
                return;
            }
            (
                MapOp::Protect { va, len, prot },
                MapOp::Protect {
                    va: va2,
                    len: len2,
                    prot: prot2,
                },
            ) if *va + *len == va2 && *prot == prot2 => {
                *len += len2;
                return;
            }
            _ => {}
        }
    }
    q.push(op);
}

impl PtraceHost {
    /// Creates the memory file, maps it, pins umbra to a CPU and ignores SIGPIPE.
    pub fn new(opts: HostOptions) -> Result<PtraceHost, String> {
        PtraceHost::new_with(opts, false)
    }

    /// As [`PtraceHost::new`]; `force_file_memory` skips memfd_create and uses the
    /// unlinked-file fallback (for tests).
    pub fn new_with(opts: HostOptions, force_file_memory: bool) -> Result<PtraceHost, String> {
        PtraceHost::new_inner(opts, force_file_memory, false)
    }

    /// As [`PtraceHost::new`], with the seccomp platform (`--platform
    /// seccomp`, `host/seccomp.rs`): guest syscalls trap into a handler in
    /// the stub and reach umbra through shared memory, with no ptrace stop.
    /// x86_64 hosts with FSGSBASE, aarch64 and armv7 hosts; the error says
    /// why not.
    pub fn new_seccomp(opts: HostOptions) -> Result<PtraceHost, String> {
        if cfg!(not(any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            target_arch = "arm"
        ))) {
            return Err(
                "--platform seccomp is implemented for x86_64, aarch64 and armv7 hosts only; use --platform ptrace"
                    .into(),
            );
        }
        PtraceHost::new_inner(opts, false, true)
    }

    /// `--platform auto`, the default: the seccomp platform where it can run
    /// and its spin can (no `--cpu`, a second CPU free: see `new_inner`),
    /// else ptrace. With two CPUs of its own the seccomp platform halved a
    /// null syscall and open + close against ptrace (docs/BENCHMARKS.md);
    /// on one CPU it was no faster, so there ptrace stays. The probe reads
    /// the hardware capabilities, the seccomp mode, the CPU mask and
    /// /proc/loadavg (tens of microseconds); if the seccomp platform then
    /// fails to start (its template stub cannot install the filter, say),
    /// this falls back to ptrace without a message.
    pub fn new_auto(opts: HostOptions) -> Result<PtraceHost, String> {
        if opts.cpu.is_none() && opts.disks.is_empty() && seccomp_pays() {
            let again = HostOptions {
                mem_bytes: opts.mem_bytes,
                cpu: None,
                disks: Vec::new(),
            };
            if let Ok(mut h) = PtraceHost::new_inner(again, false, true) {
                h.auto = true;
                return Ok(h);
            }
        }
        let mut h = PtraceHost::new(opts)?;
        h.auto = true;
        Ok(h)
    }

    fn new_inner(
        opts: HostOptions,
        force_file_memory: bool,
        seccomp: bool,
    ) -> Result<PtraceHost, String> {
        // Whether guests can read the vDSO's counter is found out now, before
        // umbra confines itself (armv7 probes it in a forked child).
        let _ = sys::vdso::counter();
        let mem_bytes = opts.mem_bytes;
        if mem_bytes == 0 || mem_bytes & (PAGE as usize - 1) != 0 {
            return Err(format!(
                "memory size {mem_bytes} is not a positive multiple of 4096 bytes"
            ));
        }
        if mem_bytes > arch::MAX_MEM_BYTES {
            return Err(format!("memory size {mem_bytes} is too large"));
        }
        sys::ignore_sigpipe().map_err(|e| format!("cannot ignore SIGPIPE: {e}"))?;
        let cpu = match opts.cpu {
            Some(c) => c,
            None => sys::current_cpu().map_err(|e| format!("cannot find the current CPU: {e}"))?,
        };
        if !sys::cpu_allowed(cpu) {
            return Err(format!("CPU {cpu} is not available to umbra"));
        }
        // The seccomp platform, unless told a CPU, moves its busy stubs to
        // another CPU than umbra's when one is free (the host's load average
        // is below its CPUs minus one): then umbra and the running stub each
        // spin on their own CPU before they sleep (host/seccomp.rs), and a
        // hand-off costs no context switch. On a busy host the stubs stay
        // on umbra's CPU: a stub woken on a CPU of its own waited there
        // behind that CPU's other tasks (getppid 216 us instead of 20 us at
        // load 11 on 2 CPUs), and left to the scheduler they did as badly
        // on a pipe ping-pong.
        let stub_cpu = match (seccomp, opts.cpu) {
            (true, None) if spin_arch() && sys::cpu_is_free() => {
                sys::other_allowed_cpu(cpu).unwrap_or(cpu)
            }
            _ => cpu,
        };
        sys::pin_to_cpu(cpu).map_err(|e| format!("cannot pin umbra to CPU {cpu}: {e}"))?;
        let stub_bytes = mem_bytes + stub::STUB_PAGES as usize * PAGE as usize;
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
        let _ = seccomp;
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        let total = stub_bytes + if seccomp { seccomp::SLOTS_BYTES } else { 0 };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
        let total = stub_bytes;
        let memfile = sys::create_memory_file(total, force_file_memory)?;
        let mut mem = sys::SharedMapping::new(&memfile.fd, total)
            .map_err(|e| format!("cannot map the memory file ({total} bytes): {e}"))?;
        arch::check_stub_layout()?;
        let blob = stub::blob();
        if blob.len() > PAGE as usize {
            return Err("the stub blob is larger than a page".into());
        }
        mem.as_mut_slice()[mem_bytes..mem_bytes + blob.len()].copy_from_slice(blob);
        // arm: the batch code has a page of its own, after the data page.
        if let Some(b) = stub::batch_blob() {
            let at = mem_bytes + 2 * PAGE as usize;
            if b.len() > PAGE as usize {
                return Err("the stub's batch code is larger than a page".into());
            }
            mem.as_mut_slice()[at..at + b.len()].copy_from_slice(b);
        }
        let mut disks = Vec::new();
        for (i, mut f) in opts.disks.into_iter().enumerate() {
            let size = f
                .seek(SeekFrom::End(0))
                .map_err(|e| format!("cannot size disk {i}: {e}"))?;
            disks.push((f, size));
        }
        // Build the stub filter now: a bug in it fails here, not in a child.
        sys::seccomp::stub_filter()?;
        let waker = Waker::new().map_err(|e| format!("cannot create the host timer: {e}"))?;
        // The guest kernel's line discipline edits, echoes and raises signals:
        // the host terminal passes every byte through.
        let raw_tty = sys::signals::tty_enter_raw()
            .map_err(|e| format!("cannot put the terminal in raw mode: {e}"))?;
        let mut host = PtraceHost {
            mem,
            memfile,
            mem_bytes,
            cpu,
            stub_cpu,
            auto: false,
            stubs: VecMap::new(),
            template: None,
            no_template: false,
            next_mm: 1,
            disks,
            stdin_eof: false,
            stdin_armed: true,
            stats: HostStats::default(),
            waker,
            my_pid: sys::getpid(),
            raw_tty,
            arch: arch::HostArch::probe(),
            max_map_count: host_max_map_count(),
            net: None,
            trap: None,
            exec: None,
        };
        arch::after_new(&mut host);
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if seccomp {
            host.trap_init(stub_bytes)?;
        }
        // x86_64 ptrace: the template now, before umbra confines itself, so
        // that stubs carry only the stub filter and may run returning
        // batches (`run_ret_batch`). If it fails, `new_stub` tries again.
        #[cfg(target_arch = "x86_64")]
        if !seccomp && ret_batches_possible() {
            if let Ok(t) = host.spawn_stub() {
                host.template = Some(t);
            }
        }
        Ok(host)
    }

    /// Confines umbra: installs a seccomp filter (on every thread) that allows
    /// only the host syscalls umbra uses after start-up, with argument checks
    /// (see [`confinement_rules`] and SECURITY.md); any other syscall kills
    /// umbra (SIGSYS). Call it once the host is built, before the guest runs.
    /// Irreversible. Stubs forked afterwards inherit the filter on top of their
    /// own.
    pub fn confine(&self) -> Result<(), String> {
        self.confine_with(self.allowed_rules())
    }

    /// [`confine`](Self::confine), also allowing what hostfs needs
    /// (`sys::hostdir`, only when a host directory is granted): lookups
    /// beneath its fds and reads, and with `write` the write-through calls.
    pub fn confine_hostfs(&self, write: bool) -> Result<(), String> {
        let (ro, rw) = sys::hostdir::syscalls();
        let mut rules = self.allowed_rules();
        rules.extend(ro.into_iter().map(sys::seccomp::Rule::Any));
        if write {
            rules.extend(rw.into_iter().map(sys::seccomp::Rule::Any));
        }
        self.confine_with(rules)
    }

    fn confine_with(&self, rules: Vec<sys::seccomp::Rule>) -> Result<(), String> {
        #[cfg(debug_assertions)]
        let forbidden = std::env::var_os("UMBRA_TEST_FORBIDDEN_SYSCALL").is_some();
        let prog = sys::seccomp::umbra_filter(&rules)?;
        sys::seccomp::set_no_new_privs().map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {e}"))?;
        sys::seccomp::install(&prog, true)
            .map_err(|e| format!("cannot install umbra's seccomp filter: {e}"))?;
        // Test hook (debug builds only): prove a forbidden syscall is fatal.
        #[cfg(debug_assertions)]
        if forbidden {
            sys::forbidden_syscall_for_tests();
        }
        Ok(())
    }

    /// Grants the guest the host network `opts` describes: opens the
    /// `--publish` listeners now and adds the socket calls each mode needs to
    /// umbra's allow-list (`confine`). Call it before `confine`. With nothing
    /// granted (`--net none`) it does nothing and the allow-list stays as
    /// [`confinement_rules`] has it.
    pub fn enable_net(&mut self, opts: NetOptions) -> Result<(), String> {
        if sys::seccomp::umbra_confined() {
            return Err("enable_net after confine".into());
        }
        if !HOST_NET && opts.any() {
            return Err("this build of umbra has no host network".into());
        }
        self.net = if HOST_NET && opts.any() {
            Some(net::NetState::new(opts)?)
        } else {
            None
        };
        Ok(())
    }

    /// OCI mode in the container's own network namespace: a guest TCP
    /// listener on every address gets a host listener on its port there
    /// (see `net::NetState::allow_export`). Call it after `enable_net` (with
    /// outbound granted) and before `confine`.
    pub fn export_listeners(&mut self) -> Result<(), String> {
        if sys::seccomp::umbra_confined() {
            return Err("export_listeners after confine".into());
        }
        match &mut self.net {
            Some(n) => {
                n.allow_export();
                Ok(())
            }
            None => Err("export_listeners without a host network".into()),
        }
    }

    /// OCI mode: serve `umbra exec` requests on the listening socket
    /// `listener` (see [`exec`]). Call it before `confine`; the allow-list
    /// grows by accept4, recvmsg (for the stdio sockets the request brings)
    /// and the calls on those sockets.
    pub fn enable_exec(&mut self, listener: std::os::fd::OwnedFd) -> Result<(), String> {
        if sys::seccomp::umbra_confined() {
            return Err("enable_exec after confine".into());
        }
        if !OCI_EXEC {
            return Err("this build of umbra has no OCI runtime".into());
        }
        if self.net.is_none() {
            self.net = Some(net::NetState::new(NetOptions::default())?);
        }
        self.exec = Some(exec::ExecCtl::new(listener));
        Ok(())
    }

    /// A host event (SIGWINCH) stopped the guest: in OCI mode, takes what
    /// the control socket holds now (`umbra kill`, `pause` and `exec` send
    /// SIGWINCH after their request, so that a guest that never idles
    /// cannot keep them waiting), then reports the event.
    fn host_event(&mut self) -> Trap {
        if let (true, Some(e), Some(n)) = (OCI_EXEC, &mut self.exec, &mut self.net) {
            let mut fds = Vec::new();
            e.poll_set(&mut fds);
            if let Ok(Wake::Ready(_)) = self.waker.wait_fds(&mut fds, Some(0)) {
                e.ready(&fds, n);
            }
        }
        Trap::HostEvent
    }

    /// The allow-list `confine` installs: [`confinement_rules`] plus the
    /// socket calls of the granted network modes.
    pub fn allowed_rules(&self) -> Vec<sys::seccomp::Rule> {
        let mut rules = confinement_rules();
        if let (true, Some(n)) = (HOST_NET, &self.net) {
            rules.extend(n.rules());
        }
        if OCI_EXEC && self.exec.is_some() {
            rules.push(sys::seccomp::Rule::Any(sys::oci::NR_RECVMSG));
        }
        rules
    }

    /// The host pid of the stub behind `mm`.
    pub fn stub_pid(&self, mm: MmId) -> Option<i32> {
        self.stubs.get(&mm.0).filter(|s| !s.dead).map(|s| s.pid)
    }

    /// Whether the preemption timer is armed and its expiry not yet reported.
    pub fn timer_armed(&self) -> bool {
        self.waker.armed()
    }

    /// `--stats`: the platform, and (seccomp) how its spins went.
    pub fn platform_line(&self) -> String {
        let how = if self.auto { " (auto)" } else { "" };
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if let Some(l) = self.trap_stats_line() {
            return format!("seccomp{how}; {l}");
        }
        format!("ptrace{how}")
    }

    /// The CPU umbra is pinned to (and its stubs, but for the seccomp
    /// platform when a second CPU is free).
    pub fn cpu(&self) -> usize {
        self.cpu
    }

    /// How the memory file was made (memfd or an unlinked file).
    pub fn memory_file_kind(&self) -> &str {
        &self.memfile.kind
    }

    /// Counters since creation.
    pub fn stats(&self) -> HostStats {
        self.stats
    }

    /// Polls of host sockets answered from what umbra knew, with no host
    /// call (`--stats`); None without a host network.
    pub fn net_polls_known(&self) -> Option<u64> {
        match (HOST_NET, &self.net) {
            (true, Some(n)) => Some(n.polls_known),
            _ => None,
        }
    }

    /// Applies the mapping ops queued for `mm` now (normally `run_user` does).
    pub fn mm_flush(&mut self, mm: MmId) -> Result<(), HostError> {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if let Some(r) = self.trap_flush(mm) {
            return r;
        }
        let data_off = self.mem_bytes + PAGE as usize;
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Err(HostError::StubDied);
        };
        if st.dead {
            return Err(HostError::StubDied);
        }
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + PAGE as usize];
        match flush(data, st, &mut self.stats) {
            Ok(()) => Ok(()),
            Err(e) => {
                log_line(
                    LogLevel::Error,
                    format_args!("mapping update of stub {} failed: {}", st.pid, e.msg),
                );
                // The stub's address space is now unknown: it must never run again.
                sys::ptrace::kill_and_reap(st.pid);
                st.dead = true;
                Err(e.err)
            }
        }
    }

    /// A new, empty stub: forked from the template stub (cheap: the template's
    /// address space is two pages), or, if no template can be made, from umbra.
    fn new_stub(&mut self) -> Result<Stub, String> {
        if self.trap.is_some() && self.template.is_none() && sys::seccomp::umbra_confined() {
            // A template (or stub) forked from the confined umbra would carry
            // umbra's filter, which kills the syscalls the seccomp platform
            // traps: the template made before confinement is gone.
            return Err("seccomp platform: the template stub is gone".into());
        }
        if !self.no_template {
            if self.template.is_none() {
                match self.spawn_stub() {
                    Ok(t) => self.template = Some(t),
                    Err(msg) => {
                        log_line(
                            LogLevel::Warn,
                            format_args!("no template stub ({msg}); forking stubs from umbra"),
                        );
                        self.no_template = true;
                    }
                }
            }
            if self.template.is_some() {
                match self.fork_template() {
                    Ok(st) => return Ok(st),
                    Err((msg, true)) => {
                        // The template is gone: make a new one next time.
                        if let Some(t) = self.template.take() {
                            ptrace::kill_and_reap(t.pid);
                        }
                        return Err(msg);
                    }
                    Err((msg, false)) => return Err(msg),
                }
            }
        }
        if self.trap.is_some() && sys::seccomp::umbra_confined() {
            // A stub forked from the confined umbra would carry umbra's
            // filter, which kills the syscalls the seccomp platform traps.
            return Err("seccomp platform: no template stub to fork from".into());
        }
        self.spawn_stub()
    }

    /// Forks a stub from umbra and empties it (the slow path: umbra's address
    /// space is copied, then unmapped in the child).
    fn spawn_stub(&mut self) -> Result<Stub, String> {
        let cfg = stub::SpawnConfig {
            memfd: self.memfile.fd.as_raw_fd(),
            code_off: self.mem_bytes as u64,
            data_off: self.mem_bytes as u64 + PAGE,
            // The seccomp platform's stubs start on umbra's CPU too, and
            // move to `stub_cpu` only once they have run a while
            // (host/seccomp.rs, `Place`): setting one up takes ptrace stops,
            // which cost a cross-CPU wake-up each on another CPU.
            cpu: Some(self.cpu),
        };
        let ret_ok = ret_batches_possible();
        let pid = stub::spawn(&cfg).map_err(|e| format!("cannot fork a stub: {e}"))?;
        let mut st = Stub::new(
            pid,
            RawRegs::default(),
            arch::StubArch::new(&self.arch, None),
        );
        st.ret_ok = ret_ok;
        let r = self.setup_stub(&mut st);
        if r.is_err() {
            ptrace::kill_and_reap(pid);
        }
        r.map(|_| st)
    }

    /// The template stub runs one `clone(CLONE_PARENT | CLONE_PTRACE | SIGCHLD)`
    /// batch: the child is umbra's child (umbra reaps it), traced by umbra from
    /// birth (the template's ptrace options, EXITKILL included, are inherited),
    /// with the template's empty address space, fds, signal state, CPU pinning,
    /// session and seccomp filters. It starts in a SIGSTOP stop, which the next
    /// PTRACE_CONT/SYSEMU (signal 0) discards. The error says whether the
    /// template itself is broken.
    fn fork_template(&mut self) -> Result<Stub, (String, bool)> {
        let data_off = self.mem_bytes + PAGE as usize;
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + PAGE as usize];
        let t = self.template.as_mut().expect("a template stub");
        let ops = [[SYS_CLONE, stub::STUB_CLONE_FLAGS, 0, 0, 0, 0, 0]];
        let pid = match run_batch(data, t, &ops, &mut self.stats) {
            Ok(rax) => rax as i32,
            Err(e) => {
                let broken = !matches!(e.err, HostError::NoMemory);
                return Err((format!("template stub: {}", e.msg), broken));
            }
        };
        let fail = |msg: String| {
            ptrace::kill_and_reap(pid);
            Err((msg, false))
        };
        loop {
            match ptrace::wait(pid) {
                Ok(WaitStatus::Stopped { sig: SIGSTOP, .. }) => break,
                Ok(WaitStatus::Stopped { .. }) => {
                    if let Err(e) = ptrace::cont(pid, 0) {
                        return fail(format!("resuming new stub {pid}: {e}"));
                    }
                }
                Ok(_) => return fail(format!("new stub {pid} died at birth")),
                Err(e) => return fail(format!("waiting for new stub {pid}: {e}")),
            }
        }
        let base = self.template.as_ref().map(|t| t.base).unwrap_or_default();
        let sa = arch::StubArch::new(&self.arch, self.template.as_ref().map(|t| &t.arch));
        let mut st = Stub::new(pid, base, sa);
        st.ret_ok = self.template.as_ref().is_some_and(|t| t.ret_ok);
        Ok(st)
    }

    fn setup_stub(&mut self, st: &mut Stub) -> Result<(), String> {
        let pid = st.pid;
        loop {
            match ptrace::wait(pid).map_err(|e| format!("waiting for stub {pid}: {e}"))? {
                WaitStatus::Stopped { sig: SIGTRAP, .. } => break,
                WaitStatus::Stopped { .. } => {
                    ptrace::cont(pid, 0).map_err(|e| format!("resuming stub {pid}: {e}"))?
                }
                WaitStatus::Exited(c) => {
                    return Err(format!(
                        "stub {pid} setup failed at step {c}: {}",
                        stub::setup_step_name(c)
                    ))
                }
                WaitStatus::Signaled(s) => {
                    return Err(format!("stub {pid} was killed by signal {s} during setup"))
                }
            }
        }
        ptrace::set_options(pid, arch::PTRACE_OPTIONS)
            .map_err(|e| format!("PTRACE_SETOPTIONS on stub {pid}: {e}"))?;
        let r = ptrace::get_regs(pid)
            .map_err(|e| format!("reading the registers of stub {pid}: {e}"))?;
        if arch::pc(&r) != stub::idle_stop_pc() {
            return Err(format!(
                "stub {pid} trapped at {:#x}, not at its idle trap",
                arch::pc(&r)
            ));
        }
        st.base = r;
        let mut ops: Vec<[u64; 7]> = Vec::new();
        // A forked child keeps the parent thread's rseq registration; its area is
        // about to be unmapped, and the kernel would then kill the stub with
        // SIGSEGV at its next preemption. Unregister it first.
        if let Ok(c) = ptrace::rseq_config(pid) {
            if c.pointer != 0 {
                ops.push([
                    SYS_RSEQ,
                    c.pointer,
                    c.size as u64,
                    1,
                    c.signature as u64,
                    0,
                    0,
                ]);
            }
        }
        ops.push([SYS_MUNMAP, 0, stub::STUB_BASE, 0, 0, 0, 0]);
        ops.push([
            SYS_MUNMAP,
            stub::STUB_END,
            stub::TASK_TOP - stub::STUB_END,
            0,
            0,
            0,
            0,
        ]);
        let data_off = self.mem_bytes + PAGE as usize;
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + PAGE as usize];
        run_batch(data, st, &ops, &mut self.stats)
            .map(|_| ())
            .map_err(|e| format!("emptying stub {pid}: {}", e.msg))
    }
}

/// The host syscalls umbra may make once confined ([`PtraceHost::confine`]).
/// Calls from the stub code page (the mapping batches of stubs, which inherit
/// the filter) are allowed separately: mmap (memory file, MAP_SHARED|MAP_FIXED),
/// munmap, mprotect, rseq unregister.
pub fn confinement_rules() -> Vec<sys::seccomp::Rule> {
    use sys::seccomp::Rule::{self, *};
    let any = [
        // I/O on umbra's own fds: the console, disk images, the memory file.
        nr::READ,
        nr::WRITE,
        nr::PREAD64,
        nr::PWRITE64,
        nr::PREADV,
        nr::PWRITEV,
        nr::FSYNC,
        nr::FDATASYNC,
        nr::CLOSE,
        nr::PPOLL,
        // Memory of umbra's allocator.
        nr::MUNMAP,
        nr::BRK,
        nr::MREMAP,
        nr::MADVISE,
        // Signals, the preemption timer, clocks.
        nr::RT_SIGACTION,
        nr::RT_SIGPROCMASK,
        nr::RT_SIGRETURN,
        nr::SIGALTSTACK,
        nr::RESTART_SYSCALL,
        nr::TIMER_SETTIME,
        nr::TIMER_GETTIME,
        nr::TIMER_DELETE,
        nr::CLOCK_GETTIME,
        nr::CLOCK_NANOSLEEP,
        // Hands the CPU to a stub's trap handler on its way to sleep.
        nr::SCHED_YIELD,
        nr::GETRANDOM,
        nr::FUTEX,
        nr::GETPID,
        nr::GETTID,
        // Stubs: wait, and the child's set-up before its own filter.
        nr::WAIT4,
        nr::GETPPID,
        nr::SETSID,
        nr::SCHED_SETAFFINITY,
        nr::CLOSE_RANGE,
        nr::EXIT,
        nr::EXIT_GROUP,
    ];
    // poll, fork and dup2 where the arch has them, and the like.
    let any = any.iter().chain(arch::CONFINE_ANY);
    let mut rules: Vec<Rule> = any.map(|&n| Any(n)).collect();
    rules.push(ArgIn {
        nr: nr::PTRACE,
        arg: 0,
        // See arch::PTRACE_REQUESTS. No ATTACH/SEIZE, no PEEK/POKE.
        vals: arch::PTRACE_REQUESTS,
        hi0: true,
    });
    rules.extend(arch::confine_rules());
    rules.extend([
        ArgIn {
            nr: nr::IOCTL,
            arg: 1,
            vals: &[0x5401, 0x5402, 0x5413], // TCGETS, TCSETS, TIOCGWINSZ
            hi0: false,
        },
        ArgIn {
            nr: nr::FCNTL,
            arg: 1,
            vals: &[1], // F_GETFD: std's debug check when an OwnedFd is closed
            hi0: false,
        },
        ArgIn {
            nr: nr::PRCTL,
            arg: 0,
            vals: &[1, 38], // PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS (stub child)
            hi0: true,
        },
        ArgIn {
            nr: nr::SECCOMP,
            arg: 0,
            vals: &[1], // SECCOMP_SET_MODE_FILTER: only ever narrows (stub child)
            hi0: true,
        },
        Signal {
            nr: nr::KILL,
            pid_arg: 0,
            sig_arg: 1,
            // SIGKILL to a stub; SIGSTOP and SIGCONT to hold one that
            // blocks the kick (the seccomp platform, `trap_hold`)
            sigs: &[9, 19, 18],
        },
        Signal {
            nr: nr::TGKILL,
            pid_arg: 0,
            sig_arg: 2,
            // the kick (SIGALRM); abort; re-raising the signal that ended
            // the guest's init (OCI: the supervisor dies of it)
            sigs: sys::oci::DEADLY,
        },
        NoExec {
            nr: nr::MMAP,
            stub_code: true,
        },
        NoExec {
            nr: nr::MPROTECT,
            stub_code: false,
        },
    ]);
    rules
}

/// Compiles the queued ops of `st` into host syscalls and runs them in the stub.
fn flush(data: &mut [u8], st: &mut Stub, stats: &mut HostStats) -> Result<(), BatchError> {
    let ops = compile_ops(st);
    run_batch(data, st, &ops, stats).map(|_| ())
}

/// Takes the queued ops of `st`, compiled into host syscalls (the tracker
/// follows them).
fn compile_ops(st: &mut Stub) -> Vec<[u64; 7]> {
    let pending = std::mem::take(&mut st.pending);
    let mut ops: Vec<[u64; 7]> = Vec::with_capacity(pending.len());
    for op in pending {
        match op {
            MapOp::Map {
                va,
                len,
                phys,
                prot,
            } => {
                let p = (prot & (Prot::READ | Prot::WRITE | Prot::EXEC)).bits() as u64;
                ops.push([
                    SYS_MMAP,
                    va,
                    len,
                    p,
                    MAP_SHARED_FIXED,
                    stub::STUB_MEMFD as u64,
                    arch::mmap_offset(phys),
                ]);
                st.tracker.map(va, len, phys, p as u32);
            }
            MapOp::Unmap { va, len } => {
                ops.push([SYS_MUNMAP, va, len, 0, 0, 0, 0]);
                st.tracker.unmap(va, len);
            }
            MapOp::Protect { va, len, prot } => {
                let p = (prot & (Prot::READ | Prot::WRITE | Prot::EXEC)).bits() as u64;
                for (s, e) in st.tracker.protect(va, len, p as u32) {
                    ops.push([SYS_MPROTECT, s, e - s, p, 0, 0, 0]);
                }
            }
        }
    }
    arch::flush_ops(st, &mut ops);
    ops
}

fn op_name(op: &[u64; 7]) -> String {
    match op[0] {
        SYS_MMAP => format!(
            "mmap({:#x}, {:#x}, prot {}, phys {:#x})",
            op[1], op[2], op[3], op[6]
        ),
        SYS_MUNMAP => format!("munmap({:#x}, {:#x})", op[1], op[2]),
        SYS_MPROTECT => format!("mprotect({:#x}, {:#x}, {})", op[1], op[2], op[3]),
        n => format!("syscall {n}({:#x}, {:#x}, ...)", op[1], op[2]),
    }
}

/// Runs host syscalls in the stub: one PTRACE_CONT round trip per data page.
/// Returns the result of the last call.
fn run_batch(
    data: &mut [u8],
    st: &mut Stub,
    ops: &[[u64; 7]],
    stats: &mut HostStats,
) -> Result<u64, BatchError> {
    let pid = st.pid;
    let died = |st: &mut Stub, what: &str| {
        st.dead = true;
        BatchError {
            msg: format!("stub {pid} died {what}"),
            err: HostError::StubDied,
        }
    };
    let mut last = 0;
    for chunk in ops.chunks(stub::BATCH_MAX) {
        data[..8].copy_from_slice(&(chunk.len() as u64).to_le_bytes());
        for (i, op) in chunk.iter().enumerate() {
            let at = 8 + i * stub::BATCH_RECORD;
            for (j, w) in op.iter().enumerate() {
                data[at + 8 * j..at + 8 * j + 8].copy_from_slice(&w.to_le_bytes());
            }
        }
        let used = 8 + chunk.len() * stub::BATCH_RECORD;
        arch::batch_prepare(data);
        st.cur = None;
        st.stop_regs = None;
        let io = |e: Errno, what: &str| BatchError {
            msg: format!("{what} on stub {pid}: {e}"),
            err: errno_to_host(e),
        };
        arch::batch_enter(st).map_err(|(e, what)| io(e, what))?;
        ptrace::cont(pid, 0).map_err(|e| io(e, "PTRACE_CONT"))?;
        stats.batches += 1;
        let g = loop {
            match ptrace::wait(pid) {
                Ok(WaitStatus::Stopped { sig, event: 0 })
                    if matches!(sig, SIGTRAP | SIGSEGV | SIGBUS | SIGILL | SIGFPE) =>
                {
                    if sig == SIGTRAP {
                        if let Some(g) = arch::batch_trap(pid).map_err(|(e, what)| io(e, what))? {
                            break g;
                        }
                    }
                    let info = ptrace::get_siginfo(pid).map_err(|e| io(e, "PTRACE_GETSIGINFO"))?;
                    if info.code > 0 {
                        data[..used].fill(0);
                        arch::batch_clear(data);
                        return Err(BatchError {
                            msg: format!(
                                "stub {pid} faulted (signal {}, code {}, addr {:#x}) in a batch",
                                info.signo, info.code, info.addr
                            ),
                            err: HostError::Io,
                        });
                    }
                    // Sent from outside: suppressed.
                    ptrace::cont(pid, 0).map_err(|e| io(e, "PTRACE_CONT"))?;
                }
                // Any other signal (sent from outside) is suppressed.
                Ok(WaitStatus::Stopped { .. }) => {
                    ptrace::cont(pid, 0).map_err(|e| io(e, "PTRACE_CONT"))?
                }
                Ok(WaitStatus::Exited(_)) | Ok(WaitStatus::Signaled(_)) => {
                    return Err(died(st, "in a batch"))
                }
                Err(e) => return Err(io(e, "wait4")),
            }
        };
        data[..used].fill(0);
        arch::batch_clear(data);
        let (done, ret) = arch::batch_done(st, &g);
        let done = (done as usize).min(chunk.len());
        stats.batch_ops += (done + usize::from(done < chunk.len())) as u64;
        if done < chunk.len() {
            let e = Errno((ret as i64).unsigned_abs().min(4095) as i32);
            return Err(BatchError {
                msg: format!("{} failed: {e}", op_name(&chunk[done])),
                err: errno_to_host(e),
            });
        }
        last = ret;
    }
    Ok(last)
}

impl Drop for PtraceHost {
    fn drop(&mut self) {
        for st in self.stubs.values_mut() {
            if !st.dead {
                ptrace::kill_and_reap(st.pid);
                st.dead = true;
            }
        }
        if let Some(t) = self.template.take() {
            ptrace::kill_and_reap(t.pid);
        }
        if self.raw_tty {
            self.raw_tty = false;
            sys::signals::tty_leave_raw();
        }
    }
}

impl HostMemory for PtraceHost {
    fn physmem(&self) -> &[u8] {
        &self.mem.as_slice()[..self.mem_bytes]
    }

    fn physmem_mut(&mut self) -> &mut [u8] {
        let n = self.mem_bytes;
        &mut self.mem.as_mut_slice()[..n]
    }

    fn mm_create(&mut self) -> Result<MmId, HostError> {
        #[cfg_attr(
            not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")),
            allow(unused_mut)
        )]
        let mut st = match self.new_stub() {
            Ok(st) => st,
            Err(msg) => {
                log_line(LogLevel::Error, format_args!("{msg}"));
                return Err(HostError::NoMemory);
            }
        };
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if let Err(msg) = self.trap_adopt(&mut st) {
            log_line(LogLevel::Error, format_args!("{msg}"));
            ptrace::kill_and_reap(st.pid);
            return Err(HostError::NoMemory);
        }
        let id = self.next_mm;
        self.next_mm = self.next_mm.wrapping_add(1).max(1);
        self.stubs.insert(id, st);
        Ok(MmId(id))
    }

    fn mm_destroy(&mut self, mm: MmId) {
        if let Some(st) = self.stubs.remove(&mm.0) {
            if !st.dead {
                ptrace::kill_and_reap(st.pid);
            }
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
            self.trap_release(&st);
        }
    }

    fn mm_near_map_limit(&self, mm: MmId, more_ops: usize) -> bool {
        let Some(st) = self.stubs.get(&mm.0) else {
            return false;
        };
        // Each queued op adds at most two host mappings (splits at both ends).
        let bound = st.tracker.regions() + 2 * (st.pending.len() + more_ops) + STUB_OWN_MAPPINGS;
        bound >= self.max_map_count
    }

    fn mm_apply(&mut self, mm: MmId, ops: &[MapOp]) -> Result<(), HostError> {
        let mem_bytes = self.mem_bytes as u64;
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Err(HostError::StubDied);
        };
        if st.dead {
            return Err(HostError::StubDied);
        }
        let range_ok = |va: u64, len: u64| {
            (va | len) & (PAGE - 1) == 0 && va.checked_add(len).is_some_and(|e| e <= USER_END)
        };
        // Validate the whole batch first: none of it is queued if any op is bad.
        for op in ops {
            let ok = match *op {
                MapOp::Map { va, len, phys, .. } => {
                    range_ok(va, len)
                        && phys & (PAGE - 1) == 0
                        && phys.checked_add(len).is_some_and(|e| e <= mem_bytes)
                }
                MapOp::Unmap { va, len } | MapOp::Protect { va, len, .. } => range_ok(va, len),
            };
            if !ok {
                log_line(LogLevel::Error, format_args!("invalid mapping op {op:?}"));
                return Err(HostError::OutOfRange);
            }
        }
        for op in ops {
            let len = match *op {
                MapOp::Map { len, .. } | MapOp::Unmap { len, .. } | MapOp::Protect { len, .. } => {
                    len
                }
            };
            if len != 0 {
                push_merged(&mut st.pending, *op);
            }
        }
        if st.pending.len() >= stub::BATCH_MAX {
            return self.mm_flush(mm);
        }
        Ok(())
    }
}

impl PtraceHost {
    /// What a SEGV_ACCERR fault at `addr` was, from the host protection there.
    fn fault_access(&self, st: &Stub, code: i32, addr: u64, pc: u64) -> FaultAccess {
        if code != SEGV_ACCERR {
            return FaultAccess::Unknown;
        }
        let Some((_, prot)) = st.tracker.lookup(addr) else {
            return FaultAccess::Unknown;
        };
        match prot & 7 {
            // r-x: only a write faults.
            5 => FaultAccess::Write,
            // rw-: only an instruction fetch faults.
            3 => FaultAccess::Exec,
            // r--: a write, unless the address may be the instruction being fetched.
            1 if !(pc..pc.saturating_add(arch::MAX_INSN_LEN)).contains(&addr) => FaultAccess::Write,
            _ => FaultAccess::Unknown,
        }
    }

    fn mark_dead(&mut self, mm: u32) -> Trap {
        if let Some(st) = self.stubs.get_mut(&mm) {
            if !st.dead {
                // Reap it if it is gone; kill it if it is somehow still there.
                ptrace::kill_and_reap(st.pid);
                st.dead = true;
            }
        }
        Trap::StubDied
    }
}

/// The host error for a failed register request on a stub: ESRCH means the
/// stub is gone; anything else (EINVAL: reserved MXCSR bits set, ...) is Io.
pub(super) fn regs_error(e: Errno) -> HostError {
    if e == Errno::ESRCH {
        HostError::StubDied
    } else {
        HostError::Io
    }
}

impl HostCpu for PtraceHost {
    fn vdso_text(&self) -> Option<&'static [u8]> {
        sys::vdso::text()
    }

    fn fpstate_get(&mut self, mm: MmId, buf: &mut [u8]) -> Result<usize, HostError> {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if let Some(r) = self.trap_fp_get(mm, buf) {
            return r;
        }
        let pid = self.stub_pid(mm).ok_or(HostError::StubDied)?;
        if buf.len() < arch::FP_BLOB_SIZE {
            return Err(HostError::OutOfRange);
        }
        arch::fpstate_get(pid, buf)
    }

    fn fpstate_set(&mut self, mm: MmId, buf: &[u8]) -> Result<(), HostError> {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if let Some(r) = self.trap_fp_set(mm, buf) {
            return r;
        }
        let pid = self.stub_pid(mm).ok_or(HostError::StubDied)?;
        if buf.len() < arch::FP_BLOB_SIZE {
            return Err(HostError::OutOfRange);
        }
        arch::fpstate_set(pid, buf)
    }

    fn xstate_save(&mut self, mm: MmId, buf: &mut Vec<u8>) -> Result<(), HostError> {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if let Some(r) = self.trap_xstate_save(mm, buf) {
            return r;
        }
        let pid = self.stub_pid(mm).ok_or(HostError::StubDied)?;
        arch::xstate_get(pid, buf)
    }

    fn xstate_load(&mut self, mm: MmId, buf: &[u8]) -> Result<(), HostError> {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if let Some(r) = self.trap_xstate_load(mm, buf) {
            return r;
        }
        let pid = self.stub_pid(mm).ok_or(HostError::StubDied)?;
        arch::xstate_set(pid, buf)
    }

    #[cfg(target_arch = "x86_64")]
    fn xstate_switch(&mut self, mm: MmId, held: &[u8], buf: &[u8]) -> Result<(), HostError> {
        if let Some(r) = self.trap_xstate_load(mm, buf) {
            return r;
        }
        let pid = self.stub_pid(mm).ok_or(HostError::StubDied)?;
        arch::xstate_set_over(pid, held, buf)
    }

    fn thread_switch_out(
        &mut self,
        mm: MmId,
        regs: &mut UserRegs,
        fp: &mut Vec<u8>,
    ) -> Result<(), HostError> {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if let Some(r) = self.trap_xstate_save(mm, fp) {
            return r;
        }
        let st = self.stubs.get_mut(&mm.0).ok_or(HostError::StubDied)?;
        arch::complete_regs(st, &mut regs.gp, &mut self.stats).map_err(regs_error)?;
        let pid = st.pid;
        arch::xstate_get(pid, fp)
    }

    fn run_user(&mut self, mm: MmId, regs: &mut UserRegs) -> Trap {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
        if self.trap.is_some() {
            return self.trap_run_user(mm, regs);
        }
        self.stats.runs += 1;
        // The timer expired, or SIGWINCH came, while the kernel was busy.
        if self.waker.take_fired() {
            return Trap::Timer;
        }
        if self.waker.take_event() {
            return self.host_event();
        }
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Trap::StubDied;
        };
        if st.dead {
            return Trap::StubDied;
        }
        arch::will_run(st, &regs.gp);
        // x86_64: the queued ops and the guest's registers in one round
        // trip (`run_ret_batch`), the registers loaded there.
        #[cfg(target_arch = "x86_64")]
        let ret = PtraceHost::ret_batch_fits(st, &regs.gp);
        #[cfg(not(target_arch = "x86_64"))]
        let ret = false;
        if !ret && !st.pending.is_empty() && self.mm_flush(mm).is_err() {
            return Trap::StubDied;
        }
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Trap::StubDied;
        };
        let pid = st.pid;
        if !ret && st.cur.as_ref() != Some(&regs.gp) {
            let known = st.cur.take();
            // x86_64: a syscall's return value alone is cheaper to write.
            #[cfg(target_arch = "x86_64")]
            let quick = known
                .as_ref()
                .and_then(|k| arch::load_changed(st, k, &regs.gp));
            #[cfg(not(target_arch = "x86_64"))]
            let quick: Option<Result<(), LoadError>> = {
                let _ = known;
                None
            };
            let data_off = self.mem_bytes + PAGE as usize;
            let data = &mut self.mem.as_mut_slice()[data_off..data_off + PAGE as usize];
            let loaded = match quick {
                Some(r) => r,
                None => arch::load_regs(st, &regs.gp, &mut self.stats, data),
            };
            match loaded {
                Ok(()) => {}
                Err(LoadError::Dead) => return self.mark_dead(mm.0),
                Err(LoadError::Refused(e)) => {
                    // Registers the host refuses (x86_64: a non-canonical FS
                    // base, bad segments; arm: an invalid pstate/cpsr): the guest
                    // gets what a CPU fault would give.
                    log_line(
                        LogLevel::Warn,
                        format_args!("{} refused guest registers: {e}", arch::SETREGS),
                    );
                    return Trap::Exception {
                        sig: SIGSEGV as u32,
                        code: SI_KERNEL,
                        addr: 0,
                    };
                }
            }
        }
        st.cur = None;
        // From here until the stop, the timer and SIGWINCH handlers kick `pid`;
        // one that came since the check above is taken now.
        if !self.waker.start_running(pid) {
            if self.waker.take_fired() {
                return Trap::Timer;
            }
            let _ = self.waker.take_event();
            return self.host_event();
        }
        let mut first = None;
        #[cfg(target_arch = "x86_64")]
        if ret {
            match self.run_ret_batch(mm, &regs.gp) {
                arch::RetEnd::Stop(s) => first = Some(s),
                arch::RetEnd::Resumed => {}
                arch::RetEnd::Trap(t) => return t,
            }
        }
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Trap::StubDied;
        };
        if !ret {
            if let Err(e) = arch::resume(st) {
                self.waker.set_running(0);
                arch::resume_failed(e);
                return self.mark_dead(mm.0);
            }
        }
        let (sig, event, info) = loop {
            let stop = first.take().unwrap_or_else(|| ptrace::wait(pid));
            self.waker.set_running(0);
            let (sig, event) = match stop {
                Ok(WaitStatus::Stopped { sig, event }) => (sig, event),
                Ok(_) => {
                    st.dead = true;
                    return Trap::StubDied;
                }
                Err(_) => return self.mark_dead(mm.0),
            };
            if arch::pass_stop(st, sig, event) {
                // A stop the arch goes through without a look (arm: the exit
                // stop of a skipped syscall).
                if !self.waker.start_running(pid) {
                    // The timer fired or a host event came meanwhile: report
                    // it from this stop.
                    break (0, 0, None);
                }
                if arch::resume(st).is_err() {
                    self.waker.set_running(0);
                    return self.mark_dead(mm.0);
                }
                continue;
            }
            let mut info = None;
            if matches!(
                sig,
                SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP | SIGSYS | KICK_SIG
            ) && event == 0
            {
                match ptrace::get_siginfo(pid) {
                    Ok(i) => info = Some(i),
                    Err(_) => return self.mark_dead(mm.0),
                }
            }
            let kick = info
                .is_some_and(|i| i.signo == KICK_SIG && i.code == SI_TKILL && i.pid == self.my_pid);
            if kick && self.waker.start_running(pid) {
                // A kick that arrived after the stop it was meant to cause
                // (the stub had already trapped), with nothing pending now:
                // suppress it and go on.
                if arch::resume(st).is_err() {
                    self.waker.set_running(0);
                    return self.mark_dead(mm.0);
                }
                continue;
            }
            break (sig, event, info);
        };
        let syscall = arch::is_syscall_stop(st, sig, event);
        let (gp, g, cur_valid) = match arch::read_stop(st, syscall, &mut self.stats) {
            Ok(r) => r,
            Err(_) => return self.mark_dead(mm.0),
        };
        regs.gp = gp;
        st.cur = cur_valid.then_some(gp);
        #[cfg(target_arch = "x86_64")]
        if event == ptrace::EVENT_SECCOMP {
            // The stub sits in the guest's call, which the next resume must
            // skip: only a full load (orig_rax -1) does that.
            st.cur = None;
        }
        if syscall {
            return Trap::Syscall {
                abi: self.syscall_abi(mm.0, &g),
            };
        }
        let Some(info) = info.filter(|i| i.code > 0) else {
            // Sent by a process (our kick, or kill, tgkill, sigqueue from
            // outside), not raised by the CPU: the signal is suppressed.
            if self.waker.take_fired() {
                return Trap::Timer;
            }
            let _ = self.waker.take_event();
            return self.host_event();
        };
        #[cfg(target_arch = "x86_64")]
        if sig == SIGSYS && info.code == 1 && info.addr.wrapping_sub(VSYSCALL_PAGE) < PAGE {
            // A call into the vsyscall page: the host's vsyscall emulation
            // asked the stub filter, which trapped (SYS_SECCOMP; the call never
            // ran), after the host had emulated the `ret`. Undo that, so the
            // kernel sees what a CPU without the page gives: an execute fault
            // at the entry, the return address at rsp.
            regs.gp.rip = info.addr;
            regs.gp.rsp = regs.gp.rsp.wrapping_sub(8);
            return Trap::PageFault {
                addr: info.addr,
                access: FaultAccess::Exec,
            };
        }
        if sig == SIGSEGV && (info.code == SEGV_MAPERR || info.code == SEGV_ACCERR) {
            let st = &self.stubs[&mm.0];
            let access = self.fault_access(st, info.code, info.addr, arch::pc(&g));
            return Trap::PageFault {
                addr: info.addr,
                access,
            };
        }
        Trap::Exception {
            sig: sig as u32,
            code: info.code,
            addr: info.addr,
        }
    }
}

impl HostTime for PtraceHost {
    fn counter(&self) -> Option<u64> {
        sys::vdso::counter()
    }

    fn now_mono(&self) -> u64 {
        sys::clock_ns(sys::CLOCK_MONOTONIC)
    }

    fn now_real(&self) -> u64 {
        sys::clock_ns(sys::CLOCK_REALTIME)
    }

    fn cpu_time(&self, mm: MmId) -> Option<u64> {
        // The stub's process CPU clock (Linux's MAKE_PROCESS_CPUCLOCK with
        // CPUCLOCK_SCHED), which clock_gettime reads for any pid. (Not its
        // thread clock: Linux reads those only within the caller's own
        // thread group, lookup_task in posix-cpu-timers.c, EINVAL else.)
        let pid = self.stub_pid(mm)?;
        let id = (!pid).checked_mul(8)? | 2;
        match sys::clock_ns(id) {
            0 => None,
            t => Some(t),
        }
    }

    fn kernel_cpu_time(&self) -> Option<u64> {
        // umbra's own thread CPU clock (the kernel runs on that one thread),
        // less its spins for a stub's report, which wait for guest code.
        match sys::clock_ns(sys::CLOCK_THREAD_CPUTIME_ID) {
            0 => None,
            t => Some(t.saturating_sub(self.trap_spun_ns())),
        }
    }

    fn wait_event(&mut self, deadline: Option<u64>) {
        let mut fds = Vec::new();
        let mut deadline = deadline;
        loop {
            fds.clear();
            let stdin = !self.stdin_eof && self.stdin_armed;
            if stdin {
                fds.push(PollFd::new(0, sys::POLLIN));
            }
            if let (true, Some(n)) = (HOST_NET, &self.net) {
                n.poll_set(&mut fds);
            }
            let exec_from = fds.len();
            if let (true, Some(e)) = (OCI_EXEC, &self.exec) {
                e.poll_set(&mut fds);
            }
            if fds.is_empty() && deadline.is_none() && !self.waker.armed() {
                return; // nothing could ever wake us
            }
            match self.waker.wait_fds(&mut fds, deadline) {
                // SIGWINCH (a resize, which the kernel looks at after the
                // wait, or an OCI client's kick): the event is taken here,
                // or every wait would end at once while no guest runs, and
                // the fds are looked at once more.
                Ok(Wake::Signal) if self.waker.take_event() && deadline != Some(0) => {
                    deadline = Some(0);
                    continue;
                }
                // The timer or another signal: let the kernel look.
                Ok(Wake::Signal) | Ok(Wake::Timeout) => return,
                Ok(Wake::Ready(_)) => {
                    let mut woke = false;
                    let mut socks = &fds[..exec_from];
                    if stdin {
                        let re = fds[0].revents();
                        if re & sys::POLLIN != 0 {
                            self.stdin_armed = false;
                            woke = true;
                        } else if re != 0 {
                            // Hung up, error or not pollable: stop watching stdin.
                            self.stdin_eof = true;
                        }
                        socks = &fds[1..exec_from];
                    }
                    if let (true, Some(n)) = (HOST_NET, &mut self.net) {
                        woke |= n.ready(socks);
                    }
                    if let (true, Some(e), Some(n)) = (OCI_EXEC, &mut self.exec, &mut self.net) {
                        woke |= e.ready(&fds[exec_from..], n);
                    }
                    if woke {
                        return;
                    }
                }
                Err(_) if stdin => self.stdin_eof = true,
                Err(_) => return,
            }
            if deadline.is_none() && !self.waker.armed() {
                return;
            }
        }
    }

    fn set_timer(&mut self, deadline: Option<u64>) {
        if let Err(e) = self.waker.set_timer(deadline) {
            log_line(
                LogLevel::Error,
                format_args!("cannot arm the preemption timer: {e}"),
            );
        }
    }
}

impl HostConsole for PtraceHost {
    fn console_write(&mut self, stream: ConsoleStream, data: &[u8]) -> Result<usize, HostError> {
        let fd = match stream {
            ConsoleStream::Stdout => 1,
            ConsoleStream::Stderr => 2,
            ConsoleStream::Stdin => return Err(HostError::Unsupported),
        };
        sys::write_all(fd, data)
            .map(|_| data.len())
            .map_err(|e| match e {
                Errno::EPIPE => HostError::BrokenPipe,
                _ => HostError::Io,
            })
    }

    fn console_read(&mut self, buf: &mut [u8]) -> Result<ConsoleRead, HostError> {
        self.stdin_armed = true;
        if self.stdin_eof {
            return Ok(ConsoleRead::Eof);
        }
        if buf.is_empty() {
            return Ok(ConsoleRead::Data(0));
        }
        // Poll first: O_NONBLOCK would change the file description umbra shares
        // with its parent shell.
        match sys::poll_fd(0, sys::POLLIN, 0) {
            Ok(0) | Err(Errno::EINTR) => return Ok(ConsoleRead::WouldBlock),
            Ok(re) if re & sys::POLLNVAL != 0 => {
                self.stdin_eof = true;
                return Ok(ConsoleRead::Eof);
            }
            Ok(_) => {}
            Err(_) => return Err(HostError::Io),
        }
        loop {
            match sys::read(0, buf) {
                Ok(0) => {
                    self.stdin_eof = true;
                    return Ok(ConsoleRead::Eof);
                }
                Ok(n) => return Ok(ConsoleRead::Data(n)),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(ConsoleRead::WouldBlock),
                Err(_) => return Err(HostError::Io),
            }
        }
    }

    fn console_is_tty(&self, stream: ConsoleStream) -> bool {
        sys::is_tty(match stream {
            ConsoleStream::Stdin => 0,
            ConsoleStream::Stdout => 1,
            ConsoleStream::Stderr => 2,
        })
    }

    fn console_hung_up(&self) -> bool {
        sys::tty_hung_up(0)
    }

    fn console_winsize(&self) -> Option<Winsize> {
        let (ws_row, ws_col, ws_xpixel, ws_ypixel) = sys::winsize(1).or_else(|| sys::winsize(0))?;
        Some(Winsize {
            ws_row,
            ws_col,
            ws_xpixel,
            ws_ypixel,
        })
    }
}

impl HostBlock for PtraceHost {
    fn disk_size(&self, dev: usize) -> Option<u64> {
        self.disks.get(dev).map(|d| d.1)
    }

    fn disk_read(&mut self, dev: usize, off: u64, buf: &mut [u8]) -> Result<(), HostError> {
        let (f, size) = self.disks.get(dev).ok_or(HostError::OutOfRange)?;
        if off.checked_add(buf.len() as u64).is_none_or(|e| e > *size) {
            return Err(HostError::OutOfRange);
        }
        f.read_exact_at(buf, off).map_err(|_| HostError::Io)
    }

    fn disk_write(&mut self, dev: usize, off: u64, buf: &[u8]) -> Result<(), HostError> {
        let (f, size) = self.disks.get(dev).ok_or(HostError::OutOfRange)?;
        if off.checked_add(buf.len() as u64).is_none_or(|e| e > *size) {
            return Err(HostError::OutOfRange);
        }
        f.write_all_at(buf, off).map_err(|_| HostError::Io)
    }

    fn disk_flush(&mut self, dev: usize) -> Result<(), HostError> {
        let (f, _) = self.disks.get(dev).ok_or(HostError::OutOfRange)?;
        f.sync_data().map_err(|_| HostError::Io)
    }
}

impl HostMisc for PtraceHost {
    fn random(&mut self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            match sys::getrandom(&mut buf[done..]) {
                Ok(n) => done += n,
                Err(Errno::EINTR) => {}
                Err(_) => {
                    // No getrandom (very old kernel): /dev/urandom.
                    if let Ok(f) = File::open("/dev/urandom") {
                        if f.read_exact_at(&mut buf[done..], 0).is_ok() {
                            return;
                        }
                    }
                    log_line(LogLevel::Error, format_args!("no entropy source"));
                    return;
                }
            }
        }
    }

    fn log(&mut self, level: LogLevel, msg: fmt::Arguments<'_>) {
        log_line(level, msg);
    }

    fn host_net(&mut self) -> Option<&mut dyn HostNet> {
        if !HOST_NET {
            return None;
        }
        self.net.as_mut().map(|n| n as &mut dyn HostNet)
    }

    fn take_host_signals(&mut self) -> u64 {
        sys::signals::take_forwarded()
    }

    fn take_stats_request(&mut self) -> bool {
        sys::signals::take_stats_request()
    }

    fn take_exec(&mut self) -> Option<umbra_core::host::ExecRequest> {
        if !OCI_EXEC {
            return None;
        }
        self.exec.as_mut()?.take()
    }

    fn exec_started(&mut self, id: u64, result: Result<u32, umbra_core::Errno>) {
        if let (true, Some(e)) = (OCI_EXEC, &mut self.exec) {
            e.started(id, result);
        }
    }

    fn exec_exited(&mut self, pid: u32, wait_status: u32) {
        if let (true, Some(e)) = (OCI_EXEC, &mut self.exec) {
            e.exited(pid, wait_status);
        }
    }

    fn take_guest_request(&mut self) -> Option<umbra_core::host::GuestRequest> {
        if !OCI_EXEC {
            return None;
        }
        self.exec.as_mut()?.take_request()
    }

    fn guest_stats(&mut self, client: u64, stats: umbra_core::host::GuestStats) {
        if let (true, Some(e)) = (OCI_EXEC, &mut self.exec) {
            e.stats(client, &stats);
        }
    }
}
