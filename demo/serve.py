#!/usr/bin/env python3
"""Serve the demo notebook and the self-hosted Pyodide (build/dist) on the loopback only.

    ./dev demo                                      # builds, then runs this with --remote
    bash wasm/toolchain.sh run python3 demo/serve.py [--port 8000] [--remote] [--no-browser]

URL layout:  /           -> demo/         (index.html, notebook.css)
             /bundle/    -> build/demo/   (notebook.js: demo/build.mjs bundles it)
             /pyodide/   -> build/dist/   (pyodide.mjs, pyodide-lock.json, our wheel)
             extra --mount /PREFIX/=FOLDER pairs (the browser tests add their fixtures)
             POST /api/session            (--remote only: see demo/session.py)

Static files only: nothing here unpickles data. With --remote it also starts
the remote-execution server (python -m webpickle.server, which does unpickle:
only for holders of its key) and stops it when it exits; the key reaches the
page through a one-time token in the printed URL.

Every response carries the cross-origin isolation headers (COOP/COEP) so pages
may use SharedArrayBuffer, and .wasm is served as application/wasm (anything
else makes loadPyodide hang). The first line printed is
"serving at http://127.0.0.1:PORT/" (tests parse it); with --remote a later
line is "open http://127.0.0.1:PORT/#token=..." (the notebook's test parses it).
"""

import argparse
import http.server
import json
import os
import pathlib
import signal
import sys
import urllib.parse
import webbrowser

from session import RemoteServer, RemoteStartError, TokenExchange

ROOT = pathlib.Path(__file__).resolve().parent.parent

MIME_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".whl": "application/octet-stream",
    ".zip": "application/zip",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".py": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = MIME_TYPES  # others: the mimetypes module's guess
    sends_secret = False  # set for /api/session replies

    def translate_path(self, path):
        # Pick the folder by the longest matching URL prefix, then let the base
        # class map the rest inside it (it drops '..' and empty parts).
        url_path = urllib.parse.urlsplit(path).path
        for prefix, folder in self.server.mounts:
            if url_path.startswith(prefix) or url_path == prefix.rstrip("/"):
                self.directory = str(folder)
                return super().translate_path("/" + url_path[len(prefix):])
        return str(ROOT / "missing")  # unreachable: "/" always matches

    def list_directory(self, path):
        self.send_error(404, "No directory listings here")  # only named files are served
        return None

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        # no-cache: revalidate, wheels get rebuilt; no-store: the key must land in no cache.
        self.send_header("Cache-Control", "no-store" if self.sends_secret else "no-cache")
        super().end_headers()

    def log_request(self, code="-", size="-"):
        # Quiet on success; 404s and errors are what one needs to see.
        if isinstance(code, int) and code >= 400 or self.server.verbose:
            super().log_request(code, size)

    def do_POST(self):
        """POST /api/session: trade the one-time token for the remote server's URL and key."""
        if urllib.parse.urlsplit(self.path).path != "/api/session":
            return self.send_json(404, {"error": "the only POST endpoint is /api/session"})
        exchange = self.server.exchange
        if exchange is None:
            return self.send_json(404, {"error": "no remote server: start the demo with ./dev demo "
                                                 "(demo/serve.py --remote)"})
        # Same-origin callers only. The Host check stops DNS rebinding (a page
        # on another name resolving to 127.0.0.1); the JSON content type makes
        # any cross-origin fetch need a preflight, which this server never grants.
        own = f"127.0.0.1:{self.server.server_port}"
        origin = self.headers.get("Origin")
        if self.headers.get("Host") != own or origin not in (None, f"http://{own}"):
            return self.send_json(403, {"error": f"open the notebook at http://{own}/ (the remote server "
                                                 "accepts calls from that origin only)"})
        if self.headers.get_content_type() != "application/json":
            return self.send_json(415, {"error": "send the token as JSON: {\"token\": ...}"})
        length = self.headers.get("Content-Length", "")
        length = int(length) if length.isdigit() else 0
        if not 0 < length <= 4096:
            return self.send_json(400, {"error": "the body must be a small JSON object"})
        try:
            offered = json.loads(self.rfile.read(length)).get("token")
        except (ValueError, AttributeError):
            return self.send_json(400, {"error": "the body must be a JSON object with a token"})
        self.send_json(*exchange.redeem(offered))

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.sends_secret = True
        self.end_headers()
        self.wfile.write(data)


def parse_mount(text):
    prefix, sep, folder = text.partition("=")
    if not sep or not prefix.startswith("/") or not prefix.endswith("/"):
        raise argparse.ArgumentTypeError(f"--mount wants /PREFIX/=FOLDER, got {text!r}")
    path = pathlib.Path(folder).resolve()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"--mount folder {path} does not exist")
    return prefix, path


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Static server for the webpickle demo notebook.")
    parser.add_argument("--port", type=int, default=8000, help="TCP port, 0 = any free one")
    parser.add_argument("--dist", default=str(ROOT / "build" / "dist"),
                        help="Pyodide distribution served at /pyodide/ (default build/dist)")
    parser.add_argument("--mount", action="append", type=parse_mount, default=[],
                        metavar="/PREFIX/=FOLDER", help="serve FOLDER at /PREFIX/ as well")
    parser.add_argument("--remote", action="store_true",
                        help="also run the remote-execution server and print a URL with a one-time token")
    parser.add_argument("--python", default=str(ROOT / "build" / "venv" / "bin" / "python"),
                        help="the Python that runs the remote server (default build/venv, made by ./dev build)")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL, open nothing")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def start_remote(python, origin):
    """(RemoteServer or None, TokenExchange): a failure to start is told to the page, not fatal."""
    remote = RemoteServer(python, origin, ROOT / "build" / "demo-run")
    try:
        url = remote.start()
    except RemoteStartError as exc:
        print(f"serve.py: the remote server did not start, the notebook's server cells will fail:\n{exc}",
              file=sys.stderr, flush=True)
        return None, TokenExchange(problem=str(exc).splitlines()[0])
    print(f"remote server at {url} (key in {remote.key_file.relative_to(ROOT)}, mode 0600)", flush=True)
    return remote, TokenExchange({"server": url, "key": remote.key})


def open_browser(url):
    # Inside the toolchain there is no display: printing the URL is all one can do.
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        webbrowser.open(url)


def stop_serving(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(argv)
    dist = pathlib.Path(args.dist).resolve()
    if not (dist / "pyodide-lock.json").is_file():
        sys.exit(f"serve.py: {dist} has no pyodide-lock.json: run "
                 "'bash wasm/toolchain.sh run python3 wasm/make_dist.py' first")
    bundle = ROOT / "build" / "demo"
    if not (bundle / "notebook.js").is_file():
        print("serve.py: build/demo/notebook.js is missing, the notebook will not load: run "
              "'bash wasm/toolchain.sh run node demo/build.mjs' (./dev build does)", file=sys.stderr)
    mounts = [("/pyodide/", dist), ("/bundle/", bundle), *args.mount, ("/", ROOT / "demo")]
    mounts.sort(key=lambda m: len(m[0]), reverse=True)

    # Loopback only: this is a development server, never meant to be reachable.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.mounts, server.verbose, server.exchange = mounts, args.verbose, None
    server.daemon_threads = True
    origin = f"http://127.0.0.1:{server.server_port}"
    print(f"serving at {origin}/", flush=True)
    for prefix, folder in sorted(mounts):
        print(f"  {prefix:<12} {folder}", flush=True)
    # SIGTERM (a test ending, kill PID) must run the finally below, or the remote server would outlive us.
    signal.signal(signal.SIGTERM, stop_serving)
    remote = None
    try:
        if args.remote:
            remote, server.exchange = start_remote(args.python, origin)
            url = f"{origin}/#token={server.exchange.token}"
            print(f"\nopen {url}\n  (the token works once: it hands the page the remote server's key)",
                  flush=True)
            if not args.no_browser:
                open_browser(url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if remote is not None:
            remote.stop()


if __name__ == "__main__":
    main()
