"""From a command message to an answer: parse with the registry, check permission, run the handler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from matrix_usage_bot.tracking.periods import PeriodError

from ..render.answers import Answer, error_answer
from .registry import Command, CommandError, Permission, Registry
from .request import Request, Services

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        registry: Registry,
        services: Services,
        *,
        is_room_admin: Callable[[str, str], Awaitable[bool]],
        is_bot_admin: Callable[[str], bool],
    ) -> None:
        self.registry = registry.with_prefix(services.prefix)
        self.services = services
        self.services.help_rows = lambda: [(u, h, p.value) for u, h, p in self.registry.help_rows()]
        self._is_room_admin = is_room_admin
        self._is_bot_admin = is_bot_admin

    async def answer(
        self, *, room_id: str, sender: str, body: str, thread_root: str | None, is_direct: bool
    ) -> Answer:
        text = body.strip()[len(self.services.prefix) :]
        try:
            command, args = self.registry.resolve(text)
        except CommandError as exc:
            return error_answer(str(exc), exc.usage)
        request = Request(room_id, sender, thread_root, is_direct, self._is_bot_admin(sender), self.services)
        refusal = await self._refusal(command, request)
        if refusal is not None:
            return refusal
        try:
            return await command.handler(request, **args)
        except (PeriodError, ValueError) as exc:
            return error_answer(str(exc), command.usage())

    async def _refusal(self, command: Command, req: Request) -> Answer | None:
        if command.permission is Permission.ANYONE or req.is_bot_admin:
            return None
        if command.permission is Permission.ROOM_ADMIN and await self._is_room_admin(req.room_id, req.sender):
            return None
        who = "bot admins" if command.permission is Permission.BOT_ADMIN else "this room's admins and bot admins"
        text = f"Sorry, only {who} may run {command.usage()}."
        return Answer.words(text)
