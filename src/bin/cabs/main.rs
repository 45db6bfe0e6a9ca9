//! `cabs` — the native command-line runner: the same engine as the page, headless, on any
//! machine with a GPU (or lavapipe, or `--backend cpu`). Subcommands: `train`, `bench`,
//! `reproduce`, `gpu`.
//! Every failure is one line on stderr and a non-zero exit; nothing panics on bad input.

#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod error;
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
    if let Err(e) = cli::run(std::env::args_os().skip(1).collect()) {
        eprintln!("cabs: error: {e}");
        std::process::exit(e.exit_code());
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
