// The pre-flight check page (check.html): starts lib/check-worker.js, which times both engines on
// this device, shows what it measured as it arrives and ends with a verdict and a plain-text
// summary to copy. `?seconds=N` (2–60, default 10) changes the time budget; it is read as a number
// and nothing from the address is ever put into the page as markup (text nodes only).
import { el, fmt } from "./lib/dom.js";

export const SMOOTH = 20; // steps per second per run below which a chart visibly stutters
const $ = (id) => document.getElementById(id);
const ENGINE = { gpu: "WebGPU engine", cpu: "CPU engine" };

function budgetSeconds() {
  const v = Number(new URLSearchParams(location.search).get("seconds"));
  return Number.isFinite(v) && v > 0 ? Math.min(60, Math.max(2, v)) : 10;
}

const ms = (v) => (v >= 1000 ? `${fmt(v / 1000, 2)} s` : `${fmt(v, 2)} ms`);

function adapterLine(a) {
  if (a.unavailable) return `WebGPU is unavailable: ${a.unavailable}. The demo will train on the CPU engine.`;
  const name = [a.vendor, a.architecture, a.device].filter(Boolean).join(" ") || "an adapter that does not say its name";
  return `WebGPU adapter: ${name}${a.description ? ` (${a.description})` : ""}; fallback (software) adapter: ${a.fallback ? "yes" : "no"}`;
}

function resultLine(r, cfg) {
  const what = cfg?.isDefault ? `default model (${r.config})` : r.config;
  const head = `${ENGINE[r.backend]}, ${what}`;
  if (r.error) return `${head}, m = ${r.batch}: failed: ${r.error}`;
  return `${head}: ${fmt(r.stepsPerSecond, 3)} steps/s at m = ${r.batch} (created in ${ms(r.createMs)}, first step ${ms(r.firstStepMs)}, ${r.steps} step${r.steps === 1 ? "" : "s"} in ${fmt(r.seconds, 2)} s)`;
}

/**
 * A step's time at batch m on one engine, from the two measured batches (m_min and the grown one):
 * linear in m, which is how both engines' cost grows at these sizes. null when m_min was not
 * measured; only m_min's time when the grown batch was not (`startOnly`).
 */
function stepTime(results, cfg, engine, grown) {
  const rate = (m) => results.find((r) => r.config === cfg.id && r.backend === engine && r.batch === m && r.stepsPerSecond > 0)?.stepsPerSecond;
  const r0 = rate(cfg.mmin);
  if (!r0) return null;
  const r1 = rate(grown);
  if (!r1) return { startOnly: true, at: () => 1 / r0 };
  const t0 = 1 / r0, t1 = 1 / r1;
  return { startOnly: false, at: (m) => Math.max(Math.min(t0, t1), t0 + ((t1 - t0) * (m - cfg.mmin)) / (grown - cfg.mmin)) };
}

/**
 * Each preset on its faster engine: the demo trains its rule and its baselines in lock step, so a
 * round takes CABS's step at the grown batch plus each baseline's step at its own batch; its rate
 * is the steps per second each run makes. Smooth: ≥ SMOOTH. The largest smooth preset: the one
 * with the most parameters.
 */
export function verdicts(configs, results, grown) {
  const rows = [];
  for (const cfg of configs) {
    const params = results.find((r) => r.config === cfg.id && r.params)?.params ?? 0;
    for (const p of cfg.presets) {
      const options = ["gpu", "cpu"].map((engine) => {
        const t = stepTime(results, cfg, engine, grown);
        if (!t) return null;
        const round = t.at(t.startOnly ? cfg.mmin : grown) + p.baselines.reduce((sum, m) => sum + t.at(m), 0);
        return { engine, perRun: 1 / round, startOnly: t.startOnly };
      }).filter(Boolean).sort((a, b) => a.startOnly - b.startOnly || b.perRun - a.perRun);
      const best = options[0];
      rows.push(best ? { preset: p.label, measured: true, runs: 1 + p.baselines.length, params, ...best, smooth: !best.startOnly && best.perRun >= SMOOTH }
        : { preset: p.label, measured: false });
    }
  }
  const smooth = rows.filter((r) => r.smooth).sort((a, b) => b.params - a.params);
  return { rows, largest: smooth[0] ?? null };
}

function summary({ adapter, results, configs, grown, started }) {
  const lines = [`CABS demo pre-flight check (check.html), ${started.toISOString().slice(0, 16).replace("T", " ")} UTC`];
  lines.push(`CPU threads the browser reports: ${navigator.hardwareConcurrency ?? "unknown"}`);
  lines.push(adapterLine(adapter));
  for (const r of results) if (!r.skipped) lines.push(resultLine(r, configs.find((c) => c.id === r.config)));
  for (const e of ["gpu", "cpu"]) {
    const skipped = results.filter((r) => r.skipped && r.backend === e).map((r) => `${r.config} at m = ${r.batch}`);
    if (skipped.length) lines.push(`${ENGINE[e]}, not measured (the time budget was spent): ${skipped.join(", ")}`);
  }
  const { rows, largest } = verdicts(configs, results, grown);
  lines.push(`Presets on the faster engine, steps/s per run with CABS grown to m = ${grown} (smooth at ≥ ${SMOOTH}):`);
  for (const r of rows) {
    const runs = `${r.runs} run${r.runs > 1 ? "s" : ""}`;
    if (!r.measured) lines.push(`  ?       ${r.preset}: not measured`);
    else if (r.startOnly) lines.push(`  ?       ${r.preset}: ${ENGINE[r.engine]}, ${fmt(r.perRun, 3)} steps/s per run at the start (${runs}); m = ${grown} not measured`);
    else lines.push(`  ${r.smooth ? "smooth" : "slow  "}  ${r.preset}: ${ENGINE[r.engine]}, ${fmt(r.perRun, 3)} steps/s per run (${runs})`);
  }
  lines.push(largest ? `Largest preset that stays smooth: ${largest.preset} (${ENGINE[largest.engine]}, ${fmt(largest.perRun, 3)} steps/s per run)`
    : `No measured preset stays at ${SMOOTH} steps/s per run here: prefer blobs or moons with fewer baselines, or a longer check (?seconds=30).`);
  if (adapter && !adapter.unavailable) lines.push("The demo's backend=auto picks WebGPU on a hardware adapter and times both on a software one; backend=cpu or gpu forces one.");
  return { text: lines.join("\n"), largest };
}

function start() {
  const results = [];
  let adapter = null;
  const started = new Date();
  $("results").replaceChildren();
  $("error").hidden = true;
  $("verdict").textContent = "";
  $("summary").value = "";
  for (const b of ["run", "copy"]) $(b).disabled = true;
  $("status").textContent = "Loading the engine…";
  $("progress").value = 0;
  const worker = new Worker(new URL("./lib/check-worker.js", import.meta.url), { type: "module" });
  const fail = (text) => {
    $("error").textContent = `The check stopped: ${text}`;
    $("error").hidden = false;
    $("status").textContent = "Stopped.";
    $("run").disabled = false;
    worker.terminate();
  };
  worker.onerror = (e) => { e.preventDefault(); fail(e.message || "the check's worker could not start"); };
  worker.onmessage = ({ data: m }) => {
    if (m.type === "adapter") { adapter = m.adapter; $("adapter").textContent = adapterLine(adapter); }
    else if (m.type === "progress") { $("status").textContent = m.text; $("progress").value = m.fraction; }
    else if (m.type === "result") {
      const r = m.result;
      results.push(r);
      const cells = r.stepsPerSecond > 0 ? [ms(r.createMs), ms(r.firstStepMs), fmt(r.stepsPerSecond, 3)] : [r.skipped ? "not measured" : `failed: ${r.error}`, "", ""];
      $("results").append(el("tr", {}, el("td", { text: ENGINE[r.backend] }), el("td", { text: r.config }), el("td", { class: "num", text: String(r.batch) }),
        ...cells.map((t) => el("td", { class: r.stepsPerSecond > 0 ? "num" : "", text: t }))));
    } else if (m.type === "done") {
      worker.terminate();
      const s = summary({ adapter, results, configs: m.configs, grown: m.grown, started });
      $("summary").value = s.text;
      $("verdict").textContent = s.largest ? `Largest preset that stays smooth here: ${s.largest.preset} (${ENGINE[s.largest.engine]}).`
        : `No measured preset stays at ${SMOOTH} steps per second per run on this device.`;
      $("status").textContent = "Done.";
      $("progress").value = 1;
      for (const b of ["run", "copy"]) $(b).disabled = false;
      document.documentElement.dataset.check = "done"; // for tests and scripts: the summary is final
    } else if (m.type === "error") fail(m.message);
  };
  document.documentElement.dataset.check = "running";
  worker.postMessage({ type: "run", seconds: budgetSeconds() });
}

async function copy() {
  const text = $("summary").value;
  try {
    await navigator.clipboard.writeText(text);
    $("copied").textContent = "Copied.";
  } catch {
    $("summary").select(); // no clipboard permission (e.g. not https): leave it selected for Ctrl+C
    $("copied").textContent = "Selected: press Ctrl+C (⌘C) to copy.";
  }
}

$("run").addEventListener("click", start);
$("copy").addEventListener("click", copy);
start();
