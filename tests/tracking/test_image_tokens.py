"""Image sizes read from their headers (images made by Pillow in every format a provider accepts), and the
providers' documented per-image token examples."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image as Pillow

from matrix_usage_bot.tracking.image_tokens import Image, base64_size, data_url_size, image_size, image_tokens


def picture(fmt: str, size: tuple[int, int], **options: object) -> bytes:
    out = io.BytesIO()
    Pillow.new("RGB", size, (200, 30, 90)).save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
@pytest.mark.parametrize("size", [(1, 1), (1000, 1000), (2048, 4096), (4000, 300)])
def test_size_from_the_header(fmt, size):
    options = {"lossless": True} if fmt == "WEBP" and size == (4000, 300) else {}
    assert image_size(picture(fmt, size, **options)) == size


def test_a_jpeg_whose_frame_comes_after_large_metadata():
    """The start-of-frame segment behind 60 kB of EXIF: past the first chunk of base64 read."""
    data = picture("JPEG", (1500, 900), exif=b"Exif\x00\x00" + bytes(60_000))
    text = base64.b64encode(data).decode()
    assert base64_size(text) == (1500, 900)
    assert data_url_size("data:image/jpeg;base64," + text) == (1500, 900)


def test_what_is_not_an_image_has_no_size():
    assert image_size(b"%PDF-1.7 not an image") is None
    assert base64_size("not base64 at all!") is None
    assert data_url_size("https://example.org/cat.png") is None


@pytest.mark.parametrize(("size", "detail", "tokens"), [
    ((1024, 1024), "high", 765), ((2048, 4096), "high", 1105), ((4096, 8192), "low", 85), ((512, 512), None, 255),
])  # fmt: skip
def test_openai_documented_examples(size, detail, tokens):
    assert image_tokens(Image(size, detail), "openai", "gpt-4o") == tokens


def test_anthropic_and_gemini_rules():
    assert image_tokens(Image((1000, 1000)), "anthropic", "claude-sonnet-4-5") == 1334  # 1,000,000 / 750
    assert image_tokens(Image((200, 200)), "aws", "anthropic.claude-sonnet-4-5") == 54  # 40,000 / 750
    assert image_tokens(Image((3136, 3136)), "anthropic", "claude-opus-4-1") == 1600  # scaled down to ~1,600
    assert image_tokens(Image((384, 384)), "google", "gemini-2.5-flash") == 258
    assert image_tokens(Image((1000, 800)), "openrouter", "google/gemini-2.5-pro") == 258 * 2 * 2


def test_an_image_of_unknown_size_counts_as_1024_square():
    unknown = Image(None, None)
    assert [image_tokens(unknown, p, m) for p, m in (("openai", "gpt-4o"), ("anthropic", "claude"),
                                                    ("google", "gemini-2.5-flash"))] == [765, 1399, 1032]  # fmt: skip
