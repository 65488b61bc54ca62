//! The device ROM build of umbra (issue 14, Table 1): `umbra-shim` built
//! with `--no-default-features` leaves out the parts a small device does not
//! need (shim/Cargo.toml, core/Cargo.toml). What it leaves out must answer
//! honestly, never as a silent success:
//!
//! - the guest's calls: System V IPC and inotify fail with ENOSYS, AF_INET,
//!   AF_INET6 and AF_NETLINK sockets with EAFNOSUPPORT, as on a Linux built
//!   without CONFIG_SYSVIPC, CONFIG_INOTIFY_USER, CONFIG_INET and
//!   CONFIG_NETLINK (tests/guest/device_parts.c; natively and under the full
//!   build every part is there, compared with the native run);
//! - their /proc files: no /proc/net/tcp or udp, no /proc/sysvipc, no
//!   kernel.shmmax (as those kernels have none);
//! - the options and commands: `umbra image`, `--root DIR`, `--mount DIR:/D`,
//!   `--net host`, `--publish`, `--unix-socket` and `--strace` fail with
//!   "this build of umbra has no ...";
//! - what it keeps still works: busybox runs, pipes, AF_UNIX.
//!
//! Also here: `umbra image create` counts a file's hard links once when it
//! sizes an image (busybox's applet links made the Table 1 image 65 KB larger).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use umbra_tests::{
    assert_same, execute_umbra, target_dir, test_initrd, umbra_raw, workspace_root, Input, Libc,
    Outcome, Run,
};

/// umbra built with `--no-default-features` (dev profile, its own target
/// directory), once per test process.
fn device_umbra() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = target_dir().join("device-build");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "umbra-shim",
                "--no-default-features",
            ])
            .env("CARGO_TARGET_DIR", &dir)
            .current_dir(workspace_root())
            .status()
            .expect("cannot run cargo");
        assert!(status.success(), "the device build of umbra failed");
        dir.join("debug/umbra")
    })
}

fn device_run(run: &Run) -> Outcome {
    let mut cmd = Command::new(device_umbra());
    cmd.args(run.umbra_args());
    execute_umbra(cmd, &Input::Null)
}

fn device_raw(args: &[&str]) -> Outcome {
    let mut cmd = Command::new(device_umbra());
    cmd.args(args);
    execute_umbra(cmd, &Input::Null)
}

const SECTIONS: &[&str] = &["ipc", "inotify", "inet", "netlink", "unix", "procfs"];

#[test]
fn full_build_has_every_part_as_native() {
    for libc in Libc::ALL {
        let out = assert_same(&Run::guest(libc, "device_parts").args(SECTIONS));
        assert!(!out.stdout_text().contains(": E"), "{}", out.describe());
    }
}

#[test]
fn device_build_answers_left_out_calls_as_linux_without_them() {
    for libc in Libc::ALL {
        let out = device_run(&Run::guest(libc, "device_parts").args(SECTIONS));
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            "shmget: ENOSYS\nsemget: ENOSYS\nmsgget: ENOSYS\ninotify_init1: ENOSYS\n\
             socket(AF_INET): EAFNOSUPPORT\nsocket(AF_INET6): EAFNOSUPPORT\n\
             socket(AF_NETLINK): EAFNOSUPPORT\nsocketpair(AF_UNIX): ok\n\
             /proc/net/tcp: ENOENT\n/proc/net/udp: ENOENT\n/proc/net/unix: ok\n\
             /proc/sysvipc/shm: ENOENT\n/proc/sys/kernel/shmmax: ENOENT\n",
            "{}",
            out.describe()
        );
    }
}

#[test]
fn device_build_still_runs_busybox() {
    let out = device_run(&Run::busybox(&[
        "sh",
        "-c",
        "seq 1 50 | sort -rn | head -n 2; echo x > /tmp/f && cat /tmp/f; ps -o comm | grep -cx ps",
    ]));
    out.assert_code(0);
    assert_eq!(out.stdout_text(), "50\n49\nx\n1\n", "{}", out.describe());
}

#[test]
fn device_build_refuses_left_out_options() {
    let dir = target_dir().join(format!("device-tests-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tree")).unwrap();
    let tree = dir.join("tree").display().to_string();
    let img = dir.join("x.img").display().to_string();
    let mount = format!("{tree}:/mnt");
    let rd = test_initrd().display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &["image", "create", &tree, "-o", &img],
            "this build of umbra has no `umbra image` (built without the `image-tool` feature)",
        ),
        (&["image", "check", &img], "without the `image-tool` feature"),
        (
            &["run", "--root", &tree, "--", "/bin/sh"],
            "has no host-directory file system (--root DIR, --mount DIR:/DIR) (built without the `hostfs` feature)",
        ),
        (
            &["run", "--initrd", &rd, "--mount", &mount, "--", "/bin/sh"],
            "has no host-directory file system",
        ),
        (
            &["run", "--net", "host", "--", "/bin/sh"],
            "has no host networking (--net host) (built without the `net-host` feature)",
        ),
        (
            &["run", "--publish", "8080:80", "--", "/bin/sh"],
            "has no host networking (--publish)",
        ),
        (
            &["run", "--unix-socket", "/a:/b", "--", "/bin/sh"],
            "has no host networking (--unix-socket)",
        ),
        (
            &["run", "--strace", "--", "/bin/sh"],
            "has no --strace (built without the `strace` feature)",
        ),
        (
            &["state", "some-container"],
            "has no OCI runtime (built without the `oci` feature)",
        ),
    ];
    for (args, want) in cases {
        let out = device_raw(args);
        assert_ne!(out.status.code(), 0, "{args:?}: {}", out.describe());
        assert!(
            out.stderr_text().contains(want),
            "{args:?}: {}",
            out.describe()
        );
        assert!(!out.stderr_text().contains("panic"), "{}", out.describe());
    }
    // The full build serves them (the image tool here).
    umbra_raw(&["image", "create", &tree, "-o", &img]).assert_code(0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn image_create_counts_hard_links_once() {
    let dir = target_dir().join(format!("device-links-{}", std::process::id()));
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("bin/file"), vec![7u8; 256 << 10]).unwrap();
    for i in 0..400 {
        std::fs::hard_link(tree.join("bin/file"), tree.join(format!("bin/l{i}"))).unwrap();
    }
    let img = dir.join("links.img");
    let out = umbra_raw(&[
        "image",
        "create",
        &tree.display().to_string(),
        "-o",
        &img.display().to_string(),
    ]);
    out.assert_code(0);
    // One copy of the data and one inode: counted per name, the suggested
    // size was over 100 MB.
    let len = std::fs::metadata(&img).unwrap().len();
    assert!(len < 4 << 20, "image of {len} bytes for one 256 KB file");
    umbra_raw(&["image", "check", &img.display().to_string()]).assert_code(0);
    let debugfs = Command::new("debugfs")
        .args(["-R", "stat /bin/l399"])
        .arg(&img)
        .output()
        .expect("debugfs (e2fsprogs)");
    let stat = String::from_utf8_lossy(&debugfs.stdout);
    assert!(stat.contains("Links: 401"), "{stat}");
    let _ = std::fs::remove_dir_all(&dir);
}
