// WorkerPool: run webpickle task streams on a pool of workers, each with its
// own Pyodide. Works on a page's main thread, inside a worker (nested
// workers) and in Node (worker_threads). Types: pool.d.mts; wire format:
// protocol.mjs; the worker side: worker.mjs.
//
//   const pool = await WorkerPool.start({ size: 2, indexURL: "/pyodide/" });
//   const reply = await pool.call(stream, { buffers, timeout: 5000, signal });
//   // reply = {payload: Uint8Array, buffers: ArrayBuffer[], raised: boolean}
//   pool.terminate();
//
// Every call ends: with a reply (the task's result or its Python exception)
// or with an Error named as in protocol.mjs's ErrorName.

import { describe, makeError } from "./errors.mjs";
import { State, WorkerStarter, defaultSize, newSlot } from "./pool_start.mjs";
import { ErrorName, MessageType, errorFromWire, transferList } from "./protocol.mjs";
import { canShareMemory } from "./snapshot.mjs";
import { Spares } from "./spares.mjs";
import { spawnWorker } from "./spawn.mjs";

/** @typedef {import("./pool_start.mjs").Slot} Slot */

/** How long an interrupted task may take to stop before its worker is replaced, by default. */
const DEFAULT_INTERRUPT_GRACE_MS = 1000;
/** How often an interrupt not yet answered is said again. */
const INTERRUPT_REPEAT_MS = 50;

/** Whether workers can be interrupted here: they need memory shared with this thread. */
function interruptSupport(graceMs) {
  if (graceMs === 0) return { available: false, reason: "turned off (interruptGrace is 0)" };
  if (!canShareMemory()) {
    return { available: false, reason: "no SharedArrayBuffer: the page is not cross-origin isolated " +
      "(serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)" };
  }
  return { available: true, reason: null };
}

/** indexURL etc. made absolute, because a worker started from a Blob URL cannot resolve relative ones. */
function absolute(url) {
  if (url === undefined || url === null) return url;
  const base = globalThis.location?.href;
  return base ? new URL(url, base).href : String(url);
}

export class WorkerPool {
  #options;
  /** @type {Slot[]} */
  #slots = [];
  #queue = []; // tasks waiting for a worker, oldest first
  #nextId = 1;
  #terminated = false;
  #broken = null; // the Error every call gets once no worker can start
  #spares; // buffers back from workers, for takeBuffer()
  #settleReady;
  #starter; // brings each slot's worker up to READY (pool_start.mjs)
  #interrupts;
  #posted = { calls: 0, payloadBytes: 0, functions: 0, functionBytes: 0, functionMisses: 0 };

  /**
   * Start `options.size` workers in parallel and return at once; calls queue
   * until a worker is ready. `pool.ready` settles when every worker has
   * started (it rejects with the first start-up error). See pool.d.mts for
   * every option and its default.
   */
  constructor(options = {}) {
    if (!options.indexURL) {
      throw new TypeError("WorkerPool: options.indexURL is required: pass the URL (or, in Node, the folder) " +
        "that the page's own Pyodide was loaded from, e.g. pyodide's indexURL");
    }
    const size = options.size ?? defaultSize();
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`WorkerPool: size must be a positive integer, not ${size}`);
    this.#options = {
      ...options,
      size,
      indexURL: absolute(options.indexURL),
      lockFileURL: absolute(options.lockFileURL),
      packageBaseUrl: absolute(options.packageBaseUrl),
      wheelURL: absolute(options.wheelURL),
      workerURL: options.workerURL ?? new URL("./worker.mjs", import.meta.url),
      spareBytes: options.spareBytes ?? 256 * 2 ** 20,
      spawn: options.spawn ?? spawnWorker,
      interruptGrace: options.interruptGrace ?? DEFAULT_INTERRUPT_GRACE_MS,
      functionCacheBytes: options.functionCacheBytes ?? 256 * 2 ** 20,
    };
    const grace = this.#options.interruptGrace;
    if (typeof grace !== "number" || !(grace >= 0)) {
      throw new RangeError(`WorkerPool: interruptGrace must be a number of milliseconds >= 0, not ${grace}`);
    }
    this.#interrupts = interruptSupport(grace);
    this.#spares = new Spares(this.#options.spareBytes);
    this.ready = new Promise((resolve, reject) => { this.#settleReady = { resolve, reject, waiting: size }; });
    this.ready.catch(() => {}); // reported through the promise; not an unhandled rejection
    for (let index = 0; index < size; index++) this.#slots.push(newSlot(index));
    this.#starter = new WorkerStarter(this.#options, this.#slots, this.#interrupts, {
      onMessage: (slot, message) => this.#onMessage(slot, message),
      onError: (slot, error) => this.#onWorkerError(slot, error),
      startFailed: (slot, cause) => this.#startFailed(slot, cause),
      nextId: () => this.#nextId++,
      terminated: () => this.#terminated,
    });
    this.#starter.startAll();
  }

  /** Start a pool and resolve once every worker is ready; on failure terminate it and reject. */
  static async start(options) {
    const pool = new WorkerPool(options);
    try {
      await pool.ready;
    } catch (error) {
      pool.terminate();
      throw error;
    }
    return pool;
  }

  get size() { return this.#slots.length; }

  /** One entry per worker: {index, state, readyMs}; state is starting, idle, busy, stopping or failed. */
  get workers() {
    return this.#slots.map(({ index, state, readyMs }) => ({ index, state, readyMs }));
  }

  /**
   * How the workers started and how they are stopped: {snapshot: {use, reason,
   * bytes}, interrupt: {available, reason, graceMs}, workers: [{index, ms,
   * snapshot, reason, heapBytes}]}. snapshot.use is "made", "restored",
   * "from cache", "not used" (reason says why) or "pending". posted: {calls,
   * payloadBytes, functions, functionBytes, functionMisses}, what the pool
   * posted: calls and the bytes of their payloads and buffers, function
   * streams sent to a worker that did not have them, and calls sent again
   * with their function because the worker had evicted it.
   */
  get stats() {
    return {
      posted: { ...this.#posted },
      snapshot: this.#starter.snapshot,
      interrupt: { ...this.#interrupts, graceMs: this.#options.interruptGrace },
      workers: this.#slots.map(({ index, readyMs, startup }) => ({
        index, ms: readyMs, snapshot: startup?.snapshot ?? null, reason: startup?.reason ?? null,
        heapBytes: startup?.heapBytes ?? null })),
    };
  }

  /** Tasks waiting for a worker. */
  get queued() { return this.#queue.length; }

  /**
   * Run the task in `payload` (a webpickle stream of (function, args, kwargs))
   * on the next free worker. `buffers` (its out-of-band buffers, ArrayBuffers
   * or Uint8Arrays) are transferred: detached here once the task is sent.
   * `timeout` is in milliseconds (default: options.timeout, else none).
   * `fn` = {digest, stream}: the payload pickles (args, kwargs) only, and the
   * function is the stream's, posted to each worker once (a worker keeps it
   * loaded by digest while it fits its functionCacheBytes).
   */
  /**
   * @param {Uint8Array} payload
   * @param {import("./pool.mjs").CallOptions} [options]
   */
  call(payload, { buffers = [], timeout = this.#options.timeout, signal, fn } = {}) {
    if (!(payload instanceof Uint8Array)) {
      return Promise.reject(new TypeError("pool.call: payload must be a Uint8Array holding a webpickle stream"));
    }
    const views = [];
    for (const [i, buffer] of [...buffers].entries()) {
      if (!(buffer instanceof ArrayBuffer || buffer instanceof Uint8Array)) {
        return Promise.reject(new TypeError(`pool.call: buffers[${i}] is not an ArrayBuffer or a Uint8Array`));
      }
      if ((buffer instanceof ArrayBuffer ? buffer : /** @type {ArrayBuffer} */ (buffer.buffer)).detached) {
        return Promise.reject(new TypeError(`pool.call: buffers[${i}] is detached: it was transferred ` +
          "already (by an earlier call?); pass a fresh buffer"));
      }
      views.push(buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : buffer);
    }
    if (fn !== undefined && !(typeof fn?.digest === "string" && fn.stream instanceof Uint8Array)) {
      return Promise.reject(new TypeError("pool.call: fn must be {digest: string, stream: Uint8Array}"));
    }
    if (this.#terminated) return Promise.reject(makeError(ErrorName.TERMINATED, "the pool was terminated"));
    if (this.#broken) return Promise.reject(this.#broken);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const task = { id: this.#nextId++, payload, buffers: views, fn, timeout, signal, resolve, reject, timer: null };
      if (signal) {
        task.onAbort = () => this.#abort(task);
        signal.addEventListener("abort", task.onAbort, { once: true });
      }
      this.#queue.push(task);
      this.#dispatch();
    });
  }

  /**
   * A Uint8Array of `byteLength` bytes to fill and pass in call()'s buffers:
   * a view on a spare buffer a worker sent back when one fits, else a new one
   * (reused memory is much cheaper to fill: see spares.mjs).
   */
  takeBuffer(byteLength) { return this.#spares.take(byteLength); }

  /**
   * A Uint8Array of `byteLength` bytes to hold a function's stream (call()'s `fn.stream`): on a
   * SharedArrayBuffer where this thread may post one, so that every worker reads the one copy;
   * else a plain one, of which each worker is posted a transferred copy.
   */
  functionBuffer(byteLength) {
    return canShareMemory() ? new Uint8Array(new SharedArrayBuffer(byteLength)) : new Uint8Array(byteLength);
  }

  /** Give buffers whose contents are no longer needed (e.g. a reply's, once read) to takeBuffer(). */
  recycle(buffers) { this.#spares.give(buffers); }

  /** Stop every worker now; queued and running calls reject with PoolTerminatedError. */
  terminate() {
    if (this.#terminated) return;
    this.#terminated = true;
    const error = makeError(ErrorName.TERMINATED, "the pool was terminated before the task finished");
    for (const slot of this.#slots) {
      clearTimeout(slot.graceTimer);
      slot.port?.terminate();
      slot.port = null;
      if (slot.task) this.#settle(slot.task, null, error);
      slot.task = null;
    }
    this.#starter.terminate();
    for (const task of this.#queue.splice(0)) this.#settle(task, null, error);
    this.#readyFailed(makeError(ErrorName.TERMINATED, "the pool was terminated while its workers were starting"));
  }

  // -- workers ---------------------------------------------------------------

  /** Stop the slot's worker and start another in its place. */
  #replace(slot) {
    clearTimeout(slot.graceTimer);
    slot.graceTimer = null;
    slot.port?.terminate();
    slot.port = null;
    slot.task = null;
    if (!this.#terminated) this.#starter.start(slot);
  }

  /**
   * @param {Slot} slot
   * @param {import("./protocol.mjs").WorkerToPool} message
   */
  #onMessage(slot, message) {
    const task = slot.task;
    switch (message?.type) {
      case MessageType.SNAPSHOT:
        if (message.id === slot.startId) this.#starter.snapshotMade(message.bytes, message.reason);
        return;
      case MessageType.READY:
        if (message.id !== slot.startId) return;
        slot.state = State.IDLE;
        slot.readyMs = message.ms;
        slot.startup = message.startup ?? null;
        this.#starter.workerReady(slot, message.startup);
        this.#options.onWorkerReady?.({ index: slot.index, ms: message.ms, startup: slot.startup });
        if (!slot.counted) { // `ready` waits for each slot's first worker, not for replacements
          slot.counted = true;
          if (--this.#settleReady.waiting === 0) this.#settleReady.resolve();
        }
        this.#dispatch();
        return;
      case MessageType.START_FAILED:
        if (message.id === slot.startId) this.#startFailed(slot, errorFromWire(message.error));
        return;
      case MessageType.REPLY:
      case MessageType.CALL_FAILED:
        if (!task || message.id !== task.id) return; // from a task already given up on
        slot.task = null;
        slot.state = State.IDLE;
        clearTimeout(slot.graceTimer); // an interrupted task that stopped in time: the worker goes on
        slot.graceTimer = null;
        this.recycle(message.returned); // the call's own buffers, copied into the worker
        // A task given up on (timeout, abort) was settled then; #settle ignores this answer.
        if (message.type === MessageType.REPLY) {
          this.#settle(task, { payload: message.payload, buffers: message.buffers, raised: message.raised });
        } else {
          const cause = errorFromWire(message.error);
          this.#settle(task, null, makeError(ErrorName.CALL, `the worker could not run the task: ${cause.message}`, { cause }));
        }
        this.#dispatch();
        return;
      case MessageType.CRASHED:
        this.#onWorkerError(slot, errorFromWire(message.error));
        return;
      case MessageType.FUNCTION_MISSING:
        if (!task || message.id !== task.id) return;
        // The worker evicted the function: nothing ran. Post the call again, with the function.
        slot.functions.delete(message.digest);
        task.buffers = message.returned ?? [];
        if (task.settled) { // given up on meanwhile (timeout, abort): the worker is free
          slot.task = null;
          slot.state = State.IDLE;
          clearTimeout(slot.graceTimer);
          slot.graceTimer = null;
          this.#dispatch();
          return;
        }
        this.#posted.functionMisses += 1;
        if (!this.#post(slot, task)) this.#replace(slot); // its state is unknown: start afresh
        return;
      default: // a worker that does not speak this protocol (the type allows none)
        this.#onWorkerError(slot, new Error(`unexpected message ${JSON.stringify(/** @type {any} */ (message)?.type)} from the worker`));
    }
  }

  /** The worker died or misbehaved: fail only its task, then replace it. */
  #onWorkerError(slot, error) {
    if (slot.state === State.STARTING) {
      this.#startFailed(slot, error);
      return;
    }
    const task = slot.task;
    if (task && !task.settled) {
      this.#settle(task, null, makeError(ErrorName.CRASHED,
        `worker ${slot.index} died while running the task (${describe(error)}); ` +
        "it was replaced, and other tasks go on", { cause: error }));
    }
    this.#options.onWorkerError?.({ index: slot.index, error });
    this.#replace(slot);
  }

  #startFailed(slot, cause) {
    this.#starter.workerFailed(slot, cause);
    slot.port?.terminate();
    slot.port = null;
    slot.state = State.FAILED;
    const error = makeError(ErrorName.START, `worker ${slot.index} could not start: ${describe(cause)}`, { cause });
    this.#options.onWorkerError?.({ index: slot.index, error });
    this.#readyFailed(error);
    if (this.#slots.every((s) => s.state === State.FAILED)) {
      // Nothing can run the queued tasks: end them rather than let them wait forever.
      this.#broken = error;
      for (const task of this.#queue.splice(0)) this.#settle(task, null, error);
    }
  }

  #readyFailed(error) {
    if (this.#settleReady.waiting > 0) {
      this.#settleReady.waiting = 0;
      this.#settleReady.reject(error);
    }
  }

  // -- tasks -----------------------------------------------------------------

  #dispatch() {
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) return;
      if (slot.state !== State.IDLE) continue;
      const task = this.#queue.shift();
      if (slot.interrupt) Atomics.store(slot.interrupt, 0, 0); // an earlier task's late interrupt is not for this one
      if (!this.#post(slot, task)) continue;
      slot.state = State.BUSY;
      slot.task = task;
      if (task.timeout !== undefined && task.timeout !== null && Number.isFinite(task.timeout)) {
        task.timer = setTimeout(() => this.#timedOut(slot, task), Math.max(0, task.timeout));
      }
    }
  }

  /**
   * Post a CALL of `task` to the slot's worker, with its function if the worker
   * does not have it; false (and the task settled) if it could not be posted.
   * @param {Slot} slot
   */
  #post(slot, task) {
    const digest = task.fn?.digest;
    const withFunction = digest !== undefined && !slot.functions.has(digest);
    /** @type {import("./protocol.mjs").CallMessage} */
    const message = { type: MessageType.CALL, id: task.id, payload: task.payload, buffers: task.buffers };
    if (digest !== undefined) message.digest = digest;
    const transfer = transferList(task.buffers);
    if (withFunction) {
      // Other calls share the stream: a shared one is posted as it is (no copy); a plain one as
      // a transferred copy (one copy here, where a structured clone makes one here and one there).
      const stream = task.fn.stream;
      if (stream.buffer instanceof ArrayBuffer) {
        const copy = stream.slice();
        message.function = copy;
        transfer.push(/** @type {ArrayBuffer} */ (copy.buffer));
      } else {
        message.function = stream;
      }
    }
    try {
      slot.port.post(message, transfer);
    } catch (error) { // DataCloneError: a detached or shared buffer, say
      this.#settle(task, null, error);
      return false;
    }
    const posted = this.#posted;
    posted.calls += 1;
    posted.payloadBytes += task.payload.byteLength + task.buffers.reduce((sum, b) => sum + b.byteLength, 0);
    if (withFunction) {
      slot.functions.add(digest);
      posted.functions += 1;
      posted.functionBytes += task.fn.stream.byteLength;
    }
    return true;
  }

  #timedOut(slot, task) {
    if (slot.task !== task || task.settled) return;
    const how = slot.interrupt
      ? `worker ${slot.index} was interrupted (and is replaced if the task does not stop within ${this.#options.interruptGrace} ms)`
      : `worker ${slot.index} was stopped and replaced`;
    this.#settle(task, null, makeError(ErrorName.TIMEOUT, `the task ran past its ${task.timeout} ms timeout; ${how}`));
    this.#stop(slot, task);
  }

  #abort(task) {
    const queuedAt = this.#queue.indexOf(task);
    if (queuedAt !== -1) {
      this.#queue.splice(queuedAt, 1);
      this.#settle(task, null, abortError(task.signal));
      return;
    }
    const slot = this.#slots.find((s) => s.task === task);
    if (!slot || task.settled) return; // already finished
    this.#settle(task, null, abortError(task.signal));
    this.#stop(slot, task);
  }

  /**
   * Stop the running task whose caller was answered already: interrupt it
   * (KeyboardInterrupt in Python; its reply frees the worker) and replace the
   * worker only if it has not stopped within the grace period; without an
   * interrupt buffer, replace it at once.
   */
  #stop(slot, task) {
    if (!slot.interrupt) {
      this.#replace(slot);
      this.#dispatch();
      return;
    }
    slot.state = State.STOPPING;
    const interrupt = slot.interrupt;
    Atomics.store(interrupt, 0, 2); // SIGINT
    slot.port.post({ type: MessageType.STOP, id: task.id });
    const grace = this.#options.interruptGrace;
    const since = performance.now();
    // One timer (cleared like a timeout wherever the slot moves on): until the
    // task answers, say SIGINT again now and then, since Python code that ran
    // in the worker before the task (an asyncio callback) may have taken the
    // first one; past the grace period, replace the worker.
    slot.graceTimer = setInterval(() => {
      if (slot.task !== task) return;
      if (performance.now() - since < grace) {
        Atomics.store(interrupt, 0, 2);
        return;
      }
      this.#options.onWorkerError?.({ index: slot.index, error: makeError(ErrorName.TIMEOUT,
        `the interrupted task did not stop within ${grace} ms; worker ${slot.index} was replaced`) });
      this.#replace(slot);
      this.#dispatch();
    }, Math.min(INTERRUPT_REPEAT_MS, grace));
  }

  #settle(task, value, error) {
    if (task.settled) return;
    task.settled = true;
    if (task.timer !== null) clearTimeout(task.timer);
    task.signal?.removeEventListener("abort", task.onAbort);
    if (error) task.reject(error);
    else task.resolve(value);
  }
}

function abortError(signal) {
  const reason = signal?.reason;
  if (reason instanceof Error && reason.name === ErrorName.ABORT) return reason;
  return makeError(ErrorName.ABORT, `the task was aborted${reason === undefined ? "" : `: ${reason?.message ?? reason}`}`, { cause: reason });
}
