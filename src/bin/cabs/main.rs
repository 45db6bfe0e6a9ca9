//! `cabs` — the native command-line runner: the same engine as the page, headless, on any
//! machine with a GPU (or lavapipe, or `--backend cpu`). Subcommands: `train`, `bench`,
//! `reproduce`, `study`, `plan`, `gpu`.
//! Every failure is one line on stderr and a non-zero exit; nothing panics on bad input.
//!
//! This file dispatches: the subcommands import the flags (`args.rs`) and the data loading
//! (`dataset.rs`), and nothing imports the dispatch.

#[cfg(not(target_arch = "wasm32"))]
mod args;
#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod checkpoint;
#[cfg(not(target_arch = "wasm32"))]
mod dataset;
#[cfg(not(target_arch = "wasm32"))]
mod error;
#[cfg(not(target_arch = "wasm32"))]
mod plan;
#[cfg(not(target_arch = "wasm32"))]
mod plot;
#[cfg(not(target_arch = "wasm32"))]
mod reproduce;
#[cfg(not(target_arch = "wasm32"))]
mod session;
#[cfg(not(target_arch = "wasm32"))]
mod train;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    if let Err(e) = run(std::env::args_os().skip(1).collect()) {
        eprintln!("cabs: error: {e}");
        std::process::exit(e.exit_code());
    }
}

/// Run one subcommand with the process's arguments (program name left out).
#[cfg(not(target_arch = "wasm32"))]
fn run(args: Vec<std::ffi::OsString>) -> error::CliResult<()> {
    let (command, a) = args::parse(args)?;
    if matches!(command.as_str(), "train" | "bench" | "reproduce") {
        // The trainer builds its engine itself, so the count is the process's default for CPU
        // engines (every engine `reproduce --jobs` builds gets it).
        let jobs = if command == "reproduce" { a.repro.jobs } else { 1 };
        let (n, warning) = args::threads_per_engine(a.threads, jobs, cabs::fast::pool::available_threads());
        if let Some(w) = warning {
            eprintln!("cabs: warning: {w}");
        }
        cabs::fast::pool::set_default_threads(n);
    }
    match command.as_str() {
        "help" => {
            print!("{}", args::HELP);
            Ok(())
        }
        "train" => crate::train::train(a),
        "bench" => crate::bench::bench(a),
        "gpu" => crate::bench::show_gpu(a),
        "reproduce" => crate::reproduce::reproduce(a),
        "study" => crate::reproduce::study::study(a),
        "plan" => crate::plan::plan(a),
        other => Err(error::CliError::usage(format!(
            "unknown command '{other}' (use train, bench, reproduce, study, plan or gpu; see cabs --help)"
        ))),
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
