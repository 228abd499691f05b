"""Helpers the notebook's cells import as ``nb`` (the page puts this file in Pyodide).

    nb.workers()          the worker count chosen in the page's toolbar
    nb.progress           pass as pool.map(..., progress=nb.progress): a live bar under the cell
    nb.chart(times)       a bar chart of {label: seconds} under the cell
    nb.server()           (url, key) of the remote server, from the page's one-time token

The page registers its side as the JS module ``_nb_page`` (demo/notebook/kernel.mjs).
Cells run in ``__main__``, so what they define is pickled by value.
"""

import json
import linecache
import os
import sys
import traceback

import _nb_page
from pyodide.code import eval_code_async
from pyodide.ffi import to_js


def workers():
    """The number of Web Workers set in the page's toolbar."""
    return int(_nb_page.workerCount())


def progress(done, total):
    """Show done/total in a progress bar under the running cell."""
    _nb_page.progress(done, total)


def chart(times):
    """Draw {label: seconds} as horizontal bars under the running cell (shorter is faster)."""
    _nb_page.chart(to_js([[str(label), float(seconds)] for label, seconds in times.items()]))


def server():
    """(url, key) of the remote server that ./dev demo started, as the page received them."""
    session = _nb_page.remoteSession()
    problem = getattr(session, "problem", None)  # a JS object: {server, key} or {problem}
    if problem:
        raise RuntimeError(problem)
    return session.server, session.key


# -- used by the page -----------------------------------------------------------


async def _run_cell(source, filename):
    """Run one cell in __main__; return [True, repr of its last expression or None] or [False, traceback]."""
    # Registered so that tracebacks show the cell's lines, as in a file.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        value = await eval_code_async(source, sys.modules["__main__"].__dict__, filename=filename)
        shown = None if value is None else repr(value)
    except BaseException as exc:  # SystemExit too: a cell must never end the page's Python
        return to_js([False, _format_error(exc)])
    finally:
        # Partial lines reach the cell now, not at the start of the next cell's output.
        sys.stdout.flush()
        sys.stderr.flush()
    return to_js([True, shown])


def _format_error(exc):
    """The traceback from the first frame of a cell on, without webpickle's frames
    (the runner's and the pool's own frames say nothing about the cell)."""
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell"):
        tb = tb.tb_next
    shown = traceback.TracebackException(type(exc), exc, tb or exc.__traceback__)
    for link in _chain(shown):
        link.stack = traceback.StackSummary.from_list(
            [frame for frame in link.stack if f"{os.sep}webpickle{os.sep}" not in frame.filename] or link.stack)
    return "".join(shown.format())


def _chain(shown):
    while shown is not None:
        yield shown
        shown = shown.__cause__ or shown.__context__


def _evaluate(expression):
    """An expression evaluated in __main__, as JSON (the notebook's test reads results with it)."""
    return json.dumps(eval(expression, sys.modules["__main__"].__dict__))
