// The wire format between WorkerPool (pool.mjs) and its workers (worker.mjs):
// message types, error names, and how errors travel. Logic lives elsewhere.
//
// Every message is a plain object {type, id, ...}. `id` names the task (or
// the start-up of one worker) the message is about, so a late message from a
// worker that was already replaced can be recognised and dropped. The shapes
// are the typedefs below (PoolToWorker, WorkerToPool), which `tsc -p js`
// checks every post and every read of in ./dev test.
//
// Interrupts: when the pool gives up on a running task (timeout, abort) and
// the worker has an interruptBuffer, the pool stores 2 (SIGINT) in it and
// posts STOP; Python raises KeyboardInterrupt in the task, whose REPLY then
// frees the worker. The pool clears the buffer before each CALL and the
// worker after each task, so an interrupt reaches only its own task.
//
// A REPLY's payload is a webpickle stream of the task's result, or, when
// `raised` is true, of the tuple (exception, traceback text, frames) (see
// webpickle/_call.py). `buffers` are a stream's protocol-5 out-of-band
// buffers, in order. Buffers always move by transfer (see transferList), never
// by structured-clone copy; `returned` sends the CALL's buffers home once
// copied into the worker, for reuse.
//
// A CALL with a digest carries (args, kwargs) in payload; its function is the
// one the worker loaded under that digest, or `function` (its stream), sent
// only to a worker not known to have it. A worker that has evicted it answers
// FUNCTION_MISSING (nothing ran) and the pool posts the CALL again with it.
// Without a digest, payload pickles (function, args, kwargs) and nothing is kept.

import { makeError } from "./errors.mjs";

export const MessageType = Object.freeze({
  INIT: "init",
  CALL: "call",
  STOP: "stop",
  SNAPSHOT: "snapshot",
  SNAPSHOT_PLAN: "snapshot-plan",
  READY: "ready",
  START_FAILED: "start-failed",
  REPLY: "reply",
  CALL_FAILED: "call-failed",
  CRASHED: "crashed",
  FUNCTION_MISSING: "function-missing",
});

/** The `name` of every Error the pool rejects a call with. */
export const ErrorName = Object.freeze({
  TIMEOUT: "TimeoutError", // the task ran past its timeout; its worker was replaced
  ABORT: "AbortError", // the caller's AbortSignal fired
  CRASHED: "WorkerCrashedError", // the worker's runtime died during the task
  START: "WorkerStartError", // no worker could start (bad indexURL, missing wheel, ...)
  TERMINATED: "PoolTerminatedError", // pool.terminate() ran before the task finished
  CALL: "WorkerCallError", // the worker could not run the message (not the task's own error)
});

/**
 * What is posted for an error.
 * @param {unknown} error
 * @returns {WireError}
 */
export function errorToWire(error) {
  if (error instanceof Error || (error && typeof error === "object" && "message" in error)) {
    const { name, message, stack } = /** @type {{name?: unknown, message?: unknown, stack?: unknown}} */ (error);
    return { name: String(name ?? "Error"), message: String(message ?? ""), stack: String(stack ?? "") };
  }
  return { name: "Error", message: String(error), stack: "" };
}

/**
 * Rebuild an Error from what errorToWire posted; its stack is the remote one.
 * @param {WireError | undefined} wire
 */
export function errorFromWire(wire) {
  const error = makeError(wire?.name ?? "Error", wire?.message ?? "unknown error");
  if (wire?.stack) error.stack = wire.stack;
  return error;
}

/**
 * The distinct ArrayBuffers under `views`, for postMessage's transfer list (naming one twice throws).
 * @param {Iterable<ArrayBufferView | undefined>} views
 * @returns {ArrayBuffer[]}
 */
export function transferList(views) {
  const list = [];
  for (const view of views) {
    if (view?.buffer instanceof ArrayBuffer && !list.includes(view.buffer)) list.push(view.buffer);
  }
  return list;
}

// -- message shapes ------------------------------------------------------------

/** @typedef {{name: string, message: string, stack: string}} WireError  an Error as posted (errorToWire) */

/**
 * What INIT says about the memory snapshot (snapshot.mjs): make one, restore `bytes`, or neither (`reason`);
 * or "await": boot up to where the snapshot is needed and wait for a SNAPSHOT_PLAN saying one of those.
 * @typedef {{mode: "make", marker: string}
 *   | {mode: "restore", marker: string, bytes: Uint8Array, use: string}
 *   | {mode: "none", reason: string | null}} SnapshotPlan
 * @typedef {SnapshotPlan | {mode: "await"}} InitSnapshotPlan
 */

/**
 * How a worker started: `snapshot` is one of snapshot.mjs's SnapshotUse.
 * @typedef {{snapshot: string, reason: string | null, heapBytes: number | null, restoreFailed?: boolean}} Startup
 */

/**
 * Start Pyodide and webpickle (pool -> worker).
 * @typedef {object} InitMessage
 * @property {typeof MessageType.INIT} type
 * @property {number} id
 * @property {string} indexURL
 * @property {string[]} packages
 * @property {string} [wheelURL]
 * @property {string} [lockFileURL]
 * @property {object | string} [lockFileContents]
 * @property {string} [packageBaseUrl]
 * @property {ArrayBufferLike} [interruptBuffer] a SharedArrayBuffer Python polls for SIGINT
 * @property {InitSnapshotPlan} [snapshot]
 * @property {number} [functionCacheBytes] bound of the worker's loaded functions, in bytes of their streams
 */

/**
 * Run one task (pool -> worker); `digest` names its function, `function` is its stream when sent along.
 * @typedef {{type: typeof MessageType.CALL, id: number, payload: Uint8Array, buffers: Uint8Array[],
 *   digest?: string, function?: Uint8Array}} CallMessage
 */

/**
 * The pool gave up on task `id`: cancel its coroutine (pool -> worker).
 * @typedef {{type: typeof MessageType.STOP, id: number}} StopMessage
 */

/**
 * The snapshot plan an INIT with snapshot mode "await" waits for (pool -> worker, once, before READY).
 * @typedef {{type: typeof MessageType.SNAPSHOT_PLAN, id: number, plan: SnapshotPlan}} SnapshotPlanMessage
 */

/** @typedef {InitMessage | SnapshotPlanMessage | CallMessage | StopMessage} PoolToWorker */

/**
 * Answers an INIT whose snapshot.mode is "make", before READY: the snapshot, or why there is none.
 * @typedef {{type: typeof MessageType.SNAPSHOT, id: number, bytes?: Uint8Array, reason?: string}} SnapshotMessage
 */

/**
 * Answers INIT: the worker is ready, after `ms` milliseconds.
 * @typedef {{type: typeof MessageType.READY, id: number, ms: number, startup: Startup}} ReadyMessage
 */

/**
 * Answers INIT: the worker could not start and is unusable.
 * @typedef {{type: typeof MessageType.START_FAILED, id: number, error: WireError}} StartFailedMessage
 */

/**
 * Answers CALL: the task's outcome, its result or its exception (`raised`).
 * @typedef {object} ReplyMessage
 * @property {typeof MessageType.REPLY} type
 * @property {number} id
 * @property {Uint8Array} payload
 * @property {Uint8Array[]} buffers
 * @property {boolean} raised
 * @property {Uint8Array[]} returned the CALL's buffers, for reuse
 */

/**
 * Answers CALL: the worker could not run it (not the task's own exception); the worker is still usable.
 * @typedef {{type: typeof MessageType.CALL_FAILED, id: number, error: WireError, returned?: Uint8Array[]}} CallFailedMessage
 */

/**
 * The worker's runtime died (a wasm trap, an abort).
 * @typedef {{type: typeof MessageType.CRASHED, id: number, error: WireError}} CrashedMessage
 */

/**
 * Answers a CALL by digest whose function the worker has not loaded: nothing ran; the CALL's buffers come back.
 * @typedef {{type: typeof MessageType.FUNCTION_MISSING, id: number, digest: string, returned: Uint8Array[]}}
 *   FunctionMissingMessage
 */

/** @typedef {SnapshotMessage | ReadyMessage | StartFailedMessage | ReplyMessage | CallFailedMessage | CrashedMessage
 *   | FunctionMissingMessage} WorkerToPool */

/**
 * A worker as the pool drives it (spawn.mjs makes them).
 * @typedef {object} Port
 * @property {(message: PoolToWorker, transfer?: Transferable[]) => void} post
 * @property {() => void} terminate
 * @property {((message: WorkerToPool) => void) | null} onmessage
 * @property {((error: Error) => void) | null} onerror
 */

/**
 * The end of one task, as bridge.mjs reports it to Python (webpickle.workers): a reply,
 * or the pool's rejection (errorName set). Every field is present; those that do not
 * apply are undefined, which Python reads as None.
 * @typedef {{token: number, payload: Uint8Array, buffers: Uint8Array[] | undefined, raised: boolean,
 *   errorName: undefined, errorMessage: undefined}
 *   | {token: number, payload: undefined, buffers: undefined, raised: false,
 *   errorName: string, errorMessage: string}} Settlement
 */
