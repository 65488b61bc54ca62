//! devfs: the character devices every program expects in /dev (null, zero, full,
//! random, urandom, console, tty), and the console files bound to the guest's
//! fds 0, 1 and 2.
//!
//! The /dev directory is an ordinary tmpfs holding device nodes; the drivers live
//! in the VFS's device table keyed by device number, as Linux's chrdev table, so a
//! node made with mknod anywhere reaches the same driver. The console is the host's
//! stdin and stdout (stderr for fd 2). It is passed through raw: the host terminal
//! does the line editing; a line discipline of our own belongs in `tty/`. Terminal
//! ioctls answer only when the host stream really is a terminal, so `isatty` in the
//! guest tells the same truth as on the host.

use alloc::sync::Arc;
use core::any::Any;

use spin::Mutex;
use umbra_abi::flags::{
    OpenFlags, FIONREAD, O_RDWR, S_IFCHR, TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGWINSZ, TIOCSWINSZ,
};
use umbra_abi::structs::{Termios, Timespec, Winsize};
use umbra_abi::Pod;

use super::file::OpenFile;
use super::path::{FollowLast, Vfs};
use super::tmpfs::TmpFs;
use super::vfs::{
    makedev, Cred, FileOps, FileType, IoCtx, IoctlArg, Metadata, NewNode, PollEvents,
};
use crate::error::{Errno, KResult};
use crate::host::{ConsoleRead, ConsoleStream};

/// /dev/null: reads end at once, writes vanish.
pub struct Null;
/// /dev/zero: reads give zeros, writes vanish.
pub struct Zero;
/// /dev/full: reads give zeros, writes fail with ENOSPC.
pub struct Full;
/// /dev/random and /dev/urandom: the host's entropy.
pub struct Random;

impl FileOps for Null {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &mut [u8]) -> KResult<usize> {
        Ok(0)
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        Ok(buf.len())
    }
    fn seekable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for Zero {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        Ok(buf.len())
    }
    fn seekable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for Full {
    fn read(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::ENOSPC)
    }
    fn seekable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl FileOps for Random {
    fn read(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        ctx.random(buf);
        Ok(buf.len())
    }
    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        // Writing adds entropy on Linux; here it is accepted and ignored.
        Ok(buf.len())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Terminal state shared by every file on the console: what TCSETS stored, so
/// TCGETS gives it back (programs save and restore modes).
pub struct ConsoleState {
    termios: Mutex<Termios>,
    winsize: Mutex<Option<Winsize>>,
}

impl Default for ConsoleState {
    fn default() -> Self {
        ConsoleState {
            termios: Mutex::new(default_termios()),
            winsize: Mutex::new(None),
        }
    }
}

/// The termios of a fresh Linux terminal (`stty sane`, 38400 baud, 8 bits).
pub fn default_termios() -> Termios {
    const ICRNL: u32 = 0o400;
    const IXON: u32 = 0o2000;
    const OPOST: u32 = 0o1;
    const ONLCR: u32 = 0o4;
    const B38400: u32 = 0o17;
    const CS8: u32 = 0o60;
    const CREAD: u32 = 0o200;
    const HUPCL: u32 = 0o2000;
    const ISIG: u32 = 0o1;
    const ICANON: u32 = 0o2;
    const ECHO: u32 = 0o10;
    const ECHOE: u32 = 0o20;
    const ECHOK: u32 = 0o40;
    const ECHOCTL: u32 = 0o1000;
    const ECHOKE: u32 = 0o4000;
    const IEXTEN: u32 = 0o100000;
    // VINTR VQUIT VERASE VKILL VEOF VTIME VMIN VSWTC VSTART VSTOP VSUSP VEOL
    // VREPRINT VDISCARD VWERASE VLNEXT VEOL2
    let cc = [
        3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0,
    ];
    let mut c_cc = [0u8; 19];
    for (d, s) in c_cc.iter_mut().zip(cc) {
        *d = s;
    }
    Termios {
        c_iflag: ICRNL | IXON,
        c_oflag: OPOST | ONLCR,
        c_cflag: B38400 | CS8 | CREAD | HUPCL,
        c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
        c_line: 0,
        c_cc,
    }
}

/// A file on the guest console: reads come from the host's stdin, writes go to
/// `out`. `tty` is the host stream whose tty-ness the terminal ioctls report.
pub struct ConsoleFile {
    out: ConsoleStream,
    tty: ConsoleStream,
    rdev: u64,
    state: Arc<ConsoleState>,
}

impl ConsoleFile {
    /// A console file writing to `out`, reporting the terminal-ness of `tty`.
    pub fn new(out: ConsoleStream, tty: ConsoleStream, state: Arc<ConsoleState>) -> ConsoleFile {
        ConsoleFile {
            out,
            tty,
            rdev: makedev(5, 1),
            state,
        }
    }

    /// The host stream writes go to.
    pub fn stream(&self) -> ConsoleStream {
        self.out
    }
}

impl FileOps for ConsoleFile {
    fn read(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &mut [u8]) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match ctx.console_read(buf)? {
            ConsoleRead::Data(n) => Ok(n.min(buf.len())),
            ConsoleRead::WouldBlock => Err(Errno::EAGAIN),
            ConsoleRead::Eof => Ok(0),
        }
    }

    fn write(&self, ctx: &mut dyn IoCtx, _off: u64, buf: &[u8]) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = ctx.console_write(self.out, buf)?;
        Ok(n.min(buf.len()))
    }

    fn poll(&self, _ctx: &mut dyn IoCtx) -> PollEvents {
        // The host interface has no readiness query for stdin yet: report
        // readable, and a read that finds nothing returns EAGAIN.
        PollEvents::POLLIN | PollEvents::POLLOUT | PollEvents::POLLRDNORM | PollEvents::POLLWRNORM
    }

    fn ioctl(&self, ctx: &mut dyn IoCtx, cmd: u32, arg: &mut dyn IoctlArg) -> KResult<usize> {
        if !ctx.console_is_tty(self.tty) {
            return Err(Errno::ENOTTY);
        }
        match cmd {
            TCGETS => {
                let mut b = [0u8; Termios::SIZE];
                self.state.termios.lock().encode(&mut b);
                arg.write_out(&b)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                let mut b = [0u8; Termios::SIZE];
                arg.read_in(&mut b)?;
                *self.state.termios.lock() = Termios::decode(&b);
                Ok(0)
            }
            TIOCGWINSZ => {
                let ws = (*self.state.winsize.lock())
                    .or_else(|| ctx.console_winsize())
                    .unwrap_or(Winsize {
                        ws_row: 24,
                        ws_col: 80,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    });
                let mut b = [0u8; Winsize::SIZE];
                ws.encode(&mut b);
                arg.write_out(&b)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let mut b = [0u8; Winsize::SIZE];
                arg.read_in(&mut b)?;
                *self.state.winsize.lock() = Some(Winsize::decode(&b));
                Ok(0)
            }
            FIONREAD => {
                // Unknown without a readiness query: report nothing pending.
                arg.write_out(&0i32.to_ne_bytes())?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> Option<Metadata> {
        Some(Metadata {
            dev: 0,
            ino: 0,
            mode: S_IFCHR | 0o620,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: self.rdev,
            size: 0,
            blksize: 1024,
            blocks: 0,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The devices: (name, major, minor, permissions).
const NODES: [(&str, u32, u32, u32); 7] = [
    ("null", 1, 3, 0o666),
    ("zero", 1, 5, 0o666),
    ("full", 1, 7, 0o666),
    ("random", 1, 8, 0o666),
    ("urandom", 1, 9, 0o666),
    ("tty", 5, 0, 0o666),
    ("console", 5, 1, 0o600),
];

/// Registers the drivers of the standard character devices in `vfs`; returns
/// the console state the stdio files share.
pub fn register_devices(vfs: &Vfs) -> Arc<ConsoleState> {
    let state = Arc::new(ConsoleState::default());
    vfs.register_chrdev(makedev(1, 3), Arc::new(Null));
    vfs.register_chrdev(makedev(1, 5), Arc::new(Zero));
    vfs.register_chrdev(makedev(1, 7), Arc::new(Full));
    vfs.register_chrdev(makedev(1, 8), Arc::new(Random));
    vfs.register_chrdev(makedev(1, 9), Arc::new(Random));
    for rdev in [makedev(5, 0), makedev(5, 1)] {
        let c = ConsoleFile {
            out: ConsoleStream::Stdout,
            tty: ConsoleStream::Stdin,
            rdev,
            state: state.clone(),
        };
        vfs.register_chrdev(rdev, Arc::new(c));
    }
    state
}

/// A fresh /dev: the device nodes, /dev/fd and std{in,out,err} links into
/// /proc/self/fd, and the directories pts and shm.
pub fn new_devfs(dev: u64, now: Timespec) -> KResult<TmpFs> {
    let fs = TmpFs::new(dev, now);
    let root = fs.root();
    for (name, major, minor, perm) in NODES {
        let attr = NewNode {
            kind: FileType::CharDevice,
            perm,
            uid: 0,
            gid: 0,
            rdev: makedev(major, minor),
            now,
        };
        root.create(name, &attr)?;
    }
    let link = NewNode {
        kind: FileType::Symlink,
        perm: 0o777,
        uid: 0,
        gid: 0,
        rdev: 0,
        now,
    };
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        root.symlink(name, target, &link)?;
    }
    let dir = NewNode {
        kind: FileType::Directory,
        perm: 0o755,
        ..link
    };
    root.create("pts", &dir)?;
    root.create(
        "shm",
        &NewNode {
            perm: 0o1777,
            ..dir
        },
    )?;
    Ok(fs)
}

/// Registers the drivers, builds /dev and mounts it (making the directory if the
/// root lacks it). Returns the console state for [`stdio_files`].
pub fn mount_devfs(vfs: &Vfs, now: Timespec) -> KResult<Arc<ConsoleState>> {
    let state = register_devices(vfs);
    let root = vfs.root();
    match root.inode().lookup("dev") {
        Ok(_) => {}
        Err(Errno::ENOENT) => {
            let dir = NewNode {
                kind: FileType::Directory,
                perm: 0o755,
                uid: 0,
                gid: 0,
                rdev: 0,
                now,
            };
            root.inode().create("dev", &dir)?;
        }
        Err(e) => return Err(e),
    }
    let at = vfs.lookup(&root, "/dev", FollowLast::Follow, &Cred::root())?;
    let fs = new_devfs(vfs.alloc_anon_dev(), now)?;
    vfs.mount(&at, fs.root(), "devtmpfs")?;
    Ok(state)
}

/// The open files for the first process's fds 0, 1 and 2: the console, writing
/// to host stdout for 0 and 1 and to host stderr for 2.
pub fn stdio_files(state: &Arc<ConsoleState>) -> [Arc<OpenFile>; 3] {
    let rw = OpenFlags::from_bits_retain(O_RDWR);
    let mk = |out, tty| -> Arc<OpenFile> {
        OpenFile::from_ops(Arc::new(ConsoleFile::new(out, tty, state.clone())), rw)
    };
    [
        mk(ConsoleStream::Stdout, ConsoleStream::Stdin),
        mk(ConsoleStream::Stdout, ConsoleStream::Stdout),
        mk(ConsoleStream::Stderr, ConsoleStream::Stderr),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::file::open;
    use crate::fs::file::tests::TestHost;
    use crate::fs::vfs::FsCtx;
    use alloc::vec::Vec;
    use umbra_abi::flags::{O_RDONLY, O_WRONLY};

    struct Arg(Vec<u8>);
    impl IoctlArg for Arg {
        fn raw(&self) -> u64 {
            0x1000
        }
        fn read_in(&mut self, buf: &mut [u8]) -> KResult<()> {
            let src = self.0.get(..buf.len()).ok_or(Errno::EFAULT)?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn write_out(&mut self, data: &[u8]) -> KResult<()> {
            self.0 = data.to_vec();
            Ok(())
        }
    }

    fn setup() -> (Vfs, Arc<ConsoleState>) {
        let fs = TmpFs::new(1, Timespec::default());
        let vfs = Vfs::new(fs.root(), "tmpfs");
        let st = mount_devfs(&vfs, Timespec::default()).unwrap();
        (vfs, st)
    }

    fn dev(vfs: &Vfs, path: &str, acc: u32) -> Arc<OpenFile> {
        open(
            vfs,
            &FsCtx::boot(),
            &vfs.root(),
            path,
            OpenFlags::from_bits_retain(acc),
            0,
        )
        .unwrap()
    }

    #[test]
    fn null_zero_full_random() {
        let (vfs, _) = setup();
        let mut h = TestHost::default();
        let mut b = [9u8; 8];
        let null = dev(&vfs, "/dev/null", O_RDWR);
        assert_eq!(null.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(null.write(&mut h, b"abc").unwrap(), 3);
        assert_eq!(null.lseek(0, 0).unwrap(), 0);
        assert_eq!(null.stat().unwrap().rdev, makedev(1, 3));
        let zero = dev(&vfs, "/dev/zero", O_RDONLY);
        assert_eq!(zero.read(&mut h, &mut b).unwrap(), 8);
        assert_eq!(b, [0; 8]);
        let full = dev(&vfs, "/dev/full", O_RDWR);
        assert_eq!(full.write(&mut h, b"x"), Err(Errno::ENOSPC));
        b = [1; 8];
        assert_eq!(full.read(&mut h, &mut b).unwrap(), 8);
        assert_eq!(b, [0; 8]);
        let r = dev(&vfs, "/dev/urandom", O_RDONLY);
        assert_eq!(r.read(&mut h, &mut b).unwrap(), 8);
        assert_eq!(b[..2], [1, 8]);
        assert_eq!(r.pread(&mut h, &mut b, 0), Err(Errno::ESPIPE));
        let mut a = Arg(Vec::new());
        assert_eq!(null.ioctl(&mut h, TCGETS, &mut a), Err(Errno::ENOTTY));
        // Linked or mknod'ed elsewhere, a node reaches the same driver.
        let root = vfs.root();
        let attr = NewNode {
            kind: FileType::CharDevice,
            perm: 0o666,
            uid: 0,
            gid: 0,
            rdev: makedev(1, 7),
            now: Timespec::default(),
        };
        root.inode().create("myfull", &attr).unwrap();
        assert_eq!(
            dev(&vfs, "/myfull", O_WRONLY).write(&mut h, b"x"),
            Err(Errno::ENOSPC)
        );
        let attr = NewNode {
            rdev: makedev(99, 1),
            ..attr
        };
        root.inode().create("nodrv", &attr).unwrap();
        assert_eq!(
            open(&vfs, &FsCtx::boot(), &root, "/nodrv", OpenFlags::empty(), 0).map(|_| ()),
            Err(Errno::ENXIO)
        );
        let names: Vec<_> = vfs
            .lookup(&root, "/dev", FollowLast::Follow, &Cred::root())
            .unwrap()
            .inode()
            .readdir(2, 100)
            .unwrap();
        assert_eq!(names.len(), 13);
    }

    #[test]
    fn console_reads_writes_and_ioctls() {
        let (vfs, st) = setup();
        let mut h = TestHost {
            stdin: b"hi\n".to_vec(),
            ..Default::default()
        };
        let [i, o, e] = stdio_files(&st);
        let mut b = [0u8; 8];
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 3);
        assert_eq!(&b[..3], b"hi\n");
        assert_eq!(i.read(&mut h, &mut b), Err(Errno::EAGAIN));
        h.stdin_eof = true;
        assert_eq!(i.read(&mut h, &mut b).unwrap(), 0);
        assert_eq!(o.write(&mut h, b"out").unwrap(), 3);
        assert_eq!(e.write(&mut h, b"err").unwrap(), 3);
        assert_eq!(
            (h.stdout.as_slice(), h.stderr.as_slice()),
            (&b"out"[..], &b"err"[..])
        );
        assert_eq!(o.lseek(0, 0), Err(Errno::ESPIPE));
        assert_eq!(o.stat().unwrap().mode & umbra_abi::flags::S_IFMT, S_IFCHR);

        // Not a terminal: isatty() must say no.
        let mut a = Arg(Vec::new());
        assert_eq!(o.ioctl(&mut h, TCGETS, &mut a), Err(Errno::ENOTTY));
        assert_eq!(o.ioctl(&mut h, TIOCGWINSZ, &mut a), Err(Errno::ENOTTY));
        h.tty = true;
        o.ioctl(&mut h, TCGETS, &mut a).unwrap();
        let mut t = Termios::decode(&a.0);
        assert_eq!(t, default_termios());
        t.c_lflag = 0;
        let mut enc = [0u8; Termios::SIZE];
        t.encode(&mut enc);
        let mut set = Arg(enc.to_vec());
        i.ioctl(&mut h, TCSETSW, &mut set).unwrap();
        // Shared with /dev/tty.
        let tty = dev(&vfs, "/dev/tty", O_RDWR);
        tty.ioctl(&mut h, TCGETS, &mut a).unwrap();
        assert_eq!(Termios::decode(&a.0).c_lflag, 0);
        tty.ioctl(&mut h, TIOCGWINSZ, &mut a).unwrap();
        assert_eq!(Winsize::decode(&a.0).ws_col, 80);
        assert_eq!(tty.ioctl(&mut h, 0x1234, &mut a), Err(Errno::ENOTTY));
        let mut short = Arg(Vec::new());
        assert_eq!(tty.ioctl(&mut h, TCSETS, &mut short), Err(Errno::EFAULT));
        assert_eq!(tty.write(&mut h, b"!").unwrap(), 1);
        assert_eq!(h.stdout, b"out!");
    }
}
