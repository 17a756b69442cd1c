// What the pages of the 16×16 glyph classifiers share (multiexit, exitdoor, aquant, snf): the
// top answer of a row of logits, a batch of answers from a session, a glyph painted on a
// canvas, a tile comparing two models' answers, and a drawing pad.
import { Tensor } from 'edgewise';
import { $ } from './common.js';

/** Side of the glyphs. */
export const SIDE = 16;

/** Index of the largest logit, and its softmax probability. */
export function top(logits) {
  let best = 0;
  for (let k = 1; k < logits.length; k++) if (logits[k] > logits[best]) best = k;
  const sum = logits.reduce((a, v) => a + Math.exp(v - logits[best]), 0);
  return { label: best, confidence: 1 / sum };
}

/** Each of `n` glyphs' top answer from one batched run of `session` (its `logits`), and the time. */
export async function answers(session, pixels, n) {
  const t0 = performance.now();
  const { logits } = await session.run({ image: new Tensor('float32', pixels, [n, 1, SIDE, SIDE]) });
  const ms = performance.now() - t0;
  const classes = logits.data.length / n;
  return { ms, tops: Array.from({ length: n }, (_, i) => top(logits.data.subarray(i * classes, (i + 1) * classes))) };
}

/**
 * A tile of the glyph `pixels` with two models' answers `a` and `b` (`top` results), shown as
 * `short(label)`; `title` its tooltip. Its class says whether they agree (`same` / `differ`).
 */
export function pairTile(pixels, a, b, short, title) {
  const li = document.createElement('li');
  li.className = `glyph ${a.label === b.label ? 'same' : 'differ'}`;
  li.title = title;
  const first = Object.assign(document.createElement('span'), { className: 'first', textContent: short(a.label) });
  const second = Object.assign(document.createElement('span'), { className: 'second', textContent: short(b.label) });
  li.append(glyphCanvas(pixels), first, second);
  return li;
}

/**
 * Each of `models` (`[name, session]` pairs) on the glyph `pixels`, shown as the rows of
 * `table` (model, class, confidence); resolves to `{ pixels, rows }` for the page's result.
 */
export async function drawnRows(table, models, pixels, classes) {
  const rows = [];
  for (const [name, session] of models) rows.push([name, (await answers(session, pixels, 1)).tops[0]]);
  table.tBodies[0].replaceChildren(
    ...rows.map(([name, t]) => {
      const tr = document.createElement('tr');
      for (const v of [name, classes[t.label], t.confidence.toFixed(3)]) tr.append(Object.assign(document.createElement('td'), { textContent: v }));
      return tr;
    }),
  );
  return { pixels: Array.from(pixels), rows: rows.map(([model, t]) => ({ model, ...t })) };
}

/** Paints gray levels in [0, 1] (SIDE×SIDE, row-major) on a SIDE×SIDE canvas. */
export function paintGlyph(canvas, pixels) {
  canvas.width = canvas.height = SIDE;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const image = ctx.createImageData(SIDE, SIDE);
  for (let p = 0; p < SIDE * SIDE; p++) {
    const v = Math.round(Math.min(1, Math.max(0, pixels[p])) * 255);
    image.data.set([v, v, v, 255], 4 * p);
  }
  ctx.putImageData(image, 0, 0);
}

/** A SIDE×SIDE canvas showing `pixels`. */
export function glyphCanvas(pixels) {
  const canvas = document.createElement('canvas');
  paintGlyph(canvas, pixels);
  return canvas;
}

/**
 * The drawing pad on canvas `#<id>`: a stroke inks the pixel under the pointer fully and its
 * four neighbours half; `onStroke()` is called when the pointer is released. `pixels` holds
 * the drawing; `clear()` empties it.
 */
export function glyphPad(id, onStroke) {
  const canvas = $(id);
  const pixels = new Float32Array(SIDE * SIDE);
  const paint = () => paintGlyph(canvas, pixels);
  const ink = (event) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.floor(((event.clientX - box.left) / box.width) * SIDE);
    const y = Math.floor(((event.clientY - box.top) / box.height) * SIDE);
    for (const [dx, dy, v] of [[0, 0, 1], [1, 0, 0.5], [-1, 0, 0.5], [0, 1, 0.5], [0, -1, 0.5]]) {
      const [px, py] = [x + dx, y + dy];
      if (px >= 0 && py >= 0 && px < SIDE && py < SIDE) pixels[py * SIDE + px] = Math.max(pixels[py * SIDE + px], v);
    }
    paint();
  };
  let down = false;
  canvas.addEventListener('pointerdown', (e) => ((down = true), ink(e)));
  canvas.addEventListener('pointermove', (e) => down && ink(e));
  window.addEventListener('pointerup', () => {
    if (down) onStroke();
    down = false;
  });
  paint();
  return {
    pixels,
    clear() {
      pixels.fill(0);
      paint();
    },
  };
}
