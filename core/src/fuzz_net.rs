//! Socket fuzzing on MockHost (issue 12, the hostile tests): random
//! sequences of the socket calls (socket, socketpair, bind, listen, connect,
//! accept4, the send and receive families with random msghdrs and control
//! messages, shutdown, get/setsockopt, getsockname/getpeername, the socket
//! ioctls, read/write/poll/close on sockets) with random arguments, on a
//! kernel whose host grants a (fake) host network, so host-backed sockets
//! (net/host.rs) are driven too. Fixed-seed xorshift: a failure is
//! reproduced by its case number.
//!
//! Invariants after every case: no panic; the run ends (mock-time timeout);
//! no frame, process or address-space leak; the console files are held by
//! nobody else; and every host socket the kernel opened is closed again.

use crate::config::{Config, PAGE_SIZE};
use crate::fs;
use crate::host::MmId;
use crate::kernel::Kernel;
use crate::testing::{newc_archive, tiny_elf, MockHost, MockNet, Rng, Step};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use std::panic::{catch_unwind, AssertUnwindSafe};
use umbra_abi::elf::ET_EXEC;
use umbra_abi::structs::Timespec;
use umbra_abi::syscall::nr::*;

const FRAMES: usize = 512;
const PAGE: u64 = PAGE_SIZE as u64;

struct Booted {
    k: Kernel<MockHost>,
    mm: MmId,
    console: [Arc<fs::file::OpenFile>; 3],
    scratch: u64,
}

fn boot() -> Booted {
    let elf = tiny_elf(ET_EXEC);
    let archive = newc_archive(&[
        ("bin", 0o040_755, &[]),
        ("bin/prog", 0o100_755, &elf),
        ("tmp", 0o041_777, &[]),
    ]);
    let (vfs, state) =
        fs::vfs_from_cpio(&archive, Timespec::default()).expect("the test initrd unpacks");
    let mut host = MockHost::new(FRAMES * PAGE_SIZE);
    host.net = Some(MockNet::default());
    let cfg = Config {
        argv: vec![String::from("/bin/prog")],
        max_procs: 4,
        max_fds: 32,
        timeout_ns: Some(3_600 * 1_000_000_000),
        ..Config::default()
    };
    let mut k = Kernel::new(host, vfs, cfg, FRAMES);
    let console = fs::devfs::stdio_files(&state);
    k.spawn_init(console.clone()).expect("pid 1 starts");
    let p = k.process(1).expect("pid 1");
    let (mm, sp) = (p.mm.id, p.thread.regs.sp());
    Booted {
        k,
        mm,
        console,
        scratch: (sp & !(PAGE - 1)) - 8 * PAGE,
    }
}

/// Where things are in the scratch area (8 pages below pid 1's stack).
struct Lay {
    /// Socket addresses, 128 bytes apart, with their lengths.
    addrs: Vec<(u64, u64)>,
    /// Random bytes (payloads, option values, garbage structs).
    data: u64,
    /// msghdrs (64 bytes apart) and an mmsghdr array.
    msgs: Vec<u64>,
    mmsg: u64,
    /// Out-parameters: socklen_t and int slots.
    out: u64,
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_ne_bytes());
}

/// The addresses the scripts name: Unix paths, an abstract name, loopback
/// and outside IPv4/IPv6 (the outside ones are host-backed), netlink, a
/// garbage family, AF_UNSPEC, an over-long path.
fn addresses() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in [
        &b"/tmp/s1"[..],
        b"/tmp/s2",
        b"\0abs",
        b"/bin/prog",
        b"/nonexistent/s",
    ] {
        let mut v = Vec::new();
        put16(&mut v, 1);
        v.extend_from_slice(p);
        v.push(0);
        out.push(v);
    }
    for (ip, port) in [
        ([127, 0, 0, 1], 7000u16),
        ([127, 0, 0, 1], 7001),
        ([0, 0, 0, 0], 0),
        ([10, 0, 0, 1], 80),
        ([10, 0, 0, 1], 1),
        ([255, 255, 255, 255], 9),
        ([224, 0, 0, 1], 9),
    ] {
        let mut v = Vec::new();
        put16(&mut v, 2);
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(&ip);
        v.extend_from_slice(&[0; 8]);
        out.push(v);
    }
    for (last, first, port) in [(1u8, 0u8, 7000u16), (1, 0x20, 80), (0, 0, 0)] {
        let mut v = Vec::new();
        put16(&mut v, 10);
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(&[0; 4]);
        let mut a = [0u8; 16];
        a[0] = first;
        a[15] = last;
        v.extend_from_slice(&a);
        v.extend_from_slice(&[0; 4]);
        out.push(v);
    }
    let mut nl = Vec::new();
    put16(&mut nl, 16);
    nl.extend_from_slice(&[0; 10]);
    out.push(nl);
    let mut unspec = Vec::new();
    put16(&mut unspec, 0);
    unspec.extend_from_slice(&[0; 14]);
    out.push(unspec);
    let mut odd = Vec::new();
    put16(&mut odd, 0x7777);
    odd.extend_from_slice(&[0xaa; 20]);
    out.push(odd);
    let mut long = Vec::new();
    put16(&mut long, 1);
    long.extend_from_slice(&[b'x'; 110]);
    out.push(long);
    out
}

/// A control buffer of 1-3 random control messages: SCM_RIGHTS with fds
/// (real, closed, negative), SCM_CREDENTIALS (own and forged ids), an
/// unknown type, and lengths that are short, long or past the buffer.
fn control(r: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..1 + r.below(3) {
        let (level, ty, body): (u32, u32, Vec<u8>) = match r.below(4) {
            0 | 1 => {
                let n = r.below(5) as usize;
                let mut b = Vec::new();
                for _ in 0..n {
                    let fd: i32 = r.pick(&[0, 1, 3, 4, 5, 6, 7, 31, 1000, -1]);
                    b.extend_from_slice(&fd.to_ne_bytes());
                }
                (1, 1, b)
            }
            2 => {
                let mut b = Vec::new();
                for x in [
                    r.pick(&[1u32, 0, 2, 99]),
                    r.pick(&[0u32, 1000, u32::MAX]),
                    0,
                ] {
                    b.extend_from_slice(&x.to_ne_bytes());
                }
                (1, 2, b)
            }
            _ => (r.pick(&[1u32, 0, 6, 41]), r.below(64) as u32, vec![0u8; 8]),
        };
        let hdr = 16u64;
        let len = match r.below(8) {
            0 => r.below(16),
            1 => r.below(1 << 20),
            _ => hdr + body.len() as u64,
        };
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&level.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&body);
        while v.len() % 8 != 0 {
            v.push(0);
        }
    }
    v
}

#[derive(Clone, Debug)]
struct Case {
    pokes: Vec<(u64, Vec<u8>)>,
    steps: Vec<Step>,
}

fn make_case(n: u64, len: usize, s: u64) -> Case {
    let mut r = Rng(0x51ed_270b_9e37_79b9 ^ n.wrapping_mul(0x1000_0000_01b3));
    r.next();
    let mut pokes = Vec::new();
    // Page 0: addresses.
    let mut addrs = Vec::new();
    for (i, a) in addresses().into_iter().enumerate() {
        let at = s + 128 * i as u64;
        addrs.push((at, a.len() as u64));
        pokes.push((at, a));
    }
    // Page 1: random data.
    let data = s + PAGE;
    pokes.push((data, (0..PAGE).map(|_| r.next() as u8).collect()));
    // Pages 2-3: iovecs, control buffers and msghdrs.
    let iov = s + 2 * PAGE;
    let mut iv = Vec::new();
    for i in 0..4u64 {
        iv.extend_from_slice(&(data + 512 * i).to_ne_bytes());
        iv.extend_from_slice(&r.pick(&[0u64, 1, 100, 512, 4096, 1 << 40]).to_ne_bytes());
    }
    pokes.push((iov, iv));
    let mut msgs = Vec::new();
    for i in 0..6u64 {
        let ctl_at = s + 3 * PAGE + 512 * i;
        let ctl = control(&mut r);
        let ctl_len = if r.chance(80) {
            ctl.len() as u64
        } else {
            r.below(1 << 16)
        };
        pokes.push((ctl_at, ctl));
        let (name, namelen) = if r.chance(40) {
            let (a, l) = r.pick(&addrs);
            (a, l)
        } else {
            (0, 0)
        };
        let mut m = Vec::new();
        for x in [
            name,
            namelen,
            iov,
            r.pick(&[0u64, 1, 2, 4, 1025]),
            if r.chance(85) { ctl_at } else { 0 },
            ctl_len,
            0,
        ] {
            m.extend_from_slice(&x.to_ne_bytes());
        }
        let at = s + 2 * PAGE + 256 + 64 * i;
        pokes.push((at, m));
        msgs.push(at);
    }
    // An mmsghdr array (msghdr + msg_len, 64 bytes each) at page 4.
    let mmsg = s + 4 * PAGE;
    let mut mm = Vec::new();
    for m in &msgs[..4] {
        let src = pokes
            .iter()
            .find(|(a, _)| a == m)
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        mm.extend_from_slice(&src);
        mm.extend_from_slice(&[0u8; 8]);
    }
    pokes.push((mmsg, mm));
    // Page 5: out-parameters (socklen_t 128 and ints).
    let out = s + 5 * PAGE;
    let mut o = Vec::new();
    for _ in 0..16 {
        o.extend_from_slice(&128u32.to_ne_bytes());
    }
    pokes.push((out, o));
    let lay = Lay {
        addrs,
        data,
        msgs,
        mmsg,
        out,
    };
    let mut steps = Vec::new();
    // Start with a few sockets so later calls find some.
    for _ in 0..3 {
        steps.push(Step::Syscall(SOCKET as u64, socket_args(&mut r)));
    }
    while steps.len() < len {
        let (nr, a) = call(&mut r, &lay);
        steps.push(Step::Syscall(nr as u64, a));
    }
    Case { pokes, steps }
}

fn socket_args(r: &mut Rng) -> [u64; 6] {
    let any = r.below(64);
    let domain = r.pick(&[1u64, 1, 2, 2, 10, 10, 16, 17, 0, 44, any]);
    let ty = r.pick(&[1u64, 1, 2, 2, 3, 5, 10, 0, 6]);
    let flags = r.pick(&[0u64, 0, 0o4000, 0o2000000, 0o4000 | 0o2000000, 0x40]);
    let any = r.next();
    let proto = r.pick(&[0u64, 0, 0, 6, 17, 1, 255, any]);
    [domain, ty | flags, proto, 0, 0, 0]
}

fn fd(r: &mut Rng) -> u64 {
    if r.chance(90) {
        3 + r.below(8)
    } else {
        r.pick(&[0u64, 1, 2, 31, 1000, u32::MAX as u64, u64::MAX])
    }
}

fn flags(r: &mut Rng) -> u64 {
    // MSG_DONTWAIT most of the time, so fewer calls wait for the timeout.
    let mut f = if r.chance(80) { 0x40 } else { 0 };
    for bit in [
        0x1u64,
        0x2,
        0x20,
        0x100,
        0x4000,
        0x8000,
        0x4000_0000,
        0x10000,
    ] {
        if r.chance(15) {
            f |= bit;
        }
    }
    if r.chance(5) {
        f = r.next() & 0xffff_ffff;
    }
    f
}

fn addr(r: &mut Rng, lay: &Lay) -> (u64, u64) {
    let (at, len) = r.pick(&lay.addrs);
    match r.below(10) {
        0 => (at, r.below(200)),
        1 => (0, len),
        2 => (0x10, len),
        _ => (at, len),
    }
}

fn call(r: &mut Rng, lay: &Lay) -> (usize, [u64; 6]) {
    let out = lay.out + 4 * r.below(8);
    let data = lay.data + r.below(512);
    let dlen = r.pick(&[0u64, 1, 5, 100, 1000, 3000, 1 << 20]);
    match r.below(24) {
        0 | 1 => (SOCKET, socket_args(r)),
        2 => {
            let mut a = socket_args(r);
            a[3] = lay.out + 64;
            (SOCKETPAIR, a)
        }
        3 => {
            let (p, l) = addr(r, lay);
            (BIND, [fd(r), p, l, 0, 0, 0])
        }
        4 => (
            LISTEN,
            [fd(r), r.pick(&[0u64, 1, 5, 128, u64::MAX]), 0, 0, 0, 0],
        ),
        5 | 6 => {
            let (p, l) = addr(r, lay);
            (CONNECT, [fd(r), p, l, 0, 0, 0])
        }
        7 => (
            ACCEPT4,
            [fd(r), lay.addrs[0].0, out, r.pick(&[0u64, 0o4000, 1]), 0, 0],
        ),
        8 | 9 => {
            let (p, l) = if r.chance(50) { addr(r, lay) } else { (0, 0) };
            (SENDTO, [fd(r), data, dlen, flags(r), p, l])
        }
        10 | 11 => (RECVFROM, [fd(r), data, dlen, flags(r), lay.addrs[1].0, out]),
        12 => (SENDMSG, [fd(r), r.pick(&lay.msgs), flags(r), 0, 0, 0]),
        13 => (RECVMSG, [fd(r), r.pick(&lay.msgs), flags(r), 0, 0, 0]),
        14 => (SENDMMSG, [fd(r), lay.mmsg, r.below(6), flags(r), 0, 0]),
        15 => (RECVMMSG, [fd(r), lay.mmsg, r.below(6), flags(r), 0, 0]),
        16 => (SHUTDOWN, [fd(r), r.below(4), 0, 0, 0, 0]),
        17 => {
            let any = r.next();
            let level = r.pick(&[1u64, 6, 17, 0, 41, 263, any]);
            (
                SETSOCKOPT,
                [
                    fd(r),
                    level,
                    r.below(70),
                    data,
                    r.pick(&[0u64, 4, 8, 16, 3]),
                    0,
                ],
            )
        }
        18 => {
            let any = r.next();
            let level = r.pick(&[1u64, 6, 17, 0, 41, any]);
            (GETSOCKOPT, [fd(r), level, r.below(70), data, out, 0])
        }
        19 => (
            r.pick(&[GETSOCKNAME, GETPEERNAME]),
            [fd(r), lay.addrs[2].0, out, 0, 0, 0],
        ),
        20 => {
            // FIONREAD, SIOCOUTQ, SIOCGIFCONF, SIOCGIFADDR, SIOCGIFFLAGS, FIONBIO.
            let cmd = r.pick(&[0x541bu64, 0x5411, 0x8912, 0x8915, 0x8913, 0x5421]);
            (IOCTL, [fd(r), cmd, data, 0, 0, 0])
        }
        21 => (
            r.pick(&[READ, WRITE]),
            [fd(r), data, r.pick(&[0u64, 1, 100, 4096]), 0, 0, 0],
        ),
        22 => {
            // ppoll on two of the sockets, timeout 0.
            (PPOLL, [lay.out + 96, 2, lay.out + 112, 0, 8, 0])
        }
        _ => (CLOSE, [fd(r), 0, 0, 0, 0, 0]),
    }
}

fn run_case(case: &Case) -> Result<(), String> {
    let mut b = boot();
    for (va, bytes) in &case.pokes {
        let p = b.k.procs.get_mut(&1).expect("pid 1");
        p.mm.write(&mut b.k.frames, &mut b.k.host, *va, bytes)
            .expect("scratch memory is in the stack VMA");
    }
    let mut steps = case.steps.clone();
    steps.push(Step::Syscall(EXIT_GROUP as u64, [0; 6]));
    b.k.host.script(b.mm, steps);
    let status = catch_unwind(AssertUnwindSafe(|| b.k.run())).map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| String::from(*s)))
            .unwrap_or_else(|| String::from("(non-string panic)"));
        format!("panic: {msg}")
    })?;
    let mut leaks = Vec::new();
    if b.k.frames.used() != 0 {
        leaks.push(format!("{} frames used after exit", b.k.frames.used()));
    }
    if !b.k.procs.is_empty() || !b.k.zombies.is_empty() {
        leaks.push(format!("processes left: {:?}", b.k.pids()));
    }
    if !b.k.host.spaces.is_empty() {
        leaks.push(format!(
            "{} host address spaces left",
            b.k.host.spaces.len()
        ));
    }
    for (fd, f) in b.console.iter().enumerate() {
        let n = Arc::strong_count(f);
        if n != 1 {
            leaks.push(format!("console file {fd} still has {} holders", n - 1));
        }
    }
    let net = b.k.host.net.as_ref().expect("the mock network");
    if net.open() != 0 {
        leaks.push(format!(
            "{} of {} host sockets left open",
            net.open(),
            net.opened
        ));
    }
    if leaks.is_empty() {
        Ok(())
    } else {
        Err(format!("exit {status:?}: {}", leaks.join("; ")))
    }
}

fn describe(case: &Case) -> String {
    let mut out = String::new();
    for s in &case.steps {
        if let Step::Syscall(nr, a) = s {
            let name = umbra_abi::syscall::nr::name(*nr as usize).unwrap_or("?");
            out.push_str(&format!("  {name} {a:#x?}\n"));
        }
    }
    out
}

/// Drops steps while the case still fails: a short reproduction.
fn minimise(case: &Case) -> Case {
    let mut best = case.clone();
    let mut i = 0;
    while i < best.steps.len() {
        let mut c = best.clone();
        c.steps.remove(i);
        if run_case(&c).is_err() {
            best = c;
        } else {
            i += 1;
        }
    }
    best
}

fn fuzz(range: core::ops::Range<u64>, len: usize) {
    let scratch = boot().scratch;
    let hook = std::panic::take_hook();
    std::panic::set_hook(alloc::boxed::Box::new(|_| {}));
    let mut failure = None;
    for n in range {
        let case = make_case(n, len, scratch);
        if let Err(f) = run_case(&case) {
            let min = minimise(&case);
            failure = Some(format!(
                "case {n}: {f}\nminimised script:\n{}",
                describe(&min)
            ));
            break;
        }
    }
    std::panic::set_hook(hook);
    if let Some(f) = failure {
        panic!("{f}");
    }
}

#[test]
#[cfg(feature = "net-host")]
fn the_mock_network_sees_every_host_socket_closed() {
    // A host-backed connect, data, and close: the host socket is closed by
    // the time the kernel is done (the invariant the fuzzer checks).
    let scratch = boot().scratch;
    let mut case = make_case(0, 0, scratch);
    let outside = 3 + 5; // index of 10.0.0.1:80 in `addresses()`
    let (at, len) = (scratch + 128 * outside as u64, 16);
    case.steps = vec![
        Step::Syscall(SOCKET as u64, [2, 1, 0, 0, 0, 0]),
        Step::Syscall(CONNECT as u64, [3, at, len, 0, 0, 0]),
        Step::Syscall(WRITE as u64, [3, scratch + PAGE, 10, 0, 0, 0]),
        Step::Syscall(CLOSE as u64, [3, 0, 0, 0, 0, 0]),
    ];
    run_case(&case).unwrap();
    // (run_case checks that nothing is left open; this checks that the
    // script did open a host socket.)
    let mut b = boot();
    for (va, bytes) in &case.pokes {
        let p = b.k.procs.get_mut(&1).expect("pid 1");
        p.mm.write(&mut b.k.frames, &mut b.k.host, *va, bytes)
            .unwrap();
    }
    let mut steps = case.steps.clone();
    steps.push(Step::Syscall(EXIT_GROUP as u64, [0; 6]));
    b.k.host.script(b.mm, steps);
    b.k.run();
    let net = b.k.host.net.as_ref().unwrap();
    assert_eq!((net.opened, net.closed, net.open()), (1, 1, 0));
    // connect, write: both succeeded.
    let r: Vec<i64> = b.k.host.results.iter().map(|r| r.1).collect();
    assert_eq!(&r[..3], &[3, 0, 10], "{r:?}");
}

/// Found by `random_socket_calls_long` (case 1019): getsockopt(IPPROTO_TCP)
/// with an option number past inet's table of TCP options panicked.
#[test]
#[cfg(feature = "inet")]
fn tcp_getsockopt_of_an_unknown_option_is_enoprotoopt() {
    let scratch = boot().scratch;
    let mut case = make_case(0, 0, scratch);
    case.steps = vec![
        Step::Syscall(SOCKET as u64, [2, 1, 0, 0, 0, 0]),
        Step::Syscall(
            GETSOCKOPT as u64,
            [3, 6, 68, scratch + PAGE, scratch + 5 * PAGE, 0],
        ),
        Step::Syscall(
            GETSOCKOPT as u64,
            [3, 6, u32::MAX as u64, scratch + PAGE, scratch + 5 * PAGE, 0],
        ),
    ];
    let mut b = boot();
    for (va, bytes) in &case.pokes {
        let p = b.k.procs.get_mut(&1).expect("pid 1");
        p.mm.write(&mut b.k.frames, &mut b.k.host, *va, bytes)
            .unwrap();
    }
    let mut steps = case.steps.clone();
    steps.push(Step::Syscall(EXIT_GROUP as u64, [0; 6]));
    b.k.host.script(b.mm, steps);
    b.k.run();
    let r: Vec<i64> = b.k.host.results.iter().map(|r| r.1).collect();
    assert_eq!(&r[..3], &[3, -92, -92], "{r:?}");
}

#[test]
fn random_socket_calls_short() {
    fuzz(0..300, 30);
}

#[test]
#[ignore]
fn random_socket_calls_long() {
    fuzz(1000..4000, 120);
}
