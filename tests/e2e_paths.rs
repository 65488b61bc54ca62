//! End-to-end tests of path names and the VFS (issue 10): the `paths` program
//! of `tests/guest/` (open's O_TRUNC, O_CREAT-through-symlink and directory
//! rules, O_PATH descriptors, FIFOs, non-UTF-8 names, utime/utimes), run
//! natively and under umbra with both C libraries and compared; busybox's
//! `mkfifo`; and the boot-time mounts, which must never hide what the root
//! archive or image holds.

#[allow(dead_code)]
#[path = "ext2_util.rs"]
mod ext2_util;

use ext2_util::{assert_fsck_clean, busybox_tree, debugfs, mke2fs, run_image, scratch};
use umbra_tests::{assert_same, busybox, guest_binary, initrd, target_dir, umbra_raw, Libc, Run};

/// Runs sections of `paths` natively and under umbra and compares.
fn paths_same(libc: Libc, sections: &[&str]) {
    assert_same(&Run::guest(libc, "paths").args(sections));
}

macro_rules! paths_tests {
    ($($test:ident: $sections:expr;)*) => {$(
        #[test]
        fn $test() {
            for libc in Libc::ALL {
                paths_same(libc, $sections);
            }
        }
    )*};
}

paths_tests! {
    open_trunc_creat_through_symlinks_and_directories: &["open"];
    o_path_descriptors_refuse_file_calls: &["opath"];
    names_that_are_not_utf8_work_on_tmpfs: &["bytes"];
    fifos_mknod_and_the_open_rendezvous: &["fifo"];
    utime_utimes_and_futimesat: &["utime"];
    chroot_root_dotdot_inheritance_and_eperm: &["chroot"];
    mount_and_umount_tmpfs_and_proc: &["mount"];
}

/// busybox `mkfifo`, and data through the FIFO between two processes, on the
/// root tmpfs, compared with native.
#[test]
fn busybox_mkfifo_on_tmpfs() {
    assert_same(&Run::busybox(&[
        "sh",
        "-c",
        "mkfifo -m 600 p && stat -c '%F %a' p && (echo through > p &) && cat p && rm p && echo ok",
    ]));
}

/// busybox `mkfifo` on an ext2 image (`--rw`): the node keeps its type on
/// the image (debugfs), e2fsck finds it clean, and it works as a FIFO.
#[test]
fn busybox_mkfifo_on_ext2() {
    let d = scratch("paths-fifo");
    let tree = d.join("tree");
    busybox_tree(&tree);
    let img = d.join("root.img");
    mke2fs(&tree, &img, 1024, "16M");
    let out = run_image(
        &img,
        &["--rw"],
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "cd /data && /bin/busybox mkfifo p && /bin/busybox stat -c '%F %a' p && \
             (echo through > p &) && /bin/busybox cat p",
        ],
    );
    out.assert_code(0);
    assert_eq!(
        out.stdout_text(),
        "fifo 644\nthrough\n",
        "{}",
        out.describe()
    );
    assert_fsck_clean(&img);
    let st = String::from_utf8_lossy(&debugfs(&img, "stat /data/p")).into_owned();
    assert!(st.contains("Type: FIFO"), "debugfs stat: {st}");
    let _ = std::fs::remove_dir_all(&d);
}

/// The busybox script of [`non_utf8_names_on_ext2_match_native`]: makes,
/// renames, links and removes files whose names are not UTF-8, and lists
/// them with `ls` (hex-dumped, so the outputs are plain text).
const BYTES_SCRIPT: &str = "\
b() { /bin/busybox \"$@\"; }
cd \"$1\" && b mkdir w && cd w || exit 9
a=$(b printf 'caf\\351'); x=$(b printf '\\200x'); d=$(b printf 'd\\377\\376')
echo latin > \"$a\" && b touch \"$x\" && b mkdir \"$d\" && b mkdir keep
b mv \"$a\" \"$d/$(b printf '\\377')\" && b ln -s \"$(b printf 'tgt\\350')\" \"$d/ln\"
b ln \"$d/$(b printf '\\377')\" \"keep/$(b printf 'h\\240')\"
b rm \"$x\"
b ls -1a . \"$d\" keep | b od -An -c
b readlink \"$d/ln\" | b od -An -c
b cat \"keep/$(b printf 'h\\240')\"
";

/// The same script natively (in a scratch directory) and under umbra on an
/// ext2 image (`--image --rw`): the outputs agree, `e2fsck -fn` finds the
/// image clean, and debugfs sees the raw bytes of each name.
#[test]
fn non_utf8_names_on_ext2_match_native() {
    let d = scratch("paths-bytes");
    let native_dir = d.join("native");
    std::fs::create_dir_all(&native_dir).unwrap();
    let native = std::process::Command::new(busybox())
        .args(["sh", "-c", BYTES_SCRIPT, "sh"])
        .arg(&native_dir)
        .env_clear()
        .env("PATH", "/bin:/usr/bin")
        .output()
        .expect("run busybox natively");
    assert!(native.status.success(), "{native:?}");
    let tree = d.join("tree");
    busybox_tree(&tree);
    let img = d.join("root.img");
    mke2fs(&tree, &img, 1024, "16M");
    let out = run_image(
        &img,
        &["--rw"],
        &["/bin/busybox", "sh", "-c", BYTES_SCRIPT, "sh", "/data"],
    );
    out.assert_code(0);
    assert_eq!(
        out.stdout_text(),
        String::from_utf8_lossy(&native.stdout),
        "{}",
        out.describe()
    );
    assert_fsck_clean(&img);
    let ls = debugfs(&img, "ls -p /data/w/keep");
    assert!(
        ls.windows(3).any(|w| w == b"/h\xa0") || ls.windows(3).any(|w| w == b"h\xa0"),
        "debugfs ls: {}",
        String::from_utf8_lossy(&ls)
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// The files a root archive or image puts in /tmp and /run stay visible: no
/// tmpfs is mounted over a directory that holds something.
#[test]
fn boot_mounts_never_hide_the_roots_files() {
    let d = scratch("paths-hide");
    let mut rd = initrd::busybox_root(busybox()).expect("busybox root");
    rd.file("tmp/keep", 0o644, "kept in /tmp\n")
        .file("run/keep", 0o644, "kept in /run\n");
    let cpio = d.join("root.cpio");
    rd.write(&cpio).expect("write initrd");
    let cpio = cpio.display().to_string();
    let script = "cat /tmp/keep /run/keep; grep -c ' /tmp \\| /run ' /proc/mounts; \
                  grep -c ' /dev/shm ' /proc/mounts";
    let out = umbra_raw(&["run", "--initrd", &cpio, "--", "/bin/sh", "-c", script]);
    out.assert_code(0);
    assert_eq!(
        out.stdout_text(),
        "kept in /tmp\nkept in /run\n0\n1\n",
        "{}",
        out.describe()
    );
    // An ext2 root: /tmp holds a file (kept, no tmpfs), /run is empty (a
    // tmpfs goes there, hiding nothing).
    let tree = d.join("tree");
    busybox_tree(&tree);
    std::fs::write(tree.join("tmp/keep"), "kept on the image\n").unwrap();
    std::fs::create_dir_all(tree.join("run")).unwrap();
    let img = d.join("root.img");
    mke2fs(&tree, &img, 4096, "16M");
    let out = run_image(
        &img,
        &[],
        &[
            "/bin/busybox",
            "sh",
            "-c",
            "cat /tmp/keep; grep -c ' /tmp ' /proc/mounts; grep -c ' /run ' /proc/mounts",
        ],
    );
    assert_eq!(
        out.stdout_text(),
        "kept on the image\n0\n1\n",
        "{}",
        out.describe()
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// What umbra's mount cannot do fails (a file system type it does not have:
/// ENODEV; read-only tmpfs: not supported), making mounts private succeeds (every
/// umbra mount is), and a guest mount shows in /proc/mounts with its flags.
#[test]
fn mount_refuses_what_it_cannot_do_and_lists_the_rest() {
    let script = "mkdir /mnt2; \
        mount -t nosuchfs none /mnt2 2>/dev/null; echo nosuchfs $?; \
        mount -t tmpfs -o ro tmpfs /mnt2 2>/dev/null; echo ro $?; \
        mount --make-rprivate / 2>/dev/null; echo private $?; \
        mount -t tmpfs -o nosuid,noexec,mode=1777 tmpfs /mnt2; echo tmpfs $?; \
        grep ' /mnt2 ' /proc/mounts; umount /mnt2; echo umount $?; \
        grep -c ' /mnt2 ' /proc/mounts";
    let out = Run::busybox(&["sh", "-c", script]).umbra();
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{}", out.describe());
    assert!(
        lines[0].starts_with("nosuchfs ") && lines[0] != "nosuchfs 0",
        "{text}"
    );
    assert!(lines[1].starts_with("ro ") && lines[1] != "ro 0", "{text}");
    assert_eq!(lines[2], "private 0", "{text}");
    assert_eq!(lines[3], "tmpfs 0", "{text}");
    assert_eq!(
        lines[4], "tmpfs /mnt2 tmpfs rw,nosuid,noexec,relatime 0 0",
        "{text}"
    );
    assert_eq!(&lines[5..], ["umount 0", "0"], "{text}");
}

/// FS_IOC_GETFLAGS/SETFLAGS (chattr, lsattr) with immutable and append-only
/// enforced: `paths attr` on an ext2 image under umbra (`--rw`) against the
/// same program natively on the host's filesystem (ext4, which keeps the
/// same flags). The image stays clean and keeps the flag set last (nodump)
/// in the inode's i_flags.
#[test]
fn inode_flags_on_ext2_match_native() {
    for libc in Libc::ALL {
        let d = scratch("paths-attr");
        let tree = d.join("tree");
        busybox_tree(&tree);
        std::fs::copy(guest_binary(libc, "paths"), tree.join("paths")).unwrap();
        let img = d.join("root.img");
        mke2fs(&tree, &img, 1024, "16M");
        let out = run_image(&img, &["--rw", "--cwd", "/data"], &["/paths", "attr"]);
        out.assert_code(0);
        // Natively in a directory of the target dir's filesystem.
        let native_dir =
            target_dir().join(format!("e2e-attr-{}-{}", std::process::id(), libc.name()));
        let _ = std::fs::remove_dir_all(&native_dir);
        std::fs::create_dir_all(&native_dir).unwrap();
        let native = std::process::Command::new(guest_binary(libc, "paths"))
            .arg("attr")
            .current_dir(&native_dir)
            .output()
            .expect("run paths natively");
        let _ = std::fs::remove_dir_all(&native_dir);
        assert_eq!(
            out.stdout_text(),
            String::from_utf8_lossy(&native.stdout),
            "{}",
            out.describe()
        );
        assert_fsck_clean(&img);
        let st = String::from_utf8_lossy(&debugfs(&img, "stat /data/g")).into_owned();
        assert!(st.contains("Flags: 0x40"), "debugfs stat: {st}");
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// tmpfs has no inode flags here: FS_IOC_GETFLAGS is ENOTTY (Linux's tmpfs
/// answers; umbra's does not pretend to).
#[test]
fn inode_flags_on_tmpfs_are_enotty() {
    let out = Run::guest(Libc::Musl, "paths").args(&["attr"]).umbra();
    let text = out.stdout_text();
    assert!(text.contains("getflags f: ENOTTY"), "{}", out.describe());
}
