// Functions and classes pickled by value must load in the other runtime too:
// the four directions between native CPython 3.14 and Pyodide (in Node). The
// loading side never has webpickle: streams are self-contained (a Pyodide
// that never loaded the wheel; natively `python -I -S`, without site-packages).
//
//   bash wasm/toolchain.sh run node --test tests/pyodide/cross_runtime.mjs
//
// Native side: build/venv/bin/python (made by ./dev build-native), or
// $WEBPICKLE_PYTHON. Pyodide side: the wheel in build/wasm/dist, or
// $WEBPICKLE_WHEEL. Every consumer is a fresh interpreter whose __main__ never
// saw the function, so a pickle by reference (to __main__.f) would fail there.
// Bytes travel through files, as they would between machines.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findWheel, projectRoot, startPyodide } from "../harness/pyodide_node.mjs";

// Runs in __main__ on both sides (python3 -c and Pyodide's runPython):
// a closure (k) plus a referenced module global (scale), a dataclass
// instance (its __repr__ wrapper and its __init__'s __annotate__ are made
// again by the loading side's stdlib) and an enum member.
const PRODUCER = `
import dataclasses, enum, webpickle
scale = 3
def make(k):
    return lambda x: x * k + scale
@dataclasses.dataclass
class Point:
    x: int
    y: int = 0
    def total(self):
        return self.x + self.y
class Color(enum.Enum):
    RED = 1
    GREEN = 2
data = webpickle.dumps((make(2), Point(4, 5), Color.GREEN))
`;
// x * 2 + 3 for x in 0..4, then 4 + 5, the member, the dataclass's repr and __init__ annotations
const EXPECTED = [3, 5, 7, 9, 11, 9, "GREEN", "Point(x=4, y=5)", ["return", "x", "y"]];

const consumer = (file) => `
import importlib.util, json, pickle
assert "make" not in globals() and "scale" not in globals(), "consumer must start clean"
assert importlib.util.find_spec("webpickle") is None, "the loading side must not have webpickle"
with open(${JSON.stringify(file)}, "rb") as fh:
    g, point, color = pickle.load(fh)
annotations = sorted(type(point).__init__.__annotations__)
json.dumps([g(x) for x in range(5)] + [point.total(), color.name, repr(point), annotations])
`;

const nativePython = process.env.WEBPICKLE_PYTHON || path.join(projectRoot, "build/venv/bin/python");
let tmp; // host folder for the pickle files
let producer; // a Pyodide that defines and pickles the function
let loader; // a separate Pyodide that only loads pickles

function runNative(code, flags = []) {
  try {
    return execFileSync(nativePython, [...flags, "-c", code], { encoding: "utf8", stdio: "pipe" }).trim();
  } catch (err) {
    throw new Error(`native python failed:\n${err.stderr || err.message}`);
  }
}

/** Native: pickle the function into host file `file`. */
function nativeDump(file) {
  runNative(`${PRODUCER}\nwith open(${JSON.stringify(file)}, "wb") as fh:\n    fh.write(data)\n`);
}

/** Native: load host file `file` in a fresh process and call the function. */
function nativeLoad(file) {
  // python -c prints nothing for a bare expression: print the last line.
  const lines = consumer(file).trim().split("\n");
  lines.push(`print(${lines.pop()})`);
  return JSON.parse(runNative(lines.join("\n"), ["-I", "-S"]));
}

/** Pyodide `producer`: pickle the function in its __main__, copy the bytes to host `file`. */
function pyodideDump(file) {
  producer.runPython(`${PRODUCER}\nwith open("/tmp/fn.pkl", "wb") as fh:\n    fh.write(data)\n`);
  fs.writeFileSync(file, producer.FS.readFile("/tmp/fn.pkl"));
}

/** Pyodide `loader`: copy host `file` in, load it in a fresh namespace, call it. */
function pyodideLoad(file) {
  loader.FS.writeFile("/tmp/fn.pkl", fs.readFileSync(file));
  const namespace = loader.toPy({});
  try {
    return JSON.parse(loader.runPython(consumer("/tmp/fn.pkl"), { globals: namespace }));
  } finally {
    namespace.destroy();
  }
}

before(async () => {
  if (!fs.existsSync(nativePython)) {
    throw new Error(`${nativePython} is missing: run 'bash wasm/toolchain.sh run ./dev build-native' ` +
      "first, or set WEBPICKLE_PYTHON to a Python 3.14 that can import webpickle");
  }
  const wheel = findWheel();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-cross-"));
  const quiet = { stdout: () => {}, stderr: (line) => console.error(line) };
  // Two separate Pyodide instances, so the loading one never defines the function.
  const [a, b] = await Promise.all([startPyodide(wheel, quiet), startPyodide(null, quiet)]);
  ({ pyodide: producer } = a);
  ({ pyodide: loader } = b);
  console.log(`# Pyodide ${producer.version} in Node: loaded in ${(a.loadMs / 1000).toFixed(2)} s ` +
    `(two in parallel), wheel ${path.basename(wheel)} installed in ${(a.wheelMs / 1000).toFixed(2)} s`);
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// The digest that names a function for the pool and the server (webpickle/_function_stream.py):
// the same definitions give the same stream, and so the same digest, natively and in Pyodide.
const DIGEST = `
from webpickle import _function_stream
namespace = {"__name__": "__main__"}
exec(compile(${JSON.stringify(PRODUCER)}, "<cell>", "exec"), namespace)
digest = _function_stream.pickle_function(namespace["make"](2), None).digest
`;

test("a function's digest is the same natively and in Pyodide", () => {
  const native = runNative(`${DIGEST}\nprint(digest)`);
  const pyodide = producer.runPython(`${DIGEST}\ndigest`);
  assert.match(native, /^[0-9a-f]{64}$/);
  assert.equal(pyodide, native);
});

test("native -> native", () => {
  const file = path.join(tmp, "native-native.pkl");
  nativeDump(file);
  assert.deepEqual(nativeLoad(file), EXPECTED);
});

test("Pyodide -> Pyodide", () => {
  const file = path.join(tmp, "pyodide-pyodide.pkl");
  pyodideDump(file);
  assert.deepEqual(pyodideLoad(file), EXPECTED);
});

test("Pyodide -> native CPython", () => {
  const file = path.join(tmp, "pyodide-native.pkl");
  pyodideDump(file);
  assert.deepEqual(nativeLoad(file), EXPECTED);
});

test("native CPython -> Pyodide", () => {
  const file = path.join(tmp, "native-pyodide.pkl");
  nativeDump(file);
  assert.deepEqual(pyodideLoad(file), EXPECTED);
});
