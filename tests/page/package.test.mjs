// The release files of scripts/package.sh. The npm package: dist/npm and its `npm pack` tarball,
// which a fresh project installs (offline: the package has no dependencies), whose TypeScript
// declarations type-check a small program, and whose engine and <cabs-demo> element train in
// Chromium. The hostable site: dist/site, copied into a subfolder of a static server, trains with
// no failed request and no console error; the served types are the ones hosts must send; both
// archives come out byte for byte the same when the script runs again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, mkdirSync, writeFileSync, readdirSync, readFileSync, rmSync, statSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startServer, startStaticServer, launch, openPage } from "./harness.mjs";

let dir, site, tarball, server, browser;
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const version = readFileSync(join(ROOT, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];
const DIST = join(ROOT, "dist");
const archives = [`cabs-webgpu-site-${version}.tar.gz`, `cabs-webgpu-${version}.tgz`];
/** package.sh with `env` added; its exit status must be 0. Returns its stderr. */
function packageSh(env = {}) {
  const r = spawnSync("bash", [join(ROOT, "scripts", "package.sh")], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `package.sh failed:\n${r.stderr}`);
  return r.stderr;
}
let firstLog;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cabs-pkg-"));
  firstLog = packageSh({ CABS_REPOSITORY_URL: "" });
  tarball = archives[1];
  copyFileSync(join(DIST, tarball), join(dir, tarball));
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
  for (const f of ["package/package.json", "package/README.md", "package/LICENSE-MIT", "package/LICENSE-APACHE", "package/check.html", "package/index.d.ts", "package/cabs-demo.d.ts", "package/pkg/cabs.js",
    "package/pkg/cabs_bg.wasm", "package/cabs-demo.js", "package/index.html", "package/worker.js", "package/vendor/uPlot.esm.js", "package/data/mnist.bin", "package/data/mnist.bin.gz"])
    assert.ok(listing.includes(f), `${f} is not in the package`);
  const kb = statSync(join(dir, tarball)).size / 1024;
  const wasmGz = Number(run("bash", ["-c", "gzip -9c www/pkg/cabs_bg.wasm | wc -c"], ROOT));
  console.log(`# ${tarball}: ${kb.toFixed(0)} KiB; the page's wasm: ${(wasmGz / 1024).toFixed(0)} KiB gzipped`);
  // 300 KB: the run state's header is binary, written and read by hand (src/run_state.rs), so
  // reading a state at the JavaScript API brings no serde_json reader into the wasm.
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

test("the npm package.json lists its files and takes `repository` from CABS_REPOSITORY_URL or git, never made up", () => {
  const pkg = JSON.parse(readFileSync(join(DIST, "npm", "package.json"), "utf8"));
  assert.equal(pkg.license, "MIT OR Apache-2.0");
  for (const f of ["pkg", "lib", "data", "vendor", "index.html", "cabs-demo.js", "index.d.ts", "cabs-demo.d.ts", "LICENSE-MIT", "LICENSE-APACHE"])
    assert.ok(pkg.files.includes(f), `"files" lacks ${f}: ${JSON.stringify(pkg.files)}`);
  let origin = "";
  try { origin = run("git", ["remote", "get-url", "origin"], ROOT).trim(); } catch { /* no remote here */ }
  if (origin) assert.equal(pkg.repository?.url, origin);
  else {
    assert.equal(pkg.repository, undefined, "a repository URL appeared from nowhere");
    assert.match(firstLog, /warning: no repository URL/);
  }
  const other = join(dir, "with-url");
  packageSh({ CABS_REPOSITORY_URL: 'https://git.example.org/cabs "webgpu".git', CABS_DIST: other });
  const again = JSON.parse(readFileSync(join(other, "npm", "package.json"), "utf8"));
  assert.deepEqual(again.repository, { type: "git", url: 'https://git.example.org/cabs "webgpu".git' });
});

/** SHA-256 of every file under `root` by relative path: what an archive should depend on. */
function treeSums(root) {
  const out = {};
  const walk = (d) => {
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
      const rel = d ? `${d}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else out[rel] = createHash("sha256").update(readFileSync(join(root, rel))).digest("hex");
    }
  };
  walk("");
  return out;
}

test("package.sh run twice on the same files gives byte-identical archives, and the site archive holds the whole site", () => {
  // Two runs into folders of their own; when someone edits www/ between them (the inputs differ), try again.
  let sums;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [a, b] = ["again-a", "again-b"].map((name) => {
      const d = join(dir, name);
      rmSync(d, { recursive: true, force: true });
      packageSh({ CABS_REPOSITORY_URL: "", CABS_DIST: d });
      return { d, tree: JSON.stringify(treeSums(join(d, "site"))) + JSON.stringify(treeSums(join(d, "npm"))) };
    });
    if (a.tree !== b.tree) continue;
    sums = [a, b].map(({ d }) => archives.map((f) => createHash("sha256").update(readFileSync(join(d, f))).digest("hex")));
    break;
  }
  assert.ok(sums, "www/ kept changing while the test ran package.sh");
  assert.deepEqual(sums[1], sums[0], "the archives differ although their inputs did not");
  const listing = run("tar", ["-tzf", join(DIST, archives[0])], ROOT).split("\n");
  const top = `cabs-webgpu-site-${version}/`;
  for (const f of ["index.html", "main.js", "worker.js", "style.css", "cabs-demo.js", "check.html", "check.js", "lib/check-worker.js",
    "lib/settings-schema.js", "examples/post.html", "examples/slides.html", "pkg/cabs.js", "pkg/cabs_bg.wasm", "data/mnist.bin", "data/mnist.bin.gz",
    "vendor/uPlot.esm.js", "vendor/uPlot.min.css", "vendor/reveal/reveal.mjs", "LICENSE-MIT", "LICENSE-APACHE", "README.txt"])
    assert.ok(listing.includes(top + f), `${f} is not in ${archives[0]}`);
  assert.ok(listing.some((f) => f.startsWith(`${top}pkg/snippets/`) && f.endsWith(".js")), "pkg/snippets/ (cabs.js imports it) is missing");
  assert.ok(!listing.some((f) => /README\.md$|\.d\.ts$|package\.json$/.test(f)), "developer files leaked into the site");
});

test("dist/site served from a subfolder trains (the page, the blog-post example, the check page) with no failed request and no console error, with the types hosts must send", { timeout: 180_000 }, async () => {
  const root = join(dir, "host");
  const sub = join(root, "talks", "cabs");
  mkdirSync(sub, { recursive: true });
  cpSync(join(DIST, "site"), sub, { recursive: true });
  const host = await startStaticServer(root);
  try {
    const base = `${host.url}talks/cabs/`;
    for (const [f, type] of [["pkg/cabs_bg.wasm", "application/wasm"], ["pkg/cabs.js", "text/javascript"], ["cabs-demo.js", "text/javascript"],
      ["index.html", "text/html"], ["check.html", "text/html"], ["style.css", "text/css"]]) {
      const res = await fetch(base + f);
      assert.equal(res.status, 200, f);
      assert.equal(res.headers.get("content-type").split(";")[0], type, f);
    }
    const redirected = await fetch(`${host.url}talks/cabs`);
    assert.equal(redirected.url, base, "a folder without its trailing slash is not redirected to it");
    const b = await launch({ webgpu: false });
    try {
      const context = await b.newContext();
      const page = await context.newPage();
      const problems = [];
      page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("requestfailed", (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
      page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
      await page.goto(`${base}index.html#play=1`); // the default settings: MNIST from data/mnist.bin.gz
      // Trained a step, or stop at the first problem (a missing file shows at once, not as a timeout).
      for (const deadline = Date.now() + 120_000; problems.length === 0; await new Promise((r) => setTimeout(r, 200))) {
        if (await page.evaluate(() => (window.cabsDemo?.snapshot().runs?.[0]?.step ?? 0) >= 1)) break;
        assert.ok(Date.now() < deadline, "the site's demo trained no step in 120 s");
      }
      assert.deepEqual(problems, []);
      // The blog-post example from the same subfolder: its first <cabs-demo> (../cabs-demo.js) trains too.
      await page.goto(`${base}examples/post.html`);
      for (const deadline = Date.now() + 120_000; problems.length === 0; await new Promise((r) => setTimeout(r, 200))) {
        if (await page.evaluate(() => (document.getElementById("demo-blobs")?.cabsDemo?.snapshot().runs?.[0]?.step ?? 0) >= 1)) break;
        assert.ok(Date.now() < deadline, "the example's first demo trained no step in 120 s");
      }
      assert.deepEqual(problems, []);
      // The pre-flight check from the same subfolder reaches its summary (2 s budget, CPU engine).
      await page.goto(`${base}check.html?seconds=2`);
      await page.waitForFunction(() => document.documentElement.dataset.check === "done" || !document.getElementById("error").hidden, null, { timeout: 120_000 });
      assert.match(await page.evaluate(() => document.getElementById("summary").value), /^CPU engine, default model .*: [\d.]+ steps\/s/m);
      assert.deepEqual(problems, []);
      await context.close();
    } finally {
      await b.close();
    }
  } finally {
    host.stop();
  }
});
