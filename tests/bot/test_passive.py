"""Which version of a streamed MindRoom message is counted: the original when final, else the final edit."""

from matrix_usage_bot.bot.features.passive_collection import final_content

RUN = {"io.mindroom.ai_run": {"version": 1, "usage": {"input_tokens": 10}}}


def test_a_finished_message_counts_as_itself():
    content = {"body": "done", **RUN, "io.mindroom.stream_status": "completed"}
    assert final_content("$orig", content, {}) == ("$orig", content)
    plain = {"body": "no stream status at all", **RUN}
    assert final_content("$orig", plain, {}) == ("$orig", plain)


def test_a_streaming_message_waits_for_its_final_edit():
    assert final_content("$orig", {"body": "…", **RUN, "io.mindroom.stream_status": "streaming"}, {}) is None
    edit = {
        "body": "* final",
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
        "m.new_content": {"body": "final", **RUN, "io.mindroom.stream_status": "completed"},
    }
    event_id, content = final_content("$edit", edit, {"$orig": "$root"})
    assert event_id == "$orig" and content["body"] == "final"
    assert content["m.relates_to"] == {"rel_type": "m.thread", "event_id": "$root"}


def test_an_unfinished_edit_is_skipped_and_a_broken_one_ignored():
    edit = {
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
        "m.new_content": {**RUN, "io.mindroom.stream_status": "pending"},
    }
    assert final_content("$edit", edit, {}) is None
    assert final_content("$edit", {"m.relates_to": {"rel_type": "m.replace"}}, {}) is None


async def test_a_reply_holding_a_value_no_event_may_hold_is_kept_in_rejected_events(tmp_path):
    """Passive collection refuses what every entry point refuses, and keeps it with the reason (it used to be
    logged and lost); the good replies beside it are stored."""
    import json
    import sqlite3

    from matrix_usage_bot.bot.features.passive_collection import PassiveCollector
    from matrix_usage_bot.tracking.settings import StorageSettings, TrackingSettings

    db = tmp_path / "usage.db"
    collector = PassiveCollector(TrackingSettings(storage=StorageSettings(url=f"sqlite:///{db}")),
                                 own_server="example.org")  # fmt: skip
    await collector.start()

    def reply(usage: dict, run_id: str = "run-1") -> dict:
        return {"body": "Here you go.", "io.mindroom.ai_run": {
            "version": 1, "run_id": run_id, "status": "completed", "usage": usage,
            "model": {"config": "default", "id": "gpt-4o", "provider": "openai"}}}  # fmt: skip

    try:
        await collector.observe("!ops:example.org", "$huge", "@mindroom_clerk:example.org",
                                reply({"input_tokens": 2_500_000_000, "output_tokens": 40}), 1_770_000_000_000)
        await collector.observe("!ops:example.org", "$nul", "@mindroom_clerk:example.org",
                                reply({"input_tokens": 300, "output_tokens": 40}, "run\x00-2"), 1_770_000_001_000)
        await collector.observe("!ops:example.org", "$fine", "@mindroom_clerk:example.org",
                                reply({"input_tokens": 300, "output_tokens": 40}), 1_770_000_002_000)
    finally:
        await collector.close()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT event_id, agent, input_tokens, source FROM events").fetchall()
        rejected = conn.execute("SELECT reason, payload FROM rejected_events ORDER BY id").fetchall()
    assert stored == [("$fine", "clerk", 300, "mindroom")]
    assert [reason for reason, _ in rejected] == [
        "input_tokens: is 2,500,000,000, more than one call can use (at most 1,000,000,000)",
        "metadata: holds a NUL character (\\u0000), which PostgreSQL cannot store in text",
    ]
    kept = [json.loads(payload) for _, payload in rejected]
    assert [(k["event_id"], k["room_id"], k["agent"]) for k in kept] == [("$huge", "!ops:example.org", "clerk"),
                                                                        ("$nul", "!ops:example.org", "clerk")]
