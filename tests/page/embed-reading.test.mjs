// Embeds that read at a blog's column width. The blog example (examples/post.html) at 375, 768
// and 1280 px: below 800 px each embed shows at most two charts (loss and batch size unless
// hide= says otherwise), each plot at least 160 px tall; at every width no two tick labels of an
// axis overlap. Every chart of an embed names its lines (ξ̄, ℒ̄, m_raw); an embed plots steps
// unless its link names the x-axis; a plain embed shows no engine badge or note while a fallback
// does (below 800 px the badge alone, its tooltip the reason); on a phone the page's charts come before its settings and the stats table keeps test
// accuracy in view. Screenshots: reading-*.png (where harness.mjs saves them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, ready, saveScreenshot, pageSuite } from "./harness.mjs";

let server, browser;
pageSuite({ webgpu: false }, (s) => ({ server, browser } = s)); // auto falls back to the CPU twin: quick steps, a real fallback

const BLOBS = "data=blobs&model=mlp:16&lr=4&mu=0.9&baselines=const:16";

/** In a frame or page: the charts' plot boxes and the pairs of tick labels that overlap. */
const chartsIn = (frame) => frame.evaluate(() => [...document.querySelectorAll(".chart")].map((c) => {
  const r = c.querySelector("canvas").getBoundingClientRect();
  const labels = c.tickLabels();
  const overlaps = [];
  for (let i = 0; i < labels.length; i++)
    for (let j = i + 1; j < labels.length; j++) {
      const a = labels[i], b = labels[j];
      if (a.axis !== b.axis) continue;
      // 1 px of air at least between neighbours
      if (a.x0 < b.x1 + 1 && b.x0 < a.x1 + 1 && a.y0 < b.y1 + 1 && b.y0 < a.y1 + 1) overlaps.push(`${a.axis}: '${a.text}' and '${b.text}'`);
    }
  return { id: c.dataset.chart, w: r.width, h: r.height, top: r.top, labels: labels.length, overlaps };
}));

/** Train until every run has `steps` steps, then pause (a still picture). */
async function trainSome(frame, steps = 60) {
  await frame.waitForFunction(() => window.cabsDemo?.snapshot().backend, null, { timeout: 60_000, polling: 100 });
  await frame.evaluate(() => window.cabsDemo.play());
  await frame.waitForFunction((n) => window.cabsDemo.snapshot().runs.every((r) => r.step >= n), steps, { timeout: 60_000, polling: 200 });
  await frame.evaluate(() => window.cabsDemo.pause());
  await frame.waitForTimeout(500);
}

for (const width of [375, 768, 1280]) {
  test(`the blog example at ${width} px: readable embeds, no tick labels overlapping`, async () => {
    const page = await openPage(browser, `${server.url}examples/post.html`, { width, height: 900 });
    const frames = [];
    for (const id of await page.evaluate(() => [...document.querySelectorAll("cabs-demo")].map((e) => e.id))) {
      await page.locator(`#${id}`).scrollIntoViewIfNeeded();
      const handle = await page.locator(`#${id}`).evaluateHandle((e) => (e.shadowRoot || e).querySelector("iframe"));
      const frame = await (await handle.asElement()).contentFrame();
      await trainSome(frame, 40);
      frames.push({ id, frame });
    }
    for (const { id, frame } of frames) {
      const charts = await chartsIn(frame);
      const frameWidth = await frame.evaluate(() => innerWidth);
      if (frameWidth < 800) {
        assert.ok(charts.length <= 2 && charts.length >= 1, `${id}: ${charts.length} charts in a ${frameWidth} px frame`);
        assert.deepEqual(charts.map((c) => c.id), ["loss", "batch"], `${id}: loss and batch size`);
      }
      for (const c of charts) {
        if (frameWidth < 800) assert.ok(c.h >= 160, `${id} ${c.id}: ${c.h.toFixed(0)} px tall in a ${frameWidth} px frame`);
        assert.ok(c.labels >= 3, `${id} ${c.id}: only ${c.labels} tick labels`);
        assert.deepEqual(c.overlaps, [], `${id} ${c.id}: tick labels overlap`);
      }
    }
    await page.locator("#demo-blobs").scrollIntoViewIfNeeded();
    await saveScreenshot(page, `reading-post-${width}.png`);
    await page.context().close();
  });
}

test("the overlap check can fail: uPlot's default x labels run together in a narrow chart", async () => {
  const page = await openPage(browser, `${server.url}#${BLOBS}&backend=cpu&embed=1`, { width: 734, height: 459 });
  await ready(page);
  const overlaps = await page.evaluate(async () => {
    const { default: uPlot } = await import("./vendor/uPlot.esm.js");
    const host = document.createElement("div");
    document.body.append(host);
    const xs = Array.from({ length: 50 }, (_, i) => i * 10_000);
    const u = new uPlot({ width: 260, height: 160, series: [{}, { stroke: "red" }], scales: { x: { time: false } }, axes: [{ font: "14px system-ui", space: 20 }, {}] }, [xs, xs], host);
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))); // uPlot draws after a frame
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = "14px system-ui";
    const boxes = u.axes[0]._splits.map((v, i) => ({ c: u.valToPos(v, "x"), w: ctx.measureText(String(u.axes[0]._values[i])).width }));
    u.destroy();
    return boxes.filter((b, i) => i > 0 && boxes[i - 1].c + boxes[i - 1].w / 2 + 1 > b.c - b.w / 2).length;
  });
  assert.ok(overlaps > 0, "the oracle sees no overlap in a chart built to have them");
  await page.context().close();
});

test("an embed's charts name their lines, and an embed plots steps unless its link names the x-axis", async () => {
  const page = await openPage(browser, `${server.url}#${BLOBS}&backend=cpu&embed=1`, { width: 1280, height: 720 });
  await ready(page);
  const keys = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll(".chart")].map((c) => {
    const key = c.querySelector(".key");
    return [c.dataset.chart, key && getComputedStyle(key).display !== "none" ? key.textContent : null];
  })));
  assert.match(keys.terms, /ξ̄/);
  assert.match(keys.terms, /ℒ̄/);
  assert.match(keys.batch, /m_raw/);
  assert.match(keys.loss, /smoothed/);
  assert.equal((await page.evaluate(() => window.cabsDemo.settings())).x, "step");
  await page.context().close();
  const chosen = await openPage(browser, `${server.url}#${BLOBS}&backend=cpu&embed=1&x=examples`, { width: 1280, height: 720 });
  await ready(chosen);
  assert.equal((await chosen.evaluate(() => window.cabsDemo.settings())).x, "examples");
  await chosen.context().close();
});

test("a narrow embed: hide= still rules which two charts show", async () => {
  const page = await openPage(browser, `${server.url}#${BLOBS}&backend=cpu&embed=1&hide=batch`, { width: 600, height: 480 });
  await ready(page);
  const ids = await page.evaluate(() => [...document.querySelectorAll(".chart")].map((c) => c.dataset.chart));
  assert.deepEqual(ids, ["loss", "accuracy"]);
  await page.context().close();
});

test("a plain embed shows no engine badge or note; a fallback to the CPU shows both", async () => {
  const visible = (page) => page.evaluate(() => ["backend", "backend-note"].map((id) => {
    const e = document.getElementById(id);
    return !!e && e.getClientRects().length > 0 && getComputedStyle(e).display !== "none";
  }));
  const plain = await openPage(browser, `${server.url}#${BLOBS}&backend=cpu&embed=1`, { width: 768, height: 480 });
  await trainSome(plain.mainFrame(), 20);
  assert.deepEqual(await visible(plain), [false, false], "a plain embed (backend=cpu) shows its engine");
  await saveScreenshot(plain, "reading-embed-plain-768.png");
  await plain.context().close();
  // This browser has no WebGPU: auto falls back to the CPU twin, which needs saying.
  const fallback = await openPage(browser, `${server.url}#${BLOBS}&backend=auto&embed=1`, { width: 1280, height: 600 });
  const snap = await ready(fallback);
  assert.equal(snap.backend.kind, "cpu");
  assert.ok(snap.backend.fallbackReason, "no fallback reason: this check needs a browser without WebGPU");
  assert.deepEqual(await visible(fallback), [true, true], "a fallback is not shown");
  await fallback.context().close();
  // A narrow frame keeps its height for the charts: the badge says it (its tooltip the reason), no note line.
  const narrow = await openPage(browser, `${server.url}#${BLOBS}&backend=auto&embed=1`, { width: 600, height: 400 });
  await ready(narrow);
  assert.deepEqual(await visible(narrow), [true, false], "a narrow frame's fallback");
  assert.match(await narrow.getAttribute("#backend", "title"), /WebGPU|adapter/i);
  await narrow.context().close();
});

test("on a phone the charts come before the settings, and the stats table shows test accuracy", async () => {
  const page = await openPage(browser, `${server.url}#${BLOBS}&backend=cpu`, { width: 375, height: 667, isMobile: true, hasTouch: true });
  await trainSome(page.mainFrame(), 25);
  const m = await page.evaluate(() => {
    const top = (sel) => document.querySelector(sel).getBoundingClientRect().top + scrollY;
    const wrap = document.querySelector(".stats-wrap");
    const acc = [...document.querySelectorAll("table.stats thead th")].find((th) => th.textContent === "test acc.");
    const cell = document.querySelector("table.stats tbody tr td:nth-of-type(6)");
    return { charts: top("#charts"), controls: top("#controls"), scrollW: wrap.scrollWidth, clientW: wrap.clientWidth,
      acc: acc && acc.getBoundingClientRect().right, cell: cell?.textContent };
  });
  assert.ok(m.charts < m.controls, `the settings (at ${m.controls} px) come before the charts (at ${m.charts} px)`);
  assert.ok(m.scrollW <= m.clientW, `the stats table scrolls sideways: ${m.scrollW} > ${m.clientW}`);
  assert.ok(m.acc > 0 && m.acc <= 375, `test accuracy is out of view: its column ends at ${m.acc}`);
  assert.match(m.cell, /%|–/);
  for (const c of await chartsIn(page.mainFrame())) assert.deepEqual(c.overlaps, [], `page ${c.id}: tick labels overlap`);
  await page.evaluate(() => scrollTo(0, 0));
  await saveScreenshot(page, "reading-phone-375.png", { fullPage: true });
  await page.context().close();
});
