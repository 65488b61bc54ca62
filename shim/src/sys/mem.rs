//! The memory file and its mapping in umbra.

use super::{check, raw, sc, Errno};
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU32, Ordering};

const MFD_CLOEXEC: usize = 0x1;
const MFD_EXEC: usize = 0x10;
const PROT_READ: usize = 1;
const PROT_WRITE: usize = 2;
const PROT_EXEC: usize = 4;
const MAP_SHARED: usize = 1;

/// The memory file: guest physical memory plus the stub pages.
pub struct MemoryFile {
    pub fd: OwnedFd,
    /// How it was made: "memfd (MFD_EXEC)", "memfd" or the unlinked file's path.
    pub kind: String,
}

fn memfd(flags: usize) -> Result<OwnedFd, Errno> {
    memfd_named(c"umbra-mem", flags)
}

/// memfd_create(2) with `name` (what /proc/PID/fd shows) and `flags`.
pub(super) fn memfd_named(name: &std::ffi::CStr, flags: usize) -> Result<OwnedFd, Errno> {
    // SAFETY: `name` is a NUL-terminated string valid for the call.
    let fd = check(unsafe {
        raw::syscall6(
            raw::nr::MEMFD_CREATE,
            name.as_ptr() as usize,
            flags,
            0,
            0,
            0,
            0,
        )
    })?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn ftruncate(fd: &OwnedFd, size: usize) -> Result<(), Errno> {
    // SAFETY: no pointers.
    unsafe {
        sc(
            raw::nr::FTRUNCATE,
            [fd.as_raw_fd() as usize, size, 0, 0, 0, 0],
        )
    }
    .map(|_| ())
}

/// Whether a page of `fd` can be mapped executable (a noexec mount cannot).
fn exec_mappable(fd: &OwnedFd) -> Result<(), Errno> {
    // SAFETY: a fresh mapping chosen by the kernel (no MAP_FIXED) replaces nothing.
    let p = unsafe {
        sc(
            raw::nr::MMAP,
            [
                0,
                4096,
                PROT_READ | PROT_EXEC,
                MAP_SHARED,
                fd.as_raw_fd() as usize,
                0,
            ],
        )
    }?;
    // SAFETY: `p` is the page mapped just above, used by nothing else.
    let _ = unsafe { sc(raw::nr::MUNMAP, [p, 4096, 0, 0, 0, 0]) };
    Ok(())
}

/// Creates the memory file of `size` bytes: memfd_create with MFD_EXEC, then
/// without it, then (no memfd_create at all, or `force_file`) an unlinked file in
/// /dev/shm, $TMPDIR or /tmp, as the paper does.
pub fn create_memory_file(size: usize, force_file: bool) -> Result<MemoryFile, String> {
    if !force_file {
        let made = match memfd(MFD_CLOEXEC | MFD_EXEC) {
            Ok(fd) => Ok((fd, "memfd (MFD_EXEC)")),
            Err(Errno::EINVAL) => memfd(MFD_CLOEXEC).map(|fd| (fd, "memfd")),
            Err(e) => Err(e),
        };
        match made {
            Ok((fd, kind)) => {
                ftruncate(&fd, size)
                    .map_err(|e| format!("cannot size the memory file to {size} bytes: {e}"))?;
                exec_mappable(&fd)
                    .map_err(|e| format!("the memory file cannot be mapped executable: {e}"))?;
                return Ok(MemoryFile {
                    fd,
                    kind: kind.to_string(),
                });
            }
            Err(Errno::ENOSYS) => {}
            Err(e) => return Err(format!("memfd_create failed: {e}")),
        }
    }
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let mut dirs = vec!["/dev/shm".to_string()];
    if let Ok(t) = std::env::var("TMPDIR") {
        if !t.is_empty() {
            dirs.push(t);
        }
    }
    dirs.push("/tmp".to_string());
    let mut why = Vec::new();
    for dir in dirs {
        let path = format!(
            "{dir}/umbra-mem-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let file: File = match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) => {
                why.push(format!("{path}: {e}"));
                continue;
            }
        };
        // The paper's trick: keep only the fd; the name is gone at once.
        let _ = std::fs::remove_file(&path);
        let fd = OwnedFd::from(file);
        if let Err(e) = ftruncate(&fd, size) {
            why.push(format!("{path}: cannot size to {size} bytes: {e}"));
            continue;
        }
        if let Err(e) = exec_mappable(&fd) {
            why.push(format!(
                "{path}: cannot map executable (noexec mount?): {e}"
            ));
            continue;
        }
        return Ok(MemoryFile {
            fd,
            kind: format!("unlinked file {path}"),
        });
    }
    Err(format!("cannot create a memory file: {}", why.join("; ")))
}

/// A MAP_SHARED read-write mapping of a whole file in umbra.
pub struct SharedMapping {
    ptr: *mut u8,
    len: usize,
}

impl SharedMapping {
    /// Maps `len` bytes of `fd` from offset 0, shared and read-write.
    pub fn new(fd: &OwnedFd, len: usize) -> Result<SharedMapping, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        // SAFETY: no MAP_FIXED: the kernel picks a free range, nothing is replaced.
        let p = unsafe {
            sc(
                raw::nr::MMAP,
                [
                    0,
                    len,
                    PROT_READ | PROT_WRITE,
                    MAP_SHARED,
                    fd.as_raw_fd() as usize,
                    0,
                ],
            )
        }?;
        Ok(SharedMapping {
            ptr: p as *mut u8,
            len,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is a live mapping owned by `self` for its lifetime;
        // other processes (stubs) may change the bytes, which is fine for `u8`
        // (no invalid values); umbra is the only writer through Rust references.
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Gives the pages of `range` (page-aligned, inside the mapping) back
    /// to the host: a hole in the file (MADV_REMOVE), which reads as zeroes
    /// in every mapping of it. Fails where the file's file system cannot
    /// punch holes (the caller then clears the bytes itself).
    pub fn discard(&mut self, range: core::ops::Range<usize>) -> Result<(), Errno> {
        const MADV_REMOVE: usize = 9;
        if range.start > range.end
            || range.end > self.len
            || !range.start.is_multiple_of(4096)
            || !range.end.is_multiple_of(4096)
        {
            return Err(Errno::EINVAL);
        }
        // SAFETY: the range lies inside the live mapping owned by `self`,
        // and `&mut self` means no slice of it is alive; MADV_REMOVE maps and
        // unmaps nothing, it only turns the bytes into zeroes.
        unsafe {
            sc(
                raw::nr::MADVISE,
                [
                    self.ptr as usize + range.start,
                    range.end - range.start,
                    MADV_REMOVE,
                    0,
                    0,
                    0,
                ],
            )
        }
        .map(drop)
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is owned by `self` and no slice of it outlives `self`.
        let _ = unsafe { sc(raw::nr::MUNMAP, [self.ptr as usize, self.len, 0, 0, 0, 0]) };
    }
}
