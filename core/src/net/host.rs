//! Guest sockets backed by host sockets that umbra holds on the guest's
//! behalf ([`HostNet`]): outbound TCP/UDP under `--net host`, connections a
//! host client made to a `--publish`ed port, and guest connections to a
//! `--unix-socket` path. The guest never holds a host fd: a [`HostConn`]
//! keeps the host's socket number and moves data through `SockCx::io`.
//!
//! The families decide when a socket is host-backed (inet.rs: a destination
//! outside the guest's loopback; unix.rs: a granted path) and then forward
//! the data path to the [`HostConn`] they got from [`connect`].
//!
//! A socket's `Drop` cannot reach the host, so a dropped connection queues
//! its number in [`HostNs`]; [`tick`], called from the kernel's loop, closes
//! what is queued.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use spin::Mutex;
use umbra_abi::net::*;

use super::{NetNs, NodeId, Received, SendMsg, SockAddr, SockCx, Socket, UnixAddr};
use crate::config::Config;
use crate::error::{Errno, KResult};
use crate::fs::vfs::{IoCtx, NewNode, PollEvents};
use crate::fs::{Cred, FileType, FollowLast, Vfs};
use crate::host::{HostNet, HostSock, HostSockType, NetError};
use umbra_abi::structs::Timespec;

/// What the guest's network keeps of the host's: the host sockets whose
/// guest sockets are gone, to be closed, and the `--unix-socket` grants.
#[derive(Default)]
pub struct HostNs {
    closed: Arc<Mutex<Vec<HostSock>>>,
    /// (guest node, host path, guest path) of each granted host socket.
    grants: Mutex<Vec<Grant>>,
    /// The flows of `--publish .../udp`, one per host client.
    flows: Mutex<Vec<Flow>>,
    /// The relay's datagram buffer, kept: `tick` runs at every switch.
    relay_buf: Mutex<Vec<u8>>,
}

/// One host client of a `--publish HOSTPORT:GUESTPORT/udp` port (as
/// docker-proxy keeps one per client address): its datagrams reach the
/// guest's port from `sock`'s stable address, and what the guest sends back
/// there goes to the client from the published host socket.
struct Flow {
    listener: HostSock,
    client: SockAddr,
    sock: Arc<super::inet::InetSock>,
    /// When a datagram last went either way (the host's monotonic ns).
    last: u64,
}

/// A UDP flow that carried nothing for this long is forgotten, and its
/// guest port freed (docker-proxy's UDPConnTrackTimeout).
pub const FLOW_IDLE_NS: u64 = 90_000_000_000;
/// At most this many UDP flows at once; a new client beyond it displaces
/// the one idle longest.
pub const MAX_FLOWS: usize = 256;
/// Datagrams moved per published port and per flow in one tick, so a flood
/// cannot hold the kernel.
const BATCH: usize = 16;

/// A `--unix-socket` grant: the guest's socket node, the host path, the
/// guest path.
type Grant = (NodeId, Vec<u8>, Vec<u8>);

/// At boot: offers the host's resolv.conf at /etc/resolv.conf (if the root
/// has /etc and no resolv.conf; never over the guest's own), and makes a
/// socket node at the guest path of each `--unix-socket` grant (with its
/// missing directories, mode 0755), remembering which node maps to which host
/// path. A grant whose node cannot be made is reported in the result.
pub fn boot(vfs: &Vfs, cfg: &Config, net: &NetNs, now: Timespec) -> Result<(), String> {
    let root = Cred::root();
    let node = |kind, perm| NewNode {
        kind,
        perm,
        uid: 0,
        gid: 0,
        rdev: 0,
        now,
    };
    if let Some(text) = &cfg.resolv_conf {
        if let Ok(etc) = vfs.lookup(&vfs.root(), "/etc", FollowLast::Follow, &root) {
            if etc.inode().lookup(b"resolv.conf").is_err() {
                if let Ok(f) = etc
                    .inode()
                    .create(b"resolv.conf", &node(FileType::Regular, 0o644))
                {
                    let _ = f.write_at(0, text, now);
                }
            }
        }
    }
    for (host, guest) in &cfg.unix_grants {
        let fail = |why: &str| {
            alloc::format!(
                "--unix-socket: cannot make {}: {why}",
                String::from_utf8_lossy(guest)
            )
        };
        if guest.first() != Some(&b'/') {
            return Err(fail("not an absolute path"));
        }
        let mut dir = vfs.root();
        let parts: Vec<&[u8]> = guest
            .split(|&c| c == b'/')
            .filter(|p| !p.is_empty())
            .collect();
        let Some((last, dirs)) = parts.split_last() else {
            return Err(fail("no name"));
        };
        for &d in dirs {
            dir = match vfs.lookup(&dir, d, FollowLast::Follow, &root) {
                Ok(n) => n,
                Err(_) => {
                    dir.inode()
                        .create(d, &node(FileType::Directory, 0o755))
                        .map_err(|e| fail(&alloc::format!("{e:?}")))?;
                    vfs.lookup(&dir, d, FollowLast::Follow, &root)
                        .map_err(|e| fail(&alloc::format!("{e:?}")))?
                }
            };
        }
        let sock = match dir.inode().lookup(last) {
            Ok(i) if i.kind() == FileType::Socket => i,
            Ok(_) => return Err(fail("something else is there")),
            Err(_) => dir
                .inode()
                .create(last, &node(FileType::Socket, 0o777))
                .map_err(|e| fail(&alloc::format!("{e:?}")))?,
        };
        let m = sock
            .metadata()
            .map_err(|e| fail(&alloc::format!("{e:?}")))?;
        net.host.grants.lock().push((
            NodeId {
                dev: m.dev,
                ino: m.ino,
            },
            host.clone(),
            guest.clone(),
        ));
    }
    Ok(())
}

/// For AF_UNIX connect: if the socket node `node` is a `--unix-socket`
/// grant, connects a host stream to the granted host path (the guest sees
/// its guest path as the peer) and returns the connection; `Ok(None)` when
/// the node is not a grant (the guest's own socket).
pub fn unix_connect(
    cx: &mut SockCx<'_>,
    net: &NetNs,
    ty: u32,
    node: NodeId,
) -> KResult<Option<Arc<HostConn>>> {
    let grant = net
        .host
        .grants
        .lock()
        .iter()
        .find(|g| g.0 == node)
        .map(|g| (g.1.clone(), g.2.clone()));
    let Some((host, guest)) = grant else {
        return Ok(None);
    };
    if ty != SOCK_STREAM {
        // Only stream connections are granted (what X11 and most servers use).
        return Err(Errno::EPROTOTYPE);
    }
    let to = SockAddr::Unix(UnixAddr::Path(host));
    let shown = SockAddr::Unix(UnixAddr::Path(guest));
    connect(cx, net, AF_UNIX, ty, 0, &to, shown).map(Some)
}

/// The guest's errno for a host network error.
pub fn errno(e: NetError) -> Errno {
    match e {
        NetError::WouldBlock => Errno::EAGAIN,
        NetError::Denied => Errno::EACCES,
        NetError::Refused => Errno::ECONNREFUSED,
        NetError::Reset => Errno::ECONNRESET,
        NetError::Aborted => Errno::ECONNABORTED,
        NetError::TimedOut => Errno::ETIMEDOUT,
        NetError::NetUnreachable => Errno::ENETUNREACH,
        NetError::HostUnreachable => Errno::EHOSTUNREACH,
        NetError::AddrInUse => Errno::EADDRINUSE,
        NetError::AddrNotAvail => Errno::EADDRNOTAVAIL,
        NetError::NotConnected => Errno::ENOTCONN,
        NetError::BrokenPipe => Errno::EPIPE,
        NetError::MsgSize => Errno::EMSGSIZE,
        NetError::NoResources => Errno::ENOBUFS,
        NetError::BadHandle | NetError::Other => Errno::EIO,
    }
}

/// The host network, after closing the host sockets of dropped guest
/// sockets; `None` under `--net none`.
fn host_net<'a>(io: &'a mut dyn IoCtx, ns: &HostNs) -> Option<&'a mut dyn HostNet> {
    let hn = io.host_net()?;
    let closed = core::mem::take(&mut *ns.closed.lock());
    for h in closed {
        hn.net_close(h);
    }
    Some(hn)
}

/// Housekeeping from the kernel's loop at monotonic time `now`: closes the
/// host sockets whose guest sockets were dropped, hands the connections
/// waiting on `--publish` listeners to the guest's listeners (refusing them,
/// by closing, where the guest has none), and relays the datagrams of
/// `--publish .../udp` ports both ways. No host call without a host network.
pub fn tick(io: &mut dyn IoCtx, net: &Arc<NetNs>, now: u64) {
    let Some(hn) = host_net(io, &net.host) else {
        return;
    };
    let published = hn.net_published();
    if published.iter().any(|p| p.2) {
        relay_udp(hn, net, &published, now);
    }
    for (listener, port, udp) in published {
        if udp {
            continue;
        }
        // A bounded batch per tick, so a flood cannot hold the kernel.
        for _ in 0..16 {
            let Ok((conn, peer)) = hn.net_accept(listener) else {
                break;
            };
            if let Err(conn) = super::inet::deliver_published(net, port, conn, peer) {
                hn.net_close(conn);
            }
        }
    }
}

/// `--publish .../udp`: each published port's datagrams to the flow of
/// their host client (a new flow for a new client), then each flow's
/// replies to its client, then flows idle for [`FLOW_IDLE_NS`] dropped.
fn relay_udp(
    hn: &mut dyn HostNet,
    net: &Arc<NetNs>,
    published: &[(HostSock, u16, bool)],
    now: u64,
) {
    use super::inet::{flow_recv, flow_send, publish_flow};
    let mut buf = net.host.relay_buf.lock();
    if buf.len() < 65536 {
        buf.resize(65536, 0);
    }
    let mut flows = net.host.flows.lock();
    for &(listener, port, _) in published.iter().filter(|p| p.2) {
        for _ in 0..BATCH {
            let Ok((n, full, Some(client))) = hn.net_recv(listener, &mut buf, false) else {
                break;
            };
            if full > n {
                continue; // larger than any UDP payload: cannot happen
            }
            let i = match flows
                .iter()
                .position(|f| f.listener == listener && f.client == client)
            {
                Some(i) => i,
                None => {
                    if flows.len() >= MAX_FLOWS {
                        let oldest = (0..flows.len()).min_by_key(|&i| flows[i].last);
                        if let Some(o) = oldest {
                            flows.swap_remove(o);
                        }
                    }
                    let Ok(sock) = publish_flow(net, port) else {
                        break; // no ephemeral port left: drop the datagram
                    };
                    flows.push(Flow {
                        listener,
                        client,
                        sock,
                        last: now,
                    });
                    flows.len() - 1
                }
            };
            flows[i].last = now;
            let _ = flow_send(&flows[i].sock, &buf[..n]);
        }
    }
    for f in flows.iter_mut() {
        for _ in 0..BATCH {
            match flow_recv(&f.sock, &mut buf) {
                Ok(n) => {
                    // A reply the host cannot take now is dropped, as a
                    // full UDP path would.
                    let _ = hn.net_send(f.listener, &buf[..n], Some(&f.client));
                    f.last = now;
                }
                Err(Errno::EAGAIN) => break,
                // ECONNREFUSED: the guest port had nobody; reported once.
                Err(_) => {}
            }
        }
    }
    let live = published.iter().map(|p| p.0).collect::<Vec<_>>();
    flows.retain(|f| now.saturating_sub(f.last) < FLOW_IDLE_NS && live.contains(&f.listener));
}

/// Whether the host network is granted at all (`--net host`, `--publish` or
/// `--unix-socket`).
pub fn available(io: &mut dyn IoCtx) -> bool {
    io.host_net().is_some()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A stream connect in progress on the host.
    Connecting,
    Connected,
    /// The connect failed; the error was reported (or is in `pending`).
    Failed,
}

struct State {
    phase: Phase,
    /// An error to report once (SO_ERROR, or the failed connect's).
    pending: Option<Errno>,
    local: SockAddr,
    peer: SockAddr,
    /// shutdown(SHUT_WR) or SHUT_RDWR was called.
    wr_shut: bool,
}

/// A guest socket's host side: one host socket, by number.
pub struct HostConn {
    h: HostSock,
    domain: u16,
    ty: u32,
    protocol: u32,
    closed: Arc<Mutex<Vec<HostSock>>>,
    st: Mutex<State>,
}

impl Drop for HostConn {
    fn drop(&mut self) {
        self.closed.lock().push(self.h);
    }
}

/// Opens a host socket of `ty` (SOCK_STREAM or SOCK_DGRAM) connected to `to`
/// for a guest socket of `domain`/`protocol`. `shown_peer` is the address
/// the guest sees as its peer (the guest path for a `--unix-socket`
/// connection; `to` for IP). A stream connect may still be in progress:
/// the socket's `connect` finishes it (EINPROGRESS/EALREADY as Linux for a
/// non-blocking caller, EAGAIN to park a blocking one).
/// ENETUNREACH if the host network is not granted.
pub fn connect(
    cx: &mut SockCx<'_>,
    net: &NetNs,
    domain: u16,
    ty: u32,
    protocol: u32,
    to: &SockAddr,
    shown_peer: SockAddr,
) -> KResult<Arc<HostConn>> {
    let hty = match ty {
        SOCK_STREAM => HostSockType::Stream,
        SOCK_DGRAM => HostSockType::Dgram,
        _ => return Err(Errno::EOPNOTSUPP),
    };
    let hn = host_net(cx.io, &net.host).ok_or(Errno::ENETUNREACH)?;
    let h = hn.net_connect(hty, to).map_err(|e| match e {
        NetError::Denied if domain == AF_UNIX => Errno::ECONNREFUSED,
        NetError::Denied => Errno::ENETUNREACH,
        e => errno(e),
    })?;
    let local = if domain == AF_UNIX {
        SockAddr::Unix(UnixAddr::Unnamed)
    } else {
        hn.net_local_addr(h).unwrap_or(SockAddr::Unspec)
    };
    let phase = if hty == HostSockType::Stream {
        Phase::Connecting
    } else {
        Phase::Connected
    };
    Ok(Arc::new(HostConn {
        h,
        domain,
        ty,
        protocol,
        closed: net.host.closed.clone(),
        st: Mutex::new(State {
            phase,
            pending: None,
            local,
            peer: shown_peer,
            wr_shut: false,
        }),
    }))
}

/// An unconnected host datagram socket of `domain` for a guest UDP socket
/// that sends outside its loopback (sendto): ENETUNREACH without
/// `--net host`.
pub fn dgram(cx: &mut SockCx<'_>, net: &NetNs, domain: u16) -> KResult<Arc<HostConn>> {
    let hn = host_net(cx.io, &net.host).ok_or(Errno::ENETUNREACH)?;
    let h = hn.net_dgram(domain).map_err(|e| match e {
        NetError::Denied => Errno::ENETUNREACH,
        e => errno(e),
    })?;
    Ok(Arc::new(HostConn {
        h,
        domain,
        ty: SOCK_DGRAM,
        protocol: IPPROTO_UDP,
        closed: net.host.closed.clone(),
        st: Mutex::new(State {
            phase: Phase::Connected,
            pending: None,
            local: SockAddr::Unspec,
            peer: SockAddr::Unspec,
            wr_shut: false,
        }),
    }))
}

/// Wraps a host connection a `--publish` listener accepted: `local` is the
/// address the guest sees for its end, `peer` the host client's.
pub fn accepted(
    net: &NetNs,
    h: HostSock,
    domain: u16,
    local: SockAddr,
    peer: SockAddr,
) -> Arc<HostConn> {
    Arc::new(HostConn {
        h,
        domain,
        ty: SOCK_STREAM,
        protocol: IPPROTO_TCP,
        closed: net.host.closed.clone(),
        st: Mutex::new(State {
            phase: Phase::Connected,
            pending: None,
            local,
            peer,
            wr_shut: false,
        }),
    })
}

impl HostConn {
    /// The guest's connect(2) that made this connection: Ok when it is
    /// done, EINPROGRESS for a non-blocking caller while it goes on, EAGAIN
    /// (park, then call `Socket::connect`) for a blocking one.
    pub fn first_connect(&self, cx: &mut SockCx<'_>) -> KResult<()> {
        match self.progress(cx.io) {
            Err(Errno::EAGAIN) if cx.nonblock => Err(Errno::EINPROGRESS),
            r => r,
        }
    }

    /// The host's socket number.
    pub fn handle(&self) -> HostSock {
        self.h
    }

    /// Moves a connect in progress on: Ok once connected, EAGAIN while it
    /// is still going, its error once it failed.
    fn progress(&self, io: &mut dyn IoCtx) -> KResult<()> {
        let mut st = self.st.lock();
        match st.phase {
            Phase::Connected => return Ok(()),
            Phase::Failed => return Err(st.pending.take().unwrap_or(Errno::ECONNREFUSED)),
            Phase::Connecting => {}
        }
        let hn = io.host_net().ok_or(Errno::EIO)?;
        let re = hn.net_poll(self.h, PollEvents::POLLOUT.bits());
        let done = PollEvents::POLLOUT | PollEvents::POLLERR | PollEvents::POLLHUP;
        if !PollEvents::from_bits_truncate(re).intersects(done) {
            return Err(Errno::EAGAIN);
        }
        match hn.net_take_error(self.h) {
            None => {
                st.phase = Phase::Connected;
                if let Ok(a) = hn.net_local_addr(self.h) {
                    if self.domain != AF_UNIX {
                        st.local = a;
                    }
                }
                Ok(())
            }
            Some(e) => {
                st.phase = Phase::Failed;
                Err(errno(e))
            }
        }
    }
}

impl Socket for HostConn {
    fn domain(&self) -> u16 {
        self.domain
    }
    fn sock_type(&self) -> u32 {
        self.ty
    }
    fn protocol(&self) -> u32 {
        self.protocol
    }

    fn connect(
        &self,
        cx: &mut SockCx<'_>,
        _addr: &SockAddr,
        _node: Option<super::NodeId>,
    ) -> KResult<()> {
        let was = self.st.lock().phase;
        match (was, self.progress(cx.io)) {
            (Phase::Connected, _) if self.ty == SOCK_STREAM => Err(Errno::EISCONN),
            (_, Err(Errno::EAGAIN)) if cx.nonblock => Err(Errno::EALREADY),
            (_, r) => r,
        }
    }

    fn send(&self, cx: &mut SockCx<'_>, msg: SendMsg<'_>) -> KResult<usize> {
        match self.progress(cx.io) {
            Ok(()) => {}
            Err(Errno::EAGAIN) => return Err(Errno::EAGAIN),
            Err(_) => return Err(Errno::EPIPE),
        }
        if self.st.lock().wr_shut {
            return Err(Errno::EPIPE);
        }
        if msg.flags & MSG_OOB != 0 {
            // Urgent data does not cross to a host socket (and a datagram
            // has none: EOPNOTSUPP either way).
            return Err(Errno::EOPNOTSUPP);
        }
        if msg
            .anc
            .iter()
            .any(|a| matches!(a, super::Ancillary::Rights(_)))
        {
            // Descriptors cannot cross to the host.
            return Err(Errno::EOPNOTSUPP);
        }
        let to = match (self.ty, msg.to) {
            (SOCK_DGRAM, Some((a, _))) => Some(a),
            _ => None,
        };
        let hn = io_net(cx.io)?;
        let n = hn.net_send(self.h, msg.data, to).map_err(|e| match e {
            NetError::Denied => Errno::ENETUNREACH,
            e => errno(e),
        })?;
        let mut st = self.st.lock();
        if st.local == SockAddr::Unspec {
            // The host bound the datagram socket at its first send.
            if let Ok(a) = hn.net_local_addr(self.h) {
                st.local = a;
            }
        }
        Ok(n)
    }

    fn recv(&self, cx: &mut SockCx<'_>, buf: &mut [u8], flags: u32) -> KResult<Received> {
        match self.progress(cx.io) {
            Ok(()) => {}
            Err(Errno::EAGAIN) => return Err(Errno::EAGAIN),
            Err(e) => return Err(e),
        }
        if flags & MSG_OOB != 0 && self.ty == SOCK_STREAM {
            // The host's urgent byte is not fetched: not modelled.
            return Err(Errno::EOPNOTSUPP);
        }
        let hn = io_net(cx.io)?;
        let (len, full, from) = hn
            .net_recv(self.h, buf, flags & MSG_PEEK != 0)
            .map_err(errno)?;
        let dgram = self.ty == SOCK_DGRAM;
        Ok(Received {
            len,
            full: if dgram { full } else { len },
            from: if dgram { from } else { None },
            anc: Vec::new(),
            flags: if dgram && full > len { MSG_TRUNC } else { 0 },
            stop: false,
            // TCP's MSG_TRUNC takes the bytes and stores none (tcp_recvmsg);
            // they came into `buf`, which goes no further. An AF_UNIX
            // stream copies them (unix_stream_read_generic ignores it).
            discarded: !dgram && self.domain != AF_UNIX && flags & MSG_TRUNC != 0,
        })
    }

    fn shutdown(&self, cx: &mut SockCx<'_>, how: u32) -> KResult<()> {
        if self.st.lock().phase != Phase::Connected {
            return Err(Errno::ENOTCONN);
        }
        let hn = io_net(cx.io)?;
        hn.net_shutdown(self.h, how).map_err(errno)?;
        if how != SHUT_RD {
            self.st.lock().wr_shut = true;
        }
        Ok(())
    }

    fn local_addr(&self) -> KResult<SockAddr> {
        let local = self.st.lock().local.clone();
        Ok(match (local, self.domain) {
            // Not bound yet: the family's wildcard, port 0.
            (SockAddr::Unspec, AF_INET6) => SockAddr::Inet6 {
                addr: [0; 16],
                port: 0,
                flowinfo: 0,
                scope_id: 0,
            },
            (SockAddr::Unspec, _) => SockAddr::Inet {
                addr: [0; 4],
                port: 0,
            },
            (a, _) => a,
        })
    }

    fn peer_addr(&self) -> KResult<SockAddr> {
        let st = self.st.lock();
        match (st.phase, &st.peer) {
            (Phase::Connected, p) if *p != SockAddr::Unspec => Ok(p.clone()),
            _ => Err(Errno::ENOTCONN),
        }
    }

    fn getsockopt(
        &self,
        cx: &mut SockCx<'_>,
        level: u32,
        name: u32,
        _len: usize,
    ) -> KResult<Vec<u8>> {
        if level == SOL_SOCKET && name == SO_ERROR {
            // A connect that failed reports its error here once.
            let e = match self.progress(cx.io) {
                Ok(()) | Err(Errno::EAGAIN) => 0,
                Err(e) => e.0,
            };
            return Ok(e.to_ne_bytes().to_vec());
        }
        Err(Errno::ENOPROTOOPT)
    }

    fn poll(&self, io: &mut dyn IoCtx) -> PollEvents {
        let phase = self.st.lock().phase;
        if phase == Phase::Failed {
            return PollEvents::POLLERR | PollEvents::POLLHUP;
        }
        let Some(hn) = io.host_net() else {
            return PollEvents::POLLERR;
        };
        let want = PollEvents::POLLIN | PollEvents::POLLOUT;
        PollEvents::from_bits_truncate(hn.net_poll(self.h, want.bits()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn io_net(io: &mut dyn IoCtx) -> KResult<&mut dyn HostNet> {
    io.host_net().ok_or(Errno::EIO)
}

#[cfg(test)]
mod tests {
    //! The data path against a fake host network that loops every stream
    //! back to itself.
    use super::*;
    use crate::host::{ConsoleRead, ConsoleStream, HostError};
    use crate::vecmap::VecMap;
    use umbra_abi::structs::Winsize;

    #[derive(Default)]
    struct FakeNet {
        /// Per socket: bytes waiting, connected yet, write side shut.
        socks: VecMap<HostSock, (Vec<u8>, bool, bool)>,
        next: HostSock,
        closed: Vec<HostSock>,
        refuse: bool,
        /// A published UDP port: its handle, what host clients sent it, and
        /// what was sent from it.
        udp: Option<(HostSock, u16)>,
        udp_in: alloc::collections::VecDeque<(Vec<u8>, SockAddr)>,
        udp_out: Vec<(Vec<u8>, SockAddr)>,
    }

    impl HostNet for FakeNet {
        fn net_connect(&mut self, _: HostSockType, to: &SockAddr) -> Result<HostSock, NetError> {
            if matches!(to, SockAddr::Unix(a) if *a != UnixAddr::Path(b"/host/X0".to_vec())) {
                return Err(NetError::Denied);
            }
            self.next += 1;
            self.socks.insert(self.next, (Vec::new(), false, false));
            Ok(self.next)
        }
        fn net_dgram(&mut self, _: u16) -> Result<HostSock, NetError> {
            Err(NetError::Denied)
        }
        fn net_published(&self) -> Vec<(HostSock, u16, bool)> {
            self.udp.iter().map(|&(h, p)| (h, p, true)).collect()
        }
        fn net_accept(&mut self, _: HostSock) -> Result<(HostSock, SockAddr), NetError> {
            Err(NetError::WouldBlock)
        }
        fn net_send(
            &mut self,
            s: HostSock,
            d: &[u8],
            to: Option<&SockAddr>,
        ) -> Result<usize, NetError> {
            if self.udp.is_some_and(|u| u.0 == s) {
                let to = to.ok_or(NetError::Other)?.clone();
                self.udp_out.push((d.to_vec(), to));
                return Ok(d.len());
            }
            let e = self.socks.get_mut(&s).ok_or(NetError::BadHandle)?;
            if e.2 {
                return Err(NetError::BrokenPipe);
            }
            e.0.extend_from_slice(d);
            Ok(d.len())
        }
        fn net_recv(
            &mut self,
            s: HostSock,
            buf: &mut [u8],
            peek: bool,
        ) -> Result<(usize, usize, Option<SockAddr>), NetError> {
            if self.udp.is_some_and(|u| u.0 == s) {
                let (d, from) = self.udp_in.pop_front().ok_or(NetError::WouldBlock)?;
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                return Ok((n, d.len(), Some(from)));
            }
            let e = self.socks.get_mut(&s).ok_or(NetError::BadHandle)?;
            if e.0.is_empty() {
                return if e.2 {
                    Ok((0, 0, None))
                } else {
                    Err(NetError::WouldBlock)
                };
            }
            let n = buf.len().min(e.0.len());
            buf[..n].copy_from_slice(&e.0[..n]);
            if !peek {
                e.0.drain(..n);
            }
            Ok((n, n, None))
        }
        fn net_shutdown(&mut self, s: HostSock, how: u32) -> Result<(), NetError> {
            let e = self.socks.get_mut(&s).ok_or(NetError::BadHandle)?;
            if how != SHUT_RD {
                e.2 = true;
            }
            Ok(())
        }
        fn net_close(&mut self, s: HostSock) {
            self.socks.remove(&s);
            self.closed.push(s);
        }
        fn net_poll(&mut self, s: HostSock, _: u16) -> u16 {
            let Some(e) = self.socks.get_mut(&s) else {
                return PollEvents::POLLNVAL.bits();
            };
            if !e.1 {
                // The connect completes at the first look.
                e.1 = true;
                return 0;
            }
            let mut r = PollEvents::POLLOUT;
            if !e.0.is_empty() || e.2 {
                r |= PollEvents::POLLIN;
            }
            r.bits()
        }
        fn net_take_error(&mut self, _: HostSock) -> Option<NetError> {
            self.refuse.then_some(NetError::Refused)
        }
        fn net_local_addr(&mut self, _: HostSock) -> Result<SockAddr, NetError> {
            Ok(SockAddr::Inet {
                addr: [10, 0, 0, 2],
                port: 40000,
            })
        }
        fn net_peer_addr(&mut self, _: HostSock) -> Result<SockAddr, NetError> {
            Err(NetError::NotConnected)
        }
    }

    #[derive(Default)]
    struct Io {
        net: Option<FakeNet>,
    }

    impl IoCtx for Io {
        fn console_read(&mut self, _: &mut [u8]) -> Result<ConsoleRead, HostError> {
            Ok(ConsoleRead::Eof)
        }
        fn console_write(&mut self, _: ConsoleStream, d: &[u8]) -> Result<usize, HostError> {
            Ok(d.len())
        }
        fn console_is_tty(&self, _: ConsoleStream) -> bool {
            false
        }
        fn console_winsize(&self) -> Option<Winsize> {
            None
        }
        fn random(&mut self, _: &mut [u8]) {}
        fn now_real(&self) -> u64 {
            0
        }
        fn host_net(&mut self) -> Option<&mut dyn HostNet> {
            self.net.as_mut().map(|n| n as &mut dyn HostNet)
        }
    }

    fn cx(io: &mut Io, nonblock: bool) -> SockCx<'_> {
        SockCx {
            io,
            caller: super::super::Ucred::default(),
            scm: super::super::Ucred::default(),
            nonblock,
        }
    }

    const DEST: SockAddr = SockAddr::Inet {
        addr: [10, 0, 0, 1],
        port: 80,
    };

    fn send(c: &HostConn, io: &mut Io, d: &[u8]) -> KResult<usize> {
        c.send(
            &mut cx(io, false),
            SendMsg {
                data: d,
                to: None,
                anc: Vec::new(),
                flags: 0,
            },
        )
    }

    #[test]
    fn without_a_grant_connect_is_unreachable() {
        let net = NetNs::default();
        let mut io = Io::default();
        let r = connect(
            &mut cx(&mut io, false),
            &net,
            AF_INET,
            SOCK_STREAM,
            0,
            &DEST,
            DEST,
        );
        assert_eq!(r.err(), Some(Errno::ENETUNREACH));
        assert!(!available(&mut io));
    }

    #[test]
    fn connect_completes_then_data_flows_and_close_reaches_the_host() {
        let net = NetNs::default();
        let mut io = Io {
            net: Some(FakeNet::default()),
        };
        let c = connect(
            &mut cx(&mut io, true),
            &net,
            AF_INET,
            SOCK_STREAM,
            0,
            &DEST,
            DEST,
        )
        .unwrap();
        // In progress: a non-blocking caller gets EALREADY, getpeername ENOTCONN.
        assert_eq!(
            c.connect(&mut cx(&mut io, true), &DEST, None),
            Err(Errno::EALREADY)
        );
        assert_eq!(c.peer_addr().err(), Some(Errno::ENOTCONN));
        // Now done: the first connect after completion succeeds, then EISCONN.
        assert_eq!(c.connect(&mut cx(&mut io, true), &DEST, None), Ok(()));
        assert_eq!(
            c.connect(&mut cx(&mut io, true), &DEST, None),
            Err(Errno::EISCONN)
        );
        assert_eq!(c.peer_addr(), Ok(DEST));
        assert!(matches!(
            c.local_addr(),
            Ok(SockAddr::Inet { port: 40000, .. })
        ));
        assert_eq!(send(&c, &mut io, b"hello"), Ok(5));
        assert!(c.poll(&mut io).contains(PollEvents::POLLIN));
        let mut buf = [0u8; 3];
        let r = c.recv(&mut cx(&mut io, false), &mut buf, MSG_PEEK).unwrap();
        assert_eq!((r.len, &buf), (3, b"hel"));
        let r = c.recv(&mut cx(&mut io, false), &mut buf, 0).unwrap();
        assert_eq!((r.len, r.full, r.from), (3, 3, None));
        c.shutdown(&mut cx(&mut io, false), SHUT_WR).unwrap();
        assert_eq!(send(&c, &mut io, b"y"), Err(Errno::EPIPE));
        let h = c.handle();
        drop(c);
        assert!(io.net.as_ref().unwrap().closed.is_empty());
        tick(&mut io, &Arc::new(net), 0);
        assert_eq!(io.net.as_ref().unwrap().closed, [h]);
    }

    #[test]
    fn published_udp_gives_each_host_client_its_own_flow() {
        let net = Arc::new(NetNs::default());
        let mut io = Io {
            net: Some(FakeNet {
                udp: Some((77, 5353)),
                ..FakeNet::default()
            }),
        };
        let client = |port| SockAddr::Inet {
            addr: [10, 0, 0, 9],
            port,
        };
        let (a, b) = (client(40001), client(40002));
        let host_sends = |io: &mut Io, d: &[u8], from: &SockAddr| {
            let n = io.net.as_mut().unwrap();
            n.udp_in.push_back((d.to_vec(), from.clone()));
        };
        // Nobody on the guest port yet: the datagram is dropped, quietly.
        host_sends(&mut io, b"early", &a);
        tick(&mut io, &net, 0);
        let server = super::super::inet::create(&net, AF_INET, SOCK_DGRAM, 0).unwrap();
        let any = SockAddr::Inet {
            addr: [0; 4],
            port: 5353,
        };
        server.bind(&mut cx(&mut io, false), &any, None).unwrap();
        let recv = |io: &mut Io| {
            let mut buf = [0u8; 16];
            let r = server.recv(&mut cx(io, true), &mut buf, 0).unwrap();
            (buf[..r.len].to_vec(), r.from.unwrap())
        };
        host_sends(&mut io, b"a1", &a);
        host_sends(&mut io, b"b1", &b);
        host_sends(&mut io, b"a2", &a);
        tick(&mut io, &net, 1);
        let (d1, fa) = recv(&mut io);
        let (d2, fb) = recv(&mut io);
        let (d3, fa2) = recv(&mut io);
        assert_eq!(
            (&d1[..], &d2[..], &d3[..]),
            (&b"a1"[..], &b"b1"[..], &b"a2"[..])
        );
        // Each client has its own stable source on the guest's loopback.
        assert_eq!(fa, fa2);
        assert_ne!(fa, fb);
        assert!(matches!(
            fa,
            SockAddr::Inet {
                addr: [127, 0, 0, 1],
                ..
            }
        ));
        for (d, to) in [(&b"ra"[..], &fa), (&b"rb"[..], &fb)] {
            let msg = SendMsg {
                data: d,
                to: Some((to, None)),
                anc: Vec::new(),
                flags: 0,
            };
            server.send(&mut cx(&mut io, false), msg).unwrap();
        }
        tick(&mut io, &net, 2);
        assert_eq!(
            io.net.as_ref().unwrap().udp_out,
            [(b"ra".to_vec(), a.clone()), (b"rb".to_vec(), b.clone())]
        );
        // Idle past the timeout, the flows go; the client's next datagram
        // comes from a new flow.
        tick(&mut io, &net, 2 + FLOW_IDLE_NS);
        assert!(net.host.flows.lock().is_empty());
        host_sends(&mut io, b"a3", &a);
        tick(&mut io, &net, 3 + FLOW_IDLE_NS);
        let (d4, fa3) = recv(&mut io);
        assert_eq!(&d4[..], b"a3");
        assert_ne!(fa3, fa);
        assert_eq!(net.host.flows.lock().len(), 1);
    }

    #[test]
    fn published_udp_flows_are_bounded() {
        let net = Arc::new(NetNs::default());
        let mut io = Io {
            net: Some(FakeNet {
                udp: Some((77, 5353)),
                ..FakeNet::default()
            }),
        };
        for i in 0..MAX_FLOWS as u16 + 40 {
            let from = SockAddr::Inet {
                addr: [10, 0, 0, 9],
                port: 1000 + i,
            };
            let n = io.net.as_mut().unwrap();
            n.udp_in.push_back((b"x".to_vec(), from));
            tick(&mut io, &net, u64::from(i));
        }
        assert_eq!(net.host.flows.lock().len(), MAX_FLOWS);
        // The oldest clients were displaced.
        assert!(net.host.flows.lock().iter().all(|f| f.last >= 40));
    }

    #[test]
    fn a_refused_connect_reports_its_error() {
        let net = NetNs::default();
        let mut io = Io {
            net: Some(FakeNet {
                refuse: true,
                ..FakeNet::default()
            }),
        };
        let c = connect(
            &mut cx(&mut io, false),
            &net,
            AF_INET,
            SOCK_STREAM,
            0,
            &DEST,
            DEST,
        )
        .unwrap();
        assert_eq!(
            c.connect(&mut cx(&mut io, false), &DEST, None),
            Err(Errno::EAGAIN)
        );
        assert_eq!(
            c.connect(&mut cx(&mut io, false), &DEST, None),
            Err(Errno::ECONNREFUSED)
        );
        assert!(c.poll(&mut io).contains(PollEvents::POLLERR));
        assert_eq!(send(&c, &mut io, b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn an_ungranted_unix_path_is_refused() {
        let net = NetNs::default();
        let mut io = Io {
            net: Some(FakeNet::default()),
        };
        let to = SockAddr::Unix(super::super::UnixAddr::Path(b"/tmp/.X11-unix/X0".to_vec()));
        let r = connect(
            &mut cx(&mut io, false),
            &net,
            AF_UNIX,
            SOCK_STREAM,
            0,
            &to,
            to.clone(),
        );
        assert_eq!(r.err(), Some(Errno::ECONNREFUSED));
    }

    fn tmpfs_vfs(with_resolv: bool) -> Vfs {
        let now = Timespec::default();
        let fs = crate::fs::tmpfs::TmpFs::new(1, now);
        let vfs = Vfs::new(fs.root(), "tmpfs");
        let dir = NewNode {
            kind: FileType::Directory,
            perm: 0o755,
            uid: 0,
            gid: 0,
            rdev: 0,
            now,
        };
        let etc = fs.root().create(b"etc", &dir).unwrap();
        if with_resolv {
            let f = etc
                .create(
                    b"resolv.conf",
                    &NewNode {
                        kind: FileType::Regular,
                        ..dir
                    },
                )
                .unwrap();
            f.write_at(0, b"own\n", now).unwrap();
        }
        vfs
    }

    fn read(vfs: &Vfs, path: &str) -> Vec<u8> {
        let n = vfs
            .lookup(&vfs.root(), path, FollowLast::Follow, &Cred::root())
            .unwrap();
        let mut buf = [0u8; 64];
        let len = n.inode().read_at(0, &mut buf).unwrap();
        buf[..len].to_vec()
    }

    #[test]
    fn boot_offers_resolv_conf_and_makes_granted_nodes() {
        let cfg = Config {
            resolv_conf: Some(b"nameserver 10.0.0.53\n".to_vec()),
            unix_grants: alloc::vec![(b"/host/X0".to_vec(), b"/tmp/.X11-unix/X0".to_vec())],
            ..Config::default()
        };
        let net = NetNs::default();
        let vfs = tmpfs_vfs(false);
        boot(&vfs, &cfg, &net, Timespec::default()).unwrap();
        assert_eq!(read(&vfs, "/etc/resolv.conf"), b"nameserver 10.0.0.53\n");
        let node = vfs
            .lookup(
                &vfs.root(),
                "/tmp/.X11-unix/X0",
                FollowLast::Follow,
                &Cred::root(),
            )
            .unwrap();
        assert_eq!(node.inode().kind(), FileType::Socket);
        let m = node.inode().metadata().unwrap();
        let id = NodeId {
            dev: m.dev,
            ino: m.ino,
        };
        // The granted node connects to the host path; any other node is the
        // guest's own (None); without a host network, ENETUNREACH.
        let mut io = Io {
            net: Some(FakeNet::default()),
        };
        let other = NodeId { dev: m.dev, ino: 0 };
        assert!(
            unix_connect(&mut cx(&mut io, false), &net, SOCK_STREAM, other)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            unix_connect(&mut cx(&mut io, false), &net, SOCK_DGRAM, id).err(),
            Some(Errno::EPROTOTYPE)
        );
        let c = unix_connect(&mut cx(&mut io, false), &net, SOCK_STREAM, id)
            .unwrap()
            .unwrap();
        assert_eq!(
            c.first_connect(&mut cx(&mut io, true)),
            Err(Errno::EINPROGRESS)
        );
        assert_eq!(c.first_connect(&mut cx(&mut io, false)), Ok(()));
        assert_eq!(
            c.peer_addr(),
            Ok(SockAddr::Unix(UnixAddr::Path(
                b"/tmp/.X11-unix/X0".to_vec()
            )))
        );
        assert_eq!(c.local_addr(), Ok(SockAddr::Unix(UnixAddr::Unnamed)));
        let mut none = Io::default();
        assert_eq!(
            unix_connect(&mut cx(&mut none, false), &net, SOCK_STREAM, id).err(),
            Some(Errno::ENETUNREACH)
        );
        // The guest's own resolv.conf is kept.
        let vfs = tmpfs_vfs(true);
        boot(&vfs, &cfg, &NetNs::default(), Timespec::default()).unwrap();
        assert_eq!(read(&vfs, "/etc/resolv.conf"), b"own\n");
    }
}
