//! Terminals: the line discipline that makes the console a Linux tty.
//!
//! The host terminal is put in raw mode and every byte typed reaches the
//! guest kernel, which does what Linux's tty layer does: [`ldisc`] holds the
//! N_TTY rules as a host-independent state machine, [`termios`] the flag
//! constants. The console driver (`fs::devfs`) feeds it host input, writes its
//! echo, and queues the signals it reports for the kernel to deliver.
//!
//! Layer 1: it uses only `error` and the `fs` ioctl-argument trait.

pub mod ldisc;
pub mod termios;

#[cfg(test)]
mod tests;

pub use ldisc::{
    changes_slave, changes_terminal, GroupSignal, InputEffects, ReadResult, Tty, TtyAccess,
    TtyCaller, TtyEffects, INPUT_CAP, MAX_CANON,
};
