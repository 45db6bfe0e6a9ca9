// Convolutional models on the page: cnn-small trains on the bundled digits (CPU engine here,
// so the test does not depend on the software GPU's speed), the model list offers the paper's
// nets, and a CNN on a 2-D point set is refused with a readable error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, ready, pageSuite } from "./harness.mjs";

let server, browser;

pageSuite({ webgpu: false }, (s) => ({ server, browser } = s));

test("cnn-small steps on MNIST and the model list offers the CNNs", async () => {
  const page = await openPage(browser, `${server.url}#data=mnist&model=cnn-small&lr=0.1&backend=cpu&baselines=none&seed=2`);
  const snap = await ready(page);
  assert.equal(snap.backend.kind, "cpu");
  const options = await page.$$eval("#ctl-model-list option", (os) => os.map((o) => o.value));
  for (const m of ["cnn-small", "cnn-mnist", "cnn-cifar"]) assert.ok(options.includes(m), `model list offers ${m}: ${options}`);
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowRight");
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0]?.step === 3, null, { timeout: 60_000 });
  const run = (await page.evaluate(() => window.cabsDemo.snapshot())).runs[0];
  assert.equal(run.batchSize, 16);
  assert.ok(Number.isFinite(run.loss) && run.loss > 0 && run.loss < 5, `loss ${run.loss}`);
  assert.equal(await page.inputValue("#ctl-model"), "cnn-small");
  assert.ok(page.errors.length === 0, page.errors.join("\n"));
  await page.close();
});

test("a CNN on 2-D points is refused with a readable error", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=cnn-small&backend=cpu`);
  await page.waitForSelector("#error:not([hidden])", { timeout: 30_000 });
  assert.match(await page.textContent("#error"), /model 'cnn-small' needs image data/);
  await page.close();
});
