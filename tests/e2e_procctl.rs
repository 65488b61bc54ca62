//! End-to-end tests of process control: futex(2) (`tests/guest/futex.c`
//! and a static glibc C++ program, `tests/guest/hello_cxx.cpp`), each run
//! natively and under umbra and compared.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use umbra_tests::{assert_same, compare, guest_dir, Libc, Outcome, Run, Status};

/// The futex sections that run in one process (or with a helper process).
const FUTEX: &[&str] = &["errors", "timeouts", "wake", "pi", "signals", "once"];

#[test]
fn futex_musl() {
    assert_same(&Run::guest(Libc::Musl, "futex").args(FUTEX));
}

#[test]
fn futex_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "futex").args(FUTEX));
}

/// Process-shared futexes over MAP_SHARED|MAP_ANONYMOUS memory: a shared
/// wake reaches a waiter in another process (keyed by the shared frame), a
/// private one never does (keyed by address space); several waiting
/// processes through REQUEUE, CMP_REQUEUE, WAKE_BITSET, WAKE_OP, a PI lock
/// handed over by UNLOCK_PI, WAIT_REQUEUE_PI/CMP_REQUEUE_PI, and robust
/// mutexes (plain and PI) whose owner exits holding them.
#[test]
fn futex_across_processes() {
    for libc in Libc::ALL {
        assert_same(&Run::guest(libc, "futex").args(&["cross", "multi", "robust"]));
    }
}

/// The C++ program built with `g++ -static` (glibc), and an initrd holding
/// it at /hello_cxx. Fails, as the other tools do, without g++ (`cargo xtask
/// setup` installs it).
fn cxx() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let gxx = umbra_tests::require_tool("g++", "g++");
        let dir = guest_dir().join("cxx");
        std::fs::create_dir_all(&dir).expect("create target/guest/cxx");
        let bin = dir.join("hello_cxx");
        let src = umbra_tests::workspace_root().join("tests/guest/hello_cxx.cpp");
        let tmp = dir.join(format!(".hello_cxx.{}", std::process::id()));
        let out = Command::new(gxx)
            .args(["-static", "-O2", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("run g++");
        assert!(
            out.status.success(),
            "g++ -static failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&tmp, &bin).expect("rename hello_cxx");
        let mut rd = umbra_tests::initrd::Initrd::new();
        rd.copy("hello_cxx", &bin).expect("add hello_cxx");
        let cpio = dir.join("cxx.cpio");
        let tmp = dir.join(format!(".cxx.cpio.{}", std::process::id()));
        rd.write(&tmp).expect("write cxx.cpio");
        std::fs::rename(&tmp, &cpio).expect("rename cxx.cpio");
        (bin, cpio)
    })
}

/// Regression: every static glibc C++ program aborted at start-up with "The
/// futex facility returned an unexpected error code" while futex was ENOSYS.
#[test]
fn static_glibc_cxx_hello() {
    let (bin, cpio) = cxx();
    let native = Command::new(bin)
        .stdin(std::process::Stdio::null())
        .output();
    let native = native.expect("run hello_cxx natively");
    let cpio = cpio.display().to_string();
    let umbra = umbra_tests::umbra_raw(&["run", "--initrd", &cpio, "--", "/hello_cxx"]);
    let native = Outcome {
        command: bin.display().to_string(),
        stdout: native.stdout,
        stderr: native.stderr,
        status: Status::Exited(native.status.code().unwrap_or(-1)),
        leftovers: Vec::new(),
    };
    assert!(
        native.stdout.starts_with(b"hello from C++, 42\n"),
        "{}",
        native.describe()
    );
    compare(&native, &umbra);
}

/// umbra-only (natively the calls exist): the first ENOSYS of each syscall
/// is named on umbra's stderr, once; `--quiet-unsupported` silences it, and
/// the calls libcs probe (rseq) are named only under `--strace`; clone3 is
/// served (a NULL struct of size 0 is EINVAL, as on Linux).
#[test]
fn unsupported_calls_are_named_once() {
    for libc in Libc::ALL {
        let mut run = Run::guest(libc, "procctl").args(&["enosys"]);
        run.umbra_flags.clear();
        let out = run.umbra();
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            "== enosys\n\
             io_uring_setup: -1 ENOSYS\n\
             io_uring_setup again: -1 ENOSYS\n\
             syscall 1000: -1 ENOSYS\n\
             clone3: -1 EINVAL\n",
            "{}",
            out.describe()
        );
        let nr = 425; // the same on every arch
        assert_eq!(
            out.stderr_text(),
            format!(
                "umbra: unsupported syscall io_uring_setup ({nr}): ENOSYS\n\
                 umbra: unsupported syscall unknown (1000): ENOSYS\n"
            ),
            "{}",
            out.describe()
        );
        let quiet = run.clone().umbra_flag("--quiet-unsupported").umbra();
        quiet.assert_code(0);
        assert_eq!(quiet.stdout, out.stdout, "{}", quiet.describe());
        assert_eq!(quiet.stderr_text(), "", "{}", quiet.describe());
    }
}

/// The credential, capability and prctl sections of `procctl`.
const PROCCTL: &[&str] = &[
    "prctl",
    "ids",
    "caps",
    "kill",
    "files",
    "setuid_exec",
    "names",
    "misc",
    "status",
    "nosuid",
];

#[test]
fn procctl_musl() {
    assert_same(&Run::guest(Libc::Musl, "procctl").args(PROCCTL));
}

#[test]
fn procctl_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "procctl").args(PROCCTL));
}
