//! Crash safety (issue 6, item 4): umbra is killed with SIGKILL at random
//! moments of a guest write workload (`tests/guest/crash_writer.c`) on an
//! ext2 image, 10 rounds with a fresh image each.
//!
//! With `--rw`, after each kill: no stub survives (umbra's children, listed
//! from /proc just before the kill, are all gone within 1 s), `e2fsck -fy`
//! repairs the image (exit status 0 or 1) and a second `e2fsck -fn` finds it
//! clean, and every `synced-K` the guest reported on stdout before the kill is
//! in the image with the right content (read with `debugfs`).
//!
//! In the default overlay mode (no `--rw`): the base image is byte-identical
//! after the kill (sha256 before and after), and no stub survives.

#[path = "ext2_util.rs"]
#[allow(dead_code)]
mod ext2_util;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ext2_util::{debugfs, mke2fs, scratch};
use umbra_tests::{require_tool, umbra, workspace_root};

const ROUNDS: usize = 10;

/// xorshift64: the kill delays. The seed is printed, and `CRASH_SEED` replays it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn seed() -> u64 {
    let s = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    eprintln!("CRASH_SEED={s}");
    s
}

/// The expected content of /synced-K (as `synced_content` in crash_writer.c).
fn synced_content(k: u32) -> Vec<u8> {
    let mut v = format!("synced-{k}\n").into_bytes();
    for i in 0..1500u32 {
        v.push(b'a' + ((k * 7 + i) % 26) as u8);
    }
    v.push(b'\n');
    v
}

/// A directory tree with the statically linked writer at /crash_writer.
fn writer_tree(d: &Path) -> PathBuf {
    let tree = d.join("tree");
    std::fs::create_dir_all(tree.join("tmp")).unwrap();
    let cc = require_tool("musl-gcc", "musl-tools");
    let src = workspace_root().join("tests/guest/crash_writer.c");
    let out = Command::new(cc)
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(tree.join("crash_writer"))
        .arg(src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "musl-gcc crash_writer.c failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tree
}

/// `pid`'s state letter and parent pid, from /proc/PID/stat.
fn state_ppid(pid: u32) -> Option<(String, u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = s.rfind(')')?;
    let mut f = s[close + 1..].split_whitespace();
    let state = f.next()?.to_string();
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

fn alive(pid: u32) -> bool {
    state_ppid(pid).is_some_and(|(st, _)| st != "Z" && st != "X")
}

/// Live descendants of `root` (its stubs, and anything they started).
fn descendants(root: u32) -> Vec<u32> {
    let mut procs = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some((st, ppid)) = state_ppid(pid) {
                    if st != "Z" && st != "X" {
                        procs.push((pid, ppid));
                    }
                }
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            procs
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    out.remove(0);
    out
}

fn sha256(p: &Path) -> String {
    let tool = require_tool("sha256sum", "coreutils");
    let out = Command::new(tool).arg(p).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// What one killed run left behind.
struct Killed {
    /// The K of every "synced K" line the guest printed.
    synced: Vec<u32>,
    /// umbra's descendants just before the kill.
    stubs: Vec<u32>,
}

/// Starts `umbra run FLAGS --image IMG -- /crash_writer`, waits `delay`,
/// lists umbra's descendants, SIGKILLs umbra and checks that all of them are
/// gone within 1 s.
fn run_and_kill(img: &Path, flags: &[&str], delay: Duration, stderr: &Path) -> Killed {
    let mut child = Command::new(umbra())
        .arg("run")
        .args(flags)
        .arg("--image")
        .arg(img)
        .args(["--", "/crash_writer"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).unwrap())
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start umbra");
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(delay);
    if let Some(st) = child.try_wait().unwrap() {
        panic!(
            "umbra ended before the kill ({st}): {}",
            std::fs::read_to_string(stderr).unwrap_or_default()
        );
    }
    let stubs = descendants(pid);
    child.kill().expect("SIGKILL umbra");
    let st = child.wait().unwrap();
    assert!(!st.success(), "umbra was killed, yet exited with {st}");
    let deadline = Instant::now() + Duration::from_secs(1);
    while stubs.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<u32> = stubs.iter().copied().filter(|&p| alive(p)).collect();
    if !left.is_empty() {
        // Do not leave them behind for the next tests.
        for p in &left {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
        }
        panic!("stubs {left:?} of umbra {pid} outlived it by 1 s (all: {stubs:?})");
    }
    // Every line in the pipe was written before the kill.
    let mut synced = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let k = line
                    .strip_prefix("synced ")
                    .and_then(|k| k.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected guest output {line:?}"));
                synced.push(k);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("umbra's stdout still open 5 s after the kill")
            }
        }
    }
    Killed { synced, stubs }
}

#[test]
fn kill_9_during_rw_writes_keeps_fsynced_files() {
    let d = scratch("crash-rw");
    let tree = writer_tree(&d);
    let e2fsck = require_tool("e2fsck", "e2fsprogs");
    let mut rng = Rng(seed());
    let mut report = Vec::new();
    let mut rounds_with_sync = 0;
    for round in 0..ROUNDS {
        let img = d.join(format!("round{round}.img"));
        mke2fs(&tree, &img, 1024, "32M");
        let delay = Duration::from_millis(50 + rng.next() % 751);
        let k = run_and_kill(
            &img,
            &["--rw"],
            delay,
            &d.join(format!("round{round}.stderr")),
        );
        let fix = Command::new(&e2fsck).arg("-fy").arg(&img).output().unwrap();
        let code = fix.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1,
            "round {round} (kill after {delay:?}): e2fsck -fy exited {code}:\n{}{}",
            String::from_utf8_lossy(&fix.stdout),
            String::from_utf8_lossy(&fix.stderr)
        );
        let check = Command::new(&e2fsck).arg("-fn").arg(&img).output().unwrap();
        assert!(
            check.status.success(),
            "round {round}: not clean after e2fsck -fy:\n{}",
            String::from_utf8_lossy(&check.stdout)
        );
        for &n in &k.synced {
            let got = debugfs(&img, &format!("cat /synced-{n}"));
            assert!(
                got == synced_content(n),
                "round {round} (kill after {delay:?}): /synced-{n} was reported synced, \
                 but the image holds {} bytes: {:?}",
                got.len(),
                String::from_utf8_lossy(&got[..got.len().min(80)])
            );
        }
        rounds_with_sync += usize::from(!k.synced.is_empty());
        report.push(format!(
            "round {round}: kill after {delay:?}, {} stubs, {} synced files, e2fsck -fy {code}",
            k.stubs.len(),
            k.synced.len()
        ));
        let _ = std::fs::remove_file(&img);
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        rounds_with_sync >= 3,
        "only {rounds_with_sync} rounds got to a synced file before the kill:\n{}",
        report.join("\n")
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn kill_9_in_overlay_mode_leaves_the_image_byte_identical() {
    let d = scratch("crash-overlay");
    let tree = writer_tree(&d);
    let mut rng = Rng(seed() ^ 0x5555);
    let img = d.join("base.img");
    mke2fs(&tree, &img, 1024, "32M");
    let before = sha256(&img);
    let mut report = Vec::new();
    let mut rounds_with_sync = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(50 + rng.next() % 751);
        let k = run_and_kill(&img, &[], delay, &d.join(format!("round{round}.stderr")));
        assert_eq!(
            sha256(&img),
            before,
            "round {round} (kill after {delay:?}): the base image changed in overlay mode"
        );
        rounds_with_sync += usize::from(!k.synced.is_empty());
        report.push(format!(
            "round {round}: kill after {delay:?}, {} stubs, {} synced files",
            k.stubs.len(),
            k.synced.len()
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        rounds_with_sync >= 3,
        "only {rounds_with_sync} rounds got to a synced file before the kill:\n{}",
        report.join("\n")
    );
    let _ = std::fs::remove_dir_all(&d);
}
