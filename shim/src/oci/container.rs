//! A container's life: `create` builds the guest's name space from the
//! bundle and forks the supervisor, which waits on the exec fifo until
//! `start`, then runs the guest kernel and ends as its init ends (runc's
//! model: conmon reaps the pid in `--pid-file`).

use super::spec::{Mount, Spec};
use super::state::{self, Record, Status};
use super::Global;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use umbra_core::config::{Config, PAGE_SIZE};
use umbra_core::fs;
use umbra_core::fs::{Cred, FileType, FollowLast, NewNode, PathRef, Vfs};
use umbra_shim::host::{HostOptions, NetOptions, PtraceHost};
use umbra_shim::sys::oci as os;

/// Signals the supervisor catches and hands to the guest's init. Not:
/// SIGKILL and SIGSTOP (uncatchable), the CPU's own faults (SIGILL, SIGTRAP,
/// SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS: umbra's own crashes), SIGPIPE
/// (ignored), SIGALRM (umbra's preemption kick), SIGCHLD (its stubs) and
/// SIGWINCH (the console's size, which umbra passes on itself).
const FORWARDED: &[i32] = &[
    1, 2, 3, 10, 12, 15, 16, 18, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 34, 35, 36, 37, 38, 39,
    40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
    64,
];

/// Guest memory when config.json sets no memory limit. The memory file is
/// touched only where the guest uses it.
const DEFAULT_MEM: usize = 1 << 30;

/// `create`'s options.
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
}

/// Everything the supervisor needs, built before it is forked.
struct Plan {
    cfg: Config,
    vfs: Vfs,
    console: Arc<fs::devfs::ConsoleState>,
    grants: Vec<(i32, bool)>,
    host_dirs_rw: bool,
    mem: usize,
    netns: Option<String>,
    net_host: bool,
    /// process.terminal: the init's stdio are /dev/pts/0, as under runc.
    terminal: bool,
    /// The config's mounts that the kernel makes at boot (/proc, /sys):
    /// their type, source, options and flags, given to the kernel's
    /// mounts once it has made them.
    relabel: Vec<Relabel>,
}

/// See [`Plan::relabel`].
struct Relabel {
    dest: String,
    fstype: String,
    source: String,
    data: String,
    flags: u32,
}

/// The per-mount flags of an OCI mount's options ([`fs::path::ms`] bits),
/// relatime unless noatime or strictatime, as mount(8) and runc. Not `ro`:
/// umbra keeps read-only per filesystem (a host directory served
/// read-only), not per mount.
fn oci_flags(opts: &[String]) -> u32 {
    use fs::path::ms;
    let mut f = opts.iter().fold(0, |f, o| match o.as_str() {
        "nosuid" => f | ms::NOSUID,
        "nodev" => f | ms::NODEV,
        "noexec" => f | ms::NOEXEC,
        "noatime" => f | ms::NOATIME,
        "nodiratime" => f | ms::NODIRATIME,
        "strictatime" => f | ms::STRICTATIME,
        "relatime" => f | ms::RELATIME,
        _ => f,
    });
    if f & (ms::NOATIME | ms::STRICTATIME) == 0 {
        f |= ms::RELATIME;
    }
    f
}

/// A tmpfs mount's mode=, uid= and gid=, each if given.
type Owner = (Option<u32>, Option<u32>, Option<u32>);

/// A tmpfs mount's [`Owner`] options (mode in octal).
fn tmpfs_owner(opts: &[String]) -> Result<Owner, String> {
    let (mut mode, mut uid, mut gid) = (None, None, None);
    for o in opts {
        let bad = || format!("tmpfs: bad option {o}");
        if let Some(v) = o.strip_prefix("mode=") {
            mode = Some(u32::from_str_radix(v, 8).map_err(|_| bad())? & 0o7777);
        } else if let Some(v) = o.strip_prefix("uid=") {
            uid = Some(v.parse().map_err(|_| bad())?);
        } else if let Some(v) = o.strip_prefix("gid=") {
            gid = Some(v.parse().map_err(|_| bad())?);
        }
    }
    Ok((mode, uid, gid))
}

/// The options a tmpfs shows in mountinfo, as Linux's shmem_show_options:
/// size (when `size` is applied: in KiB of whole pages), mode unless
/// 1777, uid and gid unless 0.
fn tmpfs_data(size: Option<u64>, owner: Owner) -> String {
    let mut v = Vec::new();
    if let Some(b) = size {
        v.push(format!(
            "size={}k",
            b.div_ceil(PAGE_SIZE as u64) * (PAGE_SIZE as u64 / 1024)
        ));
    }
    if let Some(m) = owner.0.filter(|&m| m != 0o1777) {
        v.push(format!("mode={m:03o}"));
    }
    if let Some(u) = owner.1.filter(|&u| u != 0) {
        v.push(format!("uid={u}"));
    }
    if let Some(g) = owner.2.filter(|&g| g != 0) {
        v.push(format!("gid={g}"));
    }
    v.join(",")
}

/// Mounts `root` on absolute `dest` with `label` and `flags`.
fn mount_labelled(
    vfs: &Vfs,
    dest: &str,
    root: Arc<dyn fs::vfs::Inode>,
    label: fs::path::MountLabel<'_>,
    flags: u32,
) -> Result<(), String> {
    let at = vfs
        .lookup(&vfs.root(), dest, FollowLast::Follow, &Cred::root())
        .map_err(|e| format!("cannot mount on {dest}: {e:?}"))?;
    vfs.mount_labelled(&at, root, label, flags)
        .map_err(|e| format!("cannot mount {} on {dest}: {e:?}", label.source))
}

/// Sets the mode, owner and group a tmpfs option list gives on `root`.
fn set_owner(root: &Arc<dyn fs::vfs::Inode>, owner: Owner) -> Result<(), String> {
    let attr = fs::vfs::SetAttr {
        perm: owner.0,
        uid: owner.1,
        gid: owner.2,
        ..fs::vfs::SetAttr::touch(now_ts())
    };
    root.set_metadata(&attr)
        .map_err(|e| format!("tmpfs: cannot set its mode: {e:?}"))
}

fn now_ts() -> umbra_abi::structs::Timespec {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    umbra_abi::structs::Timespec {
        tv_sec: now.as_secs() as i64,
        tv_nsec: now.subsec_nanos() as i64,
    }
}

/// Walks to directory `path` in `vfs`, making the missing directories (mode
/// 0755) as `mkdir -p` would.
fn ensure_dir(vfs: &Vfs, path: &str) -> Result<PathRef, String> {
    let cred = Cred::root();
    let mut cur = vfs.root();
    for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        cur = match vfs.lookup(&cur, comp, FollowLast::Follow, &cred) {
            Ok(p) => p,
            Err(_) => {
                let attr = NewNode {
                    kind: FileType::Directory,
                    perm: 0o755,
                    uid: 0,
                    gid: 0,
                    rdev: 0,
                    now: now_ts(),
                };
                cur.inode()
                    .create(comp.as_bytes(), &attr)
                    .map_err(|e| format!("cannot make {path}: {e:?}"))?;
                vfs.lookup(&cur, comp, FollowLast::Follow, &cred)
                    .map_err(|e| format!("cannot make {path}: {e:?}"))?
            }
        };
        if cur.inode().kind() != FileType::Directory {
            return Err(format!("{path}: not a directory"));
        }
    }
    Ok(cur)
}

/// Makes `path` an empty regular file (0644) if nothing is there, with
/// its parent directories: the mount point of a file bind mount.
#[inline(never)]
fn ensure_file(vfs: &Vfs, path: &str) -> Result<(), String> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name.is_empty() {
        return Err(format!("{path}: no file name"));
    }
    let parent = ensure_dir(vfs, dir)?;
    match parent.inode().lookup(name.as_bytes()) {
        Ok(n) if n.kind() == FileType::Directory => {
            Err(format!("cannot mount a file on the directory {path}"))
        }
        Ok(_) => Ok(()),
        Err(_) => parent
            .inode()
            .create(
                name.as_bytes(),
                &NewNode {
                    kind: FileType::Regular,
                    perm: 0o644,
                    uid: 0,
                    gid: 0,
                    rdev: 0,
                    now: now_ts(),
                },
            )
            .map(|_| ())
            .map_err(|e| format!("cannot make {path}: {e:?}")),
    }
}

/// tmpfs `size=` option: bytes (suffixes k, m, g), or None.
fn tmpfs_size(opts: &[String]) -> Option<u64> {
    let v = opts.iter().find_map(|o| o.strip_prefix("size="))?;
    let (num, mult) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// Mounts one config.json mount into `plan`'s name space, or says why not.
#[inline(never)]
fn apply_mount(g: &Global, plan: &mut Plan, m: &Mount, n: usize) -> Result<(), String> {
    let dest = m.destination.as_str();
    if !dest.starts_with('/') {
        return Err(format!("mount destination '{dest}' is not absolute"));
    }
    if m.is_bind() {
        let src = Path::new(&m.source);
        let meta =
            std::fs::metadata(src).map_err(|e| format!("bind mount source {}: {e}", m.source))?;
        if dest == "/dev" || dest.starts_with("/dev/") {
            g.warn(&format!(
                "bind mount {} on {dest} ignored: umbra's /dev is its own",
                m.source
            ));
            return Ok(());
        }
        if meta.is_dir() {
            ensure_dir(&plan.vfs, dest)?;
            let ro = m.read_only();
            let minor = u32::try_from(0x31 + n).unwrap_or(0);
            let root = crate::mount_host_dir(
                &m.source,
                !ro,
                ro,
                fs::vfs::makedev(0, minor),
                &mut plan.grants,
            )
            .map_err(|(e, _)| e)?;
            plan.host_dirs_rw |= !ro;
            let label = fs::path::MountLabel {
                fstype: "hostfs",
                source: "",
                data: "",
            };
            mount_labelled(&plan.vfs, dest, root, label, oci_flags(&m.options))?;
        } else if meta.is_file() {
            // A bind mount of one file: the host file itself, mounted on a
            // file made here when the root lacks one (as runc makes it).
            let ro = m.read_only();
            if !cfg!(feature = "hostfs") {
                return Err(format!(
                    "bind mount of the file {}: this build of umbra has no host-directory file system",
                    m.source
                ));
            }
            let host = crate::hostdir::HostDir::open_file(src, !ro)?;
            let minor = u32::try_from(0x31 + n).unwrap_or(0);
            let mode = if ro {
                fs::hostfs::HostMode::ReadOnly
            } else {
                fs::hostfs::HostMode::ReadWrite
            };
            let root = fs::hostfs::mount(Arc::new(host), fs::vfs::makedev(0, minor), mode)
                .map_err(|e| format!("{}: cannot serve it: {e:?}", m.source))?;
            plan.host_dirs_rw |= !ro;
            ensure_file(&plan.vfs, dest)?;
            let label = fs::path::MountLabel {
                fstype: "hostfs",
                source: "",
                data: "",
            };
            mount_labelled(&plan.vfs, dest, root, label, oci_flags(&m.options))?;
        } else {
            g.warn(&format!(
                "bind mount of {} on {dest} ignored: not a directory or regular file",
                m.source
            ));
        }
        return Ok(());
    }
    let relabel = |fstype: &str| Relabel {
        dest: dest.to_string(),
        fstype: fstype.to_string(),
        source: m.source.clone(),
        data: String::new(),
        flags: oci_flags(&m.options),
    };
    match m.kind.as_str() {
        "proc" if dest == "/proc" => {
            plan.relabel.push(relabel("proc"));
            Ok(())
        }
        "sysfs" if dest == "/sys" => {
            plan.relabel.push(relabel("sysfs"));
            ensure_dir(&plan.vfs, dest).map(|_| ())
        }
        "devpts" if dest == "/dev/pts" => {
            // The terminals' nodes take the mount's mode= and gid=, with
            // Linux's defaults (0600, the creator's group: root).
            let mut attrs = fs::devfs::PtsAttrs {
                perm: 0o600,
                gid: 0,
            };
            for o in &m.options {
                if let Some(v) = o.strip_prefix("mode=") {
                    attrs.perm = u32::from_str_radix(v, 8)
                        .map_err(|_| format!("devpts on {dest}: bad option {o}"))?
                        & 0o777;
                } else if let Some(v) = o.strip_prefix("gid=") {
                    attrs.gid = v
                        .parse()
                        .map_err(|_| format!("devpts on {dest}: bad option {o}"))?;
                }
            }
            plan.cfg.pts = attrs;
            Ok(())
        }
        "tmpfs" if dest == "/dev" => {
            // umbra's /dev is its devfs, a tmpfs with the device nodes (as
            // runc fills the config's tmpfs): it takes the config's
            // source, flags and mode. Not its size: devfs has no limit.
            let owner = tmpfs_owner(&m.options)?;
            let dev = plan
                .vfs
                .lookup(&plan.vfs.root(), "/dev", FollowLast::Follow, &Cred::root())
                .map_err(|e| format!("/dev: {e:?}"))?;
            set_owner(dev.inode(), owner)?;
            let label = fs::path::MountLabel {
                fstype: "tmpfs",
                source: &m.source,
                data: &tmpfs_data(None, owner),
            };
            plan.vfs
                .relabel_mount("/dev", label, oci_flags(&m.options))
                .map_err(|e| format!("/dev: {e:?}"))
        }
        "tmpfs" => {
            ensure_dir(&plan.vfs, dest)?;
            let dev = plan.vfs.alloc_anon_dev();
            let size = tmpfs_size(&m.options);
            let tmp = match size {
                Some(max) => fs::tmpfs::TmpFs::with_limit(dev, now_ts(), max),
                None => fs::tmpfs::TmpFs::new(dev, now_ts()),
            };
            let owner = tmpfs_owner(&m.options)?;
            set_owner(&tmp.root(), owner)?;
            let label = fs::path::MountLabel {
                fstype: "tmpfs",
                source: &m.source,
                data: &tmpfs_data(size, owner),
            };
            mount_labelled(&plan.vfs, dest, tmp.root(), label, oci_flags(&m.options))
        }
        other => {
            g.warn(&format!(
                "mount of type '{other}' on {dest} ignored (umbra provides /proc, /sys, /dev and /dev/pts itself)"
            ));
            Ok(())
        }
    }
}

/// Turns the bundle's config into a plan: the root, the mounts, the
/// process, the limits, and warnings for what umbra does not apply.
#[inline(never)]
fn plan(g: &Global, spec: &Spec, bundle: &Path) -> Result<(Plan, PathBuf), String> {
    let rootfs = if spec.root_path.starts_with('/') {
        PathBuf::from(&spec.root_path)
    } else {
        bundle.join(&spec.root_path)
    };
    let rootfs_s = rootfs.to_string_lossy().into_owned();
    let mut grants = Vec::new();
    let readonly = spec.root_readonly;
    // A read-only root is an overlay until its mount points are made, then
    // frozen (EROFS), as runc remounts it read-only after mounting.
    let root = crate::mount_host_dir(
        &rootfs_s,
        !readonly,
        false,
        fs::vfs::makedev(0, 0x30),
        &mut grants,
    )
    .map_err(|(e, _)| e)?;
    let (vfs, console) = fs::vfs_from_root(root.clone(), "hostfs", now_ts())
        .map_err(|e| format!("{rootfs_s}: cannot set up /dev: {e:?}"))?;
    let p = &spec.process;
    let mut cfg = Config {
        argv: p.args.clone(),
        envp: p.env.clone(),
        cwd: p.cwd.clone(),
        hostname: spec.hostname.clone().unwrap_or_else(|| "umbra".into()),
        quiet_unsupported: true,
        container_init: true,
        ..Config::default()
    };
    for l in &p.rlimits {
        // umbra's limits are one value: the soft limit.
        let v = usize::try_from(l.soft).unwrap_or(usize::MAX);
        match l.kind.as_str() {
            "RLIMIT_NOFILE" => cfg.max_fds = v.clamp(3, 1 << 20),
            "RLIMIT_NPROC" => cfg.max_procs = v.clamp(1, 1 << 16),
            "RLIMIT_STACK" => cfg.stack_limit = v.clamp(128 << 10, 1 << 30),
            other => g.warn(&format!(
                "process.rlimits {other} ignored (umbra applies RLIMIT_NOFILE, RLIMIT_NPROC and RLIMIT_STACK)"
            )),
        }
    }
    // The guest's init runs as process.user, with noNewPrivileges; umbra
    // itself runs with no_new_privs anyway (its seccomp filter needs it).
    cfg.uid = p.uid;
    cfg.gid = p.gid;
    cfg.groups = p.additional_gids.clone();
    cfg.no_new_privs = p.no_new_privileges;
    cfg.pids_limit = spec
        .pids_limit
        .map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    for what in p.ignored.iter().chain(&spec.ignored) {
        g.warn(&format!("{what} ignored by umbra"));
    }
    let mut netns = None;
    let mut net_host = true;
    for (kind, path) in &spec.namespaces {
        match (kind.as_str(), path) {
            ("network", Some(p)) => {
                netns = Some(p.clone());
            }
            ("network", None) => net_host = false,
            ("pid" | "ipc" | "uts" | "mount" | "cgroup", None) => {}
            (k, Some(p)) => g.warn(&format!(
                "linux.namespaces {k} at {p} ignored: umbra's guest kernel has its own"
            )),
            (k, None) => g.warn(&format!("linux.namespaces {k} ignored")),
        }
    }
    let mut plan = Plan {
        cfg,
        vfs,
        console,
        grants,
        host_dirs_rw: !readonly,

        mem: spec
            .memory_limit
            .and_then(|m| usize::try_from(m).ok())
            .map(|m| m.max(64 << 20) & !(PAGE_SIZE - 1))
            .unwrap_or(DEFAULT_MEM),
        netns,
        net_host,
        terminal: p.terminal,
        relabel: Vec::new(),
    };
    for (n, m) in spec.mounts.iter().enumerate() {
        apply_mount(g, &mut plan, m, n)?;
    }
    if !p.terminal {
        // runc makes /dev/console only for a terminal (the console's pty
        // slave bound on it); without one the container has none, and its
        // stdio are the engine's pipes, not a console by that name.
        let dev = plan
            .vfs
            .lookup(&plan.vfs.root(), "/dev", FollowLast::Follow, &Cred::root())
            .map_err(|e| format!("/dev: {e:?}"))?;
        match dev.inode().unlink(b"console", now_ts()) {
            Ok(()) | Err(umbra_abi::Errno::ENOENT) => {}
            Err(e) => return Err(format!("/dev/console: {e:?}")),
        }
    }
    if readonly {
        // umbra's own mount points first (procfs_boot makes these).
        for d in ["/proc", "/tmp", "/run", "/dev/shm"] {
            let _ = ensure_dir(&plan.vfs, d);
        }
        fs::hostfs::freeze(&root)
            .map_err(|e| format!("{rootfs_s}: cannot make it read-only: {e:?}"))?;
    }
    Ok((plan, rootfs))
}

/// Reads and checks the bundle's config.json.
pub fn load_spec(bundle: &Path) -> Result<Spec, String> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    super::spec::parse(&text)
}

/// How `create` leaves the caller.
pub enum After {
    /// `create`: return once the supervisor waits for `start`.
    Created,
    /// `run`: start it and wait for it, forwarding signals.
    Foreground,
    /// `run --detach`: start it and return.
    Detached,
}

/// `create` (and the first half of `run`): returns the exit code.
#[inline(never)]
pub fn create(g: &Global, o: &CreateOpts, after: After) -> Result<u8, String> {
    os::close_fds_from(3 + o.preserve_fds as i32);
    if !state::valid_id(&o.id) {
        return Err(format!("invalid container id '{}'", o.id));
    }
    let bundle = real_dir(&o.bundle).map_err(|e| format!("bundle {}: {e}", o.bundle.display()))?;
    let spec = load_spec(&bundle)?;
    make_dirs(&g.root)
        .map_err(|e| format!("cannot make the state directory {}: {e}", g.root.display()))?;
    let dir = state::container_dir(&g.root, &o.id);
    match os::mkdir(&dir) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            return Err(format!("container with id exists: {}", o.id))
        }
        Err(e) => return Err(format!("cannot make {}: {e}", dir.display())),
    }
    let r = create_in(g, o, &spec, &bundle, &dir, after);
    if r.is_err() {
        let _ = remove_tree(&dir);
    }
    r
}

#[inline(never)]
fn create_in(
    g: &Global,
    o: &CreateOpts,
    spec: &Spec,
    bundle: &Path,
    dir: &Path,
    after: After,
) -> Result<u8, String> {
    let (plan, rootfs) = plan(g, spec, bundle)?;
    // The terminal: a new pty whose master goes to the console socket.
    let tty = if spec.process.terminal {
        match &o.console_socket {
            Some(sock) => {
                let s = state::sock_addr(sock)
                    .and_then(|a| {
                        std::os::unix::net::UnixStream::connect(&a.path).map_err(|e| e.to_string())
                    })
                    .map_err(|e| format!("console socket {}: {e}", sock.display()))?;
                let (master, slave) = umbra_shim::sys::signals::open_pty()
                    .map_err(|e| format!("cannot open a pseudo-terminal: {e}"))?;
                os::send_fds(s.as_raw_fd(), b"/dev/ptmx", &[master.as_raw_fd()])
                    .map_err(|e| format!("cannot send the terminal to the console socket: {e}"))?;
                Some(slave)
            }
            // runc run without a socket uses its own terminal.
            None if !matches!(after, After::Created) => None,
            None => return Err("process.terminal is set but no --console-socket was given".into()),
        }
    } else {
        if o.console_socket.is_some() {
            return Err("--console-socket given but process.terminal is false".into());
        }
        None
    };
    let fifo = state::fifo_path(dir);
    os::mkfifo(&fifo.to_string_lossy(), 0o622)
        .map_err(|e| format!("cannot make {}: {e}", fifo.display()))?;
    let (ready_r, ready_w) = os::pipe().map_err(|e| format!("pipe: {e}"))?;
    let pid = match os::fork().map_err(|e| format!("fork: {e}"))? {
        os::Forked::Child => {
            drop(ready_r);
            supervise(g, plan, dir, ready_w, tty)
        }
        os::Forked::Parent(pid) => pid,
    };
    drop(ready_w);
    drop(tty);
    drop(plan);
    let mut msg = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::fs::File::from(ready_r), &mut msg);
    if msg != b"ok" {
        let _ = os::kill(pid, libc::SIGKILL);
        let _ = os::wait_child(pid, false);
        let text = String::from_utf8_lossy(&msg).into_owned();
        return Err(if text.is_empty() {
            "the container's supervisor died while starting".into()
        } else {
            text
        });
    }
    let start_ticks = state::proc_stat(pid).map(|s| s.1).unwrap_or(0);
    let rec = Record {
        id: o.id.clone(),
        pid,
        start_ticks,
        bundle: bundle.to_string_lossy().into_owned(),
        rootfs: rootfs.to_string_lossy().into_owned(),
        created: state::now_rfc3339(),
        annotations: spec.annotations.clone(),
    };
    let saved = rec.save(dir).and_then(|()| match &o.pid_file {
        Some(p) => write_pid_file(p, pid),
        None => Ok(()),
    });
    if let Err(e) = saved {
        let _ = os::kill(pid, libc::SIGKILL);
        let _ = os::wait_child(pid, false);
        return Err(e);
    }
    match after {
        After::Created => Ok(0),
        After::Detached => start_record(&rec, dir).map(|()| 0),
        After::Foreground => {
            os::forward_signals_to(pid, FORWARDED);
            start_record(&rec, dir)?;
            let end = os::wait_child(pid, false).map_err(|e| format!("wait: {e}"))?;
            let _ = remove_tree(dir);
            Ok(match end {
                Some(os::ChildEnd::Exited(c)) => c as u8,
                Some(os::ChildEnd::Signaled(s)) => (128 + s) as u8,
                None => 255,
            })
        }
    }
}

/// Writes the pid file as runc does: a temporary file (its name with
/// `.umbra-tmp` added) renamed into place.
pub(super) fn write_pid_file(path: &Path, pid: i32) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".umbra-tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write the pid file {}: {e}", path.display()))
}

/// The directory `p` as an absolute path with its symbolic links
/// resolved, as realpath(3) gives it: the kernel's name for it once
/// opened (musl's realpath walked the path itself, in 1.2 KB).
fn real_dir(p: &Path) -> std::io::Result<PathBuf> {
    let d = std::fs::File::open(p)?;
    std::fs::read_link(format!("/proc/self/fd/{}", d.as_raw_fd()))
}

/// Removes the directory `dir` and what it holds (a container's state
/// directory holds files only: state.json, the exec fifo and socket, the
/// pause mark), as std's remove_dir_all, whose openat walk is the larger
/// code. Symbolic links are removed, never followed.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            remove_tree(&e.path())?;
        } else {
            std::fs::remove_file(e.path())?;
        }
    }
    std::fs::remove_dir(dir)
}

/// `mkdir -p`: makes `dir` and its missing parents (std's create_dir_all,
/// without its DirBuilder and walk over Path components).
fn make_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let made = |r: std::io::Result<()>| match r {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) && dir.is_dir() => Ok(()),
        r => r,
    };
    match os::mkdir(dir) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let b = dir.as_os_str().as_bytes();
            match b.iter().rposition(|&c| c == b'/') {
                Some(i) if i > 0 => make_dirs(Path::new(std::ffi::OsStr::from_bytes(&b[..i])))?,
                _ => return Err(e),
            }
            made(os::mkdir(dir))
        }
        r => made(r),
    }
}

/// Lets the supervisor of `rec` go: opens the exec fifo for reading (which
/// lets the supervisor's open for writing return), reads its byte, and
/// removes the fifo.
pub fn start_record(rec: &Record, dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let fifo = state::fifo_path(dir);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|_| format!("container {} is not in the created state", rec.id))?;
    // The supervisor waits on its control socket meanwhile (`update` and
    // `events` of a created container): a connection ends that wait.
    drop(state::connect_supervisor(dir));
    loop {
        let r = umbra_shim::sys::poll_fd(f.as_raw_fd(), umbra_shim::sys::POLLIN, 200);
        if matches!(r, Ok(re) if re & umbra_shim::sys::POLLIN != 0) {
            let mut b = [0u8; 1];
            let mut fr = &f;
            if matches!(std::io::Read::read(&mut fr, &mut b), Ok(1)) {
                break;
            }
        }
        if !rec.alive() {
            let _ = std::fs::remove_file(&fifo);
            return Err(format!("container {} exited before it started", rec.id));
        }
    }
    std::fs::remove_file(&fifo).map_err(|e| format!("cannot remove {}: {e}", fifo.display()))
}

/// Waits a while for a request on the control socket `ctl` of a created
/// container and answers it: `events` (no guest task yet, no guest memory
/// used, the limits it will start with) and `update --pids-limit` (the
/// limit the guest starts with). Others are refused: the guest does not
/// run yet. `start` connects and hangs up to end the wait at once.
#[inline(never)]
fn serve_created(plan: &mut Plan, ctl: &OwnedFd) {
    use std::io::{Read, Write};
    use umbra_shim::host::exec;
    if !matches!(os::poll_any(&[ctl.as_raw_fd()], 100), Ok(n) if n > 0) {
        return;
    }
    while let Ok(fd) = os::accept(ctl.as_raw_fd()) {
        let mut conn = std::os::unix::net::UnixStream::from(fd);
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(1)));
        let mut buf = [0u8; 256];
        let n = match conn.read(&mut buf) {
            Ok(n) if n > 0 => n,
            _ => continue,
        };
        let req = &buf[..n];
        let answer = if req == exec::STATS_REQUEST {
            exec::stats_line(&umbra_core::host::GuestStats {
                tasks: 0,
                tasks_limit: plan.cfg.pids_limit.map(|l| l as u64),
                mem_used: 0,
                mem_total: plan.mem as u64,
                mem_max: 0,
                mem_failcnt: 0,
            })
        } else if let Some(umbra_core::host::GuestRequest::PidsLimit(l)) = exec::parse_other(req) {
            plan.cfg.pids_limit = l.map(|l| l as usize);
            "ok\n".to_string()
        } else {
            "error the container is not started\n".to_string()
        };
        let _ = conn.write_all(answer.as_bytes());
    }
}

/// The supervisor: set up, report to `create`, wait for `start`, run the
/// guest, and end as its init ended.
fn supervise(g: &Global, plan: Plan, dir: &Path, ready: OwnedFd, tty: Option<OwnedFd>) -> ! {
    let fifo = &state::fifo_path(dir);
    let report = |msg: &[u8]| {
        let _ = umbra_shim::sys::write_all(ready.as_raw_fd(), msg);
    };
    if let Err(e) = os::setsid() {
        report(format!("setsid: {e}").as_bytes());
        std::process::exit(1);
    }
    if let Some(t) = &tty {
        let fd = t.as_raw_fd();
        let r = (0..3)
            .try_for_each(|n| os::dup_onto(fd, n))
            .and_then(|()| os::set_controlling_tty(0));
        if let Err(e) = r {
            report(format!("cannot make the pseudo-terminal the console: {e}").as_bytes());
            std::process::exit(1);
        }
    }
    drop(tty);
    if let Some(ns) = &plan.netns {
        if let Err(e) = os::join_net_namespace(ns) {
            report(format!("cannot join the network namespace {ns}: {e}").as_bytes());
            std::process::exit(1);
        }
    }
    // `umbra exec`'s requests come through this socket once the guest runs.
    let sock = state::sock_path(dir);
    let listened = state::sock_addr(&sock)
        .and_then(|a| os::listen_unix(&a.path.to_string_lossy()).map_err(|e| e.to_string()));
    let ctl = match listened {
        Ok(l) => l,
        Err(e) => {
            report(format!("cannot listen on {}: {e}", sock.display()).as_bytes());
            std::process::exit(1);
        }
    };
    report(b"ok");
    drop(ready);
    let mut plan = plan;
    // Until `start` opens the fifo for reading, `update` and `events` are
    // served here (runc takes both for a created container).
    let go = loop {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(mut f) => break std::io::Write::write_all(&mut f, b"0"),
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => serve_created(&mut plan, &ctl),
            Err(e) => break Err(e),
        }
    };
    if go.is_err() {
        std::process::exit(1);
    }
    match run_guest(g, plan, ctl) {
        Ok(umbra_core::task::ExitStatus::Exited(c)) => std::process::exit(i32::from(c)),
        Ok(umbra_core::task::ExitStatus::Signaled { sig, .. }) => {
            os::die_of_signal(sig as i32, true)
        }
        Err((msg, code)) => {
            eprintln!("umbra: {msg}");
            std::process::exit(i32::from(code))
        }
    }
}

/// The guest's run, as `umbra run` does it, with the OCI plan.
#[inline(never)]
fn run_guest(
    g: &Global,
    mut p: Plan,
    ctl: OwnedFd,
) -> Result<umbra_core::task::ExitStatus, (String, u8)> {
    let mut host = PtraceHost::new(HostOptions {
        mem_bytes: p.mem,
        cpu: None,
        disks: Vec::new(),
    })
    .map_err(|e| (e, 1))?;
    let mut net = NetOptions::default();
    if p.net_host {
        net.outbound = true;
        p.cfg.resolv_conf = std::fs::read("/etc/resolv.conf").ok();
    }
    host.enable_net(net).map_err(|e| (e, 1))?;
    if p.netns.is_some() {
        // The engine's namespace is the container's own: its listeners
        // are reachable there, as under runc.
        host.export_listeners().map_err(|e| (e, 1))?;
    }
    host.enable_exec(ctl).map_err(|e| (e, 1))?;
    os::no_core_dumps().map_err(|e| (format!("RLIMIT_CORE: {e}"), 1))?;
    umbra_shim::sys::signals::forward_to_guest(FORWARDED)
        .map_err(|e| (format!("cannot catch signals for the guest: {e}"), 1))?;
    // The log file stays open for messages after confinement.
    g.keep_log_open();
    umbra_shim::sys::hostdir::landlock_beneath(&p.grants)
        .map_err(|e| (format!("cannot restrict umbra with Landlock: {e}"), 1))?;
    host.confine_hostfs(p.host_dirs_rw).map_err(|e| (e, 1))?;
    let mut kernel = umbra_core::kernel::Kernel::new(host, p.vfs, p.cfg, p.mem / PAGE_SIZE);
    let stdio = if p.terminal {
        fs::devfs::stdio_files_on_pts(&p.console, &kernel.vfs, now_ts(), kernel.cfg.pts)
    } else {
        fs::devfs::stdio_files_at(&p.console, &kernel.vfs)
    };
    if let Err(e) = kernel.spawn_init(stdio) {
        use umbra_core::kernel::BootError;
        let code = match e {
            BootError::BadExecutable(..) => 126,
            BootError::NotFound(_, umbra_abi::Errno::EACCES) => 126,
            _ => 127,
        };
        g.error(&e.to_string());
        return Err((e.to_string(), code));
    }
    for r in &p.relabel {
        let label = fs::path::MountLabel {
            fstype: &r.fstype,
            source: &r.source,
            data: &r.data,
        };
        if let Err(e) = kernel.vfs.relabel_mount(&r.dest, label, r.flags) {
            g.warn(&format!("mount of {} on {}: {e:?}", r.fstype, r.dest));
        }
    }
    Ok(kernel.run())
}

/// `start ID`.
pub fn start(g: &Global, id: &str) -> Result<(), String> {
    let dir = state::container_dir(&g.root, id);
    let rec = Record::load(&dir, id)?;
    match rec.status(&dir) {
        Status::Created => start_record(&rec, &dir),
        s => Err(format!("cannot start a container that is {}", s.name())),
    }
}

/// Sends `msg` to the control socket of `rec`'s supervisor and waits for
/// its `ok`.
fn control(rec: &Record, dir: &Path, msg: &[u8]) -> Result<(), String> {
    let line = request(rec, dir, msg)?;
    if line.trim() == "ok" {
        Ok(())
    } else {
        Err(format!(
            "the container's supervisor refused the request: '{}'",
            line.trim()
        ))
    }
}

/// Sends `msg` to the supervisor's control socket; returns its answer (one
/// line).
pub(super) fn request(rec: &Record, dir: &Path, msg: &[u8]) -> Result<String, String> {
    use std::io::{BufRead, Write};
    let mut conn = state::connect_supervisor(dir)?;
    // The guest kernel answers between two time slices; a generous bound.
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    conn.write_all(msg)
        .map_err(|e| format!("the container's supervisor: {e}"))?;
    kick(rec.pid);
    let mut line = String::new();
    std::io::BufReader::new(&conn)
        .read_line(&mut line)
        .map_err(|e| format!("the container's supervisor does not answer: {e}"))?;
    Ok(line)
}

/// `kill [--all] ID SIG`. SIGKILL ends the supervisor, and so everything in
/// the container at once; any other signal of a started container goes
/// through its control socket to the guest's kernel, which sends it to the
/// init as from outside its pid namespace (or, with `--all`, to every
/// process too). Before `start` the supervisor itself gets it.
#[inline(never)]
pub fn kill(g: &Global, id: &str, sig: i32, all: bool) -> Result<(), String> {
    let dir = state::container_dir(&g.root, id);
    let rec = Record::load(&dir, id)?;
    match rec.status(&dir) {
        Status::Stopped => Err("container not running".into()),
        Status::Running | Status::Paused if sig != libc::SIGKILL => {
            g.debug(&format!(
                "kill {sig} (all: {all}) through the control socket"
            ));
            control(
                &rec,
                &dir,
                &umbra_shim::host::exec::encode_kill(sig as u32, all),
            )
        }
        _ => os::kill(rec.pid, sig).map_err(|e| format!("kill {}: {e}", rec.pid)),
    }
}

/// Makes the supervisor `pid` look at its control socket now: SIGWINCH
/// stops a running guest (umbra's host event), so a request is served
/// however busy the guest is.
pub fn kick(pid: i32) {
    let _ = os::kill(pid, umbra_shim::sys::signals::SIGWINCH);
}

/// `pause ID` (true) and `resume ID`: the guest's kernel stops (or goes
/// on) running every process of the container; `state` says "paused"
/// meanwhile.
#[inline(never)]
pub fn freeze(g: &Global, id: &str, on: bool) -> Result<(), String> {
    let dir = state::container_dir(&g.root, id);
    let rec = Record::load(&dir, id)?;
    match (rec.status(&dir), on) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (Status::Paused, true) => return Err(format!("container {id} is already paused")),
        (s, true) => return Err(format!("container not running: {}", s.name())),
        (_, false) => return Err("container not paused".into()),
    }
    control(&rec, &dir, &umbra_shim::host::exec::encode_freeze(on))?;
    let mark = state::paused_path(&dir);
    if on {
        std::fs::write(&mark, b"").map_err(|e| format!("cannot write {}: {e}", mark.display()))
    } else {
        std::fs::remove_file(&mark).map_err(|e| format!("cannot remove {}: {e}", mark.display()))
    }
}

/// `delete [--force] ID`.
#[inline(never)]
pub fn delete(g: &Global, id: &str, force: bool) -> Result<(), String> {
    let dir = state::container_dir(&g.root, id);
    let rec = match Record::load(&dir, id) {
        Ok(r) => r,
        Err(e) => {
            if force && !dir.join("state.json").exists() {
                // As runc: a create that died half-way (nothing runs), or no
                // such container at all, which `--force` accepts. conmon's
                // exit command (`podman container cleanup`) runs `delete
                // --force ID` without podman's `--runtime-flag`s, so with
                // the default state directory, where the container is not.
                let _ = remove_tree(&dir);
                return Ok(());
            }
            return Err(e);
        }
    };
    match rec.status(&dir) {
        Status::Stopped => {}
        s @ (Status::Running | Status::Paused) if !force => {
            return Err(format!(
                "cannot delete container {id} that is not stopped: {}",
                s.name()
            ))
        }
        _ => {
            let _ = os::kill(rec.pid, libc::SIGKILL);
            // The supervisor is someone else's child: wait until it is gone
            // (a zombie counts as gone).
            let t0 = std::time::Instant::now();
            while rec.alive() && t0.elapsed() < std::time::Duration::from_secs(30) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if rec.alive() {
                return Err(format!("container {id}: pid {} does not die", rec.pid));
            }
        }
    }
    remove_tree(&dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))
}

/// `state ID`.
pub fn state(g: &Global, id: &str) -> Result<String, String> {
    let dir = state::container_dir(&g.root, id);
    let rec = Record::load(&dir, id)?;
    super::pretty(&rec.state_text(rec.status(&dir)))
}

/// `ps ID`: the container's host processes (the supervisor and its stubs).
pub fn pids(g: &Global, id: &str) -> Result<Vec<i32>, String> {
    let dir = state::container_dir(&g.root, id);
    let rec = Record::load(&dir, id)?;
    if rec.status(&dir) == Status::Stopped {
        return Ok(Vec::new());
    }
    let mut out = vec![rec.pid];
    // Children of the supervisor (its stubs), one level at a time.
    let all: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter_map(|p| Some((p, state::proc_ppid(p)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(all.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{make_dirs, real_dir, remove_tree};

    #[test]
    fn dirs_are_made_and_resolved_as_mkdir_p_and_realpath() {
        let top = std::env::temp_dir().join(format!("umbra-mkdirs-{}", std::process::id()));
        let deep = top.join("a/b//c/");
        make_dirs(&deep).unwrap();
        assert!(top.join("a/b/c").is_dir());
        // Again: it is there.
        make_dirs(&deep).unwrap();
        std::fs::write(top.join("f"), b"").unwrap();
        assert!(make_dirs(&top.join("f")).is_err());
        assert!(make_dirs(&top.join("f/x")).is_err());
        std::os::unix::fs::symlink("a/b", top.join("l")).unwrap();
        let real = std::fs::canonicalize(&top).unwrap().join("a/b/c");
        assert_eq!(real_dir(&top.join("l/./c/")).unwrap(), real);
        assert_eq!(real_dir(&top.join("a/../l/c")).unwrap(), real);
        assert!(real_dir(&top.join("nope")).is_err());
        remove_tree(&top).unwrap();
        assert!(!top.exists());
        assert!(remove_tree(&top).is_err());
    }
}
