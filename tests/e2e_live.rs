//! End-to-end tests of issue 10's pipe, poll and procfs items: the `pipes2`
//! program of `tests/guest/` (musl and glibc builds) and busybox scripts, run
//! natively and under umbra and compared (stdout, stderr, exit status).
//!
//! - `bigwrite`: one write() larger than the pipe while a child drains it
//!   (it hung past 131,072 bytes);
//! - `readv`: readv on a pipe fills every iovec;
//! - `pipesz`: F_GETPIPE_SZ/F_SETPIPE_SZ rounding, EBUSY, the capacity
//!   following the size;
//! - `pollnorm`: POLLRDNORM/POLLWRNORM reported (POLLWRNORM alone returned
//!   never);
//! - `select`: select(2) writes back the time left, pselect6 does not.

use umbra_tests::{assert_same, Libc, Run};

const PIPES: &[&str] = &["bigwrite", "readv", "pipesz", "pollnorm", "select"];

macro_rules! same_as_native {
    ($($test:ident: $libc:ident $program:literal $sections:expr;)*) => {$(
        #[test]
        fn $test() {
            assert_same(&Run::guest(Libc::$libc, $program).args($sections));
        }
    )*};
}

same_as_native! {
    pipes2_musl: Musl "pipes2" PIPES;
    pipes2_glibc: Glibc "pipes2" PIPES;
}
