//! End-to-end tests of the event descriptors (eventfd, timerfd, signalfd
//! and inotify): the `ev_*` programs of `tests/guest/` (musl and glibc
//! builds), each run natively and under umbra and compared (stdout, stderr,
//! exit status, and no umbra process left behind; see
//! `umbra_tests::assert_same`).

use umbra_tests::sections_same_as_native;

const EVFD: &[&str] = &[
    "eventfd",
    "eventfd_block",
    "timerfd",
    "timerfd_wake",
    "signalfd",
    "signalfd_wake",
    "epoll",
    "epoll_et",
    "fdinfo",
];

const INOTIFY: &[&str] = &["errors", "dir", "self", "names", "overflow", "block"];

sections_same_as_native! {
    evfd_musl: Musl "ev_evfd" EVFD;
    evfd_glibc: Glibc "ev_evfd" EVFD;
    inotify_musl: Musl "ev_inotify" INOTIFY;
    inotify_glibc: Glibc "ev_inotify" INOTIFY;
}
