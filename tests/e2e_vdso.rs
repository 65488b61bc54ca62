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

/// The sections of the dynamic runs (all but the trap count).
const DYNAMIC: &[&str] = &[
    "find", "order", "real", "libc", "coarse", "getcpu", "fallback", "maps", "fork", "vsyscall",
];

/// `tests/guest/vdso.c` dynamically linked (glibc's ld.so sets the vDSO up as
/// a link map, musl's parses it), natively and under umbra, at the same
/// absolute path in both, with the host's linkers and libraries in the
/// initrd.
#[test]
fn vdso_dynamic_glibc_and_musl() {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use umbra_tests::{compare, require_tool, target_dir, workspace_root};
    let dir = target_dir().join(format!("guest/dyn-vdso-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let src = workspace_root().join("tests/guest/vdso.c");
    let inc = workspace_root().join("tests/guest");
    let mut rd = umbra_tests::initrd::busybox_root(umbra_tests::busybox()).expect("busybox root");
    umbra_tests::add_data_tree(&mut rd, "data");
    let mut progs = Vec::new();
    for (cc, pkg, interp) in [
        ("gcc", "libc6-dev", "/lib64/ld-linux-x86-64.so.2"),
        ("musl-gcc", "musl-tools", "/lib/ld-musl-x86_64.so.1"),
    ] {
        let out = dir.join(format!("vdso-{cc}"));
        let r = Command::new(require_tool(cc, pkg))
            .args(["-O2", "-Wall", "-I"])
            .arg(&inc)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .output()
            .expect("run the compiler");
        assert!(
            r.status.success(),
            "{cc}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        let p = out.display().to_string();
        rd.copy(&p, &out).expect("copy program");
        rd.copy(interp, Path::new(interp))
            .expect("copy the dynamic linker");
        progs.push(p);
    }
    // glibc's libc.so.6, where its ld.so looks for it.
    let ldd = Command::new("ldd").arg(&progs[0]).output().expect("ldd");
    for l in String::from_utf8_lossy(&ldd.stdout).lines() {
        if let Some(p) = l.split("=> ").nth(1).and_then(|r| r.split(" (").next()) {
            if p.starts_with('/') {
                rd.copy(p, Path::new(p)).expect("copy library");
            }
        }
    }
    let cpio = dir.join("vdso.cpio");
    rd.write(&cpio).expect("write initrd");
    let cpio_arg = cpio.display().to_string();
    for p in &progs {
        let mut run = Run::busybox(&[]);
        run.guest_path = p.clone();
        run.native_path = PathBuf::from(p);
        run.args = DYNAMIC.iter().map(|s| s.to_string()).collect();
        let native = run.native();
        let mut a: Vec<&str> = vec![
            "run",
            "--initrd",
            &cpio_arg,
            "--cwd",
            "/data",
            "--env",
            "PATH=/bin",
            "--quiet-unsupported",
            "--",
            p,
        ];
        a.extend(DYNAMIC);
        let umbra = umbra_tests::umbra_raw(&a);
        compare(&native, &umbra);
        assert!(
            umbra.stdout_text().contains("vdso: found"),
            "{}",
            umbra.describe()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
