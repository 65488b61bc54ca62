//! End-to-end tests of threads: `tests/guest/threads.c` (pthreads: create,
//! join, detach, cancellation, mutexes of every kind, condvars, rwlocks,
//! barriers, semaphores, `__thread` TLS, pthread_kill and sigwait, signals
//! to the process, gettid/tgkill, exec and fork from a thread,
//! /proc/self/task, CPU time per thread, 1,000 threads), built with musl and
//! glibc, run natively and under umbra and compared.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use umbra_tests::initrd::busybox_root;
use umbra_tests::{
    add_data_tree, busybox, compare, require_tool, sections_same_as_native, target_dir, umbra_raw,
    workspace_root, Libc, Run,
};

/// Every section of `threads.c`.
const ALL: &[&str] = &[
    "create_join",
    "detach",
    "cancel",
    "mutex",
    "robust",
    "pi",
    "cond",
    "rwlock",
    "barrier",
    "sem",
    "tls",
    "kill_sigwait",
    "procsig",
    "gettid",
    "exec",
    "fork",
    "tasks",
    "exit_main",
    "cputime",
    "regs",
    "many",
];

/// The sections of `threads_hostile.c` whose native answer is
/// deterministic: robust lists that never end or loop (the kernel stops
/// after 2,048 entries, as Linux), futexes on unmapped and freed memory,
/// munmap under a blocked read, a path, an iovec array and a signal set
/// rewritten by another thread while a blocked call uses them (copied once,
/// at entry), vfork and posix_spawn beside a running thread, and 1,000
/// threads at once.
const HOSTILE: &[&str] = &[
    "robust_cycle",
    "robust_long",
    "futex_unmapped",
    "futex_freed",
    "munmap_read",
    "path_rewrite",
    "iovec_rewrite",
    "sigset_rewrite",
    "vfork_threads",
    "spawn",
    "many1000",
];

/// Runs `sections` natively and under umbra with room for 1,000 threads.
fn same_with_room(libc: Libc, program: &str, sections: &[&str]) {
    umbra_tests::assert_same(
        &Run::guest(libc, program)
            .args(sections)
            .umbra_flag("--max-procs")
            .umbra_flag("1100"),
    );
}

sections_same_as_native! {
    threads_musl: Musl "threads" ALL;
    threads_glibc: Glibc "threads" ALL;
}

sections_same_as_native! {
    run = same_with_room;
    hostile_musl: Musl "threads_hostile" HOSTILE;
    hostile_glibc: Glibc "threads_hostile" HOSTILE;
}

/// umbra-only (natively the host's limits decide): a thread bomb stops at
/// `--max-procs`, which counts threads, with EAGAIN; umbra survives it and
/// leaves nothing behind.
#[test]
fn thread_bomb_is_bounded_by_max_procs() {
    for libc in Libc::ALL {
        let out = Run::guest(libc, "threads_hostile")
            .args(&["bomb"])
            .umbra_flag("--max-procs")
            .umbra_flag("40")
            .umbra();
        out.assert_code(0);
        out.assert_no_leftovers();
        // pid 1 and its threads: 39 more tasks fit.
        assert_eq!(
            out.stdout_text(),
            "== bomb\nthread bomb stopped by EAGAIN after 39 threads\n",
            "{}",
            out.describe()
        );
    }
}

/// One section at a time under umbra, for a quick look at a failure.
#[test]
#[ignore = "diagnostic: run by hand"]
fn threads_each_section() {
    for libc in Libc::ALL {
        for s in ALL {
            umbra_tests::assert_same(&Run::guest(libc, "threads").args(&[s]));
        }
    }
}

/// umbra-only (natively the garbage would reach the host kernel): every
/// syscall number 0..1023 with garbage arguments and hostile pointers,
/// made by three threads of one process at once (chunks of 32 numbers in
/// forked children). umbra survives, the guest ends normally, and nothing
/// is left behind.
#[test]
fn garbage_syscalls_from_three_threads() {
    let out = Run::guest(Libc::Musl, "threads_hostile")
        .args(&["sweep"])
        .umbra();
    out.assert_code(0);
    out.assert_no_leftovers();
    assert!(
        out.stdout_text()
            .ends_with("threaded sweep: 32 chunks, done\n"),
        "{}",
        out.describe()
    );
}

/// Dynamically linked builds of `threads.c`: glibc (PIE) and musl, with
/// their dynamic linkers and the libraries `ldd` names in the initrd at
/// their host paths, so the native and the umbra run are one command line.
mod dynamic {
    use super::*;

    /// (directory, compiler, package) of each build.
    const BUILDS: [(&str, &str, &str); 2] = [
        ("glibc", "gcc", "gcc and libc6-dev"),
        ("musl", "musl-gcc", "musl-tools"),
    ];

    fn dir() -> PathBuf {
        target_dir().join("guest/dyn_threads")
    }

    pub fn prog(build: &str) -> String {
        dir().join(build).join("threads").display().to_string()
    }

    fn build() {
        static DONE: OnceLock<()> = OnceLock::new();
        DONE.get_or_init(|| {
            let src = workspace_root().join("tests/guest/threads.c");
            for (d, cc, pkg) in BUILDS {
                let cc = require_tool(cc, pkg);
                std::fs::create_dir_all(dir().join(d)).expect("mkdir dyn_threads");
                let out = PathBuf::from(prog(d));
                let tmp = out.with_extension(format!("tmp{}", std::process::id()));
                let r = Command::new(&cc)
                    .args(["-O2", "-Wall", "-o"])
                    .arg(&tmp)
                    .arg(&src)
                    .output()
                    .expect("run the compiler");
                assert!(
                    r.status.success(),
                    "{} threads.c: {}",
                    cc.display(),
                    String::from_utf8_lossy(&r.stderr)
                );
                std::fs::rename(&tmp, &out).expect("rename");
            }
        });
    }

    pub fn initrd() -> &'static str {
        static RD: OnceLock<String> = OnceLock::new();
        RD.get_or_init(|| {
            build();
            let mut rd = busybox_root(busybox()).expect("busybox root");
            add_data_tree(&mut rd, "data");
            let mut libs = std::collections::BTreeSet::new();
            for (d, cc, _) in BUILDS {
                let p = prog(d);
                rd.copy(&p, Path::new(&p)).expect("copy program");
                libs.extend(umbra_tests::elf_interp(Path::new(&p)));
                if cc == "gcc" {
                    libs.extend(umbra_tests::ldd_libs(Path::new(&p)));
                }
            }
            // glibc's pthread_cancel loads libgcc_s (for the unwinder)
            // from beside libc.
            let libc = libs
                .iter()
                .find(|l| l.ends_with("/libc.so.6"))
                .cloned()
                .expect("ldd names libc.so.6");
            let gcc_s = libc.replace("/libc.so.6", "/libgcc_s.so.1");
            assert!(Path::new(&gcc_s).is_file(), "{gcc_s} missing (libgcc-s1)");
            libs.insert(gcc_s);
            for l in &libs {
                rd.copy(l, Path::new(l)).expect("copy library");
            }
            let path = dir().join("threads.cpio");
            let tmp = dir().join(format!(".threads.cpio.{}", std::process::id()));
            rd.write(&tmp).expect("write threads.cpio");
            std::fs::rename(&tmp, &path).expect("rename threads.cpio");
            path.display().to_string()
        })
    }

    /// Runs the dynamic `threads` of `build` with `sections` natively and
    /// under umbra and compares the runs.
    pub fn same(build_dir: &str, sections: &[&str]) {
        let rd = initrd();
        let path = prog(build_dir);
        let mut run = Run::busybox(&[]);
        run.guest_path = path.clone();
        run.native_path = PathBuf::from(&path);
        run.args = sections.iter().map(|a| a.to_string()).collect();
        let native = run.native();
        let mut a: Vec<String> = ["run", "--initrd", rd, "--cwd", "/data"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (k, v) in &run.env {
            a.push("--env".into());
            a.push(format!("{k}={v}"));
        }
        a.extend(["--quiet-unsupported", "--", &path].map(String::from));
        a.extend(run.args.iter().cloned());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        compare(&native, &umbra_raw(&a));
    }
}

/// The thread tests with glibc's dynamic linker (libc.so.6, PIE program).
#[test]
fn threads_dynamic_glibc() {
    dynamic::same("glibc", ALL);
}

/// The thread tests with musl's dynamic linker.
#[test]
fn threads_dynamic_musl() {
    dynamic::same("musl", ALL);
}
