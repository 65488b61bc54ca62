//! Line-discipline tests: exact echo bytes, editing, signals, VEOF, VMIN/VTIME,
//! output processing, ioctls and job control, all without a host.

use alloc::vec;
use alloc::vec::Vec;

use umbra_abi::flags::{
    FIONREAD, TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGPGRP, TIOCGWINSZ, TIOCSCTTY, TIOCSPGRP,
    TIOCSWINSZ,
};
use umbra_abi::signal::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH};
use umbra_abi::structs::{Termios, Winsize};
use umbra_abi::Pod;

use super::ldisc::*;
use super::termios::*;
use crate::error::{Errno, KResult};
use crate::fs::IoctlArg;

/// An ioctl argument in a byte vector.
struct Arg {
    raw: u64,
    data: Vec<u8>,
}

impl Arg {
    fn val(raw: u64) -> Arg {
        Arg {
            raw,
            data: Vec::new(),
        }
    }
    fn bytes(data: &[u8]) -> Arg {
        Arg {
            raw: 0x1000,
            data: data.to_vec(),
        }
    }
    fn i32(&self) -> i32 {
        i32::from_ne_bytes(self.data[..4].try_into().unwrap())
    }
}

impl IoctlArg for Arg {
    fn raw(&self) -> u64 {
        self.raw
    }
    fn read_in(&mut self, buf: &mut [u8]) -> KResult<()> {
        let src = self.data.get(..buf.len()).ok_or(Errno::EFAULT)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_out(&mut self, data: &[u8]) -> KResult<()> {
        self.data = data.to_vec();
        Ok(())
    }
}

/// A tty controlling session 10 with group 10 in the foreground.
fn tty() -> Tty {
    let mut t = Tty::new();
    t.set_session(10, 10);
    t
}

fn read_all(t: &mut Tty) -> Vec<u8> {
    let mut buf = [0u8; 8192];
    match t.read(&mut buf, 0) {
        ReadResult::Data(n) => buf[..n].to_vec(),
        other => panic!("read gave {other:?}"),
    }
}

fn set_lflag(t: &mut Tty, on: u32, off: u32) {
    let mut tm = *t.termios();
    tm.c_lflag = (tm.c_lflag | on) & !off;
    t.set_termios(tm);
}

fn set_cc(t: &mut Tty, idx: usize, v: u8) {
    let mut tm = *t.termios();
    tm.c_cc[idx] = v;
    t.set_termios(tm);
}

fn raw_mode(t: &mut Tty, vmin: u8, vtime: u8) {
    let mut tm = *t.termios();
    tm.c_lflag &= !(ICANON | ECHO);
    tm.c_cc[VMIN] = vmin;
    tm.c_cc[VTIME] = vtime;
    t.set_termios(tm);
}

#[test]
fn canonical_line_echoed_with_onlcr() {
    let mut t = tty();
    let fx = t.input(b"echo hi\r");
    assert_eq!(fx.echo, b"echo hi\r\n");
    assert!(fx.signals.is_empty());
    assert!(t.readable());
    assert_eq!(t.pending_input_len(), 8);
    assert_eq!(read_all(&mut t), b"echo hi\n");
    assert!(!t.readable());
    let mut b = [0u8; 4];
    assert_eq!(t.read(&mut b, 0), ReadResult::WouldBlock { deadline: None });
}

#[test]
fn partial_line_is_not_readable() {
    let mut t = tty();
    t.input(b"abc");
    assert!(!t.readable());
    assert_eq!(t.pending_input_len(), 0);
    let mut b = [0u8; 4];
    assert_eq!(t.read(&mut b, 0), ReadResult::WouldBlock { deadline: None });
}

#[test]
fn canonical_read_returns_one_line_at_a_time() {
    let mut t = tty();
    t.input(b"one\ntwo\n");
    assert_eq!(t.pending_input_len(), 8);
    assert_eq!(read_all(&mut t), b"one\n");
    assert_eq!(read_all(&mut t), b"two\n");
}

#[test]
fn canonical_read_into_small_buffer_keeps_the_rest() {
    let mut t = tty();
    t.input(b"hello\n");
    let mut b = [0u8; 2];
    assert_eq!(t.read(&mut b, 0), ReadResult::Data(2));
    assert_eq!(&b, b"he");
    assert_eq!(t.read(&mut b, 0), ReadResult::Data(2));
    assert_eq!(&b, b"ll");
    assert_eq!(t.read(&mut b, 0), ReadResult::Data(2));
    assert_eq!(&b, b"o\n");
    assert_eq!(t.read(&mut b, 0), ReadResult::WouldBlock { deadline: None });
}

#[test]
fn erase_removes_one_char_with_backspace_space_backspace() {
    let mut t = tty();
    let fx = t.input(b"ecx\x7fho\r");
    assert_eq!(fx.echo, b"ecx\x08 \x08ho\r\n");
    assert_eq!(read_all(&mut t), b"echo\n");
}

#[test]
fn erase_of_control_char_takes_two_columns() {
    let mut t = tty();
    // ^A echoes as "^A" (two columns), so erasing it rubs out two.
    let fx = t.input(b"a\x01\x7f");
    assert_eq!(fx.echo, b"a^A\x08 \x08\x08 \x08");
    // Without ECHOCTL the control went out raw and takes no column.
    let mut t = tty();
    set_lflag(&mut t, 0, ECHOCTL);
    let fx = t.input(b"a\x01\x7f");
    assert_eq!(fx.echo, b"a\x01");
    t.input(b"\n");
    assert_eq!(read_all(&mut t), b"a\n");
}

#[test]
fn erase_without_echoe_echoes_the_erase_char() {
    let mut t = tty();
    set_lflag(&mut t, 0, ECHOE);
    let fx = t.input(b"ab\x7f");
    assert_eq!(fx.echo, b"ab^?");
    t.input(b"\n");
    assert_eq!(read_all(&mut t), b"a\n");
}

#[test]
fn erase_at_line_start_does_nothing() {
    let mut t = tty();
    let fx = t.input(b"\x7f\x7fx\n");
    assert_eq!(fx.echo, b"x\r\n");
    assert_eq!(read_all(&mut t), b"x\n");
}

#[test]
fn erase_tab_backs_up_to_the_tab_stop() {
    let mut t = tty();
    // A prompt of 2 columns, then "ab<TAB>": the tab spans columns 4..8.
    let mut out = Vec::new();
    t.process_output(b"$ ", &mut out);
    let fx = t.input(b"ab\t\x7f");
    assert_eq!(fx.echo, b"ab\t\x08\x08\x08\x08");
    // After a tab, a tab is always 8 columns wide.
    let fx = t.input(b"\t\t\x7f");
    assert_eq!(fx.echo, b"\t\t\x08\x08\x08\x08\x08\x08\x08\x08");
}

#[test]
fn erase_multibyte_utf8_char_with_iutf8() {
    let mut t = tty();
    let mut tm = *t.termios();
    tm.c_iflag |= IUTF8;
    t.set_termios(tm);
    let fx = t.input("aé\x7f".as_bytes());
    assert_eq!(fx.echo, "aé\x08 \x08".as_bytes());
    t.input(b"\n");
    assert_eq!(read_all(&mut t), b"a\n");
}

#[test]
fn kill_erases_the_line_visually_with_echoke() {
    let mut t = tty();
    let fx = t.input(b"abc\x15");
    assert_eq!(fx.echo, b"abc\x08 \x08\x08 \x08\x08 \x08");
    t.input(b"x\n");
    assert_eq!(read_all(&mut t), b"x\n");
}

#[test]
fn kill_without_echoke_echoes_kill_char_and_newline() {
    let mut t = tty();
    set_lflag(&mut t, 0, ECHOKE);
    let fx = t.input(b"abc\x15");
    assert_eq!(fx.echo, b"abc^U\r\n");
    // And without ECHOK either, no newline.
    let mut t = tty();
    set_lflag(&mut t, 0, ECHOKE | ECHOK);
    let fx = t.input(b"abc\x15");
    assert_eq!(fx.echo, b"abc^U");
    t.input(b"d\n");
    assert_eq!(read_all(&mut t), b"d\n");
}

#[test]
fn werase_erases_the_last_word() {
    let mut t = tty();
    let fx = t.input(b"ls foo_1  \x17");
    assert_eq!(
        fx.echo,
        b"ls foo_1  \x08 \x08\x08 \x08\x08 \x08\x08 \x08\x08 \x08\x08 \x08\x08 \x08"
    );
    t.input(b"bar\n");
    assert_eq!(read_all(&mut t), b"ls bar\n");
    // Not without IEXTEN: ^W is then an ordinary character.
    let mut t = tty();
    set_lflag(&mut t, 0, IEXTEN);
    t.input(b"a\x17\n");
    assert_eq!(read_all(&mut t), b"a\x17\n");
}

#[test]
fn veof_ends_a_line_without_the_eof_char() {
    let mut t = tty();
    let fx = t.input(b"abc\x04");
    assert_eq!(fx.echo, b"abc", "^D is not echoed");
    assert!(t.readable());
    assert_eq!(t.pending_input_len(), 3);
    assert_eq!(read_all(&mut t), b"abc");
}

#[test]
fn veof_at_line_start_makes_one_read_return_eof() {
    let mut t = tty();
    t.input(b"\x04more\n");
    assert!(t.readable());
    let mut b = [0u8; 16];
    assert_eq!(t.read(&mut b, 0), ReadResult::Eof);
    assert_eq!(read_all(&mut t), b"more\n");
    // After a completed line too.
    t.input(b"x\n\x04");
    assert_eq!(read_all(&mut t), b"x\n");
    assert_eq!(t.read(&mut b, 0), ReadResult::Eof);
    assert_eq!(t.read(&mut b, 0), ReadResult::WouldBlock { deadline: None });
}

#[test]
fn veol_and_veol2_end_lines_and_stay_in_them() {
    let mut t = tty();
    set_cc(&mut t, VEOL, b';');
    set_cc(&mut t, VEOL2, b'|');
    let fx = t.input(b"a;b|");
    assert_eq!(fx.echo, b"a;b|");
    assert_eq!(read_all(&mut t), b"a;");
    assert_eq!(read_all(&mut t), b"b|");
    // A disabled (0) VEOL does not make NUL a terminator.
    let mut t = tty();
    t.input(b"a\0b\n");
    assert_eq!(read_all(&mut t), b"a\0b\n");
}

#[test]
fn vlnext_quotes_the_next_char() {
    let mut t = tty();
    let fx = t.input(b"a\x16\x03\x16\x7f\n");
    assert_eq!(fx.echo, b"a^\x08^C^\x08^?\r\n");
    assert!(fx.signals.is_empty(), "a quoted ^C is data");
    assert_eq!(read_all(&mut t), b"a\x03\x7f\n");
}

#[test]
fn vreprint_retypes_the_line() {
    let mut t = tty();
    let fx = t.input(b"ab\x12");
    assert_eq!(fx.echo, b"ab^R\r\nab");
    t.input(b"\n");
    assert_eq!(read_all(&mut t), b"ab\n");
}

#[test]
fn ctrl_c_signals_foreground_flushes_and_echoes() {
    let mut t = tty();
    t.input(b"done\n");
    let fx = t.input(b"partial");
    assert_eq!(fx.echo, b"partial");
    let fx = t.input(b"more\x03");
    assert_eq!(fx.signals, vec![(10, SIGINT)]);
    // The echo of input that came with ^C is discarded, as n_tty's isig
    // clears the echo not yet committed.
    assert_eq!(fx.echo, b"^C");
    assert!(!t.readable(), "input flushed");
    t.input(b"new\n");
    assert_eq!(read_all(&mut t), b"new\n");
}

#[test]
fn ctrl_backslash_and_ctrl_z() {
    let mut t = tty();
    t.set_session(10, 42);
    let fx = t.input(b"\x1c\x1a");
    assert_eq!(fx.signals, vec![(42, SIGQUIT), (42, SIGTSTP)]);
    assert_eq!(fx.echo, b"^\\^Z");
}

#[test]
fn noflsh_keeps_input_on_signal() {
    let mut t = tty();
    set_lflag(&mut t, NOFLSH, 0);
    t.input(b"keep\n");
    let fx = t.input(b"\x03");
    assert_eq!(fx.signals, vec![(10, SIGINT)]);
    assert_eq!(read_all(&mut t), b"keep\n");
}

#[test]
fn no_isig_makes_ctrl_c_data() {
    let mut t = tty();
    set_lflag(&mut t, 0, ISIG);
    let fx = t.input(b"\x03\n");
    assert!(fx.signals.is_empty());
    assert_eq!(read_all(&mut t), b"\x03\n");
}

#[test]
fn no_foreground_group_means_no_signal() {
    let mut t = Tty::new();
    let fx = t.input(b"x\x03");
    assert!(fx.signals.is_empty());
    assert_eq!(fx.echo, b"^C");
    assert_eq!(t.pending_input_len(), 0);
}

#[test]
fn signals_work_in_raw_mode_too() {
    let mut t = tty();
    raw_mode(&mut t, 1, 0);
    let fx = t.input(b"\x03");
    assert_eq!(fx.signals, vec![(10, SIGINT)]);
    assert!(fx.echo.is_empty(), "no ECHO");
}

#[test]
fn input_translation_icrnl_inlcr_igncr() {
    let mut t = tty();
    let mut tm = *t.termios();
    tm.c_iflag = INLCR;
    t.set_termios(tm);
    raw_mode(&mut t, 1, 0);
    t.input(b"\r\n");
    assert_eq!(read_all(&mut t), b"\r\r");
    let mut tm = *t.termios();
    tm.c_iflag = IGNCR;
    t.set_termios(tm);
    t.input(b"a\rb\n");
    assert_eq!(read_all(&mut t), b"ab\n");
    let mut tm = *t.termios();
    tm.c_iflag = ISTRIP;
    t.set_termios(tm);
    t.input(&[0xe1]);
    assert_eq!(read_all(&mut t), b"a");
}

#[test]
fn ixon_swallows_start_and_stop() {
    let mut t = tty();
    t.input(b"a\x13");
    assert!(t.output_stopped());
    t.input(b"\x11b\n");
    assert!(!t.output_stopped());
    assert_eq!(read_all(&mut t), b"ab\n");
}

#[test]
fn echonl_echoes_newline_without_echo() {
    let mut t = tty();
    set_lflag(&mut t, ECHONL, ECHO);
    let fx = t.input(b"secret\n");
    assert_eq!(fx.echo, b"\r\n");
    assert_eq!(read_all(&mut t), b"secret\n");
    let mut t = tty();
    set_lflag(&mut t, 0, ECHO);
    assert!(t.input(b"secret\n").echo.is_empty());
}

#[test]
fn raw_mode_echo_uses_ctl_notation_and_onlcr() {
    let mut t = tty();
    let mut tm = *t.termios();
    tm.c_lflag &= !ICANON;
    tm.c_iflag &= !ICRNL;
    t.set_termios(tm);
    let fx = t.input(b"a\r\x01\n");
    assert_eq!(fx.echo, b"a^M^A\r\n");
    assert_eq!(read_all(&mut t), b"a\r\x01\n");
}

#[test]
fn long_line_is_cut_at_4095_but_its_newline_gets_in() {
    let mut t = tty();
    let long = vec![b'x'; 5000];
    let fx = t.input(&long);
    assert_eq!(
        fx.echo.len(),
        MAX_CANON + (5000 - MAX_CANON),
        "x's then BELs"
    );
    assert_eq!(fx.echo[MAX_CANON], b'\x07');
    let fx = t.input(b"\n");
    assert_eq!(fx.echo, b"\r\n");
    let line = read_all(&mut t);
    assert_eq!(line.len(), MAX_CANON + 1);
    assert_eq!(line[MAX_CANON], b'\n');
    // Erasing still works on a full line.
    t.input(&long);
    t.input(b"\x7f\x7fab\n");
    assert_eq!(read_all(&mut t).len(), MAX_CANON + 1);
}

#[test]
fn input_room_shrinks_with_completed_lines() {
    let mut t = tty();
    assert_eq!(t.input_room(), INPUT_CAP);
    t.input(b"abc\n");
    assert_eq!(t.input_room(), INPUT_CAP - 4);
    t.input(b"partial");
    assert_eq!(t.input_room(), INPUT_CAP - 4);
    raw_mode(&mut t, 1, 0);
    assert_eq!(t.input_room(), INPUT_CAP - 11);
}

#[test]
fn vmin0_vtime0_returns_at_once() {
    let mut t = tty();
    raw_mode(&mut t, 0, 0);
    let mut b = [0u8; 8];
    assert_eq!(t.read(&mut b, 0), ReadResult::Data(0));
    t.input(b"xy");
    assert_eq!(t.read(&mut b, 0), ReadResult::Data(2));
    assert_eq!(&b[..2], b"xy");
}

#[test]
fn vmin_waits_for_enough_bytes() {
    let mut t = tty();
    raw_mode(&mut t, 3, 0);
    let mut b = [0u8; 8];
    t.input(b"ab");
    assert!(!t.readable(), "poll wants VMIN bytes when VTIME is 0");
    assert_eq!(t.read(&mut b, 0), ReadResult::WouldBlock { deadline: None });
    t.input(b"cd");
    assert!(t.readable());
    assert_eq!(t.read(&mut b, 0), ReadResult::Data(4));
    // A buffer smaller than VMIN is satisfied when full.
    t.input(b"zz");
    let mut one = [0u8; 1];
    assert_eq!(t.read(&mut one, 0), ReadResult::Data(1));
}

#[test]
fn vmin0_vtime_times_out_from_read_start() {
    let mut t = tty();
    raw_mode(&mut t, 0, 5); // 0.5 s
    let mut b = [0u8; 8];
    let d = 500_000_000;
    assert_eq!(
        t.read(&mut b, 1_000),
        ReadResult::WouldBlock {
            deadline: Some(1_000 + d)
        }
    );
    // Retrying keeps the deadline.
    assert_eq!(
        t.read(&mut b, 2_000),
        ReadResult::WouldBlock {
            deadline: Some(1_000 + d)
        }
    );
    assert_eq!(t.read(&mut b, 1_000 + d), ReadResult::Data(0));
    // A byte ends the wait at once.
    assert!(matches!(
        t.read(&mut b, 10 * d),
        ReadResult::WouldBlock { .. }
    ));
    t.input(b"k");
    assert_eq!(t.read(&mut b, 10 * d + 1), ReadResult::Data(1));
}

#[test]
fn vmin_vtime_is_an_inter_byte_timer() {
    let mut t = tty();
    raw_mode(&mut t, 4, 1); // 0.1 s
    let d = 100_000_000;
    let mut b = [0u8; 8];
    // No byte yet: wait without a deadline.
    assert_eq!(t.read(&mut b, 0), ReadResult::WouldBlock { deadline: None });
    t.input(b"a");
    assert_eq!(
        t.read(&mut b, 50),
        ReadResult::WouldBlock {
            deadline: Some(50 + d)
        }
    );
    // Another byte restarts the timer.
    t.input(b"b");
    assert_eq!(
        t.read(&mut b, 70),
        ReadResult::WouldBlock {
            deadline: Some(70 + d)
        }
    );
    assert_eq!(t.read(&mut b, 70 + d), ReadResult::Data(2));
    // VMIN bytes end it early.
    t.input(b"1234");
    assert_eq!(t.read(&mut b, 0), ReadResult::Data(4));
}

#[test]
fn switching_icanon_converts_the_queue() {
    let mut t = tty();
    t.input(b"line\npart");
    raw_mode(&mut t, 1, 0);
    assert_eq!(read_all(&mut t), b"line\npart");
    t.input(b"xyz");
    let mut tm = *t.termios();
    tm.c_lflag |= ICANON;
    t.set_termios(tm);
    assert!(t.readable(), "pending raw data becomes a line");
    assert_eq!(read_all(&mut t), b"xyz");
}

#[test]
fn output_onlcr_ocrnl_and_opost_off() {
    let mut t = tty();
    let mut out = Vec::new();
    t.process_output(b"a\nb\r", &mut out);
    assert_eq!(out, b"a\r\nb\r");
    let mut tm = *t.termios();
    tm.c_oflag = OPOST | OCRNL;
    t.set_termios(tm);
    out.clear();
    t.process_output(b"a\nb\r", &mut out);
    assert_eq!(out, b"a\nb\n");
    tm.c_oflag = ONLCR;
    t.set_termios(tm);
    out.clear();
    t.process_output(b"a\n", &mut out);
    assert_eq!(out, b"a\n", "ONLCR needs OPOST");
    tm.c_oflag = OPOST | ONOCR | ONLCR;
    t.set_termios(tm);
    out.clear();
    t.process_output(b"\n\rx\r", &mut out);
    assert_eq!(out, b"\r\nx\r", "no CR at column 0");
}

#[test]
fn tcgets_and_tcsets_round_trip() {
    let mut t = tty();
    let c = TtyCaller::new(10, 10, 10);
    let mut a = Arg::bytes(&[]);
    assert_eq!(t.ioctl(TCGETS, &mut a, &c).unwrap().0, 0);
    let mut tm = Termios::decode(&a.data);
    assert_eq!(tm, default_termios());
    tm.c_lflag &= !ECHO;
    let mut enc = [0u8; Termios::SIZE];
    tm.encode(&mut enc);
    t.ioctl(TCSETS, &mut Arg::bytes(&enc), &c).unwrap();
    assert_eq!(t.termios().c_lflag & ECHO, 0);
    assert_eq!(
        t.ioctl(TCSETS, &mut Arg::bytes(&[1, 2]), &c),
        Err(Errno::EFAULT)
    );
}

#[test]
fn tcsetsf_and_tcflsh_flush_input() {
    let mut t = tty();
    let c = TtyCaller::new(10, 10, 10);
    t.input(b"stale\n");
    let mut enc = [0u8; Termios::SIZE];
    t.termios().encode(&mut enc);
    t.ioctl(TCSETSF, &mut Arg::bytes(&enc), &c).unwrap();
    assert!(!t.readable());
    t.input(b"stale\n");
    t.ioctl(TCFLSH, &mut Arg::val(TCOFLUSH), &c).unwrap();
    assert!(t.readable());
    t.ioctl(TCFLSH, &mut Arg::val(TCIFLUSH), &c).unwrap();
    assert!(!t.readable());
    assert_eq!(t.ioctl(TCFLSH, &mut Arg::val(7), &c), Err(Errno::EINVAL));
    for v in [TCOOFF, TCOON, TCIOFF, TCION] {
        t.ioctl(TCXONC, &mut Arg::val(v), &c).unwrap();
    }
    assert_eq!(t.ioctl(TCXONC, &mut Arg::val(9), &c), Err(Errno::EINVAL));
    t.ioctl(TCSBRK, &mut Arg::val(1), &c).unwrap();
}

#[test]
fn fionread_and_tiocoutq() {
    let mut t = tty();
    let c = TtyCaller::new(10, 10, 10);
    t.input(b"ab\ncd");
    let mut a = Arg::bytes(&[]);
    t.ioctl(FIONREAD, &mut a, &c).unwrap();
    assert_eq!(a.i32(), 3);
    t.ioctl(TIOCOUTQ, &mut a, &c).unwrap();
    assert_eq!(a.i32(), 0);
}

#[test]
fn tiocswinsz_signals_sigwinch_only_on_change() {
    let mut t = tty();
    t.set_session(10, 33);
    let c = TtyCaller::new(10, 10, 10);
    let ws = Winsize {
        ws_row: 50,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let mut enc = [0u8; Winsize::SIZE];
    ws.encode(&mut enc);
    let (_, fx) = t.ioctl(TIOCSWINSZ, &mut Arg::bytes(&enc), &c).unwrap();
    assert_eq!(fx.signals, vec![(33, SIGWINCH)]);
    let (_, fx) = t.ioctl(TIOCSWINSZ, &mut Arg::bytes(&enc), &c).unwrap();
    assert!(fx.signals.is_empty());
    let mut a = Arg::bytes(&[]);
    t.ioctl(TIOCGWINSZ, &mut a, &c).unwrap();
    assert_eq!(Winsize::decode(&a.data), ws);
}

#[test]
fn pgrp_ioctls_need_the_controlling_tty() {
    let mut t = Tty::new();
    let c = TtyCaller::new(5, 5, 5);
    let mut a = Arg::bytes(&[]);
    assert_eq!(t.ioctl(TIOCGPGRP, &mut a, &c), Err(Errno::ENOTTY));
    assert_eq!(t.ioctl(TIOCGSID, &mut a, &c), Err(Errno::ENOTTY));
    // An unknown caller cannot see a group of a tty without a session either,
    // so a shell does not think it has job control.
    assert_eq!(
        t.ioctl(TIOCGPGRP, &mut a, &TtyCaller::UNKNOWN),
        Err(Errno::ENOTTY)
    );
    // A non-leader cannot acquire it.
    let member = TtyCaller::new(6, 5, 5);
    assert_eq!(
        t.ioctl(TIOCSCTTY, &mut Arg::val(0), &member),
        Err(Errno::EPERM)
    );
    t.ioctl(TIOCSCTTY, &mut Arg::val(0), &c).unwrap();
    assert_eq!((t.session(), t.foreground()), (5, 5));
    t.ioctl(TIOCGPGRP, &mut a, &member).unwrap();
    assert_eq!(a.i32(), 5);
    t.ioctl(TIOCGSID, &mut a, &member).unwrap();
    assert_eq!(a.i32(), 5);
    t.ioctl(TIOCSPGRP, &mut Arg::bytes(&7i32.to_ne_bytes()), &c)
        .unwrap();
    assert_eq!(t.foreground(), 7);
    assert_eq!(
        t.ioctl(TIOCSPGRP, &mut Arg::bytes(&(-1i32).to_ne_bytes()), &c),
        Err(Errno::EINVAL)
    );
    // Another session's leader cannot take it without stealing.
    let other = TtyCaller::new(9, 9, 9);
    assert_eq!(
        t.ioctl(TIOCSCTTY, &mut Arg::val(0), &other),
        Err(Errno::EPERM)
    );
    assert_eq!(t.ioctl(TIOCGPGRP, &mut a, &other), Err(Errno::ENOTTY));
    t.ioctl(TIOCSCTTY, &mut Arg::val(1), &other).unwrap();
    assert_eq!(t.session(), 9);
}

#[test]
fn tiocspgrp_checks_the_group_with_the_oracle() {
    let mut t = tty();
    let lookup = |pg: u32| match pg {
        10 | 11 => Some(10),
        12 => Some(99),
        _ => None,
    };
    let c = TtyCaller {
        pid: 10,
        pgid: 10,
        sid: 10,
        pgrp_session: Some(&lookup),
    };
    let set = |t: &mut Tty, pg: i32| t.ioctl(TIOCSPGRP, &mut Arg::bytes(&pg.to_ne_bytes()), &c);
    set(&mut t, 11).unwrap();
    assert_eq!(t.foreground(), 11);
    assert_eq!(set(&mut t, 12), Err(Errno::EPERM));
    assert_eq!(set(&mut t, 13), Err(Errno::ESRCH));
    assert_eq!(t.foreground(), 11);
}

#[test]
fn tiocnotty_by_leader_hangs_up_the_foreground() {
    let mut t = tty();
    t.set_session(10, 20);
    let member = TtyCaller::new(11, 20, 10);
    let (_, fx) = t.ioctl(TIOCNOTTY, &mut Arg::val(0), &member).unwrap();
    assert!(fx.signals.is_empty());
    assert_eq!(t.session(), 10);
    let leader = TtyCaller::new(10, 10, 10);
    let (_, fx) = t.ioctl(TIOCNOTTY, &mut Arg::val(0), &leader).unwrap();
    assert_eq!(fx.signals, vec![(20, SIGHUP), (20, SIGCONT)]);
    assert_eq!((t.session(), t.foreground()), (0, 0));
    assert_eq!(
        t.ioctl(TIOCNOTTY, &mut Arg::val(0), &leader),
        Err(Errno::ENOTTY)
    );
}

#[test]
fn session_leader_exit_sends_sighup() {
    let mut t = tty();
    t.set_session(10, 20);
    assert_eq!(t.session_leader_exited().signals, vec![(20, SIGHUP)]);
    assert_eq!(t.session(), 0);
}

#[test]
fn unknown_ioctl_is_enotty() {
    let mut t = tty();
    assert_eq!(
        t.ioctl(0x1234, &mut Arg::val(0), &TtyCaller::UNKNOWN),
        Err(Errno::ENOTTY)
    );
}

#[test]
fn background_groups_get_sigttin_and_sigttou() {
    let mut t = tty();
    t.set_session(10, 20);
    let fg = TtyCaller::new(21, 20, 10);
    let bg = TtyCaller::new(31, 30, 10);
    let outsider = TtyCaller::new(41, 40, 40);
    assert_eq!(t.check_read(&fg), TtyAccess::Allowed);
    assert_eq!(t.check_read(&bg), TtyAccess::Background { sig: SIGTTIN });
    assert_eq!(t.check_read(&outsider), TtyAccess::Allowed);
    assert_eq!(t.check_read(&TtyCaller::UNKNOWN), TtyAccess::Allowed);
    // Writes only with TOSTOP.
    assert_eq!(t.check_write(&bg), TtyAccess::Allowed);
    set_lflag(&mut t, TOSTOP, 0);
    assert_eq!(t.check_write(&bg), TtyAccess::Background { sig: SIGTTOU });
    assert_eq!(t.check_write(&fg), TtyAccess::Allowed);
    // Changing the terminal from the background is a write.
    assert_eq!(
        t.check_ioctl(TCSETS, &bg),
        TtyAccess::Background { sig: SIGTTOU }
    );
    assert_eq!(
        t.check_ioctl(TIOCSPGRP, &bg),
        TtyAccess::Background { sig: SIGTTOU }
    );
    assert_eq!(t.check_ioctl(TCGETS, &bg), TtyAccess::Allowed);
    assert_eq!(t.check_ioctl(TCSETS, &fg), TtyAccess::Allowed);
    // Every tty_check_change caller; not TIOCSWINSZ (tiocswinsz).
    for cmd in [
        TCSETSW, TCSETSF, TCSETA, TCSETAW, TCSETAF, TCFLSH, TCXONC, TCSBRK, TCSBRKP, TIOCSBRK,
        TIOCCBRK, TIOCSETD,
    ] {
        assert_eq!(
            t.check_ioctl(cmd, &bg),
            TtyAccess::Background { sig: SIGTTOU },
            "{cmd:#x}"
        );
    }
    assert_eq!(t.check_ioctl(TIOCSWINSZ, &bg), TtyAccess::Allowed);
    assert_eq!(t.check_ioctl(TCSETS, &outsider), TtyAccess::Allowed);
    // On a master only the requests acting on the slave.
    assert!(changes_slave(TCSETSF) && changes_slave(TIOCSPGRP));
    assert!(!changes_slave(TCFLSH) && !changes_slave(TCXONC));
}

#[test]
fn termio_requests_set_the_low_halves() {
    let mut t = tty();
    // EXTPROC lives in c_lflag's upper half, which termio does not reach.
    set_lflag(&mut t, EXTPROC, 0);
    let mut a = Arg::bytes(&[]);
    t.ioctl(TCGETA, &mut a, &TtyCaller::UNKNOWN).unwrap();
    assert_eq!(a.data.len(), TERMIO_SIZE);
    assert_eq!(u16::from_ne_bytes([a.data[6], a.data[7]]), 0o105073);
    assert_eq!(a.data[9..], [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0]);
    // ICANON off through TCSETA; EXTPROC stays.
    let lflag = (0o105073u32 & !ICANON) as u16;
    a.data[6..8].copy_from_slice(&lflag.to_ne_bytes());
    a.data[9 + VINTR] = 0x01;
    t.ioctl(TCSETA, &mut a, &TtyCaller::UNKNOWN).unwrap();
    assert_eq!(t.termios().c_lflag, (0o105073 & !ICANON) | EXTPROC);
    assert_eq!(t.termios().c_cc[VINTR], 0x01);
    assert_eq!(t.termios().c_cc[VEOL2], 0, "beyond NCC: untouched");
}

#[cfg(feature = "pty")]
#[test]
fn a_pty_slave_keeps_eight_bits_and_its_receiver() {
    let mut t = Tty::new_pty_slave();
    assert_eq!(t.termios().c_cflag, 0o277);
    let mut n = *t.termios();
    // CS7, parity, two stop bits, CLOCAL, no CREAD, 9600 baud, ADDRB.
    n.c_cflag = 0o40 | PARENB | 0o100 | 0o4000 | 0o15 | ADDRB;
    let mut b = [0u8; Termios::SIZE];
    n.encode(&mut b);
    t.ioctl(TCSETS, &mut Arg::bytes(&b), &TtyCaller::UNKNOWN)
        .unwrap();
    // As Linux's pty_set_termios: CS8 and CREAD, no PARENB, the rest kept
    // but ADDRB (tty_set_termios keeps its old value).
    assert_eq!(t.termios().c_cflag, 0o4375);
    // A console takes the flags as given, ADDRB aside.
    let mut c = Tty::new();
    c.ioctl(TCSETS, &mut Arg::bytes(&b), &TtyCaller::UNKNOWN)
        .unwrap();
    assert_eq!(c.termios().c_cflag, 0o4555);
}
