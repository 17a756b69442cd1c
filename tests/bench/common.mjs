// Shared by the bench modules: paths, the model list, the tolerance, the package under test,
// and logging.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MODELS = [
  'squeezenet',
  'shufflenet',
  'resnet50',
  'densenet121',
  'inception_v1',
  'inception_v2',
  'vgg19',
  'bvlc_alexnet',
  'zfnet512',
];
export const REL_TOLERANCE = 1e-3;
/** The edgewise package under test: `pkg/`, or a directory laid out like it (--edgewise-pkg). */
export let EDGEWISE_PKG = path.join(ROOT, 'pkg');

export function setEdgewisePkg(dir) {
  EDGEWISE_PKG = dir;
}

export const PYTHON = path.join(ROOT, '.venv/bin/python');

export function ortDir() {
  // The package's exports hide package.json; its Node entry lies in dist/.
  return path.resolve(path.dirname(fileURLToPath(import.meta.resolve('onnxruntime-web'))), '..');
}

export function log(msg) {
  process.stderr.write(`${msg}\n`);
}

export function fmt(ms) {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}
