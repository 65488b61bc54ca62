//! OCI exec: the supervisor's control socket. `umbra exec` connects, sends
//! one request (the program, its environment and directory) with three
//! stream sockets for the process's stdio (SCM_RIGHTS), and gets back
//! `pid N` (or `error ERRNO`), then `exit WAITSTATUS` when the process ends.
//! Meanwhile it may send lines `signal N` (a signal it got, for the
//! process); with `--tty`, the terminal's size goes in band with the input
//! (umbra_core::host::ExecRequest);
//! when it goes away before the process ends, the process is killed
//! (SIGKILL), as the process itself would be under runc.
//!
//! Request: `UMBRA-EXEC1\0ARGC\0ARG...\0ENVC\0ENV...\0CWD\0UID\0GID\0NGROUPS\0GROUP...\0TTY\0`.
//!
//! The same socket takes `umbra kill` (`UMBRA-KILL1\0SIG\0ALL\0`), `pause`
//! and `resume` (`UMBRA-FREEZE1\0` then 1 or 0 and `\0`) and `umbra update
//! --pids-limit` (`UMBRA-PIDS1\0N\0`, N a number or `max`), each answered
//! `ok` once the kernel has it, and `umbra events` (`UMBRA-STATS1\0`),
//! answered with the kernel's counts (`stats_line`).

use super::net::NetState;
use crate::sys;
use crate::sys::signals::PollFd;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use umbra_core::host::{ExecRequest, GuestRequest, GuestStats};

/// The largest request (arguments and environment together).
const MAX_REQUEST: usize = 256 << 10;

struct Client {
    fd: OwnedFd,
    id: u64,
    /// Its request was taken; now only lines are read.
    asked: bool,
    /// The guest pid of its process, once started.
    pid: Option<u32>,
    /// A line read in part.
    line: Vec<u8>,
}

pub(super) struct ExecCtl {
    listener: OwnedFd,
    clients: Vec<Client>,
    next_id: u64,
    ready: Vec<ExecRequest>,
    requests: Vec<GuestRequest>,
}

/// What a request asks for: argv, envp, cwd, uid, gid, groups, tty.
pub type Request = (Vec<String>, Vec<String>, String, u32, u32, Vec<u32>, bool);

/// Parses a kill or freeze request.
pub fn parse_other(b: &[u8]) -> Option<GuestRequest> {
    let field = |rest: &[u8], n: usize| -> Option<u32> {
        let f = rest.split(|&c| c == 0).nth(n)?;
        std::str::from_utf8(f).ok()?.parse().ok()
    };
    if let Some(rest) = b.strip_prefix(b"UMBRA-KILL1\0") {
        let sig = field(rest, 0).filter(|s| (1..=64).contains(s))?;
        let all = field(rest, 1).filter(|a| *a <= 1)? == 1;
        return Some(GuestRequest::Kill { sig, all });
    }
    if let Some(rest) = b.strip_prefix(b"UMBRA-PIDS1\0") {
        let f = rest.split(|&c| c == 0).next()?;
        if f == b"max" {
            return Some(GuestRequest::PidsLimit(None));
        }
        return Some(GuestRequest::PidsLimit(Some(field(rest, 0)?)));
    }
    let rest = b.strip_prefix(b"UMBRA-FREEZE1\0")?;
    let on = field(rest, 0).filter(|a| *a <= 1)? == 1;
    Some(GuestRequest::Freeze(on))
}

/// `umbra events`' request; the answer is one line, [`stats_line`].
pub const STATS_REQUEST: &[u8] = b"UMBRA-STATS1\0";

/// Encodes `umbra update --pids-limit`'s request (None: no limit).
pub fn encode_pids_limit(limit: Option<u32>) -> Vec<u8> {
    match limit {
        Some(n) => format!("UMBRA-PIDS1\0{n}\0").into_bytes(),
        None => b"UMBRA-PIDS1\0max\0".to_vec(),
    }
}

/// The answer to a stats request: `stats TASKS LIMIT|max USED TOTAL MAX
/// FAILCNT`.
pub fn stats_line(s: &GuestStats) -> String {
    let limit = s.tasks_limit.map_or("max".to_string(), |l| l.to_string());
    format!(
        "stats {} {limit} {} {} {} {}\n",
        s.tasks, s.mem_used, s.mem_total, s.mem_max, s.mem_failcnt
    )
}

/// Parses [`stats_line`]'s line.
pub fn parse_stats_line(line: &str) -> Option<GuestStats> {
    let mut w = line.trim().strip_prefix("stats ")?.split_ascii_whitespace();
    let tasks = w.next()?.parse().ok()?;
    let tasks_limit = match w.next()? {
        "max" => None,
        n => Some(n.parse().ok()?),
    };
    let mem_used = w.next()?.parse().ok()?;
    let mem_total = w.next()?.parse().ok()?;
    let mem_max = w.next()?.parse().ok()?;
    let mem_failcnt = w.next()?.parse().ok()?;
    w.next().is_none().then_some(GuestStats {
        tasks,
        tasks_limit,
        mem_used,
        mem_total,
        mem_max,
        mem_failcnt,
    })
}

/// Encodes `umbra kill`'s request.
pub fn encode_kill(sig: u32, all: bool) -> Vec<u8> {
    format!("UMBRA-KILL1\0{sig}\0{}\0", u8::from(all)).into_bytes()
}

/// Encodes `pause` (true) or `resume`'s request.
pub fn encode_freeze(on: bool) -> Vec<u8> {
    format!("UMBRA-FREEZE1\0{}\0", u8::from(on)).into_bytes()
}

/// Parses a line an exec client sends while its process runs.
fn parse_line(pid: u32, line: &[u8]) -> Option<GuestRequest> {
    let text = std::str::from_utf8(line).ok()?;
    let mut w = text.split_ascii_whitespace();
    let req = match w.next()? {
        "signal" => GuestRequest::SignalExec {
            pid,
            sig: w.next()?.parse().ok().filter(|s| (1..=64).contains(s))?,
        },
        _ => return None,
    };
    w.next().is_none().then_some(req)
}

/// Parses a request's bytes.
pub fn parse_request(b: &[u8]) -> Option<Request> {
    let rest = b.strip_prefix(b"UMBRA-EXEC1\0")?;
    let mut it = rest.split(|&c| c == 0);
    let mut text = || String::from_utf8(it.next()?.to_vec()).ok();
    let argc: usize = text()?.parse().ok()?;
    let mut argv = Vec::new();
    for _ in 0..argc.min(4096) {
        argv.push(text()?);
    }
    let envc: usize = text()?.parse().ok()?;
    let mut envp = Vec::new();
    for _ in 0..envc.min(4096) {
        envp.push(text()?);
    }
    let cwd = text()?;
    let uid: u32 = text()?.parse().ok()?;
    let gid: u32 = text()?.parse().ok()?;
    let ngroups: usize = text()?.parse().ok()?;
    let mut groups = Vec::new();
    for _ in 0..ngroups.min(1024) {
        groups.push(text()?.parse().ok()?);
    }
    let tty = match text()?.as_str() {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    (argv.len() == argc
        && envp.len() == envc
        && groups.len() == ngroups
        && !argv.is_empty()
        && cwd.starts_with('/'))
    .then_some((argv, envp, cwd, uid, gid, groups, tty))
}

/// Encodes a request as `parse_request` reads it.
pub fn encode_request(r: &Request) -> Vec<u8> {
    let (argv, envp, cwd, uid, gid, groups, tty) = r;
    let mut out = b"UMBRA-EXEC1\0".to_vec();
    let mut put = |s: &str| {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    };
    put(&argv.len().to_string());
    argv.iter().for_each(|a| put(a));
    put(&envp.len().to_string());
    envp.iter().for_each(|e| put(e));
    put(cwd);
    put(&uid.to_string());
    put(&gid.to_string());
    put(&groups.len().to_string());
    groups.iter().for_each(|g| put(&g.to_string()));
    put(if *tty { "1" } else { "0" });
    out
}

impl ExecCtl {
    pub(super) fn new(listener: OwnedFd) -> ExecCtl {
        ExecCtl {
            listener,
            clients: Vec::new(),
            next_id: 1,
            ready: Vec::new(),
            requests: Vec::new(),
        }
    }

    pub(super) fn poll_set(&self, fds: &mut Vec<PollFd>) {
        fds.push(PollFd::new(self.listener.as_raw_fd(), sys::POLLIN));
        // Clients whose process is starting are not read until it has.
        for c in self.clients.iter().filter(|c| !c.asked || c.pid.is_some()) {
            fds.push(PollFd::new(c.fd.as_raw_fd(), sys::POLLIN));
        }
    }

    /// Reads what client `fd` sent: its request, or lines once asked.
    fn serve_client(&mut self, fd: i32, net: &mut NetState) {
        let Some(i) = self.clients.iter().position(|c| c.fd.as_raw_fd() == fd) else {
            return;
        };
        if self.clients[i].asked {
            if !self.read_lines(i) {
                self.clients.remove(i);
            }
            return;
        }
        let mut buf = vec![0u8; MAX_REQUEST];
        match sys::oci::recv_fds(fd, &mut buf, 3) {
            Ok((n, stdio)) if n > 0 => {
                let c = &mut self.clients[i];
                c.asked = true;
                if &buf[..n] == STATS_REQUEST {
                    // Answered when the kernel has counted (`stats`).
                    self.requests.push(GuestRequest::Stats { client: c.id });
                    return;
                }
                if let Some(r) = parse_other(&buf[..n]) {
                    self.requests.push(r);
                    let _ = sys::write_all(c.fd.as_raw_fd(), b"ok\n");
                    self.clients.remove(i);
                    return;
                }
                match (parse_request(&buf[..n]), <[OwnedFd; 3]>::try_from(stdio)) {
                    (Some((argv, envp, cwd, uid, gid, groups, tty)), Ok(stdio)) => {
                        let stdio = stdio.map(|fd| net.adopt_stream(fd.into_raw_fd()));
                        self.ready.push(ExecRequest {
                            id: c.id,
                            argv,
                            envp,
                            cwd,
                            stdio,
                            uid,
                            gid,
                            groups,
                            tty,
                        });
                    }
                    _ => {
                        let _ = sys::write_all(c.fd.as_raw_fd(), b"error 22\n");
                        self.clients.remove(i);
                    }
                }
            }
            Err(sys::Errno::EAGAIN) => {}
            _ => {
                self.clients.remove(i);
            }
        }
    }

    /// Reads the lines of a client whose process runs; false when it went
    /// away (its process is then killed).
    fn read_lines(&mut self, i: usize) -> bool {
        let c = &mut self.clients[i];
        let Some(pid) = c.pid else {
            return true;
        };
        let mut buf = [0u8; 512];
        match sys::read(c.fd.as_raw_fd(), &mut buf) {
            Ok(0) => {
                self.requests.push(GuestRequest::SignalExec { pid, sig: 9 });
                false
            }
            Ok(n) => {
                c.line.extend_from_slice(&buf[..n]);
                while let Some(end) = c.line.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = c.line.drain(..=end).collect();
                    if let Some(r) = parse_line(pid, &line[..end]) {
                        self.requests.push(r);
                    }
                }
                // A client that sends no newline is not kept waiting for one.
                if c.line.len() > 256 {
                    c.line.clear();
                }
                true
            }
            Err(sys::Errno::EAGAIN) | Err(sys::Errno::EINTR) => true,
            Err(_) => {
                self.requests.push(GuestRequest::SignalExec { pid, sig: 9 });
                false
            }
        }
    }

    /// After a wait: accepts new clients and reads their requests; the
    /// sockets a request brings become `net`'s. Returns whether a request
    /// is ready for the kernel.
    pub(super) fn ready(&mut self, fds: &[PollFd], net: &mut NetState) -> bool {
        let mut to_read: Vec<i32> = Vec::new();
        for p in fds.iter().filter(|p| p.revents() != 0) {
            if p.fd() != self.listener.as_raw_fd() {
                to_read.push(p.fd());
                continue;
            }
            while let Ok(fd) = sys::oci::accept(self.listener.as_raw_fd()) {
                // Its request is most likely there already: read it now
                // rather than at the next wait.
                to_read.push(fd.as_raw_fd());
                self.clients.push(Client {
                    fd,
                    id: self.next_id,
                    asked: false,
                    pid: None,
                    line: Vec::new(),
                });
                self.next_id += 1;
            }
        }
        for fd in to_read {
            self.serve_client(fd, net);
        }
        !self.ready.is_empty() || !self.requests.is_empty()
    }

    pub(super) fn take_request(&mut self) -> Option<GuestRequest> {
        (!self.requests.is_empty()).then(|| self.requests.remove(0))
    }

    pub(super) fn take(&mut self) -> Option<ExecRequest> {
        if self.ready.is_empty() {
            None
        } else {
            Some(self.ready.remove(0))
        }
    }

    pub(super) fn started(&mut self, id: u64, r: Result<u32, umbra_core::Errno>) {
        let Some(i) = self.clients.iter().position(|c| c.id == id) else {
            return;
        };
        match r {
            Ok(pid) => {
                self.clients[i].pid = Some(pid);
                let _ = sys::write_all(
                    self.clients[i].fd.as_raw_fd(),
                    format!("pid {pid}\n").as_bytes(),
                );
            }
            Err(e) => {
                let _ = sys::write_all(
                    self.clients[i].fd.as_raw_fd(),
                    format!("error {}\n", e.0).as_bytes(),
                );
                self.clients.remove(i);
            }
        }
    }

    /// The kernel's answer to client `id`'s stats request.
    pub(super) fn stats(&mut self, id: u64, s: &GuestStats) {
        if let Some(i) = self.clients.iter().position(|c| c.id == id) {
            let c = self.clients.remove(i);
            let _ = sys::write_all(c.fd.as_raw_fd(), stats_line(s).as_bytes());
        }
    }

    pub(super) fn exited(&mut self, pid: u32, wait_status: u32) {
        if let Some(i) = self.clients.iter().position(|c| c.pid == Some(pid)) {
            let c = self.clients.remove(i);
            let _ = sys::write_all(c.fd.as_raw_fd(), format!("exit {wait_status}\n").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        encode_freeze, encode_kill, encode_pids_limit, parse_line, parse_other, parse_request,
        parse_stats_line, stats_line, GuestStats,
    };
    use super::{encode_request, GuestRequest};

    #[test]
    fn kill_freeze_and_client_lines_parse() {
        for (sig, all) in [(15, false), (1, true), (64, false)] {
            assert_eq!(
                parse_other(&encode_kill(sig, all)),
                Some(GuestRequest::Kill { sig, all })
            );
        }
        for on in [true, false] {
            assert_eq!(
                parse_other(&encode_freeze(on)),
                Some(GuestRequest::Freeze(on))
            );
        }
        for limit in [Some(0), Some(5), Some(u32::MAX), None] {
            assert_eq!(
                parse_other(&encode_pids_limit(limit)),
                Some(GuestRequest::PidsLimit(limit))
            );
        }
        let st = GuestStats {
            tasks: 3,
            tasks_limit: Some(40),
            mem_used: 1 << 20,
            mem_total: 1 << 30,
            mem_max: 3 << 20,
            mem_failcnt: 2,
        };
        assert_eq!(parse_stats_line(&stats_line(&st)), Some(st));
        let unlimited = GuestStats {
            tasks_limit: None,
            ..st
        };
        assert_eq!(parse_stats_line(&stats_line(&unlimited)), Some(unlimited));
        assert_eq!(parse_stats_line("stats 1 max 2"), None);
        for bad in [
            &b"UMBRA-PIDS1\x00-1\0"[..],
            b"UMBRA-PIDS1\0",
            &b"UMBRA-KILL1\x000\x000\0"[..],
            b"UMBRA-KILL1\x0065\x000\0",
            b"UMBRA-KILL1\x0015\x002\0",
            b"UMBRA-KILL1\x0015\0",
            b"UMBRA-FREEZE1\x002\0",
            b"UMBRA-FREEZE1\0",
            b"UMBRA-EXEC1\0",
        ] {
            assert_eq!(parse_other(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_line(7, b"signal 10"),
            Some(GuestRequest::SignalExec { pid: 7, sig: 10 })
        );
        for bad in [
            &b"signal 0"[..],
            b"signal 65",
            b"signal 1 2",
            b"signal",
            b"x 1",
        ] {
            assert_eq!(parse_line(7, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn requests_round_trip_and_bad_ones_are_refused() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo a b".into()];
        let envp = vec!["PATH=/bin".to_string()];
        for tty in [false, true] {
            let r = (
                argv.clone(),
                envp.clone(),
                "/tmp".to_string(),
                1000,
                1001,
                vec![10, 20],
                tty,
            );
            assert_eq!(parse_request(&encode_request(&r)), Some(r));
        }
        for bad in [
            &b""[..],
            b"UMBRA-EXEC1\0",
            b"UMBRA-EXEC1\x001\0sh\0",
            b"UMBRA-EXEC1\x002\0sh\x000\0/\0",
            b"UMBRA-EXEC1\x000\x000\0/\0",
            b"UMBRA-EXEC1\x001\0sh\x000\0rel\x000\x000\x000\0",
            b"UMBRA-EXEC1\x001\0sh\x000\0/\0",
            b"UMBRA-EXEC1\x001\0sh\x000\0/\x000\x000\x002\x001\0",
            b"UMBRA-EXEC1\x00x\0",
            b"UMBRA-EXEC1\x001\0sh\x000\0/\x000\x000\x000\x002\0",
            b"UMBRA-EXEC1\x001\0sh\x000\0/\x000\x000\x000\0",
            b"OTHER\0",
        ] {
            assert_eq!(parse_request(bad), None, "{bad:?}");
        }
    }
}
