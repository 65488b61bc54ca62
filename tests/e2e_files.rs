//! End-to-end tests of the busybox file applets on an ext2 image (issue 3):
//! each test builds the same small tree (files with contents, subdirectories,
//! symlinks, a hard link, modes 644/755/600, mtimes fixed at @1700000000),
//! runs one `busybox sh -c CMD` natively in a copy of it and under
//! `umbra run --image IMG --rw --cwd /tree` in an ext2 image of it, and
//! compares stdout and exit status. Then it compares the trees the command
//! left behind, twice: a busybox manifest (`stat` of every path, `md5sum` of
//! every file, `readlink` of every symlink) run natively and under umbra, and
//! a host walk of the native tree against `debugfs -R 'rdump /tree'` of the
//! image. `e2fsck -fn` must find the image clean after every `--rw` run.
//!
//! The image has 4 KiB blocks, like the ext4 the native tree lives on, so
//! `du`, `ls -l`'s "total" and directory sizes agree. Everything runs with
//! `PATH=/bin` and `TZ=UTC`; natively through the harness's python launcher
//! (umask 022, only fds 0-2 open).

// Shared with e2e_ext2, which uses the helpers this file does not.
#[allow(dead_code)]
#[path = "ext2_util.rs"]
mod ext2_util;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ext2_util::{assert_fsck_clean, debugfs, mke2fs, scratch};
use umbra_tests::{busybox, diff, require_tool, umbra_raw, NATIVE_LAUNCHER};

/// The fixed mtime of every node of the tree.
const MTIME: &str = "@1700000000";

/// The environment of both runs, after `PATH`: natively PATH is a directory
/// of busybox applet links, in the guest `/bin` (the same links), so applets
/// that exec others (`tar z` runs `gzip`) find busybox's on both sides.
const ENV: &[(&str, &str)] = &[("TZ", "UTC")];

/// Prints the state of the tree under the cwd; run natively and under umbra.
const MANIFEST: &str = "\
find . | sort | xargs stat -c '%n %s %a %h %u %g %F'
echo --- md5
find . -type f | sort | xargs md5sum
echo --- links
for l in $(find . -type l | sort); do echo \"$l -> $(readlink $l)\"; done
";

/// One node of the test tree.
enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Symlink(&'static str),
    HardLink(&'static str),
}

/// The test tree, parents first.
fn tree_nodes() -> Vec<(&'static str, Node)> {
    let big: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    vec![
        ("hello.txt", Node::File(0o644, b"hello, files\n".to_vec())),
        (
            "text.txt",
            Node::File(0o644, b"alpha one\nbravo two\ncharlie three\n".to_vec()),
        ),
        (
            "script.sh",
            Node::File(0o755, b"#!/bin/sh\necho hi\n".to_vec()),
        ),
        ("secret", Node::File(0o600, b"top secret\n".to_vec())),
        ("big.bin", Node::File(0o644, big)),
        ("link", Node::Symlink("hello.txt")),
        ("dirlink", Node::Symlink("sub")),
        ("hard", Node::HardLink("hello.txt")),
        ("empty", Node::Dir(0o755)),
        ("sub", Node::Dir(0o755)),
        ("sub/a.txt", Node::File(0o644, b"alpha\n".to_vec())),
        (
            "sub/run",
            Node::File(0o755, b"#!/bin/sh\nexit 3\n".to_vec()),
        ),
        ("sub/deep", Node::Dir(0o755)),
        (
            "sub/deep/b.txt",
            Node::File(0o600, b"bravo\nbravo again\n".to_vec()),
        ),
        ("sub/deep/up", Node::Symlink("../a.txt")),
    ]
}

/// Creates the test tree at `root` (which must not exist).
fn build_tree(root: &Path) {
    std::fs::create_dir_all(root).expect("mkdir tree");
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut paths = vec![root.to_path_buf()];
    for (rel, node) in tree_nodes() {
        let p = root.join(rel);
        match node {
            Node::Dir(mode) => {
                std::fs::create_dir(&p).expect("mkdir");
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
            }
            Node::File(mode, data) => {
                std::fs::write(&p, data).expect("write");
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
            }
            Node::Symlink(target) => std::os::unix::fs::symlink(target, &p).expect("symlink"),
            Node::HardLink(to) => std::fs::hard_link(root.join(to), &p).expect("link"),
        }
        paths.push(p);
    }
    let touch = require_tool("touch", "coreutils");
    let st = Command::new(touch)
        .args(["-h", "-d", MTIME])
        .args(&paths)
        .status()
        .expect("run touch");
    assert!(st.success(), "touch -h -d {MTIME} failed");
}

/// `cp -a FROM TO` on the host.
fn host_cp_a(from: &Path, to: &Path) {
    let cp = require_tool("cp", "coreutils");
    let st = Command::new(cp)
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(
        st.success(),
        "cp -a {} {} failed",
        from.display(),
        to.display()
    );
}

/// What a shell run printed and how it ended.
#[derive(Debug)]
struct Res {
    stdout: String,
    stderr: String,
    code: i32,
}

/// The busybox applet names (`busybox --list`).
fn applets() -> Vec<String> {
    let out = Command::new(busybox())
        .arg("--list")
        .output()
        .expect("busybox --list");
    assert!(out.status.success(), "busybox --list failed");
    let list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    for needed in ["sh", "gzip", "tar", "ls", "stat"] {
        assert!(list.iter().any(|a| a == needed), "busybox lacks {needed}");
    }
    list
}

/// Fills `bin` with one symlink to `target` per applet (but `busybox`).
fn applet_links(bin: &Path, target: &Path) {
    std::fs::create_dir_all(bin).expect("mkdir bin");
    for a in applets() {
        if a != "busybox" {
            std::os::unix::fs::symlink(target, bin.join(a)).expect("applet link");
        }
    }
}

/// `busybox sh -c CMD` natively, in `cwd`, with PATH=`bin`.
fn native_sh(cwd: &Path, bin: &Path, cmd: &str) -> Res {
    let python = require_tool("python3", "python3");
    let out = Command::new(python)
        .arg("-I")
        .arg("-c")
        .arg(NATIVE_LAUNCHER)
        .arg(busybox())
        .arg((ENV.len() + 1).to_string())
        .arg(format!("PATH={}", bin.display()))
        .args(ENV.iter().map(|(k, v)| format!("{k}={v}")))
        .args(["/bin/busybox", "sh", "-c", cmd])
        .env_clear()
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run native busybox");
    Res {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// `umbra run --image IMG [--rw] --cwd /tree -- /bin/busybox sh -c CMD`.
fn umbra_sh(img: &Path, rw: bool, cmd: &str) -> Res {
    let img = img.display().to_string();
    let mut args = vec!["run".to_string(), "--image".into(), img];
    if rw {
        args.push("--rw".into());
    }
    args.extend([
        "--cwd".into(),
        "/tree".into(),
        "--env".into(),
        "PATH=/bin".into(),
    ]);
    for (k, v) in ENV {
        args.push("--env".into());
        args.push(format!("{k}={v}"));
    }
    args.extend(["--", "/bin/busybox", "sh", "-c", cmd].map(String::from));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = umbra_raw(&a);
    out.assert_no_leftovers();
    Res {
        stdout: out.stdout_text(),
        stderr: out.stderr_text(),
        code: out.status.code(),
    }
}

/// A host walk: relative path -> "type perm size contents-or-target".
/// Directory sizes are left out (rdump makes host directories).
fn walk(root: &Path) -> BTreeMap<String, String> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let md = std::fs::symlink_metadata(&p).expect("lstat");
            // rdump drops setuid and sticky bits; `check_modes` sees them.
            let perm = md.mode() & 0o777;
            let desc = if md.file_type().is_symlink() {
                format!("symlink -> {}", std::fs::read_link(&p).unwrap().display())
            } else if md.is_dir() {
                go(root, &p, out);
                format!("dir {perm:o}")
            } else {
                let data = std::fs::read(&p).expect("read");
                format!(
                    "file {perm:o} {} {:016x}",
                    data.len(),
                    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                    })
                )
            };
            out.insert(rel, desc);
        }
    }
    let mut out = BTreeMap::new();
    go(root, root, &mut out);
    out
}

/// Panics unless the mode and link count debugfs reports for each path
/// of the native tree match the native ones.
fn check_modes(ntree: &Path, img: &Path, cmd: &str) {
    for rel in walk(ntree).keys() {
        let md = std::fs::symlink_metadata(ntree.join(rel)).unwrap();
        let stat =
            String::from_utf8_lossy(&debugfs(img, &format!("stat \"/tree/{rel}\""))).into_owned();
        let field = |name: &str| {
            stat.split(name)
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        };
        let want = (
            Some(format!("0{:o}", md.mode() & 0o7777)),
            Some(md.nlink().to_string()),
        );
        assert_eq!(
            (field("Mode:"), field("Links:")),
            want,
            "`{cmd}`: /tree/{rel}: debugfs mode/links differ from native\n{stat}"
        );
    }
}

fn map_text(m: &BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

/// Runs CMD natively and under umbra on the test tree and compares stdout,
/// exit status and the resulting trees. `norm` is applied to both stdouts.
fn check_with(name: &str, cmd: &str, norm: fn(&str) -> String) {
    let d = scratch(&format!("files-{name}"));
    let src = d.join("src");
    build_tree(&src);

    // Native: a copy of the tree.
    let ntree = d.join("native/tree");
    std::fs::create_dir_all(d.join("native")).unwrap();
    host_cp_a(&src, &ntree);
    let nbin = d.join("native/bin");
    applet_links(&nbin, busybox());
    let native = native_sh(&ntree, &nbin, cmd);

    // umbra: an ext2 image of busybox plus the tree at /tree.
    let root = d.join("root");
    for dir in ["etc", "tmp", "dev"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    applet_links(&root.join("bin"), Path::new("busybox"));
    std::fs::copy(busybox(), root.join("bin/busybox")).expect("copy busybox");
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    host_cp_a(&src, &root.join("tree"));
    let img = d.join("root.img");
    mke2fs(&root, &img, 4096, "32M");
    let umbra = umbra_sh(&img, true, cmd);
    assert_fsck_clean(&img);

    // Paths the command prints absolutely (readlink -f) differ only in where
    // the tree is.
    let native_stdout = native.stdout.replace(&ntree.display().to_string(), "/tree");
    let (n, u) = (norm(&native_stdout), norm(&umbra.stdout));
    assert!(
        n == u && native.code == umbra.code,
        "`{cmd}`: native and umbra differ\n{}status: native {}, umbra {}\n\
         native stderr:\n{}\numbra stderr:\n{}",
        diff(&n, &u),
        native.code,
        umbra.code,
        native.stderr,
        umbra.stderr
    );

    // The trees left behind: the busybox manifest on both sides...
    let nm = native_sh(&ntree, &nbin, MANIFEST);
    let um = umbra_sh(&img, false, MANIFEST);
    assert_eq!(nm.code, 0, "native manifest: {nm:?}");
    assert!(
        nm.stdout == um.stdout && um.code == 0,
        "`{cmd}`: trees differ (busybox manifest)\n{}umbra: {um:?}",
        diff(&nm.stdout, &um.stdout)
    );
    // ... and a host walk of the native tree against debugfs's copy.
    let out = d.join("rdump");
    std::fs::create_dir_all(&out).unwrap();
    debugfs(&img, &format!("rdump /tree {}", out.display()));
    let (nw, uw) = (walk(&ntree), walk(&out.join("tree")));
    assert!(
        nw == uw,
        "`{cmd}`: trees differ (host walk vs debugfs rdump)\n{}",
        diff(&map_text(&nw), &map_text(&uw))
    );
    check_modes(&ntree, &img, cmd);
    let _ = std::fs::remove_dir_all(&d);
}

fn check(name: &str, cmd: &str) {
    check_with(name, cmd, str::to_string);
}

#[test]
fn ls_l() {
    check(
        "ls-l",
        "ls -ln; ls -l sub sub/deep; ls -ld . sub empty link",
    );
}

#[test]
fn ls_la_recursive() {
    // `..` of the tree itself is outside it (different on both sides).
    check(
        "ls-laR",
        "ls -laR | grep -v ' \\.\\.$'; ls -lanR sub; ls -laRL sub",
    );
}

#[test]
fn cp_a() {
    check(
        "cp-a",
        "cp -a sub copy && cp -a hello.txt hard link secret copy/ && ls -lnR copy && \
         cp -a dirlink dl2 && cp -R sub/deep plain && ls -ln dl2 && find plain | sort",
    );
}

#[test]
fn mv() {
    check(
        "mv",
        "mv hello.txt moved.txt && mv sub/deep deep2 && mv secret sub/ && mv link l2 && \
         mv empty sub/empty2 && cat l2; echo $?; mv nonexist x; echo $?; find . | sort",
    );
}

#[test]
fn rm_r() {
    check(
        "rm-r",
        "rm -r sub dirlink && rm hard link && rm -rf nonexist empty; echo $?; \
         rm empty 2>/dev/null; echo $?; find . | sort; cat hello.txt",
    );
}

#[test]
fn mkdir_p() {
    check(
        "mkdir-p",
        "mkdir -p a/b/c sub/deep/x && mkdir -p a/b && mkdir -m 700 m7 && mkdir a 2>/dev/null; \
         echo $?; mkdir -p hello.txt/x 2>/dev/null; echo $?; find . -type d | sort",
    );
}

#[test]
fn ln_s() {
    check(
        "ln-s",
        "ln -s hello.txt s1 && ln -s sub/deep s2 && ln -sf secret s1 && ln -s /nowhere s3 && \
         ln -s ../hello.txt sub/up2 && readlink s1 s2 s3 sub/up2; cat s2/b.txt sub/up2; \
         ln -s x hello.txt 2>/dev/null; echo $?",
    );
}

#[test]
fn ln_hard() {
    check(
        "ln",
        "ln hello.txt h2 && ln sub/a.txt sub/deep/a2 && ln big.bin sub/big && \
         stat -c '%n %h' hello.txt h2 hard sub/a.txt sub/deep/a2 big.bin; \
         ln sub h3 2>/dev/null; echo $?; rm hello.txt && stat -c '%n %h' hard h2",
    );
}

#[test]
fn find() {
    check(
        "find",
        "find . | sort; find . -type f | sort; find . -name '*.txt' | sort; \
         find . -type l | sort; find . -perm 600 | sort; find . -size +10k; \
         find . -type d -empty; find . -maxdepth 1 -type d | sort; \
         find -L . -name '*.txt' | sort; find sub -mindepth 2 | sort; \
         find . -newer hello.txt; find . -links 2 -type f | sort",
    );
}

#[test]
fn tar_create_extract() {
    check(
        "tar",
        "tar cf t.tar hello.txt hard link text.txt sub/a.txt sub/deep/b.txt sub/deep/up \
         script.sh && tar tvf t.tar && mkdir x && tar xf t.tar -C x && \
         tar czf t.tgz hello.txt big.bin && tar tzf t.tgz && mkdir y && cd y && \
         tar xzf ../t.tgz && cd .. && tar cf - sub | tar tf - | sort && \
         tar cf - sub dirlink | (mkdir z && cd z && tar xf -) && echo done",
    );
}

#[test]
fn gzip_gunzip() {
    check(
        "gzip",
        "gzip -c hello.txt > h.gz && gzip -9 -c big.bin > b.gz && gunzip -c h.gz && \
         gzip text.txt && ls text* && gunzip text.txt.gz && cat text.txt && \
         gzip -k secret 2>/dev/null; echo $?; zcat b.gz | md5sum; gzip -t b.gz; echo $?; \
         echo junk > bad.gz; gunzip bad.gz 2>/dev/null; echo $?",
    );
}

#[test]
fn sed_in_place() {
    check(
        "sed-i",
        "sed -i 's/alpha/ALPHA/; 2d' text.txt && sed -i -e '$a\\' -e appended sub/a.txt && \
         sed -i s/hello/HELLO/ hard && sed -i -n '/secret/p' secret && \
         cat text.txt sub/a.txt hard hello.txt secret && stat -c '%n %h %a' hard hello.txt secret",
    );
}

#[test]
fn chmod() {
    check(
        "chmod",
        "chmod 600 hello.txt && chmod -R go-rx sub && chmod u+s,g+x script.sh && \
         chmod 1777 empty && chmod 640 link && chmod a=r secret && \
         stat -c '%n %a' hello.txt hard link sub sub/a.txt sub/deep script.sh empty secret",
    );
}

#[test]
fn chown() {
    check(
        "chown",
        "chown 1000:1000 hello.txt && chown -R 12:34 sub && chown -h 5:6 link && \
         chgrp 7 secret && chown root:root big.bin && chown 9 dirlink && \
         stat -c '%n %u %g' hello.txt hard link sub sub/a.txt sub/deep/up secret big.bin dirlink",
    );
}

#[test]
fn touch() {
    check(
        "touch",
        "touch -d @1600000000 hello.txt && touch -d '2001-02-03 04:05:06' sub/a.txt && \
         touch -c nonexist; echo $?; touch -r secret script.sh && \
         touch -h -d @1500000000 link && touch -t 200102030405.06 text.txt && touch new && \
         stat -c '%n %Y %s' hello.txt hard sub/a.txt script.sh link text.txt && \
         stat -c '%n %s' new && t=$(($(date +%s) - $(stat -c %Y new))) && \
         [ $t -ge 0 ] && [ $t -le 5 ] && echo 'new: mtime is now'; ls nonexist",
    );
}

#[test]
fn du() {
    check(
        "du",
        "du -a sub empty | sort -k 2; du -s . sub; du -k hello.txt big.bin; du -c sub/a.txt big.bin; \
         du -L dirlink; du -d 1 | sort -k 2",
    );
}

/// The header line, then per line the number of fields and the last one.
fn df_structure(s: &str) -> String {
    let mut lines = s.lines();
    let mut out = format!("{}\n", lines.next().unwrap_or(""));
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        out.push_str(&format!(
            "{} fields, {}\n",
            f.len(),
            f.last().unwrap_or(&"")
        ));
    }
    out
}

#[test]
fn df() {
    check_with("df", "df . && df -k . && df -P .", df_structure);
}

#[test]
fn stat() {
    check(
        "stat",
        "stat -c '%n %s %a %A %h %u %g %U %G %F %Y' * sub/* sub/deep/*; \
         stat -L -c '%n %s %F' link dirlink sub/deep/up; stat -c '%N' link dirlink; \
         stat -c '%b %B' hello.txt big.bin; stat nonexist 2>/dev/null; echo $?",
    );
}

#[test]
fn dd() {
    check(
        "dd",
        "dd if=big.bin of=part bs=1000 skip=3 count=5 2>/dev/null && \
         dd if=hello.txt of=big.bin bs=1 seek=100 conv=notrunc 2>/dev/null && \
         dd if=/dev/zero of=zeros bs=512 count=7 2>err; head -2 err; rm err; \
         dd if=text.txt bs=4 count=2 2>/dev/null; echo; \
         dd if=hello.txt of=trunc bs=1 seek=10 2>/dev/null; \
         md5sum part big.bin zeros trunc; stat -c '%n %s' part big.bin zeros trunc",
    );
}

#[test]
fn md5sum() {
    check(
        "md5sum",
        "md5sum hello.txt sub/a.txt big.bin link hard sub/deep/up > sums && cat sums && \
         md5sum -c sums && cat big.bin | md5sum && echo bad > hello.txt; \
         md5sum -c sums; echo $?; md5sum nonexist 2>/dev/null; echo $?",
    );
}

#[test]
fn readlink_f() {
    check(
        "readlink-f",
        "readlink -f link dirlink/deep ./sub/../hello.txt sub/deep/up dirlink/deep/up . sub; \
         readlink -f nonexist/x; echo $?; readlink link dirlink; readlink hello.txt; echo $?; \
         cd dirlink && pwd && pwd -P",
    );
}
