//! The step record's schema (src/record.rs) against the code and the copies it describes: every
//! field of a step's result is in the schema and nothing else is, the page's generated copy
//! (www/lib/record-schema.js) and `npm/index.d.ts`'s `StepResult` and `CsvRecord` are up to
//! date. `CABS_BLESS=1 cargo test --release --test cli record_schema` rewrites both.

use cabs::record::{header, Origin, FIELDS};
use cabs::trainer::StepStats;
use std::path::Path;

/// The generated part of a file (the whole file, or what lies between `markers`): equal to
/// `want`, or rewritten when CABS_BLESS=1.
fn up_to_date(path: &str, markers: Option<(&str, &str)>, want: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    let (before, part, after) = match markers {
        None => ("", have.as_str(), ""),
        Some((open, close)) => {
            let no_line = || panic!("{} has no line {open}", path.display());
            let at = have.find(open).unwrap_or_else(no_line);
            let a = at + have[at..].find('\n').unwrap_or_else(no_line) + 1;
            let b = have.find(close).unwrap_or_else(|| panic!("{} has no line {close}", path.display()));
            (&have[..a], &have[a..b], &have[b..])
        }
    };
    if std::env::var_os("CABS_BLESS").is_some() {
        std::fs::write(&path, format!("{before}{want}{after}")).unwrap();
        return;
    }
    assert!(part == want, "{} is stale: regenerate it with CABS_BLESS=1 cargo test --release --test cli record_schema", path.display());
}

#[test]
fn the_pages_record_schema_module_is_up_to_date() {
    up_to_date("www/lib/record-schema.js", None, &cabs::record::page_module());
}

#[test]
fn the_npm_packages_record_types_are_up_to_date() {
    let markers = ("// <record-schema>", "// </record-schema>");
    up_to_date("npm/index.d.ts", Some(markers), &cabs::record::typescript_types());
}

/// A step's result as JavaScript gets it has exactly the schema's step fields: a field added to
/// `StepStats` without its line in the schema (or the other way round) fails here.
#[test]
fn every_field_of_a_steps_result_is_in_the_schema() {
    let stats = StepStats {
        step: 1,
        examples_seen: 16,
        epoch: 0,
        batch_size: 16,
        next_batch_size: 16,
        m_raw: 16.0,
        loss: 1.0,
        loss_avg: 1.0,
        xi: 1.0,
        xi_avg: 1.0,
        grad_norm_sq: 1.0,
        noise_scale: 1.0,
        lr: 0.1,
        batch_accuracy: 0.5,
        sum_sq_norms: 1.0,
        conv_xi_exact: None,
        conv_xi_approx: None,
        engine: "cpu".into(),
        inner_product_var: Some(0.25),
    };
    let json = serde_json::to_value(&stats).unwrap();
    let mut have: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want: Vec<&str> = FIELDS.iter().filter(|f| f.origin == Origin::Step).map(|f| f.js).collect();
    have.sort();
    want.sort();
    assert_eq!(have, want, "StepStats' fields (left) and the schema's step fields (right)");
    // And the CSV's row of that step has one cell per column.
    let row = cabs::record::row(&stats, None, 1.0);
    assert_eq!(row.split(',').count(), header().split(',').count(), "{row}");
    assert!(row.ends_with(",cpu,0.25"), "{row}");
}
