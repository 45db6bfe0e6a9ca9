// The current values as text: one table row per run (step, examples, batch size, losses,
// test accuracy, α, speed), for readers who want numbers and for screen readers.
import { el, fmt } from "./dom.js";

const COLUMNS = [
  ["run", (r) => r.label], ["step", (r) => fmt(r.last("step"))], ["examples", (r) => fmt(r.last("examplesSeen"))],
  ["m", (r) => fmt(r.last("batchSize"))], ["next m", (r) => fmt(r.last("nextBatchSize"))],
  ["loss (smoothed)", (r) => fmt(r.smooth[r.length - 1])], ["test acc.", (r) => { const e = r.lastEval(); return e ? `${(100 * e.testAccuracy).toFixed(1)} %` : "–"; }],
  ["α", (r) => fmt(r.last("lr"))], ["ms/step", (r) => (r.length ? fmt(r.last("wallMs") / r.length, 2) : "–")],
];

export class StatsTable {
  constructor(host) {
    this.host = host;
  }

  update(runs, colors) {
    const head = el("tr", {}, COLUMNS.map(([h]) => el("th", { scope: "col", text: h })));
    const rows = runs.map((r, i) =>
      el("tr", {}, COLUMNS.map(([, f], k) => (k === 0
        ? el("th", { scope: "row" }, el("span", { class: "swatch", style: `background:${colors[i % colors.length]}` }), f(r),
          r.diverged != null ? el("span", { class: "diverged", text: ` diverged at step ${r.diverged}` }) : null)
        : el("td", { text: r.length || k === 0 ? f(r) : "–" })))));
    this.host.replaceChildren(el("table", { class: "stats" }, el("caption", { class: "sr-only", text: "current values" }), el("thead", {}, head), el("tbody", {}, rows)));
  }
}
