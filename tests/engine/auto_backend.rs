//! `backend=auto` natively: on a software adapter (lavapipe, device type `Cpu`) it times both
//! engines on the rule's first batch and keeps the faster, reporting both timings and a reason;
//! on a hardware GPU it keeps the GPU untimed. Either way the run is the same as a run forced onto
//! the chosen engine (the trial steps at α = 0 change nothing). `backend=gpu` and `backend=cpu`
//! still force their engine. No assertion compares the two timings: only that a choice consistent
//! with its own figures is reported.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::engine::BackendChoice;
use cabs::settings::Settings;
use cabs::trainer::Trainer;
use common::require_gpu;

fn mnist() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/mnist.bin");
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}; create it with `bash scripts/setup.sh`"))
}

/// The page's default model on the bundled digits, with a fixed batch of 16 (the CABS default's
/// first batch).
fn trainer(backend: &str, bytes: &[u8]) -> cabs::Result<Trainer> {
    let s = Settings { backend: backend.into(), rule: "const:16".into(), ..Settings::default() };
    let data = s.dataset(Some(bytes)).unwrap();
    pollster::block_on(Trainer::new(s.trainer_config().unwrap(), data))
}

fn steps(t: &mut Trainer, n: usize) -> Vec<cabs::trainer::StepStats> {
    (0..n).map(|_| pollster::block_on(t.step()).unwrap()).collect()
}

#[test]
fn auto_times_both_engines_on_a_software_adapter_and_keeps_the_faster_with_its_reason() {
    let bytes = mnist();
    let forced_gpu = require_gpu(trainer("gpu", &bytes));
    let adapter = forced_gpu.backend().adapter.clone().expect("a GPU engine names its adapter");
    drop(forced_gpu);

    let mut auto = trainer("auto", &bytes).unwrap();
    let info = auto.backend().clone();
    let c = &info.choice;
    eprintln!("adapter {} ({}); auto chose {}: {} — {:?}", adapter.name, adapter.device_type, info.kind, c.reason, c.trial);
    assert_eq!(c.requested, BackendChoice::Auto);
    if adapter.device_type != "Cpu" {
        // A hardware GPU: kept without a trial.
        assert_eq!((info.kind.as_str(), c.how.as_str(), c.trial.is_none()), ("gpu", "hardware adapter", true));
        assert!(c.reason.contains(&adapter.name), "{}", c.reason);
        return;
    }
    assert_eq!(c.how, "measured", "a software adapter ({}) must be timed against the CPU engine", adapter.name);
    let t = c.trial.as_ref().expect("a measured choice carries its timings");
    assert_eq!(t.batch, 16, "timed on the rule's first batch");
    assert!((1..=3).contains(&t.steps), "timed steps per engine: {}", t.steps);
    for ms in [t.cpu_ms_per_step, t.gpu_ms_per_step] {
        assert!(ms.is_finite() && ms > 0.0, "a measured step time: {ms}");
    }
    assert!(t.total_ms >= (t.cpu_ms_per_step + t.gpu_ms_per_step) * t.steps as f64, "the trial's wall time covers its steps: {t:?}");
    let want = if t.cpu_ms_per_step < t.gpu_ms_per_step { "cpu" } else { "gpu" };
    assert_eq!(info.kind, want, "auto keeps the engine its own figures favour: {t:?}");
    for part in ["software adapter", &adapter.name, "CPU", "GPU", "ms/step", "m = 16"] {
        assert!(c.reason.contains(part), "the reason names '{part}': {}", c.reason);
    }
    // The CPU engine reports why the GPU was not used; the GPU engine has nothing to explain.
    assert_eq!(info.fallback_reason.as_deref(), (want == "cpu").then_some(c.reason.as_str()));
    assert_eq!(info.adapter.is_some(), want == "gpu");

    // The trial left the run as it was: the same steps as a run forced onto the chosen engine.
    let mut forced = trainer(want, &bytes).unwrap();
    assert_eq!(steps(&mut auto, 3), steps(&mut forced, 3), "auto's run equals the forced {want} run step for step");

    // What JavaScript users read: the old fields, plus `choice` with the timings.
    let json = serde_json::to_value(&info).unwrap();
    for key in ["kind", "adapter", "fallbackReason", "dispatchesPerStep", "chunk", "chunkReason"] {
        assert!(json.get(key).is_some(), "BackendInfo keeps '{key}': {json}");
    }
    assert_eq!(json["choice"]["requested"], "auto");
    assert_eq!(json["choice"]["how"], "measured");
    assert_eq!(json["choice"]["trial"]["batch"], 16);
    for key in ["cpuMsPerStep", "gpuMsPerStep", "steps", "totalMs"] {
        assert!(json["choice"]["trial"][key].is_number(), "choice.trial.{key}: {json}");
    }
}

#[test]
fn gpu_and_cpu_still_force_their_engine() {
    let bytes = mnist();
    let gpu = require_gpu(trainer("gpu", &bytes));
    let g = gpu.backend();
    assert_eq!((g.kind.as_str(), g.choice.requested, g.choice.how.as_str()), ("gpu", BackendChoice::Gpu, "forced"));
    assert!(g.choice.trial.is_none() && g.fallback_reason.is_none());
    assert!(g.choice.reason.contains("backend=gpu"), "{}", g.choice.reason);
    let cpu = trainer("cpu", &bytes).unwrap();
    let c = cpu.backend();
    assert_eq!((c.kind.as_str(), c.choice.requested, c.choice.how.as_str()), ("cpu", BackendChoice::Cpu, "forced"));
    assert!(c.choice.trial.is_none() && c.fallback_reason.is_none());
}
