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
pub mod ext2;
pub mod file;
pub mod ops;
pub mod path;
pub mod pipe;
pub mod procfs;
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
/// as an ext2 image's root), with devfs on /dev and a tmpfs on each of /tmp and
/// /run that exists. Returns it with the console state for
/// [`devfs::stdio_files`].
pub fn vfs_from_root(
    root: alloc::sync::Arc<dyn Inode>,
    fstype: &str,
    now: umbra_abi::structs::Timespec,
) -> crate::error::KResult<(Vfs, alloc::sync::Arc<devfs::ConsoleState>)> {
    let vfs = Vfs::new(root, fstype);
    let console = devfs::mount_devfs(&vfs, now)?;
    for dir in ["tmp", "run"] {
        if vfs
            .root()
            .inode()
            .lookup(dir)
            .is_ok_and(|d| d.kind() == FileType::Directory)
        {
            let fs = tmpfs::TmpFs::new(vfs.alloc_anon_dev(), now);
            vfs.mount_at(&alloc::format!("/{dir}"), fs.root(), "tmpfs")?;
        }
    }
    Ok((vfs, console))
}
