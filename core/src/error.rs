//! The one error type of the kernel: a Linux errno. Handlers return
//! `SysResult`; the dispatcher alone turns an `Err` into a negative return value.

pub use umbra_abi::Errno;

/// A kernel result carrying an errno on failure.
pub type KResult<T> = core::result::Result<T, Errno>;
/// The result of a syscall handler: the non-negative return value, or an errno.
pub type SysResult = KResult<usize>;

impl From<crate::host::HostError> for Errno {
    fn from(e: crate::host::HostError) -> Errno {
        use crate::host::HostError;
        match e {
            HostError::NoMemory => Errno::ENOMEM,
            HostError::Io => Errno::EIO,
            HostError::OutOfRange => Errno::EINVAL,
            HostError::Unsupported => Errno::ENOSYS,
            HostError::StubDied => Errno::EFAULT,
            HostError::BrokenPipe => Errno::EPIPE,
        }
    }
}
