#!/usr/bin/env python3
"""Serve the demo and the self-hosted Pyodide (build/dist) on the loopback only.

    bash wasm/toolchain.sh run python3 wasm/make_dist.py      # builds build/dist first
    bash wasm/toolchain.sh run python3 demo/serve.py [--port 8000]   # 0 picks a free port

URL layout:  /           -> demo/
             /pyodide/   -> build/dist/   (pyodide.mjs, pyodide-lock.json, our wheel)
             extra --mount /PREFIX/=FOLDER pairs (the browser tests add their fixtures)

Static files only: nothing here unpickles data. Every response carries the
cross-origin isolation headers (COOP/COEP) so pages may use SharedArrayBuffer,
and .wasm is served as application/wasm (anything else makes loadPyodide hang).
The first line printed is "serving at http://127.0.0.1:PORT/" (tests parse it).
"""

import argparse
import http.server
import pathlib
import sys
import urllib.parse

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
        self.send_header("Cache-Control", "no-cache")  # revalidate: wheels get rebuilt
        super().end_headers()

    def log_request(self, code="-", size="-"):
        # Quiet on success; 404s and errors are what one needs to see.
        if isinstance(code, int) and code >= 400 or self.server.verbose:
            super().log_request(code, size)


def parse_mount(text):
    prefix, sep, folder = text.partition("=")
    if not sep or not prefix.startswith("/") or not prefix.endswith("/"):
        raise argparse.ArgumentTypeError(f"--mount wants /PREFIX/=FOLDER, got {text!r}")
    path = pathlib.Path(folder).resolve()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"--mount folder {path} does not exist")
    return prefix, path


def main(argv=None):
    parser = argparse.ArgumentParser(description="Static server for the webpickle demo.")
    parser.add_argument("--port", type=int, default=8000, help="TCP port, 0 = any free one")
    parser.add_argument("--dist", default=str(ROOT / "build" / "dist"),
                        help="Pyodide distribution served at /pyodide/ (default build/dist)")
    parser.add_argument("--mount", action="append", type=parse_mount, default=[],
                        metavar="/PREFIX/=FOLDER", help="serve FOLDER at /PREFIX/ as well")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    dist = pathlib.Path(args.dist).resolve()
    if not (dist / "pyodide-lock.json").is_file():
        sys.exit(f"serve.py: {dist} has no pyodide-lock.json: run "
                 "'bash wasm/toolchain.sh run python3 wasm/make_dist.py' first")
    mounts = [("/pyodide/", dist), *args.mount, ("/", ROOT / "demo")]
    mounts.sort(key=lambda m: len(m[0]), reverse=True)

    # Loopback only: this is a development server, never meant to be reachable.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.mounts, server.verbose = mounts, args.verbose
    server.daemon_threads = True
    print(f"serving at http://127.0.0.1:{server.server_port}/", flush=True)
    for prefix, folder in sorted(mounts):
        print(f"  {prefix:<12} {folder}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
