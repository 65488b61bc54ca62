//! `umbra update` and `umbra events`, runc's commands for a container's
//! resources, created (the supervisor answers while it waits for `start`)
//! or running.
//!
//! umbra's container has no cgroups: the guest's kernel counts and limits
//! its own tasks (pids.max's equivalent, which `update --pids-limit`
//! changes live) and its memory is a fixed-size memory file made at create
//! (so `update --memory` cannot change it, and says so). `events` reports
//! what umbra really has: the guest's tasks and their limit and the guest
//! memory in use, its high-water mark, the allocations it could not serve
//! (failcnt) and its size, counted by the guest's kernel, and the host
//! CPU time of the container's host processes (the supervisor, its stubs,
//! and the stubs it reaped). Left out rather than made up: per-CPU times
//! (the host keeps no per-CPU time of a process), swap (the guest has
//! none) and the kernel-memory counters.

use super::json::Value;
use super::state::{self, Record, Status};
use super::Global;

/// A LinuxResources object, as far as umbra applies it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    /// memory.limit, bytes (-1: unlimited).
    pub memory_limit: Option<i64>,
    /// pids.limit (0: unchanged, negative: unlimited).
    pub pids_limit: Option<i64>,
    /// What else is set (non-zero, non-empty), by its JSON path under
    /// resources (`cpu.shares`, `devices`).
    pub ignored: Vec<String>,
}

/// Whether a member is set: runc's zero values mean "unchanged".
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Num(n) => !n
            .trim_start_matches('-')
            .trim_matches(['0', '.'])
            .is_empty(),
        Value::Str(s) => !s.is_empty(),
        Value::Arr(a) => !a.is_empty(),
        Value::Obj(o) => o.iter().any(|(_, v)| is_set(v)),
    }
}

/// Reads linux.resources (or `update --resources`' JSON).
pub fn parse_resources(v: Option<&Value>) -> Resources {
    let mut r = Resources::default();
    let Some(obj) = v.and_then(Value::as_object) else {
        return r;
    };
    for (k, val) in obj {
        match (k.as_str(), val) {
            ("memory" | "pids", Value::Obj(members)) => {
                for (m, mv) in members {
                    match (k.as_str(), m.as_str()) {
                        ("memory", "limit") if is_set(mv) => r.memory_limit = mv.as_i64(),
                        ("pids", "limit") if is_set(mv) => r.pids_limit = mv.as_i64(),
                        _ if is_set(mv) => r.ignored.push(format!("{k}.{m}")),
                        _ => {}
                    }
                }
            }
            (_, Value::Obj(members)) => {
                for (m, _) in members.iter().filter(|(_, mv)| is_set(mv)) {
                    r.ignored.push(format!("{k}.{m}"));
                }
            }
            _ if is_set(val) => r.ignored.push(k.clone()),
            _ => {}
        }
    }
    r
}

/// A size as runc's flags take it (docker's RAMInBytes): a number with an
/// optional k, m, g, t or p (powers of 1024) and an optional b; -1 for
/// unlimited.
pub fn parse_bytes(s: &str) -> Option<i64> {
    if s == "-1" {
        return Some(-1);
    }
    let low = s.trim().to_ascii_lowercase();
    let low = low
        .strip_suffix("ib")
        .or_else(|| low.strip_suffix('b'))
        .unwrap_or(&low);
    let (num, shift) = match low.chars().last()? {
        'k' => (&low[..low.len() - 1], 10),
        'm' => (&low[..low.len() - 1], 20),
        'g' => (&low[..low.len() - 1], 30),
        't' => (&low[..low.len() - 1], 40),
        'p' => (&low[..low.len() - 1], 50),
        _ => (low, 0),
    };
    i64::try_from(decimal_times(num.trim(), 1 << shift)?).ok()
}

/// A decimal number without sign or exponent (`12`, `1.5`, `.5`) times
/// `unit`, truncated to an integer: None when it is not one, or when the
/// product overflows. Integer arithmetic, not `f64`'s parser, which brought
/// 14 KB of tables and code into the ROM build for two flags.
fn decimal_times(num: &str, unit: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    let whole = int.bytes().try_fold(0u128, |n, b| {
        n.checked_mul(10)?.checked_add(u128::from(b - b'0'))
    })?;
    // Digits past the 18th cannot change the result for any unit used here
    // (at most 2^50 or 3.6e12).
    let frac = &frac[..frac.len().min(18)];
    let (f, scale) = frac.bytes().fold((0u128, 1u128), |(n, s), b| {
        (n * 10 + u128::from(b - b'0'), s * 10)
    });
    whole.checked_mul(unit)?.checked_add(f * unit / scale)
}

/// `update`'s flags: (flag, the resources member it sets).
pub const UPDATE_FLAGS: &[(&str, &str)] = &[
    ("--memory", "memory.limit"),
    ("--memory-reservation", "memory.reservation"),
    ("--memory-swap", "memory.swap"),
    ("--kernel-memory", "memory.kernel"),
    ("--kernel-memory-tcp", "memory.kernelTCP"),
    ("--cpu-share", "cpu.shares"),
    ("--cpu-period", "cpu.period"),
    ("--cpu-quota", "cpu.quota"),
    ("--cpu-rt-period", "cpu.realtimePeriod"),
    ("--cpu-rt-runtime", "cpu.realtimeRuntime"),
    ("--cpuset-cpus", "cpu.cpus"),
    ("--cpuset-mems", "cpu.mems"),
    ("--pids-limit", "pids.limit"),
    ("--blkio-weight", "blockIO.weight"),
    ("--l3-cache-schema", "l3CacheSchema"),
    ("--mem-bw-schema", "memBwSchema"),
];

/// The resources `update`'s flags give (runc: a zero value leaves a
/// member unchanged).
#[inline(never)]
pub fn resources_from_flags(flags: &[(String, String)]) -> Result<Resources, String> {
    let mut r = Resources::default();
    for (flag, v) in flags {
        let Some((_, member)) = UPDATE_FLAGS.iter().find(|(f, _)| f == flag) else {
            continue;
        };
        let bad = || format!("invalid value \"{v}\" for flag {flag}");
        match *member {
            "memory.limit" => {
                let n = parse_bytes(v).ok_or_else(bad)?;
                if n != 0 {
                    r.memory_limit = Some(n);
                }
            }
            "pids.limit" => {
                let n: i64 = v.parse().map_err(|_| bad())?;
                if n != 0 {
                    r.pids_limit = Some(n);
                }
            }
            m if m.starts_with("memory.") => {
                if parse_bytes(v).ok_or_else(bad)? != 0 {
                    r.ignored.push(m.to_string());
                }
            }
            m @ ("cpu.cpus" | "cpu.mems" | "l3CacheSchema" | "memBwSchema") => {
                if !v.is_empty() {
                    r.ignored.push(m.to_string());
                }
            }
            m => {
                if v.parse::<i64>().map_err(|_| bad())? != 0 {
                    r.ignored.push(m.to_string());
                }
            }
        }
    }
    Ok(r)
}

/// A live (created, running or paused) container's record, or runc's
/// error. A created container's supervisor answers `update` and `events`
/// while it waits for `start`.
fn running(g: &Global, id: &str) -> Result<(Record, std::path::PathBuf), String> {
    let dir = state::container_dir(&g.root, id);
    let rec = Record::load(&dir, id)?;
    match rec.status(&dir) {
        Status::Running | Status::Paused | Status::Created => Ok((rec, dir)),
        _ => Err(format!("container with id {id} is not running")),
    }
}

/// `update ID`: applies the pids limit (the guest's kernel enforces it at
/// fork and clone from now on, as pids.max); reports on stderr (and in the
/// log) each member it does not apply.
#[inline(never)]
pub fn update(g: &Global, id: &str, r: &Resources) -> Result<(), String> {
    let (rec, dir) = running(g, id)?;
    let say = |what: &str| {
        let msg = format!("update: {what}");
        g.warn(&msg);
        if g.logs_to_file() {
            eprintln!("{msg}");
        }
    };
    if let Some(m) = r.memory_limit {
        say(&format!(
            "memory.limit {m} ignored: umbra's guest memory is a memory file whose size is fixed when the container is created"
        ));
    }
    for what in &r.ignored {
        say(&format!("{what} ignored: umbra has no equivalent"));
    }
    if let Some(p) = r.pids_limit {
        let limit = if p < 0 {
            None
        } else {
            Some(u32::try_from(p).unwrap_or(u32::MAX))
        };
        let msg = umbra_shim::host::exec::encode_pids_limit(limit);
        let answer = super::container::request(&rec, &dir, &msg)?;
        if answer.trim() != "ok" {
            return Err(format!(
                "the container's supervisor refused the request: '{}'",
                answer.trim()
            ));
        }
    }
    Ok(())
}

/// Linux's USER_HZ, the unit of /proc/PID/stat's times (100 on x86,
/// arm and arm64).
const USER_HZ: u64 = 100;

/// Host process `pid`'s CPU time, ns, as cgroup v1's cpuacct counts it:
/// (total, user, system). The total is the scheduler's (/proc/PID/schedstat,
/// to the ns), user and system are /proc/PID/stat's (clock ticks). With
/// `children`, its reaped children's time (ticks only) is added.
#[inline(never)]
fn cpu_of(pid: i32, children: bool) -> Option<(u64, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    // Fields after the command: state is 3, utime 14, stime 15, cutime
    // 16, cstime 17 (proc(5)).
    let f: Vec<u64> = rest
        .split_ascii_whitespace()
        .skip(11)
        .take(4)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let [u, s, cu, cs] = <[u64; 4]>::try_from(f).ok()?;
    let tick = 1_000_000_000 / USER_HZ;
    let (user, system) = if children {
        ((u + cu) * tick, (s + cs) * tick)
    } else {
        (u * tick, s * tick)
    };
    let ran = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|t| t.split_ascii_whitespace().next()?.parse::<u64>().ok());
    let own = ran.unwrap_or((u + s) * tick);
    let reaped = if children { (cu + cs) * tick } else { 0 };
    Some((own + reaped, user, system))
}

/// One stats event, in runc's shape with the members umbra has.
#[inline(never)]
fn stats_event(g: &Global, id: &str) -> Result<String, String> {
    let (rec, dir) = running(g, id)?;
    let answer = super::container::request(&rec, &dir, umbra_shim::host::exec::STATS_REQUEST)?;
    let s = umbra_shim::host::exec::parse_stats_line(&answer)
        .ok_or_else(|| format!("the container's supervisor answered '{}'", answer.trim()))?;
    let (mut total, mut user, mut system) = (0, 0, 0);
    for pid in super::container::pids(g, id)? {
        if let Some((t, u, k)) = cpu_of(pid, pid == rec.pid) {
            total += t;
            user += u;
            system += k;
        }
    }
    Ok(stats_text(id, &s, (total, user, system)))
}

/// The stats event's JSON text (compact, as runc's `events` prints it):
/// written directly, not built as a [`Value`] member by member.
fn stats_text(id: &str, s: &umbra_core::host::GuestStats, cpu: (u64, u64, u64)) -> String {
    use std::fmt::Write as _;
    let (total, user, system) = cpu;
    let mut out = String::from(r#"{"type":"stats","id":"#);
    super::json::write_str(&mut out, id);
    let _ = write!(
        out,
        r#","data":{{"cpu":{{"usage":{{"total":{total},"kernel":{system},"user":{user}}}}},"memory":{{"usage":{{"limit":{},"usage":{},"max":{},"failcnt":{}}}}},"pids":{{"current":{}"#,
        s.mem_total, s.mem_used, s.mem_max, s.mem_failcnt, s.tasks
    );
    if let Some(l) = s.tasks_limit {
        let _ = write!(out, r#","limit":{l}"#);
    }
    out.push_str("}}}");
    out
}

/// A duration as Go's time.ParseDuration takes the common cases: `5s`,
/// `500ms`, `1m`, `1.5s`, `2h`.
pub fn parse_interval(s: &str) -> Option<std::time::Duration> {
    // Nanoseconds per unit.
    let units: &[(&str, u128)] = &[
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let (num, unit) = units
        .iter()
        .filter_map(|(u, f)| s.strip_suffix(u).map(|n| (n, *f)))
        .find(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))?;
    let ns = u64::try_from(decimal_times(num, unit)?).ok()?;
    (ns > 0).then(|| std::time::Duration::from_nanos(ns))
}

/// `events [--stats] [--interval D] ID`: with `--stats` one stats event;
/// else one every `interval` until the container stops.
#[inline(never)]
pub fn events(
    g: &Global,
    id: &str,
    once: bool,
    interval: std::time::Duration,
) -> Result<(), String> {
    use std::io::Write;
    loop {
        let line = stats_event(g, id)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").map_err(|e| format!("stdout: {e}"))?;
        let _ = out.flush();
        if once {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_tell_applied_from_ignored() {
        let v = super::super::json::parse(
            r#"{"memory":{"limit":268435456,"swap":0,"reservation":1024},"pids":{"limit":-1},
               "cpu":{"shares":512,"cpus":""},"devices":[{"allow":false,"access":"rwm"}],
               "blockIO":{},"hugepageLimits":[]}"#,
        )
        .unwrap();
        let r = parse_resources(Some(&v));
        assert_eq!(r.memory_limit, Some(268_435_456));
        assert_eq!(r.pids_limit, Some(-1));
        assert_eq!(r.ignored, ["memory.reservation", "cpu.shares", "devices"]);
        let v = super::super::json::parse(r#"{"pids":{"limit":0}}"#).unwrap();
        assert_eq!(parse_resources(Some(&v)), Resources::default());
    }

    #[test]
    fn update_flags_as_runc_reads_them() {
        let f = |a: &[(&str, &str)]| {
            let v: Vec<(String, String)> = a
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            resources_from_flags(&v)
        };
        let r = f(&[
            ("--pids-limit", "50"),
            ("--memory", "100m"),
            ("--cpu-share", "0"),
        ])
        .unwrap();
        assert_eq!(r.pids_limit, Some(50));
        assert_eq!(r.memory_limit, Some(100 << 20));
        assert!(r.ignored.is_empty());
        let r = f(&[
            ("--pids-limit", "0"),
            ("--cpuset-cpus", "0-1"),
            ("--memory-swap", "-1"),
        ])
        .unwrap();
        assert_eq!(r.pids_limit, None);
        assert_eq!(r.ignored, ["cpu.cpus", "memory.swap"]);
        assert!(f(&[("--pids-limit", "abc")]).is_err());
        assert!(f(&[("--memory", "lots")]).is_err());
    }

    #[test]
    fn stats_events_are_runcs_json() {
        let mut s = umbra_core::host::GuestStats {
            tasks: 3,
            tasks_limit: Some(50),
            mem_used: 4096,
            mem_total: 1 << 30,
            mem_max: 8192,
            mem_failcnt: 1,
        };
        for limit in [Some(50), None] {
            s.tasks_limit = limit;
            let num = |n: u64| Value::Num(n.to_string());
            let mut pids = vec![("current".to_string(), num(3))];
            if let Some(l) = limit {
                pids.push(("limit".into(), num(l)));
            }
            let usage = |m: Vec<(&str, u64)>| {
                Value::Obj(vec![(
                    "usage".into(),
                    Value::Obj(m.into_iter().map(|(k, v)| (k.into(), num(v))).collect()),
                )])
            };
            let want = Value::Obj(vec![
                ("type".into(), Value::str("stats")),
                ("id".into(), Value::str("c\"1")),
                (
                    "data".into(),
                    Value::Obj(vec![
                        (
                            "cpu".into(),
                            usage(vec![("total", 30), ("kernel", 10), ("user", 20)]),
                        ),
                        (
                            "memory".into(),
                            usage(vec![
                                ("limit", 1 << 30),
                                ("usage", 4096),
                                ("max", 8192),
                                ("failcnt", 1),
                            ]),
                        ),
                        ("pids".into(), Value::Obj(pids)),
                    ]),
                ),
            ]);
            assert_eq!(stats_text("c\"1", &s, (30, 20, 10)), want.to_text());
        }
    }

    #[test]
    fn sizes_and_intervals_parse() {
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("1k"), Some(1024));
        assert_eq!(parse_bytes("2MiB"), Some(2 << 20));
        assert_eq!(parse_bytes("1.5g"), Some(3 << 29));
        assert_eq!(parse_bytes("-1"), Some(-1));
        assert_eq!(parse_bytes("-5"), None);
        assert_eq!(parse_bytes("x"), None);
        assert_eq!(parse_bytes(".5k"), Some(512));
        assert_eq!(parse_bytes("0.1k"), Some(102));
        assert_eq!(parse_bytes("1.5.3k"), None);
        assert_eq!(parse_bytes("."), None);
        assert_eq!(parse_bytes("1e3"), None);
        assert_eq!(parse_bytes("8388608t"), None);
        assert_eq!(parse_bytes("8388607t"), Some(8388607 << 40));
        assert_eq!(
            parse_bytes("99999999999999999999999999999999999999999"),
            None
        );
        let d = std::time::Duration::from_millis;
        assert_eq!(parse_interval("5s"), Some(d(5000)));
        assert_eq!(parse_interval("500ms"), Some(d(500)));
        assert_eq!(parse_interval("1m"), Some(d(60_000)));
        assert_eq!(parse_interval("0s"), None);
        assert_eq!(parse_interval("s"), None);
        assert_eq!(parse_interval("5"), None);
        assert_eq!(parse_interval("1.5s"), Some(d(1500)));
        assert_eq!(
            parse_interval("250us"),
            Some(std::time::Duration::from_micros(250))
        );
        assert_eq!(parse_interval("2h"), Some(d(7_200_000)));
    }
}
