//! Socket edge cases of issue 12 (tests/guest/net_edge.c), each run
//! natively in a fresh network namespace (lo up) and under umbra, with the
//! same output: /proc/net/raw, raw6 and packet; SCM_CREDENTIALS of senders
//! whose real, effective and saved ids differ; MSG_OOB on TCP and AF_UNIX
//! streams; TIME_WAIT after an active close.

use umbra_tests::{compare, Libc, Run};

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "net_edge").args(sections);
    let native = run.native_in(&["-n"], "ip link set lo up");
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn proc_net_raw_and_packet_musl() {
    same(Libc::Musl, &["procraw"]);
}

#[test]
fn proc_net_raw_and_packet_glibc() {
    same(Libc::Glibc, &["procraw"]);
}

#[test]
fn scm_credentials_real_effective_saved_musl() {
    same(Libc::Musl, &["creds"]);
}

#[test]
fn scm_credentials_real_effective_saved_glibc() {
    same(Libc::Glibc, &["creds"]);
}

#[test]
fn tcp_urgent_data_musl() {
    same(Libc::Musl, &["oob_tcp"]);
}

#[test]
fn tcp_urgent_data_glibc() {
    same(Libc::Glibc, &["oob_tcp"]);
}

#[test]
fn unix_stream_urgent_data_musl() {
    same(Libc::Musl, &["oob_unix"]);
}

#[test]
fn unix_stream_urgent_data_glibc() {
    same(Libc::Glibc, &["oob_unix"]);
}

#[test]
fn tcp_time_wait_musl() {
    same(Libc::Musl, &["timewait", "timewait6"]);
}

#[test]
fn tcp_time_wait_glibc() {
    same(Libc::Glibc, &["timewait", "timewait6"]);
}
