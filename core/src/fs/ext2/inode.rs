//! ext2 inodes as VFS [`Inode`]s: file data through the block tree, directories
//! as linear lists of entries, symlinks fast and slow, and device nodes.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;

use umbra_abi::structs::Timespec;

use super::wire::*;
use super::{FsInner, State, LINK_MAX};
use crate::error::{Errno, KResult};
use crate::fs::vfs::{
    makedev, DirEntry, FileType, FsStats, Inode, Metadata, NewNode, SetAttr, NAME_MAX,
};

/// An ext2 inode in memory: only its number. At most one object exists per
/// number; dropping the last one frees the inode if it has no links left.
pub struct Ext2Inode {
    fs: Arc<FsInner>,
    ino: u32,
    kind: FileType,
}

impl Drop for Ext2Inode {
    fn drop(&mut self) {
        self.fs.pending.lock().push(self.ino);
        if let Some(mut st) = self.fs.st.try_lock() {
            self.fs.process_pending(&mut st);
        }
    }
}

/// The node type of an inode mode.
pub fn kind_of(mode: u16) -> Option<FileType> {
    FileType::from_mode(u32::from(mode))
}

fn ft_of(kind: FileType) -> u8 {
    match kind {
        FileType::Regular => ft::REG,
        FileType::Directory => ft::DIR,
        FileType::Symlink => ft::LNK,
        FileType::CharDevice => ft::CHR,
        FileType::BlockDevice => ft::BLK,
        FileType::Fifo => ft::FIFO,
        FileType::Socket => ft::SOCK,
    }
}

fn kind_of_ft(t: u8) -> Option<FileType> {
    Some(match t {
        ft::REG => FileType::Regular,
        ft::DIR => FileType::Directory,
        ft::LNK => FileType::Symlink,
        ft::CHR => FileType::CharDevice,
        ft::BLK => FileType::BlockDevice,
        ft::FIFO => FileType::Fifo,
        ft::SOCK => FileType::Socket,
        _ => return None,
    })
}

/// Whether `i_block` holds block numbers (not a fast symlink or a device).
pub fn has_data_blocks(r: &InodeRepr, spb: u32) -> bool {
    match r.mode & 0xf000 {
        0x8000 | 0x4000 => true,
        0xa000 => {
            let acl = if r.file_acl != 0 { spb } else { 0 };
            r.blocks > acl
        }
        _ => false,
    }
}

fn to_time(t: Timespec) -> Time {
    Time {
        sec: t.tv_sec,
        nsec: u32::try_from(t.tv_nsec).unwrap_or(0),
    }
}

fn to_ts(t: Time) -> Timespec {
    Timespec {
        tv_sec: t.sec,
        tv_nsec: i64::from(t.nsec),
    }
}

/// Checks a name a directory entry is created under.
fn check_new_name(name: &[u8]) -> KResult<()> {
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if name == b"." || name == b".." {
        return Err(Errno::EEXIST);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if name.contains(&b'/') || name.contains(&0) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// A directory entry found by name.
#[derive(Clone, Copy)]
struct Found {
    ino: u32,
    lblk: u64,
    pos: usize,
    prev: Option<usize>,
}

impl FsInner {
    fn touch(st: &mut State, now: Timespec) {
        st.now = st.now.max(now.tv_sec);
    }

    /// Walks the entries of directory `r` from logical block `from`, calling `f`
    /// with (logical block, position, entry) until it returns `Some`.
    fn dir_scan<T>(
        &self,
        st: &mut State,
        r: &InodeRepr,
        from: u64,
        mut f: impl FnMut(u64, usize, &DirentRepr<'_>) -> Option<T>,
    ) -> KResult<Option<T>> {
        let n = r.size / self.g.bs64;
        let ftype = self.g.filetype;
        for lblk in from..n {
            let phys = self.bmap(st, r, lblk)?;
            if phys == 0 {
                return Err(Errno::EIO);
            }
            let res = self.meta(st, u64::from(phys), |d| -> KResult<Option<T>> {
                let mut pos = 0usize;
                while pos < d.len() {
                    let rest = d.get(pos..).ok_or(Errno::EIO)?;
                    let e = Dirent::new_checked(rest, ftype)?;
                    let rep = DirentRepr::parse(&e, ftype);
                    if let Some(t) = f(lblk, pos, &rep) {
                        return Ok(Some(t));
                    }
                    pos += rep.rec_len;
                }
                Ok(None)
            })??;
            if res.is_some() {
                return Ok(res);
            }
        }
        Ok(None)
    }

    fn dir_find(&self, st: &mut State, r: &InodeRepr, name: &[u8]) -> KResult<Option<Found>> {
        let want = name;
        let mut prev: Option<(u64, usize)> = None;
        self.dir_scan(st, r, 0, |lblk, pos, e| {
            let p = match prev {
                Some((l, pp)) if l == lblk => Some(pp),
                _ => None,
            };
            prev = Some((lblk, pos));
            (e.inode != 0 && e.name == want).then_some(Found {
                ino: e.inode,
                lblk,
                pos,
                prev: p,
            })
        })
    }

    fn dir_inode(&self, st: &mut State, ino: u32) -> KResult<InodeRepr> {
        let r = self.read_inode(st, ino)?;
        if r.mode & 0xf000 != 0x4000 {
            return Err(Errno::ENOTDIR);
        }
        Ok(r)
    }

    /// Adds an entry `name` → `ino` to directory `dir`.
    fn dir_add(
        &self,
        st: &mut State,
        dir: u32,
        name: &[u8],
        ino: u32,
        file_type: u8,
        now: Timespec,
    ) -> KResult<()> {
        st.names.forget_dir(dir);
        let mut r = self.dir_inode(st, dir)?;
        let need = dirent_len(name.len());
        let slot = self.dir_scan(st, &r, 0, |lblk, pos, e| {
            let used = if e.inode == 0 {
                0
            } else {
                dirent_len(e.name.len())
            };
            (e.rec_len >= used + need).then_some((lblk, pos, used, e.rec_len))
        })?;
        let ftype = self.g.filetype;
        let new = |rec_len| DirentRepr {
            inode: ino,
            rec_len,
            name,
            file_type: if ftype { file_type } else { 0 },
        };
        match slot {
            Some((lblk, pos, used, rec)) => {
                let phys = self.bmap(st, &r, lblk)?;
                self.meta_mut(st, u64::from(phys), |d| {
                    if used == 0 {
                        if let Some(s) = d.get_mut(pos..) {
                            new(rec).emit(s, ftype);
                        }
                    } else {
                        if let Some(s) = d.get_mut(pos..) {
                            dirent_set_rec_len(s, used);
                        }
                        if let Some(s) = d.get_mut(pos + used..) {
                            new(rec - used).emit(s, ftype);
                        }
                    }
                })?;
            }
            None => {
                let n = r.size / self.g.bs64;
                if r.size % self.g.bs64 != 0 {
                    return Err(Errno::EIO);
                }
                let goal = match n {
                    0 => 0,
                    _ => u64::from(self.bmap(st, &r, n - 1)?) + 1,
                };
                let phys = self.alloc_block(st, goal)?;
                let mut blk = vec![0u8; self.g.bs];
                new(self.g.bs).emit(&mut blk, ftype);
                let res = self
                    .write_block(st, u64::from(phys), &blk)
                    .and_then(|()| self.bmap_set(st, &mut r, n, phys));
                if let Err(e) = res {
                    let _ = self.free_block(st, phys);
                    let _ = self.write_inode(st, dir, &r);
                    return Err(e);
                }
                r.blocks = r.blocks.saturating_add(self.g.spb);
                r.size += self.g.bs64;
            }
        }
        r.flags &= !INDEX_FL;
        r.mtime = to_time(now);
        r.ctime = to_time(now);
        self.write_inode(st, dir, &r)
    }

    /// Removes the entry `f` of directory `dir`.
    fn dir_remove(&self, st: &mut State, dir: u32, f: &Found, now: Timespec) -> KResult<()> {
        st.names.forget_dir(dir);
        let mut r = self.dir_inode(st, dir)?;
        let phys = self.bmap(st, &r, f.lblk)?;
        let pos = f.pos;
        self.meta_mut(st, u64::from(phys), |d| {
            let rec = d.get(pos..).map_or(0, |s| {
                usize::from(u16::from_le_bytes([
                    s.get(4).copied().unwrap_or(0),
                    s.get(5).copied().unwrap_or(0),
                ]))
            });
            match f.prev {
                Some(pp) => {
                    if let Some(s) = d.get_mut(pp..) {
                        dirent_set_rec_len(s, (pos - pp) + rec);
                    }
                }
                None => {
                    if let Some(s) = d.get_mut(pos..) {
                        dirent_set_inode(s, 0);
                    }
                }
            }
        })?;
        r.flags &= !INDEX_FL;
        r.mtime = to_time(now);
        r.ctime = to_time(now);
        self.write_inode(st, dir, &r)
    }

    /// Points the entry `f` of directory `dir` at another inode.
    fn dir_retarget(
        &self,
        st: &mut State,
        dir: u32,
        f: &Found,
        ino: u32,
        file_type: u8,
    ) -> KResult<()> {
        st.names.forget_dir(dir);
        let mut r = self.dir_inode(st, dir)?;
        let phys = self.bmap(st, &r, f.lblk)?;
        let ftype = self.g.filetype;
        self.meta_mut(st, u64::from(phys), |d| {
            if let Some(s) = d.get_mut(f.pos..) {
                dirent_set_inode(s, ino);
                if ftype {
                    dirent_set_type(s, file_type);
                }
            }
        })?;
        if r.flags & INDEX_FL != 0 {
            r.flags &= !INDEX_FL;
            self.write_inode(st, dir, &r)?;
        }
        Ok(())
    }

    fn dir_is_empty(&self, st: &mut State, r: &InodeRepr) -> KResult<bool> {
        let other = self.dir_scan(st, r, 0, |_, _, e| {
            (e.inode != 0 && e.name != b"." && e.name != b"..").then_some(())
        })?;
        Ok(other.is_none())
    }

    fn update(
        &self,
        st: &mut State,
        ino: u32,
        f: impl FnOnce(&mut InodeRepr),
    ) -> KResult<InodeRepr> {
        let mut r = self.read_inode(st, ino)?;
        f(&mut r);
        self.write_inode(st, ino, &r)?;
        Ok(r)
    }

    /// Drops one link of `ino`; frees it if that was the last link and nobody
    /// holds the inode.
    fn unlink_inode(&self, st: &mut State, ino: u32, all: bool, now: Timespec) -> KResult<()> {
        let r = self.update(st, ino, |r| {
            r.links = if all { 0 } else { r.links.saturating_sub(1) };
            r.ctime = to_time(now);
        })?;
        if r.links == 0 && !self.is_live(st, ino) {
            self.release(st, ino)?;
        }
        Ok(())
    }

    /// Whether directory `anc` is `ino` or one of its ancestors.
    fn is_ancestor(&self, st: &mut State, anc: u32, mut ino: u32) -> KResult<bool> {
        for _ in 0..=self.g.inodes_count {
            if ino == anc {
                return Ok(true);
            }
            if ino == super::ROOT_INO {
                return Ok(false);
            }
            let r = self.dir_inode(st, ino)?;
            let parent = self.dir_find(st, &r, b"..")?.ok_or(Errno::EIO)?;
            if parent.ino == ino {
                return Ok(false);
            }
            ino = parent.ino;
        }
        Err(Errno::ELOOP)
    }

    /// Reads at `off` into `bufs`, in order, as one buffer (guest memory
    /// in pieces, for read(2)): a run of physically contiguous blocks is one
    /// device read, whatever pieces it fills.
    fn file_read(
        &self,
        st: &mut State,
        ino: u32,
        off: u64,
        bufs: &mut [&mut [u8]],
    ) -> KResult<usize> {
        let r = self.read_inode(st, ino)?;
        if off >= r.size {
            return Ok(0);
        }
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        let n = usize::try_from(r.size - off).map_or(want, |a| a.min(want));
        let bs = self.g.bs64;
        let mut done = 0usize;
        let mut run: Option<(u64, usize, usize)> = None; // (device offset, buf start, len)
        let flush = |bufs: &mut [&mut [u8]], (o, s, l): (u64, usize, usize)| {
            self.dev.read_vectored_at(o, &mut pieces(bufs, s, l))
        };
        while done < n {
            let pos = off + done as u64;
            let (lblk, in_blk) = (pos / bs, (pos % bs) as usize);
            let chunk = (self.g.bs - in_blk).min(n - done);
            let phys = self.bmap(st, &r, lblk)?;
            if phys == 0 {
                if let Some(run) = run.take() {
                    flush(bufs, run)?;
                }
                for p in pieces(bufs, done, chunk) {
                    p.fill(0);
                }
            } else {
                let doff = u64::from(phys) * bs + in_blk as u64;
                run = match run {
                    Some((o, s, l)) if o + l as u64 == doff && l < (1 << 20) => {
                        Some((o, s, l + chunk))
                    }
                    Some(old) => {
                        flush(bufs, old)?;
                        Some((doff, done, chunk))
                    }
                    None => Some((doff, done, chunk)),
                };
            }
            done += chunk;
        }
        if let Some(run) = run {
            flush(bufs, run)?;
        }
        Ok(n)
    }

    /// Writes `bufs`, in order, as one buffer at `off` (guest memory in
    /// pieces, for write(2)). Blocks the file has are written a run of
    /// physically contiguous blocks at a time; a new block is written whole
    /// (zeroes around the data) before the block map names it.
    fn file_write(
        &self,
        st: &mut State,
        ino: u32,
        off: u64,
        bufs: &[&[u8]],
        now: Timespec,
    ) -> KResult<usize> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        let mut r = self.read_inode(st, ino)?;
        let end = off.checked_add(len as u64).ok_or(Errno::EFBIG)?;
        if end > self.max_file_size() {
            return Err(Errno::EFBIG);
        }
        let bs = self.g.bs64;
        let mut done = 0usize;
        let mut err = None;
        let mut goal = 0u64;
        // Existing blocks not written yet: (device offset, buf start, len).
        let mut run: Option<(u64, usize, usize)> = None;
        let flush = |run: (u64, usize, usize)| {
            let (o, s, l) = run;
            self.dev.write_vectored_at(o, &pieces_ref(bufs, s, l))
        };
        let mut zeros: Vec<u8> = Vec::new();
        while done < len {
            let pos = off + done as u64;
            let (lblk, in_blk) = (pos / bs, (pos % bs) as usize);
            let chunk = (self.g.bs - in_blk).min(len - done);
            let res = (|| -> KResult<()> {
                let phys = self.bmap(st, &r, lblk)?;
                if phys != 0 {
                    goal = u64::from(phys) + 1;
                    st.cache.remove(u64::from(phys));
                    let doff = u64::from(phys) * bs + in_blk as u64;
                    run = match run {
                        Some((o, s, l)) if o + l as u64 == doff && l < (1 << 20) => {
                            Some((o, s, l + chunk))
                        }
                        Some(old) => {
                            run = None;
                            flush(old).inspect_err(|_| done = old.1)?;
                            Some((doff, done, chunk))
                        }
                        None => Some((doff, done, chunk)),
                    };
                    return Ok(());
                }
                if let Some(old) = run.take() {
                    flush(old).inspect_err(|_| done = old.1)?;
                }
                if goal == 0 && lblk > 0 {
                    goal = u64::from(self.bmap(st, &r, lblk - 1).unwrap_or(0)) + 1;
                }
                if goal <= 1 {
                    let grp = u64::from((ino - 1) / self.g.ipg);
                    goal = self.g.first_data_block + grp * self.g.bpg;
                }
                let phys = self.alloc_block(st, goal)?;
                if zeros.len() < self.g.bs - chunk {
                    zeros.resize(self.g.bs, 0);
                }
                let mut whole = pieces_ref(bufs, done, chunk);
                whole.insert(0, &zeros[..in_blk]);
                whole.push(&zeros[..self.g.bs - in_blk - chunk]);
                let res = self
                    .write_block_pieces(st, u64::from(phys), &whole)
                    .and_then(|()| self.bmap_set(st, &mut r, lblk, phys));
                if let Err(e) = res {
                    let _ = self.free_block(st, phys);
                    return Err(e);
                }
                r.blocks = r.blocks.saturating_add(self.g.spb);
                goal = u64::from(phys) + 1;
                Ok(())
            })();
            if let Err(e) = res {
                err = Some(e);
                break;
            }
            done += chunk;
        }
        if let Some(old) = run.take() {
            if let Err(e) = flush(old) {
                done = old.1;
                err = Some(e);
            }
        }
        if done > 0 {
            r.size = r.size.max(off + done as u64);
            r.mtime = to_time(now);
            r.ctime = to_time(now);
        }
        self.note_large_file(st, r.size)?;
        self.write_inode(st, ino, &r)?;
        match err {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    fn file_truncate(&self, st: &mut State, ino: u32, size: u64, now: Timespec) -> KResult<()> {
        if size > self.max_file_size() {
            return Err(Errno::EFBIG);
        }
        let mut r = self.read_inode(st, ino)?;
        let bs = self.g.bs64;
        if size < r.size {
            let keep = size.div_ceil(bs);
            let res = self.free_from(st, &mut r, keep);
            if let Err(e) = res {
                let _ = self.write_inode(st, ino, &r);
                return Err(e);
            }
            let in_blk = (size % bs) as usize;
            if in_blk != 0 {
                let phys = self.bmap(st, &r, size / bs)?;
                if phys != 0 {
                    let zeros = vec![0u8; self.g.bs - in_blk];
                    st.cache.remove(u64::from(phys));
                    self.dev
                        .write_at(u64::from(phys) * bs + in_blk as u64, &zeros)?;
                }
            }
        }
        r.size = size;
        r.mtime = to_time(now);
        r.ctime = to_time(now);
        self.note_large_file(st, size)?;
        self.write_inode(st, ino, &r)
    }

    /// Creates an inode of `attr` (with `target` for symlinks) and names it
    /// `name` in `dir`. Returns the new inode number.
    fn make_node(
        &self,
        st: &mut State,
        dir: u32,
        name: &[u8],
        attr: &NewNode,
        target: Option<&[u8]>,
    ) -> KResult<u32> {
        check_new_name(name)?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        let d = self.dir_inode(st, dir)?;
        if d.links == 0 {
            return Err(Errno::ENOENT);
        }
        if self.dir_find(st, &d, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        let is_dir = attr.kind == FileType::Directory;
        if is_dir && d.links >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        if let Some(t) = target {
            if t.is_empty() {
                return Err(Errno::ENOENT);
            }
            if t.len() >= self.g.bs {
                return Err(Errno::ENAMETOOLONG);
            }
        }
        let ino = self.alloc_inode(st, dir, is_dir)?;
        let now = to_time(attr.now);
        let mut r = InodeRepr {
            mode: (attr.kind.mode_bits() | (attr.perm & 0o7777)) as u16,
            uid: attr.uid,
            gid: attr.gid,
            atime: now,
            ctime: now,
            mtime: now,
            links: if is_dir { 2 } else { 1 },
            extra_isize: self.new_extra_isize(),
            ..InodeRepr::default()
        };
        let mut data_block = None;
        let res = (|| -> KResult<()> {
            match attr.kind {
                FileType::Directory => {
                    let grp = u64::from((ino - 1) / self.g.ipg);
                    let b = self.alloc_block(st, self.g.first_data_block + grp * self.g.bpg)?;
                    data_block = Some(b);
                    let mut blk = vec![0u8; self.g.bs];
                    let ftype = self.g.filetype;
                    let t = if ftype { ft::DIR } else { 0 };
                    DirentRepr {
                        inode: ino,
                        rec_len: 12,
                        name: b".",
                        file_type: t,
                    }
                    .emit(&mut blk, ftype);
                    DirentRepr {
                        inode: dir,
                        rec_len: self.g.bs - 12,
                        name: b"..",
                        file_type: t,
                    }
                    .emit(&mut blk[12..], ftype);
                    self.write_block(st, u64::from(b), &blk)?;
                    r.block[0] = b;
                    r.blocks = self.g.spb;
                    r.size = self.g.bs64;
                }
                FileType::Symlink => {
                    let t = target.unwrap_or(&[]);
                    r.size = t.len() as u64;
                    if t.len() < 60 {
                        let mut raw = [0u8; 60];
                        raw[..t.len()].copy_from_slice(t);
                        for (i, slot) in r.block.iter_mut().enumerate() {
                            *slot = read_u32(&raw, i * 4);
                        }
                    } else {
                        let b = self.alloc_block(st, 0)?;
                        data_block = Some(b);
                        let mut blk = vec![0u8; self.g.bs];
                        blk[..t.len()].copy_from_slice(t);
                        self.write_block(st, u64::from(b), &blk)?;
                        r.block[0] = b;
                        r.blocks = self.g.spb;
                    }
                }
                FileType::CharDevice | FileType::BlockDevice => {
                    let (ma, mi) = (
                        crate::fs::vfs::dev_major(attr.rdev),
                        crate::fs::vfs::dev_minor(attr.rdev),
                    );
                    if ma < 256 && mi < 256 {
                        r.block[0] = (ma << 8) | mi;
                    } else {
                        r.block[1] = (mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12);
                    }
                }
                _ => {}
            }
            self.init_inode(st, ino, &r, now)?;
            self.dir_add(st, dir, name, ino, ft_of(attr.kind), attr.now)?;
            if is_dir {
                self.update(st, dir, |d| d.links = d.links.saturating_add(1))?;
            }
            Ok(())
        })();
        if let Err(e) = res {
            if let Some(b) = data_block {
                let _ = self.free_block(st, b);
            }
            let _ = self.free_inode_bit(st, ino, is_dir);
            return Err(e);
        }
        Ok(ino)
    }
}

impl Ext2Inode {
    pub(super) fn new(fs: Arc<FsInner>, ino: u32, kind: FileType) -> Ext2Inode {
        Ext2Inode { fs, ino, kind }
    }

    /// The inode number.
    pub fn ino(&self) -> u32 {
        self.ino
    }

    fn lock(&self) -> spin::MutexGuard<'_, State> {
        let mut st = self.fs.st.lock();
        self.fs.process_pending(&mut st);
        st
    }

    fn writable(&self) -> KResult<()> {
        if self.fs.read_only {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    fn same_fs<'a>(&self, other: &'a dyn Inode) -> KResult<&'a Ext2Inode> {
        match other.as_any().downcast_ref::<Ext2Inode>() {
            Some(t) if Arc::ptr_eq(&t.fs, &self.fs) => Ok(t),
            _ => Err(Errno::EXDEV),
        }
    }

    fn node(&self, ino: u32) -> KResult<Arc<dyn Inode>> {
        let mut st = self.lock();
        let a = self.fs.get_inode(&mut st, ino)?;
        drop(st);
        Ok(a)
    }
}

impl Inode for Ext2Inode {
    fn direct_io(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn statfs(&self) -> Option<FsStats> {
        let st = self.lock();
        Some(self.fs.statfs(&st))
    }

    fn kind(&self) -> FileType {
        self.kind
    }

    fn metadata(&self) -> KResult<Metadata> {
        let mut st = self.lock();
        let r = self.fs.read_inode(&mut st, self.ino)?;
        let rdev = match self.kind {
            FileType::CharDevice | FileType::BlockDevice => {
                let (b0, b1) = (r.block[0], r.block[1]);
                if b0 != 0 {
                    makedev((b0 >> 8) & 0xff, b0 & 0xff)
                } else {
                    makedev((b1 & 0xfff00) >> 8, (b1 & 0xff) | ((b1 >> 12) & 0xfff00))
                }
            }
            _ => 0,
        };
        Ok(Metadata {
            dev: self.fs.devno,
            ino: u64::from(self.ino),
            mode: u32::from(r.mode),
            nlink: u32::from(r.links),
            uid: r.uid,
            gid: r.gid,
            rdev,
            size: r.size,
            blksize: self.fs.g.bs as u32,
            blocks: u64::from(r.blocks),
            atime: to_ts(r.atime),
            mtime: to_ts(r.mtime),
            ctime: to_ts(r.ctime),
        })
    }

    fn set_metadata(&self, attr: &SetAttr) -> KResult<()> {
        self.writable()?;
        let mut st = self.lock();
        FsInner::touch(&mut st, attr.ctime);
        self.fs.update(&mut st, self.ino, |r| {
            if let Some(p) = attr.perm {
                r.mode = (r.mode & 0xf000) | (p & 0o7777) as u16;
            }
            if let Some(u) = attr.uid {
                r.uid = u;
            }
            if let Some(g) = attr.gid {
                r.gid = g;
            }
            if let Some(t) = attr.atime {
                r.atime = to_time(t);
            }
            if let Some(t) = attr.mtime {
                r.mtime = to_time(t);
            }
            r.ctime = to_time(attr.ctime);
        })?;
        Ok(())
    }

    fn attr_flags(&self) -> KResult<u32> {
        let mut st = self.lock();
        let r = self.fs.read_inode(&mut st, self.ino)?;
        Ok(r.flags & crate::fs::vfs::inode_flags::EXT2_USER_VISIBLE)
    }

    fn set_attr_flags(&self, flags: u32, now: Timespec) -> KResult<()> {
        use crate::fs::vfs::inode_flags::EXT2_USER_MODIFIABLE;
        self.writable()?;
        let mut st = self.lock();
        FsInner::touch(&mut st, now);
        self.fs.update(&mut st, self.ino, |r| {
            r.flags = (r.flags & !EXT2_USER_MODIFIABLE) | (flags & EXT2_USER_MODIFIABLE);
            r.ctime = to_time(now);
        })?;
        Ok(())
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        match self.kind {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        let mut st = self.lock();
        self.fs.file_read(&mut st, self.ino, off, &mut [buf])
    }

    fn read_vectored_at(&self, off: u64, bufs: &mut [&mut [u8]]) -> KResult<usize> {
        match self.kind {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        let mut st = self.lock();
        self.fs.file_read(&mut st, self.ino, off, bufs)
    }

    fn write_at(&self, off: u64, buf: &[u8], now: Timespec) -> KResult<usize> {
        match self.kind {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        self.writable()?;
        let mut st = self.lock();
        FsInner::touch(&mut st, now);
        self.fs.file_write(&mut st, self.ino, off, &[buf], now)
    }

    fn write_vectored_at(&self, off: u64, bufs: &[&[u8]], now: Timespec) -> KResult<usize> {
        match self.kind {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        self.writable()?;
        let mut st = self.lock();
        FsInner::touch(&mut st, now);
        self.fs.file_write(&mut st, self.ino, off, bufs, now)
    }

    fn truncate(&self, size: u64, now: Timespec) -> KResult<()> {
        match self.kind {
            FileType::Regular => {}
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        self.writable()?;
        let mut st = self.lock();
        FsInner::touch(&mut st, now);
        self.fs.file_truncate(&mut st, self.ino, size, now)
    }

    fn fsync(&self) -> KResult<()> {
        self.fs.dev.flush()
    }

    fn lookup(&self, name: &[u8]) -> KResult<Arc<dyn Inode>> {
        if self.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut st = self.lock();
        let ino = match st.names.get(self.ino, name) {
            Some(hit) => hit,
            None => {
                let r = self.fs.dir_inode(&mut st, self.ino)?;
                let ino = self.fs.dir_find(&mut st, &r, name)?.map(|f| f.ino);
                st.names.put(self.ino, name, ino);
                ino
            }
        };
        let a = self.fs.get_inode(&mut st, ino.ok_or(Errno::ENOENT)?)?;
        drop(st);
        Ok(a)
    }

    fn create(&self, name: &[u8], attr: &NewNode) -> KResult<Arc<dyn Inode>> {
        if self.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if attr.kind == FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        let ino = {
            let mut st = self.lock();
            FsInner::touch(&mut st, attr.now);
            self.fs.make_node(&mut st, self.ino, name, attr, None)?
        };
        self.node(ino)
    }

    fn symlink(&self, name: &[u8], target: &[u8], attr: &NewNode) -> KResult<Arc<dyn Inode>> {
        if self.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let attr = NewNode {
            kind: FileType::Symlink,
            perm: 0o777,
            ..*attr
        };
        let ino = {
            let mut st = self.lock();
            FsInner::touch(&mut st, attr.now);
            self.fs
                .make_node(&mut st, self.ino, name, &attr, Some(target))?
        };
        self.node(ino)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>, now: Timespec) -> KResult<()> {
        if self.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let t = self.same_fs(target.as_ref())?;
        if t.kind == FileType::Directory {
            return Err(Errno::EPERM);
        }
        check_new_name(name)?;
        self.writable()?;
        let mut st = self.lock();
        FsInner::touch(&mut st, now);
        let d = self.fs.dir_inode(&mut st, self.ino)?;
        if d.links == 0 {
            return Err(Errno::ENOENT);
        }
        if self.fs.dir_find(&mut st, &d, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        let tr = self.fs.read_inode(&mut st, t.ino)?;
        if tr.links == 0 {
            return Err(Errno::ENOENT);
        }
        if tr.links >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        self.fs.update(&mut st, t.ino, |r| {
            r.links += 1;
            r.ctime = to_time(now);
        })?;
        if let Err(e) = self
            .fs
            .dir_add(&mut st, self.ino, name, t.ino, ft_of(t.kind), now)
        {
            let _ = self.fs.update(&mut st, t.ino, |r| r.links -= 1);
            return Err(e);
        }
        Ok(())
    }

    fn unlink(&self, name: &[u8], now: Timespec) -> KResult<()> {
        if self.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if name == b"." || name == b".." {
            return Err(Errno::EISDIR);
        }
        self.writable()?;
        let mut st = self.lock();
        FsInner::touch(&mut st, now);
        let d = self.fs.dir_inode(&mut st, self.ino)?;
        let f = self.fs.dir_find(&mut st, &d, name)?.ok_or(Errno::ENOENT)?;
        let cr = self.fs.read_inode(&mut st, f.ino)?;
        if cr.mode & 0xf000 == 0x4000 {
            return Err(Errno::EISDIR);
        }
        self.fs.dir_remove(&mut st, self.ino, &f, now)?;
        self.fs.unlink_inode(&mut st, f.ino, false, now)
    }

    fn rmdir(&self, name: &[u8], now: Timespec) -> KResult<()> {
        if self.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        match name {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        self.writable()?;
        let mut st = self.lock();
        FsInner::touch(&mut st, now);
        let d = self.fs.dir_inode(&mut st, self.ino)?;
        let f = self.fs.dir_find(&mut st, &d, name)?.ok_or(Errno::ENOENT)?;
        let cr = self.fs.read_inode(&mut st, f.ino)?;
        if cr.mode & 0xf000 != 0x4000 {
            return Err(Errno::ENOTDIR);
        }
        if !self.fs.dir_is_empty(&mut st, &cr)? {
            return Err(Errno::ENOTEMPTY);
        }
        self.fs.dir_remove(&mut st, self.ino, &f, now)?;
        self.fs.update(&mut st, self.ino, |r| {
            r.links = r.links.saturating_sub(1).max(1)
        })?;
        self.fs.unlink_inode(&mut st, f.ino, true, now)
    }

    fn rename(
        &self,
        old_name: &[u8],
        new_dir: &Arc<dyn Inode>,
        new_name: &[u8],
        now: Timespec,
    ) -> KResult<()> {
        for n in [old_name, new_name] {
            if n == b"." || n == b".." {
                return Err(Errno::EBUSY);
            }
        }
        check_new_name(new_name)?;
        let nd = self.same_fs(new_dir.as_ref())?;
        if nd.kind != FileType::Directory || self.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        self.writable()?;
        let (sd_ino, nd_ino) = (self.ino, nd.ino);
        let same_dir = sd_ino == nd_ino;
        let fs = &self.fs;
        let mut st = self.lock();
        let st = &mut *st;
        FsInner::touch(st, now);
        let sdr = fs.dir_inode(st, sd_ino)?;
        let src = fs.dir_find(st, &sdr, old_name)?.ok_or(Errno::ENOENT)?;
        let ndr = fs.dir_inode(st, nd_ino)?;
        if ndr.links == 0 {
            return Err(Errno::ENOENT);
        }
        let dst = fs.dir_find(st, &ndr, new_name)?;
        if let Some(d) = &dst {
            if d.ino == src.ino {
                return Ok(());
            }
        }
        let sr = fs.read_inode(st, src.ino)?;
        let src_kind = kind_of(sr.mode).ok_or(Errno::EIO)?;
        let src_is_dir = src_kind == FileType::Directory;
        let mut dst_is_dir = false;
        if let Some(d) = &dst {
            let dr = fs.read_inode(st, d.ino)?;
            dst_is_dir = dr.mode & 0xf000 == 0x4000;
            match (src_is_dir, dst_is_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !fs.dir_is_empty(st, &dr)? => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        if src_is_dir && !same_dir && fs.is_ancestor(st, src.ino, nd_ino)? {
            return Err(Errno::EINVAL);
        }
        if src_is_dir && !same_dir && dst.is_none() && ndr.links >= LINK_MAX {
            return Err(Errno::EMLINK);
        }
        // The new name first, then the old one goes.
        let t = ft_of(src_kind);
        match &dst {
            Some(d) => {
                fs.dir_retarget(st, nd_ino, d, src.ino, t)?;
                fs.update(st, nd_ino, |r| {
                    r.mtime = to_time(now);
                    r.ctime = to_time(now);
                })?;
            }
            None => fs.dir_add(st, nd_ino, new_name, src.ino, t, now)?,
        }
        // Re-find the source: adding may have moved nothing, but be exact.
        let sdr = fs.dir_inode(st, sd_ino)?;
        let src_now = fs.dir_find(st, &sdr, old_name)?.ok_or(Errno::EIO)?;
        fs.dir_remove(st, sd_ino, &src_now, now)?;
        if let Some(d) = &dst {
            if dst_is_dir {
                fs.update(st, nd_ino, |r| r.links = r.links.saturating_sub(1).max(1))?;
            }
            fs.unlink_inode(st, d.ino, dst_is_dir, now)?;
        }
        if src_is_dir && !same_dir {
            let cr = fs.dir_inode(st, src.ino)?;
            if let Some(dd) = fs.dir_find(st, &cr, b"..")? {
                fs.dir_retarget(st, src.ino, &dd, nd_ino, ft::DIR)?;
            }
            fs.update(st, sd_ino, |r| r.links = r.links.saturating_sub(1).max(1))?;
            fs.update(st, nd_ino, |r| r.links = r.links.saturating_add(1))?;
        }
        fs.update(st, src.ino, |r| r.ctime = to_time(now))?;
        Ok(())
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        if self.kind != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        let r = self.fs.read_inode(&mut st, self.ino)?;
        let len = usize::try_from(r.size).map_err(|_| Errno::EIO)?;
        let bytes = if !has_data_blocks(&r, self.fs.g.spb) {
            if len > 60 {
                return Err(Errno::EIO);
            }
            let mut raw = [0u8; 60];
            for (i, v) in r.block.iter().enumerate() {
                raw[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
            }
            raw[..len].to_vec()
        } else {
            if len > self.fs.g.bs {
                return Err(Errno::EIO);
            }
            let b = self.fs.check_blk(r.block[0])?;
            self.fs.meta(&mut st, b, |d| d[..len].to_vec())?
        };
        Ok(bytes)
    }

    fn readdir(&self, offset: u64, max: usize) -> KResult<Vec<DirEntry>> {
        if self.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let max = max.max(1);
        let mut st = self.lock();
        let r = self.fs.dir_inode(&mut st, self.ino)?;
        let bs = self.fs.g.bs64;
        let mut raw: Vec<(Vec<u8>, u32, u8, u64)> = Vec::new();
        self.fs.dir_scan(&mut st, &r, offset / bs, |lblk, pos, e| {
            let abs = lblk * bs + pos as u64;
            if abs < offset || e.inode == 0 {
                return None;
            }
            raw.push((
                e.name.to_vec(),
                e.inode,
                e.file_type,
                abs + e.rec_len as u64,
            ));
            (raw.len() >= max).then_some(())
        })?;
        let mut out = Vec::with_capacity(raw.len());
        for (name, ino, t, next_off) in raw {
            let kind = match kind_of_ft(t) {
                Some(k) => k,
                None => {
                    let ir = self.fs.read_inode(&mut st, ino)?;
                    kind_of(ir.mode).ok_or(Errno::EIO)?
                }
            };
            out.push(DirEntry {
                name,
                ino: u64::from(ino),
                kind,
                next_off,
            });
        }
        Ok(out)
    }
}

/// The part of `bufs` (one buffer, in order) from byte `start`, `len` bytes
/// long, as slices of them.
fn pieces<'b>(bufs: &'b mut [&mut [u8]], start: usize, len: usize) -> Vec<&'b mut [u8]> {
    let end = start + len;
    let mut out = Vec::new();
    let mut pos = 0usize;
    for b in bufs.iter_mut() {
        let (bs, be) = (pos, pos + b.len());
        pos = be;
        if be <= start {
            continue;
        }
        if bs >= end {
            break;
        }
        out.push(&mut b[start.max(bs) - bs..end.min(be) - bs]);
    }
    out
}

/// The part of `bufs` (one buffer, in order) from byte `start`, `len` bytes
/// long, as slices of them.
fn pieces_ref<'b>(bufs: &[&'b [u8]], start: usize, len: usize) -> Vec<&'b [u8]> {
    let end = start + len;
    let mut out = Vec::new();
    let mut pos = 0usize;
    for b in bufs {
        let (bs, be) = (pos, pos + b.len());
        pos = be;
        if be <= start {
            continue;
        }
        if bs >= end {
            break;
        }
        out.push(&b[start.max(bs) - bs..end.min(be) - bs]);
    }
    out
}
