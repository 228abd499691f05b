"""Run Python functions on a webpickle server (python -m webpickle.server), from
Pyodide or CPython, with the Web Worker pool's asyncio API::

    from webpickle.remote import RemoteExecutor

    async with RemoteExecutor("http://127.0.0.1:8765/", key) as ex:
        r = await ex.submit(fn, *args, **kwargs)
        rs = await ex.map(fn, items, chunksize=1, timeout=None, progress=None)
        async for r in ex.imap_unordered(fn, items):
            ...

In CPython, RemotePoolExecutor(url, key) is the same as a concurrent.futures.Executor
(see _remote_pool), for code written for ProcessPoolExecutor.

Functions, arguments, results and exceptions travel by value as webpickle
streams, in HTTP requests signed with the shared key (HMAC-SHA256, see
webpickle._signing); a reply is unpickled only once its signature, bound to
its request, holds. In Pyodide requests go through the browser's fetch
(pyodide.http.pyfetch), in CPython through aiohttp.

Pickle is code execution both ways: the server runs what holders of the key
send, and this client loads what the server sends back. Use a server you run.
"""

import asyncio
import json
import pickle
import sys
import urllib.parse

import webpickle

from . import _call, _signing
from ._batch import BatchMixin, check_timeout
from ._function_stream import DEFAULT_BIG_FUNCTION_BYTES, FunctionStream, pickle_function
from ._call import RemoteError, RemoteExceptionError, RemoteTraceback, WorkerCrashedError

__all__ = ["AuthenticationError", "PayloadTooLargeError", "RemoteError", "RemoteExceptionError", "RemoteExecutor",
           "RemotePoolExecutor", "RemoteTraceback", "RemoteWorkerCrashedError", "VersionMismatchError",
           "WorkerCrashedError"]


class AuthenticationError(RemoteError):
    """The server refused the request's signature (401), or the reply's signature is missing or wrong."""


class VersionMismatchError(RemoteError):
    """The server runs another Python minor version (409): its pickles would not load here, nor ours there."""


class PayloadTooLargeError(RemoteError):
    """The request body is over the server's --max-body (413)."""


class _FunctionMissing(RemoteError):
    """The server does not have the function a call names by digest (404): upload it again."""


# The old name of WorkerCrashedError (the process or Dask worker running the call died), kept for callers.
RemoteWorkerCrashedError = WorkerCrashedError

_ERRORS = {"AuthenticationError": AuthenticationError, "ServerMismatchError": AuthenticationError,
           "VersionMismatchError": VersionMismatchError,
           "PayloadTooLargeError": PayloadTooLargeError, "WorkerCrashedError": WorkerCrashedError,
           "FunctionMissing": _FunctionMissing}
# Seconds the client waits past a call's timeout for the server's own 504 before giving up itself.
_TIMEOUT_GRACE_S = 30


def _in_pyodide():
    return sys.platform == "emscripten"


class RemoteExecutor(BatchMixin):
    """Calls on a webpickle server at url, signed with key (str or bytes, as in the server's --key-file).

    timeout: seconds a call may run on the server (default None: no limit);
        past it the call raises TimeoutError.
    concurrency: calls in flight at once; more wait here, unsigned until sent
        (default: 6 in Pyodide, a browser's connections per server; 32 in CPython).
    cache: send each function to the server once (default True): it is uploaded
        once (POST /function) and kept there by the digest of its stream; calls
        name the digest, in the signed path, and carry their arguments only.
        The server's worker processes keep the loaded function, so the calls
        of one digest share its globals, as calls in one process do. False
        sends the whole (fn, args, kwargs) stream with every call. map() takes
        cache= too.
    big_function_bytes: warn (once per function) when a function's stream is
        larger (default 4 MiB; None: never).
    """

    def __init__(self, url, key, *, timeout=None, concurrency=None, cache=True,
                 big_function_bytes=DEFAULT_BIG_FUNCTION_BYTES):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url must be the server's http:// or https:// address, not {url!r}")
        base = parts.path.rstrip("/")
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, base + "/", "", ""))
        self._base_path = base
        self._key = _signing.key_bytes(key)
        self._timeout = check_timeout(timeout)
        concurrency = concurrency if concurrency is not None else (6 if _in_pyodide() else 32)
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")
        self._slots = asyncio.Semaphore(concurrency)
        self._transport = _PyodideTransport() if _in_pyodide() else _AiohttpTransport(concurrency)
        self._calls = set()
        self._closed = False
        self._server_id = None  # from /health: every request is signed for this server, in this run of it
        self._cache = bool(cache)
        self._big_function_bytes = big_function_bytes
        self._concurrency = concurrency
        self._uploads = {}  # digest -> the task uploading its stream (done: uploaded)
        self.stats = {"requests": 0, "request_bytes": 0, "function_uploads": 0, "function_bytes": 0}
        """What this executor sent: requests and their body bytes, function uploads among them."""
        self._server_id_lock = asyncio.Lock()

    def __repr__(self):  # never the key
        return f"<RemoteExecutor {self.url}>"

    async def health(self):
        """The server's /health answer: {"status", "server_id", "python", "python_minor", "webpickle"}
        (unsigned: informative; "problems" too when status is "degraded")."""
        status, _, body = await self._transport.request("GET", self.url + "health", {}, None, None)
        if status != 200:
            raise RemoteError(f"{self.url}health answered HTTP {status}: {body[:200]!r}", status)
        info = json.loads(body)
        self._server_id = info.get("server_id")
        return info

    async def _current_server_id(self, stale=None):
        """The server's id, asked of /health once (and again when the server said stale is not its id)."""
        async with self._server_id_lock:
            if self._server_id is None or self._server_id == stale:
                await self.health()
                if not _signing.server_id_is_well_formed(self._server_id):
                    raise RemoteError(f"{self.url}health gave no server id: is it a webpickle server of this "
                                      "version?")
            return self._server_id

    async def ready(self):
        """Check that the server answers and runs this Python minor version; returns its health().

        Raises VersionMismatchError early, before anything is pickled for a
        server whose Python could not load it (the server checks each call anyway).
        """
        info = await self.health()
        ours = _signing.python_version()
        if info.get("python_minor") != ours:
            raise VersionMismatchError(f"the server at {self.url} runs Python {info.get('python_minor')} and this "
                                       f"client runs Python {ours}: pickled functions only load on the same minor "
                                       "version", 409)
        return info

    def submit(self, fn, /, *args, **kwargs):
        """Run fn(*args, **kwargs) on the server; returns an asyncio future of its result.

        Cancelling it stops waiting (the call may still run on the server to its end).
        """
        return self._submit(fn, args, kwargs, self._timeout)

    def _in_flight_limit(self):
        return 2 * self._concurrency  # calls beyond concurrency wait here, pickled and unsigned

    def _new_future(self):
        return asyncio.get_running_loop().create_future()

    def _submit_call(self, fn, args, timeout, on_finish):
        """One call of map() or imap_unordered() (see _batch.BatchMixin)."""
        return self._submit(fn, args, {}, timeout, on_finish, cache=False)  # a FunctionStream when cached

    def _submit(self, fn, args, kwargs, timeout, on_finish=None, cache=None):
        """Send fn(*args, **kwargs); fn is a callable or a FunctionStream pickled already (by map).
        cache: send a callable's stream apart, once, or all in one stream (None: the executor's)."""
        if self._closed:
            raise RuntimeError("cannot submit to a RemoteExecutor after shutdown()")
        future = asyncio.get_event_loop().create_future()
        try:
            if (self._cache if cache is None else cache) and not isinstance(fn, FunctionStream):
                fn = pickle_function(fn, self._big_function_bytes)
            if isinstance(fn, FunctionStream):
                function, payload = fn, webpickle.dumps((args, kwargs), protocol=5)
            else:
                function, payload = None, webpickle.dumps((fn, args, kwargs), protocol=5)
        except Exception as exc:
            future.set_exception(exc)
            if on_finish is not None:
                on_finish()
            return future
        task = asyncio.ensure_future(self._call(function, payload, timeout, future, on_finish))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        future.add_done_callback(lambda f: f.cancelled() and task.cancel())
        return future

    async def _call(self, function, payload, timeout, future, on_finish):
        """Settle future with the call's outcome. The task itself never raises: a SystemExit
        the call raised remotely must reach whoever awaits the future, not stop the event loop."""
        try:
            raised, value = await self._run(function, payload, timeout)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            outcome = (future.set_exception, exc)
        else:  # the call's own exception is set, not raised: this module's frames would only hide it
            outcome = (future.set_exception if raised else future.set_result, value)
        # Reported before the future settles, not from its done-callback (a loop step
        # later): map() never returns before its last progress report.
        if on_finish is not None:
            on_finish()
        if not future.done():
            outcome[0](outcome[1])

    async def _run(self, function, payload, timeout):
        """The call's outcome: payload pickles the whole call, or (args, kwargs) of function."""
        if function is None:
            return await self._send("call", payload, timeout)
        uploaded = await self._uploaded(function)
        try:
            return await self._send(f"call?function={function.digest}", payload, timeout)
        except _FunctionMissing:  # the server restarted, or forgot it: once more
            await self._uploaded(function, stale=uploaded)
            return await self._send(f"call?function={function.digest}", payload, timeout)

    async def _uploaded(self, function, stale=None):
        """Upload function's stream unless it was (or is being) uploaded: many calls in flight
        cause one upload. stale: an upload the server has since forgotten. Returns the upload."""
        upload = self._uploads.get(function.digest)
        failed = upload is not None and upload.done() and (upload.cancelled() or upload.exception() is not None)
        if upload is None or upload is stale or failed:
            upload = self._uploads[function.digest] = asyncio.ensure_future(self._upload(function))
        await asyncio.shield(upload)
        return upload

    async def _upload(self, function):
        _, answer = await self._send("function", function.stream, None, unpickle=False)
        if json.loads(answer).get("digest") != function.digest:
            raise RemoteError(f"the server stored the function under another digest than {function.digest}: "
                              "is it a webpickle server of this version?")
        self.stats["function_uploads"] += 1
        self.stats["function_bytes"] += len(function.stream)

    async def _send(self, route, payload, timeout, unpickle=True):
        """POST payload to route (below the server's URL), signed; (raised, value) of the reply
        (its body itself when not unpickle)."""
        async with self._slots:
            server = await self._current_server_id()
            status, reply_headers, body, nonce = await self._post(route, server, payload, timeout)
            if status == 401 and _error_kind(body) == "ServerMismatchError":
                # The server restarted (a new id) since we asked: it refused without running the call.
                server = await self._current_server_id(stale=server)
                status, reply_headers, body, nonce = await self._post(route, server, payload, timeout)
        return _reply(self._key, status, reply_headers, nonce, body, unpickle)

    async def _post(self, route, server, payload, timeout):
        # Signed only now: a request that waited for a slot longer than the window would be refused.
        headers = _signing.sign_request(self._key, "POST", f"{self._base_path}/{route}", server, payload, timeout)
        headers["Content-Type"] = "application/octet-stream"
        limit = None if timeout is None else timeout + _TIMEOUT_GRACE_S
        self.stats["requests"] += 1
        self.stats["request_bytes"] += len(payload)
        try:
            status, reply_headers, body = await self._transport.request(
                "POST", self.url + route, headers, payload, limit)
        except TimeoutError:
            if limit is None:
                raise
            raise TimeoutError(f"no answer from {self.url} within {limit:g} s (the call's timeout "
                               f"is {timeout:g} s)") from None
        return status, reply_headers, body, headers[_signing.NONCE]

    def shutdown(self):
        """Cancel the calls not finished and refuse new ones; close() also frees the connections."""
        self._closed = True
        for task in list(self._calls):
            task.cancel()

    async def close(self):
        self.shutdown()
        await self._transport.close()

    async def __aenter__(self):
        try:
            await self.ready()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, exc_type, exc, tb):
        # Leaving normally waits for what was submitted; leaving on an error does not.
        pending = [task for task in self._calls if not task.done()]
        if exc_type is None and pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self.close()


def _error_kind(body):
    """The "error" of a JSON error answer, or None."""
    try:
        return json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None


def _reply(key, status, headers, nonce, body, unpickle=True):
    """The call's outcome (raised, result or exception) from the server's answer ((False, the
    body itself) when not unpickle); raises the server's error.

    Nothing is unpickled unless the answer is signed with key and bound to nonce.
    """
    authentic = _signing.response_is_authentic(key, status, headers, nonce, body)
    if status == 200:
        if not authentic:
            raise AuthenticationError("the server's reply is not signed with the key, or not for this request "
                                      "(altered or replayed on the way?): refused without unpickling it", status)
        if not unpickle:
            return False, body
        raised = headers.get(_signing.RAISED) or headers.get(_signing.RAISED.lower())
        try:
            value = pickle.loads(body)
        except Exception as exc:
            raise RemoteError(f"the call's reply could not be unpickled here: {exc!r}", status) from exc
        if raised != "1":
            return False, value
        return True, _call.raised_exception(value)
    try:
        error = json.loads(body)
        kind, message = error["error"], error["message"]
    except (ValueError, KeyError, TypeError):
        kind, message = "", f"HTTP {status}: {body[:300].decode(errors='replace')}"
    if not authentic and status not in (401, 403):  # those are answered before the key is proven
        message += " (this answer is not signed by the server)"
    if status == 504 or kind == "TimeoutError":
        raise TimeoutError(message)
    raise _ERRORS.get(kind, RemoteError)(message, status)


# -- transports: (status, headers, body) for one HTTP request -------------------------


class _AiohttpTransport:
    """CPython: one aiohttp session, made in the running loop on first use."""

    def __init__(self, connections):
        self._connections = connections
        self._session = None

    async def request(self, method, url, headers, body, timeout):
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections), timeout=aiohttp.ClientTimeout(total=None))
        try:
            async with asyncio.timeout(timeout):
                async with self._session.request(method, url, headers=headers, data=body,
                                                 allow_redirects=False) as response:
                    return response.status, response.headers, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            raise RemoteError(f"could not reach the server at {url}: {exc}") from None
        except aiohttp.ClientError as exc:  # the request was sent (in part at least): it may have run
            raise RemoteError(f"the server at {url} closed the connection before answering ({exc}): it may have "
                              "stopped or restarted, and the call may have started there; send it again if running "
                              "it twice is safe") from None

    async def close(self):
        if self._session is not None:
            await self._session.close()
            self._session = None


class _PyodideTransport:
    """Pyodide: the browser's (or Node's) fetch, through pyodide.http.pyfetch."""

    async def request(self, method, url, headers, body, timeout):
        from pyodide.http import pyfetch

        options = {"method": method, "headers": headers, "redirect": "error"}
        if body is not None:
            options["body"] = body
        try:
            async with asyncio.timeout(timeout):
                response = await pyfetch(url, **options)
                return response.status, response.headers, await response.bytes()
        except (TimeoutError, asyncio.CancelledError):
            raise
        except Exception as exc:  # pyodide's AbortError / JsException: the request never got an answer
            raise RemoteError(f"could not reach the server at {url}: {exc} (in a browser: is the page's origin "
                              "given to the server with --allow-origin?)") from None

    async def close(self):
        pass


# The concurrent.futures face of RemoteExecutor, in its own module; imported last, as it builds on the above.
from ._remote_pool import RemotePoolExecutor  # noqa: E402
