//! The settings schema: every settings key — the page's URL keys (also the attributes of
//! `<cabs-demo>`) and the engine's JavaScript `settings` keys — with its type, default, limits or
//! allowed values, help text, and the page's presets. This table is the one definition: the page
//! reads it from `www/lib/settings-schema.js` (generated from [`schema`] and kept up to date by
//! `tests/cli/settings_schema.rs`, so the page can parse its link before, or without, the wasm
//! engine), and the engine exports it as `settingsSchema()`.
//!
//! Two layers of checks, both defined here in Rust. The schema's limits are the *link's*: what a
//! URL may ask of the browser (widths ≤ [`MAX_WIDTH`], batches ≤ [`MAX_BATCH`], …), checked by the
//! page's URL parser, which interprets this schema and has no table of its own. Then the engine
//! checks the whole settings object once, where it enters
//! ([`Settings::trainer_config`](super::Settings::trainer_config), reached by the CLI's flags and
//! by `Trainer.create` / `checkSettings()` in JavaScript): that is final, e.g. for α in 32-bit
//! floats ([`LearningRate`](super::LearningRate)).

use super::Settings;
use crate::model::{Activation, PRESETS as MODEL_PRESETS};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// Widest hidden layer a link may ask for.
pub const MAX_WIDTH: u64 = 2048;
/// Most hidden layers a link may ask for.
pub const MAX_LAYERS: usize = 4;
/// Largest batch size (m_min, m_max, a constant rule's M) a link may ask for.
pub const MAX_BATCH: u64 = 8192;
/// Most baselines trained next to the main rule.
pub const MAX_BASELINES: usize = 4;
/// Longest link (the hash's text) the page reads; a longer one is refused whole.
pub const MAX_LINK_CHARS: u32 = 2000;

/// The whole schema, as the page and `settingsSchema()` see it (camelCase JSON).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub version: u32,
    pub max_link_chars: u32,
    /// What a number looks like in a link (a JavaScript regular expression).
    pub number_syntax: &'static str,
    /// The words a link may use for true and false.
    pub flag_words: FlagWords,
    pub keys: Vec<Key>,
    /// Presets offered by the page's controls: each a label and a partial state.
    pub presets: Vec<Preset>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FlagWords {
    #[serde(rename = "true")]
    pub yes: [&'static str; 2],
    #[serde(rename = "false")]
    pub no: [&'static str; 2],
}

/// One settings key.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    /// The name: URL key, `<cabs-demo>` attribute and page state key, and, for engine keys, the
    /// key of the engine's JavaScript settings object.
    pub key: &'static str,
    /// A setting of the engine (a field of [`Settings`], camelCase in JavaScript).
    pub engine: bool,
    /// A key of the page's link (and an attribute of `<cabs-demo>`).
    pub url: bool,
    /// Written to the link even at its default (the run's identity).
    pub always: bool,
    /// Takes effect in a running run, without a reset (α); every other key restarts the runs.
    pub live: bool,
    #[serde(flatten)]
    pub kind: Kind,
    /// `null` where absent means "chosen by the engine" (`chunk`).
    pub default: Option<Value>,
    pub help: &'static str,
    /// What a valid value is, in words: the page says "`key='…'` is not {expect}".
    pub expect: String,
    /// The page's control for this key, if it has one (in this order).
    pub control: Option<Control>,
}

/// The type of a key's values and its limits.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Kind {
    /// One of `values`; `labels`, where given, name them for people.
    #[serde(rename_all = "camelCase")]
    Choice {
        values: Vec<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        labels: Option<Vec<&'static str>>,
    },
    /// A number in `[min, max]` (`(min, max]` when `exclusiveMin`); `null` bounds are open.
    #[serde(rename_all = "camelCase")]
    Number {
        min: Option<f64>,
        max: Option<f64>,
        exclusive_min: bool,
        integer: bool,
        /// A key whose value this one may not exceed (m_min ≤ m_max).
        #[serde(skip_serializing_if = "Option::is_none")]
        not_above: Option<&'static str>,
    },
    /// True or false (`1`/`0` or `true`/`false` in a link).
    Flag,
    /// Comma-separated parts, each one of `values`; empty parts are dropped.
    Parts { values: Vec<&'static str> },
    /// Text of a grammar: the whole value matches `pattern` (a JavaScript regular expression,
    /// built from the Rust grammar's constants); in a link, `empty` stands for the empty text.
    #[serde(rename_all = "camelCase")]
    Text {
        pattern: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        empty: Option<&'static str>,
    },
}

/// A default or preset value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Flag(bool),
    Whole(u64),
    Number(f64),
    Text(String),
}

/// How the page shows a key in its settings panel (the input type follows from the kind).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    pub label: &'static str,
    /// The number input's step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
    /// Values offered in the text field's list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<&'static str>,
}

/// A preset: a label and the keys it sets.
#[derive(Clone, Debug)]
pub struct Preset {
    pub label: &'static str,
    pub state: Vec<(&'static str, Value)>,
}

impl Serialize for Preset {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        struct State<'a>(&'a [(&'static str, Value)]);
        impl Serialize for State<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("label", self.label)?;
        m.serialize_entry("state", &State(&self.state))?;
        m.end()
    }
}

/// A regular expression for the whole numbers `lo..=hi` written without leading zeros.
pub fn whole_range(lo: u64, hi: u64) -> String {
    // Split by number of digits, then each same-length span digit by digit.
    fn span(a: &[u8], b: &[u8]) -> Vec<String> {
        let n = a.len();
        if n == 0 {
            return vec![String::new()];
        }
        if a[0] == b[0] {
            return span(&a[1..], &b[1..]).into_iter().map(|r| format!("{}{r}", a[0] as char)).collect();
        }
        let any = |k: usize| {
            if k == 0 {
                String::new()
            } else if k == 1 {
                r"\d".into()
            } else {
                format!(r"\d{{{k}}}")
            }
        };
        let class = |x: u8, y: u8| if x == y { (x as char).to_string() } else { format!("[{}-{}]", x as char, y as char) };
        let (low_full, high_full) = (a[1..].iter().all(|&d| d == b'0'), b[1..].iter().all(|&d| d == b'9'));
        let mut out = Vec::new();
        let first = if low_full { a[0] } else { a[0] + 1 };
        if !low_full {
            out.extend(span(&a[1..], &vec![b'9'; n - 1]).into_iter().map(|r| format!("{}{r}", a[0] as char)));
        }
        let last = if high_full { b[0] } else { b[0] - 1 };
        if first <= last {
            out.push(format!("{}{}", class(first, last), any(n - 1)));
        }
        if !high_full {
            out.extend(span(&vec![b'0'; n - 1], &b[1..]).into_iter().map(|r| format!("{}{r}", b[0] as char)));
        }
        out
    }
    let mut alts = Vec::new();
    for digits in lo.max(1).to_string().len()..=hi.to_string().len() {
        let (from, to) = (10u64.pow(digits as u32 - 1).max(lo), (10u64.pow(digits as u32) - 1).min(hi));
        if from <= to {
            alts.extend(span(from.to_string().as_bytes(), to.to_string().as_bytes()));
        }
    }
    if lo == 0 {
        alts.insert(0, "0".into());
    }
    format!("(?:{})", alts.join("|"))
}

/// A fixed-batch rule `const:M[:step:EVERY:FACTOR|:invtime:K]` with M ≤ [`MAX_BATCH`], EVERY ≥ 1,
/// 0 < FACTOR ≤ 1 and K ≥ 0 (as [`crate::cabs::parse_rule`] requires), decimals as people write them.
fn const_rule_pattern() -> String {
    let factor = r"(?:1(?:\.0{1,8})?|0?\.(?=\d{0,7}[1-9])\d{1,8})";
    let k = r"(?:\d{1,6}(?:\.\d{1,8})?|\.\d{1,8})(?:[eE][-+]?\d{1,2})?";
    format!("const:{}(?::step:{}:{factor}|:invtime:{k})?", whole_range(1, MAX_BATCH), whole_range(1, 9_999_999))
}

/// The adaptive rules beside CABS, as [`crate::rules::parse_rule`] takes them: `norm:THETA`,
/// `inner:THETA`, `gns[:K]` (θ, K > 0), `adadamp:M0`, `grow:M0:EVERY:FACTOR` (M0 ≤ [`MAX_BATCH`],
/// EVERY ≥ 1 examples, FACTOR ≥ 1). Whether M0 lies within [mmin, mmax] the engine checks.
fn adaptive_rule_pattern() -> String {
    // A positive decimal: some digit before any exponent is not 0.
    let pos = r"(?=\d*\.?\d*[1-9])(?:\d{1,6}(?:\.\d{1,8})?|\.\d{1,8})(?:[eE][-+]?\d{1,2})?";
    let at_least_one = r"[1-9]\d{0,5}(?:\.\d{1,8})?";
    let m0 = whole_range(1, MAX_BATCH);
    format!("norm:{pos}|inner:{pos}|gns(?::{pos})?|adadamp:{m0}|grow:{m0}:{}:{at_least_one}", whole_range(1, 9_999_999_999))
}

/// Any rule: `cabs`, a fixed batch, or an adaptive rule.
fn any_rule_pattern() -> String {
    format!("cabs|{}|{}", const_rule_pattern(), adaptive_rule_pattern())
}

/// `logreg`, `mlp:H1[,H2…]` (each optionally `:relu`/`:tanh`), or a named model.
fn model_pattern() -> String {
    let w = whole_range(1, MAX_WIDTH);
    let acts = [Activation::Relu, Activation::Tanh].map(Activation::name).join("|");
    let named: Vec<&str> = MODEL_PRESETS.iter().map(|(n, _)| *n).collect();
    format!("^(?:(?:logreg|mlp:{w}(?:,{w}){{0,{}}})(?::(?:{acts}))?|{})$", MAX_LAYERS - 1, named.join("|"))
}

fn choice(values: &[&'static str]) -> Kind {
    Kind::Choice { values: values.to_vec(), labels: None }
}

fn number(min: f64, max: Option<f64>, exclusive_min: bool) -> Kind {
    Kind::Number { min: Some(min), max, exclusive_min, integer: false, not_above: None }
}

fn whole(min: u64, max: u64) -> Kind {
    Kind::Number { min: Some(min as f64), max: Some(max as f64), exclusive_min: false, integer: true, not_above: None }
}

fn text(s: &str) -> Option<Value> {
    Some(Value::Text(s.into()))
}

/// A key with its kind, default and help; the builder methods below add the rest.
fn key(key: &'static str, kind: Kind, default: Option<Value>, help: &'static str) -> Key {
    Key { key, engine: false, url: false, always: false, live: false, expect: expect(&kind), kind, default, help, control: None }
}

impl Key {
    /// A setting of the engine.
    fn engine(self) -> Key {
        Key { engine: true, ..self }
    }

    /// A key of the link; `always`: written even at its default.
    fn link(self, always: bool) -> Key {
        Key { url: true, always, ..self }
    }

    /// Changes apply to the running runs (no reset).
    fn live(self) -> Key {
        Key { live: true, ..self }
    }

    /// Say what a valid value is in these words instead of the kind's.
    fn expecting(self, expect: impl Into<String>) -> Key {
        Key { expect: expect.into(), ..self }
    }

    fn control(self, label: &'static str, step: Option<&'static str>, suggestions: &[&'static str]) -> Key {
        Key { control: Some(Control { label, step, suggestions: suggestions.to_vec() }), ..self }
    }
}

/// What a value of `kind` is, in words, where the key gives no phrase of its own.
fn expect(kind: &Kind) -> String {
    let n = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    match kind {
        Kind::Choice { values, .. } => format!("one of {}", values.join(", ")),
        Kind::Number { integer: true, min, max, .. } => format!("a whole number {}–{}", n(*min), n(*max)),
        Kind::Number { min, max: None, exclusive_min, .. } => format!("a number {} {}", if *exclusive_min { ">" } else { "≥" }, n(*min)),
        Kind::Number { min, max, exclusive_min: true, .. } => format!("a number > {} and ≤ {}", n(*min), n(*max)),
        Kind::Number { min, max, .. } => format!("a number from {} to {}", n(*min), n(*max)),
        Kind::Flag => "0 or 1".into(),
        Kind::Parts { values } => format!("any of {}, separated by commas", values.join(", ")),
        Kind::Text { .. } => "text of the key's grammar".into(),
    }
}

/// The data sets, backends and conv-norm modes, as their parsers accept them.
pub const DATA: [&str; 4] = ["mnist", "spirals", "moons", "blobs"];
pub const BACKENDS: [&str; 3] = ["auto", "gpu", "cpu"];
pub const CONV_NORMS: [&str; 3] = ["exact", "both", "reference"];
/// Parts of the page that `hide=` can leave out.
pub const HIDEABLE: [&str; 11] = ["header", "controls", "stats", "bar", "boundary", "loss", "accuracy", "batch", "terms", "noise", "notes"];

/// The page's charts, which `show=` may name.
pub const CHARTS: [&str; 5] = ["loss", "accuracy", "batch", "terms", "noise"];

/// The schema. Engine keys take their defaults from [`Settings::default`].
pub fn schema() -> Schema {
    let d = Settings::default();
    let named: Vec<&str> = MODEL_PRESETS.iter().map(|(n, _)| *n).collect();
    let rule_text = format!(
        "cabs, const:M, const:M:step:EVERY:FACTOR, const:M:invtime:K (M 1–{MAX_BATCH}, EVERY ≥ 1, 0 < FACTOR ≤ 1, K ≥ 0), \
         norm:THETA, inner:THETA, gns[:K] (THETA, K > 0), adadamp:M0 or grow:M0:EVERY:FACTOR (M0 within mmin–mmax, \
         EVERY ≥ 1 examples, FACTOR ≥ 1)"
    );
    let (always, optional) = (true, false);
    let keys = vec![
        key("data", choice(&DATA), text(&d.data), "MNIST digits or a 2-D teaching set").engine().link(always).control(
            "Data set",
            None,
            &[],
        ),
        key(
            "model",
            Kind::Text { pattern: model_pattern(), empty: None },
            text(&d.model),
            "logreg, mlp:H1[,H2…][:tanh], or a CNN for images: cnn-small, cnn-mnist, cnn-cifar",
        )
        .engine()
        .link(always)
        .expecting(format!(
            "logreg, mlp:H1[,H2…][:tanh] (widths 1–{MAX_WIDTH}, at most {MAX_LAYERS} layers), or one of {}",
            named.join(", ")
        ))
        .control(
            "Model",
            None,
            &[
                "logreg",
                "mlp:64",
                "mlp:256",
                "mlp:64,32",
                "mlp:16",
                "mlp:16,16:tanh",
                "mlp:32,32:tanh",
                "cnn-small",
                "cnn-mnist",
                "cnn-cifar",
            ],
        ),
        key(
            "rule",
            Kind::Text { pattern: format!("^(?:{})$", any_rule_pattern()), empty: None },
            text(&d.rule),
            "cabs; a fixed batch const:M[:step:EVERY:FACTOR|:invtime:K]; or another adaptive rule: the norm test norm:THETA, \
             the inner-product test inner:THETA, the gradient noise scale gns[:K], adadamp:M0, a growth schedule \
             grow:M0:EVERY:FACTOR (docs/METHOD.md)",
        )
        .engine()
        .link(always)
        .expecting(rule_text.clone())
        .control(
            "Rule",
            None,
            &[
                "cabs",
                "const:16",
                "const:64",
                "const:64:step:200:0.5",
                "const:64:invtime:0.01",
                "norm:0.9",
                "gns",
                "adadamp:16",
                "grow:16:20000:5",
            ],
        ),
        key("lr", number(0.0, Some(100.0), true), Some(Value::Number(d.lr)), "changes apply live, without a reset")
            .engine()
            .link(always)
            .live()
            .control("Learning rate α", Some("0.05"), &[]),
        key(
            "mmin",
            Kind::Number { min: Some(1.0), max: Some(MAX_BATCH as f64), exclusive_min: false, integer: true, not_above: Some("mmax") },
            Some(Value::Whole(d.mmin.into())),
            "smallest batch an adaptive rule may pick",
        )
        .engine()
        .link(always)
        .control("m_min", Some("1"), &[]),
        key("mmax", whole(1, MAX_BATCH), Some(Value::Whole(d.mmax.into())), "largest batch an adaptive rule may pick")
            .engine()
            .link(always)
            .expecting(format!("a whole number 1–{MAX_BATCH}, not below mmin"))
            .control("m_max", Some("1"), &[]),
        key("mu", number(0.0, Some(0.9999), false), Some(Value::Number(d.mu)), "running-average factor of ξ̄ and ℒ̄")
            .engine()
            .link(always)
            .control("μ (averaging)", Some("0.01"), &[]),
        key("seed", whole(0, u32::MAX.into()), Some(Value::Whole(d.seed)), "same seed: same initial weights and data order for every run")
            .engine()
            .link(always)
            .control("Seed", Some("1"), &[]),
        key(
            "baselines",
            Kind::Text {
                pattern: format!("^(?:(?:{0})(?:,(?:{0})){{0,{1}}})?$", any_rule_pattern(), MAX_BASELINES - 1),
                empty: Some("none"),
            },
            text("const:16"),
            "runs trained beside the main rule, same seed and α: fixed batches or other rules, comma-separated",
        )
        .link(always)
        .expecting(format!("up to {MAX_BASELINES} rules separated by commas, or none; each {rule_text}"))
        .control(
            "Baselines",
            None,
            &["const:16", "const:16,const:128", "const:64:step:300:0.5", "norm:0.9", "gns,adadamp:16", "none"],
        ),
        key(
            "backend",
            choice(&BACKENDS),
            text(&d.backend),
            "auto: WebGPU on a hardware GPU; on a software one the faster engine, timed at start; without WebGPU the CPU twin",
        )
        .engine()
        .link(optional)
        .control("Backend", None, &[]),
        key("eval", whole(0, 100_000), Some(Value::Whole(0)), "steps between test evaluations (0 = automatic)")
            .link(optional)
            .expecting("a whole number of steps (0 = automatic)")
            .control("Evaluate every", Some("1"), &[]),
        key(
            "x",
            Kind::Choice { values: vec!["step", "examples", "seconds"], labels: Some(vec!["steps", "examples seen", "seconds"]) },
            text("examples"),
            "the charts' x-axis: steps, examples seen, or seconds (the run's own compute time)",
        )
        .link(optional),
        key("embed", Kind::Flag, Some(Value::Flag(false)), "1: charts and a minimal bar only, filling the frame").link(optional),
        key("hide", Kind::Parts { values: HIDEABLE.to_vec() }, text(""), "parts of the page to leave out").link(optional),
        key(
            "show",
            Kind::Parts { values: CHARTS.to_vec() },
            text(""),
            "the charts a frame narrower than 800 px shows, in this order (at most two; default: loss, batch)",
        )
        .link(optional),
        key("play", Kind::Flag, Some(Value::Flag(false)), "1: start training as soon as the engine is ready (and the demo is seen)")
            .link(optional),
        key(
            "autopause",
            Kind::Flag,
            Some(Value::Flag(true)),
            "0: keep training while the demo cannot be seen; 1: pause then, and create the engine only once seen",
        )
        .link(optional),
        key("c", number(0.0, None, true), Some(Value::Number(d.c)), "multiplier of CABS's batch size m = c·α·ξ̄/ℒ̄").engine(),
        key("eps", number(0.0, None, false), Some(Value::Number(d.eps)), "added to ℒ̄ in the rule's denominator").engine(),
        key("unbiased", Kind::Flag, Some(Value::Flag(d.unbiased)), "use the unbiased ξ·m/(m−1) instead of the reference code's biased ξ")
            .engine(),
        key(
            "biasCorrection",
            Kind::Flag,
            Some(Value::Flag(d.bias_correction)),
            "start both averages at 0 and divide by 1 − μᵗ (Adam-style) instead of ξ̄₀ = 0, ℒ̄₀ = 1",
        )
        .engine(),
        key(
            "convNorms",
            choice(&CONV_NORMS),
            text(&d.conv_norms),
            "per-example norms of convolutions: exact, the reference code's approximation, or both (the CSV's conv_xi columns)",
        )
        .engine(),
        key(
            "chunk",
            whole(1, u32::MAX.into()),
            d.chunk.map(|c| Value::Whole(c.into())),
            "examples per chunk of a step; absent: chosen from the device limits or memory budget",
        )
        .engine(),
    ];
    Schema {
        version: 1,
        max_link_chars: MAX_LINK_CHARS,
        number_syntax: r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$",
        flag_words: FlagWords { yes: ["1", "true"], no: ["0", "false"] },
        keys,
        presets: presets(),
    }
}

fn presets() -> Vec<Preset> {
    let with_rule = |label, rule: &str, data: &str, model: &str, lr: f64, mu: f64, mmax: u64, baselines: &str| Preset {
        label,
        state: vec![
            ("data", Value::Text(data.into())),
            ("model", Value::Text(model.into())),
            ("rule", Value::Text(rule.into())),
            ("mmax", Value::Whole(mmax)),
            ("lr", Value::Number(lr)),
            ("mu", Value::Number(mu)),
            ("baselines", Value::Text(baselines.into())),
        ],
    };
    let p = |label, data: &str, model: &str, lr: f64, mu: f64, mmax: u64, baselines: &str| {
        with_rule(label, "cabs", data, model, lr, mu, mmax, baselines)
    };
    vec![
        p("MNIST · MLP 256 · α 0.5 (default)", "mnist", "mlp:256", 0.5, 0.95, 2048, "const:16"),
        p("MNIST · CABS vs m = 16 and m = 128", "mnist", "mlp:256", 0.5, 0.95, 2048, "const:16,const:128"),
        p("MNIST · α = 0.1 (batch stays small)", "mnist", "mlp:256", 0.1, 0.95, 2048, "const:16"),
        p("MNIST · α = 1: a fixed m = 16 stalls, CABS grows the batch", "mnist", "mlp:256", 1.0, 0.95, 2048, "const:16"),
        p("MNIST · small CNN (cnn-small) · α 0.3", "mnist", "cnn-small", 0.3, 0.95, 2048, "const:16"),
        p("MNIST · the paper's CNN (cnn-mnist) · α 0.1 · needs a GPU", "mnist", "cnn-mnist", 0.1, 0.95, 1024, ""),
        p("Blobs · fast, batch grows in seconds", "blobs", "mlp:16", 4.0, 0.9, 2048, "const:16"),
        p("Moons · tanh MLP", "moons", "mlp:16,16:tanh", 2.0, 0.9, 2048, "const:16"),
        // Spirals learn slowly: at α = 2 the batch first passes 32 after about 1,100 steps (seed 1).
        p(
            "Spirals · tanh MLP 64,64 · α 2 (slow: batch grows after ~1,000 steps)",
            "spirals",
            "mlp:64,64:tanh",
            2.0,
            0.95,
            2048,
            "const:16",
        ),
        // The adaptive rules beside CABS (docs/METHOD.md), at the same α and seed.
        with_rule("MNIST · CABS vs the norm test (θ = 0.9)", "cabs", "mnist", "mlp:256", 0.5, 0.95, 2048, "norm:0.9,const:16"),
        with_rule("MNIST · CABS vs the noise scale (gns) and AdaDamp", "cabs", "mnist", "mlp:256", 0.5, 0.95, 2048, "gns,adadamp:16"),
        // Smith et al. 2018: multiplying the batch by 5 every 20,000 examples instead of α by
        // 1/5 every 1,250 steps of 16 (the same 20,000 examples).
        with_rule(
            "MNIST · Don't decay, grow: ×5 batch vs α/5 every 20,000 examples",
            "grow:16:20000:5",
            "mnist",
            "mlp:256",
            0.5,
            0.95,
            2048,
            "const:16:step:1250:0.2,const:16",
        ),
    ]
}

/// The page's copy of the schema: an ES module (`export default {…}`), so that the page and its
/// URL parser read it synchronously, without the wasm engine.
#[cfg(not(target_arch = "wasm32"))]
pub fn page_module() -> String {
    let json = serde_json::to_string_pretty(&schema()).expect("the schema is plain data");
    format!(
        "// Generated from src/settings/schema.rs (the settings schema) — do not edit. Regenerate with\n\
         // CABS_BLESS=1 cargo test --release --test cli settings_schema; that test fails while this file is stale.\n\
         export default {json};\n"
    )
}

#[cfg(test)]
mod tests {
    use super::whole_range;

    #[test]
    fn whole_ranges() {
        assert_eq!(whole_range(1, 9), "(?:[1-9])");
        assert_eq!(whole_range(1, 2048), r"(?:[1-9]|[1-9]\d|[1-9]\d{2}|1\d{3}|20[0-3]\d|204[0-8])");
        assert_eq!(whole_range(0, 10), r"(?:0|[1-9]|10)");
        assert_eq!(whole_range(1, 8192), r"(?:[1-9]|[1-9]\d|[1-9]\d{2}|[1-7]\d{3}|80\d{2}|81[0-8]\d|819[0-2])");
    }
}
