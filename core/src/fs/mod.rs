//! Filesystems: the VFS object model ([`vfs`]), path walking and mounts ([`path`]),
//! open file descriptions ([`file`]) and the path-based operations behind the
//! file syscalls ([`ops`]), with the filesystems themselves: [`tmpfs`] (also the
//! root unpacked from a [`cpio`] archive) and [`devfs`].
//!
//! At boot, [`vfs_from_cpio`] builds the usual name space: a tmpfs root unpacked
//! from an initramfs archive, with devfs mounted on /dev.

pub mod cpio;
pub mod devfs;
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
