"""Headers and bodies must arrive within http.request_timeout_s (README: HTTP API, bounded work): a client that
trickles them a byte at a time is cut off, and nothing of its request is stored.

The clients below never finish by themselves; each gives up after sending far more bytes than the
timeout lets through (a cap on bytes, so a server that never cuts them fails the test)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from matrix_usage_bot.bot.http.server import UsageServer

from .conftest import KEYS, make_config, stored_count

TIMEOUT = 0.4
PACE = 0.02  # seconds between two bytes
CAP = 1500  # bytes: 30 s of trickling, 75 times the timeout


@pytest.fixture
async def slow_server(db_url: str) -> AsyncIterator[UsageServer]:
    config = make_config(db_url, http={"request_timeout_s": TIMEOUT, "max_body_bytes": 65536})
    server = await UsageServer(config).start()
    yield server
    await server.close()


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before it closed the connection. A reset closes it too: the server cut us off with
    our last bytes unread, and the kernel resets instead of closing (what came before it is kept)."""
    chunks = []
    try:
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


async def trickle(port: int, head: bytes, endless: bytes) -> tuple[int, bytes]:
    """Send ``head`` at once, then ``endless`` a byte at a time until the server closes the connection;
    returns how many bytes were trickled and what the server answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.create_task(read_until_closed(reader))
    sent = 0
    try:
        writer.write(head)
        while not answer.done() and sent < CAP:
            writer.write(endless[sent % len(endless) : sent % len(endless) + 1])
            sent += 1
            await asyncio.sleep(PACE)
    except ConnectionError:
        pass
    finally:
        if not answer.done():
            writer.close()
        received = await answer
        writer.close()
    assert sent < CAP, "the server let a client trickle its request for ever"
    return sent, received


@pytest.mark.parametrize(
    "head, endless",
    [
        (b"", b"\0"),  # nothing whole: a connection that never sends a request line
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: still coming\r\n"),
        (b"GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-Padding: ", b"a"),
    ],
    ids=["nothing", "header-lines", "one-long-header"],
)
async def test_headers_trickled_for_ever_are_cut_off(slow_server, head, endless):
    if head == b"":  # the connection opens and sends nothing at all
        reader, writer = await asyncio.open_connection("127.0.0.1", slow_server.port)
        received = await asyncio.wait_for(reader.read(), 60)  # a cap for a broken server, not a limit on the work
        writer.close()
    else:
        _, received = await trickle(slow_server.port, head, endless)
    assert received == b""  # closed, no answer: the request never arrived
    assert slow_server.deadlines.closed == 1


async def test_a_body_trickled_for_ever_is_refused_and_nothing_is_stored(slow_server, db_url):
    event = json.dumps({"provider": "openai", "model": "gpt-4o", "input_tokens": 21, "output_tokens": 4,
                        "room_id": "!a:x"}).encode()  # fmt: skip
    head = (f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEYS['writer']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(event) + 5000}\r\n\r\n").encode()  # fmt: skip
    _, received = await trickle(slow_server.port, head, event + b" " * 5000)
    status, _, rest = received.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout"
    assert json.loads(rest.partition(b"\r\n\r\n")[2]) == {
        "error": f"body: not received within {TIMEOUT:g} seconds (http.request_timeout_s)"}
    assert stored_count(db_url) == 0


async def test_requests_in_time_are_served_on_a_kept_alive_connection(server, db_url):
    """The bounds (the default timeout here) cut no one who sends its requests at once, bodies included."""
    base = f"http://127.0.0.1:{server.port}"
    auth = {"Authorization": f"Bearer {KEYS['writer']}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as client:
        for tokens in (31, 32, 33):
            event = {"provider": "openai", "model": "gpt-4o", "input_tokens": tokens, "output_tokens": 2,
                     "room_id": "!a:x"}  # fmt: skip
            async with client.post(f"{base}/v1/events", json=event, headers=auth) as response:
                assert response.status == 200, await response.text()
            async with client.get(f"{base}/v1/usage?room=!a:x", headers=auth) as response:
                assert response.status == 200
    assert stored_count(db_url) == 3
    assert server.deadlines.closed == 0
