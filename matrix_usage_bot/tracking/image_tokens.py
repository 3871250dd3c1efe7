"""The input tokens of an image in a request whose usage the provider did not report, by the provider's own rule.

A base64 image is not text: counted as its characters it would weigh some hundred times what the provider
bills for it. Each image counts as the provider's documented per-image tokens instead, from its width and
height, read from the image's header (PNG, JPEG, GIF, WebP) without decoding the picture:

- **OpenAI** (and every OpenAI-compatible server): `detail: "low"` is 85 tokens. Otherwise (`"high"`, `"auto"`
  or none, which OpenAI may treat as high) the image is scaled to fit in 2048 x 2048, then down so its
  shortest side is at most 768 px; it costs 85 tokens plus 170 per 512-px tile.
- **Anthropic** (Claude models wherever they run): scaled so its long edge is at most 1568 px, then
  width x height / 750 tokens (rounded up), at most 1,600 (Anthropic scales larger images down to that).
- **Gemini** (Google): 258 tokens when both sides are at most 384 px, else 258 per 768 x 768 tile.

An image whose size cannot be read (a link to it, a file id, an unknown format) counts as a 1024 x 1024
one under the same rule: 765 tokens for OpenAI at high detail, 1,399 for Anthropic, 1,032 for Gemini.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from dataclasses import dataclass
from fractions import Fraction

FALLBACK_SIZE = (1024, 1024)
"""The size assumed for an image whose header cannot be read."""
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_HEAD = 4096
"""Base64 characters read first: enough for every header but a JPEG's behind large metadata."""


@dataclass(frozen=True)
class Image:
    """One image of a request: its size when known, and the detail asked for (OpenAI's `detail`)."""

    size: tuple[int, int] | None
    detail: str | None = None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG, GIF or WebP image; None when it is none of them."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    if kind == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L":
        b0, b1, b2, b3 = data[21:25]
        return 1 + (b0 | (b1 & 0x3F) << 8), 1 + (b1 >> 6 | b2 << 2 | (b3 & 0x0F) << 10)
    if kind == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The size in the first start-of-frame segment, found by walking the segments after SOI."""
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):  # markers without a length
            i += 2
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def base64_size(text: str) -> tuple[int, int] | None:
    """The size of a base64-encoded image: its head decoded first, the whole only for a JPEG that needs it."""
    for chunk in (text[:_HEAD], text):
        try:
            size = image_size(base64.b64decode(chunk[: len(chunk) - len(chunk) % 4]))
        except (binascii.Error, ValueError):
            return None
        if size is not None or len(chunk) == len(text):
            return size
    return None


def data_url_size(url: str) -> tuple[int, int] | None:
    """The size of a `data:image/...;base64,` URL's image; None for a link, which is not fetched."""
    if not url.startswith("data:") or ";base64," not in url[:100]:
        return None
    return base64_size(url[url.index(";base64,") + 8 :])


def rule(provider: str, model: str | None) -> str:
    """Whose rule counts an image: the model's family first (Claude on Bedrock or Vertex, Gemini on OpenRouter),
    else the provider; OpenAI's for every other (OpenAI-compatible) server."""
    name = (model or "").lower()
    if "claude" in name or provider == "anthropic":
        return "anthropic"
    if "gemini" in name or provider == "google":
        return "gemini"
    return "openai"


def image_tokens(image: Image, provider: str, model: str | None) -> int:
    """The input tokens of one image, by the rule of the provider (and model) it is sent to."""
    width, height = image.size if image.size and min(image.size) > 0 else FALLBACK_SIZE
    kind = rule(provider, model)
    if kind == "anthropic":
        scale = min(1.0, 1568 / max(width, height))
        return min(1600, math.ceil(round(width * scale) * round(height * scale) / 750))
    if kind == "gemini":
        if width <= 384 and height <= 384:
            return 258
        return 258 * math.ceil(width / 768) * math.ceil(height / 768)
    if image.detail == "low":
        return 85
    w, h = Fraction(width), Fraction(height)
    fit = min(Fraction(1), Fraction(2048) / max(w, h))
    w, h = w * fit, h * fit
    shrink = min(Fraction(1), Fraction(768) / min(w, h))
    return 85 + 170 * math.ceil(w * shrink / 512) * math.ceil(h * shrink / 512)
