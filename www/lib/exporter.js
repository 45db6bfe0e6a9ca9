// Export and import: each run as CSV (the native runner's columns), all runs as JSON
// (settings + every step), and loading a saved JSON run to show it next to the live ones.
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

export function downloadCsv(run, header, state) {
  download(`cabs-${state.data}-${slug(run.rule)}-seed${state.seed}.csv`, run.toCsv(header), "text/csv");
}

export function downloadJson(runs, settings, backend) {
  download(`cabs-${settings.data}-seed${settings.seed}.json`, JSON.stringify(runsToJson(runs, settings, backend)), "application/json");
}

/** Read a File chosen by the user; resolves to Runs (ids from nextId) or rejects with a readable Error. */
export function importJson(file, nextId) {
  if (file.size > 200 * 1024 * 1024) return Promise.reject(new Error("this file is larger than 200 MB"));
  return file.text().then((text) => runsFromJson(text, file.name, nextId));
}
