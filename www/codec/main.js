// The DCT codec demo: draws or uploads a 32×32 grayscale image, runs onnx/dct_codec.onnx on
// it with edgewise (WebGPU stages, or everything on the CPU) and shows the reconstruction,
// its SSIM score, the timings and where each stage of the plan ran.
import { Tensor } from 'edgewise';
import {
  $,
  context,
  PROVIDERS,
  drawCentreSquare,
  finishRun,
  queue,
  readGrayscale as readGrayscaleOf,
  readImage,
  runtimeText,
  selectedProvider,
  sessions,
  setStatus,
} from '../common.js';

const SIZE = 32;
const MODEL = '/onnx/dct_codec.onnx';
const inputCtx = context('input');

/** A deterministic pseudo-random sequence in [0, 1). */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Generated patterns, white on black, drawn on the 32×32 input canvas. */
const PATTERNS = {
  rings(ctx) {
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#fff';
    for (let r = 3; r < 16; r += 5) {
      ctx.beginPath();
      ctx.arc(16, 16, r, 0, 2 * Math.PI);
      ctx.stroke();
    }
  },
  square(ctx) {
    ctx.fillRect(9, 9, 14, 14);
  },
  text(ctx) {
    ctx.font = 'bold 17px sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('Aa', 16, 17, 30);
  },
  checkerboard(ctx) {
    for (let y = 0; y < SIZE; y += 2) {
      for (let x = (y / 2) % 2 === 0 ? 0 : 2; x < SIZE; x += 4) ctx.fillRect(x, y, 2, 2);
    }
  },
  gradient(ctx) {
    const g = ctx.createLinearGradient(0, 0, SIZE, SIZE);
    g.addColorStop(0, '#000');
    g.addColorStop(1, '#fff');
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, SIZE, SIZE);
  },
  noise(ctx) {
    const r = random(7);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const v = Math.round(255 * r());
        ctx.fillStyle = `rgb(${v},${v},${v})`;
        ctx.fillRect(x, y, 1, 1);
      }
    }
  },
};

function clearInput() {
  inputCtx.save();
  inputCtx.fillStyle = '#000';
  inputCtx.fillRect(0, 0, SIZE, SIZE);
  inputCtx.restore();
}

function drawPattern(name) {
  clearInput();
  inputCtx.save();
  inputCtx.fillStyle = '#fff';
  PATTERNS[name](inputCtx);
  inputCtx.restore();
  $('input-name').textContent = name;
}

/** Draws an uploaded image onto the input canvas: centre-cropped to a square, scaled to 32×32. */
async function drawUpload(file) {
  const bitmap = await readImage(file);
  clearInput();
  drawCentreSquare(inputCtx, bitmap, SIZE);
  $('input-name').textContent = file.name;
}

/** The input canvas as the model's input in [0,1]; the canvas is redrawn as that grayscale. */
const readGrayscale = () => readGrayscaleOf(inputCtx, SIZE);

/** The model's first step, for display: a 3×3 box blur with zero padding. */
function boxBlur(img) {
  const out = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < SIZE && xx >= 0 && xx < SIZE) sum += img[yy * SIZE + xx];
        }
      }
      out[y * SIZE + x] = sum / 9;
    }
  }
  return out;
}

function drawGray(id, values) {
  const ctx = context(id);
  const image = ctx.createImageData(SIZE, SIZE);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(Math.min(1, Math.max(0, values[i])) * 255);
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
}

function cell(content, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  return td;
}

function pill(text, className) {
  const span = document.createElement('span');
  span.className = `pill ${className}`;
  span.textContent = text;
  return span;
}

function showStages(stages) {
  $('stages').tBodies[0].replaceChildren(
    ...stages.map((s) => {
      const tr = document.createElement('tr');
      tr.append(
        cell(String(s.index)),
        cell(pill(s.kind, s.kind)),
        cell(s.nodes.join(', '), 'nodes'),
        cell(pill(s.placement, s.fallback ? 'fallback' : s.placement)),
        cell(s.fallback ?? '—'),
      );
      return tr;
    }),
  );
}

const sessionFor = sessions(MODEL);
/** Per provider: whether its session also waited for wasm to load, its runs and fastest run. */
const timings = new Map();

async function runModel() {
  const provider = selectedProvider();
  const { session, createMs } = await sessionFor(provider);
  // The first session also waits for the wasm module to load.
  if (!timings.has(provider)) timings.set(provider, { withWasm: timings.size === 0, runs: 0, bestMs: Infinity });
  const entry = timings.get(provider);
  const gray = readGrayscale();
  setStatus('running', 'Running…');
  const start = performance.now();
  const { recon, score } = await session.run({ x: new Tensor('float32', gray, [1, 1, SIZE, SIZE]) });
  const ms = performance.now() - start;
  entry.runs += 1;
  entry.bestMs = Math.min(entry.bestMs, ms);
  const stages = session.stages();

  drawGray('blurred', boxBlur(gray));
  drawGray('recon', recon.data);
  $('score').textContent = score.data[0].toFixed(4);
  $('provider-used').textContent = `${PROVIDERS[provider].label} · executionProviders: [${PROVIDERS[provider].executionProviders.map((p) => `'${p}'`).join(', ')}]`;
  $('adapter').textContent = session.adapter ?? 'none (CPU only)';
  $('load-ms').textContent = `${createMs.toFixed(1)} ms (${entry.withWasm ? 'wasm + model' : 'model'})`;
  const first = entry.runs === 1 && provider === 'webgpu' ? ', first run builds the GPU pipelines' : '';
  $('run-ms').textContent = `${ms.toFixed(2)} ms (fastest ${entry.bestMs.toFixed(2)} ms over ${entry.runs} run${entry.runs === 1 ? '' : 's'}${first})`;
  $('runtime').textContent = runtimeText();
  showStages(stages);
  const runs = finishRun();
  $('result').textContent = JSON.stringify({
    runs,
    provider,
    input: $('input-name').textContent,
    adapter: session.adapter ?? null,
    score: score.data[0],
    runMs: ms,
    stages,
    recon: Array.from(recon.data),
  });
  const gpuStages = stages.filter((s) => s.kind === 'webgpu');
  const onGpu = gpuStages.filter((s) => s.placement === 'webgpu').length;
  const where = gpuStages.length ? `${onGpu} of ${gpuStages.length} WebGPU stages on the GPU` : 'all on the CPU';
  setStatus('done', `Done: SSIM ${score.data[0].toFixed(4)} in ${ms.toFixed(2)} ms, ${where}.`);
}

const enqueue = queue();

/** Runs `prepare` then the model, one job at a time; failures are shown on the page. */
const job = (prepare) =>
  enqueue(async () => {
    await prepare();
    await runModel();
  });

function start() {
  $('pattern').addEventListener('change', () => {
    $('upload').value = '';
    job(() => drawPattern($('pattern').value));
  });
  $('upload').addEventListener('change', () => {
    const file = $('upload').files[0];
    if (file) job(() => drawUpload(file));
  });
  for (const radio of document.querySelectorAll('input[name="provider"]')) {
    radio.addEventListener('change', () => job(() => {}));
  }
  $('run').addEventListener('click', () => job(() => {}));
  drawPattern($('pattern').value);
  job(() => {}).then(() => {
    $('run').disabled = false;
  });
}

start();
