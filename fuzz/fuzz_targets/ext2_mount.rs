//! Mounts a mutated ext2 image on a memory device, lists every directory, reads
//! every file (the first MiB), reads every symlink, then creates, writes,
//! truncates and deletes a file and a directory. Must never panic, hang or grow
//! without bound. Seeds: `fuzz/seeds/` (run `cargo fuzz run ext2_mount seeds`).
#![no_main]

use std::collections::BTreeSet;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use umbra_abi::structs::Timespec;
use umbra_core::fs::blockdev::MemDevice;
use umbra_core::fs::ext2::Ext2Fs;
use umbra_core::fs::vfs::{FileType, Inode, NewNode};

fn node(kind: FileType) -> NewNode {
    NewNode {
        kind,
        perm: 0o644,
        uid: 0,
        gid: 0,
        rdev: 0,
        now: Timespec {
            tv_sec: 1_700_000_000,
            tv_nsec: 0,
        },
    }
}

fuzz_target!(|data: &[u8]| {
    // Keep images small: memory stays bounded.
    if data.len() > 1 << 20 {
        return;
    }
    let dev = Arc::new(MemDevice::new(data.to_vec()));
    let Ok(fs) = Ext2Fs::mount(dev, 0, false) else {
        return;
    };
    let Ok(root) = fs.root() else { return };
    let mut stack: Vec<Arc<dyn Inode>> = vec![root.clone()];
    let mut seen = BTreeSet::new();
    let mut budget = 4000u32;
    while let Some(d) = stack.pop() {
        let mut off = 0u64;
        while budget > 0 {
            budget -= 1;
            let Ok(ents) = d.readdir(off, 16) else { break };
            if ents.is_empty() {
                break;
            }
            for e in ents {
                off = e.next_off;
                if e.name == "." || e.name == ".." {
                    continue;
                }
                let Ok(c) = d.lookup(&e.name) else { continue };
                let _ = c.metadata();
                match c.kind() {
                    FileType::Directory if seen.insert(e.ino) => stack.push(c),
                    FileType::Regular => {
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut pos = 0u64;
                        while pos < 1 << 20 {
                            match c.read_at(pos, &mut buf) {
                                Ok(n) if n > 0 => pos += n as u64,
                                _ => break,
                            }
                        }
                    }
                    FileType::Symlink => {
                        let _ = c.readlink();
                    }
                    _ => {}
                }
            }
        }
    }
    let now = node(FileType::Regular).now;
    if let Ok(f) = root.create("fuzz-new", &node(FileType::Regular)) {
        let _ = f.write_at(0, &[1u8; 5000], now);
        let _ = f.write_at(300_000, b"x", now);
        let _ = f.truncate(10, now);
        let _ = root.unlink("fuzz-new", now);
    }
    if let Ok(d) = root.create("fuzz-dir", &node(FileType::Directory)) {
        let _ = d.create("a", &node(FileType::Regular));
        let _ = d.unlink("a", now);
        let _ = root.rename("fuzz-dir", &root, "fuzz-dir2", now);
        let _ = root.rmdir("fuzz-dir2", now);
    }
    let _ = fs.sync();
});
