//! Block devices: what disk filesystems (ext2) read and write.
//!
//! A [`BlockDevice`] is a byte-addressed store of fixed size. The shim provides
//! one over a host file; [`MemDevice`] keeps the bytes in memory (tests, image
//! building, fuzzing); [`OverlayDevice`] puts a copy-on-write layer in memory over
//! a read-only base, so a guest may write to its root image while the image
//! itself is never modified (the default, as for a ROM).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use crate::error::{Errno, KResult};

/// A fixed-size random-access store. Reads and writes are all-or-nothing: a
/// range past the end is EIO.
pub trait BlockDevice: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` from byte offset `off`.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<()>;
    /// Writes `buf` at byte offset `off` (EROFS on a read-only device).
    fn write_at(&self, off: u64, buf: &[u8]) -> KResult<()>;
    /// Makes every completed write durable.
    fn flush(&self) -> KResult<()>;
    /// Fills `bufs`, in order, from byte offset `off`: one read of their
    /// total length (guest memory in pieces, read(2) with one copy). A
    /// device over a host file does it in one host call.
    fn read_vectored_at(&self, off: u64, bufs: &mut [&mut [u8]]) -> KResult<()> {
        let mut at = off;
        for b in bufs.iter_mut() {
            self.read_at(at, b)?;
            at = at.checked_add(b.len() as u64).ok_or(Errno::EIO)?;
        }
        Ok(())
    }
    /// Writes `bufs`, in order, at byte offset `off`: one write of their
    /// total length (write(2) straight from guest memory). A device over a
    /// host file does it in one host call.
    fn write_vectored_at(&self, off: u64, bufs: &[&[u8]]) -> KResult<()> {
        let mut at = off;
        for b in bufs {
            self.write_at(at, b)?;
            at = at.checked_add(b.len() as u64).ok_or(Errno::EIO)?;
        }
        Ok(())
    }
}

/// Whether `off..off+len` lies within a device of `size` bytes.
pub fn in_range(size: u64, off: u64, len: usize) -> bool {
    off.checked_add(len as u64).is_some_and(|end| end <= size)
}

/// A device kept in a `Vec`.
pub struct MemDevice {
    data: Mutex<Vec<u8>>,
    read_only: bool,
}

impl MemDevice {
    /// A writable device holding `data`.
    pub fn new(data: Vec<u8>) -> MemDevice {
        MemDevice {
            data: Mutex::new(data),
            read_only: false,
        }
    }

    /// A zero-filled writable device of `size` bytes (ENOMEM if it cannot be
    /// allocated).
    pub fn zeroed(size: usize) -> KResult<MemDevice> {
        let mut v = Vec::new();
        v.try_reserve_exact(size).map_err(|_| Errno::ENOMEM)?;
        v.resize(size, 0);
        Ok(MemDevice::new(v))
    }

    /// A device that refuses writes.
    pub fn read_only(data: Vec<u8>) -> MemDevice {
        MemDevice {
            data: Mutex::new(data),
            read_only: true,
        }
    }

    /// A copy of the contents.
    pub fn contents(&self) -> Vec<u8> {
        self.data.lock().clone()
    }

    /// The contents, consuming the device.
    pub fn into_contents(self) -> Vec<u8> {
        self.data.into_inner()
    }
}

impl BlockDevice for MemDevice {
    fn size(&self) -> u64 {
        self.data.lock().len() as u64
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        let d = self.data.lock();
        let start = usize::try_from(off).map_err(|_| Errno::EIO)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| d.get(start..end))
            .ok_or(Errno::EIO)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&self, off: u64, buf: &[u8]) -> KResult<()> {
        if self.read_only {
            return Err(Errno::EROFS);
        }
        let mut d = self.data.lock();
        let start = usize::try_from(off).map_err(|_| Errno::EIO)?;
        let dst = start
            .checked_add(buf.len())
            .and_then(|end| d.get_mut(start..end))
            .ok_or(Errno::EIO)?;
        dst.copy_from_slice(buf);
        Ok(())
    }

    fn flush(&self) -> KResult<()> {
        Ok(())
    }
}

/// Granularity of the copy-on-write layer.
const CHUNK: usize = 4096;
const CHUNK_U64: u64 = CHUNK as u64;

/// A read-only base device with the writes kept in memory, chunk by chunk.
pub struct OverlayDevice {
    base: Arc<dyn BlockDevice>,
    chunks: Mutex<BTreeMap<u64, Box<[u8]>>>,
}

impl OverlayDevice {
    /// An overlay over `base`, which is only ever read.
    pub fn new(base: Arc<dyn BlockDevice>) -> OverlayDevice {
        OverlayDevice {
            base,
            chunks: Mutex::new(BTreeMap::new()),
        }
    }

    /// Bytes held by the overlay.
    pub fn overlay_bytes(&self) -> u64 {
        (self.chunks.lock().len() as u64).saturating_mul(CHUNK_U64)
    }

    /// Calls `f(chunk index, offset in chunk, range of buf)` for each chunk piece of
    /// `off..off+len`.
    fn pieces(off: u64, len: usize, mut f: impl FnMut(u64, usize, core::ops::Range<usize>)) {
        let mut done = 0usize;
        while done < len {
            let pos = off.saturating_add(done as u64);
            let (idx, in_chunk) = (pos / CHUNK_U64, (pos % CHUNK_U64) as usize);
            let n = (CHUNK - in_chunk).min(len - done);
            f(idx, in_chunk, done..done + n);
            done += n;
        }
    }
}

impl BlockDevice for OverlayDevice {
    fn size(&self) -> u64 {
        self.base.size()
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        if !in_range(self.size(), off, buf.len()) {
            return Err(Errno::EIO);
        }
        let chunks = self.chunks.lock();
        if chunks.is_empty() {
            drop(chunks);
            return self.base.read_at(off, buf);
        }
        let mut result = Ok(());
        Self::pieces(off, buf.len(), |idx, in_chunk, r| {
            if result.is_err() {
                return;
            }
            let Some(dst) = buf.get_mut(r.clone()) else {
                result = Err(Errno::EIO);
                return;
            };
            match chunks
                .get(&idx)
                .and_then(|c| c.get(in_chunk..in_chunk + r.len()))
            {
                Some(src) => dst.copy_from_slice(src),
                None => result = self.base.read_at(off.saturating_add(r.start as u64), dst),
            }
        });
        result
    }

    fn read_vectored_at(&self, off: u64, bufs: &mut [&mut [u8]]) -> KResult<()> {
        // Nothing written yet: the base serves it whole (one host call).
        if self.chunks.lock().is_empty() {
            return self.base.read_vectored_at(off, bufs);
        }
        let mut at = off;
        for b in bufs.iter_mut() {
            self.read_at(at, b)?;
            at = at.checked_add(b.len() as u64).ok_or(Errno::EIO)?;
        }
        Ok(())
    }

    fn write_at(&self, off: u64, buf: &[u8]) -> KResult<()> {
        let size = self.size();
        if !in_range(size, off, buf.len()) {
            return Err(Errno::EIO);
        }
        let mut chunks = self.chunks.lock();
        let mut result = Ok(());
        Self::pieces(off, buf.len(), |idx, in_chunk, r| {
            if result.is_err() {
                return;
            }
            if let alloc::collections::btree_map::Entry::Vacant(slot) = chunks.entry(idx) {
                let start = idx.saturating_mul(CHUNK_U64);
                let have = usize::try_from(size.saturating_sub(start))
                    .unwrap_or(CHUNK)
                    .min(CHUNK);
                let mut v = Vec::new();
                if v.try_reserve_exact(CHUNK).is_err() {
                    result = Err(Errno::ENOMEM);
                    return;
                }
                v.resize(CHUNK, 0);
                if let Some(dst) = v.get_mut(..have) {
                    if let Err(e) = self.base.read_at(start, dst) {
                        result = Err(e);
                        return;
                    }
                }
                slot.insert(v.into_boxed_slice());
            }
            if let (Some(c), Some(src)) = (chunks.get_mut(&idx), buf.get(r.clone())) {
                if let Some(dst) = c.get_mut(in_chunk..in_chunk + r.len()) {
                    dst.copy_from_slice(src);
                }
            }
        });
        result
    }

    fn flush(&self) -> KResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_device_bounds() {
        let d = MemDevice::new(alloc::vec![1u8; 100]);
        let mut b = [0u8; 10];
        d.read_at(90, &mut b).unwrap();
        assert_eq!(d.read_at(91, &mut b), Err(Errno::EIO));
        assert_eq!(d.read_at(u64::MAX, &mut b), Err(Errno::EIO));
        d.write_at(0, b"abc").unwrap();
        assert_eq!(d.write_at(98, b"abc"), Err(Errno::EIO));
        assert_eq!(&d.contents()[..4], b"abc\x01");
        let ro = MemDevice::read_only(alloc::vec![0u8; 10]);
        assert_eq!(ro.write_at(0, b"x"), Err(Errno::EROFS));
    }

    #[test]
    fn overlay_never_touches_base() {
        let base: Arc<dyn BlockDevice> = Arc::new(MemDevice::read_only(
            (0..10_000u32).map(|i| i as u8).collect(),
        ));
        let o = OverlayDevice::new(base.clone());
        o.write_at(4090, &[0xaa; 20]).unwrap();
        o.write_at(9990, &[0xbb; 10]).unwrap();
        assert_eq!(o.write_at(9991, &[0xbb; 10]), Err(Errno::EIO));
        let mut b = [0u8; 30];
        o.read_at(4080, &mut b).unwrap();
        assert_eq!(b[9], (4089u32 & 0xff) as u8);
        assert!(b[10..30].iter().all(|&c| c == 0xaa));
        let mut t = [0u8; 10];
        o.read_at(9990, &mut t).unwrap();
        assert_eq!(t, [0xbb; 10]);
        base.read_at(4090, &mut t).unwrap();
        assert_eq!(t[0], (4090u32 & 0xff) as u8);
        assert_eq!(o.overlay_bytes(), 3 * 4096);
    }
}
