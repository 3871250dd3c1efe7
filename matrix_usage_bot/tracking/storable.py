"""Text every backend stores, and values as a reason quotes them.

Text is taken only as every backend stores it: no NUL character (PostgreSQL refuses it in text) and no
lone surrogate (SQLite and PostgreSQL store UTF-8 only). A reason quoting bad input quotes it short and
escaped (`shown`), and stores it with what no backend takes escaped (`storable`).
"""

from __future__ import annotations

import re
import reprlib
from datetime import datetime


class _Shown(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        return repr(x) if x.bit_length() <= 200 else "an integer of more than 60 digits"

    def repr_datetime(self, x: datetime, level: int) -> str:
        return repr(x.isoformat())  # as ISO-8601 text gives it: the same reason whichever form came


_SHOWN = _Shown()
_SHOWN.maxstring = _SHOWN.maxother = 60
_SHOWN.maxlevel = 2


def shown(value: object) -> str:
    """A value as a reason quotes it: short, printable, escaped where needed, never its whole size or depth."""
    return _SHOWN.repr(value)


_SURROGATE = re.compile("[\ud800-\udfff]")
JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def unstorable(text: str) -> str | None:
    """Why some backend cannot store this text, or None."""
    if "\x00" in text:
        return "holds a NUL character (\\x00), which PostgreSQL cannot store in text"
    if not text.isascii():
        found = _SURROGATE.search(text)
        if found:
            return f"holds a lone surrogate (U+{ord(found[0]):04X}), which is not Unicode text and no store takes"
    return None


def storable(text: str) -> str:
    """Text any backend stores (a reason or a payload quoting bad input): NUL and lone surrogates escaped."""
    if unstorable(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
