// Glue between webpickle.workers (Python, in Pyodide) and a JS WorkerPool.
// Not public API: it exists so that a task costs Python one call into JS and
// one call back, with no per-task proxies made by hand (each crossing of the
// boundary, and each proxy made and destroyed, shows up in the round-trip time).
//
// The wheel carries this module bundled with pool.mjs and what it imports
// (wasm/bundle_js.mjs), as webpickle/_js/pool.mjs; hence the re-export.
//
// Python numbers its tasks ("tokens"); the client reports each task's end
// through the one `onSettle` callback Python gave it, with a Settlement
// (protocol.mjs). Every field is present, undefined when it does not apply:
// Python reads an undefined field as None (a missing one would raise).

export { WorkerPool } from "./pool.mjs";
export { forgetSnapshotsInMemory } from "./snapshot.mjs"; // for the benchmarks' first pools

/** @typedef {import("./protocol.mjs").Settlement} Settlement */

export class PythonClient {
  #pool;
  /** @type {((settlement: Settlement) => void) | null} */
  #onSettle;
  /** @type {Map<number, AbortController>} token -> its controller, while the task is unsettled */
  #controllers = new Map();

  /**
   * @param {import("./pool.mjs").WorkerPool} pool
   * @param {(settlement: Settlement) => void} onSettle
   */
  constructor(pool, onSettle) {
    this.#pool = pool;
    this.#onSettle = onSettle;
  }

  /**
   * Send one task; `timeoutMs` null means the pool's default. With `fn` (the
   * function pickled once, made once for all its calls), payload pickles (args, kwargs) only.
   * @param {number} token
   * @param {Uint8Array} payload
   * @param {Uint8Array[] | null | undefined} buffers
   * @param {number | null} timeoutMs
   * @param {{digest: string, stream: Uint8Array} | null | undefined} fn
   */
  submit(token, payload, buffers, timeoutMs, fn) {
    const controller = new AbortController();
    this.#controllers.set(token, controller);
    /** @type {import("./pool.mjs").CallOptions} */
    const options = { buffers: buffers ?? [], signal: controller.signal };
    if (fn) options.fn = fn;
    if (timeoutMs !== null && timeoutMs !== undefined) options.timeout = timeoutMs;
    this.#pool.call(payload, options).then(
      // No buffers (the usual case) as undefined: Python then skips two calls into JS.
      (reply) => this.#settle({ token, payload: reply.payload,
        buffers: reply.buffers.length ? reply.buffers : undefined, raised: reply.raised,
        errorName: undefined, errorMessage: undefined }),
      (error) => this.#settle({ token, payload: undefined, buffers: undefined, raised: false,
        errorName: String(error?.name ?? "Error"), errorMessage: String(error?.message ?? error) }));
  }

  /**
   * Cancel a task: a queued one is dropped, a running one's worker is replaced.
   * @param {number} token
   */
  cancel(token) {
    this.#controllers.get(token)?.abort();
  }

  /** Stop reporting to Python (its callback is about to be destroyed). */
  close() {
    this.#onSettle = null;
  }

  /** @param {Settlement} settlement */
  #settle(settlement) {
    this.#controllers.delete(settlement.token);
    this.#onSettle?.(settlement);
  }
}
