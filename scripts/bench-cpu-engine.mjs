// Time the page's CPU engine (wasm, `backend: "cpu"`) in headless Chromium: MLP 784-256-10 on
// MNIST at constant batch sizes, ms per `Trainer.step()` (statistics read back every step, as
// the page does). Several builds can be compared: each argument is a folder holding `pkg/`
// (from scripts/build-wasm.sh) and `data/mnist.bin`; builds and batch sizes are interleaved over
// rounds, a fresh page per measurement, and the medians printed.
//   node scripts/bench-cpu-engine.mjs www [OTHER_ROOT …]   (env: ROUNDS=5 STEPS=30 BATCHES=16,256)
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { resolve, join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const roots = (process.argv.length > 2 ? process.argv.slice(2) : ["www"]).map((r) => resolve(r));
const rounds = Number(process.env.ROUNDS ?? 5);
const steps = Number(process.env.STEPS ?? 30);
const batches = (process.env.BATCHES ?? "16,256").split(",").map(Number);
const model = process.env.MODEL ?? "mlp:256";

const freePort = () => new Promise((ok) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); }); });
async function serve(root) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "scripts", "serve.mjs"), root], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((ok) => child.stdout.on("data", (d) => { if (String(d).includes("serving")) ok(); }));
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill() };
}

const servers = await Promise.all(roots.map(serve));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"] });
const times = new Map(); // "root|m" → [ms per step of each round]
try {
  for (let round = 0; round < rounds; round++) {
    for (const m of batches) {
      for (const [i, srv] of servers.entries()) {
        const page = await browser.newPage();
        await page.goto(srv.url);
        const ms = await page.evaluate(async ({ m, steps, model }) => {
          const mod = await import("/pkg/cabs.js");
          await mod.default();
          const bytes = new Uint8Array(await (await fetch("/data/mnist.bin")).arrayBuffer());
          const t = await mod.Trainer.create({ data: "mnist", model, rule: `const:${m}`, backend: "cpu", lr: 0.1 }, bytes);
          // Warm-up: at least 3 steps and 1.5 s, so V8 has tiered the hot wasm functions up from
          // its baseline compiler (the page trains for minutes: the steady state is what counts).
          const w0 = performance.now();
          for (let s = 0; s < 3 || performance.now() - w0 < 1500; s++) await t.step();
          const t0 = performance.now();
          for (let s = 0; s < steps; s++) await t.step();
          return (performance.now() - t0) / steps;
        }, { m, steps, model });
        await page.close();
        const key = `${roots[i]}|${m}`;
        times.set(key, [...(times.get(key) ?? []), ms]);
      }
    }
  }
} finally {
  await browser.close();
  servers.forEach((s) => s.stop());
}
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
console.log(`model ${model} on mnist, CPU engine in headless Chromium, ${rounds} rounds × ${steps} steps, median ms per step`);
for (const m of batches) for (const r of roots) console.log(`m = ${String(m).padStart(5)}  ${median(times.get(`${r}|${m}`)).toFixed(2).padStart(8)} ms  ${r}`);
