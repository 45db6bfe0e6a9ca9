// The page's side of the worker protocol (see worker.js): starts a fresh worker per run set,
// forwards commands, and hands every message to one callback. Reset = terminate + new worker,
// which also aborts a step that is still running.

/** An exception's message as text, whatever was thrown. */
function text(e) {
  try {
    return String(e?.message ?? e);
  } catch {
    return "an error that cannot be printed";
  }
}

const workerUrl = new URL("../worker.js", import.meta.url);

// The worker is started before the page's other modules load: index.html lists this module as a
// script of its own (marked data-early-worker), so it runs as soon as it arrives, and the worker
// fetches and compiles the engine while main.js's modules still load. When the link does not
// name another data set, the worker is also told at once to fetch the MNIST bundle (the default
// data set) itself, in parallel with the compile: the bytes go straight to the engine, never
// through this thread. The first `start` adopts this worker. Only a visible top-level page
// starts one early: a frame sleeps until seen.
let early = null;
/** When the early worker was started (ms since navigation; a start-up mark), or null. */
export let earlyAt = null;
if (typeof document !== "undefined" && document.querySelector("script[data-early-worker]") &&
    window.self === window.top && document.visibilityState !== "hidden") {
  try {
    // The data set goes in the worker's URL, not in a message: Chromium holds a page's messages
    // to a new module worker until this thread is free again (main.js's modules are evaluated by
    // then), ~100 ms later; the URL is read as the worker starts.
    const mnist = !/(?:^#|&)data=(?!mnist(?:&|$))/.test(location.hash);
    const w = new Worker(mnist ? new URL("?prefetch=mnist", workerUrl) : workerUrl, { type: "module" });
    earlyAt = performance.now();
    // A worker that failed to load before `start` took it is dropped there: a fresh one fails
    // again, with its handlers attached, and the page says why.
    w.onerror = (e) => { e.preventDefault(); w.failed = true; };
    early = w;
  } catch {
    early = null; // `start` tries again and reports a failure in words
  }
}

export class WorkerClient {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.worker = null;
  }

  /**
   * runs: [{id, settings}]; mnist: ArrayBuffer or null (copied, the page keeps its own; null
   * with data=mnist: the worker fetches data/mnist.bin itself);
   * files: the user's [{name, bytes: ArrayBuffer}] or null (transferred: the page must not reuse them);
   * play: start training as soon as the trainers exist (no round trip through the page).
   */
  start({ runs, evalEvery, mnist, files = null, gridSize, play = false }) {
    this.stop();
    if (early?.failed) early.terminate();
    const w = early && !early.failed ? early : new Worker(workerUrl, { type: "module" });
    early = null;
    this.worker = w;
    w.onmessage = (e) => { if (this.worker === w) this.onMessage(e.data); };
    w.onerror = (e) => {
      e.preventDefault();
      if (this.worker === w) this.onMessage({ type: "error", message: `the training worker failed: ${e.message || "it could not load (is the page served over http?)"}` });
    };
    w.onmessageerror = () => this.onMessage({ type: "error", message: "a message from the training worker could not be read" });
    try {
      w.postMessage({ type: "init", runs, evalEvery, mnist, files, gridSize, play }, files ? files.map((f) => f.bytes) : []);
    } catch (e) {
      // A file whose buffer was already transferred (detached), or a value that cannot be
      // copied: the worker would never hear of the run, and the page would wait for it forever.
      this.stop();
      this.onMessage({ type: "error", message: `the run could not be handed to the training worker: ${text(e)}` });
    }
  }

  send(msg) {
    try {
      this.worker?.postMessage(msg);
    } catch (e) {
      this.onMessage({ type: "error", message: `a command could not be handed to the training worker: ${text(e)}` });
    }
  }
  play() { this.send({ type: "play" }); }
  pause() { this.send({ type: "pause" }); }
  step() { this.send({ type: "step" }); }
  setLr(lr) { this.send({ type: "setLr", lr }); }

  stop() {
    this.worker?.terminate();
    this.worker = null;
  }
}
