//! Issue 15's host-directory filesystem (hostfs): `--root DIR` and
//! `--mount DIR:/path[:ro|:rw]` serve host directories to the guest.
//!
//! - A static busybox tree made here in a temp dir as the root: ls, cat, sh
//!   scripts, find, and stat output compared with the host's own view.
//! - The Debian bookworm tree that `images/debian/build.sh` caches, as the
//!   root (read-only, writes in the in-memory overlay): bash, python3,
//!   dpkg -l; the host tree is unchanged afterwards.
//! - `--mount DIR:/data:rw` writes reach the host; `:ro` is EROFS; a plain
//!   mount keeps its writes in memory.
//! - Escapes: `..` from the root, absolute symlinks to /, a symlink to
//!   ../../canary, /proc/self/root tricks and a rename race find nothing
//!   outside the granted directory (a canary file next to it is never
//!   read). A hard link made on the host to a file outside is simply that
//!   file (the host's doing; see SECURITY.md).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use umbra_tests::{
    busybox, compare, execute_native, execute_umbra, target_dir, test_initrd, umbra, Input, Libc,
    Outcome, Run,
};

const SECRET: &str = "CANARY-OUTSIDE-THE-ROOT";

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = target_dir()
        .join("hostfs-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `base/root`: a static busybox with its applet links, a few files, and
/// `base/canary` outside it.
fn busybox_tree(base: &Path) -> PathBuf {
    let root = base.join("root");
    for d in [
        "bin", "etc", "data/sub", "tmp", "mnt/rw", "mnt/ro", "mnt/ovl",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    for app in [
        "sh", "ls", "cat", "echo", "find", "stat", "mkdir", "rm", "mv", "ln", "sort", "wc", "head",
        "readlink", "touch", "chmod", "grep", "true", "test", "[", "mknod", "mkfifo",
    ] {
        symlink("busybox", root.join("bin").join(app)).unwrap();
    }
    std::fs::write(root.join("etc/msg"), "hello from the host\n").unwrap();
    std::fs::write(root.join("data/a.txt"), "aaa\n").unwrap();
    std::fs::write(root.join("data/sub/b.txt"), vec![b'b'; 10000]).unwrap();
    std::fs::write(
        root.join("bin/script.sh"),
        "#!/bin/sh\necho script \"$@\"\n",
    )
    .unwrap();
    Command::new("chmod")
        .args(["755"])
        .arg(root.join("bin/script.sh"))
        .status()
        .unwrap();
    Command::new("chmod")
        .args(["640"])
        .arg(root.join("data/a.txt"))
        .status()
        .unwrap();
    Command::new("chown")
        .args(["1234:567"])
        .arg(root.join("data/a.txt"))
        .status()
        .unwrap();
    symlink("../etc/msg", root.join("data/link")).unwrap();
    // Escape attempts.
    std::fs::write(base.join("canary"), SECRET).unwrap();
    symlink("../../canary", root.join("esc")).unwrap();
    symlink("/", root.join("abs")).unwrap();
    symlink("../..", root.join("data/up")).unwrap();
    symlink("/../../canary", root.join("data/abs-esc")).unwrap();
    root
}

fn run_umbra(args: &[&str], script: &str) -> Outcome {
    run_umbra_env(args, script, &[])
}

fn run_umbra_env(args: &[&str], script: &str, env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(umbra());
    cmd.envs(env.iter().copied());
    cmd.arg("run")
        .args(args)
        .args(["--timeout", "120", "--", "/bin/sh", "-c", script]);
    execute_umbra(cmd, &Input::Null)
}

fn assert_ok(o: &Outcome) {
    o.assert_code(0);
    o.assert_no_leftovers();
}

fn assert_no_secret(o: &Outcome) {
    assert!(
        !o.stdout_text().contains(SECRET) && !o.stderr_text().contains(SECRET),
        "the canary outside the root was read:\n{}",
        o.describe()
    );
}

#[test]
fn busybox_tree_as_root_reads_like_the_host() {
    let base = scratch("bb");
    let root = busybox_tree(&base);
    let r = root.to_str().unwrap();
    let o = run_umbra(
        &["--root", r],
        "cat /etc/msg; ls /data; cat /data/link; /bin/script.sh one two; \
         find /data | sort; wc -c /data/sub/b.txt; readlink /data/link; \
         echo 'echo from a script file' > /tmp/s.sh; sh /tmp/s.sh",
    );
    assert_ok(&o);
    assert_eq!(
        o.stdout_text(),
        "hello from the host\na.txt\nabs-esc\nlink\nsub\nup\nhello from the host\n\
         script one two\n/data\n/data/a.txt\n/data/abs-esc\n/data/link\n/data/sub\n\
         /data/sub/b.txt\n/data/up\n10000 /data/sub/b.txt\n../etc/msg\nfrom a script file\n"
    );
    // stat as the guest sees it, against the host's own view of the same
    // nodes (ownership and modes as stored; inode numbers, sizes, times).
    let fmt = "%n %s %a %u %g %F %i %h %Y";
    let files = "data/a.txt data/link data/sub data/sub/b.txt etc/msg bin/script.sh bin/sh";
    let o = run_umbra(&["--root", r], &format!("cd / && stat -c '{fmt}' {files}"));
    assert_ok(&o);
    let mut cmd = Command::new(busybox());
    cmd.current_dir(&root).args(["stat", "-c", fmt]);
    cmd.args(files.split(' '));
    let n = execute_native(cmd, &Input::Null);
    n.assert_code(0);
    assert_eq!(o.stdout_text(), n.stdout_text());
    // statfs: the host filesystem's figures (total blocks, block size,
    // name length), under hostfs's magic.
    let o = run_umbra(&["--root", r], "stat -f -c '%b %S %l %t' /data");
    assert_ok(&o);
    let mut cmd = Command::new(busybox());
    cmd.args(["stat", "-f", "-c", "%b %S %l"]).arg(&root);
    let n = execute_native(cmd, &Input::Null);
    assert_eq!(
        o.stdout_text(),
        format!("{} c0ffee\n", n.stdout_text().trim_end())
    );
}

#[test]
fn overlay_writes_stay_in_memory() {
    let base = scratch("ovl");
    let root = busybox_tree(&base);
    let r = root.to_str().unwrap();
    let before = tree_sum(&root);
    let o = run_umbra(
        &["--root", r],
        "echo new > /etc/new; echo more >> /etc/msg; cat /etc/new /etc/msg; \
         rm /data/a.txt; mkdir -p /data/d/e; mv /data/sub /data/d/e/moved; \
         ln -s /etc/new /data/sl; ln /etc/new /data/hard; chmod 600 /etc/msg; \
         touch /data/d/t; ls /data; ls /data/d/e/moved; cat /data/sl /data/hard; \
         stat -c '%a %h' /etc/msg /etc/new; rm -r /data/d; ls /data; \
         test -e /data/a.txt || echo gone",
    );
    assert_ok(&o);
    assert_eq!(
        o.stdout_text(),
        "new\nhello from the host\nmore\nabs-esc\nd\nhard\nlink\nsl\nup\nb.txt\nnew\nnew\n\
         600 1\n644 2\nabs-esc\nhard\nlink\nsl\nup\ngone\n"
    );
    assert_eq!(tree_sum(&root), before, "the host tree changed");
}

#[test]
fn escapes_find_nothing_outside_the_root() {
    escapes("esc", &[]);
}

/// The same on the lookups old kernels get: openat of one component with
/// O_NOFOLLOW and a same-mount check, where openat2 is missing (forced by a
/// debug-build hook; a release `UMBRA_BIN` ignores it and uses openat2).
#[test]
fn escapes_find_nothing_outside_the_root_without_openat2() {
    escapes("esc-noat2", &[("UMBRA_TEST_NO_OPENAT2", "1")]);
}

fn escapes(name: &str, env: &[(&str, &str)]) {
    let base = scratch(name);
    let root = busybox_tree(&base);
    let r = root.to_str().unwrap();
    // A hard link made on the host to a file outside the root is that file:
    // the host granted it.
    std::fs::write(base.join("linked-outside"), "host-made hard link\n").unwrap();
    std::fs::hard_link(base.join("linked-outside"), root.join("hardlink")).unwrap();
    let data = scratch(&format!("{name}-data"));
    std::fs::create_dir_all(data.join("a/b")).unwrap();
    std::fs::write(data.join("a/b/f"), "in data\n").unwrap();
    let d = data.to_str().unwrap();
    let o = run_umbra_env(
        &["--root", r, "--mount", &format!("{d}:/mnt/rw:rw")],
        "for p in /esc /../canary /../../canary /abs/../canary /abs/../../canary \
           /data/up/canary /data/up/../canary /data/abs-esc /proc/self/root/../canary \
           /proc/1/root/../../canary /proc/self/cwd/../../canary /mnt/../canary \
           /mnt/../../canary /mnt/../../../canary; do \
           cat $p 2>/dev/null && echo LEAK $p; done; \
         cd /data && cat ../../canary ../../../canary 2>/dev/null && echo LEAK-rel; \
         ls /abs/ | head -3; readlink /proc/self/root; cat /proc/self/root/etc/msg; \
         cat /hardlink; \
         ( i=0; while [ $i -lt 200 ]; do mv /mnt/rw/a /mnt/rw/z; mv /mnt/rw/z /mnt/rw/a; i=$((i+1)); done ) & \
         ( i=0; while [ $i -lt 200 ]; do mv /data/sub /data/zz; mv /data/zz /data/sub; i=$((i+1)); done ) & \
         j=0; while [ $j -lt 200 ]; do \
           cat /mnt/rw/a/b/../../../../canary /mnt/rw/a/../../../canary /mnt/rw/z/b/../../../../../canary \
             /data/sub/../../../canary /data/zz/../up/canary 2>/dev/null && echo LEAK-race; \
           j=$((j+1)); done; wait; cat /mnt/rw/a/b/f; echo done",
        env,
    );
    assert_ok(&o);
    assert_no_secret(&o);
    assert_eq!(
        o.stdout_text(),
        "abs\nbin\ndata\n/\nhello from the host\nhost-made hard link\nin data\ndone\n"
    );
}

#[test]
fn mounts_rw_ro_and_overlay() {
    let base = scratch("mnt");
    let root = busybox_tree(&base);
    let r = root.to_str().unwrap();
    let rw = scratch("mnt-rw");
    std::fs::write(rw.join("old"), "old\n").unwrap();
    std::fs::create_dir(rw.join("gone")).unwrap();
    let ro = scratch("mnt-ro");
    std::fs::write(ro.join("f"), "ro file\n").unwrap();
    let ovl = scratch("mnt-ovl");
    std::fs::write(ovl.join("f"), "overlay file\n").unwrap();
    let o = run_umbra(
        &[
            "--root",
            r,
            "--mount",
            &format!("{}:/mnt/rw:rw", rw.display()),
            "--mount",
            &format!("{}:/mnt/ro:ro", ro.display()),
            "--mount",
            &format!("{}:/mnt/ovl", ovl.display()),
        ],
        "cd /mnt/rw && echo written > new && mkdir -p d/e && mv old d/e/renamed && \
         ln -s new sym && ln new hard && rmdir gone && echo app >> new && chmod 600 new && \
         touch -d '2001-02-03 04:05:06' d/e/renamed && ls; \
         echo x > /mnt/ro/g || echo ro-refused; rm /mnt/ro/f || echo ro-refused; \
         cat /mnt/ro/f; echo changed > /mnt/ovl/f; cat /mnt/ovl/f; \
         grep -c ' /mnt/ro ' /proc/mounts; mknod /mnt/rw/cdev c 1 3 || echo no-devices; \
         mkfifo /mnt/rw/fifo && chmod 604 /mnt/rw/fifo && stat -c '%F %a' /mnt/rw/fifo",
    );
    assert_ok(&o);
    assert!(
        o.stderr_text().contains("Read-only file system"),
        "{}",
        o.describe()
    );
    assert_eq!(
        o.stdout_text(),
        "d\nhard\nnew\nsym\nro-refused\nro-refused\nro file\nchanged\n1\nno-devices\nfifo 604\n"
    );
    assert_eq!(
        std::fs::read_to_string(rw.join("new")).unwrap(),
        "written\napp\n"
    );
    assert_eq!(
        std::fs::read_to_string(rw.join("hard")).unwrap(),
        "written\napp\n"
    );
    assert_eq!(
        std::fs::read_link(rw.join("sym")).unwrap(),
        Path::new("new")
    );
    assert_eq!(
        std::fs::read_to_string(rw.join("d/e/renamed")).unwrap(),
        "old\n"
    );
    let m = std::fs::metadata(rw.join("d/e/renamed")).unwrap();
    assert_eq!(m.mtime(), 981173106);
    assert_eq!(
        std::fs::metadata(rw.join("new")).unwrap().mode() & 0o777,
        0o600
    );
    assert!(!rw.join("gone").exists() && !rw.join("old").exists());
    assert!(!ro.join("g").exists() && !rw.join("cdev").exists());
    let fifo = std::fs::symlink_metadata(rw.join("fifo")).unwrap();
    assert!(fifo.file_type().is_fifo() && fifo.mode() & 0o777 == 0o604);
    assert_eq!(
        std::fs::read_to_string(ovl.join("f")).unwrap(),
        "overlay file\n"
    );
}

/// Landlock: once confined, umbra itself can open nothing outside the
/// granted directories, even by an absolute path without resolve flags (a
/// debug-build hook makes that call after confinement; seccomp lets openat2
/// through, Landlock refuses it).
#[test]
fn confined_umbra_opens_nothing_outside_the_granted_directories() {
    let base = scratch("landlock");
    let root = busybox_tree(&base);
    let inside = root.join("etc/msg");
    let outside = base.join("canary");
    let probe = format!("{}:{}", inside.display(), outside.display());
    let o = run_umbra_env(
        &["--root", root.to_str().unwrap()],
        "echo ran",
        &[("UMBRA_TEST_OPEN_PROBE", &probe)],
    );
    assert_ok(&o);
    assert_eq!(o.stdout_text(), "ran\n");
    let err = o.stderr_text();
    assert!(
        err.contains(&format!("open probe {}: Ok(())", inside.display()))
            && err.contains(&format!("open probe {}: Err(Errno(13))", outside.display())),
        "{}",
        o.describe()
    );
}

#[test]
fn host_mount_points_inside_the_tree_are_not_crossed() {
    // In a private mount namespace: a tmpfs mounted inside the granted tree
    // (as a chroot with /proc mounted would have) stays out of reach.
    let base = scratch("xdev");
    let root = busybox_tree(&base);
    std::fs::create_dir(root.join("mp")).unwrap();
    let script = format!(
        "mount -t tmpfs none {r}/mp && echo {SECRET} > {r}/mp/f && \
         exec {u} run --root {r} -- /bin/sh -c \
         'cat /mp/f; ls /mp; cd /mp || echo refused; echo done'",
        r = root.display(),
        u = umbra().display(),
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    let o = execute_native(cmd, &Input::Null);
    o.assert_code(0);
    assert_no_secret(&o);
    assert_eq!(o.stdout_text(), "refused\ndone\n");
    assert!(
        o.stderr_text().contains("Permission denied"),
        "{}",
        o.describe()
    );
}

/// The test initrd (busybox, the guest programs, /data) unpacked into a
/// fresh host directory.
fn initrd_tree(name: &str) -> PathBuf {
    let d = scratch(name);
    let archive = std::fs::File::open(test_initrd()).unwrap();
    let st = Command::new("cpio")
        .args(["-idm", "--quiet", "--no-absolute-filenames"])
        .current_dir(&d)
        .stdin(archive)
        .status()
        .expect("cpio");
    assert!(st.success());
    d
}

/// Runs sections of a guest program natively and under umbra with the
/// unpacked initrd as a host-directory root (`extra`: `--rw`, or nothing
/// for the overlay) and compares them, as `assert_same`.
fn same_on_hostfs(libc: Libc, program: &str, sections: &[&str], extra: &[&str]) {
    let run = Run::guest(libc, program).args(sections);
    let native = run.native();
    let tree = initrd_tree(&format!("{program}-{}-{}", libc.name(), extra.len()));
    let mut args = run.umbra_args();
    let at = args.iter().position(|a| a == "--initrd").unwrap();
    args[at] = "--root".into();
    args[at + 1] = tree.display().to_string();
    for (i, e) in extra.iter().enumerate() {
        args.insert(at + 2 + i, e.to_string());
    }
    let mut cmd = Command::new(umbra());
    cmd.args(&args);
    let o = execute_umbra(cmd, &Input::Null);
    compare(&native, &o);
}

/// The guest programs of the file tests, on a host-directory root in both
/// write modes, print what they print natively.
#[test]
fn file_programs_on_hostfs_same_as_native() {
    for libc in Libc::ALL {
        for extra in [&[][..], &["--rw"][..]] {
            same_on_hostfs(libc, "files", &[], extra);
            same_on_hostfs(
                libc,
                "paths",
                // The fifo section makes a character device: on a
                // write-through root that is EPERM (no device nodes on the
                // host; see mounts_rw_ro_and_overlay), so it runs on the
                // overlay only.
                if extra.is_empty() {
                    &["open", "opath", "bytes", "fifo", "utime"]
                } else {
                    &["open", "opath", "bytes", "utime"]
                },
                extra,
            );
            same_on_hostfs(
                libc,
                "fileio",
                &[
                    "fcntl_flags",
                    "offsets",
                    "fsize",
                    "preadv",
                    "getdents",
                    "sendfile",
                ],
                extra,
            );
            same_on_hostfs(libc, "filemap", &[], extra);
        }
    }
}

/// A checksum of a tree as lstat and readlink see it (names, types, modes,
/// owners, sizes, mtimes, link targets, contents of small files).
fn tree_sum(root: &Path) -> u64 {
    fn walk(p: &Path, h: &mut DefaultHasher) {
        let m = std::fs::symlink_metadata(p).unwrap();
        (
            p,
            m.mode(),
            m.uid(),
            m.gid(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.nlink(),
        )
            .hash(h);
        if m.file_type().is_symlink() {
            std::fs::read_link(p).unwrap().hash(h);
        } else if m.is_file() && m.size() < 4096 {
            std::fs::read(p).unwrap().hash(h);
        } else if m.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            for n in names {
                walk(&n, h);
            }
        }
    }
    let mut h = DefaultHasher::new();
    walk(root, &mut h);
    h.finish()
}

/// The Debian tree `images/debian/build.sh` caches (built on first use).
fn debian_tree() -> PathBuf {
    umbra_tests::debian_image_dir().join("tree")
}

/// A python3 program: writes 8 KiB of 'a' to argv[1], maps it MAP_SHARED,
/// writes HELLO through the mapping, unmaps, and reads the file back.
const MMAP: &str = "import mmap, sys
p = sys.argv[1]
with open(p, 'w+b') as f:
    f.write(b'a' * 8192)
    f.flush()
    m = mmap.mmap(f.fileno(), 8192)
    m[0:5] = b'HELLO'
    m.flush()
    m.close()
d = open(p, 'rb').read()
print(d[:8], len(d))";

#[test]
fn debian_tree_as_read_only_root() {
    let tree = debian_tree();
    let before = tree_sum(&tree);
    let rw = scratch("deb-rw");
    let mount = format!("{}:/mnt:rw", rw.display());
    let mmap_env = format!("MMAP={MMAP}");
    let mut cmd = Command::new(umbra());
    cmd.arg("run")
        .args(["--root", tree.to_str().unwrap(), "--mount", &mount])
        .args(["--mem", "1G", "--timeout", "300", "--quiet-unsupported"])
        .args([
            "--env",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "--env",
            "HOME=/root",
        ])
        .args(["--env", &mmap_env, "--", "/bin/bash", "-c"])
        .arg(
            "echo hi; python3 -c 'import json; print(json.dumps({\"x\": 6 * 7}))'; \
             dpkg -l | head -6 | tail -1 | cut -c1-12; \
             echo new > /etc/hostfs-new; echo appended >> /etc/hostname; rm /etc/issue.net; \
             mkdir /opt/x && cp /bin/true /opt/x/t && /opt/x/t && echo ran-copy; \
             cat /etc/hostfs-new /etc/hostname; ls /etc/issue.net 2>&1 | grep -c 'No such'; \
             for f in /mnt/m /root/m; do python3 -c \"$MMAP\" $f; done",
        );
    let o = execute_umbra(cmd, &Input::Null);
    assert_ok(&o);
    // MAP_SHARED writes go through the page cache: to the host on the :rw
    // mount, to the in-memory copy on the overlay root.
    assert_eq!(
        o.stdout_text(),
        "hi\n{\"x\": 42}\nii  adduser \nran-copy\nnew\numbra\nappended\n1\n\
         b'HELLOaaa' 8192\nb'HELLOaaa' 8192\n"
    );
    assert_eq!(tree_sum(&tree), before, "the Debian tree changed");
    let m = std::fs::read(rw.join("m")).unwrap();
    assert_eq!((&m[..8], m.len()), (&b"HELLOaaa"[..], 8192));
    assert!(!tree.join("root/m").exists());
}
