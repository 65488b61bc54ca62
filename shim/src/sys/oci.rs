//! Host calls of the OCI runtime mode (`umbra create`, `start`, `kill`, ...):
//! fork the container's supervisor, join a network namespace, the exec fifo,
//! the console socket (SCM_RIGHTS), signals to other processes and the
//! re-raise of the guest init's fatal signal. Each is a thin safe wrapper.

use super::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn last() -> Errno {
    Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(5))
}

fn check(r: libc::c_int) -> Result<libc::c_int, Errno> {
    if r < 0 {
        Err(last())
    } else {
        Ok(r)
    }
}

/// What `fork` returned in this process.
pub enum Forked {
    Parent(i32),
    Child,
}

/// fork(2). The caller must be single-threaded (umbra's CLI is), so the child
/// holds no lock another thread had.
pub fn fork() -> Result<Forked, Errno> {
    // SAFETY: fork has no memory-safety preconditions of its own; the child
    // only continues the single thread that called it.
    let pid = check(unsafe { libc::fork() })?;
    Ok(if pid == 0 {
        Forked::Child
    } else {
        Forked::Parent(pid)
    })
}

/// setsid(2).
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() }).map(|_| ())
}

/// Makes `fd` (a terminal) the caller's controlling terminal (TIOCSCTTY).
pub fn set_controlling_tty(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an int by value.
    check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) }).map(|_| ())
}

/// setns(2) into the network namespace at `path` (a /proc/PID/ns/net or a
/// bind-mounted namespace file).
pub fn join_net_namespace(path: &str) -> Result<(), Errno> {
    let f = std::fs::File::open(path).map_err(|e| Errno(e.raw_os_error().unwrap_or(5)))?;
    // SAFETY: `f` is an open fd for the duration of the call.
    check(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }).map(|_| ())
}

/// mkfifo(3) with `mode`.
pub fn mkfifo(path: &str, mode: u32) -> Result<(), Errno> {
    let c = CString::new(path).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `c` is a NUL-terminated path.
    check(unsafe { libc::mkfifo(c.as_ptr(), mode) }).map(|_| ())
}

/// mkdir(2) of `path` with mode 0777 less the umask, as std's create_dir
/// (whose DirBuilder brings create_dir_all and Path's component parser).
pub fn mkdir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a NUL-terminated path.
    check(unsafe { libc::mkdir(c.as_ptr(), 0o777) })
        .map(|_| ())
        .map_err(|e| std::io::Error::from_raw_os_error(e.0))
}

/// kill(2) of one process (`pid` > 0).
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    if pid <= 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: no pointers.
    check(unsafe { libc::kill(pid, sig) }).map(|_| ())
}

/// How a child ended, from waitpid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildEnd {
    Exited(i32),
    Signaled(i32),
}

/// waitpid(2) for child `pid`: None while it runs (with `nohang`).
pub fn wait_child(pid: i32, nohang: bool) -> Result<Option<ChildEnd>, Errno> {
    let mut st: libc::c_int = 0;
    loop {
        // SAFETY: `st` is a writable int.
        let r = unsafe { libc::waitpid(pid, &mut st, if nohang { libc::WNOHANG } else { 0 }) };
        if r < 0 {
            let e = last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Ok(None);
        }
        if libc::WIFEXITED(st) {
            return Ok(Some(ChildEnd::Exited(libc::WEXITSTATUS(st))));
        }
        if libc::WIFSIGNALED(st) {
            return Ok(Some(ChildEnd::Signaled(libc::WTERMSIG(st))));
        }
    }
}

/// What a program run by [`run_captured`] left: how it ended, its stdout and
/// its stderr.
pub struct Captured {
    pub end: ChildEnd,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `prog` (looked up in PATH) with `args` and umbra's environment, its
/// stdin /dev/null, and collects its stdout and stderr, as std's
/// `Command::output` does. The outputs go to two memory files read after the
/// child ends, so neither can fill up and stall it. posix_spawnp, not std's
/// `Command`, for size: `Command` brought 20 KB into the ROM build (its
/// environment map, pidfd and fork paths) for the one program `umbra ps`
/// runs.
pub fn run_captured(prog: &str, args: &[&str]) -> Result<Captured, Errno> {
    use std::io::{Read, Seek};
    use std::os::unix::ffi::OsStrExt;
    let cstr = |s: &[u8]| CString::new(s).map_err(|_| Errno::EINVAL);
    let argv: Vec<CString> = std::iter::once(prog)
        .chain(args.iter().copied())
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
        .collect::<Result<_, _>>()?;
    let ptrs = |v: &[CString]| -> Vec<*mut libc::c_char> {
        v.iter()
            .map(|c| c.as_ptr().cast_mut())
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect()
    };
    let (argp, envpp) = (ptrs(&argv), ptrs(&envp));
    let out = super::mem::memfd_named(c"umbra-out", libc::MFD_CLOEXEC as usize)?;
    let err = super::mem::memfd_named(c"umbra-err", libc::MFD_CLOEXEC as usize)?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: an all-zero posix_spawn_file_actions_t is a valid place for
    // posix_spawn_file_actions_init to write to.
    let mut fa: libc::posix_spawn_file_actions_t = unsafe { std::mem::zeroed() };
    // SAFETY: `fa` is writable and is destroyed below; the path is a
    // NUL-terminated literal; `out` and `err` stay open through the spawn;
    // `argp` and `envpp` are NULL-terminated arrays of pointers into
    // `argv` and `envp`, which outlive the call.
    let r = unsafe {
        let mut r = libc::posix_spawn_file_actions_init(&mut fa);
        if r == 0 {
            for (fd, to) in [(out.as_raw_fd(), 1), (err.as_raw_fd(), 2)] {
                if r == 0 {
                    r = libc::posix_spawn_file_actions_adddup2(&mut fa, fd, to);
                }
            }
            if r == 0 {
                r = libc::posix_spawn_file_actions_addopen(
                    &mut fa,
                    0,
                    c"/dev/null".as_ptr(),
                    libc::O_RDONLY,
                    0,
                );
            }
            if r == 0 {
                r = libc::posix_spawnp(
                    &mut pid,
                    argv[0].as_ptr(),
                    &fa,
                    std::ptr::null(),
                    argp.as_ptr(),
                    envpp.as_ptr(),
                );
            }
            libc::posix_spawn_file_actions_destroy(&mut fa);
        }
        r
    };
    if r != 0 {
        return Err(Errno(r));
    }
    let end = loop {
        if let Some(end) = wait_child(pid, false)? {
            break end;
        }
    };
    let read = |fd: OwnedFd| -> Result<Vec<u8>, Errno> {
        let mut f = std::fs::File::from(fd);
        let mut v = Vec::new();
        f.rewind()
            .and_then(|_| f.read_to_end(&mut v))
            .map_err(|e| Errno(e.raw_os_error().unwrap_or(5)))?;
        Ok(v)
    };
    Ok(Captured {
        end,
        stdout: read(out)?,
        stderr: read(err)?,
    })
}

/// dup2(2) onto `to` (clears close-on-exec on the copy).
pub fn dup_onto(from: RawFd, to: RawFd) -> Result<(), Errno> {
    // SAFETY: no pointers; `to` is replaced as dup2 documents.
    check(unsafe { libc::dup2(from, to) }).map(|_| ())
}

/// A pipe (read end, write end), both close-on-exec.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned these fds; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends `fds` over the connected Unix socket `sock` with SCM_RIGHTS, with
/// `data` (at least one byte) as the message.
pub fn send_fds(sock: RawFd, data: &[u8], fds: &[RawFd]) -> Result<(), Errno> {
    if data.is_empty() || fds.is_empty() || fds.len() > 8 {
        return Err(Errno::EINVAL);
    }
    let fd_bytes = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    // u64 elements: the control buffer is aligned for cmsghdr.
    let mut ctl = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is a valid value to fill in.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    // SAFETY: `msg` points at `ctl`, which has CMSG_SPACE(fd_bytes) bytes, so
    // the first header and its data (fd_bytes) fit in it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() {
            return Err(Errno::EINVAL);
        }
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
        std::ptr::copy_nonoverlapping(
            fds.as_ptr() as *const u8,
            libc::CMSG_DATA(c),
            fd_bytes as usize,
        );
    }
    loop {
        // SAFETY: `msg` and everything it points at are valid for the call;
        // `iov` only is read from.
        let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return Ok(());
        }
        let e = last();
        if e != Errno::EINTR {
            return Err(e);
        }
    }
}

/// Receives one message and up to `max_fds` fds (SCM_RIGHTS) from the Unix
/// socket `sock`: (bytes read, the fds). Fds beyond `max_fds` are closed by
/// the kernel (MSG_CTRUNC) and the message refused.
pub fn recv_fds(
    sock: RawFd,
    buf: &mut [u8],
    max_fds: usize,
) -> Result<(usize, Vec<OwnedFd>), Errno> {
    let max_fds = max_fds.clamp(1, 8);
    let fd_bytes = (max_fds * std::mem::size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut ctl = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is a valid value to fill in.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    let n = loop {
        // SAFETY: `msg` points at `buf` and `ctl`, both writable for their
        // stated lengths.
        let r = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if r >= 0 {
            break r as usize;
        }
        let e = last();
        if e != Errno::EINTR {
            return Err(e);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg.msg_control` with well-formed headers of
    // at most `msg_controllen` bytes; CMSG_NXTHDR stays within them, and each
    // SCM_RIGHTS payload holds (cmsg_len - CMSG_LEN(0)) / 4 fds that are now
    // ours.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let count = len / std::mem::size_of::<RawFd>();
                let data = libc::CMSG_DATA(c) as *const RawFd;
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((n, fds))
}

/// Sets RLIMIT_CORE to 0: re-raising the guest's fatal signal must not
/// make the host dump umbra's core.
pub fn no_core_dumps() -> Result<(), Errno> {
    let r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid rlimit.
    check(unsafe { libc::setrlimit(libc::RLIMIT_CORE, &r) }).map(|_| ())
}

/// The signals whose default action ends a process (terminate, or dump
/// core), but SIGKILL: what umbra may raise on itself once confined, to die
/// as the guest's init died.
pub const DEADLY: &[u32] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 24, 25, 26, 27, 29, 30, 31, 34, 35, 36, 37,
    38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,
    62, 63, 64,
];

/// Ends this process by signal `sig`, with its default action (the guest's
/// init died of it and the supervisor's waiter must see the same, as a
/// runc container's init is reaped). Falls back to exit(128 + sig) when the
/// signal does not kill or may not be sent: `confined` (umbra's seccomp
/// filter lets it raise only [`DEADLY`] and SIGKILL; any other would be
/// SIGSYS).
pub fn die_of_signal(sig: i32, confined: bool) -> ! {
    let deadly = sig == libc::SIGKILL || DEADLY.contains(&(sig as u32));
    if confined && !deadly {
        std::process::exit(128 + sig);
    }
    // struct kernel_sigaction { handler = SIG_DFL, flags, restorer, mask }.
    let sa = [0u64; 4];
    let mut set = [0u64; 1];
    if (1..=64).contains(&sig) {
        set[0] = 1u64 << (sig - 1);
    }
    // SAFETY: `sa` is a readable kernel sigaction and `set` a readable
    // 8-byte sigset; raw syscalls, as umbra's seccomp filter allows them.
    unsafe {
        libc::syscall(libc::SYS_rt_sigaction, sig, sa.as_ptr(), 0usize, 8usize);
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_UNBLOCK,
            set.as_ptr(),
            0usize,
            8usize,
        );
        if sig == libc::SIGKILL {
            libc::syscall(libc::SYS_kill, libc::getpid(), sig);
        } else {
            let tid = libc::syscall(libc::SYS_gettid);
            libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig);
        }
    }
    std::process::exit(128 + sig)
}

/// Closes every fd from `first` up (what the caller inherited and does not
/// pass on: runc closes all but stdio and `--preserve-fds`).
pub fn close_fds_from(first: i32) {
    let first = first.max(3) as libc::c_uint;
    // SAFETY: close_range only closes fds; nothing in this process holds
    // an fd from `first` up at the call (the caller runs it first thing).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, 0) };
    if r == 0 {
        return;
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|&fd| fd >= first as i32) {
        // SAFETY: as above; the read_dir fd itself is gone by now (EBADF).
        unsafe { libc::close(fd) };
    }
}

/// The child `forward_signals_to` passes signals on to.
static FORWARD_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_forward_to_child(sig: libc::c_int) {
    let pid = FORWARD_PID.load(std::sync::atomic::Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe and takes no pointers.
        unsafe { libc::kill(pid, sig) };
    }
}

/// `umbra run` in the foreground: `sigs` sent to it go on to `pid` (the
/// supervisor), as runc's signal forwarding does.
pub fn forward_signals_to(pid: i32, sigs: &[i32]) {
    FORWARD_PID.store(pid, std::sync::atomic::Ordering::SeqCst);
    for &s in sigs {
        // SAFETY: the handler is an async-signal-safe extern "C" fn of the
        // plain signature; SA_RESTART so that waitpid goes on.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_forward_to_child as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

/// accept4 on the listening socket `fd` (non-blocking, close-on-exec).
pub fn accept(fd: RawFd) -> Result<OwnedFd, Errno> {
    let (nfd, _) = super::net::accept(fd)?;
    // SAFETY: accept4 just returned `nfd`; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(nfd) })
}

/// A connected pair of Unix stream sockets (close-on-exec).
pub fn socketpair() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two fds socketpair writes.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: the kernel just returned these fds; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A listening Unix stream socket bound at `path` (non-blocking,
/// close-on-exec), for the supervisor's exec requests.
pub fn listen_unix(path: &str) -> Result<OwnedFd, Errno> {
    let l = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| Errno(e.raw_os_error().unwrap_or(5)))?;
    l.set_nonblocking(true)
        .map_err(|e| Errno(e.raw_os_error().unwrap_or(5)))?;
    Ok(OwnedFd::from(l))
}

/// shutdown(fd, SHUT_WR).
pub fn shutdown_write(fd: RawFd) {
    // SAFETY: no pointers.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}

/// The recvmsg syscall number, for the supervisor's seccomp allow-list.
pub const NR_RECVMSG: usize = libc::SYS_recvmsg as usize;

/// Waits up to `ms` for any of `fds` to be readable (or hung up).
pub fn poll_any(fds: &[RawFd], ms: i32) -> Result<usize, Errno> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` holds `p.len()` pollfd structs that poll may write.
    check(unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms) }).map(|n| n as usize)
}

/// Signals caught by `catch_signals`, one bit each (bit `sig - 1`).
static CAUGHT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn on_catch(sig: libc::c_int) {
    if (1..=64).contains(&sig) {
        CAUGHT.fetch_or(1u64 << (sig - 1), std::sync::atomic::Ordering::SeqCst);
    }
}

/// From now on `sigs` sent to this process are only recorded, for
/// [`take_caught`] (`umbra exec` passes them on to its process, as runc's
/// exec forwards signals). No SA_RESTART: a wait returns EINTR at once.
pub fn catch_signals(sigs: &[i32]) {
    for &s in sigs {
        // SAFETY: the handler is an async-signal-safe extern "C" fn of the
        // plain signature (an atomic or).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_catch as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

/// The signals caught since the last call (bit `sig - 1`).
pub fn take_caught() -> u64 {
    CAUGHT.swap(0, std::sync::atomic::Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_captured_keeps_both_outputs_and_the_end() {
        // 200 KB on stdout: more than a pipe holds, so a reader that waited
        // for the end first would hang.
        let c = run_captured(
            "sh",
            &[
                "-c",
                "head -c 200000 /dev/zero; echo err >&2; read x && exit 9; exit 3",
            ],
        )
        .unwrap();
        assert_eq!(c.end, ChildEnd::Exited(3), "stdin is /dev/null: read fails");
        assert_eq!(c.stdout.len(), 200_000);
        assert_eq!(c.stderr, b"err\n");
        let c = run_captured("sh", &["-c", "kill -TERM $$"]).unwrap();
        assert_eq!(c.end, ChildEnd::Signaled(libc::SIGTERM));
        assert_eq!(
            run_captured("umbra-no-such-program", &[]).err(),
            Some(Errno::ENOENT)
        );
        assert_eq!(run_captured("sh", &["a\0b"]).err(), Some(Errno::EINVAL));
    }
}
