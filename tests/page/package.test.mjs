// The npm package: scripts/package.sh assembles dist/npm, `npm pack` makes the tarball, a fresh
// project installs it (offline: the package has no dependencies), its TypeScript declarations
// type-check a small program, and in Chromium the program imports the engine from the installed
// package and trains, and the package's <cabs-demo> element shows a demo that trains.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startServer, launch, openPage } from "./harness.mjs";

let dir, site, tarball, server, browser;
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cabs-pkg-"));
  run("bash", [join(ROOT, "scripts", "package.sh")], ROOT);
  run("npm", ["pack", "--silent", "--pack-destination", dir], join(ROOT, "dist", "npm"));
  tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  site = join(dir, "site");
  run("mkdir", ["-p", site], dir);
  writeFileSync(join(site, "package.json"), JSON.stringify({ name: "site", private: true, type: "module" }));
  run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", join(dir, tarball)], site);
});
after(async () => {
  await browser?.close();
  server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("npm pack gives a package with the wasm, the JS, the types, the element and a README", () => {
  assert.match(tarball, /^cabs-webgpu-\d+\.\d+\.\d+\.tgz$/);
  const listing = run("tar", ["-tzf", join(dir, tarball)], dir).split("\n");
  for (const f of ["package/package.json", "package/README.md", "package/index.d.ts", "package/cabs-demo.d.ts", "package/pkg/cabs.js",
    "package/pkg/cabs_bg.wasm", "package/cabs-demo.js", "package/index.html", "package/worker.js", "package/vendor/uPlot.esm.js", "package/data/mnist.bin"])
    assert.ok(listing.includes(f), `${f} is not in the package`);
  const kb = statSync(join(dir, tarball)).size / 1024;
  const wasmGz = Number(run("bash", ["-c", "gzip -9c www/pkg/cabs_bg.wasm | wc -c"], ROOT));
  console.log(`# ${tarball}: ${kb.toFixed(0)} KiB; the page's wasm: ${(wasmGz / 1024).toFixed(0)} KiB gzipped`);
  assert.ok(wasmGz < 300 * 1024, `the wasm is ${wasmGz} bytes gzipped, over the page's 300 KB budget`);
});

test("the TypeScript declarations type-check a program that uses them (and reject a wrong one)", () => {
  const good = `import init, { Trainer, csvHeader, csvRow, settingsSchema, type StepResult, type EvalResult, type Settings, type SettingsSchema } from "cabs-webgpu";
import type { CabsDemo } from "cabs-webgpu/cabs-demo.js";
export async function train(): Promise<number> {
  await init();
  const settings: Settings = { data: "blobs", model: "mlp:16", rule: "cabs", lr: 4, backend: "cpu" };
  const t: Trainer = await Trainer.create(settings);
  const s: StepResult = await t.step();
  const e: EvalResult = await t.evaluate();
  const header: string = csvHeader();
  const row: string = csvRow({ ...s, testLoss: e.testLoss, testAccuracy: e.testAccuracy, wallMs: 12.5 });
  const schema: SettingsSchema = settingsSchema();
  const lrDefault = schema.keys.find((k) => k.key === "lr")?.default;
  const el: CabsDemo | null = document.querySelector("cabs-demo");
  el?.addEventListener("cabs-progress", (ev) => console.log(ev.detail.runs[0].batchSize));
  try { await t.step(); } catch (err) { if ((err as Error).name === "DivergedError") return -1; }
  t.free();
  return s.batchSize + s.nextBatchSize + e.testAccuracy + header.length + row.length + Number(lrDefault) + t.info().paramCount;
}
`;
  const bad = `import { Trainer } from "cabs-webgpu";
export async function f() { const t = await Trainer.create({ data: "blobs", lr: "fast" }); const s = await t.step(); return s.batchsize; }
`;
  writeFileSync(join(site, "good.ts"), good);
  writeFileSync(join(site, "bad.ts"), bad);
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const opts = ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--lib", "es2022,dom"];
  run(process.execPath, [tsc, ...opts, "good.ts"], site); // throws with the compiler's messages on a type error
  let out = "";
  try { run(process.execPath, [tsc, ...opts, "bad.ts"], site); } catch (err) { out = String(err.stdout); }
  assert.match(out, /error TS2322: Type .string. is not assignable to type .number./, "a string α passed the type check");
  assert.match(out, /batchsize/, "a misspelt step field passed the type check");
});

test("in Chromium the installed package imports, trains, and its <cabs-demo> element trains", async () => {
  writeFileSync(join(site, "index.html"), `<!doctype html><meta charset="utf-8"><title>package test</title>
<script type="importmap">{"imports": {"cabs-webgpu": "./node_modules/cabs-webgpu/pkg/cabs.js"}}</script>
<script type="module" src="./node_modules/cabs-webgpu/cabs-demo.js"></script>
<script type="module" src="./app.js"></script>
<cabs-demo id="demo" data="moons" model="mlp:16,16:tanh" lr="2" baselines="const:16" backend="cpu" play="1" height="480"></cabs-demo>`);
  writeFileSync(join(site, "app.js"), `import init, { Trainer, csvHeader, csvRow, settingsSchema } from "cabs-webgpu";
window.result = (async () => {
  await init();
  const t = await Trainer.create({ data: "blobs", model: "mlp:16", rule: "cabs", lr: 4, mu: 0.9, backend: "cpu" });
  let s;
  for (let i = 0; i < 60; i++) s = await t.step();
  const e = await t.evaluate();
  const out = { step: s.step, batchSize: s.batchSize, loss: s.loss, testAccuracy: e.testAccuracy, header: csvHeader().split(",")[0], backend: t.backend().kind,
    examplesSeen: s.examplesSeen, row: csvRow({ ...s, testLoss: e.testLoss, testAccuracy: e.testAccuracy }).split(",").slice(0, 3).join(","),
    keys: settingsSchema().keys.length };
  t.free();
  return out;
})().catch((err) => ({ error: String(err) }));`);
  server = await startServer(site);
  browser = await launch({ webgpu: false });
  const page = await openPage(browser, `${server.url}index.html`);
  const r = await page.evaluate(() => window.result);
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.step, 60);
  assert.equal(r.backend, "cpu");
  assert.equal(r.header, "step");
  assert.equal(r.row, `60,${r.examplesSeen},${r.batchSize}`, "csvRow from the package formats the step");
  assert.ok(r.keys >= 16, `settingsSchema() from the package lists ${r.keys} keys`);
  assert.ok(r.batchSize > 16, `CABS did not grow the batch: ${JSON.stringify(r)}`);
  assert.ok(r.testAccuracy > 0.5, `no learning: ${JSON.stringify(r)}`);
  await page.waitForFunction(() => (document.getElementById("demo").cabsDemo?.snapshot().runs[0].step ?? 0) >= 10, null, { timeout: 60_000, polling: 200 });
  await page.context().close();
});
