//! Filesystems: the VFS object model ([`vfs`]), path walking and mounts ([`path`]),
//! open file descriptions ([`file`]) and the path-based operations behind the
//! file syscalls ([`ops`]), with the filesystems themselves: [`tmpfs`] (also the
//! root unpacked from a [`cpio`] archive) and [`devfs`].
//!
//! At boot, [`vfs_from_cpio`] builds the usual name space: a tmpfs root unpacked
//! from an initramfs archive, with devfs mounted on /dev.

pub mod blockdev;
pub mod cpio;
pub mod devfs;
pub mod epoll;
pub mod eventfd;
pub mod ext2;
pub mod fifo;
pub mod file;
pub mod hostfs;
pub mod inotify;
pub mod lock;
pub mod ops;
pub mod path;
pub mod pipe;
pub mod procfs;
pub mod signalfd;
pub mod sysfs;
pub mod timerfd;
pub mod tmpfs;
pub mod vfs;

pub use path::{FollowLast, ParentLookup, PathNode, PathRef, Vfs};
pub use vfs::{
    Cred, DirEntry, FileOps, FileType, Inode, IoCtx, IoctlArg, Metadata, NewNode, PollEvents,
    SetAttr,
};

/// The device number of the root tmpfs made by [`vfs_from_cpio`].
pub const ROOT_TMPFS_DEV: u64 = vfs::makedev(0, 1);

/// A name space whose root is a tmpfs holding `archive` (cpio newc), with devfs
/// on /dev. Returns it with the console state for [`devfs::stdio_files`].
pub fn vfs_from_cpio(
    archive: &[u8],
    now: umbra_abi::structs::Timespec,
) -> Result<(Vfs, alloc::sync::Arc<devfs::ConsoleState>), cpio::CpioError> {
    let fs = tmpfs::TmpFs::new(ROOT_TMPFS_DEV, now);
    cpio::unpack_into(&fs.root(), archive, now)?;
    let vfs = Vfs::new(fs.root(), "tmpfs");
    let console = devfs::mount_devfs(&vfs, now).map_err(|errno| cpio::CpioError::Fs {
        name: alloc::string::String::from("/dev"),
        errno,
    })?;
    Ok((vfs, console))
}

/// A name space whose root is `root` (a directory of filesystem `fstype`, such
/// as an ext2 image's root), with devfs on /dev. Returns it with the console
/// state for [`devfs::stdio_files`]. (The kernel's boot adds procfs and the
/// tmpfs mounts on empty /tmp, /run and /dev/shm.)
pub fn vfs_from_root(
    root: alloc::sync::Arc<dyn Inode>,
    fstype: &str,
    now: umbra_abi::structs::Timespec,
) -> crate::error::KResult<(Vfs, alloc::sync::Arc<devfs::ConsoleState>)> {
    let vfs = Vfs::new(root, fstype);
    let console = devfs::mount_devfs(&vfs, now)?;
    Ok((vfs, console))
}

/// Whether `parent`/`name` is a directory holding nothing but "." and "..":
/// a filesystem mounted on it hides nothing.
pub fn dir_is_empty(vfs: &Vfs, parent: &str, name: &str) -> bool {
    let Ok(dir) = vfs
        .lookup(&vfs.root(), parent, FollowLast::Follow, &Cred::root())
        .and_then(|p| p.inode().lookup(name.as_bytes()))
    else {
        return false;
    };
    let mut off = 0;
    // "." and ".." come first; a filesystem may hand them out one at a time.
    for _ in 0..4 {
        match dir.readdir(off, 4) {
            Ok(e) if e.is_empty() => return true,
            Ok(e) => {
                if e.iter().any(|e| e.name != b"." && e.name != b"..") {
                    return false;
                }
                off = e.last().map_or(off, |e| e.next_off);
            }
            Err(_) => return false,
        }
    }
    false
}

/// Copies the part of `text` at `off` into `buf` (a read of a file whose
/// whole content is in memory: procfs and sysfs); the number of bytes.
pub(crate) fn copy_at(text: &[u8], off: u64, buf: &mut [u8]) -> usize {
    let Ok(off) = usize::try_from(off) else {
        return 0;
    };
    let src = text.get(off..).unwrap_or(&[]);
    let n = src.len().min(buf.len());
    buf[..n].copy_from_slice(&src[..n]);
    n
}
