// One small interface over the two kinds of worker the pool runs on:
// a module Web Worker (pages, and workers nested in workers) and a Node
// worker thread. pool.mjs only sees a "port":
//
//   { post(message, transfer), terminate(), onmessage(message), onerror(error) }
//
// onmessage gets the message itself (not an event); onerror gets an Error
// when the worker fails outside of the protocol (a script that does not
// load, an uncaught error, a thread that exits). Tests give the pool their
// own spawn function with the same shape (see js/test/pool.test.mjs).

const NodeWorker = typeof globalThis.Worker === "function" || typeof globalThis.process?.versions?.node !== "string"
  ? null
  : (await import("node:worker_threads")).Worker;

/** Start the worker script at `url` (a URL or string) and return its port. */
export function spawnWorker(url, name) {
  return NodeWorker ? spawnNodeThread(url, name) : spawnWebWorker(url, name);
}

function spawnWebWorker(url, name) {
  const worker = new globalThis.Worker(url, { type: "module", name });
  const port = {
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: () => worker.terminate(),
    onmessage: null,
    onerror: null,
  };
  worker.onmessage = (event) => port.onmessage?.(event.data);
  worker.onerror = (event) => {
    event.preventDefault(); // reported through the pool, not also as an uncaught page error
    port.onerror?.(new Error(event.message ||
      `the worker script ${url} failed to load or threw (check the browser console and its URL)`));
  };
  worker.onmessageerror = () => port.onerror?.(new Error("a message from the worker could not be deserialized"));
  return port;
}

function spawnNodeThread(url, name) {
  // Node takes paths, or URL objects (not strings) for file: and data: URLs.
  const target = typeof url === "string" && /^(data|file):/.test(url) ? new URL(url) : url;
  const worker = new NodeWorker(target, { name });
  let terminated = false;
  const port = {
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: () => { terminated = true; return worker.terminate(); },
    onmessage: null,
    onerror: null,
  };
  worker.on("message", (message) => port.onmessage?.(message));
  worker.on("error", (error) => port.onerror?.(error));
  worker.on("messageerror", () => port.onerror?.(new Error("a message from the worker could not be deserialized")));
  worker.on("exit", (code) => {
    if (!terminated) port.onerror?.(new Error(`the worker thread exited with code ${code}`));
  });
  return port;
}
