//! Filesystems: the VFS object model ([`vfs`]), path walking and mounts ([`path`]),
//! open file descriptions ([`file`]) and the path-based operations behind the
//! file syscalls ([`ops`]), with the filesystems themselves: [`tmpfs`] (also the
//! root unpacked from a [`cpio`] archive) and [`devfs`].
//!
//! Typical boot sequence:
//! ```ignore
//! let vfs = fs::boot_vfs(initramfs_bytes, now)?; // tmpfs root + /dev
//! ```

pub mod devfs;
pub mod file;
pub mod path;
pub mod tmpfs;
pub mod vfs;

pub use path::{FollowLast, ParentLookup, PathNode, PathRef, Vfs};
pub use vfs::{
    Cred, DirEntry, FileOps, FileType, Inode, IoCtx, IoctlArg, Metadata, NewNode, PollEvents,
    SetAttr,
};
