"""argparse as `usage-bot` uses it: errors exit with status 2 in one line, and a mistyped command, choice or
option gets a suggestion ("did you mean 'report'?"), found with difflib."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

EXIT_USAGE = 2
DISTRIBUTION = "matrix-usage-bot"
"""The name pyproject.toml installs us under (its `[project] name`)."""
_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")


def suggestion(word: str, choices: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for the nearest of choices, or "" when none is near."""
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


class UsageError(Exception):
    """A bad argument: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    _words: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        choice = _INVALID_CHOICE.search(message)
        if choice:
            hint = suggestion(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
            message = message[: choice.end(1) + 1] + hint + message[choice.end(1) + 1 :]
        elif "did you mean" not in message:  # a required argument missing, say, after a mistyped option
            message += "".join(f"; {word}: unknown option{hint}" for word, hint in self._option_hints(self._words))
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        """An unknown option is refused here, where the options it may have meant are known (argparse would
        refuse it later, in the top parser, with no suggestion)."""
        self._words = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        hints = "".join(hint for _, hint in self._option_hints(extras))
        if hints:
            self.error(f"unrecognized arguments: {' '.join(extras)}{hints}")
        return parsed, extras

    def _option_hints(self, words: Sequence[str]) -> list[tuple[str, str]]:
        """(word, " (did you mean '--x'?)") for each unknown `--word` that is near one of this parser's options."""
        options = [option for option in self._option_string_actions if option.startswith("--")]
        found = []
        for word in words:
            name = word.split("=", 1)[0]
            if name.startswith("--") and name not in options and (hint := suggestion(name, options)):
                found.append((word, hint))
        return found


class VersionAction(argparse.Action):
    """`--version`: the installed distribution's version, looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the installed version and exit", **kwargs)  # fmt: skip

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option: str | None = None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version(DISTRIBUTION)
        except PackageNotFoundError:
            text = "unknown (not installed)"
        sys.stdout.write(f"{parser.prog} {text}\n")
        parser.exit(0)


def room_id(value: str) -> str:
    """A Matrix room id, `!opaque:server` (or `!opaque` from room version 12): a room's name is refused here
    rather than reported as a room without usage."""
    if not value.startswith("!") or len(value) < 2 or value.strip() != value:
        raise argparse.ArgumentTypeError(f"{value!r} is not a room id (it starts with '!', e.g. !abc123:example.org)")
    return value


def user_id(value: str) -> str:
    """A Matrix user id, `@localpart:server`."""
    local, colon, server = value.removeprefix("@").partition(":")
    if not value.startswith("@") or not (local and colon and server) or value.strip() != value:
        raise argparse.ArgumentTypeError(f"{value!r} is not a user id (@name:server, e.g. @alice:example.org)")
    return value


def thread_id(value: str) -> str:
    """A thread's root event id, `$opaque`."""
    if not value.startswith("$") or len(value) < 2 or value.strip() != value:
        raise argparse.ArgumentTypeError(f"{value!r} is not a thread id (its root event id starts with '$')")
    return value
