"""The worker pool's task future (webpickle._task_future): pure asyncio, so
tested natively. Settled from outside any task (in Pyodide: a JS message
event), it wakes its awaiting coroutine at once instead of a loop hop later;
settled from inside a task, it behaves as a plain asyncio.Future."""

import asyncio
import gc

import pytest

from webpickle._task_future import TaskFuture

# Natively only (this folder is not run inside Pyodide): asyncio.run() needs a
# loop it can run, and inside Pyodide the loop is the browser's (WebLoop), where
# tests/workers/test_pool_pyodide.py checks the same behaviour with real workers.


def run(coroutine):
    return asyncio.run(coroutine)


def test_settled_outside_a_task_wakes_the_awaiting_coroutine_at_once():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        future = TaskFuture(loop)

        def settle():  # a loop callback, as a JS event is: no task running
            future.set_result(5)
            order.append("set_result returned")

        loop.call_soon(settle)
        order.append(("woke with", await future))

    run(main())
    assert order == [("woke with", 5), "set_result returned"]


def test_settled_inside_a_task_leaves_callbacks_to_the_loop():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        future = TaskFuture(loop)
        future.add_done_callback(lambda f: order.append("callback"))
        future.set_result(1)
        order.append("set_result returned")
        await asyncio.sleep(0)

    run(main())
    assert order == ["set_result returned", "callback"]


def test_is_an_asyncio_future_of_the_running_loop():
    async def main():
        loop = asyncio.get_running_loop()
        futures = [TaskFuture(loop) for _ in range(3)]
        for i, future in enumerate(futures):
            loop.call_soon(future.set_result, i)
        assert all(asyncio.isfuture(f) and isinstance(f, asyncio.Future) for f in futures)
        assert all(f.get_loop() is loop for f in futures)
        gathered = await asyncio.gather(*futures)
        late = TaskFuture(loop)
        loop.call_later(0.01, late.set_result, "late")
        return gathered, await asyncio.wait_for(late, 5)

    assert run(main()) == ([0, 1, 2], "late")


def test_exceptions_and_cancellation_reach_the_awaiting_coroutine():
    reported = []

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: reported.append(context["message"]))
        failed, cancelled = TaskFuture(loop), TaskFuture(loop)
        loop.call_soon(failed.set_exception, ValueError("in the task"))
        loop.call_soon(cancelled.cancel)
        with pytest.raises(ValueError, match="in the task"):
            await failed
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        del failed
        gc.collect()  # an exception that was retrieved must not be logged as "never retrieved"

    run(main())
    assert reported == []


def test_a_failing_done_callback_goes_to_the_loops_exception_handler():
    reported = []

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: reported.append(context["exception"]))
        future = TaskFuture(loop)
        future.add_done_callback(lambda f: 1 / 0)
        loop.call_soon(future.set_result, None)
        assert await future is None

    run(main())
    assert [type(e) for e in reported] == [ZeroDivisionError]


def test_progress_is_reported_before_the_awaiting_coroutine_wakes():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        future = TaskFuture(loop)
        future._on_finish = lambda: order.append("progress")
        loop.call_soon(future.set_result, None)
        await future
        order.append("woke")

    run(main())
    assert order == ["progress", "woke"]


def test_cancelling_tells_the_pool_once():
    calls = []

    async def main():
        future = TaskFuture(asyncio.get_running_loop())
        future._on_cancel = lambda: calls.append("cancel")
        assert future.cancel() and not future.cancel()

    run(main())
    assert calls == ["cancel"]
