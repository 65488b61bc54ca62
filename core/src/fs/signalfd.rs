//! signalfd(2): reading the caller's pending signals as a file. A read
//! takes the pending signals of its mask, the thread's own first and then
//! its process's (lowest number first, as Linux's dequeue_signal), one
//! 128-byte struct signalfd_siginfo each, and would block while none is
//! pending; poll reports POLLIN while one is. Whose signals they are is the
//! caller's, not the creator's: the kernel answers through
//! [`IoCtx::signals_pending`] and [`IoCtx::take_signal`].

use super::vfs::{FileOps, IoCtx, PollEvents, WakeSeq};
use crate::error::{Errno, KResult};
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

/// Size of struct signalfd_siginfo.
pub const SIGINFO_SIZE: usize = 128;

/// One signalfd object.
pub struct SignalFd {
    mask: Mutex<u64>,
    /// The caller's last signal wake-up as its last poll saw it: signals
    /// belong to the polling thread, so [`FileOps::wake_seq`] (read right
    /// after `poll`) answers for that thread.
    polled_wake: AtomicU64,
}

impl SignalFd {
    /// A signalfd for the signals of `mask` (bit `n - 1` for signal `n`).
    pub fn new(mask: u64) -> SignalFd {
        SignalFd {
            mask: Mutex::new(mask),
            polled_wake: AtomicU64::new(0),
        }
    }

    /// The object behind a file, if it is a signalfd.
    pub fn of(ops: &dyn FileOps) -> Option<&SignalFd> {
        ops.as_any().downcast_ref()
    }

    /// The signals it reads.
    pub fn mask(&self) -> u64 {
        *self.mask.lock()
    }

    /// signalfd on an existing descriptor: a new mask.
    pub fn set_mask(&self, mask: u64) {
        *self.mask.lock() = mask;
    }
}

impl FileOps for SignalFd {
    fn read(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        if buf.len() < SIGINFO_SIZE {
            return Err(Errno::EINVAL);
        }
        let mask = self.mask();
        let mut done = 0;
        while buf.len() - done >= SIGINFO_SIZE {
            let Some(info) = ctx.take_signal(mask) else {
                break;
            };
            buf[done..done + SIGINFO_SIZE].copy_from_slice(&info);
            done += SIGINFO_SIZE;
        }
        if done == 0 {
            return Err(Errno::EAGAIN);
        }
        Ok(done)
    }

    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn poll(&self, ctx: &mut dyn IoCtx) -> PollEvents {
        self.polled_wake
            .store(ctx.signal_wakes(), Ordering::Relaxed);
        if ctx.signals_pending() & self.mask() != 0 {
            PollEvents::POLLIN
        } else {
            PollEvents::empty()
        }
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        // Every signal queued for the task wakes its signalfds (Linux's
        // signalfd_notify); the poll finds whether it is one of the mask.
        Some(WakeSeq {
            input: self.polled_wake.load(Ordering::Relaxed),
            output: 0,
        })
    }

    fn anon_name(&self) -> Option<&'static str> {
        Some("[signalfd]")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
