//! The receive flags MSG_TRUNC, MSG_PEEK, MSG_WAITALL and MSG_DONTWAIT
//! (tests/guest/net_recvflags.c), each section run natively in a fresh
//! network namespace (lo up) and under umbra, with the same output: TCP's
//! MSG_TRUNC takes and counts the bytes without writing the buffer (also
//! with MSG_PEEK, MSG_WAITALL and on the urgent byte), TCP's
//! MSG_PEEK|MSG_WAITALL waits for the whole length; UDP and AF_UNIX
//! datagram and seqpacket sockets return a datagram's real length under
//! MSG_TRUNC; an AF_UNIX stream copies under MSG_TRUNC; MSG_DONTWAIT.

use umbra_tests::{compare, Libc, Run};

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "net_recvflags").args(sections);
    let native = run.native_in(&["-n"], "ip link set lo up");
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn tcp_musl() {
    same(Libc::Musl, &["tcp"]);
}

#[test]
fn tcp_glibc() {
    same(Libc::Glibc, &["tcp"]);
}

#[test]
fn udp_and_unix_musl() {
    same(Libc::Musl, &["udp", "unix"]);
}

#[test]
fn udp_and_unix_glibc() {
    same(Libc::Glibc, &["udp", "unix"]);
}
