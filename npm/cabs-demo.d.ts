// Type declarations of the <cabs-demo> element (cabs-demo.js, a classic script: types only, no values).

/** What `window.cabsDemo.snapshot()` and the `cabs-progress` event's detail hold. */
export interface CabsSnapshot {
  backend: { kind: "gpu" | "cpu"; adapter: unknown; browserAdapter: unknown; fallbackReason: string | null; choice: import("./index.js").BackendChoiceInfo | null } | null;
  /** Whether the worker is training right now. */
  running: boolean;
  runs: Array<{
    rule: string;
    step: number;
    examplesSeen: number;
    batchSize: number | null;
    loss: number | null;
    testAccuracy: number | null;
    /** The step at which this run diverged and stopped, else null. */
    diverged: number | null;
  }>;
  timing: { readyMs: number | null; firstStepMs: number | null; playMs: number | null };
  data: { dataset: string; trainSize: number; testSize: number; inputDim: number; classes: number; paramCount: number; files: string[] | null } | null;
  /** The demo can be seen (tab visible, frame in view, slide shown). */
  seen: boolean;
  /** The engine of the current run set exists (created when first seen, or on Play). */
  engine: boolean;
  /** Training is held because the demo cannot be seen (resumes when it can). */
  autopaused: boolean;
}

/** `window.cabsDemo` of the page, and `element.cabsDemo` when the element is same-origin. */
export interface CabsDemoHook {
  snapshot(): CabsSnapshot;
  settings(): Record<string, string | number | boolean>;
  play(): void;
  pause(): void;
  step(): void;
  reset(): void;
}

/**
 * `<cabs-demo data="moons" lr="2" baselines="const:16" play="1">`: the demo page in an iframe, in
 * embed mode. Attributes: the page's URL keys (data, model, rule, lr, mmin, mmax, mu, seed,
 * baselines, backend, eval, x, embed, hide, play, autopause), together at most 2,000 characters
 * as in a link, and `height` (px, clamped to 200–4,000; default 16:10 of the width). A problem
 * with them is shown in the element as "cabs-demo: …".
 *
 * cabs-demo.js is a classic script with no exports: load it with `<script src=".../cabs-demo.js">`
 * (no CORS header needed from its host), or import it for its side effect
 * (`import "cabs-webgpu/cabs-demo.js"`); the class is `customElements.get("cabs-demo")`.
 */
export interface CabsDemo extends HTMLElement {
  /** The page's scripting hook (same-origin only, else undefined). */
  readonly cabsDemo: CabsDemoHook | undefined;
}

declare global {
  interface HTMLElementTagNameMap {
    "cabs-demo": CabsDemo;
  }
  interface HTMLElementEventMap {
    "cabs-progress": CustomEvent<CabsSnapshot>;
  }
}
