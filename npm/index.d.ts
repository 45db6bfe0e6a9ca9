// Type declarations of the engine (pkg/cabs.js, made by wasm-bindgen from src/wasm.rs), written
// by hand: wasm-bindgen's own output types every object as `any`. Keep in step with src/wasm.rs.

/** Where the kernels run: `auto` tries WebGPU and falls back to the CPU twin. */
export type BackendChoice = "auto" | "gpu" | "cpu";
/** Built-in data sets (`mnist` needs the bytes of data/mnist.bin). */
export type Dataset = "mnist" | "spirals" | "moons" | "blobs";

/**
 * A batch-size rule (docs/METHOD.md): CABS, a fixed batch (optionally with a decay of α), or an
 * adaptive rule from the literature — the norm test `norm:THETA`, the inner-product test
 * `inner:THETA`, the gradient noise scale `gns[:K]`, `adadamp:M0`, the growth schedule
 * `grow:M0:EVERY:FACTOR` (EVERY in examples, FACTOR ≥ 1). θ and K are > 0; M0 lies within
 * [mmin, mmax]. The engine checks the values (`checkSettings`).
 */
export type Rule =
  | "cabs"
  | `const:${number}`
  | `const:${number}:step:${number}:${number}`
  | `const:${number}:invtime:${number}`
  | `norm:${number}`
  | `inner:${number}`
  | "gns"
  | `gns:${number}`
  | `adadamp:${number}`
  | `grow:${number}:${number}:${number}`;

/** Settings of one run; missing keys take the engine's defaults (see `checkSettings`). */
export interface Settings {
  data?: Dataset;
  /** `logreg`, `mlp:H1[,H2…][:relu|tanh]`, or for images `cnn-small`, `cnn-mnist`, `cnn-cifar`. */
  model?: string;
  /** The batch-size rule; see {@link Rule}. */
  rule?: Rule;
  /** Learning rate α > 0. */
  lr?: number;
  /** The adaptive rules' clip bounds of the batch size. */
  mmin?: number;
  mmax?: number;
  /** Running-average factor μ ∈ [0, 1). */
  mu?: number;
  c?: number;
  eps?: number;
  unbiased?: boolean;
  biasCorrection?: boolean;
  /** Initial weights and data order. */
  seed?: number;
  backend?: BackendChoice;
  /** How per-example norms of convolution filters are computed (CNNs only). */
  convNorms?: "exact" | "both" | "reference";
}

// <record-schema> generated from src/record.rs — do not edit; CABS_BLESS=1 cargo test --release --test cli record_schema
/** One step's statistics, resolved by `Trainer.step()` (generated from src/record.rs). */
export interface StepResult {
  /** 1-based index of this step. */
  step: number;
  /** Training examples processed so far, this step included, in examples. */
  examplesSeen: number;
  /** Passes over the training set completed before this step's batch. */
  epoch: number;
  /** Size of this step's batch, in examples. */
  batchSize: number;
  /** Size the rule chose for the next batch, in examples. */
  nextBatchSize: number;
  /** The rule's size before rounding and clipping (constant rules: the constant), in examples. */
  mRaw: number;
  /** Mean cross-entropy of this batch at the pre-update weights, in nats. */
  loss: number;
  /** Running average of the loss used by the rule, in nats. */
  lossAvg: number;
  /** Ξ, the gradient variance (trace of the per-example gradients' covariance) of this batch. */
  xi: number;
  /** Running average of ξ used by the rule. */
  xiAvg: number;
  /** ‖ḡ‖², the squared norm of the batch's mean gradient. */
  gradNormSq: number;
  /** Gradient noise scale B_simple = ξ / ‖ḡ‖², in examples. */
  noiseScale: number;
  /** Α used for this step's update. */
  lr: number;
  /** Fraction of this batch classified correctly before the update. */
  batchAccuracy: number;
  /** Σᵢ ‖gᵢ‖² over the batch's per-example gradients. */
  sumSqNorms: number;
  /** The convolution tensors' share of ξ, exact (only with --conv-norms both). */
  convXiExact: number | null;
  /** The same share by the reference code's approximation (only with --conv-norms both). */
  convXiApprox: number | null;
  /** The engine that ran this step: cpu or gpu (a run can move between them). */
  engine: "cpu" | "gpu";
  /** Var_i(g_iᵀḡ): the sample variance over the batch of the per-example inner products with the batch's mean gradient (only for rules that read it: inner:THETA). */
  innerProductVar: number | null;
}
/** A step record for `csvRow`: a step's result plus the evaluation and wall time; any field may be missing or null. */
export interface CsvRecord {
  /** 1-based index of this step. */
  step?: number | null;
  /** Training examples processed so far, this step included, in examples. */
  examplesSeen?: number | null;
  /** Size of this step's batch, in examples. */
  batchSize?: number | null;
  /** Size the rule chose for the next batch, in examples. */
  nextBatchSize?: number | null;
  /** The rule's size before rounding and clipping (constant rules: the constant), in examples. */
  mRaw?: number | null;
  /** Mean cross-entropy of this batch at the pre-update weights, in nats. */
  loss?: number | null;
  /** Running average of the loss used by the rule, in nats. */
  lossAvg?: number | null;
  /** Ξ, the gradient variance (trace of the per-example gradients' covariance) of this batch. */
  xi?: number | null;
  /** Running average of ξ used by the rule. */
  xiAvg?: number | null;
  /** ‖ḡ‖², the squared norm of the batch's mean gradient. */
  gradNormSq?: number | null;
  /** Gradient noise scale B_simple = ξ / ‖ḡ‖², in examples. */
  noiseScale?: number | null;
  /** Α used for this step's update. */
  lr?: number | null;
  /** Mean cross-entropy on the test set after this step (evaluated steps only), in nats. */
  testLoss?: number | null;
  /** Fraction of the test set classified correctly after this step (evaluated steps only). */
  testAccuracy?: number | null;
  /** The run's time from its start to the end of this step, in ms. */
  wallMs?: number | null;
  /** The convolution tensors' share of ξ, exact (only with --conv-norms both). */
  convXiExact?: number | null;
  /** The same share by the reference code's approximation (only with --conv-norms both). */
  convXiApprox?: number | null;
  /** The engine that ran this step: cpu or gpu (a run can move between them). */
  engine?: "cpu" | "gpu" | null;
  /** Var_i(g_iᵀḡ): the sample variance over the batch of the per-example inner products with the batch's mean gradient (only for rules that read it: inner:THETA). */
  innerProductVar?: number | null;
}
// </record-schema>

/** Test loss and accuracy at the current weights, resolved by `Trainer.evaluate()`. */
export interface EvalResult {
  step: number;
  testLoss: number;
  testAccuracy: number;
}

export interface AdapterSummary {
  name: string;
  backend: string;
  deviceType: string;
  driver: string;
}

/** What runs the kernels, from `Trainer.backend()`. */
export interface BackendInfo {
  kind: "gpu" | "cpu";
  adapter: AdapterSummary | null;
  /** Why the CPU is used although `auto` asked for the GPU. */
  fallbackReason: string | null;
  dispatchesPerStep: number;
  /** How the engine was chosen; with `auto` on a software adapter, both engines' timings. */
  choice: BackendChoiceInfo;
}

/** How `Trainer.backend()`'s engine was chosen. */
export interface BackendChoiceInfo {
  requested: "auto" | "gpu" | "cpu";
  /** "forced" (gpu/cpu asked for), "no gpu", "hardware adapter", "software adapter" (CPU engine unavailable) or "measured". */
  how: string;
  /** One sentence, e.g. "software adapter …: CPU 4.1 ms/step vs GPU 96 ms/step at m = 16". */
  reason: string;
  /** `auto`'s start-up timings on a software adapter (when `how` is "measured"). */
  trial: { batch: number; steps: number; cpuMsPerStep: number; gpuMsPerStep: number; totalMs: number } | null;
}

/** The model and data set, from `Trainer.info()`. */
export interface DataInfo {
  inputDim: number;
  classes: number;
  paramCount: number;
  dataset: string;
  trainSize: number;
  testSize: number;
}

export interface KernelTime {
  kernel: string;
  ms: number;
}

/** The caller's evaluation schedule carried in a run state (`Trainer.exportState`): evaluate
 *  every `every` steps, next after step `nextStep`. Whole numbers; `every` at least 1. */
export interface EvalSchedule {
  every: number;
  nextStep: number;
}

/** From `Trainer.engines()`: the steps after `fromStep` ran on `engine`. */
export interface EngineSpan {
  fromStep: number;
  engine: "cpu" | "gpu";
}

/** One of the user's files for `Trainer.createWithFiles` (IDX, gzip'd IDX or CIFAR-10 batches). */
export interface UserFile {
  name: string;
  bytes: Uint8Array;
}

/**
 * The rejection of `step()` when the loss or a statistic stopped being finite. Engines that do
 * not name their errors yet reject with a plain Error whose message starts "training diverged at
 * step N"; test for both (`err.name === "DivergedError"` or that message).
 */
export interface DivergedError extends Error {
  name: "DivergedError";
  /** The step that diverged (1-based). */
  step: number;
}

/**
 * The rejection of `Trainer.create`, `createWithFiles` and `createFromState` (and the throw of
 * `checkSettings`) when a value of the settings object cannot work: the settings are checked
 * once, before any work, and the message quotes the first bad value. `invalidSettings` tells it
 * from a `ConfigError` of the run itself (e.g. a batch larger than the data set): change a
 * setting, not the data or the machine.
 */
export interface InvalidSettingsError extends Error {
  name: "ConfigError";
  invalidSettings: true;
}

/**
 * The `name` of every error the engine throws or rejects with: `ConfigError`, `DataError`,
 * `GpuError`, `DivergedError` (with `step`), `IoError`; `TypeError` for an argument of the wrong
 * type, a method called on something that is not a live Trainer (freed, foreign, or its
 * `__wbg_ptr` changed), or a result that could not be handed to JavaScript (the trainer still
 * works); `RangeError` for a numeric argument out of range. Messages quote the value given.
 */
export type CabsErrorName = "ConfigError" | "DataError" | "GpuError" | "DivergedError" | "IoError" | "TypeError" | "RangeError";

/** A training run. One call at a time: await each promise before the next call. */
export class Trainer {
  private constructor();
  /** Release the run's memory (GPU buffers included). Again on a freed trainer: does nothing.
   *  Afterwards every other method throws a `TypeError`. Where `Symbol.dispose` exists, the
   *  trainer's `[Symbol.dispose]()` is the same function (for `using`). */
  free(): void;
  /** `mnist`: the bytes of data/mnist.bin, needed when `settings.data` is `"mnist"`. */
  static create(settings?: Settings | null, mnist?: Uint8Array | null): Promise<Trainer>;
  /** A run on the user's own files; `settings.data` is ignored. */
  static createWithFiles(settings: Settings | null | undefined, files: UserFile[]): Promise<Trainer>;
  /** A trainer that continues the run in `state` (bytes of `exportState`) on the engine
   *  `settings.backend` picks ("cpu" or "gpu"). `settings` and `mnist` are as for `create` and
   *  must describe the state's run: another run's state rejects with a `ConfigError` naming
   *  every difference (`backend`, `chunk` and `lr` may differ); a damaged, empty or foreign
   *  file with a `DataError`; a non-`Uint8Array` with a `TypeError`. */
  static createFromState(settings: Settings | null | undefined, state: Uint8Array, mnist?: Uint8Array | null): Promise<Trainer>;
  /** One SGD step; rejects with a `DivergedError` when the run diverged, or a `TypeError` when
   *  the step was taken but its result could not be delivered (the next step works). */
  step(): Promise<StepResult>;
  evaluate(): Promise<EvalResult>;
  /** Change α without resetting. Throws a `TypeError` when `lr` is not a number, a `RangeError`
   *  when it is not positive, finite and normal in 32-bit floats. */
  setLearningRate(lr: number): void;
  backend(): BackendInfo;
  /** Class probabilities: `classes` values per point of `points` (`inputDim` values each). */
  predict(points: Float32Array): Promise<Float32Array>;
  /** Up to `max` test points of a 2-D data set: [x,y pairs, labels]. `max` is a whole number
   *  from 0 to 4294967295: a `RangeError` otherwise, a `TypeError` for a non-number (no coercion). */
  testPoints(max: number): [Float32Array, Uint8Array];
  info(): DataInfo;
  /** GPU time of each kernel of one step, or null on the CPU engine. */
  profileStep(): Promise<KernelTime[] | null>;
  stepsDone(): number;
  /** The run's state after the last finished step, as bytes for `importState` or
   *  `createFromState` on either engine; `evalSchedule`, optional, is carried in them (a
   *  `TypeError`/`RangeError` quoting a value that is not a whole number in range). Rejects
   *  with a `ConfigError` "still running" while a step runs. */
  exportState(evalSchedule?: EvalSchedule | null): Promise<Uint8Array>;
  /** Continue from `state` (bytes of `exportState`, either engine) between two steps. Rejects
   *  with a `ConfigError` for another run's state or while a step runs, a `DataError` for a
   *  damaged, empty or detached one; the trainer is unchanged by a refusal. */
  importState(state: Uint8Array): Promise<void>;
  /** The engines the run has used, oldest first: e.g. `[{fromStep: 0, engine: "cpu"},
   *  {fromStep: 212, engine: "gpu"}]` for a run moved to WebGPU after step 212. */
  engines(): EngineSpan[];
}

/** What your page found when it asked the browser for a WebGPU adapter itself: `false` (none)
 *  spares the engine asking again (≈ 5 ms of a `Trainer.create` with `backend: "auto"` in Chromium)
 *  before it falls back to the CPU engine with the same reason; `true` lets it ask as usual.
 *  A TypeError for anything but a boolean. */
export function noteBrowserAdapter(present: boolean): void;
/** The CSV header shared with the native runner (`cabs train --csv`). */
export function csvHeader(): string;
/** One CSV row under `csvHeader()`, formatted by the same code as `cabs train --csv`; missing, null and non-finite values are empty cells. */
export function csvRow(record: CsvRecord): string;
/** One key of the settings schema. */
export interface SettingsKey {
  key: string;
  /** An engine setting (`Trainer.create`) and/or a URL key of the page. */
  engine: boolean;
  url: boolean;
  /** Always written to the page's link. */
  always?: boolean;
  type: string;
  default: unknown;
  help: string;
  /** What a valid value looks like, in words (the refusal message). */
  expect: string;
  values?: string[];
  pattern?: string;
  min?: number;
  max?: number;
  [more: string]: unknown;
}
/** The settings schema: every key's type, default, limits and help, and the page's presets (the page's `lib/settings-schema.js`). */
export interface SettingsSchema {
  version: number;
  keys: SettingsKey[];
  presets: { label: string; state: Record<string, unknown> }[];
  [more: string]: unknown;
}
/** The settings schema, from the engine's Rust source of truth. */
export function settingsSchema(): SettingsSchema;
/** The settings the engine would use (defaults filled in); throws what `Trainer.create` would
 *  reject with for them (an `InvalidSettingsError` quoting the first bad value). */
export function checkSettings(settings: Settings): Required<Omit<Settings, "convNorms">> & Pick<Settings, "convNorms">;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
export interface InitOutput {
  readonly memory: WebAssembly.Memory;
}
/** Instantiate synchronously from bytes or a compiled module (e.g. in a worker). */
export function initSync(module: { module: BufferSource | WebAssembly.Module } | BufferSource | WebAssembly.Module): InitOutput;
/** Load and instantiate the wasm; by default `pkg/cabs_bg.wasm` next to `pkg/cabs.js`. Await it once before anything else. */
export default function init(
  moduleOrPath?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<InitOutput>;
