"""Counts genai-prices may find inconsistent: the overlaps of a call's parts that its counts fix, and
genai-prices' refusals of a usage whose parts do not fit (a call priced with them is unpriced, never $0).

genai-prices splits a usage into disjoint parts (`genai_prices.decompose`): a part above its whole (1-hour
cache writes above all cache writes, cache reads above input) is refused, and so is an overlap it must
price apart but is not told (how many of a Gemini call's cache reads were audio, when it prices cached
audio apart). The store keeps no such split; where the counts fix it anyway, it is stated (`overlap`).
"""

from __future__ import annotations

import logging
import re
import threading

log = logging.getLogger("matrix_usage_bot.tracking.pricing")


def overlap(part: int, cached: int, whole: int) -> int:
    """How many of the `cached` tokens are of the modality with `part` tokens of the `whole` input, where the
    counts fix it: the least overlap they allow (a part and a cache read that together exceed the input share
    the excess) when it is also the most (a part or a cache read that is the whole input). Else 0, which a
    forced overlap (`least` above 0) makes genai-prices refuse: those counts have no exact price."""
    least, most = max(0, part + cached - whole), min(part, cached)
    return least if least == most else 0


_REFUSALS = ("Invalid usage data: ", "Missing usage for ")
"""How genai-prices' refusals of a usage whose parts do not fit (`decompose`, `Usage`) begin."""
_refusals_noted: set[tuple[str, str, str]] = set()
_refusals_lock = threading.Lock()


def refused_usage(exc: Exception, provider_info: object, model_info: object) -> bool:
    """Whether genai-prices refused the usage itself (its parts exceed their whole, or overlap unstated): the
    call is then unpriced. Logged once per (provider, model, reason), without a traceback: a report, not a bug."""
    message = str(exc)
    if not isinstance(exc, ValueError) or not message.startswith(_REFUSALS):
        return False
    provider, model = str(getattr(provider_info, "id", "?")), str(getattr(model_info, "id", "?"))
    key = (provider, model, re.sub(r"\d+", "N", message))
    with _refusals_lock:
        first = key not in _refusals_noted and len(_refusals_noted) < 10_000
        if first:
            _refusals_noted.add(key)
    if first:
        log.warning("genai-prices cannot price a call of %s/%s as reported (%s); stored unpriced (logged once per"
                    " provider, model and reason)", provider, model, message)  # fmt: skip
    return True
