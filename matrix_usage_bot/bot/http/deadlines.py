"""Requests arrive within ``http.request_timeout_s``, or their connection is closed (slowloris).

aiohttp's server has no timeout on a request's arrival: a client sending its headers, or its body, a
byte at a time holds a connection (and, for a body, a handler) for as long as it likes. Two bounds:

- Headers: a connection that is not inside a handler (it is sending its next request's headers, or
  sits idle between requests, or has just connected) for ``timeout`` is closed. A sweep over the
  server's connections every quarter of ``timeout`` does it, with only aiohttp's public names
  (``Server.connections``, ``force_close``, which is how aiohttp itself ends an idle connection), so
  it works the same on every aiohttp release the project allows.
- Bodies: the middleware reads the whole body, within ``timeout``, before the handler runs (handlers
  then get it from aiohttp's cache); a body still arriving then is answered 408 and the connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web import RequestHandler

from .handlers import error

log = logging.getLogger(__name__)


class RequestDeadlines:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.closed = 0
        """Connections closed for sending no whole request in time."""
        self._busy: set[RequestHandler] = set()
        self._waiting_since: dict[RequestHandler, float] = {}

    @contextlib.contextmanager
    def _handling(self, connection: RequestHandler) -> Iterator[None]:
        self._busy.add(connection)
        try:
            yield
        finally:
            self._busy.discard(connection)
            self._waiting_since[connection] = asyncio.get_running_loop().time()

    def sweep(self, server: web.Server) -> int:
        """Close the connections that have waited for a whole request for ``timeout``; how many."""
        now = asyncio.get_running_loop().time()
        connections = server.connections
        self._waiting_since = {c: t for c, t in self._waiting_since.items() if c in connections}
        late = 0
        for connection in connections:
            if connection in self._busy:
                continue
            if now - self._waiting_since.setdefault(connection, now) >= self.timeout:
                connection.force_close()
                late += 1
        self.closed += late
        return late

    async def run(self, server: web.Server) -> None:
        while True:
            await asyncio.sleep(self.timeout / 4)
            if late := self.sweep(server):
                log.info("closed %d connections that sent no whole request within %gs", late, self.timeout)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        with self._handling(request.protocol):
            if request.body_exists:
                try:
                    async with asyncio.timeout(self.timeout):
                        await request.read()
                except TimeoutError:
                    response = error(408, f"body: not received within {self.timeout:g} seconds"
                                          " (http.request_timeout_s)")  # fmt: skip
                    response.force_close()
                    return response
            return await handler(request)
