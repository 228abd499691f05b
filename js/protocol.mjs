// The wire format between WorkerPool (pool.mjs) and its workers (worker.mjs):
// message types, error names, and how errors travel. Logic lives elsewhere.
//
// Every message is a plain object {type, id, ...}. `id` names the task (or
// the start-up of one worker) the message is about, so a late message from a
// worker that was already replaced can be recognised and dropped.
//
//   pool -> worker   INIT  {id, indexURL, packages, wheelURL?, lockFileURL?,
//                           lockFileContents?, packageBaseUrl?,
//                           interruptBuffer?: SharedArrayBuffer,
//                           snapshot?: {mode: "make" | "restore", marker, bytes?, use?}}
//                    CALL  {id, payload: Uint8Array, buffers: Uint8Array[]}
//                    STOP  {id}   the pool gave up on task id: cancel its coroutine
//   worker -> pool   SNAPSHOT     {id, bytes?, reason?}  answers an INIT whose snapshot.mode is
//                                 "make", before READY: the snapshot, or why there is none
//                    READY        {id, ms, startup}   answers INIT; startup: {snapshot, reason,
//                                 heapBytes} (snapshot: one of snapshot.mjs's SnapshotUse)
//                    START_FAILED {id, error}         answers INIT; the worker is unusable
//                    REPLY        {id, payload, buffers, raised, returned}   answers CALL
//                    CALL_FAILED  {id, error, returned}   answers CALL; the worker is still usable
//                    CRASHED      {id, error}         the runtime died (wasm trap, abort)
//
// Interrupts: when the pool gives up on a running task (timeout, abort) and
// the worker has an interruptBuffer, the pool stores 2 (SIGINT) in it and
// posts STOP; Python raises KeyboardInterrupt in the task, whose REPLY then
// frees the worker. The pool clears the buffer before each CALL and the
// worker after each task, so an interrupt reaches only its own task.
//
// A REPLY's payload is a webpickle stream of the task's result, or, when
// `raised` is true, of the tuple (exception, traceback_text). `buffers` are a
// stream's protocol-5 out-of-band buffers, in order. Buffers always move by
// transfer (see transferList), never by structured-clone copy; `returned`
// sends the CALL's buffers home once copied into the worker, for reuse.

export const MessageType = Object.freeze({
  INIT: "init",
  CALL: "call",
  STOP: "stop",
  SNAPSHOT: "snapshot",
  READY: "ready",
  START_FAILED: "start-failed",
  REPLY: "reply",
  CALL_FAILED: "call-failed",
  CRASHED: "crashed",
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

/** An Error with the given name; `cause` is kept when given. */
export function makeError(name, message, cause) {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = name;
  return error;
}

/** What is posted for an error: {name, message, stack}, all strings. */
export function errorToWire(error) {
  if (error instanceof Error || (error && typeof error === "object" && "message" in error)) {
    return {
      name: String(error.name ?? "Error"),
      message: String(error.message ?? ""),
      stack: String(error.stack ?? ""),
    };
  }
  return { name: "Error", message: String(error), stack: "" };
}

/** Rebuild an Error from {name, message, stack}; its stack is the remote one. */
export function errorFromWire(wire) {
  const error = makeError(wire?.name ?? "Error", wire?.message ?? "unknown error");
  if (wire?.stack) error.stack = wire.stack;
  return error;
}

/** The distinct ArrayBuffers under `views`, for postMessage's transfer list (naming one twice throws). */
export function transferList(views) {
  const list = [];
  for (const view of views) {
    if (view?.buffer instanceof ArrayBuffer && !list.includes(view.buffer)) list.push(view.buffer);
  }
  return list;
}
