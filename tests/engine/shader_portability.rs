//! Every shader variant the engine builds, ready for hardware this machine lacks: the WGSL exactly
//! as the engine hands it to wgpu (the step uniform's declarations and the prepended constants,
//! `override` constants applied), recorded while real engines are built on this machine's adapter
//! (`gpu::kernels::record_variants`) for every model family, chunked and not, with each kind of
//! conv norms, plus the lazily compiled pipelines of both kinds of adapter
//! (`Kernels::compile_all`). Each is translated with naga (the version wgpu uses) to SPIR-V
//! (then checked by `spirv-val`), MSL, HLSL and GLSL, and checked against WebGPU's default limits
//! (`wgpu::Limits::default()`): an adapter that grants only those must accept every pipeline.
//! (SwiftShader refused 17 KiB of workgroup storage that lavapipe had accepted.)
//!
//! Native only; needs a GPU adapter (lavapipe) to build the engines and `spirv-val` (Debian
//! `spirv-tools`, installed by `bash scripts/setup.sh test`): without either it fails, saying what
//! to install.
#![cfg(not(target_arch = "wasm32"))]

use crate::common::{random_dataset, require_gpu};
use cabs::data::{Dataset, ImageShape};
use cabs::engine::{BackendChoice, ConvNorms, Engine};
use cabs::gpu::conv::ConvKernels;
use cabs::gpu::kernels::{record_variants, Kernels, ShaderVariant};
use cabs::gpu::{GpuContext, Requirements};
use cabs::model::{Layout, ModelSpec};
use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Module, ShaderStage};
use std::collections::BTreeMap;
use std::process::Command;

/// A model the engine supports, built as a run would build it.
struct Case {
    name: String,
    model: &'static str,
    image: Option<ImageShape>,
    norms: ConvNorms,
    m_max: u32,
    chunk: Option<u32>,
}

fn cases() -> Vec<Case> {
    let mnist = Some(ImageShape { c: 1, h: 28, w: 28 });
    let cifar = Some(ImageShape { c: 3, h: 32, w: 32 });
    let mut out = Vec::new();
    let mut add = |model: &'static str, image, norms, m_max, chunk: Option<u32>| {
        let name = format!("{model} conv norms {norms:?}, m_max {m_max}{}", chunk.map(|c| format!(", chunks of {c}")).unwrap_or_default());
        out.push(Case { name, model, image, norms, m_max, chunk });
    };
    // Unchunked and in chunks of 8 (chunks of at most 16 rows take the 16-row matmul strips).
    for model in ["logreg", "mlp:256", "mlp:64,32:tanh"] {
        add(model, None, ConvNorms::Exact, 64, None);
    }
    add("mlp:256", None, ConvNorms::Exact, 64, Some(8));
    // Filters of at most 32 rows take the narrow conv tiles (cnn-small, cnn-mnist's first
    // stage), more the square ones; the crop transform is cnn-cifar's. Each kind of conv norms.
    add("cnn-small", mnist, ConvNorms::Exact, 24, None);
    for norms in [ConvNorms::Exact, ConvNorms::Both, ConvNorms::Reference] {
        add("cnn-mnist", mnist, norms, 24, None);
    }
    add("cnn-mnist", mnist, ConvNorms::Exact, 24, Some(8));
    add("cnn-cifar", cifar, ConvNorms::Both, 24, None);
    add("cnn-cifar", cifar, ConvNorms::Exact, 24, Some(8));
    out
}

fn data_for(c: &Case) -> Dataset {
    let dim = c.image.map_or(784, |i| i.len());
    let mut d = random_dataset(c.m_max as usize, 8, dim, 10, true, 7);
    d.image = c.image;
    d
}

/// The variants an engine for `c` compiles when built, stepped at a small and a large batch and
/// evaluated (lazily compiled pipelines included).
fn variants_of(c: &Case) -> Vec<ShaderVariant> {
    let data = data_for(c);
    let spec = ModelSpec::parse(c.model).unwrap();
    let layout = Layout::for_input(&spec, data.dim, data.image, data.classes).unwrap();
    let params = layout.init_params(1);
    let (_, got) = record_variants(|| {
        let built = pollster::block_on(Engine::new(BackendChoice::Gpu, layout.clone(), &data, c.m_max, &params, c.norms, c.chunk));
        let (mut e, _) = require_gpu(built);
        for m in [4, c.m_max] {
            pollster::block_on(e.train_step(0, m, 0.01, true)).unwrap_or_else(|err| panic!("{}: step at m = {m}: {err}", c.name));
        }
        pollster::block_on(e.evaluate()).unwrap_or_else(|err| panic!("{}: evaluation: {err}", c.name));
    });
    assert!(!got.is_empty(), "{}: building the engine compiled no pipeline on this thread", c.name);
    got
}

/// Every pipeline `Kernels` and `ConvKernels` can build, on either kind of adapter.
fn every_variant() -> Vec<ShaderVariant> {
    let ctx = require_gpu(pollster::block_on(GpuContext::new(Requirements { buffers: vec![] })));
    let (_, got) = record_variants(|| {
        let k = Kernels::new(&ctx.device, true);
        k.compile_all();
        ConvKernels::new(&ctx.device, &k.step_layout);
    });
    got
}

/// A variant's identity: what wgpu is given.
fn key(v: &ShaderVariant) -> (String, String, String, String) {
    (v.label.clone(), v.entry.clone(), format!("{:?}", v.constants), v.source.clone())
}

/// What an entry point asks of the device, read from the shader after its overrides.
#[derive(Debug, Default)]
struct Needs {
    workgroup_size: [u32; 3],
    workgroup_bytes: u32,
    storage_buffers: u32,
    uniform_buffers: u32,
    groups: u32,
    largest_binding: u32,
}

fn round_up(x: u32, to: u32) -> u32 {
    x.div_ceil(to) * to
}

fn needs(module: &Module, info: &ModuleInfo, entry: &str) -> Result<Needs, String> {
    let index = module.entry_points.iter().position(|e| e.name == entry).ok_or(format!("no entry point '{entry}'"))?;
    let ep = &module.entry_points[index];
    if ep.stage != ShaderStage::Compute {
        return Err(format!("entry point '{entry}' is not a compute shader"));
    }
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).map_err(|e| format!("layout: {e}"))?;
    let used = info.get_entry_point(index);
    let mut n = Needs { workgroup_size: ep.workgroup_size, ..Needs::default() };
    for (h, g) in module.global_variables.iter() {
        if used[h].is_empty() {
            continue;
        }
        match g.space {
            // WebGPU counts each workgroup variable at its size rounded up to 16 bytes.
            AddressSpace::WorkGroup => n.workgroup_bytes += round_up(layouter[g.ty].size, 16),
            AddressSpace::Storage { .. } => n.storage_buffers += 1,
            AddressSpace::Uniform => n.uniform_buffers += 1,
            _ => {}
        }
        if let Some(b) = &g.binding {
            n.groups = n.groups.max(b.group + 1);
            n.largest_binding = n.largest_binding.max(b.binding);
        }
    }
    Ok(n)
}

/// Every way `n` exceeds WebGPU's default limits, in words.
fn over_limits(n: &Needs) -> Vec<String> {
    let l = wgpu::Limits::default();
    let [x, y, z] = n.workgroup_size;
    let mut bad = Vec::new();
    let mut check = |what: &str, have: u64, max: u64| {
        if have > max {
            bad.push(format!("{what} {have} > {max}"));
        }
    };
    check("workgroup storage bytes", n.workgroup_bytes as u64, l.max_compute_workgroup_storage_size as u64);
    check("invocations per workgroup", x as u64 * y as u64 * z as u64, l.max_compute_invocations_per_workgroup as u64);
    check("workgroup size x", x as u64, l.max_compute_workgroup_size_x as u64);
    check("workgroup size y", y as u64, l.max_compute_workgroup_size_y as u64);
    check("workgroup size z", z as u64, l.max_compute_workgroup_size_z as u64);
    check("storage buffers per stage", n.storage_buffers as u64, l.max_storage_buffers_per_shader_stage as u64);
    check("uniform buffers per stage", n.uniform_buffers as u64, l.max_uniform_buffers_per_shader_stage as u64);
    check("bind groups", n.groups as u64, l.max_bind_groups as u64);
    check("binding index + 1", n.largest_binding as u64 + 1, l.max_bindings_per_bind_group as u64);
    bad
}

/// Parse, validate and specialise a variant as wgpu would: the module with its overrides
/// applied, its info, and what its entry point needs.
fn specialise(v: &ShaderVariant) -> Result<(Module, ModuleInfo, Needs), String> {
    let module = naga::front::wgsl::parse_str(&v.source).map_err(|e| format!("WGSL: {}", e.emit_to_string(&v.source)))?;
    let info = Validator::new(ValidationFlags::all(), Capabilities::default())
        .validate(&module)
        .map_err(|e| format!("validation: {}", e.emit_to_string(&v.source)))?;
    let mut constants = naga::back::PipelineConstants::default();
    for (k, val) in &v.constants {
        constants.insert(k.clone(), *val);
    }
    let (module, info) =
        naga::back::pipeline_constants::process_overrides(&module, &info, Some((ShaderStage::Compute, &v.entry)), &constants)
            .map_err(|e| format!("overrides {:?}: {e}", v.constants))?;
    let (module, info) = (module.into_owned(), info.into_owned());
    let n = needs(&module, &info, &v.entry)?;
    Ok((module, info, n))
}

/// Which `spirv-val` to run, failing (never skipping) with what to install.
fn spirv_val() -> &'static str {
    match Command::new("spirv-val").arg("--version").output() {
        Ok(o) if o.status.success() => "spirv-val",
        _ => panic!(
            "this test validates SPIR-V with `spirv-val`, which is not installed: \
             apt-get install spirv-tools (or `bash scripts/setup.sh test`)"
        ),
    }
}

/// Translate to all four languages; SPIR-V through `spirv-val`. Returns the sizes of the outputs.
fn translate(v: &ShaderVariant, module: &Module, info: &ModuleInfo, dir: &std::path::Path) -> Result<[usize; 4], String> {
    let entry = v.entry.clone();
    let policies = naga::proc::BoundsCheckPolicies {
        index: naga::proc::BoundsCheckPolicy::Restrict,
        buffer: naga::proc::BoundsCheckPolicy::Restrict,
        ..Default::default()
    };

    let spv_opts = spv::Options { lang_version: (1, 3), bounds_check_policies: policies, ..Default::default() };
    let words = spv::write_vec(
        module,
        info,
        &spv_opts,
        Some(&spv::PipelineOptions { shader_stage: ShaderStage::Compute, entry_point: entry.clone() }),
    )
    .map_err(|e| format!("SPIR-V: {e}"))?;
    let file = dir.join(format!("{}-{}-{:x}.spv", v.label, v.entry, fxhash(&v.source, &v.constants)));
    std::fs::write(&file, bytemuck::cast_slice::<u32, u8>(&words)).map_err(|e| format!("{}: {e}", file.display()))?;
    let out = Command::new(spirv_val()).args(["--target-env", "vulkan1.1"]).arg(&file).output().map_err(|e| format!("spirv-val: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "spirv-val {}: {}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    let msl_opts = msl::Options { lang_version: (2, 4), bounds_check_policies: policies, ..Default::default() };
    let (metal, _) = msl::write_string(
        module,
        info,
        &msl_opts,
        &msl::PipelineOptions { entry_point: Some((ShaderStage::Compute, entry.clone())), ..Default::default() },
    )
    .map_err(|e| format!("MSL: {e}"))?;

    let hlsl_opts = hlsl::Options { shader_model: hlsl::ShaderModel::V5_1, ..Default::default() };
    let hlsl_pipe = hlsl::PipelineOptions { entry_point: Some((ShaderStage::Compute, entry.clone())) };
    let mut hl = String::new();
    hlsl::Writer::new(&mut hl, &hlsl_opts, &hlsl_pipe).write(module, info, None).map_err(|e| format!("HLSL: {e}"))?;

    let glsl_opts = glsl::Options { version: glsl::Version::new_gles(310), ..Default::default() };
    let glsl_pipe = glsl::PipelineOptions { shader_stage: ShaderStage::Compute, entry_point: entry, multiview: None };
    let mut gl = String::new();
    glsl::Writer::new(&mut gl, module, info, &glsl_opts, &glsl_pipe, policies)
        .map_err(|e| format!("GLSL: {e}"))?
        .write()
        .map_err(|e| format!("GLSL: {e}"))?;
    Ok([words.len() * 4, metal.len(), hl.len(), gl.len()])
}

/// A short stable name for a variant's file.
fn fxhash(source: &str, constants: &[(String, f64)]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in source.bytes().chain(format!("{constants:?}").bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    h
}

fn out_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("shader_portability");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_shader_variant_translates_to_spirv_msl_hlsl_glsl_and_fits_webgpu_default_limits() {
    spirv_val();
    let all = every_variant();
    let mut distinct: BTreeMap<_, ShaderVariant> = all.iter().map(|v| (key(v), v.clone())).collect();
    // What each model really compiles must be among the variants enumerated, so that the list
    // checked below is what runs (a pipeline built elsewhere would show up here).
    for c in cases() {
        let got = variants_of(&c);
        for v in &got {
            assert!(
                all.iter().any(|a| key(a) == key(v)),
                "{}: the engine compiled '{}' (entry {}, {:?}), which Kernels::compile_all and ConvKernels::new do not build",
                c.name,
                v.label,
                v.entry,
                v.constants
            );
        }
        eprintln!("{}: {} pipelines", c.name, got.len());
        distinct.extend(got.into_iter().map(|v| (key(&v), v)));
    }
    let dir = out_dir();
    let mut failures = Vec::new();
    let mut max = Needs::default();
    for v in distinct.values() {
        let name = format!("{} (entry {}, {:?})", v.label, v.entry, v.constants);
        let (module, info, n) = match specialise(v) {
            Ok(x) => x,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        for b in over_limits(&n) {
            failures.push(format!("{name}: over WebGPU's default limits: {b}"));
        }
        match translate(v, &module, &info, &dir) {
            Ok(sizes) => eprintln!(
                "{name}: workgroup {:?}, {} B workgroup storage, {} storage buffers; SPIR-V/MSL/HLSL/GLSL {sizes:?} B",
                n.workgroup_size, n.workgroup_bytes, n.storage_buffers
            ),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        max.workgroup_bytes = max.workgroup_bytes.max(n.workgroup_bytes);
        max.storage_buffers = max.storage_buffers.max(n.storage_buffers);
    }
    eprintln!(
        "{} distinct variants; at most {} B of workgroup storage and {} storage buffers",
        distinct.len(),
        max.workgroup_bytes,
        max.storage_buffers
    );
    assert!(distinct.len() >= 20, "only {} variants recorded: is the recording hooked into every pipeline?", distinct.len());
    assert!(failures.is_empty(), "{} of {} variants fail:\n{}", failures.len(), distinct.len(), failures.join("\n"));
}

/// A matmul variant doctored to stage 17 KiB in workgroup memory (what SwiftShader refused):
/// the limit check must name it, so the test above can fail.
#[test]
fn the_limit_check_catches_a_17_kib_workgroup_array_and_a_too_large_workgroup() {
    let base = every_variant().into_iter().find(|v| v.label == "matmul" && v.entry == "main").expect("the matmul kernel is built");
    let big = ShaderVariant {
        source: format!(
            "{}\nvar<workgroup> oversized: array<f32, 4352>;\n@compute @workgroup_size(16, 32, 1)\nfn doctored() {{ oversized[0] = 1.0; }}\n",
            base.source
        ),
        entry: "doctored".into(),
        ..base.clone()
    };
    let (_, _, n) = specialise(&big).unwrap();
    let bad = over_limits(&n);
    assert!(bad.iter().any(|b| b.starts_with("workgroup storage bytes 17408 > 16384")), "{bad:?}");
    assert!(bad.iter().any(|b| b.starts_with("invocations per workgroup 512 > 256")), "{bad:?}");
    // The untouched kernel passes the same check.
    let (_, _, n) = specialise(&base).unwrap();
    assert!(over_limits(&n).is_empty(), "{:?}", over_limits(&n));
}

/// `spirv-val` really judges the words it is given: a SPIR-V module with a broken instruction
/// stream is refused.
#[test]
fn spirv_val_refuses_a_corrupted_module() {
    let base = every_variant().into_iter().find(|v| v.label == "sgd_update").expect("sgd_update is built");
    let (module, info, _) = specialise(&base).unwrap();
    let words = spv::write_vec(
        &module,
        &info,
        &spv::Options::default(),
        Some(&spv::PipelineOptions { shader_stage: ShaderStage::Compute, entry_point: base.entry.clone() }),
    )
    .unwrap();
    let mut broken = words.clone();
    // Word 5 starts the first instruction (after the 5-word header): give it a length of 0.
    broken[5] &= 0xffff;
    let file = out_dir().join("corrupted.spv");
    std::fs::write(&file, bytemuck::cast_slice::<u32, u8>(&broken)).unwrap();
    let out = Command::new(spirv_val()).arg(&file).output().unwrap();
    assert!(!out.status.success(), "spirv-val accepted a module whose first instruction has length 0");
    std::fs::write(&file, bytemuck::cast_slice::<u32, u8>(&words)).unwrap();
    let out = Command::new(spirv_val()).arg(&file).output().unwrap();
    assert!(out.status.success(), "the intact module: {}", String::from_utf8_lossy(&out.stderr));
}

/// The engine embeds its kernels without their comments (build.rs): the documented files stay
/// the source, the page's wasm does not carry their prose. Every variant it builds is free of
/// comments, and still says which kernel it is (the entry point is there).
#[test]
fn the_engine_embeds_its_shaders_without_comments() {
    let all = every_variant();
    for v in &all {
        assert!(!v.source.contains("//") && !v.source.contains("/*"), "{} ({}): a comment survived in the embedded WGSL", v.label, v.entry);
        assert!(v.source.contains(&format!("fn {}(", v.entry)), "{}: entry point {} is missing", v.label, v.entry);
    }
    // The files themselves keep theirs (the stripping is the build's, not an edit of shaders/).
    let with_comments = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders"))
        .unwrap()
        .filter(|e| std::fs::read_to_string(e.as_ref().unwrap().path()).unwrap().contains("//"))
        .count();
    assert!(with_comments > 0, "shaders/ has no comments left: is this the documented source?");
}
