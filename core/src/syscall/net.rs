//! The socket calls: socket, socketpair, bind, listen, accept, accept4,
//! connect, the send and receive family, shutdown, getsockname,
//! getpeername, getsockopt and setsockopt; and read, write, readv and writev
//! on sockets, which io.rs hands here.
//!
//! This layer owns everything that touches guest memory: addresses, msghdr
//! and mmsghdr, iovecs, control messages, and installing SCM_RIGHTS
//! descriptors. Families see typed values (net/mod.rs). It also owns what
//! every family shares: blocking and its timeouts (SO_RCVTIMEO,
//! SO_SNDTIMEO), MSG_DONTWAIT, MSG_WAITALL, SIGPIPE, and the generic
//! SOL_SOCKET options.

use super::uabi::{self, Long, NATIVE};
use super::Outcome;
use crate::fs::file::OpenFile;
use crate::fs::vfs::PollEvents;
use crate::host::Host;
use crate::kernel::Kernel;
use crate::net::{
    self, Ancillary, CommonOpts, NodeId, Received, SendMsg, SockAddr, SockCx, Socket, SocketFile,
    Ucred, UnixAddr,
};
use crate::task::fd_table::FdFlags;
use crate::task::{Restart, Wait};
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use umbra_abi::flags::{OpenFlags, O_RDWR};
use umbra_abi::net::*;
use umbra_abi::structs::Iovec;
use umbra_abi::syscall::nr::*;
use umbra_abi::Errno;

/// Most bytes one family call moves for a stream (the layer loops).
const STREAM_CHUNK: usize = 256 << 10;
/// Largest message a datagram or seqpacket send gathers (larger: EMSGSIZE).
const MAX_MSG: usize = 4 << 20;
/// Linux's MAX_RW_COUNT.
const MAX_RW: usize = 0x7fff_f000;
/// IOV_MAX (UIO_MAXIOV).
const IOV_MAX: usize = 1024;
/// Linux's limit on msg_controllen for a send (sysctl_optmem_max).
const OPTMEM_MAX: usize = 20480;
/// The most messages one sendmmsg or recvmmsg moves (UIO_MAXIOV).
const MMSG_MAX: usize = 1024;

/// The socket calls every arch numbers alike; None for other calls.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    let fd = a[0] as i32;
    Some(match n {
        SOCKET => Outcome::Ret(sys_socket(k, a[0] as u32, a[1] as u32, a[2] as u32)),
        SOCKETPAIR => Outcome::Ret(sys_socketpair(
            k,
            a[0] as u32,
            a[1] as u32,
            a[2] as u32,
            a[3],
        )),
        BIND => Outcome::Ret(sys_bind(k, fd, a[1], a[2] as u32)),
        LISTEN => Outcome::Ret(sys_listen(k, fd, a[1] as i32)),
        CONNECT => sys_connect(k, fd, a[1], a[2] as u32),
        ACCEPT => sys_accept4(k, fd, a[1], a[2], 0),
        ACCEPT4 => sys_accept4(k, fd, a[1], a[2], a[3] as u32),
        SENDTO => sys_sendto(k, fd, a[1], a[2] as usize, a[3] as u32, a[4], a[5] as u32),
        RECVFROM => sys_recvfrom(k, fd, a[1], a[2] as usize, a[3] as u32, a[4], a[5]),
        SENDMSG => sys_sendmsg(k, fd, a[1], a[2] as u32),
        RECVMSG => sys_recvmsg(k, fd, a[1], a[2] as u32),
        SENDMMSG => sys_sendmmsg(k, fd, a[1], a[2] as u32, a[3] as u32),
        RECVMMSG => sys_recvmmsg(
            k,
            fd,
            a[1],
            a[2] as u32,
            a[3] as u32,
            a[4],
            uabi::TimeAbi::Long,
        ),
        SHUTDOWN => Outcome::Ret(sys_shutdown(k, fd, a[1] as u32)),
        GETSOCKNAME => Outcome::Ret(sys_getname(k, fd, a[1], a[2], false)),
        GETPEERNAME => Outcome::Ret(sys_getname(k, fd, a[1], a[2], true)),
        GETSOCKOPT => Outcome::Ret(sys_getsockopt(k, fd, a[1] as u32, a[2] as u32, a[3], a[4])),
        SETSOCKOPT => Outcome::Ret(sys_setsockopt(
            k,
            fd,
            a[1] as u32,
            a[2] as u32,
            a[3],
            a[4] as u32,
        )),
        _ => return None,
    })
}

/// The socket of descriptor `fd`: EBADF if none, ENOTSOCK if not a socket.
fn sock_file<H: Host>(k: &mut Kernel<H>, fd: i32) -> KResult<(Arc<OpenFile>, Arc<dyn Socket>)> {
    let f = k.proc().fds.get(fd)?;
    let s = net::socket_of(&f).ok_or(Errno::ENOTSOCK)?.sock.clone();
    Ok((f, s))
}

fn opts_of(f: &OpenFile) -> Option<&SocketFile> {
    net::socket_of(f)
}

/// The caller's credentials: effective ids, as SO_PEERCRED reports them.
fn caller<H: Host>(k: &mut Kernel<H>) -> Ucred {
    let pid = k.cur;
    let c = &k.proc().creds;
    Ucred {
        pid,
        uid: c.euid,
        gid: c.egid,
    }
}

/// Runs `f` with a socket context for the current caller.
fn with_cx<H: Host, R>(
    k: &mut Kernel<H>,
    nonblock: bool,
    f: impl FnOnce(&mut SockCx<'_>) -> R,
) -> R {
    let caller = caller(k);
    let scm = Ucred {
        pid: caller.pid,
        uid: k.proc().creds.ruid,
        gid: k.proc().creds.rgid,
    };
    let mut c = SockCx {
        io: &mut k.host,
        caller,
        scm,
        nonblock,
    };
    f(&mut c)
}

/// Installs a new socket as a descriptor with SOCK_NONBLOCK/SOCK_CLOEXEC
/// `flags`.
fn install<H: Host>(k: &mut Kernel<H>, s: Arc<dyn Socket>, flags: u32) -> KResult<i32> {
    install_with(k, s, flags, CommonOpts::default())
}

/// [`install`] for a socket whose generic options start as `opts`.
fn install_with<H: Host>(
    k: &mut Kernel<H>,
    s: Arc<dyn Socket>,
    flags: u32,
    opts: CommonOpts,
) -> KResult<i32> {
    let mut fl = OpenFlags::from_bits_retain(O_RDWR);
    if flags & SOCK_NONBLOCK != 0 {
        fl |= OpenFlags::O_NONBLOCK;
    }
    let sf = SocketFile::new(s);
    *sf.opts.lock() = opts;
    let f = OpenFile::from_ops(sf, fl);
    let fdfl = if flags & SOCK_CLOEXEC != 0 {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    k.proc().fds.alloc(f, 0, fdfl)
}

/// Splits socket(2)'s `type` into the type and its flags.
fn split_type(ty: u32) -> KResult<(u32, u32)> {
    let flags = ty & !SOCK_TYPE_MASK;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((ty & SOCK_TYPE_MASK, flags))
}

fn domain_arg(d: u32) -> KResult<u16> {
    u16::try_from(d).map_err(|_| Errno::EAFNOSUPPORT)
}

/// socket(2).
pub fn sys_socket<H: Host>(k: &mut Kernel<H>, domain: u32, ty: u32, protocol: u32) -> SysResult {
    let (ty, flags) = split_type(ty)?;
    let s = net::create(&k.net, domain_arg(domain)?, ty, protocol)?;
    Ok(install(k, s, flags)? as usize)
}

/// socketpair(2).
pub fn sys_socketpair<H: Host>(
    k: &mut Kernel<H>,
    domain: u32,
    ty: u32,
    protocol: u32,
    sv: u64,
) -> SysResult {
    let (ty, flags) = split_type(ty)?;
    let who = caller(k);
    let (a, b) = net::pair(&k.net, domain_arg(domain)?, ty, protocol, who)?;
    let fa = install(k, a, flags)?;
    let fb = match install(k, b, flags) {
        Ok(fb) => fb,
        Err(e) => {
            let _ = k.proc().fds.close(fa);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&fa.to_ne_bytes());
    out[4..].copy_from_slice(&fb.to_ne_bytes());
    if let Err(e) = k.user().write_bytes(sv, &out) {
        let _ = k.proc().fds.close(fa);
        let _ = k.proc().fds.close(fb);
        return Err(e);
    }
    Ok(0)
}

/// Reads a sockaddr of `len` bytes at `at`.
fn read_addr<H: Host>(k: &mut Kernel<H>, at: u64, len: u32) -> KResult<SockAddr> {
    let len = len as usize;
    if len > SOCKADDR_STORAGE {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        // Linux reads nothing and the family sees a zero-length address.
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; len];
    k.user().read_bytes(at, &mut b)?;
    SockAddr::decode(&b)
}

/// Writes `addr` to a (buffer, length pointer) pair as Linux's
/// move_addr_to_user: truncated to the buffer, with the full length stored.
fn write_addr<H: Host>(k: &mut Kernel<H>, addr: &SockAddr, at: u64, lenp: u64) -> KResult<()> {
    if lenp == 0 {
        return Ok(());
    }
    let mut lb = [0u8; 4];
    k.user().read_bytes(lenp, &mut lb)?;
    let cap = i32::from_ne_bytes(lb);
    if cap < 0 {
        return Err(Errno::EINVAL);
    }
    let bytes = addr.encode();
    let n = bytes.len().min(cap as usize);
    if n > 0 {
        k.user().write_bytes(at, &bytes[..n])?;
    }
    k.user()
        .write_bytes(lenp, &(bytes.len() as u32).to_ne_bytes())
}

/// The socket node a path names, for connect and sendto: ENOENT if none,
/// ECONNREFUSED if it is not a socket, EACCES without write permission.
fn lookup_node<H: Host>(k: &mut Kernel<H>, path: &[u8]) -> KResult<NodeId> {
    use crate::fs::vfs::{check_access, Access, FileType};
    let (start, cx) = super::fs::start_and_ctx(k, path)?;
    let node = k
        .vfs
        .resolve(&cx, &start, path, crate::fs::path::FollowLast::Follow)?;
    let meta = node.inode().metadata()?;
    if FileType::from_mode(meta.mode) != Some(FileType::Socket) {
        return Err(Errno::ECONNREFUSED);
    }
    check_access(&meta, &cx.cred, Access::WRITE)?;
    Ok(NodeId {
        dev: meta.dev,
        ino: meta.ino,
    })
}

/// The node of `addr` when it is a path (AF_UNIX); None otherwise.
fn target_node<H: Host>(k: &mut Kernel<H>, addr: &SockAddr) -> KResult<Option<NodeId>> {
    match addr {
        SockAddr::Unix(UnixAddr::Path(p)) => lookup_node(k, p).map(Some),
        _ => Ok(None),
    }
}

/// bind(2). A path is made as a socket node first (EADDRINUSE if the name
/// exists) and removed again if the socket refuses it.
pub fn sys_bind<H: Host>(k: &mut Kernel<H>, fd: i32, at: u64, len: u32) -> SysResult {
    let (_f, s) = sock_file(k, fd)?;
    let addr = read_addr(k, at, len)?;
    let node = match &addr {
        SockAddr::Unix(UnixAddr::Path(p)) if s.domain() == AF_UNIX => {
            Some(super::fs::make_socket_node(k, p)?)
        }
        _ => None,
    };
    let r = with_cx(k, true, |c| s.bind(c, &addr, node));
    if r.is_err() {
        if let SockAddr::Unix(UnixAddr::Path(p)) = &addr {
            if node.is_some() {
                let _ = super::fs::remove_socket_node(k, p);
            }
        }
    }
    r.map(|()| 0)
}

/// listen(2).
pub fn sys_listen<H: Host>(k: &mut Kernel<H>, fd: i32, backlog: i32) -> SysResult {
    let (_f, s) = sock_file(k, fd)?;
    with_cx(k, true, |c| s.listen(c, backlog)).map(|()| 0)
}

/// How long a blocked call may wait (SO_RCVTIMEO or SO_SNDTIMEO), 0 for
/// ever.
fn timeout_of(f: &OpenFile, send: bool) -> u64 {
    opts_of(f).map_or(0, |sf| {
        let o = sf.opts.lock();
        if send {
            o.sndtimeo
        } else {
            o.rcvtimeo
        }
    })
}

/// Parks the caller of a call that would block, or fails with EAGAIN when
/// its socket timeout has passed. `send` picks the timeout.
fn park<H: Host>(k: &mut Kernel<H>, f: &OpenFile, send: bool) -> Outcome {
    let t = timeout_of(f, send);
    if t == 0 {
        return Outcome::Block(Wait::Event {
            deadline: None,
            restart: Restart::WithSaRestart,
        });
    }
    let d = k.deadline_after(t);
    if k.deadline_passed() {
        return Outcome::Ret(Err(Errno::EAGAIN));
    }
    // A socket timeout makes an interrupted call fail with EINTR, as
    // Linux's sock_intr_errno.
    Outcome::Block(Wait::Event {
        deadline: Some(d),
        restart: Restart::Never,
    })
}

/// Whether a call on `f` with `flags` must not block.
fn nonblocking(f: &OpenFile, flags: u32) -> bool {
    f.is_nonblocking() || flags & MSG_DONTWAIT != 0
}

/// connect(2).
pub fn sys_connect<H: Host>(k: &mut Kernel<H>, fd: i32, at: u64, len: u32) -> Outcome {
    let r = (|| {
        let (f, s) = sock_file(k, fd)?;
        let addr = read_addr(k, at, len)?;
        let node = if s.domain() == AF_UNIX {
            target_node(k, &addr)?
        } else {
            None
        };
        let nb = f.is_nonblocking();
        Ok((f, s, addr, node, nb))
    })();
    let (f, s, addr, node, nb) = match r {
        Ok(v) => v,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    match with_cx(k, nb, |c| s.connect(c, &addr, node)) {
        Err(Errno::EAGAIN) if !nb => park(k, &f, true),
        r => Outcome::Ret(r.map(|()| 0)),
    }
}

/// accept4(2), also accept.
pub fn sys_accept4<H: Host>(k: &mut Kernel<H>, fd: i32, at: u64, lenp: u64, flags: u32) -> Outcome {
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Outcome::Ret(Err(Errno::EINVAL));
    }
    let (f, s) = match sock_file(k, fd) {
        Ok(v) => v,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let nb = f.is_nonblocking();
    let (new, peer) = match with_cx(k, nb, |c| s.accept(c)) {
        Ok(v) => v,
        Err(Errno::EAGAIN) if !nb => return park(k, &f, false),
        Err(e) => return Outcome::Ret(Err(e)),
    };
    // The generic options the descriptor keeps: an inet accept returns a
    // clone of the listener (sk_clone_lock: the timeouts, SO_LINGER, the
    // buffer sizes and flags), though TCP gives the child the SYN's
    // priority (SO_PRIORITY 0 here); an AF_UNIX one a fresh socket that
    // inherits only SO_PASSCRED (unix_sock_inherit_flags, kept by the unix
    // socket itself). The file flags (O_NONBLOCK) are accept4's own.
    let mut opts = CommonOpts::default();
    if matches!(new.domain(), AF_INET | AF_INET6) {
        if let Some(sf) = opts_of(&f) {
            opts = *sf.opts.lock();
            opts.ints[SO_PRIORITY as usize] = 0;
        }
    }
    let nfd = match install_with(k, new, flags, opts) {
        Ok(n) => n,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    if at != 0 {
        if let Err(e) = write_addr(k, &peer, at, lenp) {
            // Linux keeps the connection but fails the call; the descriptor
            // goes away with it.
            let _ = k.proc().fds.close(nfd);
            return Outcome::Ret(Err(e));
        }
    }
    Outcome::Ret(Ok(nfd as usize))
}

/// shutdown(2).
pub fn sys_shutdown<H: Host>(k: &mut Kernel<H>, fd: i32, how: u32) -> SysResult {
    let (_f, s) = sock_file(k, fd)?;
    if how > SHUT_RDWR {
        return Err(Errno::EINVAL);
    }
    with_cx(k, true, |c| s.shutdown(c, how)).map(|()| 0)
}

/// getsockname(2) and getpeername(2).
pub fn sys_getname<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    at: u64,
    lenp: u64,
    peer: bool,
) -> SysResult {
    let (_f, s) = sock_file(k, fd)?;
    let addr = if peer {
        s.peer_addr()?
    } else {
        s.local_addr()?
    };
    if lenp == 0 {
        return Err(Errno::EFAULT);
    }
    write_addr(k, &addr, at, lenp)?;
    Ok(0)
}

/// Bytes of struct msghdr for this arch's long width.
fn msghdr_size(w: Long) -> usize {
    7 * w.bytes()
}

/// A decoded struct msghdr.
#[derive(Clone, Copy, Debug, Default)]
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
}

fn get_long(b: &[u8], w: Long) -> u64 {
    match w {
        Long::W32 => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64,
        Long::W64 => u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

fn put_long(v: u64, w: Long) -> Vec<u8> {
    match w {
        Long::W32 => (v as u32).to_ne_bytes().to_vec(),
        Long::W64 => v.to_ne_bytes().to_vec(),
    }
}

fn read_msghdr<H: Host>(k: &mut Kernel<H>, at: u64) -> KResult<MsgHdr> {
    let w = NATIVE;
    let l = w.bytes();
    let b = k.read_once(at, msghdr_size(w))?;
    Ok(MsgHdr {
        name: get_long(&b, w),
        namelen: u32::from_ne_bytes([b[l], b[l + 1], b[l + 2], b[l + 3]]),
        iov: get_long(&b[2 * l..], w),
        iovlen: get_long(&b[3 * l..], w),
        control: get_long(&b[4 * l..], w),
        controllen: get_long(&b[5 * l..], w),
    })
}

/// Reads and checks the iovecs of a msghdr.
fn read_iovs<H: Host>(k: &mut Kernel<H>, at: u64, cnt: u64) -> KResult<Vec<Iovec>> {
    let cnt = usize::try_from(cnt).map_err(|_| Errno::EMSGSIZE)?;
    if cnt > IOV_MAX {
        return Err(Errno::EMSGSIZE);
    }
    if cnt == 0 {
        return Ok(Vec::new());
    }
    let v = uabi::read_iovecs(k, at, cnt)?;
    let mut total = 0u64;
    for e in &v {
        if e.iov_len > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        total = total.saturating_add(e.iov_len);
    }
    if total > isize::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(v)
}

fn iov_total(iovs: &[Iovec]) -> usize {
    iovs.iter()
        .fold(0usize, |t, e| t.saturating_add(e.iov_len as usize))
        .min(MAX_RW)
}

/// Gathers `len` bytes from the iovecs starting at byte `skip`.
fn gather<H: Host>(k: &mut Kernel<H>, iovs: &[Iovec], skip: usize, len: usize) -> KResult<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut pos = 0usize;
    for e in iovs {
        let el = e.iov_len as usize;
        if pos + el <= skip {
            pos += el;
            continue;
        }
        let from = skip.saturating_sub(pos);
        let take = (el - from).min(len - out.len());
        if take > 0 {
            k.user()
                .read_append(e.iov_base + from as u64, take, &mut out)?;
        }
        pos += el;
        if out.len() == len {
            break;
        }
    }
    Ok(out)
}

/// Scatters `data` into the iovecs starting at byte `skip`.
fn scatter<H: Host>(k: &mut Kernel<H>, iovs: &[Iovec], skip: usize, data: &[u8]) -> KResult<()> {
    let mut pos = 0usize;
    let mut done = 0usize;
    for e in iovs {
        let el = e.iov_len as usize;
        if pos + el <= skip {
            pos += el;
            continue;
        }
        let from = skip.saturating_sub(pos);
        let take = (el - from).min(data.len() - done);
        if take > 0 {
            k.user()
                .write_bytes(e.iov_base + from as u64, &data[done..done + take])?;
            done += take;
        }
        pos += el;
        if done == data.len() {
            break;
        }
    }
    Ok(())
}

/// Bytes of struct cmsghdr, and the alignment of control messages.
fn cmsg_hdr(w: Long) -> usize {
    w.bytes() + 8
}

fn cmsg_align(n: usize, w: Long) -> usize {
    n.div_ceil(w.bytes()) * w.bytes()
}

/// Decodes a send's control messages (SOL_SOCKET ones; others are left to
/// families that have them and ignored here, as AF_UNIX does).
fn read_control<H: Host>(k: &mut Kernel<H>, m: &MsgHdr) -> KResult<Vec<Ancillary>> {
    let len = usize::try_from(m.controllen).map_err(|_| Errno::ENOBUFS)?;
    if len == 0 {
        return Ok(Vec::new());
    }
    if len > OPTMEM_MAX {
        return Err(Errno::ENOBUFS);
    }
    let w = NATIVE;
    let hdr = cmsg_hdr(w);
    if len < hdr {
        return Err(Errno::EINVAL);
    }
    let b = k.read_once(m.control, len)?;
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + hdr <= len {
        let clen = get_long(&b[off..], w) as usize;
        let l = w.bytes();
        let level =
            u32::from_ne_bytes([b[off + l], b[off + l + 1], b[off + l + 2], b[off + l + 3]]);
        let ty = u32::from_ne_bytes([
            b[off + l + 4],
            b[off + l + 5],
            b[off + l + 6],
            b[off + l + 7],
        ]);
        if clen < hdr || clen > len - off {
            return Err(Errno::EINVAL);
        }
        let data = &b[off + hdr..off + clen];
        if level == SOL_SOCKET {
            match ty {
                SCM_RIGHTS => {
                    let n = data.len() / 4;
                    if n == 0 || n > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    let mut files = Vec::with_capacity(n);
                    for c in data.chunks_exact(4) {
                        let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                        files.push(k.proc().fds.get(fd)?);
                    }
                    out.push(Ancillary::Rights(files));
                }
                SCM_CREDENTIALS => {
                    if data.len() != 12 {
                        return Err(Errno::EINVAL);
                    }
                    let u = |i: usize| {
                        u32::from_ne_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
                    };
                    let c = Ucred {
                        pid: u(0),
                        uid: u(4),
                        gid: u(8),
                    };
                    check_creds(k, c)?;
                    out.push(Ancillary::Creds(c));
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        off += cmsg_align(clen, w);
    }
    Ok(out)
}

/// Linux's scm_check_creds and __scm_send: ids of -1 are invalid (EINVAL);
/// a process may claim its own pid and any of its real, effective or saved
/// ids, CAP_SYS_ADMIN any pid, CAP_SETUID and CAP_SETGID any ids (EPERM);
/// another pid must exist (ESRCH).
fn check_creds<H: Host>(k: &mut Kernel<H>, c: Ucred) -> KResult<()> {
    use crate::task::cred::{CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN};
    if c.uid == u32::MAX || c.gid == u32::MAX {
        return Err(Errno::EINVAL);
    }
    let pid = k.cur;
    let cr = &k.proc().creds;
    let pid_ok = c.pid == pid || cr.capable(CAP_SYS_ADMIN);
    let uid_ok = [cr.ruid, cr.euid, cr.suid].contains(&c.uid) || cr.capable(CAP_SETUID);
    let gid_ok = [cr.rgid, cr.egid, cr.sgid].contains(&c.gid) || cr.capable(CAP_SETGID);
    if !(pid_ok && uid_ok && gid_ok) {
        return Err(Errno::EPERM);
    }
    if c.pid != pid && k.tgid_of(c.pid).is_none() {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

/// Raises SIGPIPE for a send that found the connection shut, unless
/// MSG_NOSIGNAL.
fn epipe<H: Host>(k: &mut Kernel<H>, flags: u32) -> Outcome {
    if flags & MSG_NOSIGNAL == 0 {
        use umbra_abi::signal::SIGPIPE;
        let pid = k.cur;
        let info = crate::task::SigInfo {
            signo: SIGPIPE,
            pid,
            ..Default::default()
        };
        let _ = k.send_signal(pid, SIGPIPE, info);
    }
    Outcome::Ret(Err(Errno::EPIPE))
}

/// Sends the bytes of `iovs` (with `to` and `anc`) on the socket of `fd`:
/// the common part of write, writev, send, sendto and sendmsg. A blocking
/// stream send moves every byte before it returns; the count moved so far
/// is kept in the thread's `io_done` while it is parked.
fn do_send<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    iovs: &[Iovec],
    to: Option<SockAddr>,
    mut anc: Vec<Ancillary>,
    flags: u32,
) -> Outcome {
    let (f, s) = match sock_file(k, fd) {
        Ok(v) => v,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let node = match &to {
        // A stream ignores (refuses) the address before looking it up.
        Some(a) if s.domain() == AF_UNIX && s.sock_type() != SOCK_STREAM => match target_node(k, a)
        {
            Ok(n) => n,
            Err(e) => return Outcome::Ret(Err(e)),
        },
        _ => None,
    };
    let nb = nonblocking(&f, flags);
    let len = iov_total(iovs);
    let stream = s.sock_type() == SOCK_STREAM;
    let mut done = core::mem::take(&mut k.proc().thread.io_done).min(len);
    if done > 0 {
        // Control messages go with the first byte only.
        anc.clear();
    }
    // A family that can takes a stream's bytes straight from guest memory.
    let slices =
        cfg!(feature = "direct-io") && stream && to.is_none() && anc.is_empty() && s.sends_slices();
    let ranges = if slices {
        super::io::iov_ranges(iovs, len)
    } else {
        Vec::new()
    };
    loop {
        let want = if stream {
            (len - done).min(STREAM_CHUNK)
        } else if len > MAX_MSG {
            return Outcome::Ret(Err(Errno::EMSGSIZE));
        } else {
            len
        };
        // MSG_OOB marks the last byte of the whole send, so it goes with
        // the last chunk only.
        let fl = if done + want < len {
            flags & !MSG_OOB
        } else {
            flags
        };
        let r = if slices && want > 0 {
            send_direct(k, &*s, &ranges, done, want, fl)
        } else {
            let data = match gather(k, iovs, done, want) {
                Ok(d) => d,
                Err(e) if done == 0 => return Outcome::Ret(Err(e)),
                Err(_) => return Outcome::Ret(Ok(done)),
            };
            if stream && to.is_none() && anc.is_empty() && !data.is_empty() {
                // The bytes are ours to give: a stream may queue them as
                // they are.
                with_cx(k, nb, |c| s.send_owned(c, data, fl))
            } else {
                let msg = SendMsg {
                    data: &data,
                    to: to.as_ref().map(|a| (a, node)),
                    anc: core::mem::take(&mut anc),
                    flags: fl,
                };
                with_cx(k, nb, |c| s.send(c, msg))
            }
        };
        match r {
            Ok(n) => {
                done += n;
                if !stream || done >= len {
                    return Outcome::Ret(Ok(done));
                }
                if n < want {
                    // The peer's buffer is full.
                    if nb {
                        return Outcome::Ret(Ok(done));
                    }
                    k.note_progress();
                    return park_sending(k, &f, done);
                }
            }
            Err(Errno::EAGAIN) if !nb => return park_sending(k, &f, done),
            Err(_) if done > 0 => return Outcome::Ret(Ok(done)),
            // Only a stream raises SIGPIPE (Linux's datagram and seqpacket
            // sends return EPIPE without it).
            Err(Errno::EPIPE) if stream => return epipe(k, flags),
            Err(e) => return Outcome::Ret(Err(e)),
        }
    }
}

/// One step of a stream send straight from guest memory, for a socket
/// that [`Socket::sends_slices`]: resolves up to `want` bytes of the
/// buffers `ranges` from byte `done` on (only what the caller could read:
/// a fault ends them, EFAULT if it is at the first byte) and hands them to
/// the socket as slices of the memory file. Returns the bytes the socket
/// took. As the gathering path, a step that would fault part-way sends
/// nothing (EFAULT), as Linux's copy into an skb that faults.
fn send_direct<H: Host>(
    k: &mut Kernel<H>,
    s: &dyn Socket,
    ranges: &[(u64, usize)],
    done: usize,
    want: usize,
    flags: u32,
) -> KResult<usize> {
    let mut cur = super::direct::advance(ranges, done);
    let mut spans = Vec::new();
    let (got, _) = super::direct::resolve_step(
        k,
        ranges,
        &mut cur,
        crate::mm::Access::Read,
        &mut spans,
        want,
    )?;
    if got < want {
        return Err(Errno::EFAULT);
    }
    let bufs = crate::mm::spans::carve(k.host.physmem(), &spans);
    s.send_slices(&bufs, flags).ok_or(Errno::EOPNOTSUPP)?
}

/// Parks a blocking send that moved `done` bytes so far; when its
/// SO_SNDTIMEO has passed, it returns them (or EAGAIN if none).
fn park_sending<H: Host>(k: &mut Kernel<H>, f: &OpenFile, done: usize) -> Outcome {
    k.proc().thread.io_done = done;
    match park(k, f, true) {
        Outcome::Ret(r) => {
            k.proc().thread.io_done = 0;
            Outcome::Ret(if done > 0 { Ok(done) } else { r })
        }
        o => o,
    }
}

/// What a receive brought back, for recvmsg's msghdr.
struct RecvOut {
    len: usize,
    full: usize,
    from: Option<SockAddr>,
    anc: Vec<Ancillary>,
    flags: u32,
}

/// Receives into `iovs` from the socket of `fd`: the common part of read,
/// readv, recv, recvfrom and recvmsg. Without MSG_WAITALL a stream receive
/// returns what is there; with it, a blocking one waits for the whole
/// length (or end of stream, an error or a signal).
fn do_recv<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    iovs: &[Iovec],
    flags: u32,
) -> Result<RecvOut, Outcome> {
    // Served again (or anew): a reader that slept here is awake now.
    k.proc().thread.sleeping = None;
    let (f, s) = sock_file(k, fd).map_err(|e| Outcome::Ret(Err(e)))?;
    let nb = nonblocking(&f, flags);
    let len = iov_total(iovs);
    let stream = s.sock_type() == SOCK_STREAM;
    let peek = flags & MSG_PEEK != 0;
    let waitall = stream && flags & MSG_WAITALL != 0 && !peek && !nb;
    // tcp_recvmsg's target is the whole length under MSG_PEEK|MSG_WAITALL
    // too: it peeks, and sleeps while it has less (AF_UNIX's peek returns
    // what is there).
    let peek_all = stream
        && peek
        && flags & MSG_WAITALL != 0
        && !nb
        && matches!(s.domain(), AF_INET | AF_INET6);
    // SO_RCVLOWAT (sock_rcvlowat): a blocking stream receive waits for
    // min(lowat, len) bytes, or end of stream, an error or a signal; a
    // non-blocking one returns what is there.
    let lowat = if waitall {
        len
    } else if stream && flags & MSG_PEEK == 0 && !nb {
        let v = opts_of(&f).map_or(1, |sf| sf.opts.lock().ints[SO_RCVLOWAT as usize]);
        (v.max(1) as usize).min(len)
    } else {
        1
    };
    // tcp_recvmsg waits for SO_RCVLOWAT under MSG_PEEK too (AF_UNIX's
    // does not): while tcp_poll finds fewer bytes, no FIN and no error,
    // a blocking peek sleeps; when its SO_RCVTIMEO passes, it peeks
    // what is there.
    if stream
        && flags & MSG_PEEK != 0
        && !nb
        && matches!(s.domain(), AF_INET | AF_INET6)
        && opts_of(&f).is_some_and(|sf| sf.opts.lock().ints[SO_RCVLOWAT as usize] > 1)
    {
        let ev = s.poll(&mut k.host);
        if !ev.intersects(PollEvents::POLLIN | PollEvents::POLLERR | PollEvents::POLLHUP) {
            match park(k, &f, false) {
                Outcome::Ret(_) => {}
                o => return Err(o),
            }
        }
    }
    let mut oob_ret = 0;
    let mut done = core::mem::take(&mut k.proc().thread.io_done).min(len);
    if peek {
        // A peek starts again from the queue's start.
        done = 0;
    }
    let mut out = RecvOut {
        len: 0,
        full: 0,
        from: None,
        anc: Vec::new(),
        flags: 0,
    };
    loop {
        let want = if stream {
            (len - done).min(STREAM_CHUNK)
        } else {
            len.min(MAX_MSG)
        };
        // A stream that can hands its bytes straight to the caller's
        // buffers (one copy); else they come through `buf`. A peek sees the
        // queue from its start at every pass, so it makes one, of the whole
        // length where no kernel buffer needs bounding.
        let mut at = done;
        let direct = if stream {
            s.recv_to(if peek { len - done } else { want }, flags, &mut |d| {
                scatter(k, iovs, at, d)?;
                at += d.len();
                Ok(())
            })
        } else {
            None
        };
        let mut buf = Vec::new();
        let copied = direct.is_some();
        let r: KResult<Received> = match direct {
            Some(r) => r,
            None => {
                buf = vec![0u8; want];
                with_cx(k, nb, |c| s.recv(c, &mut buf, flags))
            }
        };
        match r {
            Ok(got) => {
                if !copied && !got.discarded {
                    if let Err(e) = scatter(k, iovs, done, &buf[..got.len]) {
                        if done == 0 {
                            return Err(Outcome::Ret(Err(e)));
                        }
                        break;
                    }
                }
                if out.from.is_none() {
                    out.from = got.from;
                }
                out.anc.extend(got.anc);
                out.flags |= got.flags;
                // An AF_UNIX urgent byte taken into no buffer still counts.
                oob_ret = got.full;
                done += got.len;
                out.full = if stream { done } else { got.full };
                if peek_all && copied && got.len > 0 && done < len && !got.stop {
                    // Fewer than asked: wait for more and peek again, unless
                    // the stream has ended or failed; when SO_RCVTIMEO
                    // passes, or a signal comes, what was peeked is the
                    // result (the count kept in `io_done`).
                    let ev = s.poll(&mut k.host);
                    if !ev.intersects(
                        PollEvents::POLLRDHUP | PollEvents::POLLHUP | PollEvents::POLLERR,
                    ) {
                        k.proc().thread.io_done = done;
                        match park(k, &f, false) {
                            Outcome::Ret(_) => k.proc().thread.io_done = 0,
                            o => return Err(o),
                        }
                    }
                }
                // End of stream (0), a datagram, a peek, a short stream read
                // without MSG_WAITALL, or the whole length: done.
                if got.len == 0
                    || !stream
                    || peek
                    || done >= len
                    || got.stop
                    || (done >= lowat && got.len < want)
                {
                    break;
                }
                if done >= lowat && got.len == want && done < len {
                    // The chunk was full: there may be more at once.
                    continue;
                }
            }
            Err(Errno::EAGAIN) if !nb && done < lowat.max(1) => {
                k.proc().thread.io_done = done;
                let o = park(k, &f, false);
                if let Outcome::Ret(_) = o {
                    k.proc().thread.io_done = 0;
                    if done > 0 {
                        out.len = done;
                        out.full = done;
                        return Ok(out);
                    }
                }
                // It sleeps (sk_wait_data): an O_ASYNC stream socket's
                // POLL_IN waits until it is served again (sk_set_bit
                // sets SOCKWQ_ASYNC_WAITDATA only with SOCK_FASYNC).
                if f.flags().contains(OpenFlags::O_ASYNC) {
                    k.proc().thread.sleeping =
                        s.sleepers().map(|w| crate::fs::vfs::Sleepers::enter(&w));
                }
                return Err(o);
            }
            Err(_) if done > 0 => break,
            Err(e) => return Err(Outcome::Ret(Err(e))),
        }
    }
    out.len = done;
    if !stream && out.full < out.len {
        out.full = out.len;
    }
    if out.flags & MSG_OOB != 0 && stream {
        out.len = out.len.max(oob_ret);
    }
    Ok(out)
}

/// The value a receive returns: the datagram's full length under MSG_TRUNC.
fn recv_ret(o: &RecvOut, flags: u32) -> usize {
    if flags & MSG_TRUNC != 0 {
        o.full
    } else {
        o.len
    }
}

/// write(2) and send-without-address on a socket.
pub fn sock_write<H: Host>(k: &mut Kernel<H>, fd: i32, buf: u64, len: usize) -> Outcome {
    let iov = [Iovec {
        iov_base: buf,
        iov_len: len as u64,
    }];
    do_send(k, fd, &iov, None, Vec::new(), 0)
}

/// read(2) on a socket.
pub fn sock_read<H: Host>(k: &mut Kernel<H>, fd: i32, buf: u64, len: usize) -> Outcome {
    let iov = [Iovec {
        iov_base: buf,
        iov_len: len as u64,
    }];
    match do_recv(k, fd, &iov, 0) {
        Ok(o) => Outcome::Ret(Ok(o.len)),
        Err(o) => o,
    }
}

/// readv(2) and writev(2) on a socket.
pub fn sock_rwv<H: Host>(k: &mut Kernel<H>, fd: i32, iov: u64, cnt: usize, write: bool) -> Outcome {
    let iovs = match read_iovs(k, iov, cnt as u64) {
        Ok(v) => v,
        Err(Errno::EMSGSIZE) => return Outcome::Ret(Err(Errno::EINVAL)),
        Err(e) => return Outcome::Ret(Err(e)),
    };
    if write {
        do_send(k, fd, &iovs, None, Vec::new(), 0)
    } else {
        match do_recv(k, fd, &iovs, 0) {
            Ok(o) => Outcome::Ret(Ok(o.len)),
            Err(o) => o,
        }
    }
}

/// sendto(2), also send.
pub fn sys_sendto<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    buf: u64,
    len: usize,
    flags: u32,
    at: u64,
    alen: u32,
) -> Outcome {
    let to = if at != 0 {
        match read_addr(k, at, alen) {
            Ok(a) => Some(a),
            Err(e) => return Outcome::Ret(Err(e)),
        }
    } else {
        None
    };
    let iov = [Iovec {
        iov_base: buf,
        iov_len: len as u64,
    }];
    do_send(k, fd, &iov, to, Vec::new(), flags)
}

/// recvfrom(2), also recv.
pub fn sys_recvfrom<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    buf: u64,
    len: usize,
    flags: u32,
    at: u64,
    lenp: u64,
) -> Outcome {
    let iov = [Iovec {
        iov_base: buf,
        iov_len: len as u64,
    }];
    match do_recv(k, fd, &iov, flags) {
        Ok(o) => {
            if at != 0 {
                let r = match &o.from {
                    Some(a) => write_addr(k, a, at, lenp),
                    // No address (a connected stream): length 0.
                    None if lenp != 0 => k.user().write_bytes(lenp, &0u32.to_ne_bytes()),
                    None => Ok(()),
                };
                if let Err(e) = r {
                    return Outcome::Ret(Err(e));
                }
            }
            Outcome::Ret(Ok(recv_ret(&o, flags)))
        }
        Err(o) => o,
    }
}

/// sendmsg(2) with a msghdr already read.
fn send_hdr<H: Host>(k: &mut Kernel<H>, fd: i32, m: &MsgHdr, flags: u32) -> Outcome {
    let r = (|| -> KResult<(Vec<Iovec>, Option<SockAddr>, Vec<Ancillary>)> {
        sock_file(k, fd)?;
        let to = if m.name != 0 && m.namelen != 0 {
            Some(read_addr(k, m.name, m.namelen)?)
        } else {
            None
        };
        let iovs = read_iovs(k, m.iov, m.iovlen)?;
        let anc = read_control(k, m)?;
        Ok((iovs, to, anc))
    })();
    match r {
        Ok((iovs, to, anc)) => do_send(k, fd, &iovs, to, anc, flags),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// sendmsg(2).
pub fn sys_sendmsg<H: Host>(k: &mut Kernel<H>, fd: i32, msg: u64, flags: u32) -> Outcome {
    match read_msghdr(k, msg) {
        Ok(m) => send_hdr(k, fd, &m, flags),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// Writes received control messages into the caller's buffer: descriptors
/// are installed (with FD_CLOEXEC under MSG_CMSG_CLOEXEC) as far as they
/// fit, the rest dropped with MSG_CTRUNC. Returns (controllen, flags).
fn write_control<H: Host>(
    k: &mut Kernel<H>,
    m: &MsgHdr,
    anc: Vec<Ancillary>,
    flags: u32,
) -> KResult<(usize, u32)> {
    let w = NATIVE;
    let hdr = cmsg_hdr(w);
    let cap = usize::try_from(m.controllen).unwrap_or(usize::MAX);
    let mut out: Vec<u8> = Vec::new();
    let mut mflags = 0;
    for a in anc {
        let (ty, data) = match a {
            Ancillary::Creds(c) => {
                let mut d = Vec::with_capacity(12);
                d.extend_from_slice(&c.pid.to_ne_bytes());
                d.extend_from_slice(&c.uid.to_ne_bytes());
                d.extend_from_slice(&c.gid.to_ne_bytes());
                if m.control == 0 || out.len() + hdr + d.len() > cap {
                    mflags |= MSG_CTRUNC;
                    continue;
                }
                (SCM_CREDENTIALS, d)
            }
            Ancillary::Rights(files) => {
                // As many as fit whole; the others are closed.
                let room = if m.control == 0 {
                    0
                } else {
                    cap.saturating_sub(out.len() + hdr) / 4
                };
                let n = files.len().min(room);
                if n < files.len() {
                    mflags |= MSG_CTRUNC;
                }
                if n == 0 {
                    continue;
                }
                let fdfl = if flags & MSG_CMSG_CLOEXEC != 0 {
                    FdFlags::CLOEXEC
                } else {
                    FdFlags::empty()
                };
                let mut d = Vec::with_capacity(4 * n);
                for f in files.into_iter().take(n) {
                    match k.proc().fds.alloc(f, 0, fdfl) {
                        Ok(fd) => d.extend_from_slice(&fd.to_ne_bytes()),
                        Err(_) => {
                            mflags |= MSG_CTRUNC;
                            break;
                        }
                    }
                }
                if d.is_empty() {
                    continue;
                }
                (SCM_RIGHTS, d)
            }
        };
        let clen = hdr + data.len();
        let start = out.len();
        out.extend_from_slice(&put_long(clen as u64, w));
        out.extend_from_slice(&SOL_SOCKET.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&data);
        // Padding to the next header, where it fits.
        let padded = start + cmsg_align(clen, w);
        if padded <= cap {
            out.resize(padded, 0);
        }
    }
    if !out.is_empty() {
        k.user().write_bytes(m.control, &out)?;
    }
    Ok((out.len(), mflags))
}

/// recvmsg(2) with a msghdr already read; writes the msghdr's results back.
fn recv_hdr<H: Host>(k: &mut Kernel<H>, fd: i32, at: u64, m: &MsgHdr, flags: u32) -> Outcome {
    let iovs = match sock_file(k, fd).and_then(|_| read_iovs(k, m.iov, m.iovlen)) {
        Ok(v) => v,
        Err(e) => return Outcome::Ret(Err(e)),
    };
    let o = match do_recv(k, fd, &iovs, flags) {
        Ok(o) => o,
        Err(o) => return o,
    };
    let ret = recv_ret(&o, flags);
    let r = (|| -> KResult<()> {
        let w = NATIVE;
        let l = w.bytes();
        // msg_namelen: the full address length (0 without one); the
        // address is truncated to the buffer.
        let namelen = match (&o.from, m.name) {
            (Some(a), name) if name != 0 => {
                let b = a.encode();
                let n = b.len().min(m.namelen as usize);
                k.user().write_bytes(name, &b[..n])?;
                b.len() as u32
            }
            _ => 0,
        };
        k.user()
            .write_bytes(at + l as u64, &namelen.to_ne_bytes())?;
        let (clen, cflags) = write_control(k, m, o.anc, flags)?;
        k.user()
            .write_bytes(at + 5 * l as u64, &put_long(clen as u64, w))?;
        let mut mflags = o.flags | cflags;
        if o.full > o.len {
            mflags |= MSG_TRUNC;
        }
        k.user()
            .write_bytes(at + 6 * l as u64, &mflags.to_ne_bytes())?;
        Ok(())
    })();
    Outcome::Ret(r.map(|()| ret))
}

/// recvmsg(2).
pub fn sys_recvmsg<H: Host>(k: &mut Kernel<H>, fd: i32, msg: u64, flags: u32) -> Outcome {
    match read_msghdr(k, msg) {
        Ok(m) => recv_hdr(k, fd, msg, &m, flags),
        Err(e) => Outcome::Ret(Err(e)),
    }
}

/// Bytes of struct mmsghdr: a msghdr and msg_len, padded to a long.
fn mmsghdr_size(w: Long) -> usize {
    cmsg_align(msghdr_size(w) + 4, w)
}

/// The loop of sendmmsg and recvmmsg: `one` moves the message of the
/// mmsghdr at an address (`later`: not the first), and its count goes to
/// that mmsghdr's msg_len. The first message's error or wait is the call's;
/// after a message has moved, an error, a wait or `enough` ends the call
/// with the count so far.
fn mmsg_loop<H: Host>(
    k: &mut Kernel<H>,
    vec: u64,
    vlen: u32,
    mut one: impl FnMut(&mut Kernel<H>, u64, &MsgHdr, bool) -> Outcome,
    mut enough: impl FnMut(&mut Kernel<H>) -> bool,
) -> Outcome {
    let vlen = (vlen as usize).min(MMSG_MAX);
    let sz = mmsghdr_size(NATIVE) as u64;
    let mut moved = 0usize;
    while moved < vlen {
        let at = vec + moved as u64 * sz;
        let m = match read_msghdr(k, at) {
            Ok(m) => m,
            Err(e) if moved == 0 => return Outcome::Ret(Err(e)),
            Err(_) => break,
        };
        match one(k, at, &m, moved > 0) {
            Outcome::Ret(Ok(n)) => {
                let off = at + msghdr_size(NATIVE) as u64;
                if let Err(e) = k.user().write_bytes(off, &(n as u32).to_ne_bytes()) {
                    if moved == 0 {
                        return Outcome::Ret(Err(e));
                    }
                    break;
                }
                moved += 1;
                if enough(k) {
                    break;
                }
            }
            Outcome::Ret(Err(_)) | Outcome::Block(_) if moved > 0 => break,
            o => return o,
        }
    }
    Outcome::Ret(Ok(moved))
}

/// sendmmsg(2): sends up to `vlen` messages; returns how many went, or the
/// first one's error. Messages after the first do not block.
pub fn sys_sendmmsg<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    vec: u64,
    vlen: u32,
    flags: u32,
) -> Outcome {
    if let Err(e) = sock_file(k, fd) {
        return Outcome::Ret(Err(e));
    }
    let send = |k: &mut Kernel<H>, _at: u64, m: &MsgHdr, later: bool| {
        let fl = if later { flags | MSG_DONTWAIT } else { flags };
        send_hdr(k, fd, m, fl)
    };
    mmsg_loop(k, vec, vlen, send, |_| false)
}

/// recvmmsg(2): receives up to `vlen` messages; with MSG_WAITFORONE only
/// the first blocks. The timeout is checked after each message, as Linux
/// does.
pub fn sys_recvmmsg<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    vec: u64,
    vlen: u32,
    flags: u32,
    timeout: u64,
    tabi: uabi::TimeAbi,
) -> Outcome {
    if let Err(e) = sock_file(k, fd) {
        return Outcome::Ret(Err(e));
    }
    let deadline = if timeout != 0 {
        match uabi::read_timespec(k, timeout, tabi) {
            Ok(t) if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) => {
                return Outcome::Ret(Err(Errno::EINVAL))
            }
            Ok(t) => {
                let ns = (t.tv_sec as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(t.tv_nsec as u64);
                Some(k.host.now_mono().saturating_add(ns))
            }
            Err(e) => return Outcome::Ret(Err(e)),
        }
    } else {
        None
    };
    let recv = |k: &mut Kernel<H>, at: u64, m: &MsgHdr, later: bool| {
        let mut fl = flags & !MSG_WAITFORONE;
        if later && flags & MSG_WAITFORONE != 0 {
            fl |= MSG_DONTWAIT;
        }
        recv_hdr(k, fd, at, m, fl)
    };
    let passed = |k: &mut Kernel<H>| deadline.is_some_and(|d| k.host.now_mono() >= d);
    mmsg_loop(k, vec, vlen, recv, passed)
}

/// The generic SOL_SOCKET options every socket has.
fn generic_getsockopt(f: &OpenFile, s: &dyn Socket, name: u32) -> KResult<Vec<u8>> {
    let int = |v: i32| Ok(v.to_ne_bytes().to_vec());
    let sf = opts_of(f).ok_or(Errno::ENOTSOCK)?;
    let o = *sf.opts.lock();
    match name {
        // Linux 6.16+: credentials are only for sockets that can receive
        // them (sk_may_scm_recv: unix, netlink, bluetooth).
        SO_PASSCRED if is_inet(s) => Err(Errno::EOPNOTSUPP),
        SO_TYPE => int(s.sock_type() as i32),
        SO_DOMAIN => int(s.domain() as i32),
        SO_PROTOCOL => int(s.protocol() as i32),
        SO_ERROR => int(0),
        SO_RCVTIMEO_OLD | SO_SNDTIMEO_OLD => {
            let ns = if name == SO_RCVTIMEO_OLD {
                o.rcvtimeo
            } else {
                o.sndtimeo
            };
            let tv = umbra_abi::structs::Timeval {
                tv_sec: (ns / 1_000_000_000) as i64,
                tv_usec: ((ns % 1_000_000_000) / 1000) as i64,
            };
            Ok(uabi::encode_timeval(tv, NATIVE))
        }
        SO_LINGER => {
            let mut v = o.linger.0.to_ne_bytes().to_vec();
            v.extend_from_slice(&o.linger.1.to_ne_bytes());
            Ok(v)
        }
        // What Linux reports for a fresh socket: the default buffer sizes
        // (doubled, as Linux stores them), unless set.
        SO_SNDBUF | SO_RCVBUF => {
            let v = o.ints[name as usize];
            int(if v == 0 { 212992 } else { v })
        }
        SO_RCVLOWAT | SO_SNDLOWAT => {
            let v = o.ints[name as usize];
            int(if v == 0 { 1 } else { v })
        }
        SO_DEBUG | SO_REUSEADDR | SO_DONTROUTE | SO_BROADCAST | SO_KEEPALIVE | SO_OOBINLINE
        | SO_NO_CHECK | SO_PRIORITY | SO_REUSEPORT | SO_PASSCRED => int(o.ints[name as usize]),
        _ => Err(Errno::ENOPROTOOPT),
    }
}

/// An AF_INET or AF_INET6 socket (Linux's sk_is_inet).
fn is_inet(s: &dyn Socket) -> bool {
    matches!(s.domain(), AF_INET | AF_INET6)
}

fn generic_setsockopt(f: &OpenFile, name: u32, val: &[u8]) -> KResult<()> {
    let sf = opts_of(f).ok_or(Errno::ENOTSOCK)?;
    let int = || -> KResult<i32> {
        if val.len() < 4 {
            return Err(Errno::EINVAL);
        }
        Ok(i32::from_ne_bytes([val[0], val[1], val[2], val[3]]))
    };
    let mut o = sf.opts.lock();
    match name {
        SO_RCVTIMEO_OLD | SO_SNDTIMEO_OLD => {
            if val.len() < 2 * NATIVE.bytes() {
                return Err(Errno::EINVAL);
            }
            let tv = uabi::decode_timeval(val, NATIVE);
            if tv.tv_usec < 0 || tv.tv_usec >= 1_000_000 {
                return Err(Errno::EDOM);
            }
            // A negative time is no timeout... Linux: treats it as 0.
            let ns = if tv.tv_sec < 0 {
                0
            } else {
                (tv.tv_sec as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(tv.tv_usec as u64 * 1000)
            };
            if name == SO_RCVTIMEO_OLD {
                o.rcvtimeo = ns;
            } else {
                o.sndtimeo = ns;
            }
        }
        SO_LINGER => {
            if val.len() < 8 {
                return Err(Errno::EINVAL);
            }
            let on = i32::from_ne_bytes([val[0], val[1], val[2], val[3]]);
            let secs = i32::from_ne_bytes([val[4], val[5], val[6], val[7]]);
            o.linger = ((on != 0) as i32, secs);
        }
        SO_SNDBUF | SO_RCVBUF | SO_SNDBUFFORCE | SO_RCVBUFFORCE => {
            // Linux doubles the value (for its bookkeeping) within limits.
            let v = int()?.clamp(2304, 212992 / 2) * 2;
            let slot = if name == SO_SNDBUF || name == SO_SNDBUFFORCE {
                SO_SNDBUF
            } else {
                SO_RCVBUF
            };
            o.ints[slot as usize] = v;
        }
        SO_RCVLOWAT => {
            // sock_setsockopt: a negative value is INT_MAX, 0 is 1; TCP's
            // tcp_set_rcvlowat caps it at half the receive buffer (SO_RCVBUF
            // as set, else tcp_rmem[2], 6 MB).
            let mut v = int()?;
            if v < 0 {
                v = i32::MAX;
            }
            let s = &sf.sock;
            if matches!(s.domain(), AF_INET | AF_INET6) && s.sock_type() == SOCK_STREAM {
                let buf = o.ints[SO_RCVBUF as usize];
                v = v.min(if buf != 0 { buf >> 1 } else { 6 << 20 >> 1 });
            }
            let v = v.max(1);
            o.ints[name as usize] = v;
            s.set_rcvlowat(v);
        }
        SO_SNDLOWAT => return Err(Errno::ENOPROTOOPT),
        // sk_setsockopt: SO_PASSCRED only where credentials can be received
        // (not inet), SO_REUSEPORT on only for inet sockets.
        SO_PASSCRED if is_inet(&*sf.sock) => return Err(Errno::EOPNOTSUPP),
        SO_REUSEPORT if int()? != 0 && !is_inet(&*sf.sock) => return Err(Errno::EOPNOTSUPP),
        SO_DEBUG | SO_REUSEADDR | SO_DONTROUTE | SO_BROADCAST | SO_KEEPALIVE | SO_OOBINLINE
        | SO_NO_CHECK | SO_REUSEPORT | SO_PASSCRED => {
            o.ints[name as usize] = (int()? != 0) as i32;
        }
        SO_PRIORITY => {
            o.ints[name as usize] = int()?;
        }
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

/// getsockopt(2): the family first, then the generic SOL_SOCKET options.
pub fn sys_getsockopt<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    level: u32,
    name: u32,
    at: u64,
    lenp: u64,
) -> SysResult {
    let (f, s) = sock_file(k, fd)?;
    let mut lb = [0u8; 4];
    k.user().read_bytes(lenp, &mut lb)?;
    let cap = i32::from_ne_bytes(lb);
    if cap < 0 {
        return Err(Errno::EINVAL);
    }
    let v = match with_cx(k, true, |c| s.getsockopt(c, level, name, cap as usize)) {
        Err(Errno::ENOPROTOOPT) if level == SOL_SOCKET => generic_getsockopt(&f, &*s, name)?,
        r => r?,
    };
    let n = v.len().min(cap as usize);
    k.user().write_bytes(at, &v[..n])?;
    k.user().write_bytes(lenp, &(n as u32).to_ne_bytes())?;
    Ok(0)
}

/// setsockopt(2): the family first, then the generic SOL_SOCKET options.
pub fn sys_setsockopt<H: Host>(
    k: &mut Kernel<H>,
    fd: i32,
    level: u32,
    name: u32,
    at: u64,
    len: u32,
) -> SysResult {
    let (f, s) = sock_file(k, fd)?;
    let len = (len as usize).min(OPTMEM_MAX);
    let mut v = vec![0u8; len];
    k.user().read_bytes(at, &mut v)?;
    match with_cx(k, true, |c| s.setsockopt(c, level, name, &v)) {
        Err(Errno::ENOPROTOOPT) if level == SOL_SOCKET => generic_setsockopt(&f, name, &v)?,
        r => r?,
    }
    if (level, name) == (SOL_SOCKET, SO_LINGER) {
        if let Some(sf) = opts_of(&f) {
            let (on, secs) = sf.opts.lock().linger;
            s.set_linger(on != 0, secs);
        }
    }
    Ok(0)
}

/// ioctl(SIOCGIFCONF) on a socket: struct ifconf { int ifc_len; char
/// *ifc_buf; } names a buffer the records go to; a null buffer asks for
/// the length they need.
pub fn sys_ifconf<H: Host>(k: &mut Kernel<H>, arg: u64) -> SysResult {
    let w = NATIVE;
    let b = k.read_once(arg, 2 * w.bytes())?;
    let len = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let buf = get_long(&b[w.bytes()..], w);
    let recs = if buf == 0 {
        net::inet::ifconf(None)
    } else {
        let recs = net::inet::ifconf(Some(len.max(0) as usize));
        k.user().write_bytes(buf, &recs)?;
        recs
    };
    k.user()
        .write_bytes(arg, &(recs.len() as i32).to_ne_bytes())?;
    Ok(0)
}
