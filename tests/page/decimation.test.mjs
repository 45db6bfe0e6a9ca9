// The compact store and the charts' decimation, in Node (lib/store.js has no DOM): the store
// keeps every row exactly (exports equal those of plain arrays, the page's earlier store, taken
// here as the oracle); a decimated series stays under its cap however long the run, keeps the
// extremes and the last point, and the incremental result equals a fresh one. In the browser:
// a long run's charts draw at most the cap while the store keeps every row, and the CSV export
// is the runner's byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, openPage, ready, pageSuite } from "./harness.mjs";
import { Run, MinMax, Column, FIELDS, runsToJson } from "../../www/lib/store.js";

/** A deterministic pseudo-random stream (the tests must not change from run to run). */
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** n step records like the engine's, with NaN, −0, missing fields and an evaluation every 20 steps. */
function records(n, seed = 1) {
  const r = rng(seed);
  const out = [];
  for (let i = 1; i <= n; i++) {
    const rec = Object.fromEntries(FIELDS.map((f) => [f, r() * 10 ** Math.floor(r() * 8 - 4)]));
    rec.step = i;
    rec.examplesSeen = 16 * i;
    if (i % 7 === 0) rec.mRaw = NaN;
    if (i % 11 === 0) delete rec.convXiExact;
    if (i % 13 === 0) rec.xi = -0;
    if (i % 20 === 0) Object.assign(rec, { testLoss: r(), testAccuracy: r() });
    rec.engine = i % 3 ? "cpu" : "gpu"; // the one text field: kept as it is
    out.push(rec);
  }
  return out;
}

/** The page's earlier store (plain arrays), reduced to what an export reads: the oracle. */
function oracleRecords(recs) {
  const cols = Object.fromEntries(FIELDS.map((f) => [f, []]));
  const evals = new Map();
  recs.forEach((rec, i) => {
    for (const f of FIELDS) cols[f].push(typeof rec[f] === "number" || f === "engine" ? rec[f] : NaN);
    if (typeof rec.testAccuracy === "number") evals.set(i, { testLoss: rec.testLoss, testAccuracy: rec.testAccuracy });
  });
  return recs.map((_, i) => Object.assign(Object.fromEntries(FIELDS.map((f) => [f, cols[f][i]])), evals.get(i) ?? {}));
}

test("the compact store keeps every row exactly: records, CSV rows and JSON equal plain arrays'", () => {
  const recs = records(5000);
  const run = new Run({ id: 0, rule: "cabs" });
  for (const rec of recs) run.push(rec);
  assert.equal(run.length, 5000);
  const want = oracleRecords(recs);
  const evalAt = run.evalMap();
  for (let i = 0; i < run.length; i++) assert.deepEqual(run.record(i, evalAt), want[i], `row ${i}`);
  assert.ok(Object.is(run.record(12).xi, -0), "−0 survives the store");
  // A formatter that shows every value exactly (NaN, −0, undefined distinct): same text as the oracle's rows.
  const exact = (rec) => FIELDS.concat(["testLoss", "testAccuracy"]).map((f) => (Object.is(rec[f], -0) ? "-0" : String(rec[f]))).join(",");
  assert.equal(run.toCsv({ csvHeader: () => "h", csvRow: exact }), ["h", ...want.map(exact)].join("\n") + "\n");
  const json = JSON.stringify(runsToJson([run], {}, null).runs);
  assert.equal(json, JSON.stringify([{ rule: "cabs", steps: want }]));
  // The comparison can fail: one changed value is seen.
  const other = new Run({ id: 0, rule: "cabs" });
  recs.forEach((rec, i) => other.push(i === 4321 ? { ...rec, loss: rec.loss * (1 + 2 ** -40) } : rec));
  assert.notEqual(other.toCsv({ csvHeader: () => "h", csvRow: exact }), run.toCsv({ csvHeader: () => "h", csvRow: exact }));
});

test("a column keeps the narrowest exact type and widens without changing a value", () => {
  const c = new Column(2);
  for (const v of [1, 2, 3]) c.push(v);
  assert.ok(c.data instanceof Int32Array);
  c.push(-0); // not an Int32: float32 holds it
  c.push(Math.fround(0.1));
  assert.ok(c.data instanceof Float32Array);
  c.push(0.1); // not a float32
  c.push(NaN);
  c.push(-Infinity);
  assert.ok(c.data instanceof Float64Array);
  const want = [1, 2, 3, -0, Math.fround(0.1), 0.1, NaN, -Infinity];
  assert.equal(c.length, want.length);
  want.forEach((v, i) => assert.ok(Object.is(c.data[i], v), `value ${i}: ${c.data[i]} for ${v}`));
  // Integers above 2^24 are not float32: a fraction after them widens straight to Float64.
  const big = new Column();
  big.push(2 ** 25 + 1);
  big.push(0.5);
  assert.ok(big.data instanceof Float64Array);
  assert.equal(big.data[0], 2 ** 25 + 1);
});

/** The rows a plain min/max per bucket of k rows would give, with the last valid row (the oracle). */
function oracleIndices(ys, n, valid, cap) {
  let k = 1;
  while (n > cap * k) k *= 2;
  const out = new Set();
  for (let a = 0; a < n; a += k) {
    let lo = -1, hi = -1;
    for (let i = a; i < Math.min(n, a + k); i++) {
      if (!valid(ys[i])) continue;
      if (lo < 0 || ys[i] < ys[lo]) lo = i;
      if (hi < 0 || ys[i] > ys[hi]) hi = i;
    }
    if (lo >= 0) { out.add(lo); out.add(hi); }
  }
  for (let i = n - 1; i >= 0; i--) if (valid(ys[i])) { out.add(i); break; }
  return [...out].sort((a, b) => a - b);
}

test("a decimated series stays under its cap, keeps every bucket's extremes and the last point, incrementally", () => {
  const r = rng(7);
  const n = 200_000, cap = 300;
  const ys = new Float64Array(n).map((_, i) => (i % 997 === 0 ? NaN : Math.exp(-i / 50_000) + 0.1 * r()));
  ys[123_457] = 50; // a spike (a near-divergence) every-k-th thinning would miss
  const valid = (v) => Number.isFinite(v) && v > 0;
  const dec = new MinMax(cap);
  // Fed as a live run is: growing by uneven batches, asked at every redraw.
  let at = 0;
  while (at < n) {
    at = Math.min(n, at + 1 + Math.floor(r() * 900));
    const ix = dec.indices(ys, at, valid);
    assert.ok(ix.length <= 2 * cap + 3, `${ix.length} points for ${at} rows`);
    assert.ok(ix.every((v, j) => j === 0 || v > ix[j - 1]), "indices ascend");
    if (at % 17 === 0 || at === n) assert.deepEqual(ix, oracleIndices(ys, at, valid, cap), `after ${at} rows`);
  }
  const ix = dec.indices(ys, n, valid);
  assert.ok(ix.includes(123_457), "the spike is drawn");
  assert.equal(ix[ix.length - 1], n - 1, "the curve ends at the last row");
  assert.deepEqual(ix, oracleIndices(ys, n, valid, cap));
  // The oracle check can fail: a decimator that forgot one bucket's maximum differs.
  const broken = oracleIndices(ys, n, valid, cap).filter((i) => i !== 123_457);
  assert.notDeepEqual(ix, broken);
});

test("a new, shorter run restarts the decimation", () => {
  const dec = new MinMax(4);
  const ys = Float64Array.from({ length: 100 }, (_, i) => i);
  dec.indices(ys, 100, Number.isFinite);
  assert.deepEqual(dec.indices(ys, 3, Number.isFinite), [0, 1, 2]);
});

// ---- in the browser ---------------------------------------------------------------------------

const havePage = existsSync(join(ROOT, "www/pkg/cabs.js"));
let server, browser;
pageSuite({ webgpu: false, when: () => havePage }, (s) => ({ server, browser } = s));

test("a long run's charts draw at most the cap per series while the store keeps every row; CSV unchanged", { skip: !havePage && "www/pkg is missing: run bash scripts/build-wasm.sh" }, async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:8&lr=4&baselines=const:16&backend=cpu&eval=5`);
  await ready(page);
  // Feed the page's own store and charts with long runs through the module graph the page uses.
  const out = await page.evaluate(async ({ n }) => {
    const { Run } = await import("./lib/store.js");
    const { Charts, CAP } = await import("./lib/charts.js");
    const host = document.createElement("div");
    host.style.width = "900px";
    document.body.append(host);
    const runs = [new Run({ id: 0, rule: "cabs" }), new Run({ id: 1, rule: "const:16" })];
    const charts = new Charts(host, { hidden: new Set(), theme: "light", compact: false });
    charts.rebuild(runs, "examples", { mmin: 16, mmax: 2048 });
    let s = 1;
    const r = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    for (let i = 1; i <= n; i++) {
      for (const run of runs) run.push({ step: i, examplesSeen: 16 * i, batchSize: 16 + (i >> 10), mRaw: 20 + r(), loss: 1 / i + r() * 0.1, lossAvg: 1 / i, xi: r(), xiAvg: r(), noiseScale: r() * 100, wallMs: i, ...(i % 5 === 0 && { testLoss: r(), testAccuracy: r() }) });
      if (i % 50_000 === 0) charts.update(); // the live page redraws as rows arrive
    }
    charts.update();
    const drawn = charts.drawnPoints();
    const csv = runs[0].toCsv({ csvHeader: () => "h", csvRow: (rec) => `${rec.step},${rec.loss},${rec.testAccuracy}` });
    charts.destroy();
    host.remove();
    return { drawn, cap: CAP, rows: runs.map((x) => x.length), lines: csv.split("\n").length - 2, lastLine: csv.trimEnd().split("\n").pop() };
  }, { n: 300_000 });
  assert.deepEqual(out.rows, [300_000, 300_000]);
  assert.equal(out.lines, 300_000, "the export has every row");
  assert.match(out.lastLine, /^300000,/);
  assert.ok(out.drawn.length >= 4, `charts: ${JSON.stringify(out.drawn.map((d) => d.id))}`);
  for (const d of out.drawn) for (const count of d.series) assert.ok(count <= 2 * out.cap + 3, `${d.id}: a series draws ${count} points (cap ${2 * out.cap + 3})`);
  assert.ok(out.drawn.find((d) => d.id === "loss").series[0] > out.cap, "the loss series is drawn with its buckets, not a handful of points");
  // The page's real export is the golden one (schema.test.mjs checks it byte for byte): one CSV per run here.
  const golden = JSON.parse(await readFile(join(ROOT, "tests/page/csv-golden.json"), "utf8"));
  const csv = await page.evaluate(async (records) => {
    const { Run } = await import("./lib/store.js");
    const { csvEngine } = await import("./lib/exporter.js");
    const run = new Run({ id: 0, rule: "cabs" });
    for (const r of records) run.push(Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)));
    return run.toCsv(await csvEngine());
  }, golden.records);
  assert.equal(csv, golden.csv);
  await page.context().close();
});
