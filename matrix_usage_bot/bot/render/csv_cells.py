"""CSV that every reader sees the same, with cells a spreadsheet will not run as formulas (OWASP's advice on
CSV injection).

`csv_writer` is the one writer of every CSV the bot makes: a cell holding a line break, a carriage return, a
comma or a quote is quoted, so no reader sees a new row inside a cell. A text cell starting with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a leading apostrophe. Only a cell of an id column that is a
well-formed Matrix id (no spaces, no parentheses: it cannot hold a formula's call) is left as it is, so ids
stay readable and can be pasted back into Matrix.
"""

from __future__ import annotations

import csv
import re
from typing import Any, TextIO

_FORMULA = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_SERVER = r"[A-Za-z0-9.\-]+(?::\d{1,5})?"
_MATRIX_ID = re.compile(
    rf"@[a-z0-9._=\-/+]+:{_SERVER}"  # user
    rf"|![A-Za-z0-9._~\-+/=]+:{_SERVER}"  # room
    rf"|\$[A-Za-z0-9._~\-+/=]+(?::{_SERVER})?"  # event (thread roots too)
)
ID_COLUMNS = frozenset({"event_id", "room_id", "thread_id", "user_id"})


def csv_writer(out: TextIO) -> Any:
    """A `csv.writer` of RFC 4180 CSV. `QUOTE_MINIMAL` quotes a cell holding the delimiter, the quote character
    or a character of the line terminator: the terminator is CRLF so that both CR and LF are among them (with
    a bare LF a cell holding CR went out unquoted and split the row in a spreadsheet)."""
    return csv.writer(out, delimiter=",", quotechar='"', doublequote=True, lineterminator="\r\n",
                      quoting=csv.QUOTE_MINIMAL)  # fmt: skip


def csv_text(value: object, *, id_column: bool = False) -> str:
    """A text cell, neutralised unless it is a real Matrix id in an id column."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA) and not (id_column and _MATRIX_ID.fullmatch(text)):
        return "'" + text
    return text
