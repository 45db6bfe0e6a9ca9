// The reveal.js deck (www/examples/slides.html): reveal.js loads from our own files, each demo
// slide holds an iframe of the page with play=1, and only the current slide's demo trains;
// moving to the next slide switches which one does (the one left pauses).
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, saveScreenshot, sleep, pageSuite } from "./harness.mjs";

let server, browser, page;
const outside = [];
pageSuite({ webgpu: false }, async (s) => {
  ({ server, browser } = s);
  page = await openPage(browser, "about:blank", { width: 1280, height: 720 });
  page.on("request", (r) => { if (!r.url().startsWith(server.url) && !/^(data|about|blob):/.test(r.url())) outside.push(r.url()); });
  // The CPU twin for every demo in the deck (the tests' machine has no GPU to spare).
  await page.route(/slides\.html$/, async (route) => {
    const res = await route.fetch();
    route.fulfill({ response: res, body: (await res.text()).replaceAll("embed=1&amp;play=1", "embed=1&amp;play=1&amp;backend=cpu") });
  });
  await page.goto(`${server.url}examples/slides.html`);
  await page.waitForFunction(() => window.deck?.isReady(), null, { timeout: 30_000 });
});

/** Per demo iframe of the deck: its slide index and snapshot (null while not loaded). */
const frames = () => page.evaluate(() => [...document.querySelectorAll("iframe.demo")].map((f) => {
  const slide = [...document.querySelectorAll(".slides > section")].indexOf(f.closest("section"));
  let s = null;
  try { s = f.contentWindow?.cabsDemo?.snapshot() ?? null; } catch { /* not loaded */ }
  return { slide, step: s?.runs[0].step ?? 0, engine: s?.engine ?? false, autopaused: s?.autopaused ?? false, seen: s?.seen ?? false };
}));
const stepOf = (slide) => page.evaluate((slide) => {
  const f = document.querySelectorAll(".slides > section")[slide].querySelector("iframe.demo");
  try { return f.contentWindow?.cabsDemo?.snapshot().runs[0].step ?? 0; } catch { return 0; }
}, slide);

test("reveal.js is served from our own files", async () => {
  assert.equal(await page.evaluate(() => typeof window.deck.next), "function");
  assert.deepEqual(outside, [], "requests outside the demo's own server");
});

test("only the current slide's demo trains, and the next slide switches", async () => {
  await page.evaluate(() => window.deck.slide(2));
  await page.waitForFunction(() => {
    const f = document.querySelectorAll(".slides > section")[2].querySelector("iframe.demo");
    return (f.contentWindow?.cabsDemo?.snapshot().runs[0].step ?? 0) >= 5;
  }, null, { timeout: 60_000, polling: 200 });
  let s = await frames();
  const next = s.find((f) => f.slide === 3);
  assert.ok(next, "the next demo slide is not in the deck");
  assert.equal(next.step, 0, `the next slide's demo trains: ${JSON.stringify(next)}`);
  assert.equal(next.engine, false, `the next slide's (preloaded) demo created its engine: ${JSON.stringify(next)}`);
  await page.waitForFunction(() => document.querySelectorAll(".slides > section")[2].querySelector("iframe.demo").contentWindow.cabsDemo.snapshot().runs[0].step >= 120,
    null, { timeout: 60_000, polling: 200 });
  await sleep(400); // the charts redraw at most every 200 ms
  await saveScreenshot(page, "slides-1280x720.png");

  await page.evaluate(() => window.deck.next());
  await page.waitForFunction(() => {
    const f = document.querySelectorAll(".slides > section")[3].querySelector("iframe.demo");
    return (f.contentWindow?.cabsDemo?.snapshot().runs[0].step ?? 0) >= 5;
  }, null, { timeout: 60_000, polling: 200 });
  await page.waitForFunction(() => document.querySelectorAll(".slides > section")[2].querySelector("iframe.demo").contentWindow.cabsDemo.snapshot().autopaused,
    null, { timeout: 10_000 });
  await sleep(300);
  const left = await stepOf(2);
  const shown = await stepOf(3);
  await sleep(1500);
  assert.equal(await stepOf(2), left, "the slide left behind still trains");
  assert.ok(await stepOf(3) > shown, "the current slide's demo does not train");
  s = await frames();
  for (const f of s.filter((f) => f.slide !== 2 && f.slide !== 3)) assert.equal(f.step, 0, `slide ${f.slide} trained`);

  await page.evaluate(() => window.deck.prev()); // back: the first demo resumes
  await page.waitForFunction((n) => document.querySelectorAll(".slides > section")[2].querySelector("iframe.demo").contentWindow.cabsDemo.snapshot().runs[0].step >= n + 5,
    left, { timeout: 30_000, polling: 200 });
});
