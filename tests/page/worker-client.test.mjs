// The page's side of the worker protocol (www/lib/client.js) when a run cannot be handed over:
// a file whose buffer was already transferred makes postMessage throw a DataCloneError. The
// client reports it as an error message (the page shows it) instead of throwing out of start()
// and leaving the page waiting for a worker that never heard of the run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pageSuite } from "./harness.mjs";

let server, browser, page;

pageSuite({ webgpu: false }, async (s) => {
  ({ server, browser } = s);
  page = await browser.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  await page.goto(`${server.url}bare-document-for-the-client-test`); // a 404 page: no page scripts
  await page.setContent("<!doctype html><title>worker client</title>");
});

test("a run whose files cannot be handed to the worker is an error message, not an exception or a wait", async () => {
  const r = await page.evaluate(async () => {
    const { WorkerClient } = await import("/lib/client.js");
    const messages = [];
    const client = new WorkerClient((m) => messages.push(m));
    const bytes = new ArrayBuffer(16);
    structuredClone(bytes, { transfer: [bytes] }); // detached, as after an earlier run took it
    let thrown = null;
    try {
      client.start({ runs: [{ id: 0, settings: { data: "blobs" } }], evalEvery: 50, mnist: null, files: [{ name: "x", bytes }], gridSize: 0 });
    } catch (e) {
      thrown = String(e);
    }
    return { thrown, messages, worker: client.worker };
  });
  assert.equal(r.thrown, null, "start() threw");
  assert.equal(r.worker, null, "the worker that never got its run is stopped");
  assert.equal(r.messages.length, 1, JSON.stringify(r.messages));
  assert.equal(r.messages[0].type, "error");
  assert.match(r.messages[0].message, /^the run could not be handed to the training worker: .*detached/i);
  assert.deepEqual(page.errors, []);
});

test("a command that cannot be copied to the worker is an error message", async () => {
  const r = await page.evaluate(async () => {
    const { WorkerClient } = await import("/lib/client.js");
    const messages = [];
    const client = new WorkerClient((m) => { if (m.type === "error") messages.push(m); });
    client.start({ runs: [{ id: 0, settings: { data: "blobs", model: "mlp:8", backend: "cpu" } }], evalEvery: 50, mnist: null, gridSize: 0 });
    let thrown = null;
    try {
      client.send({ type: "setLr", lr: () => 0.1 });
    } catch (e) {
      thrown = String(e);
    }
    client.stop();
    return { thrown, messages };
  });
  assert.equal(r.thrown, null, "send() threw");
  assert.equal(r.messages.length, 1, JSON.stringify(r.messages));
  assert.match(r.messages[0].message, /^a command could not be handed to the training worker: /);
});
