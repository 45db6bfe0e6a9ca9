// The adaptive rules beside CABS in the page (docs/METHOD.md): a growth schedule as the main rule
// with the norm test and CABS as baselines, trained on the CPU twin. The batch chart draws every
// adaptive run's m_raw, the rule's-two-terms chart each rule's own numerator and denominator
// (none for the schedule, which has no terms), the rules survive the link and a reload, the
// schedule's batches follow M0 · FACTOR^⌊examples / EVERY⌋, a bad rule in the link falls back
// with a notice quoting it, and `inner:` trains on the engine's exact Var(gᵢᵀḡ) and draws it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { openPage, ready, pageSuite } from "./harness.mjs";

let server, browser;
pageSuite({ webgpu: false }, (s) => ({ server, browser } = s));

const RULES = "rule=grow:16:200:1.5&baselines=norm:0.5,cabs";
const LINK = `data=blobs&model=mlp:16&lr=4&mu=0.9&backend=cpu&${RULES}`;

/** Each chart's legend: series labels and the values shown at rest (the latest). */
const legends = (page) => page.evaluate(() => Object.fromEntries([...document.querySelectorAll(".chart")].map((c) => [c.dataset.chart, {
  note: c.querySelector(".note")?.textContent ?? "",
  series: [...c.querySelectorAll(".u-legend tr.u-series")].map((tr) => ({ label: tr.querySelector(".u-label")?.textContent ?? "", value: tr.querySelector(".u-value")?.textContent ?? "" })),
}])));

async function train(page, steps) {
  await ready(page);
  await page.evaluate(() => window.cabsDemo.play());
  await page.waitForFunction((n) => window.cabsDemo.snapshot().runs.every((r) => r.step >= n), steps, { timeout: 90_000, polling: 200 });
  await page.evaluate(() => window.cabsDemo.pause());
  await page.waitForTimeout(600); // the last draw
}

test("a growth schedule, the norm test and CABS side by side: each rule's m_raw and terms, through a reload", async () => {
  const page = await openPage(browser, `${server.url}#${LINK}`);
  await train(page, 40);
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  assert.deepEqual(snap.runs.map((r) => r.rule), ["grow:16:200:1.5", "norm:0.5", "cabs"]);
  for (const r of snap.runs) assert.equal(r.diverged, null, `${r.rule} trained`);
  // The schedule's batch at its last step: M0 · 1.5^⌊examples before it / 200⌋, half to even, clipped to m_max.
  const grow = snap.runs[0];
  const before = grow.examplesSeen - grow.batchSize;
  assert.equal(grow.batchSize, Math.min(2048, Math.round(16 * 1.5 ** Math.floor(before / 200))), JSON.stringify(grow));
  assert.ok(grow.batchSize > 16, "the schedule grew the batch");

  const l = await legends(page);
  const labels = (id) => l[id].series.map((s) => s.label);
  for (const rule of ["grow:16:200:1.5", "norm:0.5", "cabs"]) assert.ok(labels("batch").includes(`${rule} m_raw`), `batch chart: ${rule}'s m_raw; ${labels("batch")}`);
  assert.deepEqual(labels("terms").filter((s) => s !== "examples seen"), ["norm:0.5 ξ", "norm:0.5 θ²‖ḡ‖²", "cabs ξ̄", "cabs ℒ̄"], "each rule's own terms; none for the schedule");
  for (const s of l.terms.series.slice(1)) assert.match(s.value, /\d/, `${s.label} has a value drawn`);
  assert.match(l.terms.note, /norm: m_raw = ξ \/ \(θ² ‖ḡ‖²\)/);
  assert.match(l.terms.note, /CABS: m_raw = α · ξ̄ \/ ℒ̄/);

  // The link keeps the rules; a reload from it trains the same three.
  const hash = await page.evaluate(() => decodeURIComponent(location.hash));
  assert.ok(hash.includes("rule=grow:16:200:1.5") && hash.includes("baselines=norm:0.5,cabs"), hash);
  const again = await openPage(browser, `${server.url}${hash}`);
  const s2 = await ready(again);
  assert.deepEqual(s2.runs.map((r) => r.rule), ["grow:16:200:1.5", "norm:0.5", "cabs"]);
  const settings = await again.evaluate(() => window.cabsDemo.settings());
  assert.equal(settings.rule, "grow:16:200:1.5");
  assert.equal(settings.baselines, "norm:0.5,cabs");
  assert.deepEqual(page.errors.concat(again.errors), []);
});

test("a bad rule in the link is refused quoting it", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&backend=cpu&rule=norm:-1&baselines=gns:0`);
  await ready(page);
  const notice = await page.locator("#notice").textContent();
  assert.match(notice, /rule='norm:-1'/);
  assert.match(notice, /baselines='gns:0'/);
  const s = await page.evaluate(() => window.cabsDemo.settings());
  assert.equal(s.rule, "cabs");
  assert.deepEqual(page.errors, []);
});

test("inner:THETA trains on the engine's exact Var(gᵢᵀḡ), logged in the CSV and drawn as its numerator", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&lr=4&mu=0.9&backend=cpu&rule=inner:0.9&baselines=none`);
  await train(page, 20);
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  assert.deepEqual(snap.runs.map((r) => r.rule), ["inner:0.9"]);
  assert.equal(snap.runs[0].diverged, null);
  const [csvFile] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
  const [header, ...rows] = (await readFile(await csvFile.path(), "utf8")).trim().split("\n");
  const col = header.split(",").indexOf("inner_product_var");
  assert.ok(col > 0, header);
  const vars = rows.map((r) => Number(r.split(",")[col]));
  assert.ok(vars.length >= 20 && vars.every((v) => Number.isFinite(v) && v >= 0), `every step logs Var(gᵢᵀḡ): ${vars.slice(0, 5)}`);
  const l = await legends(page);
  const terms = l.terms.series.map((x) => x.label);
  assert.ok(terms.includes("inner:0.9 Var(gᵢᵀḡ)") && terms.includes("inner:0.9 θ²‖ḡ‖⁴"), `${terms}`);
  assert.deepEqual(page.errors, []);
});
