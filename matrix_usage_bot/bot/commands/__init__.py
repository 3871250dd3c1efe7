"""Every chat command, declared once in `COMMANDS`. Importing this package registers them all."""

from __future__ import annotations

from . import advice, dashboard, digest, files, quota, quota_everywhere, rights, usage  # noqa: F401  (registers)
from .catalogue import COMMANDS

__all__ = ["COMMANDS"]
