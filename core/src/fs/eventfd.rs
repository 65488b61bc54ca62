//! eventfd(2): a 64-bit counter as a file. A write adds its 8-byte value; a
//! read takes the whole count (or 1 in EFD_SEMAPHORE mode) and would block
//! while it is 0; a write that would take the count past 0xffff_ffff_ffff_fffe
//! would block. A read buffer shorter than 8 bytes, a write buffer of any
//! size but 8 (Linux 6.x) and a write of 0xffff_ffff_ffff_ffff are EINVAL.
//! Would-block is EAGAIN; the syscall layer parks
//! blocking callers.

use super::vfs::{FileOps, IoCtx, PollEvents, WakeSeq};
use crate::error::{Errno, KResult};
use alloc::format;
use alloc::string::String;
use core::any::Any;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Mutex;

/// The largest count (ULLONG_MAX - 1).
pub const EFD_MAX: u64 = u64::MAX - 1;

/// One eventfd object.
pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    /// Wake-ups for edge-triggered epoll: a write wakes readers, a read
    /// wakes writers (eventfd.c's EPOLLIN and EPOLLOUT wake-ups).
    wakes: Mutex<WakeSeq>,
    /// /proc/PID/fdinfo's eventfd-id (Linux numbers them from an IDA).
    id: u32,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

impl EventFd {
    /// A counter starting at `initval`; `semaphore` reads take 1 at a time.
    pub fn new(initval: u64, semaphore: bool) -> EventFd {
        EventFd {
            count: Mutex::new(initval),
            semaphore,
            wakes: Mutex::new(WakeSeq::default()),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The count now (/proc/PID/fdinfo's eventfd-count).
    pub fn count(&self) -> u64 {
        *self.count.lock()
    }

    /// Whether reads take 1 at a time (EFD_SEMAPHORE).
    pub fn is_semaphore(&self) -> bool {
        self.semaphore
    }

    /// The object behind a file, if it is an eventfd.
    pub fn of(ops: &dyn FileOps) -> Option<&EventFd> {
        ops.as_any().downcast_ref()
    }
}

impl FileOps for EventFd {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let mut c = self.count.lock();
        if *c == 0 {
            return Err(Errno::EAGAIN);
        }
        let v = if self.semaphore { 1 } else { *c };
        *c -= v;
        buf[..8].copy_from_slice(&v.to_ne_bytes());
        self.wakes.lock().wake_output();
        Ok(8)
    }

    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        // Exactly 8 bytes (Linux 6.x refuses longer buffers too).
        let v = u64::from_ne_bytes(buf.try_into().map_err(|_| Errno::EINVAL)?);
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let mut c = self.count.lock();
        if EFD_MAX - *c < v {
            return Err(Errno::EAGAIN);
        }
        *c += v;
        self.wakes.lock().wake_input();
        Ok(8)
    }

    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        let c = *self.count.lock();
        let mut ev = PollEvents::empty();
        if c > 0 {
            ev |= PollEvents::POLLIN;
        }
        if c < EFD_MAX {
            ev |= PollEvents::POLLOUT;
        }
        ev
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(*self.wakes.lock())
    }

    fn anon_name(&self) -> Option<&'static str> {
        Some("[eventfd]")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The lines /proc/PID/fdinfo adds for an eventfd, signalfd or inotify
/// instance (Linux's show_fdinfo of each), after the common ones.
pub fn fdinfo_lines(ops: &dyn FileOps) -> String {
    if let Some(e) = EventFd::of(ops) {
        return format!(
            "eventfd-count: {:16x}\neventfd-id: {}\neventfd-semaphore: {}\n",
            e.count(),
            e.id,
            u8::from(e.semaphore)
        );
    }
    if let Some(s) = super::signalfd::SignalFd::of(ops) {
        return format!("sigmask:\t{:016x}\n", s.mask());
    }
    if let Some(i) = super::inotify::Inotify::of(ops) {
        let mut out = String::new();
        // Newest first, as Linux's list of a group's marks.
        for (wd, (dev, ino), mask) in i.watches().into_iter().rev() {
            // sdev is the kernel's dev_t (major << 20 | minor); the file
            // handle is ext2's and tmpfs's FILEID_INO32_GEN, generation 0.
            let sdev = (super::vfs::dev_major(dev) << 20) | super::vfs::dev_minor(dev);
            out += &format!(
                "inotify wd:{wd:x} ino:{ino:x} sdev:{sdev:x} mask:{mask:x} ignored_mask:0 \
                 fhandle-bytes:8 fhandle-type:1 f_handle:{:08x}00000000\n",
                (ino as u32).swap_bytes()
            );
        }
        return out;
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockHost;

    fn rd(e: &EventFd, h: &mut MockHost) -> KResult<u64> {
        let mut b = [0u8; 8];
        e.read(h, 0, &mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    #[test]
    fn counter_semaphore_and_limits() {
        let mut h = MockHost::new(1 << 16);
        let e = EventFd::new(2, false);
        assert_eq!(e.write(&mut h, 0, &3u64.to_ne_bytes()), Ok(8));
        assert_eq!(rd(&e, &mut h), Ok(5));
        assert_eq!(rd(&e, &mut h), Err(Errno::EAGAIN));
        assert_eq!(e.read(&mut h, 0, &mut [0; 4]), Err(Errno::EINVAL));
        assert_eq!(e.write(&mut h, 0, &[0; 16]), Err(Errno::EINVAL));
        assert_eq!(
            e.write(&mut h, 0, &u64::MAX.to_ne_bytes()),
            Err(Errno::EINVAL)
        );
        assert_eq!(e.write(&mut h, 0, &EFD_MAX.to_ne_bytes()), Ok(8));
        assert_eq!(e.poll(&mut h), PollEvents::POLLIN);
        assert_eq!(e.write(&mut h, 0, &1u64.to_ne_bytes()), Err(Errno::EAGAIN));
        let s = EventFd::new(2, true);
        assert_eq!(rd(&s, &mut h), Ok(1));
        assert_eq!(rd(&s, &mut h), Ok(1));
        assert_eq!(rd(&s, &mut h), Err(Errno::EAGAIN));
        assert_eq!(s.poll(&mut h), PollEvents::POLLOUT);
    }
}
