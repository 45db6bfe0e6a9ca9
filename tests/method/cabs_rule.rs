//! The batch-size rule's exact properties (docs/METHOD.md, "The rule" and "What the tests check").
#![cfg(not(target_arch = "wasm32"))]

use cabs::cabs::{round_and_clip, CabsConfig, CabsState};

#[test]
fn rounds_half_to_even_and_clips() {
    assert_eq!(round_and_clip(16.5, 16, 2048), 16);
    assert_eq!(round_and_clip(17.5, 16, 2048), 18);
    assert_eq!(round_and_clip(3.2, 16, 2048), 16);
    assert_eq!(round_and_clip(5000.0, 16, 2048), 2048);
    assert_eq!(round_and_clip(f64::NAN, 16, 2048), 16);
    assert_eq!(round_and_clip(-4.0, 16, 2048), 16);
}

#[test]
fn warm_up_follows_the_closed_form() {
    let (alpha, xi, loss, mu): (f64, f64, f64, f64) = (0.1, 30.0, 0.7, 0.95);
    let mut s = CabsState::new(CabsConfig::default());
    for t in 1..=200 {
        let d = s.update(loss, xi, alpha);
        let mt = mu.powi(t);
        let want = alpha * (1.0 - mt) * xi / (mt + (1.0 - mt) * loss);
        assert!((d.m_raw - want).abs() <= 1e-9 * want.abs().max(1.0), "t = {t}: {} vs {want}", d.m_raw);
    }
}

fn run(cfg: CabsConfig, alpha: f64, series: &[(f64, f64)]) -> Vec<f64> {
    let mut s = CabsState::new(cfg);
    series.iter().map(|&(l, x)| s.update(l, x, alpha).m_raw).collect()
}

fn series() -> Vec<(f64, f64)> {
    (0..50).map(|t| (2.3 / (1.0 + 0.1 * t as f64), 5.0 + (t as f64 * 0.7).sin())).collect()
}

#[test]
fn raw_size_is_linear_in_alpha() {
    let a = run(CabsConfig::default(), 0.1, &series());
    let b = run(CabsConfig::default(), 0.3, &series());
    for (x, y) in a.iter().zip(&b) {
        assert!((y - 3.0 * x).abs() <= 1e-12 * y.abs().max(1.0));
    }
}

#[test]
fn scaling_the_loss_scales_the_raw_size() {
    // With ξ̄₀ = 0 and ℒ̄₀ = 1 the start value breaks exact scaling; with bias correction (both
    // averages start at 0) scaling loss and gradients by k scales ξ by k² and the size by k.
    let cfg = CabsConfig { bias_correction: true, ..Default::default() };
    let k = 4.0;
    let scaled: Vec<(f64, f64)> = series().iter().map(|&(l, x)| (k * l, k * k * x)).collect();
    let a = run(cfg.clone(), 0.2, &series());
    let b = run(cfg, 0.2, &scaled);
    for (x, y) in a.iter().zip(&b) {
        assert!((y - k * x).abs() <= 1e-9 * y.abs().max(1.0), "{y} vs {}", k * x);
    }
}

#[test]
fn cockpit_parity_without_averaging() {
    // μ = 0: m_raw = α(Σ‖g_i‖² − m‖ḡ‖²)/(m ℓ_B).
    let cfg = CabsConfig { mu: 0.0, m_min: 1, m_max: u32::MAX, ..Default::default() };
    let mut s = CabsState::new(cfg);
    let (alpha, m, sum_sq, mean_sq, loss) = (0.25, 10u32, 42.0, 1.5, 0.8);
    let xi = cabs::cabs::xi_from_sums(sum_sq, mean_sq, m, false);
    let d = s.update(loss, xi, alpha);
    let want = alpha * (sum_sq - m as f64 * mean_sq) / (m as f64 * loss);
    assert!((d.m_raw - want).abs() < 1e-12);
}

#[test]
fn stays_at_m_min_early_and_grows_as_the_loss_falls() {
    let mut s = CabsState::new(CabsConfig::default());
    let first = s.update(2.3, 20.0, 0.5);
    assert_eq!(first.m_next, 16);
    let mut last = first;
    for t in 0..400 {
        last = s.update(2.3 * (-(t as f64) / 100.0).exp(), 20.0, 0.5);
    }
    assert!(last.m_next > 100, "{last:?}");
    assert!(last.m_next <= 2048);
}

#[test]
fn rejects_impossible_settings() {
    for bad in [
        CabsConfig { mu: 1.0, ..Default::default() },
        CabsConfig { m_min: 0, ..Default::default() },
        CabsConfig { m_min: 64, m_max: 32, ..Default::default() },
        CabsConfig { c: -1.0, ..Default::default() },
        CabsConfig { eps: f64::NAN, ..Default::default() },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}

#[test]
fn rule_strings_are_refused_as_written() {
    use cabs::cabs::{parse_rule, LrSchedule, Rule};
    // Non-integers where integers are meant are refused, never cut; the message quotes the value.
    for (rule, needle) in [
        ("const:16:step:2.7:0.5", "'2.7'"),
        ("const:16:step:-5:0.5", "'-5'"),
        ("const:16:step:0:0.5", "'0'"),
        ("const:16:step:1e3:0.5", "'1e3'"),
        ("const:-16", "'-16'"),
        ("const:16.0", "'16.0'"),
        ("const:16:step:3:nan", "NaN"),
        ("const:16:step:3:1.5", "1.5"),
        ("const:16:invtime:-1", "-1"),
    ] {
        let e = parse_rule(rule, CabsConfig::default()).unwrap_err().to_string();
        assert!(e.contains(needle), "{rule}: {e}");
    }
    assert_eq!(
        parse_rule("const:16:step:3:0.5", CabsConfig::default()).unwrap(),
        Rule::Constant { m: 16, schedule: LrSchedule::Step { every: 3, factor: 0.5 } }
    );
}
