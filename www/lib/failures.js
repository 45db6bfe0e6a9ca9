// How the worker tells failures apart: a run that diverged (it stops alone, the comparison goes
// on), a trap in the wasm engine (the module instance is poisoned and must be replaced), and
// everything else (shown to the user in words). Pure functions, no DOM; shared with the tests.

/**
 * The step at which `err` says a run diverged, or null for any other failure. The engine's
 * error carries `name: "DivergedError"` and a numeric `step`; older builds only say so in the
 * message ("training diverged at step N: …"), which is read as a fallback.
 */
export function divergedAt(err) {
  if (err?.name === "DivergedError" && Number.isFinite(Number(err.step))) return Number(err.step);
  const text = err instanceof Error ? err.message : String(err);
  const m = /training diverged at step (\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

/** A trap inside the wasm engine (a Rust panic or abort, e.g. `RuntimeError: unreachable`). */
export function isCrash(err) {
  return (typeof WebAssembly !== "undefined" && err instanceof WebAssembly.RuntimeError) || err?.name === "RuntimeError";
}

/**
 * Whether `err` refuses the settings themselves: the engine checks them once, as it makes a
 * trainer, and marks that refusal (a ConfigError with `invalidSettings: true`, what
 * `checkSettings` would throw). The page answers it by falling back to its defaults; every other
 * failure, a ConfigError of the run itself included (e.g. out of memory), stays an error.
 */
export function refusedSettings(err) {
  return err?.name === "ConfigError" && err.invalidSettings === true;
}
