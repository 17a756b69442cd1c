// The packed npm tarball, installed in a fresh directory outside the repository as a user
// would: a five-line script runs a pipeline with no other file, the models subpath resolves
// to the shipped models, and a damaged shipped model is refused by its sha256.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { pipeline } from 'edgewise';

const run = promisify(execFile);
const manifest = JSON.parse(await readFile('onnx/manifest.json', 'utf8'));

const SCRIPT = `import { pipeline } from 'edgewise';
const detect = await pipeline('defect');
const image = { data: new Uint8ClampedArray(64 * 64 * 4).map((_, i) => (i * 37) % 256), width: 64, height: 64 };
const result = await detect(image);
console.log(JSON.stringify({ score: result.score, flagged: result.flagged, pixels: result.heatmap.length }));
`;

test('npm install of the packed tarball, then pipeline() in five lines', { timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-user-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', dir], { maxBuffer: 1 << 26 });
  const [{ filename, files }] = JSON.parse(packed);
  const shipped = files.map((f) => f.path);
  for (const entry of Object.values(manifest.models)) {
    assert.ok(shipped.includes(`pkg/models/${entry.file}`), `the tarball ships pkg/models/${entry.file}`);
  }
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(dir, filename)], { cwd: dir });
  await writeFile(join(dir, 'main.mjs'), SCRIPT);
  assert.equal(SCRIPT.trim().split('\n').length, 5);
  const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: dir });
  const got = JSON.parse(stdout);

  // The same image through the repository's build gives the same result.
  const detect = await pipeline('defect');
  const want = await detect({ data: new Uint8ClampedArray(64 * 64 * 4).map((_, i) => (i * 37) % 256), width: 64, height: 64 });
  assert.deepEqual(got, { score: want.score, flagged: want.flagged, pixels: 64 * 64 });

  // `edgewise/models/<file>` is the shipped model, byte for byte.
  const resolve = `for (const f of ${JSON.stringify(Object.values(manifest.models).map((e) => e.file))}) console.log(import.meta.resolve('edgewise/models/' + f));`;
  await writeFile(join(dir, 'resolve.mjs'), resolve);
  const { stdout: urls } = await run(process.execPath, ['resolve.mjs'], { cwd: dir });
  const entries = Object.values(manifest.models);
  const lines = urls.trim().split('\n');
  assert.equal(lines.length, entries.length);
  for (const [i, u] of lines.entries()) {
    assert.ok(u.startsWith(`file://${dir}/node_modules/edgewise/`), u);
    const bytes = await readFile(new URL(u));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), entries[i].sha256, u);
  }

  // A shipped model that is not the one the package was built with is refused before use.
  const model = join(dir, 'node_modules/edgewise/pkg/models', manifest.models.defect.file);
  const bytes = await readFile(model);
  await writeFile(model, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(run(process.execPath, ['main.mjs'], { cwd: dir }), (e) => {
    assert.match(e.stderr, new RegExp(`pipeline\\('defect'\\): the model's sha256 is [0-9a-f]{64}, expected ${manifest.models.defect.sha256}`));
    return true;
  });
});
