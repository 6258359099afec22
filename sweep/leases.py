"""Leases: how concurrent runs of one spec on one directory share the chunks.

A run holds ``OUT/.leases/run.<host>.<pid>.<id>`` while it runs, and
``OUT/.leases/chunk-<k>`` for each chunk it is computing.  A chunk lease is
created exclusively (``O_CREAT | O_EXCL``), so of two runs reaching the same chunk
exactly one computes it; the other moves on, and at the end waits for the chunks
other live runs hold (taking one over if its holder dies), so both finish with a
complete dataset and no chunk is computed twice.

A lease is live while its holder is: on this host, while the holder's process
exists; on another host, while its file was touched within :data:`LEASE_TTL`
seconds (a holder touches its leases every ``LEASE_TTL / 4``).  A killed run's
leases therefore expire and its chunks are taken over.

Leases are an optimization and a guard for ``--overwrite``, never a condition for
correctness: parts are still written atomically and verified, so a lost race
(two runs taking over one expired lease at once) only duplicates work.
"""
from __future__ import annotations

import os
import re
import threading
import time
import uuid
from pathlib import Path

from .processes import host_name, pid_alive

__all__ = ["LEASE_DIR", "LEASE_TTL", "Leases", "live_runs"]

LEASE_DIR = ".leases"
#: seconds after its last touch that another host's lease expires
LEASE_TTL = float(os.environ.get("SWEEP_LEASE_TTL", "120"))
_RUN_RE = re.compile(r"^run\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[0-9a-f]+$")





def _holder(path: Path) -> tuple[str, int] | None:
    try:
        host, pid = path.read_text().split()[:2]
        return host, int(pid)
    except (OSError, ValueError):
        return None


def _is_live(path: Path, holder: tuple[str, int] | None, now: float | None = None) -> bool:
    """Whether the lease at ``path`` (held by ``holder``) still counts."""
    if holder is None:
        # being written right now (created, content not yet in) or garbage: live
        # for a short grace period after its creation
        try:
            return (now or time.time()) - path.stat().st_mtime < 5.0
        except FileNotFoundError:
            return False
    host, pid = holder
    if host == host_name():
        return pid_alive(pid)
    try:
        return (now or time.time()) - path.stat().st_mtime < LEASE_TTL
    except FileNotFoundError:
        return False


def live_runs(out_dir, *, exclude_self: bool = True) -> list[str]:
    """Descriptions (``host pid N``) of the live runs registered in ``out_dir``."""
    d = Path(out_dir) / LEASE_DIR
    out = []
    try:
        entries = list(os.scandir(d))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for e in entries:
        m = _RUN_RE.match(e.name)
        if not m:
            continue
        host, pid = m.group("host"), int(m.group("pid"))
        if exclude_self and host == host_name() and pid == os.getpid():
            continue
        if _is_live(Path(e.path), (host, pid)):
            out.append(f"host {host} pid {pid}")
    return sorted(out)


class Leases:
    """The leases of one run on one directory (see the module docstring)."""

    def __init__(self, out_dir, poll: float = 0.2):
        self.dir = Path(out_dir) / LEASE_DIR
        self.dir.mkdir(exist_ok=True)
        self.me = f"{host_name()} {os.getpid()}\n"
        self.poll = poll
        self.held: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._remove_stale()
        self.run_file = self.dir / f"run.{host_name()}.{os.getpid()}.{uuid.uuid4().hex[:12]}"
        self.run_file.write_text(self.me)
        self.waited_for = 0  # chunks another live run computed while this one waited
        self._beat = threading.Thread(target=self._heartbeat, name="sweep-leases", daemon=True)
        self._beat.start()

    def _remove_stale(self) -> None:
        """Delete the leases of runs that died (killed runs leave theirs behind)."""
        for e in list(os.scandir(self.dir)):
            m = _RUN_RE.match(e.name)
            holder = (m.group("host"), int(m.group("pid"))) if m else _holder(Path(e.path))
            if not _is_live(Path(e.path), holder):
                try:
                    os.unlink(e.path)
                except FileNotFoundError:
                    pass

    def _chunk_file(self, k: int) -> Path:
        return self.dir / f"chunk-{k}"

    def _heartbeat(self) -> None:
        while not self._stop.wait(LEASE_TTL / 4):
            with self._lock:
                paths = [self.run_file] + [self._chunk_file(k) for k in self.held]
            for p in paths:
                try:
                    os.utime(p)
                except OSError:
                    pass

    def try_take(self, k: int) -> bool:
        """Take chunk ``k``'s lease if no live run holds it; True if taken."""
        path = self._chunk_file(k)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _holder(path)
                if _is_live(path, holder):
                    return False
                try:  # expired: take it over
                    path.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(self.me)
            with self._lock:
                self.held.add(k)
            return True
        return False

    def release(self, k: int) -> None:
        with self._lock:
            if k not in self.held:
                return
            self.held.discard(k)
        try:
            self._chunk_file(k).unlink()
        except FileNotFoundError:
            pass

    def claim(self, chunk_ids, is_done):
        """The chunks of ``chunk_ids`` this run should compute, lazily, each leased.

        Chunks another live run holds are skipped, then waited for at the end:
        ``is_done(k)`` (a part that passes its checks appeared) drops one; a
        lease that expires is taken over."""
        skipped = []
        for k in chunk_ids:
            if self.try_take(k):
                if is_done(k):  # finished by another run since this run's scan
                    self.release(k)
                    continue
                yield k
            else:
                skipped.append(k)
        if skipped:
            import sys

            print(f"sweep: another live run ({'; '.join(live_runs(self.dir.parent)) or 'unknown'}) is "
                  f"computing {len(skipped)} chunk(s) of this sweep; waiting for them (a chunk whose "
                  f"run dies is taken over)", file=sys.stderr, flush=True)
        while skipped:
            still = []
            for k in skipped:
                if is_done(k):
                    self.waited_for += 1
                elif self.try_take(k):
                    if is_done(k):
                        self.release(k)
                        self.waited_for += 1
                    else:
                        yield k
                else:
                    still.append(k)
            skipped = still
            if skipped:
                time.sleep(self.poll)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            held, self.held = list(self.held), set()
        for k in held:
            try:
                self._chunk_file(k).unlink()
            except FileNotFoundError:
                pass
        try:
            self.run_file.unlink()
        except FileNotFoundError:
            pass
        try:
            self.dir.rmdir()  # only when no other run holds anything
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
