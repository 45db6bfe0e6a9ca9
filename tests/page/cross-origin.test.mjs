// Embedding from another site: a host page on one origin (127.0.0.1:A) shows the demo served from
// the hostable bundle (scripts/package.sh's site, on 127.0.0.1:B) as an iframe and as <cabs-demo>.
// With `Access-Control-Allow-Origin: *` on the bundle (scripts/serve.mjs --cors) the iframe, the
// element loaded as a classic script and the element loaded as a module all train. Without the
// header the classic script (the documented snippet, see the top of www/cabs-demo.js) still trains,
// and the module form, which browsers refuse, leaves the host's fallback text readable in the page.
// Progress is read from inside each frame through the test's browser access (the page's own hook
// is same-origin only); no screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startStaticServer, launch } from "./harness.mjs";

let dir, browser;
const FALLBACK = "The CABS demo loads here. If this text stays, its script (cabs-demo.js) could not run";
const DEMO = 'data="blobs" model="mlp:16" lr="4" mu="0.9" baselines="none" backend="cpu" play="1" height="360"';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cabs-xo-"));
  // A private copy of the bundle, so that this test never races another over dist/.
  const r = spawnSync("bash", [join(ROOT, "scripts", "package.sh")], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CABS_DIST: join(dir, "dist") } });
  assert.equal(r.status, 0, `package.sh failed:\n${r.stderr}`);
  mkdirSync(join(dir, "host"));
  browser = await launch({ webgpu: false });
});
after(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Serve the bundle (cors or not) and a host page made from `body(bundleUrl)`; run `fn(page, bundleUrl)`. */
async function withHost(cors, body, fn) {
  const bundle = await startStaticServer(join(dir, "dist", "site"), { cors });
  const host = await startStaticServer(join(dir, "host"));
  const name = `host-${cors ? "cors" : "plain"}-${Math.random().toString(36).slice(2)}.html`;
  writeFileSync(join(dir, "host", name), `<!doctype html><meta charset="utf-8"><title>a blog post</title><link rel="icon" href="data:,"><body style="margin:0">${body(bundle.url)}</body>`);
  assert.notEqual(new URL(host.url).origin, new URL(bundle.url).origin, "the two servers share an origin");
  const context = await browser.newContext({ viewport: { width: 1000, height: 1200 } });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") page.problems.push(`console: ${m.text()}`); });
  page.on("response", (r) => { if (r.status() >= 400) page.problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  try {
    await page.goto(host.url + name);
    await fn(page, bundle.url);
  } finally {
    await context.close();
    bundle.stop();
    host.stop();
  }
}

/** Wait until the demo frame with this id in its URL has trained a step; returns that step. */
async function trainedStep(page, bundleUrl, marker) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const frame = page.frames().find((f) => f.url().startsWith(bundleUrl) && f.url().includes(marker));
    const step = frame ? await frame.evaluate(() => window.cabsDemo?.snapshot().runs?.[0]?.step ?? 0).catch(() => 0) : 0;
    if (step >= 1) return step;
    if (Date.now() > deadline) assert.fail(`the demo ${marker} never trained a step (frames: ${page.frames().map((f) => f.url()).join(", ")})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("with Access-Control-Allow-Origin the iframe, the classic <cabs-demo> and the module <cabs-demo> all train from another origin", { timeout: 200_000 }, async () => {
  await withHost(true, (b) => `
    <iframe title="demo" style="width:100%;height:360px;border:0" src="${b}index.html#data=blobs&model=mlp:16&lr=4&mu=0.9&baselines=none&backend=cpu&embed=1&play=1&seed=11"></iframe>
    <script src="${b}cabs-demo.js"></script>
    <cabs-demo ${DEMO} seed="12">${FALLBACK}.</cabs-demo>`, async (page, b) => {
    for (const seed of [11, 12]) assert.ok(await trainedStep(page, b, `seed=${seed}`) >= 1);
    assert.equal(await page.evaluate(() => document.querySelectorAll("cabs-demo:defined").length), 1);
    assert.doesNotMatch(await page.evaluate(() => document.body.innerText), /could not run/, "the fallback text shows although the element runs");
    assert.deepEqual(page.problems, []);
  });
  // The module form alone on its page (after a classic copy the module would return early).
  await withHost(true, (b) => `<script type="module" src="${b}cabs-demo.js"></script><cabs-demo ${DEMO} seed="13">${FALLBACK}.</cabs-demo>`, async (page, b) => {
    assert.ok(await trainedStep(page, b, "seed=13") >= 1);
    assert.doesNotMatch(await page.evaluate(() => document.body.innerText), /could not run/);
    assert.deepEqual(page.problems, []);
  });
});

test("without the header the classic <cabs-demo> still trains, and the refused module form leaves a readable message in the page", { timeout: 150_000 }, async () => {
  // Two host pages: one with the documented classic snippet, one with the module form only (a
  // second definition would otherwise come from the classic script and hide the refusal).
  await withHost(false, (b) => `<script src="${b}cabs-demo.js"></script><cabs-demo ${DEMO} seed="21">${FALLBACK}.</cabs-demo>`, async (page, b) => {
    assert.ok(await trainedStep(page, b, "seed=21") >= 1);
    assert.deepEqual(page.problems, []);
  });
  await withHost(false, (b) => `<script type="module" src="${b}cabs-demo.js"></script><cabs-demo ${DEMO} seed="22">${FALLBACK}:
    <a href="${b}index.html#data=blobs">open the demo on its own page</a>.</cabs-demo>`, async (page) => {
    // The browser refuses the module (a CORS error in the console, nothing else; the load event,
    // which page.goto awaited, comes after it); the host's text stays.
    for (let i = 0; i < 40 && !page.problems.some((p) => /CORS|Access-Control-Allow-Origin/i.test(p)); i++) await new Promise((r) => setTimeout(r, 250));
    assert.equal(await page.evaluate(() => Boolean(customElements.get("cabs-demo"))), false, "the module ran although its host sent no CORS header");
    const shown = await page.evaluate(() => document.body.innerText);
    assert.match(shown, /If this text stays, its script \(cabs-demo\.js\) could not run: open the demo on its own page\./);
    assert.ok(page.problems.some((p) => /CORS|Access-Control-Allow-Origin/i.test(p)), `no CORS refusal seen: ${page.problems.join("; ")}`);
  });
});
