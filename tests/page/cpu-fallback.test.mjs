// Without WebGPU (Chromium lacking --enable-unsafe-webgpu) the page falls back to the engine's
// CPU twin, says so with a CPU badge and a one-line reason, and trains. Also covers the
// keyboard (Space, →, R), changing α without a reset, and JSON export → import (this page in
// dark mode with reduced motion).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { openPage, ready, pageSuite } from "./harness.mjs";

const HASH = "#data=blobs&model=mlp:16&lr=4&mu=0.9&seed=3&baselines=const:16,const:64:invtime:0.01&x=step";
let server, browser, page;

pageSuite({ webgpu: false }, async (s) => {
  ({ server, browser } = s);
  page = await openPage(browser, server.url + HASH, { colorScheme: "dark", reducedMotion: "reduce" });
});

test("no WebGPU adapter: the CPU backend is chosen, with a badge and the reason", async () => {
  assert.equal(await page.evaluate(async () => !!(navigator.gpu && (await navigator.gpu.requestAdapter()))), false, "this browser should have no adapter");
  const snap = await ready(page);
  assert.equal(snap.backend.kind, "cpu");
  assert.ok(snap.backend.fallbackReason, "fallbackReason says why");
  assert.equal((await page.textContent("#backend .badge")).trim(), "CPU");
  assert.match(await page.textContent("#backend-note"), /WebGPU is not available here \(.+\), so the same training runs on the engine's CPU twin/);
});

test("keyboard: → steps once, Space plays and pauses, and the CPU engine trains", async () => {
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("ArrowRight");
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs.every((r) => r.step === 1));
  const first = (await page.evaluate(() => window.cabsDemo.snapshot())).runs[0];
  assert.equal(first.batchSize, 16);
  await page.keyboard.press("Space");
  await page.waitForFunction((l0) => {
    const c = window.cabsDemo.snapshot().runs[0];
    return c.batchSize > 16 && c.loss < l0 && c.step > 60;
  }, first.loss, { timeout: 30_000 });
  await page.keyboard.press("Space");
  await page.waitForFunction(() => !window.cabsDemo.snapshot().running);
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  assert.deepEqual(snap.runs.map((r) => r.rule), ["cabs", "const:16", "const:64:invtime:0.01"]);
  assert.equal(snap.runs[2].batchSize, 64);
  assert.ok(snap.runs.every((r) => r.step === snap.runs[0].step), "lock step");
  const rows = await page.locator("table.stats tbody tr").count();
  assert.equal(rows, 3, "a row of current values per run");
});

test("changing α continues training without a reset and lands in the URL", async () => {
  const before = (await page.evaluate(() => window.cabsDemo.snapshot())).runs[0].step;
  await page.fill("#ctl-lr", "1.5");
  await page.press("#ctl-lr", "Enter");
  await page.locator("#ctl-lr").blur();
  await page.waitForFunction(() => location.hash.includes("lr=1.5"));
  await page.click("#step");
  await page.waitForFunction((n) => window.cabsDemo.snapshot().runs[0].step === n + 1, before);
  assert.equal(await page.textContent("table.stats tbody tr:first-child > :nth-child(8)"), "1.5", "the new α is shown");
});

test("JSON export, then import shows the saved runs next to the live ones", async () => {
  const steps = (await page.evaluate(() => window.cabsDemo.snapshot())).runs[0].step;
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-json")]);
  const path = await download.path();
  const doc = JSON.parse(await readFile(path, "utf8"));
  assert.equal(doc.format, "cabs-webgpu-run");
  assert.equal(doc.settings.data, "blobs");
  assert.equal(doc.runs.length, 3);
  assert.equal(doc.runs[0].steps.length, steps);
  assert.equal(doc.runs[0].steps.at(-1).lr, 1.5);

  await page.keyboard.press("r"); // reset: live runs start again, imports stay
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step === 0 && window.cabsDemo.snapshot().backend);
  await page.setInputFiles("#import", { name: download.suggestedFilename(), mimeType: "application/json", buffer: await readFile(path) });
  await page.waitForFunction(() => document.querySelectorAll("table.stats tbody tr").length === 6);
  assert.match(await page.textContent("#notice"), /Loaded 3 run\(s\)/);
  assert.match(await page.textContent("table.stats tbody"), /cabs \(cabs-blobs-seed3\.json\)/);

  await page.setInputFiles("#import", { name: "bad.json", mimeType: "application/json", buffer: Buffer.from('{"format":"nope"}') });
  await page.waitForFunction(() => document.getElementById("notice").textContent.startsWith("Could not load bad.json"));
  assert.deepEqual(page.errors, []);
});

test("the default page (MNIST, MLP 256, α 0.5) makes the point quickly: CABS's batch grows", async () => {
  const fresh = await openPage(browser, `${server.url}#play=1`);
  await fresh.waitForFunction(() => window.cabsDemo?.snapshot().runs[0].step > 0, null, { timeout: 30_000 });
  const timing = (await fresh.evaluate(() => window.cabsDemo.snapshot())).timing;
  console.log(`# CPU, default MNIST page with play=1: worker ready ${timing.readyMs} ms, first step ${timing.firstStepMs} ms after navigation start`);
  await fresh.waitForFunction(() => window.cabsDemo.snapshot().runs[0].batchSize > 20, null, { timeout: 60_000, polling: 250 });
  const snap = await fresh.evaluate(() => window.cabsDemo.snapshot());
  console.log(`# CPU default page: ${JSON.stringify(snap.runs)}`);
  assert.deepEqual(snap.runs.map((r) => r.rule), ["cabs", "const:16"]);
  assert.equal(await fresh.inputValue("#ctl-model"), "mlp:256");
  assert.deepEqual(fresh.errors, []);
  await fresh.context().close();
});

test("errors reach the page in words: backend=gpu without WebGPU, a missing engine file, missing charts", async () => {
  const gpu = await openPage(browser, `${server.url}#data=blobs&backend=gpu`);
  await gpu.waitForSelector("#error:not([hidden])", { timeout: 30_000 });
  assert.match(await gpu.textContent("#error"), /^Something went wrong: .*WebGPU/);
  await gpu.context().close();

  const context = await browser.newContext();
  await context.route(/cabs_bg\.wasm$/, (route) => route.fulfill({ status: 404, body: "not found" }));
  const broken = await context.newPage();
  await broken.goto(`${server.url}#data=blobs`);
  await broken.waitForSelector("#error:not([hidden])", { timeout: 30_000 });
  assert.match(await broken.textContent("#error"), /the training engine \(pkg\/cabs_bg\.wasm\) could not be loaded/);
  await context.close();

  // uPlot is imported after the page's start (lib/charts.js): without it the page says so, and trains.
  const noCharts = await browser.newContext();
  await noCharts.route(/uPlot\.esm\.js$/, (route) => route.fulfill({ status: 404, body: "not found" }));
  const chartless = await noCharts.newPage();
  await chartless.goto(`${server.url}#data=blobs&model=mlp:16&backend=cpu&play=1`);
  await chartless.waitForSelector("#error:not([hidden])", { timeout: 30_000 });
  assert.match(await chartless.textContent("#error"), /the charts could not load uPlot \(vendor\/uPlot\.esm\.js\)/);
  await chartless.waitForFunction(() => window.cabsDemo.snapshot().runs[0]?.step > 2, null, { timeout: 30_000 });
  assert.equal(await chartless.locator("#charts .chart").count(), 0);
  await noCharts.close();
});

test("the MNIST bundle comes gzipped; without the .gz, or inflated by the host, it still trains; a corrupt one is said in words", async () => {
  const gz = await readFile(new URL("../../www/data/mnist.bin.gz", import.meta.url));
  const raw = await readFile(new URL("../../www/data/mnist.bin", import.meta.url));
  assert.ok(gz.length * 4 < raw.length, `the .gz (${gz.length} B) should be far smaller than mnist.bin (${raw.length} B)`);
  // serve: what the host answers for data/mnist.bin.gz (null: the file as it is)
  const open = async (serve) => {
    const context = await browser.newContext();
    const asked = [];
    await context.route(/\/data\/mnist\.bin(\.gz)?$/, (route) => {
      const url = route.request().url();
      asked.push(url.slice(url.lastIndexOf("/") + 1));
      return serve && url.endsWith(".gz") ? route.fulfill(serve) : route.continue();
    });
    const p = await context.newPage();
    await p.goto(`${server.url}#backend=cpu`);
    return { context, p, asked };
  };
  // The first step's loss of every run: the same data give the same numbers, bit for bit.
  const firstLosses = async (p) => {
    await ready(p);
    await p.evaluate(() => window.cabsDemo.step());
    await p.waitForFunction(() => window.cabsDemo.snapshot().runs.every((r) => r.step === 1), null, { timeout: 30_000 });
    return (await p.evaluate(() => window.cabsDemo.snapshot())).runs.map((r) => r.loss);
  };

  // As served: only the .gz is fetched.
  const plain = await open(null);
  const losses = await firstLosses(plain.p);
  assert.deepEqual(plain.asked, ["mnist.bin.gz"]);
  assert.ok(losses.every(Number.isFinite), JSON.stringify(losses));
  await plain.context.close();

  // A host without the .gz: mnist.bin instead, and the same training.
  const missing = await open({ status: 404, body: "not found" });
  assert.deepEqual(await firstLosses(missing.p), losses);
  assert.deepEqual(missing.asked, ["mnist.bin.gz", "mnist.bin"]);
  await missing.context.close();

  // A host whose browser already inflated it (Content-Encoding: gzip): the bytes pass as they are.
  const inflatedByHost = await open({ status: 200, body: raw, contentType: "application/octet-stream" });
  assert.deepEqual(await firstLosses(inflatedByHost.p), losses);
  assert.deepEqual(inflatedByHost.asked, ["mnist.bin.gz"]);
  await inflatedByHost.context.close();

  // A corrupt .gz (its middle overwritten): the gzip check refuses it, in words, and nothing trains.
  const bad = Buffer.from(gz);
  bad.fill(0x55, bad.length >> 1, (bad.length >> 1) + 4096);
  const corrupt = await open({ status: 200, body: bad, contentType: "application/gzip" });
  await corrupt.p.waitForSelector("#error:not([hidden])", { timeout: 30_000 });
  assert.match(await corrupt.p.textContent("#error"), /the MNIST bundle data\/mnist\.bin\.gz could not be inflated \(.+\): the download broke off or the file is corrupt; reload, or run scripts\/setup\.sh/);
  assert.equal((await corrupt.p.evaluate(() => window.cabsDemo.snapshot())).runs[0]?.step ?? 0, 0);
  await corrupt.context.close();
});

test("the α slider changes α live (log scale) and keeps the number field in step", async () => {
  const page2 = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&lr=1&backend=cpu`);
  await ready(page2);
  assert.equal(await page2.inputValue(".controls input.slider"), "0");
  await page2.click("#step");
  await page2.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step === 1);
  await page2.locator(".controls input.slider").fill("-1"); // log10(α) = −1
  assert.equal(await page2.inputValue("#ctl-lr"), "0.1");
  await page2.waitForFunction(() => location.hash.includes("lr=0.1&"));
  await page2.click("#step");
  await page2.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step === 2);
  assert.equal(await page2.textContent("table.stats tbody tr:first-child > :nth-child(8)"), "0.1");
  assert.deepEqual(page2.errors, []);
  await page2.context().close();
});
