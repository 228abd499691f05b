// The JS API (js/pool.mjs) in Node with real worker threads, each loading
// Pyodide from node_modules and our wheel. Streams are made and read by the
// toolchain's CPython (python3), which needs neither webpickle nor Pyodide.
//
//   bash wasm/toolchain.sh run node --test tests/workers/test_js_node.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { WorkerPool } from "../../js/pool.mjs";
import { forgetSnapshotsInMemory } from "../../js/snapshot.mjs";
import { findWheel, projectRoot } from "../harness/pyodide_node.mjs";
import { pyodideWithoutSnapshots } from "./pyodide_without_snapshots.mjs";

const python = (code, input) => execFileSync("python3", ["-c", code], { input });
const stream = (expr) => new Uint8Array(python(`import pickle, sys, operator\nsys.stdout.buffer.write(pickle.dumps(${expr}, protocol=5))`));
const load = (bytes) => python("import pickle, sys\nprint(repr(pickle.loads(sys.stdin.buffer.read())))", Buffer.from(bytes)).toString().trim();

const PYODIDE = path.join(projectRoot, "node_modules/pyodide/");
let pool, wheelURL;
const ready = [];
const extraPools = [];
const startPool = async (options) => {
  const started = await WorkerPool.start({ size: 1, indexURL: PYODIDE, wheelURL, ...options });
  extraPools.push(started);
  return started;
};

before(async () => {
  wheelURL = findWheel();
  pool = await WorkerPool.start({
    // A long grace period: on a starved machine an interrupted task can take
    // over a second to answer, and these tests check that no worker is replaced.
    size: 2, indexURL: PYODIDE, wheelURL, snapshotCache: false, interruptGrace: 30_000,
    onWorkerReady: (info) => ready.push(info),
  });
});

after(() => {
  pool?.terminate();
  for (const other of extraPools) other.terminate();
});

test("workers report readiness and run a stream's function", { timeout: 120_000 }, async () => {
  assert.deepEqual(ready.map((r) => r.index).sort(), [0, 1]);
  const reply = await pool.call(stream("(pow, (2, 10), {})"));
  assert.equal(reply.raised, false);
  assert.equal(load(reply.payload), "1024");
});

test("the task's exception comes back as (exception, traceback text, frames)", { timeout: 120_000 }, async () => {
  const reply = await pool.call(stream("(operator.truediv, (1, 0), {})"));
  assert.equal(reply.raised, true);
  const [exception, text] = JSON.parse(python(
    "import json, pickle, sys\ne, tb, _ = pickle.loads(sys.stdin.buffer.read())\nprint(json.dumps([repr(e), tb]))",
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

test("the Pyodide in the lock file offers snapshots: the first worker made one, the second restored it", () => {
  const locked = JSON.parse(fs.readFileSync(path.join(projectRoot, "package-lock.json"), "utf8")).packages["node_modules/pyodide"].version;
  const installed = JSON.parse(fs.readFileSync(path.join(PYODIDE, "package.json"), "utf8")).version;
  assert.equal(installed, locked, "node_modules/pyodide is not the locked version: run npm ci");
  const { snapshot, workers } = pool.stats;
  assert.equal(snapshot.use, "made", `Pyodide ${locked} no longer offers memory snapshots (${snapshot.reason}): ` +
    "see js/snapshot.mjs for the private options it relies on");
  // With two cores or more the second worker boots beside the first; with one it waits and restores.
  const second = navigator.hardwareConcurrency >= 2 ? "not used" : "restored";
  assert.deepEqual(workers.map((w) => w.snapshot), ["made", second]);
  if (second === "not used") assert.match(workers[1].reason, /booted beside the worker making the snapshot/);
  assert.ok(snapshot.bytes > 1 << 20);
  assert.deepEqual(ready.map((r) => r.startup.snapshot).sort(), ["made", second].sort());
});

test("a CPU loop past its timeout is interrupted; the same worker serves the next task", { timeout: 120_000 }, async () => {
  const before = ready.length;
  const loop = stream("(exec, ('while True: pass',), {})");
  await assert.rejects(pool.call(loop, { timeout: 300 }), { name: "TimeoutError", message: /interrupted/ });
  assert.equal(load((await pool.call(stream("(abs, (-4,), {})"))).payload), "4");
  const controller = new AbortController();
  const running = pool.call(loop, { signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(running, { name: "AbortError" });
  const [a, b] = await Promise.all([pool.call(stream("(abs, (-5,), {})")), pool.call(stream("(abs, (-6,), {})"))]);
  assert.deepEqual([load(a.payload), load(b.payload)], ["5", "6"]);
  assert.equal(ready.length, before, "no worker was replaced");
});

test("interrupts arriving as tasks end reach no later task", { timeout: 120_000 }, async () => {
  // Tasks that end close to their timeout: some finish, some are interrupted;
  // each is followed by a task that must never see a KeyboardInterrupt.
  const before = ready.length;
  const outcomes = { finished: 0, timedOut: 0 };
  for (let i = 0; i < 20; i++) {
    const spin = stream(`(exec, ('import time\\nend = time.perf_counter() + 0.03\\nwhile time.perf_counter() < end: pass',), {})`);
    await pool.call(spin, { timeout: 28 + (i % 5) }).then(() => outcomes.finished++, (e) => {
      assert.equal(e.name, "TimeoutError");
      outcomes.timedOut++;
    });
    const reply = await pool.call(stream("(sum, (range(100000),), {})"));
    assert.equal(reply.raised, false, "a later task was interrupted");
    assert.equal(load(reply.payload), "4999950000");
  }
  assert.equal(ready.length, before, "no worker was replaced");
  assert.ok(outcomes.timedOut > 0, JSON.stringify(outcomes));
});

test("a task stuck in C code past the grace period costs its worker, replaced from the snapshot", { timeout: 120_000 }, async () => {
  const replaced = [];
  const small = await startPool({ interruptGrace: 200, onWorkerReady: (info) => replaced.push(info) });
  // One C call that never checks for signals (sum over itertools.repeat), for seconds.
  const stuck = stream("(eval, ('sum(__import__(\"itertools\").repeat(1, 2 * 10**9))',), {})");
  await assert.rejects(small.call(stuck, { timeout: 100 }), { name: "TimeoutError" });
  assert.equal(load((await small.call(stream("(abs, (-7,), {})"))).payload), "7");
  assert.equal(replaced.length, 2, "the stuck worker was replaced");
  assert.equal(replaced[1].startup.snapshot, "restored");
});

test("eight workers restored from one snapshot draw different random numbers", { timeout: 180_000 }, async () => {
  const eight = await startPool({ size: 8 });
  assert.ok(eight.stats.workers.every((w) => w.snapshot === "restored"), JSON.stringify(eight.stats.workers));
  // Eight idle workers and eight calls: each worker gets one, its first draw since it started.
  const draw = stream("(eval, ('(__import__(\"random\").random(), __import__(\"os\").urandom(8), __import__(\"secrets\").token_hex(8))',), {})");
  const replies = await Promise.all(Array.from({ length: 8 }, () => eight.call(draw)));
  assert.ok(replies.every((r) => !r.raised), "os.urandom and secrets work");
  const numbers = replies.map((r) => load(r.payload));
  assert.equal(new Set(numbers).size, numbers.length, `workers drew the same numbers: ${numbers}`);
});

test("a Pyodide without the snapshot options: workers start as before and the stats say why", { timeout: 120_000 }, async () => {
  const folder = pyodideWithoutSnapshots(PYODIDE);
  try {
    const plain = await startPool({ size: 2, indexURL: folder });
    assert.equal(plain.stats.snapshot.use, "not used");
    assert.match(plain.stats.snapshot.reason, /no snapshot could be made: this Pyodide has no makeMemorySnapshot\(\)/);
    assert.deepEqual(plain.stats.workers.map((w) => w.snapshot), ["not used", "not used"]);
    assert.equal(load((await plain.call(stream("(abs, (-4,), {})"))).payload), "4");
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test("a cache directory keeps the snapshot for the next process; a corrupt entry is made again", { timeout: 180_000 }, async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-snapshot-cache-"));
  const entry = () => fs.readdirSync(folder).find((f) => f.endsWith(".bin"));
  try {
    forgetSnapshotsInMemory(); // as in a new process
    const first = await startPool({ snapshotCache: folder });
    assert.equal(first.stats.snapshot.use, "made");
    while (!entry()) await new Promise((r) => setTimeout(r, 20));
    forgetSnapshotsInMemory();
    const cached = await startPool({ snapshotCache: folder });
    assert.equal(cached.stats.snapshot.use, "from cache");
    assert.equal(load((await cached.call(stream("(abs, (-8,), {})"))).payload), "8");
    const file = path.join(folder, entry());
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    fs.writeFileSync(file, bytes);
    forgetSnapshotsInMemory();
    const rebuilt = await startPool({ snapshotCache: folder });
    assert.equal(rebuilt.stats.snapshot.use, "made", "a corrupt entry is never loaded");
    // The snapshot made again replaces the corrupt entry (waited for, so that the folder is not
    // removed under the write).
    const replaced = () => !fs.readdirSync(folder).some((f) => f.endsWith(".partial")) &&
      entry() !== undefined && !fs.readFileSync(path.join(folder, entry())).equals(bytes);
    while (!replaced()) await new Promise((r) => setTimeout(r, 20));
  } finally {
    forgetSnapshotsInMemory();
    fs.rmSync(folder, { recursive: true, force: true });
  }
});
