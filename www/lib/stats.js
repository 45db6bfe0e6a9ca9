// The current values as text: one table row per run (step, examples, batch size, losses,
// test accuracy, α, speed), for readers who want numbers and for screen readers. On a narrow
// screen the secondary columns (class "minor") give way, so test accuracy is never scrolled out
// of sight.
import { el, fmt } from "./dom.js";

/** [header, value of a run, minor: may be left out on a narrow screen] */
const COLUMNS = [
  ["run", (r) => r.label], ["step", (r) => fmt(r.last("step"))], ["examples", (r) => fmt(r.last("examplesSeen")), true],
  ["m", (r) => fmt(r.last("batchSize"))], ["next m", (r) => fmt(r.last("nextBatchSize")), true],
  ["loss (smoothed)", (r) => fmt(r.last("smooth"))], ["test acc.", (r) => { const e = r.lastEval(); return e ? `${(100 * e.testAccuracy).toFixed(1)} %` : "–"; }],
  ["α", (r) => fmt(r.last("lr")), true], ["ms/step", (r) => (r.length ? fmt(r.last("wallMs") / r.length, 2) : "–"), true],
];

export class StatsTable {
  constructor(host) {
    this.host = host;
  }

  update(runs, colors) {
    // The same runs as last time: only the cells' texts change (no new nodes 5 times a second).
    const shape = runs.map((r, i) => `${r.label}|${r.diverged}|${colors[i % colors.length]}`).join("\n");
    if (shape === this.shape && this.cells) {
      runs.forEach((r, i) => COLUMNS.forEach(([, f], k) => {
        if (k === 0) return;
        const text = r.length ? f(r) : "–";
        const td = this.cells[i][k];
        if (td.textContent !== text) td.textContent = text;
      }));
      return;
    }
    this.shape = shape;
    const cls = (minor) => (minor ? "minor" : undefined);
    const head = el("tr", {}, COLUMNS.map(([h, , minor]) => el("th", { scope: "col", class: cls(minor), text: h })));
    this.cells = runs.map((r, i) => COLUMNS.map(([, f, minor], k) => (k === 0
      ? el("th", { scope: "row" }, el("span", { class: "swatch", style: `background:${colors[i % colors.length]}` }), f(r),
        r.diverged != null ? el("span", { class: "diverged", text: ` diverged at step ${r.diverged}` }) : null)
      : el("td", { class: cls(minor), text: r.length ? f(r) : "–" }))));
    const rows = this.cells.map((cells) => el("tr", {}, cells));
    this.host.replaceChildren(el("table", { class: "stats" }, el("caption", { class: "sr-only", text: "current values" }), el("thead", {}, head), el("tbody", {}, rows)));
  }
}
