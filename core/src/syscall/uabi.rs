//! The layouts of syscall structs that depend on the width of C `long`: LP64
//! (x86_64, aarch64) or ILP32 (32-bit ARM). The guest's `long` is the host's
//! pointer width, so [`NATIVE`] is chosen at compile time; the pure encoders
//! take the width as an argument and are tested for both on every host.
//!
//! Handlers read and write these structs only through this module, so one
//! handler serves both ABIs. The `*_time64` calls of 32-bit arches use
//! 64-bit time fields whatever the width: [`TimeAbi::Time64`].

use crate::host::Host;
use crate::kernel::Kernel;
use crate::task::SigAction;
use crate::KResult;
use alloc::vec::Vec;
use umbra_abi::structs::{Iovec, Timespec, Timeval};
use umbra_abi::Errno;

/// The width of C `long` and of pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Long {
    W32,
    W64,
}

/// This build's guest.
#[cfg(target_pointer_width = "32")]
pub const NATIVE: Long = Long::W32;
/// This build's guest.
#[cfg(not(target_pointer_width = "32"))]
pub const NATIVE: Long = Long::W64;

impl Long {
    /// Bytes of a `long`.
    pub const fn bytes(self) -> usize {
        match self {
            Long::W32 => 4,
            Long::W64 => 8,
        }
    }
}

/// How a call's struct timespec and timeval are laid out: with C `long` fields
/// (the calls of every arch; old_timespec32 on 32-bit ones) or with 64-bit
/// fields (the `*_time64` calls of 32-bit arches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeAbi {
    Long,
    Time64,
}

impl TimeAbi {
    /// The width of the time fields.
    pub const fn width(self) -> Long {
        match self {
            TimeAbi::Long => NATIVE,
            TimeAbi::Time64 => Long::W64,
        }
    }
}

/// A signed C `long` argument register (sign-extended from 32 bits on ILP32).
pub fn long_arg(v: u64) -> i64 {
    v as usize as isize as i64
}

/// A 64-bit argument passed in two registers, low word first (32-bit ARM's
/// aligned register pairs).
pub fn pair(lo: u64, hi: u64) -> u64 {
    (lo & 0xffff_ffff) | (hi << 32)
}

fn put_long(out: &mut [u8], w: Long, v: u64) {
    match w {
        Long::W32 => out[..4].copy_from_slice(&(v as u32).to_ne_bytes()),
        Long::W64 => out[..8].copy_from_slice(&v.to_ne_bytes()),
    }
}

fn get_long(b: &[u8], w: Long) -> u64 {
    match w {
        Long::W32 => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64,
        Long::W64 => u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

/// A signed `long` field.
fn get_slong(b: &[u8], w: Long) -> i64 {
    match w {
        Long::W32 => get_long(b, w) as u32 as i32 as i64,
        Long::W64 => get_long(b, w) as i64,
    }
}

/// Encodes `n` longs.
pub fn encode_longs(vals: &[u64], w: Long) -> Vec<u8> {
    let mut out = alloc::vec![0u8; vals.len() * w.bytes()];
    for (i, v) in vals.iter().enumerate() {
        put_long(&mut out[i * w.bytes()..], w, *v);
    }
    out
}

/// Decodes longs (zero-extended) from `b`.
pub fn decode_longs(b: &[u8], w: Long) -> Vec<u64> {
    b.chunks_exact(w.bytes()).map(|c| get_long(c, w)).collect()
}

/// struct timespec: two longs.
pub fn encode_timespec(t: Timespec, w: Long) -> Vec<u8> {
    encode_longs(&[t.tv_sec as u64, t.tv_nsec as u64], w)
}

pub fn decode_timespec(b: &[u8], w: Long) -> Timespec {
    Timespec {
        tv_sec: get_slong(b, w),
        tv_nsec: get_slong(&b[w.bytes()..], w),
    }
}

/// struct timeval: two longs.
pub fn encode_timeval(t: Timeval, w: Long) -> Vec<u8> {
    encode_longs(&[t.tv_sec as u64, t.tv_usec as u64], w)
}

pub fn decode_timeval(b: &[u8], w: Long) -> Timeval {
    Timeval {
        tv_sec: get_slong(b, w),
        tv_usec: get_slong(&b[w.bytes()..], w),
    }
}

/// struct iovec: base and length.
pub fn decode_iovec(b: &[u8], w: Long) -> Iovec {
    Iovec {
        iov_base: get_long(b, w),
        iov_len: get_long(&b[w.bytes()..], w),
    }
}

/// The kernel's struct sigaction as rt_sigaction reads it: handler, flags,
/// restorer (longs) and the 64-bit mask (two words on ILP32, one on LP64;
/// the same bytes either way).
pub fn sigaction_size(w: Long) -> usize {
    3 * w.bytes() + 8
}

pub fn decode_sigaction(b: &[u8], w: Long) -> SigAction {
    let l = w.bytes();
    let mut m = [0u8; 8];
    m.copy_from_slice(&b[3 * l..3 * l + 8]);
    SigAction {
        handler: get_long(b, w),
        flags: get_long(&b[l..], w),
        restorer: get_long(&b[2 * l..], w),
        mask: u64::from_ne_bytes(m),
    }
}

pub fn encode_sigaction(a: &SigAction, w: Long) -> Vec<u8> {
    let mut v = encode_longs(&[a.handler, a.flags, a.restorer], w);
    v.extend_from_slice(&a.mask.to_ne_bytes());
    v
}

/// stack_t: ss_sp, ss_flags (an int, padded to a long on LP64), ss_size.
pub fn stack_size(w: Long) -> usize {
    3 * w.bytes()
}

pub fn encode_stack(sp: u64, flags: u32, size: u64, w: Long) -> Vec<u8> {
    encode_longs(&[sp, flags as u64, size], w)
}

/// (ss_sp, ss_flags, ss_size).
pub fn decode_stack(b: &[u8], w: Long) -> (u64, u32, u64) {
    let l = w.bytes();
    (
        get_long(b, w),
        get_long(&b[l..], w) as u32,
        get_long(&b[2 * l..], w),
    )
}

/// struct rusage: two timevals and 14 longs (all zero but ru_maxrss).
pub fn encode_rusage(maxrss_kib: u64, w: Long) -> Vec<u8> {
    let mut v = [0u64; 18];
    v[4] = maxrss_kib;
    encode_longs(&v, w)
}

/// Bytes of struct rusage.
pub fn rusage_size(w: Long) -> usize {
    18 * w.bytes()
}

/// struct sysinfo's fields umbra fills.
#[derive(Clone, Copy, Debug, Default)]
pub struct SysinfoVals {
    pub uptime: u64,
    pub totalram: u64,
    pub freeram: u64,
    pub procs: u16,
}

/// struct sysinfo: 112 bytes on LP64, 64 on ILP32 (mem_unit 1; figures that
/// do not fit 32 bits are given in pages, as Linux does).
pub fn encode_sysinfo(s: SysinfoVals, w: Long) -> Vec<u8> {
    use umbra_abi::structs::{Sysinfo, Sysinfo32};
    use umbra_abi::Pod;
    match w {
        Long::W64 => {
            let v = Sysinfo {
                uptime: s.uptime as i64,
                totalram: s.totalram,
                freeram: s.freeram,
                procs: s.procs,
                mem_unit: 1,
                ..Sysinfo::default()
            };
            let mut b = alloc::vec![0u8; Sysinfo::SIZE];
            v.encode(&mut b);
            b
        }
        Long::W32 => {
            let unit = if s.totalram > u32::MAX as u64 {
                4096
            } else {
                1
            };
            let v = Sysinfo32 {
                uptime: s.uptime.min(i32::MAX as u64) as i32,
                totalram: (s.totalram / unit) as u32,
                freeram: (s.freeram / unit) as u32,
                procs: s.procs,
                mem_unit: unit as u32,
                ..Sysinfo32::default()
            };
            let mut b = alloc::vec![0u8; Sysinfo32::SIZE];
            v.encode(&mut b);
            b
        }
    }
}

/// A timespec a guest of width `guest` passed in layout `t`: a 32-bit guest's
/// 64-bit timespec has a 32-bit tv_nsec and 32 bits of padding, which the
/// kernel ignores (glibc leaves them uninitialised).
pub fn decode_timespec_from(b: &[u8], t: TimeAbi, guest: Long) -> Timespec {
    let mut ts = decode_timespec(b, t.width());
    if guest == Long::W32 {
        ts.tv_nsec = ts.tv_nsec as i32 as i64;
    }
    ts
}

/// Reads a struct timespec of layout `t` at `at`.
pub fn read_timespec<H: Host>(k: &mut Kernel<H>, at: u64, t: TimeAbi) -> KResult<Timespec> {
    let w = t.width();
    let mut b = [0u8; 16];
    k.user().read_bytes(at, &mut b[..2 * w.bytes()])?;
    Ok(decode_timespec_from(&b, t, NATIVE))
}

/// Reads `n` consecutive timespecs.
pub fn read_timespecs<H: Host>(
    k: &mut Kernel<H>,
    at: u64,
    n: usize,
    t: TimeAbi,
) -> KResult<Vec<Timespec>> {
    let sz = 2 * t.width().bytes();
    let b = k.user().read_vec(at, n * sz)?;
    Ok(b.chunks_exact(sz)
        .map(|c| decode_timespec_from(c, t, NATIVE))
        .collect())
}

/// Writes a struct timespec of layout `t` at `at`.
pub fn write_timespec<H: Host>(
    k: &mut Kernel<H>,
    at: u64,
    ts: Timespec,
    t: TimeAbi,
) -> KResult<()> {
    k.user().write_bytes(at, &encode_timespec(ts, t.width()))
}

/// Reads a struct timeval of layout `t` at `at`.
pub fn read_timeval<H: Host>(k: &mut Kernel<H>, at: u64, t: TimeAbi) -> KResult<Timeval> {
    let w = t.width();
    let mut b = [0u8; 16];
    k.user().read_bytes(at, &mut b[..2 * w.bytes()])?;
    Ok(decode_timeval(&b, w))
}

/// Writes a struct timeval of layout `t` at `at`.
pub fn write_timeval<H: Host>(k: &mut Kernel<H>, at: u64, tv: Timeval, t: TimeAbi) -> KResult<()> {
    k.user().write_bytes(at, &encode_timeval(tv, t.width()))
}

/// Reads `cnt` native iovecs at `at`.
pub fn read_iovecs<H: Host>(k: &mut Kernel<H>, at: u64, cnt: usize) -> KResult<Vec<Iovec>> {
    let sz = 2 * NATIVE.bytes();
    let len = cnt.checked_mul(sz).ok_or(Errno::EINVAL)?;
    // Once per call: a blocked readv or writev keeps the vectors it was given.
    let b = k.read_once(at, len)?;
    Ok(b.chunks_exact(sz)
        .map(|c| decode_iovec(c, NATIVE))
        .collect())
}

/// Reads native longs at `at`.
pub fn read_longs<H: Host>(k: &mut Kernel<H>, at: u64, n: usize) -> KResult<Vec<u64>> {
    let b = k.user().read_vec(at, n * NATIVE.bytes())?;
    Ok(decode_longs(&b, NATIVE))
}

/// Writes native longs at `at`.
pub fn write_longs<H: Host>(k: &mut Kernel<H>, at: u64, vals: &[u64]) -> KResult<()> {
    k.user().write_bytes(at, &encode_longs(vals, NATIVE))
}

/// Converts linux_dirent64 records (d_ino u64, d_off i64, d_reclen u16,
/// d_type u8, name) into the linux_dirent records of getdents(2) (d_ino and
/// d_off longs, d_reclen u16, name, NUL, then d_type in the last byte),
/// dropping what no longer fits `cap` bytes. Returns the bytes and how many
/// source bytes they cover.
pub fn dirent64_to_dirent(src: &[u8], cap: usize, w: Long) -> (Vec<u8>, usize) {
    let l = w.bytes();
    let mut out = Vec::new();
    let mut used = 0;
    while used + 19 <= src.len() {
        let r = &src[used..];
        let reclen = u16::from_ne_bytes([r[16], r[17]]) as usize;
        if reclen < 19 || reclen > r.len() {
            break;
        }
        let name = &r[19..reclen];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        let len = (2 * l + 2 + name.len() + 2).next_multiple_of(l);
        if out.len() + len > cap {
            break;
        }
        let start = out.len();
        out.resize(start + len, 0);
        let rec = &mut out[start..];
        put_long(
            rec,
            w,
            u64::from_ne_bytes(r[0..8].try_into().unwrap_or([0; 8])),
        );
        put_long(
            &mut rec[l..],
            w,
            u64::from_ne_bytes(r[8..16].try_into().unwrap_or([0; 8])),
        );
        rec[2 * l..2 * l + 2].copy_from_slice(&(len as u16).to_ne_bytes());
        rec[2 * l + 2..2 * l + 2 + name.len()].copy_from_slice(name);
        rec[len - 1] = r[18];
        used += reclen;
    }
    (out, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespec_both_widths() {
        let t = Timespec {
            tv_sec: -2,
            tv_nsec: 500,
        };
        let b32 = encode_timespec(t, Long::W32);
        assert_eq!(b32.len(), 8);
        assert_eq!(&b32[..4], &(-2i32).to_ne_bytes());
        assert_eq!(decode_timespec(&b32, Long::W32), t);
        let b64 = encode_timespec(t, Long::W64);
        assert_eq!(b64.len(), 16);
        assert_eq!(decode_timespec(&b64, Long::W64), t);
        assert_eq!(TimeAbi::Time64.width(), Long::W64);
        // A 32-bit guest's __timespec64: garbage in the padding after tv_nsec.
        let mut b = encode_timespec(t, Long::W64);
        b[12..16].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(decode_timespec_from(&b, TimeAbi::Time64, Long::W32), t);
    }

    #[test]
    fn iovec_and_sigaction_32() {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&0x1000u32.to_ne_bytes());
        b[4..].copy_from_slice(&7u32.to_ne_bytes());
        let v = decode_iovec(&b, Long::W32);
        assert_eq!((v.iov_base, v.iov_len), (0x1000, 7));
        let a = SigAction {
            handler: 0x1_0001,
            flags: 0x0400_0004,
            restorer: 0x2_0000,
            mask: 0x8000_0000_0000_0002,
        };
        let e = encode_sigaction(&a, Long::W32);
        assert_eq!(e.len(), 20);
        assert_eq!(sigaction_size(Long::W32), 20);
        assert_eq!(&e[12..16], &2u32.to_ne_bytes());
        assert_eq!(&e[16..20], &0x8000_0000u32.to_ne_bytes());
        assert_eq!(decode_sigaction(&e, Long::W32), a);
        assert_eq!(sigaction_size(Long::W64), 32);
        assert_eq!(
            decode_sigaction(&encode_sigaction(&a, Long::W64), Long::W64),
            a
        );
    }

    #[test]
    fn sizes_32() {
        assert_eq!(rusage_size(Long::W32), 72);
        assert_eq!(rusage_size(Long::W64), 144);
        assert_eq!(encode_rusage(5, Long::W32).len(), 72);
        assert_eq!(stack_size(Long::W32), 12);
        assert_eq!(encode_stack(0x5000, 2, 0x800, Long::W32).len(), 12);
        assert_eq!(
            decode_stack(&encode_stack(0x5000, 2, 0x800, Long::W32), Long::W32),
            (0x5000, 2, 0x800)
        );
        assert_eq!(encode_sysinfo(SysinfoVals::default(), Long::W32).len(), 64);
        assert_eq!(encode_sysinfo(SysinfoVals::default(), Long::W64).len(), 112);
        assert_eq!(
            long_arg(0xffff_ff9c),
            if NATIVE == Long::W32 {
                -100
            } else {
                0xffff_ff9c
            }
        );
        assert_eq!(pair(0x8000_0000, 1), 0x1_8000_0000);
    }

    #[test]
    fn dirent_conversion() {
        // One linux_dirent64 for "ab": ino 5, off 9, reclen 24, DT_DIR.
        let mut src = [0u8; 24];
        src[0] = 5;
        src[8] = 9;
        src[16] = 24;
        src[18] = 4;
        src[19..21].copy_from_slice(b"ab");
        let (out, used) = dirent64_to_dirent(&src, 100, Long::W32);
        assert_eq!(used, 24);
        assert_eq!(out.len(), 16);
        assert_eq!((out[0], out[4], out[8]), (5, 9, 16));
        assert_eq!(&out[10..13], b"ab\0");
        assert_eq!(out[15], 4);
        // The 10-byte header, "ab", NUL and d_type: 14 bytes, 16 with padding.
        assert_eq!(dirent64_to_dirent(&src, 11, Long::W32).1, 0);
        let (out, _) = dirent64_to_dirent(&src, 100, Long::W64);
        assert_eq!(out.len(), 24);
    }
}
