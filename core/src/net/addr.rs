//! Socket addresses: struct sockaddr_* decoded from and encoded to guest bytes.

use alloc::vec::Vec;
use umbra_abi::net::*;

use crate::error::{Errno, KResult};

/// A decoded socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// AF_UNSPEC (connect to it dissolves a datagram association).
    Unspec,
    Unix(UnixAddr),
    /// sockaddr_in: address and port in host order of their meaning (the
    /// address bytes as on the wire; the port as a number).
    Inet {
        addr: [u8; 4],
        port: u16,
    },
    /// sockaddr_in6.
    Inet6 {
        addr: [u8; 16],
        port: u16,
        flowinfo: u32,
        scope_id: u32,
    },
    /// sockaddr_nl.
    Netlink {
        pid: u32,
        groups: u32,
    },
}

/// A sockaddr_un.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnixAddr {
    /// No name (an unbound socket, or bind with only the family: autobind).
    Unnamed,
    /// A path in the file system (no NUL).
    Path(Vec<u8>),
    /// The abstract namespace: the bytes after the leading NUL.
    Abstract(Vec<u8>),
}

/// The file-system node a socket path names: (device, inode number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    pub dev: u64,
    pub ino: u64,
}

fn family_of(b: &[u8]) -> KResult<u16> {
    if b.len() < 2 {
        return Err(Errno::EINVAL);
    }
    Ok(u16::from_ne_bytes([b[0], b[1]]))
}

impl SockAddr {
    /// Decodes `b` (exactly the caller's addrlen bytes). EINVAL for a
    /// length the family does not accept; the family is checked against
    /// the socket's by the socket itself (EAFNOSUPPORT or EINVAL as Linux).
    pub fn decode(b: &[u8]) -> KResult<SockAddr> {
        match family_of(b)? {
            AF_UNSPEC => Ok(SockAddr::Unspec),
            AF_UNIX => {
                let path = &b[2..];
                if path.len() > UNIX_PATH_MAX {
                    return Err(Errno::EINVAL);
                }
                Ok(SockAddr::Unix(if path.is_empty() {
                    UnixAddr::Unnamed
                } else if path[0] == 0 {
                    UnixAddr::Abstract(path[1..].to_vec())
                } else {
                    // A path ends at its first NUL, or at addrlen.
                    let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                    UnixAddr::Path(path[..end].to_vec())
                }))
            }
            AF_INET => {
                if b.len() < 16 {
                    return Err(Errno::EINVAL);
                }
                Ok(SockAddr::Inet {
                    port: u16::from_be_bytes([b[2], b[3]]),
                    addr: [b[4], b[5], b[6], b[7]],
                })
            }
            AF_INET6 => {
                // SIN6_LEN_RFC2133: 24 bytes, without the scope id.
                if b.len() < 24 {
                    return Err(Errno::EINVAL);
                }
                let mut addr = [0u8; 16];
                addr.copy_from_slice(&b[8..24]);
                let scope_id = if b.len() >= 28 {
                    u32::from_ne_bytes([b[24], b[25], b[26], b[27]])
                } else {
                    0
                };
                Ok(SockAddr::Inet6 {
                    port: u16::from_be_bytes([b[2], b[3]]),
                    flowinfo: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                    addr,
                    scope_id,
                })
            }
            AF_NETLINK => {
                if b.len() < 12 {
                    return Err(Errno::EINVAL);
                }
                Ok(SockAddr::Netlink {
                    pid: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                    groups: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
                })
            }
            _ => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// The address family.
    pub fn family(&self) -> u16 {
        match self {
            SockAddr::Unspec => AF_UNSPEC,
            SockAddr::Unix(_) => AF_UNIX,
            SockAddr::Inet { .. } => AF_INET,
            SockAddr::Inet6 { .. } => AF_INET6,
            SockAddr::Netlink { .. } => AF_NETLINK,
        }
    }

    /// The bytes Linux writes for this address (its addrlen is their
    /// length): a path's sockaddr_un ends with a NUL, an abstract one does
    /// not, an unnamed one is only the family.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(28);
        v.extend_from_slice(&self.family().to_ne_bytes());
        match self {
            SockAddr::Unspec => {}
            SockAddr::Unix(UnixAddr::Unnamed) => {}
            SockAddr::Unix(UnixAddr::Path(p)) => {
                v.extend_from_slice(p);
                v.push(0);
            }
            SockAddr::Unix(UnixAddr::Abstract(n)) => {
                v.push(0);
                v.extend_from_slice(n);
            }
            SockAddr::Inet { addr, port } => {
                v.extend_from_slice(&port.to_be_bytes());
                v.extend_from_slice(addr);
                v.extend_from_slice(&[0; 8]);
            }
            SockAddr::Inet6 {
                addr,
                port,
                flowinfo,
                scope_id,
            } => {
                v.extend_from_slice(&port.to_be_bytes());
                v.extend_from_slice(&flowinfo.to_be_bytes());
                v.extend_from_slice(addr);
                v.extend_from_slice(&scope_id.to_ne_bytes());
            }
            SockAddr::Netlink { pid, groups } => {
                v.extend_from_slice(&[0, 0]);
                v.extend_from_slice(&pid.to_ne_bytes());
                v.extend_from_slice(&groups.to_ne_bytes());
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(path: &[u8]) -> Vec<u8> {
        let mut v = AF_UNIX.to_ne_bytes().to_vec();
        v.extend_from_slice(path);
        v
    }

    #[test]
    fn unix_addresses_round_trip_as_linux_writes_them() {
        let p = SockAddr::decode(&un(b"/tmp/s\0junk")).unwrap();
        assert_eq!(p, SockAddr::Unix(UnixAddr::Path(b"/tmp/s".to_vec())));
        assert_eq!(p.encode(), un(b"/tmp/s\0"));
        let a = SockAddr::decode(&un(b"\0ab\0c")).unwrap();
        assert_eq!(a, SockAddr::Unix(UnixAddr::Abstract(b"ab\0c".to_vec())));
        assert_eq!(a.encode(), un(b"\0ab\0c"));
        let n = SockAddr::decode(&un(b"")).unwrap();
        assert_eq!(n, SockAddr::Unix(UnixAddr::Unnamed));
        assert_eq!(n.encode().len(), 2);
        assert_eq!(SockAddr::decode(&un(&[b'a'; 109])), Err(Errno::EINVAL));
        assert_eq!(SockAddr::decode(&[1]), Err(Errno::EINVAL));
    }

    #[test]
    fn inet_addresses_round_trip() {
        let mut b = AF_INET.to_ne_bytes().to_vec();
        b.extend_from_slice(&[0x1f, 0x90, 127, 0, 0, 1]);
        b.extend_from_slice(&[0; 8]);
        let a = SockAddr::decode(&b).unwrap();
        assert_eq!(
            a,
            SockAddr::Inet {
                addr: [127, 0, 0, 1],
                port: 8080
            }
        );
        assert_eq!(a.encode(), b);
        assert_eq!(SockAddr::decode(&b[..15]), Err(Errno::EINVAL));
        let mut b6 = AF_INET6.to_ne_bytes().to_vec();
        b6.extend_from_slice(&[0, 80, 0, 0, 0, 0]);
        b6.extend_from_slice(&[0; 15]);
        b6.push(1);
        let a6 = SockAddr::decode(&b6).unwrap();
        assert!(matches!(
            a6,
            SockAddr::Inet6 {
                port: 80,
                scope_id: 0,
                ..
            }
        ));
        assert_eq!(a6.encode().len(), 28);
    }
}
