//! The x86_64 vsyscall page, emulated as Linux's `vsyscall=xonly` does: a
//! call to `0xffffffffff600000` (gettimeofday), `…400` (time) or `…800`
//! (getcpu) is served as that syscall and returns to the caller; reading the
//! page, or jumping elsewhere in it, is a SIGSEGV. Old static programs
//! (dietlibc's, e.g. Debian's mksh built with it) call it instead of a vDSO.
//! The host reports such a call as an execute fault at the entry, with the
//! registers of the `call` (see the shim's run_user).

use super::Kernel;
use crate::host::Host;

/// The vsyscall page's address.
pub const VSYSCALL_ADDR: u64 = 0xffff_ffff_ff60_0000;

/// Whether `addr` is in the vsyscall page (never guest memory: above the
/// user range).
pub fn in_page(addr: u64) -> bool {
    cfg!(target_arch = "x86_64") && addr.wrapping_sub(VSYSCALL_ADDR) < 0x1000
}

impl<H: Host> Kernel<H> {
    /// If the fault at `addr` (in the page) is a call of a vsyscall entry,
    /// serves it and returns true; false: the guest gets SIGSEGV.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn vsyscall_fault(&mut self, addr: u64) -> bool {
        use crate::mm::UserInPtr;
        use crate::syscall::time;
        let off = addr.wrapping_sub(VSYSCALL_ADDR);
        let regs = &self.proc().thread.regs;
        if off >= 0xc00 || !off.is_multiple_of(0x400) || regs.ip() != addr {
            return false;
        }
        let (sp, a) = (regs.sp(), regs.syscall_args());
        let Ok(ret_addr) = self.user().read(UserInPtr::<u64>::new(sp)) else {
            return false;
        };
        let r = match off / 0x400 {
            0 => time::sys_gettimeofday(self, a[0]),
            1 => time::sys_time(self, a[0]),
            _ => time::sys_getcpu(self, a[0], a[1]),
        };
        let v = match r {
            Ok(v) => v as u64,
            // A bad pointer given to a vsyscall is SIGSEGV (Linux's
            // emulate_vsyscall), not EFAULT.
            Err(crate::Errno::EFAULT) => return false,
            Err(e) => (-(e.0 as i64)) as u64,
        };
        let regs = &mut self.proc().thread.regs;
        regs.set_syscall_ret(v);
        regs.set_ip(ret_addr);
        regs.set_sp(sp.wrapping_add(8));
        true
    }

    /// No vsyscall page on this arch.
    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn vsyscall_fault(&mut self, _addr: u64) -> bool {
        false
    }
}
