// The baseline's worker (baseline_pool.py): Pyodide plus Debian's cloudpickle
// files (served at /cloudpickle/), answering {id, data} with {id, data}: a
// cloudpickle stream of (ok, result or exception). Plain postMessage both
// ways, no transfer. Posts {type: "ready"} once it can take tasks.

import { loadPyodide } from "/pyodide/pyodide.mjs";
import { installCloudpickle } from "./load_bench.mjs";

const HANDLE = `
import pickle, cloudpickle
from pyodide.ffi import to_js
def handle(data):
    try:
        fn, args, kwargs = pickle.loads(data.to_bytes())
        out = (True, fn(*args, **kwargs))
    except BaseException as exc:
        out = (False, exc)
    return to_js(cloudpickle.dumps(out))
handle
`;

const queue = [];
let handle = null;
onmessage = ({ data }) => { queue.push(data); drain(); };

function drain() {
  while (handle && queue.length) {
    const { id, data } = queue.shift();
    postMessage({ type: "reply", id, data: handle(data) });
  }
}

const pyodide = await loadPyodide({ indexURL: "/pyodide/" });
await installCloudpickle(pyodide);
handle = pyodide.runPython(HANDLE);
postMessage({ type: "ready" });
drain();
