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
}

/// The process to run: process.json, or the container's process with the
/// command line's arguments, environment and directory.
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

/// `exec`: the exit code (when not detached, the process's).
pub fn exec(g: &Global, o: &ExecOpts) -> Result<u8, String> {
    let dir = state::container_dir(&g.root, &o.id);
    let rec = Record::load(&dir, &o.id)?;
    if rec.status(&dir) != Status::Running {
        return Err(format!(
            "cannot exec in a container that is not running: {}",
            o.id
        ));
    }
    let p = process(o, &rec)?;
    if p.terminal {
        g.warn("exec with a terminal: the guest process's stdio are not a tty under umbra");
    }
    let pairs = (0..3)
        .map(|_| os::socketpair())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("socketpair: {e}"))?;
    let (mine, theirs): (Vec<OwnedFd>, Vec<OwnedFd>) = pairs.into_iter().unzip();
    let sock = dir.join("exec.sock");
    let conn = super::state::sock_addr(&sock)
        .and_then(|a| std::os::unix::net::UnixStream::connect(&a.path).map_err(|e| e.to_string()))
        .map_err(|e| {
            format!(
                "cannot reach the container's supervisor at {}: {e}",
                sock.display()
            )
        })?;
    let req = umbra_shim::host::exec::encode_request(&(
        p.args.clone(),
        p.env.clone(),
        p.cwd.clone(),
        p.uid,
        p.gid,
        p.additional_gids.clone(),
    ));
    let fds: Vec<i32> = theirs.iter().map(AsRawFd::as_raw_fd).collect();
    os::send_fds(conn.as_raw_fd(), &req, &fds).map_err(|e| format!("exec request: {e}"))?;
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
    // The terminal the caller asked for: a pty whose master goes to the
    // console socket; the relay uses its slave.
    let tty = match (&o.console_socket, p.terminal) {
        (Some(s), true) => {
            let c = super::state::sock_addr(s)
                .and_then(|a| {
                    std::os::unix::net::UnixStream::connect(&a.path).map_err(|e| e.to_string())
                })
                .map_err(|e| format!("console socket {}: {e}", s.display()))?;
            let (master, slave) = umbra_shim::sys::signals::open_pty()
                .map_err(|e| format!("cannot open a pseudo-terminal: {e}"))?;
            os::send_fds(c.as_raw_fd(), b"/dev/ptmx", &[master.as_raw_fd()])
                .map_err(|e| format!("cannot send the terminal: {e}"))?;
            Some(slave)
        }
        _ => None,
    };
    let (input, out, err) = match &tty {
        Some(t) => (t.as_raw_fd(), t.as_raw_fd(), t.as_raw_fd()),
        None => (0, 1, 2),
    };
    if o.detach {
        match os::fork().map_err(|e| format!("fork: {e}"))? {
            os::Forked::Child => {
                let _ = os::setsid();
                relay(&mine, reader, input, out, err)
            }
            os::Forked::Parent(pid) => {
                if let Some(pf) = &o.pid_file {
                    write_pid(pf, pid)?;
                }
                return Ok(0);
            }
        }
    }
    if let Some(pf) = &o.pid_file {
        write_pid(pf, umbra_shim::sys::getpid())?;
    }
    relay(&mine, reader, input, out, err)
}

fn write_pid(path: &std::path::Path, pid: i32) -> Result<(), String> {
    let tmp = path.with_extension("umbra-tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write the pid file {}: {e}", path.display()))
}

/// Copies `input` to the process's stdin and its stdout and stderr to `out`
/// and `err` until it ends; exits as it ended.
fn relay(
    mine: &[OwnedFd],
    mut reader: std::io::BufReader<&std::os::unix::net::UnixStream>,
    input: i32,
    out: i32,
    err: i32,
) -> ! {
    use umbra_shim::sys::{poll_fd, POLLIN};
    let conn = reader.get_ref().as_raw_fd();
    let (s0, s1, s2) = (
        mine[0].as_raw_fd(),
        mine[1].as_raw_fd(),
        mine[2].as_raw_fd(),
    );
    let mut in_open = true;
    let mut open = [true, true];
    let mut status: Option<u32> = None;
    let mut idle_after_exit = 0;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let mut moved = false;
        // The process's output.
        for (i, (from, to)) in [(s1, out), (s2, err)].into_iter().enumerate() {
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
        // Our input.
        if in_open && status.is_none() && poll_fd(input, POLLIN, 0).unwrap_or(0) != 0 {
            match umbra_shim::sys::read(input, &mut buf) {
                Ok(0) | Err(_) => {
                    in_open = false;
                    os::shutdown_write(s0);
                }
                Ok(n) => {
                    if umbra_shim::sys::write_all(s0, &buf[..n]).is_err() {
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
            if !open[0] && !open[1] || idle_after_exit > 5 {
                let _ = std::io::stdout().flush();
                let sig = (ws & 0x7f) as i32;
                if sig != 0 {
                    os::die_of_signal(sig, false);
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
                [s1, s2]
                    .iter()
                    .zip(open)
                    .filter(|(_, o)| *o)
                    .map(|(f, _)| *f),
            );
            if in_open && status.is_none() {
                fds.push(input);
            }
            let _ = os::poll_any(&fds, 50);
        }
    }
}
