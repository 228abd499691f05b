// Memory snapshots for the pool's workers: where a pool gets the snapshot its
// workers restore, and how one is kept across page reloads (Cache Storage) or
// Node processes (a cache directory). The worker side (making and restoring
// one) is in worker.mjs; pool.mjs decides which worker does what.
//
// A snapshot is the wasm memory of a Pyodide booted with only the standard
// library imported (compiled extension modules cannot be in one: Pyodide
// refuses to snapshot after loading one, and their code would not be there
// after a restore). So what makes a snapshot valid is the Pyodide build alone
// (pyodide.mjs names it), plus this file's format and preload list.
// webpickle's wheel and `packages` are loaded after the restore and cannot
// make it stale; they are not part of the key.
//
// Pyodide's snapshot options (`_makeSnapshot`, `_loadSnapshot`,
// `makeMemorySnapshot()`) are private: worker.mjs detects them at run time and
// every failure falls back to a normal start, recorded in the pool's stats.

/** Bump when the entry format or what a snapshot holds changes. */
const FORMAT = 1;
/**
 * Pure-Python standard modules imported before the snapshot, so that no
 * restored worker imports them again: what the package loader needs to
 * install a wheel (cp437: zipfile's file names), and what webpickle imports
 * (html's entity table is slow to import in wasm).
 */
export const PRELOAD = ["pickle", "importlib.metadata", "tarfile", "encodings.cp437", "hashlib", "html"];
const MAGIC = "webpickle-snapshot\n";
const CACHE_NAME = "webpickle-snapshots";
const FILE_PREFIX = "webpickle-snapshot-";

/** How a pool's workers started, as the pool's stats say it. */
export const SnapshotUse = Object.freeze({
  MADE: "made", // this pool's first worker made it
  RESTORED: "restored", // restored from a snapshot made in this process (or page)
  FROM_CACHE: "from cache", // restored from the persistent cache
  NOT_USED: "not used", // a normal start; `reason` says why
});

// key -> {bytes: Uint8Array, use} or {failed: reason}, or a Promise of either while one is made
const inMemory = new Map();

/** For tests and benchmarks: forget the snapshots made in this process (the persistent cache stays). */
export function forgetSnapshotsInMemory() {
  inMemory.clear();
}

const IS_NODE = typeof globalThis.process?.versions?.node === "string" &&
  typeof globalThis.WorkerGlobalScope === "undefined" && typeof globalThis.window === "undefined";

/** Whether memory can be shared with workers here (Node; pages and their workers when cross-origin isolated). */
export function canShareMemory() {
  return typeof SharedArrayBuffer === "function" && globalThis.crossOriginIsolated !== false;
}

/**
 * The snapshot as a pool keeps it: in shared memory where it can be, so that
 * each worker gets it without a copy in the pool's thread (structured-cloning
 * the snapshot into every INIT made the pool's thread a queue the workers
 * waited in); else as it is, or a copy of its own where it is a view on a
 * larger buffer (a cache entry's): Pyodide reads a snapshot from the start of
 * its ArrayBuffer.
 */
function kept(bytes) {
  if (!canShareMemory()) return bytes.byteOffset === 0 && bytes.length === bytes.buffer.byteLength ? bytes : bytes.slice();
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  shared.set(bytes);
  return shared;
}

/**
 * A snapshot plan as posted to one worker, and what to transfer with it: a
 * restore's shared bytes as they are (the worker reads them in place), else a
 * copy of its own, moved.
 * @template {{mode: string, bytes?: Uint8Array}} P
 * @param {P} plan
 * @returns {{plan: P, transfer: ArrayBuffer[]}}
 */
export function planForWorker(plan) {
  if (plan.mode !== "restore" || !plan.bytes || isShared(plan.bytes)) return { plan, transfer: [] };
  const bytes = plan.bytes.slice();
  return { plan: { ...plan, bytes }, transfer: [bytes.buffer] };
}

/** Whether `bytes` live in shared memory (a worker must copy them before Pyodide reads them). */
export function isShared(bytes) {
  return typeof SharedArrayBuffer === "function" && bytes.buffer instanceof SharedArrayBuffer;
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function isPath(indexURL) {
  return IS_NODE && !/^[a-z][a-z0-9+.-]*:/i.test(indexURL);
}

/**
 * What identifies a Pyodide build: its loader, pyodide.mjs, which holds the
 * version and the BUILD_ID that Pyodide writes into each snapshot (and checks
 * on restore). Fetched as text: a page has it in its HTTP cache already.
 */
async function pyodideBuild(indexURL) {
  const base = indexURL.endsWith("/") ? indexURL : `${indexURL}/`;
  let text;
  if (IS_NODE && (isPath(base) || base.startsWith("file:"))) {
    const { fileURLToPath } = await import("node:url");
    const { readFile } = await import("node:fs/promises");
    text = await readFile(`${base.startsWith("file:") ? fileURLToPath(base) : base}pyodide.mjs`, "utf8");
  } else {
    const response = await fetch(new URL("pyodide.mjs", base));
    if (!response.ok) throw new Error(`GET ${response.url}: HTTP ${response.status}`);
    text = await response.text();
  }
  return { loader: await sha256Hex(new TextEncoder().encode(text)), buildId: /BUILD_ID:"(\w+)"/.exec(text)?.[1] ?? null };
}

/**
 * Where a pool's workers get their snapshot. `plan()` resolves to one of
 *   {bytes, use}      restore these bytes (use: RESTORED or FROM_CACHE)
 *   {make: true}      let one worker make it, then report it with made()/failed()
 *   {reason}          start normally: why not
 */
export class SnapshotSource {
  #options;
  #key = null;
  #cache = null;
  #making = null; // {resolve} while this source's worker makes the snapshot

  /** options: {indexURL, enabled (default true), cache: true | false | a Node directory}. */
  constructor(options) {
    this.#options = options;
  }

  /** The marker a worker leaves in the snapshot, to tell a restore from an ignored option. */
  get marker() { return this.#key ?? ""; }

  /**
   * Whether the plan may be a restore, known sooner than the plan: a snapshot
   * is in memory (or being made), or the persistent cache holds an entry.
   * When not, the plan is to make one (or none): a worker then told to boot
   * rather than restore is better started with its plan, since loading
   * Pyodide for a restore and then booting it anew costs more than the wait.
   */
  async mightRestore() {
    if (this.#options.enabled === false) return false;
    for (const entry of inMemory.values()) if (!entry.failed) return true;
    try {
      return (await persistentCache(this.#options.cache)?.hasEntries()) ?? false;
    } catch {
      return false; // an unreadable cache is an empty one
    }
  }

  async plan() {
    if (this.#options.enabled === false) return { reason: "turned off by the pool's snapshot option" };
    let build;
    try {
      build = await pyodideBuild(this.#options.indexURL);
    } catch (error) {
      return { reason: `Pyodide's files could not be identified (${error?.message ?? error})` };
    }
    const identity = JSON.stringify({ FORMAT, PRELOAD, ...build, indexURL: this.#options.indexURL });
    this.#key = await sha256Hex(new TextEncoder().encode(identity));
    this.#cache = persistentCache(this.#options.cache);
    let found = inMemory.get(this.#key);
    while (found instanceof Promise) found = (await found) ?? inMemory.get(this.#key); // null: abandoned, look again
    if (found?.bytes) return { bytes: found.bytes, use: found.use === SnapshotUse.FROM_CACHE ? found.use : SnapshotUse.RESTORED };
    if (found?.failed) return { reason: found.failed };
    // Other pools asking meanwhile wait for this one's snapshot instead of making their own.
    inMemory.set(this.#key, new Promise((resolve) => { this.#making = { resolve }; }));
    const cached = await this.#fromCache();
    if (!cached) return { make: true };
    const entry = { bytes: kept(cached), use: SnapshotUse.FROM_CACHE };
    inMemory.set(this.#key, entry);
    this.#making.resolve(entry);
    this.#making = null;
    return entry;
  }

  /** The snapshot this source's worker made: later workers and pools restore it; returns it as kept. */
  made(bytes) {
    const entry = { bytes: kept(bytes), use: SnapshotUse.RESTORED };
    inMemory.set(this.#key, entry);
    this.#making?.resolve(entry);
    this.#making = null;
    this.#cache?.store(this.#key, bytes).catch((error) => {
      console.warn(`webpickle: the worker snapshot could not be cached (${error?.message ?? error}); ` +
        "the next page load makes it again");
    });
    return entry.bytes;
  }

  /** No snapshot could be made (`reason`): pools in this process start normally from now on. */
  failed(reason) {
    const entry = { failed: reason };
    if (this.#key) inMemory.set(this.#key, entry);
    this.#making?.resolve(entry);
    this.#making = null;
  }

  /** The pool making the snapshot ended first: pools waiting for it look again (one of them makes it). */
  abandon() {
    if (!this.#making) return;
    inMemory.delete(this.#key);
    this.#making.resolve(null);
    this.#making = null;
  }

  /** A restore of these bytes failed (`reason`): never use them again. */
  discard(reason) {
    this.failed(reason);
    this.#cache?.remove(this.#key).catch(() => {});
  }

  async #fromCache() {
    if (!this.#cache) return null;
    let entry;
    try {
      entry = await this.#cache.load(this.#key);
    } catch {
      return null; // an unreadable cache is an empty one
    }
    if (!entry) return null;
    const bytes = await unpack(entry, this.#key);
    if (!bytes) await this.#cache.remove(this.#key).catch(() => {}); // stale or corrupt: rebuilt, never loaded
    return bytes;
  }
}

// -- the persistent cache ------------------------------------------------------
//
// An entry is MAGIC, a 4-byte little-endian header length, a JSON header
// {format, key, length, sha256} and the snapshot. It is loaded only when all of
// them match; anything else is deleted and made again.

async function pack(key, bytes) {
  const header = new TextEncoder().encode(JSON.stringify({ format: FORMAT, key, length: bytes.length, sha256: await sha256Hex(bytes) }));
  const magic = new TextEncoder().encode(MAGIC);
  const out = new Uint8Array(magic.length + 4 + header.length + bytes.length);
  out.set(magic, 0);
  new DataView(out.buffer).setUint32(magic.length, header.length, true);
  out.set(header, magic.length + 4);
  out.set(bytes, magic.length + 4 + header.length);
  return out;
}

/**
 * The snapshot inside a cache entry (a view on it: kept() copies it where the
 * pool keeps it), or null when the entry is not a valid one for `key`.
 */
export async function unpack(entry, key) {
  const magic = new TextEncoder().encode(MAGIC);
  if (entry.length < magic.length + 4 || new TextDecoder().decode(entry.subarray(0, magic.length)) !== MAGIC) return null;
  const headerLength = new DataView(entry.buffer, entry.byteOffset).getUint32(magic.length, true);
  const start = magic.length + 4 + headerLength;
  if (start > entry.length) return null;
  let header;
  try {
    header = JSON.parse(new TextDecoder().decode(entry.subarray(magic.length + 4, start)));
  } catch {
    return null;
  }
  const view = entry.subarray(start);
  if (header?.format !== FORMAT || header.key !== key || header.length !== view.length) return null;
  return (await sha256Hex(view)) === header.sha256 ? view : null;
}

/** `option`: true (Cache Storage where the page may use it), false, or a directory (Node). */
function persistentCache(option) {
  if (option === false || option === null) return null;
  if (typeof option === "string") return IS_NODE ? directoryCache(option) : null;
  const storage = globalThis.caches;
  return storage && globalThis.isSecureContext ? cacheStorage(storage) : null;
}

function cacheStorage(storage) {
  const request = (key) => new Request(new URL(`/__webpickle-snapshot__/${key}`, globalThis.location.href));
  return {
    async hasEntries() {
      return (await (await storage.open(CACHE_NAME)).keys()).length > 0;
    },
    async load(key) {
      const response = await (await storage.open(CACHE_NAME)).match(request(key));
      return response ? new Uint8Array(await response.arrayBuffer()) : null;
    },
    async store(key, bytes) {
      const cache = await storage.open(CACHE_NAME);
      await cache.put(request(key), new Response(await pack(key, bytes), { headers: { "content-type": "application/octet-stream" } }));
      const keep = request(key).url;
      for (const old of await cache.keys()) if (old.url !== keep) await cache.delete(old); // one Pyodide build at a time
    },
    async remove(key) {
      await (await storage.open(CACHE_NAME)).delete(request(key));
    },
  };
}

function directoryCache(folder) {
  const fileOf = async (key) => (await import("node:path")).join(folder, `${FILE_PREFIX}${key}.bin`);
  return {
    async hasEntries() {
      const { readdir } = await import("node:fs/promises");
      try {
        return (await readdir(folder)).some((name) => name.startsWith(FILE_PREFIX) && name.endsWith(".bin"));
      } catch (error) {
        if (error?.code === "ENOENT") return false;
        throw error;
      }
    },
    async load(key) {
      const { readFile } = await import("node:fs/promises");
      try {
        return new Uint8Array(await readFile(await fileOf(key)));
      } catch (error) {
        if (error?.code === "ENOENT") return null;
        throw error;
      }
    },
    async store(key, bytes) {
      const fs = await import("node:fs/promises");
      const path = await import("node:path");
      await fs.mkdir(folder, { recursive: true });
      const target = await fileOf(key);
      // Written aside, then renamed: a reader never sees half a file.
      const partial = `${target}.${process.pid}.${Date.now()}.partial`;
      await fs.writeFile(partial, await pack(key, bytes));
      await fs.rename(partial, target);
      for (const name of await fs.readdir(folder)) {
        if (name.startsWith(FILE_PREFIX) && path.join(folder, name) !== target && !name.endsWith(".partial")) {
          await fs.rm(path.join(folder, name), { force: true });
        }
      }
    },
    async remove(key) {
      const { rm } = await import("node:fs/promises");
      await rm(await fileOf(key), { force: true });
    },
  };
}
