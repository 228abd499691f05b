// How webpickle.workers (Python, in Pyodide) starts the pool's modules that
// the wheel carries as text (webpickle/_js/): Python evaluates this script
// with pyodide.code.run_js and uses its value. Each bundle is self-contained
// (wasm/bundle_js.mjs), so nothing here resolves imports.
({
  /**
   * A URL that a module (or a module worker) can be started from, for the module's text.
   * Node cannot import blob: URLs, and a data: URL worker in a browser has an
   * opaque origin (it could not fetch Pyodide), so each gets its own kind.
   * @param {string} text
   */
  moduleURL(text) {
    const node = typeof globalThis.process === "object" && typeof globalThis.process.versions?.node === "string" &&
      typeof globalThis.WorkerGlobalScope === "undefined" && typeof globalThis.window === "undefined";
    return node ? "data:text/javascript," + encodeURIComponent(text)
      : URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
  },
  /** @param {string} url */
  load: (url) => import(url),
})
