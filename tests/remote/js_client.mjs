// Drive js/remote.mjs's callRemote against a real server, for tests/remote/test_js_client.py.
//
//   node tests/remote/js_client.mjs URL KEY_FILE PAYLOAD_FILE [PYTHON]
//
// Prints one JSON line: {"raised": bool, "payload": hex} for a reply, or
// {"error": name, "status": n, "message": text} when callRemote rejects.

import fs from "node:fs";
import { callRemote } from "../../js/remote.mjs";

const [url, keyFile, payloadFile, python = "3.14"] = process.argv.slice(2);
const key = fs.readFileSync(keyFile, "utf8").trim();  // as the server reads its --key-file
try {
  const reply = await callRemote(url, key, new Uint8Array(fs.readFileSync(payloadFile)), { python, timeout: 60_000 });
  console.log(JSON.stringify({ raised: reply.raised, payload: Buffer.from(reply.payload).toString("hex") }));
} catch (error) {
  console.log(JSON.stringify({ error: error.name, status: error.status ?? null, message: error.message }));
}
