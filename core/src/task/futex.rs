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
