//! The seccomp platform (`--platform seccomp`, issue 13), x86_64, aarch64
//! and armv7 (the signal frame's layout is in `seccomp/<arch>.rs`): guest
//! syscalls, faults and kicks reach umbra through the stub's trap handler and
//! a futex on its control page (see `sys::trap`), with no ptrace stop. A stub
//! is traced only while it is set up: forked from the template, its slot
//! mapped and PR_SET_PDEATHSIG set (one ptrace batch), its first registers
//! loaded; then umbra detaches it.
//!
//! Everything read from a slot is guest-writable and treated as untrusted:
//! pointers are checked to lie inside the slot's signal stack, and the
//! registers are the guest's own anyway.

use super::{compile_ops, log_line, ptrace, run_batch, PtraceHost, Stub, PAGE};
use crate::sys::{self, stub, trap};
use ptrace::WaitStatus;
use sys::raw::nr;
use sys::signals::{KICK_SIG, SI_TKILL};
use umbra_core::arch::{GpRegs, UserRegs};
use umbra_core::host::{HostError, LogLevel, MmId, Trap};

#[cfg_attr(target_arch = "x86_64", path = "seccomp/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "seccomp/aarch64.rs")]
#[cfg_attr(target_arch = "arm", path = "seccomp/arm.rs")]
mod frame;
use frame::{read_report, write_reply};

/// The slot allocator, and the spin budgets.
pub(super) struct TrapHost {
    /// File offset of slot 0.
    slots_off: usize,
    free: Vec<u32>,
    next: u32,
    /// `pause` iterations umbra spins for a report before it sleeps (0: it
    /// never spins, umbra has one CPU).
    umbra_spin: u32,
    /// The same for the stub's handler, waiting for a reply.
    stub_spin: u32,
    pub(super) spin_stats: SpinStats,
    /// The stub umbra ran last (whose handler may spin for its reply).
    last: Option<MmId>,
    /// Runs after which a new stub moves to the spin CPU (see `Place`).
    move_after: u32,
    /// `pause` iterations umbra spun for reports so far: CPU time that is
    /// no guest's system time (`PtraceHost::kernel_cpu_time`).
    spun: u64,
    /// Threads that moved on while their stub was held (with its slot): the
    /// registers the kernel has for one, the ones it really has, and its
    /// FP state (`trap_unhold`, `trap_moved`).
    moved: Vec<(u32, Moved)>,
}

/// A guest thread that moved on while its stub was held: `at`, the
/// registers umbra gave the kernel, are really `now` with the FP state
/// `fp`.
struct Moved {
    at: GpRegs,
    now: GpRegs,
    fp: Vec<u8>,
}

/// The most threads `TrapHost::moved` keeps (the oldest go).
const MOVED_MAX: usize = 8;

/// How the spins went (`umbra run --stats`).
#[derive(Clone, Copy, Debug, Default)]
pub struct SpinStats {
    /// umbra's spins for a report, and how many saw it.
    pub umbra_tries: u64,
    pub umbra_hits: u64,
    /// The handler's spins for a reply, and how many saw it.
    pub stub_tries: u64,
    pub stub_hits: u64,
    /// Stubs umbra tried to move to the spin CPU, and how many stayed.
    pub moves: u64,
    pub moves_failed: u64,
    /// Stubs moved back to umbra's CPU.
    pub returns: u64,
    /// Replies with mapping ops (`trap_confirm`), and the times umbra
    /// looked again for their handler's sleep.
    pub confirms: u64,
    pub confirm_retries: u64,
}

/// A stub's state on this platform.
#[derive(Clone, Copy, Debug)]
pub(super) struct TrapStub {
    slot: u32,
    /// Set up and let go: its traps come through the handler.
    detached: bool,
    /// Whether each side spins, adapted to how its spins went.
    spin: Spin,
    /// Which CPU it runs on, and what moves it.
    placement: Placement,
    /// Held (`trap_hold`): the registers umbra gave the kernel for the
    /// guest thread whose real ones are still in the stopped stub.
    held: Option<GpRegs>,
}

/// Where a stub runs when umbra has a second CPU for the spin. A new stub
/// starts on umbra's CPU: its set-up takes ptrace stops (the template's
/// fork, the first batch, the registers, the detach), and each stop and
/// its wake-up cost tens of microseconds more when they cross CPUs (a `sh`
/// loop of `/bench/true` took twice the ptrace platform's time with every
/// stub on the spin CPU). There it neither spins nor is spun for: the two
/// sides hand off through the futex as on one CPU. A stub that lives on
/// (it made `move_after` traps) moves to the spin CPU, umbra pinning it
/// there with sched_setaffinity while it waits for a reply; a short-lived
/// one (a `sh` child that execs at once, a `true`; exec makes a new stub)
/// ends where it began.
///
/// A stub that waits long for its replies (its calls block, or keep umbra
/// busy for longer than its handler spins: a `sh` that forks and waits for
/// its children) only pays on the spin CPU: each late reply wakes its
/// handler on a CPU that went idle meanwhile, on a virtual machine the
/// slowest wake-up there is, and umbra's spin for the next report runs out
/// while that CPU comes back; then umbra sleeps, and the report wakes its
/// CPU from idle too. So a stub for whose reports umbra's spin did not
/// suffice (or umbra did not spin, its spins having failed) in a quarter
/// of a window of `WINDOW` waits moves back to umbra's CPU, and moves again
/// only after four times as many runs as before, until a window on the
/// spin CPU pays again. A pipe ping-pong's stubs wait for each other's half
/// of a round, some 10 us, and umbra's spin sees nearly all their reports:
/// they stay, and a burst of misses (a host interrupt, another task on the
/// spin CPU) sends them back only for `MOVE_AFTER` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// On umbra's CPU, after this many runs.
    Local(u32),
    /// On the spin CPU: both sides may spin.
    Remote,
    /// On umbra's CPU for good: no second CPU, or the move failed.
    Stay,
}

/// A stub's place and the counts that move it (see `Place`).
#[derive(Clone, Copy, Debug)]
struct Placement {
    place: Place,
    /// Runs on umbra's CPU before it moves (`move_after`, four times more
    /// after each return).
    after: u32,
    /// On the spin CPU: umbra's waits for a report in this window, and
    /// how many of them its spin did not end.
    waits: u8,
    misses: u8,
    /// `move_after`: `after` again once a window on the spin CPU paid.
    first: u32,
}

/// A move `Placement::run` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Move {
    /// To the spin CPU.
    ToSpin,
    /// Back to umbra's CPU.
    Back,
}

impl Placement {
    /// A new stub's: on umbra's CPU, to move after `move_after` runs if
    /// umbra has a spin CPU (`spin`).
    fn new(spin: bool, move_after: u32) -> Placement {
        let place = if spin && move_after < MOVE_AFTER_MAX {
            Place::Local(0)
        } else {
            Place::Stay
        };
        Placement {
            place,
            after: move_after,
            waits: 0,
            misses: 0,
            first: move_after,
        }
    }

    fn remote(&self) -> bool {
        self.place == Place::Remote
    }

    /// Counts a run of the stub; the move it needs now, if any (already
    /// recorded: `failed` undoes it).
    fn run(&mut self) -> Option<Move> {
        match self.place {
            Place::Local(n) if n + 1 < self.after => {
                self.place = Place::Local(n + 1);
                None
            }
            Place::Local(_) => {
                self.place = Place::Remote;
                (self.waits, self.misses) = (0, 0);
                Some(Move::ToSpin)
            }
            Place::Remote if self.waits >= WINDOW => {
                let back = self.misses >= WINDOW / 4;
                (self.waits, self.misses) = (0, 0);
                if !back {
                    // Its spins pay: a later return waits as little as
                    // the first.
                    self.after = self.first;
                    return None;
                }
                self.after = self.after.saturating_mul(4).max(1);
                self.place = if self.after < MOVE_AFTER_MAX {
                    Place::Local(0)
                } else {
                    Place::Stay
                };
                Some(Move::Back)
            }
            Place::Remote | Place::Stay => None,
        }
    }

    /// The move failed: the stub is where it was (a failed move to the
    /// spin CPU leaves it on umbra's for good).
    fn failed(&mut self, m: Move) {
        self.place = match m {
            Move::ToSpin => Place::Stay,
            Move::Back => Place::Remote,
        };
    }

    /// umbra waited for a report of the stub; whether its spin saw it.
    fn wait(&mut self, hit: bool) {
        if self.remote() {
            self.waits = self.waits.saturating_add(1);
            self.misses = self.misses.saturating_add(!hit as u8);
        }
    }
}

/// Whether each side of a stub's hand-off spins before it sleeps, adapted
/// to how its recent spins went. A spin that ends in a sleep anyway costs
/// its whole budget in CPU time and latency (on a loaded host the other
/// side may not even be running), so a side whose spins mostly fail stops
/// spinning, and tries again now and then. The sides try again together
/// when both stopped: a side's spin can only succeed while the other side
/// is awake, and on a virtual machine waking a sleeping side on another
/// CPU takes longer than any budget, so one side's lone tries would all
/// fail.
#[derive(Clone, Copy, Debug)]
struct Spin {
    /// Per side: +1 for a spin that saw the other side, -1 for one that did
    /// not, within 0..=SCORE_MAX; the side spins while it is above 0.
    umbra: u8,
    stub: u8,
    /// Rounds since a side stopped; at PROBE the stopped sides try again,
    /// for a few rounds (BURST).
    idle: u8,
    /// This round (from the last reply on): umbra spins for the report; the
    /// handler spins for the reply.
    umbra_now: bool,
    stub_now: bool,
}

impl Spin {
    const SCORE_MAX: u8 = 8;
    const PROBE: u8 = 64;
    const BURST: u8 = 3;
    const START: Spin = Spin {
        umbra: Spin::SCORE_MAX / 2,
        stub: Spin::SCORE_MAX / 2,
        idle: 0,
        umbra_now: true,
        stub_now: false,
    };

    /// Plans the round that a reply starts.
    fn plan(&mut self) {
        if self.umbra == 0 || self.stub == 0 {
            self.idle += 1;
            if self.idle >= Spin::PROBE {
                self.idle = 0;
                self.umbra = self.umbra.max(Spin::BURST);
                self.stub = self.stub.max(Spin::BURST);
            }
        }
        self.umbra_now = self.umbra > 0;
        self.stub_now = self.stub > 0;
    }

    fn score(s: &mut u8, hit: bool) {
        *s = if hit {
            (*s + 1).min(Spin::SCORE_MAX)
        } else {
            s.saturating_sub(1)
        };
    }
}

/// The spin budget of each side, in nanoseconds. A getppid round trip
/// takes 2.4 us when both sides spin; but once a side sleeps, waking it on
/// the other CPU of this (virtual) host took longer than a 6 us budget, so
/// that every spin after failed too; 10 us and more kept them spinning.
const UMBRA_SPIN_NS: u64 = 15_000;
const STUB_SPIN_NS: u64 = 15_000;

/// A stub's runs on umbra's CPU before it moves to the spin CPU (`Place`).
/// A `sh` loop's child makes some 10 traps before its exec and a static
/// `true` some 15; a dynamically linked program's start-up some 80.
/// `UMBRA_SPIN_MOVE_AFTER` sets it, to measure.
const MOVE_AFTER: u32 = 64;

/// umbra's waits for the reports of a stub on the spin CPU that decide
/// whether it stays there (`Place`). A pipe ping-pong's windows of 32
/// waits had 0 misses in 1973 of 2029 and at most 8 on a machine at load
/// 6; at load 20 (under `chrt -f 1`), of 583 windows of 128 waits, 4 had 32
/// misses or more (up to 110); a `sh` loop's parent had 12 in each window
/// of 32.
const WINDOW: u8 = 128;
/// The most runs a stub waits on umbra's CPU before it tries again.
const MOVE_AFTER_MAX: u32 = 1 << 16;

/// Bytes of the memory file the slots take.
pub(super) const SLOTS_BYTES: usize = trap::MAX_SLOTS * trap::SLOT_BYTES as usize;

/// How long umbra waits on a control word before it looks whether the stub
/// is still alive.
const TICK_NS: u64 = 50_000_000;
/// While a kick is unanswered, or a handler umbra waits for does not sleep
/// yet, umbra looks at the stub this often.
const WATCH_TICK_NS: u64 = 2_000_000;
/// ... and after this long wakes whatever sleeps on the slot's futex words
/// (`trap::wake_all`: only a guest that jumped to the handler's FUTEX_WAIT
/// can), so that an overdue stub either reports or burns CPU time.
const WAKE_AFTER_NS: u64 = 5_000_000;
/// CPU time a stub may use while a kick (or umbra's wait for its handler to
/// sleep) is outstanding. A stub that runs takes a pending, unblocked
/// signal at its next return to user mode, within microseconds; only the
/// handler itself runs with the kick blocked (its op loop, a reply's
/// mapping ops), or the host kernel (a long page fault), or a guest that
/// blocked the kick with a forged `rt_sigreturn` frame (SECURITY.md S5).
/// So this bound does not depend on the host's load, as a wall-clock one
/// would: a stub waiting for a CPU uses none. In e2e_hostile's
/// `trap_path_attacks` at load 17 on 2 CPUs (nice 5), umbra saw a blocked
/// stub overdue after 4.5-5.3 ms (medians of 542-727 holds a run), at most
/// 17-76 ms (before `OVERDUE_SOON_NS`); with 10 ms here, after 200-850 ms.
const OVERDUE_CPU_NS: u64 = 2_000_000;
/// On a loaded host the stub may get a few percent of a CPU: after this
/// long, this much CPU time will do.
const OVERDUE_SOON_NS: u64 = 20_000_000;
const OVERDUE_SOON_CPU_NS: u64 = 500_000;
/// The wall-clock bound for a stub that gets no CPU time at all meanwhile
/// (stopped from outside, a host that does not schedule it).
const OVERDUE_WALL_NS: u64 = 1_000_000_000;

/// `trap_confirm`'s bounds, which kill the stub: a running stub's CPU
/// time is not the whole story on a virtual or emulated host, where a
/// stalled virtual CPU is charged to the task on it. On the aarch64
/// machine (QEMU, one vCPU, host at load 16-20) benign handlers on their
/// way into FUTEX_WAIT were charged 2 ms (two of 21 tests killed), so
/// these are wide: 50 ms of CPU time in 100 ms or more, or 5 s (the bound
/// before).
const KILL_AFTER_NS: u64 = 100_000_000;
const KILL_CPU_NS: u64 = 50_000_000;
const KILL_WALL_NS: u64 = 5_000_000_000;

/// How umbra watches a stub that owes it a report (a kick is unanswered)
/// or a sleeping handler (`trap_confirm`).
struct Watch {
    pid: i32,
    t0: u64,
    cpu0: u64,
    /// The clock's value at its first move since `cpu0`.
    base: Option<u64>,
    /// For `trap_confirm`, which kills: the `KILL_` bounds.
    to_kill: bool,
    woke: bool,
}

impl Watch {
    fn new(pid: i32, to_kill: bool) -> Watch {
        Watch {
            to_kill,
            pid,
            t0: sys::clock_ns(sys::CLOCK_MONOTONIC),
            cpu0: sys::process_cpu_ns(pid).unwrap_or(0),
            base: None,
            woke: false,
        }
    }

    /// Whether the stub is overdue: it used `OVERDUE_CPU_NS` of CPU time
    /// (`OVERDUE_SOON_CPU_NS` after `OVERDUE_SOON_NS`), or none for
    /// `OVERDUE_WALL_NS`, since the watch began (a stub that
    /// is gone is overdue too: the caller's wait4 finds out).
    fn overdue(&mut self, page: &[u8]) -> bool {
        let now = sys::clock_ns(sys::CLOCK_MONOTONIC);
        let wall = now.saturating_sub(self.t0);
        if !self.woke && wall >= WAKE_AFTER_NS {
            trap::wake_all(page);
            self.woke = true;
        }
        let Some(cpu) = sys::process_cpu_ns(self.pid) else {
            return true;
        };
        // The clock of a process with a CPU timer (RLIMIT_CPU) moves a
        // tick at a time, and its first move may count a tick from before
        // the watch: the time is counted from that first move on.
        let cpu = match self.base {
            Some(b) => cpu.saturating_sub(b),
            None if cpu != self.cpu0 => {
                self.base = Some(cpu);
                0
            }
            None => 0,
        };
        if self.to_kill {
            return (wall >= KILL_AFTER_NS && cpu >= KILL_CPU_NS) || wall >= KILL_WALL_NS;
        }
        cpu >= OVERDUE_CPU_NS
            || (wall >= OVERDUE_SOON_NS && cpu >= OVERDUE_SOON_CPU_NS)
            || wall >= OVERDUE_WALL_NS
    }
}

/// What `wait_state` watches for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WaitFor {
    /// The report of a round of mapping ops (the handler runs them).
    Ops,
    /// The guest runs: a kick may be outstanding.
    Running,
    /// A stopped (held) stub was let go: its kick is outstanding.
    Held,
}

/// Why `wait_state` gave up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WaitEnd {
    /// The stub is gone.
    Gone,
    /// The stub is overdue (see `Watch`).
    Overdue,
}

/// SIGSTOP, SIGCONT.
const SIGSTOP: i32 = 19;
const SIGCONT: i32 = 18;

pub(super) fn rd(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(w)
}

pub(super) fn rd32(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(w)
}

pub(super) fn wr(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The slot offset of `len` bytes at stub address `va`, if they lie inside
/// the slot's signal stack.
pub(super) fn in_stack(va: u64, len: usize) -> Option<usize> {
    let end = va.checked_add(len as u64)?;
    if va < trap::STACK_VA || end > trap::SLOT_VA + trap::SLOT_BYTES {
        return None;
    }
    Some((va - trap::SLOT_VA) as usize)
}

impl TrapHost {
    /// A free slot, and whether it was used before (a slot never handed
    /// out is still the memory file's zeroes).
    fn alloc(&mut self) -> Option<(u32, bool)> {
        if let Some(s) = self.free.pop() {
            return Some((s, true));
        }
        if (self.next as usize) < trap::MAX_SLOTS {
            self.next += 1;
            return Some((self.next - 1, false));
        }
        None
    }
}

impl PtraceHost {
    /// Turns the platform on (from `new_seccomp`, before `confine`): the
    /// cookie and the filter, and the template stub, made now so that stubs
    /// never inherit umbra's own filter (which would kill their trapped
    /// syscalls).
    pub(super) fn trap_init(&mut self, slots_off: usize) -> Result<(), String> {
        trap::host_check()?;
        if sys::seccomp::umbra_confined() {
            return Err("--platform seccomp must be chosen before umbra is confined".into());
        }
        let mut r = [0u8; 8];
        umbra_core::host::HostMisc::random(self, &mut r);
        let w = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
        trap::enable([w(0), w(4)])?;
        // armv7: a template made for the ptrace platform's interception
        // (`arch::after_new`) has the wrong filter.
        if let Some(t) = self.template.take() {
            ptrace::kill_and_reap(t.pid);
        }
        // Spinning pays only when umbra and the stub run at once, on two
        // CPUs. UMBRA_SPIN_NS sets both budgets (0: no spin), to measure.
        let spin_ns = std::env::var("UMBRA_SPIN_NS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok());
        let two_cpus = self.stub_cpu != self.cpu;
        let (umbra_spin, stub_spin) = match (two_cpus, spin_ns) {
            (false, _) => (0, 0),
            (true, Some(ns)) => (trap::pause_iters(ns), trap::pause_iters(ns)),
            (true, None) => (
                trap::pause_iters(UMBRA_SPIN_NS),
                trap::pause_iters(STUB_SPIN_NS),
            ),
        };
        let move_after = std::env::var("UMBRA_SPIN_MOVE_AFTER")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(MOVE_AFTER);
        self.trap = Some(TrapHost {
            slots_off,
            free: Vec::new(),
            next: 0,
            umbra_spin,
            stub_spin,
            spin_stats: SpinStats::default(),
            last: None,
            move_after,
            spun: 0,
            moved: Vec::new(),
        });
        let t = self.spawn_stub()?;
        self.template = Some(t);
        Ok(())
    }

    /// About how long umbra spun for reports so far, ns.
    pub(super) fn trap_spun_ns(&self) -> u64 {
        self.trap.as_ref().map_or(0, |t| trap::pause_ns(t.spun))
    }

    fn slot_range(&self, slot: u32) -> Option<core::ops::Range<usize>> {
        let t = self.trap.as_ref()?;
        let at = t.slots_off + slot as usize * trap::SLOT_BYTES as usize;
        Some(at..at + trap::SLOT_BYTES as usize)
    }

    /// Gives a new stub (forked from the template, in its first stop) its
    /// slot; the first run maps it (and sets PR_SET_PDEATHSIG) in the batch
    /// of its first mapping ops, one ptrace round trip for both.
    pub(super) fn trap_adopt(&mut self, st: &mut Stub) -> Result<(), String> {
        let Some(t) = self.trap.as_mut() else {
            return Ok(());
        };
        let (slot, used) = t.alloc().ok_or("no free stub slot (too many processes)")?;
        let placement = Placement::new(t.umbra_spin > 0, t.move_after);
        // A used slot is cleared (its last stub's registers are no business
        // of the next one's guest), by giving its pages back (as
        // `trap_release` did already, unless the memory file cannot punch
        // holes); a fresh one is zero already. Writing zeroes would make all
        // of its 32 KiB resident in the memory file, where a stub touches a
        // few pages (its control words, its stack's top): 50 pages after
        // Table 1's script instead of about 20 (its peak PSS on seccomp).
        if let Some(r) = self.slot_range(slot).filter(|_| used) {
            if self.mem.discard(r.clone()).is_err() {
                self.mem.as_mut_slice()[r].fill(0);
            }
        }
        st.trap = Some(TrapStub {
            slot,
            detached: false,
            spin: Spin::START,
            placement,
            held: None,
        });
        Ok(())
    }

    /// The set-up ops of a stub's slot.
    fn slot_ops(&self, slot: u32) -> Option<[[u64; 7]; 2]> {
        let off = self.slot_range(slot)?.start;
        Some([
            [
                nr::MMAP as u64,
                trap::SLOT_VA,
                trap::SLOT_BYTES,
                3, // PROT_READ | PROT_WRITE
                0x11,
                stub::STUB_MEMFD as u64,
                super::arch::mmap_offset(off as u64),
            ],
            [nr::PRCTL as u64, 1, 9, 0, 0, 0, 0],
        ])
    }

    /// Frees the slot of a stub that is gone.
    pub(super) fn trap_release(&mut self, st: &Stub) {
        if let (Some(ts), Some(t)) = (st.trap, self.trap.as_mut()) {
            t.moved.retain(|m| m.0 != ts.slot);
            t.free.push(ts.slot);
            // Its pages go back to the host now, not when it is reused.
            if let Some(r) = self.slot_range(ts.slot) {
                let _ = self.mem.discard(r);
            }
        }
    }

    /// The detached stub of `mm` and its slot, if `mm` has one.
    fn detached(&self, mm: MmId) -> Option<(i32, u32)> {
        let st = self.stubs.get(&mm.0).filter(|s| !s.dead)?;
        let ts = st.trap.filter(|t| t.detached)?;
        Some((st.pid, ts.slot))
    }

    /// `run_user` on this platform.
    pub(super) fn trap_run_user(&mut self, mm: MmId, regs: &mut UserRegs) -> Trap {
        self.stats.runs += 1;
        if self.waker.take_fired() {
            return Trap::Timer;
        }
        if self.waker.take_event() {
            return self.host_event();
        }
        let Some(st) = self.stubs.get(&mm.0) else {
            return Trap::StubDied;
        };
        if st.dead {
            return Trap::StubDied;
        }
        let Some(ts) = st.trap else {
            log_line(LogLevel::Error, format_args!("stub {} has no slot", st.pid));
            return self.mark_dead(mm.0);
        };
        let pid = st.pid;
        if frame::refused(&regs.gp) {
            // What PTRACE_SETREGS refuses: the guest gets a CPU fault's signal.
            return Trap::Exception {
                sig: 11,
                code: 0x80,
                addr: 0,
            };
        }
        if !ts.detached {
            return self.trap_first_run(mm, regs);
        }
        let Some(range) = self.slot_range(ts.slot) else {
            return self.mark_dead(mm.0);
        };
        self.trap_place(mm, pid);
        if let Some(t) = self.trap_unhold(mm, pid, ts.slot, range.clone(), regs) {
            return t;
        }
        if self.trap_moved(mm, ts.slot, regs).is_err() {
            return self.mark_dead(mm.0);
        }
        // Mapping ops beyond one reply go first, in rounds of their own.
        let mut ops = match self.stubs.get_mut(&mm.0) {
            Some(st) => compile_ops(st),
            None => return Trap::StubDied,
        };
        while ops.len() > trap::MAX_OPS {
            let rest = ops.split_off(trap::MAX_OPS);
            if self.trap_ops_round(mm, pid, range.clone(), &ops).is_err() {
                return self.mark_dead(mm.0);
            }
            ops = rest;
        }
        if !self.waker.start_running(pid) {
            // Keep the ops for the next run.
            if !ops.is_empty() && self.trap_ops_round(mm, pid, range.clone(), &ops).is_err() {
                return self.mark_dead(mm.0);
            }
            if self.waker.take_fired() {
                return Trap::Timer;
            }
            let _ = self.waker.take_event();
            return self.host_event();
        }
        // A reply with ops carries the cookie: the handler must sleep first
        // (a forged report comes from a guest that runs).
        let parked = !ops.is_empty();
        if parked && self.trap_confirm(mm, pid, range.clone()).is_err() {
            self.waker.set_running(0);
            return self.mark_dead(mm.0);
        }
        let page = &mut self.mem.as_mut_slice()[range.clone()];
        if !write_reply(page, &regs.gp) {
            self.waker.set_running(0);
            log_line(
                LogLevel::Warn,
                format_args!("stub {pid}: its trap frame is gone (the guest moved it)"),
            );
            return self.mark_dead(mm.0);
        }
        put_ops(page, &ops, 0);
        if !ops.is_empty() {
            self.stats.batches += 1;
            self.stats.batch_ops += ops.len() as u64;
        }
        self.trap_reply(mm, range.clone(), parked);
        self.trap_park_other(mm);
        self.trap_wait_report(mm, pid, range, regs)
    }

    /// The first run of a stub: its pending ops and registers through
    /// ptrace, then it is let go.
    fn trap_first_run(&mut self, mm: MmId, regs: &mut UserRegs) -> Trap {
        let Some(slot) = self.stubs.get(&mm.0).and_then(|s| s.trap).map(|t| t.slot) else {
            return self.mark_dead(mm.0);
        };
        let Some(mut ops) = self.slot_ops(slot).map(|o| o.to_vec()) else {
            return self.mark_dead(mm.0);
        };
        let data_off = self.mem_bytes + PAGE as usize;
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Trap::StubDied;
        };
        let pid = st.pid;
        ops.extend(compile_ops(st));
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + PAGE as usize];
        if let Err(e) = run_batch(data, st, &ops, &mut self.stats) {
            log_line(
                LogLevel::Error,
                format_args!("setting up stub {pid}: {}", e.msg),
            );
            return self.mark_dead(mm.0);
        }
        let Some(st) = self.stubs.get_mut(&mm.0) else {
            return Trap::StubDied;
        };
        let data = &mut self.mem.as_mut_slice()[data_off..data_off + PAGE as usize];
        match super::arch::load_regs(st, &regs.gp, &mut self.stats, data) {
            Ok(()) => {}
            Err(super::LoadError::Dead) => return self.mark_dead(mm.0),
            Err(super::LoadError::Refused(e)) => {
                log_line(
                    LogLevel::Warn,
                    format_args!("PTRACE_SETREGS refused guest registers: {e}"),
                );
                return Trap::Exception {
                    sig: 11,
                    code: 0x80,
                    addr: 0,
                };
            }
        }
        st.cur = None;
        let Some(range) = st.trap.and_then(|t| self.slot_range(t.slot)) else {
            return self.mark_dead(mm.0);
        };
        trap::set_state(&self.mem.as_slice()[range.clone()], trap::IDLE);
        if !self.waker.start_running(pid) {
            if self.waker.take_fired() {
                return Trap::Timer;
            }
            let _ = self.waker.take_event();
            return self.host_event();
        }
        // PTRACE_DETACH from the stop, its signal suppressed.
        if ptrace::ptrace_noptr(17, pid, 0, 0).is_err() {
            self.waker.set_running(0);
            return self.mark_dead(mm.0);
        }
        if let Some(ts) = self.stubs.get_mut(&mm.0).and_then(|s| s.trap.as_mut()) {
            ts.detached = true;
        }
        self.trap_park_other(mm);
        self.trap_wait_report(mm, pid, range, regs)
    }

    /// Counts a run of the detached stub of `mm` (`pid`) on umbra's CPU,
    /// and moves it to the spin CPU after `after` of them; moves a stub on
    /// the spin CPU back if its last window of replies had too many cold
    /// wakes (see `Place`). Its handler waits for a reply meanwhile: the
    /// reply wakes it on its new CPU.
    fn trap_place(&mut self, mm: MmId, pid: i32) {
        let Some(t) = self.trap.as_mut() else {
            return;
        };
        let Some(ts) = self.stubs.get_mut(&mm.0).and_then(|s| s.trap.as_mut()) else {
            return;
        };
        let Some(m) = ts.placement.run() else {
            return;
        };
        let cpu = match m {
            Move::ToSpin => self.stub_cpu,
            Move::Back => self.cpu,
        };
        // A failed move (the CPU taken from umbra's cpuset, say) leaves the
        // stub where it is; `--stats` counts it.
        let ok = sys::pin_task_to_cpu(pid, cpu).is_ok();
        if !ok {
            ts.placement.failed(m);
        }
        match m {
            Move::ToSpin if ok => ts.spin = Spin::START,
            Move::ToSpin => t.spin_stats.moves_failed += 1,
            Move::Back => t.spin_stats.returns += ok as u64,
        }
        t.spin_stats.moves += (m == Move::ToSpin) as u64;
    }

    /// Counts a wait for a report of the stub of `mm`, if it is on the
    /// spin CPU: whether umbra's spin saw the report.
    fn trap_count_wait(&mut self, mm: MmId, hit: bool) {
        if let Some(ts) = self.stubs.get_mut(&mm.0).and_then(|s| s.trap.as_mut()) {
            ts.placement.wait(hit);
        }
    }

    /// Runs `ops` in the (detached) stub in a round of their own.
    fn trap_ops_round(
        &mut self,
        mm: MmId,
        pid: i32,
        range: core::ops::Range<usize>,
        ops: &[[u64; 7]],
    ) -> Result<(), HostError> {
        if self.trap_confirm(mm, pid, range.clone()).is_err() {
            return Err(HostError::StubDied);
        }
        let page = &mut self.mem.as_mut_slice()[range.clone()];
        put_ops(page, ops, 1);
        self.stats.batches += 1;
        self.stats.batch_ops += ops.len() as u64;
        self.trap_reply(mm, range.clone(), true);
        if self
            .wait_state(mm, pid, range.clone(), WaitFor::Ops)
            .is_err()
        {
            return Err(HostError::StubDied);
        }
        scrub(&mut self.mem.as_mut_slice()[range.clone()]);
        if ops_failed(&self.mem.as_slice()[range], pid, 1) {
            return Err(HostError::Io);
        }
        Ok(())
    }

    /// Replies to the stub of `mm` (its reply already written in the slot
    /// at `range`): lets its handler spin at its next report if that has
    /// paid lately, and counts whether its last spin did (see `Spin`).
    /// `parked`: `trap_confirm` moved the sleeping handler to the PARK word.
    fn trap_reply(&mut self, mm: MmId, range: core::ops::Range<usize>, parked: bool) {
        let Some(t) = self.trap.as_mut() else {
            return;
        };
        let ts = self.stubs.get_mut(&mm.0).and_then(|s| s.trap.as_mut());
        let Some(ts) = ts.filter(|ts| t.stub_spin > 0 && ts.placement.remote()) else {
            let page = &mut self.mem.as_mut_slice()[range];
            if parked {
                trap::reply_parked(page, 0);
            } else {
                trap::reply(page, 0);
            }
            return;
        };
        // The handler's spin of the round that ends now, if it spun: it
        // still spins if the word is still REPORT.
        let spun = ts.spin.stub_now;
        ts.spin.plan();
        let grant = if ts.spin.stub_now { t.stub_spin } else { 0 };
        if parked {
            // umbra made it sleep: its spin does not count.
            trap::reply_parked(&mut self.mem.as_mut_slice()[range], grant);
            return;
        }
        let hit = trap::reply(&mut self.mem.as_mut_slice()[range], grant);
        if spun {
            Spin::score(&mut ts.spin.stub, hit);
            t.spin_stats.stub_tries += 1;
            t.spin_stats.stub_hits += hit as u64;
        }
    }

    /// When umbra has let the stub of `mm` run: parks the handler of the
    /// stub it ran before, if another one, which may spin for a reply that
    /// will not come soon (its guest thread blocked, or was preempted); it
    /// would hold the CPU the stub of `mm` needs. After the reply, not
    /// before: the woken stub is then queued on that CPU before the parked
    /// one sleeps, so the CPU does not go idle in between (waking an idle
    /// CPU of a virtual machine is slow).
    fn trap_park_other(&mut self, mm: MmId) {
        let Some(t) = self.trap.as_mut() else {
            return;
        };
        // aarch64, armv7: the handler never spins, and sleeps on REPORT
        // (parking it would only make its FUTEX_WAIT return at once).
        if t.stub_spin == 0 || !trap::HANDLER_SPINS {
            return;
        }
        let last = t.last.replace(mm);
        let Some(last) = last.filter(|&l| l != mm) else {
            return;
        };
        if let Some(r) = self
            .detached(last)
            .and_then(|(_, slot)| self.slot_range(slot))
        {
            trap::park(&self.mem.as_slice()[r]);
        }
    }

    /// Before a reply that carries the cookie: parks the stub's handler if
    /// it spins and waits until it sleeps in its FUTEX_WAIT
    /// (`trap::confirm_sleeper`), so that no guest code runs while the
    /// cookie is in the control page. A guest that forged its report runs
    /// on instead: its next trap or kick enters the handler, which then
    /// sleeps. One that does neither (it blocked the kick) is killed once
    /// it used 50 ms of CPU time in 100 ms or more, or after 5 s (`Watch`,
    /// the `KILL_` bounds), not held as in `trap_hold`: the kernel has served its
    /// forged report, and the mapping ops of this reply (unmaps of frames
    /// it may hand to another process) are not in its stub yet. Err: the
    /// stub is gone or was killed.
    ///
    /// A stub on umbra's own CPU (not on the spin CPU, `Place`) whose
    /// handler is not asleep yet was preempted by umbra on its way there:
    /// its report's FUTEX_WAKE woke umbra, which the host scheduler ran at
    /// once. Spinning cannot let it go on; a sched_yield does, and the
    /// handler's FUTEX_WAIT gives the CPU back. (pthread_create + join,
    /// two replies with the thread stack's mapping ops each: the spin
    /// that was here ran out at nearly every one of them.) Then, or after
    /// the spin on the spin CPU, the stub is watched as above.
    fn trap_confirm(
        &mut self,
        mm: MmId,
        pid: i32,
        range: core::ops::Range<usize>,
    ) -> Result<(), ()> {
        let local = !self
            .stubs
            .get(&mm.0)
            .and_then(|s| s.trap)
            .is_some_and(|ts| ts.placement.remote());
        let mut watch: Option<Watch> = None;
        for i in 0u32.. {
            let page = &self.mem.as_slice()[range.clone()];
            if trap::HANDLER_SPINS {
                trap::park(page);
            }
            if trap::confirm_sleeper(page) {
                if let Some(t) = self.trap.as_mut() {
                    t.spin_stats.confirms += 1;
                    t.spin_stats.confirm_retries += u64::from(i);
                }
                return Ok(());
            }
            // The handler is on its way into FUTEX_WAIT. A few yields (one
            // did at nearly every reply): a guest that forged its report
            // and runs on may take a host time slice at each.
            if local && i < 4 {
                sys::yield_cpu();
                continue;
            }
            if !local && i < 32 {
                for _ in 0..64 {
                    core::hint::spin_loop();
                }
                continue;
            }
            let w = watch.get_or_insert_with(|| Watch::new(pid, true));
            if w.overdue(page) {
                log_line(
                    LogLevel::Warn,
                    format_args!("stub {pid} did not wait for its reply; killed"),
                );
                return Err(());
            }
            if matches!(
                ptrace::wait_nohang(pid),
                Ok(Some(WaitStatus::Exited(_))) | Ok(Some(WaitStatus::Signaled(_))) | Err(_)
            ) {
                return Err(());
            }
            // Let the handler run (one CPU), or the guest to its next trap.
            let now = sys::clock_ns(sys::CLOCK_MONOTONIC);
            let _ = sys::sleep_until_mono(now + if i < 64 { 10_000 } else { 1_000_000 });
        }
        Err(())
    }

    /// umbra's spin for the report of the stub of `mm`, if it pays lately:
    /// whether the report came.
    fn trap_spin(&mut self, mm: MmId, range: core::ops::Range<usize>) -> bool {
        let Some(t) = self.trap.as_mut() else {
            return false;
        };
        if t.umbra_spin == 0 {
            return false;
        }
        let Some(ts) = self.stubs.get_mut(&mm.0).and_then(|s| s.trap.as_mut()) else {
            return false;
        };
        if !ts.spin.umbra_now || !ts.placement.remote() {
            return false;
        }
        let (hit, spun) = trap::spin_for_report(&self.mem.as_slice()[range], t.umbra_spin);
        t.spun += u64::from(spun);
        Spin::score(&mut ts.spin.umbra, hit);
        t.spin_stats.umbra_tries += 1;
        t.spin_stats.umbra_hits += hit as u64;
        hit
    }

    /// Waits for the stub to report (the state word REPORT or
    /// REPORT_WAITING): a bounded spin first, if it pays, then FUTEX_WAIT.
    /// While the guest runs (`Running`) and a kick is outstanding, or from
    /// the start for a held stub, the stub is watched (`Watch`) and given up
    /// on when it is overdue. Err: the stub is gone, or overdue.
    fn wait_state(
        &mut self,
        mm: MmId,
        pid: i32,
        range: core::ops::Range<usize>,
        what: WaitFor,
    ) -> Result<(), WaitEnd> {
        let hit = self.trap_spin(mm, range.clone());
        self.trap_count_wait(mm, hit);
        if hit {
            return Ok(());
        }
        let mut watch = (what == WaitFor::Held).then(|| Watch::new(pid, false));
        loop {
            if trap::reported(trap::state(&self.mem.as_slice()[range.clone()])) {
                return Ok(());
            }
            let tick = if watch.is_some() {
                WATCH_TICK_NS
            } else {
                TICK_NS
            };
            trap::sleep_for_report(&self.mem.as_slice()[range.clone()], tick);
            if trap::reported(trap::state(&self.mem.as_slice()[range.clone()])) {
                return Ok(());
            }
            match ptrace::wait_nohang(pid) {
                Ok(Some(WaitStatus::Exited(_))) | Ok(Some(WaitStatus::Signaled(_))) | Err(_) => {
                    return Err(WaitEnd::Gone)
                }
                _ => {}
            }
            if watch.is_none() && what == WaitFor::Running && self.waker.pending() {
                watch = Some(Watch::new(pid, false));
            }
            if let Some(w) = watch.as_mut() {
                let page = &self.mem.as_slice()[range.clone()];
                if w.overdue(page) && !trap::reported(trap::state(page)) {
                    return Err(WaitEnd::Overdue);
                }
            }
        }
    }

    /// The trap a preempted guest thread gives the kernel: the timer's, or
    /// the host event's.
    fn trap_preempted(&mut self) -> Trap {
        if self.waker.take_fired() {
            return Trap::Timer;
        }
        if self.waker.take_event() {
            return self.host_event();
        }
        Trap::Timer
    }

    /// Holds the stub of `mm`, overdue with a kick (SECURITY.md S5): stops
    /// it with SIGSTOP (which no signal mask blocks) and gives the kernel
    /// the thread as preempted at `known`, the registers it last had in
    /// umbra's hands; its real ones stay in the stub. The kernel runs other
    /// threads meanwhile; its next `run_user` of `mm` lets the stub go on
    /// (`trap_unhold`).
    fn trap_hold(&mut self, mm: MmId, pid: i32, regs: &mut UserRegs, known: GpRegs) -> Trap {
        let _ = ptrace::kill(pid, SIGSTOP);
        regs.gp = known;
        if let Some(ts) = self.stubs.get_mut(&mm.0).and_then(|s| s.trap.as_mut()) {
            ts.held = Some(known);
        }
        self.trap_preempted()
    }

    /// `run_user` of a held stub (`trap_hold`), to run the thread with
    /// `regs`: lets it go on (SIGCONT) and waits for the report its
    /// outstanding kick makes, watched as before; overdue again, it is
    /// stopped again and the thread is preempted again, not run. With the
    /// report, a thread the kernel gave back unchanged goes on from the
    /// reported registers, or takes the reported trap; otherwise (the
    /// kernel delivered a signal, or runs another thread of the process)
    /// the reported registers are dropped and `regs` run, with the FP state
    /// the kernel had put in the trap frame. None: go on with the reply. A stub whose mappings changed while it was held is
    /// killed: it would run guest code with the old ones.
    fn trap_unhold(
        &mut self,
        mm: MmId,
        pid: i32,
        slot: u32,
        range: core::ops::Range<usize>,
        regs: &mut UserRegs,
    ) -> Option<Trap> {
        let given = self.stubs.get(&mm.0)?.trap?.held?;
        if self
            .stubs
            .get(&mm.0)
            .is_some_and(|st| !st.pending.is_empty())
        {
            log_line(
                LogLevel::Warn,
                format_args!("stub {pid}: its mappings changed while it was held; killed"),
            );
            return Some(self.mark_dead(mm.0));
        }
        if !self.waker.start_running(pid) {
            return Some(self.trap_preempted());
        }
        // The FP state the kernel left in the trap frame for the thread it
        // runs now (another thread's after a switch): the report overwrites
        // the frame with the stub's own.
        let mut fp = Vec::new();
        let fp_ok = matches!(self.trap_xstate_save(mm, &mut fp), Some(Ok(())));
        let _ = ptrace::kill(pid, SIGCONT);
        let r = self.wait_state(mm, pid, range.clone(), WaitFor::Held);
        self.waker.set_running(0);
        match r {
            Ok(()) => {}
            Err(WaitEnd::Gone) => return Some(self.mark_dead(mm.0)),
            Err(WaitEnd::Overdue) => {
                let _ = ptrace::kill(pid, SIGSTOP);
                return Some(self.trap_preempted());
            }
        }
        if let Some(ts) = self.stubs.get_mut(&mm.0).and_then(|s| s.trap.as_mut()) {
            ts.held = None;
        }
        let rep = match self.trap_check_report(mm, pid, range) {
            Ok(rep) => rep,
            Err(t) => return Some(t),
        };
        if regs.gp != given {
            // The thread that was held moved on to the reported registers
            // (it took the kick: a thread in its handler's mapping ops, or
            // in a long page fault): kept for when the kernel runs it again.
            let mut now_fp = Vec::new();
            if self.is_kick(&rep) && matches!(self.trap_xstate_save(mm, &mut now_fp), Some(Ok(())))
            {
                if let Some(t) = self.trap.as_mut() {
                    if t.moved.len() >= MOVED_MAX {
                        t.moved.remove(0);
                    }
                    t.moved.push((
                        slot,
                        Moved {
                            at: given,
                            now: rep.gp,
                            fp: now_fp,
                        },
                    ));
                }
            }
            if fp_ok && !matches!(self.trap_xstate_load(mm, &fp), Some(Ok(()))) {
                return Some(self.mark_dead(mm.0));
            }
            return None;
        }
        regs.gp = rep.gp;
        if self.is_kick(&rep) {
            return None;
        }
        Some(rep.trap(regs))
    }

    /// Before a reply with `regs`: a thread that moved on while its stub was
    /// held (`trap_unhold`) and that the kernel now runs at the registers
    /// umbra gave it then goes on from where it really is, with its FP
    /// state. Err: the trap frame is gone.
    fn trap_moved(&mut self, mm: MmId, slot: u32, regs: &mut UserRegs) -> Result<(), ()> {
        let Some(t) = self.trap.as_mut() else {
            return Ok(());
        };
        let Some(i) = t
            .moved
            .iter()
            .position(|m| m.0 == slot && m.1.at == regs.gp)
        else {
            return Ok(());
        };
        let m = t.moved.remove(i).1;
        regs.gp = m.now;
        match self.trap_xstate_load(mm, &m.fp) {
            Some(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    /// Whether a report is of a signal sent by a process (our kick, or from
    /// outside), which the guest does not see.
    fn is_kick(&self, rep: &frame::Report) -> bool {
        (rep.signo == KICK_SIG && rep.code == SI_TKILL && rep.pid == self.my_pid) || rep.code <= 0
    }

    /// Takes the report in the slot at `range`, checked: Err, the stub was
    /// killed for it (a failed mapping op, a report outside its signal
    /// stack or from the handler's code).
    fn trap_check_report(
        &mut self,
        mm: MmId,
        pid: i32,
        range: core::ops::Range<usize>,
    ) -> Result<frame::Report, Trap> {
        scrub(&mut self.mem.as_mut_slice()[range.clone()]);
        let page = &self.mem.as_slice()[range];
        if ops_failed(page, pid, 0) {
            return Err(self.mark_dead(mm.0));
        }
        let Some(rep) = read_report(page) else {
            log_line(
                LogLevel::Warn,
                format_args!("stub {pid}: a report outside its signal stack"),
            );
            return Err(self.mark_dead(mm.0));
        };
        if trap::is_cookie_code(frame::pc(&rep.gp)) {
            // The handler runs with every signal blocked: this is a
            // guest that jumped into it (or into the op loop) and may
            // hold the cookie in its registers.
            log_line(
                LogLevel::Warn,
                format_args!("stub {pid}: a report from the trap handler's code"),
            );
            return Err(self.mark_dead(mm.0));
        }
        Ok(rep)
    }

    /// Waits for the report of a running guest and turns it into a trap.
    /// A stub overdue with a kick is held (`trap_hold`).
    fn trap_wait_report(
        &mut self,
        mm: MmId,
        pid: i32,
        range: core::ops::Range<usize>,
        regs: &mut UserRegs,
    ) -> Trap {
        // The registers the guest had when umbra last had them.
        let mut known = regs.gp;
        loop {
            let r = self.wait_state(mm, pid, range.clone(), WaitFor::Running);
            self.waker.set_running(0);
            match r {
                Ok(()) => {}
                Err(WaitEnd::Gone) => return self.mark_dead(mm.0),
                Err(WaitEnd::Overdue) => return self.trap_hold(mm, pid, regs, known),
            }
            let rep = match self.trap_check_report(mm, pid, range.clone()) {
                Ok(rep) => rep,
                Err(t) => return t,
            };
            if self.is_kick(&rep) {
                // Sent by a process (our kick, or from outside): suppressed.
                if self.waker.take_fired() {
                    regs.gp = rep.gp;
                    return Trap::Timer;
                }
                if self.waker.take_event() {
                    regs.gp = rep.gp;
                    return self.host_event();
                }
                // A kick that came after the trap it was meant to cause:
                // resume where the guest is.
                if !self.waker.start_running(pid) {
                    regs.gp = rep.gp;
                    let _ = self.waker.take_fired();
                    let _ = self.waker.take_event();
                    return Trap::Timer;
                }
                let page = &mut self.mem.as_mut_slice()[range.clone()];
                put_ops(page, &[], 0);
                frame::reply_tls(page, &rep.gp);
                known = rep.gp;
                self.trap_reply(mm, range.clone(), false);
                continue;
            }
            regs.gp = rep.gp;
            return rep.trap(regs);
        }
    }

    /// `mm_flush` of a detached stub: a round of its own.
    pub(super) fn trap_flush(&mut self, mm: MmId) -> Option<Result<(), HostError>> {
        let (pid, slot) = self.detached(mm)?;
        let range = self.slot_range(slot)?;
        let mut ops = compile_ops(self.stubs.get_mut(&mm.0)?);
        if !ops.is_empty() && self.stubs.get(&mm.0)?.trap?.held.is_some() {
            // Held (`trap_hold`): it runs guest code when let go, before
            // any reply could change its mappings (`trap_unhold`).
            log_line(
                LogLevel::Warn,
                format_args!("stub {pid}: its mappings changed while it was held; killed"),
            );
            self.mark_dead(mm.0);
            return Some(Err(HostError::StubDied));
        }
        while !ops.is_empty() {
            let rest = ops.split_off(ops.len().min(trap::MAX_OPS));
            if let Err(e) = self.trap_ops_round(mm, pid, range.clone(), &ops) {
                self.mark_dead(mm.0);
                return Some(Err(e));
            }
            ops = rest;
        }
        Some(Ok(()))
    }
}

/// aarch64, armv7: the whole FP state of a trap frame is the FP blob (no
/// wider state is in use or promised there), at `frame_fp`.
#[cfg(not(target_arch = "x86_64"))]
impl PtraceHost {
    /// The whole FP state of the trap frame.
    pub(in crate::host) fn trap_xstate_save(
        &mut self,
        mm: MmId,
        buf: &mut Vec<u8>,
    ) -> Option<Result<(), HostError>> {
        self.detached(mm)?;
        let Some(at) = self.frame_fp(mm) else {
            return Some(Err(HostError::Io));
        };
        buf.clear();
        buf.extend_from_slice(&self.mem.as_slice()[at..at + frame::FP_LEN]);
        Some(Ok(()))
    }

    /// Loads a state `trap_xstate_save` saved into the trap frame.
    pub(in crate::host) fn trap_xstate_load(
        &mut self,
        mm: MmId,
        buf: &[u8],
    ) -> Option<Result<(), HostError>> {
        self.trap_fp_set(mm, buf)
    }
}

/// Clears the cookie words of a control page when a report came: the
/// handler did already, unless a guest that jumped into it made it report
/// before its op loop ran (SECURITY.md S4).
/// Whether the stub's reply kind in `page` is not `ok`, that is, one of the
/// mapping ops umbra sent it failed: says which, and with what error.
fn ops_failed(page: &[u8], pid: i32, ok: u64) -> bool {
    if rd(page, trap::ctrl::RKIND) == ok {
        return false;
    }
    log_line(
        LogLevel::Error,
        format_args!(
            "mapping update of stub {pid} failed: op {} gave {}",
            rd(page, trap::ctrl::DONE),
            rd(page, trap::ctrl::LAST) as i64
        ),
    );
    true
}

fn scrub(page: &mut [u8]) {
    wr(page, trap::ctrl::K1, 0);
    wr(page, trap::ctrl::K2, 0);
}

/// Writes `ops` (at most `MAX_OPS`) and the reply kind into a control page,
/// with the cookie when there are ops. With the cookie, only after
/// `trap_confirm`.
fn put_ops(page: &mut [u8], ops: &[[u64; 7]], kind: u64) {
    use trap::ctrl;
    for (i, op) in ops.iter().enumerate() {
        let at = ctrl::OPS + i * stub::BATCH_RECORD;
        for (j, w) in op.iter().enumerate() {
            wr(page, at + 8 * j, *w);
        }
    }
    wr(page, ctrl::NOPS, ops.len() as u64);
    wr(page, ctrl::KIND, kind);
    let (k1, k2) = if ops.is_empty() {
        (0, 0)
    } else {
        trap::cookie()
    };
    wr(page, ctrl::K1, k1);
    wr(page, ctrl::K2, k2);
}

impl PtraceHost {
    /// `--stats`: the spin budgets and how the spins went.
    pub(super) fn trap_stats_line(&self) -> Option<String> {
        let t = self.trap.as_ref()?;
        let s = t.spin_stats;
        let confirms = format!(
            "{} replies with mapping ops found their handler asleep after {} more looks",
            s.confirms, s.confirm_retries
        );
        if t.umbra_spin == 0 {
            return Some(format!("no spin; {confirms}"));
        }
        Some(format!(
            "spins of {} and {} pause iterations: umbra saw {} of {} reports, the stubs {} of {} replies; {} stubs moved to CPU {} after {} runs ({} failed), {} moved back; {confirms}",
            t.umbra_spin, t.stub_spin, s.umbra_hits, s.umbra_tries, s.stub_hits, s.stub_tries,
            s.moves - s.moves_failed, self.stub_cpu, t.move_after, s.moves_failed, s.returns
        ))
    }

    /// The ptrace-free counters of this platform are the shared ones; this
    /// names the platform for messages and tests.
    pub fn platform(&self) -> &'static str {
        if self.trap.is_some() {
            "seccomp"
        } else {
            "ptrace"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Move, Place, Placement, Spin, MOVE_AFTER, MOVE_AFTER_MAX, WINDOW};

    fn round(s: &mut Spin, umbra_hit: bool, stub_hit: bool) {
        s.plan();
        if s.umbra_now {
            Spin::score(&mut s.umbra, umbra_hit);
        }
        if s.stub_now {
            Spin::score(&mut s.stub, stub_hit);
        }
    }

    #[test]
    fn spins_that_pay_go_on() {
        let mut s = Spin::START;
        for _ in 0..1000 {
            round(&mut s, true, true);
            assert!(s.umbra_now && s.stub_now);
        }
        // One failure in three keeps both sides spinning.
        for i in 0..999 {
            round(&mut s, i % 3 != 0, i % 3 != 1);
            assert!(s.umbra_now && s.stub_now);
        }
    }

    #[test]
    fn a_side_whose_spins_fail_stops_and_tries_again_alone() {
        let mut s = Spin::START;
        // umbra's spins fail (a guest that computes between its calls), the
        // handler's pay: umbra stops after its score runs out.
        let mut umbra_spins = 0;
        for _ in 0..64 * 10 {
            round(&mut s, false, true);
            umbra_spins += s.umbra_now as u32;
            assert!(s.stub_now);
        }
        // START's score, then BURST tries every PROBE rounds.
        assert!(umbra_spins <= 4 + 10 * 3, "{umbra_spins}");
        assert!(umbra_spins > 4, "{umbra_spins}");
    }

    #[test]
    fn both_sides_stopped_try_again_together() {
        let mut s = Spin::START;
        for _ in 0..20 {
            round(&mut s, false, false);
        }
        assert!(!s.umbra_now && !s.stub_now);
        let mut tries = 0;
        for _ in 0..Spin::PROBE as usize * 4 {
            round(&mut s, false, false);
            assert_eq!(s.umbra_now, s.stub_now);
            tries += s.umbra_now as u32;
        }
        assert!((4..=4 * Spin::BURST as u32).contains(&tries), "{tries}");
        // A probe that pays brings the spin back.
        while !s.umbra_now {
            round(&mut s, true, true);
        }
        for _ in 0..100 {
            round(&mut s, true, true);
            assert!(s.umbra_now && s.stub_now);
        }
    }

    /// Runs a stub on the spin CPU for `n` runs, one wait each, `miss`
    /// telling which of umbra's spins failed; the moves asked for.
    fn waits(p: &mut Placement, n: usize, miss: impl Fn(usize) -> bool) -> Vec<Move> {
        let mut moves = Vec::new();
        for i in 0..n {
            moves.extend(p.run());
            p.wait(!miss(i));
        }
        moves
    }

    #[test]
    fn a_short_lived_stub_stays_on_umbras_cpu() {
        let mut p = Placement::new(true, MOVE_AFTER);
        for _ in 0..MOVE_AFTER - 1 {
            assert_eq!(p.run(), None);
            assert!(!p.remote());
        }
        assert_eq!(p.run(), Some(Move::ToSpin));
        assert!(p.remote());
    }

    #[test]
    fn without_a_spin_cpu_or_with_a_failed_move_a_stub_never_moves() {
        let mut p = Placement::new(false, MOVE_AFTER);
        assert_eq!(waits(&mut p, 10_000, |_| false), []);
        let mut p = Placement::new(true, 0);
        assert_eq!(p.run(), Some(Move::ToSpin));
        p.failed(Move::ToSpin);
        assert_eq!(p.place, Place::Stay);
        assert_eq!(waits(&mut p, 10_000, |_| true), []);
    }

    #[test]
    fn a_stub_whose_spins_pay_stays_and_comes_back_soon_after_a_burst() {
        let mut p = Placement::new(true, 0);
        assert_eq!(p.run(), Some(Move::ToSpin));
        // A pipe ping-pong: nearly every report seen by the spin, and now
        // and then a burst of misses (here 8 in every 1000 waits).
        let moves = waits(&mut p, 100_000, |i| i % 1000 < 8);
        assert_eq!(moves, []);
        assert!(p.remote());
        // A burst as long as a window sends it back, and it tries again
        // after the first count of runs, its windows before having paid.
        let w = WINDOW as usize;
        let moves = waits(&mut p, 3 * w, |i| i < w);
        assert_eq!(moves, [Move::Back, Move::ToSpin]);
        assert!(p.remote());
        assert_eq!(p.after, p.first);
    }

    #[test]
    fn a_stub_that_waits_long_goes_back_and_tries_again_ever_later() {
        let mut p = Placement::new(true, MOVE_AFTER);
        // A `sh` that forks and waits: 3 in 8 of umbra's spins miss.
        let w = WINDOW as usize;
        let moves = waits(&mut p, MOVE_AFTER as usize + w, |i| i % 8 < 3);
        assert_eq!(moves, [Move::ToSpin, Move::Back]);
        assert!(!p.remote());
        // Then four times as many runs on umbra's CPU before the next try,
        // and so on, until it stays for good.
        let mut after = MOVE_AFTER * 4;
        while after < MOVE_AFTER_MAX {
            for _ in 0..after - 1 {
                assert_eq!(p.run(), None);
            }
            assert_eq!(p.run(), Some(Move::ToSpin));
            let back = waits(&mut p, w + 1, |i| i % 8 < 3);
            assert_eq!(back, [Move::Back]);
            after *= 4;
        }
        assert_eq!(p.place, Place::Stay);
        assert_eq!(waits(&mut p, 1_000_000, |_| true), []);
    }

    #[test]
    fn a_failed_move_back_keeps_the_stub_on_the_spin_cpu() {
        let mut p = Placement::new(true, 0);
        assert_eq!(p.run(), Some(Move::ToSpin));
        assert_eq!(waits(&mut p, WINDOW as usize + 1, |_| true), [Move::Back]);
        p.failed(Move::Back);
        assert!(p.remote());
        // It is counted again, and tried again after another window.
        assert_eq!(waits(&mut p, WINDOW as usize + 1, |_| true), [Move::Back]);
    }
}
