"""Which version of a streamed MindRoom message is counted: the original when final, else the final edit."""

from bot.features.passive_collection import final_content

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
