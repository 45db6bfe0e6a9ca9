// "Your data": the user's own data files (IDX image/label files or CIFAR-10 binary batches),
// chosen with a file picker or dropped on the page. It owns the chosen File handles only; it
// does not parse them (the engine does, in the worker) and never sends them anywhere but to the
// training worker. Files are re-read for every run set, because a reset terminates the worker
// that the previous ArrayBuffers were transferred to.
import { el, grouped } from "./dom.js";

/** What the file picker offers first; any file can still be chosen or dropped. */
/** More than this cannot become a data set inside the browser's 4 GiB wasm memory (one copy per run). */
const MAX_BYTES = 1024 ** 3;

const mb = (bytes) => (bytes < 1e6 ? `${Math.max(1, Math.round(bytes / 1e3))} kB` : `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`);

export class UserData {
  /** onChange(): the loaded files changed (chosen, replaced or dropped); the page resets. */
  constructor({ onChange }) {
    this.files = []; // File handles, in the order chosen
    this.onChange = onChange;
    this.input = el("input", { id: "ctl-files", type: "file", multiple: true, "aria-describedby": "ctl-files-help ctl-files-status" });
    this.input.addEventListener("change", () => {
      const chosen = [...(this.input.files || [])];
      if (chosen.length) this.use(chosen); // (the same files again fire no change: Reset re-reads them)
    });
    this.status = el("p", { id: "ctl-files-status", class: "note", "aria-live": "polite" });
    this.linkNote = el("p", { id: "ctl-files-link", class: "note link-note", hidden: true,
      text: "A link cannot carry your files: the address keeps the built-in data set, so a shared link trains on that." });
    this.builtin = el("button", { id: "ctl-builtin", type: "button", text: "Use built-in data", hidden: true, onclick: () => this.clear() });
    this.zone = el("div", { class: "dropzone", id: "ctl-files-zone" },
      el("label", { for: "ctl-files", text: "Your data" }), this.input,
      el("span", { class: "help", text: "or drop the files here (anywhere on the page works too)" }));
    this.node = el("div", { class: "field userdata" }, this.zone,
      el("span", { class: "help", id: "ctl-files-help", text: "IDX files (MNIST, Fashion-MNIST) or CIFAR-10 binary batches; they stay in your browser." }),
      this.status, this.linkNote, this.builtin);
    this.refresh();
  }

  get loaded() { return this.files.length > 0; }

  /** Accept files dropped anywhere on the page (unless the settings panel is hidden). */
  listen(target, enabled = () => true) {
    const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
    let depth = 0; // dragenter/dragleave fire for every child crossed
    const over = (on) => { this.zone.classList.toggle("dragging", on); document.body.classList.toggle("dragging-files", on); };
    target.addEventListener("dragenter", (e) => { if (hasFiles(e) && enabled()) { depth++; over(true); } });
    target.addEventListener("dragleave", (e) => { if (hasFiles(e) && --depth <= 0) { depth = 0; over(false); } });
    target.addEventListener("dragover", (e) => {
      if (!hasFiles(e) || !enabled()) return;
      e.preventDefault(); // allows the drop
      e.dataTransfer.dropEffect = "copy";
    });
    target.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault(); // never let the browser navigate to a dropped file
      depth = 0;
      over(false);
      const dropped = [...(e.dataTransfer.files || [])];
      if (!enabled() || !dropped.length) return;
      try { this.input.files = e.dataTransfer.files; } catch { this.input.value = ""; } // the picker names them too
      this.use(dropped);
    });
  }

  use(files) {
    const total = files.reduce((s, f) => s + f.size, 0);
    if (total > MAX_BYTES) {
      this.status.textContent = `These files are ${mb(total)} together; the demo trains on at most ${mb(MAX_BYTES)} of files in the browser.`;
      this.input.value = "";
      return;
    }
    this.files = files;
    this.refresh();
    this.onChange();
  }

  /** Drop the files (back to built-in data); notify=false when the caller resets anyway. */
  clear(notify = true) {
    if (!this.loaded) return;
    this.files = [];
    this.input.value = "";
    this.refresh();
    if (notify) this.onChange();
  }

  /** Short description for the status line and the backend note: "2 files (9.9 MB): a, b". */
  describe() {
    const total = this.files.reduce((s, f) => s + f.size, 0);
    const names = this.files.map((f) => f.name).join(", ");
    return `${this.files.length} file${this.files.length === 1 ? "" : "s"} (${mb(total)}): ${names}`;
  }

  refresh(info = null) {
    this.builtin.hidden = !this.loaded;
    this.linkNote.hidden = !this.loaded;
    if (!this.loaded) { this.status.textContent = ""; return; }
    const sizes = info ? ` · ${datasetLine(info)}` : "";
    this.status.textContent = `Training on your ${this.describe()}${sizes}`;
  }

  /** The files as [{name, bytes: ArrayBuffer}] for the worker (each buffer to be transferred). */
  async read() {
    return Promise.all(this.files.map(async (f) => {
      try {
        return { name: f.name, bytes: await f.arrayBuffer() };
      } catch (err) {
        throw new Error(`${f.name} could not be read (${err.message || err.name}); choose it again`);
      }
    }));
  }
}

/** "IDX: 500 training and 100 test examples, 784 inputs, 10 classes" from trainer.info(). */
export function datasetLine(info) {
  const name = { idx: "IDX", cifar10: "CIFAR-10" }[info.dataset] || String(info.dataset);
  const n = (v) => grouped(Number(v));
  return `${name}: ${n(info.trainSize)} training and ${n(info.testSize)} test examples, ${n(info.inputDim)} inputs, ${info.classes} classes`;
}
