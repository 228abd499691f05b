"""Runs async test functions inside Pyodide, for the Node scripts that test
with real workers or a real server (tests/workers, tests/remote): the
synchronous tests/pyodide runner cannot await them.

Each test_* function of each module is called and, if it returns a
coroutine, awaited with a time limit; a module's teardown_module coroutine
runs after its tests. Prints one line per test and "N passed, N failed";
returns the number failed, or 1 when no test ran.
"""

import asyncio
import importlib
import sys
import time
import traceback


async def run_all(folder, modules, keyword, timeout):
    sys.path.insert(0, folder)
    passed = failed = 0
    for module_name in modules:
        module = importlib.import_module(module_name)
        tests = [(n, f) for n, f in vars(module).items() if n.startswith("test_") and callable(f)]
        for name, function in tests:
            if keyword and keyword not in name:
                continue
            t0 = time.perf_counter()
            try:
                result = function()
                if asyncio.iscoroutine(result):
                    await asyncio.wait_for(result, timeout)
                passed += 1
                print(f"ok      {module_name}::{name} ({time.perf_counter() - t0:.1f} s)", flush=True)
            except BaseException as exc:
                failed += 1
                print(f"FAILED  {module_name}::{name} ({time.perf_counter() - t0:.1f} s)", flush=True)
                traceback.print_exception(exc)
        finish = getattr(module, "teardown_module", None)
        if finish:
            await finish()
    print(f"{passed} passed, {failed} failed", flush=True)
    if passed + failed == 0:
        # A keyword that matches nothing, or modules without tests: as runner.py, a failure.
        print("async_runner: no test ran", file=sys.stderr, flush=True)
        return 1
    return failed
