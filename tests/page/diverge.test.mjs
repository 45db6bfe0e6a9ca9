// A diverging run stops alone: with α = 100 on blobs a fixed-batch baseline overflows within a
// few steps; its row says "diverged at step N", its curves and CSV/JSON exports end there, and
// CABS (and the other baseline) keep training. An engine crash (a trap in wasm, forced here by
// wrapping the engine module) is reported as "engine crashed: …" with a Reset that works.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { openPage, ready, pageSuite } from "./harness.mjs";
import { divergedAt, isCrash } from "../../www/lib/failures.js";

let server, browser;
pageSuite({ webgpu: false }, (s) => ({ server, browser } = s));

test("divergence is told apart from other failures (error name, or the message as a fallback)", () => {
  assert.equal(divergedAt(Object.assign(new Error("x"), { name: "DivergedError", step: 7 })), 7);
  assert.equal(divergedAt(new Error("training diverged at step 12: the loss is inf; lower the learning rate α and reset")), 12);
  assert.equal(divergedAt(new Error("a step or evaluation is already running")), null);
  assert.equal(divergedAt("training diverged at step 3: xi is NaN"), 3);
  assert.equal(isCrash(new WebAssembly.RuntimeError("unreachable")), true);
  assert.equal(isCrash(new Error("unreachable")), false);
});

const HASH = "#data=blobs&model=mlp:16,16&lr=100&baselines=const:16,const:1&backend=cpu&play=1";

test("one diverging baseline stops alone; CABS keeps training; exports end at the divergence", async () => {
  const page = await openPage(browser, server.url + HASH);
  await ready(page);
  const stopped = await page.waitForFunction(() => {
    const s = window.cabsDemo.snapshot();
    return s.runs.some((r) => r.diverged !== null) && s.runs.find((r) => r.diverged !== null) && s;
  }, null, { timeout: 60_000, polling: 100 }).then((h) => h.jsonValue());
  const bad = stopped.runs.find((r) => r.diverged !== null);
  console.log(`# diverged: ${bad.rule} at step ${bad.diverged}; runs ${JSON.stringify(stopped.runs.map((r) => [r.rule, r.step, r.diverged]))}`);
  assert.notEqual(bad.rule, "cabs", "this setting was meant to make a baseline diverge");
  const n = bad.diverged;
  await page.waitForFunction((n) => window.cabsDemo.snapshot().runs[0].step >= n + 30, n, { timeout: 60_000, polling: 200 });
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  const after = snap.runs.find((r) => r.rule === bad.rule);
  assert.equal(after.step, n - 1, "the diverged run's records end just before the diverging step");
  assert.equal(snap.running, true, "the comparison stopped");
  assert.equal(await page.isVisible("#error"), false, "a divergence is not an error of the page");
  const row = await page.textContent(`table.stats tbody tr:nth-child(${snap.runs.indexOf(after) + 1}) th`);
  assert.match(row, new RegExp(`diverged at step ${n}`));
  // The note names the latest run to stop (const:1 may follow: with m = 1 its ξ turns NaN later).
  assert.match(await page.textContent("#backend-note"), /^\S+ diverged at step \d+ and stopped \(.+\); (the other runs continue|no run is left)\. Try a smaller α\.$/);

  await page.click("#play"); // pause, then export
  const downloads = [];
  page.on("download", (d) => downloads.push(d));
  await page.click("#export-csv");
  await page.click("#export-json");
  await page.waitForFunction(() => true);
  await new Promise((r) => setTimeout(r, 1500));
  const files = Object.fromEntries(await Promise.all(downloads.map(async (d) => [d.suggestedFilename(), await readFile(await d.path(), "utf8")])));
  const csvName = Object.keys(files).find((f) => f.endsWith(".csv") && f.includes(bad.rule.replace(/:/g, "-")))
    ?? Object.keys(files).filter((f) => f.endsWith(".csv"))[snap.runs.indexOf(after)];
  assert.ok(csvName, `no CSV for ${bad.rule} among ${Object.keys(files)}`);
  const rows = files[csvName].trim().split("\n");
  assert.equal(rows.length - 1, n - 1, `${csvName}: rows up to the divergence`);
  const json = JSON.parse(files[Object.keys(files).find((f) => f.endsWith(".json"))]);
  const jr = json.runs.find((r) => r.rule === bad.rule);
  assert.equal(jr.divergedAtStep, n);
  assert.equal(jr.steps.length, n - 1);
  assert.ok(json.runs[0].steps.length >= n + 30);
  await page.context().close();
});

test("an engine crash (a wasm trap) says so, offers a reset, and the reset trains again", async () => {
  const context = await browser.newContext();
  // Wrap the first instance of the engine module: its 6th step traps the way a panic does, from
  // inside a callback, leaving the step's promise unsettled. Later instances are left alone.
  let wrapped = false;
  const loads = [];
  await context.route(/\/pkg\/cabs\.js(\?.*)?$/, async (route) => {
    loads.push(new URL(route.request().url()).search);
    const res = await route.fetch();
    let body = await res.text();
    if (!wrapped && !route.request().url().includes("?")) {
      wrapped = true;
      body += `
const realStep = Trainer.prototype.step;
let steps = 0;
Trainer.prototype.step = function () {
  if (++steps === 6) { setTimeout(() => { throw new WebAssembly.RuntimeError("unreachable"); }); return new Promise(() => {}); }
  return realStep.call(this);
};`;
    }
    route.fulfill({ response: res, body });
  });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  await page.goto(`${server.url}#data=blobs&model=mlp:16&lr=4&baselines=none&backend=cpu&play=1`);
  await page.waitForSelector("#error:not([hidden])", { timeout: 30_000 });
  assert.match(await page.textContent("#error"), /engine crashed: unreachable/);
  assert.equal(await page.evaluate(() => window.cabsDemo.snapshot().running), false);
  for (let i = 0; i < 50 && !loads.includes("?instance=1"); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(loads.includes("?instance=1"), `the worker did not load a fresh engine module: ${JSON.stringify(loads)}`);
  await page.click("#error .error-reset");
  await page.waitForFunction(() => window.cabsDemo.snapshot().backend, null, { timeout: 30_000 });
  assert.equal(await page.isVisible("#error"), false);
  await page.click("#play");
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step >= 3, null, { timeout: 30_000 });
  await context.close();
});
