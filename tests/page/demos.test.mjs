// Every example demo shows what its text says, on the CPU engine, within the steps the CPU
// engine makes in 20 s on this project's 2-core build machine (headless Chromium, no WebGPU,
// one page at a time, other work on the machine: the budgets below are those step counts,
// measured with the demo itself, rounded down). The demos are read from the example files
// themselves (the <cabs-demo> elements of post.html, the iframes of slides.html), so a demo whose
// settings change without its claim being checked fails here. Claims are checked by step counts
// on the exported run, never by wall time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openPage, ready, ROOT, pageSuite } from "./harness.mjs";

/**
 * The claims, by demo. `budget`: CABS steps the CPU engine makes in 20 s on this demo.
 * `growsPast32By`: the step by which CABS's batch has passed 32 (the text: "the batch grows").
 * `reaches`: [m, step] — CABS's batch reaches m by that step. `noisierBaseline`: [rule, factor] —
 * over the budget's last 300 steps that baseline's smoothed loss is at least factor × CABS's
 * (the text: "at the same α the fixed batch stays noisy / stalls").
 */
const CLAIMS = {
  blobs: { budget: 2000, growsPast32By: 200, noisierBaseline: ["const:16", 3] },
  moons: { budget: 2000, growsPast32By: 400, reaches: [100, 600] },
  mnist: { budget: 1200, growsPast32By: 400, reaches: [100, 1200], noisierBaseline: ["const:16", 3] },
};

const decode = (s) => s.replace(/&amp;/g, "&");

/** The demos of the examples: [where, URL hash without play/backend]. */
function exampleDemos() {
  const post = readFileSync(join(ROOT, "www", "examples", "post.html"), "utf8");
  const slides = readFileSync(join(ROOT, "www", "examples", "slides.html"), "utf8");
  const demos = [];
  for (const m of post.matchAll(/<cabs-demo\b([^>]*\bid="[^"]*"[^>]*)>/g)) { // elements, not the comments' mentions
    const attrs = [...m[1].matchAll(/([\w-]+)="([^"]*)"/g)].filter(([, k]) => !["id", "class", "title", "height"].includes(k));
    const id = /id="([^"]*)"/.exec(m[1])?.[1] ?? "?";
    demos.push([`post.html #${id}`, attrs.map(([, k, v]) => `${k}=${decode(v)}`).join("&")]);
  }
  for (const m of slides.matchAll(/data-src="\.\.\/index\.html#([^"]*)"/g)) demos.push([`slides.html ${demos.length}`, decode(m[1])]);
  // The same settings in another order are the same demo: keys sorted, page-only keys dropped.
  return demos.map(([where, hash]) => [where, hash.split("&").filter((kv) => !/^(play|backend|embed)=/.test(kv)).sort().join("&")]);
}

let server, browser;
pageSuite({ webgpu: false }, (s) => ({ server, browser } = s)); // the CPU engine, as a reader without WebGPU gets

test("every demo of the examples has a claim that this file checks", () => {
  const demos = exampleDemos();
  assert.ok(demos.length >= 6, `found only ${demos.length} demos in post.html and slides.html`);
  for (const [where, hash] of demos) {
    const data = new URLSearchParams(hash).get("data");
    assert.ok(CLAIMS[data], `${where} (${hash}) trains on '${data}', for which no claim is checked`);
  }
});

/** Train the demo on the CPU engine until CABS has made `steps` steps; the JSON export's runs. */
async function train(hash, steps) {
  const page = await openPage(browser, `${server.url}#${hash}&backend=cpu&play=1`);
  await ready(page);
  await page.waitForFunction((n) => window.cabsDemo.snapshot().runs[0].step >= n, steps, { timeout: 180_000, polling: 250 });
  await page.evaluate(() => window.cabsDemo.pause());
  const download = page.waitForEvent("download");
  await page.click("#export-json");
  const json = JSON.parse(await (await download).createReadStream().then((s) => s.toArray()).then((c) => Buffer.concat(c).toString("utf8")));
  await page.context().close();
  return json.runs.map((r) => ({ rule: r.rule, steps: r.steps.slice(0, steps) }));
}

const meanLossAvg = (steps) => steps.slice(-300).reduce((s, r) => s + r.lossAvg, 0) / Math.min(300, steps.length);

const seen = new Set();
for (const [where, hash] of exampleDemos()) {
  const data = new URLSearchParams(hash).get("data");
  const claim = CLAIMS[data];
  if (!claim || seen.has(hash)) continue; // the post and the deck share their settings: train each once
  seen.add(hash);
  test(`${where} (${hash}): its claim holds within ${claim.budget} steps`, async () => {
    const runs = await train(hash, claim.budget);
    const cabs = runs.find((r) => r.rule === "cabs");
    assert.ok(cabs, `no CABS run in ${JSON.stringify(runs.map((r) => r.rule))}`);
    assert.equal(cabs.steps.length, claim.budget, "CABS trained the whole budget");
    assert.equal(cabs.steps[0].batchSize, 16, "CABS starts at m_min = 16");
    const past32 = cabs.steps.find((r) => r.batchSize > 32);
    console.log(`# ${where}: CABS passes 32 at step ${past32?.step}, largest batch ${Math.max(...cabs.steps.map((r) => r.batchSize))}`);
    assert.ok(past32 && past32.step <= claim.growsPast32By, `CABS's batch passes 32 at step ${past32?.step ?? "never"}, the text says by ${claim.growsPast32By}`);
    if (claim.reaches) {
      const [m, by] = claim.reaches;
      const at = cabs.steps.find((r) => r.batchSize >= m);
      assert.ok(at && at.step <= by, `CABS's batch reaches ${m} at step ${at?.step ?? "never"}, the text says by ${by}`);
    }
    if (claim.noisierBaseline) {
      const [rule, factor] = claim.noisierBaseline;
      const base = runs.find((r) => r.rule === rule);
      assert.ok(base, `no ${rule} run`);
      assert.equal(base.steps.length, claim.budget, `${rule} trained the whole budget (it did not diverge)`);
      const ratio = meanLossAvg(base.steps) / meanLossAvg(cabs.steps);
      console.log(`# ${where}: ${rule}'s smoothed loss is ${ratio.toFixed(1)}× CABS's over the last 300 of ${claim.budget} steps`);
      assert.ok(ratio >= factor, `${rule}'s smoothed loss is only ${ratio.toFixed(2)}× CABS's; the text says several times (≥ ${factor}×)`);
    }
  });
}
