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

/// `tests/guest/pty_ctl.c`: a slave opened without O_NOCTTY by a session
/// leader without a terminal becomes its controlling terminal; job-control
/// and pty requests on the master (TIOCGPGRP, TIOCSPGRP, TIOCGSID,
/// TIOCSCTTY, TIOCNOTTY, TIOCSIG, FIONREAD, TCFLSH); packet mode (with
/// TIOCPKT_IOCTL under EXTPROC); what a pty keeps of a termios change
/// (8 bits, no parity, receiver on), termio requests and TIOCGETD;
/// TIOCGDEV on both ends and /dev/tty.
const CONTROL: &[&str] = &["ctty", "master", "pkt", "termios", "gdev"];

#[test]
fn pty_control_musl() {
    assert_same(&Run::guest(Libc::Musl, "pty_ctl").args(CONTROL));
}

#[test]
fn pty_control_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "pty_ctl").args(CONTROL));
}

/// devpts mounts: a new instance per mount (its own numbers, ptmx and
/// options, shown in mountinfo), /dev/ptmx taking its ptys from the one at
/// /dev/pts. Natively the program mounts in a mount namespace of its own
/// (it needs root, as CI runs).
#[test]
fn devpts_mounts_musl() {
    assert_same(&Run::guest(Libc::Musl, "pty_ctl").args(&["devpts"]));
}

#[test]
fn devpts_mounts_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "pty_ctl").args(&["devpts"]));
}

/// A devpts instance unmounted (lazily: its slave is open) while its pty
/// is open: the pair keeps working, TIOCGPTPEER finds no devpts (ENODEV),
/// and a new instance mounted after numbers from 0 again.
#[test]
fn devpts_umount_with_a_pty_open_musl() {
    assert_same(&Run::guest(Libc::Musl, "pty_ctl").args(&["devpts-umount"]));
}

#[test]
fn devpts_umount_with_a_pty_open_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "pty_ctl").args(&["devpts-umount"]));
}

/// SIGTTOU for requests that change a pty slave, made from a background
/// group of its session (tty_check_change): termios, TIOCSPGRP, flush,
/// flow, breaks, TIOCSETD; not TIOCSWINSZ nor TCGETS; on the master, the
/// requests that act on the slave. Stopped, then restarted once in the
/// foreground; with SIGTTOU ignored or blocked the request goes ahead;
/// with a handler it fails with EINTR; an orphaned group gets EIO (ENOTTY
/// for TIOCSPGRP).
#[test]
fn background_changes_stop_with_sigttou_musl() {
    assert_same(&Run::guest(Libc::Musl, "pty_ctl").args(&["ttou"]));
}

#[test]
fn background_changes_stop_with_sigttou_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "pty_ctl").args(&["ttou"]));
}
