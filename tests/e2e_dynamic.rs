//! Dynamically linked programs, natively and under umbra: PT_INTERP with
//! glibc's and musl's dynamic linkers, PIE and non-PIE programs, the auxv the
//! linker reads, dlopen, the linker run directly, a dynamic program executed
//! by busybox sh, bad interpreters (errno as Linux's), `#!` scripts as
//! umbra's own PROGRAM, and klibc's programs (an ET_EXEC interpreter: its
//! shared library, which names itself as PT_INTERP).
//!
//! The programs (`tests/guest/dynamic.c`, `libdyntest.c`, `hello_cxx.cpp`)
//! are built with the host's gcc, g++ and musl-gcc, without `-static`, into
//! `target/guest/dyn/<variant>/`. The test initrd holds them at that same
//! absolute path, beside the host's dynamic linkers and the libraries `ldd`
//! names, at their host paths too: a native run and an umbra run are then the
//! same command line, even when the linker is run directly or a shell runs
//! the program.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use umbra_tests::initrd::{busybox_root, BUSYBOX};
use umbra_tests::{
    add_data_tree, busybox, compare, require_tool, target_dir, umbra_raw, workspace_root, Outcome,
    Run,
};

/// How a variant of the test programs is built.
struct Variant {
    dir: &'static str,
    cc: &'static str,
    package: &'static str,
    flags: &'static [&'static str],
}

const GLIBC_PIE: Variant = Variant {
    dir: "glibc_pie",
    cc: "gcc",
    package: "gcc and libc6-dev",
    flags: &["-pie", "-fPIE"],
};
const GLIBC_NOPIE: Variant = Variant {
    dir: "glibc_nopie",
    cc: "gcc",
    package: "gcc and libc6-dev",
    flags: &["-no-pie"],
};
const MUSL: Variant = Variant {
    dir: "musl",
    cc: "musl-gcc",
    package: "musl-tools",
    flags: &[],
};
const VARIANTS: [&Variant; 3] = [&GLIBC_PIE, &GLIBC_NOPIE, &MUSL];

/// Where the dynamic test programs are built.
fn dyn_dir() -> PathBuf {
    target_dir().join("guest/dyn")
}

/// The host path (also the guest path) of a built program.
fn prog(v: &Variant, name: &str) -> String {
    dyn_dir().join(v.dir).join(name).display().to_string()
}

fn cc(compiler: &Path, args: &[&str], out: &Path, src: &Path) {
    // A temporary name and a rename: a concurrent test process never sees
    // half a binary.
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let r = Command::new(compiler)
        .args(args)
        .arg("-o")
        .arg(&tmp)
        .arg(src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", compiler.display()));
    assert!(
        r.status.success(),
        "{} {args:?} {} failed:\n{}",
        compiler.display(),
        src.display(),
        String::from_utf8_lossy(&r.stderr)
    );
    std::fs::rename(&tmp, out).expect("rename built program");
}

/// Builds every variant (once per test process).
fn build() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let src = workspace_root().join("tests/guest");
        for v in VARIANTS {
            let compiler = require_tool(v.cc, v.package);
            let dir = dyn_dir().join(v.dir);
            std::fs::create_dir_all(&dir).expect("create target/guest/dyn");
            // dlopen is in libc itself (glibc 2.34 on, and musl).
            let mut flags = vec!["-O2", "-Wall"];
            flags.extend(v.flags);
            cc(
                &compiler,
                &flags,
                &dir.join("dynamic"),
                &src.join("dynamic.c"),
            );
            let mut lib = flags.clone();
            lib.extend(["-shared", "-fPIC"]);
            cc(
                &compiler,
                &lib,
                &dir.join("libdyntest.so"),
                &src.join("libdyntest.c"),
            );
        }
        let gxx = require_tool("g++", "g++");
        cc(
            &gxx,
            &["-O2", "-Wall"],
            &dyn_dir().join("glibc_pie/hello_cxx"),
            &src.join("hello_cxx.cpp"),
        );
    });
}

/// klibc's programs (Debian's klibc-utils) that the tests run.
const KLIBC_PROGRAMS: &[&str] = &["sh", "cat", "true", "false", "readlink", "ls"];

/// The path of a klibc program, checked to be there.
fn klibc(name: &str) -> String {
    let p = format!("/usr/lib/klibc/bin/{name}");
    assert!(
        Path::new(&p).is_file(),
        "{p} missing: install klibc-utils (`cargo xtask setup`)"
    );
    p
}

/// The initrd: busybox, the data tree, the programs and their linkers and
/// libraries, and a few `#!` scripts, at `target/guest/dyn/dyn.cpio`.
fn initrd() -> &'static str {
    static RD: OnceLock<String> = OnceLock::new();
    RD.get_or_init(|| {
        build();
        let mut rd = busybox_root(busybox()).expect("busybox root");
        add_data_tree(&mut rd, "data");
        let mut libs = std::collections::BTreeSet::new();
        for v in VARIANTS {
            for name in ["dynamic", "libdyntest.so"] {
                let p = prog(v, name);
                rd.copy(&p, Path::new(&p)).expect("copy program");
                libs.extend(umbra_tests::elf_interp(Path::new(&p)));
                if v.cc == "gcc" {
                    libs.extend(umbra_tests::ldd_libs(Path::new(&p)));
                }
            }
        }
        let cxx = prog(&GLIBC_PIE, "hello_cxx");
        rd.copy(&cxx, Path::new(&cxx)).expect("copy hello_cxx");
        libs.extend(umbra_tests::ldd_libs(Path::new(&cxx)));
        // dlopen("libm.so.6") finds it beside libc.
        let libc = libs
            .iter()
            .find(|l| l.ends_with("/libc.so.6"))
            .cloned()
            .expect("ldd names libc.so.6");
        libs.insert(libc.replace("/libc.so.6", "/libm.so.6"));
        for name in KLIBC_PROGRAMS {
            let p = klibc(name);
            rd.copy(&p, Path::new(&p)).expect("copy klibc program");
            libs.extend(umbra_tests::elf_interp(Path::new(&p)));
        }
        for l in &libs {
            rd.copy(l, Path::new(l)).expect("copy library");
        }
        for (name, text) in scripts() {
            rd.file(&script_path(name), 0o755, text.clone());
        }
        let path = dyn_dir().join("dyn.cpio");
        let tmp = dyn_dir().join(format!(".dyn.cpio.{}", std::process::id()));
        rd.write(&tmp).expect("write dyn.cpio");
        std::fs::rename(&tmp, &path).expect("rename dyn.cpio");
        path.display().to_string()
    })
}

/// The `#!` scripts: (name, text). Written on the host as well, so the
/// native run executes the same file.
fn scripts() -> Vec<(&'static str, String)> {
    vec![
        (
            "script.sh",
            format!(
                "#!/bin/sh\necho \"script: $0 $*\"\n{} hello\necho \"rc=$?\"\n",
                prog(&GLIBC_PIE, "dynamic")
            ),
        ),
        (
            "dynamic_interp",
            format!(
                "#!{} hello\nthis line is never read\n",
                prog(&MUSL, "dynamic")
            ),
        ),
    ]
}

fn script_path(name: &str) -> String {
    dyn_dir().join("scripts").join(name).display().to_string()
}

fn write_scripts() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        build();
        std::fs::create_dir_all(dyn_dir().join("scripts")).expect("mkdir scripts");
        for (name, text) in scripts() {
            let p = script_path(name);
            let tmp = format!("{p}.tmp{}", std::process::id());
            std::fs::write(&tmp, text).expect("write script");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
                .expect("chmod script");
            std::fs::rename(&tmp, &p).expect("rename script");
        }
    });
}

/// Runs `path args` natively and under umbra (same path in both) and
/// compares the runs; returns the umbra run.
fn same(path: &str, args: &[&str]) -> Outcome {
    build();
    write_scripts();
    let rd = initrd();
    let mut run = Run::busybox(&[]);
    run.guest_path = path.to_string();
    run.native_path = PathBuf::from(path);
    run.args = args.iter().map(|a| a.to_string()).collect();
    let native = run.native();
    let mut a: Vec<String> = ["run", "--initrd", rd, "--cwd", "/data"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (k, v) in &run.env {
        a.push("--env".into());
        a.push(format!("{k}={v}"));
    }
    a.extend(["--quiet-unsupported", "--", path].map(String::from));
    a.extend(run.args.iter().cloned());
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let umbra = umbra_raw(&a);
    compare(&native, &umbra);
    umbra
}

const SECTIONS: &[&str] = &[
    "hello",
    "args",
    "auxv",
    "brk",
    "dlopen",
    "threads",
    "interp_errs",
];

fn sections(v: &Variant, extra: &[&str]) {
    let mut s = SECTIONS.to_vec();
    s.extend(extra);
    let out = same(&prog(v, "dynamic"), &s);
    assert!(
        out.stdout_text().contains("dyntest_add(2, 40)=42"),
        "{}",
        out.describe()
    );
}

#[test]
fn glibc_pie_program() {
    sections(&GLIBC_PIE, &["dlopen_libm"]);
}

#[test]
fn glibc_non_pie_program() {
    sections(&GLIBC_NOPIE, &["dlopen_libm"]);
}

#[test]
fn musl_dynamic_program() {
    sections(&MUSL, &[]);
}

#[test]
fn glibc_cxx_hello() {
    same(&prog(&GLIBC_PIE, "hello_cxx"), &[]);
}

#[test]
fn glibc_linker_runs_a_program_directly() {
    let ld = umbra_tests::elf_interp(Path::new(&prog(&GLIBC_PIE, "dynamic"))).expect("PT_INTERP");
    same(
        &ld,
        &[&prog(&GLIBC_PIE, "dynamic"), "hello", "brk", "dlopen"],
    );
    same(&ld, &[&prog(&GLIBC_NOPIE, "dynamic"), "hello"]);
}

#[test]
fn musl_linker_runs_a_program_directly() {
    let ld = umbra_tests::elf_interp(Path::new(&prog(&MUSL, "dynamic"))).expect("PT_INTERP");
    same(&ld, &[&prog(&MUSL, "dynamic"), "hello", "args", "dlopen"]);
}

/// Regression: busybox sh got ENOEXEC for a dynamic program, ran it as a
/// script and printed "syntax error".
#[test]
fn busybox_sh_execs_dynamic_programs() {
    let cmd = format!(
        "{} hello; echo rc=$?; {} hello exit7; echo rc=$?; {} hello; echo rc=$?",
        prog(&GLIBC_PIE, "dynamic"),
        prog(&MUSL, "dynamic"),
        prog(&GLIBC_NOPIE, "dynamic")
    );
    let out = same(BUSYBOX, &["sh", "-c", &cmd]);
    assert!(out.stdout_text().contains("rc=7"), "{}", out.describe());
}

/// A `#!` script given as umbra's PROGRAM runs as execve would run it.
#[test]
fn shebang_script_as_program() {
    let out = same(&script_path("script.sh"), &["a", "b c"]);
    assert!(out.stdout_text().contains("rc=0"), "{}", out.describe());
    // The interpreter line names a dynamic program with an argument.
    same(&script_path("dynamic_interp"), &["args"]);
}

/// klibc's programs: their interpreter is klibc's shared library itself, an
/// ET_EXEC at a fixed address.
#[test]
fn klibc_programs() {
    same(&klibc("cat"), &["hello.txt", "sub/a.txt"]);
    same(&klibc("true"), &[]);
    same(&klibc("false"), &[]);
    same(&klibc("readlink"), &["link"]);
    same(&klibc("ls"), &["sub/a.txt", "hello.txt"]);
    let out = same(
        &klibc("sh"),
        &[
            "-c",
            &format!(
                "echo $((6 * 7)); {} sub/b.txt; {}; echo rc=$?",
                klibc("cat"),
                klibc("false")
            ),
        ],
    );
    assert!(out.stdout_text().contains("42"), "{}", out.describe());
}
