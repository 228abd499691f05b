"""The notebook's remote side, for demo/serve.py --remote.

Two pieces:

RemoteServer   runs ``python -m webpickle.server`` as a child process on the
               loopback, with a fresh random key in a file only this user can
               read (mode 0600, deleted on stop). The key is never printed and
               never on a command line.
TokenExchange  a one-time token (printed in the page URL, as Jupyter does) that
               the page trades once, by POST /api/session, for the server's URL
               and key. A second use fails, so a process that reads the
               terminal later, or any other page, cannot get the key.

Why the care: the remote server unpickles what it is sent, which is running
code. Whoever holds the key can run anything as this user.
"""

import ctypes
import hmac
import os
import pathlib
import re
import secrets
import signal
import subprocess
import sys
import threading

READY_LINE = re.compile(r"webpickle server listening on (http://\S+)")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class RemoteStartError(RuntimeError):
    """The remote-execution server did not start; the message says why and what to do."""


def _die_with_parent():
    # Runs in the child between fork and exec: if serve.py is killed outright
    # (SIGKILL, a crash), the kernel stops the server too, so no process is
    # left holding the port and accepting the key.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: stop() still ends it on every normal exit


class RemoteServer:
    """``python -m webpickle.server`` on a free loopback port, for one page origin."""

    def __init__(self, python, allow_origin, key_dir):
        self.python, self.allow_origin = python, allow_origin
        self.key_dir = pathlib.Path(key_dir)
        self.key = secrets.token_hex(32)  # 256 bits
        self.key_file = None
        self.url = None
        self.process = None

    def _write_key(self):
        self.key_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key_dir, 0o700)
        _remove_stale_keys(self.key_dir)
        self.key_file = self.key_dir / f"remote-{os.getpid()}-{secrets.token_hex(4)}.key"
        # O_EXCL: never reuse (or follow a symlink to) a file someone else made.
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.key + "\n")

    def start(self, timeout=60.0):
        """Start the server and wait for its ready line; return its URL or raise RemoteStartError."""
        self._write_key()
        command = [self.python, "-u", "-m", "webpickle.server", "--key-file", str(self.key_file),
                   "--port", "0", "--allow-origin", self.allow_origin]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, bufsize=1, preexec_fn=_die_with_parent)
        except OSError as exc:
            self.stop()
            raise RemoteStartError(f"could not run {self.python}: {exc}; run ./dev build first") from exc
        found, lines = threading.Event(), []
        threading.Thread(target=self._read_output, args=(found, lines), daemon=True).start()
        found.wait(timeout)
        if self.url is None:
            code = self.process.poll()
            self.stop()
            what = f"exited with status {code}" if code is not None else f"was not ready in {timeout:.0f} s"
            output = "".join(lines[-15:]) or "(no output)\n"
            raise RemoteStartError(
                f"'{' '.join(command[:5])} ...' {what}; its output:\n{output}"
                "Is webpickle (with webpickle.server) installed in that Python? ./dev build installs it "
                "into build/venv.")
        return self.url

    def _read_output(self, found, lines):
        """Find the ready line, then pass the server's log through to our stderr."""
        for line in self.process.stdout:
            lines.append(line)
            if self.url is None:
                match = READY_LINE.search(line)
                if match:
                    self.url = match[1]
                    found.set()
                    continue
            sys.stderr.write(f"[remote] {line}")
        found.set()  # it exited

    def stop(self):
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and delete the key file."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.key_file is not None:
            self.key_file.unlink(missing_ok=True)


def _remove_stale_keys(folder):
    """Delete key files left by a serve.py that was killed outright (its pid is in the name)."""
    for path in folder.glob("remote-*-*.key"):
        try:
            os.kill(int(path.name.split("-")[1]), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            pass  # not ours to judge: a live process of another user, or a foreign name


class TokenExchange:
    """Hands {server, key} (or why there is none) to the first caller with the token."""

    def __init__(self, secret=None, problem=None):
        self.token = secrets.token_urlsafe(32)
        self._secret, self._problem = secret, problem
        self._used = False
        self._lock = threading.Lock()

    def redeem(self, offered):
        """(HTTP status, JSON-able body) for one POST /api/session carrying `offered`."""
        if not isinstance(offered, str) or not hmac.compare_digest(offered.encode(), self.token.encode()):
            return 403, {"error": "wrong token: open the URL that ./dev demo printed"}
        with self._lock:
            if self._used:
                return 403, {"error": "this token was already used (it works once): "
                                      "restart ./dev demo for a new URL"}
            self._used = True
        if self._secret is None:
            return 503, {"error": f"the remote server is not running: {self._problem}"}
        return 200, dict(self._secret)
