//! A [`BlockDevice`] over a host file: positioned reads and writes, and
//! `fdatasync` for flush. A read or write in pieces (guest memory, for the
//! guest's read(2) and write(2) with one copy) is one host preadv or
//! pwritev. Safe code only (the raw calls are in `sys`).

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

use umbra_core::error::{Errno, KResult};
use umbra_core::fs::blockdev::{in_range, BlockDevice};

/// An image file opened read-only or read-write.
pub struct BlockFile {
    file: File,
    size: u64,
    writable: bool,
}

impl BlockFile {
    /// Opens `path`; `writable` asks for read-write access.
    pub fn open(path: &Path, writable: bool) -> std::io::Result<BlockFile> {
        let file = OpenOptions::new().read(true).write(writable).open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        Ok(BlockFile {
            size: meta.len(),
            file,
            writable,
        })
    }

    /// Creates (or truncates) `path` as a sparse file of `size` bytes.
    pub fn create(path: &Path, size: u64) -> std::io::Result<BlockFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.set_len(size)?;
        Ok(BlockFile {
            file,
            size,
            writable: true,
        })
    }
}

impl BlockDevice for BlockFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        if !in_range(self.size, off, buf.len()) {
            return Err(Errno::EIO);
        }
        self.file.read_exact_at(buf, off).map_err(|_| Errno::EIO)
    }

    fn write_at(&self, off: u64, buf: &[u8]) -> KResult<()> {
        if !self.writable {
            return Err(Errno::EROFS);
        }
        if !in_range(self.size, off, buf.len()) {
            return Err(Errno::EIO);
        }
        self.file.write_all_at(buf, off).map_err(|e| {
            if e.raw_os_error() == Some(28) {
                Errno::ENOSPC
            } else {
                Errno::EIO
            }
        })
    }

    fn read_vectored_at(&self, off: u64, bufs: &mut [&mut [u8]]) -> KResult<()> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if !in_range(self.size, off, len) {
            return Err(Errno::EIO);
        }
        let mut iov: Vec<IoSliceMut<'_>> = bufs
            .iter_mut()
            .filter(|b| !b.is_empty())
            .map(|b| IoSliceMut::new(b))
            .collect();
        let mut rest = &mut iov[..];
        let mut at = off;
        while !rest.is_empty() {
            match umbra_shim::sys::hostdir::preadv(self.file.as_raw_fd(), at, rest) {
                Ok(0) => return Err(Errno::EIO),
                Ok(n) => {
                    at += n as u64;
                    IoSliceMut::advance_slices(&mut rest, n);
                }
                Err(e) if e.0 == libc::EINTR => {}
                Err(_) => return Err(Errno::EIO),
            }
        }
        Ok(())
    }

    fn write_vectored_at(&self, off: u64, bufs: &[&[u8]]) -> KResult<()> {
        if !self.writable {
            return Err(Errno::EROFS);
        }
        let len = bufs.iter().map(|b| b.len()).sum();
        if !in_range(self.size, off, len) {
            return Err(Errno::EIO);
        }
        let mut iov: Vec<IoSlice<'_>> = bufs
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| IoSlice::new(b))
            .collect();
        let mut rest = &mut iov[..];
        let mut at = off;
        while !rest.is_empty() {
            match umbra_shim::sys::hostdir::pwritev(self.file.as_raw_fd(), at, rest) {
                Ok(0) => return Err(Errno::EIO),
                Ok(n) => {
                    at += n as u64;
                    IoSlice::advance_slices(&mut rest, n);
                }
                Err(e) if e.0 == libc::EINTR => {}
                Err(e) if e.0 == libc::ENOSPC => return Err(Errno::ENOSPC),
                Err(_) => return Err(Errno::EIO),
            }
        }
        Ok(())
    }

    fn flush(&self) -> KResult<()> {
        if !self.writable {
            return Ok(());
        }
        self.file.sync_data().map_err(|_| Errno::EIO)
    }
}
