// The training worker: owns the wasm engine and the training loop, so the page only draws.
// It trains every run of the comparison (CABS + baselines) in lock step, one step each per
// round, and talks to the page with typed messages:
//   page → worker  {type:"init", runs:[{id, settings}], evalEvery, mnist, files, gridSize, play}
//                  (mnist: the bundle's ArrayBuffer, or null: the worker fetches data/mnist.bin.gz;
//                  files: null, or the user's own [{name, bytes: ArrayBuffer}], transferred)
//                  {type:"prefetch"} (start fetching the bundle now: init will want it; the
//                  page's early worker is told by its URL instead, worker.js?prefetch=mnist)
//                  {type:"play"} {type:"pause"} {type:"step"} {type:"setLr", lr}
//   worker → page  {type:"ready", backend, info, runs, createMs, marks} (marks: start-up, epoch ms)
//                  {type:"backend", backend} (the hand-over to WebGPU settled: moved, stayed or failed)
//                  {type:"rollback", step, lostAt, backend} (WebGPU was lost: every run went back
//                  to its snapshot after `step` and continues on the CPU; rows after `step` are void)
//                  {type:"snapshot", snapshots} (on WebGPU: a snapshot was taken; count, step, cost)
//                  {type:"steps", records:[{run, …step stats, wallMs, testLoss?, testAccuracy?}], marks?}
//                  {type:"boundary", n, lo, hi, classes, maps:[{run, probs}], points?:{xy, labels}}
//                  {type:"state", running} {type:"note", message}
//                  {type:"invalid", message} (settings the engine refuses: a trainer's creation
//                  rejected them, see refusedSettings) {type:"error", message}
//                  {type:"stopped", run, step, reason:"diverged", message} (one run stopped alone)
//                  {type:"crashed", message} (the engine trapped; the worker loaded a fresh one)
// A reset is a new worker (the page terminates this one), which also aborts a long step.
// A run that diverges stops alone: its records end before the diverging step and the other runs
// go on. A trap in the wasm engine (a Rust panic or abort: `RuntimeError: unreachable`) poisons
// that module instance, so the worker drops its trainers, reports "engine crashed: …" and imports
// a fresh instance (a new module URL, hence new wasm memory) instead of hanging on a promise the
// trap left unsettled.
// A lost WebGPU device (or any other failure of a step on WebGPU) does not end the comparison:
// while on WebGPU the worker keeps a snapshot of every run's state (exportState) every
// SNAPSHOT_MS, and on a failure every run goes back to it on a new CPU trainer
// (Trainer.createFromState), which trains the steps after it again (see rollBack).
// lib/failures.js tells failures apart. It is imported beside the engine and the data, not
// statically: a static import would hold this worker's first line (the fetches below) until it
// arrived. Messages wait for it (see onmessage); nothing else can fail before one came.
let divergedAt, isCrash, refusedSettings;
const helpers = import("./lib/failures.js").then((m) => ({ divergedAt, isCrash, refusedSettings } = m));
helpers.catch(() => {}); // said when a message comes (onmessage)

const MAX_ROUNDS_PER_SECOND = 120; // keeps tiny 2-D models watchable instead of a blur
const FLUSH_MS = 50; // batch step records into one message at most this often
const BOUNDARY_MS = 250; // how often the decision-boundary maps are recomputed while training
// How often the runs' states are read back while on WebGPU: a lost device retrains at most this
// much. One snapshot of an MNIST MLP reads ~0.8 MB of weights back (a few ms), so 2 s keeps the
// cost far below 2 % of the time spent stepping (measured: handover.snapshots.share).
const SNAPSHOT_MS = 2000;

// Start-up marks (issue 19's start-up breakdown), as epoch ms so the page can put them on its
// own clock: the worker's performance.now() counts from the worker's start, not the page's.
const epoch = () => performance.timeOrigin + performance.now();
const marks = { workerStart: epoch() };
let marksSent = false; // sent once more with the first step records
let firstStepAt = null; // when the first step's record was made

let engine = null; // the wasm-bindgen module {default: init, Trainer, …}
let loading = null; // the engine's import and compile under way
let instance = 0; // bumped after a crash: each instance is a fresh module with its own memory
let generation = 0; // bumped after a crash: loops and queues of the old instance are abandoned
let runs = []; // {id, rule, trainer, wallMs, stopped, diverged}
let evalEvery = 50;
let grid = null; // {n, lo, hi, points: Float32Array} for 2-D data sets
let running = false;
let looping = false;
let pendingSteps = 0;
let pendingLr = null;
let liveLr = null; // the α the user set last (a rollback's older snapshot must not undo it)
let buffer = [];
let lastFlush = 0;
let lastBoundary = 0;

// The engine allows one call at a time (a step, an evaluation or a prediction); every use goes
// through this queue so that messages arriving mid-step never collide with it.
let queue = Promise.resolve();
function exclusive(fn) {
  const run = queue.then(fn);
  queue = run.catch(() => {});
  return run;
}

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
// On one line: wgpu's errors from the browser carry a JS value's text with line breaks.
const message = (e) => (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");

// The wasm is fetched and compiled (streaming) from the worker's first line, beside the import
// of its JavaScript glue (cabs.js, then its snippet), not after it: three requests in a row
// otherwise. A failure is reported by loadEngine, which awaits this.
const compiled = fetch(new URL("./pkg/cabs_bg.wasm", import.meta.url)).then(async (res) => {
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
  try {
    return await WebAssembly.compileStreaming(res.clone());
  } catch (err) {
    // A host that sends another type than application/wasm: compiled once it has all arrived.
    if (res.headers.get("content-type")?.split(";")[0].trim() === "application/wasm") throw err;
    return WebAssembly.compile(await res.arrayBuffer());
  }
});
compiled.catch(() => {}); // reported when loadEngine awaits it

/** The engine module, imported once per instance and instantiated from `compiled`. */
function loadEngine() {
  if (engine) return Promise.resolve(engine);
  loading ??= (async () => {
    try {
      const mod = await import(instance ? `./pkg/cabs.js?instance=${instance}` : "./pkg/cabs.js");
      // A fresh instance after a crash reuses the compiled module (a new instance, new memory).
      await mod.default({ module_or_path: compiled });
      engine = mod;
      if (!marks.engine) {
        marks.engine = epoch();
        const fetched = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/cabs_bg.wasm"));
        if (fetched) marks.wasmFetched = performance.timeOrigin + fetched.responseEnd;
      }
      return mod;
    } catch (err) {
      throw new Error(`the training engine (pkg/cabs_bg.wasm) could not be loaded: ${message(err)}. Build it with scripts/build-wasm.sh`);
    } finally {
      loading = null;
    }
  })();
  return loading;
}
// Fetch and compile the engine now, while the page is still loading its own modules and data:
// the init message finds it ready (or under way). A failure is reported when init asks again.
loadEngine().catch(() => {});
// The MNIST bundle is fetched here, in parallel with the compile, not through the page: the early
// worker is told by its URL (?prefetch=mnist, read at once), else init starts it. A failure is
// forgotten (retried when init asks).
// It comes gzipped (data/mnist.bin.gz, 1.6 MB; setup.sh writes it beside the 7.9 MB mnist.bin):
// static hosts rarely compress an octet stream, and even from localhost the 7.9 MB were the first
// trainer's last wait. The browser's DecompressionStream inflates it as it arrives, and checks the
// gzip trailer's CRC-32 and length; the engine then checks the bundle's own CRC-32. A host without
// the .gz, or a browser without DecompressionStream, gets mnist.bin as before.
let mnistBytes = null; // a promise of the bundle's bytes (Uint8Array)
async function fetchBundle(name) {
  try {
    return await fetch(new URL(`./data/${name}`, import.meta.url));
  } catch (err) {
    throw new Error(`the MNIST bundle data/${name} could not be loaded (${message(err)})`);
  }
}
/** A gzip stream's bytes, inflated as they arrive; bytes that do not start as gzip pass as they
 * are (a host that sends the .gz with `Content-Encoding: gzip` has the browser inflate it). */
async function inflated(body) {
  const reader = body.getReader();
  const first = await reader.read();
  const gzip = !first.done && first.value[0] === 0x1f && first.value[1] === 0x8b;
  const stream = new ReadableStream({
    start(c) { first.done ? c.close() : c.enqueue(first.value); },
    async pull(c) { const { done, value } = await reader.read(); done ? c.close() : c.enqueue(value); },
    cancel(why) { return reader.cancel(why); },
  });
  return new Response(gzip ? stream.pipeThrough(new DecompressionStream("gzip")) : stream).arrayBuffer();
}
function fetchMnist() {
  mnistBytes ??= (async () => {
    let res = typeof DecompressionStream === "function" ? await fetchBundle("mnist.bin.gz") : null;
    let bytes;
    if (res?.ok) {
      try {
        bytes = new Uint8Array(await inflated(res.body));
      } catch (err) {
        throw new Error(`the MNIST bundle data/mnist.bin.gz could not be inflated (${message(err)}): the download broke off or the file is corrupt; reload, or run scripts/setup.sh`);
      }
    } else {
      res = await fetchBundle("mnist.bin");
      if (!res.ok) throw new Error(`the MNIST bundle data/mnist.bin could not be loaded (HTTP ${res.status}); run scripts/setup.sh`);
      // Through a Blob: its bytes are collected outside this thread, where arrayBuffer() would
      // read the body here chunk by chunk (tens of ms of this thread for 8 MB).
      bytes = new Uint8Array(await (await res.blob()).arrayBuffer());
    }
    marks.data ??= epoch();
    return bytes;
  })();
  mnistBytes.catch(() => { mnistBytes = null; });
  return mnistBytes;
}
// The browser's adapter is asked for now too (what it says does not change while the page lives):
// auto and gpu need it before their first trainer, backend=cpu only shows its name.
if (new URL(import.meta.url).searchParams.get("prefetch") === "mnist") fetchMnist().catch(() => {});
let noAdapter = false; // the browser answered: no WebGPU adapter (not: it could not be asked)
const adapterAsked = describeAdapter().then((a) => { marks.adapter = epoch(); return a; });

/** Every failure ends here: a crash drops the poisoned instance and loads a fresh one. */
function fail(err) {
  if (!isCrash(err)) return post({ type: "error", message: message(err) });
  generation++;
  runs = [];
  handover = null; // the GPU trainers being built belong to the poisoned instance too
  gpuRuns = null;
  snap = null;
  running = false;
  looping = false;
  pendingSteps = 0;
  buffer = [];
  queue = Promise.resolve(); // the old queue may wait forever on a promise the trap left unsettled
  engine = null;
  loading = null;
  instance++;
  post({ type: "crashed", message: `engine crashed: ${message(err)}` });
  post({ type: "state", running: false });
  loadEngine().catch((e) => post({ type: "error", message: message(e) }));
}
// A trap inside a wasm callback (a step's future) surfaces here, not in any promise.
self.addEventListener("error", (e) => { if (isCrash?.(e.error)) { e.preventDefault(); fail(e.error); } });
self.addEventListener("unhandledrejection", (e) => { if (isCrash?.(e.reason)) { e.preventDefault(); fail(e.reason); } });

// In the order they came, once lib/failures.js is in (one promise: its callbacks keep the order).
self.onmessage = (e) => {
  helpers.then(() => onMessage(e), (err) => post({ type: "error", message: `the training worker could not load lib/failures.js: ${message(err)}` }));
};
function onMessage(e) {
  const msg = e.data || {};
  const handle = {
    init: () => start(msg),
    prefetch: () => { fetchMnist().catch(() => {}); }, // a failure is reported when init asks again
    play: () => { running = true; loop(); },
    pause: () => { running = false; },
    step: () => { pendingSteps++; loop(); },
    setLr: () => { pendingLr = Number(msg.lr); if (!looping) return exclusive(applyLr); },
  }[msg.type];
  if (!handle) return post({ type: "error", message: `the worker got an unknown message '${String(msg.type)}'` });
  Promise.resolve(handle()).catch(fail);
}

async function start({ runs: specs, evalEvery: every, mnist, files, gridSize, play }) {
  const t0 = performance.now();
  marks.init = epoch();
  const requested = specs[0]?.settings?.backend ?? "auto";
  const adapterInfo = adapterAsked;
  // The data set (unless sent, or the user's files) and the engine, together.
  const wantsMnist = !mnist && !files && (specs[0]?.settings?.data ?? "mnist") === "mnist";
  const [{ Trainer, noteBrowserAdapter }, fetched] = await Promise.all([loadEngine(), wantsMnist ? fetchMnist() : null]);
  // Without an adapter the engine falls back to its CPU twin, saying why, without asking the
  // browser a second time (≈ 5 ms of making the first trainer).
  if (requested !== "cpu") {
    await adapterInfo;
    if (noAdapter) noteBrowserAdapter(false);
  }
  const gen = generation;
  runs = [];
  grid = null;
  handover = null;
  // The settings are not checked here: making each trainer checks them (the engine's one check
  // of them), and a refusal of any run's settings drops the runs made so far and says so.
  const refuse = (err) => {
    for (const r of runs) r.trainer.free();
    runs = [];
    handover = null;
    post({ type: "invalid", message: message(err) });
  };
  evalEvery = Math.max(1, every | 0);
  const bytes = mnist ? new Uint8Array(mnist) : fetched ?? undefined;
  // The user's files: views on the transferred buffers, no copies (the engine reads them per run).
  const userFiles = files ? files.map((f) => ({ name: String(f.name), bytes: new Uint8Array(f.bytes) })) : null;
  startArgs = { mnistOk: !userFiles, mnist: bytes };
  const make = (settings) => {
    marks.createStart ??= epoch(); // the first trainer's creation begins (everything it waits for is in)
    return userFiles ? createWithFiles(Trainer, settings, userFiles) : Trainer.create(settings, bytes);
  };
  // With a WebGPU adapter, auto and gpu start on the CPU engine at once (building WebGPU takes
  // seconds, 6–25 s on SwiftShader) and the runs move when WebGPU is built (see handOver).
  // Without an adapter nothing would be built: the engine falls back exactly as before.
  // Only the first run's trainer (tens of ms each) is built before the first step; the others
  // are built between rounds and catch up (see round).
  const newRun = (spec, trainer) => ({ id: spec.id, rule: spec.settings.rule, settings: spec.settings, trainer, wallMs: 0, stopped: false, diverged: null });
  let early = null; // why the runs did not start on the CPU although WebGPU was asked for
  let cpuFirst = false; // the runs start on the CPU engine and WebGPU is built behind them
  if (requested !== "cpu" && (await adapterInfo)) {
    try {
      const trainer = await make({ ...specs[0].settings, backend: "cpu" });
      if (gen !== generation) return; // the engine crashed meanwhile
      runs.push(newRun(specs[0], trainer));
      cpuFirst = true;
      handover = { requested, state: "building", from: "cpu", to: "gpu", atStep: null, trial: null, reason: null, buildMs: null, worstGapMs: 0, engines: null };
    } catch (err) {
      if (isCrash(err)) throw err;
      if (refusedSettings(err) && gen === generation) return refuse(err);
      // E.g. the CPU engine's memory plan cannot hold the model: start on WebGPU as before.
      early = `the CPU engine could not start this run (${message(err)}), so it started on the engine asked for`;
    }
  }
  let chosen = null; // the engine `auto` chose for the first run: the others use it too, untimed
  const settingsOf = (spec) => (cpuFirst ? { ...spec.settings, backend: "cpu" }
    : chosen && (spec.settings.backend ?? "auto") === "auto" ? { ...spec.settings, backend: chosen } : spec.settings);
  if (runs.length === 0) {
    let trainer;
    try {
      trainer = await make(settingsOf(specs[0]));
    } catch (err) {
      if (refusedSettings(err) && gen === generation) return refuse(err);
      throw err;
    }
    chosen = trainer.backend().kind;
    if (gen !== generation) return; // the engine crashed meanwhile
    runs.push(newRun(specs[0], trainer));
  }
  marks.firstTrainer = epoch();
  const info = runs[0].trainer.info();
  if (info.inputDim === 2 && gridSize > 0) grid = makeGrid(gridSize, -1.6, 1.6);
  lastAdapter = await adapterInfo;
  const backend = describeBackend(lastAdapter);
  if (early) backend.startNote = early;
  post({
    type: "ready", backend, info,
    runs: specs.map((r) => ({ id: r.id, rule: r.settings.rule })), createMs: performance.now() - t0, marks: { ...marks },
  });
  if (play) { running = true; loop(); } // the page asked for it with init: no round trip to start
  for (const spec of specs.slice(1)) {
    // Between two rounds (the queue): never during a step.
    await exclusive(async () => {
      if (gen !== generation) return;
      let trainer;
      try {
        trainer = await make(settingsOf(spec));
      } catch (err) {
        if (refusedSettings(err) && gen === generation) return refuse(err);
        throw err;
      }
      if (gen !== generation) return trainer.free();
      if (liveLr !== null) trainer.setLearningRate(liveLr); // α was changed before this run existed
      runs.push(newRun(spec, trainer));
    });
    if (gen !== generation) return;
  }
  marks.trainers = epoch();
  await exclusive(boundary);
  if (handover) {
    handover.worstGapMs = 0; // the gaps while the hand-over builds WebGPU, not the trainers' above
    lastRound = 0;
    buildGpu(make, gen, await adapterInfo).catch((err) => {
      if (isCrash(err)) return fail(err);
      if (gen !== generation) return;
      settle("failed", `WebGPU could not be built (${message(err)}); the runs stay on the CPU engine`);
    });
  }
}

/** The backend info the page shows: the first run's engine, the browser's adapter, the hand-over. */
function describeBackend(adapter) {
  const b = runs[0].trainer.backend();
  b.browserAdapter = adapter ?? null;
  b.handover = handover && { ...handover };
  return b;
}

// ---- the hand-over: CPU at once, WebGPU when it is built ---------------------------------
// The GPU trainers are built in this worker while the CPU trainers step: wgpu's pipeline
// creation is asynchronous on the web (Chromium compiles in its GPU process), so the loop keeps
// stepping; the longest gap between two rounds during the build is measured (worstGapMs) so a
// regression that blocks the worker shows up in the hand-over's figures.
let handover = null; // {requested, state: building|trial|moved|stayed|failed, atStep, trial, reason, …}
let gpuRuns = null; // the GPU trainers being built or built, one per run, same order
let lastRound = 0; // when the latest round started, for worstGapMs
let startArgs = { mnistOk: true, mnist: undefined }; // what a spare CPU trainer for the trial needs
let lastAdapter = null; // the browser's adapter info, for the backend messages

async function buildGpu(make, gen, adapter) {
  const t0 = performance.now();
  const built = runs.map(() => null);
  const build = async (which) => {
    for (const i of which) {
      built[i] = await make({ ...runs[i].settings, backend: "gpu" });
      if (gen !== generation) throw new Error("stale");
    }
  };
  // auto on a software adapter times one run first (see trial): the other runs' WebGPU engines
  // are built only when WebGPU wins, so a losing trial costs one build (each compiles its own
  // pipelines, seconds of both cores on SwiftShader, while the CPU trains), not one per run.
  const first = Math.max(0, runs.findIndex((r) => !r.stopped));
  const rest = runs.map((_, i) => i).filter((i) => i !== first);
  try {
    await build([first]);
    handover.buildMs = Math.round(performance.now() - t0); // the first engine's (all of them: below)
    const info = built[first].backend();
    const software = Boolean(adapter?.isFallbackAdapter) || info.adapter?.deviceType === "Cpu";
    gpuRuns = built;
    if (handover.requested === "auto" && software) {
      // Between two rounds: no step runs while the trial times the engines or the states move.
      const verdict = await exclusive(() => (gen !== generation ? null : trial(adapter, first)));
      if (!verdict) return;
      if (!verdict.gpu) return settle("stayed", verdict.reason);
      handover.state = "building"; // the other runs' engines, while the CPU trains on
      await build(rest);
      handover.buildMs = Math.round(performance.now() - t0);
      return await exclusive(() => (gen !== generation ? null : moveAll("gpu", verdict.reason)));
    }
    await build(rest);
  } catch (err) {
    if (gpuRuns !== built) for (const t of built) t?.free(); // else the caller's settle frees them
    throw err;
  }
  handover.buildMs = Math.round(performance.now() - t0);
  await exclusive(() => (gen !== generation ? null : moveAll("gpu", `WebGPU was built in ${handover.buildMs} ms (backend=${handover.requested}${handover.requested === "auto" ? ", a hardware adapter" : ""})`)));
}

/**
 * auto on a software adapter: time both engines from the live state of run `i`; resolves to
 * {gpu: whether WebGPU was faster, reason}.
 */
async function trial(adapter, i) {
  handover.state = "trial";
  const r = runs[i];
  const state = await r.trainer.exportState(schedule(r));
  // One warm-up step, then at least three timed ones and on until 30 ms have passed (at most
  // 50): a tiny model's CPU step is shorter than a worker's clock resolution (0.1 ms).
  const timeSteps = async (t) => {
    await t.importState(state);
    const first = await t.step();
    const s = performance.now();
    let n = 0;
    try {
      while (n < 3 || (performance.now() - s < 30 && n < 50)) { await t.step(); n++; }
    } catch (err) {
      if (n === 0 || divergedAt(err) === null) throw err; // a clone diverging ends its timing
    }
    return { ms: (performance.now() - s) / n, steps: n, batch: first.batchSize };
  };
  const t0 = performance.now();
  // The CPU side times a throw-away CPU trainer (the live one must not take extra steps);
  // the GPU trainer's trial steps are discarded: the hand-over imports the live state again.
  const gpu = await timeSteps(gpuRuns[i]);
  const cpuTrainer = runs[i].trainer;
  const spare = await cloneCpu(r, state);
  let cpu;
  try {
    cpu = spare ? await timeSteps(spare) : { ms: r.wallMs / Math.max(1, cpuTrainer.stepsDone()), steps: Number(cpuTrainer.stepsDone()), batch: gpu.batch };
  } finally {
    spare?.free();
  }
  const step = Number(cpuTrainer.stepsDone());
  const where = [adapter?.description, adapter?.vendor, adapter?.architecture].filter(Boolean).join(" ") || "isFallbackAdapter";
  handover.trial = { batch: gpu.batch, steps: Math.min(cpu.steps, gpu.steps), cpuSteps: cpu.steps, gpuSteps: gpu.steps, atStep: step, cpuMsPerStep: cpu.ms, gpuMsPerStep: gpu.ms, totalMs: performance.now() - t0, adapter: where };
  const figures = `CPU ${ms(cpu.ms)} ms/step vs WebGPU ${ms(gpu.ms)} ms/step at m = ${gpu.batch}`;
  const said = `auto timed both on the live run (software adapter ${where}, step ${step}): ${figures}`;
  return gpu.ms < cpu.ms ? { gpu: true, reason: `${said}; moving to WebGPU` } : { gpu: false, reason: `${said}; staying on the CPU engine` };
}

/** A CPU trainer continuing `state`, for timing only; null where the data cannot be re-read (user files). */
async function cloneCpu(r, state) {
  if (!startArgs.mnistOk) return null;
  return engine.Trainer.createFromState({ ...r.settings, backend: "cpu" }, state, startArgs.mnist);
}

/** The next step the worker evaluates at (carried in the state; the schedule is the worker's). */
function schedule(r) {
  const k = Number(r.trainer.stepsDone());
  return { every: evalEvery, nextStep: (Math.floor(k / evalEvery) + 1) * evalEvery };
}

/** Every run moves together: export each live state, import it into its GPU trainer. */
async function moveAll(to, reason) {
  const moved = [];
  const states = runs.map(() => null);
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i];
    if (r.stopped) continue; // a diverged run's curve ended; it stays where it stopped
    states[i] = await r.trainer.exportState(schedule(r));
    await gpuRuns[i].importState(states[i]);
    moved.push(i);
  }
  const step = moved.length ? Number(runs[moved[0]].trainer.stepsDone()) : null;
  for (const i of moved) {
    // The user's files cannot be read again by createFromState: keep the CPU trainer for a rollback.
    if (startArgs.mnistOk) runs[i].trainer.free();
    else runs[i].spare = runs[i].trainer;
    runs[i].trainer = gpuRuns[i];
    gpuRuns[i] = null;
  }
  handover.atStep = step;
  // The states just moved are the first snapshot: a device lost at once goes back to here.
  snap = { step, states, wallMs: runs.map((r) => r.wallMs), at: performance.now() };
  handover.snapshots = { everyMs: SNAPSHOT_MS, count: 1, step, ms: 0, stepMs: 0, share: 0 };
  settle("moved", `${reason}: the runs moved from the CPU engine to ${to === "gpu" ? "WebGPU" : "the CPU"} after step ${step}`);
}

/** The hand-over is over (moved, stayed or failed): free what is left and tell the page. */
function settle(state, reason) {
  for (const t of gpuRuns ?? []) t?.free();
  gpuRuns = null;
  handover.state = state;
  handover.reason = reason;
  handover.engines = runs.map((r) => ({ run: r.id, spans: r.trainer.engines() }));
  post({ type: "backend", backend: describeBackend(lastAdapter) });
}

// ---- back to the CPU when WebGPU is lost ------------------------------------------------
let snap = null; // {step, states: [Uint8Array|null per run], wallMs: [per run], at}: the last snapshot on WebGPU

/** Whether the runs are on WebGPU now (moved there, not lost since). */
const onGpu = () => handover?.state === "moved";

/** Every SNAPSHOT_MS on WebGPU: read every live run's state back (between two rounds). */
async function snapshotAll() {
  if (!onGpu() || !snap) return;
  const t0 = performance.now();
  const states = runs.map(() => null);
  for (let i = 0; i < runs.length; i++) if (!runs[i].stopped) states[i] = await runs[i].trainer.exportState(schedule(runs[i]));
  const live = runs.findIndex((r, i) => states[i]);
  const step = live < 0 ? snap.step : Number(runs[live].trainer.stepsDone());
  snap = { step, states, wallMs: runs.map((r) => r.wallMs), at: performance.now() };
  const s = handover.snapshots;
  s.count++;
  s.step = step;
  s.ms += snap.at - t0;
  s.share = s.stepMs > 0 ? s.ms / s.stepMs : 0;
  post({ type: "snapshot", snapshots: { ...s } });
}

/**
 * A step (or evaluation, or map) on WebGPU failed, e.g. the device was lost: every run goes
 * back to the last snapshot on a CPU trainer made from it, the records after it are void (the
 * page truncates its rows to `snap.step`), and the loop trains those steps again on the CPU.
 * Throws `err` itself when there is nothing to go back to.
 */
async function rollBack(err) {
  if (!onGpu() || !snap) throw err;
  const lostAt = Math.max(snap.step, ...runs.map((r) => r.lastStep ?? 0)) + 1; // the step that failed
  const made = [];
  try {
    for (let i = 0; i < runs.length; i++) {
      const state = snap.states[i];
      if (!state) { made.push(null); continue; }
      const r = runs[i];
      let t = r.spare;
      if (t) await t.importState(state);
      else t = await engine.Trainer.createFromState({ ...r.settings, backend: "cpu" }, state, startArgs.mnist);
      made.push(t);
    }
  } catch (e) {
    if (isCrash(e)) throw e;
    for (const t of made) if (t && !runs.some((r) => r.spare === t)) t.free();
    throw new Error(`${message(err)}; going back to the CPU engine failed too: ${message(e)}`);
  }
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i];
    if (!made[i]) continue; // stopped before the snapshot: its curve ends where it did
    try { r.trainer.free(); } catch { /* a trainer of a lost device: nothing left to free */ }
    r.trainer = made[i];
    if (liveLr !== null) r.trainer.setLearningRate(liveLr);
    r.spare = null;
    r.wallMs = snap.wallMs[i];
    r.lastStep = snap.step;
    r.stopped = false; // a run that diverged after the snapshot trains those steps again too
    r.diverged = null;
  }
  buffer = buffer.filter((rec) => rec.step <= snap.step);
  handover.state = "lost";
  handover.lost = { atStep: lostAt, fromStep: snap.step, retrained: lostAt - 1 - snap.step, reason: message(err) };
  const again = lostAt - 1 > snap.step ? `steps ${snap.step + 1}–${lostAt - 1} are trained again` : "no step is trained again";
  handover.reason = `WebGPU device lost at step ${lostAt} (reason: ${message(err)}): rolled back to step ${snap.step}, its last snapshot, and continuing on the CPU engine (${again}; the charts mark step ${snap.step})`;
  handover.engines = runs.map((r) => ({ run: r.id, spans: r.trainer.engines() }));
  snap = null;
  flush();
  post({ type: "rollback", step: handover.lost.fromStep, lostAt, backend: describeBackend(lastAdapter) });
}

const ms = (v) => (v < 1 ? v.toFixed(2) : v < 10 ? v.toFixed(1) : v.toFixed(0)); // as the page writes times

/** A trainer on the user's files; a refusal names the files, since the page shows it as is. */
async function createWithFiles(Trainer, settings, files) {
  try {
    return await Trainer.createWithFiles(settings, files);
  } catch (err) {
    const msg = message(err);
    if (/^bad data: /.test(msg)) throw new Error(`your files could not be used as a data set: ${msg.replace(/^bad data: /, "")}`);
    throw err instanceof Error ? err : new Error(msg);
  }
}

/** What the browser says about its WebGPU adapter (wgpu leaves the name empty on the web). */
async function describeAdapter() {
  try {
    const adapter = await navigator.gpu?.requestAdapter();
    noAdapter = !adapter; // told to the engine, which then need not ask again (see start)
    const i = adapter?.info;
    if (!i) return null;
    return { vendor: i.vendor || "", architecture: i.architecture || "", description: i.description || "",
      isFallbackAdapter: Boolean(i.isFallbackAdapter ?? adapter.isFallbackAdapter) };
  } catch {
    return null; // only a nicer label is lost
  }
}

/** Grid of n×n points (x, y), row 0 at the top (largest y), for the heat map. */
function makeGrid(n, lo, hi) {
  const points = new Float32Array(2 * n * n);
  for (let row = 0; row < n; row++)
    for (let col = 0; col < n; col++) {
      const i = 2 * (row * n + col);
      points[i] = lo + ((col + 0.5) / n) * (hi - lo);
      points[i + 1] = hi - ((row + 0.5) / n) * (hi - lo);
    }
  return { n, lo, hi, points };
}

function applyLr() {
  if (pendingLr === null) return;
  const lr = pendingLr;
  pendingLr = null;
  liveLr = lr;
  for (const r of runs) if (!r.stopped) r.trainer.setLearningRate(lr);
}

// The port is closed once used: Chromium keeps an entangled port with a listener alive, about
// 2 KB of renderer memory per round otherwise (scripts/soak-page.mjs --minimal tick shows it).
const tick = () => new Promise((resolve) => { const ch = new MessageChannel(); ch.port1.onmessage = () => { ch.port1.close(); resolve(); }; ch.port2.postMessage(0); });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function loop() {
  if (looping || runs.length === 0) return;
  looping = true;
  lastRound = 0; // a pause is not a gap
  const gen = generation;
  post({ type: "state", running: true });
  try {
    while ((running || pendingSteps > 0) && runs.some((r) => !r.stopped) && gen === generation) {
      const t0 = performance.now();
      if (handover?.state === "building" && lastRound) handover.worstGapMs = Math.max(handover.worstGapMs, t0 - lastRound);
      lastRound = t0;
      try {
        await exclusive(async () => { applyLr(); await round(); });
        if (pendingSteps > 0) pendingSteps--;
        const now = performance.now();
        if (now - lastFlush >= FLUSH_MS) flush();
        if (grid && now - lastBoundary >= BOUNDARY_MS) await exclusive(boundary);
        if (onGpu() && snap && performance.now() - snap.at >= SNAPSHOT_MS) await exclusive(snapshotAll);
      } catch (err) {
        if (isCrash(err) || gen !== generation) throw err;
        await exclusive(() => rollBack(err)); // on WebGPU: back to the CPU; else err goes on
      }
      const rest = 1000 / MAX_ROUNDS_PER_SECOND - (performance.now() - t0);
      await (rest > 1 ? sleep(rest) : tick()); // let pause/step/setLr messages in
    }
  } catch (err) {
    if (gen !== generation) return;
    running = false;
    fail(err);
  }
  if (gen !== generation) return; // a crash reset everything meanwhile
  flush();
  if (grid) await exclusive(boundary).catch(() => {});
  looping = false;
  if (!runs.some((r) => !r.stopped)) running = false;
  pendingSteps = 0;
  post({ type: "state", running });
}

async function round() {
  // A run built after the first step (see start) takes two steps a round until level with the
  // live runs (lead: where this round takes them).
  const lead = Math.max(0, ...runs.filter((r) => !r.stopped).map((r) => r.lastStep ?? 0)) + 1;
  for (const r of runs) {
    if (r.stopped) continue;
    await stepRun(r);
    if (!r.stopped && (r.lastStep ?? 0) < lead) await stepRun(r);
  }
}

/** One step of one run, and its evaluation when due; its record goes into the buffer. */
async function stepRun(r) {
  const t0 = performance.now();
  let s;
  try {
    s = await r.trainer.step();
  } catch (err) {
    const at = divergedAt(err);
    if (at === null) throw err; // any other failure stops the comparison, as before
    stop(r, at, message(err));
    return;
  }
  const took = performance.now() - t0;
  r.wallMs += took; // the run's own compute time, not its neighbours'
  if (onGpu() && handover.snapshots) handover.snapshots.stepMs += took;
  r.lastStep = s.step;
  const rec = { run: r.id, ...s, wallMs: r.wallMs };
  if (!Number.isFinite(s.loss)) { // an engine that does not check: same outcome, no record
    stop(r, s.step, "the loss is not a number");
    return;
  }
  if (s.step % evalEvery === 0) {
    const ev = await r.trainer.evaluate();
    rec.testLoss = ev.testLoss;
    rec.testAccuracy = ev.testAccuracy;
  }
  buffer.push(rec);
  firstStepAt ??= epoch();
}

/** A run that diverged stops alone; its records so far stay (curves and exports end there). */
function stop(r, step, why) {
  r.stopped = true;
  r.diverged = step;
  flush(); // its last records go out before the note, so the page's row is complete
  const others = runs.some((o) => !o.stopped) ? "the other runs continue" : "no run is left";
  post({ type: "stopped", run: r.id, step, reason: "diverged", message: why });
  const what = why.replace(/^.*training diverged at step \d+:\s*/, "").replace(/; lower the learning rate.*$/, "");
  post({ type: "note", message: `${r.rule} diverged at step ${step} and stopped (${what}); ${others}. Try a smaller α.` });
}

function flush() {
  lastFlush = performance.now();
  if (buffer.length === 0) return;
  if (!marksSent) { // the first records: the start-up marks, with the first step's
    marksSent = true;
    marks.firstStep = firstStepAt;
    post({ type: "steps", records: buffer, marks: { ...marks } });
    buffer = [];
    return;
  }
  post({ type: "steps", records: buffer });
  buffer = [];
}

async function boundary() {
  if (!grid) return;
  lastBoundary = performance.now();
  const maps = [];
  for (const r of runs) {
    if (r.diverged !== null) continue; // its map keeps the last weights before the divergence
    const probs = await r.trainer.predict(grid.points);
    maps.push({ run: r.id, probs });
  }
  if (!grid.sent) {
    // The test points go with the first map only; the page keeps them.
    const [xy, labels] = runs[0].trainer.testPoints(400);
    grid.sent = { xy, labels };
  }
  const points = grid.sent.posted ? null : grid.sent;
  grid.sent.posted = true;
  post({ type: "boundary", n: grid.n, lo: grid.lo, hi: grid.hi, classes: runs[0].trainer.info().classes, maps, points }, maps.map((m) => m.probs.buffer));
}
