//! The host calls of hostfs (see `crate::hostdir`): every name is one path
//! component resolved beneath a directory fd umbra holds, by openat2 with
//! RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV, or by the `*at` calls that never follow a last symlink
//! (mkdirat, mknodat, unlinkat, renameat2, symlinkat); node operations use
//! the node's own fd (statx, readlinkat and fchownat with an empty path,
//! fchmod, ftruncate, pread/pwrite, utimensat). No call here takes a host
//! path longer than one component, and none follows a symlink.

use super::{check, raw, Errno};
use umbra_abi::structs::Statx;

pub const O_RDONLY: u64 = 0;
pub const O_RDWR: u64 = 2;
pub const O_CREAT: u64 = 0o100;
pub const O_EXCL: u64 = 0o200;
pub const O_NOCTTY: u64 = 0o400;
#[cfg(target_arch = "x86_64")]
pub const O_DIRECTORY: u64 = 0o200000;
#[cfg(target_arch = "x86_64")]
const O_NOFOLLOW: u64 = 0o400000;
#[cfg(not(target_arch = "x86_64"))]
pub const O_DIRECTORY: u64 = 0o40000;
#[cfg(not(target_arch = "x86_64"))]
const O_NOFOLLOW: u64 = 0o100000;
const O_CLOEXEC: u64 = 0o2000000;
pub const O_PATH: u64 = 0o10000000;

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

const AT_EMPTY_PATH: usize = 0x1000;
const AT_SYMLINK_NOFOLLOW: usize = 0x100;
const AT_REMOVEDIR: usize = 0x200;

/// Whether openat2 works on this host kernel (Linux 5.6 and later): 0 not
/// probed yet, 1 yes, 2 no (lookups then use [`open_walk`]).
static OPENAT2: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Finds out (once, before umbra confines itself) whether openat2 works,
/// from a directory fd umbra holds.
pub fn probe_openat2(dir: i32) -> bool {
    use std::sync::atomic::Ordering;
    // Test hook (debug builds only): use the openat walk, as on old kernels.
    #[cfg(debug_assertions)]
    if std::env::var_os("UMBRA_TEST_NO_OPENAT2").is_some() {
        OPENAT2.store(2, Ordering::Relaxed);
    }
    if OPENAT2.load(Ordering::Relaxed) == 0 {
        let works = match openat2(dir, c".", O_PATH | O_CLOEXEC | O_NOFOLLOW) {
            Ok(fd) => {
                close(fd);
                true
            }
            Err(e) => e != Errno::ENOSYS,
        };
        OPENAT2.store(if works { 1 } else { 2 }, Ordering::Relaxed);
    }
    OPENAT2.load(Ordering::Relaxed) == 1
}

/// The syscall numbers hostfs uses: (read-only use, write-through use).
/// openat where openat2 is missing ([`probe_openat2`]).
pub fn syscalls() -> (Vec<usize>, Vec<usize>) {
    let open = if OPENAT2.load(std::sync::atomic::Ordering::Relaxed) == 2 {
        libc::SYS_openat as usize
    } else {
        libc::SYS_openat2 as usize
    };
    let ro = vec![
        open,
        FSTATFS,
        libc::SYS_statx as usize,
        libc::SYS_getdents64 as usize,
        libc::SYS_readlinkat as usize,
    ];
    let rw = vec![
        libc::SYS_mkdirat as usize,
        libc::SYS_mknodat as usize,
        libc::SYS_unlinkat as usize,
        libc::SYS_renameat2 as usize,
        libc::SYS_symlinkat as usize,
        libc::SYS_linkat as usize,
        libc::SYS_fchmod as usize,
        FCHMODAT2,
        libc::SYS_fchownat as usize,
        UTIMENSAT,
        FTRUNCATE,
    ];
    (ro, rw)
}

/// fchmodat2 (Linux 6.6; the same number on every arch).
const FCHMODAT2: usize = 452;
#[cfg(target_arch = "arm")]
const FSTATFS: usize = libc::SYS_fstatfs64 as usize;
#[cfg(not(target_arch = "arm"))]
const FSTATFS: usize = libc::SYS_fstatfs as usize;
#[cfg(target_arch = "arm")]
const UTIMENSAT: usize = 412; // utimensat_time64
#[cfg(not(target_arch = "arm"))]
const UTIMENSAT: usize = libc::SYS_utimensat as usize;
#[cfg(target_arch = "arm")]
const FTRUNCATE: usize = libc::SYS_ftruncate64 as usize;
#[cfg(not(target_arch = "arm"))]
const FTRUNCATE: usize = libc::SYS_ftruncate as usize;

/// A name as a NUL-terminated C string; EINVAL if it is not one component
/// ("." is allowed: the directory itself).
fn cname(name: &[u8]) -> Result<Vec<u8>, Errno> {
    if name.is_empty() || name == b".." || name.contains(&b'/') || name.contains(&0) {
        return Err(Errno::EINVAL);
    }
    let mut v = Vec::with_capacity(name.len() + 1);
    v.extend_from_slice(name);
    v.push(0);
    Ok(v)
}

/// struct open_how.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// The one component `name` beneath `dir`, never following a symlink,
/// never leaving `dir`'s mount: openat2 with RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, or
/// [`open_walk`] where the host kernel lacks openat2.
pub fn open_beneath(dir: i32, name: &[u8], flags: u64, mode: u32) -> Result<i32, Errno> {
    let c = cname(name)?;
    // openat2 refuses O_PATH with any flag but these three.
    let flags = flags | O_CLOEXEC | O_NOFOLLOW | if flags & O_PATH == 0 { O_NOCTTY } else { 0 };
    if OPENAT2.load(std::sync::atomic::Ordering::Relaxed) == 2 {
        return open_walk(dir, &c, flags, mode);
    }
    let how = OpenHow {
        flags,
        mode: if flags & O_CREAT != 0 {
            u64::from(mode)
        } else {
            0
        },
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    // EAGAIN: a rename anywhere on the host raced with the resolution
    // (RESOLVE_BENEATH's check); try again a few times.
    let mut tries = 0;
    loop {
        // SAFETY: `c` is a NUL-terminated string and `how` an open_how, both
        // alive for the call, which only reads them.
        let r = check(unsafe {
            raw::syscall6(
                libc::SYS_openat2 as usize,
                dir as usize,
                c.as_ptr() as usize,
                &how as *const OpenHow as usize,
                core::mem::size_of::<OpenHow>(),
                0,
                0,
            )
        });
        match r {
            Err(Errno::EAGAIN) if tries < 8 => tries += 1,
            r => return r.map(|fd| fd as i32),
        }
    }
}

/// openat2 with no resolve flags (the probe).
fn openat2(dir: i32, name: &core::ffi::CStr, flags: u64) -> Result<i32, Errno> {
    let how = OpenHow {
        flags,
        mode: 0,
        resolve: RESOLVE_BENEATH,
    };
    // SAFETY: `name` is a C string and `how` an open_how, alive for the call.
    let fd = check(unsafe {
        raw::syscall6(
            libc::SYS_openat2 as usize,
            dir as usize,
            name.as_ptr() as usize,
            &how as *const OpenHow as usize,
            core::mem::size_of::<OpenHow>(),
            0,
            0,
        )
    })?;
    Ok(fd as i32)
}

/// What openat2 does for one component, without it: openat of a name that
/// is one component (no '/', not ".."; `c` NUL-terminated) with O_NOFOLLOW
/// (a last symlink is ELOOP, or the link itself with O_PATH; there is no
/// other component to follow one in, and magic links live only in procfs,
/// which is another mount), then EXDEV unless the node is on `dir`'s mount
/// (RESOLVE_NO_XDEV: a mount point in the tree is not crossed).
pub fn open_walk(dir: i32, c: &[u8], flags: u64, mode: u32) -> Result<i32, Errno> {
    if c.last() != Some(&0) || c[..c.len() - 1].contains(&b'/') || c == b"..\0" {
        return Err(Errno::EINVAL);
    }
    // SAFETY: `c` is a NUL-terminated string alive for the call.
    let fd = check(unsafe {
        raw::syscall6(
            libc::SYS_openat as usize,
            dir as usize,
            c.as_ptr() as usize,
            (flags | O_NOFOLLOW | O_CLOEXEC) as usize,
            mode as usize,
            0,
            0,
        )
    })? as i32;
    let same = match (stat_fd(dir), stat_fd(fd)) {
        (Ok(a), Ok(b)) => {
            a.stx_mnt_id == b.stx_mnt_id
                && a.stx_dev_major == b.stx_dev_major
                && a.stx_dev_minor == b.stx_dev_minor
        }
        _ => false,
    };
    if !same {
        close(fd);
        return Err(Errno(18)); // EXDEV
    }
    Ok(fd)
}

/// statx of the node `fd` refers to (itself, not a symlink's target).
pub fn stat_fd(fd: i32) -> Result<Statx, Errno> {
    let mut buf = [0u8; 256];
    // SAFETY: the path is an empty C string; `buf` is a writable struct statx
    // (256 bytes) alive for the call.
    check(unsafe {
        raw::syscall6(
            libc::SYS_statx as usize,
            fd as usize,
            c"".as_ptr() as usize,
            AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
            0x7ff, // STATX_BASIC_STATS
            buf.as_mut_ptr() as usize,
            0,
        )
    })?;
    Ok(<Statx as umbra_abi::pod::Pod>::decode(&buf))
}

/// getdents64 into `buf`; the bytes filled (0 at the end).
pub fn getdents(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length.
    check(unsafe {
        raw::syscall6(
            libc::SYS_getdents64 as usize,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
            0,
            0,
        )
    })
}

/// The target of the symlink `fd` (an O_PATH fd of the link) refers to.
pub fn readlink_fd(fd: i32) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: empty C string path; `buf` is writable for its length.
    let n = check(unsafe {
        raw::syscall6(
            libc::SYS_readlinkat as usize,
            fd as usize,
            c"".as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
            0,
        )
    })?;
    buf.truncate(n);
    Ok(buf)
}

/// The offset of pread64 and pwrite64 as the arch passes it: one register,
/// or on arm EABI a register pair aligned after a padding register.
fn offset_args(off: u64) -> [usize; 3] {
    if cfg!(target_arch = "arm") {
        [0, off as u32 as usize, (off >> 32) as usize]
    } else {
        [off as usize, 0, 0]
    }
}

/// pread64.
pub fn pread(fd: i32, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let [a, b, c] = offset_args(off);
    // SAFETY: `buf` is writable for its length.
    let r = unsafe {
        raw::syscall6(
            raw::nr::PREAD64,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            a,
            b,
            c,
        )
    };
    check(r)
}

/// pwrite64.
pub fn pwrite(fd: i32, off: u64, buf: &[u8]) -> Result<usize, Errno> {
    let [a, b, c] = offset_args(off);
    // SAFETY: `buf` is readable for its length.
    let r = unsafe {
        raw::syscall6(
            raw::nr::PWRITE64,
            fd as usize,
            buf.as_ptr() as usize,
            buf.len(),
            a,
            b,
            c,
        )
    };
    check(r)
}

/// preadv: fills `bufs` in order from `off` (at most IOV_MAX of them).
/// The offset goes as two longs, low then high, on every arch.
pub fn preadv(fd: i32, off: u64, bufs: &mut [std::io::IoSliceMut<'_>]) -> Result<usize, Errno> {
    let n = bufs.len().min(IOV_MAX);
    // SAFETY: `IoSliceMut` is ABI-compatible with `struct iovec` (std
    // guarantees it on Unix), and each one is a writable buffer for its
    // length; the kernel reads the `n` iovecs and writes only into them.
    let r = unsafe {
        raw::syscall6(
            raw::nr::PREADV,
            fd as usize,
            bufs.as_mut_ptr() as usize,
            n,
            off as usize,
            (off >> 32) as usize,
            0,
        )
    };
    check(r)
}

/// pwritev: writes `bufs` in order at `off` (at most IOV_MAX of them).
pub fn pwritev(fd: i32, off: u64, bufs: &[std::io::IoSlice<'_>]) -> Result<usize, Errno> {
    let n = bufs.len().min(IOV_MAX);
    // SAFETY: `IoSlice` is ABI-compatible with `struct iovec` (std
    // guarantees it on Unix), and each one is a readable buffer for its
    // length; the kernel only reads the `n` iovecs and their bytes.
    let r = unsafe {
        raw::syscall6(
            raw::nr::PWRITEV,
            fd as usize,
            bufs.as_ptr() as usize,
            n,
            off as usize,
            (off >> 32) as usize,
            0,
        )
    };
    check(r)
}

/// The most iovecs one preadv or pwritev takes (Linux's UIO_MAXIOV).
const IOV_MAX: usize = 1024;

/// ftruncate (ftruncate64 on arm).
pub fn ftruncate(fd: i32, size: u64) -> Result<(), Errno> {
    #[cfg(target_arch = "arm")]
    let a = [
        fd as usize,
        0,
        size as u32 as usize,
        (size >> 32) as usize,
        0,
        0,
    ];
    #[cfg(not(target_arch = "arm"))]
    let a = [fd as usize, size as usize, 0, 0, 0, 0];
    // SAFETY: no pointers.
    unsafe { super::sc(FTRUNCATE, a) }.map(|_| ())
}

/// fsync.
pub fn fsync(fd: i32) -> Result<(), Errno> {
    // SAFETY: no pointers.
    unsafe { super::sc(raw::nr::FSYNC, [fd as usize, 0, 0, 0, 0, 0]) }.map(|_| ())
}

/// close.
pub fn close(fd: i32) {
    // SAFETY: no pointers; `fd` is one of umbra's own hostfs fds.
    let _ = unsafe { super::sc(raw::nr::CLOSE, [fd as usize, 0, 0, 0, 0, 0]) };
}

/// mkdirat of one component.
pub fn mkdir_at(dir: i32, name: &[u8], perm: u32) -> Result<(), Errno> {
    let c = cname(name)?;
    // SAFETY: `c` is a NUL-terminated string alive for the call.
    unsafe {
        super::sc(
            libc::SYS_mkdirat as usize,
            [dir as usize, c.as_ptr() as usize, perm as usize, 0, 0, 0],
        )
    }
    .map(|_| ())
}

/// mknodat of a fifo or socket (never a device) of one component.
pub fn mknod_at(dir: i32, name: &[u8], mode: u32) -> Result<(), Errno> {
    let kind = mode & 0o170000;
    if kind != 0o010000 && kind != 0o140000 {
        return Err(Errno::EPERM);
    }
    let c = cname(name)?;
    // SAFETY: `c` is a NUL-terminated string alive for the call; dev is 0.
    unsafe {
        super::sc(
            libc::SYS_mknodat as usize,
            [dir as usize, c.as_ptr() as usize, mode as usize, 0, 0, 0],
        )
    }
    .map(|_| ())
}

/// unlinkat of one component (with `is_dir`, rmdir).
pub fn unlink_at(dir: i32, name: &[u8], is_dir: bool) -> Result<(), Errno> {
    let c = cname(name)?;
    let flags = if is_dir { AT_REMOVEDIR } else { 0 };
    // SAFETY: `c` is a NUL-terminated string alive for the call.
    unsafe {
        super::sc(
            libc::SYS_unlinkat as usize,
            [dir as usize, c.as_ptr() as usize, flags, 0, 0, 0],
        )
    }
    .map(|_| ())
}

/// renameat2 (flags 0) between two directories, one component each.
pub fn rename_at(from: i32, name: &[u8], to: i32, new: &[u8]) -> Result<(), Errno> {
    let (a, b) = (cname(name)?, cname(new)?);
    // SAFETY: `a` and `b` are NUL-terminated strings alive for the call.
    unsafe {
        super::sc(
            libc::SYS_renameat2 as usize,
            [
                from as usize,
                a.as_ptr() as usize,
                to as usize,
                b.as_ptr() as usize,
                0,
                0,
            ],
        )
    }
    .map(|_| ())
}

/// symlinkat: `name` in `dir` pointing at `target` (stored, never followed
/// by umbra's host side).
pub fn symlink_at(target: &[u8], dir: i32, name: &[u8]) -> Result<(), Errno> {
    if target.is_empty() || target.contains(&0) {
        return Err(Errno::EINVAL);
    }
    let mut t = target.to_vec();
    t.push(0);
    let c = cname(name)?;
    // SAFETY: `t` and `c` are NUL-terminated strings alive for the call.
    unsafe {
        super::sc(
            libc::SYS_symlinkat as usize,
            [
                t.as_ptr() as usize,
                dir as usize,
                c.as_ptr() as usize,
                0,
                0,
                0,
            ],
        )
    }
    .map(|_| ())
}

/// linkat(fd, "", dir, name, AT_EMPTY_PATH): a new name for the node `fd`.
pub fn link_fd(fd: i32, dir: i32, name: &[u8]) -> Result<(), Errno> {
    let c = cname(name)?;
    // SAFETY: the empty path and `c` are NUL-terminated strings alive for the call.
    unsafe {
        super::sc(
            libc::SYS_linkat as usize,
            [
                fd as usize,
                c"".as_ptr() as usize,
                dir as usize,
                c.as_ptr() as usize,
                AT_EMPTY_PATH,
                0,
            ],
        )
    }
    .map(|_| ())
}

/// fchmod (not on O_PATH fds: EBADF).
pub fn chmod_fd(fd: i32, perm: u32) -> Result<(), Errno> {
    // SAFETY: no pointers.
    unsafe {
        super::sc(
            libc::SYS_fchmod as usize,
            [fd as usize, perm as usize, 0, 0, 0, 0],
        )
    }
    .map(|_| ())
}

/// fchmodat2(fd, "", perm, AT_EMPTY_PATH): chmod of the node an O_PATH fd
/// refers to (a fifo or socket; a symlink gives EOPNOTSUPP, as on Linux).
pub fn chmod_path_fd(fd: i32, perm: u32) -> Result<(), Errno> {
    // SAFETY: the empty path is a NUL-terminated string.
    unsafe {
        super::sc(
            FCHMODAT2,
            [
                fd as usize,
                c"".as_ptr() as usize,
                perm as usize,
                AT_EMPTY_PATH,
                0,
                0,
            ],
        )
    }
    .map(|_| ())
}

/// fchownat(fd, "", uid, gid, AT_EMPTY_PATH); -1 leaves an id unchanged.
pub fn chown_fd(fd: i32, uid: u32, gid: u32) -> Result<(), Errno> {
    // SAFETY: the empty path is a NUL-terminated string.
    unsafe {
        super::sc(
            libc::SYS_fchownat as usize,
            [
                fd as usize,
                c"".as_ptr() as usize,
                uid as usize,
                gid as usize,
                AT_EMPTY_PATH,
                0,
            ],
        )
    }
    .map(|_| ())
}

/// UTIME_OMIT.
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// utimensat(fd, "", times, AT_EMPTY_PATH) with 64-bit timespecs
/// ([sec, nsec] for atime, then mtime).
pub fn utimens_fd(fd: i32, times: [[i64; 2]; 2]) -> Result<(), Errno> {
    // SAFETY: the empty path is a NUL-terminated string; `times` is two
    // struct __kernel_timespec, alive for the call.
    unsafe {
        super::sc(
            UTIMENSAT,
            [
                fd as usize,
                c"".as_ptr() as usize,
                times.as_ptr() as usize,
                AT_EMPTY_PATH,
                0,
                0,
            ],
        )
    }
    .map(|_| ())
}

/// Raises umbra's soft limit on open files to the hard limit (before
/// confinement): every host node the guest holds is an fd of umbra's.
pub fn raise_nofile_limit() {
    let mut lim = [0u64; 2];
    // SAFETY: prlimit64(0 = self, RLIMIT_NOFILE, NULL, &old): `lim` is a
    // writable struct rlimit64 alive for the call.
    let got = check(unsafe {
        raw::syscall6(
            libc::SYS_prlimit64 as usize,
            0,
            libc::RLIMIT_NOFILE as usize,
            0,
            lim.as_mut_ptr() as usize,
            0,
            0,
        )
    });
    if got.is_err() || lim[0] >= lim[1] {
        return;
    }
    lim[0] = lim[1];
    // SAFETY: as above, setting from `lim` (read-only for the call).
    let _ = check(unsafe {
        raw::syscall6(
            libc::SYS_prlimit64 as usize,
            0,
            libc::RLIMIT_NOFILE as usize,
            lim.as_ptr() as usize,
            0,
            0,
            0,
        )
    });
}

/// Landlock's filesystem rights (LANDLOCK_ACCESS_FS_*), by ABI version.
mod ll {
    pub const WRITE_FILE: u64 = 1 << 1;
    pub const READ_FILE: u64 = 1 << 2;
    pub const READ_DIR: u64 = 1 << 3;
    pub const REMOVE_DIR: u64 = 1 << 4;
    pub const REMOVE_FILE: u64 = 1 << 5;
    pub const MAKE_DIR: u64 = 1 << 7;
    pub const MAKE_REG: u64 = 1 << 8;
    pub const MAKE_SOCK: u64 = 1 << 9;
    pub const MAKE_FIFO: u64 = 1 << 10;
    pub const MAKE_SYM: u64 = 1 << 12;
    /// ABI 1: EXECUTE .. MAKE_SYM.
    pub const ABI1: u64 = (1 << 13) - 1;
    pub const REFER: u64 = 1 << 13;
    pub const TRUNCATE: u64 = 1 << 14;
    pub const IOCTL_DEV: u64 = 1 << 15;
}

const LANDLOCK_CREATE_RULESET: usize = 444;
const LANDLOCK_ADD_RULE: usize = 445;
const LANDLOCK_RESTRICT_SELF: usize = 446;

/// Restricts umbra (and the stubs it forks later) with Landlock, where the
/// host kernel has it: from now on files can be opened for reading only
/// beneath the directories `dirs` (fd, written through) and for writing or
/// created, removed or renamed only beneath those written through; nothing
/// else on the host, whatever path or fd a call names. A second wall behind
/// hostfs's own checks (`open_beneath`) and the seccomp filter (which cannot
/// read paths). Returns the Landlock ABI version used, or `None` when the
/// host kernel lacks Landlock (the other two walls stand alone then).
pub fn landlock_beneath(dirs: &[(i32, bool)]) -> Result<Option<u32>, Errno> {
    // SAFETY: no pointers (LANDLOCK_CREATE_RULESET_VERSION).
    let abi = match unsafe { super::sc(LANDLOCK_CREATE_RULESET, [0, 0, 1, 0, 0, 0]) } {
        Ok(v) => v as u32,
        Err(_) => return Ok(None),
    };
    let mut handled = ll::ABI1;
    let mut write = ll::WRITE_FILE
        | ll::REMOVE_DIR
        | ll::REMOVE_FILE
        | ll::MAKE_DIR
        | ll::MAKE_REG
        | ll::MAKE_SOCK
        | ll::MAKE_FIFO
        | ll::MAKE_SYM;
    if abi >= 2 {
        handled |= ll::REFER;
        write |= ll::REFER;
    }
    if abi >= 3 {
        handled |= ll::TRUNCATE;
        write |= ll::TRUNCATE;
    }
    if abi >= 5 {
        handled |= ll::IOCTL_DEV;
    }
    let attr = handled; // struct landlock_ruleset_attr, its first field only
                        // SAFETY: `attr` is a readable u64 (the 8-byte prefix of the struct),
                        // alive for the call.
    let rs = unsafe {
        super::sc(
            LANDLOCK_CREATE_RULESET,
            [&attr as *const u64 as usize, 8, 0, 0, 0, 0],
        )
    }? as i32;
    let r = (|| {
        for &(fd, rw) in dirs {
            // struct landlock_path_beneath_attr (packed): u64 allowed_access,
            // s32 parent_fd.
            let allowed = ll::READ_FILE | ll::READ_DIR | if rw { write } else { 0 };
            let mut rule = [0u8; 12];
            rule[..8].copy_from_slice(&allowed.to_ne_bytes());
            rule[8..].copy_from_slice(&fd.to_ne_bytes());
            // SAFETY: `rule` is the 12-byte packed struct, alive for the call.
            unsafe {
                super::sc(
                    LANDLOCK_ADD_RULE,
                    [rs as usize, 1, rule.as_ptr() as usize, 0, 0, 0],
                )
            }?;
        }
        super::seccomp::set_no_new_privs()?;
        // SAFETY: no pointers.
        unsafe { super::sc(LANDLOCK_RESTRICT_SELF, [rs as usize, 0, 0, 0, 0, 0]) }.map(|_| ())
    })();
    close(rs);
    r.map(|()| Some(abi))
}

/// Test hook (debug builds): openat2(AT_FDCWD, `path`, O_RDONLY) with no
/// resolve flags, as a compromised umbra could call it once confined
/// (seccomp allows openat2 with a host directory granted); Landlock must
/// refuse it outside the granted directories.
#[cfg(debug_assertions)]
pub fn open_anywhere_for_tests(path: &std::ffi::CStr) -> Result<(), Errno> {
    let how = OpenHow {
        flags: O_CLOEXEC,
        mode: 0,
        resolve: 0,
    };
    // SAFETY: `path` is a C string and `how` an open_how, alive for the call.
    let fd = check(unsafe {
        raw::syscall6(
            libc::SYS_openat2 as usize,
            (-100i32) as usize, // AT_FDCWD
            path.as_ptr() as usize,
            &how as *const OpenHow as usize,
            core::mem::size_of::<OpenHow>(),
            0,
            0,
        )
    })?;
    close(fd as i32);
    Ok(())
}

/// What fstatfs tells of the filesystem holding `fd`: type, block size,
/// blocks, free, available, files, free files, name length, fragment size.
pub fn statfs_fd(fd: i32) -> Result<[u64; 9], Errno> {
    #[cfg(target_arch = "arm")]
    // SAFETY: an all-zero struct statfs64 is valid (integers only).
    let mut st: libc::statfs64 = unsafe { core::mem::zeroed() };
    #[cfg(target_arch = "arm")]
    // SAFETY: `st` is a writable struct statfs64 alive for the call.
    let r = unsafe { libc::fstatfs64(fd, &mut st) };
    #[cfg(not(target_arch = "arm"))]
    // SAFETY: an all-zero struct statfs is valid (integers only).
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    #[cfg(not(target_arch = "arm"))]
    // SAFETY: `st` is a writable struct statfs alive for the call.
    let r = unsafe { libc::fstatfs(fd, &mut st) };
    if r != 0 {
        return Err(Errno(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(5),
        ));
    }
    Ok([
        st.f_type as u64,
        st.f_bsize as u64,
        st.f_blocks as u64,
        st.f_bfree as u64,
        st.f_bavail as u64,
        st.f_files as u64,
        st.f_ffree as u64,
        st.f_namelen as u64,
        st.f_frsize as u64,
    ])
}
