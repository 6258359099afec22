"""Process memory-allocator settings for sweeps (glibc only; a no-op elsewhere):
freed blocks kept for reuse (below), and huge pages for the ``sweep`` command
(further below).

A sweep allocates the same large buffers over and over: every chunk's outputs on
the device, every part's Arrow columns.  glibc's ``malloc`` serves blocks above a
(dynamic) threshold with fresh ``mmap`` pages and returns them on ``free``, so each
chunk pays one page fault per 4 KiB touched.  On the VMs this project is measured
on a fault costs ~15 µs (first touch of 139 MB: 0.54 s, second: 0.02 s), and a
factored ``coverage_oa5`` chunk pass took ~13k faults, a quarter of its time.

:func:`retain_freed_memory` asks glibc to serve blocks up to 32 MiB from its heap
and to keep up to 1 GiB of freed memory for reuse instead of giving it back, so the
buffers of one chunk are recycled by the next.  The price is that the process's
resident size stays near its peak rather than shrinking between chunks.  Set
``SWEEP_MALLOC_TUNING=0`` to leave the allocator alone.

**Huge pages.**  Blocks above 32 MiB, glibc's largest ``mmap`` threshold, are still
mapped on each allocation and unmapped on each free: XLA's temporary buffer of every
execution of a compiled chunk function is one.  On the 2-core machine, ``sweep
reproduce oa5 --points-per-axis 8`` (1,024 chunks, about three passes) took 121
million minor page faults and spent 437 of its 1,263 CPU seconds in the kernel.
glibc 2.35 and later can ask for transparent huge pages on the memory ``malloc``
maps (the ``glibc.malloc.hugetlb=1`` tunable): one fault per 2 MiB.  At
``--points-per-axis 5`` that cut the minor faults 17× (1.72 M → 0.10 M) and the
system time about in half.

glibc reads its tunables once, when the process starts, so the ``sweep`` command
re-executes itself once with ``GLIBC_TUNABLES`` extended by that tunable
(:func:`reexec_with_hugepages`), before it imports anything heavy (about 50 ms).  It
does so only where it helps: on Linux, with glibc ≥ 2.35, when the kernel's
transparent-huge-page mode is ``madvise`` (with ``always`` every mapping gets huge
pages anyway; with ``never`` none can), and when ``GLIBC_TUNABLES`` does not already
set the tunable (so the re-executed process, and anything a user configured, is left
alone).  ``SWEEP_HUGEPAGES=0`` (or ``off``/``false``/``no``) turns it off.  Processes
the command starts (Dask workers of a local cluster, ``sweep bench``'s workers)
inherit the setting through the environment.  Numbers are unaffected: only how
memory is mapped changes.

This module imports nothing heavy (no JAX).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path

__all__ = ["retain_freed_memory", "MALLOC_ENV", "HUGEPAGES_ENV", "HUGEPAGES_TUNABLE", "hugepage_tunables",
           "reexec_with_hugepages"]

#: environment switch: ``0``/``off`` leaves glibc's defaults alone
MALLOC_ENV = "SWEEP_MALLOC_TUNING"
#: environment switch: ``0``/``off`` keeps the ``sweep`` command from re-executing
HUGEPAGES_ENV = "SWEEP_HUGEPAGES"
#: the glibc tunable: transparent huge pages (``madvise``) for memory ``malloc`` maps
HUGEPAGES_TUNABLE = "glibc.malloc.hugetlb=1"
_THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _switched_off(name: str, environ=None) -> bool:
    """Whether environment variable ``name`` says 0/off/false/no."""
    environ = os.environ if environ is None else environ
    return environ.get(name, "").strip().lower() in ("0", "off", "false", "no")

# mallopt parameters (glibc <malloc.h>)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's largest allowed mmap threshold on 64-bit (HEAP_MAX_SIZE / 2)
_MMAP_THRESHOLD = 32 << 20
_TRIM_THRESHOLD = 1 << 30

_applied: bool | None = None


def retain_freed_memory() -> bool:
    """Apply the settings above once per process; True if they are in effect."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if _switched_off(MALLOC_ENV):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):      # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; fixing the thresholds also turns off glibc's
    # dynamic adjustment of them
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) & bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _applied


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
    should run as it is (see "Huge pages" in the module docstring).  ``glibc`` and
    ``thp_mode`` default to this machine's."""
    environ = os.environ if environ is None else environ
    if _switched_off(HUGEPAGES_ENV, environ):
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
    return f"{current}:{HUGEPAGES_TUNABLE}" if current else HUGEPAGES_TUNABLE


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
