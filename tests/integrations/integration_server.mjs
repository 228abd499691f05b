// What the Chromium tests of tests/integrations share: demo/serve.py serving
// build/dist at /pyodide/, the fixtures at /integrations/, @pyscript/core's
// dist at /pyscript/ and a scratch folder at /scratch/ holding Debian's joblib
// as a zip (Pyodide unpacks it on the page). Not run directly.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, makeDist, startServer } from "../workers/chromium.mjs";

const JOBLIB = "/usr/lib/python3/dist-packages/joblib";

/** Resolve {url, stop()}: the page server, with the scratch folder removed on stop. */
export async function startIntegrationServer() {
  makeDist();
  if (!fs.existsSync(JOBLIB)) throw new Error(`${JOBLIB} is missing: run inside the toolchain root (python3-joblib)`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-integrations-"));
  execFileSync("python3", ["-c", `import shutil, sys; shutil.make_archive(sys.argv[1], "zip", sys.argv[2], "joblib")`,
    path.join(scratch, "joblib"), path.dirname(JOBLIB)]);
  const server = await startServer({
    "/integrations/": path.join(ROOT, "tests/integrations/fixtures"),
    "/pyscript/": path.join(ROOT, "node_modules/@pyscript/core/dist"),
    "/scratch/": scratch,
  });
  const stop = () => {
    if (server.child.exitCode === null) server.child.kill("SIGTERM");
    fs.rmSync(scratch, { recursive: true, force: true });
  };
  return { url: server.url, stop };
}
