//! The host's requests for the guest from outside: OCI exec's processes
//! (`serve_exec`), and signals: `umbra kill` of an OCI container sends a
//! host signal to umbra, the shim records it (`Host::take_host_signals`),
//! and the kernel delivers it here to pid 1, as Linux delivers a signal from
//! an ancestor pid namespace to a container's init.

use super::{BootError, Kernel};
use crate::fs::file::OpenFile;
use crate::host::Host;
use crate::net::{SockAddr, SocketFile, UnixAddr};
use crate::task::signal::{code, UNBLOCKABLE};
use crate::task::SigInfo;
use umbra_abi::flags::{OpenFlags, O_RDWR};
use umbra_abi::net::AF_UNIX;
use umbra_abi::signal::{NSIG, SIGKILL, SIGSTOP};
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
            let Some(p) = self.procs.get(&1) else {
                return;
            };
            let blocked = p.thread.sigmask.contains(sig) && !UNBLOCKABLE.contains(sig);
            let handled = p.sigactions[(sig - 1) as usize].has_handler();
            if sig != SIGKILL && sig != SIGSTOP && !blocked && !handled {
                continue;
            }
            let info = SigInfo {
                signo: sig,
                code: code::SI_USER,
                ..SigInfo::default()
            };
            let _ = self.send_signal(1, sig, info);
        }
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
        let stdio = req.stdio.map(|h| {
            let conn =
                crate::net::host::accepted(&self.net, h, AF_UNIX, unnamed.clone(), unnamed.clone());
            OpenFile::from_ops(SocketFile::new(conn), OpenFlags::from_bits_retain(O_RDWR))
        });
        let r = self
            .spawn_program(&req.argv, &req.envp, &req.cwd, &stdio)
            .inspect(|&pid| self.set_user(pid, req.uid, req.gid, &req.groups, false))
            .map_err(|e| match e {
                BootError::NotFound(_, e) | BootError::BadCwd(_, e) => e,
                BootError::BadExecutable(..) => Errno::ENOEXEC,
                _ => Errno::EINVAL,
            });
        self.host.exec_started(req.id, r);
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
