// The package in Bun (npm `bun`): tests/hosts/bun/host.mjs against the same work in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { assertAgree, expected } from '../expected.mjs';

const run = promisify(execFile);

test('Bun runs a session and a pipeline as Node does', { timeout: 120_000 }, async () => {
  const { stdout } = await run('node_modules/.bin/bun', ['tests/hosts/bun/host.mjs'], { maxBuffer: 1 << 24 });
  const got = JSON.parse(stdout);
  assert.match(got.runtime, /^bun \d+\.\d+/);
  assertAgree(got, await expected('grid', 'hole', 5));
});
