//! Signal-driven I/O on TCP and UDP sockets over loopback (issue 12;
//! tests/guest/net_tcpasync.c), each section run natively in a fresh network
//! namespace (lo up) and under umbra, with the same output: one signal per
//! Linux sk_wake_async call (POLL_IN per segment, datagram and connection,
//! POLL_HUP and POLL_IN for a FIN, POLL_ERR for resets and refusals, POLL_OUT
//! for a connect made and for room after a full buffer, POLL_PRI for urgent
//! data), and none of POLL_IN while a reader sleeps on a TCP or AF_UNIX
//! stream socket (SOCKWQ_ASYNC_WAITDATA), unlike UDP and AF_UNIX datagrams.

use umbra_tests::{compare, Libc, Run};

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "net_tcpasync").args(sections);
    let native = run.native_in(&["-n"], "ip link set lo up");
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn tcp_segments_fin_and_hangup_musl() {
    same(Libc::Musl, &["tcp", "hup"]);
}

#[test]
fn tcp_segments_fin_and_hangup_glibc() {
    same(Libc::Glibc, &["tcp", "hup"]);
}

#[test]
fn tcp_resets_and_room_musl() {
    same(Libc::Musl, &["rst", "out"]);
}

#[test]
fn tcp_resets_and_room_glibc() {
    same(Libc::Glibc, &["rst", "out"]);
}

#[test]
fn tcp_listen_connect_and_urgent_musl() {
    same(Libc::Musl, &["listen", "connect", "oob"]);
}

#[test]
fn tcp_listen_connect_and_urgent_glibc() {
    same(Libc::Glibc, &["listen", "connect", "oob"]);
}

#[test]
fn udp_datagrams_and_refusals_musl() {
    same(Libc::Musl, &["udp"]);
}

#[test]
fn udp_datagrams_and_refusals_glibc() {
    same(Libc::Glibc, &["udp"]);
}

#[test]
fn no_poll_in_while_a_stream_reader_sleeps_musl() {
    same(Libc::Musl, &["waitdata"]);
}

#[test]
fn no_poll_in_while_a_stream_reader_sleeps_glibc() {
    same(Libc::Glibc, &["waitdata"]);
}
