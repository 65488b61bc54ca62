//! Program loading: the ELF loader and the initial stack.
pub mod elf;
pub mod stack;

pub use elf::{load_elf, ElfError, LoadedImage};
pub use stack::{build_stack, StackArgs};

/// An inode read as the backing of private file mappings.
pub struct InodeBacking(pub alloc::sync::Arc<dyn crate::fs::Inode>);

impl crate::mm::Backing for InodeBacking {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> crate::KResult<usize> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.0.read_at(off + done as u64, &mut buf[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests;
