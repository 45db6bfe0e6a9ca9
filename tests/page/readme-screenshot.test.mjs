// The screenshot README shows (docs/screenshots/page.png, saved there with CABS_BLESS=1): the page
// a visitor gets, with every setting at its default (`#play=1` only: MNIST, mlp:256, CABS at
// α = 0.5 next to a fixed batch of 16, backend=auto), after CABS's batch has grown. The test also
// checks that this default visit trains and that its batch grows, so the picture shows the point.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, ready, saveScreenshot, pageSuite } from "./harness.mjs";

let server, browser;
pageSuite({ webgpu: true }, (s) => ({ server, browser } = s));

test("the default page trains, CABS's batch grows, and its screenshot is saved as page.png", async () => {
  const page = await openPage(browser, `${server.url}#play=1`, { width: 1280, height: 900 });
  const snap = await ready(page);
  assert.deepEqual(snap.runs.map((r) => r.rule), ["cabs", "const:16"], "the default comparison");
  await page.waitForFunction(() => {
    const [cabs] = window.cabsDemo.snapshot().runs;
    return cabs.step >= 400 && cabs.batchSize > 32 && cabs.testAccuracy !== null;
  }, null, { timeout: 180_000, polling: 250 });
  await page.evaluate(() => window.cabsDemo.pause());
  await page.waitForTimeout(1200); // the last redraw
  const after = await page.evaluate(() => window.cabsDemo.snapshot());
  console.log(`# default page: ${JSON.stringify(after.runs.map((r) => [r.rule, r.step, r.batchSize]))}, engine ${after.backend.kind}`);
  await saveScreenshot(page, "page.png", { fullPage: true });
  await page.context().close();
});
