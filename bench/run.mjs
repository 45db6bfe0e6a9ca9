#!/usr/bin/env node
// Our two engines against TensorFlow.js on the same MLP step, in one headless Chromium.
//   node bench/run.mjs [--rounds 5] [--steps 3] [--m 16,256,1024] [--engines a,b,…] [--json FILE]
// Each engine runs in its own page of one browser (bench/index.html?engine=…), set up once and
// warmed up; then every round times `steps` steps of every engine at every m, the engines in
// order A B C … on even rounds and reversed on odd ones, so drift and warm-up hit all alike.
// Prints the median ms per step over all timed steps, and ratios of ours to TF.js.
// Needs www/pkg (bash scripts/build-wasm.sh), www/data/mnist.bin and node_modules (bash
// scripts/setup.sh); everything is served from this repository by scripts/serve.mjs: offline.
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const ENGINES = ["ours-gpu", "ours-cpu", "tfjs-webgpu", "tfjs-webgl", "tfjs-wasm"];
const LABEL = { "ours-gpu": "ours WebGPU", "ours-cpu": "ours CPU (wasm)", "tfjs-webgpu": "TF.js webgpu", "tfjs-webgl": "TF.js webgl", "tfjs-wasm": "TF.js wasm" };
// The flags every headless run here needs (closed network); WebGPU only with the unsafe flag.
const FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic", "--enable-unsafe-webgpu", "--enable-unsafe-swiftshader"];

function args() {
  const a = { rounds: 5, steps: 3, m: [16, 256, 1024], engines: ENGINES, json: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, "");
    const v = argv[++i];
    if (v === undefined) throw new Error(`--${key} needs a value`);
    if (key === "rounds" || key === "steps") a[key] = Math.max(1, parseInt(v, 10) || 0);
    else if (key === "m") a.m = v.split(",").map(Number).filter((x) => Number.isInteger(x) && x > 0);
    else if (key === "engines") a.engines = v.split(",").filter((e) => ENGINES.includes(e));
    else if (key === "json") a.json = v;
    else throw new Error(`unknown option --${key} (use --rounds, --steps, --m, --engines, --json)`);
  }
  if (!a.m.length || !a.engines.length) throw new Error("no batch sizes or engines left to run");
  return a;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function serve() {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "scripts", "serve.mjs"), ROOT], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`serve.mjs exited with ${code}`)));
    child.stdout.on("data", (d) => { if (String(d).includes("serving")) resolve(); });
  });
  return { url: `http://127.0.0.1:${port}/bench/index.html`, stop: () => child.kill() };
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const ms = (x) => (x === undefined ? "–" : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
const ratio = (a, b) => (a === undefined || b === undefined ? "–" : `${(a / b).toFixed(2)}×`);

async function main() {
  const a = args();
  for (const f of ["www/pkg/cabs.js", "www/pkg/cabs_bg.wasm", "www/data/mnist.bin", "node_modules/@tensorflow/tfjs/dist/tf.min.js",
    "node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js", "node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm"])
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run bash scripts/setup.sh and bash scripts/build-wasm.sh first`);
  const server = await serve();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: FLAGS });
  try {
    const context = await browser.newContext();
    const pages = {};
    const details = {};
    for (const e of a.engines) {
      const page = await context.newPage();
      page.on("pageerror", (err) => console.error(`# ${e}: ${err.message}`));
      await page.goto(`${server.url}?engine=${e}`);
      await page.waitForFunction(() => window.bench, null, { timeout: 60_000 });
      const t0 = Date.now();
      details[e] = (await page.evaluate(([name, m]) => window.bench.setup(name, m), [e, a.m])).detail;
      console.error(`# ${LABEL[e]}: set up and warmed up in ${((Date.now() - t0) / 1000).toFixed(1)} s (${details[e]})`);
      pages[e] = page;
    }
    const adapter = await pages[a.engines[0]].evaluate(() => window.bench.adapter());
    const samples = Object.fromEntries(a.engines.map((e) => [e, Object.fromEntries(a.m.map((m) => [m, []]))]));
    for (let r = 0; r < a.rounds; r++) {
      const order = r % 2 ? [...a.engines].reverse() : a.engines;
      for (const m of a.m)
        for (const e of order) samples[e][m].push(...(await pages[e].evaluate(([mm, k]) => window.bench.run(mm, k), [m, a.steps])));
      console.error(`# round ${r + 1}/${a.rounds} done`);
    }
    const med = Object.fromEntries(a.engines.map((e) => [e, Object.fromEntries(a.m.map((m) => [m, median(samples[e][m])]))]));

    const cpu = cpus();
    console.log(`MLP 784-256-10 step (ReLU, softmax cross-entropy, plain SGD, loss read back every step); median ms per step over ${a.rounds} interleaved rounds × ${a.steps} steps`);
    console.log(`${new Date().toISOString().slice(0, 10)} · Chromium ${browser.version()} headless · ${cpu.length} × ${cpu[0]?.model ?? "CPU"} · WebGPU adapter: ${adapter ? [adapter.description, adapter.vendor, adapter.architecture].filter(Boolean).join(" ") + (adapter.isFallbackAdapter ? " (isFallbackAdapter)" : "") : "none"}`);
    for (const e of a.engines) console.log(`  ${LABEL[e]}: ${details[e]}`);
    console.log("");
    const cols = a.engines.map((e) => LABEL[e]);
    const pairs = [["ours-gpu", "tfjs-webgpu"], ["ours-cpu", "tfjs-wasm"]].filter(([x, y]) => a.engines.includes(x) && a.engines.includes(y));
    const best = (m, lib) => { const v = a.engines.filter((e) => e.startsWith(lib)).map((e) => med[e][m]); return v.length ? Math.min(...v) : undefined; };
    const head = ["m", ...cols, ...pairs.map(([x, y]) => `${LABEL[x]} ÷ ${LABEL[y]}`), "best ours ÷ best TF.js"];
    console.log(`| ${head.join(" | ")} |`);
    console.log(`|${head.map(() => "---:").join("|")}|`);
    for (const m of a.m)
      console.log(`| ${[m, ...a.engines.map((e) => ms(med[e][m])), ...pairs.map(([x, y]) => ratio(med[x][m], med[y][m])), ratio(best(m, "ours"), best(m, "tfjs"))].join(" | ")} |`);
    if (a.json) {
      writeFileSync(a.json, JSON.stringify({ date: new Date().toISOString(), chromium: browser.version(), cpu: cpu[0]?.model, cores: cpu.length, adapter, details, options: a, samples, medians: med }, null, 1));
      console.error(`# raw samples written to ${a.json}`);
    }
  } finally {
    await browser.close();
    server.stop();
  }
}

main().catch((err) => { console.error(`bench: ${err.message}`); process.exit(1); });
