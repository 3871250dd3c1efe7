"""`usage-bot ARGS` run inside the test's process: `main(args)` with its own standard input, output and
error, about a second cheaper than a new interpreter. For what the command prints and the status it exits with;
a test about the process itself (signals, a second process, the entry point) starts a real one instead.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ran:
    """What `subprocess.run(..., capture_output=True, text=True)` would have returned."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


_one_at_a_time = threading.Lock()  # sys.stdin, sys.stdout and the working directory are the process's


def usage_bot(*args: str, stdin: str | None = None, cwd: Path | None = None) -> Ran:
    """`usage-bot *args` as the console script runs it: `main()`'s return value, or argparse's exit status.

    The command runs in a thread of its own, so a test's running event loop does not stand in the way of the
    command's `asyncio.run`; the caller waits for it (an async test: `await asyncio.to_thread(usage_bot, ...)`
    when its own loop must keep serving meanwhile)."""
    from matrix_usage_bot.bot.cli import main

    result: dict[str, object] = {}
    out, err = io.StringIO(), io.StringIO()

    def command() -> None:
        try:
            result["code"] = main(list(args))
        except SystemExit as exc:  # argparse: a bad argument (2) or --help (0)
            result["code"] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # a traceback where the process would have died: the test's failure
            result["error"] = exc

    # A process with no logging set up prints warnings and errors, the message alone, on stderr (logging's
    # last resort); under pytest the root logger has handlers of its own, so that printing is done here.
    last_resort = logging.StreamHandler(err)
    last_resort.setLevel(logging.WARNING)
    with _one_at_a_time, contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        logging.getLogger().addHandler(last_resort)
        stack.callback(logging.getLogger().removeHandler, last_resort)
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        real_stdin, sys.stdin = sys.stdin, io.StringIO(stdin or "")
        try:
            worker = threading.Thread(target=command, name="usage-bot-cli")
            worker.start()
            worker.join()
        finally:
            sys.stdin = real_stdin
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return Ran(tuple(args), int(result["code"]), out.getvalue(), err.getvalue())  # type: ignore[call-overload]
