//! Arbitrary bytes through the ELF loader: `elf::parse`, `elf::check`,
//! `load_elf` into a fresh `AddressSpace` on MockHost, then (when it loaded)
//! a read of the entry point and `build_stack`. Must never panic, and after
//! `destroy` no frame may be left in use. The same bytes then go through the
//! interpreter path (`elf::interp_path`, `elf::parse_interp` and `load_image`
//! at the interpreter's base beside a loaded program). Seeds:
//! `fuzz/seeds/elf_loader/`.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use umbra_core::loader::elf;
use umbra_core::loader::{build_stack, load_elf, StackArgs};
use umbra_core::mm::{AddressSpace, FrameAllocator};
use umbra_abi::elf::ET_EXEC;
use umbra_core::testing::{tiny_elf, MockHost, VecBacking};

const FRAMES: usize = 512;

fuzz_target!(|data: &[u8]| {
    if data.len() > 1 << 20 {
        return;
    }
    let file = VecBacking(data.to_vec());
    let _ = elf::parse(&file);
    let _ = elf::check(&file);

    let mut host = MockHost::new(FRAMES * 4096);
    let mut frames = FrameAllocator::new(FRAMES);
    let mut mm = AddressSpace::new(&mut host).expect("an address space");
    if let Ok(img) = load_elf(&mut mm, &mut frames, Arc::new(VecBacking(data.to_vec()))) {
        let mut byte = [0u8; 16];
        let _ = mm.read(&mut frames, &mut host, img.entry, &mut byte);
        let _ = mm.read(&mut frames, &mut host, img.phdr, &mut byte);
        let argv = [b"prog".to_vec(), b"arg".to_vec()];
        let envp = [b"HOME=/".to_vec()];
        let a = StackArgs {
            argv: &argv,
            envp: &envp,
            execfn: b"/bin/prog",
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            secure: false,
            random: [7; 16],
            stack_limit: 8 << 20,
            interp_base: 0,
        };
        let _ = build_stack(&mut mm, &mut frames, &mut host, &img, &a);
        // A write into the image (the .data/.bss path), as the program would.
        let _ = mm.write(&mut frames, &mut host, img.end.saturating_sub(1), &[1]);
    }
    mm.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0, "frames leaked after destroy");

    // As a PT_INTERP interpreter, beside a valid program.
    if let Ok((_, phdrs)) = elf::parse(&file) {
        let _ = elf::interp_path(&file, &phdrs);
    }
    let mut mm = AddressSpace::new(&mut host).expect("an address space");
    let prog = Arc::new(VecBacking(tiny_elf(ET_EXEC)));
    load_elf(&mut mm, &mut frames, prog).expect("the tiny program loads");
    if let Ok(parsed) = elf::parse_interp(&file) {
        let interp = Arc::new(VecBacking(data.to_vec()));
        if let Ok(img) = elf::load_image(&mut mm, &mut frames, interp, parsed, elf::LoadBase::Interp) {
            let mut byte = [0u8; 16];
            let _ = mm.read(&mut frames, &mut host, img.entry, &mut byte);
        }
    }
    mm.destroy(&mut frames, &mut host);
    assert_eq!(frames.used(), 0, "frames leaked after destroy (interpreter)");
});
