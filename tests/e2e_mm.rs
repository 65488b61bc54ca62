//! End-to-end tests of guest memory management: shared anonymous memory
//! across fork (`mm_shared`), and the limits and argument checks of the
//! mapping calls (`mm_limits`), each run natively and under umbra and
//! compared (see `umbra_tests::assert_same`).

use umbra_tests::{assert_same, sections_same_as_native, Libc, Outcome, Run};

const SHARED: &[&str] = &[
    "fork",
    "counters",
    "chain",
    "munmap",
    "mprotect",
    "split",
    "mremap",
    "creator_exit",
    "devzero",
    "dontneed",
    "grow",
];
const LIMITS: &[&str] = &["maxmap", "args", "map32", "eof", "mremap", "iofault"];
const LOCKS: &[&str] = &["rlimits", "mlock", "mincore"];

sections_same_as_native! {
    shared_anon_musl: Musl "mm_shared" SHARED;
    shared_anon_glibc: Glibc "mm_shared" SHARED;
    limits_musl: Musl "mm_limits" LIMITS;
    limits_glibc: Glibc "mm_limits" LIMITS;
    rlimits_mlock_mincore_musl: Musl "mm_limits" LOCKS;
    rlimits_mlock_mincore_glibc: Glibc "mm_limits" LOCKS;
}

/// 76,800 pages touched so that no two neighbours can share a host mapping:
/// more than the host's vm.max_map_count (65,530) mappings if each page were
/// mapped on its own. The stub stays within the host's limit; the guest
/// never sees it.
#[test]
fn many_unmergeable_pages_stay_within_the_host_map_limit() {
    for libc in [Libc::Musl, Libc::Glibc] {
        assert_same(
            &Run::guest(libc, "mm_limits")
                .args(&["hostmaps"])
                .umbra_flag("--mem")
                .umbra_flag("512M"),
        );
    }
}

// ----------------------------------------------------------- out of memory

/// The guest memory of the out-of-memory tests: room for the programs and
/// a few MiB, so they run out in a second.
const LOW_MEM: &str = "8M";

fn lowmem(libc: Libc, section: &str) -> Outcome {
    Run::guest(libc, "lowmem")
        .args(&[section])
        .umbra_flag("--mem")
        .umbra_flag(LOW_MEM)
        .umbra()
}

/// The line umbra prints when the OOM killer kills guest pid `pid`.
fn oom_line(pid: u32, comm: &str) -> String {
    format!("umbra: out of guest memory: killed process {pid} ({comm}); raise --mem\n")
}

/// A program that touches more memory than the guest has, in a page fault
/// (`touch`) or in read(2) into a buffer it never touched (`read`), is
/// killed by SIGKILL with umbra's message, as by Linux's OOM killer; read
/// never fails with ENOMEM (Linux does not fail a page the program was
/// granted). Natively, without a limit, both run to their end; a native
/// limit (RLIMIT_AS) would fail mmap instead, so the runs are not compared.
#[test]
fn out_of_memory_kills_the_process_in_a_fault_and_in_read() {
    for libc in [Libc::Musl, Libc::Glibc] {
        for (section, line) in [("touch", "MiB "), ("read", "read ")] {
            let r = lowmem(libc, section);
            r.assert_code(137);
            r.assert_no_leftovers();
            assert_eq!(r.stderr_text(), oom_line(1, "lowmem"), "{}", r.describe());
            let out = r.stdout_text();
            let mib = out.lines().filter(|l| l.starts_with(line)).count();
            assert!(
                (2..8).contains(&mib) && !out.contains("failed") && !out.contains("done"),
                "{mib} MiB in {LOW_MEM} of guest memory, then the kill\n{}",
                r.describe()
            );
        }
    }
}

/// A child that runs out of memory is killed; its parent, blocked reading
/// a pipe whose only writer the child held, sees end of file and the
/// child's SIGKILL.
#[test]
fn out_of_memory_kills_the_child_and_wakes_its_parent() {
    for libc in [Libc::Musl, Libc::Glibc] {
        let r = lowmem(libc, "child");
        r.assert_code(0);
        r.assert_no_leftovers();
        assert_eq!(
            r.stdout_text(),
            "pipe: end of file\nchild: signal 9\ndone child\n",
            "{}",
            r.describe()
        );
        assert_eq!(r.stderr_text(), oom_line(2, "lowmem"), "{}", r.describe());
    }
}

/// read(2) into an untouched buffer that finds no free page: the OOM
/// killer kills the process with the most memory (the hog, not the
/// reader) and the read goes on, as on Linux, so the output is the native
/// run's, where nothing runs out (the parent kills the hog itself).
#[test]
fn out_of_memory_in_read_kills_the_largest_and_the_read_goes_on() {
    for libc in [Libc::Musl, Libc::Glibc] {
        let run = Run::guest(libc, "lowmem")
            .args(&["victim"])
            .umbra_flag("--mem")
            .umbra_flag(LOW_MEM);
        let native = run.native();
        native.assert_code(0);
        assert_eq!(
            native.stdout_text(),
            "reader: exit 0\nhog: signal 9\ndone victim\n",
            "{}",
            native.describe()
        );
        let r = run.umbra();
        r.assert_code(0);
        r.assert_no_leftovers();
        assert_eq!(r.stdout_text(), native.stdout_text(), "{}", r.describe());
        assert_eq!(r.stderr_text(), oom_line(2, "lowmem"), "{}", r.describe());
    }
}

/// busybox at a small --mem: awk doubling a string is killed, and the
/// shell that ran it goes on (`Killed`, status 137).
#[test]
fn out_of_memory_in_busybox_awk_leaves_the_shell() {
    let r = Run::busybox(&[
        "sh",
        "-c",
        "awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo \"awk: $?\"",
    ])
    .umbra_flag("--mem")
    .umbra_flag("4M")
    .umbra();
    r.assert_code(0);
    r.assert_no_leftovers();
    assert_eq!(r.stdout_text(), "awk: 137\n", "{}", r.describe());
    let err = r.stderr_text();
    assert!(
        err.starts_with("umbra: out of guest memory: killed process 2 (")
            && err.ends_with("); raise --mem\nKilled\n"),
        "{}",
        r.describe()
    );
}
