"""`usage-bot forget` and `usage-bot delete` (README: Data rights): dry runs unless `--yes`, a progress bar on
a terminal, one transaction each (see `tracking.store.changes`)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from matrix_usage_bot.tracking.periods import zone
from matrix_usage_bot.tracking.settings import TrackingSettings
from matrix_usage_bot.tracking.store import open_store
from matrix_usage_bot.tracking.store.erasure import Deletion, EventMatch
from matrix_usage_bot.tracking.store.forget import Erasure

from .progress import ProgressBar
from .render.rights import UNREACHABLE, config_mentions, deletion_text, erasure_text

SettingsOf = Callable[[argparse.Namespace], TrackingSettings]
_INSTANT = "a date or an ISO-8601 time, e.g. 2026-03-01 or 2026-03-01T09:30:00+01:00"


def _text(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _instant(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not {_INSTANT}") from None


def add_rights_commands(sub: argparse._SubParsersAction, store_args: Callable[[argparse.ArgumentParser], None],
                        settings_of: SettingsOf) -> None:  # fmt: skip
    forget = sub.add_parser("forget", help="erase a person from the store (without --yes: what it would do)")
    store_args(forget)
    forget.add_argument("--user", required=True, type=_text, help="the user id to erase, e.g. @alice:example.org")
    forget.add_argument("--yes", action="store_true", help="erase (without it: say what would change, change nothing)")
    forget.set_defaults(handler=lambda args: _forget(args, settings_of))

    delete = sub.add_parser("delete", help="delete events by source key, room or agent; rollups kept exact")
    store_args(delete)
    delete.add_argument("--source", type=_text, help="events posted with this HTTP key (its name), or this entry point")
    delete.add_argument("--room", type=_text, help="events of this room id")
    delete.add_argument("--agent", type=_text, help="events of this agent")
    delete.add_argument("--since", type=_instant, help=f"events at or after this time: {_INSTANT}")
    delete.add_argument("--until", type=_instant, help="events before this time (same forms)")
    delete.add_argument("--tz", help="timezone of times without an offset (default: the config's, else UTC)")
    delete.add_argument("--yes", action="store_true", help="delete (without it: say what would go, change nothing)")
    delete.set_defaults(handler=lambda args: _delete(args, settings_of), parser=delete)


def _forget(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    settings = settings_of(args)

    async def run() -> Erasure:
        store = await open_store(settings.storage.url, must_exist=True)
        try:
            if not args.yes:
                return await store.preview_forget(args.user)
            with ProgressBar("erasing", "rows") as bar:
                return await store.forget_user(args.user, bar)
        finally:
            await store.close()

    erasure = asyncio.run(run())
    print(erasure_text(args.user, erasure, done=args.yes))
    note = config_mentions(settings.quotas, args.user)
    if note:
        print(note)
    if args.yes:
        print(UNREACHABLE)
    elif erasure != Erasure():
        print("Nothing was changed: run again with --yes to erase.")
    return 0


def _delete(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    parser: argparse.ArgumentParser = args.parser
    if args.source is None and args.room is None and args.agent is None:
        parser.error("name the events to delete: --source KEY, --room ID or --agent NAME (or more of them)")
    settings = settings_of(args)
    tz = zone(args.tz or settings.timezone)
    since, until = (None if t is None else int(_aware(t, tz).timestamp() * 1000) for t in (args.since, args.until))
    try:
        match = EventMatch(source=args.source, room_id=args.room, agent=args.agent, since_ms=since, until_ms=until)
    except ValueError as exc:
        parser.error(str(exc))

    async def run() -> Deletion:
        store = await open_store(settings.storage.url, must_exist=True)
        try:
            if not args.yes:
                return await store.preview_delete(match)
            with ProgressBar("deleting") as bar:
                return await store.delete_events(match, bar)
        finally:
            await store.close()

    deletion = asyncio.run(run())
    print(deletion_text(_described(args, tz), deletion, done=args.yes))
    if not args.yes and deletion.events:
        print("Nothing was changed: run again with --yes to delete.")
    return 0


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _described(args: argparse.Namespace, tz: ZoneInfo) -> str:
    """Which events, in words: "of source leaky-key in room !r:x from 2026-03-01T00:00:00+00:00"."""
    words = []
    for option, label in (("source", "of source"), ("room", "in room"), ("agent", "of agent")):
        if getattr(args, option) is not None:
            words.append(f"{label} {getattr(args, option)}")
    for option, label in (("since", "from"), ("until", "until")):
        value: datetime | None = getattr(args, option)
        if value is not None:
            words.append(f"{label} {_aware(value, tz).isoformat()}")
    return " ".join(words)
