//! Arbitrary bytes through the cpio (newc) reader, then `unpack_into` a fresh
//! tmpfs and `vfs_from_cpio`, then a walk of what was unpacked. Must never
//! panic. Seeds: `fuzz/seeds/cpio/`.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use umbra_abi::structs::Timespec;
use umbra_core::fs::cpio::{unpack_into, Reader};
use umbra_core::fs::tmpfs::TmpFs;
use umbra_core::fs::vfs::{FileType, Inode};

fn walk(root: Arc<dyn Inode>) {
    let mut stack = vec![root];
    let mut budget = 2000u32;
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
                    FileType::Directory => stack.push(c),
                    FileType::Regular => {
                        let mut buf = [0u8; 4096];
                        let _ = c.read_at(0, &mut buf);
                    }
                    FileType::Symlink => {
                        let _ = c.readlink();
                    }
                    _ => {}
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 1 << 20 {
        return;
    }
    for entry in Reader::new(data).take(10_000) {
        let Ok(e) = entry else { break };
        let _ = (e.name.len(), e.data.len(), e.offset);
    }
    let now = Timespec {
        tv_sec: 1_700_000_000,
        tv_nsec: 0,
    };
    let fs = TmpFs::new(1, now);
    if unpack_into(&fs.root(), data, now).is_ok() {
        walk(fs.root());
    }
    if let Ok((vfs, _console)) = umbra_core::fs::vfs_from_cpio(data, now) {
        let _ = vfs.root();
    }
});
