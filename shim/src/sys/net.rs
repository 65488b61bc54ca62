//! Host sockets that umbra opens on the guest's behalf (`--net host`,
//! `--publish`, `--unix-socket`; see host/net.rs). Every socket is made
//! non-blocking and close-on-exec at creation, so no fcntl is needed, and
//! every send passes MSG_NOSIGNAL (umbra ignores SIGPIPE anyway).

use super::{check, raw, Errno};

// The host's values are the guest's: x86_64, aarch64 and arm share them.
pub use umbra_abi::net::{
    AF_INET, AF_INET6, AF_UNIX, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_PEEK, MSG_TRUNC, SOCK_CLOEXEC,
    SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, SOL_SOCKET, SO_ERROR, SO_REUSEADDR,
};

/// Room for any socket address (struct sockaddr_storage).
const ADDR_MAX: usize = 128;

/// socket(domain, ty | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
pub fn socket(domain: u16, ty: u32) -> Result<i32, Errno> {
    // SAFETY: no pointers.
    let fd = check(unsafe {
        raw::syscall6(
            raw::nr::SOCKET,
            domain as usize,
            (ty | SOCK_NONBLOCK | SOCK_CLOEXEC) as usize,
            0,
            0,
            0,
            0,
        )
    })?;
    Ok(fd as i32)
}

/// connect(2) with the encoded address `addr`.
pub fn connect(fd: i32, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: `addr` is readable for its length.
    check(unsafe {
        raw::syscall6(
            raw::nr::CONNECT,
            fd as usize,
            addr.as_ptr() as usize,
            addr.len(),
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// bind(2) with the encoded address `addr`.
pub fn bind(fd: i32, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: `addr` is readable for its length.
    check(unsafe {
        raw::syscall6(
            raw::nr::BIND,
            fd as usize,
            addr.as_ptr() as usize,
            addr.len(),
            0,
            0,
            0,
        )
    })
    .map(|_| ())
}

/// listen(2).
pub fn listen(fd: i32, backlog: i32) -> Result<(), Errno> {
    // SAFETY: no pointers.
    check(unsafe { raw::syscall6(raw::nr::LISTEN, fd as usize, backlog as usize, 0, 0, 0, 0) })
        .map(|_| ())
}

/// accept4(fd, .., SOCK_NONBLOCK | SOCK_CLOEXEC): the new fd and the peer's
/// encoded address.
pub fn accept(fd: i32) -> Result<(i32, Vec<u8>), Errno> {
    let mut buf = [0u8; ADDR_MAX];
    let mut len: u32 = ADDR_MAX as u32;
    // SAFETY: `buf` is writable for `len` bytes and `len` is a writable u32.
    let nfd = check(unsafe {
        raw::syscall6(
            raw::nr::ACCEPT4,
            fd as usize,
            buf.as_mut_ptr() as usize,
            &mut len as *mut u32 as usize,
            (SOCK_NONBLOCK | SOCK_CLOEXEC) as usize,
            0,
            0,
        )
    })?;
    Ok((nfd as i32, buf[..(len as usize).min(ADDR_MAX)].to_vec()))
}

/// sendto(2) with MSG_NOSIGNAL | MSG_DONTWAIT, to `addr` if given.
pub fn sendto(fd: i32, data: &[u8], addr: Option<&[u8]>) -> Result<usize, Errno> {
    let (ap, al) = addr.map_or((0, 0), |a| (a.as_ptr() as usize, a.len()));
    // SAFETY: `data` is readable for its length; `ap` is NULL or readable for
    // `al` bytes.
    check(unsafe {
        raw::syscall6(
            raw::nr::SENDTO,
            fd as usize,
            data.as_ptr() as usize,
            data.len(),
            (MSG_NOSIGNAL | MSG_DONTWAIT) as usize,
            ap,
            al,
        )
    })
}

/// recvfrom(2) with MSG_DONTWAIT and `flags`: the count (with MSG_TRUNC on a
/// datagram socket, the datagram's real length) and the sender's encoded
/// address (empty if the kernel gave none).
pub fn recvfrom(fd: i32, buf: &mut [u8], flags: u32) -> Result<(usize, Vec<u8>), Errno> {
    let mut abuf = [0u8; ADDR_MAX];
    let mut len: u32 = ADDR_MAX as u32;
    // SAFETY: `buf` is writable for its length, `abuf` for `len` bytes, `len`
    // is a writable u32.
    let n = check(unsafe {
        raw::syscall6(
            raw::nr::RECVFROM,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            (flags | MSG_DONTWAIT) as usize,
            abuf.as_mut_ptr() as usize,
            &mut len as *mut u32 as usize,
        )
    })?;
    Ok((n, abuf[..(len as usize).min(ADDR_MAX)].to_vec()))
}

/// recvfrom(2) without the source address (a connected stream's is its
/// peer), non-blocking.
pub fn recv(fd: i32, buf: &mut [u8], flags: u32) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length; no address is asked for.
    check(unsafe {
        raw::syscall6(
            raw::nr::RECVFROM,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            (flags | MSG_DONTWAIT) as usize,
            0,
            0,
        )
    })
}

/// shutdown(2).
pub fn shutdown(fd: i32, how: u32) -> Result<(), Errno> {
    // SAFETY: no pointers.
    check(unsafe { raw::syscall6(raw::nr::SHUTDOWN, fd as usize, how as usize, 0, 0, 0, 0) })
        .map(|_| ())
}

fn name(nr: usize, fd: i32) -> Result<Vec<u8>, Errno> {
    let mut buf = [0u8; ADDR_MAX];
    let mut len: u32 = ADDR_MAX as u32;
    // SAFETY: `buf` is writable for `len` bytes and `len` is a writable u32.
    check(unsafe {
        raw::syscall6(
            nr,
            fd as usize,
            buf.as_mut_ptr() as usize,
            &mut len as *mut u32 as usize,
            0,
            0,
            0,
        )
    })?;
    Ok(buf[..(len as usize).min(ADDR_MAX)].to_vec())
}

/// getsockname(2): the encoded local address.
pub fn local_name(fd: i32) -> Result<Vec<u8>, Errno> {
    name(raw::nr::GETSOCKNAME, fd)
}

/// getpeername(2): the encoded peer address.
pub fn peer_name(fd: i32) -> Result<Vec<u8>, Errno> {
    name(raw::nr::GETPEERNAME, fd)
}

/// getsockopt(2) of an int option.
pub fn getsockopt_int(fd: i32, level: u32, opt: u32) -> Result<i32, Errno> {
    let mut v: i32 = 0;
    let mut len: u32 = 4;
    // SAFETY: `v` is a writable int and `len` a writable u32 holding its size.
    check(unsafe {
        raw::syscall6(
            raw::nr::GETSOCKOPT,
            fd as usize,
            level as usize,
            opt as usize,
            &mut v as *mut i32 as usize,
            &mut len as *mut u32 as usize,
            0,
        )
    })?;
    Ok(v)
}

/// setsockopt(2) of an int option.
pub fn setsockopt_int(fd: i32, level: u32, opt: u32, v: i32) -> Result<(), Errno> {
    // SAFETY: `v` is a readable int of the size passed.
    check(unsafe {
        raw::syscall6(
            raw::nr::SETSOCKOPT,
            fd as usize,
            level as usize,
            opt as usize,
            &v as *const i32 as usize,
            4,
            0,
        )
    })
    .map(|_| ())
}

/// close(2) of a socket umbra made.
pub fn close(fd: i32) {
    // SAFETY: no pointers; `fd` is a socket this module returned, closed once.
    let _ = unsafe { raw::syscall6(raw::nr::CLOSE, fd as usize, 0, 0, 0, 0, 0) };
}
