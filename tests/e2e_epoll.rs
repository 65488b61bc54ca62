//! End-to-end tests of epoll: `tests/guest/ev_epoll.c`, built with musl
//! and glibc, run natively and under umbra, outputs compared. Each section
//! is its own test so a failure names what broke.

use umbra_tests::sections_same_as_native;

sections_same_as_native! {
    create_musl: Musl "ev_epoll" &["create"];
    create_glibc: Glibc "ev_epoll" &["create"];
    ctl_errors_musl: Musl "ev_epoll" &["ctl_errors"];
    ctl_errors_glibc: Glibc "ev_epoll" &["ctl_errors"];
    level_musl: Musl "ev_epoll" &["level"];
    level_glibc: Glibc "ev_epoll" &["level"];
    edge_musl: Musl "ev_epoll" &["edge"];
    edge_glibc: Glibc "ev_epoll" &["edge"];
    oneshot_musl: Musl "ev_epoll" &["oneshot"];
    oneshot_glibc: Glibc "ev_epoll" &["oneshot"];
    order_musl: Musl "ev_epoll" &["order"];
    order_glibc: Glibc "ev_epoll" &["order"];
    nested_musl: Musl "ev_epoll" &["nested"];
    nested_glibc: Glibc "ev_epoll" &["nested"];
    loops_musl: Musl "ev_epoll" &["loops"];
    loops_glibc: Glibc "ev_epoll" &["loops"];
    close_musl: Musl "ev_epoll" &["close"];
    close_glibc: Glibc "ev_epoll" &["close"];
    fork_musl: Musl "ev_epoll" &["fork"];
    fork_glibc: Glibc "ev_epoll" &["fork"];
    block_musl: Musl "ev_epoll" &["block"];
    block_glibc: Glibc "ev_epoll" &["block"];
    signals_musl: Musl "ev_epoll" &["signals"];
    signals_glibc: Glibc "ev_epoll" &["signals"];
    exclusive_musl: Musl "ev_epoll" &["exclusive"];
    exclusive_glibc: Glibc "ev_epoll" &["exclusive"];
    fifo_musl: Musl "ev_epoll" &["fifo"];
    fifo_glibc: Glibc "ev_epoll" &["fifo"];
    rdhup_musl: Musl "ev_epoll" &["rdhup"];
    rdhup_glibc: Glibc "ev_epoll" &["rdhup"];
}
