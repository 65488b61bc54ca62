//! `umbra run --stats` prints the counts so far when umbra gets SIGUSR2
//! (issue 14 item 5: the counters of one step of a longer run, such as
//! Table 3's content and scroll steps), and goes on; at exit the report
//! covers the whole run. tests/guest/stats_snapshot.c makes N getppid
//! calls, says "ready", waits for a line on stdin, makes N more and says
//! "done".

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use umbra_tests::*;

const N: u64 = 500;

/// The getppid count of the report that starts at `report`.
fn getppid_calls(report: &str) -> u64 {
    report
        .lines()
        .find(|l| l.starts_with("umbra: stats: ") && l.ends_with(" getppid"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no getppid line in\n{report}"))
}

#[test]
fn sigusr2_prints_the_stats_so_far_and_the_run_goes_on() {
    for libc in Libc::ALL {
        let args = ["halves".to_string(), N.to_string()];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let native = Run::guest(libc, "stats_snapshot")
            .args(&args)
            .stdin(b"go\n")
            .native();
        native.assert_code(0);
        assert_eq!(native.stdout_text(), "ready\ndone\n");

        let mut child = Command::new(umbra())
            .args(
                Run::guest(libc, "stats_snapshot")
                    .args(&args)
                    .umbra_flag("--stats")
                    .umbra_args(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start umbra");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        // The guest waits for its line: ask for the report meanwhile, and
        // read it up to its last line (the platform).
        let status = Command::new("kill")
            .args(["-USR2", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut first = String::new();
        loop {
            let mut l = String::new();
            if err.read_line(&mut l).unwrap() == 0 {
                panic!("umbra's stderr ended before a report:\n{first}");
            }
            first.push_str(&l);
            if l.starts_with("umbra: stats: platform ") {
                break;
            }
        }
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        let mut last = String::new();
        err.read_to_string(&mut last).unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(0), "{first}{last}");
        assert_eq!(format!("ready\n{rest}"), native.stdout_text());
        // The snapshot has the first half's calls, the report at exit both.
        assert!(first.starts_with("umbra: stats: wall "), "{first}");
        assert_eq!(getppid_calls(&first), N, "{first}");
        assert!(last.contains("umbra: stats: wall "), "{last}");
        assert_eq!(getppid_calls(&last), 2 * N, "{last}");
    }
}

#[test]
fn without_stats_sigusr2_is_not_caught() {
    let run = Run::guest(Libc::Musl, "stats_snapshot").args(&["halves", "1"]);
    let mut child = Command::new(umbra())
        .args(run.umbra_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start umbra");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let status = Command::new("kill")
        .args(["-USR2", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // SIGUSR2's default action: umbra dies of it, as any program.
    let st = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(12), "{st:?}");
}
