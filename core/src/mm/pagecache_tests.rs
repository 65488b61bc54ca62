//! Tests of the page cache on MockHost: private mappings of one file in two
//! address spaces share frames until written, shared mappings mark pages
//! dirty at the first write and write them back (by call, and through the
//! queue when the last mapping goes), read/write coherence, truncation,
//! reclaim under memory pressure, and mremap of a file mapping.

use super::*;
use crate::host::MmId;
use crate::mm::space::{AddressSpace, FaultOutcome, Placement};
use crate::mm::vma::VmaKind;
use crate::mm::SharedMem;
use crate::testing::MockHost;
use alloc::vec;
use umbra_abi::flags::Prot;

const A: u64 = 0x1000_0000;
const B: u64 = 0x2000_0000;
const RW: Prot = Prot::READ.union(Prot::WRITE);

/// A writable file in memory with an identity.
struct MemFile {
    data: Mutex<Vec<u8>>,
    key: usize,
}

impl MemFile {
    fn new(len: usize, key: usize) -> Arc<MemFile> {
        Arc::new(MemFile {
            data: Mutex::new((0..len).map(|i| (i % 251) as u8).collect()),
            key,
        })
    }
    fn bytes(&self) -> Vec<u8> {
        self.data.lock().clone()
    }
}

impl Backing for MemFile {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        let d = self.data.lock();
        let Some(src) = d.get(off as usize..) else {
            return Ok(0);
        };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
    fn size(&self) -> Option<u64> {
        Some(self.data.lock().len() as u64)
    }
    fn write_at(&self, off: u64, buf: &[u8], _now: Timespec) -> KResult<usize> {
        let mut d = self.data.lock();
        let end = off as usize + buf.len();
        if d.len() < end {
            d.resize(end, 0);
        }
        d[off as usize..end].copy_from_slice(buf);
        Ok(buf.len())
    }
    fn key(&self) -> Option<usize> {
        Some(self.key)
    }
}

fn private(cache: &Arc<FileCache>) -> VmaKind {
    VmaKind::File {
        backing: MappedFile::new(cache.clone(), PastEof::Sigbus),
        offset: 0,
        file_end: u64::MAX,
    }
}

fn map(
    mm: &mut AddressSpace,
    frames: &mut FrameAllocator,
    at: u64,
    len: u64,
    prot: Prot,
    kind: VmaKind,
) {
    let got = mm
        .map(frames, at, len, prot, kind, Placement::Fixed)
        .unwrap();
    assert_eq!(got, at);
}

fn read(host: &MockHost, mm: MmId, addr: u64) -> Option<u8> {
    host.guest_read(mm, addr)
}

/// A guest store, as the simulated host would let it through (or panics).
fn poke(host: &mut MockHost, mm: MmId, addr: u64, b: u8) {
    let page = host.host_page(mm, addr).expect("mapped");
    assert!(page.prot.contains(Prot::WRITE), "not writable in the host");
    host.mem[(page.phys + (addr & 0xfff)) as usize] = b;
}

#[test]
fn private_mappings_of_one_file_share_frames_until_written() {
    let mut host = MockHost::new(256 * 4096);
    let mut frames = FrameAllocator::new(256);
    let file = MemFile::new(4 * 4096, 1);
    let c1 = frames.file_cache(file.clone());
    let c2 = frames.file_cache(file.clone());
    assert!(Arc::ptr_eq(&c1, &c2), "one cache per file");
    let mut m1 = AddressSpace::new(&mut host).unwrap();
    let mut m2 = AddressSpace::new(&mut host).unwrap();
    map(&mut m1, &mut frames, A, 4 * 4096, RW, private(&c1));
    map(&mut m2, &mut frames, B, 4 * 4096, RW, private(&c2));
    drop((c1, c2));
    assert_eq!(
        m1.handle_fault(&mut frames, &mut host, A + 5),
        FaultOutcome::Mapped
    );
    assert_eq!(
        m2.handle_fault(&mut frames, &mut host, B + 5),
        FaultOutcome::Mapped
    );
    m1.flush(&mut host).unwrap();
    m2.flush(&mut host).unwrap();
    // Fault-around read the whole file once: 4 frames for both spaces.
    assert_eq!(frames.used(), 4);
    assert_eq!(frames.cached_pages(), 4);
    let p1 = host.host_page(m1.id, A).unwrap();
    let p2 = host.host_page(m2.id, B).unwrap();
    assert_eq!(p1.phys, p2.phys, "the same frame in both");
    assert_eq!(
        p1.prot,
        Prot::READ,
        "copy-on-write: read-only until written"
    );
    assert_eq!(
        read(&host, m2.id, B + 4096 + 7),
        Some(((4096 + 7) % 251) as u8)
    );
    // A write copies the page for the writer only.
    m1.write(&mut frames, &mut host, A + 5, b"X").unwrap();
    m1.flush(&mut host).unwrap();
    assert_eq!(frames.used(), 5);
    assert_eq!(read(&host, m1.id, A + 5), Some(b'X'));
    assert_eq!(read(&host, m2.id, B + 5), Some(5));
    assert_eq!(file.bytes()[5], 5, "a private write never reaches the file");
    m1.destroy(&mut frames, &mut host);
    m2.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0, "the cache went with its last mapping");
    assert!(frames.cache_of(1).is_none());
}

#[test]
fn shared_mapping_marks_dirty_at_the_first_write_and_writes_back() {
    let mut host = MockHost::new(256 * 4096);
    let mut frames = FrameAllocator::new(256);
    let file = MemFile::new(2 * 4096 + 10, 2);
    let cache = frames.file_cache(file.clone());
    let mut mm = AddressSpace::new(&mut host).unwrap();
    let obj = SharedMem::for_file(&frames, cache.clone(), crate::mm::FileAccess::ReadWrite);
    map(
        &mut mm,
        &mut frames,
        A,
        4 * 4096,
        RW,
        VmaKind::Shared { obj, offset: 0 },
    );
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A),
        FaultOutcome::Mapped
    );
    mm.flush(&mut host).unwrap();
    assert_eq!(
        host.host_page(mm.id, A).unwrap().prot,
        Prot::READ,
        "clean: read-only"
    );
    assert!(!cache.has_dirty());
    // Page 2 holds the file's last 10 bytes; page 3 is past the end.
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A + 3 * 4096),
        FaultOutcome::Bus
    );
    // The write fault makes it dirty and writable.
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A + 1),
        FaultOutcome::Mapped
    );
    mm.flush(&mut host).unwrap();
    assert_eq!(host.host_page(mm.id, A).unwrap().prot, RW);
    assert!(cache.is_dirty(0) && !cache.is_dirty(1));
    poke(&mut host, mm.id, A + 1, b'Q');
    // read(2) sees the store before any write-back.
    let mut buf = [0u8; 3];
    cache.overlay(&host, 0, &mut buf);
    assert_eq!(buf, [0, b'Q', 2]);
    assert_eq!(file.bytes()[1], 1);
    cache
        .writeback(&frames, &host, 0, u64::MAX, Timespec::default())
        .unwrap();
    assert_eq!(file.bytes()[1], b'Q');
    assert!(cache.is_dirty(0), "still mapped writable: stays dirty");
    assert_eq!(
        file.bytes().len(),
        2 * 4096 + 10,
        "write-back stops at the end"
    );
    // write(2) to the file is seen through the mapping.
    cache.wrote(&mut host, 4096 + 3, b"hey");
    assert_eq!(read(&host, mm.id, A + 4096 + 4), Some(b'e'));
    // The last mapping goes: the queue writes the page back.
    poke(&mut host, mm.id, A + 2, b'R');
    drop(cache);
    mm.destroy(&mut frames, &mut host);
    assert!(frames.writeback_pending());
    frames.drain_writeback(&host, Timespec::default());
    assert_eq!(file.bytes()[2], b'R');
    assert_eq!(frames.used(), 0);
}

#[test]
fn truncation_drops_pages_past_the_end_from_cache_and_mappings() {
    let mut host = MockHost::new(64 * 4096);
    let mut frames = FrameAllocator::new(64);
    let file = MemFile::new(2 * 4096, 3);
    let cache = frames.file_cache(file.clone());
    let mut mm = AddressSpace::new(&mut host).unwrap();
    let obj = SharedMem::for_file(&frames, cache.clone(), crate::mm::FileAccess::ReadWrite);
    map(
        &mut mm,
        &mut frames,
        A,
        2 * 4096,
        Prot::READ,
        VmaKind::Shared { obj, offset: 0 },
    );
    map(&mut mm, &mut frames, B, 2 * 4096, RW, private(&cache));
    for a in [A, A + 4096, B, B + 4096] {
        assert_eq!(
            mm.handle_fault(&mut frames, &mut host, a),
            FaultOutcome::Mapped
        );
    }
    // A private copy of page 1: it goes too.
    mm.write(&mut frames, &mut host, B + 4096, b"c").unwrap();
    mm.flush(&mut host).unwrap();
    file.data.lock().truncate(100);
    mm.truncated_file(&mut frames, &cache, 100);
    cache.truncated(&mut frames, &mut host, 100);
    mm.flush(&mut host).unwrap();
    assert_eq!(cache.resident_pages(), 1);
    assert!(host.host_page(mm.id, A + 4096).is_none());
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A + 4096),
        FaultOutcome::Bus
    );
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, B + 4096),
        FaultOutcome::Bus
    );
    assert_eq!(read(&host, mm.id, A + 99), Some(99));
    assert_eq!(
        read(&host, mm.id, A + 100),
        Some(0),
        "the tail of the last page is zero"
    );
    drop(cache);
    mm.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0);
}

#[test]
fn allocator_reclaims_clean_unmapped_cache_pages_before_failing() {
    let mut host = MockHost::new(8 * 4096);
    let mut frames = FrameAllocator::new(8);
    let file = MemFile::new(6 * 4096, 4);
    let cache = frames.file_cache(file.clone());
    for pg in 0..6 {
        cache.frame(&mut frames, &mut host, pg).unwrap();
    }
    cache.mark_dirty(0);
    let mut mm = AddressSpace::new(&mut host).unwrap();
    map(&mut mm, &mut frames, A, 4096, Prot::READ, private(&cache));
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A),
        FaultOutcome::Mapped
    );
    // Page 0 is dirty and mapped; 1..6 are clean and unmapped.
    let mut got = vec![];
    while let Some((f, _)) = frames.alloc() {
        got.push(f);
    }
    assert_eq!(got.len(), 2 + 5, "two free frames, then five reclaimed");
    assert_eq!(cache.resident_pages(), 1);
    assert!(cache.is_resident(0));
    for f in got {
        frames.put(f);
    }
    drop(cache);
    mm.destroy(&mut frames, &mut host);
    frames.drain_writeback(&host, Timespec::default());
    assert_eq!(frames.used(), 0);
}

#[test]
fn mremap_moves_the_end_of_an_elf_segment_file_bytes() {
    let mut host = MockHost::new(64 * 4096);
    let mut frames = FrameAllocator::new(64);
    let file = MemFile::new(3 * 4096, 5);
    let cache = frames.file_cache(file.clone());
    let mut mm = AddressSpace::new(&mut host).unwrap();
    // An ELF-style segment: 4096 + 100 file bytes, then zeroes.
    let kind = VmaKind::File {
        backing: MappedFile::new(cache.clone(), PastEof::Zeroes),
        offset: 0,
        file_end: A + 4096 + 100,
    };
    map(&mut mm, &mut frames, A, 3 * 4096, RW, kind);
    let new = mm
        .mremap(
            &mut frames,
            A,
            3 * 4096,
            3 * 4096,
            umbra_abi::flags::MREMAP_MAYMOVE | umbra_abi::flags::MREMAP_FIXED,
            B,
        )
        .unwrap();
    assert_eq!(new, B);
    let mut b = [0u8; 1];
    mm.read(&mut frames, &mut host, B + 4096 + 99, &mut b)
        .unwrap();
    assert_eq!(
        b[0],
        ((4096 + 99) % 251) as u8,
        "file bytes up to the moved end"
    );
    mm.read(&mut frames, &mut host, B + 4096 + 100, &mut b)
        .unwrap();
    assert_eq!(b[0], 0, "zeroes after it");
    mm.read(&mut frames, &mut host, B + 2 * 4096, &mut b)
        .unwrap();
    assert_eq!(b[0], 0);
    drop(cache);
    mm.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0);
}

#[test]
fn a_cache_filling_a_page_reclaims_its_own_idle_pages() {
    let mut host = MockHost::new(4 * 4096);
    let mut frames = FrameAllocator::new(4);
    let file = MemFile::new(16 * 4096, 6);
    let cache = frames.file_cache(file.clone());
    // Read the whole file through the cache, 4 frames for 16 pages.
    for pg in 0..16 {
        let f = cache
            .frame(&mut frames, &mut host, pg)
            .expect("a reclaimed frame");
        let at = f.phys() as usize;
        assert_eq!(host.mem[at + 1], ((pg * 4096 + 1) % 251) as u8);
    }
    assert!(cache.resident_pages() <= 4);
    drop(cache);
    frames.reap();
    assert_eq!(frames.used(), 0);
}
