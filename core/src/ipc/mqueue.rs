//! POSIX message queues (mq_overview(7)): named queues of prioritized
//! messages, opened as file descriptors by mq_open and used with
//! mq_timedsend, mq_timedreceive, mq_getsetattr and mq_notify (the calls
//! are in `syscall::mqueue`). There is no /dev/mqueue file system: the names
//! live in [`MqNs`] only, which is what glibc and musl need (their mq_open
//! is the syscall on the name without its leading '/').
//!
//! Limits are Linux's defaults: /proc/sys/fs/mqueue/queues_max (256;
//! CAP_SYS_RESOURCE goes to 1024), msg_max 10 and msgsize_max 8192 (with
//! CAP_SYS_RESOURCE 65536 and 16 MiB), and the bytes a queue may hold are
//! charged to its creator's uid against RLIMIT_MSGQUEUE (EMFILE beyond),
//! never more than [`MQ_BYTES_MAX`] whatever the limit says.

use crate::error::{Errno, KResult};
use crate::fs::vfs::{FileOps, IoCtx, PollEvents, WakeSeq};
use alloc::collections::VecDeque;

use crate::vecmap::VecMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use spin::Mutex;

pub const MQ_PRIO_MAX: u32 = 32768;
pub const QUEUES_MAX: usize = 256;
pub const HARD_QUEUESMAX: usize = 1024;
pub const MSG_MAX: i64 = 10;
pub const MSGSIZE_MAX: i64 = 8192;
pub const HARD_MSGMAX: i64 = 65536;
pub const HARD_MSGSIZEMAX: i64 = 16 << 20;
/// RLIMIT_MSGQUEUE's default (bytes).
pub const RLIMIT_MSGQUEUE_DEFAULT: u64 = 819_200;
/// What all queues together may be charged, whatever the rlimits say:
/// umbra's heap holds the messages.
pub const MQ_BYTES_MAX: u64 = 64 << 20;
pub const NAME_MAX: usize = 255;
/// The least a queue is charged against [`MQ_BYTES_MAX`].
const QUEUE_COST: u64 = 4096;

pub const SIGEV_SIGNAL: i32 = 0;
pub const SIGEV_NONE: i32 = 1;
pub const SIGEV_THREAD: i32 = 2;

/// What a registered mq_notify does when a message arrives in an empty
/// queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notify {
    pub pid: u32,
    /// The signal (SIGEV_SIGNAL), or None (SIGEV_NONE).
    pub signo: Option<u32>,
    pub value: u64,
}

/// Bytes charged to each uid, shared by every queue so that a queue's last
/// reference gives its charge back.
type Charges = Arc<Mutex<VecMap<u32, u64>>>;

/// A queue.
pub struct Queue {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub maxmsg: i64,
    pub msgsize: i64,
    /// Messages by priority, each priority's oldest first (Linux's tree of
    /// priority nodes, each with its list): the next to receive is the
    /// first of the last. Sends and receives are O(1) but for a priority
    /// that comes or goes, which moves the other priorities' entries (at
    /// most min(mq_maxmsg, MQ_PRIO_MAX)).
    msgs: VecMap<u32, VecDeque<Vec<u8>>>,
    /// Messages queued.
    count: usize,
    bytes: u64,
    pub notify: Option<Notify>,
    charge: (u32, u64),
    charges: Charges,
    /// Wake-ups for edge-triggered epoll: every send and receive wakes the
    /// queue's poll waiters (mqueue.c's wake_up of info->wait_q).
    wakes: WakeSeq,
}

impl Drop for Queue {
    fn drop(&mut self) {
        let mut c = self.charges.lock();
        if let Some(v) = c.get_mut(&self.charge.0) {
            *v = v.saturating_sub(self.charge.1);
            if *v == 0 {
                c.remove(&self.charge.0);
            }
        }
    }
}

impl Queue {
    /// Messages queued.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether none are queued.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether a send must wait.
    pub fn is_full(&self) -> bool {
        self.count as i64 >= self.maxmsg
    }

    /// Queues a message (the caller checked its size and that there is room).
    pub fn push(&mut self, prio: u32, text: Vec<u8>) {
        self.bytes += text.len() as u64;
        self.count += 1;
        let p = prio.min(MQ_PRIO_MAX - 1);
        self.msgs.entry(p).or_default().push_back(text);
        self.wakes.wake_all();
    }

    /// Takes the oldest message of the highest priority.
    pub fn pop(&mut self) -> Option<(u32, Vec<u8>)> {
        let p = *self.msgs.last_key_value()?.0;
        let q = self.msgs.get_mut(&p)?;
        let text = q.pop_front()?;
        if q.is_empty() {
            self.msgs.pop_last();
        }
        self.count -= 1;
        self.bytes = self.bytes.saturating_sub(text.len() as u64);
        self.wakes.wake_all();
        Some((p, text))
    }

    /// What reading the queue's file shows (Linux's mqueue_read_file).
    pub fn text(&self) -> Vec<u8> {
        let (how, sig, pid) = match self.notify {
            Some(n) => (
                if n.signo.is_some() {
                    SIGEV_SIGNAL
                } else {
                    SIGEV_NONE
                },
                n.signo.unwrap_or(0),
                n.pid,
            ),
            None => (0, 0, 0),
        };
        alloc::format!(
            "QSIZE:{:<10} NOTIFY:{:<5} SIGNO:{:<5} NOTIFY_PID:{:<6}\n",
            self.bytes,
            how,
            sig,
            pid
        )
        .into_bytes()
    }
}

/// The queues by name.
pub struct MqNs {
    /// At most HARD_QUEUESMAX.
    names: VecMap<Vec<u8>, Arc<Mutex<Queue>>>,
    charges: Charges,
    /// Threads waiting in mq_timedreceive, by tid, and their queue (a
    /// notification goes only when nobody waits).
    pub receivers: VecMap<u32, usize>,
    /// Threads waiting in mq_timedsend, by tid: the priority and text of
    /// their message (copied once) and their deadline.
    pub senders: VecMap<u32, (u32, Vec<u8>, Option<u64>)>,
}

/// The attributes of a new queue: mq_maxmsg, mq_msgsize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewAttr {
    pub maxmsg: i64,
    pub msgsize: i64,
}

/// Who creates or opens a queue.
pub struct Opener {
    pub euid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
    pub sys_resource: bool,
    /// CAP_DAC_OVERRIDE (access to any queue).
    pub dac_override: bool,
    pub rlimit_msgqueue: u64,
}

impl MqNs {
    pub fn new() -> Self {
        MqNs {
            names: VecMap::new(),
            charges: Arc::new(Mutex::new(VecMap::new())),
            receivers: VecMap::new(),
            senders: VecMap::new(),
        }
    }

    /// Checks a queue name as Linux's lookup in the mqueue mount does.
    pub fn check_name(name: &[u8]) -> KResult<()> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// mq_open: the queue `name`, created when `create` (with `attr`, or the
    /// defaults) and absent; EEXIST with `excl` if present. `acc` is the
    /// access asked for (4 read, 2 write; 8 for O_RDWR|O_WRONLY, EINVAL on
    /// an existing queue).
    #[expect(clippy::too_many_arguments, reason = "mq_open's own arguments")]
    pub fn open(
        &mut self,
        name: &[u8],
        create: bool,
        excl: bool,
        mode: u32,
        attr: Option<NewAttr>,
        acc: u32,
        o: &Opener,
    ) -> KResult<Arc<Mutex<Queue>>> {
        Self::check_name(name)?;
        if let Some(q) = self.names.get(name) {
            if create && excl {
                return Err(Errno::EEXIST);
            }
            if acc & 8 != 0 {
                return Err(Errno::EINVAL);
            }
            let ql = q.lock();
            let mut granted = ql.mode;
            if o.euid == ql.uid {
                granted >>= 6;
            } else if o.egid == ql.gid || o.groups.contains(&ql.gid) {
                granted >>= 3;
            }
            if acc & !granted & 7 != 0 && !o.dac_override {
                return Err(Errno::EACCES);
            }
            drop(ql);
            return Ok(q.clone());
        }
        if !create {
            return Err(Errno::ENOENT);
        }
        let limit = if o.sys_resource {
            HARD_QUEUESMAX
        } else {
            QUEUES_MAX
        };
        if self.names.len() >= limit {
            return Err(Errno::ENOSPC);
        }
        let a = match attr {
            Some(a) => {
                if a.maxmsg <= 0 || a.msgsize <= 0 {
                    return Err(Errno::EINVAL);
                }
                let (mm, ms) = if o.sys_resource {
                    (HARD_MSGMAX, HARD_MSGSIZEMAX)
                } else {
                    (MSG_MAX, MSGSIZE_MAX)
                };
                if a.maxmsg > mm || a.msgsize > ms {
                    return Err(Errno::EINVAL);
                }
                a
            }
            None => NewAttr {
                maxmsg: MSG_MAX,
                msgsize: MSGSIZE_MAX,
            },
        };
        // What Linux charges: the bytes plus its per-message bookkeeping.
        let per_msg = if cfg!(target_pointer_width = "32") {
            24
        } else {
            48
        };
        let node = if cfg!(target_pointer_width = "32") {
            20
        } else {
            40
        };
        let bytes = (a.maxmsg as u64) * (a.msgsize as u64)
            + a.maxmsg as u64 * per_msg
            + (a.maxmsg as u64).min(MQ_PRIO_MAX as u64) * node;
        // Every queue costs umbra at least this much against MQ_BYTES_MAX
        // (an unlinked queue lives on while open and holds its charge).
        let heap = bytes.max(QUEUE_COST);
        {
            let mut ch = self.charges.lock();
            let total: u64 = ch.values().sum();
            let mine = ch.get(&o.euid).copied().unwrap_or(0);
            if mine + bytes > o.rlimit_msgqueue || total + heap > MQ_BYTES_MAX {
                return Err(Errno::EMFILE);
            }
            *ch.entry(o.euid).or_insert(0) += heap;
        }
        let q = Arc::new(Mutex::new(Queue {
            uid: o.euid,
            gid: o.egid,
            mode: mode & 0o777,
            maxmsg: a.maxmsg,
            msgsize: a.msgsize,
            msgs: VecMap::new(),
            count: 0,
            bytes: 0,
            notify: None,
            charge: (o.euid, heap),
            charges: self.charges.clone(),
            wakes: WakeSeq::default(),
        }));
        self.names.insert(name.to_vec(), q.clone());
        Ok(q)
    }

    /// mq_unlink: removes the name (the queue lives on while open). Only
    /// the queue's owner or CAP_FOWNER may (/dev/mqueue is sticky).
    pub fn unlink(&mut self, name: &[u8], euid: u32, fowner: bool) -> KResult<()> {
        Self::check_name(name)?;
        let q = self.names.get(name).ok_or(Errno::ENOENT)?;
        if q.lock().uid != euid && !fowner {
            return Err(Errno::EACCES);
        }
        self.names.remove(name);
        Ok(())
    }

    /// Names and queues (for /proc and tests).
    pub fn names(&self) -> impl Iterator<Item = (&Vec<u8>, &Arc<Mutex<Queue>>)> {
        self.names.iter()
    }
}

impl Default for MqNs {
    fn default() -> Self {
        Self::new()
    }
}

/// The file an mq_open descriptor refers to.
pub struct MqFile {
    pub queue: Arc<Mutex<Queue>>,
}

impl FileOps for MqFile {
    fn read(&self, _ctx: &mut dyn IoCtx, off: u64, buf: &mut [u8]) -> KResult<usize> {
        let t = self.queue.lock().text();
        let off = usize::try_from(off).unwrap_or(usize::MAX).min(t.len());
        let n = buf.len().min(t.len() - off);
        buf[..n].copy_from_slice(&t[off..off + n]);
        Ok(n)
    }

    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        let q = self.queue.lock();
        let mut e = PollEvents::empty();
        if !q.is_empty() {
            e |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        if !q.is_full() {
            e |= PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        }
        e
    }

    fn seekable(&self) -> bool {
        true
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(self.queue.lock().wakes)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
