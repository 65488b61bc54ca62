//! read and write with one copy (`direct`), against MockHost: the bytes land
//! where the guest asked, a fault part-way gives Linux's partial counts and
//! leaves a stream's bytes in it, and a frame reached twice or a mapped
//! file's cache stay coherent.

use super::io::{sys_pread64, sys_pwrite64, sys_read, sys_readv, sys_write, sys_writev};
use super::Outcome;
use crate::config::PAGE_SIZE;
use crate::fs::blockdev::{BlockDevice, MemDevice};
use crate::host::HostMemory;
use crate::kernel::Kernel;
use crate::mm::spans::{carve_mut, PhysSpan};
use crate::testing::MockHost;
use crate::SysResult;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use spin::Mutex;
use umbra_abi::flags::{MapFlags, OpenFlags, AT_FDCWD, O_RDWR, RLIMIT_FSIZE, SEEK_CUR};
use umbra_abi::Errno;

const PAGE: u64 = PAGE_SIZE as u64;

/// A kernel whose pid 1 is current, its root from a cpio archive (tmpfs),
/// with an ext2 image of 1 KiB blocks on /mnt; and a scratch address.
fn boot() -> (Kernel<MockHost>, u64) {
    boot_on(Arc::new(MemDevice::zeroed(4 << 20).unwrap()))
}

/// [`boot`] with the ext2 image on `dev` (fs.rs's statfs fixture, with /tmp).
fn boot_on(dev: Arc<dyn BlockDevice>) -> (Kernel<MockHost>, u64) {
    let (k, _fs, scratch) = super::fs::statfs_tests::boot_ext2(dev, false, true);
    (k, scratch)
}

fn ret(o: Outcome) -> SysResult {
    match o {
        Outcome::Ret(r) => r,
        _ => panic!("the call blocked"),
    }
}

/// Opens `path` read-write, created.
fn open(k: &mut Kernel<MockHost>, scratch: u64, path: &str) -> i32 {
    let mut b = Vec::from(path.as_bytes());
    b.push(0);
    k.user().write_bytes(scratch, &b).unwrap();
    let fl = O_RDWR | OpenFlags::O_CREAT.bits();
    ret(super::fs::sys_openat(k, AT_FDCWD, scratch, fl, 0o644)).unwrap() as i32
}

/// `pages` fresh pages of anonymous memory with `prot`.
fn anon(k: &mut Kernel<MockHost>, pages: u64, prot: u32) -> u64 {
    let fl = (MapFlags::PRIVATE | MapFlags::ANONYMOUS).bits();
    super::mem::sys_mmap(k, 0, pages * PAGE, prot, fl, -1, 0).unwrap() as u64
}

/// A pattern that differs at every offset of a page.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Writes `data` to the file `fd` through guest memory at `buf`, then seeks
/// back to 0.
fn fill(k: &mut Kernel<MockHost>, fd: i32, buf: u64, data: &[u8]) {
    k.user().write_bytes(buf, data).unwrap();
    assert_eq!(ret(sys_write(k, fd, buf, data.len())), Ok(data.len()));
    super::io::sys_lseek(k, fd, 0, 0).unwrap();
}

fn pipe(k: &mut Kernel<MockHost>, scratch: u64, flags: u32) -> (i32, i32) {
    super::poll::sys_pipe2(k, scratch, flags).unwrap();
    let b = k.user().read_vec(scratch, 8).unwrap();
    let r = i32::from_ne_bytes(b[..4].try_into().unwrap());
    let w = i32::from_ne_bytes(b[4..].try_into().unwrap());
    (r, w)
}

#[test]
fn read_and_write_cross_pages_on_tmpfs_and_ext2() {
    let (mut k, scratch) = boot();
    for path in ["/tmp/f", "/mnt/f"] {
        let fd = open(&mut k, scratch, path);
        let src = anon(&mut k, 4, 3);
        let dst = anon(&mut k, 4, 3);
        let data = pattern(3 * PAGE_SIZE);
        // Unaligned on both sides, so every page boundary is crossed.
        fill(&mut k, fd, src + 100, &data);
        assert_eq!(
            ret(sys_read(&mut k, fd, dst + 300, data.len())),
            Ok(data.len())
        );
        assert_eq!(
            k.user().read_vec(dst + 300, data.len()).unwrap(),
            data,
            "{path}"
        );
        // At end of file: 0.
        assert_eq!(ret(sys_read(&mut k, fd, dst, 10)), Ok(0));
        // pread and pwrite at an offset, the position untouched.
        k.user().write_bytes(src, b"XYZ").unwrap();
        assert_eq!(ret(sys_pwrite64(&mut k, fd, src, 3, 4095)), Ok(3));
        assert_eq!(sys_pread64(&mut k, fd, dst + 4090, 10, 4090), Ok(10));
        let got = k.user().read_vec(dst + 4090, 10).unwrap();
        let mut want = data[4090..4100].to_vec();
        want[5..8].copy_from_slice(b"XYZ");
        assert_eq!(got, want, "{path}");
        assert_eq!(
            super::io::sys_lseek(&mut k, fd, 0, SEEK_CUR),
            Ok(data.len()),
            "{path}"
        );
    }
}

#[test]
fn read_that_faults_midway_returns_the_bytes_before_it() {
    let (mut k, scratch) = boot();
    for path in ["/tmp/g", "/mnt/g"] {
        let fd = open(&mut k, scratch, path);
        let buf = anon(&mut k, 3, 3);
        fill(&mut k, fd, buf, &pattern(3 * PAGE_SIZE));
        // The second page goes: a read over it stops at the hole.
        super::mem::sys_munmap(&mut k, buf + PAGE, PAGE).unwrap();
        assert_eq!(
            ret(sys_read(&mut k, fd, buf + 10, 3 * PAGE_SIZE)),
            Ok(PAGE_SIZE - 10)
        );
        // The position moved by exactly what was delivered.
        assert_eq!(
            super::io::sys_lseek(&mut k, fd, 0, SEEK_CUR),
            Ok(PAGE_SIZE - 10),
            "{path}"
        );
        // Nothing deliverable: EFAULT, the position stays.
        assert_eq!(
            ret(sys_read(&mut k, fd, buf + PAGE, 10)),
            Err(Errno::EFAULT)
        );
        // A read-only page is not a destination either.
        let ro = anon(&mut k, 1, 1);
        assert_eq!(ret(sys_read(&mut k, fd, ro, 10)), Err(Errno::EFAULT));
        assert_eq!(
            super::io::sys_lseek(&mut k, fd, 0, SEEK_CUR),
            Ok(PAGE_SIZE - 10),
            "{path}"
        );
        // A write from a buffer that faults part-way writes what precedes it.
        let w = anon(&mut k, 2, 3);
        k.user().write_bytes(w, &[b'w'; PAGE_SIZE]).unwrap();
        super::mem::sys_munmap(&mut k, w + PAGE, PAGE).unwrap();
        assert_eq!(ret(sys_write(&mut k, fd, w + PAGE - 5, 20)), Ok(5));
        assert_eq!(ret(sys_write(&mut k, fd, w + PAGE, 20)), Err(Errno::EFAULT));
    }
}

#[test]
fn pipe_keeps_what_a_faulting_read_could_not_take() {
    let (mut k, scratch) = boot();
    let (r, w) = pipe(&mut k, scratch, OpenFlags::O_NONBLOCK.bits());
    let buf = anon(&mut k, 2, 3);
    let data = pattern(100);
    k.user().write_bytes(buf, &data).unwrap();
    assert_eq!(ret(sys_write(&mut k, w, buf, 100)), Ok(100));
    super::mem::sys_munmap(&mut k, buf + PAGE, PAGE).unwrap();
    // No byte of the destination exists: EFAULT, and the pipe keeps all.
    // (A destination that ends part-way gets the bytes before its end
    // here; Linux's pipe_read gives EFAULT unless a whole pipe buffer
    // fitted before it, which a byte ring cannot tell.)
    assert_eq!(
        ret(sys_read(&mut k, r, buf + PAGE, 100)),
        Err(Errno::EFAULT)
    );
    let dst = anon(&mut k, 1, 3);
    assert_eq!(ret(sys_read(&mut k, r, dst, 200)), Ok(100));
    assert_eq!(k.user().read_vec(dst, 100).unwrap(), data);
    assert_eq!(ret(sys_read(&mut k, r, dst, 200)), Err(Errno::EAGAIN));
}

/// An iovec array at `at` for `v` (base, len) pairs, in this build's layout.
fn put_iov(k: &mut Kernel<MockHost>, at: u64, v: &[(u64, usize)]) {
    let mut b = Vec::new();
    for &(base, len) in v {
        if cfg!(target_pointer_width = "64") {
            b.extend_from_slice(&base.to_ne_bytes());
            b.extend_from_slice(&(len as u64).to_ne_bytes());
        } else {
            b.extend_from_slice(&(base as u32).to_ne_bytes());
            b.extend_from_slice(&(len as u32).to_ne_bytes());
        }
    }
    k.user().write_bytes(at, &b).unwrap();
}

#[test]
fn pipe_writev_of_at_most_pipe_buf_is_atomic_across_buffers() {
    let (mut k, scratch) = boot();
    let (r, w) = pipe(&mut k, scratch, OpenFlags::O_NONBLOCK.bits());
    let buf = anon(&mut k, 16, 3);
    // Fill the pipe (64 KiB) but for 100 bytes.
    let big = 65536 - 100;
    assert_eq!(ret(sys_write(&mut k, w, buf, big)), Ok(big));
    // 60 + 60 bytes in two buffers: no room for all, so none goes in.
    let iov = scratch + 0x100;
    put_iov(&mut k, iov, &[(buf, 60), (buf + 2 * PAGE, 60)]);
    assert_eq!(ret(sys_writev(&mut k, w, iov, 2)), Err(Errno::EAGAIN));
    put_iov(&mut k, iov, &[(buf, 60), (buf + 2 * PAGE, 40)]);
    assert_eq!(ret(sys_writev(&mut k, w, iov, 2)), Ok(100));
    // readv takes the bytes across buffers in one go.
    let dst = anon(&mut k, 32, 3);
    put_iov(&mut k, iov, &[(dst + 5, 40000), (dst + 20 * PAGE, 40000)]);
    assert_eq!(ret(sys_readv(&mut k, r, iov, 2)), Ok(65536));
}

#[test]
fn readv_into_a_page_mapped_twice_fills_both() {
    let (mut k, scratch) = boot();
    let fd = open(&mut k, scratch, "/tmp/h");
    let src = anon(&mut k, 2, 3);
    let data = pattern(2 * PAGE_SIZE);
    fill(&mut k, fd, src, &data);
    // One page of a shared file, mapped at two addresses.
    let m = open(&mut k, scratch, "/tmp/shm");
    super::fs::sys_ftruncate(&mut k, m, PAGE as i64).unwrap();
    let fl = MapFlags::SHARED.bits();
    let a = super::mem::sys_mmap(&mut k, 0, PAGE, 3, fl, m, 0).unwrap() as u64;
    let b = super::mem::sys_mmap(&mut k, 0, PAGE, 3, fl, m, 0).unwrap() as u64;
    let iov = scratch + 0x100;
    put_iov(&mut k, iov, &[(a, PAGE_SIZE), (b, PAGE_SIZE)]);
    assert_eq!(ret(sys_readv(&mut k, fd, iov, 2)), Ok(2 * PAGE_SIZE));
    // The second buffer was filled last, and both addresses show it.
    assert_eq!(k.user().read_vec(a, PAGE_SIZE).unwrap(), data[PAGE_SIZE..]);
    assert_eq!(k.user().read_vec(b, PAGE_SIZE).unwrap(), data[PAGE_SIZE..]);
}

#[test]
fn read_and_write_stay_coherent_with_a_shared_mapping() {
    let (mut k, scratch) = boot();
    for path in ["/tmp/m", "/mnt/m"] {
        let fd = open(&mut k, scratch, path);
        let buf = anon(&mut k, 2, 3);
        fill(&mut k, fd, buf, &pattern(2 * PAGE_SIZE));
        let fl = MapFlags::SHARED.bits();
        let map = super::mem::sys_mmap(&mut k, 0, 2 * PAGE, 3, fl, fd, 0).unwrap() as u64;
        // write(2) shows in the mapping.
        k.user().write_bytes(buf, b"written").unwrap();
        assert_eq!(
            ret(sys_pwrite64(&mut k, fd, buf, 7, PAGE as i64 - 3)),
            Ok(7)
        );
        assert_eq!(
            k.user().read_vec(map + PAGE - 3, 7).unwrap(),
            b"written",
            "{path}"
        );
        // A store through the mapping shows in read(2) before write-back.
        k.user().write_bytes(map + 10, b"mapped").unwrap();
        let dst = anon(&mut k, 1, 3);
        assert_eq!(sys_pread64(&mut k, fd, dst + 1, 20, 5), Ok(20));
        let got = k.user().read_vec(dst + 1, 20).unwrap();
        assert_eq!(&got[5..11], b"mapped", "{path}");
    }
}

#[test]
fn a_file_read_into_its_own_dirty_shared_mapping_keeps_the_dirty_bytes() {
    let (mut k, scratch) = boot();
    for path in ["/tmp/own", "/mnt/own"] {
        let fd = open(&mut k, scratch, path);
        let buf = anon(&mut k, 2, 3);
        let data = pattern(2 * PAGE_SIZE);
        fill(&mut k, fd, buf, &data);
        let fl = MapFlags::SHARED.bits();
        let map = super::mem::sys_mmap(&mut k, 0, 2 * PAGE, 3, fl, fd, 0).unwrap() as u64;
        // Written through the mapping, not yet written back.
        k.user().write_bytes(map + 100, b"dirty").unwrap();
        // Reading the file onto the same page: Linux copies the page onto
        // itself, the new bytes stay.
        assert_eq!(sys_pread64(&mut k, fd, map, PAGE_SIZE, 0), Ok(PAGE_SIZE));
        assert_eq!(k.user().read_vec(map + 100, 5).unwrap(), b"dirty", "{path}");
        assert_eq!(k.user().read_vec(map, 100).unwrap(), data[..100], "{path}");
        // And onto the next page: page 0, dirty bytes included, lands there.
        assert_eq!(
            sys_pread64(&mut k, fd, map + PAGE, PAGE_SIZE, 0),
            Ok(PAGE_SIZE)
        );
        assert_eq!(
            k.user().read_vec(map + PAGE + 100, 5).unwrap(),
            b"dirty",
            "{path}"
        );
    }
}

#[test]
fn a_big_buffer_for_a_small_file_populates_only_what_the_read_fills() {
    let (mut k, scratch) = boot();
    for path in ["/tmp/small", "/mnt/small"] {
        let fd = open(&mut k, scratch, path);
        let src = anon(&mut k, 1, 3);
        fill(&mut k, fd, src, b"ten bytes!");
        let buf = anon(&mut k, 256, 3);
        let before = k.proc().mm.resident_pages();
        assert_eq!(ret(sys_read(&mut k, fd, buf + 5, 1 << 20)), Ok(10));
        assert_eq!(k.proc().mm.resident_pages(), before + 1, "{path}");
        // At the end of a regular file nothing is copied, so nothing
        // faults: 0, as Linux's filemap_read, even into no memory.
        assert_eq!(ret(sys_read(&mut k, fd, 0, 100)), Ok(0), "{path}");
        assert_eq!(k.proc().mm.resident_pages(), before + 1, "{path}");
    }
    // A pipe: only the bytes it holds.
    let (r, w) = pipe(&mut k, scratch, OpenFlags::O_NONBLOCK.bits());
    let src = anon(&mut k, 1, 3);
    assert_eq!(ret(sys_write(&mut k, w, src, 100)), Ok(100));
    let buf = anon(&mut k, 256, 3);
    let before = k.proc().mm.resident_pages();
    assert_eq!(ret(sys_read(&mut k, r, buf, 1 << 20)), Ok(100));
    assert_eq!(k.proc().mm.resident_pages(), before + 1);
    assert_eq!(ret(sys_read(&mut k, r, buf, 1 << 20)), Err(Errno::EAGAIN));
}

#[test]
fn carving_stops_at_a_frame_reached_twice() {
    let mut mem = vec![0u8; 4 * PAGE_SIZE];
    let a = PhysSpan { phys: 0, len: 100 };
    let b = PhysSpan {
        phys: 2 * PAGE_SIZE,
        len: 50,
    };
    let again = PhysSpan { phys: 50, len: 10 };
    let slices = carve_mut(&mut mem, &[b, a, again, b]);
    assert_eq!(slices.len(), 2);
    assert_eq!((slices[0].len(), slices[1].len()), (50, 100));
    // Past the memory: cut there.
    let past = PhysSpan {
        phys: 4 * PAGE_SIZE - 10,
        len: 20,
    };
    assert_eq!(carve_mut(&mut mem, &[a, past]).len(), 1);
}

/// A device that notes where the buffers of its data reads and writes are.
struct Recording {
    inner: MemDevice,
    seen: Mutex<Vec<(usize, usize)>>,
    /// Device calls made.
    calls: Mutex<usize>,
}

impl BlockDevice for Recording {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> crate::KResult<()> {
        self.seen.lock().push((buf.as_ptr() as usize, buf.len()));
        *self.calls.lock() += 1;
        self.inner.read_at(off, buf)
    }
    fn write_at(&self, off: u64, buf: &[u8]) -> crate::KResult<()> {
        self.seen.lock().push((buf.as_ptr() as usize, buf.len()));
        *self.calls.lock() += 1;
        self.inner.write_at(off, buf)
    }
    fn read_vectored_at(&self, off: u64, bufs: &mut [&mut [u8]]) -> crate::KResult<()> {
        let mut seen = self.seen.lock();
        seen.extend(bufs.iter().map(|b| (b.as_ptr() as usize, b.len())));
        *self.calls.lock() += 1;
        self.inner.read_vectored_at(off, bufs)
    }
    fn write_vectored_at(&self, off: u64, bufs: &[&[u8]]) -> crate::KResult<()> {
        let mut seen = self.seen.lock();
        seen.extend(bufs.iter().map(|b| (b.as_ptr() as usize, b.len())));
        *self.calls.lock() += 1;
        self.inner.write_vectored_at(off, bufs)
    }
    fn flush(&self) -> crate::KResult<()> {
        Ok(())
    }
}

#[test]
fn ext2_data_moves_between_the_image_and_guest_memory_with_no_buffer_between() {
    let dev = Arc::new(Recording {
        inner: MemDevice::zeroed(4 << 20).unwrap(),
        seen: Mutex::new(Vec::new()),
        calls: Mutex::new(0),
    });
    let (mut k, scratch) = boot_on(dev.clone());
    let fd = open(&mut k, scratch, "/mnt/direct");
    let src = anon(&mut k, 4, 3);
    let data = pattern(3 * PAGE_SIZE);
    k.user().write_bytes(src, &data).unwrap();
    let mem = k.host.physmem().as_ptr_range();
    let in_guest = |&(p, l): &(usize, usize)| p >= mem.start as usize && p + l <= mem.end as usize;
    // Overwriting blocks the file has: straight from guest memory.
    assert_eq!(ret(sys_write(&mut k, fd, src, data.len())), Ok(data.len()));
    dev.seen.lock().clear();
    *dev.calls.lock() = 0;
    assert_eq!(
        sys_pwrite64_ret(&mut k, fd, src + 1, 2 * PAGE_SIZE, 0),
        Ok(2 * PAGE_SIZE)
    );
    let seen = core::mem::take(&mut *dev.seen.lock());
    let data_bytes: usize = seen.iter().filter(|s| in_guest(s)).map(|s| s.1).sum();
    assert_eq!(data_bytes, 2 * PAGE_SIZE, "{seen:x?}");
    // The file's first 12 blocks are contiguous: one device write for the
    // 8 blocks, in pieces, and one for the inode.
    let calls = core::mem::take(&mut *dev.calls.lock());
    assert!(calls <= 2, "{calls} device calls: {seen:x?}");
    // Reading: the image is read straight into the guest's pages.
    let dst = anon(&mut k, 4, 3);
    assert_eq!(
        sys_pread64(&mut k, fd, dst + 7, 3 * PAGE_SIZE, 0),
        Ok(3 * PAGE_SIZE)
    );
    let seen = core::mem::take(&mut *dev.seen.lock());
    let data_bytes: usize = seen.iter().filter(|s| in_guest(s)).map(|s| s.1).sum();
    assert_eq!(data_bytes, 3 * PAGE_SIZE, "{seen:x?}");
    let calls = core::mem::take(&mut *dev.calls.lock());
    assert!(calls <= 2, "{calls} device calls: {seen:x?}");
    let mut want = data[1..2 * PAGE_SIZE + 1].to_vec();
    want.extend_from_slice(&data[2 * PAGE_SIZE..]);
    assert_eq!(k.user().read_vec(dst + 7, 3 * PAGE_SIZE).unwrap(), want);
}

fn sys_pwrite64_ret(
    k: &mut Kernel<MockHost>,
    fd: i32,
    buf: u64,
    len: usize,
    off: i64,
) -> SysResult {
    ret(sys_pwrite64(k, fd, buf, len, off))
}

#[test]
fn writev_to_a_file_stops_at_rlimit_fsize() {
    let (mut k, scratch) = boot();
    let fd = open(&mut k, scratch, "/tmp/limited");
    k.proc().rlimits[RLIMIT_FSIZE as usize].rlim_cur = 50;
    let buf = anon(&mut k, 1, 3);
    let iov = scratch + 0x100;
    put_iov(&mut k, iov, &[(buf, 30), (buf + 100, 40)]);
    // Linux's generic_write_checks: the bytes up to the limit go in.
    assert_eq!(ret(sys_writev(&mut k, fd, iov, 2)), Ok(50));
    assert_eq!(super::io::sys_lseek(&mut k, fd, 0, 2), Ok(50));
}
