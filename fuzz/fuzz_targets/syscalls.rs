//! Random syscall sequences with random arguments against `Kernel<MockHost>`
//! booted from a tiny initrd (issue 6, item 5, the syscall layer). The input
//! bytes drive the same choices as `core/src/fuzz_syscalls.rs` (which uses a
//! fixed-seed xorshift instead): syscall numbers biased toward the implemented
//! ones, pointers into the string table, stack, data, code, the stub pages, the
//! top of the user range, the non-canonical hole and the kernel half; small
//! numbers, special values and random bits; guest stores in between.
//!
//! Invariants: no panic; after the script's final exit_group, no process is
//! left, `kernel.frames.used() == 0`, every host address space is destroyed and
//! the console files handed to `spawn_init` are held by nobody else (no fd
//! leak). Seeds: `fuzz/seeds/syscalls/`.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use umbra_abi::elf::ET_EXEC;
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;
use umbra_core::config::{Config, PAGE_SIZE};
use umbra_core::fs;
use umbra_core::testing::syscall_fuzz::*;
use umbra_core::testing::{newc_archive, tiny_elf, MockHost, Step};
use umbra_core::Kernel;

const MAX_STEPS: usize = 200;

/// The fuzz input as a source of choices; zeros once it runs out.
struct Src<'a>(&'a [u8]);

impl Src<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in b.iter_mut() {
            *x = self.byte();
        }
        u64::from_le_bytes(b)
    }
    fn u16(&mut self) -> u64 {
        u64::from(self.byte()) | u64::from(self.byte()) << 8
    }
    fn below(&mut self, n: u64) -> u64 {
        if n <= 256 {
            u64::from(self.byte()) % n.max(1)
        } else {
            self.u16() % n
        }
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Clone, Copy)]
struct Layout {
    scratch: u64,
    sp: u64,
}

fn pointer(s: &mut Src, lay: Layout, strings: &[u64]) -> u64 {
    let base = lay.scratch;
    match s.below(14) {
        0 => 0,
        1..=3 => s.pick(strings),
        4 => base + 2 * PAGE,
        5 => base + 3 * PAGE + s.below(PAGE),
        6 => base + s.below(8 * PAGE),
        7 => DATA_VA + s.below(3 * PAGE),
        8 => CODE_VA,
        9 => lay.sp + s.below(256),
        10 => s.pick(&[
            0x7fff_ff00_0000,
            0x7fff_ff00_1000,
            0x7fff_ff00_0000 - 8,
            0x7fff_ffff_f000,
            0x8000_0000_0000,
            0xffff_8000_0000_0000,
            u64::MAX - 7,
        ]),
        11 => 0x1000_0000 + s.below(16) * PAGE,
        12 => s.u64() & 0x7fff_ffff_ffff,
        _ => s.u64(),
    }
}

fn arg(s: &mut Src, lay: Layout, strings: &[u64]) -> u64 {
    match s.below(10) {
        0..=3 => pointer(s, lay, strings),
        4..=5 => s.below(16),
        6 => s.pick(&[
            u64::MAX,
            -100i64 as u64,
            -1i64 as u64,
            1 << 31,
            PAGE,
            2 * PAGE,
            0x10_0000,
            64,
            4096 - 1,
        ]),
        7 => 1 << s.below(64),
        8 => s.u16(),
        _ => s.u64(),
    }
}

fuzz_target!(|data: &[u8]| {
    let elf = tiny_elf(ET_EXEC);
    let archive = newc_archive(&[
        ("bin", 0o040_755, &[]),
        ("bin/prog", 0o100_755, &elf),
        ("etc", 0o040_755, &[]),
        ("etc/motd", 0o100_644, b"welcome\n"),
        ("tmp", 0o041_777, &[]),
    ]);
    let (vfs, state) =
        fs::vfs_from_cpio(&archive, Timespec::default()).expect("the test initrd unpacks");
    let host = MockHost::new(FRAMES * PAGE_SIZE);
    let cfg = Config {
        argv: vec![String::from("/bin/prog")],
        envp: vec![String::from("HOME=/")],
        max_procs: 8,
        max_fds: 64,
        timeout_ns: Some(3_600 * 1_000_000_000),
        ..Config::default()
    };
    let mut k = Kernel::new(host, vfs, cfg, FRAMES);
    let console = fs::devfs::stdio_files(&state);
    let pid = k.spawn_init(console.clone()).expect("pid 1 starts");
    assert_eq!(pid, 1);
    let p = k.process(1).expect("pid 1");
    let (mm, sp) = (p.mm.id, p.thread.regs.sp());
    let lay = Layout {
        scratch: (sp & !(PAGE - 1)) - 8 * PAGE,
        sp,
    };

    let mut steps = Vec::new();
    // The string table, 64 bytes apart, and an argv/iovec-like array at
    // scratch + 2 pages, written by guest stores.
    let mut strings = Vec::new();
    let poke = |steps: &mut Vec<Step>, at: u64, bytes: &[u8]| {
        for (i, b) in bytes.iter().enumerate() {
            steps.push(Step::Touch {
                addr: at + i as u64,
                write: true,
                value: *b,
            });
        }
    };
    for (i, text) in STRINGS.iter().enumerate() {
        let at = lay.scratch + 64 * i as u64;
        let mut b = text.to_vec();
        b.push(0);
        poke(&mut steps, at, &b);
        strings.push(at);
    }
    let mut s = Src(data);
    let mut arr = Vec::new();
    for i in 0..8u64 {
        arr.extend_from_slice(&(lay.scratch + 64 * i).to_ne_bytes());
        arr.extend_from_slice(&s.below(64).to_ne_bytes());
    }
    arr.extend_from_slice(&0u64.to_ne_bytes());
    poke(&mut steps, lay.scratch + 2 * PAGE, &arr);

    let mut implemented: Vec<usize> = IMPLEMENTED.to_vec();
    implemented.extend_from_slice(IMPLEMENTED_ARCH);
    let mut calls = 0;
    while !s.empty() && calls < MAX_STEPS {
        let sel = s.byte();
        match sel {
            // A guest store or load somewhere (random structs, faults).
            0..=11 => {
                let addr = pointer(&mut s, lay, &strings);
                let value = s.byte();
                steps.push(Step::Touch {
                    addr,
                    write: sel & 1 == 0,
                    value,
                });
            }
            12 => steps.push(Step::Timer),
            _ => {
                let nr = if sel < 200 {
                    s.pick(&implemented)
                } else {
                    s.below(512) as usize
                };
                if excluded(nr) {
                    continue;
                }
                let mut a = [0u64; 6];
                for x in a.iter_mut() {
                    *x = arg(&mut s, lay, &strings);
                }
                steps.push(Step::Syscall(nr as u64, a));
                calls += 1;
            }
        }
    }
    steps.push(Step::Syscall(EXIT_GROUP as u64, [0; 6]));
    k.host.script(mm, steps);
    let status = k.run();

    assert!(
        k.pids().is_empty(),
        "processes left after {status:?}: {:?}",
        k.pids()
    );
    assert_eq!(k.frames.used(), 0, "frames leaked after {status:?}");
    assert!(
        k.host.spaces.is_empty(),
        "{} host address spaces left after {status:?}",
        k.host.spaces.len()
    );
    for (fd, f) in console.iter().enumerate() {
        assert_eq!(
            Arc::strong_count(f),
            1,
            "console file {fd} still held after {status:?}"
        );
    }
});
