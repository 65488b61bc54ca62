//! TCP loopback after a connection ends (issue 12; tests/guest/net_tcpclose.c),
//! each section run natively in a fresh network namespace (lo up) and under
//! umbra, with the same output: connect on a socket whose connection went
//! through TIME_WAIT (EISCONN until connect(AF_UNSPEC)), what getsockname
//! and bind see once the port went back, and the TIME_WAIT ends that the
//! orders of closing leave in /proc/net/tcp, and connect(AF_UNSPEC) on a
//! listener, which stops it, and gives back a port bind(2) picked.

use umbra_tests::{compare, Libc, Run};

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "net_tcpclose").args(sections);
    let native = run.native_in(&["-n"], "ip link set lo up");
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn reconnect_after_time_wait_musl() {
    same(Libc::Musl, &["reconnect", "names"]);
}

#[test]
fn reconnect_after_time_wait_glibc() {
    same(Libc::Glibc, &["reconnect", "names"]);
}

#[test]
fn close_orders_musl() {
    same(Libc::Musl, &["close1", "close2", "close3", "close4"]);
}

#[test]
fn close_orders_glibc() {
    same(Libc::Glibc, &["close1", "close2", "close3", "close4"]);
}

#[test]
fn disconnect_stops_a_listener_musl() {
    same(Libc::Musl, &["listenstop"]);
}

#[test]
fn disconnect_stops_a_listener_glibc() {
    same(Libc::Glibc, &["listenstop"]);
}

#[test]
fn disconnect_gives_back_a_port_bind_picked_musl() {
    same(Libc::Musl, &["portlock"]);
}

#[test]
fn disconnect_gives_back_a_port_bind_picked_glibc() {
    same(Libc::Glibc, &["portlock"]);
}
