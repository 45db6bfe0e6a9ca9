// The recorded runs: one column array per step field, the test evaluations, a smoothed loss.
// Also turns a run into CSV (through the engine's csvRow: the native runner's own formatter) and
// all runs into / from JSON.

/** Step fields kept per run (the engine's step record plus the worker's wallMs). */
export const FIELDS = ["step", "examplesSeen", "epoch", "batchSize", "nextBatchSize", "mRaw", "loss", "lossAvg", "xi", "xiAvg",
  "gradNormSq", "noiseScale", "lr", "batchAccuracy", "sumSqNorms", "convXiExact", "convXiApprox", "wallMs"];
const SMOOTH = 0.9; // EMA factor of the displayed smoothed loss (bias-corrected)

export class Run {
  /** {id, rule, imported?: file name} */
  constructor({ id, rule, imported = null }) {
    this.id = id;
    this.rule = rule;
    this.imported = imported;
    this.label = imported ? `${rule} (${imported})` : rule;
    this.cols = Object.fromEntries(FIELDS.map((f) => [f, []]));
    this.smooth = [];
    this.ema = 0;
    this.evals = []; // {step, index, testLoss, testAccuracy}
    this.diverged = null; // the step at which this run diverged and stopped, or null
  }

  get length() { return this.cols.step.length; }

  push(rec) {
    for (const f of FIELDS) this.cols[f].push(typeof rec[f] === "number" ? rec[f] : NaN);
    const n = this.length;
    this.ema = SMOOTH * this.ema + (1 - SMOOTH) * rec.loss;
    this.smooth.push(this.ema / (1 - SMOOTH ** n));
    if (typeof rec.testAccuracy === "number") this.evals.push({ step: rec.step, index: n - 1, testLoss: rec.testLoss, testAccuracy: rec.testAccuracy });
  }

  last(field) { return this.cols[field][this.length - 1]; }
  lastEval() { return this.evals[this.evals.length - 1]; }

  /** Step record i as one object, with the test columns when evaluated there. */
  record(i, evalAt = null) {
    const rec = Object.fromEntries(FIELDS.map((f) => [f, this.cols[f][i]]));
    const ev = evalAt ? evalAt.get(i) : this.evals.find((e) => e.index === i);
    if (ev) Object.assign(rec, { testLoss: ev.testLoss, testAccuracy: ev.testAccuracy });
    return rec;
  }

  /**
   * The run as CSV, every row formatted by the engine (`csvHeader()` and `csvRow(record)` of
   * pkg/cabs.js), which is the code the native runner writes its `--csv` with.
   */
  toCsv({ csvHeader, csvRow }) {
    const evalAt = new Map(this.evals.map((e) => [e.index, e]));
    const lines = [csvHeader()];
    for (let i = 0; i < this.length; i++) lines.push(csvRow(this.record(i, evalAt)));
    return lines.join("\n") + "\n";
  }
}

export const JSON_FORMAT = "cabs-webgpu-run";

/** All runs and the settings that made them, every step included. */
export function runsToJson(runs, settings, backend) {
  return {
    format: JSON_FORMAT, version: 1, exportedAt: new Date().toISOString(), settings, backend,
    runs: runs.map((r) => ({ rule: r.rule, ...(r.diverged != null && { divergedAtStep: r.diverged }), steps: Array.from({ length: r.length }, (_, i) => r.record(i)) })),
  };
}

/**
 * Parse a saved JSON run (untrusted: from a file). Copies only known numeric fields and a
 * short rule text; throws an Error with a readable message when the file is not a saved run.
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
      for (const f of [...FIELDS, "testLoss", "testAccuracy"]) if (typeof s[f] === "number") rec[f] = s[f];
      run.push(rec);
    }
    return run;
  });
}
