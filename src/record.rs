//! The step record, defined once: every field a step reports, with its CSV column name, its
//! camelCase name in JavaScript, its type (number, count or text), its unit and what it means.
//!
//! Everything that lists the record's fields is made from [`FIELDS`]: the CSV header and row of
//! the native runner (`cabs train --csv`) and of the page's export (the wasm's `csvHeader()` and
//! `csvRow(record)`, so both write the same bytes), the page's store (the generated
//! `www/lib/record-schema.js`, [`page_module`]) and `npm/index.d.ts`'s `StepResult` and
//! `CsvRecord` ([`typescript_types`]); a test fails while either copy is stale.
//!
//! Adding a column is one line in [`FIELDS`] (and the [`StepStats`] field it reads). Columns are
//! appended: the existing ones keep their names and places, so old CSV files still read.
//!
//! Does not own: how a step is computed ([`crate::trainer`]), or the files a command writes
//! around its rows (the reproduction's run files append the columns of [`REPRODUCE_EXTRA`]).

use crate::trainer::{EvalStats, StepStats};
use serde::Serialize;

/// The type of a field's values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// A float.
    Number,
    /// A whole number (exact in f64 below 2⁵³).
    Count,
    /// One of a few words (the page stores them as they are, the CSV writes them bare).
    Text { values: &'static [&'static str] },
}

/// Where a field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Origin {
    /// `Trainer::step()`'s result ([`StepStats`], JavaScript's `StepResult`).
    Step,
    /// `Trainer::evaluate()`, on evaluated steps only.
    Eval,
    /// The runner that drives the trainer (the CLI, the page's worker).
    Runner,
}

/// One value of a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num(f64),
    Text(String),
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Num(v)
    }
}

/// What a step had to give: the step's statistics, its evaluation if any, and the runner's
/// wall time.
pub struct Source<'a> {
    pub stats: &'a StepStats,
    pub eval: Option<&'a EvalStats>,
    pub wall_ms: f64,
}

/// One field of the step record.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    /// The CSV column (snake_case).
    pub name: &'static str,
    /// The name in JavaScript records (camelCase of `name`).
    pub js: &'static str,
    pub kind: Kind,
    /// "" for a pure number.
    pub unit: &'static str,
    pub meaning: &'static str,
    pub origin: Origin,
    /// A column of the CSV (the others are kept by the page and its JSON export only).
    pub column: bool,
    /// Fixed decimals in the CSV instead of the shortest round-trip digits.
    pub decimals: Option<usize>,
    /// `null` in a step's result unless asked for (the conv-ξ columns without `--conv-norms both`).
    pub nullable: bool,
    /// The value in a step of the native runner (None: an empty cell).
    #[serde(skip)]
    pub get: fn(&Source) -> Option<Value>,
}

/// A CSV column.
const fn col(name: &'static str, js: &'static str, kind: Kind, unit: &'static str, origin: Origin, meaning: &'static str) -> Field {
    Field { name, js, kind, unit, meaning, origin, column: true, decimals: None, nullable: false, get: |_| None }
}

impl Field {
    const fn get(self, get: fn(&Source) -> Option<Value>) -> Field {
        Field { get, ..self }
    }
    /// Kept by the page and its JSON export, not written to the CSV.
    const fn no_column(self) -> Field {
        Field { column: false, ..self }
    }
    const fn decimals(self, d: usize) -> Field {
        Field { decimals: Some(d), ..self }
    }
    const fn nullable(self) -> Field {
        Field { nullable: true, ..self }
    }
}

use Kind::{Count, Number};
use Origin::{Eval, Runner, Step};

const ENGINES: Kind = Kind::Text { values: &["cpu", "gpu"] };

fn n(v: f64) -> Option<Value> {
    Some(Value::Num(v))
}

/// The step record, in CSV order (the non-columns stand where [`StepStats`] has them). New
/// fields go at the end.
#[rustfmt::skip]
pub const FIELDS: &[Field] = &[
    col("step", "step", Count, "", Step, "1-based index of this step").get(|s| n(s.stats.step as f64)),
    col("examples_seen", "examplesSeen", Count, "examples", Step, "training examples processed so far, this step included").get(|s| n(s.stats.examples_seen as f64)),
    col("epoch", "epoch", Count, "", Step, "passes over the training set completed before this step's batch").get(|s| n(s.stats.epoch as f64)).no_column(),
    col("batch_size", "batchSize", Count, "examples", Step, "size of this step's batch").get(|s| n(s.stats.batch_size.into())),
    col("next_batch_size", "nextBatchSize", Count, "examples", Step, "size the rule chose for the next batch").get(|s| n(s.stats.next_batch_size.into())),
    col("m_raw", "mRaw", Number, "examples", Step, "the rule's size before rounding and clipping (constant rules: the constant)").get(|s| n(s.stats.m_raw)),
    col("loss", "loss", Number, "nats", Step, "mean cross-entropy of this batch at the pre-update weights").get(|s| n(s.stats.loss)),
    col("loss_avg", "lossAvg", Number, "nats", Step, "running average of the loss used by the rule").get(|s| n(s.stats.loss_avg)),
    col("xi", "xi", Number, "", Step, "ξ, the gradient variance (trace of the per-example gradients' covariance) of this batch").get(|s| n(s.stats.xi)),
    col("xi_avg", "xiAvg", Number, "", Step, "running average of ξ used by the rule").get(|s| n(s.stats.xi_avg)),
    col("grad_norm_sq", "gradNormSq", Number, "", Step, "‖ḡ‖², the squared norm of the batch's mean gradient").get(|s| n(s.stats.grad_norm_sq)),
    col("noise_scale", "noiseScale", Number, "examples", Step, "gradient noise scale B_simple = ξ / ‖ḡ‖²").get(|s| n(s.stats.noise_scale)),
    col("lr", "lr", Number, "", Step, "α used for this step's update").get(|s| n(s.stats.lr)),
    col("batch_accuracy", "batchAccuracy", Number, "", Step, "fraction of this batch classified correctly before the update").get(|s| n(s.stats.batch_accuracy)).no_column(),
    col("sum_sq_norms", "sumSqNorms", Number, "", Step, "Σᵢ ‖gᵢ‖² over the batch's per-example gradients").get(|s| n(s.stats.sum_sq_norms)).no_column(),
    col("test_loss", "testLoss", Number, "nats", Eval, "mean cross-entropy on the test set after this step (evaluated steps only)").get(|s| n(s.eval?.test_loss)),
    col("test_accuracy", "testAccuracy", Number, "", Eval, "fraction of the test set classified correctly after this step (evaluated steps only)").get(|s| n(s.eval?.test_accuracy)),
    col("wall_ms", "wallMs", Number, "ms", Runner, "the run's time from its start to the end of this step").get(|s| n(s.wall_ms)).decimals(3),
    col("conv_xi_exact", "convXiExact", Number, "", Step, "the convolution tensors' share of ξ, exact (only with --conv-norms both)").get(|s| s.stats.conv_xi_exact.map(Value::Num)).nullable(),
    col("conv_xi_approx", "convXiApprox", Number, "", Step, "the same share by the reference code's approximation (only with --conv-norms both)").get(|s| s.stats.conv_xi_approx.map(Value::Num)).nullable(),
    col("engine", "engine", ENGINES, "", Step, "the engine that ran this step: cpu or gpu (a run can move between them)").get(|s| Some(Value::Text(s.stats.engine.clone()))),
    col("inner_product_var", "innerProductVar", Number, "", Step, "Var_i(g_iᵀḡ): the sample variance over the batch of the per-example inner products with the batch's mean gradient (only for rules that read it: inner:THETA)").get(|s| s.stats.inner_product_var.map(Value::Num)).nullable(),
];

/// The reproduction's time spent training, excluding evaluations.
pub const TRAIN_MS: Field =
    col("train_ms", "trainMs", Number, "ms", Runner, "the run's training time up to this step, evaluations excluded").decimals(3);

/// Columns the reproduction's run files append to every row (`cabs reproduce`, `runs/*.csv`).
pub const REPRODUCE_EXTRA: [&Field; 1] = [&TRAIN_MS];

/// The CSV columns, in order.
pub fn columns() -> impl Iterator<Item = &'static Field> {
    FIELDS.iter().filter(|f| f.column)
}

/// The CSV header (no line end).
pub fn header() -> String {
    header_with(&[])
}

/// The CSV header followed by the `extra` columns.
pub fn header_with(extra: &[&Field]) -> String {
    columns().map(|f| f.name).chain(extra.iter().map(|f| f.name)).collect::<Vec<_>>().join(",")
}

/// A value read from a caller's record (a JavaScript object or JSON), before it is checked.
pub enum Input {
    Missing,
    Number(f64),
    Text(String),
    /// Anything else, described for the error message.
    Other(String),
}

impl Field {
    /// The cell of `v`: shortest round-trip digits and never an exponent (Rust's `{}` for f64),
    /// or `decimals` fixed ones (rounded half to even, as Rust rounds); empty when missing or
    /// not finite.
    pub fn cell(&self, v: Option<&Value>) -> String {
        match (v, self.decimals) {
            (Some(Value::Num(x)), Some(d)) if x.is_finite() => format!("{x:.d$}"),
            (Some(Value::Num(x)), None) if x.is_finite() => format!("{x}"),
            (Some(Value::Text(t)), _) => t.clone(),
            _ => String::new(),
        }
    }

    /// Checks a caller's value against the field's type: a number for numbers and counts, one
    /// of the listed words for text; missing (and `null`, for the caller to map) is an empty cell.
    /// The error quotes the value: `record.engine must be one of "cpu", "gpu", got the string "tpu"`.
    pub fn accept(&self, v: Input) -> Result<Option<Value>, String> {
        let js = self.js;
        match (self.kind, v) {
            (_, Input::Missing) => Ok(None),
            (Number | Count, Input::Number(x)) => Ok(Some(Value::Num(x))),
            (Kind::Text { values }, Input::Text(t)) if values.contains(&t.as_str()) => Ok(Some(Value::Text(t))),
            (Kind::Text { values }, v) => {
                let got = match v {
                    Input::Number(x) => format!("number {x}"),
                    Input::Text(t) => format!("the string {t:?}"),
                    Input::Other(d) => d,
                    Input::Missing => unreachable!("handled above"),
                };
                let words: Vec<String> = values.iter().map(|w| format!("{w:?}")).collect();
                Err(format!("record.{js} must be one of {}, got {got}", words.join(", ")))
            }
            (_, Input::Text(t)) => Err(format!("record.{js} must be a number, got the string {t:?}")),
            (_, Input::Other(d)) => Err(format!("record.{js} must be a number, got {d}")),
        }
    }
}

/// One step's values, one per entry of [`FIELDS`] (missing ones empty).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    values: Vec<Option<Value>>,
}

impl Record {
    /// The record of one step of the native runner.
    pub fn new(stats: &StepStats, eval: Option<&EvalStats>, wall_ms: f64) -> Record {
        let s = Source { stats, eval, wall_ms };
        Record { values: FIELDS.iter().map(|f| (f.get)(&s)).collect() }
    }

    /// A record from a caller's values, read field by field (`read` gets each field of
    /// [`FIELDS`] and returns what the caller has for it); the first value of the wrong type
    /// is the error.
    pub fn read(mut read: impl FnMut(&Field) -> Input) -> Result<Record, String> {
        Ok(Record { values: FIELDS.iter().map(|f| f.accept(read(f))).collect::<Result<_, _>>()? })
    }

    /// The value of the field named `js` in JavaScript.
    pub fn get(&self, js: &str) -> Option<&Value> {
        FIELDS.iter().position(|f| f.js == js).and_then(|i| self.values.get(i)?.as_ref())
    }

    /// The CSV row under [`header`] (no line end).
    pub fn row(&self) -> String {
        self.row_with(&[])
    }

    /// The CSV row followed by the cells of extra columns (under [`header_with`]).
    pub fn row_with(&self, extra: &[(&Field, Option<Value>)]) -> String {
        let cells = FIELDS.iter().zip(&self.values).filter(|(f, _)| f.column).map(|(f, v)| f.cell(v.as_ref()));
        cells.chain(extra.iter().map(|(f, v)| f.cell(v.as_ref()))).collect::<Vec<_>>().join(",")
    }
}

/// One CSV row of a native step (see [`Record::row`]).
pub fn row(stats: &StepStats, eval: Option<&EvalStats>, wall_ms: f64) -> String {
    Record::new(stats, eval, wall_ms).row()
}

/// The page's copy of the schema (`www/lib/record-schema.js`).
pub fn page_module() -> String {
    #[derive(Serialize)]
    struct Schema {
        fields: &'static [Field],
        #[serde(rename = "reproduceExtra")]
        reproduce_extra: [&'static Field; 1],
    }
    let json =
        serde_json::to_string_pretty(&Schema { fields: FIELDS, reproduce_extra: REPRODUCE_EXTRA }).expect("the schema is plain data");
    format!(
        "// Generated from src/record.rs (the step record's schema) — do not edit. Regenerate with\n\
         // CABS_BLESS=1 cargo test --release --test cli record_schema; that test fails while this file is stale.\n\
         export default {json};\n"
    )
}

/// The TypeScript of the step record, as `npm/index.d.ts` has it between its
/// `record-schema` markers: `StepResult` (the fields from the step) and `CsvRecord` (the CSV
/// columns, each optional).
pub fn typescript_types() -> String {
    let ts = |f: &Field| match f.kind {
        Kind::Text { values } => values.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" | "),
        _ => "number".into(),
    };
    let doc = |f: &Field| {
        let unit = if f.unit.is_empty() { String::new() } else { format!(", in {}", f.unit) };
        format!("  /** {}{unit}. */\n", upper_first(f.meaning))
    };
    let mut s = String::from(
        "/** One step's statistics, resolved by `Trainer.step()` (generated from src/record.rs). */\nexport interface StepResult {\n",
    );
    for f in FIELDS.iter().filter(|f| f.origin == Origin::Step) {
        let null = if f.nullable { " | null" } else { "" };
        s += &format!("{}  {}: {}{null};\n", doc(f), f.js, ts(f));
    }
    s += "}\n/** A step record for `csvRow`: a step's result plus the evaluation and wall time; any field may be missing or null. */\nexport interface CsvRecord {\n";
    for f in columns() {
        s += &format!("{}  {}?: {} | null;\n", doc(f), f.js, ts(f));
    }
    s + "}\n"
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camel(snake: &str) -> String {
        snake.split('_').enumerate().map(|(i, w)| if i == 0 { w.to_string() } else { w[..1].to_uppercase() + &w[1..] }).collect()
    }

    #[test]
    fn javascript_names_are_the_columns_in_camel_case_and_unique() {
        for f in FIELDS.iter().chain(REPRODUCE_EXTRA) {
            assert_eq!(f.js, camel(f.name), "{}", f.name);
        }
        let mut names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FIELDS.len(), "a field name is used twice");
    }

    #[test]
    fn the_first_seventeen_columns_keep_their_names_and_order() {
        let old = "step,examples_seen,batch_size,next_batch_size,m_raw,loss,loss_avg,xi,xi_avg,grad_norm_sq,noise_scale,lr,test_loss,test_accuracy,wall_ms,conv_xi_exact,conv_xi_approx";
        assert!(header().starts_with(&format!("{old},")), "{}", header());
        assert_eq!(header_with(&REPRODUCE_EXTRA), format!("{},train_ms", header()));
    }

    fn record(set: &[(&str, Input)]) -> Result<Record, String> {
        Record::read(|f| {
            set.iter().find(|(k, _)| *k == f.js).map_or(Input::Missing, |(_, v)| match v {
                Input::Number(x) => Input::Number(*x),
                Input::Text(t) => Input::Text(t.clone()),
                Input::Other(d) => Input::Other(d.clone()),
                Input::Missing => Input::Missing,
            })
        })
    }

    #[test]
    fn numbers_as_rust_displays_them_and_empty_when_missing() {
        use Input::Number as N;
        let r = record(&[
            ("step", N(3.0)),
            ("loss", N(1e-7)),
            ("gradNormSq", N(2.5e22)),
            ("noiseScale", N(f64::NAN)),
            ("wallMs", N(0.0625)), // three decimals, ties to even as Rust rounds (JS toFixed gives 0.063)
            ("engine", Input::Text("gpu".into())),
        ])
        .unwrap();
        assert_eq!(r.row(), "3,,,,,0.0000001,,,,25000000000000000000000,,,,,0.062,,,gpu,");
        assert_eq!(r.row_with(&[(&TRAIN_MS, Some(Value::Num(1.23456)))]), format!("{},1.235", r.row()));
        assert_eq!(r.get("engine"), Some(&Value::Text("gpu".into())));
    }

    #[test]
    fn values_of_the_wrong_type_are_refused_quoting_them() {
        assert_eq!(
            record(&[("engine", Input::Text("tpu".into()))]).unwrap_err(),
            r#"record.engine must be one of "cpu", "gpu", got the string "tpu""#
        );
        assert_eq!(record(&[("engine", Input::Number(1.0))]).unwrap_err(), r#"record.engine must be one of "cpu", "gpu", got number 1"#);
        assert_eq!(record(&[("loss", Input::Text("0.5".into()))]).unwrap_err(), r#"record.loss must be a number, got the string "0.5""#);
        assert_eq!(record(&[("step", Input::Other("an object".into()))]).unwrap_err(), "record.step must be a number, got an object");
    }
}
