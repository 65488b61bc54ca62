//! The calls of 32-bit ARM (EABI) that the shared table does not have: the
//! classic path calls, the 64-bit-offset calls whose 64-bit arguments come in
//! aligned register pairs (low word first), the stat64 family, the `*_time64`
//! calls, the 32-bit uid calls, and ARM's private calls (set_tls, cacheflush).

use super::uabi::{pair, TimeAbi};
use super::{clone, fs, io, mem, poll, proc, signal, time, Outcome};
use crate::host::Host;
use crate::kernel::Kernel;
use umbra_abi::flags::{AT_FDCWD as CWD, AT_SYMLINK_NOFOLLOW};
use umbra_abi::syscall::arm::*;
use umbra_abi::Errno;

/// A 16-bit uid or gid of the old calls: 0xffff means "unchanged" (-1).
fn id16(v: u64) -> u32 {
    match v as u16 {
        0xffff => u32::MAX,
        id => id as u32,
    }
}

pub(super) fn arch_dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Outcome {
    if let Some(r) = super::legacy_path_call(k, n, a) {
        return r;
    }
    let r = match n {
        // 64-bit arguments in register pairs.
        PREAD64 => io::sys_pread64(k, a[0] as i32, a[1], a[2] as usize, pair(a[4], a[5]) as i64),
        PWRITE64 => {
            let off = pair(a[4], a[5]) as i64;
            return io::sys_pwrite64(k, a[0] as i32, a[1], a[2] as usize, off);
        }
        TRUNCATE64 => fs::sys_truncate(k, a[0], pair(a[2], a[3]) as i64),
        FTRUNCATE64 => fs::sys_ftruncate(k, a[0] as i32, pair(a[2], a[3]) as i64),
        _LLSEEK => io::sys_llseek(k, a[0] as i32, pair(a[2], a[1]) as i64, a[3], a[4] as u32),
        ARM_FADVISE64_64 | SYNC_FILE_RANGE2 => io::sys_fadvise(k, a[0] as i32),
        MMAP2 => mem::sys_mmap(
            k,
            a[0],
            a[1],
            a[2] as u32,
            a[3] as u32,
            a[4] as i32,
            a[5] << 12,
        ),
        FCNTL64 if super::lock::is_lock_cmd(a[1] as u32) => {
            let call = super::lock::FcntlCall::Fcntl64;
            return super::lock::sys_fcntl_lock(k, a[0] as i32, a[1] as u32, a[2], call);
        }
        FCNTL64 if super::memfd::is_seal_cmd(a[1] as u32) => {
            super::memfd::sys_fcntl_seals(k, a[0] as i32, a[1] as u32, a[2])
        }
        FCNTL64 if super::fasync::is_owner_cmd(a[1] as u32) => {
            super::fasync::sys_fcntl_owner(k, a[0] as i32, a[1] as u32, a[2])
        }
        FCNTL64 => io::sys_fcntl(k, a[0] as i32, a[1] as u32, a[2]),
        // struct stat64 (104 bytes) and the old struct stat.
        STAT64 => fs::sys_newfstatat(k, CWD, a[0], a[1], 0),
        LSTAT64 => fs::sys_newfstatat(k, CWD, a[0], a[1], AT_SYMLINK_NOFOLLOW),
        FSTAT64 => fs::sys_fstat(k, a[0] as i32, a[1]),
        FSTATAT64 => fs::sys_newfstatat(k, a[0] as i32, a[1], a[2], a[3] as u32),
        STAT => fs::sys_stat_old(k, CWD, a[0], a[1], 0),
        LSTAT => fs::sys_stat_old(k, CWD, a[0], a[1], AT_SYMLINK_NOFOLLOW),
        FSTAT => fs::sys_stat_old(k, a[0] as i32, 0, a[1], 0),
        STATFS64 => fs::sys_statfs64(k, a[0], a[1] as usize, a[2]),
        FSTATFS64 => fs::sys_fstatfs64(k, a[0] as i32, a[1] as usize, a[2]),
        // 64-bit time.
        TIMER_SETTIME64 => super::ptimer::sys_timer_settime(
            k,
            a[0] as i32,
            a[1] as u32,
            a[2],
            a[3],
            TimeAbi::Time64,
        ),
        TIMER_GETTIME64 => super::ptimer::sys_timer_gettime(k, a[0] as i32, a[1], TimeAbi::Time64),
        CLOCK_SETTIME64 => super::ptimer::sys_clock_settime(k, a[0] as u32, a[1], TimeAbi::Time64),
        CLOCK_ADJTIME64 => super::ptimer::sys_clock_adjtime(k, a[0] as u32, a[1]),
        CLOCK_GETTIME64 => time::sys_clock_gettime(k, a[0] as u32, a[1], TimeAbi::Time64),
        CLOCK_GETRES_TIME64 => time::sys_clock_getres(k, a[0] as u32, a[1], TimeAbi::Time64),
        CLOCK_NANOSLEEP_TIME64 => {
            let (c, f) = (a[0] as u32, a[1] as u32);
            return time::sys_clock_nanosleep(k, c, f, a[2], a[3], TimeAbi::Time64);
        }
        UTIMENSAT_TIME64 => {
            fs::sys_utimensat(k, a[0] as i32, a[1], a[2], a[3] as u32, TimeAbi::Time64)
        }
        PPOLL_TIME64 => {
            return poll::sys_ppoll(k, a[0], a[1] as usize, a[2], a[3], TimeAbi::Time64)
        }
        PSELECT6_TIME64 => {
            let t = TimeAbi::Time64;
            return poll::sys_pselect6(k, a[0] as i32, [a[1], a[2], a[3]], a[4], a[5], t);
        }
        RT_SIGTIMEDWAIT_TIME64 => {
            let t = TimeAbi::Time64;
            return signal::sys_rt_sigtimedwait(k, a[0], a[1], a[2], a[3] as usize, t);
        }
        // ARM's private calls.
        ARM_SET_TLS => {
            // The shim carries the new TPIDRURO to the host thread (GpRegs::tls).
            k.proc().thread.regs.set_tls(a[0]);
            Ok(0)
        }
        ARM_GET_TLS => Ok(k.proc().thread.regs.tls() as usize),
        ARM_CACHEFLUSH => Ok(0),
        SIGRETURN => return signal::sys_rt_sigreturn(k, false),
        // The classic path calls.
        CHOWN => fs::sys_fchownat(k, CWD, a[0], id16(a[1]), id16(a[2]), 0),
        LCHOWN => fs::sys_fchownat(k, CWD, a[0], id16(a[1]), id16(a[2]), AT_SYMLINK_NOFOLLOW),
        CHOWN32 => fs::sys_fchownat(k, CWD, a[0], a[1] as u32, a[2] as u32, 0),
        LCHOWN32 => fs::sys_fchownat(k, CWD, a[0], a[1] as u32, a[2] as u32, AT_SYMLINK_NOFOLLOW),
        FCHOWN32 => fs::sys_fchown(k, a[0] as i32, a[1] as u32, a[2] as u32),
        DUP2 => io::sys_dup2(k, a[0] as i32, a[1] as i32),
        FALLOCATE => {
            let (off, len) = (pair(a[2], a[3]) as i64, pair(a[4], a[5]) as i64);
            super::copy::sys_fallocate(k, a[0] as i32, a[1] as u32, off, len)
        }
        SENDFILE64 => {
            let (o, i) = (a[0] as i32, a[1] as i32);
            return super::copy::sys_sendfile(k, o, i, a[2], a[3] as usize, true);
        }
        SEND => {
            return super::net::sys_sendto(k, a[0] as i32, a[1], a[2] as usize, a[3] as u32, 0, 0)
        }
        RECV => {
            return super::net::sys_recvfrom(k, a[0] as i32, a[1], a[2] as usize, a[3] as u32, 0, 0)
        }
        RECVMMSG_TIME64 => {
            let t = super::uabi::TimeAbi::Time64;
            return super::net::sys_recvmmsg(
                k,
                a[0] as i32,
                a[1],
                a[2] as u32,
                a[3] as u32,
                a[4],
                t,
            );
        }
        GETDENTS => io::sys_getdents(k, a[0] as i32, a[1], a[2] as usize),
        FORK => return clone::sys_fork(k),
        VFORK => return clone::sys_vfork(k),
        PIPE => poll::sys_pipe2(k, a[0], 0),
        POLL => return poll::sys_poll(k, a[0], a[1] as usize, a[2] as i32),
        _NEWSELECT => return poll::sys_select(k, a[0] as i32, a[1], a[2], a[3], a[4]),
        PAUSE => return signal::sys_pause(k),
        GETPGRP => Ok(k.proc().pgid as usize),
        // Limits.
        UGETRLIMIT => proc::sys_rlimit32(k, a[0] as u32, a[1], false),
        SETRLIMIT => proc::sys_rlimit32(k, a[0] as u32, a[1], true),
        _ => {
            k.report_enosys(n as u64);
            Err(Errno::ENOSYS)
        }
    };
    Outcome::Ret(r)
}
