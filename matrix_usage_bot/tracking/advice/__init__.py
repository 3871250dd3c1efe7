"""Advice: what would lower the bill. Pure functions over the store's reads, one per figure, each returning
plain data (the chat commands, the HTTP API, digests, warnings and the dashboard show the same figures).

- `whatif`: a room's calls priced on another model, at each call's own time, by agent.
- `savings`: what prompt caching saved, and the cache hit rate, by agent and model.
- `room_runways` / `runway`: when each quota runs out at the pace so far in its window.
- `spike_cause`, `behind`: which factor of the cost changed most in a spike, and who is behind it.
- `cheaper_model`: the largest saving an alternative model would have brought (`Alternatives`).
"""

from __future__ import annotations

from .calls import Grain, RoomCalls, any_model_grain, model_grain, room_calls
from .cheaper import Suggestion, cheaper_model
from .models import DEFAULT_ALTERNATIVES, Alternatives, Target, resolve_model
from .runway import Runway, room_runways, runway
from .savings import CachingRow, Savings, savings
from .spikes import Factor, SpikeCause, behind, spike_cause
from .whatif import WhatIf, WhatIfRow, whatif

__all__ = [
    "DEFAULT_ALTERNATIVES",
    "Alternatives",
    "CachingRow",
    "Factor",
    "Grain",
    "RoomCalls",
    "Runway",
    "Savings",
    "SpikeCause",
    "Suggestion",
    "Target",
    "WhatIf",
    "WhatIfRow",
    "any_model_grain",
    "behind",
    "cheaper_model",
    "model_grain",
    "resolve_model",
    "room_calls",
    "room_runways",
    "runway",
    "savings",
    "spike_cause",
    "whatif",
]
