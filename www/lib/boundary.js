// Decision-boundary heat maps for the 2-D data sets (as in TensorFlow Playground): one small
// canvas per run, coloured by the model's class probabilities on a grid, redrawn whenever the
// worker sends new predictions, with the test points drawn on top (white-ringed dots in their
// class colour), so a student sees where the data lie relative to the boundary.
import { el } from "./dom.js";

const CLASS_RGB = [[232, 89, 12], [28, 126, 214], [47, 158, 68], [174, 62, 201]];
const SIZE = 240; // canvas pixels; the probability grid is scaled up smoothly

export class BoundaryMaps {
  constructor(host) {
    this.host = host;
    this.canvases = new Map();
    this.points = null; // {xy: Float32Array, labels: Uint8Array}
    this.field = null; // offscreen canvas holding the n×n probability image
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
      const canvas = el("canvas", { width: SIZE, height: SIZE, role: "img", "aria-label": `decision boundary of ${r.label} with the test points` });
      row.append(el("figure", { class: "map" }, canvas, el("figcaption", { text: r.label })));
      this.canvases.set(r.id, canvas);
    }
    this.host.append(row, el("p", { class: "note", text: "Colour: the predicted class on [−1.6, 1.6]²; paler where the model is unsure. Dots: test points in their true class." }));
  }

  /**
   * Embed mode: size the maps to what the charts leave, box = {width, height} of the view (a
   * column of maps beside the charts in a landscape frame, a row below them in a portrait one;
   * box.portrait, when given, says which);
   * null: the page's fixed size.
   */
  fit(box) {
    const n = this.canvases.size;
    // Row or column as the page's CSS stacks the view (by the frame's orientation when given:
    // a portrait frame stacks charts above maps even where the view itself is wider than tall).
    const row = !!box && (box.portrait ?? box.width < box.height);
    this.host.classList.toggle("row", row);
    let size = "";
    if (box && n > 0) {
      const caption = 22;
      size = !row
        ? Math.floor(Math.min((box.height - 4) / n - caption, box.width * 0.26))
        : Math.floor(Math.min((box.width - 8 * n) / n, box.height * 0.24 - caption));
      size = `${Math.max(48, size)}px`;
    }
    for (const c of this.canvases.values()) { c.style.width = size; c.style.height = size; }
  }

  /** msg: {n, lo, hi, classes, maps: [{run, probs: Float32Array (n·n·classes)}], points?} */
  draw(msg) {
    const { n, classes } = msg;
    if (msg.points) this.points = msg.points;
    if (!this.field || this.field.width !== n) {
      this.field = document.createElement("canvas");
      this.field.width = this.field.height = n;
    }
    for (const { run, probs } of msg.maps) {
      const canvas = this.canvases.get(run);
      if (!canvas) continue;
      const fctx = this.field.getContext("2d");
      const img = fctx.createImageData(n, n);
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
      fctx.putImageData(img, 0, 0);
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.field, 0, 0, SIZE, SIZE);
      this.drawPoints(ctx, msg.lo ?? -1.6, msg.hi ?? 1.6);
    }
  }

  /** Test points over the map; the grid's row 0 is the largest y. */
  drawPoints(ctx, lo, hi) {
    if (!this.points) return;
    const { xy, labels } = this.points;
    const scale = SIZE / (hi - lo);
    ctx.lineWidth = 1;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    for (let i = 0; i < labels.length; i++) {
      const px = (xy[2 * i] - lo) * scale;
      const py = (hi - xy[2 * i + 1]) * scale;
      if (px < 0 || py < 0 || px > SIZE || py > SIZE) continue;
      const c = CLASS_RGB[labels[i] % CLASS_RGB.length];
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.beginPath();
      ctx.arc(px, py, 2.6, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }
}
