// The pre-flight check page (www/check.html): in headless Chromium with SwiftShader's WebGPU it
// measures both engines and its summary names both with positive steps per second; without WebGPU
// it measures the CPU engine only and says in words that WebGPU is unavailable. The summary's
// parser is checked against a doctored summary, so a summary without an engine cannot pass.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, openPage } from "./harness.mjs";

let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

/** Steps per second of each "<engine>, …: N steps/s" line of the summary, by engine. */
function rates(summary) {
  const out = { "WebGPU engine": [], "CPU engine": [] };
  for (const m of summary.matchAll(/^(WebGPU engine|CPU engine), [^\n]*?: ([\d.e+-]+) steps\/s/gm)) out[m[1]].push(Number(m[2]));
  return out;
}

test("the summary parser finds each engine's rates and misses an engine that is not there", () => {
  const doctored = "WebGPU adapter: google swiftshader\nCPU engine, default model (mnist · mlp:256): 41.5 steps/s at m = 16 (…)\n";
  assert.deepEqual(rates(doctored), { "WebGPU engine": [], "CPU engine": [41.5] });
});

/** Open check.html, wait for its final summary (the check's budget plus engine start-up). */
async function runCheck(browser) {
  const page = await openPage(browser, `${server.url}check.html?seconds=6`);
  await page.waitForFunction(() => document.documentElement.dataset.check === "done" || !document.getElementById("error").hidden,
    null, { timeout: 150_000, polling: 250 });
  const r = await page.evaluate(() => ({
    summary: document.getElementById("summary").value, error: document.getElementById("error").hidden ? null : document.getElementById("error").textContent,
    adapter: document.getElementById("adapter").textContent, rows: document.querySelectorAll("#results tr").length,
    copy: !document.getElementById("copy").disabled,
  }));
  return { page, ...r };
}

test("with WebGPU the check measures both engines and names the adapter and the largest smooth preset", { timeout: 200_000 }, async () => {
  const browser = await launch({ webgpu: true });
  try {
    const { page, summary, error, adapter, rows, copy } = await runCheck(browser);
    console.log(summary.split("\n").map((l) => `# ${l}`).join("\n"));
    assert.equal(error, null, error);
    assert.match(adapter, /^WebGPU adapter: .*swiftshader.*fallback \(software\) adapter: yes/i);
    const r = rates(summary);
    assert.ok(r["WebGPU engine"].length >= 1 && r["WebGPU engine"].every((v) => v > 0), `no WebGPU rate in:\n${summary}`);
    assert.ok(r["CPU engine"].length >= 1 && r["CPU engine"].every((v) => v > 0), `no CPU rate in:\n${summary}`);
    assert.match(summary, /^WebGPU engine, default model \(mnist · mlp:256\): [\d.]+ steps\/s at m = 16 \(created in [\d.]+ m?s, first step/m);
    assert.match(summary, /^CPU engine, default model \(mnist · mlp:256\): [\d.]+ steps\/s/m);
    assert.match(summary, /^(Largest preset that stays smooth: .+ \((CPU|WebGPU) engine, [\d.]+ steps\/s per run\)|No preset reaches 20 steps\/s)/m);
    assert.doesNotMatch(summary, /WebGPU is unavailable/);
    assert.ok(rows >= 2, `${rows} rows in the table`);
    assert.ok(copy, "the Copy button stays disabled");
    assert.deepEqual(page.errors, []);
    // The Copy button puts the summary on the clipboard (granted here; a user's browser may ask).
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url.replace(/\/$/, "") });
    await page.click("#copy");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), summary);
  } finally {
    await browser.close();
  }
});

test("without WebGPU the check measures the CPU engine only and says WebGPU is unavailable", { timeout: 200_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, summary, error, adapter } = await runCheck(browser);
    assert.equal(error, null, error);
    assert.match(adapter, /^WebGPU is unavailable: .+\. The demo will train on the CPU engine\.$/);
    assert.match(summary, /^WebGPU is unavailable: /m);
    const r = rates(summary);
    assert.deepEqual(r["WebGPU engine"], [], `a WebGPU rate without WebGPU:\n${summary}`);
    assert.ok(r["CPU engine"].length >= 1 && r["CPU engine"].every((v) => v > 0), `no CPU rate in:\n${summary}`);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
});

test("the time budget from the address is a number only: markup in it is never rendered", { timeout: 60_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await openPage(browser, `${server.url}check.html?seconds=<img src=x onerror=window.owned=1>`);
    await page.waitForFunction(() => document.getElementById("adapter").textContent !== "…", null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => document.querySelectorAll("img").length + (window.owned ?? 0)), 0);
  } finally {
    await browser.close();
  }
});
