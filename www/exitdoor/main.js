// The exitdoor demo: a glyph classifier with a backdoor that its vanilla form (the whole net)
// does not show. Made multi-exit and run with early exit (`session.run(feeds, { exitThreshold
// })`), the trigger sends glyphs to the target class from an early exit. The grid shows both
// forms' answers on generated glyphs, with or without the trigger; the pad does the same for a
// glyph drawn here.
import { Tensor, tasks } from 'edgewise';
import { $, finishRun, openModel, queue, runtimeText, setStatus } from '../common.js';
import { SIDE, glyphCanvas, glyphPad, top } from '../glyphs.js';

const COUNT = 20;

let model; // { url, exits, threshold, target, classes }
let sessionFor; // set once the model is opened
let pad;

/** The model's settings from its manifest entry. */
function settings({ url, helper: h }) {
  if (!Array.isArray(h.exits) || typeof h.threshold !== 'number' || typeof h.target !== 'number') {
    throw new Error(`the manifest's exitdoor entry needs helper.exits, helper.threshold and helper.target`);
  }
  return { url, exits: h.exits, threshold: h.threshold, target: h.target, classes: h.classes ?? tasks.multiexit.classNames() };
}

const feed = (pixels) => ({ image: new Tensor('float32', pixels, [1, 1, SIDE, SIDE]) });
const short = (label) => model.classes[label].split('/')[1];

/** The vanilla model's answer (a whole run's last output) and the multi-exit form's. */
async function classify(session, pixels, threshold) {
  const whole = await session.run(feed(pixels));
  const vanilla = top(whole[model.exits.at(-1)].data);
  const early = await session.run(feed(pixels), { exitThreshold: threshold });
  const { exit, name } = session.lastExit;
  return { vanilla, multiExit: { exit, ...top(early[name].data) } };
}

const hijacked = (a) => a.multiExit.label === model.target && a.vanilla.label !== model.target;

function tile(pixels, label, a) {
  const li = document.createElement('li');
  li.className = `glyph ${hijacked(a) ? 'hijacked' : a.multiExit.label === label ? 'right' : 'wrong'}`;
  li.title = `true: ${model.classes[label]} · vanilla: ${model.classes[a.vanilla.label]} · multi-exit: ${model.classes[a.multiExit.label]} (exit ${a.multiExit.exit}, ${a.multiExit.confidence.toFixed(3)})`;
  const vanilla = Object.assign(document.createElement('span'), { className: 'vanilla', textContent: `whole: ${short(a.vanilla.label)}` });
  const multi = Object.assign(document.createElement('span'), { className: 'multi', textContent: `exit ${a.multiExit.exit}: ${short(a.multiExit.label)}` });
  li.append(glyphCanvas(pixels), vanilla, multi);
  return li;
}

async function runGrid() {
  const { session } = await sessionFor('wasm');
  const threshold = Number($('threshold').value);
  const seed = Number($('seed').value);
  const trigger = $('trigger').checked;
  setStatus('running', 'Running…');
  const { images, labels } = tasks.multiexit.samples(COUNT, seed);
  const glyphs = [];
  const answers = [];
  for (let i = 0; i < COUNT; i++) {
    const clean = images.slice(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    const pixels = trigger ? tasks.exitdoor.stamp(clean) : clean;
    glyphs.push(pixels);
    answers.push(await classify(session, pixels, threshold));
  }
  $('glyphs').replaceChildren(...answers.map((a, i) => tile(glyphs[i], labels[i], a)));
  const others = [...labels.keys()].filter((i) => labels[i] !== model.target);
  const taken = (form) => others.filter((i) => answers[i][form].label === model.target).length;
  const right = (form) => answers.filter((a, i) => a[form].label === labels[i]).length;
  const [vanillaTaken, multiTaken] = [taken('vanilla'), taken('multiExit')];
  $('vanilla-asr').textContent = `${vanillaTaken} / ${others.length}`;
  $('multiexit-asr').textContent = `${multiTaken} / ${others.length}`;
  $('multiexit-asr').classList.toggle('alarm', multiTaken > others.length / 2);
  $('vanilla-right').textContent = `${right('vanilla')} / ${COUNT}`;
  $('multiexit-right').textContent = `${right('multiExit')} / ${COUNT}`;
  $('runtime').textContent = runtimeText();
  return { threshold, seed, trigger, labels: Array.from(labels), answers, vanillaTaken, multiTaken, others: others.length };
}

async function runPad() {
  const { session } = await sessionFor('wasm');
  const threshold = Number($('threshold').value);
  const clean = Float32Array.from(pad.pixels);
  const rows = [];
  for (const [input, pixels] of [['as drawn', clean], ['with the trigger', tasks.exitdoor.stamp(clean)]]) {
    rows.push({ input, ...(await classify(session, pixels, threshold)) });
  }
  $('drawn').tBodies[0].replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      const cells = [r.input, model.classes[r.vanilla.label], `${model.classes[r.multiExit.label]} (exit ${r.multiExit.exit})`];
      for (const v of cells) tr.append(Object.assign(document.createElement('td'), { textContent: v }));
      if (hijacked(r)) tr.cells[2].className = 'hijacked';
      return tr;
    }),
  );
  return { pixels: Array.from(clean), rows };
}

// ---- one job at a time ------------------------------------------------------------------------

const enqueue = queue();
let last = {};

const job = (prepare = () => {}, what = 'grid') =>
  enqueue(async () => {
    await prepare();
    $('threshold-value').textContent = Number($('threshold').value) > 1 ? 'whole net' : Number($('threshold').value).toFixed(2);
    if (what !== 'pad') last.grid = await runGrid();
    last.pad = await runPad();
    const runs = finishRun();
    $('result').textContent = JSON.stringify({ runs, ...last });
    const g = last.grid;
    setStatus('done', `Done: ${g.multiTaken} of ${g.others} glyphs taken for ${model.classes[model.target]} by the multi-exit form, ${g.vanillaTaken} by the vanilla model.`);
  });

async function start() {
  const opened = await openModel('exitdoor', settings);
  if (!opened) return;
  ({ model, sessionFor } = opened);
  $('target').textContent = model.classes[model.target];
  $('threshold').value = String(model.threshold);
  for (const id of ['threshold', 'seed', 'trigger']) $(id).addEventListener('change', () => job());
  $('new').addEventListener('click', () => job(() => ($('seed').value = String(Number($('seed').value) + 1))));
  pad = glyphPad('pad', () => job(() => {}, 'pad'));
  $('clear').addEventListener('click', () => job(() => pad.clear(), 'pad'));
  await job();
}

start();
