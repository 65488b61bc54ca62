//! The host network as the user's policy grants it (`--net host`,
//! `--publish`, `--unix-socket`): umbra opens host sockets on the guest's
//! behalf (as gVisor's hostinet does) and the guest kernel reaches them
//! through [`HostNet`] by number. Stubs never hold a host socket.
//!
//! What is checked here, whatever the guest kernel asks: an outbound
//! connection or datagram socket needs `--net host` and a destination that
//! is not the host's loopback (or 0.0.0.0/::, which Linux treats as the
//! local host); a Unix connection only goes to a path given with
//! `--unix-socket` (exactly that path, no abstract name); a published UDP
//! port sends only to host clients it received from. Publish listeners
//! (and UDP ports) are opened before umbra confines itself, so the confined
//! umbra needs no bind or listen. The seccomp rules each mode adds are in [`NetState::rules`].

use umbra_core::vecmap::VecMap;

use crate::sys::net as sn;
use crate::sys::raw::nr;
use crate::sys::seccomp::Rule;
use crate::sys::signals::PollFd;
use crate::sys::{self, Errno};
use umbra_core::host::{HostNet, HostSock, HostSockType, NetError};
use umbra_core::net::{SockAddr, UnixAddr};

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;
const POLLRDHUP: i16 = 0x2000;
/// POLLERR | POLLHUP | POLLNVAL: a socket showing one is not remembered as
/// ready (see `Sock::ready`).
const POLL_END: i16 = 0x8 | 0x10 | 0x20;

/// What the user granted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetOptions {
    /// `--net host`: outbound TCP and UDP to non-loopback addresses.
    pub outbound: bool,
    /// `--publish HOSTPORT:GUESTPORT[/udp]`: (host port, guest port, udp).
    pub publish: Vec<(u16, u16, bool)>,
    /// `--unix-socket HOSTPATH:GUESTPATH`: the host paths a guest may reach.
    pub unix_paths: Vec<Vec<u8>>,
}

impl NetOptions {
    /// Whether anything is granted (`--net none` otherwise).
    pub fn any(&self) -> bool {
        self.outbound || !self.publish.is_empty() || !self.unix_paths.is_empty()
    }
}

struct Sock {
    fd: i32,
    /// A datagram socket (receives pass MSG_TRUNC to learn the real length;
    /// on TCP, MSG_TRUNC would discard the data).
    dgram: bool,
    /// poll bits the guest kernel waits for; `wait_event` watches them and
    /// clears them once they are ready (as it does for stdin).
    interest: i16,
    /// POLLIN and POLLOUT as the host last showed them up (a poll here or
    /// in `wait_event`), while no call of umbra's on the socket can have
    /// taken them down since. Only umbra's own calls take them down: input
    /// waiting stays until umbra receives (or accepts), room to send until
    /// umbra sends, whatever the peer does meanwhile (what it does later
    /// than the host showed is as if it came after the guest's poll). So a
    /// poll that asks only for bits in here needs no host call: the guest
    /// kernel polling again, after `wait_event` saw the socket become
    /// ready, is answered from this.
    ready: i16,
    /// A `--publish .../udp` socket: the host clients it heard from, most
    /// recent last; it sends only to them.
    peers: Option<Vec<SockAddr>>,
}

/// How many host clients a published UDP port answers at once (the guest
/// kernel keeps fewer flows than this).
const MAX_UDP_PEERS: usize = 4096;

/// The host sockets umbra holds for the guest.
pub(super) struct NetState {
    opts: NetOptions,
    socks: VecMap<HostSock, Sock>,
    next: HostSock,
    published: Vec<(HostSock, u16, bool)>,
    /// Guest listeners may get host listeners (`allow_export`).
    export: bool,
    /// Polls answered from what umbra knew, with no host call (see
    /// `Sock::ready`).
    pub(super) polls_known: u64,
}

fn err(e: Errno) -> NetError {
    match e.0 {
        11 | 115 | 114 => NetError::WouldBlock, // EAGAIN, EINPROGRESS, EALREADY
        1 | 13 => NetError::Denied,             // EPERM, EACCES
        111 | 2 => NetError::Refused,           // ECONNREFUSED; ENOENT (no host socket there)
        104 => NetError::Reset,
        103 => NetError::Aborted,
        110 => NetError::TimedOut,
        101 => NetError::NetUnreachable,
        113 => NetError::HostUnreachable,
        98 => NetError::AddrInUse,
        99 => NetError::AddrNotAvail,
        107 => NetError::NotConnected,
        32 => NetError::BrokenPipe,
        90 => NetError::MsgSize,
        12 | 23 | 24 | 105 => NetError::NoResources, // ENOMEM, ENFILE, EMFILE, ENOBUFS
        9 => NetError::BadHandle,
        _ => NetError::Other,
    }
}

/// Decodes an address the host kernel wrote; `None` for an empty one.
fn decode(b: &[u8]) -> Option<SockAddr> {
    if b.len() < 2 {
        return None;
    }
    SockAddr::decode(b).ok()
}

/// Whether an IP destination is the host itself through its loopback or
/// the "any" address (Linux connects 0.0.0.0 and :: to the local host).
fn is_host_local(to: &SockAddr) -> bool {
    match to {
        SockAddr::Inet { addr, .. } => addr[0] == 127 || addr[0] == 0,
        SockAddr::Inet6 { addr, .. } => {
            let unspec_or_lo = addr[..15].iter().all(|&b| b == 0) && addr[15] <= 1;
            let mapped = addr[..10].iter().all(|&b| b == 0) && addr[10] == 0xff && addr[11] == 0xff;
            unspec_or_lo || (mapped && (addr[12] == 127 || addr[12] == 0))
        }
        _ => false,
    }
}

/// socket(2) domains and types the confined umbra may create, by mode.
const DOM_INET: &[u32] = &[sn::AF_INET as u32, sn::AF_INET6 as u32];
const DOM_UNIX: &[u32] = &[sn::AF_UNIX as u32];
const DOM_ALL: &[u32] = &[sn::AF_UNIX as u32, sn::AF_INET as u32, sn::AF_INET6 as u32];
const FL: u32 = sn::SOCK_NONBLOCK | sn::SOCK_CLOEXEC;
const TY_STREAM: &[u32] = &[sn::SOCK_STREAM | FL];
const TY_BOTH: &[u32] = &[sn::SOCK_STREAM | FL, sn::SOCK_DGRAM | FL];

impl NetState {
    /// Opens the publish listeners (before confinement).
    pub(super) fn new(opts: NetOptions) -> Result<NetState, String> {
        let mut st = NetState {
            opts,
            socks: VecMap::new(),
            next: 1,
            published: Vec::new(),
            export: false,
            polls_known: 0,
        };
        for &(hport, gport, udp) in &st.opts.publish.clone() {
            let (ty, proto) = if udp {
                (sn::SOCK_DGRAM, "udp")
            } else {
                (sn::SOCK_STREAM, "tcp")
            };
            let fd = sn::socket(sn::AF_INET, ty)
                .map_err(|e| format!("--publish {hport}: socket: {e}"))?;
            let addr = SockAddr::Inet {
                addr: [0; 4],
                port: hport,
            };
            let r = sn::setsockopt_int(fd, sn::SOL_SOCKET, sn::SO_REUSEADDR, 1)
                .and_then(|()| sn::bind(fd, &addr.encode()))
                .and_then(|()| if udp { Ok(()) } else { sn::listen(fd, 128) });
            if let Err(e) = r {
                sn::close(fd);
                return Err(format!(
                    "--publish {hport}/{proto}: cannot listen on port {hport}: {e}"
                ));
            }
            let h = st.add(fd, udp);
            if udp {
                if let Some(s) = st.socks.get_mut(&h) {
                    s.peers = Some(Vec::new());
                }
            }
            st.want(h, POLLIN);
            st.published.push((h, gport, udp));
        }
        Ok(st)
    }

    /// The seccomp rules this policy adds to umbra's allow-list: socket(2)
    /// only of the granted domains, non-blocking and close-on-exec, stream
    /// (and datagram with `--net host`); connect only when something may be
    /// connected to; the data calls on umbra's own sockets. No bind, listen,
    /// setsockopt, raw, packet or netlink sockets.
    pub(super) fn rules(&self) -> Vec<Rule> {
        let mut r = Vec::new();
        let unix = !self.opts.unix_paths.is_empty();
        if self.opts.outbound || unix {
            let domains = match (self.opts.outbound, unix) {
                (true, true) => DOM_ALL,
                (true, false) => DOM_INET,
                _ => DOM_UNIX,
            };
            let types = if self.opts.outbound {
                TY_BOTH
            } else {
                TY_STREAM
            };
            r.push(Rule::Args2 {
                nr: nr::SOCKET,
                a: (0, domains),
                b: (1, types),
            });
            r.push(Rule::Any(nr::CONNECT));
        }
        for n in [
            nr::ACCEPT4,
            nr::SENDTO,
            nr::RECVFROM,
            nr::SHUTDOWN,
            nr::GETSOCKNAME,
            nr::GETPEERNAME,
        ] {
            r.push(Rule::Any(n));
        }
        r.push(Rule::ArgIn {
            nr: nr::GETSOCKOPT,
            arg: 1,
            vals: &[sn::SOL_SOCKET],
            hi0: false,
        });
        if self.export {
            r.push(Rule::Any(nr::BIND));
            r.push(Rule::Any(nr::LISTEN));
            r.push(Rule::ArgIn {
                nr: nr::SETSOCKOPT,
                arg: 2,
                vals: &[sn::SO_REUSEADDR],
                hi0: false,
            });
        }
        r
    }

    /// OCI mode in the container's network namespace: guest TCP listeners
    /// on every address get a host listener on the same port
    /// (`net_export`); the allow-list grows by bind, listen and
    /// setsockopt(SO_REUSEADDR), which reach only that namespace.
    pub(super) fn allow_export(&mut self) {
        self.export = true;
    }

    /// Takes the connected stream socket `fd` (an OCI exec's stdio) as a
    /// host socket of the guest's.
    pub(super) fn adopt_stream(&mut self, fd: i32) -> HostSock {
        self.add(fd, false)
    }

    fn add(&mut self, fd: i32, dgram: bool) -> HostSock {
        let h = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        self.socks.insert(
            h,
            Sock {
                fd,
                dgram,
                interest: 0,
                ready: 0,
                peers: None,
            },
        );
        h
    }

    fn fd(&self, s: HostSock) -> Result<i32, NetError> {
        self.socks.get(&s).map(|s| s.fd).ok_or(NetError::BadHandle)
    }

    fn want(&mut self, s: HostSock, ev: i16) {
        if let Some(s) = self.socks.get_mut(&s) {
            s.interest |= ev;
        }
    }

    /// Forgets that `ev` is up on `s`: umbra is about to make a call on it
    /// that may take it down (see `Sock::ready`).
    fn taken(&mut self, s: HostSock, ev: i16) {
        if let Some(s) = self.socks.get_mut(&s) {
            s.ready &= !ev;
        }
    }

    /// Appends the fds `wait_event` watches.
    pub(super) fn poll_set(&self, fds: &mut Vec<PollFd>) {
        for s in self.socks.values() {
            if s.interest != 0 {
                fds.push(PollFd::new(s.fd, s.interest));
            }
        }
    }

    /// After a wait: clears the interest of every socket that became ready
    /// (a published port stays watched: the kernel's tick takes only a
    /// batch of what waits there), remembers what became ready (see
    /// `Sock::ready`); returns whether any did.
    pub(super) fn ready(&mut self, fds: &[PollFd]) -> bool {
        let mut any = false;
        for p in fds {
            let re = p.revents();
            if re != 0 {
                any = true;
                let published = &self.published;
                if let Some((h, s)) = self.socks.iter_mut().find(|(_, s)| s.fd == p.fd()) {
                    s.ready = if re & POLL_END != 0 {
                        0
                    } else {
                        s.ready | (re & (POLLIN | POLLOUT))
                    };
                    if !published.iter().any(|p| p.0 == *h) {
                        s.interest = 0;
                    }
                }
            }
        }
        any
    }

    fn check_dest(&self, to: &SockAddr) -> Result<(), NetError> {
        match to {
            SockAddr::Inet { .. } | SockAddr::Inet6 { .. } => {
                if !self.opts.outbound || is_host_local(to) {
                    return Err(NetError::Denied);
                }
                Ok(())
            }
            SockAddr::Unix(UnixAddr::Path(p)) if self.opts.unix_paths.contains(p) => Ok(()),
            _ => Err(NetError::Denied),
        }
    }
}

impl HostNet for NetState {
    fn net_connect(&mut self, ty: HostSockType, to: &SockAddr) -> Result<HostSock, NetError> {
        self.check_dest(to)?;
        let st = match ty {
            HostSockType::Stream => sn::SOCK_STREAM,
            HostSockType::Dgram if self.opts.outbound && to.family() != sn::AF_UNIX => {
                sn::SOCK_DGRAM
            }
            HostSockType::Dgram => return Err(NetError::Denied),
        };
        let fd = sn::socket(to.family(), st).map_err(err)?;
        match sn::connect(fd, &to.encode()) {
            Ok(()) | Err(Errno(115)) => {} // EINPROGRESS: POLLOUT tells the end
            Err(e) => {
                sn::close(fd);
                return Err(err(e));
            }
        }
        Ok(self.add(fd, st == sn::SOCK_DGRAM))
    }

    fn net_dgram(&mut self, domain: u16) -> Result<HostSock, NetError> {
        if !self.opts.outbound || !(domain == sn::AF_INET || domain == sn::AF_INET6) {
            return Err(NetError::Denied);
        }
        let fd = sn::socket(domain, sn::SOCK_DGRAM).map_err(err)?;
        Ok(self.add(fd, true))
    }

    fn net_export(&mut self, port: u16) -> Result<(), NetError> {
        if !self.export {
            return Err(NetError::Denied);
        }
        if self.published.iter().any(|&(_, g, udp)| g == port && !udp) {
            return Ok(());
        }
        let fd = sn::socket(sn::AF_INET, sn::SOCK_STREAM).map_err(err)?;
        let addr = SockAddr::Inet { addr: [0; 4], port };
        let r = sn::setsockopt_int(fd, sn::SOL_SOCKET, sn::SO_REUSEADDR, 1)
            .and_then(|()| sn::bind(fd, &addr.encode()))
            .and_then(|()| sn::listen(fd, 128));
        if let Err(e) = r {
            sn::close(fd);
            return Err(err(e));
        }
        let h = self.add(fd, false);
        self.want(h, POLLIN);
        self.published.push((h, port, false));
        Ok(())
    }

    fn net_published(&self) -> Vec<(HostSock, u16, bool)> {
        self.published.clone()
    }

    fn net_accept(&mut self, listener: HostSock) -> Result<(HostSock, SockAddr), NetError> {
        let fd = self.fd(listener)?;
        self.taken(listener, POLLIN);
        match sn::accept(fd) {
            Ok((nfd, addr)) => {
                let h = self.add(nfd, false);
                Ok((h, decode(&addr).unwrap_or(SockAddr::Unspec)))
            }
            Err(e) => {
                let e = err(e);
                if e == NetError::WouldBlock {
                    self.want(listener, POLLIN);
                }
                Err(e)
            }
        }
    }

    fn net_send(
        &mut self,
        s: HostSock,
        data: &[u8],
        to: Option<&SockAddr>,
    ) -> Result<usize, NetError> {
        let sock = self.socks.get(&s).ok_or(NetError::BadHandle)?;
        let fd = sock.fd;
        match (&sock.peers, to) {
            // A published UDP port answers only the clients it heard from.
            (Some(peers), Some(to)) if peers.contains(to) => {}
            (Some(_), _) => return Err(NetError::Denied),
            (None, Some(to)) => self.check_dest(to)?,
            (None, None) => {}
        }
        let enc = to.map(SockAddr::encode);
        self.taken(s, POLLOUT);
        match sn::sendto(fd, data, enc.as_deref()) {
            Ok(n) => Ok(n),
            Err(e) => {
                let e = err(e);
                if e == NetError::WouldBlock {
                    self.want(s, POLLOUT);
                }
                Err(e)
            }
        }
    }

    fn net_recv(
        &mut self,
        s: HostSock,
        buf: &mut [u8],
        peek: bool,
    ) -> Result<(usize, usize, Option<SockAddr>), NetError> {
        let sock = self.socks.get(&s).ok_or(NetError::BadHandle)?;
        let (fd, dgram) = (sock.fd, sock.dgram);
        let mut flags = if peek { sn::MSG_PEEK } else { 0 };
        if dgram {
            flags |= sn::MSG_TRUNC;
        }
        if !peek {
            self.taken(s, POLLIN);
        }
        // A stream's source is its peer, which the guest kernel knows: no
        // address is asked for (nor copied, nor decoded) at every read.
        let got = if dgram {
            sn::recvfrom(fd, buf, flags)
        } else {
            sn::recv(fd, buf, flags).map(|n| (n, Vec::new()))
        };
        match got {
            // With MSG_TRUNC, a datagram's real length.
            Ok((n, a)) => {
                let from = decode(&a);
                let peers = self.socks.get_mut(&s).and_then(|s| s.peers.as_mut());
                if let (Some(peers), Some(from), false) = (peers, &from, peek) {
                    peers.retain(|p| p != from);
                    if peers.len() >= MAX_UDP_PEERS {
                        peers.remove(0);
                    }
                    peers.push(from.clone());
                }
                Ok((n.min(buf.len()), n, from))
            }
            Err(e) => {
                let e = err(e);
                if e == NetError::WouldBlock {
                    self.want(s, POLLIN);
                }
                Err(e)
            }
        }
    }

    fn net_shutdown(&mut self, s: HostSock, how: u32) -> Result<(), NetError> {
        let fd = self.fd(s)?;
        self.taken(s, POLLIN | POLLOUT);
        sn::shutdown(fd, how).map_err(err)
    }

    fn net_close(&mut self, s: HostSock) {
        if let Some(sock) = self.socks.remove(&s) {
            sn::close(sock.fd);
        }
        self.published.retain(|p| p.0 != s);
    }

    fn net_poll(&mut self, s: HostSock, interest: u16) -> u16 {
        let Some(sock) = self.socks.get_mut(&s) else {
            return 0x20; // POLLNVAL
        };
        let fd = sock.fd;
        // Known to be up, and nothing umbra did since took it down: no
        // host call (see `Sock::ready`).
        let asked = interest as i16 & (POLLIN | POLLOUT);
        if asked != 0 && sock.ready & asked == asked {
            let known = sock.ready as u16;
            self.polls_known += 1;
            return known;
        }
        let re = sys::poll_fd(fd, POLLIN | POLLOUT | POLLRDHUP, 0).unwrap_or(0) as u16;
        sock.ready = if re as i16 & POLL_END != 0 {
            0
        } else {
            re as i16 & (POLLIN | POLLOUT)
        };
        // Watch every event of the interest that is not ready yet: the guest
        // kernel asks for POLLIN | POLLOUT whatever its caller waits for, and
        // a reader waiting for input on a writable socket (an X client
        // waiting for its reply) must still be woken when the input comes.
        // Nothing more can come once POLLERR or POLLHUP is up.
        let missing = interest & !re;
        if re & 0x18 == 0 && missing != 0 {
            self.want(s, missing as i16);
        }
        re
    }

    fn net_take_error(&mut self, s: HostSock) -> Option<NetError> {
        let fd = self.fd(s).ok()?;
        match sn::getsockopt_int(fd, sn::SOL_SOCKET, sn::SO_ERROR) {
            Ok(0) => None,
            Ok(e) => Some(err(Errno(e))),
            Err(e) => Some(err(e)),
        }
    }

    fn net_local_addr(&mut self, s: HostSock) -> Result<SockAddr, NetError> {
        let b = sn::local_name(self.fd(s)?).map_err(err)?;
        decode(&b).ok_or(NetError::Other)
    }

    fn net_peer_addr(&mut self, s: HostSock) -> Result<SockAddr, NetError> {
        let b = sn::peer_name(self.fd(s)?).map_err(err)?;
        decode(&b).ok_or(NetError::NotConnected)
    }
}

impl Drop for NetState {
    fn drop(&mut self) {
        for s in self.socks.values() {
            sn::close(s.fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_local_destinations_are_refused() {
        let v4 = |a: [u8; 4]| SockAddr::Inet { addr: a, port: 80 };
        assert!(is_host_local(&v4([127, 0, 0, 1])));
        assert!(is_host_local(&v4([127, 9, 9, 9])));
        assert!(is_host_local(&v4([0, 0, 0, 0])));
        assert!(!is_host_local(&v4([10, 0, 0, 1])));
        let v6 = |a: [u8; 16]| SockAddr::Inet6 {
            addr: a,
            port: 80,
            flowinfo: 0,
            scope_id: 0,
        };
        let mut lo = [0u8; 16];
        lo[15] = 1;
        assert!(is_host_local(&v6(lo)));
        assert!(is_host_local(&v6([0; 16])));
        let mut mapped = [0u8; 16];
        mapped[10] = 0xff;
        mapped[11] = 0xff;
        mapped[12] = 127;
        mapped[15] = 1;
        assert!(is_host_local(&v6(mapped)));
        mapped[12] = 10;
        assert!(!is_host_local(&v6(mapped)));
    }

    #[test]
    fn a_published_udp_port_answers_only_its_clients() {
        // A free port: taken and given back (nothing else binds it meanwhile
        // but a racing test; then bind fails and the test says so).
        let port = std::net::UdpSocket::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut st = NetState::new(NetOptions {
            publish: vec![(port, 53, true)],
            ..NetOptions::default()
        })
        .unwrap();
        let [(h, 53, true)] = st.net_published()[..] else {
            panic!("{:?}", st.net_published());
        };
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let stranger = SockAddr::Inet {
            addr: [127, 0, 0, 1],
            port: 9,
        };
        assert_eq!(st.net_send(h, b"x", Some(&stranger)), Err(NetError::Denied));
        assert_eq!(st.net_send(h, b"x", None), Err(NetError::Denied));
        client.send_to(b"ping", ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 64];
        let from = loop {
            match st.net_recv(h, &mut buf, false) {
                Ok((4, 4, Some(from))) => break from,
                Err(NetError::WouldBlock) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                r => panic!("{r:?}"),
            }
        };
        assert_eq!(&buf[..4], b"ping");
        assert_eq!(st.net_send(h, b"pong", Some(&from)), Ok(4));
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(st.net_send(h, b"x", Some(&stranger)), Err(NetError::Denied));
    }

    #[test]
    fn policy_refuses_what_was_not_granted() {
        let mut none = NetState::new(NetOptions::default()).unwrap();
        let out = SockAddr::Inet {
            addr: [10, 0, 0, 1],
            port: 80,
        };
        assert_eq!(
            none.net_connect(HostSockType::Stream, &out),
            Err(NetError::Denied)
        );
        assert_eq!(none.net_dgram(sn::AF_INET), Err(NetError::Denied));
        let mut unix = NetState::new(NetOptions {
            unix_paths: vec![b"/tmp/granted".to_vec()],
            ..NetOptions::default()
        })
        .unwrap();
        for p in [
            SockAddr::Unix(UnixAddr::Path(b"/tmp/other".to_vec())),
            SockAddr::Unix(UnixAddr::Abstract(b"/tmp/granted".to_vec())),
            out.clone(),
        ] {
            assert_eq!(
                unix.net_connect(HostSockType::Stream, &p),
                Err(NetError::Denied)
            );
        }
        assert_eq!(
            unix.net_connect(
                HostSockType::Dgram,
                &SockAddr::Unix(UnixAddr::Path(b"/tmp/granted".to_vec()))
            ),
            Err(NetError::Denied)
        );
    }

    /// A writable connection polled for input and output is watched for
    /// input alone (an X client's poll for POLLIN on its host connection;
    /// tests/e2e_xengine.rs has the guest's side).
    #[test]
    fn a_writable_socket_is_watched_for_input() {
        let (mut st, h, mut peer) = connected("netpoll");
        let re = st.net_poll(h, (POLLIN | POLLOUT) as u16);
        assert_eq!(re & (POLLIN | POLLOUT) as u16, POLLOUT as u16);
        let mut fds = Vec::new();
        st.poll_set(&mut fds);
        assert_eq!(fds, [PollFd::new(st.fd(h).unwrap(), POLLIN)]);
        std::io::Write::write_all(&mut peer, b"x").unwrap();
        let re = st.net_poll(h, (POLLIN | POLLOUT) as u16);
        assert_eq!(re & (POLLIN | POLLOUT) as u16, (POLLIN | POLLOUT) as u16);
    }

    /// A connected stream to a fresh listener: (state, handle, the peer).
    fn connected(name: &str) -> (NetState, HostSock, std::os::unix::net::UnixStream) {
        let dir = std::env::temp_dir().join(format!("umbra-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let granted = path.to_str().unwrap().as_bytes().to_vec();
        let mut st = NetState::new(NetOptions {
            unix_paths: vec![granted.clone()],
            ..NetOptions::default()
        })
        .unwrap();
        let h = st
            .net_connect(
                HostSockType::Stream,
                &SockAddr::Unix(UnixAddr::Path(granted)),
            )
            .unwrap();
        let (peer, _) = l.accept().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (st, h, peer)
    }

    /// What `wait_event` does: polls the watched fds (up to 5 s) and hands
    /// the result to `ready`.
    fn wait(st: &mut NetState) {
        let mut fds = Vec::new();
        st.poll_set(&mut fds);
        let fds: Vec<PollFd> = fds
            .iter()
            .map(|p| {
                let re = sys::poll_fd(p.fd(), POLLIN | POLLOUT, 5000).unwrap();
                PollFd::with_revents(p.fd(), POLLIN | POLLOUT, re)
            })
            .collect();
        assert!(st.ready(&fds));
    }

    /// The guest kernel's poll again after `wait_event` saw input come is
    /// answered without a host call, with what the host showed; once umbra
    /// receives (or sends), the host is asked again.
    #[test]
    fn a_poll_after_the_wait_saw_the_socket_ready_needs_no_host_call() {
        let (mut st, h, mut peer) = connected("netknown");
        let both = (POLLIN | POLLOUT) as u16;
        assert_eq!(st.net_poll(h, both) & both, POLLOUT as u16);
        std::io::Write::write_all(&mut peer, b"xy").unwrap();
        wait(&mut st);
        assert_eq!(st.polls_known, 0);
        assert_eq!(st.net_poll(h, both), both);
        assert_eq!(st.polls_known, 1);
        // A peek leaves the input there: still known.
        let mut buf = [0u8; 8];
        assert_eq!(st.net_recv(h, &mut buf, true).unwrap().0, 2);
        assert_eq!(st.net_poll(h, both), both);
        assert_eq!(st.polls_known, 2);
        // A receive may take it: the host is asked, and shows it gone.
        assert_eq!(st.net_recv(h, &mut buf, false).unwrap(), (2, 2, None));
        assert_eq!(&buf[..2], b"xy");
        assert_eq!(st.net_poll(h, both) & both, POLLOUT as u16);
        assert_eq!(st.polls_known, 2);
        // Room to send is known; a send may take it: asked again.
        assert_eq!(st.net_poll(h, POLLOUT as u16), POLLOUT as u16);
        assert_eq!(st.polls_known, 3);
        assert_eq!(st.net_send(h, b"z", None).unwrap(), 1);
        assert_eq!(st.net_poll(h, POLLOUT as u16) & both, POLLOUT as u16);
        assert_eq!(st.polls_known, 3);
    }

    /// A socket the host shows hung up is not answered from memory: every
    /// poll asks the host, which reports the hang-up.
    #[test]
    fn a_hung_up_socket_is_always_asked() {
        let (mut st, h, mut peer) = connected("nethup");
        std::io::Write::write_all(&mut peer, b"x").unwrap();
        drop(peer);
        let both = (POLLIN | POLLOUT) as u16;
        for _ in 0..2 {
            let re = st.net_poll(h, both);
            assert_eq!(
                re & (POLLIN | 0x10) as u16,
                (POLLIN | 0x10) as u16,
                "{re:#x}"
            );
        }
        assert_eq!(st.polls_known, 0);
        let mut buf = [0u8; 8];
        assert_eq!(st.net_recv(h, &mut buf, false).unwrap().0, 1);
        assert_eq!(st.net_recv(h, &mut buf, false).unwrap().0, 0);
    }
}
