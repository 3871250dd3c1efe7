"""The HTTP API of README: HTTP API on aiohttp: `usage-bot serve`, or inside the bot with `http.enabled`.

`UsageServer` opens its own store connection and serves on `http.listen`; `serve` runs it alone until
SIGTERM or SIGINT, with the relay that sends hard-quota refusals to webhooks and PostHog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import Store, open_store

from ..config import Config
from ..dashboard.routes import PATHS as DASHBOARD_PATHS
from ..dashboard.routes import add_dashboard
from ..notify.notifier import Notifier
from ..notify.refusals import RefusalRelay
from .auth import REQUEST_KEY, Forbidden, find_key
from .context import SERVER, ServerContext
from .deadlines import RequestDeadlines
from .handlers import ROUTES, BadRequest, error

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = frozenset({"/healthz", *DASHBOARD_PATHS})  # the dashboard checks its own tokens


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authentication first (401 before anything else is told), then every failure as JSON."""
    try:
        if request.path not in OPEN_PATHS:
            key = find_key(request.app[SERVER].config.http.keys, request.headers.get("Authorization"))
            if key is None:
                response = error(401, "unauthorized: send Authorization: Bearer KEY with a configured key")
                response.headers["WWW-Authenticate"] = 'Bearer realm="usage-bot"'
                return response
            request[REQUEST_KEY] = key
        return await handler(request)
    except BadRequest as exc:
        return error(400, str(exc))
    except Forbidden as exc:
        return error(403, str(exc))
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SERVER].config.http.max_body_bytes
        return error(413, f"body: larger than http.max_body_bytes ({limit:,} bytes); send fewer events per request")
    except web.HTTPException as exc:
        return error(exc.status, exc.reason)
    except Exception:
        log.exception("the HTTP API failed on %s %s", request.method, request.path)  # never the headers: keys
        return error(500, "internal error (see the server's log)")


def build_app(config: Config, store: Store, deadlines: RequestDeadlines) -> web.Application:
    app = web.Application(middlewares=[guard, deadlines.middleware], client_max_size=config.http.max_body_bytes)
    app[SERVER] = ServerContext(config, store, Pricer(config.pricing.overrides))
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    add_dashboard(app)
    return app


class UsageServer:
    """Serves the API on its own store connection; ``port`` is the bound port (``listen`` may say 0)."""

    def __init__(self, config: Config, *, notifier: Notifier | None = None) -> None:
        self.config = config
        self.notifier = notifier
        self.store: Store | None = None
        self._runner: web.AppRunner | None = None
        self._relay: asyncio.Task[None] | None = None
        self.deadlines = RequestDeadlines(config.http.request_timeout_s)
        self._sweeper: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> UsageServer:
        self.store = await open_store(self.config.storage.url)
        # a client that leaves cancels its request's work (and the store stops its query: see the stores)
        app = build_app(self.config, self.store, self.deadlines)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        self._runner = runner
        assert runner.server is not None
        self._sweeper = asyncio.create_task(self.deadlines.run(runner.server))
        host, port = self.config.http.host_port()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:  # the port is taken, the address is not ours
            await self.close()
            raise
        self.port = runner.addresses[0][1] if runner.addresses else port
        if self.notifier is not None and self.notifier.enabled:
            self._relay = asyncio.create_task(RefusalRelay(self.store, self.notifier).run())
        log.info("HTTP API on http://%s:%d (%d keys)", host, self.port, len(self.config.http.keys))
        return self

    async def close(self) -> None:
        for task in (self._relay, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._relay = self._sweeper = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.store is not None:
            await self.store.close()
            self.store = None


async def serve(config: Config) -> None:
    """`usage-bot serve`: the API alone, without Matrix, until SIGTERM or SIGINT."""
    if not config.http.keys:
        log.warning("no API keys configured (http.keys): every endpoint but /healthz and the dashboard answers"
                    " 401 until you add one")  # fmt: skip
    notifier = Notifier(config.webhooks, config.posthog)
    server = await UsageServer(config, notifier=notifier).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()
        await notifier.close()
