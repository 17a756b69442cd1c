// The AQuant demo: the multiexit glyph classifier quantized to 4-bit weights and 4-bit
// activations (onnx/aquant.onnx, every layer's input rounded at learned borders by the edgewise
// op BorderRound) beside the float model (onnx/multiexit.onnx). The grid shows both answers on
// generated glyphs; the pad does the same for a glyph drawn here; the staircase shows how a
// rounding border moves the steps of a 4-bit activation.
import { tasks } from 'edgewise';
import { $, finishRun, openModel, providerText, queue, runtimeText, selectedProvider, setStatus } from '../common.js';
import { SIDE, answers, drawnRows, glyphPad, pairTile } from '../glyphs.js';

const COUNT = 20;
/** The staircase: 4-bit levels 0–15 over [0, 1], sampled at 161 points. */
const LEVELS = 15;
const XS = Float32Array.from({ length: 161 }, (_, i) => i / 160);

let quant; // { model: { url, classes, bits, accuracy, floatAccuracy }, sessionFor }
let float; // { model: { url }, sessionFor }
let pad;

/** The quantized model's settings from its manifest entry. */
function quantSettings({ url, entry, helper: h }) {
  if (typeof h.weightBits !== 'number' || typeof h.activationBits !== 'number') {
    throw new Error(`the manifest's aquant entry needs helper.weightBits and helper.activationBits`);
  }
  const m = entry.metrics ?? {};
  return { url, classes: h.classes ?? tasks.multiexit.classNames(), bits: `W${h.weightBits}A${h.activationBits}`, accuracy: m.accuracy, floatAccuracy: m.float_accuracy };
}

const short = (label) => quant.model.classes[label].split('/')[1];

function tile(pixels, label, f, q) {
  const name = (t) => quant.model.classes[t.label];
  const title = `true: ${quant.model.classes[label]} · float: ${name(f)} · 4-bit: ${name(q)} (${q.confidence.toFixed(3)})`;
  return pairTile(pixels, f, q, short, title);
}

async function runGrid() {
  const provider = selectedProvider();
  const { session: qs } = await quant.sessionFor(provider);
  const { session: fs } = await float.sessionFor('wasm');
  const seed = Number($('seed').value);
  setStatus('running', 'Running…');
  const { images, labels } = tasks.multiexit.samples(COUNT, seed);
  const f = await answers(fs, images, COUNT);
  const q = await answers(qs, images, COUNT);
  $('glyphs').replaceChildren(
    ...Array.from(labels, (label, i) => tile(images.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE), label, f.tops[i], q.tops[i])),
  );
  const right = (tops) => tops.filter((t, i) => t.label === labels[i]).length;
  const agree = f.tops.filter((t, i) => t.label === q.tops[i].label).length;
  $('float-right').textContent = `${right(f.tops)} / ${COUNT}`;
  $('q-right').textContent = `${right(q.tops)} / ${COUNT}`;
  $('agree').textContent = `${agree} / ${COUNT}`;
  $('float-ms').textContent = `${f.ms.toFixed(2)} ms for ${COUNT} glyphs`;
  $('q-ms').textContent = `${q.ms.toFixed(2)} ms for ${COUNT} glyphs`;
  const onGpu = qs.stages().filter((s) => s.placement === 'webgpu').length;
  $('provider-used').textContent = providerText(provider, qs, `${onGpu} stage${onGpu === 1 ? '' : 's'} on `);
  $('runtime').textContent = runtimeText();
  return { seed, provider, labels: Array.from(labels), float: f.tops, quantized: q.tops, agree };
}

async function runPad() {
  const { session: qs } = await quant.sessionFor(selectedProvider());
  const { session: fs } = await float.sessionFor('wasm');
  const models = [['float', fs], [quant.model.bits, qs]];
  return drawnRows($('drawn'), models, Float32Array.from(pad.pixels), quant.model.classes);
}

/** Draws the steps at the slider's border (blue) over round-to-nearest (gray). */
function drawStairs() {
  const border = Number($('border').value);
  $('border-value').textContent = border.toFixed(2);
  const options = { scale: 1 / LEVELS, qmin: 0, qmax: LEVELS };
  const nearest = tasks.aquant.round(XS, { ...options, border: 0.5 });
  const moved = tasks.aquant.round(XS, { ...options, border });
  const canvas = $('stairs');
  const ctx = canvas.getContext('2d');
  const [w, h, m] = [canvas.width, canvas.height, 12];
  ctx.clearRect(0, 0, w, h);
  const px = (x) => m + x * (w - 2 * m);
  const py = (y) => h - m - y * (h - 2 * m);
  const line = (ys, color, width) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    XS.forEach((x, i) => (i ? ctx.lineTo(px(x), py(ys[i])) : ctx.moveTo(px(x), py(ys[i]))));
    ctx.stroke();
  };
  line(nearest, '#9aa1b1', 4);
  line(moved, '#2f7fd1', 2);
  return { border, values: Array.from(moved) };
}

// ---- one job at a time ------------------------------------------------------------------------

const enqueue = queue();
let last = {};

const job = (prepare = () => {}, what = 'grid') =>
  enqueue(async () => {
    await prepare();
    if (what === 'grid') last.grid = await runGrid();
    if (what !== 'stairs') last.pad = await runPad();
    last.stairs = drawStairs();
    const runs = finishRun();
    $('result').textContent = JSON.stringify({ runs, ...last });
    const g = last.grid;
    setStatus('done', `Done: the ${quant.model.bits} model agrees with the float model on ${g.agree} of ${COUNT} glyphs.`);
  });

async function start() {
  quant = await openModel('aquant', quantSettings);
  if (!quant) return;
  float = await openModel('multiexit', ({ url }) => ({ url }));
  if (!float) return;
  const { model } = quant;
  $('bits').textContent = model.bits;
  const pct = (v) => (typeof v === 'number' ? `${(100 * v).toFixed(1)} %` : '–');
  $('shipped').textContent = `${pct(model.accuracy)} at ${model.bits} · ${pct(model.floatAccuracy)} float`;
  $('seed').addEventListener('change', () => job());
  for (const radio of document.querySelectorAll('input[name="provider"]')) radio.addEventListener('change', () => job());
  $('new').addEventListener('click', () => job(() => ($('seed').value = String(Number($('seed').value) + 1))));
  $('border').addEventListener('input', () => job(() => {}, 'stairs'));
  pad = glyphPad('pad', () => job(() => {}, 'pad'));
  $('clear').addEventListener('click', () => job(() => pad.clear(), 'pad'));
  await job();
}

start();
