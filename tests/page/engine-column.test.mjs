// The engine column: every step record says which engine ran it. With backend=gpu the run starts
// on the CPU engine and moves to WebGPU when it is built (the hand-over); the CSV export's
// `engine` column and the JSON export's `engine` field say `cpu` up to the hand-over step and
// `gpu` after it, switching exactly there. Assertions are about steps and engines, never time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { openPage, pageSuite } from "./harness.mjs";

let server, browser;
pageSuite({ webgpu: true }, (s) => ({ server, browser } = s));

/** The engine each step ran on, by step number, from rows of [step, engine]. */
function enginesByStep(pairs) {
  return new Map(pairs.map(([step, engine]) => [Number(step), engine]));
}

/** Every step up to `atStep` on the CPU, every later one on WebGPU, and both present. */
function assertSwitchAt(byStep, atStep, what) {
  assert.ok(byStep.size > atStep, `${what}: rows after the hand-over`);
  for (const [step, engine] of byStep) assert.equal(engine, step <= atStep ? "cpu" : "gpu", `${what}: step ${step} (hand-over after step ${atStep})`);
}

test("after a hand-over the CSV's engine column and the JSON's engine field switch from cpu to gpu exactly at the hand-over step", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&lr=4&seed=1&baselines=none&backend=gpu&play=1`);
  await page.waitForFunction(() => {
    const h = window.cabsDemo?.snapshot().backend?.handover;
    return h && h.state !== "building";
  }, null, { timeout: 120_000, polling: 200 });
  const h = await page.evaluate(() => window.cabsDemo.snapshot().backend.handover);
  assert.equal(h.state, "moved", h.reason);
  assert.ok(h.atStep >= 1, "the CPU engine took steps before the hand-over");
  await page.waitForFunction((k) => window.cabsDemo.snapshot().runs.every((r) => r.step >= k + 5), h.atStep, { timeout: 60_000, polling: 100 });
  await page.keyboard.press("Space");
  await page.waitForFunction(() => !window.cabsDemo.snapshot().running, null, { timeout: 10_000 });

  const [csvFile] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
  const lines = (await readFile(await csvFile.path(), "utf8")).trim().split("\n");
  const header = lines[0].split(",");
  const col = header.indexOf("engine");
  assert.equal(col, 17, `the engine column is appended after the first 17 columns: ${lines[0]}`);
  assertSwitchAt(enginesByStep(lines.slice(1).map((l) => { const c = l.split(","); return [c[0], c[col]]; })), h.atStep, "CSV");

  const [jsonFile] = await Promise.all([page.waitForEvent("download"), page.click("#export-json")]);
  const doc = JSON.parse(await readFile(await jsonFile.path(), "utf8"));
  assertSwitchAt(enginesByStep(doc.runs[0].steps.map((r) => [r.step, r.engine])), h.atStep, "JSON");
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a saved run's engine field survives the JSON import; a value that is not an engine is dropped", async () => {
  const { runsFromJson } = await import("../../www/lib/store.js");
  const steps = [{ step: 1, loss: 1, engine: "cpu" }, { step: 2, loss: 1, engine: "gpu" }, { step: 3, loss: 1, engine: "<img src=x>" }];
  const [run] = runsFromJson(JSON.stringify({ format: "cabs-webgpu-run", runs: [{ rule: "cabs", steps }] }), "saved.json", 0);
  assert.deepEqual(Array.from(run.col("engine")), ["cpu", "gpu", null]);
});
