// The prefilled cells, in story order. Their Python lives in demo/cells/*.py
// (bundled as text by demo/build.mjs), so it can be read and linted as Python.

import define from "../cells/1_define.py";
import serial from "../cells/2_serial.py";
import workers from "../cells/3_workers.py";
import server from "../cells/4_server.py";
import compare from "../cells/5_compare.py";
import stream from "../cells/6_stream.py";
import errors from "../cells/7_errors.py";

// Without the files' final newline: an editor would show it as an empty last line.
export const CELLS = [
  { title: "A function and a class, defined only in this page", source: define.trimEnd() },
  { title: "Run it serially, on the page", source: serial.trimEnd() },
  { title: "Run it on Web Workers, with a live progress bar", source: workers.trimEnd() },
  { title: "Send it to the server", source: server.trimEnd() },
  { title: "Compare the wall-clock times", source: compare.trimEnd() },
  { title: "What travels: the pickle stream", source: stream.trimEnd() },
  { title: "Errors come back with the remote traceback", source: errors.trimEnd() },
];
