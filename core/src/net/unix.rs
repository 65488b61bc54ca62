//! AF_UNIX sockets: stream, datagram and seqpacket, named by paths in the
//! guest's file system (the socket node's [`NodeId`]) or in the abstract
//! namespace, with Linux's af_unix.c semantics.
//!
//! A socket is a [`Core`] (its state and receive queue) behind a
//! [`UnixSocket`] handle, which the descriptor's `SocketFile` owns: dropping
//! the handle is Linux's `unix_release_sock` (the last close). A connection
//! made to a listener creates the server's core at once (Linux's "embryo",
//! queued on the listener until accept wraps it in a handle), so a client can
//! send before the server accepts.
//!
//! Messages carry their sender's core (for recvfrom's address and for the
//! sender's buffer accounting), credentials and SCM_RIGHTS files. Files in
//! flight can make cycles (a socket whose queue holds its own descriptor):
//! [`gc`] finds the sockets reachable only from such cycles, as Linux's
//! unix_gc, and empties their queues.

use alloc::collections::VecDeque;

use crate::vecmap::VecMap;
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use spin::Mutex;
use umbra_abi::net::*;

use super::host::HostConn;
use super::{
    Ancillary, NetNs, NodeId, Received, SendMsg, SockAddr, SockCx, Socket, Ucred, UnixAddr,
};
use crate::error::{Errno, KResult};
use crate::fs::file::OpenFile;
use crate::fs::vfs::{wake_clock, IoCtx, IoctlArg, PollEvents, WakeSeq};

/// Linux's default socket buffer (net.core.wmem_default, as stored).
const SNDBUF_DEFAULT: usize = 212_992;
/// SOCK_MIN_SNDBUF.
const SNDBUF_MIN: usize = 4608;
/// net.core.wmem_max.
const WMEM_MAX: usize = 212_992;
/// net.unix.max_dgram_qlen: a datagram receiver not connected back to the
/// sender takes more than this many queued messages only after reading.
const MAX_DGRAM_QLEN: usize = 10;
/// net.core.somaxconn: listen's backlog is clamped to it.
const SOMAXCONN: usize = 4096;
/// What a message costs its sender's buffer beyond its bytes (an skb's
/// overhead in Linux's truesize accounting).
const MSG_OVERHEAD: usize = 576;

/// sk_shutdown bits.
const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

/// A name in the registry: a path's node, or an abstract name (per socket
/// type, as Linux hashes them).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Name {
    Node(NodeId),
    Abstract(u32, Vec<u8>),
}

/// AF_UNIX state shared by the guest's sockets: bound names, every socket
/// (for the garbage collector) and the count of files in flight.
#[derive(Default)]
pub struct UnixNs {
    names: Mutex<VecMap<Name, Weak<Core>>>,
    all: Mutex<Vec<Weak<Core>>>,
    inflight: AtomicUsize,
    gc_running: AtomicBool,
    autobind: AtomicU32,
}

impl UnixNs {
    /// A socket node lost its last name (unlink): its inode number may be
    /// reused by a newer node, which must not reach the socket bound here.
    pub fn node_unlinked(&self, node: NodeId) {
        let old = self.names.lock().remove(&Name::Node(node));
        drop(old);
    }

    fn lookup(&self, name: &Name) -> Option<Arc<Core>> {
        self.names.lock().get(name).and_then(Weak::upgrade)
    }
}

/// sk_state, as far as AF_UNIX uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// TCP_CLOSE: unconnected (a datagram socket may still have a peer).
    Close,
    Listen,
    /// TCP_ESTABLISHED.
    Connected,
}

/// One queued message (an skb).
struct Msg {
    data: Vec<u8>,
    /// Bytes of a stream message already read.
    off: usize,
    /// The sending socket: its name is recvfrom's address, and the message
    /// is charged to its send buffer until read.
    from: Arc<Core>,
    cost: usize,
    /// None: sent without credentials (neither end had SO_PASSCRED).
    creds: Option<Ucred>,
    rights: Option<Vec<Arc<OpenFile>>>,
    /// The urgent byte of a MSG_OOB send, not yet taken (Linux's
    /// oob_skb; at most one message of a queue has it). Once recv(MSG_OOB)
    /// takes it, the message stays in the queue, empty, as a stop.
    oob: bool,
}

impl Msg {
    fn left(&self) -> usize {
        self.data.len() - self.off
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        let f = &self.from;
        let left = f
            .wmem
            .fetch_sub(self.cost, Ordering::Relaxed)
            .saturating_sub(self.cost);
        f.wake(WAKE_OUT);
        // unix_write_space: room once writable again, after a send found
        // the buffer full (a listener sends nothing, so its state need
        // not be looked at).
        if left * 4 <= f.sndbuf.load(Ordering::Relaxed) && f.nospace.swap(false, Ordering::Relaxed)
        {
            f.async_event(super::ASYNC_OUT);
        }
        if let Some(r) = &self.rights {
            self.from
                .ns
                .unix
                .inflight
                .fetch_sub(r.len(), Ordering::Relaxed);
        }
    }
}

struct St {
    /// The bound name (the path as given to bind, and its node).
    name: Option<(UnixAddr, Option<NodeId>)>,
    state: State,
    peer: Option<Arc<Core>>,
    rx: VecDeque<Msg>,
    /// A listener's connections not yet accepted.
    pending: VecDeque<Arc<Core>>,
    backlog: usize,
    shut: u8,
    err: Option<Errno>,
    passcred: bool,
    /// SO_PEERCRED: the peer's credentials when the connection was made; a
    /// listener's own, taken by listen(2), for the clients that connect.
    peercred: Option<Ucred>,
    sndbuf: usize,
    /// SO_PEEK_OFF (-1: off).
    peek_off: i32,
    /// SO_OOBINLINE.
    oobinline: bool,
    dead: bool,
}

/// A socket's state.
pub struct Core {
    ty: u32,
    ns: Arc<NetNs>,
    /// Bytes (with overhead) of this socket's messages not yet read.
    wmem: AtomicUsize,
    /// A descriptor (through a [`UnixSocket`]) owns this core; embryos
    /// waiting for accept do not have one.
    has_file: AtomicBool,
    /// Wake-up stamps for edge-triggered epoll (see `WakeSeq`).
    wake_in: AtomicU64,
    wake_out: AtomicU64,
    /// The descriptor's inode number (0 for an embryo), for /proc/net/unix.
    ino: AtomicU64,
    /// Urgent bytes received (each one raises SIGURG).
    marks: AtomicU64,
    /// The SIGIO this socket is due if O_ASYNC (Linux's sk_wake_async),
    /// counted by reason: [`super::ASYNC_IN`], `ASYNC_OUT`, `ASYNC_HUP`
    /// (`ASYNC_ERR` is not raised here).
    sigio: [AtomicU64; 4],
    /// Readers asleep in a stream receive (SOCKWQ_ASYNC_WAITDATA): POLL_IN
    /// and POLL_HUP, all SOCK_WAKE_WAITD here, are not signalled meanwhile.
    sleepers: Arc<crate::fs::vfs::Sleepers>,
    /// SOCKWQ_ASYNC_NOSPACE: a send found the buffer full, so the room that
    /// reads make is signalled (POLL_OUT) once it is writable again.
    nospace: AtomicBool,
    /// `st.sndbuf`, for a message's drop, which must not take `st`.
    sndbuf: AtomicUsize,
    st: Mutex<St>,
}

/// Which waiters [`Core::wake`] wakes.
const WAKE_IN: u8 = 1;
const WAKE_OUT: u8 = 2;
const WAKE_ALL: u8 = 3;

impl Core {
    fn new(ns: &Arc<NetNs>, ty: u32) -> Arc<Core> {
        let c = Arc::new(Core {
            ty,
            ns: ns.clone(),
            wmem: AtomicUsize::new(0),
            has_file: AtomicBool::new(false),
            wake_in: AtomicU64::new(0),
            wake_out: AtomicU64::new(0),
            ino: AtomicU64::new(0),
            marks: AtomicU64::new(0),
            sigio: Default::default(),
            sleepers: Default::default(),
            nospace: AtomicBool::new(false),
            sndbuf: AtomicUsize::new(SNDBUF_DEFAULT),
            st: Mutex::new(St {
                name: None,
                state: State::Close,
                peer: None,
                rx: VecDeque::new(),
                pending: VecDeque::new(),
                backlog: 0,
                shut: 0,
                err: None,
                passcred: false,
                peercred: None,
                sndbuf: SNDBUF_DEFAULT,
                peek_off: -1,
                oobinline: false,
                dead: false,
            }),
        });
        let mut all = ns.unix.all.lock();
        if all.len() >= 64 && all.len().is_power_of_two() {
            all.retain(|w| w.strong_count() > 0);
        }
        all.push(Arc::downgrade(&c));
        c
    }

    fn unix(&self) -> &UnixNs {
        &self.ns.unix
    }

    /// Wakes readers (data, a connection, a hang-up) or writers (room).
    fn wake(&self, which: u8) {
        let t = wake_clock();
        if which & WAKE_IN != 0 {
            self.wake_in.store(t, Ordering::Relaxed);
        }
        if which & WAKE_OUT != 0 {
            self.wake_out.store(t, Ordering::Relaxed);
        }
    }

    /// Queues a message for this socket's reader.
    fn enqueue(&self, m: Msg) {
        self.st.lock().rx.push_back(m);
        self.wake(WAKE_IN);
        self.async_event(super::ASYNC_IN);
    }

    /// Counts one SIGIO of `why` (an index of `sigio`) for an O_ASYNC
    /// description of this socket.
    fn async_event(&self, why: usize) {
        // sock_wake_async's SOCK_WAKE_WAITD: skipped while a reader sleeps.
        let waitd = why == super::ASYNC_IN || why == super::ASYNC_HUP;
        if waitd && self.sleepers.any() {
            return;
        }
        if let Some(n) = self.sigio.get(why) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn connection(&self) -> bool {
        self.ty != SOCK_DGRAM
    }

    /// The address getsockname reports.
    fn addr(&self) -> UnixAddr {
        self.st
            .lock()
            .name
            .as_ref()
            .map_or(UnixAddr::Unnamed, |(a, _)| a.clone())
    }

    fn bound(&self) -> bool {
        self.st.lock().name.is_some()
    }

    /// Takes a pending error (sock_error).
    fn take_err(&self) -> Option<Errno> {
        self.st.lock().err.take()
    }

    /// Linux's unix_autobind: an abstract name of five hex digits; nothing
    /// if already bound.
    fn autobind(self: &Arc<Self>) -> KResult<()> {
        if self.bound() {
            return Ok(());
        }
        let ns = self.unix();
        let mut names = ns.names.lock();
        for _ in 0..=0xfffff {
            let n = ns.autobind.fetch_add(1, Ordering::Relaxed) & 0xfffff;
            let mut s = Vec::with_capacity(5);
            for i in (0..5).rev() {
                s.push(b"0123456789abcdef"[((n >> (4 * i)) & 0xf) as usize]);
            }
            let key = Name::Abstract(self.ty, s.clone());
            if names.get(&key).is_some_and(|w| w.strong_count() > 0) {
                continue;
            }
            names.insert(key, Arc::downgrade(self));
            drop(names);
            self.st.lock().name = Some((UnixAddr::Abstract(s), None));
            return Ok(());
        }
        Err(Errno::ENOSPC)
    }

    /// The socket a name reaches (unix_find_other): ECONNREFUSED if none,
    /// EPROTOTYPE if a path's socket has another type.
    fn find(&self, addr: &SockAddr, node: Option<NodeId>) -> KResult<Arc<Core>> {
        let SockAddr::Unix(a) = addr else {
            return Err(Errno::EINVAL);
        };
        match a {
            UnixAddr::Unnamed => Err(Errno::EINVAL),
            UnixAddr::Path(_) => {
                let node = node.ok_or(Errno::ECONNREFUSED)?;
                let o = self
                    .unix()
                    .lookup(&Name::Node(node))
                    .ok_or(Errno::ECONNREFUSED)?;
                if o.ty != self.ty {
                    return Err(Errno::EPROTOTYPE);
                }
                Ok(o)
            }
            UnixAddr::Abstract(n) => self
                .unix()
                .lookup(&Name::Abstract(self.ty, n.clone()))
                .ok_or(Errno::ECONNREFUSED),
        }
    }

    /// Linux's unix_release_sock: the last descriptor closed (or, for an
    /// embryo, its listener's). The peer of a connection sees end of file,
    /// and ECONNRESET if this socket left data unread.
    fn release(self: &Arc<Self>, how: Release) {
        let embryo = how == Release::Embryo;
        let (peer, rx, pending, name) = {
            let mut st = self.st.lock();
            st.dead = true;
            st.shut = SHUTDOWN_MASK;
            st.state = State::Close;
            (
                st.peer.take(),
                core::mem::take(&mut st.rx),
                core::mem::take(&mut st.pending),
                st.name.clone(),
            )
        };
        if let Some((a, node)) = name {
            let key = match (a, node) {
                (_, Some(n)) => Some(Name::Node(n)),
                (UnixAddr::Abstract(n), None) => Some(Name::Abstract(self.ty, n)),
                _ => None,
            };
            if let Some(key) = key {
                let mut names = self.unix().names.lock();
                if names
                    .get(&key)
                    .is_some_and(|w| core::ptr::eq(w.as_ptr(), Arc::as_ptr(self)))
                {
                    names.remove(&key);
                }
            }
        }
        if let Some(p) = &peer {
            if self.connection() && !Arc::ptr_eq(p, self) {
                let mut ps = p.st.lock();
                ps.shut = SHUTDOWN_MASK;
                if !rx.is_empty() || embryo {
                    ps.err = Some(Errno::ECONNRESET);
                }
                drop(ps);
                p.wake(WAKE_ALL);
                p.async_event(super::ASYNC_HUP);
            }
        }
        for e in &pending {
            e.release(Release::Embryo);
        }
        drop(rx);
        drop(pending);
        drop(peer);
    }

    /// Linux's unix_dgram_disconnected: this socket's association with
    /// `old` ended; its queue goes, and `old` learns of it if it was
    /// connected back.
    fn dgram_disconnected(self: &Arc<Self>, old: &Arc<Core>) {
        let rx = core::mem::take(&mut self.st.lock().rx);
        if !rx.is_empty() && !Arc::ptr_eq(old, self) {
            let mut os = old.st.lock();
            if !os.dead && os.peer.as_ref().is_some_and(|p| Arc::ptr_eq(p, self)) {
                os.err = Some(Errno::ECONNRESET);
                drop(os);
                old.wake(WAKE_ALL);
            }
        }
        drop(rx);
    }

    /// The bytes FIONREAD reports.
    fn inq(&self) -> KResult<usize> {
        let st = self.st.lock();
        if st.state == State::Listen {
            return Err(Errno::EINVAL);
        }
        Ok(if self.ty != SOCK_DGRAM {
            st.rx.iter().map(Msg::left).sum()
        } else {
            st.rx.front().map_or(0, Msg::left)
        })
    }

    /// SIOCATMARK (unix_ioctl): the next message is the urgent byte, or an
    /// urgent byte already taken with no other one pending or the next.
    fn at_mark(&self) -> bool {
        let st = self.st.lock();
        let Some(m) = st.rx.front() else {
            return false;
        };
        let pending = st.rx.iter().any(|m| m.oob);
        m.oob || (m.left() == 0 && (!pending || st.rx.get(1).is_some_and(|n| n.oob)))
    }

    /// Whether the send buffer has room for a poll's POLLOUT
    /// (unix_writable).
    fn writable(&self, st: &St) -> bool {
        st.state != State::Listen && self.wmem.load(Ordering::Relaxed) * 4 <= st.sndbuf
    }
}

/// /proc/net/unix: every live AF_UNIX socket of the guest, as Linux's
/// unix_seq_show prints it (the kernel pointer hidden, as for a reader
/// without CAP_SYSLOG; the reference count shown as 2).
pub fn proc_net_unix(net: &NetNs) -> Vec<u8> {
    let mut out = b"Num       RefCount Protocol Flags    Type St Inode Path\n".to_vec();
    let all: Vec<Arc<Core>> = net
        .unix
        .all
        .lock()
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for c in all {
        let st = c.st.lock();
        if st.dead {
            continue;
        }
        let flags = if st.state == State::Listen {
            1 << 16
        } else {
            0
        };
        let connected = st.state == State::Connected;
        // SS_UNCONNECTED, SS_CONNECTING, SS_CONNECTED, SS_DISCONNECTING.
        let ss = match (c.has_file.load(Ordering::Relaxed), connected) {
            (true, true) => 3,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 4,
        };
        let line = alloc::format!(
            "0000000000000000: 00000002 00000000 {:08X} {:04X} {:02X} {:5}",
            flags,
            c.ty,
            ss,
            c.ino.load(Ordering::Relaxed)
        );
        out.extend_from_slice(line.as_bytes());
        match st.name.as_ref().map(|n| &n.0) {
            Some(UnixAddr::Path(p)) => {
                out.push(b' ');
                out.extend(p.iter().map(|&b| if b == 0 { b'@' } else { b }));
            }
            Some(UnixAddr::Abstract(n)) => {
                out.extend_from_slice(b" @");
                out.extend(n.iter().map(|&b| if b == 0 { b'@' } else { b }));
            }
            _ => {}
        }
        out.push(b'\n');
    }
    out
}

/// The bytes of a stream send: the caller's, or given away (kept as they
/// are when all of them are queued).
enum Bytes<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Bytes<'_> {
    fn len(&self) -> usize {
        match self {
            Bytes::Borrowed(b) => b.len(),
            Bytes::Owned(v) => v.len(),
        }
    }

    /// The first `n` bytes (n <= len), as a vector of their own.
    fn take(self, n: usize) -> Vec<u8> {
        match self {
            Bytes::Borrowed(b) => b[..n].to_vec(),
            Bytes::Owned(mut v) => {
                v.truncate(n);
                v
            }
        }
    }
}

/// Why a socket is released.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Release {
    /// Its last descriptor closed.
    LastClose,
    /// Its listener went away before accepting it: the client sees
    /// ECONNRESET.
    Embryo,
}

/// The descriptor-side handle of a socket; dropping it releases the socket.
pub struct UnixSocket {
    core: Arc<Core>,
    /// A stream connected to a `--unix-socket` grant: the host connection
    /// that carries its data (net/host.rs).
    host: Mutex<Option<Arc<HostConn>>>,
}

impl UnixSocket {
    fn wrap(core: Arc<Core>) -> Arc<UnixSocket> {
        core.has_file.store(true, Ordering::Relaxed);
        Arc::new(UnixSocket {
            core,
            host: Mutex::new(None),
        })
    }

    fn host(&self) -> Option<Arc<HostConn>> {
        self.host.lock().clone()
    }
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        self.core.release(Release::LastClose);
        gc(&self.core.ns);
    }
}

/// The socket type socket(2) asks for, as Linux takes it (SOCK_RAW is a
/// datagram socket).
fn check_type(ty: u32, protocol: u32) -> KResult<u32> {
    if protocol != 0 && protocol != AF_UNIX as u32 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match ty {
        SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET => Ok(ty),
        SOCK_RAW => Ok(SOCK_DGRAM),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// socket(AF_UNIX, ty, protocol).
pub fn create(net: &Arc<NetNs>, ty: u32, protocol: u32) -> KResult<Arc<dyn Socket>> {
    let ty = check_type(ty, protocol)?;
    Ok(UnixSocket::wrap(Core::new(net, ty)))
}

/// socketpair(AF_UNIX, ty, protocol).
pub fn pair(
    net: &Arc<NetNs>,
    ty: u32,
    protocol: u32,
    caller: Ucred,
) -> KResult<(Arc<dyn Socket>, Arc<dyn Socket>)> {
    let ty = check_type(ty, protocol)?;
    let a = Core::new(net, ty);
    let b = Core::new(net, ty);
    for (x, y) in [(&a, &b), (&b, &a)] {
        let mut st = x.st.lock();
        st.peer = Some(y.clone());
        st.peercred = Some(caller);
        if ty != SOCK_DGRAM {
            st.state = State::Connected;
        }
    }
    Ok((UnixSocket::wrap(a), UnixSocket::wrap(b)))
}

/// The credentials a message carries: those sent with SCM_CREDENTIALS, or
/// the sender's pid and real ids when either end asked for them
/// (SO_PASSCRED).
fn msg_creds(anc: &[Ancillary], cx: &SockCx<'_>, want: bool) -> Option<Ucred> {
    anc.iter()
        .find_map(|a| match a {
            Ancillary::Creds(c) => Some(*c),
            Ancillary::Rights(_) => None,
        })
        .or(want.then_some(cx.scm))
}

/// The SCM_RIGHTS files of a send (several control messages join).
fn msg_rights(anc: Vec<Ancillary>) -> Option<Vec<Arc<OpenFile>>> {
    let mut out: Option<Vec<Arc<OpenFile>>> = None;
    for a in anc {
        if let Ancillary::Rights(v) = a {
            out.get_or_insert_with(Vec::new).extend(v);
        }
    }
    out
}

/// What a receive reports as SCM_CREDENTIALS: a message sent without
/// credentials has none (pid 0, the overflow ids).
fn creds_anc(c: Option<Ucred>) -> Ancillary {
    Ancillary::Creds(c.unwrap_or(Ucred {
        pid: 0,
        uid: 65534,
        gid: 65534,
    }))
}

impl UnixSocket {
    fn make_msg(
        &self,
        data: Vec<u8>,
        creds: Option<Ucred>,
        rights: Option<Vec<Arc<OpenFile>>>,
    ) -> Msg {
        let cost = data.len() + MSG_OVERHEAD;
        self.core.wmem.fetch_add(cost, Ordering::Relaxed);
        if let Some(r) = &rights {
            self.core
                .unix()
                .inflight
                .fetch_add(r.len(), Ordering::Relaxed);
        }
        Msg {
            data,
            off: 0,
            from: self.core.clone(),
            cost,
            creds,
            rights,
            oob: false,
        }
    }

    /// The send-buffer checks of sock_alloc_send_pskb: a pending error,
    /// SEND_SHUTDOWN (EPIPE), a full buffer (EAGAIN).
    fn alloc_check(&self) -> KResult<usize> {
        let mut st = self.core.st.lock();
        if let Some(e) = st.err.take() {
            return Err(e);
        }
        if st.shut & SEND_SHUTDOWN != 0 {
            return Err(Errno::EPIPE);
        }
        let w = self.core.wmem.load(Ordering::Relaxed);
        if w >= st.sndbuf {
            self.core.nospace.store(true, Ordering::Relaxed);
            return Err(Errno::EAGAIN);
        }
        Ok(st.sndbuf - w)
    }

    /// The peer a stream send goes to (`to`: the caller named an address).
    fn stream_peer(&self, to: bool) -> KResult<Arc<Core>> {
        let c = &self.core;
        let peer = {
            let st = c.st.lock();
            if to {
                return Err(if st.state == State::Connected {
                    Errno::EISCONN
                } else {
                    Errno::EOPNOTSUPP
                });
            }
            match (&st.peer, st.state) {
                (Some(p), State::Connected) => p.clone(),
                _ => return Err(Errno::ENOTCONN),
            }
        };
        if c.st.lock().shut & SEND_SHUTDOWN != 0 {
            return Err(Errno::EPIPE);
        }
        Ok(peer)
    }

    /// A stream send with MSG_OOB (unix_stream_sendmsg and queue_oob): all
    /// but the last byte go as usual, the last one as a message of its own
    /// that becomes the peer's urgent byte (an older one stays in the
    /// stream as plain data). Empty: EOPNOTSUPP.
    fn send_oob(
        &self,
        cx: &mut SockCx<'_>,
        to: bool,
        data: Bytes<'_>,
        mut anc: Vec<Ancillary>,
    ) -> KResult<usize> {
        let (head, last) = match data {
            Bytes::Borrowed(b) => match b.split_last() {
                Some((&l, h)) => (Bytes::Borrowed(h), l),
                None => return Err(Errno::EOPNOTSUPP),
            },
            Bytes::Owned(mut v) => match v.pop() {
                Some(l) => (Bytes::Owned(v), l),
                None => return Err(Errno::EOPNOTSUPP),
            },
        };
        let want = head.len();
        let mut sent = 0;
        if want > 0 {
            sent = self.send_stream(cx, to, head, core::mem::take(&mut anc))?;
            if sent < want {
                return Ok(sent);
            }
        }
        match self.queue_oob(cx, to, last, anc) {
            Ok(()) => Ok(sent + 1),
            Err(_) if sent > 0 => Ok(sent),
            Err(e) => Err(e),
        }
    }

    /// Queues `byte` as the peer's urgent byte (queue_oob).
    fn queue_oob(
        &self,
        cx: &mut SockCx<'_>,
        to: bool,
        byte: u8,
        anc: Vec<Ancillary>,
    ) -> KResult<()> {
        let peer = self.stream_peer(to)?;
        self.alloc_check()?;
        {
            let ps = peer.st.lock();
            if ps.dead || ps.shut & RCV_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
        }
        let mine = self.core.st.lock().passcred;
        let want = mine || peer.st.lock().passcred || !peer.has_file.load(Ordering::Relaxed);
        let creds = msg_creds(&anc, cx, want);
        let mut m = self.make_msg(vec![byte], creds, msg_rights(anc));
        m.oob = true;
        {
            let mut ps = peer.st.lock();
            for old in ps.rx.iter_mut() {
                old.oob = false;
            }
            ps.rx.push_back(m);
        }
        peer.marks.fetch_add(1, Ordering::Relaxed);
        peer.wake(WAKE_ALL);
        peer.async_event(super::ASYNC_IN);
        Ok(())
    }

    /// A stream send of `data` (with control messages `anc`; `to`: the
    /// caller named an address).
    fn send_stream(
        &self,
        cx: &mut SockCx<'_>,
        to: bool,
        data: Bytes<'_>,
        anc: Vec<Ancillary>,
    ) -> KResult<usize> {
        let c = &self.core;
        let peer = self.stream_peer(to)?;
        let len = data.len();
        if len == 0 {
            // Linux sends nothing, control messages included.
            return Ok(0);
        }
        {
            let ps = peer.st.lock();
            if ps.dead || ps.shut & RCV_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
        }
        let room = self.alloc_check()?;
        // As Linux's sock_alloc_send_pskb, a send goes ahead while the
        // buffer is not full, and then takes one buffer's worth (an skb of
        // at most half the sndbuf) even past the limit; the writer blocks
        // only once it is full. (Taking just the room left would split
        // every large write at the limit into a short one and a resumed
        // one, a round trip through the scheduler each.)
        let skb = (c.st.lock().sndbuf >> 1).saturating_sub(64);
        let n = len.min(room.max(skb).max(1));
        let mine = c.st.lock().passcred;
        // A connection not yet accepted has no descriptor to ask: Linux
        // attaches the credentials then.
        let want = mine || peer.st.lock().passcred || !peer.has_file.load(Ordering::Relaxed);
        let creds = msg_creds(&anc, cx, want);
        let m = self.make_msg(data.take(n), creds, msg_rights(anc));
        peer.enqueue(m);
        Ok(n)
    }

    fn send_dgram(&self, cx: &mut SockCx<'_>, msg: SendMsg<'_>) -> KResult<usize> {
        let c = &self.core;
        let seq = c.ty == SOCK_SEQPACKET;
        if seq {
            if let Some(e) = c.take_err() {
                return Err(e);
            }
            if c.st.lock().state != State::Connected {
                return Err(Errno::ENOTCONN);
            }
        }
        let to = if seq { None } else { msg.to };
        if c.st.lock().passcred {
            c.autobind()?;
        }
        let sndbuf = c.st.lock().sndbuf;
        if msg.data.len() > sndbuf.saturating_sub(32) {
            return Err(Errno::EMSGSIZE);
        }
        self.alloc_check()?;
        let connected = c.st.lock().peer.clone();
        let other = match to {
            Some((a, node)) => c.find(a, node)?,
            None => connected.clone().ok_or(Errno::ENOTCONN)?,
        };
        let me = Arc::as_ptr(c);
        {
            let os = other.st.lock();
            // unix_may_send.
            if os.peer.as_ref().is_some_and(|p| Arc::as_ptr(p) != me) {
                return Err(Errno::EPERM);
            }
            if os.dead {
                drop(os);
                if seq {
                    return Err(Errno::EPIPE);
                }
                let was_peer = {
                    let mut st = c.st.lock();
                    if st.peer.as_ref().is_some_and(|p| Arc::ptr_eq(p, &other)) {
                        st.peer = None
                    };
                    connected.as_ref().is_some_and(|p| Arc::ptr_eq(p, &other))
                };
                if was_peer {
                    c.dgram_disconnected(&other);
                }
                return Err(Errno::ECONNREFUSED);
            }
            if os.shut & RCV_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            let back = os.peer.as_ref().is_some_and(|p| Arc::as_ptr(p) == me);
            if !Arc::ptr_eq(&other, c) && !back && os.rx.len() > MAX_DGRAM_QLEN {
                return Err(Errno::EAGAIN);
            }
        }
        let mine = c.st.lock().passcred;
        let want = mine || other.st.lock().passcred;
        let creds = msg_creds(&msg.anc, cx, want);
        let m = self.make_msg(msg.data.to_vec(), creds, msg_rights(msg.anc));
        other.enqueue(m);
        Ok(msg.data.len())
    }

    /// recv(MSG_OOB) on a stream (unix_stream_recv_urg): the urgent byte,
    /// which stays queued, empty, once taken. EINVAL when there is none or
    /// SO_OOBINLINE is on. A zero-length buffer takes it too, and the call
    /// still returns 1.
    fn recv_urg(&self, buf: &mut [u8], flags: u32) -> KResult<Received> {
        let mut st = self.core.st.lock();
        if st.oobinline {
            return Err(Errno::EINVAL);
        }
        let m = st.rx.iter_mut().find(|m| m.oob).ok_or(Errno::EINVAL)?;
        let byte = *m.data.get(m.off).ok_or(Errno::EINVAL)?;
        if flags & MSG_PEEK == 0 {
            m.oob = false;
            m.off += 1;
        }
        let mut r = Received {
            full: 1,
            flags: MSG_OOB,
            ..Default::default()
        };
        if let Some(b) = buf.first_mut() {
            *b = byte;
            r.len = 1;
        }
        Ok(r)
    }

    fn recv_stream(&self, buf: &mut [u8], flags: u32) -> KResult<Received> {
        let mut at = 0;
        self.recv_stream_to(buf.len(), flags, &mut |d| {
            buf[at..at + d.len()].copy_from_slice(d);
            at += d.len();
            Ok(())
        })
    }

    /// A stream receive of up to `len` bytes, handed to `sink` piece by
    /// piece; a piece `sink` refuses is not taken.
    fn recv_stream_to(
        &self,
        len: usize,
        flags: u32,
        sink: &mut dyn FnMut(&[u8]) -> KResult<()>,
    ) -> KResult<Received> {
        let c = &self.core;
        let peek = flags & MSG_PEEK != 0;
        let mut st = c.st.lock();
        if st.state != State::Connected {
            return Err(Errno::EINVAL);
        }
        if st.rx.is_empty() {
            if let Some(e) = st.err.take() {
                return Err(e);
            }
            if st.shut & RCV_SHUTDOWN != 0 {
                return Ok(Received::default());
            }
            return Err(Errno::EAGAIN);
        }
        let passcred = st.passcred;
        let inline = st.oobinline;
        let mut out = Received::default();
        // Urgent bytes skipped and taken-urgent stops passed (dropped once
        // the lock is let go).
        let mut dropped: Vec<Msg> = Vec::new();
        let mut creds: Option<Option<Ucred>> = None;
        let mut rights: Vec<Arc<OpenFile>> = Vec::new();
        let mut done_msgs = 0usize;
        let mut skip = if peek && st.peek_off >= 0 {
            st.peek_off as usize
        } else {
            0
        };
        let mut i = 0;
        let mut fault = None;
        while out.len < len && i < st.rx.len() {
            // manage_oob: a read stops before the urgent byte, or before
            // one already taken, once it has copied something; else it
            // skips them (the urgent byte is read inline with
            // SO_OOBINLINE, and taking it in band ends its urgency).
            let (oob, empty) = (st.rx[i].oob, st.rx[i].left() == 0);
            if empty {
                let pending = st.rx.iter().any(|m| m.oob);
                if out.len > 0 && (!pending || oob) {
                    out.stop = true;
                    break;
                }
                if peek {
                    i += 1;
                } else if let Some(m) = st.rx.remove(i) {
                    dropped.push(m);
                }
                continue;
            }
            if oob {
                if out.len > 0 {
                    out.stop = true;
                    break;
                }
                if !peek {
                    st.rx[i].oob = false;
                    if !inline {
                        if let Some(m) = st.rx.remove(i) {
                            dropped.push(m);
                        }
                        continue;
                    }
                } else if !inline {
                    i += 1;
                    continue;
                }
            }
            let m = &mut st.rx[i];
            if skip >= m.left() {
                skip -= m.left();
                i += 1;
                continue;
            }
            // Never glue messages of different writers.
            match creds {
                Some(cr) if cr != m.creds => break,
                None if passcred => creds = Some(m.creds),
                _ => {}
            }
            let from = m.off + skip;
            let n = (m.data.len() - from).min(len - out.len);
            if let Err(e) = sink(&m.data[from..from + n]) {
                fault = Some(e);
                break;
            }
            out.len += n;
            skip = 0;
            let has = m.rights.is_some();
            if peek {
                if let Some(r) = &m.rights {
                    rights.extend(r.iter().cloned());
                }
            } else {
                if let Some(r) = m.rights.take() {
                    c.unix().inflight.fetch_sub(r.len(), Ordering::Relaxed);
                    rights.extend(r);
                }
                m.off += n;
                if m.left() > 0 {
                    break;
                }
                done_msgs += 1;
            }
            i += 1;
            if has {
                break;
            }
        }
        if peek && st.peek_off >= 0 {
            st.peek_off = st.peek_off.saturating_add(out.len as i32);
        } else if !peek && st.peek_off >= 0 {
            st.peek_off = (st.peek_off - out.len as i32).max(0);
        }
        let gone: Vec<Msg> = st.rx.drain(..done_msgs).collect();
        if out.len == 0 && len > 0 && fault.is_none() {
            // Only urgent bytes were there: nothing to read yet.
            let r = if let Some(e) = st.err.take() {
                Err(e)
            } else if st.shut & RCV_SHUTDOWN != 0 {
                Ok(Received::default())
            } else {
                Err(Errno::EAGAIN)
            };
            drop(st);
            drop(gone);
            drop(dropped);
            return r;
        }
        drop(st);
        drop(gone);
        drop(dropped);
        if let (Some(e), 0) = (fault, out.len) {
            return Err(e);
        }
        out.full = out.len;
        if let Some(cr) = creds {
            out.anc.push(creds_anc(cr));
        }
        if !rights.is_empty() {
            out.anc.push(Ancillary::Rights(rights));
        }
        Ok(out)
    }

    fn recv_dgram(&self, cx: &mut SockCx<'_>, buf: &mut [u8], flags: u32) -> KResult<Received> {
        let c = &self.core;
        let seq = c.ty == SOCK_SEQPACKET;
        let peek = flags & MSG_PEEK != 0;
        let mut st = c.st.lock();
        if seq && st.state != State::Connected {
            return Err(Errno::ENOTCONN);
        }
        if st.rx.is_empty() {
            if let Some(e) = st.err.take() {
                return Err(e);
            }
            if st.shut & RCV_SHUTDOWN != 0 && (seq || !cx.nonblock) {
                return Ok(Received::default());
            }
            return Err(Errno::EAGAIN);
        }
        let skip = if peek && st.peek_off >= 0 {
            st.peek_off as usize
        } else {
            0
        };
        let passcred = st.passcred;
        let m = st.rx.front_mut().ok_or(Errno::EAGAIN)?;
        let avail = m.data.len().saturating_sub(skip);
        let n = avail.min(buf.len());
        buf[..n].copy_from_slice(&m.data[skip.min(m.data.len())..skip.min(m.data.len()) + n]);
        let mut out = Received {
            len: n,
            full: avail,
            ..Default::default()
        };
        if n < avail {
            out.flags |= MSG_TRUNC;
        }
        let from = m.from.clone();
        if passcred {
            out.anc.push(creds_anc(m.creds));
        }
        let rights = if peek {
            m.rights.clone()
        } else {
            let r = m.rights.take();
            if let Some(r) = &r {
                c.unix().inflight.fetch_sub(r.len(), Ordering::Relaxed);
            }
            r
        };
        let gone = if peek {
            if st.peek_off >= 0 {
                st.peek_off = st.peek_off.saturating_add(n as i32);
            }
            None
        } else {
            if st.peek_off >= 0 {
                st.peek_off = (st.peek_off - avail as i32).max(0);
            }
            st.rx.pop_front()
        };
        drop(st);
        drop(gone);
        if let Some(r) = rights {
            out.anc.push(Ancillary::Rights(r));
        }
        if let UnixAddr::Path(_) | UnixAddr::Abstract(_) = from.addr() {
            out.from = Some(SockAddr::Unix(from.addr()));
        }
        Ok(out)
    }
}

fn int_bytes(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

impl Socket for UnixSocket {
    fn domain(&self) -> u16 {
        AF_UNIX
    }

    fn sock_type(&self) -> u32 {
        self.core.ty
    }

    fn protocol(&self) -> u32 {
        0
    }

    fn bind(&self, _cx: &mut SockCx<'_>, addr: &SockAddr, node: Option<NodeId>) -> KResult<()> {
        let c = &self.core;
        let SockAddr::Unix(a) = addr else {
            return Err(Errno::EINVAL);
        };
        let key = match a {
            UnixAddr::Unnamed => return c.autobind(),
            UnixAddr::Path(_) => Name::Node(node.ok_or(Errno::EINVAL)?),
            UnixAddr::Abstract(n) => Name::Abstract(c.ty, n.clone()),
        };
        if c.bound() {
            return Err(Errno::EINVAL);
        }
        let ns = c.unix();
        let mut names = ns.names.lock();
        if let Name::Abstract(..) = key {
            if names.get(&key).is_some_and(|w| w.strong_count() > 0) {
                return Err(Errno::EADDRINUSE);
            }
        }
        // A path's node is new: an entry left for its (dev, ino) is an
        // older, removed node's.
        names.insert(key, Arc::downgrade(c));
        drop(names);
        c.st.lock().name = Some((a.clone(), node));
        Ok(())
    }

    fn connect(&self, cx: &mut SockCx<'_>, addr: &SockAddr, node: Option<NodeId>) -> KResult<()> {
        if let Some(h) = self.host() {
            return h.connect(cx, addr, node);
        }
        let c = &self.core;
        // A `--unix-socket` grant's node: the host's socket behind it.
        if let (Some(n), SockAddr::Unix(UnixAddr::Path(_))) = (node, addr) {
            if c.st.lock().state == State::Close {
                if let Some(h) = super::host::unix_connect(cx, &c.ns, c.ty, n)? {
                    *self.host.lock() = Some(h.clone());
                    return h.first_connect(cx);
                }
            }
        }
        if c.ty == SOCK_DGRAM {
            return self.connect_dgram(addr, node);
        }
        if !matches!(addr, SockAddr::Unix(_)) {
            return Err(Errno::EINVAL);
        }
        if c.st.lock().passcred {
            c.autobind()?;
        }
        let other = c.find(addr, node)?;
        {
            let os = other.st.lock();
            if os.state != State::Listen || os.shut & RCV_SHUTDOWN != 0 || os.dead {
                return Err(Errno::ECONNREFUSED);
            }
            if os.pending.len() > os.backlog {
                return Err(Errno::EAGAIN);
            }
        }
        if Arc::ptr_eq(&other, c) {
            return Err(Errno::EINVAL);
        }
        match c.st.lock().state {
            State::Close => {}
            State::Connected => return Err(Errno::EISCONN),
            State::Listen => return Err(Errno::EINVAL),
        }
        let (lname, lcred) = {
            let os = other.st.lock();
            (os.name.clone(), os.peercred)
        };
        let new = Core::new(&c.ns, c.ty);
        {
            let mut ns = new.st.lock();
            ns.peer = Some(c.clone());
            ns.state = State::Connected;
            ns.peercred = Some(cx.caller);
            ns.name = lname;
            ns.passcred = false;
        }
        {
            let mut st = c.st.lock();
            st.peer = Some(new.clone());
            st.state = State::Connected;
            st.peercred = lcred;
        }
        other.st.lock().pending.push_back(new);
        other.wake(WAKE_IN);
        other.async_event(super::ASYNC_IN);
        c.wake(WAKE_ALL);
        Ok(())
    }

    fn listen(&self, cx: &mut SockCx<'_>, backlog: i32) -> KResult<()> {
        let c = &self.core;
        if c.ty == SOCK_DGRAM {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = c.st.lock();
        if st.name.is_none() {
            return Err(Errno::EINVAL);
        }
        if st.state == State::Connected {
            return Err(Errno::EINVAL);
        }
        let b = backlog as u32 as usize;
        st.backlog = if b > SOMAXCONN { SOMAXCONN } else { b };
        st.state = State::Listen;
        st.peercred = Some(cx.caller);
        Ok(())
    }

    fn accept(&self, cx: &mut SockCx<'_>) -> KResult<(Arc<dyn Socket>, SockAddr)> {
        let c = &self.core;
        if c.ty == SOCK_DGRAM {
            return Err(Errno::EOPNOTSUPP);
        }
        let (new, passcred) = {
            let mut st = c.st.lock();
            if st.state != State::Listen {
                return Err(Errno::EINVAL);
            }
            match st.pending.pop_front() {
                Some(n) => (n, st.passcred),
                // Shut for reading: no connection will come (EINVAL).
                None if st.shut & RCV_SHUTDOWN != 0 && !cx.nonblock => return Err(Errno::EINVAL),
                None => return Err(Errno::EAGAIN),
            }
        };
        // The new socket inherits SO_PASSCRED (unix_sock_inherit_flags).
        new.st.lock().passcred = passcred;
        let peer = new.st.lock().peer.clone();
        let addr = peer.map_or(UnixAddr::Unnamed, |p| p.addr());
        Ok((UnixSocket::wrap(new), SockAddr::Unix(addr)))
    }

    fn send(&self, cx: &mut SockCx<'_>, msg: SendMsg<'_>) -> KResult<usize> {
        if let Some(h) = self.host() {
            return h.send(cx, msg);
        }
        let to = msg.to.is_some();
        match (self.core.ty, msg.flags & MSG_OOB != 0) {
            (SOCK_STREAM, true) => self.send_oob(cx, to, Bytes::Borrowed(msg.data), msg.anc),
            (SOCK_STREAM, false) => self.send_stream(cx, to, Bytes::Borrowed(msg.data), msg.anc),
            // unix_dgram_sendmsg and unix_seqpacket_sendmsg.
            (_, true) => Err(Errno::EOPNOTSUPP),
            _ => self.send_dgram(cx, msg),
        }
    }

    fn send_owned(&self, cx: &mut SockCx<'_>, data: Vec<u8>, flags: u32) -> KResult<usize> {
        let msg = SendMsg {
            data: &[],
            to: None,
            anc: Vec::new(),
            flags,
        };
        if self.host().is_some() || self.core.ty != SOCK_STREAM {
            return self.send(cx, SendMsg { data: &data, ..msg });
        }
        if flags & MSG_OOB != 0 {
            return self.send_oob(cx, false, Bytes::Owned(data), Vec::new());
        }
        self.send_stream(cx, false, Bytes::Owned(data), Vec::new())
    }

    fn set_ino(&self, ino: u64) {
        self.core.ino.store(ino, Ordering::Relaxed);
    }

    fn urgent_marks(&self) -> u64 {
        self.core.marks.load(Ordering::Relaxed)
    }

    fn async_counts(&self) -> Option<[u64; 4]> {
        if self.host().is_some() {
            return None;
        }
        Some(
            self.core
                .sigio
                .each_ref()
                .map(|n| n.load(Ordering::Relaxed)),
        )
    }

    fn sleepers(&self) -> Option<Arc<crate::fs::vfs::Sleepers>> {
        // unix_stream_data_wait sets SOCKWQ_ASYNC_WAITDATA; datagram and
        // seqpacket receives wait in __skb_wait_for_more_packets, which
        // does not.
        (self.core.ty == SOCK_STREAM && self.host().is_none()).then(|| self.core.sleepers.clone())
    }

    fn recv_to(
        &self,
        len: usize,
        flags: u32,
        sink: &mut dyn FnMut(&[u8]) -> KResult<()>,
    ) -> Option<KResult<Received>> {
        if self.host().is_some() || self.core.ty != SOCK_STREAM || flags & MSG_OOB != 0 {
            return None;
        }
        Some(self.recv_stream_to(len, flags, sink))
    }

    fn recv(&self, cx: &mut SockCx<'_>, buf: &mut [u8], flags: u32) -> KResult<Received> {
        if let Some(h) = self.host() {
            return h.recv(cx, buf, flags);
        }
        match (self.core.ty, flags & MSG_OOB != 0) {
            (SOCK_STREAM, true) => self.recv_urg(buf, flags),
            (SOCK_STREAM, false) => self.recv_stream(buf, flags),
            // __unix_dgram_recvmsg.
            (_, true) => Err(Errno::EOPNOTSUPP),
            _ => self.recv_dgram(cx, buf, flags),
        }
    }

    fn shutdown(&self, cx: &mut SockCx<'_>, how: u32) -> KResult<()> {
        if let Some(h) = self.host() {
            return h.shutdown(cx, how);
        }
        let c = &self.core;
        let mode = (how + 1) as u8;
        let peer = {
            let mut st = c.st.lock();
            st.shut |= mode;
            st.peer.clone()
        };
        c.wake(WAKE_ALL);
        if let Some(p) = peer {
            if c.connection() {
                let mut pm = 0;
                if mode & RCV_SHUTDOWN != 0 {
                    pm |= SEND_SHUTDOWN;
                }
                if mode & SEND_SHUTDOWN != 0 {
                    pm |= RCV_SHUTDOWN;
                }
                p.st.lock().shut |= pm;
                p.wake(WAKE_ALL);
                // Judged by this call's mode alone, as unix_shutdown does.
                if pm == SHUTDOWN_MASK {
                    p.async_event(super::ASYNC_HUP);
                } else if pm & RCV_SHUTDOWN != 0 {
                    p.async_event(super::ASYNC_IN);
                }
            }
        }
        Ok(())
    }

    fn local_addr(&self) -> KResult<SockAddr> {
        Ok(SockAddr::Unix(self.core.addr()))
    }

    fn peer_addr(&self) -> KResult<SockAddr> {
        if let Some(h) = self.host() {
            return h.peer_addr();
        }
        let p = self.core.st.lock().peer.clone().ok_or(Errno::ENOTCONN)?;
        Ok(SockAddr::Unix(p.addr()))
    }

    fn getsockopt(
        &self,
        cx: &mut SockCx<'_>,
        level: u32,
        name: u32,
        len: usize,
    ) -> KResult<Vec<u8>> {
        if let (Some(h), SOL_SOCKET, SO_ERROR) = (self.host(), level, name) {
            return h.getsockopt(cx, level, name, len);
        }
        if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.core.st.lock();
        match name {
            SO_PASSCRED => Ok(int_bytes(st.passcred as i32)),
            SO_PEERCRED => {
                let (pid, uid, gid) = match st.peercred {
                    Some(u) if st.state != State::Close || self.core.ty == SOCK_DGRAM => {
                        (u.pid, u.uid, u.gid)
                    }
                    _ => (0, u32::MAX, u32::MAX),
                };
                let mut v = pid.to_ne_bytes().to_vec();
                v.extend_from_slice(&uid.to_ne_bytes());
                v.extend_from_slice(&gid.to_ne_bytes());
                Ok(v)
            }
            SO_ACCEPTCONN => Ok(int_bytes((st.state == State::Listen) as i32)),
            SO_ERROR => Ok(int_bytes(st.err.take().map_or(0, |e| e.0))),
            SO_SNDBUF => Ok(int_bytes(st.sndbuf as i32)),
            SO_PEEK_OFF => Ok(int_bytes(st.peek_off)),
            SO_OOBINLINE => Ok(int_bytes(st.oobinline as i32)),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn setsockopt(&self, _cx: &mut SockCx<'_>, level: u32, name: u32, val: &[u8]) -> KResult<()> {
        if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let int = || -> KResult<i32> {
            if val.len() < 4 {
                return Err(Errno::EINVAL);
            }
            Ok(i32::from_ne_bytes([val[0], val[1], val[2], val[3]]))
        };
        let mut st = self.core.st.lock();
        match name {
            SO_PASSCRED => st.passcred = int()? != 0,
            SO_SNDBUF | SO_SNDBUFFORCE => {
                let v = (int()? as u32 as usize).min(WMEM_MAX);
                st.sndbuf = (v * 2).max(SNDBUF_MIN);
                self.core.sndbuf.store(st.sndbuf, Ordering::Relaxed);
            }
            SO_PEEK_OFF => {
                let v = int()?;
                st.peek_off = if v < 0 { -1 } else { v };
            }
            SO_OOBINLINE => st.oobinline = int()? != 0,
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn poll(&self, io: &mut dyn IoCtx) -> PollEvents {
        if let Some(h) = self.host() {
            return h.poll(io);
        }
        let c = &self.core;
        let st = c.st.lock();
        let mut m = PollEvents::empty();
        if st.err.is_some() {
            m |= PollEvents::POLLERR;
        }
        if st.shut == SHUTDOWN_MASK {
            m |= PollEvents::POLLHUP;
        }
        if st.shut & RCV_SHUTDOWN != 0 {
            m |= PollEvents::POLLRDHUP | PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        if !st.rx.is_empty() || !st.pending.is_empty() {
            m |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        if st.rx.iter().any(|m| m.oob) {
            m |= PollEvents::POLLPRI;
        }
        let mut writable = c.writable(&st);
        match c.ty {
            SOCK_STREAM => {
                if st.state == State::Close {
                    m |= PollEvents::POLLHUP;
                }
            }
            SOCK_SEQPACKET => {
                if st.state == State::Close {
                    m |= PollEvents::POLLHUP;
                }
            }
            _ => {
                // A datagram peer not connected back, whose queue is full.
                if let Some(p) = &st.peer {
                    if !Arc::ptr_eq(p, c) {
                        let ps = p.st.lock();
                        let back = ps.peer.as_ref().is_some_and(|q| Arc::ptr_eq(q, c));
                        if !back && ps.rx.len() > MAX_DGRAM_QLEN {
                            writable = false;
                        }
                    }
                }
            }
        }
        if writable {
            m |= PollEvents::POLLOUT | PollEvents::POLLWRNORM | PollEvents::POLLWRBAND;
        }
        m
    }

    fn ioctl(&self, _io: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        let v = match cmd {
            SIOCINQ => self.core.inq()?,
            SIOCATMARK => self.core.at_mark() as usize,
            SIOCOUTQ => self.core.wmem.load(Ordering::Relaxed),
            _ => return Err(Errno::ENOTTY),
        };
        arg.write_out(&(v as i32).to_ne_bytes())?;
        Ok(0)
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(WakeSeq {
            input: self.core.wake_in.load(Ordering::Relaxed),
            output: self.core.wake_out.load(Ordering::Relaxed),
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl UnixSocket {
    /// connect(2) of a datagram socket: sets (or, with AF_UNSPEC, drops)
    /// the default destination.
    fn connect_dgram(&self, addr: &SockAddr, node: Option<NodeId>) -> KResult<()> {
        let c = &self.core;
        let other = match addr {
            SockAddr::Unspec => None,
            SockAddr::Unix(_) => {
                if c.st.lock().passcred {
                    c.autobind()?;
                }
                let o = c.find(addr, node)?;
                if !Arc::ptr_eq(&o, c) {
                    let os = o.st.lock();
                    if os.dead {
                        return Err(Errno::ECONNREFUSED);
                    }
                    if os.peer.as_ref().is_some_and(|p| !Arc::ptr_eq(p, c)) {
                        return Err(Errno::EPERM);
                    }
                }
                Some(o)
            }
            _ => return Err(Errno::EINVAL),
        };
        let old = core::mem::replace(&mut c.st.lock().peer, other.clone());
        if let Some(old) = old {
            if !other.as_ref().is_some_and(|o| Arc::ptr_eq(o, &old)) {
                c.dgram_disconnected(&old);
            }
        }
        Ok(())
    }
}

/// The core of the AF_UNIX socket behind an open file, if it is one.
fn core_of(f: &OpenFile) -> Option<&Arc<Core>> {
    let sf = super::socket_of(f)?;
    sf.sock
        .as_any()
        .downcast_ref::<UnixSocket>()
        .map(|u| &u.core)
}

/// Linux's unix_gc: frees the sockets that only files in flight keep, in
/// cycles no descriptor reaches. A socket is a candidate when every
/// reference to its open file is in some queue; a candidate referenced from
/// the queue of a non-candidate is live, and so is whatever a live one's
/// queue holds. The queues of the others are emptied, which closes the
/// files in them and so releases the sockets.
fn gc(net: &Arc<NetNs>) {
    let ns = &net.unix;
    if ns.inflight.load(Ordering::Relaxed) == 0 || ns.gc_running.swap(true, Ordering::Acquire) {
        return;
    }
    let cores: Vec<Arc<Core>> = {
        let mut all = ns.all.lock();
        all.retain(|w| w.strong_count() > 0);
        all.iter()
            .filter_map(Weak::upgrade)
            .filter(|c| c.has_file.load(Ordering::Relaxed))
            .collect()
    };
    let index: VecMap<usize, usize> = cores
        .iter()
        .enumerate()
        .map(|(i, c)| (Arc::as_ptr(c) as usize, i))
        .collect();
    let n = cores.len();
    let mut inflight = vec![0usize; n];
    let mut total = vec![0usize; n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, c) in cores.iter().enumerate() {
        let mut visit = |m: &Msg| {
            for f in m.rights.iter().flatten() {
                if let Some(&j) = core_of(f).and_then(|uc| index.get(&(Arc::as_ptr(uc) as usize))) {
                    inflight[j] += 1;
                    total[j] = Arc::strong_count(f);
                    children[i].push(j);
                }
            }
        };
        let st = c.st.lock();
        st.rx.iter().for_each(&mut visit);
        for e in &st.pending {
            if !Arc::ptr_eq(e, c) {
                e.st.lock().rx.iter().for_each(&mut visit);
            }
        }
    }
    let cand: Vec<bool> = (0..n)
        .map(|j| inflight[j] > 0 && inflight[j] == total[j])
        .collect();
    let mut inner = vec![0usize; n];
    for i in (0..n).filter(|&i| cand[i]) {
        for &j in &children[i] {
            inner[j] += 1;
        }
    }
    let mut live: Vec<bool> = (0..n).map(|j| !cand[j] || inflight[j] > inner[j]).collect();
    let mut stack: Vec<usize> = (0..n).filter(|&j| cand[j] && live[j]).collect();
    while let Some(i) = stack.pop() {
        for &j in &children[i] {
            if !live[j] {
                live[j] = true;
                stack.push(j);
            }
        }
    }
    let mut garbage: Vec<Msg> = Vec::new();
    for (i, c) in cores.iter().enumerate() {
        if live[i] {
            continue;
        }
        let mut st = c.st.lock();
        garbage.extend(st.rx.drain(..));
        for e in &st.pending {
            if !Arc::ptr_eq(e, c) {
                garbage.extend(e.st.lock().rx.drain(..));
            }
        }
    }
    drop(cores);
    drop(garbage);
    ns.gc_running.store(false, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::SocketFile;
    use crate::testing::MockHost;
    use umbra_abi::flags::{OpenFlags, O_RDWR};

    fn cx(h: &mut MockHost) -> SockCx<'_> {
        SockCx {
            io: h,
            caller: Ucred {
                pid: 7,
                uid: 0,
                gid: 0,
            },
            scm: Ucred {
                pid: 7,
                uid: 0,
                gid: 0,
            },
            nonblock: true,
        }
    }

    fn file(s: Arc<dyn Socket>) -> Arc<OpenFile> {
        OpenFile::from_ops(SocketFile::new(s), OpenFlags::from_bits_retain(O_RDWR))
    }

    fn send(
        h: &mut MockHost,
        s: &Arc<OpenFile>,
        data: &[u8],
        anc: Vec<Ancillary>,
    ) -> KResult<usize> {
        let sock = super::super::socket_of(s).unwrap().sock.clone();
        sock.send(
            &mut cx(h),
            SendMsg {
                data,
                to: None,
                anc,
                flags: 0,
            },
        )
    }

    fn recv(h: &mut MockHost, s: &Arc<OpenFile>, len: usize) -> KResult<Received> {
        let sock = super::super::socket_of(s).unwrap().sock.clone();
        let mut buf = vec![0u8; len];
        sock.recv(&mut cx(h), &mut buf, 0)
    }

    /// MSG_OOB on a stream pair: the last byte is urgent, a read stops
    /// before it and skips it, recv(MSG_OOB) takes it once, and a newer
    /// urgent byte leaves the older one in the stream.
    #[test]
    fn urgent_bytes_follow_linux() {
        let h = &mut MockHost::new(1 << 20);
        let net = Arc::new(NetNs::default());
        let (a, b) = pair(&net, SOCK_STREAM, 0, Ucred::default()).unwrap();
        let sendf = |h: &mut MockHost, data: &[u8], flags| {
            a.send(
                &mut cx(h),
                SendMsg {
                    data,
                    to: None,
                    anc: Vec::new(),
                    flags,
                },
            )
        };
        let recvf = |h: &mut MockHost, flags| {
            let mut buf = [0u8; 16];
            b.recv(&mut cx(h), &mut buf, flags)
                .map(|r| (buf[..r.len].to_vec(), r.flags & MSG_OOB != 0))
        };
        assert_eq!(sendf(h, b"", MSG_OOB), Err(Errno::EOPNOTSUPP));
        assert_eq!(recvf(h, MSG_OOB), Err(Errno::EINVAL));
        assert_eq!(sendf(h, b"helloX", MSG_OOB), Ok(6));
        assert_eq!(sendf(h, b"world", 0), Ok(5));
        assert!(b.poll(h).contains(PollEvents::POLLPRI));
        assert_eq!(recvf(h, 0), Ok((b"hello".to_vec(), false)));
        assert_eq!(recvf(h, MSG_OOB | MSG_PEEK), Ok((b"X".to_vec(), true)));
        assert_eq!(recvf(h, MSG_OOB), Ok((b"X".to_vec(), true)));
        assert_eq!(recvf(h, MSG_OOB), Err(Errno::EINVAL));
        assert!(!b.poll(h).contains(PollEvents::POLLPRI));
        assert_eq!(recvf(h, 0), Ok((b"world".to_vec(), false)));
        assert_eq!(recvf(h, 0), Err(Errno::EAGAIN));
        // Two urgent sends: the first byte becomes plain data.
        assert_eq!(sendf(h, b"aA", MSG_OOB), Ok(2));
        assert_eq!(sendf(h, b"bB", MSG_OOB), Ok(2));
        assert_eq!(b.urgent_marks(), 3);
        assert_eq!(recvf(h, MSG_OOB), Ok((b"B".to_vec(), true)));
        assert_eq!(recvf(h, 0), Ok((b"aAb".to_vec(), false)));
        assert_eq!(recvf(h, 0), Err(Errno::EAGAIN));
        // Datagram sockets have no urgent data.
        let (d, _e) = pair(&net, SOCK_DGRAM, 0, Ucred::default()).unwrap();
        let msg = SendMsg {
            data: b"x",
            to: None,
            anc: Vec::new(),
            flags: MSG_OOB,
        };
        assert_eq!(d.send(&mut cx(h), msg), Err(Errno::EOPNOTSUPP));
    }

    #[test]
    fn stream_pair_moves_data_and_ends_with_eof_or_reset() {
        let net = Arc::new(NetNs::default());
        let mut h = MockHost::new(4096);
        let (a, b) = pair(&net, SOCK_STREAM, 0, Ucred::default()).unwrap();
        let (a, b) = (file(a), file(b));
        assert_eq!(send(&mut h, &a, b"hello", Vec::new()), Ok(5));
        assert_eq!(send(&mut h, &a, b" you", Vec::new()), Ok(4));
        assert_eq!(recv(&mut h, &b, 64).unwrap().len, 9);
        assert_eq!(recv(&mut h, &b, 64).err(), Some(Errno::EAGAIN));
        send(&mut h, &a, b"unread", Vec::new()).unwrap();
        drop(b);
        // The closed end left data unread: ECONNRESET once, then EOF.
        assert_eq!(recv(&mut h, &a, 64).err(), Some(Errno::ECONNRESET));
        assert_eq!(recv(&mut h, &a, 64).unwrap().len, 0);
        assert_eq!(send(&mut h, &a, b"x", Vec::new()), Err(Errno::EPIPE));
    }

    /// The SIGIO counts of an O_ASYNC socket (sk_wake_async): POLL_IN per
    /// message and for the peer's SHUT_WR, POLL_OUT once room is made after
    /// a send found the buffer full, POLL_HUP for SHUT_RDWR and close.
    #[test]
    fn async_counts_follow_sk_wake_async() {
        let net = Arc::new(NetNs::default());
        let mut h = MockHost::new(4096);
        let (a, b) = pair(&net, SOCK_STREAM, 0, Ucred::default()).unwrap();
        let (sa, sb) = (a.clone(), b.clone());
        let (a, b) = (file(a), file(b));
        assert_eq!(sb.async_counts(), Some([0, 0, 0, 0]));
        send(&mut h, &a, b"x", Vec::new()).unwrap();
        send(&mut h, &a, b"y", Vec::new()).unwrap();
        assert_eq!(sb.async_counts(), Some([2, 0, 0, 0]));
        recv(&mut h, &b, 64).unwrap();
        // The reads freed room, but no send had found the buffer full.
        assert_eq!(sa.async_counts(), Some([0, 0, 0, 0]));
        let big = vec![0u8; 4096];
        while send(&mut h, &a, &big, Vec::new()).is_ok() {}
        assert_eq!(sa.async_counts(), Some([0, 0, 0, 0]));
        while recv(&mut h, &b, 4096).is_ok() {}
        assert_eq!(sa.async_counts(), Some([0, 1, 0, 0]));
        sa.shutdown(&mut cx(&mut h), SHUT_RD).unwrap();
        let before = sb.async_counts().unwrap()[0];
        assert_eq!(sb.async_counts(), Some([before, 0, 0, 0]));
        sa.shutdown(&mut cx(&mut h), SHUT_WR).unwrap();
        assert_eq!(sb.async_counts(), Some([before + 1, 0, 0, 0]));
        sa.shutdown(&mut cx(&mut h), SHUT_RDWR).unwrap();
        assert_eq!(sb.async_counts(), Some([before + 1, 0, 1, 0]));
        drop((a, sa));
        assert_eq!(sb.async_counts(), Some([before + 1, 0, 2, 0]));
    }

    /// The bulk path: a stream send of owned bytes queues them as they are,
    /// a large write goes whole while the buffer is not full (Linux's skb
    /// past the limit) and the next fails; a receive hands its bytes to a
    /// sink, and bytes the sink refuses stay queued.
    #[test]
    fn stream_bulk_sends_whole_writes_and_receives_into_a_sink() {
        let net = Arc::new(NetNs::default());
        let mut h = MockHost::new(4096);
        let (a, b) = pair(&net, SOCK_STREAM, 0, Ucred::default()).unwrap();
        let chunk = 64 << 10;
        let mut sent = 0;
        loop {
            let data = vec![(sent / chunk) as u8; chunk];
            match a.send_owned(&mut cx(&mut h), data, 0) {
                Ok(n) => {
                    assert_eq!(n, chunk, "a write is taken whole");
                    sent += n;
                }
                Err(e) => {
                    assert_eq!(e, Errno::EAGAIN);
                    break;
                }
            }
        }
        // 212992 bytes of buffer: three writes fit, the fourth goes past.
        assert_eq!(sent, 4 * chunk);
        let mut got = Vec::new();
        let r = b.recv_to(100, 0, &mut |d| {
            got.extend_from_slice(d);
            Ok(())
        });
        assert_eq!(r.unwrap().unwrap().len, 100);
        assert_eq!(got, vec![0u8; 100]);
        // A sink that refuses takes nothing; the bytes are still there.
        let r = b.recv_to(10, 0, &mut |_| Err(Errno::EFAULT));
        assert_eq!(r.unwrap().err(), Some(Errno::EFAULT));
        let mut rest = 0;
        while let Some(Ok(r)) = b.recv_to(chunk, 0, &mut |_| Ok(())) {
            rest += r.len;
        }
        assert_eq!(rest + 100, sent);
        // Room again.
        assert_eq!(a.send_owned(&mut cx(&mut h), vec![1; 5], 0), Ok(5));
    }

    #[test]
    fn datagram_queue_limit_and_dead_peer() {
        let net = Arc::new(NetNs::default());
        let mut h = MockHost::new(4096);
        let r = file(create(&net, SOCK_DGRAM, 0).unwrap());
        let s = file(create(&net, SOCK_DGRAM, 0).unwrap());
        let rs = super::super::socket_of(&r).unwrap().sock.clone();
        let name = SockAddr::Unix(UnixAddr::Abstract(b"q".to_vec()));
        rs.bind(&mut cx(&mut h), &name, None).unwrap();
        let ss = super::super::socket_of(&s).unwrap().sock.clone();
        let mut sent = 0;
        while ss
            .send(
                &mut cx(&mut h),
                SendMsg {
                    data: b"m",
                    to: Some((&name, None)),
                    anc: Vec::new(),
                    flags: 0,
                },
            )
            .is_ok()
        {
            sent += 1;
        }
        assert_eq!(sent, MAX_DGRAM_QLEN + 1);
        ss.connect(&mut cx(&mut h), &name, None).unwrap();
        drop(rs);
        drop(r);
        assert_eq!(send(&mut h, &s, b"x", Vec::new()), Err(Errno::ECONNREFUSED));
        assert_eq!(send(&mut h, &s, b"x", Vec::new()), Err(Errno::ENOTCONN));
    }

    /// Two sockets each holding the other's descriptor (and a third one in
    /// flight with them) are freed once no descriptor reaches them; a
    /// socket holding its own descriptor but still open is not.
    #[test]
    fn gc_frees_unreachable_cycles_only() {
        let net = Arc::new(NetNs::default());
        let mut h = MockHost::new(4096);
        let (a, b) = pair(&net, SOCK_STREAM, 0, Ucred::default()).unwrap();
        let (a, b) = (file(a), file(b));
        let (x, _y) = pair(&net, SOCK_DGRAM, 0, Ucred::default()).unwrap();
        let x = file(x);
        send(
            &mut h,
            &a,
            b"1",
            vec![Ancillary::Rights(vec![a.clone(), x.clone()])],
        )
        .unwrap();
        send(&mut h, &b, b"2", vec![Ancillary::Rights(vec![b.clone()])]).unwrap();
        let (l, m) = pair(&net, SOCK_STREAM, 0, Ucred::default()).unwrap();
        let (l, m) = (file(l), file(m));
        // m's descriptor waits in l's queue.
        send(&mut h, &m, b"3", vec![Ancillary::Rights(vec![m.clone()])]).unwrap();
        let (wa, wb, wx, wm) = (
            Arc::downgrade(&a),
            Arc::downgrade(&b),
            Arc::downgrade(&x),
            Arc::downgrade(&m),
        );
        drop((a, b, x, m));
        assert!(wa.upgrade().is_some(), "in flight, not yet collected");
        assert_eq!(net.unix.inflight.load(Ordering::Relaxed), 4);
        // Releasing any socket runs the collector.
        drop(create(&net, SOCK_STREAM, 0).unwrap());
        assert!(wa.upgrade().is_none() && wb.upgrade().is_none() && wx.upgrade().is_none());
        assert!(
            wm.upgrade().is_some(),
            "l is open: what its peer holds lives"
        );
        assert_eq!(net.unix.inflight.load(Ordering::Relaxed), 1);
        let got = recv(&mut h, &l, 8).unwrap();
        assert!(matches!(&got.anc[..], [Ancillary::Rights(v)] if v.len() == 1));
        assert_eq!(net.unix.inflight.load(Ordering::Relaxed), 0);
        drop(got);
        assert!(wm.upgrade().is_none());
    }

    /// Random calls on a handful of sockets (pairs, names, connections,
    /// messages carrying random descriptors, shutdowns, closes) never
    /// panic or hang, and once every descriptor is closed nothing is left:
    /// no socket, no file in flight.
    #[test]
    fn random_calls_leave_nothing_behind() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for round in 0..40 {
            let net = Arc::new(NetNs::default());
            let mut h = MockHost::new(4096);
            let mut files: Vec<Arc<OpenFile>> = Vec::new();
            let tys = [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET];
            let names: Vec<SockAddr> = (0..3)
                .map(|i| SockAddr::Unix(UnixAddr::Abstract(alloc::vec![b'a' + i])))
                .collect();
            for _ in 0..300 {
                let sock = |f: &Arc<OpenFile>| super::super::socket_of(f).unwrap().sock.clone();
                match rnd(10) {
                    0 if files.len() < 12 => {
                        files.push(file(create(&net, tys[rnd(3)], 0).unwrap()));
                    }
                    1 if files.len() < 12 => {
                        let (a, b) = pair(&net, tys[rnd(3)], 0, Ucred::default()).unwrap();
                        files.push(file(a));
                        files.push(file(b));
                    }
                    2 | 3 if !files.is_empty() => {
                        let f = &files[rnd(files.len())];
                        let s = sock(f);
                        let a = &names[rnd(3)];
                        let _ = match rnd(4) {
                            0 => s.bind(&mut cx(&mut h), a, None),
                            1 => s.listen(&mut cx(&mut h), rnd(3) as i32),
                            2 => s.connect(&mut cx(&mut h), a, None),
                            _ => s.accept(&mut cx(&mut h)).map(|(n, _)| files.push(file(n))),
                        };
                    }
                    4..=6 if !files.is_empty() => {
                        let f = files[rnd(files.len())].clone();
                        let mut anc = Vec::new();
                        if rnd(2) == 0 && !files.is_empty() {
                            let n = 1 + rnd(3);
                            let v = (0..n).map(|_| files[rnd(files.len())].clone()).collect();
                            anc.push(Ancillary::Rights(v));
                        }
                        let to = (rnd(3) == 0).then(|| names[rnd(3)].clone());
                        let data = alloc::vec![7u8; rnd(5000)];
                        let _ = sock(&f).send(
                            &mut cx(&mut h),
                            SendMsg {
                                data: &data,
                                to: to.as_ref().map(|a| (a, None)),
                                anc,
                                flags: 0,
                            },
                        );
                    }
                    7 if !files.is_empty() => {
                        let f = files[rnd(files.len())].clone();
                        let mut buf = alloc::vec![0u8; rnd(3000)];
                        let fl = if rnd(3) == 0 { MSG_PEEK } else { 0 };
                        let _ = sock(&f).recv(&mut cx(&mut h), &mut buf, fl);
                    }
                    8 if !files.is_empty() => {
                        let f = files[rnd(files.len())].clone();
                        let _ = sock(&f).shutdown(&mut cx(&mut h), rnd(3) as u32);
                        let _ = sock(&f).poll(&mut h);
                    }
                    _ if !files.is_empty() => {
                        let i = rnd(files.len());
                        files.swap_remove(i);
                    }
                    _ => {}
                }
            }
            files.clear();
            // One more release runs the collector for what cycles kept.
            drop(create(&net, SOCK_STREAM, 0).unwrap());
            assert_eq!(
                net.unix.inflight.load(Ordering::Relaxed),
                0,
                "round {round}"
            );
            let alive = net
                .unix
                .all
                .lock()
                .iter()
                .filter(|w| w.strong_count() > 0)
                .count();
            assert_eq!(alive, 0, "round {round}: sockets left");
        }
    }
}
