// The training worker: owns the wasm engine and the training loop, so the page only draws.
// It trains every run of the comparison (CABS + baselines) in lock step, one step each per
// round, and talks to the page with typed messages:
//   page → worker  {type:"init", runs:[{id, settings}], evalEvery, mnist, files, gridSize}
//                  (files: null, or the user's own [{name, bytes: ArrayBuffer}], transferred)
//                  {type:"play"} {type:"pause"} {type:"step"} {type:"setLr", lr}
//   worker → page  {type:"ready", backend, info, runs, createMs}
//                  {type:"steps", records:[{run, …step stats, wallMs, testLoss?, testAccuracy?}]}
//                  {type:"boundary", n, lo, hi, classes, maps:[{run, probs}], points?:{xy, labels}}
//                  {type:"state", running} {type:"note", message}
//                  {type:"invalid", message} (settings the engine refuses) {type:"error", message}
//                  {type:"stopped", run, step, reason:"diverged", message} (one run stopped alone)
//                  {type:"crashed", message} (the engine trapped; the worker loaded a fresh one)
// A reset is a new worker (the page terminates this one), which also aborts a long step.
// A run that diverges stops alone: its records end before the diverging step and the other runs
// go on. A trap in the wasm engine (a Rust panic or abort: `RuntimeError: unreachable`) poisons
// that module instance, so the worker drops its trainers, reports "engine crashed: …" and imports
// a fresh instance (a new module URL, hence new wasm memory) instead of hanging on a promise the
// trap left unsettled.
import { divergedAt, isCrash } from "./lib/failures.js";

const MAX_ROUNDS_PER_SECOND = 120; // keeps tiny 2-D models watchable instead of a blur
const FLUSH_MS = 50; // batch step records into one message at most this often
const BOUNDARY_MS = 250; // how often the decision-boundary maps are recomputed while training

let engine = null; // the wasm-bindgen module {default: init, Trainer, checkSettings, …}
let instance = 0; // bumped after a crash: each instance is a fresh module with its own memory
let generation = 0; // bumped after a crash: loops and queues of the old instance are abandoned
let runs = []; // {id, rule, trainer, wallMs, stopped, diverged}
let evalEvery = 50;
let grid = null; // {n, lo, hi, points: Float32Array} for 2-D data sets
let running = false;
let looping = false;
let pendingSteps = 0;
let pendingLr = null;
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
const message = (e) => (e instanceof Error ? e.message : String(e));

async function loadEngine() {
  if (engine) return engine;
  try {
    const mod = await import(instance ? `./pkg/cabs.js?instance=${instance}` : "./pkg/cabs.js");
    await mod.default();
    engine = mod;
    return mod;
  } catch (err) {
    throw new Error(`the training engine (pkg/cabs_bg.wasm) could not be loaded: ${message(err)}. Build it with scripts/build-wasm.sh`);
  }
}

/** Every failure ends here: a crash drops the poisoned instance and loads a fresh one. */
function fail(err) {
  if (!isCrash(err)) return post({ type: "error", message: message(err) });
  generation++;
  runs = [];
  running = false;
  looping = false;
  pendingSteps = 0;
  buffer = [];
  queue = Promise.resolve(); // the old queue may wait forever on a promise the trap left unsettled
  engine = null;
  instance++;
  post({ type: "crashed", message: `engine crashed: ${message(err)}` });
  post({ type: "state", running: false });
  loadEngine().catch((e) => post({ type: "error", message: message(e) }));
}
// A trap inside a wasm callback (a step's future) surfaces here, not in any promise.
self.addEventListener("error", (e) => { if (isCrash(e.error)) { e.preventDefault(); fail(e.error); } });
self.addEventListener("unhandledrejection", (e) => { if (isCrash(e.reason)) { e.preventDefault(); fail(e.reason); } });

self.onmessage = (e) => {
  const msg = e.data || {};
  const handle = {
    init: () => start(msg),
    play: () => { running = true; loop(); },
    pause: () => { running = false; },
    step: () => { pendingSteps++; loop(); },
    setLr: () => { pendingLr = Number(msg.lr); if (!looping) return exclusive(applyLr); },
  }[msg.type];
  if (!handle) return post({ type: "error", message: `the worker got an unknown message '${String(msg.type)}'` });
  Promise.resolve(handle()).catch(fail);
};

async function start({ runs: specs, evalEvery: every, mnist, files, gridSize }) {
  const t0 = performance.now();
  const { Trainer, checkSettings } = await loadEngine();
  const gen = generation;
  runs = [];
  grid = null;
  for (const spec of specs) {
    try {
      checkSettings(spec.settings);
    } catch (err) {
      post({ type: "invalid", message: message(err) });
      return;
    }
  }
  const adapterInfo = describeAdapter(); // in parallel with building the trainers
  evalEvery = Math.max(1, every | 0);
  const bytes = mnist ? new Uint8Array(mnist) : undefined;
  // The user's files: views on the transferred buffers, no copies (the engine reads them per run).
  const userFiles = files ? files.map((f) => ({ name: String(f.name), bytes: new Uint8Array(f.bytes) })) : null;
  let chosen = null; // the engine `auto` chose for the first run: the others use it too, untimed
  for (const spec of specs) {
    const settings = chosen && (spec.settings.backend ?? "auto") === "auto" ? { ...spec.settings, backend: chosen } : spec.settings;
    const trainer = userFiles ? await createWithFiles(Trainer, settings, userFiles) : await Trainer.create(settings, bytes);
    chosen ??= trainer.backend().kind;
    if (gen !== generation) return; // the engine crashed meanwhile
    runs.push({ id: spec.id, rule: spec.settings.rule, trainer, wallMs: 0, stopped: false, diverged: null });
  }
  const info = runs[0].trainer.info();
  if (info.inputDim === 2 && gridSize > 0) grid = makeGrid(gridSize, -1.6, 1.6);
  const backend = runs[0].trainer.backend();
  backend.browserAdapter = backend.kind === "gpu" || backend.choice?.trial ? await adapterInfo : null;
  post({
    type: "ready", backend, info,
    runs: runs.map((r) => ({ id: r.id, rule: r.rule })), createMs: performance.now() - t0,
  });
  await exclusive(boundary);
}

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
  for (const r of runs) if (!r.stopped) r.trainer.setLearningRate(lr);
}

// The port is closed once used: Chromium keeps an entangled port with a listener alive, about
// 2 KB of renderer memory per round otherwise (scripts/soak-page.mjs --minimal tick shows it).
const tick = () => new Promise((resolve) => { const ch = new MessageChannel(); ch.port1.onmessage = () => { ch.port1.close(); resolve(); }; ch.port2.postMessage(0); });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function loop() {
  if (looping || runs.length === 0) return;
  looping = true;
  const gen = generation;
  post({ type: "state", running: true });
  try {
    while ((running || pendingSteps > 0) && runs.some((r) => !r.stopped) && gen === generation) {
      const t0 = performance.now();
      await exclusive(async () => { applyLr(); await round(); });
      if (pendingSteps > 0) pendingSteps--;
      const now = performance.now();
      if (now - lastFlush >= FLUSH_MS) flush();
      if (grid && now - lastBoundary >= BOUNDARY_MS) await exclusive(boundary);
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
  for (const r of runs) {
    if (r.stopped) continue;
    const t0 = performance.now();
    let s;
    try {
      s = await r.trainer.step();
    } catch (err) {
      const at = divergedAt(err);
      if (at === null) throw err; // any other failure stops the comparison, as before
      stop(r, at, message(err));
      continue;
    }
    r.wallMs += performance.now() - t0; // the run's own compute time, not its neighbours'
    const rec = { run: r.id, ...s, wallMs: r.wallMs };
    if (!Number.isFinite(s.loss)) { // an engine that does not check: same outcome, no record
      stop(r, s.step, "the loss is not a number");
      continue;
    }
    if (s.step % evalEvery === 0) {
      const ev = await r.trainer.evaluate();
      rec.testLoss = ev.testLoss;
      rec.testAccuracy = ev.testAccuracy;
    }
    buffer.push(rec);
  }
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
