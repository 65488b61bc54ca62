//! AF_NETLINK: the guest's own NETLINK_ROUTE socket, answering the link,
//! address and route dumps that glibc (getifaddrs, getaddrinfo's
//! AI_ADDRCONFIG check) and iproute2 make. The answers describe `lo`, the
//! guest's one interface, as Linux does in a fresh network namespace with lo
//! up (the attributes programs read; Linux sends more).
//!
//! No other netlink family exists (EPROTONOSUPPORT, as Linux for a family
//! it lacks), and requests other than the dumps and RTM_GETLINK of lo fail
//! with EOPNOTSUPP in an NLMSG_ERROR, as Linux answers a message type
//! without a handler. Multicast groups may be joined, but the guest's
//! interfaces never change, so no notification ever comes.

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;

use spin::Mutex;
use umbra_abi::net::*;

use super::inet::{LO_FLAGS, LO_INDEX, LO_MTU, LO_TXQLEN};
use super::{NetNs, Received, SendMsg, SockAddr, SockCx, Socket};
use crate::error::{Errno, KResult};
use crate::fs::vfs::{IoCtx, PollEvents, WakeSeq};

const NETLINK_ROUTE: u32 = 0;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// Types below this are control messages, ignored in a request.
const NLMSG_MIN_TYPE: u16 = 0x10;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CAPPED: u16 = 0x100;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;

/// SOL_NETLINK options accepted.
const NETLINK_ADD_MEMBERSHIP: u32 = 1;
const NETLINK_DROP_MEMBERSHIP: u32 = 2;
const NETLINK_CAP_ACK: u32 = 10;
const NETLINK_EXT_ACK: u32 = 11;
const NETLINK_GET_STRICT_CHK: u32 = 12;

/// IFF_LOWER_UP, which netlink reports besides the ioctl flags.
const IFF_LOWER_UP: u32 = 0x10000;
const ARPHRD_LOOPBACK: u16 = 772;
const RT_SCOPE_HOST: u8 = 254;
const IFA_F_PERMANENT: u8 = 0x80;

/// Netlink state: the port ids in use, and the next automatic one
/// (Linux's rover, from -4096 down, after the process id).
pub struct NetlinkNs {
    socks: Mutex<Vec<Weak<NetlinkSock>>>,
    rover: Mutex<i32>,
}

impl Default for NetlinkNs {
    fn default() -> Self {
        NetlinkNs {
            socks: Mutex::new(Vec::new()),
            rover: Mutex::new(-4096),
        }
    }
}

struct St {
    /// The port id (0 until bound).
    pid: u32,
    groups: u32,
    queue: VecDeque<Vec<u8>>,
    cap_ack: bool,
    opts: [i32; 16],
    wake: WakeSeq,
    /// Bytes queued, and whether answers were dropped for want of room
    /// (the next receive fails with ENOBUFS, as Linux's overrun).
    queued: usize,
    overrun: bool,
}

/// The most answer bytes a socket queues (Linux's default SO_RCVBUF).
const RCVBUF: usize = 212992;

impl St {
    /// Queues one answer datagram unless the receive buffer is full.
    fn push(&mut self, d: Vec<u8>) {
        if self.queued + d.len() > RCVBUF {
            self.overrun = true;
            return;
        }
        self.queued += d.len();
        self.queue.push_back(d);
        self.wake.wake_input();
    }
}

/// A NETLINK_ROUTE socket.
pub struct NetlinkSock {
    net: Arc<NetNs>,
    me: Weak<NetlinkSock>,
    ty: u32,
    st: Mutex<St>,
}

/// socket(AF_NETLINK, ty, protocol).
pub fn create(net: &Arc<NetNs>, ty: u32, protocol: u32) -> KResult<Arc<dyn Socket>> {
    if ty != SOCK_RAW && ty != SOCK_DGRAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if protocol != NETLINK_ROUTE {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(Arc::new_cyclic(|me| NetlinkSock {
        net: net.clone(),
        me: me.clone(),
        ty,
        st: Mutex::new(St {
            pid: 0,
            groups: 0,
            queue: VecDeque::new(),
            cap_ack: false,
            opts: [0; 16],
            wake: WakeSeq::default(),
            queued: 0,
            overrun: false,
        }),
    }))
}

impl NetlinkSock {
    fn pid_used(&self, pid: u32) -> bool {
        let mut socks = self.net.netlink.socks.lock();
        socks.retain(|w| w.strong_count() > 0);
        socks
            .iter()
            .filter(|w| !Weak::ptr_eq(w, &self.me))
            .filter_map(Weak::upgrade)
            .any(|s| s.st.lock().pid == pid)
    }

    fn take_pid(&self, pid: u32) {
        self.st.lock().pid = pid;
        let mut socks = self.net.netlink.socks.lock();
        if !socks.iter().any(|w| Weak::ptr_eq(w, &self.me)) {
            socks.push(self.me.clone());
        }
    }

    /// Linux's netlink_autobind: the process id if free, else the rover.
    fn autobind(&self, tgid: u32) {
        if self.st.lock().pid != 0 {
            return;
        }
        let mut pid = tgid;
        while pid == 0 || self.pid_used(pid) {
            let mut r = self.net.netlink.rover.lock();
            pid = *r as u32;
            *r = if *r <= i32::MIN + 1 { -4097 } else { *r - 1 };
        }
        self.take_pid(pid);
    }

    /// Serves one request; the answers go to the socket's queue.
    fn request(&self, msg: &[u8]) {
        let hdr = Hdr::parse(msg);
        if hdr.flags & NLM_F_REQUEST == 0 || hdr.ty < NLMSG_MIN_TYPE {
            if hdr.flags & NLM_F_ACK != 0 {
                self.ack(msg, &hdr, 0);
            }
            return;
        }
        let pid = self.st.lock().pid;
        let payload = &msg[16..];
        // A family without its own dump is answered as AF_UNSPEC.
        let family = match payload.first().copied().unwrap_or(0) as u16 {
            f @ (AF_INET | AF_INET6) => f,
            _ => AF_UNSPEC,
        };
        let dump = hdr.flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        let r = match hdr.ty {
            RTM_GETLINK if dump => {
                link_msg(&mut out, &hdr, pid, NLM_F_MULTI, family);
                Ok(())
            }
            RTM_GETLINK => {
                let idx = if payload.len() >= 8 {
                    i32::from_ne_bytes([payload[4], payload[5], payload[6], payload[7]])
                } else {
                    0
                };
                if idx == LO_INDEX as i32 || (idx == 0 && names_lo(payload)) {
                    link_msg(&mut out, &hdr, pid, 0, AF_UNSPEC);
                    Ok(())
                } else {
                    Err(Errno::ENODEV)
                }
            }
            RTM_GETADDR if dump => {
                if family == AF_UNSPEC || family == AF_INET {
                    addr4_msg(&mut out, &hdr, pid);
                }
                if family == AF_UNSPEC || family == AF_INET6 {
                    addr6_msg(&mut out, &hdr, pid);
                }
                Ok(())
            }
            RTM_GETROUTE if dump => {
                if family == AF_UNSPEC || family == AF_INET {
                    route4_msgs(&mut out, &hdr, pid);
                }
                if family == AF_UNSPEC || family == AF_INET6 {
                    route6_msg(&mut out, &hdr, pid);
                }
                Ok(())
            }
            _ => Err(Errno::EOPNOTSUPP),
        };
        match r {
            Ok(()) if dump => {
                // NLMSG_DONE comes in a datagram of its own, except after
                // IPv6's link and address dumps, which finish in one go.
                let mut st = self.st.lock();
                if family != AF_INET6 || hdr.ty == RTM_GETROUTE {
                    st.push(core::mem::take(&mut out));
                }
                put_hdr(&mut out, 20, NLMSG_DONE, NLM_F_MULTI, hdr.seq, pid);
                out.extend_from_slice(&0i32.to_ne_bytes());
                st.push(out);
            }
            Ok(()) => {
                self.st.lock().push(out);
                if hdr.flags & NLM_F_ACK != 0 {
                    self.ack(msg, &hdr, 0);
                }
            }
            Err(e) => self.ack(msg, &hdr, -e.0),
        }
    }

    /// Queues an NLMSG_ERROR for `req` (an ack when `err` is 0): the error
    /// carries the whole request unless NETLINK_CAP_ACK, an ack only its
    /// header (netlink_ack).
    fn ack(&self, req: &[u8], hdr: &Hdr, err: i32) {
        let mut st = self.st.lock();
        let full = err != 0 && !st.cap_ack;
        let orig = if full {
            &req[..(hdr.len as usize).min(req.len())]
        } else {
            &req[..16]
        };
        let flags = if full { 0 } else { NLM_F_CAPPED };
        let mut m = Vec::new();
        put_hdr(
            &mut m,
            (16 + 4 + orig.len()) as u32,
            NLMSG_ERROR,
            flags,
            hdr.seq,
            st.pid,
        );
        m.extend_from_slice(&err.to_ne_bytes());
        m.extend_from_slice(orig);
        pad4(&mut m);
        st.push(m);
    }
}

/// A request's struct nlmsghdr.
struct Hdr {
    len: u32,
    ty: u16,
    flags: u16,
    seq: u32,
}

impl Hdr {
    fn parse(b: &[u8]) -> Hdr {
        Hdr {
            len: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            ty: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn put_hdr(v: &mut Vec<u8>, len: u32, ty: u16, flags: u16, seq: u32, pid: u32) {
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&pid.to_ne_bytes());
}

fn attr(v: &mut Vec<u8>, ty: u16, data: &[u8]) {
    v.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(data);
    pad4(v);
}

/// Appends one message of type `ty` whose body `body` builds.
fn message(
    out: &mut Vec<u8>,
    ty: u16,
    flags: u16,
    hdr: &Hdr,
    pid: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    let start = out.len();
    put_hdr(out, 0, ty, flags, hdr.seq, pid);
    body(out);
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

/// Whether a RTM_GETLINK request names "lo" in IFLA_IFNAME.
fn names_lo(payload: &[u8]) -> bool {
    let mut at = 16;
    while at + 4 <= payload.len() {
        let len = u16::from_ne_bytes([payload[at], payload[at + 1]]) as usize;
        let ty = u16::from_ne_bytes([payload[at + 2], payload[at + 3]]);
        if len < 4 || at + len > payload.len() {
            break;
        }
        if ty == 3 {
            let name = &payload[at + 4..at + len];
            let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            return &name[..end] == b"lo";
        }
        at += len.div_ceil(4) * 4;
    }
    false
}

/// RTM_NEWLINK for lo.
fn link_msg(out: &mut Vec<u8>, hdr: &Hdr, pid: u32, flags: u16, family: u16) {
    message(out, RTM_NEWLINK, flags, hdr, pid, |v| {
        // struct ifinfomsg
        v.extend_from_slice(&[family as u8, 0]);
        v.extend_from_slice(&ARPHRD_LOOPBACK.to_ne_bytes());
        v.extend_from_slice(&(LO_INDEX as i32).to_ne_bytes());
        v.extend_from_slice(&(LO_FLAGS | IFF_LOWER_UP).to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        attr(v, 3, b"lo\0"); // IFLA_IFNAME
        attr(v, 13, &LO_TXQLEN.to_ne_bytes()); // IFLA_TXQLEN
        attr(v, 16, &[0]); // IFLA_OPERSTATE: unknown, as lo
        attr(v, 17, &[0]); // IFLA_LINKMODE
        attr(v, 4, &LO_MTU.to_ne_bytes()); // IFLA_MTU
        attr(v, 27, &0u32.to_ne_bytes()); // IFLA_GROUP
        attr(v, 30, &0u32.to_ne_bytes()); // IFLA_PROMISCUITY
        attr(v, 31, &1u32.to_ne_bytes()); // IFLA_NUM_TX_QUEUES
        attr(v, 32, &1u32.to_ne_bytes()); // IFLA_NUM_RX_QUEUES
        attr(v, 33, &[1]); // IFLA_CARRIER
        attr(v, 1, &[0; 6]); // IFLA_ADDRESS
        attr(v, 2, &[0; 6]); // IFLA_BROADCAST
        attr(v, 6, b"noqueue\0"); // IFLA_QDISC
    });
}

/// IFA_CACHEINFO of a permanent address: lifetimes "forever".
fn cacheinfo() -> [u8; 16] {
    let mut c = [0u8; 16];
    c[..8].fill(0xff);
    c
}

/// RTM_NEWADDR for 127.0.0.1/8.
fn addr4_msg(out: &mut Vec<u8>, hdr: &Hdr, pid: u32) {
    message(out, RTM_NEWADDR, NLM_F_MULTI, hdr, pid, |v| {
        v.extend_from_slice(&[AF_INET as u8, 8, IFA_F_PERMANENT, RT_SCOPE_HOST]);
        v.extend_from_slice(&LO_INDEX.to_ne_bytes());
        attr(v, 1, &[127, 0, 0, 1]); // IFA_ADDRESS
        attr(v, 2, &[127, 0, 0, 1]); // IFA_LOCAL
        attr(v, 3, b"lo\0"); // IFA_LABEL
        attr(v, 8, &(IFA_F_PERMANENT as u32).to_ne_bytes()); // IFA_FLAGS
        attr(v, 6, &cacheinfo()); // IFA_CACHEINFO
    });
}

/// RTM_NEWADDR for ::1/128.
fn addr6_msg(out: &mut Vec<u8>, hdr: &Hdr, pid: u32) {
    message(out, RTM_NEWADDR, NLM_F_MULTI, hdr, pid, |v| {
        v.extend_from_slice(&[AF_INET6 as u8, 128, IFA_F_PERMANENT, RT_SCOPE_HOST]);
        v.extend_from_slice(&LO_INDEX.to_ne_bytes());
        let mut a = [0u8; 16];
        a[15] = 1;
        attr(v, 1, &a); // IFA_ADDRESS
        attr(v, 6, &cacheinfo()); // IFA_CACHEINFO
        attr(v, 8, &(IFA_F_PERMANENT as u32).to_ne_bytes()); // IFA_FLAGS
    });
}

/// The kernel's routes for lo, all in the local table (255): IPv4's local
/// 127.0.0.0/8, local 127.0.0.1 and broadcast 127.255.255.255.
fn route4_msgs(out: &mut Vec<u8>, hdr: &Hdr, pid: u32) {
    // (dst_len, scope, type, dst)
    let routes: [(u8, u8, u8, [u8; 4]); 3] = [
        (8, RT_SCOPE_HOST, 2, [127, 0, 0, 0]),
        (32, RT_SCOPE_HOST, 2, [127, 0, 0, 1]),
        (32, 253, 3, [127, 255, 255, 255]),
    ];
    for (dlen, scope, ty, dst) in routes {
        message(out, RTM_NEWROUTE, NLM_F_MULTI, hdr, pid, |v| {
            // struct rtmsg: family, dst_len, src_len, tos, table,
            // protocol (kernel), scope, type; flags.
            v.extend_from_slice(&[AF_INET as u8, dlen, 0, 0, 255, 2, scope, ty]);
            v.extend_from_slice(&0u32.to_ne_bytes());
            attr(v, 15, &255u32.to_ne_bytes()); // RTA_TABLE
            attr(v, 1, &dst); // RTA_DST
            attr(v, 7, &[127, 0, 0, 1]); // RTA_PREFSRC
            attr(v, 4, &LO_INDEX.to_ne_bytes()); // RTA_OIF
        });
    }
}

/// IPv6's local route for ::1.
fn route6_msg(out: &mut Vec<u8>, hdr: &Hdr, pid: u32) {
    message(out, RTM_NEWROUTE, NLM_F_MULTI, hdr, pid, |v| {
        v.extend_from_slice(&[AF_INET6 as u8, 128, 0, 0, 255, 2, 0, 2]);
        v.extend_from_slice(&0u32.to_ne_bytes());
        attr(v, 15, &255u32.to_ne_bytes()); // RTA_TABLE
        let mut a = [0u8; 16];
        a[15] = 1;
        attr(v, 1, &a); // RTA_DST
        attr(v, 6, &0u32.to_ne_bytes()); // RTA_PRIORITY
        attr(v, 4, &LO_INDEX.to_ne_bytes()); // RTA_OIF
    });
}

impl Socket for NetlinkSock {
    fn domain(&self) -> u16 {
        AF_NETLINK
    }
    fn sock_type(&self) -> u32 {
        self.ty
    }
    fn protocol(&self) -> u32 {
        NETLINK_ROUTE
    }

    fn bind(
        &self,
        cx: &mut SockCx<'_>,
        addr: &SockAddr,
        _node: Option<super::NodeId>,
    ) -> KResult<()> {
        let SockAddr::Netlink { pid, groups } = *addr else {
            return Err(Errno::EINVAL);
        };
        let cur = self.st.lock().pid;
        if cur != 0 {
            // Bound already: only the same id (groups may change).
            if pid != 0 && pid != cur {
                return Err(Errno::EINVAL);
            }
        } else if pid == 0 {
            self.autobind(cx.caller.pid);
        } else if self.pid_used(pid) {
            return Err(Errno::EADDRINUSE);
        } else {
            self.take_pid(pid);
        }
        self.st.lock().groups = groups;
        Ok(())
    }

    fn connect(
        &self,
        cx: &mut SockCx<'_>,
        addr: &SockAddr,
        _node: Option<super::NodeId>,
    ) -> KResult<()> {
        match addr {
            SockAddr::Unspec => Ok(()),
            SockAddr::Netlink { pid: 0, .. } => {
                self.autobind(cx.caller.pid);
                Ok(())
            }
            // Another process's socket: not provided.
            SockAddr::Netlink { .. } => Err(Errno::ECONNREFUSED),
            _ => Err(Errno::EINVAL),
        }
    }

    fn send(&self, cx: &mut SockCx<'_>, msg: SendMsg<'_>) -> KResult<usize> {
        match msg.to {
            None | Some((SockAddr::Netlink { pid: 0, groups: 0 }, _)) => {}
            Some((SockAddr::Netlink { pid: 0, .. }, _)) => return Err(Errno::EPERM),
            Some((SockAddr::Netlink { .. }, _)) => return Err(Errno::ECONNREFUSED),
            Some(_) => return Err(Errno::EINVAL),
        }
        if msg.flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        self.autobind(cx.caller.pid);
        let data = msg.data;
        let mut at = 0;
        while data.len().saturating_sub(at) >= 16 {
            let len =
                u32::from_ne_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
            if len < 16 || len > data.len() - at {
                break;
            }
            self.request(&data[at..at + len]);
            at += len.div_ceil(4) * 4;
        }
        Ok(data.len())
    }

    fn recv(&self, _cx: &mut SockCx<'_>, buf: &mut [u8], flags: u32) -> KResult<Received> {
        if flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.st.lock();
        if st.overrun {
            st.overrun = false;
            return Err(Errno::ENOBUFS);
        }
        let d = st.queue.front().ok_or(Errno::EAGAIN)?;
        let n = buf.len().min(d.len());
        buf[..n].copy_from_slice(&d[..n]);
        let full = d.len();
        if flags & MSG_PEEK == 0 {
            st.queued -= full;
            st.queue.pop_front();
        }
        Ok(Received {
            len: n,
            full,
            from: Some(SockAddr::Netlink { pid: 0, groups: 0 }),
            ..Default::default()
        })
    }

    fn shutdown(&self, _cx: &mut SockCx<'_>, _how: u32) -> KResult<()> {
        // Linux's netlink has no shutdown.
        Err(Errno::EOPNOTSUPP)
    }

    fn local_addr(&self) -> KResult<SockAddr> {
        let st = self.st.lock();
        Ok(SockAddr::Netlink {
            pid: st.pid,
            groups: st.groups,
        })
    }

    fn peer_addr(&self) -> KResult<SockAddr> {
        // The kernel is every netlink socket's default peer.
        Ok(SockAddr::Netlink { pid: 0, groups: 0 })
    }

    fn getsockopt(
        &self,
        _cx: &mut SockCx<'_>,
        level: u32,
        name: u32,
        _len: usize,
    ) -> KResult<Vec<u8>> {
        if level != SOL_NETLINK {
            return Err(Errno::ENOPROTOOPT);
        }
        let st = self.st.lock();
        match name {
            NETLINK_CAP_ACK => Ok((st.cap_ack as i32).to_ne_bytes().to_vec()),
            NETLINK_EXT_ACK | NETLINK_GET_STRICT_CHK => {
                Ok(st.opts[name as usize].to_ne_bytes().to_vec())
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn setsockopt(&self, _cx: &mut SockCx<'_>, level: u32, name: u32, val: &[u8]) -> KResult<()> {
        if level != SOL_NETLINK {
            return Err(Errno::ENOPROTOOPT);
        }
        if val.len() < 4 {
            return Err(Errno::EINVAL);
        }
        let v = i32::from_ne_bytes([val[0], val[1], val[2], val[3]]);
        let mut st = self.st.lock();
        match name {
            NETLINK_ADD_MEMBERSHIP | NETLINK_DROP_MEMBERSHIP => {
                // Groups 1..=32 show in nl_groups; no notification comes.
                if !(1..=32).contains(&v) {
                    return if v <= 0 { Err(Errno::EINVAL) } else { Ok(()) };
                }
                let bit = 1u32 << (v - 1);
                if name == NETLINK_ADD_MEMBERSHIP {
                    st.groups |= bit;
                } else {
                    st.groups &= !bit;
                }
            }
            NETLINK_CAP_ACK => st.cap_ack = v != 0,
            NETLINK_EXT_ACK | NETLINK_GET_STRICT_CHK => st.opts[name as usize] = (v != 0) as i32,
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn poll(&self, _io: &mut dyn IoCtx) -> PollEvents {
        let mut ev = PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        if !self.st.lock().queue.is_empty() {
            ev |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        ev
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(self.st.lock().wake)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockHost;

    #[test]
    fn dumps_end_with_done_and_unknown_requests_with_an_error() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let s = create(&net, SOCK_RAW, NETLINK_ROUTE).unwrap();
        let mut cx = SockCx {
            io: h,
            caller: super::super::Ucred {
                pid: 42,
                uid: 0,
                gid: 0,
            },
            scm: super::super::Ucred::default(),
            nonblock: true,
        };
        let mut req = Vec::new();
        put_hdr(&mut req, 24, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 9, 0);
        req.extend_from_slice(&[0; 8]);
        // A second request in the same send, then garbage that is ignored.
        put_hdr(&mut req, 24, 99, NLM_F_REQUEST, 10, 0);
        req.extend_from_slice(&[0; 8]);
        req.extend_from_slice(&[0xff; 7]);
        let msg = SendMsg {
            data: &req,
            to: None,
            anc: Vec::new(),
            flags: 0,
        };
        assert_eq!(s.send(&mut cx, msg), Ok(req.len()));
        assert_eq!(s.local_addr(), Ok(SockAddr::Netlink { pid: 42, groups: 0 }));
        let mut buf = [0u8; 4096];
        let mut types = Vec::new();
        while let Ok(r) = s.recv(&mut cx, &mut buf, 0) {
            let mut at = 0;
            while at + 16 <= r.len {
                let hdr = Hdr::parse(&buf[at..]);
                types.push((hdr.ty, hdr.seq));
                at += (hdr.len as usize).div_ceil(4) * 4;
            }
        }
        assert_eq!(
            types,
            [
                (RTM_NEWADDR, 9),
                (RTM_NEWADDR, 9),
                (NLMSG_DONE, 9),
                (NLMSG_ERROR, 10)
            ]
        );
        assert_eq!(
            create(&net, SOCK_RAW, 16).err(),
            Some(Errno::EPROTONOSUPPORT)
        );
    }

    /// Random requests (lengths, types, flags, truncated attributes) never
    /// panic, and the queue stays bounded.
    #[test]
    fn random_requests_do_not_panic() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let s = create(&net, SOCK_DGRAM, NETLINK_ROUTE).unwrap();
        let mut cx = SockCx {
            io: h,
            caller: super::super::Ucred::default(),
            scm: super::super::Ucred::default(),
            nonblock: true,
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 80) as usize;
            let mut req: Vec<u8> = (0..len).map(|i| (seed >> (i % 56)) as u8).collect();
            if len >= 16 && seed.is_multiple_of(3) {
                let n = ((seed >> 8) % (len as u64 + 8)) as u32;
                req[..4].copy_from_slice(&n.to_ne_bytes());
                let ty = [RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, 1, 99][(seed % 5) as usize];
                req[4..6].copy_from_slice(&ty.to_ne_bytes());
            }
            let msg = SendMsg {
                data: &req,
                to: None,
                anc: Vec::new(),
                flags: 0,
            };
            let _ = s.send(&mut cx, msg);
            if seed.is_multiple_of(7) {
                let mut buf = [0u8; 64];
                let _ = s.recv(&mut cx, &mut buf, (seed % 4) as u32 & MSG_PEEK);
            }
        }
        let st = s.as_any().downcast_ref::<NetlinkSock>().unwrap().st.lock();
        assert!(st.queued <= RCVBUF);
    }
}
