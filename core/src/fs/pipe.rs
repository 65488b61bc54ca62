//! Pipes: a ring shared by a read end and a write end, 64 KiB unless
//! F_SETPIPE_SZ changes it. Writes of at most PIPE_BUF bytes are atomic; a
//! read with no writers left sees end of file; a write with no readers left
//! gets EPIPE (the syscall layer raises SIGPIPE). Would-block is EAGAIN; the
//! syscall layer parks blocking callers.
//!
//! The capacity is Linux's: a power-of-two number of pages, at least one
//! (fs/pipe.c round_pipe_size). The ring's memory grows only with the bytes
//! held, so a large capacity costs nothing until it is filled.

use super::vfs::{FileOps, IoCtx, Metadata, PollEvents, WakeSeq};
use crate::error::{Errno, KResult};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::any::Any;
use spin::Mutex;

/// Capacity of a new pipe (F_GETPIPE_SZ).
pub const PIPE_SIZE: usize = 65536;
/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;
/// /proc/sys/fs/pipe-max-size: the largest capacity a user without
/// CAP_SYS_RESOURCE may set.
pub const PIPE_MAX_SIZE: usize = 1 << 20;
/// The largest capacity even root gets. Linux allows up to 2^31 where memory
/// permits; umbra's kernel heap is small, so larger requests get ENOMEM
/// rather than a promise the heap could not keep.
pub const PIPE_MAX_SIZE_ROOT: usize = 64 << 20;
const PAGE: usize = 4096;

struct Ring {
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
    /// Bytes the pipe holds at most.
    capacity: usize,
    /// Wake-ups for edge-triggered epoll, where Linux's fs/pipe.c wakes
    /// its rd_wait and wr_wait queues.
    wakes: WakeSeq,
    /// Write ends opened so far (Linux's w_counter): a FIFO reader reports
    /// POLLHUP only once a writer came after it opened.
    w_opens: u64,
    /// The SIGIO due to O_ASYNC readers (POLL_IN) and writers (POLL_OUT):
    /// Linux's pipe_write and pipe_read signal the other side at the end
    /// of every call that asked for bytes, whatever came of it (EAGAIN
    /// included), and pipe_release both sides when one side's last end
    /// goes.
    sigio_in: u64,
    sigio_out: u64,
}

impl Ring {
    /// Whether a writer could add PIPE_BUF bytes (POLLOUT).
    fn writable(&self) -> bool {
        self.capacity.saturating_sub(self.data.len()) >= PIPE_BUF
    }

    /// One end closed: when that leaves readers without writers or the
    /// reverse, everyone is woken (pipe_release).
    fn end_closed(&mut self) {
        if (self.readers == 0) != (self.writers == 0) {
            self.wakes.wake_all();
            self.sigio_in += 1;
            self.sigio_out += 1;
        }
    }
}

/// The shared state of one pipe.
pub struct Pipe {
    ring: Mutex<Ring>,
}

/// The read end, with the pipe's write-open count when it opened.
pub struct PipeReader(Arc<Pipe>, u64);
/// The write end.
pub struct PipeWriter(Arc<Pipe>);

/// A new pipe's two ends.
pub fn pipe() -> (Arc<PipeReader>, Arc<PipeWriter>) {
    let p = Arc::new(Pipe {
        ring: Mutex::new(Ring {
            data: VecDeque::new(),
            readers: 1,
            writers: 1,
            capacity: PIPE_SIZE,
            wakes: WakeSeq::default(),
            w_opens: 1,
            sigio_in: 0,
            sigio_out: 0,
        }),
    });
    (Arc::new(PipeReader(p.clone(), 0)), Arc::new(PipeWriter(p)))
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let mut r = self.0.ring.lock();
        r.readers -= 1;
        r.end_closed();
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        let mut r = self.0.ring.lock();
        r.writers -= 1;
        r.end_closed();
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

impl PipeReader {
    /// Reads into `bufs`, in order, as one read of their total length
    /// (read(2) and readv(2) straight into guest memory): what the pipe
    /// holds, up to that length, under one lock.
    fn read_vectored(&self, bufs: &mut [&mut [u8]]) -> KResult<usize> {
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let mut r = self.0.ring.lock();
        if want == 0 {
            return Ok(0);
        }
        r.sigio_out += 1;
        if r.data.is_empty() {
            return if r.writers == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = want.min(r.data.len());
        let was_full = !r.writable();
        let mut done = 0usize;
        for b in bufs.iter_mut() {
            let k = b.len().min(n - done);
            let (front, back) = r.data.as_slices();
            let (dst, src_front) = (&mut b[..k], front.len().min(k));
            dst[..src_front].copy_from_slice(&front[..src_front]);
            dst[src_front..].copy_from_slice(&back[..k - src_front]);
            r.data.drain(..k);
            done += k;
            if done == n {
                break;
            }
        }
        if was_full {
            r.wakes.wake_output();
        }
        Ok(n)
    }
}

impl PipeWriter {
    /// Writes `bufs`, in order, as one write of their total length (write(2)
    /// and writev(2) straight from guest memory), under one lock: at most
    /// PIPE_BUF bytes in all go in whole or not at all.
    fn write_vectored(&self, bufs: &[&[u8]]) -> KResult<usize> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        // A null write succeeds, readers or not (Linux's pipe_write).
        if len == 0 {
            return Ok(0);
        }
        let mut r = self.0.ring.lock();
        if r.readers == 0 {
            return Err(Errno::EPIPE);
        }
        r.sigio_in += 1;
        let space = r.capacity.saturating_sub(r.data.len());
        if space == 0 || (len <= PIPE_BUF && space < len) {
            return Err(Errno::EAGAIN);
        }
        let n = len.min(space);
        let mut done = 0usize;
        for b in bufs {
            let k = b.len().min(n - done);
            r.data.extend(&b[..k]);
            done += k;
            if done == n {
                break;
            }
        }
        r.wakes.wake_input();
        Ok(n)
    }
}

/// Whether `ops` is a pipe's read or write end (an anonymous pipe, or a FIFO
/// opened for one direction): what [`read_vectored`] and [`write_vectored`]
/// serve.
pub fn is_pipe_end(ops: &dyn FileOps) -> bool {
    let any = ops.as_any();
    any.is::<PipeReader>() || any.is::<PipeWriter>()
}

/// read(2) of the pipe end `ops` into `bufs` as one buffer; EBADF on a
/// write end, EINVAL if `ops` is no pipe end.
pub fn read_vectored(ops: &dyn FileOps, bufs: &mut [&mut [u8]]) -> KResult<usize> {
    let any = ops.as_any();
    match any.downcast_ref::<PipeReader>() {
        Some(r) => r.read_vectored(bufs),
        None if any.is::<PipeWriter>() => Err(Errno::EBADF),
        None => Err(Errno::EINVAL),
    }
}

/// write(2) of `bufs` as one buffer to the pipe end `ops`; EBADF on a read
/// end, EINVAL if `ops` is no pipe end.
pub fn write_vectored(ops: &dyn FileOps, bufs: &[&[u8]]) -> KResult<usize> {
    let any = ops.as_any();
    match any.downcast_ref::<PipeWriter>() {
        Some(w) => w.write_vectored(bufs),
        None if any.is::<PipeReader>() => Err(Errno::EBADF),
        None => Err(Errno::EINVAL),
    }
}

impl FileOps for PipeReader {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        self.read_vectored(&mut [buf])
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
        if r.writers == 0 && r.w_opens != self.1 {
            ev |= PollEvents::POLLHUP;
        }
        ev
    }
    fn stat(&self) -> Option<Metadata> {
        fifo_stat(&self.0)
    }
    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(self.0.wake_seq())
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
        self.write_vectored(&[buf])
    }
    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        let r = self.0.ring.lock();
        if r.readers == 0 {
            return PollEvents::POLLOUT | PollEvents::POLLERR;
        }
        if r.writable() {
            PollEvents::POLLOUT
        } else {
            PollEvents::empty()
        }
    }
    fn stat(&self) -> Option<Metadata> {
        fifo_stat(&self.0)
    }
    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(self.0.wake_seq())
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

/// The SIGIO an O_ASYNC description of this pipe end is due so far: a
/// count of POLL_IN for a read end, of POLL_OUT for a write end.
pub fn async_count(ops: &dyn FileOps) -> Option<u64> {
    let any = ops.as_any();
    if let Some(r) = any.downcast_ref::<PipeReader>() {
        return Some(r.0.ring.lock().sigio_in);
    }
    any.downcast_ref::<PipeWriter>()
        .map(|w| w.0.ring.lock().sigio_out)
}

/// The pipe behind `ops`, if it is a pipe end.
fn pipe_of(ops: &dyn FileOps) -> Option<&Pipe> {
    let any = ops.as_any();
    if let Some(r) = any.downcast_ref::<PipeReader>() {
        return Some(&r.0);
    }
    any.downcast_ref::<PipeWriter>().map(|w| &*w.0)
}

/// Who asks to grow a pipe: only a privileged caller (CAP_SYS_RESOURCE) may
/// go past [`PIPE_MAX_SIZE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resizer {
    Privileged,
    User,
}

/// F_GETPIPE_SZ: the capacity of the pipe behind `ops`; EBADF if it is not
/// a pipe.
pub fn pipe_size(ops: &dyn FileOps) -> KResult<usize> {
    pipe_of(ops)
        .map(|p| p.ring.lock().capacity)
        .ok_or(Errno::EBADF)
}

/// F_SETPIPE_SZ, as Linux's pipe_set_size: the size is rounded up to a
/// power-of-two number of pages (one page at least); EINVAL above 2^31;
/// EPERM when an unprivileged caller grows the pipe past
/// [`PIPE_MAX_SIZE`]; EBUSY when the pipe holds more than the new size.
/// Returns the new capacity.
pub fn set_pipe_size(ops: &dyn FileOps, arg: u32, who: Resizer) -> KResult<usize> {
    let p = pipe_of(ops).ok_or(Errno::EBADF)?;
    let arg = arg as usize;
    if arg > 1 << 31 {
        return Err(Errno::EINVAL);
    }
    let size = arg.max(PAGE).next_power_of_two();
    let mut r = p.ring.lock();
    if size > r.capacity {
        if size > PIPE_MAX_SIZE && who == Resizer::User {
            return Err(Errno::EPERM);
        }
        if size > PIPE_MAX_SIZE_ROOT {
            return Err(Errno::ENOMEM);
        }
    }
    // Linux counts the pages the data occupies.
    if r.data.len().div_ceil(PAGE) * PAGE > size {
        return Err(Errno::EBUSY);
    }
    r.capacity = size;
    // pipe_resize_ring wakes the writers.
    r.wakes.wake_all();
    Ok(size)
}

/// For FIFOs (`fs::fifo`): a pipe with no ends yet, more ends of one pipe,
/// and how many of each are open.
impl Pipe {
    /// A pipe with no reader and no writer.
    pub fn unconnected() -> Arc<Pipe> {
        let (r, w) = pipe();
        let p = r.0.clone();
        drop((r, w));
        p
    }

    /// One more read end. The first one wakes the writers (fifo_open's
    /// wake_up_partner).
    pub fn open_reader(self: &Arc<Self>) -> Arc<PipeReader> {
        let mut r = self.ring.lock();
        r.readers += 1;
        if r.readers == 1 {
            r.wakes.wake_all();
        }
        // fifo_open: a reader that opens with no writer suppresses POLLHUP
        // until a writer has come.
        let seen = if r.writers == 0 { r.w_opens } else { 0 };
        drop(r);
        Arc::new(PipeReader(self.clone(), seen))
    }

    /// One more write end; the first one wakes the readers.
    pub fn open_writer(self: &Arc<Self>) -> Arc<PipeWriter> {
        let mut r = self.ring.lock();
        r.writers += 1;
        r.w_opens = r.w_opens.wrapping_add(1);
        if r.writers == 1 {
            r.wakes.wake_all();
        }
        drop(r);
        Arc::new(PipeWriter(self.clone()))
    }

    /// The wake-up counts for edge-triggered epoll.
    pub fn wake_seq(&self) -> WakeSeq {
        self.ring.lock().wakes
    }

    /// The (readers, writers) open.
    pub fn ends(&self) -> (usize, usize) {
        let r = self.ring.lock();
        (r.readers, r.writers)
    }
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
        assert_eq!(w2.write(&mut h, 0, b""), Ok(0), "a null write succeeds");
    }

    #[test]
    fn set_pipe_size_rounds_limits_and_sets_capacity() {
        let mut h = MockHost::new(4096);
        let (r, w) = pipe();
        let (ro, wo): (&dyn FileOps, &dyn FileOps) = (&*r, &*w);
        assert_eq!(pipe_size(ro), Ok(PIPE_SIZE));
        assert_eq!(set_pipe_size(wo, 0, Resizer::User), Ok(4096));
        assert_eq!(set_pipe_size(wo, 5000, Resizer::User), Ok(8192));
        assert_eq!(pipe_size(wo), Ok(8192));
        let big = alloc::vec![1u8; 9000];
        assert_eq!(
            w.write(&mut h, 0, &big),
            Ok(8192),
            "capacity follows the size"
        );
        assert_eq!(w.write(&mut h, 0, b"x"), Err(Errno::EAGAIN));
        assert_eq!(set_pipe_size(ro, 4096, Resizer::User), Err(Errno::EBUSY));
        assert_eq!(set_pipe_size(ro, 2 << 20, Resizer::User), Err(Errno::EPERM));
        assert_eq!(set_pipe_size(ro, 2 << 20, Resizer::Privileged), Ok(2 << 20));
        assert_eq!(
            set_pipe_size(ro, 1 << 30, Resizer::Privileged),
            Err(Errno::ENOMEM)
        );
        assert_eq!(
            set_pipe_size(ro, (1 << 31) + 1, Resizer::Privileged),
            Err(Errno::EINVAL)
        );
        // Shrinking is allowed to anyone, down to what the data occupies.
        assert_eq!(set_pipe_size(ro, 8192, Resizer::User), Ok(8192));
        let mut sink = [0u8; 8192];
        assert_eq!(r.read(&mut h, 0, &mut sink), Ok(8192));
        assert_eq!(set_pipe_size(ro, 1, Resizer::User), Ok(4096));
    }
}
