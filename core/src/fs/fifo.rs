//! FIFOs (named pipes). The data flows through a [`pipe`](super::pipe): each
//! FIFO node has one pipe, made when the first end opens and dropped (with
//! any data left in it) when the last end closes, as Linux's fifo_open does.
//! The table is keyed by the node's (device, inode number), so every path
//! and hard link to a FIFO reaches the same pipe.
//!
//! Opening follows Linux: O_RDONLY waits until a writer has opened, O_WRONLY
//! until a reader has (an opener that waits already counts as a reader or
//! writer, so its partner does not wait); O_NONBLOCK read-opens succeed at
//! once and O_NONBLOCK write-opens with no reader give ENXIO; O_RDWR never
//! waits. A waiting opener's end is kept here, by thread id, while the
//! syscall layer parks the thread and serves the call again; see
//! [`FifoCaller`].

use crate::vecmap::VecMap;
use alloc::sync::Arc;
use core::any::Any;

use spin::Mutex;

use super::pipe::{Pipe, PipeReader, PipeWriter};
use super::vfs::{FileOps, IoCtx, IoctlArg, Metadata, PollEvents, WakeSeq};
use crate::error::{Errno, KResult};

/// The thread opening a FIFO, for the rendezvous.
pub struct FifoCaller<'a> {
    pub tid: u32,
    /// This is a new call, not one served again after it waited.
    pub first: bool,
    /// Whether thread `tid` may still be waiting in a FIFO open: the end of a
    /// thread that is not (its open was interrupted) is dropped.
    pub may_wait: &'a dyn Fn(u32) -> bool,
}

/// What a FIFO open gives.
pub enum FifoOpen {
    /// The open end(s), as stream operations.
    Ready(Arc<dyn FileOps>),
    /// No partner yet: park the thread and call again.
    Wait,
}

enum End {
    Reader(Arc<PipeReader>),
    Writer(Arc<PipeWriter>),
}

/// An opener waiting for its partner: its end, and the partner's open count
/// when it started waiting.
struct Waiting {
    end: End,
    seen: u64,
}

#[derive(Default)]
struct FifoState {
    pipe: Option<Arc<Pipe>>,
    /// Read-opens and write-opens so far (Linux's r_counter and w_counter).
    r_opens: u64,
    w_opens: u64,
    waiting: VecMap<u32, Waiting>,
}

impl FifoState {
    /// The pipe of the FIFO: a fresh one when no end is open.
    fn pipe(&mut self) -> Arc<Pipe> {
        match &self.pipe {
            Some(p) if p.ends() != (0, 0) => p.clone(),
            _ => {
                let p = Pipe::unconnected();
                self.pipe = Some(p.clone());
                p
            }
        }
    }
}

/// The FIFOs that have been opened, by (device, inode number).
#[derive(Default)]
pub struct FifoTable {
    fifos: Mutex<VecMap<(u64, u64), FifoState>>,
}

impl FifoTable {
    /// Opens the FIFO `key` for reading and/or writing. `caller` is `None`
    /// for in-kernel opens, which never wait.
    pub fn open(
        &self,
        key: (u64, u64),
        (read, write): (bool, bool),
        nonblock: bool,
        caller: Option<&FifoCaller<'_>>,
    ) -> KResult<FifoOpen> {
        if !read && !write {
            return Err(Errno::EINVAL);
        }
        let mut t = self.fifos.lock();
        // Forget FIFOs nobody has open.
        t.retain(|_, s| {
            !s.waiting.is_empty() || s.pipe.as_ref().is_some_and(|p| p.ends() != (0, 0))
        });
        let st = t.entry(key).or_default();
        if let Some(c) = caller {
            st.waiting.retain(|tid, _| {
                if *tid == c.tid {
                    !c.first
                } else {
                    (c.may_wait)(*tid)
                }
            });
            if let Some(w) = st.waiting.get(&c.tid) {
                let partner_came = match &w.end {
                    End::Reader(_) => st.w_opens != w.seen,
                    End::Writer(_) => st.r_opens != w.seen,
                };
                if !partner_came {
                    return Ok(FifoOpen::Wait);
                }
                let w = st.waiting.remove(&c.tid).ok_or(Errno::EIO)?;
                return Ok(FifoOpen::Ready(match w.end {
                    End::Reader(r) => r,
                    End::Writer(w) => w,
                }));
            }
        }
        let pipe = st.pipe();
        let (readers, writers) = pipe.ends();
        match (read, write) {
            (true, true) => {
                st.r_opens = st.r_opens.wrapping_add(1);
                st.w_opens = st.w_opens.wrapping_add(1);
                Ok(FifoOpen::Ready(Arc::new(FifoRdWr {
                    r: pipe.open_reader(),
                    w: pipe.open_writer(),
                })))
            }
            (true, false) => {
                let r = pipe.open_reader();
                st.r_opens = st.r_opens.wrapping_add(1);
                match caller {
                    Some(c) if writers == 0 && !nonblock => {
                        let seen = st.w_opens;
                        st.waiting.insert(
                            c.tid,
                            Waiting {
                                end: End::Reader(r),
                                seen,
                            },
                        );
                        Ok(FifoOpen::Wait)
                    }
                    _ => Ok(FifoOpen::Ready(r)),
                }
            }
            (false, _) => {
                if readers == 0 && nonblock {
                    return Err(Errno::ENXIO);
                }
                let w = pipe.open_writer();
                st.w_opens = st.w_opens.wrapping_add(1);
                match caller {
                    Some(c) if readers == 0 => {
                        let seen = st.r_opens;
                        st.waiting.insert(
                            c.tid,
                            Waiting {
                                end: End::Writer(w),
                                seen,
                            },
                        );
                        Ok(FifoOpen::Wait)
                    }
                    _ => Ok(FifoOpen::Ready(w)),
                }
            }
        }
    }
}

/// A FIFO opened O_RDWR: both ends of its pipe in one description.
struct FifoRdWr {
    r: Arc<PipeReader>,
    w: Arc<PipeWriter>,
}

impl FileOps for FifoRdWr {
    fn read(&self, ctx: &mut dyn IoCtx, off: u64, buf: &mut [u8]) -> KResult<usize> {
        self.r.read(ctx, off, buf)
    }
    fn write(&self, ctx: &mut dyn IoCtx, off: u64, buf: &[u8]) -> KResult<usize> {
        self.w.write(ctx, off, buf)
    }
    fn poll(&self, ctx: &mut dyn IoCtx) -> PollEvents {
        // Never a hang-up: this description is a writer itself.
        (self.r.poll(ctx) | self.w.poll(ctx)) & !(PollEvents::POLLHUP | PollEvents::POLLERR)
    }
    fn ioctl(&self, ctx: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        self.r.ioctl(ctx, cmd, arg)
    }
    fn stat(&self) -> Option<Metadata> {
        self.r.stat()
    }
    fn wake_seq(&self) -> Option<WakeSeq> {
        self.r.wake_seq()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
