"""The server's log: one JSON object per line on stderr, for requests and for events.

Request lines carry what a request was and how it ended, never a header's
value: the key is never written anywhere, and signatures are not either.
"""

import datetime
import json
import logging
import sys

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

LOGGER = logging.getLogger("webpickle.server")
# Handlers store what the access line should add about a request here (e.g. the outcome of a call).
# A typed key where aiohttp has them (3.13 on), which it asks for; a string key before.
LOG_FIELDS = web.RequestKey("webpickle.log", dict) if hasattr(web, "RequestKey") else "webpickle.log"


class _JsonLines(logging.Formatter):
    """Our records are JSON already; other libraries' (aiohttp's errors, Dask's client)
    become {"event": "log", ...} lines, so that every line of the log is JSON."""

    def format(self, record):
        if record.name == LOGGER.name:
            return record.getMessage()
        fields = {"time": _now(), "event": "log", "logger": record.name, "level": record.levelname,
                  "message": record.getMessage()}
        if record.exc_info:
            fields["traceback"] = self.formatException(record.exc_info)
        return json.dumps(fields, default=str)


def configure(stream=None):
    """Send the log to stream (default stderr), one JSON object per line: ours from INFO,
    other libraries' from WARNING."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonLines())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    _skip_unused_record_fields()


def _skip_unused_record_fields():
    """Every request writes a line: spare each record what no line of ours shows (the
    caller's file and line, which walks the stack; thread, process and task names, which
    cost a system call or a lookup each), as the logging HOWTO's Optimization section
    suggests. configure() does it: it owns this process's log (python -m webpickle.server)."""
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.logAsyncioTasks = False


def adopt(name):
    """Route a library logger that installed its own plain-text handler (Dask's do) to ours."""
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.propagate = True


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def log_event(event, **fields):
    LOGGER.info(json.dumps({"time": _now(), "event": event, **fields}, default=str))


class JsonAccessLogger(AbstractAccessLogger):
    """aiohttp's access logger, as JSON lines through LOGGER."""

    def log(self, request, response, time):
        record = {
            "time": _now(), "event": "request", "remote": request.remote, "method": request.method,
            "path": request.path, "status": response.status,
            "bytes_in": request.content_length or 0, "bytes_out": response.body_length,
            "ms": round(time * 1000, 2),
        }
        origin = request.headers.get("Origin")
        if origin is not None:
            record["origin"] = origin
        record.update(request.get(LOG_FIELDS, ()))
        LOGGER.info(json.dumps(record, default=str))

    @property
    def enabled(self):
        return LOGGER.isEnabledFor(logging.INFO)
