// Type declarations for pool.mjs (and the parts of protocol.mjs users see).

/** Names of the Errors a call rejects with (Error.name). */
export type PoolErrorName =
  | "TimeoutError" // the task ran past its timeout; it was interrupted (or, without interrupts, its worker replaced)
  | "AbortError" // the call's AbortSignal fired
  | "WorkerCrashedError" // the worker's runtime died during the task (wasm trap, abort); it was replaced
  | "WorkerStartError" // no worker could start (bad indexURL, missing wheel, ...)
  | "PoolTerminatedError" // pool.terminate() ran before the task finished
  | "WorkerCallError"; // the worker could not run the message (not the task's own exception)

/** What a worker failure rejects with: an Error whose name is a PoolErrorName. */
export interface PoolError extends Error {
  name: PoolErrorName;
  message: string;
  stack: string;
  cause?: unknown;
}

export interface WorkerPoolOptions {
  /** Where workers load Pyodide from: the page's own indexURL (in Node, a folder path). Required. */
  indexURL: string;
  /** Number of workers. Default: navigator.hardwareConcurrency, else 2. */
  size?: number;
  /** More Pyodide packages each worker loads by name. Default: none. */
  packages?: string[];
  /** URL (or Node path) of the webpickle wheel. Default: "webpickle" by name from the lock file. */
  wheelURL?: string;
  /** Passed to each worker's loadPyodide. Default: Pyodide's own defaults. */
  lockFileURL?: string;
  lockFileContents?: object | string;
  packageBaseUrl?: string;
  /** Default per-call timeout in milliseconds. Default: none. */
  timeout?: number;
  /**
   * Milliseconds a task interrupted by its timeout or its AbortSignal may take
   * to stop (KeyboardInterrupt in Python) before its worker is replaced anyway,
   * e.g. a task blocked in C code. Interrupts need a SharedArrayBuffer (Node; a
   * cross-origin isolated page). 0: no interrupts, replace at once. Default: 1000.
   */
  interruptGrace?: number;
  /**
   * Start workers from one memory snapshot of a freshly booted Pyodide: the
   * first worker makes it, the others, later pools and replacements restore
   * it. Falls back to a normal start (see stats) where Pyodide lacks the
   * private options. Default: true.
   */
  snapshot?: boolean;
  /**
   * Keep the snapshot across page loads: true uses Cache Storage where the page
   * may (secure contexts; in Node nothing), a string is a directory (Node),
   * false keeps none. Default: true.
   */
  snapshotCache?: boolean | string;
  /** The worker script. Default: worker.mjs next to pool.mjs. */
  workerURL?: string | URL;
  /** Bytes of function streams each worker keeps loaded (least recently used first out). Default: 256 MiB. */
  functionCacheBytes?: number;
  /** Bytes of spare buffers kept for takeBuffer(). Default: 256 MiB; 0 keeps none. */
  spareBytes?: number;
  /** Called as each worker (a replacement too) becomes ready. */
  onWorkerReady?: (info: { index: number; ms: number; startup: WorkerStartup | null }) => void;
  /** Called when a worker fails to start or dies. */
  onWorkerError?: (info: { index: number; error: Error }) => void;
  /** For tests: starts a worker and returns its port. Default: a module Web Worker or a Node worker thread. */
  spawn?: (url: string | URL, name: string) => WorkerPort;
}

/** The small interface the pool drives a worker through (see spawn.mjs). */
export interface WorkerPort {
  post(message: unknown, transfer?: Transferable[]): void;
  terminate(): void;
  onmessage: ((message: any) => void) | null;
  onerror: ((error: Error) => void) | null;
}

export interface CallOptions {
  /** The stream's protocol-5 out-of-band buffers, in order. Transferred: detached here once sent. */
  buffers?: (ArrayBuffer | Uint8Array)[];
  /** Milliseconds the task may run. Default: the pool's timeout, else none. */
  timeout?: number;
  /** Aborting drops a queued task, or interrupts a running one (see interruptGrace). */
  signal?: AbortSignal;
  /**
   * The function, pickled once: payload then pickles (args, kwargs) only. The
   * stream is posted to each worker once; later calls carry the digest alone.
   * A stream on a SharedArrayBuffer (functionBuffer()) reaches every worker
   * without a copy; a plain one is copied for each worker and transferred.
   */
  fn?: { digest: string; stream: Uint8Array };
}

export interface PostedStats {
  /** CALL messages posted (a call sent again after a miss counts twice). */
  calls: number;
  /** Bytes of their payloads and buffers. */
  payloadBytes: number;
  /** Function streams posted, and their bytes: once per worker and function, plus re-sends after misses. */
  functions: number;
  functionBytes: number;
  /** Calls sent again with their function because the worker had evicted it. */
  functionMisses: number;
}

export interface PoolStats {
  /** What the pool posted to its workers so far. */
  posted: PostedStats;
  /** What the workers start from: use is "made", "restored", "from cache", "not used" or "pending". */
  snapshot: { use: string; reason: string | null; bytes: number | null };
  interrupt: { available: boolean; reason: string | null; graceMs: number };
  workers: { index: number; ms: number | null; snapshot: string | null; reason: string | null; heapBytes: number | null }[];
}

export interface Reply {
  /** A webpickle stream: the result, or (exception, traceback_text, frames) when raised is true (webpickle._call). */
  payload: Uint8Array;
  /** The reply stream's out-of-band buffers, in order. */
  buffers: Uint8Array[];
  raised: boolean;
}

/** How a worker started: "made" the snapshot, restored it, restored it from the cache, or a normal start. */
export type SnapshotUse = "made" | "restored" | "from cache" | "not used";

export interface WorkerStartup {
  snapshot: SnapshotUse;
  /** Why no snapshot was used (null when one was). */
  reason: string | null;
  /** The worker's wasm memory once ready, or null where Pyodide does not tell. */
  heapBytes: number | null;
}

export interface PoolStats {
  snapshot: { use: SnapshotUse | "pending"; reason: string | null; bytes: number | null };
  interrupt: { available: boolean; reason: string | null; graceMs: number };
  workers: { index: number; ms: number | null; snapshot: SnapshotUse | null; reason: string | null; heapBytes: number | null }[];
}

export interface WorkerInfo {
  index: number;
  /** "stopping": its task was given up on and interrupted; it is free once the task stops. */
  state: "starting" | "idle" | "busy" | "stopping" | "failed";
  /** Start-up time of the current worker in this slot, in ms; null until ready. */
  readyMs: number | null;
}

export declare class WorkerPool {
  /** Starts the workers at once; calls queue until one is ready. */
  constructor(options: WorkerPoolOptions);
  /** A started pool: resolves once every worker is ready; on failure terminates it and rejects. */
  static start(options: WorkerPoolOptions): Promise<WorkerPool>;
  /** Settles when every first worker has started; rejects with the first start-up error. */
  readonly ready: Promise<void>;
  readonly size: number;
  readonly workers: WorkerInfo[];
  /** How the workers started (milliseconds, snapshot use and why) and whether they can be interrupted. */
  readonly stats: PoolStats;
  /** Calls waiting for a worker. */
  readonly queued: number;
  /** How the workers started, how they are stopped, and what was posted to them. */
  readonly stats: PoolStats;
  /** Run a webpickle stream of (function, args, kwargs) on the next free worker. */
  call(payload: Uint8Array, options?: CallOptions): Promise<Reply>;
  /** A Uint8Array to fill and pass in buffers: a reused spare when one fits, else new. */
  takeBuffer(byteLength: number): Uint8Array;
  /**
   * A Uint8Array to hold a function's stream for call()'s fn: on a SharedArrayBuffer where this
   * thread may post one (Node; a cross-origin isolated page), else a plain one.
   */
  functionBuffer(byteLength: number): Uint8Array;
  /** Hand buffers you are done with (a reply's, once read) to takeBuffer(). */
  recycle(buffers: (ArrayBuffer | Uint8Array)[]): void;
  /** Stop every worker; unfinished calls reject with PoolTerminatedError. */
  terminate(): void;
}
