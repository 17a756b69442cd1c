// The defect detection demo: a generated texture (with a synthesized defect and its true mask)
// or an uploaded image goes through onnx/defect.onnx; edgewise's task helper turns the model's
// SSIM map into the anomaly heatmap, the mask, the boxes and the image's verdict.
import { Tensor, tasks } from 'edgewise';
import { $, context, finishRun, openModel, providerText, queue, readImage, runtimeText, selectedProvider, setStatus } from '../common.js';

const SIZE = tasks.defect.SIZE;
const SCALE = 4; // overlay pixels per model pixel
const COLORS = { both: [255, 255, 255], extra: [255, 90, 90], missed: [77, 141, 255], mask: [57, 208, 255], box: '#ff3d7f' };

/** What is shown: the input and, once run, the model's outputs. */
const state = { name: '', gray: null, truth: null, ssim: null, recon: null, runMs: 0, provider: null };
let model; // { url, threshold, window }

/** The model's settings from its manifest entry. */
function settings({ url, helper }) {
  if (typeof helper.threshold !== 'number') throw new Error(`the manifest's defect entry has no helper.threshold`);
  return { url, threshold: helper.threshold, window: helper.window ?? tasks.defect.WINDOW };
}

function putPixels(id, rgb) {
  const ctx = context(id);
  const { width, height } = ctx.canvas;
  const image = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) image.data.set([...rgb(i), 255], 4 * i);
  ctx.putImageData(image, 0, 0);
  return ctx;
}

const byte = (v) => Math.round(Math.min(1, Math.max(0, v)) * 255);

/** A dark-red-orange-yellow ramp for t in [0, 1]. */
function heat(t) {
  const stops = [[40, 0, 60], [190, 30, 45], [255, 140, 0], [255, 209, 102]];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((a, k) => Math.round(a + f * (stops[i + 1][k] - a)));
}

/** Input with the heatmap blended over it, the mask's outline and the boxes, 4× larger. */
function drawOverlay(gray, found, threshold) {
  const side = SIZE * SCALE;
  const ctx = putPixels('overlay', (i) => {
    const p = Math.floor(i / side / SCALE) * SIZE + Math.floor((i % side) / SCALE);
    const t = found.heatmap[p] / Math.max(1e-6, 2 * threshold);
    const alpha = 0.8 * Math.min(1, Math.max(0, t));
    const g = 255 * gray[p];
    return heat(t).map((c) => Math.round(g * (1 - alpha) + c * alpha));
  });
  const m = found.mask;
  const on = (x, y) => x >= 0 && y >= 0 && x < SIZE && y < SIZE && m[y * SIZE + x] === 1;
  ctx.fillStyle = `rgb(${COLORS.mask.join(',')})`;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      if (!on(x, y)) continue;
      if (!on(x, y - 1)) ctx.fillRect(x * SCALE, y * SCALE, SCALE, 1);
      if (!on(x, y + 1)) ctx.fillRect(x * SCALE, (y + 1) * SCALE - 1, SCALE, 1);
      if (!on(x - 1, y)) ctx.fillRect(x * SCALE, y * SCALE, 1, SCALE);
      if (!on(x + 1, y)) ctx.fillRect((x + 1) * SCALE - 1, y * SCALE, 1, SCALE);
    }
  }
  ctx.strokeStyle = COLORS.box;
  ctx.fillStyle = COLORS.box;
  ctx.lineWidth = 2;
  ctx.font = 'bold 11px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  found.boxes.forEach((b, k) => {
    ctx.strokeRect(b.x * SCALE - 1, b.y * SCALE - 1, b.w * SCALE + 2, b.h * SCALE + 2);
    const label = String(k + 1);
    const lx = Math.min(side - 12, Math.max(0, b.x * SCALE - 2));
    const ly = b.y * SCALE >= 14 ? b.y * SCALE - 14 : Math.min(side - 13, (b.y + b.h) * SCALE + 2);
    ctx.fillRect(lx, ly, ctx.measureText(label).width + 6, 13);
    ctx.fillStyle = '#fff';
    ctx.fillText(label, lx + 3, ly + 1);
    ctx.fillStyle = COLORS.box;
  });
}

/** The mask against the true defect: both white, mask only red, missed blue, else dim input. */
function drawCompare(gray, mask, truth) {
  putPixels('compare', (i) => {
    const t = truth ? truth[i] === 1 : false;
    if (mask[i] === 1) return t ? COLORS.both : truth ? COLORS.extra : COLORS.both;
    if (t) return COLORS.missed;
    const g = Math.round(255 * gray[i] * 0.35);
    return [g, g, g];
  });
}

function showBoxes(boxes) {
  $('boxes').tBodies[0].replaceChildren(
    ...boxes.map((b, k) => {
      const tr = document.createElement('tr');
      for (const text of [k + 1, b.x, b.y, b.w, b.h, b.area, b.score.toFixed(3)]) {
        const td = document.createElement('td');
        td.textContent = String(text);
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** How the mask compares with the true defect mask of a generated sample. */
function truthText(mask, truth, flagged) {
  if (!truth) return 'unknown (uploaded image)';
  let both = 0;
  let either = 0;
  let real = 0;
  for (let i = 0; i < mask.length; i++) {
    both += mask[i] & truth[i];
    either += mask[i] | truth[i];
    real += truth[i];
  }
  if (real === 0) return flagged ? 'no defect here: a false alarm' : 'no defect here: correctly passed';
  const iou = both / either;
  return `IoU ${iou.toFixed(2)} · ${((100 * both) / real).toFixed(0)} % of the ${real} defect pixels found${flagged ? '' : ' · missed'}`;
}

function options() {
  const threshold = Number($('threshold').value);
  const minArea = Number($('min-area').value);
  return { threshold, minArea };
}

/** Runs the helper on the last model output and shows everything; no model run. */
function analyze() {
  if (!state.ssim) return;
  const opts = options();
  const t0 = performance.now();
  const found = tasks.defect.analyze(state.ssim, opts);
  const ms = performance.now() - t0;
  drawOverlay(state.gray, found, opts.threshold);
  drawCompare(state.gray, found.mask, state.truth);
  showBoxes(found.boxes);
  const maskPixels = found.mask.reduce((a, b) => a + b, 0);
  $('score').textContent = found.score.toFixed(3);
  $('verdict').textContent = found.flagged ? `defect · ${found.boxes.length} region${found.boxes.length === 1 ? '' : 's'}` : 'no defect';
  $('verdict').className = `verdict ${found.flagged ? 'flagged' : 'clean'}`;
  $('mask-pixels').textContent = `${maskPixels} of ${SIZE * SIZE}`;
  $('truth').textContent = truthText(found.mask, state.truth, found.flagged);
  $('analyze-ms').textContent = `${ms.toFixed(2)} ms`;
  $('compare-caption').firstChild.textContent = state.truth ? 'mask against the true defect ' : 'mask (no true defect for an upload) ';
  const analyses = Number(document.body.dataset.analyses) + 1;
  document.body.dataset.analyses = String(analyses);
  $('result').textContent = JSON.stringify({
    runs: Number(document.body.dataset.runs),
    analyses,
    input: state.name,
    provider: state.provider,
    ...opts,
    score: found.score,
    flagged: found.flagged,
    boxes: found.boxes,
    maskPixels,
    runMs: state.runMs,
    image: Array.from(state.gray),
    truth: state.truth ? Array.from(state.truth) : null,
    ssim: Array.from(state.ssim.data),
    recon: Array.from(state.recon.data),
  });
  return found;
}

let sessionFor; // set once the model is opened

async function runModel() {
  const provider = selectedProvider();
  const { session, createMs } = await sessionFor(provider);
  setStatus('running', 'Running…');
  const t0 = performance.now();
  const { ssim, recon } = await session.run({ image: new Tensor('float32', state.gray, [1, 1, SIZE, SIZE]) });
  state.runMs = performance.now() - t0;
  Object.assign(state, { ssim, recon, provider });
  putPixels('recon', (i) => Array(3).fill(byte(recon.data[i])));
  const onGpu = session.stages().filter((s) => s.placement === 'webgpu').length;
  $('provider-used').textContent = providerText(provider, session, `${onGpu} stage${onGpu === 1 ? '' : 's'} on `);
  $('load-ms').textContent = `${createMs.toFixed(1)} ms`;
  $('run-ms').textContent = `${state.runMs.toFixed(2)} ms`;
  $('runtime').textContent = runtimeText();
  finishRun();
  const found = analyze();
  setStatus('done', `Done in ${state.runMs.toFixed(2)} ms: ${found.flagged ? 'defect found' : 'no defect found'}.`);
}

function showInput(name, gray, truth) {
  Object.assign(state, { name, gray, truth });
  putPixels('input', (i) => Array(3).fill(byte(gray[i])));
  $('input-name').textContent = name;
}

function drawSample() {
  const seed = Number($('seed').value);
  const defect = $('defect').value;
  const s = tasks.defect.sample($('family').value, defect, seed);
  showInput(`${s.family}, ${s.defect ?? 'no defect'}, seed ${seed}`, s.image, s.mask);
}

async function drawUpload(file) {
  const bitmap = await readImage(file);
  // Very large photos are first scaled down by the browser; the helper does the rest.
  const fit = Math.min(1, 2048 / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * fit));
  const h = Math.max(1, Math.round(bitmap.height * fit));
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  showInput(file.name, tasks.defect.prepare(ctx.getImageData(0, 0, w, h)), null);
}

const enqueue = queue();

/** Runs `prepare` then (unless `analyzeOnly`) the model, one job at a time. */
const job = (prepare, analyzeOnly = false) =>
  enqueue(async () => {
    await prepare();
    if (analyzeOnly) {
      analyze();
      setStatus('done', 'Done: analysed again with the new settings.');
    } else await runModel();
  });

function fillSelect(id, names, selected) {
  for (const name of names) $(id).append(new Option(name, name, false, name === selected));
}

async function start() {
  const opened = await openModel('defect', settings);
  if (!opened) return;
  ({ model, sessionFor } = opened);
  const kinds = tasks.defect.kinds();
  fillSelect('family', kinds.families, 'weave');
  fillSelect('defect', kinds.defects, 'scratch');
  $('defect').value = 'scratch';
  $('threshold').value = String(model.threshold);
  $('threshold-note').textContent = `(manifest: ${model.threshold})`;
  const newSample = () => {
    $('upload').value = '';
    job(drawSample);
  };
  $('family').addEventListener('change', newSample);
  $('defect').addEventListener('change', newSample);
  $('seed').addEventListener('change', newSample);
  $('next').addEventListener('click', () => {
    $('seed').value = String(Number($('seed').value) + 1);
    newSample();
  });
  $('upload').addEventListener('change', () => {
    const file = $('upload').files[0];
    if (file) job(() => drawUpload(file));
  });
  for (const radio of document.querySelectorAll('input[name="provider"]')) radio.addEventListener('change', () => job(() => {}));
  for (const id of ['threshold', 'min-area']) $(id).addEventListener('change', () => job(() => {}, true));
  await job(drawSample);
}

start();
