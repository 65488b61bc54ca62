//! eventfd(2): a 64-bit counter as a file. A write adds its 8-byte value; a
//! read takes the whole count (or 1 in EFD_SEMAPHORE mode) and would block
//! while it is 0; a write that would take the count past 0xffff_ffff_ffff_fffe
//! would block. Buffers shorter than 8 bytes are EINVAL, as is a write of
//! 0xffff_ffff_ffff_ffff. Would-block is EAGAIN; the syscall layer parks
//! blocking callers.

use super::vfs::{FileOps, IoCtx, PollEvents, WakeSeq};
use crate::error::{Errno, KResult};
use core::any::Any;
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
}

impl EventFd {
    /// A counter starting at `initval`; `semaphore` reads take 1 at a time.
    pub fn new(initval: u64, semaphore: bool) -> EventFd {
        EventFd {
            count: Mutex::new(initval),
            semaphore,
            wakes: Mutex::new(WakeSeq::default()),
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
