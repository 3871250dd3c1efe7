"""Usage a provider did not report, estimated: a tokenizer where one loads offline, else characters.

A call whose reply carries no usage (an OpenAI-compatible server that leaves `usage` out, a stream
cut before its usage chunk) is recorded with these estimates and `usage_source = "estimated"`,
never as 0 tokens.

- **Tokenizer.** tiktoken's `o200k_base` (then `cl100k_base`), only if its encoding file is already
  on this machine with the right SHA-256: in `TIKTOKEN_CACHE_DIR`, `DATA_GYM_CACHE_DIR`, tiktoken's
  default cache (`<tmp>/data-gym-cache`), or the copy LiteLLM ships in
  `litellm/litellm_core_utils/tokenizers/`. Nothing is downloaded: tiktoken reads the cached file
  only when it exists and its hash matches. The count is that encoding's, whatever the model (a
  good estimate for OpenAI models, within some 10-20 % for others).
- **Characters.** Without one: ceil(characters / 4), OpenAI's rule of thumb for English text.

The request's text is the JSON of its prompt fields (messages, system, input, tools, ...), so the
estimate counts some JSON punctuation too: it errs high, as a budget should. Images are not text:
each image part is taken out of it (`{"type": "image"}` stays in its place) and counts as the
provider's own per-image tokens (`tracking.image_tokens`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .image_tokens import Image, base64_size, data_url_size, image_size

log = logging.getLogger(__name__)

_BLOBS = {
    "o200k_base": ("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
                   "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
    "cl100k_base": ("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
                    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
}  # fmt: skip
_REQUEST_TEXT = ("system", "instructions", "messages", "input", "prompt", "contents", "tools")
_env_lock = threading.Lock()


def _cache_dirs() -> list[Path]:
    dirs = [os.environ.get("TIKTOKEN_CACHE_DIR"), os.environ.get("DATA_GYM_CACHE_DIR"),
            os.path.join(tempfile.gettempdir(), "data-gym-cache")]  # fmt: skip
    spec = importlib.util.find_spec("litellm")  # finds the package without importing it
    if spec is not None and spec.submodule_search_locations:
        dirs.append(os.path.join(next(iter(spec.submodule_search_locations)), "litellm_core_utils", "tokenizers"))
    return [Path(d) for d in dirs if d]


def _offline_dir(name: str) -> Path | None:
    """A directory holding the encoding's file under tiktoken's cache name, with the right hash."""
    url, sha256 = _BLOBS[name]
    key = hashlib.sha1(url.encode()).hexdigest()
    for directory in _cache_dirs():
        path = directory / key
        try:
            if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
                return directory
        except OSError:
            continue
    return None


@functools.cache
def encoding() -> Any | None:
    """The tiktoken encoding that loads without network, or None (then characters are counted)."""
    try:
        import tiktoken
    except ImportError:
        return None
    for name in _BLOBS:
        directory = _offline_dir(name)
        if directory is None:
            continue
        with _env_lock:  # tiktoken reads its cache directory from the environment, only while loading
            before = os.environ.get("TIKTOKEN_CACHE_DIR")
            os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
            try:
                return tiktoken.get_encoding(name)
            except Exception:
                log.debug("tiktoken could not load %s from %s", name, directory, exc_info=True)
            finally:
                if before is None:
                    os.environ.pop("TIKTOKEN_CACHE_DIR", None)
                else:
                    os.environ["TIKTOKEN_CACHE_DIR"] = before
    return None


def method() -> str:
    """How tokens are estimated here: "tiktoken:<encoding>" or "characters/4"."""
    enc = encoding()
    return f"tiktoken:{enc.name}" if enc is not None else "characters/4"


def tokens(text: str) -> int:
    """Estimated tokens of a text."""
    if not text:
        return 0
    enc = encoding()
    if enc is not None:
        return len(enc.encode(text, disallowed_special=()))
    return -(-len(text) // 4)


def request_text(payload: Mapping[str, Any]) -> str:
    """The prompt of a request (its messages, system, input, tools ...) as one text, its images left out."""
    return request_parts(payload)[0]


def request_parts(payload: Mapping[str, Any]) -> tuple[str, list[Image]]:
    """The prompt of a request as one text, and its images apart (`_without_images` says which parts are)."""
    images: list[Image] = []
    parts = [_without_images(payload[key], images) for key in _REQUEST_TEXT if payload.get(key) is not None]
    return (json.dumps(parts, default=str, ensure_ascii=False) if parts else ""), images


_PLACE = {"type": "image"}


def _without_images(value: Any, images: list[Image]) -> Any:
    """`value` with every image part replaced by `{"type": "image"}`, the images appended to `images`.

    Image parts: OpenAI Chat Completions' `{"type": "image_url", "image_url": {"url", "detail"}}`, the
    Responses API's `{"type": "input_image", "image_url", "detail"}`, Anthropic's `{"type": "image",
    "source": {"type": "base64", "data"} | {"type": "url"}}` (raw bytes in `data` too), LangChain's
    standard `{"type": "image", "base64" | "url"}` and Gemini's `inline_data` / `inlineData` with an image
    `mime_type`.
    """
    if isinstance(value, list | tuple):
        return [_without_images(item, images) for item in value]
    if not isinstance(value, Mapping):
        return value
    image = _image(value)
    if image is not None:
        images.append(image)
        return _PLACE
    return {key: _without_images(item, images) for key, item in value.items()}


def _image(part: Mapping[str, Any]) -> Image | None:
    kind = part.get("type")
    if kind == "image_url":
        url = part.get("image_url")
        detail = part.get("detail")
        if isinstance(url, Mapping):
            url, detail = url.get("url"), url.get("detail") or detail
        return Image(_url_size(url), detail)
    if kind == "input_image":
        return Image(_url_size(part.get("image_url")), part.get("detail"))
    if kind == "image":
        source = part.get("source")
        data = source.get("data") if isinstance(source, Mapping) else part.get("base64") or part.get("data")
        return Image(_data_size(data) if data is not None else _url_size(part.get("url")), part.get("detail"))
    inline = part.get("inline_data") or part.get("inlineData")
    mime_type = str(inline.get("mime_type") or inline.get("mimeType") or "") if isinstance(inline, Mapping) else ""
    if mime_type.startswith("image/"):
        return Image(_data_size(inline.get("data")))  # type: ignore[union-attr]
    return None


def _url_size(url: Any) -> tuple[int, int] | None:
    return data_url_size(url) if isinstance(url, str) else None


def _data_size(data: Any) -> tuple[int, int] | None:
    if isinstance(data, bytes | bytearray):
        return image_size(bytes(data))
    return base64_size(data) if isinstance(data, str) else None
