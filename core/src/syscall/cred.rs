//! Credential and capability syscalls: getuid, geteuid, getgid, getegid,
//! setuid, setgid, setreuid, setregid, setresuid, setresgid, getresuid,
//! getresgid, setfsuid, setfsgid, getgroups, setgroups (each with the 16-bit
//! forms of 32-bit ARM through `id16`), capget and capset. The rules are
//! Linux's (credentials(7), setresuid(2), capabilities(7)): a caller without
//! CAP_SETUID/CAP_SETGID may only move among its real, effective and saved
//! ids; the file-system id follows the effective one; leaving uid 0 drops the
//! capabilities unless PR_SET_KEEPCAPS.

use crate::host::Host;
use crate::kernel::Kernel;
use crate::mm::{UserInPtr, UserOutPtr};
use crate::task::cred::{Creds, CAP_FULL, CAP_SETGID, CAP_SETPCAP, CAP_SETUID};
use crate::SysResult;
use alloc::vec::Vec;
use umbra_abi::Errno;

/// "Unchanged" in the set*id calls.
const KEEP: u32 = u32::MAX;
/// Most supplementary groups (NGROUPS_MAX).
const NGROUPS_MAX: usize = 65536;

/// Which ids a call changes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ids {
    User,
    Group,
}

/// The (real, effective, saved, fs) ids of `which`, and the capability that
/// lets them be set at will.
fn ids(c: &Creds, which: Ids) -> ([u32; 4], u32) {
    match which {
        Ids::User => ([c.ruid, c.euid, c.suid, c.fsuid], CAP_SETUID),
        Ids::Group => ([c.rgid, c.egid, c.sgid, c.fsgid], CAP_SETGID),
    }
}

fn set_ids(c: &mut Creds, which: Ids, v: [u32; 4]) {
    match which {
        Ids::User => [c.ruid, c.euid, c.suid, c.fsuid] = v,
        Ids::Group => [c.rgid, c.egid, c.sgid, c.fsgid] = v,
    }
}

/// Installs `new` as the current process's credentials.
fn commit<H: Host>(k: &mut Kernel<H>, mut new: Creds, which: Ids) {
    let p = k.proc();
    if which == Ids::User {
        let old = p.creds.clone();
        new.fix_caps(&old);
    }
    if new.euid != p.creds.euid || new.egid != p.creds.egid || new.fsuid != p.creds.fsuid {
        // A process whose ids changed no longer dumps core (or is ptraced)
        // by default: Linux's suid_dumpable of 0.
        new.dumpable = 0;
    }
    p.creds = new;
    p.sync_cred();
}

/// setuid(2) and setgid(2).
pub fn sys_setid<H: Host>(k: &mut Kernel<H>, which: Ids, id: u32) -> SysResult {
    if id == KEEP {
        return Err(Errno::EINVAL);
    }
    let mut c = k.proc().creds.clone();
    let ([r, _, s, _], cap) = ids(&c, which);
    let v = if c.capable(cap) {
        [id, id, id, id]
    } else if id == r || id == s {
        let [r, _, s, _] = ids(&c, which).0;
        [r, id, s, id]
    } else {
        return Err(Errno::EPERM);
    };
    set_ids(&mut c, which, v);
    commit(k, c, which);
    Ok(0)
}

/// setreuid(2) and setregid(2).
pub fn sys_setreid<H: Host>(k: &mut Kernel<H>, which: Ids, r: u32, e: u32) -> SysResult {
    let mut c = k.proc().creds.clone();
    let ([or, oe, os, _], cap) = ids(&c, which);
    let priv_ = c.capable(cap);
    if r != KEEP && !priv_ && r != or && r != oe {
        return Err(Errno::EPERM);
    }
    if e != KEEP && !priv_ && e != or && e != oe && e != os {
        return Err(Errno::EPERM);
    }
    let nr = if r == KEEP { or } else { r };
    let ne = if e == KEEP { oe } else { e };
    let ns = if r != KEEP || (e != KEEP && e != or) {
        ne
    } else {
        os
    };
    set_ids(&mut c, which, [nr, ne, ns, ne]);
    commit(k, c, which);
    Ok(0)
}

/// setresuid(2) and setresgid(2).
pub fn sys_setresid<H: Host>(k: &mut Kernel<H>, which: Ids, r: u32, e: u32, s: u32) -> SysResult {
    let mut c = k.proc().creds.clone();
    let (old @ [or, oe, os, _], cap) = ids(&c, which);
    if !c.capable(cap) {
        let ok = |v: u32| v == KEEP || v == or || v == oe || v == os;
        if !(ok(r) && ok(e) && ok(s)) {
            return Err(Errno::EPERM);
        }
    }
    let pick = |v: u32, o: u32| if v == KEEP { o } else { v };
    let ne = pick(e, old[1]);
    set_ids(&mut c, which, [pick(r, old[0]), ne, pick(s, old[2]), ne]);
    commit(k, c, which);
    Ok(0)
}

/// getresuid(2) and getresgid(2): three ids of `width` bytes (2 for the
/// 16-bit calls of 32-bit ARM, which show ids above 65535 as 65534).
pub fn sys_getresid<H: Host>(
    k: &mut Kernel<H>,
    which: Ids,
    at: [u64; 3],
    width: usize,
) -> SysResult {
    let ([r, e, s, _], _) = ids(&k.proc().creds, which);
    for (v, addr) in [r, e, s].into_iter().zip(at) {
        if width == 2 {
            let v16 = u16::try_from(v).unwrap_or(65534);
            k.user().write(UserOutPtr::<u16>::new(addr), &v16)?;
        } else {
            k.user().write(UserOutPtr::<u32>::new(addr), &v)?;
        }
    }
    Ok(0)
}

/// setfsuid(2) and setfsgid(2): returns the old id whether or not it changed.
pub fn sys_setfsid<H: Host>(k: &mut Kernel<H>, which: Ids, id: u32) -> SysResult {
    let mut c = k.proc().creds.clone();
    let (old @ [r, e, s, f], cap) = ids(&c, which);
    if id != KEEP && id != f && (c.capable(cap) || id == r || id == e || id == s) {
        set_ids(&mut c, which, [old[0], old[1], old[2], id]);
        commit(k, c, which);
    }
    Ok(f as usize)
}

/// getgroups(2); `width` 2 for the 16-bit call of 32-bit ARM.
pub fn sys_getgroups<H: Host>(k: &mut Kernel<H>, size: i32, at: u64, width: usize) -> SysResult {
    let groups = k.proc().creds.groups.clone();
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return Ok(groups.len());
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let mut bytes = Vec::with_capacity(groups.len() * width);
    for g in &groups {
        if width == 2 {
            bytes.extend_from_slice(&u16::try_from(*g).unwrap_or(65534).to_ne_bytes());
        } else {
            bytes.extend_from_slice(&g.to_ne_bytes());
        }
    }
    k.user().write_bytes(at, &bytes)?;
    Ok(groups.len())
}

/// setgroups(2): needs CAP_SETGID; `width` 2 for the 16-bit call.
pub fn sys_setgroups<H: Host>(k: &mut Kernel<H>, size: i32, at: u64, width: usize) -> SysResult {
    let n = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    if n > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    if !k.proc().creds.capable(CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    let bytes = k.user().read_vec(at, n * width)?;
    let mut groups: Vec<u32> = bytes
        .chunks_exact(width)
        .map(|b| match width {
            2 => match u16::from_ne_bytes([b[0], b[1]]) {
                0xffff => KEEP,
                g => g as u32,
            },
            _ => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
        })
        .collect();
    crate::sort::sort(&mut groups);
    let p = k.proc();
    p.creds.groups = groups;
    p.sync_cred();
    Ok(0)
}

const LINUX_CAPABILITY_VERSION_1: u32 = 0x1998_0330;
const LINUX_CAPABILITY_VERSION_2: u32 = 0x2007_1026;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The header's version: the number of 32-bit data structs it takes, or
/// EINVAL after writing the preferred version back (as Linux does).
fn cap_version<H: Host>(k: &mut Kernel<H>, hdr: u64) -> Result<(usize, i32), Errno> {
    let v: [u32; 2] = k.user().read(UserInPtr::new(hdr))?;
    let n = match v[0] {
        LINUX_CAPABILITY_VERSION_1 => 1,
        LINUX_CAPABILITY_VERSION_2 | LINUX_CAPABILITY_VERSION_3 => 2,
        _ => {
            k.user()
                .write(UserOutPtr::<u32>::new(hdr), &LINUX_CAPABILITY_VERSION_3)?;
            return Err(Errno::EINVAL);
        }
    };
    Ok((n, v[1] as i32))
}

/// capget(2): the sets of the caller or another process (pid 0: self). A
/// NULL data pointer probes the version: 0, with the preferred version
/// written to the header if it held another.
pub fn sys_capget<H: Host>(k: &mut Kernel<H>, hdr: u64, data: u64) -> SysResult {
    let (n, pid) = match cap_version(k, hdr) {
        Err(Errno::EINVAL) if data == 0 => return Ok(0),
        r => r?,
    };
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let caps = if pid == 0 || pid as u32 == k.cur {
        k.proc().creds.caps
    } else {
        k.process(pid as u32).ok_or(Errno::ESRCH)?.creds.caps
    };
    if data == 0 {
        return Ok(0);
    }
    let mut out = Vec::with_capacity(12 * n);
    for i in 0..n {
        for set in [caps.effective, caps.permitted, caps.inheritable] {
            out.extend_from_slice(&((set >> (32 * i)) as u32).to_ne_bytes());
        }
    }
    k.user().write_bytes(data, &out)?;
    Ok(0)
}

/// capset(2): the caller's own sets only (EPERM for another pid). The new
/// permitted set may only shrink, effective must lie within it, and
/// inheritable within the old inheritable and bounding-limited permitted
/// sets unless CAP_SETPCAP.
pub fn sys_capset<H: Host>(k: &mut Kernel<H>, hdr: u64, data: u64) -> SysResult {
    let (n, pid) = cap_version(k, hdr)?;
    if pid != 0 && pid as u32 != k.cur {
        return Err(Errno::EPERM);
    }
    let raw = k.user().read_vec(data, 12 * n)?;
    let mut sets = [0u64; 3];
    for i in 0..n {
        for (j, set) in sets.iter_mut().enumerate() {
            let at = 12 * i + 4 * j;
            let w = u32::from_ne_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
            *set |= (w as u64) << (32 * i);
        }
    }
    let [eff, perm, inh] = sets.map(|s| s & CAP_FULL);
    let c = &k.proc().creds;
    let old = c.caps;
    // In cap_capset's order.
    if !c.capable(CAP_SETPCAP) && inh & !(old.inheritable | old.permitted) != 0 {
        return Err(Errno::EPERM);
    }
    if inh & !(old.inheritable | old.bounding) != 0 {
        return Err(Errno::EPERM);
    }
    if perm & !old.permitted != 0 || eff & !perm != 0 {
        return Err(Errno::EPERM);
    }
    let p = k.proc();
    p.creds.caps.effective = eff;
    p.creds.caps.permitted = perm;
    p.creds.caps.inheritable = inh;
    Ok(0)
}
