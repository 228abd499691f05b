"""Sizes on the command line ("1GB", "128MB") and the memory cap of a call's process."""

import re

# Decimal units for kB/MB/GB and binary ones for KiB/MiB/GiB, as Dask spells them.
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_size(text):
    """Bytes in "1GB", "512MiB" or "1000000"; None for "none" or "0" (no limit)."""
    if text.strip().lower() in ("none", "0"):
        return None
    match = _SIZE.fullmatch(text)
    unit = match and _UNITS.get(match[2].lower())
    if unit is None:
        raise ValueError(f"{text!r} is not a size: write a number and a unit, e.g. 1GB, 512MiB or 128MB "
                         "(or 'none' for no limit)")
    size = int(float(match[1]) * unit)
    if size <= 0:
        raise ValueError(f"{text!r} is not a positive size")
    return size


def format_size(size):
    """The short spelling of a byte count, for messages: 1GB, 512MiB, 1500000B."""
    for unit in ("TB", "GB", "MB", "kB", "TiB", "GiB", "MiB", "KiB"):
        if size % _UNITS[unit.lower()] == 0:
            return f"{size // _UNITS[unit.lower()]}{unit}"
    return f"{size}B"


def cap_address_space(size):
    """Cap this process's address space at size bytes (RLIMIT_AS): past it, allocations
    fail, which Python reports as MemoryError, instead of the machine running out."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (size, size))
