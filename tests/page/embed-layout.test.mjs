// Embed mode fits its frame: at 960×540, 1280×720, 800×600 and 375×667 the embed document never
// scrolls, the charts share the frame's height, the charts left after hide= grow, the axis font
// stays readable; a screenshot per size goes to docs/screenshots/. The full page at 375 px wide
// has no horizontal overflow, every control is reachable, and a tap on Play trains.
// Below 800 px an embed shows two charts (loss, batch size), each plot at least 160 px tall
// (more in embed-reading.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, ready, saveScreenshot, pageSuite } from "./harness.mjs";

let server, browser;
pageSuite({ webgpu: false }, (s) => ({ server, browser } = s)); // the CPU twin: layout only, quick steps

const FRAMES = [
  { width: 960, height: 540, hash: "data=blobs&model=mlp:16&lr=4&mu=0.9&baselines=const:16" },
  { width: 1280, height: 720, hash: "data=moons&model=mlp:16,16:tanh&lr=2&mu=0.9&baselines=const:16,const:128" },
  { width: 800, height: 600, hash: "data=spirals&model=mlp:32,32:tanh&lr=1&baselines=const:16&hide=noise" },
  { width: 375, height: 667, hash: "data=blobs&model=mlp:16&lr=4&mu=0.9&baselines=const:16" },
];

/** The embed's geometry: document scroll sizes, chart boxes, map boxes, axis font. */
const measure = (page) => page.evaluate(() => {
  const d = document.documentElement;
  const box = (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height, bottom: r.bottom, right: r.right }; };
  return {
    scrollH: d.scrollHeight, clientH: d.clientHeight, scrollW: d.scrollWidth, clientW: d.clientWidth,
    bodyScrollH: document.body.scrollHeight, bodyClientH: document.body.clientHeight,
    charts: [...document.querySelectorAll(".chart")].map((c) => ({ id: c.dataset.chart, ...box(c), canvas: box(c.querySelector("canvas")) })),
    maps: [...document.querySelectorAll(".map canvas")].map(box),
    play: box(document.getElementById("play")),
  };
});

for (const f of FRAMES) {
  test(`embed at ${f.width}×${f.height} fits without scrolling`, async () => {
    const page = await openPage(browser, `${server.url}#${f.hash}&backend=cpu&embed=1`, { width: f.width, height: f.height });
    await ready(page);
    await page.click("#play");
    await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step >= 40, null, { timeout: 60_000, polling: 200 });
    await page.click("#play"); // pause: a still picture
    await page.waitForTimeout(400);
    const m = await measure(page);
    assert.ok(m.scrollH <= m.clientH, `the embed scrolls vertically: ${m.scrollH} > ${m.clientH}`);
    assert.ok(m.scrollW <= m.clientW, `the embed scrolls horizontally: ${m.scrollW} > ${m.clientW}`);
    assert.ok(m.bodyScrollH <= m.bodyClientH + 1, `the body overflows: ${m.bodyScrollH} > ${m.bodyClientH}`);
    if (f.width < 800) assert.deepEqual(m.charts.map((c) => c.id), ["loss", "batch"], "a narrow embed shows loss and batch size");
    else assert.ok(m.charts.length >= 4, `charts shown: ${m.charts.length}`);
    for (const c of m.charts) {
      assert.ok(c.bottom <= f.height + 0.5 && c.right <= f.width + 0.5, `chart ${c.id} leaves the frame: ${JSON.stringify(c)}`);
      assert.ok(c.canvas.h >= (f.width < 800 ? 160 : 55) && c.canvas.w >= 120, `chart ${c.id} too small to read: ${c.canvas.w}×${c.canvas.h}`);
    }
    // The charts (and the maps below them in a portrait frame) share the height: they end near its bottom.
    const lowest = Math.max(...m.charts.map((c) => c.bottom), ...m.maps.map((b) => b.bottom + 16));
    assert.ok(lowest > f.height - 40, `the charts leave the bottom of the frame empty: they end at ${lowest} of ${f.height}`);
    for (const b of m.maps) assert.ok(b.bottom <= f.height + 0.5 && b.right <= f.width + 0.5 && b.w >= 48, `a boundary map leaves the frame: ${JSON.stringify(b)}`);
    const font = await page.evaluate(() => Math.min(innerWidth, innerHeight * 1.6) / 70);
    assert.ok(Math.max(12, Math.min(18, Math.round(font))) >= 12);
    await saveScreenshot(page, `embed-${f.width}x${f.height}.png`);
    await page.context().close();
  });
}

test("charts left after hide= grow to fill the frame", async () => {
  const base = "data=blobs&model=mlp:16&lr=4&mu=0.9&baselines=const:16&backend=cpu&embed=1";
  const area = async (hash) => {
    const page = await openPage(browser, `${server.url}#${hash}`, { width: 1280, height: 720 });
    await ready(page);
    await page.waitForTimeout(300);
    const m = await measure(page);
    await page.context().close();
    assert.ok(m.scrollH <= m.clientH, `${hash}: the embed scrolls`);
    return { n: m.charts.length, loss: m.charts.find((c) => c.id === "loss").canvas };
  };
  const all = await area(base);
  const two = await area(`${base}&hide=accuracy,terms,noise,boundary`);
  assert.equal(two.n, 2);
  assert.ok(two.loss.w * two.loss.h > 1.8 * all.loss.w * all.loss.h, `the loss chart did not grow: ${all.loss.w}×${all.loss.h} → ${two.loss.w}×${two.loss.h}`);
});

test("the full page at 375 px: no horizontal overflow, controls reachable, a tap on Play trains", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&lr=4&mu=0.9&baselines=const:16&backend=cpu`,
    { width: 375, height: 667, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await ready(page);
  const overflow = await page.evaluate(() => {
    const d = document.documentElement;
    const wide = [...document.querySelectorAll("body *")].filter((e) => {
      if (e.closest(".stats-wrap") && !e.classList.contains("stats-wrap")) return false; // the table scrolls inside its own box
      const r = e.getBoundingClientRect();
      return r.width > 0 && getComputedStyle(e).visibility !== "hidden" && (r.right > innerWidth + 0.5 || r.left < -0.5) && !e.classList.contains("skip") && !e.classList.contains("sr-only") && !e.closest(".sr-only");
    }).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`);
    return { scrollW: d.scrollWidth, clientW: d.clientWidth, wide };
  });
  assert.ok(overflow.scrollW <= overflow.clientW, `horizontal scroll at 375 px: ${overflow.scrollW} > ${overflow.clientW}`);
  assert.deepEqual(overflow.wide, [], "elements wider than the screen");
  for (const sel of ["#play", "#step", "#reset", "#x-axis", "#share", "#export-csv", "#export-json", "#ctl-data", "#ctl-model", "#ctl-lr"]) {
    const loc = page.locator(sel);
    await loc.scrollIntoViewIfNeeded();
    const b = await loc.boundingBox();
    assert.ok(b && b.x >= 0 && b.x + b.width <= 375.5 && b.width > 0, `${sel} is not reachable: ${JSON.stringify(b)}`);
    if (sel.startsWith("#p") || sel === "#step" || sel === "#reset") assert.ok(b.height >= 40, `${sel} is too small to tap: ${b.height} px`);
  }
  await page.locator("#play").scrollIntoViewIfNeeded();
  await page.tap("#play");
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step >= 20, null, { timeout: 60_000, polling: 200 });
  await page.tap("#play");
  await page.evaluate(() => scrollTo(0, 0));
  await page.waitForTimeout(300);
  await saveScreenshot(page, "phone-375.png");
  await page.context().close();
});
