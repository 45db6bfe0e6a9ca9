// One training step of an MLP 784-256-10 (ReLU, softmax cross-entropy, plain SGD, the loss read
// back every step), on one engine per page: ours (www/pkg/cabs.js `Trainer`, WebGPU or the CPU
// engine, constant rule `const:M`, which also computes and reads back the per-example
// statistics CABS needs) or TensorFlow.js (webgpu, webgl or wasm backend, one fixed random
// MNIST-shaped batch per M). bench/run.mjs drives it through `window.bench`:
//   await bench.setup(engine, [16, 256, 1024])  → {engine, detail}
//   await bench.run(m, steps)                   → [ms of each step]
const LR = 0.1;
const status = (t) => { document.getElementById("status").textContent = t; };

/** Our engine: one Trainer per batch size on the bundled MNIST digits. */
async function ours(kind, ms) {
  const cabs = await import("../www/pkg/cabs.js");
  await cabs.default();
  const res = await fetch("../www/data/mnist.bin");
  if (!res.ok) throw new Error("www/data/mnist.bin is missing: run bash scripts/setup.sh");
  const mnist = new Uint8Array(await res.arrayBuffer());
  const trainers = new Map();
  for (const m of ms) {
    const t = await cabs.Trainer.create({ data: "mnist", model: "mlp:256", rule: `const:${m}`, lr: LR, backend: kind }, mnist);
    const b = t.backend();
    if (b.kind !== kind) throw new Error(`asked for ${kind}, got ${b.kind}`);
    trainers.set(m, t);
  }
  const b = trainers.get(ms[0]).backend();
  const detail = b.kind === "gpu" ? `${b.dispatchesPerStep} dispatches per step` : "CPU engine (wasm, one thread)";
  return { detail, step: async (m) => { await trainers.get(m).step(); } };
}

/** TensorFlow.js with the same model, initialisation scale and update. */
async function tfjs(backend, ms) {
  /* global tf */
  if (backend === "wasm") tf.wasm.setWasmPaths(new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", location.href).href);
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} could not start`);
  await tf.ready();
  const he = (i, o) => tf.variable(tf.randomNormal([i, o], 0, Math.sqrt(2 / i), "float32", 1));
  const w1 = he(784, 256), b1 = tf.variable(tf.zeros([256])), w2 = he(256, 10), b2 = tf.variable(tf.zeros([10]));
  const vars = [w1, b1, w2, b2];
  const opt = tf.train.sgd(LR);
  const batches = new Map(ms.map((m) => [m, {
    x: tf.randomUniform([m, 784], 0, 1, "float32", 2),
    y: tf.oneHot(tf.randomUniform([m], 0, 10, "int32", 3), 10).toFloat(),
  }]));
  const step = async (m) => {
    const { x, y } = batches.get(m);
    const loss = opt.minimize(() => {
      const h = tf.relu(tf.add(tf.matMul(x, w1), b1));
      return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h, w2), b2));
    }, true, vars);
    await loss.data();
    loss.dispose();
  };
  let detail = `TF.js ${tf.version.tfjs} ${tf.getBackend()}`;
  if (backend === "wasm") detail += `, SIMD ${await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")}, threads ${await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")}`;
  return { detail, step };
}

let engine = null;
window.bench = {
  async setup(name, ms) {
    status(`setting up ${name}…`);
    const [lib, kind] = name.split("-");
    engine = lib === "ours" ? await ours(kind, ms) : await tfjs(kind, ms);
    for (const m of ms) for (let i = 0; i < 2; i++) await engine.step(m); // warm-up: compile, allocate
    status(`${name} ready`);
    return { engine: name, detail: engine.detail };
  },
  async run(m, steps) {
    const times = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      await engine.step(m);
      times.push(performance.now() - t0);
    }
    return times;
  },
  /** What the browser says about its WebGPU adapter. */
  async adapter() {
    const a = await navigator.gpu?.requestAdapter();
    const i = a?.info;
    return i ? { vendor: i.vendor, architecture: i.architecture, description: i.description, isFallbackAdapter: i.isFallbackAdapter ?? null } : null;
  },
};
status("ready");
