// Spare buffers: ArrayBuffers that came back from workers, kept to carry the
// next big buffers. Reusing memory matters: a fresh allocation pays a page
// fault for every 4 KiB the first time it is written (on the machines we
// measured, ~3 ms per MB; a copy into touched memory is ~0.1 ms per MB).

/** Smaller buffers are cheap to allocate: not worth keeping. */
const MIN_SPARE_BYTES = 1 << 20;

export class Spares {
  #buffers = [];
  #bytes = 0;
  #limit;

  /** Keep at most `limitBytes` bytes of spares (the oldest go first). */
  constructor(limitBytes) {
    this.#limit = limitBytes;
  }

  /** A Uint8Array of `byteLength` bytes: on the smallest spare that fits (up to twice as big), else new. */
  take(byteLength) {
    let best = -1;
    for (let i = 0; i < this.#buffers.length; i++) {
      const size = this.#buffers[i].byteLength;
      if (size >= byteLength && size <= 2 * byteLength && (best === -1 || size < this.#buffers[best].byteLength)) best = i;
    }
    if (best === -1) return new Uint8Array(byteLength);
    const [spare] = this.#buffers.splice(best, 1);
    this.#bytes -= spare.byteLength;
    return new Uint8Array(spare, 0, byteLength);
  }

  /** Keep the ArrayBuffers under `items` (ArrayBuffers or views) whose contents are no longer needed. */
  give(items) {
    for (const item of items ?? []) {
      const buffer = item instanceof ArrayBuffer ? item : item?.buffer;
      if (!(buffer instanceof ArrayBuffer) || buffer.detached || buffer.byteLength < MIN_SPARE_BYTES) continue;
      if (this.#buffers.includes(buffer)) continue;
      this.#buffers.push(buffer);
      this.#bytes += buffer.byteLength;
      while (this.#bytes > this.#limit) this.#bytes -= this.#buffers.shift().byteLength;
    }
  }
}
