"""Die with the parent process (Linux ``prctl(PR_SET_PDEATHSIG)``), for the crawl child and its extraction
workers: one place for the C library lookup and the prctl call."""

from __future__ import annotations

import ctypes
import sys

PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL:
    """The C library by its usual soname; ``ctypes.util.find_library`` (which runs ``ldconfig -p`` in a
    subprocess, ~5 ms of each process's start) only where that name is not there."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent(signum: int) -> bool:
    """Ask the kernel to send ``signum`` to this process when its parent dies; whether it could (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):
        return False
    return True
