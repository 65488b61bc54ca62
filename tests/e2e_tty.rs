//! Interactive end-to-end tests: `umbra run ... -- /bin/sh -i` on a
//! pseudo-terminal, typed at like a person would.
//!
//! The tests crate has no libc, so a small python3 driver ([`PTY_DRIVER`])
//! allocates the pty (`os.openpty`), starts umbra as a session leader with the
//! pty slave as its controlling terminal and stdin/stdout/stderr, and plays a
//! script of steps: send bytes, expect bytes in the output, check that the
//! host terminal is in raw mode, expect an exit status. Finally it checks that
//! the slave's termios is exactly what it was before umbra started.
//!
//! Expectations are chosen so the typed text's own echo cannot satisfy them
//! (`echo $((6*7))` expects `42`, which is not typed). Every `\r\n` in the
//! output is the guest's ONLCR: the host terminal is raw while umbra runs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use umbra_tests::{busybox, guest_binary, require_tool, test_initrd, umbra, Libc, Run};

/// The pty driver. argv: STEPS UMBRA ARGS... where STEPS is a comma-separated
/// list of `op=hex(arg)`: `send`, `expect`, `sleep` (seconds as text), `raw`
/// (host terminal must be in raw mode), `exit` (status as text). Prints `OK` or
/// `FAIL <why>`, then `TRANSCRIPT <repr of all output>`.
const PTY_DRIVER: &str = r#"
import fcntl, os, select, signal, struct, subprocess, sys, termios, time

steps = [s.partition('=') for s in sys.argv[1].split(',') if s]
cmd = sys.argv[2:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
before = termios.tcgetattr(slave)

def child_setup():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)

p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                     preexec_fn=child_setup, close_fds=True)
out = bytearray()
pos = 0

def done(msg):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    print(msg)
    print('TRANSCRIPT', repr(bytes(out)))
    sys.exit(0)

def pump(timeout):
    r, _, _ = select.select([master], [], [], timeout)
    if r:
        try:
            out.extend(os.read(master, 65536))
        except OSError:
            time.sleep(timeout)

for op, _, arg in steps:
    arg = bytes.fromhex(arg)
    if op == 'send':
        for b in arg:
            os.write(master, bytes([b]))
            time.sleep(0.01)
    elif op == 'expect':
        deadline = time.time() + 30
        while out.find(arg, pos) < 0:
            if time.time() > deadline:
                done('FAIL timed out expecting %r' % arg)
            if p.poll() is not None:
                pump(0.2)
                if out.find(arg, pos) < 0:
                    done('FAIL umbra exited (%d) before %r' % (p.returncode, arg))
            pump(0.1)
        pos = out.find(arg, pos) + len(arg)
    elif op == 'sleep':
        end = time.time() + float(arg.decode())
        while time.time() < end:
            pump(0.05)
    elif op == 'raw':
        lflag = termios.tcgetattr(slave)[3]
        if lflag & (termios.ICANON | termios.ECHO | termios.ISIG):
            done('FAIL host terminal not in raw mode: lflag %o' % lflag)
    elif op == 'exit':
        want = int(arg.decode())
        deadline = time.time() + 30
        while p.poll() is None:
            if time.time() > deadline:
                done('FAIL umbra did not exit')
            pump(0.05)
        pump(0.1)
        if p.returncode != want:
            done('FAIL exit status %d, wanted %d' % (p.returncode, want))
    else:
        done('FAIL bad step %r' % op)

if p.poll() is None:
    done('FAIL script ended with umbra running')
after = termios.tcgetattr(slave)
if after != before:
    done('FAIL termios not restored: before %r after %r' % (before, after))
done('OK')
"#;

/// One step of a pty script.
enum Step<'a> {
    /// Type these bytes (one at a time, as a person would).
    Send(&'a [u8]),
    /// Wait (30 s at most) for these bytes in the output, after the last match.
    Expect(&'a [u8]),
    /// Let this much time pass, collecting output.
    Sleep(Duration),
    /// The host terminal must be in raw mode now.
    Raw,
    /// umbra must exit with this status.
    Exit(i32),
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `sh -i` under umbra on a fresh pty and plays `steps`; panics with the
/// transcript if a step fails or the host termios is not restored at the end.
fn play(steps: &[Step]) {
    let umbra_args: Vec<String> = [
        "run",
        "--initrd",
        &test_initrd().display().to_string(),
        "--env",
        "PATH=/bin",
        "--env",
        "PS1=umbra$ ",
        "--env",
        "TERM=dumb",
        "--",
        "/bin/sh",
        "-i",
    ]
    .map(String::from)
    .to_vec();
    play_cmd(steps, umbra(), &umbra_args);
}

/// Runs `program ARGS` on a fresh pty as the session leader it controls and
/// plays `steps`; returns everything the pty printed, or panics as
/// [`play`] does.
fn play_cmd(steps: &[Step], program: &Path, args: &[String]) -> String {
    let python = require_tool("python3", "python3");
    let _ = busybox();
    let script: Vec<String> = steps
        .iter()
        .map(|s| match s {
            Step::Send(b) => format!("send={}", hex(b)),
            Step::Expect(b) => format!("expect={}", hex(b)),
            Step::Sleep(d) => format!("sleep={}", hex(d.as_secs_f64().to_string().as_bytes())),
            Step::Raw => "raw=".to_string(),
            Step::Exit(c) => format!("exit={}", hex(c.to_string().as_bytes())),
        })
        .collect();
    let out = Command::new(python)
        .arg("-I")
        .arg("-c")
        .arg(PTY_DRIVER)
        .arg(script.join(","))
        .arg(program)
        .args(args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "pty script failed:\n{stdout}\npython stderr:\n{stderr}"
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("TRANSCRIPT "))
        .unwrap_or_default()
        .to_string()
}

/// `tests/guest/pty_ctl.c`'s ttou-console section on the console: a
/// background group changing its controlling terminal is stopped with
/// SIGTTOU (tty_check_change), as on a native pty: the program leads the
/// session of its terminal (pid 1 under umbra, whose console is the pty).
fn console_sigttou(libc: Libc) {
    let native = play_cmd(
        &[Step::Exit(0)],
        &guest_binary(libc, "pty_ctl"),
        &["ttou-console".to_string()],
    );
    let run = Run::guest(libc, "pty_ctl").args(&["ttou-console"]);
    let under = play_cmd(&[Step::Exit(0)], umbra(), &run.umbra_args());
    assert!(native.contains("stopped by SIGTTOU"), "native: {native}");
    assert_eq!(native, under, "native and umbra transcripts differ");
}

#[test]
fn console_background_changes_stop_with_sigttou_musl() {
    console_sigttou(Libc::Musl);
}

#[test]
fn console_background_changes_stop_with_sigttou_glibc() {
    console_sigttou(Libc::Glibc);
}

const PROMPT: &[u8] = b"umbra$ ";

#[test]
fn sh_runs_a_typed_command() {
    play(&[
        Step::Expect(PROMPT),
        Step::Send(b"echo $((6*7))\r"),
        Step::Expect(b"42\r\n"),
        Step::Expect(PROMPT),
        Step::Send(b"exit 3\r"),
        Step::Exit(3),
    ]);
}

#[test]
fn guest_sees_a_terminal_on_stdin() {
    play(&[
        Step::Expect(PROMPT),
        Step::Send(b"[ -t 0 ] && echo TTY-$((1+1))\r"),
        Step::Expect(b"TTY-2\r\n"),
        Step::Send(b"exit 0\r"),
        Step::Exit(0),
    ]);
}

#[test]
fn backspace_corrects_a_typed_command() {
    play(&[
        Step::Expect(PROMPT),
        // "echo $((6*8))" with the 8 typed as 9 and rubbed out with DEL.
        Step::Send(b"echo $((6*9\x7f8))\r"),
        Step::Expect(b"48\r\n"),
        Step::Send(b"exit 4\r"),
        Step::Exit(4),
    ]);
}

#[test]
fn read_builtin_gets_a_line_edited_by_the_guest_line_discipline() {
    // The shell's `read` runs with the terminal cooked: the guest's N_TTY
    // does the erase and the echo (with the host in raw mode).
    play(&[
        Step::Expect(PROMPT),
        Step::Send(b"read x; echo \"<$x>\"\r"),
        Step::Sleep(Duration::from_millis(300)),
        Step::Send(b"abx\x7fc\r"),
        Step::Expect(b"<abc>\r\n"),
        Step::Send(b"exit 0\r"),
        Step::Exit(0),
    ]);
}

#[test]
fn host_terminal_is_raw_while_umbra_runs_and_restored_after() {
    play(&[
        Step::Expect(PROMPT),
        Step::Raw,
        Step::Send(b"exit 5\r"),
        Step::Exit(5),
    ]);
}

#[test]
fn word_and_line_erase_in_cooked_mode() {
    play(&[
        Step::Expect(PROMPT),
        Step::Send(b"read x; echo \"<$x>\"\r"),
        Step::Sleep(Duration::from_millis(300)),
        Step::Send(b"junk junk\x15one two\x17three\r"),
        Step::Expect(b"<one three>\r\n"),
        Step::Send(b"exit 0\r"),
        Step::Exit(0),
    ]);
}

#[test]
fn ctrl_c_interrupts_sleep() {
    play(&[
        Step::Expect(PROMPT),
        Step::Send(b"sleep 100; echo after-$((2*5))\r"),
        Step::Sleep(Duration::from_millis(500)),
        Step::Send(b"\x03"),
        Step::Expect(PROMPT),
        Step::Send(b"echo back-$((3*3))\r"),
        Step::Expect(b"back-9\r\n"),
        Step::Send(b"exit 0\r"),
        Step::Exit(0),
    ]);
}

#[test]
fn ctrl_z_stops_a_job_and_fg_resumes_it() {
    play(&[
        Step::Expect(PROMPT),
        // A subshell, so the whole job (not only `sleep`) stops and resumes.
        Step::Send(b"(sleep 1; echo woke-$((4*4)))\r"),
        Step::Sleep(Duration::from_millis(300)),
        Step::Send(b"\x1a"),
        Step::Expect(b"Stopped"),
        Step::Expect(PROMPT),
        Step::Send(b"fg\r"),
        Step::Expect(b"woke-16\r\n"),
        Step::Expect(PROMPT),
        Step::Send(b"exit 0\r"),
        Step::Exit(0),
    ]);
}

#[test]
fn cat_reads_lines_until_ctrl_d() {
    play(&[
        Step::Expect(PROMPT),
        Step::Send(b"cat; echo cat-done-$((1+6))\r"),
        Step::Sleep(Duration::from_millis(300)),
        Step::Send(b"line one\r"),
        Step::Expect(b"line one\r\nline one\r\n"),
        Step::Send(b"\x04"),
        Step::Expect(b"cat-done-7\r\n"),
        Step::Send(b"exit 0\r"),
        Step::Exit(0),
    ]);
}
