// How the page learns the remote server's URL and key: ./dev demo prints a URL
// ending in #token=..., and the page trades that token, once, with a POST to
// demo/serve.py. The token sits in the fragment so it is never sent in a GET
// or a Referer; after the trade it is removed from the address bar, and the
// answer is kept in sessionStorage (this tab only) so a reload still works.

const STORAGE_KEY = "webpickle-demo-remote";

/** Resolve {server, key} or {problem: "what went wrong and what to do"}. */
export async function remoteSession() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!token) {
    const kept = sessionStorage.getItem(STORAGE_KEY);
    if (kept) return JSON.parse(kept);
    return { problem: "this page was opened without its token, so it has no key for the remote " +
      "server: open the URL that ./dev demo printed (it ends in #token=...)" };
  }
  history.replaceState(null, "", location.pathname + location.search); // the token is spent either way
  let reply;
  try {
    reply = await fetch("/api/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
    });
  } catch (error) {
    return { problem: `could not reach demo/serve.py to trade the token: ${error.message}` };
  }
  const body = await reply.json().catch(() => ({ error: `HTTP ${reply.status}` }));
  if (!reply.ok) {
    // A reload after a restart of the demo: a kept session is stale, say so.
    sessionStorage.removeItem(STORAGE_KEY);
    return { problem: `the token was refused: ${body.error}` };
  }
  const session = { server: body.server, key: body.key };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  return session;
}
