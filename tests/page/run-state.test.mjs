// The run state at the JavaScript API (Trainer.exportState / importState / createFromState /
// engines), through the shipped module (www/pkg/cabs.js) in headless Chromium with WebGPU
// (SwiftShader). What the page's hand-over between the CPU engine and WebGPU relies on:
// - within one engine, a run continued from its exported bytes is the run, bit for bit;
// - a run moved CPU → WebGPU → CPU takes, on each engine, exactly the steps a trainer of that
//   engine created from the same bytes takes, and engines() reports the spans;
// - a state of another run, damaged bytes, an empty or detached array, or an import while a step
//   runs is a named error, and the trainer trains on afterwards.
// GPU trainers are slow to create on SwiftShader (~6–25 s): blobs and a 16-unit MLP, few of them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pageSuite } from "./harness.mjs";

let server, browser, page;

pageSuite({ webgpu: true }, async (s) => {
  ({ server, browser } = s);
  page = await browser.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  // A bare document on the server's origin (a 404 page, so none of the page's scripts run).
  await page.goto(`${server.url}bare-document-for-the-run-state-test`);
  await page.setContent("<!doctype html><title>run state</title>");
  await page.evaluate(async () => {
    const m = await import("/pkg/cabs.js");
    await m.default();
    /** `n` steps' results, each as [key, value] pairs (every field, in order). */
    async function steps(t, n) {
      const out = [];
      for (let i = 0; i < n; i++) out.push(Object.entries(await t.step()));
      return out;
    }
    /** Where two lists of step results differ (Object.is on every field: bit for bit, -0 counts). */
    function differ(a, b) {
      if (a.length !== b.length) return [`${a.length} steps ≠ ${b.length}`];
      const out = [];
      a.forEach((row, i) => {
        const other = new Map(b[i]);
        if (row.length !== b[i].length) out.push(`step ${i}: ${row.length} fields ≠ ${b[i].length}`);
        for (const [k, v] of row) if (!Object.is(v, other.get(k))) out.push(`step ${i} ${k}: ${v} ≠ ${other.get(k)}`);
      });
      return out;
    }
    /** How `f` ended: "ok" or "<name>: <message>". */
    async function outcome(f) {
      try {
        await f();
        return "ok";
      } catch (e) {
        return e instanceof Error ? `${e.name}: ${e.message}` : `not an Error: ${String(e)}`;
      }
    }
    window.api = { m, steps, differ, outcome };
  });
});

const CPU = { data: "blobs", model: "mlp:16", lr: 4, mmax: 64, backend: "cpu", seed: 5 };

test("within the CPU engine: 30 steps, export, 20 more equals a trainer created from the bytes (and one that imports them), bit for bit", async () => {
  const r = await page.evaluate(async (cpu) => {
    const { m, steps, differ } = window.api;
    const a = await m.Trainer.create(cpu);
    await steps(a, 30);
    const bytes = await a.exportState();
    const withSchedule = await a.exportState({ every: 10, nextStep: 40 });
    const A = await steps(a, 20);
    const b = await m.Trainer.createFromState(cpu, bytes);
    const stepsB = b.stepsDone();
    const B = await steps(b, 20);
    // importState into a fresh trainer of the same run, and the bytes that carry a schedule
    const c = await m.Trainer.create(cpu);
    await steps(c, 3);
    await c.importState(withSchedule);
    const C = await steps(c, 20);
    // The comparison can fail: the steps after 31 differ from these
    const d = await m.Trainer.createFromState(cpu, bytes);
    await d.step();
    const D = await steps(d, 20);
    const out = {
      isBytes: bytes instanceof Uint8Array, n: bytes.length, magic: String.fromCharCode(...bytes.subarray(0, 7)),
      scheduleChanges: withSchedule.length !== bytes.length || withSchedule.some((x, i) => x !== bytes[i]),
      stepsB, firstB: new Map(B[0]).get("step"), grown: Math.max(...A.map((row) => new Map(row).get("batchSize"))),
      ab: differ(A, B), ac: differ(A, C), ad: differ(A, D).length, engines: b.engines(),
    };
    for (const t of [a, b, c, d]) t.free();
    return out;
  }, CPU);
  assert.equal(r.isBytes, true);
  assert.ok(r.n > 100, `${r.n} bytes`);
  assert.equal(r.magic, "CABSRUN");
  assert.equal(r.scheduleChanges, true, "the evaluation schedule is carried in the bytes");
  assert.equal(r.stepsB, 30);
  assert.equal(r.firstB, 31);
  assert.ok(r.grown > 16, `CABS changed the batch (up to ${r.grown}): the run is not trivial`);
  assert.ok(r.ad > 0, "the comparison can fail: one step later, the figures differ");
  assert.deepEqual(r.ab, [], "createFromState continues the run bit for bit");
  assert.deepEqual(r.ac, [], "importState continues the run bit for bit");
  assert.deepEqual(r.engines, [{ fromStep: 0, engine: "cpu" }]);
  assert.deepEqual(page.errors, []);
});

test("CPU → WebGPU → CPU: each engine's steps equal those of a trainer of that engine created from the same bytes; engines() reports the spans", async () => {
  const r = await page.evaluate(async (cpu) => {
    const { m, steps, differ } = window.api;
    const gpu = { ...cpu, backend: "gpu" };
    const out = {};
    // The run starts on the CPU engine.
    const c = await m.Trainer.create(cpu);
    await steps(c, 12);
    const atCpu = await c.exportState();
    // It moves to WebGPU: a GPU trainer takes the state (importState), and another is built from the same bytes.
    const g = await m.Trainer.create(gpu);
    out.gpuKind = g.backend().kind;
    await g.importState(atCpu);
    out.enginesOnGpu = g.engines();
    const G = await steps(g, 8);
    const g2 = await m.Trainer.createFromState(gpu, atCpu);
    const G2 = await steps(g2, 8);
    out.gpu = differ(G, G2);
    out.gpuSteps = G.map((row) => new Map(row).get("step"));
    // Back to the CPU: from the GPU trainer's state, into the first CPU trainer and a new one.
    const atGpu = await g.exportState();
    await c.importState(atGpu);
    out.enginesBack = c.engines();
    const C = await steps(c, 8);
    const c2 = await m.Trainer.createFromState(cpu, atGpu);
    out.enginesBack2 = c2.engines();
    const C2 = await steps(c2, 8);
    out.cpu = differ(C, C2);
    out.cpuSteps = C.map((row) => new Map(row).get("step"));
    // The comparisons can fail: the CPU engine's steps 13–20 are not the GPU engine's bit for bit
    // (other summation orders), or at least the steps after the move back differ from a fresh run.
    const stay = await m.Trainer.createFromState(cpu, atCpu);
    out.cpuVsGpu = differ(await steps(stay, 8), G).length;
    for (const t of [c, g, g2, c2, stay]) t.free();
    return out;
  }, CPU);
  assert.equal(r.gpuKind, "gpu", "the WebGPU engine was used (is --enable-unsafe-webgpu set?)");
  assert.deepEqual(r.enginesOnGpu, [{ fromStep: 0, engine: "cpu" }, { fromStep: 12, engine: "gpu" }]);
  assert.deepEqual(r.gpuSteps, [13, 14, 15, 16, 17, 18, 19, 20]);
  assert.deepEqual(r.gpu, [], "on WebGPU, importState and createFromState continue alike, bit for bit");
  const spans = [{ fromStep: 0, engine: "cpu" }, { fromStep: 12, engine: "gpu" }, { fromStep: 20, engine: "cpu" }];
  assert.deepEqual(r.enginesBack, spans);
  assert.deepEqual(r.enginesBack2, spans);
  assert.deepEqual(r.cpuSteps, [21, 22, 23, 24, 25, 26, 27, 28]);
  assert.deepEqual(r.cpu, [], "back on the CPU, importState and createFromState continue alike, bit for bit");
  console.log(`# CPU vs WebGPU over the same 8 steps: ${r.cpuVsGpu} fields differ`);
  assert.deepEqual(page.errors, []);
});

test("refusals: another model's state, a damaged byte, empty/detached/non-Uint8Array input, importState during a step; the trainer trains on", async () => {
  const r = await page.evaluate(async (cpu) => {
    const { m, steps, outcome } = window.api;
    const t = await m.Trainer.create(cpu);
    await steps(t, 5);
    const own = await t.exportState();
    const other = await m.Trainer.create({ ...cpu, model: "mlp:8" });
    await other.step();
    const foreign = await other.exportState();
    other.free();
    const damaged = own.slice();
    damaged[damaged.length >> 1] ^= 1;
    const detached = own.slice();
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    const out = {};
    out.otherModel = await outcome(() => t.importState(foreign));
    out.damaged = await outcome(() => t.importState(damaged));
    out.empty = await outcome(() => t.importState(new Uint8Array(0)));
    out.detached = await outcome(() => t.importState(detached));
    out.notBytes = await outcome(() => t.importState(own.buffer));
    out.notAState = await outcome(() => t.importState(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])));
    out.createOther = await outcome(() => m.Trainer.createFromState({ ...cpu, seed: 6 }, own));
    out.createDamaged = await outcome(() => m.Trainer.createFromState(cpu, damaged));
    out.scheduleType = await outcome(() => t.exportState({ every: "10", nextStep: 0 }));
    out.scheduleRange = await outcome(() => t.exportState({ every: 0, nextStep: 0 }));
    out.scheduleHalf = await outcome(() => t.exportState({ every: 5, nextStep: 2.5 }));
    out.scheduleNotObject = await outcome(() => t.exportState(7));
    out.stepsAfterRefusals = t.stepsDone();
    // On the CPU engine a step never yields: a call made after step() runs after it.
    const cpuStep = t.step();
    await t.importState(own);
    out.cpuOrder = [(await cpuStep).step, t.stepsDone()];
    // On WebGPU a step awaits its read-back: importState and exportState meanwhile are "still
    // running" errors, and the step and the trainer are unharmed.
    const g = await m.Trainer.create({ ...cpu, backend: "gpu" });
    await steps(g, 2);
    const ownGpu = await g.exportState();
    const running = g.step();
    const during = g.importState(ownGpu);
    const exportDuring = g.exportState();
    out.during = await outcome(() => during);
    out.exportDuring = await outcome(() => exportDuring);
    out.runningStep = (await running).step;
    out.next = (await g.step()).step;
    await g.importState(ownGpu);
    out.afterImport = g.stepsDone();
    out.again = (await g.step()).step;
    out.cpuNext = (await t.step()).step;
    g.free();
    t.free();
    return out;
  }, CPU);
  assert.match(r.otherModel, /^ConfigError: .*this run state belongs to another run.*model/);
  assert.match(r.damaged, /^DataError: .*the run state cannot be read: it is damaged \(checksum/);
  assert.match(r.empty, /^DataError: .*the run state is empty \(0 bytes\)/);
  assert.match(r.detached, /^DataError: .*the run state is empty \(0 bytes\).*detached/);
  assert.match(r.notBytes, /^TypeError: the run state must be a Uint8Array, got an ArrayBuffer \(wrap it: new Uint8Array\(buffer\)\)$/);
  assert.match(r.notAState, /^DataError: .*it is not a CABS run state/);
  assert.match(r.createOther, /^ConfigError: .*another run.*seed 5 ≠ 6/);
  assert.match(r.createDamaged, /^DataError: .*damaged/);
  assert.equal(r.scheduleType, 'TypeError: evalSchedule.every needs a whole number from 1 to 9007199254740991, got the string "10"');
  assert.equal(r.scheduleRange, "RangeError: evalSchedule.every needs a whole number from 1 to 9007199254740991, got number 0");
  assert.equal(r.scheduleHalf, "RangeError: evalSchedule.nextStep needs a whole number from 0 to 9007199254740991, got number 2.5");
  assert.equal(r.scheduleNotObject, "TypeError: exportState(evalSchedule) needs an object {every, nextStep}, got number 7");
  assert.equal(r.stepsAfterRefusals, 5, "a refused state changed nothing");
  assert.deepEqual(r.cpuOrder, [6, 5]);
  assert.match(r.during, /^ConfigError: .*still running/);
  assert.match(r.exportDuring, /^ConfigError: .*still running/);
  assert.equal(r.runningStep, 3);
  assert.equal(r.next, 4);
  assert.equal(r.afterImport, 2);
  assert.equal(r.again, 3);
  assert.equal(r.cpuNext, 6, "the CPU trainer trains on from its own state");
  assert.deepEqual(page.errors, []);
});
