// Unit tests of pool.mjs and protocol.mjs: the pool's logic against fake
// workers over MessageChannels (fake_worker.mjs), no Pyodide needed.
//
//   bash wasm/toolchain.sh run node --test js/test/
//
// The real workers are tested in tests/workers/ (Node and Chromium).

import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WorkerPool } from "../pool.mjs";
import { ErrorName, MessageType, errorFromWire, errorToWire, transferList } from "../protocol.mjs";
import { forgetSnapshotsInMemory, planForWorker, unpack } from "../snapshot.mjs";
import { bytes, fakeWorkers, text } from "./fake_worker.mjs";

const OPTIONS = { indexURL: "/pyodide/", workerURL: "fake-worker.mjs" };
// Snapshot tests need real Pyodide files to key their snapshot by (the workers are still fakes).
const PYODIDE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../node_modules/pyodide/");

// Every pool is terminated after its test, even a failed one: open
// MessagePorts would keep Node running.
const pools = [];
afterEach(() => { for (const pool of pools.splice(0)) pool.terminate(); });
const track = (pool) => { pools.push(pool); return pool; };

async function startPool(options = {}, fakes = fakeWorkers()) {
  const pool = track(await WorkerPool.start({ ...OPTIONS, size: 2, spawn: fakes.spawn, ...options }));
  return { pool, fakes };
}

/** Wait for `predicate()` (a state another party changes), failing with `what` after `ms`. */
async function until(predicate, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** "pending" or "settled": a settled promise's reactions run before setImmediate's callback. */
const promiseState = (promise) => Promise.race([
  promise.then(() => "settled", () => "settled"),
  new Promise((resolve) => setImmediate(() => resolve("pending"))),
]);

const rejectsWith = (promise, name) => assert.rejects(promise, (error) => {
  assert.ok(error instanceof Error);
  assert.equal(error.name, name, `expected ${name}, got ${error.name}: ${error.message}`);
  assert.equal(typeof error.message, "string");
  assert.equal(typeof error.stack, "string");
  return true;
});

test("protocol: message types are distinct strings; errors travel as {name, message, stack}", () => {
  const types = Object.values(MessageType);
  assert.equal(new Set(types).size, types.length);
  for (const type of types) assert.equal(typeof type, "string");
  const wire = errorToWire(new TypeError("bad"));
  assert.deepEqual(Object.keys(wire).sort(), ["message", "name", "stack"]);
  const back = errorFromWire(wire);
  assert.equal(back.name, "TypeError");
  assert.equal(back.message, "bad");
  assert.equal(back.stack, wire.stack);
  assert.deepEqual(errorToWire("text"), { name: "Error", message: "text", stack: "" });
});

test("protocol: transferList names each ArrayBuffer once", () => {
  const a = new ArrayBuffer(8);
  const list = transferList([new Uint8Array(a, 0, 4), new Uint8Array(a, 4), new Uint8Array(2)]);
  assert.equal(list.length, 2);
  assert.equal(list[0], a);
});

test("start: workers start in parallel and each reports when it is ready", async () => {
  const ready = [];
  const fakes = fakeWorkers({ readyDelayMs: 20 });
  const { pool } = await startPool({ size: 3, onWorkerReady: (info) => ready.push(info) }, fakes);
  assert.equal(fakes.spawned.length, 3);
  assert.deepEqual(ready.map((r) => r.index).sort(), [0, 1, 2]);
  for (const info of ready) assert.equal(typeof info.ms, "number");
  assert.deepEqual(pool.workers.map((w) => w.state), ["idle", "idle", "idle"]);
  const init = fakes.spawned[0].received[0];
  assert.equal(init.type, MessageType.INIT);
  assert.equal(typeof init.id, "number");
  assert.equal(init.indexURL, "/pyodide/");
  pool.terminate();
});

test("start: `ready` waits for every first worker, not for a replacement", async () => {
  let startSecond;
  const secondStarts = new Promise((resolve) => { startSecond = resolve; });
  const fakes = fakeWorkers({ startWith: (i) => (i === 1 ? secondStarts : "ready") });
  const readied = [];
  const pool = track(new WorkerPool({ ...OPTIONS, size: 2, spawn: fakes.spawn, onWorkerReady: (info) => readied.push(info.index) }));
  await rejectsWith(pool.call(bytes("crash")), ErrorName.CRASHED); // worker 0 dies and is replaced
  await until(() => readied.length === 2, "the replacement of worker 0 getting ready");
  assert.deepEqual(readied, [0, 0], "worker 0, then its replacement");
  assert.equal(fakes.spawned.length, 3);
  assert.equal(await promiseState(pool.ready), "pending", "worker 1 is still starting");
  startSecond();
  await pool.ready;
  assert.deepEqual(readied, [0, 0, 1]);
});

test("call: the reply comes back and the buffers are transferred, not copied", async () => {
  const { pool } = await startPool();
  const buffer = new ArrayBuffer(16);
  const view = new Uint8Array(32);
  const reply = await pool.call(bytes("echo:hi"), { buffers: [buffer, view] });
  assert.equal(text(reply.payload), "hi|16,32");
  assert.equal(reply.raised, false);
  assert.deepEqual(reply.buffers.map((b) => b.byteLength), [16, 32]);
  assert.equal(buffer.byteLength, 0, "the sender's ArrayBuffer must be detached (transferred)");
  assert.equal(view.byteLength, 0);
  const raised = await pool.call(bytes("raise"));
  assert.equal(raised.raised, true);
  pool.terminate();
});

test("queue: tasks wait for a free worker and each worker runs one at a time", async () => {
  const { pool, fakes } = await startPool({ size: 2 });
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.call(bytes(`echo:${i}`))));
  assert.deepEqual(replies.map((r) => text(r.payload)), Array.from({ length: 20 }, (_, i) => `${i}|`));
  for (const fake of fakes.spawned) assert.equal(fake.maxRunning, 1);
  assert.equal(pool.queued, 0);
  pool.terminate();
});

test("timeout: the task fails with TimeoutError, its worker is replaced, the others go on", async () => {
  const { pool, fakes } = await startPool({ size: 2, interruptGrace: 0 }); // no interrupt: replaced at once
  const hung = pool.call(bytes("hang"), { timeout: 50 });
  const others = Array.from({ length: 6 }, (_, i) => pool.call(bytes(`echo:${i}`)));
  await rejectsWith(hung, ErrorName.TIMEOUT);
  assert.equal((await Promise.all(others)).length, 6);
  assert.equal(fakes.spawned.length, 3, "one replacement worker");
  assert.ok(fakes.spawned[0].terminated);
  await pool.ready;
  // The replacement serves tasks too.
  await until(() => pool.workers.every((w) => w.state === "idle"), "the replacement worker getting ready");
  const many = await Promise.all(Array.from({ length: 10 }, () => pool.call(bytes("echo:x"))));
  assert.equal(many.length, 10);
  assert.ok(fakes.spawned[2].received.some((m) => m.type === MessageType.CALL));
  pool.terminate();
});

test("crash: a dead runtime or an uncaught error fails only its task; the worker is replaced", async () => {
  const errors = [];
  const { pool, fakes } = await startPool({ size: 1, onWorkerError: (e) => errors.push(e) });
  await rejectsWith(pool.call(bytes("crash")), ErrorName.CRASHED);
  assert.equal(text((await pool.call(bytes("echo:after"))).payload), "after|");
  await rejectsWith(pool.call(bytes("throw")), ErrorName.CRASHED);
  assert.equal(text((await pool.call(bytes("echo:again"))).payload), "again|");
  assert.equal(fakes.spawned.length, 3);
  assert.equal(errors.length, 2);
  await rejectsWith(pool.call(bytes("fail")), ErrorName.CALL); // the worker survives this one
  assert.equal(fakes.spawned.length, 3);
  pool.terminate();
});

test("abort: a queued task is removed; a running one stops its worker", async () => {
  const { pool, fakes } = await startPool({ size: 1, interruptGrace: 0 });
  const running = new AbortController();
  const queued = new AbortController();
  const first = pool.call(bytes("hang"), { signal: running.signal });
  const second = pool.call(bytes("echo:never"), { signal: queued.signal });
  const third = pool.call(bytes("echo:third"));
  queued.abort();
  await rejectsWith(second, ErrorName.ABORT);
  assert.equal(pool.queued, 1);
  running.abort();
  await rejectsWith(first, ErrorName.ABORT);
  assert.equal(text((await third).payload), "third|");
  const payloads = fakes.spawned.flatMap((f) => f.received).filter((m) => m.type === MessageType.CALL)
    .map((m) => text(m.payload));
  assert.ok(!payloads.includes("echo:never"), "an aborted queued task never reaches a worker");
  await rejectsWith(pool.call(bytes("echo:x"), { signal: AbortSignal.abort() }), ErrorName.ABORT);
  pool.terminate();
});

test("start failure: start() rejects; with no worker left, queued calls are rejected too", async () => {
  await rejectsWith(startPool({}, fakeWorkers({ startWith: () => "fail" })), ErrorName.START);
  const fakes = fakeWorkers({ startWith: () => "fail" });
  const pool = track(new WorkerPool({ ...OPTIONS, size: 2, spawn: fakes.spawn }));
  const queued = pool.call(bytes("echo:x"));
  await rejectsWith(pool.ready, ErrorName.START);
  await rejectsWith(queued, ErrorName.START);
  await rejectsWith(pool.call(bytes("echo:y")), ErrorName.START);
  pool.terminate();
  // One bad worker out of two: the pool reports it but the other one works.
  const mixed = track(new WorkerPool({ ...OPTIONS, size: 2, spawn: fakeWorkers({ startWith: (i) => (i === 0 ? "fail" : "ready") }).spawn }));
  await rejectsWith(mixed.ready, ErrorName.START);
  assert.equal(text((await mixed.call(bytes("echo:ok"))).payload), "ok|");
  mixed.terminate();
});

test("terminate: every queued and running call ends with PoolTerminatedError", async () => {
  const { pool } = await startPool({ size: 1 });
  const calls = [pool.call(bytes("hang")), pool.call(bytes("echo:a")), pool.call(bytes("echo:b"))];
  pool.terminate();
  for (const call of calls) await rejectsWith(call, ErrorName.TERMINATED);
  await rejectsWith(pool.call(bytes("echo:c")), ErrorName.TERMINATED);
  const starting = track(new WorkerPool({ ...OPTIONS, size: 1, spawn: fakeWorkers({ startWith: () => "silent" }).spawn }));
  starting.terminate();
  await rejectsWith(starting.ready, ErrorName.TERMINATED);
});

test("buffers: detached buffers are refused without harming the pool", async () => {
  const { pool } = await startPool({ size: 1 });
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] }); // detach it
  await assert.rejects(pool.call(bytes("echo:x"), { buffers: [buffer] }), /buffers\[0\] is detached/);
  await assert.rejects(pool.call(bytes("echo:x"), { buffers: ["nope"] }), TypeError);
  await assert.rejects(pool.call("not bytes"), TypeError);
  assert.equal(text((await pool.call(bytes("echo:fine"))).payload), "fine|");
  pool.terminate();
});

test("spares: buffers sent home by the worker are reused by takeBuffer()", async () => {
  const { pool } = await startPool({ size: 1 });
  const size = 2 << 20;
  const first = pool.takeBuffer(size);
  assert.equal(first.byteLength, size);
  const reply = await pool.call(bytes("echo:big"), { buffers: [first] });
  assert.equal(first.byteLength, 0);
  const reused = pool.takeBuffer(size);
  assert.equal(reused.byteLength, size);
  const fresh = pool.takeBuffer(size);
  assert.notEqual(fresh.buffer, reused.buffer, "a spare is handed out once");
  pool.recycle(reply.buffers);
  assert.equal(pool.takeBuffer(size).buffer, reply.buffers[0].buffer);
  assert.equal(pool.takeBuffer(100).byteLength, 100);
  pool.terminate();
  const none = await startPool({ size: 1, spareBytes: 0 });
  const given = new Uint8Array(size);
  none.pool.recycle([given]);
  const taken = none.pool.takeBuffer(size);
  assert.equal(taken.byteLength, size);
  assert.notEqual(taken.buffer, given.buffer, "spareBytes: 0 keeps no spare");
  none.pool.terminate();
});

test("nothing is lost: 1,000 calls with timeouts and crashes mixed in all end", async () => {
  const { pool } = await startPool({ size: 3, interruptGrace: 10 }); // hung tasks are interrupted, then replaced
  const kinds = ["echo:ok", "echo:ok", "echo:ok", "crash", "hang", "raise", "fail", "throw"];
  const calls = Array.from({ length: 1000 }, (_, i) => {
    const kind = kinds[(i * 7) % kinds.length];
    return pool.call(bytes(kind), { timeout: kind === "hang" ? 5 : undefined });
  });
  const outcomes = await Promise.allSettled(calls);
  assert.equal(outcomes.length, 1000);
  const ok = outcomes.filter((o) => o.status === "fulfilled").length;
  const names = new Set(outcomes.filter((o) => o.status === "rejected").map((o) => o.reason.name));
  assert.equal(ok, 1000 * 4 / 8);
  assert.deepEqual([...names].sort(), [ErrorName.CALL, ErrorName.TIMEOUT, ErrorName.CRASHED].sort());
  pool.terminate();
});

test("options are checked with messages that say what to do", () => {
  assert.throws(() => new WorkerPool({ size: 1 }), /indexURL is required/);
  assert.throws(() => new WorkerPool({ ...OPTIONS, size: 0 }), /size must be a positive integer/);
});

// -- interrupts (Node has SharedArrayBuffer, so every worker gets a buffer) ---

test("interrupt: a task past its timeout is interrupted and its worker serves the next task", async () => {
  const { pool, fakes } = await startPool({ size: 1 });
  assert.equal(pool.stats.interrupt.available, true);
  await rejectsWith(pool.call(bytes("loop"), { timeout: 20 }), ErrorName.TIMEOUT);
  assert.equal(text((await pool.call(bytes("echo:next"))).payload), "next|");
  assert.equal(fakes.spawned.length, 1, "no replacement");
  assert.equal(fakes.spawned[0].interrupts, 1);
  assert.ok(fakes.spawned[0].received.some((m) => m.type === MessageType.STOP), "STOP sent for coroutine tasks");
});

test("interrupt: aborting a running task interrupts it and keeps its worker", async () => {
  const { pool, fakes } = await startPool({ size: 1 });
  const controller = new AbortController();
  const running = pool.call(bytes("loop"), { signal: controller.signal });
  await until(() => fakes.spawned[0].running === 1, "the worker starting the task");
  controller.abort();
  await rejectsWith(running, ErrorName.ABORT);
  assert.equal(text((await pool.call(bytes("echo:next"))).payload), "next|");
  assert.equal(fakes.spawned.length, 1);
  assert.equal(fakes.spawned[0].interrupts, 1);
});

test("interrupt: an interrupt arriving as the task ends reaches no later task", async () => {
  const { pool, fakes } = await startPool({ size: 1 });
  // "late" finishes after 30 ms whatever happens: the interrupt at 25 ms finds it ending.
  await rejectsWith(pool.call(bytes("late"), { timeout: 25 }), ErrorName.TIMEOUT);
  // Were the interrupt left in the buffer, this loop would stop at once and reply.
  await rejectsWith(pool.call(bytes("loop"), { timeout: 60 }), ErrorName.TIMEOUT);
  assert.equal(fakes.spawned.length, 1);
  assert.equal(text((await pool.call(bytes("echo:next"))).payload), "next|");
});

test("interrupt: a task that does not stop within the grace period costs its worker", async () => {
  const errors = [];
  const { pool, fakes } = await startPool({ size: 1, interruptGrace: 30, onWorkerError: (e) => errors.push(e) });
  const hung = pool.call(bytes("hang"), { timeout: 10 });
  const next = pool.call(bytes("echo:next"));
  await rejectsWith(hung, ErrorName.TIMEOUT);
  assert.equal(pool.workers[0].state, "stopping");
  assert.equal(text((await next).payload), "next|");
  assert.equal(fakes.spawned.length, 2, "replaced after the grace period");
  assert.match(errors[0].error.message, /did not stop within 30 ms/);
  assert.throws(() => new WorkerPool({ ...OPTIONS, interruptGrace: -1 }), /interruptGrace must be/);
});

// -- snapshots ----------------------------------------------------------------

test("snapshot: the first worker makes it while the others wait; they and a second pool restore it", async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-snap-"));
  forgetSnapshotsInMemory();
  try {
    const options = { indexURL: PYODIDE, snapshotCache: false };
    // One worker per core boots (the first makes the snapshot); the rest wait for it and restore it.
    const cores = navigator.hardwareConcurrency;
    const { pool, fakes } = await startPool({ ...options, size: cores + 2 }, fakeWorkers({ snapshotWith: () => "bytes-1" }));
    const inits = fakes.spawned.map((f) => f.plan);
    assert.equal(inits[0].mode, "make");
    assert.deepEqual(inits.slice(1, cores).map((p) => p.mode), Array(cores - 1).fill("none"));
    assert.deepEqual(inits.slice(cores).map((p) => [p.mode, text(p.bytes), p.use]), [["restore", "bytes-1", "restored"], ["restore", "bytes-1", "restored"]]);
    assert.deepEqual(pool.stats.workers.map((w) => w.snapshot),
      ["made", ...Array(cores - 1).fill("not used"), "restored", "restored"]);
    assert.equal(pool.stats.snapshot.use, "made");
    const second = await startPool({ ...options, size: 2 }, fakeWorkers({ snapshotWith: () => "never made" }));
    assert.deepEqual(second.fakes.spawned.map((f) => f.plan.mode), ["restore", "restore"]);
    assert.equal(second.pool.stats.snapshot.use, "restored");
    // A replacement restores it too.
    await rejectsWith(second.pool.call(bytes("crash")), ErrorName.CRASHED);
    await until(() => second.fakes.spawned[2]?.received.length, "the replacement worker's INIT");
    assert.equal(second.fakes.spawned[2].plan.mode, "restore");
  } finally {
    forgetSnapshotsInMemory();
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test("snapshot: every worker's INIT carries the pool's one copy in shared memory, not a copy each", async () => {
  forgetSnapshotsInMemory();
  try {
    const cores = navigator.hardwareConcurrency;
    const { fakes } = await startPool({ indexURL: PYODIDE, snapshotCache: false, size: cores + 2 },
      fakeWorkers({ snapshotWith: () => "shared" }));
    const restores = fakes.spawned.map((f) => f.plan).filter((p) => p.mode === "restore");
    assert.equal(restores.length, 2);
    assert.ok(restores.every((p) => p.bytes.buffer instanceof SharedArrayBuffer), "the snapshot is in shared memory");
    restores[0].bytes[0] = "S".charCodeAt(0);
    assert.equal(text(restores[1].bytes), "Shared", "both workers see the same memory");
  } finally {
    forgetSnapshotsInMemory();
  }
  // Where memory cannot be shared: each worker gets a copy of its own, moved rather than cloned.
  const own = bytes("snap");
  const { plan: { bytes: copy }, transfer } = planForWorker({ mode: "restore", bytes: own });
  assert.notEqual(copy.buffer, own.buffer);
  assert.deepEqual(transfer, [copy.buffer]);
  assert.equal(text(copy), "snap");
});

test("snapshot: workers start loading at once and get their plan once it is known", async () => {
  forgetSnapshotsInMemory();
  try {
    const cores = navigator.hardwareConcurrency;
    // The first worker never answers: the snapshot is being made for as long as the test looks.
    const fakes = fakeWorkers({ startWith: (i) => (i === 0 ? "silent" : "ready"), snapshotWith: () => null });
    const pool = track(new WorkerPool({ ...OPTIONS, indexURL: PYODIDE, snapshotCache: false, size: cores + 1, spawn: fakes.spawn }));
    await until(() => fakes.spawned[0]?.plan, "the first worker's plan");
    // Nothing to restore yet: the workers that boot get their plan in INIT; the one that will restore starts early.
    assert.deepEqual(fakes.spawned.map((f) => f.received[0].snapshot.mode), ["make", ...Array(cores - 1).fill("none"), "await"]);
    assert.deepEqual(fakes.spawned.at(-1).received.map((m) => m.type), [MessageType.INIT], "the last waits for the snapshot");
    pool.terminate();
    // A snapshot in memory: every worker of a later pool starts before the plan is known, then restores.
    await startPool({ indexURL: PYODIDE, snapshotCache: false, size: 1 }, fakeWorkers({ snapshotWith: () => "made" }));
    const { fakes: later } = await startPool({ indexURL: PYODIDE, snapshotCache: false, size: 2 });
    assert.deepEqual(later.spawned.map((f) => [f.received[0].snapshot.mode, f.received[1].type, f.plan.mode]),
      Array(2).fill(["await", MessageType.SNAPSHOT_PLAN, "restore"]));
  } finally {
    forgetSnapshotsInMemory();
  }
});

test("snapshot: when none can be made the waiting workers start normally and stats say why", async () => {
  forgetSnapshotsInMemory();
  try {
    const options = { indexURL: PYODIDE, snapshotCache: false, size: navigator.hardwareConcurrency + 1 };
    const { pool, fakes } = await startPool(options, fakeWorkers({ snapshotWith: () => ({ reason: "no makeMemorySnapshot()" }) }));
    assert.equal(fakes.spawned.at(-1).plan.mode, "none");
    assert.match(fakes.spawned.at(-1).plan.reason, /no makeMemorySnapshot/);
    assert.equal(pool.stats.snapshot.use, "not used");
    assert.match(pool.stats.snapshot.reason, /no makeMemorySnapshot/);
    const later = await startPool(options);
    assert.ok(later.fakes.spawned.every((f) => f.plan.mode === "none"), "not tried again");
    const off = await startPool({ ...options, snapshot: false });
    assert.match(off.pool.stats.snapshot.reason, /turned off/);
  } finally {
    forgetSnapshotsInMemory();
  }
});

test("snapshot cache: a directory keeps it across processes; stale and corrupt entries are rebuilt, never loaded", async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-snap-"));
  forgetSnapshotsInMemory();
  const options = { indexURL: PYODIDE, snapshotCache: folder, size: 2 };
  const entries = () => fs.readdirSync(folder).filter((f) => f.endsWith(".bin"));
  const OLD = "webpickle-snapshot-0000.bin";
  try {
    fs.writeFileSync(path.join(folder, OLD), "an old build's entry");
    await startPool(options, fakeWorkers({ snapshotWith: () => "cached bytes" }));
    // Written, and the old build's entry evicted.
    await until(() => entries().length === 1 && entries()[0] !== OLD, "the snapshot written and the old entry evicted");
    forgetSnapshotsInMemory(); // as a new process would
    const again = await startPool(options, fakeWorkers({ snapshotWith: () => "should not be made" }));
    assert.equal(again.pool.stats.snapshot.use, "from cache");
    assert.deepEqual(again.fakes.spawned.map((f) => text(f.plan.bytes)), ["cached bytes", "cached bytes"]);
    // Corrupt one byte of the snapshot: detected by its digest, made again.
    const file = path.join(folder, entries()[0]);
    const data = fs.readFileSync(file);
    data[data.length - 1] ^= 1;
    fs.writeFileSync(file, data);
    forgetSnapshotsInMemory();
    const rebuilt = await startPool(options, fakeWorkers({ snapshotWith: () => "new bytes" }));
    assert.equal(rebuilt.pool.stats.snapshot.use, "made");
    // A stale entry: the right file name, another key inside.
    await until(() => fs.existsSync(file) && fs.readFileSync(file).includes("new bytes"), "the remade snapshot written");
    const key = path.basename(file).slice("webpickle-snapshot-".length, -".bin".length);
    assert.notEqual(await unpack(new Uint8Array(fs.readFileSync(file)), key), null);
    const stale = Buffer.from(fs.readFileSync(file).toString("latin1").replace(`"key":"${key}"`, `"key":"${"0".repeat(64)}"`), "latin1");
    assert.equal(await unpack(new Uint8Array(stale), key), null);
    forgetSnapshotsInMemory();
    fs.writeFileSync(file, stale);
    const remade = await startPool(options, fakeWorkers({ snapshotWith: () => "newer bytes" }));
    assert.equal(remade.pool.stats.snapshot.use, "made");
    await until(() => fs.existsSync(file) && fs.readFileSync(file).includes("newer bytes"), "the remade snapshot written");
  } finally {
    forgetSnapshotsInMemory();
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test("functions: each worker gets a function's stream once; later calls carry the digest only", async () => {
  const { pool, fakes } = await startPool();
  const fn = { digest: "a".repeat(64), stream: new Uint8Array(1000) };
  const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.call(bytes(`echo:${i}`), { fn })));
  assert.deepEqual(replies.map((r) => text(r.payload).split("|")[0]), Array.from({ length: 10 }, (_, i) => String(i)));
  const withFunction = fakes.spawned.flatMap((f) => f.received.filter((m) => m.function));
  assert.equal(withFunction.length, 2, "one function stream per worker");
  assert.deepEqual(pool.stats.posted, { calls: 10, payloadBytes: replies.reduce((n, _, i) => n + `echo:${i}`.length, 0),
    functions: 2, functionBytes: 2000, functionMisses: 0 });
});

test("functions: a worker that evicted the function gets it again, and the call runs once", async () => {
  const { pool, fakes } = await startPool({ size: 1 });
  const fn = { digest: "b".repeat(64), stream: new Uint8Array(10) };
  await pool.call(bytes("echo:1"), { fn });
  const reply = await pool.call(bytes("evict"), { fn, buffers: [new Uint8Array(3)] });
  assert.equal(text(reply.payload), "evict|3", "the call's buffers travel again with the re-sent call");
  assert.deepEqual(fakes.spawned[0].ran, ["echo:1", "evict"]);
  assert.equal(pool.stats.posted.functionMisses, 1);
  assert.equal(pool.stats.posted.functions, 2);
});

test("functions: a replacement worker gets the function again", async () => {
  const { pool, fakes } = await startPool({ size: 1 });
  const fn = { digest: "c".repeat(64), stream: new Uint8Array(10) };
  await pool.call(bytes("echo:1"), { fn });
  await rejectsWith(pool.call(bytes("crash"), { fn }), ErrorName.CRASHED);
  await pool.call(bytes("echo:2"), { fn });
  assert.equal(fakes.spawned.length, 2);
  assert.deepEqual(fakes.spawned[1].ran, ["echo:2"]);
  assert.ok(fakes.spawned[1].received.some((m) => m.function), "the new worker was sent the stream");
  assert.equal(pool.stats.posted.functionMisses, 0, "the pool knew the new worker had nothing loaded");
});

test("functions: a stream on shared memory is posted as it is; a plain one as a transferred copy", async () => {
  const fakes = fakeWorkers();
  const posts = []; // [message, transfer list] of every CALL the pool posted
  const spawn = (url, name) => {
    const port = fakes.spawn(url, name);
    const post = port.post;
    port.post = (message, transfer) => {
      if (message.type === MessageType.CALL) posts.push([message, transfer ?? []]);
      post(message, transfer);
    };
    return port;
  };
  const { pool } = await startPool({ spawn });
  const shared = pool.functionBuffer(1000).fill(7);
  assert.ok(shared.buffer instanceof SharedArrayBuffer, "Node may post shared memory to its workers");
  const plain = new Uint8Array(1000).fill(9);
  for (const [digest, stream] of [["d".repeat(64), shared], ["e".repeat(64), plain]]) {
    await Promise.all([0, 1, 2, 3].map((i) => pool.call(bytes(`echo:${i}`), { fn: { digest, stream } })));
  }
  const withFunction = (digest) => posts.filter(([m]) => m.digest === digest && m.function);
  assert.equal(withFunction("d".repeat(64)).length, 2);
  for (const [message, transfer] of withFunction("d".repeat(64))) {
    assert.equal(message.function, shared, "the shared stream itself, no copy");
    assert.ok(!transfer.includes(shared.buffer));
  }
  assert.equal(withFunction("e".repeat(64)).length, 2);
  for (const [message, transfer] of withFunction("e".repeat(64))) {
    assert.notEqual(message.function, plain, "a copy of the plain stream");
    assert.ok(transfer.includes(message.function.buffer), "the copy is transferred, not cloned");
  }
  const received = fakes.spawned.flatMap((f) => f.received.filter((m) => m.digest === "e".repeat(64) && m.function));
  assert.ok(received.length === 2 && received.every((m) => m.function.length === 1000 && m.function.every((b) => b === 9)));
  assert.ok(plain.length === 1000 && plain.every((b) => b === 9), "the caller's stream stays whole for other calls");
});

test("functions: fn must be {digest, stream}", async () => {
  const { pool } = await startPool({ size: 1 });
  await assert.rejects(pool.call(bytes("echo:1"), { fn: { digest: 3 } }), TypeError);
});

test("snapshot: a pool terminated while making it lets the next pool make it, not wait forever", { timeout: 10_000 }, async () => {
  forgetSnapshotsInMemory();
  try {
    const options = { indexURL: PYODIDE, snapshotCache: false, size: 1 };
    const first = track(new WorkerPool({ ...options, spawn: fakeWorkers({ startWith: () => "silent", snapshotWith: () => null }).spawn }));
    await until(() => first.stats.snapshot.use !== "pending", "the first pool starting to make the snapshot");
    const waiting = startPool(options, fakeWorkers({ snapshotWith: () => "second" }));
    first.terminate();
    const { pool, fakes } = await waiting;
    assert.equal(fakes.spawned[0].plan.mode, "make");
    assert.equal(pool.stats.snapshot.use, "made");
  } finally {
    forgetSnapshotsInMemory();
  }
});
