//! End-to-end tests of AF_UNIX sockets: `tests/guest/net_unix.c`, built
//! with musl and glibc, run natively and under umbra, outputs compared; the
//! path sections also in /data of an ext2 image.

use umbra_tests::{assert_same, Libc, Run};

const SECTIONS: &[&str] = &[
    "stream",
    "dgram",
    "seqpacket",
    "abstract",
    "paths",
    "rights",
    "creds",
    "shutdown",
    "sigpipe",
    "nonblock",
    "flags",
    "bufs",
    "fork",
    "gc",
    "epoll",
];

#[test]
fn unix_musl() {
    assert_same(&Run::guest(Libc::Musl, "net_unix").args(SECTIONS));
}

#[test]
fn unix_glibc() {
    assert_same(&Run::guest(Libc::Glibc, "net_unix").args(SECTIONS));
}

#[path = "ext2_util.rs"]
#[expect(dead_code, reason = "the image helpers this file does not use")]
mod ext2_util;

/// Socket nodes on ext2: the `paths` section in /data of an ext2 image
/// (overlay mode) prints what it prints natively (its /tmp is the image's
/// too).
#[test]
fn paths_on_ext2_same_as_native() {
    use ext2_util::{busybox_tree, mke2fs, run_image, scratch};
    for libc in Libc::ALL {
        let native = Run::guest(libc, "net_unix").args(&["paths"]).native();
        native.assert_code(0);
        let d = scratch(&format!("unix-{}", libc.name()));
        let tree = d.join("tree");
        busybox_tree(&tree);
        std::fs::copy(
            umbra_tests::guest_binary(libc, "net_unix"),
            tree.join("bin/net_unix"),
        )
        .expect("copy net_unix");
        let img = d.join("root.img");
        mke2fs(&tree, &img, 4096, "16M");
        let out = run_image(&img, &["--cwd", "/data"], &["/bin/net_unix", "paths"]);
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            native.stdout_text(),
            "{}",
            out.describe()
        );
    }
}
