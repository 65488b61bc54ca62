//! The guest vDSO's code for this arch (the blob `umbra_core::vdso` wraps in
//! an ELF image) and the hardware counter it reads.

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64/vdso.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64/vdso.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm/vdso.rs")]
mod arch;

pub use arch::counter;

extern "C" {
    static umbra_vdso_start: u8;
    static umbra_vdso_end: u8;
}

/// The vDSO blob: an offset table, then position-independent code.
pub fn text() -> Option<&'static [u8]> {
    let (s, e) = (
        core::ptr::addr_of!(umbra_vdso_start),
        core::ptr::addr_of!(umbra_vdso_end),
    );
    let len = e as usize - s as usize;
    // SAFETY: both symbols are defined by the arch's global_asm! in one
    // read-only section, in this order; the bytes between them are the blob,
    // never written.
    Some(unsafe { core::slice::from_raw_parts(s, len) })
}
