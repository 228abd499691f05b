"""Pack the Emscripten build into a Pyodide wheel.

usage: python3 wasm/make_wheel.py STAGE_DIR DIST_DIR

STAGE_DIR holds webpickle/_core.cpython-314-wasm32-emscripten.so (from
`cmake --install`); the Python files come from src/webpickle, and the Web
Worker pool's JavaScript, bundled by wasm/bundle_js.mjs (esbuild), goes to
webpickle/_js/. The platform
tag is built from the ABI version Pyodide's own lock file declares
(pyemscripten_<abi>_wasm32), never from the compiler's version: micropip
rejects an emscripten_<compiler version> tag that differs from Pyodide's.
The archive is deterministic: sorted entries with a fixed timestamp.
"""

import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PACKAGE_SOURCES = PROJECT / "src/webpickle"
LOCK_FILE = PROJECT / "node_modules/pyodide/pyodide-lock.json"
VERSION_HEADER = PROJECT / "src/core/version.hpp"
PYTHON_TAG = "cp314"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def project_version():
    match = re.search(r'#define WEBPICKLE_VERSION_STRING "([^"]+)"', VERSION_HEADER.read_text())
    if not match:
        sys.exit(f"no WEBPICKLE_VERSION_STRING in {VERSION_HEADER}")
    return match.group(1)


def platform_tag():
    info = json.loads(LOCK_FILE.read_text())["info"]
    if info.get("arch") != "wasm32":
        sys.exit(f"unexpected Pyodide arch {info.get('arch')!r} in {LOCK_FILE}")
    return f"pyemscripten_{info['abi_version']}_wasm32"


# Subpackages that never run in Pyodide: the remote-execution server needs
# aiohttp and processes (its clients, remote.py and _signing.py, do ship).
NATIVE_ONLY = {"server"}


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def bundled_javascript():
    """{file name: bytes} of the pool's JavaScript bundles (see wasm/bundle_js.mjs)."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["node", str(PROJECT / "wasm/bundle_js.mjs"), out], check=True, timeout=300)
        return {path.name: path.read_bytes() for path in sorted(Path(out).iterdir())}


def wheel_files(stage, version, tag):
    files = {}
    extensions = sorted((stage / "webpickle").glob("_core.*.so"))
    if len(extensions) != 1:
        sys.exit(f"expected one _core*.so in {stage / 'webpickle'}, found {len(extensions)}: build first")
    files[f"webpickle/{extensions[0].name}"] = extensions[0].read_bytes()
    for source in sorted(PACKAGE_SOURCES.rglob("*")):
        relative = source.relative_to(PACKAGE_SOURCES)
        if relative.parts[0] in NATIVE_ONLY:
            continue
        if source.is_file() and "__pycache__" not in source.parts and source.suffix != ".pyc":
            files[f"webpickle/{source.relative_to(PACKAGE_SOURCES).as_posix()}"] = source.read_bytes()
    for name, data in bundled_javascript().items():
        files[f"webpickle/_js/{name}"] = data
    dist_info = f"webpickle-{version}.dist-info"
    files[f"{dist_info}/METADATA"] = (
        "Metadata-Version: 2.4\n"
        "Name: webpickle\n"
        f"Version: {version}\n"
        "Summary: Ship Python functions and classes by value, from Pyodide to Web Workers "
        "and servers; a C++ drop-in for cloudpickle\n"
        "Requires-Python: >=3.14\n"
        "License-Expression: BSD-3-Clause\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\n"
        "Generator: webpickle wasm/make_wheel.py\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {PYTHON_TAG}-{PYTHON_TAG}-{tag}\n"
    ).encode()
    record = [record_line(name, data) for name, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return files


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    stage, dist = Path(sys.argv[1]), Path(sys.argv[2])
    version, tag = project_version(), platform_tag()
    files = wheel_files(stage, version, tag)
    dist.mkdir(parents=True, exist_ok=True)
    for old in dist.glob("webpickle-*.whl"):
        old.unlink()
    wheel = dist / f"webpickle-{version}-{PYTHON_TAG}-{PYTHON_TAG}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    print(f"make_wheel: {wheel} ({wheel.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
