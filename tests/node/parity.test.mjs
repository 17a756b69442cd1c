// The trained models in wasm: the npm package (tract in wasm, in Node) agrees with burn's
// forward pass on the parity cases written by `edgewise-train parity` (cargo xtask test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';

import { InferenceSession, Tensor } from 'edgewise';

const DIR = 'target/parity';
const files = (await readdir(DIR).catch(() => [])).filter((f) => f.endsWith('.json'));

test('parity cases exist for the trained systems', () => {
  assert.ok(files.length > 0, `no parity cases in ${DIR}: run \`edgewise-train parity\``);
});

for (const file of files) {
  const doc = JSON.parse(await readFile(`${DIR}/${file}`, 'utf8'));
  test(`${doc.system}: the wasm package matches burn on ${doc.cases.length} inputs`, async () => {
    const session = await InferenceSession.create(new Uint8Array(await readFile(doc.model)));
    for (const [c, kase] of doc.cases.entries()) {
      const feeds = {};
      for (const a of kase.inputs) {
        feeds[a.name] =
          a.dtype === 'uint32'
            ? new Tensor('uint32', Uint32Array.from(a.data), a.dims)
            : new Tensor('float32', Float32Array.from(a.data), a.dims);
      }
      const out = await session.run(feeds);
      for (const want of kase.outputs) {
        const got = out[want.name];
        assert.ok(got, `output ${want.name}`);
        assert.deepEqual([...got.dims], want.dims, `${want.name} dims`);
        const tol = doc.tolerances[want.name];
        let worst = 0;
        for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]));
        assert.ok(worst <= tol, `case ${c}, ${want.name}: |diff| ${worst} > ${tol}`);
      }
    }
  });
}
