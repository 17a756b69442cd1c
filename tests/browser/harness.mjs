// Shared by the browser tests: the server and Chromium from the environment, a page that
// records console and page errors, an independent Sobel reference, and PNG files to upload.
import assert from 'node:assert/strict';
import { deflateSync, crc32 } from 'node:zlib';
import { chromium } from 'playwright-core';

/** The test server's base URL and Chromium's flags; throws when they are not set. */
export function browserEnv() {
  const base = process.env.EDGEWISE_BASE_URL;
  const args = process.env.EDGEWISE_CHROMIUM_ARGS;
  if (!base || !args) {
    throw new Error(
      'browser tests need EDGEWISE_BASE_URL (the server of `cargo xtask demo`) and ' +
        'EDGEWISE_CHROMIUM_ARGS (space-separated Chromium flags); run them through `cargo xtask test`',
    );
  }
  return { base: base.replace(/\/+$/, ''), args: args.split(' ').filter(Boolean) };
}

/**
 * Opens a fresh browser page, runs `body(page, base)`, then fails on any console error or
 * page error that no pattern in `allow` matches.
 */
export async function withPage(body, { allow = [] } = {}) {
  const { base, args } = browserEnv();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
  const problems = [];
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const onConsole = (where) => (msg) => {
      if (msg.type() === 'error') problems.push(`${where} console error: ${msg.text()} (${msg.location()?.url ?? ''})`);
    };
    page.on('console', onConsole('page'));
    page.on('worker', (worker) => worker.on('console', onConsole('worker')));
    page.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e}`));
    page.on('crash', () => problems.push('page crashed'));
    await body(page, base);
    const unexpected = problems.filter((p) => !allow.some((re) => re.test(p)));
    assert.deepEqual(unexpected, [], 'unexpected errors in the page');
  } finally {
    await browser.close();
  }
}

/** Waits until `#result` holds JSON (not the placeholder) and returns it parsed. */
export async function readResult(page, timeout = 60_000) {
  const handle = await page.waitForFunction(
    () => {
      const text = document.getElementById('result')?.textContent ?? '';
      return text.trim().startsWith('{') ? text : false;
    },
    undefined,
    { timeout },
  );
  return JSON.parse(await handle.jsonValue());
}

/** clip(sqrt(gx² + gy²) / 4, 0, 1) with 3×3 Sobel kernels and zero padding. */
export function sobelReference(image, size = 64) {
  const at = (x, y) => (x < 0 || y < 0 || x >= size || y >= size ? 0 : image[y * size + x]);
  const out = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      out[y * size + x] = Math.min(1, Math.max(0, Math.sqrt(gx * gx + gy * gy) / 4));
    }
  }
  return out;
}

/** Asserts that `edges` matches the reference for `image` within `tol` everywhere. */
export function assertSobel(edges, image, tol = 1e-5) {
  assert.equal(edges.length, image.length);
  const want = sobelReference(image);
  let worst = 0;
  let where = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(edges[i] - want[i]);
    if (d > worst) [worst, where] = [d, i];
  }
  assert.ok(worst <= tol, `edge map differs from the reference by ${worst} at pixel ${where} (x=${where % 64}, y=${Math.floor(where / 64)})`);
  return want;
}

/** An 8-bit grayscale PNG whose pixel (x, y) is `value(x, y)`. */
export function grayPng(width, height, value) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, grayscale, deflate, no filter, no interlace
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows[y * (width + 1) + 1 + x] = value(x, y);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}
