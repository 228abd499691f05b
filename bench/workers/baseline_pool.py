"""The baseline of bench/workers: cloudpickle (Debian's pure-Python files) and
bare postMessage, written the way one would without webpickle.workers: each
task is cloudpickle.dumps((fn, args, kwargs)), copied into a JS Uint8Array
and posted (structured clone, no transfer); the reply comes back the same way.

Tasks go to a free worker or wait in a FIFO queue, as in our pool; there are
no timeouts, crash handling or cancellation. The worker is baseline_worker.mjs.
"""

import asyncio
import collections

import cloudpickle
import js
from pyodide.ffi import create_proxy, to_js

# What a 64 MB argument goes through on its way in (for the report: the
# baseline does not count at run time).
COPIES = [
    "cloudpickle.dumps: into the in-band stream",
    "to_js: out of the page's wasm memory",
    "postMessage: structured clone",
    "to_bytes: into the worker's wasm memory",
    "pickle.loads: out of the stream into its own object",
]


class BaselinePool:
    def __init__(self, size):
        self._loop = asyncio.get_event_loop()
        self._idle, self._queue, self._futures = [], collections.deque(), {}
        self._next = 0
        self._ready = [self._loop.create_future() for _ in range(size)]
        self._workers, self._proxies = [], []
        url = js.URL.new("./baseline_worker.mjs", js.location.href).href
        for index in range(size):
            worker = js.Worker.new(url, to_js({"type": "module"}, dict_converter=js.Object.fromEntries))
            proxy = create_proxy(lambda event, i=index: self._on_message(i, event.data))
            worker.onmessage = proxy
            self._workers.append(worker)
            self._proxies.append(proxy)

    async def ready(self):
        await asyncio.gather(*self._ready)

    def submit(self, fn, /, *args, **kwargs):
        future = self._loop.create_future()
        self._next += 1
        self._futures[self._next] = future
        self._queue.append((self._next, to_js(cloudpickle.dumps((fn, args, kwargs)))))
        self._dispatch()
        return future

    def _dispatch(self):
        while self._idle and self._queue:
            index = self._idle.pop()
            task_id, data = self._queue.popleft()
            message = js.Object.new()
            message.id, message.data = task_id, data
            self._workers[index].postMessage(message)

    def _on_message(self, index, message):
        if message.type == "ready":
            self._ready[index].set_result(None)
        else:
            ok, value = cloudpickle.loads(message.data.to_bytes())
            future = self._futures.pop(message.id)
            future.set_result(value) if ok else future.set_exception(value)
        self._idle.append(index)
        self._dispatch()

    def shutdown(self):
        for worker in self._workers:
            worker.terminate()
        for proxy in self._proxies:
            proxy.destroy()
        self._workers, self._proxies = [], []
