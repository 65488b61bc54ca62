//! The page cache: one [`FileCache`] per mapped file, holding the file's pages
//! as frames of the memory file, shared by every mapping of that file.
//!
//! - **Sharing.** A file is found by its [`Backing::key`] (the inode's
//!   identity) in the registry the frame allocator keeps, so the text of a
//!   program run by 20 processes, or of a library they all map, costs its
//!   frames once. Private mappings map cache frames read-only and copy on
//!   write (the page-table entry is copy-on-write from the start); shared
//!   mappings ([`SharedMem::for_file`](super::SharedMem::for_file)) map them
//!   writable.
//! - **Dirty pages.** A shared mapping maps a clean page read-only; the write
//!   fault marks it dirty ([`FileCache::mark_dirty`]) and maps it writable.
//!   Dirty pages are written back by msync, munmap, fsync and exit
//!   ([`FileCache::writeback`]). A page stays dirty while any page table maps
//!   it (it could be written again without a fault there); it is clean once
//!   written back with only the cache holding it.
//! - **Coherence with read(2) and write(2).** The file itself (the inode) stays
//!   the truth for clean pages: write(2) goes to the file and is copied into
//!   the cached pages it covers ([`FileCache::wrote`]); read(2) reads the file
//!   and takes the bytes of dirty pages from the cache ([`FileCache::overlay`]).
//!   A truncate drops the pages past the new end ([`FileCache::truncated`]).
//! - **Lifetime.** Mappings hold the cache (through their VMA); the registry
//!   holds it weakly, so it lives exactly as long as some mapping of the file.
//!   When it goes, its clean frames go to the allocator's orphan list and its
//!   dirty pages to the write-back queue, which the kernel drains where it can
//!   reach the host ([`FrameAllocator::drain_writeback`]).
//! - **Reclaim.** When the allocator runs out of frames it drops clean pages
//!   that only the cache holds (no page table maps them) before it fails
//!   ([`FrameAllocator::reclaim_cache`]): the cache never grows without bound.

use super::frame::{Frame, FrameAllocator, FrameState, Orphans};
use super::vma::Backing;
use crate::config::{PAGE_SHIFT, PAGE_SIZE};
use crate::host::HostMemory;
use crate::KResult;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use spin::Mutex;
use umbra_abi::structs::Timespec;

const PAGE: u64 = PAGE_SIZE as u64;

/// A cached page of a file.
#[derive(Clone, Copy, Debug)]
struct CachePage {
    frame: Frame,
    /// Written through a shared mapping and not yet written back.
    dirty: bool,
}

/// A dirty page whose cache was dropped, waiting to be written back.
struct Pending {
    file: Arc<dyn Backing>,
    pgoff: u64,
    frame: Frame,
}

/// What the frame allocator and every [`FileCache`] share: the registry of
/// live caches and the write-back queue.
#[derive(Default)]
pub struct CacheHub {
    files: Mutex<crate::vecmap::VecMap<usize, Weak<FileCache>>>,
    writeback: Mutex<Vec<Pending>>,
}

/// The cached pages of one file.
pub struct FileCache {
    file: Arc<dyn Backing>,
    key: Option<usize>,
    pages: Mutex<BTreeMap<u64, CachePage>>,
    hub: Arc<CacheHub>,
    orphans: Orphans,
}

/// How a mapping treats the part of its file past the file's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastEof {
    /// A page wholly past the end is SIGBUS (mmap(2) of a file).
    Sigbus,
    /// Past the end reads zeroes (ELF segments, whose bss follows the file
    /// bytes; the loader bounds them itself).
    Zeroes,
}

/// A file as a file mapping sees it: its cache, and what lies past its end.
/// This is the [`Backing`] of the VMAs of private file mappings.
pub struct MappedFile {
    cache: Arc<FileCache>,
    past_eof: PastEof,
}

impl MappedFile {
    /// A view of `cache` for mappings.
    pub fn new(cache: Arc<FileCache>, past_eof: PastEof) -> Arc<MappedFile> {
        Arc::new(MappedFile { cache, past_eof })
    }
}

impl Backing for MappedFile {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        self.cache.file.read_at(off, buf)
    }
    fn size(&self) -> Option<u64> {
        match self.past_eof {
            PastEof::Sigbus => self.cache.file.size(),
            PastEof::Zeroes => None,
        }
    }
    fn key(&self) -> Option<usize> {
        self.cache.key
    }
    fn cache(&self) -> Option<&Arc<FileCache>> {
        Some(&self.cache)
    }
}

impl FileCache {
    /// The file this caches.
    pub fn file(&self) -> &Arc<dyn Backing> {
        &self.file
    }

    /// The file's size now (0 if it cannot say).
    pub fn file_size(&self) -> u64 {
        self.file.size().unwrap_or(0)
    }

    /// Pages held.
    pub fn resident_pages(&self) -> usize {
        self.pages.lock().len()
    }

    /// Whether page `pgoff` is cached.
    pub fn is_resident(&self, pgoff: u64) -> bool {
        self.pages.lock().contains_key(&pgoff)
    }

    /// Whether page `pgoff` is cached and dirty.
    pub fn is_dirty(&self, pgoff: u64) -> bool {
        self.pages.lock().get(&pgoff).is_some_and(|p| p.dirty)
    }

    /// Marks cached page `pgoff` dirty (a shared mapping is about to write it).
    pub fn mark_dirty(&self, pgoff: u64) {
        if let Some(p) = self.pages.lock().get_mut(&pgoff) {
            p.dirty = true;
        }
    }

    /// The frame of page `pgoff`, read from the file at first use (zeroes
    /// past its end). The cache keeps its own reference; the caller takes
    /// none. `None` when no frame is left.
    pub fn frame<H: HostMemory>(
        &self,
        frames: &mut FrameAllocator,
        host: &mut H,
        pgoff: u64,
    ) -> Option<Frame> {
        if let Some(p) = self.pages.lock().get(&pgoff) {
            return Some(p.frame);
        }
        // Not under the lock: an allocator out of frames reclaims from this
        // cache too.
        let (frame, state) = frames.alloc()?;
        let base = frame.phys() as usize;
        let Some(page) = host.physmem_mut().get_mut(base..base + PAGE_SIZE) else {
            frames.put(frame);
            return None;
        };
        if state == FrameState::Dirty {
            page.fill(0);
        }
        let mut done = 0;
        // A failed read leaves zeroes: the kernel has no better answer for
        // a page fault than Linux's SIGBUS on I/O error, and ext2 reports
        // corruption itself.
        while done < PAGE_SIZE {
            match self
                .file
                .read_at((pgoff << PAGE_SHIFT) + done as u64, &mut page[done..])
            {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        let mut pages = self.pages.lock();
        if let Some(p) = pages.get(&pgoff) {
            frames.put(frame);
            return Some(p.frame);
        }
        pages.insert(
            pgoff,
            CachePage {
                frame,
                dirty: false,
            },
        );
        Some(frame)
    }

    /// write(2) wrote `data` to the file at `off`: the cached pages it covers
    /// take the same bytes.
    pub fn wrote<H: HostMemory>(&self, host: &mut H, off: u64, data: &[u8]) {
        let pages = self.pages.lock();
        let Some(end) = off.checked_add(data.len() as u64) else {
            return;
        };
        for (&pgoff, p) in pages.range(off >> PAGE_SHIFT..end.div_ceil(PAGE)) {
            let pstart = pgoff << PAGE_SHIFT;
            let (s, e) = (off.max(pstart), end.min(pstart + PAGE));
            let src = &data[(s - off) as usize..(e - off) as usize];
            let dst = p.frame.phys() as usize + (s - pstart) as usize;
            if let Some(d) = host.physmem_mut().get_mut(dst..dst + src.len()) {
                d.copy_from_slice(src);
            }
        }
    }

    /// write(2) wrote `len` bytes to the file at `off` straight from guest
    /// memory: the cached pages it covers take the same bytes, read back
    /// from the file (not from the guest, which may have changed them
    /// since: the file is the truth).
    pub fn rewrote<H: HostMemory>(&self, host: &mut H, off: u64, len: usize) {
        let pages = self.pages.lock();
        let Some(end) = off.checked_add(len as u64) else {
            return;
        };
        for (&pgoff, p) in pages.range(off >> PAGE_SHIFT..end.div_ceil(PAGE)) {
            let pstart = pgoff << PAGE_SHIFT;
            let (s, e) = (off.max(pstart), end.min(pstart + PAGE));
            let dst = p.frame.phys() as usize + (s - pstart) as usize;
            let Some(d) = host.physmem_mut().get_mut(dst..dst + (e - s) as usize) else {
                continue;
            };
            let mut done = 0;
            while done < d.len() {
                match self.file.read_at(s + done as u64, &mut d[done..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => done += n,
                }
            }
        }
    }

    /// Whether a dirty page among the file's bytes `[off, off + len)` is
    /// itself in `spans`: a read straight into them would overwrite the
    /// bytes the read must return (a file read into its own shared
    /// mapping), so that read goes through a kernel buffer.
    pub fn dirty_in(&self, off: u64, len: usize, spans: &[super::PhysSpan]) -> bool {
        let pages = self.pages.lock();
        let Some(end) = off.checked_add(len as u64) else {
            return false;
        };
        pages
            .range(off >> PAGE_SHIFT..end.div_ceil(PAGE))
            .filter(|(_, p)| p.dirty)
            .any(|(_, p)| {
                let f = p.frame.phys() as usize;
                spans
                    .iter()
                    .any(|s| s.phys < f + PAGE_SIZE && f < s.phys + s.len)
            })
    }

    /// read(2) read `len` bytes from the file at `off` straight into the
    /// guest memory of `spans`: the bytes of dirty pages (written through a
    /// shared mapping, not yet written back) replace what the file holds.
    pub fn overlay_spans<H: HostMemory>(
        &self,
        host: &mut H,
        off: u64,
        len: usize,
        spans: &[super::PhysSpan],
    ) {
        let pages = self.pages.lock();
        let Some(end) = off.checked_add(len as u64) else {
            return;
        };
        for (&pgoff, p) in pages.range(off >> PAGE_SHIFT..end.div_ceil(PAGE)) {
            if !p.dirty {
                continue;
            }
            let pstart = pgoff << PAGE_SHIFT;
            let (s, e) = (off.max(pstart), end.min(pstart + PAGE));
            let src = p.frame.phys() as usize + (s - pstart) as usize;
            super::spans::copy_into(
                host.physmem_mut(),
                spans,
                (s - off) as usize,
                src,
                (e - s) as usize,
            );
        }
    }

    /// read(2) read `buf` from the file at `off`: the bytes of dirty pages
    /// (written through a shared mapping, not yet written back) replace what
    /// the file holds.
    pub fn overlay<H: HostMemory>(&self, host: &H, off: u64, buf: &mut [u8]) {
        let pages = self.pages.lock();
        let Some(end) = off.checked_add(buf.len() as u64) else {
            return;
        };
        for (&pgoff, p) in pages.range(off >> PAGE_SHIFT..end.div_ceil(PAGE)) {
            if !p.dirty {
                continue;
            }
            let pstart = pgoff << PAGE_SHIFT;
            let (s, e) = (off.max(pstart), end.min(pstart + PAGE));
            let src = p.frame.phys() as usize + (s - pstart) as usize;
            if let Some(sb) = host.physmem().get(src..src + (e - s) as usize) {
                buf[(s - off) as usize..(e - off) as usize].copy_from_slice(sb);
            }
        }
    }

    /// Writes the dirty pages among `[first, end)` (page offsets) back to the
    /// file, up to its end. A page no page table maps any more is clean
    /// after it. The first error is returned (every page is still tried).
    pub fn writeback<H: HostMemory>(
        &self,
        frames: &FrameAllocator,
        host: &H,
        first: u64,
        end: u64,
        now: Timespec,
    ) -> KResult<()> {
        let mut pages = self.pages.lock();
        let mut result = Ok(());
        for (&pgoff, p) in pages.range_mut(first..end) {
            if !p.dirty {
                continue;
            }
            if let Err(e) = write_page(&self.file, host, pgoff, p.frame, now) {
                if result.is_ok() {
                    result = Err(e);
                }
                continue;
            }
            if frames.refcount(p.frame) <= 1 {
                p.dirty = false;
            }
        }
        result
    }

    /// Whether any page is dirty.
    pub fn has_dirty(&self) -> bool {
        self.pages.lock().values().any(|p| p.dirty)
    }

    /// The file was truncated to `size`: pages wholly past it leave the cache
    /// (the caller unmaps them from every address space) and the part of the
    /// last page past the end reads as zeroes.
    pub fn truncated<H: HostMemory>(&self, frames: &mut FrameAllocator, host: &mut H, size: u64) {
        let mut pages = self.pages.lock();
        let keep = size.div_ceil(PAGE);
        for (_, p) in pages.split_off(&keep) {
            frames.put(p.frame);
        }
        let in_page = (size % PAGE) as usize;
        if in_page != 0 {
            if let Some(p) = pages.get(&(size >> PAGE_SHIFT)) {
                let base = p.frame.phys() as usize;
                if let Some(tail) = host.physmem_mut().get_mut(base + in_page..base + PAGE_SIZE) {
                    tail.fill(0);
                }
            }
        }
    }

    /// Drops the clean pages that only the cache holds; returns how many.
    /// Skips the cache if it is busy (the allocation that ran out of frames
    /// may be filling one of its pages).
    fn reclaim(&self, frames: &mut FrameAllocator) -> usize {
        let Some(mut pages) = self.pages.try_lock() else {
            return 0;
        };
        let idle: Vec<u64> = pages
            .iter()
            .filter(|(_, p)| !p.dirty && frames.refcount(p.frame) == 1)
            .map(|(k, _)| *k)
            .collect();
        for k in &idle {
            if let Some(p) = pages.remove(k) {
                frames.put(p.frame);
            }
        }
        idle.len()
    }
}

/// Writes the file bytes of cached page `pgoff` (up to the file's end).
fn write_page<H: HostMemory>(
    file: &Arc<dyn Backing>,
    host: &H,
    pgoff: u64,
    frame: Frame,
    now: Timespec,
) -> KResult<()> {
    let start = pgoff << PAGE_SHIFT;
    let size = file.size().unwrap_or(0);
    if start >= size {
        return Ok(());
    }
    let n = (size - start).min(PAGE) as usize;
    let base = frame.phys() as usize;
    let Some(src) = host.physmem().get(base..base + n) else {
        return Ok(());
    };
    let mut done = 0;
    while done < n {
        match file.write_at(start + done as u64, &src[done..], now)? {
            0 => break,
            w => done += w,
        }
    }
    Ok(())
}

impl Drop for FileCache {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut files = self.hub.files.lock();
            if files.get(&key).is_some_and(|w| w.strong_count() == 0) {
                files.remove(&key);
            }
        }
        let pages = core::mem::take(&mut *self.pages.lock());
        let mut orphans = self.orphans.lock();
        let mut wb = self.hub.writeback.lock();
        for (pgoff, p) in pages {
            if p.dirty {
                wb.push(Pending {
                    file: self.file.clone(),
                    pgoff,
                    frame: p.frame,
                });
            } else {
                orphans.push(p.frame);
            }
        }
    }
}

impl FrameAllocator {
    /// The cache of `file`: the live one of the same file (by
    /// [`Backing::key`]) if there is one, else a new one. A file without a key
    /// gets a cache of its own.
    pub fn file_cache(&mut self, file: Arc<dyn Backing>) -> Arc<FileCache> {
        let key = file.key();
        let hub = self.cache_hub().clone();
        let mut files = hub.files.lock();
        if let Some(c) = key.and_then(|k| files.get(&k)).and_then(Weak::upgrade) {
            return c;
        }
        let c = Arc::new(FileCache {
            file,
            key,
            pages: Mutex::new(BTreeMap::new()),
            hub: hub.clone(),
            orphans: self.orphans(),
        });
        if let Some(k) = key {
            // Dead entries go as new ones come.
            files.retain(|_, w| w.strong_count() > 0);
            files.insert(k, Arc::downgrade(&c));
        }
        c
    }

    /// The live cache of the file with key `key`, if some mapping holds one.
    pub fn cache_of(&self, key: usize) -> Option<Arc<FileCache>> {
        let files = self.cache_hub().files.lock();
        files.get(&key).and_then(Weak::upgrade)
    }

    /// Pages held by every live cache (the Cached line of /proc/meminfo).
    pub fn cached_pages(&self) -> usize {
        let caches: Vec<Arc<FileCache>> = {
            let files = self.cache_hub().files.lock();
            files.values().filter_map(Weak::upgrade).collect()
        };
        let n = caches.iter().map(|c| c.resident_pages()).sum();
        drop(caches);
        n
    }

    /// Drops the clean cache pages no page table maps; returns how many
    /// frames that freed. Called when the allocator runs out.
    pub fn reclaim_cache(&mut self) -> usize {
        // Take the caches out of the registry's lock first: dropping the
        // last reference to one (below) takes that lock again.
        let caches: Vec<Arc<FileCache>> = {
            let files = self.cache_hub().files.lock();
            files.values().filter_map(Weak::upgrade).collect()
        };
        let n = caches.iter().map(|c| c.reclaim(self)).sum();
        drop(caches);
        self.reap();
        n
    }

    /// Whether dirty pages of dropped caches wait to be written back.
    pub fn writeback_pending(&self) -> bool {
        !self.cache_hub().writeback.lock().is_empty()
    }

    /// Writes back the dirty pages of dropped caches and frees their frames.
    /// Write errors are lost, as Linux loses them when no one holds the file
    /// open to see them.
    pub fn drain_writeback<H: HostMemory>(&mut self, host: &H, now: Timespec) {
        let queue = core::mem::take(&mut *self.cache_hub().writeback.lock());
        for p in queue {
            let _ = write_page(&p.file, host, p.pgoff, p.frame, now);
            self.put(p.frame);
        }
    }
}

#[cfg(test)]
#[path = "pagecache_tests.rs"]
mod tests;
