//! A small writer for newc cpio archives, the initrd format `umbra run --initrd`
//! unpacks into the guest's root tmpfs.
//!
//! The format is the one `cpio -H newc` writes and the Linux kernel reads for an
//! initramfs: per entry a 110-byte ASCII header (magic `070701`, then thirteen
//! 8-digit hex fields), the NUL-terminated name padded to 4 bytes, and the data
//! padded to 4 bytes; the archive ends with an entry named `TRAILER!!!`. Names
//! are relative (`bin/sh`, not `/bin/sh`), as `find . | cpio -o` writes them.
//!
//! Everything is owned by root with mtime 0, and entries are emitted in path
//! order, so a parent directory always precedes its children and the same input
//! gives the same bytes.
//!
//! This file is shared, via `#[path]`, by the `umbra-tests` crate and by xtask,
//! so it uses std only.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::Command;

/// The file-type bits of `st_mode`, as in `<sys/stat.h>`.
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// What one archive entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A directory with its permission bits.
    Dir { perm: u32 },
    /// A regular file with its permission bits and contents.
    File { perm: u32, data: Vec<u8> },
    /// A symbolic link to `target`.
    Symlink { target: String },
}

/// An initrd being put together in memory.
#[derive(Clone, Debug, Default)]
pub struct Initrd {
    entries: BTreeMap<String, Node>,
}

impl Initrd {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory, and any missing parents with mode 0755.
    pub fn dir(&mut self, path: &str, perm: u32) -> &mut Self {
        self.insert(path, Node::Dir { perm })
    }

    /// Adds a regular file, creating missing parents.
    pub fn file(&mut self, path: &str, perm: u32, data: impl Into<Vec<u8>>) -> &mut Self {
        let data = data.into();
        self.insert(path, Node::File { perm, data })
    }

    /// Adds a symbolic link, creating missing parents.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let target = target.to_string();
        self.insert(path, Node::Symlink { target })
    }

    /// Adds a copy of the host file `from` at `path`, keeping its permission bits.
    pub fn copy(&mut self, path: &str, from: &Path) -> io::Result<&mut Self> {
        use std::os::unix::fs::PermissionsExt;
        let data = std::fs::read(from)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", from.display())))?;
        let perm = std::fs::metadata(from)?.permissions().mode() & 0o7777;
        Ok(self.file(path, perm, data))
    }

    /// The entries, in archive order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn insert(&mut self, path: &str, node: Node) -> &mut Self {
        let path = path.trim_matches('/').to_string();
        let mut parent = String::new();
        for part in path.split('/').take(path.split('/').count() - 1) {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.entries
                .entry(parent.clone())
                .or_insert(Node::Dir { perm: 0o755 });
        }
        self.entries.insert(path, node);
        self
    }

    /// The archive as newc bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (ino, (name, node)) in self.entries.iter().enumerate() {
            let (mode, nlink, data) = match node {
                Node::Dir { perm } => (S_IFDIR | perm, 2, &[][..]),
                Node::File { perm, data } => (S_IFREG | perm, 1, &data[..]),
                Node::Symlink { target } => (S_IFLNK | 0o777, 1, target.as_bytes()),
            };
            push_entry(&mut out, ino as u32 + 1, mode, nlink, name, data);
        }
        push_entry(&mut out, 0, 0, 1, "TRAILER!!!", &[]);
        out
    }

    /// Writes the archive to `path`, creating its directory.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.to_bytes())
    }
}

fn push_entry(out: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, name: &str, data: &[u8]) {
    let namesize = name.len() + 1;
    // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
    // rdevmajor, rdevminor, namesize, check
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        namesize as u32,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Where Debian's busybox-static puts busybox.
pub const BUSYBOX: &str = "/bin/busybox";

/// A minimal root: `/bin/busybox` (copied from `busybox`) with a symlink for
/// each of its applets, `/etc/passwd` and `/etc/group` with root, `/tmp`, an
/// empty `/dev` (umbra mounts its devfs there) and `/root`.
pub fn busybox_root(busybox: &Path) -> io::Result<Initrd> {
    let mut rd = Initrd::new();
    rd.copy("bin/busybox", busybox)?;
    for applet in busybox_applets(busybox)? {
        // `busybox --list` names applets without a directory; a few (such as
        // `busybox` itself) must not shadow the binary.
        if applet != "busybox" && !applet.contains('/') {
            rd.symlink(&format!("bin/{applet}"), "busybox");
        }
    }
    rd.file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n")
        .file("etc/group", 0o644, "root:x:0:\n")
        .dir("tmp", 0o1777)
        .dir("dev", 0o755)
        .dir("sys", 0o555)
        .dir("root", 0o700);
    Ok(rd)
}

/// The applet names `busybox --list` prints, run on the host.
pub fn busybox_applets(busybox: &Path) -> io::Result<Vec<String>> {
    let out = Command::new(busybox).arg("--list").output().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot run {}: {e} (install busybox-static: `cargo xtask setup`)",
                busybox.display()
            ),
        )
    })?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} --list failed",
            busybox.display()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_archive_bytes() {
        let mut rd = Initrd::new();
        rd.file("a", 0o644, "hi");
        let bytes = rd.to_bytes();
        let header = [
            "070701", "00000001", "000081a4", "00000000", "00000000", "00000001", "00000000",
            "00000002", "00000000", "00000000", "00000000", "00000000", "00000002", "00000000",
        ]
        .concat();
        assert_eq!(&bytes[..110], header.as_bytes());
        // 110 + "a\0" = 112, already aligned; then "hi" and two bytes of padding.
        assert_eq!(&bytes[110..112], b"a\0");
        assert_eq!(&bytes[112..116], b"hi\0\0");
        assert_eq!(&bytes[116..122], b"070701");
        assert_eq!(bytes.len() % 4, 0);
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn parents_come_first() {
        let mut rd = Initrd::new();
        rd.file("/x/y/z", 0o600, "").symlink("x/l", "y");
        let names: Vec<&str> = rd.entries().map(|(n, _)| n).collect();
        assert_eq!(names, ["x", "x/l", "x/y", "x/y/z"]);
    }
}
