//! procfs: /proc as a live view of the kernel's processes. Lookups, link
//! reads, listings and reads consult the kernel's state when they happen, as
//! Linux's procfs does; there is no snapshot to refresh, so every route to a
//! node (a path under /proc, the /dev/fd links, a cwd or a directory fd
//! inside /proc, openat relative to one) sees the same truth.
//!
//! The kernel owns every process and the VFS holds no reference to it, so
//! procfs reaches the kernel's state in two ways:
//!
//! - **Names** (which pids exist, /proc/self, the fd links, cwd and exe links,
//!   owners) come from a [`ProcDir`] shared with the kernel. Its fd tables are
//!   the processes' tables themselves ([`FdSource`], held weakly), so an open,
//!   dup or close is visible the moment it happens. The rest of an entry is
//!   published by the kernel at the moments it changes: a process appears
//!   (spawn, fork), execs, exits or is reaped; its cwd, root, owners and name at the
//!   end of each of its own syscalls (only its own syscalls change them); and
//!   `self` when the kernel starts serving a syscall.
//! - **Contents** (stat, status, maps, meminfo, ...) are made from the kernel's
//!   state at the read itself: the kernel's I/O context hands the read a
//!   [`ProcView`] ([`IoCtx::proc_view`]). A file's text is generated when it
//!   is read at offset 0 and kept for reads further on, as Linux's seq_file
//!   does, so one `cat` sees one consistent text and a reader that seeks back
//!   to 0 sees fresh numbers.
//!
//! Formats follow Linux 6.1 (fs/proc/array.c, task_mmu.c, meminfo.c, fd.c,
//! ...), so busybox's ps, free, uptime, mount, df and top parse them
//! unmodified.
//!
//! Links under /proc/PID/fd name the file as Linux does: the path for files
//! opened by path, `pipe:[N]` for pipes and `anon_inode:[N]` for other files
//! without a path (the console on fds 0-2). Those names are relative and
//! resolve inside the fd directory itself to a node that opens the same
//! stream, so `/dev/stderr` (→ /proc/self/fd/2) writes to the right host
//! stream; Linux reopens such files through its magic links the same way.
//! N is derived from the stream's address, not a pipefs inode number.

use crate::vecmap::VecMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::fmt::Write;

use spin::Mutex;
use umbra_abi::structs::Timespec;

use super::devfs::ConsoleFile;
use super::file::OpenFile;
use super::path::PathRef;
use super::pipe::{PipeReader, PipeWriter};
use super::vfs::{DirEntry, FileOps, FileType, Inode, IoCtx, Metadata};
use crate::error::{Errno, KResult};

/// The model name /proc/cpuinfo reports.
pub const CPU_MODEL: &str = "umbra virtual CPU";
/// /proc/sys/kernel/pid_max: pids wrap below it (kernel/process.rs).
pub const PID_MAX: u32 = 4_194_304;
/// Clock ticks per second (USER_HZ) of the times in /proc/PID/stat and /proc/stat.
pub const USER_HZ: u64 = 100;
/// /proc/sys/vm/max_map_count: Linux's default limit on mappings per process.
pub const MAX_MAP_COUNT: u32 = 65_530;

/// One line of /proc/PID/maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapEntry {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub shared: bool,
    /// File offset in bytes (0 for anonymous memory).
    pub offset: u64,
    pub dev: u64,
    pub ino: u64,
    /// The file path, `[heap]`, `[stack]`, or "".
    pub name: String,
}

/// A process's fd table as procfs reads it: the table itself, not a copy.
pub trait FdSource: Send + Sync {
    /// The file open at `fd` and whether it is close-on-exec.
    fn fd(&self, fd: i32) -> Option<(Arc<OpenFile>, bool)>;
    /// The open descriptors, in increasing order.
    fn fds(&self) -> Vec<(i32, Arc<OpenFile>)>;
}

/// What the names under /proc need of one process (see the module doc for
/// when the kernel publishes it).
#[derive(Clone, Default)]
pub struct ProcEntry {
    /// The process's fd table; weak, so procfs never keeps a file open (a
    /// pipe's reader must see end of file). None for a zombie.
    pub fds: Option<Weak<dyn FdSource>>,
    pub cwd: Option<PathRef>,
    /// The root directory (chroot).
    pub root: Option<PathRef>,
    pub exe: Vec<u8>,
    /// The command name; a zombie keeps the one it had.
    pub comm: Vec<u8>,
    pub euid: u32,
    pub egid: u32,
    /// Exited, not yet reaped: no files, no links.
    pub zombie: bool,
    /// Its threads' ids (/proc/PID/task), the leader's (the pid) first; the
    /// leader's stays while the process lives, as Linux keeps it.
    pub tids: Vec<u32>,
}

impl ProcEntry {
    fn fd_table(&self) -> Option<Arc<dyn FdSource>> {
        self.fds.as_ref().and_then(Weak::upgrade)
    }
}

/// The processes procfs names, shared by the kernel and the procfs inodes.
#[derive(Default)]
pub struct ProcDir {
    /// The pid /proc/self names: the process whose syscall is being served.
    pub self_pid: u32,
    /// The thread /proc/thread-self names: the caller of that syscall (0:
    /// the same as `self_pid`).
    pub self_tid: u32,
    /// Wall-clock time of that syscall (the inodes' timestamps).
    pub now: Timespec,
    pub procs: VecMap<u32, ProcEntry>,
}

/// The directory shared by the kernel and the procfs inodes.
pub type SharedDir = Arc<Mutex<ProcDir>>;

/// The kernel's state as the contents of /proc files show it, read at the
/// time of the read (the kernel's I/O context provides it).
pub trait ProcView {
    /// What /proc shows of process `pid` now, zombies included.
    fn process(&self, pid: u32) -> Option<ProcInfo>;
    /// What /proc/PID/task/TID shows of thread `tid` of process `pid`: the
    /// process's view with the thread's id, state, signals and CPU time.
    fn task(&self, pid: u32, tid: u32) -> Option<ProcInfo> {
        let mut p = self.process(pid)?;
        p.pid = tid;
        Some(p)
    }
    /// Machine-wide numbers now.
    fn system(&self) -> SysSummary;
    /// Processes, zombies included.
    fn count(&self) -> usize;
}

/// One open descriptor of /proc/PID/fd.
#[derive(Clone)]
pub struct FdEntry {
    pub fd: i32,
    /// What readlink shows.
    pub target: Vec<u8>,
    /// The stream of a file without a path, to reopen it through the link.
    pub ops: Option<Arc<dyn FileOps>>,
    /// The node kind a reopen presents (a character device, a fifo).
    pub kind: FileType,
    /// The link's permission bits: r-x for reading, -wx for writing, as Linux.
    pub perm: u32,
}

/// The /proc/PID/fd entry of an open file.
pub fn fd_entry(fd: i32, f: &Arc<OpenFile>) -> FdEntry {
    let perm = match (f.readable(), f.writable()) {
        (true, true) => 0o700,
        (true, false) => 0o500,
        (false, true) => 0o300,
        (false, false) => 0,
    };
    if let Some(path) = f.path() {
        return FdEntry {
            fd,
            target: path.absolute_path(),
            ops: None,
            kind: FileType::Symlink,
            perm,
        };
    }
    let Some(ops) = f.ops() else {
        return FdEntry {
            fd,
            target: format!("anon_inode:[{fd}]").into_bytes(),
            ops: None,
            kind: FileType::Regular,
            perm,
        };
    };
    let id = stream_id(ops);
    let any = ops.as_any();
    let pipe = any.is::<PipeReader>() || any.is::<PipeWriter>();
    let kind = if pipe {
        FileType::Fifo
    } else if any.is::<ConsoleFile>() {
        FileType::CharDevice
    } else {
        ops.stat()
            .as_ref()
            .and_then(Metadata::file_type)
            .unwrap_or(FileType::CharDevice)
    };
    FdEntry {
        fd,
        target: if pipe {
            format!("pipe:[{id}]").into_bytes()
        } else if kind == FileType::Socket {
            // Linux's sockfs name, with the inode number fstat reports.
            let ino = ops.stat().map_or(id, |m| m.ino);
            format!("socket:[{ino}]").into_bytes()
        } else if let Some(name) = ops.anon_name() {
            format!("anon_inode:{name}").into_bytes()
        } else {
            format!("anon_inode:[{id}]").into_bytes()
        },
        ops: Some(ops.clone()),
        kind,
        perm,
    }
}

/// A stable number for a stream without a path: its address.
fn stream_id(ops: &Arc<dyn FileOps>) -> u64 {
    (Arc::as_ptr(ops) as *const () as usize as u64 >> 4) % 10_000_000
}

/// What /proc shows of one process.
#[derive(Clone, Default)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    /// R, S, T or Z.
    pub state: u8,
    pub comm: Vec<u8>,
    /// argv entries (see kernel/procfs.rs for how they are told from envp).
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub exe: Vec<u8>,
    pub cwd: Vec<u8>,
    /// The root directory (chroot), absolute; empty is `/`.
    pub root: Vec<u8>,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// Saved and filesystem ids (status's third and fourth columns).
    pub suid: u32,
    pub fsuid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    /// Capability sets: inheritable, permitted, effective, bounding.
    pub caps: [u64; 4],
    pub no_new_privs: bool,
    pub umask: u32,
    /// The fd table size (FDSize).
    pub fd_size: usize,
    pub maps: Vec<MapEntry>,
    /// Resident pages.
    pub rss_pages: u64,
    /// Bytes locked by mlock(2) and mlockall(2) (VmLck).
    pub locked_bytes: u64,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
    /// utime, stime, cutime, cstime in clock ticks.
    pub cpu_ticks: [u64; 4],
    /// Signals pending for the thread and for the process, blocked, ignored
    /// and caught, one bit per signal (bit 0 is signal 1).
    pub sig_pending: u64,
    pub sig_shared: u64,
    pub sig_blocked: u64,
    pub sig_ignored: u64,
    pub sig_caught: u64,
    pub exit_signal: u32,
    pub brk_start: u64,
    pub brk: u64,
    pub nice: i32,
    /// An exited process not yet reaped: no memory, no files.
    pub zombie: bool,
    /// Its number of threads.
    pub threads: u32,
}

impl ProcInfo {
    /// Total mapped bytes.
    pub fn vm_size(&self) -> u64 {
        self.maps
            .iter()
            .map(|m| m.end.saturating_sub(m.start))
            .sum()
    }

    fn vm_sum(&self, f: impl Fn(&MapEntry) -> bool) -> u64 {
        self.maps
            .iter()
            .filter(|m| f(m))
            .map(|m| m.end.saturating_sub(m.start))
            .sum()
    }

    fn code_range(&self) -> (u64, u64) {
        let code = self
            .maps
            .iter()
            .filter(|m| m.exec && !m.name.starts_with('['));
        let start = code.clone().map(|m| m.start).min().unwrap_or(0);
        let end = code.map(|m| m.end).max().unwrap_or(0);
        (start, end)
    }

    fn stack_start(&self) -> u64 {
        self.maps
            .iter()
            .find(|m| m.name == "[stack]")
            .map_or(0, |m| m.end)
    }
}

/// One line of /proc/mounts and /proc/PID/mountinfo.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountLine {
    pub source: String,
    pub path: String,
    pub fstype: String,
    /// Mounted read-only: the options start with `ro`.
    pub ro: bool,
    /// The options ("rw,nosuid,relatime"), as `MountInfo::options`.
    pub options: String,
    /// The mount id (/proc/PID/fdinfo's mnt_id).
    pub id: u32,
    /// The id of the mount this one is on (the root's own id).
    pub parent: u32,
    /// The filesystem's device number.
    pub dev: u64,
    /// The filesystem itself is read-only (mountinfo's super options).
    pub fs_ro: bool,
    /// The filesystem's own options ("mode=755"), after the generic ones.
    pub data: String,
}

/// Machine-wide numbers.
#[derive(Clone, Debug, Default)]
pub struct SysSummary {
    pub mem_total_kb: u64,
    pub mem_free_kb: u64,
    /// Memory held by the page cache of mapped files.
    pub cached_kb: u64,
    pub uptime_ns: u64,
    /// Wall-clock time of boot, seconds since the epoch.
    pub btime: u64,
    /// Processes created since boot.
    pub forks: u64,
    pub running: u32,
    pub blocked: u32,
    pub last_pid: u32,
    pub mounts: Vec<MountLine>,
    pub hostname: String,
    pub domainname: String,
    pub osrelease: String,
    pub version: String,
    /// The highest RLIMIT_NOFILE a process may set (/proc/sys/fs/nr_open).
    pub nr_open: u64,
    /// /proc/sysvipc/shm, sem and msg.
    pub sysvipc: [Vec<u8>; 3],
    /// /proc/net/dev, if_inet6, tcp, tcp6, udp, udp6 and unix.
    pub net: [Vec<u8>; 7],
}

/// Whether `f` is a file or directory of procfs.
pub fn is_procfs(f: &OpenFile) -> bool {
    f.inode().is_some_and(|i| i.as_any().is::<ProcNode>())
}

/// The root directory of a procfs with device number `dev` naming the
/// processes of `dir`.
pub fn new_procfs(dev: u64, dir: SharedDir) -> Arc<dyn Inode> {
    Arc::new(ProcNode {
        fs: Arc::new(Shared { dir, dev }),
        node: Node::Root,
    })
}

struct Shared {
    dir: SharedDir,
    dev: u64,
}

/// Files of /proc itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Global {
    Meminfo,
    Cpuinfo,
    Uptime,
    Loadavg,
    Mounts,
    Filesystems,
    Version,
    Stat,
}

/// Directories of /proc/sys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SysDir {
    Top,
    Kernel,
    Vm,
    Fs,
    /// /proc/sysvipc (at the root, listed with the /proc/sys files).
    Sysvipc,
    /// /proc/net (at the root too; a directory here, a link to self/net
    /// on Linux).
    Net,
}

/// Files of /proc/sys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SysFile {
    Hostname,
    Domainname,
    Ostype,
    Osrelease,
    PidMax,
    OvercommitMemory,
    MaxMapCount,
    FileMax,
    NrOpen,
    PipeMaxSize,
    /// The System V IPC limits (crate::ipc's, Linux's defaults).
    Shmmax,
    Shmall,
    Shmmni,
    Sem,
    Msgmax,
    Msgmnb,
    Msgmni,
    /// /proc/sysvipc/shm, sem, msg.
    SysvShm,
    SysvSem,
    SysvMsg,
    /// /proc/net/dev and if_inet6.
    NetDev,
    NetIfInet6,
    /// /proc/net/tcp, tcp6, udp, udp6, unix.
    NetTcp,
    NetTcp6,
    NetUdp,
    NetUdp6,
    NetUnix,
    /// /proc/net/raw, raw6 and packet: umbra has no raw or packet
    /// sockets, so these hold Linux's header line only.
    NetRaw,
    NetRaw6,
    NetPacket,
}

/// Files of /proc/PID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PidFile {
    Stat,
    Status,
    Statm,
    Cmdline,
    Environ,
    Maps,
    Comm,
    Mounts,
    Mountinfo,
}

/// Symlinks of /proc/PID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PidLink {
    Exe,
    Cwd,
    Root,
}

#[derive(Clone)]
enum Node {
    Root,
    SelfLink,
    ThreadSelf,
    Global(Global),
    Sys(SysDir),
    SysFile(SysFile),
    Pid(u32),
    PidFile(u32, PidFile),
    PidLink(u32, PidLink),
    FdDir(u32),
    FdLink(u32, i32),
    FdInfoDir(u32),
    FdInfo(u32, i32),
    Task(u32),
    /// /proc/PID/task/TID: the thread's view, a PID directory without `task`.
    TaskPid(u32, u32),
    /// A file of /proc/PID/task/TID.
    TaskFile(u32, u32, PidFile),
    /// A file without a path reached through its fd link.
    Reopen(Arc<dyn FileOps>, FileType),
}

const ROOT_FILES: [(&str, Global); 8] = [
    ("meminfo", Global::Meminfo),
    ("cpuinfo", Global::Cpuinfo),
    ("uptime", Global::Uptime),
    ("loadavg", Global::Loadavg),
    ("mounts", Global::Mounts),
    ("filesystems", Global::Filesystems),
    ("version", Global::Version),
    ("stat", Global::Stat),
];

const SYS_DIRS: [(&str, SysDir); 3] = [
    ("fs", SysDir::Fs),
    ("kernel", SysDir::Kernel),
    ("vm", SysDir::Vm),
];

/// The files of each /proc/sys directory, with their modes.
const SYS_FILES: [(SysDir, &str, SysFile, u32); 30] = [
    (SysDir::Kernel, "domainname", SysFile::Domainname, 0o644),
    (SysDir::Kernel, "hostname", SysFile::Hostname, 0o644),
    (SysDir::Kernel, "ostype", SysFile::Ostype, 0o444),
    (SysDir::Kernel, "osrelease", SysFile::Osrelease, 0o444),
    (SysDir::Kernel, "pid_max", SysFile::PidMax, 0o644),
    (
        SysDir::Vm,
        "overcommit_memory",
        SysFile::OvercommitMemory,
        0o644,
    ),
    (SysDir::Vm, "max_map_count", SysFile::MaxMapCount, 0o644),
    (SysDir::Fs, "file-max", SysFile::FileMax, 0o644),
    (SysDir::Fs, "nr_open", SysFile::NrOpen, 0o644),
    (SysDir::Fs, "pipe-max-size", SysFile::PipeMaxSize, 0o644),
    (SysDir::Kernel, "shmmax", SysFile::Shmmax, 0o644),
    (SysDir::Kernel, "shmall", SysFile::Shmall, 0o644),
    (SysDir::Kernel, "shmmni", SysFile::Shmmni, 0o644),
    (SysDir::Kernel, "sem", SysFile::Sem, 0o644),
    (SysDir::Kernel, "msgmax", SysFile::Msgmax, 0o644),
    (SysDir::Kernel, "msgmnb", SysFile::Msgmnb, 0o644),
    (SysDir::Kernel, "msgmni", SysFile::Msgmni, 0o644),
    (SysDir::Sysvipc, "shm", SysFile::SysvShm, 0o444),
    (SysDir::Sysvipc, "sem", SysFile::SysvSem, 0o444),
    (SysDir::Sysvipc, "msg", SysFile::SysvMsg, 0o444),
    (SysDir::Net, "dev", SysFile::NetDev, 0o444),
    (SysDir::Net, "if_inet6", SysFile::NetIfInet6, 0o444),
    (SysDir::Net, "tcp", SysFile::NetTcp, 0o444),
    (SysDir::Net, "tcp6", SysFile::NetTcp6, 0o444),
    (SysDir::Net, "udp", SysFile::NetUdp, 0o444),
    (SysDir::Net, "udp6", SysFile::NetUdp6, 0o444),
    (SysDir::Net, "unix", SysFile::NetUnix, 0o444),
    (SysDir::Net, "raw", SysFile::NetRaw, 0o444),
    (SysDir::Net, "raw6", SysFile::NetRaw6, 0o444),
    (SysDir::Net, "packet", SysFile::NetPacket, 0o444),
];

/// Whether this build has /proc/sys, /proc/sysvipc or /proc/net file `f`,
/// as Linux built without the part has none (lookups give ENOENT, readdir
/// leaves them out): a build without the `inet` feature (the device build)
/// has no AF_INET sockets, so no tcp, udp and raw tables nor if_inet6 (no
/// CONFIG_INET); one without `ipc` has no System V IPC, so no
/// /proc/sysvipc and no kernel.shm*, sem and msg* limits (no
/// CONFIG_SYSVIPC).
fn built(f: SysFile) -> bool {
    let ipc = matches!(
        f,
        SysFile::Shmmax
            | SysFile::Shmall
            | SysFile::Shmmni
            | SysFile::Sem
            | SysFile::Msgmax
            | SysFile::Msgmnb
            | SysFile::Msgmni
            | SysFile::SysvShm
            | SysFile::SysvSem
            | SysFile::SysvMsg
    );
    let inet = matches!(
        f,
        SysFile::NetIfInet6
            | SysFile::NetTcp
            | SysFile::NetTcp6
            | SysFile::NetUdp
            | SysFile::NetUdp6
            | SysFile::NetRaw
            | SysFile::NetRaw6
    );
    (cfg!(feature = "ipc") || !ipc) && (cfg!(feature = "inet") || !inet)
}

const PID_FILES: [(&str, PidFile); 9] = [
    ("stat", PidFile::Stat),
    ("status", PidFile::Status),
    ("statm", PidFile::Statm),
    ("cmdline", PidFile::Cmdline),
    ("environ", PidFile::Environ),
    ("maps", PidFile::Maps),
    ("comm", PidFile::Comm),
    ("mounts", PidFile::Mounts),
    ("mountinfo", PidFile::Mountinfo),
];

const PID_LINKS: [(&str, PidLink); 3] = [
    ("exe", PidLink::Exe),
    ("cwd", PidLink::Cwd),
    ("root", PidLink::Root),
];

/// Directory cursors at or past this are pid or fd numbers (plus this).
const DYN_BASE: u64 = 0x1_0000;

/// A node of procfs.
pub struct ProcNode {
    fs: Arc<Shared>,
    node: Node,
}

/// The fd table of a live process (ENOENT for a zombie or a gone process).
fn fd_table(d: &ProcDir, pid: u32) -> KResult<Arc<dyn FdSource>> {
    d.procs
        .get(&pid)
        .and_then(ProcEntry::fd_table)
        .ok_or(Errno::ENOENT)
}

/// The open file at `fd` of `pid` and whether it is close-on-exec.
fn open_fd(d: &ProcDir, pid: u32, fd: i32) -> KResult<(Arc<OpenFile>, bool)> {
    fd_table(d, pid)?.fd(fd).ok_or(Errno::ENOENT)
}

impl ProcNode {
    fn child(&self, node: Node) -> Arc<dyn Inode> {
        Arc::new(ProcNode {
            fs: self.fs.clone(),
            node,
        })
    }

    fn ino(&self) -> u64 {
        node_ino(&self.node)
    }

    /// The pid a node belongs to, if any.
    fn pid(&self) -> Option<u32> {
        match self.node {
            Node::Pid(p)
            | Node::PidFile(p, _)
            | Node::PidLink(p, _)
            | Node::FdDir(p)
            | Node::FdLink(p, _)
            | Node::FdInfoDir(p)
            | Node::FdInfo(p, _)
            | Node::Task(p)
            | Node::TaskPid(p, _)
            | Node::TaskFile(p, ..) => Some(p),
            _ => None,
        }
    }

    /// Absence of a process as lookups see it.
    fn live(d: &ProcDir, pid: u32) -> KResult<()> {
        if d.procs.contains_key(&pid) {
            Ok(())
        } else {
            Err(Errno::ENOENT)
        }
    }

    /// The entries of this directory (without "." and ".."), with cursors.
    fn entries(&self) -> KResult<Vec<(u64, String, u64, FileType)>> {
        let d = self.fs.dir.lock();
        let mut v = Vec::new();
        let mut statics = |names: &mut dyn Iterator<Item = (String, Node)>| {
            for (i, (name, node)) in names.enumerate() {
                let kind = node_kind(&node);
                v.push((2 + i as u64, name, node_ino(&node), kind));
            }
        };
        match &self.node {
            Node::Root => {
                let mut it = [
                    ("self".to_string(), Node::SelfLink),
                    ("thread-self".to_string(), Node::ThreadSelf),
                    ("sys".to_string(), Node::Sys(SysDir::Top)),
                    ("sysvipc".to_string(), Node::Sys(SysDir::Sysvipc)),
                    ("net".to_string(), Node::Sys(SysDir::Net)),
                ]
                .into_iter()
                .filter(|(n, _)| n != "sysvipc" || cfg!(feature = "ipc"))
                .chain(
                    ROOT_FILES
                        .iter()
                        .map(|(n, g)| (n.to_string(), Node::Global(*g))),
                );
                statics(&mut it);
                for pid in d.procs.keys() {
                    let node = Node::Pid(*pid);
                    v.push((
                        DYN_BASE + u64::from(*pid),
                        pid.to_string(),
                        node_ino(&node),
                        FileType::Directory,
                    ));
                }
            }
            Node::Sys(SysDir::Top) => {
                statics(&mut SYS_DIRS.iter().map(|(n, s)| (n.to_string(), Node::Sys(*s))))
            }
            Node::Sys(dir) => statics(
                &mut SYS_FILES
                    .iter()
                    .filter(|(d, _, f, _)| d == dir && built(*f))
                    .map(|(_, n, f, _)| (n.to_string(), Node::SysFile(*f))),
            ),
            Node::Pid(pid) | Node::TaskPid(pid, _) => {
                Self::live(&d, *pid)?;
                let with_task = matches!(self.node, Node::Pid(_));
                let tid = match self.node {
                    Node::TaskPid(_, t) => Some(t),
                    _ => None,
                };
                let pid = *pid;
                let mut it = [
                    Some(("fd".to_string(), Node::FdDir(pid))),
                    Some(("fdinfo".to_string(), Node::FdInfoDir(pid))),
                    with_task.then(|| ("task".to_string(), Node::Task(pid))),
                ]
                .into_iter()
                .flatten()
                .chain(PID_FILES.iter().map(|(n, f)| {
                    let node = match tid {
                        Some(t) => Node::TaskFile(pid, t, *f),
                        None => Node::PidFile(pid, *f),
                    };
                    (n.to_string(), node)
                }))
                .chain(
                    PID_LINKS
                        .iter()
                        .map(|(n, l)| (n.to_string(), Node::PidLink(pid, *l))),
                );
                statics(&mut it);
            }
            Node::Task(pid) => {
                Self::live(&d, *pid)?;
                let tids = d.procs.get(pid).map(|e| e.tids.clone()).unwrap_or_default();
                for t in tids {
                    let node = Node::TaskPid(*pid, t);
                    v.push((
                        DYN_BASE + u64::from(t),
                        t.to_string(),
                        node_ino(&node),
                        FileType::Directory,
                    ));
                }
            }
            Node::FdDir(pid) | Node::FdInfoDir(pid) => {
                let info = matches!(self.node, Node::FdInfoDir(_));
                // A zombie's fd directory is empty, as Linux's.
                Self::live(&d, *pid)?;
                let fds = d
                    .procs
                    .get(pid)
                    .and_then(ProcEntry::fd_table)
                    .map(|t| t.fds())
                    .unwrap_or_default();
                for (fd, _) in fds {
                    let Ok(n) = u64::try_from(fd) else {
                        continue;
                    };
                    let (node, kind) = if info {
                        (Node::FdInfo(*pid, fd), FileType::Regular)
                    } else {
                        (Node::FdLink(*pid, fd), FileType::Symlink)
                    };
                    v.push((DYN_BASE + n, fd.to_string(), node_ino(&node), kind));
                }
            }
            _ => return Err(Errno::ENOTDIR),
        }
        Ok(v)
    }

    /// The text of a regular file, made from the kernel's state now.
    fn content(&self, view: Option<&dyn ProcView>) -> KResult<Vec<u8>> {
        let s = |s: String| Ok(s.into_bytes());
        if let Node::FdInfo(pid, fd) = self.node {
            let d = self.fs.dir.lock();
            let (f, cloexec) = open_fd(&d, pid, fd)?;
            drop(d);
            let mnt_id = view
                .map(|v| v.system().mounts)
                .and_then(|m| fdinfo_mount(&f, &m))
                .unwrap_or(0);
            return s(fdinfo_text(&f, cloexec, mnt_id));
        }
        // Reads come through the kernel's I/O context; a reader without it
        // (none is known) gets an error rather than stale or made-up text.
        let view = view.ok_or(Errno::EIO)?;
        match &self.node {
            Node::Global(g) => s(global_text(*g, &view.system(), view.count())),
            Node::SysFile(f) => s(match f {
                SysFile::Hostname => format!("{}\n", view.system().hostname),
                SysFile::Domainname => format!("{}\n", view.system().domainname),
                SysFile::Ostype => String::from("Linux\n"),
                SysFile::Osrelease => format!("{}\n", view.system().osrelease),
                SysFile::PidMax => format!("{PID_MAX}\n"),
                // Heuristic overcommit, Linux's default: umbra never refuses
                // a mapping for want of memory it has not touched.
                SysFile::OvercommitMemory => String::from("0\n"),
                SysFile::MaxMapCount => format!("{MAX_MAP_COUNT}\n"),
                // No machine-wide limit on open files: Linux's "unlimited".
                SysFile::FileMax => format!("{}\n", isize::MAX),
                SysFile::NrOpen => format!("{}\n", view.system().nr_open),
                SysFile::PipeMaxSize => format!("{}\n", super::pipe::PIPE_MAX_SIZE),
                // ULONG_MAX - 2^24, bytes and pages.
                SysFile::Shmmax | SysFile::Shmall => {
                    format!("{}\n", (usize::MAX - (1 << 24)) as u64)
                }
                SysFile::Shmmni => String::from("4096\n"),
                SysFile::Sem => String::from("32000\t1024000000\t500\t32000\n"),
                SysFile::Msgmax => String::from("8192\n"),
                SysFile::Msgmnb => String::from("16384\n"),
                SysFile::Msgmni => String::from("32000\n"),
                SysFile::SysvShm => return Ok(view.system().sysvipc[0].clone()),
                SysFile::SysvSem => return Ok(view.system().sysvipc[1].clone()),
                SysFile::SysvMsg => return Ok(view.system().sysvipc[2].clone()),
                SysFile::NetDev => return Ok(view.system().net[0].clone()),
                SysFile::NetIfInet6 => return Ok(view.system().net[1].clone()),
                SysFile::NetTcp => return Ok(view.system().net[2].clone()),
                SysFile::NetTcp6 => return Ok(view.system().net[3].clone()),
                SysFile::NetUdp => return Ok(view.system().net[4].clone()),
                SysFile::NetUdp6 => return Ok(view.system().net[5].clone()),
                SysFile::NetUnix => return Ok(view.system().net[6].clone()),
                SysFile::NetRaw | SysFile::NetRaw6 if !cfg!(feature = "inet") => {
                    return Err(Errno::ENOENT)
                }
                SysFile::NetRaw => return Ok(crate::net::inet::proc_net_raw(false)),
                SysFile::NetRaw6 => return Ok(crate::net::inet::proc_net_raw(true)),
                SysFile::NetPacket => return Ok(crate::net::inet::proc_net_packet()),
            }),
            Node::PidFile(_, f) | Node::TaskFile(_, _, f) => {
                let p = match self.node {
                    Node::TaskFile(pid, tid, _) => view.task(pid, tid),
                    Node::PidFile(pid, _) => view.process(pid),
                    _ => None,
                }
                .ok_or(Errno::ESRCH)?;
                match f {
                    PidFile::Stat => s(stat_line(&p)),
                    PidFile::Status => s(status_text(&p)),
                    PidFile::Statm => s(statm_line(&p)),
                    PidFile::Cmdline => Ok(nul_joined(&p.argv)),
                    PidFile::Environ => Ok(nul_joined(&p.envp)),
                    PidFile::Maps => s(maps_text(&p.maps)),
                    PidFile::Comm => {
                        let mut c = p.comm.clone();
                        c.push(b'\n');
                        Ok(c)
                    }
                    PidFile::Mounts => s(mounts_text(&mounts_seen_from(
                        &view.system().mounts,
                        &p.root,
                    ))),
                    PidFile::Mountinfo => s(mountinfo_text(&mounts_seen_from(
                        &view.system().mounts,
                        &p.root,
                    ))),
                }
            }
            _ => Err(Errno::EINVAL),
        }
    }
}

/// The mount id of the mount `f` was opened on: the longest mount path that
/// prefixes its path.
fn fdinfo_mount(f: &OpenFile, mounts: &[MountLine]) -> Option<u32> {
    let path = f.path()?.absolute_path();
    let path = String::from_utf8_lossy(&path);
    mounts
        .iter()
        .filter(|m| {
            m.path == "/"
                || *path == *m.path
                || path
                    .strip_prefix(m.path.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
        .max_by_key(|m| m.path.len())
        .map(|m| m.id)
}

/// /proc/PID/fdinfo/N, as Linux's seq_show: the position, the status flags
/// in octal (with O_CLOEXEC from the descriptor, and O_LARGEFILE, which
/// 64-bit Linux forces on every open), the mount id and the inode number.
pub fn fdinfo_text(f: &OpenFile, cloexec: bool, mnt_id: u32) -> String {
    use umbra_abi::flags::OpenFlags;
    let mut flags = f.flags();
    if cloexec {
        flags |= OpenFlags::O_CLOEXEC;
    }
    // Files opened by path; pipes and other pseudo files are not opened
    // through open(2) and do not get it.
    if cfg!(target_pointer_width = "64") && f.inode().is_some() {
        flags |= OpenFlags::O_LARGEFILE;
    }
    let pos = f.lseek(0, umbra_abi::flags::SEEK_CUR).unwrap_or(0);
    let ino = f.stat().map(|m| m.ino).unwrap_or(0);
    let extra = f
        .ops()
        .map(|o| super::eventfd::fdinfo_lines(&**o))
        .unwrap_or_default();
    format!(
        "pos:\t{pos}\nflags:\t0{:o}\nmnt_id:\t{mnt_id}\nino:\t{ino}\n{extra}",
        flags.bits()
    )
}

/// The node kind of a node.
fn node_kind(n: &Node) -> FileType {
    match n {
        Node::Root
        | Node::Sys(_)
        | Node::Pid(_)
        | Node::TaskPid(..)
        | Node::FdDir(_)
        | Node::FdInfoDir(_)
        | Node::Task(_) => FileType::Directory,
        Node::SelfLink | Node::ThreadSelf | Node::PidLink(..) | Node::FdLink(..) => {
            FileType::Symlink
        }
        Node::Global(_)
        | Node::SysFile(_)
        | Node::PidFile(..)
        | Node::TaskFile(..)
        | Node::FdInfo(..) => FileType::Regular,
        Node::Reopen(_, k) => *k,
    }
}

/// Inode numbers: small ones for the fixed nodes, `(pid + 1) << 32 | n` for
/// the nodes of a process.
fn node_ino(n: &Node) -> u64 {
    let per_pid = |pid: u32, n: u64| ((u64::from(pid) + 1) << 32) | n;
    let idx = |i: usize| i as u64;
    match n {
        Node::Root => 1,
        Node::SelfLink => 2,
        Node::ThreadSelf => 3,
        Node::Sys(SysDir::Sysvipc) => 8,
        Node::Sys(SysDir::Net) => 9,
        Node::Sys(d) => {
            4 + idx(SYS_DIRS
                .iter()
                .position(|(_, x)| x == d)
                .map_or(0, |i| i + 1))
        }
        Node::Global(g) => 0x10 + idx(ROOT_FILES.iter().position(|(_, x)| x == g).unwrap_or(0)),
        Node::SysFile(f) => {
            0x20 + idx(SYS_FILES
                .iter()
                .position(|(_, _, x, _)| x == f)
                .unwrap_or(0))
        }
        Node::Pid(p) => per_pid(*p, 1),
        Node::FdDir(p) => per_pid(*p, 2),
        Node::Task(p) => per_pid(*p, 3),
        Node::TaskPid(_, t) => per_pid(*t, 4),
        Node::TaskFile(_, t, f) => per_pid(
            *t,
            0x40 + idx(PID_FILES.iter().position(|(_, x)| x == f).unwrap_or(0)),
        ),
        Node::FdInfoDir(p) => per_pid(*p, 5),
        Node::PidFile(p, f) => per_pid(
            *p,
            0x10 + idx(PID_FILES.iter().position(|(_, x)| x == f).unwrap_or(0)),
        ),
        Node::PidLink(p, l) => per_pid(
            *p,
            0x20 + idx(PID_LINKS.iter().position(|(_, x)| x == l).unwrap_or(0)),
        ),
        Node::FdLink(p, fd) => per_pid(*p, 0x8000_0000 | u64::from(fd.unsigned_abs())),
        Node::FdInfo(p, fd) => per_pid(*p, 0x4000_0000 | u64::from(fd.unsigned_abs())),
        Node::Reopen(..) => 0xffff,
    }
}

impl Inode for ProcNode {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn kind(&self) -> FileType {
        node_kind(&self.node)
    }

    fn metadata(&self) -> KResult<Metadata> {
        if let Node::Reopen(ops, kind) = &self.node {
            if let Some(m) = ops.stat() {
                return Ok(m);
            }
            return Ok(Metadata {
                mode: kind.mode_bits() | 0o600,
                ..self.base_meta(Timespec::default())
            });
        }
        let d = self.fs.dir.lock();
        let mut m = self.base_meta(d.now);
        let kind = self.kind();
        let perm = match &self.node {
            Node::Root | Node::Sys(_) | Node::Pid(_) | Node::TaskPid(..) | Node::Task(_) => 0o555,
            Node::FdDir(_) => 0o500,
            Node::PidFile(_, PidFile::Environ) | Node::TaskFile(_, _, PidFile::Environ) => 0o400,
            Node::SysFile(f) => SYS_FILES
                .iter()
                .find(|(_, _, x, _)| x == f)
                .map_or(0o444, |(.., mode)| *mode),
            _ if kind == FileType::Symlink => 0o777,
            _ => 0o444,
        };
        m.mode = kind.mode_bits() | perm;
        if kind == FileType::Directory {
            m.nlink = 2;
        }
        if let Some(pid) = self.pid() {
            let p = d.procs.get(&pid).ok_or(Errno::ENOENT)?;
            m.uid = p.euid;
            m.gid = p.egid;
            match self.node {
                Node::FdLink(_, fd) => {
                    let (f, _) = open_fd(&d, pid, fd)?;
                    m.mode = kind.mode_bits() | fd_entry(fd, &f).perm;
                    m.size = 64;
                }
                Node::FdInfo(_, fd) => {
                    open_fd(&d, pid, fd)?;
                }
                _ => {}
            }
        }
        Ok(m)
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        // Reads come through `file_ops` with the kernel's view; an in-kernel
        // reader has none.
        let text = self.content(None)?;
        Ok(super::copy_at(&text, off, buf))
    }

    fn lookup(&self, name: &[u8]) -> KResult<Arc<dyn Inode>> {
        // Every procfs name is ASCII; other bytes name nothing.
        let name = core::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        let d = self.fs.dir.lock();
        let node = match &self.node {
            Node::Root => match name {
                "self" => Node::SelfLink,
                "thread-self" => Node::ThreadSelf,
                "sys" => Node::Sys(SysDir::Top),
                "sysvipc" if cfg!(feature = "ipc") => Node::Sys(SysDir::Sysvipc),
                "net" => Node::Sys(SysDir::Net),
                _ => {
                    if let Some((_, g)) = ROOT_FILES.iter().find(|(n, _)| *n == name) {
                        Node::Global(*g)
                    } else {
                        let pid = parse_num(name).ok_or(Errno::ENOENT)?;
                        Self::live(&d, pid)?;
                        Node::Pid(pid)
                    }
                }
            },
            Node::Sys(SysDir::Top) => {
                let (_, s) = SYS_DIRS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or(Errno::ENOENT)?;
                Node::Sys(*s)
            }
            Node::Sys(dir) => {
                let (.., f, _) = SYS_FILES
                    .iter()
                    .find(|(d, n, f, _)| d == dir && *n == name && built(*f))
                    .ok_or(Errno::ENOENT)?;
                Node::SysFile(*f)
            }
            Node::Pid(pid) | Node::TaskPid(pid, _) => {
                let pid = *pid;
                Self::live(&d, pid)?;
                let tid = match self.node {
                    Node::TaskPid(_, t) => Some(t),
                    _ => None,
                };
                match name {
                    "fd" => Node::FdDir(pid),
                    "fdinfo" => Node::FdInfoDir(pid),
                    "task" if matches!(self.node, Node::Pid(_)) => Node::Task(pid),
                    _ => {
                        if let Some((_, f)) = PID_FILES.iter().find(|(n, _)| *n == name) {
                            match tid {
                                Some(t) => Node::TaskFile(pid, t, *f),
                                None => Node::PidFile(pid, *f),
                            }
                        } else if let Some((_, l)) = PID_LINKS.iter().find(|(n, _)| *n == name) {
                            Node::PidLink(pid, *l)
                        } else {
                            return Err(Errno::ENOENT);
                        }
                    }
                }
            }
            Node::Task(pid) => {
                Self::live(&d, *pid)?;
                let tid = parse_num(name).ok_or(Errno::ENOENT)?;
                if !d.procs.get(pid).is_some_and(|e| e.tids.contains(&tid)) {
                    return Err(Errno::ENOENT);
                }
                Node::TaskPid(*pid, tid)
            }
            Node::FdInfoDir(pid) => {
                let fd = parse_num(name)
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or(Errno::ENOENT)?;
                open_fd(&d, *pid, fd)?;
                Node::FdInfo(*pid, fd)
            }
            Node::FdDir(pid) => {
                let table = fd_table(&d, *pid)?;
                if let Some(fd) = parse_num(name).and_then(|n| i32::try_from(n).ok()) {
                    table.fd(fd).ok_or(Errno::ENOENT)?;
                    Node::FdLink(*pid, fd)
                } else {
                    // The name a pathless file's link shows: reopen its stream.
                    let e = table
                        .fds()
                        .iter()
                        .map(|(fd, f)| fd_entry(*fd, f))
                        .find(|e| e.target == name.as_bytes() && e.ops.is_some())
                        .ok_or(Errno::ENOENT)?;
                    let ops = e.ops.ok_or(Errno::ENOENT)?;
                    Node::Reopen(ops, e.kind)
                }
            }
            _ => return Err(Errno::ENOTDIR),
        };
        drop(d);
        Ok(self.child(node))
    }

    fn readlink(&self) -> KResult<Vec<u8>> {
        let d = self.fs.dir.lock();
        match &self.node {
            Node::SelfLink => Ok(d.self_pid.to_string().into_bytes()),
            Node::ThreadSelf => {
                let tid = if d.self_tid == 0 {
                    d.self_pid
                } else {
                    d.self_tid
                };
                Ok(format!("{}/task/{tid}", d.self_pid).into_bytes())
            }
            Node::PidLink(pid, l) => {
                let p = d.procs.get(pid).ok_or(Errno::ENOENT)?;
                match l {
                    _ if p.zombie => Err(Errno::ENOENT),
                    PidLink::Exe => Ok(p.exe.clone()),
                    PidLink::Cwd => Ok(p
                        .cwd
                        .as_ref()
                        .map_or_else(|| Vec::from(&b"/"[..]), |c| c.absolute_path())),
                    PidLink::Root => Ok(p
                        .root
                        .as_ref()
                        .map_or_else(|| Vec::from(&b"/"[..]), |r| r.absolute_path())),
                }
            }
            Node::FdLink(pid, fd) => {
                let (f, _) = open_fd(&d, *pid, *fd)?;
                drop(d);
                Ok(fd_entry(*fd, &f).target)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn readdir(&self, offset: u64, max: usize) -> KResult<Vec<DirEntry>> {
        let mut out = Vec::new();
        let me = self.ino();
        if offset == 0 {
            out.push(DirEntry {
                name: Vec::from(&b"."[..]),
                ino: me,
                kind: FileType::Directory,
                next_off: 1,
            });
        }
        if offset <= 1 {
            out.push(DirEntry {
                name: Vec::from(&b".."[..]),
                ino: 1,
                kind: FileType::Directory,
                next_off: 2,
            });
        }
        for (cursor, name, ino, kind) in self.entries()? {
            if out.len() >= max.max(1) {
                break;
            }
            if cursor >= offset {
                out.push(DirEntry {
                    name: name.into_bytes(),
                    ino,
                    kind,
                    next_off: cursor + 1,
                });
            }
        }
        out.truncate(max.max(1));
        Ok(out)
    }

    fn file_ops(&self) -> Option<Arc<dyn FileOps>> {
        match &self.node {
            Node::Reopen(ops, _) => Some(ops.clone()),
            Node::Global(_)
            | Node::SysFile(_)
            | Node::PidFile(..)
            | Node::TaskFile(..)
            | Node::FdInfo(..) => Some(Arc::new(ProcFile {
                node: ProcNode {
                    fs: self.fs.clone(),
                    node: self.node.clone(),
                },
                text: Mutex::new(None),
            })),
            _ => None,
        }
    }
}

impl ProcNode {
    fn base_meta(&self, now: Timespec) -> Metadata {
        Metadata {
            dev: self.fs.dev,
            ino: self.ino(),
            mode: 0,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            blksize: 1024,
            blocks: 0,
            atime: now,
            mtime: now,
            ctime: now,
        }
    }
}

/// An open procfs file: its text, made at the read at offset 0.
struct ProcFile {
    node: ProcNode,
    text: Mutex<Option<Vec<u8>>>,
}

impl FileOps for ProcFile {
    fn read(&self, ctx: &mut dyn IoCtx, off: u64, buf: &mut [u8]) -> KResult<usize> {
        let mut text = self.text.lock();
        if off == 0 || text.is_none() {
            *text = Some(self.node.content(ctx.proc_view())?);
        }
        Ok(text.as_deref().map_or(0, |t| super::copy_at(t, off, buf)))
    }

    fn write(&self, _ctx: &mut dyn IoCtx, _off: u64, _buf: &[u8]) -> KResult<usize> {
        // Linux's answer for a file without a write method; the /proc/sys
        // files umbra cannot change refuse the same way.
        Err(Errno::EINVAL)
    }

    fn seekable(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A decimal number without sign or leading zeros (as Linux's name_to_int).
fn parse_num(s: &str) -> Option<u32> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

fn nul_joined(items: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for i in items {
        v.extend_from_slice(i);
        v.push(0);
    }
    v
}

fn pages_kb(bytes: u64) -> u64 {
    bytes / 1024
}

fn ticks(ns: u64) -> u64 {
    ns / (1_000_000_000 / USER_HZ)
}

/// The text of a file of /proc itself.
fn global_text(g: Global, sys: &SysSummary, nprocs: usize) -> String {
    match g {
        Global::Meminfo => meminfo_text(sys),
        Global::Cpuinfo => cpuinfo_text(),
        Global::Uptime => {
            let cs = sys.uptime_ns / 10_000_000;
            // One CPU that is idle whenever no guest code runs: show it idle
            // for the whole uptime less the time the guest had it busy, which
            // umbra does not measure; Linux's idle may exceed uptime on SMP.
            format!(
                "{}.{:02} {}.{:02}\n",
                cs / 100,
                cs % 100,
                cs / 100,
                cs % 100
            )
        }
        Global::Loadavg => format!(
            "0.00 0.00 0.00 {}/{} {}\n",
            sys.running.max(1),
            nprocs,
            sys.last_pid
        ),
        Global::Mounts => mounts_text(&sys.mounts),
        Global::Filesystems => String::from(
            "nodev\tsysfs\nnodev\ttmpfs\nnodev\tdevtmpfs\nnodev\tproc\nnodev\tpipefs\n\text2\n",
        ),
        Global::Version => format!(
            "Linux version {} (umbra@umbra) (rustc) {}\n",
            sys.osrelease, sys.version
        ),
        Global::Stat => stat_text(sys, nprocs),
    }
}

/// /proc/meminfo: the guest's memory is the frame allocator's; Cached is the
/// page cache of mapped files; nothing is buffered or swapped.
pub fn meminfo_text(sys: &SysSummary) -> String {
    let mut s = String::new();
    let used = sys.mem_total_kb.saturating_sub(sys.mem_free_kb);
    let anon = used.saturating_sub(sys.cached_kb);
    let lines: [(&str, u64); 22] = [
        ("MemTotal", sys.mem_total_kb),
        ("MemFree", sys.mem_free_kb),
        ("MemAvailable", sys.mem_free_kb),
        ("Buffers", 0),
        ("Cached", sys.cached_kb),
        ("SwapCached", 0),
        ("Active", used),
        ("Inactive", 0),
        ("Active(anon)", anon),
        ("Inactive(anon)", 0),
        ("Active(file)", sys.cached_kb),
        ("Inactive(file)", 0),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", anon),
        ("Mapped", 0),
        ("Shmem", 0),
        ("SReclaimable", 0),
    ];
    for (name, kb) in lines {
        let _ = writeln!(s, "{:<16}{:>8} kB", format!("{name}:"), kb);
    }
    let _ = writeln!(s, "{:<16}{:>8} kB", "CommitLimit:", sys.mem_total_kb);
    let _ = writeln!(s, "{:<16}{:>8} kB", "Committed_AS:", used);
    s
}

/// /proc/cpuinfo: one CPU.
pub fn cpuinfo_text() -> String {
    if cfg!(target_arch = "aarch64") {
        return format!(
            "processor\t: 0\nmodel name\t: {CPU_MODEL}\nBogoMIPS\t: 100.00\n\
             Features\t: fp asimd\nCPU implementer\t: 0x00\nCPU architecture: 8\n\
             CPU variant\t: 0x0\nCPU part\t: 0x000\nCPU revision\t: 0\n\n"
        );
    }
    format!(
        "processor\t: 0\nvendor_id\t: umbra\ncpu family\t: 6\nmodel\t\t: 0\n\
         model name\t: {CPU_MODEL}\nstepping\t: 0\ncpu MHz\t\t: 1000.000\n\
         cache size\t: 0 KB\nphysical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\n\
         cpu cores\t: 1\napicid\t\t: 0\ninitial apicid\t: 0\nfpu\t\t: yes\n\
         fpu_exception\t: yes\ncpuid level\t: 13\nwp\t\t: yes\n\
         flags\t\t: fpu tsc cx8 cmov mmx fxsr sse sse2 syscall nx lm\n\
         bogomips\t: 2000.00\nclflush size\t: 64\ncache_alignment\t: 64\n\
         address sizes\t: 48 bits physical, 48 bits virtual\npower management:\n\n"
    )
}

/// /proc/stat.
pub fn stat_text(sys: &SysSummary, nprocs: usize) -> String {
    // user nice system idle iowait irq softirq steal guest guest_nice
    let cpu = format!("0 0 0 {} 0 0 0 0 0 0", ticks(sys.uptime_ns));
    format!(
        "cpu  {cpu}\ncpu0 {cpu}\nintr 0\nctxt 0\nbtime {}\nprocesses {}\n\
         procs_running {}\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
        sys.btime,
        sys.forks.max(nprocs as u64),
        sys.running.max(1)
    )
}

/// /proc/mounts: `source mountpoint fstype options 0 0`, the options
/// being the mount's then the filesystem's own, as Linux's show_vfsmnt.
pub fn mounts_text(mounts: &[MountLine]) -> String {
    let mut s = String::new();
    for m in mounts {
        let mut opts = match m.options.strip_prefix("rw") {
            Some(rest) if m.ro => format!("ro{rest}"),
            _ => m.options.clone(),
        };
        if !m.data.is_empty() {
            opts.push(',');
            opts.push_str(&m.data);
        }
        let _ = writeln!(
            s,
            "{} {} {} {opts} 0 0",
            escape_mount(&m.source),
            escape_mount(&m.path),
            m.fstype
        );
    }
    s
}

/// /proc/PID/mountinfo, as Linux's show_mountinfo: `id parent major:minor
/// root mountpoint mount-options [optional fields] - fstype source
/// super-options`. Every umbra mount is private (mount(2) takes only
/// MS_PRIVATE), so no mount has optional fields (shared:N, master:N); each
/// is the root of its filesystem (hostfs serves a host directory as a
/// filesystem of its own), so the root field is `/`.
pub fn mountinfo_text(mounts: &[MountLine]) -> String {
    let mut s = String::new();
    for m in mounts {
        let mnt_opts = match m.options.strip_prefix("rw") {
            Some(rest) if m.ro => format!("ro{rest}"),
            _ => m.options.clone(),
        };
        let mut super_opts = String::from(if m.fs_ro { "ro" } else { "rw" });
        if !m.data.is_empty() {
            super_opts.push(',');
            super_opts.push_str(&m.data);
        }
        let _ = writeln!(
            s,
            "{} {} {}:{} / {} {mnt_opts} - {} {} {super_opts}",
            m.id,
            m.parent,
            super::vfs::dev_major(m.dev),
            super::vfs::dev_minor(m.dev),
            escape_mount(&m.path),
            m.fstype,
            escape_mount(&m.source),
        );
    }
    s
}

/// The mounts a process whose root directory is `root` sees, as Linux's
/// seq_path_root: those whose mount point is the root or beneath it, the
/// mount points made relative to it; a mount outside it (the one the root
/// directory is in, unless it is a mount point) is not listed.
pub fn mounts_seen_from(mounts: &[MountLine], root: &[u8]) -> Vec<MountLine> {
    let root = String::from_utf8_lossy(root);
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return mounts.to_vec();
    }
    mounts
        .iter()
        .filter_map(|m| {
            let rest = m.path.strip_prefix(root)?;
            if !rest.is_empty() && !rest.starts_with('/') {
                return None;
            }
            let mut m = m.clone();
            m.path = if rest.is_empty() {
                String::from("/")
            } else {
                String::from(rest)
            };
            Some(m)
        })
        .collect()
}

/// Octal escapes for the characters getmntent splits on, as Linux's mangle().
fn escape_mount(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => {
                let _ = write!(o, "\\{:03o}", c as u32);
            }
            _ => o.push(c),
        }
    }
    o
}

/// The comm as /proc shows it (bytes that are not UTF-8 as U+FFFD).
fn comm_str(p: &ProcInfo) -> String {
    String::from_utf8_lossy(&p.comm).into_owned()
}

/// /proc/PID/stat: the 52 fields of Linux's do_task_stat.
pub fn stat_line(p: &ProcInfo) -> String {
    let (start_code, end_code) = if p.zombie { (0, 0) } else { p.code_range() };
    let (vsize, rss) = if p.zombie {
        (0, 0)
    } else {
        (p.vm_size(), p.rss_pages)
    };
    let flags: u32 = 0x0040_0100; // PF_RANDOMIZE | PF_FORKNOEXEC-free user task
    let exit_code = 0;
    let [utime, stime, cutime, cstime] = p.cpu_ticks;
    format!(
        "{pid} ({comm}) {state} {ppid} {pgid} {sid} 0 -1 {flags} 0 0 0 0 \
         {utime} {stime} {cutime} {cstime} {prio} {nice} 1 0 {start} {vsize} {rss} 18446744073709551615 \
         {start_code} {end_code} {start_stack} 0 0 \
         {pending} {blocked} {ignored} {caught} 0 0 0 {exit_signal} 0 0 0 0 0 0 \
         0 0 {brk_start} 0 0 0 0 {exit_code}\n",
        pid = p.pid,
        comm = comm_str(p),
        state = p.state as char,
        ppid = p.ppid,
        pgid = p.pgid,
        sid = p.sid,
        prio = 20 + p.nice,
        nice = p.nice,
        start = p.start_ticks,
        start_stack = if p.zombie { 0 } else { p.stack_start() },
        pending = p.sig_pending | p.sig_shared,
        blocked = p.sig_blocked,
        ignored = p.sig_ignored,
        caught = p.sig_caught,
        exit_signal = p.exit_signal,
        brk_start = if p.zombie { 0 } else { p.brk_start },
    )
}

fn state_name(state: u8) -> &'static str {
    match state {
        b'R' => "R (running)",
        b'S' => "S (sleeping)",
        b'D' => "D (disk sleep)",
        b'T' => "T (stopped)",
        b'Z' => "Z (zombie)",
        _ => "X (dead)",
    }
}

/// /proc/PID/status.
pub fn status_text(p: &ProcInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Name:\t{}", comm_str(p));
    let _ = writeln!(s, "Umask:\t{:04o}", p.umask & 0o777);
    let _ = writeln!(s, "State:\t{}", state_name(p.state));
    let _ = writeln!(s, "Tgid:\t{}", p.pid);
    let _ = writeln!(s, "Ngid:\t0");
    let _ = writeln!(s, "Pid:\t{}", p.pid);
    let _ = writeln!(s, "PPid:\t{}", p.ppid);
    let _ = writeln!(s, "TracerPid:\t0");
    let _ = writeln!(s, "Uid:\t{}\t{}\t{}\t{}", p.uid, p.euid, p.suid, p.fsuid);
    let _ = writeln!(s, "Gid:\t{}\t{}\t{}\t{}", p.gid, p.egid, p.sgid, p.fsgid);
    let _ = writeln!(s, "FDSize:\t{}", p.fd_size);
    s.push_str("Groups:\t");
    for g in &p.groups {
        let _ = write!(s, "{g} ");
    }
    s.push('\n');
    let _ = writeln!(s, "NStgid:\t{}", p.pid);
    let _ = writeln!(s, "NSpid:\t{}", p.pid);
    let _ = writeln!(s, "NSpgid:\t{}", p.pgid);
    let _ = writeln!(s, "NSsid:\t{}", p.sid);
    if !p.zombie {
        let kb = |b: u64| pages_kb(b);
        let size = kb(p.vm_size());
        let rss = p.rss_pages * 4;
        let data = kb(p.vm_sum(|m| m.write && m.name != "[stack]" && !m.shared));
        let stk = kb(p.vm_sum(|m| m.name == "[stack]"));
        let exe = kb(p.vm_sum(|m| m.exec && !m.name.starts_with('[')));
        for (name, v) in [
            ("VmPeak", size),
            ("VmSize", size),
            ("VmLck", kb(p.locked_bytes)),
            ("VmPin", 0),
            ("VmHWM", rss),
            ("VmRSS", rss),
            ("RssAnon", rss),
            ("RssFile", 0),
            ("RssShmem", 0),
            ("VmData", data),
            ("VmStk", stk),
            ("VmExe", exe),
            ("VmLib", 0),
            ("VmPTE", 0),
            ("VmSwap", 0),
        ] {
            let _ = writeln!(s, "{name}:\t{v:>8} kB");
        }
        let _ = writeln!(s, "HugetlbPages:\t{:>8} kB", 0);
    }
    let _ = writeln!(s, "CoreDumping:\t0");
    let _ = writeln!(s, "THP_enabled:\t0");
    let _ = writeln!(s, "Threads:\t{}", p.threads.max(1));
    let _ = writeln!(s, "SigQ:\t0/15000");
    let _ = writeln!(s, "SigPnd:\t{:016x}", p.sig_pending);
    let _ = writeln!(s, "ShdPnd:\t{:016x}", p.sig_shared);
    let _ = writeln!(s, "SigBlk:\t{:016x}", p.sig_blocked);
    let _ = writeln!(s, "SigIgn:\t{:016x}", p.sig_ignored);
    let _ = writeln!(s, "SigCgt:\t{:016x}", p.sig_caught);
    let [inh, prm, eff, bnd] = p.caps;
    let _ = writeln!(s, "CapInh:\t{inh:016x}");
    let _ = writeln!(s, "CapPrm:\t{prm:016x}");
    let _ = writeln!(s, "CapEff:\t{eff:016x}");
    let _ = writeln!(s, "CapBnd:\t{bnd:016x}");
    let _ = writeln!(s, "CapAmb:\t{:016x}", 0);
    let _ = writeln!(s, "NoNewPrivs:\t{}", u8::from(p.no_new_privs));
    let _ = writeln!(s, "Seccomp:\t0");
    let _ = writeln!(s, "Seccomp_filters:\t0");
    let _ = writeln!(s, "Speculation_Store_Bypass:\tnot vulnerable");
    let _ = writeln!(s, "SpeculationIndirectBranch:\tunknown");
    let _ = writeln!(s, "Cpus_allowed:\t1");
    let _ = writeln!(s, "Cpus_allowed_list:\t0");
    let _ = writeln!(s, "Mems_allowed:\t1");
    let _ = writeln!(s, "Mems_allowed_list:\t0");
    let _ = writeln!(s, "voluntary_ctxt_switches:\t0");
    let _ = writeln!(s, "nonvoluntary_ctxt_switches:\t0");
    s
}

/// /proc/PID/statm: sizes in pages.
pub fn statm_line(p: &ProcInfo) -> String {
    let page = |b: u64| b / 4096;
    let text = page(p.vm_sum(|m| m.exec && !m.name.starts_with('[')));
    let data = page(p.vm_sum(|m| m.write && !m.shared));
    format!(
        "{} {} 0 {text} 0 {data} 0\n",
        page(p.vm_size()),
        p.rss_pages
    )
}

/// One line of /proc/PID/maps, as Linux's show_map_vma.
pub fn maps_line(m: &MapEntry) -> String {
    let mut s = format!(
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        m.start,
        m.end,
        if m.read { 'r' } else { '-' },
        if m.write { 'w' } else { '-' },
        if m.exec { 'x' } else { '-' },
        if m.shared { 's' } else { 'p' },
        m.offset,
        super::vfs::dev_major(m.dev),
        super::vfs::dev_minor(m.dev),
        m.ino
    );
    if !m.name.is_empty() {
        // seq_pad: the name starts after column 72 (25 + 6 * sizeof(void *) - 1).
        while s.len() < 72 {
            s.push(' ');
        }
        s.push(' ');
        s.push_str(&m.name);
    }
    s.push('\n');
    s
}

/// /proc/PID/maps.
pub fn maps_text(maps: &[MapEntry]) -> String {
    maps.iter().map(maps_line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::file::open;
    use crate::fs::file::tests::TestHost;
    use crate::fs::path::{FollowLast, Vfs};
    use crate::fs::tmpfs::TmpFs;
    use crate::fs::vfs::{makedev, Cred, FsCtx};
    use alloc::vec;
    use umbra_abi::flags::{OpenFlags, O_RDONLY, O_WRONLY};
    const O_CREAT: u32 = OpenFlags::O_CREAT.bits();

    fn sample() -> ProcInfo {
        ProcInfo {
            pid: 7,
            ppid: 1,
            pgid: 7,
            sid: 1,
            state: b'S',
            comm: b"sh".to_vec(),
            argv: vec![b"/bin/sh".to_vec(), b"-c".to_vec(), b"x y".to_vec()],
            envp: vec![b"PATH=/bin".to_vec()],
            exe: "/bin/busybox".into(),
            cwd: "/data".into(),
            umask: 0o022,
            fd_size: 64,
            maps: vec![
                MapEntry {
                    start: 0x400000,
                    end: 0x401000,
                    read: true,
                    exec: true,
                    dev: makedev(0, 1),
                    ino: 42,
                    name: "/bin/busybox".into(),
                    ..Default::default()
                },
                MapEntry {
                    start: 0x402000,
                    end: 0x404000,
                    read: true,
                    write: true,
                    name: "[heap]".into(),
                    ..Default::default()
                },
                MapEntry {
                    start: 0x7ffff000,
                    end: 0x80000000,
                    read: true,
                    write: true,
                    name: "[stack]".into(),
                    ..Default::default()
                },
                MapEntry {
                    start: 0x7f000000,
                    end: 0x7f001000,
                    read: true,
                    ..Default::default()
                },
            ],
            rss_pages: 3,
            locked_bytes: 0,
            start_ticks: 12,
            cpu_ticks: [31, 4, 15, 9],
            sig_ignored: 1 << 2,
            sig_caught: 1 << 16,
            exit_signal: 17,
            brk_start: 0x402000,
            ..Default::default()
        }
    }

    #[test]
    fn stat_line_has_52_fields_and_linux_order() {
        let line = stat_line(&sample());
        assert!(line.starts_with("7 (sh) S 1 7 1 0 -1 "));
        assert!(line.ends_with('\n'));
        let after = &line[line.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        // Fields 3..=52 after "pid (comm)".
        assert_eq!(f.len(), 50);
        assert_eq!(
            f[14 - 3..=17 - 3],
            ["31", "4", "15", "9"],
            "utime stime cutime cstime"
        );
        assert_eq!(f[22 - 3], "12", "starttime");
        assert_eq!(f[23 - 3], (0x1000 + 0x2000 + 0x1000 + 0x1000).to_string());
        assert_eq!(f[24 - 3], "3", "rss");
        assert_eq!(f[33 - 3], "4", "sigignore");
        assert_eq!(f[34 - 3], "65536", "sigcatch");
        assert_eq!(f[38 - 3], "17", "exit_signal");
        // A comm with spaces and parentheses is shown as is; parsers use the
        // last ')'.
        let mut p = sample();
        p.comm = b"a) b".to_vec();
        assert!(stat_line(&p).starts_with("7 (a) b) S "));
    }

    #[test]
    fn status_fields() {
        let s = status_text(&sample());
        for want in [
            "Name:\tsh\n",
            "Umask:\t0022\n",
            "State:\tS (sleeping)\n",
            "Tgid:\t7\n",
            "Pid:\t7\n",
            "PPid:\t1\n",
            "Uid:\t0\t0\t0\t0\n",
            "FDSize:\t64\n",
            "VmSize:\t      20 kB\n",
            "VmRSS:\t      12 kB\n",
            "VmStk:\t       4 kB\n",
            "Threads:\t1\n",
            "SigIgn:\t0000000000000004\n",
            "SigCgt:\t0000000000010000\n",
        ] {
            assert!(s.contains(want), "{want:?} missing in\n{s}");
        }
        let mut z = sample();
        z.zombie = true;
        z.state = b'Z';
        let s = status_text(&z);
        assert!(s.contains("State:\tZ (zombie)\n") && !s.contains("VmSize"));
    }

    #[test]
    fn maps_lines_pad_names_to_column_73() {
        let p = sample();
        let t = maps_text(&p.maps);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("00400000-00401000 r-xp 00000000 00:01 42 "));
        assert!(lines[0].ends_with(" /bin/busybox"));
        assert_eq!(lines[0].find('/').unwrap(), 73);
        assert_eq!(lines[2].find('[').unwrap(), 73);
        assert_eq!(lines[3], "7f000000-7f001000 r--p 00000000 00:00 0 ");
        let wide = MapEntry {
            start: 0x7fff_f000_0000,
            end: 0x7fff_f000_1000,
            name: "[stack]".into(),
            ..Default::default()
        };
        assert_eq!(
            maps_line(&wide),
            "7ffff0000000-7ffff0001000 ---p 00000000 00:00 0                          [stack]\n"
        );
    }

    #[test]
    fn meminfo_and_mounts_formats() {
        let sys = SysSummary {
            mem_total_kb: 262144,
            mem_free_kb: 200000,
            ..Default::default()
        };
        let m = meminfo_text(&sys);
        assert!(m.starts_with("MemTotal:         262144 kB\nMemFree:          200000 kB\n"));
        assert!(m.contains("\nSwapTotal:             0 kB\n"));
        let mounts = [
            MountLine {
                source: "proc".into(),
                path: "/proc".into(),
                fstype: "proc".into(),
                ro: false,
                options: super::super::path::options_text(
                    super::super::path::default_flags("proc", "/proc"),
                    false,
                ),
                id: 1,
                ..Default::default()
            },
            MountLine {
                source: "tmpfs".into(),
                path: "/a b".into(),
                fstype: "tmpfs".into(),
                ro: false,
                options: super::super::path::options_text(
                    super::super::path::default_flags("tmpfs", "/a b"),
                    false,
                ),
                id: 2,
                ..Default::default()
            },
            MountLine {
                source: "/dev/root".into(),
                path: "/mnt".into(),
                fstype: "ext2".into(),
                ro: true,
                options: super::super::path::options_text(
                    super::super::path::default_flags("ext2", "/mnt"),
                    true,
                ),
                id: 3,
                ..Default::default()
            },
        ];
        assert_eq!(
            mounts_text(&mounts),
            "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n\
             tmpfs /a\\040b tmpfs rw,nosuid,nodev,relatime 0 0\n\
             /dev/root /mnt ext2 ro,relatime 0 0\n"
        );
    }

    #[test]
    fn a_chroot_sees_the_mounts_beneath_its_root() {
        let m = |path: &str, id| MountLine {
            path: path.into(),
            id,
            ..Default::default()
        };
        let all = [
            m("/", 1),
            m("/tmp", 2),
            m("/tmp/x", 3),
            m("/tmp/x/p", 4),
            m("/tmp/xy", 5),
        ];
        let seen: Vec<(String, u32)> = mounts_seen_from(&all, b"/tmp/x")
            .into_iter()
            .map(|m| (m.path, m.id))
            .collect();
        assert_eq!(seen, [("/".into(), 3), ("/p".into(), 4)]);
        assert_eq!(mounts_seen_from(&all, b"").len(), 5);
        assert_eq!(mounts_seen_from(&all, b"/").len(), 5);
    }

    #[test]
    fn mountinfo_lists_ids_devices_and_both_option_sets() {
        use super::super::vfs::makedev;
        let mounts = [
            MountLine {
                source: "rootfs".into(),
                path: "/".into(),
                fstype: "tmpfs".into(),
                options: "rw,relatime".into(),
                id: 1,
                parent: 1,
                dev: makedev(0, 1),
                ..Default::default()
            },
            MountLine {
                source: "dev pts".into(),
                path: "/dev/p ts".into(),
                fstype: "devpts".into(),
                options: "rw,nosuid,noexec,relatime".into(),
                id: 3,
                parent: 1,
                dev: makedev(0, 0x43),
                data: "mode=620,ptmxmode=666".into(),
                ..Default::default()
            },
            MountLine {
                source: "hostfs".into(),
                path: "/data".into(),
                fstype: "hostfs".into(),
                ro: true,
                fs_ro: true,
                options: "rw,relatime".into(),
                id: 4,
                parent: 1,
                dev: makedev(0, 0x31),
                ..Default::default()
            },
        ];
        assert_eq!(
            mountinfo_text(&mounts),
            "1 1 0:1 / / rw,relatime - tmpfs rootfs rw\n\
             3 1 0:67 / /dev/p\\040ts rw,nosuid,noexec,relatime - devpts dev\\040pts rw,mode=620,ptmxmode=666\n\
             4 1 0:49 / /data ro,relatime - hostfs hostfs ro\n"
        );
        assert_eq!(
            mounts_text(&mounts[1..2]),
            "dev\\040pts /dev/p\\040ts devpts rw,nosuid,noexec,relatime,mode=620,ptmxmode=666 0 0\n"
        );
    }

    /// An fd table as the kernel's, for the tests.
    #[derive(Default)]
    struct TestFds(Mutex<Vec<(i32, Arc<OpenFile>)>>);

    impl FdSource for TestFds {
        fn fd(&self, fd: i32) -> Option<(Arc<OpenFile>, bool)> {
            let t = self.0.lock();
            t.iter()
                .find(|(n, _)| *n == fd)
                .map(|(_, f)| (f.clone(), false))
        }
        fn fds(&self) -> Vec<(i32, Arc<OpenFile>)> {
            self.0.lock().clone()
        }
    }

    type Infos = Arc<Mutex<alloc::collections::BTreeMap<u32, ProcInfo>>>;

    /// The kernel's view in the tests: the processes of `Infos`.
    struct Ctx {
        host: TestHost,
        infos: Infos,
    }

    impl ProcView for Ctx {
        fn process(&self, pid: u32) -> Option<ProcInfo> {
            self.infos.lock().get(&pid).cloned()
        }
        fn system(&self) -> SysSummary {
            SysSummary::default()
        }
        fn count(&self) -> usize {
            self.infos.lock().len()
        }
    }

    impl IoCtx for Ctx {
        fn console_read(
            &mut self,
            buf: &mut [u8],
        ) -> Result<crate::host::ConsoleRead, crate::host::HostError> {
            IoCtx::console_read(&mut self.host, buf)
        }
        fn console_write(
            &mut self,
            stream: crate::host::ConsoleStream,
            data: &[u8],
        ) -> Result<usize, crate::host::HostError> {
            IoCtx::console_write(&mut self.host, stream, data)
        }
        fn console_is_tty(&self, stream: crate::host::ConsoleStream) -> bool {
            IoCtx::console_is_tty(&self.host, stream)
        }
        fn console_winsize(&self) -> Option<umbra_abi::structs::Winsize> {
            None
        }
        fn random(&mut self, buf: &mut [u8]) {
            IoCtx::random(&mut self.host, buf)
        }
        fn now_real(&self) -> u64 {
            0
        }
        fn now_mono(&self) -> u64 {
            0
        }
        fn proc_view(&self) -> Option<&dyn ProcView> {
            Some(self)
        }
    }

    struct World {
        vfs: Vfs,
        dir: SharedDir,
        infos: Infos,
        fds: Arc<TestFds>,
    }

    fn mkdir(vfs: &Vfs, name: &str) {
        vfs.root()
            .inode()
            .create(
                name.as_bytes(),
                &crate::fs::vfs::NewNode {
                    kind: FileType::Directory,
                    perm: 0o555,
                    uid: 0,
                    gid: 0,
                    rdev: 0,
                    now: Timespec::default(),
                },
            )
            .unwrap();
    }

    fn open_path(vfs: &Vfs, path: &str, flags: u32) -> KResult<Arc<OpenFile>> {
        open(
            vfs,
            &FsCtx::boot(),
            &vfs.root(),
            path.as_bytes(),
            OpenFlags::from_bits_retain(flags),
            0o644,
        )
    }

    /// Processes 1 and 7 (self); 7 has /data/f.txt open on fd 1.
    fn setup() -> World {
        let fs = TmpFs::new(makedev(0, 1), Timespec::default());
        let vfs = Vfs::new(fs.root(), "tmpfs");
        mkdir(&vfs, "proc");
        mkdir(&vfs, "data");
        let file = open_path(&vfs, "/data/f.txt", O_WRONLY | O_CREAT).unwrap();
        let fds = Arc::new(TestFds::default());
        fds.0.lock().push((1, file));
        let data = vfs
            .lookup(&vfs.root(), "/data", FollowLast::Follow, &Cred::root())
            .unwrap();
        let dir: SharedDir = Arc::default();
        let infos: Infos = Arc::default();
        {
            let mut d = dir.lock();
            d.self_pid = 7;
            let weak: Weak<TestFds> = Arc::downgrade(&fds);
            for (pid, comm) in [(7, "sh"), (1, "init")] {
                d.procs.insert(
                    pid,
                    ProcEntry {
                        fds: Some(weak.clone()),
                        cwd: Some(data.clone()),
                        exe: "/bin/busybox".into(),
                        comm: comm.as_bytes().to_vec(),
                        tids: alloc::vec![pid],
                        ..Default::default()
                    },
                );
                let mut info = sample();
                info.pid = pid;
                info.comm = comm.as_bytes().to_vec();
                infos.lock().insert(pid, info);
            }
        }
        vfs.mount_at("/proc", new_procfs(makedev(0, 9), dir.clone()), "proc")
            .unwrap();
        World {
            vfs,
            dir,
            infos,
            fds,
        }
    }

    fn read_all(w: &World, path: &str) -> KResult<Vec<u8>> {
        let f = open_path(&w.vfs, path, O_RDONLY)?;
        let mut ctx = Ctx {
            host: TestHost::default(),
            infos: w.infos.clone(),
        };
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = f.read(&mut ctx, &mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn names(vfs: &Vfs, path: &str) -> Vec<String> {
        let n = vfs
            .lookup(&vfs.root(), path, FollowLast::Follow, &Cred::root())
            .unwrap();
        let mut v = Vec::new();
        let mut off = 0;
        loop {
            let e = n.inode().readdir(off, 3).unwrap();
            if e.is_empty() {
                return v;
            }
            for d in e {
                off = d.next_off;
                v.push(String::from_utf8_lossy(&d.name).into_owned());
            }
        }
    }

    fn link(vfs: &Vfs, path: &str) -> KResult<String> {
        vfs.lookup(&vfs.root(), path, FollowLast::NoFollow, &Cred::root())
            .and_then(|n| n.inode().readlink())
            .map(|t| String::from_utf8_lossy(&t).into_owned())
    }

    /// /proc/net and /proc/sysvipc hold what the build has, as Linux's
    /// do: a build without `inet` (the device build, issue 14) has no tcp,
    /// udp, raw or if_inet6 file (no CONFIG_INET); one without `ipc` no
    /// /proc/sysvipc nor kernel.shm*, sem and msg* (no CONFIG_SYSVIPC).
    /// `cargo test -p umbra-core --no-default-features` checks the device
    /// side.
    #[test]
    fn net_and_sysvipc_files_follow_the_build() {
        let w = setup();
        let vfs = &w.vfs;
        let has = |path: &str| {
            vfs.lookup(&vfs.root(), path, FollowLast::Follow, &Cred::root())
                .map(|_| ())
        };
        let want = |on: bool| if on { Ok(()) } else { Err(Errno::ENOENT) };
        let net = names(vfs, "/proc/net");
        for f in ["if_inet6", "tcp", "tcp6", "udp", "udp6", "raw", "raw6"] {
            assert_eq!(net.iter().any(|n| n == f), cfg!(feature = "inet"), "{f}");
            let path = format!("/proc/net/{f}");
            assert_eq!(has(&path), want(cfg!(feature = "inet")), "{path}");
        }
        for f in ["dev", "unix", "packet"] {
            assert!(net.iter().any(|n| n == f), "{f}");
            assert_eq!(has(&format!("/proc/net/{f}")), Ok(()), "{f}");
        }
        let root = names(vfs, "/proc");
        let ipc = cfg!(feature = "ipc");
        assert_eq!(root.iter().any(|n| n == "sysvipc"), ipc);
        let kernel = names(vfs, "/proc/sys/kernel");
        for f in [
            "shmmax", "shmall", "shmmni", "sem", "msgmax", "msgmnb", "msgmni",
        ] {
            assert_eq!(kernel.iter().any(|n| n == f), ipc, "{f}");
            let path = format!("/proc/sys/kernel/{f}");
            assert_eq!(has(&path), want(ipc), "{path}");
        }
        for f in ["shm", "sem", "msg"] {
            let path = format!("/proc/sysvipc/{f}");
            assert_eq!(has(&path), want(ipc), "{path}");
        }
        assert!(kernel.iter().any(|n| n == "hostname"));
    }

    #[test]
    fn tree_lookup_readdir_and_links() {
        let w = setup();
        let vfs = &w.vfs;
        let root = names(vfs, "/proc");
        assert!(root.contains(&"self".to_string()) && root.contains(&"meminfo".to_string()));
        assert_eq!(&root[root.len() - 2..], ["1", "7"]);
        let look = |p: &str, f| {
            vfs.lookup(&vfs.root(), p, f, &Cred::root())
                .map(|n| String::from_utf8_lossy(&n.absolute_path()).into_owned())
        };
        assert_eq!(look("/proc/self", FollowLast::Follow).unwrap(), "/proc/7");
        assert_eq!(
            look("/proc/thread-self/comm", FollowLast::Follow).unwrap(),
            "/proc/7/task/7/comm"
        );
        assert_eq!(look("/proc/8", FollowLast::Follow), Err(Errno::ENOENT));
        assert_eq!(look("/proc/07", FollowLast::Follow), Err(Errno::ENOENT));
        assert_eq!(link(vfs, "/proc/self/fd/1").unwrap(), "/data/f.txt");
        assert_eq!(
            look("/proc/self/fd/1", FollowLast::Follow).unwrap(),
            "/data/f.txt"
        );
        assert_eq!(
            read_all(&w, "/proc/self/cmdline").unwrap(),
            b"/bin/sh\0-c\0x y\0"
        );
        assert_eq!(read_all(&w, "/proc/1/comm").unwrap(), b"init\n");
        assert_eq!(
            read_all(&w, "/proc/sys/kernel/pid_max").unwrap(),
            b"4194304\n"
        );
        assert_eq!(
            read_all(&w, "/proc/sys/vm/max_map_count").unwrap(),
            b"65530\n"
        );
        assert_eq!(
            read_all(&w, "/proc/sys/fs/pipe-max-size").unwrap(),
            b"1048576\n"
        );
        assert_eq!(names(vfs, "/proc/sys"), [".", "..", "fs", "kernel", "vm"]);
        assert!(String::from_utf8(read_all(&w, "/proc/self/maps").unwrap())
            .unwrap()
            .contains("[heap]"));
        assert_eq!(names(vfs, "/proc/self/fd"), [".", "..", "1"]);
        assert_eq!(link(vfs, "/proc/7/cwd").unwrap(), "/data");
        assert_eq!(link(vfs, "/proc/7/root").unwrap(), "/");
        let data = w.dir.lock().procs.get(&7).and_then(|e| e.cwd.clone());
        w.dir.lock().procs.get_mut(&7).unwrap().root = data;
        assert_eq!(link(vfs, "/proc/7/root").unwrap(), "/data", "chroot");
        // Writing is refused; the process going away makes its files vanish.
        let f = open_path(vfs, "/proc/uptime", O_WRONLY).unwrap();
        assert_eq!(f.write(&mut TestHost::default(), b"1"), Err(Errno::EINVAL));
        assert!(is_procfs(&f));
        // A reader without the kernel's view gets an error, not stale text.
        let f = open_path(vfs, "/proc/self/stat", O_RDONLY).unwrap();
        assert_eq!(
            f.read(&mut TestHost::default(), &mut [0u8; 8]),
            Err(Errno::EIO)
        );
        w.dir.lock().procs.remove(&7);
        assert_eq!(read_all(&w, "/proc/self/stat"), Err(Errno::ENOENT));
    }

    #[test]
    fn fd_directory_is_the_table_itself() {
        let w = setup();
        let vfs = &w.vfs;
        // A cwd or dirfd inside /proc: the same node is asked each time.
        let fd_dir = vfs
            .lookup(
                &vfs.root(),
                "/proc/self/fd",
                FollowLast::Follow,
                &Cred::root(),
            )
            .unwrap();
        let rel = |name: &str| {
            vfs.lookup(&fd_dir, name, FollowLast::NoFollow, &Cred::root())
                .map(|n| String::from_utf8_lossy(&n.inode().readlink().unwrap()).into_owned())
        };
        assert_eq!(rel("3"), Err(Errno::ENOENT));
        let g = open_path(vfs, "/data/g.txt", O_WRONLY | O_CREAT).unwrap();
        w.fds.0.lock().push((3, g));
        assert_eq!(rel("3").unwrap(), "/data/g.txt", "an open is seen at once");
        assert_eq!(names(vfs, "/proc/self/fd"), [".", "..", "1", "3"]);
        assert_eq!(names(vfs, "/proc/self/fdinfo"), [".", "..", "1", "3"]);
        let info = String::from_utf8(read_all(&w, "/proc/self/fdinfo/3").unwrap()).unwrap();
        let want_flags = if cfg!(target_pointer_width = "64") {
            OpenFlags::O_LARGEFILE.bits() | O_WRONLY
        } else {
            O_WRONLY
        };
        assert!(
            info.starts_with(&format!("pos:\t0\nflags:\t0{want_flags:o}\nmnt_id:\t")),
            "{info}"
        );
        w.fds.0.lock().retain(|(fd, _)| *fd != 3);
        assert_eq!(rel("3"), Err(Errno::ENOENT), "a close is seen at once");
        assert_eq!(read_all(&w, "/proc/self/fdinfo/3"), Err(Errno::ENOENT));
        // A zombie has no files and no links.
        {
            let mut d = w.dir.lock();
            let e = d.procs.get_mut(&7).unwrap();
            e.fds = None;
            e.zombie = true;
        }
        assert_eq!(link(vfs, "/proc/7/cwd"), Err(Errno::ENOENT));
        assert_eq!(names(vfs, "/proc/7/fd"), [".", ".."]);
    }

    #[test]
    fn pathless_fd_links_reopen_the_stream_and_do_not_keep_it_alive() {
        let w = setup();
        let vfs = &w.vfs;
        let (r, wr) = crate::fs::pipe::pipe();
        let end = OpenFile::from_ops(wr, OpenFlags::from_bits_retain(O_WRONLY));
        w.fds.0.lock().push((5, end));
        let target = link(vfs, "/proc/self/fd/5").unwrap();
        assert!(target.starts_with("pipe:["), "{target}");
        let f = open_path(vfs, "/proc/self/fd/5", O_WRONLY).unwrap();
        let mut h = TestHost::default();
        assert_eq!(f.write(&mut h, b"hi").unwrap(), 2);
        let mut b = [0u8; 4];
        assert_eq!(r.read(&mut h, 0, &mut b).unwrap(), 2);
        drop(f);
        w.fds.0.lock().retain(|(fd, _)| *fd != 5);
        // procfs keeps no reference: the reader sees end of file.
        assert_eq!(r.read(&mut h, 0, &mut b).unwrap(), 0);
    }
}
