//! The host's requests for the guest from outside: OCI exec's processes
//! (`serve_exec`), and signals: `umbra kill` of an OCI container sends a
//! host signal to umbra, the shim records it (`Host::take_host_signals`),
//! and the kernel delivers it here to pid 1, as Linux delivers a signal from
//! an ancestor pid namespace to a container's init.

use super::{BootError, Kernel};
use crate::error::KResult;
use crate::fs::devfs;
use crate::fs::file::OpenFile;
use crate::fs::vfs::IoCtx;
use crate::host::{ConsoleRead, ConsoleStream, GuestRequest, GuestStats, Host, NetError, TTY_ESC};
use crate::net::{SockAddr, SocketFile, UnixAddr};
use crate::task::signal::{code, UNBLOCKABLE};
use crate::task::{Pid, SigInfo};
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;
use umbra_abi::flags::{OpenFlags, O_RDWR};
use umbra_abi::net::AF_UNIX;
use umbra_abi::signal::{NSIG, SIGKILL, SIGSTOP};
use umbra_abi::structs::Winsize;
use umbra_abi::Errno;

impl<H: Host> Kernel<H> {
    /// Delivers the signals the host took for the guest to pid 1. As Linux's
    /// `sig_task_ignored` for a sender outside the namespace: a signal whose
    /// action in init is the default is dropped, except SIGKILL and SIGSTOP
    /// (so SIGTERM does not stop an init that has no handler for it, as with
    /// runc).
    pub(super) fn deliver_host_signals(&mut self) {
        let set = self.host.take_host_signals();
        if set == 0 {
            return;
        }
        for sig in (1..=NSIG.min(64)).filter(|s| set & (1u64 << (s - 1)) != 0) {
            self.signal_init_from_outside(sig);
        }
    }

    /// `sig` to pid 1 from outside its pid namespace.
    fn signal_init_from_outside(&mut self, sig: u32) {
        let Some(p) = self.procs.get(&1) else {
            return;
        };
        let blocked = p.thread.sigmask.contains(sig) && !UNBLOCKABLE.contains(sig);
        let handled = p.sigactions[(sig - 1) as usize].has_handler();
        if sig != SIGKILL && sig != SIGSTOP && !blocked && !handled {
            return;
        }
        let info = SigInfo {
            signo: sig,
            code: code::SI_USER,
            ..SigInfo::default()
        };
        let _ = self.send_signal(1, sig, info);
    }
}

impl<H: Host> Kernel<H> {
    /// Starts the process an OCI exec asks for, if one waits: no parent (its
    /// status goes back through `Host::exec_exited`), a session of its own,
    /// and the request's host sockets as fds 0, 1 and 2.
    pub(super) fn serve_exec(&mut self) {
        let Some(req) = self.host.take_exec() else {
            return;
        };
        let unnamed = SockAddr::Unix(UnixAddr::Unnamed);
        let conns = req.stdio.map(|h| {
            crate::net::host::accepted(&self.net, h, AF_UNIX, unnamed.clone(), unnamed.clone())
        });
        let mut tty = None;
        let stdio = if req.tty {
            // One terminal on the first socket; the others close (their
            // host sockets with them).
            let link = Arc::new(ExecLink {
                conn: conns[0].clone(),
                input: Mutex::new(LinkInput::default()),
            });
            let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
            let (state, pts, files) = devfs::linked_tty_files(link, &self.vfs, now, self.cfg.pts);
            tty = Some((state, pts));
            files
        } else {
            conns.map(|c| {
                OpenFile::from_ops(SocketFile::new(c), OpenFlags::from_bits_retain(O_RDWR))
            })
        };
        let r = self
            .spawn_program(&req.argv, &req.envp, &req.cwd, &stdio)
            .inspect(|&pid| self.set_user(pid, req.uid, req.gid, &req.groups, false))
            .map_err(|e| match e {
                BootError::NotFound(_, e) | BootError::BadCwd(_, e) => e,
                BootError::BadExecutable(..) => Errno::ENOEXEC,
                _ => Errno::EINVAL,
            });
        match (&r, tty) {
            (Ok(pid), Some((state, pts))) => {
                // As runc's exec: the process leads a session of its own with
                // the terminal as its controlling terminal.
                state.set_session(*pid, *pid);
                self.exec_ttys.push(ExecTty {
                    pid: *pid,
                    state,
                    pts,
                    #[cfg(feature = "pty")]
                    dir: None,
                });
            }
            (Err(_), Some((_, Some(n)))) => {
                let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
                devfs::release_linked_tty(&self.vfs, n, now);
            }
            _ => {}
        }
        self.host.exec_started(req.id, r);
    }

    /// /dev/tty just opened by the current process: its session's
    /// controlling terminal (the console or an exec terminal), as Linux's
    /// /dev/tty; ENXIO when its session has none (tty_open_current_tty).
    /// Other files, and /dev/tty opened with O_PATH (no open of the
    /// device), are returned as they are. A terminal opened without
    /// `noctty` may become the caller's controlling terminal
    /// ([`Self::open_sets_ctty`]).
    pub(crate) fn dev_tty_of_caller(
        &mut self,
        file: Arc<OpenFile>,
        noctty: bool,
    ) -> KResult<Arc<OpenFile>> {
        if file.ops().is_some_and(|o| devfs::Ptmx::is(&**o)) && !file.is_path_only() {
            // A build without ptys has the node but no driver for it, as
            // Linux without CONFIG_UNIX98_PTYS (chrdev_open: ENXIO).
            #[cfg(not(feature = "pty"))]
            return Err(Errno::ENXIO);
            #[cfg(feature = "pty")]
            return self.open_ptmx(&file);
        }
        #[cfg(not(feature = "pty"))]
        let _ = noctty;
        let console = file.ops().and_then(|o| devfs::ConsoleFile::of(&**o));
        if let Some(c) = console.filter(|c| !c.is_dev_tty() && !file.is_path_only()) {
            // A pty slave whose master closed, or one still locked, does
            // not open (pty_open, devpts_get_priv).
            c.state().open_check()?;
            #[cfg(feature = "pty")]
            if !noctty
                && file.flags().bits() & umbra_abi::flags::O_ACCMODE != umbra_abi::flags::O_WRONLY
                && c.may_become_ctty(&self.host)
            {
                self.open_sets_ctty(c.state());
            }
        }
        let is_dev_tty = console.is_some_and(|c| c.is_dev_tty());
        if !is_dev_tty || file.is_path_only() {
            return Ok(file);
        }
        let sid = self.proc().sid;
        if sid == 0 {
            return Err(Errno::ENXIO);
        }
        if self.console.as_ref().is_some_and(|c| c.session() == sid) {
            return Ok(file);
        }
        let Some(t) = self.exec_ttys.iter().find(|t| t.state.session() == sid) else {
            return Err(Errno::ENXIO);
        };
        let ops = Arc::new(devfs::ConsoleFile::new(
            ConsoleStream::Stdout,
            ConsoleStream::Stdin,
            t.state.clone(),
        ));
        Ok(match file.path() {
            Some(p) => OpenFile::from_ops_at(ops, file.flags(), p),
            None => OpenFile::from_ops(ops, file.flags()),
        })
    }

    /// The terminal `sid`'s session controls, if any (the console, an
    /// exec terminal or a pty slave).
    #[cfg(feature = "pty")]
    pub(crate) fn ctty_of(&self, sid: Pid) -> Option<&Arc<devfs::ConsoleState>> {
        if sid == 0 {
            return None;
        }
        let execs = self.exec_ttys.iter().map(|t| &t.state);
        self.console
            .iter()
            .chain(execs)
            .find(|c| c.session() == sid)
    }

    /// A terminal opened for reading without O_NOCTTY by the current
    /// process (tty_open_proc_set_tty): it becomes the controlling terminal
    /// of the caller's session if the caller leads its session, the
    /// session has none, and the terminal is no session's.
    #[cfg(feature = "pty")]
    fn open_sets_ctty(&mut self, tty: &Arc<devfs::ConsoleState>) {
        let p = self.proc();
        let (pid, sid, pgid) = (p.pid, p.sid, p.pgid);
        if pid == sid && tty.session() == 0 && self.ctty_of(sid).is_none() {
            tty.set_session(sid, pgid);
        }
    }

    /// TIOCSCTTY's rules that need the kernel (tiocsctty): EPERM unless
    /// the caller leads its session and has no controlling terminal yet;
    /// another session's terminal is taken only with `arg` 1 and
    /// CAP_SYS_ADMIN; a file not open for reading needs CAP_SYS_ADMIN. The
    /// line discipline then does the rest.
    #[cfg(feature = "pty")]
    pub(crate) fn tiocsctty_check(
        &mut self,
        tty: &Arc<devfs::ConsoleState>,
        arg: u64,
        readable: bool,
    ) -> KResult<()> {
        let p = self.proc();
        let (pid, sid) = (p.pid, p.sid);
        let admin = p.creds.capable(crate::task::cred::CAP_SYS_ADMIN);
        let session = tty.session();
        if pid == sid && session == sid {
            return Ok(());
        }
        if pid != sid || self.ctty_of(sid).is_some() {
            return Err(Errno::EPERM);
        }
        if session != 0 && !(arg == 1 && admin) {
            return Err(Errno::EPERM);
        }
        if !readable && !admin {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    #[cfg(feature = "pty")]
    /// /dev/ptmx opened: a new pty pair (see [`devfs::open_pty`]); the
    /// kernel pumps its slave and delivers its signals as an exec
    /// terminal's (pid 0: no process owns it).
    fn open_ptmx(&mut self, file: &Arc<OpenFile>) -> KResult<Arc<OpenFile>> {
        let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
        let pts = self.pts_dir_of(file)?;
        let p = self.proc();
        let (fsuid, fsgid, euid) = (p.creds.fsuid, p.creds.fsgid, p.euid);
        let dev = pts.inode().metadata()?.dev;
        let node = match self.devpts.iter().find(|i| i.dev == dev).map(|i| i.opts) {
            Some(o) => devfs::PtsNode {
                perm: o.mode,
                uid: o.uid.unwrap_or(fsuid),
                gid: o.gid.unwrap_or(fsgid),
                max: o.max,
            },
            // umbra's own /dev/pts: the configured mode and group.
            None => devfs::PtsNode {
                perm: self.cfg.pts.perm,
                uid: euid,
                gid: self.cfg.pts.gid,
                max: u32::MAX,
            },
        };
        let (master, n) = devfs::open_pty(&self.vfs, &pts, now, node)?;
        self.exec_ttys.push(ExecTty {
            pid: 0,
            state: master.slave_state().clone(),
            pts: Some(n),
            dir: Some(master.dir().clone()),
        });
        Ok(match file.path() {
            Some(p) => OpenFile::from_ops_at(master, file.flags(), p),
            None => OpenFile::from_ops(master, file.flags()),
        })
    }

    /// The devpts directory an open of the ptmx `file` makes its pty in
    /// (devpts_acquire): the devpts instance the ptmx is in, else the one
    /// at "pts" beside it (/dev/ptmx: /dev/pts), else, for umbra's own
    /// /dev/pts (a plain directory), the directory named pts the ptmx is
    /// in, and failing all that /dev/pts.
    #[cfg(feature = "pty")]
    fn pts_dir_of(&self, file: &OpenFile) -> KResult<crate::fs::PathRef> {
        let cred = crate::fs::vfs::Cred::root();
        let Some(dir) = file.path().and_then(|p| p.parent()) else {
            return self.vfs.lookup(
                &self.vfs.root(),
                "/dev/pts",
                crate::fs::path::FollowLast::Follow,
                &cred,
            );
        };
        let dev = dir.inode().metadata()?.dev;
        if self.devpts.iter().any(|i| i.dev == dev) {
            return Ok(dir.clone());
        }
        let beside = self
            .vfs
            .lookup(dir, "pts", crate::fs::path::FollowLast::Follow, &cred);
        match beside {
            Ok(p) if p.is_dir() => Ok(p),
            _ if dir.name() == b"pts" => Ok(dir.clone()),
            _ => self.vfs.lookup(
                &self.vfs.root(),
                "/dev/pts",
                crate::fs::path::FollowLast::Follow,
                &cred,
            ),
        }
    }

    /// TIOCGPTPEER on a pty master (open as `file`): its slave opened with
    /// `flags` (O_RDWR, O_NOCTTY, O_CLOEXEC, O_NONBLOCK), as a new fd.
    /// ENODEV once the master's path no longer leads to its devpts
    /// instance (devpts_mntget), e.g. after that was unmounted.
    pub(crate) fn open_pty_peer(
        &mut self,
        file: &OpenFile,
        master: &devfs::PtyMaster,
        flags: u32,
    ) -> KResult<i32> {
        let cloexec = OpenFlags::O_CLOEXEC.bits();
        let allowed = umbra_abi::flags::O_ACCMODE
            | OpenFlags::O_NOCTTY.bits()
            | cloexec
            | OpenFlags::O_NONBLOCK.bits();
        if flags & !allowed != 0 {
            return Err(Errno::EINVAL);
        }
        #[cfg(feature = "pty")]
        if !self.pts_dir_of(file)?.same_place(master.dir()) {
            return Err(Errno::ENODEV);
        }
        #[cfg(not(feature = "pty"))]
        let _ = file;
        let driver = master.slave_driver().ok_or(Errno::EIO)?;
        driver.state().open_check()?;
        let cred = crate::fs::vfs::Cred::root();
        let name = alloc::format!("{}", master.index());
        let node = self.vfs.lookup(
            master.dir(),
            &name,
            crate::fs::path::FollowLast::NoFollow,
            &cred,
        )?;
        let fl = OpenFlags::from_bits_retain(flags & !cloexec);
        let f = OpenFile::from_ops_at(driver, fl, &node);
        let fdfl = if flags & cloexec != 0 {
            crate::task::fd_table::FdFlags::CLOEXEC
        } else {
            crate::task::fd_table::FdFlags::empty()
        };
        self.proc().fds.alloc(f, 0, fdfl)
    }

    /// An exec'd process ended: its terminal's node goes (its number is
    /// free again).
    pub(super) fn exec_tty_exited(&mut self, pid: Pid) {
        let Some(i) = self.exec_ttys.iter().position(|t| t.pid == pid) else {
            return;
        };
        let t = self.exec_ttys.remove(i);
        if let Some(n) = t.pts {
            let now = crate::fs::vfs::timespec_from_ns(self.host.now_real());
            devfs::release_linked_tty(&self.vfs, n, now);
        }
    }

    /// Serves what the host asks about running processes: signals from
    /// `umbra kill` and `umbra exec`, an exec terminal's size, pause and
    /// resume.
    pub(super) fn serve_guest_requests(&mut self) {
        while let Some(req) = self.host.take_guest_request() {
            let user = |sig| SigInfo {
                signo: sig,
                code: code::SI_USER,
                ..SigInfo::default()
            };
            match req {
                GuestRequest::Kill { sig, all } => {
                    if !(1..=NSIG.min(64)).contains(&sig) {
                        continue;
                    }
                    if all {
                        // runc's kill --all: every process of the container.
                        // The init still follows the rule for signals from
                        // outside its namespace.
                        let others: Vec<Pid> =
                            self.procs.keys().copied().filter(|&p| p != 1).collect();
                        for pid in others {
                            let _ = self.send_signal(pid, sig, user(sig));
                        }
                    }
                    self.signal_init_from_outside(sig);
                }
                GuestRequest::SignalExec { pid, sig } => {
                    if (1..=NSIG.min(64)).contains(&sig) && pid != 1 {
                        let _ = self.send_signal(pid, sig, user(sig));
                    }
                }
                GuestRequest::Freeze(on) => self.frozen = on,
                GuestRequest::Stats { client } => {
                    let page = crate::config::PAGE_SIZE as u64;
                    let stats = GuestStats {
                        tasks: self.task_count() as u64,
                        tasks_limit: self.cfg.pids_limit.map(|l| l as u64),
                        mem_used: self.frames.used() as u64 * page,
                        mem_total: self.frames.total() as u64 * page,
                        mem_max: self.frames.peak() as u64 * page,
                        mem_failcnt: self.frames.failures(),
                    };
                    self.host.guest_stats(client, stats);
                }
                GuestRequest::PidsLimit(l) => self.cfg.pids_limit = l.map(|l| l as usize),
            }
        }
    }
}

/// An OCI `exec --tty` process's terminal.
pub(super) struct ExecTty {
    pub(super) pid: Pid,
    pub(super) state: Arc<devfs::ConsoleState>,
    /// Its /dev/pts number (None once released).
    pub(super) pts: Option<u32>,
    /// A pty's devpts directory, where its number's node is (None: /dev/pts).
    #[cfg(feature = "pty")]
    pub(super) dir: Option<crate::fs::PathRef>,
}

/// The host side of an exec terminal: the stream socket `umbra exec`
/// bridges to the host pty, its input decoded as [`ExecRequest`] says.
struct ExecLink {
    conn: Arc<crate::net::host::HostConn>,
    input: Mutex<LinkInput>,
}

#[derive(Default)]
struct LinkInput {
    /// Received and not decoded yet (at most an escape in part).
    raw: Vec<u8>,
    /// A size decoded and not taken yet.
    winsize: Option<Winsize>,
    /// The socket is at its end.
    eof: bool,
}

impl LinkInput {
    /// Decodes `raw` into `buf` up to the next size: a size that comes
    /// first is taken (into `winsize`) and decoding goes on, so the input
    /// before a size is delivered before it and the input after it, after.
    fn decode(&mut self, buf: &mut [u8]) -> usize {
        let (mut i, mut n) = (0, 0);
        while i < self.raw.len() && n < buf.len() {
            let b = self.raw[i];
            if b != TTY_ESC {
                buf[n] = b;
                n += 1;
                i += 1;
                continue;
            }
            match self.raw.get(i + 1) {
                None => break,
                Some(&TTY_ESC) => {
                    buf[n] = TTY_ESC;
                    n += 1;
                    i += 2;
                }
                Some(&b'W') => {
                    let Some(f) = self.raw.get(i + 2..i + 6) else {
                        break;
                    };
                    if n > 0 {
                        break;
                    }
                    self.winsize = Some(Winsize {
                        ws_row: u16::from_be_bytes([f[0], f[1]]),
                        ws_col: u16::from_be_bytes([f[2], f[3]]),
                        ..Winsize::default()
                    });
                    i += 6;
                }
                // Not an escape umbra makes: dropped.
                Some(_) => i += 2,
            }
        }
        self.raw.drain(..i);
        n
    }
}

impl devfs::TtyLink for ExecLink {
    fn recv(&self, ctx: &mut dyn IoCtx, buf: &mut [u8]) -> KResult<ConsoleRead> {
        let mut st = self.input.lock();
        loop {
            let n = st.decode(buf);
            if n > 0 {
                return Ok(ConsoleRead::Data(n));
            }
            if st.eof {
                return Ok(ConsoleRead::Eof);
            }
            let hn = ctx.host_net().ok_or(Errno::EIO)?;
            let mut chunk = [0u8; 512];
            let want = buf.len().clamp(6, chunk.len());
            match hn.net_recv(self.conn.handle(), &mut chunk[..want], false) {
                Ok((0, ..)) => st.eof = true,
                Ok((n, ..)) => st.raw.extend_from_slice(&chunk[..n.min(want)]),
                Err(NetError::WouldBlock) => return Ok(ConsoleRead::WouldBlock),
                // Reset: the other end is gone, as a hang-up.
                Err(_) => st.eof = true,
            }
        }
    }

    fn take_winsize(&self) -> Option<Winsize> {
        self.input.lock().winsize.take()
    }

    fn send(&self, ctx: &mut dyn IoCtx, data: &[u8]) -> KResult<usize> {
        let hn = ctx.host_net().ok_or(Errno::EIO)?;
        match hn.net_send(self.conn.handle(), data, None) {
            Ok(n) => Ok(n),
            Err(NetError::WouldBlock) => Err(Errno::EAGAIN),
            Err(_) => Err(Errno::EIO),
        }
    }
}

impl<H: Host> Kernel<H> {
    /// Makes process `pid` (just spawned, as root) run as `uid`:`gid` with
    /// `groups` (OCI process.user), with no_new_privs if `nnp`. Leaving uid
    /// 0 drops the capabilities, as setresuid would.
    pub(super) fn set_user(
        &mut self,
        pid: crate::task::Pid,
        uid: u32,
        gid: u32,
        groups: &[u32],
        nnp: bool,
    ) {
        if uid == 0 && gid == 0 && groups.is_empty() && !nnp {
            return;
        }
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let root = crate::task::cred::Creds::root();
        let mut c = crate::task::cred::Creds {
            ruid: uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            rgid: gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups: groups.to_vec(),
            no_new_privs: nnp,
            ..root.clone()
        };
        c.fix_caps(&root);
        p.creds = c;
        p.sync_cred();
    }
}

#[cfg(test)]
mod tests {
    use super::{LinkInput, TTY_ESC};
    use alloc::vec;

    fn ws(li: &LinkInput) -> Option<(u16, u16)> {
        li.winsize.map(|w| (w.ws_row, w.ws_col))
    }

    #[test]
    fn exec_tty_input_decodes_sizes_in_order() {
        let mut li = LinkInput::default();
        let mut buf = [0u8; 64];
        // Input, a size, more input: the first input alone, then the size
        // with the input after it.
        li.raw = [
            &b"ab"[..],
            &[TTY_ESC, b'W', 0, 30, 0, 100],
            b"c",
            &[TTY_ESC, TTY_ESC],
        ]
        .concat();
        assert_eq!(li.decode(&mut buf), 2);
        assert_eq!(&buf[..2], b"ab");
        assert_eq!(ws(&li), None);
        assert_eq!(li.decode(&mut buf), 2);
        assert_eq!(&buf[..2], &[b'c', TTY_ESC]);
        assert_eq!(ws(&li), Some((30, 100)));
        // An escape in part waits for the rest.
        li.winsize = None;
        li.raw = vec![TTY_ESC, b'W', 1];
        assert_eq!(li.decode(&mut buf), 0);
        assert_eq!(li.raw.len(), 3);
        li.raw.extend_from_slice(&[2, 3, 4, b'x']);
        assert_eq!(li.decode(&mut buf), 1);
        assert_eq!(ws(&li), Some((0x102, 0x304)));
        // Unknown escapes are dropped; a small buffer takes what fits.
        li.raw = [&[TTY_ESC, b'?'][..], b"hello"].concat();
        assert_eq!(li.decode(&mut buf[..3]), 3);
        assert_eq!(&buf[..3], b"hel");
        assert_eq!(li.decode(&mut buf), 2);
        assert!(li.raw.is_empty());
    }
}
