//! futex(2) and futex_time64: every operation of Linux's — WAIT, WAKE,
//! REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET, WAKE_BITSET and the PI
//! operations LOCK_PI, LOCK_PI2, UNLOCK_PI, TRYLOCK_PI, WAIT_REQUEUE_PI and
//! CMP_REQUEUE_PI — with FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME.
//!
//! The kernel runs one guest thread at a time, so each operation is atomic
//! with respect to the guest as Linux's hash-bucket lock makes it. A waiter
//! parks with `Wait::Event` and its queue entry in its thread
//! (`Thread::futex`, see `task::futex`); it is served again whenever the
//! kernel's epoch moves, and returns once a wake marked its entry, its
//! deadline passed, or a signal interrupted it (the signal code drops the
//! entry). Errors, the order of the checks and the return values follow
//! kernel/futex/ of Linux 6.x (futex(2)).

use super::uabi::{read_timespec, TimeAbi};
use super::Outcome;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::{UserInPtr, UserOutPtr};
use crate::task::futex::{FutexKey, FutexKind, FutexState, FutexWaiter};
use crate::task::{Pid, Restart, ThreadState, Wait};
use crate::{KResult, SysResult};
use alloc::vec::Vec;
use umbra_abi::Errno;

pub const FUTEX_WAIT: u32 = 0;
pub const FUTEX_WAKE: u32 = 1;
pub const FUTEX_REQUEUE: u32 = 3;
pub const FUTEX_CMP_REQUEUE: u32 = 4;
pub const FUTEX_WAKE_OP: u32 = 5;
pub const FUTEX_LOCK_PI: u32 = 6;
pub const FUTEX_UNLOCK_PI: u32 = 7;
pub const FUTEX_TRYLOCK_PI: u32 = 8;
pub const FUTEX_WAIT_BITSET: u32 = 9;
pub const FUTEX_WAKE_BITSET: u32 = 10;
pub const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
pub const FUTEX_CMP_REQUEUE_PI: u32 = 12;
pub const FUTEX_LOCK_PI2: u32 = 13;
pub const FUTEX_PRIVATE_FLAG: u32 = 128;
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_CMD_MASK: u32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
const MATCH_ANY: u32 = u32::MAX;
/// The PI futex word: the owner's tid and two flag bits.
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

const NS: i64 = 1_000_000_000;

/// How the word's futex is shared: FUTEX_PRIVATE_FLAG or not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Private,
    Shared,
}

/// futex(2) with its six raw arguments (uaddr, op, val, timeout or val2,
/// uaddr2, val3); `t` says how wide the timespec is (futex_time64 on 32-bit
/// arches).
pub fn sys_futex<H: Host>(k: &mut Kernel<H>, a: [u64; 6], t: TimeAbi) -> Outcome {
    let (uaddr, op, val, utime, uaddr2, val3) =
        (a[0], a[1] as u32, a[2] as u32, a[3], a[4], a[5] as u32);
    let retry = matches!(k.proc().thread.state, ThreadState::Blocked(_));
    if retry {
        if let Some(w) = k.proc().thread.futex {
            return settle(k, w);
        }
    }
    // A stale entry (a restarted call) leaves the queue.
    k.proc().thread.futex = None;
    match futex_op(k, uaddr, op, val, utime, uaddr2, val3, t) {
        Ok(Done::Ret(v)) => Outcome::Ret(Ok(v)),
        Ok(Done::Wait(w, restart)) => {
            k.proc().thread.futex = Some(w);
            let out = settle_block(k, w, restart);
            if matches!(out, Outcome::Block(_)) {
                k.futex_waits();
            }
            out
        }
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// What a futex operation came to.
enum Done {
    Ret(usize),
    /// Queue the caller with this entry; a signal restarts or interrupts the
    /// call as `Restart` says.
    Wait(FutexWaiter, Restart),
}

/// A blocked waiter served again: returns once woken or timed out.
fn settle<H: Host>(k: &mut Kernel<H>, w: FutexWaiter) -> Outcome {
    if w.state == FutexState::Woken {
        k.proc().thread.futex = None;
        return Outcome::Ret(Ok(0));
    }
    let restart = match k.proc().thread.state {
        ThreadState::Blocked(Wait::Event { restart, .. }) => restart,
        _ => Restart::WithSaRestart,
    };
    settle_block(k, w, restart)
}

fn settle_block<H: Host>(k: &mut Kernel<H>, w: FutexWaiter, restart: Restart) -> Outcome {
    if w.deadline.is_some_and(|d| k.host.now_mono() >= d) {
        k.proc().thread.futex = None;
        return Outcome::Ret(Err(Errno::ETIMEDOUT));
    }
    Outcome::Block(Wait::Event {
        deadline: w.deadline,
        restart,
    })
}

/// Whether the operation takes a timeout in its fourth argument.
fn has_timeout(cmd: u32) -> bool {
    matches!(
        cmd,
        FUTEX_WAIT | FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI
    )
}

/// The host monotonic deadline of the timeout at `utime`: relative for
/// FUTEX_WAIT, absolute on CLOCK_REALTIME for LOCK_PI and where
/// FUTEX_CLOCK_REALTIME asks for it, absolute on CLOCK_MONOTONIC otherwise.
fn deadline<H: Host>(
    k: &mut Kernel<H>,
    cmd: u32,
    op: u32,
    utime: u64,
    t: TimeAbi,
) -> KResult<Option<u64>> {
    if utime == 0 || !has_timeout(cmd) {
        return Ok(None);
    }
    let ts = read_timespec(k, utime, t)?;
    if ts.tv_sec < 0 || !(0..NS).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    let ns = (ts.tv_sec as u64)
        .saturating_mul(NS as u64)
        .saturating_add(ts.tv_nsec as u64);
    let now = k.host.now_mono();
    Ok(Some(if cmd == FUTEX_WAIT {
        now.saturating_add(ns)
    } else if cmd == FUTEX_LOCK_PI || op & FUTEX_CLOCK_REALTIME != 0 {
        now.saturating_add(ns.saturating_sub(k.host.now_real()))
    } else {
        // The guest's CLOCK_MONOTONIC starts at boot.
        ns.saturating_add(k.boot_time)
    }))
}

#[expect(clippy::too_many_arguments, reason = "futex(2) has six arguments")]
fn futex_op<H: Host>(
    k: &mut Kernel<H>,
    uaddr: u64,
    op: u32,
    val: u32,
    utime: u64,
    uaddr2: u64,
    val3: u32,
    t: TimeAbi,
) -> KResult<Done> {
    let cmd = op & FUTEX_CMD_MASK;
    let scope = if op & FUTEX_PRIVATE_FLAG != 0 {
        Scope::Private
    } else {
        Scope::Shared
    };
    let dl = deadline(k, cmd, op, utime, t)?;
    if op & FUTEX_CLOCK_REALTIME != 0
        && !matches!(
            cmd,
            FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI | FUTEX_LOCK_PI2
        )
    {
        return Err(Errno::ENOSYS);
    }
    // The fourth argument is a count for the requeue and wake-op calls.
    let val2 = utime as u32;
    match cmd {
        FUTEX_WAIT => wait(k, uaddr, scope, val, dl, MATCH_ANY),
        FUTEX_WAIT_BITSET => wait(k, uaddr, scope, val, dl, val3),
        FUTEX_WAKE => wake(k, uaddr, scope, val, MATCH_ANY).map(Done::Ret),
        FUTEX_WAKE_BITSET => wake(k, uaddr, scope, val, val3).map(Done::Ret),
        FUTEX_REQUEUE => requeue(k, uaddr, uaddr2, scope, val, val2, None, false).map(Done::Ret),
        FUTEX_CMP_REQUEUE => {
            requeue(k, uaddr, uaddr2, scope, val, val2, Some(val3), false).map(Done::Ret)
        }
        FUTEX_CMP_REQUEUE_PI => {
            requeue(k, uaddr, uaddr2, scope, val, val2, Some(val3), true).map(Done::Ret)
        }
        FUTEX_WAKE_OP => wake_op(k, uaddr, uaddr2, scope, val, val2, val3).map(Done::Ret),
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 => lock_pi(k, uaddr, scope, dl, Lock::Wait),
        FUTEX_TRYLOCK_PI => lock_pi(k, uaddr, scope, None, Lock::Try),
        FUTEX_UNLOCK_PI => unlock_pi(k, uaddr, scope).map(Done::Ret),
        FUTEX_WAIT_REQUEUE_PI => wait_requeue_pi(k, uaddr, uaddr2, scope, val, dl),
        _ => Err(Errno::ENOSYS),
    }
}

/// The key of the futex word at `addr`: EINVAL unless 4-byte aligned. A
/// private key needs no access to the memory (as Linux, a private wake of an
/// unmapped word wakes nobody); a shared one reads the page (EFAULT).
fn key<H: Host>(k: &mut Kernel<H>, addr: u64, scope: Scope) -> KResult<FutexKey> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let mm = k.proc().mm.id;
    let private = FutexKey::Private { mm, addr };
    if scope == Scope::Private {
        return Ok(private);
    }
    let (p, host, frames, _) = k.parts();
    Ok(match p.mm.futex_frame(frames, host, addr)? {
        Some(f) => FutexKey::Shared {
            frame: f.0,
            offset: (addr % crate::config::PAGE_SIZE as u64) as u32,
        },
        None => private,
    })
}

fn get<H: Host>(k: &mut Kernel<H>, addr: u64) -> KResult<u32> {
    k.user().read(UserInPtr::<u32>::new(addr))
}

fn put<H: Host>(k: &mut Kernel<H>, addr: u64, v: u32) -> KResult<()> {
    k.user().write(UserOutPtr::<u32>::new(addr), &v)
}

/// A new queue entry for the caller.
fn entry<H: Host>(
    k: &mut Kernel<H>,
    key: FutexKey,
    bitset: u32,
    kind: FutexKind,
    deadline: Option<u64>,
) -> FutexWaiter {
    k.futex_seq += 1;
    FutexWaiter {
        key,
        bitset,
        seq: k.futex_seq,
        kind,
        state: FutexState::Waiting,
        deadline,
    }
}

/// The waiters queued on `key`, oldest first.
/// The waiters (by tid) queued on `key`, oldest first.
pub(crate) fn queue<H: Host>(k: &Kernel<H>, key: FutexKey) -> Vec<Pid> {
    let mut q: Vec<(u64, Pid)> = k
        .procs
        .values()
        .flat_map(|p| p.threads())
        .filter_map(|t| match t.futex {
            Some(w) if w.key == key && w.state == FutexState::Waiting => Some((w.seq, t.tid)),
            _ => None,
        })
        .collect();
    crate::sort::sort(&mut q);
    q.into_iter().map(|(_, tid)| tid).collect()
}

fn waiter_mut<H: Host>(k: &mut Kernel<H>, tid: Pid) -> Option<&mut FutexWaiter> {
    k.thread_mut(tid).and_then(|t| t.futex.as_mut())
}

fn waiter<H: Host>(k: &Kernel<H>, tid: Pid) -> Option<FutexWaiter> {
    k.thread(tid).and_then(|t| t.futex)
}

fn mark_woken<H: Host>(k: &mut Kernel<H>, pid: Pid) {
    if let Some(w) = waiter_mut(k, pid) {
        w.state = FutexState::Woken;
    }
}

/// Moves waiter `pid` to the end of `key`'s queue as a waiter of `kind`.
fn requeue_one<H: Host>(k: &mut Kernel<H>, pid: Pid, key: FutexKey, kind: FutexKind) {
    k.futex_seq += 1;
    let seq = k.futex_seq;
    if let Some(w) = waiter_mut(k, pid) {
        w.key = key;
        w.seq = seq;
        w.kind = kind;
    }
}

/// FUTEX_WAIT and FUTEX_WAIT_BITSET: EAGAIN unless the word holds `val`.
fn wait<H: Host>(
    k: &mut Kernel<H>,
    uaddr: u64,
    scope: Scope,
    val: u32,
    dl: Option<u64>,
    bitset: u32,
) -> KResult<Done> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let key = key(k, uaddr, scope)?;
    if get(k, uaddr)? != val {
        return Err(Errno::EAGAIN);
    }
    let w = entry(k, key, bitset, FutexKind::Plain, dl);
    // Linux: ERESTARTSYS without a timeout, ERESTART_RESTARTBLOCK with one.
    let restart = if dl.is_some() {
        Restart::Never
    } else {
        Restart::WithSaRestart
    };
    Ok(Done::Wait(w, restart))
}

/// Wakes at most `n` (at least one) plain waiters of `key` whose bitset meets
/// `bitset`; EINVAL on meeting a PI waiter.
fn wake_key<H: Host>(k: &mut Kernel<H>, key: FutexKey, n: u32, bitset: u32) -> KResult<usize> {
    wake_key_last(k, key, n, bitset).map(|(woken, _)| woken)
}

/// As `wake_key`, with the last thread woken.
fn wake_key_last<H: Host>(
    k: &mut Kernel<H>,
    key: FutexKey,
    n: u32,
    bitset: u32,
) -> KResult<(usize, Option<Pid>)> {
    let mut woken = 0usize;
    let mut last = None;
    for pid in queue(k, key) {
        let Some(w) = waiter(k, pid) else { continue };
        if w.kind != FutexKind::Plain {
            return Err(Errno::EINVAL);
        }
        if w.bitset & bitset == 0 {
            continue;
        }
        mark_woken(k, pid);
        woken += 1;
        last = Some(pid);
        // As Linux's `++ret >= nr_wake`: a count of 0 or less wakes one.
        if woken as i64 >= n as i32 as i64 {
            break;
        }
    }
    Ok((woken, last))
}

/// FUTEX_WAKE and FUTEX_WAKE_BITSET.
fn wake<H: Host>(k: &mut Kernel<H>, uaddr: u64, scope: Scope, n: u32, bitset: u32) -> SysResult {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let key = key(k, uaddr, scope)?;
    let (woken, last) = wake_key_last(k, key, n, bitset)?;
    if let (1, Some(wakee)) = (woken, last) {
        k.futex_woke(wakee);
    }
    Ok(woken)
}

/// What a thread leaves behind at exit and exec (Linux's futex_exit_release
/// and mm_release): its robust futexes marked FUTEX_OWNER_DIED with a waiter
/// woken each, then its clear_child_tid.
pub(crate) fn exit_release<H: Host>(k: &mut Kernel<H>, pid: Pid) {
    exit_robust_list(k, pid);
    release_child_tid(k, pid);
}

/// Walks the robust list `pid` registered with set_robust_list (struct
/// robust_list_head: next, futex_offset, list_op_pending; bit 0 of an entry
/// marks a PI futex), at most ROBUST_LIST_LIMIT entries, and hands each
/// futex it still owns on (`owner_died`). The list is guest memory: a bad
/// pointer ends the walk.
fn exit_robust_list<H: Host>(k: &mut Kernel<H>, pid: Pid) {
    const ROBUST_LIST_LIMIT: usize = 2048;
    let Some(p) = k.procs.get_mut(&pid) else {
        return;
    };
    let (head, _) = core::mem::take(&mut p.thread.robust_list);
    let tid = p.thread.tid;
    if head == 0 {
        return;
    }
    let prev = k.cur;
    k.cur = pid;
    let w = super::uabi::NATIVE.bytes() as u64;
    let sext = |v: u64| match w {
        4 => v as u32 as i32 as i64,
        _ => v as i64,
    };
    if let Ok(h) = super::uabi::read_longs(k, head, 3) {
        let (offset, pending) = (sext(h[1]), h[2]);
        let mut entry = h[0];
        let mut n = 0;
        while entry & !1 != head && entry != 0 && n < ROBUST_LIST_LIMIT {
            let Ok(next) = super::uabi::read_longs(k, entry & !1, 1) else {
                break;
            };
            if entry != pending {
                owner_died(
                    k,
                    tid,
                    (entry & !1).wrapping_add_signed(offset),
                    entry & 1 != 0,
                );
            }
            entry = next[0];
            n += 1;
        }
        if pending != 0 {
            owner_died(
                k,
                tid,
                (pending & !1).wrapping_add_signed(offset),
                pending & 1 != 0,
            );
        }
    }
    k.cur = prev;
}

/// handle_futex_death: a futex word at `uaddr` that task `tid` still owns
/// gets FUTEX_OWNER_DIED (keeping FUTEX_WAITERS) and, if it has waiters, one
/// is woken, or for a PI futex given the lock.
fn owner_died<H: Host>(k: &mut Kernel<H>, tid: Pid, uaddr: u64, pi: bool) {
    if !uaddr.is_multiple_of(4) {
        return;
    }
    let Ok(uval) = get(k, uaddr) else {
        return;
    };
    if uval & FUTEX_TID_MASK != tid {
        return;
    }
    if put(k, uaddr, (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED).is_err() {
        return;
    }
    if uval & FUTEX_WAITERS == 0 {
        return;
    }
    let Ok(key) = key(k, uaddr, Scope::Shared) else {
        return;
    };
    // A PI lock goes to its oldest waiter, whatever the entry's PI bit says
    // (Linux's exit_pi_state_list releases it to the waiter as well).
    let top = queue(k, key)
        .into_iter()
        .find(|&pid| waiter(k, pid).is_some_and(|w| w.kind == FutexKind::Pi));
    match top {
        Some(next) if put(k, uaddr, FUTEX_WAITERS | FUTEX_OWNER_DIED | next).is_ok() => {
            mark_woken(k, next);
        }
        Some(_) => {}
        None if !pi => {
            let _ = wake_key(k, key, 1, MATCH_ANY);
        }
        None => {}
    }
}

/// Linux's mm_release, at exit and exec: a thread with clear_child_tid set
/// whose address space another task shares (a thread, a CLONE_VM child) has 0
/// stored there and one waiter woken. The address is forgotten either way.
fn release_child_tid<H: Host>(k: &mut Kernel<H>, pid: Pid) {
    let Some(p) = k.procs.get_mut(&pid) else {
        return;
    };
    let addr = core::mem::take(&mut p.thread.clear_child_tid);
    let mm = p.mm.id;
    let threads = p.nthreads();
    if addr != 0 && (threads > 1 || k.procs.values().filter(|q| q.mm.id == mm).count() > 1) {
        clear_child_tid(k, pid, addr);
    }
}

/// Stores 0 at `addr` in `pid`'s memory and wakes one waiter there (a shared
/// futex, as Linux's mm_release does).
pub(crate) fn clear_child_tid<H: Host>(k: &mut Kernel<H>, pid: Pid, addr: u64) {
    let prev = k.cur;
    k.cur = pid;
    if put(k, addr, 0).is_ok() {
        if let Ok(key) = key(k, addr, Scope::Shared) {
            let _ = wake_key(k, key, 1, MATCH_ANY);
        }
    }
    k.cur = prev;
}

/// FUTEX_REQUEUE, FUTEX_CMP_REQUEUE and FUTEX_CMP_REQUEUE_PI: wakes `nr_wake`
/// waiters of `uaddr` and moves up to `nr_requeue` more to `uaddr2`; returns
/// how many were woken or moved.
#[expect(clippy::too_many_arguments, reason = "futex_requeue's own arguments")]
fn requeue<H: Host>(
    k: &mut Kernel<H>,
    uaddr: u64,
    uaddr2: u64,
    scope: Scope,
    nr_wake: u32,
    nr_requeue: u32,
    cmpval: Option<u32>,
    pi: bool,
) -> SysResult {
    let (nr_wake, nr_requeue) = (nr_wake as i32, nr_requeue as i32);
    if nr_wake < 0 || nr_requeue < 0 {
        return Err(Errno::EINVAL);
    }
    if pi && (uaddr == uaddr2 || nr_wake != 1) {
        return Err(Errno::EINVAL);
    }
    let key1 = key(k, uaddr, scope)?;
    let key2 = key(k, uaddr2, scope)?;
    if pi && key1 == key2 {
        return Err(Errno::EINVAL);
    }
    if let Some(cmp) = cmpval {
        if get(k, uaddr)? != cmp {
            return Err(Errno::EAGAIN);
        }
    }
    let mut count: i64 = 0;
    let q = queue(k, key1);
    let mut q = q.as_slice();
    if pi {
        // Take uaddr2 for the top waiter; it returns owning the lock.
        let Some((&top, rest)) = q.split_first() else {
            return Ok(0);
        };
        let tw = waiter(k, top).ok_or(Errno::EINVAL)?;
        if tw.kind != (FutexKind::RequeuePi { target: key2 }) {
            return Err(Errno::EINVAL);
        }
        match pi_acquire(k, uaddr2, scope, top, nr_requeue > 0)? {
            Acquire::Taken => {
                mark_woken(k, top);
                count += 1;
                q = rest;
            }
            Acquire::Busy => {}
        }
    }
    for &pid in q {
        if count - nr_wake as i64 >= nr_requeue as i64 {
            break;
        }
        let Some(w) = waiter(k, pid) else { continue };
        let rt = matches!(w.kind, FutexKind::RequeuePi { .. });
        if rt != pi || w.kind == FutexKind::Pi {
            return Err(Errno::EINVAL);
        }
        if !pi {
            count += 1;
            if count <= nr_wake as i64 {
                mark_woken(k, pid);
            } else {
                requeue_one(k, pid, key2, FutexKind::Plain);
            }
            continue;
        }
        if w.kind != (FutexKind::RequeuePi { target: key2 }) {
            return Err(Errno::EINVAL);
        }
        requeue_one(k, pid, key2, FutexKind::Pi);
        count += 1;
    }
    Ok(count as usize)
}

/// FUTEX_WAKE_OP: applies the encoded operation to the word at `uaddr2`,
/// wakes `nr_wake` waiters of `uaddr`, and `nr_wake2` of `uaddr2` if the
/// word's old value passes the encoded comparison.
fn wake_op<H: Host>(
    k: &mut Kernel<H>,
    uaddr: u64,
    uaddr2: u64,
    scope: Scope,
    nr_wake: u32,
    nr_wake2: u32,
    encoded: u32,
) -> SysResult {
    let key1 = key(k, uaddr, scope)?;
    let key2 = key(k, uaddr2, scope)?;
    let op = (encoded >> 28) & 7;
    let cmp = (encoded >> 24) & 15;
    let mut oparg = ((encoded << 8) as i32) >> 20;
    let cmparg = ((encoded << 20) as i32) >> 20;
    if encoded & (8 << 28) != 0 {
        oparg = 1i32.wrapping_shl((oparg & 31) as u32);
    }
    let old = get(k, uaddr2)?;
    let new = match op {
        0 => oparg as u32,
        1 => old.wrapping_add(oparg as u32),
        2 => old | oparg as u32,
        3 => old & !(oparg as u32),
        4 => old ^ oparg as u32,
        _ => return Err(Errno::ENOSYS),
    };
    put(k, uaddr2, new)?;
    let o = old as i32;
    let pass = match cmp {
        0 => o == cmparg,
        1 => o != cmparg,
        2 => o < cmparg,
        3 => o <= cmparg,
        4 => o > cmparg,
        5 => o >= cmparg,
        _ => return Err(Errno::ENOSYS),
    };
    let mut n = wake_key(k, key1, nr_wake, MATCH_ANY)?;
    if pass {
        n += wake_key(k, key2, nr_wake2, MATCH_ANY)?;
    }
    Ok(n)
}

/// Whether LOCK_PI may wait or only try.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    Wait,
    Try,
}

/// What an attempt on a PI futex word came to.
enum Acquire {
    /// The word now names the new owner.
    Taken,
    /// Another task owns it; FUTEX_WAITERS is set.
    Busy,
}

/// futex_lock_pi_atomic for task `tid`: takes the PI futex at `uaddr` when
/// its owner field is 0, else marks it contended: ESRCH when the owner does
/// not exist, EPERM when a private futex's owner is another process.
/// `force_waiters` sets FUTEX_WAITERS on a taken lock too.
fn pi_acquire<H: Host>(
    k: &mut Kernel<H>,
    uaddr: u64,
    scope: Scope,
    tid: Pid,
    force_waiters: bool,
) -> KResult<Acquire> {
    let uval = get(k, uaddr)?;
    let owner = uval & FUTEX_TID_MASK;
    if owner == tid {
        return Err(Errno::EDEADLK);
    }
    if owner == 0 {
        let mut new = (uval & FUTEX_OWNER_DIED) | tid;
        if force_waiters {
            new |= FUTEX_WAITERS;
        }
        put(k, uaddr, new)?;
        return Ok(Acquire::Taken);
    }
    put(k, uaddr, uval | FUTEX_WAITERS)?;
    let mm = k.proc().mm.id;
    let owner_mm = k
        .tgid_of(owner)
        .filter(|&pid| k.thread(owner).is_some() || pid == owner)
        .and_then(|pid| k.procs.get(&pid))
        .map(|o| o.mm.id);
    match owner_mm {
        None => Err(Errno::ESRCH),
        Some(o) if scope == Scope::Private && o != mm => Err(Errno::EPERM),
        Some(_) => Ok(Acquire::Busy),
    }
}

/// FUTEX_LOCK_PI, FUTEX_LOCK_PI2 and FUTEX_TRYLOCK_PI. The lock goes to a
/// waiter when its owner unlocks; an owner that exits with it held leaves it
/// held (robust lists are not walked).
fn lock_pi<H: Host>(
    k: &mut Kernel<H>,
    uaddr: u64,
    scope: Scope,
    dl: Option<u64>,
    how: Lock,
) -> KResult<Done> {
    let key = key(k, uaddr, scope)?;
    let tid = k.proc().thread.tid;
    match pi_acquire(k, uaddr, scope, tid, false)? {
        Acquire::Taken => Ok(Done::Ret(0)),
        Acquire::Busy if how == Lock::Try => Err(Errno::EAGAIN),
        Acquire::Busy => {
            let w = entry(k, key, MATCH_ANY, FutexKind::Pi, dl);
            // Linux turns EINTR into ERESTARTNOINTR here.
            Ok(Done::Wait(w, Restart::Always))
        }
    }
}

/// FUTEX_UNLOCK_PI: EPERM unless the caller owns the word; hands the lock to
/// the oldest waiter (the word then names it, with FUTEX_WAITERS) or clears
/// the word.
fn unlock_pi<H: Host>(k: &mut Kernel<H>, uaddr: u64, scope: Scope) -> SysResult {
    let uval = get(k, uaddr)?;
    let tid = k.proc().thread.tid;
    if uval & FUTEX_TID_MASK != tid {
        return Err(Errno::EPERM);
    }
    let key = key(k, uaddr, scope)?;
    let top = queue(k, key)
        .into_iter()
        .find(|&pid| waiter(k, pid).is_some_and(|w| w.kind == FutexKind::Pi));
    match top {
        Some(pid) => {
            put(k, uaddr, FUTEX_WAITERS | pid)?;
            mark_woken(k, pid);
        }
        None => put(k, uaddr, 0)?,
    }
    Ok(0)
}

/// FUTEX_WAIT_REQUEUE_PI: waits on the plain futex at `uaddr` to be requeued
/// to (and given) the PI futex at `uaddr2` by FUTEX_CMP_REQUEUE_PI.
fn wait_requeue_pi<H: Host>(
    k: &mut Kernel<H>,
    uaddr: u64,
    uaddr2: u64,
    scope: Scope,
    val: u32,
    dl: Option<u64>,
) -> KResult<Done> {
    if uaddr == uaddr2 {
        return Err(Errno::EINVAL);
    }
    let key2 = key(k, uaddr2, scope)?;
    let key1 = key(k, uaddr, scope)?;
    if get(k, uaddr)? != val {
        return Err(Errno::EAGAIN);
    }
    if key1 == key2 {
        return Err(Errno::EINVAL);
    }
    let w = entry(
        k,
        key1,
        MATCH_ANY,
        FutexKind::RequeuePi { target: key2 },
        dl,
    );
    // Linux restarts an early wake by a signal (ERESTARTNOINTR).
    Ok(Done::Wait(w, Restart::Always))
}
