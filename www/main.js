// The page: reads the settings from the URL hash, starts the training worker, and draws what
// it reports (charts, current values, decision boundaries, backend). All training happens in
// worker.js; this module only wires the parts (lib/*.js) together and never touches innerHTML.
// It sleeps when unseen (lib/sight.js): the engine is created only once the page is seen (or
// Play is pressed), and training pauses while the tab is hidden, the frame is scrolled away or
// its slide is not shown, and resumes on return if it was playing (`autopause=0` turns it off).
import { el, grouped } from "./lib/dom.js";
import { DEFAULTS, parseHash, toHash, engineSettings, runRules, evalEvery, HIDEABLE, spec, fitToData } from "./lib/state.js";
import { Run } from "./lib/store.js";
import { Charts, PALETTE, CHART_IDS, TERMS_ONLY, hasTerms, loadChartsSoon } from "./lib/charts.js";
import { adaptive } from "./lib/rules.js";
import { WorkerClient, earlyAt } from "./lib/client.js";
import { Controls } from "./lib/controls.js";
import { StatsTable } from "./lib/stats.js";
// Export, import and the Share dialog are loaded on first use: no first load needs them.
const exporter = () => import("./lib/exporter.js");
import { installHook } from "./lib/hook.js";
import { UserData, datasetLine } from "./lib/userdata.js";
import { Sight } from "./lib/sight.js";

const $ = (id) => document.getElementById(id);
const darkQuery = matchMedia("(prefers-color-scheme: dark)");
const calmQuery = matchMedia("(prefers-reduced-motion: reduce)");
const theme = () => (darkQuery.matches ? "dark" : "light");

let state = { ...DEFAULTS };
let runs = []; // live runs (this worker)
let imported = []; // runs loaded from JSON files
let running = false; // what the user asked for (the Play button)
let workerRunning = false; // what the worker reports (the hook's `running`)
let backend = null;
let timing = { readyMs: null, firstStepMs: null, playMs: null }; // ms since navigation start
// Where the first step's time goes, ms since navigation (snapshot().startup): the page's own
// marks, and the worker's (sent as epoch ms, put on this page's clock by `workerMarks`).
const startup = { main: performance.now(), ...(earlyAt !== null && { earlyWorker: earlyAt }) };
const ownMark = (name) => { startup[name] ??= performance.now(); };
function workerMarks(marks) {
  for (const [k, v] of Object.entries(marks ?? {})) if (Number.isFinite(v)) startup[`worker.${k}`] = v - performance.timeOrigin;
}
let playWhenReady = false; // Play pressed before the worker was ready
let hashTimer = 0; // debounces address updates while α is dragged
let resetGen = 0; // the latest reset; an older one still reading data must not start its worker
let dataInfo = null; // trainer.info() of the current run set
let engineStarted = false; // the current run set's worker exists (created when first seen, or on Play)
let autoPaused = false; // training is held because the demo cannot be seen
let crashed = false; // the engine crashed: the runs are gone until a reset (Play does one)

const client = new WorkerClient(onWorker);
const charts = new Charts($("charts"), { hidden: new Set(), theme: theme(), compact: false });
charts.onBuilt = () => draw();
charts.onError = (err) => showError(err.message);
/** A frame narrower than this shows at most two charts (the two that tell the story: loss, batch). */
const narrowQuery = matchMedia("(max-width: 799.98px)");
const portraitQuery = matchMedia("(orientation: portrait)"); // style.css stacks an embed's view by it
const NARROW_CHARTS = 2;
const NARROW_ORDER = ["loss", "batch", "accuracy", "terms", "noise"];
const stats = new StatsTable($("stats"));
// The decision-boundary maps of the 2-D data sets: lib/boundary.js is loaded before the first
// 2-D run set starts (startEngine), so an MNIST page never fetches it.
let maps = null;
let share = null; // the Share dialog, made on the first click of Share
const controls = new Controls($("controls"), { onChange: changeSetting, onPreset: (p) => { if (p.data) userData.clear(false); applyState({ ...state, ...p }); } });
const userData = new UserData({ onChange: userFilesChanged });
const hook = installHook({
  backend: () => backend && { kind: backend.kind, adapter: backend.adapter, browserAdapter: backend.browserAdapter ?? null, fallbackReason: backend.fallbackReason, choice: backend.choice ?? null, handover: backend.handover ?? null },
  running: () => workerRunning, liveRuns: () => runs, timing: () => ({ ...timing }), settings: () => ({ ...state }),
  data: () => dataInfo && { ...dataInfo, files: userData.loaded ? userData.files.map((f) => f.name) : null },
  play, pause, step, reset,
  extra: () => ({ seen: sight.seen, engine: engineStarted, autopaused: autoPaused,
    startup: Object.fromEntries(Object.entries(startup).map(([k, v]) => [k, Math.round(v * 10) / 10])) }),
});
const sight = new Sight(onSight);

// ---- settings ⇄ hash ----------------------------------------------------------------------

function loadHash() {
  const { state: s, problems } = parseHash(location.hash);
  state = s;
  // An embed whose link does not choose the x-axis plots steps: every run takes one step per
  // round, so on examples seen the fixed small batches would stop a third of the way across.
  if (state.embed && !linkHas("x")) state = { ...state, x: "step" };
  notice(problems.length ? `Some settings in the link could not be used as given: ${problems.join("; ")}.` : "");
  writeHash();
}

/** Whether the link names `key` (a default and an absent key look alike in the parsed state). */
function linkHas(key) {
  try { return new URLSearchParams(location.hash.replace(/^#/, "")).has(key); } catch { return false; }
}

function writeHash() {
  const hash = `#${toHash(state)}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function applyState(next) {
  const fit = userData.loaded ? { state: next, problems: [] } : fitToData(next); // batch sizes the set can give
  state = fit.state;
  if (fit.problems.length) notice(`Some settings were changed to fit the data set: ${fit.problems.join("; ")}.`);
  writeHash();
  applyLayout();
  showControls();
  reset();
}

/** How each of the schema's live keys reaches the running runs. */
const LIVE = { lr: (v) => client.setLr(v) };

function changeSetting(key, value) {
  if (key === "data" && userData.loaded) { // a built-in data set chosen instead of the user's files
    state = { ...state, data: value };
    writeHash();
    userData.clear();
    return;
  }
  if (state[key] === value) return;
  if (spec(key)?.live) { // the schema's live keys (α) change the running runs: no reset
    state = { ...state, [key]: value };
    LIVE[key](value);
    clearTimeout(hashTimer); // a dragged slider fires often; write the address once it rests
    hashTimer = setTimeout(writeHash, 200);
    return;
  }
  applyState({ ...state, [key]: value });
}

/** The user's files were chosen, replaced or dropped: the settings stay, the runs start again. */
function userFilesChanged() {
  showControls();
  reset();
}

function showControls() {
  controls.showUserData(userData.loaded);
  controls.show(state);
}

function notice(text) {
  $("notice").hidden = !text;
  $("notice").textContent = text;
}

/** text: the failure in words; withReset: offer a Reset button in the message (after a crash). */
function showError(text, withReset = false) {
  $("error").hidden = !text;
  $("error").textContent = text ? `Something went wrong: ${text}` : "";
  if (text && withReset) $("error").append(" ", el("button", { type: "button", class: "error-reset", text: "↺ Reset", onclick: reset }));
}

// ---- layout: embed mode and hide= ---------------------------------------------------------

function applyLayout() {
  const hidden = new Set(state.hide ? state.hide.split(",") : []);
  if (state.embed) for (const part of ["header", "controls", "stats", "notes"]) hidden.add(part);
  document.body.classList.toggle("embed", state.embed);
  charts.opts.compact = state.embed; // fill the frame: charts share its height, one legend in the bar
  for (const part of HIDEABLE) document.body.classList.toggle(`hide-${part}`, hidden.has(part));
  const chartHidden = new Set([...hidden].filter((p) => CHART_IDS.includes(p)));
  if (state.embed && narrowQuery.matches) for (const id of CHART_IDS) if (!narrowPick(chartHidden).includes(id)) chartHidden.add(id);
  const changed = [...chartHidden].sort().join() !== [...charts.opts.hidden].sort().join();
  charts.opts.hidden = chartHidden;
  $("x-axis").value = state.x;
  $("open-full").href = `${location.pathname}#${toHash({ ...state, embed: false, hide: "" })}`;
  return changed;
}

/**
 * The charts a narrow embed shows: those `show=` names (in its order; read defensively, the key
 * may not exist), else loss and batch size, then the others; never one `hide=` names, nor the
 * rule's terms without a run of a rule that has two terms; at most two.
 */
function narrowPick(hiddenCharts) {
  const show = typeof state.show === "string" ? state.show.split(",").filter((id) => CHART_IDS.includes(id)) : [];
  const terms = runRules(state).some(hasTerms) || imported.some((r) => hasTerms(r.rule));
  return (show.length ? show : NARROW_ORDER).filter((id) => !hiddenCharts.has(id) && (terms || !TERMS_ONLY.includes(id))).slice(0, NARROW_CHARTS);
}

// ---- runs ---------------------------------------------------------------------------------

/** Back to step 0 with the current settings; the engine starts now if the demo can be seen. */
function reset() {
  ++resetGen;
  running = false;
  workerRunning = false;
  playWhenReady = false;
  backend = null;
  dataInfo = null;
  showError("");
  setRunning(false);
  $("backend").replaceChildren(el("span", { class: "badge", text: "starting…" }));
  $("backend-note").textContent = "";
  setEngineNews(false);
  runs = runRules(state).map((rule, id) => new Run({ id, rule }));
  charts.rollbacks = [];
  client.stop();
  userData.refresh();
  engineStarted = false;
  autoPaused = false;
  crashed = false;
  // The engine first; the charts once the worker has answered (its first step, or `ready` when
  // not playing): Chromium hands a new worker the page's messages (init here) only once this
  // thread is free, and building the charts takes tens of ms of a core the worker wants.
  const starting = active() ? startEngine() : null;
  if (starting) chartsLater();
  else rebuildCharts();
  maps?.setRuns([]);
  if (starting) return starting;
  $("backend").replaceChildren(el("span", { class: "badge", text: "waiting" }));
  $("backend").title = "the engine starts when the demo is in view, or on Play";
  return undefined;
}

/** Training may run now: the demo is seen, or autopause=0. */
const active = () => sight.seen || !state.autopause;

/** Read the data and start the worker of the current run set (once per reset). */
async function startEngine() {
  if (engineStarted) return;
  engineStarted = true;
  const gen = resetGen;
  $("backend").replaceChildren(el("span", { class: "badge", text: "starting…" }));
  $("backend").title = "";
  const rules = runRules(state);
  let files = null;
  try {
    if (userData.loaded) {
      $("backend-note").textContent = "reading your files…";
      files = await userData.read(); // fresh buffers: the last worker took the previous ones along
      $("backend-note").textContent = "";
    } else if (state.data === "mnist") {
      // The worker fetches the bundle itself (lib/client.js's early worker has it under way).
      $("backend-note").textContent = "loading the MNIST digits (8 MB)…";
    } else if (!maps) {
      const { BoundaryMaps } = await import("./lib/boundary.js");
      maps ??= new BoundaryMaps($("boundary"));
    }
  } catch (err) {
    if (gen === resetGen) { showError(err.message); engineStarted = false; }
    return;
  }
  if (gen !== resetGen) return; // a newer reset (or other files) took over meanwhile
  ownMark("workerStarted");
  client.start({
    runs: rules.map((rule, id) => ({ id, settings: engineSettings(state, rule) })),
    evalEvery: files ? (state.eval > 0 ? state.eval : 50) : evalEvery(state), // user files are images
    mnist: null, files, gridSize: hidden("boundary") ? 0 : 48,
    play: (state.play || playWhenReady) && active(), // the first step without waiting for `ready` here
  });
}

const hidden = (part) => document.body.classList.contains(`hide-${part}`);

function onWorker(msg) {
  // An answer that no step follows soon builds the charts now (the first step builds them
  // itself, once timed: below).
  const stepsFollow = msg.type === "steps" || msg.type === "boundary" || (msg.type === "state" && msg.running) ||
    (msg.type === "ready" && (state.play || playWhenReady));
  if (!stepsFollow) chartsNow();
  switch (msg.type) {
    case "ready":
      backend = msg.backend;
      timing.readyMs = Math.round(performance.now());
      ownMark("ready");
      if ($("backend-note").textContent.startsWith("loading the MNIST")) $("backend-note").textContent = "";
      if (!startup["worker.init"]) workerMarks(msg.marks);
      dataInfo = msg.info;
      showBackend(msg.backend, msg.info);
      userData.refresh(msg.info);
      if (msg.info.inputDim === 2) { maps?.setRuns(runs); fitMaps(); }
      if (state.play || playWhenReady) play();
      playWhenReady = false;
      break;
    case "backend": // the hand-over to WebGPU settled: the runs moved, stayed on the CPU, or it failed
      backend = msg.backend;
      if (dataInfo) showBackend(msg.backend, dataInfo);
      hook.emit();
      break;
    case "rollback": // WebGPU was lost: the worker went back to its last snapshot, on the CPU
      for (const r of runs) r.truncate(msg.step); // the steps after it are trained again
      charts.rollbacks.push({ step: msg.step, lostAt: msg.lostAt }); // a dashed line at that step
      backend = msg.backend;
      rebuildCharts(); // fresh decimators: the rows after the snapshot are replaced
      if (dataInfo) showBackend(msg.backend, dataInfo);
      hook.emit();
      break;
    case "snapshot": // on WebGPU: the worker read the runs' states back (the rollback point)
      if (backend?.handover) backend.handover.snapshots = msg.snapshots;
      break;
    case "steps":
      for (const rec of msg.records) runs[rec.run]?.push(rec);
      if (timing.firstStepMs === null) timing.firstStepMs = Math.round(performance.now());
      if (msg.marks && startup.firstStep === undefined) { workerMarks(msg.marks); ownMark("firstStep"); } // the first run set's
      chartsNow();
      scheduleDraw();
      hook.emit();
      break;
    case "boundary":
      maps?.draw(msg);
      break;
    case "state":
      workerRunning = msg.running;
      if (!msg.running) {
        if (!runs.some((r) => r.diverged === null)) setRunning(false); // every run stopped by itself
        draw();
      }
      hook.emit();
      break;
    case "stopped": // one run diverged and stopped alone; the others go on
      if (runs[msg.run]) runs[msg.run].diverged = msg.step;
      draw();
      hook.emit();
      break;
    case "crashed": // the engine trapped; the worker already holds a fresh module
      running = false;
      workerRunning = false;
      backend = null;
      crashed = true;
      setRunning(false);
      showError(`${msg.message}. The page is still usable: reset to start again.`, true);
      hook.emit();
      break;
    case "note":
      $("backend-note").textContent = msg.message;
      setEngineNews(true);
      break;
    case "invalid": {
      const { embed, hide, x, play: autoplay } = state;
      notice(`The engine refused the link's settings (${msg.message}); using the defaults instead.`);
      state = { ...DEFAULTS, embed, hide, x, play: autoplay };
      writeHash();
      showControls();
      reset();
      break;
    }
    case "error":
      running = false;
      setRunning(false);
      if ($("backend-note").textContent.startsWith("loading the MNIST")) $("backend-note").textContent = "";
      showError(state.backend === "gpu" && /WebGPU/.test(msg.message) ? `${msg.message} (or set Backend to auto to use it)` : msg.message);
      break;
  }
}

function showBackend(b, info) {
  const gpu = b.kind === "gpu";
  const a = b.adapter;
  const w = b.browserAdapter;
  const c = b.choice; // how the engine was chosen; `trial` holds auto's timings on a software adapter
  const h = b.handover; // the CPU engine started at once; WebGPU is built behind it
  const moved = h?.state === "moved";
  const lost = h?.state === "lost" ? h.lost : null; // WebGPU was lost after the hand-over
  const badge = el("span", { class: `badge ${gpu ? "gpu" : "cpu"}`, text: lost ? `WebGPU lost → CPU at step ${lost.fromStep}` : moved && h.atStep > 0 ? `CPU → WebGPU at step ${h.atStep}` : gpu ? "WebGPU" : "CPU" });
  const adapterName = [w?.description, w?.vendor, w?.architecture].filter(Boolean).join(" ");
  const measured = c?.how === "measured" && c.trial
    ? `auto timed both engines on the software adapter ${adapterName || "(isFallbackAdapter)"}: CPU ${msText(c.trial.cpuMsPerStep)} ms/step vs WebGPU ${msText(c.trial.gpuMsPerStep)} ms/step at m = ${c.trial.batch}`
    : "";
  let line;
  if (h) {
    line = h.state === "building"
      ? `Started on the CPU engine at once; WebGPU is being built in the background (backend=${h.requested}: ${h.requested === "auto" ? "on a software adapter both engines are then timed on the live run and the faster kept" : "the runs move to it when it is ready"})`
      : h.state === "moved" && gpu
        ? `${h.reason} · WebGPU adapter: ${[adapterName || a?.name, a?.deviceType && `device type ${a.deviceType}`].filter(Boolean).join(" · ") || "unnamed"} · ${b.dispatchesPerStep} dispatches per step${a?.deviceType === "Cpu" || w?.isFallbackAdapter ? " · a software GPU (slow): for speed set Backend to auto or cpu" : ""}`
        : h.reason || "CPU engine";
  } else if (gpu) {
    const parts = [adapterName || a?.name, a?.deviceType && `device type ${a.deviceType}`, a?.driver].filter(Boolean);
    line = `WebGPU adapter: ${parts.join(" · ") || "unnamed"} · ${b.dispatchesPerStep} dispatches per step`;
    if (measured) line += ` · ${measured}, so it kept WebGPU`;
    else if (a?.deviceType === "Cpu" || w?.isFallbackAdapter) line += " · a software GPU (slow): for speed set Backend to auto or cpu";
  } else if (measured) {
    line = `The CPU engine was chosen: ${measured}, so the same training runs on the engine's CPU twin`;
  } else {
    line = b.fallbackReason
      ? `WebGPU is not available here (${shortReason(b.fallbackReason)}), so the same training runs on the engine's CPU twin`
      : "The CPU engine was chosen (backend=cpu): the same maths as the GPU kernels";
  }
  $("backend").replaceChildren(badge);
  $("backend").title = h ? line : c?.reason || b.fallbackReason || line;
  // An embed names its engine only when something needs saying: WebGPU failed and the CPU twin
  // took over, a hand-over or a lost device. auto's normal choice, or backend=cpu, is not news.
  setEngineNews(!!(b.fallbackReason && !measured) || moved || !!lost || h?.state === "failed");
  if (b.startNote) line += ` (${b.startNote})`;
  $("backend-note").textContent = userData.loaded
    ? `${line}. Model: ${grouped(info.paramCount)} parameters. Your data, ${datasetLine(info)}.`
    : `${line}. Model: ${grouped(info.paramCount)} parameters, ${grouped(info.trainSize)} training examples.`;
}

/** Embeds hide the engine badge and note unless `on` (a class: the full page always shows them). */
function setEngineNews(on) {
  document.body.classList.toggle("engine-news", on);
}

/** "4.1" below 10 ms, "96" above (as the engine writes its reason). */
const msText = (ms) => (ms < 10 ? ms.toFixed(1) : ms.toFixed(0));

/** The first sentence of the engine's fallback reason (the full text is in the badge's tooltip). */
const shortReason = (r) => r.replace(/^GPU:\s*/, "").split(/\.\s/)[0].replace(/[.\s]+$/, "");

// ---- play / pause / step ------------------------------------------------------------------

function play() {
  if (crashed) reset(); // the crashed runs are gone: Play starts again from step 0
  if (!backend) { // starts when the worker is ready; Play creates the engine even when unseen
    playWhenReady = true;
    setRunning(true);
    startEngine();
    return;
  }
  if (timing.playMs === null) timing.playMs = Math.round(performance.now());
  running = true;
  setRunning(true);
  autoPaused = !active();
  if (!autoPaused) client.play();
  else client.pause(); // the worker may have started by itself (init's play) while the demo went out of view
  hook.emit();
}
function pause() { running = false; autoPaused = false; setRunning(false); client.pause(); }

/** The demo came into view or went out of it: start the engine, pause or resume training. */
function onSight(seen) {
  if (!state.autopause) return;
  if (seen && !engineStarted) { startEngine(); return; }
  if (!backend || !running) { hook.emit(); return; }
  if (seen && autoPaused) { autoPaused = false; client.play(); }
  else if (!seen && !autoPaused) { autoPaused = true; client.pause(); }
  hook.emit();
}
function step() { if (backend) client.step(); }
function toggle() { (running ? pause : play)(); }

function setRunning(on) {
  running = on;
  const b = $("play");
  b.textContent = on ? "❚❚ Pause" : "▶ Play";
  b.setAttribute("aria-pressed", String(on));
  b.setAttribute("aria-label", on ? "pause training" : "start training");
}

// ---- drawing ------------------------------------------------------------------------------

const allRuns = () => runs.concat(imported);

// A reset that started the engine leaves the charts empty until the worker's first answer
// (chartsNow), at the latest CHARTS_WAIT_MS later.
const CHARTS_WAIT_MS = 1500;
let chartsDue = 0;
function chartsLater() {
  clearTimeout(chartsDue);
  charts.rebuild([], state.x, null); // the previous run set's charts go at once
  chartsDue = setTimeout(rebuildCharts, CHARTS_WAIT_MS);
}
function chartsNow() { if (chartsDue) rebuildCharts(); }

function rebuildCharts() {
  clearTimeout(chartsDue);
  chartsDue = 0;
  charts.opts.theme = theme();
  charts.rebuild(allRuns(), state.x, runRules(state).some(adaptive) ? { mmin: state.mmin, mmax: state.mmax } : null);
  draw();
}

let drawPending = false;
let lastDraw = 0;
const LONG_RUN = 2000; // rows after which the charts redraw once a second
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  // 5 redraws a second while a run is young; once it has thousands of steps a new row moves the
  // picture by less than a pixel, and each redraw leaves canvas paths for the garbage collector
  // (native memory it is slow to reclaim), so once a second is enough.
  const long = runs.some((r) => r.length > LONG_RUN);
  const wait = Math.max(0, lastDraw + (calmQuery.matches || long ? 1000 : 200) - performance.now());
  setTimeout(() => requestAnimationFrame(() => { drawPending = false; lastDraw = performance.now(); draw(); }), wait);
}

function draw() {
  charts.update();
  if (startup.firstStep !== undefined && charts.plots.length) ownMark("firstDraw"); // the charts' first picture
  stats.update(allRuns(), PALETTE[theme()]);
  if (state.embed) drawLegend();
}

/** Embed mode: one legend for every chart, in the bar (run colours, and which run diverged). */
let legendShape = "";
function drawLegend() {
  const colors = PALETTE[theme()];
  const shape = allRuns().map((r, i) => `${r.label}|${r.diverged}|${colors[i % colors.length]}`).join("\n");
  if (shape === legendShape) return; // unchanged: no new nodes at every redraw
  legendShape = shape;
  $("legend").replaceChildren(...allRuns().map((r, i) => el("span", { class: "legend-item" },
    el("span", { class: "swatch", style: `background:${colors[i % colors.length]}` }), r.label,
    r.diverged != null ? el("span", { class: "diverged", text: ` diverged at step ${r.diverged}` }) : null)));
}

/** Embed mode: the decision-boundary maps take what the charts leave (a column or a row). */
function fitMaps() {
  if (!maps) return undefined;
  if (!state.embed || hidden("boundary")) return maps.fit(null);
  const view = $("view").getBoundingClientRect();
  return maps.fit({ width: view.width, height: view.height, portrait: portraitQuery.matches });
}

// ---- the bar: buttons, export, import -----------------------------------------------------

function buildBar() {
  const x = spec("x"); // the x-axis choices and their names, from the settings schema
  $("x-axis").replaceChildren(...x.values.map((v, i) => el("option", { value: v, text: x.labels?.[i] ?? v })));
  $("play").addEventListener("click", toggle);
  $("step").addEventListener("click", step);
  $("reset").addEventListener("click", reset);
  $("x-axis").addEventListener("change", (e) => { state = { ...state, x: e.target.value }; writeHash(); rebuildCharts(); });
  $("share").addEventListener("click", async () => {
    try {
      share ??= new (await import("./lib/share.js")).ShareDialog(document.body);
    } catch (err) {
      return showError(`the Share dialog could not be loaded (${err.message})`);
    }
    share.open(state, userData.loaded ? "A link cannot carry your files: it reproduces these settings on the built-in data set." : "");
  });
  $("export-csv").addEventListener("click", () => {
    const live = runs.filter((r) => r.length);
    if (live.length) exporter().then(({ downloadCsv }) => downloadCsv(live, userData.loaded ? { ...state, data: "files" } : state)).catch((err) => showError(err.message));
  });
  $("export-json").addEventListener("click", () => {
    const settings = engineSettings(state, state.rule);
    if (userData.loaded) Object.assign(settings, { data: "files", files: userData.files.map((f) => f.name) });
    const [all, b] = [allRuns(), backend]; // as they are at the click
    exporter().then(({ downloadJson }) => downloadJson(all, settings, b)).catch((err) => showError(err.message));
  });
  $("import").addEventListener("change", async (e) => {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (!file) return;
    try {
      const loaded = await (await exporter()).importJson(file, 100 + imported.length * 10);
      imported = imported.concat(loaded);
      notice(`Loaded ${loaded.length} run(s) from ${file.name}; they are drawn dotted next to the live runs.`);
      rebuildCharts();
    } catch (err) {
      notice(`Could not load ${file.name}: ${err.message}.`);
    }
  });
}

function keyboard(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest?.("input, select, textarea, dialog, [contenteditable]")) return; // typing
  if (e.key === " ") {
    if (e.target.closest?.("button, a, label")) return; // Space activates the focused control itself
    e.preventDefault();
    toggle();
  }
  else if (e.key === "ArrowRight") { e.preventDefault(); step(); }
  else if (e.key === "r" || e.key === "R") { e.preventDefault(); reset(); }
}

// ---- start --------------------------------------------------------------------------------

buildBar();
controls.showUserData(false, userData.node);
userData.listen(document, () => !hidden("controls"));
document.addEventListener("keydown", keyboard);
window.addEventListener("hashchange", () => {
  const data = state.data;
  loadHash();
  if (state.data !== data) userData.clear(false); // a link naming another data set: that set, not the files
  applyLayout();
  showControls();
  reset();
});
darkQuery.addEventListener("change", rebuildCharts);
narrowQuery.addEventListener("change", () => { if (applyLayout()) rebuildCharts(); });
new ResizeObserver(() => fitMaps()).observe($("view"));
loadHash();
applyLayout();
showControls();
reset();
loadChartsSoon(); // uPlot, once this start-up's work (and the worker's init) is out of the way
