//! C structs of the syscall interface, with their byte encodings. Field names follow
//! the kernel's uapi headers; explicit `_pad` fields stand where C has padding.

use crate::pod_struct;

pod_struct! {
    /// struct timespec (64-bit time).
    pub struct Timespec { pub tv_sec: i64, pub tv_nsec: i64, }
}

pod_struct! {
    /// struct timeval (64-bit time).
    pub struct Timeval { pub tv_sec: i64, pub tv_usec: i64, }
}

pod_struct! {
    /// struct iovec.
    pub struct Iovec { pub iov_base: u64, pub iov_len: u64, }
}

pod_struct! {
    /// struct rlimit64.
    pub struct Rlimit { pub rlim_cur: u64, pub rlim_max: u64, }
}

pod_struct! {
    /// struct winsize.
    pub struct Winsize { pub ws_row: u16, pub ws_col: u16, pub ws_xpixel: u16, pub ws_ypixel: u16, }
}

pod_struct! {
    /// The kernel's struct termios (asm-generic/termbits.h), as TCGETS uses it.
    pub struct Termios {
        pub c_iflag: u32,
        pub c_oflag: u32,
        pub c_cflag: u32,
        pub c_lflag: u32,
        pub c_line: u8,
        pub c_cc: [u8; 19],
    }
}

pod_struct! {
    /// struct new_utsname: six 65-byte fields.
    pub struct Utsname {
        pub sysname: [u8; 65],
        pub nodename: [u8; 65],
        pub release: [u8; 65],
        pub version: [u8; 65],
        pub machine: [u8; 65],
        pub domainname: [u8; 65],
    }
}

pod_struct! {
    /// struct stat on x86_64 (arch/x86/include/uapi/asm/stat.h), 144 bytes.
    pub struct StatX86_64 {
        pub st_dev: u64,
        pub st_ino: u64,
        pub st_nlink: u64,
        pub st_mode: u32,
        pub st_uid: u32,
        pub st_gid: u32,
        pub _pad0: u32,
        pub st_rdev: u64,
        pub st_size: i64,
        pub st_blksize: i64,
        pub st_blocks: i64,
        pub st_atime: i64,
        pub st_atime_nsec: i64,
        pub st_mtime: i64,
        pub st_mtime_nsec: i64,
        pub st_ctime: i64,
        pub st_ctime_nsec: i64,
        pub _unused: [i64; 3],
    }
}

pod_struct! {
    /// struct stat of asm-generic (aarch64), 128 bytes.
    pub struct StatGeneric {
        pub st_dev: u64,
        pub st_ino: u64,
        pub st_mode: u32,
        pub st_nlink: u32,
        pub st_uid: u32,
        pub st_gid: u32,
        pub st_rdev: u64,
        pub _pad1: u64,
        pub st_size: i64,
        pub st_blksize: i32,
        pub _pad2: i32,
        pub st_blocks: i64,
        pub st_atime: i64,
        pub st_atime_nsec: i64,
        pub st_mtime: i64,
        pub st_mtime_nsec: i64,
        pub st_ctime: i64,
        pub st_ctime_nsec: i64,
        pub _unused: [u32; 2],
    }
}

pod_struct! {
    /// struct statx_timestamp.
    pub struct StatxTimestamp { pub tv_sec: i64, pub tv_nsec: u32, pub _pad: i32, }
}

pod_struct! {
    /// struct statx, 256 bytes.
    pub struct Statx {
        pub stx_mask: u32,
        pub stx_blksize: u32,
        pub stx_attributes: u64,
        pub stx_nlink: u32,
        pub stx_uid: u32,
        pub stx_gid: u32,
        pub stx_mode: u16,
        pub _pad1: u16,
        pub stx_ino: u64,
        pub stx_size: u64,
        pub stx_blocks: u64,
        pub stx_attributes_mask: u64,
        pub stx_atime: StatxTimestamp,
        pub stx_btime: StatxTimestamp,
        pub stx_ctime: StatxTimestamp,
        pub stx_mtime: StatxTimestamp,
        pub stx_rdev_major: u32,
        pub stx_rdev_minor: u32,
        pub stx_dev_major: u32,
        pub stx_dev_minor: u32,
        pub stx_mnt_id: u64,
        pub _spare: [u64; 13],
    }
}

/// statx mask bits.
pub const STATX_BASIC_STATS: u32 = 0x7ff;

pod_struct! {
    /// struct sysinfo on 64-bit arches, 112 bytes.
    pub struct Sysinfo {
        pub uptime: i64,
        pub loads: [u64; 3],
        pub totalram: u64,
        pub freeram: u64,
        pub sharedram: u64,
        pub bufferram: u64,
        pub totalswap: u64,
        pub freeswap: u64,
        pub procs: u16,
        pub _pad: [u16; 3],
        pub totalhigh: u64,
        pub freehigh: u64,
        pub mem_unit: u32,
        pub _f: [u32; 1],
    }
}

// ---- 32-bit (ILP32) layouts: `long` and pointers are 4 bytes. The structs
// made of longs only (timespec, timeval, iovec, stack_t, sigaction, rusage...)
// are encoded for both widths by umbra-core's syscall::uabi. ----

pod_struct! {
    /// struct rlimit of a 32-bit guest (getrlimit, ugetrlimit, setrlimit);
    /// prlimit64 uses [`Rlimit`] on every arch.
    pub struct Rlimit32 { pub rlim_cur: u32, pub rlim_max: u32, }
}

pod_struct! {
    /// struct stat64 of 32-bit ARM (arch/arm/include/uapi/asm/stat.h), 104
    /// bytes: the EABI aligns the 64-bit fields to 8.
    pub struct Stat64Arm {
        pub st_dev: u64,
        pub _pad0: [u8; 4],
        pub __st_ino: u32,
        pub st_mode: u32,
        pub st_nlink: u32,
        pub st_uid: u32,
        pub st_gid: u32,
        pub st_rdev: u64,
        pub _pad3: [u8; 4],
        pub _pad4: u32,
        pub st_size: i64,
        pub st_blksize: u32,
        pub _pad5: u32,
        pub st_blocks: u64,
        pub st_atime: u32,
        pub st_atime_nsec: u32,
        pub st_mtime: u32,
        pub st_mtime_nsec: u32,
        pub st_ctime: u32,
        pub st_ctime_nsec: u32,
        pub st_ino: u64,
    }
}

pod_struct! {
    /// struct stat of 32-bit ARM (the old stat/lstat/fstat calls), 64 bytes.
    pub struct StatArm {
        pub st_dev: u32,
        pub st_ino: u32,
        pub st_mode: u16,
        pub st_nlink: u16,
        pub st_uid: u16,
        pub st_gid: u16,
        pub st_rdev: u32,
        pub st_size: u32,
        pub st_blksize: u32,
        pub st_blocks: u32,
        pub st_atime: u32,
        pub st_atime_nsec: u32,
        pub st_mtime: u32,
        pub st_mtime_nsec: u32,
        pub st_ctime: u32,
        pub st_ctime_nsec: u32,
        pub _unused: [u32; 2],
    }
}

pod_struct! {
    /// struct statfs64 of 32-bit ARM, packed to 84 bytes (ARCH_PACK_STATFS64).
    pub struct Statfs64Arm {
        pub f_type: u32,
        pub f_bsize: u32,
        pub f_blocks: u64,
        pub f_bfree: u64,
        pub f_bavail: u64,
        pub f_files: u64,
        pub f_ffree: u64,
        pub f_fsid: [i32; 2],
        pub f_namelen: u32,
        pub f_frsize: u32,
        pub f_flags: u32,
        pub f_spare: [u32; 4],
    }
}

pod_struct! {
    /// struct statfs of a 32-bit guest (every word a 32-bit long), 64 bytes.
    pub struct Statfs32 {
        pub f_type: u32,
        pub f_bsize: u32,
        pub f_blocks: u32,
        pub f_bfree: u32,
        pub f_bavail: u32,
        pub f_files: u32,
        pub f_ffree: u32,
        pub f_fsid: [i32; 2],
        pub f_namelen: u32,
        pub f_frsize: u32,
        pub f_flags: u32,
        pub f_spare: [u32; 4],
    }
}

pod_struct! {
    /// struct sysinfo of a 32-bit guest, 64 bytes.
    pub struct Sysinfo32 {
        pub uptime: i32,
        pub loads: [u32; 3],
        pub totalram: u32,
        pub freeram: u32,
        pub sharedram: u32,
        pub bufferram: u32,
        pub totalswap: u32,
        pub freeswap: u32,
        pub procs: u16,
        pub _pad: u16,
        pub totalhigh: u32,
        pub freehigh: u32,
        pub mem_unit: u32,
        pub _f: [u8; 8],
    }
}

/// struct stat as this build's guest sees it.
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
pub type Stat = StatX86_64;
/// struct stat as this build's guest sees it.
#[cfg(target_arch = "aarch64")]
pub type Stat = StatGeneric;
/// struct stat64 as this build's guest sees it (the 32-bit ARM guest's stat
/// family is fstat64/stat64/lstat64/fstatat64).
#[cfg(target_arch = "arm")]
pub type Stat = Stat64Arm;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pod;

    #[test]
    fn sizes_match_c() {
        assert_eq!(StatX86_64::SIZE, 144);
        assert_eq!(StatGeneric::SIZE, 128);
        assert_eq!(Statx::SIZE, 256);
        assert_eq!(Termios::SIZE, 36);
        assert_eq!(Utsname::SIZE, 390);
        assert_eq!(Sysinfo::SIZE, 112);
        assert_eq!(Stat64Arm::SIZE, 104);
        assert_eq!(StatArm::SIZE, 64);
        assert_eq!(Statfs64Arm::SIZE, 84);
        assert_eq!(Statfs32::SIZE, 64);
        assert_eq!(Sysinfo32::SIZE, 64);
    }

    #[test]
    fn stat64_arm_offsets() {
        // Offsets of arch/arm/include/uapi/asm/stat.h under the EABI.
        let st = Stat64Arm {
            st_dev: 0x11,
            __st_ino: 0x22,
            st_mode: 0x33,
            st_rdev: 0x44,
            st_size: 0x55,
            st_blksize: 0x66,
            st_blocks: 0x77,
            st_atime: 0x88,
            st_ctime_nsec: 0x99,
            st_ino: 0xaa,
            ..Stat64Arm::default()
        };
        let mut b = [0u8; 104];
        st.encode(&mut b);
        for (off, v) in [
            (0, 0x11),
            (12, 0x22),
            (16, 0x33),
            (32, 0x44),
            (48, 0x55),
            (56, 0x66),
            (64, 0x77),
            (72, 0x88),
            (92, 0x99),
            (96, 0xaa),
        ] {
            assert_eq!(b[off], v, "offset {off}");
        }
    }

    #[test]
    fn round_trip() {
        let t = Timespec {
            tv_sec: -5,
            tv_nsec: 7,
        };
        let mut b = [0u8; 16];
        t.encode(&mut b);
        assert_eq!(Timespec::decode(&b), t);
    }
}
