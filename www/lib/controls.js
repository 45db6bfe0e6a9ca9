// The settings panel: preset, data set, model, rule, α, m_min, m_max, μ, seed, baselines,
// backend, evaluation interval. Each field validates like the URL does and reports a
// change as (key, value); the page decides whether that means a reset (all but α). The
// "Your data" field (lib/userdata.js) sits below the data set select, which shows "your files"
// while the user's own files are loaded.
import { el } from "./dom.js";
import { DATASETS, BACKENDS, PRESETS, parseValue, explain } from "./state.js";

const FIELDS = [
  { key: "data", label: "Data set", options: DATASETS, help: "MNIST digits or a 2-D teaching set" },
  { key: "model", label: "Model", list: ["logreg", "mlp:64", "mlp:256", "mlp:64,32", "mlp:16", "mlp:16,16:tanh", "mlp:32,32:tanh", "cnn-small", "cnn-mnist", "cnn-cifar"], help: "logreg, mlp:H1[,H2…][:tanh], or a CNN for images: cnn-small, cnn-mnist, cnn-cifar" },
  { key: "rule", label: "Rule", list: ["cabs", "const:16", "const:64", "const:64:step:200:0.5", "const:64:invtime:0.01"], help: "cabs, or a fixed batch const:M[:step:EVERY:FACTOR|:invtime:K]" },
  { key: "lr", label: "Learning rate α", type: "number", step: "0.05", min: "0", help: "changes apply live, without a reset" },
  { key: "mmin", label: "m_min", type: "number", step: "1", min: "1", help: "smallest batch CABS may pick" },
  { key: "mmax", label: "m_max", type: "number", step: "1", min: "1", help: "largest batch CABS may pick" },
  { key: "mu", label: "μ (averaging)", type: "number", step: "0.01", min: "0", max: "0.9999", help: "running-average factor of ξ̄ and ℒ̄" },
  { key: "seed", label: "Seed", type: "number", step: "1", min: "0", help: "same seed: same initial weights and data order for every run" },
  { key: "baselines", label: "Baselines", list: ["const:16", "const:16,const:128", "const:64:step:300:0.5", "none"], help: "fixed-batch SGD runs, comma-separated" },
  { key: "backend", label: "Backend", options: BACKENDS, help: "auto: WebGPU on a hardware GPU; on a software one the faster engine, timed at start; without WebGPU the CPU twin" },
  { key: "eval", label: "Evaluate every", type: "number", step: "1", min: "0", help: "steps between test evaluations (0 = automatic)" },
];

/** The data set select's value while the user's own files are loaded (never in the URL). */
const FILES = "files";

export class Controls {
  /** onChange(key, value) for one setting; onPreset(partialState) */
  constructor(host, { onChange, onPreset }) {
    this.inputs = new Map();
    const form = el("form", { class: "controls", "aria-label": "settings", onsubmit: (e) => e.preventDefault() });
    const preset = el("select", { id: "ctl-preset", onchange: () => { const p = PRESETS[Number(preset.value)]; if (p) onPreset(p.state); preset.value = ""; } },
      el("option", { value: "", text: "Choose a preset…" }), PRESETS.map((p, i) => el("option", { value: String(i), text: p.label })));
    form.append(el("div", { class: "field" }, el("label", { for: "ctl-preset", text: "Preset" }), preset));
    for (const f of FIELDS) {
      const id = `ctl-${f.key}`;
      let input;
      if (f.options) input = el("select", { id, name: f.key }, f.options.map((o) => el("option", { value: o, text: o })));
      else {
        input = el("input", { id, name: f.key, type: f.type || "text", step: f.step, min: f.min, max: f.max, spellcheck: "false", autocomplete: "off", list: f.list ? `${id}-list` : undefined });
      }
      const msg = el("span", { class: "field-error", id: `${id}-error`, "aria-live": "polite" });
      input.setAttribute("aria-describedby", `${id}-help ${id}-error`);
      const commit = () => {
        if (f.key === "data" && input.value === FILES) return; // the user's files: chosen in "Your data"
        const v = parseValue(f.key, input.value);
        if (v === undefined) {
          input.setAttribute("aria-invalid", "true");
          msg.textContent = `must be ${explain(f.key)}`;
          return;
        }
        input.removeAttribute("aria-invalid");
        msg.textContent = "";
        if (f.key === "lr") this.syncSlider(v);
        onChange(f.key, v);
      };
      input.addEventListener("change", commit);
      const slider = f.key === "lr" ? this.lrSlider(input, onChange) : null;
      form.append(el("div", { class: "field" },
        el("label", { for: id, text: f.label }), input, slider,
        f.list ? el("datalist", { id: `${id}-list` }, f.list.map((o) => el("option", { value: o }))) : null,
        el("span", { class: "help", id: `${id}-help`, text: f.help }), msg));
      this.inputs.set(f.key, input);
    }
    host.replaceChildren(el("h2", { text: "Settings" }), form);
  }

  /** A log-scale slider for α (0.01–10) next to its number field: drag to change α live. */
  lrSlider(input, onChange) {
    const slider = el("input", { type: "range", min: "-2", max: "1", step: "0.01", "aria-label": "learning rate α, log scale", class: "slider" });
    slider.addEventListener("input", () => {
      const lr = Number((10 ** Number(slider.value)).toPrecision(2));
      input.value = String(lr);
      input.removeAttribute("aria-invalid");
      onChange("lr", lr);
    });
    this.slider = slider;
    return slider;
  }

  /** Show a state's values in the fields. */
  show(state) {
    for (const [key, input] of this.inputs) {
      input.value = key === "baselines" && state[key] === "" ? "none" : String(state[key]);
      input.removeAttribute("aria-invalid");
    }
    this.syncSlider(state.lr);
    this.showUserData(this.userData);
  }

  /**
   * While the user's files are loaded, the data set select shows "your files" (choosing a
   * built-in set from it goes back to that set); `node` (the "Your data" field) goes below it.
   */
  showUserData(on, node) {
    const select = this.inputs.get("data");
    if (node && !node.isConnected) select.closest(".field").after(node);
    this.userData = on;
    let option = select.querySelector(`option[value="${FILES}"]`);
    if (on && !option) select.prepend(option = el("option", { value: FILES, text: "your files" }));
    if (!on) option?.remove();
    if (on) select.value = FILES;
  }

  syncSlider(lr) {
    if (this.slider) this.slider.value = String(Math.log10(lr));
  }
}
