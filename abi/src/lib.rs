//! umbra-abi: the Linux user ABI as data. No logic lives here: syscall numbers per
//! arch, errno values, flag sets, C structs with byte encodings, ELF and auxv
//! constants. Every crate of umbra speaks Linux through these definitions.
#![no_std]

pub mod pod;

pub mod auxv;
pub mod elf;
pub mod errno;
pub mod flags;
pub mod net;
pub mod signal;
pub mod structs;
pub mod syscall;

pub use errno::Errno;
pub use pod::Pod;
