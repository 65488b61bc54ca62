//! SO_RCVLOWAT on TCP, AF_UNIX stream and UDP sockets (issue 12;
//! tests/guest/net_rcvlowat.c), each section run natively in a fresh network
//! namespace (lo up) and under umbra, with the same output: the value as
//! getsockopt reports it (0 is 1, negative is INT_MAX), SO_SNDLOWAT refused
//! (ENOPROTOOPT), tcp_poll's POLLIN only at SO_RCVLOWAT bytes or FIN (poll,
//! select, epoll), unix_poll's at one byte, a blocking stream receive (and
//! a TCP MSG_PEEK) that waits for min(lowat, len) bytes, and non-blocking,
//! timed-out and end-of-stream receives that return fewer; UDP ignores it.

use umbra_tests::{compare, Libc, Run};

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "net_rcvlowat").args(sections);
    let native = run.native_in(&["-n"], "ip link set lo up");
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn options_musl() {
    same(Libc::Musl, &["opts", "udp"]);
}

#[test]
fn options_glibc() {
    same(Libc::Glibc, &["opts", "udp"]);
}

#[test]
fn tcp_poll_and_recv_musl() {
    same(Libc::Musl, &["tcppoll", "tcprecv"]);
}

#[test]
fn tcp_poll_and_recv_glibc() {
    same(Libc::Glibc, &["tcppoll", "tcprecv"]);
}

#[test]
fn unix_stream_musl() {
    same(Libc::Musl, &["unix"]);
}

#[test]
fn unix_stream_glibc() {
    same(Libc::Glibc, &["unix"]);
}
