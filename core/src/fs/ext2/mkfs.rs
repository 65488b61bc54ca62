//! Formatting: a fresh ext2 revision 1 filesystem (sparse_super, large_file,
//! filetype; 256-byte inodes, or 128-byte ones on request) with an empty root
//! and /lost+found, as
//! `mke2fs -t ext2 -O ^resize_inode,^dir_index,^ext_attr` would make it.
//! `umbra image create` formats a file this way and fills it through the
//! ordinary [`Inode`](crate::fs::vfs::Inode) operations.

use alloc::sync::Arc;
use alloc::vec;

use umbra_abi::structs::Timespec;

use super::wire::*;
use super::{corrupt, Ext2Error, Ext2Fs, ROOT_INO};
use crate::fs::blockdev::BlockDevice;
use crate::fs::vfs::{FileType, NewNode};

/// How to format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatOptions {
    /// 1024, 2048 or 4096.
    pub block_size: u32,
    /// How many inodes (always rounded up to fill the inode tables).
    pub inodes: Inodes,
    /// 256 (mke2fs's default: nanosecond and creation times, dates past
    /// 2038) or 128 (the original ext2 inode, as genext2fs makes: seconds
    /// only, half the inode table).
    pub inode_size: u32,
    /// The creation time (seconds since the epoch).
    pub now: i64,
    /// The filesystem UUID.
    pub uuid: [u8; 16],
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            block_size: 1024,
            inodes: Inodes::AtLeast(0),
            inode_size: INODE_SIZE,
            now: 0,
            uuid: [0x75; 16],
        }
    }
}

/// How many inodes [`format`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inodes {
    /// This many, and at least 64 and one per 4 KiB of space (mke2fs's
    /// default ratio), so that the filesystem has room to grow.
    AtLeast(u32),
    /// This many (at least 16: the 11 reserved ones and a few more), for an
    /// image that is filled once, e.g. a device's read-only root: every
    /// inode costs 128 or 256 bytes of inode table.
    Exactly(u32),
}

/// The default inode size.
const INODE_SIZE: u32 = 256;
const FIRST_INO: u32 = 11;

fn is_backup_group(g: u32) -> bool {
    if g <= 1 {
        return true;
    }
    [3u32, 5, 7].iter().any(|&b| {
        let mut n = b;
        while n < g {
            n = n.saturating_mul(b);
        }
        n == g
    })
}

struct Layout {
    blocks: u64,
    fdb: u64,
    bpg: u64,
    ngroups: u32,
    ipg: u32,
    itb: u64,
    gdt_blocks: u64,
}

impl Layout {
    fn group_blocks(&self, g: u32) -> u64 {
        (self.blocks - self.fdb - u64::from(g) * self.bpg).min(self.bpg)
    }

    fn overhead(&self, g: u32) -> u64 {
        let sb = if is_backup_group(g) {
            1 + self.gdt_blocks
        } else {
            0
        };
        sb + 2 + self.itb
    }

    fn compute(size: u64, bs: u64, inodes: Inodes, isz: u32) -> Result<Layout, Ext2Error> {
        let fdb = u64::from(bs == 1024);
        let mut blocks = (size / bs).min(u64::from(u32::MAX));
        if blocks < 12 {
            return Err(corrupt(alloc::format!(
                "{size} bytes is too small for a filesystem (at least 12 blocks)"
            )));
        }
        let bpg = 8 * bs;
        let per_block = (bs / u64::from(isz)) as u32;
        loop {
            let ngroups = (blocks - fdb).div_ceil(bpg);
            let ngroups32 = u32::try_from(ngroups).map_err(|_| corrupt("too many groups"))?;
            let want = match inodes {
                Inodes::AtLeast(n) => u64::from(n).max(blocks * bs / 4096).max(64),
                Inodes::Exactly(n) => u64::from(n).max(16),
            };
            let mut ipg = want.div_ceil(ngroups);
            ipg = ipg.div_ceil(u64::from(per_block.max(8))) * u64::from(per_block.max(8));
            ipg = ipg.min(8 * bs).min(u64::from(u32::MAX) / ngroups);
            let l = Layout {
                blocks,
                fdb,
                bpg,
                ngroups: ngroups32,
                ipg: ipg as u32,
                itb: (ipg * u64::from(isz)).div_ceil(bs),
                gdt_blocks: (ngroups * GROUP_DESC_SIZE as u64).div_ceil(bs),
            };
            let last = ngroups32 - 1;
            if l.group_blocks(last) < l.overhead(last) + 4 {
                if last == 0 {
                    return Err(corrupt(alloc::format!(
                        "{size} bytes is too small for {} inodes",
                        want
                    )));
                }
                blocks = fdb + u64::from(last) * bpg;
                continue;
            }
            return Ok(l);
        }
    }
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    write_u32(b, at, v)
}

fn io(e: crate::error::Errno) -> Ext2Error {
    Ext2Error::Io(e)
}

/// Writes a fresh filesystem over all of `dev` (its previous contents are lost).
pub fn format(dev: &Arc<dyn BlockDevice>, opts: &FormatOptions) -> Result<(), Ext2Error> {
    let bs = u64::from(opts.block_size);
    if ![1024, 2048, 4096].contains(&bs) {
        return Err(Ext2Error::BadBlockSize(opts.block_size));
    }
    if ![128, 256].contains(&opts.inode_size) {
        return Err(corrupt(alloc::format!(
            "inode size {} is not 128 or 256",
            opts.inode_size
        )));
    }
    let l = Layout::compute(dev.size(), bs, opts.inodes, opts.inode_size)?;
    let bsz = bs as usize;
    let now = opts.now.clamp(0, i64::from(u32::MAX)) as u32;

    // Group descriptors, bitmaps and zeroed inode tables.
    let mut gdt = vec![0u8; (l.gdt_blocks * bs) as usize];
    let (mut free_blocks, mut free_inodes) = (0u64, 0u64);
    let zeros = vec![0u8; bsz * 16];
    for g in 0..l.ngroups {
        let start = l.fdb + u64::from(g) * l.bpg;
        let sb_blocks = if is_backup_group(g) {
            1 + l.gdt_blocks
        } else {
            0
        };
        let bb = start + sb_blocks;
        let ib = bb + 1;
        let it = bb + 2;
        let used = sb_blocks + 2 + l.itb;
        let nblocks = l.group_blocks(g);
        let mut bbm = vec![0u8; bsz];
        for i in (0..used).chain(nblocks..8 * bs) {
            bbm[(i / 8) as usize] |= 1 << (i % 8);
        }
        let mut ibm = vec![0u8; bsz];
        let reserved = if g == 0 { FIRST_INO - 1 } else { 0 };
        for i in (0..u64::from(reserved)).chain(u64::from(l.ipg)..8 * bs) {
            ibm[(i / 8) as usize] |= 1 << (i % 8);
        }
        dev.write_at(bb * bs, &bbm).map_err(io)?;
        dev.write_at(ib * bs, &ibm).map_err(io)?;
        let mut left = l.itb;
        let mut at = it;
        while left > 0 {
            let n = left.min(16);
            dev.write_at(at * bs, &zeros[..(n * bs) as usize])
                .map_err(io)?;
            at += n;
            left -= n;
        }
        let d = GroupDescRepr {
            block_bitmap: bb as u32,
            inode_bitmap: ib as u32,
            inode_table: it as u32,
            free_blocks: (nblocks - used) as u16,
            free_inodes: (l.ipg - reserved) as u16,
            used_dirs: 0,
        };
        free_blocks += nblocks - used;
        free_inodes += u64::from(l.ipg - reserved);
        let off = g as usize * GROUP_DESC_SIZE;
        d.emit(&mut GroupDesc::new_unchecked(
            &mut gdt[off..off + GROUP_DESC_SIZE],
        ));
    }

    // The superblock and its backups.
    let mut sb = vec![0u8; SUPERBLOCK_SIZE];
    let repr = SuperblockRepr {
        inodes_count: l.ipg * l.ngroups,
        blocks_count: l.blocks as u32,
        r_blocks_count: 0,
        free_blocks: free_blocks as u32,
        free_inodes: free_inodes as u32,
        first_data_block: l.fdb as u32,
        log_block_size: (bs / 1024).trailing_zeros(),
        blocks_per_group: l.bpg as u32,
        inodes_per_group: l.ipg,
        mtime: 0,
        wtime: now,
        magic: EXT2_MAGIC,
        state: 1,
        rev_level: 1,
        first_ino: FIRST_INO,
        inode_size: opts.inode_size as u16,
        feature_compat: 0,
        feature_incompat: FEATURE_INCOMPAT_FILETYPE,
        feature_ro_compat: FEATURE_RO_COMPAT_SPARSE_SUPER | FEATURE_RO_COMPAT_LARGE_FILE,
    };
    repr.emit(&mut Superblock::new_unchecked(&mut sb[..]));
    put32(&mut sb, 28, (bs / 1024).trailing_zeros()); // s_log_frag_size
    put32(&mut sb, 36, l.bpg as u32); // s_frags_per_group
    write_u16(&mut sb, 54, 0xffff); // s_max_mnt_count: -1
    write_u16(&mut sb, 60, 1); // s_errors: continue
    put32(&mut sb, 64, now); // s_lastcheck
    sb[104..120].copy_from_slice(&opts.uuid);
    put32(&mut sb, 0x108, now); // s_mkfs_time
    if opts.inode_size > 128 {
        write_u16(&mut sb, 0x15c, 32); // s_min_extra_isize
        write_u16(&mut sb, 0x15e, 32); // s_want_extra_isize
    }
    for g in (0..l.ngroups).filter(|&g| is_backup_group(g)) {
        let start = l.fdb + u64::from(g) * l.bpg;
        write_u16(&mut sb, 90, g as u16); // s_block_group_nr
        let at = if g == 0 { 1024 } else { start * bs };
        dev.write_at(at, &sb).map_err(io)?;
        dev.write_at((start + 1) * bs, &gdt).map_err(io)?;
    }
    dev.flush().map_err(io)?;

    // The root directory and lost+found, through the filesystem itself.
    let fs = Ext2Fs::mount_raw(dev.clone(), 0, false, u64::MAX)?;
    {
        let inner = &fs.inner;
        let mut st = inner.st.lock();
        let b = inner.alloc_block(&mut st, 0).map_err(io)?;
        let mut blk = vec![0u8; bsz];
        for (at, name, rec) in [(0usize, &b"."[..], 12usize), (12, &b".."[..], bsz - 12)] {
            DirentRepr {
                inode: ROOT_INO,
                rec_len: rec,
                name,
                file_type: ft::DIR,
            }
            .emit(&mut blk[at..], true);
        }
        inner.write_block(&mut st, u64::from(b), &blk).map_err(io)?;
        let t = Time {
            sec: i64::from(now),
            nsec: 0,
        };
        let mut r = InodeRepr {
            mode: 0o40755,
            atime: t,
            ctime: t,
            mtime: t,
            links: 2,
            blocks: (bs / 512) as u32,
            size: bs,
            extra_isize: inner.new_extra_isize(),
            ..InodeRepr::default()
        };
        r.block[0] = b;
        inner.init_inode(&mut st, ROOT_INO, &r, t).map_err(io)?;
        if let Some(gd) = st.groups.get_mut(0) {
            gd.used_dirs += 1;
        }
        inner.write_gd(&mut st, 0).map_err(io)?;
    }
    let root = fs.root().map_err(io)?;
    let lf = NewNode {
        kind: FileType::Directory,
        perm: 0o700,
        uid: 0,
        gid: 0,
        rdev: 0,
        now: Timespec {
            tv_sec: i64::from(now),
            tv_nsec: 0,
        },
    };
    root.create(b"lost+found", &lf).map_err(io)?;
    drop(root);
    fs.sync().map_err(io)?;
    Ok(())
}

/// The size `umbra image create` gives an image holding `data_bytes` of file
/// data in `files` files and `dirs` directories: room for the data, its indirect
/// blocks, directory blocks and inode tables, plus a quarter free.
pub fn suggested_size(data_bytes: u64, files: u64, dirs: u64, block_size: u32) -> u64 {
    let bs = u64::from(block_size.max(1024));
    let data_blocks = data_bytes.div_ceil(bs) + files;
    let indirect = data_blocks / (bs / 4) + files / 4 + 1;
    let inode_bytes = (files + dirs + 64).saturating_mul(u64::from(INODE_SIZE) * 2);
    let meta = inode_bytes + (dirs + 2) * bs * 2;
    let total = (data_blocks + indirect) * bs + meta;
    let total = total + total / 4 + (1 << 20);
    total.div_ceil(bs) * bs
}
