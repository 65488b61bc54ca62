//! Sockets. Each address family implements [`Socket`]; the syscall layer
//! (syscall/net.rs) copies addresses, data and control messages between guest
//! memory and the typed values here, so a family never touches guest memory.
//!
//! A family's call that cannot go on now returns `EAGAIN`; the syscall layer
//! parks a blocking caller and serves the call again after something changed
//! (there are no wait queues: see `Wait::Event`). Calls that make progress
//! over several tries (a stream send larger than the peer's buffer, a receive
//! with MSG_WAITALL) are resumed by the layer, which keeps the count moved so
//! far in the thread's `io_done`.
//!
//! A socket's descriptor is an [`OpenFile`] whose operations are a
//! [`SocketFile`]; [`socket_of`] finds the socket behind a description.

pub mod addr;
pub mod host;
pub mod inet;
pub mod netlink;
pub mod unix;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;
use umbra_abi::net::*;

pub use addr::{NodeId, SockAddr, UnixAddr};

use crate::error::{Errno, KResult};
use crate::fs::file::OpenFile;
use crate::fs::vfs::{FileOps, IoCtx, IoctlArg, Metadata, PollEvents, WakeSeq};
use umbra_abi::structs::Timespec;

/// Who makes a call: what SO_PEERCRED and SCM_CREDENTIALS report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ucred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The context of one socket call.
pub struct SockCx<'a> {
    /// The host services devices use.
    pub io: &'a mut dyn IoCtx,
    /// The calling process (thread group id) and its credentials.
    pub caller: Ucred,
    /// The caller as a message's SCM_CREDENTIALS reports it when the
    /// kernel attaches them (SO_PASSCRED): its pid and *real* ids (Linux's
    /// maybe_add_creds takes current_uid_gid), where SO_PEERCRED has the
    /// effective ones.
    pub scm: Ucred,
    /// The call must not wait (O_NONBLOCK or MSG_DONTWAIT): a family that
    /// would otherwise start something and wait for it (a TCP connect)
    /// answers as Linux's non-blocking call does (EINPROGRESS, EALREADY).
    pub nonblock: bool,
}

/// A control message, decoded. The syscall layer turns SCM_RIGHTS descriptors
/// into open files (and back into new descriptors on receipt).
#[derive(Clone)]
pub enum Ancillary {
    Rights(Vec<Arc<OpenFile>>),
    Creds(Ucred),
}

impl core::fmt::Debug for Ancillary {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Ancillary::Rights(v) => write!(f, "Rights({})", v.len()),
            Ancillary::Creds(c) => write!(f, "Creds({c:?})"),
        }
    }
}

/// What sendmsg hands a socket.
pub struct SendMsg<'a> {
    pub data: &'a [u8],
    /// The destination (sendto, or msg_name), with the socket node it names
    /// when it is a path (AF_UNIX).
    pub to: Option<(&'a SockAddr, Option<NodeId>)>,
    /// Control messages; sent with the first byte only, so a resumed stream
    /// send passes none.
    pub anc: Vec<Ancillary>,
    /// MSG_* flags as the caller gave them.
    pub flags: u32,
}

/// What a receive took.
#[derive(Debug, Default)]
pub struct Received {
    /// Bytes stored in the buffer.
    pub len: usize,
    /// The whole datagram's length (for MSG_TRUNC); `len` for streams.
    pub full: usize,
    /// The sender's address, for recvfrom and msg_name.
    pub from: Option<SockAddr>,
    pub anc: Vec<Ancillary>,
    /// msg_flags bits the socket sets (MSG_EOR, MSG_TRUNC, MSG_OOB).
    pub flags: u32,
    /// A stream read stopped at an urgent mark: the receive ends here,
    /// even under MSG_WAITALL (Linux's tcp_recvmsg and AF_UNIX's
    /// manage_oob stop before it once they have copied something).
    pub stop: bool,
    /// The `len` bytes were taken (or peeked) but stored nowhere: TCP's
    /// MSG_TRUNC, where tcp_recvmsg counts the bytes without copying them,
    /// so the caller's buffer is left as it was.
    pub discarded: bool,
}

/// The reasons counted by [`Socket::async_counts`]: si_code POLL_IN,
/// POLL_OUT and POLL_HUP.
pub const ASYNC_IN: usize = 0;
pub const ASYNC_OUT: usize = 1;
pub const ASYNC_HUP: usize = 2;
/// si_code POLL_ERR (sk_error_report: a reset, a refusal).
pub const ASYNC_ERR: usize = 3;

/// One socket of some family. Unsupported calls keep their defaults, which
/// are Linux's errors for a family that lacks them.
pub trait Socket: Send + Sync {
    /// AF_*.
    fn domain(&self) -> u16;
    /// SOCK_* (without flags).
    fn sock_type(&self) -> u32;
    /// The protocol, as SO_PROTOCOL reports it.
    fn protocol(&self) -> u32;
    /// bind(2). `node` is the socket node made for a path (AF_UNIX).
    fn bind(&self, _cx: &mut SockCx<'_>, _addr: &SockAddr, _node: Option<NodeId>) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// connect(2). `node` is the node a path names (AF_UNIX). EAGAIN parks
    /// a blocking caller, which calls again.
    fn connect(
        &self,
        _cx: &mut SockCx<'_>,
        _addr: &SockAddr,
        _node: Option<NodeId>,
    ) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// listen(2).
    fn listen(&self, _cx: &mut SockCx<'_>, _backlog: i32) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// accept(2): the new connection and its peer's address; EAGAIN if none
    /// is waiting.
    fn accept(&self, _cx: &mut SockCx<'_>) -> KResult<(Arc<dyn Socket>, SockAddr)> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Sends; returns the bytes taken (a stream may take part).
    fn send(&self, cx: &mut SockCx<'_>, msg: SendMsg<'_>) -> KResult<usize>;
    /// Receives into `buf`; MSG_PEEK, MSG_TRUNC and MSG_OOB are the
    /// socket's to honour, MSG_WAITALL and MSG_DONTWAIT the layer's. A
    /// socket that takes bytes without storing them (TCP's MSG_TRUNC) says
    /// so in [`Received::discarded`], and the layer writes nothing.
    fn recv(&self, cx: &mut SockCx<'_>, buf: &mut [u8], flags: u32) -> KResult<Received>;
    /// A stream send of bytes the layer gives away (no address and no
    /// control messages, `data` not empty): a family that queues bytes may
    /// keep the vector rather than copy it. As `send` otherwise.
    fn send_owned(&self, cx: &mut SockCx<'_>, data: Vec<u8>, flags: u32) -> KResult<usize> {
        self.send(
            cx,
            SendMsg {
                data: &data,
                to: None,
                anc: Vec::new(),
                flags,
            },
        )
    }
    /// Whether [`Self::send_slices`] takes this socket's stream sends.
    fn sends_slices(&self) -> bool {
        false
    }
    /// A stream send straight from `bufs`, slices of guest memory taken in
    /// order as one buffer (no address, no control messages, not empty),
    /// for a socket that [`Self::sends_slices`]: the family copies the
    /// bytes it takes into its queue, once. As `send` otherwise; `None`:
    /// no such path.
    fn send_slices(&self, _bufs: &[&[u8]], _flags: u32) -> Option<KResult<usize>> {
        None
    }
    /// A stream receive of up to `len` bytes that hands them to `sink` as
    /// it takes them (the layer copies them straight to the caller's
    /// buffers), so they are copied once. A `sink` error stops it before
    /// the bytes it refused are taken; it is the result if nothing was.
    /// Bytes taken with [`Received::discarded`] are not handed to `sink`.
    /// `None`: the family has no such path, the layer calls `recv`.
    fn recv_to(
        &self,
        _len: usize,
        _flags: u32,
        _sink: &mut dyn FnMut(&[u8]) -> KResult<()>,
    ) -> Option<KResult<Received>> {
        None
    }
    /// shutdown(2), `how` already checked.
    fn shutdown(&self, _cx: &mut SockCx<'_>, _how: u32) -> KResult<()> {
        Err(Errno::ENOTCONN)
    }
    /// getsockname(2).
    fn local_addr(&self) -> KResult<SockAddr>;
    /// getpeername(2).
    fn peer_addr(&self) -> KResult<SockAddr> {
        Err(Errno::ENOTCONN)
    }
    /// A family's own option (any level); `ENOPROTOOPT` leaves SOL_SOCKET
    /// options to the layer's generic ones. `len` is the caller's buffer
    /// size; the value returned is truncated to it by the layer.
    fn getsockopt(
        &self,
        _cx: &mut SockCx<'_>,
        _level: u32,
        _name: u32,
        _len: usize,
    ) -> KResult<Vec<u8>> {
        Err(Errno::ENOPROTOOPT)
    }
    /// Sets a family's own option; `ENOPROTOOPT` as for getsockopt.
    fn setsockopt(
        &self,
        _cx: &mut SockCx<'_>,
        _level: u32,
        _name: u32,
        _val: &[u8],
    ) -> KResult<()> {
        Err(Errno::ENOPROTOOPT)
    }
    /// Readiness now: POLLIN, POLLOUT, POLLHUP, POLLRDHUP, POLLERR.
    fn poll(&self, io: &mut dyn IoCtx) -> PollEvents;
    /// Wake-up counts for edge-triggered epoll, under the contract of
    /// [`FileOps::wake_seq`]: `wake_input` on every datagram or stream data
    /// queued, a connection to accept, shutdown or close of the peer;
    /// `wake_output` when send room is made; `wake_all` on errors. `None`
    /// leaves EPOLLET to rising edges of readiness.
    fn wake_seq(&self) -> Option<WakeSeq> {
        None
    }
    /// A family's ioctl (FIONREAD, SIOCOUTQ...); ENOTTY passes it on to the
    /// interface ioctls every socket answers.
    fn ioctl(&self, _io: &mut dyn IoCtx, _cmd: u32, _arg: &mut dyn IoctlArg) -> KResult<usize> {
        Err(Errno::ENOTTY)
    }
    /// Tells the socket its descriptor's inode number (for /proc/net).
    fn set_ino(&self, _ino: u64) {}
    /// SO_LINGER as set (the layer keeps the option; a family whose close
    /// differs with it hears of it too).
    fn set_linger(&self, _on: bool, _secs: i32) {}
    /// How many urgent marks (MSG_OOB data) this socket has received: each
    /// one sends SIGURG to its descriptor's F_SETOWN owner
    /// (syscall/fasync.rs), as Linux's sk_send_sigurg.
    fn urgent_marks(&self) -> u64 {
        0
    }
    /// How many SIGIO an O_ASYNC description of this socket is due, by
    /// reason ([`ASYNC_IN`], [`ASYNC_OUT`], [`ASYNC_HUP`], [`ASYNC_ERR`]):
    /// counts that grow where Linux calls sk_wake_async (data or a
    /// connection queued, room made after a send found the buffer full, the
    /// peer's shutdown or close, an error reported). `None`: the family
    /// does not count them, and syscall/fasync.rs signals rising edges of
    /// POLLIN and POLLOUT.
    fn async_counts(&self) -> Option<[u64; 4]> {
        None
    }
    /// The readers asleep on this socket, for a socket whose blocked
    /// receive sets Linux's SOCKWQ_ASYNC_WAITDATA (a stream: TCP's
    /// sk_wait_data, AF_UNIX's unix_stream_data_wait; datagram waits do
    /// not): while one sleeps, POLL_IN and POLL_HUP (SOCK_WAKE_WAITD) are
    /// not signalled. The syscall layer enters it when an O_ASYNC
    /// description's receive parks.
    fn sleepers(&self) -> Option<Arc<crate::fs::vfs::Sleepers>> {
        None
    }
    /// SO_RCVLOWAT as set (the layer keeps the option and honours it in a
    /// stream receive; a family whose poll honours it, as TCP's tcp_poll
    /// does, hears of it too). AF_UNIX's unix_poll ignores it.
    fn set_rcvlowat(&self, _v: i32) {}
    /// For downcasting to the family's type.
    fn as_any(&self) -> &dyn Any;
}

/// Options every socket has, kept by the layer: what Linux keeps in struct
/// sock for all families.
#[derive(Clone, Copy, Debug, Default)]
pub struct CommonOpts {
    /// SO_RCVTIMEO and SO_SNDTIMEO, ns (0: none).
    pub rcvtimeo: u64,
    pub sndtimeo: u64,
    /// Boolean and integer options that only need remembering here
    /// (SO_DEBUG, SO_DONTROUTE, SO_BROADCAST, SO_OOBINLINE, SO_PRIORITY...),
    /// indexed by option number.
    pub ints: [i32; 24],
    /// SO_LINGER: on, seconds.
    pub linger: (i32, i32),
}

/// Descriptor numbers for socket inodes (what fstat reports as st_ino).
static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// The device sockets report in fstat (Linux's sockfs is an anonymous
/// device, 0:8 on most machines).
const SOCKFS_DEV: u64 = 8;

/// The file operations of a socket's descriptor.
pub struct SocketFile {
    pub sock: Arc<dyn Socket>,
    pub opts: Mutex<CommonOpts>,
    ino: u64,
}

impl SocketFile {
    pub fn new(sock: Arc<dyn Socket>) -> Arc<SocketFile> {
        let ino = NEXT_INO.fetch_add(1, Ordering::Relaxed);
        sock.set_ino(ino);
        Arc::new(SocketFile {
            sock,
            opts: Mutex::new(CommonOpts::default()),
            ino,
        })
    }

    /// The inode number fstat and /proc/PID/fd show ("socket:[N]").
    pub fn ino(&self) -> u64 {
        self.ino
    }
}

impl FileOps for SocketFile {
    /// read(2) on a socket outside the syscall layer's own path (sendfile,
    /// splice): a receive with no flags and an unknown caller.
    fn read(&self, io: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        let mut cx = SockCx {
            io,
            caller: Ucred::default(),
            scm: Ucred::default(),
            nonblock: true,
        };
        self.sock.recv(&mut cx, buf, 0).map(|r| r.len)
    }
    fn write(&self, io: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        let mut cx = SockCx {
            io,
            caller: Ucred::default(),
            scm: Ucred::default(),
            nonblock: true,
        };
        let msg = SendMsg {
            data: buf,
            to: None,
            anc: Vec::new(),
            flags: MSG_NOSIGNAL,
        };
        self.sock.send(&mut cx, msg)
    }
    fn poll(&self, io: &mut dyn IoCtx) -> PollEvents {
        self.sock.poll(io)
    }
    fn wake_seq(&self) -> Option<WakeSeq> {
        self.sock.wake_seq()
    }
    fn ioctl(&self, io: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        match self.sock.ioctl(io, cmd, arg) {
            Err(Errno::ENOTTY) => inet::iface_ioctl(io, cmd, arg),
            r => r,
        }
    }
    fn stat(&self) -> Option<Metadata> {
        Some(Metadata {
            dev: SOCKFS_DEV,
            ino: self.ino,
            mode: umbra_abi::flags::S_IFSOCK | 0o777,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            blksize: 4096,
            blocks: 0,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The socket behind a description, if it is one.
pub fn socket_of(f: &OpenFile) -> Option<&SocketFile> {
    f.ops()?.as_any().downcast_ref::<SocketFile>()
}

/// The guest's network: what its families share (bound names, ports,
/// interfaces). One per kernel; sockets keep a reference to it, as Linux's
/// keep their `struct net`.
#[derive(Default)]
pub struct NetNs {
    pub unix: unix::UnixNs,
    pub inet: inet::InetNs,
    pub netlink: netlink::NetlinkNs,
    pub host: host::HostNs,
}

/// socket(2): a new socket of `domain`, `ty` (flags removed) and `protocol`.
pub fn create(net: &Arc<NetNs>, domain: u16, ty: u32, protocol: u32) -> KResult<Arc<dyn Socket>> {
    match domain {
        AF_UNIX => unix::create(net, ty, protocol),
        AF_INET | AF_INET6 if cfg!(feature = "inet") => inet::create(net, domain, ty, protocol),
        AF_NETLINK if cfg!(feature = "netlink") => netlink::create(net, ty, protocol),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// socketpair(2): two connected sockets.
pub fn pair(
    net: &Arc<NetNs>,
    domain: u16,
    ty: u32,
    protocol: u32,
    caller: Ucred,
) -> KResult<(Arc<dyn Socket>, Arc<dyn Socket>)> {
    match domain {
        AF_UNIX => unix::pair(net, ty, protocol, caller),
        AF_INET | AF_INET6 | AF_NETLINK => {
            // Linux: the family exists but cannot pair (EOPNOTSUPP), after
            // checking the type and protocol as socket(2) does.
            create(net, domain, ty, protocol)?;
            Err(Errno::EOPNOTSUPP)
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
}
