// The SNF demo: the multiexit glyph classifier pruned to half its operations (onnx/snf.onnx:
// whole filters removed, each layer's count searched by SNF, fine-tuned) beside the full model
// (onnx/multiexit.onnx). The grid shows both answers on generated glyphs and the time of one
// glyph through each; the pad does the same for a glyph drawn here; the sliders set filter
// counts per layer and show what the model would cost (tasks.snf.flops).
import { tasks } from 'edgewise';
import { $, finishRun, openModel, queue, runtimeText, setStatus } from '../common.js';
import { SIDE, answers, drawnRows, glyphPad, pairTile } from '../glyphs.js';

const COUNT = 20;
/** Calls per model when timing one glyph (interleaved, best of three rounds). */
const RUNS = 20;

let pruned; // { model: { url, classes, layers, widths, method, accuracy, fullAccuracy }, sessionFor }
let full; // { model: { url }, sessionFor }
let pad;
let widths; // the sliders' counts

/** The pruned model's settings from its manifest entry. */
function prunedSettings({ url, entry, helper: h }) {
  if (!Array.isArray(h.layers) || !Array.isArray(h.widths) || h.layers.length !== h.widths.length) {
    throw new Error(`the manifest's snf entry needs helper.layers and helper.widths, one per layer`);
  }
  const m = entry.metrics ?? {};
  return { url, classes: h.classes ?? tasks.multiexit.classNames(), layers: h.layers, widths: h.widths, method: h.method, accuracy: m.accuracy, fullAccuracy: m.full_accuracy };
}

const short = (label) => pruned.model.classes[label].split('/')[1];
const fullWidths = () => pruned.model.layers.map((l) => l.filters);
const flops = (ws) => tasks.snf.flops(pruned.model.layers, ws);
const mega = (v) => `${(v / 1e6).toFixed(2)} M`;

function tile(pixels, label, f, p) {
  const name = (t) => pruned.model.classes[t.label];
  const title = `true: ${pruned.model.classes[label]} · full: ${name(f)} · pruned: ${name(p)} (${p.confidence.toFixed(3)})`;
  return pairTile(pixels, f, p, short, title);
}

/** Mean ms of one glyph through each session: `RUNS` calls each, interleaved, best of 3 rounds. */
async function timeOne(sessionsToTime, pixels) {
  const best = sessionsToTime.map(() => Infinity);
  for (let round = 0; round < 3; round++) {
    for (const [i, s] of sessionsToTime.entries()) {
      const t0 = performance.now();
      for (let r = 0; r < RUNS; r++) await answers(s, pixels, 1);
      best[i] = Math.min(best[i], (performance.now() - t0) / RUNS);
    }
  }
  return best;
}

async function runGrid() {
  const { session: ps } = await pruned.sessionFor('wasm');
  const { session: fs } = await full.sessionFor('wasm');
  const seed = Number($('seed').value);
  setStatus('running', 'Running…');
  const { images, labels } = tasks.multiexit.samples(COUNT, seed);
  const f = await answers(fs, images, COUNT);
  const p = await answers(ps, images, COUNT);
  const glyph = (i) => images.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
  $('glyphs').replaceChildren(...Array.from(labels, (label, i) => tile(glyph(i), label, f.tops[i], p.tops[i])));
  const right = (tops) => tops.filter((t, i) => t.label === labels[i]).length;
  const agree = f.tops.filter((t, i) => t.label === p.tops[i].label).length;
  $('full-right').textContent = `${right(f.tops)} / ${COUNT}`;
  $('pruned-right').textContent = `${right(p.tops)} / ${COUNT}`;
  $('agree').textContent = `${agree} / ${COUNT}`;
  const [fullMs, prunedMs] = await timeOne([fs, ps], glyph(0));
  $('full-ms').textContent = `${fullMs.toFixed(3)} ms`;
  const change = Math.round(100 * (prunedMs / fullMs - 1));
  $('pruned-ms').textContent = `${prunedMs.toFixed(3)} ms (${change > 0 ? '+' : ''}${change} %)`;
  $('runtime').textContent = runtimeText();
  return { seed, labels: Array.from(labels), full: f.tops, pruned: p.tops, agree, fullMs, prunedMs };
}

async function runPad() {
  const { session: ps } = await pruned.sessionFor('wasm');
  const { session: fs } = await full.sessionFor('wasm');
  const models = [['full', fs], ['pruned', ps]];
  return drawnRows($('drawn'), models, Float32Array.from(pad.pixels), pruned.model.classes);
}

/** The prunable layers' indices. */
const prunable = () => pruned.model.layers.flatMap((l, i) => (l.prunable ? [i] : []));

/** Draws each prunable layer's full filters (gray) and the sliders' counts (blue). */
function drawWidths() {
  const canvas = $('widths');
  const ctx = canvas.getContext('2d');
  const [w, h, m] = [canvas.width, canvas.height, 24];
  ctx.clearRect(0, 0, w, h);
  const layers = prunable();
  const most = Math.max(...layers.map((i) => pruned.model.layers[i].filters));
  const slot = (w - 2 * m) / layers.length;
  const bar = slot * 0.6;
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'center';
  layers.forEach((i, k) => {
    const x = m + k * slot + (slot - bar) / 2;
    const y = (v) => h - m - (v / most) * (h - 2 * m);
    ctx.fillStyle = '#d7dbe4';
    ctx.fillRect(x, y(pruned.model.layers[i].filters), bar, h - m - y(pruned.model.layers[i].filters));
    ctx.fillStyle = '#2f7fd1';
    ctx.fillRect(x + bar * 0.2, y(widths[i]), bar * 0.6, h - m - y(widths[i]));
    ctx.fillStyle = '#333';
    ctx.fillText(`${widths[i]}/${pruned.model.layers[i].filters}`, x + bar / 2, y(pruned.model.layers[i].filters) - 4);
    ctx.fillText(pruned.model.layers[i].name.replace(/\.conv$/, ''), x + bar / 2, h - 8);
  });
}

/** Shows the sliders' cost against the full model's and redraws the bars. */
function showCost() {
  const [now, all, shipped] = [flops(widths), flops(fullWidths()), flops(pruned.model.widths)];
  $('cost').textContent = `${mega(now)}FLOPs per glyph · ${(100 * now / all).toFixed(1)} % of the full model's (${pruned.model.method.toUpperCase()}'s counts: ${(100 * shipped / all).toFixed(1)} %)`;
  for (const i of prunable()) {
    $(`w${i}`).value = String(widths[i]);
    $(`w${i}-out`).textContent = String(widths[i]);
  }
  drawWidths();
  return { widths: [...widths], flops: now, share: now / all };
}

/** The same share of every prunable layer, the largest whose cost fits the shipped model's. */
function sameShare() {
  const budget = flops(pruned.model.widths);
  const at = (r) => pruned.model.layers.map((l) => (l.prunable ? Math.min(l.filters, Math.max(1, Math.round(l.filters * r))) : l.filters));
  let [lo, hi] = [0, 1];
  for (let k = 0; k < 40; k++) {
    const mid = (lo + hi) / 2;
    if (flops(at(mid)) <= budget) lo = mid;
    else hi = mid;
  }
  return at(lo);
}

function makeSliders() {
  $('sliders').replaceChildren(
    ...prunable().map((i) => {
      const l = pruned.model.layers[i];
      const label = document.createElement('label');
      const input = Object.assign(document.createElement('input'), { type: 'range', id: `w${i}`, min: '1', max: String(l.filters), step: '1' });
      input.addEventListener('input', () => job(() => (widths[i] = Number(input.value)), 'cost'));
      label.append(l.name.replace(/\.conv$/, ''), input, Object.assign(document.createElement('output'), { id: `w${i}-out` }));
      return label;
    }),
  );
}

// ---- one job at a time ------------------------------------------------------------------------

const enqueue = queue();
let last = {};

const job = (prepare = () => {}, what = 'grid') =>
  enqueue(async () => {
    await prepare();
    if (what === 'grid') last.grid = await runGrid();
    if (what === 'grid' || what === 'pad') last.pad = await runPad();
    last.cost = showCost();
    const runs = finishRun();
    $('result').textContent = JSON.stringify({ runs, ...last });
    setStatus('done', `Done: the pruned model agrees with the full model on ${last.grid.agree} of ${COUNT} glyphs.`);
  });

async function start() {
  pruned = await openModel('snf', prunedSettings);
  if (!pruned) return;
  full = await openModel('multiexit', ({ url }) => ({ url }));
  if (!full) return;
  const { model } = pruned;
  const [shipped, all] = [flops(model.widths), flops(fullWidths())];
  $('share').textContent = `${(100 * shipped / all).toFixed(0)} %`;
  $('flops').textContent = `${mega(all)} full · ${mega(shipped)} pruned`;
  const pct = (v) => (typeof v === 'number' ? `${(100 * v).toFixed(1)} %` : '–');
  $('shipped').textContent = `${pct(model.accuracy)} pruned · ${pct(model.fullAccuracy)} full`;
  widths = [...model.widths];
  makeSliders();
  $('seed').addEventListener('change', () => job());
  $('new').addEventListener('click', () => job(() => ($('seed').value = String(Number($('seed').value) + 1))));
  $('reset').addEventListener('click', () => job(() => (widths = [...model.widths]), 'cost'));
  $('half').addEventListener('click', () => job(() => (widths = sameShare()), 'cost'));
  pad = glyphPad('pad', () => job(() => {}, 'pad'));
  $('clear').addEventListener('click', () => job(() => pad.clear(), 'pad'));
  await job();
}

start();
