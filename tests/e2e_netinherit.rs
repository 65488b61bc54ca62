//! What an accepted socket inherits from its listener (issue 12;
//! tests/guest/net_inherit.c), each section run natively in a fresh network
//! namespace (lo up) and under umbra, with the same output: a TCP accept
//! (IPv4 and IPv6) returns a clone of the listener, with its socket flags
//! (SO_KEEPALIVE, SO_OOBINLINE, SO_REUSEADDR, SO_REUSEPORT, SO_DEBUG,
//! SO_DONTROUTE, SO_BROADCAST), SO_RCVLOWAT, the timeouts, SO_LINGER, the IP
//! options and the TCP ones, but not SO_PRIORITY nor the file's O_NONBLOCK;
//! an AF_UNIX accept inherits only SO_PASSCRED.

use std::process::Command;
use umbra_tests::{compare, execute_native, require_tool, umbra, Input, Libc, Outcome, Run};

fn same(libc: Libc, sections: &[&str]) {
    let run = Run::guest(libc, "net_inherit").args(sections);
    let native = run.native_in(&["-n"], "ip link set lo up");
    native.assert_code(0);
    compare(&native, &run.umbra());
}

#[test]
fn tcp_musl() {
    same(Libc::Musl, &["tcp4", "tcp6"]);
}

#[test]
fn tcp_glibc() {
    same(Libc::Glibc, &["tcp4", "tcp6"]);
}

#[test]
fn unix_musl() {
    same(Libc::Musl, &["unix"]);
}

#[test]
fn unix_glibc() {
    same(Libc::Glibc, &["unix"]);
}

/// In a fresh network namespace (lo up): starts CMD (argv[2:]), then a host
/// client connects to 127.0.0.1:PORT (argv[1]; again every 0.2 s until an
/// answer comes, 60 s at most), sends an HTTP request, prints the answer's
/// body and kills CMD.
const CLIENT: &str = r#"
import socket, subprocess, sys, time
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
port = int(sys.argv[1])
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
body, end = b'', time.time() + 60
while not body and time.time() < end and p.poll() is None:
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=30)
        s.sendall(b'GET /inherit HTTP/1.0\r\n\r\n')
        while True:
            c = s.recv(65536)
            if not c: break
            body += c
        s.close()
    except OSError:
        pass
    if not body: time.sleep(0.2)
p.kill()
_, err = p.communicate()
sys.stdout.buffer.write(body.partition(b'\r\n\r\n')[2] if body else b'no answer\n')
sys.stderr.buffer.write(err)
"#;

fn client(port: &str, cmd: &[String]) -> Outcome {
    let py = require_tool("python3", "python3");
    let mut c = Command::new("unshare");
    c.arg("-n")
        .arg(py)
        .arg("-c")
        .arg(CLIENT)
        .arg(port)
        .args(cmd);
    execute_native(c, &Input::Null)
}

/// A connection from a host client that `--publish` delivers to the
/// guest's listener is accepted with the listener's options, as a native
/// listener's connection from the same client.
#[test]
fn published_connection_inherits() {
    let run = Run::guest(Libc::Musl, "net_inherit").args(&["published", "18097"]);
    let native = client(
        "18097",
        &[
            run.native_path.display().to_string(),
            "published".into(),
            "18097".into(),
        ],
    );
    assert!(
        native.stdout_text().starts_with("accepted:\n"),
        "{}",
        native.describe()
    );
    let run = Run::guest(Libc::Musl, "net_inherit")
        .args(&["published", "8097"])
        .umbra_flag("--publish")
        .umbra_flag("18097:8097")
        .umbra_flag("--timeout")
        .umbra_flag("120");
    let mut cmd = vec![umbra().display().to_string()];
    cmd.extend(run.umbra_args());
    let um = client("18097", &cmd);
    assert_eq!(um.stdout_text(), native.stdout_text(), "{}", um.describe());
}

/// SO_PASSCRED and SO_REUSEPORT by family, as Linux 6.18: EOPNOTSUPP for
/// SO_PASSCRED on inet sockets and for SO_REUSEPORT on others.
#[test]
fn passcred_and_reuseport_by_family_musl() {
    same(Libc::Musl, &["passopts"]);
}

#[test]
fn passcred_and_reuseport_by_family_glibc() {
    same(Libc::Glibc, &["passopts"]);
}
