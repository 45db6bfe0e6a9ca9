// The JavaScript API against hostile input, through the shipped module (www/pkg/cabs.js) in
// headless Chromium: every call resolves or rejects within a bound, every rejection is an Error
// whose `name` tells its kind (ConfigError, DataError, GpuError, DivergedError with a `step`,
// IoError, TypeError, RangeError), never a wasm trap, and a new trainer works after every failure.
// 1. the cases issue 13 reported, one by one (regressions), on the CPU engine and on WebGPU;
// 2. a seeded fuzz: random settings objects, file lists and argument shapes into create,
//    createWithFiles, step, predict and setLearningRate (seeds that found bugs are kept in
//    REGRESSION_SEEDS and run first).
import { test } from "node:test";
import assert from "node:assert/strict";
import { pageSuite } from "./harness.mjs";

const NAMES = ["ConfigError", "DataError", "GpuError", "DivergedError", "IoError", "TypeError", "RangeError"];
const FUZZ_CASES = 300;
const FUZZ_SEED = 20261129;
/** Seeds whose cases found bugs (kept as regressions, run first). None so far: the bugs issue 13
 *  reported are the named cases of the first tests. */
const REGRESSION_SEEDS = [];
/** A call that has not settled by then counts as hung. Generous: building cnn-mnist's WebGPU engine
 *  (its pipelines compiled by SwiftShader) took over 20 s on a 2-core machine under load. */
const CALL_BOUND_MS = 60_000;

let server, browser, page;

pageSuite({ webgpu: true }, async (s) => {
  ({ server, browser } = s); // the CPU engine where settings say backend "cpu"
  page = await browser.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  // A bare document on the same origin (a 404 page): the page's own scripts must not run
  // alongside (going to index.html first let them start, and their errors counted here).
  await page.goto(`${server.url}bare-document-for-the-api-fuzz`);
  await page.setContent("<!doctype html><title>api fuzz</title>");
  await page.evaluate(async ({ bound }) => {
    const m = await import("/pkg/cabs.js");
    await m.default();
    const mnist = new Uint8Array(await (await fetch("/data/mnist.bin")).arrayBuffer());
    /** Run `f` (sync or async); resolves to {ok, value} or {ok: false, error facts}; never hangs. */
    async function settle(f) {
      let timer;
      const limit = new Promise((resolve) => { timer = setTimeout(() => resolve({ ok: false, hung: true }), bound); });
      const run = Promise.resolve().then(f).then(
        (value) => ({ ok: true, value }),
        (e) => ({
          ok: false, isError: e instanceof Error, name: e?.name, message: String(e?.message ?? e),
          step: e?.step, stepType: typeof e?.step,
        }));
      const r = await Promise.race([run, limit]);
      clearTimeout(timer);
      return r;
    }
    /** Is the module still usable? A fresh trainer takes a step. */
    async function healthy(backend = "cpu") {
      const r = await settle(async () => {
        const t = await m.Trainer.create({ data: "blobs", model: "mlp:8", mmax: 64, backend });
        const s = await t.step();
        t.free();
        return s.step;
      });
      return r.ok && r.value === 1 ? "ok" : JSON.stringify(r);
    }
    window.api = { m, mnist, settle, healthy };
  }, { bound: CALL_BOUND_MS });
});

/** Checks one outcome; `what` names the call in failure messages. */
function check(what, r, { want } = {}) {
  assert.ok(!r.hung, `${what}: did not settle within ${CALL_BOUND_MS} ms`);
  if (r.ok) {
    assert.ok(!want, `${what}: resolved, expected ${want}`);
    return;
  }
  assert.ok(r.isError, `${what}: rejected with a non-Error ${JSON.stringify(r)}`);
  assert.ok(NAMES.includes(r.name), `${what}: error name '${r.name}' (${r.message})`);
  assert.doesNotMatch(r.message, /unreachable|memory access|RuntimeError|capacity overflow|null pointer|recursive use/i, what);
  assert.ok(r.message.length > 10, `${what}: message '${r.message}'`);
  if (r.name === "DivergedError") assert.equal(r.stepType, "number", `${what}: DivergedError.step`);
  if (want) assert.equal(r.name, want, `${what}: ${r.message}`);
}

for (const backend of ["cpu", "gpu"]) test(`${backend}: each reported hostile input is refused with a named error, and the module stays usable`, async () => {
  const results = await page.evaluate(async (backend) => {
    const { m, mnist, settle, healthy } = window.api;
    const { Trainer } = m;
    const detached = () => { const a = new Uint8Array(mnist); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };
    const throwing = { get model() { throw new Error("getter boom"); } };
    const proxy = new Proxy({}, { get() { throw new Error("trap boom"); } });
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const lying = new Uint8Array(4);
    Object.defineProperty(lying, "length", { get() { throw new Error("length boom"); } });
    const blobs = { data: "blobs", model: "mlp:8", mmax: 64, backend };
    const idx = (dims, data) => {
      const b = new Uint8Array(4 + 4 * dims.length + data.length);
      b.set([0, 0, 8, dims.length]);
      dims.forEach((d, i) => new DataView(b.buffer).setUint32(4 + 4 * i, d));
      b.set(data, 4 + 4 * dims.length);
      return b;
    };
    const images = idx([12, 2, 2], new Uint8Array(48).fill(9));
    const cases = [
      ["createWithFiles(s, null)", () => Trainer.createWithFiles(blobs, null), "TypeError"],
      ["createWithFiles(s, {})", () => Trainer.createWithFiles(blobs, {}), "TypeError"],
      ["createWithFiles(s, {length: 2})", () => Trainer.createWithFiles(blobs, { length: 2 }), "TypeError"],
      ["createWithFiles(s, [null])", () => Trainer.createWithFiles(blobs, [null]), "TypeError"],
      ["createWithFiles(s, [{bytes: ArrayBuffer}])", () => Trainer.createWithFiles(blobs, [{ name: "a", bytes: new ArrayBuffer(8) }]), "TypeError"],
      ["createWithFiles(s, detached)", () => Trainer.createWithFiles(blobs, [{ name: "a", bytes: detached() }]), "DataError"],
      ["createWithFiles(s, revoked proxy)", () => Trainer.createWithFiles(blobs, revoked), "TypeError"],
      ["createWithFiles(s, array with a throwing getter)", () => Trainer.createWithFiles(blobs, [{ name: "x", get bytes() { throw new Error("boom"); } }]), "TypeError"],
      ["createWithFiles(s, lying length)", () => Trainer.createWithFiles(blobs, [{ name: "x", bytes: lying }, { name: "y", bytes: lying }]), "DataError"],
      ["createWithFiles(s, 20 files)", () => Trainer.createWithFiles(blobs, Array(20).fill({ name: "a", bytes: images })), "DataError"],
      ["createWithFiles(s, label 255)", () => Trainer.createWithFiles(blobs, [
        { name: "i", bytes: images }, { name: "l", bytes: idx([12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 1]) }]), "DataError"],
      ["createWithFiles(s, 4 GiB header)", () => Trainer.createWithFiles(blobs, [
        { name: "i", bytes: idx([65536, 256, 256], []) }, { name: "l", bytes: idx([1], [0]) }]), "DataError"],
      ["create(throwing getter)", () => Trainer.create(throwing), "TypeError"],
      ["create(throwing proxy)", () => Trainer.create(proxy), "TypeError"],
      ["create(revoked proxy)", () => Trainer.create(revoked), "TypeError"],
      ["create(42)", () => Trainer.create(42), "TypeError"],
      ["create([])", () => Trainer.create([]), "TypeError"],
      ["create(mnist, ArrayBuffer)", () => Trainer.create({ data: "mnist" }, mnist.buffer.slice(0)), "TypeError"],
      ["create(mnist, detached)", () => Trainer.create({ data: "mnist" }, detached()), "DataError"],
      ["create(mnist, {length: 1e9})", () => Trainer.create({ data: "mnist" }, { length: 1e9 }), "TypeError"],
      ["create(mnist, lying Uint8Array)", () => Trainer.create({ data: "mnist" }, lying), "DataError"],
      ["create(lr 1e39)", () => Trainer.create({ ...blobs, lr: 1e39 }), "ConfigError"],
      ["create(lr 1e308)", () => Trainer.create({ ...blobs, lr: 1e308 }), "ConfigError"],
      ["create(lr 1e-320)", () => Trainer.create({ ...blobs, lr: 1e-320 }), "ConfigError"],
      ["create(lr '0.1')", () => Trainer.create({ ...blobs, lr: "0.1" }), "ConfigError"],
      ["create(mmax 2.5)", () => Trainer.create({ ...blobs, mmax: 2.5 }), "ConfigError"],
      ["create(seed -1)", () => Trainer.create({ ...blobs, seed: -1 }), "ConfigError"],
      ["create(rule const:16:step:2.7:0.5)", () => Trainer.create({ ...blobs, rule: "const:16:step:2.7:0.5" }), "ConfigError"],
      ["create(rule const:16:step:-5:0.5)", () => Trainer.create({ ...blobs, rule: "const:16:step:-5:0.5" }), "ConfigError"],
      ["create(model of 10^6 characters)", () => Trainer.create({ ...blobs, model: "mlp:".padEnd(1e6, "8") }), "ConfigError"],
      ["checkSettings(proxy)", () => m.checkSettings(proxy), "TypeError"],
      // Models and batches that once exhausted the wasm heap (an abort, a promise that never
      // settled): the memory plan now chunks them or refuses them with the figure.
      ["create(mlp:65536, mmax 4096)", () => Trainer.create({ data: "blobs", model: "mlp:65536", mmax: 4096, backend }), null],
      ["create(cnn-mnist, mmax 8000)", () => Trainer.create({ data: "mnist", model: "cnn-mnist", mmax: 8000, backend }, mnist), null],
      ["create(cnn-cifar on mnist, mmax 8000)", () => Trainer.create({ data: "mnist", model: "cnn-cifar", mmax: 8000, backend }, mnist), null],
      // predict on a CNN: probabilities for every model (the step plan's forward pass).
      ["predict on cnn-small", async () => {
        const t = await Trainer.create({ data: "mnist", model: "cnn-small", mmax: 64, backend }, mnist);
        const p = await t.predict(new Float32Array(784 * 2).fill(0.5));
        const sums = [0, 1].map((i) => p.slice(10 * i, 10 * i + 10).reduce((a, b) => a + b, 0));
        if (!(p instanceof Float32Array) || p.length !== 20 || sums.some((s) => Math.abs(s - 1) > 1e-4) || p.some((v) => !(v >= 0))) {
          throw new Error(`predict on a CNN: not probabilities: ${Array.from(p).join(",")}`);
        }
        return p.length;
      }, null],
    ];
    const out = [];
    for (const [what, f, want] of cases) out.push({ what, want, r: await settle(f), after: await healthy() });
    // Messages that must quote the value given.
    const quote = async (s, needle) => ({ what: `quotes ${needle}`, msg: (await settle(() => Trainer.create({ ...blobs, ...s }))).message, needle });
    const quotes = [await quote({ lr: 1e39 }, "1e39"), await quote({ lr: 1e-320 }, "1e-320"),
      await quote({ rule: "const:16:step:2.7:0.5" }, "'2.7'"), await quote({ rule: "const:16:step:-5:0.5" }, "'-5'")];

    // A trainer's methods with hostile arguments, and with a foreign `this`.
    const t = await Trainer.create(blobs);
    const methods = [
      ["predict({length: 1e9})", () => t.predict({ length: 1e9 }), "TypeError"],
      ["predict([0, 0])", () => t.predict([0, 0]), "TypeError"],
      ["predict(odd length)", () => t.predict(new Float32Array(3)), "ConfigError"],
      ["predict(too many points)", () => t.predict(new Float32Array((1 << 24) + 2)), "ConfigError"],
      ["predict(lying Float32Array)", () => { const a = new Float32Array(2); Object.defineProperty(a, "length", { value: 1e9 }); return t.predict(a); }, null],
      ["setLearningRate(1e39)", () => t.setLearningRate(1e39), "RangeError"],
      ["setLearningRate(1e-320)", () => t.setLearningRate(1e-320), "RangeError"],
      ["setLearningRate('0.1')", () => t.setLearningRate("0.1"), "TypeError"],
      ["setLearningRate({valueOf: throw})", () => t.setLearningRate({ valueOf() { throw new Error("boom"); } }), "TypeError"],
      ["step twice at once (the second waits or is refused)", async () => {
        const [, second] = await Promise.allSettled([t.step(), t.step()]);
        if (second.status === "rejected") throw second.reason;
        return second.value;
      }, null],
      ["step.call({})", () => Trainer.prototype.step.call({}), "TypeError"],
      ["predict.call(null)", () => Trainer.prototype.predict.call(null, new Float32Array(2)), "TypeError"],
      ["info.call(mnist)", () => Trainer.prototype.info.call(mnist), "TypeError"],
    ];
    for (const [what, f, want] of methods) out.push({ what, want, r: await settle(f), after: await healthy() });
    const stillWorks = await settle(async () => (await t.step()).step);
    t.free();
    const afterFree = await settle(() => t.step());

    // Divergence: a DivergedError with its step, then a new trainer works.
    const d = await Trainer.create({ ...blobs, lr: 1e30 });
    let diverged = null;
    for (let i = 0; i < 20 && !diverged; i++) {
      const r = await settle(() => d.step());
      if (!r.ok) diverged = r;
    }
    out.push({ what: "divergence", want: "DivergedError", r: diverged ?? { ok: true }, after: await healthy() });
    out.push({ what: "evaluate after divergence", want: "DivergedError", r: await settle(() => d.evaluate()), after: await healthy() });

    // No test split: evaluate resolves to null figures, never zeros.
    const tiny = await Trainer.createWithFiles({ model: "mlp:4", mmin: 1, mmax: 4, backend },
      [{ name: "i", bytes: idx([5, 2, 2], new Uint8Array(20).fill(3)) }, { name: "l", bytes: idx([5], [0, 1, 0, 1, 0]) }]);
    await tiny.step();
    const noTest = await tiny.evaluate();
    const kind = d.backend().kind;
    const healthyOnEngine = await healthy(backend);
    return { out, quotes, stillWorks, afterFree, noTest, testSize: tiny.info().testSize, kind, healthyOnEngine };
  }, backend);
  for (const { what, want, r, after: health } of results.out) {
    check(what, r, { want: want ?? undefined });
    assert.equal(health, "ok", `after ${what}: a new trainer must work`);
  }
  for (const { what, msg, needle } of results.quotes) assert.ok(msg.includes(needle), `${what}: ${msg}`);
  // 3 steps, or 2 where the second of two simultaneous steps was refused as still running.
  assert.ok(results.stillWorks.ok && [2, 3].includes(results.stillWorks.value), `the trainer keeps working: ${JSON.stringify(results.stillWorks)}`);
  assert.equal(results.healthyOnEngine, "ok", `a new ${backend} trainer works at the end`);
  check("step after free()", results.afterFree);
  assert.equal(results.testSize, 0);
  assert.deepEqual(results.noTest, { step: 1, testLoss: null, testAccuracy: null });
  assert.equal(results.kind, backend, "the engine the test asked for");
  assert.deepEqual(page.errors, []);
});

test(`${FUZZ_CASES} seeded random calls settle, with named errors, and leave the module usable`, async () => {
  const seeds = [...REGRESSION_SEEDS, ...Array.from({ length: FUZZ_CASES }, (_, i) => FUZZ_SEED + i)];
  const results = await page.evaluate(async (seeds) => {
    const { m, mnist, settle, healthy } = window.api;
    const { Trainer } = m;
    const rng = (seed) => () => { // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const idx = (dims, data) => {
      const b = new Uint8Array(4 + 4 * dims.length + data.length);
      b.set([0, 0, 8, dims.length]);
      dims.forEach((d, i) => new DataView(b.buffer).setUint32(4 + 4 * i, d));
      b.set(data, 4 + 4 * dims.length);
      return b;
    };
    const out = [];
    for (const seed of seeds) {
      const r = rng(seed);
      const pick = (xs) => xs[Math.floor(r() * xs.length)];
      const hostile = () => pick([
        undefined, null, NaN, Infinity, -1, 0, 2.7, 1e39, 1e-320, 2 ** 53, "", "x", "1", true, [], {}, Symbol("s"), 10n,
        { valueOf() { throw new Error("valueOf"); } }, new Proxy({}, { get() { throw new Error("trap"); } }),
        new Uint8Array(3), new ArrayBuffer(4), () => 1,
      ]);
      // Each key: [valid values, invalid values]; a value is invalid or hostile 15% of the time,
      // so that many trainers get built and their methods exercised too.
      const value = {
        data: [["blobs", "moons", "spirals", "mnist"], ["cifar", "MNIST", "", "blobs\0"]],
        model: [["mlp:8", "mlp:16,16", "mlp:32", "mlp:8,8,8,8"], ["mlp:0", "mlp:", "mlp:-3", "mlp:2.5", "cnn-small", "resnet"]],
        rule: [["cabs", "const:8", "const:16:step:2:0.5", "const:8:invtime:0.1"], ["const:0", "const:16:step:2.7:0.5", "const:8:invtime:-1", "const", "const:8:step"]],
        lr: [[0.1, 0.5, 2, 1e3], [1e39, 1e308, 1e-320, 0, -0.1, NaN]],
        mmin: [[1, 2, 8, 16], [0, 2.5, -4, 4294967296]],
        mmax: [[16, 32, 64, 256], [1, 0, 1e12, 100.5]],
        mu: [[0, 0.5, 0.95], [1, -0.1, NaN]],
        c: [[1, 0.5], [0, -1, Infinity]],
        eps: [[0, 1e-8], [-1, NaN]],
        unbiased: [[true, false], [1, "true"]],
        biasCorrection: [[true, false], [0]],
        seed: [[1, 2, 0, 2 ** 53 - 1], [2 ** 60, -5, 1.5]],
        backend: [["cpu"], ["auto", "gpu", "tpu"]],
        convNorms: [["exact", "both", "reference"], ["none"]],
      };
      const settings = () => {
        const roll = r();
        if (roll < 0.05) return hostile();
        const s = {};
        for (const [k, [good, bad]] of Object.entries(value)) {
          if (r() < 0.35) s[k] = r() < 0.15 ? (r() < 0.3 ? hostile() : pick(bad)) : pick(good);
        }
        if (!("backend" in s)) s.backend = "cpu";
        if (roll < 0.1) Object.defineProperty(s, pick(Object.keys(value)), { get() { throw new Error("getter"); }, enumerable: true });
        return s;
      };
      const labels = (n, k) => Uint8Array.from({ length: n }, () => Math.floor(r() * k));
      const file = () => pick([
        () => ({ name: "train-images-idx3-ubyte", bytes: idx([30, 4, 4], labels(480, 256)) }),
        () => ({ name: "train-labels-idx1-ubyte", bytes: idx([30], labels(30, pick([2, 3, 10, 256]))) }),
        () => ({ name: "t10k-images", bytes: idx([30, 4, 4], labels(480, 256)).subarray(0, pick([0, 3, 10, 100])) }),
        () => ({ name: "data_batch_1.bin", bytes: labels(3073 * pick([1, 2]), 12) }),
        () => ({ name: "test_batch.bin", bytes: labels(3073, 10) }),
        () => ({ name: pick([undefined, 5, "x".repeat(5000)]), bytes: labels(pick([0, 1, 9]), 256) }),
        () => ({ name: "x", bytes: hostile() }),
        () => hostile(),
      ])();
      const files = () => {
        const roll = r();
        if (roll < 0.15) return pick([null, undefined, {}, { length: 2 }, { length: 1e9 }, "files", new Proxy([], { get() { throw new Error("trap"); } })]);
        return Array.from({ length: pick([0, 1, 2, 2, 2, 4, 6]) }, file);
      };
      const points = () => pick([
        () => new Float32Array(2 * pick([0, 1, 5, 100])), () => new Float32Array(3), () => ({ length: 1e9 }),
        () => [0, 1], () => new Float64Array(2), () => hostile(), () => new Float32Array(784),
      ])();
      const calls = [];
      let t = null;
      const made = await settle(async () => {
        t = r() < 0.6
          ? await Trainer.create(settings(), r() < 0.8 ? mnist : pick([undefined, null, mnist.buffer.slice(0, 64), mnist.subarray(0, 100), hostile()]))
          : await Trainer.createWithFiles(settings(), files());
      });
      calls.push(["create", made]);
      if (t) {
        for (let i = 0; i < 4; i++) {
          const op = pick(["step", "step", "predict", "setLearningRate", "evaluate"]);
          const arg = op === "predict" ? points() : op === "setLearningRate" ? pick([0.1, 1e39, 1e-320, -1, "0.2", NaN, undefined, hostile()]) : undefined;
          calls.push([op, await settle(() => t[op](arg))]);
        }
        t.free();
      }
      out.push({ seed, calls, after: seed % 10 === 0 ? await healthy() : "ok" });
    }
    return { out, final: await healthy() };
  }, seeds);
  let resolved = 0;
  const kinds = new Map(); // FUZZ_VERBOSE=1 prints what the calls ended in
  for (const { seed, calls, after: health } of results.out) {
    for (const [op, r] of calls) {
      const k = `${op}: ${r.ok ? "ok" : `${r.name}: ${String(r.message).slice(0, 70)}`}`;
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
      check(`seed ${seed}: ${op}`, r);
      if (r.ok) resolved++;
    }
    assert.equal(health, "ok", `after seed ${seed}: a new trainer must work`);
  }
  if (process.env.FUZZ_VERBOSE) console.log([...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}\t${k}`).join("\n"));
  assert.equal(results.final, "ok");
  assert.ok(resolved > FUZZ_CASES / 4, `only ${resolved} calls resolved: the fuzz should also exercise working trainers`);
  assert.deepEqual(page.errors, []);
});
