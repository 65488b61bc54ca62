//! Running a measured command: wall time, exit status, output, a timeout that
//! kills the whole process tree, and the host's peak RSS of that tree.
//!
//! Peak RSS of a sandbox is the sum of the peaks of all its host processes
//! (umbra and its stubs; runsc and its sandbox, gofer and stubs; UML's kernel
//! and its helpers). No single kernel counter gives that sum: `ru_maxrss`
//! from wait4(2) is the peak of the one child and of the *largest* of its
//! reaped descendants, never their sum, and it also counts the RSS the child
//! had before its execve (a fork of a large parent shows the parent's size).
//! So while the command runs, a sampler walks the process tree under it every
//! ~0.3 ms and keeps, per pid, the largest `VmHWM` (the kernel's own
//! high-water mark of that process's RSS, reset by execve) it has seen. The
//! sandbox's peak is the sum of those per-process peaks (an upper bound: the
//! peaks need not coincide). A process that lives less than a sampling period
//! can be missed; the bench therefore runs the command under the small static
//! wrapper tests/bench/maxrss, whose exact RUSAGE_CHILDREN `ru_maxrss` (the
//! largest single process) is the floor of the result.
//!
//! The same samples also sum the tree's PSS (proportional set size, from
//! /proc/<pid>/smaps_rollup) and keep the largest sum: memory shared between
//! the sandbox's processes, such as a guest memory file mapped by the kernel
//! process and by every stub, counts once there instead of once per mapper.
//! It is a peak over sampling instants, so it can miss a short spike.
//!
//! std cannot signal an arbitrary process, so process groups and
//! descendants are killed with kill(1); unsafe code stays in shim/src/sys.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// SIGKILLs `target` (a pid, or `-pgid` for a process group) with kill(1).
fn sigkill(target: i32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &target.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::TimedOut => write!(f, "timed out"),
        }
    }
}

/// The peak of one host process of the tree.
#[derive(Debug, Clone)]
pub struct ProcPeak {
    pub pid: i32,
    pub ppid: i32,
    pub comm: String,
    pub hwm_kb: u64,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    /// The child's pid (reaped by now).
    pub pid: i32,
    pub exit: Exit,
    pub wall: Duration,
    pub stdout: String,
    pub stderr: String,
    /// Per-process peaks, when sampling was asked for.
    pub peaks: Vec<ProcPeak>,
    /// The largest total PSS of the tree seen in one sample, KB: memory
    /// shared between its processes (a memory file) counted once.
    pub peak_pss_kb: u64,
}

impl Outcome {
    /// The last non-empty line of stderr, else of stdout: a short reason.
    pub fn reason(&self) -> String {
        let last = |s: &str| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
        };
        let why = last(&self.stderr).or_else(|| last(&self.stdout));
        match why {
            Some(w) => format!("{}: {}", self.exit, w),
            None => self.exit.to_string(),
        }
    }
}

/// Runs `cmd` (stdin from /dev/null, stdout and stderr captured) in its own
/// process group. After `timeout` the whole tree is killed. With `sample`,
/// the per-process peaks of the tree are collected.
pub fn run(cmd: &mut Command, timeout: Duration, sample: bool) -> Result<Outcome, String> {
    run_sampled(cmd, timeout, sample, false)
}

/// [`run`], where with `wrapped` the child itself (a measuring wrapper such
/// as tests/bench/maxrss) is left out of the PSS total.
pub fn run_sampled(
    cmd: &mut Command,
    timeout: Duration,
    sample: bool,
    wrapped: bool,
) -> Result<Outcome, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", crate::show(cmd)))?;
    let pid = child.id() as i32;
    let skip_pss = if wrapped { pid } else { 0 };
    let out_rx = reader(child.stdout.take());
    let err_rx = reader(child.stderr.take());
    let status;
    let mut peaks: BTreeMap<i32, ProcPeak> = BTreeMap::new();
    let mut timed_out = false;
    let mut peak_pss_kb = 0;
    if sample {
        loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    status = st;
                    break;
                }
                Ok(None) => {}
                Err(e) => return Err(format!("wait: {e}")),
            }
            peak_pss_kb = peak_pss_kb.max(sample_tree(pid, skip_pss, &mut peaks));
            if start.elapsed() > timeout {
                timed_out = true;
                kill_tree(pid);
            }
            std::thread::sleep(Duration::from_micros(300));
        }
    } else {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if done_rx.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                kill_tree(pid);
                true
            } else {
                false
            }
        });
        let r = child.wait();
        let _ = done_tx.send(());
        timed_out = watchdog.join().unwrap_or(false);
        status = r.map_err(|e| format!("wait: {e}"))?;
    }
    let wall = start.elapsed();
    drop(child);
    // Leftovers in the child's process group could keep the pipes open:
    // they are killed (the group outlives its reaped leader only while it
    // has members, so the number cannot name another group yet), and the
    // output of anything else is waited for only briefly.
    sigkill(-pid);
    let grace = Duration::from_secs(5);
    let stdout = out_rx.recv_timeout(grace).unwrap_or_default();
    let stderr = err_rx.recv_timeout(grace).unwrap_or_default();
    let exit = if timed_out {
        Exit::TimedOut
    } else if let Some(c) = status.code() {
        Exit::Code(c)
    } else {
        Exit::Signal(std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0))
    };
    Ok(Outcome {
        pid,
        exit,
        wall,
        stdout,
        stderr,
        peaks: peaks.into_values().collect(),
        peak_pss_kb,
    })
}

fn reader(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// (pid, ppid, comm) of every process, from /proc/*/stat.
fn all_procs() -> Vec<(i32, i32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and parens.
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let comm = stat.get(open + 1..close)?.to_string();
            let ppid = stat.get(close + 2..)?.split(' ').nth(1)?.parse().ok()?;
            Some((pid, ppid, comm))
        })
        .collect()
}

/// `root` and all its descendants, with their parents and names.
pub fn tree(root: i32) -> Vec<(i32, i32, String)> {
    let procs = all_procs();
    let mut found: Vec<(i32, i32, String)> =
        procs.iter().filter(|p| p.0 == root).cloned().collect();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for p in procs.iter().filter(|p| p.1 == parent && p.0 != root) {
            if !found.iter().any(|f| f.0 == p.0) {
                found.push(p.clone());
                frontier.push(p.0);
            }
        }
    }
    found
}

/// One sample: updates the per-process peaks and returns the tree's current
/// total PSS in KB (from smaps_rollup), leaving `skip` (a wrapper) out.
fn sample_tree(root: i32, skip: i32, peaks: &mut BTreeMap<i32, ProcPeak>) -> u64 {
    let mut pss = 0;
    for (pid, ppid, comm) in tree(root) {
        if pid != skip {
            pss += std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Pss:"))
                        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                })
                .unwrap_or(0);
        }
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
        let Some(hwm) = hwm else { continue };
        let e = peaks.entry(pid).or_insert(ProcPeak {
            pid,
            ppid,
            comm,
            hwm_kb: 0,
        });
        e.hwm_kb = e.hwm_kb.max(hwm);
    }
    pss
}

/// SIGKILLs the process group `pid` leads and every descendant of `pid`
/// (sandboxes move some helpers into groups or sessions of their own).
pub fn kill_tree(pid: i32) {
    let members = tree(pid);
    sigkill(-pid);
    for (p, _, _) in members {
        if p != pid {
            sigkill(p);
        }
    }
}
