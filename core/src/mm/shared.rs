//! Shared memory objects: pages owned by an object rather than by an address
//! space, mapped by frame into every address space that maps the object and
//! never copied on write or on fork (MAP_SHARED|MAP_ANONYMOUS, MAP_SHARED of
//! /dev/zero; SysV shm and POSIX shm can use the same object).
//!
//! The object holds one frame reference per page it owns; each page-table entry
//! that maps one of its pages holds another. When the last VMA referring to the
//! object goes, the object is dropped and its references are handed to the
//! frame allocator's orphan list ([`FrameAllocator::reap`] puts them), so the
//! frames are freed once no page table maps them either.
//!
//! A MAP_SHARED mapping of a file is an object too ([`SharedMem::for_file`]):
//! its pages are the file's page-cache frames (see [`super::pagecache`]), its
//! size is the file's size now, and a write to a clean page is caught (the
//! page is mapped read-only until then) to mark it dirty for write-back.

use super::frame::{Frame, FrameAllocator, FrameState, Orphans};
use super::pagecache::FileCache;
use crate::config::PAGE_SIZE;
use crate::host::HostMemory;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use spin::Mutex;

/// A shared memory object: frames by page offset, allocated zeroed on first use.
pub struct SharedMem {
    pages: Mutex<BTreeMap<u64, Frame>>,
    /// Size in bytes when created (what a mapping of the whole object covers).
    size: u64,
    orphans: Orphans,
    /// A shared file mapping's file: the pages are its cache's.
    file: Option<Arc<FileCache>>,
    /// Whether mappings of it may be made writable (the file was opened for
    /// writing: Linux's VM_MAYWRITE).
    access: FileAccess,
}

/// What a shared file mapping may do to its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileAccess {
    /// Read only, and mprotect cannot add write (EACCES).
    ReadOnly,
    /// Read and write.
    ReadWrite,
}

impl SharedMem {
    /// A new, empty object of `size` bytes.
    pub fn new(frames: &FrameAllocator, size: u64) -> Arc<SharedMem> {
        Arc::new(SharedMem {
            pages: Mutex::new(BTreeMap::new()),
            size,
            orphans: frames.orphans(),
            file: None,
            access: FileAccess::ReadWrite,
        })
    }

    /// The object of a MAP_SHARED mapping of the file `cache` caches, made
    /// writable only where `access` allows.
    pub fn for_file(
        frames: &FrameAllocator,
        cache: Arc<FileCache>,
        access: FileAccess,
    ) -> Arc<SharedMem> {
        Arc::new(SharedMem {
            pages: Mutex::new(BTreeMap::new()),
            size: 0,
            orphans: frames.orphans(),
            file: Some(cache),
            access,
        })
    }

    /// Whether its mappings may be writable.
    pub fn may_write(&self) -> bool {
        self.access == FileAccess::ReadWrite
    }

    /// Size in bytes given at creation; for a file, the file's size now.
    pub fn size(&self) -> u64 {
        match &self.file {
            Some(c) => c.file_size(),
            None => self.size,
        }
    }

    /// The file whose pages these are, for a shared file mapping.
    pub fn file(&self) -> Option<&Arc<FileCache>> {
        self.file.as_ref()
    }

    /// Pages that have frames.
    pub fn resident_pages(&self) -> usize {
        match &self.file {
            Some(c) => c.resident_pages(),
            None => self.pages.lock().len(),
        }
    }

    /// The frame of page `pgoff`, allocated and zeroed at first use. The
    /// object keeps its own reference; the caller takes none.
    pub fn frame<H: HostMemory>(
        &self,
        frames: &mut FrameAllocator,
        host: &mut H,
        pgoff: u64,
    ) -> Option<Frame> {
        if let Some(c) = &self.file {
            return c.frame(frames, host, pgoff);
        }
        let mut pages = self.pages.lock();
        if let Some(f) = pages.get(&pgoff) {
            return Some(*f);
        }
        let (frame, state) = frames.alloc()?;
        if state == FrameState::Dirty {
            let base = frame.phys() as usize;
            match host.physmem_mut().get_mut(base..base + PAGE_SIZE) {
                Some(page) => page.fill(0),
                None => {
                    frames.put(frame);
                    return None;
                }
            }
        }
        pages.insert(pgoff, frame);
        Some(frame)
    }
}

impl Drop for SharedMem {
    fn drop(&mut self) {
        let pages = core::mem::take(&mut *self.pages.lock());
        self.orphans.lock().extend(pages.into_values());
    }
}
