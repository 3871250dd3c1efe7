"""Usage the provider did not report, as every hook estimates it: the one path into `tracking.estimate`.

Each hook hands over what its runtime gave it: the request (`payload`, its prompt fields as the runtime
passed them) and the reply's text. Nothing here runs for a reply that carries usage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..estimate import request_text
from ..estimate import tokens as estimated_tokens
from ._common import Counts, part


def estimated_counts(payload: Mapping[str, Any], output_text: str, *, with_input: bool = True) -> Counts:
    """A call the provider reported no usage for: its request and reply text, estimated (`tracking.estimate`).

    `with_input=False` when the request is not known (MindRoom's metadata): input stays 0.
    """
    inp = estimated_tokens(request_text(payload)) if with_input else 0
    return Counts(inp, estimated_tokens(output_text), estimated=1)


def chat_text(result: Any) -> str:
    """The text of an OpenAI-shaped chat reply (`choices[].message.content`; SDK objects or dicts)."""
    return "".join(part(part(choice, "message"), "content") or "" for choice in part(result, "choices") or ())


def role_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """Messages of a runtime's own classes (Agno's `Message`, ...) as the `role` / `content` a provider is sent."""
    return [{"role": part(m, "role"), "content": part(m, "content")} for m in messages]
