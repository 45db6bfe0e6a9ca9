// One settings schema and one CSV formatter, both the engine's (Rust): the page's copy of the
// schema (www/lib/settings-schema.js) is what the engine exports (settingsSchema()); the URL
// parser, the controls and <cabs-demo> take their keys, defaults and limits from it; the parser
// and the engine's own checks (checkSettings) agree value by value; and the page's CSV export is
// the native runner's format, byte for byte (tests/page/csv-golden.json is written by
// tests/cli/settings_schema.rs with the runner's formatter). The engine runs here in Node, and the
// page in headless Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, openPage, ready, pageSuite } from "./harness.mjs";
import init, * as engine from "../../www/pkg/cabs.js";
import SCHEMA from "../../www/lib/settings-schema.js";
import { DEFAULTS, KEYS, PRESETS, parseValue, parseHash, explain } from "../../www/lib/state.js";
import { Run } from "../../www/lib/store.js";

const golden = JSON.parse(await readFile(join(ROOT, "tests/page/csv-golden.json"), "utf8"));
let server, browser;
pageSuite({ webgpu: false }, async (s) => {
  ({ server, browser } = s);
  await init({ module_or_path: await readFile(join(ROOT, "www/pkg/cabs_bg.wasm")) });
});

test("the page's schema is the engine's, and the page's defaults and limits are the schema's", () => {
  assert.deepEqual(engine.settingsSchema(), JSON.parse(JSON.stringify(SCHEMA)));
  const url = SCHEMA.keys.filter((k) => k.url);
  assert.deepEqual(KEYS, url.map((k) => k.key));
  assert.deepEqual(DEFAULTS, Object.fromEntries(url.map((k) => [k.key, k.default])));
  assert.deepEqual(PRESETS, SCHEMA.presets);
  for (const k of url) assert.equal(explain(k.key), k.expect);
  // The engine's defaults (checkSettings fills them in) are the schema's engine defaults.
  const engineDefaults = Object.fromEntries(SCHEMA.keys.filter((k) => k.engine).map((k) => [k.key, k.default]));
  assert.deepEqual(engine.checkSettings({}), engineDefaults);
  // A refusal names the schema's limits.
  const { problems } = parseHash("#mmax=9000&lr=200");
  assert.deepEqual(problems, [`mmax='9000' is not a whole number 1–8192, not below mmin; using mmax=2048`,
    `lr='200' is not a number > 0 and ≤ 100; using lr=0.5`]);
});

/** Values per engine key: accepted by both the link and the engine, refused by both. */
const AGREE = {
  data: [["mnist", "spirals", "moons", "blobs"], ["cifar", "MNIST", "", "<b>"]],
  backend: [["auto", "gpu", "cpu"], ["webgl", "GPU", ""]],
  model: [["logreg", "logreg:tanh", "mlp:1", "mlp:256", "mlp:2048", "mlp:64,32", "mlp:16,16:tanh", "mlp:8:relu", "mlp:1,2,3,4", "cnn-small", "cnn-mnist", "cnn-cifar"],
    ["", "mlp", "mlp:", "mlp:0", "mlp:a", "mlp:4:sigmoid", "mlp:4:relu:x", "cnn-mnist:tanh", "cnn", "MLP:16", "mlp:16,", "mlp:,16", "logreg:", "mlp:99999999", "<script>"]],
  rule: [["cabs", "const:1", "const:16", "const:8192", "const:64:step:200:0.5", "const:64:step:1:1", "const:64:step:1:1.0", "const:64:step:9999999:.5",
    "const:64:invtime:0.01", "const:64:invtime:0", "const:64:invtime:1e-3", "const:64:invtime:2.5E2",
    "norm:0.9", "norm:.5", "norm:10", "inner:2", "gns", "gns:0.25", "gns:1e-1", "adadamp:16", "adadamp:2048", "grow:16:20000:5", "grow:16:1:1", "grow:32:100:1.5"],
  ["adam", "const:0", "const:x", "const:2.5", "const:16:step:0:0.5", "const:16:step:2.7:0.5", "const:16:step:-5:0.5", "const:16:step:10:0",
    "const:16:step:10:1.5", "const:16:step:10:2", "const:16:invtime:-1", "const:16:invtime:nan", "const:16:invtime:", "const:16:cosine:1", "cabs:1", "eval(1)",
    "norm", "norm:", "norm:0", "norm:0.0", "norm:-1", "norm:x", "norm:0.5:1", "norm:inf", "inner:0", "gns:", "gns:0", "gns:-2", "gns:1:2", "adadamp", "adadamp:0",
    "adadamp:1.5", "grow:16:0:2", "grow:16:100:0.5", "grow:16:1e3:2", "grow:16:100", "grow:16:100:2:1", "Norm:0.5"]],
  lr: [["0.5", "1", "100", "1e-3", "2.5e1", ".5", "1e-30"], ["0", "-1", "abc", "", "NaN", "Infinity", "1e400", "1e39"]],
  mu: [["0", "0.5", "0.9999"], ["1", "-0.1", "x"]],
  mmin: [["1", "16", "8192"], ["0", "1.5", "-3", "x"]],
  mmax: [["1", "2048", "8192"], ["0", "2.5", "x"]],
  seed: [["0", "1", "4294967295"], ["-5", "1.5", "x"]],
};
/** Values the link refuses although the engine takes them: its limits on what a link may ask for,
 *  and numbers only as written (no spaces, signs or leading zeros). */
const LINK_ONLY = { model: ["mlp:4096", "mlp:64,64,64,64,64", "mlp: 16", "mlp:016"], rule: ["const:10000", "const:016", "const:16:step:10000000:0.5", "norm:1e100", "gns:1234567"],
  lr: ["1000"], mu: ["0.99999"], mmax: ["10000"], seed: ["4294967296"] };
/** And those the engine refuses after the link took it: α must survive 32-bit floats; an
 *  adaptive rule's M0 must lie within [mmin, mmax] (16–2048 here), which the link does not know. */
const ENGINE_ONLY = { lr: ["1e-40"], rule: ["adadamp:8", "grow:4096:100:2"] };

/** Does the engine take `raw` for `key` (typed as the page would pass it)? */
function engineTakes(key, raw) {
  const k = SCHEMA.keys.find((s) => s.key === key);
  const value = k.type === "number" && raw.trim() !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  try {
    engine.checkSettings({ ...(key === "mmin" && { mmax: 8192 }), ...(key === "mmax" && { mmin: 1 }), [key]: value });
    return true;
  } catch (e) {
    assert.ok(["ConfigError", "TypeError"].includes(e.name), `${key}=${raw}: ${e.name} ${e.message}`);
    return false;
  }
}

test("the URL parser and the engine agree on each value (the link's limits aside)", () => {
  for (const [key, [good, bad]] of Object.entries(AGREE)) {
    for (const v of good) assert.deepEqual([parseValue(key, v) !== undefined, engineTakes(key, v)], [true, true], `${key}=${v} is taken by both`);
    for (const v of bad) assert.deepEqual([parseValue(key, v) !== undefined, engineTakes(key, v)], [false, false], `${key}=${v} is refused by both`);
  }
  for (const [key, vs] of Object.entries(LINK_ONLY)) {
    for (const v of vs) assert.deepEqual([parseValue(key, v) !== undefined, engineTakes(key, v)], [false, true], `${key}=${v}: refused by the link only`);
  }
  for (const [key, vs] of Object.entries(ENGINE_ONLY)) {
    for (const v of vs) assert.deepEqual([parseValue(key, v) !== undefined, engineTakes(key, v)], [true, false], `${key}=${v}: refused by the engine only`);
  }
  // Baselines: up to four rules the engine takes (any rule), or none.
  assert.equal(parseValue("baselines", "none"), "");
  assert.equal(parseValue("baselines", "const:16,const:64:step:100:0.5,const:8,const:4"), "const:16,const:64:step:100:0.5,const:8,const:4");
  assert.equal(parseValue("baselines", "cabs,norm:0.9,gns,grow:16:20000:5"), "cabs,norm:0.9,gns,grow:16:20000:5");
  for (const v of ["const:16,const:8,const:4,const:2,const:1", "const:16,,const:8", "const:16:step:0:0.5", "norm:0", "gns,norm:-1"]) assert.equal(parseValue("baselines", v), undefined, v);
});

test("csvRow refuses what is not a step record with a TypeError, and leaves missing values empty", () => {
  const proxy = new Proxy({}, { get() { throw new Error("boom"); } });
  for (const [i, bad] of [null, undefined, 42, "x", [], proxy, { step: "1" }, { loss: {} }].entries()) {
    assert.throws(() => engine.csvRow(bad), (e) => e.name === "TypeError" && /record/.test(e.message), `case ${i}`);
  }
  const commas = engine.csvHeader().split(",").length - 1; // columns are appended: counted, not fixed here
  assert.equal(engine.csvRow({}), ",".repeat(commas));
  assert.equal(engine.csvRow({ step: 7, loss: NaN, xi: Infinity, wallMs: null, testLoss: 0.5 }), "7,,,,,,,,,,,,0.5" + ",".repeat(commas - 12));
  // The engine column holds one of its words, or nothing; anything else is refused, quoted.
  const at = engine.csvHeader().split(",").indexOf("engine");
  assert.equal(engine.csvRow({ engine: "gpu" }), ",".repeat(at) + "gpu" + ",".repeat(commas - at));
  assert.throws(() => engine.csvRow({ engine: "gpu,1" }), (e) => e.name === "TypeError" && e.message.includes('record.engine must be one of "cpu", "gpu", got the string "gpu,1"'));
});

/** The golden records as the page keeps them (JSON null: a value the step did not have). */
function goldenRun() {
  const run = new Run({ id: 0, rule: "cabs" });
  for (const r of golden.records) run.push(Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)));
  return run;
}

test("a run's CSV is the native runner's, byte for byte (engine in Node)", () => {
  assert.equal(goldenRun().toCsv(engine), golden.csv);
  assert.equal(engine.csvHeader(), golden.csv.split("\n")[0]);
});

test("the page's controls, presets, x-axis and <cabs-demo> come from the schema; its CSV export is the runner's", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&lr=3&backend=cpu&eval=5`);
  await ready(page);
  const controls = await page.evaluate(() => [...document.querySelectorAll("#controls .field")].map((f) => {
    const input = f.querySelector("input, select");
    return { id: input.id, name: input.getAttribute("name"), label: f.querySelector("label").textContent, help: f.querySelector(".help")?.textContent ?? null, min: input.getAttribute("min"), max: input.getAttribute("max"),
      options: [...f.querySelectorAll("select option, datalist option")].map((o) => o.value) };
  }));
  const withControl = SCHEMA.keys.filter((k) => k.control);
  assert.deepEqual(controls.filter((c) => c.name).map((c) => c.id), withControl.map((k) => `ctl-${k.key}`));
  for (const k of withControl) {
    const c = controls.find((c) => c.id === `ctl-${k.key}`);
    assert.equal(c.label, k.control.label);
    assert.equal(c.help, k.help);
    assert.deepEqual(c.options, k.type === "choice" ? k.values : k.control.suggestions ?? [], k.key);
    if (k.type === "number") assert.deepEqual([c.min, c.max], [String(k.min), String(k.max)], k.key);
  }
  assert.deepEqual(controls.find((c) => c.id === "ctl-preset").options.slice(1).map(Number), SCHEMA.presets.map((_, i) => i));
  const x = SCHEMA.keys.find((k) => k.key === "x");
  assert.deepEqual(await page.$$eval("#x-axis option", (os) => os.map((o) => [o.value, o.textContent])), x.values.map((v, i) => [v, x.labels[i]]));
  const observed = await page.evaluate(async () => { await import("/cabs-demo.js"); return customElements.get("cabs-demo").observedAttributes; }); // a classic script: no exports
  assert.deepEqual(observed, [...KEYS, "height"]);

  // The golden steps through the page's own modules (its store and the engine it loads for CSV).
  const csv = await page.evaluate(async (records) => {
    const [{ Run }, { csvEngine }] = await Promise.all([import("/lib/store.js"), import("/lib/exporter.js")]);
    const run = new Run({ id: 0, rule: "cabs" });
    for (const r of records) run.push(Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)));
    return run.toCsv(await csvEngine());
  }, golden.records);
  assert.equal(csv, golden.csv);

  // A real run: the CSV download is its JSON export's steps, formatted by the runner's code.
  await page.evaluate(async () => { for (let i = 0; i < 12; i++) await window.cabsDemo.step(); });
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs.every((r) => r.step >= 12));
  const [jsonDl] = await Promise.all([page.waitForEvent("download"), page.click("#export-json")]);
  const saved = JSON.parse(await readFile(await jsonDl.path(), "utf8"));
  const downloads = [];
  page.on("download", (d) => downloads.push(d));
  await page.click("#export-csv");
  for (const end = Date.now() + 20_000; downloads.length < saved.runs.length && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
  assert.equal(downloads.length, saved.runs.length, "one CSV per run");
  for (const [i, run] of saved.runs.entries()) {
    const text = await readFile(await downloads[i].path(), "utf8");
    const want = [engine.csvHeader(), ...run.steps.map((s) => engine.csvRow(s))].join("\n") + "\n";
    assert.equal(text, want, `run ${run.rule}`);
    assert.ok(run.steps.some((s) => typeof s.testAccuracy === "number"), "evaluated steps fill the test columns");
  }
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
