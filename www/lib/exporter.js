// Export and import: each run as CSV (rows formatted by the engine, with the native runner's own
// code), all runs as JSON (settings + every step), and loading a saved JSON run to show it next
// to the live ones.
// Everything stays in the browser: downloads are Blob URLs, imports are read with FileReader.
import { runsToJson, runsFromJson } from "./store.js";

export function download(fileName, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const slug = (s) => s.replace(/[^\w.-]+/g, "_");

let engine = null;
/** The engine module (pkg/cabs.js) for its CSV formatter, loaded on the first export. */
export function csvEngine() {
  engine ??= import("../pkg/cabs.js").then(async (m) => { await m.default(); return m; }).catch((err) => {
    engine = null;
    throw new Error(`the CSV export needs the engine (pkg/cabs_bg.wasm), which could not be loaded: ${err?.message ?? err}`);
  });
  return engine;
}

/** One CSV file per run. Rejects with a readable Error when the engine cannot be loaded. */
export async function downloadCsv(runs, state) {
  const fmt = await csvEngine();
  for (const run of runs) download(`cabs-${state.data}-${slug(run.rule)}-seed${state.seed}.csv`, run.toCsv(fmt), "text/csv");
}

export function downloadJson(runs, settings, backend) {
  download(`cabs-${settings.data}-seed${settings.seed}.json`, JSON.stringify(runsToJson(runs, settings, backend)), "application/json");
}

/** Read a File chosen by the user; resolves to Runs (ids from nextId) or rejects with a readable Error. */
export function importJson(file, nextId) {
  if (file.size > 200 * 1024 * 1024) return Promise.reject(new Error("this file is larger than 200 MB"));
  return file.text().then((text) => runsFromJson(text, file.name, nextId));
}
