// backend=auto on headless Chromium's SwiftShader (a software WebGPU adapter, isFallbackAdapter):
// with the page's default settings, the engine times both of its engines on the rule's first
// batch at start-up and keeps the faster one; the badge and the note show the choice with both
// figures. backend=gpu still forces WebGPU. No assertion compares the two timings: only that a
// choice consistent with its own measured figures is reported.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, openPage, ready } from "./harness.mjs";

let server, browser;

before(async () => {
  server = await startServer();
  browser = await launch({ webgpu: true });
});
after(async () => {
  await browser?.close();
  server?.stop();
});

test("auto with default settings on SwiftShader: both engines timed, the faster kept, the reason shown", async () => {
  const page = await openPage(browser, server.url);
  const snap = await ready(page, 120_000);
  const { kind, choice, browserAdapter } = snap.backend;
  console.log(`# auto chose ${kind}: ${JSON.stringify(choice)}; adapter ${JSON.stringify(browserAdapter)}`);
  assert.equal((await page.evaluate(() => window.cabsDemo.settings())).backend, "auto");
  assert.equal(browserAdapter?.isFallbackAdapter, true, "headless Chromium's WebGPU adapter is SwiftShader, a fallback adapter");
  assert.equal(choice.requested, "auto");
  assert.equal(choice.how, "measured", "a software adapter is timed against the CPU engine");
  const t = choice.trial;
  assert.equal(t.batch, 16, "timed on CABS's first batch (m_min = 16 by default)");
  assert.ok(t.steps >= 1 && t.steps <= 3, `timed steps per engine: ${t.steps}`);
  for (const v of [t.cpuMsPerStep, t.gpuMsPerStep, t.totalMs]) assert.ok(Number.isFinite(v) && v > 0, `a measured time: ${v}`);
  const faster = t.cpuMsPerStep < t.gpuMsPerStep ? "cpu" : "gpu";
  assert.equal(kind, faster, "auto keeps the engine its own figures favour");
  assert.match(choice.reason, /software .*CPU [\d.]+ ms\/step vs GPU [\d.]+ ms\/step at m = 16/);
  assert.equal(snap.backend.fallbackReason, faster === "cpu" ? choice.reason : null);

  assert.equal((await page.textContent("#backend .badge")).trim(), faster === "cpu" ? "CPU" : "WebGPU");
  assert.equal(await page.getAttribute("#backend", "title"), choice.reason, "the badge's tooltip is the engine's reason");
  const note = await page.textContent("#backend-note");
  assert.match(note, /auto timed both engines on the software adapter .+: CPU [\d.]+ ms\/step vs WebGPU [\d.]+ ms\/step at m = 16/);
  assert.match(note, faster === "cpu" ? /^The CPU engine was chosen: / : /so it kept WebGPU/);

  // The chosen engine trains both runs of the comparison in lock step.
  await page.click("#play");
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs.every((r) => r.step >= 3), null, { timeout: 60_000, polling: 100 });
  const runs = (await page.evaluate(() => window.cabsDemo.snapshot())).runs;
  assert.deepEqual(runs.map((r) => r.rule), ["cabs", "const:16"]);
  assert.ok(runs.every((r) => Number.isFinite(r.loss)), JSON.stringify(runs));
  await page.context().close();
});

test("backend=gpu still forces WebGPU, untimed, and suggests auto or cpu on a software adapter", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&backend=gpu`);
  const snap = await ready(page);
  assert.equal(snap.backend.kind, "gpu");
  assert.deepEqual({ requested: snap.backend.choice.requested, how: snap.backend.choice.how, trial: snap.backend.choice.trial },
    { requested: "gpu", how: "forced", trial: null });
  assert.equal((await page.textContent("#backend .badge")).trim(), "WebGPU");
  assert.match(await page.textContent("#backend-note"), /WebGPU adapter: .+ · a software GPU \(slow\): for speed set Backend to auto or cpu/);
  await page.context().close();
});
