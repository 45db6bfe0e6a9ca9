// Time the demo page itself, as a visitor gets it, with different URL settings: ms per training
// step of the whole page (worker, statistics, charts and evaluations included) in headless
// Chromium with its SwiftShader WebGPU adapter. Each variant is a URL hash (the page keeps its settings there); variants are
// interleaved over rounds (A B C, then C B A, …), a fresh page per measurement, medians printed
// with the ratio of each variant to the first. "first step at" is the page's own time from navigation
// to its first training step.
//   node scripts/bench-page.mjs [HASH …]        default: "backend=auto" "backend=cpu"
//   env: ROUNDS=5 SECONDS=8 (measured window after the first step) WARMUP=2 (seconds)
//        WEBGPU=0: a Chromium without WebGPU (no --enable-unsafe-webgpu), as many visitors have
//        SITE=DIR: serve DIR instead of www/; a variant "sub#hash" opens DIR/sub/#hash
// It also prints where the first step's time went (the page's snapshot().startup marks) and what
// a first load weighs gzipped (every file the page and its worker fetched, the data set apart).
// It serves www/ (needs www/pkg from scripts/build-wasm.sh and www/data/mnist.bin).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const variants = process.argv.length > 2 ? process.argv.slice(2) : ["backend=auto", "backend=cpu"];
const rounds = Number(process.env.ROUNDS ?? 5);
const seconds = Number(process.env.SECONDS ?? 8);
const warmup = Number(process.env.WARMUP ?? 2);

const freePort = () => new Promise((ok) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); }); });
const port = await freePort();
// SITE: another folder to serve; a variant "dir#hash" opens dir/ in it (e.g. two copies of www/
// side by side, to compare a change with the tree before it, interleaved in one run).
const SITE = process.env.SITE || join(ROOT, "www");
const server = spawn(process.execPath, [join(ROOT, "scripts", "serve.mjs"), SITE], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
await new Promise((ok) => server.stdout.on("data", (d) => { if (String(d).includes("serving")) ok(); }));
// A fresh browser per measurement, as a new visitor has: one browser's GPU process would carry
// the previous page's pipeline compiles (seconds on SwiftShader) into the next page's start-up.
const launch = () => chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-quic", "--enable-unsafe-swiftshader", ...(process.env.WEBGPU === "0" ? [] : ["--enable-unsafe-webgpu"])] });

/** One page load: {msPerStep, firstStepMs, backend} — steps counted on the first run of the page. */
async function measure(query) {
  const browser = await launch();
  try {
    return await measureIn(browser, query);
  } finally {
    await browser.close();
  }
}

async function measureIn(browser, query) {
  const page = await browser.newPage();
  // Every file this first load fetched, the worker's included (Playwright reports both).
  const paths = [];
  page.context().on("requestfinished", (r) => paths.push(new URL(r.url()).pathname));
  transferred = async () => gzipped(paths);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const [dir, hash] = query.includes("#") ? query.split("#") : ["", query];
  await page.goto(`http://127.0.0.1:${port}/${dir ? `${dir}/` : ""}#${hash}&play=1`);
  await page.waitForFunction(() => window.cabsDemo?.snapshot().runs[0]?.step > 0, null, { timeout: 120_000 });
  await page.waitForTimeout(warmup * 1000);
  const at = () => page.evaluate(() => ({ t: performance.now(), s: window.cabsDemo.snapshot() }));
  const a = await at();
  await page.waitForTimeout(seconds * 1000);
  const b = await at();
  await page.close();
  if (errors.length) throw new Error(`${query}: page error: ${errors[0]}`);
  const steps = b.s.runs[0].step - a.s.runs[0].step;
  if (!(steps > 0)) throw new Error(`${query}: no steps in ${seconds} s`);
  return { msPerStep: (b.t - a.t) / steps, firstStepMs: b.s.timing.firstStepMs, backend: b.s.backend?.kind ?? "?", startup: b.s.startup ?? {},
    snapshots: b.s.backend?.handover?.snapshots ?? null, bytes: await transferred(b.s) };
}

let transferred = async () => null;

/** What the paths served would weigh gzipped (as a static host sends them): {total, wasm, data, files}. */
function gzipped(paths) {
  const out = { total: 0, wasm: 0, data: 0, files: 0 };
  for (const p of new Set(paths)) {
    let file = join(SITE, decodeURIComponent(p));
    if (p.endsWith("/")) file = join(file, "index.html");
    if (!existsSync(file)) continue;
    const n = gzipSync(readFileSync(file), { level: 9 }).length;
    if (p.endsWith(".bin")) { out.data += n; continue; } // the data set: counted apart
    out.total += n;
    out.files++;
    if (p.endsWith(".wasm")) out.wasm += n;
  }
  return out;
}

const results = new Map(variants.map((v) => [v, []]));
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const v of order) results.get(v).push(await measure(v));
  }
} finally {
  server.kill();
}
const median = (v) => { const s = [...v].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
console.log(`demo page with default settings, headless Chromium (${process.env.WEBGPU === "0" ? "no WebGPU" : "SwiftShader WebGPU"}), ${rounds} rounds × ${seconds} s after a ${warmup} s warm-up, medians`);
const base = median(results.get(variants[0]).map((r) => r.msPerStep));
for (const v of variants) {
  const r = results.get(v);
  const ms = median(r.map((x) => x.msPerStep));
  const engines = [...new Set(r.map((x) => x.backend))].join("/");
  console.log(`${v.padEnd(20)} ${ms.toFixed(2).padStart(8)} ms/step  first step at ${median(r.map((x) => x.firstStepMs)).toFixed(0).padStart(6)} ms  engine ${engines}  ratio to ${variants[0]}: ${(ms / base).toFixed(2)}`);
}
// Where the first step's time went: the page's snapshot().startup marks (ms since navigation),
// medians per variant; and what a first load transferred (encoded bytes, as served: no gzip here).
const keys = [...new Set(variants.flatMap((v) => results.get(v).flatMap((x) => Object.keys(x.startup))))].sort((a, b) =>
  median(results.get(variants[0]).map((x) => x.startup[a] ?? Infinity)) - median(results.get(variants[0]).map((x) => x.startup[b] ?? Infinity)));
if (keys.length) {
  console.log(`\nstart-up marks, ms since navigation (medians)\n${"mark".padEnd(22)}${variants.map((v) => v.slice(0, 18).padStart(20)).join("")}`);
  for (const k of keys) console.log(`${k.padEnd(22)}${variants.map((v) => { const xs = results.get(v).map((x) => x.startup[k]).filter(Number.isFinite); return (xs.length ? median(xs).toFixed(0) : "–").padStart(20); }).join("")}`);
}
for (const v of variants) {
  const s = results.get(v).map((x) => x.snapshots).filter((x) => x && x.count > 1);
  if (s.length) console.log(`${v}: WebGPU snapshots every ${s[0].everyMs} ms cost ${(100 * median(s.map((x) => x.share))).toFixed(2)} % of the step time (median of ${s.length} pages)`);
}
for (const v of variants) {
  const b = results.get(v)[0].bytes;
  if (b) console.log(`${v}: a first load is ${b.files} files, ${b.total.toLocaleString("en")} B gzipped (the wasm ${b.wasm.toLocaleString("en")} B)${b.data ? `, plus the data set ${b.data.toLocaleString("en")} B` : ""}`);
}
