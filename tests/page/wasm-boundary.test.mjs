// The wasm boundary over a long session, through the shipped module (www/pkg/cabs.js) in headless
// Chromium. A JS exception that unwinds through wasm frames leaks a slot of the engine's shadow
// stack (and whatever Rust held): the module used to die after 1,922 of them, every export
// trapping with "memory access out of bounds" for good. Here every export is made to fail 10,000
// times in every way the guard (src/wasm_guard.js) knows, and afterwards
// - the module trains a short run with the same losses, bit for bit, as before;
// - its memory and its table of JS values have not grown (measured after a first round of 1,000,
//   so the allocator's warm-up is done; wasm-bindgen's `catch` imports leaked a slot per exception);
// - a step whose result cannot be delivered rejects with a named TypeError, and the next step works;
// - a numeric argument is a whole number in range or a RangeError/TypeError quoting it;
// - free() twice is a no-op, and a freed, foreign or forged handle never reaches Rust;
// - calls made from user code that the engine runs (a Proxy trap that steps and frees) are safe.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pageSuite } from "./harness.mjs";

const ROUNDS = 10_000;
const WARMUP = 1_000;
/** A call that has not settled by then counts as hung (a promise that never settles is one way
 *  a leaked exception shows). Generous: it only has to end the test instead of hanging it. */
const CALL_BOUND_MS = 60_000;

let server, browser, page;

// CABS_WWW=<folder> serves another copy of www/ (e.g. one holding an older pkg/), to see these
// tests fail where the boundary leaks. The CPU engine: the boundary is the same for both.
pageSuite({ webgpu: false, root: process.env.CABS_WWW || undefined }, async (s) => {
  ({ server, browser } = s);
  page = await browser.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  // A bare document on the server's origin (a 404 page, so none of the page's scripts run).
  await page.goto(`${server.url}bare-document-for-the-boundary-test`);
  await page.setContent("<!doctype html><title>wasm boundary</title>");
  await page.evaluate(async (bound) => {
    const m = await import("/pkg/cabs.js");
    const out = await m.default();
    const blobs = { data: "blobs", model: "mlp:8", mmax: 64, backend: "cpu", seed: 7 };
    /** A short run's figures: every step's loss, ξ and next batch size, then class probabilities. */
    async function train(settings = blobs, steps = 20) {
      const t = await m.Trainer.create(settings);
      const figures = [];
      for (let i = 0; i < steps; i++) {
        const s = await t.step();
        figures.push(s.loss, s.lossAvg, s.xi, s.nextBatchSize);
      }
      figures.push(...(await t.predict(new Float32Array([0, 0, 1, -1, 0.5, 2]))));
      t.free();
      return figures;
    }
    /** Indexes where a and b differ (Object.is: bit for bit up to NaN payloads, -0 counts). */
    const differ = (a, b) => (a.length !== b.length ? ["length"] : a.flatMap((x, i) => (Object.is(x, b[i]) ? [] : [i])));
    /** `f()`, awaited, or a rejection after `bound` ms when it never settles. */
    async function bounded(f) {
      let timer;
      const hung = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`HUNG: did not settle within ${bound} ms`)), bound); });
      try {
        return await Promise.race([(async () => f())(), hung]);
      } finally {
        clearTimeout(timer);
      }
    }
    /** How `f` ended: "ok" or "<name>: <message>" (never throws, never hangs). */
    async function outcome(f) {
      try {
        await bounded(f);
        return "ok";
      } catch (e) {
        return e instanceof Error ? `${e.name}: ${e.message}` : `not an Error: ${String(e)}`;
      }
    }
    // The wasm-bindgen table of JS values Rust holds (a slot leaked per exception would grow it).
    const table = out.__wbindgen_externrefs;
    window.api = { m, memory: out.memory, table, blobs, train, differ, outcome, bounded };
  }, CALL_BOUND_MS);
});

test("the issue's repro, 10,000 times: a setter that throws on Object.prototype never runs, and every export still works", async () => {
  const r = await page.evaluate(async (rounds) => {
    const { m } = window.api;
    let calls = 0;
    Object.defineProperty(Object.prototype, "help", { set() { calls++; throw new Error("x"); }, configurable: true });
    let failed = 0;
    try {
      for (let i = 0; i < rounds; i++) try { m.settingsSchema(); } catch { failed++; }
    } finally {
      delete Object.prototype.help;
    }
    return { calls, failed, row: m.csvRow({ step: 1 }), keys: m.settingsSchema().keys.length };
  }, ROUNDS);
  assert.equal(r.calls, 0, "the setter on Object.prototype ran");
  assert.equal(r.failed, 0);
  assert.match(r.row, /^1,/);
  assert.ok(r.keys > 5);
  assert.deepEqual(page.errors, []);
});

test("10,000 failures through every export, in every way the guard knows, leave the module training bit for bit as before, its memory unchanged", async () => {
  const r = await page.evaluate(async ({ rounds, warmup }) => {
    const { m, memory, table, blobs, train, differ, outcome, bounded } = window.api;
    const { Trainer } = m;
    if (!(table instanceof WebAssembly.Table)) throw new Error("pkg/cabs.js no longer exports its externref table as __wbindgen_externrefs: update this test");
    const before = await train();
    const otherSeed = await train({ ...blobs, seed: 8 });
    const t = await Trainer.create(blobs);
    await t.step();
    const freed = await Trainer.create(blobs);
    freed.free();
    const forged = await Trainer.create(blobs);
    const ptr = forged.__wbg_ptr;
    const lying = new Uint8Array(4);
    Object.defineProperty(lying, "length", { get() { throw new Error("length boom"); } });
    const detached = () => { const a = new Uint8Array(8); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };
    const getter = { get model() { throw new Error("getter boom"); } };
    const trap = new Proxy({}, { get() { throw new Error("trap boom"); } });
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const valueOf = { valueOf() { throw new Error("valueOf boom"); } };
    const record = { get loss() { throw new Error("record boom"); } };
    /** JSON.parse replaced by one that throws: the guard parses every result with it. */
    const undeliverable = async (f) => {
      const parse = JSON.parse;
      JSON.parse = () => { throw new Error("parse boom"); };
      try { return await f(); } finally { JSON.parse = parse; }
    };
    // [what, call, the error's name]
    const cases = [
      ["Trainer.create(throwing getter)", () => Trainer.create(getter), "TypeError"],
      ["Trainer.create(throwing Proxy)", () => Trainer.create(trap), "TypeError"],
      ["Trainer.create(revoked Proxy)", () => Trainer.create(revoked), "TypeError"],
      ["Trainer.create(mmax 2.5)", () => Trainer.create({ ...blobs, mmax: 2.5 }), "ConfigError"],
      ["Trainer.create(mnist, lying Uint8Array)", () => Trainer.create({ data: "mnist" }, lying), "DataError"],
      ["Trainer.create(mnist, detached)", () => Trainer.create({ data: "mnist" }, detached()), "DataError"],
      ["Trainer.createWithFiles(throwing getter)", () => Trainer.createWithFiles(blobs, [{ name: "x", get bytes() { throw new Error("boom"); } }]), "TypeError"],
      ["Trainer.createWithFiles(revoked Proxy)", () => Trainer.createWithFiles(blobs, revoked), "TypeError"],
      // Inflated by the browser (an await inside the export): a broken stream is a DataError.
      ["Trainer.createWithFiles(broken gzip)", () => Trainer.createWithFiles(blobs, [{ name: "x.gz", bytes: new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]) }]), "DataError"],
      ["step.call({})", () => Trainer.prototype.step.call({}), "TypeError"],
      ["step on a freed trainer", () => freed.step(), "TypeError"],
      ["step with a forged __wbg_ptr", () => { forged.__wbg_ptr = ptr + 8; try { return forged.step(); } finally { forged.__wbg_ptr = ptr; } }, "TypeError"],
      ["step, result undeliverable", () => undeliverable(() => t.step()), "TypeError"],
      ["evaluate.call(Proxy)", () => Trainer.prototype.evaluate.call(trap), "TypeError"],
      ["evaluate, result undeliverable", () => undeliverable(() => t.evaluate()), "TypeError"],
      ["predict(throwing Proxy)", () => t.predict(trap), "TypeError"],
      ["predict(odd length)", () => t.predict(new Float32Array(3)), "ConfigError"],
      ["setLearningRate({valueOf: throw})", () => t.setLearningRate(valueOf), "TypeError"],
      ["setLearningRate(1e39)", () => t.setLearningRate(1e39), "RangeError"],
      ["testPoints(-1)", () => t.testPoints(-1), "RangeError"],
      ["testPoints('7')", () => t.testPoints("7"), "TypeError"],
      ["testPoints({valueOf: throw})", () => t.testPoints(valueOf), "TypeError"],
      ["info.call(null)", () => Trainer.prototype.info.call(null), "TypeError"],
      ["info, result undeliverable", () => undeliverable(() => t.info()), "TypeError"],
      ["backend on a freed trainer", () => freed.backend(), "TypeError"],
      ["backend, result undeliverable", () => undeliverable(() => t.backend()), "TypeError"],
      ["profileStep.call(revoked Proxy)", () => Trainer.prototype.profileStep.call(revoked), "TypeError"],
      ["stepsDone.call(42)", () => Trainer.prototype.stepsDone.call(42), "TypeError"],
      ["free.call({})", () => Trainer.prototype.free.call({}), "TypeError"],
      ["Trainer.createFromState(throwing getter)", () => Trainer.createFromState(getter, new Uint8Array(8)), "TypeError"],
      ["Trainer.createFromState(detached)", () => Trainer.createFromState(blobs, detached()), "DataError"],
      ["exportState(throwing Proxy)", () => t.exportState(trap), "TypeError"],
      ["exportState({every: '10'})", () => t.exportState({ every: "10", nextStep: 0 }), "TypeError"],
      ["exportState({every: 0})", () => t.exportState({ every: 0, nextStep: 0 }), "RangeError"],
      ["exportState on a freed trainer", () => freed.exportState(), "TypeError"],
      ["importState(lying Uint8Array)", () => t.importState(lying), "DataError"],
      ["importState(throwing Proxy)", () => t.importState(trap), "TypeError"],
      ["importState.call({})", () => Trainer.prototype.importState.call({}, new Uint8Array(8)), "TypeError"],
      ["engines.call(null)", () => Trainer.prototype.engines.call(null), "TypeError"],
      ["engines, result undeliverable", () => undeliverable(() => t.engines()), "TypeError"],
      ["csvRow(throwing getter)", () => m.csvRow(record), "TypeError"],
      ["csvRow(revoked Proxy)", () => m.csvRow(revoked), "TypeError"],
      ["csvRow({loss: 'x'})", () => m.csvRow({ loss: "x" }), "TypeError"],
      ["checkSettings(throwing Proxy)", () => m.checkSettings(trap), "TypeError"],
      ["noteBrowserAdapter(a Proxy)", () => m.noteBrowserAdapter(trap), "TypeError"],
      ["checkSettings(lr 1e39)", () => m.checkSettings({ lr: 1e39 }), "ConfigError"],
      ["checkSettings, result undeliverable", () => undeliverable(() => m.checkSettings({})), "TypeError"],
      ["settingsSchema, result undeliverable", () => undeliverable(() => m.settingsSchema()), "TypeError"],
    ];
    const wrong = [];
    /** Each case n times; stops at the first call that does not fail as it should. */
    const barrage = async (n) => {
      for (const [what, f, want] of cases) {
        if (wrong.length) return;
        const first = await outcome(f);
        if (!first.startsWith(`${want}: `)) {
          wrong.push(`${what}: ${first} (wanted ${want})`);
          return;
        }
        for (let i = 1; i < n; i++) {
          try {
            await bounded(f);
          } catch (e) {
            if (!(e instanceof Error && e.name === want)) {
              wrong.push(`${what}: call ${i + 1}: ${e?.name}: ${e?.message}`);
              break;
            }
            continue;
          }
          wrong.push(`${what}: call ${i + 1} did not fail`);
          break;
        }
      }
    };
    // Exports that cannot fail, called with setters that throw on every key they return.
    const keys = ["0", "1", "step", "loss", "lossAvg", "xi", "testLoss", "kind", "adapter", "inputDim", "keys", "help", "lr", "name", "message", "__wbg_ptr"];
    let setterCalls = 0;
    /** f(), bounded, with the setters in place; they go even when f never settles. */
    const withSetters = async (f) => {
      for (const k of keys) Object.defineProperty(Object.prototype, k, { set() { setterCalls++; throw new Error(`setter ${k}`); }, configurable: true });
      try { return await bounded(f); } finally { for (const k of keys) delete Object.prototype[k]; }
    };
    let delivered;
    try {
      delivered = await withSetters(async () => {
      const s = await t.step();
      const e = await t.evaluate();
      const [xy, labels] = t.testPoints(3);
      return [s.step, e.step, t.info().inputDim, t.backend().kind, m.csvHeader().length > 0, m.settingsSchema().keys.length > 5,
        m.checkSettings({}).lr, xy.length, labels.length, t.stepsDone(), await (async () => {
          const fresh = await Trainer.create(blobs); // wasm-bindgen's __wrap assigns __wbg_ptr
          const n = (await fresh.step()).step;
          fresh.free();
          return n;
        })()];
      });
    } catch (e) {
      return { wrong: [`results made while setters throw on Object.prototype: ${e.name}: ${e.message}`] };
    }
    await barrage(warmup);
    if (wrong.length) return { wrong };
    const bytesAfterWarmup = memory.buffer.byteLength;
    const slotsAfterWarmup = table.length;
    await barrage(rounds);
    const bytesAfter = memory.buffer.byteLength;
    const slotsAfter = table.length;
    if (wrong.length) return { wrong };
    const stepAfter = await outcome(() => t.step());
    const steps = t.stepsDone();
    t.free();
    forged.free();
    const afterwards = await train();
    return {
      wrong, delivered, setterCalls, bytesAfterWarmup, bytesAfter, slotsAfterWarmup, slotsAfter, stepAfter, steps, cases: cases.length,
      same: differ(before, afterwards), seedsDiffer: differ(before, otherSeed).length, n: before.length,
    };
  }, { rounds: ROUNDS, warmup: WARMUP });
  assert.deepEqual(r.wrong, [], "every call fails every time, with the named error");
  assert.ok(r.cases >= 30);
  assert.equal(r.setterCalls, 0, "a setter on Object.prototype ran while a result was made");
  assert.deepEqual(r.delivered, [2, 2, 2, "cpu", true, true, 0.5, 6, 3, 2, 1]);
  assert.equal(r.stepAfter, "ok", "the trainer steps after its results could not be delivered");
  // 1 + 1 (with setters) + 11,000 undeliverable + 1: an undeliverable step was still taken.
  assert.equal(r.steps, 3 + WARMUP + ROUNDS);
  assert.equal(r.bytesAfter, r.bytesAfterWarmup, `the wasm memory grew from ${r.bytesAfterWarmup} to ${r.bytesAfter} bytes`);
  assert.equal(r.slotsAfter, r.slotsAfterWarmup, `the table of JS values grew from ${r.slotsAfterWarmup} to ${r.slotsAfter} slots`);
  assert.ok(r.seedsDiffer > 0, "the comparison below can fail: another seed gives other figures");
  assert.deepEqual(r.same, [], `a short run after the failures differs at ${r.same.length} of ${r.n} figures`);
  assert.deepEqual(page.errors, []);
});

test("numeric arguments: a whole number in range, or a RangeError/TypeError quoting the value", async () => {
  const r = await page.evaluate(async () => {
    const { m, blobs, outcome } = window.api;
    const t = await m.Trainer.create(blobs);
    const points = [];
    for (const max of [0, 5, 1024, 2 ** 32 - 1]) points.push(t.testPoints(max)[1].length);
    const refused = {};
    for (const [label, max] of [["-1", -1], ["1e308", 1e308], ["2**32", 2 ** 32], ["2**32+5", 2 ** 32 + 5], ["7.5", 7.5], ["NaN", NaN],
      ["Infinity", Infinity], ["'7'", "7"], ["null", null], ["undefined", undefined], ["10n", 10n], ["[7]", [7]]])
      refused[label] = await outcome(() => t.testPoints(max));
    const lr = {};
    for (const [label, x] of [["'0.1'", "0.1"], ["1e39", 1e39], ["-1", -1], ["0", 0], ["NaN", NaN], ["1e-320", 1e-320], ["undefined", undefined]])
      lr[label] = await outcome(() => t.setLearningRate(x));
    t.setLearningRate(0.25);
    const s = await t.step();
    t.free();
    return { points, refused, lr, lrUsed: s.lr };
  });
  assert.deepEqual(r.points, [0, 5, 1024, 1024]);
  const range = "RangeError: testPoints(max) needs a whole number from 0 to 4294967295, got number ";
  const type = "TypeError: testPoints(max) needs a whole number from 0 to 4294967295, got ";
  assert.deepEqual(r.refused, {
    "-1": `${range}-1`, "1e308": `${range}1e+308`, "2**32": `${range}4294967296`, "2**32+5": `${range}4294967301`,
    "7.5": `${range}7.5`, NaN: `${range}NaN`, Infinity: `${range}Infinity`,
    "'7'": `${type}the string "7"`, null: `${type}null`, undefined: `${type}undefined`, "10n": `${type}the bigint 10n`, "[7]": `${type}an array`,
  });
  assert.match(r.lr["'0.1'"], /^TypeError: setLearningRate\(lr\) needs a number, got the string "0\.1"$/);
  assert.match(r.lr.undefined, /^TypeError: .*got undefined$/);
  for (const [label, quoted] of [["1e39", "1e+39"], ["-1", "-1"], ["0", "0"], ["NaN", "NaN"], ["1e-320", "1e-320"]])
    assert.ok(r.lr[label].startsWith(`RangeError: setLearningRate(lr), got number ${quoted}: `), `setLearningRate(${label}): ${r.lr[label]}`);
  assert.equal(r.lrUsed, 0.25);
});

// The JS API's boundary: the settings object is checked once, as Trainer.create reads it (the
// same check checkSettings runs). Each bad value is a ConfigError that quotes it and is marked
// `invalidSettings`, which is how the page's worker tells it from a failure of the run itself
// (the link's own check: state.test.mjs; the CLI's: tests/cli/settings_schema.rs).
test("each bad setting is refused by Trainer.create and checkSettings alike: a ConfigError quoting the value, marked invalidSettings", async () => {
  const r = await page.evaluate(async () => {
    const { m, blobs } = window.api;
    const cases = [
      ["lr", -1], ["lr", 1e39], ["lr", 1e-40], ["lr", NaN], ["lr", "0.5"], ["mmax", 2.5], ["mmax", -1], ["mmin", 0], ["mmin", 100],
      ["seed", 1.5], ["mu", 1.5], ["c", -2], ["eps", -0.25], ["chunk", 0], ["rule", "adam"], ["rule", "const:16:step:0:0.5"],
      ["model", "mlp:x"], ["data", "imagenet"], ["backend", "webgl"], ["convNorms", "approximately"], ["unbiased", "yes"],
    ];
    const seen = (e) => (e instanceof Error ? `${e.name}${e.invalidSettings === true ? " [invalidSettings]" : ""}: ${e.message}` : `not an Error: ${String(e)}`);
    const out = [];
    for (const [key, value] of cases) {
      const settings = { ...blobs, mmax: 50, [key]: value };
      let create, check;
      try { (await m.Trainer.create(settings)).free(); create = "created"; } catch (e) { create = seen(e); }
      try { m.checkSettings(settings); check = "accepted"; } catch (e) { check = seen(e); }
      out.push({ key, value: typeof value === "string" ? `"${value}"` : String(value), create, check });
    }
    // A ConfigError of the run itself (the batch cannot exceed the data) is not a refused setting.
    let run;
    try { await m.Trainer.create({ ...blobs, mmax: 8192 }); run = "created"; } catch (e) { run = seen(e); }
    const good = m.checkSettings({ ...blobs, lr: 1e-30, mmin: 1, mmax: 1, chunk: 1 });
    return { out, run, goodLr: good.lr };
  });
  for (const { key, value, create, check } of r.out) {
    assert.ok(create.startsWith("ConfigError [invalidSettings]: invalid setting: "), `${key}=${value}: ${create}`);
    assert.equal(check, create, `${key}=${value}: checkSettings and Trainer.create refuse alike`);
    // As the engine writes them: a JS string described, Rust's `{:e}` for α out of f32's range.
    const quoted = { '"0.5"': 'the string "0.5"', '"yes"': 'the string "yes"', "1e+39": "1e39" }[value] ?? value.replace(/^"(.*)"$/, "$1");
    assert.ok(create.includes(quoted), `${key}=${value}: the message quotes ${quoted}: ${create}`);
  }
  assert.match(r.run, /^ConfigError: invalid setting: the largest batch \(8192\) exceeds/, "not marked: the run's own limit");
  assert.equal(r.goodLr, 1e-30);
});

test("free() twice is a no-op; a freed, foreign or forged handle is a TypeError and never reaches Rust", async () => {
  const r = await page.evaluate(async () => {
    const { m, blobs, outcome } = window.api;
    const { Trainer } = m;
    const a = await Trainer.create(blobs);
    const b = await Trainer.create(blobs);
    const out = {};
    out.freeTwice = await outcome(() => { a.free(); a.free(); a[Symbol.dispose](); });
    out.stepFreed = await outcome(() => a.step());
    out.freeForeign = await outcome(() => Trainer.prototype.free.call({}));
    out.freeNull = await outcome(() => Trainer.prototype.free.call(null));
    out.disposeForeign = await outcome(() => Trainer.prototype[Symbol.dispose].call({ __wbg_ptr: b.__wbg_ptr }));
    // a freed trainer given a live trainer's pointer is still a freed trainer
    a.__wbg_ptr = b.__wbg_ptr;
    out.freedWithLivePtr = await outcome(() => a.info());
    // a look-alike object with b's pointer and Trainer's prototype
    const lookalike = Object.create(Trainer.prototype, { __wbg_ptr: { value: b.__wbg_ptr } });
    out.lookalike = await outcome(() => lookalike.stepsDone());
    out.lookalikeFree = await outcome(() => lookalike.free());
    // b's own pointer changed, then a getter that would show the check one value and Rust another
    const ptr = b.__wbg_ptr;
    b.__wbg_ptr = 12345;
    out.forged = await outcome(() => b.step());
    out.forgedFree = await outcome(() => b.free());
    b.__wbg_ptr = ptr;
    out.getter = await outcome(() => Object.defineProperty(b, "__wbg_ptr", { get: () => ptr }));
    out.stillWorks = (await b.step()).step;
    b.free();
    out.afterFree = await outcome(() => b.stepsDone());
    return out;
  });
  assert.equal(r.freeTwice, "ok");
  assert.equal(r.stepFreed, "TypeError: Trainer.step called on a freed Trainer");
  assert.equal(r.freeForeign, "TypeError: Trainer.free called on an object, not a live Trainer");
  assert.equal(r.freeNull, "TypeError: Trainer.free called on null, not a live Trainer");
  assert.equal(r.disposeForeign, "TypeError: Trainer.free called on an object, not a live Trainer");
  assert.equal(r.freedWithLivePtr, "TypeError: Trainer.info called on a freed Trainer");
  assert.equal(r.lookalike, "TypeError: Trainer.stepsDone called on an object, not a live Trainer");
  assert.equal(r.lookalikeFree, "TypeError: Trainer.free called on an object, not a live Trainer");
  assert.equal(r.forged, "TypeError: Trainer.step called on a Trainer whose handle (__wbg_ptr) was changed");
  assert.equal(r.forgedFree, "TypeError: Trainer.free called on a Trainer whose handle (__wbg_ptr) was changed");
  assert.match(r.getter, /^TypeError: Cannot redefine property: __wbg_ptr/);
  assert.equal(r.stillWorks, 1);
  assert.equal(r.afterFree, "TypeError: Trainer.stepsDone called on a freed Trainer");
  assert.deepEqual(page.errors, []);
});

test("calls made from inside the engine's own reads (a Proxy trap that steps, frees and throws) neither corrupt nor stall it", async () => {
  const r = await page.evaluate(async () => {
    const { m, blobs, outcome } = window.api;
    const t = await m.Trainer.create(blobs);
    const other = await m.Trainer.create(blobs);
    let inner = null;
    const reentrant = new Proxy({}, {
      getPrototypeOf() {
        if (inner === null) {
          inner = t.step(); // a second call while predict holds the engine
          other.free(); // another trainer freed while wasm frames are on the stack
        }
        throw new Error("trap boom");
      },
    });
    const out = {};
    out.predict = await outcome(() => t.predict(reentrant));
    out.inner = await outcome(() => inner);
    out.otherAfter = await outcome(() => other.stepsDone());
    // free() while a step runs: the step finishes on the engine it started with
    const running = t.step();
    t.free();
    out.stepDuringFree = (await running).step;
    out.afterFree = await outcome(() => t.step());
    return out;
  });
  assert.equal(r.predict, "TypeError: predict's points must be a Float32Array, got an object");
  assert.equal(r.inner, "ok", "the step started from inside predict's read");
  assert.equal(r.otherAfter, "TypeError: Trainer.stepsDone called on a freed Trainer");
  assert.equal(r.stepDuringFree, 2);
  assert.equal(r.afterFree, "TypeError: Trainer.step called on a freed Trainer");
  assert.deepEqual(page.errors, []);
});
