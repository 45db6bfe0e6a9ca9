// "Your data": the user's own IDX files, generated here (600 digits-sized images whose label is
// a bright horizontal band, so a model learns them fast), go through the file picker and drag
// and drop to the worker, train on the CPU engine, and show their sizes; a reset keeps them,
// the URL keeps the built-in data set with a visible note; a truncated file is refused in words
// and built-in data trains again afterwards. A full-size set (60,000 + 10,000 images, 55 MB)
// loads from disk in seconds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPage, ready, pageSuite } from "./harness.mjs";

const HASH = "#data=blobs&model=mlp:32&lr=0.5&mmax=256&backend=cpu&baselines=const:16&x=step"; // m_max ≤ 500 examples
let server, browser;

pageSuite({ webgpu: false }, (s) => ({ server, browser } = s));

/** An IDX file of unsigned bytes: magic [0, 0, 8, ndims], big-endian u32 sizes, then the data. */
function idx(dims, data) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

/** n images 28×28: label k lights rows 2k+4 … 2k+6 (plus seeded noise everywhere). */
function digits(n) {
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    labels[i] = k;
    for (let p = 0; p < 784; p++) {
      const row = Math.floor(p / 28);
      images[i * 784 + p] = row >= 2 * k + 4 && row <= 2 * k + 6 ? 160 + Math.floor(rand() * 95) : Math.floor(rand() * 60);
    }
  }
  return { images: idx([n, 28, 28], images), labels: idx([n], labels) };
}

const snapshot = (page) => page.evaluate(() => window.cabsDemo.snapshot());

test("your IDX files: chosen, trained on (the loss falls), shown with their sizes; reset keeps them", async () => {
  const page = await openPage(browser, server.url + HASH);
  await ready(page);
  const { images, labels } = digits(600);
  await page.setInputFiles("#ctl-files", [
    { name: "train-images-idx3-ubyte.gz", mimeType: "application/gzip", buffer: gzipSync(images) },
    { name: "train-labels-idx1-ubyte", mimeType: "application/octet-stream", buffer: labels },
  ]);
  await page.waitForFunction(() => window.cabsDemo.snapshot().data?.dataset === "idx", null, { timeout: 30_000 });
  const data = (await snapshot(page)).data;
  assert.deepEqual([data.trainSize, data.testSize, data.inputDim, data.classes], [500, 100, 784, 10], "1/6 held out for testing");
  assert.deepEqual(data.files, ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte"]);
  assert.match(await page.textContent("#backend-note"), /Your data, IDX: 500 training and 100 test examples, 784 inputs, 10 classes/);
  assert.match(await page.textContent("#ctl-files-status"), /Training on your 2 files .*train-images-idx3-ubyte\.gz.*IDX: 500 training/);
  assert.equal(await page.inputValue("#ctl-data"), "files");
  assert.equal(await page.isVisible("#ctl-files-link"), true, "a note says that links cannot carry the files");
  assert.ok((await page.evaluate(() => location.hash)).includes("data=blobs"), "the hash keeps the built-in data set");

  await page.click("#step");
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs.every((r) => r.step === 1));
  const l0 = (await snapshot(page)).runs[0].loss;
  await page.click("#play");
  await page.waitForFunction((l) => {
    const r = window.cabsDemo.snapshot().runs;
    return r[0].step > 60 && r[0].loss < 0.5 * l && r[1].loss < 0.5 * l && r[0].testAccuracy > 0.5;
  }, l0, { timeout: 60_000, polling: 250 });
  await page.click("#play");
  await page.waitForFunction(() => !window.cabsDemo.snapshot().running);
  const snap = await snapshot(page);
  console.log(`# user IDX files on the CPU: first loss ${l0.toFixed(3)}, now ${JSON.stringify(snap.runs)}`);

  await page.click("#share");
  await page.waitForSelector("dialog.share[open]"); // lib/share.js loads on the first click
  assert.match(await page.textContent("dialog.share"), /A link cannot carry your files/);
  await page.click("dialog.share button[value=close]");

  await page.click("#reset"); // a reset starts again on the same files
  await page.waitForFunction(() => { const s = window.cabsDemo.snapshot(); return s.data?.dataset === "idx" && s.runs[0].step === 0; });
  await page.click("#step");
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs[0].step === 1);

  await page.selectOption("#ctl-data", "moons"); // a built-in data set drops the files
  await page.waitForFunction(() => window.cabsDemo.snapshot().data?.inputDim === 2);
  assert.ok((await page.evaluate(() => location.hash)).includes("data=moons"));
  assert.equal(await page.isHidden("#ctl-files-link"), true);
  assert.equal((await snapshot(page)).data.files, null);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a truncated file is refused in words; the page stays usable and built-in data trains again", async () => {
  const page = await openPage(browser, server.url + HASH);
  await ready(page);
  const { images, labels } = digits(60);
  const cut = images.subarray(0, images.length - 1000);
  // Dropped on the page (a synthetic drop with the files in its DataTransfer).
  await page.evaluate(([a, b]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(a)], "train-images-idx3-ubyte"));
    dt.items.add(new File([new Uint8Array(b)], "train-labels-idx1-ubyte"));
    for (const type of ["dragenter", "dragover", "drop"])
      document.getElementById("ctl-files-zone").dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [[...cut], [...labels]]);
  await page.waitForSelector("#error:not([hidden])", { timeout: 30_000 });
  const error = await page.textContent("#error");
  assert.match(error, /^Something went wrong: your files could not be used as a data set: train-images-idx3-ubyte: .*truncated/);
  assert.equal(await page.isVisible("#ctl-builtin"), true);

  await page.click("#ctl-builtin"); // back to the built-in data set of the link
  const snap = await ready(page);
  assert.equal(snap.data.files, null);
  assert.equal(snap.data.inputDim, 2);
  assert.equal(await page.isHidden("#error"), true, "the error is gone");
  assert.equal(await page.inputValue("#ctl-data"), "blobs");
  assert.doesNotMatch(await page.textContent("#backend-note"), /Your data/);
  await page.click("#step");
  await page.click("#step");
  await page.waitForFunction(() => window.cabsDemo.snapshot().runs.every((r) => r.step === 2));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a full MNIST-sized set (60,000 training and 10,000 test images, 55 MB) loads and trains", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cabs-idx-"));
  try {
    const train = digits(60_000);
    const t10k = digits(10_000);
    const files = { "train-images-idx3-ubyte": train.images, "train-labels-idx1-ubyte": train.labels, "t10k-images-idx3-ubyte": t10k.images, "t10k-labels-idx1-ubyte": t10k.labels };
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
    const page = await openPage(browser, `${server.url}#data=blobs&backend=cpu&x=step`); // MNIST's model and m_max
    await ready(page);
    const t0 = Date.now();
    await page.setInputFiles("#ctl-files", Object.keys(files).map((n) => join(dir, n))); // over 50 MB: from disk
    await page.waitForFunction(() => window.cabsDemo.snapshot().data?.dataset === "idx", null, { timeout: 60_000 });
    const data = (await snapshot(page)).data;
    assert.deepEqual([data.trainSize, data.testSize], [60_000, 10_000], "the t10k pair is the test set");
    await page.click("#step");
    await page.waitForFunction(() => window.cabsDemo.snapshot().runs.every((r) => r.step === 1), null, { timeout: 30_000 });
    console.log(`# 55 MB of IDX files: ready and one step in ${Date.now() - t0} ms (CPU)`);
    assert.match(await page.textContent("#backend-note"), /Your data, IDX: 60,000 training and 10,000 test examples/);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("gzip'd IDX files are inflated by the browser: the same data as raw, and broken or oversized ones refused in words", async () => {
  // The wasm has no inflater: Trainer.createWithFiles hands gzip to the browser's
  // DecompressionStream, header first, so a file declaring more than 2 GiB is refused before
  // anything is inflated, and a stream longer or shorter than its header is an error.
  const page = await browser.newPage();
  await page.goto(`${server.url}bare-document-for-the-gzip-test`);
  await page.setContent("<!doctype html><title>gzip</title>");
  const { images, labels } = digits(120);
  const bomb = idx([60_000, 200, 200], new Uint8Array(10)); // declares 2.4 GB
  const gz = (b) => [...gzipSync(b)];
  const cases = {
    raw: [[...images], [...labels]],
    gzip: [gz(images), gz(labels)],
    bomb: [gz(bomb), [...labels]],
    longer: [gz(Buffer.concat([images, Buffer.alloc(5)])), [...labels]],
    shorter: [gz(images.subarray(0, images.length - 5)), [...labels]],
    cut: [[...gzipSync(images)].slice(0, 300), [...labels]],
    junk: [[0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7], [...labels]],
    notIdx: [gz(Buffer.from("not an IDX file at all")), [...labels]],
  };
  const out = await page.evaluate(async (cases) => {
    const m = await import("/pkg/cabs.js");
    await m.default();
    const settings = { model: "mlp:8", mmax: 32, backend: "cpu", seed: 3 };
    const result = {};
    for (const [name, [a, b]] of Object.entries(cases)) {
      const files = [{ name: "train-images-idx3-ubyte", bytes: new Uint8Array(a) }, { name: "train-labels-idx1-ubyte", bytes: new Uint8Array(b) }];
      try {
        const t = await m.Trainer.createWithFiles(settings, files);
        const info = t.info();
        const s = await t.step();
        result[name] = { ok: true, train: info.trainSize, test: info.testSize, loss: s.loss };
        t.free();
      } catch (e) {
        result[name] = { ok: false, name: e.name, message: e.message };
      }
    }
    return result;
  }, cases);
  assert.deepEqual(out.raw, { ...out.raw, ok: true, train: 100, test: 20 });
  assert.deepEqual(out.gzip, out.raw, "gzip'd and raw files give the same run, bit for bit");
  const refused = (name, re) => {
    assert.equal(out[name].ok, false, `${name}: ${JSON.stringify(out[name])}`);
    assert.equal(out[name].name, "DataError", name);
    assert.match(out[name].message, re, name);
  };
  refused("bomb", /train-images-idx3-ubyte: its header declares sizes \[60000, 200, 200\], more than the 2 GiB/);
  refused("longer", /train-images-idx3-ubyte: decompresses to more than the 94096 bytes its header declares: corrupt/);
  refused("shorter", /train-images-idx3-ubyte: decompresses to 94091 bytes, its header declares 94096: truncated/);
  refused("cut", /train-images-idx3-ubyte: not a valid gzip file \(/);
  refused("junk", /train-images-idx3-ubyte: not a valid gzip file/);
  refused("notIdx", /train-images-idx3-ubyte: wrong magic number 6e6f7420: not an IDX file/);
  await page.close();
});
