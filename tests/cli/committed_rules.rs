//! The committed comparison of the batch-size rules (docs/reproduction-rules/, `reproduce
//! --only rules`) against its own run files: the tables, CSVs and figure list are what
//! `cabs reproduce --resume` makes of them, and the numbers results.md quotes — the α grid, each
//! rule's best α, the paired accuracy differences against the first rule — are recomputed here
//! from the run CSVs alone, without the tool's code.
//!
//! The set is committed after its runs finish (hours of training). Until then the tests of the set
//! say on stderr that there is none and pass, and the test that README links only files that
//! exist keeps the README from pointing at a figure that is not there. `CABS_RULES_SET=DIR` points
//! the tests at another set (a rehearsal made with a small model), which must then exist.
#![cfg(not(target_arch = "wasm32"))]

use crate::reproduce_cli::{cabs, col, fresh_dir, read};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the committed set lives, relative to the repository.
const SET: &str = "docs/reproduction-rules";

fn repo_path(rel: impl AsRef<Path>) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The set to check: `CABS_RULES_SET` when given (it must exist), else the committed one if it
/// is there; None (said on stderr) before the set is committed.
fn the_set() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CABS_RULES_SET") {
        let dir = PathBuf::from(dir);
        assert!(dir.join("results.md").exists(), "CABS_RULES_SET={}: no results.md there", dir.display());
        return Some(dir);
    }
    let dir = repo_path(SET);
    if dir.exists() {
        return Some(dir);
    }
    eprintln!(
        "note: {SET} is not committed yet: its tests check nothing (README's links are checked by readme_links_only_files_that_exist)"
    );
    None
}

/// A run file's text, `runs/<label>.csv` or `runs/<label>.csv.gz`.
fn run_text(runs: &Path, label: &str) -> Option<String> {
    let csv = runs.join(format!("{label}.csv"));
    if csv.exists() {
        return Some(read(&csv));
    }
    let gz = runs.join(format!("{label}.csv.gz"));
    let file = std::fs::File::open(&gz).ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(file), &mut text).unwrap();
    Some(text)
}

/// The labels of the run files in a folder (`.csv` or `.csv.gz`), sorted.
fn run_labels(runs: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(runs)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".csv.gz").or_else(|| name.strip_suffix(".csv")).map(str::to_string)
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The value of `--flag` in results.md's command.
fn flag(command: &str, name: &str) -> Option<String> {
    let args: Vec<&str> = command.split(' ').collect();
    args.iter().position(|a| *a == name).and_then(|i| args.get(i + 1)).map(|s| s.to_string())
}

fn command_of(md: &str) -> String {
    md.lines().find_map(|l| l.strip_prefix("**Command:** `")).expect("results.md names its command").trim_end_matches('`').to_string()
}

/// `short_number`'s form of α in labels for the grids used here (0.05, 0.1, …).
fn label_of(rule: &str, alpha: &str, seed: u64) -> String {
    let s = if seed == 1 { String::new() } else { format!("-s{seed}") };
    let safe: String = rule
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else if c == ':' {
                '-'
            } else {
                '_'
            }
        })
        .collect();
    match rule.strip_prefix("const:") {
        _ if rule == "cabs" => format!("cabs-a{alpha}{s}"),
        Some(m) if m.parse::<u32>().is_ok() => format!("const-m{m}-a{alpha}{s}"),
        _ => format!("rule-{safe}-a{alpha}{s}"),
    }
}

/// The last test accuracy a run's CSV logged; None for a run that diverged (its record says so)
/// or has none.
fn final_accuracy(runs: &Path, label: &str) -> Option<f64> {
    let record: serde_json::Value = serde_json::from_str(&read(&runs.join(format!("{label}.json")))).unwrap();
    if record.get("diverged").is_some_and(|d| !d.is_null()) {
        return None;
    }
    let text = run_text(runs, label).unwrap_or_else(|| panic!("no run file for {label}"));
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let c = col(&header, "test_accuracy");
    lines.rev().find_map(|l| l.split(',').nth(c).and_then(|v| v.parse::<f64>().ok()))
}

/// Checks every number results.md quotes in the rules' tables against the run CSVs: the grid's
/// mean accuracy per rule and α, the best α of each rule (bold and in the last column), and each
/// rule's paired test-accuracy differences against the first rule (per seed and their mean).
/// Err names the first figure that does not match.
fn quotes_match_runs(md: &str, runs: &Path) -> Result<usize, String> {
    let command = command_of(md);
    let rules: Vec<String> = flag(&command, "--rules").ok_or("no --rules in the command")?.split(',').map(str::to_string).collect();
    let alphas: Vec<String> = flag(&command, "--alphas").ok_or("no --alphas in the command")?.split(',').map(str::to_string).collect();
    let seeds: u64 = flag(&command, "--seeds").map_or(1, |s| s.parse().unwrap());
    let first_seed: u64 = flag(&command, "--seed").map_or(1, |s| s.parse().unwrap());
    let seed_list: Vec<u64> = (first_seed..first_seed + seeds).collect();
    let row = |start: &str, nth: usize| -> Result<Vec<String>, String> {
        let line = md.lines().filter(|l| l.starts_with(start)).nth(nth).ok_or(format!("results.md has no row {start:?} (#{nth})"))?;
        Ok(line.trim().trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect())
    };
    let mut checked = 0;
    // Per rule: the mean final accuracy at each α, and the best α (highest mean; a rule with a
    // broken seed at an α cannot win there). Ties by loss are not recomputed: none expected.
    let mut best: BTreeMap<String, (String, Vec<f64>)> = BTreeMap::new();
    for rule in &rules {
        let cells = row(&format!("| `{rule}` |"), 0)?;
        let mut top: Option<(f64, usize, Vec<f64>)> = None;
        for (j, a) in alphas.iter().enumerate() {
            let acc: Vec<Option<f64>> = seed_list.iter().map(|&s| final_accuracy(runs, &label_of(rule, a, s))).collect();
            let ok: Vec<f64> = acc.iter().flatten().copied().collect();
            let cell = &cells[j + 1];
            if ok.is_empty() {
                continue;
            }
            let mean = ok.iter().sum::<f64>() / ok.len() as f64;
            let want = format!("{:.2} %", 100.0 * mean);
            if !cell.trim_start_matches("**").starts_with(&want) {
                return Err(format!("grid, `{rule}` at α = {a}: results.md says {cell:?}, the runs give {want}"));
            }
            checked += 1;
            if ok.len() == acc.len() && top.as_ref().is_none_or(|t| mean > t.0) {
                top = Some((mean, j, ok));
            }
        }
        if let Some((_, j, per_seed)) = top {
            let a = &alphas[j];
            if cells.last().map(String::as_str) != Some(a.as_str()) || !cells[j + 1].starts_with("**") {
                return Err(format!("`{rule}`: the runs' best α is {a}, results.md's row is {cells:?}"));
            }
            checked += 1;
            best.insert(rule.clone(), (a.clone(), per_seed));
        }
    }
    // The paired table: each rule's per-seed accuracy differences against the first rule.
    let first = &rules[0];
    let base = best.get(first).ok_or(format!("`{first}` has no best α"))?.1.clone();
    for rule in rules.iter().skip(1) {
        let Some((a, acc)) = best.get(rule) else { continue };
        let cells = row(&format!("| `{rule}` |"), 1)?;
        if cells[1] != *a {
            return Err(format!("paired table, `{rule}`: α {:?}, the runs' best is {a}", cells[1]));
        }
        let d: Vec<f64> = acc.iter().zip(&base).map(|(x, y)| 100.0 * (x - y)).collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let each = d.iter().map(|x| format!("{x:+.2}")).collect::<Vec<_>>().join(", ");
        let want = format!("{mean:+.2} [");
        let cell = &cells[6];
        if !cell.starts_with(&want) || !cell.contains(&format!("(seeds: {each})")) {
            return Err(format!("paired table, `{rule}`: results.md says {cell:?}, the runs give {want}… (seeds: {each})"));
        }
        checked += 1;
    }
    Ok(checked)
}

/// README links (markdown `](…)`, HTML `src=`/`href=`) only to files that exist: the rules
/// comparison's figure is linked from README once its set is committed, and not before.
#[test]
fn readme_links_only_files_that_exist() {
    let readme = read(&repo_path("README.md"));
    let mut targets: Vec<String> = Vec::new();
    for (open, close) in [("](", ')'), ("src=\"", '"'), ("href=\"", '"')] {
        for part in readme.split(open).skip(1) {
            let t = part.split(close).next().unwrap_or("").split(' ').next().unwrap_or("");
            targets.push(t.split('#').next().unwrap_or("").to_string());
        }
    }
    let local: Vec<&String> = targets.iter().filter(|t| !t.is_empty() && !t.contains("://") && !t.starts_with("mailto:")).collect();
    assert!(!local.is_empty(), "README links no file: the check found nothing to check");
    let missing: Vec<&&String> = local.iter().filter(|t| !repo_path(t.as_str()).exists()).collect();
    assert!(missing.is_empty(), "README links files that do not exist: {missing:?}");
    // The check can fail: a link to a figure that is not there is caught.
    assert!(!repo_path(format!("{SET}/figures/no-such-figure.svg")).exists());
}

/// README shows the set's figure and quotes its verdict lines word for word from results.md (the
/// lines set off as a quotation), with the run count and budget of the set's own command; a
/// verdict changed in README is caught.
#[test]
fn readme_quotes_the_rules_verdicts_word_for_word() {
    let Some(src) = the_set() else { return };
    if std::env::var_os("CABS_RULES_SET").is_some() {
        return; // a rehearsal set is not the one README describes
    }
    let readme = read(&repo_path("README.md"));
    let md = read(&src.join("results.md"));
    assert!(readme.contains(&format!("]({SET}/figures/rules.svg)")), "README shows the rules' batch-size figure");
    let quoted: Vec<&str> = readme.lines().filter_map(|l| l.strip_prefix("> - At least as good as ")).collect();
    assert_eq!(quoted.len(), 2, "README quotes the two verdict lines (training loss, test accuracy)");
    let in_results = |q: &str| md.lines().any(|l| l == format!("- At least as good as {q}"));
    for q in &quoted {
        assert!(in_results(q), "README's verdict is not results.md's: {q}");
    }
    let doctored = quoted[0].replacen("**supported**", "**not shown**", 1);
    assert!(doctored != quoted[0] && !in_results(&doctored), "a changed verdict goes unnoticed");
    let command = command_of(&md);
    let runs = run_labels(&src.join("runs")).len();
    let examples: usize = flag(&command, "--examples").unwrap().parse().unwrap();
    let thousands = format!("{},{:03}", examples / 1000, examples % 1000);
    let flat = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&format!("{thousands} examples per run")), "README's budget is the set's: {thousands}");
    assert!(flat.contains(&format!("{runs} runs")), "README's run count is the set's: {runs}");
}

/// The set is what the tool makes of its run files: its own command (from results.md) rerun with
/// --resume into a fresh folder retrains nothing and gives the same summary.csv, all_runs.csv and
/// results.md (but the command line); every run file has its record and its predictions, the run
/// logs are gzip-compressed, no run file is left over from other flags, and every figure
/// results.md lists is there, rules.svg naming every rule.
#[test]
fn the_committed_rules_set_is_regenerated_from_its_runs() {
    let Some(src) = the_set() else { return };
    let md = read(&src.join("results.md"));
    assert!(md.starts_with("# Batch-size rules compared: results"), "a set of --only rules");
    let command = command_of(&md);
    let out = fresh_dir("committed-rules");
    std::fs::create_dir_all(out.join("runs")).unwrap();
    for e in std::fs::read_dir(src.join("runs")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), out.join("runs").join(e.file_name())).unwrap();
    }
    let mut args: Vec<String> = command.split(' ').skip(1).map(str::to_string).collect();
    assert!(args.iter().any(|a| a == "--resume"), "the committed tables are regenerated with --resume: {command}");
    let o = args.iter().position(|a| a == "--out").unwrap();
    args[o + 1] = out.display().to_string();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = cabs(&refs);
    assert_eq!(code, 0, "{stderr}");
    let labels = run_labels(&src.join("runs"));
    let rules = flag(&command, "--rules").unwrap().split(',').count();
    let alphas = flag(&command, "--alphas").unwrap().split(',').count();
    let seeds: usize = flag(&command, "--seeds").map_or(1, |s| s.parse().unwrap());
    assert_eq!(labels.len(), rules * alphas * seeds, "one run per rule, α and seed: {labels:?}");
    assert_eq!(stderr.matches("not retrained").count(), labels.len(), "every run is read back, none trained:\n{stderr}");
    assert!(!stderr.contains("is not part of this reproduction"), "stale run files:\n{stderr}");
    for l in &labels {
        let runs = src.join("runs");
        assert!(runs.join(format!("{l}.json")).exists(), "{l} has no record");
        assert!(runs.join(format!("{l}.csv.gz")).exists(), "{l}: committed run logs are gzip-compressed");
        let record: serde_json::Value = serde_json::from_str(&read(&runs.join(format!("{l}.json")))).unwrap();
        if record.get("diverged").is_none_or(|d| d.is_null()) {
            assert!(runs.join(format!("{l}.pred")).exists(), "{l} has no predictions (McNemar needs them)");
        }
    }
    for f in ["summary.csv", "all_runs.csv"] {
        assert_eq!(read(&out.join(f)), read(&src.join(f)), "{f} is not what the tool makes of the run files");
    }
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("**Command:**")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&read(&out.join("results.md"))), strip(&md), "results.md is not what the tool makes of the run files");
    // Every figure the page links is in the set; rules.svg's legend names every rule.
    let linked: Vec<&str> = md.split("](figures/").skip(1).filter_map(|p| p.split(')').next()).collect();
    assert!(linked.contains(&"rules.svg"), "results.md links figures/rules.svg");
    for f in &linked {
        assert!(src.join("figures").join(f).exists(), "results.md links figures/{f}, which is not in the set");
    }
    let svg = read(&src.join("figures/rules.svg"));
    for (rule, words) in [("cabs", "CABS,"), ("norm:", "norm test θ="), ("inner:", "inner-product test θ="), ("gns", "noise scale (GNS)")]
    {
        if command.contains(rule) {
            assert!(svg.contains(words), "rules.svg's legend lacks {words:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Every number of the rules' tables is recomputed from the run CSVs (not through the tool), and
/// the check fails on a page with one digit changed.
#[test]
fn the_rules_page_quotes_its_runs() {
    let Some(src) = the_set() else { return };
    let md = read(&src.join("results.md"));
    let checked = quotes_match_runs(&md, &src.join("runs")).unwrap_or_else(|e| panic!("{e}"));
    let command = command_of(&md);
    let (rules, alphas) = (flag(&command, "--rules").unwrap().split(',').count(), flag(&command, "--alphas").unwrap().split(',').count());
    assert!(checked >= rules * alphas, "only {checked} figures checked for {rules} rules × {alphas} α");
    // A doctored page: the first grid cell's first digit changed.
    let grid_row = md.lines().find(|l| l.starts_with("| `")).unwrap();
    let cell = grid_row.split(" | ").nth(1).unwrap();
    let pos = cell.find(|c: char| c.is_ascii_digit()).unwrap();
    let d = cell.as_bytes()[pos];
    let doctored_cell = format!("{}{}{}", &cell[..pos], if d == b'9' { '1' } else { (d + 1) as char }, &cell[pos + 1..]);
    let doctored = md.replacen(grid_row, &grid_row.replacen(cell, &doctored_cell, 1), 1);
    assert_ne!(doctored, md);
    assert!(quotes_match_runs(&doctored, &src.join("runs")).is_err(), "a changed digit in the grid goes unnoticed");
}
