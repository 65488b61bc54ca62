//! Futex waiters. A thread blocked in futex(2) carries its queue entry in its
//! [`Thread`](super::Thread): the key it waits on, its bitset and its place in
//! the queue (a sequence number, so wakes go first-in first-out as Linux's do
//! for waiters of one priority). Wakes scan the blocked threads for the key;
//! the guest is uniprocessor and the waiters few, and nothing has to be kept
//! consistent with a separate table when a waiter exits or is interrupted.

use crate::host::MmId;

/// What identifies a futex word. Linux keys a private futex, and a shared one
/// in private memory, by address space and address, and a futex in shared
/// memory by the page (here the frame of the memory file) and offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexKey {
    Private { mm: MmId, addr: u64 },
    Shared { frame: u32, offset: u32 },
}

/// How a futex wait stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexState {
    /// Queued; nothing woke it yet.
    Waiting,
    /// A wake (or a requeue to a PI futex that was free) ended the wait:
    /// the call returns 0.
    Woken,
}

/// What kind of wait a queue entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexKind {
    /// FUTEX_WAIT and FUTEX_WAIT_BITSET.
    Plain,
    /// FUTEX_LOCK_PI and FUTEX_LOCK_PI2: woken owning the lock.
    Pi,
    /// FUTEX_WAIT_REQUEUE_PI: waits on a plain futex to be requeued to the
    /// PI futex `target`.
    RequeuePi { target: FutexKey },
}

/// A thread's entry in a futex queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FutexWaiter {
    pub key: FutexKey,
    pub bitset: u32,
    /// Its place in the queue: smaller is older.
    pub seq: u64,
    pub kind: FutexKind,
    pub state: FutexState,
    /// The monotonic deadline (host ns) of a timed wait.
    pub deadline: Option<u64>,
}

/// How a thread's futex wakes have gone, for the scheduler's hand-off (see
/// `kernel::handoff`): a thread that wakes a partner and then at once waits
/// for its answer (a ping-pong) lets the partner run straight away, so the
/// answer is there when it looks and its wait costs no trap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncWake {
    /// The thread it last woke with FUTEX_WAKE (0: none).
    pub last_woke: u32,
    /// It woke a waiter and went on itself: when (host ns) and at which of
    /// the kernel's trap counts, until its next futex wait says whether that
    /// wait came at once.
    pub probe: Option<(u64, u64)>,
    /// The last probe found it waiting right after its wake: its wakes hand
    /// off.
    pub sync: bool,
    /// Hand-offs since the last probe.
    pub since_probe: u8,
}
