//! Guest memory as spans of the memory file, so read(2) and write(2) move
//! bytes between a file and guest memory in one copy (issue 13): the guest
//! buffer is resolved through the kernel's page table first (populating
//! pages, and breaking copy-on-write where the kernel will write), and the
//! file then reads into, or writes from, slices of the memory file itself.
//! There is no kernel buffer in between.
//!
//! - **One look at the page table, before the file is touched.** A stream
//!   (a pipe) never gives up bytes that could not be delivered: the spans
//!   cover exactly what the guest could access, and nothing can change the
//!   page table while the kernel serves the call (the kernel is the only
//!   writer of its page tables, and it serves one call at a time).
//! - **Guest bytes are read once.** A write takes the guest's bytes from the
//!   spans exactly once, so a guest thread changing them meanwhile changes
//!   only what it wrote, never a check the kernel made.
//! - **No aliasing.** A frame reached twice by one buffer (a shared page
//!   mapped at two addresses) cannot be two `&mut` slices at once: the
//!   slices end before the second reach, and the next step of the copy
//!   resolves it again.

use super::frame::FrameAllocator;
use super::space::{Access, AddressSpace};
use crate::arch;
use crate::config::PAGE_SIZE;
use crate::error::KResult;
use crate::host::HostMemory;
use alloc::vec::Vec;

const PAGE: u64 = PAGE_SIZE as u64;

/// `len` bytes of guest memory at byte offset `phys` of the memory file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysSpan {
    pub phys: usize,
    pub len: usize,
}

impl PhysSpan {
    fn end(&self) -> usize {
        self.phys + self.len
    }
}

impl AddressSpace {
    /// Resolves `len` bytes of guest memory at `va` for a kernel `access`,
    /// page by page as a copy would reach them (populating pages, breaking
    /// copy-on-write for `Access::Write`), and appends them to `out` as spans
    /// of the memory file, physically contiguous pages merged. Stops at the
    /// first page the guest could not make this access to (EFAULT) or that
    /// cannot be provided (ENOMEM): returns the bytes resolved, or that
    /// page's error when it is the first.
    pub fn resolve<H: HostMemory>(
        &mut self,
        frames: &mut FrameAllocator,
        host: &mut H,
        va: u64,
        len: usize,
        access: Access,
        out: &mut Vec<PhysSpan>,
    ) -> KResult<usize> {
        let mut done = 0usize;
        while done < len {
            let Some(at) = va.checked_add(done as u64).filter(|&a| a < arch::USER_END) else {
                break;
            };
            let off = (at % PAGE) as usize;
            let n = (PAGE_SIZE - off).min(len - done);
            if at + n as u64 > arch::USER_END {
                break;
            }
            let frame = match self.frame_for(frames, host, at, access) {
                Ok(f) => f,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            let phys = frame.phys() as usize + off;
            if phys.checked_add(n).is_none_or(|e| e > host.physmem().len()) {
                if done == 0 {
                    return Err(umbra_abi::Errno::EFAULT);
                }
                break;
            }
            match out.last_mut() {
                Some(last) if last.end() == phys => last.len += n,
                _ => out.push(PhysSpan { phys, len: n }),
            }
            done += n;
        }
        if done == 0 && len > 0 {
            return Err(umbra_abi::Errno::EFAULT);
        }
        Ok(done)
    }
}

/// Bytes the spans cover.
pub fn total(spans: &[PhysSpan]) -> usize {
    spans.iter().map(|s| s.len).sum()
}

/// The spans as slices of `mem`, in order. Every span lies in `mem` (as
/// [`AddressSpace::resolve`] checked); a span past it ends the slices.
pub fn carve<'m>(mem: &'m [u8], spans: &[PhysSpan]) -> Vec<&'m [u8]> {
    spans
        .iter()
        .map_while(|s| mem.get(s.phys..s.end()))
        .collect()
}

/// The spans as writable slices of `mem`, in order: the longest prefix of
/// them that are disjoint (a span that overlaps an earlier one, as a frame
/// mapped twice in one buffer does, ends the slices; so does a span past
/// `mem`). Never empty when `spans` is not and its first span lies in `mem`.
pub fn carve_mut<'m>(mem: &'m mut [u8], spans: &[PhysSpan]) -> Vec<&'m mut [u8]> {
    if let [s] = spans {
        return mem.get_mut(s.phys..s.end()).into_iter().collect();
    }
    // The disjoint prefix: each span is checked against those before it,
    // kept sorted by address.
    let mut sorted: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    let mut keep = 0;
    for (i, s) in spans.iter().enumerate() {
        if s.end() > mem.len() {
            break;
        }
        let at = sorted.partition_point(|&(p, _)| p < s.phys);
        let clash_before = at > 0 && spans[sorted[at - 1].1].end() > s.phys;
        let clash_after = sorted.get(at).is_some_and(|&(p, _)| p < s.end());
        if clash_before || clash_after {
            break;
        }
        sorted.insert(at, (s.phys, i));
        keep = i + 1;
    }
    // Split `mem` in address order, then put the pieces back in span order.
    let mut slots: Vec<Option<&'m mut [u8]>> = (0..keep).map(|_| None).collect();
    let mut rest: &'m mut [u8] = mem;
    let mut base = 0usize;
    for (phys, i) in sorted {
        let s = spans[i];
        let tail = core::mem::take(&mut rest);
        let Some(skip) = phys.checked_sub(base).filter(|&k| k + s.len <= tail.len()) else {
            break;
        };
        let (_, tail) = tail.split_at_mut(skip);
        let (piece, tail) = tail.split_at_mut(s.len);
        slots[i] = Some(piece);
        rest = tail;
        base = s.end();
    }
    slots.into_iter().map_while(|s| s).collect()
}

/// Copies `len` bytes of `mem` at `src` into the part of the spans that
/// starts `at` bytes into them (the memory file to guest memory: the page
/// cache's dirty pages over what read(2) read). Stops at the spans' end.
pub fn copy_into(mem: &mut [u8], spans: &[PhysSpan], at: usize, src: usize, len: usize) {
    let (mut skip, mut done) = (at, 0usize);
    for s in spans {
        if done == len {
            break;
        }
        if skip >= s.len {
            skip -= s.len;
            continue;
        }
        let n = (s.len - skip).min(len - done);
        let from = src + done;
        if from + n <= mem.len() && s.phys + skip + n <= mem.len() {
            mem.copy_within(from..from + n, s.phys + skip);
        }
        done += n;
        skip = 0;
    }
}

/// Copies `data` into the spans from their start (stops at their end).
pub fn fill_from(mem: &mut [u8], spans: &[PhysSpan], data: &[u8]) {
    let mut done = 0usize;
    for s in spans {
        if done == data.len() {
            break;
        }
        let n = s.len.min(data.len() - done);
        if let Some(d) = mem.get_mut(s.phys..s.phys + n) {
            d.copy_from_slice(&data[done..done + n]);
        }
        done += n;
    }
}
