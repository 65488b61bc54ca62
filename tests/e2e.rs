//! End-to-end tests: real static programs run by the real `umbra` binary,
//! each compared with a native run of the same program (stdout, stderr and
//! exit status; see `umbra_tests` for how the two runs are made alike).
//!
//! - every program in `tests/guest/`, built with musl and with glibc
//! - busybox applets from Debian's busybox-static
//! - umbra-only checks: int 0x80 and x32 entries, `--strace`, a non-ELF
//!   program, a missing initrd, `--help`
//!
//! No test needs a terminal: stdin is /dev/null or a pipe, stdout and stderr
//! are pipes.

use umbra_tests::{assert_same, test_initrd, umbra_raw, Libc, Run, Status, NOT_ELF};

/// One test per guest program and C library, compared with native.
macro_rules! same_as_native {
    ($($test:ident: $libc:ident $program:literal [$($arg:literal),*];)*) => {$(
        #[test]
        fn $test() {
            assert_same(&Run::guest(Libc::$libc, $program).args(&[$($arg),*]));
        }
    )*};
}

same_as_native! {
    hello_musl: Musl "hello" [];
    hello_glibc: Glibc "hello" [];
    args_env_musl: Musl "args_env" ["one", "two words", ""];
    args_env_glibc: Glibc "args_env" ["one", "two words", ""];
    files_musl: Musl "files" [];
    files_glibc: Glibc "files" [];
    files_in_subdir_argument_musl: Musl "files" ["sub"];
    mem_musl: Musl "mem" [];
    mem_glibc: Glibc "mem" [];
    time_rand_musl: Musl "time_rand" [];
    time_rand_glibc: Glibc "time_rand" [];
    ioctl_tty_musl: Musl "ioctl_tty" [];
    ioctl_tty_glibc: Glibc "ioctl_tty" [];
    sigrecord_musl: Musl "sigrecord" [];
    sigrecord_glibc: Glibc "sigrecord" [];
}

#[test]
fn segv_is_death_by_sigsegv() {
    for libc in Libc::ALL {
        let run = Run::guest(libc, "segv");
        let native = run.native();
        assert_eq!(native.status, Status::Signaled(11), "{}", native.describe());
        // assert_same also checks that no process of umbra's outlives it.
        let umbra = assert_same(&run);
        assert_eq!(umbra.status, Status::Exited(139), "{}", umbra.describe());
    }
}

#[test]
fn int80_and_x32_entries_are_not_served_as_64_bit_calls() {
    for libc in Libc::ALL {
        let out = Run::guest(libc, "int80").umbra();
        out.assert_no_leftovers();
        let stdout = out.stdout_text();
        assert!(
            stdout.starts_with("x32 getpid: -38\n"),
            "x32 syscall must give -ENOSYS\n{}",
            out.describe()
        );
        // Either -ENOSYS, or death by SIGSYS before the line is written.
        let enosys = stdout.contains("int80 getpid: -38\n") && out.status == Status::Exited(0);
        let sigsys = !stdout.contains("int80") && out.status.code() == 128 + 31;
        assert!(
            enosys || sigsys,
            "int 0x80 must give -ENOSYS or SIGSYS\n{}",
            out.describe()
        );
    }
}

#[test]
fn strace_prints_guest_syscalls() {
    let run = Run::guest(Libc::Musl, "hello").umbra_flag("--strace");
    let native = run.native();
    let out = run.umbra();
    out.assert_code(42);
    assert_eq!(out.stdout, native.stdout, "{}", out.describe());
    let stderr = out.stderr_text();
    // musl's stdio writes with writev, glibc's with write.
    let has = |needle: &str| stderr.lines().any(|l| l.contains(needle));
    assert!(
        has("write(1,") || has("writev(1,"),
        "--strace output lacks the write to stdout\n{}",
        out.describe()
    );
    assert!(
        has("exit_group(42"),
        "--strace output lacks exit_group\n{}",
        out.describe()
    );
}

#[test]
fn non_elf_program_fails_with_one_line() {
    let rd = test_initrd().display().to_string();
    let out = umbra_raw(&["run", "--initrd", &rd, "--", NOT_ELF]);
    assert_ne!(out.status.code(), 0, "{}", out.describe());
    assert_eq!(out.stderr_text().lines().count(), 1, "{}", out.describe());
    out.assert_no_leftovers();
}

#[test]
fn missing_program_fails() {
    let rd = test_initrd().display().to_string();
    let out = umbra_raw(&["run", "--initrd", &rd, "--", "/bin/no-such-program"]);
    assert_ne!(out.status.code(), 0, "{}", out.describe());
    assert!(!out.stderr.is_empty(), "{}", out.describe());
}

#[test]
fn missing_initrd_is_a_clear_error() {
    let missing = "/nonexistent/umbra-e2e.cpio";
    let out = umbra_raw(&["run", "--initrd", missing, "--", "/bin/busybox", "true"]);
    assert_ne!(out.status.code(), 0, "{}", out.describe());
    assert!(
        out.stderr_text().contains(missing),
        "the error must name the file\n{}",
        out.describe()
    );
}

#[test]
fn help_mentions_every_flag() {
    let out = umbra_raw(&["--help"]);
    out.assert_code(0);
    let text = out.stdout_text() + &out.stderr_text();
    for flag in [
        "run",
        "--initrd",
        "--mem",
        "--env",
        "--cwd",
        "--strace",
        "--cpu",
        "--quiet-unsupported",
    ] {
        assert!(
            text.contains(flag),
            "--help lacks {flag}\n{}",
            out.describe()
        );
    }
}

#[test]
fn default_environment_is_empty() {
    let mut run = Run::busybox(&["env"]);
    run.env.clear();
    let out = assert_same(&run);
    assert!(out.stdout.is_empty(), "{}", out.describe());
}

/// One test per busybox command line, compared with native.
macro_rules! busybox_same_as_native {
    ($($test:ident: [$($arg:literal),*] $(stdin $input:expr)?;)*) => {$(
        #[test]
        fn $test() {
            let run = Run::busybox(&[$($arg),*]);
            $(let run = run.stdin($input);)?
            assert_same(&run);
        }
    )*};
}

const TEXT: &[u8] = b"pear\napple\nfig\napple\nbanana\nfig\nfig\n";

busybox_same_as_native! {
    busybox_echo: ["echo", "hello", "from", "umbra"];
    busybox_echo_n: ["echo", "-n", "no newline"];
    busybox_printf: ["printf", "%s-%d-%x\\n", "a", "42", "255"];
    busybox_cat_files: ["cat", "hello.txt", "sub/a.txt", "link"];
    busybox_cat_stdin: ["cat"] stdin b"line 1\nline 2\n";
    busybox_cat_missing_file: ["cat", "nope"];
    busybox_seq: ["seq", "1", "5"];
    busybox_expr: ["expr", "2", "+", "3"];
    busybox_expr_zero_is_status_1: ["expr", "2", "-", "2"];
    busybox_wc_stdin: ["wc"] stdin TEXT;
    busybox_wc_file: ["wc", "-c", "hello.txt"];
    busybox_head: ["head", "-n", "2"] stdin TEXT;
    busybox_tail: ["tail", "-n", "2"] stdin TEXT;
    busybox_sort: ["sort"] stdin TEXT;
    busybox_uniq: ["uniq", "-c"] stdin b"a\na\nb\na\n";
    busybox_tr: ["tr", "a-z", "A-Z"] stdin TEXT;
    busybox_cut: ["cut", "-d:", "-f1,3"] stdin b"root:x:0:0\nbin:x:1:1\n";
    busybox_basename: ["basename", "/a/b/c.txt", ".txt"];
    busybox_dirname: ["dirname", "/a/b/c.txt"];
    busybox_true: ["true"];
    busybox_false: ["false"];
    busybox_ls: ["ls", "-a"];
    busybox_sh_exit_status: ["sh", "-c", "exit 3"];
    busybox_seq_many_lines: ["seq", "1", "100000"];
    busybox_head_dev_zero: ["head", "-c", "100", "/dev/zero"];
    busybox_cat_dev_null: ["cat", "/dev/null"];
    // No %s: directory sizes differ between file systems.
    busybox_stat: ["stat", "-c", "%n %a %F %h", "hello.txt", "link", "sub/a.txt"];
    busybox_test_builtin: ["sh", "-c", "test -d sub && test -f hello.txt && test -L link && echo yes"];
    busybox_sh_builtins: ["sh", "-c", "echo $0 $1; cd sub && echo *", "zero", "one"];
}

/// The harness itself: every guest program gives the same output natively
/// twice in a row, so a difference under umbra is umbra's. Needs no umbra.
#[test]
fn guest_programs_are_deterministic_natively() {
    for libc in Libc::ALL {
        for program in umbra_tests::GUEST_PROGRAMS {
            // lowmem takes a section name and is about running out of a
            // small --mem (e2e_mm's out_of_memory tests); "x" is none.
            if *program == "int80" || *program == "lowmem" {
                continue;
            }
            let run = Run::guest(libc, program).args(&["x"]);
            let run = if *program == "files" {
                Run::guest(libc, program)
            } else {
                run
            };
            let first = run.native();
            umbra_tests::compare(&first, &run.native());
            let expected = match *program {
                "hello" => 42,
                "segv" => 139,
                _ => 0,
            };
            first.assert_code(expected);
        }
    }
}

/// busybox's `read` builtin waits for input with poll(2).
#[test]
fn busybox_sh_read_builtin() {
    assert_same(&Run::busybox(&["sh", "-c", "read x; echo got $x"]).stdin(b"input line\n"));
}

#[test]
fn busybox_wc_large_stdin() {
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| b"abcdefghij\n"[i as usize % 11])
        .collect();
    assert_same(&Run::busybox(&["wc"]).stdin(&data));
}

#[test]
fn cpu_and_mem_flags() {
    let run = Run::guest(Libc::Musl, "hello");
    let native = run.native();
    for flags in [&["--cpu", "0"][..], &["--mem", "16M"]] {
        let mut with = run.clone();
        for f in flags {
            with = with.umbra_flag(f);
        }
        umbra_tests::compare(&native, &with.umbra());
    }
    let rd = test_initrd().display().to_string();
    let out = umbra_raw(&[
        "run",
        "--mem",
        "1K",
        "--initrd",
        &rd,
        "--",
        "/tests/musl/hello",
    ]);
    assert_ne!(
        out.status.code(),
        0,
        "a 1K guest memory must be refused\n{}",
        out.describe()
    );
}
