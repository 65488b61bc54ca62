//! `--strace`: each guest syscall as one line, `name(args) = result`, in the
//! style of strace(1). Only built when tracing is on, so it costs nothing on the
//! fast path.

use crate::host::{Host, LogLevel};
use crate::kernel::Kernel;
use crate::SysResult;
use alloc::format;
use alloc::string::String;
use core::fmt::Write;
use umbra_abi::syscall::nr::name;

/// How one argument is shown.
#[derive(Clone, Copy)]
enum Arg {
    /// Signed decimal.
    Int,
    /// Hexadecimal (pointers, flags).
    Hex,
    /// Octal (modes).
    Oct,
    /// A path string in guest memory.
    Path,
    /// A buffer the guest writes from; length in the next argument.
    Buf,
    /// A directory fd (AT_FDCWD shown by name).
    Dirfd,
}

fn spec(name: &str) -> &'static [Arg] {
    use Arg::*;
    match name {
        "read" | "readv" | "getdents64" => &[Int, Hex, Int],
        "pread64" => &[Int, Hex, Int, Int],
        "write" => &[Int, Buf, Int],
        "pwrite64" => &[Int, Buf, Int, Int],
        "writev" => &[Int, Hex, Int],
        "open" => &[Path, Hex, Oct],
        "creat" => &[Path, Oct],
        "openat" => &[Dirfd, Path, Hex, Oct],
        "stat" | "lstat" | "statfs" => &[Path, Hex],
        "access" => &[Path, Int],
        "chdir" | "rmdir" | "unlink" => &[Path],
        "mkdir" | "chmod" => &[Path, Oct],
        "readlink" => &[Path, Hex, Int],
        "rename" | "link" | "symlink" => &[Path, Path],
        "newfstatat" | "statx" => &[Dirfd, Path, Hex, Hex, Hex],
        "faccessat" | "faccessat2" => &[Dirfd, Path, Int, Hex],
        "readlinkat" => &[Dirfd, Path, Hex, Int],
        "mkdirat" | "fchmodat" => &[Dirfd, Path, Oct],
        "unlinkat" => &[Dirfd, Path, Hex],
        "execve" => &[Path, Hex, Hex],
        "close" | "fstat" | "dup" | "fsync" | "fdatasync" | "fchdir" => &[Int, Hex],
        "dup2" | "dup3" => &[Int, Int, Hex],
        "lseek" => &[Int, Int, Int],
        "ioctl" | "fcntl" => &[Int, Hex, Hex],
        "exit" | "exit_group" | "umask" => &[Int],
        "mmap" => &[Hex, Int, Hex, Hex, Int, Hex],
        "munmap" => &[Hex, Int],
        "mprotect" | "madvise" => &[Hex, Int, Hex],
        "brk" | "set_tid_address" | "uname" | "sysinfo" | "time" => &[Hex],
        "arch_prctl" | "prctl" | "gettimeofday" | "getcwd" => &[Hex, Hex],
        "set_robust_list" => &[Hex, Int],
        "rseq" => &[Hex, Int, Hex, Hex],
        "prlimit64" => &[Int, Int, Hex, Hex],
        "getrandom" => &[Hex, Int, Hex],
        "clock_gettime" | "clock_getres" | "nanosleep" => &[Int, Hex],
        "rt_sigaction" | "rt_sigprocmask" => &[Int, Hex, Hex, Int],
        "getpid" | "getppid" | "getuid" | "geteuid" | "getgid" | "getegid" | "gettid"
        | "sched_yield" | "getpgrp" | "sync" | "pause" | "fork" | "vfork" => &[],
        _ => &[Hex, Hex, Hex, Hex, Hex, Hex],
    }
}

fn quote(out: &mut String, bytes: &[u8], more: bool) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    if more {
        out.push_str("...");
    }
}

/// The line up to the closing parenthesis, formatted at syscall entry (before
/// the call changes the memory its arguments point at).
pub fn entry<H: Host>(k: &mut Kernel<H>, nr: u64, a: [u64; 6]) -> String {
    let n = name(nr as usize).unwrap_or("syscall");
    let mut s = format!("[pid {}] ", k.cur);
    if name(nr as usize).is_none() {
        let _ = write!(s, "syscall_{nr:#x}(");
    } else {
        let _ = write!(s, "{n}(");
    }
    let kinds = spec(n);
    // Show only as many arguments as the call has (unknown calls: all six).
    for (i, kind) in kinds.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let v = a[i];
        match kind {
            Arg::Int => {
                let _ = write!(s, "{}", super::uabi::long_arg(v));
            }
            Arg::Hex => {
                let _ = write!(s, "{v:#x}");
            }
            Arg::Oct => {
                let _ = write!(s, "{v:#o}");
            }
            Arg::Dirfd if v as i32 == umbra_abi::flags::AT_FDCWD => s.push_str("AT_FDCWD"),
            Arg::Dirfd => {
                let _ = write!(s, "{}", v as i32);
            }
            Arg::Path => match k.user().read_cstr(v, 4096) {
                Ok(p) => quote(&mut s, &p, false),
                Err(_) => {
                    let _ = write!(s, "{v:#x}");
                }
            },
            Arg::Buf => {
                let len = (a[i + 1] as usize).min(32);
                match k.user().read_vec(v, len) {
                    Ok(b) => quote(&mut s, &b, (a[i + 1] as usize) > len),
                    Err(_) => {
                        let _ = write!(s, "{v:#x}");
                    }
                }
            }
        }
    }
    s
}

/// Completes and logs the line with the result.
pub fn exit<H: Host>(k: &mut Kernel<H>, _nr: u64, _a: [u64; 6], line: String, r: SysResult) {
    match r {
        Ok(v) if v > 0xffff => k
            .host
            .log(LogLevel::Trace, format_args!("{line}) = {v:#x}")),
        Ok(v) => k.host.log(LogLevel::Trace, format_args!("{line}) = {v}")),
        Err(e) => k.host.log(
            LogLevel::Trace,
            format_args!(
                "{line}) = -1 {} ({})",
                e.name(),
                crate::kernel::errno_text(e)
            ),
        ),
    }
}
