// A lost WebGPU device moves the runs back to the CPU engine: the worker keeps a snapshot of
// every run's state while on WebGPU, and on a failure every run goes back to it on a CPU trainer
// and trains the steps after it again; the page drops the rows after the snapshot and the CPU's
// replace them. And a WebGPU engine that cannot be built leaves the runs on the CPU, saying why.
//
// The device is destroyed for real: the test wraps GPUAdapter.prototype.requestDevice inside the
// page's training worker (Playwright's worker.evaluate) before the worker builds WebGPU, keeps
// the devices wgpu opens, and calls GPUDevice.destroy() on them mid-run. Nothing in the page or
// the engine exists for this test. Assertions are about steps, engines and rows, never time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { openPage, pageSuite } from "./harness.mjs";

const BASE = "#data=blobs&model=mlp:16&lr=4&mu=0.9&seed=1&baselines=const:16";
let server, browser;

pageSuite({ webgpu: true }, (s) => ({ server, browser } = s));

/**
 * Open `hash` with the training worker's requestDevice wrapped: "keep" keeps every device wgpu
 * opens in self.__devices, "refuse" makes every request fail. Resolves to {page, worker}.
 */
async function openHooked(hash, mode) {
  const page = await openPage(browser, "about:blank");
  const hooked = new Promise((resolve, reject) => page.once("worker", (w) => w.evaluate((how) => {
    const request = GPUAdapter.prototype.requestDevice;
    self.__devices = [];
    GPUAdapter.prototype.requestDevice = async function (...args) {
      if (how === "refuse") throw new DOMException("this device was refused by the test", "OperationError");
      const d = await request.apply(this, args);
      self.__devices.push(d);
      return d;
    };
  }, mode).then(() => resolve(w), reject)));
  await page.goto(server.url + hash);
  return { page, worker: await hooked };
}

const snap = (page) => page.evaluate(() => window.cabsDemo.snapshot());
const until = (page, fn, arg, timeout = 120_000) => page.waitForFunction(fn, arg, { timeout, polling: 50 });

async function download(page, selector) {
  const [d] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  return readFile(await d.path(), "utf8");
}

test("a WebGPU device destroyed mid-run: every run goes back to its last snapshot on the CPU and continues, no step missing or repeated", async () => {
  const { page, worker } = await openHooked(`${BASE}&backend=gpu&play=1`, "keep");
  await until(page, () => window.cabsDemo.snapshot().backend?.handover?.state === "moved");
  // Two snapshots on WebGPU (the move's, one taken later), then a few steps more.
  await until(page, () => window.cabsDemo.snapshot().backend.handover.snapshots?.count >= 2);
  const before = await snap(page);
  const h0 = before.backend.handover;
  await until(page, (k) => window.cabsDemo.snapshot().runs.every((r) => r.step >= k + 5), h0.snapshots.step);
  const destroyed = await worker.evaluate(() => { for (const d of self.__devices) d.destroy(); return self.__devices.length; });
  assert.ok(destroyed >= 1, "the test reached the devices wgpu opened (the worker's requestDevice was wrapped in time)");
  await until(page, () => window.cabsDemo.snapshot().backend.handover.state === "lost");
  const after = await snap(page);
  const h = after.backend.handover;
  console.log(`# device lost: ${JSON.stringify({ lost: h.lost, snapshots: h.snapshots, movedAt: h.atStep })}`);
  assert.equal(after.backend.kind, "cpu");
  // Back to the last snapshot, not an older one: at most one snapshot interval is retrained.
  assert.ok(h.lost.fromStep >= h0.snapshots.step, `went back to step ${h.lost.fromStep}, the snapshot before the loss was at ${h0.snapshots.step} or later`);
  assert.equal(h.lost.fromStep, h.snapshots.step, "the last snapshot taken");
  assert.ok(h.lost.atStep > h.lost.fromStep);
  assert.match(h.lost.reason, /lost|destroyed|GPU/i);
  for (const e of h.engines)
    assert.deepEqual(e.spans, [{ fromStep: 0, engine: "cpu" }, { fromStep: h.atStep, engine: "gpu" }, { fromStep: h.lost.fromStep, engine: "cpu" }]);
  assert.equal((await page.textContent("#backend .badge")).trim(), `WebGPU lost → CPU at step ${h.lost.fromStep}`);
  // The note says what happened, where and why, in words.
  const note = await page.textContent("#backend-note");
  assert.match(note, new RegExp(`WebGPU device lost at step ${h.lost.atStep} \\(reason: .*(lost|destroyed|GPU).*\\): rolled back to step ${h.lost.fromStep}, its last snapshot, and continuing on the CPU engine`, "i"));
  assert.match(note, h.lost.atStep - 1 > h.lost.fromStep ? new RegExp(`steps ${h.lost.fromStep + 1}–${h.lost.atStep - 1} are trained again`) : /no step is trained again/);
  // Every chart marks the rollback: a dashed line per run at the step it went back to (drawn
  // once the redraw after the rollback has run), and its caption names the step.
  await until(page, () => [...document.querySelectorAll("figure.chart")].every((c) => c.rollbackMarks().length >= 1), null, 10_000);
  const marks = await page.evaluate(() => [...document.querySelectorAll("figure.chart")].map((c) => ({
    id: c.dataset.chart, caption: c.querySelector("figcaption").textContent, marks: c.rollbackMarks(), width: c.querySelector("canvas").clientWidth })));
  assert.ok(marks.length >= 2, `charts drawn: ${marks.map((m) => m.id)}`);
  // The loss chart shows both runs, so two lines; a chart of CABS's own terms shows one run.
  assert.deepEqual(marks.find((c) => c.id === "loss")?.marks.map((m) => [m.run, m.step]).sort(), [[0, h.lost.fromStep], [1, h.lost.fromStep]], "loss chart: a line per run");
  for (const c of marks) {
    assert.ok(c.marks.every((m) => m.step === h.lost.fromStep), `${c.id}: lines at step ${h.lost.fromStep}: ${JSON.stringify(c.marks)}`);
    for (const m of c.marks) assert.ok(m.x > 0 && m.x < c.width, `${c.id}: the line of run ${m.run} is inside the plot (x = ${m.x} of ${c.width})`);
    assert.match(c.caption, new RegExp(`rolled back to step ${h.lost.fromStep} \\(WebGPU lost at step ${h.lost.atStep}\\)`), c.id);
  }
  // It goes on past the step that failed; then pause and read every row.
  await until(page, (k) => window.cabsDemo.snapshot().runs.every((r) => r.step >= k + 10), h.lost.atStep);
  await page.keyboard.press("Space");
  await until(page, () => !window.cabsDemo.snapshot().running, null, 10_000);
  const doc = JSON.parse(await download(page, "#export-json"));
  assert.equal(doc.runs.length, 2);
  for (const run of doc.runs) {
    const steps = run.steps.map((r) => r.step);
    assert.ok(steps.length > h.lost.atStep + 9);
    steps.forEach((s, i) => assert.equal(s, i + 1, `${run.rule}: row ${i} is step ${s}`));
  }
  // The evaluation schedule went on through both moves: a test accuracy exactly every `eval` steps.
  const every = (await page.evaluate(() => window.cabsDemo.settings())).eval || 20; // 20: blobs' default
  const evaluated = doc.runs[0].steps.filter((r) => typeof r.testAccuracy === "number").map((r) => r.step);
  assert.deepEqual(evaluated, doc.runs[0].steps.map((r) => r.step).filter((s) => s % every === 0));
  // The JSON export says where the rollback was (its backend carries the hand-over).
  assert.deepEqual(doc.backend.handover.lost, h.lost);
  // The CSV of a run: every step once, in order.
  const csv = (await download(page, "#export-csv")).trim().split("\n");
  const col = csv[0].split(",").indexOf("step");
  const csvSteps = csv.slice(1).map((line) => Number(line.split(",")[col]));
  csvSteps.forEach((s, i) => assert.equal(s, i + 1, `CSV row ${i} is step ${s}`));
  assert.equal(csvSteps.length, doc.runs[0].steps.length);
  // The CSV marks the rollback in its `engine` column: the CPU up to the hand-over, WebGPU up to
  // the snapshot, the CPU again from there (the retrained rows included), so the rows where
  // WebGPU's steps were replaced are the first `cpu` after a `gpu`.
  const engineCol = csv[0].split(",").indexOf("engine");
  assert.ok(engineCol >= 0, `the CSV has an engine column: ${csv[0]}`);
  const want = (s) => (s <= h.atStep || s > h.lost.fromStep ? "cpu" : "gpu");
  csv.slice(1).forEach((line, i) => assert.equal(line.split(",")[engineCol], want(i + 1), `CSV row ${i + 1}'s engine`));
  assert.ok(h.lost.fromStep > h.atStep, `WebGPU ran steps ${h.atStep + 1}–${h.lost.fromStep} before the loss`);
  // The JSON's rows carry the same engines.
  doc.runs[0].steps.forEach((r) => assert.equal(r.engine, want(r.step), `JSON step ${r.step}'s engine`));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a WebGPU engine that cannot be built: the runs stay on the CPU engine and the note says why", async () => {
  const { page, worker } = await openHooked(`${BASE}&backend=gpu&play=1`, "refuse");
  await until(page, () => window.cabsDemo.snapshot().backend?.handover && window.cabsDemo.snapshot().backend.handover.state !== "building");
  const s = await snap(page);
  const h = s.backend.handover;
  console.log(`# build refused: ${JSON.stringify({ state: h.state, reason: h.reason })}`);
  assert.equal(h.state, "failed");
  assert.equal(s.backend.kind, "cpu");
  assert.match(h.reason, /WebGPU could not be built \(.*refused by the test.*\); the runs stay on the CPU engine/);
  assert.match(await page.textContent("#backend-note"), /WebGPU could not be built .*the runs stay on the CPU engine/);
  assert.equal(await worker.evaluate(() => self.__devices.length), 0);
  const k = s.runs[0].step;
  await until(page, (n) => window.cabsDemo.snapshot().runs.every((r) => r.step >= n + 10), k);
  await page.context().close();
});
