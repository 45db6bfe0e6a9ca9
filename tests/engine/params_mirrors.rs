//! Each kernel's parameter struct in Rust mirrors the uniform struct its shader declares: the
//! same named fields in the same order, each of the same scalar type (u32 or f32), and the same
//! size with the padding. A field added, renamed, moved or retyped on one side only fails here,
//! rather than as a uniform the shader reads shifted. The fields are read from the struct's
//! `Debug` output of its default value (a u32 prints as `0`, an f32 as `0.0`), so the Rust side
//! is the struct itself, not a second list; the WGSL side is the shader's own text.
#![cfg(not(target_arch = "wasm32"))]

use cabs::gpu::conv::{ConvParams, PoolParams, PrepParams};
use cabs::gpu::kernels::StepUniform;
use cabs::gpu::matmul::MatmulParams;
use cabs::gpu::small::{
    BiasGradParams, GatherParams, InnerProductVarParams, InnerProductsParams, PerExampleNormsParams, ReduceStatsParams, SgdUpdateParams,
    SoftmaxXentParams,
};

/// The fields of `struct <name>` in WGSL source: (name, type), comments dropped.
fn wgsl_fields(source: &str, name: &str) -> Result<Vec<(String, String)>, String> {
    let text: String = source.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let start = text.find(&format!("struct {name} {{")).ok_or(format!("no struct {name}"))?;
    let body = &text[start..];
    let body = &body[body.find('{').unwrap_or(0) + 1..body.find('}').ok_or(format!("struct {name} is not closed"))?];
    body.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| match f.split_once(':') {
            Some((n, t)) => Ok((n.trim().to_string(), t.trim().to_string())),
            None => Err(format!("struct {name}: cannot read the field '{f}'")),
        })
        .collect()
}

/// The fields of a struct's `Debug` text, `Name { a: 0, b: 0.0, _pad: [0, 0] }`: (name, value).
fn debug_fields(debug: &str) -> Vec<(String, String)> {
    let inner = &debug[debug.find('{').map_or(0, |i| i + 1)..debug.rfind('}').unwrap_or(debug.len())];
    let (mut fields, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in inner.chars().chain([',']) {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                if let Some((n, v)) = cur.split_once(':') {
                    fields.push((n.trim().to_string(), v.trim().to_string()));
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    fields
}

/// Compare a Rust parameter struct (its `Debug` text and size) with the WGSL struct `name`.
fn compare(debug: &str, size: usize, source: &str, name: &str) -> Result<(), String> {
    let wgsl = wgsl_fields(source, name)?;
    let named = |n: &str| !n.starts_with('_');
    let w: Vec<(String, &str)> =
        wgsl.iter().filter(|(n, _)| named(n)).map(|(n, t)| (n.clone(), if t == "f32" { "f32" } else { "u32" })).collect();
    let r: Vec<(String, &str)> =
        debug_fields(debug).into_iter().filter(|(n, _)| named(n)).map(|(n, v)| (n, if v.contains('.') { "f32" } else { "u32" })).collect();
    if w != r {
        return Err(format!("{name}: WGSL has {w:?}, Rust has {r:?}"));
    }
    if let Some((n, t)) = wgsl.iter().find(|(_, t)| !["u32", "f32", "i32"].contains(&t.as_str())) {
        return Err(format!("{name}: field {n} is a {t}, not a 4-byte scalar"));
    }
    if size != 4 * wgsl.len() {
        return Err(format!("{name}: {} bytes in WGSL, {size} in Rust", 4 * wgsl.len()));
    }
    Ok(())
}

macro_rules! mirror {
    ($t:ty, $file:literal, $name:literal) => {
        (stringify!($t), format!("{:?}", <$t>::default()), std::mem::size_of::<$t>(), include_str!(concat!("../../shaders/", $file)), $name)
    };
}

fn mirrors() -> Vec<(&'static str, String, usize, &'static str, &'static str)> {
    vec![
        mirror!(StepUniform, "step.wgsl", "Step"),
        mirror!(MatmulParams, "matmul.wgsl", "Params"),
        mirror!(ConvParams, "conv_params.wgsl", "Conv"),
        mirror!(PoolParams, "conv_params.wgsl", "Pool"),
        mirror!(PrepParams, "crop_standardize.wgsl", "Prep"),
        mirror!(GatherParams, "gather_batch.wgsl", "Params"),
        mirror!(SoftmaxXentParams, "softmax_xent.wgsl", "Params"),
        mirror!(BiasGradParams, "bias_grad.wgsl", "Params"),
        mirror!(PerExampleNormsParams, "per_example_norms.wgsl", "Params"),
        mirror!(SgdUpdateParams, "sgd_update.wgsl", "Params"),
        mirror!(ReduceStatsParams, "reduce_stats.wgsl", "Params"),
        mirror!(InnerProductsParams, "inner_products.wgsl", "Params"),
        mirror!(InnerProductVarParams, "inner_product_var.wgsl", "Params"),
    ]
}

#[test]
fn every_parameter_struct_mirrors_its_shaders_uniform_struct() {
    for (rust, debug, size, source, name) in mirrors() {
        compare(&debug, size, source, name).unwrap_or_else(|e| panic!("{rust}: {e}"));
    }
}

#[test]
fn the_mirror_comparison_fails_on_a_doctored_shader() {
    let (_, debug, size, source, name) = mirrors().remove(6); // softmax_xent
    assert!(compare(&debug, size, source, name).is_ok());
    let renamed = source.replace("classes: u32", "n_classes: u32");
    assert!(compare(&debug, size, &renamed, name).unwrap_err().contains("n_classes"));
    let retyped = source.replace("classes: u32", "classes: f32");
    assert!(compare(&debug, size, &retyped, name).is_err());
    let longer = source.replace("_p2: u32 }", "_p2: u32, _p3: u32 }");
    assert!(compare(&debug, size, &longer, name).unwrap_err().contains("bytes"), "a padding field more changes the size");
}
