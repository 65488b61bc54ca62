//! vfork in a threaded process: only the calling thread waits for the
//! child; the process's other threads run on the memory the child shares
//! (`Kernel::take_vforked_mm`). `vfork_threads`, natively and under umbra.

use umbra_tests::{sections_same_as_native, Libc};

const SECTIONS: &[&str] = &["exit", "exec"];

#[test]
fn other_threads_run_while_a_vfork_child_waits_musl() {
    sections_same_as_native(Libc::Musl, "vfork_threads", SECTIONS);
}

#[test]
fn other_threads_run_while_a_vfork_child_waits_glibc() {
    sections_same_as_native(Libc::Glibc, "vfork_threads", SECTIONS);
}
