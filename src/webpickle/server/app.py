"""The HTTP application: GET /health, POST /call and /function, and CORS for the allowed origins.

    GET  /health   unsigned; JSON: status ("ok", "degraded" with the problems, or
                   "stopping"), the server's id, its Python and webpickle versions
    POST /call     a signed request whose body is webpickle.dumps((fn, args, kwargs));
                   200 with the signed reply (X-Webpickle-Raised: 0 result, 1 exception)
                   or a JSON error {"error": kind, "message": text}
    POST /call?function=DIGEST
                   the same, for the function uploaded under DIGEST; the body is
                   webpickle.dumps((args, kwargs)). 404 FunctionMissing when the
                   server does not have it (never had, or forgot it): upload it again
    POST /function a signed request whose body is a function's stream; kept as bytes
                   (never unpickled here) under its SHA-256; 200 with {"digest": hex}

Error statuses: 400 malformed signed header or body, 401 unsigned / wrong
signature / stale / replayed / signed for another server (kind
ServerMismatchError), 403 Origin not allowed, 408 body stalled, 409 another
Python minor version, 413 body over --max-body, 415 a Content-Encoding, 500 the
call's process died or the backend failed, 503 shutting down, 504 past the
call's timeout.
"""

import dataclasses
import json
import sys
from urllib.parse import quote

from aiohttp import hdrs, web

import webpickle
from webpickle import _signing

from . import auth
from .access_log import LOG_FIELDS
from .backend import CallFailed
from .functions import FunctionStore, is_digest

DEFAULT_FUNCTION_STORE_BYTES = 10**9


@dataclasses.dataclass
class Settings:
    key: bytes = dataclasses.field(repr=False)  # never in a repr, so never in a log or a traceback
    backend: object
    max_body: int
    allow_origins: frozenset = frozenset()
    idle_timeout: float = 30.0  # seconds a body upload may stall
    # New at each start and signed into every request: a request runs on one server, in one run of it.
    server_id: str = dataclasses.field(default_factory=_signing.new_server_id)
    functions: FunctionStore = dataclasses.field(default_factory=lambda: FunctionStore(DEFAULT_FUNCTION_STORE_BYTES))


SETTINGS = web.AppKey("settings", Settings)
NONCES = web.AppKey("nonces", auth.NonceLog)
STOPPING = web.AppKey("stopping", list)  # [True] once shutdown began; a list so handlers see the change


def make_app(settings, outer_middlewares=()):
    # client_max_size bounds aiohttp's own readers; /call reads its body itself, bounded the same way.
    app = web.Application(middlewares=[*outer_middlewares, _cors], client_max_size=settings.max_body)
    app[SETTINGS] = settings
    app[NONCES] = auth.NonceLog()
    app[STOPPING] = []
    app.router.add_get("/health", health)
    app.router.add_post("/call", call, expect_handler=_defer_continue)
    app.router.add_post("/function", upload_function, expect_handler=_defer_continue)
    app.router.add_route("OPTIONS", "/{tail:.*}", _preflight)
    return app


async def health(request):
    """What a client needs before calling: whether the server can run calls, its id (signed into
    requests), and the versions that tell whether its pickles can load here."""
    info = sys.version_info
    settings = request.app[SETTINGS]
    problems = settings.backend.problems() if hasattr(settings.backend, "problems") else []
    answer = {
        "status": "stopping" if request.app[STOPPING] else "degraded" if problems else "ok",
        "server_id": settings.server_id,
        "python": f"{info.major}.{info.minor}.{info.micro}", "python_minor": _signing.python_version(),
        "webpickle": webpickle.__version__,
    }
    if problems:
        answer["problems"] = problems
    return web.json_response(answer)


async def _defer_continue(request):
    """Expect: 100-continue is answered by call() once the headers proved the key, not before."""
    if request.headers.get(hdrs.EXPECT, "").lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"unknown Expect: {request.headers.get(hdrs.EXPECT)}")


async def _admit(request, settings):
    """(body, nonce, timeout) of a request that proved the key; raises auth.Refused."""
    admitted = auth.check_headers(request.headers, key=settings.key, method=request.method, path=request.raw_path,
                                  server_id=settings.server_id, nonces=request.app[NONCES])
    request[LOG_FIELDS]["nonce"] = admitted.nonce
    timeout = auth.check_admitted(admitted, request.headers, request.content_length, settings.max_body)
    if request.headers.get(hdrs.EXPECT, "").lower() == "100-continue" and request.version >= (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the interim answer is not the response's size
    body = await auth.read_body(request.content, admitted, settings.idle_timeout)
    return body, admitted.nonce, timeout


def _signed_route(answer):
    """A POST handler that admits the request (_admit), then answers it with
    answer(settings, request, fields, body, timeout) -> (raised header, reply body, content type),
    signed; refusals and failed calls become JSON errors."""

    async def handler(request):
        return await _answer_signed(request, answer)

    return handler


async def _answer_signed(request, answer):
    settings = request.app[SETTINGS]
    fields = request[LOG_FIELDS] = {}
    nonce = None
    try:
        if request.app[STOPPING]:
            raise CallFailed(503, "ServiceUnavailable", "the server is shutting down: retry on another server")
        body, nonce, timeout = await _admit(request, settings)
        raised, stream, content_type = await answer(settings, request, fields, body, timeout)
        del body  # its memory is free while the reply is sent
    except auth.Refused as refusal:
        fields["error"] = refusal.kind
        response = _error(refusal.status, refusal.kind, refusal.message,
                          settings.key, request.headers.get(_signing.NONCE) if refusal.signed else None)
        response.force_close()  # its body may be unread: never read it to reach a next request
        return response
    except ConnectionError:
        fields["error"] = "ClientGone"  # the client left mid-upload: nobody to answer, nothing to log
        return web.Response(status=400)
    except CallFailed as failure:
        fields["error"] = failure.kind
        return _error(failure.status, failure.kind, failure.message, settings.key, nonce)
    response = web.Response(body=stream, content_type=content_type)
    response.headers.update(_signing.sign_response(settings.key, 200, nonce, raised, stream))
    return response


async def _call(settings, request, fields, body, timeout):
    digest = request.query.get("function")
    if digest is None:
        raised, stream = await settings.backend.run(body, timeout)
    else:
        fields["function"] = digest
        raised, stream = await settings.backend.run(body, timeout, (digest, _stored(settings, digest)))
    fields["outcome"] = "exception" if raised else "result"
    return "1" if raised else "0", stream, "application/octet-stream"


def _stored(settings, digest):
    if not is_digest(digest):
        raise CallFailed(400, "BadRequest", f"?function= must be the 64 hex digits of a SHA-256, not {quote(digest)!r}")
    stream = settings.functions.get(digest)
    if stream is None:
        raise CallFailed(404, "FunctionMissing", f"this server does not have the function {digest} (it restarted, "
                         "or forgot it for newer ones): upload it again with POST /function")
    return stream


async def _upload_function(settings, request, fields, body, timeout):
    """Keep a function's stream under its digest, for later calls by digest."""
    fields["function"] = digest = settings.functions.put(body)
    return "", json.dumps({"digest": digest}).encode(), "application/json"


call = _signed_route(_call)
upload_function = _signed_route(_upload_function)


def _error(status, kind, message, key, nonce):
    """A JSON error; signed (bound to the request's nonce) only when the request was authenticated."""
    body = json.dumps({"error": kind, "message": message}).encode()
    response = web.Response(status=status, body=body, content_type="application/json")
    if nonce is not None:
        response.headers.update(_signing.sign_response(key, status, nonce, "", body))
    return response


# -- CORS ---------------------------------------------------------------------------

_PREFLIGHT_MAX_AGE_S = "600"


def _origin_refused(origin):
    return web.json_response(
        {"error": "ForbiddenOrigin",
         "message": f"the origin {origin} is not allowed: start the server with --allow-origin {origin}"},
        status=403)


@web.middleware
async def _cors(request, handler):
    """Answer browsers from --allow-origin origins only; requests with another Origin are refused.

    Requests without Origin (CPython, Node) are not browsers' and pass. The
    signature headers are exposed, or a page's fetch could not verify replies.
    """
    origin = request.headers.get("Origin")
    allowed = request.app[SETTINGS].allow_origins
    if origin is not None and origin not in allowed and request.method != "GET":
        return _origin_refused(origin)
    response = await handler(request)
    if origin is not None and origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = ", ".join(_signing.RESPONSE_HEADERS)
        response.headers.add("Vary", "Origin")
    return response


async def _preflight(request):
    if request.headers.get("Origin") is None:
        raise web.HTTPMethodNotAllowed("OPTIONS", ["GET", "POST"])
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = ", ".join(("Content-Type", *_signing.REQUEST_HEADERS))
    response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE_S
    if request.headers.get("Access-Control-Request-Private-Network") == "true":
        # Chromium asks this of a public page calling a loopback server; the origin was allowed by name.
        response.headers["Access-Control-Allow-Private-Network"] = "true"
    return response
