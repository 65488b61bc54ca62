//! The host network only by policy (issue 12, Deliver 4): `--unix-socket`,
//! `--net host` (with DNS's resolv.conf), `--publish`, and what stays out of
//! reach under each mode (ungranted host Unix sockets, abstract host
//! sockets, the host's loopback, raw and packet sockets).
//!
//! The clients are tests/guest/hostnet.c (natively and under umbra, same
//! output) and busybox wget/httpd. Tests that need a host server on a
//! non-loopback address run everything (server, native client, umbra) in a
//! network namespace of their own (`unshare -n`, a veth pair with
//! 10.0.0.1/24), as root.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use umbra_tests::*;

/// A host echo server on a Unix socket at `path`: each connection gets its
/// lines back until it half-closes. Runs until the test process ends.
fn echo_server(path: &Path) {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).expect("bind the host echo socket");
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || echo(c));
        }
    });
}

fn echo(c: UnixStream) {
    let mut w = c.try_clone().unwrap();
    for line in BufReader::new(c).lines() {
        let Ok(line) = line else { return };
        if w.write_all(format!("{line}\n").as_bytes()).is_err() {
            return;
        }
    }
}

/// A fresh directory for host sockets, short enough for sun_path.
fn sock_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(format!("/tmp/umbra-hn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const GUEST_X0: &str = "/tmp/.X11-unix/X0";

#[test]
fn unix_socket_reaches_the_granted_host_socket() {
    let dir = sock_dir("grant");
    let host = dir.join("host.sock");
    echo_server(&host);
    for libc in Libc::ALL {
        let native = Run::guest(libc, "hostnet")
            .args(&["unix", host.to_str().unwrap()])
            .native();
        native.assert_code(0);
        assert!(
            native.stdout_text().contains("echo: hello host"),
            "{}",
            native.describe()
        );
        let umbra = Run::guest(libc, "hostnet")
            .args(&["unix", GUEST_X0])
            .umbra_flag("--unix-socket")
            .umbra_flag(&format!("{}:{GUEST_X0}", host.display()))
            .umbra();
        compare(&native, &umbra);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under every mode, the guest's connects to host Unix sockets it was not
/// granted fail as they would on a machine without them: an ungranted host
/// path is not in the guest's file system (ENOENT), the host's abstract
/// names are not the guest's (ECONNREFUSED), and umbra lives on.
#[test]
fn ungranted_host_unix_sockets_are_unreachable() {
    let dir = sock_dir("ungranted");
    let granted = dir.join("granted.sock");
    let other = dir.join("other.sock");
    echo_server(&granted);
    echo_server(&other);
    let abs_name = format!("umbra-hn-{}", std::process::id());
    let mut abs = abstract_listener(&abs_name);
    // The control: natively the same probes reach both sockets.
    let nat = Run::guest(Libc::Musl, "hostnet")
        .args(&[
            "probe",
            &format!("path:{}", other.display()),
            &format!("path:{}", granted.display()),
            &format!("abs:{abs_name}"),
        ])
        .native();
    assert_eq!(
        nat.stdout_text(),
        "1: ok\n2: ok\n3: ok\n",
        "{}",
        nat.describe()
    );
    let grant = format!("{}:{GUEST_X0}", granted.display());
    let modes: [&[&str]; 3] = [
        &[],
        &["--unix-socket", &grant],
        &["--net", "host", "--unix-socket", &grant],
    ];
    for mode in modes {
        for (args, want) in [
            (
                vec!["connect_unix", other.to_str().unwrap()],
                "connect path: ENOENT\n",
            ),
            (
                vec!["connect_unix", granted.to_str().unwrap()],
                "connect path: ENOENT\n",
            ),
            (
                vec!["abstract", &abs_name],
                "connect abstract: ECONNREFUSED\n",
            ),
        ] {
            let mut run = Run::guest(Libc::Musl, "hostnet").args(&args);
            for f in mode {
                run = run.umbra_flag(f);
            }
            let out = run.umbra();
            out.assert_code(0);
            assert_eq!(
                out.stdout_text(),
                want,
                "{mode:?} {args:?}: {}",
                out.describe()
            );
        }
    }
    let _ = abs.kill();
    let _ = abs.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The host's loopback is not the guest's: a host TCP listener on
/// 127.0.0.1 is unreachable under every mode (the guest's own 127.0.0.1
/// answers: nobody listens there).
#[test]
fn the_hosts_loopback_is_not_the_guests() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port().to_string();
    // The control: natively the probe reaches it.
    let nat = Run::guest(Libc::Glibc, "hostnet")
        .args(&["tcp", "127.0.0.1", &port])
        .native();
    assert_eq!(nat.stdout_text(), "connect: ok\n", "{}", nat.describe());
    for mode in [&[][..], &["--net", "host"][..]] {
        let mut run = Run::guest(Libc::Glibc, "hostnet").args(&["tcp", "127.0.0.1", &port]);
        for f in mode {
            run = run.umbra_flag(f);
        }
        let out = run.umbra();
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            "connect: ECONNREFUSED\n",
            "{mode:?}: {}",
            out.describe()
        );
    }
}

/// A listening socket in the host's abstract namespace (std has no API for
/// it on stable: python makes it and holds it while we run).
fn abstract_listener(name: &str) -> std::process::Child {
    let py = require_tool("python3", "python3");
    let mut c = Command::new(py)
        .args([
            "-c",
            "import socket,sys,time\n\
             s=socket.socket(socket.AF_UNIX)\n\
             s.bind('\\0'+sys.argv[1]); s.listen(8)\n\
             print('up', flush=True)\n\
             time.sleep(600)",
            name,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n");
    c
}

#[test]
fn raw_and_packet_sockets_are_refused() {
    // The control: natively (as root, with CAP_NET_RAW) each is created.
    let nat = Run::guest(Libc::Glibc, "hostnet").args(&["raw"]).native();
    assert_eq!(
        nat.stdout_text(),
        "inet raw icmp: created\ninet raw tcp: created\ninet6 raw: created\n\
         packet raw: created\npacket dgram: created\ninet packet: created\n",
        "{}",
        nat.describe()
    );
    for mode in [&[][..], &["--net", "host"][..]] {
        let mut run = Run::guest(Libc::Glibc, "hostnet").args(&["raw"]);
        for f in mode {
            run = run.umbra_flag(f);
        }
        let out = run.umbra();
        out.assert_code(0);
        assert_eq!(
            out.stdout_text(),
            "inet raw icmp: refused\ninet raw tcp: refused\ninet6 raw: refused\n\
             packet raw: refused\npacket dgram: refused\ninet packet: refused\n",
            "{mode:?}: {}",
            out.describe()
        );
    }
}

/// Runs `python3 -c NETNS_LAUNCHER MODE ...` in a new network namespace
/// where lo is up and a veth end holds 10.0.0.1/24.
/// - `serve DIR CMD...`: an HTTP server for DIR on 10.0.0.1:8080 and a UDP
///   echo server on the same port, then CMD; CMD's output and status are
///   the launcher's.
/// - `fetch PORT PATH CMD...`: starts CMD (umbra with `--publish`), fetches
///   http://127.0.0.1:PORT/PATH until a response comes (60 s at most),
///   prints it, then kills CMD.
/// - `udp PORT CMD...`: starts CMD (a UDP echo server on PORT, or umbra
///   publishing one), then two host clients a and b take turns sending a
///   datagram to 127.0.0.1:PORT (again each second until its echo comes, 60
///   s at most) and print each echo; then kills CMD.
const NETNS_LAUNCHER: &str = r#"
import functools, http.server, os, socket, subprocess, sys, threading, time
def sh(*a): subprocess.run(a, check=True)
sh('ip', 'link', 'set', 'lo', 'up')
sh('ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1')
sh('ip', 'addr', 'add', '10.0.0.1/24', 'dev', 'v0')
sh('ip', 'link', 'set', 'v1', 'up')
sh('ip', 'link', 'set', 'v0', 'up')
mode = sys.argv[1]
if mode == 'serve':
    class Q(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('10.0.0.1', 8080), functools.partial(Q, directory=sys.argv[2]))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('10.0.0.1', 8080))
    def echo():
        while True:
            d, a = u.recvfrom(65536); u.sendto(d, a)
    threading.Thread(target=echo, daemon=True).start()
    r = subprocess.run(sys.argv[3:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    sys.stdout.buffer.write(r.stdout)
    sys.stderr.buffer.write(r.stderr)
    sys.exit(r.returncode)
elif mode == 'udp':
    port = int(sys.argv[2])
    p = subprocess.Popen(sys.argv[3:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    def ask(c, msg):
        c.settimeout(1)
        end = time.time() + 60
        while time.time() < end and p.poll() is None:
            c.sendto(msg.encode(), ('127.0.0.1', port))
            try:
                while True:
                    r = c.recv(1024).decode()
                    if r.endswith(' ' + msg): return r
            except socket.timeout:
                pass
        return 'no reply to ' + msg
    for c, m in [(a, 'a1'), (b, 'b1'), (a, 'a2'), (b, 'b2'), (a, 'a3')]:
        print(ask(c, m), flush=True)
    p.kill()
    out, err = p.communicate()
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
else:
    port, path = int(sys.argv[2]), sys.argv[3]
    p = subprocess.Popen(sys.argv[4:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    body, end = b'', time.time() + 60
    while not body and time.time() < end and p.poll() is None:
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=30)
            s.sendall(b'GET ' + path.encode() + b' HTTP/1.0\r\n\r\n')
            while True:
                c = s.recv(65536)
                if not c: break
                body += c
            s.close()
        except OSError:
            pass
        if not body: time.sleep(0.2)
    p.kill()
    out, err = p.communicate()
    head, _, content = body.partition(b'\r\n\r\n')
    print(head.split(b'\r\n')[0].decode() if head else 'no response')
    sys.stdout.buffer.write(content)
    sys.stderr.buffer.write(err)
"#;

fn in_netns(args: &[&str]) -> Outcome {
    let py = require_tool("python3", "python3");
    let mut cmd = Command::new("unshare");
    cmd.arg("-n")
        .arg(py)
        .arg("-c")
        .arg(NETNS_LAUNCHER)
        .args(args);
    execute_native(cmd, &Input::Null)
}

fn web_dir() -> PathBuf {
    // Under target/, not /tmp, where every run left its copy.
    let d = umbra_tests::target_dir()
        .join("e2e-files")
        .join(format!("hn-{}-www", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    std::fs::write(d.join("hello.txt"), "hello from the host's web server\n").unwrap();
    d
}

fn umbra_cmd(run: &Run) -> Vec<String> {
    let mut v = vec![umbra().display().to_string()];
    v.extend(run.umbra_args());
    v
}

#[test]
fn net_host_wget_fetches_from_a_host_server() {
    let www = web_dir();
    let url = "http://10.0.0.1:8080/hello.txt";
    let run = Run::busybox(&["wget", "-q", "-O", "-", url]);
    let native: Vec<String> = vec![
        busybox().display().to_string(),
        "wget".into(),
        "-q".into(),
        "-O".into(),
        "-".into(),
        url.into(),
    ];
    let mut args = vec!["serve", www.to_str().unwrap()];
    let n = native.iter().map(String::as_str).collect::<Vec<_>>();
    args.extend(&n);
    let nat = in_netns(&args);
    assert_eq!(
        nat.stdout_text(),
        "hello from the host's web server\n",
        "{}",
        nat.describe()
    );
    let cmd = umbra_cmd(&run.clone().umbra_flag("--net").umbra_flag("host"));
    let mut args = vec!["serve", www.to_str().unwrap()];
    args.extend(cmd.iter().map(String::as_str));
    let um = in_netns(&args);
    assert_eq!(um.stdout_text(), nat.stdout_text(), "{}", um.describe());
    um.assert_code(0);
    // The C client too: TCP connect and a UDP datagram out.
    for (sec, want) in [("tcp", "connect: ok\n"), ("udp", "sendto: ok\n")] {
        let run = Run::guest(Libc::Musl, "hostnet").args(&[sec, "10.0.0.1", "8080"]);
        let cmd = umbra_cmd(&run.umbra_flag("--net").umbra_flag("host"));
        let mut args = vec!["serve", www.to_str().unwrap()];
        args.extend(cmd.iter().map(String::as_str));
        let um = in_netns(&args);
        assert_eq!(um.stdout_text(), want, "{}", um.describe());
    }
}

/// `--net host` TCP and UDP keep the receive flags
/// (tests/guest/net_recvflags.c `http` and `udpecho`): MSG_TRUNC takes bytes
/// of a host server's reply without writing the guest's buffer (with
/// MSG_WAITALL and MSG_PEEK too), and returns a host datagram's real
/// length, as the same client run natively beside the servers.
#[test]
fn net_host_keeps_msg_trunc() {
    let www = web_dir();
    for libc in Libc::ALL {
        for sec in ["http", "udpecho"] {
            let run = Run::guest(libc, "net_recvflags").args(&[sec, "10.0.0.1", "8080"]);
            let native = run.native_path.display().to_string();
            let www = www.to_str().unwrap();
            let nat = in_netns(&["serve", www, &native, sec, "10.0.0.1", "8080"]);
            nat.assert_code(0);
            let end = if sec == "http" {
                "body: hello from the host's web server\ntrunc at eof: 0 buf ............\n"
            } else {
                "dontwait empty: -1 EAGAIN\n"
            };
            assert!(nat.stdout_text().ends_with(end), "{}", nat.describe());
            let cmd = umbra_cmd(&run.umbra_flag("--net").umbra_flag("host"));
            let mut args = vec!["serve", www];
            args.extend(cmd.iter().map(String::as_str));
            let um = in_netns(&args);
            assert_eq!(um.stdout_text(), nat.stdout_text(), "{}", um.describe());
            um.assert_code(0);
        }
    }
}

#[test]
fn net_none_reaches_nothing_outside() {
    let www = web_dir();
    for (sec, want) in [
        ("tcp", "connect: ENETUNREACH\n"),
        ("udp", "sendto: ENETUNREACH\n"),
    ] {
        let run = Run::guest(Libc::Musl, "hostnet").args(&[sec, "10.0.0.1", "8080"]);
        let cmd = umbra_cmd(&run);
        let mut args = vec!["serve", www.to_str().unwrap()];
        args.extend(cmd.iter().map(String::as_str));
        let um = in_netns(&args);
        assert_eq!(um.stdout_text(), want, "{}", um.describe());
        um.assert_code(0);
    }
    let run = Run::busybox(&["wget", "-q", "-O", "-", "http://10.0.0.1:8080/hello.txt"]);
    let cmd = umbra_cmd(&run);
    let mut args = vec!["serve", www.to_str().unwrap()];
    args.extend(cmd.iter().map(String::as_str));
    let um = in_netns(&args);
    assert_eq!(um.stdout_text(), "", "{}", um.describe());
    assert_ne!(um.status.code(), 0, "{}", um.describe());
}

#[test]
fn net_host_offers_the_hosts_resolv_conf() {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let run = Run::busybox(&["cat", "/etc/resolv.conf"])
        .umbra_flag("--net")
        .umbra_flag("host");
    let out = run.umbra();
    out.assert_code(0);
    assert_eq!(out.stdout_text(), host);
    // Without --net host the guest's own (here: none).
    let out = Run::busybox(&["cat", "/etc/resolv.conf"]).umbra();
    assert_ne!(out.status.code(), 0, "{}", out.describe());
}

#[test]
fn publish_lets_a_host_client_fetch_from_a_guest_httpd() {
    let run = Run::busybox(&["httpd", "-f", "-p", "8081", "-h", "/data"])
        .umbra_flag("--publish")
        .umbra_flag("18081:8081")
        .umbra_flag("--timeout")
        .umbra_flag("120");
    let cmd = umbra_cmd(&run);
    let mut args = vec!["fetch", "18081", "/hello.txt"];
    args.extend(cmd.iter().map(String::as_str));
    let out = in_netns(&args);
    assert!(
        out.stdout_text().starts_with("HTTP/1.") && out.stdout_text().contains(" 200 "),
        "{}",
        out.describe()
    );
}

/// `--publish HOSTPORT:GUESTPORT/udp`: two host clients talk to a guest UDP
/// echo server and each gets its own replies; the guest sees each client as
/// one stable sender on its loopback, as a native server sees the two
/// clients on the host's. Compared with the server run natively.
#[test]
fn publish_udp_gives_each_host_client_its_own_replies() {
    let want = "1 lo a1\n2 lo b1\n1 lo a2\n2 lo b2\n1 lo a3\n";
    let run = Run::guest(Libc::Musl, "hostnet").args(&["udp_echo", "15353"]);
    let native = run.native_path.display().to_string();
    let nat = in_netns(&["udp", "15353", &native, "udp_echo", "15353"]);
    assert_eq!(nat.stdout_text(), want, "{}", nat.describe());
    let run = Run::guest(Libc::Musl, "hostnet")
        .args(&["udp_echo", "5353"])
        .umbra_flag("--publish")
        .umbra_flag("15353:5353/udp")
        .umbra_flag("--timeout")
        .umbra_flag("120");
    let cmd = umbra_cmd(&run);
    let mut args = vec!["udp", "15353"];
    args.extend(cmd.iter().map(String::as_str));
    let um = in_netns(&args);
    assert_eq!(um.stdout_text(), nat.stdout_text(), "{}", um.describe());
}

/// Network namespace B of [`other_network_namespaces_are_unreachable`]: lo
/// up, 10.9.0.1/24 on a veth pair whose both ends stay in B, a TCP listener
/// and a UDP echo on 0.0.0.0:PORT, an abstract Unix listener NAME and a
/// Unix listener at PATH. Prints "up" once all listen; runs until killed.
const NETNS_B_SERVER: &str = r#"
import socket, subprocess, sys, threading, time
def sh(*a): subprocess.run(a, check=True)
sh('ip', 'link', 'set', 'lo', 'up')
sh('ip', 'link', 'add', 'vb0', 'type', 'veth', 'peer', 'name', 'vb1')
sh('ip', 'addr', 'add', '10.9.0.1/24', 'dev', 'vb0')
sh('ip', 'link', 'set', 'vb1', 'up')
sh('ip', 'link', 'set', 'vb0', 'up')
port, name, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(('0.0.0.0', port)); t.listen(64)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', port))
def echo():
    while True:
        d, a = u.recvfrom(1024); u.sendto(d, a)
threading.Thread(target=echo, daemon=True).start()
ab = socket.socket(socket.AF_UNIX); ab.bind('\0' + name); ab.listen(64)
pa = socket.socket(socket.AF_UNIX); pa.bind(path); pa.listen(64)
print('up', flush=True)
time.sleep(600)
"#;

/// Runs `cmd` in a fresh network namespace (A) with only lo, up.
fn in_netns_a(cmd: &[String]) -> Outcome {
    let mut c = Command::new("unshare");
    c.args(["-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .args(cmd);
    execute_native(c, &Input::Null)
}

/// Hostile: under `--net none` and `--net host`, a guest whose umbra runs
/// in network namespace A reaches nothing of namespace B (a TCP listener
/// and a UDP echo on B's loopback and on B's own address 10.9.0.1, an
/// abstract Unix socket, which is per namespace) nor of the root namespace
/// (a TCP listener and a UDP echo on its 127.0.0.1, an abstract socket),
/// nor B's Unix socket by its host path (the guest's file system is its
/// own). The controls: the same probes run natively inside B, and inside
/// the root namespace, reach their targets; run natively inside A they fail
/// as the guest's do (save the host path, which A's file system shares).
#[test]
fn other_network_namespaces_are_unreachable() {
    let py = require_tool("python3", "python3");
    let dir = sock_dir("netns");
    let b_path = dir.join("b.sock");
    let b_abs = format!("umbra-hn-b-{}", std::process::id());
    let b_port = "18093";
    let mut b = Command::new("unshare")
        .arg("-n")
        .arg(&py)
        .args([
            "-c",
            NETNS_B_SERVER,
            b_port,
            &b_abs,
            b_path.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(b.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n");
    // The root namespace's: TCP and UDP on its loopback, an abstract name.
    let root_tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let root_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let root_port = root_tcp.local_addr().unwrap().port();
    let root_udp_port = root_udp.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok((n, from)) = root_udp.recv_from(&mut buf) {
            let _ = root_udp.send_to(&buf[..n], from);
        }
    });
    let root_abs = format!("umbra-hn-root-{}", std::process::id());
    let mut root_abs_l = abstract_listener(&root_abs);
    let b_specs = [
        format!("tcp:127.0.0.1:{b_port}"),
        format!("tcp:10.9.0.1:{b_port}"),
        format!("udp:10.9.0.1:{b_port}"),
        format!("abs:{b_abs}"),
        format!("path:{}", b_path.display()),
    ];
    let root_specs = [
        format!("tcp:127.0.0.1:{root_port}"),
        format!("udp:127.0.0.1:{root_udp_port}"),
        format!("abs:{root_abs}"),
    ];
    let probe = |specs: &[String]| {
        let mut a = vec!["probe"];
        a.extend(specs.iter().map(String::as_str));
        Run::guest(Libc::Musl, "hostnet").args(&a)
    };
    // Controls: inside B, and inside the root namespace, every probe reaches.
    let run_b = probe(&b_specs);
    let mut c = Command::new("nsenter");
    c.arg("-t")
        .arg(b.id().to_string())
        .arg("-n")
        .arg(&run_b.native_path)
        .args(&run_b.args);
    let nat_b = execute_native(c, &Input::Null);
    assert_eq!(
        nat_b.stdout_text(),
        "1: ok\n2: ok\n3: reply\n4: ok\n5: ok\n",
        "{}",
        nat_b.describe()
    );
    let nat_root = probe(&root_specs).native();
    assert_eq!(
        nat_root.stdout_text(),
        "1: ok\n2: reply\n3: ok\n",
        "{}",
        nat_root.describe()
    );
    // From A: natively, then the guest under each mode.
    let all: Vec<String> = b_specs.iter().chain(&root_specs).cloned().collect();
    let run = probe(&all);
    let mut native = vec![run.native_path.display().to_string()];
    native.extend(run.args.iter().cloned());
    let nat_a = in_netns_a(&native);
    let unreachable = "1: ECONNREFUSED\n2: ENETUNREACH\n3: ENETUNREACH\n4: ECONNREFUSED\n";
    let root_unreachable = "6: ECONNREFUSED\n7: ECONNREFUSED\n8: ECONNREFUSED\n";
    assert_eq!(
        nat_a.stdout_text(),
        format!("{unreachable}5: ok\n{root_unreachable}"),
        "{}",
        nat_a.describe()
    );
    for mode in [&[][..], &["--net", "host"][..]] {
        let mut r = run.clone().umbra_flag("--timeout").umbra_flag("120");
        for f in mode {
            r = r.umbra_flag(f);
        }
        let um = in_netns_a(&umbra_cmd(&r));
        assert_eq!(
            um.stdout_text(),
            format!("{unreachable}5: ENOENT\n{root_unreachable}"),
            "{mode:?}: {}",
            um.describe()
        );
        um.assert_code(0);
    }
    let _ = b.kill();
    let _ = b.wait();
    let _ = root_abs_l.kill();
    let _ = root_abs_l.wait();
    drop(root_tcp);
    let _ = std::fs::remove_dir_all(&dir);
}
