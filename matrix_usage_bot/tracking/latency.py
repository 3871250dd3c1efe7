"""Latency histograms: fixed log-spaced buckets, counted per room, UTC day, provider and model.

Raw events go with retention; the buckets stay in `rollup_latency_daily`, so the median and p95
of any period are still known. Bucket `b` (1 to `LAST`) holds latencies in
(2^((b-1)/8), 2^(b/8)] milliseconds, bucket 0 everything up to 1 ms, bucket `LAST` everything
above ~2.3 hours: eight buckets per doubling, each 9.05 % wide.

A percentile is the geometric middle of the bucket holding the call of that rank (rank
`ceil(q * calls)`), so it is within 4.4 % (2^(1/16) - 1) of the true latency of that call, at
any latency from 1 ms to hours, whatever the number of calls. Events with no latency are not
counted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

PER_DOUBLING = 8
LAST = 8 * 23
"""2^23 ms (about 2.3 hours) and above share the last bucket."""


def bucket(latency_ms: float) -> int:
    """The bucket of one latency in milliseconds."""
    if latency_ms <= 1:
        return 0
    return min(LAST, math.ceil(math.log2(latency_ms) * PER_DOUBLING - 1e-9))


def middle_ms(b: int) -> float:
    """The latency a bucket stands for: the geometric middle of its bounds (1 ms for bucket 0)."""
    if b <= 0:
        return 1.0
    return 2 ** ((b - 0.5) / PER_DOUBLING)


def percentile(counts: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0 < q <= 1) of a histogram {bucket: calls}, None when it is empty."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for b in sorted(counts):
        seen += counts[b]
        if seen >= rank:
            return middle_ms(b)
    return middle_ms(max(counts))
