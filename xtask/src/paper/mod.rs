//! `cargo xtask paper`: the origin paper's evaluation (issue 14), measured
//! again on this machine and printed beside the paper's own figures.
//!
//! Each table has three value columns: the paper's figure, the host's
//! (native) figure where the row has one, and umbra's; then the ratio, the
//! target, whether umbra meets it, and a note. The tables are printed as
//! Markdown on stdout and written to `target/paper/`:
//!
//! - `paper.md`: every table, as printed;
//! - `tableN.json`: one file per table (the contract below), with the date,
//!   machine and commit it was measured at;
//! - `paper.json`: all tables in one array;
//! - `chart.svg`: a bar chart (hand-written SVG), one group of bars per row:
//!   paper, host and umbra, each scaled to the row's largest.
//!
//! With `--docs`, the tables run now are also kept as `docs/paper/ID.json`,
//! and `docs/PAPER.md` (with `docs/paper/chart.svg`) is regenerated from the
//! `docs/paper/ID.json` of every registered table, each with the date,
//! machine and commit it was measured at: a run of one table keeps the
//! others. `--docs-only` regenerates the document without measuring.
//!
//! # Contract for a table
//!
//! A table is one module of `xtask/src/paper/` with
//! `pub fn run(ctx: &Ctx) -> Result<Table>`, registered by one line in
//! [`TABLES`] (plus its `mod` line below). `run` builds and installs what it
//! needs (apt-get as root, like `cargo xtask setup`), measures, and returns
//! rows. A row that could not be measured keeps `umbra: None` (and
//! `met: None`) and says why in `note`; it is printed as "not measured",
//! never as a made-up figure. If the whole table cannot run, `run` returns
//! `Err(reason)` and the table is printed as "not measured: reason".
//!
//! A table measured by something other than Rust (a script) instead writes
//! `target/paper/tableN.json` and registers `run: |ctx| from_json(ctx,
//! "tableN")`. The JSON is what [`Table::to_json`] writes:
//!
//! ```json
//! {"id": "table2", "title": "...", "method": "Markdown: how each row is measured",
//!  "measured": {"date": "...", "machine": "...", "commit": "..."},
//!  "rows": [{"name": "xengine, umbra / host", "unit": "×", "paper": 0.89, "host": 1.0,
//!            "umbra": 0.97, "ratio": 0.97, "target": "≥ 0.95×",
//!            "met": true, "note": ""}]}
//! ```
//!
//! `paper`, `host`, `umbra` and `ratio` are numbers or null; `met` is true,
//! false or null (not measured); `target` and `note` are text. `ratio` is
//! what the target is about: umbra / host for speed rows, umbra / paper for
//! rows that have no host figure (ROM, RAM). `method`, `measured` and `id` are
//! optional in a file (`measured` is filled in when missing).
//!
//! `paper`, `host` and `umbra` are in the row's `unit`. Where the paper gives
//! only a ratio to its host (xengine 0.89×, the browser's 5.2×), make that a
//! row of unit `×` (paper 0.89, host 1, umbra = umbra / host), and put the
//! absolute figures (rpm, seconds) in rows of their own with `paper: null`.
//!
//! # arm64
//!
//! `--arm64` measures the tables for arm64: a table's [`Entry::arm64`] runs
//! what it can inside the ARM QEMU machine of `cargo xtask test-arm`
//! (images/arm/), with [`Ctx::emulated`] set, and labels every figure that
//! depends on the emulation "emulated (QEMU TCG)". Its result is kept as
//! table `ID-arm64` (target/paper/ID-arm64.json, docs/paper/ID-arm64.json)
//! beside the x86_64 one, and docs/PAPER.md has an arm64 section. Table 1
//! (rom_ram::run_arm64: the aarch64 builds' sizes, and the RAM figures
//! measured in the machine by images/arm/paper.sh), Table 2
//! (draw::run_arm64: Xvfb, xengine natively and under umbra, all in the
//! machine, by images/arm/paper-x.sh; Debian's arm64 packages it needs are
//! unpacked on the host by arm64.rs) and Table 3 (browser::run_arm64:
//! Xvfb, an HTTP server, dillo natively and under umbra, xwatch and
//! xdotool, all in the machine, by paper-x.sh; the arm64 tree and its ext2
//! image made on the host) have one; a table without one is printed as "not
//! measured on arm64 yet", never left out or faked.

mod arm64;
mod browser;
mod draw;
mod rom_ram;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{root, target_dir, Result};

/// One registered table: its id (the JSON file's stem), title and runner.
pub struct Entry {
    pub id: &'static str,
    pub title: &'static str,
    pub run: fn(&Ctx) -> Result<Table>,
    /// Its arm64 run (`--arm64`), if it has one.
    pub arm64: Option<fn(&Ctx) -> Result<Table>>,
}

/// The tables, in the paper's order. Adding a table is one line here (and
/// its `mod` line above).
pub const TABLES: &[Entry] = &[
    Entry {
        id: "table1",
        title: "Table 1: ROM and RAM",
        run: rom_ram::run,
        arm64: Some(rom_ram::run_arm64),
    },
    Entry {
        id: "table2",
        title: "Table 2: drawing speed (xengine)",
        run: draw::run,
        arm64: Some(draw::run_arm64),
    },
    Entry {
        id: "table3",
        title: "Table 3: web browser (dillo)",
        run: browser::run,
        arm64: Some(browser::run_arm64),
    },
];

/// What a table's `run` gets: the options of this run and where to write.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// target/paper/: where tables may keep their own files (logs,
    /// screenshots) beside the ones written here.
    pub out: PathBuf,
    /// `--quick`: fewer repetitions, for a smoke run (figures are labelled).
    pub quick: bool,
    /// `--runs N`: repetitions for the tables that take medians (default 10).
    pub runs: usize,
    /// Measured inside an emulated machine (QEMU): labelled in every table.
    pub emulated: bool,
    /// `--rom-features`: Table 1 also builds the device ROM with each
    /// optional part added back (one `rom` build each, minutes).
    pub rom_features: bool,
    /// `--arm64`: the tables' arm64 runs (see the top of this file).
    pub arm64: bool,
    /// This run's command line, for the tables that show it.
    pub command: String,
}

/// One row of a table. See the contract at the top of this file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub name: String,
    pub unit: String,
    pub paper: Option<f64>,
    pub host: Option<f64>,
    pub umbra: Option<f64>,
    pub ratio: Option<f64>,
    pub target: String,
    pub met: Option<bool>,
    pub note: String,
}

/// One table: its rows and how they were measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub id: String,
    pub title: String,
    /// Markdown: how each row is measured, so anyone can rerun it.
    pub method: String,
    /// Date, machine and commit of the measurement (filled in by `paper`).
    pub measured: Stamp,
    pub rows: Vec<Row>,
}

/// When, where and at which commit a table was measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stamp {
    pub date: String,
    pub machine: String,
    pub commit: String,
}

impl Row {
    /// A row with a name and unit; set the rest with the fields.
    pub fn new(name: &str, unit: &str) -> Row {
        Row {
            name: name.into(),
            unit: unit.into(),
            ..Row::default()
        }
    }

    /// A row whose umbra figure could not be measured, with the reason.
    pub fn not_measured(
        name: &str,
        unit: &str,
        paper: Option<f64>,
        target: &str,
        why: &str,
    ) -> Row {
        Row {
            paper,
            target: target.into(),
            note: format!("not measured: {why}"),
            ..Row::new(name, unit)
        }
    }
}

const USAGE: &str = "usage: cargo xtask paper [--only table1,table2,..] [--quick] [--runs N] \
                     [--docs] [--docs-only] [--rom-features] [--arm64]";

/// `cargo xtask paper [options]`.
pub fn paper(args: &[String]) -> Result<()> {
    let out = target_dir().join("paper");
    let mut ctx = Ctx {
        out: out.clone(),
        quick: false,
        runs: 10,
        emulated: false,
        rom_features: false,
        arm64: false,
        command: format!("cargo xtask paper {}", args.join(" "))
            .trim_end()
            .to_string(),
    };
    let mut only: Option<Vec<String>> = None;
    let mut docs = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => ctx.quick = true,
            "--docs" => docs = true,
            "--docs-only" => {
                docs = true;
                only = Some(Vec::new());
            }
            "--rom-features" => ctx.rom_features = true,
            "--runs" => {
                ctx.runs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or(format!("--runs needs a positive number; {USAGE}"))?
            }
            "--only" => {
                let v = it
                    .next()
                    .ok_or(format!("--only needs table ids; {USAGE}"))?;
                let ids: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
                for id in &ids {
                    if !TABLES.iter().any(|t| t.id == id) {
                        return Err(format!("no table `{id}`; the tables: {}", ids_list()));
                    }
                }
                only = Some(ids);
            }
            "--arm64" => {
                ctx.arm64 = true;
                ctx.emulated = true;
            }
            other => return Err(format!("unexpected argument `{other}`; {USAGE}")),
        }
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let stamp = stamp();
    println!(
        "paper: {} on {} at {}",
        stamp.date, stamp.machine, stamp.commit
    );

    let mut tables = Vec::new();
    for entry in TABLES {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|i| i == entry.id))
        {
            continue;
        }
        println!(
            "\n==> {}{}",
            entry.title,
            if ctx.arm64 { ", arm64" } else { "" }
        );
        let run = if ctx.arm64 {
            entry.arm64
        } else {
            Some(entry.run)
        };
        let measures = run.is_some();
        let result = match run {
            Some(run) => run(&ctx),
            None => Ok(not_on_arm64(entry)),
        };
        let mut t = match result {
            Ok(t) => t,
            Err(e) => Table {
                method: String::new(),
                rows: vec![Row {
                    note: format!("not measured: {e}"),
                    ..Row::new("(whole table)", "")
                }],
                ..Table::default()
            },
        };
        t.id = if ctx.arm64 {
            arm64_id(entry.id)
        } else {
            entry.id.into()
        };
        if t.title.is_empty() {
            t.title = entry.title.into();
        }
        if ctx.arm64 && !t.title.contains("arm64") {
            t.title.push_str(", arm64");
        }
        if ctx.emulated && measures && !t.title.contains("emulated") {
            t.title.push_str(", emulated (QEMU TCG)");
        }
        if ctx.quick && !t.title.contains("quick") {
            t.title.push_str(" (--quick)");
        }
        // A table may describe its own machine (the emulated one).
        // (A table with no run for arm64 measured nothing: no stamp.)
        let machine = std::mem::take(&mut t.measured.machine);
        t.measured = if measures {
            stamp.clone()
        } else {
            Stamp::default()
        };
        if !machine.is_empty() {
            t.measured.machine = machine;
        }
        let md = t.markdown();
        println!("\n{md}");
        let json = out.join(format!("{}.json", t.id));
        write(&json, &t.to_json())?;
        tables.push(t);
    }

    // The files of this run: every table run now.
    if !tables.is_empty() {
        let mut md = String::new();
        for t in &tables {
            md.push_str(&t.markdown());
            md.push('\n');
        }
        write(&out.join("paper.md"), &md)?;
        let all: Vec<String> = tables.iter().map(Table::to_json).collect();
        write(&out.join("paper.json"), &format!("[{}]\n", all.join(",\n")))?;
        write(&out.join("chart.svg"), &svg(&tables))?;
        println!(
            "paper: wrote {} (paper.md, paper.json, chart.svg, tableN.json)",
            out.display()
        );
    }

    if docs {
        // The tables run now are kept in docs/paper/ID.json; the document is
        // made from every registered table's: so a run of one table (by
        // whoever measures it) keeps the others' figures and stamps.
        let kept = root().join("docs/paper");
        for t in &tables {
            write(&kept.join(format!("{}.json", t.id)), &t.to_json())?;
        }
        let mut latest = Vec::new();
        let mut arm = Vec::new();
        for entry in TABLES {
            // arm64: the kept figures, or what the table has so far.
            let id = arm64_id(entry.id);
            let t = match tables.iter().find(|t| t.id == id) {
                Some(t) => Some(t.clone()),
                None => from_json_file(&kept.join(format!("{id}.json"))).ok(),
            };
            let t = t.unwrap_or_else(|| match entry.arm64 {
                None => not_on_arm64(entry),
                Some(_) => Table {
                    id: id.clone(),
                    title: format!("{}, arm64", entry.title),
                    rows: vec![Row {
                        note: format!(
                            "not measured: no figures kept in docs/paper/{id}.json; \
                             `cargo xtask paper --arm64 --only {} --docs` measures it",
                            entry.id
                        ),
                        ..Row::new("(whole table)", "")
                    }],
                    ..Table::default()
                },
            });
            arm.push(t);
        }
        for entry in TABLES {
            let t = match tables.iter().find(|t| t.id == entry.id) {
                Some(t) => t.clone(),
                None => match from_json_file(&kept.join(format!("{}.json", entry.id))) {
                    Ok(t) => t,
                    Err(e) => Table {
                        id: entry.id.into(),
                        title: entry.title.into(),
                        rows: vec![Row {
                            note: format!(
                                "not measured: no figures kept in docs/paper/{id}.json \
                                 ({e}); `cargo xtask paper --only {id} --docs` measures it",
                                id = entry.id,
                                e = e.rsplit(": ").next().unwrap_or(&e)
                            ),
                            ..Row::new("(whole table)", "")
                        }],
                        ..Table::default()
                    },
                },
            };
            latest.push(t);
        }
        latest.extend(arm);
        let doc = root().join("docs/PAPER.md");
        write(&doc, &paper_md(&latest))?;
        let chart = kept.join("chart.svg");
        write(&chart, &svg(&latest))?;
        println!("paper: wrote {} and {}", doc.display(), chart.display());
    }
    Ok(())
}

/// The id under which a table's arm64 figures are kept.
fn arm64_id(id: &str) -> String {
    format!("{id}-arm64")
}

/// A table that has no arm64 run yet: says so, with no figures.
fn not_on_arm64(entry: &Entry) -> Table {
    Table {
        id: arm64_id(entry.id),
        title: format!("{}, arm64: not measured yet", entry.title),
        method: String::new(),
        rows: vec![Row {
            note: "not measured on arm64 yet: this table has no run in the ARM QEMU \
                   machine"
                .into(),
            ..Row::new("(whole table)", "")
        }],
        ..Table::default()
    }
}

fn ids_list() -> String {
    TABLES.iter().map(|t| t.id).collect::<Vec<_>>().join(", ")
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A table registered as measured elsewhere: reads target/paper/ID.json.
#[allow(dead_code, reason = "for tables measured by a script; none yet")]
pub fn from_json(ctx: &Ctx, id: &str) -> Result<Table> {
    from_json_file(&ctx.out.join(format!("{id}.json")))
}

fn from_json_file(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Table::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Date, machine, commit.

fn command_line(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Now, this machine, and the commit of the workspace.
pub fn stamp() -> Stamp {
    let date = command_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
        .unwrap_or_else(|| "unknown date".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or(0, |k| k / 1024);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let debian = std::fs::read_to_string("/etc/debian_version")
        .map(|s| format!(", Debian {}", s.trim()))
        .unwrap_or_default();
    let machine = format!(
        "{} ({cpu}, {cpus} CPUs, {mem_mb} MB), Linux {kernel}{debian}",
        std::env::consts::ARCH
    );
    let git = |args: &[&str]| command_line(Command::new("git").arg("-C").arg(root()).args(args));
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
            if dirty {
                format!("{c} (with uncommitted changes)")
            } else {
                c
            }
        }
        None => "unknown commit".into(),
    };
    Stamp {
        date,
        machine,
        commit,
    }
}

// ---------------------------------------------------------------------------
// Markdown.

/// A number as the tables show it: thousands separated, 3 significant
/// digits for small values.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    // Thousands separators in the integer part.
    let (sign, rest) = s.strip_prefix('-').map_or(("", s.as_str()), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, ""), |(i, f)| (i, f));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

fn cell(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(v) if unit.is_empty() || unit == "×" => format!("{}{unit}", num(v)),
        Some(v) => format!("{} {unit}", num(v)),
        None => "—".into(),
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Table {
    /// The table as Markdown: a heading, the rows, the stamp and the method.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### {}\n", self.title);
        s.push_str("| row | paper | host | umbra | ratio | target | met | note |\n");
        s.push_str("|---|---|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let umbra = if r.umbra.is_none() && r.note.starts_with("not measured") {
                "not measured".to_string()
            } else {
                cell(r.umbra, &r.unit)
            };
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "—",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                md_escape(&r.name),
                cell(r.paper, &r.unit),
                cell(r.host, &r.unit),
                umbra,
                r.ratio.map_or("—".into(), |x| format!("{:.2}×", x)),
                md_escape(&r.target),
                met,
                md_escape(&r.note)
            );
        }
        let m = &self.measured;
        if !m.date.is_empty() {
            let _ = writeln!(
                s,
                "\nMeasured {} on {}, commit {}.",
                m.date, m.machine, m.commit
            );
        }
        s
    }
}

/// docs/PAPER.md: the tables, each with its stamp, then how each is measured.
fn paper_md(tables: &[Table]) -> String {
    let mut s = String::new();
    s.push_str(
        "# The paper's evaluation, reproduced (issue 14)\n\n\
         Generated by `cargo xtask paper --docs` (xtask/src/paper/); do not edit by hand.\n\
         Columns: the paper's figure (UML on an ARM PDA), the host (native on this machine) \
         and umbra; `ratio` is what the target is about (umbra / host for speed, umbra / \
         paper for sizes); `met` says whether umbra meets the issue's target. A row that \
         could not be measured says so and why.\n\n\
         ![the tables as bars](paper/chart.svg)\n\n",
    );
    let is_arm64 = |t: &&Table| t.id.ends_with("-arm64");
    for t in tables.iter().filter(|t| !is_arm64(t)) {
        s.push_str(&t.markdown());
        s.push('\n');
    }
    if tables.iter().any(|t| is_arm64(&t)) {
        s.push_str(
            "## arm64, emulated (QEMU TCG)\n\n\
             Generated by `cargo xtask paper --arm64 --docs`. The arm64 figures are measured \
             inside the emulated arm64 machine of `cargo xtask test-arm` (qemu-system-aarch64, \
             TCG, one vCPU): every figure that depends on the emulation is labelled \
             \"emulated (QEMU TCG)\". Sizes (ROM) are those of the aarch64 files and do not \
             depend on it.\n\n",
        );
        for t in tables.iter().filter(is_arm64) {
            s.push_str(&t.markdown());
            s.push('\n');
        }
    }
    s.push_str("## How each table is measured\n\n");
    for t in tables {
        if t.method.trim().is_empty() {
            continue;
        }
        let _ = writeln!(s, "### {}\n\n{}\n", t.title, t.method.trim());
    }
    s
}

// ---------------------------------------------------------------------------
// SVG.

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart: per row, the paper's, the host's and umbra's
/// figure, scaled to the largest of the three.
fn svg(tables: &[Table]) -> String {
    const W: f64 = 960.0;
    const LABEL: f64 = 330.0;
    const BAR: f64 = 13.0;
    let bars = [
        ("paper", "#9e9e9e"),
        ("host", "#4a78c2"),
        ("umbra", "#e08a2c"),
    ];
    let mut body = String::new();
    let mut y = 40.0;
    for t in tables {
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y}" font-weight="bold">{}</text>"#,
            xml(&t.title)
        );
        y += 12.0;
        for r in &t.rows {
            let vals = [r.paper, r.host, r.umbra];
            let max = vals.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
            let _ = writeln!(
                body,
                r#"<text x="10" y="{}">{}</text>"#,
                y + 2.0 * BAR,
                xml(&format!("{} ({})", r.name, r.unit))
            );
            for (i, ((who, colour), v)) in bars.iter().zip(vals).enumerate() {
                let by = y + i as f64 * BAR + 4.0;
                match v {
                    Some(v) if max > 0.0 => {
                        let w = (W - LABEL - 110.0) * v.abs() / max;
                        let _ = writeln!(
                            body,
                            r#"<rect x="{LABEL}" y="{by}" width="{w:.1}" height="{}" fill="{colour}"><title>{who}: {}</title></rect><text x="{:.1}" y="{}" font-size="10">{who} {}</text>"#,
                            BAR - 2.0,
                            xml(&num(v)),
                            LABEL + w + 4.0,
                            by + BAR - 4.0,
                            xml(&num(v))
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            body,
                            r##"<text x="{LABEL}" y="{}" font-size="10" fill="#888">{who}: —</text>"##,
                            by + BAR - 4.0
                        );
                    }
                }
            }
            y += 3.0 * BAR + 10.0;
        }
        y += 14.0;
    }
    let mut legend = String::new();
    for (i, (who, colour)) in bars.iter().enumerate() {
        let x = LABEL + i as f64 * 90.0;
        let _ = write!(
            legend,
            r#"<rect x="{x}" y="10" width="12" height="12" fill="{colour}"/><text x="{}" y="21">{who}</text>"#,
            x + 16.0
        );
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{legend}\n{body}</svg>\n",
        y + 10.0
    )
}

// ---------------------------------------------------------------------------
// JSON: written by hand, read by a small parser (std only).

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let s = format!("{v}");
            s
        }
        _ => "null".into(),
    }
}

impl Table {
    pub fn to_json(&self) -> String {
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                format!(
                    "    {{\"name\": {}, \"unit\": {}, \"paper\": {}, \"host\": {}, \"umbra\": {}, \
                     \"ratio\": {}, \"target\": {}, \"met\": {}, \"note\": {}}}",
                    json_str(&r.name),
                    json_str(&r.unit),
                    json_num(r.paper),
                    json_num(r.host),
                    json_num(r.umbra),
                    json_num(r.ratio),
                    json_str(&r.target),
                    r.met.map_or("null".into(), |m| m.to_string()),
                    json_str(&r.note)
                )
            })
            .collect();
        let m = &self.measured;
        format!(
            "{{\"id\": {}, \"title\": {}, \"method\": {},\n  \"measured\": {{\"date\": {}, \
             \"machine\": {}, \"commit\": {}}},\n  \"rows\": [\n{}\n  ]}}\n",
            json_str(&self.id),
            json_str(&self.title),
            json_str(&self.method),
            json_str(&m.date),
            json_str(&m.machine),
            json_str(&m.commit),
            rows.join(",\n")
        )
    }

    pub fn from_json(text: &str) -> Result<Table> {
        let v = Json::parse(text)?;
        let s = |v: &Json, k: &str| v.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        let n = |v: &Json, k: &str| v.get(k).and_then(Json::as_f64);
        let rows = match v.get("rows") {
            Some(Json::Array(rows)) => rows
                .iter()
                .map(|r| Row {
                    name: s(r, "name"),
                    unit: s(r, "unit"),
                    paper: n(r, "paper"),
                    host: n(r, "host"),
                    umbra: n(r, "umbra"),
                    ratio: n(r, "ratio"),
                    target: s(r, "target"),
                    met: match r.get("met") {
                        Some(Json::Bool(b)) => Some(*b),
                        _ => None,
                    },
                    note: s(r, "note"),
                })
                .collect(),
            _ => return Err("no \"rows\" array".into()),
        };
        let m = v.get("measured");
        let ms = |k: &str| m.map(|m| s(m, k)).unwrap_or_default();
        Ok(Table {
            id: s(&v, "id"),
            title: s(&v, "title"),
            method: s(&v, "method"),
            measured: Stamp {
                date: ms("date"),
                machine: ms("machine"),
                commit: ms("commit"),
            },
            rows,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Json> {
        let mut p = Parser {
            b: text.as_bytes(),
            i: 0,
            depth: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing text at byte {}", p.i));
        }
        Ok(v)
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn err<T>(&self, what: &str) -> Result<T> {
        Err(format!("JSON: {what} at byte {}", self.i))
    }
    fn eat(&mut self, c: u8) -> Result<()> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected `{}`", c as char))
        }
    }
    fn value(&mut self) -> Result<Json> {
        self.ws();
        self.depth += 1;
        if self.depth > 64 {
            return self.err("nested too deeply");
        }
        let v = match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut kv = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.eat(b':')?;
                        kv.push((k, self.value()?));
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return self.err("expected `,` or `}`"),
                        }
                    }
                }
                Json::Object(kv)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return self.err("expected `,` or `]`"),
                        }
                    }
                }
                Json::Array(items)
            }
            Some(b'"') => Json::Str(self.string()?),
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                Json::Bool(true)
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                Json::Bool(false)
            }
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Json::Null
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                let s = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                match s.parse::<f64>() {
                    Ok(n) => Json::Num(n),
                    Err(_) => return self.err("bad number"),
                }
            }
            _ => return self.err("expected a value"),
        };
        self.depth -= 1;
        Ok(v)
    }
    fn string(&mut self) -> Result<String> {
        if self.b.get(self.i) != Some(&b'"') {
            return self.err("expected a string");
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.b.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = self.b.get(self.i + 1).copied();
                    self.i += 2;
                    match c {
                        Some(b'n') => out.push(b'\n'),
                        Some(b't') => out.push(b'\t'),
                        Some(b'r') => out.push(b'\r'),
                        Some(b'b') => out.push(8),
                        Some(b'f') => out.push(12),
                        Some(b'u') => {
                            let hex = self
                                .b
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok());
                            let Some(code) = hex else {
                                return self.err("bad \\u escape");
                            };
                            self.i += 4;
                            let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                            let mut buf = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        Some(c) => out.push(c),
                        None => return self.err("unterminated escape"),
                    }
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).or_else(|_| self.err("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table {
            id: "table9".into(),
            title: "Table 9: \"quoted\" | piped".into(),
            method: "line one\nline two".into(),
            measured: Stamp {
                date: "2026-12-07 04:00 UTC".into(),
                machine: "x86_64".into(),
                commit: "abc".into(),
            },
            rows: vec![
                Row {
                    paper: Some(1870.0),
                    umbra: Some(950.5),
                    ratio: Some(0.508),
                    target: "≤ 1,000 KB".into(),
                    met: Some(true),
                    ..Row::new("ROM total", "KB")
                },
                Row::not_measured(
                    "xengine, umbra / host",
                    "×",
                    Some(0.89),
                    "≥ 0.95×",
                    "no Xvfb",
                ),
            ],
        }
    }

    #[test]
    fn json_round_trips() {
        let t = sample();
        assert_eq!(Table::from_json(&t.to_json()).unwrap(), t);
    }

    #[test]
    fn json_parser_rejects_garbage_without_panicking() {
        for bad in [
            "",
            "{",
            "[1,",
            "{\"a\" 1}",
            "\"\\u12",
            "nul",
            "-",
            "[[[[",
            "{\"rows\": 3}",
        ] {
            assert!(Table::from_json(bad).is_err(), "{bad}");
        }
        let deep = "[".repeat(1000);
        assert!(Json::parse(&deep).is_err());
    }

    #[test]
    fn markdown_says_not_measured() {
        let md = sample().markdown();
        assert!(
            md.contains("| xengine, umbra / host | 0.89× | — | not measured |"),
            "{md}"
        );
        assert!(md.contains("1,870 KB"), "{md}");
        assert!(md.starts_with("### Table 9: \"quoted\" | piped\n"), "{md}");
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1358.0), "1,358");
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(0.894), "0.89");
        assert_eq!(num(-12.34), "-12.3");
    }

    #[test]
    fn svg_is_one_document() {
        let s = svg(&[sample()]);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains("&quot;quoted&quot;"));
    }
}
