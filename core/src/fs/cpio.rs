//! The cpio "newc" archive format (magic "070701", and "070702" with checksums),
//! as Linux initramfs images and `cpio -H newc` write it, and unpacking an archive
//! into a directory.
//!
//! The parser follows smoltcp's `wire` pattern: [`Header`] wraps a byte buffer and
//! is checked once (`new_checked`), field ranges live in `mod field`, and [`Repr`]
//! is the decoded header with `parse` and `emit`. Every size and offset read from
//! the archive is checked against the buffer with checked arithmetic, so a
//! malformed archive gives a [`CpioError`], never a panic.
//!
//! Layout of one entry: a 110-byte header of 8-digit hex fields, the NUL-terminated
//! name (header + name padded to a multiple of 4), then the data (padded to 4).
//! The entry named "TRAILER!!!" ends an archive; zero padding and further
//! concatenated archives may follow, as Linux accepts.

use crate::vecmap::VecMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use umbra_abi::structs::Timespec;

use super::vfs::{makedev, FileType, Inode, NewNode, SetAttr};
use crate::error::Errno;

/// Byte ranges of the header fields.
mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..6;
    pub const INO: Range<usize> = 6..14;
    pub const MODE: Range<usize> = 14..22;
    pub const UID: Range<usize> = 22..30;
    pub const GID: Range<usize> = 30..38;
    pub const NLINK: Range<usize> = 38..46;
    pub const MTIME: Range<usize> = 46..54;
    pub const FILESIZE: Range<usize> = 54..62;
    pub const DEVMAJOR: Range<usize> = 62..70;
    pub const DEVMINOR: Range<usize> = 70..78;
    pub const RDEVMAJOR: Range<usize> = 78..86;
    pub const RDEVMINOR: Range<usize> = 86..94;
    pub const NAMESIZE: Range<usize> = 94..102;
    pub const CHECK: Range<usize> = 102..110;
    pub const HEADER_LEN: usize = 110;
}

/// Length of a newc header.
pub const HEADER_LEN: usize = field::HEADER_LEN;
/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
const MAGIC_NEWC: &[u8; 6] = b"070701";
const MAGIC_CRC: &[u8; 6] = b"070702";

/// Why an archive was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpioError {
    /// The archive ends inside the entry at `offset`.
    Truncated { offset: usize },
    /// No newc magic at `offset`.
    BadMagic { offset: usize },
    /// A header field at `offset` is not 8 hex digits.
    BadField { offset: usize, field: &'static str },
    /// The name at `offset` is empty or unterminated.
    BadName { offset: usize },
    /// The archive ends without a "TRAILER!!!" entry.
    NoTrailer,
    /// An entry whose name leaves the target directory ("..").
    UnsafeName { name: String },
    /// An entry whose mode names no file type.
    BadMode { name: String, mode: u32 },
    /// The filesystem refused an entry.
    Fs { name: String, errno: Errno },
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpioError::Truncated { offset } => {
                write!(f, "cpio: archive truncated in the entry at byte {offset}")
            }
            CpioError::BadMagic { offset } => {
                write!(f, "cpio: no newc header (070701/070702) at byte {offset}")
            }
            CpioError::BadField { offset, field } => {
                write!(f, "cpio: bad {field} field in the header at byte {offset}")
            }
            CpioError::BadName { offset } => {
                write!(f, "cpio: bad file name in the entry at byte {offset}")
            }
            CpioError::NoTrailer => write!(f, "cpio: archive ends without TRAILER!!!"),
            CpioError::UnsafeName { name } => write!(f, "cpio: refusing entry {name:?} (\"..\")"),
            CpioError::BadMode { name, mode } => {
                write!(
                    f,
                    "cpio: entry {name:?} has unknown file type in mode {mode:o}"
                )
            }
            CpioError::Fs { name, errno } => {
                write!(f, "cpio: cannot create {name:?}: {}", errno.name())
            }
        }
    }
}

/// A newc header over a byte buffer.
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps a buffer without checks; accessors may then fail on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Header<T> {
        Header { buffer }
    }

    /// Wraps a buffer after checking its length and magic.
    pub fn new_checked(buffer: T) -> Result<Header<T>, CpioError> {
        let h = Header::new_unchecked(buffer);
        h.check_len()?;
        if !h.is_newc() {
            return Err(CpioError::BadMagic { offset: 0 });
        }
        Ok(h)
    }

    /// Checks that the buffer holds a whole header.
    pub fn check_len(&self) -> Result<(), CpioError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(CpioError::Truncated { offset: 0 })
        } else {
            Ok(())
        }
    }

    /// Whether the magic is "070701" or "070702".
    pub fn is_newc(&self) -> bool {
        matches!(self.buffer.as_ref().get(field::MAGIC), Some(m) if m == MAGIC_NEWC || m == MAGIC_CRC)
    }

    /// Whether the magic is "070702" (the header carries a checksum).
    pub fn has_crc(&self) -> bool {
        self.buffer.as_ref().get(field::MAGIC) == Some(&MAGIC_CRC[..])
    }

    fn hex(&self, range: core::ops::Range<usize>, name: &'static str) -> Result<u32, CpioError> {
        let bad = CpioError::BadField {
            offset: 0,
            field: name,
        };
        let digits = self
            .buffer
            .as_ref()
            .get(range)
            .ok_or(CpioError::Truncated { offset: 0 })?;
        let mut v: u32 = 0;
        for &d in digits {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(bad),
            };
            v = (v << 4) | u32::from(n);
        }
        Ok(v)
    }

    pub fn ino(&self) -> Result<u32, CpioError> {
        self.hex(field::INO, "ino")
    }
    pub fn mode(&self) -> Result<u32, CpioError> {
        self.hex(field::MODE, "mode")
    }
    pub fn uid(&self) -> Result<u32, CpioError> {
        self.hex(field::UID, "uid")
    }
    pub fn gid(&self) -> Result<u32, CpioError> {
        self.hex(field::GID, "gid")
    }
    pub fn nlink(&self) -> Result<u32, CpioError> {
        self.hex(field::NLINK, "nlink")
    }
    pub fn mtime(&self) -> Result<u32, CpioError> {
        self.hex(field::MTIME, "mtime")
    }
    pub fn filesize(&self) -> Result<u32, CpioError> {
        self.hex(field::FILESIZE, "filesize")
    }
    pub fn dev_major(&self) -> Result<u32, CpioError> {
        self.hex(field::DEVMAJOR, "devmajor")
    }
    pub fn dev_minor(&self) -> Result<u32, CpioError> {
        self.hex(field::DEVMINOR, "devminor")
    }
    pub fn rdev_major(&self) -> Result<u32, CpioError> {
        self.hex(field::RDEVMAJOR, "rdevmajor")
    }
    pub fn rdev_minor(&self) -> Result<u32, CpioError> {
        self.hex(field::RDEVMINOR, "rdevminor")
    }
    pub fn namesize(&self) -> Result<u32, CpioError> {
        self.hex(field::NAMESIZE, "namesize")
    }
    pub fn check(&self) -> Result<u32, CpioError> {
        self.hex(field::CHECK, "check")
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    fn set_hex(&mut self, range: core::ops::Range<usize>, v: u32) {
        if let Some(dst) = self.buffer.as_mut().get_mut(range) {
            for (i, d) in dst.iter_mut().enumerate() {
                let shift = 28usize.saturating_sub(i * 4);
                *d = b"0123456789ABCDEF"[((v >> shift) & 0xf) as usize];
            }
        }
    }
}

/// A decoded newc header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub crc: bool,
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    /// Length of the name including its NUL.
    pub namesize: u32,
    pub check: u32,
}

impl Repr {
    /// Decodes a checked header.
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<Repr, CpioError> {
        h.check_len()?;
        if !h.is_newc() {
            return Err(CpioError::BadMagic { offset: 0 });
        }
        Ok(Repr {
            crc: h.has_crc(),
            ino: h.ino()?,
            mode: h.mode()?,
            uid: h.uid()?,
            gid: h.gid()?,
            nlink: h.nlink()?,
            mtime: h.mtime()?,
            filesize: h.filesize()?,
            dev_major: h.dev_major()?,
            dev_minor: h.dev_minor()?,
            rdev_major: h.rdev_major()?,
            rdev_minor: h.rdev_minor()?,
            namesize: h.namesize()?,
            check: h.check()?,
        })
    }

    /// Encodes into a header buffer of at least [`HEADER_LEN`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut Header<T>) {
        if let Some(m) = h.buffer.as_mut().get_mut(field::MAGIC) {
            m.copy_from_slice(if self.crc { MAGIC_CRC } else { MAGIC_NEWC });
        }
        h.set_hex(field::INO, self.ino);
        h.set_hex(field::MODE, self.mode);
        h.set_hex(field::UID, self.uid);
        h.set_hex(field::GID, self.gid);
        h.set_hex(field::NLINK, self.nlink);
        h.set_hex(field::MTIME, self.mtime);
        h.set_hex(field::FILESIZE, self.filesize);
        h.set_hex(field::DEVMAJOR, self.dev_major);
        h.set_hex(field::DEVMINOR, self.dev_minor);
        h.set_hex(field::RDEVMAJOR, self.rdev_major);
        h.set_hex(field::RDEVMINOR, self.rdev_minor);
        h.set_hex(field::NAMESIZE, self.namesize);
        h.set_hex(field::CHECK, self.check);
    }
}

/// One archive member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub repr: Repr,
    /// The name as stored, without its NUL.
    /// The name: bytes, UTF-8 or not, as Linux's initramfs takes them.
    pub name: &'a [u8],
    pub data: &'a [u8],
    /// Byte offset of the header in the archive.
    pub offset: usize,
}

/// Iterates over the members of one or more concatenated archives. Yields an
/// error (once) for a malformed archive, then stops.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// A trailer was seen: running out of data is now a clean end.
    seen_trailer: bool,
    done: bool,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            seen_trailer: false,
            done: false,
        }
    }

    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, CpioError> {
        loop {
            if self.seen_trailer {
                // Padding between concatenated archives is NULs, in 4-byte steps.
                while self.data.get(self.pos..self.pos.saturating_add(4)) == Some(&[0u8; 4][..]) {
                    self.pos += 4;
                }
                if self.pos >= self.data.len()
                    || self
                        .data
                        .get(self.pos..)
                        .is_some_and(|r| r.iter().all(|&b| b == 0))
                {
                    return Ok(None);
                }
            } else if self.pos >= self.data.len() {
                return Err(CpioError::NoTrailer);
            }
            let offset = self.pos;
            let at = |e: CpioError| match e {
                CpioError::Truncated { .. } => CpioError::Truncated { offset },
                CpioError::BadMagic { .. } => CpioError::BadMagic { offset },
                CpioError::BadField { field, .. } => CpioError::BadField { offset, field },
                e => e,
            };
            let rest = self
                .data
                .get(offset..)
                .ok_or(CpioError::Truncated { offset })?;
            let header = Header::new_checked(rest).map_err(at)?;
            let repr = Repr::parse(&header).map_err(at)?;
            let namesize = repr.namesize as usize;
            let name_start = offset
                .checked_add(HEADER_LEN)
                .ok_or(CpioError::Truncated { offset })?;
            let name_end = name_start
                .checked_add(namesize)
                .ok_or(CpioError::Truncated { offset })?;
            let name_bytes = self
                .data
                .get(name_start..name_end)
                .ok_or(CpioError::Truncated { offset })?;
            let data_start = align4(name_end).ok_or(CpioError::Truncated { offset })?;
            let data_end = data_start
                .checked_add(repr.filesize as usize)
                .ok_or(CpioError::Truncated { offset })?;
            let data = self
                .data
                .get(data_start..data_end)
                .ok_or(CpioError::Truncated { offset })?;
            // The name must be NUL-terminated, non-empty, with no NUL inside.
            let name = match name_bytes.split_last() {
                Some((0, n)) if !n.is_empty() && !n.contains(&0) => n,
                _ => return Err(CpioError::BadName { offset }),
            };
            // Padding after the data may be missing at the very end.
            self.pos = align4(data_end)
                .unwrap_or(usize::MAX)
                .min(self.data.len().max(data_end));
            if name == TRAILER.as_bytes() {
                self.seen_trailer = true;
                continue;
            }
            return Ok(Some(Entry {
                repr,
                name,
                data,
                offset,
            }));
        }
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Entry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn align4(v: usize) -> Option<usize> {
    v.checked_add(3).map(|x| x & !3)
}

/// The components of an entry name, relative to the target directory; leading
/// "/" and "./" are dropped. `None` for a name with "..".
fn components(name: &[u8]) -> Option<Vec<&[u8]>> {
    let mut v = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return None,
            c => v.push(c),
        }
    }
    Some(v)
}

/// Unpacks `archive` into the directory `root`: directories (and missing parents),
/// regular files, symlinks, hard links (newc style: entries sharing an inode
/// number, data on the last), device nodes, fifos and sockets, with their modes,
/// owners and mtimes. Returns the number of entries unpacked.
pub fn unpack_into(
    root: &Arc<dyn Inode>,
    archive: &[u8],
    now: Timespec,
) -> Result<usize, CpioError> {
    let mut count = 0usize;
    // (dev major, dev minor, ino) → the inode made for the first name of it.
    let mut links: VecMap<(u32, u32, u32), Arc<dyn Inode>> = VecMap::new();
    for entry in Reader::new(archive) {
        let e = entry?;
        unpack_entry(root, &e, &mut links, now)?;
        count = count.saturating_add(1);
    }
    Ok(count)
}

fn unpack_entry(
    root: &Arc<dyn Inode>,
    e: &Entry<'_>,
    links: &mut VecMap<(u32, u32, u32), Arc<dyn Inode>>,
    now: Timespec,
) -> Result<(), CpioError> {
    let r = &e.repr;
    let shown = || String::from_utf8_lossy(e.name).into_owned();
    let fs_err = |errno| CpioError::Fs {
        name: shown(),
        errno,
    };
    let comps = components(e.name).ok_or_else(|| CpioError::UnsafeName { name: shown() })?;
    let kind = FileType::from_mode(r.mode).ok_or_else(|| CpioError::BadMode {
        name: shown(),
        mode: r.mode,
    })?;
    let mtime = Timespec {
        tv_sec: i64::from(r.mtime),
        tv_nsec: 0,
    };
    let attr = SetAttr {
        perm: Some(r.mode & 0o7777),
        uid: Some(r.uid),
        gid: Some(r.gid),
        atime: Some(mtime),
        mtime: Some(mtime),
        ctime: now,
    };
    let Some((last, parents)) = comps.split_last() else {
        // "." itself: the attributes of the target directory.
        if kind != FileType::Directory {
            return Err(fs_err(Errno::EEXIST));
        }
        return root.set_metadata(&attr).map_err(fs_err);
    };
    let mut dir = root.clone();
    for p in parents {
        dir = match dir.lookup(p) {
            Ok(d) if d.kind() == FileType::Directory => d,
            Ok(_) => return Err(fs_err(Errno::ENOTDIR)),
            Err(Errno::ENOENT) => {
                let a = NewNode {
                    kind: FileType::Directory,
                    perm: 0o755,
                    uid: 0,
                    gid: 0,
                    rdev: 0,
                    now,
                };
                dir.create(p, &a).map_err(fs_err)?
            }
            Err(errno) => return Err(fs_err(errno)),
        };
    }

    let key = (r.dev_major, r.dev_minor, r.ino);
    let hardlinked = kind == FileType::Regular && r.nlink > 1;
    if hardlinked {
        if let Some(target) = links.get(&key).cloned() {
            remove_existing(&dir, last, now).map_err(fs_err)?;
            dir.link(last, &target, now).map_err(fs_err)?;
            if !e.data.is_empty() {
                write_all(&target, e.data, now).map_err(fs_err)?;
            }
            return target.set_metadata(&attr).map_err(fs_err);
        }
    }

    let existing = dir.lookup(last).ok();
    let node = match (kind, existing) {
        (FileType::Directory, Some(d)) if d.kind() == FileType::Directory => d,
        (_, existing) => {
            if existing.is_some() {
                remove_existing(&dir, last, now).map_err(fs_err)?;
            }
            let a = NewNode {
                kind,
                perm: r.mode & 0o7777,
                uid: r.uid,
                gid: r.gid,
                rdev: 0,
                now,
            };
            match kind {
                FileType::Symlink => dir.symlink(last, e.data, &a).map_err(fs_err)?,
                FileType::Regular | FileType::Directory => dir.create(last, &a).map_err(fs_err)?,
                _ => {
                    let rdev = makedev(r.rdev_major, r.rdev_minor);
                    dir.create(last, &NewNode { rdev, ..a }).map_err(fs_err)?
                }
            }
        }
    };
    if kind == FileType::Regular && !e.data.is_empty() {
        write_all(&node, e.data, now).map_err(fs_err)?;
    }
    if hardlinked {
        links.insert(key, node.clone());
    }
    if kind == FileType::Symlink {
        // A symlink's own mode is always 0777; keep owner and times.
        return node
            .set_metadata(&SetAttr { perm: None, ..attr })
            .map_err(fs_err);
    }
    node.set_metadata(&attr).map_err(fs_err)
}

/// Makes room for a new entry: what is there is replaced, as cpio -i does
/// (a directory only if empty).
fn remove_existing(dir: &Arc<dyn Inode>, name: &[u8], now: Timespec) -> Result<(), Errno> {
    match dir.lookup(name) {
        Ok(n) if n.kind() == FileType::Directory => dir.rmdir(name, now),
        Ok(_) => dir.unlink(name, now),
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

fn write_all(node: &Arc<dyn Inode>, data: &[u8], now: Timespec) -> Result<(), Errno> {
    node.truncate(0, now)?;
    let mut done = 0usize;
    while let Some(rest) = data.get(done..).filter(|r| !r.is_empty()) {
        let n = node.write_at(done as u64, rest, now)?;
        if n == 0 {
            return Err(Errno::ENOSPC);
        }
        done = done.saturating_add(n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::tmpfs::TmpFs;
    use alloc::format;

    static NEWC: &[u8] = include_bytes!("testdata/newc.cpio");
    static CRC: &[u8] = include_bytes!("testdata/crc.cpio");

    fn read_file(root: &Arc<dyn Inode>, path: &str) -> Vec<u8> {
        let mut n = root.clone();
        for c in path.split('/') {
            n = n.lookup(c.as_bytes()).unwrap();
        }
        let mut buf = alloc::vec![0u8; 4096];
        let len = n.read_at(0, &mut buf).unwrap();
        buf.truncate(len);
        buf
    }

    fn node(root: &Arc<dyn Inode>, path: &str) -> Arc<dyn Inode> {
        let mut n = root.clone();
        for c in path.split('/') {
            n = n.lookup(c.as_bytes()).unwrap();
        }
        n
    }

    #[test]
    fn reads_an_archive_made_by_gnu_cpio() {
        let names: Vec<&str> = Reader::new(NEWC)
            .map(|e| core::str::from_utf8(e.unwrap().name).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                ".",
                "bin",
                "bin/odd",
                "bin/odd2",
                "bin/pw",
                "empty",
                "etc",
                "etc/emptyfile",
                "etc/init.d",
                "etc/init.d/rcS",
                "etc/passwd"
            ]
        );
        let pw = Reader::new(NEWC)
            .map(|e| e.unwrap())
            .find(|e| e.name == b"etc/passwd")
            .unwrap();
        assert_eq!(pw.data, b"root:x:0:0:root:/root:/bin/sh\n");
        assert_eq!(pw.repr.mtime, 1_700_000_000);
        assert_eq!(pw.repr.mode, 0o100644);
        assert!(!pw.repr.crc);
    }

    #[test]
    fn unpacks_files_dirs_links_and_modes() {
        let fs = TmpFs::new(1, Timespec::default());
        let root = fs.root();
        let now = Timespec {
            tv_sec: 42,
            tv_nsec: 0,
        };
        assert_eq!(unpack_into(&root, NEWC, now).unwrap(), 11);
        assert_eq!(
            read_file(&root, "etc/passwd"),
            b"root:x:0:0:root:/root:/bin/sh\n"
        );
        assert_eq!(read_file(&root, "etc/init.d/rcS"), b"#!/bin/sh\necho hi\n");
        assert_eq!(read_file(&root, "etc/emptyfile"), b"");
        let rcs = node(&root, "etc/init.d/rcS").metadata().unwrap();
        assert_eq!(rcs.mode, 0o100755);
        let pw = node(&root, "etc/passwd").metadata().unwrap();
        assert_eq!(
            (pw.mtime.tv_sec, pw.ctime.tv_sec, pw.uid),
            (1_700_000_000, 42, 0)
        );
        assert_eq!(node(&root, "empty").metadata().unwrap().mode, 0o040700);
        assert_eq!(node(&root, "bin/pw").readlink().unwrap(), b"../etc/passwd");
        // The hard link pair shares one inode with the data of the last entry.
        let a = node(&root, "bin/odd").metadata().unwrap();
        let b = node(&root, "bin/odd2").metadata().unwrap();
        assert_eq!((a.ino, a.nlink, a.size), (b.ino, 2, 3));
        assert_eq!(read_file(&root, "bin/odd"), b"abc");
        assert_eq!(root.metadata().unwrap().mode, 0o040755);
        // Unpacking again over the result replaces files in place.
        assert_eq!(unpack_into(&root, NEWC, now).unwrap(), 11);
        assert_eq!(read_file(&root, "bin/odd2"), b"abc");
    }

    #[test]
    fn crc_archives_and_implicit_parents() {
        let fs = TmpFs::new(1, Timespec::default());
        let root = fs.root();
        let e: Vec<Entry<'_>> = Reader::new(CRC).map(|e| e.unwrap()).collect();
        assert_eq!(e.len(), 1);
        assert!(e[0].repr.crc);
        assert_eq!(unpack_into(&root, CRC, Timespec::default()).unwrap(), 1);
        let m = node(&root, "etc/passwd").metadata().unwrap();
        assert_eq!((m.uid, m.gid), (1000, 1000));
        assert_eq!(node(&root, "etc").metadata().unwrap().mode, 0o040755);
    }

    /// Builds an archive from (name, mode, nlink, ino, data) entries plus a trailer.
    fn build(entries: &[(&str, u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let all = entries
            .iter()
            .copied()
            .chain([(TRAILER, 0, 1, 0, &b""[..])]);
        for (name, mode, nlink, ino, data) in all {
            let repr = Repr {
                crc: false,
                ino,
                mode,
                uid: 0,
                gid: 0,
                nlink,
                mtime: 0,
                filesize: data.len() as u32,
                dev_major: 0,
                dev_minor: 0,
                rdev_major: 1,
                rdev_minor: 3,
                namesize: name.len() as u32 + 1,
                check: 0,
            };
            let mut h = [0u8; HEADER_LEN];
            repr.emit(&mut Header::new_unchecked(&mut h[..]));
            out.extend_from_slice(&h);
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            while out.len() % 4 != 0 {
                out.push(0);
            }
            out.extend_from_slice(data);
            while out.len() % 4 != 0 {
                out.push(0);
            }
        }
        out
    }

    #[test]
    fn header_round_trip() {
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&NEWC[..HEADER_LEN]);
        let repr = Repr::parse(&Header::new_checked(&h[..]).unwrap()).unwrap();
        let mut out = [0u8; HEADER_LEN];
        repr.emit(&mut Header::new_unchecked(&mut out[..]));
        assert_eq!(out, h);
    }

    #[test]
    fn special_nodes_leading_slashes_and_concatenation() {
        let mut a = build(&[
            ("/dev", 0o040755, 2, 1, b""),
            ("./dev/null", 0o020666, 1, 2, b""),
            ("dev/fifo", 0o010644, 1, 3, b""),
        ]);
        a.extend_from_slice(&[0u8; 512]);
        a.extend_from_slice(&build(&[("x", 0o100600, 1, 1, b"hello")]));
        let fs = TmpFs::new(1, Timespec::default());
        let root = fs.root();
        assert_eq!(unpack_into(&root, &a, Timespec::default()).unwrap(), 4);
        let null = node(&root, "dev/null").metadata().unwrap();
        assert_eq!((null.mode, null.rdev), (0o020666, makedev(1, 3)));
        assert_eq!(node(&root, "dev/fifo").kind(), FileType::Fifo);
        assert_eq!(read_file(&root, "x"), b"hello");
    }

    #[test]
    fn malformed_archives_are_errors() {
        let good = build(&[("a", 0o100644, 1, 1, b"data")]);
        let unpack = |bytes: &[u8]| {
            let fs = TmpFs::new(1, Timespec::default());
            unpack_into(&fs.root(), bytes, Timespec::default())
        };
        assert_eq!(unpack(&good), Ok(1));
        assert_eq!(unpack(b""), Err(CpioError::NoTrailer));
        // Every truncation of a valid archive fails cleanly.
        for len in 1..good.len() - 1 {
            assert!(unpack(&good[..len]).is_err(), "len {len}");
        }
        let mut bad = good.clone();
        bad[0] = b'1';
        assert_eq!(unpack(&bad), Err(CpioError::BadMagic { offset: 0 }));
        let mut bad = good.clone();
        bad[field::MODE.start] = b'g';
        assert_eq!(
            unpack(&bad),
            Err(CpioError::BadField {
                offset: 0,
                field: "mode"
            })
        );
        // Huge sizes must not overflow.
        for f in [field::FILESIZE, field::NAMESIZE] {
            let mut bad = good.clone();
            bad[f].copy_from_slice(b"FFFFFFFF");
            assert_eq!(unpack(&bad), Err(CpioError::Truncated { offset: 0 }));
        }
        let mut bad = good.clone();
        bad[field::NAMESIZE].copy_from_slice(b"00000000");
        assert_eq!(unpack(&bad), Err(CpioError::BadName { offset: 0 }));
        assert!(matches!(
            unpack(&build(&[("../evil", 0o100644, 1, 1, b"")])),
            Err(CpioError::UnsafeName { .. })
        ));
        assert!(matches!(
            unpack(&build(&[("m", 0o000644, 1, 1, b"")])),
            Err(CpioError::BadMode { .. })
        ));
        assert!(matches!(
            unpack(&build(&[
                ("f", 0o100644, 1, 1, b""),
                ("f/x", 0o100644, 1, 2, b"")
            ])),
            Err(CpioError::Fs {
                errno: Errno::ENOTDIR,
                ..
            })
        ));
        let msg = format!("{}", CpioError::Truncated { offset: 12 });
        assert_eq!(msg, "cpio: archive truncated in the entry at byte 12");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: mutate a real archive byte by byte.
        let fs = TmpFs::new(1, Timespec::default());
        let mut x: u32 = 12345;
        for _ in 0..300 {
            let mut a = NEWC.to_vec();
            for _ in 0..4 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let i = (x as usize >> 4) % a.len();
                a[i] = (x >> 20) as u8;
            }
            let _ = unpack_into(&fs.root(), &a, Timespec::default());
        }
    }
}
