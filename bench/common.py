"""What every benchmark shares: the machine, timing helpers, and writing its section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import re
import shlex
import sqlite3
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
CACHE = ROOT / ".bench"
CORES = os.cpu_count() or 1
"""The machine's cores: a run that keeps them all busy cannot pass CORES / (CPU seconds per event) events/s."""
TITLE = "# Benchmarks\n\nFigures of issue 7, written by the scripts under `bench/` (`make bench`).\n"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gib = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return (
        f"{CORES} cores, {model}, {ram_gib:.0f} GiB RAM; Linux {platform.release()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def command() -> str:
    module = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "?"
    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    return f".venv/bin/python -m bench.{module}" + (f" {args}" if args else "")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def load() -> str:
    """The machine's load when a section is written: other work shares the cores."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min) on {CORES} cores"


def header(body: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Measured {now} on {machine()}; {load()} as it ended.\nCommand: `{command()}`\n\n{body.strip()}\n"


def write_section(name: str, title: str, body: str, doc: Path | None = DOC) -> None:
    """Replace the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; append it if missing.

    Other sections of the file (written by other benchmarks) are left as they are. `doc=None`
    (quick runs) writes nothing.
    """
    if doc is None:
        return
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n## {title}\n\n{header(body)}{end}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else TITLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def finish(report: dict) -> int:
    """Print a run's problems; the exit status: 1 when there were any."""
    for problem in report["problems"]:
        print("PROBLEM:", problem)
    return 1 if report["problems"] else 0


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def rss_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


USAGE_BOT = (sys.executable, "-m", "matrix_usage_bot")
"""`usage-bot` with this interpreter, for benchmarks that run it in a process of its own."""
