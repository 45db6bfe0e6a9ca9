//! A run that moves: the state a trainer exports between two steps, loaded into a new trainer
//! (or into one that has trained on its own), continues the run bit for bit on the same engine —
//! every step row, every evaluation and the final weights; through its bytes too. A run moved
//! CPU → GPU → CPU continues exactly as runs started on each engine from the moved states, and
//! its first GPU step takes the batch and α the CPU run would have taken.
//! States for another run are refused. Each comparison covers CABS and a baseline with a decay
//! schedule, a live-changed α, epochs that end after the export, and a chunked CNN.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::cabs::{CabsConfig, LrSchedule, Rule};
use cabs::data::{Dataset, ImageShape};
use cabs::engine::{BackendChoice, ConvNorms};
use cabs::model::ModelSpec;
use cabs::run_state::{EngineSpan, EvalSchedule, RunState};
use cabs::settings::LearningRate;
use cabs::trainer::{EvalStats, StepStats, Trainer, TrainerConfig};
use common::*;

/// One step row or evaluation, every field as bits (so NaN == NaN and -0 ≠ 0).
#[derive(Debug, PartialEq)]
enum Row {
    Step(Vec<u64>),
    Eval(Vec<u64>),
}

fn step_bits(s: &StepStats) -> Vec<u64> {
    // No `..`: a new field must be added here, or this stops compiling.
    let StepStats {
        step,
        examples_seen,
        epoch,
        batch_size,
        next_batch_size,
        m_raw,
        loss,
        loss_avg,
        xi,
        xi_avg,
        grad_norm_sq,
        noise_scale,
        lr,
        batch_accuracy,
        sum_sq_norms,
        conv_xi_exact,
        conv_xi_approx,
        engine: _, // which engine ran a step is compared through `engines()`
        inner_product_var,
    } = s;
    let opt = |v: &Option<f64>| v.map_or(u64::MAX, f64::to_bits);
    let f = [m_raw, loss, loss_avg, xi, xi_avg, grad_norm_sq, noise_scale, lr, batch_accuracy, sum_sq_norms].map(|v| v.to_bits());
    [
        vec![*step, *examples_seen, *epoch, *batch_size as u64, *next_batch_size as u64, opt(conv_xi_exact), opt(conv_xi_approx)],
        f.to_vec(),
        vec![opt(inner_product_var)], // last: the indices above are the tests' columns
    ]
    .concat()
}

fn eval_bits(e: &EvalStats) -> Vec<u64> {
    let EvalStats { step, test_loss, test_accuracy } = e;
    vec![*step, test_loss.to_bits(), test_accuracy.to_bits()]
}

/// A test run: its data, settings and the steps before the export.
struct Case {
    name: &'static str,
    data: Dataset,
    cfg: TrainerConfig,
    /// A model no label names (its bytes give back the label, not the spec).
    hand_built: bool,
}

fn cases() -> Vec<Case> {
    let points = random_dataset(150, 40, 6, 3, false, 11);
    let mut images = random_dataset(90, 20, 2 * 7 * 7, 4, true, 12);
    images.image = Some(ImageShape { c: 2, h: 7, w: 7 });
    let cfg = |model: ModelSpec, rule: Rule, conv_norms: ConvNorms, chunk: Option<u32>| TrainerConfig {
        model,
        rule,
        lr: LearningRate::new(0.3).unwrap(),
        seed: 7,
        backend: BackendChoice::Cpu,
        with_stats: true,
        conv_norms,
        chunk,
    };
    let cabs = Rule::Cabs(CabsConfig { m_min: 8, m_max: 64, ..CabsConfig::default() });
    let mlp = || ModelSpec::parse("mlp:16:tanh").unwrap();
    vec![
        Case { name: "mlp, cabs", data: points.clone(), cfg: cfg(mlp(), cabs.clone(), ConvNorms::Exact, None), hand_built: false },
        Case {
            name: "mlp, const:24 with step decay",
            data: points,
            cfg: cfg(mlp(), Rule::Constant { m: 24, schedule: LrSchedule::Step { every: 7, factor: 0.7 } }, ConvNorms::Exact, None),
            hand_built: false,
        },
        Case {
            name: "cnn in chunks of 7, cabs, both conv norms",
            data: images,
            cfg: cfg(every_layer_cnn(), Rule::Cabs(CabsConfig { m_min: 8, m_max: 32, ..CabsConfig::default() }), ConvNorms::Both, Some(7)),
            hand_built: true,
        },
    ]
}

fn on(cfg: &TrainerConfig, backend: BackendChoice) -> TrainerConfig {
    TrainerConfig { backend, ..cfg.clone() }
}

fn new_trainer(cfg: TrainerConfig, data: &Dataset) -> Trainer {
    let gpu = cfg.backend == BackendChoice::Gpu;
    let r = pollster::block_on(Trainer::new(cfg, data.clone()));
    if gpu {
        require_gpu(r)
    } else {
        r.unwrap()
    }
}

fn with_state(cfg: TrainerConfig, data: &Dataset, state: &RunState) -> Trainer {
    let gpu = cfg.backend == BackendChoice::Gpu;
    let r = pollster::block_on(Trainer::with_state(cfg, data.clone(), state));
    if gpu {
        require_gpu(r)
    } else {
        r.unwrap()
    }
}

/// `n` steps, with an evaluation after every step whose number is a multiple of `eval_every`.
fn train(t: &mut Trainer, n: u64, eval_every: Option<u64>) -> Vec<Row> {
    let mut rows = Vec::new();
    for _ in 0..n {
        let s = pollster::block_on(t.step()).unwrap();
        rows.push(Row::Step(step_bits(&s)));
        if eval_every.is_some_and(|e| s.step.is_multiple_of(e)) {
            rows.push(Row::Eval(eval_bits(&pollster::block_on(t.evaluate()).unwrap())));
        }
    }
    rows
}

fn weight_bits(t: &Trainer) -> Vec<u32> {
    pollster::block_on(t.params()).unwrap().iter().map(|w| w.to_bits()).collect()
}

fn export(t: &Trainer) -> RunState {
    pollster::block_on(t.export_state()).unwrap()
}

/// Within one engine: train 23 steps (α changed live after 10), export, train 30 more → A.
/// The state continued in a new trainer, in one read back from bytes, and imported into a
/// trainer that has trained 5 steps of its own must each give A exactly.
fn continues_bit_for_bit(backend: BackendChoice, eval_every: Option<u64>) {
    for case in cases() {
        let ctx = format!("{backend:?}, {}, evaluations {eval_every:?}", case.name);
        let cfg = on(&case.cfg, backend);
        let mut t = new_trainer(cfg.clone(), &case.data);
        train(&mut t, 10, eval_every);
        t.set_lr(LearningRate::new(0.21).unwrap());
        train(&mut t, 13, eval_every);
        let mut state = export(&t);
        assert_eq!((state.step, state.lr, state.engine()), (23, 0.21, if backend == BackendChoice::Gpu { "gpu" } else { "cpu" }));
        let epoch = state.sampler.epoch;
        state.eval = eval_every.map(|every| EvalSchedule { every, next_step: 23u64.next_multiple_of(every) });
        let rows_a = train(&mut t, 30, eval_every);
        let weights_a = weight_bits(&t);
        assert!(
            rows_a.iter().any(|r| matches!(r, Row::Step(b) if b[2] > epoch)),
            "{ctx}: the continuation should start a new epoch (to cover the data order)"
        );

        let mut from_bytes = RunState::from_bytes(&state.to_bytes().unwrap()).unwrap();
        if case.hand_built {
            // A hand-built model: bytes keep its label and full description, the caller its spec.
            assert_eq!(from_bytes.model_detail, state.model_detail, "{ctx}");
            from_bytes.config.model = cfg.model.clone();
        }
        assert_eq!(from_bytes, state, "{ctx}: byte round trip");
        let mut dirty = new_trainer(on(&cfg, backend), &case.data);
        dirty.set_lr(LearningRate::new(0.05).unwrap());
        train(&mut dirty, 5, eval_every);
        dirty.import_state(&from_bytes).unwrap();
        for (how, mut b) in
            [("a new trainer from the state", with_state(cfg.clone(), &case.data, &state)), ("a trainer that imported it", dirty)]
        {
            assert_eq!(b.steps_done(), 23, "{ctx}, {how}");
            let rows_b = train(&mut b, 30, eval_every);
            for (i, (a, b)) in rows_a.iter().zip(&rows_b).enumerate() {
                assert_eq!(a, b, "{ctx}, {how}: row {i} after the export");
            }
            assert_eq!(rows_a.len(), rows_b.len(), "{ctx}, {how}");
            assert!(weight_bits(&b) == weights_a, "{ctx}, {how}: final weights differ");
        }
    }
}

#[test]
fn a_cpu_run_continued_from_its_state_matches_the_run_that_exported_it_bit_for_bit() {
    continues_bit_for_bit(BackendChoice::Cpu, None);
}

#[test]
fn a_cpu_run_with_evaluations_continued_from_its_state_matches_bit_for_bit() {
    continues_bit_for_bit(BackendChoice::Cpu, Some(4));
}

#[test]
fn a_gpu_run_continued_from_its_state_matches_the_run_that_exported_it_bit_for_bit() {
    continues_bit_for_bit(BackendChoice::Gpu, None);
}

#[test]
fn a_gpu_run_with_evaluations_continued_from_its_state_matches_bit_for_bit() {
    continues_bit_for_bit(BackendChoice::Gpu, Some(4));
}

/// CPU for 15 steps, then the state goes into a GPU trainer built at the start (idle until the
/// hand-over), 20 steps there, then back into the first CPU trainer, 20 steps. Each leg must
/// equal a fresh trainer of that engine started from the state's bytes.
#[test]
fn a_run_moved_cpu_to_gpu_to_cpu_continues_as_runs_started_from_its_states() {
    for case in cases() {
        let ctx = case.name;
        let (cpu_cfg, gpu_cfg) = (on(&case.cfg, BackendChoice::Cpu), on(&case.cfg, BackendChoice::Gpu));
        let mut cpu = new_trainer(cpu_cfg.clone(), &case.data);
        let mut gpu = new_trainer(gpu_cfg.clone(), &case.data);
        let mut stays = new_trainer(cpu_cfg.clone(), &case.data);
        for t in [&mut cpu, &mut stays] {
            train(t, 15, Some(5));
            t.set_lr(LearningRate::new(0.25).unwrap());
        }
        let s1 = export(&cpu);
        gpu.import_state(&s1).unwrap();
        let moved_gpu = train(&mut gpu, 20, Some(5));
        // The move loses nothing: the GPU's first step takes the batch and α the CPU run would
        // have (same counts, epoch and sizes; the loss up to the engines' rounding).
        let (Row::Step(g), Row::Step(c)) = (&moved_gpu[0], &train(&mut stays, 1, None)[0]) else { panic!("{ctx}: step rows") };
        assert_eq!((&g[..5], g[14]), (&c[..5], c[14]), "{ctx}: step, examples, epoch, batch sizes and α of step 16");
        let (lg, lc) = (f64::from_bits(g[8]), f64::from_bits(c[8]));
        assert!((lg - lc).abs() <= 1e-4 * lc.abs(), "{ctx}: loss of step 16 on the GPU {lg}, on the CPU {lc}");
        let s2 = export(&gpu);
        cpu.import_state(&s2).unwrap();
        let moved_cpu = train(&mut cpu, 20, Some(5));
        let at = |from_step: u64, engine: &str| EngineSpan { from_step, engine: engine.into() };
        assert_eq!(cpu.engines(), [at(0, "cpu"), at(15, "gpu"), at(35, "cpu")], "{ctx}: the run names its engines");

        let bytes = |s: &RunState| RunState::from_bytes(&s.to_bytes().unwrap()).unwrap();
        let mut fresh_gpu = with_state(gpu_cfg, &case.data, &bytes(&s1));
        assert_eq!(train(&mut fresh_gpu, 20, Some(5)), moved_gpu, "{ctx}: steps 16-35 on the GPU");
        let mut fresh_cpu = with_state(cpu_cfg, &case.data, &bytes(&s2));
        assert_eq!(train(&mut fresh_cpu, 20, Some(5)), moved_cpu, "{ctx}: steps 36-55 on the CPU");
        assert!(weight_bits(&fresh_cpu) == weight_bits(&cpu), "{ctx}: final weights differ");
        assert_eq!((cpu.steps_done(), cpu.lr()), (55, 0.25), "{ctx}: step and live α after two moves");
    }
}

#[test]
fn a_state_for_another_model_or_data_or_damaged_is_refused_and_the_trainer_keeps_its_run() {
    let case = cases().remove(0);
    let mut t = new_trainer(case.cfg.clone(), &case.data);
    train(&mut t, 3, None);
    let state = export(&t);

    let other_model = TrainerConfig { model: ModelSpec::parse("mlp:8").unwrap(), ..case.cfg.clone() };
    let mut u = new_trainer(other_model.clone(), &case.data);
    let mut twin = new_trainer(other_model.clone(), &case.data);
    let e = u.import_state(&state).unwrap_err().to_string();
    assert!(e.contains("another run") && e.contains("\"mlp:16:tanh\" ≠ \"mlp:8\""), "{e}");
    assert_eq!(train(&mut u, 4, Some(2)), train(&mut twin, 4, Some(2)), "a refused import changes nothing");

    let other_data = random_dataset(150, 40, 6, 3, false, 99);
    let e = pollster::block_on(Trainer::with_state(case.cfg.clone(), other_data, &state)).err().unwrap().to_string();
    assert!(e.contains("data 'random'") && e.contains("fingerprint"), "{e}");

    let mut bytes = state.to_bytes().unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 1; // inside the permutation
    let e = RunState::from_bytes(&bytes).unwrap_err().to_string();
    assert!(e.contains("damaged") && e.contains("checksum"), "{e}");
}
