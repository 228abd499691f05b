// The pool's worker: a module Web Worker (or a Node worker thread) that loads
// Pyodide and webpickle when told to (INIT), then runs one CALL at a time.
// The message format is in protocol.mjs; the task itself is run by Python
// (webpickle._pool_worker.serve), which returns [stream, raised, buffers].
//
// Not run directly: pool.mjs starts it. The wheel carries it bundled with
// what it imports (wasm/bundle_js.mjs), and the Python API starts it from a Blob URL.

import { MessageType, errorToWire, transferList } from "./protocol.mjs";
import { PRELOAD, SnapshotUse, isShared } from "./snapshot.mjs";

const IS_NODE = typeof globalThis.process?.versions?.node === "string" &&
  typeof globalThis.WorkerGlobalScope === "undefined";

let runtime = null; // {pyodide, serve} once INIT succeeded
let interrupt = null; // the Int32Array Python polls for SIGINT, when the pool gave one
let running = null; // {id, future} while a coroutine function's task is awaited
/** @type {((plan: import("./protocol.mjs").SnapshotPlan) => void) | null} */
let decidePlan = null; // while an INIT of snapshot mode "await" waits for its SNAPSHOT_PLAN
/** @type {(message: import("./protocol.mjs").WorkerToPool, transfer?: Transferable[]) => void} */
let post; // to the pool

/** Resolve a file URL for `name` in `indexURL`; Node gets plain paths too. */
async function moduleURL(indexURL, name) {
  if (IS_NODE && !/^[a-z][a-z0-9+.-]*:/i.test(indexURL)) {
    const { pathToFileURL } = await import("node:url");
    return pathToFileURL(`${indexURL.replace(/\/?$/, "/")}${name}`).href;
  }
  return new URL(name, indexURL).href;
}

/**
 * @param {import("./protocol.mjs").InitMessage} message
 * @param {Promise<import("./protocol.mjs").SnapshotPlan> | null} decided the SNAPSHOT_PLAN to come, for mode "await"
 */
async function start(message, decided) {
  const t0 = performance.now();
  const { loadPyodide } = await import(await moduleURL(message.indexURL, "pyodide.mjs"));
  // Through console: Pyodide's default writes to process.stdout's fd in Node,
  // which worker threads do not have. Browsers show a worker's console too.
  const config = { indexURL: message.indexURL, stdout: (line) => console.log(line),
    stderr: (line) => console.error(line) };
  for (const key of ["lockFileURL", "lockFileContents", "packageBaseUrl"]) {
    if (message[key] !== undefined && message[key] !== null) config[key] = message[key];
  }
  /** @type {import("./protocol.mjs").Startup} */
  const startup = { snapshot: SnapshotUse.NOT_USED, reason: null, heapBytes: null };
  const pyodide = await boot(loadPyodide, config, message.snapshot, decided, message.id, startup);
  if (message.interruptBuffer) {
    interrupt = new Int32Array(message.interruptBuffer);
    pyodide.setInterruptBuffer(interrupt);
  }
  // Every worker of a snapshot starts with its random state: draw a fresh seed.
  pyodide.runPython("import random; random.seed()");
  // loadPackage reports problems through errorCallback and resolves anyway.
  const problems = [];
  const wanted = [message.wheelURL || "webpickle", ...(message.packages ?? [])];
  await pyodide.loadPackage(wanted, {
    messageCallback: () => {},
    errorCallback: (text) => problems.push(text),
  });
  if (problems.length) {
    throw new Error(`the worker could not install ${wanted.join(", ")}: ${problems.join("; ")} ` +
      `(indexURL ${message.indexURL}); check that these packages are where the page got them`);
  }
  const worker = pyodide.pyimport("webpickle._pool_worker");
  if (message.functionCacheBytes) worker.functions.resize(message.functionCacheBytes);
  const serve = worker.serve;
  runtime = { pyodide, serve };
  startup.heapBytes = pyodide._module?.HEAP8?.length ?? null; // private: feature-detected
  return { ms: performance.now() - t0, startup };
}

const MARKER = "_webpickle_snapshot";

/** The pool's SNAPSHOT_PLAN said to make a snapshot or to start normally: `plan`. */
class NotRestoring extends Error {
  constructor(plan) {
    super(`the pool's snapshot plan is "${plan.mode}"`);
    this.plan = plan;
  }
}

/**
 * Boot Pyodide as the snapshot plan says. "await": start loading Pyodide at
 * once with the snapshot's bytes to come (it needs them only once its script
 * is loaded and its files fetched), while the pool looks the snapshot up or
 * another worker makes it; then go on as the pool's SNAPSHOT_PLAN says.
 * @param {import("./protocol.mjs").InitSnapshotPlan | undefined} plan
 */
async function boot(loadPyodide, config, plan, decided, id, startup) {
  if (plan?.mode === "await") {
    const bytes = decided.then((p) => (p.mode === "restore" ? p.bytes : Promise.reject(new NotRestoring(p))));
    bytes.catch(() => {}); // also handled by loadPyodide, unless it failed before it needed them
    try {
      return await restoreSnapshot(loadPyodide, config, bytes, decided, startup);
    } catch (error) {
      if (!(error instanceof NotRestoring)) throw error;
      return boot(loadPyodide, config, error.plan, null, id, startup);
    }
  }
  if (plan?.mode === "restore") return restoreSnapshot(loadPyodide, config, plan.bytes, Promise.resolve(plan), startup);
  if (plan?.mode === "make") {
    const pyodide = await loadPyodide({ ...config, _makeSnapshot: true });
    makeSnapshot(pyodide, plan, id, startup);
    return pyodide;
  }
  startup.reason = plan?.mode === "none" ? plan.reason : null;
  return loadPyodide(config);
}

/**
 * Boot from the snapshot's bytes (or a promise of them); on failure boot
 * normally. `_loadSnapshot` is private: a Pyodide that ignores it boots
 * normally, which the marker left in the snapshot's __main__ tells apart.
 */
async function restoreSnapshot(loadPyodide, config, bytes, decided, startup) {
  let pyodide;
  try {
    pyodide = await decodingSharedMemory(() => loadPyodide({ ...config, _loadSnapshot: bytes }));
  } catch (error) {
    if (error instanceof NotRestoring) throw error;
    startup.reason = `restoring the snapshot failed (${error?.message ?? error}); started normally`;
    startup.restoreFailed = true;
    return loadPyodide(config);
  }
  const plan = await decided;
  if (plan.mode !== "restore") { // a Pyodide that ignores _loadSnapshot booted without waiting for the plan
    if (plan.mode === "make") throw new NotRestoring(plan);
    startup.reason = plan.reason;
    return pyodide;
  }
  if (pyodide.globals.get(MARKER) !== plan.marker) {
    startup.reason = "this Pyodide ignored the _loadSnapshot option; started normally";
    return pyodide;
  }
  pyodide.globals.delete(MARKER);
  startup.snapshot = plan.use;
  startup.reason = null;
  return pyodide;
}

/**
 * Run `load` (a restore, maybe from the pool's shared bytes) with a TextDecoder
 * that takes shared memory. Pyodide only reads the snapshot, straight into its own
 * memory, but decodes its small header with a TextDecoder, which browsers
 * refuse on shared memory; a copy of the whole snapshot for each worker would
 * fill that much fresh memory, which is slow. Nothing else runs in this worker
 * meanwhile, and the decoder is put back before any task.
 */
async function decodingSharedMemory(load) {
  const { decode } = TextDecoder.prototype;
  TextDecoder.prototype.decode = function decodeCopyingShared(input, options) {
    const shared = ArrayBuffer.isView(input) && isShared(input);
    return decode.call(this, shared ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength).slice() : input, options);
  };
  try {
    return await load();
  } finally {
    TextDecoder.prototype.decode = decode;
  }
}

/** Snapshot a Pyodide booted with _makeSnapshot and send it to the pool; this worker goes on as usual. */
function makeSnapshot(pyodide, plan, id, startup) {
  let bytes;
  try {
    if (typeof pyodide.makeMemorySnapshot !== "function") throw new Error("this Pyodide has no makeMemorySnapshot()");
    pyodide.runPython(`import ${PRELOAD.join(", ")}\n${MARKER} = ${JSON.stringify(plan.marker)}`);
    bytes = pyodide.makeMemorySnapshot();
    pyodide.globals.delete(MARKER);
  } catch (error) {
    startup.reason = `no snapshot could be made: ${error?.message ?? error}`;
    post({ type: MessageType.SNAPSHOT, id, reason: startup.reason });
    return;
  }
  startup.snapshot = SnapshotUse.MADE;
  startup.reason = null;
  post({ type: MessageType.SNAPSHOT, id, bytes }, [bytes.buffer]);
}

/** @param {import("./protocol.mjs").CallMessage} message */
async function call(message) {
  if (!runtime) {
    post({ type: MessageType.CALL_FAILED, id: message.id,
      error: errorToWire(new Error("CALL before the worker was ready (a bug in the pool)")) });
    return;
  }
  let out;
  try {
    // No buffers (the usual case) as undefined: Python then skips iterating a JS array.
    out = runtime.serve(message.payload, message.buffers.length ? message.buffers : undefined, message.digest,
      message.function);
    if (out === undefined) { // the function of message.digest is not loaded here: nothing ran
      if (interrupt) Atomics.store(interrupt, 0, 0);
      post({ type: MessageType.FUNCTION_MISSING, id: message.id, digest: String(message.digest),
        returned: message.buffers }, transferList(message.buffers));
      return;
    }
    if (typeof out?.then === "function") { // a coroutine function's task: a Python future
      const future = out;
      running = { id: message.id, future };
      try {
        out = await future;
      } finally {
        running = null;
        future.destroy();
      }
    }
  } catch (error) {
    // serve catches every Python exception of the task, so an error here
    // means the runtime itself failed (after a fatal error it is unusable), or
    // an interrupt landed in webpickle's own code after the task: that fails
    // this task only.
    const type = error?.pyodide_fatal_error ? MessageType.CRASHED : MessageType.CALL_FAILED;
    if (interrupt) Atomics.store(interrupt, 0, 0);
    post({ type, id: message.id, error: errorToWire(error) });
    return;
  }
  // An interrupt that came as the task ended must not reach anything else.
  if (interrupt) Atomics.store(interrupt, 0, 0);
  const [payload, raised, buffers] = out;
  // message.buffers were copied into Python: send them home for reuse.
  const returned = message.buffers;
  post({ type: MessageType.REPLY, id: message.id, payload, raised, buffers, returned },
    transferList([payload, ...buffers, ...returned]));
}

/** @param {import("./protocol.mjs").PoolToWorker} message */
function onMessage(message) {
  switch (message?.type) {
    case MessageType.INIT: {
      // Set now: the plan may come while start() awaits.
      const decided = message.snapshot?.mode === "await" ? new Promise((resolve) => { decidePlan = resolve; }) : null;
      start(message, decided).then(
        ({ ms, startup }) => post({ type: MessageType.READY, id: message.id, ms, startup }),
        (error) => post({ type: MessageType.START_FAILED, id: message.id, error: errorToWire(error) }));
      break;
    }
    case MessageType.SNAPSHOT_PLAN:
      decidePlan?.(message.plan);
      decidePlan = null;
      break;
    case MessageType.CALL:
      call(message);
      break;
    case MessageType.STOP:
      // A coroutine's task waiting on something runs no Python for the
      // interrupt to land in: cancel it (CancelledError in the task).
      if (running?.id === message.id) running.future.cancel();
      break;
    default: { // a pool that does not speak this protocol (the type allows none)
      const unknown = /** @type {any} */ (message);
      post({ type: MessageType.CALL_FAILED, id: unknown?.id,
        error: errorToWire(new Error(`unknown message type ${JSON.stringify(unknown?.type)}`)) });
    }
  }
}

if (IS_NODE) {
  const { parentPort } = await import("node:worker_threads");
  post = (message, transfer) => parentPort.postMessage(message, /** @type {any} */ (transfer));
  parentPort.on("message", onMessage);
} else {
  // Set synchronously, before any await: a message arriving earlier is lost.
  // A worker's postMessage(message, transfer), which the DOM typings know only as a window's.
  post = (message, transfer) => /** @type {any} */ (globalThis).postMessage(message, transfer);
  globalThis.onmessage = (event) => onMessage(event.data);
}
