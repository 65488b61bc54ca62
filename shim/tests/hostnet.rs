//! The host network as a policy grants it (`PtraceHost::enable_net`): a
//! confined umbra opens, connects and moves data on host sockets for the
//! guest, `wait_event` wakes when one becomes ready, and everything the
//! policy does not grant is refused (by the policy) or kills umbra (by the
//! seccomp allow-list). Confinement is irreversible, so each case runs in a
//! child process (this binary, `--exact helper_... --ignored`); the TCP case
//! runs in a network namespace of its own (`unshare -n`, a veth interface
//! (veth) with 10.0.0.1/24), as root.
//!
//! x86_64 only, as the other shim tests (the syscall numbers of the forbidden
//! calls below are x86_64's).
#![cfg(target_arch = "x86_64")]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use umbra_core::host::{HostMisc, HostSockType, HostTime, NetError};
use umbra_core::net::{SockAddr, UnixAddr};
use umbra_shim::host::{HostOptions, NetOptions, PtraceHost};
use umbra_shim::sys::net as sn;

const SIGSYS: i32 = 31;
const POLLIN: u16 = 1;
const POLLOUT: u16 = 4;

fn host() -> PtraceHost {
    PtraceHost::new(HostOptions {
        mem_bytes: 16 << 20,
        cpu: None,
        disks: vec![],
    })
    .expect("PtraceHost::new")
}

fn is_helper() -> bool {
    std::env::var_os("UMBRA_SHIM_HELPER").is_some()
}

fn helper(name: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("UMBRA_SHIM_HELPER", "1")
    // The helper confines umbra in libtest's thread, whose glibc malloc arena
    // is a non-main one: trimming it reads /proc/sys/vm/overcommit_memory
    // (openat, which the filter kills). The umbra binary runs its kernel on
    // the main thread, whose arena trims with brk; one arena does the same here.
    .env("MALLOC_ARENA_MAX", "1")
    .stdin(Stdio::null());
    c
}

/// Runs a helper inside a fresh network namespace with lo up and a veth
/// pair, one end holding 10.0.0.1/24 (this kernel has no dummy driver).
fn helper_in_netns(name: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "ip link set lo up && ip link add v0 type veth peer name v1 \
         && ip addr add 10.0.0.1/24 dev v0 && ip link set v1 up && ip link set v0 up && exec '{}' --exact {name} --ignored --nocapture --test-threads=1",
        exe.display()
    );
    let mut c = Command::new("unshare");
    c.args(["-n", "sh", "-c", &script])
        .env("UMBRA_SHIM_HELPER", "1")
        .env("MALLOC_ARENA_MAX", "1") // as in `helper`
        .stdin(Stdio::null());
    c
}

/// A listening host socket made with umbra's own calls (before confinement).
fn listener(addr: &SockAddr) -> i32 {
    let ty = sn::SOCK_STREAM;
    let fd = sn::socket(addr.family(), ty).expect("socket");
    sn::bind(fd, &addr.encode()).expect("bind");
    sn::listen(fd, 8).expect("listen");
    fd
}

/// Waits (in `wait_event`, at most 20 s) until `f` gives a value.
fn until<T>(h: &mut PtraceHost, mut f: impl FnMut(&mut PtraceHost) -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f(h) {
            return v;
        }
        assert!(Instant::now() < end, "timed out");
        let d = h.now_mono() + 1_000_000_000;
        h.wait_event(Some(d));
    }
}

/// The server side: accepts one connection on `l` (non-blocking listener).
fn accept_one(h: &mut PtraceHost, l: i32) -> i32 {
    until(h, |_| {
        let _ = umbra_shim::sys::poll_fd(l, 1, 100);
        sn::accept(l).ok().map(|(fd, _)| fd)
    })
}

/// What both helpers check once connected: data both ways, and a guest
/// receive that would block is woken by `wait_event` as soon as the host
/// side writes (long before the 10 s deadline).
fn exercise(h: &mut PtraceHost, s: u32, server: i32) {
    let n = h.host_net().unwrap();
    assert_eq!(n.net_send(s, b"ping", None), Ok(4));
    let mut buf = [0u8; 16];
    let got = until(h, |_| match sn::recvfrom(server, &mut buf, 0) {
        Ok((n, _)) => Some(n),
        Err(_) => {
            let _ = umbra_shim::sys::poll_fd(server, 1, 100);
            None
        }
    });
    assert_eq!(&buf[..got], b"ping");
    let n = h.host_net().unwrap();
    assert_eq!(n.net_recv(s, &mut buf, false), Err(NetError::WouldBlock));
    assert_eq!(sn::sendto(server, b"pong", None), Ok(4));
    let t0 = Instant::now();
    let d = h.now_mono() + 10_000_000_000;
    h.wait_event(Some(d));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "wait_event slept {:?} with data ready",
        t0.elapsed()
    );
    let n = h.host_net().unwrap();
    assert_ne!(n.net_poll(s, POLLIN) & POLLIN, 0);
    assert_eq!(
        n.net_recv(s, &mut buf, true).map(|r| (r.0, r.1)),
        Ok((4, 4))
    );
    assert_eq!(
        n.net_recv(s, &mut buf, false).map(|r| (r.0, r.1)),
        Ok((4, 4))
    );
    assert_eq!(&buf[..4], b"pong");
    // Half-close reaches the host side as end of file; closing too.
    n.net_shutdown(s, 1).unwrap();
    let eof = until(h, |_| match sn::recvfrom(server, &mut buf, 0) {
        Ok((n, _)) => Some(n),
        Err(_) => {
            let _ = umbra_shim::sys::poll_fd(server, 1, 100);
            None
        }
    });
    assert_eq!(eof, 0);
    let n = h.host_net().unwrap();
    n.net_close(s);
    assert_eq!(n.net_send(s, b"x", None), Err(NetError::BadHandle));
}

#[test]
#[ignore]
fn helper_net_host() {
    if !is_helper() {
        return;
    }
    let mut h = host();
    let l = listener(&SockAddr::Inet {
        addr: [10, 0, 0, 1],
        port: 0,
    });
    let at = SockAddr::decode(&sn::local_name(l).unwrap()).unwrap();
    h.enable_net(NetOptions {
        outbound: true,
        ..NetOptions::default()
    })
    .unwrap();
    h.confine().expect("confine");
    let n = h.host_net().expect("a host network");
    let s = n.net_connect(HostSockType::Stream, &at).expect("connect");
    until(&mut h, |h| {
        let n = h.host_net().unwrap();
        (n.net_poll(s, POLLOUT) & POLLOUT != 0).then_some(())
    });
    let n = h.host_net().unwrap();
    assert_eq!(n.net_take_error(s), None);
    assert_eq!(n.net_peer_addr(s), Ok(at.clone()));
    assert!(matches!(
        n.net_local_addr(s),
        Ok(SockAddr::Inet {
            addr: [10, 0, 0, 1],
            ..
        })
    ));
    let server = accept_one(&mut h, l);
    exercise(&mut h, s, server);
    // A refused connection reports ECONNREFUSED through SO_ERROR or at once.
    let n = h.host_net().unwrap();
    let closed = SockAddr::Inet {
        addr: [10, 0, 0, 1],
        port: 1,
    };
    match n.net_connect(HostSockType::Stream, &closed) {
        Err(e) => assert_eq!(e, NetError::Refused),
        Ok(s) => {
            until(&mut h, |h| {
                let n = h.host_net().unwrap();
                (n.net_poll(s, POLLOUT) & (POLLOUT | 0x18) != 0).then_some(())
            });
            let n = h.host_net().unwrap();
            assert_eq!(n.net_take_error(s), Some(NetError::Refused));
        }
    }
    // UDP out and back through the same namespace.
    let n = h.host_net().unwrap();
    let u = n.net_dgram(sn::AF_INET).expect("udp");
    let to = SockAddr::Inet {
        addr: [10, 0, 0, 1],
        port: 9,
    };
    assert_eq!(n.net_send(u, b"dgram", Some(&to)), Ok(5));
    // The host's loopback and "any" addresses, and every Unix path, are
    // refused by the policy.
    for to in [
        SockAddr::Inet {
            addr: [127, 0, 0, 1],
            port: 80,
        },
        SockAddr::Inet {
            addr: [0, 0, 0, 0],
            port: 80,
        },
        SockAddr::Unix(UnixAddr::Path(b"/tmp/x".to_vec())),
        SockAddr::Unix(UnixAddr::Abstract(b"x".to_vec())),
    ] {
        assert_eq!(
            n.net_connect(HostSockType::Stream, &to),
            Err(NetError::Denied),
            "{to:?}"
        );
    }
    assert_eq!(
        n.net_send(
            u,
            b"x",
            Some(&SockAddr::Inet {
                addr: [127, 0, 0, 1],
                port: 9
            })
        ),
        Err(NetError::Denied)
    );
    println!("hostnet helper ok");
}

#[test]
fn confined_umbra_uses_the_host_network_it_was_granted() {
    if is_helper() {
        return;
    }
    let out = helper_in_netns("helper_net_host").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("hostnet helper ok"),
        "{:?}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sock_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("umbra-hostnet-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}

#[test]
#[ignore]
fn helper_unix_socket() {
    if !is_helper() {
        return;
    }
    let dir = std::env::var("UMBRA_TEST_DIR").unwrap();
    let granted = format!("{dir}/granted");
    let other = format!("{dir}/other");
    let path = |p: &str| SockAddr::Unix(UnixAddr::Path(p.as_bytes().to_vec()));
    let mut h = host();
    let l = listener(&path(&granted));
    let _l2 = listener(&path(&other));
    let abs = listener(&SockAddr::Unix(UnixAddr::Abstract(
        format!("umbra-test-{}", std::process::id()).into_bytes(),
    )));
    let _ = abs;
    h.enable_net(NetOptions {
        unix_paths: vec![granted.as_bytes().to_vec()],
        ..NetOptions::default()
    })
    .unwrap();
    h.confine().expect("confine");
    let n = h.host_net().expect("a host network");
    let s = n
        .net_connect(HostSockType::Stream, &path(&granted))
        .expect("connect to the granted path");
    let server = accept_one(&mut h, l);
    exercise(&mut h, s, server);
    let n = h.host_net().unwrap();
    for to in [
        path(&other),
        SockAddr::Unix(UnixAddr::Abstract(
            format!("umbra-test-{}", std::process::id()).into_bytes(),
        )),
        SockAddr::Inet {
            addr: [192, 0, 2, 1],
            port: 80,
        },
    ] {
        assert_eq!(
            n.net_connect(HostSockType::Stream, &to),
            Err(NetError::Denied),
            "{to:?}"
        );
    }
    assert_eq!(n.net_dgram(sn::AF_INET), Err(NetError::Denied));
    println!("hostnet helper ok");
}

#[test]
fn confined_umbra_reaches_only_the_granted_unix_socket() {
    if is_helper() {
        return;
    }
    let dir = sock_dir();
    let out = helper("helper_unix_socket")
        .env("UMBRA_TEST_DIR", &dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("hostnet helper ok"),
        "{:?}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A socket(2) the mode does not grant: (mode, domain, type).
const FORBIDDEN: &[(&str, u16, u32)] = &[
    ("none", sn::AF_INET, sn::SOCK_STREAM),
    ("none", sn::AF_UNIX, sn::SOCK_STREAM),
    ("host", sn::AF_UNIX, sn::SOCK_STREAM),
    ("host", sn::AF_INET, 3),     // SOCK_RAW
    ("host", 17, 3),              // AF_PACKET
    ("host", 16, sn::SOCK_DGRAM), // AF_NETLINK
    ("unix", sn::AF_INET, sn::SOCK_STREAM),
    ("unix", sn::AF_UNIX, sn::SOCK_DGRAM),
];

#[test]
#[ignore]
fn helper_forbidden_socket() {
    if !is_helper() {
        return;
    }
    let i: usize = std::env::var("UMBRA_TEST_CASE").unwrap().parse().unwrap();
    let (mode, domain, ty) = FORBIDDEN[i];
    let mut h = host();
    let opts = match mode {
        "host" => NetOptions {
            outbound: true,
            ..NetOptions::default()
        },
        "unix" => NetOptions {
            unix_paths: vec![b"/nonexistent/granted".to_vec()],
            ..NetOptions::default()
        },
        _ => NetOptions::default(),
    };
    h.enable_net(opts).unwrap();
    h.confine().expect("confine");
    println!("confined");
    let r = sn::socket(domain, ty);
    println!("survived: {r:?}");
}

#[test]
fn a_socket_the_mode_does_not_grant_kills_confined_umbra() {
    if is_helper() {
        return;
    }
    for (i, case) in FORBIDDEN.iter().enumerate() {
        let out = helper("helper_forbidden_socket")
            .env("UMBRA_TEST_CASE", i.to_string())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("confined"), "{case:?}: {text}");
        assert_eq!(
            out.status.signal(),
            Some(SIGSYS),
            "{case:?}: {:?}\n{text}",
            out.status
        );
    }
}

#[test]
fn net_none_keeps_the_allow_list_as_it_was() {
    use umbra_shim::sys::seccomp::umbra_filter;
    let mut h = host();
    let before = umbra_filter(&umbra_shim::host::confinement_rules()).unwrap();
    assert_eq!(umbra_filter(&h.allowed_rules()).unwrap(), before);
    h.enable_net(NetOptions::default()).unwrap();
    assert_eq!(umbra_filter(&h.allowed_rules()).unwrap(), before);
    assert!(h.host_net().is_none());
    h.enable_net(NetOptions {
        outbound: true,
        ..NetOptions::default()
    })
    .unwrap();
    assert!(umbra_filter(&h.allowed_rules()).unwrap().len() > before.len());
    assert!(h.host_net().is_some());
}
