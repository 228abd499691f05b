// Unit tests of remote.mjs and remote_protocol.mjs: the signing scheme's
// known-answer vectors (shared with tests/remote/test_signing.py), and
// callRemote against a fake fetch that plays the server. No server needed.
//
//   bash wasm/toolchain.sh run node --test js/test/remote.test.mjs
//
// tests/remote/test_js_client.py runs callRemote against the real server.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { callRemote, Header, importKey, RemoteErrorName, responseIsAuthentic, signRequest } from "../remote.mjs";
import { requestText, responseText, SERVER_MISMATCH } from "../remote_protocol.mjs";

const VECTOR_KEY = "webpickle-known-answer-key-0001";
const VECTOR_NONCE = "0123456789abcdef0123456789abcdef";
const bytes = (...values) => Uint8Array.from(values);
const VECTOR_SERVER = "server-id-0123456789";
const REQUEST_SIGNATURE = "137209935d79799ed852d9e5213da8a178be50c8aac22eaef1c7e3934daafc89";
const RESPONSE_VECTORS = [
  { status: 200, timestamp: "1700000001", raised: "0", body: bytes(0x80, 0x05, 0x4b, 0x07, 0x2e),
    signature: "9837ba97bcf7e2fd04bc77352114ce002c5da933d8ae8bfd72e2902383f73a8d" },
  { status: 409, timestamp: "1700000001", raised: "", body: new TextEncoder().encode("{}"),
    signature: "d38a005589379483fbeefc621929cc83f6f33c955e39adedcdecd1cdcb3b020b" },
];
const KEY = "a-test-key-for-the-fake-server-0123";

test("request vector: the same signature as webpickle._signing", async () => {
  const body = bytes(0x80, 0x05, 0x4e, 0x2e);
  const headers = await signRequest(VECTOR_KEY, { server: VECTOR_SERVER, body, python: "3.14",
    timeout: 2.5, now: 1700000000.9, nonce: VECTOR_NONCE });
  assert.deepEqual(headers, {
    [Header.SERVER]: VECTOR_SERVER, [Header.TIMESTAMP]: "1700000000", [Header.NONCE]: VECTOR_NONCE,
    [Header.PYTHON]: "3.14", [Header.TIMEOUT]: "2.5", [Header.BODY_LENGTH]: "4",
    [Header.BODY_SHA256]: createHash("sha256").update(body).digest("hex"), [Header.SIGNATURE]: REQUEST_SIGNATURE,
  });
});

test("response vectors verify, and fail when anything they cover changes", async () => {
  for (const { status, timestamp, raised, body, signature } of RESPONSE_VECTORS) {
    const headers = { [Header.TIMESTAMP]: timestamp, [Header.RAISED]: raised, [Header.SIGNATURE]: signature };
    const reply = { status, headers, nonce: VECTOR_NONCE, body };
    assert.equal(await responseIsAuthentic(VECTOR_KEY, reply), true);
    assert.equal(await responseIsAuthentic(VECTOR_KEY, { ...reply, headers: new Headers(headers) }), true);
    assert.equal(await responseIsAuthentic(VECTOR_KEY, { ...reply, nonce: "another-nonce-0123456789" }), false);
    assert.equal(await responseIsAuthentic(VECTOR_KEY, { ...reply, status: status + 1 }), false);
    assert.equal(await responseIsAuthentic(VECTOR_KEY, { ...reply, body: bytes(...body, 0) }), false);
    assert.equal(await responseIsAuthentic(VECTOR_KEY, { ...reply, headers: { ...headers, [Header.RAISED]: "1" } }),
      false);
    assert.equal(await responseIsAuthentic("another-key-of-enough-bytes", reply), false);
    assert.equal(await responseIsAuthentic(VECTOR_KEY, { ...reply, headers: { [Header.TIMESTAMP]: timestamp } }),
      false);
  }
});

test("canonical texts are the documented lines, hashed with node:crypto as a second opinion", () => {
  const body = Buffer.from([0x80, 0x05, 0x4e, 0x2e]);
  const text = requestText({ method: "post", path: "/call", server: VECTOR_SERVER, timestamp: 1700000000,
    nonce: VECTOR_NONCE, python: "3.14", timeout: "2.5", bodyLength: 4,
    bodyHash: createHash("sha256").update(body).digest("hex") });
  assert.equal(text.split("\n")[0], "webpickle-request-v2");
  assert.equal(text.split("\n")[1], "POST");
  assert.equal(createHmac("sha256", VECTOR_KEY).update(text).digest("hex"), REQUEST_SIGNATURE);
  const reply = responseText({ status: 409, timestamp: "1700000001", nonce: VECTOR_NONCE, raised: "",
    bodyHash: createHash("sha256").update("{}").digest("hex") });
  assert.equal(createHmac("sha256", VECTOR_KEY).update(reply).digest("hex"), RESPONSE_VECTORS[1].signature);
});

test("keys: short ones and a missing python version are refused with what to do", async () => {
  await assert.rejects(importKey("short"), /the key has 5 bytes; use at least 16/);
  await assert.rejects(signRequest(KEY, { server: VECTOR_SERVER, body: bytes(1) }),
    /python must be the Python minor version/);
  await assert.rejects(signRequest(KEY, { body: bytes(1), python: "3.14" }), /server must be the server's id/);
  const cryptoKey = await importKey(new TextEncoder().encode(KEY));
  assert.equal(cryptoKey.algorithm.name, "HMAC");
  assert.equal(await importKey(cryptoKey), cryptoKey);
});

/**
 * A fetch that plays the server: checks the request's signature as the
 * server would, then answers with `answer(request)`'s {status, body, raised},
 * signed unless `tamper` changes it afterwards.
 */
let fakeServers = 0;

function fakeServer({ answer, tamper = (reply) => reply, key = KEY, ids = [`fake-server-${++fakeServers}-0123456789`] }) {
  const seen = [];
  const fetch = async (url, init = {}) => {
    if (new URL(url).pathname.endsWith("/health")) {
      seen.push({ url: String(url), health: true });
      return Response.json({ status: "ok", server_id: ids[0] });
    }
    const headers = new Headers(init.headers);
    const body = new Uint8Array(init.body);
    const expected = createHmac("sha256", key).update(requestText({
      method: init.method, path: new URL(url).pathname, server: headers.get(Header.SERVER),
      timestamp: headers.get(Header.TIMESTAMP), nonce: headers.get(Header.NONCE), python: headers.get(Header.PYTHON),
      timeout: headers.get(Header.TIMEOUT), bodyLength: headers.get(Header.BODY_LENGTH),
      bodyHash: createHash("sha256").update(body).digest("hex") })).digest("hex");
    seen.push({ url: String(url), headers, body, signed: expected === headers.get(Header.SIGNATURE)
      && headers.get(Header.BODY_LENGTH) === String(body.length) });
    const { status, body: replyBody, raised } = answer(seen.at(-1));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac("sha256", key).update(responseText({ status, timestamp,
      nonce: headers.get(Header.NONCE), raised, bodyHash: createHash("sha256").update(replyBody).digest("hex") }))
      .digest("hex");
    const reply = tamper({ status, body: replyBody, headers: { [Header.TIMESTAMP]: timestamp, [Header.RAISED]: raised,
      [Header.SIGNATURE]: signature } });
    return new Response(reply.body, { status: reply.status, headers: reply.headers });
  };
  return { fetch, seen, ids };
}

test("callRemote signs the request and hands back a verified reply", async () => {
  const server = fakeServer({ answer: () => ({ status: 200, body: bytes(1, 2, 3), raised: "1" }) });
  const reply = await callRemote("http://127.0.0.1:1/base", KEY, bytes(9, 9), { python: "3.14", timeout: 1500,
    fetch: server.fetch });
  assert.deepEqual(reply, { payload: bytes(1, 2, 3), raised: true });
  const [health, request] = server.seen;
  assert.equal(health.url, "http://127.0.0.1:1/base/health");
  assert.equal(request.url, "http://127.0.0.1:1/base/call");
  assert.equal(request.headers.get(Header.SERVER), server.ids[0]);
  assert.equal(request.signed, true);
  assert.equal(request.headers.get(Header.TIMEOUT), "1.5");
  assert.match(request.headers.get(Header.NONCE), /^[0-9a-f]{32}$/);
  assert.ok(Math.abs(Number(request.headers.get(Header.TIMESTAMP)) - Date.now() / 1000) < 5);
});

test("callRemote refuses replies that are tampered, unsigned, or signed for another request", async () => {
  const answer = () => ({ status: 200, body: bytes(1, 2, 3), raised: "0" });
  const tampers = {
    "flipped byte": (reply) => ({ ...reply, body: bytes(1, 2, 4) }),
    "unsigned": (reply) => ({ ...reply, headers: { [Header.RAISED]: "0" } }),
    "raised flag changed": (reply) => ({ ...reply, headers: { ...reply.headers, [Header.RAISED]: "1" } }),
  };
  for (const [what, tamper] of Object.entries(tampers)) {
    const server = fakeServer({ answer, tamper });
    await assert.rejects(callRemote("http://127.0.0.1:1/", KEY, bytes(1), { python: "3.14", fetch: server.fetch }),
      (error) => error.name === RemoteErrorName.AUTHENTICATION && /refused/.test(error.message), what);
  }
  // A genuine reply, replayed onto the next request (whose nonce differs).
  let first = null;
  const replay = fakeServer({ answer, tamper: (reply) => (first ??= reply) });
  await callRemote("http://127.0.0.1:1/", KEY, bytes(1), { python: "3.14", fetch: replay.fetch });
  await assert.rejects(callRemote("http://127.0.0.1:1/", KEY, bytes(1), { python: "3.14", fetch: replay.fetch }),
    { name: RemoteErrorName.AUTHENTICATION });
});

test("callRemote turns error answers into named Errors with the server's message", async () => {
  const json = (kind, message) => new TextEncoder().encode(JSON.stringify({ error: kind, message }));
  const cases = [
    [409, "VersionMismatchError", "this server runs Python 3.14 and the client runs Python 3.13"],
    [413, "PayloadTooLargeError", "over the server's limit"],
    [500, "WorkerCrashedError", "died with SIGSEGV"],
    [504, "TimeoutError", "ran past its timeout"],
    [503, "ServiceUnavailable", "shutting down"],
  ];
  for (const [status, kind, message] of cases) {
    const server = fakeServer({ answer: () => ({ status, body: json(kind, message), raised: "" }) });
    await assert.rejects(callRemote("http://127.0.0.1:1/", KEY, bytes(1), { python: "3.13", fetch: server.fetch }),
      (error) => {
        assert.equal(error.name, kind === "ServiceUnavailable" ? "RemoteError" : kind);
        assert.equal(error.status, status);
        assert.equal(error.signed, true);
        assert.match(error.message, new RegExp(message));
        return true;
      });
  }
  const unsigned = fakeServer({ answer: () => ({ status: 500, body: json("WorkerCrashedError", "x"), raised: "" }),
    tamper: (reply) => ({ ...reply, headers: {} }) });
  await assert.rejects(callRemote("http://127.0.0.1:1/", KEY, bytes(1), { python: "3.14", fetch: unsigned.fetch }),
    (error) => error.signed === false && /not signed by the server/.test(error.message));
});

test("callRemote asks a restarted server for its new id once, and signs the call again for it", async () => {
  const json = (kind, message) => new TextEncoder().encode(JSON.stringify({ error: kind, message }));
  const server = fakeServer({ answer: ({ headers }) => (headers.get(Header.SERVER) === server.ids[0]
    ? { status: 200, body: bytes(7), raised: "0" }
    : { status: 401, body: json(SERVER_MISMATCH, "signed for another server"), raised: "" }) });
  assert.deepEqual(await callRemote("http://127.0.0.1:2/", KEY, bytes(1), { python: "3.14", fetch: server.fetch }),
    { payload: bytes(7), raised: false });
  server.ids[0] = "restarted-server-0123456789"; // the server restarted: callRemote still signs for the old id
  assert.deepEqual(await callRemote("http://127.0.0.1:2/", KEY, bytes(1), { python: "3.14", fetch: server.fetch }),
    { payload: bytes(7), raised: false });
  const servers = server.seen.filter((r) => !r.health).map((r) => r.headers.get(Header.SERVER));
  assert.deepEqual(servers, [servers[0], servers[0], "restarted-server-0123456789"]);
  assert.equal(server.seen.filter((r) => r.health).length, 2);
  // A server whose id keeps changing is not asked for ever: the second refusal is the answer.
  const fickle = fakeServer({ answer: () => ({ status: 401, body: json(SERVER_MISMATCH, "another server"),
    raised: "" }) });
  await assert.rejects(callRemote("http://127.0.0.1:3/", KEY, bytes(1), { python: "3.14", fetch: fickle.fetch }),
    { name: RemoteErrorName.AUTHENTICATION, status: 401 });
  assert.equal(fickle.seen.filter((r) => !r.health).length, 2);
});

test("callRemote reports an unreachable server as RemoteError", async () => {
  const fetch = async () => { throw new TypeError("fetch failed"); };
  await assert.rejects(callRemote("http://127.0.0.1:1/", KEY, bytes(1), { python: "3.14", fetch }),
    (error) => error.name === RemoteErrorName.REMOTE && /could not reach the server/.test(error.message));
});
