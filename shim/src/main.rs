//! umbra: the command-line entry point. Parses the command line, builds the
//! guest's root file system, starts the ptrace host and the guest kernel, and
//! exits with the guest's status.

use std::process::ExitCode;
use umbra_core::config::{Config, PAGE_SIZE};
use umbra_core::fs;
use umbra_core::kernel::{BootError, Kernel};
use umbra_shim::host::{HostOptions, PtraceHost};

const USAGE: &str = "\
umbra: run unmodified Linux programs under umbra's own guest kernel

Usage:
  umbra run [OPTIONS] -- PROGRAM [ARGS...]
  umbra --help | --version

Options of `run`:
  --initrd FILE   root file system: a newc cpio archive (as Linux's initramfs),
                  unpacked into tmpfs; /dev is mounted over it
  --mem SIZE      guest memory, e.g. 64M, 1G (default 256M; suffixes K, M, G)
  --env K=V       add K=V to the guest's environment (repeatable; the default
                  environment is empty)
  --cwd DIR       working directory of the guest program (default /)
  --strace        print every guest syscall with its arguments and result on
                  stderr
  --cpu N         pin umbra and its stub processes to host CPU N (default: the
                  CPU umbra starts on)
  --max-fds N     open file limit per guest process (default 1024)
  --max-procs N   limit on guest processes, zombies included; fork fails
                  with EAGAIN beyond it (default 256)
  --timeout SECS  kill the guest after SECS seconds of wall time; umbra then
                  exits with status 124
  -h, --help      show this help

PROGRAM is a path inside the guest (a name without '/' is searched in the
guest's PATH, or /bin:/sbin:/usr/bin:/usr/sbin). It runs as pid 1. umbra exits
with its exit status, or 128+N if signal N killed it.
";

/// What the command line asks for.
struct RunArgs {
    initrd: Option<String>,
    mem: usize,
    cpu: Option<usize>,
    cfg: Config,
}

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => {
            let mult = match s[i..].to_ascii_lowercase().as_str() {
                "k" | "kb" | "kib" => 1 << 10,
                "m" | "mb" | "mib" => 1 << 20,
                "g" | "gb" | "gib" => 1 << 30,
                _ => return None,
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    num.parse::<usize>().ok()?.checked_mul(mult)
}

fn parse_run(args: &[String]) -> Result<RunArgs, String> {
    let mut r = RunArgs {
        initrd: None,
        mem: 256 << 20,
        cpu: None,
        cfg: Config::default(),
    };
    let mut i = 0;
    let value = |i: &mut usize, flag: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))
    };
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--" => {
                r.cfg.argv = args[i + 1..].to_vec();
                break;
            }
            "--initrd" => r.initrd = Some(value(&mut i, a)?),
            "--mem" => {
                let v = value(&mut i, a)?;
                r.mem = parse_size(&v)
                    .ok_or_else(|| format!("--mem: bad size '{v}' (use e.g. 64M)"))?;
                if r.mem < (1 << 20) {
                    return Err(format!("--mem: {v} is too small (at least 1M)"));
                }
                r.mem &= !(PAGE_SIZE - 1);
            }
            "--env" => {
                let v = value(&mut i, a)?;
                if !v.contains('=') {
                    return Err(format!("--env: '{v}' is not of the form K=V"));
                }
                r.cfg.envp.push(v);
            }
            "--cwd" => r.cfg.cwd = value(&mut i, a)?,
            "--strace" => r.cfg.strace = true,
            "--cpu" => {
                let v = value(&mut i, a)?;
                r.cpu = Some(
                    v.parse()
                        .map_err(|_| format!("--cpu: bad CPU number '{v}'"))?,
                );
            }
            "--max-fds" => {
                let v = value(&mut i, a)?;
                r.cfg.max_fds = v
                    .parse()
                    .ok()
                    .filter(|n| (3..=1 << 20).contains(n))
                    .ok_or_else(|| format!("--max-fds: bad value '{v}'"))?;
            }
            _ if a.starts_with('-') => {
                return Err(format!("unknown option '{a}' (see umbra --help)"))
            }
            _ => {
                // The program may follow the options without "--".
                r.cfg.argv = args[i..].to_vec();
                break;
            }
        }
        i += 1;
    }
    if r.cfg.argv.is_empty() {
        return Err(String::from(
            "no program given (umbra run [OPTIONS] -- PROGRAM [ARGS...])",
        ));
    }
    Ok(r)
}

fn run(r: RunArgs) -> Result<u8, (String, u8)> {
    let Some(initrd) = &r.initrd else {
        return Err((
            String::from("no root file system: give --initrd FILE.cpio"),
            2,
        ));
    };
    let archive =
        std::fs::read(initrd).map_err(|e| (format!("cannot read initrd {initrd}: {e}"), 2))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let now = umbra_abi::structs::Timespec {
        tv_sec: now.as_secs() as i64,
        tv_nsec: now.subsec_nanos() as i64,
    };
    let (vfs, console) =
        fs::vfs_from_cpio(&archive, now).map_err(|e| (format!("initrd {initrd}: {e}"), 2))?;
    drop(archive);
    let host = PtraceHost::new(HostOptions {
        mem_bytes: r.mem,
        cpu: r.cpu,
        disks: Vec::new(),
    })
    .map_err(|e| (e, 1))?;
    let mut kernel = Kernel::new(host, vfs, r.cfg, r.mem / PAGE_SIZE);
    if let Err(e) = kernel.spawn_init(fs::devfs::stdio_files(&console)) {
        let code = match e {
            BootError::BadExecutable(..) => 126,
            BootError::NotFound(_, umbra_abi::Errno::EACCES) => 126,
            _ => 127,
        };
        return Err((e.to_string(), code));
    }
    let status = kernel.run();
    Ok(status.shell_code() as u8)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("umbra {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("run") => {
            if args
                .iter()
                .skip(1)
                .take_while(|a| *a != "--")
                .any(|a| a == "-h" || a == "--help")
            {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            let r = match parse_run(&args[1..]) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("umbra: {e}");
                    return ExitCode::from(2);
                }
            };
            match run(r) {
                Ok(code) => ExitCode::from(code),
                Err((msg, code)) => {
                    eprintln!("umbra: {msg}");
                    ExitCode::from(code)
                }
            }
        }
        Some(other) => {
            eprintln!("umbra: unknown command '{other}' (see umbra --help)");
            ExitCode::from(2)
        }
    }
}
