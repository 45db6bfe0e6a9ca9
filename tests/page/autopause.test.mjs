// Sleep when unseen: in a blog post with three <cabs-demo> elements (www/examples/post.html,
// each with play="1") only the one in view creates its engine and trains; scrolling to another
// starts it and pauses the one scrolled away; a hidden tab makes no steps and resumes when shown;
// autopause=0 keeps a demo training out of view.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, ready, sleep, pageSuite } from "./harness.mjs";

let server, browser;
pageSuite({ webgpu: false }, (s) => ({ server, browser } = s)); // three demos at once: the CPU twin keeps it light

/** Snapshots of the post's three demos (null until a demo's page has loaded). */
const demos = (page) => page.evaluate(() => [...document.querySelectorAll("cabs-demo")].map((d) => {
  const s = d.cabsDemo?.snapshot();
  return s ? { id: d.id, engine: s.engine, seen: s.seen, autopaused: s.autopaused, running: s.running, step: s.runs[0].step } : { id: d.id, engine: false, step: 0, loaded: false };
}));

/** Steps of demo i now and `ms` later. */
async function advance(page, i, ms = 1500) {
  const a = (await demos(page))[i].step;
  await sleep(ms);
  const b = (await demos(page))[i].step;
  return b - a;
}

const waitStep = (page, i, n, timeout = 60_000) => page.waitForFunction(([i, n]) => {
  const d = document.querySelectorAll("cabs-demo")[i];
  return (d.cabsDemo?.snapshot().runs[0].step ?? 0) >= n;
}, [i, n], { timeout, polling: 200 });

test("a post with three embeds: only the visible one advances; scrolled-to starts, scrolled-away pauses", async () => {
  const page = await openPage(browser, `${server.url}examples/post.html`, { width: 1280, height: 720 });
  await page.evaluate(() => document.querySelectorAll("cabs-demo").forEach((d) => d.setAttribute("backend", "cpu")));
  await page.evaluate(() => document.getElementById("demo-blobs").scrollIntoView({ block: "center" }));
  await waitStep(page, 0, 5);
  let s = await demos(page);
  assert.equal(s[0].seen, true);
  assert.equal(s[1].engine, false, `the second demo, out of view, created its engine: ${JSON.stringify(s[1])}`);
  assert.equal(s[2].engine, false, `the third demo, out of view, created its engine: ${JSON.stringify(s[2])}`);
  assert.ok(await advance(page, 0) > 0, "the visible demo does not advance");
  assert.equal(s[1].step + s[2].step, 0);

  // Scroll to the second: it starts; the first pauses (and keeps its wish to play).
  await page.evaluate(() => document.getElementById("demo-moons").scrollIntoView({ block: "center" }));
  await waitStep(page, 1, 5);
  await page.waitForFunction(() => document.getElementById("demo-blobs").cabsDemo.snapshot().autopaused, null, { timeout: 10_000 });
  await sleep(300); // a step in flight when it paused lands now
  assert.equal(await advance(page, 0), 0, "the scrolled-away demo still trains");
  assert.ok(await advance(page, 1) > 0, "the scrolled-to demo does not train");
  s = await demos(page);
  assert.equal(s[2].engine, false, "the third demo started although never seen");

  // Back to the first: it resumes where it was.
  const before = s[0].step;
  await page.evaluate(() => document.getElementById("demo-blobs").scrollIntoView({ block: "center" }));
  await waitStep(page, 0, before + 5);
  await page.waitForFunction(() => document.getElementById("demo-moons").cabsDemo.snapshot().autopaused, null, { timeout: 10_000 });
  await sleep(300);
  assert.equal(await advance(page, 1), 0, "the second demo trains out of view");
  await page.context().close();
});

/**
 * Make the page's tab hidden or visible as a background tab would: document.visibilityState
 * and a visibilitychange event (headless Chromium keeps every tab visible, so this is emulated).
 */
async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (h ? "hidden" : "visible") });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => h });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

test("a hidden tab makes no steps and resumes when shown", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&lr=4&mu=0.9&baselines=const:16&backend=cpu&play=1`);
  await ready(page);
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step >= 5, null, { timeout: 60_000 });
  await setHidden(page, true);
  await page.waitForFunction(() => !window.cabsDemo.snapshot().running, null, { timeout: 10_000 });
  const snap = await page.evaluate(() => window.cabsDemo.snapshot());
  assert.equal(snap.autopaused, true);
  await sleep(300);
  const a = await page.evaluate(() => window.cabsDemo.snapshot().runs[0].step);
  await sleep(1500);
  assert.equal(await page.evaluate(() => window.cabsDemo.snapshot().runs[0].step), a, "steps while the tab is hidden");
  assert.equal(await page.textContent("#play"), "❚❚ Pause", "the Play button forgot that the user wants to train");
  await setHidden(page, false);
  await page.waitForFunction((a) => window.cabsDemo.snapshot().runs[0].step >= a + 5, a, { timeout: 30_000 });
  await page.context().close();
});

test("a tab hidden from the start creates no engine until shown", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  });
  await page.goto(`${server.url}#data=blobs&model=mlp:16&lr=4&baselines=const:16&backend=cpu&play=1`);
  await page.waitForFunction(() => window.cabsDemo);
  await sleep(1500);
  let snap = await page.evaluate(() => window.cabsDemo.snapshot());
  assert.equal(snap.engine, false);
  assert.equal(snap.backend, null);
  assert.equal(snap.runs[0].step, 0);
  await setHidden(page, false);
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step >= 5, null, { timeout: 60_000 });
  snap = await page.evaluate(() => window.cabsDemo.snapshot());
  assert.equal(snap.engine, true);
  await context.close();
});

test("autopause=0 (URL key and attribute) keeps training out of view", async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 600 } });
  const host = `<!doctype html><meta charset="utf-8"><script type="module" src="/cabs-demo.js"></script>
    <cabs-demo id="a" data="blobs" model="mlp:16" lr="4" baselines="none" backend="cpu" play="1" autopause="0" height="400"></cabs-demo>
    <div style="height:3000px"></div>
    <iframe id="b" src="/index.html#data=blobs&model=mlp:16&lr=4&baselines=none&backend=cpu&play=1&embed=1&autopause=0" style="width:100%;height:400px"></iframe>`;
  await context.route("**/autopause-host.html", (r) => r.fulfill({ contentType: "text/html", body: host }));
  const page = await context.newPage();
  await page.goto(`${server.url}autopause-host.html`);
  await page.waitForFunction(() => {
    const a = document.getElementById("a").cabsDemo?.snapshot();
    const b = document.getElementById("b").contentWindow.cabsDemo?.snapshot();
    return a && b && a.runs[0].step >= 5 && b.runs[0].step >= 5;
  }, null, { timeout: 60_000, polling: 200 });
  const b = await page.evaluate(() => document.getElementById("b").contentWindow.cabsDemo.snapshot());
  assert.equal(b.seen, false, "the iframe below the fold counts as seen");
  const step = b.runs[0].step;
  await page.waitForFunction((s) => document.getElementById("b").contentWindow.cabsDemo.snapshot().runs[0].step > s + 5, step, { timeout: 30_000 });
  await context.close();
});
