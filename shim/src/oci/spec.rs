//! The parts of an OCI bundle's config.json (runtime-spec 1.x) that umbra
//! reads, and the default config `umbra spec` writes.

use super::json::{self, Value};

/// One `mounts` entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mount {
    pub destination: String,
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

impl Mount {
    /// A bind mount (type "bind", or an option "bind"/"rbind").
    pub fn is_bind(&self) -> bool {
        self.kind == "bind" || self.options.iter().any(|o| o == "bind" || o == "rbind")
    }

    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

/// One `process.rlimits` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Rlimit {
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

/// The process to run (config.json's `process`, or `exec --process`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Process {
    pub terminal: bool,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    /// Members umbra does not apply (capabilities, apparmorProfile, ...).
    pub ignored: Vec<String>,
}

/// The container's configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    pub oci_version: String,
    pub process: Process,
    pub root_path: String,
    pub root_readonly: bool,
    pub hostname: Option<String>,
    pub mounts: Vec<Mount>,
    /// linux.namespaces: (type, path).
    pub namespaces: Vec<(String, Option<String>)>,
    pub annotations: Vec<(String, String)>,
    /// linux.resources.memory.limit, bytes (the guest's memory size).
    pub memory_limit: Option<u64>,
    /// linux.resources.pids.limit: the most tasks the guest's kernel lets
    /// fork and clone make, as pids.max.
    pub pids_limit: Option<u64>,
    /// Top-level and `linux` members umbra does not apply, for the log.
    pub ignored: Vec<String>,
}

fn strings(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => v
            .as_strings()
            .ok_or_else(|| format!("{what} is not an array of strings")),
    }
}

fn u32_of(v: Option<&Value>, what: &str) -> Result<u32, String> {
    match v {
        None => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("{what} is not a 32-bit id")),
    }
}

/// Parses a `process` object (config.json's, or an exec's process.json).
pub fn parse_process(p: &Value) -> Result<Process, String> {
    let Some(members) = p.as_object() else {
        return Err("process is not an object".into());
    };
    let mut out = Process {
        terminal: p.get("terminal").and_then(Value::as_bool).unwrap_or(false),
        args: strings(p.get("args"), "process.args")?,
        env: strings(p.get("env"), "process.env")?,
        cwd: p
            .get("cwd")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .to_string(),
        no_new_privileges: p
            .get("noNewPrivileges")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..Process::default()
    };
    if let Some(u) = p.get("user") {
        out.uid = u32_of(u.get("uid"), "process.user.uid")?;
        out.gid = u32_of(u.get("gid"), "process.user.gid")?;
        if let Some(g) = u.get("additionalGids").and_then(Value::as_array) {
            for v in g {
                out.additional_gids
                    .push(u32_of(Some(v), "process.user.additionalGids")?);
            }
        }
        if u.get("username").is_some() {
            out.ignored.push("process.user.username".into());
        }
    }
    if let Some(r) = p.get("rlimits").and_then(Value::as_array) {
        for l in r {
            let kind = l
                .get("type")
                .and_then(Value::as_str)
                .ok_or("process.rlimits: an entry has no type")?;
            let num = |k: &str| {
                l.get(k)
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("process.rlimits {kind}: bad {k}"))
            };
            out.rlimits.push(Rlimit {
                kind: kind.to_string(),
                hard: num("hard")?,
                soft: num("soft")?,
            });
        }
    }
    if out.args.is_empty() {
        return Err("process.args is empty".into());
    }
    if !out.cwd.starts_with('/') {
        return Err(format!("process.cwd '{}' is not absolute", out.cwd));
    }
    for (k, _) in members {
        if !matches!(
            k.as_str(),
            "terminal"
                | "user"
                | "args"
                | "env"
                | "cwd"
                | "rlimits"
                | "noNewPrivileges"
                | "consoleSize"
        ) {
            out.ignored.push(format!("process.{k}"));
        }
    }
    Ok(out)
}

/// Parses config.json's text.
#[inline(never)]
pub fn parse(text: &str) -> Result<Spec, String> {
    let v = json::parse(text).map_err(|e| format!("config.json: {e}"))?;
    if v.as_object().is_none() {
        return Err("config.json: not an object".into());
    }
    let mut s = Spec {
        oci_version: v
            .get("ociVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        ..Spec::default()
    };
    if !s.oci_version.starts_with("1.") {
        return Err(format!(
            "config.json: ociVersion '{}' is not 1.x",
            s.oci_version
        ));
    }
    s.process = parse_process(v.get("process").ok_or("config.json: no process")?)
        .map_err(|e| format!("config.json: {e}"))?;
    let root = v.get("root").ok_or("config.json: no root")?;
    s.root_path = root
        .get("path")
        .and_then(Value::as_str)
        .ok_or("config.json: root.path is missing")?
        .to_string();
    s.root_readonly = root
        .get("readonly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.hostname = v.get("hostname").and_then(Value::as_str).map(String::from);
    if let Some(ms) = v.get("mounts").and_then(Value::as_array) {
        for m in ms {
            let dest = m
                .get("destination")
                .and_then(Value::as_str)
                .ok_or("config.json: a mount has no destination")?;
            s.mounts.push(Mount {
                destination: dest.to_string(),
                kind: m
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                source: m
                    .get("source")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                options: strings(m.get("options"), "mount options")?,
            });
        }
    }
    if let Some(a) = v.get("annotations").and_then(Value::as_object) {
        for (k, val) in a {
            s.annotations
                .push((k.clone(), val.as_str().unwrap_or("").to_string()));
        }
    }
    if let Some(linux) = v.get("linux") {
        if let Some(ns) = linux.get("namespaces").and_then(Value::as_array) {
            for n in ns {
                let t = n.get("type").and_then(Value::as_str).unwrap_or("");
                let p = n.get("path").and_then(Value::as_str).map(String::from);
                s.namespaces.push((t.to_string(), p));
            }
        }
        let r = super::update::parse_resources(linux.get("resources"));
        s.memory_limit = r.memory_limit.and_then(|l| u64::try_from(l).ok());
        s.pids_limit = r.pids_limit.and_then(|l| u64::try_from(l).ok());
        s.ignored.extend(
            r.ignored
                .iter()
                .map(|what| format!("linux.resources.{what}")),
        );
        for (k, val) in linux.as_object().unwrap_or(&[]) {
            let empty = match val {
                Value::Null => true,
                Value::Arr(a) => a.is_empty(),
                Value::Obj(o) => o.is_empty(),
                Value::Str(t) => t.is_empty(),
                _ => false,
            };
            if k != "namespaces" && k != "resources" && !empty {
                s.ignored.push(format!("linux.{k}"));
            }
        }
    }
    for (k, _) in v.as_object().unwrap_or(&[]) {
        if !matches!(
            k.as_str(),
            "ociVersion" | "process" | "root" | "hostname" | "mounts" | "annotations" | "linux"
        ) {
            s.ignored.push(k.clone());
        }
    }
    Ok(s)
}

/// The config.json `umbra spec` writes: runc's default, with the parts
/// umbra does not use left out. Compact here (`umbra spec` indents it):
/// text, not a [`Value`] built member by member, whose code took 2.7 KB.
pub const DEFAULT_CONFIG: &str = concat!(
    r#"{"ociVersion":"1.0.2","process":{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh"],"#,
    r#""env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"#,
    r#""cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},"#,
    r#""root":{"path":"rootfs","readonly":true},"hostname":"umbra","mounts":[{"destination":"/proc","#,
    r#""type":"proc","source":"proc","options":[]},{"destination":"/dev","type":"tmpfs","#,
    r#""source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},{"destination":"/dev/pts","#,
    r#""type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","#,
    r#""mode=0620"]},{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","#,
    r#""noexec","nodev","mode=1777","size=65536k"]},{"destination":"/sys","type":"sysfs","#,
    r#""source":"sysfs","options":["nosuid","noexec","nodev","ro"]}],"linux":{"namespaces":[{"type":"pid"},"#,
    r#"{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}}"#,
);

#[cfg(test)]
mod tests {
    use super::{parse, DEFAULT_CONFIG};

    #[test]
    fn default_config_parses() {
        let s = parse(DEFAULT_CONFIG).unwrap();
        assert_eq!(s.process.args, ["sh"]);
        assert!(s.process.terminal);
        assert_eq!(s.root_path, "rootfs");
        assert!(s.root_readonly);
        assert_eq!(s.mounts.len(), 5);
        assert_eq!(s.process.rlimits[0].hard, 1024);
        assert!(s.ignored.is_empty(), "{:?}", s.ignored);
    }

    #[test]
    fn bad_configs_are_refused() {
        for bad in [
            "{}",
            r#"{"ociVersion":"2.0"}"#,
            r#"{"ociVersion":"1.0.0","process":{"args":[]},"root":{"path":"r"}}"#,
            r#"{"ociVersion":"1.0.0","process":{"args":["x"],"cwd":"rel"},"root":{"path":"r"}}"#,
            r#"{"ociVersion":"1.0.0","process":{"args":["x"]}}"#,
            r#"{"ociVersion":"1.0.0","process":{"args":[1]},"root":{"path":"r"}}"#,
            r#"{"ociVersion":"1.0.0","process":{"args":["x"],"user":{"uid":-1}},"root":{"path":"r"}}"#,
            r#"{"ociVersion":"1.0.0","process":{"args":["x"],"rlimits":[{"type":"RLIMIT_NOFILE"}]},"root":{"path":"r"}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn podman_style_config_is_read() {
        let text = r#"{"ociVersion":"1.0.2-dev","process":{"user":{"uid":1000,"gid":100,"additionalGids":[10]},
          "args":["bash","-c","echo hi"],"env":["PATH=/bin","TERM=xterm"],"cwd":"/","capabilities":{"bounding":["CAP_CHOWN"]},
          "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024},{"type":"RLIMIT_NPROC","hard":1024,"soft":1024}],
          "oomScoreAdj":0},"root":{"path":"/var/lib/x/merged"},"hostname":"abc",
          "mounts":[{"destination":"/data","type":"bind","source":"/srv","options":["rbind","ro"]}],
          "annotations":{"io.podman":"x"},
          "linux":{"namespaces":[{"type":"network","path":"/run/netns/cni-1"},{"type":"pid"}],
          "resources":{"pids":{"limit":2048}},"cgroupsPath":"machine.slice:libpod:x","maskedPaths":["/proc/kcore"],"seccomp":null}}"#;
        let s = parse(text).unwrap();
        assert_eq!((s.process.uid, s.process.gid), (1000, 100));
        assert_eq!(s.process.additional_gids, [10]);
        assert_eq!(s.process.rlimits.len(), 2);
        assert_eq!(s.hostname.as_deref(), Some("abc"));
        assert!(s.mounts[0].is_bind() && s.mounts[0].read_only());
        assert_eq!(
            s.namespaces[0],
            ("network".into(), Some("/run/netns/cni-1".into()))
        );
        assert_eq!(
            s.process.ignored,
            ["process.capabilities", "process.oomScoreAdj"]
        );
        assert_eq!(s.ignored, ["linux.cgroupsPath", "linux.maskedPaths"]);
        assert_eq!(s.pids_limit, Some(2048));
    }
}
