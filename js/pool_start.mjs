// How a pool's workers start: which one makes the memory snapshot, which wait
// for it, which restore it, and the INIT or SNAPSHOT_PLAN each is posted.
// pool.mjs owns the slots and their tasks; this file only brings a slot's
// worker up to READY (or to a start failure, which it hands back to the pool).
// Where the snapshot comes from (cache, memory) is snapshot.mjs's job.

import { MessageType } from "./protocol.mjs";
import { SnapshotSource, SnapshotUse, planForWorker } from "./snapshot.mjs";
import { describe } from "./errors.mjs";

/** The state of one worker slot, as reported by pool.workers ("stopping": interrupted, not yet free). */
export const State = Object.freeze({ STARTING: "starting", IDLE: "idle", BUSY: "busy", STOPPING: "stopping", FAILED: "failed" });

/**
 * One worker's place in the pool; a replacement worker takes the same slot.
 * @typedef {object} Slot
 * @property {number} index
 * @property {string} state one of State
 * @property {import("./protocol.mjs").Port | null} port
 * @property {any} task the task it runs, or null
 * @property {number} startId the id of the INIT of its current worker
 * @property {number | null} readyMs
 * @property {boolean} counted whether `ready` counted it
 * @property {import("./protocol.mjs").Startup | null} startup
 * @property {Int32Array | null} interrupt
 * @property {ReturnType<typeof setTimeout> | null} graceTimer
 * @property {Set<string>} functions digests of the function streams posted to its current worker
 * @property {boolean} awaitingPlan its worker boots up to the snapshot and waits for a SNAPSHOT_PLAN
 */

/**
 * @param {number} index
 * @returns {Slot}
 */
export function newSlot(index) {
  return { index, state: State.STARTING, port: null, task: null, startId: 0, readyMs: null, counted: false,
    startup: null, interrupt: null, graceTimer: null, functions: new Set(), awaitingPlan: false };
}

/** A pool's size when none is given, and how many workers boot side by side before a snapshot exists. */
export function defaultSize() {
  const cores = globalThis.navigator?.hardwareConcurrency;
  return Number.isInteger(cores) && cores > 0 ? cores : 2;
}

/**
 * Starts the workers of one pool's slots.
 * @typedef {object} StarterHooks
 * @property {(slot: Slot, message: any) => void} onMessage a message from the slot's current worker
 * @property {(slot: Slot, error: any) => void} onError the slot's current worker failed
 * @property {(slot: Slot, cause: any) => void} startFailed the slot's worker could not be started
 * @property {() => number} nextId a fresh message id
 * @property {() => boolean} terminated whether the pool was terminated
 */
export class WorkerStarter {
  #options;
  /** @type {Slot[]} */
  #slots;
  #hooks;
  #interrupts;
  #snapshots; // where workers get their snapshot (snapshot.mjs)
  #snapshot = { use: "pending", reason: null, bytes: null }; // what this pool's workers start from
  #waitingForSnapshot = null; // slots that start once the first worker has made the snapshot

  /**
   * @param {any} options the pool's options, defaults filled in
   * @param {Slot[]} slots
   * @param {{available: boolean}} interrupts whether workers get an interrupt buffer
   * @param {StarterHooks} hooks
   */
  constructor(options, slots, interrupts, hooks) {
    this.#options = options;
    this.#slots = slots;
    this.#interrupts = interrupts;
    this.#hooks = hooks;
    this.#snapshots = new SnapshotSource({ indexURL: options.indexURL, enabled: options.snapshot ?? true,
      cache: options.snapshotCache ?? true });
  }

  /** What this pool's workers start from, for pool.stats: {use, reason, bytes}. */
  get snapshot() {
    const { use, reason, bytes } = this.#snapshot;
    return { use, reason, bytes: bytes?.length ?? null };
  }

  /**
   * Start every slot: from a snapshot when there is one; else the first worker
   * makes it while as many others as there are cores boot beside it as before
   * and the rest wait for the snapshot (booting more side by side on the same
   * cores would make each slower than a restore); else as before. Workers
   * that will restore start loading Pyodide at once, while the pool looks the
   * snapshot up (reading and checking a cached one takes a while) or one of
   * them makes it, and get their plan when it is known; the others' scripts
   * load meanwhile.
   */
  async startAll() {
    if (this.#options.snapshot !== false) {
      const restoring = await this.#snapshots.mightRestore();
      if (this.#hooks.terminated()) return;
      for (const slot of this.#slots) {
        if (restoring || slot.index >= defaultSize()) this.start(slot, { mode: "await" });
        else this.#spawn(slot);
      }
    }
    let plan;
    try {
      plan = await this.#snapshots.plan();
    } catch (error) {
      plan = { reason: `the snapshot could not be looked up (${describe(error)})` };
    }
    if (this.#hooks.terminated()) {
      if (plan.make) this.#snapshots.abandon();
      return;
    }
    if (plan.make) {
      this.#snapshot = { use: SnapshotUse.MADE, reason: null, bytes: null };
      const besideMaker = Math.min(this.#slots.length, defaultSize());
      this.#waitingForSnapshot = this.#slots.slice(besideMaker); // they go on waiting: see #snapshotArrived
      this.#plan(this.#slots[0], { mode: "make", marker: this.#snapshots.marker });
      for (const slot of this.#slots.slice(1, besideMaker)) {
        this.#plan(slot, { mode: "none", reason: "booted beside the worker making the snapshot (one per core)" });
      }
      return;
    }
    this.#snapshot = plan.bytes ? { use: plan.use, reason: null, bytes: plan.bytes }
      : { use: SnapshotUse.NOT_USED, reason: plan.reason, bytes: null };
    for (const slot of this.#slots) this.#plan(slot, this.#restorePlan());
  }

  /**
   * Post the INIT that starts the slot's worker (spawning it first if the slot
   * has none): by default, to restore the snapshot the pool has, if any.
   * @param {Slot} slot
   * @param {import("./protocol.mjs").InitSnapshotPlan} [plan]
   */
  start(slot, plan = this.#restorePlan()) {
    const o = this.#options;
    if (!slot.port && !this.#spawn(slot)) return;
    slot.awaitingPlan = plan.mode === "await";
    const { plan: snapshot, transfer } = planForWorker(plan);
    try {
      slot.port.post({
        type: MessageType.INIT, id: slot.startId, indexURL: o.indexURL, packages: [...(o.packages ?? [])],
        wheelURL: o.wheelURL, lockFileURL: o.lockFileURL, lockFileContents: o.lockFileContents,
        packageBaseUrl: o.packageBaseUrl, interruptBuffer: slot.interrupt?.buffer, snapshot,
        functionCacheBytes: o.functionCacheBytes,
      }, transfer);
    } catch (error) { // an option that cannot be cloned (a function in lockFileContents, say)
      this.#hooks.startFailed(slot, error);
    }
  }

  /** The first worker said SNAPSHOT: the snapshot it made (`bytes`), or why it could not (`reason`). */
  snapshotMade(bytes, reason) {
    this.#snapshotArrived(bytes, reason);
  }

  /** The slot's worker said READY, starting as `startup` says. */
  workerReady(slot, startup) {
    if (this.#waitingForSnapshot && slot === this.#slots[0]) { // a worker that never said SNAPSHOT
      this.#snapshotArrived(null, "the first worker started without making one");
    }
    if (startup?.restoreFailed && this.#snapshot.bytes) {
      this.#snapshots.discard(startup.reason);
      this.#snapshot = { use: SnapshotUse.NOT_USED, reason: startup.reason, bytes: null };
    }
  }

  /** The slot's worker could not start: the slots waiting for its snapshot must not wait for ever. */
  workerFailed(slot, cause) {
    if (this.#waitingForSnapshot && slot === this.#slots[0]) {
      this.#snapshotArrived(null, `the worker making it could not start (${describe(cause)})`);
    }
  }

  /** The pool was terminated: a snapshot its first worker was making will not come. */
  terminate() {
    if (this.#waitingForSnapshot !== null) this.#snapshots.abandon();
    this.#waitingForSnapshot = null;
  }

  /**
   * Tell the slot's worker its snapshot plan: in a SNAPSHOT_PLAN if it is
   * waiting for one, else in the INIT that starts it.
   * @param {Slot} slot
   * @param {import("./protocol.mjs").SnapshotPlan} plan
   */
  #plan(slot, plan) {
    if (slot.state !== State.STARTING) return; // failed meanwhile
    if (!slot.awaitingPlan) {
      this.start(slot, plan);
      return;
    }
    slot.awaitingPlan = false;
    const { plan: posted, transfer } = planForWorker(plan);
    try {
      slot.port.post({ type: MessageType.SNAPSHOT_PLAN, id: slot.startId, plan: posted }, transfer);
    } catch (error) {
      this.#hooks.startFailed(slot, error);
    }
  }

  /** The first worker made the snapshot (`bytes`), or could not (`reason`): start the others. */
  #snapshotArrived(bytes, reason) {
    if (this.#waitingForSnapshot === null) return;
    if (bytes) {
      this.#snapshot.bytes = this.#snapshots.made(bytes);
    } else {
      this.#snapshots.failed(reason);
      this.#snapshot = { use: SnapshotUse.NOT_USED, reason, bytes: null };
    }
    const waiting = this.#waitingForSnapshot;
    this.#waitingForSnapshot = null;
    for (const slot of waiting) if (!this.#hooks.terminated()) this.#plan(slot, this.#restorePlan());
  }

  /**
   * What INIT says about the snapshot for the next worker started.
   * @returns {import("./protocol.mjs").SnapshotPlan}
   */
  #restorePlan() {
    const { bytes, use, reason } = this.#snapshot;
    if (!bytes) return { mode: "none", reason };
    return { mode: "restore", bytes, marker: this.#snapshots.marker,
      use: use === SnapshotUse.FROM_CACHE ? SnapshotUse.FROM_CACHE : SnapshotUse.RESTORED };
  }

  /**
   * Start the slot's worker thread; start() posts its INIT.
   * @param {Slot} slot
   * @returns {boolean} false when it could not be spawned
   */
  #spawn(slot) {
    const o = this.#options;
    slot.state = State.STARTING;
    slot.startId = this.#hooks.nextId();
    slot.functions = new Set(); // a new worker has loaded nothing
    slot.interrupt = this.#interrupts.available ? new Int32Array(new SharedArrayBuffer(4)) : null;
    let port;
    try {
      port = o.spawn(o.workerURL, `webpickle-worker-${slot.index}`);
    } catch (error) {
      this.#hooks.startFailed(slot, error);
      return false;
    }
    slot.port = port;
    port.onmessage = (message) => { if (slot.port === port) this.#hooks.onMessage(slot, message); };
    port.onerror = (error) => { if (slot.port === port) this.#hooks.onError(slot, error); };
    return true;
  }
}
