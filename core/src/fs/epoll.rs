//! epoll instances: the interest list of epoll_ctl and the ready events of
//! epoll_wait (the syscalls are in `syscall/epoll.rs`).
//!
//! An item is keyed by (fd, open file description), as Linux keys it by
//! (fd, struct file): a dup of a registered fd is a different key for the
//! same description. The instance holds its descriptions weakly; when the
//! last reference to a description goes away its items go with it (Linux's
//! eventpoll_release), so closing one of two fds that share a description
//! leaves the item in place.
//!
//! umbra has no wait queues, so nothing calls back into an instance when a
//! file changes. Instead every look at the instance (epoll_wait, or a poll
//! of the epoll fd itself, for nested instances) polls every item and turns
//! what it finds into Linux's ready list:
//! - A level-triggered item is ready while its file's [`FileOps::poll`]
//!   answer meets the interest.
//! - An edge-triggered item (EPOLLET) is queued when its file woke its
//!   waiters since the last look, as told by the file's wake-up counts
//!   ([`FileOps::wake_seq`]), and reported once if it is ready then. A
//!   rising edge of readiness seen between two looks queues it too (on
//!   Linux one always comes with a wake-up), which is all that files keeping
//!   no counts get: a documented deviation, since Linux would also report
//!   new data that arrives while such a file is already readable.
//! - EPOLLONESHOT disables the item after one report until EPOLL_CTL_MOD.
//! - Queued items are reported in the order they were queued; a reported
//!   level-triggered item goes to the back, so a small `maxevents` takes
//!   turns round the ready items as on Linux.
//! - EPOLLEXCLUSIVE is accepted with Linux's checks; since a wake-up here
//!   serves every blocked waiter again, more than one waiter may see the
//!   event, which the man page allows ("one or more").
//! - EPOLLWAKEUP is accepted and has no effect (there is no suspend).
//!
//! An epoll fd is itself pollable: readable when an item is ready, and it
//! counts a wake-up whenever one of its items is queued, so an instance
//! inside another works level- and edge-triggered. Loops and nesting deeper
//! than Linux's EP_MAX_NESTS (4) are refused with ELOOP at EPOLL_CTL_ADD.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;

use super::file::OpenFile;
use super::vfs::{wake_clock, FileOps, IoCtx, Metadata, PollEvents, WakeSeq};
use crate::error::{Errno, KResult};

pub const EPOLLIN: u32 = 0x001;
pub const EPOLLPRI: u32 = 0x002;
pub const EPOLLOUT: u32 = 0x004;
pub const EPOLLERR: u32 = 0x008;
pub const EPOLLHUP: u32 = 0x010;
pub const EPOLLRDNORM: u32 = 0x040;
pub const EPOLLRDBAND: u32 = 0x080;
pub const EPOLLWRNORM: u32 = 0x100;
pub const EPOLLWRBAND: u32 = 0x200;
pub const EPOLLMSG: u32 = 0x400;
pub const EPOLLRDHUP: u32 = 0x2000;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// epoll_ctl operations.
pub const EPOLL_CTL_ADD: i32 = 1;
pub const EPOLL_CTL_DEL: i32 = 2;
pub const EPOLL_CTL_MOD: i32 = 3;

/// The flag bits of an item, not events (EP_PRIVATE_BITS).
const PRIVATE_BITS: u32 = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/// What an EPOLLEXCLUSIVE item may ask for (EPOLLEXCLUSIVE_OK_BITS).
const EXCLUSIVE_OK_BITS: u32 =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// Linux's EP_MAX_NESTS: the longest chain of instances inside instances.
pub const MAX_NESTS: usize = 4;
/// Events that readers wait for (woken through `WakeSeq::input`).
const IN_CLASS: u32 = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLRDHUP | EPOLLMSG;
/// Events that writers wait for (`WakeSeq::output`).
const OUT_CLASS: u32 = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;

/// One event as epoll_wait reports it, and as epoll_ctl takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub events: u32,
    pub data: u64,
}

struct Item {
    fd: i32,
    file: Weak<OpenFile>,
    /// The interest and flags (EPOLLERR and EPOLLHUP always among them
    /// while armed; only flag bits once an EPOLLONESHOT item fired).
    events: u32,
    data: u64,
    /// The file's wake-up counts at the last look, if it keeps them.
    seen: Option<WakeSeq>,
    /// The readiness (within the interest) at the last look.
    last: u32,
    /// On the ready list, with its place in the order: the wake-up clock
    /// ([`wake_clock`]) when it was queued.
    queued: Option<u64>,
}

impl Item {
    fn is(&self, fd: i32, file: &Arc<OpenFile>) -> bool {
        self.fd == fd && Weak::as_ptr(&self.file) == Arc::as_ptr(file)
    }

    fn interest(&self) -> u32 {
        self.events & !PRIVATE_BITS
    }
}

#[derive(Default)]
struct State {
    items: Vec<Item>,
    /// This instance's own last wake-up (an item was queued or woken), for
    /// an instance watching it edge-triggered.
    wakes: u64,
    /// The descriptions of the instances this one was added to, for the
    /// nesting depth check.
    parents: Vec<Weak<OpenFile>>,
}

impl State {
    /// Puts item `i` on the ready list at place `at`, unless it is there.
    fn queue(&mut self, i: usize, at: u64) {
        if self.items[i].queued.is_none() {
            self.items[i].queued = Some(at);
        }
    }

    /// Notes a wake-up of this instance at `at` (it always moves).
    fn woke(&mut self, at: u64) {
        self.wakes = at.max(self.wakes.wrapping_add(1));
    }
}

/// An epoll instance: the object behind an epoll fd.
#[derive(Default)]
pub struct Epoll {
    state: Mutex<State>,
    /// A look is in progress: a nested poll that comes back here is a loop,
    /// which ADD refuses, so this only guards against one.
    busy: AtomicBool,
}

/// A file's readiness as epoll reports it: POLLRDNORM beside POLLIN and
/// POLLWRNORM beside POLLOUT, as Linux's pipes, ttys and sockets give them.
fn readiness(file: &OpenFile, ctx: &mut dyn IoCtx) -> u32 {
    let mut rev = file.poll(ctx);
    if rev.contains(PollEvents::POLLIN) {
        rev |= PollEvents::POLLRDNORM;
    }
    if rev.contains(PollEvents::POLLOUT) {
        rev |= PollEvents::POLLWRNORM;
    }
    u32::from(rev.bits())
}

/// Whether the counts moved in a direction the interest listens to, as
/// Linux's ep_poll_callback filters wake-ups by their key.
fn woken(old: WakeSeq, new: WakeSeq, interest: u32) -> bool {
    let rd = interest & IN_CLASS != 0;
    let wr = interest & OUT_CLASS != 0;
    ((rd || !wr) && old.input != new.input) || ((wr || !rd) && old.output != new.output)
}

impl Epoll {
    /// A new, empty instance.
    pub fn new() -> Arc<Epoll> {
        Arc::new(Epoll::default())
    }

    /// The instance behind an open file, if it is an epoll fd.
    pub fn of(file: &OpenFile) -> Option<&Epoll> {
        file.ops()?.as_any().downcast_ref::<Epoll>()
    }

    /// epoll_ctl(2) after the descriptors are found: `epfile` is the epoll
    /// fd's description (any description: EINVAL if it is not an epoll
    /// fd), `target` the description of `fd`, `ev` the event (for ADD and
    /// MOD). Checks are made in Linux's order.
    pub fn ctl(
        epfile: &Arc<OpenFile>,
        op: i32,
        fd: i32,
        target: &Arc<OpenFile>,
        ev: Event,
        ctx: &mut dyn IoCtx,
    ) -> KResult<()> {
        if !target.ops().is_some_and(|o| o.epoll_ok()) {
            return Err(Errno::EPERM);
        }
        let ep = match Epoll::of(epfile) {
            Some(ep) if !Arc::ptr_eq(epfile, target) => ep,
            _ => return Err(Errno::EINVAL),
        };
        let child = Epoll::of(target);
        if op != EPOLL_CTL_DEL && ev.events & EPOLLEXCLUSIVE != 0 {
            if op == EPOLL_CTL_MOD {
                return Err(Errno::EINVAL);
            }
            if op == EPOLL_CTL_ADD && (child.is_some() || ev.events & !EXCLUSIVE_OK_BITS != 0) {
                return Err(Errno::EINVAL);
            }
        }
        if op == EPOLL_CTL_ADD && child.is_some() {
            let down = depth_below(target, epfile, 0).ok_or(Errno::ELOOP)?;
            if down > MAX_NESTS || down + 1 + depth_above(epfile, 0) > MAX_NESTS {
                return Err(Errno::ELOOP);
            }
        }
        let found = ep.state.lock().items.iter().position(|i| i.is(fd, target));
        match (op, found) {
            (EPOLL_CTL_ADD, Some(_)) => Err(Errno::EEXIST),
            (EPOLL_CTL_ADD, None) => {
                // Poll before taking the lock: the target may be an epoll
                // instance whose poll looks at its own items.
                let rev = readiness(target, ctx);
                let seen = target.ops().and_then(|o| o.wake_seq());
                let events = ev.events | EPOLLERR | EPOLLHUP;
                let mut st = ep.state.lock();
                // Items of closed descriptions go at every look; here too,
                // so an instance nobody waits on does not collect them.
                st.items.retain(|i| i.file.strong_count() > 0);
                st.items.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                st.items.push(Item {
                    fd,
                    file: Arc::downgrade(target),
                    events,
                    data: ev.data,
                    seen,
                    last: rev & events,
                    queued: None,
                });
                if rev & events != 0 {
                    let i = st.items.len() - 1;
                    let at = wake_clock();
                    st.queue(i, at);
                    st.woke(at);
                }
                drop(st);
                if let Some(c) = child {
                    let mut cs = c.state.lock();
                    cs.parents.retain(|p| p.strong_count() > 0);
                    cs.parents.push(Arc::downgrade(epfile));
                }
                Ok(())
            }
            (EPOLL_CTL_DEL, Some(i)) => {
                ep.state.lock().items.remove(i);
                if let Some(c) = child {
                    let me = Arc::as_ptr(epfile);
                    let mut cs = c.state.lock();
                    if let Some(p) = cs.parents.iter().position(|p| Weak::as_ptr(p) == me) {
                        cs.parents.remove(p);
                    }
                }
                Ok(())
            }
            (EPOLL_CTL_MOD, Some(i)) => {
                if ep.state.lock().items[i].events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                let rev = readiness(target, ctx);
                let seen = target.ops().and_then(|o| o.wake_seq());
                let events = ev.events | EPOLLERR | EPOLLHUP;
                let mut st = ep.state.lock();
                let it = &mut st.items[i];
                it.events = events;
                it.data = ev.data;
                it.seen = seen;
                it.last = rev & events;
                if rev & events != 0 && it.queued.is_none() {
                    let at = wake_clock();
                    st.queue(i, at);
                    st.woke(at);
                }
                Ok(())
            }
            (EPOLL_CTL_DEL | EPOLL_CTL_MOD, None) => Err(Errno::ENOENT),
            _ => Err(Errno::EINVAL),
        }
    }

    /// epoll_wait(2)'s look: at most `max` ready events, in ready-list
    /// order, with edge-triggered and one-shot items consumed.
    pub fn wait(&self, ctx: &mut dyn IoCtx, max: usize) -> Vec<Event> {
        self.look(ctx, Some(max))
    }

    /// Whether some item is ready now (what polling the epoll fd says).
    fn any_ready(&self, ctx: &mut dyn IoCtx) -> bool {
        !self.look(ctx, None).is_empty()
    }

    /// Polls every item, updates the ready list, and returns the ready
    /// events: up to `max` of them, consumed, or, with `None`, at most one
    /// left in place (a peek).
    fn look(&self, ctx: &mut dyn IoCtx, max: Option<usize>) -> Vec<Event> {
        if self.busy.swap(true, Ordering::Acquire) {
            return Vec::new();
        }
        let files: Vec<(i32, Weak<OpenFile>)> = self
            .state
            .lock()
            .items
            .iter()
            .map(|i| (i.fd, i.file.clone()))
            .collect();
        // Poll without the lock held: an item may be a nested instance.
        let polled: Vec<Option<(u32, Option<WakeSeq>)>> = files
            .iter()
            .map(|(_, w)| {
                w.upgrade().map(|f| {
                    let rev = readiness(&f, ctx);
                    (rev, f.ops().and_then(|o| o.wake_seq()))
                })
            })
            .collect();
        let mut st = self.state.lock();
        let mut ready: Vec<(u64, usize, u32)> = Vec::new();
        let mut dead: Vec<usize> = Vec::new();
        for ((fd, w), p) in files.iter().zip(polled) {
            let Some(i) = st
                .items
                .iter()
                .position(|it| it.fd == *fd && Weak::ptr_eq(&it.file, w))
            else {
                continue;
            };
            let Some((rev, seq)) = p else {
                dead.push(i);
                continue;
            };
            let it = &mut st.items[i];
            let interest = it.interest();
            if interest == 0 {
                // A one-shot item that fired: deaf until EPOLL_CTL_MOD.
                it.queued = None;
                continue;
            }
            let now = rev & it.events;
            // When the item was woken since the last look, if it was. A
            // rising edge of readiness counts too: on Linux it always comes
            // with a wake-up, and a file may count only some of its own.
            let counted = match (it.seen, seq) {
                (Some(old), Some(new)) => {
                    woken(old, new, interest).then_some(new.input.max(new.output))
                }
                (None, Some(_)) => Some(wake_clock()),
                _ => None,
            };
            let woke = counted.or_else(|| (now & !it.last != 0).then(wake_clock));
            it.seen = seq;
            it.last = now;
            let level = it.events & EPOLLET == 0;
            // A level-triggered item found ready off the list became ready
            // since the last look: that is a wake-up too.
            let woke = match woke {
                None if level && now != 0 && it.queued.is_none() => Some(wake_clock()),
                w => w,
            };
            if let Some(at) = woke {
                st.woke(at);
                if now != 0 {
                    st.queue(i, at);
                }
            }
            if now == 0 {
                // Linux drops a queued item that is not ready when it looks.
                st.items[i].queued = None;
                continue;
            }
            if let Some(s) = st.items[i].queued {
                ready.push((s, i, now));
            }
        }
        crate::sort::sort(&mut ready);
        let mut out = Vec::new();
        match max {
            None => {
                if let Some(&(_, i, now)) = ready.first() {
                    out.push(Event {
                        events: now,
                        data: st.items[i].data,
                    });
                }
            }
            Some(max) => {
                for &(_, i, now) in ready.iter().take(max) {
                    out.push(Event {
                        events: now,
                        data: st.items[i].data,
                    });
                    let it = &mut st.items[i];
                    if it.events & EPOLLONESHOT != 0 {
                        it.events &= PRIVATE_BITS;
                        it.queued = None;
                    } else if it.events & EPOLLET != 0 {
                        it.queued = None;
                    } else {
                        // Level-triggered: back to the end of the list.
                        it.queued = Some(wake_clock());
                    }
                }
            }
        }
        crate::sort::sort(&mut dead);
        for i in dead.into_iter().rev() {
            st.items.remove(i);
        }
        drop(st);
        self.busy.store(false, Ordering::Release);
        out
    }

    /// The number of items (for tests and /proc).
    pub fn len(&self) -> usize {
        self.state.lock().items.len()
    }

    /// Whether the interest list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The longest chain of instances below `file` (0 when it holds none),
/// or `None` when `into` is among them (adding `file` to `into` would
/// close a loop). Deeper than Linux allows counts as too deep.
fn depth_below(file: &OpenFile, into: &Arc<OpenFile>, level: usize) -> Option<usize> {
    let Some(ep) = Epoll::of(file) else {
        return Some(0);
    };
    if level > MAX_NESTS + 1 {
        return Some(level);
    }
    let kids: Vec<Arc<OpenFile>> = ep
        .state
        .lock()
        .items
        .iter()
        .filter_map(|i| i.file.upgrade())
        .filter(|f| Epoll::of(f).is_some())
        .collect();
    let mut depth = 0;
    for k in kids {
        if Arc::ptr_eq(&k, into) {
            return None;
        }
        depth = depth.max(depth_below(&k, into, level + 1)? + 1);
    }
    Some(depth)
}

/// The longest chain of instances above `file`: the instances it is an
/// item of, and theirs.
fn depth_above(file: &Arc<OpenFile>, level: usize) -> usize {
    let Some(ep) = Epoll::of(file) else {
        return 0;
    };
    if level > MAX_NESTS + 1 {
        return level;
    }
    let parents: Vec<Arc<OpenFile>> = ep
        .state
        .lock()
        .parents
        .iter()
        .filter_map(|p| p.upgrade())
        .collect();
    let me = Arc::as_ptr(file);
    parents
        .iter()
        .filter(|p| {
            Epoll::of(p).is_some_and(|pe| {
                pe.state
                    .lock()
                    .items
                    .iter()
                    .any(|i| Weak::as_ptr(&i.file) == me)
            })
        })
        .map(|p| depth_above(p, level + 1) + 1)
        .max()
        .unwrap_or(0)
}

impl FileOps for Epoll {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &mut [u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    fn poll(&self, ctx: &mut dyn IoCtx) -> PollEvents {
        if self.any_ready(ctx) {
            PollEvents::POLLIN | PollEvents::POLLRDNORM
        } else {
            PollEvents::empty()
        }
    }
    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(WakeSeq {
            input: self.state.lock().wakes,
            output: 0,
        })
    }
    fn stat(&self) -> Option<Metadata> {
        // Linux's anonymous inode: mode 0600 with no type bits.
        Some(Metadata {
            dev: 0,
            ino: 0,
            mode: 0o600,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            blksize: 4096,
            blocks: 0,
            atime: Default::default(),
            mtime: Default::default(),
            ctime: Default::default(),
        })
    }
    fn anon_name(&self) -> Option<&'static str> {
        Some("[eventpoll]")
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::pipe::pipe;
    use crate::testing::MockHost;
    use alloc::vec;
    use umbra_abi::flags::{OpenFlags, O_RDONLY, O_RDWR, O_WRONLY};

    fn open(ops: Arc<dyn FileOps>, mode: u32) -> Arc<OpenFile> {
        OpenFile::from_ops(ops, OpenFlags::from_bits_retain(mode))
    }

    fn epoll() -> Arc<OpenFile> {
        open(Epoll::new(), O_RDWR)
    }

    fn ep(f: &Arc<OpenFile>) -> &Epoll {
        Epoll::of(f).expect("an epoll file")
    }

    fn ctl(
        h: &mut MockHost,
        e: &Arc<OpenFile>,
        op: i32,
        fd: i32,
        t: &Arc<OpenFile>,
        ev: u32,
    ) -> KResult<()> {
        Epoll::ctl(
            e,
            op,
            fd,
            t,
            Event {
                events: ev,
                data: fd as u64,
            },
            h,
        )
    }

    fn ready(h: &mut MockHost, e: &Arc<OpenFile>) -> Vec<(u32, u64)> {
        ep(e)
            .wait(h, 16)
            .iter()
            .map(|e| (e.events, e.data))
            .collect()
    }

    fn pipe_files() -> (Arc<OpenFile>, Arc<OpenFile>) {
        let (r, w) = pipe();
        (open(r, O_RDONLY), open(w, O_WRONLY))
    }

    #[test]
    fn level_and_edge_triggered_pipes() {
        let mut h = MockHost::new(4096);
        let (r, w) = pipe_files();
        let (lt, et) = (epoll(), epoll());
        ctl(&mut h, &lt, EPOLL_CTL_ADD, 3, &r, EPOLLIN).unwrap();
        ctl(&mut h, &et, EPOLL_CTL_ADD, 3, &r, EPOLLIN | EPOLLET).unwrap();
        assert_eq!(ready(&mut h, &lt), vec![]);
        w.write(&mut h, b"ab").unwrap();
        assert_eq!(ready(&mut h, &lt), vec![(EPOLLIN, 3)]);
        assert_eq!(ready(&mut h, &lt), vec![(EPOLLIN, 3)], "level: again");
        assert_eq!(ready(&mut h, &et), vec![(EPOLLIN, 3)]);
        assert_eq!(ready(&mut h, &et), vec![], "edge: once");
        // A write to a pipe that holds data is a new edge, as on Linux.
        w.write(&mut h, b"c").unwrap();
        assert_eq!(ready(&mut h, &et), vec![(EPOLLIN, 3)]);
        let mut b = [0u8; 8];
        r.read(&mut h, &mut b).unwrap();
        assert_eq!(ready(&mut h, &lt), vec![]);
        drop(w);
        assert_eq!(ready(&mut h, &et), vec![(EPOLLHUP, 3)], "a hang-up wakes");
        assert_eq!(ready(&mut h, &lt), vec![(EPOLLHUP, 3)]);
    }

    #[test]
    fn oneshot_fires_once_until_mod() {
        let mut h = MockHost::new(4096);
        let (r, w) = pipe_files();
        let e = epoll();
        ctl(&mut h, &e, EPOLL_CTL_ADD, 4, &r, EPOLLIN | EPOLLONESHOT).unwrap();
        w.write(&mut h, b"x").unwrap();
        assert_eq!(ready(&mut h, &e), vec![(EPOLLIN, 4)]);
        assert_eq!(ready(&mut h, &e), vec![]);
        w.write(&mut h, b"y").unwrap();
        assert_eq!(ready(&mut h, &e), vec![]);
        ctl(&mut h, &e, EPOLL_CTL_MOD, 4, &r, EPOLLIN | EPOLLONESHOT).unwrap();
        assert_eq!(ready(&mut h, &e), vec![(EPOLLIN, 4)]);
        assert_eq!(ready(&mut h, &e), vec![]);
    }

    #[test]
    fn items_follow_the_description_not_the_fd() {
        let mut h = MockHost::new(4096);
        let (r, w) = pipe_files();
        let e = epoll();
        ctl(&mut h, &e, EPOLL_CTL_ADD, 5, &r, EPOLLIN).unwrap();
        assert_eq!(
            ctl(&mut h, &e, EPOLL_CTL_ADD, 5, &r, EPOLLIN),
            Err(Errno::EEXIST)
        );
        // Another fd number for the same description is another key.
        ctl(&mut h, &e, EPOLL_CTL_ADD, 6, &r, EPOLLIN).unwrap();
        assert_eq!(ctl(&mut h, &e, EPOLL_CTL_DEL, 7, &r, 0), Err(Errno::ENOENT));
        ctl(&mut h, &e, EPOLL_CTL_DEL, 6, &r, 0).unwrap();
        w.write(&mut h, b"x").unwrap();
        let copy = r.clone();
        drop(r);
        assert_eq!(ready(&mut h, &e), vec![(EPOLLIN, 5)], "a copy keeps it");
        drop(copy);
        assert_eq!(ready(&mut h, &e), vec![]);
        assert!(ep(&e).is_empty(), "the last reference took the item");
    }

    #[test]
    fn errors_in_linux_order() {
        let mut h = MockHost::new(4096);
        let (r, _w) = pipe_files();
        let e = epoll();
        let null = open(Arc::new(crate::fs::devfs::Null), O_RDWR);
        assert_eq!(
            ctl(&mut h, &e, EPOLL_CTL_ADD, 3, &null, EPOLLIN),
            Err(Errno::EPERM)
        );
        assert_eq!(
            ctl(&mut h, &e, EPOLL_CTL_ADD, 3, &e, EPOLLIN),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            ctl(&mut h, &r, EPOLL_CTL_ADD, 3, &r, EPOLLIN),
            Err(Errno::EINVAL)
        );
        assert_eq!(ctl(&mut h, &e, 9, 3, &r, EPOLLIN), Err(Errno::EINVAL));
        let x = EPOLLIN | EPOLLEXCLUSIVE;
        assert_eq!(
            ctl(&mut h, &e, EPOLL_CTL_ADD, 3, &r, x | EPOLLONESHOT),
            Err(Errno::EINVAL)
        );
        ctl(&mut h, &e, EPOLL_CTL_ADD, 3, &r, x).unwrap();
        assert_eq!(
            ctl(&mut h, &e, EPOLL_CTL_MOD, 3, &r, EPOLLIN),
            Err(Errno::EINVAL)
        );
        let other = epoll();
        assert_eq!(
            ctl(&mut h, &e, EPOLL_CTL_ADD, 4, &other, x),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn nesting_loops_and_depth() {
        let mut h = MockHost::new(4096);
        let (r, w) = pipe_files();
        let (inner, outer) = (epoll(), epoll());
        ctl(&mut h, &inner, EPOLL_CTL_ADD, 3, &r, EPOLLIN).unwrap();
        ctl(&mut h, &outer, EPOLL_CTL_ADD, 4, &inner, EPOLLIN | EPOLLET).unwrap();
        assert_eq!(
            ctl(&mut h, &inner, EPOLL_CTL_ADD, 5, &outer, EPOLLIN),
            Err(Errno::ELOOP)
        );
        assert_eq!(inner.poll(&mut h), PollEvents::empty());
        w.write(&mut h, b"x").unwrap();
        assert_eq!(
            inner.poll(&mut h),
            PollEvents::POLLIN | PollEvents::POLLRDNORM
        );
        assert_eq!(ready(&mut h, &outer), vec![(EPOLLIN, 4)]);
        assert_eq!(ready(&mut h, &outer), vec![], "edge-triggered outer");
        w.write(&mut h, b"y").unwrap();
        assert_eq!(
            ready(&mut h, &outer),
            vec![(EPOLLIN, 4)],
            "the inner woke again"
        );
        // A chain of five instances is the longest.
        let chain: Vec<Arc<OpenFile>> = (0..6).map(|_| epoll()).collect();
        for i in 0..4 {
            ctl(&mut h, &chain[i], EPOLL_CTL_ADD, 10, &chain[i + 1], EPOLLIN).unwrap();
        }
        assert_eq!(
            ctl(&mut h, &chain[4], EPOLL_CTL_ADD, 10, &chain[5], EPOLLIN),
            Err(Errno::ELOOP)
        );
        assert_eq!(
            ctl(&mut h, &chain[5], EPOLL_CTL_ADD, 10, &chain[0], EPOLLIN),
            Err(Errno::ELOOP)
        );
    }

    #[test]
    fn ready_list_order_and_maxevents() {
        let mut h = MockHost::new(4096);
        let e = epoll();
        let pipes: Vec<_> = (0..3).map(|_| pipe_files()).collect();
        for (i, (r, _)) in pipes.iter().enumerate() {
            ctl(&mut h, &e, EPOLL_CTL_ADD, i as i32, r, EPOLLIN).unwrap();
        }
        for i in [2, 0, 1] {
            pipes[i].1.write(&mut h, b"x").unwrap();
        }
        let one = |h: &mut MockHost| ep(&e).wait(h, 1)[0].data;
        let order: Vec<u64> = (0..4).map(|_| one(&mut h)).collect();
        assert_eq!(order, vec![2, 0, 1, 2], "woken order, then round robin");
    }
}
