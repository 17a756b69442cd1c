// The Sobel demo: draws or uploads a 64×64 grayscale image, runs onnx/sobel.onnx on it with
// edgewise and shows the edge map, the timings and the model's metadata.
import { InferenceSession, Tensor } from 'edgewise';
import { $, context, drawCentreSquare, finishRun, queue, readGrayscale as readGrayscaleOf, readImage, runtimeText, setStatus, showError } from '../common.js';

const SIZE = 64;
const inputCtx = context('input');
const outputCtx = context('output');

/** Generated patterns, white on black, drawn on the 64×64 input canvas. */
const PATTERNS = {
  square(ctx) {
    ctx.fillRect(16, 16, 32, 32);
  },
  circle(ctx) {
    ctx.beginPath();
    ctx.arc(32, 32, 20, 0, 2 * Math.PI);
    ctx.fill();
  },
  text(ctx) {
    ctx.font = 'bold 30px sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('edge', 32, 33, 60);
  },
  checkerboard(ctx) {
    for (let y = 0; y < SIZE; y += 8) {
      for (let x = (y / 8) % 2 === 0 ? 0 : 8; x < SIZE; x += 16) ctx.fillRect(x, y, 8, 8);
    }
  },
  rings(ctx) {
    ctx.lineWidth = 3;
    ctx.strokeStyle = '#fff';
    for (let r = 6; r < 32; r += 8) {
      ctx.beginPath();
      ctx.arc(32, 32, r, 0, 2 * Math.PI);
      ctx.stroke();
    }
  },
  gradient(ctx) {
    const g = ctx.createLinearGradient(0, 0, SIZE, 0);
    g.addColorStop(0, '#000');
    g.addColorStop(1, '#fff');
    ctx.fillStyle = g;
    ctx.fillRect(0, 8, SIZE, 48);
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

/** Draws an uploaded image onto the input canvas: centre-cropped to a square, scaled to 64×64. */
async function drawUpload(file) {
  const bitmap = await readImage(file);
  clearInput();
  drawCentreSquare(inputCtx, bitmap, SIZE);
  $('input-name').textContent = file.name;
}

/** The input canvas as the model's input in [0,1]; the canvas is redrawn as that grayscale. */
const readGrayscale = () => readGrayscaleOf(inputCtx, SIZE);

function drawEdges(edges) {
  const image = outputCtx.createImageData(SIZE, SIZE);
  for (let i = 0; i < edges.length; i++) {
    const v = Math.round(Math.min(1, Math.max(0, edges[i])) * 255);
    image.data.set([v, v, v, 255], 4 * i);
  }
  outputCtx.putImageData(image, 0, 0);
}

function showMetadata(session) {
  const rows = [
    ...session.inputMetadata.map((m) => ['input', m]),
    ...session.outputMetadata.map((m) => ['output', m]),
  ];
  $('metadata').tBodies[0].replaceChildren(
    ...rows.map(([kind, m]) => {
      const tr = document.createElement('tr');
      for (const text of [kind, m.name, m.type, `[${m.shape.join(', ')}]`]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}

let session;
const enqueue = queue();

async function runModel() {
  const gray = readGrayscale();
  setStatus('running', 'Running…');
  const start = performance.now();
  const { edges } = await session.run({ image: new Tensor('float32', gray, [1, 1, SIZE, SIZE]) });
  const ms = performance.now() - start;
  drawEdges(edges.data);
  $('run-ms').textContent = `${ms.toFixed(2)} ms`;
  $('edge-count').textContent = String(edges.data.filter((v) => v > 0.5).length);
  finishRun();
  setStatus('done', `Done: edge map of ${edges.dims.join('×')} in ${ms.toFixed(2)} ms.`);
}

/** Runs `prepare` then the model, one job at a time; failures are shown on the page. */
const job = (prepare) =>
  enqueue(async () => {
    await prepare();
    await runModel();
  });

async function start() {
  const t0 = performance.now();
  try {
    session = await InferenceSession.create('/onnx/sobel.onnx');
  } catch (e) {
    showError(new Error(`could not load /onnx/sobel.onnx: ${e?.message ?? e}`));
    return;
  }
  $('load-ms').textContent = `${(performance.now() - t0).toFixed(1)} ms (wasm + model)`;
  $('runtime').textContent = runtimeText();
  showMetadata(session);
  $('run').disabled = false;
  $('pattern').addEventListener('change', () => {
    $('upload').value = '';
    job(() => drawPattern($('pattern').value));
  });
  $('upload').addEventListener('change', () => {
    const file = $('upload').files[0];
    if (file) job(() => drawUpload(file));
  });
  $('run').addEventListener('click', () => job(() => {}));
  await job(() => drawPattern($('pattern').value));
}

start();
