// The recorded runs: one growable typed array per step field (every row is kept, for export, in
// the narrowest exact type: about 4 bytes a value), the test evaluations, a smoothed loss, and per-series min/max decimators
// that give the charts a bounded number of points however long a run grows. Also turns a run
// into CSV (through the engine's csvRow: the native runner's own formatter) and all runs into /
// from JSON. Pure: no DOM, so Node tests use it as it is.

import RECORD from "./record-schema.js";
import { adaptive } from "./rules.js";

/**
 * Step fields kept per run, from the record's schema (src/record.rs): the engine's step record
 * plus the worker's wallMs (the evaluations are kept apart, in `evals`).
 */
const KEPT = RECORD.fields.filter((f) => f.origin !== "eval");
export const FIELDS = KEPT.map((f) => f.js);
/** Text fields (the engine that ran a step) and the words each may hold. */
const TEXT = new Map(RECORD.fields.filter((f) => f.kind.text).map((f) => [f.js, f.kind.text.values]));
const SMOOTH = 0.9; // EMA factor of the displayed smoothed loss (bias-corrected)

/**
 * A column of numbers that grows by doubling, in the narrowest exact type: Int32 while every
 * value is a 32-bit integer, Float32 while every value is a float32 (the GPU's and most of the
 * engine's numbers are), Float64 otherwise; a value that does not fit widens the column once.
 * A row read back is the row pushed, bit for bit (NaN, −0 and ±∞ included), so exports stay
 * byte-identical while a typical step row takes about half the bytes of Float64 columns.
 */
export class Column {
  /** exact = false: a display-only column that rounds to its type instead of widening. */
  constructor(capacity = 256, type = Int32Array, exact = true) {
    this.data = new type(capacity);
    this.length = 0;
    this.exact = exact;
  }

  push(v) {
    if (this.exact && !fits(this.data, v)) this.widen(v);
    if (this.length === this.data.length) {
      const grown = new this.data.constructor(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }

  /** Copy into the narrowest wider type that holds v. */
  widen(v) {
    const f32 = new Float32Array(0);
    const type = this.data instanceof Int32Array && fits(f32, v) && this.view().every((x) => fits(f32, x)) ? Float32Array : Float64Array;
    const wide = new type(this.data.length);
    for (let i = 0; i < this.length; i++) wide[i] = this.data[i];
    this.data = wide;
  }

  /** The filled part, as a view (no copy). */
  view() { return this.data.subarray(0, this.length); }
}

/**
 * A column of words (few distinct ones, such as "cpu" and "gpu"): a plain array, each row a
 * reference to the same interned string. `length` may be lowered to drop rows, as for Column.
 */
export class TextColumn {
  constructor() {
    this.data = [];
    this.length = 0;
  }

  push(v) { this.data[this.length++] = v; }

  /** The filled part (no copy). */
  view() {
    if (this.data.length > this.length) this.data.length = this.length;
    return this.data;
  }
}

/** Whether an array of this type stores v exactly. */
function fits(data, v) {
  if (data instanceof Float64Array) return true;
  if (data instanceof Float32Array) return Number.isNaN(v) || Math.fround(v) === v; // ±0 and ±∞ round-trip too
  return Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 && !Object.is(v, -0);
}

export class Run {
  /** {id, rule, imported?: file name} */
  constructor({ id, rule, imported = null }) {
    this.id = id;
    this.rule = rule;
    this.imported = imported;
    this.label = imported ? `${rule} (${imported})` : rule;
    this.columns = Object.fromEntries(FIELDS.map((f) => [f, TEXT.has(f) ? new TextColumn() : new Column()]));
    this.smoothCol = new Column(256, Float32Array, false); // display only (exports do not carry it): float32 is plenty
    this.ema = 0;
    this.evals = []; // {step, index, testLoss, testAccuracy}: one per evaluation (every few steps)
    this.diverged = null; // the step at which this run diverged and stopped, or null
    // Positive extremes of the batch-size columns, kept as rows arrive (the batch chart's range
    // would otherwise scan every row at every redraw).
    this.mSpan = { lo: Infinity, hi: 0 };
  }

  get length() { return this.columns.step.length; }

  /** The filled column of a field (or "smooth"), as a typed-array view (an array for text). */
  col(field) { return field === "smooth" ? this.smoothCol.view() : this.columns[field].view(); }

  /** Every field's column as views (for readers that want `run.cols.loss[i]`). */
  get cols() { return Object.fromEntries(FIELDS.map((f) => [f, this.columns[f].view()])); }

  /** The smoothed loss column (a view). */
  get smooth() { return this.smoothCol.view(); }

  push(rec) {
    for (const f of FIELDS) {
      if (TEXT.has(f)) this.columns[f].push(TEXT.get(f).includes(rec[f]) ? rec[f] : null);
      else this.columns[f].push(typeof rec[f] === "number" ? rec[f] : NaN);
    }
    const n = this.length;
    this.ema = SMOOTH * this.ema + (1 - SMOOTH) * rec.loss;
    this.smoothCol.push(this.ema / (1 - SMOOTH ** n));
    for (const v of [rec.batchSize, adaptive(this.rule) ? rec.mRaw : NaN])
      if (v > 0) { this.mSpan.lo = Math.min(this.mSpan.lo, v); this.mSpan.hi = Math.max(this.mSpan.hi, v); }
    if (typeof rec.testAccuracy === "number") this.evals.push({ step: rec.step, index: n - 1, testLoss: rec.testLoss, testAccuracy: rec.testAccuracy });
  }

  /**
   * Drop every row after step `step` (a rollback: those steps are trained again). The smoothed
   * loss and the batch-size extremes are recomputed from the rows kept, as `push` made them.
   */
  truncate(step) {
    const steps = this.columns.step.view();
    let n = steps.length;
    while (n > 0 && steps[n - 1] > step) n--;
    if (n === steps.length) return;
    for (const f of FIELDS) this.columns[f].length = n;
    this.smoothCol.length = n;
    this.evals = this.evals.filter((e) => e.index < n);
    this.ema = 0;
    this.mSpan = { lo: Infinity, hi: 0 };
    const loss = this.columns.loss.data, m = this.columns.batchSize.data, raw = this.columns.mRaw.data;
    for (let i = 0; i < n; i++) {
      this.ema = SMOOTH * this.ema + (1 - SMOOTH) * loss[i];
      for (const v of [m[i], adaptive(this.rule) ? raw[i] : NaN])
        if (v > 0) { this.mSpan.lo = Math.min(this.mSpan.lo, v); this.mSpan.hi = Math.max(this.mSpan.hi, v); }
    }
    if (this.diverged !== null && this.diverged > step) this.diverged = null;
  }

  last(field) { return field === "smooth" ? this.smoothCol.data[this.length - 1] : this.columns[field].data[this.length - 1]; }
  lastEval() { return this.evals[this.evals.length - 1]; }

  /** Evaluations by row index (records and exports look them up in O(1)). */
  evalMap() { return new Map(this.evals.map((e) => [e.index, e])); }

  /** Step record i as one object, with the test columns when evaluated there. */
  record(i, evalAt = null) {
    const rec = Object.fromEntries(FIELDS.map((f) => [f, this.columns[f].data[i]]));
    const ev = evalAt ? evalAt.get(i) : this.evals.find((e) => e.index === i);
    if (ev) Object.assign(rec, { testLoss: ev.testLoss, testAccuracy: ev.testAccuracy });
    return rec;
  }

  /**
   * The run as CSV, every row formatted by the engine (`csvHeader()` and `csvRow(record)` of
   * pkg/cabs.js), which is the code the native runner writes its `--csv` with.
   */
  toCsv({ csvHeader, csvRow }) {
    const evalAt = this.evalMap();
    const lines = [csvHeader()];
    for (let i = 0; i < this.length; i++) lines.push(csvRow(this.record(i, evalAt)));
    return lines.join("\n") + "\n";
  }
}

/**
 * Min/max decimation of one series, incremental: rows are grouped in buckets of k rows (k a
 * power of two, aligned at multiples of k, so a bucket's points do not move as the run grows),
 * and each bucket is drawn by its lowest and highest valid point, which keeps spikes and
 * divergences visible where every-k-th thinning would drop them. Finished buckets are kept, so
 * a redraw costs the new rows plus the buckets, not the whole run; when a run outgrows `cap`
 * buckets, k doubles and neighbouring buckets merge. At most 2·cap + 3 points are returned.
 */
export class MinMax {
  constructor(cap = 600) {
    this.cap = cap;
    this.k = 1;
    this.done = 0; // rows summarised in finished buckets
    this.lo = []; // per finished bucket: row index of its lowest valid value, or −1
    this.hi = []; // … of its highest
  }

  /**
   * Row indices to draw, ascending, for the rows 0…n−1 of `ys` (indexable); `valid(v)` says
   * whether a value can be drawn (finite, or positive on a log axis). The last valid row is
   * always included, so the curve ends where the run is.
   */
  indices(ys, n, valid) {
    if (n < this.done) this.reset(); // a shorter column: a new run
    while (n > this.cap * this.k) this.coarsen(ys);
    while (this.done + this.k <= n) {
      const [a, b] = scan(ys, this.done, this.done + this.k, valid);
      this.lo.push(a);
      this.hi.push(b);
      this.done += this.k;
    }
    const out = [];
    const add = (a, b) => {
      if (a < 0) return;
      if (a === b) out.push(a);
      else if (a < b) out.push(a, b);
      else out.push(b, a);
    };
    for (let j = 0; j < this.lo.length; j++) add(this.lo[j], this.hi[j]);
    const [a, b] = scan(ys, this.done, n, valid);
    add(a, b);
    for (let i = n - 1; i >= this.done && i >= 0; i--) {
      if (!valid(ys[i])) continue;
      if (out[out.length - 1] !== i) out.push(i);
      break;
    }
    return out;
  }

  reset() {
    this.k = 1;
    this.done = 0;
    this.lo = [];
    this.hi = [];
  }

  /** Double the bucket size: merge finished buckets in pairs (an odd last one is rescanned). */
  coarsen(ys) {
    const lo = [], hi = [];
    const pairs = Math.floor(this.lo.length / 2);
    const pick = (i, j, lower) => (i < 0 ? j : j < 0 ? i : (lower ? ys[j] < ys[i] : ys[j] > ys[i]) ? j : i);
    for (let j = 0; j < pairs; j++) {
      lo.push(pick(this.lo[2 * j], this.lo[2 * j + 1], true));
      hi.push(pick(this.hi[2 * j], this.hi[2 * j + 1], false));
    }
    this.k *= 2;
    this.lo = lo;
    this.hi = hi;
    this.done = pairs * this.k;
  }
}

/** [index of the lowest, index of the highest] valid value in rows a…b−1 (−1 when none). */
function scan(ys, a, b, valid) {
  let lo = -1, hi = -1;
  for (let i = a; i < b; i++) {
    const v = ys[i];
    if (!valid(v)) continue;
    if (lo < 0 || v < ys[lo]) lo = i;
    if (hi < 0 || v > ys[hi]) hi = i;
  }
  return [lo, hi];
}

export const JSON_FORMAT = "cabs-webgpu-run";

/** All runs and the settings that made them, every step included. */
export function runsToJson(runs, settings, backend) {
  return {
    format: JSON_FORMAT, version: 1, exportedAt: new Date().toISOString(), settings, backend,
    runs: runs.map((r) => {
      const evalAt = r.evalMap();
      return { rule: r.rule, ...(r.diverged != null && { divergedAtStep: r.diverged }), steps: Array.from({ length: r.length }, (_, i) => r.record(i, evalAt)) };
    }),
  };
}

/**
 * Parse a saved JSON run (untrusted: from a file). Copies only the record's fields with values of
 * their type (numbers; for text fields, one of their words) and a short rule text; throws an
 * Error with a readable message when the file is not a saved run.
 */
export function runsFromJson(text, fileName, nextId) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error("this file is not JSON");
  }
  if (!doc || doc.format !== JSON_FORMAT || !Array.isArray(doc.runs)) throw new Error(`this file is not a saved run (no "format": "${JSON_FORMAT}")`);
  if (doc.runs.length > 8) throw new Error("this file has more than 8 runs");
  const name = String(fileName).slice(0, 40);
  return doc.runs.map((r, k) => {
    if (!r || !Array.isArray(r.steps)) throw new Error(`run ${k + 1} in this file has no steps`);
    const rule = String(r.rule ?? "run").replace(/[^\w:.,-]/g, "").slice(0, 40) || "run";
    const run = new Run({ id: nextId + k, rule, imported: name });
    if (Number.isInteger(r.divergedAtStep) && r.divergedAtStep >= 0) run.diverged = r.divergedAtStep;
    for (const s of r.steps.slice(0, 1_000_000)) {
      if (!s || typeof s.step !== "number") throw new Error(`run ${k + 1} has a step without a number`);
      const rec = {};
      for (const { js } of RECORD.fields) if (TEXT.has(js) ? TEXT.get(js).includes(s[js]) : typeof s[js] === "number") rec[js] = s[js];
      run.push(rec);
    }
    return run;
  });
}
