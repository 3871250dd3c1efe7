"""What every handler of the HTTP API shares."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from matrix_usage_bot.tracking.periods import zone
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.quotas import QuotaBook
from matrix_usage_bot.tracking.store import Store

from ..config import Config


@dataclass
class ServerContext:
    config: Config
    store: Store
    pricer: Pricer

    def quota_book(self) -> QuotaBook:
        """The config's quotas on the server's store, windows in bot.timezone."""
        return QuotaBook(self.store, self.config.quotas, zone(self.config.bot.timezone))


SERVER = web.AppKey("usage_server", ServerContext)
