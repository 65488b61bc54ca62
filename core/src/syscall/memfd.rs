//! memfd_create(2) and file sealing (fcntl F_ADD_SEALS, F_GET_SEALS).
//!
//! A memfd is a tmpfs file with no name in any directory: it lives on a
//! tmpfs of its own, made at the first call, and is unlinked as soon as it
//! is made. Its seals are kept by the tmpfs inode, which enforces them on
//! every write and truncate however they arrive (write, pwrite, sendfile,
//! copy_file_range, fallocate). Every tmpfs file has seals (F_SEAL_SEAL from
//! the start, as on Linux); files of other filesystems have none (EINVAL).

use crate::fs::file::OpenFile;
use crate::fs::tmpfs::{seal, TmpInode};
use crate::fs::{FileType, Inode, NewNode};
use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::fd_table::FdFlags;
use crate::{KResult, SysResult};
use alloc::sync::Arc;
use umbra_abi::flags::OpenFlags;
use umbra_abi::Errno;

const MFD_CLOEXEC: u32 = 0x1;
const MFD_ALLOW_SEALING: u32 = 0x2;
const MFD_HUGETLB: u32 = 0x4;
const MFD_NOEXEC_SEAL: u32 = 0x8;
const MFD_EXEC: u32 = 0x10;
/// The longest name: NAME_MAX less the "memfd:" prefix.
const MFD_NAME_MAX: usize = 255 - 6;

pub const F_ADD_SEALS: u32 = 1033;
pub const F_GET_SEALS: u32 = 1034;

/// Whether `cmd` is a sealing command of fcntl.
pub fn is_seal_cmd(cmd: u32) -> bool {
    cmd == F_ADD_SEALS || cmd == F_GET_SEALS
}

/// memfd_create(2).
pub fn sys_memfd_create<H: Host>(k: &mut Kernel<H>, name: u64, flags: u32) -> SysResult {
    // MFD_HUGETLB's page-size bits (26..31) go with MFD_HUGETLB only; umbra
    // has no huge pages, so both are refused.
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC) != 0
        || flags & MFD_HUGETLB != 0
    {
        return Err(Errno::EINVAL);
    }
    if flags & MFD_EXEC != 0 && flags & MFD_NOEXEC_SEAL != 0 {
        return Err(Errno::EINVAL);
    }
    match k.user().read_cstr(name, MFD_NAME_MAX) {
        Ok(_) => {}
        Err(Errno::ENAMETOOLONG) => return Err(Errno::EINVAL),
        Err(e) => return Err(e),
    }
    let now = crate::fs::vfs::timespec_from_ns(k.host.now_real());
    let root = match &k.memfd_root {
        Some(r) => r.clone(),
        None => {
            // Linux's internal shm mount has no size of its own: its pages
            // are the machine's memory. Here they are bounded by the guest's
            // memory, with every other tmpfs's data.
            let size = (k.frames.total() as u64).saturating_mul(4096);
            let fs = k.new_tmpfs(now, size);
            let r = fs.root();
            k.memfd_root = Some(r.clone());
            r
        }
    };
    let (uid, gid) = (k.proc().euid, k.proc().egid);
    let perm = if flags & MFD_NOEXEC_SEAL != 0 {
        0o666
    } else {
        0o777
    };
    let attr = NewNode {
        kind: FileType::Regular,
        perm,
        uid,
        gid,
        rdev: 0,
        now,
    };
    // Linked under a fixed name and unlinked at once (the directory is
    // always empty): the open file keeps the inode.
    let inode = root.create(b"memfd", &attr)?;
    root.unlink(b"memfd", now)?;
    let t = inode
        .as_any()
        .downcast_ref::<TmpInode>()
        .ok_or(Errno::EINVAL)?;
    if flags & MFD_NOEXEC_SEAL != 0 {
        t.set_seals(seal::EXEC);
    } else if flags & MFD_ALLOW_SEALING != 0 {
        t.set_seals(0);
    }
    let fl = OpenFlags::from_bits_retain(umbra_abi::flags::O_RDWR) | OpenFlags::O_LARGEFILE;
    let file = OpenFile::anonymous(inode, fl);
    let fdfl = if flags & MFD_CLOEXEC != 0 {
        FdFlags::CLOEXEC
    } else {
        FdFlags::empty()
    };
    k.proc().fds.alloc(file, 0, fdfl).map(|fd| fd as usize)
}

fn tmpfs_inode(f: &OpenFile) -> KResult<&TmpInode> {
    f.inode()
        .and_then(|i: &Arc<dyn Inode>| i.as_any().downcast_ref::<TmpInode>())
        .filter(|t| t.kind() == FileType::Regular)
        .ok_or(Errno::EINVAL)
}

/// fcntl F_ADD_SEALS and F_GET_SEALS.
pub fn sys_fcntl_seals<H: Host>(k: &mut Kernel<H>, fd: i32, cmd: u32, arg: u64) -> SysResult {
    let f = k.proc().fds.get(fd)?;
    if cmd == F_GET_SEALS {
        return Ok(tmpfs_inode(&f)?.seals() as usize);
    }
    if !f.writable() {
        return Err(Errno::EPERM);
    }
    let seals = u32::try_from(arg).map_err(|_| Errno::EINVAL)?;
    if seals & !seal::ALL != 0 {
        return Err(Errno::EINVAL);
    }
    tmpfs_inode(&f)?.add_seals(seals)?;
    Ok(0)
}

/// The seals of the file behind `f`, if it has any (tmpfs files).
pub fn seals_of(f: &OpenFile) -> u32 {
    tmpfs_inode(f).map_or(0, |t| t.seals())
}
