// The pool's worker: a module Web Worker (or a Node worker thread) that loads
// Pyodide and webpickle when told to (INIT), then runs one CALL at a time.
// The message format is in protocol.mjs; the task itself is run by Python
// (webpickle.workers._serve), which returns [stream, raised, buffers].
//
// Not run directly: pool.mjs starts it. The Python API ships a copy inside
// the wheel (webpickle/_js/) and starts it from a Blob URL, so its one import
// must be an absolute URL there; workers.py rewrites it.

import { MessageType, errorToWire, transferList } from "./protocol.mjs";

const IS_NODE = typeof globalThis.process?.versions?.node === "string" &&
  typeof globalThis.WorkerGlobalScope === "undefined";

let runtime = null; // {pyodide, serve} once INIT succeeded
let post; // (message, transfer) => void, to the pool

/** Resolve a file URL for `name` in `indexURL`; Node gets plain paths too. */
async function moduleURL(indexURL, name) {
  if (IS_NODE && !/^[a-z][a-z0-9+.-]*:/i.test(indexURL)) {
    const { pathToFileURL } = await import("node:url");
    return pathToFileURL(`${indexURL.replace(/\/?$/, "/")}${name}`).href;
  }
  return new URL(name, indexURL).href;
}

async function start(message) {
  const t0 = performance.now();
  const { loadPyodide } = await import(await moduleURL(message.indexURL, "pyodide.mjs"));
  // Through console: Pyodide's default writes to process.stdout's fd in Node,
  // which worker threads do not have. Browsers show a worker's console too.
  const config = { indexURL: message.indexURL, stdout: (line) => console.log(line),
    stderr: (line) => console.error(line) };
  for (const key of ["lockFileURL", "lockFileContents", "packageBaseUrl"]) {
    if (message[key] !== undefined && message[key] !== null) config[key] = message[key];
  }
  const pyodide = await loadPyodide(config);
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
  const serve = pyodide.pyimport("webpickle.workers")._serve;
  runtime = { pyodide, serve };
  return performance.now() - t0;
}

async function call(message) {
  if (!runtime) {
    post({ type: MessageType.CALL_FAILED, id: message.id,
      error: errorToWire(new Error("CALL before the worker was ready (a bug in the pool)")) });
    return;
  }
  let out;
  try {
    // No buffers (the usual case) as undefined: Python then skips iterating a JS array.
    out = runtime.serve(message.payload, message.buffers.length ? message.buffers : undefined);
    if (typeof out?.then === "function") { // a coroutine function's task: a Python future
      const future = out;
      out = await future;
      future.destroy();
    }
  } catch (error) {
    // _serve catches every Python exception of the task, so an error here
    // means the runtime itself failed; after a fatal error it is unusable.
    const type = error?.pyodide_fatal_error ? MessageType.CRASHED : MessageType.CALL_FAILED;
    post({ type, id: message.id, error: errorToWire(error) });
    return;
  }
  const [payload, raised, buffers] = out;
  // message.buffers were copied into Python: send them home for reuse.
  const returned = message.buffers;
  post({ type: MessageType.REPLY, id: message.id, payload, raised, buffers, returned },
    transferList([payload, ...buffers, ...returned]));
}

function onMessage(message) {
  switch (message?.type) {
    case MessageType.INIT:
      start(message).then(
        (ms) => post({ type: MessageType.READY, id: message.id, ms }),
        (error) => post({ type: MessageType.START_FAILED, id: message.id, error: errorToWire(error) }));
      break;
    case MessageType.CALL:
      call(message);
      break;
    default:
      post({ type: MessageType.CALL_FAILED, id: message?.id,
        error: errorToWire(new Error(`unknown message type ${JSON.stringify(message?.type)}`)) });
  }
}

if (IS_NODE) {
  const { parentPort } = await import("node:worker_threads");
  post = (message, transfer) => parentPort.postMessage(message, transfer);
  parentPort.on("message", onMessage);
} else {
  // Set synchronously, before any await: a message arriving earlier is lost.
  post = (message, transfer) => globalThis.postMessage(message, transfer);
  globalThis.onmessage = (event) => onMessage(event.data);
}
