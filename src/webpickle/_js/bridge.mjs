// Glue between webpickle.workers (Python, in Pyodide) and a JS WorkerPool.
// Not public API: it exists so that a task costs Python one call into JS and
// one call back, with no per-task proxies (each crossing of the boundary,
// and each proxy made and destroyed, shows up in the round-trip time).
//
// Python numbers its tasks ("tokens"); the client reports each task's end
// through the one `onSettle` callback Python gave it:
//   onSettle(token, payload, buffers, raised)                         a reply
//   onSettle(token, undefined, undefined, false, errorName, message)  the pool rejected the call
// (undefined, not null: Python sees undefined as None, null as pyodide.ffi.jsnull.)

export class PythonClient {
  #pool;
  #onSettle;
  #controllers = new Map(); // token -> AbortController, while the task is unsettled

  constructor(pool, onSettle) {
    this.#pool = pool;
    this.#onSettle = onSettle;
  }

  /** Send one task; `timeoutMs` null means the pool's default. */
  submit(token, payload, buffers, timeoutMs) {
    const controller = new AbortController();
    this.#controllers.set(token, controller);
    const options = { buffers: buffers ?? [], signal: controller.signal };
    if (timeoutMs !== null && timeoutMs !== undefined) options.timeout = timeoutMs;
    this.#pool.call(payload, options).then(
      // No buffers (the usual case) as undefined: Python then skips two calls into JS.
      (reply) => this.#settle(token, reply.payload, reply.buffers.length ? reply.buffers : undefined, reply.raised),
      (error) => this.#settle(token, undefined, undefined, false, String(error?.name ?? "Error"),
        String(error?.message ?? error)));
  }

  /** Cancel a task: a queued one is dropped, a running one's worker is replaced. */
  cancel(token) {
    this.#controllers.get(token)?.abort();
  }

  /** Stop reporting to Python (its callback is about to be destroyed). */
  close() {
    this.#onSettle = null;
  }

  #settle(token, payload, buffers, raised, errorName, message) {
    this.#controllers.delete(token);
    this.#onSettle?.(token, payload, buffers, raised, errorName, message);
  }
}
