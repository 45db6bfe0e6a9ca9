// The scripting hook for embedders and tests: window.cabsDemo (snapshot, play, pause, step,
// reset, settings) and the `cabs-progress` event on window, whose detail is a snapshot.

/** app: {backend(), running(), liveRuns(), timing(), settings(), play(), pause(), step(), reset()} */
export function installHook(app) {
  const snapshot = () => ({
    backend: app.backend(),
    running: app.running(),
    runs: app.liveRuns().map((r) => ({
      rule: r.rule,
      step: r.length ? r.last("step") : 0,
      examplesSeen: r.length ? r.last("examplesSeen") : 0,
      batchSize: r.length ? r.last("batchSize") : null,
      loss: r.length ? r.last("loss") : null,
      testAccuracy: r.lastEval()?.testAccuracy ?? null,
      diverged: r.diverged ?? null, // the step at which it diverged and stopped, else null
    })),
    timing: app.timing(),
    data: app.data?.() ?? null, // {dataset, trainSize, testSize, inputDim, classes, paramCount, files}
    ...app.extra?.(), // seen (the demo is in view), engine (created yet), autopaused (held while unseen)
  });
  window.cabsDemo = Object.freeze({
    snapshot, settings: () => app.settings(),
    play: () => app.play(), pause: () => app.pause(), step: () => app.step(), reset: () => app.reset(),
  });
  return { emit: () => window.dispatchEvent(new CustomEvent("cabs-progress", { detail: snapshot() })) };
}
