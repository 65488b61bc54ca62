//! /proc/net/tcp, tcp6, udp, udp6 and unix (issue 12): tests/guest/proc_net.c
//! makes sockets and prints the header line of each file verbatim and, for
//! each socket of its own (found by inode), the fields of its line that do
//! not depend on the run, the number of fields and the padded width. Run
//! natively in a fresh network namespace (lo up, so the files hold the
//! program's sockets only) and under umbra, same output.

use umbra_tests::{compare, Libc, Run};

fn native_in_netns(run: &Run) -> umbra_tests::Outcome {
    run.native_in(&["-n"], "ip link set lo up")
}

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "proc_net").args(sections);
    let native = native_in_netns(&run);
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn proc_net_inet_musl() {
    same(Libc::Musl, &["tcp", "tcp6", "udp", "udp6"]);
}

#[test]
fn proc_net_inet_glibc() {
    same(Libc::Glibc, &["tcp", "tcp6", "udp", "udp6"]);
}

#[test]
fn proc_net_unix_musl() {
    same(Libc::Musl, &["unix"]);
}

#[test]
fn proc_net_unix_glibc() {
    same(Libc::Glibc, &["unix"]);
}
