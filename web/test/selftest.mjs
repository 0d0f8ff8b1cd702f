// Headless browser test of the built page (web/dist): serves it on 127.0.0.1, opens it in
// Debian's Chromium (never a downloaded browser), and checks
//   1. with WebGPU (Chromium's software adapter, SwiftShader) the engine's selftest passes;
//   2. a few training steps of the tiny preset (#train=tiny&steps=12) lower the loss;
//   3. without the WebGPU flags the page explains that WebGPU is missing and trains the tiny
//      preset on the engine's CPU backend in the page instead, lowering the loss;
//   4. the lab opens on its canvas from a link with state, restores that state (the lab
//      rewrites the address from its own state: the link's settings come back, in full form),
//      trains the smoke preset through its Train panel on WebGPU as the link asks (`play`),
//      lowering the loss; a text file dropped onto its canvas becomes a domain of the Train
//      panel and the Mixture lab; and its screenshot is not blank (SIGMIX_LAB_SCREENSHOT=path
//      saves it);
//   5. the Mixture lab runs the smoke sweep in the page from a link with `play` and fits it,
//      and its figure downloads as an SVG drawn in the page; after a reload the runs are back
//      (kept in the page's storage);
//   6. a lost GPU device in the lab: the engine's WebGPU device is destroyed mid-run (as a
//      browser reclaiming the GPU would), the lab says so, the run's curve stays, and clicking
//      "Restart GPU" and then "Play" (where the lab reports it drew them) trains on a new device.
//   7. (a benchmark, run only when asked: SIGMIX_BROWSER_CHECKS=7) the page's #bench=tiny
//      times training steps of the tiny preset on WebGPU and on the CPU backend in the page,
//      as `sigmix bench train --device gpu|cpu` does natively, and prints tokens/s.
// SIGMIX_BROWSER_CHECKS=1,6 runs only those checks (the default is 1 to 6).
// Prints one JSON line per check; exits non-zero on any failure.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, extname, normalize } from "node:path";
import { chromium } from "playwright-core";

const root = process.argv[2] ?? "web/dist";
const browser = process.env.SIGMIX_CHROMIUM ?? "/usr/bin/chromium";
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
  const file = join(root, path.endsWith("/") ? path + "index.html" : path);
  try {
    const body = await readFile(file);
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end("not found");
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

const quiet = ["--headless=new", "--no-sandbox", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-quic"];
const webgpu = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader", "--use-angle=swiftshader"];

// Every WebGPU device the engine requests (label "sigmix"), kept where a check can reach it.
function keepEngineDevices() {
  if (!navigator.gpu) return;
  window.engineDevices = [];
  const request = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (desc) {
    const device = await request.call(this, desc);
    if (desc?.label === "sigmix") window.engineDevices.push(device);
    return device;
  };
}

async function open(flags, until, timeout, shot, hash = "", size = { width: 1000, height: 700 }, act = null) {
  const profile = mkdtempSync(join(tmpdir(), "sigmix-chromium-"));
  const b = await chromium.launchPersistentContext(profile, { executablePath: browser, args: [...quiet, ...flags], headless: true });
  try {
    await b.addInitScript(keepEngineDevices);
    const page = await b.newPage();
    await page.setViewportSize(size);
    const logs = [];
    page.on("console", (m) => logs.push(m.text()));
    page.on("pageerror", (e) => logs.push(String(e)));
    await page.goto(url + hash);
    // When the lab takes its first training step, in ms since navigation started.
    await page.evaluate(() => {
      const poll = setInterval(() => {
        const s = JSON.parse(window.labStatus?.() || "null");
        if (s?.train?.steps >= 1) { window.firstStepMs = performance.now(); clearInterval(poll); }
      }, 10);
    });
    await page.waitForFunction(until, null, { timeout });
    if (act) await act(page);
    // A few frames for the page (or the lab's canvas) to settle before the picture.
    await page.waitForTimeout(shot ? 1500 : 0);
    const png = await page.screenshot(shot ? { path: shot } : {});
    const report = await page.locator("#report").textContent({ timeout: 1000 }).catch(() => null);
    const address = await page.evaluate(() => location.hash);
    const lab = await page.evaluate(() => { try { return JSON.parse(window.labStatus?.() || "null"); } catch { return null; } });
    const firstStepMs = await page.evaluate(() => window.firstStepMs ?? null);
    return { title: await page.title(), text: await page.innerText("main"), logs, report, png, hash: address, lab, firstStepMs };
  } finally {
    await b.close();
  }
}

// The open lab's status (`lab_status()` as JSON), evaluated in the page; null before it opens.
const status = () => { try { return JSON.parse(window.labStatus?.() || "null"); } catch { return null; } };

// Clicks the lab's button `name` where the lab reports drawing it, once a frame has drawn it:
// the pointer moves there, presses and releases with pauses between, as a hand would, so the
// lab draws frames in between instead of receiving the whole click at once.
async function click(page, name) {
  const drawn = `(${status})()?.buttons?.[${JSON.stringify(name)}]`;
  await page.waitForFunction(`!!${drawn}`, null, { timeout: 10_000 }).catch(() => {});
  const at = await page.evaluate(drawn);
  if (!at) throw new Error(`the lab drew no "${name}" button`);
  const box = await page.locator("#lab").boundingBox();
  await page.mouse.move(box.x + at[0], box.y + at[1]);
  await page.waitForTimeout(100);
  await page.mouse.down();
  await page.waitForTimeout(100);
  await page.mouse.up();
}

const only = process.env.SIGMIX_BROWSER_CHECKS?.split(",").map(Number);
const wanted = (n) => (only ? only.includes(n) : n <= 6);
let failed = 0;
function report(name, ok, detail) {
  console.log(JSON.stringify({ check: name, ok, ...detail }));
  if (!ok) failed++;
}

if (wanted(1)) try {
  // SIGMIX_SCREENSHOT=path saves the finished page (the README shows docs/web-selftest.png).
  const r = await open(webgpu, () => /^sigmix (selftest|: error)/.test(document.title), 600_000, process.env.SIGMIX_SCREENSHOT, "#selftest");
  const m = r.title.match(/(\d+)\/(\d+) passed/);
  const ok = !!m && m[1] === m[2] && Number(m[2]) > 0;
  report("selftest in the browser", ok, { title: r.title, failures: ok ? [] : r.text.split("\n").filter((l) => l.includes("FAIL")), logs: ok ? [] : r.logs.slice(-20) });
} catch (e) {
  report("selftest in the browser", false, { error: String(e) });
}
if (wanted(2)) try {
  const r = await open(webgpu, () => /^sigmix (train|: error)/.test(document.title), 600_000, undefined, "#train=tiny&steps=12");
  const rep = r.report ? JSON.parse(r.report) : { losses: [] };
  const losses = rep.losses.map((p) => p[1]);
  const ok = losses.length === 12 && losses.every(Number.isFinite) && losses[losses.length - 1] < losses[0] - 0.05;
  report("a few training steps of the tiny preset lower the loss", ok, { title: r.title, losses, tokens_per_sec: rep.tokens_per_sec, eval_loss: rep.eval_loss, logs: ok ? [] : r.logs.slice(-20) });
} catch (e) {
  report("a few training steps of the tiny preset lower the loss", false, { error: String(e) });
}
if (wanted(3)) try {
  const r = await open([], () => /^sigmix: no WebGPU; cpu train/.test(document.title) || document.title.startsWith("sigmix selftest"), 600_000);
  const rep = r.report ? JSON.parse(r.report) : { losses: [] };
  const losses = rep.losses.map((p) => p[1]);
  const explained = r.title.startsWith("sigmix: no WebGPU") && r.text.includes("has no WebGPU");
  const trained = losses.length === 12 && losses.every(Number.isFinite) && losses[losses.length - 1] < losses[0] - 0.05;
  report("no WebGPU: explained, and the CPU backend trains instead", explained && trained,
    { title: r.title, losses, tokens_per_sec: rep.tokens_per_sec, logs: explained && trained ? [] : r.logs.slice(-20) });
} catch (e) {
  report("no WebGPU: explained, and the CPU backend trains instead", false, { error: String(e) });
}
if (wanted(4)) try {
  // The lab from a link: its settings, and `play` to train as it opens, on the page's WebGPU.
  const link = "#tab=train&preset=smoke&seed=7&width=48&attention=sigmoid&sweep=smoke&device=gpu&play";
  // Then a text file dropped onto the canvas becomes a domain (read through the browser's File API).
  const dropText = async (page) => {
    await page.evaluate(() => {
      const text = Array.from({ length: 600 }, (_, i) => `paid ${(i * 37) % 500} to shop ${i % 7} on day ${i % 28}\n`).join("");
      const files = new DataTransfer();
      files.items.add(new File([text], "ledger.txt", { type: "text/plain" }));
      document.getElementById("lab").dispatchEvent(new DragEvent("drop", { dataTransfer: files, bubbles: true, cancelable: true }));
    });
    await page.waitForFunction(`(${status})()?.texts?.includes("ledger")`, null, { timeout: 30_000 }).catch(() => {});
  };
  const r = await open(webgpu, `(${status})()?.train?.status === "finished" || (${status})()?.train?.status === "failed" || document.title === "sigmix: error"`,
    600_000, process.env.SIGMIX_LAB_SCREENSHOT ?? join(tmpdir(), "sigmix-lab.png"), link, { width: 1280, height: 800 }, dropText);
  const state = Object.fromEntries(new URLSearchParams(r.hash.slice(1)));
  const restored = state.tab === "train" && state.preset === "smoke" && state.seed === "7" && state.width === "48" &&
    state.attention === "sigmoid" && state.sweep === "smoke" && state.device === "gpu" && "mix" in state && "lr" in state;
  const t = r.lab?.train ?? {};
  const trained = t.status === "finished" && t.steps === 60 && t.last_loss < t.first_loss - 0.05;
  // A blank or single-colour 1280×800 PNG is a few kilobytes; the lab's panels are tens.
  const drawn = r.png.length > 30_000;
  const ownText = (r.lab?.texts ?? []).includes("ledger") && (t.domains ?? []).includes("ledger") &&
    (r.lab?.mixture?.domains ?? []).includes("ledger");
  const ok = restored && trained && drawn && ownText;
  report("the lab opens from a link, restores its state, trains on WebGPU, takes a dropped text, and draws", ok,
    { title: r.title, hash: r.hash, train: t, first_step_ms: r.firstStepMs, texts: r.lab?.texts, notice: r.lab?.notice, screenshot_bytes: r.png.length, logs: ok ? [] : r.logs.slice(-20) });
} catch (e) {
  report("the lab opens from a link, restores its state, trains on WebGPU, takes a dropped text, and draws", false, { error: String(e) });
}
if (wanted(5)) try {
  // The Mixture lab in the page: `play` runs the smoke sweep (28 runs kept in the page, refitted
  // as each size finishes), then the law is fitted on the three smaller sizes, all as tasks on the page's event loop.
  const t0 = Date.now();
  // After the fit, reload the page: the runs kept in the page's storage come back.
  let before = null, seconds = null;
  let figure = "";
  const reload = async (page) => {
    before = await page.evaluate(`(${status})()`);
    seconds = (Date.now() - t0) / 1000;
    // The sweep's figure as the visitor downloads it: an SVG drawn by plotters in the page.
    const download = page.waitForEvent("download", { timeout: 30_000 }).catch(() => null);
    await click(page, "Download figure SVG");
    const file = await download;
    figure = file ? await readFile(await file.path(), "utf8").catch(() => "") : "";
    await page.reload();
    await page.waitForFunction(`(${status})()?.mixture?.runs === 28`, null, { timeout: 120_000 }).catch(() => {});
  };
  const r = await open(webgpu, `((${status})()?.mixture?.fits > 0 && !(${status})()?.mixture?.running) || !!(${status})()?.mixture?.error || document.title === "sigmix: error"`,
    600_000, undefined, "#tab=mixture&sweep=smoke&device=cpu&play", { width: 1280, height: 800 }, reload);
  const m = before?.mixture ?? {};
  // Four domain losses and their mean, each fitted.
  const swept = m.runs === 28 && m.planned === 28 && m.fits === 5 && !m.error && !m.running;
  const kept = r.lab?.mixture?.runs === 28 && r.lab?.tab === "mixture";
  // An SVG with the figure's panels, their axis labels as text.
  const drawnFigure = figure.startsWith("<svg") && (figure.match(/<text/g) ?? []).length > 20 && figure.includes("loss");
  const ok = swept && kept && drawnFigure;
  report("the Mixture lab sweeps and fits in the page, and keeps the runs across a reload", ok,
    { mixture: m, seconds_with_page_load: seconds, after_reload: r.lab?.mixture, figure_svg_bytes: figure.length,
      figure_text_elements: (figure.match(/<text/g) ?? []).length, logs: ok ? [] : r.logs.slice(-20) });
} catch (e) {
  report("the Mixture lab sweeps and fits in the page, and keeps the runs across a reload", false, { error: String(e) });
}
if (wanted(6)) try {
  // A lost device mid-run: the lab trains the smoke preset on WebGPU; after a few steps the
  // engine's device is destroyed under it.
  const seen = {};
  const loseAndRestart = async (page) => {
    seen.before = (await page.evaluate(`(${status})()`))?.train;
    seen.devices = await page.evaluate(() => { window.engineDevices.forEach((d) => d.destroy()); return window.engineDevices.length; });
    await page.waitForFunction(`(s => s?.gpu_lost && s.train.status !== "running")((${status})())`, null, { timeout: 60_000 });
    seen.lost = await page.evaluate(`(${status})()`);
    await click(page, "Restart GPU");
    // Until a frame without the banner is drawn, Play's reported place is where it was above it.
    await page.waitForFunction(`(s => !s?.gpu_lost && !s?.buttons?.["Restart GPU"])((${status})())`, null, { timeout: 10_000 });
    await click(page, "Play");
    await page.waitForFunction(`["finished", "failed"].includes((${status})()?.train?.status)`, null, { timeout: 300_000 });
  };
  const r = await open(webgpu, `(${status})()?.train?.steps >= 5 || (${status})()?.train?.status === "failed" || document.title === "sigmix: error"`,
    600_000, undefined, "#tab=train&preset=smoke&device=gpu&play", { width: 1280, height: 800 }, loseAndRestart);
  const [before, lost, after] = [seen.before ?? {}, seen.lost?.train ?? {}, r.lab?.train ?? {}];
  // The run stopped with the device, its curve kept; the banner said why; the new run finished.
  const kept = lost.steps >= before.steps && before.steps >= 5 && lost.first_loss === before.first_loss && lost.steps < 60;
  const said = /Destroyed/i.test(seen.lost?.gpu_lost ?? "") && !r.lab?.gpu_lost;
  const again = after.status === "finished" && after.steps === 60 && after.last_loss < after.first_loss - 0.05;
  const ok = seen.devices >= 1 && kept && said && again;
  report("a lost GPU device: the lab says so, keeps the run's curve, and trains again after Restart GPU", ok,
    { engine_devices: seen.devices, before, lost: seen.lost, after, logs: ok ? [] : r.logs.slice(-20) });
} catch (e) {
  report("a lost GPU device: the lab says so, keeps the run's curve, and trains again after Restart GPU", false, { error: String(e) });
}
if (wanted(7)) for (const device of ["gpu", "cpu"]) try {
  const r = await open(webgpu, () => /^sigmix (bench|: error)/.test(document.title), 600_000, undefined, `#bench=tiny&device=${device}`);
  const rep = r.report ? JSON.parse(r.report) : {};
  const ok = rep.tokens_per_sec > 0 && Number.isFinite(rep.last_loss);
  report(`training tokens/s in the page (${device})`, ok, { title: r.title, ...rep, logs: ok ? [] : r.logs.slice(-20) });
} catch (e) {
  report(`training tokens/s in the page (${device})`, false, { error: String(e) });
}
server.close();
process.exit(failed ? 1 : 0);

