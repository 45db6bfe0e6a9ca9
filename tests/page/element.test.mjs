// The <cabs-demo> element (www/cabs-demo.js): its attributes get the URL's bounds (the link's
// length limit, a clamped height) with a readable notice in the element; it is a classic script,
// so a post on another origin loads it with a plain <script src> and no CORS header; the module
// form from another origin without that header leaves the post's own fallback text readable.
// Also the settings panel's help texts, which must wrap between words, not inside them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, openPage, pageSuite } from "./harness.mjs";
import { KEYS, SCHEMA } from "../../www/lib/state.js";

let server, browser;
pageSuite({ webgpu: false }, (s) => ({ server, browser } = s));

const FALLBACK = "The CABS demo loads here. If this text stays, its script (cabs-demo.js) could not run:";
/** Light demos: the frames' engines are created only while seen, on the CPU, on a 2-D set. */
const LIGHT = 'data="blobs" model="mlp:16" baselines="none" backend="cpu"';

/** A page at `url` whose HTML is `body` (served by the test, not by the demo's server). */
async function post(url, body) {
  const page = await openPage(browser, "about:blank");
  await page.route(url, (route) => route.fulfill({ contentType: "text/html", body: `<!doctype html><meta charset="utf-8"><title>post</title>${body}` }));
  await page.goto(url);
  return page;
}

/** The element's notice line ("" while hidden) and its frame's src and height. */
const look = (page, sel = "cabs-demo") => page.evaluate((sel) => {
  const d = document.querySelector(sel);
  const note = d.shadowRoot.querySelector(".notice");
  const frame = d.shadowRoot.querySelector("iframe");
  return { notice: note.hidden ? "" : note.textContent, src: frame.getAttribute("src") ?? "", height: frame.getBoundingClientRect().height, width: frame.getBoundingClientRect().width };
}, sel);

/** Whether the element's own content (the post's fallback text) is drawn: light DOM has boxes. */
const fallbackShown = (page) => page.evaluate(() => {
  const range = document.createRange();
  range.selectNodeContents(document.querySelector("cabs-demo"));
  return [...range.getClientRects()].some((r) => r.width > 0 && r.height > 0);
});

test("the element's attributes are the schema's URL keys, bounded by the link's length limit", async () => {
  const page = await post(`${server.url}keys.html`, `<script src="/cabs-demo.js"></script><cabs-demo ${LIGHT}></cabs-demo>`);
  assert.deepEqual(await page.evaluate(() => customElements.get("cabs-demo").observedAttributes), [...KEYS, "height"]);
  // The attributes as a link, with a model of N characters: exactly the limit passes, one more is refused.
  const fits = SCHEMA.maxLinkChars - "data=blobs&model=&baselines=none&backend=cpu&embed=1".length;
  await page.evaluate((n) => document.querySelector("cabs-demo").setAttribute("model", "x".repeat(n)), fits);
  let s = await look(page);
  assert.equal(s.notice, "");
  assert.equal(s.src.split("#")[1].length, SCHEMA.maxLinkChars);
  await page.evaluate((n) => document.querySelector("cabs-demo").setAttribute("model", "x".repeat(n)), fits + 1);
  s = await look(page);
  assert.equal(s.notice, `cabs-demo: the settings are ${(SCHEMA.maxLinkChars + 1).toLocaleString("en")} characters long (model alone ${(fits + 1).toLocaleString("en")}), more than the 2,000 a link may hold; showing the demo with its defaults.`);
  assert.ok(s.src.endsWith("/index.html#embed=1"), s.src);

  // A 10 MB attribute: no 10 MB frame URL, a readable notice in the element.
  await page.evaluate(() => { const d = document.querySelector("cabs-demo"); d.setAttribute("model", "mlp:16"); d.setAttribute("lr", "1".repeat(10_000_000)); });
  s = await look(page);
  assert.ok(s.src.length < 200, `the frame's URL is ${s.src.length} characters`);
  assert.match(s.notice, /^cabs-demo: the settings are 10,000,\d{3} characters long \(lr alone 10,000,000\), more than the 2,000 a link may hold/);
  assert.equal(await page.locator("cabs-demo .notice").isVisible(), true, "the notice is shown in the element");
  await page.evaluate(() => document.querySelector("cabs-demo").removeAttribute("lr"));
  assert.equal((await look(page)).notice, "", "the notice goes once the attribute is fixed");
  await page.context().close();
});

test("height is clamped to 200–4,000 px with a notice; a height that is no number keeps 16:10", async () => {
  const page = await post(`${server.url}height.html`, `<script src="/cabs-demo.js"></script><div style="width:800px"><cabs-demo ${LIGHT} height="99999999"></cabs-demo></div>`);
  let s = await look(page);
  assert.equal(s.notice, "cabs-demo: height=99999999 is above 4,000; using 4,000 px.");
  assert.equal(s.height, 4000);
  const set = (h) => page.evaluate((h) => document.querySelector("cabs-demo").setAttribute("height", h), h);
  await set("50");
  s = await look(page);
  assert.equal(s.notice, "cabs-demo: height=50 is below 200; using 200 px.");
  assert.equal(s.height, 200);
  await set("480px");
  s = await look(page);
  assert.deepEqual([s.notice, s.height], ["", 480]);
  await set("tall<b>");
  s = await look(page);
  assert.equal(s.notice, "cabs-demo: height='tall<b>' is not a number of pixels; using 16:10 of the width.");
  assert.equal(s.height, 500, "16:10 of 800 px");
  assert.equal(await page.locator("cabs-demo b").count(), 0, "the value is shown as text");
  await page.context().close();
});

test("from another origin: a classic <script src> needs no CORS header; the module form leaves the post's fallback readable", async () => {
  // The post on its own server (another port: another origin); the demo's files on `server`, which
  // sends no Access-Control-Allow-Origin. (A page fulfilled by the test would count as a public
  // address, and Chromium keeps those from loopback ones whatever the headers.)
  const dir = mkdtempSync(join(tmpdir(), "cabs-post-"));
  const blog = await startServer(dir);
  const snippet = (tag) => `${tag}<cabs-demo ${LIGHT} play="1" autopause="0" height="400">\n  ${FALLBACK} <a href="${server.url}#data=blobs&amp;play=1">open the demo on its own page</a>.\n</cabs-demo>`;
  const write = (name, body) => writeFileSync(join(dir, name), `<!doctype html><meta charset="utf-8"><title>post</title><h1>A post</h1>${body}`);
  write("classic-post.html", snippet(`<script src="${server.url}cabs-demo.js"></script>`));
  writeFileSync(join(dir, "favicon.ico"), ""); // no 404 in the console
  write("module-post.html", snippet(`<script type="module" src="${server.url}cabs-demo.js"></script>`));
  try {
    await crossOrigin(blog);
  } finally {
    blog.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function crossOrigin(blog) {
  const page = await openPage(browser, `${blog.url}classic-post.html`);
  assert.equal(await page.evaluate(() => !!customElements.get("cabs-demo")), true);
  assert.equal(await fallbackShown(page), false, "the fallback hides once the element runs");
  const s = await look(page);
  assert.ok(s.src.startsWith(`${server.url}index.html#data=blobs&model=mlp:16`), s.src);
  assert.equal(s.notice, "");
  const frame = page.frames().find((f) => f.url().startsWith(server.url));
  await frame.waitForFunction(() => (window.cabsDemo?.snapshot().runs[0].step ?? 0) > 0, null, { timeout: 60_000, polling: 200 });
  assert.equal(await page.evaluate(() => document.querySelector("cabs-demo").cabsDemo), undefined, "no hook across origins");
  assert.deepEqual(page.errors, []);
  await page.context().close();

  const failed = await openPage(browser, `${blog.url}module-post.html`);
  await failed.waitForLoadState("load");
  assert.equal(await failed.evaluate(() => !!customElements.get("cabs-demo")), false, "the module form ran without Access-Control-Allow-Origin");
  assert.equal(await fallbackShown(failed), true, "the post's fallback text is readable");
  assert.match(await failed.textContent("cabs-demo"), /If this text stays, its script \(cabs-demo\.js\) could not run/);
  assert.equal(await failed.getByRole("link", { name: "open the demo on its own page" }).isVisible(), true);
  assert.ok(failed.errors.some((e) => /CORS|Access-Control-Allow-Origin/.test(e)), `the browser's reason: ${failed.errors}`);
  await failed.context().close();
}

test("the settings panel's help texts wrap between words, never inside one (\"invtim e:K\")", async () => {
  for (const width of [1280, 1024, 900, 800, 640, 480, 360]) {
    const page = await openPage(browser, `${server.url}#data=blobs&backend=cpu&autopause=1`, { width, height: 900 });
    await page.waitForSelector("#ctl-rule-help");
    const split = await page.evaluate(() => {
      const out = [];
      for (const help of document.querySelectorAll("#controls .help")) {
        if (!help.getClientRects().length) continue;
        const walker = document.createTreeWalker(help, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          for (const m of node.data.matchAll(/[\p{L}\d]+/gu)) {
            const tops = new Set();
            for (let i = m.index; i < m.index + m[0].length; i++) {
              const r = document.createRange();
              r.setStart(node, i);
              r.setEnd(node, i + 1);
              const rect = r.getClientRects()[0];
              if (rect) tops.add(Math.round(rect.top));
            }
            if (tops.size > 1) out.push(`${help.id}: '${m[0]}'`);
          }
        }
      }
      return out;
    });
    assert.deepEqual(split, [], `words broken at ${width} px`);
    assert.equal(await page.textContent("#ctl-rule-help"), SCHEMA.keys.find((k) => k.key === "rule").help, "the text itself is unchanged");
    await page.context().close();
  }
});
