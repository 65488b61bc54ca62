//! The line discipline: Linux's N_TTY as a pure state machine.
//!
//! The host terminal is in raw mode and hands over every byte typed; this code
//! does what the Linux tty layer would: input translation (ICRNL, INLCR, IGNCR,
//! ISTRIP), signal characters (ISIG), canonical line editing (ICANON with
//! VERASE, VKILL, VWERASE, VEOF, VEOL, VEOL2, VLNEXT, VREPRINT), echo (ECHO,
//! ECHOE, ECHOK, ECHOKE, ECHONL, ECHOCTL), non-canonical reads with VMIN and
//! VTIME, output post-processing (OPOST with ONLCR, OCRNL, ONOCR, ONLRET) and
//! the termios, window size, session and foreground-group ioctls.
//!
//! It never touches the host, the clock or the process table: bytes come in
//! through [`Tty::input`], the caller writes the returned echo to the host,
//! signals are *reported* (the kernel owns signal delivery), and time is passed
//! in to [`Tty::read`]. That keeps every rule unit-testable, and the comments
//! point at the n_tty.c function each rule follows.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use umbra_abi::flags::{
    FIONREAD, TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGPGRP, TIOCGWINSZ, TIOCSCTTY, TIOCSPGRP,
    TIOCSWINSZ,
};
use umbra_abi::signal::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH};
use umbra_abi::structs::{Termios, Winsize};
use umbra_abi::Pod;

use super::termios::*;
use crate::error::{Errno, KResult};
use crate::fs::IoctlArg;

/// Longest canonical line, its terminator excluded (N_TTY_BUF_SIZE - 1).
pub const MAX_CANON: usize = 4095;
/// Input the discipline holds before it stops taking more from the host
/// (N_TTY_BUF_SIZE): completed lines in canonical mode, raw bytes otherwise.
pub const INPUT_CAP: usize = 4096;
/// One VTIME unit: a tenth of a second, in nanoseconds.
const DECISECOND_NS: u64 = 100_000_000;

/// A signal for every process of a process group: `(pgid, signal)`.
pub type GroupSignal = (u32, u32);

/// What feeding input produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputEffects {
    /// Bytes to write to the host terminal, already output-processed.
    pub echo: Vec<u8>,
    /// Signals for the foreground process group (ISIG).
    pub signals: Vec<GroupSignal>,
    /// How much of `echo` is committed: n_tty commits a signal
    /// character's echo at once, the rest at the end of the input, and
    /// isig without NOFLSH discards what is not committed.
    committed: usize,
    /// isig flushed the input and output queues (no NOFLSH): a pty
    /// master in packet mode reports it (n_tty_packet_mode_flush).
    #[cfg(feature = "pty")]
    pub flushed: bool,
}

/// What an ioctl produced besides its return value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TtyEffects {
    /// Signals to send, e.g. SIGWINCH after TIOCSWINSZ, SIGHUP after TIOCNOTTY.
    pub signals: Vec<GroupSignal>,
}

/// The outcome of [`Tty::read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadResult {
    /// This many bytes were copied (0 only for VMIN=0 reads that found nothing
    /// or whose VTIME expired, and for empty buffers).
    Data(usize),
    /// Nothing to return yet. With a deadline (in the clock `read` was given),
    /// the read completes when it passes even without input: call again then.
    WouldBlock { deadline: Option<u64> },
    /// VEOF at the start of a line: this read returns 0; the next reads on.
    Eof,
}

/// Whether a process may do terminal I/O, per POSIX job control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtyAccess {
    /// Go ahead.
    Allowed,
    /// The caller is in a background group of the terminal's session. The
    /// kernel then does what Linux's `__tty_check_change` does: if the caller
    /// ignores or blocks `sig`, SIGTTIN means EIO and SIGTTOU means go ahead;
    /// else an orphaned group gets EIO; else `sig` goes to the caller's group
    /// and the call restarts after the stop (ERESTARTSYS).
    Background { sig: u32 },
}

/// Whether ioctl `cmd` changes the terminal, so that a background caller
/// is stopped with SIGTTOU before it is made: Linux's tty_check_change
/// callers, set_termios (TCSETS, TCSETA and their W and F forms),
/// tiocspgrp, n_tty_ioctl_helper's TCXONC and TCFLSH, and tty_ioctl's
/// TIOCSETD and break requests. Not TIOCSWINSZ (tiocswinsz checks
/// nothing). On a pty master only [`changes_slave`] requests check, against
/// the slave; the others check the master, nobody's controlling terminal.
pub fn changes_terminal(cmd: u32) -> bool {
    changes_slave(cmd)
        || matches!(
            cmd,
            TCFLSH | TCXONC | TCSBRK | TCSBRKP | TIOCSBRK | TIOCCBRK | TIOCSETD
        )
}

/// Requests on a pty master that change its slave and check the caller
/// against it (set_termios and tiocspgrp on real_tty).
pub fn changes_slave(cmd: u32) -> bool {
    matches!(
        cmd,
        TCSETS | TCSETSW | TCSETSF | TCSETA | TCSETAW | TCSETAF | TIOCSPGRP
    )
}

/// The process making a terminal request.
#[derive(Clone, Copy)]
pub struct TtyCaller<'a> {
    pub pid: u32,
    pub pgid: u32,
    pub sid: u32,
    /// The session of a process group, `None` if no such group exists; used
    /// by TIOCSPGRP. Without it every group is taken to exist in the caller's
    /// session.
    pub pgrp_session: Option<&'a dyn Fn(u32) -> Option<u32>>,
}

impl TtyCaller<'_> {
    /// A caller the driver knows nothing about (pid 0): session and job-control
    /// checks are skipped. The plain `FileOps::ioctl` path uses it.
    pub const UNKNOWN: TtyCaller<'static> = TtyCaller {
        pid: 0,
        pgid: 0,
        sid: 0,
        pgrp_session: None,
    };

    /// A known caller without a group-session oracle.
    pub const fn new(pid: u32, pgid: u32, sid: u32) -> TtyCaller<'static> {
        TtyCaller {
            pid,
            pgid,
            sid,
            pgrp_session: None,
        }
    }

    fn is_unknown(&self) -> bool {
        self.pid == 0
    }
}

/// Which eraser character was typed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kill {
    Erase,
    Werase,
    Line,
}

/// One terminal: termios, window size, session, and the input queue.
#[derive(Clone, Debug)]
pub struct Tty {
    termios: Termios,
    winsize: Winsize,
    /// Foreground process group, 0 for none.
    pgrp: u32,
    /// Session this is the controlling terminal of, 0 for none.
    session: u32,
    /// Completed canonical lines, terminator included; an empty line is a
    /// VEOF typed at the start of a line.
    lines: VecDeque<Vec<u8>>,
    /// The canonical line being edited.
    line: Vec<u8>,
    /// Non-canonical input.
    raw: VecDeque<u8>,
    /// The next byte is taken literally (VLNEXT was typed).
    lnext: bool,
    /// Output stopped by VSTOP (recorded; output is not held back).
    stopped: bool,
    /// Output column, for tab erasure (as n_tty's `ldata->column`).
    column: usize,
    /// Column where the line being edited started.
    canon_column: usize,
    /// Bumped by every `input`, so a VTIME timer knows a byte arrived.
    input_gen: u64,
    /// VTIME timer: started at this time, for input generation `.0`.
    vtime_anchor: Option<(u64, u64)>,
    /// A pty slave, whose termios changes keep what its "hardware" would
    /// (pty_set_termios: 8 bits, no parity, receiver on).
    #[cfg(feature = "pty")]
    pty: bool,
}

impl Default for Tty {
    fn default() -> Self {
        Tty::new()
    }
}

fn is_cntrl(c: u8) -> bool {
    // ASCII controls only: Linux's ctype also calls 0x80..=0x9f controls,
    // which garbles the echo of UTF-8 text under ECHOCTL; we do not copy that.
    c < 0x20 || c == 0x7f
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

impl Tty {
    /// A new terminal with Linux's default termios, a 24x80 window, no session.
    pub fn new() -> Tty {
        Tty {
            termios: default_termios(),
            winsize: Winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
            pgrp: 0,
            session: 0,
            lines: VecDeque::new(),
            line: Vec::new(),
            raw: VecDeque::new(),
            lnext: false,
            stopped: false,
            column: 0,
            canon_column: 0,
            input_gen: 0,
            vtime_anchor: None,
            #[cfg(feature = "pty")]
            pty: false,
        }
    }

    /// A new Unix98 pty slave: Linux's default termios but for its
    /// c_cflag ([`PTY_CFLAG`]), and termios changes kept to what a pty
    /// does (see [`Tty::ioctl`]).
    #[cfg(feature = "pty")]
    pub fn new_pty_slave() -> Tty {
        let mut t = Tty::new();
        t.termios.c_cflag = PTY_CFLAG;
        t.pty = true;
        t
    }

    /// A termios request's new termios as the terminal takes it
    /// (tty_set_termios): the address bit keeps its old value, and a pty
    /// slave keeps 8 bits, no parity and its receiver on
    /// (pty_set_termios); the other flags, the speed among them, are kept
    /// as given.
    fn settle_termios(&self, mut t: Termios) -> Termios {
        t.c_cflag = (t.c_cflag & !ADDRB) | (self.termios.c_cflag & ADDRB);
        #[cfg(feature = "pty")]
        if self.pty {
            t.c_cflag = (t.c_cflag & !(CSIZE | PARENB)) | CS8 | CREAD;
        }
        t
    }

    // ----- state the kernel reads and sets -----

    /// The current termios.
    pub fn termios(&self) -> &Termios {
        &self.termios
    }

    /// Replaces the termios (TCSETS). Switching ICANON converts the queue as
    /// n_tty_set_termios does: pending raw input becomes one completed line,
    /// and lines become raw bytes.
    pub fn set_termios(&mut self, t: Termios) {
        let was = self.canonical();
        self.termios = t;
        let now = self.canonical();
        if was && !now {
            for l in self.lines.drain(..) {
                self.raw.extend(l);
            }
            self.raw.extend(self.line.drain(..));
        } else if !was && now && !self.raw.is_empty() {
            let l: Vec<u8> = self.raw.drain(..).collect();
            self.lines.push_back(l);
        }
        self.lnext = false;
        self.vtime_anchor = None;
    }

    /// The window size.
    pub fn winsize(&self) -> Winsize {
        self.winsize
    }

    /// Sets the window size; when it changed, SIGWINCH goes to the foreground
    /// group (tty_do_resize).
    pub fn set_winsize(&mut self, ws: Winsize) -> TtyEffects {
        let mut fx = TtyEffects::default();
        if ws != self.winsize {
            self.winsize = ws;
            if self.pgrp != 0 {
                fx.signals.push((self.pgrp, SIGWINCH));
            }
        }
        fx
    }

    /// The foreground process group (0: none).
    pub fn foreground(&self) -> u32 {
        self.pgrp
    }

    /// The session this terminal controls (0: none).
    pub fn session(&self) -> u32 {
        self.session
    }

    /// Makes this the controlling terminal of session `sid` with `pgrp` in the
    /// foreground (what TIOCSCTTY or the first open by a session leader does).
    pub fn set_session(&mut self, sid: u32, pgrp: u32) {
        self.session = sid;
        self.pgrp = pgrp;
    }

    /// The session leader exited (disassociate_ctty(1)): SIGHUP for the
    /// foreground group, and the terminal belongs to no session any more.
    pub fn session_leader_exited(&mut self) -> TtyEffects {
        let mut fx = TtyEffects::default();
        if self.pgrp != 0 {
            fx.signals.push((self.pgrp, SIGHUP));
        }
        self.session = 0;
        self.pgrp = 0;
        fx
    }

    /// Whether output was stopped with VSTOP (IXON) and not restarted.
    pub fn output_stopped(&self) -> bool {
        self.stopped
    }

    fn canonical(&self) -> bool {
        self.termios.c_lflag & ICANON != 0
    }

    fn l(&self, flag: u32) -> bool {
        self.termios.c_lflag & flag != 0
    }

    fn i(&self, flag: u32) -> bool {
        self.termios.c_iflag & flag != 0
    }

    fn o(&self, flag: u32) -> bool {
        self.termios.c_oflag & flag != 0
    }

    /// Whether `c` continues a UTF-8 character (only with IUTF8).
    fn is_continuation(&self, c: u8) -> bool {
        self.i(IUTF8) && c & 0xc0 == 0x80
    }

    /// Whether `c` is the enabled control character `idx`.
    fn is_cc(&self, c: u8, idx: usize) -> bool {
        let v = self.termios.c_cc[idx];
        v != VDISABLE && v == c
    }

    // ----- input -----

    /// Bytes the discipline can still take; the caller reads at most this
    /// much from the host so that nothing is dropped (Linux throttles).
    pub fn input_room(&self) -> usize {
        let used = if self.canonical() {
            self.lines.iter().map(Vec::len).sum()
        } else {
            self.raw.len()
        };
        INPUT_CAP.saturating_sub(used)
    }

    /// Processes bytes typed on the terminal.
    pub fn input(&mut self, bytes: &[u8]) -> InputEffects {
        let mut fx = InputEffects::default();
        for &c in bytes {
            self.receive(c, &mut fx);
        }
        if !bytes.is_empty() {
            self.input_gen = self.input_gen.wrapping_add(1);
            self.vtime_anchor = None;
        }
        fx
    }

    /// One input byte (n_tty_receive_char_special and friends).
    fn receive(&mut self, mut c: u8, fx: &mut InputEffects) {
        if self.i(ISTRIP) {
            c &= 0x7f;
        }
        if self.lnext {
            self.lnext = false;
            self.put_char(c, fx);
            return;
        }
        if self.i(IXON) {
            if self.is_cc(c, VSTART) {
                self.stopped = false;
                return;
            }
            if self.is_cc(c, VSTOP) {
                self.stopped = true;
                return;
            }
        }
        if self.l(ISIG) {
            for (idx, sig) in [(VINTR, SIGINT), (VQUIT, SIGQUIT), (VSUSP, SIGTSTP)] {
                if self.is_cc(c, idx) {
                    self.signal_char(c, sig, fx);
                    return;
                }
            }
        }
        if c == b'\r' {
            if self.i(IGNCR) {
                return;
            }
            if self.i(ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && self.i(INLCR) {
            c = b'\r';
        }
        if self.canonical() {
            let iexten = self.l(IEXTEN);
            if self.is_cc(c, VERASE) || self.is_cc(c, VKILL) || (iexten && self.is_cc(c, VWERASE)) {
                self.eraser(c, fx);
                return;
            }
            if iexten && self.is_cc(c, VLNEXT) {
                self.lnext = true;
                if self.l(ECHO) && self.l(ECHOCTL) {
                    // A caret under the cursor until the next byte arrives.
                    self.echo_raw(b'^', fx);
                    self.echo_raw(b'\x08', fx);
                }
                return;
            }
            if iexten && self.l(ECHO) && self.is_cc(c, VREPRINT) {
                self.echo_char(c, fx);
                self.echo_raw(b'\n', fx);
                let line = core::mem::take(&mut self.line);
                for &b in &line {
                    self.echo_char(b, fx);
                }
                self.line = line;
                return;
            }
            if c == b'\n' {
                if self.l(ECHO) || self.l(ECHONL) {
                    self.echo_raw(b'\n', fx);
                }
                self.end_line(Some(c));
                return;
            }
            if self.is_cc(c, VEOF) {
                self.end_line(None);
                return;
            }
            if self.is_cc(c, VEOL) || (iexten && self.is_cc(c, VEOL2)) {
                if self.l(ECHO) {
                    if self.line.is_empty() {
                        self.canon_column = self.column;
                    }
                    self.echo_char(c, fx);
                }
                self.end_line(Some(c));
                return;
            }
        }
        self.put_char(c, fx);
    }

    /// An ordinary byte (n_tty_receive_char).
    fn put_char(&mut self, c: u8, fx: &mut InputEffects) {
        if self.canonical() {
            if self.line.len() >= MAX_CANON {
                // The line is full: only terminators get in.
                if self.l(ECHO) {
                    self.echo_raw(b'\x07', fx);
                }
                return;
            }
            if self.l(ECHO) {
                if self.line.is_empty() {
                    self.canon_column = self.column;
                }
                self.echo_input_char(c, fx);
            }
            self.line.push(c);
        } else {
            if self.raw.len() >= INPUT_CAP {
                return;
            }
            if self.l(ECHO) {
                self.echo_input_char(c, fx);
            }
            self.raw.push_back(c);
        }
    }

    fn echo_input_char(&mut self, c: u8, fx: &mut InputEffects) {
        if c == b'\n' {
            self.echo_raw(b'\n', fx);
        } else {
            self.echo_char(c, fx);
        }
    }

    /// Completes the line being edited, with its terminator (none for VEOF).
    fn end_line(&mut self, term: Option<u8>) {
        if let Some(t) = term {
            self.line.push(t);
        }
        let l = core::mem::take(&mut self.line);
        self.lines.push_back(l);
    }

    /// VINTR, VQUIT, VSUSP (n_tty_receive_signal_char and isig).
    fn signal_char(&mut self, c: u8, sig: u32, fx: &mut InputEffects) {
        if self.pgrp != 0 {
            fx.signals.push((self.pgrp, sig));
        }
        if !self.l(NOFLSH) {
            self.flush_input();
            // isig clears the echo not yet committed.
            fx.echo.truncate(fx.committed);
            #[cfg(feature = "pty")]
            {
                fx.flushed = true;
            }
        }
        if self.i(IXON) {
            self.stopped = false;
        }
        if self.l(ECHO) {
            self.echo_char(c, fx);
            fx.committed = fx.echo.len();
        }
    }

    /// VERASE, VWERASE, VKILL (n_tty's eraser).
    fn eraser(&mut self, c: u8, fx: &mut InputEffects) {
        if self.line.is_empty() {
            return;
        }
        let kind = if self.is_cc(c, VERASE) {
            Kill::Erase
        } else if self.is_cc(c, VWERASE) {
            Kill::Werase
        } else {
            if !self.l(ECHO) {
                self.line.clear();
                return;
            }
            if !self.l(ECHOK) || !self.l(ECHOKE) || !self.l(ECHOE) {
                self.line.clear();
                self.echo_char(c, fx);
                if self.l(ECHOK) {
                    self.echo_raw(b'\n', fx);
                }
                return;
            }
            Kill::Line
        };
        let utf8 = self.i(IUTF8);
        let is_cont = |b: u8| utf8 && b & 0xc0 == 0x80;
        let mut seen_alnums = 0;
        while !self.line.is_empty() {
            // One character, which may be several bytes in UTF-8.
            let mut head = self.line.len();
            let mut ch;
            loop {
                head -= 1;
                ch = self.line[head];
                if !(is_cont(ch) && head > 0) {
                    break;
                }
            }
            if is_cont(ch) {
                break;
            }
            if kind == Kill::Werase {
                if is_alnum(ch) || ch == b'_' {
                    seen_alnums += 1;
                } else if seen_alnums > 0 {
                    break;
                }
            }
            self.line.truncate(head);
            if self.l(ECHO) {
                if kind == Kill::Erase && !self.l(ECHOE) {
                    self.echo_char(self.termios.c_cc[VERASE], fx);
                } else if ch == b'\t' {
                    self.erase_tab(fx);
                } else {
                    let cntrl = is_cntrl(ch);
                    let ctl = self.l(ECHOCTL);
                    // A control echoed as ^X is two columns wide; one echoed raw
                    // (no ECHOCTL) took none.
                    if cntrl && ctl {
                        self.echo_rubout(fx);
                    }
                    if !cntrl || ctl {
                        self.echo_rubout(fx);
                    }
                }
            }
            if kind == Kill::Erase {
                break;
            }
        }
    }

    fn echo_rubout(&mut self, fx: &mut InputEffects) {
        for b in *b"\x08 \x08" {
            self.echo_raw(b, fx);
        }
    }

    /// Backs the cursor over an erased tab (echo_erase_tab): the columns since
    /// the previous tab, or since the line started, decide its width.
    fn erase_tab(&mut self, fx: &mut InputEffects) {
        let ctl = self.l(ECHOCTL);
        let mut cols = 0usize;
        let mut after_tab = false;
        for &b in self.line.iter().rev() {
            if b == b'\t' {
                after_tab = true;
                break;
            } else if is_cntrl(b) {
                if ctl {
                    cols += 2;
                }
            } else if !self.is_continuation(b) {
                cols += 1;
            }
        }
        if !after_tab {
            cols += self.canon_column;
        }
        for _ in 0..8 - (cols & 7) {
            fx.echo.push(b'\x08');
            self.column = self.column.saturating_sub(1);
        }
    }

    /// Drops all input (isig, TCIFLUSH, TCSETSF).
    pub fn flush_input(&mut self) {
        self.lines.clear();
        self.line.clear();
        self.raw.clear();
        self.lnext = false;
        self.vtime_anchor = None;
    }

    // ----- echo and output -----

    /// Echoes `c`, as ^X if it is a control character under ECHOCTL.
    fn echo_char(&mut self, c: u8, fx: &mut InputEffects) {
        if self.l(ECHOCTL) && is_cntrl(c) && c != b'\t' {
            fx.echo.push(b'^');
            fx.echo.push(c ^ 0o100);
            self.column += 2;
        } else {
            self.echo_raw(c, fx);
        }
    }

    /// Echoes `c` through output processing.
    fn echo_raw(&mut self, c: u8, fx: &mut InputEffects) {
        let mut out = core::mem::take(&mut fx.echo);
        self.output_byte(c, &mut out);
        fx.echo = out;
    }

    /// Output post-processing of what the guest writes (n_tty's
    /// do_output_char): OPOST with ONLCR, OCRNL, ONOCR and ONLRET. It takes
    /// `&mut self` because it tracks the cursor column, which erasing a tab
    /// needs.
    pub fn process_output(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if !self.o(OPOST) {
            out.extend_from_slice(data);
            return;
        }
        out.reserve(data.len());
        for &c in data {
            self.output_byte(c, out);
        }
    }

    fn output_byte(&mut self, mut c: u8, out: &mut Vec<u8>) {
        if !self.o(OPOST) {
            out.push(c);
            return;
        }
        match c {
            b'\n' => {
                if self.o(ONLRET) {
                    self.column = 0;
                }
                if self.o(ONLCR) {
                    self.column = 0;
                    self.canon_column = 0;
                    out.extend_from_slice(b"\r\n");
                    return;
                }
                self.canon_column = self.column;
            }
            b'\r' => {
                if self.o(ONOCR) && self.column == 0 {
                    return;
                }
                if self.o(OCRNL) {
                    c = b'\n';
                    if self.o(ONLRET) {
                        self.column = 0;
                        self.canon_column = 0;
                    }
                } else {
                    self.column = 0;
                    self.canon_column = 0;
                }
            }
            b'\t' => self.column += 8 - (self.column & 7),
            b'\x08' => self.column = self.column.saturating_sub(1),
            _ => {
                if !is_cntrl(c) && !self.is_continuation(c) {
                    self.column += 1;
                }
            }
        }
        out.push(c);
    }

    // ----- reading -----

    /// Bytes a read could return now (FIONREAD): completed lines in canonical
    /// mode (inq_canon), all input otherwise.
    pub fn pending_input_len(&self) -> usize {
        if self.canonical() {
            self.lines.iter().map(Vec::len).sum()
        } else {
            self.raw.len()
        }
    }

    /// Whether poll reports the terminal readable (input_available_p): a
    /// completed line (or VEOF), or in non-canonical mode VMIN bytes when
    /// VTIME is 0, else one byte.
    pub fn readable(&self) -> bool {
        if self.canonical() {
            return !self.lines.is_empty();
        }
        let (vmin, vtime) = self.min_time();
        let amt = if vtime == 0 && vmin > 0 { vmin } else { 1 };
        self.raw.len() >= amt
    }

    fn min_time(&self) -> (usize, u64) {
        (
            usize::from(self.termios.c_cc[VMIN]),
            u64::from(self.termios.c_cc[VTIME]) * DECISECOND_NS,
        )
    }

    /// Reads input into `buf`; `now` is the caller's monotonic time in
    /// nanoseconds, which VTIME deadlines are expressed in.
    ///
    /// Canonical mode returns at most one line. Non-canonical mode follows
    /// VMIN/VTIME as in termios(3): MIN=0,TIME=0 returns what there is, even
    /// nothing; MIN=0,TIME>0 waits up to TIME for a byte; MIN>0,TIME=0 waits for
    /// MIN bytes; MIN>0,TIME>0 waits for a first byte, then until MIN bytes or
    /// TIME without a new byte. A read whose caller gives up (a signal) leaves
    /// its timer running until the next input; that is the only state a read
    /// keeps.
    pub fn read(&mut self, buf: &mut [u8], now: u64) -> ReadResult {
        if self.canonical() {
            return self.read_canon(buf);
        }
        if buf.is_empty() {
            return ReadResult::Data(0);
        }
        let (vmin, vtime) = self.min_time();
        let avail = self.raw.len();
        let need = vmin.min(buf.len());
        if vmin > 0 && avail >= need {
            return ReadResult::Data(self.take_raw(buf));
        }
        if vmin == 0 && (avail > 0 || vtime == 0) {
            return ReadResult::Data(self.take_raw(buf));
        }
        if vtime == 0 || (vmin > 0 && avail == 0) {
            // MIN>0: wait for MIN bytes, or for the first byte that starts the
            // inter-byte timer.
            return ReadResult::WouldBlock { deadline: None };
        }
        // A timer runs: from the read's start (MIN=0) or from the last byte
        // (MIN>0; a new input generation restarts it).
        let start = match self.vtime_anchor {
            Some((gen, start)) if gen == self.input_gen => start,
            _ => {
                self.vtime_anchor = Some((self.input_gen, now));
                now
            }
        };
        let deadline = start.saturating_add(vtime);
        if now >= deadline {
            return ReadResult::Data(self.take_raw(buf));
        }
        ReadResult::WouldBlock {
            deadline: Some(deadline),
        }
    }

    fn take_raw(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.raw.len());
        for (d, s) in buf.iter_mut().zip(self.raw.drain(..n)) {
            *d = s;
        }
        self.vtime_anchor = None;
        n
    }

    fn read_canon(&mut self, buf: &mut [u8]) -> ReadResult {
        let Some(front) = self.lines.front_mut() else {
            return ReadResult::WouldBlock { deadline: None };
        };
        if front.is_empty() {
            self.lines.pop_front();
            return ReadResult::Eof;
        }
        let n = buf.len().min(front.len());
        buf[..n].copy_from_slice(&front[..n]);
        front.drain(..n);
        if front.is_empty() {
            self.lines.pop_front();
        }
        ReadResult::Data(n)
    }

    // ----- job control -----

    fn is_ctty_of(&self, caller: &TtyCaller<'_>) -> bool {
        if caller.is_unknown() {
            return self.session != 0;
        }
        self.session != 0 && caller.sid == self.session
    }

    fn background(&self, caller: &TtyCaller<'_>) -> bool {
        !caller.is_unknown()
            && self.session != 0
            && caller.sid == self.session
            && self.pgrp != 0
            && caller.pgid != self.pgrp
    }

    /// Whether `caller` may read (n_tty's job_control): a background group of
    /// this terminal's session gets SIGTTIN.
    pub fn check_read(&self, caller: &TtyCaller<'_>) -> TtyAccess {
        if self.background(caller) {
            TtyAccess::Background { sig: SIGTTIN }
        } else {
            TtyAccess::Allowed
        }
    }

    /// Whether `caller` may write: with TOSTOP, a background group gets
    /// SIGTTOU.
    pub fn check_write(&self, caller: &TtyCaller<'_>) -> TtyAccess {
        if self.l(TOSTOP) && self.background(caller) {
            TtyAccess::Background { sig: SIGTTOU }
        } else {
            TtyAccess::Allowed
        }
    }

    /// Whether `caller` may make ioctl `cmd`: requests that change the
    /// terminal ([`changes_terminal`]) from a background group of the
    /// terminal's session get SIGTTOU (tty_check_change).
    pub fn check_ioctl(&self, cmd: u32, caller: &TtyCaller<'_>) -> TtyAccess {
        if changes_terminal(cmd) && self.background(caller) {
            TtyAccess::Background { sig: SIGTTOU }
        } else {
            TtyAccess::Allowed
        }
    }

    // ----- ioctls -----

    /// The termios of a TCSETA request: struct termio's 16-bit flag words
    /// replace the low halves of the current flags, and its c_line and
    /// first [`NCC`] control characters the current ones
    /// (user_termio_to_kernel_termios).
    fn termio_in(&self, arg: &mut dyn IoctlArg) -> KResult<Termios> {
        let mut b = [0u8; TERMIO_SIZE];
        arg.read_in(&mut b)?;
        let mut t = self.termios;
        let word = |i: usize, old: u32| {
            (old & 0xffff_0000) | u32::from(u16::from_ne_bytes([b[2 * i], b[2 * i + 1]]))
        };
        t.c_iflag = word(0, t.c_iflag);
        t.c_oflag = word(1, t.c_oflag);
        t.c_cflag = word(2, t.c_cflag);
        t.c_lflag = word(3, t.c_lflag);
        t.c_line = b[8];
        t.c_cc[..NCC].copy_from_slice(&b[9..9 + NCC]);
        Ok(t)
    }

    /// A terminal ioctl on behalf of `caller`. Returns the ioctl's value and
    /// the signals it causes; job-control checks ([`Tty::check_ioctl`]) are
    /// the kernel's to apply first. Unknown requests are ENOTTY.
    pub fn ioctl(
        &mut self,
        cmd: u32,
        arg: &mut dyn IoctlArg,
        caller: &TtyCaller<'_>,
    ) -> KResult<(usize, TtyEffects)> {
        let mut fx = TtyEffects::default();
        match cmd {
            TCGETS => {
                let mut b = [0u8; Termios::SIZE];
                self.termios.encode(&mut b);
                arg.write_out(&b)?;
            }
            TCSETS | TCSETSW | TCSETSF | TCSETA | TCSETAW | TCSETAF => {
                let t = if matches!(cmd, TCSETA | TCSETAW | TCSETAF) {
                    self.termio_in(arg)?
                } else {
                    let mut b = [0u8; Termios::SIZE];
                    arg.read_in(&mut b)?;
                    Termios::decode(&b)
                };
                // Output is written synchronously, so TCSETSW has nothing to
                // wait for.
                if matches!(cmd, TCSETSF | TCSETAF) {
                    self.flush_input();
                }
                let t = self.settle_termios(t);
                self.set_termios(t);
            }
            TCGETA => {
                // kernel_termios_to_user_termio: the flags' low halves.
                let t = &self.termios;
                let mut b = [0u8; TERMIO_SIZE];
                for (i, f) in [t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag]
                    .into_iter()
                    .enumerate()
                {
                    b[2 * i..2 * i + 2].copy_from_slice(&(f as u16).to_ne_bytes());
                }
                b[8] = t.c_line;
                b[9..].copy_from_slice(&t.c_cc[..NCC]);
                arg.write_out(&b)?;
            }
            TIOCGETD => arg.write_out(&N_TTY.to_ne_bytes())?,
            TIOCSETD => {
                // tiocsetd: N_TTY is already the discipline; umbra has no
                // other (tty_ldisc_get: EINVAL for one not available).
                let mut b = [0u8; 4];
                arg.read_in(&mut b)?;
                if i32::from_ne_bytes(b) != N_TTY {
                    return Err(Errno::EINVAL);
                }
            }
            TIOCGWINSZ => {
                let mut b = [0u8; Winsize::SIZE];
                self.winsize.encode(&mut b);
                arg.write_out(&b)?;
            }
            TIOCSWINSZ => {
                let mut b = [0u8; Winsize::SIZE];
                arg.read_in(&mut b)?;
                fx = self.set_winsize(Winsize::decode(&b));
            }
            TIOCGPGRP => {
                if !self.is_ctty_of(caller) {
                    return Err(Errno::ENOTTY);
                }
                arg.write_out(&(self.pgrp as i32).to_ne_bytes())?;
            }
            TIOCSPGRP => {
                // tiocspgrp: the argument (EFAULT, EINVAL) before the
                // terminal (ENOTTY).
                let mut b = [0u8; 4];
                arg.read_in(&mut b)?;
                let pgrp = i32::from_ne_bytes(b);
                let pgrp = u32::try_from(pgrp).map_err(|_| Errno::EINVAL)?;
                if !self.is_ctty_of(caller) {
                    return Err(Errno::ENOTTY);
                }
                if let Some(session_of) = caller.pgrp_session {
                    match session_of(pgrp) {
                        None => return Err(Errno::ESRCH),
                        Some(s) if s != self.session => return Err(Errno::EPERM),
                        Some(_) => {}
                    }
                }
                self.pgrp = pgrp;
            }
            TIOCGSID => {
                if !self.is_ctty_of(caller) {
                    return Err(Errno::ENOTTY);
                }
                arg.write_out(&(self.session as i32).to_ne_bytes())?;
            }
            TIOCSCTTY => {
                if caller.is_unknown() || (self.session != 0 && self.session == caller.sid) {
                    return Ok((0, fx));
                }
                if caller.pid != caller.sid {
                    // Only a session leader acquires a controlling terminal.
                    return Err(Errno::EPERM);
                }
                if self.session != 0 && arg.raw() != 1 {
                    // Another session's, and no stealing asked for. (Stealing
                    // needs CAP_SYS_ADMIN, which the kernel checks.)
                    return Err(Errno::EPERM);
                }
                self.set_session(caller.sid, caller.pgid);
            }
            TIOCNOTTY => {
                if !self.is_ctty_of(caller) {
                    return Err(Errno::ENOTTY);
                }
                // A leader gives the terminal up for its whole session
                // (disassociate_ctty(0)); anyone else only loses it, which is
                // the kernel's bookkeeping.
                if !caller.is_unknown() && caller.pid == caller.sid {
                    if self.pgrp != 0 {
                        fx.signals.push((self.pgrp, SIGHUP));
                        fx.signals.push((self.pgrp, SIGCONT));
                    }
                    self.session = 0;
                    self.pgrp = 0;
                }
            }
            FIONREAD => {
                let n = i32::try_from(self.pending_input_len()).unwrap_or(i32::MAX);
                arg.write_out(&n.to_ne_bytes())?;
            }
            TIOCOUTQ => arg.write_out(&0i32.to_ne_bytes())?,
            TCFLSH => match arg.raw() {
                TCIFLUSH | TCIOFLUSH => self.flush_input(),
                TCOFLUSH => {}
                _ => return Err(Errno::EINVAL),
            },
            TCXONC => match arg.raw() {
                TCOOFF => self.stopped = true,
                TCOON => self.stopped = false,
                TCIOFF | TCION => {}
                _ => return Err(Errno::EINVAL),
            },
            // tcdrain and tcsendbreak: output is already drained, and the
            // terminal has no break to send (as a pty: no break_ctl).
            TCSBRK | TCSBRKP | TIOCSBRK | TIOCCBRK => {}
            _ => return Err(Errno::ENOTTY),
        }
        Ok((0, fx))
    }
}
