"""Transparent huge pages for the ``sweep`` command: fewer page faults per chunk.

Every execution of a compiled chunk function allocates its buffers (XLA's temporary
buffer, the outputs) with ``malloc``; blocks above 32 MiB, glibc's largest
``mmap`` threshold, are mapped on each allocation and unmapped on each free, so the
kernel faults every page in again, 4 KiB at a time, on every chunk.  On the 2-core
machine, ``sweep reproduce oa5 --points-per-axis 8`` (1,024 chunks, about three passes)
took 121 million minor page faults and spent 437 of its 1,263 CPU seconds in the
kernel.  glibc 2.35 and later can ask for transparent huge pages on the memory
``malloc`` maps (the ``glibc.malloc.hugetlb=1`` tunable): one fault per 2 MiB.  At
``--points-per-axis 5`` that cut the minor faults 17× (1.72 M → 0.10 M) and the
system time about in half.

glibc reads its tunables once, when the process starts, so the ``sweep`` command
re-executes itself once with ``GLIBC_TUNABLES`` extended by that tunable, before it
imports anything heavy (about 50 ms).  It does so only where it helps: on Linux, with
glibc ≥ 2.35, when the kernel's transparent-huge-page mode is ``madvise`` (with
``always`` every mapping gets huge pages anyway; with ``never`` none can), and when
``GLIBC_TUNABLES`` does not already set the tunable (so the re-executed process, and
anything a user configured, is left alone).  ``SWEEP_HUGEPAGES=0`` (or
``off``/``false``/``no``) turns it off.  Processes the command starts (Dask workers of
a local cluster, ``sweep bench``'s workers) inherit the setting through the
environment.  Numbers are unaffected: only how memory is mapped changes.

This module imports nothing heavy (no JAX).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["ENV", "TUNABLE", "hugepage_tunables", "reexec_with_hugepages"]

#: environment variable: 0/off/false/no turns the re-execution off
ENV = "SWEEP_HUGEPAGES"
#: the glibc tunable: transparent huge pages (``madvise``) for memory ``malloc`` maps
TUNABLE = "glibc.malloc.hugetlb=1"
_OFF = frozenset({"0", "off", "false", "no", "none"})
_THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _glibc_version() -> tuple[int, int] | None:
    try:
        name, version = os.confstr("CS_GNU_LIBC_VERSION").split()   # "glibc 2.36"
        major, minor = version.split(".")[:2]
        return (int(major), int(minor)) if name == "glibc" else None
    except (AttributeError, ValueError, OSError):   # not glibc (musl, macOS, Windows)
        return None


def _thp_mode(path: Path = _THP_MODE) -> str | None:
    """The kernel's transparent-huge-page mode, the bracketed word of ``enabled``."""
    try:
        text = path.read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else None


def hugepage_tunables(environ=None, glibc=None, thp_mode=None) -> str | None:
    """The ``GLIBC_TUNABLES`` value the command should run with, or None when it
    should run as it is (see the module docstring for when).  ``glibc`` and
    ``thp_mode`` default to this machine's."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV, "").strip().lower() in _OFF and environ.get(ENV, "").strip():
        return None
    current = environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb" in current:
        return None
    if not sys.platform.startswith("linux"):
        return None
    glibc = _glibc_version() if glibc is None else glibc
    if glibc is None or glibc < (2, 35):
        return None
    if (_thp_mode() if thp_mode is None else thp_mode) != "madvise":
        return None
    return f"{current}:{TUNABLE}" if current else TUNABLE


def reexec_with_hugepages(argv) -> None:
    """Replace this process by ``sweep ARGV`` with huge pages enabled, when
    :func:`hugepage_tunables` says so; otherwise return and let the caller go on.

    The new process imports the same ``sweep`` package (its directory is put first
    on ``sys.path``), so a source checkout and an installed copy each run
    themselves."""
    tunables = hugepage_tunables()
    if tunables is None or not sys.executable:   # (an embedded interpreter has none)
        return
    root = str(Path(__file__).resolve().parent.parent)
    code = (f"import sys; sys.path[0] = {root!r}; "
            "from sweep.cli import main; sys.exit(main())")
    env = dict(os.environ, GLIBC_TUNABLES=tunables)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable, "-c", code, *argv], env)
    except OSError:
        return   # could not re-execute (no executable?): run as we are
