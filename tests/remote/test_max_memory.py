"""--max-memory as a worker process sees it: the address-space cap (RLIMIT_AS) of 1GB by
default, and none at all with `--max-memory none` (the worker keeps the limit it inherited)."""

import resource
import sys

import pytest

import webpickle
from remote_support import KEY, Server, run
from webpickle.remote import RemoteExecutor

webpickle.register_pickle_by_value(sys.modules[__name__])
DEFAULT_CAP = 10**9  # the README's default --max-memory 1GB
RESERVED = 2 * DEFAULT_CAP  # address space a call reserves: past the default cap, never touched


def address_space_seen():
    """Runs in a worker process: its RLIMIT_AS, and whether it can reserve RESERVED bytes of
    address space (an anonymous private mapping, never written: it costs no memory)."""
    import mmap

    limit = resource.getrlimit(resource.RLIMIT_AS)
    try:
        with mmap.mmap(-1, RESERVED, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS) as reserved:
            return limit, len(reserved)
    except (OSError, MemoryError) as exc:
        return limit, repr(exc)


@pytest.mark.parametrize("option", [(), ("--max-memory", "none")], ids=["default", "none"])
def test_max_memory_caps_worker_processes_at_1gb_by_default_and_none_applies_no_cap(key_file, log_dir, option):
    server = Server(key_file, "--processes", "1", *option, log_dir=log_dir)

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            return await executor.submit(address_space_seen)

    try:
        limit, reserved = run(main())
    finally:
        server.stop()
    pool_started = next(e for e in server.events() if e["event"] == "pool_started")
    if option:
        # No cap: the worker has the limit it inherited, the server's (and this process's) own.
        inherited = resource.getrlimit(resource.RLIMIT_AS)
        assert limit == inherited, f"--max-memory none: the worker's RLIMIT_AS is {limit}, not the inherited {inherited}"
        assert reserved == RESERVED, f"--max-memory none: reserving {RESERVED} bytes failed: {reserved}"
        assert pool_started["max_memory"] is None
    else:
        assert limit == (DEFAULT_CAP, DEFAULT_CAP)
        assert "Cannot allocate memory" in reserved, reserved
        assert pool_started["max_memory"] == "1GB"
