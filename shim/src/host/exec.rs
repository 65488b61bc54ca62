//! OCI exec: the supervisor's control socket. `umbra exec` connects, sends
//! one request (the program, its environment and directory) with three
//! stream sockets for the process's stdio (SCM_RIGHTS), and gets back
//! `pid N` (or `error ERRNO`), then `exit WAITSTATUS` when the process ends.
//!
//! Request: `UMBRA-EXEC1\0ARGC\0ARG...\0ENVC\0ENV...\0CWD\0UID\0GID\0NGROUPS\0GROUP...\0`.

use super::net::NetState;
use crate::sys;
use crate::sys::signals::PollFd;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use umbra_core::host::ExecRequest;

/// The largest request (arguments and environment together).
const MAX_REQUEST: usize = 256 << 10;

struct Client {
    fd: OwnedFd,
    id: u64,
    /// Its request was taken; no more reads.
    asked: bool,
    /// The guest pid of its process, once started.
    pid: Option<u32>,
}

pub(super) struct ExecCtl {
    listener: OwnedFd,
    clients: Vec<Client>,
    next_id: u64,
    ready: Vec<ExecRequest>,
}

/// What a request asks for: argv, envp, cwd, uid, gid, groups.
pub type Request = (Vec<String>, Vec<String>, String, u32, u32, Vec<u32>);

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
    (argv.len() == argc
        && envp.len() == envc
        && groups.len() == ngroups
        && !argv.is_empty()
        && cwd.starts_with('/'))
    .then_some((argv, envp, cwd, uid, gid, groups))
}

/// Encodes a request as `parse_request` reads it.
pub fn encode_request(r: &Request) -> Vec<u8> {
    let (argv, envp, cwd, uid, gid, groups) = r;
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
    out
}

impl ExecCtl {
    pub(super) fn new(listener: OwnedFd) -> ExecCtl {
        ExecCtl {
            listener,
            clients: Vec::new(),
            next_id: 1,
            ready: Vec::new(),
        }
    }

    pub(super) fn poll_set(&self, fds: &mut Vec<PollFd>) {
        fds.push(PollFd::new(self.listener.as_raw_fd(), sys::POLLIN));
        for c in self.clients.iter().filter(|c| !c.asked) {
            fds.push(PollFd::new(c.fd.as_raw_fd(), sys::POLLIN));
        }
    }

    /// After a wait: accepts new clients and reads their requests; the
    /// sockets a request brings become `net`'s. Returns whether a request
    /// is ready for the kernel.
    pub(super) fn ready(&mut self, fds: &[PollFd], net: &mut NetState) -> bool {
        for p in fds.iter().filter(|p| p.revents() != 0) {
            if p.fd() == self.listener.as_raw_fd() {
                while let Ok(fd) = sys::oci::accept(self.listener.as_raw_fd()) {
                    self.clients.push(Client {
                        fd,
                        id: self.next_id,
                        asked: false,
                        pid: None,
                    });
                    self.next_id += 1;
                }
                continue;
            }
            let Some(i) = self.clients.iter().position(|c| c.fd.as_raw_fd() == p.fd()) else {
                continue;
            };
            let mut buf = vec![0u8; MAX_REQUEST];
            match sys::oci::recv_fds(p.fd(), &mut buf, 3) {
                Ok((n, stdio)) if n > 0 => {
                    let c = &mut self.clients[i];
                    c.asked = true;
                    match (parse_request(&buf[..n]), <[OwnedFd; 3]>::try_from(stdio)) {
                        (Some((argv, envp, cwd, uid, gid, groups)), Ok(stdio)) => {
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
        !self.ready.is_empty()
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

    pub(super) fn exited(&mut self, pid: u32, wait_status: u32) {
        if let Some(i) = self.clients.iter().position(|c| c.pid == Some(pid)) {
            let c = self.clients.remove(i);
            let _ = sys::write_all(c.fd.as_raw_fd(), format!("exit {wait_status}\n").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{encode_request, parse_request};

    #[test]
    fn requests_round_trip_and_bad_ones_are_refused() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo a b".into()];
        let envp = vec!["PATH=/bin".to_string()];
        let r = (argv, envp, "/tmp".to_string(), 1000, 1001, vec![10, 20]);
        assert_eq!(parse_request(&encode_request(&r)), Some(r));
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
            b"OTHER\0",
        ] {
            assert_eq!(parse_request(bad), None, "{bad:?}");
        }
    }
}
