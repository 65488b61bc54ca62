//! `cargo xtask bench [--cpu N] [--runs N]`: the benchmarks of tests/bench/.
//!
//! - getppid: native, under `sysemu_floor` (a bare PTRACE_SYSEMU tracer that
//!   answers getppid with GETREGS + SETREGS: the mechanism's floor), and under
//!   umbra.
//! - pagefault: native and under umbra.
//!
//! Variants are interleaved (A B C A B C ...) so that drift in the machine
//! hits all of them alike; each is run `--runs` times (5) and the median is
//! reported. Everything is pinned to one CPU (`taskset -c`, and `umbra run
//! --cpu`): a ptrace stop whose tracer sits on another CPU pays a cross-CPU
//! wake-up that would swamp the numbers.
//!
//! Output: a Markdown table on stdout, raw numbers in
//! target/bench/results.csv and results.json, with the CPU model, core count
//! and kernel.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{build_umbra_release, initrd, root, show, target_dir, which, Result};

/// The benchmark programs, built with `musl-gcc -static -O2`.
const PROGRAMS: &[&str] = &["getppid", "pagefault", "sysemu_floor"];

/// getppid iterations per run. Fewer where one call costs microseconds.
const GETPPID_NATIVE_ITERS: &str = "2000000";
const GETPPID_TRACED_ITERS: &str = "50000";

/// One run may take this long before it counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

struct Options {
    cpu: usize,
    runs: usize,
}

fn parse(args: &[String]) -> Result<Options> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The last CPU: CPU 0 tends to take more of the host's interrupts.
    let mut o = Options {
        cpu: cores - 1,
        runs: 5,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = || -> Result<usize> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{a} needs a number"))
        };
        match a.as_str() {
            "--cpu" => o.cpu = num()?,
            "--runs" => o.runs = num()?.max(1),
            _ => {
                return Err(format!(
                    "unknown option {a}; usage: bench [--cpu N] [--runs N]"
                ))
            }
        }
    }
    Ok(o)
}

/// One measured configuration: which benchmark, how it was run, and the
/// numbers of its runs (`None` for a run that failed).
struct Series {
    bench: &'static str,
    variant: &'static str,
    unit: &'static str,
    command: Vec<String>,
    values: Vec<Option<f64>>,
}

impl Series {
    fn median(&self) -> Option<f64> {
        let mut v: Vec<f64> = self.values.iter().flatten().copied().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }
}

pub fn bench(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let taskset = which("taskset").ok_or("taskset not found: install util-linux")?;
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    build_programs(&dir)?;
    // Without umbra the native and floor numbers are still worth having.
    let umbra_build = build_umbra_release();
    if let Err(e) = &umbra_build {
        println!("bench: umbra unavailable, measuring without it: {e}");
    }
    let umbra = umbra_build
        .clone()
        .unwrap_or_else(|_| target_dir().join("release/umbra"));

    let mut rd = initrd::Initrd::new();
    for p in ["getppid", "pagefault"] {
        rd.copy(&format!("bench/{p}"), &dir.join(p))
            .map_err(|e| e.to_string())?;
    }
    rd.dir("tmp", 0o1777).dir("dev", 0o755);
    let rd_path = dir.join("bench.cpio");
    rd.write(&rd_path)
        .map_err(|e| format!("{}: {e}", rd_path.display()))?;

    let cpu = o.cpu.to_string();
    let pinned = |prog: &Path, args: &[&str]| -> Vec<String> {
        let mut v = vec![
            taskset.display().to_string(),
            "-c".into(),
            cpu.clone(),
            prog.display().to_string(),
        ];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    let umbra_cmd = |program: &str, iters: &[&str]| -> Vec<String> {
        let rd = rd_path.display().to_string();
        let mut args = vec!["run", "--cpu", &cpu, "--initrd", &rd, "--", program];
        args.extend(iters);
        pinned(&umbra, &args)
    };
    let getppid = dir.join("getppid").display().to_string();
    let series = |bench, variant, unit, command| Series {
        bench,
        variant,
        unit,
        command,
        values: Vec::new(),
    };
    let mut all = vec![
        series(
            "getppid",
            "native",
            "ns/op",
            pinned(&dir.join("getppid"), &[GETPPID_NATIVE_ITERS]),
        ),
        series(
            "getppid",
            "floor",
            "ns/op",
            pinned(
                &dir.join("sysemu_floor"),
                &["-c", &cpu, &getppid, GETPPID_TRACED_ITERS],
            ),
        ),
        series(
            "getppid",
            "umbra",
            "ns/op",
            umbra_cmd("/bench/getppid", &[GETPPID_TRACED_ITERS]),
        ),
        series(
            "pagefault",
            "native",
            "ns/page",
            pinned(&dir.join("pagefault"), &[]),
        ),
        series(
            "pagefault",
            "umbra",
            "ns/page",
            umbra_cmd("/bench/pagefault", &[]),
        ),
    ];

    for run in 0..o.runs {
        for s in all.iter_mut() {
            let v = match &umbra_build {
                Err(e) if s.variant == "umbra" => Err(e.clone()),
                _ => measure(&s.command, s.unit),
            };
            match &v {
                Ok(x) => println!(
                    "run {} {} {}: {x:.1} {}",
                    run + 1,
                    s.bench,
                    s.variant,
                    s.unit
                ),
                Err(e) => println!("run {} {} {}: failed: {e}", run + 1, s.bench, s.variant),
            }
            s.values.push(v.ok());
        }
    }

    let machine = Machine::probe(o.cpu);
    print_table(&all, &machine, args);
    write_csv(&dir.join("results.csv"), &all)?;
    write_json(&dir.join("results.json"), &all, &machine)?;
    println!(
        "raw numbers: {} and {}",
        dir.join("results.csv").display(),
        dir.join("results.json").display()
    );
    let failed: Vec<String> = all
        .iter()
        .filter(|s| s.median().is_none())
        .map(|s| format!("{} {}", s.bench, s.variant))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("no successful run for: {}", failed.join(", ")))
    }
}

fn build_programs(dir: &Path) -> Result<()> {
    let cc = which("musl-gcc").ok_or("musl-gcc not found: run `cargo xtask setup`")?;
    for p in PROGRAMS {
        let src = root().join(format!("tests/bench/{p}.c"));
        crate::run(
            Command::new(&cc)
                .args(["-static", "-O2", "-Wall", "-o"])
                .arg(dir.join(p))
                .arg(src),
        )?;
    }
    Ok(())
}

/// Runs one benchmark command and reads `<unit> <number>` from its stdout.
fn measure(command: &[String], unit: &str) -> Result<f64> {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = show(&cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {RUN_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = stdout
        .lines()
        .find_map(|l| l.strip_prefix(unit)?.trim().parse::<f64>().ok());
    match (out.status.success(), value) {
        (true, Some(v)) => Ok(v),
        _ => Err(format!(
            "{} ({}); stdout {:?}; stderr {:?}",
            shown,
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Where the numbers were taken.
struct Machine {
    cpu_model: String,
    cores: usize,
    kernel: String,
    pinned_cpu: usize,
}

impl Machine {
    fn probe(pinned_cpu: usize) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name") || l.starts_with("Model"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown".to_string(), |(_, v)| v.trim().to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or("unknown".to_string(), |s| s.trim().to_string());
        Machine {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            pinned_cpu,
        }
    }
}

fn find<'a>(all: &'a [Series], bench: &str, variant: &str) -> Option<&'a Series> {
    all.iter()
        .find(|s| s.bench == bench && s.variant == variant)
}

fn print_table(all: &[Series], m: &Machine, args: &[String]) {
    let med = |b, v| find(all, b, v).and_then(Series::median);
    let num = |x: Option<f64>| x.map_or("n/a".to_string(), |x| format!("{x:.1}"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
        _ => "n/a".to_string(),
    };
    let runs = all.first().map_or(0, |s| s.values.len());
    println!();
    println!(
        "{} ({} cores), Linux {}, pinned to CPU {}; median of {runs} runs",
        m.cpu_model, m.cores, m.kernel, m.pinned_cpu
    );
    println!();
    println!("| benchmark | native | floor | umbra | umbra/native | floor/native | umbra/floor |");
    println!("|---|---|---|---|---|---|---|");
    let (n, f, u) = (
        med("getppid", "native"),
        med("getppid", "floor"),
        med("getppid", "umbra"),
    );
    println!(
        "| getppid (ns/op) | {} | {} | {} | {} | {} | {} |",
        num(n),
        num(f),
        num(u),
        ratio(u, n),
        ratio(f, n),
        ratio(u, f)
    );
    let (n, u) = (med("pagefault", "native"), med("pagefault", "umbra"));
    println!(
        "| page fault (ns/page) | {} | — | {} | {} | — | — |",
        num(n),
        num(u),
        ratio(u, n)
    );
    println!();
    println!(
        "generated by `cargo xtask bench{}`",
        args.iter().map(|a| format!(" {a}")).collect::<String>()
    );
}

fn write_csv(path: &PathBuf, all: &[Series]) -> Result<()> {
    let mut s = String::from("benchmark,variant,unit,run,value\n");
    for series in all {
        for (i, v) in series.values.iter().enumerate() {
            let v = v.map_or(String::new(), |v| format!("{v}"));
            s.push_str(&format!(
                "{},{},{},{},{v}\n",
                series.bench,
                series.variant,
                series.unit,
                i + 1
            ));
        }
    }
    std::fs::write(path, s).map_err(|e| format!("{}: {e}", path.display()))
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or("null".to_string(), |v| format!("{v}"))
}

fn write_json(path: &PathBuf, all: &[Series], m: &Machine) -> Result<()> {
    let mut s = String::from("{\n");
    s.push_str(&format!(
        "  \"machine\": {{\"cpu_model\": {}, \"cores\": {}, \"kernel\": {}, \"pinned_cpu\": {}}},\n",
        json_str(&m.cpu_model),
        m.cores,
        json_str(&m.kernel),
        m.pinned_cpu
    ));
    s.push_str("  \"results\": [\n");
    for (i, series) in all.iter().enumerate() {
        let values: Vec<String> = series.values.iter().map(|v| json_num(*v)).collect();
        let command: Vec<String> = series.command.iter().map(|c| json_str(c)).collect();
        s.push_str(&format!(
            "    {{\"benchmark\": {}, \"variant\": {}, \"unit\": {}, \"median\": {}, \"runs\": [{}], \"command\": [{}]}}{}\n",
            json_str(series.bench),
            json_str(series.variant),
            json_str(series.unit),
            json_num(series.median()),
            values.join(", "),
            command.join(", "),
            if i + 1 < all.len() { "," } else { "" }
        ));
    }
    s.push_str("  ]\n}\n");
    std::fs::write(path, s).map_err(|e| format!("{}: {e}", path.display()))
}
