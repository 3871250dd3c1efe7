"""Commands are declared once: name, arguments, help and who may run them.

Parsing, the usage line of each command, `!usage help` and permission checks all come from
these declarations, in the spirit of maubot's `@command.new` / `@subcommand`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


class CommandError(ValueError):
    """A command that does not parse; `usage` is the usage line of the nearest command."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class Permission(enum.Enum):
    ANYONE = "anyone"
    ROOM_ADMIN = "room admins"
    BOT_ADMIN = "bot admins"


@dataclass(frozen=True)
class Arg:
    """A positional argument. `parse` turns the token into a value or raises ValueError with a reason.

    `greedy` arguments take the rest of the line (for free text such as a name with spaces).
    """

    name: str
    placeholder: str
    parse: Callable[[str], Any] = str
    optional: bool = False
    keyword: str | None = None
    greedy: bool = False

    def usage(self) -> str:
        text = f"{self.keyword} {self.placeholder}" if self.keyword else self.placeholder
        return f"[{text}]" if self.optional else text


Handler = Callable[..., Awaitable[Any]]


@dataclass
class Command:
    path: tuple[str, ...]
    help: str
    args: Sequence[Arg]
    permission: Permission
    handler: Handler
    prefix: str = "!usage"

    def usage(self) -> str:
        return " ".join([self.prefix, *self.path, *(a.usage() for a in self.args)])

    def parse_args(self, tokens: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        rest = list(tokens)
        for arg in self.args:
            if arg.keyword is not None:
                if rest and rest[0].lower() == arg.keyword:
                    if len(rest) < 2:
                        raise CommandError(f"'{arg.keyword}' needs {arg.placeholder}", self.usage())
                    rest.pop(0)
                elif arg.optional:
                    values[arg.name] = None
                    continue
            if not rest:
                if arg.optional:
                    values[arg.name] = None
                    continue
                raise CommandError(f"missing {arg.placeholder}", self.usage())
            token = " ".join(rest) if arg.greedy else rest[0]
            try:
                values[arg.name] = arg.parse(token)
            except ValueError as exc:
                if arg.optional and not arg.keyword and _could_be_later(self.args, arg, token):
                    values[arg.name] = None
                    continue
                raise CommandError(str(exc), self.usage()) from exc
            rest = [] if arg.greedy else rest[1:]
        if rest:
            raise CommandError(f"unexpected {' '.join(rest)!r}", self.usage())
        return values


def _could_be_later(args: Sequence[Arg], current: Arg, token: str) -> bool:
    """An optional argument may be skipped when a later keyword argument starts with this token, or
    when the next argument takes it (`user [@ID] WINDOW`: `user daily` skips the id)."""
    later = list(args)[list(args).index(current) + 1 :]
    if any(a.keyword == token.lower() for a in later):
        return True
    if not later or later[0].keyword is not None:
        return False
    try:
        later[0].parse(token)
    except ValueError:
        return False
    return True


@dataclass
class Registry:
    prefix: str = "!usage"
    commands: list[Command] = field(default_factory=list)

    def command(
        self,
        name: str,
        *,
        help: str,
        args: Sequence[Arg] = (),
        permission: Permission = Permission.ANYONE,
    ) -> Callable[[Handler], Handler]:
        """Declare a command; `name` is "" for the bare prefix, or words such as "quota set"."""

        def register(handler: Handler) -> Handler:
            path = tuple(name.split())
            if any(c.path == path for c in self.commands):
                raise ValueError(f"command {name!r} is declared twice")
            self.commands.append(Command(path, help, tuple(args), permission, handler, self.prefix))
            return handler

        return register

    def with_prefix(self, prefix: str) -> Registry:
        """The same commands under another prefix (the configured one)."""
        return Registry(
            prefix, [Command(c.path, c.help, c.args, c.permission, c.handler, prefix) for c in self.commands]
        )

    def resolve(self, text: str) -> tuple[Command, dict[str, Any]]:
        """Parse the words after the prefix into the longest matching command and its arguments."""
        tokens = text.split()
        lowered = [t.lower() for t in tokens]
        matches = [c for c in self.commands if tuple(lowered[: len(c.path)]) == c.path]
        if not matches:
            raise CommandError(f"unknown command {tokens[0]!r}", f"{self.prefix} help")
        best = max(matches, key=lambda c: len(c.path))
        try:
            return best, best.parse_args(tokens[len(best.path) :])
        except CommandError as exc:
            deeper = self._subcommands(best.path, lowered[len(best.path) : len(best.path) + 1])
            if best.path and deeper:
                usage = " | ".join(c.usage() for c in deeper)
                raise CommandError(f"unknown command {text.strip()!r}", usage) from exc
            if best.path or not tokens or tokens[0][:1].isdigit():
                raise
            group = [c.usage() for c in self.commands if c.path[:1] == (lowered[0],)]
            if group:
                raise CommandError(f"unknown command {text.strip()!r}", " | ".join(group)) from exc
            raise CommandError(
                f"unknown command or period {tokens[0]!r}", f"{best.usage()}  (or {self.prefix} help)"
            ) from exc

    def _subcommands(self, path: tuple[str, ...], next_word: list[str]) -> list[Command]:
        """Commands under `path`; those continuing with `next_word` when there are any."""
        n = len(path)
        under = [c for c in self.commands if len(c.path) > n and c.path[:n] == path]
        return [c for c in under if list(c.path[n : n + 1]) == next_word] or under

    def help_rows(self) -> list[tuple[str, str, Permission]]:
        return [(c.usage(), c.help, c.permission) for c in self.commands]
