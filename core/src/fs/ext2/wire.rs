//! The on-disk structures of ext2, in smoltcp's `wire` style: a checked view
//! over bytes (`new_checked` refuses a buffer too short), byte ranges in a private
//! `field` module, and a `Repr` that `parse`s what umbra uses and `emit`s it back
//! over the same bytes (so fields umbra does not know survive a rewrite).

use crate::error::{Errno, KResult};

fn le16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    if let Some(s) = b.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    if let Some(s) = b.get_mut(at..at + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// The superblock magic.
pub const EXT2_MAGIC: u16 = 0xef53;
/// Byte offset of the superblock on the device.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// Bytes of the superblock.
pub const SUPERBLOCK_SIZE: usize = 1024;

pub const FEATURE_COMPAT_EXT_ATTR: u32 = 0x0008;
pub const FEATURE_INCOMPAT_FILETYPE: u32 = 0x0002;
pub const FEATURE_RO_COMPAT_SPARSE_SUPER: u32 = 0x0001;
pub const FEATURE_RO_COMPAT_LARGE_FILE: u32 = 0x0002;
/// The INCOMPAT features umbra implements.
pub const INCOMPAT_SUPPORTED: u32 = FEATURE_INCOMPAT_FILETYPE;
/// The RO_COMPAT features umbra implements (others: mounted read-only).
pub const RO_COMPAT_SUPPORTED: u32 = FEATURE_RO_COMPAT_SPARSE_SUPER | FEATURE_RO_COMPAT_LARGE_FILE;

mod sb_field {
    pub const INODES_COUNT: usize = 0;
    pub const BLOCKS_COUNT: usize = 4;
    pub const R_BLOCKS_COUNT: usize = 8;
    pub const FREE_BLOCKS: usize = 12;
    pub const FREE_INODES: usize = 16;
    pub const FIRST_DATA_BLOCK: usize = 20;
    pub const LOG_BLOCK_SIZE: usize = 24;
    pub const BLOCKS_PER_GROUP: usize = 32;
    pub const INODES_PER_GROUP: usize = 40;
    pub const MTIME: usize = 44;
    pub const WTIME: usize = 48;
    pub const MAGIC: usize = 56;
    pub const STATE: usize = 58;
    pub const REV_LEVEL: usize = 76;
    pub const FIRST_INO: usize = 84;
    pub const INODE_SIZE: usize = 88;
    pub const FEATURE_COMPAT: usize = 92;
    pub const FEATURE_INCOMPAT: usize = 96;
    pub const FEATURE_RO_COMPAT: usize = 100;
    pub const END: usize = 1024;
}

/// A checked view of a superblock.
pub struct Superblock<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Superblock<T> {
    /// Wraps `buffer` unchecked.
    pub const fn new_unchecked(buffer: T) -> Self {
        Superblock { buffer }
    }

    /// Wraps `buffer`, refusing one shorter than a superblock.
    pub fn new_checked(buffer: T) -> KResult<Self> {
        let s = Self::new_unchecked(buffer);
        s.check_len()?;
        Ok(s)
    }

    /// EINVAL if the buffer is too short.
    pub fn check_len(&self) -> KResult<()> {
        if self.buffer.as_ref().len() < sb_field::END {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    }

    fn u32(&self, at: usize) -> u32 {
        le32(self.buffer.as_ref(), at)
    }

    fn u16(&self, at: usize) -> u16 {
        le16(self.buffer.as_ref(), at)
    }

    pub fn magic(&self) -> u16 {
        self.u16(sb_field::MAGIC)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Superblock<T> {
    fn set32(&mut self, at: usize, v: u32) {
        put32(self.buffer.as_mut(), at, v)
    }
    fn set16(&mut self, at: usize, v: u16) {
        put16(self.buffer.as_mut(), at, v)
    }
}

/// The superblock fields umbra uses.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SuperblockRepr {
    pub inodes_count: u32,
    pub blocks_count: u32,
    pub r_blocks_count: u32,
    pub free_blocks: u32,
    pub free_inodes: u32,
    pub first_data_block: u32,
    pub log_block_size: u32,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    pub mtime: u32,
    pub wtime: u32,
    pub magic: u16,
    pub state: u16,
    pub rev_level: u32,
    pub first_ino: u32,
    pub inode_size: u16,
    pub feature_compat: u32,
    pub feature_incompat: u32,
    pub feature_ro_compat: u32,
}

impl SuperblockRepr {
    /// Reads the fields (no semantic checks: the mount does those).
    pub fn parse<T: AsRef<[u8]>>(s: &Superblock<T>) -> SuperblockRepr {
        use sb_field::*;
        let rev = s.u32(REV_LEVEL);
        SuperblockRepr {
            inodes_count: s.u32(INODES_COUNT),
            blocks_count: s.u32(BLOCKS_COUNT),
            r_blocks_count: s.u32(R_BLOCKS_COUNT),
            free_blocks: s.u32(FREE_BLOCKS),
            free_inodes: s.u32(FREE_INODES),
            first_data_block: s.u32(FIRST_DATA_BLOCK),
            log_block_size: s.u32(LOG_BLOCK_SIZE),
            blocks_per_group: s.u32(BLOCKS_PER_GROUP),
            inodes_per_group: s.u32(INODES_PER_GROUP),
            mtime: s.u32(MTIME),
            wtime: s.u32(WTIME),
            magic: s.u16(MAGIC),
            state: s.u16(STATE),
            rev_level: rev,
            first_ino: if rev == 0 { 11 } else { s.u32(FIRST_INO) },
            inode_size: if rev == 0 { 128 } else { s.u16(INODE_SIZE) },
            feature_compat: if rev == 0 { 0 } else { s.u32(FEATURE_COMPAT) },
            feature_incompat: if rev == 0 { 0 } else { s.u32(FEATURE_INCOMPAT) },
            feature_ro_compat: if rev == 0 {
                0
            } else {
                s.u32(FEATURE_RO_COMPAT)
            },
        }
    }

    /// Writes the fields over `s`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, s: &mut Superblock<T>) {
        use sb_field::*;
        s.set32(INODES_COUNT, self.inodes_count);
        s.set32(BLOCKS_COUNT, self.blocks_count);
        s.set32(R_BLOCKS_COUNT, self.r_blocks_count);
        s.set32(FREE_BLOCKS, self.free_blocks);
        s.set32(FREE_INODES, self.free_inodes);
        s.set32(FIRST_DATA_BLOCK, self.first_data_block);
        s.set32(LOG_BLOCK_SIZE, self.log_block_size);
        s.set32(BLOCKS_PER_GROUP, self.blocks_per_group);
        s.set32(INODES_PER_GROUP, self.inodes_per_group);
        s.set32(MTIME, self.mtime);
        s.set32(WTIME, self.wtime);
        s.set16(MAGIC, self.magic);
        s.set16(STATE, self.state);
        s.set32(REV_LEVEL, self.rev_level);
        if self.rev_level >= 1 {
            s.set32(FIRST_INO, self.first_ino);
            s.set16(INODE_SIZE, self.inode_size);
            s.set32(FEATURE_COMPAT, self.feature_compat);
            s.set32(FEATURE_INCOMPAT, self.feature_incompat);
            s.set32(FEATURE_RO_COMPAT, self.feature_ro_compat);
        }
    }
}

mod gd_field {
    pub const BLOCK_BITMAP: usize = 0;
    pub const INODE_BITMAP: usize = 4;
    pub const INODE_TABLE: usize = 8;
    pub const FREE_BLOCKS: usize = 12;
    pub const FREE_INODES: usize = 14;
    pub const USED_DIRS: usize = 16;
    pub const END: usize = 32;
}

/// Bytes of a group descriptor.
pub const GROUP_DESC_SIZE: usize = gd_field::END;

/// A checked view of a block group descriptor.
pub struct GroupDesc<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GroupDesc<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        GroupDesc { buffer }
    }

    pub fn new_checked(buffer: T) -> KResult<Self> {
        let s = Self::new_unchecked(buffer);
        if s.buffer.as_ref().len() < gd_field::END {
            return Err(Errno::EINVAL);
        }
        Ok(s)
    }
}

/// A group descriptor's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct GroupDescRepr {
    pub block_bitmap: u32,
    pub inode_bitmap: u32,
    pub inode_table: u32,
    pub free_blocks: u16,
    pub free_inodes: u16,
    pub used_dirs: u16,
}

impl GroupDescRepr {
    pub fn parse<T: AsRef<[u8]>>(g: &GroupDesc<T>) -> GroupDescRepr {
        use gd_field::*;
        let b = g.buffer.as_ref();
        GroupDescRepr {
            block_bitmap: le32(b, BLOCK_BITMAP),
            inode_bitmap: le32(b, INODE_BITMAP),
            inode_table: le32(b, INODE_TABLE),
            free_blocks: le16(b, FREE_BLOCKS),
            free_inodes: le16(b, FREE_INODES),
            used_dirs: le16(b, USED_DIRS),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, g: &mut GroupDesc<T>) {
        use gd_field::*;
        let b = g.buffer.as_mut();
        put32(b, BLOCK_BITMAP, self.block_bitmap);
        put32(b, INODE_BITMAP, self.inode_bitmap);
        put32(b, INODE_TABLE, self.inode_table);
        put16(b, FREE_BLOCKS, self.free_blocks);
        put16(b, FREE_INODES, self.free_inodes);
        put16(b, USED_DIRS, self.used_dirs);
    }
}

mod ino_field {
    pub const MODE: usize = 0;
    pub const UID: usize = 2;
    pub const SIZE: usize = 4;
    pub const ATIME: usize = 8;
    pub const CTIME: usize = 12;
    pub const MTIME: usize = 16;
    pub const DTIME: usize = 20;
    pub const GID: usize = 24;
    pub const LINKS: usize = 26;
    pub const BLOCKS: usize = 28;
    pub const FLAGS: usize = 32;
    pub const BLOCK: usize = 40;
    pub const FILE_ACL: usize = 104;
    pub const SIZE_HIGH: usize = 108;
    pub const UID_HIGH: usize = 120;
    pub const GID_HIGH: usize = 122;
    pub const END: usize = 128;
    pub const EXTRA_ISIZE: usize = 128;
    pub const CTIME_EXTRA: usize = 132;
    pub const MTIME_EXTRA: usize = 136;
    pub const ATIME_EXTRA: usize = 140;
    pub const CRTIME: usize = 144;
    pub const CRTIME_EXTRA: usize = 148;
}

/// Bytes of a revision 0 inode.
pub const GOOD_OLD_INODE_SIZE: usize = ino_field::END;
/// Directory indexed by an htree.
pub const INDEX_FL: u32 = 0x1000;
/// Slots in `i_block`.
pub const N_BLOCKS: usize = 15;

/// A checked view of an on-disk inode.
pub struct RawInode<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> RawInode<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        RawInode { buffer }
    }

    pub fn new_checked(buffer: T) -> KResult<Self> {
        let s = Self::new_unchecked(buffer);
        if s.buffer.as_ref().len() < ino_field::END {
            return Err(Errno::EINVAL);
        }
        Ok(s)
    }
}

/// A timestamp: seconds and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Time {
    pub sec: i64,
    pub nsec: u32,
}

/// An inode's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct InodeRepr {
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    /// Size: for regular files includes `i_size_high`.
    pub size: u64,
    pub atime: Time,
    pub ctime: Time,
    pub mtime: Time,
    pub dtime: u32,
    pub links: u16,
    /// 512-byte units.
    pub blocks: u32,
    pub flags: u32,
    pub block: [u32; N_BLOCKS],
    pub file_acl: u32,
    /// `i_extra_isize` (0 for 128-byte inodes).
    pub extra_isize: u16,
}

fn time_get(b: &[u8], at: usize, extra_at: Option<usize>) -> Time {
    let lo = le32(b, at) as i32 as i64;
    match extra_at {
        Some(x) => {
            let e = le32(b, x);
            let epoch = i64::from(e & 3);
            let nsec = e >> 2;
            Time {
                sec: lo.wrapping_add(epoch << 32),
                nsec: if nsec < 1_000_000_000 { nsec } else { 0 },
            }
        }
        None => Time { sec: lo, nsec: 0 },
    }
}

fn time_put(b: &mut [u8], at: usize, extra_at: Option<usize>, t: Time) {
    put32(b, at, t.sec as u32);
    if let Some(x) = extra_at {
        let epoch = ((t.sec.wrapping_sub(t.sec as i32 as i64)) >> 32) as u32 & 3;
        put32(b, x, (t.nsec.min(999_999_999) << 2) | epoch);
    }
}

impl InodeRepr {
    /// Reads an inode. `large_size` says whether `i_size_high` extends the size
    /// (regular files on revision 1).
    pub fn parse<T: AsRef<[u8]>>(r: &RawInode<T>, large_size: bool) -> InodeRepr {
        use ino_field::*;
        let b = r.buffer.as_ref();
        let mut block = [0u32; N_BLOCKS];
        for (i, slot) in block.iter_mut().enumerate() {
            *slot = le32(b, BLOCK + 4 * i);
        }
        let mode = le16(b, MODE);
        let is_reg = mode & 0xf000 == 0x8000;
        let hi = if large_size && is_reg {
            u64::from(le32(b, SIZE_HIGH))
        } else {
            0
        };
        let extra = if b.len() > EXTRA_ISIZE + 2 {
            le16(b, EXTRA_ISIZE)
        } else {
            0
        };
        let has = |off: usize| {
            (extra as usize).saturating_add(GOOD_OLD_INODE_SIZE) >= off + 4 && b.len() >= off + 4
        };
        let x = |off: usize| if has(off) { Some(off) } else { None };
        InodeRepr {
            mode,
            uid: u32::from(le16(b, UID)) | (u32::from(le16(b, UID_HIGH)) << 16),
            gid: u32::from(le16(b, GID)) | (u32::from(le16(b, GID_HIGH)) << 16),
            size: u64::from(le32(b, SIZE)) | (hi << 32),
            atime: time_get(b, ATIME, x(ATIME_EXTRA)),
            ctime: time_get(b, CTIME, x(CTIME_EXTRA)),
            mtime: time_get(b, MTIME, x(MTIME_EXTRA)),
            dtime: le32(b, DTIME),
            links: le16(b, LINKS),
            blocks: le32(b, BLOCKS),
            flags: le32(b, FLAGS),
            block,
            file_acl: le32(b, FILE_ACL),
            extra_isize: extra,
        }
    }

    /// Writes the fields over `r`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, r: &mut RawInode<T>) {
        use ino_field::*;
        let b = r.buffer.as_mut();
        let len = b.len();
        put16(b, MODE, self.mode);
        put16(b, UID, self.uid as u16);
        put16(b, UID_HIGH, (self.uid >> 16) as u16);
        put16(b, GID, self.gid as u16);
        put16(b, GID_HIGH, (self.gid >> 16) as u16);
        put32(b, SIZE, self.size as u32);
        if self.mode & 0xf000 == 0x8000 {
            put32(b, SIZE_HIGH, (self.size >> 32) as u32);
        }
        let has = |off: usize| {
            (self.extra_isize as usize).saturating_add(GOOD_OLD_INODE_SIZE) >= off + 4
                && len >= off + 4
        };
        let x = |off: usize| if has(off) { Some(off) } else { None };
        if len > EXTRA_ISIZE + 2 {
            put16(b, EXTRA_ISIZE, self.extra_isize);
        }
        time_put(b, ATIME, x(ATIME_EXTRA), self.atime);
        time_put(b, CTIME, x(CTIME_EXTRA), self.ctime);
        time_put(b, MTIME, x(MTIME_EXTRA), self.mtime);
        put32(b, DTIME, self.dtime);
        put16(b, LINKS, self.links);
        put32(b, BLOCKS, self.blocks);
        put32(b, FLAGS, self.flags);
        for (i, v) in self.block.iter().enumerate() {
            put32(b, BLOCK + 4 * i, *v);
        }
        put32(b, FILE_ACL, self.file_acl);
    }

    /// Sets the creation time (new inodes with room for it).
    pub fn emit_crtime<T: AsRef<[u8]> + AsMut<[u8]>>(&self, r: &mut RawInode<T>, t: Time) {
        use ino_field::*;
        let b = r.buffer.as_mut();
        let len = b.len();
        if (self.extra_isize as usize) + GOOD_OLD_INODE_SIZE >= CRTIME_EXTRA + 4
            && len >= CRTIME_EXTRA + 4
        {
            time_put(b, CRTIME, Some(CRTIME_EXTRA), t);
        }
    }
}

/// Bytes of a directory entry header.
pub const DIRENT_HEADER: usize = 8;

/// ext2 directory entry file types.
pub mod ft {
    pub const UNKNOWN: u8 = 0;
    pub const REG: u8 = 1;
    pub const DIR: u8 = 2;
    pub const CHR: u8 = 3;
    pub const BLK: u8 = 4;
    pub const FIFO: u8 = 5;
    pub const SOCK: u8 = 6;
    pub const LNK: u8 = 7;
}

/// The space an entry with a name of `name_len` bytes needs.
pub const fn dirent_len(name_len: usize) -> usize {
    (DIRENT_HEADER + name_len + 3) & !3
}

/// A checked view of one directory entry at the start of `buffer` (which runs
/// to the end of the directory block).
pub struct Dirent<T: AsRef<[u8]>> {
    buffer: T,
}

/// A parsed directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirentRepr<'a> {
    pub inode: u32,
    pub rec_len: usize,
    pub name: &'a [u8],
    /// 0 without the filetype feature.
    pub file_type: u8,
}

impl<T: AsRef<[u8]>> Dirent<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Dirent { buffer }
    }

    /// Checks that the record length is sane (at least a header, a multiple of
    /// 4, within the block) and that the name fits in the record.
    pub fn new_checked(buffer: T, filetype: bool) -> KResult<Self> {
        let d = Self::new_unchecked(buffer);
        let b = d.buffer.as_ref();
        if b.len() < DIRENT_HEADER {
            return Err(Errno::EIO);
        }
        let rec = usize::from(le16(b, 4));
        if rec < DIRENT_HEADER || rec % 4 != 0 || rec > b.len() {
            return Err(Errno::EIO);
        }
        if DIRENT_HEADER + d.name_len(filetype) > rec {
            return Err(Errno::EIO);
        }
        Ok(d)
    }

    fn name_len(&self, filetype: bool) -> usize {
        let b = self.buffer.as_ref();
        if filetype {
            usize::from(b.get(6).copied().unwrap_or(0))
        } else {
            usize::from(le16(b, 6))
        }
    }
}

impl<'a> DirentRepr<'a> {
    pub fn parse(d: &Dirent<&'a [u8]>, filetype: bool) -> DirentRepr<'a> {
        let b: &'a [u8] = d.buffer;
        let n = d.name_len(filetype);
        DirentRepr {
            inode: le32(b, 0),
            rec_len: usize::from(le16(b, 4)),
            name: b.get(DIRENT_HEADER..DIRENT_HEADER + n).unwrap_or(&[]),
            file_type: if filetype {
                b.get(7).copied().unwrap_or(0)
            } else {
                0
            },
        }
    }

    /// Writes the entry at the start of `b` (which must hold the header and name).
    pub fn emit(&self, b: &mut [u8], filetype: bool) {
        put32(b, 0, self.inode);
        put16(b, 4, self.rec_len as u16);
        if filetype {
            if let Some(s) = b.get_mut(6..8) {
                s[0] = self.name.len() as u8;
                s[1] = self.file_type;
            }
        } else {
            put16(b, 6, self.name.len() as u16);
        }
        if let Some(s) = b.get_mut(DIRENT_HEADER..DIRENT_HEADER + self.name.len()) {
            s.copy_from_slice(self.name);
        }
    }
}

/// Sets only the inode number of the entry at the start of `b`.
pub fn dirent_set_inode(b: &mut [u8], ino: u32) {
    put32(b, 0, ino)
}

/// Sets only the record length of the entry at the start of `b`.
pub fn dirent_set_rec_len(b: &mut [u8], rec: usize) {
    put16(b, 4, rec as u16)
}

/// Sets only the file type of the entry at the start of `b`.
pub fn dirent_set_type(b: &mut [u8], t: u8) {
    if let Some(s) = b.get_mut(7) {
        *s = t
    }
}

/// Reads a little-endian u32 at `at` (0 if out of range).
pub fn read_u32(b: &[u8], at: usize) -> u32 {
    le32(b, at)
}

/// Writes a little-endian u32 at `at` (nothing if out of range).
pub fn write_u32(b: &mut [u8], at: usize, v: u32) {
    put32(b, at, v)
}

/// Writes a little-endian u16 at `at` (nothing if out of range).
pub fn write_u16(b: &mut [u8], at: usize, v: u16) {
    put16(b, at, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superblock_round_trip() {
        let mut buf = [0u8; 1024];
        buf[1000] = 0x77; // unknown bytes survive
        let r = SuperblockRepr {
            inodes_count: 64,
            blocks_count: 1000,
            free_blocks: 900,
            free_inodes: 50,
            first_data_block: 1,
            blocks_per_group: 8192,
            inodes_per_group: 64,
            magic: EXT2_MAGIC,
            state: 1,
            rev_level: 1,
            first_ino: 11,
            inode_size: 256,
            feature_incompat: FEATURE_INCOMPAT_FILETYPE,
            ..SuperblockRepr::default()
        };
        r.emit(&mut Superblock::new_unchecked(&mut buf[..]));
        let s = Superblock::new_checked(&buf[..]).unwrap();
        assert_eq!(s.magic(), EXT2_MAGIC);
        assert_eq!(SuperblockRepr::parse(&s), r);
        assert_eq!(buf[1000], 0x77);
        assert!(Superblock::new_checked(&buf[..100]).is_err());
    }

    #[test]
    fn inode_round_trip_with_extra_times() {
        let mut buf = [0u8; 256];
        let mut r = InodeRepr {
            mode: 0o100644,
            uid: 70000,
            gid: 5,
            size: (3 << 32) | 17,
            atime: Time { sec: 1, nsec: 2 },
            ctime: Time {
                sec: 1 << 33,
                nsec: 999,
            },
            mtime: Time { sec: -5, nsec: 0 },
            links: 2,
            blocks: 8,
            extra_isize: 32,
            ..InodeRepr::default()
        };
        r.block[14] = 99;
        r.emit(&mut RawInode::new_unchecked(&mut buf[..]));
        let p = InodeRepr::parse(&RawInode::new_checked(&buf[..]).unwrap(), true);
        assert_eq!(p, r);
        // Without large sizes the high word is ignored.
        assert_eq!(
            InodeRepr::parse(&RawInode::new_unchecked(&buf[..]), false).size,
            17
        );
        // A 128-byte inode keeps seconds only.
        let mut small = [0u8; 128];
        r.extra_isize = 0;
        r.emit(&mut RawInode::new_unchecked(&mut small[..]));
        let p = InodeRepr::parse(&RawInode::new_unchecked(&small[..]), true);
        assert_eq!(p.atime, Time { sec: 1, nsec: 0 });
    }

    #[test]
    fn dirent_checks() {
        let mut b = [0u8; 24];
        DirentRepr {
            inode: 12,
            rec_len: 24,
            name: b"hello",
            file_type: ft::REG,
        }
        .emit(&mut b, true);
        let d = Dirent::new_checked(&b[..], true).unwrap();
        let r = DirentRepr::parse(&d, true);
        assert_eq!(
            (r.inode, r.rec_len, r.name, r.file_type),
            (12, 24, &b"hello"[..], 1)
        );
        assert!(Dirent::new_checked(&b[..20], true).is_err());
        b[4] = 6; // rec_len not a multiple of 4
        assert!(Dirent::new_checked(&b[..], true).is_err());
        b[4] = 8; // name does not fit
        assert!(Dirent::new_checked(&b[..], true).is_err());
        assert_eq!(dirent_len(1), 12);
        assert_eq!(dirent_len(4), 12);
        assert_eq!(dirent_len(5), 16);
    }
}
