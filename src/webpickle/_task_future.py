"""The future of a task sent to a worker (webpickle.workers).

Two things differ from a plain asyncio.Future, both to save time per task:

- Cancelling it cancels the task in the pool, and finishing it reports
  progress, at once. (Done-callbacks would do the same, but asyncio runs each
  one as its own event-loop step: one more hop before the awaiting coroutine
  wakes, and map() could return before its last progress report.)
- Its done-callbacks (the awaiting task's wake-up above all) run at once when
  the future is settled from a JavaScript event, with no task running. Pyodide's
  WebLoop runs every call_soon() as a browser task (a message or a timer, 100 to
  400 us in Chromium's main thread): that hop was most of a small call's round
  trip. Settled from inside a running task (a cancel(), say), callbacks are
  left to the loop, as asyncio always does.

  The price: the step of a coroutine woken this way was not entered through
  Pyodide's stack-switching entry point, so pyodide.ffi.run_sync (experimental,
  JSPI) raises in it; `await asyncio.sleep(0)` first moves the coroutine to a
  loop step where run_sync works (checked in Chromium 156).
"""

import asyncio


class _PromptLoop:
    """What a _TaskFuture sees as its loop: the real loop, except that
    call_soon() runs the callback now when that is safe (see the module's
    docstring). Everything else goes to the real loop."""

    __slots__ = ("_loop", "prompt")

    def __init__(self, loop):
        self._loop = loop
        self.prompt = True

    def call_soon(self, callback, *args, context=None):
        loop = self._loop
        if not self.prompt or asyncio._get_running_loop() is not loop or asyncio.current_task(loop) is not None:
            return loop.call_soon(callback, *args, context=context)
        handle = asyncio.Handle(callback, args, loop, context=context)
        handle._run()  # reports a callback's exception to the loop's exception handler, as the loop would
        return handle

    def __getattr__(self, name):
        return getattr(self._loop, name)


class TaskFuture(asyncio.Future):
    """An asyncio.Future whose loop, as get_loop() and asyncio see it, is the
    running loop; on_cancel and on_finish are set by the pool."""

    _on_cancel = _on_finish = None

    def __init__(self, loop):
        self._prompt_loop = _PromptLoop(loop)
        super().__init__(loop=self._prompt_loop)
        self._real_loop = loop

    def get_loop(self):
        return self._real_loop

    def cancel(self, msg=None):
        cancelled = super().cancel(msg)
        if cancelled and self._on_cancel is not None:
            self._on_cancel()
        return cancelled

    # Progress first: the callbacks may run at once and end a map() whose last
    # progress report would then come after its return.
    def set_result(self, result):
        if not self.done() and self._on_finish is not None:
            self._on_finish()
        super().set_result(result)

    def set_exception(self, exception):
        if not self.done() and self._on_finish is not None:
            self._on_finish()
        # Through the loop: asyncio marks an exception "not yet retrieved"
        # after running set_exception's callbacks, so an awaiting coroutine
        # woken at once would leave it marked, and a spurious "exception was
        # never retrieved" would be logged when the future is collected.
        self._prompt_loop.prompt = False
        super().set_exception(exception)
