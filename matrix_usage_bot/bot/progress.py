"""A progress bar for long commands (README: Command line): tqdm on standard error when it is a terminal (count, rate,
time left), nothing at all otherwise, so a script or a pipe sees only the result."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from importlib.util import find_spec
from types import TracebackType
from typing import IO, Any


class ProgressBar:
    """Called with (done, total) as the work goes on; the bar appears with the first call."""

    def __init__(self, label: str, unit: str = "events", stream: IO[str] | None = None) -> None:
        self.label, self.unit = label, unit
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self.shown = is_terminal(self.stream) and find_spec("tqdm") is not None  # the light install has none

    def __call__(self, done: int, total: int | None) -> None:
        if not self.shown:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.label, unit=f" {self.unit}", file=self.stream, dynamic_ncols=True,
                             leave=False)  # fmt: skip
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False


class CountedReads:
    """A store whose `iter_events` calls `bar(rows read, total)` as it goes (every `every` rows): the progress of
    a command that reads every event (`usage-bot migrate`) without the command knowing of it."""

    def __init__(self, store: Any, bar: ProgressBar, total: int | None, every: int = 1000) -> None:
        self._store, self._bar, self._total, self._every = store, bar, total, every

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def iter_events(self, *args: Any) -> AsyncIterator[tuple]:
        read = 0
        async for row in self._store.iter_events(*args):
            yield row
            read += 1
            if read % self._every == 0:
                self._bar(read, self._total)
        self._bar(read, self._total)
