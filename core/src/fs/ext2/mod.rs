//! ext2: the guest's root filesystem from a disk image, read and written.
//!
//! Revisions 0 and 1 with 1, 2 and 4 KiB blocks and the features sparse_super,
//! large_file and filetype. Unknown INCOMPAT features refuse the mount; unknown
//! RO_COMPAT features mount read-only. Directories indexed by htree are read as
//! linear directories (which they also are), and the index flag is cleared when
//! umbra changes one.
//!
//! Design:
//! - One lock ([`State`]) for the whole filesystem; the kernel is single-threaded.
//!   Inode objects ([`inode::Ext2Inode`]) are only a number and a kind; every
//!   operation reads the on-disk inode through a small cache of metadata blocks.
//! - Every metadata update is written through to the device at once, data before
//!   the metadata that points at it (a new block is written before its pointer,
//!   an inode before the directory entry naming it). [`Ext2Fs::sync`] and fsync
//!   only flush the device.
//! - Each live inode object is unique per inode number (a table of weak
//!   references), so its `Drop` means the last open reference went; an inode whose
//!   link count reached zero is freed then (or at once if nobody holds it).
//! - Everything read from the image is checked: the geometry at mount
//!   ([`Ext2Error`], one line), every block number, record length and name length
//!   when used (EIO). Loops are bounded: block trees by their depth and by the
//!   bitmap (a block freed twice is EIO), directory walks by the inode count.

mod cache;
pub mod inode;
pub mod mkfs;
mod names;
pub mod wire;

#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use spin::Mutex;

use self::inode::Ext2Inode;
use self::wire::*;
use super::blockdev::BlockDevice;
use super::vfs::{st_flags, FsStats, Inode, EXT2_SUPER_MAGIC, NAME_MAX};
use crate::error::{Errno, KResult};

pub use self::mkfs::{format, FormatOptions, Inodes};

/// The root directory's inode number.
pub const ROOT_INO: u32 = 2;
/// Metadata blocks kept in the cache (512 KiB of 1 KiB blocks, 2 MiB of
/// 4 KiB ones), fewer if the image is smaller or the guest's memory small
/// ([`cache_blocks`]).
const CACHE_BLOCKS: usize = 512;
/// Fewest metadata blocks kept, however small the guest's memory.
const MIN_CACHE_BLOCKS: u64 = 16;
/// The metadata cache takes at most 1/32 of the guest's memory (`--mem`),
/// the name cache 1/256. Both live in umbra's own heap, not in the memory
/// file, but on a device they are RAM all the same: a guest given 12 MiB
/// should not cost 2 MiB more of cached blocks (as Linux's buffer cache is
/// part of its RAM).
const CACHE_SHARE: u64 = 32;
const NAMES_SHARE: u64 = 256;

/// The most metadata blocks of `bs` bytes cached for a guest of `mem`
/// bytes of memory.
fn cache_blocks(mem: u64, bs: u64) -> usize {
    (mem / CACHE_SHARE / bs.max(1)).clamp(MIN_CACHE_BLOCKS, CACHE_BLOCKS as u64) as usize
}
/// Most links an inode may have (EXT2_LINK_MAX).
pub const LINK_MAX: u16 = 32000;

/// Why an image cannot be mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ext2Error {
    /// The device is smaller than a superblock needs.
    TooSmall(u64),
    /// The superblock magic is wrong.
    BadMagic(u16),
    /// A revision other than 0 and 1.
    BadRevision(u32),
    /// A block size other than 1, 2 and 4 KiB.
    BadBlockSize(u32),
    /// INCOMPAT features umbra does not implement.
    Unsupported(u32),
    /// An impossible superblock value.
    Corrupt(String),
    /// Reading or writing the device failed.
    Io(Errno),
}

impl fmt::Display for Ext2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ext2Error::TooSmall(n) => {
                write!(f, "not an ext2 image: only {n} bytes (too small)")
            }
            Ext2Error::BadMagic(m) => {
                write!(f, "not an ext2 image: bad superblock magic {m:#06x}")
            }
            Ext2Error::BadRevision(r) => write!(f, "unsupported ext2 revision {r}"),
            Ext2Error::BadBlockSize(l) => {
                write!(f, "unsupported block size (log2 field {l}; 1, 2 or 4 KiB)")
            }
            Ext2Error::Unsupported(x) => write!(
                f,
                "unsupported incompatible features {x:#x} (ext3/ext4 image? umbra reads ext2)"
            ),
            Ext2Error::Corrupt(why) => write!(f, "corrupt ext2 image: {why}"),
            Ext2Error::Io(e) => write!(f, "cannot read the image: {e:?}"),
        }
    }
}

fn corrupt(why: impl Into<String>) -> Ext2Error {
    Ext2Error::Corrupt(why.into())
}

/// The fixed geometry, checked at mount.
pub(crate) struct Geo {
    pub bs: usize,
    pub bs64: u64,
    pub blocks_count: u64,
    pub inodes_count: u32,
    pub first_data_block: u64,
    pub bpg: u64,
    pub ipg: u32,
    pub ngroups: u32,
    pub inode_size: usize,
    pub first_ino: u32,
    pub gdt_block: u64,
    pub gdt_blocks: u64,
    pub itb: u64,
    pub filetype: bool,
    pub rev: u32,
    /// Block pointers per indirect block.
    pub ptrs: u64,
    /// 512-byte sectors per block.
    pub spb: u32,
}

impl Geo {
    /// Whether group `g` holds a superblock backup.
    pub fn has_super(&self, g: u32, sparse: bool) -> bool {
        if g <= 1 || !sparse {
            return true;
        }
        [3u32, 5, 7].iter().any(|&b| {
            let mut n = b;
            while n < g {
                match n.checked_mul(b) {
                    Some(m) => n = m,
                    None => return false,
                }
            }
            n == g
        })
    }

    /// Blocks in group `g`.
    pub fn blocks_in_group(&self, g: u32) -> u64 {
        let start = self.bpg.saturating_mul(u64::from(g));
        (self.blocks_count - self.first_data_block)
            .saturating_sub(start)
            .min(self.bpg)
    }

    /// Largest logical block index plus one.
    fn max_lblocks(&self) -> u64 {
        let p = self.ptrs;
        12 + p + p * p + p * p * p
    }
}

/// The mutable state under the filesystem's lock.
pub(crate) struct State {
    pub sb: SuperblockRepr,
    pub sb_raw: Vec<u8>,
    pub groups: Vec<GroupDescRepr>,
    pub cache: cache::BlockCache,
    /// Directory entries by (directory, name): [`names`].
    pub names: names::NameCache,
    /// The inodes with objects alive (open files, cwds, paths being walked):
    /// an entry goes when its last object does ([`FsInner::dropped`]).
    pub live: crate::vecmap::VecMap<u32, Weak<Ext2Inode>>,
    /// The latest time an operation passed in (seconds), for dtime.
    pub now: i64,
}

pub(crate) struct FsInner {
    pub dev: Arc<dyn BlockDevice>,
    pub devno: u64,
    pub g: Geo,
    pub read_only: bool,
    pub sparse: bool,
    pub st: Mutex<State>,
    /// Inodes whose last object was dropped while the state was locked.
    pub pending: Mutex<Vec<u32>>,
}

/// A mounted ext2 filesystem.
#[derive(Clone)]
pub struct Ext2Fs {
    inner: Arc<FsInner>,
}

/// What `umbra image check` and statfs report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ext2Info {
    pub rev: u32,
    pub block_size: u32,
    pub inodes: u32,
    pub free_inodes: u32,
    pub blocks: u64,
    pub free_blocks: u64,
    pub read_only: bool,
}

impl Ext2Fs {
    /// Mounts the image on `dev`; `devno` is what `stat` reports as `st_dev`.
    /// `read_only` refuses every change (EROFS); unknown RO_COMPAT features make
    /// the mount read-only too.
    pub fn mount(
        dev: Arc<dyn BlockDevice>,
        devno: u64,
        read_only: bool,
    ) -> Result<Ext2Fs, Ext2Error> {
        Self::mount_for(dev, devno, read_only, u64::MAX)
    }

    /// [`Self::mount`] for a guest of `mem` bytes of memory: the caches
    /// take a share of it at most ([`CACHE_SHARE`], [`NAMES_SHARE`]).
    pub fn mount_for(
        dev: Arc<dyn BlockDevice>,
        devno: u64,
        read_only: bool,
        mem: u64,
    ) -> Result<Ext2Fs, Ext2Error> {
        let fs = Self::mount_raw(dev, devno, read_only, mem)?;
        let root = fs.inner.root_checked()?;
        drop(root);
        Ok(fs)
    }

    fn mount_raw(
        dev: Arc<dyn BlockDevice>,
        devno: u64,
        read_only: bool,
        mem: u64,
    ) -> Result<Ext2Fs, Ext2Error> {
        let size = dev.size();
        if size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE as u64 {
            return Err(Ext2Error::TooSmall(size));
        }
        let mut sb_raw = vec![0u8; SUPERBLOCK_SIZE];
        dev.read_at(SUPERBLOCK_OFFSET, &mut sb_raw)
            .map_err(Ext2Error::Io)?;
        let view = Superblock::new_checked(&sb_raw[..]).map_err(|_| corrupt("short superblock"))?;
        if view.magic() != EXT2_MAGIC {
            return Err(Ext2Error::BadMagic(view.magic()));
        }
        let sb = SuperblockRepr::parse(&view);
        if sb.rev_level > 1 {
            return Err(Ext2Error::BadRevision(sb.rev_level));
        }
        if sb.log_block_size > 2 {
            return Err(Ext2Error::BadBlockSize(sb.log_block_size));
        }
        let unknown = sb.feature_incompat & !INCOMPAT_SUPPORTED;
        if unknown != 0 {
            return Err(Ext2Error::Unsupported(unknown));
        }
        let read_only = read_only || sb.feature_ro_compat & !RO_COMPAT_SUPPORTED != 0;
        let bs = 1024usize << sb.log_block_size;
        let bs64 = bs as u64;
        let blocks_count = u64::from(sb.blocks_count);
        let first_data_block = u64::from(sb.first_data_block);
        if first_data_block != u64::from(bs == 1024) {
            return Err(corrupt(alloc::format!(
                "first data block {} (expected {} for {bs}-byte blocks)",
                sb.first_data_block,
                u8::from(bs == 1024)
            )));
        }
        if blocks_count <= first_data_block + 2 {
            return Err(corrupt(alloc::format!(
                "impossible block count {blocks_count}"
            )));
        }
        let need = blocks_count.saturating_mul(bs64);
        if need > size {
            return Err(corrupt(alloc::format!(
                "{blocks_count} blocks of {bs} bytes need {need} bytes but the image has {size} (truncated?)"
            )));
        }
        let bpg = u64::from(sb.blocks_per_group);
        if bpg == 0 || bpg > 8 * bs64 {
            return Err(corrupt(alloc::format!("impossible blocks per group {bpg}")));
        }
        let ipg = sb.inodes_per_group;
        if ipg == 0 || u64::from(ipg) > 8 * bs64 {
            return Err(corrupt(alloc::format!("impossible inodes per group {ipg}")));
        }
        let inode_size = usize::from(sb.inode_size);
        if inode_size < GOOD_OLD_INODE_SIZE || inode_size > bs || !inode_size.is_power_of_two() {
            return Err(corrupt(alloc::format!(
                "impossible inode size {inode_size}"
            )));
        }
        let ngroups64 = (blocks_count - first_data_block).div_ceil(bpg);
        let ngroups = u32::try_from(ngroups64).map_err(|_| corrupt("too many groups"))?;
        if u64::from(sb.inodes_count) != u64::from(ipg) * ngroups64 {
            return Err(corrupt(alloc::format!(
                "inode count {} is not {ngroups} groups of {ipg}",
                sb.inodes_count
            )));
        }
        if sb.first_ino < 11 || sb.first_ino >= sb.inodes_count {
            return Err(corrupt(alloc::format!(
                "impossible first inode {}",
                sb.first_ino
            )));
        }
        if sb.free_blocks > sb.blocks_count || sb.free_inodes > sb.inodes_count {
            return Err(corrupt(alloc::format!(
                "impossible free counts ({} blocks, {} inodes)",
                sb.free_blocks,
                sb.free_inodes
            )));
        }
        let gdt_block = first_data_block + 1;
        let gdt_bytes = ngroups64 * GROUP_DESC_SIZE as u64;
        let gdt_blocks = gdt_bytes.div_ceil(bs64);
        if gdt_block + gdt_blocks > blocks_count {
            return Err(corrupt("group descriptors past the end"));
        }
        let itb = (u64::from(ipg) * inode_size as u64).div_ceil(bs64);
        let g = Geo {
            bs,
            bs64,
            blocks_count,
            inodes_count: sb.inodes_count,
            first_data_block,
            bpg,
            ipg,
            ngroups,
            inode_size,
            first_ino: sb.first_ino,
            gdt_block,
            gdt_blocks,
            itb,
            filetype: sb.feature_incompat & FEATURE_INCOMPAT_FILETYPE != 0,
            rev: sb.rev_level,
            ptrs: bs64 / 4,
            spb: (bs / 512) as u32,
        };
        let mut gdt = Vec::new();
        gdt.try_reserve_exact(gdt_bytes as usize)
            .map_err(|_| corrupt("group descriptor table too large"))?;
        gdt.resize(gdt_bytes as usize, 0);
        dev.read_at(gdt_block * bs64, &mut gdt)
            .map_err(Ext2Error::Io)?;
        let mut groups = Vec::with_capacity(ngroups as usize);
        let (mut free_b, mut free_i) = (0u64, 0u64);
        for (i, chunk) in gdt.chunks_exact(GROUP_DESC_SIZE).enumerate() {
            let gi = i as u32;
            let d = GroupDescRepr::parse(
                &GroupDesc::new_checked(chunk).map_err(|_| corrupt("short group descriptor"))?,
            );
            let start = first_data_block + bpg * u64::from(gi);
            let end = start + g.blocks_in_group(gi);
            let inside = |b: u32, n: u64| {
                let b = u64::from(b);
                b >= start && b.saturating_add(n) <= end
            };
            if !inside(d.block_bitmap, 1)
                || !inside(d.inode_bitmap, 1)
                || !inside(d.inode_table, itb)
            {
                return Err(corrupt(alloc::format!(
                    "group {gi}: bitmaps or inode table outside the group"
                )));
            }
            if u64::from(d.free_blocks) > g.blocks_in_group(gi) || u32::from(d.free_inodes) > ipg {
                return Err(corrupt(alloc::format!(
                    "group {gi}: impossible free counts"
                )));
            }
            free_b += u64::from(d.free_blocks);
            free_i += u64::from(d.free_inodes);
            groups.push(d);
        }
        let _ = (free_b, free_i);
        let cache = cache::BlockCache::new(
            cache_blocks(mem, g.bs as u64).min(g.blocks_count as usize),
            g.bs,
        );
        let names = names::NameCache::new(g.inodes_count, mem / NAMES_SHARE);
        let inner = Arc::new(FsInner {
            dev,
            devno,
            sparse: sb.feature_ro_compat & FEATURE_RO_COMPAT_SPARSE_SUPER != 0,
            g,
            read_only,
            st: Mutex::new(State {
                sb,
                sb_raw,
                groups,
                cache,
                names,
                live: crate::vecmap::VecMap::new(),
                now: 0,
            }),
            pending: Mutex::new(Vec::new()),
        });
        Ok(Ext2Fs { inner })
    }

    /// The root directory.
    pub fn root(&self) -> KResult<Arc<dyn Inode>> {
        let r = self.inner.get_inode_locked(ROOT_INO)?;
        Ok(r)
    }

    /// Flushes everything to the device (write-through: only the device's own
    /// flush remains). Also frees inodes whose last link and last reference are
    /// gone. Call at unmount and at umbra's exit.
    pub fn sync(&self) -> KResult<()> {
        if !self.inner.read_only {
            let mut st = self.inner.st.lock();
            self.inner.process_pending(&mut st);
            let now = st.now;
            if now > 0 {
                st.sb.wtime = now as u32;
            }
            self.inner.write_sb(&mut st)?;
        }
        self.inner.dev.flush()
    }

    /// Whether changes are refused.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// What statfs(2) reports (see [`FsInner::statfs`]).
    pub fn statfs(&self) -> FsStats {
        let mut st = self.inner.st.lock();
        self.inner.process_pending(&mut st);
        self.inner.statfs(&st)
    }

    /// Sizes and free counts.
    pub fn info(&self) -> Ext2Info {
        let st = self.inner.st.lock();
        Ext2Info {
            rev: self.inner.g.rev,
            block_size: self.inner.g.bs as u32,
            inodes: self.inner.g.inodes_count,
            free_inodes: st.sb.free_inodes,
            blocks: self.inner.g.blocks_count,
            free_blocks: u64::from(st.sb.free_blocks),
            read_only: self.inner.read_only,
        }
    }
}

impl FsInner {
    /// statfs(2)'s figures as Linux reports them for an ext2 mount today, which
    /// the ext4 driver serves (CONFIG_EXT4_USE_FOR_EXT2; checked against a loop
    /// mount on 6.18): f_blocks leaves out the metadata overhead of
    /// ext4_calculate_overhead (blocks before the first data block; in each
    /// group with a superblock copy, that copy, its group descriptor blocks and
    /// the reserved GDT blocks; every group's two bitmaps and inode table).
    /// The old ext2 driver (ext2_statfs) left the reserved GDT blocks out of the
    /// overhead. f_bfree and f_ffree are the sums of the group descriptors'
    /// counts; f_bavail leaves out s_r_blocks_count (ext4 reserves no more for
    /// a filesystem without extents); f_fsid folds the UUID's two little-endian
    /// halves together, as both drivers do.
    pub fn statfs(&self, st: &State) -> FsStats {
        let g = &self.g;
        let inodes_per_block = (g.bs / g.inode_size).max(1) as u64;
        let itb_per_group = u64::from(g.ipg) / inodes_per_block;
        let reserved_gdt = st
            .sb_raw
            .get(SB_RESERVED_GDT_BLOCKS..SB_RESERVED_GDT_BLOCKS + 2)
            .map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])));
        let mut overhead = g.first_data_block;
        for grp in 0..g.ngroups {
            if g.has_super(grp, self.sparse) {
                overhead += 1 + g.gdt_blocks + reserved_gdt;
            }
        }
        overhead += u64::from(g.ngroups) * (2 + itb_per_group);
        let bfree: u64 = st.groups.iter().map(|d| u64::from(d.free_blocks)).sum();
        let ffree: u64 = st.groups.iter().map(|d| u64::from(d.free_inodes)).sum();
        let reserved = u64::from(st.sb.r_blocks_count);
        let le64 = |at: usize| {
            let mut b = [0u8; 8];
            if let Some(src) = st.sb_raw.get(at..at + 8) {
                b.copy_from_slice(src);
            }
            u64::from_le_bytes(b)
        };
        let fsid = le64(SB_UUID) ^ le64(SB_UUID + 8);
        FsStats {
            f_type: EXT2_SUPER_MAGIC,
            bsize: g.bs as u32,
            blocks: g.blocks_count.saturating_sub(overhead),
            bfree,
            bavail: bfree.saturating_sub(reserved),
            files: u64::from(g.inodes_count),
            ffree,
            fsid: [fsid as u32 as i32, (fsid >> 32) as u32 as i32],
            namelen: NAME_MAX as u32,
            frsize: g.bs as u32,
            flags: if self.read_only {
                st_flags::ST_RDONLY
            } else {
                0
            },
        }
    }
}

/// Offset of s_uuid in the superblock.
const SB_UUID: usize = 104;
/// Offset of s_reserved_gdt_blocks (u16) in the superblock.
const SB_RESERVED_GDT_BLOCKS: usize = 206;

/// Finds a clear bit in `d` in `start..end`.
fn find_zero(d: &[u8], start: u64, end: u64) -> Option<u64> {
    let end = end.min(d.len() as u64 * 8);
    let mut i = start;
    while i < end {
        let byte = d.get((i / 8) as usize).copied()?;
        if i & 7 == 0 && byte == 0xff {
            i += 8;
            continue;
        }
        if byte & (1 << (i % 8)) == 0 {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn test_bit(d: &[u8], i: u64) -> Option<bool> {
    d.get((i / 8) as usize).map(|b| b & (1 << (i % 8)) != 0)
}

fn set_bit(d: &mut [u8], i: u64, on: bool) {
    if let Some(b) = d.get_mut((i / 8) as usize) {
        if on {
            *b |= 1 << (i % 8);
        } else {
            *b &= !(1 << (i % 8));
        }
    }
}

impl FsInner {
    fn root_checked(self: &Arc<Self>) -> Result<Arc<Ext2Inode>, Ext2Error> {
        let mut st = self.st.lock();
        let r = self
            .read_inode(&mut st, ROOT_INO)
            .map_err(|_| corrupt("cannot read the root inode"))?;
        if r.mode & 0xf000 != 0x4000 || r.links == 0 {
            return Err(corrupt("the root inode is not a directory"));
        }
        self.get_inode(&mut st, ROOT_INO).map_err(Ext2Error::Io)
    }

    /// Checks a block number from the image.
    pub fn check_blk(&self, b: u32) -> KResult<u64> {
        let b = u64::from(b);
        if b < self.g.first_data_block || b >= self.g.blocks_count {
            return Err(Errno::EIO);
        }
        Ok(b)
    }

    fn load<'a>(&self, st: &'a mut State, blk: u64) -> KResult<&'a mut [u8]> {
        let i = match st.cache.find(blk) {
            Some(i) => i,
            None => {
                if blk >= self.g.blocks_count {
                    return Err(Errno::EIO);
                }
                let at = blk * self.g.bs64;
                st.cache.fill(blk, |b| self.dev.read_at(at, b))?
            }
        };
        st.cache.slot_mut(i).ok_or(Errno::EIO)
    }

    /// Calls `f` on metadata block `blk`.
    pub fn meta<R>(&self, st: &mut State, blk: u64, f: impl FnOnce(&[u8]) -> R) -> KResult<R> {
        Ok(f(self.load(st, blk)?))
    }

    /// Changes metadata block `blk` with `f` and writes it through.
    pub fn meta_mut<R>(
        &self,
        st: &mut State,
        blk: u64,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> KResult<R> {
        if self.read_only {
            return Err(Errno::EROFS);
        }
        let bs64 = self.g.bs64;
        let b = self.load(st, blk)?;
        let r = f(b);
        if let Err(e) = self.dev.write_at(blk * bs64, b) {
            st.cache.remove(blk);
            return Err(e);
        }
        Ok(r)
    }

    /// Writes a whole block (data, or a fresh metadata block) and keeps the cache
    /// coherent.
    pub fn write_block(&self, st: &mut State, blk: u64, data: &[u8]) -> KResult<()> {
        if self.read_only {
            return Err(Errno::EROFS);
        }
        st.cache.remove(blk);
        self.dev.write_at(blk * self.g.bs64, data)
    }

    /// [`Self::write_block`] of a block given in pieces (data straight
    /// from guest memory, zeroes around it).
    pub fn write_block_pieces(&self, st: &mut State, blk: u64, data: &[&[u8]]) -> KResult<()> {
        if self.read_only {
            return Err(Errno::EROFS);
        }
        st.cache.remove(blk);
        self.dev.write_vectored_at(blk * self.g.bs64, data)
    }

    pub fn write_sb(&self, st: &mut State) -> KResult<()> {
        if self.read_only {
            return Err(Errno::EROFS);
        }
        let sb = st.sb.clone();
        sb.emit(&mut Superblock::new_unchecked(&mut st.sb_raw[..]));
        self.dev.write_at(SUPERBLOCK_OFFSET, &st.sb_raw)
    }

    fn write_gd(&self, st: &mut State, g: u32) -> KResult<()> {
        let d = *st.groups.get(g as usize).ok_or(Errno::EIO)?;
        let off = (g as usize) * GROUP_DESC_SIZE;
        let blk = self.g.gdt_block + (off / self.g.bs) as u64;
        let at = off % self.g.bs;
        self.meta_mut(st, blk, |b| {
            if let Some(s) = b.get_mut(at..at + GROUP_DESC_SIZE) {
                d.emit(&mut GroupDesc::new_unchecked(s));
            }
        })
    }

    fn inode_loc(&self, st: &State, ino: u32) -> KResult<(u64, usize)> {
        if ino == 0 || ino > self.g.inodes_count {
            return Err(Errno::EIO);
        }
        let idx = ino - 1;
        let grp = st
            .groups
            .get((idx / self.g.ipg) as usize)
            .ok_or(Errno::EIO)?;
        let off = u64::from(idx % self.g.ipg) * self.g.inode_size as u64;
        let blk = u64::from(grp.inode_table) + off / self.g.bs64;
        Ok((blk, (off % self.g.bs64) as usize))
    }

    pub fn read_inode(&self, st: &mut State, ino: u32) -> KResult<InodeRepr> {
        let (blk, at) = self.inode_loc(st, ino)?;
        let isz = self.g.inode_size;
        let large = self.g.rev >= 1;
        self.meta(st, blk, |b| {
            b.get(at..at + isz)
                .map(|s| InodeRepr::parse(&RawInode::new_unchecked(s), large))
        })?
        .ok_or(Errno::EIO)
    }

    pub fn write_inode(&self, st: &mut State, ino: u32, r: &InodeRepr) -> KResult<()> {
        let (blk, at) = self.inode_loc(st, ino)?;
        let isz = self.g.inode_size;
        self.meta_mut(st, blk, |b| {
            if let Some(s) = b.get_mut(at..at + isz) {
                r.emit(&mut RawInode::new_unchecked(s));
            }
        })
    }

    /// Writes a brand-new inode: the whole record zeroed, then `r`.
    pub fn init_inode(&self, st: &mut State, ino: u32, r: &InodeRepr, crtime: Time) -> KResult<()> {
        let (blk, at) = self.inode_loc(st, ino)?;
        let isz = self.g.inode_size;
        self.meta_mut(st, blk, |b| {
            if let Some(s) = b.get_mut(at..at + isz) {
                s.fill(0);
                let mut raw = RawInode::new_unchecked(s);
                r.emit(&mut raw);
                r.emit_crtime(&mut raw, crtime);
            }
        })
    }

    /// The `i_extra_isize` new inodes get.
    pub fn new_extra_isize(&self) -> u16 {
        if self.g.inode_size > GOOD_OLD_INODE_SIZE {
            (self.g.inode_size - GOOD_OLD_INODE_SIZE).min(32) as u16
        } else {
            0
        }
    }

    fn group_meta(&self, st: &State, g: u32, blk: u64) -> bool {
        let Some(d) = st.groups.get(g as usize) else {
            return true;
        };
        let start = self.g.first_data_block + self.g.bpg * u64::from(g);
        let it = u64::from(d.inode_table);
        blk == u64::from(d.block_bitmap)
            || blk == u64::from(d.inode_bitmap)
            || (blk >= it && blk < it + self.g.itb)
            || (self.g.has_super(g, self.sparse) && blk <= start + self.g.gdt_blocks)
    }

    /// Allocates a block near `goal`.
    pub fn alloc_block(&self, st: &mut State, goal: u64) -> KResult<u32> {
        if self.read_only {
            return Err(Errno::EROFS);
        }
        if st.sb.free_blocks == 0 {
            return Err(Errno::ENOSPC);
        }
        let fdb = self.g.first_data_block;
        let goal = if goal >= fdb && goal < self.g.blocks_count {
            goal
        } else {
            fdb
        };
        let g0 = ((goal - fdb) / self.g.bpg) as u32;
        for k in 0..self.g.ngroups {
            let g = (g0 + k) % self.g.ngroups;
            let d = *st.groups.get(g as usize).ok_or(Errno::EIO)?;
            if d.free_blocks == 0 {
                continue;
            }
            let n = self.g.blocks_in_group(g);
            let start = if k == 0 { (goal - fdb) % self.g.bpg } else { 0 };
            let bm = self.check_blk(d.block_bitmap)?;
            let found = self.meta(st, bm, |b| {
                find_zero(b, start, n).or_else(|| find_zero(b, 0, start))
            })?;
            let Some(bit) = found else { continue };
            let blk = fdb + self.g.bpg * u64::from(g) + bit;
            if self.group_meta(st, g, blk) {
                // The bitmap says a metadata block is free: corruption.
                return Err(Errno::EIO);
            }
            self.meta_mut(st, bm, |b| set_bit(b, bit, true))?;
            if let Some(gd) = st.groups.get_mut(g as usize) {
                gd.free_blocks = gd.free_blocks.saturating_sub(1);
            }
            st.sb.free_blocks = st.sb.free_blocks.saturating_sub(1);
            self.write_gd(st, g)?;
            self.write_sb(st)?;
            st.cache.remove(blk);
            return u32::try_from(blk).map_err(|_| Errno::EIO);
        }
        Err(Errno::ENOSPC)
    }

    /// A fresh block of zeros (for indirect blocks).
    fn alloc_zeroed(&self, st: &mut State, goal: u64) -> KResult<u32> {
        let b = self.alloc_block(st, goal)?;
        let zeros = vec![0u8; self.g.bs];
        self.write_block(st, u64::from(b), &zeros)?;
        Ok(b)
    }

    /// Frees a block; EIO if it is out of range or already free.
    pub fn free_block(&self, st: &mut State, blk: u32) -> KResult<()> {
        let b = self.check_blk(blk)?;
        let rel = b - self.g.first_data_block;
        let g = (rel / self.g.bpg) as u32;
        let bit = rel % self.g.bpg;
        let d = *st.groups.get(g as usize).ok_or(Errno::EIO)?;
        let bm = self.check_blk(d.block_bitmap)?;
        if self.meta(st, bm, |d| test_bit(d, bit))? != Some(true) {
            return Err(Errno::EIO);
        }
        self.meta_mut(st, bm, |d| set_bit(d, bit, false))?;
        if let Some(gd) = st.groups.get_mut(g as usize) {
            gd.free_blocks = gd.free_blocks.saturating_add(1);
        }
        st.sb.free_blocks = st.sb.free_blocks.saturating_add(1);
        self.write_gd(st, g)?;
        self.write_sb(st)?;
        st.cache.remove(b);
        Ok(())
    }

    /// Allocates an inode, in the parent's group for files and in the emptiest
    /// group for directories.
    pub fn alloc_inode(&self, st: &mut State, parent: u32, is_dir: bool) -> KResult<u32> {
        if self.read_only {
            return Err(Errno::EROFS);
        }
        if st.sb.free_inodes == 0 {
            return Err(Errno::ENOSPC);
        }
        let ng = self.g.ngroups;
        let g0 = if is_dir {
            let mut best = (0u32, 0u16);
            for (i, d) in st.groups.iter().enumerate() {
                if d.free_inodes > best.1 && d.free_blocks > 0 {
                    best = (i as u32, d.free_inodes);
                }
            }
            best.0
        } else {
            (parent.saturating_sub(1) / self.g.ipg).min(ng - 1)
        };
        for k in 0..ng {
            let g = (g0 + k) % ng;
            let d = *st.groups.get(g as usize).ok_or(Errno::EIO)?;
            if d.free_inodes == 0 {
                continue;
            }
            let base = g * self.g.ipg; // inode number of bit 0, minus one
            let start = u64::from(self.g.first_ino.saturating_sub(1).saturating_sub(base));
            let bm = self.check_blk(d.inode_bitmap)?;
            let ipg = u64::from(self.g.ipg);
            let Some(bit) = self.meta(st, bm, |b| find_zero(b, start, ipg))? else {
                continue;
            };
            // A number used before: its entries, if it was a directory, are gone.
            st.names.forget_dir(base + bit as u32 + 1);
            self.meta_mut(st, bm, |b| set_bit(b, bit, true))?;
            if let Some(gd) = st.groups.get_mut(g as usize) {
                gd.free_inodes = gd.free_inodes.saturating_sub(1);
                if is_dir {
                    gd.used_dirs = gd.used_dirs.saturating_add(1);
                }
            }
            st.sb.free_inodes = st.sb.free_inodes.saturating_sub(1);
            self.write_gd(st, g)?;
            self.write_sb(st)?;
            return Ok(base + bit as u32 + 1);
        }
        Err(Errno::ENOSPC)
    }

    fn free_inode_bit(&self, st: &mut State, ino: u32, is_dir: bool) -> KResult<()> {
        if ino == 0 || ino > self.g.inodes_count {
            return Err(Errno::EIO);
        }
        let g = (ino - 1) / self.g.ipg;
        let bit = u64::from((ino - 1) % self.g.ipg);
        st.names.forget_dir(ino);
        let d = *st.groups.get(g as usize).ok_or(Errno::EIO)?;
        let bm = self.check_blk(d.inode_bitmap)?;
        if self.meta(st, bm, |d| test_bit(d, bit))? != Some(true) {
            return Err(Errno::EIO);
        }
        self.meta_mut(st, bm, |d| set_bit(d, bit, false))?;
        if let Some(gd) = st.groups.get_mut(g as usize) {
            gd.free_inodes = gd.free_inodes.saturating_add(1);
            if is_dir {
                gd.used_dirs = gd.used_dirs.saturating_sub(1);
            }
        }
        st.sb.free_inodes = st.sb.free_inodes.saturating_add(1);
        self.write_gd(st, g)?;
        self.write_sb(st)
    }

    /// Where logical block `lblk` sits in the block tree: the `i_block` slot, the
    /// index in each indirect level, and the depth.
    fn path(&self, lblk: u64) -> KResult<(usize, [u64; 3], usize)> {
        let p = self.g.ptrs;
        if lblk < 12 {
            return Ok((lblk as usize, [0; 3], 0));
        }
        let mut l = lblk - 12;
        if l < p {
            return Ok((12, [l, 0, 0], 1));
        }
        l -= p;
        if l < p * p {
            return Ok((13, [l / p, l % p, 0], 2));
        }
        l -= p * p;
        if l < p * p * p {
            return Ok((14, [l / (p * p), (l / p) % p, l % p], 3));
        }
        Err(Errno::EFBIG)
    }

    /// The physical block of `lblk` (0 for a hole).
    pub fn bmap(&self, st: &mut State, r: &InodeRepr, lblk: u64) -> KResult<u32> {
        let (slot, idx, depth) = self.path(lblk)?;
        let mut b = *r.block.get(slot).ok_or(Errno::EIO)?;
        for &i in idx.iter().take(depth) {
            if b == 0 {
                return Ok(0);
            }
            let blk = self.check_blk(b)?;
            b = self.meta(st, blk, |d| read_u32(d, (i * 4) as usize))?;
        }
        if b != 0 {
            self.check_blk(b)?;
        }
        Ok(b)
    }

    /// Points `lblk` at `val`, allocating indirect blocks on the way (each written
    /// zeroed before it is linked). Updates `r.block` and `r.blocks`; the caller
    /// writes the inode.
    pub fn bmap_set(&self, st: &mut State, r: &mut InodeRepr, lblk: u64, val: u32) -> KResult<()> {
        let (slot, idx, depth) = self.path(lblk)?;
        let goal = u64::from(val);
        if depth == 0 {
            if let Some(s) = r.block.get_mut(slot) {
                *s = val;
            }
            return Ok(());
        }
        let mut cur = *r.block.get(slot).ok_or(Errno::EIO)?;
        if cur == 0 {
            cur = self.alloc_zeroed(st, goal)?;
            if let Some(s) = r.block.get_mut(slot) {
                *s = cur;
            }
            r.blocks = r.blocks.saturating_add(self.g.spb);
        }
        for (level, &i) in idx.iter().take(depth).enumerate() {
            let blk = self.check_blk(cur)?;
            let at = (i * 4) as usize;
            if level + 1 == depth {
                self.meta_mut(st, blk, |d| write_u32(d, at, val))?;
                break;
            }
            let mut next = self.meta(st, blk, |d| read_u32(d, at))?;
            if next == 0 {
                next = self.alloc_zeroed(st, goal)?;
                self.meta_mut(st, blk, |d| write_u32(d, at, next))?;
                r.blocks = r.blocks.saturating_add(self.g.spb);
            }
            cur = next;
        }
        Ok(())
    }

    /// Frees every block at logical index `from` and beyond.
    pub fn free_from(&self, st: &mut State, r: &mut InodeRepr, from: u64) -> KResult<()> {
        for i in (from.min(12) as usize)..12 {
            let b = r.block[i];
            if b != 0 {
                self.free_block(st, b)?;
                r.block[i] = 0;
                r.blocks = r.blocks.saturating_sub(self.g.spb);
            }
        }
        let p = self.g.ptrs;
        let mut base = 12u64;
        for (level, slot) in [(1u32, 12usize), (2, 13), (3, 14)] {
            let span = p.pow(level);
            let b = r.block[slot];
            if b != 0 && from < base + span {
                let keep = from.saturating_sub(base);
                self.free_tree(st, b, level, keep, r)?;
                if keep == 0 {
                    self.free_block(st, b)?;
                    r.block[slot] = 0;
                    r.blocks = r.blocks.saturating_sub(self.g.spb);
                }
            }
            base += span;
        }
        Ok(())
    }

    /// Frees the children of indirect block `blk` (at `level`) that cover
    /// logical indexes `keep..` relative to the block.
    fn free_tree(
        &self,
        st: &mut State,
        blk: u32,
        level: u32,
        keep: u64,
        r: &mut InodeRepr,
    ) -> KResult<()> {
        let b = self.check_blk(blk)?;
        let ptrs: Vec<u32> = self.meta(st, b, |d| {
            d.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })?;
        let child_span = self.g.ptrs.pow(level - 1);
        let mut changed = Vec::new();
        for (i, &ptr) in ptrs.iter().enumerate() {
            if ptr == 0 {
                continue;
            }
            let start = i as u64 * child_span;
            if start + child_span <= keep {
                continue;
            }
            if level > 1 {
                self.free_tree(st, ptr, level - 1, keep.saturating_sub(start), r)?;
            }
            if start >= keep {
                self.free_block(st, ptr)?;
                r.blocks = r.blocks.saturating_sub(self.g.spb);
                changed.push(i);
            }
        }
        if !changed.is_empty() && keep > 0 {
            self.meta_mut(st, b, |d| {
                for i in changed {
                    write_u32(d, i * 4, 0);
                }
            })?;
        }
        Ok(())
    }

    /// The object for inode `ino`, shared with every other user of it.
    pub fn get_inode(self: &Arc<Self>, st: &mut State, ino: u32) -> KResult<Arc<Ext2Inode>> {
        if let Some(a) = st.live.get(&ino).and_then(Weak::upgrade) {
            return Ok(a);
        }
        let r = self.read_inode(st, ino)?;
        let kind = inode::kind_of(r.mode).ok_or(Errno::EIO)?;
        if r.links == 0 {
            return Err(Errno::EIO);
        }
        let a = Arc::new(Ext2Inode::new(self.clone(), ino, kind));
        st.live.insert(ino, Arc::downgrade(&a));
        Ok(a)
    }

    fn get_inode_locked(self: &Arc<Self>, ino: u32) -> KResult<Arc<Ext2Inode>> {
        let mut st = self.st.lock();
        self.get_inode(&mut st, ino)
    }

    /// Whether some object of `ino` is alive (an open file, a cwd, a path).
    pub fn is_live(&self, st: &State, ino: u32) -> bool {
        st.live.get(&ino).is_some_and(|w| w.strong_count() > 0)
    }

    /// Frees the inodes whose objects were dropped while the lock was held.
    pub fn process_pending(&self, st: &mut State) {
        let list: Vec<u32> = core::mem::take(&mut *self.pending.lock());
        for ino in list {
            self.dropped(st, ino);
        }
    }

    /// The last object of `ino` went away.
    pub fn dropped(&self, st: &mut State, ino: u32) {
        if self.is_live(st, ino) {
            return;
        }
        st.live.remove(&ino);
        if self.read_only {
            return;
        }
        if let Ok(r) = self.read_inode(st, ino) {
            if r.links == 0 && r.mode != 0 && r.dtime == 0 {
                let _ = self.release(st, ino);
            }
        }
    }

    /// Frees an inode with no links left: its blocks, its xattr block, its bit.
    pub fn release(&self, st: &mut State, ino: u32) -> KResult<()> {
        let mut r = self.read_inode(st, ino)?;
        let is_dir = r.mode & 0xf000 == 0x4000;
        if inode::has_data_blocks(&r, self.g.spb) {
            let res = self.free_from(st, &mut r, 0);
            if res.is_err() {
                r.block = [0; N_BLOCKS];
            }
        }
        if r.file_acl != 0 {
            let _ = self.drop_xattr_block(st, r.file_acl);
            r.file_acl = 0;
        }
        r.links = 0;
        r.size = 0;
        r.blocks = 0;
        let now = u32::try_from(st.now.max(1)).unwrap_or(u32::MAX);
        r.dtime = now.max(self.g.inodes_count.saturating_add(1));
        self.write_inode(st, ino, &r)?;
        self.free_inode_bit(st, ino, is_dir)
    }

    fn drop_xattr_block(&self, st: &mut State, blk: u32) -> KResult<()> {
        let b = self.check_blk(blk)?;
        let (magic, refs) = self.meta(st, b, |d| (read_u32(d, 0), read_u32(d, 4)))?;
        if magic != 0xEA02_0000 {
            return Err(Errno::EIO);
        }
        if refs <= 1 {
            self.free_block(st, blk)
        } else {
            self.meta_mut(st, b, |d| write_u32(d, 4, refs - 1))
        }
    }

    /// Sets the large_file feature once a file passes 2 GiB.
    pub fn note_large_file(&self, st: &mut State, size: u64) -> KResult<()> {
        if size > i32::MAX as u64 && st.sb.feature_ro_compat & FEATURE_RO_COMPAT_LARGE_FILE == 0 {
            st.sb.feature_ro_compat |= FEATURE_RO_COMPAT_LARGE_FILE;
            self.write_sb(st)?;
        }
        Ok(())
    }

    /// Largest file size.
    pub fn max_file_size(&self) -> u64 {
        let tree = self.g.max_lblocks().saturating_mul(self.g.bs64);
        let by_count = (u64::from(u32::MAX) * 512 / self.g.bs64 - self.g.ptrs * 3 - 3)
            .saturating_mul(self.g.bs64);
        let cap = if self.g.rev == 0 {
            i32::MAX as u64
        } else {
            i64::MAX as u64
        };
        tree.min(by_count).min(cap)
    }
}
