#!/usr/bin/env bash
# Builds the Pyodide wheel and the wasm Catch2 tests. Runs inside the
# toolchain: `bash wasm/toolchain.sh run wasm/build.sh` (./dev build-wasm does this).
# Output: build/wasm/dist/webpickle-<version>-cp314-cp314-pyemscripten_<abi>_wasm32.whl
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/wasm

[ -f node_modules/pyodide/python_stdlib.zip ] || { echo "build-wasm: node_modules/pyodide is missing: run 'npm ci' first" >&2; exit 1; }
catch2_source=$(ls -d /opt/src/catch2-*/ 2>/dev/null | head -n1)
[ -n "$catch2_source" ] || { echo "build-wasm: Catch2's source is missing in the toolchain: run 'wasm/toolchain.sh ensure'" >&2; exit 1; }

python3 wasm/python_headers.py "$out/python-include"
# pybind11 is header-only; give it a folder of its own so that /usr/include
# (the host's C library headers) never reaches the wasm compiler.
mkdir -p "$out/pybind11-include"
ln -sfn /usr/include/pybind11 "$out/pybind11-include/pybind11"

emcmake cmake -S . -B "$out/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DWEBPICKLE_PYTHON_INCLUDE="$PWD/$out/python-include/python3.14" \
    -DWEBPICKLE_PYBIND11_INCLUDE="$PWD/$out/pybind11-include" \
    -DWEBPICKLE_CATCH2_SOURCE="$catch2_source" >/dev/null
cmake --build "$out/cmake"
rm -rf "$out/stage"
cmake --install "$out/cmake" --prefix "$PWD/$out/stage" >/dev/null
python3 wasm/make_wheel.py "$out/stage" "$out/dist"
