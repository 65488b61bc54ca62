//! inotify(7) for files changed inside the guest. An [`Inotify`] instance
//! is a file whose reads return struct inotify_event records; its watches
//! name inodes by (device, inode number). The kernel's [`Hub`] lists the
//! live instances; the syscall layer reports each change to it (see
//! syscall/evfd.rs's `fsnotify_*` helpers), and does nothing more than one
//! check of an empty list when no instance exists.
//!
//! As Linux does, an event equal to the last one queued is merged into it,
//! the queue holds at most [`MAX_QUEUED`] events and then one IN_Q_OVERFLOW,
//! a watch on a directory also reports events of its entries with their
//! name, and a watch whose inode is deleted gets IN_DELETE_SELF and then
//! IN_IGNORED.

use super::vfs::{FileOps, Inode, IoCtx, IoctlArg, PollEvents, WakeSeq};
use crate::error::{Errno, KResult};
use alloc::collections::VecDeque;

use crate::vecmap::VecMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use spin::Mutex;

pub const IN_ACCESS: u32 = 0x1;
pub const IN_MODIFY: u32 = 0x2;
pub const IN_ATTRIB: u32 = 0x4;
pub const IN_CLOSE_WRITE: u32 = 0x8;
pub const IN_CLOSE_NOWRITE: u32 = 0x10;
pub const IN_OPEN: u32 = 0x20;
pub const IN_MOVED_FROM: u32 = 0x40;
pub const IN_MOVED_TO: u32 = 0x80;
pub const IN_CREATE: u32 = 0x100;
pub const IN_DELETE: u32 = 0x200;
pub const IN_DELETE_SELF: u32 = 0x400;
pub const IN_MOVE_SELF: u32 = 0x800;
pub const IN_UNMOUNT: u32 = 0x2000;
pub const IN_Q_OVERFLOW: u32 = 0x4000;
pub const IN_IGNORED: u32 = 0x8000;
pub const IN_ONLYDIR: u32 = 0x0100_0000;
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
pub const IN_MASK_ADD: u32 = 0x2000_0000;
pub const IN_ISDIR: u32 = 0x4000_0000;
pub const IN_ONESHOT: u32 = 0x8000_0000;
/// Every event a watch can ask for.
pub const IN_ALL_EVENTS: u32 = 0xfff;
/// The flag bits a watch keeps beside its events.
const KEPT_FLAGS: u32 = IN_ONESHOT | IN_EXCL_UNLINK;
/// /proc/sys/fs/inotify/max_queued_events.
pub const MAX_QUEUED: usize = 16384;
/// /proc/sys/fs/inotify/max_user_watches (Linux scales it with memory; this
/// is its floor).
pub const MAX_WATCHES: usize = 8192;
/// FIONREAD.
const FIONREAD: u32 = 0x541b;
/// Size of struct inotify_event without its name.
const EVENT_HEADER: usize = 16;

/// What a watch names: the inode's device and number.
pub type Key = (u64, u64);

/// The key of `inode`, if it can say.
pub fn key_of(inode: &dyn Inode) -> Option<Key> {
    inode.metadata().ok().map(|m| (m.dev, m.ino))
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

impl Event {
    /// The name's length as the record carries it: with its NUL, padded to
    /// a multiple of the header's size.
    fn name_len(&self) -> usize {
        if self.name.is_empty() {
            0
        } else {
            (self.name.len() + 1).next_multiple_of(EVENT_HEADER)
        }
    }

    fn size(&self) -> usize {
        EVENT_HEADER + self.name_len()
    }
}

#[derive(Clone, Copy, Debug)]
struct Watch {
    key: Key,
    mask: u32,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Event>,
    /// Bytes the queued events take (FIONREAD).
    bytes: usize,
    watches: VecMap<i32, Watch>,
    last_wd: i32,
    /// Wake-ups for edge-triggered epoll: each event queued (not one merged
    /// into the last), as fsnotify_insert_event wakes its waiters.
    wakes: WakeSeq,
}

impl State {
    fn push(&mut self, ev: Event) {
        if self.queue.back() == Some(&ev) {
            return;
        }
        if self.queue.len() >= MAX_QUEUED {
            let over = Event {
                wd: -1,
                mask: IN_Q_OVERFLOW,
                cookie: 0,
                name: Vec::new(),
            };
            if self.queue.back() != Some(&over) {
                self.bytes += over.size();
                self.queue.push_back(over);
                self.wakes.wake_input();
            }
            return;
        }
        self.bytes += ev.size();
        self.queue.push_back(ev);
        self.wakes.wake_input();
    }

    /// Drops watch `wd` with its IN_IGNORED event.
    fn ignore(&mut self, wd: i32) {
        if self.watches.remove(&wd).is_some() {
            self.push(Event {
                wd,
                mask: IN_IGNORED,
                cookie: 0,
                name: Vec::new(),
            });
        }
    }
}

/// One inotify instance.
#[derive(Default)]
pub struct Inotify {
    st: Mutex<State>,
}

/// One change, as the syscall layer reports it.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    /// The events (IN_*), without IN_ISDIR.
    pub mask: u32,
    /// The inode that changed (its watches get the event without a name).
    pub target: Option<Key>,
    /// The directory holding it and its name there (the directory's watches
    /// get the event with the name).
    pub dir: Option<(Key, &'a [u8])>,
    /// The subject is a directory (IN_ISDIR).
    pub isdir: bool,
    pub cookie: u32,
    /// The subject has no links left (for IN_EXCL_UNLINK watches).
    pub unlinked: bool,
}

impl Inotify {
    /// The object behind a file, if it is an inotify instance.
    pub fn of(ops: &dyn FileOps) -> Option<&Inotify> {
        ops.as_any().downcast_ref()
    }

    /// inotify_add_watch on the inode `key` (`is_dir` for IN_ONLYDIR, which
    /// the caller checks); returns the watch descriptor.
    pub fn add_watch(&self, key: Key, mask: u32) -> KResult<i32> {
        let mut s = self.st.lock();
        let events = mask & (IN_ALL_EVENTS | KEPT_FLAGS);
        if let Some((&wd, w)) = s.watches.iter_mut().find(|(_, w)| w.key == key) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            w.mask = if mask & IN_MASK_ADD != 0 {
                w.mask | events
            } else {
                events
            };
            return Ok(wd);
        }
        if s.watches.len() >= MAX_WATCHES {
            return Err(Errno::ENOSPC);
        }
        // Linux hands out increasing numbers (idr_alloc_cyclic from 1).
        let wd = (s.last_wd + 1..=i32::MAX)
            .chain(1..=s.last_wd)
            .find(|w| !s.watches.contains_key(w))
            .ok_or(Errno::ENOSPC)?;
        s.last_wd = wd;
        s.watches.insert(wd, Watch { key, mask: events });
        Ok(wd)
    }

    /// inotify_rm_watch.
    pub fn rm_watch(&self, wd: i32) -> KResult<()> {
        let mut s = self.st.lock();
        if !s.watches.contains_key(&wd) {
            return Err(Errno::EINVAL);
        }
        s.ignore(wd);
        Ok(())
    }

    /// The watches (wd, key, mask) for /proc/PID/fdinfo.
    pub fn watches(&self) -> Vec<(i32, Key, u32)> {
        let s = self.st.lock();
        s.watches
            .iter()
            .map(|(&wd, w)| (wd, w.key, w.mask))
            .collect()
    }

    fn deliver(&self, c: &Change<'_>) {
        let mut s = self.st.lock();
        if s.watches.is_empty() {
            return;
        }
        let isdir = if c.isdir { IN_ISDIR } else { 0 };
        let mut oneshots = Vec::new();
        let hits: Vec<(i32, u32, Vec<u8>)> = s
            .watches
            .iter()
            .filter_map(|(&wd, w)| {
                if w.mask & c.mask == 0 {
                    return None;
                }
                let name = match c.dir {
                    Some((k, name)) if k == w.key => {
                        if w.mask & IN_EXCL_UNLINK != 0 && c.unlinked {
                            return None;
                        }
                        name
                    }
                    _ if c.target == Some(w.key) => &[],
                    _ => return None,
                };
                if w.mask & IN_ONESHOT != 0 {
                    oneshots.push(wd);
                }
                Some((wd, w.mask, name.to_vec()))
            })
            .collect();
        // A directory's watch hears of its entry before the entry's own.
        let (mut parent, mut own): (Vec<_>, Vec<_>) =
            hits.into_iter().partition(|(_, _, n)| !n.is_empty());
        parent.append(&mut own);
        for (wd, _, name) in parent {
            s.push(Event {
                wd,
                mask: c.mask | isdir,
                cookie: c.cookie,
                name,
            });
        }
        for wd in oneshots {
            s.ignore(wd);
        }
    }

    /// The inode `key` is gone: its watches get IN_DELETE_SELF (if they ask)
    /// and IN_IGNORED, and end.
    fn removed(&self, key: Key) {
        let mut s = self.st.lock();
        let wds: Vec<(i32, u32)> = s
            .watches
            .iter()
            .filter(|(_, w)| w.key == key)
            .map(|(&wd, w)| (wd, w.mask))
            .collect();
        for (wd, mask) in wds {
            if mask & IN_DELETE_SELF != 0 {
                s.push(Event {
                    wd,
                    // Linux's fsnotify_inoderemove: no IN_ISDIR.
                    mask: IN_DELETE_SELF,
                    cookie: 0,
                    name: Vec::new(),
                });
            }
            s.ignore(wd);
        }
    }
}

impl FileOps for Inotify {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        let mut s = self.st.lock();
        let Some(first) = s.queue.front() else {
            return Err(Errno::EAGAIN);
        };
        if first.size() > buf.len() {
            return Err(Errno::EINVAL);
        }
        let mut done = 0;
        while let Some(ev) = s.queue.front() {
            let n = ev.size();
            if done + n > buf.len() {
                break;
            }
            let out = &mut buf[done..done + n];
            out.fill(0);
            out[0..4].copy_from_slice(&ev.wd.to_ne_bytes());
            out[4..8].copy_from_slice(&ev.mask.to_ne_bytes());
            out[8..12].copy_from_slice(&ev.cookie.to_ne_bytes());
            out[12..16].copy_from_slice(&(ev.name_len() as u32).to_ne_bytes());
            out[16..16 + ev.name.len()].copy_from_slice(&ev.name);
            done += n;
            s.bytes -= n;
            s.queue.pop_front();
        }
        Ok(done)
    }

    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        if self.st.lock().queue.is_empty() {
            PollEvents::empty()
        } else {
            PollEvents::POLLIN
        }
    }

    fn ioctl(&self, _ctx: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        if cmd != FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let n = self.st.lock().bytes as i32;
        arg.write_out(&n.to_ne_bytes())?;
        Ok(0)
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(self.st.lock().wakes)
    }

    fn anon_name(&self) -> Option<&'static str> {
        Some("inotify")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The kernel's list of inotify instances, and the cookie counter that
/// pairs IN_MOVED_FROM with IN_MOVED_TO.
#[derive(Default)]
pub struct Hub {
    instances: Mutex<Vec<Weak<Inotify>>>,
    cookie: Mutex<u32>,
}

impl Hub {
    /// Whether any instance exists: when none does, no change is reported.
    /// A build without the `inotify` feature has none (inotify_init1 is
    /// ENOSYS), and this leaves the reporting out of it.
    pub fn active(&self) -> bool {
        cfg!(feature = "inotify") && !self.instances.lock().is_empty()
    }

    /// Adds a new instance.
    pub fn add(&self, i: &Arc<Inotify>) {
        let mut v = self.instances.lock();
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(i));
    }

    fn each(&self, f: impl Fn(&Inotify)) {
        if !cfg!(feature = "inotify") {
            return;
        }
        let live: Vec<Arc<Inotify>> = {
            let mut v = self.instances.lock();
            v.retain(|w| w.strong_count() > 0);
            v.iter().filter_map(|w| w.upgrade()).collect()
        };
        for i in live {
            f(&i);
        }
    }

    /// Reports a change to every instance.
    pub fn change(&self, c: &Change<'_>) {
        self.each(|i| i.deliver(c));
    }

    /// Reports that inode `key` is gone.
    pub fn removed(&self, key: Key) {
        self.each(|i| i.removed(key));
    }

    /// A new cookie for a rename's pair of events.
    pub fn next_cookie(&self) -> u32 {
        let mut c = self.cookie.lock();
        *c = c.wrapping_add(1).max(1);
        *c
    }
}

// Without the `inotify` feature no event is reported.
#[cfg(all(test, feature = "inotify"))]
mod tests {
    use super::*;
    use crate::testing::MockHost;

    fn events(i: &Inotify) -> Vec<(i32, u32, u32, Vec<u8>)> {
        let mut h = MockHost::new(1 << 16);
        let mut buf = alloc::vec![0u8; 4096];
        let n = i.read(&mut h, 0, &mut buf).unwrap_or(0);
        let mut out = Vec::new();
        let mut at = 0;
        while at < n {
            let w = |o: usize| u32::from_ne_bytes(buf[at + o..at + o + 4].try_into().unwrap());
            let len = w(12) as usize;
            let name = buf[at + 16..at + 16 + len]
                .iter()
                .copied()
                .take_while(|&b| b != 0)
                .collect();
            out.push((w(0) as i32, w(4), w(8), name));
            at += 16 + len;
        }
        out
    }

    #[test]
    fn directory_and_self_events_merge_and_oneshot() {
        let hub = Hub::default();
        assert!(!hub.active());
        let i = Arc::new(Inotify::default());
        hub.add(&i);
        let dir = (1, 2);
        let file = (1, 3);
        let d = i.add_watch(dir, IN_ALL_EVENTS).unwrap();
        let f = i.add_watch(file, IN_MODIFY | IN_ONESHOT).unwrap();
        assert_eq!(
            i.add_watch(file, IN_ATTRIB | IN_MASK_CREATE),
            Err(Errno::EEXIST)
        );
        let c = Change {
            mask: IN_MODIFY,
            target: Some(file),
            dir: Some((dir, b"a")),
            isdir: false,
            cookie: 0,
            unlinked: false,
        };
        hub.change(&c);
        hub.change(&c);
        assert_eq!(
            events(&i),
            [
                (d, IN_MODIFY, 0, b"a".to_vec()),
                (f, IN_MODIFY, 0, Vec::new()),
                (f, IN_IGNORED, 0, Vec::new()),
                (d, IN_MODIFY, 0, b"a".to_vec()),
            ]
        );
        hub.removed(dir);
        assert_eq!(
            events(&i),
            [
                (d, IN_DELETE_SELF, 0, Vec::new()),
                (d, IN_IGNORED, 0, Vec::new())
            ]
        );
        assert_eq!(i.rm_watch(d), Err(Errno::EINVAL));
        drop(i);
        assert!(hub.active());
        hub.change(&c);
        assert!(!hub.active());
    }

    #[test]
    fn names_are_padded_and_the_queue_overflows_once() {
        let i = Inotify::default();
        let d = i.add_watch((1, 1), IN_CREATE | IN_DELETE).unwrap();
        let mut c = Change {
            mask: IN_CREATE,
            target: None,
            dir: Some(((1, 1), b"0123456789abcdef")),
            isdir: false,
            cookie: 0,
            unlinked: false,
        };
        i.deliver(&c);
        assert_eq!(i.st.lock().bytes, 16 + 32);
        let mut h = MockHost::new(1 << 16);
        assert_eq!(i.read(&mut h, 0, &mut [0u8; 47]), Err(Errno::EINVAL));
        assert_eq!(
            events(&i),
            [(d, IN_CREATE, 0, b"0123456789abcdef".to_vec())]
        );
        for n in 0..MAX_QUEUED + 5 {
            c.mask = if n % 2 == 0 { IN_CREATE } else { IN_DELETE };
            i.deliver(&c);
        }
        let s = i.st.lock();
        assert_eq!(s.queue.len(), MAX_QUEUED + 1);
        assert_eq!(
            s.queue.back().map(|e| (e.wd, e.mask)),
            Some((-1, IN_Q_OVERFLOW))
        );
    }
}
