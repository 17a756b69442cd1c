// The Sobel demo: draws or uploads a 64×64 grayscale image, runs onnx/sobel.onnx on it with
// edgewise and shows the edge map, the timings and the model's metadata.
import { InferenceSession, Tensor, env } from 'edgewise';

const SIZE = 64;
const $ = (id) => document.getElementById(id);
const inputCtx = $('input').getContext('2d', { willReadFrequently: true });
const outputCtx = $('output').getContext('2d', { willReadFrequently: true });

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
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (e) {
    throw new Error(`could not read '${file.name}' as an image (${e.message || e.name})`);
  }
  const side = Math.min(bitmap.width, bitmap.height);
  const sx = (bitmap.width - side) / 2;
  const sy = (bitmap.height - side) / 2;
  clearInput();
  inputCtx.imageSmoothingQuality = 'high';
  inputCtx.drawImage(bitmap, sx, sy, side, side, 0, 0, SIZE, SIZE);
  bitmap.close();
  $('input-name').textContent = file.name;
}

/** The input canvas as the model's input in [0,1]; the canvas is redrawn as that grayscale. */
function readGrayscale() {
  const pixels = inputCtx.getImageData(0, 0, SIZE, SIZE);
  const p = pixels.data;
  const gray = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < gray.length; i++) {
    const v = (0.2126 * p[4 * i] + 0.7152 * p[4 * i + 1] + 0.0722 * p[4 * i + 2]) / 255;
    const byte = Math.round(v * 255);
    gray[i] = byte / 255;
    p[4 * i] = p[4 * i + 1] = p[4 * i + 2] = byte;
    p[4 * i + 3] = 255;
  }
  inputCtx.putImageData(pixels, 0, 0);
  return gray;
}

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

function setStatus(state, text) {
  document.body.dataset.state = state;
  $('status').textContent = text;
}

function showError(error) {
  const box = $('error');
  box.textContent = `Error: ${error?.message ?? error}`;
  box.hidden = false;
  setStatus('error', 'Failed — see the message above.');
}

let session;
let busy = Promise.resolve();

async function runModel() {
  const gray = readGrayscale();
  setStatus('running', 'Running…');
  const start = performance.now();
  const { edges } = await session.run({ image: new Tensor('float32', gray, [1, 1, SIZE, SIZE]) });
  const ms = performance.now() - start;
  drawEdges(edges.data);
  $('run-ms').textContent = `${ms.toFixed(2)} ms`;
  $('edge-count').textContent = String(edges.data.filter((v) => v > 0.5).length);
  $('error').hidden = true;
  document.body.dataset.runs = String(Number(document.body.dataset.runs) + 1);
  setStatus('done', `Done: edge map of ${edges.dims.join('×')} in ${ms.toFixed(2)} ms.`);
}

/** Runs `prepare` then the model, one job at a time; failures are shown on the page. */
function job(prepare) {
  busy = busy.then(async () => {
    try {
      await prepare();
      await runModel();
    } catch (e) {
      showError(e);
    }
  });
  return busy;
}

async function start() {
  const t0 = performance.now();
  try {
    session = await InferenceSession.create('/onnx/sobel.onnx');
  } catch (e) {
    showError(new Error(`could not load /onnx/sobel.onnx: ${e?.message ?? e}`));
    return;
  }
  $('load-ms').textContent = `${(performance.now() - t0).toFixed(1)} ms (wasm + model)`;
  $('runtime').textContent = `edgewise ${env.versions.edgewise} · ${(env.wasmMemoryBytes / 2 ** 20).toFixed(1)} MiB wasm memory`;
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
