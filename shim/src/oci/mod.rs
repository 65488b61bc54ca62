//! umbra as an OCI runtime (runtime-spec 1.x), with runc's command line, so
//! that Podman (through conmon), containerd and Docker can run containers
//! under umbra: `create`, `start`, `state`, `kill`, `delete`, `run`,
//! `exec`, `pause`, `resume`, `update`, `events`, `features`, `ps` and
//! `spec`, with the global `--root`, `--log`,
//! `--log-format` and `--systemd-cgroup`.
//!
//! The container's host process is umbra's supervisor: `create` forks it,
//! it waits on the exec fifo until `start`, then runs the guest kernel and
//! ends as the guest's init ends (its exit code, or its fatal signal
//! re-raised). `kill` signals it; it passes the signal to the guest's init.

mod container;
mod exec;
mod json;
mod spec;
mod state;
mod update;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
umbra as an OCI runtime (runtime-spec 1.x; the command line of runc):

  umbra [GLOBAL] create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID
  umbra [GLOBAL] start ID
  umbra [GLOBAL] state ID
  umbra [GLOBAL] kill [--all] ID [SIGNAL]     (default SIGTERM)
  umbra [GLOBAL] pause ID | resume ID
  umbra [GLOBAL] delete [--force] ID
  umbra [GLOBAL] run [--bundle DIR] [--detach] [--pid-file FILE] [--console-socket SOCK] ID
  umbra [GLOBAL] exec [--process FILE] [--detach] [--pid-file FILE] [--tty]
                     [--console-socket SOCK] [--ignore-paused] ID [CMD...]
  umbra [GLOBAL] ps [--format table|json] ID [PS_ARGS]  (host processes)
  umbra [GLOBAL] update [--resources FILE|-] [--pids-limit N] [--memory B] ... ID
                     (applies the pids limit; says on stderr what it ignores)
  umbra [GLOBAL] events [--stats] [--interval 5s] ID  (tasks, memory, CPU time)
  umbra [GLOBAL] features
  umbra [GLOBAL] checkpoint ID | restore ID   (not supported: an error, exit 1)
  umbra spec [--bundle DIR]                   (writes DIR/config.json)

GLOBAL: --root STATE_DIR (default /run/umbra), --log FILE, --log-format
text|json, --debug, --systemd-cgroup (accepted; umbra uses no cgroups).

`run` is the OCI command when a GLOBAL option comes first or --bundle is
given; otherwise it is umbra's own `umbra run [OPTIONS] -- PROGRAM`.
";

/// The global options.
pub struct Global {
    pub root: PathBuf,
    log: Option<PathBuf>,
    json: bool,
    debug: bool,
    /// The log file, kept open by the supervisor once it cannot open files.
    log_file: std::cell::RefCell<Option<std::fs::File>>,
}

impl Global {
    /// A log line in runc's text format (`time="..." level=L msg="..."`).
    fn text_line(&self, level: &str, msg: &str) -> String {
        let mut s = format!("time=\"{}\" level={level} msg=", state::now_rfc3339());
        json::write_str(&mut s, msg);
        s.push('\n');
        s
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = state::now_rfc3339();
        if self.json {
            let mut s = String::from("{\"level\":");
            json::write_str(&mut s, level);
            s.push_str(",\"msg\":");
            json::write_str(&mut s, msg);
            s.push_str(",\"time\":");
            json::write_str(&mut s, &time);
            s.push_str("}\n");
            s
        } else {
            self.text_line(level, msg)
        }
    }

    /// Appends a line to the log file (stderr without `--log`).
    fn emit(&self, level: &str, msg: &str) {
        let line = self.line(level, msg);
        if let Some(f) = self.log_file.borrow_mut().as_mut() {
            let _ = f.write_all(line.as_bytes());
            return;
        }
        match &self.log {
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(p);
                if let Ok(mut f) = f {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// Whether messages go to a log file (`--log`) rather than stderr.
    pub fn logs_to_file(&self) -> bool {
        self.log.is_some()
    }

    pub fn warn(&self, msg: &str) {
        self.emit("warning", msg);
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.emit("debug", msg);
        }
    }

    /// An error: to the log file, and always to stderr.
    pub fn error(&self, msg: &str) {
        if self.log.is_some() {
            self.emit("error", msg);
        }
    }

    /// Opens the log file now and keeps it (the supervisor, before it
    /// confines itself).
    pub fn keep_log_open(&self) {
        if let Some(p) = &self.log {
            *self.log_file.borrow_mut() = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
                .ok();
        }
    }
}

/// The OCI subcommands.
const COMMANDS: &[&str] = &[
    "create",
    "start",
    "state",
    "kill",
    "delete",
    "exec",
    "features",
    "ps",
    "spec",
    "run",
    "pause",
    "resume",
    "update",
    "events",
    "checkpoint",
    "restore",
];

/// Global options that take a value.
const GLOBAL_VALUE: &[&str] = &["--root", "--log", "--log-format", "--criu", "--rootless"];
/// Global options that are flags.
const GLOBAL_FLAG: &[&str] = &["--debug", "--systemd-cgroup", "--no-subreaper"];

/// `-opt` and `--opt` are the same (urfave/cli, which runc uses, takes both).
fn long(a: &str) -> String {
    let name_len = a.split('=').next().map_or(0, str::len);
    if a.starts_with("--") || !a.starts_with('-') || name_len <= 2 {
        a.to_string()
    } else {
        format!("-{a}")
    }
}

fn is_global(a: &str) -> bool {
    let a = long(a);
    let name = a.split('=').next().unwrap_or("");
    GLOBAL_VALUE.contains(&name) || GLOBAL_FLAG.contains(&name)
}

/// Whether `args` (without the program name) is an OCI runtime command line
/// rather than umbra's own.
pub fn is_oci(args: &[String]) -> bool {
    match args.first().map(String::as_str) {
        Some(a) if is_global(a) => true,
        Some("run") => args[1..]
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| matches!(long(a).split('=').next(), Some("--bundle" | "-b"))),
        Some(c) => COMMANDS.contains(&c),
        None => false,
    }
}

/// Parsed options of one subcommand: (name, value) pairs and positionals.
struct Opts {
    opts: Vec<(String, String)>,
    args: Vec<String>,
}

impl Opts {
    fn get(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Parses `args` with the options that take a value and the flags given;
/// `short` maps one-letter aliases. Stops at the first positional after
/// which everything is positional when `rest_positional`.
fn parse_opts(
    args: &[String],
    value: &[&str],
    flag: &[&str],
    short: &[(&str, &str)],
    rest_positional: bool,
) -> Result<Opts, String> {
    let mut o = Opts {
        opts: Vec::new(),
        args: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            o.args.extend(args[i + 1..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            o.args.push(a.clone());
            if rest_positional {
                o.args.extend(args[i + 1..].iter().cloned());
                break;
            }
            i += 1;
            continue;
        }
        let a = long(a);
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let name = short
            .iter()
            .find(|(s, _)| *s == name)
            .map_or(name, |(_, l)| l.to_string());
        if value.contains(&name.as_str()) {
            let v = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("{name} needs a value"))?
                }
            };
            o.opts.push((name, v));
        } else if flag.contains(&name.as_str()) {
            if matches!(inline.as_deref(), Some("false")) {
                o.opts.retain(|(k, _)| *k != name);
            } else {
                o.opts.push((name, String::new()));
            }
        } else {
            return Err(format!("flag provided but not defined: {name}"));
        }
        i += 1;
    }
    Ok(o)
}

/// A signal by name (TERM, SIGTERM, sigterm, RTMIN+3) or number.
#[inline(never)]
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    const NAMES: &[&str] = &[
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    if let Some(i) = NAMES.iter().position(|n| *n == name) {
        return Some(i as i32 + 1);
    }
    match name {
        "IOT" => return Some(6),
        "POLL" => return Some(29),
        "CLD" => return Some(17),
        _ => {}
    }
    let off = |t: &str| -> Option<i32> {
        if t.is_empty() {
            Some(0)
        } else {
            t.parse().ok()
        }
    };
    if let Some(t) = name.strip_prefix("RTMIN") {
        let n = 34
            + off(t
                .strip_prefix('+')
                .unwrap_or(if t.is_empty() { "" } else { "x" }))?;
        return (34..=64).contains(&n).then_some(n);
    }
    if let Some(t) = name.strip_prefix("RTMAX") {
        let n = 64
            - off(t
                .strip_prefix('-')
                .unwrap_or(if t.is_empty() { "" } else { "x" }))?;
        return (34..=64).contains(&n).then_some(n);
    }
    None
}

/// `ps ID [PS_ARGS]` as a table, as runc makes it: the host's `ps` (with
/// PS_ARGS, default `-ef`), its header and the lines of `pids`.
#[inline(never)]
fn ps_table(ps_args: &[String], pids: &[i32]) -> Result<String, String> {
    let args: Vec<&str> = if ps_args.is_empty() {
        vec!["-ef"]
    } else {
        ps_args.iter().map(String::as_str).collect()
    };
    let out = umbra_shim::sys::oci::run_captured("ps", &args).map_err(|e| format!("ps: {e}"))?;
    if out.end != umbra_shim::sys::oci::ChildEnd::Exited(0) {
        return Err(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let at = header
        .split_whitespace()
        .position(|f| f == "PID")
        .ok_or("couldn't find PID field in ps output")?;
    let mut table = format!("{header}\n");
    for line in lines {
        let pid = line.split_whitespace().nth(at).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p: i32| pids.contains(&p)) {
            table.push_str(line);
            table.push('\n');
        }
    }
    Ok(table)
}

/// `features`: what this runtime supports, in runc's format (compact here;
/// printed indented).
const FEATURES: &str = concat!(
    r#"{"ociVersionMin":"1.0.0","ociVersionMax":"1.2.0","hooks":[],"mountOptions":["bind","#,
    r#""rbind","ro","rw","nosuid","nodev","noexec"],"linux":{"namespaces":["cgroup","ipc","#,
    r#""mount","network","pid","uts"],"capabilities":[],"cgroup":{"v1":false,"v2":false,"#,
    r#""systemd":false,"systemdUser":false},"seccomp":{"enabled":false},"apparmor":{"enabled":false},"#,
    r#""selinux":{"enabled":false}},"annotations":{}}"#,
);

/// `text`, a JSON text of this module's own, indented as runc prints it.
pub(super) fn pretty(text: &str) -> Result<String, String> {
    json::parse(text).map(|v| v.to_pretty())
}

/// One positional, the container id.
fn one_id(o: &Opts, cmd: &str) -> Result<String, String> {
    match o.args.as_slice() {
        [id] => Ok(id.clone()),
        [] => Err(format!("{cmd}: a container id is required")),
        _ => Err(format!("{cmd}: too many arguments")),
    }
}

fn dispatch(g: &Global, cmd: &str, rest: &[String]) -> Result<u8, String> {
    let create_value = [
        "--bundle",
        "--pid-file",
        "--console-socket",
        "--preserve-fds",
        "--notify-socket",
    ];
    let create_flag = [
        "--no-pivot",
        "--no-new-keyring",
        "--detach",
        "--keep",
        "--no-subreaper",
    ];
    let create_short = [("-b", "--bundle"), ("-d", "--detach")];
    match cmd {
        "create" | "run" => {
            let o = parse_opts(rest, &create_value, &create_flag, &create_short, false)?;
            let id = one_id(&o, cmd)?;
            let opts = container::CreateOpts {
                id,
                bundle: PathBuf::from(o.get("--bundle").unwrap_or(".")),
                pid_file: o.get("--pid-file").map(PathBuf::from),
                console_socket: o.get("--console-socket").map(PathBuf::from),
                preserve_fds: o
                    .get("--preserve-fds")
                    .map(|v| {
                        v.parse()
                            .map_err(|_| format!("--preserve-fds: bad number '{v}'"))
                    })
                    .transpose()?
                    .unwrap_or(0),
            };
            let after = match (cmd, o.has("--detach")) {
                ("create", _) => container::After::Created,
                (_, true) => container::After::Detached,
                (_, false) => container::After::Foreground,
            };
            container::create(g, &opts, after)
        }
        "start" => {
            let o = parse_opts(rest, &[], &[], &[], false)?;
            container::start(g, &one_id(&o, cmd)?).map(|()| 0)
        }
        "state" => {
            let o = parse_opts(rest, &[], &[], &[], false)?;
            let text = container::state(g, &one_id(&o, cmd)?)?;
            println!("{text}");
            Ok(0)
        }
        "kill" => {
            let o = parse_opts(rest, &[], &["--all"], &[("-a", "--all")], false)?;
            let (id, sig) = match o.args.as_slice() {
                [id] => (id, "TERM"),
                [id, sig] => (id, sig.as_str()),
                _ => return Err("kill: usage: kill [--all] ID [SIGNAL]".into()),
            };
            let sig = parse_signal(sig).ok_or_else(|| format!("unknown signal \"{sig}\""))?;
            container::kill(g, id, sig, o.has("--all")).map(|()| 0)
        }
        "pause" | "resume" => {
            let o = parse_opts(rest, &[], &[], &[], false)?;
            container::freeze(g, &one_id(&o, cmd)?, cmd == "pause").map(|()| 0)
        }
        "delete" => {
            let o = parse_opts(rest, &[], &["--force"], &[("-f", "--force")], false)?;
            container::delete(g, &one_id(&o, cmd)?, o.has("--force")).map(|()| 0)
        }
        "ps" => {
            let o = parse_opts(rest, &["--format"], &[], &[("-f", "--format")], true)?;
            let (id, ps_args) = o
                .args
                .split_first()
                .ok_or("ps: a container id is required")?;
            let format = o.get("--format").unwrap_or("table");
            if !matches!(format, "table" | "json") {
                return Err("invalid format option".into());
            }
            // The container's host processes: the supervisor and its stubs.
            let pids = container::pids(g, id)?;
            if format == "json" {
                let v = json::Value::Arr(
                    pids.iter()
                        .map(|&p| json::Value::num(i64::from(p)))
                        .collect(),
                );
                println!("{}", v.to_text());
                return Ok(0);
            }
            print!("{}", ps_table(ps_args, &pids)?);
            Ok(0)
        }
        "update" => {
            let value: Vec<&str> = update::UPDATE_FLAGS
                .iter()
                .map(|(f, _)| *f)
                .chain(["--resources"])
                .collect();
            let o = parse_opts(rest, &value, &[], &[("-r", "--resources")], false)?;
            let id = one_id(&o, cmd)?;
            // As runc: with --resources, the other flags are not read.
            let r = match o.get("--resources") {
                Some(path) => {
                    let text = if path == "-" {
                        read_stdin().map_err(|e| format!("stdin: {e}"))?
                    } else {
                        std::fs::read_to_string(path).map_err(|e| format!("open {path}: {e}"))?
                    };
                    let v = json::parse(&text).map_err(|e| format!("--resources: {e}"))?;
                    update::parse_resources(Some(&v))
                }
                None => update::resources_from_flags(&o.opts)?,
            };
            update::update(g, &id, &r).map(|()| 0)
        }
        "events" => {
            let o = parse_opts(rest, &["--interval"], &["--stats"], &[], false)?;
            let id = one_id(&o, cmd)?;
            let interval = match o.get("--interval") {
                Some(v) => update::parse_interval(v)
                    .ok_or_else(|| format!("invalid value \"{v}\" for flag -interval"))?,
                None => std::time::Duration::from_secs(5),
            };
            update::events(g, &id, o.has("--stats"), interval).map(|()| 0)
        }
        "features" => {
            println!("{}", pretty(FEATURES)?);
            Ok(0)
        }
        "spec" => {
            let o = parse_opts(
                rest,
                &["--bundle"],
                &["--rootless"],
                &[("-b", "--bundle")],
                false,
            )?;
            let dir = PathBuf::from(o.get("--bundle").unwrap_or("."));
            let path = dir.join("config.json");
            if path.exists() {
                return Err("File config.json exists. Remove it first".into());
            }
            let text = pretty(spec::DEFAULT_CONFIG)?;
            std::fs::write(&path, text + "\n")
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(0)
        }
        "exec" => {
            let o = parse_opts(
                rest,
                &[
                    "--process",
                    "--pid-file",
                    "--console-socket",
                    "--cwd",
                    "--env",
                    "--user",
                    "--process-label",
                    "--apparmor",
                    "--cap",
                    "--preserve-fds",
                    "--cgroup",
                ],
                &["--detach", "--tty", "--no-new-privs", "--ignore-paused"],
                &[
                    ("-p", "--process"),
                    ("-d", "--detach"),
                    ("-t", "--tty"),
                    ("-e", "--env"),
                    ("-u", "--user"),
                    ("-c", "--cap"),
                ],
                true,
            )?;
            let (id, args) = o
                .args
                .split_first()
                .ok_or("exec: a container id is required")?;
            let opts = exec::ExecOpts {
                id: id.clone(),
                process: o.get("--process").map(PathBuf::from),
                args: args.to_vec(),
                env: o
                    .opts
                    .iter()
                    .filter(|(k, _)| k == "--env")
                    .map(|(_, v)| v.clone())
                    .collect(),
                cwd: o.get("--cwd").map(String::from),
                tty: o.has("--tty"),
                detach: o.has("--detach"),
                pid_file: o.get("--pid-file").map(PathBuf::from),
                console_socket: o.get("--console-socket").map(PathBuf::from),
                user: o.get("--user").map(String::from),
                ignore_paused: o.has("--ignore-paused"),
            };
            // As runc: any failure is "exec failed: ..." with status 255.
            match exec::exec(g, &opts) {
                Ok(code) => Ok(code),
                Err(msg) if msg.starts_with("exec failed") => Ok(fail(g, &msg, 255)),
                Err(msg) => Ok(fail(g, &format!("exec failed: {msg}"), 255)),
            }
        }
        // runc checkpoints with CRIU, which dumps the host processes; a
        // dump of umbra's would hold its own state, not the guest's, and the
        // guest kernel has no checkpoint of its own. Said plainly, with
        // exit 1, never a success that saved nothing.
        "checkpoint" | "restore" => Err(format!(
            "{cmd} is not supported by umbra: its guest kernel cannot save or restore a container's state"
        )),
        other => Err(format!("unknown command '{other}'")),
    }
}

/// Runs an OCI command line (`args` without the program name).
#[inline(never)]
pub fn main(args: &[String]) -> ExitCode {
    let mut g = Global {
        root: PathBuf::from("/run/umbra"),
        log: None,
        json: false,
        debug: false,
        log_file: std::cell::RefCell::new(None),
    };
    let mut i = 0;
    while i < args.len() && is_global(&args[i]) {
        let a = long(&args[i]);
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        if GLOBAL_VALUE.contains(&name.as_str()) {
            let v = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => {
                            eprintln!("umbra: {name} needs a value");
                            return ExitCode::from(2);
                        }
                    }
                }
            };
            match name.as_str() {
                "--root" => g.root = PathBuf::from(v),
                "--log" => g.log = Some(PathBuf::from(v)),
                "--log-format" => g.json = v == "json",
                _ => {}
            }
        } else if name == "--debug" {
            g.debug = true;
        }
        i += 1;
    }
    let Some(cmd) = args.get(i) else {
        print!("{USAGE}");
        return ExitCode::from(2);
    };
    if cmd == "-h" || cmd == "--help" || args[i + 1..].iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match dispatch(&g, cmd, &args[i + 1..]) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => ExitCode::from(fail(&g, &msg, 1)),
    }
}

/// All of stdin, as text: read(2) on fd 0 until its end (std's Stdin, a
/// locked BufReader, came into the ROM build for this one read).
fn read_stdin() -> std::io::Result<String> {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match umbra_shim::sys::read(0, &mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.0 == libc::EINTR => {}
            Err(e) => return Err(std::io::Error::from_raw_os_error(e.0)),
        }
    }
    String::from_utf8(text).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Reports a failure as runc's fatalWithCode does: to the log, and to
/// stderr as logrus writes it there, or as the bare message when the log
/// is a file (`--log`). Returns `code`.
fn fail(g: &Global, msg: &str, code: u8) -> u8 {
    g.error(msg);
    let line = if g.log.is_some() {
        format!("{msg}\n")
    } else {
        g.text_line("error", msg)
    };
    let _ = std::io::stderr().write_all(line.as_bytes());
    code
}

#[cfg(test)]
mod tests {
    use super::{is_oci, parse_opts, parse_signal};

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn signals_parse_as_runc_takes_them() {
        assert_eq!(parse_signal("TERM"), Some(15));
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("sigusr1"), Some(10));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("RTMIN"), Some(34));
        assert_eq!(parse_signal("RTMIN+3"), Some(37));
        assert_eq!(parse_signal("SIGRTMAX-1"), Some(63));
        for bad in ["", "0", "65", "FOO", "RTMIN+40", "RTMINx", "-1"] {
            assert_eq!(parse_signal(bad), None, "{bad}");
        }
    }

    #[test]
    fn oci_command_lines_are_told_apart() {
        assert!(is_oci(&v(&["--root", "/r", "run", "x"])));
        assert!(is_oci(&v(&["create", "--bundle", "b", "x"])));
        assert!(is_oci(&v(&["run", "--bundle", "b", "x"])));
        assert!(is_oci(&v(&["run", "-b=b", "x"])));
        assert!(is_oci(&v(&["--log-format=json", "state", "x"])));
        assert!(!is_oci(&v(&["run", "--root", "/t", "--", "sh"])));
        assert!(!is_oci(&v(&["run", "--", "sh", "--bundle"])));
        assert!(!is_oci(&v(&["image", "check", "x"])));
    }

    #[test]
    fn options_parse() {
        let o = parse_opts(
            &v(&["-bundle", "/b", "--pid-file=/p", "-d", "id"]),
            &["--bundle", "--pid-file"],
            &["--detach"],
            &[("-d", "--detach")],
            false,
        )
        .unwrap();
        assert_eq!(o.get("--bundle"), Some("/b"));
        assert_eq!(o.get("--pid-file"), Some("/p"));
        assert!(o.has("--detach"));
        assert_eq!(o.args, ["id"]);
        assert!(parse_opts(&v(&["--nope"]), &[], &[], &[], false).is_err());
        assert!(parse_opts(&v(&["--bundle"]), &["--bundle"], &[], &[], false).is_err());
    }
}
