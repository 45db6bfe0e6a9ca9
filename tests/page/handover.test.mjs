// The first step at once: with a WebGPU adapter, backend=gpu and auto start every run of the
// comparison on the CPU engine and build WebGPU behind it. backend=gpu moves the runs to WebGPU
// when it is built; auto on a software adapter (SwiftShader here) first times both engines on
// the live run and stays on the CPU when it is faster. Without WebGPU: CPU at once, as before.
// Every assertion is about the order of events, engines and step numbers, never about time;
// the time from navigation to the first step is printed for each case.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startServer, launch, openPage, ready } from "./harness.mjs";

const BASE = "#data=blobs&model=mlp:16&lr=4&mu=0.9&seed=1&baselines=const:16";
let server, gpuBrowser, noGpuBrowser;

before(async () => {
  server = await startServer();
  gpuBrowser = await launch({ webgpu: true });
  noGpuBrowser = await launch({ webgpu: false });
});
after(async () => {
  await gpuBrowser?.close();
  await noGpuBrowser?.close();
  server?.stop();
});

/** Open `hash` and record, at the first step, which engine ran it and the hand-over's state. */
async function openRecording(browser, hash) {
  const page = await openPage(browser, "about:blank");
  await page.addInitScript(() => {
    window.__first = null;
    window.addEventListener("cabs-progress", function on() {
      const s = window.cabsDemo.snapshot();
      if (!s.runs.length || s.runs[0].step < 1) return;
      window.removeEventListener("cabs-progress", on);
      window.__first = { kind: s.backend.kind, handover: s.backend.handover?.state ?? null, firstStepMs: s.timing.firstStepMs };
    });
  });
  await page.goto(server.url + hash);
  return page;
}

const firstStep = (page) => page.waitForFunction(() => window.__first, null, { timeout: 60_000, polling: 50 }).then((h) => h.jsonValue());

/** Every run of the JSON export has rows 1..N, no gap, no repeat. */
async function assertContinuous(page) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-json")]);
  const doc = JSON.parse(await readFile(await download.path(), "utf8"));
  for (const run of doc.runs) {
    const steps = run.steps.map((r) => r.step);
    assert.ok(steps.length > 0);
    steps.forEach((s, i) => assert.equal(s, i + 1, `${run.rule}: row ${i} is step ${s}`));
  }
  return doc;
}

test("backend=gpu: the first step on the CPU engine, then every run moves to WebGPU with no step repeated or skipped", async () => {
  const page = await openRecording(gpuBrowser, `${BASE}&backend=gpu&play=1`);
  const first = await firstStep(page);
  console.log(`# backend=gpu: navigation → first step ${first.firstStepMs} ms (on ${first.kind})`);
  assert.equal(first.kind, "cpu", "the first step ran on the CPU engine");
  assert.equal(first.handover, "building", "WebGPU was still being built at the first step");
  await page.waitForFunction(() => window.cabsDemo.snapshot().backend.handover?.state !== "building", null, { timeout: 120_000, polling: 200 });
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  const h = snap.backend.handover;
  console.log(`# backend=gpu hand-over: ${JSON.stringify(h)}`);
  assert.equal(h.state, "moved", h.reason);
  assert.equal(snap.backend.kind, "gpu");
  assert.ok(h.atStep >= 1, "the runs moved after the CPU took steps");
  assert.equal(h.engines.length, 2);
  for (const e of h.engines) assert.deepEqual(e.spans, [{ fromStep: 0, engine: "cpu" }, { fromStep: h.atStep, engine: "gpu" }]);
  assert.equal((await page.textContent("#backend .badge")).trim(), `CPU → WebGPU at step ${h.atStep}`);
  assert.match(await page.textContent("#backend-note"), /moved from the CPU engine to WebGPU after step \d+/);
  // Training goes on on WebGPU, then pause and check the export row by row.
  await page.waitForFunction((k) => window.cabsDemo.snapshot().runs.every((r) => r.step >= k + 5), h.atStep, { timeout: 60_000, polling: 100 });
  await page.keyboard.press("Space");
  await page.waitForFunction(() => !window.cabsDemo.snapshot().running, null, { timeout: 10_000 });
  const doc = await assertContinuous(page);
  assert.ok(doc.runs.every((r) => r.steps.length > h.atStep), "rows on both sides of the hand-over");
  // The evaluation schedule continued: a test accuracy every `eval` steps on both engines.
  const every = (await page.evaluate(() => window.cabsDemo.settings())).eval || 20; // 20: blobs' default
  const evaluated = doc.runs[0].steps.filter((r) => r.testAccuracy !== undefined && r.testAccuracy !== null).map((r) => r.step);
  assert.deepEqual(evaluated, doc.runs[0].steps.map((r) => r.step).filter((s) => s % every === 0));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("auto on SwiftShader: the first step on the CPU at once; after the trial on the live run the runs stay on the CPU", async () => {
  const page = await openRecording(gpuBrowser, `${BASE}&play=1`);
  const first = await firstStep(page);
  console.log(`# auto: navigation → first step ${first.firstStepMs} ms (on ${first.kind})`);
  assert.equal(first.kind, "cpu");
  assert.equal(first.handover, "building");
  await page.waitForFunction(() => !["building", "trial"].includes(window.cabsDemo.snapshot().backend.handover?.state), null, { timeout: 120_000, polling: 200 });
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  const h = snap.backend.handover;
  console.log(`# auto hand-over: ${JSON.stringify(h)}`);
  const t = h.trial;
  for (const v of [t.cpuMsPerStep, t.gpuMsPerStep]) assert.ok(Number.isFinite(v) && v > 0, `a measured time: ${v}`);
  // No assertion compares the timings: the outcome must follow the trial's own figures.
  const faster = t.cpuMsPerStep <= t.gpuMsPerStep ? "cpu" : "gpu";
  assert.equal(h.state, faster === "cpu" ? "stayed" : "moved");
  assert.equal(snap.backend.kind, faster);
  const note = await page.textContent("#backend-note");
  assert.match(note, /auto timed both on the live run \(software adapter .+, step \d+\): CPU [\d.]+ ms\/step vs WebGPU [\d.]+ ms\/step at m = \d+; (staying on the CPU engine|moving to WebGPU)/);
  if (faster === "cpu") {
    assert.equal((await page.textContent("#backend .badge")).trim(), "CPU");
    for (const e of h.engines) assert.deepEqual(e.spans, [{ fromStep: 0, engine: "cpu" }]);
  }
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs.every((r) => r.step >= 60), null, { timeout: 60_000, polling: 100 });
  await page.keyboard.press("Space");
  await page.waitForFunction(() => !window.cabsDemo.snapshot().running, null, { timeout: 10_000 });
  await assertContinuous(page);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("backend=cpu: CPU at once, nothing is built behind it", async () => {
  const page = await openRecording(gpuBrowser, `${BASE}&backend=cpu&play=1`);
  const first = await firstStep(page);
  console.log(`# backend=cpu: navigation → first step ${first.firstStepMs} ms (on ${first.kind})`);
  assert.equal(first.kind, "cpu");
  assert.equal(first.handover, null);
  await page.context().close();
});

test("no WebGPU: CPU at once, the note says why, as before", async () => {
  const page = await openRecording(noGpuBrowser, `${BASE}&play=1`);
  const first = await firstStep(page);
  console.log(`# no WebGPU (auto): navigation → first step ${first.firstStepMs} ms (on ${first.kind})`);
  assert.equal(first.kind, "cpu");
  assert.equal(first.handover, null, "nothing to hand over to");
  const snap = await ready(page);
  assert.ok(snap.backend.fallbackReason);
  assert.match(await page.textContent("#backend-note"), /WebGPU is not available here \(.+\), so the same training runs on the engine's CPU twin/);
  await page.context().close();
});
