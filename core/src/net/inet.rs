//! AF_INET and AF_INET6 sockets on the guest's own loopback, and the
//! interface ioctls every socket answers.
//!
//! Not yet implemented: socket(2) answers EAFNOSUPPORT.

use alloc::sync::Arc;

use super::{NetNs, Socket};
use crate::error::{Errno, KResult};
use crate::fs::vfs::{IoCtx, IoctlArg};

/// The guest's IP state: bound ports and listeners.
#[derive(Default)]
pub struct InetNs {}

/// socket(AF_INET or AF_INET6, ty, protocol).
pub fn create(
    _net: &Arc<NetNs>,
    _domain: u16,
    _ty: u32,
    _protocol: u32,
) -> KResult<Arc<dyn Socket>> {
    Err(Errno::EAFNOSUPPORT)
}

/// The interface ioctls (SIOCGIFCONF, SIOCGIFADDR...) of any socket.
pub fn iface_ioctl(_io: &mut dyn IoCtx, _cmd: u32, _arg: &mut dyn IoctlArg) -> KResult<usize> {
    Err(Errno::ENOTTY)
}
