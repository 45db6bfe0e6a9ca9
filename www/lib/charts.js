// The live charts (uPlot): training loss, test accuracy, batch size, the two terms of each
// adaptive rule's m_raw (lib/rules.js), and the gradient noise scale. Every run is drawn on the same axes in its own colour;
// the x-axis is steps, examples seen or seconds of the run's own compute time. However long a
// run grows, each series is drawn from at most about 2·CAP points (min/max decimation in
// lib/store.js), and nothing here spreads an unbounded array into a call.
import { el, fmt } from "./dom.js";
import { MinMax } from "./store.js";
import { DEFAULTS } from "./state.js";
import { adaptive, ruleTerms } from "./rules.js";

// uPlot is not imported with the page: evaluating it takes ≈ 20 ms of the page's thread in a fresh
// tab (its first Intl.NumberFormat sets up ICU), and inside main.js that delayed the worker's init.
// main.js asks for it once the page's thread is idle (loadChartsSoon), which is after the init
// went out and before the first step comes back; a rebuild before then waits for it (later).
// index.html preloads it, so it is fetched and parsed by then.
let uPlot = null;
let uPlotLoading = null;
const loadUplot = () => (uPlotLoading ??= import("../vendor/uPlot.esm.js").then((m) => { uPlot = m.default; }));

/** Import uPlot when the page's thread is next idle (at the latest in 1 s), not during its start. */
export function loadChartsSoon() {
  const load = () => loadUplot().catch(() => {}); // a failure is reported by the rebuild that needs it
  if (typeof requestIdleCallback === "function") requestIdleCallback(load, { timeout: 1000 });
  else setTimeout(load, 0);
}

/** Buckets per series: each draws its lowest and highest point, so ≤ 2·CAP + 3 points a series. */
export const CAP = 400; // ≤ 803 points: about one per pixel column of a wide chart, no more
const MAX_PX = 4096; // a plot never gets a larger canvas side, whatever its frame's size
export const PALETTE = {
  light: ["#d9480f", "#1864ab", "#2b8a3e", "#862e9c", "#5c940d", "#c2255c"],
  dark: ["#ff922b", "#4dabf7", "#69db7c", "#e599f7", "#c0eb75", "#f783ac"],
};
// Every run takes one step per round, so runs move together in steps; on the other axes a run
// with bigger batches (examples) or slower steps (seconds) reaches further — the titles say so.
const XLABEL = { step: "step · all runs step together", examples: "examples seen · runs step together", seconds: "own compute, s · runs step together" };
const XSHORT = { step: "step", examples: "examples seen", seconds: "seconds" };

/**
 * Chart definitions: id, title (short: in embed mode), one-line note, y scale, the series each run contributes, and
 * `key`: which line is which, as [style, name] pairs, shown in embed mode (no legends there).
 */
const CHARTS = [
  { id: "loss", title: "Training loss", short: "Loss", note: "thin: each mini-batch; thick: smoothed", log: true, key: [["thin", "raw"], ["solid", "smoothed"]],
    series: (r) => [{ label: `${r.label} raw`, col: "loss", width: 1, alpha: 0.35 }, { label: r.label, col: "smooth", width: 2.5 }] },
  { id: "accuracy", title: "Test accuracy", short: "Test accuracy", note: "on the held-out test set, every few steps", evals: true, pct: true, key: [],
    series: (r) => [{ label: r.label, width: 2.5, points: true }] },
  { id: "batch", title: "Batch size m", short: "Batch size", note: "solid: m used; dashed: an adaptive rule's raw m before rounding and clipping; grey: the clip bounds", log: true, bounds: true,
    key: [["solid", "m"], ["dashed", "m_raw"], ["dotted", "bounds"]],
    series: (r) => [{ label: r.label, col: "batchSize", width: 2.5, stepped: true },
      ...(adaptive(r.rule) ? [{ label: `${r.label} m_raw`, col: "mRaw", width: 1.2, dash: [6, 4] }] : [])] },
  // Each rule's own numerator (solid) and denominator (dashed); `terms` runs only (lib/rules.js).
  { id: "terms", title: "The rule's two terms", short: "Rule's terms", log: true, onlyTerms: true,
    note: (runs) => termsNote(runs),
    key: (runs) => (runs.every((r) => r.rule === "cabs") ? [["solid", "ξ̄ variance"], ["dashed", "ℒ̄ loss"]] : [["solid", "numerator (CABS: ξ̄)"], ["dashed", "denominator (CABS: ℒ̄)"]]),
    series: (r) => {
      const t = ruleTerms(r.rule);
      return [{ label: `${r.label} ${t.num.name}`, at: t.num.at, width: 2.5 }, { label: `${r.label} ${t.den.name}`, at: t.den.at, width: 2, dash: [5, 4] }];
    } },
  { id: "noise", title: "Gradient noise scale", short: "Noise scale", note: "B_simple = ξ / ‖ḡ‖² (McCandlish et al. 2018)", log: true, key: [],
    series: (r) => [{ label: r.label, col: "noiseScale", width: 2 }] },
];
export const CHART_IDS = CHARTS.map((c) => c.id);
/** Charts that need a run of a rule with two terms (lib/rules.js) to draw anything. */
export const TERMS_ONLY = CHARTS.filter((c) => c.onlyTerms).map((c) => c.id);
/** Whether a run draws anything in the terms chart. */
export const hasTerms = (rule) => ruleTerms(rule) !== null;

/** The terms chart's note: each shown rule's formula, once. */
function termsNote(runs) {
  const formulas = [...new Set(runs.map((r) => ruleTerms(r.rule).formula))];
  const cabs = runs.some((r) => r.rule === "cabs")
    ? " — for CABS solid ξ̄: gradient variance, dashed ℒ̄: loss (running averages); on this log axis their gap is log(m_raw / α)"
    : "";
  const others = runs.some((r) => r.rule !== "cabs") ? "; for the other rules numerator / denominator = m_raw" : "";
  return `${formulas.join("; ")}${cabs}${others}`;
}

/** Row values of a derived series (`at(run, i)`), recomputed into a reused buffer. */
function derived(g, run) {
  const n = run.length;
  if (!g.buf || g.buf.length < n) g.buf = new Float64Array(Math.max(256, 2 * n));
  for (let i = 0; i < n; i++) g.buf[i] = g.at(run, i);
  return g.buf.subarray(0, n);
}

/** The x value of row i of a run on this axis (no copy of a column). */
function xAt(run, mode) {
  if (mode === "examples") { const c = run.col("examplesSeen"); return (i) => c[i]; }
  if (mode === "seconds") { const c = run.col("wallMs"); return (i) => c[i] / 1000; }
  const c = run.col("step");
  return (i) => c[i];
}

const positive = (v) => (Number.isFinite(v) && v > 0 ? v : null);
const finite = (v) => (Number.isFinite(v) ? v : null);
const isPositive = (v) => Number.isFinite(v) && v > 0;
const isFinite = (v) => Number.isFinite(v);

/** Tick label: 950, 25k, 150k, 1.2M — short enough that neighbours never run together. */
export function compact(v) {
  if (v == null || !Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a >= 1e9) return `${Number((v / 1e9).toPrecision(2))}G`;
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(2))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return fmt(v, 2);
}

/** The longest string's length (a loop: tick lists may be long, never spread into Math.max). */
function longest(vals) {
  let n = 0;
  for (const v of vals || []) n = Math.max(n, String(v ?? "").length);
  return n;
}

/** A line sample and its name, for a chart's key in embed mode. */
function keyItem([style, name]) {
  return el("span", { class: "key-item" }, el("span", { class: `key-line ${style}`, "aria-hidden": "true" }), name);
}

export class Charts {
  /**
   * host: element to fill; opts: {hidden: Set of chart ids, theme: "light"|"dark", compact}.
   * compact (embed mode): the charts share the host's height and width in a grid chosen for the
   * frame's shape, without per-chart legends (the page shows one, each chart a key of its line
   * styles), fonts scaled to the frame.
   */
  constructor(host, opts) {
    this.host = host;
    this.opts = opts;
    this.plots = [];
    this.runs = [];
    this.xmode = "examples";
    this.bounds = null;
    /** Rollbacks to mark: [{step, lostAt}] (a lost WebGPU device: every run went back to `step`). */
    this.rollbacks = [];
    /** The latest rebuild asked for while uPlot loads: [runs, xmode, bounds], done once it is in. */
    this.waiting = null;
    /** Called after a rebuild that waited for uPlot (to draw), and with the error if it cannot load. */
    this.onBuilt = () => {};
    this.onError = () => {};
    this.resize = new ResizeObserver(() => this.fit());
  }

  /** Rebuild all charts for this set of runs / x-axis / theme. */
  rebuild(runs, xmode, bounds) {
    this.runs = runs;
    this.xmode = xmode;
    this.bounds = bounds;
    for (const p of this.plots) p.u.destroy();
    this.plots = [];
    this.resize.disconnect();
    this.host.replaceChildren();
    if (runs.length === 0) return void (this.waiting = null); // nothing to draw: not even a style read
    if (!uPlot) return this.later(runs, xmode, bounds);
    this.waiting = null;
    const css = getComputedStyle(document.documentElement);
    const ink = css.getPropertyValue("--ink").trim() || "#222";
    const grid = css.getPropertyValue("--grid").trim() || "#ddd";
    const muted = css.getPropertyValue("--muted").trim() || "#666";
    const colors = PALETTE[this.opts.theme];
    for (const def of CHARTS) {
      if (this.opts.hidden.has(def.id)) continue;
      const shown = runs.filter((r) => !def.onlyTerms || hasTerms(r.rule));
      if (shown.length === 0) continue;
      const body = el("div", { class: "plot" });
      const keys = typeof def.key === "function" ? def.key(shown) : def.key;
      const key = keys.filter(([, name]) => (name !== "m_raw" || shown.some((r) => adaptive(r.rule))) && (name !== "bounds" || bounds));
      const note = typeof def.note === "function" ? def.note(shown) : def.note;
      const card = el("figure", { class: "chart", "data-chart": def.id },
        el("figcaption", {}, el("strong", { text: this.opts.compact ? def.short : def.title }), " ", el("span", { class: "note", text: note }),
          key.length ? el("span", { class: "key", "aria-hidden": "true" }, key.map(keyItem)) : null,
          ...this.rollbacks.map((b) => el("span", { class: "rollback-note", text: ` ↶ rolled back to step ${b.step} (WebGPU lost at step ${b.lostAt})` }))),
        body);
      this.host.append(card);
      const series = [{ label: XSHORT[xmode] }];
      const getters = [];
      for (const r of shown) {
        const color = colors[runs.indexOf(r) % colors.length];
        for (const s of def.series(r)) {
          series.push({
            label: s.label, scale: s.scale || "y", spanGaps: true, width: s.width,
            stroke: s.alpha ? withAlpha(color, s.alpha) : color, dash: r.imported ? [2, 3] : s.dash,
            points: { show: !!s.points, size: 5, fill: color },
            paths: s.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
            value: (u, v) => (def.pct ? (v == null ? "–" : `${(100 * v).toFixed(1)} %`) : fmt(v)),
          });
          getters.push({ run: r, col: s.col, at: s.at, dec: new MinMax(CAP), acc: null });
        }
      }
      if (def.bounds && bounds) {
        for (const [label, v] of [["m_min", bounds.mmin], ["m_max", bounds.mmax]]) {
          series.push({ label, stroke: muted, width: 1.5, dash: [2, 4], spanGaps: true, value: () => String(v), points: { show: false } });
          getters.push({ constant: v });
        }
      }
      const px = this.fontPx();
      const font = `${px}px system-ui, sans-serif`;
      const axisStyle = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font, labelFont: font };
      const opts = {
        width: 400, height: 220, series, legend: { show: !this.opts.compact, live: true },
        cursor: { sync: { key: "cabs" }, drag: { x: false, y: false } },
        hooks: { draw: [(u) => { plot.marks = drawRollbacks(u, this.rollbacks, shown, xmode, muted, px); }] },
        scales: { x: { time: false }, y: def.bounds ? { distr: 3, log: 2, range: () => this.batchRange() } : def.log ? { distr: 3 } : def.pct ? { range: [0, 1] } : {} },
        axes: [
          // A small frame drops the x-axis title (the bar's x-axis select names it) to leave room
          // for the curves. Ticks at least 3.5 em apart, labels of ≤ 4 characters (25k, 1.2M): they never meet.
          { ...axisStyle, label: this.opts.compact && innerWidth < 600 ? undefined : XLABEL[xmode], size: Math.round(px * 2.6), labelSize: Math.round(px * 1.4),
            space: Math.round(px * 3.5), values: (u, vals) => vals.map(compact) },
          // Wide enough for the longest tick label (1.0e-6 on a log loss axis), not a fixed guess.
          { ...axisStyle, scale: "y", space: Math.max(24, Math.round(px * 2)),
            size: (u, vals) => Math.max(Math.round(px * 3), Math.ceil(longest(vals) * px * 0.7) + 18), splits: def.bounds ? powersOfTwo : undefined,
            values: def.pct ? (u, vals) => vals.map((v) => (v == null ? "" : `${Math.round(v * 100)}%`)) : (u, vals) => vals.map((v) => (v == null ? "" : def.bounds ? compact(v) : fmt(v, 2))) },
        ],
      };
      const plot = { def, u: null, getters, body, marks: [] };
      const u = new uPlot(opts, [[]].concat(series.slice(1).map(() => [])), body);
      plot.u = u;
      card.tickLabels = () => tickLabels(u, px); // for the page tests: where the tick labels are drawn
      card.rollbackMarks = () => plot.marks; // for the page tests: where the rollback lines are drawn
      this.plots.push(plot);
      this.resize.observe(body);
    }
    this.fit();
    this.update();
  }

  /** Rebuild once uPlot is in (the latest arguments win), then say so. */
  later(...args) {
    this.waiting = args;
    loadUplot().then(() => {
      if (!this.waiting) return; // built meanwhile, or by an earlier call's turn
      this.rebuild(...this.waiting);
      this.onBuilt();
    }, (err) => this.onError(new Error(`the charts could not load uPlot (vendor/uPlot.esm.js): ${err?.message ?? err}`)));
  }

  /** Axis font: 14 px on the page; in a frame, scaled with it (12 px on a phone, 18 px at 1280×720). */
  fontPx() {
    if (!this.opts.compact) return 14;
    return Math.max(12, Math.min(18, Math.round(Math.min(innerWidth, innerHeight * 1.6) / 70)));
  }

  fit() {
    if (this.opts.compact) this.layoutGrid();
    for (const p of this.plots) {
      const w = Math.min(MAX_PX, Math.max(this.opts.compact ? 80 : 200, Math.floor(p.body.clientWidth)));
      const h = this.opts.compact ? Math.min(MAX_PX, Math.max(60, Math.floor(p.body.clientHeight))) : Math.round(Math.min(300, Math.max(170, w * 0.5)));
      if (p.u.width !== w || p.u.height !== h) p.u.setSize({ width: w, height: h });
    }
  }

  /**
   * Compact mode: columns for n charts in the host's box, so that each chart is as large as it
   * can be; a layout whose charts would be shorter than MIN_CELL loses to one that is not (two
   * charts side by side on a phone rather than two strips too flat to read).
   */
  layoutGrid() {
    const n = this.plots.length;
    const W = this.host.clientWidth, H = this.host.clientHeight;
    if (n === 0 || W === 0 || H === 0) return;
    const MIN_CELL = 200; // a card: caption and padding (~30 px) around a plot of at least 160 px
    let best = 1, bestScore = -Infinity;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = W / cols, h = H / rows;
      // The area of the largest 1.6:1 chart that fits the cell; an empty cell costs a little.
      let score = (w / h > 1.6 ? 1.6 * h * h : (w * w) / 1.6) * (1 - 0.03 * (cols * rows - n));
      if (h < MIN_CELL) score -= 1e9 * (MIN_CELL - h); // too flat: only when nothing is tall enough
      if (score > bestScore) { best = cols; bestScore = score; }
    }
    const rows = Math.ceil(n / best);
    this.host.style.gridTemplateColumns = `repeat(${best}, minmax(0, 1fr))`;
    this.host.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
    // The last chart takes the empty cells of the last row: nothing is left blank.
    this.plots.forEach((p, i) => { p.body.parentElement.style.gridColumn = i === n - 1 ? `span ${best * rows - n + 1}` : ""; });
  }

  /** Push the runs' current data into every chart: per series the decimated rows only. */
  update() {
    for (const p of this.plots) {
      const tables = [];
      for (const g of p.getters) {
        if (g.constant !== undefined) continue;
        const r = g.run;
        const x = xAt(r, this.xmode);
        let xs, ys;
        if (p.def.evals) {
          // The evaluations as a column of their own, extended with the new ones only.
          g.acc ??= { col: [], seen: 0 };
          if (r.evals.length < g.acc.seen) g.acc = { col: [], seen: 0 };
          for (; g.acc.seen < r.evals.length; g.acc.seen++) g.acc.col.push(r.evals[g.acc.seen].testAccuracy);
          const ix = g.dec.indices(g.acc.col, g.acc.col.length, isFinite);
          xs = ix.map((j) => x(r.evals[j].index));
          ys = ix.map((j) => finite(g.acc.col[j]));
        } else {
          const col = g.at ? derived(g, r) : r.col(g.col);
          const ix = g.dec.indices(col, col.length, p.def.log ? isPositive : isFinite);
          xs = ix.map(x);
          ys = ix.map((i) => (p.def.log ? positive(col[i]) : finite(col[i])));
        }
        tables.push([xs, ys]);
      }
      let data = tables.length ? uPlot.join(tables) : [[]];
      const consts = p.getters.filter((g) => g.constant !== undefined);
      // A bound is a horizontal line: its two ends are enough (spanGaps joins them).
      if (consts.length) data = data.concat(consts.map((g) => data[0].map((_, i, xs) => (i === 0 || i === xs.length - 1 ? g.constant : null))));
      p.u.setData(data);
      if (!(p.u.cursor.left >= 0)) p.u.setLegend({ idxs: data.map(lastValue) }, false); // latest values when not hovering
    }
  }

  /** Points drawn per chart and series (for tests): [{id, series: [count, …]}]. */
  drawnPoints() {
    return this.plots.map((p) => ({ id: p.def.id, x: p.u.data[0].length, series: p.u.data.slice(1).map((c) => c.filter((v) => v != null).length) }));
  }

  /** y range of the batch chart: the data's span (log), not stretched to m_max until m nears it. */
  batchRange() {
    let lo = Infinity, hi = 0;
    for (const r of this.runs) { lo = Math.min(lo, r.mSpan.lo); hi = Math.max(hi, r.mSpan.hi); }
    const b = this.bounds || { mmin: DEFAULTS.mmin, mmax: DEFAULTS.mmax }; // the schema's defaults until a run says
    if (!(hi > 0)) return [Math.max(1, b.mmin / 2), b.mmin * 4];
    lo = Math.max(0.5, Math.min(lo, b.mmin) / 1.5);
    hi = Math.min(Math.max(hi * 1.6, b.mmin * 4), b.mmax * 1.25);
    return [lo, hi];
  }

  destroy() {
    this.resize.disconnect();
    for (const p of this.plots) p.u.destroy();
    this.plots = [];
  }
}

/** A rollback: a dashed line per run at the step it went back to; returns [{run, step, x (CSS px)}]. */
function drawRollbacks(u, rollbacks, runs, xmode, color, px) {
  const drawn = [];
  if (rollbacks.length === 0) return drawn;
  const { ctx } = u;
  const dpr = devicePixelRatio || 1;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 1.5 * dpr;
  ctx.setLineDash([4 * dpr, 3 * dpr]);
  ctx.font = `${Math.round(px * 0.85 * dpr)}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (const b of rollbacks) {
    for (const r of runs) {
      if (r.imported) continue;
      const steps = r.col("step");
      let i = Math.min(b.step, r.length) - 1; // row i holds step i + 1
      while (i >= 0 && steps[i] > b.step) i--;
      if (i < 0 || steps[i] !== b.step) continue;
      const x = u.valToPos(xAt(r, xmode)(i), "x", true);
      if (!(x >= left && x <= left + width)) continue;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      if (drawn.length === 0) ctx.fillText(`↶ step ${b.step}`, x + 3 * dpr, top + 2 * dpr);
      drawn.push({ run: r.id, step: b.step, x: (x - left) / dpr });
    }
  }
  ctx.restore();
  return drawn;
}

/**
 * The boxes of the tick labels uPlot drew (CSS px, relative to the chart's canvas), from its own
 * split positions and label texts: [{axis: "x"|"y", text, x0, x1, y0, y1}].
 */
function tickLabels(u, px) {
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = `${px}px system-ui, sans-serif`;
  const out = [];
  u.axes.forEach((axis, k) => {
    const splits = axis._splits || [], values = axis._values || [];
    const scale = k === 0 ? "x" : "y";
    splits.forEach((v, i) => {
      const text = values[i];
      if (text == null || text === "") return;
      const pos = u.valToPos(v, scale);
      if (!Number.isFinite(pos)) return;
      const w = ctx.measureText(String(text)).width;
      if (k === 0) {
        const cx = u.bbox.left / devicePixelRatio + pos;
        out.push({ axis: "x", text: String(text), x0: cx - w / 2, x1: cx + w / 2, y0: 0, y1: px });
      } else {
        const cy = u.bbox.top / devicePixelRatio + pos;
        out.push({ axis: "y", text: String(text), x0: 0, x1: w, y0: cy - px / 2, y1: cy + px / 2 });
      }
    });
  });
  return out;
}

/** Index of the last non-null value of a column (the legend shows it at rest). */
function lastValue(col) {
  for (let i = col.length - 1; i >= 0; i--) if (col[i] != null) return i;
  return null;
}

/** Batch-size ticks: 1, 2, 4, 8, … inside the scale (every other power when crowded). */
function powersOfTwo(u) {
  const { min, max } = u.scales.y;
  const lo = Math.ceil(Math.log2(min)), hi = Math.floor(Math.log2(max));
  const step = hi - lo > 7 ? 2 : 1;
  const out = [];
  for (let e = lo; e <= hi; e += step) out.push(2 ** e);
  return out;
}

function withAlpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}
