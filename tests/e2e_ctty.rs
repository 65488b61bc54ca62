//! The controlling terminal as Linux has it: /dev/tty opened by a process
//! whose session has no controlling terminal fails with ENXIO
//! (`tests/guest/tty_ctty.c`), natively and under umbra, compared.

use umbra_tests::{assert_same, Libc, Run};

#[test]
fn dev_tty_without_a_controlling_terminal_is_enxio_musl() {
    assert_same(&Run::guest(Libc::Musl, "tty_ctty").args(&["nosession"]));
}

#[test]
fn dev_tty_without_a_controlling_terminal_is_enxio_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "tty_ctty").args(&["nosession"]));
}
