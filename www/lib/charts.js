// The live charts (uPlot): training loss, test accuracy, batch size, the two terms of the CABS
// rule, and the gradient noise scale. Every run is drawn on the same axes in its own colour;
// the x-axis is steps, examples seen or seconds of the run's own compute time.
import uPlot from "../vendor/uPlot.esm.js";
import { el, fmt } from "./dom.js";

const MAX_POINTS = 1500; // per series; longer runs are thinned (every k-th step, last kept)
export const PALETTE = {
  light: ["#d9480f", "#1864ab", "#2b8a3e", "#862e9c", "#5c940d", "#c2255c"],
  dark: ["#ff922b", "#4dabf7", "#69db7c", "#e599f7", "#c0eb75", "#f783ac"],
};
const XLABEL = { step: "step", examples: "examples seen", seconds: "seconds (own compute)" };

/** Chart definitions: id, title, one-line note, y scale, and the series each run contributes. */
const CHARTS = [
  { id: "loss", title: "Training loss", note: "thin: each mini-batch; thick: smoothed", log: true,
    series: (r) => [{ label: `${r.label} raw`, col: (r) => r.cols.loss, width: 1, alpha: 0.35 }, { label: r.label, col: (r) => r.smooth, width: 2.5 }] },
  { id: "accuracy", title: "Test accuracy", note: "on the held-out test set, every few steps", evals: true, pct: true,
    series: (r) => [{ label: r.label, width: 2.5, points: true }] },
  { id: "batch", title: "Batch size m", note: "solid: m used; dashed: CABS's raw m before rounding and clipping; grey: the clip bounds", log: true, bounds: true,
    series: (r) => [{ label: r.label, col: (r) => r.cols.batchSize, width: 2.5, stepped: true },
      ...(r.rule === "cabs" ? [{ label: `${r.label} m_raw`, col: (r) => r.cols.mRaw, width: 1.2, dash: [6, 4] }] : [])] },
  { id: "terms", title: "The rule's two terms", note: "m_raw = α · ξ̄ / ℒ̄ — solid ξ̄: gradient variance, dashed ℒ̄: loss (running averages); on this log axis their gap is log(m_raw / α)", log: true, onlyCabs: true,
    series: (r) => [{ label: `${r.label} ξ̄`, col: (r) => r.cols.xiAvg, width: 2.5 }, { label: `${r.label} ℒ̄`, col: (r) => r.cols.lossAvg, width: 2, dash: [5, 4] }] },
  { id: "noise", title: "Gradient noise scale", note: "B_simple = ξ / ‖ḡ‖² (McCandlish et al. 2018)", log: true,
    series: (r) => [{ label: r.label, col: (r) => r.cols.noiseScale, width: 2 }] },
];
export const CHART_IDS = CHARTS.map((c) => c.id);

function xCol(run, mode) {
  if (mode === "examples") return run.cols.examplesSeen;
  if (mode === "seconds") return run.cols.wallMs.map((v) => v / 1000);
  return run.cols.step;
}

/** Indices 0…n−1 thinned to at most MAX_POINTS, always keeping the last. */
function thin(n, keep = MAX_POINTS) {
  const k = Math.max(1, Math.ceil(n / keep));
  const idx = [];
  for (let i = 0; i < n; i += k) idx.push(i);
  if (n > 0 && idx[idx.length - 1] !== n - 1) idx.push(n - 1);
  return idx;
}

const positive = (v) => (Number.isFinite(v) && v > 0 ? v : null);
const finite = (v) => (Number.isFinite(v) ? v : null);

export class Charts {
  /**
   * host: element to fill; opts: {hidden: Set of chart ids, theme: "light"|"dark", compact}.
   * compact (embed mode): the charts share the host's height and width in a grid chosen for the
   * frame's shape, without per-chart legends (the page shows one), fonts scaled to the frame.
   */
  constructor(host, opts) {
    this.host = host;
    this.opts = opts;
    this.plots = [];
    this.runs = [];
    this.xmode = "examples";
    this.bounds = null;
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
    const css = getComputedStyle(document.documentElement);
    const ink = css.getPropertyValue("--ink").trim() || "#222";
    const grid = css.getPropertyValue("--grid").trim() || "#ddd";
    const muted = css.getPropertyValue("--muted").trim() || "#666";
    const colors = PALETTE[this.opts.theme];
    for (const def of CHARTS) {
      if (this.opts.hidden.has(def.id)) continue;
      const shown = runs.filter((r) => !def.onlyCabs || r.rule === "cabs");
      if (shown.length === 0) continue;
      const body = el("div", { class: "plot" });
      const card = el("figure", { class: "chart", "data-chart": def.id }, el("figcaption", {}, el("strong", { text: def.title }), " ", el("span", { class: "note", text: def.note })), body);
      this.host.append(card);
      const series = [{ label: XLABEL[xmode] }];
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
          getters.push({ run: r, col: s.col });
        }
      }
      if (def.bounds && bounds) {
        for (const [label, v] of [["m_min", bounds.mmin], ["m_max", bounds.mmax]]) {
          series.push({ label, stroke: muted, width: 1.5, dash: [2, 4], value: () => String(v), points: { show: false } });
          getters.push({ constant: v });
        }
      }
      const px = this.fontPx();
      const font = `${px}px system-ui, sans-serif`;
      const axisStyle = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font, labelFont: font };
      const opts = {
        width: 400, height: 220, series, legend: { show: !this.opts.compact, live: true },
        cursor: { sync: { key: "cabs" }, drag: { x: false, y: false } },
        scales: { x: { time: false }, y: def.bounds ? { distr: 3, log: 2, range: (u, lo, hi) => this.batchRange(lo, hi) } : def.log ? { distr: 3 } : def.pct ? { range: [0, 1] } : {} },
        axes: [
          // A small frame drops the x-axis title (the bar's x-axis select names it) to leave room for the curves.
          { ...axisStyle, label: this.opts.compact && innerWidth < 600 ? undefined : XLABEL[xmode], size: Math.round(px * 2.6), labelSize: Math.round(px * 1.4) },
          // Wide enough for the longest tick label (1.0e-6 on a log loss axis), not a fixed guess.
          { ...axisStyle, scale: "y", size: (u, vals) => Math.max(Math.round(px * 3), Math.ceil(Math.max(0, ...(vals || []).map((v) => String(v).length)) * px * 0.7) + 18), splits: def.bounds ? powersOfTwo : undefined, values: def.pct ? (u, vals) => vals.map((v) => `${Math.round(v * 100)}%`) : (u, vals) => vals.map((v) => (v == null ? "" : fmt(v, 2))) },
        ],
      };
      const u = new uPlot(opts, [[]].concat(series.slice(1).map(() => [])), body);
      this.plots.push({ def, u, getters, body });
      this.resize.observe(body);
    }
    this.fit();
    this.update();
  }

  /** Axis font: 14 px on the page; in a frame, scaled with it (12 px on a phone, 18 px at 1280×720). */
  fontPx() {
    if (!this.opts.compact) return 14;
    return Math.max(12, Math.min(18, Math.round(Math.min(innerWidth, innerHeight * 1.6) / 70)));
  }

  fit() {
    if (this.opts.compact) this.layoutGrid();
    for (const p of this.plots) {
      const w = Math.max(this.opts.compact ? 80 : 200, Math.floor(p.body.clientWidth));
      const h = this.opts.compact ? Math.max(60, Math.floor(p.body.clientHeight)) : Math.round(Math.min(300, Math.max(170, w * 0.5)));
      if (p.u.width !== w || p.u.height !== h) p.u.setSize({ width: w, height: h });
    }
  }

  /** Compact mode: columns for n charts in the host's box, so that each chart is as large as it can be. */
  layoutGrid() {
    const n = this.plots.length;
    const W = this.host.clientWidth, H = this.host.clientHeight;
    if (n === 0 || W === 0 || H === 0) return;
    let best = 1, bestScore = -1;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = W / cols, h = H / rows;
      // The area of the largest 1.6:1 chart that fits the cell; an empty cell costs a little.
      const score = (w / h > 1.6 ? 1.6 * h * h : (w * w) / 1.6) * (1 - 0.03 * (cols * rows - n));
      if (score > bestScore) { best = cols; bestScore = score; }
    }
    const rows = Math.ceil(n / best);
    this.host.style.gridTemplateColumns = `repeat(${best}, minmax(0, 1fr))`;
    this.host.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
    // The last chart takes the empty cells of the last row: nothing is left blank.
    this.plots.forEach((p, i) => { p.body.parentElement.style.gridColumn = i === n - 1 ? `span ${best * rows - n + 1}` : ""; });
  }

  /** Push the runs' current data into every chart. */
  update() {
    for (const p of this.plots) {
      const tables = [];
      for (const g of p.getters) {
        if (g.constant !== undefined) continue;
        const r = g.run;
        const xs = xCol(r, this.xmode);
        let ix, ys;
        if (p.def.evals) {
          ix = r.evals.map((e) => e.index);
          ys = r.evals.map((e) => finite(e.testAccuracy));
        } else {
          ix = thin(r.length);
          const col = g.col(r);
          ys = ix.map((i) => (p.def.log ? positive(col[i]) : finite(col[i])));
        }
        tables.push([ix.map((i) => xs[i]), ys]);
      }
      let data = tables.length ? uPlot.join(tables) : [[]];
      const consts = p.getters.filter((g) => g.constant !== undefined);
      if (consts.length) data = data.concat(consts.map((g) => data[0].map(() => g.constant)));
      p.u.setData(data);
      if (!(p.u.cursor.left >= 0)) p.u.setLegend({ idxs: data.map(lastValue) }, false); // latest values when not hovering
    }
  }

  /** y range of the batch chart: the data's span (log), not stretched to m_max until m nears it. */
  batchRange() {
    let lo = Infinity, hi = 0;
    for (const r of this.runs) {
      for (const col of [r.cols.batchSize, r.rule === "cabs" ? r.cols.mRaw : []])
        for (let i = 0; i < col.length; i++) if (col[i] > 0) { lo = Math.min(lo, col[i]); hi = Math.max(hi, col[i]); }
    }
    const b = this.bounds || { mmin: 16, mmax: 2048 };
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
