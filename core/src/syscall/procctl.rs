//! The table of the process-control calls: futex, credentials and
//! capabilities, prctl, host and domain names, personality and the old
//! rlimit calls. `dispatch` serves them before the main table does, with the
//! numbers of each arch (32-bit ARM's 16- and 32-bit id calls included).

use super::cred::{self, Ids};
use super::info::{self, UtsName};
use super::uabi::TimeAbi;
use super::{futex, Outcome};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::SysResult;
use umbra_abi::syscall::nr::*;

/// The id calls with 32-bit ids: the plain names on 64-bit arches, the
/// `*32` calls on 32-bit ARM.
mod wide {
    #[cfg(target_arch = "arm")]
    pub use umbra_abi::syscall::arm::{
        GETEGID32 as GETEGID, GETEUID32 as GETEUID, GETGID32 as GETGID, GETGROUPS32 as GETGROUPS,
        GETRESGID32 as GETRESGID, GETRESUID32 as GETRESUID, GETUID32 as GETUID,
        SETFSGID32 as SETFSGID, SETFSUID32 as SETFSUID, SETGID32 as SETGID,
        SETGROUPS32 as SETGROUPS, SETREGID32 as SETREGID, SETRESGID32 as SETRESGID,
        SETRESUID32 as SETRESUID, SETREUID32 as SETREUID, SETUID32 as SETUID,
    };
    #[cfg(not(target_arch = "arm"))]
    pub use umbra_abi::syscall::nr::{
        GETEGID, GETEUID, GETGID, GETGROUPS, GETRESGID, GETRESUID, GETUID, SETFSGID, SETFSUID,
        SETGID, SETGROUPS, SETREGID, SETRESGID, SETRESUID, SETREUID, SETUID,
    };
}

/// Serves call `n` if it is one of this family; None otherwise.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    Some(match n {
        FUTEX => futex::sys_futex(k, a, TimeAbi::Long),
        #[cfg(target_arch = "arm")]
        FUTEX_TIME64 => futex::sys_futex(k, a, TimeAbi::Time64),
        _ => {
            #[cfg(target_arch = "arm")]
            if let Some(r) = id16_call(k, n, a) {
                return Some(Outcome::Ret(r));
            }
            Outcome::Ret(id_call(k, n, a)?)
        }
    })
}

/// The credential calls with 32-bit ids.
fn id_call<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<SysResult> {
    use Ids::{Group, User};
    let id = |i: usize| a[i] as u32;
    let c = &k.proc().creds;
    Some(match n {
        wide::GETUID => Ok(c.ruid as usize),
        wide::GETEUID => Ok(c.euid as usize),
        wide::GETGID => Ok(c.rgid as usize),
        wide::GETEGID => Ok(c.egid as usize),
        wide::SETUID => cred::sys_setid(k, User, id(0)),
        wide::SETGID => cred::sys_setid(k, Group, id(0)),
        wide::SETREUID => cred::sys_setreid(k, User, id(0), id(1)),
        wide::SETREGID => cred::sys_setreid(k, Group, id(0), id(1)),
        wide::SETRESUID => cred::sys_setresid(k, User, id(0), id(1), id(2)),
        wide::SETRESGID => cred::sys_setresid(k, Group, id(0), id(1), id(2)),
        wide::GETRESUID => cred::sys_getresid(k, User, [a[0], a[1], a[2]], 4),
        wide::GETRESGID => cred::sys_getresid(k, Group, [a[0], a[1], a[2]], 4),
        wide::SETFSUID => cred::sys_setfsid(k, User, id(0)),
        wide::SETFSGID => cred::sys_setfsid(k, Group, id(0)),
        wide::GETGROUPS => cred::sys_getgroups(k, a[0] as i32, a[1], 4),
        wide::SETGROUPS => cred::sys_setgroups(k, a[0] as i32, a[1], 4),
        CAPGET => cred::sys_capget(k, a[0], a[1]),
        SETHOSTNAME => info::sys_setname(k, UtsName::Host, a[0], a[1] as i32 as i64),
        SETDOMAINNAME => info::sys_setname(k, UtsName::Domain, a[0], a[1] as i32 as i64),
        PERSONALITY => info::sys_personality(k, a[0] as u32),
        GET_ROBUST_LIST => super::proc::sys_get_robust_list(k, a[0] as i32, a[1], a[2]),
        // The old getrlimit/setrlimit of 64-bit arches: struct rlimit is
        // prlimit64's there (32-bit ARM's are in `arm`).
        #[cfg(target_pointer_width = "64")]
        GETRLIMIT => super::proc::sys_prlimit64(k, 0, a[0] as u32, 0, a[1]),
        #[cfg(target_pointer_width = "64")]
        SETRLIMIT => super::proc::sys_prlimit64(k, 0, a[0] as u32, a[1], 0),
        PRCTL => super::proc::sys_prctl(k, a[0] as u32, [a[1], a[2], a[3], a[4]]),
        CAPSET => cred::sys_capset(k, a[0], a[1]),
        _ => return None,
    })
}

/// The 16-bit id calls of 32-bit ARM: -1 is 0xffff, and ids above 65535
/// read as 65534 (the overflow id).
#[cfg(target_arch = "arm")]
fn id16_call<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<SysResult> {
    use Ids::{Group, User};
    let id = |i: usize| match a[i] as u16 {
        0xffff => u32::MAX,
        v => v as u32,
    };
    let low = |v: u32| Ok(u16::try_from(v).unwrap_or(65534) as usize);
    let c = &k.proc().creds;
    Some(match n {
        GETUID => low(c.ruid),
        GETEUID => low(c.euid),
        GETGID => low(c.rgid),
        GETEGID => low(c.egid),
        SETUID => cred::sys_setid(k, User, id(0)),
        SETGID => cred::sys_setid(k, Group, id(0)),
        SETREUID => cred::sys_setreid(k, User, id(0), id(1)),
        SETREGID => cred::sys_setreid(k, Group, id(0), id(1)),
        SETRESUID => cred::sys_setresid(k, User, id(0), id(1), id(2)),
        SETRESGID => cred::sys_setresid(k, Group, id(0), id(1), id(2)),
        GETRESUID => cred::sys_getresid(k, User, [a[0], a[1], a[2]], 2),
        GETRESGID => cred::sys_getresid(k, Group, [a[0], a[1], a[2]], 2),
        SETFSUID => cred::sys_setfsid(k, User, id(0)).and_then(|v| low(v as u32)),
        SETFSGID => cred::sys_setfsid(k, Group, id(0)).and_then(|v| low(v as u32)),
        GETGROUPS => cred::sys_getgroups(k, a[0] as i32, a[1], 2),
        SETGROUPS => cred::sys_setgroups(k, a[0] as i32, a[1], 2),
        _ => return None,
    })
}
