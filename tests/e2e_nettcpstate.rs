//! TCP loopback state (issue 12; tests/guest/net_tcpstate.c), each section
//! run natively in a fresh network namespace (lo up) and under umbra, with
//! the same output: getsockopt(TCP_INFO) (the fields that do not depend on
//! timing, and the length rules), a simultaneous close (both ends shut
//! before either sees the other's FIN: CLOSING, then TIME_WAIT on both), and
//! a listener stopped (close, shutdown SHUT_RD, connect AF_UNSPEC) with
//! connections it did not accept: each peer sees ECONNRESET, not EOF, and
//! a connect to a TIME_WAIT's 4-tuple from a port bind(2) named, which
//! takes the TIME_WAIT over (client side and server side), and one without
//! bind(2), left one port by IP_LOCAL_PORT_RANGE, only once the TIME_WAIT
//! is a second old (tcp_tw_reuse = 2).

use umbra_tests::{compare, Libc, Run};

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "net_tcpstate").args(sections);
    let native = run.native_in(&["-n"], "ip link set lo up");
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn tcp_info_musl() {
    same(Libc::Musl, &["info"]);
}

#[test]
fn tcp_info_glibc() {
    same(Libc::Glibc, &["info"]);
}

#[test]
fn simultaneous_close_musl() {
    same(Libc::Musl, &["simclose"]);
}

#[test]
fn simultaneous_close_glibc() {
    same(Libc::Glibc, &["simclose"]);
}

#[test]
fn stopped_listener_resets_its_queue_musl() {
    same(Libc::Musl, &["lstop"]);
}

#[test]
fn stopped_listener_resets_its_queue_glibc() {
    same(Libc::Glibc, &["lstop"]);
}

#[test]
fn time_wait_reuse_musl() {
    same(Libc::Musl, &["twreuse"]);
}

#[test]
fn time_wait_reuse_glibc() {
    same(Libc::Glibc, &["twreuse"]);
}

#[test]
fn time_wait_reuse_after_a_second_musl() {
    same(Libc::Musl, &["twephem"]);
}

#[test]
fn time_wait_reuse_after_a_second_glibc() {
    same(Libc::Glibc, &["twephem"]);
}
