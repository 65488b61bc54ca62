//! Typed access to user memory. A user pointer is never dereferenced: every access
//! walks the kernel's page table into the memory file, and every failure is EFAULT.
//! `UserInPtr` can only be read and `UserOutPtr` only written (zCore's user.rs).

use super::frame::FrameAllocator;
use super::space::AddressSpace;
use crate::error::KResult;
use crate::host::HostMemory;
use alloc::vec;
use alloc::vec::Vec;
use core::marker::PhantomData;
use umbra_abi::{Errno, Pod};

/// Longest single argument or environment string, NUL included (Linux's
/// MAX_ARG_STRLEN: 32 pages).
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// An address space borrowed together with what it needs to reach its pages.
pub struct UserAccess<'a, H> {
    pub mm: &'a mut AddressSpace,
    pub frames: &'a mut FrameAllocator,
    pub host: &'a mut H,
}

impl<H: HostMemory> UserAccess<'_, H> {
    /// Copies `buf.len()` bytes from `va`.
    pub fn read_bytes(&mut self, va: u64, buf: &mut [u8]) -> KResult<()> {
        self.mm.read(self.frames, self.host, va, buf)
    }
    /// Copies `data` to `va`.
    pub fn write_bytes(&mut self, va: u64, data: &[u8]) -> KResult<()> {
        self.mm.write(self.frames, self.host, va, data)
    }
    /// Appends the `len` bytes at `va` to `out` (on EFAULT, `out` may
    /// have some of them).
    pub fn read_append(&mut self, va: u64, len: usize, out: &mut Vec<u8>) -> KResult<()> {
        self.mm.read_append(self.frames, self.host, va, len, out)
    }
    /// Reads `len` bytes into a new vector.
    pub fn read_vec(&mut self, va: u64, len: usize) -> KResult<Vec<u8>> {
        let mut v = vec![0u8; len];
        self.read_bytes(va, &mut v)?;
        Ok(v)
    }
    /// Reads a value.
    pub fn read<T: Pod>(&mut self, ptr: UserInPtr<T>) -> KResult<T> {
        let mut buf = [0u8; 512];
        let b = buf.get_mut(..T::SIZE).ok_or(Errno::EINVAL)?;
        self.read_bytes(ptr.addr(), b)?;
        Ok(T::decode(b))
    }
    /// Writes a value.
    pub fn write<T: Pod>(&mut self, ptr: UserOutPtr<T>, v: &T) -> KResult<()> {
        let mut buf = [0u8; 512];
        let b = buf.get_mut(..T::SIZE).ok_or(Errno::EINVAL)?;
        v.encode(b);
        self.write_bytes(ptr.addr(), b)
    }
    /// Reads a NUL-terminated string of at most `max` bytes (ENAMETOOLONG beyond).
    pub fn read_cstr(&mut self, va: u64, max: usize) -> KResult<Vec<u8>> {
        self.mm.read_cstr(self.frames, self.host, va, max)
    }
    /// Reads a NULL-terminated array of string pointers (argv, envp), bounded by
    /// `max_total` bytes in all (E2BIG beyond) and `max_count` entries.
    pub fn read_cstr_array(
        &mut self,
        va: u64,
        max_count: usize,
        max_total: usize,
    ) -> KResult<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        if va == 0 {
            return Ok(out);
        }
        let mut total = 0usize;
        // The array holds guest pointers: the host's pointer width.
        const PTR: usize = core::mem::size_of::<usize>();
        for i in 0..=max_count {
            let at = va.checked_add((PTR * i) as u64).ok_or(Errno::EFAULT)?;
            let mut w = [0u8; 8];
            self.read_bytes(at, &mut w[..PTR])?;
            let p = u64::from_le_bytes(w);
            if p == 0 {
                return Ok(out);
            }
            let s = self
                .read_cstr(p, (max_total - total).min(MAX_ARG_STRLEN - 1))
                .map_err(|e| {
                    if e == Errno::ENAMETOOLONG {
                        Errno::E2BIG
                    } else {
                        e
                    }
                })?;
            // Each string costs its bytes and its pointer on the new stack.
            total += s.len() + 1 + PTR;
            if total > max_total {
                return Err(Errno::E2BIG);
            }
            out.push(s);
        }
        Err(Errno::E2BIG)
    }
}

macro_rules! user_ptr {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name<T>(u64, PhantomData<T>);

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<T> Copy for $name<T> {}

        impl<T> $name<T> {
            pub const fn new(addr: u64) -> Self {
                $name(addr, PhantomData)
            }
            pub const fn addr(self) -> u64 {
                self.0
            }
            pub const fn is_null(self) -> bool {
                self.0 == 0
            }
        }
    };
}

user_ptr!(UserInPtr, "A guest pointer the kernel reads from.");
user_ptr!(UserOutPtr, "A guest pointer the kernel writes to.");
