//! Signals from outside the guest: `umbra kill` of an OCI container sends a
//! host signal to umbra, the shim records it (`Host::take_host_signals`),
//! and the kernel delivers it here to pid 1, as Linux delivers a signal from
//! an ancestor pid namespace to a container's init.

use super::Kernel;
use crate::host::Host;
use crate::task::signal::{code, UNBLOCKABLE};
use crate::task::SigInfo;
use umbra_abi::signal::{NSIG, SIGKILL, SIGSTOP};

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
