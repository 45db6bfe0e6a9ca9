// The page on headless Chromium's WebGPU (SwiftShader), forced with backend=gpu (auto would time
// both engines there and keep the CPU, see auto.test.mjs): the runs start on the CPU engine and
// move to WebGPU once it is built (handover.test.mjs), then the WebGPU backend is shown,
// Play trains CABS next to a fixed-batch baseline (the batch grows above 16, the loss falls),
// the time from load to the first step is measured, CSV export has the native runner's header.
// Blobs with a 16-unit MLP and α = 4 grows the batch within ~50 steps on SwiftShader.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { openPage, ready, saveScreenshot, pageSuite } from "./harness.mjs";

const HASH = "#data=blobs&model=mlp:16&lr=4&mu=0.9&seed=1&baselines=const:16&backend=gpu";
const HEADER = "step,examples_seen,batch_size,next_batch_size,m_raw,loss,loss_avg,xi,xi_avg,grad_norm_sq,noise_scale,lr,test_loss,test_accuracy,wall_ms,conv_xi_exact,conv_xi_approx,engine,inner_product_var";
let server, browser, page;

pageSuite({ webgpu: true }, async (s) => {
  ({ server, browser } = s);
  page = await openPage(browser, server.url + HASH);
});

test("WebGPU is available headless with --enable-unsafe-webgpu", async () => {
  const hasAdapter = await page.evaluate(async () => !!(navigator.gpu && (await navigator.gpu.requestAdapter())));
  assert.equal(hasAdapter, true, "navigator.gpu.requestAdapter() returned null: start Chromium with --enable-unsafe-webgpu");
});

test("backend=gpu: the page uses the WebGPU backend and shows it", async () => {
  const start = await ready(page);
  assert.equal(start.backend.kind, "cpu", "the runs start on the CPU engine at once");
  assert.equal(start.backend.handover.state, "building");
  await page.waitForFunction(() => window.cabsDemo.snapshot().backend.handover.state !== "building", null, { timeout: 120_000, polling: 200 });
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  assert.equal(snap.backend.handover.state, "moved", snap.backend.handover.reason);
  assert.equal(snap.backend.handover.atStep, 0, "not playing: the runs moved before their first step");
  assert.equal(snap.backend.kind, "gpu");
  assert.equal(snap.running, false);
  assert.deepEqual(snap.runs.map((r) => r.rule), ["cabs", "const:16"]);
  assert.equal((await page.textContent("#backend .badge")).trim(), "WebGPU");
  assert.match(await page.textContent("#backend-note"), /WebGPU adapter: .+ dispatches per step/);
  console.log(`# adapter: ${JSON.stringify(snap.backend.browserAdapter)}`);
});

test("play trains: CABS's batch grows above 16 and the loss falls", async () => {
  const progress = page.evaluate(() => new Promise((resolve) => window.addEventListener("cabs-progress", function on(e) {
    if (e.detail.runs[0].step >= 1) { window.removeEventListener("cabs-progress", on); resolve(e.detail); }
  })));
  const t0 = await page.evaluate(() => performance.now());
  await page.click("#play");
  const first = await progress; // the first cabs-progress event with a step
  const firstStepMs = (await page.evaluate(() => window.cabsDemo.snapshot().timing.firstStepMs)) - t0;
  console.log(`# WebGPU: first step ${Math.round(firstStepMs)} ms after Play; page load → worker ready ${await page.evaluate(() => window.cabsDemo.snapshot().timing.readyMs)} ms`);
  assert.ok(first.runs[0].step >= 1);
  const startLoss = first.runs[0].loss;
  await page.waitForFunction((l0) => {
    const c = window.cabsDemo.snapshot().runs[0];
    return c.batchSize > 16 && c.step >= 60 && c.loss < l0;
  }, startLoss, { timeout: 60_000, polling: 250 });
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  console.log(`# WebGPU after ${snap.runs[0].step} steps: ${JSON.stringify(snap.runs)}`);
  assert.equal(snap.running, true);
  assert.ok(snap.runs[0].batchSize > 16, "CABS batch above m_min");
  assert.equal(snap.runs[1].batchSize, 16, "the baseline keeps m = 16");
  assert.equal(snap.runs[0].step, snap.runs[1].step, "runs advance in lock step");
  assert.ok(snap.runs[0].loss < startLoss, `loss fell from ${startLoss} to ${snap.runs[0].loss}`);
  assert.ok(snap.runs[0].testAccuracy > 0.5, "test accuracy is reported");
  assert.equal(await page.locator(".chart").count(), 5, "five charts");
  assert.equal(await page.locator("#boundary canvas").count(), 2, "a decision-boundary map per run");
  await saveScreenshot(page, "page-webgpu.png", { fullPage: true });
});

test("pause stops training; CSV export has the native runner's header and one row per step", async () => {
  await page.keyboard.press("Space");
  await page.waitForFunction(() => !window.cabsDemo.snapshot().running, null, { timeout: 10_000 });
  const steps = await page.evaluate(() => window.cabsDemo.snapshot().runs[0].step);
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => window.cabsDemo.snapshot().runs[0].step), steps, "no steps while paused");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
  assert.match(download.suggestedFilename(), /^cabs-blobs-cabs-seed1\.csv$/);
  const csv = await readFile(await download.path(), "utf8");
  const lines = csv.trim().split("\n");
  assert.equal(lines[0], HEADER);
  assert.equal(lines.length, steps + 1);
  const row = lines[1].split(",");
  assert.equal(row.length, HEADER.split(",").length);
  assert.equal(row[0], "1");
  assert.equal(row[2], "16", "the first batch has m_min examples");
  assert.ok(lines.some((l) => l.split(",")[13] !== ""), "some rows carry test accuracy");
  assert.deepEqual(page.errors, []);
});

test("the page stays responsive while the worker runs m = 2048 steps; Reset aborts them", async () => {
  await page.evaluate(() => { location.hash = "#data=mnist&model=mlp:64&rule=const:2048&baselines=none&backend=gpu&eval=1000000"; });
  await page.waitForFunction(() => window.cabsDemo.snapshot().backend?.handover?.state === "moved" && window.cabsDemo.snapshot().runs[0].rule === "const:2048", null, { timeout: 120_000 });
  await page.click("#play");
  await page.waitForFunction(() => window.cabsDemo.snapshot().running, null, { timeout: 10_000 });
  const gaps = await page.evaluate(() => new Promise((resolve) => {
    let last = performance.now(), worst = 0, frames = 0;
    const tick = () => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; frames++; };
    const id = setInterval(tick, 20);
    setTimeout(() => { clearInterval(id); resolve({ worst, frames }); }, 3000);
  }));
  console.log(`# m = 2048 on SwiftShader: worst main-thread gap ${Math.round(gaps.worst)} ms over 3 s`);
  assert.ok(gaps.worst < 250, `the main thread was blocked for ${gaps.worst} ms`);
  const t0 = Date.now();
  await page.keyboard.press("r");
  await page.waitForFunction(() => window.cabsDemo.snapshot().backend && !window.cabsDemo.snapshot().running, null, { timeout: 30_000 });
  console.log(`# reset during an m = 2048 step took ${Date.now() - t0} ms`);
  assert.equal((await page.evaluate(() => window.cabsDemo.snapshot())).runs[0].step, 0);
  assert.deepEqual(page.errors, []);
});
