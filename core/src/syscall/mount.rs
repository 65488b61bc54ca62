//! mount(2) and umount2(2) inside the guest, as a container's init uses them:
//! new tmpfs, proc and sysfs mounts with the per-mount flags nosuid, nodev,
//! noexec and the atime ones (shown in /proc/mounts; noexec and nodev are
//! enforced by exec and open), and unmounting, lazily with MNT_DETACH.
//!
//! With ptys (the `pty` feature), devpts: every mount a new instance, as
//! Linux since 4.7 (see `devfs::DevptsOpts`); /dev/ptmx makes its ptys in
//! the instance at /dev/pts, what busybox init scripts (`mount -t devpts
//! devpts /dev/pts`) and container runtimes (a devpts at /dev/pts, /dev/ptmx
//! a link to pts/ptmx) expect.
//!
//! What umbra cannot do fails loudly: other filesystem types (and devpts
//! without ptys) give ENODEV, MS_RDONLY, bind, move and remount give
//! EINVAL, and so do propagation changes other than MS_PRIVATE (which is
//! what every umbra mount already is, so it succeeds).

use super::fs::path_arg;
use crate::fs::path::ms;
use crate::fs::vfs::{timespec_from_ns, SetAttr};
use crate::fs::{FollowLast, PathRef};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::cred::CAP_SYS_ADMIN;
use crate::{KResult, SysResult};
use alloc::string::String;
use umbra_abi::Errno;

const MS_REMOUNT: u32 = 32;
const MS_BIND: u32 = 4096;
const MS_MOVE: u32 = 8192;
const MS_REC: u32 = 16384;
const MS_SILENT: u32 = 32768;
const MS_UNBINDABLE: u32 = 1 << 17;
const MS_PRIVATE: u32 = 1 << 18;
const MS_SLAVE: u32 = 1 << 19;
const MS_SHARED: u32 = 1 << 20;
const MS_LAZYTIME: u32 = 1 << 25;
/// The magic old callers put in the top half of the flags.
const MS_MGC_VAL: u32 = 0xc0ed_0000;
const MS_MGC_MSK: u32 = 0xffff_0000;

const MNT_FORCE: u32 = 1;
const MNT_DETACH: u32 = 2;
const UMOUNT_NOFOLLOW: u32 = 8;

/// The per-mount flags umbra keeps.
const KEPT: u32 = ms::NOSUID
    | ms::NODEV
    | ms::NOEXEC
    | ms::NOATIME
    | ms::NODIRATIME
    | ms::RELATIME
    | ms::STRICTATIME;

/// A NUL-terminated string argument of at most a page.
fn str_arg<H: Host>(k: &mut Kernel<H>, ptr: u64) -> KResult<String> {
    if ptr == 0 {
        return Err(Errno::EFAULT);
    }
    let b = k.user().read_cstr(ptr, 4095)?;
    String::from_utf8(b).map_err(|_| Errno::EINVAL)
}

/// The node `path` names, for the caller (its root and credentials).
fn node_of<H: Host>(k: &mut Kernel<H>, path: u64, follow: FollowLast) -> KResult<PathRef> {
    let path = path_arg(k, path)?;
    let p = k.proc();
    let (cwd, root, cred) = (p.cwd.clone(), p.root.clone(), p.cred.clone());
    k.vfs.lookup_in(&root, &cwd, &path, follow, &cred)
}

/// A number with an optional K, M, G, T, P or E suffix (Linux's memparse;
/// 0x for hex, a leading 0 for octal); EINVAL when malformed or too large.
fn memparse(val: &str) -> KResult<u64> {
    let (digits, shift) = match val.as_bytes().last().map(u8::to_ascii_lowercase) {
        Some(b'k') => (&val[..val.len() - 1], 10),
        Some(b'm') => (&val[..val.len() - 1], 20),
        Some(b'g') => (&val[..val.len() - 1], 30),
        Some(b't') => (&val[..val.len() - 1], 40),
        Some(b'p') => (&val[..val.len() - 1], 50),
        Some(b'e') => (&val[..val.len() - 1], 60),
        _ => (val, 0),
    };
    let n = if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8)
    } else {
        digits.parse::<u64>()
    }
    .map_err(|_| Errno::EINVAL)?;
    n.checked_mul(1 << shift).ok_or(Errno::EINVAL)
}

/// A tmpfs mount's options: mode, uid and gid set the root directory; the
/// size in pages and the most inodes when given (`size=` in bytes or `N%` of
/// `mem_pages`, `nr_blocks=` in pages, `nr_inodes=`; 0 is Linux's
/// "unlimited", here the whole guest memory). With the options mountinfo
/// shows, in shmem_show_options' form and order (size and nr_inodes unless
/// the default, half of the memory; mode unless 1777, uid and gid unless 0).
struct TmpfsOptions {
    attr: SetAttr,
    pages: Option<u64>,
    inodes: Option<u64>,
    shown: String,
}

fn tmpfs_options(data: &str, mem_pages: u64) -> KResult<TmpfsOptions> {
    let mut a = SetAttr::touch(Default::default());
    let (mut pages, mut inodes) = (None, None);
    for opt in data.split(',').filter(|o| !o.is_empty()) {
        let (key, val) = opt.split_once('=').unwrap_or((opt, ""));
        let num = |radix| u32::from_str_radix(val, radix).map_err(|_| Errno::EINVAL);
        match key {
            "mode" => a.perm = Some(num(8)? & 0o7777),
            "uid" => a.uid = Some(num(10)?),
            "gid" => a.gid = Some(num(10)?),
            "size" => {
                let n = if let Some(pct) = val.strip_suffix('%') {
                    // Linux: size = N% of RAM, rounded up to pages.
                    let pct = memparse(pct)?;
                    mem_pages
                        .checked_mul(pct)
                        .ok_or(Errno::EINVAL)?
                        .div_ceil(100)
                } else {
                    memparse(val)?.div_ceil(4096)
                };
                pages = Some(n);
            }
            "nr_blocks" => pages = Some(memparse(val)?),
            "nr_inodes" => inodes = Some(memparse(val)?),
            _ => return Err(Errno::EINVAL),
        }
    }
    let pages = pages.map(|p| if p == 0 { mem_pages } else { p });
    let inodes = inodes.map(|i| if i == 0 { mem_pages } else { i });
    let mut shown = alloc::vec::Vec::new();
    // As Linux's shmem_show_options: size and nr_inodes when not the default.
    if let Some(p) = pages.filter(|&p| p != mem_pages / 2) {
        shown.push(alloc::format!("size={}k", p.saturating_mul(4)));
    }
    if let Some(i) = inodes.filter(|&i| i != mem_pages / 2) {
        shown.push(alloc::format!("nr_inodes={i}"));
    }
    if let Some(m) = a.perm.filter(|&m| m != 0o1777) {
        shown.push(alloc::format!("mode={m:03o}"));
    }
    if let Some(u) = a.uid.filter(|&u| u != 0) {
        shown.push(alloc::format!("uid={u}"));
    }
    if let Some(g) = a.gid.filter(|&g| g != 0) {
        shown.push(alloc::format!("gid={g}"));
    }
    Ok(TmpfsOptions {
        attr: a,
        pages,
        inodes,
        shown: shown.join(","),
    })
}

/// mount(2).
pub fn sys_mount<H: Host>(
    k: &mut Kernel<H>,
    source: u64,
    target: u64,
    fstype: u64,
    flags: u64,
    data: u64,
) -> SysResult {
    let mut flags = flags as u32;
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags &= !MS_MGC_MSK;
    }
    if !k.proc().creds.capable(CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let at = node_of(k, target, FollowLast::Follow)?;
    // Propagation changes: every umbra mount is private already.
    let propagation = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
    if flags & propagation != 0 {
        return if flags & !(MS_PRIVATE | MS_REC | MS_SILENT) == 0 {
            Ok(0)
        } else {
            Err(Errno::EINVAL)
        };
    }
    if flags & (MS_REMOUNT | MS_BIND | MS_MOVE | ms::RDONLY) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !(KEPT | MS_SILENT | MS_LAZYTIME | MS_REC) != 0 {
        return Err(Errno::EINVAL);
    }
    if !at.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let fstype = str_arg(k, fstype)?;
    let data = if data == 0 {
        String::new()
    } else {
        str_arg(k, data)?
    };
    // A missing source shows as "none", as Linux's.
    let source = if source == 0 {
        String::from("none")
    } else {
        str_arg(k, source)?
    };
    let now = timespec_from_ns(k.host.now_real());
    let mut shown = String::new();
    let root = match fstype.as_str() {
        "tmpfs" => {
            let mem_pages = k.frames.total() as u64;
            let o = tmpfs_options(&data, mem_pages)?;
            shown = o.shown;
            let attr = SetAttr {
                ctime: now,
                ..o.attr
            };
            let size = o.pages.unwrap_or(mem_pages / 2).saturating_mul(4096);
            let fs = k.new_tmpfs(now, size);
            if let Some(i) = o.inodes {
                fs.set_max_inodes(i);
            }
            fs.root().set_metadata(&attr)?;
            fs.root()
        }
        "proc" | "sysfs" if !data.is_empty() => return Err(Errno::EINVAL),
        "proc" => crate::fs::procfs::new_procfs(k.vfs.alloc_anon_dev(), k.procfs.dir.clone()),
        "sysfs" => crate::fs::sysfs::new_sysfs(k.vfs.alloc_anon_dev()),
        #[cfg(feature = "pty")]
        "devpts" => {
            let opts = crate::fs::devfs::DevptsOpts::parse(&data)?;
            shown = opts.shown();
            let fs = k.new_tmpfs(now, k.tmpfs_default_size());
            let dev = fs.dev();
            let c = &k.proc().creds;
            let fs = crate::fs::devfs::new_devpts(fs, now, &opts, c.fsuid, c.fsgid)?;
            k.devpts.retain(|i| !i.gone());
            let root = fs.root();
            k.devpts
                .push(crate::fs::devfs::DevptsInstance::new(dev, opts, &root));
            root
        }
        _ => return Err(Errno::ENODEV),
    };
    // Linux's default atime mode is relatime.
    let mut kept = flags & KEPT;
    if kept & (ms::NOATIME | ms::STRICTATIME) == 0 {
        kept |= ms::RELATIME;
    }
    let label = crate::fs::path::MountLabel {
        fstype: &fstype,
        source: &source,
        data: &shown,
    };
    k.vfs.mount_labelled(&at, root, label, kept)?;
    Ok(0)
}

/// umount2(2), also umount: EBUSY while a process has its cwd or root or an
/// open file in the mount, unless MNT_DETACH.
pub fn sys_umount2<H: Host>(k: &mut Kernel<H>, target: u64, flags: u32) -> SysResult {
    if flags & !(MNT_FORCE | MNT_DETACH | UMOUNT_NOFOLLOW) != 0
        || flags & (MNT_FORCE | MNT_DETACH) == MNT_FORCE | MNT_DETACH
    {
        return Err(Errno::EINVAL);
    }
    if !k.proc().creds.capable(CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let follow = if flags & UMOUNT_NOFOLLOW != 0 {
        FollowLast::NoFollow
    } else {
        FollowLast::Follow
    };
    let node = node_of(k, target, follow)?;
    let id = node.mount_id();
    if id == 0 {
        return Err(Errno::EINVAL);
    }
    let detach = flags & MNT_DETACH != 0;
    if !detach {
        let busy = k.procs.values().any(|p| {
            p.cwd.mount_id() == id
                || p.root.mount_id() == id
                || p.fds
                    .fds()
                    .any(|(_, f)| f.path().is_some_and(|n| n.mount_id() == id))
        });
        if busy {
            return Err(Errno::EBUSY);
        }
    }
    k.vfs.umount(&node, detach)?;
    // A devpts instance goes with its mount, unless a pty of its is open.
    #[cfg(feature = "pty")]
    {
        drop(node);
        k.devpts.retain(|i| !i.gone());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memparse_and_tmpfs_sizes() {
        assert_eq!(memparse("256k"), Ok(256 << 10));
        assert_eq!(memparse("3M"), Ok(3 << 20));
        assert_eq!(memparse("0x10"), Ok(16));
        assert_eq!(memparse("010"), Ok(8));
        assert_eq!(memparse("0"), Ok(0));
        for bad in ["", "k", "12x", "-1", "99999999999999999999", "16E"] {
            assert_eq!(memparse(bad), Err(Errno::EINVAL), "{bad}");
        }
        // 1000 pages of memory.
        let o = tmpfs_options("size=10%,nr_inodes=5,mode=700", 1000).unwrap();
        assert_eq!((o.pages, o.inodes), (Some(100), Some(5)));
        assert_eq!(o.shown, "size=400k,nr_inodes=5,mode=700");
        let o = tmpfs_options("size=4097", 1000).unwrap();
        assert_eq!(o.pages, Some(2));
        // The default size is not shown; 0 is the whole memory.
        let o = tmpfs_options("nr_blocks=500", 1000).unwrap();
        assert_eq!((o.pages, o.shown.as_str()), (Some(500), ""));
        assert_eq!(tmpfs_options("size=0", 1000).unwrap().pages, Some(1000));
        assert_eq!(tmpfs_options("size=5%%", 1000).err(), Some(Errno::EINVAL));
        assert_eq!(
            tmpfs_options("huge=always", 1000).err(),
            Some(Errno::EINVAL)
        );
    }
}
