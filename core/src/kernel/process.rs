//! Process life: fork (clone without CLONE_THREAD), execve with ELF and `#!`
//! scripts, exit into a zombie, reparenting to pid 1, the OOM killer, interval
//! timers, and teardown when pid 1 exits.

use super::Kernel;
use crate::fs::{FileType, FollowLast, PathRef};
use crate::host::{Host, LogLevel};
use crate::loader::ElfError;
use crate::mm::{AddressSpace, UserOutPtr};
use crate::task::signal::{code, SigSet};
use crate::task::{
    CpuTimes, ExitStatus, JobState, Pid, Process, SigInfo, Thread, ThreadState, Wait, Zombie,
};
use crate::KResult;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use umbra_abi::flags::CloneFlags;
use umbra_abi::signal::*;
use umbra_abi::Errno;

/// Why loading a program failed.
#[derive(Debug)]
pub enum ExecError {
    Elf(ElfError),
    Errno(Errno),
}

/// How a clone's child is set up.
#[derive(Clone, Copy, Debug, Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
}

/// Where exec looks paths up (the interpreter's too), and as whom.
pub(crate) struct ExecFs<'a> {
    pub root: &'a PathRef,
    pub cwd: &'a PathRef,
    pub cred: &'a crate::fs::Cred,
}

/// Nested `#!` interpreters allowed (Linux allows 4 levels of binfmt_script).
const MAX_INTERP_DEPTH: usize = 4;
/// Bytes of a `#!` line Linux reads (BINPRM_BUF_SIZE).
const BINPRM_BUF: usize = 256;

impl<H: Host> Kernel<H> {
    /// clone(2), fork(2) and vfork(2). With CLONE_THREAD the child is a new
    /// thread of the caller's process (`clone_thread`); otherwise a new
    /// process, with a copy-on-write copy of the caller's memory, or with
    /// CLONE_VM|CLONE_VFORK the caller's memory itself, lent to the child
    /// until it execs or exits. Returns the child's pid or tid.
    ///
    /// What umbra cannot share between two processes is refused with
    /// EINVAL rather than copied: CLONE_VM without CLONE_VFORK (the two would
    /// run at once on one address space), and CLONE_FILES, CLONE_FS,
    /// CLONE_SIGHAND or CLONE_SYSVSEM without CLONE_THREAD.
    pub(crate) fn fork(&mut self, a: CloneArgs) -> KResult<Pid> {
        let flags = CloneFlags::from_bits_retain(a.flags & !0xff);
        if flags.contains(CloneFlags::THREAD) && !flags.contains(CloneFlags::SIGHAND)
            || flags.contains(CloneFlags::SIGHAND) && !flags.contains(CloneFlags::VM)
        {
            return Err(Errno::EINVAL);
        }
        if flags.intersects(
            CloneFlags::NEWNS | CloneFlags::PIDFD | CloneFlags::from_bits_retain(0x7e02_0000),
        ) {
            // New namespaces and pidfds are not supported.
            return Err(Errno::EINVAL);
        }
        if flags.contains(CloneFlags::THREAD) {
            return self.clone_thread(a, flags);
        }
        let shared = CloneFlags::FILES | CloneFlags::FS | CloneFlags::SIGHAND | CloneFlags::SYSVSEM;
        if flags.intersects(shared)
            || flags.contains(CloneFlags::VM) && !flags.contains(CloneFlags::VFORK)
        {
            return Err(Errno::EINVAL);
        }
        if self.task_limit_reached() {
            return Err(Errno::EAGAIN);
        }
        let exit_signal = (a.flags & 0xff) as u32;
        if exit_signal > NSIG {
            return Err(Errno::EINVAL);
        }
        let pid = self.alloc_pid();
        if flags.contains(CloneFlags::PARENT_SETTID) {
            // Before anything is created, so a bad pointer leaves nothing behind.
            self.user()
                .write(UserOutPtr::<u32>::new(a.parent_tid), &pid)?;
        }
        let lend = flags.contains(CloneFlags::VM);
        let id = if lend {
            None
        } else {
            Some(self.host.mm_create().map_err(Errno::from)?)
        };
        let now = self.host.now_mono();
        let parent = self.procs.get_mut(&self.cur).ok_or(Errno::ESRCH)?;
        let mut regs = parent.thread.regs.clone();
        regs.set_syscall_ret(0);
        if a.stack != 0 {
            regs.set_sp(a.stack);
        }
        if flags.contains(CloneFlags::SETTLS) {
            regs.set_tls(a.tls);
        }
        let mm = match id {
            // CLONE_VM|CLONE_VFORK: the child runs on the parent's memory
            // (and host process) itself; the parent keeps a stand-in until
            // the child execs or exits, and its other threads take the
            // memory back in turn meanwhile (`take_vforked_mm`).
            None => {
                let stand_in = AddressSpace::stand_in(parent.mm.id);
                parent.mm_lent = true;
                core::mem::replace(&mut parent.mm, stand_in)
            }
            Some(id) => {
                let mut mm = parent.mm.fork_cow(&mut self.frames, id);
                // Both sides write their stack page, their thread descriptor
                // (at the thread pointer: libc stores the child's tid there)
                // and, likely, the pages the parent wrote lately, at once:
                // copy those pages for the child now and leave them writable
                // in the parent, saving write faults on each side.
                let hot = mm.take_fork_hot();
                let hot = hot.iter().map(|vpn| vpn << crate::config::PAGE_SHIFT);
                for va in [regs.sp(), regs.tls()].into_iter().chain(hot) {
                    if mm.copy_now(&mut self.frames, &mut self.host, va) {
                        parent.mm.reclaim_page(&self.frames, va);
                    }
                }
                mm
            }
        };
        let mut thread = Thread::new(pid, regs);
        thread.sigmask = parent.thread.sigmask;
        thread.altstack = parent.thread.altstack;
        if lend && (!parent.others.is_empty() || parent.mm_from.is_some()) {
            // The caller's FP state (rounding mode, vector registers) is
            // the child's, as on Linux; the host process holds it now, but
            // the parent's other threads (or, the parent being a vfork
            // child itself, its own parent's) may run there before the
            // child.
            let mut fp = Vec::new();
            if self.host.xstate_save(mm.id, &mut fp).is_ok() {
                thread.fpstate = fp;
            }
        }
        if flags.contains(CloneFlags::CHILD_CLEARTID) {
            thread.clear_child_tid = a.child_tid;
        }
        let child = Process {
            pid,
            ppid: if flags.contains(CloneFlags::PARENT) {
                parent.ppid
            } else {
                parent.pid
            },
            pgid: parent.pgid,
            sid: parent.sid,
            mm,
            fds: parent.fds.clone(),
            cwd: parent.cwd.clone(),
            root: parent.root.clone(),
            umask: parent.umask,
            cred: parent.cred.clone(),
            euid: parent.euid,
            egid: parent.egid,
            creds: parent.creds.for_child(),
            sigactions: parent.sigactions,
            rlimits: parent.rlimits,
            thread,
            others: Vec::new(),
            pending: SigSet::default(),
            sig_wake: 0,
            siginfo: crate::vecmap::VecMap::new(),
            rt_queue: Vec::new(),
            job: JobState::Running,
            job_report: None,
            itimer_real: None,
            vfork_parent: flags.contains(CloneFlags::VFORK).then_some(parent.pid),
            mm_lent: false,
            mm_from: lend.then_some(parent.pid),
            exit_signal,
            nice: parent.nice,
            timers: Default::default(),
            did_exec: false,
            exe: parent.exe.clone(),
            comm: parent.comm.clone(),
            start_time: now,
            cmdline: parent.cmdline.clone(),
            argc: parent.argc,
            cpu: CpuTimes::default(),
            membarrier: parent.membarrier,
        };
        self.procs.insert(pid, Box::new(child));
        if flags.contains(CloneFlags::CHILD_SETTID) {
            let prev = self.cur;
            self.cur = pid;
            let r = self.user().write(UserOutPtr::<u32>::new(a.child_tid), &pid);
            self.cur = prev;
            if let Err(e) = r {
                // Undo the child entirely: its host process goes too (a
                // lent address space goes back to the parent).
                if let Some(c) = self.procs.remove(&pid) {
                    self.drop_mm(c.mm, c.mm_from);
                }
                return Err(e);
            }
        }
        self.procfs_sync(pid);
        self.epoch += 1;
        Ok(pid)
    }

    /// clone(2) with CLONE_THREAD: a new thread of the current process, which
    /// shares everything the process holds (memory, files, fs, signal
    /// actions, credentials) and has its own registers, signal mask and
    /// pending set. Its FP state starts as the caller's. A thread must
    /// share files and fs (CLONE_FILES, CLONE_FS) here: umbra keeps them per
    /// process, so a thread with its own is refused with EINVAL; so is
    /// CLONE_VFORK. CLONE_SYSVSEM's undo list is per process anyway.
    fn clone_thread(&mut self, a: CloneArgs, flags: CloneFlags) -> KResult<Pid> {
        if !flags.contains(CloneFlags::FILES | CloneFlags::FS)
            || flags.intersects(CloneFlags::VFORK | CloneFlags::PARENT)
        {
            return Err(Errno::EINVAL);
        }
        if self.task_limit_reached() {
            return Err(Errno::EAGAIN);
        }
        let tid = self.alloc_pid();
        if flags.contains(CloneFlags::PARENT_SETTID) {
            self.user()
                .write(UserOutPtr::<u32>::new(a.parent_tid), &tid)?;
        }
        if flags.contains(CloneFlags::CHILD_SETTID) {
            // The same memory: the child's view of it is the caller's.
            self.user()
                .write(UserOutPtr::<u32>::new(a.child_tid), &tid)?;
        }
        let pid = self.cur;
        let p = self.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
        let mut regs = p.thread.regs.clone();
        regs.set_syscall_ret(0);
        if a.stack != 0 {
            regs.set_sp(a.stack);
        }
        if flags.contains(CloneFlags::SETTLS) {
            regs.set_tls(a.tls);
        }
        let mut thread = Thread::new(tid, regs);
        // A new thread on the same memory gets no alternate stack (Linux
        // clears it for CLONE_VM without CLONE_VFORK).
        thread.sigmask = p.thread.sigmask;
        if flags.contains(CloneFlags::CHILD_CLEARTID) {
            thread.clear_child_tid = a.child_tid;
        }
        let mm = p.mm.id;
        // The caller is the thread the host process holds the FP state of:
        // the new thread starts with a copy.
        let mut fp = Vec::new();
        if self.host.xstate_save(mm, &mut fp).is_ok() {
            thread.fpstate = fp;
        }
        let p = self.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
        p.others.push(thread);
        self.tgids.insert(tid, pid);
        self.procfs_sync(pid);
        self.epoch += 1;
        self.new_thread = Some((tid, self.traps));
        Ok(tid)
    }

    /// Brings the address space of process `pid`, whose memory a vfork
    /// shares (`mm_lent`: another process holds it), back from the process
    /// that holds it, which keeps a stand-in meanwhile. A vfork parent's
    /// other threads and its child take turns with it so, as Linux lets
    /// them run at once on the same memory: only the vfork caller waits.
    /// The guest is uniprocessor, so one holder at a time is enough; the
    /// host process (stub) is the same for both. False if no one holds it.
    pub(super) fn take_vforked_mm(&mut self, pid: Pid) -> bool {
        let Some(p) = self.procs.get(&pid) else {
            return false;
        };
        if !p.mm_lent {
            return true;
        }
        let id = p.mm.id;
        let Some(holder) = self
            .procs
            .iter()
            .find(|(&q, x)| q != pid && x.mm.id == id && !x.mm_lent)
            .map(|(&q, _)| q)
        else {
            return false;
        };
        let Some(h) = self.procs.get_mut(&holder) else {
            return false;
        };
        let mm = core::mem::replace(&mut h.mm, AddressSpace::stand_in(id));
        h.mm_lent = true;
        let Some(p) = self.procs.get_mut(&pid) else {
            return false;
        };
        // The stand-in holds nothing.
        let _stand_in = core::mem::replace(&mut p.mm, mm);
        p.mm_lent = false;
        true
    }

    /// Frees an address space a process no longer uses: one lent by a vfork
    /// parent (`lender`) goes back to it, if it still waits for it; any
    /// other is destroyed with its host process.
    pub(super) fn drop_mm(&mut self, mm: AddressSpace, lender: Option<Pid>) {
        if let Some(p) = lender.and_then(|l| self.procs.get_mut(&l)) {
            if p.mm_lent && p.mm.id == mm.id {
                p.mm_lent = false;
                // The stand-in holds nothing.
                let _stand_in = core::mem::replace(&mut p.mm, mm);
                return;
            }
        }
        // A vfork child (or parent) waiting for this memory gets it: the
        // process that held it exited or exec'd, the memory lives on.
        if let Some(p) = self
            .procs
            .values_mut()
            .find(|p| p.mm_lent && p.mm.id == mm.id)
        {
            p.mm_lent = false;
            let _stand_in = core::mem::replace(&mut p.mm, mm);
            return;
        }
        self.fp_owner.remove(&mm.id);
        self.cpu_forget(mm.id);
        self.writeback_mm(&mm);
        mm.destroy(&mut self.frames, &mut self.host);
    }

    /// Ends thread `tid` of the current process alone (exit(2) while other
    /// threads remain): its robust futexes and clear_child_tid are released
    /// and its CPU time stays with the process.
    pub(crate) fn exit_thread(&mut self, status: ExitStatus) {
        let pid = self.cur;
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if p.others.is_empty() {
            self.exit_process(pid, status);
            return;
        }
        let tid = p.thread.tid;
        crate::syscall::futex::exit_release(self, pid);
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        let next = p.others.swap_remove(0);
        let _gone = core::mem::replace(&mut p.thread, next);
        if self.cfg.strace {
            self.host.log(
                LogLevel::Trace,
                format_args!("[pid {tid}] +++ thread exited +++"),
            );
        }
        self.tgids.remove(&tid);
        self.tried.remove(&tid);
        self.fp_owner_exited(tid);
        self.epoch += 1;
        self.procfs_sync(pid);
    }

    /// Releases what every thread of process `pid` but the current one leaves
    /// behind (robust futexes, clear_child_tid) and removes those threads:
    /// exit_group, a fatal signal, and execve (Linux's de_thread) end them.
    fn end_other_threads(&mut self, pid: Pid) {
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        let me = p.thread.tid;
        let tids: Vec<Pid> = p.others.iter().map(|t| t.tid).collect();
        for tid in tids {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.switch_to(tid);
            }
            crate::syscall::futex::exit_release(self, pid);
            self.tgids.remove(&tid);
            self.tried.remove(&tid);
            self.fp_owner_exited(tid);
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.switch_to(me);
            p.others.clear();
        }
    }

    fn alloc_pid(&mut self) -> Pid {
        loop {
            let pid = self.next_pid;
            self.next_pid = if self.next_pid >= 4_194_303 {
                2
            } else {
                self.next_pid + 1
            };
            if !self.procs.contains_key(&pid)
                && !self.zombies.contains_key(&pid)
                && !self.tgids.contains_key(&pid)
            {
                return pid;
            }
        }
    }

    /// Resolves an exec path to an ELF file, following `#!` interpreters:
    /// returns the node to load and the final argv.
    fn resolve_exec(
        &mut self,
        path: &[u8],
        first: Option<PathRef>,
        argv: Vec<Vec<u8>>,
    ) -> KResult<(PathRef, Vec<Vec<u8>>)> {
        let p = self.proc();
        let (root, cwd, cred) = (p.root.clone(), p.cwd.clone(), p.cred.clone());
        let at = ExecFs {
            root: &root,
            cwd: &cwd,
            cred: &cred,
        };
        match first {
            Some(node) => {
                // execveat found the file itself: it is checked as
                // open_exec checks a name it looked up.
                let node = self.check_exec(&at, node)?;
                self.resolve_script(&at, node, path.to_vec(), argv)
            }
            None => self.resolve_exec_in(&at, path, argv),
        }
    }

    /// Looks `path` up for executing, as Linux's open_exec: a regular file
    /// with execute permission on a mount without noexec, else EACCES.
    pub(crate) fn open_exec(&self, at: &ExecFs<'_>, path: &[u8]) -> KResult<PathRef> {
        let node = self
            .vfs
            .lookup_in(at.root, at.cwd, path, FollowLast::Follow, at.cred)?;
        self.check_exec(at, node)
    }

    /// open_exec's checks of a file found: not on a noexec mount, a regular
    /// file, executable by the caller.
    fn check_exec(&self, at: &ExecFs<'_>, node: PathRef) -> KResult<PathRef> {
        if self.vfs.mount_flags(node.mount_id()) & crate::fs::path::ms::NOEXEC != 0 {
            return Err(Errno::EACCES);
        }
        let meta = node.inode().metadata()?;
        if meta.file_type() != Some(FileType::Regular) {
            return Err(Errno::EACCES);
        }
        crate::fs::vfs::check_access(&meta, at.cred, crate::fs::vfs::Access::EXEC)?;
        Ok(node)
    }

    /// [`Self::resolve_exec`] with the root, working directory and
    /// credentials given: the boot path uses it before pid 1 exists.
    pub(crate) fn resolve_exec_in(
        &mut self,
        at: &ExecFs<'_>,
        path: &[u8],
        argv: Vec<Vec<u8>>,
    ) -> KResult<(PathRef, Vec<Vec<u8>>)> {
        let node = self.open_exec(at, path)?;
        self.resolve_script(at, node, path.to_vec(), argv)
    }

    /// Follows `#!` lines from `node`, found at `path`, to the program that
    /// runs: its node and the argv it gets.
    fn resolve_script(
        &mut self,
        at: &ExecFs<'_>,
        node: PathRef,
        mut path: Vec<u8>,
        mut argv: Vec<Vec<u8>>,
    ) -> KResult<(PathRef, Vec<Vec<u8>>)> {
        let mut node = Some(node);
        for _ in 0..=MAX_INTERP_DEPTH {
            let node = match node.take() {
                Some(n) => n,
                None => self.open_exec(at, &path)?,
            };
            let inode = node.inode().clone();
            let mut head = [0u8; BINPRM_BUF];
            let n = inode.read_at(0, &mut head)?;
            let head = &head[..n];
            if !head.starts_with(b"#!") {
                return Ok((node, argv));
            }
            // "#!interp [one optional argument]" up to the newline.
            let line = &head[2..];
            let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
            let trimmed: &[u8] = {
                let s = line
                    .iter()
                    .position(|b| !b" \t".contains(b))
                    .unwrap_or(line.len());
                let e = line
                    .iter()
                    .rposition(|b| !b" \t\r".contains(b))
                    .map_or(s, |e| e + 1);
                &line[s..e.max(s)]
            };
            if trimmed.is_empty() {
                return Err(Errno::ENOEXEC);
            }
            let split = trimmed.iter().position(|b| b" \t".contains(b));
            let (interp, arg) = match split {
                Some(i) => {
                    let rest = &trimmed[i..];
                    let a = rest
                        .iter()
                        .position(|b| !b" \t".contains(b))
                        .map_or(&rest[rest.len()..], |s| &rest[s..]);
                    (&trimmed[..i], (!a.is_empty()).then_some(a))
                }
                None => (trimmed, None),
            };
            let mut new = Vec::with_capacity(argv.len() + 2);
            new.push(interp.to_vec());
            if let Some(a) = arg {
                new.push(a.to_vec());
            }
            new.push(path.clone());
            new.extend(argv.into_iter().skip(1));
            argv = new;
            path = interp.to_vec();
        }
        Err(Errno::ELOOP)
    }

    /// The credentials the current process has after executing `node`: a
    /// set-user-id (set-group-id, with group execute) program's owner
    /// becomes the effective id unless no_new_privs or a nosuid mount; saved and file-system
    /// ids follow the effective ones. Capabilities as Linux's without file
    /// capabilities: root (real or effective) gets the bounding set
    /// permitted, effective when its euid is 0; others none. keepcaps is
    /// cleared, and a set-id exec is not dumpable and loses its
    /// parent-death signal.
    fn exec_creds(&mut self, node: &crate::fs::PathRef) -> KResult<crate::task::cred::Creds> {
        let meta = node.inode().metadata()?;
        let nosuid = self.vfs.mount_flags(node.mount_id()) & crate::fs::path::ms::NOSUID != 0;
        let mut c = self.proc().creds.clone();
        if !c.no_new_privs && !nosuid {
            if meta.mode & 0o4000 != 0 {
                c.euid = meta.uid;
            }
            if meta.mode & 0o2010 == 0o2010 {
                c.egid = meta.gid;
            }
        }
        c.suid = c.euid;
        c.fsuid = c.euid;
        c.sgid = c.egid;
        c.fsgid = c.egid;
        c.caps.permitted = if c.euid == 0 || c.ruid == 0 {
            c.caps.bounding | c.caps.inheritable
        } else {
            0
        };
        c.caps.effective = if c.euid == 0 { c.caps.permitted } else { 0 };
        c.keepcaps = false;
        c.dumpable = crate::task::cred::DUMPABLE_DEFAULT;
        if c.euid != c.ruid || c.egid != c.rgid {
            c.dumpable = 0;
            c.pdeathsig = 0;
            // PER_CLEAR_ON_SETID: READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE,
            // ADDR_COMPAT_LAYOUT, MMAP_PAGE_ZERO.
            c.personality &= !0x0074_0000;
        }
        Ok(c)
    }

    /// execve(2) for the current process. On success the process runs the new
    /// program; on failure it is untouched.
    pub(crate) fn exec(
        &mut self,
        path: &[u8],
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
    ) -> KResult<()> {
        self.exec_found(path, None, argv, envp)
    }

    /// [`Self::exec`] of a file execveat found (`first`), named `path` for
    /// the program (AT_EXECFN, a script's interpreter argument).
    pub(crate) fn exec_found(
        &mut self,
        path: &[u8],
        first: Option<PathRef>,
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
    ) -> KResult<()> {
        let (node, argv) = self.resolve_exec(path, first, argv)?;
        let creds = self.exec_creds(&node)?;
        let p = self.proc();
        let (root, cwd, cred) = (p.root.clone(), p.cwd.clone(), p.cred.clone());
        let at = ExecFs {
            root: &root,
            cwd: &cwd,
            cred: &cred,
        };
        let loaded = self.load_program(&at, &node, &argv, &envp, path, &creds);
        let (mm, regs) = loaded.map_err(|e| match e {
            ExecError::Elf(e) => {
                if let crate::loader::ElfError::WrongAbi(_) = e {
                    // ENOEXEC alone would leave the user guessing.
                    self.host.log(
                        crate::host::LogLevel::Warn,
                        format_args!("execve {}: {e}: ENOEXEC", String::from_utf8_lossy(path)),
                    );
                }
                Errno::from(e)
            }
            ExecError::Errno(e) => e,
        })?;
        let exe = node.absolute_path();
        let pid = self.cur;
        // Linux's de_thread: the other threads end, and the caller becomes
        // the process's only thread with its pid.
        self.end_other_threads(pid);
        crate::syscall::futex::exit_release(self, pid);
        crate::syscall::ipc::exec_release(self, pid);
        let p = self.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
        let old_tid = core::mem::replace(&mut p.thread.tid, pid);
        p.creds = creds;
        p.sync_cred();
        let old: AddressSpace = core::mem::replace(&mut p.mm, mm);
        let lender = p.mm_from.take();
        p.thread.regs = regs;
        p.thread.fpstate.clear();
        let closed = p.fds.close_on_exec();
        for a in p.sigactions.iter_mut() {
            if a.has_handler() {
                *a = Default::default();
            }
        }
        p.thread.altstack = crate::task::signal::AltStack::disabled();
        p.comm = super::comm_of(path);
        p.exe = exe;
        p.argc = argv.len();
        p.did_exec = true;
        p.membarrier = 0;
        // POSIX timers do not survive exec; interval timers do.
        p.timers.posix.clear();
        let mut cmdline = argv;
        cmdline.extend(envp);
        p.cmdline = cmdline;
        let vfork_parent = p.vfork_parent.take();
        if old_tid != pid {
            self.tgids.remove(&old_tid);
            self.tried.remove(&old_tid);
        }
        // The old address space may live on (lent by a vfork parent, or
        // waited for by a vfork child), holding this thread's state.
        self.fp_owner_exited(old_tid);
        self.fp_owner_exited(pid);
        crate::syscall::lock::closed_files(self, pid, &closed);
        drop(closed);
        self.drop_mm(old, lender);
        self.procfs_sync(pid);
        if let Some(pp) = vfork_parent {
            self.release_vfork_parent(pp, pid);
        }
        Ok(())
    }

    /// Lets a vfork parent continue: its clone returns the child's pid.
    fn release_vfork_parent(&mut self, ppid: Pid, child: Pid) {
        if let Some(parent) = self.procs.get_mut(&ppid) {
            for t in parent.threads_mut() {
                if t.state == ThreadState::Blocked(Wait::Vfork(child)) {
                    t.regs.set_syscall_ret(child as u64);
                    t.state = ThreadState::Runnable;
                }
            }
        }
    }

    /// Ends a process: frees its memory and files, reparents its children to
    /// pid 1, and leaves a zombie for its parent (with SIGCHLD), unless the
    /// parent ignores SIGCHLD.
    /// The process orphans of a child of `ancestor` go to: the nearest live
    /// process from `ancestor` up marked PR_SET_CHILD_SUBREAPER, else pid 1.
    fn reaper_for(&self, mut ancestor: Pid) -> Pid {
        while ancestor > 1 {
            let Some(a) = self.procs.get(&ancestor) else {
                break;
            };
            if a.creds.subreaper {
                return ancestor;
            }
            ancestor = a.ppid;
        }
        1
    }

    pub(crate) fn exit_process(&mut self, pid: Pid, status: ExitStatus) {
        self.end_other_threads(pid);
        crate::syscall::futex::exit_release(self, pid);
        crate::syscall::ipc::exit_release(self, pid);
        if let Some(mm) = self.procs.get(&pid).map(|p| p.mm.id) {
            self.cpu_settle(mm);
        }
        self.sys_settle();
        let Some(p) = self.procs.remove(&pid) else {
            return;
        };
        self.epoch += 1;
        for t in p.threads() {
            self.tried.remove(&t.tid);
        }
        if self.cfg.strace {
            match status {
                ExitStatus::Exited(c) => self.host.log(
                    LogLevel::Trace,
                    format_args!("[pid {pid}] +++ exited with {c} +++"),
                ),
                ExitStatus::Signaled { sig, .. } => self.host.log(
                    LogLevel::Trace,
                    format_args!("[pid {pid}] +++ killed by {} +++", name(sig)),
                ),
            }
        }
        let maxrss_kib = (p.mm.resident_pages() * 4) as u64;
        let mut cpu = p.cpu;
        // The system time of the syscall or fault that ended it.
        if let Some((spid, since)) = self.sys_since {
            if spid == pid {
                self.sys_since = None;
                let now = self.host.now_mono();
                cpu.sys_ns = cpu.sys_ns.saturating_add(now.saturating_sub(since));
            }
        }
        let tid = p.thread.tid;
        let Process {
            mm,
            fds,
            ppid,
            pgid,
            sid,
            vfork_parent,
            mm_lent,
            mm_from,
            exit_signal,
            ..
        } = *p;
        drop(fds);
        self.locks.release_process(pid, None);
        self.tgids.remove(&tid);
        // Its address space may live on with a vfork parent or child.
        self.fp_owner_exited(tid);
        if !mm_lent {
            // (A lent one's stand-in holds nothing; the child gives the
            // real one back to no one and it is destroyed then.)
            self.drop_mm(mm, mm_from);
        }
        if let Some(pp) = vfork_parent {
            self.release_vfork_parent(pp, pid);
        }
        // Orphans go to the nearest subreaper ancestor, else pid 1; those
        // that asked for it get their parent-death signal.
        let reaper = self.reaper_for(ppid);
        let mut pdeath = Vec::new();
        for c in self.procs.values_mut().filter(|c| c.ppid == pid) {
            c.ppid = reaper;
            // As Linux: a reparented child reports to its new parent with
            // SIGCHLD, whatever it was created with.
            c.exit_signal = SIGCHLD;
            if c.creds.pdeathsig != 0 {
                pdeath.push((c.pid, c.creds.pdeathsig));
            }
        }
        for z in self.zombies.values_mut().filter(|z| z.ppid == pid) {
            z.ppid = reaper;
            z.exit_signal = SIGCHLD;
        }
        for (c, sig) in pdeath {
            let info = crate::task::SigInfo {
                signo: sig,
                code: code::SI_USER,
                ..Default::default()
            };
            let _ = self.send_signal(c, sig, info);
        }
        if pid == sid {
            self.console_session_exit(pid);
        }
        if pid == 1 {
            self.init_status = Some(status);
            return;
        }
        if ppid == 0 {
            // An OCI exec's process: its status goes to the host.
            self.exec_tty_exited(pid);
            self.host.exec_exited(pid, status.wait_status());
        }
        // A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) leaves no zombie
        // of a child that reports with SIGCHLD, as Linux.
        let reap_now = self.procs.get(&ppid).is_none_or(|parent| {
            let act = parent.sigactions[(SIGCHLD - 1) as usize];
            exit_signal == SIGCHLD && (act.handler == SIG_IGN || act.flags & SA_NOCLDWAIT != 0)
        });
        if !reap_now {
            self.zombies.insert(
                pid,
                Zombie {
                    pid,
                    ppid,
                    pgid,
                    status,
                    cpu,
                    maxrss_kib,
                    exit_signal,
                },
            );
        }
        self.procfs_sync(pid);
        if exit_signal != 0 {
            let (c, st) = match status {
                ExitStatus::Exited(v) => (code::CLD_EXITED, v as i32),
                ExitStatus::Signaled { sig, core: true } => (code::CLD_DUMPED, sig as i32),
                ExitStatus::Signaled { sig, core: false } => (code::CLD_KILLED, sig as i32),
            };
            let info = SigInfo {
                signo: exit_signal,
                code: c,
                pid,
                status: st,
                ..SigInfo::default()
            };
            let _ = self.send_signal(ppid, exit_signal, info);
        }
    }

    /// Out of guest memory: kill the process with the largest resident set.
    pub(super) fn oom_kill(&mut self) {
        let victim = self
            .procs
            .iter()
            .max_by_key(|(_, p)| p.mm.resident_pages())
            .map(|(pid, _)| *pid)
            .unwrap_or(self.cur);
        let comm = self
            .procs
            .get(&victim)
            .map(|p| String::from_utf8_lossy(&p.comm).into_owned())
            .unwrap_or_default();
        self.host.log(
            LogLevel::Error,
            format_args!("out of guest memory: killed process {victim} ({comm}); raise --mem"),
        );
        self.exit_process(
            victim,
            ExitStatus::Signaled {
                sig: SIGKILL,
                core: false,
            },
        );
    }

    /// Raises SIGALRM for every expired ITIMER_REAL.
    pub(super) fn fire_timers(&mut self) {
        self.fire_posix_timers();
        let (mono, real) = (self.host.now_mono(), self.host.now_real());
        if self.timerfds.fire(mono, real) {
            // A timerfd expired: its waiters look again.
            self.epoch += 1;
        }
        let now = self.host.now_mono();
        let due: Vec<Pid> = self
            .procs
            .values_mut()
            .filter_map(|p| match p.itimer_real {
                Some((d, interval)) if now >= d => {
                    p.itimer_real =
                        (interval != 0).then(|| (now.saturating_add(interval), interval));
                    Some(p.pid)
                }
                _ => None,
            })
            .collect();
        for pid in due {
            let info = SigInfo {
                signo: SIGALRM,
                code: code::SI_KERNEL,
                ..SigInfo::default()
            };
            let _ = self.send_signal(pid, SIGALRM, info);
        }
    }

    /// Tears every process down (pid 1 has exited).
    pub(super) fn shutdown(&mut self) {
        self.arm_timer(None);
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in pids {
            if let Some(p) = self.procs.remove(&pid) {
                if !p.mm_lent {
                    p.mm.destroy(&mut self.frames, &mut self.host);
                }
            }
        }
        self.zombies.clear();
        self.tgids.clear();
        self.fp_owner.clear();
        // IPC objects outlive their processes, not the kernel. (A build
        // without `ipc` has none.)
        if cfg!(feature = "ipc") {
            self.ipc = Default::default();
        }
        self.frames.reap();
        self.drain_writeback();
        // The host sockets of the guest's sockets, now all closed.
        if cfg!(feature = "net-host") {
            let now = self.host.now_mono();
            crate::net::host::tick(&mut self.host, &self.net, now);
        }
    }
}
