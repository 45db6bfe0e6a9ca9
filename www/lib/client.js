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

export class WorkerClient {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.worker = null;
  }

  /**
   * runs: [{id, settings}]; mnist: ArrayBuffer or null (copied, the page keeps its own);
   * files: the user's [{name, bytes: ArrayBuffer}] or null (transferred: the page must not reuse them).
   */
  start({ runs, evalEvery, mnist, files = null, gridSize }) {
    this.stop();
    const w = new Worker(new URL("../worker.js", import.meta.url), { type: "module" });
    this.worker = w;
    w.onmessage = (e) => { if (this.worker === w) this.onMessage(e.data); };
    w.onerror = (e) => {
      e.preventDefault();
      if (this.worker === w) this.onMessage({ type: "error", message: `the training worker failed: ${e.message || "it could not load (is the page served over http?)"}` });
    };
    w.onmessageerror = () => this.onMessage({ type: "error", message: "a message from the training worker could not be read" });
    try {
      w.postMessage({ type: "init", runs, evalEvery, mnist, files, gridSize }, files ? files.map((f) => f.bytes) : []);
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
