//! sysfs: the part of /sys that common tools read to learn the machine's
//! CPUs. The guest is uniprocessor, so the tree is fixed: CPU 0, online,
//! possible and present (glibc's get_nprocs and get_nprocs_conf, nproc,
//! stress-ng and lscpu read these), with cpu0's topology.
//!
//! Nothing else of Linux's /sys is shown: a directory umbra cannot fill
//! truthfully is absent (ENOENT), not empty. Every file is read-only (0444):
//! a user without the right gets EACCES at open. Linux refuses root's open
//! for writing with EACCES too (kernfs_fop_open); umbra's VFS has no
//! open-time hook for that, so root's open succeeds and its writes get
//! EINVAL, never a silent success.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use umbra_abi::structs::Timespec;

use super::vfs::{DirEntry, FileOps, FileType, FsStats, Inode, IoCtx, Metadata, NAME_MAX};
use crate::error::{Errno, KResult};

/// statfs's f_type of sysfs (SYSFS_MAGIC).
pub const SYSFS_MAGIC: u32 = 0x6265_6572;

/// A node of the fixed tree: a directory of named nodes or a file's text.
enum Node {
    Dir(&'static [(&'static str, Node)]),
    File(&'static str),
}

const TOPOLOGY: &[(&str, Node)] = &[
    ("core_cpus_list", Node::File("0\n")),
    ("core_id", Node::File("0\n")),
    ("core_siblings_list", Node::File("0\n")),
    ("die_id", Node::File("0\n")),
    ("package_cpus_list", Node::File("0\n")),
    ("physical_package_id", Node::File("0\n")),
    ("thread_siblings_list", Node::File("0\n")),
];

const CPU0: &[(&str, Node)] = &[("topology", Node::Dir(TOPOLOGY))];

const CPU: &[(&str, Node)] = &[
    ("cpu0", Node::Dir(CPU0)),
    ("kernel_max", Node::File("0\n")),
    ("offline", Node::File("\n")),
    ("online", Node::File("0\n")),
    ("possible", Node::File("0\n")),
    ("present", Node::File("0\n")),
];

const SYSTEM: &[(&str, Node)] = &[("cpu", Node::Dir(CPU))];
const DEVICES: &[(&str, Node)] = &[("system", Node::Dir(SYSTEM))];
const ROOT: &[(&str, Node)] = &[("devices", Node::Dir(DEVICES))];
const ROOT_NODE: Node = Node::Dir(ROOT);

/// The root of a sysfs with device number `dev`.
pub fn new_sysfs(dev: u64) -> Arc<dyn Inode> {
    Arc::new(SysNode {
        dev,
        node: &ROOT_NODE,
        ino: 1,
    })
}

/// A node of sysfs: where it is in the tree. The inode number is its
/// position in a depth-first walk, stable across lookups.
struct SysNode {
    dev: u64,
    node: &'static Node,
    ino: u64,
}

/// Inode numbers: the root is 1; the children of a node with number `n`
/// are `n * 16 + 1 + index` (the tree has fewer than 16 entries a level).
fn child_ino(parent: u64, index: usize) -> u64 {
    parent.saturating_mul(16).saturating_add(1 + index as u64)
}

impl SysNode {
    fn entries(&self) -> &'static [(&'static str, Node)] {
        match self.node {
            Node::Dir(e) => e,
            Node::File(_) => &[],
        }
    }
}

impl Inode for SysNode {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn kind(&self) -> FileType {
        match self.node {
            Node::Dir(_) => FileType::Directory,
            Node::File(_) => FileType::Regular,
        }
    }

    fn metadata(&self) -> KResult<Metadata> {
        let (mode, nlink, size) = match self.node {
            Node::Dir(_) => (FileType::Directory.mode_bits() | 0o755, 2, 0),
            // Linux reports a page for every attribute, whatever its text.
            Node::File(_) => (FileType::Regular.mode_bits() | 0o444, 1, 4096),
        };
        Ok(Metadata {
            dev: self.dev,
            ino: self.ino,
            mode,
            nlink,
            uid: 0,
            gid: 0,
            rdev: 0,
            size,
            blksize: 4096,
            blocks: 0,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
        })
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        let Node::File(text) = self.node else {
            return Err(Errno::EISDIR);
        };
        Ok(super::copy_at(text.as_bytes(), off, buf))
    }

    fn lookup(&self, name: &[u8]) -> KResult<Arc<dyn Inode>> {
        let Node::Dir(entries) = self.node else {
            return Err(Errno::ENOTDIR);
        };
        let (i, (_, node)) = entries
            .iter()
            .enumerate()
            .find(|(_, (n, _))| n.as_bytes() == name)
            .ok_or(Errno::ENOENT)?;
        Ok(Arc::new(SysNode {
            dev: self.dev,
            node,
            ino: child_ino(self.ino, i),
        }))
    }

    fn readdir(&self, offset: u64, max: usize) -> KResult<Vec<DirEntry>> {
        if let Node::File(_) = self.node {
            return Err(Errno::ENOTDIR);
        }
        let dots = [(&b"."[..], self.ino), (&b".."[..], 1)];
        let mut out = Vec::new();
        let named = self.entries().iter().enumerate().map(|(i, (n, node))| {
            let kind = match node {
                Node::Dir(_) => FileType::Directory,
                Node::File(_) => FileType::Regular,
            };
            (n.as_bytes(), child_ino(self.ino, i), kind)
        });
        let all = dots
            .into_iter()
            .map(|(n, ino)| (n, ino, FileType::Directory))
            .chain(named);
        for (cursor, (name, ino, kind)) in all.enumerate() {
            let cursor = cursor as u64;
            if cursor < offset {
                continue;
            }
            if out.len() >= max.max(1) {
                break;
            }
            out.push(DirEntry {
                name: name.to_vec(),
                ino,
                kind,
                next_off: cursor + 1,
            });
        }
        Ok(out)
    }

    fn file_ops(&self) -> Option<Arc<dyn FileOps>> {
        match self.node {
            Node::File(text) => Some(Arc::new(SysFile(text))),
            Node::Dir(_) => None,
        }
    }

    fn statfs(&self) -> Option<FsStats> {
        Some(FsStats {
            f_type: SYSFS_MAGIC,
            bsize: 4096,
            namelen: NAME_MAX as u32,
            frsize: 4096,
            ..FsStats::default()
        })
    }
}

/// An open sysfs attribute.
struct SysFile(&'static str);

impl FileOps for SysFile {
    fn read(&self, _ctx: &mut dyn IoCtx, off: u64, buf: &mut [u8]) -> KResult<usize> {
        Ok(super::copy_at(self.0.as_bytes(), off, buf))
    }

    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn seekable(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::file::tests::TestHost;
    use crate::fs::path::{FollowLast, Vfs};
    use crate::fs::tmpfs::TmpFs;
    use crate::fs::vfs::{makedev, Cred, FsCtx, NewNode};
    use alloc::string::String;
    use umbra_abi::flags::{OpenFlags, O_RDONLY, O_WRONLY};

    fn setup() -> Vfs {
        let fs = TmpFs::new(makedev(0, 1), Timespec::default());
        let vfs = Vfs::new(fs.root(), "tmpfs");
        let attr = NewNode {
            kind: FileType::Directory,
            perm: 0o555,
            uid: 0,
            gid: 0,
            rdev: 0,
            now: Timespec::default(),
        };
        vfs.root().inode().create(b"sys", &attr).unwrap();
        vfs.mount_at("/sys", new_sysfs(makedev(0, 20)), "sysfs")
            .unwrap();
        vfs
    }

    fn read(vfs: &Vfs, path: &str) -> KResult<String> {
        let f = crate::fs::file::open(
            vfs,
            &FsCtx::boot(),
            &vfs.root(),
            path.as_bytes(),
            OpenFlags::from_bits_retain(O_RDONLY),
            0,
        )?;
        let mut b = [0u8; 64];
        let n = f.read(&mut TestHost::default(), &mut b)?;
        Ok(String::from_utf8_lossy(&b[..n]).into_owned())
    }

    #[test]
    fn cpu_files_say_one_cpu() {
        let vfs = setup();
        for f in ["online", "possible", "present"] {
            assert_eq!(
                read(&vfs, &alloc::format!("/sys/devices/system/cpu/{f}")).unwrap(),
                "0\n"
            );
        }
        assert_eq!(
            read(&vfs, "/sys/devices/system/cpu/cpu0/topology/core_id").unwrap(),
            "0\n"
        );
        assert_eq!(
            read(&vfs, "/sys/devices/system/cpu/cpu1"),
            Err(Errno::ENOENT)
        );
        assert_eq!(read(&vfs, "/sys/kernel"), Err(Errno::ENOENT));
        let cpu = vfs
            .lookup(
                &vfs.root(),
                "/sys/devices/system/cpu",
                FollowLast::Follow,
                &Cred::root(),
            )
            .unwrap();
        let names: Vec<Vec<u8>> = cpu
            .inode()
            .readdir(0, 100)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(
            names[..3],
            [b".".to_vec(), b"..".to_vec(), b"cpu0".to_vec()]
        );
        assert_eq!(names.len(), 8);
        // Resuming at a cursor gives the rest.
        assert_eq!(cpu.inode().readdir(7, 100).unwrap().len(), 1);
        let f = crate::fs::file::open(
            &vfs,
            &FsCtx::boot(),
            &vfs.root(),
            b"/sys/devices/system/cpu/online",
            OpenFlags::from_bits_retain(O_WRONLY),
            0,
        )
        .unwrap();
        assert_eq!(f.write(&mut TestHost::default(), b"1"), Err(Errno::EINVAL));
        assert_eq!(cpu.inode().statfs().map(|s| s.f_type), Some(SYSFS_MAGIC));
    }
}
