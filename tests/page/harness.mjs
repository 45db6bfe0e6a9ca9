// Shared set-up of the page tests: the static server (scripts/serve.mjs on a free port of
// 127.0.0.1) and headless Chromium through playwright-core, with or without WebGPU.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { existsSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SCREENSHOTS = join(ROOT, "docs", "screenshots");

const BASE_FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic", "--enable-unsafe-swiftshader"];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Start scripts/serve.mjs on www/; resolves to {url, stop()} once it listens. */
export async function startServer() {
  for (const f of ["www/pkg/cabs.js", "www/pkg/cabs_bg.wasm", "www/vendor/uPlot.esm.js", "www/data/mnist.bin"])
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run bash scripts/setup.sh and bash scripts/build-wasm.sh first`);
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "scripts", "serve.mjs"), join(ROOT, "www")], {
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
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
    args: [...BASE_FLAGS, ...(webgpu ? ["--enable-unsafe-webgpu"] : [])],
  });
}

/** A new page that fails the test on uncaught page errors (collected in page.errors). */
export async function openPage(browser, url, { width = 1280, height = 900, colorScheme = "light", reducedMotion = "no-preference" } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme, reducedMotion, acceptDownloads: true });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && !/favicon/.test(m.text())) page.errors.push(m.text()); });
  await page.goto(url);
  return page;
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
