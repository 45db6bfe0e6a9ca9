//! The method's numbers against independent oracles: the batch-size rule's exact properties,
//! the CPU twins of the dense and convolutional layers against finite differences and
//! materialised per-example gradients, and a convolutional probe file recomputed by an f64
//! implementation that uses nothing of the crate. Native only.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../common/mod.rs"]
mod common;

mod cabs_rule;
mod conv_reference;
mod inner_products;
mod probe_cnn;
mod reference_vs_brute_force;
