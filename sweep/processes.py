"""Who is writing: this host's name and whether a process on it is alive.

Temporary files and leases carry ``<host>.<pid>`` so that a later run can tell a
file of a dead writer on this host (safe to clean or take over) from one of a live
writer or of another host (left alone, or trusted until its lease expires).
"""
from __future__ import annotations

import os
import re
import socket

__all__ = ["host_name", "pid_alive"]


def host_name() -> str:
    """This host's name, reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
