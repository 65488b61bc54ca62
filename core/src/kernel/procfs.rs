//! The kernel's side of procfs: the standard mounts at boot (/proc, and tmpfs on
//! /tmp, /run and /dev/shm), the process directory procfs names processes
//! by, published at the moments it changes, and the live view the contents
//! of /proc files are made from at each read (see fs/procfs.rs).

use alloc::string::String;
use alloc::vec::Vec;

use super::Kernel;
use crate::config::Config;
use crate::fs::path::shown_mount_id;
use crate::fs::procfs::{
    new_procfs, MapEntry, MountLine, ProcEntry, ProcInfo, ProcView, SharedDir, SysSummary, USER_HZ,
};
use crate::fs::tmpfs::TmpFs;
use crate::fs::vfs::{timespec_from_ns, NewNode, SetAttr};
use crate::fs::{Cred, FileType, FollowLast, IoCtx, Vfs};
use crate::host::{ConsoleRead, ConsoleStream, Host, HostError};
use crate::mm::{FrameAllocator, VmaKind, VmaName};
use crate::task::{JobState, Pid, Process, ThreadState, Zombie};
use umbra_abi::flags::Prot;
use umbra_abi::structs::{Timespec, Winsize};

/// What the kernel keeps for procfs: the directory the inodes name
/// processes by.
#[derive(Default)]
pub(crate) struct ProcfsState {
    pub(crate) dir: SharedDir,
}

impl<H: Host> Kernel<H> {
    /// Mounts procfs on /proc (making the directory when missing), sysfs on
    /// /sys when the root has it, and tmpfs on /tmp, /run and /dev/shm, making the
    /// directories when missing; a tmpfs goes only on an empty directory, so
    /// it never hides files of the root archive or image, and the /dev links into /proc/self/fd when
    /// devfs lacks them. A mount whose directory cannot be made is skipped.
    pub(crate) fn procfs_boot(&mut self) {
        let now = timespec_from_ns(self.host.now_real());
        // The tmpfs instances made before the kernel knew its memory (the
        // initrd root, /dev, an OCI config's mounts): each may grow by the
        // default size.
        let half = self.tmpfs_default_size();
        for root in self.vfs.mount_roots() {
            if let Some(t) = root.as_any().downcast_ref::<crate::fs::tmpfs::TmpInode>() {
                t.bound_fs(half);
            }
        }
        if make_dir(&self.vfs, "/", "proc", 0o555, now) {
            let root = new_procfs(self.vfs.alloc_anon_dev(), self.procfs.dir.clone());
            let _ = self.vfs.mount_at("/proc", root, "proc");
        }
        // sysfs only where the root has /sys, as an init would mount it.
        if self
            .vfs
            .lookup(&self.vfs.root(), "/sys", FollowLast::Follow, &Cred::root())
            .is_ok_and(|n| n.inode().kind() == FileType::Directory)
            && self.vfs.mount_root_at("/sys").is_none()
        {
            let root = crate::fs::sysfs::new_sysfs(self.vfs.alloc_anon_dev());
            let _ = self.vfs.mount_at("/sys", root, "sysfs");
        }
        for (parent, name, perm) in [
            ("/", "tmp", 0o1777),
            ("/", "run", 0o755),
            ("/dev", "shm", 0o1777),
        ] {
            let path = if parent == "/" {
                alloc::format!("/{name}")
            } else {
                alloc::format!("{parent}/{name}")
            };
            // Never over what the archive or image put there (issue 10),
            // nor over a mount already there (an OCI config's /tmp).
            if !make_dir(&self.vfs, parent, name, perm, now)
                || !crate::fs::dir_is_empty(&self.vfs, parent, name)
                || self.vfs.mount_root_at(&path).is_some()
            {
                continue;
            }
            let fs = self.new_tmpfs(now, self.tmpfs_default_size());
            let attr = SetAttr {
                perm: Some(perm),
                ..SetAttr::touch(now)
            };
            if fs.root().set_metadata(&attr).is_err() {
                continue;
            }
            let _ = self.vfs.mount_at(&path, fs.root(), "tmpfs");
        }
        self.dev_links(now);
    }

    /// A tmpfs's default size, as Linux's: half of the (guest's) memory.
    pub(crate) fn tmpfs_default_size(&self) -> u64 {
        (self.frames.total() as u64).saturating_mul(4096) / 2
    }

    /// A new tmpfs of `size` bytes, whose data also counts against the bound
    /// of all the kernel's tmpfs ([`Kernel::tmpfs_shared`]).
    pub(crate) fn new_tmpfs(&self, now: Timespec, size: u64) -> TmpFs {
        TmpFs::bounded(self.vfs.alloc_anon_dev(), now, size, &self.tmpfs_shared)
    }

    /// /dev/fd, /dev/stdin, /dev/stdout and /dev/stderr, if devfs has none.
    fn dev_links(&mut self, now: Timespec) {
        let Ok(dev) = self
            .vfs
            .lookup(&self.vfs.root(), "/dev", FollowLast::Follow, &Cred::root())
        else {
            return;
        };
        let attr = NewNode {
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
            if dev.inode().lookup(name.as_bytes()).is_err() {
                let _ = dev
                    .inode()
                    .symlink(name.as_bytes(), target.as_bytes(), &attr);
            }
        }
    }

    /// Publishes what procfs names of process `pid` as it is now: a new
    /// entry when it appeared (spawn, fork) or exec'd, a zombie's when it
    /// exited, none once reaped.
    pub(crate) fn procfs_sync(&mut self, pid: Pid) {
        let mut d = self.procfs.dir.lock();
        if let Some(p) = self.procs.get(&pid) {
            d.procs.insert(
                pid,
                ProcEntry {
                    fds: Some(p.fds.live()),
                    cwd: Some(p.cwd.clone()),
                    root: Some(p.root.clone()),
                    exe: p.exe.clone(),
                    comm: p.comm.clone(),
                    euid: p.euid,
                    egid: p.egid,
                    zombie: false,
                    tids: core::iter::once(pid)
                        .chain({
                            let mut t: Vec<Pid> =
                                p.threads().map(|t| t.tid).filter(|&t| t != pid).collect();
                            crate::sort::sort(&mut t);
                            t
                        })
                        .collect(),
                },
            );
        } else if self.zombies.contains_key(&pid) {
            if let Some(e) = d.procs.get_mut(&pid) {
                // Linux's zombie keeps its name and owners; nothing else.
                e.fds = None;
                e.cwd = None;
                e.root = None;
                e.exe = Vec::new();
                e.zombie = true;
            }
        } else {
            d.procs.remove(&pid);
        }
    }

    /// The start of a syscall of the current process: /proc/self is it.
    pub(crate) fn procfs_enter(&mut self) {
        let now = timespec_from_ns(self.host.now_real());
        let tid = self.procs.get(&self.cur).map_or(0, |p| p.thread.tid);
        let mut d = self.procfs.dir.lock();
        d.self_pid = self.cur;
        d.self_tid = tid;
        d.now = now;
    }

    /// The end of a syscall of the current process: what only its own
    /// syscalls change (its cwd, root, owners and name, and which fd table it
    /// has) is published.
    pub(crate) fn procfs_leave(&mut self) {
        let Some(p) = self.procs.get(&self.cur) else {
            return;
        };
        let mut d = self.procfs.dir.lock();
        let Some(e) = d.procs.get_mut(&self.cur) else {
            return;
        };
        if !e
            .cwd
            .as_ref()
            .is_some_and(|c| alloc::sync::Arc::ptr_eq(c, &p.cwd))
        {
            e.cwd = Some(p.cwd.clone());
        }
        if !e
            .root
            .as_ref()
            .is_some_and(|r| alloc::sync::Arc::ptr_eq(r, &p.root))
        {
            e.root = Some(p.root.clone());
        }
        let fds = p.fds.live();
        if !e.fds.as_ref().is_some_and(|f| f.ptr_eq(&fds)) {
            e.fds = Some(fds);
        }
        e.euid = p.euid;
        e.egid = p.egid;
        if e.comm != p.comm {
            e.comm.clone_from(&p.comm);
        }
    }

    /// The I/O context of a read or write the kernel serves: the host, and
    /// the kernel's state for procfs files.
    pub(crate) fn io(&mut self) -> KernelIo<'_, H> {
        let sys_mark = self.sys_mark();
        KernelIo {
            host: &mut self.host,
            procs: &mut self.procs,
            cur: self.cur,
            zombies: &self.zombies,
            vfs: &self.vfs,
            frames: &self.frames,
            cfg: &self.cfg,
            domainname: &self.domainname,
            dir: &self.procfs.dir,
            boot_time: self.boot_time,
            next_pid: self.next_pid,
            sys_since: self.sys_since,
            sys_mark,
            ipc: &self.ipc,
            net: &self.net,
            cpu_marks: (self.cpu_clock == Some(true)).then_some(&self.cpu_marks),
        }
    }
}

/// The kernel as a file operation sees it: the host's console, clock and
/// entropy, and a read-only view of the processes for procfs.
pub(crate) struct KernelIo<'a, H: Host> {
    host: &'a mut H,
    procs: &'a mut crate::vecmap::VecMap<Pid, alloc::boxed::Box<Process>>,
    /// The process whose syscall is being served (its current thread is
    /// the caller).
    cur: Pid,
    zombies: &'a crate::vecmap::VecMap<Pid, Zombie>,
    vfs: &'a Vfs,
    frames: &'a FrameAllocator,
    cfg: &'a Config,
    domainname: &'a str,
    dir: &'a SharedDir,
    boot_time: u64,
    next_pid: Pid,
    sys_since: Option<(Pid, u64)>,
    /// The system-time mark, when system time comes from the kernel's CPU
    /// clock.
    sys_mark: Option<super::cpuclock::CpuMark>,
    ipc: &'a crate::ipc::IpcNs,
    net: &'a crate::net::NetNs,
    /// The user-time marks, when user time comes from host CPU clocks.
    cpu_marks: Option<&'a crate::vecmap::VecMap<crate::host::MmId, super::cpuclock::CpuMark>>,
}

impl<H: Host> KernelIo<'_, H> {
    /// `t` with the user and system time of `pid` (thread `tid`) not
    /// charged yet.
    fn with_unsettled(
        &self,
        mut t: crate::task::CpuTimes,
        pid: Pid,
        tid: Option<Pid>,
    ) -> crate::task::CpuTimes {
        let d = self.cpu_marks.map_or(0, |m| {
            super::cpuclock::unsettled(&*self.host, self.procs, m, pid, tid)
        });
        t.user_ns = t.user_ns.saturating_add(d);
        let d = super::cpuclock::sys_unsettled(&*self.host, self.sys_mark, pid, tid);
        t.sys_ns = t.sys_ns.saturating_add(d);
        t
    }
}

impl<H: Host> IoCtx for KernelIo<'_, H> {
    fn console_read(&mut self, buf: &mut [u8]) -> Result<ConsoleRead, HostError> {
        IoCtx::console_read(self.host, buf)
    }
    fn console_write(&mut self, stream: ConsoleStream, data: &[u8]) -> Result<usize, HostError> {
        IoCtx::console_write(self.host, stream, data)
    }
    fn console_is_tty(&self, stream: ConsoleStream) -> bool {
        IoCtx::console_is_tty(&*self.host, stream)
    }
    fn console_winsize(&self) -> Option<Winsize> {
        IoCtx::console_winsize(&*self.host)
    }
    fn console_hung_up(&self) -> bool {
        IoCtx::console_hung_up(&*self.host)
    }
    fn random(&mut self, buf: &mut [u8]) {
        IoCtx::random(self.host, buf)
    }
    fn now_real(&self) -> u64 {
        IoCtx::now_real(&*self.host)
    }
    fn now_mono(&self) -> u64 {
        IoCtx::now_mono(&*self.host)
    }
    fn host_net(&mut self) -> Option<&mut dyn crate::host::HostNet> {
        IoCtx::host_net(self.host)
    }
    fn signals_pending(&self) -> u64 {
        self.procs
            .get(&self.cur)
            .map_or(0, |p| p.pending.0 | p.thread.pending.0)
    }
    fn signal_wakes(&self) -> u64 {
        self.procs
            .get(&self.cur)
            .map_or(0, |p| p.sig_wake.max(p.thread.sig_wake))
    }
    fn take_signal(&mut self, mask: u64) -> Option<[u8; 128]> {
        let p = self.procs.get_mut(&self.cur)?;
        let sig = crate::task::SigSet(p.thread.pending.0 & mask)
            .first()
            .or_else(|| crate::task::SigSet(p.pending.0 & mask).first())?;
        Some(p.dequeue_signal(sig).encode_signalfd())
    }
    fn proc_view(&self) -> Option<&dyn ProcView> {
        Some(self)
    }
}

impl<H: Host> ProcView for KernelIo<'_, H> {
    fn task(&self, pid: u32, tid: u32) -> Option<ProcInfo> {
        let p = self.procs.get(&pid)?;
        let mut info = self.proc_info(p);
        info.pid = tid;
        if let Some(t) = p.thread_by_tid(tid) {
            if p.job == JobState::Running {
                info.state = match t.state {
                    ThreadState::Runnable => b'R',
                    ThreadState::Blocked(_) => b'S',
                };
            }
            info.sig_pending = t.pending.0;
            info.sig_blocked = t.sigmask.0;
            let mut cpu = self.with_unsettled(t.cpu, pid, Some(tid));
            if let Some((spid, since)) = self.sys_since {
                if spid == pid && p.thread.tid == tid {
                    let now = self.host.now_mono();
                    cpu.sys_ns = cpu.sys_ns.saturating_add(now.saturating_sub(since));
                }
            }
            info.cpu_ticks = cpu.ticks();
        } else {
            // The leader exited before its threads: Linux shows it a zombie.
            info.state = b'Z';
        }
        Some(info)
    }

    fn process(&self, pid: u32) -> Option<ProcInfo> {
        if let Some(p) = self.procs.get(&pid) {
            return Some(self.proc_info(p));
        }
        let z = self.zombies.get(&pid)?;
        let comm = self
            .dir
            .lock()
            .procs
            .get(&pid)
            .map(|e| e.comm.clone())
            .unwrap_or_default();
        Some(zombie_info(z, comm))
    }

    fn system(&self) -> SysSummary {
        let now_mono = self.host.now_mono();
        let now_real = self.host.now_real();
        let uptime_ns = now_mono.saturating_sub(self.boot_time);
        let running = self
            .procs
            .values()
            .filter(|p| p.thread.state == ThreadState::Runnable && p.job == JobState::Running)
            .count();
        let last_pid = self.next_pid.saturating_sub(1);
        SysSummary {
            mem_total_kb: self.frames.total() as u64 * 4,
            mem_free_kb: self.frames.free_count() as u64 * 4,
            cached_kb: self.frames.cached_pages() as u64 * 4,
            uptime_ns,
            btime: now_real.saturating_sub(uptime_ns) / 1_000_000_000,
            forks: u64::from(last_pid),
            running: u32::try_from(running).unwrap_or(u32::MAX),
            blocked: 0,
            last_pid,
            mounts: self
                .vfs
                .mounts()
                .into_iter()
                .map(|m| MountLine {
                    options: m.options(),
                    source: if m.source.is_empty() {
                        mount_source(&m.fstype, &m.path)
                    } else {
                        m.source.clone()
                    },
                    path: m.path,
                    fstype: m.fstype,
                    ro: m.ro,
                    id: shown_mount_id(m.id),
                    parent: shown_mount_id(m.parent),
                    dev: m.dev,
                    fs_ro: m.fs_ro,
                    data: m.data,
                })
                .collect(),
            hostname: self.cfg.hostname.clone(),
            domainname: String::from(self.domainname),
            osrelease: String::from(crate::syscall::info::UTS_RELEASE),
            version: String::from(crate::syscall::info::UTS_VERSION),
            nr_open: self.cfg.max_fds as u64,
            // Without `ipc`, /proc/sysvipc does not exist (fs/procfs.rs).
            sysvipc: if cfg!(feature = "ipc") {
                [
                    self.ipc.shm.proc_text(),
                    self.ipc.sem.proc_text(),
                    self.ipc.msg.proc_text(),
                ]
            } else {
                [Vec::new(), Vec::new(), Vec::new()]
            },
            // Without the `inet` feature the inet files do not exist
            // (fs/procfs.rs, `built`): their texts are left empty.
            net: if cfg!(feature = "inet") {
                [
                    crate::net::inet::proc_net_dev(self.net),
                    crate::net::inet::proc_if_inet6(),
                    crate::net::inet::proc_net_inet(self.net, false, false),
                    crate::net::inet::proc_net_inet(self.net, false, true),
                    crate::net::inet::proc_net_inet(self.net, true, false),
                    crate::net::inet::proc_net_inet(self.net, true, true),
                    crate::net::unix::proc_net_unix(self.net),
                ]
            } else {
                [
                    crate::net::inet::proc_net_dev(self.net),
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                    crate::net::unix::proc_net_unix(self.net),
                ]
            },
        }
    }

    fn count(&self) -> usize {
        self.procs.len() + self.zombies.len()
    }
}

impl<H: Host> KernelIo<'_, H> {
    fn proc_info(&self, p: &Process) -> ProcInfo {
        let state = match p.job {
            JobState::Stopped(_) => b'T',
            JobState::Running => match p.thread.state {
                ThreadState::Runnable => b'R',
                ThreadState::Blocked(_) => b'S',
            },
        };
        let argc = p.argc.min(p.cmdline.len());
        let (argv, envp) = p.cmdline.split_at(argc);
        let exe_meta = self
            .vfs
            .lookup(&self.vfs.root(), &p.exe, FollowLast::Follow, &Cred::root())
            .ok()
            .and_then(|n| n.inode().metadata().ok());
        let mut sig_ignored = 0u64;
        let mut sig_caught = 0u64;
        for (i, a) in p.sigactions.iter().enumerate() {
            let bit = 1u64 << i;
            if a.handler == umbra_abi::signal::SIG_IGN {
                sig_ignored |= bit;
            } else if a.has_handler() {
                sig_caught |= bit;
            }
        }
        let max_fd = p.fds.fds().map(|(fd, _)| fd).max().unwrap_or(0);
        let fd_size = (usize::try_from(max_fd).unwrap_or(0) / 64 + 1) * 64;
        // The system time of the trap being handled counts (a process reading
        // its own stat sees the time of that read), as cpu_times does.
        let mut cpu = self.with_unsettled(p.cpu, p.pid, None);
        if let Some((spid, since)) = self.sys_since {
            if spid == p.pid {
                let now = self.host.now_mono();
                cpu.sys_ns = cpu.sys_ns.saturating_add(now.saturating_sub(since));
            }
        }
        ProcInfo {
            pid: p.pid,
            ppid: p.ppid,
            pgid: p.pgid,
            sid: p.sid,
            state,
            comm: p.comm.clone(),
            argv: argv.to_vec(),
            envp: envp.to_vec(),
            exe: p.exe.clone(),
            cwd: p.cwd.absolute_path(),
            root: p.root.absolute_path(),
            uid: p.creds.ruid,
            euid: p.euid,
            gid: p.creds.rgid,
            egid: p.egid,
            suid: p.creds.suid,
            fsuid: p.creds.fsuid,
            sgid: p.creds.sgid,
            fsgid: p.creds.fsgid,
            groups: p.creds.groups.clone(),
            caps: [
                p.creds.caps.inheritable,
                p.creds.caps.permitted,
                p.creds.caps.effective,
                p.creds.caps.bounding,
            ],
            no_new_privs: p.creds.no_new_privs,
            umask: p.umask,
            fd_size,
            maps: p
                .mm
                .vmas
                .iter()
                .map(|v| {
                    let file = matches!(v.kind, VmaKind::File { .. });
                    // Mappings have no path: the executable's segments are
                    // the file mappings below the brk area.
                    let exe = file && v.end <= p.mm.brk_start;
                    let (dev, ino) = match (&exe_meta, exe) {
                        (Some(m), true) => (m.dev, m.ino),
                        _ => (0, 0),
                    };
                    MapEntry {
                        start: v.start,
                        end: v.end,
                        read: v.prot.contains(Prot::READ),
                        write: v.prot.contains(Prot::WRITE),
                        exec: v.prot.contains(Prot::EXEC),
                        // Linux shows its vDSO and time page as private.
                        shared: v.kind.is_shared()
                            && !matches!(v.name, VmaName::Vdso | VmaName::Vvar),
                        offset: match &v.kind {
                            VmaKind::File { offset, .. } | VmaKind::Shared { offset, .. } => {
                                *offset
                            }
                            VmaKind::Anon => 0,
                        },
                        dev,
                        ino,
                        name: match v.name {
                            VmaName::Heap => String::from("[heap]"),
                            VmaName::Stack => String::from("[stack]"),
                            VmaName::Vvar => String::from("[vvar]"),
                            VmaName::Vdso => String::from("[vdso]"),
                            VmaName::None if exe => String::from_utf8_lossy(&p.exe).into_owned(),
                            VmaName::None
                                if matches!(&v.kind, VmaKind::Shared { obj, .. }
                                    if obj.file().is_none()) =>
                            {
                                String::from("/dev/zero (deleted)")
                            }
                            VmaName::None => String::new(),
                        },
                    }
                })
                .collect(),
            rss_pages: p.mm.resident_pages() as u64,
            locked_bytes: p.mm.locked_bytes(0, u64::MAX),
            start_ticks: p.start_time.saturating_sub(self.boot_time) / (1_000_000_000 / USER_HZ),
            cpu_ticks: cpu.ticks(),
            sig_pending: p.thread.pending.0,
            sig_shared: p.pending.0,
            sig_blocked: p.thread.sigmask.0,
            sig_ignored,
            sig_caught,
            exit_signal: p.exit_signal,
            brk_start: p.mm.brk_start,
            brk: p.mm.brk,
            nice: p.nice,
            zombie: false,
            threads: p.nthreads() as u32,
        }
    }
}

/// The summary of a process that exited and waits for its parent.
fn zombie_info(z: &Zombie, comm: alloc::vec::Vec<u8>) -> ProcInfo {
    ProcInfo {
        pid: z.pid,
        ppid: z.ppid,
        pgid: z.pgid,
        sid: z.pgid,
        state: b'Z',
        comm,
        zombie: true,
        fd_size: 0,
        cpu_ticks: z.cpu.ticks(),
        ..Default::default()
    }
}

/// The first column of /proc/mounts for a filesystem type.
fn mount_source(fstype: &str, path: &str) -> String {
    match fstype {
        "tmpfs" if path == "/" => String::from("rootfs"),
        "ext2" => String::from("/dev/root"),
        other => String::from(other),
    }
}

/// Makes directory `name` in `parent` unless it exists; whether it is there now.
fn make_dir(vfs: &Vfs, parent: &str, name: &str, perm: u32, now: Timespec) -> bool {
    let Ok(dir) = vfs.lookup(&vfs.root(), parent, FollowLast::Follow, &Cred::root()) else {
        return false;
    };
    match dir.inode().lookup(name.as_bytes()) {
        Ok(i) => i.kind() == FileType::Directory,
        Err(_) => {
            let attr = NewNode {
                kind: FileType::Directory,
                perm,
                uid: 0,
                gid: 0,
                rdev: 0,
                now,
            };
            dir.inode().create(name.as_bytes(), &attr).is_ok()
        }
    }
}
