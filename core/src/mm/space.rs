//! One guest address space: its VMAs, its page table (page number → frame), the
//! host mapping changes not yet flushed, and the brk area.
//!
//! Pages are populated on demand: by a guest page fault, or by the kernel itself
//! when it copies to or from user memory. A fault maps the page in the host with
//! the VMA's protection (minus write while it is shared copy-on-write) and maps its
//! neighbours too (fault-around), so sequential access costs few host round trips.

use super::frame::{Frame, FrameAllocator, FrameState};
use super::pagecache::FileCache;
use super::vma::{Vma, VmaKind, VmaName, VmaSet};
use super::{page_ceil, page_floor};
use crate::arch;
use crate::config::{PAGE_SHIFT, PAGE_SIZE};
use crate::error::KResult;
use crate::host::{HostError, HostMemory, MapOp, MmId};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::Prot;
use umbra_abi::signal::{SEGV_ACCERR, SEGV_MAPERR};
use umbra_abi::Errno;

const PAGE: u64 = PAGE_SIZE as u64;
/// At most this many pages are copied eagerly at a fork (see
/// [`AddressSpace::take_fork_hot`]).
pub const FORK_HOT_MAX: usize = 32;
/// Pages mapped around a fault, as an aligned window.
const FAULT_AROUND: u64 = 16;
/// The largest writable private file mapping, in pages, whose fault-around
/// window is copied at a write fault ([`AddressSpace::copy_around`]).
const COPY_AROUND_MAX: u64 = 32;
/// The lowest address a guest may map (vm.mmap_min_addr).
pub const MMAP_MIN: u64 = 0x10000;
/// The most VMAs one address space may have (Linux's default
/// vm.max_map_count): a mapping call that needs more fails with ENOMEM.
pub const MAX_MAP_COUNT: usize = 65530;
/// mremap(2): keep the old range mapped (empty) after a move.
pub const MREMAP_DONTUNMAP: u32 = 4;

/// A page-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pte {
    frame: Frame,
    /// The frame is shared copy-on-write: mapped read-only until written.
    cow: bool,
    /// The host stub currently maps this page.
    in_host: bool,
}

/// What a guest page fault came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOutcome {
    /// The page is now mapped; resume the guest.
    Mapped,
    /// The access is not allowed: deliver SIGSEGV with this si_code.
    Segv { code: i32 },
    /// No frame is left: the kernel must free memory or kill someone.
    OutOfMemory,
    /// The page lies wholly past the end of the mapped file: SIGBUS
    /// (BUS_ADRERR).
    Bus,
}

/// Whether page `vpn` of `vma` lies wholly past the end of its file, where
/// Linux raises SIGBUS (files mapped with mmap(2) only, not ELF segments).
fn beyond_eof(vma: &Vma, vpn: u64) -> bool {
    let (size, offset) = match &vma.kind {
        VmaKind::File {
            backing, offset, ..
        } => match backing.size() {
            Some(size) => (size, offset),
            None => return false,
        },
        // A shared object has the size it was made with (a mapping grown
        // by mremap reaches past it).
        VmaKind::Shared { obj, offset } => (obj.size(), offset),
        VmaKind::Anon => return false,
    };
    let off = offset.wrapping_add((vpn << PAGE_SHIFT).wrapping_sub(vma.start));
    page_ceil(size).is_some_and(|end| off >= end)
}

/// The page cache holding the page at `va` of `v` and its page offset in
/// the file, for a file mapping whose pages come from a cache.
fn file_page(v: &Vma, va: u64) -> Option<(&Arc<FileCache>, u64)> {
    let (cache, offset) = match &v.kind {
        VmaKind::File {
            backing,
            offset,
            file_end,
        } if va.saturating_add(PAGE) <= *file_end => (backing.cache()?, offset),
        VmaKind::Shared { obj, offset } => (obj.file()?, offset),
        _ => return None,
    };
    Some((cache, offset.wrapping_add(va - v.start) >> PAGE_SHIFT))
}

/// The file offset at `v.start` when `v` is an mmap(2) of the file `cache`
/// caches (not an ELF segment, whose pages past the file are its bss).
fn maps_file(v: &Vma, cache: &FileCache) -> Option<u64> {
    let (c, offset) = match &v.kind {
        VmaKind::File {
            backing, offset, ..
        } if backing.size().is_some() => (backing.cache()?, offset),
        VmaKind::File { .. } => return None,
        VmaKind::Shared { obj, offset } => (obj.file()?, offset),
        VmaKind::Anon => return None,
    };
    core::ptr::eq(Arc::as_ptr(c), cache).then_some(*offset)
}

/// Kind of kernel access to user memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A guest address space.
pub struct AddressSpace {
    /// The host's handle for it.
    pub id: MmId,
    pub vmas: VmaSet,
    pt: BTreeMap<u64, Pte>,
    pending: Vec<MapOp>,
    /// `pending` holds the pre-mapping of a fork child that the host has not
    /// seen yet: until the next flush, a fault on an `in_host` page is a fault
    /// on a page the host does not map yet.
    premap_pending: bool,
    /// In a fork child until [`Self::take_fork_hot`]: pages the parent had
    /// written since it last forked (mapped writable in its host), at most
    /// [`FORK_HOT_MAX`].
    fork_hot: Vec<u64>,
    /// Ranges locked by mlock(2) and mlockall(2), start to end, disjoint.
    locked: crate::vecmap::VecMap<u64, u64>,
    /// mlockall(MCL_FUTURE): new mappings are locked too; `Some(onfault)`.
    pub lock_future: Option<bool>,
    /// Start of the brk area (end of the loaded image, page aligned).
    pub brk_start: u64,
    /// Current program break.
    pub brk: u64,
}

impl AddressSpace {
    /// Creates an empty address space with a new host stub.
    pub fn new<H: HostMemory>(host: &mut H) -> Result<Self, HostError> {
        let id = host.mm_create()?;
        Ok(AddressSpace {
            id,
            vmas: VmaSet::default(),
            pt: BTreeMap::new(),
            pending: Vec::new(),
            premap_pending: false,
            fork_hot: Vec::new(),
            locked: crate::vecmap::VecMap::new(),
            lock_future: None,
            brk_start: 0,
            brk: 0,
        })
    }

    /// An empty address space that stands for `id` without owning it: what
    /// a vfork parent keeps while its child runs on its real one. It maps
    /// nothing; it must be dropped, never destroyed (the host process is
    /// the real space's).
    pub fn stand_in(id: MmId) -> Self {
        AddressSpace {
            id,
            vmas: VmaSet::default(),
            pt: BTreeMap::new(),
            pending: Vec::new(),
            premap_pending: false,
            fork_hot: Vec::new(),
            locked: crate::vecmap::VecMap::new(),
            lock_future: None,
            brk_start: 0,
            brk: 0,
        }
    }

    /// Pages currently backed by frames (the resident set).
    pub fn resident_pages(&self) -> usize {
        self.pt.len()
    }

    /// Whether mapping changes wait to be sent to the host.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Sends the queued mapping changes to the host. Called before the guest runs.
    pub fn flush<H: HostMemory>(&mut self, host: &mut H) -> Result<(), HostError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if host.mm_near_map_limit(self.id, self.pending.len()) {
            self.evict_host();
        }
        let r = host.mm_apply(self.id, &self.pending);
        self.pending.clear();
        self.premap_pending = false;
        r
    }

    /// Removes every guest page from the host address space (one unmap of the
    /// whole user range), for a host near its limit of mappings: the kernel's
    /// page table is the truth, and the pages fault in again when touched.
    /// A short queue (the pages of the fault being served) is kept, after the
    /// unmap, so the guest makes progress.
    fn evict_host(&mut self) {
        for pte in self.pt.values_mut() {
            pte.in_host = false;
        }
        let old = core::mem::take(&mut self.pending);
        self.premap_pending = false;
        self.pending.push(MapOp::Unmap {
            va: 0,
            len: arch::USER_END,
        });
        if old.len() > 64 {
            return;
        }
        for op in old {
            if let MapOp::Map { va, len, .. } = op {
                for (_, pte) in self
                    .pt
                    .range_mut(va >> PAGE_SHIFT..(va + len) >> PAGE_SHIFT)
                {
                    pte.in_host = true;
                }
            }
            self.pending.push(op);
        }
    }

    /// Frees every frame and destroys the host address space.
    pub fn destroy<H: HostMemory>(mut self, frames: &mut FrameAllocator, host: &mut H) {
        for (_, pte) in core::mem::take(&mut self.pt) {
            frames.put(pte.frame);
        }
        // Shared objects mapped only here go now; their frames with them.
        self.vmas = VmaSet::default();
        frames.reap();
        host.mm_destroy(self.id);
    }

    fn push(&mut self, op: MapOp) {
        push_op(&mut self.pending, op);
    }

    fn host_prot(vma_prot: Prot, cow: bool) -> Prot {
        if cow {
            vma_prot - Prot::WRITE
        } else {
            vma_prot
        }
    }

    /// Allocates and fills the frame for page `vpn` of `vma`.
    fn populate<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        vma: &Vma,
        vpn: u64,
    ) -> Option<Frame> {
        let va = vpn << PAGE_SHIFT;
        if let VmaKind::Shared { obj, offset } = &vma.kind {
            // The object's frame, shared by every mapping of it; the page
            // table holds a reference of its own. A clean file page is
            // mapped read-only, so the first write is seen (and marks it
            // dirty, in `break_cow`).
            let pgoff = offset.wrapping_add(va - vma.start) >> PAGE_SHIFT;
            let frame = obj.frame(frames, host, pgoff)?;
            frames.get(frame);
            let cow = obj.file().is_some_and(|c| !c.is_dirty(pgoff));
            self.pt.insert(
                vpn,
                Pte {
                    frame,
                    cow,
                    in_host: false,
                },
            );
            return Some(frame);
        }
        if let VmaKind::File {
            backing,
            offset,
            file_end,
        } = &vma.kind
        {
            if let Some(cache) = backing.cache() {
                if va.saturating_add(PAGE) <= *file_end {
                    // The page cache's frame, copied on write.
                    let pgoff = offset.wrapping_add(va - vma.start) >> PAGE_SHIFT;
                    let frame = cache.frame(frames, host, pgoff)?;
                    frames.get(frame);
                    self.pt.insert(
                        vpn,
                        Pte {
                            frame,
                            cow: true,
                            in_host: false,
                        },
                    );
                    return Some(frame);
                }
            }
        }
        let (frame, state) = frames.alloc()?;
        let base = frame.phys() as usize;
        let Some(page) = host.physmem_mut().get_mut(base..base + PAGE_SIZE) else {
            frames.put(frame);
            return None;
        };
        if state == FrameState::Dirty {
            page.fill(0);
        }
        if let VmaKind::File {
            backing,
            offset,
            file_end,
        } = &vma.kind
        {
            if va < *file_end {
                let n = ((*file_end - va).min(PAGE)) as usize;
                let off = offset.wrapping_add(va - vma.start);
                // A short or failed read leaves zeroes, as a file shorter than its
                // mapping does on Linux (where it would be SIGBUS past EOF).
                let _ = backing.read_at(off, &mut page[..n]);
            }
        }
        self.pt.insert(
            vpn,
            Pte {
                frame,
                cow: false,
                in_host: false,
            },
        );
        Some(frame)
    }

    /// Maps page `vpn` (already present) in the host.
    fn map_in_host(&mut self, vpn: u64, prot: Prot) {
        if let Some(pte) = self.pt.get_mut(&vpn) {
            pte.in_host = true;
            let (frame, cow) = (pte.frame, pte.cow);
            self.push(MapOp::Map {
                va: vpn << PAGE_SHIFT,
                len: PAGE,
                phys: frame.phys(),
                prot: Self::host_prot(prot, cow),
            });
        }
    }

    /// Handles a guest page fault at `addr`.
    pub fn handle_fault<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        addr: u64,
    ) -> FaultOutcome {
        let Some(vma) = self.vmas.find(addr).cloned() else {
            return FaultOutcome::Segv { code: SEGV_MAPERR };
        };
        if vma.prot.is_empty() {
            return FaultOutcome::Segv { code: SEGV_ACCERR };
        }
        let vpn = addr >> PAGE_SHIFT;
        match self.pt.get(&vpn).copied() {
            None => {
                if beyond_eof(&vma, vpn) {
                    return FaultOutcome::Bus;
                }
                let sequential = self.pt.contains_key(&(vpn.wrapping_sub(1)));
                if self.populate(frames, host, &vma, vpn).is_none() {
                    return FaultOutcome::OutOfMemory;
                }
                self.map_in_host(vpn, vma.prot);
                self.fault_around(frames, host, &vma, vpn, sequential);
                FaultOutcome::Mapped
            }
            Some(pte) if !pte.in_host || self.premap_pending => {
                self.reclaim_sole(frames, &vma, vpn);
                self.map_in_host(vpn, vma.prot);
                self.fault_around(frames, host, &vma, vpn, false);
                FaultOutcome::Mapped
            }
            Some(pte) => {
                // Mapped already: a permission fault. Only a write to a COW page in a
                // writable VMA is legal.
                if pte.cow && vma.prot.contains(Prot::WRITE) {
                    match self.break_cow(frames, host, vpn) {
                        Some(()) => {
                            self.reclaim_sole_around(frames, &vma, vpn);
                            self.copy_around(frames, host, &vma, vpn);
                            FaultOutcome::Mapped
                        }
                        None => FaultOutcome::OutOfMemory,
                    }
                } else {
                    FaultOutcome::Segv { code: SEGV_ACCERR }
                }
            }
        }
    }

    /// Maps the present neighbours of `vpn` in its aligned window; for file pages
    /// and sequential anonymous access, populates the missing ones ahead too.
    fn fault_around<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        vma: &Vma,
        vpn: u64,
        sequential: bool,
    ) {
        let first = (vpn & !(FAULT_AROUND - 1)).max(vma.start >> PAGE_SHIFT);
        let end = (first + FAULT_AROUND).min(vma.end >> PAGE_SHIFT);
        let fill = sequential
            || match &vma.kind {
                VmaKind::File { .. } => true,
                VmaKind::Shared { obj, .. } => obj.file().is_some(),
                VmaKind::Anon => false,
            };
        let fill_from = if sequential { vpn + 1 } else { first };
        for p in first..end {
            if p == vpn {
                continue;
            }
            match self.pt.get(&p) {
                Some(pte) if pte.in_host => self.reclaim_sole(frames, vma, p),
                Some(_) => {
                    self.reclaim_sole(frames, vma, p);
                    self.map_in_host(p, vma.prot);
                }
                None if fill && p >= fill_from => {
                    // Keep a reserve so fault-around never causes an OOM by itself.
                    if frames.free_count() < 64
                        || beyond_eof(vma, p)
                        || self.populate(frames, host, vma, p).is_none()
                    {
                        return;
                    }
                    self.map_in_host(p, vma.prot);
                }
                None => {}
            }
        }
    }

    /// A COW page of a writable VMA whose frame is no longer shared (the other
    /// address space exited, exec'd or broke its own COW) is simply writable
    /// again: clears its COW mark and, if the host maps it, restores write
    /// access there now, saving the write fault the guest would take.
    fn reclaim_sole(&mut self, frames: &FrameAllocator, vma: &Vma, vpn: u64) {
        // A shared file page is read-only until written for its dirty mark,
        // not for copy-on-write.
        if !vma.prot.contains(Prot::WRITE) || vma.is_shared() {
            return;
        }
        let Some(pte) = self.pt.get_mut(&vpn) else {
            return;
        };
        if !pte.cow || frames.refcount(pte.frame) != 1 {
            return;
        }
        pte.cow = false;
        if pte.in_host {
            self.push(MapOp::Protect {
                va: vpn << PAGE_SHIFT,
                len: PAGE,
                prot: vma.prot,
            });
        }
    }

    /// [`Self::reclaim_sole`] over the aligned fault-around window of `vpn`: after
    /// a fork whose child is gone, the parent's written pages are all COW but
    /// unshared, and one write fault makes a whole window writable again.
    fn reclaim_sole_around(&mut self, frames: &FrameAllocator, vma: &Vma, vpn: u64) {
        let first = (vpn & !(FAULT_AROUND - 1)).max(vma.start >> PAGE_SHIFT);
        let end = (first + FAULT_AROUND).min(vma.end >> PAGE_SHIFT);
        for p in first..end {
            if p != vpn {
                self.reclaim_sole(frames, vma, p);
            }
        }
    }

    /// After a write fault broke COW on page `vpn` of a small writable private
    /// file mapping (an ELF data segment: .got, .data, the .data.rel.ro the
    /// dynamic linker relocates), copies the other pages of its aligned window
    /// that the host maps read-only for COW now, in the same host batch: start-up
    /// writes most of them, and a page copy costs far less than a write fault.
    /// Keeps the same reserve as fault-around, so it never causes an OOM by
    /// itself and does less under memory pressure. A page copied this way no
    /// longer sees later writes to the file; POSIX leaves that unspecified for
    /// MAP_PRIVATE (Linux shows them until the page is written), and the size
    /// limit keeps it to data segments, not to large private file mappings.
    fn copy_around<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        vma: &Vma,
        vpn: u64,
    ) {
        if !matches!(vma.kind, VmaKind::File { .. })
            || !vma.prot.contains(Prot::WRITE)
            || (vma.end - vma.start) >> PAGE_SHIFT > COPY_AROUND_MAX
        {
            return;
        }
        let first = (vpn & !(FAULT_AROUND - 1)).max(vma.start >> PAGE_SHIFT);
        let end = (first + FAULT_AROUND).min(vma.end >> PAGE_SHIFT);
        for p in first..end {
            if p == vpn || !self.pt.get(&p).is_some_and(|pte| pte.cow && pte.in_host) {
                continue;
            }
            if frames.free_count() < 64 || self.break_cow(frames, host, p).is_none() {
                return;
            }
        }
    }

    /// Right after a fork, in the child: the pages the parent had written since
    /// its previous fork (they were writable in its host), which both sides
    /// are likely to write again soon (libc and shell state, the stack). The
    /// caller copies them at once ([`Self::copy_now`],
    /// [`Self::reclaim_page`]): a page copy costs far less than a write fault.
    pub fn take_fork_hot(&mut self) -> Vec<u64> {
        core::mem::take(&mut self.fork_hot)
    }

    /// Right after a fork, in the child: the page at `va` (the one under the
    /// stack pointer, which the child writes at once) gets its private copy
    /// now, mapped writable in the same batch as the child's pre-mapping,
    /// instead of at a write fault. Only a present COW page of a writable VMA.
    /// Returns whether it was copied.
    pub fn copy_now<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        va: u64,
    ) -> bool {
        let vpn = va >> PAGE_SHIFT;
        let writable = self
            .vmas
            .find(va)
            .is_some_and(|v| v.prot.contains(Prot::WRITE));
        // Keep a reserve, as fault-around does: an eager copy never causes an OOM.
        if !writable || !self.pt.get(&vpn).is_some_and(|p| p.cow) || frames.free_count() < 64 {
            return false;
        }
        self.break_cow(frames, host, vpn).is_some()
    }

    /// Right after a fork, in the parent: the page at `va` whose frame the child
    /// just copied ([`Self::copy_now`]) is no longer shared, so it stays
    /// writable in the host (no write fault on the parent's stack).
    pub fn reclaim_page(&mut self, frames: &FrameAllocator, va: u64) {
        if let Some(vma) = self.vmas.find(va).cloned() {
            self.reclaim_sole(frames, &vma, va >> PAGE_SHIFT);
        }
    }

    /// Gives page `vpn` a private copy of its frame and maps it writable.
    fn break_cow<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        vpn: u64,
    ) -> Option<()> {
        let pte = *self.pt.get(&vpn)?;
        let mut frame = pte.frame;
        let va = vpn << PAGE_SHIFT;
        let shared_file = self.vmas.find(va).and_then(|v| match &v.kind {
            VmaKind::Shared { obj, offset } => obj
                .file()
                .map(|c| (c.clone(), offset.wrapping_add(va - v.start) >> PAGE_SHIFT)),
            _ => None,
        });
        if let Some((cache, pgoff)) = shared_file {
            // A write to a shared file page: it is dirty now, and writable.
            cache.mark_dirty(pgoff);
        } else if frames.refcount(pte.frame) > 1 {
            let (new, _) = frames.alloc()?;
            let (src, dst) = (pte.frame.phys() as usize, new.phys() as usize);
            host.physmem_mut().copy_within(src..src + PAGE_SIZE, dst);
            frames.put(pte.frame);
            frame = new;
        }
        self.pt.insert(
            vpn,
            Pte {
                frame,
                cow: false,
                in_host: pte.in_host,
            },
        );
        if pte.in_host {
            let prot = self
                .vmas
                .find(vpn << PAGE_SHIFT)
                .map_or(Prot::empty(), |v| v.prot);
            self.map_in_host(vpn, prot);
        }
        Some(())
    }

    /// The frame of the page at `va` for a kernel access, populating it or breaking
    /// COW as needed. EFAULT where the guest itself could not make this access.
    pub(super) fn frame_for<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        va: u64,
        access: Access,
    ) -> KResult<Frame> {
        let vma = self.vmas.find(va).ok_or(Errno::EFAULT)?;
        let ok = match access {
            Access::Read => vma.prot.contains(Prot::READ),
            Access::Write => vma.prot.contains(Prot::WRITE),
        };
        if !ok {
            return Err(Errno::EFAULT);
        }
        let vpn = va >> PAGE_SHIFT;
        let pte = match self.pt.get(&vpn) {
            Some(p) => *p,
            None => {
                let vma = vma.clone();
                if beyond_eof(&vma, vpn) {
                    return Err(Errno::EFAULT);
                }
                self.populate(frames, host, &vma, vpn)
                    .ok_or(Errno::ENOMEM)?;
                self.pt[&vpn]
            }
        };
        if access == Access::Write && pte.cow {
            self.break_cow(frames, host, vpn).ok_or(Errno::ENOMEM)?;
            return Ok(self.pt[&vpn].frame);
        }
        Ok(pte.frame)
    }

    /// The frame holding the futex word at `va` when it lies in shared memory
    /// (a process-shared futex is keyed by it); None in private memory, where
    /// Linux keys even a shared futex by address space and address. EFAULT
    /// where the guest could not read the word.
    pub fn futex_frame<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        va: u64,
    ) -> KResult<Option<Frame>> {
        let shared = self.vmas.find(va).ok_or(Errno::EFAULT)?.is_shared();
        let frame = self.frame_for(frames, host, va, Access::Read)?;
        Ok(shared.then_some(frame))
    }

    fn check_range(va: u64, len: usize) -> KResult<()> {
        let end = va.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if end > arch::USER_END {
            return Err(Errno::EFAULT);
        }
        Ok(())
    }

    /// Copies guest memory at `va` into `buf`.
    pub fn read<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        va: u64,
        buf: &mut [u8],
    ) -> KResult<()> {
        Self::check_range(va, buf.len())?;
        let mut done = 0;
        while done < buf.len() {
            let at = va + done as u64;
            let off = (at % PAGE) as usize;
            let n = (PAGE_SIZE - off).min(buf.len() - done);
            let frame = self.frame_for(frames, host, at, Access::Read)?;
            let base = frame.phys() as usize + off;
            let src = host.physmem().get(base..base + n).ok_or(Errno::EFAULT)?;
            buf[done..done + n].copy_from_slice(src);
            done += n;
        }
        Ok(())
    }

    /// Appends the `len` bytes at `va` to `out`: `read` without a buffer
    /// to clear first.
    pub fn read_append<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        va: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> KResult<()> {
        Self::check_range(va, len)?;
        out.reserve(len);
        let mut done = 0;
        while done < len {
            let at = va + done as u64;
            let off = (at % PAGE) as usize;
            let n = (PAGE_SIZE - off).min(len - done);
            let frame = self.frame_for(frames, host, at, Access::Read)?;
            let base = frame.phys() as usize + off;
            let src = host.physmem().get(base..base + n).ok_or(Errno::EFAULT)?;
            out.extend_from_slice(src);
            done += n;
        }
        Ok(())
    }

    /// Copies `data` into guest memory at `va`.
    pub fn write<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        va: u64,
        data: &[u8],
    ) -> KResult<()> {
        Self::check_range(va, data.len())?;
        let mut done = 0;
        while done < data.len() {
            let at = va + done as u64;
            let off = (at % PAGE) as usize;
            let n = (PAGE_SIZE - off).min(data.len() - done);
            let frame = self.frame_for(frames, host, at, Access::Write)?;
            let base = frame.phys() as usize + off;
            let dst = host
                .physmem_mut()
                .get_mut(base..base + n)
                .ok_or(Errno::EFAULT)?;
            dst.copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    /// ENAMETOOLONG if no NUL is found within `max` bytes.
    pub fn read_cstr<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        va: u64,
        max: usize,
    ) -> KResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = va;
        loop {
            let off = (at % PAGE) as usize;
            let n = PAGE_SIZE - off;
            Self::check_range(at, 1)?;
            let frame = self.frame_for(frames, host, at, Access::Read)?;
            let base = frame.phys() as usize + off;
            let chunk = host.physmem().get(base..base + n).ok_or(Errno::EFAULT)?;
            if let Some(i) = chunk.iter().position(|&b| b == 0) {
                if out.len() + i > max {
                    return Err(Errno::ENAMETOOLONG);
                }
                out.extend_from_slice(&chunk[..i]);
                return Ok(out);
            }
            if out.len() + n > max {
                return Err(Errno::ENAMETOOLONG);
            }
            out.extend_from_slice(chunk);
            at = at.checked_add(n as u64).ok_or(Errno::EFAULT)?;
        }
    }

    /// Removes the mappings of `[start, end)` (page aligned), freeing their frames.
    fn unmap_range(&mut self, frames: &mut FrameAllocator, start: u64, end: u64) {
        let vpns: Vec<u64> = self
            .pt
            .range(start >> PAGE_SHIFT..end >> PAGE_SHIFT)
            .map(|(k, _)| *k)
            .collect();
        let mut any_host = false;
        for vpn in vpns {
            if let Some(pte) = self.pt.remove(&vpn) {
                any_host |= pte.in_host;
                frames.put(pte.frame);
            }
        }
        self.vmas.remove(start, end);
        self.unlock_range(start, end);
        frames.reap();
        if any_host {
            self.push(MapOp::Unmap {
                va: start,
                len: end - start,
            });
        }
    }

    /// Validates a user range: page-aligned start, non-empty, inside user space.
    /// Returns the page-aligned end.
    fn user_range(start: u64, len: u64) -> KResult<u64> {
        if !start.is_multiple_of(PAGE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = page_ceil(start.checked_add(len).ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?;
        if end > arch::USER_END {
            return Err(Errno::EINVAL);
        }
        Ok(end)
    }

    /// munmap(2).
    pub fn munmap(&mut self, frames: &mut FrameAllocator, start: u64, len: u64) -> KResult<()> {
        let end = Self::user_range(start, len)?;
        if self.vmas.remove_splits(start, end) && self.vmas.len() >= MAX_MAP_COUNT {
            return Err(Errno::ENOMEM);
        }
        self.unmap_range(frames, start, end);
        Ok(())
    }

    /// mprotect(2).
    pub fn mprotect(&mut self, start: u64, len: u64, prot: Prot) -> KResult<()> {
        if !start.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let end = Self::user_range(start, len)?;
        if !self.vmas.covers(start, end) {
            return Err(Errno::ENOMEM);
        }
        // A shared mapping of a file not opened for writing stays read-only
        // (Linux's VM_MAYWRITE); so do the vDSO and its time page, one copy
        // shared by every process (Linux copies the vDSO on write; umbra
        // refuses).
        if prot.contains(Prot::WRITE)
            && self.vmas.iter().any(|v| {
                v.start < end
                    && v.end > start
                    && (matches!(&v.kind, VmaKind::Shared { obj, .. } if !obj.may_write())
                        || matches!(v.name, VmaName::Vdso | VmaName::Vvar))
            })
        {
            return Err(Errno::EACCES);
        }
        let splits = self.vmas.splits_for_protect(start, end, prot);
        if splits > 0 && self.vmas.len() + splits > MAX_MAP_COUNT {
            return Err(Errno::ENOMEM);
        }
        // Only pages whose protection really changes are reprotected in the
        // host: a host page's protection follows its VMA's and its COW mark
        // alone (host_prot), so a page already at `prot` needs no host call.
        let mapped: Vec<(u64, bool)> = self
            .pt
            .range(start >> PAGE_SHIFT..end >> PAGE_SHIFT)
            .filter(|(k, p)| {
                p.in_host
                    && self
                        .vmas
                        .find(**k << PAGE_SHIFT)
                        .is_none_or(|v| v.prot != prot)
            })
            .map(|(k, p)| (*k, p.cow))
            .collect();
        self.vmas.protect(start, end, prot);
        for (vpn, cow) in mapped {
            self.push(MapOp::Protect {
                va: vpn << PAGE_SHIFT,
                len: PAGE,
                prot: Self::host_prot(prot, cow),
            });
        }
        Ok(())
    }

    /// Whether mprotect of `[start, end)` to a writable `prot` makes a thread
    /// stack: the upper part (16 KiB or more) of one private anonymous
    /// PROT_NONE mapping, above a part that stays PROT_NONE (the guard). musl
    /// and glibc (2.34 on) map a new thread's stack so and then write the
    /// thread's descriptor and TLS at its top at once.
    pub fn makes_guarded_stack(&self, start: u64, len: u64, prot: Prot) -> bool {
        const MIN_STACK: u64 = 16 << 10;
        let Some(end) = start.checked_add(len).and_then(page_ceil) else {
            return false;
        };
        prot.contains(Prot::WRITE)
            && end.saturating_sub(start) >= MIN_STACK
            && self.vmas.find(start).is_some_and(|v| {
                matches!(v.kind, VmaKind::Anon)
                    && v.prot.is_empty()
                    && v.start < start
                    && v.end == end
            })
    }

    /// Makes the page at `va` resident and maps it in the host now, as a
    /// fault would, when the guest is known to write it next: the mapping
    /// goes in the batch that is flushed before the guest runs, which saves
    /// the fault's stop. Nothing when it is present or cannot be made so.
    pub fn prefault<H: HostMemory>(&mut self, frames: &mut FrameAllocator, host: &mut H, va: u64) {
        let Some(vma) = self.vmas.find(va).cloned() else {
            return;
        };
        let vpn = va >> PAGE_SHIFT;
        if vma.prot.is_empty() || self.pt.contains_key(&vpn) {
            return;
        }
        if self.populate(frames, host, &vma, vpn).is_some() {
            self.map_in_host(vpn, vma.prot);
        }
    }

    /// Places a new mapping. `fixed` replaces whatever is there; otherwise `hint` is
    /// used when free and a free gap below the mmap base is found if not.
    pub fn map(
        &mut self,
        frames: &mut FrameAllocator,
        hint: u64,
        len: u64,
        prot: Prot,
        kind: VmaKind,
        placement: Placement,
    ) -> KResult<u64> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_ceil(len).ok_or(Errno::ENOMEM)?;
        if self.vmas.len() > MAX_MAP_COUNT {
            return Err(Errno::ENOMEM);
        }
        let start = match placement {
            Placement::Fixed | Placement::FixedNoReplace => {
                let end = Self::user_range(hint, len).map_err(|_| Errno::EINVAL)?;
                if hint < MMAP_MIN {
                    return Err(Errno::EPERM);
                }
                if self.vmas.overlaps(hint, end) {
                    if placement == Placement::FixedNoReplace {
                        return Err(Errno::EEXIST);
                    }
                    if self.vmas.remove_splits(hint, end) && self.vmas.len() >= MAX_MAP_COUNT {
                        return Err(Errno::ENOMEM);
                    }
                    self.unmap_range(frames, hint, end);
                }
                hint
            }
            Placement::Hint => {
                let h = page_floor(hint);
                match h.checked_add(len) {
                    Some(end)
                        if h >= MMAP_MIN
                            && end <= arch::USER_END
                            && !self.vmas.overlaps(h, end) =>
                    {
                        h
                    }
                    _ => self
                        .vmas
                        .find_free_top_down(len, MMAP_MIN.max(self.brk), arch::MMAP_BASE)
                        .ok_or(Errno::ENOMEM)?,
                }
            }
            Placement::Low32 => self
                .vmas
                .find_free_top_down(len, 0x4000_0000, 0x8000_0000)
                .or_else(|| self.vmas.find_free_top_down(len, MMAP_MIN, 0x8000_0000))
                .ok_or(Errno::ENOMEM)?,
        };
        self.vmas.insert(Vma {
            start,
            end: start + len,
            prot,
            kind,
            name: VmaName::None,
        });
        Ok(start)
    }

    /// brk(2): moves the break; returns the new (or unchanged, on failure) break.
    pub fn set_brk(&mut self, frames: &mut FrameAllocator, want: u64) -> u64 {
        if want < self.brk_start || want > arch::MMAP_BASE {
            return self.brk;
        }
        let (old_end, new_end) = match (page_ceil(self.brk), page_ceil(want)) {
            (Some(o), Some(n)) => (o, n),
            _ => return self.brk,
        };
        if new_end > old_end {
            if self.vmas.overlaps(old_end, new_end) {
                return self.brk;
            }
            if !self.vmas.extend(old_end, new_end) {
                self.vmas.insert(Vma {
                    start: old_end,
                    end: new_end,
                    prot: Prot::READ | Prot::WRITE,
                    kind: VmaKind::Anon,
                    name: VmaName::Heap,
                });
            }
        } else if new_end < old_end {
            self.unmap_range(frames, new_end, old_end);
        }
        self.brk = want;
        self.brk
    }

    /// MADV_DONTNEED: drops the pages of `[start, start + len)`; anonymous pages
    /// read back as zeroes and file pages as the file's contents.
    pub fn discard(&mut self, frames: &mut FrameAllocator, start: u64, len: u64) -> KResult<()> {
        let end = Self::user_range(start, len)?;
        let vpns: Vec<u64> = self
            .pt
            .range(start >> PAGE_SHIFT..end >> PAGE_SHIFT)
            .map(|(k, _)| *k)
            .collect();
        let mut any_host = false;
        for vpn in vpns {
            if let Some(pte) = self.pt.remove(&vpn) {
                any_host |= pte.in_host;
                frames.put(pte.frame);
            }
        }
        if any_host {
            self.push(MapOp::Unmap {
                va: start,
                len: end - start,
            });
        }
        Ok(())
    }

    /// mremap(2) for a range inside one VMA: shrinks, grows in place, or (with
    /// MREMAP_MAYMOVE) moves the pages to a new place, chosen or (MREMAP_FIXED)
    /// given in `new_addr`. MREMAP_DONTUNMAP leaves the old range mapped and
    /// empty. Returns the new address.
    pub fn mremap(
        &mut self,
        frames: &mut FrameAllocator,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u32,
        new_addr: u64,
    ) -> KResult<u64> {
        use umbra_abi::flags::{MREMAP_FIXED, MREMAP_MAYMOVE};
        if !old.is_multiple_of(PAGE)
            || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
            || flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 && flags & MREMAP_MAYMOVE == 0
        {
            return Err(Errno::EINVAL);
        }
        let fixed = flags & MREMAP_FIXED != 0;
        let dontunmap = flags & MREMAP_DONTUNMAP != 0;
        let new_len = page_ceil(new_len).ok_or(Errno::EINVAL)?;
        if new_len == 0 {
            return Err(Errno::EINVAL);
        }
        let old_end = Self::user_range(old, old_len.max(1))?;
        let old_len = old_end - old;
        if dontunmap && old_len != new_len {
            return Err(Errno::EINVAL);
        }
        if fixed {
            if !new_addr.is_multiple_of(PAGE) {
                return Err(Errno::EINVAL);
            }
            let new_end = new_addr.checked_add(new_len).ok_or(Errno::EINVAL)?;
            if new_end > arch::USER_END {
                return Err(Errno::EINVAL);
            }
            // The two ranges may not overlap.
            if new_addr < old.saturating_add(old_len) && old < new_end {
                return Err(Errno::EINVAL);
            }
        }
        let vma = self.vmas.find(old).cloned().ok_or(Errno::EFAULT)?;
        if !self.vmas.covers_as_one(old, old_end) {
            return Err(Errno::EFAULT);
        }
        if fixed {
            if new_addr < MMAP_MIN {
                return Err(Errno::EPERM);
            }
            if self.vmas.len() + 3 >= MAX_MAP_COUNT {
                return Err(Errno::ENOMEM);
            }
            // Linux unmaps the target first, then the tail the move leaves out.
            self.unmap_range(frames, new_addr, new_addr + new_len);
            let keep = old_len.min(new_len);
            if keep < old_len {
                self.unmap_range(frames, old + keep, old_end);
            }
            self.move_pages(frames, &vma, old, keep, new_addr, new_len, dontunmap);
            return Ok(new_addr);
        }
        if dontunmap {
            return self.move_to_free(frames, &vma, old, old_len, new_len, true);
        }
        if new_len <= old_len {
            if new_len < old_len {
                self.unmap_range(frames, old + new_len, old_end);
            }
            return Ok(old);
        }
        let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
        // The VMA the old range ends in (the range may span several that
        // `covers_as_one` found equivalent).
        let last = self.vmas.find(old_end - 1).cloned().ok_or(Errno::EFAULT)?;
        if last.end == old_end
            && grow_end <= arch::USER_END
            && !self.vmas.overlaps(old_end, grow_end)
        {
            // Anonymous memory grows its VMA (one VMA, as Linux merges it);
            // a file mapping gets the continuing piece.
            if !self.vmas.extend(old_end, grow_end) {
                self.vmas.insert(
                    Vma {
                        start: old_end,
                        end: grow_end,
                        ..last.clone()
                    }
                    .rebased(&last, old_end),
                );
            }
            return Ok(old);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
        self.move_to_free(frames, &vma, old, old_len, new_len, false)
    }

    /// mremap's move to a range the kernel picks: [`Self::move_pages`] to a
    /// free range of `new_len` bytes; ENOMEM when there is none or the move
    /// could pass the map-count limit.
    fn move_to_free(
        &mut self,
        frames: &mut FrameAllocator,
        vma: &Vma,
        old: u64,
        old_len: u64,
        new_len: u64,
        keep_old: bool,
    ) -> KResult<u64> {
        if self.vmas.len() + 3 >= MAX_MAP_COUNT {
            return Err(Errno::ENOMEM);
        }
        let new = self
            .vmas
            .find_free_top_down(new_len, MMAP_MIN.max(self.brk), arch::MMAP_BASE)
            .ok_or(Errno::ENOMEM)?;
        self.move_pages(frames, vma, old, old_len, new, new_len, keep_old);
        Ok(new)
    }

    /// Moves the pages of `[old, old + len)` (inside `vma`'s contents) to a
    /// free range at `new` of `new_len` bytes, mapped like `vma`; the old range
    /// is unmapped, or with `keep_old` stays mapped with no pages.
    #[allow(clippy::too_many_arguments)]
    fn move_pages(
        &mut self,
        frames: &mut FrameAllocator,
        vma: &Vma,
        old: u64,
        len: u64,
        new: u64,
        new_len: u64,
        keep_old: bool,
    ) {
        let moved = Vma {
            start: new,
            end: new + new_len,
            ..vma.clone()
        }
        .rebased(vma, old);
        let vpns: Vec<u64> = self
            .pt
            .range(old >> PAGE_SHIFT..(old + len) >> PAGE_SHIFT)
            .map(|(k, _)| *k)
            .collect();
        let mut any_host = false;
        for vpn in vpns {
            if let Some(mut pte) = self.pt.remove(&vpn) {
                any_host |= pte.in_host;
                pte.in_host = false;
                self.pt
                    .insert(vpn - (old >> PAGE_SHIFT) + (new >> PAGE_SHIFT), pte);
            }
        }
        if any_host {
            self.push(MapOp::Unmap { va: old, len });
        }
        let was_locked = self.locked_bytes(old, old + len) > 0;
        if !keep_old {
            self.vmas.remove(old, old + len);
            self.unlock_range(old, old + len);
        }
        self.vmas.insert(moved);
        if was_locked {
            self.unlock_range(new, new + new_len);
            self.locked.insert(new, new + new_len);
        }
        frames.reap();
    }

    /// How many bytes from `va` (at most `len`) the guest could access without
    /// a fault: reading, or writing when `write`. A kernel copy limited to them
    /// never fails part-way (so a stream read never consumes what it cannot
    /// deliver).
    pub fn accessible(&self, va: u64, len: usize, write: bool) -> usize {
        let end = va.saturating_add(len as u64).min(arch::USER_END);
        let mut at = va;
        while at < end {
            let Some(v) = self.vmas.find(at) else { break };
            let need = if write { Prot::WRITE } else { Prot::READ };
            if !v.prot.contains(need) || beyond_eof(v, at >> PAGE_SHIFT) {
                break;
            }
            at = match &v.kind {
                // Each page of a file mapping may lie past the end of the file.
                VmaKind::File { backing, .. } if backing.size().is_some() => page_floor(at) + PAGE,
                VmaKind::Shared { .. } => page_floor(at) + PAGE,
                _ => v.end,
            };
        }
        (at.min(end).max(va) - va) as usize
    }

    /// Bytes mapped in `[start, end)`: in all, and of them private writable
    /// memory other than the stack (Linux's total_vm and data_vm, which
    /// RLIMIT_AS and RLIMIT_DATA bound).
    pub fn vm_bytes(&self, start: u64, end: u64) -> (u64, u64) {
        let (mut total, mut data) = (0, 0);
        for v in self.vmas.iter() {
            let (s, e) = (v.start.max(start), v.end.min(end));
            if s < e {
                total += e - s;
                if Self::is_data(v) {
                    data += e - s;
                }
            }
        }
        (total, data)
    }

    /// Whether `v` counts as data for RLIMIT_DATA.
    pub fn is_data(v: &Vma) -> bool {
        v.prot.contains(Prot::WRITE) && !v.kind.is_shared() && v.name != VmaName::Stack
    }

    /// Locks `[start, end)` (page aligned): every byte must be mapped
    /// (ENOMEM). Unless `onfault`, its pages are made resident now, as mlock(2)
    /// does (written-to private pages get their own copy).
    pub fn lock_range<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        start: u64,
        end: u64,
        onfault: bool,
    ) -> KResult<()> {
        if !self.vmas.covers(start, end) {
            return Err(Errno::ENOMEM);
        }
        self.unlock_range(start, end);
        let (mut s, mut e) = (start, end);
        if let Some((&ps, &pe)) = self.locked.range(..s).next_back() {
            if pe == s {
                s = ps;
                self.locked.remove(&ps);
            }
        }
        if let Some(&ne) = self.locked.get(&e) {
            self.locked.remove(&e);
            e = ne;
        }
        self.locked.insert(s, e);
        if !onfault {
            self.populate_range(frames, host, start, end)?;
        }
        Ok(())
    }

    /// Makes the pages of `[start, end)` resident (those the guest may access).
    pub fn populate_range<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        start: u64,
        end: u64,
    ) -> KResult<()> {
        let mut va = start;
        while va < end {
            let Some(v) = self.vmas.find(va) else {
                va += PAGE;
                continue;
            };
            let access = if v.prot.contains(Prot::WRITE) && !v.kind.is_shared() {
                Access::Write
            } else if v.prot.contains(Prot::READ) || v.prot.contains(Prot::WRITE) {
                Access::Read
            } else {
                va = v.end;
                continue;
            };
            let vend = v.end;
            match self.frame_for(frames, host, va, access) {
                Ok(_) => va += PAGE,
                // Past the end of a mapped file: so is the rest of the VMA.
                Err(Errno::EFAULT) => va = vend,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Unlocks `[start, end)` (no check that it is mapped).
    pub fn unlock_range(&mut self, start: u64, end: u64) {
        let hit: Vec<(u64, u64)> = self
            .locked
            .range(..end)
            .rev()
            .take_while(|(_, &e)| e > start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in hit {
            self.locked.remove(&s);
            if s < start {
                self.locked.insert(s, start);
            }
            if e > end {
                self.locked.insert(end, e);
            }
        }
    }

    /// Bytes locked in `[start, end)`.
    pub fn locked_bytes(&self, start: u64, end: u64) -> u64 {
        self.locked
            .range(..end)
            .rev()
            .take_while(|(_, &e)| e > start)
            .map(|(&s, &e)| e.min(end) - s.max(start))
            .sum()
    }

    /// Drops every lock (munlockall).
    pub fn unlock_all(&mut self) {
        self.locked.clear();
        self.lock_future = None;
    }

    /// mincore(2): whether each page of `[start, end)` is resident; ENOMEM
    /// where a page is not mapped.
    pub fn residency(&self, start: u64, end: u64) -> KResult<Vec<u8>> {
        if !self.vmas.covers(start, end) {
            return Err(Errno::ENOMEM);
        }
        Ok((start >> PAGE_SHIFT..end >> PAGE_SHIFT)
            .map(|vpn| {
                // A file page counts when the page cache holds it, as
                // Linux's mincore reports the page cache for file mappings.
                let cached = || {
                    let va = vpn << PAGE_SHIFT;
                    self.vmas
                        .find(va)
                        .and_then(|v| file_page(v, va))
                        .is_some_and(|(c, pgoff)| c.is_resident(pgoff))
                };
                u8::from(self.pt.contains_key(&vpn) || cached())
            })
            .collect())
    }

    /// The shared file mappings in `[start, end)`: each file's cache with
    /// the page offsets the range covers, `[first, end)`.
    pub fn shared_files(&self, start: u64, end: u64) -> Vec<(Arc<FileCache>, u64, u64)> {
        let mut out = Vec::new();
        for v in self.vmas.iter() {
            let (s, e) = (v.start.max(start), v.end.min(end));
            if s >= e {
                continue;
            }
            if let VmaKind::Shared { obj, offset } = &v.kind {
                if let Some(c) = obj.file() {
                    let first = offset.wrapping_add(s - v.start) >> PAGE_SHIFT;
                    let last = offset.wrapping_add(e - v.start).div_ceil(PAGE);
                    out.push((c.clone(), first, last));
                }
            }
        }
        out
    }

    /// The file `cache` caches was truncated to `size`: removes every page
    /// of a mapping of it that lies wholly past the end (shared, or private
    /// and already copied), so the next touch is SIGBUS, as Linux's
    /// truncate_pagecache does.
    pub fn truncated_file(&mut self, frames: &mut FrameAllocator, cache: &FileCache, size: u64) {
        let keep = page_ceil(size).unwrap_or(u64::MAX);
        let mut gone: Vec<u64> = Vec::new();
        for v in self.vmas.iter() {
            let Some(offset) = maps_file(v, cache) else {
                continue;
            };
            for (&vpn, _) in self.pt.range(v.start >> PAGE_SHIFT..v.end >> PAGE_SHIFT) {
                let off = offset.wrapping_add((vpn << PAGE_SHIFT) - v.start);
                if off >= keep {
                    gone.push(vpn);
                }
            }
        }
        for vpn in gone {
            if let Some(pte) = self.pt.remove(&vpn) {
                frames.put(pte.frame);
                if pte.in_host {
                    self.push(MapOp::Unmap {
                        va: vpn << PAGE_SHIFT,
                        len: PAGE,
                    });
                }
            }
        }
    }

    /// A copy-on-write copy of this address space in the new host address space
    /// `id` (fork). Writable pages become read-only in both until written.
    ///
    /// The child's host address space starts with every page the parent's host
    /// maps, read-only where shared copy-on-write: one batch of mmaps (runs of
    /// contiguous frames merge into one call) at its first run, instead of a
    /// fault per fault-around window it touches.
    pub fn fork_cow(&mut self, frames: &mut FrameAllocator, id: MmId) -> AddressSpace {
        let mut child_pt = BTreeMap::new();
        let mut child_pending: Vec<MapOp> = Vec::new();
        let mut protect = Vec::new();
        let mut hot = Vec::new();
        for vma in self.vmas.iter() {
            // Shared memory stays shared: the same frames, writable on both sides.
            let private = !vma.kind.is_shared();
            let writable = vma.prot.contains(Prot::WRITE);
            for (vpn, pte) in self
                .pt
                .range_mut(vma.start >> PAGE_SHIFT..vma.end >> PAGE_SHIFT)
            {
                frames.get(pte.frame);
                // A private page is copy-on-write once shared, also when read-only
                // now: mprotect may make it writable later.
                if private && !pte.cow {
                    pte.cow = true;
                    if pte.in_host && writable {
                        protect.push((*vpn, vma.prot));
                        if hot.len() < FORK_HOT_MAX {
                            hot.push(*vpn);
                        }
                    }
                }
                if pte.in_host {
                    push_op(
                        &mut child_pending,
                        MapOp::Map {
                            va: vpn << PAGE_SHIFT,
                            len: PAGE,
                            phys: pte.frame.phys(),
                            prot: Self::host_prot(vma.prot, pte.cow),
                        },
                    );
                }
                child_pt.insert(
                    *vpn,
                    Pte {
                        frame: pte.frame,
                        cow: pte.cow,
                        in_host: pte.in_host,
                    },
                );
            }
        }
        for (vpn, prot) in protect {
            self.push(MapOp::Protect {
                va: vpn << PAGE_SHIFT,
                len: PAGE,
                prot: Self::host_prot(prot, true),
            });
        }
        AddressSpace {
            id,
            vmas: self.vmas.clone(),
            pt: child_pt,
            premap_pending: !child_pending.is_empty(),
            fork_hot: hot,
            // Memory locks are not inherited (mlock(2)).
            locked: crate::vecmap::VecMap::new(),
            lock_future: None,
            pending: child_pending,
            brk_start: self.brk_start,
            brk: self.brk,
        }
    }
}

/// Appends `op` to a queue of host mapping ops, merged with the previous op where
/// the host could do both as one call.
fn push_op(pending: &mut Vec<MapOp>, op: MapOp) {
    match (pending.last_mut(), op) {
        (
            Some(MapOp::Map {
                va: lva,
                len: llen,
                phys: lphys,
                prot: lprot,
            }),
            MapOp::Map {
                va,
                len,
                phys,
                prot,
            },
        ) if *lprot == prot && *lva + *llen == va && *lphys + *llen == phys => {
            *llen += len;
            return;
        }
        (
            Some(MapOp::Protect {
                va: lva,
                len: llen,
                prot: lprot,
            }),
            MapOp::Protect { va, len, prot },
        ) if *lprot == prot && *lva + *llen == va => {
            *llen += len;
            return;
        }
        _ => {}
    }
    pending.push(op);
}

/// How `AddressSpace::map` chooses the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The hint if free, else anywhere.
    Hint,
    /// Exactly there, replacing old mappings (MAP_FIXED).
    Fixed,
    /// Exactly there, EEXIST if anything is mapped (MAP_FIXED_NOREPLACE).
    FixedNoReplace,
    /// Anywhere in the first 2 GiB (x86_64's MAP_32BIT: Linux uses 1-2 GiB).
    Low32,
}
