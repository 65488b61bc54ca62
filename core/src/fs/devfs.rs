//! devfs: the character devices every program expects in /dev (null, zero, full,
//! random, urandom, console, tty, ptmx), Unix98 pty pairs (a master per open of
//! /dev/ptmx, its slave /dev/pts/N), and the console files bound to the guest's
//! fds 0, 1 and 2.
//!
//! The /dev directory is an ordinary tmpfs holding device nodes; the drivers live
//! in the VFS's device table keyed by device number, as Linux's chrdev table, so a
//! node made with mknod anywhere reaches the same driver. The console is the host's
//! stdin and stdout (stderr for fd 2). When the host's stdin is a terminal, the
//! host puts it in raw mode and the console is a Linux tty run by the line
//! discipline of [`crate::tty`]: editing, echo, ^C and friends, termios. When it
//! is a pipe or a file, bytes pass through untouched. Terminal ioctls answer only
//! when the host stream really is a terminal, so `isatty` in the guest tells the
//! same truth as on the host.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use spin::Mutex;
use umbra_abi::flags::{OpenFlags, FIONREAD, O_RDWR, S_IFCHR, TIOCGPGRP, TIOCSPGRP};
use umbra_abi::structs::{Timespec, Winsize};

use super::file::OpenFile;
use super::path::{FollowLast, Vfs};
use super::tmpfs::TmpFs;
use super::vfs::{
    makedev, Cred, FileOps, FileType, IoCtx, IoctlArg, Metadata, NewNode, PollEvents, WakeSeq,
};
pub use crate::config::PtsAttrs;
use crate::error::{Errno, KResult};
use crate::host::{ConsoleRead, ConsoleStream};
pub use crate::tty::termios::default_termios;
use crate::tty::termios::{TCFLSH, TCIFLUSH, TCIOFLUSH, TCOFLUSH, TIOCGDEV, TIOCGSID, TIOCNOTTY};
use crate::tty::{GroupSignal, ReadResult, Tty, TtyAccess, TtyCaller, TtyEffects};
use umbra_abi::signal::{SIGINT, SIGQUIT, SIGTSTP};

/// /dev/null: reads end at once, writes vanish.
pub struct Null;
/// /dev/zero: reads give zeros, writes vanish.
pub struct Zero;
/// /dev/full: reads give zeros, writes fail with ENOSPC.
pub struct Full;
/// /dev/random: the host's entropy.
pub struct Random;
/// /dev/urandom: the same bytes as [`Random`], but, as on Linux, without a
/// poll method (epoll refuses it).
pub struct URandom;

impl FileOps for Null {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &mut [u8]) -> KResult<usize> {
        Ok(0)
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        Ok(buf.len())
    }
    fn seekable(&self) -> bool {
        true
    }
    fn epoll_ok(&self) -> bool {
        // Linux's null, zero and full have no poll method.
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for Zero {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        Ok(buf.len())
    }
    fn seekable(&self) -> bool {
        true
    }
    fn epoll_ok(&self) -> bool {
        // Linux's null, zero and full have no poll method.
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for Full {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::ENOSPC)
    }
    fn seekable(&self) -> bool {
        true
    }
    fn epoll_ok(&self) -> bool {
        // Linux's null, zero and full have no poll method.
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for Random {
    fn read(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        ctx.random(buf);
        Ok(buf.len())
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        // Writing adds entropy on Linux; here it is accepted and ignored.
        Ok(buf.len())
    }
    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        // random_poll once the pool is ready (always, here): readable only.
        PollEvents::POLLIN | PollEvents::POLLRDNORM
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for URandom {
    fn read(&self, ctx: &mut dyn IoCtx, off: u64, buf: &mut [u8]) -> KResult<usize> {
        Random.read(ctx, off, buf)
    }
    fn write(&self, ctx: &mut dyn IoCtx, off: u64, buf: &[u8]) -> KResult<usize> {
        Random.write(ctx, off, buf)
    }
    fn epoll_ok(&self) -> bool {
        false
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The console's terminal, shared by every file on the console (fds 0-2,
/// /dev/tty, /dev/console): the line discipline, what the host said last about
/// its window size, and the signals the kernel has yet to deliver.
///
/// The kernel drives it with [`ConsoleState::pump`] when the host reports input
/// (so ^C works while the foreground program computes), drains
/// [`ConsoleState::take_signals`] after every console operation and pump, and
/// sets the session with [`ConsoleState::set_session`].
pub struct ConsoleState {
    inner: Mutex<ConsoleInner>,
    /// A terminal on a [`TtyLink`] (always a terminal) rather than on the
    /// host's stdio.
    linked: bool,
    /// The host's stdin was seen a terminal.
    was_tty: AtomicBool,
    /// The console is /dev/pts/0 (an OCI terminal's), whose name goes at
    /// its hang-up (see [`ConsoleState::take_pts_release`]).
    on_pts: AtomicBool,
    /// The terminal's device number, as TIOCGDEV reports it whichever
    /// file it is reached by (/dev/tty, /dev/console): a pty's 136:N, else
    /// the console's 5:1.
    rdev: AtomicU64,
    /// The host's stdin, a terminal, hung up: the console stays a
    /// terminal, hung up (the host's TCGETS fails now).
    host_hung_up: AtomicBool,
}

/// The host side of a guest terminal other than the console: one byte
/// stream both ways (an OCI `exec --tty`'s, which `umbra exec` bridges to
/// the host pty it gave the engine). The kernel implements it over a host
/// socket.
pub trait TtyLink: Send + Sync {
    /// Reads what has arrived, without blocking (`WouldBlock` registers
    /// the wish to be woken when more comes).
    fn recv(&self, ctx: &mut dyn IoCtx, buf: &mut [u8]) -> KResult<ConsoleRead>;
    /// Sends what the host takes now: the bytes taken, EAGAIN for none.
    fn send(&self, ctx: &mut dyn IoCtx, data: &[u8]) -> KResult<usize>;
    /// The host terminal's size, when it came with the input just received
    /// (it applies before that input).
    fn take_winsize(&self) -> Option<Winsize> {
        None
    }
    /// Whether the terminal may be opened now (a pty slave: not while
    /// locked).
    fn open_ok(&self) -> bool {
        true
    }
    /// The terminal was opened by name.
    fn opened(&self) {}
    /// Whether the host end still holds the terminal (a pty: its master
    /// is open).
    #[cfg(feature = "pty")]
    fn alive(&self) -> bool {
        true
    }
    /// A pty slave's state changed as its master reports in packet mode
    /// (TIOCPKT): the bits `clear` go, `set` are added.
    #[cfg(feature = "pty")]
    fn packet_status(&self, _set: u8, _clear: u8) {}
}

/// TIOCPKT's control bytes (the first byte of a packet-mode master read).
pub const TIOCPKT_DATA: u8 = 0;
pub const TIOCPKT_FLUSHREAD: u8 = 1;
pub const TIOCPKT_FLUSHWRITE: u8 = 2;
pub const TIOCPKT_STOP: u8 = 4;
pub const TIOCPKT_START: u8 = 8;
pub const TIOCPKT_NOSTOP: u8 = 16;
pub const TIOCPKT_DOSTOP: u8 = 32;
pub const TIOCPKT_IOCTL: u8 = 64;

/// Bytes a linked terminal holds for its host when the host takes no more:
/// writers wait (EAGAIN) past this.
const LINK_OUT_CAP: usize = 64 << 10;

struct ConsoleInner {
    tty: Tty,
    /// The host's window size as last seen, to notice host resizes.
    host_winsize: Option<Winsize>,
    /// The host's stdin reported end of file and no read has returned it
    /// yet. A hung-up terminal reports it again at every pull, so reads keep
    /// returning 0; a host terminal not (yet) in raw mode reports it once per
    /// ^D, and one read returns 0, as VEOF would.
    host_eof: bool,
    /// Signals produced and not yet taken by the kernel.
    signals: Vec<GroupSignal>,
    /// Nanoseconds a blocked read may wait before its VTIME expires.
    read_wait: Option<u64>,
    /// Wake-ups for edge-triggered epoll: input moves with every chunk of
    /// host input taken in (n_tty wakes its readers on new input).
    wakes: WakeSeq,
    /// The host side of a linked terminal, the size its host last
    /// reported, and output it has not taken yet.
    link: Option<Arc<dyn TtyLink>>,
    link_winsize: Option<Winsize>,
    link_out: Vec<u8>,
    /// A linked terminal whose host end closed, or the console whose host
    /// terminal hung up: hung up, as a pty slave
    /// whose master closed (Linux's tty_vhangup). Reads return 0, writes
    /// and ioctls fail with EIO, and it is nobody's controlling terminal.
    hung_up: bool,
    /// The session leader that the hang-up is to signal (SIGHUP and
    /// SIGCONT), until the kernel takes it.
    hangup_leader: Option<u32>,
}

impl Default for ConsoleState {
    fn default() -> Self {
        ConsoleState::with_link(None)
    }
}

/// Bytes pulled from the host per console read.
const PULL_CHUNK: usize = 512;

impl ConsoleInner {
    /// Takes the host's window size when it changed (SIGWINCH to the
    /// foreground when the terminal had another size).
    fn sync_winsize(&mut self, ctx: &mut dyn IoCtx) {
        let host = match self.link {
            Some(_) => self.link_winsize,
            None => ctx.console_winsize(),
        };
        if host == self.host_winsize {
            return;
        }
        let first = self.host_winsize.is_none();
        self.host_winsize = host;
        if let Some(ws) = host {
            let fx = self.tty.set_winsize(ws);
            // The size found at start is no resize.
            if !first {
                self.signals.extend(fx.signals);
            }
        }
    }

    /// Moves what the host has typed into the line discipline, as much as it
    /// has room for, and writes the echo.
    fn pull(&mut self, ctx: &mut dyn IoCtx) -> KResult<()> {
        let mut chunk = [0u8; PULL_CHUNK];
        loop {
            let want = self.tty.input_room().min(PULL_CHUNK);
            if want == 0 || self.host_eof {
                return Ok(());
            }
            let got = match self.link.clone() {
                Some(l) => {
                    let got = l.recv(ctx, &mut chunk[..want])?;
                    if let Some(ws) = l.take_winsize() {
                        self.link_winsize = Some(ws);
                        self.sync_winsize(ctx);
                    }
                    got
                }
                None => ctx.console_read(&mut chunk[..want])?,
            };
            match got {
                ConsoleRead::Data(0) | ConsoleRead::WouldBlock => return Ok(()),
                ConsoleRead::Data(n) => {
                    self.wakes.wake_input();
                    #[cfg(feature = "pty")]
                    let before = self.flow_marks();
                    let fx = self.tty.input(&chunk[..n.min(want)]);
                    #[cfg(feature = "pty")]
                    {
                        let flush = if fx.flushed {
                            TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE
                        } else {
                            0
                        };
                        self.packet_note(before, flush);
                    }
                    if !fx.echo.is_empty() {
                        if self.link.is_some() {
                            self.link_send(ctx, &fx.echo);
                        } else if let Some(s) = echo_stream(ctx) {
                            // A lost echo must not fail the read.
                            let _ = write_all(ctx, s, &fx.echo);
                        }
                    }
                    self.signals.extend(fx.signals);
                }
                ConsoleRead::Eof => {
                    self.host_eof = true;
                    self.wakes.wake_input();
                    if self.link.is_some() {
                        self.hang_up(true);
                    } else if ctx.console_hung_up() {
                        // The host terminal (an OCI console's pty slave)
                        // hung up. The host's SIGHUP and SIGCONT to umbra,
                        // its session leader, are not passed on (the
                        // shim's on_forward): the console's own session
                        // leader is signalled from here, if the console
                        // still has a session.
                        self.hang_up(true);
                    }
                }
            }
        }
    }

    /// The host end of a linked terminal closed: Linux's tty_vhangup of a
    /// pty slave whose master closed. The session leader is to get SIGHUP
    /// and SIGCONT (tty_signal_session_leader, with no SIGHUP to the
    /// foreground group), the session loses its controlling terminal, and
    /// input not read yet is dropped. `signal`: whether the kernel is to
    /// send the signals.
    fn hang_up(&mut self, signal: bool) {
        if self.hung_up {
            return;
        }
        self.hung_up = true;
        let sid = self.tty.session();
        if sid != 0 && signal {
            self.hangup_leader = Some(sid);
        }
        self.tty.set_session(0, 0);
        self.link_out.clear();
    }

    fn apply(&mut self, fx: TtyEffects) {
        self.signals.extend(fx.signals);
    }

    /// Whether output is stopped, and whether the terminal does ^S/^Q flow
    /// control (IXON with the standard characters), for [`Self::packet_note`].
    #[cfg(feature = "pty")]
    fn flow_marks(&self) -> (bool, bool) {
        let t = self.tty.termios();
        let flow = t.c_iflag & crate::tty::termios::IXON != 0
            && t.c_cc[crate::tty::termios::VSTOP] == 0x13
            && t.c_cc[crate::tty::termios::VSTART] == 0x11;
        (self.tty.output_stopped(), flow)
    }

    /// Tells a pty master in packet mode what changed since `before`
    /// ([`Self::flow_marks`]), with the queues `flush` says were flushed:
    /// pty_stop and pty_start (STOP, START), pty_set_termios (DOSTOP,
    /// NOSTOP), n_tty_packet_mode_flush and pty_flush_buffer (FLUSHREAD,
    /// FLUSHWRITE).
    #[cfg(feature = "pty")]
    fn packet_note(&self, before: (bool, bool), flush: u8) {
        let Some(l) = &self.link else {
            return;
        };
        let (stopped, flow) = self.flow_marks();
        let (mut set, mut clear) = (flush, 0);
        if flow != before.1 {
            clear |= TIOCPKT_DOSTOP | TIOCPKT_NOSTOP;
            set |= if flow { TIOCPKT_DOSTOP } else { TIOCPKT_NOSTOP };
        }
        if stopped != before.0 {
            let (on, off) = if stopped {
                (TIOCPKT_STOP, TIOCPKT_START)
            } else {
                (TIOCPKT_START, TIOCPKT_STOP)
            };
            clear |= off;
            set |= on;
        }
        if set != 0 {
            l.packet_status(set, clear);
        }
    }

    /// A linked terminal: sends what its host holds back, then `data`;
    /// what the host does not take now waits in `link_out`.
    fn link_send(&mut self, ctx: &mut dyn IoCtx, data: &[u8]) {
        self.link_out.extend_from_slice(data);
        let Some(l) = self.link.clone() else {
            return;
        };
        while !self.link_out.is_empty() {
            match l.send(ctx, &self.link_out) {
                Ok(n) if n > 0 => {
                    self.link_out.drain(..n.min(self.link_out.len()));
                }
                Ok(_) | Err(Errno::EAGAIN) => return,
                // The host end is gone: output is lost, as on a hung-up tty.
                Err(_) => {
                    self.link_out.clear();
                    return;
                }
            }
        }
    }
}

/// Where echo goes: the host terminal, reached through stdout or stderr.
fn echo_stream(ctx: &dyn IoCtx) -> Option<ConsoleStream> {
    [ConsoleStream::Stdout, ConsoleStream::Stderr]
        .into_iter()
        .find(|&s| ctx.console_is_tty(s))
}

/// Writes all of `data` to a host stream.
fn write_all(ctx: &mut dyn IoCtx, stream: ConsoleStream, mut data: &[u8]) -> KResult<()> {
    while !data.is_empty() {
        let n = ctx.console_write(stream, data)?;
        if n == 0 {
            return Err(Errno::EIO);
        }
        data = &data[n.min(data.len())..];
    }
    Ok(())
}

impl ConsoleState {
    /// A terminal on the host's stdio (`link` None) or on `link`.
    pub fn with_link(link: Option<Arc<dyn TtyLink>>) -> ConsoleState {
        ConsoleState {
            linked: link.is_some(),
            was_tty: AtomicBool::new(false),
            on_pts: AtomicBool::new(false),
            rdev: AtomicU64::new(makedev(5, 1)),
            host_hung_up: AtomicBool::new(false),
            inner: Mutex::new(ConsoleInner {
                tty: Tty::new(),
                host_winsize: None,
                host_eof: false,
                signals: Vec::new(),
                read_wait: None,
                wakes: WakeSeq::default(),
                link,
                link_winsize: None,
                link_out: Vec::new(),
                hung_up: false,
                hangup_leader: None,
            }),
        }
    }

    /// Whether the console is a terminal: the host's stdin is one (and is in
    /// raw mode, so the line discipline here does the cooking).
    pub fn is_tty(ctx: &dyn IoCtx) -> bool {
        ctx.console_is_tty(ConsoleStream::Stdin)
    }

    /// Whether this terminal's host `stream` is a terminal: always, for a
    /// linked one.
    fn tty_on(&self, ctx: &dyn IoCtx, stream: ConsoleStream) -> bool {
        if self.linked || self.host_hung_up.load(Ordering::Relaxed) {
            return true;
        }
        if ctx.console_is_tty(stream) {
            self.was_tty.store(true, Ordering::Relaxed);
            return true;
        }
        if self.was_tty.load(Ordering::Relaxed) && ctx.console_hung_up() {
            self.host_hung_up.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Feeds host input that is ready to the line discipline, even with no
    /// reader (so ^C reaches a busy foreground program), and notices a host
    /// window resize. Does nothing when the console is not a terminal. Call it
    /// on `Trap::HostEvent`, after `wait_event`, and periodically; then
    /// [`ConsoleState::take_signals`].
    pub fn pump(&self, ctx: &mut dyn IoCtx) {
        if !self.tty_on(ctx, ConsoleStream::Stdin) {
            return;
        }
        let mut st = self.inner.lock();
        st.link_send(ctx, &[]);
        st.sync_winsize(ctx);
        // A host read error shows up again at the next guest read.
        let _ = st.pull(ctx);
    }

    /// The host terminal was resized (host SIGWINCH): takes the new size and
    /// queues SIGWINCH for the foreground group.
    pub fn host_resized(&self, ctx: &mut dyn IoCtx) {
        self.inner.lock().sync_winsize(ctx);
    }

    /// The signals the console produced since the last call, as
    /// `(process group, signal)`: ISIG characters, SIGWINCH, SIGHUP.
    pub fn take_signals(&self) -> Vec<GroupSignal> {
        core::mem::take(&mut self.inner.lock().signals)
    }

    /// Makes the console the controlling terminal of session `sid` with group
    /// `pgrp` in the foreground (the kernel does this for pid 1 when the
    /// console is a terminal, as a getty would).
    pub fn set_session(&self, sid: u32, pgrp: u32) {
        self.inner.lock().tty.set_session(sid, pgrp);
    }

    /// The session whose controlling terminal this is (0: none).
    pub fn session(&self) -> u32 {
        self.inner.lock().tty.session()
    }

    /// The foreground process group (0: none).
    pub fn foreground(&self) -> u32 {
        self.inner.lock().tty.foreground()
    }

    /// The leader of the console's session exited: SIGHUP is queued for the
    /// foreground group and the console belongs to no session.
    pub fn session_leader_exited(&self) {
        let mut st = self.inner.lock();
        let fx = st.tty.session_leader_exited();
        st.apply(fx);
    }

    /// The session leader a hang-up of this linked terminal (or of the
    /// console's host terminal) is to signal with SIGHUP and SIGCONT, once
    /// (see [`ConsoleInner::hang_up`]).
    pub fn take_hangup(&self) -> Option<u32> {
        self.inner.lock().hangup_leader.take()
    }

    /// An open of the terminal by name: EIO when it may not be opened (a
    /// locked pty slave or one whose master closed).
    pub fn open_check(&self) -> KResult<()> {
        let st = self.inner.lock();
        if st.hung_up || st.link.as_ref().is_some_and(|l| !l.open_ok()) {
            return Err(Errno::EIO);
        }
        if let Some(l) = &st.link {
            l.opened();
        }
        Ok(())
    }

    /// Whether the terminal still holds its number: not hung up, and its
    /// host end (a pty's master) still there.
    #[cfg(feature = "pty")]
    pub fn in_use(&self) -> bool {
        let st = self.inner.lock();
        !st.hung_up && st.link.as_ref().is_none_or(|l| l.alive())
    }

    /// Whether the host end of this linked terminal closed.
    pub fn is_hung_up(&self) -> bool {
        self.inner.lock().hung_up
    }

    /// Whether the console, /dev/pts/0, hung up and its name is to go
    /// (devpts_pty_kill); true once.
    pub fn take_pts_release(&self) -> bool {
        self.is_hung_up() && self.on_pts.swap(false, Ordering::Relaxed)
    }

    /// Job control for a read by `caller` (SIGTTIN for a background group).
    pub fn check_read(&self, caller: &TtyCaller<'_>) -> TtyAccess {
        self.inner.lock().tty.check_read(caller)
    }

    /// Job control for a write by `caller` (SIGTTOU with TOSTOP).
    pub fn check_write(&self, caller: &TtyCaller<'_>) -> TtyAccess {
        self.inner.lock().tty.check_write(caller)
    }

    /// Job control for ioctl `cmd` by `caller` (SIGTTOU for changes).
    pub fn check_ioctl(&self, cmd: u32, caller: &TtyCaller<'_>) -> TtyAccess {
        self.inner.lock().tty.check_ioctl(cmd, caller)
    }

    /// After a console read failed with EAGAIN: how long it may wait before
    /// its VTIME expires and it completes without input (`None`: only input
    /// completes it). The kernel uses it as the wait's deadline.
    pub fn read_wait_ns(&self) -> Option<u64> {
        self.inner.lock().read_wait
    }

    /// Runs `f` on the line discipline (for kernel code and tests).
    pub fn with_tty<R>(&self, f: impl FnOnce(&mut Tty) -> R) -> R {
        f(&mut self.inner.lock().tty)
    }
}

/// A file on the guest console: reads come from the host's stdin, writes go to
/// `out`. `tty` is the host stream whose tty-ness the terminal ioctls report.
///
/// When the host's stdin is a terminal, the console is a Linux tty: input goes
/// through the line discipline ([`crate::tty`]) and output through its OPOST
/// processing. Otherwise (a pipe or a file) bytes pass through untouched.
pub struct ConsoleFile {
    out: ConsoleStream,
    tty: ConsoleStream,
    rdev: u64,
    state: Arc<ConsoleState>,
}

impl ConsoleFile {
    /// A console file writing to `out`, reporting the terminal-ness of `tty`.
    pub fn new(out: ConsoleStream, tty: ConsoleStream, state: Arc<ConsoleState>) -> ConsoleFile {
        ConsoleFile {
            out,
            tty,
            rdev: makedev(5, 1),
            state,
        }
    }

    /// Whether its terminal hung up.
    pub fn is_hung_up(&self) -> bool {
        self.state.is_hung_up()
    }

    /// Whether this is /dev/tty (5:0), the caller's controlling terminal.
    pub fn is_dev_tty(&self) -> bool {
        self.rdev == makedev(5, 0)
    }

    /// Whether an open of this file (without O_NOCTTY) may make it the
    /// opener's controlling terminal (tty_open): a terminal, not /dev/tty
    /// (already the caller's) nor /dev/console (5:1, never one).
    pub fn may_become_ctty(&self, ctx: &dyn IoCtx) -> bool {
        self.rdev != makedev(5, 0)
            && self.rdev != makedev(5, 1)
            && self.state.tty_on(ctx, ConsoleStream::Stdin)
    }

    /// The host stream writes go to.
    pub fn stream(&self) -> ConsoleStream {
        self.out
    }

    /// The terminal state this file shares with the other console files.
    pub fn state(&self) -> &Arc<ConsoleState> {
        &self.state
    }

    /// The console file behind `ops`, if it is one (for the kernel's
    /// job-control checks and [`ConsoleFile::ioctl_as`]).
    pub fn of(ops: &dyn FileOps) -> Option<&ConsoleFile> {
        ops.as_any().downcast_ref::<ConsoleFile>()
    }

    /// A terminal ioctl made by `caller`, so the session rules of TIOCSPGRP,
    /// TIOCGPGRP, TIOCSCTTY and TIOCNOTTY apply; the signals it causes are
    /// queued for [`ConsoleState::take_signals`]. [`FileOps::ioctl`] is this
    /// with [`TtyCaller::UNKNOWN`].
    pub fn ioctl_as(
        &self,
        ctx: &mut dyn IoCtx,
        cmd: u32,
        arg: &mut dyn IoctlArg,
        caller: &TtyCaller<'_>,
    ) -> KResult<usize> {
        if !self.state.tty_on(ctx, self.tty) {
            return Err(Errno::ENOTTY);
        }
        let mut st = self.state.inner.lock();
        if st.hung_up {
            // hung_up_tty_ioctl.
            return Err(if cmd == TIOCSPGRP {
                Errno::ENOTTY
            } else {
                Errno::EIO
            });
        }
        if cmd == TIOCGDEV {
            // tty_devnum(real_tty) as new_encode_dev's 32 bits (makedev's
            // low half, for a major below 4096).
            let dev = self.state.rdev.load(Ordering::Relaxed) as u32;
            arg.write_out(&dev.to_ne_bytes())?;
            return Ok(0);
        }
        st.sync_winsize(ctx);
        if cmd == FIONREAD && self.state.tty_on(ctx, ConsoleStream::Stdin) {
            let _ = st.pull(ctx);
        }
        #[cfg(feature = "pty")]
        let (before, lflag) = (st.flow_marks(), st.tty.termios().c_lflag);
        let (r, fx) = st.tty.ioctl(cmd, arg, caller)?;
        st.apply(fx);
        #[cfg(feature = "pty")]
        {
            use crate::tty::termios::{EXTPROC, TCSETAF};
            let mut flush = match (cmd, arg.raw()) {
                (umbra_abi::flags::TCSETSF | TCSETAF, _) | (TCFLSH, TCIFLUSH) => TIOCPKT_FLUSHREAD,
                (TCFLSH, TCOFLUSH) => TIOCPKT_FLUSHWRITE,
                (TCFLSH, TCIOFLUSH) => TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE,
                _ => 0,
            };
            // pty_set_termios: a termios change with EXTPROC on before or
            // after is reported (the master does the line editing then).
            let extproc = (lflag | st.tty.termios().c_lflag) & EXTPROC != 0;
            if crate::tty::changes_slave(cmd) && cmd != TIOCSPGRP && extproc {
                flush |= TIOCPKT_IOCTL;
            }
            st.packet_note(before, flush);
        }
        Ok(r)
    }
}

impl FileOps for ConsoleFile {
    fn read(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if !self.state.tty_on(ctx, ConsoleStream::Stdin) {
            return match ctx.console_read(buf)? {
                ConsoleRead::Data(n) => Ok(n.min(buf.len())),
                ConsoleRead::WouldBlock => Err(Errno::EAGAIN),
                ConsoleRead::Eof => Ok(0),
            };
        }
        let mut st = self.state.inner.lock();
        if st.hung_up {
            // hung_up_tty_read.
            return Ok(0);
        }
        st.sync_winsize(ctx);
        st.pull(ctx)?;
        if st.hung_up {
            return Ok(0);
        }
        let now = ctx.now_real();
        st.read_wait = None;
        match st.tty.read(buf, now) {
            ReadResult::Data(n) => Ok(n),
            ReadResult::Eof => Ok(0),
            ReadResult::WouldBlock { .. } if st.host_eof => {
                st.host_eof = false;
                Ok(0)
            }
            ReadResult::WouldBlock { deadline } => {
                st.read_wait = deadline.map(|d| d.saturating_sub(now));
                Err(Errno::EAGAIN)
            }
        }
    }

    fn write(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.state.linked {
            let mut st = self.state.inner.lock();
            if st.hung_up {
                // hung_up_tty_write.
                return Err(Errno::EIO);
            }
            st.link_send(ctx, &[]);
            if st.link_out.len() >= LINK_OUT_CAP {
                return Err(Errno::EAGAIN);
            }
            let mut out = Vec::new();
            st.tty.process_output(buf, &mut out);
            st.link_send(ctx, &out);
            return Ok(buf.len());
        }
        // Output is cooked only when it reaches the raw-mode host terminal;
        // redirected to a host file it stays as written.
        if !(ConsoleState::is_tty(ctx) && ctx.console_is_tty(self.out)) {
            let n = ctx.console_write(self.out, buf)?;
            return Ok(n.min(buf.len()));
        }
        let mut out = Vec::new();
        self.state.inner.lock().tty.process_output(buf, &mut out);
        write_all(ctx, self.out, &out)?;
        Ok(buf.len())
    }

    fn poll(&self, ctx: &mut dyn IoCtx) -> PollEvents {
        let mut out = PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        if !self.state.tty_on(ctx, ConsoleStream::Stdin) {
            // The host interface has no readiness query for stdin yet: report
            // readable, and a read that finds nothing returns EAGAIN.
            return PollEvents::POLLIN | PollEvents::POLLRDNORM | out;
        }
        let mut st = self.state.inner.lock();
        let hung_up = PollEvents::POLLIN
            | PollEvents::POLLRDNORM
            | PollEvents::POLLOUT
            | PollEvents::POLLWRNORM
            | PollEvents::POLLERR
            | PollEvents::POLLHUP;
        if st.hung_up {
            // hung_up_tty_poll.
            return hung_up;
        }
        if self.state.linked {
            st.link_send(ctx, &[]);
            if st.link_out.len() >= LINK_OUT_CAP {
                out = PollEvents::empty();
            }
        }
        let _ = st.pull(ctx);
        if st.hung_up {
            return hung_up;
        }
        if st.host_eof {
            return PollEvents::POLLIN | PollEvents::POLLRDNORM | PollEvents::POLLHUP | out;
        }
        if st.tty.readable() {
            PollEvents::POLLIN | PollEvents::POLLRDNORM | out
        } else {
            out
        }
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(self.state.inner.lock().wakes)
    }

    fn ioctl(&self, ctx: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        self.ioctl_as(ctx, cmd, arg, &TtyCaller::UNKNOWN)
    }

    fn stat(&self) -> Option<Metadata> {
        Some(Metadata {
            dev: 0,
            ino: 0,
            mode: S_IFCHR | 0o620,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: self.rdev,
            size: 0,
            blksize: 1024,
            blocks: 0,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The devices: (name, major, minor, permissions).
const NODES: [(&str, u32, u32, u32); 8] = [
    ("null", 1, 3, 0o666),
    ("zero", 1, 5, 0o666),
    ("full", 1, 7, 0o666),
    ("random", 1, 8, 0o666),
    ("urandom", 1, 9, 0o666),
    ("tty", 5, 0, 0o666),
    ("console", 5, 1, 0o600),
    ("ptmx", 5, 2, 0o666),
];

/// Registers the drivers of the standard character devices in `vfs`; returns
/// the console state the stdio files share.
pub fn register_devices(vfs: &Vfs) -> Arc<ConsoleState> {
    let state = Arc::new(ConsoleState::default());
    vfs.register_chrdev(makedev(1, 3), Arc::new(Null));
    vfs.register_chrdev(makedev(1, 5), Arc::new(Zero));
    vfs.register_chrdev(makedev(1, 7), Arc::new(Full));
    vfs.register_chrdev(makedev(1, 8), Arc::new(Random));
    vfs.register_chrdev(makedev(1, 9), Arc::new(URandom));
    vfs.register_chrdev(PTMX_RDEV, Arc::new(Ptmx));
    for rdev in [makedev(5, 0), makedev(5, 1)] {
        let c = ConsoleFile {
            out: ConsoleStream::Stdout,
            tty: ConsoleStream::Stdin,
            rdev,
            state: state.clone(),
        };
        vfs.register_chrdev(rdev, Arc::new(c));
    }
    state
}

/// A fresh /dev: the device nodes, /dev/fd and std{in,out,err} links into
/// /proc/self/fd, and the directories pts and shm.
pub fn new_devfs(dev: u64, now: Timespec) -> KResult<TmpFs> {
    let fs = TmpFs::new(dev, now);
    let root = fs.root();
    for (name, major, minor, perm) in NODES {
        let attr = NewNode {
            kind: FileType::CharDevice,
            perm,
            uid: 0,
            gid: 0,
            rdev: makedev(major, minor),
            now,
        };
        root.create(name.as_bytes(), &attr)?;
    }
    let link = NewNode {
        kind: FileType::Symlink,
        perm: 0o777,
        uid: 0,
        gid: 0,
        rdev: 0,
        now,
    };
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        root.symlink(name.as_bytes(), target.as_bytes(), &link)?;
    }
    let dir = NewNode {
        kind: FileType::Directory,
        perm: 0o755,
        ..link
    };
    root.create(b"pts", &dir)?;
    // devpts's own ptmx (mode 0 as Linux's default ptmxmode; root opens
    // it), the same device as /dev/ptmx, which runc makes a link to it.
    let pts = root.lookup(b"pts")?;
    pts.create(
        b"ptmx",
        &NewNode {
            kind: FileType::CharDevice,
            perm: 0,
            rdev: PTMX_RDEV,
            ..link
        },
    )?;
    root.create(
        b"shm",
        &NewNode {
            perm: 0o1777,
            ..dir
        },
    )?;
    Ok(fs)
}

/// Registers the drivers, builds /dev and mounts it (making the directory if the
/// root lacks it). Returns the console state for [`stdio_files`].
pub fn mount_devfs(vfs: &Vfs, now: Timespec) -> KResult<Arc<ConsoleState>> {
    let state = register_devices(vfs);
    let root = vfs.root();
    match root.inode().lookup(b"dev") {
        Ok(_) => {}
        Err(Errno::ENOENT) => {
            let dir = NewNode {
                kind: FileType::Directory,
                perm: 0o755,
                uid: 0,
                gid: 0,
                rdev: 0,
                now,
            };
            root.inode().create(b"dev", &dir)?;
        }
        Err(e) => return Err(e),
    }
    let at = vfs.lookup(&root, "/dev", FollowLast::Follow, &Cred::root())?;
    let fs = new_devfs(vfs.alloc_anon_dev(), now)?;
    vfs.mount(&at, fs.root(), "devtmpfs")?;
    Ok(state)
}

/// As [`stdio_files`], opened as /dev/console of `vfs` when it has one: the
/// fds' path is /dev/console and fstat matches it, so ttyname(3) and tty(1)
/// find the terminal (an OCI container's console, as runc's /dev/console).
pub fn stdio_files_at(state: &Arc<ConsoleState>, vfs: &Vfs) -> [Arc<OpenFile>; 3] {
    let cred = crate::fs::vfs::Cred::root();
    let Ok(node) = vfs.lookup(&vfs.root(), "/dev/console", FollowLast::Follow, &cred) else {
        return stdio_files(state);
    };
    stdio_files_of(state, &node)
}

/// As [`stdio_files_at`], on the name an OCI container's terminal has
/// under runc, /dev/pts/0 (the pty from the console socket): a node
/// /dev/pts/0 (136:0, root, `attrs`' permissions and group) for the
/// console is made, and the fds are opened as it, so ttyname(3) and tty(1)
/// print /dev/pts/0. /dev/console becomes the same device with the same
/// attributes, as runc bind-mounts the pty slave there. Umbra has no
/// devpts: /dev/pts holds just this node. Falls back to [`stdio_files_at`]
/// when /dev/pts is missing or holds a 0 already.
pub fn stdio_files_on_pts(
    state: &Arc<ConsoleState>,
    vfs: &Vfs,
    now: Timespec,
    attrs: PtsAttrs,
) -> [Arc<OpenFile>; 3] {
    let cred = crate::fs::vfs::Cred::root();
    let rdev = makedev(136, 0);
    // The host's stdin is the pty slave: its hang-up is noticed even when
    // nothing asked whether it is a terminal before.
    state.was_tty.store(true, Ordering::Relaxed);
    state.on_pts.store(true, Ordering::Relaxed);
    state.rdev.store(rdev, Ordering::Relaxed);
    let attr = NewNode {
        kind: FileType::CharDevice,
        perm: attrs.perm & 0o7777,
        uid: 0,
        gid: attrs.gid,
        rdev,
        now,
    };
    let made = vfs
        .lookup(&vfs.root(), "/dev/pts", FollowLast::Follow, &cred)
        .and_then(|pts| {
            pts.inode().create(b"0", &attr)?;
            vfs.lookup(&pts, "0", FollowLast::NoFollow, &cred)
        });
    let Ok(node) = made else {
        return stdio_files_at(state, vfs);
    };
    let driver = ConsoleFile {
        out: ConsoleStream::Stdout,
        tty: ConsoleStream::Stdin,
        rdev,
        state: state.clone(),
    };
    vfs.register_chrdev(rdev, Arc::new(driver));
    if let Ok(dev) = vfs.lookup(&vfs.root(), "/dev", FollowLast::Follow, &cred) {
        let is_console = |n: &[u8]| {
            dev.inode()
                .lookup(n)
                .is_ok_and(|i| i.kind() == FileType::CharDevice)
        };
        if is_console(b"console") && dev.inode().unlink(b"console", now).is_ok() {
            let _ = dev.inode().create(b"console", &attr);
        }
    }
    stdio_files_of(state, &node)
}

/// The highest /dev/pts number a linked terminal takes.
const MAX_LINKED_PTS: u32 = 255;

/// A terminal of its own on `link` (an OCI `exec --tty`'s): a node
/// /dev/pts/N (136:N, root, `attrs`' permissions and group) for the lowest N free, as Linux's
/// devpts numbers a new pty, with its driver, and the three stdio files
/// opened as it. Returns the state, N (None when there is no /dev/pts to
/// put a node in: the files then have no path) and the files.
pub fn linked_tty_files(
    link: Arc<dyn TtyLink>,
    vfs: &Vfs,
    now: Timespec,
    attrs: PtsAttrs,
) -> (Arc<ConsoleState>, Option<u32>, [Arc<OpenFile>; 3]) {
    let state = Arc::new(ConsoleState::with_link(Some(link)));
    let cred = crate::fs::vfs::Cred::root();
    let node = vfs
        .lookup(&vfs.root(), "/dev/pts", FollowLast::Follow, &cred)
        .ok()
        .and_then(|pts| {
            (0..=MAX_LINKED_PTS).find_map(|n| {
                let name = alloc::format!("{n}");
                if pts.inode().lookup(name.as_bytes()).is_ok() {
                    return None;
                }
                let attr = NewNode {
                    kind: FileType::CharDevice,
                    perm: attrs.perm & 0o7777,
                    uid: 0,
                    gid: attrs.gid,
                    rdev: makedev(136, n),
                    now,
                };
                pts.inode().create(name.as_bytes(), &attr).ok()?;
                let node = vfs.lookup(&pts, &name, FollowLast::NoFollow, &cred).ok()?;
                Some((n, node))
            })
        });
    let Some((n, node)) = node else {
        let rw = OpenFlags::from_bits_retain(O_RDWR);
        let f = || -> Arc<OpenFile> {
            let c = ConsoleFile::new(ConsoleStream::Stdout, ConsoleStream::Stdin, state.clone());
            OpenFile::from_ops(Arc::new(c), rw)
        };
        let files = [f(), f(), f()];
        return (state, None, files);
    };
    let rdev = makedev(136, n);
    state.rdev.store(rdev, Ordering::Relaxed);
    let driver = ConsoleFile {
        out: ConsoleStream::Stdout,
        tty: ConsoleStream::Stdin,
        rdev,
        state: state.clone(),
    };
    vfs.register_chrdev(rdev, Arc::new(driver));
    let files = stdio_files_of(&state, &node);
    (state, Some(n), files)
}

/// Removes the node /dev/pts/`n` of a linked terminal whose process ended
/// (the number is free again, as when a pty is released).
pub fn release_linked_tty(vfs: &Vfs, n: u32, now: Timespec) {
    let cred = crate::fs::vfs::Cred::root();
    if let Ok(pts) = vfs.lookup(&vfs.root(), "/dev/pts", FollowLast::Follow, &cred) {
        let _ = pts.inode().unlink(alloc::format!("{n}").as_bytes(), now);
    }
}

/// /dev/ptmx's device number.
pub const PTMX_RDEV: u64 = makedev(5, 2);
/// Pty ioctls (asm-generic/ioctls.h, the same on every guest arch).
pub const TIOCGPTN: u32 = 0x8004_5430;
pub const TIOCSPTLCK: u32 = 0x4004_5431;
pub const TIOCGPTLCK: u32 = 0x8004_5439;
pub const TIOCGPTPEER: u32 = 0x5441;
pub const TIOCPKT: u32 = 0x5420;
pub const TIOCGPKT: u32 = 0x8004_5438;
pub const TIOCSIG: u32 = 0x4004_5436;
/// Bytes each direction of a pty holds (Linux's tty buffer limit is 64 KiB).
const PTY_BUF: usize = 64 << 10;

/// /dev/ptmx as registered: a placeholder the kernel replaces at every open
/// with a new master ([`open_pty`]); the placeholder itself does nothing.
pub struct Ptmx;

impl FileOps for Ptmx {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &mut [u8]) -> KResult<usize> {
        Err(Errno::EIO)
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EIO)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Ptmx {
    /// Whether `ops` is the /dev/ptmx placeholder.
    pub fn is(ops: &dyn FileOps) -> bool {
        ops.as_any().is::<Ptmx>()
    }
}

/// What a pty's two ends share: the bytes in flight each way.
struct PtyBufs {
    /// Written to the master, not yet taken by the slave's line discipline.
    to_slave: alloc::collections::VecDeque<u8>,
    /// The slave's output (and echo), not yet read from the master.
    to_master: alloc::collections::VecDeque<u8>,
    /// The master is open (its close hangs the slave up).
    master_open: bool,
    /// The slave may not be opened until unlockpt (TIOCSPTLCK 0).
    locked: bool,
    /// The slave was opened once: from then on, its last close makes master
    /// reads fail with EIO (TTY_OTHER_CLOSED).
    slave_opened: bool,
    /// The master's wake-ups, for edge-triggered epoll: input with the
    /// slave's output, output when the slave takes input.
    wakes: WakeSeq,
    /// Packet mode (TIOCPKT) and the TIOCPKT_* state changes the master
    /// has yet to read.
    packet: bool,
    pktstatus: u8,
}

/// A pty pair's shared part: the slave's [`TtyLink`] is its master.
pub struct PtyPair {
    index: u32,
    bufs: Mutex<PtyBufs>,
    /// The slave driver registered for /dev/pts/N: open slave files hold
    /// clones of it, so its count tells whether the slave is open.
    slave: Mutex<Option<Arc<ConsoleFile>>>,
}

impl PtyPair {
    /// Open files of the slave (the registry and this pair hold two).
    fn slave_open(&self) -> bool {
        self.slave
            .lock()
            .as_ref()
            .is_some_and(|s| Arc::strong_count(s) > 2)
    }
}

#[cfg(feature = "pty")]
struct PtyLink(Arc<PtyPair>);

#[cfg(feature = "pty")]
impl TtyLink for PtyLink {
    fn recv(&self, _ctx: &mut dyn IoCtx, buf: &mut [u8]) -> KResult<ConsoleRead> {
        let mut b = self.0.bufs.lock();
        if b.to_slave.is_empty() {
            return Ok(if b.master_open {
                ConsoleRead::WouldBlock
            } else {
                ConsoleRead::Eof
            });
        }
        let n = buf.len().min(b.to_slave.len());
        for (d, s) in buf.iter_mut().zip(b.to_slave.drain(..n)) {
            *d = s;
        }
        b.wakes.wake_output();
        Ok(ConsoleRead::Data(n))
    }

    fn send(&self, _ctx: &mut dyn IoCtx, data: &[u8]) -> KResult<usize> {
        let mut b = self.0.bufs.lock();
        if !b.master_open {
            return Err(Errno::EIO);
        }
        let n = data.len().min(PTY_BUF.saturating_sub(b.to_master.len()));
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        b.to_master.extend(&data[..n]);
        b.wakes.wake_input();
        Ok(n)
    }

    fn open_ok(&self) -> bool {
        let b = self.0.bufs.lock();
        !b.locked && b.master_open
    }

    fn opened(&self) {
        self.0.bufs.lock().slave_opened = true;
    }

    #[cfg(feature = "pty")]
    fn alive(&self) -> bool {
        self.0.bufs.lock().master_open
    }

    #[cfg(feature = "pty")]
    fn packet_status(&self, set: u8, clear: u8) {
        let mut b = self.0.bufs.lock();
        if b.packet {
            b.pktstatus = (b.pktstatus & !clear) | set;
            b.wakes.wake_input();
        }
    }
}

/// A pty master: writes are the slave's input, reads its output.
pub struct PtyMaster {
    pair: Arc<PtyPair>,
    slave: Arc<ConsoleState>,
    /// The devpts directory its slave's node is in. The master holds it
    /// (the slave's driver stays registered after the pty is gone), so a
    /// devpts instance no longer mounted goes with its last master, as
    /// Linux's superblock with its last pty (devpts_release).
    dir: crate::fs::PathRef,
}

impl PtyMaster {
    /// The master behind `ops`, if it is one.
    pub fn of(ops: &dyn FileOps) -> Option<&PtyMaster> {
        ops.as_any().downcast_ref::<PtyMaster>()
    }

    /// The pty's number (N of /dev/pts/N).
    pub fn index(&self) -> u32 {
        self.pair.index
    }

    /// The slave's terminal state.
    pub fn slave_state(&self) -> &Arc<ConsoleState> {
        &self.slave
    }

    /// The directory of the slave's node (its devpts instance).
    pub fn dir(&self) -> &crate::fs::PathRef {
        &self.dir
    }

    /// The slave's driver, for TIOCGPTPEER (None once the pty is gone).
    pub fn slave_driver(&self) -> Option<Arc<ConsoleFile>> {
        self.pair.slave.lock().clone()
    }

    /// Whether master reads find the slave closed.
    fn other_closed(&self) -> bool {
        self.pair.bufs.lock().slave_opened && !self.pair.slave_open()
    }

    /// An ioctl on the master made by `caller`, as Linux's tty_ioctl with
    /// `tty` the master and `real_tty` the slave: the pty's own requests
    /// (pty_unix98_ioctl), the job-control ones on the slave without the
    /// controlling-terminal test the slave itself makes (tiocgpgrp,
    /// tiocgsid; TIOCSPGRP and TIOCSCTTY keep their rules, TIOCNOTTY is
    /// ENOTTY: a master is nobody's controlling terminal), the master's
    /// own queues (FIONREAD, TCFLSH), and termios and window size on the
    /// slave.
    pub fn ioctl_as(
        &self,
        ctx: &mut dyn IoCtx,
        cmd: u32,
        arg: &mut dyn IoctlArg,
        caller: &TtyCaller<'_>,
    ) -> KResult<usize> {
        let int_out = |arg: &mut dyn IoctlArg, v: i32| arg.write_out(&v.to_ne_bytes()).map(|_| 0);
        match cmd {
            TIOCGPTN => int_out(arg, self.pair.index as i32),
            TIOCSPTLCK => {
                let mut v = [0u8; 4];
                arg.read_in(&mut v)?;
                self.pair.bufs.lock().locked = i32::from_ne_bytes(v) != 0;
                Ok(0)
            }
            TIOCGPTLCK => int_out(arg, self.pair.bufs.lock().locked as i32),
            TIOCPKT => {
                let mut v = [0u8; 4];
                arg.read_in(&mut v)?;
                let mut b = self.pair.bufs.lock();
                if i32::from_ne_bytes(v) == 0 {
                    b.packet = false;
                } else if !b.packet {
                    b.pktstatus = 0;
                    b.packet = true;
                }
                Ok(0)
            }
            TIOCGPKT => int_out(arg, self.pair.bufs.lock().packet as i32),
            TIOCSIG => {
                // pty_signal: to the slave's foreground group.
                let sig = arg.raw() as i32;
                if ![SIGINT, SIGQUIT, SIGTSTP].contains(&(sig as u32)) {
                    return Err(Errno::EINVAL);
                }
                let mut st = self.slave.inner.lock();
                let pgrp = st.tty.foreground();
                if pgrp != 0 {
                    st.signals.push((pgrp, sig as u32));
                }
                Ok(0)
            }
            TIOCGPGRP => int_out(arg, self.slave.foreground() as i32),
            TIOCGSID => match self.slave.session() {
                0 => Err(Errno::ENOTTY),
                sid => int_out(arg, sid as i32),
            },
            TIOCNOTTY => Err(Errno::ENOTTY),
            FIONREAD => {
                self.slave.pump(ctx);
                let n = self.pair.bufs.lock().to_master.len();
                int_out(arg, i32::try_from(n).unwrap_or(i32::MAX))
            }
            TCFLSH => {
                // The master's input is the slave's output, its output the
                // slave's input not yet taken.
                let mut b = self.pair.bufs.lock();
                match arg.raw() {
                    TCIFLUSH => b.to_master.clear(),
                    TCOFLUSH => b.to_slave.clear(),
                    TCIOFLUSH => {
                        b.to_master.clear();
                        b.to_slave.clear();
                    }
                    _ => return Err(Errno::EINVAL),
                }
                Ok(0)
            }
            // Termios, window size, TIOCSPGRP and TIOCSCTTY are the slave's
            // (tty_mode_ioctl, tiocswinsz, tiocspgrp and tiocsctty on
            // real_tty).
            _ => {
                let c = ConsoleFile::new(
                    ConsoleStream::Stdout,
                    ConsoleStream::Stdin,
                    self.slave.clone(),
                );
                c.ioctl_as(ctx, cmd, arg, caller)
            }
        }
    }
}

impl FileOps for PtyMaster {
    fn read(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Output the slave held back for want of room goes first.
        self.slave.pump(ctx);
        let other_closed = self.other_closed();
        let mut b = self.pair.bufs.lock();
        // Packet mode (n_tty_read): a state change is read alone, as one
        // byte; data comes after a TIOCPKT_DATA byte.
        if b.packet && b.pktstatus != 0 {
            buf[0] = core::mem::take(&mut b.pktstatus);
            return Ok(1);
        }
        if b.to_master.is_empty() {
            return Err(if other_closed {
                Errno::EIO
            } else {
                Errno::EAGAIN
            });
        }
        let skip = if b.packet {
            buf[0] = TIOCPKT_DATA;
            1
        } else {
            0
        };
        let n = (buf.len() - skip).min(b.to_master.len());
        for (d, s) in buf[skip..].iter_mut().zip(b.to_master.drain(..n)) {
            *d = s;
        }
        Ok(skip + n)
    }

    fn write(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = {
            let mut b = self.pair.bufs.lock();
            let n = buf.len().min(PTY_BUF.saturating_sub(b.to_slave.len()));
            if n == 0 {
                drop(b);
                self.slave.pump(ctx);
                return Err(Errno::EAGAIN);
            }
            b.to_slave.extend(&buf[..n]);
            n
        };
        // The line discipline takes the input now: echo, signals.
        self.slave.pump(ctx);
        Ok(n)
    }

    fn poll(&self, ctx: &mut dyn IoCtx) -> PollEvents {
        self.slave.pump(ctx);
        let other_closed = self.other_closed();
        let b = self.pair.bufs.lock();
        let mut ev = PollEvents::empty();
        if !b.to_master.is_empty() {
            ev |= PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        if b.to_slave.len() < PTY_BUF {
            ev |= PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        }
        if other_closed {
            ev |= PollEvents::POLLHUP;
        }
        if b.packet && b.pktstatus != 0 {
            ev |= PollEvents::POLLPRI | PollEvents::POLLIN | PollEvents::POLLRDNORM;
        }
        ev
    }

    fn epoll_ok(&self) -> bool {
        true
    }

    fn wake_seq(&self) -> Option<WakeSeq> {
        Some(self.pair.bufs.lock().wakes)
    }

    fn ioctl(&self, ctx: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        self.ioctl_as(ctx, cmd, arg, &TtyCaller::UNKNOWN)
    }

    fn stat(&self) -> Option<Metadata> {
        Some(Metadata {
            dev: 0,
            ino: 0,
            mode: S_IFCHR | 0o666,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: PTMX_RDEV,
            size: 0,
            blksize: 1024,
            blocks: 0,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for PtyMaster {
    fn drop(&mut self) {
        self.pair.bufs.lock().master_open = false;
        *self.pair.slave.lock() = None;
    }
}

/// What a pty's slave node gets: its mode, owner and group (devpts_pty_new:
/// the instance's `uid=` and `gid=` if given, else the opener's), and the
/// highest number its instance hands out (`max=`, and umbra's own bound).
#[derive(Clone, Copy, Debug)]
pub struct PtsNode {
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub max: u32,
}

/// A new pty pair, as an open of a ptmx makes: `pts`/N (a devpts instance,
/// or umbra's own /dev/pts) for the lowest free N, with `node`'s mode,
/// owner and group; its slave driver; and the master (locked until
/// unlockpt). ENOSPC when no number is free. One number space serves every
/// devpts instance (the slaves' drivers are found by device number): a
/// number another instance's live pty holds is skipped.
#[cfg(feature = "pty")]
pub fn open_pty(
    vfs: &Vfs,
    pts: &crate::fs::PathRef,
    now: Timespec,
    node: PtsNode,
) -> KResult<(Arc<PtyMaster>, u32)> {
    let taken = |n: u32| {
        vfs.chrdev(makedev(136, n))
            .is_some_and(|d| ConsoleFile::of(&*d).is_some_and(|c| c.state().in_use()))
    };
    let n = (0..=MAX_LINKED_PTS.min(node.max.saturating_sub(1)))
        .filter(|&n| node.max > 0 && !taken(n))
        .find(|n| {
            let name = alloc::format!("{n}");
            if pts.inode().lookup(name.as_bytes()).is_ok() {
                return false;
            }
            let attr = NewNode {
                kind: FileType::CharDevice,
                perm: node.perm & 0o7777,
                uid: node.uid,
                gid: node.gid,
                rdev: makedev(136, *n),
                now,
            };
            pts.inode().create(name.as_bytes(), &attr).is_ok()
        })
        .ok_or(Errno::ENOSPC)?;
    let pair = Arc::new(PtyPair {
        index: n,
        bufs: Mutex::new(PtyBufs {
            to_slave: Default::default(),
            to_master: Default::default(),
            master_open: true,
            locked: true,
            slave_opened: false,
            wakes: WakeSeq::default(),
            packet: false,
            pktstatus: 0,
        }),
        slave: Mutex::new(None),
    });
    let state = Arc::new(ConsoleState::with_link(Some(Arc::new(PtyLink(
        pair.clone(),
    )))));
    state.with_tty(|t| *t = Tty::new_pty_slave());
    let rdev = makedev(136, n);
    state.rdev.store(rdev, Ordering::Relaxed);
    let driver = Arc::new(ConsoleFile {
        out: ConsoleStream::Stdout,
        tty: ConsoleStream::Stdin,
        rdev,
        state: state.clone(),
    });
    *pair.slave.lock() = Some(driver.clone());
    vfs.register_chrdev(rdev, driver);
    let master = PtyMaster {
        pair,
        slave: state,
        dir: pts.clone(),
    };
    Ok((Arc::new(master), n))
}

/// A devpts instance's mount options (devpts_parse_param): `uid=`,
/// `gid=`, `mode=` (the slaves', 0600 by default), `ptmxmode=` (its
/// ptmx's, 0 by default), `max=`, and `newinstance` (every mount is a new
/// instance, as since Linux 4.7). Others are EINVAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevptsOpts {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mode: u32,
    pub ptmxmode: u32,
    pub max: u32,
}

/// Linux's NR_UNIX98_PTY_MAX, the largest `max=`.
const PTY_MAX: u32 = 1 << 20;

impl DevptsOpts {
    /// Parses mount(2)'s data for devpts.
    pub fn parse(data: &str) -> KResult<DevptsOpts> {
        let mut o = DevptsOpts {
            uid: None,
            gid: None,
            mode: 0o600,
            ptmxmode: 0,
            max: PTY_MAX,
        };
        for opt in data.split(',').filter(|o| !o.is_empty()) {
            let (key, val) = opt.split_once('=').unwrap_or((opt, ""));
            let num = |radix| u32::from_str_radix(val, radix).map_err(|_| Errno::EINVAL);
            match key {
                "uid" => o.uid = Some(num(10)?),
                "gid" => o.gid = Some(num(10)?),
                "mode" => o.mode = num(8)? & 0o7777,
                "ptmxmode" => o.ptmxmode = num(8)? & 0o7777,
                "max" => {
                    o.max = Some(num(10)?)
                        .filter(|&m| m <= PTY_MAX)
                        .ok_or(Errno::EINVAL)?
                }
                "newinstance" if val.is_empty() => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(o)
    }

    /// The options as mountinfo shows them (devpts_show_options).
    pub fn shown(&self) -> alloc::string::String {
        let mut s = alloc::string::String::new();
        if let Some(u) = self.uid {
            s += &alloc::format!("uid={u},");
        }
        if let Some(g) = self.gid {
            s += &alloc::format!("gid={g},");
        }
        s += &alloc::format!("mode={:03o},ptmxmode={:03o}", self.mode, self.ptmxmode);
        if self.max < PTY_MAX {
            s += &alloc::format!(",max={}", self.max);
        }
        s
    }
}

/// A devpts instance: its device number, its options, and its root
/// directory, held weakly. Its mount and its ptys' masters hold the root,
/// so the instance lives while it is mounted or a pty of its is open (as
/// Linux's devpts superblock, which its ptys keep active), and
/// [`DevptsInstance::gone`] tells when it went.
#[cfg(feature = "pty")]
pub struct DevptsInstance {
    pub dev: u64,
    pub opts: DevptsOpts,
    root: alloc::sync::Weak<dyn super::vfs::Inode>,
}

#[cfg(feature = "pty")]
impl DevptsInstance {
    /// The instance of device `dev` whose root is `root`.
    pub fn new(dev: u64, opts: DevptsOpts, root: &Arc<dyn super::vfs::Inode>) -> DevptsInstance {
        DevptsInstance {
            dev,
            opts,
            root: Arc::downgrade(root),
        }
    }

    /// Whether nothing holds the instance any more: no mount, no pty.
    pub fn gone(&self) -> bool {
        self.root.strong_count() == 0
    }
}

/// A new devpts instance: an empty directory but for its ptmx (5:2, mode
/// `ptmxmode`, owned by the mounter), which opens ptys in this instance.
/// It is a tmpfs underneath: unlike Linux's devpts, it lets root make and
/// remove other names in it. `fs` is the empty tmpfs it is made in.
pub fn new_devpts(
    fs: TmpFs,
    now: Timespec,
    opts: &DevptsOpts,
    uid: u32,
    gid: u32,
) -> KResult<TmpFs> {
    fs.root().create(
        b"ptmx",
        &NewNode {
            kind: FileType::CharDevice,
            perm: opts.ptmxmode,
            uid,
            gid,
            rdev: PTMX_RDEV,
            now,
        },
    )?;
    Ok(fs)
}

/// Removes the node `n` of a pty from its devpts directory `dir`
/// (devpts_pty_kill).
pub fn release_pts(dir: &crate::fs::PathRef, n: u32, now: Timespec) {
    let _ = dir.inode().unlink(alloc::format!("{n}").as_bytes(), now);
}

/// The console's stdio files, opened as `node`.
fn stdio_files_of(state: &Arc<ConsoleState>, node: &crate::fs::PathRef) -> [Arc<OpenFile>; 3] {
    let rw = OpenFlags::from_bits_retain(O_RDWR);
    let mk = |out, tty| -> Arc<OpenFile> {
        OpenFile::from_ops_at(
            Arc::new(ConsoleFile::new(out, tty, state.clone())),
            rw,
            node,
        )
    };
    [
        mk(ConsoleStream::Stdout, ConsoleStream::Stdin),
        mk(ConsoleStream::Stdout, ConsoleStream::Stdout),
        mk(ConsoleStream::Stderr, ConsoleStream::Stderr),
    ]
}

/// The open files for the first process's fds 0, 1 and 2: the console, writing
/// to host stdout for 0 and 1 and to host stderr for 2.
pub fn stdio_files(state: &Arc<ConsoleState>) -> [Arc<OpenFile>; 3] {
    let rw = OpenFlags::from_bits_retain(O_RDWR);
    let mk = |out, tty| -> Arc<OpenFile> {
        OpenFile::from_ops(Arc::new(ConsoleFile::new(out, tty, state.clone())), rw)
    };
    [
        mk(ConsoleStream::Stdout, ConsoleStream::Stdin),
        mk(ConsoleStream::Stdout, ConsoleStream::Stdout),
        mk(ConsoleStream::Stderr, ConsoleStream::Stderr),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::file::open;
    use crate::fs::file::tests::TestHost;
    use crate::fs::vfs::FsCtx;
    use crate::tty::termios::{ICANON, VMIN, VTIME};
    use alloc::vec;
    use alloc::vec::Vec;
    use umbra_abi::flags::{
        O_RDONLY, O_WRONLY, TCGETS, TCSETS, TCSETSW, TIOCGPGRP, TIOCGWINSZ, TIOCSPGRP, TIOCSWINSZ,
    };
    use umbra_abi::signal::{SIGINT, SIGTSTP};
    use umbra_abi::structs::Termios;
    use umbra_abi::Pod;

    struct Arg(Vec<u8>);
    impl IoctlArg for Arg {
        fn raw(&self) -> u64 {
            0x1000
        }
        fn read_in(&mut self, buf: &mut [u8]) -> KResult<()> {
            let src = self.0.get(..buf.len()).ok_or(Errno::EFAULT)?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn write_out(&mut self, data: &[u8]) -> KResult<()> {
            self.0 = data.to_vec();
            Ok(())
        }
    }

    fn setup() -> (Vfs, Arc<ConsoleState>) {
        let fs = TmpFs::new(1, Timespec::default());
        let vfs = Vfs::new(fs.root(), "tmpfs");
        let st = mount_devfs(&vfs, Timespec::default()).unwrap();
        (vfs, st)
    }

    fn dev(vfs: &Vfs, path: &str, acc: u32) -> Arc<OpenFile> {
        open(
            vfs,
            &FsCtx::boot(),
            &vfs.root(),
            path.as_bytes(),
            OpenFlags::from_bits_retain(acc),
            0,
        )
        .unwrap()
    }

    #[test]
    fn oci_terminal_stdio_are_dev_pts_0() {
        let (vfs, st) = setup();
        let [i, o, e] = stdio_files_on_pts(&st, &vfs, Timespec::default(), PtsAttrs::default());
        let pts = dev(&vfs, "/dev/pts/0", O_RDWR).stat().unwrap();
        assert_eq!(pts.rdev, makedev(136, 0));
        assert_eq!((pts.mode & 0o7777, pts.uid, pts.gid), (0o620, 0, 5));
        for f in [i, o, e] {
            let m = f.stat().unwrap();
            assert_eq!((m.dev, m.ino, m.rdev), (pts.dev, pts.ino, pts.rdev));
            assert!(ConsoleFile::of(f.ops().unwrap().as_ref()).is_some());
        }
        // Opened by name, /dev/pts/0 is the console too.
        let mut h = TestHost::default();
        let by_name = dev(&vfs, "/dev/pts/0", O_RDWR);
        assert_eq!(by_name.write(&mut h, b"hi").unwrap(), 2);
        // /dev/console is the same device, with the same attributes (runc
        // bind-mounts the pty slave there).
        let con = dev(&vfs, "/dev/console", O_RDWR).stat().unwrap();
        assert_eq!(con.rdev, makedev(136, 0));
        assert_eq!((con.mode & 0o7777, con.uid, con.gid), (0o620, 0, 5));
        // A second time (the node is there): the fds are /dev/console's.
        let [i, _, _] = stdio_files_on_pts(&st, &vfs, Timespec::default(), PtsAttrs::default());
        assert_eq!(i.stat().unwrap().rdev, makedev(136, 0));
    }

    #[test]
    fn oci_pts_nodes_take_the_devpts_mode_and_gid() {
        let (vfs, st) = setup();
        let attrs = PtsAttrs {
            perm: 0o600,
            gid: 0,
        };
        let _ = stdio_files_on_pts(&st, &vfs, Timespec::default(), attrs);
        for p in ["/dev/pts/0", "/dev/console"] {
            let m = dev(&vfs, p, O_RDWR).stat().unwrap();
            assert_eq!(
                (m.mode & 0o7777, m.gid, m.rdev),
                (0o600, 0, makedev(136, 0))
            );
        }
        let link = Arc::new(GoneLink);
        let (_, n, _) = linked_tty_files(link, &vfs, Timespec::default(), attrs);
        assert_eq!(n, Some(1));
        let m = dev(&vfs, "/dev/pts/1", O_RDWR).stat().unwrap();
        assert_eq!((m.mode & 0o7777, m.gid), (0o600, 0));
    }

    /// A linked terminal's host end that is gone (its pty master closed).
    struct GoneLink;
    impl TtyLink for GoneLink {
        fn recv(&self, _: &mut dyn IoCtx, _: &mut [u8]) -> KResult<ConsoleRead> {
            Ok(ConsoleRead::Eof)
        }
        fn send(&self, _: &mut dyn IoCtx, _: &[u8]) -> KResult<usize> {
            Err(Errno::EIO)
        }
    }

    #[test]
    fn a_linked_terminal_whose_host_end_closed_hangs_up() {
        let (vfs, _) = setup();
        let (st, _, [i, o, _]) = linked_tty_files(
            Arc::new(GoneLink),
            &vfs,
            Timespec::default(),
            PtsAttrs::default(),
        );
        st.set_session(7, 9);
        let mut h = TestHost::default();
        st.pump(&mut h);
        // SIGHUP and SIGCONT for the session's leader, once; no signal for
        // the foreground group; no session any more.
        assert_eq!(st.take_hangup(), Some(7));
        assert_eq!(st.take_hangup(), None);
        assert!(st.take_signals().is_empty());
        assert_eq!(st.session(), 0);
        assert!(st.is_hung_up());
        let mut b = [0u8; 4];
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(o.write(&mut h, b"x"), Err(Errno::EIO));
        let c = ConsoleFile::of(o.ops().unwrap().as_ref()).unwrap();
        let mut arg = Arg(vec![0; 64]);
        assert_eq!(c.ioctl(&mut h, TCGETS, &mut arg), Err(Errno::EIO));
        assert_eq!(c.ioctl(&mut h, TIOCSPGRP, &mut arg), Err(Errno::ENOTTY));
        let ev = c.poll(&mut h);
        assert!(ev.contains(PollEvents::POLLHUP | PollEvents::POLLERR | PollEvents::POLLIN));
    }

    #[test]
    fn null_zero_full_random() {
        let (vfs, _) = setup();
        let mut h = TestHost::default();
        let mut b = [9u8; 8];
        let null = dev(&vfs, "/dev/null", O_RDWR);
        assert_eq!(null.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(null.write(&mut h, b"abc").unwrap(), 3);
        assert_eq!(null.lseek(0, 0).unwrap(), 0);
        assert_eq!(null.stat().unwrap().rdev, makedev(1, 3));
        let zero = dev(&vfs, "/dev/zero", O_RDONLY);
        assert_eq!(zero.read(&mut h, &mut b).unwrap(), 8);
        assert_eq!(b, [0; 8]);
        let full = dev(&vfs, "/dev/full", O_RDWR);
        assert_eq!(full.write(&mut h, b"x"), Err(Errno::ENOSPC));
        b = [1; 8];
        assert_eq!(full.read(&mut h, &mut b).unwrap(), 8);
        assert_eq!(b, [0; 8]);
        let r = dev(&vfs, "/dev/urandom", O_RDONLY);
        assert_eq!(r.read(&mut h, &mut b).unwrap(), 8);
        assert_eq!(b[..2], [1, 8]);
        assert_eq!(r.pread(&mut h, &mut b, 0), Err(Errno::ESPIPE));
        let mut a = Arg(Vec::new());
        assert_eq!(null.ioctl(&mut h, TCGETS, &mut a), Err(Errno::ENOTTY));
        // Linked or mknod'ed elsewhere, a node reaches the same driver.
        let root = vfs.root();
        let attr = NewNode {
            kind: FileType::CharDevice,
            perm: 0o666,
            uid: 0,
            gid: 0,
            rdev: makedev(1, 7),
            now: Timespec::default(),
        };
        root.inode().create(b"myfull", &attr).unwrap();
        assert_eq!(
            dev(&vfs, "/myfull", O_WRONLY).write(&mut h, b"x"),
            Err(Errno::ENOSPC)
        );
        let attr = NewNode {
            rdev: makedev(99, 1),
            ..attr
        };
        root.inode().create(b"nodrv", &attr).unwrap();
        assert_eq!(
            open(
                &vfs,
                &FsCtx::boot(),
                &root,
                b"/nodrv",
                OpenFlags::empty(),
                0
            )
            .map(|_| ()),
            Err(Errno::ENXIO)
        );
        let names: Vec<_> = vfs
            .lookup(&root, "/dev", FollowLast::Follow, &Cred::root())
            .unwrap()
            .inode()
            .readdir(2, 100)
            .unwrap();
        assert_eq!(names.len(), 14);
    }

    #[test]
    fn console_reads_writes_and_ioctls() {
        let (vfs, st) = setup();
        let mut h = TestHost {
            stdin: b"hi\n".to_vec(),
            ..Default::default()
        };
        let [i, o, e] = stdio_files(&st);
        let mut b = [0u8; 8];
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 3);
        assert_eq!(&b[..3], b"hi\n");
        assert_eq!(i.read(&mut h, &mut b), Err(Errno::EAGAIN));
        h.stdin_eof = true;
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(o.write(&mut h, b"out").unwrap(), 3);
        assert_eq!(e.write(&mut h, b"err").unwrap(), 3);
        assert_eq!(
            (h.stdout.as_slice(), h.stderr.as_slice()),
            (&b"out"[..], &b"err"[..])
        );
        assert_eq!(o.lseek(0, 0), Err(Errno::ESPIPE));
        assert_eq!(o.stat().unwrap().mode & umbra_abi::flags::S_IFMT, S_IFCHR);

        // Not a terminal: isatty() must say no.
        let mut a = Arg(Vec::new());
        assert_eq!(o.ioctl(&mut h, TCGETS, &mut a), Err(Errno::ENOTTY));
        assert_eq!(o.ioctl(&mut h, TIOCGWINSZ, &mut a), Err(Errno::ENOTTY));
        h.tty = true;
        o.ioctl(&mut h, TCGETS, &mut a).unwrap();
        let mut t = Termios::decode(&a.0);
        assert_eq!(t, default_termios());
        t.c_lflag = 0;
        let mut enc = [0u8; Termios::SIZE];
        t.encode(&mut enc);
        let mut set = Arg(enc.to_vec());
        i.ioctl(&mut h, TCSETSW, &mut set).unwrap();
        // Shared with /dev/tty.
        let tty = dev(&vfs, "/dev/tty", O_RDWR);
        tty.ioctl(&mut h, TCGETS, &mut a).unwrap();
        assert_eq!(Termios::decode(&a.0).c_lflag, 0);
        tty.ioctl(&mut h, TIOCGWINSZ, &mut a).unwrap();
        assert_eq!(Winsize::decode(&a.0).ws_col, 80);
        assert_eq!(tty.ioctl(&mut h, 0x1234, &mut a), Err(Errno::ENOTTY));
        let mut short = Arg(Vec::new());
        assert_eq!(tty.ioctl(&mut h, TCSETS, &mut short), Err(Errno::EFAULT));
        assert_eq!(tty.write(&mut h, b"!").unwrap(), 1);
        assert_eq!(h.stdout, b"out!");
    }

    fn tty_host(input: &[u8]) -> TestHost {
        TestHost {
            stdin: input.to_vec(),
            tty: true,
            ..Default::default()
        }
    }

    #[test]
    fn non_tty_console_passes_bytes_through() {
        let (_vfs, st) = setup();
        // Control characters, CRs and DELs are data when stdin is a pipe.
        let mut h = TestHost {
            stdin: b"a\x7fb\x03\r\x04\n".to_vec(),
            ..Default::default()
        };
        let [i, o, _] = stdio_files(&st);
        let mut b = [0u8; 16];
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 7);
        assert_eq!(&b[..7], b"a\x7fb\x03\r\x04\n");
        assert!(h.stdout.is_empty(), "no echo");
        assert!(st.take_signals().is_empty());
        o.write(&mut h, b"x\ny\n").unwrap();
        assert_eq!(h.stdout, b"x\ny\n", "no ONLCR");
        assert_eq!(
            i.poll(&mut h),
            PollEvents::POLLIN
                | PollEvents::POLLOUT
                | PollEvents::POLLRDNORM
                | PollEvents::POLLWRNORM
        );
        let mut a = Arg(Vec::new());
        assert_eq!(i.ioctl(&mut h, FIONREAD, &mut a), Err(Errno::ENOTTY));
        // pump does nothing without a terminal.
        h.stdin = b"\x03".to_vec();
        st.set_session(1, 1);
        st.pump(&mut h);
        assert_eq!(h.stdin, b"\x03");
        assert!(st.take_signals().is_empty());
    }

    #[test]
    fn tty_console_edits_echoes_and_cooks_output() {
        let (_vfs, st) = setup();
        let mut h = tty_host(b"ls\x7f\x7fecho hi\r");
        let [i, o, e] = stdio_files(&st);
        let mut b = [0u8; 64];
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 8);
        assert_eq!(&b[..8], b"echo hi\n");
        assert_eq!(h.stdout, b"ls\x08 \x08\x08 \x08echo hi\r\n");
        h.stdout.clear();
        o.write(&mut h, b"hi\n").unwrap();
        e.write(&mut h, b"err\n").unwrap();
        assert_eq!(h.stdout, b"hi\r\n");
        assert_eq!(h.stderr, b"err\r\n");
        // Nothing more typed: the read would block.
        assert_eq!(i.read(&mut h, &mut b), Err(Errno::EAGAIN));
        assert_eq!(st.read_wait_ns(), None);
    }

    #[test]
    fn tty_console_line_is_not_readable_until_complete() {
        let (_vfs, st) = setup();
        let mut h = tty_host(b"part");
        let [i, _, _] = stdio_files(&st);
        let out = PollEvents::POLLOUT | PollEvents::POLLWRNORM;
        assert_eq!(i.poll(&mut h), out);
        let mut a = Arg(Vec::new());
        i.ioctl(&mut h, FIONREAD, &mut a).unwrap();
        assert_eq!(a.0, 0i32.to_ne_bytes());
        h.stdin = b"ial\n".to_vec();
        assert_eq!(
            i.poll(&mut h),
            out | PollEvents::POLLIN | PollEvents::POLLRDNORM
        );
        i.ioctl(&mut h, FIONREAD, &mut a).unwrap();
        assert_eq!(a.0, 8i32.to_ne_bytes());
    }

    #[test]
    fn tty_console_ctrl_c_queues_sigint_for_the_foreground() {
        let (_vfs, st) = setup();
        st.set_session(1, 7);
        let mut h = tty_host(b"abc\x03");
        let [i, _, _] = stdio_files(&st);
        let mut b = [0u8; 8];
        assert_eq!(i.read(&mut h, &mut b), Err(Errno::EAGAIN));
        // ^C discards the echo of the input that came with it (isig).
        assert_eq!(h.stdout, b"^C");
        assert_eq!(st.take_signals(), vec![(7, SIGINT)]);
        assert!(st.take_signals().is_empty());
    }

    #[test]
    fn pump_feeds_input_with_no_reader() {
        let (_vfs, st) = setup();
        st.set_session(1, 1);
        let mut h = tty_host(b"sleep\x1a");
        st.pump(&mut h);
        assert!(h.stdin.is_empty());
        assert_eq!(h.stdout, b"^Z");
        assert_eq!(st.take_signals(), vec![(1, SIGTSTP)]);
        // Typed ahead while nobody read: the line waits for the reader.
        h.stdin = b"next\n".to_vec();
        st.pump(&mut h);
        let [i, _, _] = stdio_files(&st);
        let mut b = [0u8; 8];
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 5);
        assert_eq!(&b[..5], b"next\n");
    }

    #[test]
    fn a_console_without_a_session_hangs_up_signalling_nobody() {
        // The leader gave the terminal up (TIOCNOTTY): at the hang-up no
        // session is there to signal.
        let (vfs, st) = setup();
        let mut h = tty_host(b"");
        let _ = stdio_files_on_pts(&st, &vfs, Timespec::default(), PtsAttrs::default());
        st.set_session(0, 0);
        h.stdin_eof = true;
        h.hung_up = true;
        h.tty = false;
        st.pump(&mut h);
        assert!(st.is_hung_up());
        assert_eq!(st.take_hangup(), None);
        assert!(st.take_signals().is_empty());
    }

    #[test]
    fn a_console_whose_host_terminal_hung_up_hangs_up() {
        let (vfs, st) = setup();
        let mut h = tty_host(b"");
        let [i, o, _] = stdio_files_on_pts(&st, &vfs, Timespec::default(), PtsAttrs::default());
        assert!(!st.take_pts_release());
        st.set_session(1, 1);
        let mut b = [0u8; 8];
        assert_eq!(i.read(&mut h, &mut b), Err(Errno::EAGAIN));
        // The host's pty master closed: its slave, the host's stdin, reads
        // end of file and is no terminal to TCGETS any more (EIO).
        h.stdin = b"lost".to_vec();
        h.stdin_eof = true;
        h.hung_up = true;
        h.tty = false;
        st.pump(&mut h);
        // The session loses its terminal; its leader is to get SIGHUP and
        // SIGCONT from here (the host's to umbra are not passed on), once,
        // and the foreground group nothing.
        assert_eq!(st.session(), 0);
        assert_eq!(st.take_hangup(), Some(1));
        assert_eq!(st.take_hangup(), None);
        assert!(st.take_signals().is_empty());
        // Its /dev/pts/0 is to go, once.
        assert!(st.take_pts_release());
        assert!(!st.take_pts_release());
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        let c = ConsoleFile::of(o.ops().unwrap().as_ref()).unwrap();
        assert!(c.is_hung_up());
        let mut arg = Arg(vec![0; 64]);
        assert_eq!(c.ioctl(&mut h, TCGETS, &mut arg), Err(Errno::EIO));
        assert!(i
            .poll(&mut h)
            .contains(PollEvents::POLLHUP | PollEvents::POLLERR | PollEvents::POLLIN));
    }

    #[test]
    fn tty_console_veof_and_hangup() {
        let (_vfs, st) = setup();
        let mut h = tty_host(b"\x04");
        let [i, _, _] = stdio_files(&st);
        let mut b = [0u8; 8];
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(i.read(&mut h, &mut b), Err(Errno::EAGAIN));
        // End of file from a host terminal that did not hang up (its
        // TCGETS still works): what was typed is read, then end of file.
        // A hang-up is a_console_whose_host_terminal_hung_up_hangs_up.
        h.stdin = b"last\n".to_vec();
        h.stdin_eof = true;
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 5);
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        assert!(i.poll(&mut h).contains(PollEvents::POLLHUP));
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0, "still hung up");
        // A one-off end of file (^D on a cooked host terminal) ends one read.
        h.stdin = b"x".to_vec();
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        h.stdin_eof = false;
        h.stdin = b"y\n".to_vec();
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 3);
        assert_eq!(&b[..3], b"xy\n");
    }

    #[test]
    fn tty_console_vtime_reports_its_wait() {
        let (_vfs, st) = setup();
        let mut h = tty_host(b"");
        let [i, _, _] = stdio_files(&st);
        let mut a = Arg(Vec::new());
        i.ioctl(&mut h, TCGETS, &mut a).unwrap();
        let mut t = Termios::decode(&a.0);
        t.c_lflag &= !ICANON;
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 3;
        let mut enc = [0u8; Termios::SIZE];
        t.encode(&mut enc);
        i.ioctl(&mut h, TCSETS, &mut Arg(enc.to_vec())).unwrap();
        h.now = 1_000;
        let mut b = [0u8; 8];
        assert_eq!(i.read(&mut h, &mut b), Err(Errno::EAGAIN));
        assert_eq!(st.read_wait_ns(), Some(300_000_000));
        h.now = 200_001_000;
        assert_eq!(i.read(&mut h, &mut b), Err(Errno::EAGAIN));
        assert_eq!(st.read_wait_ns(), Some(100_000_000));
        h.now = 300_001_000;
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
    }

    #[test]
    fn tty_console_pgrp_ioctls_follow_the_session() {
        let (_vfs, st) = setup();
        let mut h = tty_host(b"");
        let [i, _, _] = stdio_files(&st);
        let mut a = Arg(Vec::new());
        // No session yet: a shell sees no job control, as under a pipe.
        assert_eq!(i.ioctl(&mut h, TIOCGPGRP, &mut a), Err(Errno::ENOTTY));
        st.set_session(1, 1);
        i.ioctl(&mut h, TIOCGPGRP, &mut a).unwrap();
        assert_eq!(a.0, 1i32.to_ne_bytes());
        let c = ConsoleFile::of(&**i.ops().unwrap()).unwrap();
        let caller = TtyCaller::new(1, 1, 1);
        c.ioctl_as(
            &mut h,
            TIOCSPGRP,
            &mut Arg(5i32.to_ne_bytes().to_vec()),
            &caller,
        )
        .unwrap();
        assert_eq!(st.foreground(), 5);
        let outsider = TtyCaller::new(9, 9, 9);
        assert_eq!(
            c.ioctl_as(&mut h, TIOCGPGRP, &mut a, &outsider),
            Err(Errno::ENOTTY)
        );
        assert_eq!(
            st.check_read(&TtyCaller::new(1, 1, 1)),
            TtyAccess::Background {
                sig: umbra_abi::signal::SIGTTIN
            }
        );
        st.session_leader_exited();
        assert_eq!(st.take_signals(), vec![(5, umbra_abi::signal::SIGHUP)]);
    }

    #[test]
    fn tty_console_winsize_from_host_then_guest() {
        let (_vfs, st) = setup();
        st.set_session(1, 1);
        let mut h = tty_host(b"");
        let [_, o, _] = stdio_files(&st);
        let mut a = Arg(Vec::new());
        o.ioctl(&mut h, TIOCGWINSZ, &mut a).unwrap();
        assert_eq!(Winsize::decode(&a.0).ws_col, 80);
        let ws = Winsize {
            ws_row: 10,
            ws_col: 20,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let mut enc = [0u8; Winsize::SIZE];
        ws.encode(&mut enc);
        o.ioctl(&mut h, TIOCSWINSZ, &mut Arg(enc.to_vec())).unwrap();
        assert_eq!(st.take_signals(), vec![(1, umbra_abi::signal::SIGWINCH)]);
        // The host did not resize: pumping keeps the guest's size.
        st.pump(&mut h);
        o.ioctl(&mut h, TIOCGWINSZ, &mut a).unwrap();
        assert_eq!(Winsize::decode(&a.0), ws);
        assert!(st.take_signals().is_empty());
    }

    /// A terminal host whose window size the test changes.
    struct Resizable {
        host: TestHost,
        ws: Winsize,
    }

    impl IoCtx for Resizable {
        fn console_read(&mut self, buf: &mut [u8]) -> Result<ConsoleRead, crate::host::HostError> {
            IoCtx::console_read(&mut self.host, buf)
        }
        fn console_write(
            &mut self,
            stream: ConsoleStream,
            data: &[u8],
        ) -> Result<usize, crate::host::HostError> {
            IoCtx::console_write(&mut self.host, stream, data)
        }
        fn console_is_tty(&self, _stream: ConsoleStream) -> bool {
            true
        }
        fn console_winsize(&self) -> Option<Winsize> {
            Some(self.ws)
        }
        fn random(&mut self, buf: &mut [u8]) {
            IoCtx::random(&mut self.host, buf)
        }
        fn now_real(&self) -> u64 {
            0
        }
        fn now_mono(&self) -> u64 {
            0
        }
    }

    #[test]
    fn host_resize_sends_sigwinch_but_the_first_size_does_not() {
        let (_vfs, st) = setup();
        st.set_session(1, 3);
        let big = Winsize {
            ws_row: 50,
            ws_col: 132,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let mut h = Resizable {
            host: TestHost::default(),
            ws: big,
        };
        st.pump(&mut h);
        assert!(st.take_signals().is_empty());
        assert_eq!(st.with_tty(|t| t.winsize()), big);
        h.ws.ws_col = 100;
        st.host_resized(&mut h);
        assert_eq!(st.take_signals(), vec![(3, umbra_abi::signal::SIGWINCH)]);
        assert_eq!(st.with_tty(|t| t.winsize()).ws_col, 100);
        st.pump(&mut h);
        assert!(st.take_signals().is_empty());
    }

    /// An ioctl argument passed by value (TCFLSH, TCXONC, TIOCSIG).
    #[cfg(feature = "pty")]
    struct RawArg(u64);
    #[cfg(feature = "pty")]
    impl IoctlArg for RawArg {
        fn raw(&self) -> u64 {
            self.0
        }
        fn read_in(&mut self, _buf: &mut [u8]) -> KResult<()> {
            Err(Errno::EFAULT)
        }
        fn write_out(&mut self, _data: &[u8]) -> KResult<()> {
            Err(Errno::EFAULT)
        }
    }

    #[cfg(feature = "pty")]
    fn pty(vfs: &Vfs) -> Arc<PtyMaster> {
        let pts = vfs
            .lookup(&vfs.root(), "/dev/pts", FollowLast::Follow, &Cred::root())
            .unwrap();
        let node = PtsNode {
            perm: 0o620,
            uid: 0,
            gid: 5,
            max: u32::MAX,
        };
        open_pty(vfs, &pts, Timespec::default(), node).unwrap().0
    }

    #[cfg(feature = "pty")]
    #[test]
    fn devpts_options_parse_and_show_as_linux() {
        let d = DevptsOpts::parse("").unwrap();
        assert_eq!(d.shown(), "mode=600,ptmxmode=000");
        let o = DevptsOpts::parse("newinstance,gid=5,mode=0620,ptmxmode=666,uid=7,max=16").unwrap();
        assert_eq!(o.shown(), "uid=7,gid=5,mode=620,ptmxmode=666,max=16");
        for bad in ["bogus=1", "mode=9", "gid=x", "max=2000000", "newinstance=1"] {
            assert_eq!(DevptsOpts::parse(bad), Err(Errno::EINVAL), "{bad}");
        }
    }

    #[cfg(feature = "pty")]
    #[test]
    fn packet_mode_master_reads_state_changes_alone_then_data() {
        let (vfs, _) = setup();
        let m = pty(&vfs);
        let mut h = TestHost::default();
        let slave = m.slave_driver().unwrap();
        let mut b = [0u8; 8];
        m.ioctl(&mut h, TIOCPKT, &mut Arg(1i32.to_ne_bytes().to_vec()))
            .unwrap();
        slave.write(&mut h, 0, b"hi").unwrap();
        assert_eq!(m.read(&mut h, 0, &mut b), Ok(3));
        assert_eq!(&b[..3], b"\0hi");
        // Two changes before a read: one byte.
        slave.ioctl(&mut h, TCFLSH, &mut RawArg(TCIOFLUSH)).unwrap();
        slave
            .ioctl(&mut h, crate::tty::termios::TCXONC, &mut RawArg(0))
            .unwrap();
        assert!(m.poll(&mut h).contains(PollEvents::POLLPRI));
        assert_eq!(m.read(&mut h, 0, &mut b), Ok(1));
        let stop = TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE | TIOCPKT_STOP;
        assert_eq!(b[0], stop);
        assert_eq!(m.read(&mut h, 0, &mut b), Err(Errno::EAGAIN));
        assert!(!m.poll(&mut h).contains(PollEvents::POLLPRI));
        // ^Q typed: output starts again.
        m.write(&mut h, 0, b"\x11").unwrap();
        assert_eq!(m.read(&mut h, 0, &mut b), Ok(1));
        assert_eq!(b[0], TIOCPKT_START);
        // ^C typed: isig flushed both ways, then its echo.
        m.write(&mut h, 0, b"\x03").unwrap();
        assert_eq!(m.read(&mut h, 0, &mut b), Ok(1));
        assert_eq!(b[0], TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE);
        assert_eq!(m.read(&mut h, 0, &mut b), Ok(3));
        assert_eq!(&b[..3], b"\0^C");
        // Off: plain data.
        m.ioctl(&mut h, TIOCPKT, &mut Arg(0i32.to_ne_bytes().to_vec()))
            .unwrap();
        slave.write(&mut h, 0, b"z").unwrap();
        assert_eq!(m.read(&mut h, 0, &mut b), Ok(1));
        assert_eq!(b[0], b'z');
    }

    #[cfg(feature = "pty")]
    #[test]
    fn master_job_control_requests_act_on_the_slave() {
        let (vfs, _) = setup();
        let m = pty(&vfs);
        let mut h = TestHost::default();
        let leader = TtyCaller::new(7, 7, 7);
        let mut out = Arg(vec![0; 4]);
        assert_eq!(
            m.ioctl_as(&mut h, TIOCGSID, &mut out, &leader),
            Err(Errno::ENOTTY)
        );
        assert_eq!(m.ioctl_as(&mut h, TIOCGPGRP, &mut out, &leader), Ok(0));
        assert_eq!(out.0, 0i32.to_ne_bytes());
        assert_eq!(
            m.ioctl_as(&mut h, TIOCNOTTY, &mut out, &leader),
            Err(Errno::ENOTTY)
        );
        let pg = Arg(7i32.to_ne_bytes().to_vec());
        assert_eq!(
            m.ioctl_as(&mut h, TIOCSPGRP, &mut Arg(pg.0.clone()), &leader),
            Err(Errno::ENOTTY)
        );
        assert_eq!(
            m.ioctl_as(&mut h, umbra_abi::flags::TIOCSCTTY, &mut RawArg(0), &leader),
            Ok(0)
        );
        assert_eq!(m.slave_state().session(), 7);
        // Anyone may ask the master.
        let other = TtyCaller::new(9, 9, 9);
        assert_eq!(m.ioctl_as(&mut h, TIOCGSID, &mut out, &other), Ok(0));
        assert_eq!(out.0, 7i32.to_ne_bytes());
        assert_eq!(m.ioctl_as(&mut h, TIOCSIG, &mut RawArg(2), &other), Ok(0));
        assert_eq!(m.slave_state().take_signals(), vec![(7, SIGINT)]);
        assert_eq!(
            m.ioctl_as(&mut h, TIOCSIG, &mut RawArg(9), &other),
            Err(Errno::EINVAL)
        );
        // The master's own queues.
        m.slave_driver().unwrap().write(&mut h, 0, b"abc").unwrap();
        assert_eq!(m.ioctl(&mut h, FIONREAD, &mut out), Ok(0));
        assert_eq!(out.0, 3i32.to_ne_bytes());
        assert_eq!(m.ioctl(&mut h, TCFLSH, &mut RawArg(TCIFLUSH)), Ok(0));
        assert_eq!(m.ioctl(&mut h, FIONREAD, &mut out), Ok(0));
        assert_eq!(out.0, 0i32.to_ne_bytes());
        assert_eq!(m.ioctl(&mut h, TCFLSH, &mut RawArg(7)), Err(Errno::EINVAL));
    }
}
