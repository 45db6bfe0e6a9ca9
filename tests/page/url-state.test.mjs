// The URL hash is the page's state: a link with settings reproduces them in the controls;
// invalid and hostile values fall back to defaults with a visible notice and never become
// markup; embed=1 hides the chrome (screenshot docs/screenshots/embed.png); hide= removes
// parts; the Share dialog and the <cabs-demo> element produce working embeds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, ready, saveScreenshot, pageSuite } from "./harness.mjs";
import { TRAIN_SIZES } from "../../www/lib/state.js";

let server, browser;
pageSuite({ webgpu: true }, (s) => ({ server, browser } = s));

const value = (page, key) => page.inputValue(`#ctl-${key}`);

/** Whether the element's own content (the post's fallback text) is drawn: light DOM has boxes. */
const fallbackShown = (page) => page.evaluate(() => {
  const range = document.createRange();
  range.selectNodeContents(document.querySelector("cabs-demo"));
  return [...range.getClientRects()].some((r) => r.width > 0 && r.height > 0);
});

test("a URL with settings reproduces them in the controls and the runs", async () => {
  const hash = "#data=moons&model=mlp:16,16:tanh&rule=cabs&lr=2&mmin=8&mmax=512&mu=0.9&seed=7&baselines=const:32,const:64:step:100:0.5&backend=cpu&x=step";
  const page = await openPage(browser, server.url + hash);
  const snap = await ready(page);
  const want = { data: "moons", model: "mlp:16,16:tanh", rule: "cabs", lr: "2", mmin: "8", mmax: "512", mu: "0.9", seed: "7", baselines: "const:32,const:64:step:100:0.5", backend: "cpu" };
  for (const [k, v] of Object.entries(want)) assert.equal(await value(page, k), v, k);
  assert.equal(await page.inputValue("#x-axis"), "step");
  assert.deepEqual(snap.runs.map((r) => r.rule), ["cabs", "const:32", "const:64:step:100:0.5"]);
  assert.equal(snap.backend.kind, "cpu");
  assert.equal(await page.isHidden("#notice"), true, "no notice for a valid link");
  const settings = await page.evaluate(() => window.cabsDemo.settings());
  assert.equal(settings.seed, 7);
  assert.equal(settings.mmax, 512);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("invalid and hostile values fall back to defaults with a visible notice", async () => {
  const hostile = encodeURIComponent('<img src=x onerror="window.pwned=1">');
  const page = await openPage(browser, `${server.url}#data=${hostile}&lr=abc&mmin=-3&model=mlp:99999999&seed=1&evil=${hostile}&rule=eval(1)`);
  await ready(page);
  const notice = page.locator("#notice");
  assert.equal(await notice.isVisible(), true);
  const text = await notice.textContent();
  for (const k of ["data=", "lr=", "mmin=", "model=", "rule=", "unknown key 'evil'"]) assert.ok(text.includes(k), `notice names ${k}: ${text}`);
  assert.ok(text.includes("<img"), "the hostile text is shown as text");
  assert.equal(await page.locator("img").count(), 0, "no element was created from the URL");
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.equal(await value(page, "data"), "mnist");
  assert.equal(await value(page, "lr"), "0.5");
  assert.equal(await value(page, "mmin"), "16");
  assert.equal(await value(page, "model"), "mlp:256");
  const hash = await page.evaluate(() => location.hash);
  assert.ok(hash.startsWith("#data=mnist&model=mlp:256&rule=cabs&lr=0.5&mmin=16&mmax=2048"), `the hash is rewritten: ${hash}`);
  await page.context().close();
});

test("inconsistent bounds and settings the engine refuses fall back with a notice", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&mmin=900&mmax=100&backend=cpu`);
  await ready(page);
  assert.match(await page.textContent("#notice"), /mmin=900 is above mmax=100/);
  assert.equal(await value(page, "mmin"), "16");
  // The link's grammar refuses a decay every 0 steps itself (the schema's pattern, as the engine's parser).
  await page.evaluate(() => { location.hash = "#data=blobs&backend=cpu&baselines=const:64:step:0:0.5"; });
  await page.waitForFunction(() => document.getElementById("notice").textContent.includes("baselines='const:64:step:0:0.5' is not"));
  await ready(page);
  // Within the link's limits (α > 0), refused by the engine's checkSettings (α is 0 in 32-bit floats).
  await page.evaluate(() => { location.hash = "#data=blobs&backend=cpu&baselines=const:32&lr=1e-40"; });
  await page.waitForFunction(() => document.getElementById("notice").textContent.includes("engine refused"));
  assert.match(await page.textContent("#notice"), /α = 1e-40 is too small/);
  const snap = await ready(page);
  assert.deepEqual(snap.runs.map((r) => r.rule), ["cabs", "const:16"]);
  assert.equal(await value(page, "baselines"), "const:16");
  await page.context().close();
});

// With backend=auto and an adapter the worker makes CPU trainers first (the hand-over): the
// engine's refusal there is the same "invalid" as on the engine asked for, not an error, and
// nothing is left built behind it.
test("a setting the engine refuses is refused on the hand-over's CPU start too, with the same notice", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&baselines=const:32&lr=1e-40`);
  await page.waitForFunction(() => document.getElementById("notice").textContent.includes("engine refused"));
  assert.match(await page.textContent("#notice"), /α = 1e-40 is too small/);
  const snap = await ready(page);
  assert.deepEqual(snap.runs.map((r) => r.rule), ["cabs", "const:16"], "the defaults train");
  assert.equal(await value(page, "lr"), "0.5");
  assert.equal(await page.isVisible("#error"), false, "a refused setting is a notice, not an error");
  await page.context().close();
});

test("embed=1 shows only the charts and a minimal bar; hide= removes parts", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&lr=4&mu=0.9&backend=cpu&embed=1&x=step`, { width: 900, height: 760 });
  await ready(page);
  for (const sel of ["#header", "#controls", "#stats", "#notes", "#share", "#export-csv"]) assert.equal(await page.isHidden(sel), true, `${sel} hidden`);
  for (const sel of ["#play", "#step", "#reset", "#charts", "#boundary"]) assert.equal(await page.isVisible(sel), true, `${sel} visible`);
  assert.equal(await page.isVisible("#open-full"), true);
  await page.keyboard.press("Space");
  await page.waitForFunction(() => { const c = window.cabsDemo.snapshot().runs[0]; return c.batchSize > 24 && c.step >= 150; }, null, { timeout: 30_000 });
  await page.keyboard.press("Space");
  await page.waitForFunction(() => !window.cabsDemo.snapshot().running);
  await page.waitForTimeout(300); // the last redraw
  await saveScreenshot(page, "embed.png");

  await page.evaluate(() => { location.hash = "#data=blobs&backend=cpu&embed=1&hide=bar,boundary,noise,terms"; });
  await ready(page);
  await page.waitForFunction(() => document.querySelectorAll(".chart").length === 3);
  for (const sel of ["#bar", "#boundary"]) assert.equal(await page.isHidden(sel), true, `${sel} hidden by hide=`);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("Share gives a link and embed snippets that start training; <cabs-demo> works after one script tag", async () => {
  const page = await openPage(browser, `${server.url}#data=blobs&model=mlp:16&lr=3&backend=cpu&seed=5`);
  await ready(page);
  await page.click("#share");
  await page.waitForSelector("dialog.share[open] textarea"); // lib/share.js loads on the first click
  const [link, iframe, element] = await page.locator("dialog.share textarea").evaluateAll((ts) => ts.map((t) => t.value));
  assert.equal((await page.textContent("dialog.share")).includes("null"), false, "no literal null in the dialog");
  assert.ok(link.includes("#data=blobs&model=mlp:16&rule=cabs&lr=3") && link.includes("seed=5"), link);
  assert.match(iframe, /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/#data=blobs.*embed=1.*play=1"/);
  assert.match(element, /^<script src="http:\/\/127\.0\.0\.1:\d+\/cabs-demo\.js"><\/script>\n<cabs-demo data="blobs" model="mlp:16".* play="1">\n  The CABS demo loads here\. If this text stays, its script \(cabs-demo\.js\) could not run: <a href="http:\/\/127\.0\.0\.1:\d+\/#data=blobs&#38;model=mlp:16&#38;.*play=1">open the demo on its own page<\/a>\.\n<\/cabs-demo>$/);
  await page.keyboard.press("Escape");

  // A blog post on the same origin with just the snippet.
  const host = `${server.url}blog-post.html`;
  await page.route(host, (route) => route.fulfill({ contentType: "text/html", body: `<!doctype html><h1>My post</h1>\n${element}` }));
  await page.goto(host);
  const frame = page.locator("cabs-demo iframe");
  assert.equal(await frame.count(), 1);
  assert.equal(await fallbackShown(page), false, "the fallback text hides once the element runs");
  const src = await frame.getAttribute("src");
  assert.match(src, /index\.html#data=blobs&model=mlp:16&.*embed=1/);
  const progress = await page.evaluate(() => new Promise((resolve) => document.querySelector("cabs-demo").addEventListener("cabs-progress", function on(e) {
    if (e.detail.runs[0].step > 0) resolve(e.detail);
  })));
  assert.equal(progress.backend.kind, "cpu");
  assert.equal(progress.runs[0].rule, "cabs");
  assert.equal(await page.evaluate(() => document.querySelector("cabs-demo").cabsDemo.settings().seed), 5, "element.cabsDemo reaches the page");
  await page.context().close();
});

test("a key given twice: the page trains with the last one and its notice names it", async () => {
  const page = await openPage(browser, `${server.url}#data=moons&lr=1&lr=abc&play=1&backend=cpu`);
  await ready(page);
  const text = await page.textContent("#notice");
  assert.match(text, /lr='abc' \(the last of 2\) is not a number > 0 and ≤ 100; using lr=0\.5/);
  assert.equal((await page.evaluate(() => window.cabsDemo.settings())).lr, 0.5, "what trains is what the notice names");
  assert.equal(await value(page, "lr"), "0.5");
  assert.match(await page.evaluate(() => location.hash), /&lr=0\.5&/);
  await page.context().close();
  const second = await openPage(browser, `${server.url}#data=moons&lr=abc&lr=2&backend=cpu`);
  await ready(second);
  assert.match(await second.textContent("#notice"), /lr is given 2 times; using the last, lr=2/);
  assert.equal((await second.evaluate(() => window.cabsDemo.settings())).lr, 2);
  await second.context().close();
});

test("batch sizes above a data set's examples fall back to its size with a notice, and it trains", async () => {
  const page = await openPage(browser, `${server.url}#data=moons&model=mlp:16&mmax=8192&rule=const:8192&baselines=none&backend=cpu`);
  const snap = await ready(page);
  const text = await page.textContent("#notice");
  assert.match(text, /mmax=8192 asks for more than the 4,096 training examples of moons; using mmax=4096/);
  assert.match(text, /rule=const:8192 asks for more than the 4,096 training examples of moons; using rule=const:4096/);
  assert.equal(await page.isHidden("#error"), true, `an error instead of a notice: ${await page.textContent("#error")}`);
  assert.deepEqual(snap.runs.map((r) => r.rule), ["const:4096"]);
  assert.equal(snap.data.trainSize, TRAIN_SIZES.moons, "the page's size of moons is the engine's");
  assert.equal(await value(page, "mmax"), "4096");
  await page.evaluate(() => window.cabsDemo.step());
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step >= 1);
  // From the settings panel: a set with fewer examples than the batch asked for.
  await page.fill("#ctl-rule", "const:5000");
  await page.dispatchEvent("#ctl-rule", "change");
  await page.waitForFunction(() => document.getElementById("notice").textContent.includes("rule=const:5000 asks for more"));
  assert.equal(await value(page, "rule"), "const:4096");
  // MNIST: the bundle's size.
  await page.evaluate(() => { location.hash = "#data=mnist&model=logreg&mmax=8192&baselines=none&backend=cpu"; });
  await page.waitForFunction(() => document.getElementById("notice").textContent.includes("mmax=8192 asks for more than the 8,000"));
  const mnist = await ready(page);
  assert.equal(mnist.data.trainSize, TRAIN_SIZES.mnist, "the page's size of MNIST is the bundle's");
  assert.equal(await page.isHidden("#error"), true);
  await page.context().close();
});
