// The page's state ⇄ the URL hash. Every setting lives in the hash so that a link reproduces a
// run. Parsing is strict: each key has a validator; a value that fails falls back to its default
// and is reported (the page shows the list as a notice). Pure functions, no DOM.

export const DATASETS = ["mnist", "spirals", "moons", "blobs"];
export const BACKENDS = ["auto", "gpu", "cpu"];
export const XAXES = ["step", "examples", "seconds"];
/** Parts of the page that `hide=` can switch off. */
export const HIDEABLE = ["header", "controls", "stats", "bar", "boundary", "loss", "accuracy", "batch", "terms", "noise", "notes"];

export const DEFAULTS = Object.freeze({
  data: "mnist", model: "mlp:256", rule: "cabs", lr: 0.5, mmin: 16, mmax: 2048, mu: 0.95, seed: 1,
  baselines: "const:16", backend: "auto", eval: 0, x: "examples", embed: false, hide: "", play: false, autopause: true,
});

/** Keys always written to the hash (the run's identity); the others only when not default. */
const ALWAYS = ["data", "model", "rule", "lr", "mmin", "mmax", "mu", "seed", "baselines"];

/** Limits that keep a hostile link from asking the browser for gigabytes. */
export const LIMITS = { maxWidth: 2048, maxLayers: 4, maxBatch: 8192, maxBaselines: 4, maxEvalEvery: 100000 };

const MODEL_RE = /^(logreg|mlp:\d{1,5}(,\d{1,5}){0,3}(:(relu|tanh))?|cnn-small|cnn-mnist|cnn-cifar)$/;
/** The convolutional models (image data only; see README "Models"). */
export const CNN_MODELS = ["cnn-small", "cnn-mnist", "cnn-cifar"];
const CONST_RE = /^const:\d{1,5}(:step:\d{1,7}:\d{0,6}(\.\d{1,8})?|:invtime:\d{0,6}(\.\d{1,8})?([eE]-?\d{1,2})?)?$/;

function num(v, { min = -Infinity, max = Infinity, int = false, open = false } = {}) {
  if (typeof v !== "string" || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v.trim())) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || (int && !Number.isInteger(x))) return undefined;
  if (x > max || (open ? x <= min : x < min)) return undefined;
  return x;
}

function constRule(v) {
  if (!CONST_RE.test(v)) return undefined;
  const m = Number(v.split(":")[1]);
  return m >= 1 && m <= LIMITS.maxBatch ? v : undefined;
}

/** One validator per key: string from the URL → value, or undefined when invalid. */
const PARSERS = {
  data: (v) => (DATASETS.includes(v) ? v : undefined),
  model: (v) => {
    if (!MODEL_RE.test(v)) return undefined;
    const widths = v.startsWith("mlp:") ? v.split(":")[1].split(",").map(Number) : [];
    return widths.every((w) => w >= 1 && w <= LIMITS.maxWidth) && widths.length <= LIMITS.maxLayers ? v : undefined;
  },
  rule: (v) => (v === "cabs" ? v : constRule(v)),
  lr: (v) => num(v, { min: 0, max: 100, open: true }),
  mmin: (v) => num(v, { min: 1, max: LIMITS.maxBatch, int: true }),
  mmax: (v) => num(v, { min: 1, max: LIMITS.maxBatch, int: true }),
  mu: (v) => num(v, { min: 0, max: 0.9999 }),
  seed: (v) => num(v, { min: 0, max: 2 ** 32 - 1, int: true }),
  baselines: (v) => {
    if (v === "" || v === "none") return "";
    const parts = v.split(",");
    if (parts.length > LIMITS.maxBaselines || !parts.every(constRule)) return undefined;
    return parts.join(",");
  },
  backend: (v) => (BACKENDS.includes(v) ? v : undefined),
  eval: (v) => num(v, { min: 0, max: LIMITS.maxEvalEvery, int: true }),
  x: (v) => (XAXES.includes(v) ? v : undefined),
  embed: (v) => (v === "1" || v === "true" ? true : v === "0" || v === "false" ? false : undefined),
  play: (v) => (v === "1" || v === "true" ? true : v === "0" || v === "false" ? false : undefined),
  autopause: (v) => (v === "1" || v === "true" ? true : v === "0" || v === "false" ? false : undefined),
  hide: (v) => {
    const parts = v.split(",").filter(Boolean);
    return parts.every((p) => HIDEABLE.includes(p)) ? parts.join(",") : undefined;
  },
};
export const KEYS = Object.keys(PARSERS);

/** Why a value was refused, in words (shown in the notice). */
const RULES_TEXT = {
  data: `one of ${DATASETS.join(", ")}`, model: `logreg, mlp:H1[,H2…][:tanh] (widths 1–${LIMITS.maxWidth}, at most ${LIMITS.maxLayers} layers), or one of ${CNN_MODELS.join(", ")}`,
  rule: "cabs, const:M, const:M:step:EVERY:FACTOR or const:M:invtime:K", lr: "a number > 0 and ≤ 100",
  mmin: `a whole number 1–${LIMITS.maxBatch}`, mmax: `a whole number 1–${LIMITS.maxBatch}, not below mmin`, mu: "a number in [0, 1)",
  seed: "a whole number 0–4294967295", baselines: `up to ${LIMITS.maxBaselines} const:… rules separated by commas, or none`,
  backend: BACKENDS.join(", "), eval: "a whole number of steps (0 = automatic)", x: XAXES.join(", "), embed: "0 or 1", play: "0 or 1", autopause: "0 or 1",
  hide: HIDEABLE.join(", "),
};

/** Shorten a hostile value for display (it is shown with textContent, never as markup). */
const show = (v) => (v.length > 40 ? v.slice(0, 40) + "…" : v);

/**
 * Parse a location hash ("#data=moons&lr=1") into a full state.
 * Returns {state, problems: ["lr='abc' is not a number > 0 …", …]}.
 */
export function parseHash(hash) {
  const state = { ...DEFAULTS };
  const problems = [];
  const text = (hash || "").replace(/^#/, "");
  if (text.length > 2000) return { state, problems: ["the link's settings are too long; using the defaults"] };
  let params;
  try {
    params = new URLSearchParams(text);
  } catch {
    return { state, problems: ["the link's settings could not be read; using the defaults"] };
  }
  for (const [key, raw] of params) {
    if (!Object.hasOwn(PARSERS, key)) {
      problems.push(`unknown key '${show(key)}' ignored`);
      continue;
    }
    const v = PARSERS[key](raw.trim());
    if (v === undefined) problems.push(`${key}='${show(raw)}' is not ${RULES_TEXT[key]}; using ${key}=${String(DEFAULTS[key])}`);
    else state[key] = v;
  }
  if (state.mmin > state.mmax) {
    problems.push(`mmin=${state.mmin} is above mmax=${state.mmax}; using the default bounds`);
    state.mmin = DEFAULTS.mmin;
    state.mmax = DEFAULTS.mmax;
  }
  return { state, problems };
}

const enc = (v) => encodeURIComponent(String(v)).replace(/%3A/gi, ":").replace(/%2C/gi, ",");

/** State → hash text (without '#'). */
export function toHash(state) {
  const parts = [];
  for (const key of KEYS) {
    let v = state[key];
    if (!ALWAYS.includes(key) && v === DEFAULTS[key]) continue;
    if (typeof v === "boolean") v = v ? 1 : 0;
    if (key === "baselines" && v === "") v = "none";
    parts.push(`${key}=${enc(v)}`);
  }
  return parts.join("&");
}

/** The engine settings of one run: the shared settings with that run's rule. */
export function engineSettings(state, rule) {
  return { data: state.data, model: state.model, rule, lr: state.lr, mmin: state.mmin, mmax: state.mmax, mu: state.mu, seed: state.seed, backend: state.backend };
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

/** Presets a lecturer can pick from the controls (each a partial state). */
export const PRESETS = [
  { label: "MNIST · MLP 256 · α 0.5 (default)", state: { data: "mnist", model: "mlp:256", mmax: 2048, lr: 0.5, mu: 0.95, baselines: "const:16" } },
  { label: "MNIST · CABS vs m = 16 and m = 128", state: { data: "mnist", model: "mlp:256", mmax: 2048, lr: 0.5, mu: 0.95, baselines: "const:16,const:128" } },
  { label: "MNIST · α = 0.1 (batch stays small)", state: { data: "mnist", model: "mlp:256", mmax: 2048, lr: 0.1, mu: 0.95, baselines: "const:16" } },
  { label: "MNIST · small CNN (cnn-small) · α 0.3", state: { data: "mnist", model: "cnn-small", mmax: 2048, lr: 0.3, mu: 0.95, baselines: "const:16" } },
  { label: "MNIST · the paper's CNN (cnn-mnist) · α 0.1 · needs a GPU", state: { data: "mnist", model: "cnn-mnist", lr: 0.1, mu: 0.95, mmax: 1024, baselines: "none" } },
  { label: "Blobs · fast, batch grows in seconds", state: { data: "blobs", model: "mlp:16", mmax: 2048, lr: 4, mu: 0.9, baselines: "const:16" } },
  { label: "Moons · tanh MLP", state: { data: "moons", model: "mlp:16,16:tanh", mmax: 2048, lr: 2, mu: 0.9, baselines: "const:16" } },
  { label: "Spirals · MLP 32,32 (hard)", state: { data: "spirals", model: "mlp:32,32:tanh", mmax: 2048, lr: 1, mu: 0.95, baselines: "const:16" } },
];

/** Validate one control's text the way the hash is validated: value, or undefined. */
export function parseValue(key, raw) {
  return Object.hasOwn(PARSERS, key) ? PARSERS[key](String(raw).trim()) : undefined;
}
export const explain = (key) => RULES_TEXT[key];
