// Time the demo page itself, as a visitor gets it, with different URL settings: ms per training
// step of the whole page (worker, statistics, charts and evaluations included) in headless
// Chromium with its SwiftShader WebGPU adapter. Each variant is a URL hash (the page keeps its settings there); variants are
// interleaved over rounds (A B C, then C B A, …), a fresh page per measurement, medians printed
// with the ratio of each variant to the first. "first step at" is the page's own time from navigation
// to its first training step.
//   node scripts/bench-page.mjs [HASH …]        default: "backend=auto" "backend=cpu"
//   env: ROUNDS=5 SECONDS=8 (measured window after the first step) WARMUP=2 (seconds)
//        WEBGPU=0: a Chromium without WebGPU (no --enable-unsafe-webgpu), as many visitors have
//        SITE=DIR: serve DIR instead of www/; a variant "sub#hash" opens DIR/sub/#hash (and
//          the first steps of copies with the same hash are also compared paired by round)
//        FILES=1: also list each file of a first load with its gzipped size
//        TRACE=1: also record a Chromium trace of each page and print the CPU time each thread
//          (by name) spent until the first step, top-level tasks and their main kinds (script,
//          layout, paint, wasm compilation): where a 2-core machine's time goes
//        AT=12,24: instead of the window, the first run's step count at these seconds after
//          navigation (the throughput figure: steps in 0–12 s and in 12–24 s, each variant's
//          ratio to the first's, and where auto's hand-over stood at each mark)
//        NET=MBIT,RTT_MS: Chromium's network emulation (DevTools' throttling) for the page and its
//          worker, e.g. NET=40,20: a 40 Mbit/s link with 20 ms round trips instead of localhost
//        BROWSER=firefox: Firefox (firefox-esr, headless, no WebGPU) driven over WebDriver BiDi,
//          its own remote protocol (no driver to install): the first step only, from the page's
//          own marks. SET_UP=1 installs firefox-esr with apt-get first when it is missing.
// It also prints where the first step's time went (the page's snapshot().startup marks) and what
// a first load weighs gzipped (every file the page and its worker fetched, the data set apart).
// It serves www/ (needs www/pkg from scripts/build-wasm.sh and www/data/mnist.bin.gz).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const variants = process.argv.length > 2 ? process.argv.slice(2) : ["backend=auto", "backend=cpu"];
const rounds = Number(process.env.ROUNDS ?? 5);
const seconds = Number(process.env.SECONDS ?? 8);
const warmup = Number(process.env.WARMUP ?? 2);
const marksAt = process.env.AT ? process.env.AT.split(",").map(Number) : null;
if (marksAt && !marksAt.every((t, i) => t > 0 && (i === 0 || t > marksAt[i - 1]))) throw new Error(`AT must be increasing seconds, got ${process.env.AT}`);
const firefox = process.env.BROWSER === "firefox";
// NET=MBIT,RTT_MS: a visitor's link instead of localhost's (Chromium only), e.g. NET=40,20
const network = process.env.NET ? (([mbit, rttMs]) => ({ mbit, rttMs }))(process.env.NET.split(",").map(Number)) : null;
if (network && !(network.mbit > 0 && network.rttMs >= 0)) throw new Error(`NET must be MBIT,RTT_MS (e.g. 40,20), got ${process.env.NET}`);
if (network && firefox) throw new Error("NET is for Chromium only (DevTools network emulation)");
if (process.env.BROWSER && !firefox) throw new Error(`BROWSER=${process.env.BROWSER}: only firefox (or unset: Chromium) is known`);
if (firefox && !existsSync("/usr/bin/firefox-esr")) {
  // Like the page tests' set-up of Chromium: installed only when asked, for this benchmark alone.
  if (process.env.SET_UP !== "1") throw new Error("BROWSER=firefox needs /usr/bin/firefox-esr: apt-get install -y firefox-esr (or rerun with SET_UP=1)");
  execFileSync("apt-get", ["install", "-y", "firefox-esr"], { stdio: "inherit" });
}

const freePort = () => new Promise((ok) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); }); });
const port = await freePort();
// SITE: another folder to serve; a variant "dir#hash" opens dir/ in it (e.g. two copies of www/
// side by side, to compare a change with the tree before it, interleaved in one run).
const SITE = process.env.SITE || join(ROOT, "www");
const server = spawn(process.execPath, [join(ROOT, "scripts", "serve.mjs"), SITE], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
await new Promise((ok) => server.stdout.on("data", (d) => { if (String(d).includes("serving")) ok(); }));
// A fresh browser per measurement, as a new visitor has: one browser's GPU process would carry
// the previous page's pipeline compiles (seconds on SwiftShader) into the next page's start-up.
const launch = () => chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-quic", "--enable-unsafe-swiftshader", ...(process.env.WEBGPU === "0" ? [] : ["--enable-unsafe-webgpu"])] });

/**
 * Wait for the page's first step, asked over the DevTools protocol with a one-line expression every
 * 50 ms. Not Playwright's waitForFunction: its first call puts Playwright's helper script (330 KB)
 * into the page, and evaluating it took ≈ 20 ms of the page's thread in a fresh browser, inside
 * the very window measured — work no visitor's page does. (The figure itself is the page's own
 * clock, `snapshot().timing.firstStepMs`.)
 */
async function untilFirstStep(page, query) {
  const cdp = await page.context().newCDPSession(page);
  try {
    for (const until = Date.now() + 120_000; Date.now() < until;) {
      const { result } = await cdp.send("Runtime.evaluate", { expression: "window.cabsDemo?.snapshot().runs[0]?.step > 0", returnByValue: true });
      if (result?.value === true) return;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    throw new Error(`${query}: no first step within 120 s`);
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** One page load: {msPerStep, firstStepMs, backend} — steps counted on the first run of the page. */
async function measure(query) {
  if (firefox) return measureFirefox(query);
  const browser = await launch();
  try {
    return await measureIn(browser, query);
  } finally {
    await browser.close();
  }
}

async function measureIn(browser, query) {
  const page = await browser.newPage();
  // Every file this first load fetched, the worker's included (Playwright reports both).
  const paths = [];
  page.context().on("requestfinished", (r) => paths.push(new URL(r.url()).pathname));
  transferred = async () => gzipped(paths);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const [dir, hash] = query.includes("#") ? query.split("#") : ["", query];
  if (tracing) await browser.startTracing(page, { categories: TRACE_CATEGORIES });
  if (network) {
    // DevTools' network emulation: the page's and its worker's requests share the tab's link.
    const net = await page.context().newCDPSession(page);
    await net.send("Network.enable");
    await net.send("Network.emulateNetworkConditions", { offline: false, latency: network.rttMs,
      downloadThroughput: network.mbit * 125_000, uploadThroughput: network.mbit * 125_000 });
  }
  await page.goto(`http://127.0.0.1:${port}/${dir ? `${dir}/` : ""}#${hash}&play=1`);
  await untilFirstStep(page, query);
  const cpu = tracing ? cpuUntil(JSON.parse(String(await browser.stopTracing())).traceEvents, await page.evaluate(() => window.cabsDemo.snapshot().timing.firstStepMs)) : null;
  if (marksAt) {
    // The first run's steps at each mark (page clock: ms since navigation), and the hand-over's state.
    const at = [];
    for (const t of marksAt) {
      await page.waitForFunction((ms) => performance.now() >= ms, t * 1000, { timeout: (t + 60) * 1000, polling: 20 });
      at.push(await page.evaluate(() => { const s = window.cabsDemo.snapshot(); return { t: performance.now(), step: s.runs[0].step, engine: s.backend?.kind, handover: s.backend?.handover?.state ?? null }; }));
    }
    const s = await page.evaluate(() => window.cabsDemo.snapshot());
    await page.close();
    if (errors.length) throw new Error(`${query}: page error: ${errors[0]}`);
    return { at, msPerStep: NaN, firstStepMs: s.timing.firstStepMs, backend: s.backend?.kind ?? "?", startup: s.startup ?? {}, snapshots: null, bytes: await transferred(s), cpu };
  }
  await page.waitForTimeout(warmup * 1000);
  const at = () => page.evaluate(() => ({ t: performance.now(), s: window.cabsDemo.snapshot() }));
  const a = await at();
  await page.waitForTimeout(seconds * 1000);
  const b = await at();
  await page.close();
  if (errors.length) throw new Error(`${query}: page error: ${errors[0]}`);
  const steps = b.s.runs[0].step - a.s.runs[0].step;
  if (!(steps > 0)) throw new Error(`${query}: no steps in ${seconds} s`);
  return { msPerStep: (b.t - a.t) / steps, firstStepMs: b.s.timing.firstStepMs, backend: b.s.backend?.kind ?? "?", startup: b.s.startup ?? {},
    snapshots: b.s.backend?.handover?.snapshots ?? null, bytes: await transferred(b.s), cpu };
}

const tracing = process.env.TRACE === "1" && !firefox;
const TRACE_CATEGORIES = ["toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "v8.wasm", "blink.user_timing", "loading"];
/** The kinds of work counted inside the top-level tasks (Chromium's trace event names). */
const TRACE_KINDS = ["EvaluateScript", "v8.evaluateModule", "v8.compileModule", "FunctionCall", "HandlePostMessage", "ParseHTML", "Layout",
  "UpdateLayoutTree", "Paint", "wasm.CompileLazy", "v8.parseOnBackground", "RasterTask", "MajorGC", "MinorGC"];

/** CPU ms per "thread · kind" from navigation to the first step (`firstMs` on the page's clock). */
function cpuUntil(events, firstMs) {
  const names = {};
  for (const e of events) if (e.ph === "M" && e.name === "thread_name") names[`${e.pid}:${e.tid}`] = e.args.name;
  const nav = events.find((e) => e.name === "navigationStart");
  if (!nav) return null;
  const [t0, t1] = [nav.ts, nav.ts + firstMs * 1000];
  const out = {};
  for (const e of events) {
    if (e.ph !== "X" || !e.dur) continue;
    const overlap = Math.min(e.ts + e.dur, t1) - Math.max(e.ts, t0);
    if (overlap <= 0) continue;
    const thread = names[`${e.pid}:${e.tid}`] ?? "?";
    const kind = e.cat === "toplevel" && /RunTask$/.test(e.name) ? "tasks" : TRACE_KINDS.includes(e.name) ? e.name : null;
    if (kind) out[`${thread} · ${kind}`] = (out[`${thread} · ${kind}`] ?? 0) + overlap / 1000;
  }
  return out;
}

let transferred = async () => null;

/**
 * One page load in headless Firefox, driven over WebDriver BiDi (Firefox's built-in remote
 * protocol, `--remote-debugging-port`): navigate, poll the page's `snapshot()` until the first
 * step, return its own timing. A fresh profile and browser per load, as for Chromium.
 */
async function measureFirefox(query) {
  const profile = mkdtempSync(join(tmpdir(), "cabs-firefox-"));
  const ff = spawn("/usr/bin/firefox-esr", ["--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0", "about:blank"],
    { stdio: ["ignore", "ignore", "pipe"] });
  try {
    const url = await new Promise((ok, fail) => {
      let err = "";
      const timer = setTimeout(() => fail(new Error(`Firefox did not start its WebDriver BiDi server in 60 s: ${err.slice(-400)}`)), 60_000);
      ff.stderr.on("data", (d) => { err += d; const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(err); if (m) { clearTimeout(timer); ok(m[1]); } });
      ff.on("exit", (code) => fail(new Error(`Firefox exited (${code}) before its BiDi server started: ${err.slice(-400)}`)));
    });
    const bidi = await connectBidi(`${url}/session`);
    try {
      await bidi.send("session.new", { capabilities: {} });
      const { contexts } = await bidi.send("browsingContext.getTree", {});
      const context = contexts[0].context;
      const [dir, hash] = query.includes("#") ? query.split("#") : ["", query];
      await bidi.send("browsingContext.navigate", { context, url: `http://127.0.0.1:${port}/${dir ? `${dir}/` : ""}#${hash}&play=1`, wait: "none" });
      const evaluate = async (expression) => {
        const r = await bidi.send("script.evaluate", { expression, target: { context }, awaitPromise: true });
        if (r.type === "exception") throw new Error(`${query}: in Firefox: ${r.exceptionDetails?.text}`);
        return r.result?.value;
      };
      const until = Date.now() + 120_000;
      for (;;) {
        const text = await evaluate("(() => { const d = window.cabsDemo; if (!d) return ''; const s = d.snapshot(); return s.runs[0] && s.runs[0].step > 0 ? JSON.stringify({ timing: s.timing, startup: s.startup, backend: s.backend && s.backend.kind, error: document.getElementById('error').textContent }) : (document.getElementById('error').hidden ? '' : 'error:' + document.getElementById('error').textContent); })()").catch(() => "");
        if (text.startsWith("error:")) throw new Error(`${query}: the page in Firefox says: ${text.slice(6)}`);
        if (text) {
          const s = JSON.parse(text);
          return { msPerStep: NaN, firstStepMs: s.timing.firstStepMs, backend: s.backend ?? "?", startup: s.startup ?? {}, snapshots: null, bytes: null };
        }
        if (Date.now() > until) throw new Error(`${query}: no first step in Firefox in 120 s`);
        await new Promise((ok) => setTimeout(ok, 50));
      }
    } finally {
      await bidi.send("browser.close", {}).catch(() => {});
      bidi.close();
    }
  } finally {
    ff.kill();
    await new Promise((ok) => (ff.exitCode !== null ? ok() : ff.once("exit", ok)));
    rmSync(profile, { recursive: true, force: true });
  }
}

/** A minimal WebDriver BiDi client: send(method, params) resolves to the command's result. */
async function connectBidi(url) {
  // Node 22 has a global WebSocket; on Node 20, the `ws` that playwright-core bundles.
  const WS = globalThis.WebSocket ?? createRequire(import.meta.url)("playwright-core/lib/utilsBundle").ws;
  const ws = new WS(url);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = (e) => fail(new Error(`WebDriver BiDi: ${e.message ?? "cannot connect"}`)); });
  let next = 0;
  const waiting = new Map();
  ws.onmessage = (e) => {
    const msg = JSON.parse(String(e.data));
    const w = waiting.get(msg.id);
    if (!w) return; // an event
    waiting.delete(msg.id);
    if (msg.type === "error") w.fail(new Error(`WebDriver BiDi ${w.method}: ${msg.error}: ${msg.message}`));
    else w.ok(msg.result);
  };
  return {
    send: (method, params) => new Promise((ok, fail) => { const id = ++next; waiting.set(id, { ok, fail, method }); ws.send(JSON.stringify({ id, method, params })); }),
    close: () => ws.close(),
  };
}

/** What the paths served would weigh gzipped (as a static host sends them): {total, wasm, data, files}. */
function gzipped(paths) {
  const out = { total: 0, wasm: 0, data: 0, files: 0, each: [] };
  for (const p of new Set(paths)) {
    let file = join(SITE, decodeURIComponent(p));
    if (p.endsWith("/")) file = join(file, "index.html");
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file);
    const n = p.endsWith(".gz") ? bytes.length : gzipSync(bytes, { level: 9 }).length; // a .gz is sent as it is
    if (/\.bin(\.gz)?$/.test(p)) { out.data += n; continue; } // the data set: counted apart
    out.total += n;
    out.files++;
    out.each.push([p, n]);
    if (p.endsWith(".wasm")) out.wasm += n;
  }
  return out;
}

const results = new Map(variants.map((v) => [v, []]));
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const v of order) results.get(v).push(await measure(v));
  }
} finally {
  server.kill();
}
const median = (v) => { const s = [...v].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const browserName = firefox ? "Firefox ESR (no WebGPU)" : `Chromium (${process.env.WEBGPU === "0" ? "no WebGPU" : "SwiftShader WebGPU"})`;
if (firefox || marksAt) {
  console.log(`demo page, headless ${browserName}, ${rounds} fresh pages per variant, interleaved, medians`);
  for (const v of variants) console.log(`${v.padEnd(20)} first step at ${median(results.get(v).map((x) => x.firstStepMs)).toFixed(0).padStart(6)} ms  (each: ${results.get(v).map((x) => x.firstStepMs).join(", ")})  engine ${[...new Set(results.get(v).map((x) => x.backend))].join("/")}`);
}
if (marksAt) {
  // Steps of the first run in each interval between marks, medians, and the ratio to the first variant.
  const spans = marksAt.map((t, i) => [i ? marksAt[i - 1] : 0, t]);
  const steps = (x, i) => x.at[i].step - (i ? x.at[i - 1].step : 0);
  console.log(`\nsteps of the first run per interval (seconds after navigation), medians; ratio to ${variants[0]}`);
  for (const v of variants) {
    const r = results.get(v);
    const cells = spans.map(([a, b], i) => {
      const mine = median(r.map((x) => steps(x, i)));
      const base = median(results.get(variants[0]).map((x) => steps(x, i)));
      return `${a}–${b} s: ${mine.toFixed(0).padStart(5)} (${(mine / base).toFixed(2)}×)`;
    });
    const states = marksAt.map((t, i) => `${t} s ${[...new Set(r.map((x) => `${x.at[i].engine}${x.at[i].handover ? `/${x.at[i].handover}` : ""}`))].join("|")}`);
    console.log(`${v.padEnd(20)} ${cells.join("  ")}   engine/hand-over at ${states.join(", ")}`);
  }
}
if (firefox || marksAt) {
  server.kill();
  printPaired();
  printMarks();
  process.exit(0);
}
console.log(`demo page with default settings, headless ${browserName}, ${rounds} rounds × ${seconds} s after a ${warmup} s warm-up, medians`);
const base = median(results.get(variants[0]).map((r) => r.msPerStep));
for (const v of variants) {
  const r = results.get(v);
  const ms = median(r.map((x) => x.msPerStep));
  const engines = [...new Set(r.map((x) => x.backend))].join("/");
  console.log(`${v.padEnd(20)} ${ms.toFixed(2).padStart(8)} ms/step  first step at ${median(r.map((x) => x.firstStepMs)).toFixed(0).padStart(6)} ms  engine ${engines}  ratio to ${variants[0]}: ${(ms / base).toFixed(2)}`);
}
printPaired();
// Where the first step's time went: the page's snapshot().startup marks (ms since navigation),
// medians per variant; and what a first load transferred (encoded bytes, as served: no gzip here).
printMarks();

/**
 * Copies of the site compared (SITE=DIR, variants "a#hash" "b#hash"): each later copy's first step
 * minus the first copy's with the same hash, paired by round (the two pages of a round loaded one
 * after the other, so they shared the machine's state of the moment): the steadier comparison.
 */
function printPaired() {
  const byHash = new Map();
  for (const v of variants.filter((x) => x.includes("#"))) {
    const hash = v.slice(v.indexOf("#") + 1);
    byHash.set(hash, [...(byHash.get(hash) ?? []), v]);
  }
  const lines = [];
  for (const [, [first, ...others]] of byHash) {
    for (const v of others) {
      const d = results.get(v).map((x, i) => x.firstStepMs - results.get(first)[i].firstStepMs);
      lines.push(`${v.padEnd(24)} − ${first.padEnd(24)} median ${median(d).toFixed(0).padStart(4)} ms, earlier in ${d.filter((x) => x < 0).length} of ${d.length} rounds (each: ${d.join(", ")})`);
    }
  }
  if (lines.length) console.log(`\nfirst step, paired by round:\n${lines.join("\n")}`);
}
function printMarks() {
const keys = [...new Set(variants.flatMap((v) => results.get(v).flatMap((x) => Object.keys(x.startup))))].sort((a, b) =>
  median(results.get(variants[0]).map((x) => x.startup[a] ?? Infinity)) - median(results.get(variants[0]).map((x) => x.startup[b] ?? Infinity)));
if (keys.length) {
  console.log(`\nstart-up marks, ms since navigation (medians)\n${"mark".padEnd(22)}${variants.map((v) => v.slice(0, 18).padStart(20)).join("")}`);
  for (const k of keys) console.log(`${k.padEnd(22)}${variants.map((v) => { const xs = results.get(v).map((x) => x.startup[k]).filter(Number.isFinite); return (xs.length ? median(xs).toFixed(0) : "–").padStart(20); }).join("")}`);
  // Per page, not from the medians above (each mark's median may come from another page): what
  // the first trainer waited for last (the engine, the data or the page's init message), how
  // long making it took after that, and the first step after it.
  const gates = ["worker.engine", "worker.data", "worker.init"];
  const spans = (x) => {
    const s = x.startup, at = gates.filter((g) => Number.isFinite(s[g]));
    if (!at.length || !Number.isFinite(s["worker.firstTrainer"]) || !Number.isFinite(s.firstStep)) return null;
    const last = at.reduce((a, b) => (s[b] > s[a] ? b : a));
    return { last: last.slice(7), create: s["worker.firstTrainer"] - s[last], step: s.firstStep - s["worker.firstTrainer"] };
  };
  const per = variants.map((v) => results.get(v).map(spans).filter(Boolean));
  if (per.some((p) => p.length)) {
    console.log(`\nper page, medians: the first trainer's last wait, making it, then the first step (ms)`);
    for (const [i, v] of variants.entries()) {
      const p = per[i];
      if (!p.length) continue;
      const waits = gates.map((g) => g.slice(7)).map((g) => `${g} ${p.filter((x) => x.last === g).length}`).join(", ");
      console.log(`${v.slice(0, 28).padEnd(30)}waited last for: ${waits}; making it ${median(p.map((x) => x.create)).toFixed(0)}; first step ${median(p.map((x) => x.step)).toFixed(0)}`);
    }
  }
}
}
if (tracing) {
  // Per thread name (several pool threads share one) and kind, medians over the pages.
  const keys = [...new Set(variants.flatMap((v) => results.get(v).flatMap((x) => Object.keys(x.cpu ?? {}))))];
  const med = (v, k) => median(results.get(v).map((x) => x.cpu?.[k] ?? 0));
  console.log(`\nCPU time until the first step, ms (medians; Chromium's trace)\n${"thread · kind".padEnd(48)}${variants.map((v) => v.slice(0, 18).padStart(20)).join("")}`);
  for (const k of keys.filter((k) => variants.some((v) => med(v, k) >= 2)).sort((a, b) => med(variants[0], b) - med(variants[0], a)))
    console.log(`${k.slice(0, 46).padEnd(48)}${variants.map((v) => med(v, k).toFixed(0).padStart(20)).join("")}`);
}
for (const v of variants) {
  const s = results.get(v).map((x) => x.snapshots).filter((x) => x && x.count > 1);
  if (s.length) console.log(`${v}: WebGPU snapshots every ${s[0].everyMs} ms cost ${(100 * median(s.map((x) => x.share))).toFixed(2)} % of the step time (median of ${s.length} pages)`);
}
for (const v of variants) {
  const b = results.get(v)[0].bytes;
  if (b && process.env.FILES === "1") for (const [p, n] of b.each.sort((x, y) => y[1] - x[1])) console.log(`  ${String(n).padStart(7)} B  ${p}`);
  if (b) console.log(`${v}: a first load is ${b.files} files, ${b.total.toLocaleString("en")} B gzipped (the wasm ${b.wasm.toLocaleString("en")} B)${b.data ? `, plus the data set ${b.data.toLocaleString("en")} B` : ""}`);
}
