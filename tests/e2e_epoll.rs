//! End-to-end tests of epoll: `tests/guest/ev_epoll.c`, built with musl
//! and glibc, run natively and under umbra, outputs compared. Each section
//! is its own test so a failure names what broke.

use umbra_tests::sections_same_as_native;

sections_same_as_native! {
    create_musl: Musl "ev_epoll" &["create"];
    create_glibc: Glibc "ev_epoll" &["create"];
    ctl_errors_musl: Musl "ev_epoll" &["ctl_errors"];
    ctl_errors_glibc: Glibc "ev_epoll" &["ctl_errors"];
    level_musl: Musl "ev_epoll" &["level"];
    level_glibc: Glibc "ev_epoll" &["level"];
    edge_musl: Musl "ev_epoll" &["edge"];
    edge_glibc: Glibc "ev_epoll" &["edge"];
    oneshot_musl: Musl "ev_epoll" &["oneshot"];
    oneshot_glibc: Glibc "ev_epoll" &["oneshot"];
    order_musl: Musl "ev_epoll" &["order"];
    order_glibc: Glibc "ev_epoll" &["order"];
    nested_musl: Musl "ev_epoll" &["nested"];
    nested_glibc: Glibc "ev_epoll" &["nested"];
    loops_musl: Musl "ev_epoll" &["loops"];
    loops_glibc: Glibc "ev_epoll" &["loops"];
    close_musl: Musl "ev_epoll" &["close"];
    close_glibc: Glibc "ev_epoll" &["close"];
    fork_musl: Musl "ev_epoll" &["fork"];
    fork_glibc: Glibc "ev_epoll" &["fork"];
    block_musl: Musl "ev_epoll" &["block"];
    block_glibc: Glibc "ev_epoll" &["block"];
    signals_musl: Musl "ev_epoll" &["signals"];
    signals_glibc: Glibc "ev_epoll" &["signals"];
    exclusive_musl: Musl "ev_epoll" &["exclusive"];
    exclusive_glibc: Glibc "ev_epoll" &["exclusive"];
    fifo_musl: Musl "ev_epoll" &["fifo"];
    fifo_glibc: Glibc "ev_epoll" &["fifo"];
    rdhup_musl: Musl "ev_epoll" &["rdhup"];
    rdhup_glibc: Glibc "ev_epoll" &["rdhup"];
    mqueue_musl: Musl "ev_epoll" &["mqueue"];
    mqueue_glibc: Glibc "ev_epoll" &["mqueue"];
    unix_musl: Musl "ev_epoll" &["unix"];
    unix_glibc: Glibc "ev_epoll" &["unix"];
    eventfd_musl: Musl "ev_epoll" &["eventfd"];
    eventfd_glibc: Glibc "ev_epoll" &["eventfd"];
    timerfd_musl: Musl "ev_epoll" &["timerfd"];
    timerfd_glibc: Glibc "ev_epoll" &["timerfd"];
    signalfd_musl: Musl "ev_epoll" &["signalfd"];
    signalfd_glibc: Glibc "ev_epoll" &["signalfd"];
    inotify_musl: Musl "ev_epoll" &["inotify"];
    inotify_glibc: Glibc "ev_epoll" &["inotify"];
    tcp_musl: Musl "ev_epoll" &["tcp"];
    tcp_glibc: Glibc "ev_epoll" &["tcp"];
    server_musl: Musl "ev_epoll" &["server"];
    server_glibc: Glibc "ev_epoll" &["server"];
}

/// Runs argv[2:] on a fresh pty (a session leader with the pty as its
/// controlling terminal and stdio), types argv[1]'s lines (comma-separated
/// hex) one after each `READY` the program prints, and prints `OK` or
/// `FAIL <why>`, then the exit status and the transcript in hex.
const PTY_DRIVER: &str = r#"
import fcntl, os, select, signal, subprocess, sys, termios, time

lines = [bytes.fromhex(h) for h in sys.argv[1].split(',') if h]
master, slave = os.openpty()

def child_setup():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)

p = subprocess.Popen(sys.argv[2:], stdin=slave, stdout=slave, stderr=slave,
                     preexec_fn=child_setup, close_fds=True)
os.close(slave)
out = bytearray()
pos = 0

def pump(timeout):
    r, _, _ = select.select([master], [], [], timeout)
    if not r:
        return True
    try:
        data = os.read(master, 65536)
    except OSError:
        return False
    out.extend(data)
    return bool(data)

def done(msg):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    print(msg)
    print('STATUS', p.returncode)
    print('TRANSCRIPT', bytes(out).hex())
    sys.exit(0)

for line in lines:
    deadline = time.time() + 60
    while out.find(b'READY', pos) < 0:
        if time.time() > deadline or not pump(0.1):
            done('FAIL no READY before %r' % line)
    pos = out.find(b'READY', pos) + 5
    for b in line:
        os.write(master, bytes([b]))
        time.sleep(0.01)
deadline = time.time() + 60
while pump(0.1):
    if time.time() > deadline:
        done('FAIL did not finish')
done('OK')
"#;

/// The pty driver's report of one run: (first line, status line, transcript).
fn on_pty(lines: &[&[u8]], cmd: &[String]) -> (String, String, String) {
    let python = umbra_tests::require_tool("python3", "python3");
    let hex: Vec<String> = lines
        .iter()
        .map(|l| l.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let out = std::process::Command::new(python)
        .arg("-I")
        .arg("-c")
        .arg(PTY_DRIVER)
        .arg(hex.join(","))
        .args(cmd)
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut it = text.lines();
    let verdict = it.next().unwrap_or("").to_string();
    let status = it.next().unwrap_or("").to_string();
    let hex = it
        .next()
        .unwrap_or("")
        .trim_start_matches("TRANSCRIPT ")
        .to_string();
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    (
        verdict,
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// epoll on a terminal: the guest's console when umbra's stdin is a pty,
/// natively the pty itself. Lines typed wake level- and edge-triggered
/// waits alike; the transcripts must match.
fn tty_same_as_native(libc: umbra_tests::Libc) {
    let lines: &[&[u8]] = &[b"abc\r", b"xy\r"];
    let native_bin = umbra_tests::guest_binary(libc, "ev_epoll");
    let guest_path = format!("/tests/{}/ev_epoll", libc.name());
    let native = on_pty(
        lines,
        &[native_bin.display().to_string(), "tty".to_string()],
    );
    let umbra_cmd: Vec<String> = [
        umbra_tests::umbra().display().to_string(),
        "run".into(),
        "--initrd".into(),
        umbra_tests::test_initrd().display().to_string(),
        "--env".into(),
        "PATH=/bin".into(),
        "--".into(),
        guest_path,
        "tty".into(),
    ]
    .into();
    let umbra = on_pty(lines, &umbra_cmd);
    assert_eq!(native.0, "OK", "native run: {native:?}");
    assert_eq!(umbra, native, "umbra run differs from the native one");
}

#[test]
fn tty_musl() {
    tty_same_as_native(umbra_tests::Libc::Musl);
}

#[test]
fn tty_glibc() {
    tty_same_as_native(umbra_tests::Libc::Glibc);
}
