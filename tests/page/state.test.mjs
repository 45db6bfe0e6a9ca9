// The URL-hash parser, in plain Node (no browser): every key round-trips, invalid and hostile
// values fall back to defaults with a reason. (The CSV format: schema.test.mjs.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULTS, parseHash, toHash, runRules, evalEvery } from "../../www/lib/state.js";

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
