"""Where the pool's workers load webpickle from: wherever this Pyodide got it.

Each way of installing webpickle in Pyodide leaves its own trace:

- pyodide.loadPackage("webpickle"), from the lock file: loadedPackages says
  "default channel"; workers load it by name from the same lock file.
- pyodide.loadPackage(url) or micropip.install(url): loadedPackages holds the
  URL (or, under Node, the path) of the wheel.
- micropip.install from an index (JupyterLite's %pip, piplite): loadedPackages
  says "pypi", and the distribution's PYODIDE_URL metadata file holds the URL
  the wheel came from, often with "?sha256=..." appended.
- micropip.install("emfs:/path/....whl"): the wheel is a file in this Pyodide's
  own file system, which workers cannot see: its bytes are handed over as a
  Blob URL (a temporary file under Node).

loadPackage accepts only locations ending in ".whl", so a query or fragment is
dropped from any URL, wheel_url= included.
"""

import importlib.metadata
import posixpath
import urllib.parse

_DEFAULT_CHANNEL = "default channel"
_EMFS = "emfs:"

# Makes the bytes of a wheel found in this Pyodide's file system loadable by a
# worker. Pyodide derives the package's name from the text after the last "/"
# of the location, hence "#/name" after a Blob URL (fetch ignores fragments).
_PUBLISH_JS = """(bytes, name) => {
  const node = typeof process === "object" && typeof process.versions?.node === "string" &&
    typeof WorkerGlobalScope === "undefined" && typeof window === "undefined";
  if (!node) return URL.createObjectURL(new Blob([bytes])) + "#/" + name;
  const fs = process.getBuiltinModule("node:fs"), os = process.getBuiltinModule("node:os"),
    path = process.getBuiltinModule("node:path");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-wheel-")), name);
  fs.writeFileSync(file, bytes);
  return file;
}"""
_published = {}  # emfs path -> the location made for it (one per runtime and path)


class WheelNotFoundError(Exception):
    """Workers cannot find the wheel; the message says what to pass instead."""


def without_query(url):
    """url with any "?query" and "#fragment" dropped (micropip appends "?sha256=..." to index URLs)."""
    if url.startswith(_EMFS):
        return url.split("?", 1)[0].split("#", 1)[0]
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def worker_wheel(wheel_url=None, loaded_source=None, installed_url=None, lock_has_webpickle=True):
    """The location workers load webpickle from, or None to load it by name from the lock file.

    wheel_url: the caller's explicit choice (WorkerPool(wheel_url=...)).
    loaded_source: pyodide_js.loadedPackages.webpickle (None: not there).
    installed_url: the PYODIDE_URL metadata micropip wrote (None: none).
    Raises WheelNotFoundError naming the source and what to pass.
    """
    if wheel_url:
        return _checked(wheel_url, "wheel_url")
    if loaded_source == _DEFAULT_CHANNEL:
        return None
    if loaded_source is None:
        if installed_url:
            return _checked(installed_url, "the PYODIDE_URL metadata of the installed webpickle")
        if not lock_has_webpickle:
            raise WheelNotFoundError(
                "webpickle is not in this Pyodide's loadedPackages nor in its lock file, so workers cannot "
                "load it by name: pass WorkerPool(wheel_url=...) with the URL of the webpickle wheel")
        return None
    if _looks_like_location(loaded_source):
        return _checked(loaded_source, "loadedPackages")
    if installed_url:  # "pypi" and any other index micropip names
        return _checked(installed_url, "the PYODIDE_URL metadata of the installed webpickle")
    raise WheelNotFoundError(
        f"webpickle was installed from {loaded_source!r} and its metadata records no URL (no PYODIDE_URL file), "
        "so workers cannot load it from there: pass WorkerPool(wheel_url=...) with the URL of the webpickle wheel")


def _looks_like_location(source):
    return "/" in source or source.startswith(_EMFS) or without_query(source).endswith(".whl")


def _checked(location, where):
    url = without_query(location)
    if not posixpath.basename(urllib.parse.urlsplit(url).path if "://" in url else url).endswith(".whl"):
        raise WheelNotFoundError(
            f"{where} gives {location!r}, which is not a wheel's location (Pyodide loads only locations whose "
            "path ends in .whl): pass WorkerPool(wheel_url=...) with the URL of the webpickle-....whl file")
    return url


def installed_state():
    """(loaded_source, installed_url, lock_has_webpickle) as this Pyodide records them."""
    import pyodide_js

    loaded_source = getattr(pyodide_js.loadedPackages, "webpickle", None)
    try:
        installed_url = importlib.metadata.distribution("webpickle").read_text("PYODIDE_URL")
    except importlib.metadata.PackageNotFoundError:
        installed_url = None
    lock = getattr(pyodide_js.lockfile, "packages", None)
    lock_has_webpickle = lock is not None and getattr(lock, "webpickle", None) is not None
    return loaded_source, (installed_url or "").strip() or None, lock_has_webpickle


def loadable(location):
    """A location a worker's loadPackage can read: an emfs: path becomes a Blob URL (a file under Node)."""
    if location is None or not location.startswith(_EMFS):
        return location
    path = location[len(_EMFS):]
    if path not in _published:
        from pyodide.code import run_js
        from pyodide.ffi import to_js

        try:
            data = open(path, "rb").read()
        except OSError as exc:
            raise WheelNotFoundError(
                f"webpickle was installed from {location!r}, which can no longer be read ({exc}): pass "
                "WorkerPool(wheel_url=...) with the URL of the webpickle wheel") from None
        _published[path] = str(run_js(_PUBLISH_JS)(to_js(data), posixpath.basename(path)))
    return _published[path]
