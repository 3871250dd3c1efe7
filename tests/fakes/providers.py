"""A stand-in LLM provider on loopback that answers like OpenAI and Anthropic, JSON and server-sent events.

No pytest here: tests, the hook benchmark and the demo all use it. `FakeProviders().start()` serves in a
background thread; `python -m tests.fakes.providers` serves in the foreground and prints its base URL.

Endpoints (wire formats as the providers document them):
- `POST /v1/chat/completions` (OpenAI Chat Completions; SSE with a final usage-only chunk when
  `stream_options.include_usage` is set),
- `POST /v1/responses` (OpenAI Responses API; SSE ending with `response.completed` carrying usage),
- `POST /v1/embeddings` (float or base64),
- `POST /v1/messages` (Anthropic Messages; SSE `message_start`, deltas, `message_delta` with cumulative
  usage, `message_stop`),
- `POST .../models/{model}:generateContent` and `:streamGenerateContent?alt=sse` under any prefix (Gemini:
  `/v1/` through google-genai, `/v1beta1/publishers/google/` for Vertex AI, none through LiteLLM).

A model named `error-400`, `error-429` or `error-500` gets that HTTP error in the provider's error shape.
`FakeProviders.responder` may script replies (text, tool calls, usage) per request; every usage sent is
kept in `FakeProviders.sent` so tests can compare what was stored with what the server reported.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Usage:
    """One call's usage in our own terms (input includes cache reads and writes, output includes reasoning)."""

    input: int = 1200
    output: int = 340
    cache_read: int = 200
    cache_write: int = 0
    reasoning: int = 64
    cache_write_1h: int = 0  # the part of cache_write with a 1-hour TTL (Anthropic)
    audio_in: int = 0  # the part of input that was audio (OpenAI prompt_tokens_details.audio_tokens, Gemini AUDIO)
    audio_out: int = 0  # the part of output that was audio (OpenAI completion_tokens_details.audio_tokens)
    image_in: int = 0  # the part of input that was images (Gemini's IMAGE modality)
    image_out: int = 0  # the part of output that was images (Gemini image models)
    web_searches: int = 0  # Anthropic server_tool_use.web_search_requests; Gemini: webSearchQueries run
    tool_prompt: int = 0  # Gemini: the part of input from server-side tool use (toolUsePromptTokenCount)

    def openai_chat(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input,
            "completion_tokens": self.output,
            "total_tokens": self.input + self.output,
            "prompt_tokens_details": {"cached_tokens": self.cache_read, "cache_write_tokens": self.cache_write,
                                      "audio_tokens": self.audio_in},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning, "audio_tokens": self.audio_out,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }  # fmt: skip

    def openai_responses(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input,
            "input_tokens_details": {"cached_tokens": self.cache_read, "cache_write_tokens": self.cache_write},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.input + self.output,
        }

    def anthropic(self, output: int | None = None) -> dict[str, Any]:
        """Anthropic counts `input_tokens` without the cached parts."""
        out = self.output if output is None else output
        usage: dict[str, Any] = {
            "input_tokens": self.input - self.cache_read - self.cache_write,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {"ephemeral_5m_input_tokens": self.cache_write - self.cache_write_1h,
                               "ephemeral_1h_input_tokens": self.cache_write_1h},
            "output_tokens": out,
            "service_tier": "standard",
        }  # fmt: skip
        if self.reasoning and output is None:
            usage["output_tokens_details"] = {"thinking_tokens": self.reasoning}
        if self.web_searches and output is None:
            usage["server_tool_use"] = {"web_search_requests": self.web_searches}
        return usage

    def gemini(self, final: bool = True) -> dict[str, Any]:
        """Gemini's usageMetadata: the prompt count includes cached content; candidates exclude the thoughts."""
        if not final:
            return {"promptTokenCount": self.input - self.tool_prompt, "totalTokenCount": self.input}
        text = self.input - self.tool_prompt - self.audio_in - self.image_in
        modalities = [("TEXT", text), ("AUDIO", self.audio_in), ("IMAGE", self.image_in)]
        prompt = self.input - self.tool_prompt
        usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": self.output - self.reasoning,
                                 "totalTokenCount": self.input + self.output,
                                 "promptTokensDetails": [{"modality": kind, "tokenCount": count}
                                                         for kind, count in modalities if count]}  # fmt: skip
        if self.tool_prompt:
            usage["toolUsePromptTokenCount"] = self.tool_prompt
            usage["toolUsePromptTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.tool_prompt}]
        if self.image_out:
            candidates = self.output - self.reasoning
            usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": candidates - self.image_out},
                                                {"modality": "IMAGE", "tokenCount": self.image_out}]  # fmt: skip
        if self.reasoning:
            usage["thoughtsTokenCount"] = self.reasoning
        if self.cache_read:  # what was cached, by modality: text only here
            usage["cachedContentTokenCount"] = self.cache_read
            usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.cache_read}]
        return usage


@dataclass
class Reply:
    text: str = "The stand-in provider says hello. It has nothing else to say today."
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    usage: Usage | None = None
    no_usage: bool = False
    """Chat Completions and Anthropic Messages: answer like a server that reports no usage (no `usage`, no
    usage chunk or event)."""


@dataclass
class Sent:
    """What the server reported for one request (for comparing with what was stored)."""

    endpoint: str
    model: str
    usage: Usage | None
    stream: bool


class FakeProviders:
    def __init__(self, usage: Usage | None = None, chunks: int = 6) -> None:
        self.usage = usage or Usage()
        self.chunks = chunks
        self.responder: Callable[[str, dict[str, Any]], Reply] | None = None
        self.requests: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.url = ""
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # serving

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)  # requests with images
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post(r"/{prefix:.*}models/{model:[^/:]+}:{method:generateContent|streamGenerateContent}",
                            self._gemini)  # fmt: skip
        return app

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}"
        return self.url

    def start(self) -> FakeProviders:
        """Serve on a free loopback port from a background thread; returns once it accepts connections."""
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-providers", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # helpers

    def reset(self) -> None:
        self.requests.clear()
        self.sent.clear()
        self.responder = None

    def _reply(self, endpoint: str, body: dict[str, Any]) -> Reply:
        reply = self.responder(endpoint, body) if self.responder else Reply()
        if reply.usage is None:
            reply.usage = self.usage
        return reply

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):08d}"

    def _pieces(self, text: str) -> list[str]:
        words = text.split(" ")
        size = max(1, -(-len(words) // self.chunks))
        groups = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
        return [g if i == 0 else " " + g for i, g in enumerate(groups)]

    @staticmethod
    def _error(kind: str, status: int, anthropic: bool) -> web.Response:
        if anthropic:
            body = {"type": "error", "error": {"type": kind, "message": f"stand-in {status}"}}
        else:
            body = {"error": {"message": f"stand-in {status}", "type": kind, "param": None, "code": None}}
        return web.json_response(body, status=status)

    def _maybe_error(self, model: str, anthropic: bool = False) -> web.Response | None:
        kinds = {"error-400": ("invalid_request_error", 400), "error-429": ("rate_limit_error", 429),
                 "error-500": ("api_error", 500)}  # fmt: skip
        if model in kinds:
            kind, status = kinds[model]
            return self._error(kind, status, anthropic)
        return None

    @staticmethod
    async def _sse(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        return response

    @staticmethod
    async def _event(response: web.StreamResponse, data: Any, event: str | None = None) -> None:
        head = f"event: {event}\n" if event else ""
        payload = data if isinstance(data, str) else json.dumps(data)
        try:
            await response.write(f"{head}data: {payload}\n\n".encode())
        except ConnectionResetError:
            pass  # the client left the stream early, as abandonment tests do

    @staticmethod
    async def _end(response: web.StreamResponse) -> web.StreamResponse:
        try:
            await response.write_eof()
        except ConnectionResetError:
            pass
        return response

    # OpenAI Chat Completions

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"endpoint": "chat", **body})
        model = body.get("model", "")
        if (error := self._maybe_error(model)) is not None:
            return error
        reply = self._reply("chat", body)
        stream = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and not reply.no_usage
        self.sent.append(Sent("chat", model, reply.usage if (include_usage or not stream) else None, stream))
        cid, created = self._id("chatcmpl"), int(time.time())
        tool_calls = [
            {"id": self._id("call"), "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for name, args in reply.tool_calls
        ]
        finish = "tool_calls" if tool_calls else "stop"
        base = {"id": cid, "created": created, "model": model, "system_fingerprint": "fp_standin",
                "service_tier": "default"}  # fmt: skip
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": None if tool_calls else reply.text,
                                       "refusal": None, "annotations": []}  # fmt: skip
            if tool_calls:
                message["tool_calls"] = tool_calls
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            answer = {**base, "object": "chat.completion", "choices": [choice]}
            if not reply.no_usage:
                answer["usage"] = reply.usage.openai_chat()  # type: ignore[union-attr]
            return web.json_response(answer)
        response = await self._sse(request)

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            data = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                data["usage"] = None
            return data  # fmt: skip

        await self._event(response, chunk({"role": "assistant", "content": "", "refusal": None}))
        if tool_calls:
            for index, call in enumerate(tool_calls):
                await self._event(response, chunk({"tool_calls": [{"index": index, **call}]}))
        else:
            for piece in self._pieces(reply.text):
                await self._event(response, chunk({"content": piece}))
        await self._event(response, chunk({}, finish))
        if include_usage:
            final = {**base, "object": "chat.completion.chunk", "choices": [],
                     "usage": reply.usage.openai_chat()}  # type: ignore[union-attr]  # fmt: skip
            await self._event(response, final)
        await self._event(response, "[DONE]")
        return await self._end(response)

    # OpenAI Responses API

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"endpoint": "responses", **body})
        model = body.get("model", "")
        if (error := self._maybe_error(model)) is not None:
            return error
        reply = self._reply("responses", body)
        stream = bool(body.get("stream"))
        self.sent.append(Sent("responses", model, reply.usage, stream))
        rid, mid = self._id("resp"), self._id("msg")
        part = {"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}
        item = {"id": mid, "type": "message", "status": "completed", "role": "assistant", "content": [part]}

        def resp(status: str, output: list[Any], usage: dict[str, Any] | None) -> dict[str, Any]:
            return {
                "id": rid, "object": "response", "created_at": int(time.time()), "status": status,
                "model": model, "output": output, "usage": usage, "parallel_tool_calls": True,
                "tool_choice": "auto", "tools": [], "temperature": 1.0, "top_p": 1.0, "error": None,
                "incomplete_details": None, "instructions": None, "metadata": {}, "text": {"format": {"type": "text"}},
            }  # fmt: skip

        usage = reply.usage.openai_responses()  # type: ignore[union-attr]
        if not stream:
            return web.json_response(resp("completed", [item], usage))
        response = await self._sse(request)
        seq = itertools.count()

        async def send(kind: str, **data: Any) -> None:
            await self._event(response, {"type": kind, "sequence_number": next(seq), **data}, event=kind)

        await send("response.created", response=resp("in_progress", [], None))
        await send("response.in_progress", response=resp("in_progress", [], None))
        await send("response.output_item.added", output_index=0,
                   item={**item, "status": "in_progress", "content": []})  # fmt: skip
        empty = {**part, "text": ""}
        await send("response.content_part.added", item_id=mid, output_index=0, content_index=0, part=empty)
        for piece in self._pieces(reply.text):
            await send("response.output_text.delta", item_id=mid, output_index=0, content_index=0, delta=piece,
                       logprobs=[])  # fmt: skip
        await send("response.output_text.done", item_id=mid, output_index=0, content_index=0, text=reply.text,
                   logprobs=[])  # fmt: skip
        await send("response.content_part.done", item_id=mid, output_index=0, content_index=0, part=part)
        await send("response.output_item.done", output_index=0, item=item)
        await send("response.completed", response=resp("completed", [item], usage))
        return await self._end(response)

    # OpenAI embeddings

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"endpoint": "embeddings", **body})
        model = body.get("model", "")
        if (error := self._maybe_error(model)) is not None:
            return error
        inputs = body.get("input")
        inputs = inputs if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else [inputs]
        tokens = self._reply("embeddings", body).usage.input  # type: ignore[union-attr]
        self.sent.append(Sent("embeddings", model, Usage(tokens, 0, 0, 0, 0), False))
        vector = [0.25, -0.5, 0.125, 1.0]
        as_base64 = body.get("encoding_format") == "base64"
        encoded = base64.b64encode(array.array("f", vector).tobytes()).decode() if as_base64 else vector
        data = [{"object": "embedding", "index": i, "embedding": encoded} for i in range(len(inputs))]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return web.json_response({"object": "list", "data": data, "model": model, "usage": usage})

    # Anthropic Messages

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"endpoint": "messages", **body})
        model = body.get("model", "")
        if (error := self._maybe_error(model, anthropic=True)) is not None:
            return error
        reply = self._reply("messages", body)
        usage: Usage = reply.usage  # type: ignore[assignment]
        stream = bool(body.get("stream"))
        self.sent.append(Sent("messages", model, usage, stream))
        mid = self._id("msg")
        calls = [{"type": "tool_use", "id": self._id("toolu"), "name": name, "input": args}
                 for name, args in reply.tool_calls]  # fmt: skip
        stop = "tool_use" if calls else "end_turn"
        message = {"id": mid, "type": "message", "role": "assistant", "model": model,
                   "content": calls or [{"type": "text", "text": reply.text}], "stop_reason": stop,
                   "stop_sequence": None, "usage": usage.anthropic()}  # fmt: skip
        if reply.no_usage:  # a server that reports none (an Anthropic-compatible proxy)
            message.pop("usage")
        if not stream:
            return web.json_response(message)
        response = await self._sse(request)

        async def send(kind: str, **data: Any) -> None:
            await self._event(response, {"type": kind, **data}, event=kind)

        start = {**message, "content": [], "stop_reason": None, "usage": usage.anthropic(output=1)}
        if reply.no_usage:
            start.pop("usage")
        await send("message_start", message=start)
        await send("ping")
        for index, call in enumerate(calls):
            await send("content_block_start", index=index, content_block={**call, "input": {}})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(call["input"])}
            await send("content_block_delta", index=index, delta=delta)
            await send("content_block_stop", index=index)
        if not calls:
            await send("content_block_start", index=0, content_block={"type": "text", "text": ""})
            for piece in self._pieces(reply.text):
                await send("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
            await send("content_block_stop", index=0)
        final = usage.anthropic()
        final.pop("service_tier")
        final.pop("cache_creation")  # the TTL breakdown comes with message_start only
        ending = {} if reply.no_usage else {"usage": final}
        await send("message_delta", delta={"stop_reason": stop, "stop_sequence": None}, **ending)
        await send("message_stop")
        return await self._end(response)

    # Gemini (Google AI and Vertex AI)

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model, stream = request.match_info["model"], request.match_info["method"] == "streamGenerateContent"
        self.requests.append({"endpoint": "gemini", "model": model, **body})
        if model in ("error-400", "error-429", "error-500"):
            status = int(model[-3:])
            error = {"code": status, "message": f"stand-in {status}", "status": "INVALID_ARGUMENT"}
            return web.json_response({"error": error}, status=status)
        reply = self._reply("gemini", body)
        usage: Usage = reply.usage  # type: ignore[assignment]
        self.sent.append(Sent("gemini", model, usage, stream))

        def chunk(text: str, final: bool) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
            if final:
                candidate["finishReason"] = "STOP"
                if usage.web_searches:  # grounding with Google Search: the queries the model ran
                    queries = [f"query {i}" for i in range(usage.web_searches)]
                    candidate["groundingMetadata"] = {"webSearchQueries": queries, "groundingChunks": [],
                                                      "groundingSupports": []}  # fmt: skip
            return {"candidates": [candidate], "usageMetadata": usage.gemini(final), "modelVersion": model,
                    "responseId": self._id("gemini")}  # fmt: skip

        if not stream:
            return web.json_response(chunk(reply.text, True))
        response = await self._sse(request)
        pieces = self._pieces(reply.text)
        for i, piece in enumerate(pieces):
            await self._event(response, chunk(piece, i == len(pieces) - 1))
        return await self._end(response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    async def run() -> None:
        url = await FakeProviders().serve(args.host, args.port)
        print(url, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
