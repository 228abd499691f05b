"""Fixtures of the remote-execution tests: a key file and one shared server per module.

    bash wasm/toolchain.sh run build/venv/bin/python -m pytest tests/remote -q -p no:cacheprovider
"""

import pytest

from remote_support import Server, write_key_file


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    return write_key_file(tmp_path_factory.mktemp("key"))


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def server(key_file, log_dir):
    """A server with two worker processes capped at 512MB, and a 1MB body limit."""
    running = Server(key_file, "--processes", "2", "--max-memory", "512MB", "--max-body", "1MB",
                     "--allow-origin", "http://127.0.0.1:9999", log_dir=log_dir)
    yield running
    running.stop()
