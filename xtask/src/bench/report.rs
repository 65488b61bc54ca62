//! The bench report: Markdown table, CSV, JSON and an SVG chart, all written
//! with std only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::{Cell, Kind, Metric, Results};
use crate::Result;

/// Where the numbers were taken.
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
    pub pinned_cpu: usize,
    /// `--unpinned`: nothing was pinned (`pinned_cpu` only for the floor).
    pub unpinned: bool,
    pub commit: String,
    pub date: String,
}

impl Machine {
    pub fn probe(pinned_cpu: usize, unpinned: bool) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name") || l.starts_with("Model"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown".to_string(), |(_, v)| v.trim().to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or("unknown".to_string(), |s| s.trim().to_string());
        let out = |cmd: &mut Command| {
            cmd.output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default()
        };
        let mut commit = out(Command::new("git").current_dir(crate::root()).args([
            "rev-parse",
            "--short",
            "HEAD",
        ]));
        let dirty = out(Command::new("git").current_dir(crate::root()).args([
            "status",
            "--porcelain",
            "--untracked-files=no",
        ]));
        if !dirty.is_empty() {
            commit.push_str(" + uncommitted changes");
        }
        let date = out(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
        Machine {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            pinned_cpu,
            unpinned,
            commit,
            date,
        }
    }

    pub fn line(&self) -> String {
        let pin = if self.unpinned {
            "not pinned".to_string()
        } else {
            format!("pinned to CPU {}", self.pinned_cpu)
        };
        format!(
            "{} ({} cores), Linux {}, {pin}; umbra {}; {}",
            self.cpu_model, self.cores, self.kernel, self.commit, self.date
        )
    }
}

/// Writes every output and prints the table.
pub fn write_all(r: &Results, dir: &Path) -> Result<()> {
    let table = markdown(r);
    println!("\n{table}");
    let w = |name: &str, s: String| {
        let p = dir.join(name);
        std::fs::write(&p, s).map_err(|e| format!("{}: {e}", p.display()))
    };
    w("results.md", table)?;
    w("results.csv", csv(r))?;
    w("results.json", json(r))?;
    w("chart.svg", svg(r))?;
    println!(
        "raw numbers: {0}/results.csv, {0}/results.json; chart: {0}/chart.svg",
        dir.display()
    );
    Ok(())
}

fn native_index(r: &Results) -> Option<usize> {
    r.systems.iter().position(|s| s.kind == Kind::Native)
}

/// Median of system `si` over native's, for workload `wi`.
pub fn ratio(r: &Results, wi: usize, si: usize) -> Option<f64> {
    let n = r.cells[wi][native_index(r)?].median()?;
    let v = r.cells[wi][si].median()?;
    (n > 0.0).then(|| v / n)
}

fn num(x: f64) -> String {
    if x >= 1000.0 {
        // Thousands separators make µs-scale ns/op readable.
        let s = format!("{x:.0}");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn fmt_ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.1}×")
    }
}

fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", r.machine.line());
    let _ = writeln!(
        s,
        "median of {} run(s), interleaved; ratio = system / native (lower is better)\n",
        r.options.runs
    );
    let mut notes: Vec<String> = Vec::new();
    let mut note = |text: String| -> usize {
        match notes.iter().position(|n| *n == text) {
            Some(i) => i + 1,
            None => {
                notes.push(text);
                notes.len()
            }
        }
    };
    let _ = write!(s, "| workload | unit |");
    for sys in &r.systems {
        let _ = write!(s, " {} |", sys.name);
    }
    let _ = write!(s, "\n|---|---|");
    for _ in &r.systems {
        let _ = write!(s, "---|");
    }
    s.push('\n');
    let mut group = None;
    for (wi, wl) in r.workloads.iter().enumerate() {
        if group != Some(wl.group) {
            group = Some(wl.group);
            let _ = write!(s, "| **{}** | |", wl.group.name());
            for _ in &r.systems {
                s.push_str(" |");
            }
            s.push('\n');
        }
        let _ = write!(s, "| {} | {} |", wl.label, wl.unit);
        for (si, sys) in r.systems.iter().enumerate() {
            let cell: &Cell = &r.cells[wi][si];
            let text = if !cell.applicable {
                "—".to_string()
            } else if sys.status.is_err() {
                "not run".to_string()
            } else if let Some(m) = cell.median() {
                match (sys.kind, ratio(r, wi, si)) {
                    (Kind::Native, _) | (_, None) => num(m),
                    (_, Some(x)) => format!("{} ({})", num(m), fmt_ratio(x)),
                }
            } else {
                let why = cell.errors.first().cloned().unwrap_or_default();
                let n = note(format!("{}, {}: {why}", sys.name, wl.name));
                if sys.kind == Kind::Umbra {
                    format!("unsupported yet [{n}]")
                } else {
                    format!("failed [{n}]")
                }
            };
            let _ = write!(s, " {text} |");
        }
        s.push('\n');
    }
    s.push('\n');
    let mut versions: Vec<String> = r.systems.iter().filter_map(|sys| sys.version()).collect();
    versions.dedup();
    if !versions.is_empty() {
        let _ = writeln!(s, "Peers (Debian packages): {}\n", versions.join(", "));
    }
    let not_run: Vec<String> = r
        .systems
        .iter()
        .filter_map(|sys| {
            sys.status
                .as_ref()
                .err()
                .map(|e| format!("- {}: {e}", sys.name))
        })
        .collect();
    if !not_run.is_empty() {
        let _ = writeln!(s, "Systems not measured:\n{}\n", not_run.join("\n"));
    }
    if !notes.is_empty() {
        let _ = writeln!(s, "Failures (first error of each):");
        for (i, n) in notes.iter().enumerate() {
            let _ = writeln!(s, "- [{}] {n}", i + 1);
        }
        s.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(s, "Note: {n}");
    }
    let _ = writeln!(
        s,
        "Start-up includes the sandbox's own start (UML: its boot); micro and macro \
         numbers are timed inside the guest. Peak RSS: sum of the per-process VmHWM \
         of the whole host process tree, sampled (an upper bound: memory shared between \
         the processes counts in each). Peak PSS: the largest sampled total PSS of the \
         tree (shared memory counted once)."
    );
    let _ = writeln!(
        s,
        "generated by `cargo xtask bench{}`",
        r.args.iter().map(|a| format!(" {a}")).collect::<String>()
    );
    s
}

fn csv(r: &Results) -> String {
    let mut s = String::from("workload,group,system,unit,run,value,error\n");
    let q = |x: &str| format!("\"{}\"", x.replace('"', "\"\""));
    for (wi, wl) in r.workloads.iter().enumerate() {
        for (si, sys) in r.systems.iter().enumerate() {
            let cell = &r.cells[wi][si];
            let row = |run: usize, v: String, e: &str| {
                format!(
                    "{},{},{},{},{run},{v},{}\n",
                    wl.name,
                    wl.group.name(),
                    sys.id,
                    wl.unit,
                    q(e)
                )
            };
            for (i, v) in cell.values.iter().enumerate() {
                s.push_str(&row(i + 1, format!("{v}"), ""));
            }
            for (i, e) in cell.errors.iter().enumerate() {
                s.push_str(&row(cell.values.len() + i + 1, String::new(), e));
            }
            if let Err(e) = &sys.status {
                if cell.applicable {
                    s.push_str(&row(0, String::new(), e));
                }
            }
        }
    }
    s
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

fn json_list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn json(r: &Results) -> String {
    let m = &r.machine;
    let mut s = String::from("{\n");
    let _ = writeln!(
        s,
        "  \"machine\": {{\"cpu_model\": {}, \"cores\": {}, \"kernel\": {}, \"pinned_cpu\": {}, \"umbra_commit\": {}, \"date\": {}}},",
        json_str(&m.cpu_model),
        m.cores,
        json_str(&m.kernel),
        m.pinned_cpu,
        json_str(&m.commit),
        json_str(&m.date)
    );
    let _ = writeln!(
        s,
        "  \"runs\": {}, \"quick\": {}, \"notes\": [{}],",
        r.options.runs,
        r.options.quick,
        json_list(&r.notes, |n| json_str(n))
    );
    let _ = writeln!(
        s,
        "  \"systems\": [{}],",
        json_list(&r.systems, |sys| format!(
            "{{\"id\": {}, \"name\": {}, \"version\": {}, \"error\": {}}}",
            json_str(sys.id),
            json_str(sys.name),
            sys.version().map_or("null".into(), |v| json_str(&v)),
            sys.status
                .as_ref()
                .err()
                .map_or("null".into(), |e| json_str(e))
        ))
    );
    s.push_str("  \"results\": [\n");
    let mut rows = Vec::new();
    for (wi, wl) in r.workloads.iter().enumerate() {
        for (si, sys) in r.systems.iter().enumerate() {
            let cell = &r.cells[wi][si];
            if !cell.applicable {
                continue;
            }
            rows.push(format!(
                "    {{\"workload\": {}, \"label\": {}, \"group\": {}, \"system\": {}, \"unit\": {}, \"median\": {}, \"ratio_to_native\": {}, \"runs\": [{}], \"errors\": [{}], \"command\": [{}]}}",
                json_str(wl.name),
                json_str(wl.label),
                json_str(wl.group.name()),
                json_str(sys.id),
                json_str(wl.unit),
                json_num(cell.median()),
                json_num(ratio(r, wi, si)),
                json_list(&cell.values, |v| json_num(Some(*v))),
                json_list(&cell.errors, |e| json_str(e)),
                json_list(&cell.command, |c| json_str(c)),
            ));
        }
    }
    s.push_str(&rows.join(",\n"));
    s.push_str("\n  ]\n}\n");
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn color(kind: Kind) -> &'static str {
    match kind {
        Kind::Umbra => "#d62728",
        Kind::Floor => "#9e9e9e",
        Kind::Proot => "#2ca02c",
        Kind::Gvisor("kvm") => "#9467bd",
        Kind::Gvisor(_) => "#ff7f0e",
        Kind::Uml => "#1f77b4",
        Kind::Native => "#000000",
    }
}

/// Grouped bars of the ratio to native, log scale: one group per workload
/// (peak RSS left out: it is no time), one bar per system, growing up from
/// the 1× line when slower than native and down when faster.
fn svg(r: &Results) -> String {
    let wls: Vec<usize> = (0..r.workloads.len())
        .filter(|&w| !matches!(r.workloads[w].metric, Metric::PeakRss | Metric::PeakPss))
        .collect();
    // Systems that did not run keep their legend entry but no bar slot.
    let legend: Vec<usize> = (0..r.systems.len())
        .filter(|&s| r.systems[s].kind != Kind::Native)
        .collect();
    let sys: Vec<usize> = legend
        .iter()
        .copied()
        .filter(|&s| r.systems[s].status.is_ok())
        .collect();
    let ratios: BTreeMap<(usize, usize), f64> = wls
        .iter()
        .flat_map(|&w| sys.iter().map(move |&s| (w, s)))
        .filter_map(|(w, s)| ratio(r, w, s).map(|x| ((w, s), x)))
        .filter(|(_, x)| *x > 0.0)
        .collect();
    let lo = ratios
        .values()
        .fold(1.0f64, |a, &b| a.min(b))
        .log10()
        .floor()
        .min(0.0);
    let hi = ratios
        .values()
        .fold(10.0f64, |a, &b| a.max(b))
        .log10()
        .ceil();
    let bar_w = 14.0;
    // Per workload, the systems with a slot: applicable there.
    let slots: Vec<Vec<usize>> = wls
        .iter()
        .map(|&w| {
            sys.iter()
                .copied()
                .filter(|&s| r.cells[w][s].applicable)
                .collect()
        })
        .collect();
    let group_w = |g: usize| slots[g].len().max(1) as f64 * bar_w + 22.0;
    // Room on the left for the first rotated label; wide enough for the
    // title and legend even with few bars.
    let (left, top, plot_h) = (120.0, 92.0, 420.0);
    let width = (left + (0..wls.len()).map(group_w).sum::<f64>() + 30.0).max(1000.0);
    let height = top + plot_h + 170.0;
    let y = |ratio: f64| top + (hi - ratio.log10()) / (hi - lo) * plot_h;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"24\" font-size=\"17\" font-weight=\"bold\">Time relative to native \
         (log scale; lower is better; native = 1×)</text>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"44\" font-size=\"11\" fill=\"#444\">{}; median of {} run(s)</text>",
        esc(&r.machine.line()),
        r.options.runs
    );
    // Legend.
    let mut lx = left;
    for &si in &legend {
        let sy = &r.systems[si];
        let label = match &sy.status {
            Ok(_) => sy.name.to_string(),
            Err(_) => format!("{} (not run)", sy.name),
        };
        let _ = writeln!(
            s,
            "<rect x=\"{lx}\" y=\"58\" width=\"14\" height=\"14\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"70\">{}</text>",
            color(sy.kind),
            lx + 19.0,
            esc(&label)
        );
        lx += 30.0 + 7.0 * label.chars().count() as f64;
    }
    // Grid: decades labelled, 2..9 faint.
    let mut d = lo as i32;
    while d <= hi as i32 {
        let v = 10f64.powi(d);
        let yy = y(v);
        let label = if d < 0 {
            format!("{v}×")
        } else {
            format!("{v:.0}×")
        };
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"{}\" stroke-width=\"{}\"/>\
             <text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            width - 30.0,
            if d == 0 { "#000" } else { "#bbb" },
            if d == 0 { 1.5 } else { 1.0 },
            left - 6.0,
            yy + 4.0
        );
        if d < hi as i32 {
            for k in 2..10 {
                let yk = y(v * k as f64);
                let _ = writeln!(
                    s,
                    "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{yk:.1}\" y2=\"{yk:.1}\" stroke=\"#eee\"/>",
                    width - 30.0
                );
            }
        }
        d += 1;
    }
    let base = y(1.0);
    let mut gx = left + 11.0;
    for (gi, &wi) in wls.iter().enumerate() {
        let wl = &r.workloads[wi];
        if gi > 0 {
            gx += group_w(gi - 1);
        }
        if gi > 0 && r.workloads[wls[gi - 1]].group != wl.group {
            let xx = gx - 11.0;
            let _ = writeln!(
                s,
                "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{top}\" y2=\"{:.0}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>",
                top + plot_h
            );
        }
        if gi == 0 || r.workloads[wls[gi - 1]].group != wl.group {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.0}\" font-style=\"italic\" fill=\"#555\">{}</text>",
                gx,
                top - 6.0,
                wl.group.name()
            );
        }
        for (bi, &si) in slots[gi].iter().enumerate() {
            let sy = &r.systems[si];
            let x = gx + bi as f64 * bar_w;
            match ratios.get(&(wi, si)) {
                Some(&v) => {
                    let yv = y(v);
                    let (y0, h) = if yv < base {
                        (yv, base - yv)
                    } else {
                        (base, yv - base)
                    };
                    let _ = writeln!(
                        s,
                        "<rect x=\"{x:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\">\
                         <title>{}: {} {}</title></rect>",
                        bar_w - 2.0,
                        h.max(1.0),
                        color(sy.kind),
                        esc(sy.name),
                        esc(wl.label),
                        fmt_ratio(v)
                    );
                    let ty = if yv < base { yv - 3.0 } else { yv + 3.0 };
                    let anchor = if yv < base { "start" } else { "end" };
                    let _ = writeln!(
                        s,
                        "<text font-size=\"9\" text-anchor=\"{anchor}\" transform=\"translate({:.1},{ty:.1}) rotate(-90)\">{}</text>",
                        x + bar_w / 2.0 + 3.0,
                        fmt_ratio(v)
                    );
                }
                None if sy.status.is_ok() => {
                    // Failed or unsupported: a cross at the 1× line.
                    let label = if sy.kind == Kind::Umbra {
                        "unsupported yet"
                    } else {
                        "failed"
                    };
                    let _ = writeln!(
                        s,
                        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"{}\">✗<title>{}: {} {label}</title></text>",
                        x + bar_w / 2.0 - 1.0,
                        base - 4.0,
                        color(sy.kind),
                        esc(sy.name),
                        esc(wl.label)
                    );
                }
                None => {}
            }
        }
        let lx = gx + (slots[gi].len() as f64 * bar_w) / 2.0;
        let _ = writeln!(
            s,
            "<text text-anchor=\"end\" transform=\"translate({lx:.1},{:.0}) rotate(-40)\">{}</text>",
            top + plot_h + 14.0,
            esc(wl.label)
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{:.0}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#000\"/>",
        width - 30.0 - left
    );
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{:.0}\" font-size=\"11\" fill=\"#444\">✗ = failed (umbra: unsupported yet); \
         no bar = not applicable or system not run. Numbers: target/bench/results.md</text>",
        height - 10.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Group;

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(fmt_ratio(88.2), "88×");
        assert_eq!(fmt_ratio(1.74), "1.7×");
    }

    #[test]
    fn groups_have_names() {
        assert_eq!(Group::Macro.name(), "macro");
    }
}
