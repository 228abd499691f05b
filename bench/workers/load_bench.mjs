// Loaders for the benchmark page and the baseline's workers: Debian's
// cloudpickle files (served at /cloudpickle/) copied into a Pyodide, and the
// page's Pyodide with webpickle, cloudpickle and the benchmark's Python files.

const CLOUDPICKLE_FILES = ["__init__.py", "cloudpickle.py", "cloudpickle_fast.py"];
const BENCH_FILES = ["measure.py", "baseline_pool.py"];

async function fetchText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.text();
}

export async function installCloudpickle(pyodide) {
  const site = pyodide.runPython("import site; site.getsitepackages()[0]");
  pyodide.FS.mkdirTree(`${site}/cloudpickle`);
  for (const name of CLOUDPICKLE_FILES) {
    pyodide.FS.writeFile(`${site}/cloudpickle/${name}`, await fetchText(`/cloudpickle/${name}`));
  }
}

export async function loadBenchPage() {
  const { loadPyodide } = await import("/pyodide/pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: "/pyodide/" });
  const problems = [];
  await pyodide.loadPackage("webpickle", { messageCallback: () => {}, errorCallback: (m) => problems.push(m) });
  if (problems.length) throw new Error(`loadPackage("webpickle"): ${problems.join("; ")}`);
  await installCloudpickle(pyodide);
  pyodide.FS.mkdirTree("/home/pyodide/bench");
  for (const name of BENCH_FILES) {
    pyodide.FS.writeFile(`/home/pyodide/bench/${name}`, await fetchText(new URL(`./${name}`, import.meta.url)));
  }
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/bench'); import measure");
  return pyodide;
}
