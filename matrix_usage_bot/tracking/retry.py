"""Capped exponential backoff with jitter: one policy for everything that retries (the bot's sync loop
and sends, webhooks, the HTTP tracker's collector)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with "equal jitter" (half fixed, half random): the delays of one retry run."""

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0

    def start(self) -> Backoff:
        return Backoff(self)


class Backoff:
    """One run of retries under a policy: each delay longer than the last, up to the policy's maximum."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempt = 0

    def next_delay(self) -> float:
        p = self.policy
        delay = min(p.maximum, p.initial * p.factor ** min(self.attempt, 32))
        self.attempt += 1
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self) -> None:
        self.attempt = 0
