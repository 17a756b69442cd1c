// What the demo pages share: the page's status line and error box, one job at a time, the
// manifest (`?manifest=<url>` reads models from another manifest, one built elsewhere),
// sessions per execution provider, and reading an uploaded image.
import { InferenceSession, env, init } from 'edgewise';

export const $ = (id) => document.getElementById(id);

/** A canvas's 2-D context, set up for reading pixels back. */
export const context = (id) => $(id).getContext('2d', { willReadFrequently: true });

/** The provider switch's choices: WebGPU (falling back to wasm per op) or wasm only. */
export const PROVIDERS = {
  webgpu: { label: 'WebGPU', executionProviders: ['webgpu', 'wasm'] },
  wasm: { label: 'CPU (wasm)', executionProviders: ['wasm'] },
};

/** The checked `provider` radio button's value. */
export const selectedProvider = () => document.querySelector('input[name="provider"]:checked').value;

/** Sets `body[data-state]` (which the tests wait on) and the status line. */
export function setStatus(state, text) {
  document.body.dataset.state = state;
  $('status').textContent = text;
}

/** Shows `error` in the page's error box and puts the page in the `error` state. */
export function showError(error) {
  const box = $('error');
  box.textContent = `Error: ${error?.message ?? error}`;
  box.hidden = false;
  setStatus('error', 'Failed — see the message above.');
}

/** Hides the error box and counts a finished run in `body[data-runs]`; returns the count. */
export function finishRun() {
  $('error').hidden = true;
  const runs = Number(document.body.dataset.runs) + 1;
  document.body.dataset.runs = String(runs);
  return runs;
}

/** edgewise's version and the wasm memory in use, for the page's "runtime" line. */
export const runtimeText = () => `edgewise ${env.versions.edgewise} · ${(env.wasmMemoryBytes / 2 ** 20).toFixed(1)} MiB wasm memory`;

/** Which provider ran, and on which adapter, for the page's "provider" line. */
export const providerText = (provider, session, detail = '') =>
  `${PROVIDERS[provider].label}${session.adapter ? ` · ${detail}${session.adapter}` : ''}`;

/**
 * A queue that runs one async task at a time; a task's failure is shown on the page and does
 * not stop the tasks after it. Returns `enqueue(task)`, which resolves once `task` is done.
 */
export function queue() {
  let busy = Promise.resolve();
  return (task) => {
    busy = busy.then(async () => {
      try {
        await task();
      } catch (e) {
        showError(e);
      }
    });
    return busy;
  };
}

const MANIFEST = new URL(new URLSearchParams(location.search).get('manifest') ?? '/onnx/manifest.json', location.href);

/** The manifest's entry for `system` and its model's absolute URL, or an error saying what is missing. */
export async function manifestEntry(system) {
  let response;
  try {
    response = await fetch(MANIFEST);
  } catch (e) {
    throw new Error(`could not fetch ${MANIFEST}: ${e.message}`);
  }
  if (!response.ok) throw new Error(`could not fetch ${MANIFEST}: HTTP ${response.status}`);
  const entry = (await response.json()).models?.[system];
  if (!entry) throw new Error(`${MANIFEST.pathname} has no '${system}' model yet: train it with \`cargo xtask train ${system}\``);
  return { entry, url: new URL(entry.file, MANIFEST).href, helper: entry.helper ?? {} };
}

/**
 * Sessions on `url`, one per provider, created on first use:
 * `sessionFor(provider)` resolves to `{ session, createMs }`.
 */
export function sessions(url) {
  const made = new Map();
  return async (provider) => {
    if (!made.has(provider)) {
      setStatus('loading', `Creating a ${PROVIDERS[provider].label} session…`);
      const t0 = performance.now();
      let session;
      try {
        session = await InferenceSession.create(url, { executionProviders: PROVIDERS[provider].executionProviders });
      } catch (e) {
        throw new Error(`could not load ${url}: ${e?.message ?? e}`);
      }
      made.set(provider, { session, createMs: performance.now() - t0 });
    }
    return made.get(provider);
  };
}

/**
 * Loads the wasm module and reads `system`'s manifest entry, which `settings` turns into the
 * page's model settings (throwing when the entry lacks one). Resolves to `{ model, sessionFor }`
 * (see {@link sessions}), or to `null` once a failure is shown on the page.
 */
export async function openModel(system, settings) {
  try {
    const [found] = await Promise.all([manifestEntry(system), init()]);
    return { model: settings(found), sessionFor: sessions(found.url) };
  } catch (e) {
    showError(e);
    return null;
  }
}

/** Decodes an uploaded file into an `ImageBitmap`, or an error naming the file. */
export async function readImage(file) {
  try {
    return await createImageBitmap(file);
  } catch (e) {
    throw new Error(`could not read '${file.name}' as an image (${e.message || e.name})`);
  }
}

/** Draws `bitmap`'s centre square onto `ctx`, scaled to `size`×`size`, and closes it. */
export function drawCentreSquare(ctx, bitmap, size) {
  const side = Math.min(bitmap.width, bitmap.height);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
  bitmap.close();
}

/** `ctx`'s top-left `size`×`size` pixels as luma in [0, 1]; the canvas is redrawn as that gray. */
export function readGrayscale(ctx, size) {
  const pixels = ctx.getImageData(0, 0, size, size);
  const p = pixels.data;
  const gray = new Float32Array(size * size);
  for (let i = 0; i < gray.length; i++) {
    const byte = Math.round(0.2126 * p[4 * i] + 0.7152 * p[4 * i + 1] + 0.0722 * p[4 * i + 2]);
    gray[i] = byte / 255;
    p[4 * i] = p[4 * i + 1] = p[4 * i + 2] = byte;
    p[4 * i + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
  return gray;
}
