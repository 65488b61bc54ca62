//! Tests of the address space on MockHost: demand paging and fault-around as the
//! simulated host sees them, kernel access to user memory and its EFAULT cases,
//! the mapping calls (mmap, munmap, mprotect, brk, mremap), copy-on-write fork,
//! and frame accounting (every test that frees checks `used()` against a baseline).

use super::space::MMAP_MIN;
use super::*;
use crate::arch;
use crate::host::{HostMemory, MmId};
use crate::testing::{MockHost, VecBacking};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use umbra_abi::flags::{Prot, MREMAP_MAYMOVE};
use umbra_abi::signal::{SEGV_ACCERR, SEGV_MAPERR};
use umbra_abi::Errno;

const PAGE: u64 = 4096;
const RW: Prot = Prot::READ.union(Prot::WRITE);
/// A page-aligned address well inside user space, 16-page aligned so that the
/// fault-around window starts at it.
const A: u64 = 0x1000_0000;

/// An empty address space on a MockHost with `frames` frames.
struct Env {
    host: MockHost,
    frames: FrameAllocator,
    mm: AddressSpace,
}

fn env(frames: usize) -> Env {
    let mut host = MockHost::new(frames * PAGE as usize);
    let mm = AddressSpace::new(&mut host).unwrap();
    Env {
        host,
        frames: FrameAllocator::new(frames),
        mm,
    }
}

impl Env {
    fn map(&mut self, at: u64, len: u64, prot: Prot) {
        let got = self
            .mm
            .map(
                &mut self.frames,
                at,
                len,
                prot,
                VmaKind::Anon,
                Placement::Fixed,
            )
            .unwrap();
        assert_eq!(got, at);
    }
    fn fault(&mut self, addr: u64) -> FaultOutcome {
        self.mm.handle_fault(&mut self.frames, &mut self.host, addr)
    }
    fn flush(&mut self) {
        self.mm.flush(&mut self.host).unwrap();
    }
    fn read(&mut self, va: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; len];
        self.mm
            .read(&mut self.frames, &mut self.host, va, &mut buf)
            .map(|()| buf)
    }
    fn write(&mut self, va: u64, data: &[u8]) -> Result<(), Errno> {
        self.mm.write(&mut self.frames, &mut self.host, va, data)
    }
    fn cstr(&mut self, va: u64, max: usize) -> Result<Vec<u8>, Errno> {
        self.mm.read_cstr(&mut self.frames, &mut self.host, va, max)
    }
    fn host_pages(&self) -> Vec<u64> {
        self.host.spaces[&self.mm.id].keys().copied().collect()
    }
    fn user(&mut self) -> UserAccess<'_, MockHost> {
        UserAccess {
            mm: &mut self.mm,
            frames: &mut self.frames,
            host: &mut self.host,
        }
    }
}

fn pages(from: u64, n: u64) -> Vec<u64> {
    (0..n).map(|i| from + i * PAGE).collect()
}

// ---- demand paging ----

#[test]
fn anon_fault_maps_page_with_vma_prot_after_flush() {
    let mut e = env(256);
    e.map(A, 4 * PAGE, RW);
    e.map(A + 0x10_0000, PAGE, Prot::READ);
    assert_eq!(e.frames.used(), 0, "mmap alone allocates nothing");

    assert_eq!(e.fault(A + PAGE + 0x123), FaultOutcome::Mapped);
    assert!(e.host_pages().is_empty(), "host changes wait for the flush");
    e.flush();
    assert_eq!(
        e.host_pages(),
        vec![A + PAGE],
        "a first fault maps one page"
    );
    let page = e.host.host_page(e.mm.id, A + PAGE).unwrap();
    assert_eq!(page.prot, RW);
    assert!(page.phys.is_multiple_of(PAGE));
    assert_eq!(e.frames.used(), 1);
    assert_eq!(e.mm.resident_pages(), 1);
    assert_eq!(e.host.guest_read(e.mm.id, A + PAGE + 7), Some(0));

    assert_eq!(e.fault(A + 0x10_0000), FaultOutcome::Mapped);
    e.flush();
    assert_eq!(
        e.host.host_page(e.mm.id, A + 0x10_0000).unwrap().prot,
        Prot::READ
    );
}

#[test]
fn fault_around_populates_ahead_on_sequential_access() {
    let mut e = env(256);
    e.map(A, 32 * PAGE, RW);
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    assert_eq!(e.host_pages(), vec![A]);
    // The page after a present one: sequential, the rest of the window follows.
    assert_eq!(e.fault(A + PAGE), FaultOutcome::Mapped);
    e.flush();
    assert_eq!(e.host_pages(), pages(A, 16), "the aligned 16-page window");
    assert_eq!(e.frames.used(), 16);
    for p in pages(A, 16) {
        assert_eq!(e.host.host_page(e.mm.id, p).unwrap().prot, RW);
    }
}

#[test]
fn fault_around_maps_present_neighbours_only_for_random_anon_access() {
    let mut e = env(256);
    e.map(A, 16 * PAGE, RW);
    // Populated by the kernel, not yet in the host.
    e.write(A + 5 * PAGE, b"x").unwrap();
    e.write(A + 9 * PAGE, b"y").unwrap();
    assert_eq!(e.frames.used(), 2);
    assert_eq!(e.fault(A + 2 * PAGE), FaultOutcome::Mapped);
    e.flush();
    assert_eq!(
        e.host_pages(),
        vec![A + 2 * PAGE, A + 5 * PAGE, A + 9 * PAGE],
        "present neighbours are mapped, missing ones not populated"
    );
    assert_eq!(e.frames.used(), 3);
    assert_eq!(e.host.guest_read(e.mm.id, A + 9 * PAGE), Some(b'y'));
}

fn file_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 + 1).collect()
}

#[test]
fn fault_around_on_file_mapping_fills_window_with_file_contents() {
    let mut e = env(256);
    let data = file_bytes(5 * PAGE as usize + 100);
    let kind = VmaKind::File {
        backing: Arc::new(VecBacking(data.clone())),
        offset: 0,
        file_end: A + data.len() as u64,
    };
    e.mm.map(
        &mut e.frames,
        A,
        8 * PAGE,
        Prot::READ,
        kind,
        Placement::Fixed,
    )
    .unwrap();
    assert_eq!(e.fault(A + 2 * PAGE), FaultOutcome::Mapped);
    e.flush();
    assert_eq!(e.host_pages(), pages(A, 8), "whole VMA inside the window");
    assert_eq!(e.frames.used(), 8);
    let id = e.mm.id;
    for off in [0u64, 1, 4095, 4096, 3 * PAGE + 17, 5 * PAGE + 99] {
        assert_eq!(
            e.host.guest_read(id, A + off),
            Some(data[off as usize]),
            "offset {off:#x}"
        );
    }
    for off in [5 * PAGE + 100, 5 * PAGE + 4095, 6 * PAGE, 8 * PAGE - 1] {
        assert_eq!(e.host.guest_read(id, A + off), Some(0), "past file_end");
    }
    assert_eq!(e.host.host_page(id, A).unwrap().prot, Prot::READ);
}

#[test]
fn file_mapping_with_offset_reads_from_that_offset() {
    let mut e = env(256);
    let data = file_bytes(4 * PAGE as usize);
    let kind = VmaKind::File {
        backing: Arc::new(VecBacking(data.clone())),
        offset: 2 * PAGE,
        file_end: u64::MAX,
    };
    e.mm.map(
        &mut e.frames,
        A,
        4 * PAGE,
        Prot::READ,
        kind,
        Placement::Fixed,
    )
    .unwrap();
    let got = e.read(A + PAGE - 2, 4).unwrap();
    assert_eq!(got, data[3 * PAGE as usize - 2..3 * PAGE as usize + 2]);
    // Beyond the end of the file: zeroes.
    assert_eq!(e.read(A + 2 * PAGE, 2).unwrap(), vec![0, 0]);
}

#[test]
fn fault_outside_any_vma_is_segv_maperr() {
    let mut e = env(64);
    e.map(A, PAGE, RW);
    assert_eq!(e.fault(A + PAGE), FaultOutcome::Segv { code: SEGV_MAPERR });
    assert_eq!(e.fault(0), FaultOutcome::Segv { code: SEGV_MAPERR });
    assert_eq!(e.fault(u64::MAX), FaultOutcome::Segv { code: SEGV_MAPERR });
    assert_eq!(e.frames.used(), 0);
}

#[test]
fn fault_on_prot_none_is_segv_accerr() {
    let mut e = env(64);
    e.map(A, PAGE, Prot::empty());
    assert_eq!(e.fault(A), FaultOutcome::Segv { code: SEGV_ACCERR });
    assert_eq!(e.frames.used(), 0);
}

#[test]
fn write_fault_on_mapped_read_only_page_is_segv_accerr() {
    let mut e = env(64);
    e.map(A, PAGE, Prot::READ);
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    // The host has it read-only; a second fault there is a write.
    assert_eq!(e.fault(A + 8), FaultOutcome::Segv { code: SEGV_ACCERR });
    assert_eq!(e.frames.used(), 1);
}

#[test]
fn out_of_frames_is_out_of_memory() {
    let mut e = env(2);
    e.map(A, 8 * PAGE, RW);
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    assert_eq!(e.fault(A + 4 * PAGE), FaultOutcome::Mapped);
    assert_eq!(e.frames.free_count(), 0);
    assert_eq!(e.fault(A + 6 * PAGE), FaultOutcome::OutOfMemory);
    assert_eq!(e.write(A + 7 * PAGE, b"z"), Err(Errno::ENOMEM));
    // The present pages still work.
    e.write(A + 4 * PAGE, b"ok").unwrap();
    assert_eq!(e.read(A + 4 * PAGE, 2).unwrap(), b"ok");
}

// ---- kernel access to user memory ----

#[test]
fn read_write_round_trip_across_page_boundary() {
    let mut e = env(64);
    e.map(A, 3 * PAGE, RW);
    let data: Vec<u8> = (0..6000u32).map(|i| (i * 7) as u8).collect();
    let at = A + PAGE - 1000;
    e.write(at, &data).unwrap();
    assert_eq!(e.read(at, data.len()).unwrap(), data);
    assert_eq!(e.frames.used(), 3);
    // The bytes are where the guest will see them once the pages are mapped.
    assert_eq!(e.fault(A + PAGE), FaultOutcome::Mapped);
    e.flush();
    assert_eq!(e.host.guest_read(e.mm.id, A + PAGE), Some(data[1000]));
    assert_eq!(e.host.guest_read(e.mm.id, at), Some(data[0]));
}

#[test]
fn zero_length_access_is_ok_anywhere_below_user_end() {
    let mut e = env(16);
    assert_eq!(e.read(A, 0).unwrap(), Vec::<u8>::new());
    e.write(A, &[]).unwrap();
}

#[test]
fn efault_on_unmapped() {
    let mut e = env(16);
    assert_eq!(e.read(A, 1), Err(Errno::EFAULT));
    assert_eq!(e.write(A, b"x"), Err(Errno::EFAULT));
    assert_eq!(e.read(0, 8), Err(Errno::EFAULT));
    assert_eq!(e.frames.used(), 0);
}

#[test]
fn efault_on_prot_none() {
    let mut e = env(16);
    e.map(A, PAGE, Prot::empty());
    assert_eq!(e.read(A, 1), Err(Errno::EFAULT));
    assert_eq!(e.write(A, b"x"), Err(Errno::EFAULT));
    assert_eq!(e.frames.used(), 0, "no frame for an inaccessible page");
}

#[test]
fn efault_on_write_to_read_only() {
    let mut e = env(16);
    e.map(A, PAGE, Prot::READ);
    assert_eq!(e.write(A, b"x"), Err(Errno::EFAULT));
    assert_eq!(e.read(A, 4).unwrap(), vec![0; 4]);
}

#[test]
fn efault_when_range_runs_into_a_hole_or_read_only_page() {
    let mut e = env(16);
    e.map(A, PAGE, RW);
    e.map(A + 2 * PAGE, PAGE, Prot::READ);
    assert_eq!(e.read(A + PAGE - 4, 8), Err(Errno::EFAULT));
    assert_eq!(e.write(A + PAGE - 4, &[1; 8]), Err(Errno::EFAULT));
    e.map(A + PAGE, PAGE, RW);
    assert_eq!(e.write(A + 2 * PAGE - 4, &[1; 8]), Err(Errno::EFAULT));
    // The writable head may have been written (as a partial copy_to_user on
    // Linux); the read-only page was not.
    assert_eq!(e.read(A + 2 * PAGE, 4).unwrap(), vec![0; 4]);
}

#[test]
fn efault_on_ranges_overflowing_or_above_user_end() {
    let mut e = env(16);
    // The top user page, mapped, so only the range checks can refuse.
    let top = arch::USER_END - PAGE;
    e.map(top, PAGE, RW);
    e.write(top, b"top").unwrap();
    assert_eq!(e.read(arch::USER_END - 4, 4).unwrap(), vec![0; 4]);
    assert_eq!(e.read(arch::USER_END - 4, 5), Err(Errno::EFAULT));
    assert_eq!(e.write(arch::USER_END - 1, b"ab"), Err(Errno::EFAULT));
    assert_eq!(e.read(arch::USER_END, 1), Err(Errno::EFAULT));
    assert_eq!(e.read(u64::MAX - 3, 8), Err(Errno::EFAULT));
    assert_eq!(e.write(u64::MAX, b"x"), Err(Errno::EFAULT));
    assert_eq!(e.cstr(arch::USER_END, 16), Err(Errno::EFAULT));
    assert_eq!(e.cstr(u64::MAX, 16), Err(Errno::EFAULT));
}

#[test]
fn read_cstr_finds_nul_across_pages_and_limits_length() {
    let mut e = env(16);
    e.map(A, 2 * PAGE, RW);
    let at = A + PAGE - 5;
    e.write(at, b"hello, world\0junk").unwrap();
    assert_eq!(e.cstr(at, 64).unwrap(), b"hello, world");
    assert_eq!(e.cstr(at, 12).unwrap(), b"hello, world", "exactly max");
    assert_eq!(e.cstr(at, 11), Err(Errno::ENAMETOOLONG));
    assert_eq!(e.cstr(at, 0), Err(Errno::ENAMETOOLONG));
    assert_eq!(e.cstr(at + 12, 0).unwrap(), b"", "empty string");
}

#[test]
fn read_cstr_without_nul_before_a_hole_is_efault() {
    let mut e = env(16);
    e.map(A, PAGE, RW);
    e.write(A + PAGE - 3, b"abc").unwrap();
    assert_eq!(e.cstr(A + PAGE - 3, 4096), Err(Errno::EFAULT));
    // With a smaller limit the length check wins over the hole.
    assert_eq!(e.cstr(A + PAGE - 3, 2), Err(Errno::ENAMETOOLONG));
}

#[test]
fn read_cstr_of_a_long_unterminated_run_is_enametoolong() {
    let mut e = env(16);
    e.map(A, 4 * PAGE, RW);
    e.write(A, &[b'a'; 3 * PAGE as usize]).unwrap();
    assert_eq!(e.cstr(A, 4096), Err(Errno::ENAMETOOLONG));
    assert_eq!(
        e.cstr(A, 3 * PAGE as usize).unwrap().len(),
        3 * PAGE as usize
    );
}

#[test]
fn typed_user_pointers_read_and_write_values() {
    let mut e = env(16);
    e.map(A, 2 * PAGE, RW);
    let at = A + PAGE - 4; // straddles the boundary
    let mut u = e.user();
    u.write(UserOutPtr::<u64>::new(at), &0x1122_3344_5566_7788)
        .unwrap();
    assert_eq!(
        u.read(UserInPtr::<u64>::new(at)).unwrap(),
        0x1122_3344_5566_7788
    );
    assert_eq!(
        u.read_vec(at, 8).unwrap(),
        0x1122_3344_5566_7788u64.to_ne_bytes()
    );
    assert_eq!(
        u.read(UserInPtr::<u32>::new(A + 2 * PAGE - 2)),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        u.write(UserOutPtr::<u32>::new(arch::USER_END - 2), &1),
        Err(Errno::EFAULT)
    );
    assert_eq!(u.read(UserInPtr::<u64>::new(0)), Err(Errno::EFAULT));
    assert!(UserInPtr::<u64>::new(0).is_null());
}

#[test]
fn read_cstr_array_reads_argv_and_bounds_it() {
    let mut e = env(16);
    e.map(A, PAGE, RW);
    e.write(A + 0x100, b"ls\0-l\0").unwrap();
    // Guest pointers are the host's width.
    let ptrs: Vec<u8> = [A + 0x100, A + 0x103, 0]
        .iter()
        .flat_map(|p| (*p as usize).to_ne_bytes())
        .collect();
    e.write(A, &ptrs).unwrap();
    let mut u = e.user();
    assert_eq!(
        u.read_cstr_array(A, 16, 4096).unwrap(),
        vec![b"ls".to_vec(), b"-l".to_vec()]
    );
    assert_eq!(u.read_cstr_array(0, 16, 4096).unwrap().len(), 0);
    assert_eq!(u.read_cstr_array(A, 1, 4096), Err(Errno::E2BIG));
    assert_eq!(u.read_cstr_array(A, 16, 4), Err(Errno::E2BIG));
    assert_eq!(u.read_cstr_array(A + PAGE, 16, 4096), Err(Errno::EFAULT));
}

// ---- munmap, mprotect, mmap, brk, mremap ----

#[test]
fn munmap_frees_frames_and_unmaps_in_host() {
    let mut e = env(256);
    let base = e.frames.used();
    e.map(A, 4 * PAGE, RW);
    e.write(A, &[1; 4 * PAGE as usize]).unwrap();
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    assert_eq!(e.host_pages(), pages(A, 4));
    assert_eq!(e.frames.used(), base + 4);

    // A hole in the middle splits the VMA.
    e.mm.munmap(&mut e.frames, A + PAGE, PAGE).unwrap();
    assert_eq!(e.mm.vmas.len(), 2);
    e.flush();
    assert_eq!(e.host_pages(), vec![A, A + 2 * PAGE, A + 3 * PAGE]);
    assert_eq!(e.frames.used(), base + 3);
    assert_eq!(e.read(A + PAGE, 1), Err(Errno::EFAULT));

    e.mm.munmap(&mut e.frames, A, 4 * PAGE).unwrap();
    e.flush();
    assert!(e.host_pages().is_empty());
    assert!(e.mm.vmas.is_empty());
    assert_eq!(e.frames.used(), base);
    assert_eq!(e.mm.resident_pages(), 0);
}

#[test]
fn munmap_checks_its_arguments() {
    let mut e = env(16);
    assert_eq!(e.mm.munmap(&mut e.frames, A + 1, PAGE), Err(Errno::EINVAL));
    assert_eq!(e.mm.munmap(&mut e.frames, A, 0), Err(Errno::EINVAL));
    assert_eq!(
        e.mm.munmap(&mut e.frames, arch::USER_END - PAGE, 2 * PAGE),
        Err(Errno::EINVAL)
    );
    assert_eq!(e.mm.munmap(&mut e.frames, A, u64::MAX), Err(Errno::EINVAL));
    // Unmapping nothing is fine, as on Linux.
    assert_eq!(e.mm.munmap(&mut e.frames, A, PAGE), Ok(()));
}

#[test]
fn mprotect_splits_vmas_and_reprotects_host_pages() {
    let mut e = env(256);
    e.map(A, 3 * PAGE, RW);
    e.write(A, &[0; 3 * PAGE as usize]).unwrap();
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    e.mm.mprotect(A + PAGE, PAGE, Prot::READ).unwrap();
    assert_eq!(e.mm.vmas.len(), 3);
    assert_eq!(e.mm.vmas.find(A + PAGE).unwrap().prot, Prot::READ);
    assert_eq!(e.mm.vmas.find(A).unwrap().prot, RW);
    assert_eq!(e.mm.vmas.find(A + 2 * PAGE).unwrap().prot, RW);
    e.flush();
    let id = e.mm.id;
    assert_eq!(e.host.host_page(id, A + PAGE).unwrap().prot, Prot::READ);
    assert_eq!(e.host.host_page(id, A).unwrap().prot, RW);
    assert_eq!(e.write(A + PAGE, b"x"), Err(Errno::EFAULT));
    e.write(A + 2 * PAGE, b"x").unwrap();
    // Back to PROT_NONE: the kernel cannot read it either.
    e.mm.mprotect(A, 3 * PAGE, Prot::empty()).unwrap();
    assert_eq!(e.read(A, 1), Err(Errno::EFAULT));
    e.flush();
    assert_eq!(e.host.host_page(id, A).unwrap().prot, Prot::empty());
}

#[test]
fn mprotect_to_the_same_protection_sends_no_batch() {
    let mut e = env(256);
    e.map(A, 3 * PAGE, RW);
    e.write(A, &[0; 3 * PAGE as usize]).unwrap();
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    e.mm.mprotect(A, 3 * PAGE, RW).unwrap();
    assert!(!e.mm.has_pending(), "nothing changed, nothing to send");
    // Half of it changes: only that half goes to the host.
    e.mm.mprotect(A + PAGE, PAGE, Prot::READ).unwrap();
    assert!(e.mm.has_pending());
    e.flush();
    e.mm.mprotect(A, 3 * PAGE, Prot::READ).unwrap();
    e.flush();
    let id = e.mm.id;
    for p in pages(A, 3) {
        assert_eq!(e.host.host_page(id, p).unwrap().prot, Prot::READ);
    }
    e.mm.mprotect(A, 3 * PAGE, Prot::READ).unwrap();
    assert!(!e.mm.has_pending());
    // A read-only mapping made writable again gets its pages back.
    e.mm.mprotect(A, 3 * PAGE, RW).unwrap();
    e.flush();
    e.write(A + 2 * PAGE, b"x").unwrap();
    assert_eq!(e.host.host_page(id, A + 2 * PAGE).unwrap().prot, RW);
}

#[test]
fn mprotect_over_a_hole_is_enomem() {
    let mut e = env(16);
    e.map(A, PAGE, RW);
    e.map(A + 2 * PAGE, PAGE, RW);
    assert_eq!(e.mm.mprotect(A, 3 * PAGE, Prot::READ), Err(Errno::ENOMEM));
    assert_eq!(e.mm.vmas.find(A).unwrap().prot, RW, "nothing changed");
    assert_eq!(e.mm.mprotect(A + 1, PAGE, Prot::READ), Err(Errno::EINVAL));
    assert_eq!(e.mm.mprotect(A, 0, Prot::READ), Ok(()));
}

#[test]
fn mmap_hint_is_used_when_free_and_moved_when_not() {
    let mut e = env(16);
    let a =
        e.mm.map(&mut e.frames, A, PAGE, RW, VmaKind::Anon, Placement::Hint)
            .unwrap();
    assert_eq!(a, A);
    let b =
        e.mm.map(
            &mut e.frames,
            A,
            2 * PAGE,
            RW,
            VmaKind::Anon,
            Placement::Hint,
        )
        .unwrap();
    assert_ne!(b, A);
    assert!(b.is_multiple_of(PAGE) && b >= MMAP_MIN && b + 2 * PAGE <= arch::MMAP_BASE);
    assert!(!(b < A + PAGE && A < b + 2 * PAGE), "no overlap");
    // A hint below mmap_min_addr is ignored, not refused.
    let c =
        e.mm.map(
            &mut e.frames,
            0x1000,
            10,
            Prot::READ,
            VmaKind::Anon,
            Placement::Hint,
        )
        .unwrap();
    assert!(c >= MMAP_MIN);
    assert_eq!(
        e.mm.vmas.find(c).unwrap().end,
        c + PAGE,
        "length rounded up"
    );
    assert_eq!(
        e.mm.map(&mut e.frames, A, 0, RW, VmaKind::Anon, Placement::Hint),
        Err(Errno::EINVAL)
    );
}

#[test]
fn mmap_fixed_replaces_and_frees_old_pages() {
    let mut e = env(64);
    e.map(A, 2 * PAGE, RW);
    e.write(A, b"old").unwrap();
    e.write(A + PAGE, b"keep").unwrap();
    assert_eq!(e.frames.used(), 2);
    let r =
        e.mm.map(
            &mut e.frames,
            A,
            PAGE,
            Prot::READ,
            VmaKind::Anon,
            Placement::Fixed,
        )
        .unwrap();
    assert_eq!(r, A);
    assert_eq!(e.frames.used(), 1);
    assert_eq!(e.read(A, 3).unwrap(), vec![0; 3], "fresh zero page");
    assert_eq!(e.read(A + PAGE, 4).unwrap(), b"keep");
    assert_eq!(e.mm.vmas.find(A).unwrap().prot, Prot::READ);
}

#[test]
fn mmap_fixed_noreplace_and_min_addr() {
    let mut e = env(16);
    e.map(A, 2 * PAGE, RW);
    let m = |e: &mut Env, at: u64, p: Placement| {
        e.mm.map(&mut e.frames, at, PAGE, RW, VmaKind::Anon, p)
    };
    assert_eq!(
        m(&mut e, A + PAGE, Placement::FixedNoReplace),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        m(&mut e, A + 2 * PAGE, Placement::FixedNoReplace),
        Ok(A + 2 * PAGE)
    );
    assert_eq!(
        m(&mut e, MMAP_MIN - PAGE, Placement::Fixed),
        Err(Errno::EPERM)
    );
    assert_eq!(m(&mut e, 0, Placement::FixedNoReplace), Err(Errno::EPERM));
    assert_eq!(m(&mut e, MMAP_MIN, Placement::Fixed), Ok(MMAP_MIN));
    assert_eq!(m(&mut e, A + 1, Placement::Fixed), Err(Errno::EINVAL));
    assert_eq!(
        m(&mut e, arch::USER_END, Placement::Fixed),
        Err(Errno::EINVAL)
    );
}

#[test]
fn brk_grows_and_shrinks() {
    let mut e = env(64);
    let start = 0x60_0000;
    e.mm.brk_start = start;
    e.mm.brk = start;
    assert_eq!(e.mm.set_brk(&mut e.frames, start + 10_000), start + 10_000);
    assert_eq!(e.mm.brk, start + 10_000);
    let heap = e.mm.vmas.find(start).unwrap();
    assert_eq!((heap.start, heap.end), (start, start + 3 * PAGE));
    assert_eq!(heap.name, VmaName::Heap);
    e.write(start, &[9; 10_000]).unwrap();
    assert_eq!(e.frames.used(), 3);
    // Growing again extends the same VMA.
    assert_eq!(
        e.mm.set_brk(&mut e.frames, start + 5 * PAGE),
        start + 5 * PAGE
    );
    assert_eq!(e.mm.vmas.len(), 1);
    assert_eq!(e.read(start + 9_999, 1).unwrap(), vec![9]);
    // Shrinking frees the pages above the new break.
    assert_eq!(e.mm.set_brk(&mut e.frames, start + 100), start + 100);
    assert_eq!(e.frames.used(), 1);
    assert_eq!(e.read(start + PAGE, 1), Err(Errno::EFAULT));
    assert_eq!(e.read(start + 99, 1).unwrap(), vec![9]);
    // Below the start: refused, the break stays.
    assert_eq!(e.mm.set_brk(&mut e.frames, start - 1), start + 100);
    // Into another mapping: refused.
    e.map(start + 8 * PAGE, PAGE, RW);
    assert_eq!(e.mm.set_brk(&mut e.frames, start + 9 * PAGE), start + 100);
    assert_eq!(e.mm.set_brk(&mut e.frames, start), start);
    assert_eq!(e.frames.used(), 0);
}

#[test]
fn mremap_shrink_keeps_head_and_frees_tail() {
    let mut e = env(64);
    e.map(A, 4 * PAGE, RW);
    e.write(A, &[7; 4 * PAGE as usize]).unwrap();
    assert_eq!(e.mm.mremap(&mut e.frames, A, 4 * PAGE, PAGE, 0, 0), Ok(A));
    assert_eq!(e.frames.used(), 1);
    assert_eq!(e.read(A + PAGE - 1, 1).unwrap(), vec![7]);
    assert_eq!(e.read(A + PAGE, 1), Err(Errno::EFAULT));
}

#[test]
fn mremap_grows_in_place_when_free() {
    let mut e = env(64);
    e.map(A, PAGE, RW);
    e.write(A, b"grow").unwrap();
    assert_eq!(e.mm.mremap(&mut e.frames, A, PAGE, 3 * PAGE, 0, 0), Ok(A));
    assert_eq!(e.read(A, 4).unwrap(), b"grow");
    e.write(A + 3 * PAGE - 1, b"z").unwrap();
    assert!(e.mm.vmas.covers(A, A + 3 * PAGE));
}

/// glibc's realloc grows a big block with mremap again and again: each growth
/// in place must leave one VMA, or the next mremap of the whole block fails
/// (it did, with EFAULT, and realloc fell back to copying).
#[test]
fn mremap_grows_in_place_again_and_again() {
    let mut e = env(64);
    e.map(A, PAGE, RW);
    e.write(A, b"x").unwrap();
    for n in 2..=8u64 {
        assert_eq!(
            e.mm.mremap(
                &mut e.frames,
                A,
                (n - 1) * PAGE,
                n * PAGE,
                MREMAP_MAYMOVE,
                0
            ),
            Ok(A),
            "growth to {n} pages"
        );
    }
    assert_eq!(e.mm.vmas.len(), 1);
    assert_eq!(e.read(A, 1).unwrap(), b"x");
}

/// Adjacent mappings Linux would have merged count as one for mremap; ones
/// with different protections do not.
#[test]
fn mremap_spans_adjacent_equivalent_mappings() {
    let mut e = env(64);
    e.map(A, PAGE, RW);
    e.map(A + PAGE, PAGE, RW);
    e.write(A + PAGE, b"y").unwrap();
    assert_eq!(
        e.mm.mremap(&mut e.frames, A, 2 * PAGE, 3 * PAGE, 0, 0),
        Ok(A)
    );
    assert_eq!(e.read(A + PAGE, 1).unwrap(), b"y");
    e.map(A + 3 * PAGE, PAGE, Prot::READ);
    assert_eq!(
        e.mm.mremap(&mut e.frames, A, 4 * PAGE, 5 * PAGE, MREMAP_MAYMOVE, 0),
        Err(Errno::EFAULT)
    );
}

#[test]
fn mremap_moves_with_contents_when_blocked() {
    let mut e = env(64);
    e.map(A, 2 * PAGE, RW);
    e.map(A + 2 * PAGE, PAGE, Prot::READ);
    e.write(A, b"first").unwrap();
    e.write(A + PAGE, b"second").unwrap();
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    let used = e.frames.used();
    assert_eq!(
        e.mm.mremap(&mut e.frames, A, 2 * PAGE, 4 * PAGE, 0, 0),
        Err(Errno::ENOMEM),
        "blocked and may not move"
    );
    let new =
        e.mm.mremap(&mut e.frames, A, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE, 0)
            .unwrap();
    assert_ne!(new, A);
    assert_eq!(e.frames.used(), used, "pages moved, not copied");
    assert_eq!(e.read(new, 5).unwrap(), b"first");
    assert_eq!(e.read(new + PAGE, 6).unwrap(), b"second");
    assert_eq!(e.read(new + 3 * PAGE, 1).unwrap(), vec![0]);
    assert_eq!(e.read(A, 1), Err(Errno::EFAULT));
    e.flush();
    assert_eq!(
        e.host_pages(),
        Vec::<u64>::new(),
        "the old host pages are gone, the new ones wait for a fault"
    );
    assert_eq!(e.fault(new + PAGE), FaultOutcome::Mapped);
    e.flush();
    assert_eq!(e.host.guest_read(e.mm.id, new + PAGE), Some(b's'));
}

#[test]
fn mremap_of_unmapped_or_partly_mapped_range_is_efault() {
    let mut e = env(16);
    e.map(A, PAGE, RW);
    assert_eq!(
        e.mm.mremap(
            &mut e.frames,
            A + 4 * PAGE,
            PAGE,
            2 * PAGE,
            MREMAP_MAYMOVE,
            0
        ),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        e.mm.mremap(&mut e.frames, A, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE, 0),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        e.mm.mremap(&mut e.frames, A + 1, PAGE, 2 * PAGE, 0, 0),
        Err(Errno::EINVAL)
    );
}

// ---- fork, copy-on-write, destroy ----

fn frame_at(host: &MockHost, mm: MmId, va: u64) -> Frame {
    Frame((host.host_page(mm, va).unwrap().phys / PAGE) as u32)
}

#[test]
fn fork_cow_shares_frames_and_copies_on_child_write_fault() {
    let mut e = env(256);
    e.map(A, 2 * PAGE, RW);
    e.write(A, b"parent data").unwrap();
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    let used = e.frames.used();
    let f = frame_at(&e.host, e.mm.id, A);
    assert_eq!(e.frames.refcount(f), 1);

    let cid = e.host.mm_create().unwrap();
    let mut child = e.mm.fork_cow(&mut e.frames, cid);
    assert_eq!(e.frames.used(), used, "fork copies no page");
    assert_eq!(e.frames.refcount(f), 2);
    e.flush();
    let pid = e.mm.id;
    assert_eq!(
        e.host.host_page(pid, A).unwrap().prot,
        Prot::READ,
        "the parent's writable page is now read-only in its host"
    );
    assert!(e.host.spaces[&cid].is_empty(), "the child starts unmapped");

    // The child reads: it gets the shared frame, read-only.
    assert_eq!(
        child.handle_fault(&mut e.frames, &mut e.host, A),
        FaultOutcome::Mapped
    );
    child.flush(&mut e.host).unwrap();
    let cp = e.host.host_page(cid, A).unwrap();
    assert_eq!((cp.phys, cp.prot), (f.phys(), Prot::READ));
    assert_eq!(e.host.guest_read(cid, A), Some(b'p'));

    // The child writes: a fault on a present read-only COW page copies it.
    assert_eq!(
        child.handle_fault(&mut e.frames, &mut e.host, A + 3),
        FaultOutcome::Mapped
    );
    child.flush(&mut e.host).unwrap();
    let cp = e.host.host_page(cid, A).unwrap();
    assert_ne!(cp.phys, f.phys(), "a private copy");
    assert_eq!(cp.prot, RW);
    assert_eq!(e.frames.refcount(f), 1);
    assert_eq!(e.frames.used(), used + 1);
    // What the child's CPU writes lands in its copy only.
    e.host.mem[cp.phys as usize..cp.phys as usize + 6].copy_from_slice(b"CHILD!");
    assert_eq!(e.host.guest_read(cid, A + 11), Some(0));
    assert_eq!(e.read(A, 11).unwrap(), b"parent data");
    assert_eq!(e.host.guest_read(pid, A), Some(b'p'));
    let mut buf = [0u8; 11];
    child.read(&mut e.frames, &mut e.host, A, &mut buf).unwrap();
    assert_eq!(&buf, b"CHILD! data");

    // The parent writes too: its frame is no longer shared, so no copy.
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    let pp = e.host.host_page(pid, A).unwrap();
    assert_eq!((pp.phys, pp.prot), (f.phys(), RW));
    assert_eq!(e.frames.used(), used + 1);

    child.destroy(&mut e.frames, &mut e.host);
    assert!(!e.host.spaces.contains_key(&cid));
    assert_eq!(e.frames.used(), used);
}

#[test]
fn fork_cow_kernel_write_in_child_leaves_parent_alone() {
    let mut e = env(64);
    e.map(A, PAGE, RW);
    e.map(A + PAGE, PAGE, Prot::READ);
    e.write(A, b"shared").unwrap();
    e.read(A + PAGE, 1).unwrap();
    let cid = e.host.mm_create().unwrap();
    let mut child = e.mm.fork_cow(&mut e.frames, cid);
    assert_eq!(e.frames.used(), 2);
    child
        .write(&mut e.frames, &mut e.host, A, b"SHARED")
        .unwrap();
    assert_eq!(e.frames.used(), 3);
    assert_eq!(e.read(A, 6).unwrap(), b"shared");
    // Write to a read-only page of the child is still EFAULT.
    assert_eq!(
        child.write(&mut e.frames, &mut e.host, A + PAGE, b"x"),
        Err(Errno::EFAULT)
    );
    // And a guest write fault there is SIGSEGV, not a COW break.
    assert_eq!(
        child.handle_fault(&mut e.frames, &mut e.host, A + PAGE),
        FaultOutcome::Mapped
    );
    assert_eq!(
        child.handle_fault(&mut e.frames, &mut e.host, A + PAGE),
        FaultOutcome::Segv { code: SEGV_ACCERR }
    );
    // The parent writes after the child copied: its page is now its own.
    e.write(A, b"Parent").unwrap();
    let mut buf = [0u8; 6];
    child.read(&mut e.frames, &mut e.host, A, &mut buf).unwrap();
    assert_eq!(&buf, b"SHARED");
    child.destroy(&mut e.frames, &mut e.host);
    assert_eq!(e.frames.used(), 2);
}

#[test]
fn destroy_returns_every_frame() {
    let mut e = env(256);
    e.map(A, 20 * PAGE, RW);
    e.write(A, &[3; 20 * PAGE as usize]).unwrap();
    assert_eq!(e.fault(A + PAGE), FaultOutcome::Mapped);
    e.flush();
    let cid = e.host.mm_create().unwrap();
    let mut child = e.mm.fork_cow(&mut e.frames, cid);
    child.write(&mut e.frames, &mut e.host, A, b"c").unwrap();
    assert_eq!(e.frames.used(), 21);
    let Env {
        mut host,
        mut frames,
        mm,
    } = e;
    let pid = mm.id;
    mm.destroy(&mut frames, &mut host);
    assert!(!host.spaces.contains_key(&pid));
    assert_eq!(
        frames.used(),
        20,
        "the child keeps its copy and the 19 frames it shared"
    );
    child.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0);
    assert!(host.spaces.is_empty());
}

#[test]
fn fork_then_mprotect_writable_keeps_pages_private() {
    // A private read-only page shared by fork must still be copied when one
    // side later makes it writable and writes (MAP_PRIVATE is copy-on-write
    // whatever its protection at fork time).
    let mut e = env(64);
    e.map(A, PAGE, RW);
    e.write(A, b"original").unwrap();
    e.mm.mprotect(A, PAGE, Prot::READ).unwrap();
    let cid = e.host.mm_create().unwrap();
    let mut child = e.mm.fork_cow(&mut e.frames, cid);
    child.mprotect(A, PAGE, RW).unwrap();
    // The child's CPU writes: fault in, then store through the host mapping.
    assert_eq!(
        child.handle_fault(&mut e.frames, &mut e.host, A),
        FaultOutcome::Mapped
    );
    child.flush(&mut e.host).unwrap();
    if e.host.host_page(cid, A).unwrap().prot.contains(Prot::WRITE) {
        let phys = e.host.host_page(cid, A).unwrap().phys as usize;
        e.host.mem[phys..phys + 5].copy_from_slice(b"CHILD");
    } else {
        assert_eq!(
            child.handle_fault(&mut e.frames, &mut e.host, A),
            FaultOutcome::Mapped
        );
        child.flush(&mut e.host).unwrap();
        let phys = e.host.host_page(cid, A).unwrap().phys as usize;
        e.host.mem[phys..phys + 5].copy_from_slice(b"CHILD");
    }
    assert_eq!(e.read(A, 8).unwrap(), b"original", "parent unchanged");
    // The same through a kernel write (e.g. read(2) into the page).
    child
        .write(&mut e.frames, &mut e.host, A, b"kernel")
        .unwrap();
    assert_eq!(e.read(A, 8).unwrap(), b"original", "parent unchanged");
    child.destroy(&mut e.frames, &mut e.host);
}

// ---- shared memory, VMA merging and the map count ----

impl Env {
    /// A guest access to `va`: a fault if the host does not map it.
    fn touch(&mut self, va: u64) {
        if self.host.host_page(self.mm.id, va).is_none() {
            assert_eq!(self.fault(va), FaultOutcome::Mapped);
            self.flush();
        }
        assert!(self.host.host_page(self.mm.id, va).is_some());
    }
}

impl Env {
    fn map_shared(&mut self, at: u64, len: u64) -> Arc<SharedMem> {
        let obj = SharedMem::new(&self.frames, len);
        let kind = VmaKind::Shared {
            obj: obj.clone(),
            offset: 0,
        };
        let got = self
            .mm
            .map(&mut self.frames, at, len, RW, kind, Placement::Fixed)
            .unwrap();
        assert_eq!(got, at);
        obj
    }
}

#[test]
fn shared_memory_is_shared_by_frame_across_fork_chains_and_never_copied() {
    let mut e = env(256);
    drop(e.map_shared(A, 4 * PAGE));
    e.write(A, b"one").unwrap();
    assert_eq!(e.fault(A), FaultOutcome::Mapped);
    e.flush();
    let f = frame_at(&e.host, e.mm.id, A);
    assert_eq!(
        e.host.host_page(e.mm.id, A).unwrap().prot,
        RW,
        "shared pages are mapped writable"
    );
    let cid = e.host.mm_create().unwrap();
    let mut child = e.mm.fork_cow(&mut e.frames, cid);
    e.flush();
    assert_eq!(
        e.host.host_page(e.mm.id, A).unwrap().prot,
        RW,
        "fork leaves the parent's shared page writable"
    );
    child.flush(&mut e.host).unwrap();
    let cp = e.host.host_page(cid, A).unwrap();
    assert_eq!(
        (cp.phys, cp.prot),
        (f.phys(), RW),
        "the child maps the same frame"
    );
    // A grandchild, then the kernel writes through each: all see it.
    let gid = e.host.mm_create().unwrap();
    let mut grand = child.fork_cow(&mut e.frames, gid);
    grand
        .write(&mut e.frames, &mut e.host, A + 1, b"42")
        .unwrap();
    assert_eq!(e.read(A, 3).unwrap(), b"o42");
    // A page first touched in the child is seen by the parent too.
    child
        .write(&mut e.frames, &mut e.host, A + 3 * PAGE, b"late")
        .unwrap();
    assert_eq!(e.read(A + 3 * PAGE, 4).unwrap(), b"late");
    // The creator exits; the others keep the memory.
    let used_before = e.frames.used();
    let Env {
        mut host,
        mut frames,
        mm,
    } = e;
    mm.destroy(&mut frames, &mut host);
    assert_eq!(
        frames.used(),
        used_before,
        "the others still map the frames"
    );
    let mut buf = [0u8; 4];
    grand
        .read(&mut frames, &mut host, A + 3 * PAGE, &mut buf)
        .unwrap();
    assert_eq!(&buf, b"late");
    child.destroy(&mut frames, &mut host);
    grand.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0, "the last mapping frees the frames");
}

#[test]
fn shared_memory_survives_partial_munmap_mprotect_dontneed_and_mremap() {
    let mut e = env(256);
    let obj = e.map_shared(A, 8 * PAGE);
    e.write(A, &[7; 8 * PAGE as usize]).unwrap();
    let cid = e.host.mm_create().unwrap();
    let mut child = e.mm.fork_cow(&mut e.frames, cid);
    // Split by munmap and mprotect: the pieces still map the same object.
    e.mm.munmap(&mut e.frames, A + 2 * PAGE, PAGE).unwrap();
    e.mm.mprotect(A + 4 * PAGE, PAGE, Prot::READ).unwrap();
    assert_eq!(e.mm.vmas.len(), 4);
    child
        .write(&mut e.frames, &mut e.host, A + 5 * PAGE, b"after")
        .unwrap();
    assert_eq!(e.read(A + 5 * PAGE, 5).unwrap(), b"after");
    // MADV_DONTNEED on shared memory drops the mapping, not the contents.
    e.mm.discard(&mut e.frames, A, 8 * PAGE).unwrap();
    assert_eq!(e.read(A + 5 * PAGE, 5).unwrap(), b"after");
    // mremap moves the mapping; it still is the object.
    let new =
        e.mm.mremap(
            &mut e.frames,
            A + 5 * PAGE,
            3 * PAGE,
            3 * PAGE,
            MREMAP_MAYMOVE | 2,
            A + 0x100_0000,
        )
        .unwrap();
    assert_eq!(new, A + 0x100_0000);
    child
        .write(&mut e.frames, &mut e.host, A + 6 * PAGE, b"moved")
        .unwrap();
    assert_eq!(e.read(new + PAGE, 5).unwrap(), b"moved");
    assert_eq!(obj.resident_pages(), 8);
    drop(obj);
    child.destroy(&mut e.frames, &mut e.host);
    let Env {
        mut host,
        mut frames,
        mm,
    } = e;
    mm.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0);
}

#[test]
fn adjacent_compatible_mappings_merge_and_the_map_count_is_bounded() {
    let mut e = env(16);
    e.map(A, PAGE, RW);
    e.map(A + PAGE, PAGE, RW);
    e.map(A + 3 * PAGE, PAGE, RW);
    assert_eq!(e.mm.vmas.len(), 2, "adjacent anonymous mappings merge");
    e.map(A + 2 * PAGE, PAGE, RW);
    assert_eq!(e.mm.vmas.len(), 1, "filling the hole merges all three");
    e.mm.mprotect(A + PAGE, PAGE, Prot::READ).unwrap();
    assert_eq!(e.mm.vmas.len(), 3);
    e.mm.mprotect(A + PAGE, PAGE, RW).unwrap();
    assert_eq!(e.mm.vmas.len(), 1, "mprotect back merges");

    // Split one big mapping page by page until the limit.
    let mut e = env(16);
    let n = space::MAX_MAP_COUNT as u64 + 10;
    e.map(A, 2 * n * PAGE, Prot::READ);
    let mut err = None;
    for i in 0..n {
        if let Err(x) = e.mm.mprotect(A + 2 * i * PAGE, PAGE, Prot::empty()) {
            err = Some((i, x));
            break;
        }
    }
    let (i, x) = err.expect("the split past the limit fails");
    assert_eq!(x, Errno::ENOMEM);
    assert!(e.mm.vmas.len() <= space::MAX_MAP_COUNT);
    assert!(i > 32000, "{i}");
    // munmap that would split is refused too; mmap also.
    assert_eq!(
        e.mm.munmap(&mut e.frames, A + (2 * n - 3) * PAGE, PAGE),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn host_near_its_map_limit_gets_its_pages_evicted_not_an_error() {
    let mut e = env(256);
    e.host.map_limit = Some(40);
    e.map(A, 128 * PAGE, RW);
    for i in 0..128u64 {
        // Every other page, then the rest: no two neighbours fault together.
        let p = (i * 2) % 128 + i / 64;
        e.write(A + p * PAGE, &[p as u8]).unwrap();
        e.touch(A + p * PAGE);
        assert!(e.host_pages().len() <= 40);
    }
    // Evicted pages fault in again with their contents.
    for p in 0..128u64 {
        e.touch(A + p * PAGE);
        assert_eq!(e.host.guest_read(e.mm.id, A + p * PAGE), Some(p as u8));
    }
}

#[test]
fn guarded_stack_top_is_mapped_at_its_mprotect() {
    let mut e = env(256);
    e.map(A, 36 * PAGE, Prot::empty());
    let (lo, len) = (A + 2 * PAGE, 34 * PAGE);
    // Only the upper part of a PROT_NONE anonymous mapping, made writable,
    // with PROT_NONE below it, is a thread stack.
    assert!(e.mm.makes_guarded_stack(lo, len, RW));
    assert!(!e.mm.makes_guarded_stack(A, 36 * PAGE, RW));
    assert!(!e.mm.makes_guarded_stack(lo, len - PAGE, RW));
    assert!(!e.mm.makes_guarded_stack(lo, len, Prot::READ));
    assert!(!e.mm.makes_guarded_stack(A + 33 * PAGE, 3 * PAGE, RW));
    e.mm.mprotect(lo, len, RW).unwrap();
    let top = lo + len - PAGE;
    e.mm.prefault(&mut e.frames, &mut e.host, top);
    e.flush();
    // The top page is in the host, writable, before the guest touches it.
    assert_eq!(e.host_pages(), vec![top]);
    assert_eq!(e.host.host_page(e.mm.id, top).unwrap().prot, RW);
    assert_eq!(e.read(top, 8).unwrap(), vec![0; 8]);
    assert_eq!(e.fault(top - PAGE), FaultOutcome::Mapped);
    // Once present, it is left alone.
    let used = e.frames.used();
    e.mm.prefault(&mut e.frames, &mut e.host, top);
    assert_eq!(e.frames.used(), used);
}
