//! End-to-end tests of umbra's vDSO and time page: `tests/guest/vdso.c`
//! (musl and glibc builds) finds the vDSO through AT_SYSINFO_EHDR, resolves
//! its symbols as musl does, and compares its clocks with the syscalls, run
//! natively and under umbra; and a count of the traps 100,000 clock_gettime
//! calls make under umbra.

use umbra_tests::{sections_same_as_native, Libc, Run};

/// Every section of the program.
const ALL: &[&str] = &[
    "find", "order", "real", "libc", "coarse", "getcpu", "fallback", "maps", "fork", "count",
];

sections_same_as_native! {
    vdso_musl: Musl "vdso" ALL;
    vdso_glibc: Glibc "vdso" ALL;
}

/// 100,000 clock_gettime calls through libc make (almost) no syscalls under
/// umbra: `--strace` shows every syscall the kernel serves, and the calls
/// go through the vDSO. Until the guest clock is calibrated against the
/// host's (10 ms after umbra starts) the vDSO takes the syscall, so a few
/// early calls may trap; 100,000 trapping calls would show as 100,000 lines.
#[test]
fn clock_gettime_through_the_vdso_makes_no_syscalls() {
    for libc in [Libc::Musl, Libc::Glibc] {
        let out = Run::guest(libc, "vdso")
            .args(&["count"])
            .umbra_flag("--strace")
            .umbra();
        out.assert_code(0);
        let err = out.stderr_text();
        let traps = err
            .lines()
            .filter(|l| l.contains("] clock_gettime("))
            .count();
        assert!(
            traps < 2_000,
            "{libc:?}: {traps} clock_gettime syscalls of 100000 calls"
        );
        eprintln!("{libc:?}: {traps} of 100000 clock_gettime calls trapped");
        assert!(
            out.stdout_text().contains("backwards 0"),
            "{}",
            out.describe()
        );
    }
}

/// A mksh script that uses the clock ($SECONDS, $EPOCHREALTIME), forks
/// ($(...), pipelines) and the usual shell features; its output does not
/// depend on timing.
const MKSH_SCRIPT: &str = r#"
i=0; while (( i < 200 )); do (( i++ )); done; print "loop $i"
set -A arr a b c; print "array ${#arr[*]} ${arr[1]}"
f() { print "f $1"; return 3; }; f x || print "status $?"
x=$(print sub | while read l; do print "[$l]"; done); print "$x"
typeset -u up=hello; print "$up"
s=$SECONDS; (( s >= 0 && s < 1000 )) && print "SECONDS ok"
e=${EPOCHREALTIME%.*}; (( e > 1600000000 )) && print "EPOCHREALTIME ok"
while read a b; do print "here $b $a"; done <<END
1 one
2 two
END
(exit 7); print "subshell $?"
print done
"#;

/// Debian's static mksh builds (package mksh) run a script as natively: the
/// dietlibc one finds `__vdso_gettimeofday` through the vDSO's section
/// headers (without a vDSO it reads the vsyscall page as an ELF image and
/// died by SIGSEGV), the klibc one (/bin/mksh-static) makes syscalls.
#[test]
fn debian_static_mksh_runs_a_script_as_natively() {
    use std::path::Path;
    use std::process::Command;
    let builds = ["/usr/lib/diet/bin/mksh", "/usr/lib/klibc/bin/mksh"];
    for b in builds {
        assert!(
            Path::new(b).exists(),
            "{b} is missing: install mksh (`cargo xtask setup`)"
        );
    }
    let mut rd = umbra_tests::initrd::busybox_root(umbra_tests::busybox()).expect("busybox root");
    for b in builds {
        rd.copy(b.trim_start_matches('/'), Path::new(b))
            .expect("copy mksh");
    }
    let cpio = umbra_tests::target_dir().join(format!("vdso-mksh-{}.cpio", std::process::id()));
    rd.write(&cpio).expect("write initrd");
    for b in builds {
        let native = Command::new(b)
            .args(["-c", MKSH_SCRIPT])
            .env_clear()
            .env("PATH", "/bin")
            .output()
            .expect("run mksh natively");
        let cpio_arg = cpio.display().to_string();
        let out = umbra_tests::umbra_raw(&[
            "run",
            "--initrd",
            &cpio_arg,
            "--quiet-unsupported",
            "--env",
            "PATH=/bin",
            "--",
            b,
            "-c",
            MKSH_SCRIPT,
        ]);
        assert_eq!(native.status.code(), Some(0), "{b} natively: {native:?}");
        assert!(
            String::from_utf8_lossy(&native.stdout).contains("EPOCHREALTIME ok\n"),
            "{native:?}"
        );
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            String::from_utf8_lossy(&native.stdout),
            "{b}"
        );
        assert_eq!(
            out.stderr_text(),
            String::from_utf8_lossy(&native.stderr),
            "{b}"
        );
    }
    let _ = std::fs::remove_file(&cpio);
}
