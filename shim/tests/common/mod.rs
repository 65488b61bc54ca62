//! Code shared by the shim's integration tests.

pub mod bpf;
