"""How much time the OpenAI hook adds to one non-streaming chat completion.

Two measurements, both with the real `openai` SDK and a real `tracking.Tracker` writing to SQLite:

- end to end: the same call to the loopback stand-in server (run in a separate process, so it does not
  share our GIL) with a plain client and with an instrumented one, interleaved (ABBA order) so drift
  cancels out; reports median and p99 of each and their difference.
- in process: the hook's own code path (wrapper, usage extraction, `Tracker.record`) around a stand-in
  for the SDK method that returns a parsed ChatCompletion at once, against calling that stand-in
  directly. Network noise (tens of µs per loopback call) hides a few µs end to end; this isolates them.

    .venv/bin/python -m bench.hook_overhead            # full run, writes its section of docs/benchmarks.md
    .venv/bin/python -m bench.hook_overhead --quick    # CI smoke run, prints only
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

from bench.common import DOC, header, table, write_section  # noqa: E402
from matrix_usage_bot import tracking  # noqa: E402
from matrix_usage_bot.tracking.hooks.openai import _Hook, _sync, instrument_openai  # noqa: E402

TARGET_US = 25.0
MESSAGES = [{"role": "user", "content": "Say hello"}]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.providers"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit("the stand-in server did not start")
    return proc, url


def end_to_end(url: str, tracker: tracking.Tracker, iterations: int, warmup: int) -> dict[str, float]:
    plain = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
    hooked = instrument_openai(openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0), tracker,
                               provider="openai")  # fmt: skip
    calls = {"plain": plain.chat.completions.create, "hooked": hooked.chat.completions.create}
    times: dict[str, list[float]] = {"plain": [], "hooked": []}
    for _ in range(warmup):
        for create in calls.values():
            create(model="gpt-4o", messages=MESSAGES)
    clock = time.perf_counter_ns
    added: list[float] = []
    for i in range(iterations):
        order = ("plain", "hooked", "hooked", "plain") if i % 2 else ("hooked", "plain", "plain", "hooked")
        quad: dict[str, float] = {"plain": 0.0, "hooked": 0.0}
        for name in order:
            start = clock()
            calls[name](model="gpt-4o", messages=MESSAGES)
            elapsed = (clock() - start) / 1000.0
            times[name].append(elapsed)
            quad[name] += elapsed / 2
        added.append(quad["hooked"] - quad["plain"])
    return {
        "plain_median": statistics.median(times["plain"]),
        "hooked_median": statistics.median(times["hooked"]),
        "plain_p99": pct(times["plain"], 0.99),
        "hooked_p99": pct(times["hooked"], 0.99),
        "added_median": statistics.median(added),
        "added_p99": pct(added, 0.99),
        "calls": float(len(times["plain"])),
    }


def in_process(url: str, tracker: tracking.Tracker, iterations: int) -> dict[str, float]:
    completion = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0).chat.completions.create(
        model="gpt-4o", messages=MESSAGES
    )

    def sdk(**kwargs: object) -> object:
        return completion

    wrapped = _sync(_Hook(tracker, "openai", False), "chat", sdk)
    clock = time.perf_counter_ns
    added: list[float] = []
    batch = 50
    for i in range(iterations // batch):
        first, second = (sdk, wrapped) if i % 2 else (wrapped, sdk)
        start = clock()
        for _ in range(batch):
            first(model="gpt-4o", messages=MESSAGES)
        middle = clock()
        for _ in range(batch):
            second(model="gpt-4o", messages=MESSAGES)
        end = clock()
        bare, hooked = (middle - start, end - middle) if first is sdk else (end - middle, middle - start)
        added.append((hooked - bare) / batch / 1000.0)
        if i % 20 == 0:
            tracker.flush_sync()
    return {"median": statistics.median(added), "p99": pct(added, 0.99), "calls": float(len(added) * batch)}


def body(e2e: dict[str, float], micro: dict[str, float]) -> str:
    verdict = "met" if e2e["added_median"] <= TARGET_US else "missed"
    rows = [
        (f"hook's own cost, in process ({int(micro['calls']):,} calls)", f"**{micro['median']:.1f} µs**",
         f"{micro['p99']:.1f} µs"),
        (f"call without hook, loopback ({int(e2e['calls']):,} calls)", f"{e2e['plain_median']:.0f} µs",
         f"{e2e['plain_p99']:.0f} µs"),
        (f"call with hook, loopback ({int(e2e['calls']):,} calls)", f"{e2e['hooked_median']:.0f} µs",
         f"{e2e['hooked_p99']:.0f} µs"),
        ("difference of the two lines above", f"{e2e['hooked_median'] - e2e['plain_median']:+.0f} µs",
         f"{e2e['hooked_p99'] - e2e['plain_p99']:+.0f} µs"),
        (f"paired: hooked − plain within each ABBA group ({int(e2e['calls']) // 2:,} groups)",
         f"**{e2e['added_median']:+.0f} µs**", f"{e2e['added_p99']:+.0f} µs"),
    ]  # fmt: skip
    return "\n\n".join([
        table(["one non-streaming `chat.completions.create`", "median", "p99"], rows),
        f"Target: the hook adds at most {TARGET_US:.0f} µs (median of the paired end-to-end difference): "
        f"{verdict}. Real `openai` {openai.__version__} SDK and a real Tracker on SQLite (its writer thread "
        "storing the hooked calls as they come, in the same process). End to end, the same call to the loopback "
        "stand-in (`tests/fakes/providers.py`, in its own process) with a plain and an instrumented client, "
        "interleaved ABBA so drift cancels; each group gives one paired difference, and the spread of those "
        "(p99) is the loopback call's own noise, tens of times the hook's cost. In process, the hook's "
        "code path (wrapper, usage extraction, `Tracker.record`) around an SDK stand-in that returns a parsed "
        "ChatCompletion at once, against calling that stand-in directly, in interleaved batches of 50.",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Overhead of the OpenAI usage hook on one call.")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI); prints, writes nothing")
    parser.add_argument("--iterations", type=int, help="end-to-end call pairs (default 3000, quick 100)")
    args = parser.parse_args()
    iterations = args.iterations or (100 if args.quick else 3000)
    proc, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp, tracking.Tracker(f"sqlite:///{tmp}/bench.db") as tracker:
            e2e = end_to_end(url, tracker, iterations, warmup=20 if args.quick else 200)
            micro = in_process(url, tracker, 20_000 if args.quick else 200_000)
    finally:
        proc.terminate()
        proc.wait(10)
    text = body(e2e, micro)
    print(header(text))
    write_section("hook-overhead", "Hook overhead", text, None if args.quick else DOC)
    if not args.quick and e2e["added_median"] > TARGET_US:
        raise SystemExit(f"the hook added {e2e['added_median']:.1f} µs (median), over {TARGET_US:.0f} µs")


if __name__ == "__main__":
    main()
