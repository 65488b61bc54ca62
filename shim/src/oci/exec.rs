//! `umbra exec`: runs a process inside a running container's guest. The
//! request goes to the supervisor's control socket (`ID/exec.sock`, see
//! umbra_shim::host::exec) with three socket pairs' ends as the process's
//! stdio; this process relays its own stdin, stdout and stderr through the
//! other ends and ends as the guest process ends (its exit code, or its
//! fatal signal re-raised). With `--detach` the relay goes on in a child,
//! whose pid `--pid-file` names (conmon waits on it).

use super::spec::Process;
use super::state::{self, Record, Status};
use super::Global;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use umbra_core::host::TTY_ESC;
use umbra_shim::sys::oci as os;

pub struct ExecOpts {
    pub id: String,
    /// `--process FILE`, else the command line's.
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub tty: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub user: Option<String>,
    /// `--ignore-paused`: start it in a paused container (it runs at
    /// `resume`).
    pub ignore_paused: bool,
}

/// The process to run: process.json, or the container's process with the
/// command line's arguments, environment and directory.
#[inline(never)]
fn process(o: &ExecOpts, rec: &Record) -> Result<Process, String> {
    if let Some(p) = &o.process {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("--process {}: {e}", p.display()))?;
        let v = super::json::parse(&text).map_err(|e| format!("--process: {e}"))?;
        return super::spec::parse_process(&v);
    }
    let base = super::container::load_spec(std::path::Path::new(&rec.bundle))?;
    let mut p = base.process;
    if o.args.is_empty() {
        return Err("exec: no command given".into());
    }
    p.args = o.args.clone();
    p.env.extend(o.env.iter().cloned());
    if let Some(c) = &o.cwd {
        p.cwd = c.clone();
    }
    p.terminal = o.tty;
    if let Some(u) = &o.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        p.uid = uid
            .parse()
            .map_err(|_| format!("--user: bad uid '{uid}'"))?;
        p.gid = gid
            .parse()
            .map_err(|_| format!("--user: bad gid '{gid}'"))?;
    }
    Ok(p)
}

/// Signals `umbra exec` passes on to its process, as runc's exec does (all
/// it can catch but SIGCHLD, SIGWINCH, SIGURG and SIGPIPE, and the CPU's
/// faults, which would be this process's own).
const FORWARDED: &[i32] = &[
    1, 2, 3, 6, 10, 12, 14, 15, 16, 18, 20, 21, 22, 24, 25, 26, 27, 29, 30, 34, 35, 36, 37, 38, 39,
    40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
    64,
];

/// The terminal `exec --tty` bridges the process's guest terminal to.
struct HostTty {
    /// The pty slave whose master went to the console socket, or None for
    /// this process's own stdin and stdout.
    slave: Option<OwnedFd>,
    /// This process's terminal was put in raw mode.
    raw: bool,
}

impl HostTty {
    fn fd_in(&self) -> i32 {
        self.slave.as_ref().map_or(0, AsRawFd::as_raw_fd)
    }
    fn fd_out(&self) -> i32 {
        self.slave.as_ref().map_or(1, AsRawFd::as_raw_fd)
    }
}

/// Opens the terminal for `exec --tty`: a new pty whose master goes to the
/// console socket, raw (the guest's line discipline does the cooking);
/// without a socket, this process's own terminal, in raw mode while it runs.
#[inline(never)]
fn host_tty(g: &Global, o: &ExecOpts) -> Result<HostTty, String> {
    let Some(s) = &o.console_socket else {
        let raw = umbra_shim::sys::signals::tty_enter_raw()
            .map_err(|e| format!("cannot put the terminal in raw mode: {e}"))?;
        if !raw {
            g.warn("exec --tty: stdin is not a terminal; the process's terminal is bridged to stdin and stdout");
        }
        return Ok(HostTty { slave: None, raw });
    };
    let c = super::state::sock_addr(s)
        .and_then(|a| std::os::unix::net::UnixStream::connect(&a.path).map_err(|e| e.to_string()))
        .map_err(|e| format!("console socket {}: {e}", s.display()))?;
    let (master, slave) = umbra_shim::sys::signals::open_pty()
        .map_err(|e| format!("cannot open a pseudo-terminal: {e}"))?;
    use umbra_shim::sys::signals::{make_raw, tcgets, tcsets};
    let mut t = tcgets(slave.as_raw_fd()).map_err(|e| format!("pty: {e}"))?;
    make_raw(&mut t);
    tcsets(slave.as_raw_fd(), &t).map_err(|e| format!("pty: {e}"))?;
    os::send_fds(c.as_raw_fd(), b"/dev/ptmx", &[master.as_raw_fd()])
        .map_err(|e| format!("cannot send the terminal: {e}"))?;
    Ok(HostTty {
        slave: Some(slave),
        raw: false,
    })
}

/// `exec`: the exit code (when not detached, the process's).
#[inline(never)]
pub fn exec(g: &Global, o: &ExecOpts) -> Result<u8, String> {
    let dir = state::container_dir(&g.root, &o.id);
    let rec = Record::load(&dir, &o.id)?;
    match rec.status(&dir) {
        Status::Running => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => {
            return Err(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            )
        }
        _ => {
            return Err(format!(
                "cannot exec in a container that is not running: {}",
                o.id
            ))
        }
    }
    let p = process(o, &rec)?;
    // runc's checks, in its words.
    if o.detach && p.terminal && o.console_socket.is_none() {
        return Err(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        );
    }
    if (!o.detach || !p.terminal) && o.console_socket.is_some() {
        return Err("cannot use console socket if runc will not detach or allocate tty".into());
    }
    let tty = if p.terminal {
        Some(host_tty(g, o)?)
    } else {
        None
    };
    let pairs = (0..3)
        .map(|_| os::socketpair())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("socketpair: {e}"))?;
    let (mine, theirs): (Vec<OwnedFd>, Vec<OwnedFd>) = pairs.into_iter().unzip();
    let conn = super::state::connect_supervisor(&dir)?;
    let req = umbra_shim::host::exec::encode_request(&(
        p.args.clone(),
        p.env.clone(),
        p.cwd.clone(),
        p.uid,
        p.gid,
        p.additional_gids.clone(),
        tty.is_some(),
    ));
    let fds: Vec<i32> = theirs.iter().map(AsRawFd::as_raw_fd).collect();
    os::send_fds(conn.as_raw_fd(), &req, &fds).map_err(|e| format!("exec request: {e}"))?;
    super::container::kick(rec.pid);
    drop(theirs);
    let mut reader = std::io::BufReader::new(&conn);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line)
        .map_err(|e| format!("exec: no answer from the supervisor: {e}"))?;
    if let Some(e) = line.trim().strip_prefix("error ") {
        let prog = p.args.first().cloned().unwrap_or_default();
        return match e.parse::<i32>().unwrap_or(0) {
            2 => Err(format!(
                "exec failed: unable to start container process: exec: \"{prog}\": executable file not found in $PATH"
            )),
            13 => Err(format!(
                "exec failed: unable to start container process: exec: \"{prog}\": permission denied"
            )),
            n => Err(format!("exec failed: {prog}: errno {n}")),
        };
    }
    if !line.starts_with("pid ") {
        return Err(format!("exec: unexpected answer '{}'", line.trim()));
    }
    if o.detach {
        match os::fork().map_err(|e| format!("fork: {e}"))? {
            os::Forked::Child => {
                let _ = os::setsid();
                relay(&mine, reader, tty.as_ref(), Ending::Signal, rec.pid)
            }
            os::Forked::Parent(pid) => {
                if let Some(pf) = &o.pid_file {
                    super::container::write_pid_file(pf, pid)?;
                }
                return Ok(0);
            }
        }
    }
    if let Some(pf) = &o.pid_file {
        super::container::write_pid_file(pf, umbra_shim::sys::getpid())?;
    }
    relay(&mine, reader, tty.as_ref(), Ending::Code, rec.pid)
}

/// How the relay ends when its process was killed by a signal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// exit(128 + N), as `runc exec` in the foreground.
    Code,
    /// Dies of it: with `--detach` the pid file names the relay, which
    /// stands for the process (under runc, the pid file names the process).
    Signal,
}

/// Copies the input to the process's stdin and its stdout and stderr out
/// (with a terminal, both ways over the first socket), passes on the
/// signals this process gets and the terminal's size, until the process
/// ends; exits as it ended.
fn relay(
    mine: &[OwnedFd],
    mut reader: std::io::BufReader<&std::os::unix::net::UnixStream>,
    tty: Option<&HostTty>,
    ending: Ending,
    supervisor: i32,
) -> ! {
    use umbra_shim::sys::{poll_fd, POLLIN};
    os::catch_signals(FORWARDED);
    let conn = reader.get_ref().as_raw_fd();
    let (s0, s1, s2) = (
        mine[0].as_raw_fd(),
        mine[1].as_raw_fd(),
        mine[2].as_raw_fd(),
    );
    // (from, to): the process's output.
    let outputs: Vec<(i32, i32)> = match tty {
        Some(t) => vec![(s0, t.fd_out())],
        None => vec![(s1, 1), (s2, 2)],
    };
    let input = tty.map_or(0, HostTty::fd_in);
    let mut in_open = true;
    let mut open = vec![true; outputs.len()];
    let mut status: Option<u32> = None;
    let mut idle_after_exit = 0;
    let mut winsize = None;
    // Signals caught go to the supervisor; the terminal's size, when it
    // changed, goes in band ahead of the input typed after it.
    let tell = |last: &mut Option<(u16, u16, u16, u16)>| {
        let caught = os::take_caught();
        let mut msg = String::new();
        for sig in (1..=64).filter(|s| caught & (1u64 << (s - 1)) != 0) {
            msg.push_str(&format!("signal {sig}\n"));
        }
        if !msg.is_empty() {
            let _ = umbra_shim::sys::write_all(conn, msg.as_bytes());
            super::container::kick(supervisor);
        }
        if let Some(t) = tty {
            let ws = umbra_shim::sys::winsize(t.fd_in());
            if let Some((r, c, _, _)) = ws.filter(|_| ws != *last) {
                let mut frame = vec![TTY_ESC, b'W'];
                frame.extend_from_slice(&r.to_be_bytes());
                frame.extend_from_slice(&c.to_be_bytes());
                let _ = umbra_shim::sys::write_all(s0, &frame);
            }
            *last = ws;
        }
    };
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let mut moved = false;
        if status.is_none() {
            tell(&mut winsize);
        }
        // The process's output.
        for (i, &(from, to)) in outputs.iter().enumerate() {
            if open[i] && poll_fd(from, POLLIN, 0).unwrap_or(0) != 0 {
                match umbra_shim::sys::read(from, &mut buf) {
                    Ok(0) | Err(_) => open[i] = false,
                    Ok(n) => {
                        let _ = umbra_shim::sys::write_all(to, &buf[..n]);
                        moved = true;
                    }
                }
            }
        }
        // Our input, after the size the terminal had when it was typed.
        if in_open && status.is_none() && poll_fd(input, POLLIN, 0).unwrap_or(0) != 0 {
            match umbra_shim::sys::read(input, &mut buf) {
                Ok(0) | Err(_) => {
                    in_open = false;
                    // A terminal's end (the console socket's pty master
                    // closed, or this process's own terminal hung up) hangs
                    // up the guest's terminal (SIGHUP to its session
                    // leader). Plain stdin at its end, with --tty, is not
                    // passed on: runc copies stdin to the pty master and
                    // leaves the master open.
                    if tty.is_none_or(|t| t.slave.is_some() || t.raw) {
                        os::shutdown_write(s0);
                    }
                }
                Ok(n) => {
                    tell(&mut winsize);
                    let sent = if tty.is_some() {
                        // The escape byte doubled (umbra_core::host::ExecRequest).
                        let mut esc = Vec::with_capacity(n + 8);
                        for &b in &buf[..n] {
                            esc.push(b);
                            if b == TTY_ESC {
                                esc.push(TTY_ESC);
                            }
                        }
                        umbra_shim::sys::write_all(s0, &esc)
                    } else {
                        umbra_shim::sys::write_all(s0, &buf[..n])
                    };
                    if sent.is_err() {
                        in_open = false;
                    }
                    moved = true;
                }
            }
        }
        // The status.
        let buffered = !reader.buffer().is_empty();
        if status.is_none() && (buffered || poll_fd(conn, POLLIN, 0).unwrap_or(0) != 0) {
            let mut line = String::new();
            match std::io::BufRead::read_line(&mut reader, &mut line) {
                Ok(0) | Err(_) => status = Some(255 << 8),
                Ok(_) => {
                    status = line
                        .trim()
                        .strip_prefix("exit ")
                        .and_then(|s| s.parse().ok())
                        .or(Some(255 << 8));
                }
            }
        }
        if let Some(ws) = status {
            if open.iter().all(|o| !o) || idle_after_exit > 5 {
                let _ = std::io::stdout().flush();
                if tty.is_some_and(|t| t.raw) {
                    umbra_shim::sys::signals::tty_restore_now();
                }
                let sig = (ws & 0x7f) as i32;
                if sig != 0 {
                    if ending == Ending::Signal {
                        os::die_of_signal(sig, false);
                    }
                    std::process::exit(128 + sig);
                }
                std::process::exit(((ws >> 8) & 0xff) as i32);
            }
            if !moved {
                idle_after_exit += 1;
            }
        }
        if !moved {
            // Wait for anything, a little while.
            let mut fds = if status.is_none() {
                vec![conn]
            } else {
                Vec::new()
            };
            fds.extend(
                outputs
                    .iter()
                    .zip(&open)
                    .filter(|(_, o)| **o)
                    .map(|(f, _)| f.0),
            );
            if in_open && status.is_none() {
                fds.push(input);
            }
            let _ = os::poll_any(&fds, 50);
        }
    }
}
