//! What a reproduction trains: the runs (rule, α) with their labels and `--rule` strings, the
//! decay constant, and the fixed batch sizes of the sensitivity study.

/// What a run trains with.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Cabs,
    Fixed {
        m: u32,
    },
    /// Fixed m with α/(1 + k·t).
    Decay {
        m: u32,
        k: f64,
    },
    /// Any other `--rule` string, from `--rules` (e.g. `norm:0.1`, `const:64:step:1000:0.5`).
    Rule(String),
}

impl Kind {
    /// The run kind of a `--rules` entry: `cabs` and `const:M` are the runs the other parts
    /// train (so a run both need is trained once), anything else a rule of its own.
    pub fn of_rule(rule: &str) -> Kind {
        match rule.strip_prefix("const:").map(str::parse::<u32>) {
            _ if rule == "cabs" => Kind::Cabs,
            Some(Ok(m)) => Kind::Fixed { m },
            _ => Kind::Rule(rule.to_string()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub kind: Kind,
    pub alpha: f64,
    /// Initial weights and data order (`--seed`, then one more per `--seeds`).
    pub seed: u64,
}

/// The seed of labels without a seed suffix (the default `--seed`).
pub const PLAIN_SEED: u64 = 1;

impl RunSpec {
    /// File name and cache key: `cabs-a0.1`, `const-m64-a0.2`, `const-m64-a0.2-invtime`, and
    /// `-s2`, `-s3` … after it for seeds other than 1; short whatever α is ([`short_number`]).
    pub fn label(&self) -> String {
        let a = short_number(self.alpha);
        let seed = if self.seed == PLAIN_SEED { String::new() } else { format!("-s{}", self.seed) };
        match self.kind {
            Kind::Cabs => format!("cabs-a{a}{seed}"),
            Kind::Fixed { m } => format!("const-m{m}-a{a}{seed}"),
            Kind::Decay { m, .. } => format!("const-m{m}-a{a}-invtime{seed}"),
            Kind::Rule(ref r) => format!("rule-{}-a{a}{seed}", file_safe(r)),
        }
    }

    /// The `--rule` string.
    pub fn rule(&self) -> String {
        match self.kind {
            Kind::Cabs => "cabs".into(),
            Kind::Fixed { m } => format!("const:{m}"),
            Kind::Decay { m, k } => format!("const:{m}:invtime:{k}"),
            Kind::Rule(ref r) => r.clone(),
        }
    }

    /// Name in figure legends.
    pub fn legend(&self) -> String {
        let a = short_number(self.alpha);
        match self.kind {
            Kind::Cabs => format!("CABS α={a}"),
            Kind::Fixed { m } => format!("m={m} α={a}"),
            Kind::Decay { m, .. } => format!("m={m} α={a}, inv-time decay"),
            Kind::Rule(ref r) => format!("{r} α={a}"),
        }
    }

    pub fn batch(&self) -> Option<u32> {
        match self.kind {
            Kind::Cabs | Kind::Rule(_) => None,
            Kind::Fixed { m } | Kind::Decay { m, .. } => Some(m),
        }
    }
}

/// A rule string as part of a file name: letters, digits and `.` kept, `:` as `-`, anything
/// else `_` (`norm:0.1` → `norm-0.1`), so that labels stay one plain path component.
pub fn file_safe(rule: &str) -> String {
    rule.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else if c == ':' {
                '-'
            } else {
                '_'
            }
        })
        .collect()
}

/// The k of `const:M:invtime:K` that halves α at half the budget: α/(1 + k·t) = α/2 at
/// t = budget/(2m) steps.
/// Rounded to 6 significant digits, so that the rule string stays readable.
pub fn invtime_k(m: u32, budget: u64) -> f64 {
    let k = 2.0 * m as f64 / budget as f64;
    format!("{k:.5e}").parse().unwrap_or(k)
}

/// The k of a decay run of batch m under `budget`: by examples, [`invtime_k`]; by N steps, 2/N
/// (α halves at half the steps whatever m is), rounded the same way.
pub fn decay_k(m: u32, budget: crate::session::Budget) -> f64 {
    match budget {
        crate::session::Budget::Examples(b) => invtime_k(m, b),
        crate::session::Budget::Steps(n) => {
            let k = 2.0 / n.max(1) as f64;
            format!("{k:.5e}").parse().unwrap_or(k)
        }
    }
}

/// The fixed batch sizes of the sensitivity study: the smallest, middle and largest of
/// `--batches` (16, 64, 256 by default).
pub fn sensitivity_batches(batches: &[u32]) -> Vec<u32> {
    let mut v = Vec::new();
    for m in [batches.first(), batches.get(batches.len() / 2), batches.last()].into_iter().flatten() {
        if !v.contains(m) {
            v.push(*m);
        }
    }
    v
}

/// A number for labels and file names: as Rust prints it when that is at most 10 characters
/// (0.1, 0.05, 1000), else in exponent form when that is (1e308, 2.5e-9); else 4 significant
/// digits and 4 hex digits of a hash of the exact value, so that two α that differ only far
/// down still get different labels (and file names never grow with the value).
pub fn short_number(x: f64) -> String {
    let plain = format!("{x}");
    if plain.len() <= 10 {
        return plain;
    }
    let exp = format!("{x:e}");
    if exp.len() <= 10 {
        return exp;
    }
    // FNV-1a over the bits: stable across runs and platforms.
    let h = x.to_bits().to_le_bytes().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    format!("{x:.3e}~{:04x}", h & 0xffff)
}

/// The seeds of `--seed first --seeds n`: first, first+1, …, first+n−1, all distinct. A range
/// that would pass the largest seed is refused, quoting it (wrapping or saturating would train
/// one seed several times and report statistics over copies).
pub fn seed_range(first: u64, n: u64) -> Result<Vec<u64>, String> {
    if n == 0 {
        return Err("--seeds 0: the runs would do nothing (give at least 1)".into());
    }
    let last = first.checked_add(n - 1).ok_or_else(|| {
        format!("--seed {first} --seeds {n}: the seeds would run past {}, the largest seed (lower --seed or --seeds)", u64::MAX)
    })?;
    Ok((first..=last).collect())
}

/// `specs` without repeats (by label), in order of first appearance: one hash-set lookup per
/// spec, so planning grows linearly with the runs (a pairwise search took minutes at 16,000
/// seeds, and ran even with `--jobs 1`).
pub fn distinct(specs: &[RunSpec]) -> Vec<RunSpec> {
    let mut seen = std::collections::HashSet::with_capacity(specs.len());
    specs.iter().filter(|s| seen.insert(s.label())).cloned().collect()
}

/// The runs that do not depend on other runs' results (CABS, the tuning grid, the sensitivity
/// study), once each, in the order they are trained: every rule and α once per seed. `parts` has
/// `fixed` set when `decay` needs the grid. Linear in the number of runs (see [`distinct`]).
pub fn independent_runs(parts: &super::options::Parts, o: &super::options::Options, seeds: &[u64]) -> Vec<RunSpec> {
    let mut v = Vec::new();
    let mut add = |kind: Kind, alpha: f64| v.extend(seeds.iter().map(|&seed| RunSpec { kind: kind.clone(), alpha, seed }));
    if parts.cabs {
        add(Kind::Cabs, o.cabs_alpha);
    }
    if parts.fixed {
        for &m in &o.batches {
            for &alpha in &o.alphas {
                add(Kind::Fixed { m }, alpha);
            }
        }
    }
    if parts.sensitivity {
        for &alpha in &o.sensitivity {
            add(Kind::Cabs, alpha);
            for m in sensitivity_batches(&o.batches) {
                add(Kind::Fixed { m }, alpha);
            }
        }
    }
    if parts.rules {
        for r in &o.rules {
            for &alpha in &o.alphas {
                add(Kind::of_rule(r), alpha);
            }
        }
    }
    distinct(&v)
}
