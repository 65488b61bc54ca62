//! The kernel's side of procfs: the standard mounts at boot (/proc, and tmpfs on
//! /tmp, /run and /dev/shm) and the refresh of the process summary procfs
//! reads, done when a guest is about to look at /proc.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::Kernel;
use crate::fs::devfs::ConsoleFile;
use crate::fs::pipe::{PipeReader, PipeWriter};
use crate::fs::procfs::{
    new_procfs, FdEntry, MapEntry, MountLine, ProcInfo, ProcTable, SharedTable, SysSummary, USER_HZ,
};
use crate::fs::tmpfs::TmpFs;
use crate::fs::vfs::{timespec_from_ns, Metadata, NewNode, SetAttr};
use crate::fs::{Cred, FileType, FollowLast, Vfs};
use crate::host::Host;
use crate::mm::{VmaKind, VmaName};
use crate::task::{JobState, Process, ThreadState, Zombie};
use umbra_abi::flags::Prot;
use umbra_abi::structs::Timespec;

/// What the kernel keeps for procfs: the table the inodes read and the
/// mount id of /proc (to tell cheaply whether a cwd is inside it).
#[derive(Default)]
pub(crate) struct ProcfsState {
    pub(crate) table: SharedTable,
    pub(crate) mount_id: Option<u32>,
}

impl<H: Host> Kernel<H> {
    /// Mounts procfs on /proc and tmpfs on /tmp, /run and /dev/shm, making the
    /// directories when missing; a tmpfs goes only on an empty directory, so
    /// it never hides files of the root archive or image, and the /dev links into /proc/self/fd when
    /// devfs lacks them. A mount whose directory cannot be made is skipped.
    pub(crate) fn procfs_boot(&mut self) {
        let now = timespec_from_ns(self.host.now_real());
        if make_dir(&self.vfs, "/", "proc", 0o555, now) {
            let root = new_procfs(self.vfs.alloc_anon_dev(), self.procfs.table.clone());
            if self.vfs.mount_at("/proc", root, "proc").is_ok() {
                self.procfs.mount_id = self
                    .vfs
                    .mounts()
                    .iter()
                    .rev()
                    .find(|m| m.path == "/proc")
                    .map(|m| m.id);
            }
        }
        for (parent, name, perm) in [
            ("/", "tmp", 0o1777),
            ("/", "run", 0o755),
            ("/dev", "shm", 0o1777),
        ] {
            // Never over what the archive or image put there (issue 10).
            if !make_dir(&self.vfs, parent, name, perm, now)
                || !crate::fs::dir_is_empty(&self.vfs, parent, name)
            {
                continue;
            }
            let fs = TmpFs::new(self.vfs.alloc_anon_dev(), now);
            let attr = SetAttr {
                perm: Some(perm),
                ..SetAttr::touch(now)
            };
            if fs.root().set_metadata(&attr).is_err() {
                continue;
            }
            let path = if parent == "/" {
                alloc::format!("/{name}")
            } else {
                alloc::format!("{parent}/{name}")
            };
            let _ = self.vfs.mount_at(&path, fs.root(), "tmpfs");
        }
        self.dev_links(now);
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

    /// Refreshes what procfs shows. Called before path syscalls under /proc and
    /// before reads and directory listings of procfs files.
    pub(crate) fn procfs_touch(&mut self) {
        let table = self.procfs.table.clone();
        let mut new = ProcTable {
            self_pid: self.cur,
            procs: Default::default(),
            sys: self.sys_summary(),
        };
        // Zombies keep the name they had while alive.
        let old_comm: Vec<(u32, Vec<u8>)> = {
            let t = table.lock();
            self.zombies
                .keys()
                .filter_map(|pid| t.procs.get(pid).map(|p| (*pid, p.comm.clone())))
                .collect()
        };
        for p in self.procs.values() {
            let info = self.proc_info(p);
            new.procs.insert(p.pid, info);
        }
        for z in self.zombies.values() {
            let comm = old_comm
                .iter()
                .find(|(pid, _)| *pid == z.pid)
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            new.procs.insert(z.pid, zombie_info(z, comm));
        }
        *table.lock() = new;
    }

    fn sys_summary(&self) -> SysSummary {
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
            uptime_ns,
            btime: now_real.saturating_sub(uptime_ns) / 1_000_000_000,
            now: timespec_from_ns(now_real),
            forks: u64::from(last_pid),
            running: u32::try_from(running).unwrap_or(u32::MAX),
            blocked: 0,
            last_pid,
            mounts: self
                .vfs
                .mounts()
                .into_iter()
                .map(|m| MountLine {
                    source: mount_source(&m.fstype, &m.path),
                    path: m.path,
                    fstype: m.fstype,
                    ro: m.ro,
                })
                .collect(),
            hostname: self.cfg.hostname.clone(),
            osrelease: String::from(crate::syscall::info::UTS_RELEASE),
            version: String::from(crate::syscall::info::UTS_VERSION),
        }
    }

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
            uid: p.cred.uid,
            euid: p.euid,
            gid: p.cred.gid,
            egid: p.egid,
            groups: p.cred.groups.clone(),
            umask: p.umask,
            fds: p.fds.fds().map(|(fd, f)| fd_entry(fd, f)).collect(),
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
                        shared: v.kind.is_shared(),
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
                            VmaName::None if exe => String::from_utf8_lossy(&p.exe).into_owned(),
                            VmaName::None if v.kind.is_shared() => {
                                String::from("/dev/zero (deleted)")
                            }
                            VmaName::None => String::new(),
                        },
                    }
                })
                .collect(),
            rss_pages: p.mm.resident_pages() as u64,
            start_ticks: p.start_time.saturating_sub(self.boot_time) / (1_000_000_000 / USER_HZ),
            cpu_ticks: self.cpu_times(p.pid).ticks(),
            sig_pending: p.thread.pending.0,
            sig_shared: p.pending.0,
            sig_blocked: p.thread.sigmask.0,
            sig_ignored,
            sig_caught,
            exit_signal: p.exit_signal,
            brk_start: p.mm.brk_start,
            brk: p.mm.brk,
            nice: 0,
            zombie: false,
        }
    }
}

/// The summary of a process that exited and waits for its parent.
fn zombie_info(z: &Zombie, comm: Vec<u8>) -> ProcInfo {
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

/// The /proc/PID/fd entry of an open file.
fn fd_entry(fd: i32, f: &Arc<crate::fs::file::OpenFile>) -> FdEntry {
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
            target: alloc::format!("anon_inode:[{fd}]").into_bytes(),
            ops: None,
            kind: FileType::Regular,
            perm,
        };
    };
    // A stable number for the stream: its address.
    let id = (Arc::as_ptr(ops) as *const () as usize as u64 >> 4) % 10_000_000;
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
            alloc::format!("pipe:[{id}]").into_bytes()
        } else {
            alloc::format!("anon_inode:[{id}]").into_bytes()
        },
        ops: Some(Arc::downgrade(ops)),
        kind,
        perm,
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
