//! AF_INET and AF_INET6 sockets on the guest's own loopback, and the
//! interface ioctls every socket answers.
//!
//! There is no packet-level stack. The guest has one interface, `lo`, with
//! 127.0.0.1/8 and ::1/128; every address of 127.0.0.0/8 and ::1 is the
//! guest's. A TCP connect joins the two socket ends inside the kernel at
//! once: the listener's accept queue gets the server end, and the two ends
//! share a [`Pair`] of byte queues (one per direction, like a pipe pair). A
//! UDP send puts the datagram straight on the receiving socket's queue.
//!
//! What Linux does and this models:
//! - Addresses are kept as IPv6 addresses, IPv4 ones mapped (::ffff:a.b.c.d),
//!   so an AF_INET6 socket without IPV6_V6ONLY takes IPv4 connections and
//!   datagrams and sees its peers as mapped addresses.
//! - Ports: bind conflicts (EADDRINUSE) follow inet_csk_bind_conflict: two
//!   sockets clash on a port when their addresses overlap, unless both set
//!   SO_REUSEADDR and the one bound first is not listening (TCP; any state
//!   for UDP), or both set SO_REUSEPORT and belong to the same user.
//!   Connections to a SO_REUSEPORT group go round-robin.
//! - A FIN follows the data before it: it is sent once that data fits the
//!   peer's receive window ([`RCV_WINDOW`]); until then the end is in
//!   FIN_WAIT1 (or LAST_ACK), and in CLOSING if the peer's FIN comes
//!   meanwhile. A FIN is acked at once.
//! - TIME_WAIT ([`TwTable`]): an end that shut its sending before the
//!   other's FIN reached it enters TIME_WAIT once both FINs are sent (its
//!   socket, if still open, is then closed: not listed, no peer): the first
//!   to close, or both after a simultaneous close. An end closed after its
//!   FIN but before the other's waits in FIN_WAIT2 the same way. Either lasts
//!   60 s (TCP_TIMEWAIT_LEN, tcp_fin_timeout) of the kernel's clock, is
//!   listed in /proc/net/tcp with inode 0, and holds its port against
//!   bind(2) unless both it and the new socket have SO_REUSEADDR (or both
//!   SO_REUSEPORT). A reset ends it; a new connection from the same peer
//!   takes over the server side's, and a connect may reuse its own
//!   4-tuple's after 1 s (tcp_tw_reuse = 2 on loopback). At most
//!   net.ipv4.tcp_max_tw_buckets of them exist.
//! - Ephemeral ports come from Linux's range 32768-60999, in order, or
//!   from the socket's IP_LOCAL_PORT_RANGE where it falls in it; bind(2)
//!   of port 0 with none left is EADDRINUSE, a connect EADDRNOTAVAIL.
//! - The listen backlog: a listener holds at most backlog+1 connections
//!   not yet accepted (Linux's sk_acceptq_is_full). When it is full the
//!   SYN is dropped: a blocking connect waits until the server accepts, a
//!   non-blocking one answers EINPROGRESS and completes (POLLOUT) once there
//!   is room.
//! - A non-blocking connect answers EINPROGRESS even though the connection
//!   is made at once, as Linux does on loopback; the next connect answers 0,
//!   then EISCONN. A refused one answers EINPROGRESS and reports
//!   ECONNREFUSED through SO_ERROR and POLLERR.
//! - Close with unread data resets the connection: the peer's next call
//!   fails with ECONNRESET. A listener that stops resets the connections
//!   it did not accept, with no FIN after the reset.
//! - getsockopt(TCP_INFO): Linux's struct tcp_info ([`InetSock::tcp_info`]). Sending to a peer that has closed succeeds once
//!   (the peer answers with a reset), then fails with EPIPE.
//! - A connected UDP socket that sends to a port nobody has bound gets
//!   ECONNREFUSED on its next call (Linux learns it from the ICMP port
//!   unreachable, which loopback delivers at once); an unconnected one does
//!   not hear of it.
//! - Buffers: a stream direction holds [`STREAM_CAP`] bytes before the
//!   writer blocks; SIOCOUTQ reports what lies beyond the peer's receive
//!   window ([`RCV_WINDOW`]). A UDP socket queues [`UDP_RCVBUF`] bytes, and
//!   drops datagrams beyond that as Linux does.
//! - MSG_OOB (TCP urgent data), as Linux's tcp_check_urg, tcp_urg,
//!   tcp_recvmsg and tcp_recv_urg: a send with MSG_OOB makes its last byte
//!   the urgent one, and the receiver keeps one urgent mark (a newer one
//!   replaces it; the older byte then stays in the stream, or is dropped
//!   when the reader stands on it). A read stops at the mark and then skips
//!   the urgent byte unless SO_OOBINLINE; recv(MSG_OOB) takes it once
//!   (EINVAL when there is none, it was taken, or SO_OOBINLINE is on).
//!   SIOCATMARK, FIONREAD (bytes up to the mark), POLLPRI and the SIGURG
//!   count ([`Socket::urgent_marks`]) follow it. UDP refuses MSG_OOB sends
//!   (EOPNOTSUPP) and ignores it on receipt.
//! - Raw sockets (SOCK_RAW) are not provided: ESOCKTNOSUPPORT. ICMP
//!   datagram ("ping") sockets answer EACCES, as Linux does with its
//!   default net.ipv4.ping_group_range. AF_PACKET is EAFNOSUPPORT (net/mod.rs).
//!
//! Destinations outside the loopback are decided in one place, [`route`]:
//! with no host network they are unreachable (ENETUNREACH).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use spin::Mutex;
use umbra_abi::net::*;

use super::host::HostConn;
use super::{NetNs, Received, SendMsg, SockAddr, SockCx, Socket};
use super::{ASYNC_ERR, ASYNC_HUP, ASYNC_IN, ASYNC_OUT};
use crate::error::{Errno, KResult};
use crate::fs::vfs::{IoCtx, IoctlArg, PollEvents, Sleepers, WakeSeq};
use crate::host::HostSock;

/// Bytes one direction of a connection holds before the writer blocks
/// (Linux's loopback holds a few MB in the sender's and receiver's buffers).
pub const STREAM_CAP: usize = 2 << 20;
/// The part of [`STREAM_CAP`] counted as the receiver's buffer; the rest is
/// the sender's queue (SIOCOUTQ).
pub const RCV_WINDOW: usize = 1 << 20;
/// Bytes a UDP socket queues (Linux's default SO_RCVBUF, 212992).
pub const UDP_RCVBUF: usize = 212992;
/// What a queued datagram costs besides its payload (Linux counts an
/// skb's truesize), so empty datagrams cannot queue without bound.
const DGRAM_OVERHEAD: usize = 256;
/// Linux's ephemeral port range (net.ipv4.ip_local_port_range).
const EPHEMERAL: (u16, u16) = (32768, 60999);
/// Linux's net.core.somaxconn.
const SOMAXCONN: usize = 4096;
/// The MSS Linux reports on a loopback connection (MTU 65536 less the IP
/// and TCP headers and the timestamp option), and before one (TCP_MSS_DEFAULT).
const LO_MSS: i32 = 65483;
const DEFAULT_MSS: i32 = 536;
/// Largest UDP payload over IPv4 and IPv6.
const UDP_MAX4: usize = 65507;
const UDP_MAX6: usize = 65527;

/// TCP options (SOL_TCP).
const TCP_NODELAY: u32 = 1;
const TCP_MAXSEG: u32 = 2;
const TCP_CORK: u32 = 3;
const TCP_KEEPIDLE: u32 = 4;
const TCP_KEEPINTVL: u32 = 5;
const TCP_KEEPCNT: u32 = 6;
const TCP_SYNCNT: u32 = 7;
const TCP_LINGER2: u32 = 8;
const TCP_DEFER_ACCEPT: u32 = 9;
const TCP_WINDOW_CLAMP: u32 = 10;
const TCP_QUICKACK: u32 = 12;
const TCP_USER_TIMEOUT: u32 = 18;
const TCP_NOTSENT_LOWAT: u32 = 25;
const TCP_INFO: u32 = 11;
/// The size of Linux's struct tcp_info (6.18: through the AccECN counters).
const TCP_INFO_LEN: usize = 280;
/// IP options (SOL_IP) and IPv6 options (SOL_IPV6) remembered here.
const IP_TOS: u32 = 1;
const IP_TTL: u32 = 2;
const IP_RECVERR: u32 = 11;
/// The socket's own ephemeral port range: min in the low 16 bits, max in
/// the high ones, 0 for none (Linux 6.3).
const IP_LOCAL_PORT_RANGE: u32 = 51;
const IPV6_UNICAST_HOPS: u32 = 16;
const IPV6_V6ONLY: u32 = 26;
const IPV6_RECVERR: u32 = 25;

/// An address as IPv6 bytes; IPv4 addresses are mapped (::ffff:a.b.c.d).
pub type Ip = [u8; 16];

/// TCP_TIMEWAIT_LEN, and tcp_fin_timeout's default: 60 s.
const TIMEWAIT_NS: u64 = 60_000_000_000;
/// net.ipv4.tcp_max_tw_buckets of a new network namespace.
const MAX_TW: usize = 131_072;
/// tcp_tw_reuse = 2: a connect over loopback may take over its own
/// 4-tuple's TIME_WAIT once it is a second old.
const TW_REUSE_NS: u64 = 1_000_000_000;

/// What a connection's end leaves behind in TIME_WAIT (or FIN_WAIT2 after
/// its close): Linux's inet_timewait_sock.
#[derive(Clone, Copy, Debug, Default)]
struct End {
    family: u16,
    v6only: bool,
    local: (Ip, u16),
    peer: (Ip, u16),
    /// SO_REUSEADDR and SO_REUSEPORT of the socket (tw_reuse).
    reuse: bool,
    reuseport: bool,
}

#[derive(Clone, Copy, Debug)]
struct TimeWait {
    end: End,
    /// TCP_FIN_WAIT2 or TCP_TIME_WAIT (tw_substate).
    state: u8,
    /// When it entered its state and when it goes (kernel clock, ns).
    since: u64,
    expires: u64,
}

/// The key of a connection end's addresses in [`TwTable::by_addr`]: the
/// local port, the peer port and a 32-bit hash (FNV-1a) of the two IPs, so
/// that the ends on one local port are one range of the index, and those
/// of one 4-tuple one range within it (two 4-tuples that share the ports
/// and the hash share the range, and are told apart by their entries).
fn addr_key(local: &(Ip, u16), peer: &(Ip, u16)) -> u64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in local.0.iter().chain(peer.0.iter()) {
        h = (h ^ *b as u32).wrapping_mul(0x0100_0193);
    }
    ((local.1 as u64) << 48) | ((peer.1 as u64) << 32) | h as u64
}

/// The guest's TIME_WAIT (and orphaned FIN_WAIT2) connection ends, keyed
/// by connection id * 2 + side, with indexes by expiry and by addresses
/// ([`addr_key`]). The two indexes are sets of the same type, so alloc's
/// B-tree code is there once for both.
#[derive(Default)]
struct TwTable {
    entries: BTreeMap<u64, TimeWait>,
    /// (addr_key, key) of every entry.
    by_addr: BTreeSet<(u64, u64)>,
    /// (expires, key) of every entry.
    by_expiry: BTreeSet<(u64, u64)>,
}

impl TwTable {
    /// Forgets the ends whose time has passed.
    fn prune(&mut self, now: u64) {
        while let Some(&(exp, key)) = self.by_expiry.first() {
            if exp > now {
                break;
            }
            self.remove(key);
        }
    }

    fn remove(&mut self, key: u64) {
        let Some(tw) = self.entries.remove(&key) else {
            return;
        };
        self.by_expiry.remove(&(tw.expires, key));
        self.by_addr
            .remove(&(addr_key(&tw.end.local, &tw.end.peer), key));
    }

    /// The end with these local and peer addresses.
    fn find(&self, local: (Ip, u16), peer: (Ip, u16)) -> Option<(u64, TimeWait)> {
        let a = addr_key(&local, &peer);
        self.by_addr
            .range((a, 0)..=(a, u64::MAX))
            .filter_map(|(_, k)| Some((*k, *self.entries.get(k)?)))
            .find(|(_, t)| t.end.local == local && t.end.peer == peer)
    }

    /// Puts `end` in `state` for 60 s from `now` (replacing what the key
    /// had). A full table takes no new end (the connection just closes).
    fn put(&mut self, key: u64, end: End, state: u8, now: u64) {
        self.prune(now);
        let had = self.entries.contains_key(&key);
        if !had && self.entries.len() >= MAX_TW {
            return;
        }
        self.remove(key);
        if let Some((old, _)) = self.find(end.local, end.peer) {
            self.remove(old);
        }
        let expires = now.saturating_add(TIMEWAIT_NS);
        self.entries.insert(
            key,
            TimeWait {
                end,
                state,
                since: now,
                expires,
            },
        );
        self.by_expiry.insert((expires, key));
        self.by_addr.insert((addr_key(&end.local, &end.peer), key));
    }

    /// The ends on local port `port`.
    fn on_port(&self, port: u16) -> impl Iterator<Item = &TimeWait> {
        let lo = (port as u64) << 48;
        let hi = lo | ((1 << 48) - 1);
        self.by_addr
            .range((lo, 0)..=(hi, u64::MAX))
            .filter_map(|(_, k)| self.entries.get(k))
    }
}

/// Ids of connections (for TIME_WAIT keys).
static NEXT_CONN: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// 0.0.0.0, mapped.
const ANY4: Ip = mapped([0, 0, 0, 0]);
/// ::
const ANY6: Ip = [0; 16];
/// ::1
const LOOP6: Ip = {
    let mut a = [0; 16];
    a[15] = 1;
    a
};
const LOOP4: Ip = mapped([127, 0, 0, 1]);

const fn mapped(a: [u8; 4]) -> Ip {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3],
    ]
}

fn is_v4(ip: &Ip) -> bool {
    ip[..12] == ANY4[..12]
}

fn v4_of(ip: &Ip) -> [u8; 4] {
    [ip[12], ip[13], ip[14], ip[15]]
}

/// Whether `ip` is one of the guest's own addresses (127.0.0.0/8, ::1).
fn is_local(ip: &Ip) -> bool {
    (is_v4(ip) && ip[12] == 127) || *ip == LOOP6
}

/// Where a packet to `dst` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The guest's own loopback.
    Loopback,
    /// Nowhere: ENETUNREACH.
    Unreachable,
}

/// Decides where a destination is: the one place a non-loopback address is
/// recognised. `dst` is already normalised (INADDR_ANY and :: mean the
/// loopback). Host networking (`--net host`, net/host.rs) plugs in here:
/// connect and sendto to a destination this calls Unreachable are where a
/// host-backed socket would take over.
pub fn route(dst: &Ip) -> Route {
    if is_local(dst) {
        Route::Loopback
    } else {
        Route::Unreachable
    }
}

/// The address a connection or datagram to `dst` leaves from when the
/// socket is bound to a wildcard: 127.0.0.1 for 127.0.0.0/8 (lo's preferred
/// source), ::1 for ::1.
fn source_for(dst: &Ip) -> Ip {
    if is_v4(dst) {
        LOOP4
    } else {
        LOOP6
    }
}

/// Which addresses a bound socket covers: its IPv4 part and its IPv6 part,
/// each none, all (None) or one address.
type Scope = (Option<Option<Ip>>, Option<Option<Ip>>);

fn scope(local: &Ip, v6only: bool) -> Scope {
    if *local == ANY4 {
        (Some(None), None)
    } else if is_v4(local) {
        (Some(Some(*local)), None)
    } else if *local == ANY6 {
        (if v6only { None } else { Some(None) }, Some(None))
    } else {
        (None, Some(Some(*local)))
    }
}

fn part_overlaps(a: Option<Option<Ip>>, b: Option<Option<Ip>>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.is_none() || y.is_none() || x == y,
        _ => false,
    }
}

/// How well a socket bound to `local` matches destination `dst`: 0 no, 1
/// wildcard, 2 exact.
fn match_score(local: &Ip, v6only: bool, dst: &Ip) -> u32 {
    if local == dst {
        return 2;
    }
    let (v4, v6) = scope(local, v6only);
    let part = if is_v4(dst) { v4 } else { v6 };
    match part {
        Some(None) => 1,
        _ => 0,
    }
}

/// The guest's IP state: the sockets that hold a port, and the next
/// ephemeral port to try.
#[derive(Default)]
pub struct InetNs {
    socks: Mutex<Vec<Weak<InetSock>>>,
    next_port: Mutex<u16>,
    /// Round-robin counter for SO_REUSEPORT groups.
    rr: Mutex<usize>,
    /// lo's traffic: (packets, bytes), what goes out comes back in.
    stats: Mutex<(u64, u64)>,
    /// TIME_WAIT ends.
    tw: Mutex<TwTable>,
    /// The kernel's clock at its last trap (ns), for TIME_WAIT.
    now: AtomicU64,
}

impl InetNs {
    /// The kernel tells the network the time (at each trap): closes that
    /// happen then start their TIME_WAIT from it.
    pub fn note_time(&self, now: u64) {
        self.now.store(now, Ordering::Relaxed);
    }

    fn now(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }

    /// Side `side` of connection `id` enters `state` (TIME_WAIT, or
    /// FIN_WAIT2 after its close) with the addresses `end`.
    fn tw_put(&self, id: u64, side: usize, end: End, state: u8) {
        let now = self.now();
        self.tw.lock().put(id * 2 + side as u64, end, state, now);
    }

    /// Side `side` of connection `id` was reset: its TIME_WAIT ends.
    fn tw_kill(&self, id: u64, side: usize) {
        self.tw.lock().remove(id * 2 + side as u64);
    }

    /// Counts one send of `len` payload bytes on lo.
    fn count(&self, len: usize) {
        let mut s = self.stats.lock();
        s.0 += 1;
        s.1 += len as u64;
    }
}

/// The SIGIO an O_ASYNC description of a TCP or UDP socket is due, counted
/// by reason ([`ASYNC_IN`], `ASYNC_OUT`, `ASYNC_HUP`, `ASYNC_ERR`) where
/// Linux calls sk_wake_async, and the flags that gate them. Shared by the
/// socket and its connection's [`Pair`].
#[derive(Default)]
struct Sigio {
    n: [AtomicU64; 4],
    /// SOCKWQ_ASYNC_NOSPACE: a send found the buffer full, so the room that
    /// the peer's reads make is signalled once (SOCK_WAKE_SPACE).
    nospace: AtomicBool,
    /// Readers asleep in a TCP receive (SOCKWQ_ASYNC_WAITDATA).
    sleepers: Arc<Sleepers>,
}

impl Sigio {
    /// SOCK_WAKE_IO: always signalled.
    fn io(&self, why: usize) {
        self.add(why, 1);
    }

    /// SOCK_WAKE_WAITD (sock_def_readable, tcp_fin): `times` signals of
    /// `why`, none while a reader sleeps on the socket.
    fn waitd(&self, why: usize, times: u64) {
        if !self.sleepers.any() {
            self.add(why, times);
        }
    }

    /// SOCK_WAKE_SPACE (sk_stream_write_space): POLL_OUT once room is made
    /// after a send found none.
    fn space(&self) {
        if self.nospace.swap(false, Ordering::Relaxed) {
            self.add(ASYNC_OUT, 1);
        }
    }

    fn add(&self, why: usize, times: u64) {
        if let Some(n) = self.n.get(why) {
            n.fetch_add(times, Ordering::Relaxed);
        }
    }
}

/// The two directions of a TCP connection. Side `i` reads `q[i]` and writes
/// `q[1 - i]`.
#[derive(Default)]
struct Pair {
    q: [VecDeque<u8>; 2],
    /// Side i shut its sending (shutdown SHUT_WR, or close): Linux's
    /// SEND_SHUTDOWN. Its FIN follows its data ([`Pair::flush_fin`]).
    shut: [bool; 2],
    /// Side i's FIN was sent: the data before it fitted the peer's window.
    fin: [bool; 2],
    /// Side i shut its sending before the peer's FIN reached it (FIN_WAIT1,
    /// FIN_WAIT2, CLOSING): it waits in TIME_WAIT once both FINs are sent,
    /// where an end that shut after the peer's FIN (LAST_ACK) just closes.
    /// Both do after a simultaneous close.
    tw: [bool; 2],
    /// Side i has closed: data sent to it makes it answer with a reset.
    gone: [bool; 2],
    /// Side i was reset: its connection is over (TCP_CLOSE).
    rst: [bool; 2],
    /// Side i shut its reading half.
    rdshut: [bool; 2],
    /// A pending error of side i (sk_err), reported once.
    err: [Option<Errno>; 2],
    /// Side i's wake-ups, for edge-triggered epoll.
    wake: [WakeSeq; 2],
    /// Bytes side i has taken from `q[i]` (read or skipped): Linux's
    /// copied_seq, counted from 0, so `copied[i] + q[i].len()` is rcv_nxt.
    copied: [u64; 2],
    /// Side i's urgent mark (Linux's urg_data and urg_seq).
    urg: [Urg; 2],
    /// Side i has SO_OOBINLINE.
    inline: [bool; 2],
    /// Urgent marks side i received (each one raises SIGURG).
    marks: [u64; 2],
    /// The connection's id (TIME_WAIT keys), and each side's addresses
    /// for its TIME_WAIT.
    id: u64,
    ends: [End; 2],
    /// Each side's socket's SIGIO counts.
    sigio: [Arc<Sigio>; 2],
    /// Data segments side i received (tcpi_data_segs_in), and its estimate
    /// of the peer's MSS (icsk_ack.rcv_mss; 0 before a segment raised it
    /// from TCP_MSS_DEFAULT).
    segs: [u64; 2],
    rcv_mss: [u32; 2],
}

/// The urgent mark of one direction of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Urg {
    #[default]
    None,
    /// The byte at this offset of the stream is urgent and not taken yet.
    Valid(u64, u8),
    /// recv(MSG_OOB) took it; the in-band reader still skips it.
    Read(u64),
}

impl Urg {
    fn seq(self) -> Option<u64> {
        match self {
            Urg::None => None,
            Urg::Valid(s, _) | Urg::Read(s) => Some(s),
        }
    }
}

impl Pair {
    /// An urgent mark reaches side `r`: the byte `q[r]` just got last
    /// (tcp_check_urg then tcp_urg). A reader standing on an older urgent
    /// byte it does not read inline loses it; the new mark replaces the
    /// old one.
    fn mark_urgent(&mut self, r: usize, before: usize) {
        let Some(&byte) = self.q[r].back() else {
            return;
        };
        let at = self.copied[r] + self.q[r].len() as u64 - 1;
        if self.urg[r].seq() == Some(self.copied[r]) && !self.inline[r] && before > 0 {
            self.q[r].pop_front();
            self.copied[r] += 1;
        }
        self.urg[r] = Urg::Valid(at, byte);
        self.marks[r] += 1;
    }

    /// Whether side `r`'s next byte is an urgent one it does not read
    /// inline (a read skips it).
    fn on_hidden_mark(&self, r: usize) -> bool {
        !self.inline[r] && self.urg[r].seq() == Some(self.copied[r])
    }

    /// Bytes side `r` may read before its next stop: all of them, or those
    /// up to an urgent mark ahead.
    fn readable(&self, r: usize) -> usize {
        match self.urg[r].seq() {
            Some(s) if s > self.copied[r] => ((s - self.copied[r]) as usize).min(self.q[r].len()),
            _ => self.q[r].len(),
        }
    }

    /// Side `x` shuts its sending (shutdown SHUT_WR, or close): its FIN
    /// is queued behind its data (tcp_send_fin).
    fn shut_write(&mut self, net: &InetNs, x: usize) {
        if self.shut[x] {
            return;
        }
        self.shut[x] = true;
        self.tw[x] = !self.fin[1 - x];
        self.flush_fin(net, x);
    }

    /// Side `x`'s queued FIN goes once the data before it fits the peer's
    /// receive window ([`RCV_WINDOW`]); an end closed meanwhile then waits
    /// in FIN_WAIT2 or TIME_WAIT.
    fn flush_fin(&mut self, net: &InetNs, x: usize) {
        if self.shut[x] && !self.fin[x] && !self.rst[x] && self.q[1 - x].len() <= RCV_WINDOW {
            self.send_fin(net, x);
            if self.gone[x] {
                self.orphan(net, x);
            }
        }
    }

    /// Side `x`'s FIN reaches the peer (which acks it at once); the second
    /// FIN puts each end that shut before the other's FIN reached it in
    /// TIME_WAIT: the first closer, or both after a simultaneous close
    /// (the end in CLOSING as its FIN is acked).
    fn send_fin(&mut self, net: &InetNs, x: usize) {
        if self.fin[x] {
            return;
        }
        self.fin[x] = true;
        let r = 1 - x;
        if !self.gone[r] && !self.rst[r] {
            // tcp_fin: POLL_HUP once the receiver has shut its own sending
            // (or is closing), POLL_IN for a half close; then tcp_data_ready
            // (SOCK_DONE) signals POLL_IN.
            let why = if self.shut[r] { ASYNC_HUP } else { ASYNC_IN };
            self.sigio[r].waitd(why, 1);
            self.sigio[r].waitd(ASYNC_IN, 1);
        }
        if self.fin[r] {
            for y in [r, x] {
                if self.tw[y] && !self.rst[y] {
                    net.tw_put(self.id, y, self.ends[y], TCP_TIME_WAIT);
                }
            }
        } else if self.gone[r] {
            // An orphan whose FIN waits meets ours: CLOSING or LAST_ACK.
            self.orphan(net, r);
        }
    }

    /// Side `i`'s TCP state (tcpi_state, /proc/net/tcp's st). The peer
    /// acks a FIN at once.
    fn state(&self, i: usize) -> u8 {
        if self.rst[i] {
            return TCP_CLOSE;
        }
        match (self.shut[i], self.fin[i], self.fin[1 - i]) {
            (false, _, false) => TCP_ESTABLISHED,
            (false, _, true) => TCP_CLOSE_WAIT,
            (true, false, false) => TCP_FIN_WAIT1,
            (true, false, true) if self.tw[i] => TCP_CLOSING,
            (true, false, true) => TCP_LAST_ACK,
            (true, true, false) => TCP_FIN_WAIT2,
            (true, true, true) => TCP_CLOSE,
        }
    }

    /// Side `x`'s last descriptor has closed (or its state moved since):
    /// an orphan that has not finished closing stays listed and holds its
    /// port, as Linux's orphaned socket: FIN_WAIT1, CLOSING or LAST_ACK
    /// while its FIN waits, FIN_WAIT2 after it until the other's FIN
    /// (tcp_close's tcp_time_wait(TCP_FIN_WAIT2)); a LAST_ACK end whose FIN
    /// went is gone.
    fn orphan(&mut self, net: &InetNs, x: usize) {
        if self.rst[x] {
            return;
        }
        match self.state(x) {
            st @ (TCP_FIN_WAIT1 | TCP_CLOSING | TCP_LAST_ACK | TCP_FIN_WAIT2) => {
                net.tw_put(self.id, x, self.ends[x], st);
            }
            TCP_CLOSE if !self.tw[x] => net.tw_kill(self.id, x),
            _ => {}
        }
    }

    /// Both ends sent their FIN: the connection is over for both sockets
    /// (the first is in TIME_WAIT, the other closed after LAST_ACK).
    fn closed(&self) -> bool {
        self.fin[0] && self.fin[1]
    }

    /// Resets side `i`'s connection with `e` (what its next call reports).
    fn reset(&mut self, i: usize, e: Errno) {
        if !self.rst[i] && !self.gone[i] {
            self.rst[i] = true;
            self.err[i] = Some(e);
            self.wake[i].wake_all();
            // tcp_reset's sk_error_report.
            self.sigio[i].io(ASYNC_ERR);
        }
    }

    /// Side `r` took bytes from its queue: its peer's sends may have room
    /// again (sk_stream_write_space: the free space is at least half what
    /// is queued, and the peer still sends).
    fn room_made(&self, r: usize) {
        if self.q[r].len() * 3 <= STREAM_CAP * 2 && !self.shut[1 - r] {
            self.sigio[1 - r].space();
        }
    }
}

/// What a socket is doing.
enum Conn {
    /// Not connected (a fresh TCP socket, or any UDP socket).
    Idle,
    Listen {
        backlog: usize,
        queue: VecDeque<Arc<InetSock>>,
    },
    /// A non-blocking connect waiting for room in the listener's backlog.
    Connecting { to: (Ip, u16) },
    Connected {
        pair: Arc<Mutex<Pair>>,
        side: usize,
        /// A non-blocking connect not yet confirmed by a second connect.
        unconfirmed: bool,
    },
    /// A non-blocking connect that was refused (until connect or SO_ERROR).
    Failed,
}

/// A datagram waiting on a UDP socket.
struct Datagram {
    from: (Ip, u16),
    data: Vec<u8>,
}

struct St {
    /// The bound address and port (None: unbound).
    local: Option<(Ip, u16)>,
    /// The user bound the port or the address (bind(2)), so a UDP
    /// disconnect keeps them. A port picked by bind(2) itself (port 0) is
    /// not locked (Linux sets SOCK_BINDPORT_LOCK for a named port only).
    port_locked: bool,
    addr_locked: bool,
    /// The address bind(2) named, kept by a UDP socket whose disconnect
    /// gave its port back (__udp_disconnect: inet_sport 0, inet_rcv_saddr
    /// kept): getsockname shows it, and the next autobind takes it.
    kept_ip: Option<Ip>,
    /// A TCP connect(AF_UNSPEC) gave the port back (Linux's inet_num 0
    /// after tcp_disconnect): getsockname still shows it (inet_sport), but
    /// the next connect or bind takes a port anew.
    released: bool,
    /// The peer (TCP connected, or UDP's default destination).
    peer: Option<(Ip, u16)>,
    conn: Conn,
    /// A pending error (sk_err) outside a connection.
    err: Option<Errno>,
    /// UDP's received datagrams and their byte count.
    dgrams: VecDeque<Datagram>,
    dbytes: usize,
    /// shutdown() of an unconnected-stream socket (UDP): RCV, SEND.
    shut: [bool; 2],
    reuseaddr: bool,
    reuseport: bool,
    keepalive: bool,
    broadcast: bool,
    /// SO_OOBINLINE (kept in the connection's [`Pair`] too).
    oobinline: bool,
    /// SO_LINGER on with 0 s: close resets the connection (tcp_close's
    /// disconnect), leaving no TIME_WAIT.
    linger_abort: bool,
    v6only: bool,
    /// The owner for SO_REUSEPORT (the binder's uid).
    uid: u32,
    /// SOL_TCP options, by number; 0 is "default" for those that have one.
    tcp: [i32; 32],
    ip_tos: i32,
    ttl: i32,
    recverr: bool,
    /// IP_LOCAL_PORT_RANGE as set (0: none).
    port_range: u32,
    /// Wake-ups outside a connection (listener, UDP, connect results).
    wake: WakeSeq,
}

/// An AF_INET or AF_INET6 socket, TCP or UDP.
pub struct InetSock {
    net: Arc<NetNs>,
    me: Weak<InetSock>,
    family: u16,
    udp: bool,
    st: Mutex<St>,
    /// Under `--net host`, a socket that connects or sends outside the
    /// loopback is carried by a host socket from then on (net/host.rs).
    host: Mutex<Option<Arc<HostConn>>>,
    /// The inode number of the descriptor's socket (0 before it has one),
    /// for /proc/net/tcp and udp.
    ino: AtomicU64,
    /// The SIGIO it is due (shared with its connection).
    sigio: Arc<Sigio>,
    /// SO_RCVLOWAT (sk_rcvlowat): the bytes tcp_poll wants queued before
    /// it reports POLLIN.
    rcvlowat: AtomicUsize,
}

/// `--publish`: hands a connection that a host client made to umbra's
/// listener for `port` to the guest's TCP listener on that port (as a
/// connection to 127.0.0.1:`port` from `peer`). Returns it back when no
/// guest socket listens there or its backlog is full (the host side then
/// closes it, as a refused connection).
pub fn deliver_published(
    net: &Arc<NetNs>,
    port: u16,
    conn: HostSock,
    peer: SockAddr,
) -> Result<(), HostSock> {
    let probe = new_sock(net, AF_INET, false);
    let Some(listener) = probe.find_listener(&(LOOP4, port)) else {
        return Err(conn);
    };
    {
        let st = listener.st.lock();
        match &st.conn {
            Conn::Listen { backlog, queue } if queue.len() <= *backlog => {}
            _ => return Err(conn),
        }
    }
    let peer_ip = match &peer {
        SockAddr::Inet { addr, port } => (mapped(*addr), *port),
        SockAddr::Inet6 { addr, port, .. } => (*addr, *port),
        _ => (ANY4, 0),
    };
    let child = new_sock(net, listener.family, false);
    let local = child.addr_of(&LOOP4, port);
    let shown_peer = child.addr_of(&peer_ip.0, peer_ip.1);
    {
        let lst = listener.st.lock();
        let mut cst = child.st.lock();
        cst.local = Some((LOOP4, port));
        cst.peer = Some(peer_ip);
        child.clone_opts(&listener, &lst, &mut cst);
    }
    *child.host.lock() = Some(super::host::accepted(
        net,
        conn,
        listener.family,
        local,
        shown_peer,
    ));
    let mut lst = listener.st.lock();
    if let Conn::Listen { queue, .. } = &mut lst.conn {
        queue.push_back(child);
    }
    lst.wake.wake_input();
    drop(lst);
    listener.sigio.waitd(ASYNC_IN, 1);
    Ok(())
}

/// `--publish HOSTPORT:GUESTPORT/udp`: the guest side of one host client's
/// flow, a UDP socket on 127.0.0.1 with an ephemeral port, connected to
/// 127.0.0.1:`port` (as docker-proxy's UDP proxy dials its backend). The
/// client's datagrams reach the guest from this stable source, and only the
/// guest's datagrams to it from 127.0.0.1:`port` come back.
pub fn publish_flow(net: &Arc<NetNs>, port: u16) -> KResult<Arc<InetSock>> {
    let s = new_sock(net, AF_INET, true);
    s.udp_connect(&SockAddr::Inet {
        addr: [127, 0, 0, 1],
        port,
    })?;
    Ok(s)
}

/// A published flow's datagram from its host client, to the guest's port.
/// A guest port nobody holds drops it (and the flow's next receive reports
/// ECONNREFUSED, which the caller ignores).
pub fn flow_send(s: &InetSock, data: &[u8]) -> KResult<usize> {
    s.udp_send(&SendMsg {
        data,
        to: None,
        anc: Vec::new(),
        flags: 0,
    })
}

/// The next reply the guest sent to a published flow: its length in `buf`
/// (EAGAIN when none is queued).
pub fn flow_recv(s: &InetSock, buf: &mut [u8]) -> KResult<usize> {
    s.udp_recv(buf, 0).map(|r| r.len)
}

/// socket(AF_INET or AF_INET6, ty, protocol).
pub fn create(net: &Arc<NetNs>, domain: u16, ty: u32, protocol: u32) -> KResult<Arc<dyn Socket>> {
    let udp = match ty {
        SOCK_STREAM if protocol == 0 || protocol == IPPROTO_TCP => false,
        SOCK_DGRAM if protocol == 0 || protocol == IPPROTO_UDP => true,
        SOCK_STREAM => return Err(Errno::EPROTONOSUPPORT),
        // Ping sockets: Linux's default ping_group_range admits nobody.
        SOCK_DGRAM if protocol == IPPROTO_ICMP && domain == AF_INET => return Err(Errno::EACCES),
        SOCK_DGRAM if protocol == IPPROTO_ICMPV6 && domain == AF_INET6 => {
            return Err(Errno::EACCES)
        }
        SOCK_DGRAM => return Err(Errno::EPROTONOSUPPORT),
        // socket(2) checks the type's range before the family does.
        t if t > SOCK_PACKET => return Err(Errno::EINVAL),
        _ => return Err(Errno::ESOCKTNOSUPPORT),
    };
    Ok(new_sock(net, domain, udp))
}

fn new_sock(net: &Arc<NetNs>, family: u16, udp: bool) -> Arc<InetSock> {
    Arc::new_cyclic(|me| InetSock {
        net: net.clone(),
        me: me.clone(),
        family,
        udp,
        st: Mutex::new(St {
            local: None,
            port_locked: false,
            addr_locked: false,
            kept_ip: None,
            released: false,
            peer: None,
            conn: Conn::Idle,
            err: None,
            dgrams: VecDeque::new(),
            dbytes: 0,
            shut: [false; 2],
            reuseaddr: false,
            reuseport: false,
            keepalive: false,
            broadcast: false,
            oobinline: false,
            linger_abort: false,
            v6only: false,
            uid: 0,
            tcp: [0; 32],
            ip_tos: 0,
            ttl: -1,
            recverr: false,
            port_range: 0,
            wake: WakeSeq::default(),
        }),
        host: Mutex::new(None),
        ino: AtomicU64::new(0),
        sigio: Arc::default(),
        rcvlowat: AtomicUsize::new(1),
    })
}

impl InetSock {
    /// The host socket carrying this one, if any (`--net host`).
    fn host(&self) -> Option<Arc<HostConn>> {
        self.host.lock().clone()
    }

    /// Connects through a host socket to `dst`, outside the loopback
    /// (ENETUNREACH unless `--net host`); it carries this socket from now on.
    fn host_connect(&self, cx: &mut SockCx<'_>, dst: &(Ip, u16)) -> KResult<()> {
        let to = self.addr_of(&dst.0, dst.1);
        let (ty, proto) = if self.udp {
            (SOCK_DGRAM, IPPROTO_UDP)
        } else {
            (SOCK_STREAM, IPPROTO_TCP)
        };
        let h = super::host::connect(cx, &self.net, self.family, ty, proto, &to, to.clone())?;
        *self.host.lock() = Some(h.clone());
        h.first_connect(cx)
    }

    /// The destination of `a` when it is outside the loopback.
    fn outside(&self, a: &SockAddr) -> Option<(Ip, u16)> {
        if *a == SockAddr::Unspec {
            return None;
        }
        let dst = self.dest(&self.st.lock(), a).ok()?;
        (route(&dst.0) != Route::Loopback).then_some(dst)
    }

    /// The guest's address of a sockaddr given to this socket, checked as
    /// Linux's inet_bind/inet6_bind and the connects do: the family must be
    /// the socket's (an AF_INET6 socket takes only sockaddr_in6, whose
    /// length check comes first).
    fn ip_of(&self, a: &SockAddr) -> KResult<(Ip, u16)> {
        match (self.family, a) {
            (AF_INET, SockAddr::Inet { addr, port }) => Ok((mapped(*addr), *port)),
            (AF_INET6, SockAddr::Inet6 { addr, port, .. }) => Ok((*addr, *port)),
            // A sockaddr_in is shorter than SIN6_LEN_RFC2133.
            (AF_INET6, SockAddr::Inet { .. }) => Err(Errno::EINVAL),
            _ => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// The sockaddr of `ip`/`port` in this socket's family.
    fn addr_of(&self, ip: &Ip, port: u16) -> SockAddr {
        if self.family == AF_INET {
            SockAddr::Inet {
                addr: v4_of(ip),
                port,
            }
        } else {
            SockAddr::Inet6 {
                addr: *ip,
                port,
                flowinfo: 0,
                scope_id: 0,
            }
        }
    }

    fn any(&self) -> Ip {
        if self.family == AF_INET {
            ANY4
        } else {
            ANY6
        }
    }

    /// The destination a connect or sendto names, normalised: the wildcard
    /// means the loopback (Linux routes INADDR_ANY and :: to it).
    fn dest(&self, st: &St, a: &SockAddr) -> KResult<(Ip, u16)> {
        let (mut ip, port) = self.ip_of(a)?;
        if self.family == AF_INET6 && is_v4(&ip) && st.v6only {
            return Err(Errno::ENETUNREACH);
        }
        if ip == ANY4 {
            ip = LOOP4;
        } else if ip == ANY6 {
            ip = LOOP6;
        }
        Ok((ip, port))
    }

    /// The live sockets of the same protocol that hold a port, other than
    /// this one (dead entries are dropped).
    fn others(&self) -> Vec<Arc<InetSock>> {
        let mut socks = self.net.inet.socks.lock();
        socks.retain(|w| w.strong_count() > 0);
        socks
            .iter()
            .filter(|w| !Weak::ptr_eq(w, &self.me))
            .filter_map(Weak::upgrade)
            .filter(|s| s.udp == self.udp)
            .collect()
    }

    /// Whether this socket's port keeps others from it. A TCP socket whose
    /// connection is over (both FINs, or a reset) does not unless bind(2)
    /// chose the port: Linux's tcp_set_state(TCP_CLOSE) puts it back, and
    /// only a TIME_WAIT end holds it then.
    fn holds_port(st: &St) -> bool {
        if st.local.is_none() {
            return false;
        }
        if st.port_locked {
            return true;
        }
        if st.released {
            return false;
        }
        match &st.conn {
            Conn::Connected { pair, side, .. } => {
                let p = pair.lock();
                !(p.closed() || p.rst[*side])
            }
            _ => true,
        }
    }

    fn register(&self) {
        let mut socks = self.net.inet.socks.lock();
        if !socks.iter().any(|w| Weak::ptr_eq(w, &self.me)) {
            socks.push(self.me.clone());
        }
    }

    /// Whether binding `ip`:`port` with this socket's options clashes with
    /// another bound socket.
    fn conflicts(&self, others: &[Arc<InetSock>], ip: &Ip, port: u16) -> bool {
        let (v6only, reuseaddr, reuseport, uid) = {
            let st = self.st.lock();
            (st.v6only, st.reuseaddr, st.reuseport, st.uid)
        };
        let mine = scope(ip, v6only);
        others.iter().any(|o| {
            let st = o.st.lock();
            let Some((oip, oport)) = st.local else {
                return false;
            };
            if !Self::holds_port(&st) {
                return false;
            }
            if oport != port {
                return false;
            }
            let theirs = scope(&oip, st.v6only);
            if !part_overlaps(mine.0, theirs.0) && !part_overlaps(mine.1, theirs.1) {
                return false;
            }
            let listening = matches!(st.conn, Conn::Listen { .. });
            if reuseaddr && st.reuseaddr && (self.udp || !listening) {
                return false;
            }
            !(reuseport && st.reuseport && uid == st.uid)
        })
    }

    /// Whether binding `ip`:`port` clashes with a TIME_WAIT end
    /// (inet_bind_conflict): SO_REUSEADDR on both sides, or SO_REUSEPORT
    /// on both (whoever owns it), lets it be.
    fn tw_conflicts(&self, ip: &Ip, port: u16) -> bool {
        if self.udp {
            return false;
        }
        let (v6only, reuseaddr, reuseport) = {
            let st = self.st.lock();
            (st.v6only, st.reuseaddr, st.reuseport)
        };
        let mine = scope(ip, v6only);
        let now = self.net.inet.now();
        let mut tw = self.net.inet.tw.lock();
        tw.prune(now);
        let clash = tw.on_port(port).any(|t| {
            let theirs = scope(&t.end.local.0, t.end.v6only);
            (part_overlaps(mine.0, theirs.0) || part_overlaps(mine.1, theirs.1))
                && !(reuseaddr && t.end.reuse)
                && !(reuseport && t.end.reuseport)
        });
        clash
    }

    /// Takes an ephemeral port for `ip` (EADDRNOTAVAIL when all are taken).
    fn ephemeral(&self, others: &[Arc<InetSock>], ip: &Ip) -> KResult<u16> {
        self.ephemeral_for(others, ip, None)
    }

    /// Whether a TIME_WAIT end keeps port `p` from this socket: any does
    /// for a bind, only one for the same peer (not yet reusable) for a
    /// connect to `dst`, which then takes it over.
    fn tw_blocks(&self, p: u16, dst: Option<(Ip, u16)>) -> bool {
        if self.udp {
            return false;
        }
        let now = self.net.inet.now();
        let mut tw = self.net.inet.tw.lock();
        tw.prune(now);
        match dst {
            None => tw.on_port(p).next().is_some(),
            // An unbound socket connects from lo's address for `d`.
            Some(d) => match tw.find((source_for(&d.0), p), d) {
                // Only a TIME_WAIT is reused (tcp_twsk_unique: not a
                // FIN_WAIT2, nor an orphan still closing).
                Some((_, t)) if t.state != TCP_TIME_WAIT => true,
                Some((_, t)) if now.saturating_sub(t.since) < TW_REUSE_NS => true,
                Some((k, _)) => {
                    tw.remove(k);
                    false
                }
                None => false,
            },
        }
    }

    fn ephemeral_for(
        &self,
        others: &[Arc<InetSock>],
        ip: &Ip,
        dst: Option<(Ip, u16)>,
    ) -> KResult<u16> {
        // inet_sk_get_local_port_range: the socket's own bounds where they
        // fall in the namespace's range.
        let (mut lo, mut hi) = EPHEMERAL;
        let own = self.st.lock().port_range;
        if own != 0 {
            let (slo, shi) = (own as u16, (own >> 16) as u16);
            if (lo..=hi).contains(&slo) {
                lo = slo;
            }
            if (lo..=hi).contains(&shi) {
                hi = shi;
            }
        }
        let n = (hi - lo + 1) as usize;
        let mut next = self.net.inet.next_port.lock();
        // A socket's own range is searched from its start, leaving the
        // namespace's order alone.
        let mut from = if own != 0 { lo } else { *next };
        for _ in 0..n {
            let p = if from < lo || from > hi { lo } else { from };
            from = if p == hi { lo } else { p + 1 };
            if own == 0 {
                *next = from;
            }
            // A port any socket holds is skipped, whatever its address:
            // simpler than Linux's per-tuple sharing, and never wrong.
            let used = others.iter().any(|o| {
                let st = o.st.lock();
                st.local.is_some_and(|(_, op)| op == p) && Self::holds_port(&st)
            });
            if !used && !self.tw_blocks(p, dst) && !self.conflicts(others, ip, p) {
                return Ok(p);
            }
        }
        Err(Errno::EADDRNOTAVAIL)
    }

    /// Binds to an ephemeral port on the wildcard address if unbound
    /// (connect, sendto and listen do this).
    fn autobind(&self) -> KResult<()> {
        self.autobind_to(None)
    }

    /// As autobind; a TCP connect to `dst` may take a port whose TIME_WAIT
    /// is for another peer, or its own 4-tuple's once reusable.
    fn autobind_to(&self, dst: Option<(Ip, u16)>) -> KResult<()> {
        if self.st.lock().local.is_some() {
            return Ok(());
        }
        let others = self.others();
        let any = self.st.lock().kept_ip.unwrap_or(self.any());
        let port = self.ephemeral_for(&others, &any, dst)?;
        let mut st = self.st.lock();
        st.local = Some((any, port));
        st.kept_ip = None;
        drop(st);
        self.register();
        Ok(())
    }

    /// The listener a connection to `dst` reaches; None if nobody listens.
    fn find_listener(&self, dst: &(Ip, u16)) -> Option<Arc<InetSock>> {
        let mut best: Vec<Arc<InetSock>> = Vec::new();
        let mut best_score = 0;
        for o in self.others() {
            let score = {
                let st = o.st.lock();
                match (st.local, &st.conn) {
                    (Some((ip, port)), Conn::Listen { .. }) if port == dst.1 => {
                        let s = match_score(&ip, st.v6only, &dst.0);
                        // Linux prefers an AF_INET socket for IPv4.
                        if s > 0 && o.family == AF_INET && is_v4(&dst.0) {
                            s * 2 + 1
                        } else {
                            s * 2
                        }
                    }
                    _ => 0,
                }
            };
            if score > best_score {
                best_score = score;
                best.clear();
            }
            if score > 0 && score == best_score {
                best.push(o);
            }
        }
        pick(&self.net, best)
    }

    /// The UDP socket a datagram from `src` to `dst` reaches.
    fn find_receiver(&self, src: &(Ip, u16), dst: &(Ip, u16)) -> Option<Arc<InetSock>> {
        let mut best: Vec<Arc<InetSock>> = Vec::new();
        let mut best_score = 0;
        let me = self.me.upgrade();
        let all = self.others().into_iter().chain(me);
        for o in all {
            let score = {
                let st = o.st.lock();
                match st.local {
                    Some((ip, port)) if port == dst.1 => {
                        let mut s = match_score(&ip, st.v6only, &dst.0) * 2;
                        if s > 0 {
                            if let Some(peer) = st.peer {
                                s = if peer == *src { s + 4 } else { 0 };
                            }
                        }
                        if st.shut[0] {
                            s = 0;
                        }
                        s
                    }
                    _ => 0,
                }
            };
            if score > best_score {
                best_score = score;
                best.clear();
            }
            if score > 0 && score == best_score {
                best.push(o);
            }
        }
        pick(&self.net, best)
    }

    /// connect(2) of a TCP socket.
    fn tcp_connect(&self, cx: &mut SockCx<'_>, a: &SockAddr) -> KResult<()> {
        let dst = {
            let mut st = self.st.lock();
            match &mut st.conn {
                Conn::Connected { unconfirmed, .. } => {
                    if *unconfirmed {
                        *unconfirmed = false;
                        return Ok(());
                    }
                    return Err(Errno::EISCONN);
                }
                Conn::Listen { .. } => return Err(Errno::EISCONN),
                Conn::Failed => {
                    st.conn = Conn::Idle;
                    return Err(st.err.take().unwrap_or(Errno::ECONNABORTED));
                }
                Conn::Connecting { to } => {
                    let to = *to;
                    drop(st);
                    return match self.join(&to) {
                        Ok(()) => Ok(()),
                        Err(Errno::EAGAIN) => Err(Errno::EALREADY),
                        Err(e) => Err(e),
                    };
                }
                Conn::Idle => {}
            }
            let dst = self.dest(&st, a)?;
            if st.released {
                // The port went back at the disconnect: connect takes one
                // anew (inet_hash_connect), leaving the old TIME_WAIT be.
                st.local = None;
                st.released = false;
            }
            if st.shut[1] && st.shut[0] {
                // A socket whose connection ended cannot be reused until
                // it is idle again; Linux's disconnect clears this.
                st.shut = [false; 2];
            }
            dst
        };
        if route(&dst.0) != Route::Loopback {
            return self.host_connect(cx, &dst);
        }
        match self.join(&dst) {
            Ok(()) => {
                if cx.nonblock {
                    if let Conn::Connected { unconfirmed, .. } = &mut self.st.lock().conn {
                        *unconfirmed = true;
                    }
                    return Err(Errno::EINPROGRESS);
                }
                Ok(())
            }
            Err(Errno::EAGAIN) if cx.nonblock => {
                self.st.lock().conn = Conn::Connecting { to: dst };
                Err(Errno::EINPROGRESS)
            }
            Err(Errno::ECONNREFUSED) if cx.nonblock => {
                let mut st = self.st.lock();
                st.conn = Conn::Failed;
                st.err = Some(Errno::ECONNREFUSED);
                st.wake.wake_all();
                // tcp_reset's sk_error_report.
                self.sigio.io(ASYNC_ERR);
                Err(Errno::EINPROGRESS)
            }
            Err(Errno::ECONNREFUSED) => {
                // tcp_reset's sk_error_report, then the failed connect's
                // tcp_disconnect reports again.
                self.sigio.io(ASYNC_ERR);
                self.sigio.io(ASYNC_ERR);
                Err(Errno::ECONNREFUSED)
            }
            Err(e) => Err(e),
        }
    }

    /// Makes the connection to `dst`: a server end in the listener's accept
    /// queue, joined to this one. EAGAIN when the backlog is full,
    /// ECONNREFUSED when nobody listens.
    fn join(&self, dst: &(Ip, u16)) -> KResult<()> {
        let listener = match self.find_listener(dst) {
            Some(l) => l,
            None => {
                if matches!(self.st.lock().conn, Conn::Connecting { .. }) {
                    // The listener went away while we waited.
                    let mut st = self.st.lock();
                    st.conn = Conn::Failed;
                    st.err = Some(Errno::ECONNREFUSED);
                    st.wake.wake_all();
                    self.sigio.io(ASYNC_ERR);
                }
                return Err(Errno::ECONNREFUSED);
            }
        };
        {
            let st = listener.st.lock();
            if let Conn::Listen { backlog, queue } = &st.conn {
                if queue.len() > *backlog {
                    return Err(Errno::EAGAIN);
                }
            }
        }
        // Our own end: bound now if it was not (the port is taken only
        // for a connection that is made).
        self.autobind_to(Some(*dst))?;
        let src = {
            let mut st = self.st.lock();
            let (lip, lport) = st.local.ok_or(Errno::EINVAL)?;
            let sip = if lip == ANY4 || lip == ANY6 {
                source_for(&dst.0)
            } else {
                lip
            };
            if self.family == AF_INET6 && !is_v4(&sip) && is_v4(&dst.0) {
                // Bound to an IPv6 address, connecting to IPv4.
                return Err(Errno::ENETUNREACH);
            }
            st.local = Some((sip, lport));
            (sip, lport)
        };
        let (mine, theirs) = {
            let st = self.st.lock();
            let lst = listener.st.lock();
            let end = |family, v6only, local, peer, st: &St| End {
                family,
                v6only,
                local,
                peer,
                reuse: st.reuseaddr,
                reuseport: st.reuseport,
            };
            (
                end(self.family, st.v6only, src, *dst, &st),
                end(listener.family, lst.v6only, *dst, src, &lst),
            )
        };
        let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
        {
            // A SYN from the same peer takes over the server side's
            // TIME_WAIT (tcp_timewait_state_process's TCP_TW_SYN); our own
            // 4-tuple's was cleared by the port choice.
            let mut tw = self.net.inet.tw.lock();
            for (local, peer) in [(*dst, src), (src, *dst)] {
                if let Some((k, _)) = tw.find(local, peer) {
                    tw.remove(k);
                }
            }
        }
        let child = new_sock(&listener.net, listener.family, false);
        let mut p = Pair {
            // The server end inherits the listener's flags (sk_clone_lock).
            inline: [self.st.lock().oobinline, listener.st.lock().oobinline],
            id,
            ends: [mine, theirs],
            sigio: [self.sigio.clone(), child.sigio.clone()],
            ..Pair::default()
        };
        // A new connection is a state change: both ends wake.
        p.wake[0].wake_all();
        p.wake[1].wake_all();
        let pair = Arc::new(Mutex::new(p));
        {
            let lst = listener.st.lock();
            let mut cst = child.st.lock();
            cst.local = Some(*dst);
            cst.peer = Some(src);
            child.clone_opts(&listener, &lst, &mut cst);
            cst.conn = Conn::Connected {
                pair: pair.clone(),
                side: 1,
                unconfirmed: false,
            };
        }
        child.register();
        {
            let mut st = self.st.lock();
            st.peer = Some(*dst);
            st.conn = Conn::Connected {
                pair,
                side: 0,
                unconfirmed: false,
            };
        }
        let mut lst = listener.st.lock();
        if let Conn::Listen { queue, .. } = &mut lst.conn {
            queue.push_back(child);
        }
        lst.wake.wake_input();
        drop(lst);
        // The listener's sk_data_ready for the child queued, and the
        // client's tcp_finish_connect (SOCK_WAKE_IO, POLL_OUT).
        listener.sigio.waitd(ASYNC_IN, 1);
        self.sigio.io(ASYNC_OUT);
        Ok(())
    }

    /// A non-blocking connect waiting for backlog room tries again.
    fn retry_connecting(&self) {
        let to = match &self.st.lock().conn {
            Conn::Connecting { to } => *to,
            _ => return,
        };
        let _ = self.join(&to);
    }

    /// The connection of a TCP socket, if it has one.
    fn pair(&self) -> Option<(Arc<Mutex<Pair>>, usize)> {
        match &self.st.lock().conn {
            Conn::Connected { pair, side, .. } => Some((pair.clone(), *side)),
            _ => None,
        }
    }

    /// A stream send of the bytes of `data`, in order, as one buffer.
    fn tcp_send(&self, data: &[&[u8]], flags: u32) -> KResult<usize> {
        let len = data.iter().map(|d| d.len()).sum::<usize>();
        self.retry_connecting();
        let (pair, i) = match self.pair() {
            Some(p) => p,
            None => {
                let mut st = self.st.lock();
                if let Some(e) = st.err.take() {
                    if matches!(st.conn, Conn::Failed) {
                        st.conn = Conn::Idle;
                    }
                    return Err(e);
                }
                return match st.conn {
                    Conn::Connecting { .. } => Err(Errno::EAGAIN),
                    _ => Err(Errno::EPIPE),
                };
            }
        };
        let mut p = pair.lock();
        if let Some(e) = p.err[i].take() {
            return Err(e);
        }
        if p.shut[i] || p.rst[i] {
            return Err(Errno::EPIPE);
        }
        if p.gone[1 - i] {
            // The peer has closed: it answers these bytes with a reset,
            // which the next call reports (the peer sent its FIN, so the
            // error is EPIPE, as Linux's tcp_reset in CLOSE_WAIT), and its
            // FIN_WAIT2 ends (TCP_TW_RST).
            self.net.inet.tw_kill(p.id, 1 - i);
            p.rst[i] = true;
            p.err[i] = Some(Errno::EPIPE);
            p.wake[i].wake_all();
            self.sigio.io(ASYNC_ERR);
            return Ok(len);
        }
        let q = &mut p.q[1 - i];
        let room = STREAM_CAP.saturating_sub(q.len());
        if room == 0 && len > 0 {
            // sk_stream_wait_memory sets SOCKWQ_ASYNC_NOSPACE.
            self.sigio.nospace.store(true, Ordering::Relaxed);
            return Err(Errno::EAGAIN);
        }
        let n = len.min(room);
        let before = q.len();
        let mut left = n;
        for d in data {
            let k = d.len().min(left);
            q.extend(&d[..k]);
            left -= k;
        }
        if n > 0 && flags & MSG_OOB != 0 {
            // The urgent pointer is the end of what was queued (tcp_push
            // marks it before a send waits, and at its end).
            p.mark_urgent(1 - i, before);
            p.wake[1 - i].wake_all();
            // tcp_urg's sk_data_ready once the urgent byte is in.
            p.sigio[1 - i].waitd(ASYNC_IN, 1);
        }
        if n > 0 {
            p.wake[1 - i].wake_input();
            // tcp_data_ready for every segment (of at most the MSS).
            let segs = n.div_ceil(LO_MSS as usize) as u64;
            p.sigio[1 - i].waitd(ASYNC_IN, segs);
            p.segs[1 - i] += segs;
            // tcp_measure_rcv_mss: a segment at least as large as the
            // estimate raises it.
            let seg = n.min(LO_MSS as usize) as u32;
            if seg >= p.rcv_mss[1 - i].max(DEFAULT_MSS as u32) {
                p.rcv_mss[1 - i] = seg;
            }
            drop(p);
            self.net.inet.count(n);
        }
        Ok(n)
    }

    fn tcp_recv(&self, buf: &mut [u8], flags: u32) -> KResult<Received> {
        if flags & MSG_OOB != 0 {
            return self.tcp_recv_oob(buf, flags);
        }
        let mut at = 0;
        self.tcp_recv_to(buf.len(), flags, &mut |d| {
            buf[at..at + d.len()].copy_from_slice(d);
            at += d.len();
            Ok(())
        })
    }

    /// recv(MSG_OOB) (tcp_recv_urg): the urgent byte not read inline.
    fn tcp_recv_oob(&self, buf: &mut [u8], flags: u32) -> KResult<Received> {
        self.retry_connecting();
        let Some((pair, i)) = self.pair() else {
            // No urgent data (tcp_recv_urg); a listener is ENOTCONN.
            return Err(match self.st.lock().conn {
                Conn::Listen { .. } => Errno::ENOTCONN,
                _ => Errno::EINVAL,
            });
        };
        let mut p = pair.lock();
        match p.urg[i] {
            Urg::Valid(at, byte) if !p.inline[i] => {
                if flags & MSG_PEEK == 0 {
                    p.urg[i] = Urg::Read(at);
                }
                let mut r = Received {
                    flags: MSG_OOB,
                    ..Default::default()
                };
                if buf.is_empty() {
                    r.flags |= MSG_TRUNC;
                } else {
                    // MSG_TRUNC: the byte is counted, not copied.
                    if flags & MSG_TRUNC == 0 {
                        buf[0] = byte;
                    }
                    r.len = 1;
                    r.full = 1;
                    r.discarded = flags & MSG_TRUNC != 0;
                }
                Ok(r)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// An in-band receive of up to `len` bytes, handed to `sink` as they
    /// lie in the queue (at most two pieces): the bytes `sink` refuses are
    /// not taken, as tcp_recvmsg's copy to user that faults; its error is
    /// the result if nothing was taken. With MSG_TRUNC the bytes are taken
    /// (or peeked) and counted but not handed over, as tcp_recvmsg skips
    /// its copy: the caller's buffer is not written.
    fn tcp_recv_to(
        &self,
        len: usize,
        flags: u32,
        sink: &mut dyn FnMut(&[u8]) -> KResult<()>,
    ) -> KResult<Received> {
        self.retry_connecting();
        let (pair, i) = match self.pair() {
            Some(p) => p,
            None => {
                let mut st = self.st.lock();
                if let Some(e) = st.err.take() {
                    return Err(e);
                }
                return match st.conn {
                    Conn::Connecting { .. } => Err(Errno::EAGAIN),
                    _ => Err(Errno::ENOTCONN),
                };
            }
        };
        let mut p = pair.lock();
        let peek = flags & MSG_PEEK != 0;
        if len == 0 {
            return Ok(Received::default());
        }
        // An urgent byte not read inline is skipped (a peek skips it in
        // its own view); taking it ends the mark.
        let mut from: usize = 0;
        if p.on_hidden_mark(i) && !p.q[i].is_empty() {
            if peek {
                from = 1;
            } else {
                p.q[i].pop_front();
                p.copied[i] += 1;
                p.urg[i] = Urg::None;
                p.wake[1 - i].wake_output();
                p.room_made(i);
                p.flush_fin(&self.net.inet, 1 - i);
            }
        }
        let limit = if from == 1 {
            p.q[i].len() - 1
        } else {
            p.readable(i)
        };
        if limit > 0 {
            let mut n = len.min(limit);
            let (a, b) = p.q[i].as_slices();
            // Bytes from..from+n of the queue, across its two halves.
            let skip_b = from.saturating_sub(a.len());
            let a = a.get(from..).unwrap_or(&[]);
            let b = b.get(skip_b..).unwrap_or(&[]);
            let na = n.min(a.len());
            let mut fault = None;
            // MSG_TRUNC: nothing is copied, so nothing can fault.
            let discard = flags & MSG_TRUNC != 0;
            if !discard && na > 0 {
                if let Err(e) = sink(&a[..na]) {
                    fault = Some(e);
                    n = 0;
                }
            }
            if !discard && fault.is_none() && n > na {
                if let Err(e) = sink(&b[..n - na]) {
                    fault = Some(e);
                    n = na;
                }
            }
            if let (Some(e), 0) = (fault, n) {
                return Err(e);
            }
            // Stopped at an urgent mark ahead: MSG_WAITALL ends here too.
            // (A fault stops a MSG_WAITALL receive as well.)
            let stop = fault.is_some() || (n == limit && limit < p.q[i].len() - from);
            if !peek {
                p.q[i].drain(..n);
                p.copied[i] += n as u64;
                if p.urg[i].seq().is_some_and(|s| s < p.copied[i]) {
                    p.urg[i] = Urg::None;
                }
                p.wake[1 - i].wake_output();
                p.room_made(i);
                p.flush_fin(&self.net.inet, 1 - i);
            }
            return Ok(Received {
                len: n,
                full: n,
                stop,
                discarded: discard,
                ..Default::default()
            });
        }
        if p.fin[1 - i] {
            return Ok(Received::default());
        }
        if let Some(e) = p.err[i].take() {
            return Err(e);
        }
        if p.rst[i] || p.rdshut[i] {
            return Ok(Received::default());
        }
        Err(Errno::EAGAIN)
    }

    fn tcp_poll(&self) -> PollEvents {
        self.retry_connecting();
        let st = self.st.lock();
        let (pair, i) = match &st.conn {
            Conn::Connected { pair, side, .. } => (pair.clone(), *side),
            Conn::Listen { queue, .. } => {
                return if queue.is_empty() {
                    PollEvents::empty()
                } else {
                    PollEvents::POLLIN | PollEvents::POLLRDNORM
                };
            }
            Conn::Connecting { .. } => return PollEvents::empty(),
            Conn::Failed => {
                // Reset while connecting: TCP_CLOSE with everything shut.
                return PollEvents::POLLIN
                    | PollEvents::POLLRDNORM
                    | PollEvents::POLLRDHUP
                    | PollEvents::POLLOUT
                    | PollEvents::POLLWRNORM
                    | PollEvents::POLLHUP
                    | if st.err.is_some() {
                        PollEvents::POLLERR
                    } else {
                        PollEvents::empty()
                    };
            }
            // An unconnected socket is TCP_CLOSE: writable and hung up.
            Conn::Idle => {
                return PollEvents::POLLOUT | PollEvents::POLLWRNORM | PollEvents::POLLHUP;
            }
        };
        drop(st);
        let p = pair.lock();
        let mut ev = PollEvents::empty();
        let rcv_shut = p.fin[1 - i] || p.rdshut[i] || p.rst[i];
        let snd_shut = p.shut[i] || p.rst[i];
        if (rcv_shut && snd_shut) || p.rst[i] {
            ev |= PollEvents::POLLHUP;
        }
        if rcv_shut {
            ev |= PollEvents::POLLIN | PollEvents::POLLRDNORM | PollEvents::POLLRDHUP;
        }
        // tcp_poll: a hidden urgent byte alone is not data to read.
        // Fewer than SO_RCVLOWAT bytes are not readable either, unless the
        // queue is full (tcp_epollin_ready's window and memory pressure).
        let lowat = self.rcvlowat.load(Ordering::Relaxed).clamp(1, STREAM_CAP);
        let need = lowat + p.on_hidden_mark(i) as usize;
        if p.q[i].len() >= need {
            ev |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        if matches!(p.urg[i], Urg::Valid(..)) {
            ev |= PollEvents::POLLPRI;
        }
        if snd_shut || p.q[1 - i].len() < STREAM_CAP {
            ev |= PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        }
        if p.err[i].is_some() {
            ev |= PollEvents::POLLERR;
        }
        ev
    }

    fn udp_send(&self, msg: &SendMsg<'_>) -> KResult<usize> {
        if msg.flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let max = if self.family == AF_INET {
            UDP_MAX4
        } else {
            UDP_MAX6
        };
        let (dst, connected) = {
            let mut st = self.st.lock();
            if let Some(e) = st.err.take() {
                return Err(e);
            }
            if st.shut[1] {
                return Err(Errno::EPIPE);
            }
            match msg.to {
                Some((a, _)) if *a != SockAddr::Unspec => {
                    let d = self.dest(&st, a)?;
                    (d, st.peer == Some(d))
                }
                _ => (st.peer.ok_or(Errno::EDESTADDRREQ)?, true),
            }
        };
        if msg.data.len() > max {
            return Err(Errno::EMSGSIZE);
        }
        // A broadcast (with or without SO_BROADCAST) has no route either:
        // lo has no broadcast address, so Linux answers ENETUNREACH too.
        if route(&dst.0) != Route::Loopback {
            return Err(Errno::ENETUNREACH);
        }
        self.autobind()?;
        let src = {
            let st = self.st.lock();
            let (lip, lport) = st.local.ok_or(Errno::EINVAL)?;
            let sip = if lip == ANY4 || lip == ANY6 {
                source_for(&dst.0)
            } else {
                lip
            };
            (sip, lport)
        };
        self.net.inet.count(msg.data.len());
        match self.find_receiver(&src, &dst) {
            Some(r) => {
                let mut rst = r.st.lock();
                // Linux drops what does not fit the receive buffer, where
                // each datagram also costs its buffer's overhead.
                let cost = msg.data.len() + DGRAM_OVERHEAD;
                if rst.dbytes + cost <= UDP_RCVBUF {
                    rst.dbytes += cost;
                    rst.dgrams.push_back(Datagram {
                        from: src,
                        data: msg.data.to_vec(),
                    });
                    rst.wake.wake_input();
                    // __udp_enqueue_schedule_skb's sk_data_ready.
                    r.sigio.waitd(ASYNC_IN, 1);
                }
            }
            None if connected => {
                // The ICMP port unreachable reaches a connected socket
                // (__udp4_lib_err's sk_error_report).
                let mut st = self.st.lock();
                st.err = Some(Errno::ECONNREFUSED);
                st.wake.wake_all();
                self.sigio.io(ASYNC_ERR);
            }
            None => {}
        }
        Ok(msg.data.len())
    }

    fn udp_recv(&self, buf: &mut [u8], flags: u32) -> KResult<Received> {
        // udp_recvmsg ignores MSG_OOB.
        let mut st = self.st.lock();
        if let Some(e) = st.err.take() {
            return Err(e);
        }
        let Some(d) = st.dgrams.front() else {
            return if st.shut[0] {
                Ok(Received::default())
            } else {
                Err(Errno::EAGAIN)
            };
        };
        let n = buf.len().min(d.data.len());
        buf[..n].copy_from_slice(&d.data[..n]);
        let r = Received {
            len: n,
            full: d.data.len(),
            from: Some(self.addr_of(&d.from.0, d.from.1)),
            ..Default::default()
        };
        if flags & MSG_PEEK == 0 {
            let d = st.dgrams.pop_front();
            st.dbytes -= d.map_or(0, |d| d.data.len() + DGRAM_OVERHEAD);
        }
        Ok(r)
    }

    fn udp_connect(&self, a: &SockAddr) -> KResult<()> {
        if *a == SockAddr::Unspec {
            // Dissolve the association; an automatic port is given back.
            let mut st = self.st.lock();
            st.peer = None;
            st.shut = [false; 2];
            if !st.addr_locked {
                if let Some((_, p)) = st.local {
                    st.local = Some((self.any(), p));
                }
            }
            if !st.port_locked {
                st.kept_ip = st.local.filter(|_| st.addr_locked).map(|(ip, _)| ip);
                st.local = None;
            }
            return Ok(());
        }
        let dst = {
            let st = self.st.lock();
            self.dest(&st, a)?
        };
        if route(&dst.0) != Route::Loopback {
            return Err(Errno::ENETUNREACH);
        }
        self.autobind()?;
        let mut st = self.st.lock();
        if let Some((lip, lport)) = st.local {
            if lip == ANY4 || lip == ANY6 {
                st.local = Some((source_for(&dst.0), lport));
            }
        }
        st.peer = Some(dst);
        Ok(())
    }

    fn int_opt(val: &[u8]) -> KResult<i32> {
        if val.len() < 4 {
            return Err(Errno::EINVAL);
        }
        Ok(i32::from_ne_bytes([val[0], val[1], val[2], val[3]]))
    }

    /// The value of a SOL_TCP option.
    /// An accepted socket's options: its listener's (Linux's accept
    /// returns a clone of the listener, sk_clone_lock, inet_csk_clone_lock
    /// and tcp_create_openreq_child resetting only the connection's own
    /// state): the socket flags, SO_RCVLOWAT, the IP and TCP options. The
    /// generic options the descriptor keeps are copied by accept(2).
    fn clone_opts(&self, listener: &InetSock, lst: &St, cst: &mut St) {
        cst.v6only = lst.v6only;
        cst.keepalive = lst.keepalive;
        cst.oobinline = lst.oobinline;
        cst.broadcast = lst.broadcast;
        cst.linger_abort = lst.linger_abort;
        cst.reuseaddr = lst.reuseaddr;
        cst.reuseport = lst.reuseport;
        cst.tcp = lst.tcp;
        cst.ip_tos = lst.ip_tos;
        cst.ttl = lst.ttl;
        cst.recverr = lst.recverr;
        cst.port_range = lst.port_range;
        cst.uid = lst.uid;
        self.rcvlowat
            .store(listener.rcvlowat.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    fn tcp_opt(&self, st: &St, name: u32) -> KResult<i32> {
        let v = *st.tcp.get(name as usize).ok_or(Errno::ENOPROTOOPT)?;
        Ok(match name {
            TCP_NODELAY | TCP_CORK | TCP_USER_TIMEOUT | TCP_WINDOW_CLAMP | TCP_DEFER_ACCEPT => v,
            TCP_MAXSEG => match st.conn {
                Conn::Connected { .. } if v != 0 => v.min(LO_MSS),
                Conn::Connected { .. } => LO_MSS,
                _ if v != 0 => v,
                _ => DEFAULT_MSS,
            },
            TCP_KEEPIDLE => nonzero(v, 7200),
            TCP_KEEPINTVL => nonzero(v, 75),
            TCP_KEEPCNT => nonzero(v, 9),
            TCP_SYNCNT => nonzero(v, 6),
            TCP_LINGER2 => nonzero(v, 60),
            // Stored inverted so 0 is the default (quick ack on).
            TCP_QUICKACK => (v == 0) as i32,
            TCP_NOTSENT_LOWAT => nonzero(v, -1),
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    fn set_tcp_opt(&self, st: &mut St, name: u32, v: i32) -> KResult<()> {
        let range = |lo: i32, hi: i32| {
            if v < lo || v > hi {
                Err(Errno::EINVAL)
            } else {
                Ok(v)
            }
        };
        let stored = match name {
            TCP_NODELAY | TCP_CORK => (v != 0) as i32,
            TCP_MAXSEG => {
                if v != 0 {
                    range(88, 32767)?;
                }
                v
            }
            TCP_KEEPIDLE | TCP_KEEPINTVL => range(1, 32767)?,
            TCP_KEEPCNT | TCP_SYNCNT => range(1, 127)?,
            TCP_LINGER2 => {
                if v < 0 {
                    -1
                } else {
                    v.min(120)
                }
            }
            TCP_DEFER_ACCEPT | TCP_WINDOW_CLAMP => v.max(0),
            TCP_USER_TIMEOUT => range(0, i32::MAX)?,
            TCP_QUICKACK => (v == 0) as i32,
            TCP_NOTSENT_LOWAT => v,
            _ => return Err(Errno::ENOPROTOOPT),
        };
        st.tcp[name as usize] = stored;
        Ok(())
    }

    /// getsockopt(TCP_INFO): Linux's struct tcp_info (tcp_get_info) as
    /// this loopback knows it. Exact: the state, the options a loopback
    /// connection negotiates (timestamps, SACK, window scaling), the MSS
    /// estimates, the data segment and byte counts, a listener's queue and
    /// backlog, and a fresh socket's initial values. A connection has no
    /// retransmissions, losses or reordering; its round-trip time, windows
    /// and congestion window are those of a fresh loopback connection, as
    /// this loopback delivers at once and keeps no such state.
    fn tcp_info(&self, st: &St) -> Vec<u8> {
        let mut b = [0u8; TCP_INFO_LEN];
        let put32 = |b: &mut [u8; TCP_INFO_LEN], off: usize, v: u32| {
            b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        };
        let put64 = |b: &mut [u8; TCP_INFO_LEN], off: usize, v: u64| {
            b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        };
        // Every state: the pacing rates (unpaced), reordering, cwnd.
        put64(&mut b, 104, u64::MAX);
        put64(&mut b, 112, u64::MAX);
        put32(&mut b, 88, 3); // tcpi_reordering: net.ipv4.tcp_reordering
        put32(&mut b, 80, 10); // tcpi_snd_cwnd: TCP_INIT_CWND
        let conn = match &st.conn {
            Conn::Listen { backlog, queue } => {
                // A listener's aliased fields: queued children, backlog.
                b[0] = TCP_LISTEN;
                put32(&mut b, 24, queue.len() as u32);
                put32(&mut b, 28, *backlog as u32);
                return b.to_vec();
            }
            Conn::Connected { pair, side, .. } => Some((pair.clone(), *side)),
            Conn::Connecting { .. } => {
                b[0] = TCP_SYN_SENT;
                None
            }
            Conn::Idle | Conn::Failed => {
                b[0] = TCP_CLOSE;
                None
            }
        };
        let mss = self.tcp_opt(st, TCP_MAXSEG).unwrap_or(DEFAULT_MSS) as u32;
        put32(&mut b, 16, mss); // tcpi_snd_mss
        put32(&mut b, 76, 0x7fff_ffff); // tcpi_snd_ssthresh: TCP_INFINITE_SSTHRESH
        let Some((pair, i)) = conn else {
            // Before a connection: TCP_TIMEOUT_INIT, and its mdev.
            put32(&mut b, 8, 1_000_000);
            put32(&mut b, 72, 250_000);
            put32(&mut b, 148, u32::MAX); // tcpi_min_rtt: none yet
            return b.to_vec();
        };
        let p = pair.lock();
        b[0] = p.state(i);
        b[5] = 0x7; // TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE
        b[6] = 7 | (7 << 4); // snd_wscale, rcv_wscale of a 6 MB tcp_rmem
        let received = p.copied[i] + p.q[i].len() as u64;
        let sent = p.copied[1 - i] + p.q[1 - i].len() as u64;
        put32(&mut b, 8, 204_000); // tcpi_rto: TCP_RTO_MIN and a loopback RTT
        if received > 0 {
            put32(&mut b, 12, 40_000); // tcpi_ato: TCP_ATO_MIN
        }
        put32(&mut b, 20, p.rcv_mss[i].max(DEFAULT_MSS as u32));
        put32(&mut b, 60, 65535); // tcpi_pmtu: lo's MTU, as IP_MAX_MTU caps it
        put32(&mut b, 64, LO_MSS as u32); // tcpi_rcv_ssthresh
        put32(&mut b, 68, 10); // tcpi_rtt (us)
        put32(&mut b, 72, 5); // tcpi_rttvar
        put32(&mut b, 84, LO_MSS as u32); // tcpi_advmss
        put32(&mut b, 96, LO_MSS as u32); // tcpi_rcv_space
                                          // The client's SYN counts in its bytes acked and segments.
        let syn = (i == 0) as u64;
        let fin_out = p.fin[i] as u64;
        let fin_in = p.fin[1 - i] as u64;
        put64(&mut b, 120, syn + sent + fin_out); // tcpi_bytes_acked
        put64(&mut b, 128, received + fin_in); // tcpi_bytes_received
        let hs_out = if i == 0 { 2 } else { 1 };
        let hs_in = if i == 0 { 1 } else { 2 };
        put32(&mut b, 136, (hs_out + p.segs[1 - i] + fin_out) as u32); // tcpi_segs_out
        put32(&mut b, 140, (hs_in + p.segs[i] + fin_in) as u32); // tcpi_segs_in
        let notsent = p.q[1 - i].len().saturating_sub(RCV_WINDOW);
        put32(&mut b, 144, notsent as u32); // tcpi_notsent_bytes
        put32(&mut b, 148, 10); // tcpi_min_rtt
        put32(&mut b, 152, p.segs[i] as u32); // tcpi_data_segs_in
        put32(&mut b, 156, p.segs[1 - i] as u32); // tcpi_data_segs_out
        put32(&mut b, 192, (syn + p.segs[1 - i] + fin_out) as u32); // tcpi_delivered
        put64(&mut b, 200, sent); // tcpi_bytes_sent
        put32(&mut b, 228, LO_MSS as u32); // tcpi_snd_wnd
        put32(&mut b, 232, 65536); // tcpi_rcv_wnd
        b.to_vec()
    }

    /// Bytes waiting to be read (FIONREAD) and not yet taken by the peer
    /// (SIOCOUTQ).
    fn queues(&self) -> KResult<(usize, usize)> {
        if self.udp {
            let st = self.st.lock();
            let first = st.dgrams.front().map_or(0, |d| d.data.len());
            return Ok((first, 0));
        }
        if let Some((pair, i)) = self.pair() {
            let p = pair.lock();
            // tcp_inq: with an urgent byte ahead not read inline, the
            // bytes up to it.
            let end = p.copied[i] + p.q[i].len() as u64;
            let inq = match p.urg[i].seq() {
                Some(s) if !p.inline[i] && s >= p.copied[i] && s < end => {
                    (s - p.copied[i]) as usize
                }
                _ => p.q[i].len(),
            };
            return Ok((inq, p.q[1 - i].len().saturating_sub(RCV_WINDOW)));
        }
        match self.st.lock().conn {
            Conn::Listen { .. } => Err(Errno::EINVAL),
            _ => Ok((0, 0)),
        }
    }
}

fn nonzero(v: i32, default: i32) -> i32 {
    if v == 0 {
        default
    } else {
        v
    }
}

/// One socket of a group that matches equally well: round-robin among a
/// SO_REUSEPORT group, else the first.
fn pick(net: &NetNs, mut best: Vec<Arc<InetSock>>) -> Option<Arc<InetSock>> {
    if best.len() > 1 && best.iter().all(|s| s.st.lock().reuseport) {
        let mut rr = net.inet.rr.lock();
        *rr = rr.wrapping_add(1);
        let i = *rr % best.len();
        return Some(best.swap_remove(i));
    }
    best.into_iter().next()
}

/// A listener stops (inet_csk_listen_stop: close, shutdown SHUT_RD,
/// connect AF_UNSPEC): the connections it did not accept are reset, and go
/// without the FIN a close would send after it (inet_child_forget), so
/// their peers see ECONNRESET, not the end of the stream.
fn abort_queue(net: &InetNs, queue: VecDeque<Arc<InetSock>>) {
    for c in queue {
        if let Some((pair, i)) = c.pair() {
            let mut p = pair.lock();
            p.reset(1 - i, Errno::ECONNRESET);
            p.gone[i] = true;
            net.tw_kill(p.id, 1 - i);
        }
        c.st.lock().conn = Conn::Idle;
    }
}

impl Drop for InetSock {
    /// close(2) of the last descriptor: a connection sends its FIN, or a
    /// reset when data it never read is left; a listener resets the
    /// connections it did not accept.
    fn drop(&mut self) {
        // A build without the `inet` feature makes no InetSock (socket(2)
        // answers EAFNOSUPPORT, and `net-host` needs `inet`), so this
        // leaves the close path, TIME_WAIT table and all, out of it.
        if !cfg!(feature = "inet") {
            return;
        }
        let abort = self.st.get_mut().linger_abort;
        let conn = core::mem::replace(&mut self.st.get_mut().conn, Conn::Idle);
        match conn {
            Conn::Connected { pair, side: i, .. } => {
                let mut p = pair.lock();
                if !p.q[i].is_empty() || (abort && !p.closed()) {
                    p.reset(1 - i, Errno::ECONNRESET);
                    self.net.inet.tw_kill(p.id, 1 - i);
                } else {
                    if !p.rst[i] {
                        let net = self.net.clone();
                        p.shut_write(&net.inet, i);
                        p.orphan(&net.inet, i);
                    } else {
                        p.fin[i] = true;
                    }
                    p.shut[i] = true;
                    p.wake[1 - i].wake_all();
                }
                p.gone[i] = true;
                p.q[i].clear();
            }
            Conn::Listen { queue, .. } => abort_queue(&self.net.inet, queue),
            _ => {}
        }
    }
}

impl Socket for InetSock {
    fn domain(&self) -> u16 {
        self.family
    }
    fn sock_type(&self) -> u32 {
        if self.udp {
            SOCK_DGRAM
        } else {
            SOCK_STREAM
        }
    }
    fn protocol(&self) -> u32 {
        if self.udp {
            IPPROTO_UDP
        } else {
            IPPROTO_TCP
        }
    }

    fn bind(
        &self,
        cx: &mut SockCx<'_>,
        addr: &SockAddr,
        _node: Option<super::NodeId>,
    ) -> KResult<()> {
        let (ip, port) = self.ip_of(addr)?;
        let named = port != 0;
        {
            let mut st = self.st.lock();
            // __inet_bind: only a closed socket without a port (inet_num
            // 0: never bound, or given back when its connection ended).
            let over = match &st.conn {
                Conn::Connected { pair, side, .. } => {
                    let p = pair.lock();
                    p.closed() || p.rst[*side]
                }
                _ => false,
            };
            let closed = over || matches!(st.conn, Conn::Idle);
            let portless = st.local.is_none() || st.released || (over && !st.port_locked);
            if !closed || !portless {
                return Err(Errno::EINVAL);
            }
            if self.family == AF_INET6 && is_v4(&ip) && st.v6only {
                return Err(Errno::EINVAL);
            }
            st.uid = cx.caller.uid;
        }
        if ip != ANY4 && ip != ANY6 && !is_local(&ip) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        // Linux's ip_unprivileged_port_start: ports below 1024 need
        // CAP_NET_BIND_SERVICE (taken here as root).
        if port != 0 && port < 1024 && cx.caller.uid != 0 {
            return Err(Errno::EACCES);
        }
        let others = self.others();
        let port = if port == 0 {
            // __inet_bind: no port to pick is EADDRINUSE.
            self.ephemeral(&others, &ip)
                .map_err(|_| Errno::EADDRINUSE)?
        } else if self.conflicts(&others, &ip, port) || self.tw_conflicts(&ip, port) {
            return Err(Errno::EADDRINUSE);
        } else {
            port
        };
        {
            let mut st = self.st.lock();
            st.local = Some((ip, port));
            st.released = false;
            st.addr_locked = ip != ANY4 && ip != ANY6;
            st.port_locked = named;
            st.kept_ip = None;
        }
        self.register();
        Ok(())
    }

    fn connect(
        &self,
        cx: &mut SockCx<'_>,
        addr: &SockAddr,
        _node: Option<super::NodeId>,
    ) -> KResult<()> {
        if self.udp {
            if let Some(dst) = self.outside(addr) {
                return self.host_connect(cx, &dst);
            }
            // Back to the loopback (or dissolved): the host socket goes.
            *self.host.lock() = None;
            return self.udp_connect(addr);
        }
        if let Some(h) = self.host() {
            return h.connect(cx, addr, _node);
        }
        if *addr == SockAddr::Unspec {
            // Linux's tcp_disconnect: a connection is aborted with a reset.
            let mut st = self.st.lock();
            let mut was_connected = false;
            if let Conn::Connected { pair, side, .. } = &st.conn {
                let mut p = pair.lock();
                // A connection already over (both FINs, or a reset) is in
                // TCP_CLOSE: nothing is sent (tcp_need_reset), and the
                // peer's TIME_WAIT stays.
                if !(p.closed() || p.rst[*side]) {
                    p.reset(1 - side, Errno::ECONNRESET);
                    self.net.inet.tw_kill(p.id, 1 - side);
                }
                p.gone[*side] = true;
                was_connected = true;
            }
            // A listener stops (inet_csk_listen_stop): the connections it
            // did not accept are reset, and it is TCP_CLOSE until listen(2).
            let mut queued = VecDeque::new();
            if let Conn::Listen { queue, .. } = &mut st.conn {
                queued = core::mem::take(queue);
                was_connected = true;
            }
            st.conn = Conn::Idle;
            st.peer = None;
            // tcp_disconnect: the source address goes unless bind(2) chose
            // it (inet_reset_saddr), the port unless bind(2) chose it.
            if was_connected {
                if let Some((_, port)) = st.local {
                    if !st.addr_locked {
                        st.local = Some((self.any(), port));
                    }
                    if !st.port_locked {
                        st.released = true;
                    }
                }
            }
            drop(st);
            abort_queue(&self.net.inet, queued);
            // tcp_disconnect ends with sk_error_report, whatever the state.
            self.sigio.io(ASYNC_ERR);
            return Ok(());
        }
        self.tcp_connect(cx, addr)
    }

    fn listen(&self, _cx: &mut SockCx<'_>, backlog: i32) -> KResult<()> {
        if self.udp {
            return Err(Errno::EOPNOTSUPP);
        }
        let backlog = if backlog < 0 {
            SOMAXCONN
        } else {
            (backlog as usize).min(SOMAXCONN)
        };
        {
            let mut st = self.st.lock();
            match &mut st.conn {
                Conn::Listen { backlog: b, .. } => {
                    *b = backlog;
                    return Ok(());
                }
                Conn::Idle => {}
                _ => return Err(Errno::EINVAL),
            }
            if st.released {
                // The port went back when it stopped listening
                // (connect(AF_UNSPEC)): listen takes one anew, on the
                // address it keeps (inet_csk_listen_start's get_port).
                let ip = st.local.map_or(self.any(), |(ip, _)| ip);
                drop(st);
                let port = self.ephemeral(&self.others(), &ip)?;
                let mut st = self.st.lock();
                st.local = Some((ip, port));
                st.released = false;
            }
        }
        self.autobind()?;
        // A listener that shares its port by SO_REUSEADDR alone clashes
        // with a listener already there.
        let (ip, port) = self.st.lock().local.ok_or(Errno::EINVAL)?;
        let others = self.others();
        let clash = others.iter().any(|o| {
            let st = o.st.lock();
            matches!(st.conn, Conn::Listen { .. })
                && st.local.is_some_and(|(oip, op)| {
                    op == port && {
                        let me = scope(&ip, self.st.lock().v6only);
                        let them = scope(&oip, st.v6only);
                        part_overlaps(me.0, them.0) || part_overlaps(me.1, them.1)
                    }
                })
                && !(st.reuseport && self.st.lock().reuseport)
        });
        if clash {
            return Err(Errno::EADDRINUSE);
        }
        self.st.lock().conn = Conn::Listen {
            backlog,
            queue: VecDeque::new(),
        };
        if ip == ANY4 || ip == ANY6 {
            // Where the host grants it (an OCI container's network
            // namespace), connections to the port from outside reach it.
            if let Some(hn) = _cx.io.host_net() {
                let _ = hn.net_export(port);
            }
        }
        Ok(())
    }

    fn accept(&self, _cx: &mut SockCx<'_>) -> KResult<(Arc<dyn Socket>, SockAddr)> {
        let mut st = self.st.lock();
        let Conn::Listen { queue, .. } = &mut st.conn else {
            return Err(if self.udp {
                Errno::EOPNOTSUPP
            } else {
                Errno::EINVAL
            });
        };
        let child = queue.pop_front().ok_or(Errno::EAGAIN)?;
        drop(st);
        let peer = child.st.lock().peer.unwrap_or((self.any(), 0));
        let addr = child.addr_of(&peer.0, peer.1);
        Ok((child, addr))
    }

    fn send(&self, cx: &mut SockCx<'_>, msg: SendMsg<'_>) -> KResult<usize> {
        if self.udp && self.host().is_none() {
            if let Some((a, _)) = msg.to {
                if self.outside(a).is_some() {
                    // A datagram out: from now on the socket is a host one.
                    let h = super::host::dgram(cx, &self.net, self.family)?;
                    *self.host.lock() = Some(h);
                }
            }
        }
        if let Some(h) = self.host() {
            return h.send(cx, msg);
        }
        if self.udp {
            self.udp_send(&msg)
        } else {
            self.tcp_send(&[msg.data], msg.flags)
        }
    }

    fn sends_slices(&self) -> bool {
        !self.udp && self.host().is_none()
    }

    fn send_slices(&self, bufs: &[&[u8]], flags: u32) -> Option<KResult<usize>> {
        // A loopback connection queues the bytes straight from the
        // caller's buffers.
        self.sends_slices().then(|| self.tcp_send(bufs, flags))
    }

    fn recv_to(
        &self,
        len: usize,
        flags: u32,
        sink: &mut dyn FnMut(&[u8]) -> KResult<()>,
    ) -> Option<KResult<Received>> {
        // A loopback connection's bytes go from its queue straight to the
        // caller's buffers; urgent data and host sockets take the buffer.
        if self.udp || flags & MSG_OOB != 0 || self.host().is_some() {
            return None;
        }
        Some(self.tcp_recv_to(len, flags, sink))
    }

    fn recv(&self, cx: &mut SockCx<'_>, buf: &mut [u8], flags: u32) -> KResult<Received> {
        if let Some(h) = self.host() {
            return h.recv(cx, buf, flags);
        }
        if self.udp {
            self.udp_recv(buf, flags)
        } else {
            self.tcp_recv(buf, flags)
        }
    }

    fn shutdown(&self, cx: &mut SockCx<'_>, how: u32) -> KResult<()> {
        if let Some(h) = self.host() {
            return h.shutdown(cx, how);
        }
        let rd = how == SHUT_RD || how == SHUT_RDWR;
        let wr = how == SHUT_WR || how == SHUT_RDWR;
        if self.udp {
            let mut st = self.st.lock();
            st.shut[0] |= rd;
            st.shut[1] |= wr;
            return if st.peer.is_some() {
                Ok(())
            } else {
                Err(Errno::ENOTCONN)
            };
        }
        if let Some((pair, i)) = self.pair() {
            let mut p = pair.lock();
            p.rdshut[i] |= rd;
            if wr && !p.rst[i] {
                p.shut_write(&self.net.inet, i);
            }
            p.shut[i] |= wr;
            p.wake[i].wake_all();
            if wr {
                p.wake[1 - i].wake_all();
            }
            return Ok(());
        }
        let mut st = self.st.lock();
        match &mut st.conn {
            Conn::Listen { queue, .. } if rd => {
                // Linux stops listening: the waiting connections are reset
                // (tcp_disconnect, which reports to the listener too).
                let q = core::mem::take(queue);
                st.conn = Conn::Idle;
                drop(st);
                self.sigio.io(ASYNC_ERR);
                abort_queue(&self.net.inet, q);
                Ok(())
            }
            Conn::Listen { .. } => Ok(()),
            Conn::Connecting { .. } => {
                st.conn = Conn::Idle;
                self.sigio.io(ASYNC_ERR);
                Ok(())
            }
            _ => Err(Errno::ENOTCONN),
        }
    }

    fn local_addr(&self) -> KResult<SockAddr> {
        if let Some(h) = self.host() {
            return h.local_addr();
        }
        let st = self.st.lock();
        let (ip, port) = st.local.unwrap_or((st.kept_ip.unwrap_or(self.any()), 0));
        Ok(self.addr_of(&ip, port))
    }

    fn peer_addr(&self) -> KResult<SockAddr> {
        if let Some(h) = self.host() {
            return h.peer_addr();
        }
        let st = self.st.lock();
        let connected = match &st.conn {
            Conn::Connected { pair, side, .. } => {
                let p = pair.lock();
                !p.rst[*side] && !p.closed()
            }
            Conn::Idle => self.udp,
            _ => false,
        };
        match st.peer {
            Some((ip, port)) if connected => Ok(self.addr_of(&ip, port)),
            _ => Err(Errno::ENOTCONN),
        }
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
        if let (Some(h), SOL_TCP, TCP_INFO) = (self.host(), level, name) {
            // The host's connection: not known here (ENOPROTOOPT).
            return h.getsockopt(cx, level, name, len);
        }
        let int = |v: i32| Ok(v.to_ne_bytes().to_vec());
        let mut st = self.st.lock();
        match (level, name) {
            (SOL_SOCKET, SO_ERROR) => {
                let mut e = st.err.take();
                if matches!(st.conn, Conn::Failed) {
                    // Reported: the socket may connect again.
                    st.conn = Conn::Idle;
                }
                if e.is_none() {
                    if let Conn::Connected { pair, side, .. } = &st.conn {
                        e = pair.lock().err[*side].take();
                    }
                }
                int(e.map_or(0, |e| e.0))
            }
            (SOL_SOCKET, SO_ACCEPTCONN) => int(matches!(st.conn, Conn::Listen { .. }) as i32),
            (SOL_SOCKET, SO_REUSEADDR) => int(st.reuseaddr as i32),
            (SOL_SOCKET, SO_REUSEPORT) => int(st.reuseport as i32),
            (SOL_SOCKET, SO_KEEPALIVE) => int(st.keepalive as i32),
            (SOL_SOCKET, SO_BROADCAST) => int(st.broadcast as i32),
            (SOL_SOCKET, SO_OOBINLINE) => int(st.oobinline as i32),
            (SOL_TCP, TCP_INFO) if !self.udp => Ok(self.tcp_info(&st)),
            (SOL_TCP, _) if !self.udp => int(self.tcp_opt(&st, name)?),
            (SOL_IP, IP_TOS) => int(st.ip_tos),
            (SOL_IP, IP_TTL) => int(if st.ttl < 0 { 64 } else { st.ttl }),
            (SOL_IP, IP_RECVERR) => int(st.recverr as i32),
            (SOL_IP, IP_LOCAL_PORT_RANGE) => int(st.port_range as i32),
            (SOL_IPV6, IPV6_V6ONLY) if self.family == AF_INET6 => int(st.v6only as i32),
            (SOL_IPV6, IPV6_UNICAST_HOPS) if self.family == AF_INET6 => {
                int(if st.ttl < 0 { 64 } else { st.ttl })
            }
            (SOL_IPV6, IPV6_RECVERR) if self.family == AF_INET6 => int(st.recverr as i32),
            // Linux's ip_getsockopt answers a level it does not know with
            // EOPNOTSUPP; ipv6_getsockopt with ENOPROTOOPT.
            (SOL_SOCKET | SOL_IP, _) => Err(Errno::ENOPROTOOPT),
            (SOL_TCP, _) if !self.udp => Err(Errno::ENOPROTOOPT),
            (SOL_UDP, _) if self.udp => Err(Errno::ENOPROTOOPT),
            _ if self.family == AF_INET => Err(Errno::EOPNOTSUPP),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn setsockopt(&self, _cx: &mut SockCx<'_>, level: u32, name: u32, val: &[u8]) -> KResult<()> {
        let known = matches!(
            (level, name),
            (
                SOL_SOCKET,
                SO_REUSEADDR | SO_REUSEPORT | SO_KEEPALIVE | SO_BROADCAST | SO_OOBINLINE
            ) | (SOL_TCP, _)
                | (SOL_IP, IP_TOS | IP_TTL | IP_RECVERR | IP_LOCAL_PORT_RANGE)
                | (SOL_IPV6, IPV6_V6ONLY | IPV6_UNICAST_HOPS | IPV6_RECVERR)
        );
        if !known || (level == SOL_TCP && self.udp) {
            return Err(Errno::ENOPROTOOPT);
        }
        if level == SOL_IPV6 && self.family != AF_INET6 {
            return Err(Errno::ENOPROTOOPT);
        }
        let v = Self::int_opt(val)?;
        let mut st = self.st.lock();
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR | SO_REUSEPORT) => {
                if name == SO_REUSEADDR {
                    st.reuseaddr = v != 0;
                } else {
                    st.reuseport = v != 0;
                }
                // What a TIME_WAIT of this end will keep (tw_reuse).
                if let Conn::Connected { pair, side, .. } = &st.conn {
                    let mut p = pair.lock();
                    p.ends[*side].reuse = st.reuseaddr;
                    p.ends[*side].reuseport = st.reuseport;
                }
            }
            (SOL_SOCKET, SO_KEEPALIVE) => st.keepalive = v != 0,
            (SOL_SOCKET, SO_BROADCAST) => st.broadcast = v != 0,
            (SOL_SOCKET, SO_OOBINLINE) => {
                st.oobinline = v != 0;
                if let Conn::Connected { pair, side, .. } = &st.conn {
                    pair.lock().inline[*side] = v != 0;
                }
            }
            (SOL_TCP, _) => self.set_tcp_opt(&mut st, name, v)?,
            (SOL_IP, IP_TOS) => st.ip_tos = v & 0xff,
            (SOL_IP, IP_TTL) | (SOL_IPV6, IPV6_UNICAST_HOPS) => {
                if v != -1 && !(1..=255).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                st.ttl = v;
            }
            (SOL_IP, IP_RECVERR) | (SOL_IPV6, IPV6_RECVERR) => st.recverr = v != 0,
            (SOL_IP, IP_LOCAL_PORT_RANGE) => {
                let (lo, hi) = (v as u32 as u16, (v as u32 >> 16) as u16);
                if val.len() != 4 || (lo != 0 && hi != 0 && lo > hi) {
                    return Err(Errno::EINVAL);
                }
                st.port_range = v as u32;
            }
            (SOL_IPV6, IPV6_V6ONLY) => {
                if st.local.is_some() || !matches!(st.conn, Conn::Idle) {
                    return Err(Errno::EINVAL);
                }
                st.v6only = v != 0;
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn poll(&self, io: &mut dyn IoCtx) -> PollEvents {
        if let Some(h) = self.host() {
            return h.poll(io);
        }
        if !self.udp {
            return self.tcp_poll();
        }
        let st = self.st.lock();
        let mut ev = PollEvents::empty();
        if !st.shut[1] {
            ev |= PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        }
        if !st.dgrams.is_empty() {
            ev |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        if st.shut[0] {
            ev |= PollEvents::POLLIN | PollEvents::POLLRDNORM | PollEvents::POLLRDHUP;
        }
        if st.shut[0] && st.shut[1] {
            ev |= PollEvents::POLLHUP;
        }
        if st.err.is_some() {
            ev |= PollEvents::POLLERR;
        }
        ev
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        if let Some(h) = self.host() {
            return h.wake_seq();
        }
        let st = self.st.lock();
        Some(match &st.conn {
            Conn::Connected { pair, side, .. } => pair.lock().wake[*side],
            _ => st.wake,
        })
    }

    fn ioctl(&self, _io: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        match cmd {
            SIOCATMARK if !self.udp && self.host().is_none() => {
                // At the urgent mark: the next byte is the urgent one.
                let at = self.pair().is_some_and(|(pair, i)| {
                    let p = pair.lock();
                    p.urg[i].seq() == Some(p.copied[i])
                });
                arg.write_out(&(at as i32).to_ne_bytes())?;
                Ok(0)
            }
            SIOCINQ | SIOCOUTQ => {
                let (inq, outq) = self.queues()?;
                let v = if cmd == SIOCINQ { inq } else { outq };
                arg.write_out(&(v as i32).to_ne_bytes())?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn set_ino(&self, ino: u64) {
        self.ino.store(ino, Ordering::Relaxed);
    }

    fn urgent_marks(&self) -> u64 {
        self.pair().map_or(0, |(pair, i)| pair.lock().marks[i])
    }

    fn async_counts(&self) -> Option<[u64; 4]> {
        if self.host().is_some() {
            return None;
        }
        Some(self.sigio.n.each_ref().map(|n| n.load(Ordering::Relaxed)))
    }

    fn sleepers(&self) -> Option<Arc<Sleepers>> {
        // TCP's sk_wait_data sets SOCKWQ_ASYNC_WAITDATA; a UDP receive
        // waits in __skb_wait_for_more_packets, which does not.
        (!self.udp && self.host().is_none()).then(|| self.sigio.sleepers.clone())
    }

    fn set_linger(&self, on: bool, secs: i32) {
        self.st.lock().linger_abort = on && secs == 0;
    }

    fn set_rcvlowat(&self, v: i32) {
        self.rcvlowat.store(v.max(1) as usize, Ordering::Relaxed);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// lo's interface flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING (SIOCGIFFLAGS);
/// netlink adds IFF_LOWER_UP.
pub const LO_FLAGS: u32 = 0x1 | 0x8 | 0x40;
/// lo's index and MTU.
pub const LO_INDEX: u32 = 1;
pub const LO_MTU: u32 = 65536;
/// lo's transmit queue length (SIOCGIFTXQLEN, IFLA_TXQLEN).
pub const LO_TXQLEN: u32 = 1000;
/// SIOCGIFTXQLEN.
const SIOCGIFTXQLEN: u32 = 0x8942;

/// IFNAMSIZ, and the size of struct ifreq (a name and a union as large as
/// struct ifmap: 24 bytes on 64-bit, 16 on 32-bit).
const IFNAMSIZ: usize = 16;
const IFREQ: usize = if cfg!(target_pointer_width = "64") {
    40
} else {
    32
};

/// The interface ioctls (SIOCGIFCONF, SIOCGIFADDR...) of any socket, for
/// the guest's one interface, `lo`.
pub fn iface_ioctl(_io: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
    let known = matches!(
        cmd,
        SIOCGIFNAME
            | SIOCGIFFLAGS
            | SIOCGIFADDR
            | SIOCGIFNETMASK
            | SIOCGIFBRDADDR
            | SIOCGIFMTU
            | SIOCGIFHWADDR
            | SIOCGIFINDEX
            | SIOCGIFTXQLEN
    );
    if !known {
        return Err(Errno::ENOTTY);
    }
    let mut req = [0u8; IFREQ];
    arg.read_in(&mut req)?;
    if cmd == SIOCGIFNAME {
        let idx = i32::from_ne_bytes([req[16], req[17], req[18], req[19]]);
        if idx != LO_INDEX as i32 {
            return Err(Errno::ENODEV);
        }
        req[..IFNAMSIZ].fill(0);
        req[..2].copy_from_slice(b"lo");
        arg.write_out(&req)?;
        return Ok(0);
    }
    let end = req[..IFNAMSIZ]
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(IFNAMSIZ);
    if &req[..end] != b"lo" {
        return Err(Errno::ENODEV);
    }
    let u = &mut req[IFNAMSIZ..];
    u.fill(0);
    let sin = |a: [u8; 4]| {
        let mut s = [0u8; 16];
        s[..2].copy_from_slice(&AF_INET.to_ne_bytes());
        s[4..8].copy_from_slice(&a);
        s
    };
    match cmd {
        SIOCGIFFLAGS => u[..2].copy_from_slice(&(LO_FLAGS as u16).to_ne_bytes()),
        SIOCGIFADDR => u[..16].copy_from_slice(&sin([127, 0, 0, 1])),
        SIOCGIFNETMASK => u[..16].copy_from_slice(&sin([255, 0, 0, 0])),
        // lo has no broadcast address: Linux answers 0.0.0.0.
        SIOCGIFBRDADDR => u[..16].copy_from_slice(&sin([0, 0, 0, 0])),
        SIOCGIFMTU => u[..4].copy_from_slice(&LO_MTU.to_ne_bytes()),
        // ARPHRD_LOOPBACK with an all-zero address.
        SIOCGIFHWADDR => u[..2].copy_from_slice(&772u16.to_ne_bytes()),
        SIOCGIFINDEX => u[..4].copy_from_slice(&LO_INDEX.to_ne_bytes()),
        SIOCGIFTXQLEN => u[..4].copy_from_slice(&LO_TXQLEN.to_ne_bytes()),
        _ => return Err(Errno::ENOTTY),
    }
    arg.write_out(&req)?;
    Ok(0)
}

/// SIOCGIFCONF: the ifreq records of the interfaces with an IPv4 address
/// (lo's), for a caller buffer of `cap` bytes; None when the caller only
/// asks for the size (a null buffer). Returns the records to write.
pub fn ifconf(cap: Option<usize>) -> Vec<u8> {
    let mut rec = [0u8; IFREQ];
    rec[..2].copy_from_slice(b"lo");
    rec[IFNAMSIZ..IFNAMSIZ + 2].copy_from_slice(&AF_INET.to_ne_bytes());
    rec[IFNAMSIZ + 4..IFNAMSIZ + 8].copy_from_slice(&[127, 0, 0, 1]);
    match cap {
        Some(c) if c < IFREQ => Vec::new(),
        _ => rec.to_vec(),
    }
}

/// The size of struct ifreq for this arch.
pub const IFREQ_SIZE: usize = IFREQ;

/// /proc/net/dev: lo's counters. There are no packets: a packet here is one
/// stream send or one datagram, and the bytes are their payload (Linux
/// also counts headers, handshakes and ACKs), so the figures are lower than
/// Linux's for the same traffic.
pub fn proc_net_dev(net: &NetNs) -> Vec<u8> {
    let (p, b) = *net.inet.stats.lock();
    format!(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets \
         errs drop fifo colls carrier compressed\n{:>6}:{:>8} {:>7} {:>4} {:>4} {:>4} {:>5} \
         {:>10} {:>9} {:>8} {:>7} {:>4} {:>4} {:>4} {:>5} {:>7} {:>10}\n",
        "lo", b, p, 0, 0, 0, 0, 0, 0, b, p, 0, 0, 0, 0, 0, 0
    )
    .into_bytes()
}

/// Linux's TCP states as /proc/net/tcp shows them.
const TCP_ESTABLISHED: u8 = 1;
const TCP_SYN_SENT: u8 = 2;
const TCP_FIN_WAIT1: u8 = 4;
const TCP_FIN_WAIT2: u8 = 5;
const TCP_TIME_WAIT: u8 = 6;
const TCP_CLOSE: u8 = 7;
const TCP_CLOSE_WAIT: u8 = 8;
const TCP_LAST_ACK: u8 = 9;
const TCP_LISTEN: u8 = 10;
const TCP_CLOSING: u8 = 11;

/// An address as /proc/net shows it: each 32-bit word of the network-order
/// address printed as a little-endian host's integer (IPv4: the mapped
/// address's last word).
fn proc_addr(ip: &Ip, v6: bool) -> String {
    let word = |i: usize| u32::from_le_bytes([ip[i], ip[i + 1], ip[i + 2], ip[i + 3]]);
    if v6 {
        format!(
            "{:08X}{:08X}{:08X}{:08X}",
            word(0),
            word(4),
            word(8),
            word(12)
        )
    } else {
        format!("{:08X}", word(12))
    }
}

/// /proc/net/tcp, tcp6, udp and udp6 (`udp`, `v6`): the guest's sockets
/// of that protocol and family (an AF_INET6 socket is in the *6 file even
/// for its IPv4 traffic) as Linux's tcp4_seq_show, tcp6_seq_show,
/// udp4_seq_show and udp6_seq_show print them: TCP listeners and
/// connections, bound UDP sockets. What this kernel does not keep is shown
/// as Linux shows an idle loopback socket: no timer, no retransmits, the
/// kernel pointer hidden, Linux's initial RTO and ATO; a connection both
/// ends of which sent their FIN is over (not listed), and the TIME_WAIT
/// and orphaned FIN_WAIT2 ends follow, with the time they have left and no
/// inode, as Linux's timewait sockets. A socket's rx_queue counts a FIN
/// received, as rcv_nxt does. Sockets carried by a host socket
/// (`--net host`, `--publish`) are the host's, not listed.
pub fn proc_net_inet(net: &NetNs, udp: bool, v6: bool) -> Vec<u8> {
    let family = if v6 { AF_INET6 } else { AF_INET };
    let mut out = String::new();
    match (udp, v6) {
        (false, false) => out.push_str(&format!(
            "{:<149}\n",
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
             retrnsmt   uid  timeout inode"
        )),
        (true, false) => out.push_str(&format!(
            "{:<127}\n",
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
             retrnsmt   uid  timeout inode ref pointer drops"
        )),
        (false, true) => out.push_str(
            "  sl  local_address                         remote_address                        \
             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
        ),
        (true, true) => out.push_str(
            "  sl  local_address                         remote_address                        \
             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n",
        ),
    }
    let socks: Vec<Arc<InetSock>> = net
        .inet
        .socks
        .lock()
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|s| s.udp == udp && s.family == family && s.host.lock().is_none())
        .collect();
    let mut sl = 0;
    for s in socks {
        let ino = s.ino.load(Ordering::Relaxed);
        let st = s.st.lock();
        let Some(local) = st.local else {
            continue;
        };
        let peer = st.peer.unwrap_or((if v6 { ANY6 } else { ANY4 }, 0));
        let (state, tx, rx) = if udp {
            let state = if st.peer.is_some() {
                TCP_ESTABLISHED
            } else {
                TCP_CLOSE
            };
            (state, 0, st.dbytes)
        } else {
            match &st.conn {
                Conn::Listen { queue, .. } => (TCP_LISTEN, 0, queue.len()),
                Conn::Connecting { .. } => (TCP_SYN_SENT, 0, 0),
                Conn::Connected { pair, side, .. } => {
                    let p = pair.lock();
                    let i = *side;
                    let state = p.state(i);
                    if state == TCP_CLOSE {
                        // Reset, or over: its TIME_WAIT, if it has one, is
                        // listed below, without a socket.
                        continue;
                    }
                    let tx = p.q[1 - i].len().saturating_sub(RCV_WINDOW);
                    // rcv_nxt counts a FIN received.
                    (state, tx, p.q[i].len() + p.fin[1 - i] as usize)
                }
                // Bound only, or closed: Linux lists neither.
                Conn::Idle | Conn::Failed => continue,
            }
        };
        let line = format!(
            "{:4}: {}:{:04X} {}:{:04X} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {}",
            sl,
            proc_addr(&local.0, v6),
            local.1,
            proc_addr(&peer.0, v6),
            peer.1,
            state,
            tx,
            rx,
            st.uid,
            0,
            ino
        );
        let line = if udp {
            // udp's "sl" is its hash bucket, 5 wide; then ref, pointer, drops.
            let line = format!("{:5}{}", u32::from(local.1) & 0xff, &line[4..]);
            format!("{line} 2 0000000000000000 0")
        } else if state == TCP_LISTEN {
            format!("{line} 1 0000000000000000 100 0 0 10 0")
        } else {
            format!("{line} 1 0000000000000000 20 4 30 10 -1")
        };
        match (udp, v6) {
            (false, false) => out.push_str(&format!("{line:<149}\n")),
            (true, false) => out.push_str(&format!("{line:<127}\n")),
            _ => {
                out.push_str(&line);
                out.push('\n');
            }
        }
        sl += 1;
    }
    if !udp {
        // get_timewait4_sock, get_timewait6_sock: the time left in clock
        // ticks (USER_HZ), no inode, three references.
        let now = net.inet.now();
        let mut tw = net.inet.tw.lock();
        tw.prune(now);
        for t in tw.entries.values().filter(|t| t.end.family == family) {
            let left = t.expires.saturating_sub(now) / 10_000_000;
            let line = format!(
                "{:4}: {}:{:04X} {}:{:04X} {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {:016X}",
                sl,
                proc_addr(&t.end.local.0, v6),
                t.end.local.1,
                proc_addr(&t.end.peer.0, v6),
                t.end.peer.1,
                t.state,
                0,
                0,
                3,
                left,
                0,
                0,
                0,
                0,
                3,
                0
            );
            if v6 {
                out.push_str(&line);
                out.push('\n');
            } else {
                out.push_str(&format!("{line:<149}\n"));
            }
            sl += 1;
        }
    }
    out.into_bytes()
}

/// /proc/net/raw and raw6: Linux's raw_seq_show and raw6_seq_show header.
/// The guest has no raw sockets (socket(2) answers ESOCKTNOSUPPORT), so
/// there is no line below it.
pub fn proc_net_raw(v6: bool) -> Vec<u8> {
    if v6 {
        b"  sl  local_address                         remote_address                        \
          st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
            .to_vec()
    } else {
        b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  \
          timeout inode ref pointer drops\n"
            .to_vec()
    }
}

/// /proc/net/packet: packet_seq_show's header (its first column as wide as
/// a kernel pointer). There are no AF_PACKET sockets (EAFNOSUPPORT).
pub fn proc_net_packet() -> Vec<u8> {
    let w = if cfg!(target_pointer_width = "64") {
        17
    } else {
        9
    };
    format!(
        "{:<w$}RefCnt Type Proto  Iface R Rmem   User   Inode\n",
        "sk"
    )
    .into_bytes()
}

/// /proc/net/if_inet6: ::1 on lo (index 1, /128, host scope, permanent).
pub fn proc_if_inet6() -> Vec<u8> {
    b"00000000000000000000000000000001 01 80 10 80       lo\n".to_vec()
}

// AF_INET sockets as the `inet` feature builds them (without it, socket(2)
// answers EAFNOSUPPORT and their close path is left out).
#[cfg(all(test, feature = "inet"))]
mod tests {
    use super::*;
    use crate::testing::MockHost;

    /// The TIME_WAIT table's address index: ends that share both ports
    /// are told apart by their IPs, a port's ends are all found, a new end
    /// of the same 4-tuple replaces the old one, and ends expire in order.
    #[test]
    fn time_wait_table_indexes_by_port_and_tuple() {
        let end = |l: [u8; 4], lp: u16, p: [u8; 4], pp: u16| End {
            family: 2,
            local: (mapped(l), lp),
            peer: (mapped(p), pp),
            ..End::default()
        };
        let mut t = TwTable::default();
        let a = end([127, 0, 0, 1], 80, [127, 0, 0, 2], 4000);
        let b = end([127, 0, 0, 3], 80, [127, 0, 0, 2], 4000);
        let c = end([127, 0, 0, 1], 81, [127, 0, 0, 2], 4000);
        t.put(10, a, TCP_TIME_WAIT, 100);
        t.put(11, b, TCP_TIME_WAIT, 200);
        t.put(12, c, TCP_FIN_WAIT2, 300);
        assert_eq!(t.find(a.local, a.peer).map(|x| x.0), Some(10));
        assert_eq!(t.find(b.local, b.peer).map(|x| x.0), Some(11));
        assert_eq!(t.find(c.local, c.peer).map(|x| x.0), Some(12));
        assert!(t.find(a.peer, a.local).is_none(), "the other direction");
        assert_eq!(t.on_port(80).count(), 2);
        assert_eq!(t.on_port(81).count(), 1);
        assert_eq!(t.on_port(79).count() + t.on_port(82).count(), 0);
        // The same 4-tuple again under a new key: the old end goes.
        t.put(13, a, TCP_TIME_WAIT, 400);
        assert_eq!(t.find(a.local, a.peer).map(|x| x.0), Some(13));
        assert_eq!(t.entries.len(), 3);
        t.remove(11);
        assert_eq!(t.on_port(80).count(), 1);
        // Key 12 expires first, then 13.
        t.prune(300 + TIMEWAIT_NS);
        assert_eq!(t.on_port(81).count(), 0);
        assert_eq!(t.entries.len(), 1);
        t.prune(400 + TIMEWAIT_NS);
        assert!(t.entries.is_empty() && t.by_addr.is_empty() && t.by_expiry.is_empty());
    }

    fn cx(io: &mut MockHost, nonblock: bool) -> SockCx<'_> {
        SockCx {
            io,
            caller: super::super::Ucred {
                pid: 1,
                uid: 0,
                gid: 0,
            },
            scm: super::super::Ucred {
                pid: 1,
                uid: 0,
                gid: 0,
            },
            nonblock,
        }
    }

    fn v4(a: [u8; 4], port: u16) -> SockAddr {
        SockAddr::Inet { addr: a, port }
    }

    fn v6(addr: Ip, port: u16) -> SockAddr {
        SockAddr::Inet6 {
            addr,
            port,
            flowinfo: 0,
            scope_id: 0,
        }
    }

    /// A TCP listener (backlog 4) on 127.0.0.1 at a port bind(2) picked,
    /// and that port.
    fn listener(net: &Arc<NetNs>, h: &mut MockHost) -> (Arc<dyn Socket>, u16) {
        let l = create(net, AF_INET, SOCK_STREAM, 0).unwrap();
        l.bind(&mut cx(h, true), &v4([127, 0, 0, 1], 0), None)
            .unwrap();
        l.listen(&mut cx(h, true), 4).unwrap();
        let p = port_of(&*l);
        (l, p)
    }

    /// A TCP socket connected to 127.0.0.1:`port` (blocking connect).
    fn client(net: &Arc<NetNs>, h: &mut MockHost, port: u16) -> Arc<dyn Socket> {
        let c = create(net, AF_INET, SOCK_STREAM, 0).unwrap();
        c.connect(&mut cx(h, false), &v4([127, 0, 0, 1], port), None)
            .unwrap();
        c
    }

    fn port_of(s: &dyn Socket) -> u16 {
        match s.local_addr().unwrap() {
            SockAddr::Inet { port, .. } | SockAddr::Inet6 { port, .. } => port,
            a => panic!("{a:?}"),
        }
    }

    fn send(s: &dyn Socket, h: &mut MockHost, data: &[u8]) -> KResult<usize> {
        let msg = SendMsg {
            data,
            to: None,
            anc: Vec::new(),
            flags: 0,
        };
        s.send(&mut cx(h, true), msg)
    }

    fn recv(s: &dyn Socket, h: &mut MockHost) -> KResult<Vec<u8>> {
        let mut buf = [0u8; 64];
        let r = s.recv(&mut cx(h, true), &mut buf, 0)?;
        Ok(buf[..r.len].to_vec())
    }

    #[test]
    fn bind_conflicts_follow_the_address_scopes() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let a = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        a.bind(&mut cx(h, true), &v4([127, 0, 0, 1], 0), None)
            .unwrap();
        let p = port_of(&*a);
        assert!((32768..=60999).contains(&p));
        let clash = |fam, addr: SockAddr| {
            let s = create(&net, fam, SOCK_STREAM, 0).unwrap();
            s.bind(&mut cx(&mut MockHost::new(1 << 20), true), &addr, None)
        };
        assert_eq!(clash(AF_INET, v4([0, 0, 0, 0], p)), Err(Errno::EADDRINUSE));
        assert_eq!(clash(AF_INET, v4([127, 0, 0, 2], p)), Ok(()));
        assert_eq!(clash(AF_INET6, v6(ANY6, p)), Err(Errno::EADDRINUSE));
        assert_eq!(clash(AF_INET6, v6(LOOP6, p)), Ok(()));
        assert_eq!(
            clash(AF_INET, v4([10, 0, 0, 1], 0)),
            Err(Errno::EADDRNOTAVAIL)
        );
        // A UDP socket has its own ports.
        let u = create(&net, AF_INET, SOCK_DGRAM, 0).unwrap();
        assert_eq!(
            u.bind(&mut cx(h, true), &v4([127, 0, 0, 1], p), None),
            Ok(())
        );
        drop(a);
        assert_eq!(clash(AF_INET, v4([0, 0, 0, 0], p)), Ok(()));
    }

    #[test]
    fn a_connection_carries_bytes_half_closes_and_resets() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let l = create(&net, AF_INET6, SOCK_STREAM, 0).unwrap();
        l.bind(&mut cx(h, true), &v6(ANY6, 0), None).unwrap();
        l.listen(&mut cx(h, true), 0).unwrap();
        let p = port_of(&*l);
        let c = client(&net, h, p);
        assert_eq!(
            c.connect(&mut cx(h, false), &v4([127, 0, 0, 1], p), None),
            Err(Errno::EISCONN)
        );
        // The backlog (0) holds one connection: the next waits.
        let c2 = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        assert_eq!(
            c2.connect(&mut cx(h, false), &v4([127, 0, 0, 1], p), None),
            Err(Errno::EAGAIN)
        );
        let (a, peer) = l.accept(&mut cx(h, true)).unwrap();
        assert!(matches!(peer, SockAddr::Inet6 { addr, .. } if addr == LOOP4));
        assert_eq!(send(&*c, h, b"hello"), Ok(5));
        assert_eq!(recv(&*a, h).unwrap(), b"hello");
        assert_eq!(recv(&*a, h), Err(Errno::EAGAIN));
        c.shutdown(&mut cx(h, true), SHUT_WR).unwrap();
        assert_eq!(recv(&*a, h).unwrap(), b"");
        assert_eq!(send(&*c, h, b"x"), Err(Errno::EPIPE));
        assert_eq!(send(&*a, h, b"back"), Ok(4));
        // Closing with unread data resets the peer.
        drop(c);
        assert_eq!(send(&*a, h, b"x"), Err(Errno::ECONNRESET));
        assert_eq!(send(&*a, h, b"x"), Err(Errno::EPIPE));
        assert!(a.poll(h).contains(PollEvents::POLLHUP));
        // Nobody listens on a closed port.
        drop(l);
        assert_eq!(
            c2.connect(&mut cx(h, false), &v4([127, 0, 0, 1], p), None),
            Err(Errno::ECONNREFUSED)
        );
    }

    /// The one-copy paths: a send of slices queues them in order as one
    /// buffer; a receive hands the queue's bytes to a sink, and what the
    /// sink refuses stays queued (all of it when the first piece is
    /// refused: the sink's error; the first piece when the second is, the
    /// queue having wrapped), under MSG_PEEK too.
    #[test]
    fn slices_in_and_a_sink_out() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let (l, p) = listener(&net, h);
        let c = client(&net, h, p);
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        assert!(c.sends_slices());
        assert_eq!(c.send_slices(&[b"hel", b"", b"lo"], 0), Some(Ok(5)));
        let mut got = Vec::new();
        let refuse = &mut |_: &[u8]| Err(Errno::EFAULT);
        assert_eq!(
            a.recv_to(5, 0, refuse).map(|r| r.map(|r| r.len)),
            Some(Err(Errno::EFAULT))
        );
        assert_eq!(
            a.recv_to(5, MSG_PEEK, refuse).map(|r| r.map(|r| r.len)),
            Some(Err(Errno::EFAULT))
        );
        let r = a.recv_to(3, MSG_PEEK, &mut |d| {
            got.extend_from_slice(d);
            Ok(())
        });
        assert_eq!(r.map(|r| r.map(|r| r.len)), Some(Ok(3)));
        assert_eq!(got, b"hel");
        assert_eq!(recv(&*a, h).unwrap(), b"hello");
        // Wrap the queue: fill it, read part, refill the front.
        let big = alloc::vec![7u8; STREAM_CAP];
        assert_eq!(c.send_slices(&[&big], 0), Some(Ok(STREAM_CAP)));
        assert_eq!(c.send_slices(&[b"x"], 0), Some(Err(Errno::EAGAIN)));
        let mut sink = alloc::vec![0u8; STREAM_CAP - 10];
        assert_eq!(
            a.recv(&mut cx(h, true), &mut sink, 0).map(|r| r.len),
            Ok(STREAM_CAP - 10)
        );
        assert_eq!(c.send_slices(&[b"tail"], 0), Some(Ok(4)));
        let mut pieces = 0;
        let r = a.recv_to(14, 0, &mut |d| {
            pieces += 1;
            if pieces == 2 {
                return Err(Errno::EFAULT);
            }
            got = d.to_vec();
            Ok(())
        });
        // Either the queue wrapped (10 bytes taken, "tail" kept) or not
        // (one piece, all 14 taken); either way nothing is lost.
        let took = r.unwrap().unwrap().len;
        assert_eq!(&got[..], &[&[7u8; 10][..], b"tail"].concat()[..took]);
        let rest = recv(&*a, h).unwrap_or_default();
        assert_eq!(took + rest.len(), 14);
        assert_eq!(&rest[..], &b"tail"[4 - rest.len()..]);
    }

    /// MSG_TRUNC on TCP (tcp_recvmsg, tcp_recv_urg): the bytes are counted
    /// and taken (only counted under MSG_PEEK) but handed to no sink and
    /// written to no buffer; the urgent byte likewise.
    #[test]
    fn msg_trunc_takes_tcp_bytes_without_copying_them() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let (l, p) = listener(&net, h);
        let c = client(&net, h, p);
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        assert_eq!(send(&*c, h, b"abcdefgh"), Ok(8));
        let never = &mut |_: &[u8]| -> KResult<()> { panic!("MSG_TRUNC copied") };
        let r = a.recv_to(3, MSG_PEEK | MSG_TRUNC, never).unwrap().unwrap();
        assert_eq!((r.len, r.full, r.discarded), (3, 3, true));
        let r = a.recv_to(3, MSG_TRUNC, never).unwrap().unwrap();
        assert_eq!((r.len, r.discarded), (3, true));
        let mut buf = [b'.'; 4];
        let r = a.recv(&mut cx(h, true), &mut buf, MSG_TRUNC).unwrap();
        assert_eq!((r.len, r.discarded, &buf), (4, true, b"...."));
        assert_eq!(recv(&*a, h).unwrap(), b"h");
        // Without MSG_TRUNC the bytes are copied and marked so.
        assert_eq!(send(&*c, h, b"xy"), Ok(2));
        let r = a.recv(&mut cx(h, true), &mut buf, 0).unwrap();
        assert_eq!((r.len, r.discarded, &buf[..2]), (2, false, &b"xy"[..]));
        // The urgent byte: counted (1), not stored, and taken.
        let msg = SendMsg {
            data: b"U",
            to: None,
            anc: Vec::new(),
            flags: MSG_OOB,
        };
        assert_eq!(c.send(&mut cx(h, true), msg), Ok(1));
        let mut one = [b'.'; 1];
        let r = a
            .recv(&mut cx(h, true), &mut one, MSG_OOB | MSG_TRUNC)
            .unwrap();
        assert_eq!((r.len, r.discarded, one[0]), (1, true, b'.'));
        assert_eq!(
            a.recv(&mut cx(h, true), &mut one, MSG_OOB).map(|r| r.len),
            Err(Errno::EINVAL)
        );
    }

    /// The SIGIO counts of TCP and UDP sockets (sk_wake_async): POLL_IN per
    /// segment and datagram and per connection queued, POLL_HUP and POLL_IN
    /// for a FIN after the receiver's own, POLL_OUT for a connect made,
    /// POLL_ERR for a reset and a refusal, none of POLL_IN while a reader
    /// sleeps (SOCKWQ_ASYNC_WAITDATA).
    #[test]
    fn async_counts_follow_sk_wake_async() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let (l, p) = listener(&net, h);
        let c = client(&net, h, p);
        assert_eq!(l.async_counts(), Some([1, 0, 0, 0]));
        assert_eq!(c.async_counts(), Some([0, 1, 0, 0]));
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        send(&*c, h, b"x").unwrap();
        send(&*c, h, b"y").unwrap();
        assert_eq!(a.async_counts(), Some([2, 0, 0, 0]));
        // A reader sleeps: nothing is counted for the data it wakes for.
        let sleeping = Sleepers::enter(&a.sleepers().unwrap());
        send(&*c, h, b"z").unwrap();
        assert_eq!(a.async_counts(), Some([2, 0, 0, 0]));
        drop(sleeping);
        // The peer's FIN without our own: POLL_IN twice.
        c.shutdown(&mut cx(h, true), SHUT_WR).unwrap();
        assert_eq!(a.async_counts(), Some([4, 0, 0, 0]));
        // Closing with data unread resets the peer.
        send(&*a, h, b"back").unwrap();
        assert_eq!(c.async_counts(), Some([1, 1, 0, 0]));
        drop(c);
        assert_eq!(a.async_counts(), Some([4, 0, 0, 1]));
        // The peer's FIN after our own: POLL_HUP, then POLL_IN.
        let c = client(&net, h, p);
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        a.shutdown(&mut cx(h, true), SHUT_WR).unwrap();
        c.shutdown(&mut cx(h, true), SHUT_WR).unwrap();
        assert_eq!(a.async_counts(), Some([1, 0, 1, 0]));
        // A blocking connect refused: tcp_reset, then tcp_disconnect.
        drop(l);
        let r = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        assert_eq!(
            r.connect(&mut cx(h, false), &v4([127, 0, 0, 1], p), None),
            Err(Errno::ECONNREFUSED)
        );
        assert_eq!(r.async_counts(), Some([0, 0, 0, 2]));
        assert!(create(&net, AF_INET, SOCK_DGRAM, 0)
            .unwrap()
            .sleepers()
            .is_none());
    }

    /// A simultaneous close: the client's FIN waits behind data beyond the
    /// server's window, the server's FIN meets it in FIN_WAIT1 (CLOSING),
    /// and once the server has read everything both ends are in TIME_WAIT.
    #[test]
    fn simultaneous_close_leaves_both_ends_in_time_wait() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let (l, p) = listener(&net, h);
        let c = client(&net, h, p);
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        let big = alloc::vec![0u8; 1 << 16];
        while send(&*c, h, &big).is_ok() {}
        let state = |s: &Arc<dyn Socket>| {
            let any = s.as_any().downcast_ref::<InetSock>().unwrap();
            any.tcp_info(&any.st.lock())[0]
        };
        c.shutdown(&mut cx(h, true), SHUT_WR).unwrap();
        assert_eq!(state(&c), TCP_FIN_WAIT1);
        a.shutdown(&mut cx(h, true), SHUT_WR).unwrap();
        assert_eq!((state(&c), state(&a)), (TCP_CLOSING, TCP_FIN_WAIT2));
        assert_eq!(net.inet.tw.lock().entries.len(), 0);
        let mut buf = alloc::vec![0u8; 1 << 16];
        while a
            .recv(&mut cx(h, true), &mut buf, 0)
            .is_ok_and(|r| r.len > 0)
        {}
        assert_eq!((state(&c), state(&a)), (TCP_CLOSE, TCP_CLOSE));
        let tw = net.inet.tw.lock();
        assert_eq!(tw.entries.len(), 2);
        assert!(tw.entries.values().all(|t| t.state == TCP_TIME_WAIT));
    }

    /// An end closed while its FIN waits behind data stays as an orphan:
    /// FIN_WAIT1, CLOSING when the peer's FIN comes, TIME_WAIT once its
    /// FIN went.
    #[test]
    fn an_orphan_waits_for_its_fin() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let (l, p) = listener(&net, h);
        let c = client(&net, h, p);
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        let big = alloc::vec![0u8; 1 << 16];
        while send(&*c, h, &big).is_ok() {}
        drop(c);
        let states = |net: &NetNs| {
            let mut v: Vec<u8> = net
                .inet
                .tw
                .lock()
                .entries
                .values()
                .map(|t| t.state)
                .collect();
            v.sort();
            v
        };
        assert_eq!(states(&net), [TCP_FIN_WAIT1]);
        a.shutdown(&mut cx(h, true), SHUT_WR).unwrap();
        assert_eq!(states(&net), [TCP_CLOSING]);
        let mut buf = alloc::vec![0u8; 1 << 16];
        while a
            .recv(&mut cx(h, true), &mut buf, 0)
            .is_ok_and(|r| r.len > 0)
        {}
        assert_eq!(states(&net), [TCP_TIME_WAIT, TCP_TIME_WAIT]);
    }

    /// IP_LOCAL_PORT_RANGE bounds the ephemeral port; a connect without
    /// bind(2) takes over its own 4-tuple's TIME_WAIT only once it is a
    /// second old (tcp_tw_reuse = 2), and bind(0) finds no port then
    /// (EADDRINUSE).
    #[test]
    fn a_port_range_and_the_time_wait_reuse_delay() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let (l, p) = listener(&net, h);
        let one_port = |h: &mut MockHost| {
            let c = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
            let r = 45678u32 | 45678 << 16;
            c.setsockopt(
                &mut cx(h, true),
                SOL_IP,
                IP_LOCAL_PORT_RANGE,
                &r.to_ne_bytes(),
            )
            .unwrap();
            c
        };
        let bad = (2000u32 | 1000 << 16).to_ne_bytes();
        assert_eq!(
            one_port(h).setsockopt(&mut cx(h, true), SOL_IP, IP_LOCAL_PORT_RANGE, &bad),
            Err(Errno::EINVAL)
        );
        net.inet.note_time(1_000_000_000);
        let c = one_port(h);
        c.connect(&mut cx(h, false), &v4([127, 0, 0, 1], p), None)
            .unwrap();
        assert_eq!(port_of(&*c), 45678);
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        drop(c);
        drop(a);
        let c = one_port(h);
        assert_eq!(
            c.connect(&mut cx(h, false), &v4([127, 0, 0, 1], p), None),
            Err(Errno::EADDRNOTAVAIL)
        );
        assert_eq!(
            one_port(h).bind(&mut cx(h, true), &v4([127, 0, 0, 1], 0), None),
            Err(Errno::EADDRINUSE)
        );
        net.inet.note_time(2_500_000_000);
        c.connect(&mut cx(h, false), &v4([127, 0, 0, 1], p), None)
            .unwrap();
        assert_eq!(port_of(&*c), 45678);
    }

    /// A listener closed with a connection it did not accept resets it and
    /// sends no FIN after: the peer reads ECONNRESET first.
    #[test]
    fn a_closed_listener_resets_without_a_fin() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let (l, p) = listener(&net, h);
        let c = client(&net, h, p);
        drop(l);
        assert_eq!(recv(&*c, h), Err(Errno::ECONNRESET));
        assert_eq!(recv(&*c, h).unwrap(), b"");
    }

    /// TCP urgent data: one mark per receiver, reads stop at it and skip
    /// the urgent byte, FIONREAD counts up to it, and a new mark arriving
    /// while the reader stands on the old one drops the old byte.
    #[test]
    fn urgent_data_keeps_one_mark() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let l = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        l.bind(&mut cx(h, true), &v4([127, 0, 0, 1], 0), None)
            .unwrap();
        l.listen(&mut cx(h, true), 1).unwrap();
        let c = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        c.connect(&mut cx(h, false), &v4([127, 0, 0, 1], port_of(&*l)), None)
            .unwrap();
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        let oob = |s: &dyn Socket, h: &mut MockHost, data: &[u8]| {
            let msg = SendMsg {
                data,
                to: None,
                anc: Vec::new(),
                flags: MSG_OOB,
            };
            s.send(&mut cx(h, true), msg)
        };
        let inq = |s: &dyn Socket| {
            s.as_any()
                .downcast_ref::<InetSock>()
                .unwrap()
                .queues()
                .unwrap()
                .0
        };
        let mut one = [0u8; 1];
        assert_eq!(
            a.recv(&mut cx(h, true), &mut one, MSG_OOB).map(|r| r.len),
            Err(Errno::EINVAL)
        );
        assert_eq!(oob(&*c, h, b"helloX"), Ok(6));
        assert_eq!(send(&*c, h, b"world"), Ok(5));
        assert_eq!(inq(&*a), 5);
        assert!(a.poll(h).contains(PollEvents::POLLPRI));
        assert_eq!(recv(&*a, h).unwrap(), b"hello");
        assert_eq!(inq(&*a), 0);
        assert_eq!(recv(&*a, h).unwrap(), b"world");
        assert_eq!(
            a.recv(&mut cx(h, true), &mut one, MSG_OOB).map(|r| r.len),
            Err(Errno::EINVAL)
        );
        // A lone urgent byte, then another: the reader stood on the first.
        assert_eq!(oob(&*c, h, b"A"), Ok(1));
        assert!(!a.poll(h).contains(PollEvents::POLLIN));
        assert_eq!(oob(&*c, h, b"B"), Ok(1));
        assert_eq!(a.urgent_marks(), 3);
        let r = a.recv(&mut cx(h, true), &mut one, MSG_OOB).unwrap();
        assert_eq!((r.len, one[0], r.flags & MSG_OOB), (1, b'B', MSG_OOB));
        assert_eq!(recv(&*a, h), Err(Errno::EAGAIN));
    }

    /// The end that closes first stays in TIME_WAIT for 60 s of the
    /// kernel's clock, holding its port against bind(2) and listed in
    /// /proc/net/tcp; then it goes.
    #[test]
    fn time_wait_holds_the_port_for_sixty_seconds() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        net.inet.note_time(5_000_000_000);
        let l = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        l.bind(&mut cx(h, true), &v4([127, 0, 0, 1], 0), None)
            .unwrap();
        l.listen(&mut cx(h, true), 1).unwrap();
        let c = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        c.connect(&mut cx(h, false), &v4([127, 0, 0, 1], port_of(&*l)), None)
            .unwrap();
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        let cp = port_of(&*c);
        let bind_cp = |h: &mut MockHost| {
            let s = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
            s.bind(&mut cx(h, true), &v4([127, 0, 0, 1], cp), None)
        };
        let listed = |state: &str| {
            let text = String::from_utf8(proc_net_inet(&net, false, false)).unwrap();
            text.lines()
                .filter(|l| l.contains(&format!("0100007F:{cp:04X} ")))
                .any(|l| l.split_whitespace().nth(3) == Some(state))
        };
        drop(c);
        assert!(listed("05"));
        assert_eq!(bind_cp(h), Err(Errno::EADDRINUSE));
        drop(a);
        assert!(listed("06"));
        net.inet.note_time(64_000_000_000);
        assert_eq!(bind_cp(h), Err(Errno::EADDRINUSE));
        net.inet.note_time(65_000_000_000);
        assert!(!listed("06"));
        assert_eq!(bind_cp(h), Ok(()));
    }

    /// A connection through TIME_WAIT: connect is EISCONN until
    /// connect(AF_UNSPEC), which drops the source address and gives the
    /// port back (the TIME_WAIT keeps it); the next connect takes another
    /// port and the TIME_WAIT stays.
    #[test]
    fn disconnect_gives_the_port_back_and_keeps_the_time_wait() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let l = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        l.bind(&mut cx(h, true), &v4([127, 0, 0, 1], 0), None)
            .unwrap();
        l.listen(&mut cx(h, true), 4).unwrap();
        let to = v4([127, 0, 0, 1], port_of(&*l));
        let c = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        c.connect(&mut cx(h, false), &to, None).unwrap();
        let (a, _) = l.accept(&mut cx(h, true)).unwrap();
        let cp = port_of(&*c);
        c.shutdown(&mut cx(h, true), SHUT_WR).unwrap();
        drop(a);
        let tw = |net: &NetNs| {
            let text = String::from_utf8(proc_net_inet(net, false, false)).unwrap();
            text.lines()
                .filter(|l| l.contains(&format!("0100007F:{cp:04X} ")))
                .any(|l| l.split_whitespace().nth(3) == Some("06"))
        };
        assert!(tw(&net));
        assert_eq!(c.connect(&mut cx(h, false), &to, None), Err(Errno::EISCONN));
        c.connect(&mut cx(h, false), &SockAddr::Unspec, None)
            .unwrap();
        assert_eq!(c.local_addr(), Ok(v4([0, 0, 0, 0], cp)));
        c.connect(&mut cx(h, false), &to, None).unwrap();
        assert_ne!(port_of(&*c), cp);
        assert!(tw(&net));
    }

    #[test]
    fn udp_datagrams_keep_their_sender_and_refusals_reach_connected_sockets() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let a = create(&net, AF_INET6, SOCK_DGRAM, 0).unwrap();
        a.bind(&mut cx(h, true), &v6(ANY6, 0), None).unwrap();
        let p = port_of(&*a);
        let b = create(&net, AF_INET, SOCK_DGRAM, 0).unwrap();
        let to = v4([127, 0, 0, 1], p);
        let msg = SendMsg {
            data: b"dgram",
            to: Some((&to, None)),
            anc: Vec::new(),
            flags: 0,
        };
        assert_eq!(b.send(&mut cx(h, true), msg), Ok(5));
        let mut buf = [0u8; 2];
        let r = a.recv(&mut cx(h, true), &mut buf, 0).unwrap();
        assert_eq!((r.len, r.full), (2, 5));
        assert!(matches!(r.from, Some(SockAddr::Inet6 { addr, .. }) if addr == LOOP4));
        // A connected socket hears of a closed port on its next call.
        drop(a);
        b.connect(&mut cx(h, true), &to, None).unwrap();
        assert_eq!(send(&*b, h, b"x"), Ok(1));
        assert_eq!(recv(&*b, h), Err(Errno::ECONNREFUSED));
        assert_eq!(recv(&*b, h), Err(Errno::EAGAIN));
        // Beyond the loopback there is no route.
        let far = v4([10, 0, 0, 1], 9);
        let msg = SendMsg {
            data: b"x",
            to: Some((&far, None)),
            anc: Vec::new(),
            flags: 0,
        };
        assert_eq!(b.send(&mut cx(h, true), msg), Err(Errno::ENETUNREACH));
    }

    /// Random calls on a handful of TCP and UDP sockets of both families:
    /// no panic and no deadlock (a spin lock taken twice would hang).
    #[test]
    fn random_calls_keep_the_sockets_consistent() {
        for round in 1..=8u64 {
            random_calls(round.wrapping_mul(0x2545_f491_4f6c_dd1d));
        }
    }

    fn random_calls(mut seed: u64) {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let addrs = [
            v4([127, 0, 0, 1], 5000),
            v4([0, 0, 0, 0], 5000),
            v4([127, 0, 0, 2], 5001),
            v6(LOOP6, 5000),
            v6(ANY6, 5001),
            v6(LOOP4, 5000),
            v4([10, 0, 0, 1], 80),
            SockAddr::Unspec,
        ];
        let mut socks: Vec<Arc<dyn Socket>> = Vec::new();
        for _ in 0..5000 {
            if socks.len() < 3 || rnd(10) == 0 {
                let fam = if rnd(2) == 0 { AF_INET } else { AF_INET6 };
                let ty = if rnd(2) == 0 { SOCK_STREAM } else { SOCK_DGRAM };
                socks.push(create(&net, fam, ty, 0).unwrap());
            }
            let i = rnd(socks.len() as u64) as usize;
            let s = socks[i].clone();
            let a = &addrs[rnd(addrs.len() as u64) as usize];
            let nb = rnd(2) == 0;
            match rnd(12) {
                0 => drop(s.bind(&mut cx(h, nb), a, None)),
                1 | 2 => drop(s.connect(&mut cx(h, nb), a, None)),
                3 => drop(s.listen(&mut cx(h, nb), rnd(3) as i32 - 1)),
                4 => {
                    if let Ok((c, _)) = s.accept(&mut cx(h, nb)) {
                        socks.push(c);
                    }
                }
                5 | 6 => {
                    let data = [7u8; 300];
                    let msg = SendMsg {
                        data: &data[..rnd(300) as usize],
                        to: if rnd(2) == 0 { Some((a, None)) } else { None },
                        anc: Vec::new(),
                        flags: [0, MSG_OOB, MSG_DONTWAIT][rnd(3) as usize],
                    };
                    let _ = s.send(&mut cx(h, nb), msg);
                }
                7 | 8 => {
                    let mut buf = [0u8; 100];
                    let n = rnd(100) as usize;
                    let fl = [0, MSG_PEEK, MSG_TRUNC, MSG_OOB][rnd(4) as usize];
                    let _ = s.recv(&mut cx(h, nb), &mut buf[..n], fl);
                }
                9 => drop(s.shutdown(&mut cx(h, nb), rnd(3) as u32)),
                10 => {
                    let _ = s.poll(h);
                    let _ = s.wake_seq();
                    let _ = s.local_addr();
                    let _ = s.peer_addr();
                    let _ = s.getsockopt(&mut cx(h, nb), SOL_SOCKET, SO_ERROR, 4);
                }
                _ => {
                    drop(s);
                    socks.swap_remove(i);
                }
            }
        }
    }

    #[test]
    fn options_of_any_number_do_not_panic() {
        let net = Arc::new(NetNs::default());
        let h = &mut MockHost::new(1 << 20);
        let s = create(&net, AF_INET, SOCK_STREAM, 0).unwrap();
        for level in [SOL_SOCKET, SOL_IP, SOL_TCP, SOL_UDP, SOL_IPV6, 9999] {
            for name in [0, 1, 31, 32, 1000, u32::MAX] {
                let _ = s.getsockopt(&mut cx(h, true), level, name, 4);
                let _ = s.setsockopt(&mut cx(h, true), level, name, &[1, 0, 0, 0]);
                let _ = s.setsockopt(&mut cx(h, true), level, name, &[]);
            }
        }
    }
}
