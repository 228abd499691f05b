// The JS API (js/pool.mjs) in Node with real worker threads, each loading
// Pyodide from node_modules and our wheel. Streams are made and read by the
// toolchain's CPython (python3), which needs neither webpickle nor Pyodide.
//
//   bash wasm/toolchain.sh run node --test tests/workers/test_js_node.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { WorkerPool } from "../../js/pool.mjs";
import { findWheel, projectRoot } from "../pyodide/pyodide_node.mjs";

const python = (code, input) => execFileSync("python3", ["-c", code], { input });
const stream = (expr) => new Uint8Array(python(`import pickle, sys, operator\nsys.stdout.buffer.write(pickle.dumps(${expr}, protocol=5))`));
const load = (bytes) => python("import pickle, sys\nprint(repr(pickle.loads(sys.stdin.buffer.read())))", Buffer.from(bytes)).toString().trim();

let pool;
const ready = [];

before(async () => {
  pool = await WorkerPool.start({
    size: 2, indexURL: path.join(projectRoot, "node_modules/pyodide/"), wheelURL: findWheel(),
    onWorkerReady: (info) => ready.push(info),
  });
});

after(() => pool?.terminate());

test("workers report readiness and run a stream's function", { timeout: 120_000 }, async () => {
  assert.deepEqual(ready.map((r) => r.index).sort(), [0, 1]);
  const reply = await pool.call(stream("(pow, (2, 10), {})"));
  assert.equal(reply.raised, false);
  assert.equal(load(reply.payload), "1024");
});

test("the task's exception comes back as (exception, traceback text)", { timeout: 120_000 }, async () => {
  const reply = await pool.call(stream("(operator.truediv, (1, 0), {})"));
  assert.equal(reply.raised, true);
  const [exception, text] = JSON.parse(python(
    "import json, pickle, sys\ne, tb = pickle.loads(sys.stdin.buffer.read())\nprint(json.dumps([repr(e), tb]))",
    Buffer.from(reply.payload)).toString());
  assert.equal(exception, "ZeroDivisionError('division by zero')");
  // A builtin raised it: no Python frames (the worker's own frame is left out).
  assert.equal(text, "ZeroDivisionError: division by zero\n");
});

test("out-of-band buffers are transferred both ways", { timeout: 120_000 }, async () => {
  // bytes(buffer): the argument arrives out of band; the function copies it into a bytes result.
  const payload = python("import pickle, sys\nsys.stdout.buffer.write(pickle.dumps((bytes, (pickle.PickleBuffer(bytearray(b'abc')),), {}), protocol=5, buffer_callback=lambda b: False))");
  const buffer = new TextEncoder().encode("xyz").buffer;
  const reply = await pool.call(new Uint8Array(payload), { buffers: [buffer] });
  assert.equal(buffer.byteLength, 0, "transferred: detached here");
  assert.equal(load(reply.payload), "b'xyz'");
});

test("a CPU loop times out; the pool goes on", { timeout: 120_000 }, async () => {
  const loop = stream("(exec, ('while True: pass',), {})");
  await assert.rejects(pool.call(loop, { timeout: 500 }), { name: "TimeoutError" });
  assert.equal(load((await pool.call(stream("(abs, (-4,), {})"))).payload), "4");
});
