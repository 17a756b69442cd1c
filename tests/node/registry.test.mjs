// The catalogue systems are listed once per layer: the trainer's registry
// (`edgewise-train list`), the package's pipelines (`pipelines()`), the gallery's cards
// (www/index.html) and the browser tests (tests/browser/systems/<id>.test.mjs). The lists must
// name the same systems in the same order, and each system must have every part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

import { pipelines } from 'edgewise';

const TRAINER = 'target/debug/edgewise-train';
/** The ids of the gallery's cards, in page order (`<a … href="/www/<id>/" id="demo-<id>">`). */
const gallery = [...(await readFile('www/index.html', 'utf8')).matchAll(/href="\/www\/([\w-]+)\/" id="demo-([\w-]+)"/g)].map((m) => {
  assert.equal(m[1], m[2], `the card of ${m[1]} links to its own page`);
  return m[1];
});
const manifest = JSON.parse(await readFile('onnx/manifest.json', 'utf8')).models;

function trainerIds() {
  assert.ok(existsSync(TRAINER), `${TRAINER} is missing: cargo build --workspace --bins`);
  return execFileSync(TRAINER, ['list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => l.split('\t')[0]);
}

test('the trainer, the package, the gallery and the browser tests list the same systems', async () => {
  const trained = trainerIds();
  assert.ok(trained.length >= 3, `the trainer lists ${trained.length} systems`);
  assert.deepEqual((await pipelines()).map((p) => p.id), trained, 'pipelines() against edgewise-train list');
  assert.deepEqual(gallery.filter((id) => trained.includes(id)), trained, "the gallery's cards of systems against edgewise-train list");
  for (const id of trained) {
    assert.ok(manifest[id], `onnx/manifest.json has no entry for ${id}`);
    assert.ok(existsSync(`onnx/${manifest[id].file}`), `onnx/${manifest[id].file} is missing`);
    assert.ok(existsSync(`tests/browser/systems/${id}.test.mjs`), `tests/browser/systems/${id}.test.mjs is missing`);
    assert.ok(existsSync(`results/${id}.md`), `results/${id}.md is missing`);
  }
});

test('every gallery card has its page, script and card art, under a unique id', () => {
  assert.ok(gallery.length >= 5, `the gallery has ${gallery.length} cards`);
  assert.equal(new Set(gallery).size, gallery.length, `duplicate cards in www/index.html: ${gallery}`);
  for (const id of gallery) {
    for (const file of ['index.html', 'main.js', 'card.svg']) {
      assert.ok(existsSync(`www/${id}/${file}`), `www/${id}/${file} is missing`);
    }
  }
});
