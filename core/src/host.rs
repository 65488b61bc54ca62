//! The Host trait: everything the kernel needs from outside, and nothing more.
//!
//! It is made of small sub-traits, one concern each (as LiteBox's `Provider`). The
//! kernel owns the loop: [`HostCpu::run_user`] resumes a guest thread and returns a
//! [`Trap`]; there are no callbacks. Time is passed in through [`HostTime`], never
//! read from a global, so MockHost runs are deterministic. The host never invents a
//! guest errno: it reports a [`HostError`] and the kernel decides.

use crate::arch::UserRegs;
use core::fmt;
use umbra_abi::flags::Prot;
use umbra_abi::structs::Winsize;

use crate::net::SockAddr;
use alloc::vec::Vec;

/// A host error. The kernel maps it to an errno or kills the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostError {
    /// The host is out of memory (e.g. the stub could not be created).
    NoMemory,
    /// An I/O error on the console or a block device.
    Io,
    /// An offset or size outside the device or memory file.
    OutOfRange,
    /// The host cannot do this at all.
    Unsupported,
    /// The host process behind an address space is gone.
    StubDied,
    /// The reader of a host stream (the console's stdout) has gone away.
    BrokenPipe,
}

/// The host's handle for one guest address space (one stub process under ptrace).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MmId(pub u32);

/// One change to a host address space. Batches of these are applied together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapOp {
    /// Map `len` bytes of the memory file, starting at byte offset `phys`, at `va`.
    Map {
        va: u64,
        len: u64,
        phys: u64,
        prot: Prot,
    },
    /// Remove every host mapping in `[va, va + len)`.
    Unmap { va: u64, len: u64 },
    /// Change the protection of `[va, va + len)`.
    Protect { va: u64, len: u64, prot: Prot },
}

/// How the guest entered the kernel for a syscall. Only `Native` is served; the
/// others exist so a 64-bit guest can never reach a call of another table by
/// using another entry path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallAbi {
    /// The arch's own 64-bit entry (x86_64 `syscall`, arm64 `svc #0`).
    Native,
    /// The 32-bit compat entry (`int 0x80` or `sysenter` on x86_64).
    Compat32,
    /// The x32 ABI (x86_64 number with bit 30 set).
    X32,
}

/// What kind of access faulted, when the host knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAccess {
    Read,
    Write,
    Exec,
    /// The host cannot tell (ptrace reports only the address).
    Unknown,
}

/// Why `run_user` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// The guest made a syscall; the registers hold the number and arguments.
    Syscall { abi: SyscallAbi },
    /// The guest touched `addr` where the host has no mapping or not this access.
    PageFault { addr: u64, access: FaultAccess },
    /// A CPU exception other than a page fault: SIGILL, SIGFPE, SIGTRAP or SIGBUS.
    Exception { sig: u32, code: i32, addr: u64 },
    /// The host timer fired while the guest ran (preemption point).
    Timer,
    /// Console input or another host event is ready.
    HostEvent,
    /// The host process behind the address space died unexpectedly.
    StubDied,
}

/// The host console streams the guest's console files are bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleStream {
    Stdin,
    Stdout,
    Stderr,
}

/// The result of a non-blocking console read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleRead {
    /// This many bytes were read.
    Data(usize),
    /// Nothing is available now; `wait_event` wakes when something is.
    WouldBlock,
    /// The host stream is at end of file.
    Eof,
}

/// Log levels for [`HostMisc::log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    /// Syscall trace lines (`--strace`).
    Trace,
}

/// Guest physical memory and address spaces.
pub trait HostMemory {
    /// The memory file as mapped in the kernel. Frame `n` is at `n * PAGE_SIZE`.
    fn physmem(&self) -> &[u8];
    /// The memory file, writable.
    fn physmem_mut(&mut self) -> &mut [u8];
    /// Creates an empty address space (only the host's stub pages in it).
    fn mm_create(&mut self) -> Result<MmId, HostError>;
    /// Destroys an address space and its host process.
    fn mm_destroy(&mut self, mm: MmId);
    /// Applies a batch of mapping changes. The host may defer them, but they take
    /// effect before the next `run_user` on `mm`, in order.
    fn mm_apply(&mut self, mm: MmId, ops: &[MapOp]) -> Result<(), HostError>;
    /// Whether `more_ops` more ops might take `mm` past the host's limit on
    /// mappings per process (Linux's vm.max_map_count). The kernel then
    /// removes every guest mapping from the host (the pages fault in again),
    /// so a guest never meets a host limit it cannot see.
    fn mm_near_map_limit(&self, _mm: MmId, _more_ops: usize) -> bool {
        false
    }
}

/// Running guest code.
pub trait HostCpu {
    /// Resumes the guest thread with `regs` in address space `mm` until it traps;
    /// `regs` then holds the guest's registers at the trap.
    fn run_user(&mut self, mm: MmId, regs: &mut UserRegs) -> Trap;

    /// Copies the floating-point/vector state of the thread last run in `mm`
    /// into `buf` (x86_64: the 512-byte FXSAVE image); returns its length.
    /// Signal frames carry it, so a handler cannot clobber the interrupted code's
    /// FP registers.
    fn fpstate_get(&mut self, _mm: MmId, _buf: &mut [u8]) -> Result<usize, HostError> {
        Err(HostError::Unsupported)
    }

    /// Loads FP/vector state saved by `fpstate_get` (or edited by the guest in
    /// its signal frame) before `mm` next runs.
    fn fpstate_set(&mut self, _mm: MmId, _buf: &[u8]) -> Result<(), HostError> {
        Err(HostError::Unsupported)
    }

    /// The code of the guest's vDSO, in the form [`crate::vdso`] describes;
    /// `None`: guests get no vDSO (libcs then make the syscalls).
    fn vdso_text(&self) -> Option<&'static [u8]> {
        None
    }

    /// Saves the whole FP/vector state of the thread last run in `mm` (x86_64:
    /// the XSAVE area, AVX and all, not only the FXSAVE image) into `buf`, so
    /// another guest thread can run on the same address space: threads of a
    /// process share its host process, and a switch swaps this state.
    fn xstate_save(&mut self, _mm: MmId, _buf: &mut alloc::vec::Vec<u8>) -> Result<(), HostError> {
        Err(HostError::Unsupported)
    }

    /// Loads a state `xstate_save` saved before `mm` next runs.
    fn xstate_load(&mut self, _mm: MmId, _buf: &[u8]) -> Result<(), HostError> {
        Err(HostError::Unsupported)
    }

    /// Loads `buf`, a state `xstate_save` saved, into the host process of
    /// `mm`, which holds `held` now (as `xstate_save` saw it, and it has not
    /// run since): only what differs need be written.
    fn xstate_switch(&mut self, mm: MmId, _held: &[u8], buf: &[u8]) -> Result<(), HostError> {
        self.xstate_load(mm, buf)
    }

    /// The thread that last ran in `mm`, whose registers are `regs`, makes
    /// way for another thread of the same address space: completes `regs`
    /// with what the host process still holds of it (aarch64: the real x7
    /// that a syscall stop hides) and saves its FP/vector state into `fp`
    /// (as `xstate_save`).
    fn thread_switch_out(
        &mut self,
        mm: MmId,
        _regs: &mut UserRegs,
        fp: &mut alloc::vec::Vec<u8>,
    ) -> Result<(), HostError> {
        self.xstate_save(mm, fp)
    }
}

/// Clocks and waiting.
pub trait HostTime {
    /// Monotonic time in nanoseconds.
    fn now_mono(&self) -> u64;
    /// Wall-clock time in nanoseconds since the Unix epoch.
    fn now_real(&self) -> u64;
    /// Blocks until a host event (console input) or until the monotonic `deadline`,
    /// when nothing in the guest is runnable. `None` waits for an event only.
    fn wait_event(&mut self, deadline: Option<u64>);

    /// Arms the preemption timer at the monotonic `deadline` (`None` disarms it).
    /// If it expires while a guest runs, `run_user` returns [`Trap::Timer`]; if it
    /// expires in `wait_event`, that returns.
    fn set_timer(&mut self, _deadline: Option<u64>) {}

    /// The hardware counter the vDSO code reads (x86_64: the TSC; arm: the
    /// virtual counter), or `None` if guests cannot read one; it must run at
    /// a constant rate.
    fn counter(&self) -> Option<u64> {
        None
    }

    /// The CPU time (ns) the host process of `mm` has used so far, or
    /// `None` if the host cannot tell: unlike the monotonic clock, it does
    /// not run on while other host processes hold the CPU.
    fn cpu_time(&self, _mm: MmId) -> Option<u64> {
        None
    }

    /// The CPU time (ns) the kernel itself has used so far (the host
    /// thread it runs on, less any time it only spun waiting for a guest),
    /// or `None` if the host cannot tell. System time comes from it.
    fn kernel_cpu_time(&self) -> Option<u64> {
        None
    }
}

/// The console: the host's stdin, stdout and stderr.
pub trait HostConsole {
    /// Writes to a host stream; returns the bytes written.
    fn console_write(&mut self, stream: ConsoleStream, data: &[u8]) -> Result<usize, HostError>;
    /// Reads what is available from the host's stdin without blocking.
    fn console_read(&mut self, buf: &mut [u8]) -> Result<ConsoleRead, HostError>;
    /// Whether a host stream is a terminal.
    fn console_is_tty(&self, stream: ConsoleStream) -> bool;
    /// The host terminal's size, if the stream is a terminal.
    fn console_winsize(&self) -> Option<Winsize>;
    /// Whether the host's stdin is a terminal that hung up (a pty slave
    /// whose master closed), asked when a read found end of file: a
    /// terminal's ^D is no hang-up.
    fn console_hung_up(&self) -> bool {
        false
    }
}

/// Block devices (disk images), numbered from 0.
pub trait HostBlock {
    /// Size of device `dev` in bytes, or `None` if there is no such device.
    fn disk_size(&self, dev: usize) -> Option<u64>;
    fn disk_read(&mut self, dev: usize, off: u64, buf: &mut [u8]) -> Result<(), HostError>;
    fn disk_write(&mut self, dev: usize, off: u64, buf: &[u8]) -> Result<(), HostError>;
    fn disk_flush(&mut self, dev: usize) -> Result<(), HostError>;
}

/// Entropy and logging.
pub trait HostMisc {
    /// Fills `buf` with random bytes.
    fn random(&mut self, buf: &mut [u8]);
    /// Writes one log line (umbra's stderr on the shim).
    fn log(&mut self, level: LogLevel, msg: fmt::Arguments<'_>);
    /// The host's network, when the user's policy grants the guest some of
    /// it (`--net host`, `--publish`, `--unix-socket`); `None` otherwise
    /// (`--net none`, the default).
    fn host_net(&mut self) -> Option<&mut dyn HostNet> {
        None
    }
    /// Signals sent to umbra from outside for the guest's init (`umbra kill`
    /// of an OCI container), one bit per signal (bit `sig - 1`), taken once.
    fn take_host_signals(&mut self) -> u64 {
        0
    }
    /// `--stats`: whether the report so far was asked for from outside
    /// (`umbra run --stats` and SIGUSR2), taken once.
    fn take_stats_request(&mut self) -> bool {
        false
    }
    /// A process to start in the running guest (`umbra exec` of an OCI
    /// container), taken once.
    fn take_exec(&mut self) -> Option<ExecRequest> {
        None
    }
    /// The guest pid of the exec request `id`'s process, or why it could
    /// not start.
    fn exec_started(&mut self, _id: u64, _result: Result<u32, crate::Errno>) {}
    /// An exec'd process (one with no parent) ended with this wait status.
    fn exec_exited(&mut self, _pid: u32, _wait_status: u32) {}
    /// What else the outside asks of the running guest (`umbra kill`,
    /// `pause`, `resume`, and `umbra exec`'s signals and window sizes),
    /// taken once.
    fn take_guest_request(&mut self) -> Option<GuestRequest> {
        None
    }
    /// The answer to [`GuestRequest::Stats`] from client `client`.
    fn guest_stats(&mut self, _client: u64, _stats: GuestStats) {}
}

/// What the guest's kernel counts of the container (`umbra events
/// --stats`), as the pids and memory cgroups count it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestStats {
    /// Tasks: threads of live processes and zombies (pids.current).
    pub tasks: u64,
    /// The most tasks fork allows, when limited (pids.max).
    pub tasks_limit: Option<u64>,
    /// Bytes of guest memory in use (process pages, the page cache, the
    /// kernel's page tables held in guest frames).
    pub mem_used: u64,
    /// The guest's memory size, bytes.
    pub mem_total: u64,
    /// The most guest memory in use at once so far, bytes (the memory
    /// file's high-water mark: a frame never used before is handed out only
    /// when every used one is taken).
    pub mem_max: u64,
    /// Frame allocations the guest's memory could not serve (after dropping
    /// clean page-cache pages): memory.failcnt's equivalent.
    pub mem_failcnt: u64,
}

/// A request from outside the guest about processes already running
/// ([`HostMisc::take_guest_request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestRequest {
    /// `umbra kill [--all] ID SIG`: `sig` to the init, as Linux sends a
    /// signal from an ancestor pid namespace (an init ignores one it has no
    /// handler for, except SIGKILL and SIGSTOP), or with `all` to every
    /// process.
    Kill { sig: u32, all: bool },
    /// `umbra exec` got `sig`: it goes on to the exec'd process `pid`, as
    /// runc forwards the signals it gets to the process it runs.
    SignalExec { pid: u32, sig: u32 },
    /// `pause` (true) or `resume` (false): no guest process runs while
    /// paused, as with the freezer cgroup.
    Freeze(bool),
    /// `umbra events`: the kernel answers with [`HostMisc::guest_stats`]
    /// for `client`.
    Stats { client: u64 },
    /// `umbra update --pids-limit`: the most tasks fork allows from now on
    /// (None: no limit but the process rlimit's), as pids.max.
    PidsLimit(Option<u32>),
}

/// What [`HostMisc::take_exec`] hands the kernel: the program, its
/// environment and directory, and three host stream sockets for its fds 0,
/// 1 and 2 (already the host net's; the kernel closes them through it).
///
/// With `tty`, what comes in on `stdio[0]` is the terminal's input with
/// the host terminal's size in band, in order with what was typed:
/// [`TTY_ESC`] [`TTY_ESC`] is one byte `TTY_ESC`, and `TTY_ESC` `W` then
/// rows and columns (big-endian u16 each) is a new size.
#[derive(Clone, Debug)]
pub struct ExecRequest {
    pub id: u64,
    pub argv: alloc::vec::Vec<alloc::string::String>,
    pub envp: alloc::vec::Vec<alloc::string::String>,
    pub cwd: alloc::string::String,
    pub stdio: [HostSock; 3],
    /// The user it runs as (OCI process.user).
    pub uid: u32,
    pub gid: u32,
    pub groups: alloc::vec::Vec<u32>,
    /// `exec --tty`: fds 0, 1 and 2 are a terminal of the guest's whose
    /// bytes go both ways over `stdio[0]` (`stdio[1]` and `[2]` are closed).
    pub tty: bool,
}

/// The escape byte of an exec terminal's input (see [`ExecRequest`]).
pub const TTY_ESC: u8 = 0xff;

/// A host socket that the host holds for the guest, by number. The guest
/// never sees the host's fd; the host keeps the socket until `net_close`.
pub type HostSock = u32;

/// The kind of a host socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostSockType {
    Stream,
    Dgram,
}

/// Why a host network call failed: the host's error, named; the kernel
/// picks the guest's errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// Nothing can be done now; `wait_event` wakes when the socket is ready
    /// for what was tried.
    WouldBlock,
    /// The policy does not grant this (an ungranted path, an outbound
    /// connection without `--net host`).
    Denied,
    Refused,
    Reset,
    Aborted,
    TimedOut,
    NetUnreachable,
    HostUnreachable,
    AddrInUse,
    AddrNotAvail,
    NotConnected,
    /// The sending side was shut down, or the peer is gone.
    BrokenPipe,
    /// A datagram too large for the host.
    MsgSize,
    /// The host ran out of fds or memory.
    NoResources,
    /// No such host socket (a bad handle).
    BadHandle,
    /// Anything else.
    Other,
}

/// The host's network, as a policy grants it. Every socket is non-blocking:
/// a call that cannot go on now fails with [`NetError::WouldBlock`], and
/// [`HostTime::wait_event`] then wakes when the socket became ready for it.
pub trait HostNet {
    /// Opens a socket of `ty` for the family of `to` and connects it to `to`.
    /// A stream connect may still be in progress: the socket reports POLLOUT
    /// once it is done, and [`HostNet::net_take_error`] tells the outcome.
    fn net_connect(&mut self, ty: HostSockType, to: &SockAddr) -> Result<HostSock, NetError>;
    /// Opens an unconnected datagram socket of `domain` (AF_INET or AF_INET6).
    fn net_dgram(&mut self, domain: u16) -> Result<HostSock, NetError>;
    /// The listeners the host opened for `--publish`: (listener, guest port,
    /// datagram).
    fn net_published(&self) -> Vec<(HostSock, u16, bool)> {
        Vec::new()
    }
    /// Takes a waiting connection from a listener, with its peer's address.
    fn net_accept(&mut self, listener: HostSock) -> Result<(HostSock, SockAddr), NetError>;
    /// Sends (to `to` on a datagram socket); returns the bytes taken.
    fn net_send(
        &mut self,
        s: HostSock,
        data: &[u8],
        to: Option<&SockAddr>,
    ) -> Result<usize, NetError>;
    /// Receives into `buf`: (bytes stored, full datagram length, sender). A
    /// stream at end of file gives 0.
    fn net_recv(
        &mut self,
        s: HostSock,
        buf: &mut [u8],
        peek: bool,
    ) -> Result<(usize, usize, Option<SockAddr>), NetError>;
    /// shutdown(2) with `how` (SHUT_RD, SHUT_WR, SHUT_RDWR).
    fn net_shutdown(&mut self, s: HostSock, how: u32) -> Result<(), NetError>;
    /// Closes the host socket.
    fn net_close(&mut self, s: HostSock);
    /// Readiness now, as poll(2) bits (POLLIN, POLLOUT, POLLERR, POLLHUP,
    /// POLLRDHUP). `interest` is what the caller waits for: if none of it is
    /// ready, `wait_event` wakes once some is.
    fn net_poll(&mut self, s: HostSock, interest: u16) -> u16;
    /// The socket's pending error (SO_ERROR), cleared; `None` if there is none.
    fn net_take_error(&mut self, s: HostSock) -> Option<NetError>;
    /// getsockname of the host socket.
    fn net_local_addr(&mut self, s: HostSock) -> Result<SockAddr, NetError>;
    /// getpeername of the host socket.
    fn net_peer_addr(&mut self, s: HostSock) -> Result<SockAddr, NetError>;
    /// A guest TCP listener on every address of `port`: the host may listen
    /// on that port too and hand its connections over as `--publish` does
    /// (OCI mode, in the container's own network namespace). Denied unless
    /// the policy grants it.
    fn net_export(&mut self, _port: u16) -> Result<(), NetError> {
        Err(NetError::Denied)
    }
}

/// Everything the kernel needs from outside.
pub trait Host: HostMemory + HostCpu + HostTime + HostConsole + HostBlock + HostMisc {}

impl<T: HostMemory + HostCpu + HostTime + HostConsole + HostBlock + HostMisc> Host for T {}
