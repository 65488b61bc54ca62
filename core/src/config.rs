//! Limits and sizes that are configuration, not code: the CLI fills a [`Config`].

use alloc::string::String;
use alloc::vec::Vec;

/// Page size of every arch umbra supports.
pub const PAGE_SIZE: usize = 4096;
pub const PAGE_SHIFT: u32 = 12;

/// The guest's configuration, fixed at boot.
#[derive(Clone, Debug)]
pub struct Config {
    /// Program path inside the guest and its argv (argv[0] included).
    pub argv: Vec<String>,
    /// Environment, as "K=V" strings.
    pub envp: Vec<String>,
    /// Working directory of the first process.
    pub cwd: String,
    /// Maximum number of open files per process (RLIMIT_NOFILE).
    pub max_fds: usize,
    /// Maximum number of guest processes, zombies included (fork gets EAGAIN).
    pub max_procs: usize,
    /// Stack size limit (RLIMIT_STACK), bytes.
    pub stack_limit: usize,
    /// Wall-clock limit of the whole guest run in ns; at expiry every guest
    /// process is killed and the run ends with status 124, as timeout(1).
    pub timeout_ns: Option<u64>,
    /// Host name reported by uname.
    pub hostname: String,
    /// Trace every syscall through `Host::log`.
    pub strace: bool,
    /// `--stats`: count syscalls, faults, host stops and their times, for
    /// a report at exit (`kernel::stats`).
    pub stats: bool,
    /// Do not name the unsupported syscalls a guest makes (each is named
    /// once on stderr otherwise; see `Kernel::report_enosys`).
    pub quiet_unsupported: bool,
    /// `--unix-socket HOSTPATH:GUESTPATH`: (host path, guest path) of each
    /// host Unix socket the guest may connect to (net/host.rs).
    pub unix_grants: Vec<(Vec<u8>, Vec<u8>)>,
    /// The host's /etc/resolv.conf under `--net host`, shown at the guest's
    /// /etc/resolv.conf when its root has none.
    pub resolv_conf: Option<Vec<u8>>,
    /// pid 1 is a container's init (OCI mode): signals it sends itself
    /// without a handler are dropped too, as Linux's SIGNAL_UNKILLABLE does
    /// for every sender inside the namespace. Off for `umbra run`, whose
    /// program is compared with a native run where it is not an init.
    pub container_init: bool,
    /// The first process's user: uid, gid and supplementary groups (OCI
    /// process.user; root when 0 and 0), and its no_new_privs.
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub no_new_privs: bool,
    /// The most tasks (threads and zombies) fork allows, besides
    /// `max_procs`: an OCI container's linux.resources.pids.limit, which
    /// `umbra update` changes (None: no such limit).
    pub pids_limit: Option<usize>,
    /// The permissions and group of the terminals' /dev/pts/N nodes (an
    /// OCI devpts mount's `mode=` and `gid=`).
    pub pts: PtsAttrs,
}

/// The permissions and group a /dev/pts/N node gets, as Linux's devpts
/// mount options `mode=` and `gid=` give them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtsAttrs {
    pub perm: u32,
    pub gid: u32,
}

impl Default for PtsAttrs {
    /// root:tty 0620, what a getty or a terminal emulator's pty has.
    fn default() -> Self {
        PtsAttrs {
            perm: 0o620,
            gid: 5,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            argv: Vec::new(),
            envp: Vec::new(),
            cwd: String::from("/"),
            max_fds: 1024,
            max_procs: 256,
            stack_limit: 8 << 20,
            timeout_ns: None,
            hostname: String::from("umbra"),
            strace: false,
            stats: false,
            quiet_unsupported: false,
            unix_grants: Vec::new(),
            resolv_conf: None,
            container_init: false,
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            no_new_privs: false,
            pids_limit: None,
            pts: PtsAttrs::default(),
        }
    }
}
