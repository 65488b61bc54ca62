//! umbra: the command-line entry point. Parses the command line, builds the
//! guest's root file system, starts the ptrace host and the guest kernel, and
//! exits with the guest's status. `umbra image` makes and checks ext2 images.

mod blockfile;
mod hostdir;
mod image;
mod oci;
mod stats;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use umbra_core::config::{Config, PAGE_SIZE};
use umbra_core::fs;
use umbra_core::fs::blockdev::{BlockDevice, OverlayDevice};
use umbra_core::fs::ext2::Ext2Fs;
use umbra_core::kernel::{BootError, Kernel};
use umbra_shim::host::{HostOptions, NetOptions, PtraceHost};

const USAGE: &str = "\
umbra: run unmodified Linux programs under umbra's own guest kernel

Usage:
  umbra run [OPTIONS] -- PROGRAM [ARGS...]
  umbra image create DIR -o IMG [--size SIZE] [--block-size 1024|2048|4096]
                     [--inodes N] [--inode-size 128|256]
  umbra image check IMG
  umbra --help | --version

Options of `run`:
  --initrd FILE   root file system: a newc cpio archive (as Linux's initramfs),
                  unpacked into tmpfs; /dev is mounted over it
  --image IMG     root file system: an ext2 image (revision 0 or 1; as made by
                  `mke2fs -t ext2 -d`, genext2fs, Buildroot or `umbra image
                  create`); devfs on /dev, tmpfs on /tmp and /run if they
                  are empty. The image is opened read-only and the guest's
                  writes stay in memory, unless --rw is given
  --root DIR      root file system: the host directory DIR (as UML's hostfs);
                  every host lookup stays beneath DIR. Read-only, with the
                  guest's writes kept in memory, unless --rw is given
  --rw            write the guest's changes to the images (flushed on
                  fsync/sync and at exit) or the --root directory themselves
  --mount SRC:/DIR[:ro|:rw]
                  mount another ext2 image, or the host directory SRC, on the
                  directory /DIR (repeatable); writable like the root (a host
                  directory: in memory), read-only with :ro, written through
                  to SRC with :rw
  --mem SIZE      guest memory, e.g. 64M, 1G (default 256M; suffixes K, M, G)
  --env K=V       add K=V to the guest's environment (repeatable; the default
                  environment is empty)
  --cwd DIR       working directory of the guest program (default /)
  --strace        print every guest syscall with its arguments and result on
                  stderr
  --stats         at exit, print on stderr the guest's syscall counts (the
                  most frequent by name), host stops, page faults, forks,
                  execs, mapping batches and idle waits with their times;
                  SIGUSR2 to umbra prints the counts so far
  --quiet-unsupported
                  do not name the syscalls umbra does not implement (by
                  default the first ENOSYS of each is named on stderr)
  --cpu N         pin umbra and its stub processes to host CPU N (default: the
                  CPU umbra starts on; seccomp, when another CPU is free:
                  the stubs on that one, both sides spinning before they
                  sleep)
  --platform auto|ptrace|seccomp
                  how guest syscalls reach umbra: ptrace (PTRACE_SYSEMU
                  stops) or seccomp (x86_64 with FSGSBASE, aarch64,
                  armv7: a seccomp trap handler in each stub hands them
                  over through shared memory; SECURITY.md). auto (the
                  default): seccomp where it runs and a second CPU is free
                  for its spin (x86_64, no --cpu, load average below the
                  CPUs minus one), else ptrace. UMBRA_PLATFORM in the
                  environment sets the default
  --max-fds N     open file limit per guest process (default 1024)
  --max-procs N   limit on guest processes, zombies included; fork fails
                  with EAGAIN beyond it (default 256)
  --timeout SECS  kill the guest after SECS seconds of wall time; umbra then
                  exits with status 124
  --net none|host none (the default): the guest has its own loopback and
                  nothing else. host: guest TCP and UDP to addresses outside
                  its loopback go through host sockets that umbra opens
                  (never to the host's own loopback); the host's
                  /etc/resolv.conf is shown at the guest's /etc/resolv.conf
                  when the guest has none (SECURITY.md)
  --publish HOSTPORT:GUESTPORT[/udp]
                  umbra listens on host TCP port HOSTPORT and hands each
                  connection to the guest's listener on GUESTPORT; with
                  /udp, umbra binds host UDP port HOSTPORT and relays each
                  host client's datagrams to the guest's GUESTPORT from a
                  127.0.0.1 port of its own, and the replies back (a client
                  idle for 90 s is forgotten) (repeatable)
  --unix-socket HOSTPATH:GUESTPATH
                  a socket node at GUESTPATH through which guest AF_UNIX
                  stream connections reach the host socket HOSTPATH, e.g.
                  /tmp/.X11-unix/X0:/tmp/.X11-unix/X0 (repeatable); no other
                  host socket is reachable
  -h, --help      show this help

`image create` writes an ext2 image of the host directory DIR: regular files,
directories, symlinks and hard links with their modes, owners and times
(device nodes, fifos and sockets are skipped with a warning). SIZE defaults to
what the tree needs plus a quarter; the block size to 1024; the inode count
to twice the files and directories plus 64, at least one per 4 KiB (--inodes N:
exactly N, rounded up to fill the inode table, for an image filled once, such
as a device's read-only root); the inode size to 256 bytes (128: the original
ext2 inode, as genext2fs makes, with times in whole seconds up to 2038, in half
the space). `image check`
reports whether umbra can mount IMG (exit 0) or why not (exit 1).

PROGRAM is a path inside the guest (a name without '/' is searched in the
guest's PATH, or /bin:/sbin:/usr/bin:/usr/sbin). It runs as pid 1. umbra exits
with its exit status, or 128+N if signal N killed it.
";

/// What the command line asks for.
struct RunArgs {
    initrd: Option<String>,
    image: Option<String>,
    /// A host directory as the root (hostfs).
    root_dir: Option<String>,
    rw: bool,
    /// (image or host directory, mount point, read-only, read-write)
    mounts: Vec<(String, String, bool, bool)>,
    mem: usize,
    cpu: Option<usize>,
    /// `--platform` (or UMBRA_PLATFORM): Some(true) seccomp, Some(false)
    /// ptrace, None auto (the start-up probe picks).
    seccomp: Option<bool>,
    /// What of the host's network the guest may use.
    net: NetOptions,
    cfg: Config,
}

/// Parses a positive decimal number of seconds below 10^9, such as `3` or
/// `0.25`, into nanoseconds (digits past the ninth decimal are dropped). No
/// floating point: its parser and tables would cost the ROM build ~25 KB.
fn parse_seconds(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) || int.len() > 9 {
        return None;
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut ns = 0u64;
    for b in frac.bytes().chain(core::iter::repeat(b'0')).take(9) {
        ns = ns * 10 + u64::from(b - b'0');
    }
    let total = whole * 1_000_000_000 + ns;
    (total > 0).then_some(total)
}

/// `HOSTPORT:GUESTPORT[/udp]`: (host port, guest port, udp); ports 1-65535.
fn parse_publish(s: &str) -> Option<(u16, u16, bool)> {
    let (ports, udp) = match s.strip_suffix("/udp") {
        Some(p) => (p, true),
        None => (s.strip_suffix("/tcp").unwrap_or(s), false),
    };
    let (h, g) = ports.split_once(':')?;
    let port = |p: &str| p.parse::<u16>().ok().filter(|&n| n != 0);
    Some((port(h)?, port(g)?, udp))
}

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => {
            let mult = match s[i..].to_ascii_lowercase().as_str() {
                "k" | "kb" | "kib" => 1 << 10,
                "m" | "mb" | "mib" => 1 << 20,
                "g" | "gb" | "gib" => 1 << 30,
                _ => return None,
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    num.parse::<usize>().ok()?.checked_mul(mult)
}

fn parse_run(args: &[String]) -> Result<RunArgs, String> {
    let mut r = RunArgs {
        initrd: None,
        image: None,
        root_dir: None,
        rw: false,
        mounts: Vec::new(),
        mem: 256 << 20,
        cpu: None,
        seccomp: None,
        net: NetOptions::default(),
        cfg: Config::default(),
    };
    let mut i = 0;
    let platform = |v: &str| match v {
        "auto" => Ok(None),
        "ptrace" => Ok(Some(false)),
        "seccomp" => Ok(Some(true)),
        _ => Err(format!("--platform: '{v}' is not auto, ptrace or seccomp")),
    };
    // The environment's choice (so the test suites run on either platform);
    // the flag wins.
    if let Ok(v) = std::env::var("UMBRA_PLATFORM") {
        if !v.is_empty() {
            r.seccomp = platform(&v).map_err(|e| format!("UMBRA_PLATFORM: {e}"))?;
        }
    }
    let value = |i: &mut usize, flag: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))
    };
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--" => {
                r.cfg.argv = args[i + 1..].to_vec();
                break;
            }
            "--initrd" => r.initrd = Some(value(&mut i, a)?),
            "--image" => r.image = Some(value(&mut i, a)?),
            "--root" => r.root_dir = Some(value(&mut i, a)?),
            "--rw" => r.rw = true,
            "--mount" => {
                let v = value(&mut i, a)?;
                let (img, rest) = v
                    .split_once(":/")
                    .ok_or_else(|| format!("--mount: '{v}' is not SRC:/DIR[:ro|:rw]"))?;
                let (dir, ro, rw) = if let Some(d) = rest.strip_suffix(":ro") {
                    (d, true, false)
                } else if let Some(d) = rest.strip_suffix(":rw") {
                    (d, false, true)
                } else {
                    (rest, false, false)
                };
                if img.is_empty() {
                    return Err(format!("--mount: '{v}' is not SRC:/DIR[:ro|:rw]"));
                }
                r.mounts.push((img.to_string(), format!("/{dir}"), ro, rw));
            }
            "--mem" => {
                let v = value(&mut i, a)?;
                r.mem = parse_size(&v)
                    .ok_or_else(|| format!("--mem: bad size '{v}' (use e.g. 64M)"))?;
                if r.mem < (1 << 20) {
                    return Err(format!("--mem: {v} is too small (at least 1M)"));
                }
                r.mem &= !(PAGE_SIZE - 1);
            }
            "--env" => {
                let v = value(&mut i, a)?;
                if !v.contains('=') {
                    return Err(format!("--env: '{v}' is not of the form K=V"));
                }
                r.cfg.envp.push(v);
            }
            "--cwd" => r.cfg.cwd = value(&mut i, a)?,
            "--strace" if !cfg!(feature = "strace") => {
                return Err(without("strace", "--strace"));
            }
            "--strace" => r.cfg.strace = true,
            "--stats" => r.cfg.stats = true,
            "--quiet-unsupported" => r.cfg.quiet_unsupported = true,
            "--platform" => r.seccomp = platform(&value(&mut i, a)?)?,
            "--cpu" => {
                let v = value(&mut i, a)?;
                r.cpu = Some(
                    v.parse()
                        .map_err(|_| format!("--cpu: bad CPU number '{v}'"))?,
                );
            }
            "--max-fds" => {
                let v = value(&mut i, a)?;
                r.cfg.max_fds = v
                    .parse()
                    .ok()
                    .filter(|n| (3..=1 << 20).contains(n))
                    .ok_or_else(|| format!("--max-fds: bad value '{v}'"))?;
            }
            "--max-procs" => {
                let v = value(&mut i, a)?;
                r.cfg.max_procs = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1 << 16).contains(n))
                    .ok_or_else(|| format!("--max-procs: bad value '{v}'"))?;
            }
            "--timeout" => {
                let v = value(&mut i, a)?;
                r.cfg.timeout_ns = Some(
                    parse_seconds(&v)
                        .ok_or_else(|| format!("--timeout: bad number of seconds '{v}'"))?,
                );
            }
            "--net" => {
                let v = value(&mut i, a)?;
                r.net.outbound = match v.as_str() {
                    "none" => false,
                    "host" if !cfg!(feature = "net-host") => {
                        return Err(without("net-host", "host networking (--net host)"))
                    }
                    "host" => true,
                    _ => return Err(format!("--net: '{v}' is not none or host")),
                };
            }
            "--publish" | "--unix-socket" if !cfg!(feature = "net-host") => {
                return Err(without("net-host", &format!("host networking ({a})")));
            }
            "--publish" => {
                let v = value(&mut i, a)?;
                r.net.publish.push(
                    parse_publish(&v).ok_or_else(|| {
                        format!("--publish: '{v}' is not HOSTPORT:GUESTPORT[/udp]")
                    })?,
                );
            }
            "--unix-socket" => {
                let v = value(&mut i, a)?;
                let (host, guest) = v
                    .split_once(':')
                    .filter(|(h, g)| h.starts_with('/') && g.starts_with('/'))
                    .ok_or_else(|| format!("--unix-socket: '{v}' is not /HOSTPATH:/GUESTPATH"))?;
                if host.len() >= 108 {
                    return Err(format!("--unix-socket: {host}: path too long for a socket"));
                }
                r.net.unix_paths.push(host.as_bytes().to_vec());
                r.cfg
                    .unix_grants
                    .push((host.as_bytes().to_vec(), guest.as_bytes().to_vec()));
            }
            _ if a.starts_with('-') => {
                return Err(format!("unknown option '{a}' (see umbra --help)"))
            }
            _ => {
                // The program may follow the options without "--".
                r.cfg.argv = args[i..].to_vec();
                break;
            }
        }
        i += 1;
    }
    if [r.initrd.is_some(), r.image.is_some(), r.root_dir.is_some()]
        .iter()
        .filter(|x| **x)
        .count()
        > 1
    {
        return Err(String::from(
            "give one of --initrd, --image and --root, not several",
        ));
    }
    if r.cfg.argv.is_empty() {
        return Err(String::from(
            "no program given (umbra run [OPTIONS] -- PROGRAM [ARGS...])",
        ));
    }
    Ok(r)
}

/// Opens an ext2 image: the file itself with `rw`, else read-only with the
/// writes kept in memory (or refused, with `ro`); its caches sized for a
/// guest of `mem` bytes.
fn open_image(
    img: &str,
    rw: bool,
    ro: bool,
    devno: u64,
    mem: usize,
) -> Result<Ext2Fs, (String, u8)> {
    let file = blockfile::BlockFile::open(Path::new(img), rw && !ro)
        .map_err(|e| (format!("{img}: {e}"), 2))?;
    let file: Arc<dyn BlockDevice> = Arc::new(file);
    let dev: Arc<dyn BlockDevice> = if rw || ro {
        file
    } else {
        Arc::new(OverlayDevice::new(file))
    };
    Ext2Fs::mount_for(dev, devno, ro, mem as u64).map_err(|e| (format!("{img}: {e}"), 2))
}

/// The error of an option or command whose part this build of umbra leaves
/// out (shim/Cargo.toml's features; a device ROM build).
fn without(feature: &str, what: &str) -> String {
    format!("this build of umbra has no {what} (built without the `{feature}` feature)")
}

/// The root node of the host directory `dir` (hostfs): written through with
/// `rw`, read-only with `ro`, else read-only with the writes kept in memory.
fn mount_host_dir(
    dir: &str,
    rw: bool,
    ro: bool,
    devno: u64,
    grants: &mut Vec<(i32, bool)>,
) -> Result<Arc<dyn fs::Inode>, (String, u8)> {
    use fs::hostfs::HostMode;
    if !cfg!(feature = "hostfs") {
        let what = "host-directory file system (--root DIR, --mount DIR:/DIR)";
        return Err((format!("{dir}: {}", without("hostfs", what)), 2));
    }
    let host = hostdir::HostDir::open(Path::new(dir), rw && !ro).map_err(|e| (e, 2))?;
    grants.push(host.grant());
    let mode = match (ro, rw) {
        (true, _) => HostMode::ReadOnly,
        (false, true) => HostMode::ReadWrite,
        (false, false) => HostMode::Overlay,
    };
    fs::hostfs::mount(Arc::new(host), devno, mode)
        .map_err(|e| (format!("{dir}: cannot serve it: {e:?}"), 2))
}

#[inline(never)]
fn run(mut r: RunArgs) -> Result<u8, (String, u8)> {
    let started = umbra_shim::sys::clock_ns(umbra_shim::sys::CLOCK_MONOTONIC);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let now = umbra_abi::structs::Timespec {
        tv_sec: now.as_secs() as i64,
        tv_nsec: now.subsec_nanos() as i64,
    };
    // Every mounted ext2, to flush after the guest is done.
    let mut disks: Vec<(String, Ext2Fs)> = Vec::new();
    // Host directories granted to the guest, and whether any is written through.
    let mut host_dirs = false;
    let mut host_dirs_rw = false;
    let mut grants = Vec::new();
    let (vfs, console) = if let Some(dir) = &r.root_dir {
        let root = mount_host_dir(dir, r.rw, false, fs::vfs::makedev(0, 0x30), &mut grants)?;
        host_dirs = true;
        host_dirs_rw |= r.rw;
        fs::vfs_from_root(root, "hostfs", now)
            .map_err(|e| (format!("{dir}: cannot set up /dev: {e:?}"), 2))?
    } else if let Some(img) = &r.image {
        let fs = open_image(img, r.rw, false, fs::vfs::makedev(8, 0), r.mem)?;
        let root = fs.root().map_err(|e| (format!("{img}: root: {e:?}"), 2))?;
        disks.push((img.clone(), fs));
        fs::vfs_from_root(root, "ext2", now)
            .map_err(|e| (format!("{img}: cannot set up /dev, /tmp, /run: {e:?}"), 2))?
    } else if let Some(initrd) = &r.initrd {
        let archive =
            std::fs::read(initrd).map_err(|e| (format!("cannot read initrd {initrd}: {e}"), 2))?;
        fs::vfs_from_cpio(&archive, now).map_err(|e| (format!("initrd {initrd}: {e}"), 2))?
    } else {
        return Err((
            String::from("no root file system: give --image IMG, --initrd FILE.cpio or --root DIR"),
            2,
        ));
    };
    for (n, (img, dir, ro, rw)) in r.mounts.iter().enumerate() {
        if Path::new(img).is_dir() {
            let minor = u32::try_from(0x31 + n).unwrap_or(0);
            let root = mount_host_dir(img, *rw, *ro, fs::vfs::makedev(0, minor), &mut grants)?;
            host_dirs = true;
            host_dirs_rw |= *rw;
            vfs.mount_at(dir, root, "hostfs")
                .map_err(|e| (format!("--mount {img}:{dir}: cannot mount: {e:?}"), 2))?;
            continue;
        }
        let minor = u32::try_from(16 * (n + 1)).unwrap_or(0);
        let fs = open_image(img, r.rw || *rw, *ro, fs::vfs::makedev(8, minor), r.mem)?;
        let root = fs.root().map_err(|e| (format!("{img}: root: {e:?}"), 2))?;
        vfs.mount_at(dir, root, "ext2")
            .map_err(|e| (format!("--mount {img}:{dir}: cannot mount: {e:?}"), 2))?;
        disks.push((img.clone(), fs));
    }
    let opts = HostOptions {
        mem_bytes: r.mem,
        cpu: r.cpu,
        disks: Vec::new(),
    };
    let mut host = match r.seccomp {
        Some(true) => PtraceHost::new_seccomp(opts),
        Some(false) => PtraceHost::new(opts),
        None => PtraceHost::new_auto(opts),
    }
    .map_err(|e| (e, 1))?;
    if r.net.outbound {
        // DNS through the host's resolver: its resolv.conf, offered to the
        // guest (read now: the confined umbra cannot open files).
        r.cfg.resolv_conf = std::fs::read("/etc/resolv.conf").ok();
    }
    host.enable_net(std::mem::take(&mut r.net))
        .map_err(|e| (e, 1))?;
    if let Some(t) = r.cfg.timeout_ns {
        // The kernel ends the run at the deadline; half a second later the
        // host ends it anyway. Both count from umbra's start, so loading the
        // root counts (`count_timeout_from` below).
        let at = started.saturating_add(t).saturating_add(500_000_000);
        umbra_shim::sys::signals::arm_hard_deadline(at)
            .map_err(|e| (format!("cannot arm the --timeout timer: {e:?}"), 1))?;
    }
    // From here on umbra may make only the host syscalls it needs (SECURITY.md).
    if host_dirs {
        // Landlock first (where the host has it): no file outside the
        // granted directories can be opened any more, by any path.
        umbra_shim::sys::hostdir::landlock_beneath(&grants)
            .map_err(|e| (format!("cannot restrict umbra with Landlock: {e}"), 1))?;
        host.confine_hostfs(host_dirs_rw).map_err(|e| (e, 1))?;
        // Test hook (debug builds only): what a compromised umbra could open.
        #[cfg(debug_assertions)]
        for p in std::env::var("UMBRA_TEST_OPEN_PROBE")
            .unwrap_or_default()
            .split(':')
        {
            if let Ok(c) = std::ffi::CString::new(p) {
                if !p.is_empty() {
                    let r = umbra_shim::sys::hostdir::open_anywhere_for_tests(&c);
                    eprintln!("umbra: open probe {p}: {r:?}");
                }
            }
        }
    } else {
        host.confine().map_err(|e| (e, 1))?;
    }
    let mut kernel = Kernel::new(host, vfs, r.cfg, r.mem / PAGE_SIZE);
    kernel.count_timeout_from(started);
    if kernel.stats.is_some() {
        // SIGUSR2 prints the report so far (a snapshot mid-run).
        kernel.stats_hook = Some(stats::print);
        umbra_shim::sys::signals::catch_stats_request()
            .map_err(|e| (format!("cannot catch SIGUSR2 for --stats: {e}"), 1))?;
    }
    if let Err(e) = kernel.spawn_init(fs::devfs::stdio_files(&console)) {
        let code = match e {
            BootError::BadExecutable(..) => 126,
            BootError::NotFound(_, umbra_abi::Errno::EACCES) => 126,
            _ => 127,
        };
        drop(kernel);
        sync_disks(&disks);
        return Err((e.to_string(), code));
    }
    let status = kernel.run();
    if let Some(s) = kernel.stats.take() {
        stats::print(&s, &mut kernel.host);
    }
    // Dropping the kernel closes every file, so unlinked open files are freed
    // before the final flush.
    drop(kernel);
    sync_disks(&disks);
    Ok(status.shell_code() as u8)
}

/// Flushes every mounted ext2 image (a warning if one fails).
fn sync_disks(disks: &[(String, Ext2Fs)]) {
    for (img, fs) in disks {
        if let Err(e) = fs.sync() {
            eprintln!("umbra: {img}: flushing at exit failed: {e:?}");
        }
    }
}

/// `umbra image ...`.
#[inline(never)]
fn image_cmd(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("create") => {
            let mut a = image::CreateArgs {
                dir: String::new(),
                out: String::new(),
                size: None,
                block_size: 1024,
                inodes: None,
                inode_size: 256,
            };
            let mut i = 1;
            while i < args.len() {
                let v = args.get(i + 1);
                match (args[i].as_str(), v) {
                    ("-o" | "--output", Some(v)) => {
                        a.out = v.clone();
                        i += 1;
                    }
                    ("--size", Some(v)) => {
                        match parse_size(v) {
                            Some(s) => a.size = Some(s as u64),
                            None => {
                                eprintln!("umbra: --size: bad size '{v}' (use e.g. 64M)");
                                return ExitCode::from(2);
                            }
                        }
                        i += 1;
                    }
                    ("--block-size", Some(v)) => {
                        match v.parse::<u32>() {
                            Ok(n @ (1024 | 2048 | 4096)) => a.block_size = n,
                            _ => {
                                eprintln!("umbra: --block-size: '{v}' is not 1024, 2048 or 4096");
                                return ExitCode::from(2);
                            }
                        }
                        i += 1;
                    }
                    ("--inodes", Some(v)) => {
                        match v.parse::<u32>() {
                            Ok(n) if n >= 16 => a.inodes = Some(n),
                            _ => {
                                eprintln!("umbra: --inodes: '{v}' is not a number of at least 16");
                                return ExitCode::from(2);
                            }
                        }
                        i += 1;
                    }
                    ("--inode-size", Some(v)) => {
                        match v.parse::<u32>() {
                            Ok(n @ (128 | 256)) => a.inode_size = n,
                            _ => {
                                eprintln!("umbra: --inode-size: '{v}' is not 128 or 256");
                                return ExitCode::from(2);
                            }
                        }
                        i += 1;
                    }
                    (o, _) if o.starts_with('-') => {
                        eprintln!("umbra: image create: bad option '{o}' (see umbra --help)");
                        return ExitCode::from(2);
                    }
                    (d, _) if a.dir.is_empty() => a.dir = d.to_string(),
                    (d, _) => {
                        eprintln!("umbra: image create: unexpected argument '{d}'");
                        return ExitCode::from(2);
                    }
                }
                i += 1;
            }
            if a.dir.is_empty() || a.out.is_empty() {
                eprintln!(
                    "umbra: usage: umbra image create DIR -o IMG [--size SIZE] [--block-size N] [--inodes N] [--inode-size N]"
                );
                return ExitCode::from(2);
            }
            match image::create(&a) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("umbra: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Some("check") => {
            let [_, img] = args else {
                eprintln!("umbra: usage: umbra image check IMG");
                return ExitCode::from(2);
            };
            match image::check(img) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("umbra: {e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => {
            eprintln!("umbra: usage: umbra image create|check ... (see umbra --help)");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    // Arguments that are not UTF-8 are refused here (std's env::args would
    // panic on them).
    let Ok(args) = std::env::args_os()
        .skip(1)
        .map(std::ffi::OsString::into_string)
        .collect::<Result<Vec<String>, _>>()
    else {
        eprintln!("umbra: an argument is not valid UTF-8");
        return ExitCode::from(2);
    };
    if oci::is_oci(&args) {
        if !cfg!(feature = "oci") {
            eprintln!("umbra: {}", without("oci", "OCI runtime"));
            return ExitCode::from(2);
        }
        return oci::main(&args);
    }
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("umbra {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("run") => {
            if args
                .iter()
                .skip(1)
                .take_while(|a| *a != "--")
                .any(|a| a == "-h" || a == "--help")
            {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            let r = match parse_run(&args[1..]) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("umbra: {e}");
                    return ExitCode::from(2);
                }
            };
            match run(r) {
                Ok(code) => ExitCode::from(code),
                Err((msg, code)) => {
                    eprintln!("umbra: {msg}");
                    ExitCode::from(code)
                }
            }
        }
        Some("image") if cfg!(feature = "image-tool") => image_cmd(&args[1..]),
        Some("image") => {
            eprintln!("umbra: {}", without("image-tool", "`umbra image`"));
            ExitCode::from(2)
        }
        Some(other) => {
            eprintln!("umbra: unknown command '{other}' (see umbra --help)");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_publish, parse_run, parse_seconds};

    #[test]
    fn host_directory_options_parse() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let r = parse_run(&args(&[
            "--root",
            "/t",
            "--rw",
            "--mount",
            "/a:/x:rw",
            "--mount",
            "/b:/y/z:ro",
            "--mount",
            "/c:/w",
            "--",
            "sh",
        ]))
        .unwrap();
        assert_eq!(r.root_dir.as_deref(), Some("/t"));
        assert!(r.rw);
        let m: Vec<_> = r
            .mounts
            .iter()
            .map(|(s, d, ro, rw)| (s.as_str(), d.as_str(), *ro, *rw))
            .collect();
        assert_eq!(
            m,
            [
                ("/a", "/x", false, true),
                ("/b", "/y/z", true, false),
                ("/c", "/w", false, false)
            ]
        );
        for bad in [
            &["--root", "/t", "--image", "i", "--", "sh"][..],
            &["--root", "/t", "--initrd", "i", "--", "sh"][..],
            &["--root", "/t", "--mount", "nodir", "--", "sh"][..],
        ] {
            assert!(parse_run(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn publish_specs_parse() {
        assert_eq!(parse_publish("8080:80"), Some((8080, 80, false)));
        assert_eq!(parse_publish("8080:80/tcp"), Some((8080, 80, false)));
        assert_eq!(parse_publish("5353:53/udp"), Some((5353, 53, true)));
        for bad in [
            "",
            "80",
            "0:80",
            "80:0",
            "80:70000",
            "a:b",
            "80:80/sctp",
            ":80",
        ] {
            assert_eq!(parse_publish(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn seconds_parse_without_floating_point() {
        assert_eq!(parse_seconds("3"), Some(3_000_000_000));
        assert_eq!(parse_seconds("0.25"), Some(250_000_000));
        assert_eq!(parse_seconds(".5"), Some(500_000_000));
        assert_eq!(parse_seconds("2."), Some(2_000_000_000));
        assert_eq!(parse_seconds("1.0000000019"), Some(1_000_000_001));
        assert_eq!(parse_seconds("999999999"), Some(999_999_999_000_000_000));
        for bad in [
            "",
            ".",
            "0",
            "0.0",
            "-1",
            "1e3",
            "1.2.3",
            "abc",
            "1000000000",
            " 1",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }
}
