"""Exception types of the sweep engine and the CLI exit status each maps to.

Bad input (a spec, a command line, an output path) is the user's to fix and maps
to exit status 2; anything that goes wrong while chunks are being computed or
written maps to exit status 1.  The messages are written for the user: they say
what, where, and what was expected (or what was kept).
"""
from __future__ import annotations

__all__ = ["SweepError", "SpecError", "OutputError", "RunError", "EXIT_USAGE", "EXIT_RUNTIME"]

EXIT_USAGE = 2
EXIT_RUNTIME = 1


class SweepError(Exception):
    """Base class; ``exit_status`` is what the CLI exits with."""

    exit_status = EXIT_RUNTIME


class SpecError(SweepError):
    """An invalid spec file or spec dict; the message names the file and key."""

    exit_status = EXIT_USAGE


class OutputError(SweepError):
    """The output directory cannot be used (a file, unwritable, another spec's data)."""

    exit_status = EXIT_USAGE


class RunError(SweepError):
    """A failure while computing or writing chunks; the message says what was kept."""

    exit_status = EXIT_RUNTIME
