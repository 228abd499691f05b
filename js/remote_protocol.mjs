// The wire format of webpickle's remote calls (python -m webpickle.server):
// header names, the canonical texts that are signed, error names. The same
// scheme as src/webpickle/_signing.py; both are held to the known-answer
// vectors in js/test/remote.test.mjs and tests/remote/test_signing.py.
//
//   request   POST /call, body: webpickle.dumps((fn, args, kwargs))
//             X-Webpickle-Server       the server's id, from GET /health (new at each start)
//             X-Webpickle-Timestamp    integer seconds since the Unix epoch, in digits
//             X-Webpickle-Nonce        16-64 of [A-Za-z0-9_-], new for every request
//             X-Webpickle-Python       the Python minor version that made the body ("3.14")
//             X-Webpickle-Timeout      seconds the call may run ("" for no limit)
//             X-Webpickle-Body-Length  the body's length in bytes
//             X-Webpickle-Body-SHA256  the body's SHA-256 in lowercase hex
//             X-Webpickle-Signature    hex HMAC-SHA256 of requestText(...): the headers alone
//                                      prove the key, before the server reads the body
//   response  200: body pickles the result (X-Webpickle-Raised "0") or
//             (exception, traceback text, frames) ("1"); else JSON {error, message}.
//             X-Webpickle-Timestamp, X-Webpickle-Raised, and, once the request
//             proved the key, X-Webpickle-Signature of responseText(...), which
//             names the REQUEST's nonce: a reply answers one request only.

export const Header = Object.freeze({
  SERVER: "X-Webpickle-Server",
  TIMESTAMP: "X-Webpickle-Timestamp",
  NONCE: "X-Webpickle-Nonce",
  PYTHON: "X-Webpickle-Python",
  TIMEOUT: "X-Webpickle-Timeout",
  BODY_LENGTH: "X-Webpickle-Body-Length",
  BODY_SHA256: "X-Webpickle-Body-SHA256",
  SIGNATURE: "X-Webpickle-Signature",
  RAISED: "X-Webpickle-Raised",
});

/** Seconds a request's timestamp may differ from the server's clock. */
export const WINDOW_S = 60;
export const MIN_KEY_BYTES = 16;

/**
 * The error kind of a 401 for a request signed for another server id (another server, or
 * this one before a restart): the call did not run, and may be signed again for the new id.
 */
export const SERVER_MISMATCH = "ServerMismatchError";

/** The `name` of the Errors callRemote rejects with (the server's error kinds, mostly). */
export const RemoteErrorName = Object.freeze({
  AUTHENTICATION: "AuthenticationError", // 401, or a reply not signed for this request
  VERSION: "VersionMismatchError", // 409: the server runs another Python minor version
  TOO_LARGE: "PayloadTooLargeError", // 413: the body is over the server's --max-body
  CRASHED: "WorkerCrashedError", // the process or Dask worker running the call died
  TIMEOUT: "TimeoutError", // the call ran past its timeout (504), or no answer in time
  REMOTE: "RemoteError", // anything else the server could not do, or an unreachable server
});

/**
 * The text a request's signature covers: each field as its header is sent; bodyHash is the
 * body's SHA-256 in lowercase hex.
 */
export function requestText({ method, path, server, timestamp, nonce, python, timeout, bodyLength, bodyHash }) {
  return ["webpickle-request-v2", method.toUpperCase(), path, server, String(timestamp), nonce, python, timeout,
    String(bodyLength), bodyHash].join("\n");
}

/** The text a response's signature covers; raised is "0", "1", or "" for an error reply. */
export function responseText({ status, timestamp, nonce, raised, bodyHash }) {
  return ["webpickle-response-v1", String(status), String(timestamp), nonce, raised, bodyHash].join("\n");
}
