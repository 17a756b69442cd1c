// What the browser tests of the catalogue systems' pages share (one file per system beside
// this one): the model each page runs, page helpers, and a minimal ONNX writer for stand-ins.
// Models: onnx/<system>.onnx where the committed manifest lists it; otherwise a stand-in that
// the system's test makes (a quick-trained model or a small ONNX graph written here), listed in
// tests/artifacts/tasks-onnx/manifest.json, which the page reads through `?manifest=`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';

import { init } from 'edgewise';

export const SHOTS = 'tests/artifacts/screenshots';
export const STANDINS = 'tests/artifacts/tasks-onnx';
const STANDIN_MANIFEST = `${STANDINS}/manifest.json`;
const listed = JSON.parse(await readFile('onnx/manifest.json', 'utf8')).models;
/** EDGEWISE_TASKS_STANDINS=1 runs the pages on quick-trained models and stand-ins only. */
const official = process.env.EDGEWISE_TASKS_STANDINS === '1' ? {} : listed;

/**
 * The model the page of `system` runs: { entry (manifest entry), file (model path), standin,
 * query (page URL suffix) }. Where the committed manifest has no model (or stand-ins are asked
 * for), `makeStandin()` makes one: it returns `{ bytes, helper }` to write here, or writes its
 * own entry into the stand-in manifest (a quick-trained model) and returns nothing.
 */
export async function demoModel(system, makeStandin) {
  await init();
  if (official[system]) return { entry: official[system], standin: false, file: `onnx/${official[system].file}`, query: '' };
  await mkdir(STANDINS, { recursive: true });
  const made = await makeStandin();
  const manifest = existsSync(STANDIN_MANIFEST) ? JSON.parse(await readFile(STANDIN_MANIFEST, 'utf8')) : { models: {} };
  if (made) {
    await writeFile(`${STANDINS}/${system}.onnx`, made.bytes);
    manifest.models[system] = { file: `${system}.onnx`, bytes: made.bytes.length, helper: made.helper, description: `a stand-in written by tests/browser/systems/${system}.test.mjs` };
    await writeFile(STANDIN_MANIFEST, JSON.stringify(manifest, null, 2));
  }
  const entry = manifest.models[system];
  return entry && { entry, standin: true, file: `${STANDINS}/${entry.file}`, query: `?manifest=/${STANDIN_MANIFEST}` };
}

const TRAINER = 'target/debug/edgewise-train';

/**
 * A stand-in maker for `demoModel`: `system` quick-trained by the trainer into the stand-ins'
 * folder (it writes its own manifest entry). Without the trainer, or if training fails, there
 * is no model and the system's test fails saying so.
 */
export const quickTrained = (system) => async () => {
  if (!existsSync(TRAINER)) return;
  try {
    execFileSync(TRAINER, ['train', system, '--quick', '--onnx-dir', STANDINS, '--runs', `${STANDINS}/runs`], { stdio: 'pipe', timeout: 60_000 });
  } catch (e) {
    console.log(`# quick ${system} training failed (${e.message.split('\n')[0]}); the ${system} demo test will fail`);
  }
};

// ---- a minimal ONNX (protobuf) writer for the stand-ins ----------------------------------
const varint = (n) => {
  let v = BigInt(n) & ((1n << 64n) - 1n);
  const out = [];
  do {
    out.push(Number(v & 0x7fn) | (v > 0x7fn ? 0x80 : 0));
    v >>= 7n;
  } while (v);
  return Buffer.from(out);
};
const cat = (...parts) => Buffer.concat(parts.flat());
const int = (field, n) => cat(varint(field << 3), varint(n));
const bytes = (field, b) => cat(varint((field << 3) | 2), varint(b.length), Buffer.from(b));
const str = (field, s) => bytes(field, Buffer.from(s, 'utf8'));
export const [FLOAT, UINT32] = [1, 12];
export const tensor = (name, type, dims, values) => {
  const data = (type === FLOAT ? Float32Array : Uint32Array).from(values);
  return cat(dims.map((d) => int(1, d)), int(2, type), str(8, name), bytes(9, Buffer.from(data.buffer)));
};
export const value = (name, type, shape) =>
  cat(str(1, name), bytes(2, bytes(1, cat(int(1, type), bytes(2, cat(shape.map((d) => bytes(1, typeof d === 'string' ? str(2, d) : int(1, d)))))))));
export const node = (op, inputs, outputs, ints = {}) =>
  cat(inputs.map((i) => str(1, i)), outputs.map((o) => str(2, o)), str(3, `${op}_${outputs[0]}`), str(4, op),
    Object.entries(ints).map(([k, v]) => bytes(5, cat(str(1, k), int(3, v), int(20, 2)))));
export const onnx = ({ nodes, initializers, inputs, outputs }) =>
  cat(int(1, 8), str(2, 'edgewise tests'), bytes(8, cat(str(1, ''), int(2, 17))),
    bytes(7, cat(nodes.map((n) => bytes(1, n)), str(2, 'standin'), initializers.map((t) => bytes(5, t)), inputs.map((v) => bytes(11, v)), outputs.map((v) => bytes(12, v)))));

// ---- page helpers ------------------------------------------------------------------------

/** Opens the gallery, follows the system's card and, for a stand-in, reloads with its manifest. */
export async function openDemo(page, base, model, system, name) {
  await page.setViewportSize({ width: 1100, height: 900 });
  await page.goto(`${base}/www/`);
  const link = page.getByRole('link', { name });
  assert.equal(await link.count(), 1, `one card links to the ${system} demo`);
  await link.click();
  await page.waitForURL(new RegExp(`/www/${system}/$`));
  if (model.query) {
    if (!listed[system]) {
      await page.waitForFunction(() => document.body.dataset.state === 'error');
      assert.match(await page.textContent('#error'), new RegExp(`has no '${system}' model yet`));
    }
    await page.goto(`${base}/www/${system}/${model.query}`);
  }
}

/** Waits for the `n`-th finished run (and `extra` data attributes) and returns #result. */
export async function waitForRun(page, n, extra = {}) {
  await page.waitForFunction(
    ([runs, more]) => document.body.dataset.state === 'done' && document.body.dataset.runs === String(runs) && Object.entries(more).every(([k, v]) => document.body.dataset[k] === String(v)),
    [n, extra],
    { timeout: 60_000 },
  );
  return JSON.parse(await page.textContent('#result'));
}

/** Moves the focus away (no focus ring in the screenshot) and saves a full-page screenshot. */
export async function screenshot(page, system) {
  await page.evaluate(() => document.activeElement?.blur());
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/demo-${system}.png`, fullPage: true });
}

/** RGBA bytes of a canvas (by id, or the n-th canvas matching a selector). */
export const readCanvas = (page, selector, index = 0) =>
  page.evaluate(([sel, i]) => {
    const c = document.querySelectorAll(sel)[i];
    return { width: c.width, height: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) };
  }, [selector, index]);

export function assertPixels(canvas, want, tol, what) {
  let worst = 0;
  let where = -1;
  want.forEach((rgb, i) => rgb.forEach((v, k) => {
    const d = Math.abs(canvas.data[4 * i + k] - v);
    if (d > worst) [worst, where] = [d, i];
  }));
  assert.ok(worst <= tol, `${what}: off by ${worst} at pixel ${where} (x ${where % canvas.width}, y ${Math.floor(where / canvas.width)})`);
}

export const byte = (v) => Math.round(Math.min(1, Math.max(0, v)) * 255);
export const gray = (values) => Array.from(values, (v) => [byte(v), byte(v), byte(v)]);

/** Label and softmax confidence of the largest logit (computed here, not by the package). */
export function top(logits) {
  let best = 0;
  for (let k = 1; k < logits.length; k++) if (logits[k] > logits[best]) best = k;
  return { label: best, confidence: 1 / logits.reduce((a, v) => a + Math.exp(v - logits[best]), 0) };
}

/** Draws a "7" with the mouse on the 16×16 glyph pad `#pad`. */
export async function drawSeven(page) {
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = await page.locator('#pad').boundingBox();
  const at = (x, y) => [box.x + ((x + 0.5) * box.width) / 16, box.y + ((y + 0.5) * box.height) / 16];
  await page.mouse.move(...at(4, 3));
  await page.mouse.down();
  for (const [x, y] of [[8, 3], [11, 3], [10, 6], [9, 9], [8, 12]]) await page.mouse.move(...at(x, y), { steps: 6 });
  await page.mouse.up();
}
