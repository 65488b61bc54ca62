//! AF_UNIX sockets: stream, datagram and seqpacket, named by paths in the
//! guest's file system or in the abstract namespace.
//!
//! Not yet implemented: socket(2) and socketpair(2) answer EAFNOSUPPORT.

use alloc::sync::Arc;

use super::{NetNs, Socket, Ucred};
use crate::error::{Errno, KResult};

/// AF_UNIX state shared by the guest's sockets: bound names.
#[derive(Default)]
pub struct UnixNs {}

/// socket(AF_UNIX, ty, protocol).
pub fn create(_net: &Arc<NetNs>, _ty: u32, _protocol: u32) -> KResult<Arc<dyn Socket>> {
    Err(Errno::EAFNOSUPPORT)
}

/// socketpair(AF_UNIX, ty, protocol).
pub fn pair(
    _net: &Arc<NetNs>,
    _ty: u32,
    _protocol: u32,
    _caller: Ucred,
) -> KResult<(Arc<dyn Socket>, Arc<dyn Socket>)> {
    Err(Errno::EAFNOSUPPORT)
}
