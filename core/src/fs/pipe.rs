//! Pipes: a 64 KiB ring shared by a read end and a write end. Writes of at most
//! PIPE_BUF bytes are atomic; a read with no writers left sees end of file; a
//! write with no readers left gets EPIPE (the syscall layer raises SIGPIPE).
//! Would-block is EAGAIN; the syscall layer parks blocking callers.

use super::vfs::{FileOps, IoCtx, Metadata, PollEvents};
use crate::error::{Errno, KResult};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::any::Any;
use spin::Mutex;

/// Capacity of a pipe (F_GETPIPE_SZ).
pub const PIPE_SIZE: usize = 65536;
/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;

struct Ring {
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
}

/// The shared state of one pipe.
pub struct Pipe {
    ring: Mutex<Ring>,
}

/// The read end.
pub struct PipeReader(Arc<Pipe>);
/// The write end.
pub struct PipeWriter(Arc<Pipe>);

/// A new pipe's two ends.
pub fn pipe() -> (Arc<PipeReader>, Arc<PipeWriter>) {
    let p = Arc::new(Pipe {
        ring: Mutex::new(Ring {
            data: VecDeque::new(),
            readers: 1,
            writers: 1,
        }),
    });
    (Arc::new(PipeReader(p.clone())), Arc::new(PipeWriter(p)))
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.0.ring.lock().readers -= 1;
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.0.ring.lock().writers -= 1;
    }
}

/// What fstat reports for a pipe end: a FIFO with the bytes waiting as size.
fn fifo_stat(p: &Arc<Pipe>) -> Option<Metadata> {
    Some(Metadata {
        dev: 0,
        ino: (Arc::as_ptr(p) as usize as u64) >> 4,
        mode: umbra_abi::flags::S_IFIFO | 0o600,
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev: 0,
        size: 0,
        blksize: PIPE_BUF as u32,
        blocks: 0,
        atime: Default::default(),
        mtime: Default::default(),
        ctime: Default::default(),
    })
}

impl FileOps for PipeReader {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        let mut r = self.0.ring.lock();
        if buf.is_empty() {
            return Ok(0);
        }
        if r.data.is_empty() {
            return if r.writers == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = buf.len().min(r.data.len());
        for (d, s) in buf.iter_mut().zip(r.data.drain(..n)) {
            *d = s;
        }
        Ok(n)
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EBADF)
    }
    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        let r = self.0.ring.lock();
        let mut ev = PollEvents::empty();
        if !r.data.is_empty() {
            ev |= PollEvents::POLLIN;
        }
        if r.writers == 0 {
            ev |= PollEvents::POLLHUP;
        }
        ev
    }
    fn stat(&self) -> Option<Metadata> {
        fifo_stat(&self.0)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for PipeWriter {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &mut [u8]) -> KResult<usize> {
        Err(Errno::EBADF)
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        let mut r = self.0.ring.lock();
        if r.readers == 0 {
            return Err(Errno::EPIPE);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let space = PIPE_SIZE - r.data.len();
        if space == 0 || (buf.len() <= PIPE_BUF && space < buf.len()) {
            return Err(Errno::EAGAIN);
        }
        let n = buf.len().min(space);
        r.data.extend(&buf[..n]);
        Ok(n)
    }
    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        let r = self.0.ring.lock();
        if r.readers == 0 {
            return PollEvents::POLLOUT | PollEvents::POLLERR;
        }
        if PIPE_SIZE - r.data.len() >= PIPE_BUF {
            PollEvents::POLLOUT
        } else {
            PollEvents::empty()
        }
    }
    fn stat(&self) -> Option<Metadata> {
        fifo_stat(&self.0)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Bytes waiting in the pipe behind `ops`, if it is a pipe end (FIONREAD).
pub fn pending(ops: &dyn FileOps) -> Option<usize> {
    let any = ops.as_any();
    if let Some(r) = any.downcast_ref::<PipeReader>() {
        return Some(r.0.ring.lock().data.len());
    }
    any.downcast_ref::<PipeWriter>()
        .map(|w| w.0.ring.lock().data.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockHost;

    #[test]
    fn read_write_eof_epipe_atomicity() {
        let mut h = MockHost::new(4096);
        let (r, w) = pipe();
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut h, 0, &mut buf), Err(Errno::EAGAIN));
        assert_eq!(w.write(&mut h, 0, b"hello"), Ok(5));
        assert!(r.poll(&mut h).contains(PollEvents::POLLIN));
        assert_eq!(r.read(&mut h, 0, &mut buf), Ok(5));
        assert_eq!(&buf[..5], b"hello");
        // Fill to one byte short of full: an atomic write that does not fit waits.
        let big = alloc::vec![7u8; PIPE_SIZE - 1];
        assert_eq!(w.write(&mut h, 0, &big), Ok(PIPE_SIZE - 1));
        assert_eq!(w.write(&mut h, 0, b"xy"), Err(Errno::EAGAIN));
        assert_eq!(w.write(&mut h, 0, b"x"), Ok(1));
        assert!(!w.poll(&mut h).contains(PollEvents::POLLOUT));
        drop(w);
        let mut sink = alloc::vec![0u8; PIPE_SIZE];
        assert_eq!(r.read(&mut h, 0, &mut sink), Ok(PIPE_SIZE));
        assert_eq!(
            r.read(&mut h, 0, &mut buf),
            Ok(0),
            "EOF once writers are gone"
        );
        assert!(r.poll(&mut h).contains(PollEvents::POLLHUP));
        let (r2, w2) = pipe();
        drop(r2);
        assert_eq!(w2.write(&mut h, 0, b"a"), Err(Errno::EPIPE));
    }
}
