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
        pub _spare: [u64; 14],
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

/// struct stat as this build's guest sees it.
#[cfg(not(target_arch = "aarch64"))]
pub type Stat = StatX86_64;
/// struct stat as this build's guest sees it.
#[cfg(target_arch = "aarch64")]
pub type Stat = StatGeneric;

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
