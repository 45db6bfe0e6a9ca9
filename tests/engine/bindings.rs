//! Each op's bindings are described once, by `Plan::bindings`, and everything else is checked
//! against that one list: the GPU engine binds exactly it (every op of every test layout: the
//! buffers of each dispatch's bind group, identified, are the plan's slots in the plan's order),
//! each shader declares those bindings, with those names and access modes (its `@binding` lines,
//! parsed from the WGSL the engine really compiles), and the shaders' flag constants are
//! `model::epilogue`'s. Each comparison is shown failing on a doctored input. The CPU engine
//! takes its buffers from `Plan::io`, derived from the same list (the GPU-vs-CPU tests compare
//! what they compute).
#![cfg(not(target_arch = "wasm32"))]

use crate::common::{every_layer_cnn, random_dataset, require_gpu};
use cabs::data::{Dataset, ImageShape};
use cabs::gpu::kernels::record_variants;
use cabs::gpu::GpuEngine;
use cabs::model::epilogue::WGSL_FLAGS;
use cabs::model::{Layout, ModelSpec};
use cabs::plan::{Access, ConvNorms, Launch, Op, Plan, Signature, Slot, SIGNATURES};
use std::collections::BTreeMap;

/// What a dispatch binds, as `GpuEngine::bound` names it.
type Bound = Vec<(&'static str, Vec<Option<Slot>>)>;

/// The layouts: an MLP with tanh, and a net with every layer type (crop and standardisation, a
/// pooled conv, a conv without a pool, a hidden layer) with both kinds of conv norms.
fn cases() -> Vec<(&'static str, Dataset, Layout, ConvNorms)> {
    let mlp_data = random_dataset(24, 8, 12, 3, false, 1);
    let mlp = Layout::for_input(&ModelSpec::parse("mlp:16,8:tanh").unwrap(), mlp_data.dim, None, mlp_data.classes).unwrap();
    let mut img = random_dataset(24, 8, 2 * 7 * 7, 4, true, 2);
    img.image = Some(ImageShape { c: 2, h: 7, w: 7 });
    let cnn = Layout::for_input(&every_layer_cnn(), img.dim, img.image, img.classes).unwrap();
    vec![("mlp:16,8:tanh", mlp_data, mlp, ConvNorms::Exact), ("every layer type", img, cnn, ConvNorms::Both)]
}

/// The engine for a case, and the WGSL of every pipeline it compiled, by label.
fn engine(data: &Dataset, layout: &Layout, norms: ConvNorms) -> (GpuEngine, BTreeMap<String, String>) {
    let plan = Plan::new(layout, norms);
    let (built, variants) = record_variants(|| pollster::block_on(GpuEngine::new(plan, data, 12, &layout.init_params(3), Some(5), false)));
    (require_gpu(built), variants.into_iter().map(|v| (v.label, v.source)).collect())
}

/// What the plan says an op's launches bind, in the form `GpuEngine::bound` reports.
fn planned(launches: &[Launch]) -> Bound {
    launches.iter().map(|l| (l.signature.kernel, l.slots.iter().map(|&(s, _)| Some(s)).collect())).collect()
}

fn check_bound(plan: &Plan, bound: &[(Op, Bound)]) -> Result<(), String> {
    for (op, got) in bound {
        let want = planned(&plan.bindings(*op));
        if *got != want {
            return Err(format!("{op:?}: the engine binds {got:?}, the plan says {want:?}"));
        }
    }
    Ok(())
}

/// The `@group(0)` bindings a shader declares: (binding, address space and access, name).
fn declared(source: &str) -> Vec<(u32, String, String)> {
    let mut out: Vec<(u32, String, String)> = source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("@group(0) @binding(")?;
            let (n, rest) = rest.split_once(')')?;
            let rest = rest.trim().strip_prefix("var<")?;
            let (space, rest) = rest.split_once('>')?;
            let name = rest.trim().split(':').next()?.trim();
            Some((n.parse().ok()?, space.replace(' ', ""), name.to_string()))
        })
        .collect();
    out.sort();
    out
}

/// A kernel's declared bindings against its signature: binding 0 the uniform, then each storage
/// binding with the signature's name and access, and nothing more.
fn check_signature(sig: &Signature, source: &str) -> Result<(), String> {
    let mut want = vec![(0, "uniform".to_string(), "p".to_string())];
    for (i, (name, access)) in sig.bindings.iter().enumerate() {
        want.push((i as u32 + 1, format!("storage,{}", access.wgsl()), name.to_string()));
    }
    let got = declared(source);
    if got != want {
        return Err(format!("{}: the shader declares {got:?}, the signature says {want:?}", sig.kernel));
    }
    Ok(())
}

#[test]
fn the_gpu_engine_binds_each_op_exactly_as_the_plan_says() {
    for (name, data, layout, norms) in cases() {
        let (e, _) = engine(&data, &layout, norms);
        let bound = e.bound();
        let plan = e.plan();
        // Every op of the plan's lists, the second launches of two-launch ops included.
        let listed = plan.chunk.len() + plan.finish.len() + plan.forward.len() + plan.inner.len() + 1;
        assert_eq!(bound.len(), listed, "{name}: one dispatch per listed op");
        check_bound(plan, &bound).unwrap_or_else(|e| panic!("{name}: {e}"));
        let scratch = bound.iter().any(|(_, l)| l.iter().any(|(_, s)| s.contains(&Some(Slot::Scratch))));
        assert_eq!(scratch, !layout.convs.is_empty(), "{name}: the conv filter gradient and norms pass a scratch on");

        // The check can fail: the plan's list with two bindings swapped, or one buffer replaced.
        let mut swapped = bound.clone();
        let (_, launches) = swapped.iter_mut().find(|(op, _)| matches!(op, Op::DenseForward { .. })).unwrap();
        launches[0].1.swap(0, 1);
        assert!(check_bound(plan, &swapped).is_err(), "{name}: a swap of a dense forward's bindings went unnoticed");
        let mut replaced = bound.clone();
        let (_, launches) = replaced.iter_mut().find(|(op, _)| *op == Op::SoftmaxXent).unwrap();
        launches[0].1[2] = Some(Slot::Buf(cabs::plan::Buf::Losses));
        assert!(check_bound(plan, &replaced).is_err());
    }
}

#[test]
fn every_shader_declares_the_bindings_and_access_modes_of_its_signature() {
    let mut seen = BTreeMap::new();
    for (_, data, layout, norms) in cases() {
        let (e, sources) = engine(&data, &layout, norms);
        let plan = e.plan();
        let ops = plan.chunk.iter().chain(&plan.finish).chain(&plan.forward).chain(&plan.inner).chain(&[Op::InnerVar]);
        for &op in ops {
            for launch in plan.bindings(op) {
                let sig = launch.signature;
                assert!(SIGNATURES.contains(&sig), "{op:?}: {} is not among the signatures", sig.kernel);
                // An op's use of a binding agrees with the declaration (Update only where it may write).
                for ((_, use_), (_, declared)) in launch.slots.iter().zip(sig.bindings) {
                    assert_eq!(use_.wgsl(), declared.wgsl(), "{op:?}: {}", sig.kernel);
                }
                let source = sources.get(sig.kernel).unwrap_or_else(|| panic!("no pipeline labelled {} was compiled", sig.kernel));
                check_signature(&sig, source).unwrap();
                seen.insert(sig.kernel, source.clone());
            }
        }
    }
    // The layouts use every kernel.
    let unused: Vec<_> = SIGNATURES.iter().map(|s| s.kernel).filter(|k| !seen.contains_key(k)).collect();
    assert!(unused.is_empty(), "no test layout uses {unused:?}");

    // The check can fail: an access mode flipped, or two bindings named in the other order.
    let matmul = &seen["matmul"];
    assert!(check_signature(&cabs::plan::bindings::MATMUL, matmul).is_ok());
    let flipped = Signature {
        kernel: "matmul",
        bindings: &[("a", Access::Read), ("b", Access::Read), ("aux", Access::Write), ("out", Access::Write)],
    };
    assert!(check_signature(&flipped, matmul).is_err());
    let reordered = Signature {
        kernel: "matmul",
        bindings: &[("b", Access::Read), ("a", Access::Read), ("aux", Access::Read), ("out", Access::Write)],
    };
    assert!(check_signature(&reordered, matmul).is_err());
}

/// Every `const NAME: u32 = Nu;` of the flags in `source`.
fn flag_consts(source: &str) -> Vec<(String, u32)> {
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("const ")?;
            let (name, rest) = rest.split_once(':')?;
            let value = rest.split_once('=')?.1.trim().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
            WGSL_FLAGS.iter().any(|(n, _)| *n == name.trim()).then(|| (name.trim().to_string(), value))
        })
        .collect()
}

#[test]
fn the_shaders_flag_bits_are_the_epilogue_module_s() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut found = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for (name, value) in flag_consts(&source) {
            let want = WGSL_FLAGS.iter().find(|(n, _)| *n == name).unwrap().1;
            assert_eq!(value, want, "{}: {name}", path.display());
            found += 1;
        }
    }
    // matmul.wgsl's epilogue flags and conv_params.wgsl's three at least.
    assert!(found >= 9, "only {found} flag constants found in shaders/");
    // The parse can fail: a doctored line reads as another value.
    assert_eq!(flag_consts("const RELU: u32 = 4u;"), vec![("RELU".to_string(), 4)]);
}
