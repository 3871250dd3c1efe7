"""Whether a stored text names a person: their user id as a whole id, not as part of a longer one.

`@al:example.org` names nobody in `@al:example.org.evil` or `@al:example.org:8448`: an occurrence counts
only when the characters around it could not continue an id (a full stop ending a sentence does not). A
text stored as JSON (metadata, rejected events, refusals noted for webhooks) may hold the id escaped, so
its JSON spellings count too. SQL finds candidates with LIKE (case-insensitive in SQLite, so only a first
sieve); `names` decides.
"""

from __future__ import annotations

import json
import re

_ID_CHARS = r"A-Za-z0-9._=/+\-:\[\]@"
_AFTER = r"(?![A-Za-z0-9_=/+\-:\[\]@]|\.[A-Za-z0-9])"
"""After the id: nothing that would continue it (a full stop ending a sentence does not)."""


def spellings(user_id: str) -> tuple[str, ...]:
    """The id as written in plain text and inside JSON strings (escaped or not)."""
    forms = [user_id, json.dumps(user_id)[1:-1], json.dumps(user_id, ensure_ascii=False)[1:-1]]
    return tuple(dict.fromkeys(forms))


def _pattern(user_id: str) -> re.Pattern[str]:
    either = "|".join(re.escape(form) for form in spellings(user_id))
    return re.compile(f"(?<![{_ID_CHARS}])(?:{either}){_AFTER}")


def names(text: str | None, user_id: str) -> bool:
    return bool(text) and _pattern(user_id).search(text) is not None


def without(text: str, user_id: str) -> str:
    """The text with every occurrence of the id taken out (a JSON text stays valid JSON)."""
    return _pattern(user_id).sub("", text)


def like_patterns(user_id: str) -> list[str]:
    """LIKE patterns (with `ESCAPE '\\'`) matching any text that holds one of the id's spellings."""
    return ["%" + re.sub(r"([\\%_])", r"\\\1", form) + "%" for form in spellings(user_id)]


def any_like(column: str, user_id: str) -> tuple[str, list[str]]:
    """SQL true when `column` may name the person (a sieve for `names`), with its parameters."""
    patterns = like_patterns(user_id)
    return "(" + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for _ in patterns) + ")", patterns
