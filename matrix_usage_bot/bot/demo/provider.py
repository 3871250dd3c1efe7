"""A stand-in for an OpenAI-compatible server on loopback, answering chat completions with usage.

Used by the demo, so that it runs with no network and no API key. The token counts are fixed per
call, so the demo's figures are exact and easy to check by hand.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class CannedUsage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


class StandInOpenAI:
    def __init__(self, usages: list[CannedUsage]) -> None:
        self._usages = itertools.cycle(usages)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.calls = 0

    async def start(self) -> StandInOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        usage = next(self._usages)
        self.calls += 1
        return web.json_response({
            "id": f"chatcmpl-demo{self.calls}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "gpt-4o"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Here is what I found."}}],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        })  # fmt: skip
