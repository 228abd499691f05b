// A stand-in for worker.mjs that speaks the protocol over a MessageChannel in
// this thread, so pool.mjs's logic can be tested without Pyodide. Not a test
// file; pool.test.mjs imports it.
//
// The "task" is the payload's text: "echo:X" replies X; "hang" never replies;
// "crash" posts CRASHED; "throw" fires the port's onerror (an uncaught error);
// "fail" posts CALL_FAILED; "raise" replies with raised = true; "loop" runs
// until its interrupt buffer says 2 (as Python does), then replies raised;
// "late" replies 30 ms later whatever happens. Buffers come
// back in the reply as they came (their byte lengths are reported) and, as
// worker.mjs does, as `returned`. A call with a digest needs its function
// loaded (kept in `functions`; "evict" forgets them first) and else answers
// FUNCTION_MISSING; `ran` lists the tasks run by digest.

import { MessageType, transferList } from "../protocol.mjs";

const text = (bytes) => new TextDecoder().decode(bytes);
export const bytes = (string) => new TextEncoder().encode(string);

/**
 * A spawn function for WorkerPool plus what the tests look at:
 * `spawned` (every fake started, in order), each with `received` (messages),
 * `terminated`, `running` (calls in progress, never above 1 if the pool is right).
 * `startWith(index)` says how fake number `index` answers INIT: "ready"
 * (default), a delay in ms before ready, a Promise (ready once it resolves),
 * "fail" or "silent". An INIT of snapshot mode "await" starts when its
 * SNAPSHOT_PLAN comes; each fake's `plan` is the snapshot plan it started with.
 */
export function fakeWorkers({ startWith = () => "ready", readyDelayMs = 0, snapshotWith = () => "snap" } = {}) {
  const spawned = [];
  function spawn(url, name) {
    const { port1, port2 } = new MessageChannel();
    const fake = { index: spawned.length, url, name, received: [], terminated: false, running: 0, maxRunning: 0,
      functions: new Set(), ran: [] };
    spawned.push(fake);
    const port = {
      post: (message, transfer) => port1.postMessage(message, transfer),
      terminate: () => { fake.terminated = true; port1.close(); port2.close(); },
      onmessage: null,
      onerror: null,
    };
    port1.onmessage = (event) => port.onmessage?.(event.data);
    const reply = (message, transfer = []) => { if (!fake.terminated) port2.postMessage(message, transfer); };
    const begin = (message, plan) => {
      fake.plan = plan;
      if (plan?.mode === "make") {
        // snapshotWith: the bytes' text, or {reason} for a worker that could not make one
        const made = snapshotWith(fake.index);
        if (typeof made === "string") reply({ type: MessageType.SNAPSHOT, id: message.id, bytes: bytes(made) });
        else if (made) reply({ type: MessageType.SNAPSHOT, id: message.id, reason: made.reason });
      }
      fake.startup = plan?.mode === "restore"
        ? { snapshot: plan.use, reason: null, heapBytes: 1, restored: text(plan.bytes) }
        : { snapshot: plan?.mode === "make" ? "made" : "not used", reason: plan?.reason ?? null, heapBytes: 1 };
      const how = startWith(fake.index);
      // A number: ready after that many ms.
      if (how === "ready" || typeof how === "number") {
        setTimeout(() => reply({ type: MessageType.READY, id: message.id, ms: 1, startup: fake.startup }),
          typeof how === "number" ? how : readyDelayMs);
      }
      if (how instanceof Promise) how.then(() => reply({ type: MessageType.READY, id: message.id, ms: 1, startup: fake.startup }));
      if (how === "fail") reply({ type: MessageType.START_FAILED, id: message.id, error: { name: "Error", message: "no Pyodide here", stack: "" } });
    };
    port2.onmessage = ({ data: message }) => {
      fake.received.push(message);
      if (message.type === MessageType.STOP) return;
      if (message.type === MessageType.INIT) {
        fake.interrupt = message.interruptBuffer ? new Int32Array(message.interruptBuffer) : null;
        fake.init = message;
        if (message.snapshot?.mode !== "await") begin(message, message.snapshot);
        return;
      }
      if (message.type === MessageType.SNAPSHOT_PLAN) {
        begin(fake.init, message.plan);
        return;
      }
      fake.running += 1;
      fake.maxRunning = Math.max(fake.maxRunning, fake.running);
      const task = text(message.payload);
      const done = () => { fake.running -= 1; };
      if (message.digest !== undefined) { // a call by digest: like worker.mjs, it needs the function loaded
        if (task === "evict") fake.functions.clear();
        if (message.function) fake.functions.add(message.digest);
        if (!fake.functions.has(message.digest)) {
          done();
          reply({ type: MessageType.FUNCTION_MISSING, id: message.id, digest: message.digest, returned: message.buffers },
            transferList(message.buffers));
          return;
        }
        fake.ran.push(task);
      }
      if (task === "hang") return;
      if (task === "loop" || task === "late") {
        const started = Date.now();
        const poll = setInterval(() => {
          if (fake.terminated) { clearInterval(poll); return; }
          const interrupted = task === "loop" && fake.interrupt && Atomics.load(fake.interrupt, 0) === 2;
          if (!interrupted && (task === "loop" || Date.now() - started < 30)) return;
          clearInterval(poll);
          if (interrupted) Atomics.store(fake.interrupt, 0, 0); // Python clears what it handled
          fake.interrupts = (fake.interrupts ?? 0) + (interrupted ? 1 : 0);
          done();
          reply({ type: MessageType.REPLY, id: message.id, payload: bytes(interrupted ? "KeyboardInterrupt" : "late"),
            raised: interrupted, buffers: [], returned: message.buffers });
        }, 1);
        return;
      }
      if (task === "crash") { done(); reply({ type: MessageType.CRASHED, id: message.id, error: { name: "RuntimeError", message: "unreachable", stack: "" } }); return; }
      if (task === "throw") { done(); port.onerror?.(new Error("uncaught in the fake worker")); return; }
      if (task === "fail") { done(); reply({ type: MessageType.CALL_FAILED, id: message.id, error: { name: "Error", message: "bad message", stack: "" } }); return; }
      const sizes = message.buffers.map((b) => b.byteLength).join(",");
      const payload = bytes(task === "raise" ? "ValueError" : `${task.replace(/^echo:/, "")}|${sizes}`);
      done();
      // Like worker.mjs: fresh reply buffers, and the call's buffers sent home as `returned`.
      const out = message.buffers.map((b) => new Uint8Array(b));
      reply({ type: MessageType.REPLY, id: message.id, payload, raised: task === "raise", buffers: out, returned: message.buffers },
        transferList([payload, ...out, ...message.buffers]));
    };
    return port;
  }
  return { spawn, spawned };
}

export { text };
