// The demo gallery: from the index to the Sobel page, its visible results and a screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';

import { withPage, browserEnv, sobelReference, grayPng } from './harness.mjs';

const SCREENSHOT = 'tests/artifacts/screenshots/demo-sobel.png';


/** Waits for the page's `n`-th finished run. */
async function waitForRun(page, n) {
  await page.waitForFunction(
    (runs) => document.body.dataset.state === 'done' && document.body.dataset.runs === String(runs),
    n,
    { timeout: 60_000 },
  );
}

/** The input and output canvases' red channel (they are grayscale), 64×64 each. */
async function readCanvases(page) {
  return page.evaluate(() => {
    const read = (id) => {
      const data = document.getElementById(id).getContext('2d').getImageData(0, 0, 64, 64).data;
      return Array.from({ length: 64 * 64 }, (_, i) => data[4 * i]);
    };
    return { input: read('input'), output: read('output') };
  });
}

/** Checks the drawn edge map against the reference computed from the drawn input. */
function assertEdgeMap({ input, output }) {
  const want = sobelReference(input.map((v) => v / 255)).map((v) => Math.round(v * 255));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(output[i] - want[i]));
  assert.ok(worst <= 1, `output canvas differs from the reference by ${worst}/255`);
  return want;
}

const px = (arr, x, y) => arr[y * 64 + x];

test("every gallery card shows its art and opens a page that loads", async () => {
  browserEnv();
  await withPage(async (page, base) => {
    await page.goto(`${base}/www/`);
    await page.waitForFunction(() => [...document.images].every((i) => i.complete));
    const cards = await page.$$eval('#cards .card-link', (links) => links.map((a) => ({
      id: a.id,
      href: new URL(a.href).pathname,
      title: a.querySelector('h3').textContent,
      art: a.querySelector('img').naturalWidth > 0,
    })));
    assert.ok(cards.length >= 5, `${cards.length} cards`);
    for (const c of cards) {
      assert.equal(c.href, `/www/${c.id.replace(/^demo-/, '')}/`, `${c.id} links to its page`);
      assert.ok(c.art, `${c.id}: its card art loads`);
      const response = await page.request.get(`${base}${c.href}`);
      assert.equal(response.status(), 200, c.href);
      assert.match(await response.text(), new RegExp(`<h1>${c.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), `${c.href} is the page the card names`);
    }
  });
});

test('the gallery links to the Sobel demo, which shows a correct edge map', async () => {
  browserEnv();
  await withPage(async (page, base) => {
    await page.setViewportSize({ width: 1100, height: 900 });
    const response = await page.goto(`${base}/www/`);
    assert.equal(response.status(), 200);
    assert.match(await page.textContent('h1'), /edgewise/);
    const link = page.getByRole('link', { name: /Sobel/ });
    assert.equal(await link.count(), 1, 'one card links to the Sobel demo');
    const css = await page.evaluate(() => getComputedStyle(document.querySelector('.card')).borderRadius);
    assert.notEqual(css, '0px', 'the gallery stylesheet is applied');

    await link.click();
    await page.waitForURL(/\/www\/sobel\/$/);
    await waitForRun(page, 1);
    assert.equal(await page.inputValue('#pattern'), 'square');
    assert.equal(await page.isVisible('#error'), false);

    // The visible text: status, timing, edge count and the model's metadata.
    assert.match(await page.textContent('#status'), /Done.*1×1×64×64.*\d+\.\d+ ms/);
    assert.match(await page.textContent('#run-ms'), /^\d+\.\d+ ms$/);
    assert.match(await page.textContent('#load-ms'), /^\d+(\.\d+)? ms/);
    assert.match(await page.textContent('#runtime'), /edgewise \d+\.\d+\.\d+/);
    const meta = await page.$$eval('#metadata tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
    assert.deepEqual(meta, [
      ['input', 'image', 'float32', '[batch, 1, 64, 64]'],
      ['output', 'edges', 'float32', '[batch, 1, 64, 64]'],
    ]);

    // The pixels: a white square 16..47 on black. Its border is bright, flat regions are dark.
    let canvases = await readCanvases(page);
    assert.equal(px(canvases.input, 32, 32), 255);
    assert.equal(px(canvases.input, 2, 2), 0);
    let want = assertEdgeMap(canvases);
    assert.equal(px(canvases.output, 16, 32), 255, 'left border of the square');
    assert.equal(px(canvases.output, 47, 20), 255, 'right border of the square');
    assert.equal(px(canvases.output, 32, 32), 0, 'inside the square');
    assert.equal(px(canvases.output, 2, 2), 0, 'background');
    assert.equal(await page.textContent('#edge-count'), String(want.filter((v) => v > 127.5).length));
    const shown = await page.$eval('#output', (c) => [c.clientWidth, getComputedStyle(c).imageRendering]);
    assert.deepEqual(shown, [256, 'pixelated'], 'the edge map is scaled up with crisp pixels');

    // Another pattern.
    await page.selectOption('#pattern', 'checkerboard');
    await waitForRun(page, 2);
    canvases = await readCanvases(page);
    want = assertEdgeMap(canvases);
    assert.ok(want.filter((v) => v === 255).length > 500, 'a checkerboard is mostly edges');

    // An uploaded image, wider than tall: centre-cropped, downscaled, a vertical step in the middle.
    await page.setInputFiles('#upload', {
      name: 'step.png',
      mimeType: 'image/png',
      buffer: grayPng(120, 80, (x) => (x < 60 ? 0 : 255)),
    });
    await waitForRun(page, 3);
    assert.equal(await page.textContent('#input-name'), 'step.png');
    canvases = await readCanvases(page);
    assertEdgeMap(canvases);
    assert.equal(px(canvases.input, 8, 32), 0);
    assert.equal(px(canvases.input, 56, 32), 255);
    assert.ok(Math.max(px(canvases.output, 31, 32), px(canvases.output, 32, 32)) > 200, 'the step is an edge');
    assert.equal(px(canvases.output, 8, 32), 0, 'flat black half');
    assert.equal(px(canvases.output, 56, 32), 0, 'flat white half');

    // A file that is not an image: a clear message, and the page recovers.
    await page.setInputFiles('#upload', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    await page.waitForFunction(() => document.body.dataset.state === 'error');
    assert.equal(await page.isVisible('#error'), true);
    assert.match(await page.textContent('#error'), /could not read 'notes\.txt' as an image/);
    await page.selectOption('#pattern', 'text');
    await waitForRun(page, 4);
    assert.equal(await page.isVisible('#error'), false, 'the message goes away after a good run');
    canvases = await readCanvases(page);
    want = assertEdgeMap(canvases);
    assert.ok(want.some((v) => v > 200), 'text has edges');

    await mkdir('tests/artifacts/screenshots', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
