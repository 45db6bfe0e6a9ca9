// backend=auto on headless Chromium's SwiftShader (a software WebGPU adapter, isFallbackAdapter):
// with the page's default settings, the runs start on the CPU engine at once while WebGPU is
// built; then both engines are timed on the live run and the faster kept; the badge and the note
// show the choice with both figures. backend=gpu still forces WebGPU (after the CPU start). No
// assertion compares the two timings: only that a choice consistent with its own measured
// figures is reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, ready, pageSuite } from "./harness.mjs";

let server, browser;

pageSuite({ webgpu: true }, (s) => ({ server, browser } = s));

test("auto with default settings on SwiftShader: both engines timed on the live run, the faster kept, the reason shown", async () => {
  const page = await openPage(browser, server.url);
  const start = await ready(page, 120_000);
  assert.equal(start.backend.kind, "cpu", "the CPU engine starts at once");
  assert.equal(start.backend.handover.state, "building");
  await page.waitForFunction(() => !["building", "trial"].includes(window.cabsDemo.snapshot().backend.handover.state), null, { timeout: 120_000, polling: 200 });
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  const { kind, handover, browserAdapter } = snap.backend;
  console.log(`# auto chose ${kind}: ${JSON.stringify(handover)}; adapter ${JSON.stringify(browserAdapter)}`);
  assert.equal((await page.evaluate(() => window.cabsDemo.settings())).backend, "auto");
  assert.equal(browserAdapter?.isFallbackAdapter, true, "headless Chromium's WebGPU adapter is SwiftShader, a fallback adapter");
  assert.equal(handover.requested, "auto");
  const t = handover.trial;
  assert.ok(t, "a software adapter is timed against the CPU engine");
  assert.equal(t.batch, 16, "not playing: timed on CABS's first batch (m_min = 16 by default)");
  assert.equal(t.atStep, 0);
  assert.ok(t.steps >= 3 && t.steps <= 50, `timed steps per engine: ${t.steps}`);
  for (const v of [t.cpuMsPerStep, t.gpuMsPerStep, t.totalMs]) assert.ok(Number.isFinite(v) && v > 0, `a measured time: ${v}`);
  const faster = t.cpuMsPerStep <= t.gpuMsPerStep ? "cpu" : "gpu";
  assert.equal(kind, faster, "auto keeps the engine its own figures favour");
  assert.equal(handover.state, faster === "cpu" ? "stayed" : "moved");
  assert.match(handover.reason, /auto timed both on the live run \(software adapter .+, step 0\): CPU [\d.]+ ms\/step vs WebGPU [\d.]+ ms\/step at m = 16; (staying on the CPU engine|moving to WebGPU)/);

  assert.equal((await page.textContent("#backend .badge")).trim(), faster === "cpu" ? "CPU" : "WebGPU");
  const note = await page.textContent("#backend-note");
  assert.ok(note.startsWith(handover.reason), "the note says why");
  assert.ok((await page.getAttribute("#backend", "title")).startsWith(handover.reason), "the badge's tooltip too");

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
  await ready(page);
  await page.waitForFunction(() => window.cabsDemo.snapshot().backend.handover.state === "moved", null, { timeout: 120_000, polling: 200 });
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  assert.equal(snap.backend.kind, "gpu");
  assert.deepEqual({ requested: snap.backend.choice.requested, how: snap.backend.choice.how, trial: snap.backend.choice.trial },
    { requested: "gpu", how: "forced", trial: null });
  assert.equal((await page.textContent("#backend .badge")).trim(), "WebGPU");
  assert.match(await page.textContent("#backend-note"), /WebGPU adapter: .+ · a software GPU \(slow\): for speed set Backend to auto or cpu/);
  await page.context().close();
});
