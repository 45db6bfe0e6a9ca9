//! The settings schema (src/settings/schema.rs) against the code it describes: it covers every
//! `Settings` field with `Settings::default()`'s value, every value it allows is one the engine's
//! parsers accept, and the page's generated copy (www/lib/settings-schema.js) is up to date. Also
//! the CSV row: the shared formatter writes the runner's documented format, and the golden file
//! the page test compares its export with (tests/page/csv-golden.json) is what it writes.
//! `CABS_BLESS=1 cargo test --release --test cli settings_schema` rewrites both generated files.

use cabs::cabs::{parse_rule, CabsConfig};
use cabs::data::DataName;
use cabs::engine::{BackendChoice, ConvNorms};
use cabs::model::ModelSpec;
use cabs::settings::schema::{schema, Key, Kind, Value, MAX_BATCH, MAX_WIDTH};
use cabs::settings::{LearningRate, Settings};
use cabs::trainer::{EvalStats, StepStats};
use serde_json::json;
use std::path::Path;

fn key(name: &str) -> Key {
    schema().keys.into_iter().find(|k| k.key == name).unwrap_or_else(|| panic!("no key {name} in the schema"))
}

fn values(name: &str) -> Vec<&'static str> {
    match key(name).kind {
        Kind::Choice { values, .. } | Kind::Parts { values } => values,
        k => panic!("{name} is {k:?}"),
    }
}

/// Set one engine key on `s`, as the page's settings object would.
fn set(s: &mut Settings, name: &str, v: &Value) {
    let mut obj = serde_json::to_value(&*s).unwrap();
    obj[name] = serde_json::to_value(v).unwrap();
    *s = serde_json::from_value(obj).unwrap_or_else(|e| panic!("{name} = {v:?}: {e}"));
}

#[test]
fn the_schema_covers_every_settings_field_with_its_default() {
    let defaults = serde_json::to_value(Settings::default()).unwrap();
    let fields: Vec<&String> = defaults.as_object().unwrap().keys().collect();
    let s = schema();
    let mut engine: Vec<&str> = s.keys.iter().filter(|k| k.engine).map(|k| k.key).collect();
    engine.sort_unstable();
    let mut want: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
    want.sort_unstable();
    assert_eq!(engine, want, "the schema's engine keys are the Settings fields (camelCase)");
    for k in s.keys.iter().filter(|k| k.engine) {
        assert_eq!(serde_json::to_value(&k.default).unwrap(), defaults[k.key], "default of {}", k.key);
    }
    // Keys are unique, URL keys first in the link's order, and page-only keys are not settings.
    let names: Vec<&str> = s.keys.iter().map(|k| k.key).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
    let url: Vec<&str> = s.keys.iter().filter(|k| k.url).map(|k| k.key).collect();
    assert_eq!(
        url,
        [
            "data",
            "model",
            "rule",
            "lr",
            "mmin",
            "mmax",
            "mu",
            "seed",
            "baselines",
            "backend",
            "eval",
            "x",
            "embed",
            "hide",
            "show",
            "play",
            "autopause"
        ]
    );
    for k in &s.keys {
        assert!(k.engine || k.url, "{} is neither", k.key);
        assert!(!k.help.is_empty() && !k.expect.is_empty(), "{} has help and an expectation", k.key);
        assert!(k.control.is_none() || k.url, "{}: controls are for URL keys", k.key);
    }
}

#[test]
fn allowed_values_are_the_parsers_values() {
    for v in values("data") {
        DataName::parse(v).unwrap();
    }
    for v in values("backend") {
        BackendChoice::parse(v).unwrap();
    }
    for v in values("convNorms") {
        ConvNorms::parse(v).unwrap();
    }
    for (name, bad) in [("data", "cifar"), ("backend", "webgl"), ("convNorms", "approx")] {
        assert!(!values(name).contains(&bad));
    }
    assert!(DataName::parse("cifar").is_err() && BackendChoice::parse("webgl").is_err() && ConvNorms::parse("approx").is_err());
    // The suggestions offered by the controls are values the engine takes.
    for name in ["model", "rule", "baselines"] {
        for v in key(name).control.unwrap().suggestions {
            let parts: Vec<&str> = if name == "baselines" { v.split(',').filter(|p| *p != "none").collect() } else { vec![v] };
            for part in parts {
                let ok = if name == "model" { ModelSpec::parse(part).is_ok() } else { parse_rule(part, CabsConfig::default()).is_ok() };
                assert!(ok, "{name} suggestion {part}");
            }
        }
    }
}

#[test]
fn number_limits_lie_inside_the_engines_domain() {
    let bounds = |name: &str| match key(name).kind {
        Kind::Number { min, max, exclusive_min, integer, .. } => (min.unwrap(), max, exclusive_min, integer),
        k => panic!("{name} is {k:?}"),
    };
    let (lo, hi, open, _) = bounds("lr");
    assert!(
        open && lo == 0.0 && LearningRate::new(lo).is_err() && LearningRate::new(hi.unwrap()).is_ok() && LearningRate::new(1e-30).is_ok()
    );
    let (lo, hi, open, _) = bounds("mu");
    assert!(!open);
    for mu in [lo, hi.unwrap()] {
        assert!(CabsConfig { mu, ..CabsConfig::default() }.validate().is_ok(), "mu {mu}");
    }
    for name in ["mmin", "mmax"] {
        let (lo, hi, _, integer) = bounds(name);
        assert!(integer && lo == 1.0 && hi == Some(MAX_BATCH as f64));
    }
    let c = CabsConfig { m_min: 1, m_max: MAX_BATCH as u32, ..CabsConfig::default() };
    assert!(c.validate().is_ok() && CabsConfig { m_min: 0, ..c.clone() }.validate().is_err());
    assert!(matches!(key("mmin").kind, Kind::Number { not_above: Some("mmax"), .. }));
    let (lo, hi, _, integer) = bounds("seed");
    assert!(integer && lo == 0.0 && hi == Some(u32::MAX as f64));
    let (lo, hi, _, integer) = bounds("chunk");
    assert!(integer && lo == 1.0 && hi == Some(u32::MAX as f64));
    assert!(Settings { chunk: Some(0), ..Settings::default() }.trainer_config().is_err());
    // Widths at the link's limit are models the engine builds.
    assert!(ModelSpec::parse(&format!("mlp:{MAX_WIDTH},1,{MAX_WIDTH},7:tanh")).is_ok());
}

#[test]
fn every_preset_is_a_valid_state() {
    let s = schema();
    assert!(!s.presets.is_empty());
    for p in &s.presets {
        let mut settings = Settings::default();
        for (name, v) in &p.state {
            let k = s.keys.iter().find(|k| k.key == *name).unwrap_or_else(|| panic!("{}: unknown key {name}", p.label));
            assert!(k.url, "{}: {name} is a URL key", p.label);
            if k.engine {
                set(&mut settings, name, v);
            } else if *name == "baselines" {
                let Value::Text(t) = v else { panic!("{}: baselines is text", p.label) };
                for r in t.split(',').filter(|r| !r.is_empty()) {
                    parse_rule(r, settings.cabs_config()).unwrap_or_else(|e| panic!("{}: {r}: {e}", p.label));
                }
            }
        }
        settings.trainer_config().unwrap_or_else(|e| panic!("{}: {e}", p.label));
    }
}

/// A generated file: equal to `want`, or rewritten when CABS_BLESS=1.
fn up_to_date(path: &str, want: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("CABS_BLESS").is_some() {
        std::fs::write(&path, want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{} is stale: regenerate it with CABS_BLESS=1 cargo test --release --test cli settings_schema", path.display());
}

#[test]
fn the_pages_schema_module_is_up_to_date() {
    up_to_date("www/lib/settings-schema.js", &cabs::settings::schema::page_module());
}

fn stats(step: u64, batch: u32, loss: f64, xi: f64, lr: f64, conv: Option<(f64, f64)>) -> StepStats {
    StepStats {
        step,
        examples_seen: step * batch as u64,
        epoch: 0,
        batch_size: batch,
        next_batch_size: batch * 2,
        m_raw: batch as f64 * 2.25,
        loss,
        loss_avg: loss * 1.5,
        xi,
        xi_avg: xi / 3.0,
        grad_norm_sq: 1e-7,
        noise_scale: xi / 1e-7,
        lr,
        batch_accuracy: 0.5,
        sum_sq_norms: 2.5e22,
        conv_xi_exact: conv.map(|c| c.0),
        conv_xi_approx: conv.map(|c| c.1),
        engine: if step.is_multiple_of(2) { "gpu" } else { "cpu" }.into(),
        inner_product_var: None,
    }
}

/// Steps with the awkward numbers: tiny and huge (no exponent), NaN and ∞ (empty cells), an
/// evaluation, conv columns, wall times that round at the third decimal.
fn sample() -> Vec<(StepStats, Option<EvalStats>, f64)> {
    vec![
        (stats(1, 16, std::f64::consts::LN_10, 0.1, 0.5, None), None, 12.3456), // ln 10: 10 classes at the start
        (stats(2, 32, f64::NAN, f64::INFINITY, 0.5, None), Some(EvalStats { step: 2, test_loss: 0.25, test_accuracy: 0.9375 }), 0.0625),
        (stats(3, 8192, 1e-7, -3.5e-8, 3e38, Some((0.125, 0.1))), None, 1234567.0005),
        (stats(9_007_199_254_740_991 / 8192, 8192, 0.1, 0.2, 1e-30, None), None, 0.0),
    ]
}

#[test]
fn the_csv_row_is_the_runners_format() {
    let rows: Vec<String> = sample().iter().map(|(s, e, w)| cabs::record::row(s, e.as_ref(), *w)).collect();
    assert_eq!(
        rows[0],
        "1,16,16,32,36,2.302585092994046,3.453877639491069,0.1,0.03333333333333333,0.0000001,1000000.0000000001,0.5,,,12.346,,,cpu,"
    );
    assert_eq!(rows[1], "2,64,32,64,72,,,,,0.0000001,,0.5,0.25,0.9375,0.062,,,gpu,");
    assert_eq!(rows[2], "3,24576,8192,16384,18432,0.0000001,0.00000015,-0.000000035,-0.000000011666666666666667,0.0000001,-0.35000000000000003,300000000000000000000000000000000000000,,,1234567.001,0.125,0.1,cpu,");
    assert_eq!(rows[3], "1099511627775,9007199254732800,8192,16384,18432,0.1,0.15000000000000002,0.2,0.06666666666666667,0.0000001,2000000.0000000002,0.000000000000000000000000000001,,,0.000,,,cpu,");
    // The golden file of the page test: the page's records of these steps and the runner's rows.
    let records: Vec<serde_json::Value> = sample()
        .iter()
        .map(|(s, e, w)| {
            let mut r = serde_json::to_value(s).unwrap();
            r["wallMs"] = json!(w);
            if let Some(e) = e {
                r["testLoss"] = json!(e.test_loss);
                r["testAccuracy"] = json!(e.test_accuracy);
            }
            r
        })
        .collect();
    let csv = format!("{}\n{}\n", cabs::record::header(), rows.join("\n"));
    let golden = serde_json::to_string_pretty(&json!({ "records": records, "csv": csv })).unwrap() + "\n";
    up_to_date("tests/page/csv-golden.json", &golden);
    // The records read back (as the page's `csvRow` reads them) give the same rows.
    for (r, row) in records.iter().zip(&rows) {
        use cabs::record::Input;
        let rec = cabs::record::Record::read(|f| match &r[f.js] {
            serde_json::Value::Null => Input::Missing,
            serde_json::Value::Number(n) => Input::Number(n.as_f64().unwrap()),
            serde_json::Value::String(t) => Input::Text(t.clone()),
            v => Input::Other(v.to_string()),
        })
        .unwrap();
        assert_eq!(&rec.row(), row);
    }
}

/// The CLI's boundary: each flag's text is parsed once (a number that is not one is refused by
/// the flag's parser) and the settings are checked once, by `Settings::trainer_config`, before
/// any work. Every bad value ends the run with a usage error (exit 2) on one line quoting it.
/// (The link's boundary: tests/page/state.test.mjs; the JS API's: tests/page/wasm-boundary.test.mjs.)
#[test]
fn the_cli_refuses_each_bad_setting_once_quoting_the_value() {
    let cases: &[(&[&str], &str)] = &[
        (&["--lr", "abc"], "'abc'"),
        (&["--lr", "-1"], "'-1'"),
        (&["--lr", "1e39"], "'1e39'"),
        (&["--lr", "1e-40"], "'1e-40'"),
        (&["--m-max", "64.5"], "'64.5'"),
        (&["--m-max", "0"], "m_max = 0"),
        (&["--m-min", "64", "--m-max", "32"], "m_min = 64, m_max = 32"),
        (&["--mu", "1.5"], "1.5"),
        (&["--c", "-2"], "-2"),
        (&["--eps", "-0.25"], "-0.25"),
        (&["--seed", "1.5"], "'1.5'"),
        (&["--rule", "adam"], "'adam'"),
        (&["--rule", "const:16:step:0:0.5"], "'0'"),
        (&["--model", "mlp:x"], "'x'"),
        (&["--backend", "webgl"], "'webgl'"),
        (&["--conv-norms", "approximately"], "'approximately'"),
        (&["--chunk", "0"], "got 0"),
        (&["--data", "imagenet"], "'imagenet'"),
    ];
    for (flags, quoted) in cases {
        let mut args = vec!["train", "--data", "moons", "--steps", "1", "--quiet"];
        args.extend_from_slice(flags);
        let (code, out, err) = crate::common::command::cabs(&args);
        assert_eq!(code, 2, "{flags:?}: exit {code}, {err}");
        assert!(out.is_empty(), "{flags:?}: nothing trained, got {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{flags:?}: one line, got {err}");
        assert!(err.starts_with("cabs: error: ") && err.contains(quoted), "{flags:?}: '{quoted}' not quoted in {err}");
    }
    // The same flags with good values train: each refusal above is its value's doing.
    let good = "train --data moons --steps 1 --quiet --lr 1e-30 --m-min 1 --m-max 1 --mu 0 --c 2 --eps 0.25 --seed 3 --rule cabs \
                --model mlp:4 --backend cpu --conv-norms both --chunk 1";
    let (code, _, err) = crate::common::command::cabs(&good.split_whitespace().collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
}
