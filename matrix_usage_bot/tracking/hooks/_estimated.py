"""Usage the provider did not report, as every hook estimates it: the one path into `tracking.estimate`.

Each hook hands over what its runtime gave it: the request (`payload`, its prompt fields as the runtime
passed them), the provider and model it went to (whose rule counts its images), and the reply's text with
its tool calls (`reply_text`, `call_text`): what the provider generated is output, tool-call names and
arguments included. Nothing here runs for a reply that carries usage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..estimate import request_parts
from ..estimate import tokens as estimated_tokens
from ..image_tokens import image_tokens
from ._common import Counts, part


def estimated_counts(payload: Mapping[str, Any], output_text: str, provider: str, model: str | None, *,
                     with_input: bool = True) -> Counts:  # fmt: skip
    """A call the provider reported no usage for: its request and reply text, estimated (`tracking.estimate`).

    The request's images count as the provider's per-image tokens (`tracking.image_tokens`), and are the
    call's `input_image_tokens` part. `with_input=False` when the request is not known (MindRoom's metadata):
    input stays 0. The caller records them with `usage_source` `ESTIMATED`.
    """
    if not with_input:
        return Counts(output_tokens=estimated_tokens(output_text))
    text, images = request_parts(payload)
    pictures = sum(image_tokens(image, provider, model) for image in images)
    return Counts(input_tokens=estimated_tokens(text) + pictures, output_tokens=estimated_tokens(output_text),
                  input_image_tokens=pictures)  # fmt: skip


def call_text(call: Any) -> str:
    """A tool call as the output it is: its name and arguments (OpenAI's `function.name` / `arguments`, the
    Responses API's and LangChain's `name` / `arguments` or `args`, Anthropic's `name` / `input`)."""
    function = part(call, "function")
    source = function if function is not None else call
    arguments = part(source, "arguments")
    if arguments is None:
        arguments = part(call, "args") if part(call, "args") is not None else part(call, "input")
    if arguments is not None and not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False, default=str)
    return (part(source, "name") or "") + (arguments or "")


def calls_text(calls: Iterable[Any] | None) -> str:
    return "".join(call_text(call) for call in calls or ())


def chat_text(result: Any) -> str:
    """The output of an OpenAI-shaped chat reply: each choice's `message.content` and `message.tool_calls`."""
    return "".join((part(part(choice, "message"), "content") or "") + calls_text(part(part(choice, "message"),
                   "tool_calls")) for choice in part(result, "choices") or ())  # fmt: skip


def role_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """Messages of a runtime's own classes (Agno's `Message`, ...) as the `role` / `content` a provider is sent,
    with their images (Agno's `images`: bytes, a file or a link) as image parts and their tool calls."""
    return [_message(m) for m in messages]


def _message(message: Any) -> dict[str, Any]:
    sent: dict[str, Any] = {"role": part(message, "role"), "content": part(message, "content")}
    images = [_image_part(image) for image in part(message, "images") or ()]
    if images:
        sent["images"] = images
    if part(message, "tool_calls"):
        sent["tool_calls"] = part(message, "tool_calls")
    return sent


def _image_part(image: Any) -> dict[str, Any]:
    """An Agno `Image` as an image part `tracking.estimate` counts: its bytes (or its file's head) when known."""
    data = part(image, "content")
    path = part(image, "filepath")
    if data is None and path is not None:
        try:
            with open(path, "rb") as file:
                data = file.read(1 << 20)
        except OSError:
            data = None
    return {"type": "image", "source": {"data": data}, "detail": part(image, "detail")}
