// images/arm/pss.rs - the peak PSS of a command's process tree, inside the
// emulated ARM machine (images/arm/paper.sh, `cargo xtask paper --arm64`).
//
// Usage: pss OUTFILE -- PROGRAM ARGS...
// Runs PROGRAM with this process's stdin, stdout and stderr; while it runs,
// every ~1 ms sums the `Pss:` of /proc/PID/smaps_rollup over PROGRAM and all
// its descendants and keeps the largest sum, which it writes to OUTFILE (KB,
// one number). Exits with PROGRAM's status (128 + N when killed by signal N).
// The same measure as xtask/src/procs.rs on the x86_64 host: a peak over
// sampling instants (it can miss a short spike), pages shared between the
// processes (umbra's guest memory file, mapped by umbra and every stub)
// counted once. std only: built by plain rustc like probe.rs.
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

/// Every process's parent: pid -> ppid.
fn parents() -> HashMap<u32, u32> {
    let mut m = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return m;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The fields after the command name, which is in parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            m.insert(pid, ppid);
        }
    }
    m
}

/// The sum of Pss (KB) over `root` and its descendants.
fn tree_pss(root: u32) -> u64 {
    let par = parents();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(par.iter().filter(|(_, &pp)| pp == p).map(|(&c, _)| c));
        i += 1;
    }
    tree.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 || args[2] != "--" {
        eprintln!("usage: pss OUTFILE -- PROGRAM ARGS...");
        std::process::exit(2);
    }
    let mut child = match Command::new(&args[3]).args(&args[4..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pss: cannot run {}: {e}", args[3]);
            std::process::exit(127);
        }
    };
    let mut peak = 0;
    let status = loop {
        peak = peak.max(tree_pss(child.id()));
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => {
                eprintln!("pss: wait: {e}");
                std::process::exit(125);
            }
        }
    };
    if let Err(e) = std::fs::write(&args[1], format!("{peak}\n")) {
        eprintln!("pss: {}: {e}", args[1]);
    }
    std::process::exit(match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 125,
    });
}
