// The page's state ⇄ the URL hash. Every setting lives in the hash so that a link reproduces a
// run. The keys, their defaults, limits, help and the presets come from the settings schema
// (lib/settings-schema.js, generated from the engine's src/settings/schema.rs): this module only
// interprets it, with no table of its own. The link is the page's boundary: each key's text is
// checked here once (parseBy) and the state after it is trusted by the page. Parsing is strict:
// a value the schema refuses falls back to its default and is reported (the page shows the list
// as a notice). The engine's own boundary is Trainer.create, which checks the settings object
// once more for what a link cannot know (α in 32-bit floats, rule bounds against mmin/mmax);
// its refusal reaches the page as the worker's "invalid" message. Pure functions, no DOM.
import SCHEMA from "./settings-schema.js";
import { grouped } from "./dom.js";

export { SCHEMA };

/** The schema's entry of `key` (undefined for an unknown key). */
const SPEC = new Map(SCHEMA.keys.map((k) => [k.key, k]));
export const spec = (key) => SPEC.get(key);

/** The URL keys, in the link's order (also the attributes of <cabs-demo>). */
export const KEYS = SCHEMA.keys.filter((k) => k.url).map((k) => k.key);
export const DEFAULTS = Object.freeze(Object.fromEntries(KEYS.map((k) => [k, SPEC.get(k).default])));
/** Parts of the page that `hide=` can switch off. */
export const HIDEABLE = SPEC.get("hide").values;
/** Presets a lecturer can pick from the controls (each a label and a partial state). */
export const PRESETS = SCHEMA.presets;

const NUMBER = new RegExp(SCHEMA.numberSyntax);
const PATTERNS = new Map(SCHEMA.keys.filter((k) => k.type === "text").map((k) => [k.key, new RegExp(k.pattern)]));

/** One value of a key, by the key's type in the schema: string from the URL → value, or undefined. */
function parseBy(k, v) {
  switch (k.type) {
    case "choice":
      return k.values.includes(v) ? v : undefined;
    case "flag":
      return SCHEMA.flagWords.true.includes(v) ? true : SCHEMA.flagWords.false.includes(v) ? false : undefined;
    case "number": {
      if (!NUMBER.test(v)) return undefined;
      const x = Number(v);
      if (!Number.isFinite(x) || (k.integer && !Number.isInteger(x))) return undefined;
      if (k.max != null && x > k.max) return undefined;
      if (k.min != null && (k.exclusiveMin ? x <= k.min : x < k.min)) return undefined;
      return x;
    }
    case "parts": {
      const parts = v.split(",").filter(Boolean);
      return parts.every((p) => k.values.includes(p)) ? parts.join(",") : undefined;
    }
    case "text":
      if (k.empty != null && v === k.empty) return "";
      return PATTERNS.get(k.key).test(v) ? v : undefined;
    default:
      return undefined;
  }
}

/** Shorten a hostile value for display (it is shown with textContent, never as markup). */
const show = (v) => (v.length > 40 ? v.slice(0, 40) + "…" : v);

/**
 * Parse a location hash ("#data=moons&lr=1") into a full state.
 * Returns {state, problems: ["lr='abc' is not a number > 0 …", …]}.
 * A key given more than once: the last one counts (as URLSearchParams.set would leave it), and
 * the notice says so, so that what it names is what trains.
 */
export function parseHash(hash) {
  const state = { ...DEFAULTS };
  const problems = [];
  const text = (hash || "").replace(/^#/, "");
  if (text.length > SCHEMA.maxLinkChars) return { state, problems: ["the link's settings are too long; using the defaults"] };
  let params;
  try {
    params = new URLSearchParams(text);
  } catch {
    return { state, problems: ["the link's settings could not be read; using the defaults"] };
  }
  const last = new Map(); // key → its last raw value, in the order keys first appear
  const count = new Map();
  for (const [key, raw] of params) {
    last.set(key, raw);
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  for (const [key, raw] of last) {
    if (!KEYS.includes(key)) {
      problems.push(`unknown key '${show(key)}' ignored`);
      continue;
    }
    const n = count.get(key);
    const v = parseValue(key, raw);
    if (v === undefined) {
      const which = n > 1 ? ` (the last of ${n})` : "";
      problems.push(`${key}='${show(raw)}'${which} is not ${explain(key)}; using ${key}=${String(DEFAULTS[key])}`);
    } else {
      state[key] = v;
      if (n > 1) problems.push(`${key} is given ${n} times; using the last, ${key}=${show(raw)}`);
    }
  }
  for (const key of KEYS) {
    const other = SPEC.get(key).notAbove;
    if (other && state[key] > state[other]) {
      problems.push(`${key}=${state[key]} is above ${other}=${state[other]}; using the default bounds`);
      state[key] = DEFAULTS[key];
      state[other] = DEFAULTS[other];
    }
  }
  const fit = fitToData(state);
  return { state: fit.state, problems: problems.concat(fit.problems) };
}

/**
 * Training examples of each built-in data set: the schema's `trainSizes` on the data key when it
 * has them, else the engine's sizes (src/data/synthetic.rs TRAIN; the MNIST bundle written by
 * scripts/setup.sh). tests/page/url-state.test.mjs checks them against what the engine reports.
 */
export const TRAIN_SIZES = Object.freeze(SPEC.get("data").trainSizes ?? { mnist: 8000, spirals: 4096, moons: 4096, blobs: 4096 });

const count = grouped;
const CONST = /^const:(\d+)/;

/**
 * Batch sizes the data set cannot give (m_min, m_max or a constant rule's M above its training
 * examples: the engine refuses them) become the set's size, each with a problem naming the value
 * and the one used. A state of unknown data (the user's own files) is returned as is.
 * Returns {state, problems}.
 */
export function fitToData(state) {
  const size = TRAIN_SIZES[state.data];
  const problems = [];
  if (!size) return { state, problems };
  const next = { ...state };
  const why = (k, v) => `${k}=${show(String(v))} asks for more than the ${count(size)} training examples of ${state.data}`;
  for (const key of ["mmin", "mmax"]) {
    if (next[key] > size) {
      problems.push(`${why(key, next[key])}; using ${key}=${size}`);
      next[key] = size;
    }
  }
  const cap = (rule) => rule.replace(CONST, (all, m) => (Number(m) > size ? `const:${size}` : all));
  if (cap(next.rule) !== next.rule) {
    problems.push(`${why("rule", next.rule)}; using rule=${cap(next.rule)}`);
    next.rule = cap(next.rule);
  }
  const baselines = next.baselines ? next.baselines.split(",").map(cap).join(",") : next.baselines;
  if (baselines !== next.baselines) {
    problems.push(`${why("baselines", next.baselines)}; using baselines=${baselines}`);
    next.baselines = baselines;
  }
  return { state: next, problems };
}

const enc = (v) => encodeURIComponent(String(v)).replace(/%3A/gi, ":").replace(/%2C/gi, ",");

/** State → hash text (without '#'). */
export function toHash(state) {
  const parts = [];
  for (const key of KEYS) {
    const k = SPEC.get(key);
    let v = state[key];
    if (!k.always && v === DEFAULTS[key]) continue;
    if (typeof v === "boolean") v = v ? SCHEMA.flagWords.true[0] : SCHEMA.flagWords.false[0];
    if (v === "" && k.empty != null) v = k.empty;
    parts.push(`${key}=${enc(v)}`);
  }
  return parts.join("&");
}

/** The engine settings of one run: the shared settings (the schema's engine keys) with that run's rule. */
export function engineSettings(state, rule) {
  const settings = Object.fromEntries(KEYS.filter((k) => SPEC.get(k).engine).map((k) => [k, state[k]]));
  return { ...settings, rule };
}

/** The runs to train side by side: the main rule first, then the baselines (no duplicates). */
export function runRules(state) {
  const rules = [state.rule];
  for (const b of state.baselines ? state.baselines.split(",") : []) if (!rules.includes(b)) rules.push(b);
  return rules;
}

/** Steps between test evaluations: MNIST evaluation is costly (2,000 digits), 2-D sets cheap. */
export function evalEvery(state) {
  return state.eval > 0 ? state.eval : state.data === "mnist" ? 50 : 20;
}

/** Validate one control's text the way the hash is validated: value, or undefined. */
export function parseValue(key, raw) {
  const k = SPEC.get(key);
  return k?.url ? parseBy(k, String(raw).trim()) : undefined;
}

/** What a valid value of `key` is, in words (shown in the notice and next to a control). */
export const explain = (key) => SPEC.get(key)?.expect;
