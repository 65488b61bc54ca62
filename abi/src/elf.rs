//! ELF64 and ELF32 constants and header layouts (elf(5)).

use crate::pod_struct;

pub const ELFMAG: [u8; 4] = [0x7f, b'E', b'L', b'F'];
pub const ELFCLASS32: u8 = 1;
pub const ELFCLASS64: u8 = 2;
pub const ELFDATA2LSB: u8 = 1;
pub const EV_CURRENT: u8 = 1;

pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;

pub const EM_386: u16 = 3;
pub const EM_ARM: u16 = 40;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

pub const PT_NULL: u32 = 0;
pub const PT_LOAD: u32 = 1;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_INTERP: u32 = 3;
pub const PT_NOTE: u32 = 4;
pub const PT_PHDR: u32 = 6;
pub const PT_TLS: u32 = 7;
pub const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
pub const PT_GNU_RELRO: u32 = 0x6474_e552;

/// e_flags of 32-bit ARM: the EABI version in the top byte; umbra runs
/// version 5 (every EABI toolchain since 2006), not the old ABI (0).
pub const EF_ARM_EABIMASK: u32 = 0xff00_0000;
pub const EF_ARM_EABI_VER5: u32 = 0x0500_0000;

pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

pod_struct! {
    /// Elf64_Ehdr.
    pub struct Elf64Ehdr {
        pub e_ident: [u8; 16],
        pub e_type: u16,
        pub e_machine: u16,
        pub e_version: u32,
        pub e_entry: u64,
        pub e_phoff: u64,
        pub e_shoff: u64,
        pub e_flags: u32,
        pub e_ehsize: u16,
        pub e_phentsize: u16,
        pub e_phnum: u16,
        pub e_shentsize: u16,
        pub e_shnum: u16,
        pub e_shstrndx: u16,
    }
}

pod_struct! {
    /// Elf64_Phdr.
    pub struct Elf64Phdr {
        pub p_type: u32,
        pub p_flags: u32,
        pub p_offset: u64,
        pub p_vaddr: u64,
        pub p_paddr: u64,
        pub p_filesz: u64,
        pub p_memsz: u64,
        pub p_align: u64,
    }
}

pod_struct! {
    /// Elf32_Ehdr, 52 bytes.
    pub struct Elf32Ehdr {
        pub e_ident: [u8; 16],
        pub e_type: u16,
        pub e_machine: u16,
        pub e_version: u32,
        pub e_entry: u32,
        pub e_phoff: u32,
        pub e_shoff: u32,
        pub e_flags: u32,
        pub e_ehsize: u16,
        pub e_phentsize: u16,
        pub e_phnum: u16,
        pub e_shentsize: u16,
        pub e_shnum: u16,
        pub e_shstrndx: u16,
    }
}

pod_struct! {
    /// Elf32_Phdr, 32 bytes (p_flags after p_memsz, unlike Elf64_Phdr).
    pub struct Elf32Phdr {
        pub p_type: u32,
        pub p_offset: u32,
        pub p_vaddr: u32,
        pub p_paddr: u32,
        pub p_filesz: u32,
        pub p_memsz: u32,
        pub p_flags: u32,
        pub p_align: u32,
    }
}

impl Elf32Ehdr {
    /// The same header with 64-bit fields.
    pub fn widen(&self) -> Elf64Ehdr {
        Elf64Ehdr {
            e_ident: self.e_ident,
            e_type: self.e_type,
            e_machine: self.e_machine,
            e_version: self.e_version,
            e_entry: self.e_entry as u64,
            e_phoff: self.e_phoff as u64,
            e_shoff: self.e_shoff as u64,
            e_flags: self.e_flags,
            e_ehsize: self.e_ehsize,
            e_phentsize: self.e_phentsize,
            e_phnum: self.e_phnum,
            e_shentsize: self.e_shentsize,
            e_shnum: self.e_shnum,
            e_shstrndx: self.e_shstrndx,
        }
    }
}

impl Elf32Phdr {
    /// The same program header with 64-bit fields.
    pub fn widen(&self) -> Elf64Phdr {
        Elf64Phdr {
            p_type: self.p_type,
            p_flags: self.p_flags,
            p_offset: self.p_offset as u64,
            p_vaddr: self.p_vaddr as u64,
            p_paddr: self.p_paddr as u64,
            p_filesz: self.p_filesz as u64,
            p_memsz: self.p_memsz as u64,
            p_align: self.p_align as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pod;

    #[test]
    fn elf32_sizes() {
        assert_eq!(Elf32Ehdr::SIZE, 52);
        assert_eq!(Elf32Phdr::SIZE, 32);
        assert_eq!(Elf64Ehdr::SIZE, 64);
        assert_eq!(Elf64Phdr::SIZE, 56);
    }
}
