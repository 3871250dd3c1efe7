"""A progress bar for long commands (SPEC section 4): tqdm on standard error when it is a terminal (count, rate,
time left), nothing at all otherwise, so a script or a pipe sees only the result."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO, Any


class ProgressBar:
    """Called with (done, total) as the work goes on; the bar appears with the first call."""

    def __init__(self, label: str, unit: str = "events", stream: IO[str] | None = None) -> None:
        self.label, self.unit = label, unit
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self.shown = _is_terminal(self.stream)

    def __call__(self, done: int, total: int) -> None:
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


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False
