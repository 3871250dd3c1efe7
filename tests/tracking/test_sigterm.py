import signal
import subprocess
import sys
import textwrap
import time

from tests.dbrows import rows

SCRIPT = textwrap.dedent(
    """
    import itertools, sys, time
    from matrix_usage_bot import tracking
    tracker = tracking.Tracker(sys.argv[1], flush_interval=30).start()  # the writer alone would wait 30 s
    for i in itertools.count():
        tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1, event_id=f"e{i}")
        if i == 5000:
            print("recording", flush=True)
        if i > 5000:
            time.sleep(0.0005)
    """
)


def test_sigterm_drains_every_recorded_event(store_url):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, store_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "recording"
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGTERM, proc.stderr.read()
    ((stored, highest),) = rows(store_url, "SELECT count(*), max(input_tokens) FROM events")
    ((calls,),) = rows(store_url, "SELECT sum(calls) FROM rollup_slots")
    # Events were recorded with input_tokens 0, 1, 2, ...: no gap means none recorded was lost.
    assert stored > 5000 and stored == highest + 1 and calls == stored
