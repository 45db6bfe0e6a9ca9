// Soak the demo page: train for N minutes in headless Chromium and watch memory. Every SAMPLE
// seconds it records the renderer processes' resident memory (VmRSS from /proc, summed over
// the browser's renderer children), the page's JS heap (CDP Performance.getMetrics) and the
// steps done; at the end it prints the RSS slope after the first WARM minutes (least squares,
// MB per minute) and the step rate in the first and the last minute.
//   node scripts/soak-page.mjs [--minutes 10] [--embeds 6] [--hash "backend=cpu"] [--sample 30] [--warm 2]
//                              [--minimal tick|tick-closed]
//   env: MINUTES, EMBEDS, HASH, SAMPLE, WARM, CSV (a file to write the samples to)
// --embeds N: a generated page with N <cabs-demo> elements (autopause="0", all training);
// --minimal: no demo at all, a page whose worker only yields the way worker.js does between
// steps (a new MessageChannel per round; tick-closed closes it), to tell the browser's growth
// from ours. Serves www/ (needs www/pkg from scripts/build-wasm.sh). The numbers depend on the
// machine's load: on a shared machine, say so next to them.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, env, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  return process.env[env] ?? dflt;
};
const minutes = Number(opt("minutes", "MINUTES", 10));
const embeds = Number(opt("embeds", "EMBEDS", 0));
const hash = opt("hash", "HASH", "backend=cpu");
const sampleS = Number(opt("sample", "SAMPLE", 30));
const warm = Number(opt("warm", "WARM", 2));
const minimal = opt("minimal", "MINIMAL", "");
const csvOut = process.env.CSV || "";
for (const [name, v] of [["minutes", minutes], ["embeds", embeds], ["sample", sampleS], ["warm", warm]])
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number ≥ 0, got '${v}'`);
if (minimal && !["tick", "tick-closed"].includes(minimal)) throw new Error(`--minimal must be tick or tick-closed, got '${minimal}'`);

const freePort = () => new Promise((ok) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); }); });
const port = await freePort();
const server = spawn(process.execPath, [join(ROOT, "scripts", "serve.mjs"), join(ROOT, "www")], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
await new Promise((ok) => server.stdout.on("data", (d) => { if (String(d).includes("serving")) ok(); }));
const base = `http://127.0.0.1:${port}/`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-quic", "--enable-unsafe-webgpu", "--enable-unsafe-swiftshader"] });

/** Our process tree's renderer processes: [{pid, rssKb}] (Chromium's children with --type=renderer). */
function renderers() {
  const parent = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* gone meanwhile */ }
  }
  const ours = (pid) => { for (let p = pid, n = 0; p > 1 && n < 20; p = parent.get(p), n++) if (p === process.pid) return true; return false; };
  const out = [];
  for (const pid of parent.keys()) {
    if (!ours(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--type=renderer")) continue;
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) out.push({ pid, rssKb: Number(m[1]) });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** A page of n <cabs-demo> elements, all training (served at examples/, next to post.html). */
function embedsPage(n) {
  const demos = Array.from({ length: n }, (_, i) => `<cabs-demo id="d${i}" data="${["blobs", "moons", "spirals"][i % 3]}" model="mlp:16,16:tanh" lr="2" baselines="const:16,const:128" backend="cpu" play="1" autopause="0"></cabs-demo>`).join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>soak: ${n} embeds</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="examples.css"><script type="module" src="../cabs-demo.js"></script></head>
<body class="post"><article>${demos}</article></body></html>`;
}

/** The minimal page: a worker that only yields between "steps" as worker.js does, and counts. */
function minimalPage(closed) {
  const worker = `let n = 0;
const tick = () => new Promise((resolve) => { const ch = new MessageChannel(); ch.port1.onmessage = () => { ${closed ? "ch.port1.close(); " : ""}resolve(); }; ch.port2.postMessage(0); });
(async () => { for (;;) { for (let i = 0; i < 200; i++) { n++; await tick(); } await new Promise((r) => setTimeout(r, 1)); if (n % 2000 < 200) postMessage(n); } })();`;
  const html = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body><p id="n">0</p><script>
const w = new Worker(URL.createObjectURL(new Blob([${JSON.stringify(worker)}], { type: "text/javascript" })));
window.steps = 0; w.onmessage = (e) => { window.steps = e.data; };
</script></body></html>`;
  return html;
}

const context = await browser.newContext({ viewport: { width: 1280, height: embeds ? 4000 : 900 } });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
let url;
if (minimal) {
  url = `${base}soak-minimal.html`;
  await page.route(url, (r) => r.fulfill({ contentType: "text/html", body: minimalPage(minimal === "tick-closed") }));
} else if (embeds > 0) {
  url = `${base}examples/soak-embeds.html`;
  await page.route(url, (r) => r.fulfill({ contentType: "text/html", body: embedsPage(embeds) }));
} else {
  url = `${base}#${hash}&play=1&autopause=0`;
}
await page.goto(url);
const cdp = await context.newCDPSession(page);
await cdp.send("Performance.enable");

/** Steps done so far: the page's first run, or the sum over the embeds' first runs. */
const steps = () => page.evaluate(() => {
  if (typeof window.steps === "number") return window.steps;
  if (window.cabsDemo) return window.cabsDemo.snapshot().runs[0]?.step ?? 0;
  let sum = 0;
  for (const d of document.querySelectorAll("cabs-demo")) sum += d.cabsDemo?.snapshot().runs[0]?.step ?? 0;
  return sum;
});
const heapMb = async () => {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return (metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? NaN) / 2 ** 20;
};

const what = minimal ? `minimal page (${minimal})` : embeds ? `${embeds} embeds on one page` : `the demo page #${hash}`;
console.log(`soak: ${what}, ${minutes} min, a sample every ${sampleS} s`);
console.log("   min  renderer MB (sum / largest)  page JS heap MB    steps");
const t0 = Date.now();
const samples = [];
while (true) {
  const t = (Date.now() - t0) / 60_000;
  const r = renderers();
  const s = { t, rssMb: r.reduce((a, x) => a + x.rssKb, 0) / 1024, maxMb: Math.max(0, ...r.map((x) => x.rssKb)) / 1024, heapMb: await heapMb(), steps: await steps() };
  samples.push(s);
  console.log(`${t.toFixed(2).padStart(6)}  ${s.rssMb.toFixed(1).padStart(9)} / ${s.maxMb.toFixed(1).padStart(7)}        ${s.heapMb.toFixed(1).padStart(8)}  ${String(s.steps).padStart(8)}`);
  if (t >= minutes) break;
  await new Promise((ok) => setTimeout(ok, Math.min(sampleS * 1000, Math.max(0, (minutes - t) * 60_000) + 50)));
}
await browser.close();
server.kill();
if (csvOut) writeFileSync(csvOut, "minutes,renderer_mb,largest_renderer_mb,js_heap_mb,steps\n" + samples.map((s) => [s.t, s.rssMb, s.maxMb, s.heapMb, s.steps].map((v) => +v.toFixed(3)).join(",")).join("\n") + "\n");

/** Least-squares slope of y over t (per minute). */
function slope(pts, key) {
  const n = pts.length;
  if (n < 2) return NaN;
  const mt = pts.reduce((a, p) => a + p.t, 0) / n, my = pts.reduce((a, p) => a + p[key], 0) / n;
  let num = 0, den = 0;
  for (const p of pts) { num += (p.t - mt) * (p[key] - my); den += (p.t - mt) ** 2; }
  return num / den;
}
/** Steps per second between the samples nearest to minutes a and b. */
function rate(a, b) {
  const near = (m) => samples.reduce((best, s) => (Math.abs(s.t - m) < Math.abs(best.t - m) ? s : best));
  const sa = near(a), sb = near(b);
  return sb.t > sa.t ? (sb.steps - sa.steps) / ((sb.t - sa.t) * 60) : NaN;
}
const late = samples.filter((s) => s.t >= warm);
const last = samples[samples.length - 1];
const first = rate(0, 1), final = rate(minutes - 1, minutes);
console.log(`renderer RSS slope after minute ${warm}: ${slope(late, "rssMb").toFixed(2)} MB/min (JS heap ${slope(late, "heapMb").toFixed(2)} MB/min); ` +
  `renderer ${samples[0].rssMb.toFixed(0)} → ${last.rssMb.toFixed(0)} MB (largest process ${last.maxMb.toFixed(0)} MB)`);
console.log(`step rate: first minute ${first.toFixed(1)} steps/s, last minute ${final.toFixed(1)} steps/s (${(100 * final / first).toFixed(0)} %); ${last.steps} steps`);
if (errors.length) { console.error(`page errors: ${errors.slice(0, 3).join("; ")}`); process.exitCode = 1; }
