//! Signal-driven I/O on sockets and pipes (issue 12; tests/guest/net_async.c),
//! each section run natively in a fresh network namespace (lo up) and under
//! umbra, with the same output: O_ASYNC with F_SETOWN, F_SETOWN_EX and
//! F_SETSIG on AF_UNIX stream, datagram, seqpacket and listening sockets
//! (POLL_IN per message and connection, POLL_OUT after a full buffer,
//! POLL_HUP, POLL_PRI with SIGURG), plain SIGIO, the socket ioctls
//! FIOSETOWN, SIOCSPGRP, FIOGETOWN, SIOCGPGRP and FIOASYNC, and a pipe's
//! queued signals.

use umbra_tests::{compare, Libc, Run};

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "net_async").args(sections);
    let native = run.native_in(&["-n"], "ip link set lo up");
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn unix_stream_sigio_musl() {
    same(Libc::Musl, &["stream", "plain"]);
}

#[test]
fn unix_stream_sigio_glibc() {
    same(Libc::Glibc, &["stream", "plain"]);
}

#[test]
fn unix_listener_dgram_seqpacket_sigio_musl() {
    same(Libc::Musl, &["listen", "dgram"]);
}

#[test]
fn unix_listener_dgram_seqpacket_sigio_glibc() {
    same(Libc::Glibc, &["listen", "dgram"]);
}

#[test]
fn urgent_data_sigurg_and_poll_pri_musl() {
    same(Libc::Musl, &["oob"]);
}

#[test]
fn urgent_data_sigurg_and_poll_pri_glibc() {
    same(Libc::Glibc, &["oob"]);
}

#[test]
fn socket_owner_ioctls_musl() {
    same(Libc::Musl, &["ioctl"]);
}

#[test]
fn socket_owner_ioctls_glibc() {
    same(Libc::Glibc, &["ioctl"]);
}

#[test]
fn pipe_queued_sigio_musl() {
    same(Libc::Musl, &["pipe"]);
}

#[test]
fn pipe_queued_sigio_glibc() {
    same(Libc::Glibc, &["pipe"]);
}
