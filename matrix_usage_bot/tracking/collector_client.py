"""What every request of an HTTP tracker to its collector shares: the key, a connect and a total timeout,
redirects never followed, and the answer read as a JSON object. No answer at all is `CollectorAway`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .store import StoreError

if TYPE_CHECKING:
    import aiohttp

TOTAL_TIMEOUT_S = 10.0
"""The longest a request may take, answer included."""
CONNECT_TIMEOUT_S = 5.0
"""The longest a connection may take to open."""


class CollectorAway(StoreError):
    """The collector did not take the request (no connection, a timeout, an answer that is not its own);
    try again later."""

    stored = 0
    """Of a run of requests: the events the collector stored anew before it went away."""
    refused = 0
    """Of a run of requests: the events the collector refused (set aside) before it went away."""
    remaining: Sequence[str] = ()
    """Of a run of requests: the events (JSON lines) it has not taken."""


def open_session(api_key: str | None, *, total: float | None = None, **headers: str) -> aiohttp.ClientSession:
    """A session with the key and the timeouts; call on the event loop that will use it."""
    import aiohttp  # a core dependency, imported only by trackers that send over HTTP

    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    timeout = aiohttp.ClientTimeout(total=total or TOTAL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    return aiohttp.ClientSession(headers=headers, timeout=timeout)


async def ask(session: aiohttp.ClientSession, method: str, url: str, **options: Any) -> tuple[int, dict[str, Any]]:
    """(status, JSON object answered: {} when the body is not one). A redirect is not followed: its status
    comes back like any other, for the caller to refuse."""
    import aiohttp

    try:
        async with session.request(method, url, allow_redirects=False, **options) as response:
            status = response.status
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = {}
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise CollectorAway(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
    return status, answer if isinstance(answer, dict) else {}


def unexpected(status: int, answer: dict[str, Any]) -> CollectorAway:
    """An answer the tracker cannot act on, in words."""
    if 300 <= status < 400:
        return CollectorAway(f"the collector answered {status}, a redirect, which is never followed; "
                             "check the tracker's URL (https://, the path)")  # fmt: skip
    error = answer.get("error")
    return CollectorAway(f"the collector answered {status}" + (f": {error}" if error else ""))
