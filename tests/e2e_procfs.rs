//! End-to-end tests of /proc, the tmpfs mounts (/tmp, /run, /dev/shm) and the
//! /dev links into /proc/self/fd: busybox applets that read /proc (ps, free,
//! uptime, mount, df, cat, ls, readlink) run under umbra and natively.
//!
//! Where the values cannot agree (pids, memory sizes, the host's mounts) the
//! tests compare structure: headers, field counts, line formats, the names of
//! keys. Where they can (redirections through /dev/stderr, `ls /proc/self/fd`,
//! files in /tmp), the whole outputs are compared.

use umbra_tests::{assert_same, Outcome, Run};

/// `busybox ARGS...` natively and under umbra; both must succeed.
fn both(args: &[&str]) -> (Outcome, Outcome) {
    let run = Run::busybox(args);
    let native = run.native();
    let umbra = run.umbra();
    native.assert_code(0);
    umbra.assert_code(0);
    umbra.assert_no_leftovers();
    (native, umbra)
}

/// `busybox ARGS...` under umbra; it must succeed. Returns stdout.
fn umbra_out(args: &[&str]) -> String {
    let out = Run::busybox(args).umbra();
    out.assert_code(0);
    out.assert_no_leftovers();
    out.stdout_text()
}

fn first_line(o: &Outcome) -> String {
    o.stdout_text().lines().next().unwrap_or("").to_string()
}

/// The `Key` of every `Key:<tab or spaces>value` line.
fn keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn tmp_is_a_writable_tmpfs() {
    assert_same(&Run::busybox(&[
        "sh",
        "-c",
        // The native run writes the host's /tmp: its own name, removed.
        "f=/tmp/umbra-e2e-procfs-$$; echo x > $f && cat $f && rm $f",
    ]));
    let out = umbra_out(&["sh", "-c", "ls -ld /tmp /run /dev/shm"]);
    let modes: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(modes, ["drwxrwxrwt", "drwxr-xr-x", "drwxrwxrwt"], "{out}");
}

#[test]
fn dev_stdout_and_stderr_reach_the_right_streams() {
    assert_same(&Run::busybox(&[
        "sh",
        "-c",
        "echo out >/dev/stdout; echo err >/dev/stderr; echo fd >/dev/fd/1",
    ]));
}

#[test]
fn ls_proc_self_fd_matches_native() {
    assert_same(&Run::busybox(&["ls", "/proc/self/fd"]));
}

#[test]
fn ls_proc_lists_pids_and_files() {
    let out = umbra_out(&["ls", "/proc"]);
    let names: Vec<&str> = out.lines().collect();
    for want in [
        "self",
        "thread-self",
        "meminfo",
        "cpuinfo",
        "uptime",
        "loadavg",
        "mounts",
        "filesystems",
        "version",
        "stat",
        "sys",
        "1",
    ] {
        assert!(
            names.contains(&want),
            "{want} missing from ls /proc:\n{out}"
        );
    }
}

#[test]
fn proc_self_status_has_linux_keys() {
    let (native, umbra) = both(&["cat", "/proc/self/status"]);
    let n = keys(&native.stdout_text());
    let u = keys(&umbra.stdout_text());
    for k in [
        "Name",
        "Umask",
        "State",
        "Tgid",
        "Pid",
        "PPid",
        "TracerPid",
        "Uid",
        "Gid",
        "FDSize",
        "Groups",
        "VmPeak",
        "VmSize",
        "VmRSS",
        "Threads",
        "SigQ",
        "SigPnd",
        "ShdPnd",
        "SigBlk",
        "SigIgn",
        "SigCgt",
    ] {
        assert!(n.iter().any(|x| x == k), "native lacks {k}?");
        assert!(
            u.iter().any(|x| x == k),
            "umbra lacks {k}:\n{}",
            umbra.stdout_text()
        );
    }
    // Keys umbra shows come in Linux's order.
    let order: Vec<usize> = u
        .iter()
        .filter_map(|k| n.iter().position(|x| x == k))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "order: {u:?}");
    // argv[0] is /bin/busybox: both name the process after the binary.
    assert_eq!(first_line(&umbra), first_line(&native));
}

#[test]
fn proc_self_stat_has_52_fields() {
    for o in [
        Run::busybox(&["cat", "/proc/self/stat"]).native(),
        Run::busybox(&["cat", "/proc/self/stat"]).umbra(),
    ] {
        let s = o.stdout_text();
        let close = s.rfind(')').expect("comm in parentheses");
        assert!(s.contains(" (busybox) "), "{s}");
        assert_eq!(s[close + 1..].split_whitespace().count(), 50, "{s}");
    }
}

#[test]
fn readlink_proc_self_exe_and_cwd() {
    let out = umbra_out(&[
        "sh",
        "-c",
        "readlink /proc/self/exe; readlink /proc/self/cwd; cd /proc/self && readlink cwd && cat comm",
    ]);
    // The shell is pid 1; relative paths under /proc work from a cwd there.
    assert_eq!(out, "/bin/busybox\n/data\n/proc/1\ncat\n");
}

#[test]
fn proc_meminfo_format() {
    let (native, umbra) = both(&["cat", "/proc/meminfo"]);
    let u = umbra.stdout_text();
    assert_eq!(keys(&u)[..3], ["MemTotal", "MemFree", "MemAvailable"]);
    let n = keys(&native.stdout_text());
    for line in u.lines() {
        let (k, v) = line.split_once(':').expect("key: value");
        assert!(n.iter().any(|x| x == k), "{k} is not a Linux key");
        let v = v.trim_start();
        assert!(v.ends_with(" kB"), "{line}");
        assert!(v.trim_end_matches(" kB").parse::<u64>().is_ok(), "{line}");
        // Values are right-aligned after a 16-column key, as Linux.
        assert!(line.len() >= 16 + 8 + 3, "{line}");
    }
}

#[test]
fn proc_self_maps_format() {
    let out = umbra_out(&["cat", "/proc/self/maps"]);
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() == 5 || f.len() == 6, "{line}");
        let (lo, hi) = f[0].split_once('-').expect("range");
        assert!(u64::from_str_radix(lo, 16).unwrap() < u64::from_str_radix(hi, 16).unwrap());
        assert_eq!(f[1].len(), 4, "{line}");
        assert_eq!(f[3].len(), 5, "{line}");
        if f.len() == 6 {
            assert_eq!(line.find(f[5]), Some(73), "name column: {line}");
        }
    }
    assert!(out.contains(" /bin/busybox\n"), "{out}");
    assert!(out.contains(" [stack]\n"), "{out}");
}

#[test]
fn ps_lists_processes() {
    let (native, umbra) = both(&["ps"]);
    assert_eq!(first_line(&umbra), first_line(&native));
    // The background child becomes `sleep 30` only once it has exec'd,
    // which on a busy machine can come after a first ps: ps again (up to
    // 500 times) until it lists it, then stop it.
    let script = "sleep 30 & i=0; while [ $i -lt 500 ]; do ps > /tmp/ps.out; \
                  grep -q 'sleep 30$' /tmp/ps.out && break; i=$((i+1)); done; \
                  cat /tmp/ps.out; kill $!; wait; true";
    let out = umbra_out(&["sh", "-c", script]);
    assert!(out.lines().any(|l| l.ends_with("sleep 30")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("{ps}") || l.ends_with(" ps")),
        "{out}"
    );
}

#[test]
fn free_uptime_mount_and_df() {
    let (native, umbra) = both(&["free"]);
    assert_eq!(first_line(&umbra), first_line(&native));
    let u = umbra.stdout_text();
    assert!(u.lines().nth(1).unwrap_or("").starts_with("Mem:"), "{u}");
    assert!(u.lines().nth(2).unwrap_or("").starts_with("Swap:"), "{u}");

    let (_, umbra) = both(&["uptime"]);
    let u = umbra.stdout_text();
    assert!(
        u.contains(" up ") && u.contains("load average: 0.00, 0.00, 0.00"),
        "{u}"
    );

    let out = umbra_out(&["mount"]);
    for want in [
        "proc on /proc type proc (",
        "tmpfs on /tmp type tmpfs (",
        "tmpfs on /run type tmpfs (",
        "tmpfs on /dev/shm type tmpfs (",
        "devtmpfs on /dev type devtmpfs (",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    assert_eq!(
        umbra_out(&["cat", "/proc/mounts"]),
        umbra_out(&["cat", "/proc/self/mounts"])
    );

    let (native, umbra) = both(&["df"]);
    assert_eq!(first_line(&umbra), first_line(&native));
    assert!(
        umbra.stdout_text().contains(" /tmp\n"),
        "{}",
        umbra.stdout_text()
    );
}

#[test]
fn small_proc_files() {
    let out = umbra_out(&[
        "sh",
        "-c",
        "cat /proc/sys/kernel/ostype /proc/sys/kernel/hostname /proc/sys/kernel/pid_max; \
         cat /proc/self/comm; head -c 14 /proc/version; echo; cat /proc/loadavg",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..5],
        ["Linux", "umbra", "4194304", "cat", "Linux version "]
    );
    assert_eq!(lines[5].split_whitespace().count(), 5, "{out}");
    let up = umbra_out(&["cat", "/proc/uptime"]);
    assert_eq!(up.split_whitespace().count(), 2, "{up}");
    let cpu = umbra_out(&["cat", "/proc/cpuinfo"]);
    assert!(cpu.contains("umbra virtual CPU"), "{cpu}");
    let stat = umbra_out(&["cat", "/proc/stat"]);
    let cpu_line = stat.lines().next().unwrap_or("");
    assert_eq!(cpu_line.split_whitespace().count(), 11, "{stat}");
    assert!(
        stat.contains("\nbtime ") && stat.contains("\nprocesses "),
        "{stat}"
    );
}
