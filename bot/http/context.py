"""What every handler of the HTTP API shares."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from tracking.pricing import Pricer
from tracking.store import Store

from ..config import Config


@dataclass
class ServerContext:
    config: Config
    store: Store
    pricer: Pricer


SERVER = web.AppKey("usage_server", ServerContext)
