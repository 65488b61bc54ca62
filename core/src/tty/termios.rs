//! Terminal flag and control-character constants with their Linux spellings and
//! values (include/uapi/asm-generic/termbits.h and ioctls.h; x86_64 and aarch64
//! agree), and the termios a new Linux tty starts with.
//!
//! They live here rather than in `umbra-abi` because only the line discipline
//! interprets them; the ioctl numbers `umbra-abi` already has are re-used.

use umbra_abi::structs::Termios;

// c_iflag
pub const IGNBRK: u32 = 0o1;
pub const BRKINT: u32 = 0o2;
pub const ISTRIP: u32 = 0o40;
pub const INLCR: u32 = 0o100;
pub const IGNCR: u32 = 0o200;
pub const ICRNL: u32 = 0o400;
pub const IXON: u32 = 0o2000;
pub const IXANY: u32 = 0o4000;
pub const IXOFF: u32 = 0o10000;
pub const IUTF8: u32 = 0o40000;

// c_oflag
pub const OPOST: u32 = 0o1;
pub const ONLCR: u32 = 0o4;
pub const OCRNL: u32 = 0o10;
pub const ONOCR: u32 = 0o20;
pub const ONLRET: u32 = 0o40;

// c_cflag
pub const B38400: u32 = 0o17;
pub const CSIZE: u32 = 0o60;
pub const CS8: u32 = 0o60;
pub const CREAD: u32 = 0o200;
pub const PARENB: u32 = 0o400;
pub const HUPCL: u32 = 0o2000;
/// The address bit (RS-485 addressing), which no TCSETS changes
/// (tty_set_termios keeps the old value).
pub const ADDRB: u32 = 0x2000_0000;

// c_lflag
pub const ISIG: u32 = 0o1;
pub const ICANON: u32 = 0o2;
pub const ECHO: u32 = 0o10;
pub const ECHOE: u32 = 0o20;
pub const ECHOK: u32 = 0o40;
pub const ECHONL: u32 = 0o100;
pub const NOFLSH: u32 = 0o200;
pub const TOSTOP: u32 = 0o400;
pub const ECHOCTL: u32 = 0o1000;
pub const ECHOKE: u32 = 0o4000;
pub const IEXTEN: u32 = 0o100000;
pub const EXTPROC: u32 = 0o200000;

// c_cc indices
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VERASE: usize = 2;
pub const VKILL: usize = 3;
pub const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
pub const VSWTC: usize = 7;
pub const VSTART: usize = 8;
pub const VSTOP: usize = 9;
pub const VSUSP: usize = 10;
pub const VEOL: usize = 11;
pub const VREPRINT: usize = 12;
pub const VDISCARD: usize = 13;
pub const VWERASE: usize = 14;
pub const VLNEXT: usize = 15;
pub const VEOL2: usize = 16;
/// Number of control characters in the kernel's struct termios.
pub const NCCS: usize = 19;

/// A control character set to this value is disabled (`_POSIX_VDISABLE`).
pub const VDISABLE: u8 = 0;

// Terminal ioctls that `umbra-abi` does not name yet.
pub const TCGETA: u32 = 0x5405;
pub const TCSETA: u32 = 0x5406;
pub const TCSETAW: u32 = 0x5407;
pub const TCSETAF: u32 = 0x5408;
pub const TCSBRK: u32 = 0x5409;
pub const TCXONC: u32 = 0x540A;
pub const TCFLSH: u32 = 0x540B;
pub const TIOCOUTQ: u32 = 0x5411;
pub const TIOCNOTTY: u32 = 0x5422;
pub const TIOCSETD: u32 = 0x5423;
pub const TIOCGETD: u32 = 0x5424;
pub const TCSBRKP: u32 = 0x5425;
pub const TIOCSBRK: u32 = 0x5427;
pub const TIOCCBRK: u32 = 0x5428;
pub const TIOCGSID: u32 = 0x5429;
/// TIOCGDEV, `_IOR('T', 0x32, unsigned int)`: the terminal's device number.
pub const TIOCGDEV: u32 = 0x8004_5432;

/// struct termio's size (TCGETA): four 16-bit flag words, c_line and
/// NCC = 8 control characters (its padding byte is not written).
pub const TERMIO_SIZE: usize = 17;
/// The control characters struct termio holds.
pub const NCC: usize = 8;
/// N_TTY, the only line discipline umbra has.
pub const N_TTY: i32 = 0;

// TCFLSH arguments.
pub const TCIFLUSH: u64 = 0;
pub const TCOFLUSH: u64 = 1;
pub const TCIOFLUSH: u64 = 2;

// TCXONC arguments.
pub const TCOOFF: u64 = 0;
pub const TCOON: u64 = 1;
pub const TCIOFF: u64 = 2;
pub const TCION: u64 = 3;

/// The c_cflag a new Unix98 pty slave starts with (unix98_pty_init:
/// 38400 baud, 8 bits, receiver on, and no HUPCL, unlike other ttys).
pub const PTY_CFLAG: u32 = B38400 | CS8 | CREAD;

/// The termios Linux gives a new tty (`tty_std_termios`): 38400 baud, 8 bits,
/// canonical mode with echo and signals, CR→NL on input and NL→CR NL on output.
pub fn default_termios() -> Termios {
    let mut c_cc = [0u8; NCCS];
    c_cc[VINTR] = 0x03; // ^C
    c_cc[VQUIT] = 0x1c; // ^\
    c_cc[VERASE] = 0x7f; // DEL
    c_cc[VKILL] = 0x15; // ^U
    c_cc[VEOF] = 0x04; // ^D
    c_cc[VTIME] = 0;
    c_cc[VMIN] = 1;
    c_cc[VSWTC] = 0;
    c_cc[VSTART] = 0x11; // ^Q
    c_cc[VSTOP] = 0x13; // ^S
    c_cc[VSUSP] = 0x1a; // ^Z
    c_cc[VEOL] = 0;
    c_cc[VREPRINT] = 0x12; // ^R
    c_cc[VDISCARD] = 0x0f; // ^O
    c_cc[VWERASE] = 0x17; // ^W
    c_cc[VLNEXT] = 0x16; // ^V
    c_cc[VEOL2] = 0;
    Termios {
        c_iflag: ICRNL | IXON,
        c_oflag: OPOST | ONLCR,
        c_cflag: B38400 | CS8 | CREAD | HUPCL,
        c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
        c_line: 0,
        c_cc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_termios_matches_linux() {
        // Linux's tty_std_termios, field by field (a fresh pty slave has
        // PTY_CFLAG instead: `stty -g` there shows c_cflag 277).
        let t = default_termios();
        assert_eq!(t.c_iflag, 0o2400);
        assert_eq!(t.c_oflag, 0o5);
        assert_eq!(t.c_cflag, 0o2277);
        assert_eq!(t.c_lflag, 0o105073);
        assert_eq!(
            t.c_cc[..17],
            [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0]
        );
    }
}
