//! umbra-shim as a library: the raw host interface (`sys`, the only place with
//! `unsafe`) and the ptrace implementation of umbra-core's Host traits (`host`).
//! The `umbra` binary (main.rs) and the integration tests use it.

pub mod host;
#[expect(
    unsafe_code,
    reason = "the raw host interface: every block has a SAFETY comment"
)]
pub mod sys;
