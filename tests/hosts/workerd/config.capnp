# A Cloudflare Worker in workerd: the edgewise package as the worker's own modules, its wasm
# as a precompiled module binding (workerd, like Cloudflare, compiles no wasm from bytes at
# run time), the models as data modules. Run by tests/node/workerd.test.mjs from the repo root
# (`workerd serve tests/hosts/workerd/config.capnp --socket-addr http=127.0.0.1:PORT`).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "edgewise/index.js", esModule = embed "../../../pkg/index.js"),
    (name = "edgewise/load.js", esModule = embed "../../../pkg/load.js"),
    (name = "edgewise/source.js", esModule = embed "../../../pkg/source.js"),
    (name = "edgewise/pipeline.js", esModule = embed "../../../pkg/pipeline.js"),
    (name = "edgewise/tasks.js", esModule = embed "../../../pkg/tasks.js"),
    (name = "edgewise/wasm/edgewise.js", esModule = embed "../../../pkg/wasm/edgewise.js"),
    (name = "edgewise/wasm/edgewise_bg.wasm", wasm = embed "../../../pkg/wasm/edgewise_bg.wasm"),
    (name = "models/defect.onnx", data = embed "../../../pkg/models/defect.onnx"),
    (name = "models/sobel.onnx", data = embed "../../../pkg/models/sobel.onnx"),
  ],
  compatibilityDate = "2026-11-01",
);
