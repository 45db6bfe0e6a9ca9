// Shared set-up of the page tests: the static server (scripts/serve.mjs on a free port of
// 127.0.0.1) and headless Chromium through playwright-core, with or without WebGPU.
// Every test fails on an uncaught error in any page (frames included) of any browser context
// made through launch(): the hooks below check after each test, so no test can forget to.
import { afterEach, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const UPNG = createRequire(import.meta.url)("upng-js");

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * Where the tests save their screenshots: out/screenshots (git-ignored), so that running the tests
 * never rewrites a tracked file. `CABS_BLESS=1` saves them to docs/screenshots instead, refreshing
 * the ones the docs show (as it refreshes the settings schema's generated copy).
 */
export const SCREENSHOTS = process.env.CABS_BLESS ? join(ROOT, "docs", "screenshots") : join(ROOT, "out", "screenshots");

const BASE_FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic", "--enable-unsafe-swiftshader"];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Uncaught page errors not yet reported: "url: message". */
const uncaught = [];
function failOnUncaught() {
  if (uncaught.length === 0) return;
  const list = uncaught.splice(0);
  assert.fail(`uncaught page error(s):\n${list.join("\n")}`);
}
afterEach(failOnUncaught);
after(failOnUncaught);

/** Record every uncaught error of this context's pages and frames (pageerror / weberror). */
export function watchErrors(context) {
  context.on("weberror", (e) => uncaught.push(`${e.page()?.url() ?? "?"}: ${e.error().message}`));
  return context;
}

/** Start scripts/serve.mjs on www/ (or `root`); resolves to {url, stop()} once it listens. */
export async function startServer(root = join(ROOT, "www")) {
  if (root === join(ROOT, "www"))
    for (const f of ["www/pkg/cabs.js", "www/pkg/cabs_bg.wasm", "www/vendor/uPlot.esm.js", "www/vendor/reveal/reveal.mjs", "www/data/mnist.bin", "www/data/mnist.bin.gz"])
      if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run bash scripts/setup.sh and bash scripts/build-wasm.sh first`);
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "scripts", "serve.mjs"), root], {
    env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`serve.mjs exited with ${code}`)));
    child.stdout.on("data", (d) => { if (String(d).includes("serving")) resolve(); });
  });
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill() };
}

/** Headless Chromium; webgpu=false leaves out --enable-unsafe-webgpu (no adapter then). */
export async function launch({ webgpu = true } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
    args: [...BASE_FLAGS, ...(webgpu ? ["--enable-unsafe-webgpu"] : [])],
  });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args) => watchErrors(await newContext(...args));
  return browser;
}

/** A new page that fails the test on uncaught page errors (collected in page.errors). */
export async function openPage(browser, url, { width = 1280, height = 900, colorScheme = "light", reducedMotion = "no-preference", ...more } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme, reducedMotion, acceptDownloads: true, ...more });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && !/favicon/.test(m.text())) page.errors.push(m.text()); });
  await page.goto(url);
  return page;
}

/**
 * The set-up most page-test files share, registered as their first hooks: before the tests, the
 * static server (on www/, or `root`) and one headless Chromium (`webgpu`: with the adapter flag
 * or without), handed to `use({server, browser})` so the file keeps them in its own variables;
 * after the tests, the browser closed and the server stopped, also when the set-up failed
 * half-way. The file's own set-up goes in `use` (async, awaited): node 20 runs a file's
 * top-level `before` hooks concurrently, so a second hook could not count on the browser.
 * `when`: asked at set-up time; false starts nothing (the tests that need a browser skip).
 */
export function pageSuite({ webgpu = true, root = undefined, when = () => true } = {}, use = () => {}) {
  const made = {};
  before(async () => {
    if (!when()) return;
    made.server = await startServer(root);
    made.browser = await launch({ webgpu });
    await use(made);
  });
  after(async () => {
    await made.browser?.close();
    made.server?.stop();
  });
}

/** Wait until the worker reported its backend (the trainers exist). */
export async function ready(page, timeout = 60_000) {
  await page.waitForFunction(() => window.cabsDemo && window.cabsDemo.snapshot().backend, null, { timeout, polling: 100 });
  return page.evaluate(() => window.cabsDemo.snapshot());
}

export function screenshotDir() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return SCREENSHOTS;
}

/**
 * Save a screenshot as SCREENSHOTS/NAME, quantised to a 256-colour palette (upng-js): about
 * a third of the bytes of Chromium's PNG, and charts look the same. opts: page.screenshot's.
 */
export async function saveScreenshot(page, name, opts = {}) {
  const png = await page.screenshot(opts);
  const img = UPNG.decode(png.buffer.slice(png.byteOffset, png.byteOffset + png.length));
  writeFileSync(join(screenshotDir(), name), Buffer.from(UPNG.encode(UPNG.toRGBA8(img), img.width, img.height, 256)));
}

/** Wait ms milliseconds (for "nothing happened meanwhile" checks). */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * scripts/serve.mjs on any folder (no www/ prerequisites checked), on a free port of 127.0.0.1;
 * cors: send `Access-Control-Allow-Origin: *`. Resolves to {url, stop()} once it listens.
 */
export async function startStaticServer(root, { cors = false } = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "scripts", "serve.mjs"), ...(cors ? ["--cors"] : []), root], {
    env: { ...process.env, PORT: String(port), CORS: "" }, stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`serve.mjs exited with ${code}`)));
    child.stdout.on("data", (d) => { if (String(d).includes("serving")) resolve(); });
  });
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill() };
}
