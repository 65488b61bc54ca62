//! Unix98 ptys (`tests/guest/pty_unix98.c`): /dev/ptmx masters with
//! TIOCGPTN, TIOCSPTLCK and TIOCGPTPEER, /dev/pts/N slaves that come and go
//! with their master, a session on a slave driven through its master (echo,
//! line editing, SIGWINCH, ^C, EOF, hang-up), and a master whose slave
//! closed, poll and epoll on both ends; natively and under umbra, compared.

use umbra_tests::{assert_same, Libc, Run};

const SECTIONS: &[&str] = &["open", "session", "slaveclose", "peer", "epoll"];

#[test]
fn unix98_ptys_musl() {
    assert_same(&Run::guest(Libc::Musl, "pty_unix98").args(SECTIONS));
}

#[test]
fn unix98_ptys_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "pty_unix98").args(SECTIONS));
}
