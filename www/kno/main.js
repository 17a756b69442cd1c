// The Burgers' equation demo: an initial condition (random, or drawn by the user) is rolled out
// by onnx/kno.onnx one step at a time and by the reference solver; both are shown side by side,
// with the relative L2 error per step and the timings. edgewise's task helpers make the
// initial conditions, solve, and measure the error.
import { Tensor, tasks } from 'edgewise';
import { $, context, finishRun, openModel, providerText, queue, runtimeText, selectedProvider, setStatus } from '../common.js';

const U_MAX = 1.5; // the plots' vertical range is [-U_MAX, U_MAX]
const FRAME_MS = 70;

let model; // { url, dt, nu, steps, trainN }
/** Where u0 comes from: { kind: 'random', seed } or { kind: 'drawn', points }. */
let source = { kind: 'random', seed: 3 };
let stroke = null; // points of the stroke being drawn
let run = null; // the last rollout: { n, u0, prediction[], reference[], l2[] }
let step = 0;
let timer = null;

/** The model's settings from its manifest entry. */
function settings({ url, helper: h }) {
  for (const k of ['dt', 'nu', 'steps']) {
    if (typeof h[k] !== 'number') throw new Error(`the manifest's kno entry has no helper.${k}`);
  }
  return { url, dt: h.dt, nu: h.nu, steps: h.steps, trainN: h.train_n };
}

const selected = (name) => document.querySelector(`input[name="${name}"]:checked`).value;

// ----------------------------------------------------------------------------- drawing

const toX = (x, w) => x * w;
const toY = (u, h) => ((U_MAX - u) / (2 * U_MAX)) * h;

function axes(ctx) {
  const { width: w, height: h } = ctx.canvas;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = '#dde1ea';
  ctx.lineWidth = 1;
  for (const u of [-1, 0, 1]) {
    ctx.beginPath();
    ctx.moveTo(0, toY(u, h) + 0.5);
    ctx.lineTo(w, toY(u, h) + 0.5);
    ctx.stroke();
  }
  ctx.fillStyle = '#5c6475';
  ctx.font = '11px system-ui, sans-serif';
  for (const u of [-1, 0, 1]) ctx.fillText(String(u), 4, toY(u, h) - 3);
}

/** A periodic field on j/n as a line (closed back to x = 1). */
function line(ctx, u, color, width = 2, dash = []) {
  const { width: w, height: h } = ctx.canvas;
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.setLineDash(dash);
  ctx.beginPath();
  for (let j = 0; j <= u.length; j++) {
    const v = u[j % u.length];
    const [x, y] = [toX(j / u.length, w), toY(v, h)];
    if (j === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  }
  ctx.stroke();
  ctx.setLineDash([]);
}

function drawInitial() {
  const ctx = context('draw');
  axes(ctx);
  const points = stroke ?? (source.kind === 'drawn' ? source.points : null);
  if (points) {
    ctx.fillStyle = 'rgba(58, 91, 217, 0.35)';
    const { width: w, height: h } = ctx.canvas;
    for (const [x, u] of points) ctx.fillRect(toX(x, w) - 1.5, toY(u, h) - 1.5, 3, 3);
  }
  if (run && !stroke) line(ctx, run.u0, '#1b1f2a', 2);
}

function drawStep() {
  const ctx = context('plot');
  axes(ctx);
  if (!run) return;
  line(ctx, run.reference[step], '#1b1f2a', 2, [6, 4]);
  line(ctx, run.prediction[step], '#3a5bd9', 2.5);
  $('step').value = String(step);
  $('step-label').textContent = `t = ${(step * model.dt).toFixed(2)} (step ${step} of ${run.steps})`;
  $('l2-step').textContent = run.l2[step].toFixed(4);
  document.body.dataset.step = String(step);
}

/** Blue (negative), white (0), red (positive) for t in [-1, 1]. */
function diverging(t) {
  const c = Math.min(1, Math.max(-1, t));
  const end = c < 0 ? [59, 76, 192] : [180, 4, 38];
  const a = Math.abs(c);
  return [0, 1, 2].map((k) => Math.round(255 + a * (end[k] - 255)));
}

function spaceTime(id, rows, color) {
  const canvas = $(id);
  canvas.width = rows[0].length;
  canvas.height = rows.length;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const image = ctx.createImageData(canvas.width, canvas.height);
  rows.forEach((row, t) => row.forEach((v, x) => image.data.set([...color(v), 255], 4 * (t * canvas.width + x))));
  ctx.putImageData(image, 0, 0);
}

function drawL2() {
  const ctx = context('l2');
  const { width: w, height: h } = ctx.canvas;
  ctx.clearRect(0, 0, w, h);
  const top = Math.max(1e-3, ...run.l2.filter(Number.isFinite)) * 1.1;
  const [left, bottom] = [44, h - 20];
  ctx.strokeStyle = '#dde1ea';
  ctx.fillStyle = '#5c6475';
  ctx.font = '11px system-ui, sans-serif';
  for (const f of [0, 0.5, 1]) {
    const y = bottom - f * (bottom - 8);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(w, y);
    ctx.stroke();
    ctx.fillText((f * top).toPrecision(2), 2, y + 4);
  }
  ctx.fillText('step', w - 28, h - 4);
  ctx.fillText(String(run.steps), w - 60, h - 4);
  ctx.fillText('0', left, h - 4);
  ctx.strokeStyle = '#3a5bd9';
  ctx.lineWidth = 2;
  ctx.beginPath();
  run.l2.forEach((v, k) => {
    const x = left + (k / run.steps) * (w - left - 4);
    const y = bottom - (Math.min(v, top) / top) * (bottom - 8);
    if (k === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

// ------------------------------------------------------------------------------ running

let sessionFor; // set once the model is opened

function initialCondition(n) {
  if (source.kind === 'random') return tasks.kno.randomInitialCondition(n, source.seed);
  return tasks.kno.initialCondition(source.points, n, { zeroMean: $('zero-mean').checked });
}

async function rollout() {
  stopPlaying();
  const n = Number(selected('n'));
  const provider = selectedProvider();
  const { session } = await sessionFor(provider);
  const u0 = initialCondition(n);
  const steps = model.steps;
  setStatus('running', `Rolling out ${steps} steps at n = ${n}…`);
  const [input] = session.inputNames;
  const [output] = session.outputNames;
  const prediction = [u0];
  const t0 = performance.now();
  for (let k = 0; k < steps; k++) {
    const outputs = await session.run({ [input]: new Tensor('float32', prediction[k], [1, 1, n]) });
    prediction.push(outputs[output].data);
  }
  const modelMs = performance.now() - t0;
  const t1 = performance.now();
  const reference = tasks.kno.solve(u0, { nu: model.nu, dt: model.dt, steps });
  const solverMs = performance.now() - t1;
  const l2 = prediction.map((p, k) => tasks.kno.relativeL2(p, reference[k]));
  run = { n, steps, u0, prediction, reference, l2, provider };

  const scale = Math.max(1e-6, ...u0.map(Math.abs));
  spaceTime('st-model', prediction, (v) => diverging(v / scale));
  spaceTime('st-solver', reference, (v) => diverging(v / scale));
  spaceTime('st-error', prediction.map((p, k) => p.map((v, j) => Math.abs(v - reference[k][j]))), (e) => {
    const g = Math.round(255 * (1 - Math.min(1, e / scale)));
    return [g, g, g];
  });
  drawL2();
  drawInitial();
  const mean = l2.slice(1).reduce((a, b) => a + b, 0) / steps;
  $('steps-label').textContent = String(steps);
  $('l2-final').textContent = l2[steps].toFixed(4);
  $('l2-mean').textContent = mean.toFixed(4);
  $('model-ms').textContent = `${modelMs.toFixed(1)} ms (${(modelMs / steps).toFixed(2)} ms per step)`;
  $('solver-ms').textContent = `${solverMs.toFixed(1)} ms`;
  $('equation').textContent = `u_t + u u_x = ${model.nu} u_xx, dt = ${model.dt}, n = ${n}${model.trainN ? ` (trained at ${model.trainN})` : ''}`;
  $('provider-used').textContent = providerText(provider, session);
  $('runtime').textContent = runtimeText();
  $('step').max = String(steps);
  $('step').disabled = false;
  $('play').disabled = false;
  const runs = finishRun();
  $('result').textContent = JSON.stringify({
    runs,
    n,
    steps,
    provider,
    source,
    zeroMean: $('zero-mean').checked,
    dt: model.dt,
    nu: model.nu,
    modelMs,
    solverMs,
    l2,
    u0: Array.from(u0),
    prediction: prediction.map((p) => Array.from(p)),
    reference: reference.map((r) => Array.from(r)),
  });
  setStatus('done', `Done: ${steps} steps at n = ${n}, model ${modelMs.toFixed(0)} ms, solver ${solverMs.toFixed(0)} ms.`);
  play();
}

function stopPlaying() {
  if (timer !== null) clearInterval(timer);
  timer = null;
  $('play').textContent = '▶ Play';
}

/** Animates the steps from 0 to the end once. */
function play() {
  stopPlaying();
  step = 0;
  drawStep();
  $('play').textContent = '■ Stop';
  timer = setInterval(() => {
    if (step >= run.steps) {
      stopPlaying();
      return;
    }
    step += 1;
    drawStep();
  }, FRAME_MS);
}

const enqueue = queue();

/** Runs `prepare` then the rollout, one job at a time. */
const job = (prepare = () => {}) =>
  enqueue(async () => {
    await prepare();
    await rollout();
  });

function pointOf(event) {
  const r = $('draw').getBoundingClientRect();
  const x = Math.min(0.9999, Math.max(0, (event.clientX - r.left) / r.width));
  const u = U_MAX - (2 * U_MAX * (event.clientY - r.top)) / r.height;
  return [x, Math.min(U_MAX, Math.max(-U_MAX, u))];
}

function listen() {
  const canvas = $('draw');
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    stroke = [pointOf(e)];
    drawInitial();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!stroke) return;
    stroke.push(pointOf(e));
    drawInitial();
  });
  const finish = () => {
    if (!stroke) return;
    const points = stroke;
    stroke = null;
    job(() => {
      source = { kind: 'drawn', points };
    });
  };
  canvas.addEventListener('pointerup', finish);
  canvas.addEventListener('pointercancel', finish);
  $('random').addEventListener('click', () => {
    const seed = Number($('seed').value) + (source.kind === 'random' ? 1 : 0);
    $('seed').value = String(seed);
    job(() => {
      source = { kind: 'random', seed };
    });
  });
  $('seed').addEventListener('change', () =>
    job(() => {
      source = { kind: 'random', seed: Number($('seed').value) };
    }),
  );
  $('zero-mean').addEventListener('change', () => {
    if (source.kind === 'drawn') job();
  });
  for (const radio of document.querySelectorAll('input[name="n"], input[name="provider"]')) radio.addEventListener('change', () => job());
  $('step').addEventListener('input', () => {
    stopPlaying();
    step = Number($('step').value);
    drawStep();
  });
  $('play').addEventListener('click', () => (timer === null ? play() : stopPlaying()));
}

async function start() {
  axes(context('draw'));
  axes(context('plot'));
  const opened = await openModel('kno', settings);
  if (!opened) return;
  ({ model, sessionFor } = opened);
  source = { kind: 'random', seed: Number($('seed').value) };
  listen();
  await job();
}

start();
