//! Signal state: sets, default actions, the information a signal carries, and
//! the dispositions of a process. Generation and delivery live in the kernel's
//! signal module; this file has only the data and its rules.

use umbra_abi::signal::*;

/// A set of signals 1..=64, bit `n - 1` for signal `n`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(pub u64);

impl SigSet {
    /// The set holding only `sig`.
    pub const fn of(sig: u32) -> SigSet {
        if sig == 0 || sig > NSIG {
            SigSet(0)
        } else {
            SigSet(1 << (sig - 1))
        }
    }
    pub fn contains(self, sig: u32) -> bool {
        self.0 & SigSet::of(sig).0 != 0
    }
    pub fn add(&mut self, sig: u32) {
        self.0 |= SigSet::of(sig).0;
    }
    pub fn remove(&mut self, sig: u32) {
        self.0 &= !SigSet::of(sig).0;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The lowest signal in the set; standard signals go before real-time ones,
    /// and among those the lowest number first, as Linux delivers them.
    pub fn first(self) -> Option<u32> {
        (self.0 != 0).then(|| self.0.trailing_zeros() + 1)
    }
}

/// Signals that can be neither caught, blocked nor ignored.
pub const UNBLOCKABLE: SigSet = SigSet((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));

/// Stop signals.
pub const STOP_SIGNALS: SigSet = SigSet(
    (1 << (SIGSTOP - 1)) | (1 << (SIGTSTP - 1)) | (1 << (SIGTTIN - 1)) | (1 << (SIGTTOU - 1)),
);

/// What happens to a signal with SIG_DFL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    /// Terminate and dump core (reported with the core bit in the wait status).
    Core,
    Ignore,
    Stop,
    Continue,
}

/// signal(7)'s table of default actions.
pub fn default_action(sig: u32) -> DefaultAction {
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::Core,
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGCONT => DefaultAction::Continue,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

/// The `si_code` values umbra generates.
pub mod code {
    /// Sent by kill(2).
    pub const SI_USER: i32 = 0;
    pub const SI_TIMER: i32 = -2;
    /// A POSIX message queue notification (mq_notify); si_value in `addr`.
    pub const SI_MESGQ: i32 = -3;
    /// Sent by the kernel.
    pub const SI_KERNEL: i32 = 0x80;
    /// Sent by tkill/tgkill.
    pub const SI_TKILL: i32 = -6;
    pub const CLD_EXITED: i32 = 1;
    pub const CLD_KILLED: i32 = 2;
    pub const CLD_DUMPED: i32 = 3;
    pub const CLD_STOPPED: i32 = 5;
    pub const CLD_CONTINUED: i32 = 6;
}

/// What a pending signal carries (the fields of siginfo_t umbra fills).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: u32,
    pub code: i32,
    /// Sender pid (kill) or child pid (SIGCHLD).
    pub pid: u32,
    pub uid: u32,
    /// Child exit status or signal (SIGCHLD).
    pub status: i32,
    /// Faulting address (SIGSEGV, SIGBUS, SIGILL, SIGFPE).
    pub addr: u64,
    /// si_band and si_fd of an I/O readiness signal (SIGIO, or the signal
    /// F_SETSIG chose).
    pub poll: Option<(i64, i32)>,
    /// si_tid, si_overrun and si_value of a POSIX timer's signal (SI_TIMER).
    pub timer: Option<(i32, i32, u64)>,
}

impl SigInfo {
    /// The 128-byte siginfo_t of this build's guest.
    pub fn encode(&self) -> [u8; 128] {
        if cfg!(target_pointer_width = "32") {
            self.encode32()
        } else {
            self.encode64()
        }
    }

    /// The 128-byte siginfo_t of 64-bit Linux: the union at offset 16.
    pub fn encode64(&self) -> [u8; 128] {
        self.encode_at(16, 8)
    }

    /// The 128-byte siginfo_t of 32-bit Linux: the union at offset 12 and
    /// 4-byte addresses.
    pub fn encode32(&self) -> [u8; 128] {
        self.encode_at(12, 4)
    }

    fn encode_at(&self, u: usize, ptr: usize) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&(self.signo as i32).to_ne_bytes());
        b[8..12].copy_from_slice(&self.code.to_ne_bytes());
        if let Some((tid, overrun, value)) = self.timer {
            b[u..u + 4].copy_from_slice(&tid.to_ne_bytes());
            b[u + 4..u + 8].copy_from_slice(&overrun.to_ne_bytes());
            b[u + 8..u + 8 + ptr].copy_from_slice(&value.to_ne_bytes()[..ptr]);
            return b;
        }
        if let Some((band, fd)) = self.poll {
            b[u..u + ptr].copy_from_slice(&band.to_ne_bytes()[..ptr]);
            b[u + ptr..u + ptr + 4].copy_from_slice(&fd.to_ne_bytes());
            return b;
        }
        match self.signo {
            SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP if self.code > 0 => {
                b[u..u + ptr].copy_from_slice(&self.addr.to_ne_bytes()[..ptr]);
            }
            _ => {
                b[u..u + 4].copy_from_slice(&(self.pid as i32).to_ne_bytes());
                b[u + 4..u + 8].copy_from_slice(&self.uid.to_ne_bytes());
                if self.code == code::SI_MESGQ {
                    // si_value of a message queue notification rides in `addr`.
                    b[u + 8..u + 8 + ptr].copy_from_slice(&self.addr.to_ne_bytes()[..ptr]);
                }
                if self.signo == SIGCHLD {
                    b[u + 8..u + 12].copy_from_slice(&self.status.to_ne_bytes());
                }
            }
        }
        b
    }

    /// The struct signalfd_siginfo of this signal (the same on every arch):
    /// the fields Linux's signalfd_copyinfo fills for its kind.
    pub fn encode_signalfd(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        let put = |b: &mut [u8; 128], at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        put(&mut b, 0, &self.signo.to_ne_bytes());
        put(&mut b, 8, &self.code.to_ne_bytes());
        if let Some((tid, overrun, value)) = self.timer {
            put(&mut b, 24, &tid.to_ne_bytes());
            put(&mut b, 32, &overrun.to_ne_bytes());
            put(&mut b, 44, &(value as i32).to_ne_bytes());
            put(&mut b, 48, &value.to_ne_bytes());
            return b;
        }
        if let Some((band, fd)) = self.poll {
            put(&mut b, 28, &(band as u32).to_ne_bytes());
            put(&mut b, 20, &fd.to_ne_bytes());
            return b;
        }
        match self.signo {
            SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP if self.code > 0 => {
                put(&mut b, 72, &self.addr.to_ne_bytes());
            }
            _ => {
                put(&mut b, 12, &self.pid.to_ne_bytes());
                put(&mut b, 16, &self.uid.to_ne_bytes());
                if self.code == code::SI_MESGQ {
                    put(&mut b, 44, &(self.addr as i32).to_ne_bytes());
                    put(&mut b, 48, &self.addr.to_ne_bytes());
                }
                if self.signo == SIGCHLD {
                    put(&mut b, 40, &self.status.to_ne_bytes());
                }
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siginfo_32_and_64() {
        let i = SigInfo {
            signo: SIGCHLD,
            code: code::CLD_EXITED,
            pid: 7,
            uid: 0,
            status: 3,
            addr: 0,
            poll: None,
            timer: None,
        };
        let b = i.encode32();
        assert_eq!((b[0], b[8], b[12], b[20]), (17, 1, 7, 3));
        let b = i.encode64();
        assert_eq!((b[0], b[8], b[16], b[24]), (17, 1, 7, 3));
        let f = SigInfo {
            signo: SIGSEGV,
            code: 1,
            addr: 0x1234_5678,
            ..SigInfo::default()
        };
        assert_eq!(&f.encode32()[12..16], &0x1234_5678u32.to_ne_bytes());
        assert_eq!(&f.encode32()[16..20], &[0; 4]);
        let p = SigInfo {
            signo: 40,
            code: 1,
            poll: Some((0x441, 5)),
            ..SigInfo::default()
        };
        assert_eq!(&p.encode32()[12..20], &[0x41, 4, 0, 0, 5, 0, 0, 0]);
        assert_eq!(
            &p.encode64()[16..28],
            &[0x41, 4, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0]
        );
    }
}

/// One signal action, as rt_sigaction(2) sets it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

impl SigAction {
    /// Whether the signal is ignored, explicitly or by default.
    pub fn ignores(&self, sig: u32) -> bool {
        match self.handler {
            SIG_IGN => true,
            SIG_DFL => default_action(sig) == DefaultAction::Ignore,
            _ => false,
        }
    }
    /// Whether a handler function is installed.
    pub fn has_handler(&self) -> bool {
        self.handler != SIG_DFL && self.handler != SIG_IGN
    }
}

/// An alternate signal stack (sigaltstack(2)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub size: u64,
    /// SS_DISABLE when none is set.
    pub flags: u32,
}

/// SS_ONSTACK and SS_DISABLE.
pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;

impl AltStack {
    pub fn disabled() -> AltStack {
        AltStack {
            sp: 0,
            size: 0,
            flags: SS_DISABLE,
        }
    }
    /// Whether `sp` is on this stack.
    pub fn contains(&self, sp: u64) -> bool {
        self.flags & SS_DISABLE == 0 && sp > self.sp && sp <= self.sp.wrapping_add(self.size)
    }
}
