//! Tests of the eager copy at a write fault on a small writable private file
//! mapping (`AddressSpace::copy_around`): the window's copy-on-write pages are
//! copied in one go, the copies stay private to the writer, a large mapping
//! copies only the written page, and memory pressure copies less, never
//! failing the fault.

use super::frame::FrameAllocator;
use super::pagecache::{FileCache, MappedFile, PastEof};
use super::space::{AddressSpace, FaultOutcome, Placement};
use super::vma::{Backing, VmaKind};
use crate::testing::MockHost;
use crate::KResult;
use alloc::sync::Arc;
use alloc::vec::Vec;
use umbra_abi::flags::Prot;
use umbra_abi::structs::Timespec;

const A: u64 = 0x1000_0000;
const B: u64 = 0x2000_0000;
const PAGE: u64 = 4096;
const RW: Prot = Prot::READ.union(Prot::WRITE);

/// A read-only file in memory with an identity.
struct RoFile(Vec<u8>);

impl Backing for RoFile {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        let src = self.0.get(off as usize..).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
    fn size(&self) -> Option<u64> {
        Some(self.0.len() as u64)
    }
    fn write_at(&self, _off: u64, _buf: &[u8], _now: Timespec) -> KResult<usize> {
        Err(umbra_abi::Errno::EROFS)
    }
    fn key(&self) -> Option<usize> {
        Some(7)
    }
}

fn byte(i: u64) -> u8 {
    (i % 251) as u8
}

fn setup(nframes: usize, pages: u64) -> (MockHost, FrameAllocator, Arc<FileCache>) {
    let host = MockHost::new(nframes * 4096);
    let mut frames = FrameAllocator::new(nframes);
    let file = Arc::new(RoFile((0..pages * PAGE).map(byte).collect()));
    let cache = frames.file_cache(file);
    (host, frames, cache)
}

fn map_private(
    mm: &mut AddressSpace,
    frames: &mut FrameAllocator,
    cache: &Arc<FileCache>,
    at: u64,
    pages: u64,
) {
    let kind = VmaKind::File {
        backing: MappedFile::new(cache.clone(), PastEof::Sigbus),
        offset: 0,
        file_end: u64::MAX,
    };
    let got = mm.map(frames, at, pages * PAGE, RW, kind, Placement::Fixed);
    assert_eq!(got.unwrap(), at);
}

fn writable(host: &MockHost, mm: &AddressSpace, addr: u64) -> bool {
    host.host_page(mm.id, addr)
        .is_some_and(|p| p.prot.contains(Prot::WRITE))
}

/// A guest store, as the simulated host would let it through.
fn poke(host: &mut MockHost, mm: &AddressSpace, addr: u64, b: u8) {
    let page = host.host_page(mm.id, addr).expect("mapped");
    assert!(page.prot.contains(Prot::WRITE), "not writable in the host");
    host.mem[(page.phys + (addr & 0xfff)) as usize] = b;
}

#[test]
fn write_fault_copies_the_window_of_a_small_private_file_mapping() {
    let (mut host, mut frames, cache) = setup(256, 4);
    let mut m1 = AddressSpace::new(&mut host).unwrap();
    let mut m2 = AddressSpace::new(&mut host).unwrap();
    map_private(&mut m1, &mut frames, &cache, A, 4);
    map_private(&mut m2, &mut frames, &cache, B, 4);
    drop(cache);
    for (mm, at) in [(&mut m1, A), (&mut m2, B)] {
        assert_eq!(
            mm.handle_fault(&mut frames, &mut host, at),
            FaultOutcome::Mapped
        );
        mm.flush(&mut host).unwrap();
    }
    assert_eq!(frames.used(), 4, "both share the cache's frames");
    assert!(!writable(&host, &m1, A + 2 * PAGE), "copy-on-write");
    // The write fault on page 0 copies all four pages for m1 alone.
    assert_eq!(
        m1.handle_fault(&mut frames, &mut host, A + 1),
        FaultOutcome::Mapped
    );
    m1.flush(&mut host).unwrap();
    assert_eq!(frames.used(), 8);
    for p in 0..4 {
        assert!(writable(&host, &m1, A + p * PAGE), "page {p} copied");
        assert!(!writable(&host, &m2, B + p * PAGE), "m2 keeps the cache's");
        assert_ne!(
            host.host_page(m1.id, A + p * PAGE).unwrap().phys,
            host.host_page(m2.id, B + p * PAGE).unwrap().phys
        );
        assert_eq!(
            host.guest_read(m1.id, A + p * PAGE + 9),
            Some(byte(p * PAGE + 9))
        );
    }
    poke(&mut host, &m1, A + 2 * PAGE + 5, b'Z');
    assert_eq!(host.guest_read(m1.id, A + 2 * PAGE + 5), Some(b'Z'));
    assert_eq!(
        host.guest_read(m2.id, B + 2 * PAGE + 5),
        Some(byte(2 * PAGE + 5))
    );
    m1.destroy(&mut frames, &mut host);
    m2.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0, "the copies went with m1");
}

#[test]
fn write_fault_on_a_large_private_file_mapping_copies_one_page() {
    let (mut host, mut frames, cache) = setup(256, 40);
    let mut mm = AddressSpace::new(&mut host).unwrap();
    map_private(&mut mm, &mut frames, &cache, A, 40);
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A),
        FaultOutcome::Mapped
    );
    mm.flush(&mut host).unwrap();
    let before = frames.used();
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A),
        FaultOutcome::Mapped
    );
    mm.flush(&mut host).unwrap();
    assert_eq!(frames.used(), before + 1);
    assert!(writable(&host, &mm, A));
    assert!(!writable(&host, &mm, A + PAGE));
    mm.destroy(&mut frames, &mut host);
}

#[test]
fn write_fault_under_memory_pressure_copies_less_and_still_maps() {
    // 70 frames, 4 in the cache: the reserve of 64 allows two extra copies.
    let (mut host, mut frames, cache) = setup(70, 4);
    let mut mm = AddressSpace::new(&mut host).unwrap();
    map_private(&mut mm, &mut frames, &cache, A, 4);
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A),
        FaultOutcome::Mapped
    );
    mm.flush(&mut host).unwrap();
    let base = frames.used();
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A),
        FaultOutcome::Mapped
    );
    mm.flush(&mut host).unwrap();
    assert!(frames.free_count() >= 63, "the reserve is kept");
    assert!(frames.used() < base + 4, "fewer copies than pages");
    assert!(writable(&host, &mm, A));
    assert!(!writable(&host, &mm, A + 3 * PAGE));
    // The page left out still gets its copy at its own write fault.
    assert_eq!(
        mm.handle_fault(&mut frames, &mut host, A + 3 * PAGE),
        FaultOutcome::Mapped
    );
    mm.flush(&mut host).unwrap();
    assert!(writable(&host, &mm, A + 3 * PAGE));
    mm.destroy(&mut frames, &mut host);
}
