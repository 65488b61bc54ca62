//! End-to-end tests of switches between the threads of one process and of
//! the hand-off at a futex wake: `tests/guest/thread_switch.c` (each
//! thread's XMM registers, MXCSR and x87 control word over switches that
//! change only the SSE state, the main thread's after a thread with other
//! values exits, and a futex ping-pong pair that must leave a third thread
//! its time), built with musl and glibc, run natively and under umbra and
//! compared.

use umbra_tests::sections_same_as_native;

/// Every section of `thread_switch.c`.
const ALL: &[&str] = &["sse", "exit_fp", "pingpong"];

sections_same_as_native! {
    thread_switch_musl: Musl "thread_switch" ALL;
    thread_switch_glibc: Glibc "thread_switch" ALL;
}
