//! Whole runs as a user gets them: the `cabs` command (errors, CSV, probes, `cabs reproduce` and
//! the committed reproduction), and training on the bundled MNIST digits. Native only.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod mnist_end_to_end;
mod reproduce_cli;
