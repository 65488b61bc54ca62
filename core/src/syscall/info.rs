//! System information: uname, sethostname, setdomainname, personality,
//! sysinfo, getrandom.

use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::UserOutPtr;
use crate::SysResult;
use umbra_abi::structs::Utsname;
use umbra_abi::Errno;

/// The kernel release umbra reports: new enough for every libc it runs.
pub const UTS_RELEASE: &str = "6.1.0-umbra";
/// The version string.
pub const UTS_VERSION: &str = "#1 SMP umbra";

fn fill(dst: &mut [u8; 65], s: &str) {
    let n = s.len().min(64);
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// uname(2).
pub fn sys_uname<H: Host>(k: &mut Kernel<H>, out: u64) -> SysResult {
    let mut u = Utsname::default();
    fill(&mut u.sysname, "Linux");
    fill(&mut u.nodename, &k.cfg.hostname);
    fill(&mut u.release, UTS_RELEASE);
    fill(&mut u.version, UTS_VERSION);
    fill(&mut u.machine, crate::arch::UTS_MACHINE);
    fill(&mut u.domainname, &k.domainname);
    k.user().write(UserOutPtr::new(out), &u)?;
    Ok(0)
}

/// Which name sethostname and setdomainname set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UtsName {
    Host,
    Domain,
}

/// sethostname(2) and setdomainname(2): the names are the umbra instance's
/// (its UTS namespace). EPERM without CAP_SYS_ADMIN, EINVAL beyond 64 bytes.
/// Bytes that are not UTF-8 are kept as U+FFFD.
pub fn sys_setname<H: Host>(k: &mut Kernel<H>, which: UtsName, at: u64, len: i64) -> SysResult {
    if !k.proc().creds.capable(crate::task::cred::CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    if !(0..=64).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let bytes = k.user().read_vec(at, len as usize)?;
    let name = alloc::string::String::from_utf8_lossy(&bytes).into_owned();
    match which {
        UtsName::Host => k.cfg.hostname = name,
        UtsName::Domain => k.domainname = name,
    }
    Ok(0)
}

/// personality(2): returns the old persona; 0xffffffff only queries. umbra
/// places nothing at random, so ADDR_NO_RANDOMIZE holds whatever is set.
pub fn sys_personality<H: Host>(k: &mut Kernel<H>, persona: u32) -> SysResult {
    let c = &mut k.proc().creds;
    let old = c.personality;
    if persona != u32::MAX {
        c.personality = persona;
    }
    Ok(old as usize)
}

/// sysinfo(2): memory figures are the guest's memory file.
pub fn sys_sysinfo<H: Host>(k: &mut Kernel<H>, out: u64) -> SysResult {
    use super::uabi::{encode_sysinfo, SysinfoVals, NATIVE};
    let page = 4096u64;
    let s = SysinfoVals {
        uptime: k.host.now_mono().saturating_sub(k.boot_time) / 1_000_000_000,
        totalram: k.frames.total() as u64 * page,
        freeram: k.frames.free_count() as u64 * page,
        procs: k.pids().len().min(u16::MAX as usize) as u16,
    };
    k.user().write_bytes(out, &encode_sysinfo(s, NATIVE))?;
    Ok(0)
}

/// getrandom(2): bytes from the host's entropy source, at most 32 MiB a call.
pub fn sys_getrandom<H: Host>(k: &mut Kernel<H>, buf: u64, len: usize, flags: u32) -> SysResult {
    use umbra_abi::flags::{GRND_NONBLOCK, GRND_RANDOM};
    const GRND_INSECURE: u32 = 4;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE
    {
        return Err(Errno::EINVAL);
    }
    let len = len.min(32 << 20);
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        k.host.random(&mut chunk[..n]);
        // As Linux's: bytes already copied are returned, EFAULT only when none were.
        if let Err(e) = k.user().write_bytes(buf + done as u64, &chunk[..n]) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        done += n;
    }
    Ok(len)
}
