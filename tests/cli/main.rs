//! Whole runs as a user gets them: the `cabs` command (errors, CSV, probes, `cabs reproduce` and
//! the committed reproduction), training on the bundled MNIST digits, and the interfaces shared
//! with the page (the settings schema and the CSV row). Native only.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../common/mod.rs"]
mod common;

mod auto_handover;
mod checkpoint;
mod cli;
mod committed_reproduction;
mod committed_rules;
mod kept_study_runs;
mod mnist_end_to_end;
mod named_data;
mod record_schema;
mod reproduce_cli;
mod reproduce_resume;
mod rules;
mod settings_schema;
mod study_script;
mod threads;
