#!/usr/bin/env python3
"""Build build/dist/: a self-hosted Pyodide distribution that includes webpickle.

    bash wasm/toolchain.sh run python3 wasm/make_dist.py [--wheel PATH] [--out DIR]

Copies Pyodide's runtime from node_modules/pyodide, copies our wheel (default:
the single .whl in build/wasm/dist, or $WEBPICKLE_WHEEL), and writes
pyodide-lock.json = Pyodide's own lock plus a ``webpickle`` entry, so that a
page served from this folder can ``pyodide.loadPackage("webpickle")`` by name.
Only Pyodide's core files are shipped: the other lock entries (numpy, ...) are
listed but their wheels are absent, so loading them by name fails.
Idempotent: unchanged files are left alone; it prints what it did.
"""

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYODIDE = ROOT / "node_modules" / "pyodide"
WHEEL_DIR = ROOT / "build" / "wasm" / "dist"
# What a page needs from node_modules/pyodide; the lock is rewritten, not copied.
RUNTIME_FILES = ("pyodide.mjs", "pyodide.mjs.map", "pyodide.js", "pyodide.js.map",
                 "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
                 "pyodide.d.ts", "ffi.d.ts", "package.json")


def show(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def fail(message):
    sys.exit(f"make_dist: {message}")


def find_wheel(explicit):
    chosen = explicit or os.environ.get("WEBPICKLE_WHEEL")
    if chosen:
        path = pathlib.Path(chosen).resolve()
        if not path.is_file():
            fail(f"wheel {path} does not exist")
        return path
    wheels = sorted(WHEEL_DIR.glob("*.whl"))
    if not wheels:
        fail(f"no wheel in {WHEEL_DIR}: run 'bash wasm/toolchain.sh run ./dev build-wasm' "
             "first, or pass --wheel PATH")
    if len(wheels) > 1:
        fail(f"{len(wheels)} wheels in {WHEEL_DIR}: remove the stale ones or pass --wheel PATH")
    return wheels[0]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_if_changed(src, dest):
    if dest.exists() and dest.stat().st_size == src.stat().st_size and sha256(dest) == sha256(src):
        print(f"  up to date  {show(dest)}")
        return
    shutil.copyfile(src, dest)
    print(f"  copied      {show(dest)}")


def write_if_changed(dest, text):
    if dest.exists() and dest.read_text() == text:
        print(f"  up to date  {show(dest)}")
        return
    dest.write_text(text)
    print(f"  wrote       {show(dest)}")


def wheel_entry(wheel, lock_info):
    """The lock entry for our wheel, in the shape of Pyodide's own entries."""
    # Wheel file names are name-version-python-abi-platform.whl (no build tag here).
    parts = wheel.name[:-len(".whl")].split("-")
    if len(parts) != 5 or parts[0] != "webpickle":
        fail(f"{wheel.name} is not named webpickle-VERSION-PY-ABI-PLATFORM.whl")
    _, version, _, _, platform = parts
    want = f"pyemscripten_{lock_info['abi_version']}_{lock_info['arch']}"
    if platform != want:
        fail(f"{wheel.name} is for {platform}, but this Pyodide needs {want}: "
             "rebuild the wheel with the toolchain that matches node_modules/pyodide")
    return {
        "name": "webpickle",
        "version": version,
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": sha256(wheel),
        "package_type": "package",
        "imports": ["webpickle"],
        "depends": [],
        "unvendored_tests": False,
        "tool": {},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", help="wheel to ship (default: the one in build/wasm/dist)")
    parser.add_argument("--out", default=str(ROOT / "build" / "dist"), help="output folder")
    args = parser.parse_args(argv)

    if not (PYODIDE / "pyodide-lock.json").is_file():
        fail(f"{PYODIDE} is missing: run 'bash wasm/toolchain.sh run npm ci' first")
    wheel = find_wheel(args.wheel)
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"make_dist: {show(out)}")

    for name in RUNTIME_FILES:
        copy_if_changed(PYODIDE / name, out / name)
    for stale in out.glob("webpickle-*.whl"):
        if stale.name != wheel.name:
            stale.unlink()
            print(f"  removed     {show(stale)}")
    copy_if_changed(wheel, out / wheel.name)

    lock = json.loads((PYODIDE / "pyodide-lock.json").read_text())
    packages = dict(lock["packages"], webpickle=wheel_entry(wheel, lock["info"]))
    lock["packages"] = dict(sorted(packages.items()))  # Pyodide keeps them sorted by name
    write_if_changed(out / "pyodide-lock.json", json.dumps(lock))  # same layout as Pyodide's
    print(f"make_dist: webpickle {lock['packages']['webpickle']['version']} "
          f"({wheel.name}) ready for loadPackage('webpickle')")


if __name__ == "__main__":
    main()
