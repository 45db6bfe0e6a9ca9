//! Parsing of every rule (including every refusal) and the runner's step-to-step arithmetic.

use super::*;

fn parse(s: &str) -> Result<Rule> {
    parse_rule(s, CabsConfig::default())
}

#[test]
fn parse_rules() {
    assert_eq!(parse("const:64").unwrap().label(), "const:64");
    assert!(matches!(parse("const:8:step:100:0.5").unwrap(), Rule::Constant { m: 8, schedule: LrSchedule::Step { every: 100, .. } }));
    assert!(parse("const:x").is_err());
    assert!(parse("adam").is_err());
    assert!(parse("const:0").is_err());
}

#[test]
fn the_adaptive_rules_parse_with_the_runs_bounds() {
    let c = CabsConfig { m_min: 8, m_max: 512, ..CabsConfig::default() };
    assert_eq!(parse_rule("norm:0.5", c.clone()).unwrap(), Rule::Norm(NormTest { theta: 0.5, m_min: 8, m_max: 512 }));
    assert_eq!(parse_rule("inner:0.9", c.clone()).unwrap(), Rule::Inner(InnerTest { theta: 0.9, m_min: 8, m_max: 512 }));
    assert_eq!(parse_rule("gns", c.clone()).unwrap(), Rule::Gns(Gns { k: 1.0, m_min: 8, m_max: 512 }));
    assert_eq!(parse_rule("gns:0.25", c.clone()).unwrap(), Rule::Gns(Gns { k: 0.25, m_min: 8, m_max: 512 }));
    assert_eq!(parse_rule("adadamp:32", c.clone()).unwrap(), Rule::AdaDamp(AdaDamp { m0: 32, m_min: 8, m_max: 512 }));
    assert_eq!(parse_rule("grow:8:6000:2.5", c).unwrap(), Rule::Grow(Grow { m0: 8, every: 6000, factor: 2.5, m_min: 8, m_max: 512 }));
    for s in ["norm:0.5", "inner:0.9", "gns:1", "adadamp:32", "grow:16:6000:2.5"] {
        assert_eq!(parse(s).unwrap().label(), s, "the label reads back");
    }
    assert_eq!(parse("adadamp:32").unwrap().initial_batch(), 32);
    assert_eq!(parse("grow:64:100:2").unwrap().initial_batch(), 64);
    assert_eq!(parse("norm:0.5").unwrap().initial_batch(), 16);
}

#[test]
fn bad_rules_are_refused_quoting_the_value() {
    for (rule, needle) in [
        ("norm:0", "'0'"),
        ("norm:-0.5", "'-0.5'"),
        ("norm:inf", "'inf'"),
        ("norm:NaN", "'NaN'"),
        ("norm:0.5x", "'0.5x'"),
        ("norm:x", "'x'"),
        ("norm", "norm:THETA"),
        ("norm:0.5:1", "norm:THETA"),
        ("inner:0", "'0'"),
        ("inner:-1", "'-1'"),
        ("inner:0.9:", "inner:THETA"),
        ("gns:0", "'0'"),
        ("gns:-2", "'-2'"),
        ("gns:2k", "'2k'"),
        ("gns:1:2", "gns or gns:K"),
        ("adadamp:8", "'8'"),
        ("adadamp:4096", "'4096'"),
        ("adadamp:32.5", "'32.5'"),
        ("adadamp:0", "'0'"),
        ("adadamp", "adadamp:M0"),
        ("grow:16:1000:0.5", "'0.5'"),
        ("grow:16:1000:inf", "'inf'"),
        ("grow:16:0:2", "'0'"),
        ("grow:16:1e3:2", "'1e3'"),
        ("grow:8:1000:2", "'8'"),
        ("grow:3000:1000:2", "'3000'"),
        ("grow:16:1000:2:1", "grow:M0:EVERY:FACTOR"),
        ("grow:16:1000:2x", "'2x'"),
        ("Norm:0.5", "unknown rule 'Norm:0.5'"),
    ] {
        let e = parse(rule).expect_err(rule).to_string();
        assert!(e.contains(needle), "{rule}: {e}");
    }
}

fn input(loss: f64, xi: f64, g2: f64, m: u32, examples_seen: u64) -> StepInput {
    StepInput { loss, xi, grad_norm_sq: g2, m, lr: 0.5, examples_seen, inner_product_var: None }
}

#[test]
fn the_norm_test_follows_each_batch_and_never_shrinks() {
    let mut r = RuleRunner::new(&parse("norm:0.5").unwrap()).unwrap();
    // ξ / (0.25 ‖ḡ‖²): 4/(0.25·0.5) = 32, then 2/(0.25·1) = 8 (kept at 32), then 100/(0.25·0.5) = 800.
    let d = r.update(&input(1.0, 4.0, 0.5, 16, 16)).unwrap();
    assert_eq!((d.m_raw, d.m_next), (32.0, 32));
    let d = r.update(&input(1.0, 2.0, 1.0, 32, 48)).unwrap();
    assert_eq!((d.m_raw, d.m_next), (8.0, 32));
    let d = r.update(&input(1.0, 100.0, 0.5, 32, 80)).unwrap();
    assert_eq!(d.m_next, 800);
}

#[test]
fn inner_is_refused_a_step_without_its_statistic_and_computed_with_it() {
    let rule = parse("inner:0.5").unwrap();
    assert!(rule.needs_inner_products() && !parse("norm:0.5").unwrap().needs_inner_products());
    let mut r = RuleRunner::new(&rule).unwrap();
    assert!(r.update(&input(1.0, 4.0, 0.5, 16, 16)).is_err(), "a step without the statistic is an error, not a guess");
    // Var 2 / (0.25 · 0.5²) = 32.
    let d = r.update(&StepInput { inner_product_var: Some(2.0), ..input(1.0, 4.0, 0.5, 16, 16) }).unwrap();
    assert_eq!((d.m_raw, d.m_next), (32.0, 32));
}

#[test]
fn gns_averages_numerator_and_denominator_separately() {
    let mut r = RuleRunner::new(&parse("gns:2").unwrap()).unwrap();
    let steps = [(8.0, 0.5, 32u32), (4.0, 0.3, 32), (12.0, 0.2, 64)];
    let (mut xa, mut ga) = (0.0f64, 0.0f64);
    for (t, &(xi, g2, m)) in steps.iter().enumerate() {
        let d = r.update(&input(1.0, xi, g2, m, 0)).unwrap();
        xa = 0.95 * xa + 0.05 * xi;
        ga = 0.95 * ga + 0.05 * (g2 - xi / m as f64);
        let corr = 1.0 - 0.95f64.powi(t as i32 + 1);
        let want = 2.0 * (xa / corr) / (ga / corr);
        assert!((d.m_raw - want).abs() <= 1e-12 * want, "step {t}: {} vs {want}", d.m_raw);
        assert_eq!(d.m_next, round_and_clip(want, 16, 2048));
        assert!((d.xi_avg - xa / corr).abs() < 1e-12, "the xi_avg column is gns's ξ̄");
    }
    // First step: Ĝ² = 0.5 − 0.25, B̂ = 8/0.25 = 32, K·B̂ = 64.
    let mut r = RuleRunner::new(&parse("gns:2").unwrap()).unwrap();
    assert!((r.update(&input(1.0, 8.0, 0.5, 32, 0)).unwrap().m_raw - 64.0).abs() < 1e-9);
    // Noise swamps the signal: Ĝ² < 0 is floored, the batch goes to m_max.
    let mut r = RuleRunner::new(&parse("gns").unwrap()).unwrap();
    assert_eq!(r.update(&input(1.0, 64.0, 0.5, 16, 0)).unwrap().m_next, 2048);
}

#[test]
fn adadamp_divides_the_first_loss_average_by_the_current_one() {
    let mut r = RuleRunner::new(&parse("adadamp:32").unwrap()).unwrap();
    let d = r.update(&input(2.0, 1.0, 1.0, 32, 32)).unwrap();
    assert_eq!((d.loss_avg, d.m_raw, d.m_next), (2.0, 32.0, 32), "ℒ̄₀ is the first batch's loss");
    let d = r.update(&input(1.0, 1.0, 1.0, 32, 64)).unwrap();
    let l = (0.95 * 0.05 * 2.0 + 0.05 * 1.0) / (1.0 - 0.95f64 * 0.95);
    assert!((d.loss_avg - l).abs() < 1e-12);
    assert!((d.m_raw - 32.0 * 2.0 / l).abs() < 1e-9);
    assert_eq!(d.m_next, (32.0 * 2.0 / l).ceil() as u32);
    assert_eq!(r.state().first_loss_avg, 2.0);
}

#[test]
fn grow_uses_the_examples_seen_before_the_next_step() {
    let mut r = RuleRunner::new(&parse("grow:16:100:3").unwrap()).unwrap();
    assert_eq!(r.update(&input(1.0, 1.0, 1.0, 16, 96)).unwrap().m_next, 16);
    assert_eq!(r.update(&input(1.0, 1.0, 1.0, 16, 112)).unwrap().m_next, 48);
    assert_eq!(r.update(&input(1.0, 1.0, 1.0, 48, 200)).unwrap().m_next, 144);
    assert_eq!(r.update(&input(1.0, 1.0, 1.0, 48, 1_000_000)).unwrap().m_next, 2048);
}

#[test]
fn a_runner_continues_exactly_from_its_state() {
    for s in ["cabs", "gns:1.5", "adadamp:20", "norm:0.3", "grow:16:50:2", "const:32"] {
        let rule = parse(s).unwrap();
        let feed = |r: &mut RuleRunner, k: u64| {
            let x = k as f64;
            r.update(&input(2.0 / (1.0 + x), 3.0 + x.sin(), 0.4 + 0.1 * x.cos(), 16 + k as u32, 20 * k)).unwrap()
        };
        let mut a = RuleRunner::new(&rule).unwrap();
        (1..=5).for_each(|k| {
            feed(&mut a, k);
        });
        let mut b = RuleRunner::from_state(&rule, a.state()).unwrap();
        for k in 6..=9 {
            assert_eq!(feed(&mut a, k), feed(&mut b, k), "{s} step {k}");
        }
    }
}

#[test]
fn the_bias_correction_is_exactly_one_minus_mu_to_the_t() {
    for mu in [0.0f64, 0.5, 0.9, 0.95, 0.99, 0.9999] {
        for t in (1..200_000u64).step_by(7) {
            let want = 1.0 - mu.powi(t as i32);
            assert_eq!(bias_correction(mu, t).to_bits(), want.to_bits(), "μ = {mu}, t = {t}");
        }
    }
}

#[test]
fn schedules() {
    let s = LrSchedule::Step { every: 10, factor: 0.5 };
    assert_eq!(s.lr_at(1.0, 9), 1.0);
    assert_eq!(s.lr_at(1.0, 10), 0.5);
    assert_eq!(LrSchedule::InverseTime { k: 1.0 }.lr_at(1.0, 3), 0.25);
}
