// Send a pickled call to a webpickle server (python -m webpickle.server) from
// JavaScript: sign it with the shared key, post it, and check the reply's
// signature before handing its bytes back. Signing uses WebCrypto
// (crypto.subtle): browsers in a secure context (https:, or a page on
// localhost / 127.0.0.1) and Node 24.
//
//   import { callRemote } from "./remote.mjs";
//   // payload: webpickle.dumps((fn, args, kwargs)) from a Pyodide, as a Uint8Array
//   const reply = await callRemote("http://127.0.0.1:8765/", key, payload, { python: "3.14" });
//   // reply.payload pickles the result, or (exception, traceback text, frames) when reply.raised
//
// Unpickle reply.payload in a Python of the same minor version; it is handed
// back only when its signature holds. Python callers in Pyodide or CPython use
// webpickle.remote.RemoteExecutor instead.

import { makeError } from "./errors.mjs";
import { Header, MIN_KEY_BYTES, RemoteErrorName, requestText, responseText, SERVER_MISMATCH }
  from "./remote_protocol.mjs";

export { Header, RemoteErrorName } from "./remote_protocol.mjs";

/** @typedef {import("./remote.mjs").RemoteKey} RemoteKey */

/** Milliseconds the client waits past a call's timeout for the server's own 504. */
const TIMEOUT_GRACE_MS = 30_000;
const encoder = new TextEncoder();

function subtle() {
  const api = globalThis.crypto?.subtle;
  if (!api) {
    throw new Error("crypto.subtle is unavailable: WebCrypto only exists in secure contexts; serve the page " +
      "over https:, or from localhost / 127.0.0.1");
  }
  return api;
}

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

function fromHex(text) {
  if (typeof text !== "string" || !/^[0-9a-f]{64}$/.test(text)) return null;
  return Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
}

/**
 * `data`'s bytes as a Uint8Array (a view, not a copy). WebCrypto and fetch take views on an
 * ArrayBuffer, which is what this client is given (a SharedArrayBuffer's would be refused there).
 * @param {Uint8Array | ArrayBuffer | ArrayBufferView} data
 * @returns {Uint8Array<ArrayBuffer>}
 */
function asBytes(data) {
  if (data instanceof Uint8Array) return /** @type {Uint8Array<ArrayBuffer>} */ (data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(/** @type {ArrayBuffer} */ (data.buffer), data.byteOffset, data.byteLength);
  }
  throw new TypeError(`expected a Uint8Array or ArrayBuffer, not ${Object.prototype.toString.call(data)}`);
}

/**
 * The HMAC key as a CryptoKey: from a string (its UTF-8 bytes, as the server
 * reads its --key-file), bytes, or a CryptoKey (used as it is).
 * @param {RemoteKey} key
 * @returns {Promise<CryptoKey>}
 */
export async function importKey(key) {
  if (typeof CryptoKey !== "undefined" && key instanceof CryptoKey) return key;
  // tsc cannot narrow key by the test above (it also fails where CryptoKey is undefined).
  const bytes = typeof key === "string" ? encoder.encode(key) : asBytes(/** @type {Uint8Array | ArrayBuffer} */ (key));
  if (bytes.length < MIN_KEY_BYTES) {
    throw new RangeError(`the key has ${bytes.length} bytes; use at least ${MIN_KEY_BYTES}`);
  }
  return subtle().importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** @param {Uint8Array<ArrayBuffer>} bytes */
async function sha256Hex(bytes) {
  return hex(await subtle().digest("SHA-256", bytes));
}

function newNonce() {
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * The headers that sign a request. Options: server (the server's id, from its
 * /health; required), method ("POST"), path ("/call"), body (bytes), python
 * ("3.14", required), timeout (seconds, or null for none), and for tests now
 * (seconds) and nonce.
 * @param {RemoteKey} key
 * @param {import("./remote.mjs").SignRequestOptions} options
 * @returns {Promise<Record<string, string>>}
 */
export async function signRequest(key, { server, method = "POST", path = "/call", body, python, timeout = null,
  now = Date.now() / 1000, nonce = newNonce() }) {
  if (typeof python !== "string" || !/^\d+\.\d+$/.test(python)) {
    throw new TypeError(`python must be the Python minor version that pickled the body, e.g. "3.14", ` +
      `not ${JSON.stringify(python)}`);
  }
  if (typeof server !== "string" || !/^[A-Za-z0-9_-]{16,64}$/.test(server)) {
    throw new TypeError(`server must be the server's id from its /health, not ${JSON.stringify(server)}`);
  }
  const cryptoKey = await importKey(key);
  const bytes = asBytes(body);
  const fields = { server, timestamp: String(Math.floor(now)), nonce, python,
    timeout: timeout == null ? "" : String(timeout), bodyLength: String(bytes.length),
    bodyHash: await sha256Hex(bytes) };
  const signature = hex(await subtle().sign("HMAC", cryptoKey, encoder.encode(requestText({ method, path,
    ...fields }))));
  return { [Header.SERVER]: server, [Header.TIMESTAMP]: fields.timestamp, [Header.NONCE]: nonce,
    [Header.PYTHON]: python, [Header.TIMEOUT]: fields.timeout, [Header.BODY_LENGTH]: fields.bodyLength,
    [Header.BODY_SHA256]: fields.bodyHash, [Header.SIGNATURE]: signature };
}

/** Server ids by /health URL: asked once per server, and again after it restarts. */
const serverIds = new Map();

/**
 * The id of the server at `url` (its /health's server_id); asked again when `stale` is the one known.
 * @param {string} url
 * @param {{fetch?: typeof globalThis.fetch, signal?: AbortSignal, stale?: string}} [options]
 * @returns {Promise<string>}
 */
export async function serverId(url, { fetch = globalThis.fetch, signal, stale } = {}) {
  const healthURL = String(new URL("health", url.endsWith("/") ? url : `${url}/`));
  const known = serverIds.get(healthURL);
  if (known !== undefined && known !== stale) return known;
  let response;
  try {
    response = await fetch(healthURL, { redirect: "error", signal });
  } catch (error) {
    if (error?.name === "AbortError" && signal?.aborted) throw error;
    throw makeError(RemoteErrorName.REMOTE, `could not reach the server at ${healthURL}: ${error?.message ?? error} ` +
      "(in a browser: is the page's origin given to the server with --allow-origin?)", { cause: error });
  }
  const id = response.ok ? (await response.json().catch(() => ({}))).server_id : undefined;
  if (typeof id !== "string") {
    throw makeError(RemoteErrorName.REMOTE, `${healthURL} answered HTTP ${response.status} with no server id: ` +
      "is it a webpickle server of this version?", { status: response.status });
  }
  serverIds.set(healthURL, id);
  return id;
}

/**
 * Whether a reply is signed with key for the request that had `nonce` (headers: a Headers or a plain object).
 * @param {RemoteKey} key
 * @param {{status: number, headers: Headers | Record<string, string>, nonce: string,
 *   body: Uint8Array | ArrayBuffer}} reply
 * @returns {Promise<boolean>}
 */
export async function responseIsAuthentic(key, { status, headers, nonce, body }) {
  // Duck-typed: a fetch passed in options may have its own Headers class.
  /** @param {string} name */
  const get = (name) => (typeof headers.get === "function" ? /** @type {Headers} */ (headers).get(name)
    : headers[name] ?? headers[name.toLowerCase()]);
  const timestamp = get(Header.TIMESTAMP);
  const signature = fromHex(get(Header.SIGNATURE));
  if (timestamp == null || signature === null) return false;
  const text = responseText({ status, timestamp, nonce, raised: get(Header.RAISED) ?? "",
    bodyHash: await sha256Hex(asBytes(body)) });
  // verify() compares in constant time.
  return subtle().verify("HMAC", await importKey(key), signature, encoder.encode(text));
}

/**
 * Run a pickled call on the server at `url`. Resolves to {payload, raised}
 * (payload: a Uint8Array, verified). Rejects with an Error whose name is a
 * RemoteErrorName (and .status, the HTTP status, when there was an answer).
 * Options: python (required: the Python minor version that pickled the
 * payload), timeout (milliseconds the call may run; default none), signal
 * (an AbortSignal), fetch (default: globalThis.fetch). The request is signed
 * for the server's id, asked of its /health once and again if it restarted.
 * @param {string} url
 * @param {RemoteKey} key
 * @param {Uint8Array | ArrayBuffer} payload
 * @param {Partial<import("./remote.mjs").CallRemoteOptions>} [options] python is required (see remote.d.mts)
 * @returns {Promise<import("./remote.mjs").RemoteReply>}
 */
export async function callRemote(url, key, payload, { python, timeout = null, signal, fetch = globalThis.fetch } = {}) {
  const cryptoKey = await importKey(key);
  let server = await serverId(url, { fetch, signal });
  let outcome = await postCall(url, cryptoKey, payload, { server, python, timeout, signal, fetch });
  if (outcome.kind === SERVER_MISMATCH) {
    // The server restarted since its id was asked: it refused the call without running it.
    server = await serverId(url, { fetch, signal, stale: server });
    outcome = await postCall(url, cryptoKey, payload, { server, python, timeout, signal, fetch });
  }
  if (outcome.error) throw outcome.error;
  return outcome.reply;
}

/** One signed POST /call: {reply} or {error, kind}. */
async function postCall(url, cryptoKey, payload, { server, python, timeout, signal, fetch }) {
  const callURL = new URL("call", url.endsWith("/") ? url : `${url}/`);
  const body = asBytes(payload);
  const headers = await signRequest(cryptoKey, { server, path: callURL.pathname + callURL.search, body, python,
    timeout: timeout == null ? null : timeout / 1000 });
  const signals = [signal, timeout == null ? null : AbortSignal.timeout(timeout + TIMEOUT_GRACE_MS)].filter(Boolean);
  let response;
  try {
    response = await fetch(callURL, { method: "POST", body, redirect: "error",
      headers: { ...headers, "Content-Type": "application/octet-stream" },
      signal: signals.length ? AbortSignal.any(signals) : undefined });
  } catch (error) {
    if (error?.name === "AbortError" && signal?.aborted) throw error;
    if (error?.name === "TimeoutError" || error?.name === "AbortError") {
      throw makeError(RemoteErrorName.TIMEOUT, `no answer from ${callURL} within ${timeout + TIMEOUT_GRACE_MS} ms`);
    }
    throw makeError(RemoteErrorName.REMOTE, `could not reach the server at ${callURL}: ${error?.message ?? error} ` +
      "(in a browser: is the page's origin given to the server with --allow-origin?)", { cause: error });
  }
  const reply = new Uint8Array(await response.arrayBuffer());
  const authentic = await responseIsAuthentic(cryptoKey, { status: response.status, headers: response.headers,
    nonce: headers[Header.NONCE], body: reply });
  if (response.status === 200) {
    if (!authentic) {
      throw makeError(RemoteErrorName.AUTHENTICATION, "the server's reply is not signed with the key, or not " +
        "for this request (altered or replayed on the way?): refused", { status: 200 });
    }
    return { reply: { payload: reply, raised: response.headers.get(Header.RAISED) === "1" } };
  }
  return errorFromReply(response.status, reply, authentic);
}

function errorFromReply(status, reply, authentic) {
  let kind = "";
  let message = `HTTP ${status}`;
  try {
    ({ error: kind, message } = JSON.parse(new TextDecoder().decode(reply)));
  } catch {
    message = `HTTP ${status}: ${new TextDecoder().decode(reply.subarray(0, 300))}`;
  }
  if (!authentic && ![401, 403].includes(status)) message += " (this answer is not signed by the server)";
  const name = status === 504 ? RemoteErrorName.TIMEOUT
    : kind === SERVER_MISMATCH ? RemoteErrorName.AUTHENTICATION
    : /** @type {readonly string[]} */ (Object.values(RemoteErrorName)).includes(kind) ? kind : RemoteErrorName.REMOTE;
  return { kind, error: makeError(name, message, { status, signed: authentic }) };
}
