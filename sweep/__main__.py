"""``python -m sweep ...`` is the ``sweep`` command."""
import sys

from .cli import entry

sys.exit(entry())
