"""`usage-bot ingest [FILE]` (README: Command line): JSON lines from a file or standard input, stored in parts so that
a progress bar can follow and the first Ctrl-C stops it with what was stored said."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from types import FrameType
from typing import IO, Any

from matrix_usage_bot.tracking.ingest import INGEST_BATCH, IngestResult, ingest_lines
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.settings import TrackingSettings
from matrix_usage_bot.tracking.store import open_store

from .cli_parser import UsageError
from .progress import ProgressBar, is_terminal

PART = INGEST_BATCH
"""Lines read and stored at a time (one line at a time from a terminal, so each typed line is stored at once)."""
SHOWN_ERRORS = 20
"""Bad lines named one by one; the rest are counted."""
EXIT_SKIPPED, EXIT_INTERRUPTED = 1, 130
EPILOG = (
    "exit status: 0 every line stored (or a duplicate), 1 some lines skipped (each named on standard error, the"
    f" first {SHOWN_ERRORS}), 2 a bad argument or config, 130 stopped by Ctrl-C (what was stored stays stored)"
)
_WAITING = ("usage-bot ingest: waiting for JSON lines on standard input (one event a line; end with Ctrl-D,"
            " stop with Ctrl-C; or give a file: usage-bot ingest events.jsonl)")  # fmt: skip


def add_ingest_command(sub: argparse._SubParsersAction, store_args: Callable[[argparse.ArgumentParser], None],
                       settings_of: Callable[[argparse.Namespace], TrackingSettings]) -> None:  # fmt: skip
    ingest = sub.add_parser("ingest", help="store JSON events, one per line, from a file or standard input",
                            epilog=EPILOG)  # fmt: skip
    store_args(ingest)
    ingest.add_argument("file", nargs="?", default="-", help="a file of JSON lines (default, or -: standard input)")
    ingest.set_defaults(handler=lambda args: _ingest(args, settings_of(args)))


def _ingest(args: argparse.Namespace, settings: TrackingSettings) -> int:
    if args.file == "-":
        return _ingest_from(sys.stdin, args.file, settings)
    try:
        stream = open(args.file, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    with stream:
        return _ingest_from(stream, args.file, settings)


def _ingest_from(stream: IO[str], name: str, settings: TrackingSettings) -> int:
    interactive = is_terminal(stream)
    pricer, result, read = Pricer(settings.pricing.overrides), IngestResult(), 0
    with asyncio.Runner() as runner, ProgressBar("ingesting", "lines") as bar:
        store = runner.run(open_store(settings.storage.url))
        if interactive:
            print(_WAITING, file=sys.stderr, flush=True)
        total = _line_count(name) if bar.shown and name != "-" else None
        try:
            with _StopBetweenParts() as stop:
                while lines := list(islice(stream, 1 if interactive else PART)):
                    with stop.writing():
                        result.add(runner.run(ingest_lines(store, lines, pricer, first_line=read + 1)))
                    read += len(lines)
                    bar(read, total)
                    stop.check()
        except KeyboardInterrupt:
            bar.close()
            _report_errors(result)
            print(result.summary())
            stopped = f"usage-bot ingest: interrupted after line {read}; the counts cover every line up to it"
            print(stopped, file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            runner.run(store.close())
    _report_errors(result)
    print(result.summary())
    return EXIT_SKIPPED if result.errors else 0


class _StopBetweenParts:
    """Ctrl-C while a part is written stops once it is stored (so what is said stored is exact); while
    reading, at once."""

    def __init__(self) -> None:
        self._writing = self._asked = False
        self._before: Any = None

    def __enter__(self) -> _StopBetweenParts:
        """Only the main thread can handle signals; run from another (`main()` called by a host program),
        Ctrl-C is that program's own."""
        if threading.current_thread() is threading.main_thread():
            self._before = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._before is not None:
            signal.signal(signal.SIGINT, self._before)

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        if not self._writing:
            raise KeyboardInterrupt
        self._asked = True

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        self._writing = True
        try:
            yield
        finally:
            self._writing = False

    def check(self) -> None:
        if self._asked:
            raise KeyboardInterrupt


def _report_errors(result: IngestResult) -> None:
    for error in result.errors[:SHOWN_ERRORS]:
        print(f"usage-bot ingest: skipped {error}", file=sys.stderr)
    if len(result.errors) > SHOWN_ERRORS:
        print(f"usage-bot ingest: ... and {len(result.errors) - SHOWN_ERRORS:,} more lines skipped", file=sys.stderr)


def _line_count(name: str) -> int | None:
    """The lines of a regular file (for the bar's time left), read apart; None for a pipe or a device."""
    path = Path(name)
    if not path.is_file():
        return None
    with path.open("rb") as data:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: data.read(1 << 20), b""))
