//! End-to-end tests of file locks and the file I/O calls: the `locks` and
//! `fileio` programs of `tests/guest/` (musl and glibc builds), run natively and under
//! umbra and compared (stdout, stderr, exit status, and no umbra process
//! left behind; see `umbra_tests::assert_same`). Its files live in the
//! guest's /data, a tmpfs.

use umbra_tests::{assert_same, Libc, Run};

/// The sections of `locks.c`.
const LOCKS: &[&str] = &[
    "getlk",
    "split",
    "errors",
    "setlkw",
    "eintr",
    "deadlock",
    "close",
    "exit",
    "ofd",
    "flock",
    "flock_wait",
];

/// The sections of `fileio.c`.
const FILEIO: &[&str] = &[
    "fcntl_flags",
    "sockets",
    "offsets",
    "readv_fault",
    "fsize",
    "preadv",
    "getdents",
    "fallocate",
    "sendfile",
    "copy_file_range",
    "memfd",
    "sigio",
];

/// Runs sections of a program natively and under umbra and compares.
fn sections_same_as_native(libc: Libc, program: &str, sections: &[&str]) {
    assert_same(&Run::guest(libc, program).args(sections));
}

macro_rules! same_as_native {
    ($($(#[$attr:meta])* $test:ident: $libc:ident $program:literal $sections:expr;)*) => {$(
        #[test]
        $(#[$attr])*
        fn $test() {
            sections_same_as_native(Libc::$libc, $program, $sections);
        }
    )*};
}

same_as_native! {
    locks_musl: Musl "locks" LOCKS;
    locks_glibc: Glibc "locks" LOCKS;
    fileio_musl: Musl "fileio" FILEIO;
    fileio_glibc: Glibc "fileio" FILEIO;
}
