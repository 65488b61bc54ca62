//! A container's record in the state directory (`--root`, default
//! /run/umbra): `ID/state.json` (what `create` made), `ID/exec.fifo` (there
//! until `start`), and the status derived from them and the supervisor's
//! pid, as runc derives it.

use super::json::{self, Value};
use std::path::{Path, PathBuf};

/// What `create` records of a container.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub id: String,
    /// The supervisor's host pid (the container's "init" to the host).
    pub pid: i32,
    /// The supervisor's start time in clock ticks since boot (/proc/PID/stat
    /// field 22): a reused pid is not taken for the container.
    pub start_ticks: u64,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    pub annotations: Vec<(String, String)>,
}

/// The lifecycle states umbra reports (runtime-spec `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    /// Running, and frozen by `pause`.
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Container ids as runc accepts them: `^[\w+\-.]+$`, not "." or "..".
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
}

pub fn container_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// The mark `pause` leaves while the container is paused.
pub fn paused_path(dir: &Path) -> PathBuf {
    dir.join("paused")
}

pub fn fifo_path(dir: &Path) -> PathBuf {
    dir.join("exec.fifo")
}

/// The supervisor's control socket.
pub fn sock_path(dir: &Path) -> PathBuf {
    dir.join("exec.sock")
}

/// Room for a path in `sockaddr_un`'s sun_path, with its NUL.
const SUN_PATH_MAX: usize = 107;

/// An address for the Unix socket `path`, which may be longer than
/// sun_path allows: `path` itself when it fits, else `/proc/self/fd/N/NAME`
/// with N its directory, opened here and kept open while this lives (the
/// socket is made, or reached, in that directory as through `path`, with
/// its permissions).
pub struct SockAddr {
    _dir: Option<std::fs::File>,
    pub path: PathBuf,
}

/// Connects to the control socket (`exec.sock`) of the supervisor whose
/// state directory is `dir`.
pub fn connect_supervisor(dir: &Path) -> Result<std::os::unix::net::UnixStream, String> {
    let sock = sock_path(dir);
    sock_addr(&sock)
        .and_then(|a| std::os::unix::net::UnixStream::connect(&a.path).map_err(|e| e.to_string()))
        .map_err(|e| {
            format!(
                "cannot reach the container's supervisor at {}: {e}",
                sock.display()
            )
        })
}

pub fn sock_addr(path: &Path) -> Result<SockAddr, String> {
    use std::ffi::OsStr;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return Ok(SockAddr {
            _dir: None,
            path: path.to_path_buf(),
        });
    }
    // Its directory and name, split at the last '/' (trailing ones
    // dropped) without Path's component parser.
    let b = path.as_os_str().as_bytes();
    let b = &b[..b.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1)];
    let (parent, name) = match b.iter().rposition(|&c| c == b'/') {
        Some(0) => (&b[..1], &b[1..]),
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (&b"."[..], b),
    };
    if matches!(name, b"" | b"." | b"..") {
        return Err(format!("{}: not a socket path", path.display()));
    }
    let (parent, name) = (
        Path::new(OsStr::from_bytes(parent)),
        OsStr::from_bytes(name),
    );
    let dir = std::fs::File::open(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let short = Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name);
    if short.as_os_str().as_bytes().len() > SUN_PATH_MAX {
        return Err(format!("{}: the socket's name is too long", path.display()));
    }
    Ok(SockAddr {
        _dir: Some(dir),
        path: short,
    })
}

impl Record {
    /// state.json's text (compact), written directly rather than built
    /// as a [`Value`] member by member.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::from(r#"{"id":"#);
        json::write_str(&mut s, &self.id);
        let _ = write!(
            s,
            r#","pid":{},"startTicks":{},"bundle":"#,
            self.pid, self.start_ticks
        );
        self.write_paths(&mut s);
        s.push_str(r#","annotations":"#);
        self.write_annotations(&mut s);
        s.push('}');
        s
    }

    /// `BUNDLE,"rootfs":ROOTFS,"created":CREATED` (after `"bundle":`).
    fn write_paths(&self, s: &mut String) {
        json::write_str(s, &self.bundle);
        s.push_str(r#","rootfs":"#);
        json::write_str(s, &self.rootfs);
        s.push_str(r#","created":"#);
        json::write_str(s, &self.created);
    }

    /// The annotations as a JSON object.
    fn write_annotations(&self, s: &mut String) {
        s.push('{');
        for (i, (k, v)) in self.annotations.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json::write_str(s, k);
            s.push(':');
            json::write_str(s, v);
        }
        s.push('}');
    }

    #[inline(never)]
    pub fn from_value(v: &Value) -> Option<Record> {
        Some(Record {
            id: v.get("id")?.as_str()?.to_string(),
            pid: i32::try_from(v.get("pid")?.as_i64()?).ok()?,
            start_ticks: v.get("startTicks")?.as_u64()?,
            bundle: v.get("bundle")?.as_str()?.to_string(),
            rootfs: v.get("rootfs")?.as_str()?.to_string(),
            created: v.get("created")?.as_str()?.to_string(),
            annotations: v
                .get("annotations")
                .and_then(Value::as_object)
                .unwrap_or(&[])
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect(),
        })
    }

    /// Writes `dir/state.json` (through a temporary file and a rename, so a
    /// reader never sees half of it).
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let tmp = dir.join("state.json.tmp");
        std::fs::write(&tmp, self.to_text())
            .and_then(|()| std::fs::rename(&tmp, dir.join("state.json")))
            .map_err(|e| format!("cannot write {}/state.json: {e}", dir.display()))
    }

    pub fn load(dir: &Path, id: &str) -> Result<Record, String> {
        let text = std::fs::read_to_string(dir.join("state.json"))
            .map_err(|_| String::from("container does not exist"))?;
        let v = json::parse(&text).map_err(|e| format!("{id}: state.json: {e}"))?;
        Record::from_value(&v).ok_or_else(|| format!("{id}: state.json is incomplete"))
    }

    /// Whether the supervisor this record names is still alive (not a zombie,
    /// and not another process that reuses its pid).
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((state, ticks)) if state != 'Z' && state != 'X' && ticks == self.start_ticks)
    }

    pub fn status(&self, dir: &Path) -> Status {
        if !self.alive() {
            Status::Stopped
        } else if fifo_path(dir).exists() {
            Status::Created
        } else if paused_path(dir).exists() {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The state as `umbra state` prints it (runtime-spec's state, with
    /// runc's `rootfs`, `created` and `owner`), compact: `state` indents it.
    pub fn state_text(&self, status: Status) -> String {
        use std::fmt::Write as _;
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        let mut s = String::from(r#"{"ociVersion":"1.0.2","id":"#);
        json::write_str(&mut s, &self.id);
        let _ = write!(s, r#","pid":{pid},"status":"{}","bundle":"#, status.name());
        self.write_paths(&mut s);
        if !self.annotations.is_empty() {
            s.push_str(r#","annotations":"#);
            self.write_annotations(&mut s);
        }
        s.push_str(r#","owner":""}"#);
        s
    }
}

/// A process's state letter and start time (ticks) from /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// The state letter and field 22 (starttime) of a /proc/PID/stat line; the
/// command name in parentheses may hold spaces and ')'.
pub fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?.chars().next()?;
    let ticks = f.nth(18)?.parse().ok()?;
    Some((state, ticks))
}

/// The parent pid (field 4) of a /proc/PID/stat line.
pub fn proc_ppid(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// `secs`.`nanos` since the epoch as RFC 3339 in UTC with nanoseconds, as
/// Go's time.RFC3339Nano writes it (trailing zeros of the fraction dropped).
#[inline(never)]
pub fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Now, as [`rfc3339`].
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400, 5_000_000), "2000-02-29T00:00:00.005Z");
        assert_eq!(
            rfc3339(1_796_610_279, 123_456_789),
            "2026-12-07T02:24:39.123456789Z"
        );
    }

    #[test]
    fn ids_are_checked() {
        for ok in ["a", "abc-1_2.3+x", "0123456789abcdef"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", "a\n"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn stat_lines_parse() {
        let l = "123 (a b) c)) S 1 123 123 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 4567 1000 10";
        assert_eq!(parse_stat(l), Some(('S', 4567)));
        assert_eq!(parse_stat("1 (x) R"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn long_socket_paths_are_reached_through_their_directory() {
        let short = Path::new("/run/umbra/c/exec.sock");
        assert_eq!(sock_addr(short).unwrap().path, short);
        let dir = std::env::temp_dir()
            .join(format!("umbra-sock-{}", std::process::id()))
            .join("d".repeat(120));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("exec.sock");
        let a = sock_addr(&sock).unwrap();
        assert!(a.path.starts_with("/proc/self/fd/"), "{}", a.path.display());
        let l = std::os::unix::net::UnixListener::bind(&a.path).unwrap();
        drop(a);
        let b = sock_addr(&sock).unwrap();
        let c = std::os::unix::net::UnixStream::connect(&b.path).unwrap();
        drop((c, l));
        assert!(sock.exists());
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn records_round_trip() {
        let r = Record {
            id: "c1".into(),
            pid: 42,
            start_ticks: 99,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: rfc3339(1, 0),
            annotations: vec![("k".into(), "v".into()), ("q\"".into(), "\n".into())],
        };
        let text = r.to_text();
        let v = json::parse(&text).unwrap();
        assert_eq!(Record::from_value(&v), Some(r.clone()));
        // As a Value tree writes it.
        let tree = Value::Obj(vec![
            ("id".into(), Value::str("c1")),
            ("pid".into(), Value::num(42)),
            ("startTicks".into(), Value::num(99)),
            ("bundle".into(), Value::str("/b")),
            ("rootfs".into(), Value::str("/b/rootfs")),
            ("created".into(), Value::str(&rfc3339(1, 0))),
            (
                "annotations".into(),
                Value::Obj(vec![
                    ("k".into(), Value::str("v")),
                    ("q\"".into(), Value::str("\n")),
                ]),
            ),
        ]);
        assert_eq!(text, tree.to_text());
        let bare = Record {
            annotations: Vec::new(),
            ..r.clone()
        };
        assert!(bare.to_text().ends_with(r#""annotations":{}}"#));
        let s = json::parse(&r.state_text(Status::Stopped)).unwrap();
        assert_eq!(s.get("pid").and_then(Value::as_i64), Some(0));
        assert_eq!(s.get("status").and_then(Value::as_str), Some("stopped"));
        // As the Value tree that `state` printed before.
        for rec in [&r, &bare] {
            let mut m = vec![
                ("ociVersion".into(), Value::str("1.0.2")),
                ("id".into(), Value::str(&rec.id)),
                ("pid".into(), Value::num(42)),
                ("status".into(), Value::str("running")),
                ("bundle".into(), Value::str(&rec.bundle)),
                ("rootfs".into(), Value::str(&rec.rootfs)),
                ("created".into(), Value::str(&rec.created)),
            ];
            if !rec.annotations.is_empty() {
                let a = rec.annotations.iter();
                m.push((
                    "annotations".into(),
                    Value::Obj(a.map(|(k, v)| (k.clone(), Value::str(v))).collect()),
                ));
            }
            m.push(("owner".into(), Value::str("")));
            assert_eq!(rec.state_text(Status::Running), Value::Obj(m).to_text());
        }
    }
}
