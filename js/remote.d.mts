// Type declarations for remote.mjs (and the parts of remote_protocol.mjs it re-exports).

/** Names of the Errors callRemote rejects with (Error.name). */
export type RemoteErrorNameValue =
  | "AuthenticationError" // 401, or the reply is not signed for this request (it was refused)
  | "VersionMismatchError" // 409: the server runs another Python minor version; the message names both
  | "PayloadTooLargeError" // 413: the payload is over the server's --max-body
  | "WorkerCrashedError" // the process or Dask worker running the call died (segfault, memory cap, ...)
  | "TimeoutError" // the call ran past its timeout (504), or no answer came in time
  | "RemoteError"; // anything else the server could not do, or the server could not be reached

export declare const RemoteErrorName: Readonly<{
  AUTHENTICATION: "AuthenticationError";
  VERSION: "VersionMismatchError";
  TOO_LARGE: "PayloadTooLargeError";
  CRASHED: "WorkerCrashedError";
  TIMEOUT: "TimeoutError";
  REMOTE: "RemoteError";
}>;

/** The protocol's header names. */
export declare const Header: Readonly<{
  SERVER: "X-Webpickle-Server";
  TIMESTAMP: "X-Webpickle-Timestamp";
  NONCE: "X-Webpickle-Nonce";
  PYTHON: "X-Webpickle-Python";
  TIMEOUT: "X-Webpickle-Timeout";
  BODY_LENGTH: "X-Webpickle-Body-Length";
  BODY_SHA256: "X-Webpickle-Body-SHA256";
  SIGNATURE: "X-Webpickle-Signature";
  RAISED: "X-Webpickle-Raised";
}>;

/** What callRemote rejects with when the server answered (or did not) with an error. */
export interface RemoteCallError extends Error {
  name: RemoteErrorNameValue;
  /** The HTTP status, when the server answered. */
  status?: number;
  /** Whether the error answer was signed by the server (401, 403 and 413 never are). */
  signed?: boolean;
}

/** The shared key: a string (its UTF-8 bytes, as in the server's --key-file), bytes, or a CryptoKey. */
export type RemoteKey = string | Uint8Array | ArrayBuffer | CryptoKey;

export interface CallRemoteOptions {
  /** The Python minor version that pickled the payload, e.g. "3.14" (Pyodide 314). Required. */
  python: string;
  /** Milliseconds the call may run on the server. Default: no limit. */
  timeout?: number | null;
  /** Aborting it stops waiting (the call may still run on the server to its end). */
  signal?: AbortSignal;
  /** The fetch to use. Default: globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface RemoteReply {
  /** A webpickle stream: the call's result, or (exception, traceback text, frames) when raised (webpickle._call). Its signature held. */
  payload: Uint8Array;
  raised: boolean;
}

/**
 * Sign `payload` (webpickle.dumps((fn, args, kwargs)) as bytes), post it to
 * the server at `url`, and resolve to the verified reply.
 */
export function callRemote(url: string, key: RemoteKey, payload: Uint8Array | ArrayBuffer,
  options: CallRemoteOptions): Promise<RemoteReply>;

/** The key as an HMAC-SHA256 CryptoKey; throws RangeError for keys under 16 bytes. */
export function importKey(key: RemoteKey): Promise<CryptoKey>;

export interface SignRequestOptions {
  /** The server's id, from its /health (serverId()). Required. */
  server: string;
  /** Default: "POST". */
  method?: string;
  /** Path and query the request is sent to. Default: "/call". */
  path?: string;
  body: Uint8Array | ArrayBuffer;
  /** The Python minor version that pickled the body. Required. */
  python: string;
  /** Seconds the call may run. Default: null (no limit). */
  timeout?: number | null;
  /** Seconds since the Unix epoch. Default: now. */
  now?: number;
  /** Default: 32 random hex digits. */
  nonce?: string;
}

/** The eight X-Webpickle-* headers that sign a request (the body's length and digest among them). */
export function signRequest(key: RemoteKey, options: SignRequestOptions): Promise<Record<string, string>>;

/**
 * The id of the server at `url`, from its /health; remembered per server, and
 * asked again when `stale` is the id remembered (the server restarted).
 */
export function serverId(url: string, options?: { fetch?: typeof fetch; signal?: AbortSignal; stale?: string })
  : Promise<string>;

/** Whether a reply's headers sign it, for the request that carried `nonce`. */
export function responseIsAuthentic(key: RemoteKey, reply: {
  status: number;
  headers: Headers | Record<string, string>;
  nonce: string;
  body: Uint8Array | ArrayBuffer;
}): Promise<boolean>;
