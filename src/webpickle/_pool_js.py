"""The Web Worker pool's JavaScript, started from the text the wheel carries.

The wheel holds the pool's modules bundled at build time (wasm/bundle_js.mjs):
webpickle/_js/pool.mjs (js/bridge.mjs with js/pool.mjs and its imports) and
webpickle/_js/worker.mjs (the worker script), each self-contained, so the
wheel is all a page needs: they start from Blob URLs (data: URLs in Node)
made by js/python_loader.js.
"""

import asyncio

_loaded = None


async def load():
    """(the pool module, the worker script's URL); made once per runtime."""
    global _loaded
    if _loaded is None:
        _loaded = asyncio.ensure_future(_load())
    return await _loaded


async def _load():
    from importlib.resources import files

    from pyodide.code import run_js

    folder = files(__package__) / "_js"
    loader = run_js((folder / "python_loader.js").read_text(encoding="utf-8"))
    worker_url = loader.moduleURL((folder / "worker.mjs").read_text(encoding="utf-8"))
    pool = await loader.load(loader.moduleURL((folder / "pool.mjs").read_text(encoding="utf-8")))
    return pool, worker_url
