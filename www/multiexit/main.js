// The multi-exit demo: a net with three exits, run by edgewise stage by stage until an exit is
// confident enough (`session.run(feeds, { exitThreshold })`). A grid of generated glyphs shows
// which exit answered each one; the drawing pad shows every exit's answer on a glyph drawn
// here. The full net runs beside it, for accuracy and time.
import { Tensor, tasks } from 'edgewise';
import { $, finishRun, openModel, queue, runtimeText, setStatus } from '../common.js';
import { SIDE, glyphCanvas, glyphPad, top } from '../glyphs.js';

const COUNT = 40;
const EXIT_COLOURS = ['#2a9d8f', '#e9a03b', '#6d597a'];

let model; // { url, exits, threshold, macs, classes }
let sessionFor; // set once the model is opened
let pad;

/** The model's settings from its manifest entry. */
function settings({ url, helper: h }) {
  if (!Array.isArray(h.exits) || typeof h.threshold !== 'number' || !Array.isArray(h.macs)) {
    throw new Error(`the manifest's multiexit entry needs helper.exits, helper.threshold and helper.macs`);
  }
  return { url, exits: h.exits, threshold: h.threshold, macs: h.macs, classes: h.classes ?? tasks.multiexit.classNames() };
}

const feed = (pixels) => ({ image: new Tensor('float32', pixels, [1, 1, SIDE, SIDE]) });

/** Each glyph through the early-exit run and the full run, one at a time (one image per call). */
async function classify(session, images, threshold) {
  const early = [];
  const full = [];
  let earlyMs = 0;
  let fullMs = 0;
  for (let i = 0; i < COUNT; i++) {
    const pixels = images.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    let t0 = performance.now();
    const out = await session.run(feed(pixels), { exitThreshold: threshold });
    earlyMs += performance.now() - t0;
    const { exit, name } = session.lastExit;
    early.push({ exit, ...top(out[name].data) });
    t0 = performance.now();
    const all = await session.run(feed(pixels));
    fullMs += performance.now() - t0;
    full.push(top(all[model.exits.at(-1)].data));
  }
  return { early, full, earlyMs, fullMs };
}

function glyphTile(pixels, label, answer) {
  const li = document.createElement('li');
  li.className = `glyph ${answer.label === label ? 'right' : 'wrong'} exit${answer.exit}`;
  li.title = `true: ${model.classes[label]} · predicted: ${model.classes[answer.label]} · exit ${answer.exit} (${answer.confidence.toFixed(3)})`;
  const badge = document.createElement('b');
  badge.textContent = `exit ${answer.exit}`;
  const caption = document.createElement('span');
  caption.textContent = model.classes[answer.label].split('/')[1];
  li.append(glyphCanvas(pixels), badge, caption);
  return li;
}

const percent = (k, n) => `${k} / ${n} (${((100 * k) / n).toFixed(0)} %)`;

async function runGrid() {
  const { session } = await sessionFor('wasm');
  const threshold = Number($('threshold').value);
  const seed = Number($('seed').value);
  setStatus('running', 'Running…');
  const { images, labels } = tasks.multiexit.samples(COUNT, seed);
  const r = await classify(session, images, threshold);
  $('glyphs').replaceChildren(...r.early.map((a, i) => glyphTile(images.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE), labels[i], a)));
  const right = r.early.filter((a, i) => a.label === labels[i]).length;
  const fullRight = r.full.filter((a, i) => a.label === labels[i]).length;
  const share = model.exits.map((_, k) => r.early.filter((a) => a.exit === k).length);
  const macs = r.early.reduce((a, x) => a + model.macs[x.exit], 0) / COUNT;
  const fullMacs = model.macs.at(-1);
  $('accuracy').textContent = percent(right, COUNT);
  $('full-accuracy').textContent = percent(fullRight, COUNT);
  $('share-bar').replaceChildren(
    ...share.map((s, k) => Object.assign(document.createElement('div'), { style: `width: ${(100 * s) / COUNT}%; background: ${EXIT_COLOURS[k]}` })),
  );
  $('share').textContent = `answered by exit 0 / 1 / 2: ${share.join(' / ')}`;
  $('macs').textContent = `${(macs / 1e3).toFixed(0)} k per glyph against ${(fullMacs / 1e3).toFixed(0)} k (${(100 * (1 - macs / fullMacs)).toFixed(0)} % saved)`;
  $('early-ms').textContent = `${r.earlyMs.toFixed(1)} ms for ${COUNT} glyphs`;
  $('full-ms').textContent = `${r.fullMs.toFixed(1)} ms for ${COUNT} glyphs`;
  $('runtime').textContent = runtimeText();
  return { threshold, seed, labels: Array.from(labels), early: r.early, full: r.full, right, fullRight, share, macs, earlyMs: r.earlyMs, fullMs: r.fullMs };
}

// ---- the drawing pad -----------------------------------------------------------------------

async function runPad() {
  const { session } = await sessionFor('wasm');
  const threshold = Number($('threshold').value);
  const all = await session.run(feed(pad.pixels));
  const perExit = model.exits.map((name) => top(all[name].data));
  await session.run(feed(pad.pixels), { exitThreshold: threshold });
  const answered = session.lastExit.exit;
  $('exits').tBodies[0].replaceChildren(
    ...perExit.map((p, k) => {
      const tr = document.createElement('tr');
      if (k === answered) tr.className = 'current';
      for (const v of [`exit ${k}`, model.classes[p.label], p.confidence.toFixed(3)]) tr.append(Object.assign(document.createElement('td'), { textContent: v }));
      return tr;
    }),
  );
  $('drawn').textContent = `exit ${answered} answers at threshold ${threshold.toFixed(2)}: ${model.classes[perExit[answered].label]}`;
  return { pixels: Array.from(pad.pixels), perExit, answered };
}

// ---- one job at a time ------------------------------------------------------------------------

const enqueue = queue();
let last = {};

const job = (prepare = () => {}, what = 'grid') =>
  enqueue(async () => {
    await prepare();
    $('threshold-value').textContent = Number($('threshold').value) > 1 ? 'full net' : Number($('threshold').value).toFixed(2);
    if (what !== 'pad') last.grid = await runGrid();
    last.pad = await runPad();
    const runs = finishRun();
    $('result').textContent = JSON.stringify({ runs, ...last });
    setStatus('done', `Done: ${last.grid.right} of ${COUNT} right with early exits, ${last.grid.fullRight} with the full net.`);
  });

async function start() {
  const opened = await openModel('multiexit', settings);
  if (!opened) return;
  ({ model, sessionFor } = opened);
  $('threshold').value = String(model.threshold);
  $('threshold').addEventListener('change', () => job());
  $('shipped').addEventListener('click', () => job(() => ($('threshold').value = String(model.threshold))));
  $('seed').addEventListener('change', () => job());
  $('new').addEventListener('click', () => job(() => ($('seed').value = String(Number($('seed').value) + 1))));
  pad = glyphPad('pad', () => job(() => {}, 'pad'));
  $('clear').addEventListener('click', () => job(() => pad.clear(), 'pad'));
  await job();
}

start();
