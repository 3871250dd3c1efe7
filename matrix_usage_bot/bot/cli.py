"""`usage-bot`: the command line of README: Command line.

A bad argument or config exits with status 2 and one line naming what is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from matrix_usage_bot.tracking.periods import PERIOD_HELP, PeriodError, parse_period, zone
from matrix_usage_bot.tracking.queries import GROUPS, usage_report
from matrix_usage_bot.tracking.settings import ConfigError, StorageSettings, TrackingSettings, load_tracking_settings
from matrix_usage_bot.tracking.store import StoreError, is_postgres, open_store, redact, sqlite_path

from .cli_ingest import add_ingest_command
from .cli_parser import EXIT_USAGE, Parser, UsageError, VersionAction, room_id, thread_id, user_id
from .cli_rights import add_rights_commands

if TYPE_CHECKING:
    from .config import Config


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="usage-bot", description="LLM usage and cost for Matrix rooms.")
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    report = sub.add_parser("report", help="a usage report in the terminal")
    _store_args(report)
    report.add_argument("--room", type=room_id, help="only this room id (!abc:example.org)")
    report.add_argument("--thread", type=thread_id, help="only this thread (its root event id, $abc)")
    report.add_argument("--agent", help="only this agent")
    report.add_argument("--user", type=user_id, help="only this user id (@alice:example.org)")
    report.add_argument("--period", default="month", help=f"one of: {PERIOD_HELP} (default: month)")
    report.add_argument("--by", choices=GROUPS, help="break down by this dimension")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")
    report.add_argument("--tz", help="timezone for calendar periods (default: the config's, else UTC)")
    report.set_defaults(handler=_report)

    chart = sub.add_parser("chart", help="a PNG chart of a room's daily usage (as !usage chart)")
    _store_args(chart)
    chart.add_argument("--room", required=True, type=room_id, help="the room id (!abc:example.org)")
    chart.add_argument("--period", default="month", help=f"one of: {PERIOD_HELP} (default: month)")
    chart.add_argument("--by", choices=("agent", "model"), default="agent", help="stack the bars by (default: agent)")
    chart.add_argument("--out", required=True, help="the PNG file to write")
    chart.add_argument("--title", help="the chart's title (default: 'Daily usage in ROOM')")
    chart.add_argument("--tz", help="timezone for calendar days (default: the config's, else UTC)")
    chart.set_defaults(handler=_chart)

    add_ingest_command(sub, _store_args, _settings)

    run = sub.add_parser("run", help="run the bot")
    run.add_argument("-c", "--config", required=True, help="path to config.yaml")
    run.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    run.set_defaults(handler=_run)

    serve = sub.add_parser("serve", help="the HTTP API (usage, quotas, event collector, metrics) without Matrix")
    serve.add_argument("-c", "--config", required=True, help="path to config.yaml (its http section)")
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    serve.set_defaults(handler=_serve)

    demo = sub.add_parser("demo", help="a local end-to-end demo: throwaway homeserver, agents, the bot")
    demo.add_argument("--db", help="the usage store to use (default: a throwaway SQLite file), e.g. postgresql://...")
    demo.add_argument("--out", default=".demo",
                      help="where the transcript, the chart, the export and the dashboard's screenshot go (.demo)")
    demo.add_argument("--keep", action="store_true",
                      help="leave the homeserver and the bot running at the end (the login is printed); Ctrl-C stops")
    demo.set_defaults(handler=_demo)

    migrate = sub.add_parser("migrate", help="copy a store into another (SQLite <-> PostgreSQL), idempotently")
    migrate.add_argument("--from", dest="source", required=True, help="the store to copy, e.g. sqlite:///data/usage.db")
    migrate.add_argument("--to", dest="target", required=True, help="the store to copy into, e.g. postgresql://...")
    migrate.set_defaults(handler=_migrate)

    add_rights_commands(sub, _store_args, _settings)

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("-c", "--config", required=True, help="path to config.yaml")
    check.set_defaults(handler=_check_config)
    return parser


def _store_args(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-c", "--config", help="path to config.yaml (its storage section)")
    source.add_argument("--db", help="storage url, e.g. sqlite:///data/usage.db")


def _settings(args: argparse.Namespace) -> TrackingSettings:
    if args.config:
        return load_tracking_settings(args.config)
    return TrackingSettings(storage=StorageSettings(url=args.db))


def _report(args: argparse.Namespace) -> int:
    settings = _settings(args)
    tz = zone(args.tz or settings.timezone)
    period = parse_period(args.period, tz)

    async def run() -> str:
        from matrix_usage_bot.bot.render.report_formats import report_csv, report_json, report_table

        store = await open_store(settings.storage.url, must_exist=True)
        try:
            report = await usage_report(
                store, period, group=args.by, room_id=args.room, thread_id=args.thread, agent=args.agent,
                user_id=args.user,
            )  # fmt: skip
        finally:
            await store.close()
        if args.format == "json":
            return report_json(report)
        if args.format == "csv":
            return report_csv(report)
        return report_table(report, f"Usage{' in ' + args.room if args.room else ''}")

    sys.stdout.write(asyncio.run(run()).rstrip("\n") + "\n")
    return 0


def _chart(args: argparse.Namespace) -> int:
    from pathlib import Path

    from matrix_usage_bot.bot.chart_data import chart_data
    from matrix_usage_bot.bot.render.chart import chart_summary, render_png

    settings = _settings(args)
    period = parse_period(args.period, zone(args.tz or settings.timezone))
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"--out {args.out}: the folder {out.parent} does not exist")
    if out.is_dir():
        raise UsageError(f"--out {args.out} is a folder; name the PNG file to write")

    async def run() -> int:
        store = await open_store(settings.storage.url, must_exist=True)
        try:
            title = args.title or f"Daily usage in {args.room}"
            data = await chart_data(store, period, args.by, room_id=args.room, title=title)
        finally:
            await store.close()
        if data.empty:
            print(f"usage-bot chart: no usage in {args.room}, {period.label}: nothing to chart", file=sys.stderr)
            return 1
        png = render_png(data)
        out.write_bytes(png.data)
        print(chart_summary(data)[0])
        print(f"wrote {out} ({png.width}x{png.height}, {len(png.data):,} bytes)")
        return 0

    return asyncio.run(run())


def _run(args: argparse.Namespace) -> int:
    import logging

    from matrix_usage_bot.bot.app import run
    from matrix_usage_bot.bot.config import load_config
    from matrix_usage_bot.bot.matrix.login import BotLoginError

    config = load_config(args.config)
    _account(config, args.config)  # the matrix section: a clear line now rather than an error once running
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run(config))
    except BotLoginError as exc:
        print(f"usage-bot run: {exc}", file=sys.stderr)
        return 1
    return 0


def _account(config: Config, path: str) -> None:
    """The bot's own account (`Config.standalone`), its problem named with the file."""
    try:
        config.standalone()
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _serve(args: argparse.Namespace) -> int:
    import logging

    from matrix_usage_bot.bot.config import load_config
    from matrix_usage_bot.bot.http.server import serve

    config = load_config(args.config)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(config))
    except OSError as exc:  # the port is taken, the address is not ours
        print(f"usage-bot serve: cannot listen on {config.http.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from matrix_usage_bot.bot.demo.run import main as demo_main

    return demo_main(args.db, args.out, args.keep)


def _migrate(args: argparse.Namespace) -> int:
    from matrix_usage_bot.tracking.store import Filters
    from matrix_usage_bot.tracking.store.copy import CopyResult, copy_store

    from .progress import CountedReads, ProgressBar

    async def run(bar: ProgressBar) -> CopyResult:
        source = await open_store(args.source, must_exist=True)
        try:
            target = await open_store(args.target)
            try:
                if not bar.shown:
                    return await copy_store(source, target)
                total = sum(s.calls for s in await source.sum_events(-(2**62), 2**62, Filters(), None))
                return await copy_store(CountedReads(source, bar, total), target)  # type: ignore[arg-type]
            finally:
                await target.close()
        finally:
            await source.close()

    with ProgressBar("copying") as bar:
        result = asyncio.run(run(bar))
    for refused in result.refused:
        print(f"usage-bot migrate: not copied: {refused}", file=sys.stderr)
    print(result.summary())
    return 1 if result.refused else 0


def _check_config(args: argparse.Namespace) -> int:
    from matrix_usage_bot.bot.config import load_config

    config = load_config(args.config)
    url = config.storage.url
    if not is_postgres(url):
        sqlite_path(url)  # refuses what `open_store` would refuse, in the same words
    if config.matrix is not None:
        _account(config, args.config)
    where = f"homeserver {config.matrix.homeserver}" if config.matrix else "no matrix section: plugin mode only"
    print(f"{args.config}: OK ({where}, storage {redact(url)})")
    return 0


BOT_DEPENDENCIES = ("nio", "apscheduler", "matplotlib", "prometheus_client", "posthog", "tqdm")
"""What the `bot` extra installs: the light install (the tracking library) lacks them."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, PeriodError, StoreError, UsageError) as exc:
        print(f"usage-bot {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:  # the light install: a command of the bot's without its dependencies
        if (exc.name or "").partition(".")[0] not in BOT_DEPENDENCIES:
            raise
        print(f"usage-bot {args.command}: this needs the bot's dependencies ({exc.name} is not installed):"
              " pip install 'matrix-usage-bot[bot]'", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
