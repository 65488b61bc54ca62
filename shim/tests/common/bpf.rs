//! A classic-BPF interpreter for the seccomp filter tests: runs a filter on
//! a `seccomp_data` given as its 16 32-bit words, as the kernel would, and
//! returns the action. Only the instructions the filters use are known.

use umbra_shim::sys::seccomp::SockFilter;

/// The action `f` returns for `data` (nr, arch, ip low and high, then each
/// argument's low and high half).
pub fn eval(f: &[SockFilter], data: [u32; 16]) -> u32 {
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = f[pc];
        pc += 1;
        match i.code {
            0x20 => acc = data[i.k as usize / 4],
            0x06 => return i.k,
            0x05 => pc += i.k as usize,
            0x15 | 0x35 | 0x45 => {
                let t = match i.code {
                    0x15 => acc == i.k,
                    0x35 => acc >= i.k,
                    _ => acc & i.k != 0,
                };
                pc += if t { i.jt } else { i.jf } as usize;
            }
            c => panic!("unexpected BPF op {c:#x}"),
        }
    }
}
