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

/// An inode as the page cache's file: read, size, write-back and identity
/// (the inode object, unique per file while it lives: ext2 keeps one per
/// inode number, tmpfs one per node).
pub struct InodeFile(pub alloc::sync::Arc<dyn crate::fs::Inode>);

/// The page cache's key for `inode`.
pub fn inode_key(inode: &alloc::sync::Arc<dyn crate::fs::Inode>) -> usize {
    alloc::sync::Arc::as_ptr(inode) as *const () as usize
}

impl crate::mm::Backing for InodeFile {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> crate::KResult<usize> {
        crate::mm::Backing::read_at(&InodeBacking(self.0.clone()), off, buf)
    }
    fn size(&self) -> Option<u64> {
        self.0.metadata().ok().map(|m| m.size)
    }
    fn write_at(
        &self,
        off: u64,
        buf: &[u8],
        now: umbra_abi::structs::Timespec,
    ) -> crate::KResult<usize> {
        self.0.write_at(off, buf, now)
    }
    fn sync(&self) -> crate::KResult<()> {
        self.0.fsync()
    }
    fn key(&self) -> Option<usize> {
        Some(inode_key(&self.0))
    }
}

#[cfg(test)]
mod tests;
