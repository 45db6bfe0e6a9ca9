// The pre-flight check's worker (check.html): measures both engines on this device, off the page's
// thread so the page keeps drawing. Messages:
//   page → worker  {type:"run", seconds}
//   worker → page  {type:"adapter", adapter}       WebGPU's adapter, or {unavailable: "why"}
//                  {type:"progress", text, fraction}
//                  {type:"result", result}          one engine × one model × one batch (see measure())
//                  {type:"done", configs, grown}    {type:"error", message}
// What is measured: each distinct (data set, model) of the page's default settings and presets, as
// a fixed-batch run (so that a step's cost does not change while it is timed) at two batch sizes:
// m_min, where every demo starts, and GROWN, a batch CABS reaches within a lecture's minute, so
// that the page can say whether a preset stays smooth, not only whether it starts smooth. The
// default model at m_min runs on every engine whatever the budget (the answer to "does the default
// demo run here?" is never missing); the rest runs smallest model first while the budget lasts.
import SCHEMA from "./settings-schema.js";

/** The grown batch; also the preset "CABS vs m = 16 and m = 128"'s larger baseline. */
export const GROWN = 128;

const message = (e) => (e instanceof Error ? e.message : String(e));
const post = (msg) => self.postMessage(msg);
const now = () => performance.now();

/** Settings for Trainer.create from the schema's defaults and a preset's state. */
function engineSettings(state) {
  const s = {};
  for (const k of SCHEMA.keys) if (k.engine && k.default !== undefined && k.default !== null) s[k.key] = k.default;
  for (const [k, v] of Object.entries(state)) if (SCHEMA.keys.some((d) => d.key === k && d.engine)) s[k] = v;
  return s;
}

/** The batch sizes of the fixed-batch baselines a demo trains next to its rule. */
function baselineBatches(state) {
  const b = String(state.baselines ?? SCHEMA.keys.find((k) => k.key === "baselines")?.default ?? "").trim();
  if (b === "" || b === "none") return [];
  return b.split(",").map((r) => Number(/^const:(\d+)/.exec(r.trim())?.[1] ?? 16));
}

/** The configurations to measure: the default first, then one per distinct (data, model). */
export function configurations() {
  const defaults = Object.fromEntries(SCHEMA.keys.filter((k) => k.url).map((k) => [k.key, k.default]));
  const list = [];
  const add = (label, state, isDefault) => {
    const settings = engineSettings(state);
    const id = `${settings.data} · ${settings.model}`;
    let c = list.find((x) => x.id === id);
    if (!c) list.push((c = { id, data: settings.data, model: settings.model, settings, isDefault, presets: [] }));
    if (label) c.presets.push({ label, baselines: baselineBatches(state) });
  };
  add(null, defaults, true);
  for (const p of SCHEMA.presets) add(p.label, { ...defaults, ...p.state }, false);
  return list;
}

let engine = null;
async function loadEngine() {
  if (engine) return engine;
  try {
    const mod = await import("../pkg/cabs.js");
    await mod.default();
    engine = mod;
    return mod;
  } catch (err) {
    throw new Error(`the training engine (pkg/cabs_bg.wasm) could not be loaded: ${message(err)}`);
  }
}

let mnist = null;
async function mnistBytes() {
  if (mnist) return mnist;
  const res = await fetch(new URL("../data/mnist.bin", import.meta.url));
  if (!res.ok) throw new Error(`the MNIST bundle data/mnist.bin could not be loaded (HTTP ${res.status})`);
  mnist = new Uint8Array(await res.arrayBuffer());
  return mnist;
}

/** WebGPU's adapter as the browser describes it, or why there is none. */
async function adapterInfo() {
  if (!self.navigator?.gpu) return { unavailable: "this browser has no WebGPU (navigator.gpu is missing)" };
  let adapter = null;
  try { adapter = await navigator.gpu.requestAdapter(); }
  catch (err) { return { unavailable: `requestAdapter failed: ${message(err)}` }; }
  if (!adapter) return { unavailable: "the browser offers no WebGPU adapter (requestAdapter returned null)" };
  const info = adapter.info ?? {};
  return {
    vendor: info.vendor || "", architecture: info.architecture || "", device: info.device || "", description: info.description || "",
    fallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
  };
}

/**
 * One engine on one configuration at one batch size: creation time, the first step's time, then
 * steps for up to `ms` (at least one after the first) — steps per second from those.
 */
async function measure(cabs, cfg, backend, batch, ms) {
  const settings = { ...cfg.settings, rule: `const:${batch}`, backend };
  const t0 = now();
  const trainer = await cabs.Trainer.create(settings, cfg.data === "mnist" ? await mnistBytes() : null);
  try {
    const t1 = now();
    await trainer.step();
    const t2 = now();
    let steps = 0;
    while (steps < 1 || (now() - t2 < ms && steps < 2000)) { await trainer.step(); steps++; }
    const seconds = (now() - t2) / 1000;
    const b = trainer.backend();
    return {
      config: cfg.id, backend, kind: b.kind, adapterName: b.adapter?.name ?? null, batch,
      createMs: t1 - t0, firstStepMs: t2 - t1, steps, seconds, stepsPerSecond: steps / seconds, params: trainer.info().paramCount,
    };
  } finally {
    trainer.free();
  }
}

async function run(seconds) {
  const adapter = await adapterInfo();
  post({ type: "adapter", adapter });
  const cabs = await loadEngine();
  const configs = configurations();
  const engines = adapter.unavailable ? ["cpu"] : ["cpu", "gpu"];
  // Engine by engine (the CPU engine first: it starts in milliseconds, while a software WebGPU
  // adapter may take many seconds to build its pipelines); the default model first, then the others
  // smallest first; m_min before GROWN.
  const others = configs.filter((c) => !c.isDefault).sort((a, b) => cost(a) - cost(b));
  const first = configs.find((c) => c.isDefault);
  const plan = engines.flatMap((e) => [first, ...others].flatMap((cfg) => [cfg.settings.mmin, GROWN].map((batch) => ({ engine: e, cfg, batch }))));
  const must = (p) => p.cfg === first && p.batch === first.settings.mmin;
  // The CPU engine's share of the budget when both run: it needs little to cover every model.
  const start = now();
  const until = { cpu: start + seconds * 1000 * (engines.length === 2 ? 0.4 : 1), gpu: start + seconds * 1000 };
  let done = 0;
  for (const { engine: e, cfg, batch } of plan) {
    done++;
    const left = until[e] - now();
    const name = e === "gpu" ? "WebGPU engine" : "CPU engine";
    if (!must({ cfg, batch }) && left < 300) {
      post({ type: "result", result: { config: cfg.id, backend: e, batch, skipped: "not measured: the time budget was spent" } });
      continue;
    }
    post({ type: "progress", text: `${name}: ${cfg.id} at m = ${batch}…`, fraction: done / plan.length });
    // Each measurement gets a fair share of what is left, between 0.2 and 1 s of stepping.
    const share = Math.max(200, Math.min(1000, left / (plan.slice(done - 1).filter((p) => p.engine === e).length + 1)));
    try {
      post({ type: "result", result: await measure(cabs, cfg, e, batch, share) });
    } catch (err) {
      post({ type: "result", result: { config: cfg.id, backend: e, batch, error: message(err) } });
    }
  }
  post({ type: "done", grown: GROWN, configs: configs.map(({ id, data, model, isDefault, presets, settings }) => ({ id, data, model, isDefault, presets, mmin: settings.mmin })) });
}

/** A rough size for ordering only: convolutions are the heavy ones, then MNIST's 784 inputs. */
function cost(cfg) {
  const widths = (cfg.model.match(/\d+/g) ?? []).map(Number).reduce((a, b) => a + b, 0);
  return (cfg.model.startsWith("cnn") ? 1e6 : 0) + (cfg.data === "mnist" ? 1e4 : 0) + widths;
}

self.onmessage = (e) => {
  if (e.data?.type !== "run") return;
  const seconds = Number(e.data.seconds);
  run(Number.isFinite(seconds) ? seconds : 10).catch((err) => post({ type: "error", message: message(err) }));
};
