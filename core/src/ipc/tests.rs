//! Unit tests of the IPC objects, without a kernel.
