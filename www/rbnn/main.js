// The RBNN demo: one binary network serves four glyph tasks, selected by keys that edgewise's
// task helper derives from the task's name and the device's root key. A grid of generated
// glyphs shows the predictions; a wrong root key shows the accuracy collapse.
import { Tensor, tasks } from 'edgewise';
import { $, finishRun, openModel, providerText, queue, runtimeText, selectedProvider, setStatus } from '../common.js';

const COUNT = 50;
const SIDE = 16;

let model; // { url, tasks, rootKey, layers, classes }

/** The model's settings from its manifest entry. */
function settings({ url, helper: h }) {
  if (!Array.isArray(h.tasks) || typeof h.root_key !== 'string' || !Array.isArray(h.layers)) {
    throw new Error(`the manifest's rbnn entry needs helper.tasks, helper.root_key and helper.layers`);
  }
  return { url, tasks: h.tasks, rootKey: h.root_key, layers: h.layers, classes: h.classes ?? {} };
}

const classNames = (task) => model.classes[task] ?? tasks.rbnn.classNames(task);
const sameKey = (a, b) => {
  try {
    return BigInt(`0x${a.trim().replace(/^0x/i, '')}`) === BigInt(`0x${b.trim().replace(/^0x/i, '')}`);
  } catch {
    return false;
  }
};

let sessionFor; // set once the model is opened

/** Runs `task`'s glyphs of `seed` under `rootKey`: labels, predictions, logits and timings. */
async function classify(session, task, rootKey, seed) {
  const { images, labels } = tasks.rbnn.samples(task, COUNT, seed);
  const t0 = performance.now();
  const keys = tasks.rbnn.keyFeeds(task, rootKey, model.layers);
  const keysMs = performance.now() - t0;
  const t1 = performance.now();
  const outputs = await session.run({ image: new Tensor('float32', images, [COUNT, 1, SIDE, SIDE]), ...keys });
  const runMs = performance.now() - t1;
  const logits = outputs[session.outputNames[0]];
  const predictions = tasks.rbnn.predict(logits, 10);
  const right = predictions.reduce((a, p, i) => a + (p === labels[i] ? 1 : 0), 0);
  return { images, labels, predictions, logits: logits.data, right, keys, keysMs, runMs };
}

function showGlyphs(task, r) {
  const names = classNames(task);
  $('glyphs').replaceChildren(
    ...Array.from(r.labels, (label, i) => {
      const li = document.createElement('li');
      const ok = r.predictions[i] === label;
      li.className = `glyph ${ok ? 'right' : 'wrong'}`;
      li.title = `true: ${names[label]} · predicted: ${names[r.predictions[i]]}`;
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = SIDE;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      const image = ctx.createImageData(SIDE, SIDE);
      for (let p = 0; p < SIDE * SIDE; p++) {
        const v = Math.round(Math.min(1, Math.max(0, r.images[i * SIDE * SIDE + p])) * 255);
        image.data.set([v, v, v, 255], 4 * p);
      }
      ctx.putImageData(image, 0, 0);
      const caption = document.createElement('span');
      caption.textContent = names[r.predictions[i]];
      li.append(canvas, caption);
      return li;
    }),
  );
}

function rows(id, cells) {
  $(id).tBodies[0].replaceChildren(
    ...cells.map(({ values, className, mono = [] }) => {
      const tr = document.createElement('tr');
      if (className) tr.className = className;
      values.forEach((v, k) => {
        const td = document.createElement('td');
        td.textContent = String(v);
        if (mono.includes(k)) td.className = 'mono';
        tr.append(td);
      });
      return tr;
    }),
  );
}

const percent = (right) => `${right} / ${COUNT} (${((100 * right) / COUNT).toFixed(0)} %)`;

async function runModel() {
  const provider = selectedProvider();
  const { session } = await sessionFor(provider);
  const task = $('task').value;
  const rootKey = $('root-key').value;
  const seed = Number($('seed').value);
  setStatus('running', 'Running…');
  const r = await classify(session, task, rootKey, seed);
  const byTask = {};
  for (const t of model.tasks) byTask[t] = t === task ? r.right : (await classify(session, t, rootKey, seed)).right;

  showGlyphs(task, r);
  const device = sameKey(rootKey, model.rootKey);
  $('root-key').classList.toggle('wrong', !device);
  $('accuracy').textContent = percent(r.right);
  $('count').textContent = String(COUNT);
  $('key-state').textContent = device ? "the device's (from the manifest)" : "not the device's: the keys are wrong";
  $('run-ms').textContent = `${r.runMs.toFixed(2)} ms for a batch of ${COUNT}`;
  $('keys-ms').textContent = `${r.keysMs.toFixed(2)} ms`;
  $('provider-used').textContent = providerText(provider, session);
  $('runtime').textContent = runtimeText();
  rows('by-task', model.tasks.map((t) => ({ values: [t, percent(byTask[t])], className: t === task ? 'current' : '' })));
  rows(
    'keys',
    model.layers.map((l) => {
      const words = r.keys[l.input].data;
      return { values: [l.input, l.taps, words.length, `0x${words[0].toString(16).padStart(8, '0')}`], mono: [3] };
    }),
  );
  const runs = finishRun();
  $('result').textContent = JSON.stringify({
    runs,
    task,
    rootKey,
    deviceKey: device,
    seed,
    provider,
    right: r.right,
    byTask,
    labels: Array.from(r.labels),
    predictions: Array.from(r.predictions),
    logits: Array.from(r.logits),
    runMs: r.runMs,
  });
  setStatus('done', `Done: ${task}, ${percent(r.right)} right.`);
}

const enqueue = queue();

/** Runs `prepare` then the model, one job at a time. */
const job = (prepare = () => {}) =>
  enqueue(async () => {
    await prepare();
    await runModel();
  });

/** A random 64-bit root key as 16 hex digits. */
function randomKey() {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return `0x${[...words].map((w) => w.toString(16).padStart(8, '0')).join('')}`;
}

async function start() {
  const opened = await openModel('rbnn', settings);
  if (!opened) return;
  ({ model, sessionFor } = opened);
  for (const t of model.tasks) $('task').append(new Option(t, t));
  $('root-key').value = model.rootKey;
  $('task').addEventListener('change', () => job());
  $('root-key').addEventListener('change', () => job());
  $('device-key').addEventListener('click', () => job(() => ($('root-key').value = model.rootKey)));
  $('wrong-key').addEventListener('click', () => job(() => ($('root-key').value = randomKey())));
  $('seed').addEventListener('change', () => job());
  $('new').addEventListener('click', () => job(() => ($('seed').value = String(Number($('seed').value) + 1))));
  for (const radio of document.querySelectorAll('input[name="provider"]')) radio.addEventListener('change', () => job());
  await job();
}

start();
