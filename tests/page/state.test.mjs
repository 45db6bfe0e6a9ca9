// The URL-hash parser, in plain Node (no browser): every key round-trips, invalid and hostile
// values fall back to defaults with a reason. (The CSV format: schema.test.mjs.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULTS, TRAIN_SIZES, parseHash, toHash, runRules, evalEvery, fitToData, explain } from "../../www/lib/state.js";

test("defaults: an empty hash gives the defaults and no problems", () => {
  const { state, problems } = parseHash("");
  assert.deepEqual(state, { ...DEFAULTS });
  assert.deepEqual(problems, []);
  assert.equal(toHash(state), "data=mnist&model=mlp:256&rule=cabs&lr=0.5&mmin=16&mmax=2048&mu=0.95&seed=1&baselines=const:16");
});

test("every key round-trips through the hash", () => {
  const s = { ...DEFAULTS, data: "spirals", model: "mlp:32,16:tanh", rule: "const:64:step:200:0.5", lr: 0.25, mmin: 8, mmax: 4096, mu: 0.9,
    seed: 42, baselines: "const:16,const:64:invtime:0.01", backend: "cpu", eval: 10, x: "seconds", embed: true, hide: "stats,noise", play: true };
  const { state, problems } = parseHash(`#${toHash(s)}`);
  assert.deepEqual(problems, []);
  assert.deepEqual(state, s);
  assert.equal(parseHash("#baselines=none").state.baselines, "");
  assert.equal(DEFAULTS.autopause, true);
  assert.equal(parseHash("#autopause=0").state.autopause, false);
  assert.equal(toHash({ ...DEFAULTS, autopause: false }).endsWith("&autopause=0"), true);
  assert.equal(toHash({ ...DEFAULTS }).includes("autopause"), false, "the default is not written");
  assert.match(parseHash("#autopause=maybe").problems[0], /autopause='maybe' is not 0 or 1/);
  assert.deepEqual(runRules({ ...DEFAULTS, baselines: "const:16,cabs,const:16" }), ["cabs", "const:16"]);
  assert.equal(evalEvery({ ...DEFAULTS }), 50);
  assert.equal(evalEvery({ ...DEFAULTS, data: "moons" }), 20);
});

test("invalid and hostile values fall back one by one, with reasons", () => {
  const bad = {
    data: "<script>alert(1)</script>", model: "mlp:999999", rule: "adam", lr: "-1", mmin: "0", mmax: "1e9", mu: "1", seed: "-5",
    baselines: "const:16,javascript:alert(1)", backend: "webgl", eval: "x", x: "time", embed: "yes", hide: "everything", play: "2",
  };
  const hash = "#" + Object.entries(bad).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&") + "&__proto__=1&constructor=x";
  const { state, problems } = parseHash(hash);
  assert.deepEqual(state, { ...DEFAULTS });
  for (const k of Object.keys(bad)) assert.ok(problems.some((p) => p.startsWith(`${k}=`)), `a problem for ${k}`);
  assert.ok(problems.some((p) => p.includes("unknown key '__proto__'")));
  assert.equal(Object.getPrototypeOf(state), Object.prototype);
  assert.deepEqual(parseHash("#mlp=" + "x".repeat(3000)).state, { ...DEFAULTS }, "overlong hashes are refused whole");
  assert.ok(parseHash("#model=mlp:64,64,64,64,64").problems.length === 1, "at most four hidden layers");
  const swapped = parseHash("#mmin=512&mmax=64");
  assert.equal(swapped.state.mmin, 16);
  assert.match(swapped.problems[0], /mmin=512 is above mmax=64/);
});

test("a key given twice: the last one counts, and the notice names the value used", () => {
  const bad = parseHash("#data=moons&lr=1&lr=abc&play=1");
  assert.equal(bad.state.lr, DEFAULTS.lr, "the last lr is invalid: the default trains, not the first lr");
  assert.deepEqual(bad.problems, [`lr='abc' (the last of 2) is not a number > 0 and ≤ 100; using lr=${DEFAULTS.lr}`]);
  assert.ok(toHash(bad.state).includes(`lr=${DEFAULTS.lr}`), "the rewritten hash holds the value used");
  const good = parseHash("#lr=abc&data=moons&lr=2&lr=3");
  assert.equal(good.state.lr, 3);
  assert.deepEqual(good.problems, ["lr is given 3 times; using the last, lr=3"]);
  assert.equal(parseHash("#evil=1&evil=2").problems.length, 1, "an unknown key repeated is one problem");
});

test("batch sizes a data set cannot give fall back to its size, with the value and the fallback named", () => {
  assert.deepEqual(TRAIN_SIZES, { mnist: 8000, spirals: 4096, moons: 4096, blobs: 4096 });
  const { state, problems } = parseHash("#data=moons&mmin=8192&mmax=8192&rule=const:8192:step:100:0.5&baselines=const:16,const:5000");
  assert.equal(state.mmin, 4096);
  assert.equal(state.mmax, 4096);
  assert.equal(state.rule, "const:4096:step:100:0.5");
  assert.equal(state.baselines, "const:16,const:4096");
  assert.deepEqual(problems, [
    "mmin=8192 asks for more than the 4,096 training examples of moons; using mmin=4096",
    "mmax=8192 asks for more than the 4,096 training examples of moons; using mmax=4096",
    "rule=const:8192:step:100:0.5 asks for more than the 4,096 training examples of moons; using rule=const:4096:step:100:0.5",
    "baselines=const:16,const:5000 asks for more than the 4,096 training examples of moons; using baselines=const:16,const:4096",
  ]);
  assert.match(parseHash("#mmax=8192").problems[0], /mmax=8192 asks for more than the 8,000 training examples of mnist; using mmax=8000/);
  assert.deepEqual(parseHash("#data=blobs&mmax=4096&rule=const:4096").problems, [], "the set's own size is allowed");
  const same = { ...DEFAULTS, data: "moons" };
  assert.equal(fitToData(same).state.mmax, DEFAULTS.mmax);
  assert.deepEqual(fitToData({ ...DEFAULTS, data: "files", mmax: 8192 }).problems, [], "unknown data: no bound here");
});

// The link is the page's boundary: each setting is checked there once, by the schema, and a bad
// value is named with the text given (the engine's own check, at Trainer.create, is the JS API's
// boundary: wasm-boundary.test.mjs; the CLI's: tests/cli/settings_schema.rs).
test("the link refuses each bad setting once, quoting the value given", () => {
  const bad = {
    data: ["imagenet", "MNIST"],
    model: ["mlp:x", "mlp:99999", "cnn"],
    rule: ["adam", "const:0", "const:16:step:0:0.5"],
    lr: ["abc", "0", "-1", "101", "1e999", "0x10", ""],
    mmin: ["0", "2.5", "9000", "-3"],
    mmax: ["0", "64.5", "1e9"],
    mu: ["1", "-0.1", "nan"],
    seed: ["-5", "1.5", "4294967296"],
    backend: ["webgl"],
  };
  for (const [key, values] of Object.entries(bad)) {
    for (const v of values) {
      const { state, problems } = parseHash(`#${key}=${encodeURIComponent(v)}`);
      assert.deepEqual(problems, [`${key}='${v}' is not ${explain(key)}; using ${key}=${DEFAULTS[key]}`], `${key}=${v}`);
      assert.equal(state[key], DEFAULTS[key], `${key}=${v}: the default is used`);
    }
  }
  // Good values pass untouched: the check above is not refusing everything.
  const good = parseHash("#data=moons&model=mlp:8&rule=const:32&lr=1e-30&mmin=2&mmax=64&mu=0&seed=4294967295&backend=cpu");
  assert.deepEqual(good.problems, []);
  assert.equal(good.state.lr, 1e-30);
});

test("grouped writes integers as toLocaleString('en') does, without Intl", async () => {
  const { grouped } = await import("../../www/lib/dom.js");
  for (const n of [0, 7, 999, 1000, -1000, 12345, 60000, 1234567, -9876543210, 2 ** 53 - 1]) {
    assert.equal(grouped(n), n.toLocaleString("en"), String(n));
  }
  assert.equal(grouped(0.5), "0.5"); // not an integer: as String writes it
  assert.equal(grouped(NaN), "NaN");
});

test("the page's own modules leave Intl alone (its first use would come before the first step)", async () => {
  const { readdirSync, readFileSync } = await import("node:fs");
  const www = new URL("../../www/", import.meta.url);
  const files = ["main.js", "worker.js", ...readdirSync(new URL("lib/", www)).map((f) => `lib/${f}`)];
  for (const f of files) {
    const code = readFileSync(new URL(f, www), "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    assert.doesNotMatch(code, /toLocale\w*String\(|\bIntl\.|localeCompare\(/, `${f} uses Intl (write numbers with grouped() of lib/dom.js)`);
  }
});
