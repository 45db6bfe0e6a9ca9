// Decision-boundary heat maps for the 2-D data sets (as in TensorFlow Playground): one small
// canvas per run, coloured by the model's class probabilities on a grid, redrawn whenever the
// worker sends new predictions.
import { el } from "./dom.js";

const CLASS_RGB = [[232, 89, 12], [28, 126, 214], [47, 158, 68], [174, 62, 201]];

export class BoundaryMaps {
  constructor(host) {
    this.host = host;
    this.canvases = new Map();
  }

  /** One canvas per live run; `runs` = [{id, label}] (empty hides the panel). */
  setRuns(runs) {
    this.host.replaceChildren();
    this.canvases.clear();
    this.host.hidden = runs.length === 0;
    if (runs.length === 0) return;
    this.host.append(el("h2", { text: "Decision boundary" }));
    const row = el("div", { class: "maps" });
    for (const r of runs) {
      const canvas = el("canvas", { width: 64, height: 64, role: "img", "aria-label": `decision boundary of ${r.label}` });
      row.append(el("figure", { class: "map" }, canvas, el("figcaption", { text: r.label })));
      this.canvases.set(r.id, canvas);
    }
    this.host.append(row, el("p", { class: "note", text: "Colour: the predicted class on [−1.6, 1.6]²; paler where the model is unsure." }));
  }

  /** msg: {n, classes, maps: [{run, probs: Float32Array (n·n·classes)}]} */
  draw(msg) {
    const { n, classes } = msg;
    for (const { run, probs } of msg.maps) {
      const canvas = this.canvases.get(run);
      if (!canvas) continue;
      if (canvas.width !== n) canvas.width = canvas.height = n;
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(n, n);
      for (let p = 0; p < n * n; p++) {
        let r = 0, g = 0, b = 0, top = 0;
        for (let k = 0; k < classes; k++) {
          const q = probs[p * classes + k];
          const c = CLASS_RGB[k % CLASS_RGB.length];
          r += q * c[0]; g += q * c[1]; b += q * c[2];
          if (q > top) top = q;
        }
        const conf = Math.max(0, Math.min(1, (top - 1 / classes) / (1 - 1 / classes)));
        const a = 0.25 + 0.75 * conf; // blend toward white when unsure
        img.data[4 * p] = 255 - a * (255 - r);
        img.data[4 * p + 1] = 255 - a * (255 - g);
        img.data[4 * p + 2] = 255 - a * (255 - b);
        img.data[4 * p + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    }
  }
}
