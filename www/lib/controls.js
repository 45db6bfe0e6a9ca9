// The settings panel: preset, then one field per key of the settings schema that has a control
// (data set, model, rule, α, m_min, m_max, μ, seed, baselines, backend, evaluation interval),
// with the schema's labels, help and limits. Each field validates like the URL does and reports a
// change as (key, value); the page decides whether that means a reset (all but the schema's
// `live` keys: α). The
// "Your data" field (lib/userdata.js) sits below the data set select, which shows "your files"
// while the user's own files are loaded.
import { el, breakable } from "./dom.js";
import { SCHEMA, PRESETS, parseValue, explain } from "./state.js";

/** The settings panel's fields: the schema's keys that have a control, in its order. */
const FIELDS = SCHEMA.keys.filter((k) => k.control).map((k) => ({
  key: k.key, label: k.control.label, help: k.help, list: k.control.suggestions,
  options: k.type === "choice" ? k.values : undefined,
  type: k.type === "number" ? "number" : "text", step: k.control.step, live: k.live,
  min: k.type === "number" && k.min != null ? String(k.min) : undefined,
  max: k.type === "number" && k.max != null ? String(k.max) : undefined,
}));

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
        if (f.live) this.syncSlider(v);
        onChange(f.key, v);
      };
      input.addEventListener("change", commit);
      // A live number gets a slider to drag (α, the one live key, on its log scale).
      const slider = f.live && f.type === "number" ? this.liveSlider(f.key, input, onChange) : null;
      form.append(el("div", { class: "field" },
        el("label", { for: id, text: f.label }), input, slider,
        f.list ? el("datalist", { id: `${id}-list` }, f.list.map((o) => el("option", { value: o }))) : null,
        el("span", { class: "help", id: `${id}-help` }, breakable(f.help)), msg));
      this.inputs.set(f.key, input);
    }
    host.replaceChildren(el("h2", { text: "Settings" }), form);
  }

  /** A log-scale slider (0.01–10, α's range) next to a live key's number field: drag to change it live. */
  liveSlider(key, input, onChange) {
    const slider = el("input", { type: "range", min: "-2", max: "1", step: "0.01", "aria-label": "learning rate α, log scale", class: "slider" });
    slider.addEventListener("input", () => {
      const lr = Number((10 ** Number(slider.value)).toPrecision(2));
      input.value = String(lr);
      input.removeAttribute("aria-invalid");
      onChange(key, lr);
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
