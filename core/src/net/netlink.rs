//! AF_NETLINK: the guest's own NETLINK_ROUTE socket, answering the link and
//! address dumps that glibc and iproute2 make. No other netlink family exists.
//!
//! Not yet implemented: socket(2) answers EAFNOSUPPORT.

use alloc::sync::Arc;

use super::{NetNs, Socket};
use crate::error::{Errno, KResult};

/// Netlink state: the port ids in use.
#[derive(Default)]
pub struct NetlinkNs {}

/// socket(AF_NETLINK, ty, protocol).
pub fn create(_net: &Arc<NetNs>, _ty: u32, _protocol: u32) -> KResult<Arc<dyn Socket>> {
    Err(Errno::EAFNOSUPPORT)
}
